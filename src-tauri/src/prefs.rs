//! The app's own preferences: what the shell does with a code (notify, copy), and how the
//! window behaves. The engine's limits live in its [`Config`](mailwatch_engine::config::Config);
//! both are kept in the engine's SQLite settings table, so they survive restarts together.
//! Which accounts are watched, and whether watching is paused, is the engine's to keep
//! ([`Engine::watch_choice`]).

use std::sync::RwLock;

use mailwatch_engine::Engine;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The settings key the preferences are stored under.
const KEY: &str = "app.prefs";

/// The shell's preferences. Every field has a default, so a file from an older version (or
/// none at all) still loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AppPrefs {
    /// Show a desktop notification when a code arrives.
    pub notifications: bool,
    /// Silence notifications without turning them off.
    pub do_not_disturb: bool,
    /// Put each new code on the clipboard.
    pub auto_copy: bool,
    /// Start with the window hidden in the tray.
    pub start_minimised: bool,
    /// Start Mailwatch when the desktop session starts.
    pub launch_at_login: bool,
    /// The user has been told that closing the window keeps Mailwatch in the tray.
    pub close_hint_shown: bool,
    /// The language of the window, tray and notifications ("en", "zh-CN"); empty for the
    /// system's.
    pub language: String,
    /// Run the local API over the app's engine (Settings, "Local API"); its switch acts at
    /// once, so saving the other settings leaves it as it is.
    pub local_api: bool,
}

impl Default for AppPrefs {
    fn default() -> Self {
        Self {
            notifications: true,
            do_not_disturb: false,
            auto_copy: false,
            start_minimised: false,
            launch_at_login: false,
            close_hint_shown: false,
            language: String::new(),
            local_api: false,
        }
    }
}

/// The preferences in force, shared by the event sink, the tray and the commands.
#[derive(Debug, Default)]
pub struct Prefs(RwLock<AppPrefs>);

impl Prefs {
    /// A copy of the preferences in force.
    pub fn get(&self) -> AppPrefs {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Replaces the preferences in force (not what is stored; see [`save`]).
    pub fn set(&self, prefs: AppPrefs) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = prefs;
    }

    /// Changes one thing in the preferences in force and returns the result.
    pub fn update(&self, change: impl FnOnce(&mut AppPrefs)) -> AppPrefs {
        let mut guard = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut guard);
        guard.clone()
    }
}

/// The stored preferences, or the defaults if none are stored or they cannot be read (a bad
/// value is logged and replaced on the next save rather than stopping the app).
pub async fn load(engine: &Engine) -> AppPrefs {
    match engine.setting(KEY).await {
        Ok(Some(value)) => serde_json::from_value(value).unwrap_or_else(|err| {
            tracing::warn!(error = %err, "stored preferences are unreadable; using the defaults");
            AppPrefs::default()
        }),
        Ok(None) => AppPrefs::default(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the preferences; using the defaults");
            AppPrefs::default()
        }
    }
}

/// Stores the preferences.
///
/// # Errors
/// The cache cannot be written.
pub async fn save(engine: &Engine, prefs: &AppPrefs) -> Result<(), ApiError> {
    let value = serde_json::to_value(prefs).map_err(|e| ApiError::new("internal", e.to_string()))?;
    engine.set_setting(KEY, &value).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferences_from_an_older_version_keep_their_values_and_default_the_rest() {
        let old: AppPrefs = serde_json::from_str(r#"{"autoCopy": true}"#).unwrap();
        assert!(old.auto_copy);
        assert!(old.notifications, "notifications default to on");
        assert!(!old.start_minimised);
        assert_eq!(old.language, "", "the language follows the system until one is chosen");
        assert!(!old.local_api, "the local API is off until turned on");
    }
}
