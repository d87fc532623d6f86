//! Watching accounts continuously, and pausing all watching. The engine keeps which accounts
//! are watched and whether watching is paused; these commands ask it and tell the tray.

use mailwatch_engine::watch::WatchChoice;
use tauri::{AppHandle, Emitter, State};

use crate::error::ApiError;
use crate::state::{EngineSlot, guarded};

/// The event the window gets when watching is paused or resumed (from the tray, say).
pub const PAUSED_EVENT: &str = "mailwatch://paused";

/// Starts or stops watching accounts. The choice is kept, so watching resumes after a
/// restart; while paused, the choice is only recorded.
///
/// # Errors
/// Unknown account; the cache cannot be written.
#[tauri::command]
pub async fn set_watching(
    engine: State<'_, EngineSlot>,
    emails: Vec<String>,
    watch: bool,
) -> Result<WatchChoice, ApiError> {
    let engine = engine.get().await?;
    guarded("change which accounts are watched", async move { Ok(engine.set_watched(&emails, watch).await?) }).await
}

/// Pauses or resumes all watching (waits for a code still run).
///
/// # Errors
/// The cache cannot be written.
#[tauri::command]
pub async fn set_paused(app: AppHandle, paused: bool) -> Result<WatchChoice, ApiError> {
    set_paused_inner(&app, paused).await
}

/// [`set_paused`], for the tray.
///
/// # Errors
/// The cache cannot be written.
pub async fn set_paused_inner(app: &AppHandle, paused: bool) -> Result<WatchChoice, ApiError> {
    let engine = tauri::Manager::state::<EngineSlot>(app).get().await?;
    let state = engine.set_paused(paused).await?;
    // The tray listens for this too, and relabels its menu.
    let _ = app.emit(PAUSED_EVENT, &state);
    Ok(state)
}
