//! Forwards engine events to the webview as Tauri events.
//!
//! Every event is namespaced `mailwatch://<kind>` and carries the engine's [`Event`] as JSON
//! (camelCase fields plus its `kind`), so `ui/ipc.js` can listen per kind.

use mailwatch_engine::events::{Event, EventSink};
use tauri::{AppHandle, Emitter};

/// Tauri event for a verification code or link found in a new message.
pub const CODE_FOUND: &str = "mailwatch://code-found";
/// Tauri event for an account whose status changed.
pub const ACCOUNT_STATUS: &str = "mailwatch://account-status";
/// Tauri event for fresh session-pool counters.
pub const POOL_STATS: &str = "mailwatch://pool-stats";

/// The Tauri event name for an engine event.
pub fn event_name(event: &Event) -> &'static str {
    match event {
        Event::CodeFound { .. } => CODE_FOUND,
        Event::AccountStatus { .. } => ACCOUNT_STATUS,
        Event::PoolStats(_) => POOL_STATS,
    }
}

/// An [`EventSink`] that emits to every webview of the app.
pub struct WebviewSink {
    app: AppHandle,
}

impl WebviewSink {
    /// A sink emitting through `app`.
    pub fn new(app: AppHandle) -> Self {
        Self { app }
    }
}

impl EventSink for WebviewSink {
    fn emit(&self, event: Event) {
        // `emit` queues a script for the webview and returns; it never waits for the page.
        let name = event_name(&event);
        if let Err(err) = self.app.emit(name, &event) {
            tracing::warn!(event = name, error = %err, "cannot forward an engine event to the window");
        }
    }
}
