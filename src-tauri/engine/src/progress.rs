//! How a long job over many accounts reports progress, is cancelled, and runs its accounts.
//!
//! Import, verify and "refresh all" share this: a [`Tracker`] counts finished items and
//! sends a [`Progress`] (done/total, rate, ETA) to the caller's callback and to the event
//! sink; a [`BatchControl`] carries the callback and the [`CancellationToken`] that stops the
//! job between items; [`check_each`] runs one check per account with bounded concurrency and
//! gives every account its own [`AccountCheck`], so one failure never stops the others.

use std::sync::Arc;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
pub use tokio_util::sync::CancellationToken;

use crate::error::EngineError;
pub use crate::events::Progress;
use crate::events::{Event, EventSink};

/// Receives progress; called from the job's task, so it must return quickly.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How a caller follows and stops a batch job.
#[derive(Clone, Default)]
pub struct BatchControl {
    /// Cancel to stop the job between items; what finished stays done.
    pub cancel: CancellationToken,
    /// Called after every item (import: every chunk).
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for BatchControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchControl").field("cancelled", &self.cancel.is_cancelled()).finish()
    }
}

/// Counts a job's finished items and reports each step.
pub(crate) struct Tracker<'a> {
    sink: &'a dyn EventSink,
    control: &'a BatchControl,
    job: &'static str,
    started: Instant,
    total: usize,
    done: usize,
    ok: usize,
    failed: usize,
}

impl<'a> Tracker<'a> {
    pub(crate) fn new(sink: &'a dyn EventSink, control: &'a BatchControl, job: &'static str, total: usize) -> Self {
        Self { sink, control, job, started: Instant::now(), total, done: 0, ok: 0, failed: 0 }
    }

    /// Counts `ok` successes and `failed` failures, and reports.
    pub(crate) fn add(&mut self, ok: usize, failed: usize) {
        self.done += ok + failed;
        self.ok += ok;
        self.failed += failed;
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 { self.done as f64 / elapsed } else { 0.0 };
        let p = Progress {
            job: self.job.to_string(),
            done: self.done,
            total: self.total,
            ok: self.ok,
            failed: self.failed,
            elapsed_secs: elapsed,
            rate,
            eta_secs: (rate > 0.0).then(|| self.total.saturating_sub(self.done) as f64 / rate),
        };
        if let Some(f) = &self.control.progress {
            f(&p);
        }
        self.sink.emit(Event::BatchProgress(p));
    }
}

/// The result of checking one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountCheck {
    /// The account.
    pub email: String,
    /// Whether it passed.
    pub ok: bool,
    /// The failure's [`EngineError::code`], or "cancelled" / "skipped".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why it failed, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How long the check took, in milliseconds.
    pub ms: u64,
}

/// The result of a verification or a "refresh all".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Accounts that passed.
    pub ok: usize,
    /// Accounts that failed (cancelled ones included).
    pub failed: usize,
    /// Whether the job was cancelled before it finished.
    pub cancelled: bool,
    /// Each account's result, in the order given.
    pub accounts: Vec<AccountCheck>,
}

/// Runs `check` over the accounts, at most `concurrency` at once, with progress and
/// cancellation; every account gets a result, in the order given.
pub(crate) async fn check_each<'a, F>(
    sink: &dyn EventSink,
    job: &'static str,
    emails: &'a [String],
    concurrency: usize,
    control: &BatchControl,
    check: F,
) -> CheckReport
where
    // A boxed future keeps the job's own future `Send` (the shell runs it on a
    // multi-threaded runtime); a generic one trips over the higher-ranked closure.
    F: Fn(&'a str) -> futures::future::BoxFuture<'a, Result<(), EngineError>> + Sync,
{
    let mut tracker = Tracker::new(sink, control, job, emails.len());
    let cancel = control.cancel.clone();
    let check = &check;
    let mut results: Vec<Option<AccountCheck>> = vec![None; emails.len()];
    // The stream's items are indexes, not borrowed addresses: a closure taking a borrowed
    // item makes the future not provably `Send`.
    let mut stream = futures::stream::iter(0..emails.len())
        .map(|i| {
            let email: &'a str = &emails[i];
            let cancel = cancel.clone();
            async move {
                let started = Instant::now();
                let outcome = if cancel.is_cancelled() {
                    Err(("cancelled".to_string(), "cancelled before it started".to_string()))
                } else {
                    tokio::select! {
                        r = check(email) => r.map_err(|e| (e.code().to_string(), e.to_string())),
                        () = cancel.cancelled() => Err(("cancelled".to_string(), "cancelled while running".to_string())),
                    }
                };
                let ms = started.elapsed().as_millis() as u64;
                let result = match outcome {
                    Ok(()) => AccountCheck { email: email.to_string(), ok: true, code: None, reason: None, ms },
                    Err((code, reason)) => {
                        AccountCheck { email: email.to_string(), ok: false, code: Some(code), reason: Some(reason), ms }
                    }
                };
                (i, result)
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((i, result)) = stream.next().await {
        if result.ok {
            tracker.add(1, 0);
        } else {
            tracker.add(0, 1);
        }
        results[i] = Some(result);
    }
    let accounts: Vec<AccountCheck> = results.into_iter().flatten().collect();
    CheckReport {
        ok: accounts.iter().filter(|a| a.ok).count(),
        failed: accounts.iter().filter(|a| !a.ok).count(),
        cancelled: control.cancel.is_cancelled(),
        accounts,
    }
}
