//! The SQLite cache: what Mailwatch remembers between runs, minus every secret.
//!
//! The engine keeps accounts, each folder's sync position, recent message headers with what
//! extraction found in them, the history of codes found, and settings here, so the app starts
//! with its accounts and last codes on screen and asks servers only for what is new.
//!
//! What it promises:
//!
//! - **No secrets.** No table has a column for a token or a password; those stay in the OS
//!   keyring ([`crate::secrets`]). Message bodies are not kept either, only a snippet.
//! - **One writer.** Every write goes through one connection behind a [`std::sync::Mutex`];
//!   reads use a second connection, so with WAL they neither wait for writes nor block them.
//!   A `busy_timeout` covers another process (the CLI) writing to the same file.
//! - **Blocking calls, async callers.** Every method blocks on SQLite; async code goes
//!   through [`Store::call`], which runs the work on Tokio's blocking pool. No lock is ever
//!   held across an `.await`.
//! - **Atomic syncs.** [`Store::save_sync`] writes a folder's state, its messages and the
//!   codes they carry in one transaction, and returns exactly the codes that are new, which
//!   is what the engine announces as "code found".
//! - **Versioned schema.** `PRAGMA user_version` and an append-only list of migrations
//!   (`schema.rs`); opening a file brings it up to date, and deleting an account cascades to
//!   its folder state, messages and codes.

mod accounts;
mod batch;
mod labels;
mod messages;

pub use batch::TokenActivity;
pub use labels::GroupInfo;
pub use messages::AccountOverview;
mod schema;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// Where a folder's incremental sync stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderState {
    /// The folder's UIDVALIDITY when `last_uid` was seen; a change voids the cache.
    pub uid_validity: u32,
    /// Highest UID fetched so far.
    pub last_uid: u32,
    /// When the folder was last asked, in Unix seconds.
    pub synced_at: i64,
}

/// A message as the cache keeps it: headers, a snippet and what extraction found. No body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedMessage {
    /// IMAP UID within the folder.
    pub uid: u32,
    /// Folder name as the server spells it.
    pub folder: String,
    /// Message-ID header.
    pub message_id: Option<String>,
    /// From header, decoded.
    pub from: Option<String>,
    /// Subject, decoded.
    pub subject: Option<String>,
    /// INTERNALDATE (arrival) in Unix seconds.
    pub received: Option<i64>,
    /// The first visible text, at most a few hundred characters.
    pub snippet: String,
    /// The verification code found, if any.
    pub code: Option<String>,
    /// The verification link found, if any.
    pub link: Option<String>,
    /// The service recognised.
    pub service: Option<String>,
    /// Extraction confidence, 0 to 1.
    pub confidence: f32,
    /// Every value that scored as a possible code, best first (stored only when there is
    /// more than one), so automation can choose when `code` is `None` because of a tie.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<crate::extract::CodeCandidate>,
}

/// One found code, for the codes feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeRecord {
    /// Row id.
    pub id: i64,
    /// Account it arrived in.
    pub email: String,
    /// The code.
    pub code: Option<String>,
    /// The link.
    pub link: Option<String>,
    /// The service.
    pub service: Option<String>,
    /// Sender.
    pub from: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Arrival, Unix seconds.
    pub received: Option<i64>,
    /// When Mailwatch found it, Unix seconds.
    pub found_at: i64,
    /// Folder it was in.
    pub folder: String,
    /// UID within the folder.
    pub uid: u32,
}

impl CodeRecord {
    /// The record for a message that carries a code or link; `id` is the history's row id
    /// (0 when the row is not new).
    pub fn from_message(id: i64, email: &str, folder: &str, m: &CachedMessage, found_at: i64) -> CodeRecord {
        CodeRecord {
            id,
            email: email.to_string(),
            code: m.code.clone(),
            link: m.link.clone(),
            service: m.service.clone(),
            from: m.from.clone(),
            subject: m.subject.clone(),
            received: m.received,
            found_at,
            folder: folder.to_string(),
            uid: m.uid,
        }
    }
}

/// Why the cache could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Opening or migrating the file failed.
    #[error("cannot open the cache at {path}: {source}")]
    Open {
        /// The database file.
        path: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A query failed.
    #[error("cannot {action} in the cache: {source}")]
    Query {
        /// What was being done, as a verb phrase.
        action: &'static str,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Builds the mapper for `map_err` that names what was being done.
    fn query(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| StoreError::Query { action, source }
    }

    fn open(path: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Open { path: path.to_string(), source }
    }
}

/// The settings key [`Store::config`] and [`Store::set_config`] use for the whole [`Config`].
pub const CONFIG_KEY: &str = "config";

/// Handle to the cache; cheap to clone.
///
/// Clones share the same connections, so any number of tasks and threads may hold one.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Connections>,
}

/// The two connections behind a [`Store`].
struct Connections {
    /// The only connection that writes.
    writer: Mutex<Connection>,
    /// A query-only connection for reads; `None` for an in-memory database, which a second
    /// connection could not see, so reads share the writer there.
    reader: Option<Mutex<Connection>>,
}

/// Takes a connection's lock even if a panic poisoned it: the panic can only have come from
/// inside a method, where an open transaction rolls back as it unwinds, so the connection is
/// still sound.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Creates the cache file readable by its owner only, if it does not exist yet: it holds
/// addresses, subjects and recent codes. SQLite gives its `-wal` and `-shm` files the same
/// permissions. An empty file is a valid empty database.
#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Elsewhere the file inherits the permissions of the user's data folder.
#[cfg(not(unix))]
fn create_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

impl Store {
    /// Opens the cache file at `path`, creating it and its parent folders if needed, and
    /// brings its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Open`] when the folder cannot be created, the file cannot be opened or is
    /// not a database, or a migration fails (a file from a newer Mailwatch is refused).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_at(path, schema::LATEST)
    }

    /// Opens `path` migrated only up to `version`, to build old files in tests.
    fn open_at(path: &Path, version: u32) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let io_failure = |what: String, e: std::io::Error| StoreError::Open {
            path: shown.clone(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("{what}: {e}")),
            ),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| io_failure(format!("cannot create the folder {}", parent.display()), e))?;
        }
        create_private(path).map_err(|e| io_failure("cannot create the file".to_string(), e))?;

        let mut writer = Connection::open(path).map_err(StoreError::open(&shown))?;
        schema::configure(&writer).map_err(StoreError::open(&shown))?;
        let mode = schema::enable_wal(&writer).map_err(StoreError::open(&shown))?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Some file systems (network shares) cannot do WAL; the cache still works, with
            // reads and writes taking turns.
            tracing::warn!(journal_mode = %mode, "the cache could not switch to WAL");
        }
        schema::migrate_to(&mut writer, version).map_err(StoreError::open(&shown))?;

        let reader =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .and_then(|conn| {
                    schema::configure(&conn)?;
                    conn.pragma_update(None, "query_only", true)?;
                    Ok(conn)
                })
                .map_err(StoreError::open(&shown))?;

        Ok(Store { inner: Arc::new(Connections { writer: Mutex::new(writer), reader: Some(Mutex::new(reader)) }) })
    }

    /// Opens a private in-memory cache, for tests; it vanishes when the last clone is dropped.
    ///
    /// # Errors
    /// [`StoreError::Open`] if SQLite cannot create the schema.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let shown = ":memory:";
        let mut conn = Connection::open_in_memory().map_err(StoreError::open(shown))?;
        schema::configure(&conn).map_err(StoreError::open(shown))?;
        schema::migrate_to(&mut conn, schema::LATEST).map_err(StoreError::open(shown))?;
        Ok(Store { inner: Arc::new(Connections { writer: Mutex::new(conn), reader: None }) })
    }

    /// Runs `f(&store)` on Tokio's blocking pool and returns what it returns; the way async
    /// code uses the cache, since every method blocks on SQLite.
    ///
    /// # Panics
    /// If `f` panics, the panic is resumed in the caller. Panics too if the runtime is
    /// shutting down and drops the task before it runs.
    pub async fn call<R: Send + 'static>(&self, f: impl FnOnce(&Store) -> R + Send + 'static) -> R {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(value) => value,
            Err(err) => match err.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(err) => panic!("the cache task did not run: {err}"),
            },
        }
    }

    /// The schema version of the open database (the number of migrations applied).
    ///
    /// # Errors
    /// [`StoreError::Query`] if SQLite cannot read it.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.read(schema::version).map_err(StoreError::query("read the schema version"))
    }

    /// The schema version this build migrates files to.
    pub fn latest_schema_version() -> u32 {
        schema::LATEST
    }

    /// The engine's settings, or [`Config::default()`] if none were saved. Fields missing
    /// from the stored JSON take their defaults and unknown ones are ignored, so settings
    /// saved by an older or newer Mailwatch still load.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the row cannot be read or holds a value `Config` refuses
    /// (such as a negative duration).
    pub fn config(&self) -> Result<Config, StoreError> {
        match self.setting(CONFIG_KEY)? {
            None => Ok(Config::default()),
            Some(value) => serde_json::from_value(value).map_err(|e| StoreError::Query {
                action: "read the settings",
                source: rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)),
            }),
        }
    }

    /// Saves the engine's settings, replacing what was saved before.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails.
    pub fn set_config(&self, config: &Config) -> Result<(), StoreError> {
        let value = serde_json::to_value(config).map_err(|e| StoreError::Query {
            action: "save the settings",
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })?;
        self.set_setting(CONFIG_KEY, &value)
    }

    /// The JSON value saved under `key`, if any.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the row cannot be read or is not valid JSON.
    pub fn setting(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = self
            .read(|conn| {
                conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                    .query_row([key], |row| row.get(0))
                    .optional()
            })
            .map_err(StoreError::query("read the settings"))?;
        text.map(|t| serde_json::from_str(&t)).transpose().map_err(|e| StoreError::Query {
            action: "read the settings",
            source: rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)),
        })
    }

    /// Saves `value` under `key`, replacing what was there.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails.
    pub fn set_setting(&self, key: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute((key, value.to_string()))
        })
        .map(drop)
        .map_err(StoreError::query("save the settings"))
    }

    /// Runs `f` with the write connection, holding its lock for the duration.
    fn write<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut lock(&self.inner.writer))
    }

    /// Runs `f` with the read connection (the writer for an in-memory database).
    fn read<R>(&self, f: impl FnOnce(&Connection) -> R) -> R {
        match &self.inner.reader {
            Some(reader) => f(&lock(reader)),
            None => f(&lock(&self.inner.writer)),
        }
    }
}
