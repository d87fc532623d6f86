//! The limits hold against a real server: callers wait instead of logging in again, and a
//! wait that runs out is a clear error.

use std::time::Duration;

use futures::future::join_all;
use mailwatch_engine::imap::FolderSpec;
use mailwatch_testbed::FaultProxy;

use crate::support::{Harness, code_mail, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_fetches_share_one_session() {
    let mut cfg = test_config();
    cfg.pool.max_per_account = 1;
    cfg.pool.wait_timeout = Duration::from_secs(60);
    let h = Harness::with_config(cfg).await;
    let email = "grace@outlook.com".to_string();
    h.oauth_account(&email, None).await;
    let (s, b) = code_mail("424242");
    h.deliver(&email, "INBOX", &s, &b).await;

    let results = join_all((0..50).map(|_| h.engine.fetch(&email, &FolderSpec::Inbox, 1, false))).await;
    let failed: Vec<String> = results.iter().filter_map(|r| r.as_ref().err().map(|e| e.to_string())).collect();
    assert!(failed.is_empty(), "every caller gets its messages: {failed:?}");

    let stats = h.engine.stats();
    let t = &stats.pool.total;
    let seen = h.bed.dovecot.max_sessions_seen(&email);
    println!(
        "50 callers, limit 1: Dovecot saw at most {seen} session(s); created {}, reused {}, waits {}",
        t.total_created, t.total_reused, t.connection_waits
    );
    assert_eq!(seen, 1, "Dovecot's own record shows one session at most\n{}", h.bed.dovecot.diagnostics());
    assert_eq!(h.bed.dovecot.logins_for(&email), 1, "one login served all 50 callers");
    assert_eq!(t.total_created, 1, "{t:?}");
    assert_eq!(t.total_reused, 49, "{t:?}");
    assert!(t.connection_waits >= 1, "callers over the limit waited, and were counted: {t:?}");
    assert_eq!(t.wait_timeouts, 0);
    assert_eq!((t.in_use, t.idle, t.waiting), (0, 1, 0), "afterwards the one session is idle: {t:?}");
    assert_eq!(h.bed.oauth.refresh_count(&email), 1, "one token refresh for one client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_session_makes_the_next_caller_time_out_with_a_clear_error() {
    let mut cfg = test_config();
    cfg.pool.wait_timeout = Duration::from_secs(1);
    cfg.pool.command_timeout = Duration::from_secs(4);
    let h = Harness::with_config(cfg).await;
    let proxy = FaultProxy::start(h.bed.dovecot.imaps_addr()).await;
    let email = h.password_account("heidi@example.com", "pw", Some(proxy.port())).await;
    h.engine.fetch(&email, &FolderSpec::Inbox, 1, false).await.expect("the proxy forwards while healthy");

    proxy.set_stall(true);
    let stuck = h.engine.fetch(&email, &FolderSpec::Inbox, 1, false);
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        h.engine.fetch(&email, &FolderSpec::Inbox, 1, false).await
    };
    let (stuck, second) = tokio::join!(stuck, second);
    let err = second.expect_err("the second caller cannot get the one session within 1 s");
    let text = err.to_string();
    println!("wait timeout error: {text}");
    assert_eq!(err.code(), "pool_exhausted");
    assert!(text.starts_with("pool exhausted for heidi@example.com: 1 in use, waited 1 s"), "{text}");
    let stuck = stuck.expect_err("the stalled command times out");
    assert_eq!(stuck.code(), "timeout", "{stuck}");

    let t = h.engine.stats().pool.total;
    assert_eq!(t.wait_timeouts, 1, "{t:?}");
    assert!(t.connection_waits >= 1, "{t:?}");
    assert_eq!(t.in_use, 0, "nothing is left checked out: {t:?}");
    assert!(proxy.connections() <= 3, "no extra logins were attempted while waiting: {}", proxy.connections());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_limit_closes_idle_sessions_of_other_accounts_instead_of_opening_more() {
    let mut cfg = test_config();
    cfg.pool.max_total = 1;
    let h = Harness::with_config(cfg).await;
    let a = h.password_account("ivan@example.com", "pw", None).await;
    let b = h.password_account("judy@example.com", "pw", None).await;
    for _ in 0..3 {
        h.engine.fetch(&a, &FolderSpec::Inbox, 1, false).await.unwrap();
        h.engine.fetch(&b, &FolderSpec::Inbox, 1, false).await.unwrap();
    }
    let t = h.engine.stats().pool.total;
    assert_eq!(t.total_created, 6, "each switch of account closes one session and opens another: {t:?}");
    assert_eq!(t.in_use + t.idle, 1, "never more than one session open: {t:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open = h.bed.dovecot.sessions_for(&a) + h.bed.dovecot.sessions_for(&b);
    assert!(open <= 1, "Dovecot shows {open} sessions open\n{}", h.bed.dovecot.diagnostics());
}
