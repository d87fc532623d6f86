//! Junk mail as fast as the inbox's, in each of the three ways a server allows, against the
//! real Dovecot: NOTIFY on the one session (Dovecot 2.3 offers it), a second session
//! idling on the junk folder (`pool.maxPerAccount` = 2), and STATUS at `watch.junkPollInterval`
//! (both on a Dovecot with NOTIFY taken out of its capabilities).

use std::time::{Duration, Instant};

use mailwatch_engine::config::Config;
use mailwatch_engine::watch::{CodeSubscription, JunkMode, WatchMode};
use mailwatch_testbed::DovecotOptions;

use crate::support::{Harness, code_mail, test_config};

/// A Dovecot that does not offer NOTIFY, as most servers.
fn no_notify() -> DovecotOptions {
    DovecotOptions { notify: false, ..Default::default() }
}

/// Waits until the account idles with its junk folder watched in `mode`.
async fn until_junk(h: &Harness, email: &str, mode: JunkMode) {
    for _ in 0..400 {
        if h.engine
            .watch_statuses()
            .iter()
            .any(|s| s.email == email && s.mode == WatchMode::Idle && s.junk == Some(mode))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the junk folder never got watched by {mode:?}: {:?}\n{}",
        h.engine.watch_statuses(),
        h.bed.dovecot.diagnostics()
    );
}

fn polls(h: &Harness, email: &str) -> u64 {
    h.engine.watch_statuses().iter().find(|s| s.email == email).map_or(0, |s| s.polls)
}

/// Starts a wait on a fresh account with an old code in its junk folder, once the junk folder
/// is watched in `mode`.
async fn waiting(config: Config, dovecot: DovecotOptions, mode: JunkMode) -> (Harness, String, CodeSubscription) {
    let h = Harness::with_dovecot(config, None, dovecot).await;
    let email = h.password_account("junk@example.com", "pw", None).await;
    let (s, b) = code_mail("101010");
    h.deliver(&email, "Junk", &s, &b).await;
    let sub = h.engine.subscribe_codes(&email).await.unwrap();
    sub.ready().await;
    until_junk(&h, &email, mode).await;
    (h, email, sub)
}

/// Delivers a code to the junk folder and returns the milliseconds until the wait has it.
async fn junk_code(h: &Harness, email: &str, sub: &mut CodeSubscription, code: &str) -> f64 {
    let (s, b) = code_mail(code);
    let sent = Instant::now();
    h.deliver(email, "Junk", &s, &b).await;
    let got = tokio::time::timeout(Duration::from_secs(15), sub.next(&[]))
        .await
        .unwrap_or_else(|_| panic!("the junk code {code} never came: {:?}", h.engine.watch_statuses()))
        .unwrap();
    assert_eq!((got.code.as_deref(), got.folder.as_str()), (Some(code), "junk"), "the new junk code: {got:?}");
    sent.elapsed().as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_notify_the_junk_folder_is_pushed_on_the_one_idling_session() {
    let mut cfg = test_config();
    cfg.watch.junk_poll_interval = Duration::from_millis(200);
    let (h, email, mut sub) = waiting(cfg, DovecotOptions::default(), JunkMode::Notify).await;
    // Polling every 200 ms would look ten times in two seconds; NOTIFY looks only when told.
    let before = polls(&h, &email);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let quiet = polls(&h, &email) - before;
    assert!(quiet <= 1, "{quiet} looks in 2 quiet seconds: the junk folder is being polled, not pushed");
    let ms = junk_code(&h, &email, &mut sub, "202020").await;
    println!("APPEND to Junk to code with NOTIFY: {ms:.0} ms");
    let w = h.engine.stats().watch;
    assert_eq!((w.junk_notify, w.junk_session, w.junk_poll), (1, 0, 0), "{w:?}");
    let (logins, most) = (h.bed.dovecot.logins_for(&email), h.bed.dovecot.max_sessions_seen(&email));
    assert_eq!((logins, most), (1, 1), "(logins, most sessions at once): one session does inbox and junk");
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notify_a_second_session_idles_on_junk_when_the_account_may_have_two() {
    let mut cfg = test_config();
    cfg.pool.max_per_account = 2;
    cfg.watch.junk_poll_interval = Duration::from_millis(200);
    let (h, email, mut sub) = waiting(cfg, no_notify(), JunkMode::Session).await;
    let before = polls(&h, &email);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let quiet = polls(&h, &email) - before;
    assert!(quiet <= 1, "{quiet} looks in 2 quiet seconds: the junk folder is being polled, not pushed");
    let ms = junk_code(&h, &email, &mut sub, "303030").await;
    println!("APPEND to Junk to code with a second session: {ms:.0} ms");
    let w = h.engine.stats().watch;
    assert_eq!((w.junk_notify, w.junk_session, w.junk_poll), (0, 1, 0), "{w:?}");
    let most = h.bed.dovecot.max_sessions_seen(&email);
    assert_eq!(most, 2, "two sessions, within pool.maxPerAccount = 2\n{}", h.bed.dovecot.diagnostics());

    // The wait ends: the second session stops idling on junk.
    drop(sub);
    let mut idling = usize::MAX;
    for _ in 0..100 {
        idling = h.engine.stats().pool.total.idling;
        if idling == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(idling, 0, "nobody waits and the account is not watched: nothing idles: {:?}", h.engine.stats().pool);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_neither_the_junk_folder_is_checked_at_the_short_interval_while_a_wait_runs() {
    let mut cfg = test_config();
    cfg.pool.max_per_account = 1;
    cfg.watch.junk_poll_interval = Duration::from_millis(200);
    let (h, email, mut sub) = waiting(cfg, no_notify(), JunkMode::Poll).await;
    let before = polls(&h, &email);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let looks = polls(&h, &email) - before;
    assert!(looks >= 4, "{looks} looks in 2 s: the junk folder is checked every 200 ms while the wait runs");
    let ms = junk_code(&h, &email, &mut sub, "404040").await;
    println!("APPEND to Junk to code with STATUS every 200 ms: {ms:.0} ms");
    let w = h.engine.stats().watch;
    assert_eq!((w.junk_notify, w.junk_session, w.junk_poll), (0, 0, 1), "{w:?}");
    let most = h.bed.dovecot.max_sessions_seen(&email);
    assert_eq!(most, 1, "one session: pool.maxPerAccount is 1\n{}", h.bed.dovecot.diagnostics());
    h.engine.shutdown().await;
}
