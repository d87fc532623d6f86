//! The cache's schema as an ordered list of migrations, and the per-connection settings.
//!
//! `PRAGMA user_version` records how many migrations a file has had. Opening a file applies
//! the missing ones in order, each in its own transaction together with the version bump, so
//! a crash mid-upgrade leaves the file at the last complete version. Migrations are only ever
//! appended: editing one that has shipped would leave existing files with a different schema
//! from new ones.
//!
//! No table has a column for a token, a password or any other secret; those live only in the
//! OS keyring (see [`crate::secrets`]), and a test scans this schema to keep it that way.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

/// Migration `i` (0-based) takes a file from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // v1: the tables. Child rows name their account by email (the account's identity in
    // every API), and go with it through ON DELETE CASCADE.
    r#"
    CREATE TABLE accounts (
        -- Rowid order is the order accounts were first added; an upsert keeps the row.
        id             INTEGER PRIMARY KEY,
        email          TEXT NOT NULL UNIQUE,
        provider       TEXT NOT NULL,
        auth           TEXT NOT NULL,
        imap_host      TEXT NOT NULL,
        imap_port      INTEGER NOT NULL,
        imap_tls       TEXT NOT NULL,
        fallback_host  TEXT,
        fallback_port  INTEGER,
        fallback_tls   TEXT,
        client_id      TEXT,
        token_url      TEXT,
        scope          TEXT,
        status         TEXT NOT NULL DEFAULT 'ok',
        status_detail  TEXT
    );

    CREATE TABLE folder_state (
        email          TEXT NOT NULL REFERENCES accounts(email) ON DELETE CASCADE ON UPDATE CASCADE,
        folder         TEXT NOT NULL,
        uid_validity   INTEGER NOT NULL,
        last_uid       INTEGER NOT NULL,
        synced_at      INTEGER NOT NULL,
        PRIMARY KEY (email, folder)
    ) WITHOUT ROWID;

    CREATE TABLE messages (
        email          TEXT NOT NULL REFERENCES accounts(email) ON DELETE CASCADE ON UPDATE CASCADE,
        folder         TEXT NOT NULL,
        uid            INTEGER NOT NULL,
        message_id     TEXT,
        from_addr      TEXT,
        subject        TEXT,
        received       INTEGER,
        snippet        TEXT NOT NULL,
        code           TEXT,
        link           TEXT,
        service        TEXT,
        confidence     REAL NOT NULL,
        PRIMARY KEY (email, folder, uid)
    ) WITHOUT ROWID;

    -- The codes feed outlives the message cache: a UIDVALIDITY change voids cached messages
    -- but not the history of codes found. uid_validity is part of the key so that a new
    -- message reusing an old UID after such a change is not mistaken for a repeat.
    CREATE TABLE codes (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        email          TEXT NOT NULL REFERENCES accounts(email) ON DELETE CASCADE ON UPDATE CASCADE,
        folder         TEXT NOT NULL,
        uid_validity   INTEGER NOT NULL,
        uid            INTEGER NOT NULL,
        code           TEXT,
        link           TEXT,
        service        TEXT,
        from_addr      TEXT,
        subject        TEXT,
        received       INTEGER,
        found_at       INTEGER NOT NULL,
        UNIQUE (email, folder, uid_validity, uid)
    );

    CREATE TABLE settings (
        key            TEXT PRIMARY KEY,
        value          TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // v2: indexes for the read paths that scan by time: waiting for a code (messages that
    // arrived after a moment) and the codes feed (newest first, overall and per account).
    r#"
    CREATE INDEX messages_by_received ON messages (email, folder, received);
    CREATE INDEX codes_by_found_at ON codes (found_at, id);
    CREATE INDEX codes_by_account ON codes (email, found_at, id);
    "#,
    // v3: when each account's refresh token was last exchanged, so the token keeper can keep
    // rarely used tokens alive (Microsoft's lapse after 90 days unused).
    r#"
    CREATE TABLE refreshes (
        email          TEXT PRIMARY KEY REFERENCES accounts(email) ON DELETE CASCADE ON UPDATE CASCADE,
        refreshed_at   INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    r#"
    -- What else could have been the code, as JSON; NULL when only the code itself scored.
    ALTER TABLE messages ADD COLUMN candidates TEXT;
    "#,
    // v5: where each account sends mail from. NULL in rows written before: such an account
    // takes its provider's or its IMAP host's submission server when read.
    r#"
    ALTER TABLE accounts ADD COLUMN smtp_host TEXT;
    ALTER TABLE accounts ADD COLUMN smtp_port INTEGER;
    ALTER TABLE accounts ADD COLUMN smtp_tls TEXT;
    "#,
    // v6: when the user last used each account (waited on it, opened a message, sent from
    // it), Unix seconds; NULL until then. The watcher starts recently used accounts first.
    r#"
    ALTER TABLE accounts ADD COLUMN used_at INTEGER;
    "#,
    // v7: how each Outlook account's mail is read: the user's channel (auto, imap, graph), the
    // one that worked last for an auto account and when IMAP was last tried, and Graph's
    // base URL. Graph's message ids get UIDs of the cache's own, in the order they were
    // first seen, so its messages and codes sit in the same tables as IMAP's.
    r#"
    ALTER TABLE accounts ADD COLUMN channel TEXT NOT NULL DEFAULT 'auto';
    ALTER TABLE accounts ADD COLUMN channel_in_use TEXT;
    ALTER TABLE accounts ADD COLUMN imap_checked_at INTEGER;
    ALTER TABLE accounts ADD COLUMN graph_url TEXT;
    CREATE TABLE graph_ids (
        email          TEXT NOT NULL REFERENCES accounts(email) ON DELETE CASCADE ON UPDATE CASCADE,
        folder         TEXT NOT NULL,
        uid            INTEGER NOT NULL,
        graph_id       TEXT NOT NULL,
        PRIMARY KEY (email, folder, uid),
        UNIQUE (email, folder, graph_id)
    ) WITHOUT ROWID;
    "#,
    // v8: groups, tags and proxies. A proxy is a URL without its password (the password lives
    // in the keyring); an account's own proxy wins over its group's.
    r#"
    ALTER TABLE accounts ADD COLUMN group_name TEXT;
    ALTER TABLE accounts ADD COLUMN proxy_url TEXT;
    CREATE INDEX accounts_by_group ON accounts (group_name);
    CREATE TABLE account_tags (
        email  TEXT NOT NULL REFERENCES accounts(email) ON DELETE CASCADE ON UPDATE CASCADE,
        tag    TEXT NOT NULL,
        PRIMARY KEY (email, tag)
    ) WITHOUT ROWID;
    CREATE INDEX account_tags_by_tag ON account_tags (tag);
    CREATE TABLE account_groups (
        name       TEXT PRIMARY KEY,
        proxy_url  TEXT
    ) WITHOUT ROWID;
    "#,
];

/// The version a fully migrated file has.
pub(super) const LATEST: u32 = MIGRATIONS.len() as u32;

/// How long a statement waits for a lock held by another connection (the reader during a
/// checkpoint, or another process such as the CLI on the same file) before it gives up.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings every connection needs: they are per connection, not stored in the file.
pub(super) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // With WAL, NORMAL is durable against application crashes and only a power cut can lose
    // the last transactions, which a cache can refetch.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// Turns WAL on and returns the journal mode SQLite settled on ("memory" for an in-memory
/// database, which has no WAL).
pub(super) fn enable_wal(conn: &Connection) -> rusqlite::Result<String> {
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
}

/// The file's schema version.
pub(super) fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Applies the migrations after the file's version, up to `target`.
///
/// A file written by a newer Mailwatch (version above [`LATEST`]) is refused rather than
/// used with a schema this build does not know.
pub(super) fn migrate_to(conn: &mut Connection, target: u32) -> rusqlite::Result<()> {
    let current = version(conn)?;
    if current > LATEST {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!(
                "the cache has schema version {current}, newer than the {LATEST} this Mailwatch knows; \
                 update Mailwatch or move the file away"
            )),
        ));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().take(target as usize).skip(current as usize) {
        // IMMEDIATE takes the write lock up front, so two processes opening an old file at
        // once queue on the busy timeout instead of both migrating.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while this one waited for the lock.
        if version(&tx)? > index as u32 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as u32 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
