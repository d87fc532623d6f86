//! Secrets live in the real Secret Service and nowhere else.

use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::secrets::{KeyringSecrets, SecretStore};

use crate::support::{Harness, code_mail};

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_sqlite_files() {
    let h = Harness::start().await;
    let original = h.oauth_account("quinn@outlook.com", None).await;
    h.password_account("rita@example.com", "correct-horse-battery", None).await;
    let (s, b) = code_mail("777000");
    h.deliver("quinn@outlook.com", "INBOX", &s, &b).await;
    h.engine.fetch("quinn@outlook.com", &FolderSpec::Inbox, 5, false).await.unwrap();
    h.engine.fetch("rita@example.com", &FolderSpec::Inbox, 5, false).await.unwrap();
    let rotated = h.bed.oauth.current_refresh_token("quinn@outlook.com").unwrap();

    let mut checked = 0;
    for entry in std::fs::read_dir(h.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for secret in [original.as_str(), rotated.as_str(), "correct-horse-battery"] {
            assert!(!contains(&bytes, secret), "{} holds a secret", path.display());
        }
        assert!(!contains(&bytes, "M.C5"), "{} holds something shaped like a refresh token", path.display());
        checked += 1;
    }
    assert!(checked >= 1, "the cache files were checked");
    assert!(
        contains(&std::fs::read(h.dir.path().join("mailwatch.db")).unwrap(), "quinn@outlook.com") || checked > 1,
        "the account itself is in the cache"
    );

    let keyring = KeyringSecrets::default();
    assert_eq!(
        keyring.get("rita@example.com").unwrap().unwrap().expose(),
        "correct-horse-battery",
        "the password is in the keyring"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_account_removes_its_keyring_entry_and_cache() {
    let h = Harness::start().await;
    h.password_account("sam@example.com", "pw-sam", None).await;
    h.engine.fetch("sam@example.com", &FolderSpec::Inbox, 1, false).await.unwrap();
    h.engine.remove_account("sam@example.com").await.unwrap();
    assert!(KeyringSecrets::default().get("sam@example.com").unwrap().is_none(), "the keyring entry is gone");
    let err = h.engine.fetch("sam@example.com", &FolderSpec::Inbox, 1, false).await.unwrap_err();
    assert_eq!(err.code(), "unknown_account", "{err}");
    assert_eq!(h.engine.stats().pool.total.idle, 0, "its session was closed");
    let err = h.engine.remove_account("sam@example.com").await.unwrap_err();
    assert_eq!(err.code(), "unknown_account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_secret_replaces_the_client_and_closes_its_session() {
    let h = Harness::start().await;
    h.password_account("tom@example.com", "first", None).await;
    h.engine.fetch("tom@example.com", &FolderSpec::Inbox, 1, false).await.unwrap();
    h.engine.fetch("tom@example.com", &FolderSpec::Inbox, 1, false).await.unwrap();
    let before = h.engine.stats();
    assert_eq!((before.clients.client_creates, before.pool.total.total_created), (1, 1), "{before:?}");
    h.password_account("tom@example.com", "second", None).await;
    // Dovecot notices a changed passwd-file by its mtime, which has one-second resolution.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    h.engine.fetch("tom@example.com", &FolderSpec::Inbox, 1, false).await.expect("the new password works");
    let after = h.engine.stats();
    assert_eq!(after.clients.client_creates, 2, "a changed secret built a new client: {after:?}");
    assert_eq!(after.pool.total.total_created, 2, "and a new session: {after:?}");
    assert!(after.pool.total.total_closed >= 1, "the old session was closed first: {after:?}");
}
