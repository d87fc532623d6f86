//! Forwards engine events to the webview as Tauri events.
//!
//! Each event is emitted as `mailwatch://<kind>`, where `kind` is the engine's own tag for it
//! (`code-found`, `account-status`, `pool-stats`, `batch-progress`, ...), with the engine's
//! [`Event`] as the JSON payload (camelCase fields plus `kind`). Deriving the name from the
//! tag means a kind the engine adds reaches the UI without a change here.
//!
//! Every event also goes to the local API's streams while it runs ([`LocalApi::publish`]).
//! A found code also goes to the tray's latest codes, to the clipboard when auto-copy is on,
//! and to a desktop notification when notifications are on, whether or not the window shows.

use mailwatch_engine::events::{Event, EventSink};
use serde_json::Value;
use tauri::{AppHandle, Emitter, Manager};

use crate::local_api::LocalApi;
use crate::notify::{CodeNotice, NOTIFIER};
use crate::state::{RecentCode, Shell, lock};
use crate::tray::RECENT_CODES;

/// What every Mailwatch event name starts with.
pub const PREFIX: &str = "mailwatch://";
/// A verification code or link was found in a new message.
pub const CODE_FOUND: &str = "mailwatch://code-found";
/// An account's status changed.
pub const ACCOUNT_STATUS: &str = "mailwatch://account-status";
/// The session pool's counters changed.
pub const POOL_STATS: &str = "mailwatch://pool-stats";

/// The Tauri event name and payload for an engine event.
///
/// # Errors
/// The event cannot be serialized (a bug in the engine's types).
pub fn to_tauri_event(event: &Event) -> Result<(String, Value), serde_json::Error> {
    let payload = serde_json::to_value(event)?;
    let kind = payload.get("kind").and_then(Value::as_str).unwrap_or("unknown");
    Ok((format!("{PREFIX}{kind}"), payload))
}

/// The pool's counters reach the window at most this often: with a thousand watched accounts
/// they change many times a second, and the panel only needs the latest.
pub const POOL_STATS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// An [`EventSink`] that emits to every webview of the app.
pub struct WebviewSink {
    app: AppHandle,
    /// The newest pool counters not yet sent, and whether a send is scheduled.
    pending_stats: std::sync::Arc<std::sync::Mutex<(Option<Value>, bool)>>,
}

impl WebviewSink {
    /// A sink emitting through `app`.
    pub fn new(app: AppHandle) -> Self {
        Self { app, pending_stats: Default::default() }
    }

    /// Keeps only the newest counters and sends them once per [`POOL_STATS_EVERY`].
    fn coalesce_stats(&self, payload: Value) {
        let mut pending = lock(&self.pending_stats);
        pending.0 = Some(payload);
        if std::mem::replace(&mut pending.1, true) {
            return;
        }
        drop(pending);
        let (app, shared) = (self.app.clone(), self.pending_stats.clone());
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(POOL_STATS_EVERY).await;
            let latest = {
                let mut pending = lock(&shared);
                pending.1 = false;
                pending.0.take()
            };
            if let Some(payload) = latest
                && let Err(err) = app.emit(POOL_STATS, payload)
            {
                tracing::warn!(error = %err, "cannot forward the pool counters to the window");
            }
        });
    }
}

impl EventSink for WebviewSink {
    fn emit(&self, event: Event) {
        // The local API's streams, when it runs, get every event too (it throttles pool
        // stats itself).
        if let Some(api) = self.app.try_state::<LocalApi>() {
            api.publish(&event);
        }
        if let Event::CodeFound { email, code, link, service, .. } = &event {
            code_found(
                &self.app,
                CodeNotice {
                    email: email.clone(),
                    code: code.clone(),
                    service: service.clone(),
                    link: link.clone(),
                    language: "en",
                },
            );
        }
        // `emit` queues a script for the webview and returns; it never waits for the page.
        let (name, payload) = match to_tauri_event(&event) {
            Ok(converted) => converted,
            Err(err) => {
                tracing::warn!(error = %err, "cannot serialize an engine event for the window");
                return;
            }
        };
        if name == POOL_STATS {
            return self.coalesce_stats(payload);
        }
        if let Err(err) = self.app.emit(&name, payload) {
            tracing::warn!(event = %name, error = %err, "cannot forward an engine event to the window");
        }
    }
}

/// What the shell does with a new code besides showing it in the window.
fn code_found(app: &AppHandle, notice: CodeNotice) {
    let Some(shell) = app.try_state::<Shell>() else { return };
    let prefs = shell.prefs.get();
    let notice = CodeNotice { language: crate::i18n::resolve(&prefs.language), ..notice };
    if let Some(code) = &notice.code {
        let entry = RecentCode { code: code.clone(), service: notice.service.clone(), email: notice.email.clone() };
        let mut recent = lock(&shell.recent);
        recent.retain(|c| *c != entry);
        recent.push_front(entry);
        recent.truncate(RECENT_CODES);
        drop(recent);
        crate::tray::refresh(app);
        if prefs.auto_copy {
            crate::commands::system::copy(app, code);
        }
    }
    if prefs.notifications && !prefs.do_not_disturb {
        let copier = app.clone();
        NOTIFIER.code(app, notice, move |code| crate::commands::system::copy(&copier, &code));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_events_become_namespaced_tauri_events_named_after_their_kind() {
        let status = Event::AccountStatus { email: "a@b.c".into(), status: "needs-reauth".into(), detail: None };
        let (name, payload) = to_tauri_event(&status).unwrap();
        assert_eq!(name, ACCOUNT_STATUS, "ui/ipc.js listens on this exact name");
        assert_eq!(payload["email"], "a@b.c");

        let code = Event::CodeFound {
            email: "a@b.c".into(),
            code: Some("123456".into()),
            link: None,
            service: None,
            from: None,
            subject: None,
            received: Some(1),
            folder: "inbox".into(),
        };
        assert_eq!(to_tauri_event(&code).unwrap().0, CODE_FOUND);
        assert_eq!(to_tauri_event(&Event::PoolStats(Default::default())).unwrap().0, POOL_STATS);
    }
}
