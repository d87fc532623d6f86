//! The tray icon: show or hide the window, and quit.
//!
//! On Linux the icon goes through libayatana-appindicator to a StatusNotifier host. Many
//! desktops have no such host; the icon is then simply not shown, and the app works without
//! it. Linux also sends no click events for tray icons, so everything is in the menu.

use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

const TOGGLE: &str = "toggle-window";
const QUIT: &str = "quit";

/// Adds the tray icon and its menu.
///
/// # Errors
/// The menu or the icon cannot be created.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let toggle = MenuItem::with_id(app, TOGGLE, "Show/Hide Mailwatch", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&toggle, &quit])?;
    TrayIconBuilder::with_id("main")
        .icon(Image::from_bytes(include_bytes!("../../icons/tray.png"))?)
        .tooltip("Mailwatch")
        .menu(&menu)
        .on_menu_event(on_menu_event)
        .build(app)?;
    Ok(())
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    match event.id().as_ref() {
        TOGGLE => toggle_main_window(app),
        QUIT => app.exit(0),
        _ => {}
    }
}

/// Hides the main window if it is showing, otherwise shows and focuses it.
fn toggle_main_window(app: &AppHandle) {
    let Some(window) = app.get_webview_window("main") else { return };
    let result = match window.is_visible() {
        Ok(true) => window.hide(),
        _ => window.show().and_then(|()| window.unminimize()).and_then(|()| window.set_focus()),
    };
    if let Err(err) = result {
        tracing::warn!(error = %err, "cannot show or hide the main window");
    }
}
