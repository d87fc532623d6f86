//! OAuth2 against the local token server: rotation, merged refreshes, rejected tokens and
//! provider errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::join_all;
use mailwatch_engine::account::AccountStatus;
use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::secrets::{KeyringSecrets, Secret, SecretStore, SecretsError};
use mailwatch_testbed::Failure;

use crate::support::{Harness, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_stored_in_the_keyring() {
    let h = Harness::start().await;
    let original = h.oauth_account("kim@outlook.com", None).await;
    h.engine.fetch("kim@outlook.com", &FolderSpec::Inbox, 1, false).await.expect("XOAUTH2 with a refreshed token");
    let rotated = h.bed.oauth.current_refresh_token("kim@outlook.com").expect("the server issued a new refresh token");
    assert_ne!(rotated, original, "the token server rotates");
    let stored =
        KeyringSecrets::default().get("kim@outlook.com").unwrap().expect("the keyring holds the account's token");
    assert!(stored.expose() == rotated, "the keyring holds the rotated token, not the original");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_share_one_token_refresh() {
    let mut cfg = test_config();
    cfg.pool.max_per_account = 4;
    let h = Harness::with_config(cfg).await;
    h.oauth_account("leo@outlook.com", None).await;
    // Dovecot creates a new user's INBOX on first access, and four first sessions at once can
    // race to create it ("[ALREADYEXISTS]" to one SELECT): the mailbox exists beforehand here,
    // as any real mailbox does.
    h.bed.dovecot.create_folder("leo@outlook.com", "INBOX", None);
    h.bed.oauth.set_latency(std::time::Duration::from_millis(200));
    let results = join_all((0..4).map(|_| h.engine.fetch("leo@outlook.com", &FolderSpec::Inbox, 1, false))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(h.bed.oauth.refresh_count("leo@outlook.com"), 1, "four logins at once became one refresh request");
    assert!(h.engine.stats().pool.total.total_created >= 2, "the logins really ran in parallel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_access_token_is_refreshed_once_and_retried_once() {
    let h = Harness::start().await;
    h.oauth_account("mia@outlook.com", None).await;
    h.engine.fetch("mia@outlook.com", &FolderSpec::Inbox, 1, false).await.unwrap();
    h.bed.dovecot.restart().await;
    h.bed.oauth.revoke_access_tokens("mia@outlook.com");
    h.engine
        .fetch("mia@outlook.com", &FolderSpec::Inbox, 1, false)
        .await
        .expect("the refused token is refreshed and the login retried");
    assert_eq!(h.bed.oauth.refresh_count("mia@outlook.com"), 2, "exactly one extra refresh");
    assert_eq!(
        h.bed.dovecot.auth_failures_for("mia@outlook.com"),
        1,
        "one refused XOAUTH2, then success\n{}",
        h.bed.dovecot.diagnostics()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_marks_the_account_needs_reauth_with_the_providers_words() {
    let h = Harness::start().await;
    let token = h.oauth_account("ned@outlook.com", None).await;
    h.bed.oauth.revoke(&token);
    let err = h.engine.fetch("ned@outlook.com", &FolderSpec::Inbox, 1, false).await.unwrap_err();
    assert_eq!(err.code(), "needs_reauth", "{err}");
    let text = err.to_string();
    assert!(text.contains("invalid_grant") && text.contains("AADSTS"), "the provider's words are kept: {text}");
    assert!(!text.contains(&token), "the token never appears in an error");
    let account = h.engine.account("ned@outlook.com").await.unwrap();
    assert_eq!(account.status, AccountStatus::NeedsReauth);
    assert!(account.status_detail.unwrap_or_default().contains("AADSTS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_imap_scope_on_an_account_graph_cannot_read_asks_to_sign_in_again() {
    // Only Outlook accounts have a second channel; elsewhere a refresh token that may not read
    // mail over IMAP is as good as revoked.
    let h = Harness::start().await;
    let token = h.bed.oauth.issue_refresh_token_with_scopes(
        "ona@example.org",
        mailwatch_testbed::DEFAULT_CLIENT_ID,
        &[mailwatch_testbed::SMTP_SCOPE],
    );
    let spec = mailwatch_engine::account::AccountSpec {
        email: "ona@example.org".into(),
        provider: Some(mailwatch_engine::account::Provider::Gmail),
        auth: Some(mailwatch_engine::account::AuthMethod::OAuth2),
        client_id: Some(mailwatch_testbed::DEFAULT_CLIENT_ID.into()),
        imap_host: Some("127.0.0.1".into()),
        imap_port: Some(h.bed.dovecot.imaps_port()),
        tls: Some(mailwatch_engine::account::Tls::Implicit),
        token_url: Some(h.bed.oauth.token_url()),
        scope: Some(mailwatch_testbed::IMAP_SCOPE.into()),
        ..Default::default()
    };
    h.engine
        .add_account(&spec, mailwatch_engine::engine::NewSecret::RefreshToken(Secret::new(token.clone())))
        .await
        .expect("the account is added");
    let err = h.engine.fetch("ona@example.org", &FolderSpec::Inbox, 1, false).await.unwrap_err();
    assert_eq!(err.code(), "needs_reauth", "{err}");
    assert!(!err.to_string().contains(&token), "the token never appears in an error");
    let account = h.engine.account("ona@example.org").await.unwrap();
    assert_eq!(account.status, AccountStatus::NeedsReauth, "{:?}", account.status_detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_token_endpoint_is_not_mistaken_for_a_revoked_token() {
    let h = Harness::start().await;
    h.oauth_account("olga@outlook.com", None).await;
    h.bed.oauth.fail_next(1, Failure::Status(503));
    let err = h.engine.fetch("olga@outlook.com", &FolderSpec::Inbox, 1, false).await.unwrap_err();
    assert_eq!(err.code(), "token_endpoint_unreachable", "{err}");
    assert_eq!(
        h.engine.account("olga@outlook.com").await.unwrap().status,
        AccountStatus::Ok,
        "a 503 is no reason to sign in again"
    );
    h.engine.fetch("olga@outlook.com", &FolderSpec::Inbox, 1, false).await.expect("the next try works");
}

/// The real keyring, except that writes fail once switched on: what a full or locked
/// keyring would do, on cue.
struct FailingWrites {
    real: KeyringSecrets,
    fail: AtomicBool,
}

impl SecretStore for FailingWrites {
    fn get(&self, email: &str) -> Result<Option<Secret>, SecretsError> {
        self.real.get(email)
    }
    fn set(&self, email: &str, secret: &Secret) -> Result<(), SecretsError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(SecretsError::Locked { reason: "the collection is locked".into() });
        }
        self.real.set(email, secret)
    }
    fn delete(&self, email: &str) -> Result<(), SecretsError> {
        self.real.delete(email)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_the_keyring_refuses_is_kept_used_and_stored_once_it_can_be() {
    mailwatch_testbed::keyring::require_secret_service();
    let store = Arc::new(FailingWrites { real: KeyringSecrets::default(), fail: AtomicBool::new(false) });
    let h = Harness::with_secrets(test_config(), Some(store.clone())).await;
    let original = h.oauth_account("pat@outlook.com", None).await;
    store.fail.store(true, Ordering::SeqCst);
    h.engine
        .fetch("pat@outlook.com", &FolderSpec::Inbox, 1, false)
        .await
        .expect("the rotated token works although the keyring refused it");
    let account = h.engine.account("pat@outlook.com").await.unwrap();
    assert_eq!(account.status, AccountStatus::Error, "the account says its token is not stored");
    let detail = account.status_detail.unwrap_or_default();
    assert!(detail.contains("keeps using it"), "the status says what happens: {detail}");
    assert_eq!(store.get("pat@outlook.com").unwrap().unwrap().expose(), original, "the keyring could not change");

    // The provider spent the original token; the kept one is the account's now.
    h.engine.refresh_token("pat@outlook.com").await.expect("a refresh uses the kept token, not the spent one");
    assert_eq!(h.bed.oauth.refresh_count_for_token(&original), 1, "the spent token was never presented again");
    assert!(h.engine.stats().clients.rotations_unsaved >= 1);

    store.fail.store(false, Ordering::SeqCst);
    h.engine.refresh_token("pat@outlook.com").await.expect("the keyring works again");
    let newest = h.bed.oauth.current_refresh_token("pat@outlook.com").unwrap();
    assert_eq!(store.get("pat@outlook.com").unwrap().unwrap().expose(), newest, "the keyring holds the newest token");
    assert_eq!(h.engine.account("pat@outlook.com").await.unwrap().status, AccountStatus::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_rotated_by_another_process_is_read_again_instead_of_marking_the_account() {
    let h = Harness::start().await;
    h.oauth_account("quinn@outlook.com", None).await;
    h.engine.refresh_token("quinn@outlook.com").await.unwrap();
    // The CLI while the app runs: another engine over the same cache and keyring rotates.
    let options = mailwatch_engine::engine::EngineOptions {
        data_dir: Some(h.dir.path().to_path_buf()),
        extra_ca: Some(h.bed.dovecot.ca_pem_path().to_path_buf()),
        config: Some(test_config()),
        ..Default::default()
    };
    let other = mailwatch_engine::Engine::open(options, Arc::new(mailwatch_engine::events::NullSink)).await.unwrap();
    other.refresh_token("quinn@outlook.com").await.unwrap();
    other.shutdown().await;

    h.engine.refresh_token("quinn@outlook.com").await.expect("the first engine uses the token the other one stored");
    let account = h.engine.account("quinn@outlook.com").await.unwrap();
    assert_eq!(account.status, AccountStatus::Ok, "{:?}", account.status_detail);
    h.engine.fetch("quinn@outlook.com", &FolderSpec::Inbox, 1, false).await.expect("and signs in with it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_and_verifications_at_once_never_present_a_spent_token() {
    let h = Harness::start().await;
    h.oauth_account("rhea@outlook.com", None).await;
    h.bed.oauth.set_latency(std::time::Duration::from_millis(50));
    let email = "rhea@outlook.com".to_string();
    let jobs = (0..8).map(|i| {
        let (engine, email) = (&h.engine, email.clone());
        async move { if i % 2 == 0 { engine.refresh_token(&email).await } else { engine.verify_account(&email).await } }
    });
    let results = join_all(jobs).await;
    assert!(results.iter().all(Result::is_ok), "every refresh and verification went through: {results:?}");
    let account = h.engine.account(&email).await.unwrap();
    assert_eq!(account.status, AccountStatus::Ok, "{:?}", account.status_detail);
    let current = h.bed.oauth.current_refresh_token(&email).unwrap();
    let stored = KeyringSecrets::default().get(&email).unwrap().unwrap();
    assert_eq!(stored.expose(), current, "the keyring holds the token the provider considers current");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_rotating_one_account_take_turns_and_never_present_a_spent_token() {
    let h = Harness::start().await;
    let original = h.oauth_account("rex@outlook.com", None).await;
    // A second engine on the same data and keyring, as the CLI beside the app would be.
    let other = mailwatch_engine::Engine::open(
        mailwatch_engine::engine::EngineOptions {
            data_dir: Some(h.dir.path().to_path_buf()),
            extra_ca: Some(h.bed.dovecot.ca_pem_path().to_path_buf()),
            config: Some(test_config()),
            ..Default::default()
        },
        Arc::new(mailwatch_engine::events::NullSink),
    )
    .await
    .expect("a second engine opens the same data dir");
    // Slow answers, so both exchanges would overlap without the lock between processes.
    h.bed.oauth.set_latency(std::time::Duration::from_millis(300));
    let (a, b) = tokio::join!(h.engine.refresh_token("rex@outlook.com"), other.refresh_token("rex@outlook.com"));
    a.expect("the first process refreshes");
    b.expect("the second process refreshes, after the first");
    assert_eq!(h.bed.oauth.refresh_count_for_token(&original), 1, "the spent token was presented once, not twice");
    assert_eq!(h.bed.oauth.refresh_count("rex@outlook.com"), 2, "two exchanges, one after the other");
    let rereads = h.engine.stats().clients.token_rereads + other.stats().clients.token_rereads;
    assert_eq!(rereads, 0, "the second read the first's new token before its exchange, not after a refusal");
    let stored = KeyringSecrets::default().get("rex@outlook.com").unwrap().unwrap();
    assert_eq!(Some(stored.expose().to_string()), h.bed.oauth.current_refresh_token("rex@outlook.com"));
    other.shutdown().await;
}
