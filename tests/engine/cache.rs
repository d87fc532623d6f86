//! The SQLite cache answers fresh reads without the server (plan C), and keeps the codes
//! history.

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

    let codes = h.engine.store().recent_codes(10).unwrap();
    assert_eq!(codes.len(), 1, "the code went to the history once");
    assert_eq!(codes[0].code.as_deref(), Some("918273"));
    assert_eq!(codes[0].email, email);
}
