//! Commands about groups, tags and proxies: put accounts in a group, tag them, give accounts
//! or a group a proxy, list the groups. A proxy URL may carry a password; the engine puts it in the
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

/// Adds `add` and removes `remove` from each account's tags. Returns how many of the accounts
/// exist.
///
/// # Errors
/// An invalid tag; the cache failed.
#[tauri::command]
pub async fn tag_accounts(
    engine: State<'_, EngineSlot>,
    emails: Vec<String>,
    add: Vec<String>,
    remove: Vec<String>,
) -> Result<usize, ApiError> {
    let engine = engine.get().await?;
    guarded("change the accounts' tags", async move { Ok(engine.tag_accounts(&emails, &add, &remove).await?) }).await
}

/// Whether the keyring holds a password for the proxy the account connects through (its
/// own, else its group's). The password itself never leaves the engine.
///
/// # Errors
/// Unknown account; the keyring or the cache failed.
#[tauri::command]
pub async fn proxy_password_kept(engine: State<'_, EngineSlot>, email: String) -> Result<bool, ApiError> {
    let engine = engine.get().await?;
    guarded("read the account's proxy", async move {
        Ok(engine.account_proxy(&email).await?.is_some_and(|p| p.has_password()))
    })
    .await
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
