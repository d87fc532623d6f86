//! Reused sessions against Dovecot: fetching, reuse, reconnects, folders and waiting.

use std::time::Duration;

use mailwatch_engine::account::{AccountSpec, Provider, Tls};
use mailwatch_engine::engine::{NewSecret, WaitOptions};
use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::secrets::Secret;

use crate::support::{Harness, code_mail};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_the_newest_messages_with_their_codes_and_reuses_the_session() {
    let h = Harness::start().await;
    let email = h.password_account("alice@example.com", "pw-alice", None).await;
    for (i, code) in ["111111", "222222", "333333"].iter().enumerate() {
        let (s, b) = code_mail(code);
        h.deliver(&email, "INBOX", &format!("{s} #{i}"), &b).await;
    }
    let msgs =
        h.engine.fetch(&email, &FolderSpec::Inbox, 2, false).await.expect("fetch over implicit TLS with a password");
    let subjects: Vec<_> = msgs.iter().map(|m| m.subject.clone().unwrap_or_default()).collect();
    assert_eq!(subjects, ["Your verification code #2", "Your verification code #1"], "newest first, top 2");
    assert_eq!(msgs[0].code.as_deref(), Some("333333"), "extraction ran on the fetched message: {:?}", msgs[0]);

    let again = h.engine.fetch(&email, &FolderSpec::Inbox, 3, false).await.unwrap();
    assert_eq!(again.len(), 3);
    let stats = h.engine.stats().pool.total;
    assert_eq!(
        (stats.total_created, stats.total_reused),
        (1, 1),
        "the second fetch reused the first session: {stats:?}"
    );
    assert_eq!(h.bed.dovecot.logins_for(&email), 1, "Dovecot saw one login\n{}", h.bed.dovecot.diagnostics());
    assert_eq!(
        h.events.codes(),
        Vec::<String>::new(),
        "the mail was in the inbox before Mailwatch first looked, so none of its codes is news"
    );

    let (s, b) = code_mail("444444");
    h.deliver(&email, "INBOX", &s, &b).await;
    // A new session, so the SELECT sees the new mail at once.
    h.engine.forget_client(&email).await;
    h.engine.fetch(&email, &FolderSpec::Inbox, 3, false).await.unwrap();
    h.engine.fetch(&email, &FolderSpec::Inbox, 3, false).await.unwrap();
    assert_eq!(h.events.codes(), ["444444"], "each new code was announced once, and a re-fetch announced none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_accounts_work() {
    let h = Harness::start().await;
    h.bed.dovecot.add_user("bob@example.com", "pw-bob");
    let spec = AccountSpec {
        email: "bob@example.com".into(),
        provider: Some(Provider::Imap),
        imap_host: Some("localhost".into()),
        imap_port: Some(h.bed.dovecot.imap_port()),
        tls: Some(Tls::Starttls),
        ..Default::default()
    };
    h.engine.add_account(&spec, NewSecret::Password(Secret::new("pw-bob"))).await.unwrap();
    h.deliver("bob@example.com", "INBOX", "hello", "no code here").await;
    let msgs = h
        .engine
        .fetch("bob@example.com", &FolderSpec::Inbox, 5, false)
        .await
        .expect("STARTTLS on the plain port upgrades to TLS");
    assert_eq!(msgs.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_junk_folder_is_found_by_special_use() {
    let h = Harness::start().await;
    let email = h.password_account("carol@example.com", "pw", None).await;
    let (s, b) = code_mail("551177");
    h.deliver(&email, "Junk", &s, &b).await;
    let msgs = h.engine.fetch(&email, &FolderSpec::Junk, 5, false).await.expect("junk resolves to the \\Junk folder");
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].code.as_deref(), Some("551177"));
    let err = h.engine.fetch(&email, &FolderSpec::Named("NoSuchFolder".into()), 5, false).await.unwrap_err();
    assert_eq!(err.code(), "unknown_folder", "{err}");
    assert!(err.to_string().contains("NoSuchFolder"), "the message names the folder: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_between_fetches_is_survived_by_reconnecting() {
    let h = Harness::start().await;
    let email = h.password_account("dave@example.com", "pw", None).await;
    h.deliver(&email, "INBOX", "one", "text").await;
    h.engine.fetch(&email, &FolderSpec::Inbox, 1, false).await.unwrap();
    h.bed.dovecot.restart().await;
    let msgs =
        h.engine.fetch(&email, &FolderSpec::Inbox, 1, false).await.expect("the dead session is replaced invisibly");
    assert_eq!(msgs.len(), 1);
    let s = h.engine.stats().pool.total;
    assert_eq!(s.total_created, 2, "a second login replaced the session the restart cut: {s:?}");
    assert!(s.total_closed >= 1, "the dead session was counted closed: {s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_is_health_checked_and_replaced_when_dead() {
    let mut cfg = crate::support::test_config();
    cfg.pool.health_check_after = Duration::ZERO;
    let h = Harness::with_config(cfg).await;
    let email = h.password_account("erin@example.com", "pw", None).await;
    h.engine.fetch(&email, &FolderSpec::Inbox, 1, false).await.unwrap();
    h.engine.fetch(&email, &FolderSpec::Inbox, 1, false).await.unwrap();
    assert_eq!(h.engine.stats().pool.total.health_check_failures, 0, "a live session passes NOOP");
    h.bed.dovecot.restart().await;
    h.engine.fetch(&email, &FolderSpec::Inbox, 1, false).await.expect("a failed NOOP leads to a new session");
    let s = h.engine.stats().pool.total;
    assert_eq!(s.health_check_failures, 1, "{s:?}");
    assert_eq!(s.total_created, 2, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_code_returns_only_a_code_that_arrives_after_the_wait_starts() {
    let h = Harness::start().await;
    let email = h.password_account("frank@example.com", "pw", None).await;
    let (s, b) = code_mail("000111");
    h.deliver(&email, "INBOX", &s, &b).await;
    h.deliver(&email, "Junk", &s, &b).await;
    let waiter = {
        let engine = &h.engine;
        let email = email.clone();
        async move {
            engine.wait_code(&email, &WaitOptions { timeout: Duration::from_secs(20), ..Default::default() }).await
        }
    };
    let deliver_later = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let (s, b) = code_mail("049302");
        h.deliver(&email, "Junk", &s, &b).await;
    };
    let (found, ()) = tokio::join!(waiter, deliver_later);
    let found = found.expect("the code delivered to junk during the wait is found");
    assert_eq!(
        found.code.as_deref(),
        Some("049302"),
        "the older code 000111 must never be returned; leading zero kept"
    );
    assert_eq!(found.folder, "junk");

    let err = h
        .engine
        .wait_code(&email, &WaitOptions { timeout: Duration::from_millis(600), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "wait_timed_out", "nothing new arrived: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_primary_server_falls_back_to_the_second() {
    use mailwatch_engine::account::{Account, ImapEndpoint};
    let h = Harness::start().await;
    h.password_account("gina@example.com", "pw", None).await;
    // Outlook has two hosts; model that with a closed port as the primary.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut account: Account = h.engine.account("gina@example.com").await.unwrap();
    account.imap_fallback = Some(account.imap.clone());
    account.imap = ImapEndpoint { host: "127.0.0.1".into(), port: closed, tls: Tls::Implicit };
    h.cache_file().upsert_account(&account).unwrap();
    let msgs =
        h.engine.fetch("gina@example.com", &FolderSpec::Inbox, 1, false).await.expect("the fallback server answers");
    assert!(msgs.is_empty());
    assert_eq!(h.bed.dovecot.logins_for("gina@example.com"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_on_a_reused_session_shows_mail_delivered_since_the_folder_was_selected() {
    let h = Harness::start().await;
    let email = h.password_account("lia@example.com", "pw", None).await;
    assert!(h.engine.fetch(&email, &FolderSpec::Inbox, 10, false).await.unwrap().is_empty(), "an empty inbox");
    for (n, code) in [(1, "310482"), (2, "775120")] {
        let (s, b) = code_mail(code);
        h.deliver(&email, "INBOX", &s, &b).await;
        let listed = h.engine.fetch(&email, &FolderSpec::Inbox, 10, false).await.expect("the listing works");
        assert_eq!(listed.len(), n, "the new message is listed at once, not after the next health check: {listed:?}");
        assert_eq!(listed[0].code.as_deref(), Some(code), "{listed:?}");
    }
    assert_eq!(h.engine.stats().pool.total.total_created, 1, "on the one reused session");
}
