//! The one error shape the UI sees: `{code, message}`.
//!
//! The UI branches on `code`, a stable snake_case string. Engine errors already read as
//! English sentences a user can act on ("cannot ..."), so the message is their `Display`;
//! secrets never reach it because the engine keeps them out of its errors. `args` carries the
//! details the sentence names (the account, the server, how long was waited), so the window
//! can say the same in the user's language from its catalogue (`errors.<code>`), and falls
//! back to `message` for a code its catalogue does not know.

use std::collections::BTreeMap;

use mailwatch_engine::EngineError;
use mailwatch_engine::imap::ImapError;
use mailwatch_engine::oauth::OAuthError;
use mailwatch_engine::smtp::SmtpError;
use serde::Serialize;

/// An error as a command returns it to the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Stable snake_case identifier the UI can branch on.
    pub code: &'static str,
    /// What happened and, where possible, what to do, in words.
    pub message: String,
    /// The details the message names, by name (`email`, `endpoint`, `reason`, `secs`, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<&'static str, String>,
}

impl ApiError {
    /// An error with the given code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), args: BTreeMap::new() }
    }

    /// The same error with one more detail for the window's sentence.
    #[must_use]
    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.insert(name, value.to_string());
        self
    }

    /// The engine task stopped without an answer (it panicked). The UI shows this instead of
    /// waiting forever.
    pub fn engine_stopped(what: &str) -> Self {
        Self::new(
            "engine_stopped",
            format!(
                "cannot {what}: the engine stopped unexpectedly; restart Mailwatch, and report it if it happens again"
            ),
        )
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        let mut api = Self::new(err.code(), err.to_string());
        api.args = args_of(&err);
        api
    }
}

/// The details of an engine error that its sentence names. Only names and places: the engine
/// keeps secrets out of its errors, and nothing here reaches into anything else.
fn args_of(err: &EngineError) -> BTreeMap<&'static str, String> {
    let mut args = BTreeMap::new();
    let mut put = |name: &'static str, value: &dyn ToString| {
        args.insert(name, value.to_string());
    };
    match err {
        EngineError::UnknownAccount { email }
        | EngineError::NoSmtpServer { email }
        | EngineError::NotOAuth { email }
        | EngineError::RotationNotSaved { email, .. } => put("email", email),
        EngineError::MissingSecret { email, .. } => put("email", email),
        EngineError::MessageGone { email, folder, .. } => {
            put("email", email);
            put("folder", folder);
        }
        EngineError::PoolExhausted { email, waited, .. } | EngineError::WaitTimedOut { email, waited } => {
            put("email", email);
            put("secs", &waited.as_secs());
        }
        EngineError::DataDir { path, reason } => {
            put("path", path);
            put("reason", reason);
        }
        EngineError::Watch { email, source } => {
            let mut inner = args_of(source);
            inner.entry("email").or_insert_with(|| email.clone());
            return inner;
        }
        EngineError::Imap(imap) => match imap {
            ImapError::Connect { endpoint, reason }
            | ImapError::Tls { endpoint, reason }
            | ImapError::ConnectionLost { endpoint, reason } => {
                put("endpoint", endpoint);
                put("reason", reason);
            }
            ImapError::AuthFailed { endpoint, user, reason }
            | ImapError::TooManyConnections { endpoint, user, reason } => {
                put("endpoint", endpoint);
                put("email", user);
                put("reason", reason);
            }
            ImapError::Timeout { endpoint, after, .. } => {
                put("endpoint", endpoint);
                put("secs", &after.as_secs());
            }
            ImapError::NoSuchFolder { folder } => put("folder", folder),
            ImapError::Proxy { endpoint, source } => {
                put("endpoint", endpoint);
                put("proxy", &source.proxy().unwrap_or_default());
                put("reason", source);
            }
            ImapError::Refused { endpoint, reason, .. } => {
                put("endpoint", endpoint);
                put("reason", reason);
            }
            ImapError::Throttled { endpoint, backoff, reason, .. } => {
                put("endpoint", endpoint);
                put("reason", reason);
                if let Some(b) = backoff {
                    put("secs", &b.as_secs_f64().ceil());
                }
            }
        },
        EngineError::BackingOff { email, remaining } => {
            put("email", email);
            put("secs", &remaining.as_secs_f64().ceil());
        }
        EngineError::Smtp(smtp) => match smtp {
            SmtpError::Connect { endpoint, reason } | SmtpError::Tls { endpoint, reason } => {
                put("endpoint", endpoint);
                put("reason", reason);
            }
            SmtpError::AuthFailed { endpoint, email, reply } => {
                put("endpoint", endpoint);
                put("email", email);
                put("reason", reply);
            }
            SmtpError::Proxy { endpoint, source } => {
                put("endpoint", endpoint);
                put("proxy", &source.proxy().unwrap_or_default());
                put("reason", source);
            }
            _ => {}
        },
        EngineError::Graph(mailwatch_engine::graph::GraphError::Refused { email, message, .. }) => {
            put("endpoint", &"Microsoft Graph");
            put("email", email);
            put("reason", message);
        }
        EngineError::NoChannel { email, .. } => put("email", email),
        EngineError::Proxy(source) => {
            put("proxy", &source.proxy().unwrap_or_default());
            put("reason", source);
        }
        EngineError::OAuth(
            OAuthError::Rejected { email, .. }
            | OAuthError::Unreachable { email, .. }
            | OAuthError::Unexpected { email, .. }
            | OAuthError::ScopeNotGranted { email, .. }
            | OAuthError::ChannelScopeRefused { email, .. }
            | OAuthError::Misconfigured { email, .. }
            | OAuthError::InsecureEndpoint { email, .. },
        ) => put("email", email),
        _ => {}
    }
    args
}

impl From<mailwatch_engine::store::StoreError> for ApiError {
    fn from(err: mailwatch_engine::store::StoreError) -> Self {
        EngineError::from(err).into()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_engine_error_carries_the_details_its_sentence_names() {
        let err = ApiError::from(EngineError::WaitTimedOut {
            email: "ann@example.com".into(),
            waited: Duration::from_secs(120),
        });
        assert_eq!(err.code, "wait_timed_out");
        assert_eq!(err.args.get("email").map(String::as_str), Some("ann@example.com"));
        assert_eq!(err.args.get("secs").map(String::as_str), Some("120"));
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["args"]["secs"], "120", "the window reads them as `args`: {json}");
        let refused = ApiError::from(EngineError::Smtp(SmtpError::AuthFailed {
            endpoint: "smtp.example.com:465".into(),
            email: "ann@example.com".into(),
            reply: "535 5.7.8 no".into(),
        }));
        assert_eq!(refused.code, "auth_failed", "IMAP and SMTP refusals share a code, so they share the details");
        assert_eq!(refused.args.get("endpoint").map(String::as_str), Some("smtp.example.com:465"));
        assert_eq!(refused.args.get("reason").map(String::as_str), Some("535 5.7.8 no"));
        let plain = serde_json::to_value(ApiError::new("internal", "x")).unwrap();
        assert!(plain.get("args").is_none(), "no empty args for errors without details: {plain}");
    }
}
