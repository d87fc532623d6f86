//! Refresh tokens and passwords, kept only in the OS keyring.
//!
//! Secrets never touch SQLite, logs or error messages: [`Secret`] has no `Display`, its
//! `Debug` is masked, and every [`SecretsError`] is built from what went wrong, never from
//! the stored bytes. There is no in-memory or plaintext fallback: with no reachable keyring
//! the caller gets [`SecretsError::Unavailable`], which says what to install or start.
//!
//! Keyring calls block (D-Bus round trips on Linux); async callers run them on a blocking
//! thread.

use std::fmt;

/// A refresh token or password. Cloning is cheap enough; printing is impossible.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value, trimming surrounding whitespace (a pasted token often has a
    /// trailing newline).
    pub fn new(value: impl Into<String>) -> Secret {
        let v: String = value.into();
        let trimmed = v.trim();
        Secret(if trimmed.len() == v.len() { v } else { trimmed.to_string() })
    }

    /// The value, for the one place that must send it (the token endpoint or LOGIN).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why the keyring could not do what was asked. None of these carry the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// No Secret Service (or platform keyring) can be reached at all.
    #[error(
        "cannot reach the system keyring: {reason}. Mailwatch keeps tokens and passwords only \
         there. On Linux, install and start a Secret Service provider in your desktop session \
         (for example `apt install gnome-keyring` and log in again, or enable KeePassXC's \
         Secret Service integration), then try again"
    )]
    Unavailable {
        /// What the platform said, without any secret.
        reason: String,
    },
    /// The keyring exists but is locked, or the unlock prompt was dismissed.
    #[error(
        "cannot use the system keyring: it is locked ({reason}). Unlock it (log in to your desktop session or open your keyring app) and try again"
    )]
    Locked {
        /// What the platform said.
        reason: String,
    },
    /// The stored value is not usable text.
    #[error("cannot read the keyring entry for {email}: it is not valid text; add the account again")]
    Corrupt {
        /// The account.
        email: String,
    },
    /// Anything else the platform reported.
    #[error("cannot {action} the keyring entry for {email}: {reason}")]
    Platform {
        /// "read", "write" or "delete".
        action: &'static str,
        /// The account.
        email: String,
        /// What the platform said.
        reason: String,
    },
}

/// Where secrets are kept. The engine uses [`KeyringSecrets`]; tests of other modules may
/// provide their own.
pub trait SecretStore: Send + Sync + 'static {
    /// The account's secret, or `None` if none is stored.
    ///
    /// # Errors
    /// The keyring is unreachable, locked, or failed.
    fn get(&self, email: &str) -> Result<Option<Secret>, SecretsError>;

    /// Stores (or replaces) the account's secret.
    ///
    /// # Errors
    /// The keyring is unreachable, locked, or failed.
    fn set(&self, email: &str, secret: &Secret) -> Result<(), SecretsError>;

    /// Removes the account's secret; removing a missing one is not an error.
    ///
    /// # Errors
    /// The keyring is unreachable, locked, or failed.
    fn delete(&self, email: &str) -> Result<(), SecretsError>;
}

/// The OS keyring through the `keyring` crate: Secret Service on Linux, Keychain on macOS,
/// Credential Manager on Windows. Entries are `(service, email)`.
#[derive(Debug, Clone)]
pub struct KeyringSecrets {
    service: String,
}

/// The keyring service name shared by the app and the CLI, so each sees the other's
/// accounts.
pub const DEFAULT_SERVICE: &str = "mailwatch";

impl Default for KeyringSecrets {
    fn default() -> Self {
        Self::new(DEFAULT_SERVICE)
    }
}

impl KeyringSecrets {
    /// A store whose entries carry the given service name.
    pub fn new(service: impl Into<String>) -> Self {
        Self { service: service.into() }
    }

    /// Checks that a real keyring backend is reachable, without touching any entry.
    ///
    /// # Errors
    /// [`SecretsError::Unavailable`] with the platform's reason.
    pub fn check_available(&self) -> Result<(), SecretsError> {
        match keyring::Entry::store_status() {
            Ok(()) => Ok(()),
            Err(e) => Err(SecretsError::Unavailable { reason: platform_reason(e) }),
        }
    }

    fn entry(&self, action: &'static str, email: &str) -> Result<keyring::Entry, SecretsError> {
        self.check_available()?;
        keyring::Entry::new(&self.service, email).map_err(|e| map_error(action, email, e))
    }
}

impl SecretStore for KeyringSecrets {
    fn get(&self, email: &str) -> Result<Option<Secret>, SecretsError> {
        match self.entry("read", email)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error("read", email, e)),
        }
    }

    fn set(&self, email: &str, secret: &Secret) -> Result<(), SecretsError> {
        self.entry("write", email)?.set_password(secret.expose()).map_err(|e| map_error("write", email, e))
    }

    fn delete(&self, email: &str) -> Result<(), SecretsError> {
        match self.entry("delete", email)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error("delete", email, e)),
        }
    }
}

/// The platform's words for an error, never the stored bytes (two variants carry them).
fn platform_reason(e: &keyring::Error) -> String {
    let raw = match e {
        keyring::Error::PlatformFailure(p) | keyring::Error::NoStorageAccess(p) => p.to_string(),
        keyring::Error::BadEncoding(_) | keyring::Error::BadDataFormat(..) => "the stored value is unreadable".into(),
        keyring::Error::NoDefaultStore => "no keyring backend could be started".into(),
        other => other.to_string(),
    };
    explain_dbus(&raw)
}

/// Turns the common D-Bus failures into plain words.
fn explain_dbus(raw: &str) -> String {
    if raw.contains("Failed to connect to") || raw.contains("DBUS_SESSION_BUS_ADDRESS") || raw.contains("No such file")
    {
        format!("no D-Bus session bus is running ({raw})")
    } else if raw.contains("was not provided by any .service files") || raw.contains("ServiceUnknown") {
        "no Secret Service provider is running on the session bus".to_string()
    } else {
        raw.to_string()
    }
}

fn map_error(action: &'static str, email: &str, e: keyring::Error) -> SecretsError {
    match &e {
        keyring::Error::NoStorageAccess(_) => SecretsError::Locked { reason: platform_reason(&e) },
        keyring::Error::BadEncoding(_) | keyring::Error::BadDataFormat(..) => {
            SecretsError::Corrupt { email: email.to_string() }
        }
        keyring::Error::NoDefaultStore => SecretsError::Unavailable { reason: platform_reason(&e) },
        _ => {
            let reason = platform_reason(&e);
            if reason.starts_with("no D-Bus") || reason.starts_with("no Secret Service") {
                SecretsError::Unavailable { reason }
            } else if reason.contains("prompt dismissed") || reason.contains("locked") {
                SecretsError::Locked { reason }
            } else {
                SecretsError::Platform { action, email: email.to_string(), reason }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("  M.C123_secret-token\n");
        assert_eq!(s.expose(), "M.C123_secret-token", "surrounding whitespace is trimmed");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn dbus_failures_are_explained() {
        assert!(
            explain_dbus("Failed to connect to address unix:path=/run/user/0/bus").starts_with("no D-Bus session bus")
        );
        assert_eq!(
            explain_dbus("org.freedesktop.secrets was not provided by any .service files"),
            "no Secret Service provider is running on the session bus"
        );
        let err = SecretsError::Unavailable { reason: "no D-Bus session bus is running".into() };
        assert!(err.to_string().contains("gnome-keyring"), "the message says what to install: {err}");
    }
}
