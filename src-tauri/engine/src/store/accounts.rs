//! Accounts in the cache: everything about a mailbox except its secret.

use std::str::FromStr;

use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Row};

use super::{Store, StoreError};
use crate::account::{Account, AccountStatus, AuthMethod, ImapEndpoint, Provider, SmtpEndpoint, Tls, presets};

const COLUMNS: &str = "email, provider, auth, imap_host, imap_port, imap_tls, fallback_host, fallback_port, \
                       fallback_tls, client_id, token_url, scope, status, status_detail, smtp_host, smtp_port, smtp_tls, \
                       group_name, proxy_url, \
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

/// Adds the account or updates the one with the same email; shared by the single and the
/// batch write. A new account takes row id `id` (its place in [`Store::accounts`]) when that
/// is given and free, else the next one at the end; an update keeps its row.
pub(super) fn upsert(conn: &rusqlite::Connection, account: &Account, id: Option<i64>) -> rusqlite::Result<()> {
    let fallback = account.imap_fallback.as_ref();
    let smtp = account.smtp.as_ref();
    conn.prepare_cached(
        "INSERT INTO accounts (id, email, provider, auth, imap_host, imap_port, imap_tls, fallback_host,
                                   fallback_port, fallback_tls, client_id, token_url, scope, status, status_detail,
                                   smtp_host, smtp_port, smtp_tls, group_name, proxy_url)
             VALUES (CASE WHEN ?15 IS NULL OR EXISTS (SELECT 1 FROM accounts WHERE id = ?15) THEN NULL ELSE ?15 END,
                     ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?16, ?17, ?18, ?19, ?20)
             ON CONFLICT (email) DO UPDATE SET
                 provider = excluded.provider, auth = excluded.auth,
                 imap_host = excluded.imap_host, imap_port = excluded.imap_port, imap_tls = excluded.imap_tls,
                 fallback_host = excluded.fallback_host, fallback_port = excluded.fallback_port,
                 fallback_tls = excluded.fallback_tls, client_id = excluded.client_id,
                 token_url = excluded.token_url, scope = excluded.scope,
                 status = excluded.status, status_detail = excluded.status_detail,
                 smtp_host = excluded.smtp_host, smtp_port = excluded.smtp_port, smtp_tls = excluded.smtp_tls,
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
    Ok(Account {
        email: row.get(0)?,
        provider,
        auth: parse::<AuthMethod>(row, 2)?,
        imap,
        imap_fallback: fallback,
        smtp,
        client_id: row.get(9)?,
        token_url: row.get(10)?,
        scope: row.get(11)?,
        status: parse::<AccountStatus>(row, 12)?,
        status_detail: row.get(13)?,
        group: row.get(17)?,
        proxy: row.get(18)?,
        tags: {
            let joined: Option<String> = row.get(19)?;
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
