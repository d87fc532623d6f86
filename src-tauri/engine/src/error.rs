//! The engine's one error type: every module's error, plus the facade's own, each with a
//! stable [`EngineError::code`] the UI and the CLI branch on.

use std::time::Duration;

use crate::account::AccountError;
use crate::config::ConfigError;
use crate::graph::GraphError;
use crate::imap::{ImapError, TlsSetupError};
use crate::oauth::OAuthError;
use crate::pool::PoolError;
use crate::secrets::SecretsError;
use crate::smtp::SmtpError;
use crate::smtp::compose::ComposeError;
use crate::store::StoreError;

/// What went wrong, in words a user can act on. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad account details.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// No such account in the cache.
    #[error("cannot find account {email}: add it first with `accounts add`")]
    UnknownAccount {
        /// The address asked for.
        email: String,
    },
    /// The message was deleted or moved since it was listed.
    #[error("cannot show message {uid} of {folder} in {email}: it is no longer there (deleted or moved)")]
    MessageGone {
        /// The account.
        email: String,
        /// The folder it was in.
        folder: String,
        /// Its UID there.
        uid: u32,
    },
    /// The keyring failed.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The account's secret is missing from the keyring.
    #[error("cannot sign in to {email}: its {what} is missing from the system keyring; add the account again")]
    MissingSecret {
        /// The account.
        email: String,
        /// "refresh token" or "password".
        what: &'static str,
    },
    /// The provider rotated the refresh token and the keyring would not take the new one; it is
    /// kept in memory, used, and stored again later.
    #[error(
        "cannot save the new refresh token for {email} to the keyring ({source}); Mailwatch keeps using it and saves it as soon as the keyring takes it, so do not quit until this clears"
    )]
    RotationNotSaved {
        /// The account.
        email: String,
        /// Why the keyring refused.
        #[source]
        source: SecretsError,
    },
    /// Token refresh failed.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// IMAP failed.
    #[error(transparent)]
    Imap(#[from] ImapError),
    /// A proxy could not be used, or its URL is not one Mailwatch understands.
    #[error(transparent)]
    Proxy(#[from] crate::net::NetError),
    /// SMTP failed.
    #[error(transparent)]
    Smtp(#[from] SmtpError),
    /// Microsoft Graph failed.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// An `auto` account that neither IMAP nor Microsoft Graph would read.
    #[error("cannot read {email} over IMAP ({imap}) nor through Microsoft Graph ({graph})")]
    NoChannel {
        /// The account.
        email: String,
        /// Why IMAP refused, in the provider's words.
        imap: String,
        /// Why Graph refused, in the provider's words.
        graph: String,
    },
    /// A message that cannot be built as given.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// The account has no known submission server.
    #[error(
        "cannot send from {email}: no SMTP server is known for it; give the account its SMTP server (host, port and TLS: in the app's account settings, or --smtp-host, --smtp-port and --smtp-tls with `accounts add`)"
    )]
    NoSmtpServer {
        /// The account.
        email: String,
    },
    /// The account's server throttled it and the time it asked for has not passed yet, so
    /// Mailwatch does not contact it.
    #[error(
        "{email} is left alone for another {} s because its server is throttling it; Mailwatch tries again then on its own",
        remaining.as_secs_f64().ceil()
    )]
    BackingOff {
        /// The account.
        email: String,
        /// The time left.
        remaining: Duration,
    },
    /// Every allowed session stayed busy for the whole wait.
    #[error("{message}")]
    PoolExhausted {
        /// The pool's sentence, e.g. "pool exhausted for a@b.c: 1 in use, waited 30 s".
        message: String,
        /// The account.
        email: String,
        /// How long the caller waited.
        waited: Duration,
    },
    /// The cache failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The extra CA could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The data directory is unusable.
    #[error("cannot use the data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// No code arrived in time.
    #[error("no verification code arrived for {email} within {} s (inbox and junk were checked)", waited.as_secs())]
    WaitTimedOut {
        /// The account.
        email: String,
        /// The timeout.
        waited: Duration,
    },
    /// A watch failed in a way waiting will not fix; every waiter on the account gets it, so
    /// the cause is shared. Its code and sentence are the cause's.
    #[error("{source}")]
    Watch {
        /// The account.
        email: String,
        /// What went wrong.
        #[source]
        source: std::sync::Arc<EngineError>,
    },
    /// A request that cannot be carried out as given (a file that cannot be read, a missing
    /// confirmation).
    #[error("{0}")]
    InvalidInput(String),
    /// A token operation on an account that signs in with a password.
    #[error("{email} signs in with a password; it has no token to refresh")]
    NotOAuth {
        /// The account.
        email: String,
    },
    /// A setting outside its range.
    #[error(transparent)]
    Settings(#[from] ConfigError),
    /// The engine is shutting down.
    #[error("cannot do that: Mailwatch is shutting down")]
    Closed,
    /// A background task died.
    #[error("an internal task failed: {0}")]
    Internal(String),
}

impl EngineError {
    /// A stable snake_case name for the kind of failure, for the UI and for exit codes.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Account(_) => "invalid_account",
            EngineError::UnknownAccount { .. } => "unknown_account",
            EngineError::MessageGone { .. } => "message_gone",
            EngineError::Secrets(SecretsError::Unavailable { .. }) => "keyring_unavailable",
            EngineError::Secrets(SecretsError::Locked { .. }) => "keyring_locked",
            EngineError::Secrets(SecretsError::Busy { .. }) => "keyring_busy",
            EngineError::Secrets(_) => "keyring_error",
            EngineError::MissingSecret { .. } => "missing_secret",
            EngineError::RotationNotSaved { .. } => "rotation_not_saved",
            EngineError::OAuth(e) if e.needs_reauth() => "needs_reauth",
            EngineError::OAuth(OAuthError::ScopeNotGranted { .. } | OAuthError::ChannelScopeRefused { .. }) => {
                "scope_not_granted"
            }
            EngineError::OAuth(OAuthError::Unreachable { .. }) => "token_endpoint_unreachable",
            EngineError::OAuth(_) => "oauth_error",
            EngineError::Imap(ImapError::AuthFailed { .. }) => "auth_failed",
            EngineError::Imap(ImapError::Connect { .. }) => "server_unreachable",
            EngineError::Imap(ImapError::Proxy { .. }) | EngineError::Smtp(SmtpError::Proxy { .. }) => "proxy_error",
            EngineError::Proxy(crate::net::NetError::InvalidProxy { .. }) => "invalid_proxy",
            EngineError::Proxy(_) => "proxy_error",
            EngineError::Imap(ImapError::Tls { .. }) => "tls_error",
            EngineError::Imap(ImapError::Timeout { .. }) => "timeout",
            EngineError::Imap(ImapError::NoSuchFolder { .. }) => "unknown_folder",
            EngineError::Imap(ImapError::TooManyConnections { .. }) => "server_connection_limit",
            EngineError::Imap(ImapError::Throttled { .. }) => "throttled",
            EngineError::Imap(_) => "imap_error",
            EngineError::PoolExhausted { .. } => "pool_exhausted",
            EngineError::BackingOff { .. } => "throttled",
            EngineError::Smtp(SmtpError::AuthFailed { .. }) => "auth_failed",
            EngineError::Smtp(SmtpError::Connect { .. }) => "server_unreachable",
            EngineError::Smtp(SmtpError::Tls { .. } | SmtpError::NoStarttls { .. }) => "tls_error",
            EngineError::Smtp(SmtpError::Timeout { .. }) => "timeout",
            EngineError::Smtp(SmtpError::Refused { transient: true, .. }) => "smtp_deferred",
            EngineError::Smtp(SmtpError::Refused { .. }) => "smtp_refused",
            EngineError::Smtp(_) => "smtp_error",
            EngineError::Graph(GraphError::Refused { .. }) => "auth_failed",
            EngineError::Graph(GraphError::Throttled { .. }) => "throttled",
            EngineError::Graph(GraphError::NotFound { .. }) => "message_gone",
            EngineError::Graph(GraphError::Unreachable { .. }) => "server_unreachable",
            EngineError::Graph(_) => "graph_error",
            EngineError::NoChannel { .. } => "scope_not_granted",
            EngineError::Compose(_) => "invalid_message",
            EngineError::NoSmtpServer { .. } => "no_smtp_server",
            EngineError::Store(_) => "cache_error",
            EngineError::Tls(_) => "extra_ca_invalid",
            EngineError::DataDir { .. } => "data_dir_unusable",
            EngineError::WaitTimedOut { .. } => "wait_timed_out",
            EngineError::Watch { source, .. } => source.code(),
            EngineError::NotOAuth { .. } => "not_oauth",
            EngineError::InvalidInput(_) => "invalid_input",
            EngineError::Settings(_) => "invalid_settings",
            EngineError::Closed => "shutting_down",
            EngineError::Internal(_) => "internal",
        }
    }

    /// Whether the connection is gone, so a fresh session may succeed.
    pub(crate) fn is_connection_error(&self) -> bool {
        match self {
            EngineError::Imap(e) => e.is_connection_error(),
            // Graph's passing troubles: the watch retries them with its backoff.
            EngineError::Graph(
                GraphError::Throttled { .. } | GraphError::Unreachable { .. } | GraphError::DeltaExpired { .. },
            ) => true,
            EngineError::Graph(GraphError::Status { status, .. }) => *status >= 500,
            _ => false,
        }
    }
}

impl From<PoolError<EngineError>> for EngineError {
    fn from(e: PoolError<EngineError>) -> Self {
        match e {
            PoolError::Connect(e) => e,
            PoolError::Closed => EngineError::Closed,
            w @ PoolError::WaitTimeout { .. } => {
                let message = w.to_string();
                let PoolError::WaitTimeout { key, waited, .. } = w else { unreachable!() };
                EngineError::PoolExhausted { message, email: key, waited }
            }
        }
    }
}
