//! Settings: the engine's limits and the app's preferences, with their defaults.

use mailwatch_engine::config::Config;
use mailwatch_engine::watch::WatchChoice;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_autostart::ManagerExt;

use crate::error::ApiError;
use crate::prefs::AppPrefs;
use crate::state::{EngineSlot, Shell, guarded};

/// The event sent when the app's language changed; the tray relabels its menu on it.
pub const LANGUAGE_EVENT: &str = "mailwatch://language-changed";

/// Everything the settings view edits, with the defaults it offers to restore.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The engine's limits as stored (in force after the next start).
    pub config: Value,
    /// The app's preferences.
    pub app: AppPrefs,
}

/// What [`get_settings`] returns.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    /// The settings now.
    #[serde(flatten)]
    pub settings: Settings,
    /// The engine's defaults.
    pub config_defaults: Value,
    /// The app's defaults.
    pub app_defaults: AppPrefs,
    /// The limits in force that the window applies itself.
    pub limits: Limits,
    /// Which accounts are watched and whether watching is paused.
    pub watch: WatchChoice,
}

/// The engine's limits in force that the window applies itself, so that it uses the same
/// values as the engine and the CLI rather than its own copies.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// How long "Wait for code" waits, in seconds (`cache.waitTimeout`).
    pub wait_timeout_secs: u64,
    /// The most messages listed and codes shown at once (`cache.maxTop`).
    pub max_top: usize,
    /// How many messages a listing shows unless the user picks (`cache.listTop`).
    pub list_top: usize,
}

/// The settings now and their defaults.
///
/// # Errors
/// The cache cannot be read.
#[tauri::command]
pub async fn get_settings(app: AppHandle, engine: State<'_, EngineSlot>) -> Result<SettingsView, ApiError> {
    let engine = engine.get().await?;
    let prefs = app.state::<Shell>().prefs.get();
    guarded("read the settings", async move {
        let config = engine.saved_config().await?;
        Ok(SettingsView {
            settings: Settings { config: to_value(&config)?, app: prefs },
            config_defaults: to_value(&Config::default())?,
            app_defaults: AppPrefs::default(),
            limits: Limits {
                wait_timeout_secs: engine.config().cache.wait_timeout.as_secs(),
                max_top: engine.config().cache.max_top,
                list_top: engine.config().cache.list_top,
            },
            watch: engine.watch_choice(),
        })
    })
    .await
}

/// What saving changed that needs a restart.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    /// The engine's limits changed; they apply from the next start.
    pub restart_needed: bool,
}

/// Stores the settings. Preferences apply at once (launch at login included); the engine's
/// limits apply from the next start.
///
/// # Errors
/// `invalid_settings` for a value of the wrong type or out of its range (the sentence names
/// the setting and the range); the cache cannot be written; the
/// desktop's autostart entry cannot be changed.
#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    engine: State<'_, EngineSlot>,
    settings: Settings,
) -> Result<Saved, ApiError> {
    let engine = engine.get().await?;
    let config: Config = serde_json::from_value(settings.config)
        .map_err(|e| ApiError::new("invalid_settings", format!("cannot save the settings: {e}")))?;
    // Checked before anything changes, so a value out of range saves nothing.
    config.validate().map_err(|e| ApiError::new("invalid_settings", e.to_string()))?;
    let shell = app.state::<Shell>();
    let before = shell.prefs.get();
    let mut prefs = settings.app;
    // The hint is not the user's to edit; the Local API's switch saves itself.
    prefs.close_hint_shown = before.close_hint_shown;
    prefs.local_api = before.local_api;
    if prefs.launch_at_login != before.launch_at_login {
        let autostart = app.autolaunch();
        let changed = if prefs.launch_at_login { autostart.enable() } else { autostart.disable() };
        changed.map_err(|e| {
            ApiError::new("autostart_failed", format!("cannot change whether Mailwatch starts at login: {e}"))
        })?;
    }
    shell.prefs.set(prefs.clone());
    if prefs.language != before.language {
        // The tray speaks the window's language; notifications pick it up as they go out.
        let _ = app.emit(LANGUAGE_EVENT, &prefs.language);
    }
    // The Local API's address applies the next time it is turned on, not at a restart.
    let mut in_force = engine.config().clone();
    in_force.api.listen = config.api.listen;
    let restart_needed = config != in_force;
    guarded("save the settings", async move {
        engine.save_config(&config).await?;
        crate::prefs::save(&engine, &prefs).await?;
        Ok(Saved { restart_needed })
    })
    .await
}

/// Restarts the app, so new limits apply.
#[tauri::command]
pub fn restart(app: AppHandle) {
    app.restart();
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::new("internal", e.to_string()))
}
