//! Mailwatch's desktop shell: a thin Tauri layer over [`mailwatch_engine`].
//!
//! The engine holds every rule of the product; this crate only knows about windows, the tray
//! and the webview. It opens the engine as managed state ([`state`]), exposes commands to the
//! UI ([`commands`]), forwards engine events to the window ([`events`]) and turns errors into
//! `{code, message}` ([`error`]).

pub mod commands;
pub mod error;
pub mod events;
pub mod state;
pub mod tray;

use std::fmt;
use std::sync::Arc;

use mailwatch_engine::engine::EngineOptions;
use tauri::{AppHandle, Manager, RunEvent};

use crate::events::WebviewSink;
use crate::state::EngineSlot;

/// The app cannot start because there is no graphical session to show a window in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoDisplay;

impl fmt::Display for NoDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "Mailwatch needs a graphical desktop session: no display was found (DISPLAY and \
             WAYLAND_DISPLAY are unset). To use Mailwatch without a display, run mailwatch-cli.",
        )
    }
}

impl std::error::Error for NoDisplay {}

/// Checks that GTK will find a display, before it gets the chance to panic about it.
///
/// # Errors
/// [`NoDisplay`] on a GTK platform where neither `DISPLAY` nor `WAYLAND_DISPLAY` is set.
pub fn check_display() -> Result<(), NoDisplay> {
    #[cfg(any(
        target_os = "linux",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    {
        let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
            return Err(NoDisplay);
        }
    }
    Ok(())
}

/// Starts the app and runs it until the user quits. Exits the process with status 1 if Tauri
/// cannot start.
pub fn run() {
    init_logging();
    let app = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![commands::accounts::list_accounts])
        .setup(|app| {
            let sink = Arc::new(WebviewSink::new(app.handle().clone()));
            app.manage(EngineSlot::new(EngineOptions::default(), sink));
            open_engine_in_background(app.handle().clone());
            install_tray(app.handle());
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(err) => {
            eprintln!("cannot start Mailwatch: {err}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            close_engine(app);
        }
    });
}

/// Logs out of idle IMAP sessions before the process ends. The engine bounds this by its
/// command timeout, so quitting never hangs on a dead server.
fn close_engine(app: &AppHandle) {
    if let Some(engine) = app.state::<EngineSlot>().opened() {
        tauri::async_runtime::block_on(engine.shutdown());
    }
}

/// Starts opening the engine while the window loads; the UI's first command then waits for it
/// instead of starting the work. Failures are logged here and shown by the UI.
fn open_engine_in_background(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        if let Err(err) = app.state::<EngineSlot>().get().await {
            tracing::error!(code = err.code, "{}", err.message);
        }
    });
}

/// A missing tray is no reason not to start: the window still works. The appindicator
/// library is loaded at run time and its loader panics when the library is not installed, so
/// that case is caught here too.
fn install_tray(app: &AppHandle) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tray::install(app))) {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, "cannot add the tray icon; the window works without it"),
        Err(_) => tracing::warn!(
            "cannot add the tray icon (is libayatana-appindicator3 installed?); the window works without it"
        ),
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,mailwatch_shell=info,mailwatch_engine=info"));
    // A second initialisation (in tests) fails harmlessly.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
