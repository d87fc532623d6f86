//! Clipboard, links and facts about the app.

use serde::Serialize;
use tauri::{AppHandle, State};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_opener::OpenerExt;

use crate::error::ApiError;
use crate::i18n;
use crate::state::EngineSlot;

/// Puts text on the clipboard, logging (not failing) when there is no clipboard.
pub fn copy(app: &AppHandle, text: &str) {
    if let Err(err) = app.clipboard().write_text(text.to_string()) {
        tracing::warn!(error = %err, "cannot write to the clipboard");
    }
}

/// Puts a code on the clipboard.
///
/// # Errors
/// `clipboard_unavailable` when the desktop has no clipboard.
#[tauri::command]
pub fn copy_text(app: AppHandle, text: String) -> Result<(), ApiError> {
    app.clipboard()
        .write_text(text)
        .map_err(|e| ApiError::new("clipboard_unavailable", format!("cannot copy to the clipboard: {e}")))
}

/// Opens a verification link in the system browser. Only http and https links are opened.
///
/// # Errors
/// `invalid_link` for any other scheme; `open_failed` when no browser could be started.
#[tauri::command]
pub fn open_link(app: AppHandle, url: String) -> Result<(), ApiError> {
    let lower = url.trim().to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(ApiError::new("invalid_link", "cannot open this link: only web (http and https) links are opened"));
    }
    app.opener()
        .open_url(url.trim(), None::<&str>)
        .map_err(|e| ApiError::new("open_failed", format!("cannot open the link in a browser: {e}")))
}

/// Facts the About line and the settings view show.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The app's version.
    pub version: String,
    /// Where the cache and settings live.
    pub data_dir: String,
    /// Whether desktop notifications failed.
    pub notifications_unavailable: bool,
}

/// The app's version and data folder.
///
/// # Errors
/// The engine could not be opened.
#[tauri::command]
pub async fn app_info(app: AppHandle, engine: State<'_, EngineSlot>) -> Result<AppInfo, ApiError> {
    let engine = engine.get().await?;
    Ok(AppInfo {
        version: app.package_info().version.to_string(),
        data_dir: engine.data_dir().display().to_string(),
        notifications_unavailable: crate::notify::NOTIFIER.unavailable(),
    })
}

/// The window's words in one language, with English for any key that language lacks.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogueView {
    /// The language given ("en", "zh-CN").
    pub language: &'static str,
    /// The language the system asks for (from `LC_ALL`, `LC_MESSAGES` or `LANG`).
    pub system: &'static str,
    /// The language's messages.
    pub messages: &'static i18n::Catalogue,
    /// The English messages.
    pub english: &'static i18n::Catalogue,
}

/// The catalogue for `language`, or, without one, for the language chosen in Settings (the
/// system's if none was chosen). The page cannot load the catalogue files itself: its content
/// security policy lets it reach only Mailwatch's commands.
///
/// # Errors
/// None: if the engine cannot be opened to read the choice, the system's language is used.
#[tauri::command]
pub async fn get_catalogue(engine: State<'_, EngineSlot>, language: Option<String>) -> Result<CatalogueView, ApiError> {
    let choice = match language {
        Some(language) => language,
        None => match engine.get().await {
            Ok(engine) => crate::prefs::load(&engine).await.language,
            Err(_) => String::new(),
        },
    };
    let language = i18n::resolve(&choice);
    Ok(CatalogueView {
        language,
        system: i18n::resolve(""),
        messages: i18n::catalogue(language),
        english: i18n::catalogue("en"),
    })
}
