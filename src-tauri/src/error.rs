//! The one error shape the UI sees: `{code, message}`.
//!
//! The UI branches on `code`, a stable snake_case string, and shows `message` as it is. Engine
//! errors already read as sentences a user can act on ("cannot ..."), so the message is their
//! `Display`; secrets never reach it because the engine keeps them out of its errors.

use mailwatch_engine::EngineError;
use serde::Serialize;

/// An error as a command returns it to the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Stable snake_case identifier the UI can branch on.
    pub code: &'static str,
    /// What happened and, where possible, what to do, in words.
    pub message: String,
}

impl ApiError {
    /// An error with the given code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
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
        Self::new(err.code(), err.to_string())
    }
}

impl From<mailwatch_engine::store::StoreError> for ApiError {
    fn from(err: mailwatch_engine::store::StoreError) -> Self {
        EngineError::from(err).into()
    }
}
