//! The client cache (the seeds' EmailManager) and the pool's IMAP manager.
//!
//! A [`Client`] is one account's sign-in state: the account, its secret as read from the
//! keyring, and its cached access token. Clients are kept per account and reused while the
//! secret is unchanged; when the user stores a new secret, the old client and its sessions
//! are closed first. A rotation by the provider updates the client in place, after the new
//! refresh token is safely in the keyring.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::error::EngineError;
use crate::account::{Account, AccountStatus, AuthMethod};
use crate::config::Config;
use crate::events::{Event, EventSink};
use crate::imap::{self, Credential, ImapError, ImapSession, TlsSetup};
use crate::oauth::OAuth;
use crate::pool::Manager;
use crate::secrets::{Secret, SecretStore};
use crate::store::Store;

/// An access token and when to stop using it.
#[derive(Debug, Clone)]
struct AccessToken {
    token: Secret,
    refresh_at: Instant,
}

/// One account's sign-in state.
pub struct Client {
    /// The account as loaded.
    pub account: Account,
    secret: tokio::sync::Mutex<Secret>,
    token: tokio::sync::Mutex<Option<AccessToken>>,
}

/// How often the client cache was hit and missed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCacheStats {
    /// Clients built (a keyring read each).
    pub client_creates: u64,
    /// Clients served from the cache.
    pub client_reuses: u64,
    /// Refresh requests sent to token endpoints.
    pub token_refreshes: u64,
}

/// Everything a new session needs; shared by the engine and the pool's manager.
pub struct Connector {
    pub(crate) store: Store,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) oauth: OAuth,
    pub(crate) tls: TlsSetup,
    pub(crate) config: Config,
    pub(crate) sink: Arc<dyn EventSink>,
    clients: Mutex<HashMap<String, Arc<Client>>>,
    creates: AtomicU64,
    reuses: AtomicU64,
}

impl Connector {
    pub(crate) fn new(
        store: Store,
        secrets: Arc<dyn SecretStore>,
        oauth: OAuth,
        tls: TlsSetup,
        config: Config,
        sink: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            store,
            secrets,
            oauth,
            tls,
            config,
            sink,
            clients: Mutex::new(HashMap::new()),
            creates: AtomicU64::new(0),
            reuses: AtomicU64::new(0),
        }
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Client>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stats(&self) -> ClientCacheStats {
        ClientCacheStats {
            client_creates: self.creates.load(Ordering::Relaxed),
            client_reuses: self.reuses.load(Ordering::Relaxed),
            token_refreshes: self.oauth.requests(),
        }
    }

    /// The account's client, from the cache or built from the store and the keyring.
    pub(crate) async fn client(&self, email: &str) -> Result<Arc<Client>, EngineError> {
        if let Some(c) = self.clients().get(email).cloned() {
            self.reuses.fetch_add(1, Ordering::Relaxed);
            return Ok(c);
        }
        let e = email.to_string();
        let account = self
            .store
            .call(move |s| s.account(&e))
            .await?
            .ok_or_else(|| EngineError::UnknownAccount { email: email.to_string() })?;
        let secret = self.read_secret(email).await?.ok_or(EngineError::MissingSecret {
            email: email.to_string(),
            what: if account.auth == AuthMethod::OAuth2 { "refresh token" } else { "password" },
        })?;
        let client =
            Arc::new(Client { secret: tokio::sync::Mutex::new(secret), token: tokio::sync::Mutex::new(None), account });
        let mut clients = self.clients();
        // Another caller may have built one meanwhile; keep the first.
        let kept = clients.entry(email.to_string()).or_insert_with(|| {
            self.creates.fetch_add(1, Ordering::Relaxed);
            client
        });
        Ok(kept.clone())
    }

    /// Drops the cached client; returns whether one was cached.
    pub(crate) fn forget(&self, email: &str) -> bool {
        self.clients().remove(email).is_some()
    }

    pub(crate) async fn read_secret(&self, email: &str) -> Result<Option<Secret>, EngineError> {
        let secrets = self.secrets.clone();
        let e = email.to_string();
        Ok(tokio::task::spawn_blocking(move || secrets.get(&e))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??)
    }

    pub(crate) async fn write_secret(&self, email: &str, secret: &Secret) -> Result<(), crate::secrets::SecretsError> {
        let secrets = self.secrets.clone();
        let (e, s) = (email.to_string(), secret.clone());
        match tokio::task::spawn_blocking(move || secrets.set(&e, &s)).await {
            Ok(r) => r,
            Err(j) => Err(crate::secrets::SecretsError::Platform {
                action: "write",
                email: email.to_string(),
                reason: j.to_string(),
            }),
        }
    }

    /// Records an account's status in the cache and tells the UI.
    pub(crate) async fn set_status(&self, email: &str, status: AccountStatus, detail: Option<String>) {
        let (e, d) = (email.to_string(), detail.clone());
        let _ = self.store.call(move |s| s.set_status(&e, status, d.as_deref())).await;
        self.sink.emit(Event::AccountStatus { email: email.to_string(), status: status.as_str().to_string(), detail });
    }

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
        let margin = self.config.http.refresh_margin;
        let lifetime = tokens.expires_at.saturating_duration_since(Instant::now());
        // Short-lived tokens (as in tests) are used for half their life rather than never.
        let use_for = if lifetime > margin * 2 { lifetime - margin } else { lifetime / 2 };
        *cached = Some(AccessToken { token: tokens.access_token.clone(), refresh_at: Instant::now() + use_for });
        Ok(tokens.access_token)
    }

    /// Opens a signed-in session for the account: primary server first, then the fallback;
    /// with OAuth2, a refused token is refreshed once and tried once more.
    pub(crate) async fn open_session(&self, email: &str) -> Result<ImapSession, EngineError> {
        let client = self.client(email).await?;
        let account = &client.account;
        let cfg = &self.config.pool;
        let mut last_err = None;
        for endpoint in account.endpoints() {
            let attempt = match account.auth {
                AuthMethod::Password => {
                    let password = client.secret.lock().await.clone();
                    let cred = Credential::Password { user: email, password: &password };
                    imap::connect(endpoint, &self.tls, cred, cfg.connect_timeout, cfg.command_timeout).await
                }
                AuthMethod::OAuth2 => {
                    let token = self.access_token(&client, None).await?;
                    let cred = Credential::OAuth2 { user: email, access_token: &token };
                    match imap::connect(endpoint, &self.tls, cred, cfg.connect_timeout, cfg.command_timeout).await {
                        Err(ImapError::AuthFailed { .. }) => {
                            let fresh = self.access_token(&client, Some(&token)).await?;
                            let cred = Credential::OAuth2 { user: email, access_token: &fresh };
                            imap::connect(endpoint, &self.tls, cred, cfg.connect_timeout, cfg.command_timeout).await
                        }
                        other => other,
                    }
                }
            };
            match attempt {
                Ok(session) => {
                    if account.status != AccountStatus::Ok {
                        self.set_status(email, AccountStatus::Ok, None).await;
                    }
                    return Ok(session);
                }
                Err(e @ (ImapError::Connect { .. } | ImapError::Timeout { .. })) => last_err = Some(e),
                Err(e @ ImapError::AuthFailed { .. }) => {
                    self.set_status(email, AccountStatus::NeedsReauth, Some(e.to_string())).await;
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        let err: EngineError =
            last_err.map(Into::into).unwrap_or(EngineError::Internal("the account has no IMAP server".into()));
        self.set_status(email, AccountStatus::Error, Some(err.to_string())).await;
        Err(err)
    }
}

/// The pool's manager: sessions are opened through the [`Connector`].
pub struct ImapManager {
    pub(crate) connector: Arc<Connector>,
}

impl Manager for ImapManager {
    type Session = ImapSession;
    type Error = EngineError;

    async fn connect(&self, key: &str) -> Result<ImapSession, EngineError> {
        self.connector.open_session(key).await
    }

    async fn recycle(&self, session: &mut ImapSession) -> Result<(), EngineError> {
        Ok(session.noop().await?)
    }

    async fn close(&self, session: ImapSession) {
        session.logout().await;
    }
}
