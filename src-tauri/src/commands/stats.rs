//! The pool-stats panel's first picture; later changes arrive as `mailwatch://pool-stats`.

use mailwatch_engine::engine::EngineStats;
use serde::Serialize;
use tauri::State;

use crate::error::ApiError;
use crate::state::EngineSlot;

/// The counters, plus how many accounts are watched and waited on.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsView {
    /// Session and client-cache counters, overall and per account.
    #[serde(flatten)]
    pub stats: EngineStats,
    /// Accounts being watched.
    pub watched: usize,
    /// Accounts someone is waiting on for a code.
    pub waited: usize,
}

/// The counters now.
///
/// # Errors
/// The engine could not be opened.
#[tauri::command]
pub async fn pool_stats(engine: State<'_, EngineSlot>) -> Result<StatsView, ApiError> {
    let engine = engine.get().await?;
    let watches = engine.watch_statuses();
    Ok(StatsView {
        stats: engine.stats(),
        watched: watches.iter().filter(|w| w.watched).count(),
        waited: watches.iter().filter(|w| w.waiters > 0).count(),
    })
}
