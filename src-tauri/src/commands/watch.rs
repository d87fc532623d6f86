//! Watching accounts continuously, and pausing all watching.

use mailwatch_engine::Engine;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};

use crate::error::ApiError;
use crate::state::{EngineSlot, Shell, guarded};

/// The event the window gets when watching is paused or resumed (from the tray, say).
pub const PAUSED_EVENT: &str = "mailwatch://paused";

/// Which accounts are watched and whether watching is paused.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchState {
    /// Accounts the user asked to watch.
    pub watched: Vec<String>,
    /// Whether watching is paused.
    pub paused: bool,
}

/// Starts or stops watching accounts. The choice is kept, so watching resumes after a
/// restart; while paused, the choice is only recorded.
///
/// # Errors
/// Unknown account; the cache cannot be written.
#[tauri::command]
pub async fn set_watching(
    app: AppHandle,
    engine: State<'_, EngineSlot>,
    emails: Vec<String>,
    watch: bool,
) -> Result<WatchState, ApiError> {
    let engine = engine.get().await?;
    let paused = app.state::<Shell>().prefs.get().paused;
    let shell_watch_list = app.state::<Shell>().watch_list.clone();
    guarded("change which accounts are watched", async move {
        let mut watched = crate::prefs::load_watched(&engine).await;
        for email in emails {
            let email = engine.account(&email).await?.email;
            watched.retain(|w| *w != email);
            if watch {
                watched.push(email.clone());
                if !paused {
                    engine.watch(&email).await?;
                }
            } else {
                engine.unwatch(&email).await?;
            }
        }
        crate::prefs::save_watched(&engine, &watched).await?;
        if !paused {
            shell_watch_list.set(watched.clone());
        }
        Ok(WatchState { watched, paused })
    })
    .await
}

/// Pauses or resumes all watching (waits for a code still run).
///
/// # Errors
/// The cache cannot be written.
#[tauri::command]
pub async fn set_paused(app: AppHandle, paused: bool) -> Result<WatchState, ApiError> {
    set_paused_inner(&app, paused).await
}

/// [`set_paused`], for the tray.
///
/// # Errors
/// The cache cannot be written.
pub async fn set_paused_inner(app: &AppHandle, paused: bool) -> Result<WatchState, ApiError> {
    let engine = app.state::<EngineSlot>().get().await?;
    let prefs = app.state::<Shell>().prefs.update(|p| p.paused = paused);
    crate::prefs::save(&engine, &prefs).await?;
    let watched = crate::prefs::load_watched(&engine).await;
    apply(&engine, &watched, paused).await;
    app.state::<Shell>().watch_list.set(if paused { Vec::new() } else { watched.clone() });
    crate::tray::refresh(app);
    let state = WatchState { watched, paused };
    let _ = app.emit(PAUSED_EVENT, &state);
    Ok(state)
}

/// Watches the chosen accounts, or none while paused. Accounts removed meanwhile are skipped.
pub async fn apply(engine: &Engine, watched: &[String], paused: bool) {
    for email in watched {
        let result = if paused { engine.unwatch(email).await } else { engine.watch(email).await };
        if let Err(err) = result {
            tracing::debug!(email, error = %err, "cannot change the watch");
        }
    }
}
