//! [`Engine`]: the one object the shell and the CLI talk to.
//!
//! It owns the cache, the keyring access, the one OAuth2 HTTP client, the client cache and
//! the session pool, and it runs extraction on every message it fetches. Every method is
//! async and safe to call from many tasks at once.

mod batch;
pub(crate) mod clients;
mod error;
pub(crate) mod sync;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use batch::{
    AccountCheck, BatchControl, CancellationToken, CheckReport, ImportOptions, ImportReport, Progress, ProgressFn,
};
pub use clients::ClientCacheStats;
pub use error::EngineError;
pub use sync::WaitOptions;

use crate::account::{Account, AccountSpec, AuthMethod};
use crate::config::Config;
use crate::events::EventSink;
use crate::imap::{TlsSetup, TlsStats};
use crate::oauth::OAuth;
use crate::pool::{PoolStats, SessionPool};
use crate::secrets::{KeyringSecrets, Secret, SecretStore};
use crate::store::Store;
use crate::watch::{CodeSubscription, WatchStats, WatchStatus, Watcher};
use clients::{Connector, ImapManager};

/// Where the engine keeps its files, which extra CA it trusts, and which limits apply.
#[derive(Clone, Default)]
pub struct EngineOptions {
    /// Data directory; `None` means `MAILWATCH_DATA_DIR` or the platform default.
    pub data_dir: Option<PathBuf>,
    /// The SQLite file; `None` means `mailwatch.db` in the data directory.
    pub database_path: Option<PathBuf>,
    /// A PEM file of extra CA certificates to trust for IMAP (`MAILWATCH_EXTRA_CA`).
    pub extra_ca: Option<PathBuf>,
    /// Limits to use instead of the ones saved in the cache's settings.
    pub config: Option<Config>,
    /// Where secrets live; `None` means the OS keyring.
    pub secrets: Option<Arc<dyn SecretStore>>,
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("data_dir", &self.data_dir)
            .field("database_path", &self.database_path)
            .field("extra_ca", &self.extra_ca)
            .finish()
    }
}

/// The platform's data directory for Mailwatch (XDG on Linux), or `MAILWATCH_DATA_DIR`.
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MAILWATCH_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    directories::ProjectDirs::from("app", "Mailwatch", "mailwatch").map(|p| p.data_dir().to_path_buf())
}

/// The pool's and the client cache's counters together, as `stats` prints them, with the
/// TLS handshakes and the watcher's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Session counters.
    #[serde(flatten)]
    pub pool: PoolStats,
    /// Client cache counters.
    #[serde(flatten)]
    pub clients: ClientCacheStats,
    /// Full and resumed TLS handshakes.
    #[serde(flatten)]
    pub tls: TlsStats,
    /// Watched accounts, the round robin's login budget and the poll interval it reaches.
    #[serde(default)]
    pub watch: WatchStats,
}

/// What the user gives as an account's secret.
pub enum NewSecret {
    /// An OAuth2 refresh token.
    RefreshToken(Secret),
    /// A password or app password.
    Password(Secret),
}

/// The engine.
pub struct Engine {
    connector: Arc<Connector>,
    pool: SessionPool<ImapManager>,
    watcher: Watcher,
    data_dir: PathBuf,
    options: EngineOptions,
}

impl Engine {
    /// Opens the cache and starts the pool (with its reaper).
    ///
    /// # Errors
    /// The data directory or the cache cannot be opened, or the extra CA is unusable.
    pub async fn open(options: EngineOptions, sink: Arc<dyn EventSink>) -> Result<Engine, EngineError> {
        let data_dir = options.data_dir.clone().or_else(default_data_dir).ok_or_else(|| EngineError::DataDir {
            path: "(none)".into(),
            reason: "no home directory is known; pass --data-dir or set MAILWATCH_DATA_DIR".into(),
        })?;
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| EngineError::DataDir { path: data_dir.display().to_string(), reason: e.to_string() })?;
        let db = options.database_path.clone().unwrap_or_else(|| data_dir.join("mailwatch.db"));
        let store = tokio::task::spawn_blocking(move || Store::open(&db))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        let config = match options.config.clone() {
            Some(c) => c,
            None => store.call(|s| s.config()).await?,
        };
        let extra_ca = options
            .extra_ca
            .clone()
            .or_else(|| std::env::var_os("MAILWATCH_EXTRA_CA").filter(|v| !v.is_empty()).map(PathBuf::from));
        let tls = TlsSetup::new(extra_ca.as_deref())?;
        let oauth = OAuth::new(&config.http)?;
        let secrets = options.secrets.clone().unwrap_or_else(|| Arc::new(KeyringSecrets::default()));
        let connector = Arc::new(Connector::new(store, secrets, oauth, tls, config.clone(), sink));
        let pool = SessionPool::new(ImapManager { connector: connector.clone() }, config.pool.clone());
        let watcher = Watcher::new(pool.clone(), connector.clone());
        Ok(Engine { connector, pool, watcher, data_dir, options })
    }

    /// The data directory in use.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The options the engine was opened with, to open another over the same data (the
    /// benchmark does, with its own cache file).
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The limits in force.
    pub fn config(&self) -> &Config {
        &self.connector.config
    }

    /// The cache, for callers that read history or settings directly.
    pub fn store(&self) -> &Store {
        &self.connector.store
    }

    /// Every account, in the order they were added.
    ///
    /// # Errors
    /// The cache cannot be read.
    pub async fn accounts(&self) -> Result<Vec<Account>, EngineError> {
        Ok(self.connector.store.call(|s| s.accounts()).await?)
    }

    /// One account.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; the cache cannot be read.
    pub async fn account(&self, email: &str) -> Result<Account, EngineError> {
        let email = crate::account::normalize_email(email)?;
        let e = email.clone();
        self.connector.store.call(move |s| s.account(&e)).await?.ok_or(EngineError::UnknownAccount { email })
    }

    /// Adds an account, or updates it if the address is already known. The secret goes to
    /// the keyring first, then the account to the cache, so a crash in between leaves no
    /// account without its secret. An update closes the old client and its sessions.
    ///
    /// # Errors
    /// Invalid details; the keyring or the cache failed.
    pub async fn add_account(&self, spec: &AccountSpec, secret: NewSecret) -> Result<Account, EngineError> {
        let (secret, is_token) = match secret {
            NewSecret::RefreshToken(s) => (s, true),
            NewSecret::Password(s) => (s, false),
        };
        let mut spec = spec.clone();
        if spec.auth.is_none() {
            spec.auth = Some(if is_token { AuthMethod::OAuth2 } else { AuthMethod::Password });
        }
        let account = Account::from_spec(&spec, is_token)?;
        if secret.is_empty() {
            return Err(EngineError::MissingSecret {
                email: account.email.clone(),
                what: if is_token { "refresh token" } else { "password" },
            });
        }
        self.connector.write_secret(&account.email, &secret).await?;
        self.store_account(account).await
    }

    /// Changes a known account's details (servers, client id, ...) and keeps its stored
    /// secret. Switching between password and OAuth2 needs the new secret, so it goes
    /// through [`Engine::add_account`] instead. The old client and its sessions close.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; [`EngineError::MissingSecret`] when the sign-in method
    /// changes; invalid details; the cache failed.
    pub async fn update_account(&self, spec: &AccountSpec) -> Result<Account, EngineError> {
        let known = self.account(&spec.email).await?;
        let mut spec = spec.clone();
        let auth = *spec.auth.get_or_insert(known.auth);
        let is_token = auth == AuthMethod::OAuth2;
        if auth != known.auth {
            return Err(EngineError::MissingSecret {
                email: known.email,
                what: if is_token { "refresh token" } else { "password" },
            });
        }
        let mut account = Account::from_spec(&spec, is_token)?;
        account.status = known.status;
        account.status_detail = known.status_detail;
        self.store_account(account).await
    }

    /// Writes the account's row, then drops its old client and sessions: the secret or the
    /// servers may have changed, and nobody may use the old ones after this.
    async fn store_account(&self, account: Account) -> Result<Account, EngineError> {
        let a = account.clone();
        self.connector.store.call(move |s| s.upsert_account(&a)).await?;
        self.connector.forget(&account.email);
        self.pool.invalidate(&account.email).await;
        Ok(account)
    }

    /// Removes an account: its sessions, its cached client, its cache rows and its keyring
    /// entry.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; the keyring or the cache failed.
    pub async fn remove_account(&self, email: &str) -> Result<(), EngineError> {
        let email = crate::account::normalize_email(email)?;
        self.pool.invalidate(&email).await;
        self.connector.forget(&email);
        let e = email.clone();
        let existed = self.connector.store.call(move |s| s.remove_account(&e)).await?;
        let secrets = self.connector.secrets.clone();
        let e = email.clone();
        tokio::task::spawn_blocking(move || secrets.delete(&e))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        if existed { Ok(()) } else { Err(EngineError::UnknownAccount { email }) }
    }

    /// Forgets the account's client and closes its sessions, so the next request builds a
    /// new client (refreshing its token) and logs in again. The benchmark's new-client mode
    /// uses this.
    pub async fn forget_client(&self, email: &str) {
        self.connector.forget(email);
        self.pool.invalidate(email).await;
    }

    /// The counters.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            pool: self.pool.stats(),
            clients: self.connector.stats(),
            tls: self.connector.tls.stats(),
            watch: self.watcher.stats(),
        }
    }

    /// Watches an account for new mail until [`Engine::unwatch`]: it is polled in turn
    /// with the other watched accounts (every `watch.pollInterval`), and while someone waits
    /// on it, it is watched with IMAP IDLE. Codes found are announced as events.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; the cache cannot be read.
    pub async fn watch(&self, email: &str) -> Result<(), EngineError> {
        let email = self.account(email).await?.email;
        self.watcher.watch(&email);
        Ok(())
    }

    /// Stops watching an account (a wait in progress keeps its watch until it ends).
    ///
    /// # Errors
    /// The address is invalid.
    pub async fn unwatch(&self, email: &str) -> Result<(), EngineError> {
        let email = crate::account::normalize_email(email)?;
        self.watcher.unwatch(&email);
        Ok(())
    }

    /// Codes arriving in an account from now on. The account is watched with IDLE while
    /// the subscription lives; wait for [`CodeSubscription::ready`] to know the baseline is
    /// taken.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; the cache cannot be read.
    pub async fn subscribe_codes(&self, email: &str) -> Result<CodeSubscription, EngineError> {
        let email = self.account(email).await?.email;
        Ok(self.watcher.subscribe(&email))
    }

    /// What each watched account's watch is doing.
    pub fn watch_statuses(&self) -> Vec<WatchStatus> {
        self.watcher.statuses()
    }

    /// Appends a message to a folder of the account (benchmarks and tests deliver mail this
    /// way), on the account's pooled session.
    ///
    /// # Errors
    /// Unknown account; sign-in, network or pool failures; the server refused.
    pub async fn append(&self, email: &str, folder: &crate::imap::FolderSpec, raw: &[u8]) -> Result<(), EngineError> {
        let email = self.account(email).await?.email;
        self.with_session(&email, |s| {
            let (folder, raw) = (folder.clone(), raw.to_vec());
            Box::pin(async move {
                let name = s.resolve(&folder).await?;
                Ok(s.append(&name, &raw).await?)
            })
        })
        .await
    }

    /// Stops the watches (ending IDLE with DONE), then stops the pool and logs out of every
    /// idle session, each within the command timeout.
    pub async fn shutdown(&self) {
        let deadline = self.connector.config.pool.command_timeout;
        self.watcher.shutdown(deadline).await;
        let _ = tokio::time::timeout(deadline, self.pool.close()).await;
    }
}
