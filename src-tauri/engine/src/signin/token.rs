//! Access tokens: cached per client, renewed near expiry, one refresh shared by concurrent
//! callers, and a rotated refresh token stored in the keyring before the new access token is
//! used. [`crate::oauth`] only talks to the endpoint; this is where its answers are kept.

use tokio::time::Instant;

use super::{Client, SignIn};
use crate::account::{AccountStatus, AuthMethod};
use crate::clock::unix_now;
use crate::error::EngineError;
use crate::secrets::Secret;

/// An access token and when to stop using it.
#[derive(Debug, Clone)]
pub(super) struct AccessToken {
    token: Secret,
    refresh_at: Instant,
}

impl SignIn {
    /// A valid access token for the client. Concurrent callers share one refresh: the
    /// token mutex is held across it. `rejected` is a token the server just refused, which
    /// forces a refresh unless another caller already replaced it.
    pub(crate) async fn access_token(&self, client: &Client, rejected: Option<&Secret>) -> Result<Secret, EngineError> {
        let mut cached = client.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
            && rejected != Some(&t.token)
        {
            return Ok(t.token.clone());
        }
        let email = &client.account.email;
        let mut secret = client.secret.lock().await;
        let tokens = match self.oauth.refresh(&client.account, &secret).await {
            Ok(t) => t,
            Err(e) => {
                if e.needs_reauth() {
                    self.set_status(email, AccountStatus::NeedsReauth, Some(e.to_string())).await;
                }
                return Err(e.into());
            }
        };
        if let Some(new_refresh) = tokens.refresh_token.filter(|r| !r.is_empty() && *r != *secret) {
            // The rotated token must be safe before the new access token is used.
            if let Err(source) = self.write_secret(email, &new_refresh).await {
                let err = EngineError::RotationNotSaved { email: email.clone(), source };
                self.set_status(email, AccountStatus::Error, Some(err.to_string())).await;
                return Err(err);
            }
            *secret = new_refresh;
        }
        let margin = self.refresh_margin;
        let lifetime = tokens.expires_at.saturating_duration_since(Instant::now());
        // Short-lived tokens (as in tests) are used for half their life rather than never.
        let use_for = if lifetime > margin * 2 { lifetime - margin } else { lifetime / 2 };
        *cached = Some(AccessToken { token: tokens.access_token.clone(), refresh_at: Instant::now() + use_for });
        Ok(tokens.access_token)
    }

    /// Exchanges the account's refresh token now, whatever the cached access token, and
    /// records when (the token keeper's keep-alive reads it).
    ///
    /// # Errors
    /// [`EngineError::NotOAuth`] for a password account; unknown account; the refresh failed.
    pub(crate) async fn refresh_now(&self, email: &str) -> Result<(), EngineError> {
        // A new client has no access token, so the next call refreshes.
        self.forget(email);
        let client = self.client(email).await?;
        if client.account.auth != AuthMethod::OAuth2 {
            return Err(EngineError::NotOAuth { email: email.to_string() });
        }
        self.access_token(&client, None).await?;
        self.mark_refreshed(email).await
    }

    /// Makes sure the account's cached access token is valid for a while: renews it within
    /// the refresh margin of expiring. Reuses the cached client, so a fresh token costs
    /// nothing.
    ///
    /// # Errors
    /// [`EngineError::NotOAuth`] for a password account; unknown account; the refresh failed.
    pub(crate) async fn warm(&self, email: &str) -> Result<(), EngineError> {
        let client = self.client(email).await?;
        if client.account.auth != AuthMethod::OAuth2 {
            return Err(EngineError::NotOAuth { email: email.to_string() });
        }
        self.access_token(&client, None).await?;
        Ok(())
    }

    /// Records that the account's refresh token was just exchanged.
    pub(crate) async fn mark_refreshed(&self, email: &str) -> Result<(), EngineError> {
        let e = email.to_string();
        self.store.call(move |s| s.set_token_refreshed(&e, unix_now())).await?;
        Ok(())
    }
}
