//! Mail is untrusted input: a mail bomb is fetched only for its start, a backlog comes in
//! batches whose progress is kept, and neither costs more than the limits say. The bytes are
//! counted by the fault proxy between the engine and Dovecot.

use std::collections::BTreeSet;
use std::time::Duration;

use mailwatch_engine::imap::FolderSpec;
use mailwatch_testbed::FaultProxy;

use crate::support::{Harness, code_mail, message, test_config};

/// A message of about `size` bytes whose code sits in its first lines, as verification
/// mail has it, followed by filler.
fn bomb(code: &str, size: usize) -> String {
    let (subject, body) = code_mail(code);
    let line = "All work and no play makes a dull mail, over and over and over again.\r\n";
    let filler = line.repeat(size / line.len() + 1);
    message(&subject, &format!("{body}\r\n\r\n{filler}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_far_over_the_size_limit_is_fetched_only_for_its_start_and_its_code_found() {
    const LIMIT: usize = 64 * 1024;
    const SIZE: usize = 3 * 1024 * 1024;
    let mut cfg = test_config();
    cfg.cache.max_message_bytes = LIMIT;
    let h = Harness::with_config(cfg).await;
    let proxy = FaultProxy::start(h.bed.dovecot.imaps_addr()).await;
    let email = h.password_account("bomb@example.com", "pw", Some(proxy.port())).await;
    h.bed.dovecot.append(&email, "INBOX", bomb("482913", SIZE).as_bytes()).await;

    let listed = h.engine.fetch(&email, &FolderSpec::Inbox, 5, false).await.expect("the listing works");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].code.as_deref(), Some("482913"), "the code near the top is found in the start");
    let (_, listing) = proxy.bytes_forwarded();

    let shown = h.engine.message(&email, &FolderSpec::Inbox, listed[0].uid).await.expect("the viewer gets it");
    let (_, total) = proxy.bytes_forwarded();
    println!(
        "a {SIZE}-byte message with a {LIMIT}-byte limit: the listing read {listing} bytes from the server, \
         the viewer got {} bytes ({} read)",
        shown.len(),
        total - listing
    );
    assert_eq!(shown.len(), LIMIT, "the viewer gets the message's first {LIMIT} bytes, not its {SIZE}");
    assert!(shown.starts_with(b"From: "), "and those are its start");
    // Sign-in, SELECT and sizes are a few kilobytes; the content is at most the limit.
    for (what, bytes) in [("the listing", listing), ("the viewer", total - listing)] {
        assert!(bytes < LIMIT as u64 + 32 * 1024, "{what} read {bytes} bytes of a {SIZE}-byte message");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_finds_the_code_in_a_mail_bomb_without_downloading_it() {
    const LIMIT: usize = 64 * 1024;
    const SIZE: usize = 3 * 1024 * 1024;
    let mut cfg = test_config();
    cfg.cache.max_message_bytes = LIMIT;
    cfg.cache.poll_interval = Duration::from_secs(60);
    let h = Harness::with_config(cfg).await;
    let proxy = FaultProxy::start(h.bed.dovecot.imaps_addr()).await;
    let email = h.password_account("bomb2@example.com", "pw", Some(proxy.port())).await;
    let mut sub = h.engine.subscribe_codes(&email).await.unwrap();
    sub.ready().await;
    let (_, before) = proxy.bytes_forwarded();

    h.bed.dovecot.append(&email, "INBOX", bomb("570321", SIZE).as_bytes()).await;
    let got = tokio::time::timeout(Duration::from_secs(20), sub.next(&[]))
        .await
        .expect("the watch finds the code in the bomb's start")
        .unwrap();
    assert_eq!(got.code.as_deref(), Some("570321"));
    let (_, after) = proxy.bytes_forwarded();
    println!("a watch read {} bytes for a {SIZE}-byte message with a {LIMIT}-byte limit", after - before);
    assert!(after - before < LIMIT as u64 + 32 * 1024, "read {} bytes of a {SIZE}-byte message", after - before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_over_the_batch_cap_survives_cut_connections_batch_by_batch_every_code_once() {
    const BATCH: usize = 4;
    const MAILS: usize = 12;
    const MAIL_BYTES: usize = 30 * 1024;
    let mut cfg = test_config();
    cfg.cache.fetch_batch = BATCH;
    let h = Harness::with_config(cfg).await;
    let proxy = FaultProxy::start(h.bed.dovecot.imaps_addr()).await;
    let email = h.password_account("backlog@example.com", "pw", Some(proxy.port())).await;
    assert!(h.engine.poll(&email, &FolderSpec::Inbox).await.unwrap().is_empty(), "the baseline: nothing new");
    let sent: BTreeSet<String> = (0..MAILS).map(|i| format!("{}", 700_001 + i * 7)).collect();
    for code in &sent {
        h.bed.dovecot.append(&email, "INBOX", bomb(code, MAIL_BYTES).as_bytes()).await;
    }

    // Each connection carries about one batch and a half before it is cut, like a link that
    // dies under a long download: one fetch of the whole backlog would fail on every
    // connection, while batches keep their progress and a new connection takes the next.
    // A new session, so its SELECT sees the backlog at once.
    h.engine.forget_client(&email).await;
    proxy.drop_after(Some((BATCH * MAIL_BYTES * 3 / 2) as u64));
    let before = proxy.connections();
    let fetched = h.engine.poll(&email, &FolderSpec::Inbox).await.expect("the backlog arrives batch by batch");
    let connections = proxy.connections() - before;
    println!(
        "{MAILS} mails of {MAIL_BYTES} bytes, batches of {BATCH}, cut every 1.5 batches: {connections} connections"
    );
    assert_eq!(fetched.len(), MAILS, "all of the backlog was fetched");
    assert!(connections >= 2, "the cuts did happen: {connections} new connection(s)");
    let codes = h.events.codes();
    let unique: BTreeSet<String> = codes.iter().cloned().collect();
    assert_eq!(codes.len(), MAILS, "each code announced once: {codes:?}");
    assert_eq!(unique, sent, "every code arrived");

    proxy.drop_after(None);
    let again = h.engine.poll(&email, &FolderSpec::Inbox).await.expect("a poll after the backlog");
    assert!(again.is_empty(), "the position moved past the whole backlog: {} fetched again", again.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_delivers_a_backlog_over_the_batch_cap_in_batches_every_code_once() {
    let mut cfg = test_config();
    cfg.cache.fetch_batch = 3;
    cfg.cache.poll_interval = Duration::from_secs(60);
    let h = Harness::with_config(cfg).await;
    let email = h.password_account("backlog2@example.com", "pw", None).await;
    let mut sub = h.engine.subscribe_codes(&email).await.unwrap();
    sub.ready().await;
    let sent: BTreeSet<String> = (0..10).map(|i| format!("{}", 810_003 + i * 11)).collect();
    for code in &sent {
        let (s, b) = code_mail(code);
        h.deliver(&email, "INBOX", &s, &b).await;
    }
    let mut got = Vec::new();
    while got.len() < sent.len() {
        let next = tokio::time::timeout(Duration::from_secs(20), sub.next(&[]))
            .await
            .unwrap_or_else(|_| panic!("codes stopped after {got:?}"))
            .unwrap();
        got.push(next.code.unwrap_or_default());
    }
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(unique, sent, "every code arrived: {got:?}");
    assert_eq!(h.events.codes().len(), sent.len(), "each announced once: {:?}", h.events.codes());
}
