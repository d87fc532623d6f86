//! Settings' "Local API": turn the server on and off, show its address and the app's key,
//! renew the key.

use tauri::{AppHandle, Manager, State};

use crate::error::ApiError;
use crate::local_api::{LocalApi, LocalApiView};
use crate::state::{EngineSlot, Shell, guarded};

/// Whether the Local API runs, where, and with which key.
///
/// # Errors
/// The engine cannot be opened, or the keyring cannot be read.
#[tauri::command]
pub async fn get_local_api(app: AppHandle, engine: State<'_, EngineSlot>) -> Result<LocalApiView, ApiError> {
    let engine = engine.get().await?;
    view(&app, engine).await
}

/// Turns the Local API on (making the app's key the first time) or off, and remembers the
/// choice for the next start.
///
/// # Errors
/// `api_address_in_use` or `api_listen_failed` when it cannot listen; the keyring or the cache
/// cannot be used.
#[tauri::command]
pub async fn set_local_api(app: AppHandle, engine: State<'_, EngineSlot>, on: bool) -> Result<LocalApiView, ApiError> {
    let engine = engine.get().await?;
    if on {
        let e = engine.clone();
        guarded("make the app's API key", async move { Ok(mailwatch_api::keys::app_key(&e).await?) }).await?;
        app.state::<LocalApi>().start(engine.clone()).await?;
    } else {
        app.state::<LocalApi>().stop().await;
    }
    let prefs = app.state::<Shell>().prefs.update(|p| p.local_api = on);
    crate::prefs::save(&engine, &prefs).await?;
    view(&app, engine).await
}

/// Revokes the app's key and makes a new one; a client still using the old key is refused
/// within a second.
///
/// # Errors
/// The keyring or the cache cannot be used.
#[tauri::command]
pub async fn renew_api_key(app: AppHandle, engine: State<'_, EngineSlot>) -> Result<LocalApiView, ApiError> {
    let engine = engine.get().await?;
    let e = engine.clone();
    guarded("renew the app's API key", async move { Ok(mailwatch_api::keys::renew_app_key(&e).await?) }).await?;
    view(&app, engine).await
}

/// Starts the Local API at launch when the user left it on; a failure is logged and shown
/// in Settings, and the app runs on without it.
pub async fn resume(app: &AppHandle, engine: std::sync::Arc<mailwatch_engine::Engine>) {
    if !app.state::<Shell>().prefs.get().local_api {
        return;
    }
    let started = async {
        mailwatch_api::keys::app_key(&engine).await?;
        app.state::<LocalApi>().start(engine.clone()).await
    };
    if let Err(err) = started.await {
        tracing::warn!(code = err.code, "{}", err.message);
    }
}

async fn view(app: &AppHandle, engine: std::sync::Arc<mailwatch_engine::Engine>) -> Result<LocalApiView, ApiError> {
    let Some(address) = app.state::<LocalApi>().address() else { return Ok(LocalApiView::default()) };
    let key = guarded("read the app's API key", async move {
        Ok(mailwatch_api::keys::stored_app_key(&engine).await?.map(|k| k.key))
    })
    .await?;
    Ok(LocalApiView { running: true, address: Some(format!("http://{address}")), key })
}
