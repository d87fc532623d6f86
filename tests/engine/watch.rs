//! Watching accounts against the real Dovecot: IDLE for the accounts being waited on, shared
//! by every waiter, giving way to other callers at a per-account limit of 1, surviving a lost
//! connection, and round-robin polling (with no IDLE budget) within the global limit and the
//! login budget. Watched accounts that idle: `push.rs`.

use std::time::Duration;

use std::sync::Arc;

use futures::future::join_all;
use mailwatch_engine::engine::{EngineOptions, WaitOptions};
use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::keeper;
use mailwatch_engine::watch::WatchMode;
use mailwatch_testbed::FaultProxy;

use crate::support::{Harness, code_mail, test_config};

/// The addresses whose watch is on (not only waited on).
fn watched(h: &Harness) -> Vec<String> {
    h.engine.watch_statuses().into_iter().filter(|s| s.watched).map(|s| s.email).collect()
}

/// Waits (up to 20 s) until the account's watch idles, so mail delivered next is news.
async fn until_idle(h: &Harness, email: &str) {
    for _ in 0..400 {
        if h.engine.watch_statuses().iter().any(|s| s.email == email && s.mode == WatchMode::Idle)
            && h.engine.stats().pool.total.idling > 0
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the watch never reached IDLE: {:?}\n{}", h.engine.watch_statuses(), h.bed.dovecot.diagnostics());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_waiters_on_one_account_share_one_idle_session_and_all_get_the_code() {
    let mut cfg = test_config();
    cfg.pool.max_per_account = 1;
    // Polling every minute cannot explain a code found in seconds: IDLE did it.
    cfg.cache.poll_interval = Duration::from_secs(60);
    let h = Harness::with_config(cfg).await;
    let email = "ivan@outlook.com".to_string();
    h.oauth_account(&email, None).await;
    let (s, b) = code_mail("111111");
    h.deliver(&email, "INBOX", &s, &b).await;

    let options = WaitOptions { timeout: Duration::from_secs(30), ..Default::default() };
    let waits = join_all((0..50).map(|_| h.engine.wait_code(&email, &options)));
    let deliver = async {
        until_idle(&h, &email).await;
        // Let every waiter's baseline be taken first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = h.engine.stats().pool.total;
        assert_eq!(
            (t.in_use, t.idling),
            (1, 1),
            "the IDLE session is a checked-out session and shows as idling: {t:?}"
        );
        let (s, b) = code_mail("246810");
        h.deliver(&email, "INBOX", &s, &b).await;
    };
    let (results, ()) = tokio::join!(waits, deliver);
    let codes: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(c) => c.code.clone().unwrap_or_default(),
            Err(e) => format!("error: {e}"),
        })
        .collect();
    assert!(codes.iter().all(|c| c == "246810"), "every waiter gets the new code, none the old one: {codes:?}");
    let seen = h.bed.dovecot.max_sessions_seen(&email);
    println!(
        "50 waiters, limit 1: Dovecot saw at most {seen} session(s), {} login(s); stats {:?}",
        h.bed.dovecot.logins_for(&email),
        h.engine.stats().pool.total
    );
    assert_eq!(seen, 1, "one session served all 50 waiters\n{}", h.bed.dovecot.diagnostics());
    assert_eq!(h.bed.dovecot.logins_for(&email), 1, "one login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_at_a_limit_of_one_is_served_while_a_wait_idles_and_the_wait_still_gets_its_code() {
    let mut cfg = test_config();
    cfg.pool.max_per_account = 1;
    cfg.cache.poll_interval = Duration::from_secs(60);
    let h = Harness::with_config(cfg).await;
    let email = h.password_account("judy@example.com", "pw", None).await;
    let mut sub = h.engine.subscribe_codes(&email).await.unwrap();
    sub.ready().await;
    until_idle(&h, &email).await;

    let (s, b) = code_mail("135790");
    h.deliver(&email, "Archive", &s, &b).await;
    let fetched = tokio::time::timeout(
        Duration::from_secs(15),
        h.engine.fetch(&email, &FolderSpec::Named("Archive".into()), 5, false),
    )
    .await
    .expect("the fetch is not stuck behind IDLE")
    .expect("the fetch succeeds on the shared session");
    assert_eq!(fetched.first().and_then(|m| m.code.as_deref()), Some("135790"), "{fetched:?}");

    until_idle(&h, &email).await;
    let (s, b) = code_mail("864200");
    h.deliver(&email, "INBOX", &s, &b).await;
    let got = tokio::time::timeout(Duration::from_secs(15), sub.next(&[]))
        .await
        .expect("the code arrives by IDLE after the fetch")
        .unwrap();
    assert_eq!(got.code.as_deref(), Some("864200"));
    assert_eq!(
        h.bed.dovecot.max_sessions_seen(&email),
        1,
        "the fetch used the watch's session\n{}",
        h.bed.dovecot.diagnostics()
    );
    let t = h.engine.stats().pool.total;
    assert!(t.connection_waits >= 1 && t.wait_timeouts == 0, "the fetch waited for the session, briefly: {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_during_idle_is_reconnected_and_no_code_is_lost() {
    let mut cfg = test_config();
    cfg.cache.poll_interval = Duration::from_secs(60);
    let h = Harness::with_config(cfg).await;
    let proxy = FaultProxy::start(h.bed.dovecot.imaps_addr()).await;
    let email = h.password_account("kim@example.com", "pw", Some(proxy.port())).await;
    let mut sub = h.engine.subscribe_codes(&email).await.unwrap();
    sub.ready().await;
    until_idle(&h, &email).await;

    proxy.reset_all();
    // Mail that lands while the watch is down is found when it reconnects.
    let (s, b) = code_mail("975310");
    h.deliver(&email, "INBOX", &s, &b).await;
    let got = tokio::time::timeout(Duration::from_secs(20), sub.next(&[]))
        .await
        .expect("the watch reconnects and finds the code")
        .unwrap();
    assert_eq!(got.code.as_deref(), Some("975310"));
    let logins = h.bed.dovecot.logins_for(&email);
    println!("after a reset during IDLE: {logins} logins, statuses {:?}", h.engine.watch_statuses());
    assert_eq!(logins, 2, "one reconnection\n{}", h.bed.dovecot.diagnostics());
    until_idle(&h, &email).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_junk_folder_is_checked_while_the_inbox_idles() {
    let mut cfg = test_config();
    cfg.cache.poll_interval = Duration::from_millis(500);
    let h = Harness::with_config(cfg).await;
    let email = h.password_account("lena@example.com", "pw", None).await;
    let (s, b) = code_mail("101010");
    h.deliver(&email, "Junk", &s, &b).await;
    let mut sub = h.engine.subscribe_codes(&email).await.unwrap();
    sub.ready().await;
    until_idle(&h, &email).await;
    let (s, b) = code_mail("202020");
    h.deliver(&email, "Junk", &s, &b).await;
    let got = tokio::time::timeout(Duration::from_secs(15), sub.next(&[]))
        .await
        .expect("the junk folder's code arrives")
        .unwrap();
    assert_eq!(
        (got.code.as_deref(), got.folder.as_str()),
        (Some("202020"), "junk"),
        "the new junk code, not the old one: {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_waiters_watched_accounts_are_polled_in_turn_within_the_global_limit() {
    let mut cfg = test_config();
    cfg.pool.max_total = 4;
    cfg.watch.poll_concurrency = 2;
    cfg.watch.poll_interval = Duration::from_secs(1);
    // No IDLE budget: every watched account is polled in turn.
    cfg.watch.max_idle_sessions = 0;
    let h = Harness::with_config(cfg).await;
    let mut emails = Vec::new();
    for i in 0..12 {
        emails.push(h.password_account(&format!("m{i}@example.com"), "pw", None).await);
    }
    for e in &emails {
        h.engine.watch(e).await.unwrap();
    }
    // Every account's baseline first (12 logins at `watch.pollLoginRate`).
    for _ in 0..300 {
        if h.engine.watch_statuses().iter().filter(|s| s.polls > 0).count() == emails.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (i, e) in emails.iter().enumerate() {
        let (s, b) = code_mail(&format!("7000{i:02}"));
        h.deliver(e, "INBOX", &s, &b).await;
    }
    let mut found = Vec::new();
    for _ in 0..100 {
        found = h.events.codes();
        if found.len() >= emails.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found.sort();
    let expected: Vec<String> = (0..emails.len()).map(|i| format!("7000{i:02}")).collect();
    let statuses = h.engine.watch_statuses();
    println!("12 watched accounts, limit 4: codes {found:?}; stats {:?}", h.engine.stats().pool.total);
    assert_eq!(found, expected, "every watched account's code was announced: {statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s.mode, WatchMode::Poll | WatchMode::Queued) && s.waiters == 0),
        "nobody waits, so nobody idles: {statuses:?}"
    );
    let max = h.bed.dovecot.max_total_sessions_seen();
    assert!(
        (1..=4).contains(&max),
        "Dovecot saw {max} sessions at once; the global limit is 4\n{}",
        h.bed.dovecot.diagnostics()
    );

    h.engine.shutdown().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open: usize = emails.iter().map(|e| h.bed.dovecot.sessions_for(e)).sum();
    assert_eq!(open, 0, "shutdown logged out of every session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_in_ends_the_wait_with_its_own_error() {
    let h = Harness::start().await;
    let email = h.password_account("nina@example.com", "pw", None).await;
    h.bed.dovecot.add_user("nina@example.com", "changed");
    let err = h
        .engine
        .wait_code(&email, &WaitOptions { timeout: Duration::from_secs(20), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "auth_failed", "{err}");
    assert!(err.to_string().contains("cannot sign in"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_recreated_with_a_new_uidvalidity_is_followed_and_its_new_code_found() {
    let mut cfg = test_config();
    cfg.cache.poll_interval = Duration::from_millis(500);
    let h = Harness::with_config(cfg).await;
    let email = h.password_account("olive@example.com", "pw", None).await;
    let (s, b) = code_mail("313131");
    h.deliver(&email, "Junk", &s, &b).await;
    let mut sub = h.engine.subscribe_codes(&email).await.unwrap();
    sub.ready().await;
    until_idle(&h, &email).await;

    // A new Junk folder has a new UIDVALIDITY, and its first message has UID 1 again: below the
    // old mark, so only a watch that notices the change finds it.
    for action in ["delete", "create"] {
        let out = std::process::Command::new("doveadm")
            .arg("-c")
            .arg(h.bed.dovecot.config_path())
            .args(["mailbox", action, "-u", &email, "Junk"])
            .output()
            .expect("doveadm runs");
        assert!(out.status.success(), "doveadm mailbox {action}: {out:?}");
    }
    let (s, b) = code_mail("424242");
    h.deliver(&email, "Junk", &s, &b).await;
    let got = tokio::time::timeout(Duration::from_secs(15), sub.next(&[]))
        .await
        .expect("the recreated folder's code arrives")
        .unwrap();
    assert_eq!((got.code.as_deref(), got.folder.as_str(), got.uid), (Some("424242"), "junk", 1), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_logins_wait_for_the_budget_but_reused_sessions_and_waited_accounts_do_not() {
    let mut cfg = test_config();
    cfg.pool.max_total = 3;
    cfg.watch.poll_interval = Duration::from_millis(200);
    cfg.watch.poll_concurrency = 1;
    // One login slot now, the next in 50 s: longer than this test runs.
    cfg.watch.poll_login_rate = 0.02;
    // No IDLE budget: the watched accounts are polled, and the waited-on one polls quickly.
    cfg.watch.max_idle_sessions = 0;
    let h = Harness::with_config(cfg).await;
    let mut emails = Vec::new();
    for i in 0..4 {
        emails.push(h.password_account(&format!("paced{i}@example.com"), "pw", None).await);
    }
    for e in &emails {
        h.engine.watch(e).await.unwrap();
    }
    // The account that got the one slot keeps its session and is polled every 200 ms on it.
    let mut first = None;
    for _ in 0..200 {
        first = h.engine.watch_statuses().into_iter().find(|s| s.polls >= 5);
        if first.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = first.unwrap_or_else(|| panic!("no account was polled again: {:?}", h.engine.watch_statuses()));
    let logins: usize = emails.iter().map(|e| h.bed.dovecot.logins_for(e)).sum();
    let w = h.engine.stats().watch;
    let statuses = h.engine.watch_statuses();
    println!("paced round robin: {w:?}\n{statuses:?}");
    assert_eq!(logins, 1, "one login in the budget so far, whatever the poll interval says: {statuses:?}");
    assert_eq!(w.poll_logins, 1, "the watcher spent one login slot: {w:?}");
    assert!(w.polls_reused >= 4, "polls on the open session spend no login: {w:?}");
    assert!(
        statuses.iter().filter(|s| s.email != first.email).all(|s| s.polls == 0),
        "the other accounts wait for a login slot: {statuses:?}"
    );
    assert_eq!(w.expected_poll_interval, 200.0, "4 accounts at 0.02 logins/s, more than 3 sessions hold: {w:?}");

    // Someone waits on a queued account: it leaves the queue and logs in at once.
    let waited = statuses.iter().find(|s| s.email != first.email).map(|s| s.email.clone()).unwrap();
    let mut sub = h.engine.subscribe_codes(&waited).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), sub.ready())
        .await
        .expect("a waited-on account does not queue for the round robin's logins");
    let (s, b) = code_mail("246801");
    h.deliver(&waited, "INBOX", &s, &b).await;
    let got = tokio::time::timeout(Duration::from_secs(20), sub.next(&[]))
        .await
        .expect("the code arrives without waiting for a login slot")
        .unwrap();
    assert_eq!(got.code.as_deref(), Some("246801"));
    assert_eq!(h.bed.dovecot.logins_for(&waited), 1, "the waited-on account logged in once, outside the budget");
    let w = h.engine.stats().watch;
    assert_eq!((w.poll_logins, w.waited), (1, 1), "the wait's login is not the round robin's: {w:?}");
    let logins: usize = emails.iter().filter(|e| **e != waited).map(|e| h.bed.dovecot.logins_for(e)).sum();
    assert_eq!(logins, 1, "the round robin still made one login\n{}", h.bed.dovecot.diagnostics());
    drop(sub);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_account_while_paused_leaves_the_others_to_resume() {
    let h = Harness::start().await;
    let gone = h.password_account("pia@example.com", "pw", None).await;
    let kept = h.password_account("quin@example.com", "pw", None).await;
    h.engine.set_watched(&[gone.clone(), kept.clone()], true).await.unwrap();
    assert_eq!(watched(&h), [gone.clone(), kept.clone()], "both are watched before the pause");
    h.engine.set_paused(true).await.unwrap();
    assert_eq!(watched(&h), Vec::<String>::new(), "nothing is watched while paused");

    h.engine.remove_account(&gone).await.unwrap();
    let resumed = h.engine.set_paused(false).await.unwrap();
    assert_eq!(resumed.watched, [kept.as_str()], "the removed account left the watched ones, the other stayed");
    assert_eq!(watched(&h), [kept.as_str()], "resume watches the account that is left");
    assert_eq!(h.engine.watched_now(), [kept.as_str()]);

    // The choice is the engine's own, kept across a restart.
    h.engine.shutdown().await;
    let options = EngineOptions {
        data_dir: Some(h.dir.path().to_path_buf()),
        extra_ca: Some(h.bed.dovecot.ca_pem_path().to_path_buf()),
        config: Some(test_config()),
        ..Default::default()
    };
    let reopened = mailwatch_engine::Engine::open(options, Arc::new(mailwatch_engine::events::NullSink)).await.unwrap();
    let choice = reopened.watch_choice();
    assert_eq!((choice.watched, choice.paused), (vec![kept], false), "the stored choice after a restart");
    reopened.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_sync_stops_fetching_a_removed_account() {
    let mut cfg = test_config();
    cfg.sync.spacing = Duration::ZERO;
    cfg.sync.jitter = Duration::ZERO;
    let h = Harness::with_config(cfg).await;
    let gone = h.password_account("rosa@example.com", "pw", None).await;
    let kept = h.password_account("sven@example.com", "pw", None).await;
    h.engine.set_watched(&[gone.clone(), kept.clone()], true).await.unwrap();
    // The rest of the harness (the data dir) lives until the end of the test.
    let Harness { bed, engine, .. } = h;
    let engine = Arc::new(engine);

    let round = keeper::sync_watched(engine.clone()).await;
    assert_eq!((round.synced, round.failed), (2, 0), "both watched accounts are synced: {round:?}");
    let logins = bed.dovecot.logins_for(&gone);

    engine.remove_account(&gone).await.unwrap();
    let round = keeper::sync_watched(engine.clone()).await;
    assert_eq!(
        (round.synced, round.failed),
        (1, 0),
        "the removed account is neither synced nor tried (a try would fail): {round:?}"
    );
    assert_eq!(bed.dovecot.logins_for(&gone), logins, "no login for the removed account");
    engine.shutdown().await;
}
