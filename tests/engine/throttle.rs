//! A throttle reply backs off that account, and only that account, for the time it asks.
//! Dovecot is made to answer one account's login the way Outlook does ("Request is throttled.
//! Suggested Backoff Time: N milliseconds"), through a passdb that refuses with a reason.

use std::time::{Duration, Instant};

use mailwatch_engine::engine::WaitOptions;
use mailwatch_engine::events::Event;

use crate::support::{Harness, code_mail, test_config};

const BACKOFF_MS: u64 = 3000;

fn statuses(h: &Harness, email: &str) -> Vec<(String, Option<String>)> {
    h.events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::AccountStatus { email: e, status, detail } if e == email => Some((status.clone(), detail.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_reply_backs_off_that_account_for_the_time_given_while_the_others_keep_polling() {
    let mut cfg = test_config();
    // Everyone polled by the round robin every second, logins not paced.
    cfg.watch.max_idle_sessions = 0;
    cfg.watch.poll_interval = Duration::from_secs(1);
    cfg.watch.poll_login_rate = 0.0;
    cfg.watch.backoff_min = Duration::from_millis(200);
    let h = Harness::with_config(cfg).await;
    let slow = h.password_account("slow@example.com", "pw", None).await;
    let other = h.password_account("other@example.com", "pw", None).await;
    h.engine.set_watched(&[slow.clone(), other.clone()], true).await.unwrap();
    // A wait on the account about to be throttled: it goes on through the pause.
    let engine_wait = {
        let options = WaitOptions { timeout: Duration::from_secs(30), ..Default::default() };
        let (engine, slow) = (&h.engine, slow.clone());
        async move { engine.wait_code(&slow, &options).await }
    };
    tokio::pin!(engine_wait);
    let polls = |email: &str| h.engine.watch_statuses().iter().find(|s| s.email == email).map_or(0, |s| s.polls);
    // Until the wait's baseline is taken and both accounts are polled.
    let deadline = Instant::now() + Duration::from_secs(15);
    while polls(&slow) < 3 || polls(&other) < 1 {
        assert!(Instant::now() < deadline, "the watches never polled: {:?}", h.engine.watch_statuses());
        tokio::select! {
            r = &mut engine_wait => panic!("the wait ended early: {r:?}"),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    // The server drops the account's session and throttles its next login, as Outlook does.
    let reason = format!("Request is throttled. Suggested Backoff Time: {BACKOFF_MS} milliseconds");
    h.bed.dovecot.refuse_login(&slow, Some(&reason));
    h.bed.dovecot.kick(&slow);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !statuses(&h, &slow).iter().any(|(s, _)| s == "throttled") {
        assert!(Instant::now() < deadline, "the account never showed as throttled: {:?}", statuses(&h, &slow));
        tokio::select! {
            r = &mut engine_wait => panic!("the wait ended during the throttle: {r:?}"),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    // The server would let the account in again now; Mailwatch must still wait out the time
    // asked. Codes land in both accounts during the pause.
    h.bed.dovecot.refuse_login(&slow, None);
    let polls_before = polls(&other);
    let (s, b) = code_mail("515151");
    h.deliver(&slow, "INBOX", &s, &b).await;
    let (s, b) = code_mail("626262");
    h.deliver(&other, "INBOX", &s, &b).await;
    let got = tokio::select! {
        r = &mut engine_wait => r.expect("the wait on the throttled account gets its code after the pause"),
        _ = tokio::time::sleep(Duration::from_secs(20)) => panic!("no code within 20 s"),
    };
    assert_eq!(got.code.as_deref(), Some("515151"));
    let polls_after = polls(&other);

    let attempts = h.bed.dovecot.login_attempts(&slow);
    println!("login attempts of the throttled account (time of day, refused): {attempts:?}");
    let refused: Vec<f64> = attempts.iter().filter(|a| a.1).map(|a| a.0).collect();
    let logins: Vec<f64> = attempts.iter().filter(|a| !a.1).map(|a| a.0).collect();
    assert_eq!(refused.len(), 1, "one refused login, no retry during the pause: {attempts:?}");
    let gap = logins.iter().find(|&&t| t > refused[0]).expect("the account logged in after the pause") - refused[0];
    assert!(
        gap >= BACKOFF_MS as f64 / 1000.0 - 0.05,
        "the next login came {gap:.2} s after the throttle reply, sooner than the {BACKOFF_MS} ms asked: {attempts:?}"
    );
    assert!(
        polls_after >= polls_before + 2,
        "the other account kept its 1 s polls during the pause: {polls_before} then {polls_after}"
    );
    assert!(h.events.codes().contains(&"626262".to_string()), "the other account's code came: {:?}", h.events.codes());

    let seen = statuses(&h, &slow);
    let (_, detail) = seen.iter().find(|(s, _)| s == "throttled").unwrap();
    let detail = detail.clone().unwrap_or_default();
    assert!(detail.contains("leaves it alone for 3 s"), "the status says what happens, in a sentence: {detail}");
    assert_eq!(seen.last().map(|s| s.0.as_str()), Some("ok"), "back to ok once it worked: {seen:?}");
    assert_eq!(h.engine.account(&slow).await.unwrap().status.as_str(), "ok");
    let stats = h.engine.stats().throttle;
    assert_eq!(stats.throttle_replies, 1, "{stats:?}");
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_during_the_pause_gets_a_sentence_without_contacting_the_server() {
    let h = Harness::start().await;
    let email = h.password_account("busy@example.com", "pw", None).await;
    h.bed.dovecot.refuse_login(&email, Some("Request is throttled. Suggested Backoff Time: 60000 milliseconds"));
    let folder = mailwatch_engine::imap::FolderSpec::Inbox;
    let first = h.engine.fetch(&email, &folder, 5, false).await.unwrap_err();
    assert_eq!(first.code(), "throttled", "{first}");
    let second = h.engine.fetch(&email, &folder, 5, false).await.unwrap_err();
    assert_eq!(second.code(), "throttled", "{second}");
    assert!(second.to_string().contains("is left alone for another"), "{second}");
    let attempts = h.bed.dovecot.login_attempts(&email);
    assert_eq!(attempts.len(), 1, "the second fetch did not reach the server: {attempts:?}");
    assert_eq!(h.engine.account(&email).await.unwrap().status.as_str(), "throttled");
}
