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

// The shard store itself. Each test uses a service name of its own, so tests running at the
// same time never share shards unless they mean to.

use mailwatch_engine::secrets::{SHARDS, Secret, SecretsError, shard_of};

/// `n` addresses (prefixed `prefix`) whose secrets share one shard.
fn same_shard(prefix: &str, n: usize) -> Vec<String> {
    let shard = shard_of(&format!("{prefix}0@example.org"));
    let found: Vec<String> =
        (0..100_000).map(|i| format!("{prefix}{i}@example.org")).filter(|e| shard_of(e) == shard).take(n).collect();
    assert_eq!(found.len(), n, "enough addresses share a shard");
    found
}

/// Writes each account's secret, `{email}-token`, one account at a time: a read-modify-write
/// of the shard each time.
fn add_one_by_one(store: &KeyringSecrets, emails: &[String]) {
    for email in emails {
        store.set(email, &Secret::new(format!("{email}-token"))).unwrap();
    }
}

/// Asserts that every account holds `{email}-token`.
fn assert_all_kept(store: &KeyringSecrets, emails: &[String], why: &str) {
    for (email, got) in emails.iter().zip(store.get_many(emails)) {
        let got = got.unwrap().map(|s| s.expose().to_string());
        assert_eq!(got, Some(format!("{email}-token")), "{email}: {why}");
    }
}

/// The raw keyring item `(service, user)`, as another program would see it.
fn raw_item(service: &str, user: &str) -> Option<String> {
    match keyring::Entry::new(service, user).unwrap().get_password() {
        Ok(v) => Some(v),
        Err(keyring::Error::NoEntry) => None,
        Err(e) => panic!("the keyring answers: {e}"),
    }
}

fn shard_name(email: &str) -> String {
    format!("shard-{:02}-of-{SHARDS}", shard_of(email))
}

#[test]
fn secrets_live_in_shard_items_and_read_back_after_the_cache_is_dropped() {
    mailwatch_testbed::keyring::require_secret_service();
    let service = "mailwatch-test-round-trip";
    let store = KeyringSecrets::new(service);
    let items: Vec<(String, Secret)> =
        (0..200).map(|i| (format!("rt{i}@example.org"), Secret::new(format!("token-{i}-{}", i * 31)))).collect();
    assert!(store.set_many(&items).iter().all(Result::is_ok), "the bulk write succeeds");

    store.clear_cache();
    let emails: Vec<String> = items.iter().map(|(e, _)| e.clone()).collect();
    let read = store.get_many(&emails);
    for ((email, secret), got) in items.iter().zip(&read) {
        assert_eq!(got.as_ref().unwrap().as_ref(), Some(secret), "{email} reads back from its shard");
        assert_eq!(store.get(email).unwrap().as_ref(), Some(secret), "{email} reads back alone too");
        assert_eq!(raw_item(service, email), None, "{email} has no item of its own");
    }
    let shards: Vec<usize> =
        (0..SHARDS).filter(|s| raw_item(service, &format!("shard-{s:02}-of-{SHARDS}")).is_some()).collect();
    assert_eq!(shards.len(), SHARDS, "200 accounts fill every one of the {SHARDS} shards, and nothing else is stored");
    let raw = raw_item(service, &shard_name(&items[0].0)).unwrap();
    assert!(raw.contains(&items[0].0) && raw.contains(items[0].1.expose()), "a shard is a map from address to secret");

    // One account changes; a second store of the same service (another window, say) sees it.
    store.set(&items[0].0, &Secret::new("rotated")).unwrap();
    assert_eq!(KeyringSecrets::new(service).get(&items[0].0).unwrap().unwrap().expose(), "rotated");

    // Removal takes the secret out of its shard; a shard left empty goes from the keyring.
    let removed: Vec<String> = emails[..100].to_vec();
    assert!(store.delete_many(&removed).iter().all(Result::is_ok));
    store.clear_cache();
    for email in &removed {
        assert_eq!(store.get(email).unwrap(), None, "{email} was removed");
    }
    assert_eq!(store.get(&emails[150]).unwrap().as_ref(), Some(&items[150].1), "the others stay");
    assert!(store.delete_many(&emails).iter().all(Result::is_ok), "removing missing ones is no error");
    for s in 0..SHARDS {
        assert_eq!(raw_item(service, &format!("shard-{s:02}-of-{SHARDS}")), None, "shard {s} is gone once empty");
    }
}

#[test]
fn concurrent_writes_of_accounts_in_one_shard_lose_nothing() {
    mailwatch_testbed::keyring::require_secret_service();
    let service = "mailwatch-test-threads";
    let emails = same_shard("thr", 40);
    std::thread::scope(|scope| {
        for half in emails.chunks(20) {
            // A store of its own per thread: the shard's lock is per process, not per store.
            let store = KeyringSecrets::new(service);
            scope.spawn(move || add_one_by_one(&store, half));
        }
    });
    let store = KeyringSecrets::new(service);
    store.clear_cache();
    assert_all_kept(&store, &emails, "no thread's write put back a copy of the shard without another's");
    store.delete_many(&emails);
}

/// The environment variable that turns [`shard_writer_process`] into the second process of
/// [`writes_from_two_processes_lose_nothing`]: the service, then the addresses to write.
const WRITER_ENV: &str = "MAILWATCH_TEST_SHARD_WRITER";

/// Does nothing in a normal run. Started by the test below as a process of its own, it
/// writes secrets one account at a time, as rotations do.
#[test]
fn shard_writer_process() {
    let Ok(spec) = std::env::var(WRITER_ENV) else { return };
    let mut words = spec.split(' ').map(str::to_string);
    let store = KeyringSecrets::new(words.next().unwrap());
    add_one_by_one(&store, &words.collect::<Vec<_>>());
}

#[test]
fn writes_from_two_processes_lose_nothing() {
    mailwatch_testbed::keyring::require_secret_service();
    let service = "mailwatch-test-processes";
    let emails = same_shard("proc", 60);
    let (mine, theirs) = emails.split_at(30);
    let store = KeyringSecrets::new(service);
    store.set(&mine[0], &Secret::new("first")).unwrap();
    assert!(store.get(&mine[0]).unwrap().is_some(), "this process now holds the shard in memory");

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "secrets::shard_writer_process", "--nocapture", "--test-threads=1"])
        .env(WRITER_ENV, format!("{service} {}", theirs.join(" ")))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the test binary starts again as the second process");
    // Start once the other process is writing, so that the two really overlap.
    // The wait ends either way: the other process writes until it is done.
    loop {
        let ended = child.try_wait().unwrap();
        if store.get(&theirs[0]).unwrap().is_some() {
            break;
        }
        assert!(ended.is_none(), "the other process ended ({ended:?}) without its first write showing here");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    add_one_by_one(&store, mine);
    assert!(child.wait().unwrap().success(), "the other process wrote its accounts");

    // No cache is dropped here: the lock file's stamps tell this process what changed.
    assert_all_kept(&store, theirs, "this process sees every write of the other");
    assert_all_kept(&store, mine, "the other process never put back an old copy of the shard");
    store.delete_many(&emails);
}

#[test]
fn an_older_per_account_entry_is_read_moved_on_write_and_removed() {
    mailwatch_testbed::keyring::require_secret_service();
    let service = "mailwatch-test-legacy";
    let (kept, removed) = ("old-kept@example.org", "old-removed@example.org");
    for (email, value) in [(kept, "legacy-token-1"), (removed, "legacy-token-2")] {
        keyring::Entry::new(service, email).unwrap().set_password(value).unwrap();
    }
    let store = KeyringSecrets::new(service);
    assert_eq!(store.get(kept).unwrap().unwrap().expose(), "legacy-token-1", "an older entry is still read");
    let both = vec![kept.to_string(), removed.to_string()];
    let read: Vec<Option<String>> =
        store.get_many(&both).into_iter().map(|r| r.unwrap().map(|s| s.expose().to_string())).collect();
    assert_eq!(read, vec![Some("legacy-token-1".to_string()), Some("legacy-token-2".to_string())]);

    store.set(kept, &Secret::new("rotated-token")).unwrap();
    assert_eq!(raw_item(service, kept), None, "the write moved the secret into its shard and deleted the old entry");
    assert!(raw_item(service, &shard_name(kept)).unwrap().contains("rotated-token"));
    assert_eq!(store.get(kept).unwrap().unwrap().expose(), "rotated-token");

    store.delete(removed).unwrap();
    assert_eq!(raw_item(service, removed), None, "removing an account removes its older entry too");
    assert_eq!(store.get(removed).unwrap(), None);
    store.delete(kept).unwrap();
}

#[test]
fn an_unreadable_shard_is_reported_without_its_contents_and_written_anew() {
    mailwatch_testbed::keyring::require_secret_service();
    let service = "mailwatch-test-corrupt";
    let email = "broken@example.org";
    let garbage = "M.C5-not-json-secret-material";
    keyring::Entry::new(service, &shard_name(email)).unwrap().set_password(garbage).unwrap();
    let store = KeyringSecrets::new(service);
    let err = store.get(email).unwrap_err();
    assert!(matches!(err, SecretsError::Corrupt { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(text.contains(email), "the error names the account: {text}");
    assert!(!text.contains(garbage) && !text.contains("M.C5"), "the error holds nothing of the item: {text}");

    store.set(email, &Secret::new("fresh")).unwrap();
    assert_eq!(store.get(email).unwrap().unwrap().expose(), "fresh", "adding the account again works");
    store.delete(email).unwrap();
    let copies = items_named_like(service, &format!("{}.unreadable-", shard_name(email)));
    assert_eq!(copies.len(), 1, "the unreadable shard was kept aside before it was written anew");
    assert_eq!(copies[0].1, garbage, "byte for byte");
    for (user, _) in copies {
        keyring::Entry::new(service, &user).unwrap().delete_credential().unwrap();
    }
}

/// Every item of `service` whose user name starts with `prefix`, with its value, as
/// `secret-tool` finds them.
fn items_named_like(service: &str, prefix: &str) -> Vec<(String, String)> {
    let out = std::process::Command::new("secret-tool")
        .args(["search", "--all", "--unlock", "service", service])
        .output()
        .expect("secret-tool runs (libsecret-tools)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let mut found = Vec::new();
    let mut user: Option<String> = None;
    let mut secret: Option<String> = None;
    for line in text.lines() {
        if line.starts_with('[') {
            if let (Some(u), Some(s)) = (user.take(), secret.take())
                && u.starts_with(prefix)
            {
                found.push((u, s));
            }
        } else if let Some(v) = line.strip_prefix("secret = ") {
            secret = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("attribute.username = ") {
            user = Some(v.to_string());
        }
    }
    if let (Some(u), Some(s)) = (user, secret)
        && u.starts_with(prefix)
    {
        found.push((u, s));
    }
    found
}

#[test]
fn a_held_keyring_lock_ends_in_a_clear_error_and_changes_nothing() {
    mailwatch_testbed::keyring::require_secret_service();
    let email = "busy@example.org";
    let store = KeyringSecrets::new("mailwatch-test-busy").with_lock_timeout(std::time::Duration::from_millis(300));
    let path = store.lock_file_path().expect("a lock file path").to_path_buf();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Another holder of the lock, as a process stuck behind an unlock prompt would be.
    let holder = std::fs::File::options().read(true).write(true).create(true).truncate(false).open(&path).unwrap();
    holder.lock().unwrap();
    let err = store.set(email, &Secret::new("while-busy")).unwrap_err();
    assert!(matches!(err, SecretsError::Busy { .. }), "the write gave up with Busy: {err:?}");
    assert!(err.to_string().contains("unlock prompt"), "the error says what may hold it: {err}");
    drop(holder);
    assert_eq!(store.get(email).unwrap(), None, "nothing was written while the lock was held");
    store.set(email, &Secret::new("after")).unwrap();
    assert_eq!(store.get(email).unwrap().unwrap().expose(), "after", "the keyring works once the lock is free");
    store.delete(email).unwrap();
}
