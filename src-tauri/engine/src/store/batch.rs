//! Writes for batch work: many accounts in one transaction (each new one at a place the
//! caller chose), removing the accounts an import replaced, and when each refresh token was
//! last exchanged (for the token keeper).

use std::collections::HashMap;

use rusqlite::TransactionBehavior;

use super::{Store, StoreError};
use crate::account::Account;

/// When an account's refresh token was last known to work, for the token keeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenActivity {
    /// The account.
    pub email: String,
    /// The last refresh recorded by Mailwatch, in Unix seconds.
    pub refreshed_at: Option<i64>,
    /// The last time any folder of the account was synced, in Unix seconds. A sync signs in
    /// with an access token, which only a working refresh token gives.
    pub synced_at: Option<i64>,
}

impl TokenActivity {
    /// The later of the two, or `None` if the account was never used.
    pub fn last_active(&self) -> Option<i64> {
        self.refreshed_at.max(self.synced_at)
    }
}

impl Store {
    /// Adds or updates every account in one transaction: either all of them are written or
    /// none is. Updates keep each account's place in [`Store::accounts`].
    ///
    /// # Errors
    /// [`StoreError::Query`] if a write fails; nothing is written then.
    pub fn upsert_accounts(&self, accounts: &[Account]) -> Result<(), StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for account in accounts {
                super::accounts::upsert(&tx, account, None)?;
            }
            tx.commit()
        })
        .map_err(StoreError::query("save the accounts"))
    }

    /// Like [`Store::upsert_accounts`], but a new account takes the row id given with it
    /// (its place in [`Store::accounts`]), or the next one at the end if that id was taken
    /// meanwhile.
    ///
    /// # Errors
    /// [`StoreError::Query`] if a write fails; nothing is written then.
    pub fn upsert_accounts_at(&self, rows: &[(Account, Option<i64>)]) -> Result<(), StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (account, id) in rows {
                super::accounts::upsert(&tx, account, *id)?;
            }
            tx.commit()
        })
        .map_err(StoreError::query("save the accounts"))
    }

    /// Every account's row id (its place in [`Store::accounts`]), by address.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn account_ids(&self) -> Result<HashMap<String, i64>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT email, id FROM accounts")?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<HashMap<_, _>>>()
        })
        .map_err(StoreError::query("read the account ids"))
    }

    /// Removes the accounts (with their folder state, messages and codes) in one
    /// transaction; returns how many existed.
    ///
    /// # Errors
    /// [`StoreError::Query`] if a delete fails; nothing is removed then.
    pub fn remove_accounts(&self, emails: &[String]) -> Result<usize, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut n = 0;
            for email in emails {
                n += tx.prepare_cached("DELETE FROM accounts WHERE email = ?1")?.execute([email])?;
            }
            tx.commit()?;
            Ok(n)
        })
        .map_err(StoreError::query("remove the accounts"))
    }

    /// Records that the account's refresh token was exchanged at `at` (Unix seconds). Does
    /// nothing for an unknown account.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the write fails.
    pub fn set_token_refreshed(&self, email: &str, at: i64) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached(
                "INSERT INTO refreshes (email, refreshed_at) SELECT email, ?2 FROM accounts WHERE email = ?1
                 ON CONFLICT (email) DO UPDATE SET refreshed_at = excluded.refreshed_at",
            )?
            .execute((email, at))
        })
        .map(drop)
        .map_err(StoreError::query("save the token refresh time"))
    }

    /// Every OAuth2 account with its last refresh and last sync.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the read fails.
    pub fn token_activity(&self) -> Result<Vec<TokenActivity>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT a.email, t.refreshed_at, (SELECT MAX(f.synced_at) FROM folder_state f WHERE f.email = a.email)
                 FROM accounts a LEFT JOIN refreshes t ON t.email = a.email
                 WHERE a.auth = 'oauth2' ORDER BY a.id",
            )?
            .query_map([], |row| {
                Ok(TokenActivity { email: row.get(0)?, refreshed_at: row.get(1)?, synced_at: row.get(2)? })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::query("read the token activity"))
    }
}
