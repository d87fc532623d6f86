//! Tests on real SQLite files in a temporary folder.

use std::path::PathBuf;

use tempfile::TempDir;

use super::*;
use crate::account::{Account, AccountStatus, AuthMethod, ImapEndpoint, Provider, Tls};

/// A fresh cache file in its own temporary folder; the folder goes when the guard drops.
fn temp_store() -> (TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("cache.sqlite3");
    let store = Store::open(&path).expect("a new cache file opens");
    (dir, path, store)
}

fn oauth_account(email: &str) -> Account {
    Account {
        email: email.into(),
        provider: Provider::Outlook,
        auth: AuthMethod::OAuth2,
        imap: ImapEndpoint { host: "outlook.office365.com".into(), port: 993, tls: Tls::Implicit },
        imap_fallback: Some(ImapEndpoint { host: "outlook.live.com".into(), port: 993, tls: Tls::Implicit }),
        client_id: Some("client-123".into()),
        token_url: Some("https://login.example/token".into()),
        scope: Some("imap offline_access".into()),
        smtp: Some(crate::account::SmtpEndpoint { host: "smtp.office365.com".into(), port: 587, tls: Tls::Starttls }),
        status: AccountStatus::NeedsReauth,
        status_detail: Some("the refresh token was refused".into()),
        channel: crate::account::Channel::Auto,
        channel_in_use: None,
        imap_checked_at: None,
        graph_url: Some(crate::account::presets::MICROSOFT_GRAPH_URL.into()),
        group: None,
        tags: vec![],
        proxy: None,
    }
}

fn password_account(email: &str) -> Account {
    Account {
        email: email.into(),
        provider: Provider::Imap,
        auth: AuthMethod::Password,
        imap: ImapEndpoint { host: "127.0.0.1".into(), port: 10143, tls: Tls::Starttls },
        imap_fallback: None,
        client_id: None,
        token_url: None,
        scope: None,
        smtp: None,
        status: AccountStatus::Ok,
        status_detail: None,
        channel: crate::account::Channel::Auto,
        channel_in_use: None,
        imap_checked_at: None,
        graph_url: None,
        group: None,
        tags: vec![],
        proxy: None,
    }
}

fn message(uid: u32, code: Option<&str>, received: i64) -> CachedMessage {
    CachedMessage {
        uid,
        folder: "INBOX".into(),
        message_id: Some(format!("<{uid}@example.com>")),
        from: Some("Service <noreply@service.example>".into()),
        subject: Some(format!("Message {uid}")),
        received: Some(received),
        snippet: format!("snippet {uid}"),
        code: code.map(Into::into),
        link: None,
        service: code.map(|_| "Service".into()),
        confidence: if code.is_some() { 0.9 } else { 0.0 },
        candidates: Vec::new(),
    }
}

fn state(uid_validity: u32, last_uid: u32) -> FolderState {
    FolderState { uid_validity, last_uid, synced_at: 1_700_000_000 }
}

/// Counts rows in `table` for `email`, straight from SQL, to see what cascades removed.
fn rows(store: &Store, table: &str, email: &str) -> i64 {
    store
        .read(|conn| conn.query_row(&format!("SELECT COUNT(*) FROM {table} WHERE email = ?1"), [email], |r| r.get(0)))
        .expect("count rows")
}

#[test]
fn store_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Store>();
}

#[test]
fn accounts_round_trip_with_every_field() {
    let (_dir, path, store) = temp_store();
    let oauth = oauth_account("alice@hotmail.com");
    let password = password_account("bob@example.org");
    store.upsert_account(&oauth).unwrap();
    store.upsert_account(&password).unwrap();

    assert_eq!(store.account("alice@hotmail.com").unwrap().as_ref(), Some(&oauth), "every field comes back");
    assert_eq!(store.account("bob@example.org").unwrap().as_ref(), Some(&password), "None fields stay None");
    assert_eq!(store.account("nobody@example.org").unwrap(), None, "an unknown email is not an error");
    assert_eq!(store.account_count().unwrap(), 2);

    drop(store);
    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.accounts().unwrap(), vec![oauth, password], "a reopened file keeps accounts and order");
}

#[test]
fn upsert_updates_in_place_and_keeps_the_first_added_order() {
    let (_dir, _path, store) = temp_store();
    for email in ["a@x.com", "b@x.com", "c@x.com"] {
        store.upsert_account(&password_account(email)).unwrap();
    }
    let mut changed = oauth_account("a@x.com");
    changed.scope = Some("new scope".into());
    store.upsert_account(&changed).unwrap();

    let all = store.accounts().unwrap();
    let emails: Vec<&str> = all.iter().map(|a| a.email.as_str()).collect();
    assert_eq!(emails, ["a@x.com", "b@x.com", "c@x.com"], "updating a@ must not move it to the end");
    assert_eq!(all[0], changed, "the upsert replaced every field");
    assert_eq!(store.account_count().unwrap(), 3, "an upsert of an existing email adds no row");
}

#[test]
fn set_status_records_health_and_ignores_unknown_accounts() {
    let (_dir, _path, store) = temp_store();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    store.set_status("a@x.com", AccountStatus::Error, Some("connection refused")).unwrap();
    let a = store.account("a@x.com").unwrap().unwrap();
    assert_eq!((a.status, a.status_detail.as_deref()), (AccountStatus::Error, Some("connection refused")));

    store.set_status("a@x.com", AccountStatus::Ok, None).unwrap();
    let a = store.account("a@x.com").unwrap().unwrap();
    assert_eq!((a.status, a.status_detail), (AccountStatus::Ok, None), "a passing check clears the detail");

    store.set_status("ghost@x.com", AccountStatus::Error, None).unwrap();
    assert_eq!(store.account_count().unwrap(), 1, "set_status never creates an account");
}

#[test]
fn accounts_used_most_recently_come_first_then_the_rest_in_the_order_they_were_added() {
    let (_dir, _path, store) = temp_store();
    for e in ["a@x.com", "b@x.com", "c@x.com", "d@x.com"] {
        store.upsert_account(&password_account(e)).unwrap();
    }
    store.mark_used("c@x.com", 1_000).unwrap();
    store.mark_used("b@x.com", 2_000).unwrap();
    store.mark_used("nobody@x.com", 3_000).unwrap();
    let asked: Vec<String> = ["d@x.com", "gone@x.com", "a@x.com", "b@x.com", "c@x.com"].map(String::from).to_vec();
    assert_eq!(
        store.by_recent_use(&asked).unwrap(),
        ["b@x.com", "c@x.com", "a@x.com", "d@x.com", "gone@x.com"],
        "used ones newest first, never used ones by row order, unknown ones last"
    );
}

#[test]
fn removing_an_account_cascades_to_its_folders_messages_and_codes() {
    let (_dir, _path, store) = temp_store();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    store.upsert_account(&password_account("b@x.com")).unwrap();
    for email in ["a@x.com", "b@x.com"] {
        let found =
            store.save_sync(email, "INBOX", state(1, 2), &[message(1, None, 10), message(2, Some("123456"), 20)], 100);
        assert_eq!(found.unwrap().len(), 1);
    }

    assert!(store.remove_account("a@x.com").unwrap(), "the account existed");
    for table in ["folder_state", "messages", "codes"] {
        assert_eq!(rows(&store, table, "a@x.com"), 0, "ON DELETE CASCADE must empty {table} for a@");
        assert!(rows(&store, table, "b@x.com") > 0, "b@'s {table} rows are not a@'s to delete");
    }
    assert_eq!(store.folder_state("a@x.com", "INBOX").unwrap(), None);
    assert_eq!(store.last_code_for("a@x.com").unwrap(), None);
    assert!(!store.remove_account("a@x.com").unwrap(), "a second removal finds nothing");
}

#[test]
fn save_sync_returns_only_new_codes_and_a_repeat_returns_none() {
    let (_dir, _path, store) = temp_store();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    let mut with_link = message(3, None, 30);
    with_link.link = Some("https://service.example/verify?t=1".into());
    let batch = vec![message(1, None, 10), message(2, Some("123456"), 20), with_link];

    let found = store.save_sync("a@x.com", "INBOX", state(7, 3), &batch, 1_000).unwrap();
    let uids: Vec<u32> = found.iter().map(|c| c.uid).collect();
    assert_eq!(uids, [2, 3], "a code or a link makes a codes row; a plain message does not");
    assert!(found.iter().all(|c| c.id > 0 && c.found_at == 1_000 && c.email == "a@x.com" && c.folder == "INBOX"));
    assert_eq!(found[0].code.as_deref(), Some("123456"));
    assert_eq!(found[1].link.as_deref(), Some("https://service.example/verify?t=1"));
    assert_eq!(
        store.recent_codes(10).unwrap(),
        found.iter().rev().cloned().collect::<Vec<_>>(),
        "returned rows are what was stored"
    );

    let again = store.save_sync("a@x.com", "INBOX", state(7, 3), &batch, 2_000).unwrap();
    assert!(again.is_empty(), "re-saving the same messages must not announce their codes again: {again:?}");
    assert_eq!(store.recent_codes(10).unwrap().len(), 2, "and must not duplicate history rows");

    let mut more = batch.clone();
    more.push(message(4, Some("654321"), 40));
    let next = store.save_sync("a@x.com", "INBOX", state(7, 4), &more, 3_000).unwrap();
    assert_eq!(next.iter().map(|c| c.uid).collect::<Vec<_>>(), [4], "only the new message's code is new");
    assert_eq!(store.folder_state("a@x.com", "INBOX").unwrap(), Some(state(7, 4)));
    assert_eq!(store.recent_messages("a@x.com", "INBOX", 100).unwrap().len(), 4, "messages are replaced, not doubled");
}

#[test]
fn a_code_in_another_folder_with_the_same_uid_is_a_different_code() {
    let (_dir, _path, store) = temp_store();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    let inbox = store.save_sync("a@x.com", "INBOX", state(1, 5), &[message(5, Some("111111"), 10)], 1).unwrap();
    let junk = store.save_sync("a@x.com", "Junk", state(1, 5), &[message(5, Some("222222"), 11)], 2).unwrap();
    assert_eq!((inbox.len(), junk.len()), (1, 1), "codes are unique per email, folder and uid, not per uid alone");
}

#[test]
fn a_uidvalidity_change_voids_cached_messages_but_keeps_code_history() {
    let (_dir, _path, store) = temp_store();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    store
        .save_sync("a@x.com", "INBOX", state(1, 2), &[message(1, None, 10), message(2, Some("111111"), 20)], 100)
        .unwrap();
    store.save_sync("a@x.com", "Junk", state(1, 1), &[message(1, None, 10)], 100).unwrap();

    // The server renumbered INBOX: UID 2 is now a different message with a different code.
    let found = store.save_sync("a@x.com", "INBOX", state(2, 2), &[message(2, Some("222222"), 30)], 200).unwrap();

    let cached = store.recent_messages("a@x.com", "INBOX", 10).unwrap();
    assert_eq!(cached.iter().map(|m| m.uid).collect::<Vec<_>>(), [2], "old UID 1 belonged to the void numbering");
    assert_eq!(cached[0].code.as_deref(), Some("222222"));
    assert_eq!(found.len(), 1, "a reused UID under a new UIDVALIDITY is a new message, so its code is new");
    assert_eq!(store.recent_codes(10).unwrap().len(), 2, "the codes history survives the renumbering");
    assert_eq!(store.recent_messages("a@x.com", "Junk", 10).unwrap().len(), 1, "other folders are untouched");
    assert_eq!(store.folder_state("a@x.com", "INBOX").unwrap(), Some(state(2, 2)));
}

#[test]
fn a_sync_for_an_unknown_account_fails_and_saves_nothing() {
    let (_dir, _path, store) = temp_store();
    let err = store.save_sync("ghost@x.com", "INBOX", state(1, 1), &[message(1, Some("1"), 1)], 1).unwrap_err();
    assert!(matches!(err, StoreError::Query { action: "save folder state", .. }), "the foreign key refuses: {err}");
    assert!(err.to_string().starts_with("cannot save folder state in the cache"), "{err}");
    assert!(store.recent_codes(10).unwrap().is_empty(), "the transaction rolled back");
}

#[test]
fn reads_order_newest_first_and_filter_by_arrival() {
    let (_dir, _path, store) = temp_store();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    store.upsert_account(&password_account("b@x.com")).unwrap();
    let mut no_date = message(9, None, 0);
    no_date.received = None;
    let batch = [message(1, None, 100), message(3, Some("333"), 300), message(2, Some("222"), 200), no_date];
    store.save_sync("a@x.com", "INBOX", state(1, 9), &batch, 1_000).unwrap();
    store.save_sync("b@x.com", "INBOX", state(1, 1), &[message(1, Some("999"), 50)], 2_000).unwrap();

    let recent = store.recent_messages("a@x.com", "INBOX", 2).unwrap();
    assert_eq!(recent.iter().map(|m| m.uid).collect::<Vec<_>>(), [9, 3], "highest UID first, capped at top");
    assert_eq!(recent[1], message(3, Some("333"), 300), "a message round-trips whole");

    let since = store.messages_since("a@x.com", "INBOX", 200).unwrap();
    assert_eq!(
        since.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [3, 2],
        "received >= 200, inclusive; no date is not recent"
    );

    let codes = store.recent_codes(10).unwrap();
    let order: Vec<(&str, u32)> = codes.iter().map(|c| (c.email.as_str(), c.uid)).collect();
    // Same found_at for a@'s two codes, so the later id (uid 2, inserted after uid 3) wins.
    assert_eq!(order, [("b@x.com", 1), ("a@x.com", 2), ("a@x.com", 3)], "newest found_at first, then newest id");
    assert_eq!(store.recent_codes(1).unwrap().len(), 1, "the limit is honoured");
    assert_eq!(store.last_code_for("a@x.com").unwrap().map(|c| c.uid), Some(2));
    assert_eq!(store.last_code_for("c@x.com").unwrap(), None);
}

#[test]
fn config_round_trips_and_defaults_when_absent_or_partial() {
    let (_dir, path, store) = temp_store();
    assert_eq!(store.config().unwrap(), Config::default(), "no saved settings means the defaults");

    let mut config = Config::default();
    config.pool.max_total = 7;
    config.cache.poll_interval = std::time::Duration::from_millis(1500);
    store.set_config(&config).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.config().unwrap(), config, "settings survive a reopen");

    // Settings written by another version: a field this build lacks and most fields missing.
    store
        .set_setting(CONFIG_KEY, &serde_json::json!({"pool": {"maxTotal": 3, "futureKnob": true}, "newSection": {}}))
        .unwrap();
    let loaded = store.config().unwrap();
    assert_eq!(loaded.pool.max_total, 3);
    assert_eq!(loaded.http, Config::default().http, "missing sections take their defaults");

    store.set_setting(CONFIG_KEY, &serde_json::json!({"pool": {"idleTtl": -1}})).unwrap();
    let err = store.config().unwrap_err();
    assert!(
        err.to_string().starts_with("cannot read the settings"),
        "a refused value is an error, not silent defaults: {err}"
    );

    store.set_setting("ui.theme", &serde_json::json!("dark")).unwrap();
    assert_eq!(store.setting("ui.theme").unwrap(), Some(serde_json::json!("dark")));
    assert_eq!(store.setting("missing").unwrap(), None);
}

#[test]
fn connections_use_wal_normal_sync_foreign_keys_and_a_busy_timeout() {
    let (_dir, _path, store) = temp_store();
    let check = |conn: &Connection, who: &str| {
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal", "{who}: WAL lets reads run beside the writer");
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(sync, 1, "{who}: synchronous = NORMAL (1) is enough with WAL");
        let fk: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
        assert!(fk, "{who}: cascades need foreign keys on, and they are per connection");
        let timeout: i64 = conn.pragma_query_value(None, "busy_timeout", |r| r.get(0)).unwrap();
        assert!(timeout > 0, "{who}: without a busy timeout a locked file fails at once");
    };
    store.write(|conn| check(conn, "writer"));
    store.read(|conn| check(conn, "reader"));
    let query_only: bool = store.read(|conn| conn.pragma_query_value(None, "query_only", |r| r.get(0))).unwrap();
    assert!(query_only, "the reader must not be a second writer");
}

#[test]
fn no_column_can_hold_a_secret() {
    let (_dir, _path, store) = temp_store();
    let sql: Vec<String> = store
        .read(|conn| {
            conn.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap();
    assert!(sql.iter().any(|s| s.contains("CREATE TABLE accounts")), "the scan must see the schema to prove anything");
    for text in &sql {
        let lower = text.to_lowercase();
        for word in ["token", "password", "secret", "passwd", "credential"] {
            // token_url is where to refresh, not a token.
            let hits = lower.replace("token_url", "").matches(word).count();
            assert_eq!(hits, 0, "secrets live only in the keyring, but the schema mentions {word:?}:\n{text}");
        }
    }
}

#[test]
fn a_version_1_file_upgrades_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    {
        let old = Store::open_at(&path, 1).unwrap();
        assert_eq!(old.schema_version().unwrap(), 1);
        // Rows as version 1 wrote them (today's writes fill columns added since).
        old.write(|conn| {
            conn.execute_batch(
                "INSERT INTO accounts (email, provider, auth, imap_host, imap_port, imap_tls, fallback_host,
                                       fallback_port, fallback_tls, client_id, token_url, scope, status, status_detail)
                 VALUES ('a@x.com', 'outlook', 'oauth2', 'outlook.office365.com', 993, 'implicit', 'outlook.live.com',
                         993, 'implicit', 'client-123', 'https://login.example/token', 'imap offline_access',
                         'needs-reauth', 'the refresh token was refused');
                 INSERT INTO messages (email, folder, uid, message_id, from_addr, subject, received, snippet,
                                       code, link, service, confidence)
                 VALUES ('a@x.com', 'INBOX', 1, NULL, NULL, 'Message 1', 10, 'snippet 1', '123456', NULL, NULL, 0.9);
                 INSERT INTO codes (email, folder, uid_validity, uid, code, link, service, from_addr, subject,
                                    received, found_at)
                 VALUES ('a@x.com', 'INBOX', 1, 1, '123456', NULL, NULL, NULL, 'Message 1', 10, 5);",
            )
        })
        .unwrap();
    }

    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), Store::latest_schema_version(), "opening migrates to the latest");
    assert!(Store::latest_schema_version() > 1, "this test needs a migration after v1 to prove anything");
    let indexes: i64 = store
        .read(|conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'messages_by_received'",
                [],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert_eq!(indexes, 1, "the v2 migration ran");
    assert_eq!(
        store.account("a@x.com").unwrap(),
        Some(oauth_account("a@x.com")),
        "data survives the upgrade, and an account stored before SMTP sends through its provider's server"
    );
    assert_eq!(store.last_code_for("a@x.com").unwrap().and_then(|c| c.code).as_deref(), Some("123456"));
    let cached = store.recent_messages("a@x.com", "INBOX", 1).unwrap();
    assert_eq!(cached[0].code.as_deref(), Some("123456"), "an old message reads back: {cached:?}");
    assert!(cached[0].candidates.is_empty(), "and has no candidates list, which old versions did not keep");

    drop(store);
    assert_eq!(
        Store::open(&path).unwrap().schema_version().unwrap(),
        Store::latest_schema_version(),
        "a second open is a no-op"
    );
}

#[test]
fn a_file_from_a_newer_version_is_refused() {
    let (_dir, path, store) = temp_store();
    store.write(|conn| conn.pragma_update(None, "user_version", Store::latest_schema_version() + 1)).unwrap();
    drop(store);
    let err = Store::open(&path).err().expect("an unknown schema must not be used");
    assert!(matches!(err, StoreError::Open { .. }));
    let text = err.to_string();
    assert!(text.starts_with("cannot open the cache at ") && text.contains("newer"), "{text}");
}

#[test]
fn open_creates_missing_parent_folders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("cache.sqlite3");
    let store = Store::open(&path).unwrap();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    assert!(path.exists(), "the file is created with its folders");
}

#[cfg(unix)]
#[test]
fn the_file_and_its_wal_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path, store) = temp_store();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    let wal = path.with_extension("sqlite3-wal");
    for file in [&path, &wal] {
        let mode = std::fs::metadata(file).expect("the file exists after a write").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} holds addresses and codes, so no other user may read it", file.display());
    }
}

#[test]
fn open_reports_the_path_when_the_file_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.sqlite3");
    std::fs::write(&path, vec![0x42u8; 4096]).unwrap();
    let err = Store::open(&path).err().expect("junk is not a database");
    assert!(err.to_string().contains("junk.sqlite3"), "the message names the file: {err}");
}

#[test]
fn in_memory_store_works_with_one_connection() {
    let store = Store::open_in_memory().unwrap();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    let found = store.save_sync("a@x.com", "INBOX", state(1, 1), &[message(1, Some("42"), 1)], 1).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(store.accounts().unwrap().len(), 1, "reads see writes on the shared connection");
}

#[test]
fn many_threads_and_a_second_process_write_without_busy_errors() {
    let (_dir, path, store) = temp_store();
    // A second Store on the same file stands in for the CLI running beside the app: its
    // writes contend for the file lock, which only the busy timeout resolves.
    let other = Store::open(&path).unwrap();
    let threads = 8;
    let per_thread = 25u32;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = if t % 2 == 0 { store.clone() } else { other.clone() };
            std::thread::spawn(move || -> Result<usize, StoreError> {
                let email = format!("user{t}@x.com");
                store.upsert_account(&password_account(&email))?;
                let mut new_codes = 0;
                for uid in 1..=per_thread {
                    let m = message(uid, Some(&format!("{t}{uid:04}")), i64::from(uid));
                    new_codes += store.save_sync(&email, "INBOX", state(1, uid), &[m], i64::from(uid))?.len();
                    store.set_status(&email, AccountStatus::Ok, None)?;
                    store.recent_messages(&email, "INBOX", 5)?;
                    store.accounts()?;
                }
                Ok(new_codes)
            })
        })
        .collect();
    for handle in handles {
        let new_codes = handle.join().expect("no thread panics").expect("busy writers wait instead of failing");
        assert_eq!(new_codes, per_thread as usize, "each distinct message yields exactly one new code");
    }
    assert_eq!(store.account_count().unwrap(), threads);
    assert_eq!(store.recent_codes(usize::MAX).unwrap().len(), threads * per_thread as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_runs_blocking_work_and_resumes_panics() {
    let (_dir, _path, store) = temp_store();
    store.call(|s| s.upsert_account(&password_account("a@x.com"))).await.unwrap();
    let count = store.call(|s| s.account_count()).await.unwrap();
    assert_eq!(count, 1, "call returns what the closure returns");

    let caught = tokio::spawn({
        let store = store.clone();
        async move { store.call(|_| -> () { panic!("boom in the cache") }).await }
    })
    .await
    .expect_err("the closure's panic reaches the caller");
    let payload = caught.into_panic();
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"boom in the cache"),
        "the original panic is resumed, not replaced"
    );
    assert_eq!(store.account_count().unwrap(), 1, "the store still works after a panic in a caller's closure");
}

#[test]
fn errors_say_cannot_and_what_was_being_done() {
    let err = StoreError::Query { action: "read accounts", source: rusqlite::Error::QueryReturnedNoRows };
    assert!(err.to_string().starts_with("cannot read accounts in the cache: "), "{err}");
}

#[test]
fn the_accounts_overview_has_each_accounts_newest_code_and_last_sync() {
    let (_dir, _path, store) = temp_store();
    for email in ["a@x.com", "b@x.com", "c@x.com"] {
        store.upsert_account(&password_account(email)).unwrap();
    }
    store.save_sync("a@x.com", "INBOX", state(1, 2), &[message(1, Some("111"), 10)], 1_000).unwrap();
    store.save_sync("a@x.com", "Junk", state(1, 2), &[message(2, Some("222"), 20)], 2_000).unwrap();
    store.save_sync("b@x.com", "INBOX", state(1, 1), &[message(1, None, 10)], 1_500).unwrap();

    let overview = store.account_overview().unwrap();
    let a = &overview["a@x.com"];
    assert_eq!(a.last_code.as_ref().and_then(|c| c.code.as_deref()), Some("222"), "the most recently found code");
    assert_eq!(a.last_check, Some(1_700_000_000));
    assert!(overview["b@x.com"].last_code.is_none(), "a message without a code is no code");
    assert!(!overview.contains_key("c@x.com"), "never synced, nothing to say");
}

#[test]
fn the_other_candidates_of_a_message_are_kept_with_it() {
    let store = Store::open_in_memory().unwrap();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    let mut tie = message(1, None, 1_700_000_100);
    tie.candidates = ["482913", "771204"]
        .iter()
        .map(|v| crate::extract::CodeCandidate { value: v.to_string(), ..Default::default() })
        .collect();
    store
        .save_sync("a@x.com", "INBOX", state(7, 1), &[tie.clone(), message(2, Some("123456"), 1_700_000_200)], 0)
        .unwrap();
    let cached = store.recent_messages("a@x.com", "INBOX", 10).unwrap();
    assert_eq!(cached[1].candidates, tie.candidates, "a tie keeps what automation may choose from");
    assert!(cached[0].candidates.is_empty(), "a message with one clear code stores no list");
}

#[test]
fn pruning_deletes_codes_found_and_messages_received_before_the_cutoff() {
    let store = Store::open_in_memory().unwrap();
    store.upsert_account(&password_account("a@x.com")).unwrap();
    store.save_sync("a@x.com", "INBOX", state(7, 1), &[message(1, Some("111111"), 1_000)], 1_000).unwrap();
    store.save_sync("a@x.com", "INBOX", state(7, 2), &[message(2, Some("222222"), 5_000)], 5_000).unwrap();
    assert_eq!(store.prune_history(3_000).unwrap(), (1, 1), "one code and one message were older");
    let codes: Vec<_> = store.recent_codes(10).unwrap().into_iter().filter_map(|c| c.code).collect();
    assert_eq!(codes, ["222222"], "the newer code stays");
    assert_eq!(store.recent_messages("a@x.com", "INBOX", 10).unwrap().len(), 1);
    assert_eq!(store.prune_history(3_000).unwrap(), (0, 0), "pruning again deletes nothing");
}

#[test]
fn channels_and_graph_uids_are_kept_per_account_and_folder() {
    let store = Store::open_in_memory().unwrap();
    store.upsert_account(&oauth_account("a@x.com")).unwrap();
    assert!(store.set_channel("a@x.com", crate::account::Channel::Graph).unwrap());
    store.set_channel_in_use("a@x.com", crate::account::Channel::Graph, Some(42)).unwrap();
    let a = store.account("a@x.com").unwrap().unwrap();
    assert_eq!(
        (a.channel, a.channel_in_use, a.imap_checked_at),
        (crate::account::Channel::Graph, Some(crate::account::Channel::Graph), Some(42))
    );
    // Saving the account with the same channel keeps what worked; another channel forgets it.
    store.upsert_account(&a).unwrap();
    assert_eq!(store.account("a@x.com").unwrap().unwrap().channel_in_use, Some(crate::account::Channel::Graph));
    store.upsert_account(&oauth_account("a@x.com")).unwrap();
    assert_eq!(store.account("a@x.com").unwrap().unwrap().channel_in_use, None, "the channel changed to auto");

    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(store.graph_uids("a@x.com", "inbox", &ids(&["m1", "m2"])).unwrap(), [1, 2]);
    assert_eq!(store.graph_uids("a@x.com", "inbox", &ids(&["m2", "m3"])).unwrap(), [2, 3], "known ids keep theirs");
    assert_eq!(store.graph_uids("a@x.com", "junk", &ids(&["m1"])).unwrap(), [1], "per folder");
    assert_eq!(store.graph_last_uid("a@x.com", "inbox").unwrap(), 3);
    assert_eq!(store.graph_id("a@x.com", "inbox", 2).unwrap().as_deref(), Some("m2"));
    assert_eq!(store.graph_id("a@x.com", "inbox", 9).unwrap(), None);
}

#[test]
fn groups_tags_and_proxies_are_kept_apart_from_the_account_details() {
    let (_dir, path, store) = temp_store();
    let mut a = password_account("a@x.com");
    a.group = Some("shop-1".into());
    a.tags = vec!["new".into(), "vip".into()];
    a.proxy = Some("socks5h://u@127.0.0.1:1080".into());
    store.upsert_account(&a).unwrap();
    store.upsert_account(&password_account("b@x.com")).unwrap();
    assert_eq!(store.account("a@x.com").unwrap().unwrap(), a, "group, tags and proxy read back");

    // Writing the account again without them (an update from a file that has none) keeps them.
    store.upsert_account(&password_account("a@x.com")).unwrap();
    assert_eq!(store.account("a@x.com").unwrap().unwrap(), a, "an upsert without labels keeps the old ones");

    let both = vec!["a@x.com".to_string(), "b@x.com".to_string(), "nobody@x.com".to_string()];
    assert_eq!(store.set_group(&both, Some("shop-2")).unwrap(), 2, "unknown addresses are not counted");
    assert_eq!(store.add_tags(&both, &["old".into()]).unwrap(), 2);
    assert_eq!(store.remove_tags(&both[..1], &["new".into()]).unwrap(), 1);
    store.set_group_proxy("shop-2", Some("http://127.0.0.1:8888")).unwrap();
    store.set_group_proxy("empty", Some("http://127.0.0.1:9999")).unwrap();
    let a = store.account("a@x.com").unwrap().unwrap();
    assert_eq!((a.group.as_deref(), a.tags.clone()), (Some("shop-2"), vec!["old".to_string(), "vip".to_string()]));
    assert_eq!(store.group_proxy("shop-2").unwrap().as_deref(), Some("http://127.0.0.1:8888"));
    let groups = store.groups().unwrap();
    assert_eq!(
        groups.iter().map(|g| (g.name.as_str(), g.accounts)).collect::<Vec<_>>(),
        vec![("empty", 0), ("shop-2", 2)],
        "a group with a proxy and no accounts is listed: {groups:?}"
    );
    assert_eq!(store.set_account_proxy(&both[..1], None).unwrap(), 1);
    assert_eq!(store.account("a@x.com").unwrap().unwrap().proxy, None);
    drop(store);
    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.account("b@x.com").unwrap().unwrap().tags, vec!["old".to_string()], "tags survive a reopen");
    assert!(reopened.remove_account("b@x.com").unwrap());
    assert_eq!(reopened.add_tags(&["b@x.com".to_string()], &["x".into()]).unwrap(), 0, "tags go with the account");
}
