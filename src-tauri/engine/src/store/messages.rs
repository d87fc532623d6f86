//! Folder sync state, cached messages and the codes history.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;

use super::{CachedMessage, CodeRecord, FolderState, Store, StoreError};

/// What the accounts list shows about an account's activity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountOverview {
    /// When any of its folders was last synced, in Unix seconds.
    pub last_check: Option<i64>,
    /// The newest code found in it.
    pub last_code: Option<CodeRecord>,
}

const MESSAGE_COLUMNS: &str =
    "uid, folder, message_id, from_addr, subject, received, snippet, code, link, service, confidence, candidates";

const CODE_COLUMNS: &str = "id, email, code, link, service, from_addr, subject, received, found_at, folder, uid";

/// A `usize` count as an SQL `LIMIT`; anything past `i64::MAX` means no limit anyway.
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Where the folder's sync stands, or `None` if it was never synced.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn folder_state(&self, email: &str, folder: &str) -> Result<Option<FolderState>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT uid_validity, last_uid, synced_at FROM folder_state WHERE email = ?1 AND folder = ?2",
            )?
            .query_row((email, folder), |row| {
                Ok(FolderState { uid_validity: row.get(0)?, last_uid: row.get(1)?, synced_at: row.get(2)? })
            })
            .optional()
        })
        .map_err(StoreError::query("read folder state"))
    }

    /// Records one sync of a folder, in one transaction: the folder's new state, the
    /// messages fetched (inserted, or replacing the cached copy with the same UID), and a
    /// codes-history row for each message that carries a code or a link.
    ///
    /// Returns the codes that were not in the history before, with their ids and `found_at`
    /// set to `codes_found_at`; saving the same messages again returns none. Each message is
    /// stored under `folder`, whatever its own `folder` field says.
    ///
    /// If `state.uid_validity` differs from the one stored, the folder's cached messages are
    /// deleted first: their UIDs now mean other messages. The codes history is kept.
    ///
    /// # Errors
    /// [`StoreError::Query`] if any write fails, including when `email` has no account; then
    /// nothing of this sync is saved.
    pub fn save_sync(
        &self,
        email: &str,
        folder: &str,
        state: FolderState,
        messages: &[CachedMessage],
        codes_found_at: i64,
    ) -> Result<Vec<CodeRecord>, StoreError> {
        self.save_sync_found(email, folder, state, messages, |_| codes_found_at)
    }

    /// [`Store::save_sync`], with each code's `found_at` given by `found_at` (a code that
    /// was already in the folder before is recorded as found when it arrived).
    ///
    /// # Errors
    /// As [`Store::save_sync`].
    pub fn save_sync_found(
        &self,
        email: &str,
        folder: &str,
        state: FolderState,
        messages: &[CachedMessage],
        found_at: impl Fn(&CachedMessage) -> i64,
    ) -> Result<Vec<CodeRecord>, StoreError> {
        self.write(|conn| {
            // IMMEDIATE: the transaction reads before it writes, and a deferred one could not
            // wait on the busy timeout when it upgrades to a write lock.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::query("start saving a sync"))?;

            let stored_validity: Option<u32> = tx
                .prepare_cached("SELECT uid_validity FROM folder_state WHERE email = ?1 AND folder = ?2")
                .and_then(|mut stmt| stmt.query_row((email, folder), |row| row.get(0)).optional())
                .map_err(StoreError::query("read folder state"))?;
            if stored_validity.is_some_and(|v| v != state.uid_validity) {
                tx.prepare_cached("DELETE FROM messages WHERE email = ?1 AND folder = ?2")
                    .and_then(|mut stmt| stmt.execute((email, folder)))
                    .map_err(StoreError::query("void messages of a changed UIDVALIDITY"))?;
            }

            tx.prepare_cached(
                "INSERT INTO folder_state (email, folder, uid_validity, last_uid, synced_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (email, folder) DO UPDATE SET
                     uid_validity = excluded.uid_validity, last_uid = excluded.last_uid,
                     synced_at = excluded.synced_at",
            )
            .and_then(|mut stmt| stmt.execute((email, folder, state.uid_validity, state.last_uid, state.synced_at)))
            .map_err(StoreError::query("save folder state"))?;

            let mut new_codes = Vec::new();
            {
                let mut save_message = tx
                    .prepare_cached(
                        "INSERT INTO messages (email, folder, uid, message_id, from_addr, subject, received, snippet,
                                               code, link, service, confidence, candidates)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                         ON CONFLICT (email, folder, uid) DO UPDATE SET
                             message_id = excluded.message_id, from_addr = excluded.from_addr,
                             subject = excluded.subject, received = excluded.received, snippet = excluded.snippet,
                             code = excluded.code, link = excluded.link, service = excluded.service,
                             confidence = excluded.confidence, candidates = excluded.candidates",
                    )
                    .map_err(StoreError::query("save messages"))?;
                let mut save_code = tx
                    .prepare_cached(
                        "INSERT INTO codes (email, folder, uid_validity, uid, code, link, service, from_addr, subject,
                                            received, found_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                         ON CONFLICT (email, folder, uid_validity, uid) DO NOTHING",
                    )
                    .map_err(StoreError::query("save codes"))?;

                for m in messages {
                    save_message
                        .execute(rusqlite::params![
                            email,
                            folder,
                            m.uid,
                            m.message_id,
                            m.from,
                            m.subject,
                            m.received,
                            m.snippet,
                            m.code,
                            m.link,
                            m.service,
                            // SQLite stores NaN as NULL, which the column refuses.
                            if m.confidence.is_nan() { 0.0 } else { f64::from(m.confidence) },
                            // Only when there is more than the code itself to choose from.
                            (m.candidates.len() > 1).then(|| serde_json::to_string(&m.candidates).unwrap_or_default()),
                        ])
                        .map_err(StoreError::query("save messages"))?;

                    if m.code.is_none() && m.link.is_none() {
                        continue;
                    }
                    let codes_found_at = found_at(m);
                    let inserted = save_code
                        .execute(rusqlite::params![
                            email,
                            folder,
                            state.uid_validity,
                            m.uid,
                            m.code,
                            m.link,
                            m.service,
                            m.from,
                            m.subject,
                            m.received,
                            codes_found_at,
                        ])
                        .map_err(StoreError::query("save codes"))?;
                    if inserted == 1 {
                        new_codes.push(CodeRecord::from_message(
                            tx.last_insert_rowid(),
                            email,
                            folder,
                            m,
                            codes_found_at,
                        ));
                    }
                }
            }

            tx.commit().map_err(StoreError::query("save a sync"))?;
            Ok(new_codes)
        })
    }

    /// The folder's cached messages, newest (highest UID) first, at most `top`.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn recent_messages(&self, email: &str, folder: &str, top: usize) -> Result<Vec<CachedMessage>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE email = ?1 AND folder = ?2 ORDER BY uid DESC LIMIT ?3"
            ))?
            .query_map((email, folder, sql_limit(top)), message_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::query("read messages"))
    }

    /// The folder's cached messages that arrived at or after `received_at_or_after` (Unix
    /// seconds), newest (highest UID) first: what waiting for a code looks at. Messages with
    /// no arrival time are left out.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn messages_since(
        &self,
        email: &str,
        folder: &str,
        received_at_or_after: i64,
    ) -> Result<Vec<CachedMessage>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE email = ?1 AND folder = ?2 AND received >= ?3 ORDER BY uid DESC"
            ))?
            .query_map((email, folder, received_at_or_after), message_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::query("read messages"))
    }

    /// The codes history across all accounts, most recently found first, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn recent_codes(&self, limit: usize) -> Result<Vec<CodeRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {CODE_COLUMNS} FROM codes ORDER BY found_at DESC, id DESC LIMIT ?1"))?
                .query_map([sql_limit(limit)], code_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::query("read codes"))
    }

    /// For every account at once: when its folders were last synced and its newest code.
    /// One query, so that the accounts list stays quick with thousands of accounts.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn account_overview(&self) -> Result<HashMap<String, AccountOverview>, StoreError> {
        self.read(|conn| {
            let mut map = HashMap::new();
            let mut synced = conn.prepare_cached("SELECT email, MAX(synced_at) FROM folder_state GROUP BY email")?;
            for row in synced.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?)))? {
                let (email, at) = row?;
                map.entry(email).or_insert_with(AccountOverview::default).last_check = at;
            }
            // The newest code per account: one index seek (codes_by_account) per account,
            // however long the history is.
            let mut codes = conn.prepare_cached(&format!(
                "SELECT {CODE_COLUMNS} FROM codes WHERE id IN (
                     SELECT (SELECT id FROM codes c WHERE c.email = a.email ORDER BY found_at DESC, id DESC LIMIT 1)
                     FROM accounts a)"
            ))?;
            for row in codes.query_map([], code_from_row)? {
                let code = row?;
                let email = code.email.clone();
                map.entry(email).or_insert_with(AccountOverview::default).last_code = Some(code);
            }
            Ok(map)
        })
        .map_err(StoreError::query("read the accounts overview"))
    }

    /// Deletes the codes found before `before` and the cached messages that arrived before
    /// it (Unix seconds); returns how many of each went.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the delete fails; then nothing is deleted.
    pub fn prune_history(&self, before: i64) -> Result<(usize, usize), StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let codes = tx.execute("DELETE FROM codes WHERE found_at < ?1", [before])?;
            let messages = tx.execute("DELETE FROM messages WHERE received < ?1", [before])?;
            tx.commit()?;
            Ok((codes, messages))
        })
        .map_err(StoreError::query("prune the history"))
    }

    /// The code most recently found for the account, if any.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn last_code_for(&self, email: &str) -> Result<Option<CodeRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {CODE_COLUMNS} FROM codes WHERE email = ?1 ORDER BY found_at DESC, id DESC LIMIT 1"
            ))?
            .query_row([email], code_from_row)
            .optional()
        })
        .map_err(StoreError::query("read codes"))
    }
}

/// Builds a message from a row selected with [`MESSAGE_COLUMNS`].
fn message_from_row(row: &Row<'_>) -> rusqlite::Result<CachedMessage> {
    Ok(CachedMessage {
        uid: row.get(0)?,
        folder: row.get(1)?,
        message_id: row.get(2)?,
        from: row.get(3)?,
        subject: row.get(4)?,
        received: row.get(5)?,
        snippet: row.get(6)?,
        code: row.get(7)?,
        link: row.get(8)?,
        service: row.get(9)?,
        confidence: row.get::<_, f64>(10)? as f32,
        candidates: row
            .get::<_, Option<String>>(11)?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default(),
    })
}

/// Builds a code record from a row selected with [`CODE_COLUMNS`].
fn code_from_row(row: &Row<'_>) -> rusqlite::Result<CodeRecord> {
    Ok(CodeRecord {
        id: row.get(0)?,
        email: row.get(1)?,
        code: row.get(2)?,
        link: row.get(3)?,
        service: row.get(4)?,
        from: row.get(5)?,
        subject: row.get(6)?,
        received: row.get(7)?,
        found_at: row.get(8)?,
        folder: row.get(9)?,
        uid: row.get(10)?,
    })
}
