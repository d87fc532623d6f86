//! How the engine tells a UI what happened, without knowing what a window is.
//!
//! The shell implements [`EventSink`] by emitting Tauri events; the CLI uses [`NullSink`] or
//! prints. The engine never waits on a sink: `emit` must return quickly.

use serde::{Deserialize, Serialize};

use crate::pool::PoolStats;

/// Something the UI may want to show at once.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    /// A verification code (or link) was found in a new message.
    #[serde(rename_all = "camelCase")]
    CodeFound {
        /// The account it arrived in.
        email: String,
        /// The code as the user types it.
        code: Option<String>,
        /// The verification link.
        link: Option<String>,
        /// The sending service.
        service: Option<String>,
        /// The message's sender.
        from: Option<String>,
        /// The message's subject.
        subject: Option<String>,
        /// When it arrived, in Unix seconds.
        received: Option<i64>,
        /// The folder it arrived in: `inbox`, `junk`, or the folder's name.
        folder: String,
    },
    /// An account's status changed (for example to needs-reauth).
    #[serde(rename_all = "camelCase")]
    AccountStatus {
        /// The account.
        email: String,
        /// The new status name.
        status: String,
        /// What went wrong, in words.
        detail: Option<String>,
    },
    /// The pool's counters changed.
    PoolStats(PoolStats),
    /// A batch job (import, verify, refresh all) moved on.
    BatchProgress(Progress),
}

/// How far a batch job has come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// "import", "verify" or "refresh".
    pub job: String,
    /// Items finished.
    pub done: usize,
    /// Items in the job.
    pub total: usize,
    /// Items that succeeded so far.
    pub ok: usize,
    /// Items that failed so far.
    pub failed: usize,
    /// Seconds since the job started.
    pub elapsed_secs: f64,
    /// Items per second so far.
    pub rate: f64,
    /// Seconds left at the current rate, once there is a rate.
    pub eta_secs: Option<f64>,
}

/// Receives engine events. Implementations must not block.
pub trait EventSink: Send + Sync + 'static {
    /// Delivers one event.
    fn emit(&self, event: Event);
}

/// Drops every event; for headless use.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl EventSink for NullSink {
    fn emit(&self, _event: Event) {}
}
