//! Which accounts the user chose to watch, and whether watching is paused.
//!
//! This is the one record of it: kept in the cache's settings so that it survives restarts,
//! changed only through the engine, and read by everyone who needs it (the desktop shell and
//! its tray, the background sync, the CLI). Removing an account removes it from here too,
//! paused or not.

use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

/// The settings key the choice is stored under.
const KEY: &str = "watch.choice";
/// Where the desktop app kept the watched accounts and the paused flag before the engine
/// owned them; read once, when the engine's own key is missing.
const LEGACY_WATCHED: &str = "app.watched";
const LEGACY_PREFS: &str = "app.prefs";

/// The accounts chosen for watching, in the order chosen, and whether watching is paused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WatchChoice {
    /// The accounts the user asked to watch.
    pub watched: Vec<String>,
    /// Whether watching is paused (waits for a code still run).
    pub paused: bool,
}

impl WatchChoice {
    /// The accounts to watch now: none while paused.
    pub fn active(&self) -> &[String] {
        if self.paused { &[] } else { &self.watched }
    }

    /// Adds or removes accounts; returns whether anything changed.
    pub(crate) fn set(&mut self, emails: &[String], watch: bool) -> bool {
        let before = self.watched.len();
        if watch {
            for e in emails {
                if !self.watched.contains(e) {
                    self.watched.push(e.clone());
                }
            }
        } else {
            self.watched.retain(|w| !emails.contains(w));
        }
        self.watched.len() != before
    }
}

/// The stored choice; an unreadable value counts as none (logged), so a bad row never
/// stops the engine from opening.
///
/// # Errors
/// The settings cannot be read.
pub(crate) fn load(store: &Store) -> Result<WatchChoice, StoreError> {
    if let Some(value) = store.setting(KEY)? {
        return Ok(serde_json::from_value(value).unwrap_or_else(|err| {
            tracing::warn!(error = %err, "the stored watch choice is unreadable; watching nothing");
            WatchChoice::default()
        }));
    }
    let watched: Vec<String> =
        store.setting(LEGACY_WATCHED)?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    let paused = store
        .setting(LEGACY_PREFS)?
        .and_then(|v| v.get("paused").and_then(serde_json::Value::as_bool))
        .unwrap_or(false);
    Ok(WatchChoice { watched, paused })
}

/// Stores the choice.
///
/// # Errors
/// The settings cannot be written.
pub(crate) fn save(store: &Store, choice: &WatchChoice) -> Result<(), StoreError> {
    let value = serde_json::to_value(choice).unwrap_or_default();
    store.set_setting(KEY, &value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_written_by_older_versions_of_the_app_is_taken_over() {
        let store = Store::open_in_memory().unwrap();
        store.set_setting(LEGACY_WATCHED, &serde_json::json!(["a@x.com", "b@x.com"])).unwrap();
        store.set_setting(LEGACY_PREFS, &serde_json::json!({"paused": true, "autoCopy": true})).unwrap();
        let choice = load(&store).unwrap();
        assert_eq!(choice.watched, ["a@x.com", "b@x.com"]);
        assert!(choice.paused);
        assert!(choice.active().is_empty(), "nothing is active while paused");

        save(&store, &WatchChoice { watched: vec!["c@x.com".into()], paused: false }).unwrap();
        assert_eq!(load(&store).unwrap().watched, ["c@x.com"], "once saved, the engine's own key wins");
    }

    #[test]
    fn adding_keeps_the_order_and_removing_drops_every_copy() {
        let mut c = WatchChoice::default();
        assert!(c.set(&["a".into(), "b".into()], true));
        assert!(!c.set(&["a".into()], true), "watching a watched account changes nothing");
        assert!(c.set(&["a".into()], false));
        assert_eq!(c.watched, ["b"]);
    }
}
