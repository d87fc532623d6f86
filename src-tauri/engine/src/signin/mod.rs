//! One account's sign-in: the client cache, access tokens, rotation, and the account's
//! status as sign-ins succeed or fail.
//!
//! A [`Client`] is one account's sign-in state: the account, its secret as read from the
//! keyring, and its cached access token. Clients are kept per account and reused while the
//! secret is unchanged; when the user stores a new secret, the caller drops the old client
//! ([`SignIn::forget`]) and its sessions. A rotation by the provider updates the client in
//! place, after the new refresh token is safely in the keyring (see `token.rs`).
//!
//! [`ImapLogin`] is how the session pool opens sessions: it signs in through [`SignIn`],
//! primary server first, then the fallback, and marks the account when the server or the
//! provider refuses it.

mod smtp;
mod throttle;
mod token;

pub use self::smtp::SmtpLogin;
pub use self::throttle::{ThrottleStats, Throttles};
pub(crate) use self::token::Purpose;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::account::{Account, AccountStatus, AuthMethod};
use crate::config::{HttpConfig, PoolConfig, WatchConfig};
use crate::error::EngineError;
use crate::events::{Event, EventSink};
use crate::imap::{self, Credential, ImapError, ImapSession, TlsSetup};
use crate::net::{NetError, Proxy, ProxyUrl};
use crate::oauth::OAuth;
use crate::pool::Connect;
use crate::secrets::{Secret, SecretStore, SecretsError};
use crate::store::Store;

use self::token::AccessToken;

/// One account's sign-in state.
pub struct Client {
    /// The account as loaded.
    pub account: Account,
    secret: tokio::sync::Mutex<Secret>,
    token: tokio::sync::Mutex<Option<AccessToken>>,
    /// The access token for sending, when sending needs a scope of its own.
    smtp_token: tokio::sync::Mutex<Option<AccessToken>>,
    /// The access token for Microsoft Graph's audience.
    graph_token: tokio::sync::Mutex<Option<AccessToken>>,
    /// The proxy every connection of the account goes through (its own, else its group's),
    /// with its password and its user name template filled in.
    pub proxy: Option<Proxy>,
}

/// How often the client cache was hit and missed, and what token refreshes went through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientCacheStats {
    /// Clients built (a keyring read each).
    pub client_creates: u64,
    /// Clients served from the cache.
    pub client_reuses: u64,
    /// Refresh requests sent to token endpoints.
    pub token_refreshes: u64,
    /// Refused refresh tokens read again from the keyring and retried (another process had
    /// rotated them).
    pub token_rereads: u64,
    /// Rotated refresh tokens the keyring refused at first (kept in memory and retried).
    pub rotations_unsaved: u64,
    /// Attempts to store such a token again.
    pub keyring_retries: u64,
}

/// The sign-in layer: the client cache and what signing in needs (the cache's account rows,
/// the keyring, the token endpoint client, TLS, and the session timeouts).
pub struct SignIn {
    store: Store,
    secrets: Arc<dyn SecretStore>,
    oauth: OAuth,
    tls: TlsSetup,
    sessions: PoolConfig,
    refresh_margin: Duration,
    keyring_retry_max: Duration,
    sink: Arc<dyn EventSink>,
    throttles: Throttles,
    clients: Mutex<HashMap<String, Arc<Client>>>,
    /// Per account: held across reading, exchanging and storing its refresh token.
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Rotated refresh tokens the keyring refused, by account: the current ones.
    unsaved: Mutex<HashMap<String, Secret>>,
    /// Accounts whose unsaved token a background task is storing.
    retrying: Mutex<HashSet<String>>,
    creates: AtomicU64,
    reuses: AtomicU64,
    rereads: AtomicU64,
    unsaved_rotations: AtomicU64,
    keyring_retries: AtomicU64,
}

/// Locks a map or a set, taking the data of a poisoned lock (a panic elsewhere must not stop
/// sign-ins).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SignIn {
    /// A sign-in layer with an empty client cache. `sessions` gives the connect and command
    /// timeouts; `http` how long before expiry an access token is renewed and how long a
    /// refused keyring write may wait before it is tried again.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: Store,
        secrets: Arc<dyn SecretStore>,
        oauth: OAuth,
        tls: TlsSetup,
        sessions: PoolConfig,
        http: &HttpConfig,
        watch: &WatchConfig,
        sink: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            store,
            secrets,
            oauth,
            tls,
            sessions,
            refresh_margin: http.refresh_margin,
            keyring_retry_max: http.keyring_retry_max,
            sink,
            throttles: Throttles::new(watch),
            clients: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
            unsaved: Mutex::new(HashMap::new()),
            retrying: Mutex::new(HashSet::new()),
            creates: AtomicU64::new(0),
            reuses: AtomicU64::new(0),
            rereads: AtomicU64::new(0),
            unsaved_rotations: AtomicU64::new(0),
            keyring_retries: AtomicU64::new(0),
        }
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Client>>> {
        lock(&self.clients)
    }

    /// The account's gate for token exchanges.
    fn gate(&self, email: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.gates).entry(email.to_string()).or_default().clone()
    }

    /// Forgets a rotated token the keyring refused: the user gave the account a new secret,
    /// or removed it.
    pub(crate) fn discard_unsaved(&self, email: &str) {
        lock(&self.unsaved).remove(email);
    }

    /// The TLS setup every connection uses (its handshake counters among them).
    pub(crate) fn tls(&self) -> &TlsSetup {
        &self.tls
    }

    /// The token endpoint's client, and with it the HTTP clients per proxy.
    pub(crate) fn oauth(&self) -> &OAuth {
        &self.oauth
    }

    /// The keyring.
    pub(crate) fn secrets(&self) -> &Arc<dyn SecretStore> {
        &self.secrets
    }

    /// The client cache's and the token endpoint's counters.
    pub(crate) fn stats(&self) -> ClientCacheStats {
        ClientCacheStats {
            client_creates: self.creates.load(Ordering::Relaxed),
            client_reuses: self.reuses.load(Ordering::Relaxed),
            token_refreshes: self.oauth.requests(),
            token_rereads: self.rereads.load(Ordering::Relaxed),
            rotations_unsaved: self.unsaved_rotations.load(Ordering::Relaxed),
            keyring_retries: self.keyring_retries.load(Ordering::Relaxed),
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
        let proxy = self.resolve_proxy(&account).await?;
        let client = Arc::new(Client {
            proxy,
            secret: tokio::sync::Mutex::new(secret),
            token: tokio::sync::Mutex::new(None),
            smtp_token: tokio::sync::Mutex::new(None),
            graph_token: tokio::sync::Mutex::new(None),
            account,
        });
        let mut clients = self.clients();
        // Another caller may have built one meanwhile; keep the first.
        let kept = clients.entry(email.to_string()).or_insert_with(|| {
            self.creates.fetch_add(1, Ordering::Relaxed);
            client
        });
        Ok(kept.clone())
    }

    /// The proxy `account` uses: its own, else its group's; its password from the keyring
    /// (none if the keyring has none), and the user name template filled in for the account.
    ///
    /// # Errors
    /// A stored URL this build cannot read; the keyring or the cache failed.
    pub(crate) async fn resolve_proxy(&self, account: &Account) -> Result<Option<Proxy>, EngineError> {
        let url = match (&account.proxy, &account.group) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(group)) => {
                let g = group.clone();
                self.store.call(move |s| s.group_proxy(&g)).await?
            }
            (None, None) => None,
        };
        let Some(url) = url else { return Ok(None) };
        let url: ProxyUrl = url.parse()?;
        let password = self.read_secret(&url.secret_key()).await?;
        Ok(Some(url.with_password(password).for_account(&account.email)))
    }

    /// Drops the cached client; returns whether one was cached.
    pub(crate) fn forget(&self, email: &str) -> bool {
        self.clients().remove(email).is_some()
    }

    /// The account's secret as the keyring holds it.
    pub(crate) async fn read_secret(&self, email: &str) -> Result<Option<Secret>, EngineError> {
        let secrets = self.secrets.clone();
        let e = email.to_string();
        Ok(tokio::task::spawn_blocking(move || secrets.get(&e))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??)
    }

    /// Writes the account's secret to the keyring.
    pub(crate) async fn write_secret(&self, email: &str, secret: &Secret) -> Result<(), SecretsError> {
        let secrets = self.secrets.clone();
        let (e, s) = (email.to_string(), secret.clone());
        match tokio::task::spawn_blocking(move || secrets.set(&e, &s)).await {
            Ok(r) => r,
            Err(j) => Err(SecretsError::Platform { action: "write", email: email.to_string(), reason: j.to_string() }),
        }
    }

    /// Deletes the account's secret from the keyring.
    pub(crate) async fn delete_secret(&self, email: &str) -> Result<(), EngineError> {
        let secrets = self.secrets.clone();
        let e = email.to_string();
        tokio::task::spawn_blocking(move || secrets.delete(&e))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        Ok(())
    }

    /// Records an account's status in the cache and tells the UI.
    pub(crate) async fn set_status(&self, email: &str, status: AccountStatus, detail: Option<String>) {
        let (e, d) = (email.to_string(), detail.clone());
        let _ = self.store.call(move |s| s.set_status(&e, status, d.as_deref())).await;
        self.sink.emit(Event::AccountStatus { email: email.to_string(), status: status.as_str().to_string(), detail });
    }

    /// Opens a signed-in session for the account: primary server first, then the fallback;
    /// with OAuth2, a refused token is refreshed once and tried once more.
    pub(crate) async fn open_session(self: &Arc<Self>, email: &str) -> Result<ImapSession, EngineError> {
        self.check_throttle(email)?;
        let client = self.client(email).await?;
        let account = &client.account;
        let proxy = client.proxy.as_ref();
        let (connect_timeout, command_timeout) = (self.sessions.connect_timeout, self.sessions.command_timeout);
        let mut last_err = None;
        for endpoint in account.endpoints() {
            let attempt = match account.auth {
                AuthMethod::Password => {
                    let password = client.secret.lock().await.clone();
                    let cred = Credential::Password { user: email, password: &password };
                    imap::connect(endpoint, &self.tls, proxy, cred, connect_timeout, command_timeout).await
                }
                AuthMethod::OAuth2 => {
                    let token = self.access_token(&client, None, false).await?;
                    if let Some(granted) = self.imap_granted(&client).await
                        && reads_without_imap(&granted)
                    {
                        // Graph can read this mailbox; IMAP was not granted, so a login would
                        // only be refused.
                        return Err(crate::oauth::OAuthError::ChannelScopeRefused {
                            email: email.to_string(),
                            channel: "IMAP",
                            scope: account.scope.clone().unwrap_or_default(),
                            description: format!("the token was granted only {granted}"),
                        }
                        .into());
                    }
                    let cred = Credential::OAuth2 { user: email, access_token: &token };
                    match imap::connect(endpoint, &self.tls, proxy, cred, connect_timeout, command_timeout).await {
                        Err(ImapError::AuthFailed { .. }) => {
                            let fresh = self.access_token(&client, Some(&token), false).await?;
                            let cred = Credential::OAuth2 { user: email, access_token: &fresh };
                            imap::connect(endpoint, &self.tls, proxy, cred, connect_timeout, command_timeout).await
                        }
                        other => other,
                    }
                }
            };
            match attempt {
                Ok(session) => {
                    if self.throttles.recovered(email) || account.status != AccountStatus::Ok {
                        self.set_status(email, AccountStatus::Ok, None).await;
                    }
                    return Ok(session);
                }
                // A proxy that is down or refuses its credentials fails the fallback server too.
                Err(ImapError::Proxy { source, .. })
                    if matches!(source, NetError::ProxyUnreachable { .. } | NetError::ProxyAuth { .. }) =>
                {
                    let err: EngineError = ImapError::Proxy { endpoint: endpoint.to_string(), source }.into();
                    self.set_status(email, AccountStatus::Error, Some(err.to_string())).await;
                    return Err(err);
                }
                Err(e @ (ImapError::Connect { .. } | ImapError::Timeout { .. } | ImapError::Proxy { .. })) => {
                    last_err = Some(e)
                }
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

/// Whether a token's granted scopes read mail (Graph's `Mail.Read`) but do not cover IMAP.
fn reads_without_imap(granted: &str) -> bool {
    let scopes: Vec<&str> = granted.split_whitespace().collect();
    !scopes.is_empty()
        && !scopes.iter().any(|s| s.contains("IMAP.") || s.starts_with("https://mail.google.com"))
        && scopes.iter().any(|s| s.contains("Mail.Read"))
}

impl SignIn {
    /// Every account's throttling.
    pub fn throttles(&self) -> &Throttles {
        &self.throttles
    }

    /// Refuses to go on with an account its server asked to be left alone (a throttle reply
    /// not yet waited out), without contacting the server.
    ///
    /// # Errors
    /// [`EngineError::BackingOff`] with the time left.
    pub(crate) fn check_throttle(&self, email: &str) -> Result<(), EngineError> {
        match self.throttles.remaining(email) {
            Some(remaining) => Err(EngineError::BackingOff { email: email.to_string(), remaining }),
            None => Ok(()),
        }
    }

    /// An operation on `email` worked: a throttled status goes back to ok.
    pub(crate) async fn succeeded(&self, email: &str) {
        if self.throttles.recovered(email) {
            self.set_status(email, AccountStatus::Ok, None).await;
        }
    }

    /// Looks at the outcome of an operation on `email`: a throttle reply is recorded (the
    /// account is left alone for the time it asked, its status says so) and the wait is
    /// returned; a success is [`SignIn::succeeded`]. Every path that talks to the server for
    /// an account (the watch, the user's fetches) reports here.
    pub(crate) async fn observe<T>(&self, email: &str, result: &Result<T, EngineError>) -> Option<Duration> {
        match result {
            Ok(_) => {
                self.succeeded(email).await;
                None
            }
            Err(EngineError::Imap(e @ ImapError::Throttled { backoff, .. })) => {
                let wait = self.throttles.note(email, *backoff);
                let detail = format!(
                    "The server is throttling this account, so Mailwatch leaves it alone for {} s and then tries again on its own ({e}).",
                    wait.as_secs_f64().ceil()
                );
                self.set_status(email, AccountStatus::Throttled, Some(detail)).await;
                Some(wait)
            }
            Err(EngineError::BackingOff { remaining, .. }) => Some(*remaining),
            Err(_) => None,
        }
    }
}

/// The session pool's way in: sessions are opened through [`SignIn`], checked with NOOP and
/// closed with LOGOUT.
pub struct ImapLogin {
    signin: Arc<SignIn>,
}

impl ImapLogin {
    /// Opens sessions through `signin`.
    pub(crate) fn new(signin: Arc<SignIn>) -> Self {
        Self { signin }
    }

    /// The sign-in layer behind the pool (its throttling among it).
    pub(crate) fn signin(&self) -> &Arc<SignIn> {
        &self.signin
    }
}

impl Connect for ImapLogin {
    type Session = ImapSession;
    type Error = EngineError;

    async fn connect(&self, key: &str) -> Result<ImapSession, EngineError> {
        self.signin.open_session(key).await
    }

    async fn recycle(&self, session: &mut ImapSession) -> Result<(), EngineError> {
        Ok(session.noop().await?)
    }

    async fn close(&self, session: ImapSession) {
        session.logout(self.signin.sessions.logout_timeout).await;
    }
}

#[cfg(test)]
mod tests {
    use super::reads_without_imap;

    #[test]
    fn a_token_granted_mail_reading_without_imap_goes_to_graph() {
        assert!(reads_without_imap("https://graph.microsoft.com/Mail.Read"));
        assert!(reads_without_imap("Mail.Read User.Read"));
        assert!(!reads_without_imap("https://outlook.office.com/IMAP.AccessAsUser.All"), "IMAP granted");
        assert!(!reads_without_imap("https://outlook.office.com/IMAP.AccessAsUser.All Mail.Read"));
        assert!(!reads_without_imap(""), "nothing said, nothing known");
        assert!(!reads_without_imap("https://mail.google.com/"));
    }
}
