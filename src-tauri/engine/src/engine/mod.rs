//! [`Engine`]: the one object the shell and the CLI talk to.
//!
//! It owns the layers below it (the sign-in layer with its client cache, the session pool,
//! the intake, the watcher) and sequences them; the rules live in those layers. Every method
//! is async and safe to call from many tasks at once. One file per area:
//!
//! - `mod.rs`: opening, accounts, counters, shutdown, the settings the shell keeps;
//! - `sync.rs`: listing, polling and showing messages, waiting for a code;
//! - `watching.rs`: the user's choice of watched accounts, pause, subscriptions;
//! - `tokens.rs`: verifying accounts and refreshing tokens, one or many;
//! - `import.rs`: importing and exporting account files.

mod import;
mod labels;
mod send;
mod sync;
mod tokens;
mod watching;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::error::EngineError;
pub use crate::import::{ImportOptions, ImportReport};
pub use crate::progress::{AccountCheck, BatchControl, CancellationToken, CheckReport, Progress, ProgressFn};
pub use crate::signin::ClientCacheStats;
pub use labels::{ProxyTarget, ProxyTestReport};
pub use sync::WaitOptions;

use crate::account::{Account, AccountSpec, AuthMethod, Channel};
use crate::channel::Channels;
use crate::config::Config;
use crate::events::EventSink;
use crate::graph::{Graph, GraphStats};
use crate::imap::{TlsSetup, TlsStats};
use crate::intake::Intake;
use crate::oauth::OAuth;
use crate::outbox::{Outbox, SendStats};
use crate::pool::{PoolStats, SessionPool};
use crate::secrets::{KeyringSecrets, Secret, SecretStore};
use crate::signin::{ImapLogin, SignIn, SmtpLogin};
use crate::store::{AccountOverview, CodeRecord, Store};
use crate::watch::{WatchStats, Watcher};

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
    /// Watched accounts: how many are pushed, polled and queued for a login, the login
    /// budget, and the poll interval the round robin reaches.
    #[serde(default)]
    pub watch: WatchStats,
    /// Sending: SMTP connections and messages.
    #[serde(flatten, default)]
    pub send: SendStats,
    /// Microsoft Graph: requests, throttled answers, retries, messages read.
    #[serde(flatten, default)]
    pub graph: GraphStats,
    /// Throttle replies received, and the accounts left alone or slowed now because of them.
    #[serde(flatten, default)]
    pub throttle: crate::signin::ThrottleStats,
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
    store: Store,
    config: Config,
    sink: Arc<dyn EventSink>,
    signin: Arc<SignIn>,
    intake: Intake,
    pool: SessionPool<ImapLogin>,
    outbox: Outbox,
    watcher: Watcher,
    channels: Arc<Channels>,
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
        let smtp_tls = crate::smtp::SmtpTls::new(extra_ca.as_deref(), tls.clone());
        let oauth = OAuth::new(&config.http)?;
        let graph = Graph::new(&config.graph, &config.http, tls.client_config())?;
        let secrets = options
            .secrets
            .clone()
            .unwrap_or_else(|| Arc::new(KeyringSecrets::default().with_lock_timeout(config.secrets.lock_timeout)));
        let signin = Arc::new(SignIn::new(
            store.clone(),
            secrets,
            oauth,
            tls,
            config.pool.clone(),
            &config.http,
            &config.watch,
            sink.clone(),
        ));
        let pool = SessionPool::new(ImapLogin::new(signin.clone()), config.pool.clone());
        let smtp_login =
            SmtpLogin::new(signin.clone(), smtp_tls, config.smtp.connect_timeout, config.smtp.command_timeout);
        let outbox = Outbox::new(smtp_login, config.smtp.clone());
        let intake = Intake::new(store.clone(), sink.clone());
        let channels = Arc::new(Channels::new(signin.clone(), graph, intake.clone(), store.clone(), config.clone()));
        let choice = store.call(crate::watch::choice::load).await?;
        let watcher = Watcher::new(
            pool.clone(),
            intake.clone(),
            channels.clone(),
            store.clone(),
            config.clone(),
            sink.clone(),
            choice,
        );
        let engine = Engine { store, config, sink, signin, intake, pool, outbox, watcher, channels, data_dir, options };
        if let Err(e) = engine.prune_history(crate::clock::unix_now()).await {
            tracing::warn!("cannot prune old codes from the cache: {e}");
        }
        Ok(engine)
    }

    /// Where the accounts' secrets live (the OS keyring unless the options gave a store);
    /// the local API keeps the app's own key there too.
    pub fn secrets(&self) -> &Arc<dyn SecretStore> {
        self.signin.secrets()
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
        &self.config
    }

    /// The limits stored in the cache's settings, which take effect at the next start.
    ///
    /// # Errors
    /// The cache cannot be read.
    pub async fn saved_config(&self) -> Result<Config, EngineError> {
        Ok(self.store.call(|s| s.config()).await?)
    }

    /// Stores limits for the next start (the ones in force do not change).
    ///
    /// # Errors
    /// [`EngineError::Settings`] (`invalid_settings`) for a value outside its range, naming
    /// the setting; the cache cannot be written.
    pub async fn save_config(&self, config: &Config) -> Result<(), EngineError> {
        config.validate()?;
        let config = config.clone();
        Ok(self.store.call(move |s| s.set_config(&config)).await?)
    }

    /// A value the shell keeps in the cache's settings (its preferences, under keys of its
    /// own such as `app.prefs`).
    ///
    /// # Errors
    /// The cache cannot be read.
    pub async fn setting(&self, key: &str) -> Result<Option<serde_json::Value>, EngineError> {
        let key = key.to_string();
        Ok(self.store.call(move |s| s.setting(&key)).await?)
    }

    /// Stores a value of the shell's in the cache's settings. The engine's own keys
    /// (`config`, `watch.choice`) are refused: they change through their own methods.
    ///
    /// # Errors
    /// [`EngineError::InvalidInput`] for an engine key; the cache cannot be written.
    pub async fn set_setting(&self, key: &str, value: &serde_json::Value) -> Result<(), EngineError> {
        if key == crate::store::CONFIG_KEY || key.starts_with("watch.") {
            return Err(EngineError::InvalidInput(format!("cannot write the setting {key}: the engine keeps it")));
        }
        let (key, value) = (key.to_string(), value.clone());
        Ok(self.store.call(move |s| s.set_setting(&key, &value)).await?)
    }

    /// The codes history across all accounts, most recently found first, at most `limit`
    /// (and never more than `cache.maxTop`).
    ///
    /// # Errors
    /// The cache cannot be read.
    pub async fn recent_codes(&self, limit: usize) -> Result<Vec<CodeRecord>, EngineError> {
        let limit = limit.min(self.config.cache.max_top);
        Ok(self.store.call(move |s| s.recent_codes(limit)).await?)
    }

    /// The code most recently found in one account, from the cache (no IMAP).
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; the cache cannot be read.
    pub async fn last_code(&self, email: &str) -> Result<Option<CodeRecord>, EngineError> {
        let email = self.account(email).await?.email;
        Ok(self.store.call(move |s| s.last_code_for(&email)).await?)
    }

    /// For every account: when it was last synced and its newest code.
    ///
    /// # Errors
    /// The cache cannot be read.
    pub async fn account_overview(&self) -> Result<std::collections::HashMap<String, AccountOverview>, EngineError> {
        Ok(self.store.call(|s| s.account_overview()).await?)
    }

    /// Deletes codes, links and cached messages older than `cache.codeRetention` as of `now`
    /// (Unix seconds), unless it is 0 (forever); returns how many codes and messages went.
    /// The engine does it when it opens; the token keeper once a round.
    ///
    /// # Errors
    /// The cache cannot be written.
    pub async fn prune_history(&self, now: i64) -> Result<(usize, usize), EngineError> {
        let keep = self.config.cache.code_retention.as_secs();
        if keep == 0 {
            return Ok((0, 0));
        }
        let before = now.saturating_sub(i64::try_from(keep).unwrap_or(i64::MAX));
        Ok(self.store.call(move |s| s.prune_history(before)).await?)
    }

    /// Every account, in the order they were added.
    ///
    /// # Errors
    /// The cache cannot be read.
    pub async fn accounts(&self) -> Result<Vec<Account>, EngineError> {
        Ok(self.store.call(|s| s.accounts()).await?)
    }

    /// Sets how an account's mail is read: `auto` (IMAP, moving to Microsoft Graph when IMAP
    /// refuses the account in a way Graph cures), `imap` or `graph`. The channel that worked
    /// last is forgotten, and the account's watch takes the new channel at its next round.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; `graph` for an account Graph cannot read; the cache
    /// cannot be written.
    pub async fn set_channel(&self, email: &str, channel: Channel) -> Result<Account, EngineError> {
        let account = self.account(email).await?;
        if channel == Channel::Graph && account.graph_scope().is_none() {
            return Err(crate::account::AccountError::GraphUnavailable { email: account.email }.into());
        }
        let e = account.email.clone();
        self.store.call(move |s| s.set_channel(&e, channel)).await?;
        self.watcher.nudge(&account.email);
        self.account(&account.email).await
    }

    /// One account.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; the cache cannot be read.
    pub async fn account(&self, email: &str) -> Result<Account, EngineError> {
        let email = crate::account::normalize_email(email)?;
        let e = email.clone();
        self.store.call(move |s| s.account(&e)).await?.ok_or(EngineError::UnknownAccount { email })
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
        self.store_spec_proxy(spec.proxy.as_deref()).await?;
        self.signin.write_secret(&account.email, &secret).await?;
        self.signin.discard_unsaved(&account.email);
        self.store_account(account).await
    }

    /// Adds an account whose secret the keyring already holds: another cache over the same
    /// keyring (the benchmark's own file) takes the account over.
    ///
    /// # Errors
    /// [`EngineError::MissingSecret`] when the keyring has no secret for it; the keyring or
    /// the cache failed.
    pub async fn adopt_account(&self, account: &Account) -> Result<Account, EngineError> {
        if self.signin.read_secret(&account.email).await?.is_none() {
            return Err(EngineError::MissingSecret {
                email: account.email.clone(),
                what: if account.auth == AuthMethod::OAuth2 { "refresh token" } else { "password" },
            });
        }
        self.store_account(account.clone()).await
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
        self.store_spec_proxy(spec.proxy.as_deref()).await?;
        self.store_account(account).await
    }

    /// Writes the account's row, then drops its old client and sessions: the secret or the
    /// servers may have changed, and nobody may use the old ones after this.
    async fn store_account(&self, account: Account) -> Result<Account, EngineError> {
        let a = account.clone();
        self.store.call(move |s| s.upsert_account(&a)).await?;
        self.forget_client(&account.email).await;
        Ok(account)
    }

    /// Removes an account: its watch (and its place among the watched accounts, paused or
    /// not), its sessions, its cached client, its cache rows and its keyring entry.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; the keyring or the cache failed.
    pub async fn remove_account(&self, email: &str) -> Result<(), EngineError> {
        let email = crate::account::normalize_email(email)?;
        self.watcher.forget(&email).await?;
        self.forget_client(&email).await;
        let e = email.clone();
        let existed = self.store.call(move |s| s.remove_account(&e)).await?;
        self.signin.delete_secret(&email).await?;
        self.signin.discard_unsaved(&email);
        if existed { Ok(()) } else { Err(EngineError::UnknownAccount { email }) }
    }

    /// Forgets the account's client and closes its sessions, so the next request builds a
    /// new client (refreshing its token) and logs in again. The benchmark's new-client mode
    /// uses this.
    pub async fn forget_client(&self, email: &str) {
        self.signin.forget(email);
        self.pool.invalidate(email).await;
        self.outbox.invalidate(email).await;
    }

    /// The counters.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            pool: self.pool.stats(),
            clients: self.signin.stats(),
            tls: self.signin.tls().stats(),
            watch: self.watcher.stats(),
            send: self.outbox.stats(),
            graph: self.channels.stats(),
            throttle: self.signin.throttles().stats(),
        }
    }

    /// Stops the watches (ending IDLE with DONE), then stops the pool and logs out of every
    /// idle session, each within the command timeout.
    pub async fn shutdown(&self) {
        let deadline = self.config.pool.command_timeout;
        self.watcher.shutdown(deadline).await;
        // A rotated token the keyring refused lives only in memory: one last try.
        let _ = tokio::time::timeout(deadline, self.signin.save_all_unsaved()).await;
        let _ = tokio::time::timeout(deadline, self.pool.close()).await;
        let _ = tokio::time::timeout(deadline, self.outbox.close()).await;
    }
}
