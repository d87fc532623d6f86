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
async fn when_the_rotated_token_cannot_be_saved_the_old_one_stays_and_the_account_is_marked() {
    mailwatch_testbed::keyring::require_secret_service();
    let store = Arc::new(FailingWrites { real: KeyringSecrets::default(), fail: AtomicBool::new(false) });
    let h = Harness::with_secrets(test_config(), Some(store.clone())).await;
    let original = h.oauth_account("pat@outlook.com", None).await;
    store.fail.store(true, Ordering::SeqCst);
    let err = h.engine.fetch("pat@outlook.com", &FolderSpec::Inbox, 1, false).await.unwrap_err();
    assert_eq!(err.code(), "rotation_not_saved", "{err}");
    assert!(err.to_string().contains("the old token is kept"), "{err}");
    assert_eq!(store.get("pat@outlook.com").unwrap().unwrap().expose(), original, "the old token stays in the keyring");
    assert_eq!(h.bed.dovecot.logins_for("pat@outlook.com"), 0, "the new access token was not used");
    let account = h.engine.account("pat@outlook.com").await.unwrap();
    assert_eq!(account.status, AccountStatus::Error);
}
