//! Accounts in the cache: everything about a mailbox except its secret.

use std::str::FromStr;

use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Row};

use super::{Store, StoreError};
use crate::account::{Account, AccountStatus, AuthMethod, Channel, ImapEndpoint, Provider, SmtpEndpoint, Tls, presets};

const COLUMNS: &str = "email, provider, auth, imap_host, imap_port, imap_tls, fallback_host, fallback_port, \
                       fallback_tls, client_id, token_url, scope, status, status_detail, smtp_host, smtp_port, smtp_tls, \
                       channel, channel_in_use, imap_checked_at, graph_url, group_name, proxy_url, \
                       (SELECT group_concat(tag, char(10)) FROM account_tags t WHERE t.email = accounts.email)";

impl Store {
    /// Adds the account, or updates every field of the one with the same email. An update
    /// keeps the account's place in [`Store::accounts`].
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails.
    pub fn upsert_account(&self, account: &Account) -> Result<(), StoreError> {
        self.write(|conn| upsert(conn, account, None)).map_err(StoreError::query("save the account"))
    }

    /// The account with this email, if there is one.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails or the row holds a value this build does not
    /// know (such as an unknown provider).
    pub fn account(&self, email: &str) -> Result<Option<Account>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM accounts WHERE email = ?1"))?
                .query_row([email], account_from_row)
                .optional()
        })
        .map_err(StoreError::query("read the account"))
    }

    /// Every account, in the order they were first added.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails or a row holds a value this build does not know.
    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM accounts ORDER BY id"))?
                .query_map([], account_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::query("read accounts"))
    }

    /// How many accounts there are.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn account_count(&self) -> Result<usize, StoreError> {
        self.read(|conn| conn.query_row("SELECT COUNT(*) FROM accounts", [], |row| row.get::<_, i64>(0)))
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(StoreError::query("count accounts"))
    }

    /// Removes the account with its folder state, cached messages and codes. Returns whether
    /// it existed.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the delete fails.
    pub fn remove_account(&self, email: &str) -> Result<bool, StoreError> {
        self.write(|conn| conn.prepare_cached("DELETE FROM accounts WHERE email = ?1")?.execute([email]))
            .map(|n| n > 0)
            .map_err(StoreError::query("remove the account"))
    }

    /// Records the account's health as last seen, with what went wrong in words. Does nothing
    /// for an email that has no account.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails.
    pub fn set_status(&self, email: &str, status: AccountStatus, detail: Option<&str>) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached("UPDATE accounts SET status = ?2, status_detail = ?3 WHERE email = ?1")?.execute((
                email,
                status.as_str(),
                detail,
            ))
        })
        .map(drop)
        .map_err(StoreError::query("save the account status"))
    }

    /// Records that the user used `email` at `at` (Unix seconds).
    ///
    /// # Errors
    /// [`StoreError::Query`] if the update fails.
    pub fn mark_used(&self, email: &str, at: i64) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached("UPDATE accounts SET used_at = ?2 WHERE email = ?1")?.execute((email, at))
        })
        .map(drop)
        .map_err(StoreError::query("record when the account was used"))
    }

    /// `emails` with the most recently used first; accounts never used follow in the order
    /// they were added, and addresses not in the cache come last, in the order given.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn by_recent_use(&self, emails: &[String]) -> Result<Vec<String>, StoreError> {
        let known: std::collections::HashMap<String, (Option<i64>, i64)> = self
            .read(|conn| {
                let mut q = conn.prepare_cached("SELECT email, used_at, id FROM accounts")?;
                q.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?
                    .collect::<rusqlite::Result<std::collections::HashMap<_, _>>>()
            })
            .map_err(StoreError::query("read when the accounts were used"))?;
        let mut v: Vec<(usize, &String)> = emails.iter().enumerate().collect();
        v.sort_by_key(|(i, e)| match known.get(*e) {
            Some((Some(used), id)) => (0, -used, *id, *i),
            Some((None, id)) => (1, 0, *id, *i),
            None => (2, 0, 0, *i),
        });
        Ok(v.into_iter().map(|(_, e)| e.clone()).collect())
    }
}

impl Store {
    /// Changes how the account's mail is read; the channel that worked last is forgotten.
    /// Returns whether the account exists.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails.
    pub fn set_channel(&self, email: &str, channel: Channel) -> Result<bool, StoreError> {
        self.write(|conn| {
            conn.prepare_cached(
                "UPDATE accounts SET channel = ?2, channel_in_use = NULL, imap_checked_at = NULL WHERE email = ?1",
            )?
            .execute((email, channel.as_str()))
        })
        .map(|n| n > 0)
        .map_err(StoreError::query("save the account's channel"))
    }

    /// Records the channel that worked for an account, and when IMAP was tried if it was.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails.
    pub fn set_channel_in_use(
        &self,
        email: &str,
        in_use: Channel,
        imap_checked_at: Option<i64>,
    ) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached(
                "UPDATE accounts SET channel_in_use = ?2, imap_checked_at = COALESCE(?3, imap_checked_at)
                 WHERE email = ?1",
            )?
            .execute((email, in_use.as_str(), imap_checked_at))
        })
        .map(drop)
        .map_err(StoreError::query("save the account's channel in use"))
    }

    /// The cache's UIDs for Graph message ids of a folder, in the order given: known ids keep
    /// theirs, new ones get the next ones. Give ids oldest first, so UIDs follow arrival.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read or write fails.
    pub fn graph_uids(&self, email: &str, folder: &str, ids: &[String]) -> Result<Vec<u32>, StoreError> {
        self.write(|conn| {
            let tx = conn.unchecked_transaction()?;
            let mut uids = Vec::with_capacity(ids.len());
            {
                let mut find =
                    tx.prepare_cached("SELECT uid FROM graph_ids WHERE email = ?1 AND folder = ?2 AND graph_id = ?3")?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO graph_ids (email, folder, uid, graph_id)
                     SELECT ?1, ?2, COALESCE(MAX(uid), 0) + 1, ?3 FROM graph_ids WHERE email = ?1 AND folder = ?2
                     RETURNING uid",
                )?;
                for id in ids {
                    let uid = match find.query_row((email, folder, id), |r| r.get::<_, u32>(0)).optional()? {
                        Some(uid) => uid,
                        None => insert.query_row((email, folder, id), |r| r.get::<_, u32>(0))?,
                    };
                    uids.push(uid);
                }
            }
            tx.commit()?;
            Ok(uids)
        })
        .map_err(StoreError::query("map Graph message ids"))
    }

    /// The highest UID given to a Graph message id of the folder (0 when none).
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn graph_last_uid(&self, email: &str, folder: &str) -> Result<u32, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT COALESCE(MAX(uid), 0) FROM graph_ids WHERE email = ?1 AND folder = ?2")?
                .query_row((email, folder), |r| r.get::<_, u32>(0))
        })
        .map_err(StoreError::query("read Graph message ids"))
    }

    /// The Graph message id behind a UID of the folder.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn graph_id(&self, email: &str, folder: &str, uid: u32) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT graph_id FROM graph_ids WHERE email = ?1 AND folder = ?2 AND uid = ?3")?
                .query_row((email, folder, uid), |r| r.get(0))
                .optional()
        })
        .map_err(StoreError::query("read Graph message ids"))
    }
}

/// Adds the account or updates the one with the same email; shared by the single and the
/// batch write. A new account takes row id `id` (its place in [`Store::accounts`]) when that
/// is given and free, else the next one at the end; an update keeps its row.
pub(super) fn upsert(conn: &rusqlite::Connection, account: &Account, id: Option<i64>) -> rusqlite::Result<()> {
    let fallback = account.imap_fallback.as_ref();
    let smtp = account.smtp.as_ref();
    conn.prepare_cached(
        "INSERT INTO accounts (id, email, provider, auth, imap_host, imap_port, imap_tls, fallback_host,
                                   fallback_port, fallback_tls, client_id, token_url, scope, status, status_detail,
                                   smtp_host, smtp_port, smtp_tls, channel, graph_url, group_name, proxy_url)
             VALUES (CASE WHEN ?15 IS NULL OR EXISTS (SELECT 1 FROM accounts WHERE id = ?15) THEN NULL ELSE ?15 END,
                     ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
             ON CONFLICT (email) DO UPDATE SET
                 provider = excluded.provider, auth = excluded.auth,
                 imap_host = excluded.imap_host, imap_port = excluded.imap_port, imap_tls = excluded.imap_tls,
                 fallback_host = excluded.fallback_host, fallback_port = excluded.fallback_port,
                 fallback_tls = excluded.fallback_tls, client_id = excluded.client_id,
                 token_url = excluded.token_url, scope = excluded.scope,
                 status = excluded.status, status_detail = excluded.status_detail,
                 smtp_host = excluded.smtp_host, smtp_port = excluded.smtp_port, smtp_tls = excluded.smtp_tls,
                 channel_in_use = CASE WHEN channel = excluded.channel THEN channel_in_use END,
                 channel = excluded.channel, graph_url = excluded.graph_url,
                 group_name = COALESCE(excluded.group_name, accounts.group_name),
                 proxy_url = COALESCE(excluded.proxy_url, accounts.proxy_url)",
    )?
    .execute(rusqlite::params![
        account.email,
        account.provider.as_str(),
        account.auth.as_str(),
        account.imap.host,
        account.imap.port,
        account.imap.tls.as_str(),
        fallback.map(|e| &e.host),
        fallback.map(|e| e.port),
        fallback.map(|e| e.tls.as_str()),
        account.client_id,
        account.token_url,
        account.scope,
        account.status.as_str(),
        account.status_detail,
        id,
        smtp.map(|e| &e.host),
        smtp.map(|e| e.port),
        smtp.map(|e| e.tls.as_str()),
        account.channel.as_str(),
        account.graph_url,
        account.group,
        account.proxy,
    ])?;
    // Tags given are added to those the account has; removing is explicit.
    let mut tag = conn.prepare_cached("INSERT OR IGNORE INTO account_tags (email, tag) VALUES (?1, ?2)")?;
    for t in &account.tags {
        tag.execute((&account.email, t))?;
    }
    Ok(())
}

/// Builds an account from a row selected with [`COLUMNS`].
fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    let fallback = match row.get::<_, Option<String>>(6)? {
        Some(host) => Some(ImapEndpoint { host, port: row.get(7)?, tls: parse(row, 8)? }),
        None => None,
    };
    let provider = parse::<Provider>(row, 1)?;
    let imap = ImapEndpoint { host: row.get(3)?, port: row.get(4)?, tls: parse::<Tls>(row, 5)? };
    let smtp = match row.get::<_, Option<String>>(14)? {
        Some(host) => Some(SmtpEndpoint { host, port: row.get(15)?, tls: parse(row, 16)? }),
        None => presets::smtp_default(provider, &imap),
    };
    let auth = parse::<AuthMethod>(row, 2)?;
    // Rows written before Graph was known: an Outlook OAuth2 account gets the preset's.
    let graph_url = row.get::<_, Option<String>>(20)?.or_else(|| {
        (provider == Provider::Outlook && auth == AuthMethod::OAuth2).then(|| presets::MICROSOFT_GRAPH_URL.to_string())
    });
    Ok(Account {
        email: row.get(0)?,
        provider,
        auth,
        imap,
        imap_fallback: fallback,
        smtp,
        client_id: row.get(9)?,
        token_url: row.get(10)?,
        scope: row.get(11)?,
        status: parse::<AccountStatus>(row, 12)?,
        status_detail: row.get(13)?,
        channel: parse::<Channel>(row, 17)?,
        channel_in_use: row.get::<_, Option<String>>(18)?.and_then(|c| c.parse().ok()),
        imap_checked_at: row.get(19)?,
        graph_url,
        group: row.get(21)?,
        proxy: row.get(22)?,
        tags: {
            let joined: Option<String> = row.get(23)?;
            let mut tags: Vec<String> = joined.map(|j| j.split('\n').map(str::to_string).collect()).unwrap_or_default();
            tags.sort();
            tags
        },
    })
}

/// Reads a text column into one of the account enums, whose names are their `as_str`.
fn parse<T>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(index)?;
    text.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}
