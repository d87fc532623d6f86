//! Mailwatch's desktop shell: a thin Tauri layer over [`mailwatch_engine`].
//!
//! The engine holds every rule of the product; this crate only knows about windows, the tray
//! and the webview. It opens the engine as managed state ([`state`]), exposes commands to the
//! UI ([`commands`]), forwards engine events to the window ([`events`]) and, when the user
//! turns it on, to the local API's streams ([`local_api`]), and turns errors into
//! `{code, message}` ([`error`]).

pub mod commands;
pub mod error;
pub mod events;
pub mod i18n;
pub mod local_api;
pub mod notify;
pub mod prefs;
pub mod state;
pub mod tray;

use std::fmt;
use std::sync::Arc;

use mailwatch_engine::engine::EngineOptions;
use std::sync::atomic::Ordering;

use tauri::{AppHandle, Manager, RunEvent, WindowEvent};
use tauri_plugin_window_state::StateFlags;

use crate::events::WebviewSink;
use crate::state::{EngineSlot, Shell};

/// The argument the desktop's autostart entry passes, so a login start stays in the tray.
pub const MINIMISED_ARG: &str = "--minimised";

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
        // First, so a second launch hands over before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| tray::show_main_window(app)))
        .plugin(
            tauri_plugin_window_state::Builder::default()
                // Whether the window shows is the start-minimised setting's business.
                .with_state_flags(StateFlags::all() - StateFlags::VISIBLE)
                .build(),
        )
        .plugin(tauri_plugin_autostart::Builder::new().args([MINIMISED_ARG]).build())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .manage(Shell::default())
        .manage(local_api::LocalApi::default())
        .invoke_handler(tauri::generate_handler![
            commands::accounts::list_accounts,
            commands::accounts::account_preset,
            commands::accounts::save_account,
            commands::accounts::remove_account,
            commands::codes::wait_for_code,
            commands::codes::cancel_wait,
            commands::codes::recent_codes,
            commands::watch::set_watching,
            commands::watch::set_paused,
            commands::messages::list_messages,
            commands::messages::open_message,
            commands::send::send_message,
            commands::stats::pool_stats,
            commands::settings::get_settings,
            commands::settings::save_settings,
            commands::settings::restart,
            commands::local_api::get_local_api,
            commands::local_api::set_local_api,
            commands::local_api::renew_api_key,
            commands::import::pick_import_file,
            commands::import::import_accounts,
            commands::import::cancel_batch,
            commands::import::save_report,
            commands::import::refresh_tokens,
            commands::import::export_accounts,
            commands::labels::set_account_group,
            commands::labels::tag_accounts,
            commands::labels::proxy_password_kept,
            commands::labels::set_account_proxy,
            commands::labels::set_group_proxy,
            commands::labels::list_groups,
            commands::system::copy_text,
            commands::system::open_link,
            commands::system::app_info,
            commands::system::get_catalogue,
        ])
        .on_window_event(on_window_event)
        .setup(|app| {
            let sink = Arc::new(WebviewSink::new(app.handle().clone()));
            app.manage(EngineSlot::new(EngineOptions::default(), sink));
            install_tray(app.handle());
            open_engine_in_background(app.handle().clone());
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

/// Closing the window hides it to the tray, when there is one; the first time, a
/// notification says so. Without a tray, closing quits as usual.
fn on_window_event(window: &tauri::Window, event: &WindowEvent) {
    // Files dropped on the window are offered for import, like a file picked in the dialog.
    if let WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) = event {
        let shell = window.app_handle().state::<Shell>();
        paths.iter().for_each(|p| shell.offered_files.offer(p));
        return;
    }
    let WindowEvent::CloseRequested { api, .. } = event else { return };
    let app = window.app_handle();
    let shell = app.state::<Shell>();
    if !shell.tray.load(Ordering::Relaxed) {
        return;
    }
    api.prevent_close();
    if let Err(err) = window.hide() {
        tracing::warn!(error = %err, "cannot hide the window");
    }
    if !shell.prefs.get().close_hint_shown {
        let prefs = shell.prefs.update(|p| p.close_hint_shown = true);
        let language = i18n::resolve(&prefs.language);
        notify::NOTIFIER.notice(
            app,
            i18n::tr(language, "notify.stillRunning", &[]),
            i18n::tr(language, "notify.stillRunning.body", &[]),
        );
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            if let Some(engine) = app.state::<EngineSlot>().opened() {
                let _ = prefs::save(&engine, &prefs).await;
            }
        });
    }
}

/// Stops the background jobs and logs out of idle IMAP sessions before the process ends. The engine bounds this by its
/// command timeout, so quitting never hangs on a dead server.
fn close_engine(app: &AppHandle) {
    let keeper = state::lock(&app.state::<Shell>().keeper).take();
    if let Some(engine) = app.state::<EngineSlot>().opened() {
        tauri::async_runtime::block_on(async {
            app.state::<local_api::LocalApi>().stop().await;
            if let Some(keeper) = keeper {
                keeper.stop(engine.config().pool.command_timeout).await;
            }
            engine.shutdown().await;
        });
    }
}

/// Starts opening the engine while the window loads; the UI's first command then waits for it
/// instead of starting the work. Once open, the preferences load, the window shows (unless
/// the user starts minimised) and watching resumes. Failures are logged here and shown by
/// the UI, so the window shows whatever happens.
fn open_engine_in_background(app: AppHandle) {
    let minimised_arg = std::env::args().any(|a| a == MINIMISED_ARG);
    tauri::async_runtime::spawn(async move {
        let engine = match app.state::<EngineSlot>().get().await {
            Ok(engine) => engine,
            Err(err) => {
                tracing::error!(code = err.code, "{}", err.message);
                tray::show_main_window(&app);
                return;
            }
        };
        let prefs = prefs::load(&engine).await;
        app.state::<Shell>().prefs.set(prefs.clone());
        let tray_ready = app.state::<Shell>().tray.load(Ordering::Relaxed);
        if !(tray_ready && (prefs.start_minimised || minimised_arg)) {
            tray::show_main_window(&app);
        }
        tray::refresh(&app);
        engine.resume_watching().await;
        *state::lock(&app.state::<Shell>().keeper) = Some(mailwatch_engine::keeper::Keeper::start(&engine));
        commands::local_api::resume(&app, engine).await;
    });
}

/// A missing tray is no reason not to start: the window still works. The appindicator
/// library is loaded at run time and its loader panics when the library is not installed, so
/// that case is caught here too.
fn install_tray(app: &AppHandle) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tray::install(app))) {
        Ok(Ok(())) => app.state::<Shell>().tray.store(true, Ordering::Relaxed),
        Ok(Err(err)) => tracing::warn!(error = %err, "cannot add the tray icon; the window works without it"),
        Err(_) => tracing::warn!(
            "cannot add the tray icon (is libayatana-appindicator3 installed?); the window works without it"
        ),
    }
}

/// Logs to stderr as `RUST_LOG` asks, with the crates that log raw protocol text capped at info
/// so that no filter writes a password or a token.
fn init_logging() {
    use mailwatch_engine::redact::{PROTOCOL_LOG_CAP, PROTOCOL_LOG_TARGETS};
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,mailwatch_shell=info,mailwatch_engine=info"));
    let quiet = PROTOCOL_LOG_TARGETS
        .iter()
        .fold(Targets::new().with_default(LevelFilter::TRACE), |t, target| t.with_target(*target, PROTOCOL_LOG_CAP));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter).with_filter(quiet);
    // A second initialisation (in tests) fails harmlessly.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
