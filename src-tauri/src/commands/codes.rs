//! Waiting for a code on one account, and the codes feed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mailwatch_engine::engine::CancellationToken;
use mailwatch_engine::store::CodeRecord;
use tauri::State;

use crate::error::ApiError;
use crate::state::{EngineSlot, Shell, guarded, lock};

/// The longest wait the window may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60 * 60);

/// Tells one wait on an account from the next.
static NEXT_WAIT: AtomicU64 = AtomicU64::new(1);

/// Waits for a code in a message that arrives in the account's inbox or junk folder after
/// the call, for `timeout_secs` (`cache.waitTimeout` when not given). Resolves with the
/// code, or fails with `wait_timed_out`, or `cancelled` when [`cancel_wait`] is called. A
/// second wait on the same account replaces the first.
///
/// # Errors
/// Timed out, cancelled, unknown account, or the account cannot be reached.
#[tauri::command]
pub async fn wait_for_code(
    engine: State<'_, EngineSlot>,
    shell: State<'_, Shell>,
    email: String,
    timeout_secs: Option<u64>,
) -> Result<CodeRecord, ApiError> {
    let engine = engine.get().await?;
    let cancel = CancellationToken::new();
    let id = NEXT_WAIT.fetch_add(1, Ordering::Relaxed);
    if let Some((_, previous)) = lock(&shell.waits).insert(email.clone(), (id, cancel.clone())) {
        previous.cancel();
    }
    let mut options = engine.wait_options();
    if let Some(secs) = timeout_secs {
        options.timeout = Duration::from_secs(secs.max(1));
    }
    options.timeout = options.timeout.min(MAX_WAIT);
    let token = cancel.clone();
    let who = email.clone();
    let result = guarded("wait for a code", async move {
        tokio::select! {
            found = engine.wait_code(&who, &options) => found.map_err(ApiError::from),
            () = token.cancelled() => Err(ApiError::new("cancelled", format!("stopped waiting for a code in {who}"))),
        }
    })
    .await;
    let mut waits = lock(&shell.waits);
    if waits.get(&email).is_some_and(|(running, _)| *running == id) {
        waits.remove(&email);
    }
    result
}

/// Stops a running wait on the account; it then fails with `cancelled`.
#[tauri::command]
pub fn cancel_wait(shell: State<'_, Shell>, email: String) {
    if let Some((_, token)) = lock(&shell.waits).remove(&email) {
        token.cancel();
    }
}

/// The newest codes across all accounts, newest first, from the history: `limit` of them,
/// `cache.maxTop` when not given or larger.
///
/// # Errors
/// The cache cannot be read.
#[tauri::command]
pub async fn recent_codes(engine: State<'_, EngineSlot>, limit: Option<usize>) -> Result<Vec<CodeRecord>, ApiError> {
    let engine = engine.get().await?;
    let limit = limit.unwrap_or(usize::MAX);
    guarded("read the codes history", async move { Ok(engine.recent_codes(limit).await?) }).await
}
