//! Access tokens: cached per client, renewed near expiry, one refresh shared by concurrent
//! callers. [`crate::oauth`] only talks to the endpoint; this is where its answers are kept.
//!
//! A refresh token is spent the moment it is exchanged: providers that rotate (Microsoft,
//! the test bed) refuse it afterwards. So the rules here are about never using a spent token
//! and never losing the new one:
//!
//! - **One exchange per account at a time**, whatever the number of clients and processes: an
//!   account's exchange holds the account's gate, and a lock file shared with other processes
//!   (the keyring's `lock_exchange`), across reading the current token, exchanging it and
//!   storing the new one. A client built while an older one rotates waits, then reads the new
//!   token.
//! - **The current token is read at every exchange**: the keyring's (cheap: the shard is cached
//!   and its stamp tells when another process changed it), or a rotated token the keyring
//!   refused. If the provider refuses the token, the keyring is read once more, in case another
//!   process rotated it just now, before the account is marked needs-reauth.
//! - **The new token is kept, saved or not.** It replaces the old one in memory before the
//!   keyring write. If the keyring refuses it, Mailwatch keeps using it, says so in the
//!   account's status, and retries the write with a doubling pause up to
//!   `http.keyringRetryMax` (and before the account's next exchange) until it is stored.
//! - **Not cut in half.** The exchange and the write run as a task of their own, which a
//!   caller that gives up (Ctrl-C, Stop, quitting) does not cancel.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::{Client, SignIn, lock};
use crate::account::{AccountStatus, AuthMethod};
use crate::clock::unix_now;
use crate::error::EngineError;
use crate::oauth::Tokens;
use crate::secrets::Secret;

/// An access token and when to stop using it.
#[derive(Debug, Clone)]
pub(super) struct AccessToken {
    token: Secret,
    refresh_at: Instant,
    /// The scopes the provider said it granted, when it said.
    granted: Option<String>,
}

/// What an access token is for. Each is cached on its own, per account and audience:
/// Microsoft issues a token for one resource at a time, so sending needs a second token, asked
/// for with the SMTP scope, and reading through Graph a third, asked for with Graph's scope
/// alone (a request mixing Graph's and Outlook's scopes is refused with AADSTS70011).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Reading mail over IMAP, with the account's own scope.
    Imap,
    /// Sending mail over SMTP, with [`crate::account::Account::smtp_scope`].
    Smtp,
    /// Reading mail through Microsoft Graph, with [`crate::account::Account::graph_scope`].
    Graph,
}

impl SignIn {
    /// A valid IMAP access token for the client; see [`SignIn::access_token_for`].
    pub(crate) async fn access_token(
        self: &Arc<Self>,
        client: &Arc<Client>,
        rejected: Option<&Secret>,
        force: bool,
    ) -> Result<Secret, EngineError> {
        self.access_token_for(client, Purpose::Imap, rejected, force).await
    }

    /// A valid access token for the client and purpose. Concurrent callers share one
    /// refresh: the token mutex is held across it. `rejected` is a token the server just
    /// refused, which forces a refresh unless another caller already replaced it; `force`
    /// refreshes anyway. An SMTP token whose scope is the account's own is the IMAP token.
    pub(crate) async fn access_token_for(
        self: &Arc<Self>,
        client: &Arc<Client>,
        purpose: Purpose,
        rejected: Option<&Secret>,
        force: bool,
    ) -> Result<Secret, EngineError> {
        let scope = match purpose {
            Purpose::Smtp => client.account.smtp_scope().filter(|s| Some(s) != client.account.scope.as_ref()),
            Purpose::Imap => None,
            Purpose::Graph => Some(
                client
                    .account
                    .graph_scope()
                    .ok_or_else(|| crate::graph::GraphError::NotGraph { email: client.account.email.clone() })?
                    .to_string(),
            ),
        };
        let mut cached = match (purpose, &scope) {
            (Purpose::Graph, _) => client.graph_token.lock().await,
            (_, Some(_)) => client.smtp_token.lock().await,
            (_, None) => client.token.lock().await,
        };
        if let Some(t) = cached.as_ref()
            && !force
            && Instant::now() < t.refresh_at
            && rejected != Some(&t.token)
        {
            return Ok(t.token.clone());
        }
        // A task of its own: a caller that gives up does not cut the exchange from the write.
        let exchange = tokio::spawn(self.clone().exchange(client.clone(), scope));
        let tokens = exchange.await.map_err(|e| EngineError::Internal(e.to_string()))??;
        let margin = self.refresh_margin;
        let lifetime = tokens.expires_at.saturating_duration_since(Instant::now());
        // Short-lived tokens (as in tests) are used for half their life rather than never.
        let use_for = if lifetime > margin.saturating_mul(2) { lifetime - margin } else { lifetime / 2 };
        let now = Instant::now();
        *cached = Some(AccessToken {
            token: tokens.access_token.clone(),
            refresh_at: now.checked_add(use_for).unwrap_or(now),
            granted: tokens.granted.clone(),
        });
        Ok(tokens.access_token)
    }

    /// The scopes the provider granted the client's cached IMAP token, when it said.
    pub(crate) async fn imap_granted(&self, client: &Client) -> Option<String> {
        client.token.lock().await.as_ref().and_then(|t| t.granted.clone())
    }

    /// The account's refresh token now: a rotated one the keyring has not taken yet, else
    /// the keyring's, else (no keyring entry) the one the client was built with.
    async fn current_refresh_token(&self, client: &Client) -> Result<Secret, EngineError> {
        let email = &client.account.email;
        if let Some(unsaved) = lock(&self.unsaved).get(email).cloned() {
            return Ok(unsaved);
        }
        match self.read_secret(email).await? {
            Some(stored) => Ok(stored),
            None => Ok(client.secret.lock().await.clone()),
        }
    }

    /// One exchange of the account's current refresh token, under the account's gate, and
    /// the new refresh token stored (or kept in memory and retried; see the module docs).
    /// `scope` replaces the account's own scope when given.
    async fn exchange(self: Arc<Self>, client: Arc<Client>, scope: Option<String>) -> Result<Tokens, EngineError> {
        let email = client.account.email.clone();
        let gate = self.gate(&email);
        let _turn = gate.lock().await;
        // Other processes (the app and the CLI at once) take turns too, so none of them
        // presents a token another has just spent.
        let _across = self.lock_exchange(&email).await?;
        self.save_unsaved(&email).await;
        let mut used = self.current_refresh_token(&client).await?;
        let mut reread = false;
        let tokens = loop {
            match self.oauth.refresh(&client.account, client.proxy.as_ref(), &used, scope.as_deref()).await {
                Ok(t) => break t,
                Err(e) if e.needs_reauth() && !reread && !lock(&self.unsaved).contains_key(&email) => {
                    // Another process may have rotated the token since it was read.
                    reread = true;
                    match self.read_secret(&email).await {
                        Ok(Some(stored)) if stored != used => {
                            self.rereads.fetch_add(1, Ordering::Relaxed);
                            used = stored;
                        }
                        _ => {
                            self.set_status(&email, AccountStatus::NeedsReauth, Some(e.to_string())).await;
                            return Err(e.into());
                        }
                    }
                }
                Err(e) => {
                    if e.needs_reauth() {
                        self.set_status(&email, AccountStatus::NeedsReauth, Some(e.to_string())).await;
                    }
                    return Err(e.into());
                }
            }
        };
        let Some(new) = tokens.refresh_token.clone().filter(|r| !r.is_empty() && *r != used) else {
            *client.secret.lock().await = used;
            return Ok(tokens);
        };
        // `used` is spent: the new token is the account's from now on, stored or not.
        *client.secret.lock().await = new.clone();
        match self.write_secret(&email, &new).await {
            Ok(()) => {
                if lock(&self.unsaved).remove(&email).is_some() {
                    self.set_status(&email, AccountStatus::Ok, None).await;
                }
            }
            Err(source) => {
                lock(&self.unsaved).insert(email.clone(), new);
                self.unsaved_rotations.fetch_add(1, Ordering::Relaxed);
                let err = EngineError::RotationNotSaved { email: email.clone(), source };
                tracing::warn!(email = %email, "{err}");
                self.set_status(&email, AccountStatus::Error, Some(err.to_string())).await;
                self.retry_save_later(&email);
            }
        }
        Ok(tokens)
    }

    /// Takes the account's exchange lock shared with other processes; held until dropped.
    async fn lock_exchange(&self, email: &str) -> Result<Option<std::fs::File>, EngineError> {
        let secrets = self.secrets().clone();
        let e = email.to_string();
        Ok(tokio::task::spawn_blocking(move || secrets.lock_exchange(&e))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??)
    }

    /// Writes the account's rotated token that the keyring refused, if there is one; returns
    /// whether none is left unsaved. The caller holds the account's gate.
    async fn save_unsaved(&self, email: &str) -> bool {
        let Some(token) = lock(&self.unsaved).get(email).cloned() else { return true };
        self.keyring_retries.fetch_add(1, Ordering::Relaxed);
        if self.write_secret(email, &token).await.is_err() {
            return false;
        }
        {
            let mut unsaved = lock(&self.unsaved);
            if unsaved.get(email) == Some(&token) {
                unsaved.remove(email);
            }
        }
        self.set_status(email, AccountStatus::Ok, None).await;
        true
    }

    /// One more try to store every rotated token the keyring refused (at shutdown); the ones
    /// it still refuses are logged, by address only.
    pub(crate) async fn save_all_unsaved(&self) {
        let emails: Vec<String> = lock(&self.unsaved).keys().cloned().collect();
        for email in emails {
            let gate = self.gate(&email);
            let _turn = gate.lock().await;
            if !self.save_unsaved(&email).await {
                tracing::error!(email = %email, "the keyring still refuses the account's new refresh token; it is lost on exit");
            }
        }
    }

    /// Retries the account's unsaved token in the background, with a pause doubling from one
    /// second up to `http.keyringRetryMax`, until it is stored or the engine is gone.
    fn retry_save_later(self: &Arc<Self>, email: &str) {
        if !lock(&self.retrying).insert(email.to_string()) {
            return;
        }
        let (this, email) = (Arc::downgrade(self), email.to_string());
        tokio::spawn(async move {
            let mut pause = Duration::from_secs(1);
            loop {
                tokio::time::sleep(pause).await;
                let Some(signin) = Weak::upgrade(&this) else { return };
                let gate = signin.gate(&email);
                let _turn = gate.lock().await;
                if signin.save_unsaved(&email).await {
                    lock(&signin.retrying).remove(&email);
                    return;
                }
                pause = (pause * 2).min(signin.keyring_retry_max.max(Duration::from_secs(1)));
            }
        });
    }

    /// Exchanges the account's refresh token now, whatever the cached access token, and
    /// records when (the token keeper's keep-alive reads it).
    ///
    /// # Errors
    /// [`EngineError::NotOAuth`] for a password account; unknown account; the refresh failed.
    pub(crate) async fn refresh_now(self: &Arc<Self>, email: &str) -> Result<(), EngineError> {
        let client = self.client(email).await?;
        if client.account.auth != AuthMethod::OAuth2 {
            return Err(EngineError::NotOAuth { email: email.to_string() });
        }
        self.any_token(&client, true).await?;
        self.mark_refreshed(email).await
    }

    /// An access token for reading the account: IMAP's, or Graph's when the provider refuses
    /// IMAP's scope and Graph can read the account (a refresh token granted Graph only is
    /// still kept alive and its access token kept warm).
    async fn any_token(self: &Arc<Self>, client: &Arc<Client>, force: bool) -> Result<Secret, EngineError> {
        match self.access_token(client, None, force).await {
            Err(EngineError::OAuth(crate::oauth::OAuthError::ChannelScopeRefused { .. }))
                if client.account.graph_scope().is_some() =>
            {
                self.access_token_for(client, Purpose::Graph, None, force).await
            }
            other => other,
        }
    }

    /// Makes sure the account's cached access token is valid for a while: renews it within
    /// the refresh margin of expiring. Reuses the cached client, so a fresh token costs
    /// nothing.
    ///
    /// # Errors
    /// [`EngineError::NotOAuth`] for a password account; unknown account; the refresh failed.
    pub(crate) async fn warm(self: &Arc<Self>, email: &str) -> Result<(), EngineError> {
        let client = self.client(email).await?;
        if client.account.auth != AuthMethod::OAuth2 {
            return Err(EngineError::NotOAuth { email: email.to_string() });
        }
        self.any_token(&client, false).await?;
        Ok(())
    }

    /// Records that the account's refresh token was just exchanged.
    pub(crate) async fn mark_refreshed(&self, email: &str) -> Result<(), EngineError> {
        let e = email.to_string();
        self.store.call(move |s| s.set_token_refreshed(&e, unix_now())).await?;
        Ok(())
    }
}
