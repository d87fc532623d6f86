//! The tray icon: show or hide the window, pause or resume watching, the latest codes (a
//! click copies one), and quit, in the language of the window.
//!
//! On Linux the icon goes through libayatana-appindicator to a StatusNotifier host. Many
//! desktops have no such host; the icon is then simply not shown, and the app works without
//! it. Linux also sends no click events for tray icons, so everything is in the menu.

use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Listener, Manager, Wry};

use crate::state::{EngineSlot, Shell, lock};

const TRAY_ID: &str = "main";
const TOGGLE: &str = "toggle-window";
const PAUSE: &str = "pause";
const QUIT: &str = "quit";
const COPY_PREFIX: &str = "copy:";
/// How many codes the tray menu lists.
pub const RECENT_CODES: usize = 5;

/// Adds the tray icon and its menu.
///
/// # Errors
/// The menu or the icon cannot be created.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(include_bytes!("../../icons/tray.png"))?)
        .tooltip("Mailwatch")
        .menu(&menu(app)?)
        .on_menu_event(on_menu_event)
        .build(app)?;
    // Pausing from the window or from here: the menu's label follows either way.
    let handle = app.clone();
    app.listen_any(crate::commands::watch::PAUSED_EVENT, move |_| refresh(&handle));
    // And so does a change of language.
    let handle = app.clone();
    app.listen_any(crate::commands::settings::LANGUAGE_EVENT, move |_| refresh(&handle));
    Ok(())
}

/// Rebuilds the menu after the codes, the pause state or the language changed.
pub fn refresh(app: &AppHandle) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    if let Err(err) = menu(app).and_then(|m| tray.set_menu(Some(m))) {
        tracing::warn!(error = %err, "cannot update the tray menu");
    }
}

fn menu(app: &AppHandle) -> tauri::Result<Menu<Wry>> {
    let shell = app.state::<Shell>();
    let language = crate::i18n::resolve(&shell.prefs.get().language);
    let tr = |key: &str| crate::i18n::tr(language, key, &[]);
    let paused = app.state::<EngineSlot>().opened().is_some_and(|e| e.watch_choice().paused);
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(app, TOGGLE, tr("tray.toggle"), true, None::<&str>)?)?;
    let pause_label = tr(if paused { "tray.resume" } else { "tray.pause" });
    menu.append(&MenuItem::with_id(app, PAUSE, pause_label, true, None::<&str>)?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let recent = lock(&shell.recent).clone();
    if recent.is_empty() {
        menu.append(&MenuItem::with_id(app, "no-codes", tr("tray.noCodes"), false, None::<&str>)?)?;
    }
    for (i, code) in recent.iter().enumerate() {
        menu.append(&MenuItem::with_id(app, format!("{COPY_PREFIX}{i}"), code.label(), true, None::<&str>)?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, QUIT, tr("tray.quit"), true, None::<&str>)?)?;
    Ok(menu)
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let id = event.id().as_ref();
    match id {
        TOGGLE => toggle_main_window(app),
        PAUSE => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let paused = !app.state::<EngineSlot>().opened().is_some_and(|e| e.watch_choice().paused);
                if let Err(err) = crate::commands::watch::set_paused_inner(&app, paused).await {
                    tracing::warn!(code = err.code, "{}", err.message);
                }
            });
        }
        QUIT => app.exit(0),
        _ => {
            if let Some(index) = id.strip_prefix(COPY_PREFIX).and_then(|i| i.parse::<usize>().ok()) {
                let code = lock(&app.state::<Shell>().recent).get(index).map(|c| c.code.clone());
                if let Some(code) = code {
                    crate::commands::system::copy(app, &code);
                }
            }
        }
    }
}

/// Shows, unminimises and focuses the main window.
pub fn show_main_window(app: &AppHandle) {
    let Some(window) = app.get_webview_window("main") else { return };
    if let Err(err) = window.show().and_then(|()| window.unminimize()).and_then(|()| window.set_focus()) {
        tracing::warn!(error = %err, "cannot show the main window");
    }
}

/// Hides the main window if it is showing, otherwise shows and focuses it.
fn toggle_main_window(app: &AppHandle) {
    let Some(window) = app.get_webview_window("main") else { return };
    match window.is_visible() {
        Ok(true) => {
            if let Err(err) = window.hide() {
                tracing::warn!(error = %err, "cannot hide the main window");
            }
        }
        _ => show_main_window(app),
    }
}

#[cfg(test)]
mod tests {
    use crate::state::RecentCode;

    #[test]
    fn a_recent_code_label_leads_with_the_code() {
        let code = RecentCode { code: "042917".into(), service: Some("GitHub".into()), email: "a@b.c".into() };
        assert_eq!(code.label(), "042917 · GitHub · a@b.c");
        assert_eq!(RecentCode { service: None, ..code }.label(), "042917 · a@b.c");
    }
}
