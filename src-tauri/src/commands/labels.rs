//! Commands about groups and proxies: put accounts in a group, give accounts or a group a
//! proxy, list the groups. A proxy URL may carry a password; the engine puts it in the
//! keyring and nothing here returns it.

use mailwatch_engine::store::GroupInfo;
use tauri::State;

use crate::error::ApiError;
use crate::state::{EngineSlot, guarded};

/// Puts the accounts in `group`, or in none when it is `None` or blank. Returns how many
/// accounts changed.
///
/// # Errors
/// An invalid group name; the cache failed.
#[tauri::command]
pub async fn set_account_group(
    engine: State<'_, EngineSlot>,
    emails: Vec<String>,
    group: Option<String>,
) -> Result<usize, ApiError> {
    let engine = engine.get().await?;
    let group = group.filter(|g| !g.trim().is_empty());
    guarded("set the accounts' group", async move { Ok(engine.set_group(&emails, group.as_deref()).await?) }).await
}

/// Gives the accounts their own proxy (a URL), or takes it away when it is `None` or blank.
/// Returns how many accounts changed.
///
/// # Errors
/// A proxy URL Mailwatch cannot use; the keyring or the cache failed.
#[tauri::command]
pub async fn set_account_proxy(
    engine: State<'_, EngineSlot>,
    emails: Vec<String>,
    proxy: Option<String>,
) -> Result<usize, ApiError> {
    let engine = engine.get().await?;
    let proxy = proxy.filter(|p| !p.trim().is_empty());
    guarded("set the accounts' proxy", async move { Ok(engine.set_account_proxy(&emails, proxy.as_deref()).await?) })
        .await
}

/// Gives a group its proxy, or takes it away when it is `None` or blank.
///
/// # Errors
/// An invalid group name or proxy URL; the keyring or the cache failed.
#[tauri::command]
pub async fn set_group_proxy(
    engine: State<'_, EngineSlot>,
    group: String,
    proxy: Option<String>,
) -> Result<(), ApiError> {
    let engine = engine.get().await?;
    let proxy = proxy.filter(|p| !p.trim().is_empty());
    guarded("set the group's proxy", async move { Ok(engine.set_group_proxy(&group, proxy.as_deref()).await?) }).await
}

/// Every group with its proxy (no password) and how many accounts it has.
///
/// # Errors
/// The cache cannot be read.
#[tauri::command]
pub async fn list_groups(engine: State<'_, EngineSlot>) -> Result<Vec<GroupInfo>, ApiError> {
    let engine = engine.get().await?;
    guarded("list the groups", async move { Ok(engine.groups().await?) }).await
}
