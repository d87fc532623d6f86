//! Groups, tags and proxies of accounts, and the groups' own proxies. Names and URLs are
//! checked by the caller ([`crate::account::normalize_label`], [`crate::account::normalize_proxy`]);
//! a proxy URL here never holds a password.

use rusqlite::{OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// A group as `groups list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfo {
    /// The group's name.
    pub name: String,
    /// Its proxy, as a URL without a password.
    pub proxy: Option<String>,
    /// How many accounts are in it.
    pub accounts: usize,
}

impl Store {
    /// Puts the accounts in `group` (or in none). Returns how many accounts exist among
    /// `emails`.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails; nothing is written then.
    pub fn set_group(&self, emails: &[String], group: Option<&str>) -> Result<usize, StoreError> {
        self.each_account(emails, "UPDATE accounts SET group_name = ?2 WHERE email = ?1", group)
            .map_err(StoreError::query("save the accounts' group"))
    }

    /// Sets the accounts' own proxy (a URL without password), or clears it so the group's
    /// applies. Returns how many accounts exist among `emails`.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails; nothing is written then.
    pub fn set_account_proxy(&self, emails: &[String], proxy: Option<&str>) -> Result<usize, StoreError> {
        self.each_account(emails, "UPDATE accounts SET proxy_url = ?2 WHERE email = ?1", proxy)
            .map_err(StoreError::query("save the accounts' proxy"))
    }

    /// Adds `tags` to each account. Returns how many accounts exist among `emails`.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails; nothing is written then.
    pub fn add_tags(&self, emails: &[String], tags: &[String]) -> Result<usize, StoreError> {
        self.tag_each(emails, tags, "INSERT OR IGNORE INTO account_tags (email, tag) VALUES (?1, ?2)")
            .map_err(StoreError::query("save the accounts' tags"))
    }

    /// Removes `tags` from each account. Returns how many accounts exist among `emails`.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails; nothing is written then.
    pub fn remove_tags(&self, emails: &[String], tags: &[String]) -> Result<usize, StoreError> {
        self.tag_each(emails, tags, "DELETE FROM account_tags WHERE email = ?1 AND tag = ?2")
            .map_err(StoreError::query("remove the accounts' tags"))
    }

    /// Sets the group's proxy (a URL without password), or clears it. A group needs no
    /// accounts to have a proxy: one set before the import applies to what the import adds.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails.
    pub fn set_group_proxy(&self, group: &str, proxy: Option<&str>) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached(
                "INSERT INTO account_groups (name, proxy_url) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET proxy_url = excluded.proxy_url",
            )?
            .execute((group, proxy))
        })
        .map(drop)
        .map_err(StoreError::query("save the group's proxy"))
    }

    /// The group's proxy, if it has one.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn group_proxy(&self, group: &str) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT proxy_url FROM account_groups WHERE name = ?1")?
                .query_row([group], |r| r.get::<_, Option<String>>(0))
                .optional()
        })
        .map(Option::flatten)
        .map_err(StoreError::query("read the group's proxy"))
    }

    /// Every group that has accounts or a proxy, by name.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn groups(&self) -> Result<Vec<GroupInfo>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT n.name, g.proxy_url, (SELECT COUNT(*) FROM accounts a WHERE a.group_name = n.name)
                 FROM (SELECT group_name AS name FROM accounts WHERE group_name IS NOT NULL
                       UNION SELECT name FROM account_groups) n
                 LEFT JOIN account_groups g ON g.name = n.name
                 ORDER BY n.name",
            )?
            .query_map([], |r| {
                Ok(GroupInfo { name: r.get(0)?, proxy: r.get(1)?, accounts: r.get::<_, i64>(2)?.max(0) as usize })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::query("read the groups"))
    }

    fn each_account(&self, emails: &[String], sql: &str, value: Option<&str>) -> rusqlite::Result<usize> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut n = 0;
            {
                let mut q = tx.prepare_cached(sql)?;
                for e in emails {
                    n += q.execute((e, value))?;
                }
            }
            tx.commit()?;
            Ok(n)
        })
    }

    fn tag_each(&self, emails: &[String], tags: &[String], sql: &str) -> rusqlite::Result<usize> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut n = 0;
            {
                let mut exists = tx.prepare_cached("SELECT 1 FROM accounts WHERE email = ?1")?;
                let mut q = tx.prepare_cached(sql)?;
                for e in emails {
                    if exists.query_row([e], |_| Ok(())).optional()?.is_none() {
                        continue;
                    }
                    n += 1;
                    for t in tags {
                        q.execute((e, t))?;
                    }
                }
            }
            tx.commit()?;
            Ok(n)
        })
    }
}
