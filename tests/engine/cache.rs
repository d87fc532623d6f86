//! The SQLite cache answers fresh reads without the server, and keeps the codes history.

use mailwatch_engine::imap::FolderSpec;

use crate::support::{Harness, code_mail};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_cached_messages_are_served_without_the_server() {
    let h = Harness::start().await;
    let email = h.password_account("uma@example.com", "pw", None).await;
    let (s, b) = code_mail("918273");
    h.deliver(&email, "INBOX", &s, &b).await;
    let live = h.engine.fetch(&email, &FolderSpec::Inbox, 5, false).await.unwrap();
    h.bed.dovecot.stop().await;
    let cached = h
        .engine
        .fetch(&email, &FolderSpec::Inbox, 5, true)
        .await
        .expect("a fresh cache answers while the server is down");
    assert_eq!(cached.iter().map(|m| m.uid).collect::<Vec<_>>(), live.iter().map(|m| m.uid).collect::<Vec<_>>());
    assert_eq!(cached[0].code.as_deref(), Some("918273"));
    let err = h.engine.fetch(&email, &FolderSpec::Inbox, 5, false).await.unwrap_err();
    assert!(
        matches!(err.code(), "server_unreachable" | "timeout" | "imap_error"),
        "--no-cache asks the server, which is down: {} {err}",
        err.code()
    );

    let codes = h.engine.recent_codes(10).await.unwrap();
    assert_eq!(codes.len(), 1, "the code went to the history once");
    assert_eq!(codes[0].code.as_deref(), Some("918273"));
    assert_eq!(codes[0].email, email);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_messages_never_announces_an_old_code_as_new() {
    let h = Harness::start().await;
    let email = h.password_account("olga@example.com", "pw", None).await;
    let (s, b) = code_mail("246810");
    h.deliver(&email, "INBOX", &s, &b).await;
    // Let the clock move on, so "found now" and "found when it arrived" differ.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;

    let listed = h.engine.fetch(&email, &FolderSpec::Inbox, 10, false).await.unwrap();
    assert_eq!(listed[0].code.as_deref(), Some("246810"), "the listing still shows the code: {listed:?}");
    assert_eq!(h.events.codes(), Vec::<String>::new(), "a code that was there before the first look is not news");
    let history = h.engine.recent_codes(10).await.unwrap();
    assert_eq!(history.len(), 1, "the old code is in the history: {history:?}");
    let old = &history[0];
    assert!(
        old.received.is_some_and(|r| old.found_at <= r),
        "the old code is recorded as found when it arrived, not as just found: {old:?}"
    );

    let (s, b) = code_mail("135790");
    h.deliver(&email, "INBOX", &s, &b).await;
    // A new session, so the SELECT sees the new mail at once.
    h.engine.forget_client(&email).await;
    h.engine.fetch(&email, &FolderSpec::Inbox, 10, false).await.unwrap();
    assert_eq!(h.events.codes(), vec!["135790".to_string()], "mail that arrived after the first look is news");
    let newest = &h.engine.recent_codes(1).await.unwrap()[0];
    assert_eq!(newest.code.as_deref(), Some("135790"), "the new code is the newest in the history");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_older_than_the_retention_are_deleted() {
    let h = Harness::start().await;
    let email = h.password_account("pola@example.com", "pw", None).await;
    let (s, b) = code_mail("864209");
    h.deliver(&email, "INBOX", &s, &b).await;
    h.engine.fetch(&email, &FolderSpec::Inbox, 5, false).await.unwrap();
    let found_at = h.engine.recent_codes(1).await.unwrap()[0].found_at;

    // A day later, with the default month of retention, it stays.
    assert_eq!(h.engine.prune_history(found_at + 24 * 3600).await.unwrap(), (0, 0));
    // Past the month it goes, with its cached message.
    assert_eq!(h.engine.prune_history(found_at + 31 * 24 * 3600).await.unwrap(), (1, 1));
    assert!(h.engine.recent_codes(10).await.unwrap().is_empty(), "the code is gone from the history");
}
