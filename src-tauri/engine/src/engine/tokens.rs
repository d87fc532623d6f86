//! Verifying accounts and refreshing their tokens, one or many at once. The token rules
//! themselves (caching, rotation, status changes) are the sign-in layer's
//! ([`crate::signin`]); these run them through the pool, with bounded concurrency, progress
//! and cancellation ([`crate::progress`]).

use super::{Engine, EngineError};
use crate::account::AuthMethod;
use crate::progress::{BatchControl, CheckReport, check_each};
use crate::store::TokenActivity;

impl Engine {
    /// Checks that each account signs in: refreshes its token (storing a rotated one) and
    /// logs in over IMAP through the session pool. At most `concurrency` accounts at once;
    /// the pool's limits apply on top. Never fails as a whole: each account gets a result.
    pub async fn verify(&self, emails: &[String], concurrency: usize, control: &BatchControl) -> CheckReport {
        check_each(&*self.sink, "verify", emails, concurrency, control, |email| Box::pin(self.verify_account(email)))
            .await
    }

    /// Verifies one account: a new client (so the token is refreshed), a new session (so it
    /// logs in), and the session goes back to the pool for the next fetch. An account read
    /// through Microsoft Graph (or moved there now, on `auto`) is verified with one listing
    /// of its inbox instead.
    ///
    /// # Errors
    /// The account is unknown, or refreshing or signing in failed.
    pub async fn verify_account(&self, email: &str) -> Result<(), EngineError> {
        let account = self.account(email).await?;
        self.forget_client(&account.email).await;
        let email = account.email.as_str();
        self.routed(
            email,
            || {
                Box::pin(async move {
                    drop(self.pool.get(email).await?);
                    Ok(())
                })
            },
            || Box::pin(self.channels.check(email)),
        )
        .await?;
        if account.auth == AuthMethod::OAuth2 {
            self.signin.mark_refreshed(&account.email).await?;
        }
        Ok(())
    }

    /// Refreshes the refresh tokens of the given accounts, or of every OAuth2 account when
    /// `emails` is `None`, at most `concurrency` at once. A rotated token is stored before it
    /// is used. Password accounts are reported as skipped.
    ///
    /// # Errors
    /// The account list cannot be read; each account's failure is in the report.
    pub async fn refresh_tokens(
        &self,
        emails: Option<&[String]>,
        concurrency: usize,
        control: &BatchControl,
    ) -> Result<CheckReport, EngineError> {
        let emails: Vec<String> = match emails {
            Some(list) => list.to_vec(),
            None => {
                self.accounts().await?.into_iter().filter(|a| a.auth == AuthMethod::OAuth2).map(|a| a.email).collect()
            }
        };
        Ok(check_each(&*self.sink, "refresh", &emails, concurrency, control, |email| {
            Box::pin(self.refresh_token(email))
        })
        .await)
    }

    /// Exchanges one account's refresh token now, whatever the cached access token.
    ///
    /// # Errors
    /// The account is unknown or signs in with a password ("skipped"), or the refresh failed.
    pub async fn refresh_token(&self, email: &str) -> Result<(), EngineError> {
        let account = self.account(email).await?;
        if account.auth != AuthMethod::OAuth2 {
            return Err(EngineError::NotOAuth { email: account.email });
        }
        self.signin.refresh_now(&account.email).await
    }

    /// Makes sure the account's cached access token is valid for a while: renews it if it
    /// is within the refresh margin of expiring (the token keeper's job for accounts in
    /// use). Reuses the cached client, so a fresh token costs nothing.
    ///
    /// # Errors
    /// The account is unknown or not OAuth2, or the refresh failed.
    pub async fn warm_token(&self, email: &str) -> Result<(), EngineError> {
        self.signin.warm(email).await
    }

    /// When each OAuth2 account last synced and last had its refresh token exchanged, for the
    /// token keeper.
    pub(crate) async fn token_activity(&self) -> Result<Vec<TokenActivity>, EngineError> {
        Ok(self.store.call(|s| s.token_activity()).await?)
    }
}
