//! An account's newest messages, and one message for the sandboxed viewer.

use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::store::CachedMessage;
use mailwatch_engine::view::MessageView;
use tauri::State;

use crate::error::ApiError;
use crate::state::{EngineSlot, guarded};

/// The newest `top` messages of the account's inbox or junk folder (or any folder by name),
/// newest first, fetched from the server on the account's pooled session; `top` is capped
/// by `cache.maxTop`. Codes already in the folder before its first listing are not news.
///
/// # Errors
/// Unknown account or folder; the account cannot be reached.
#[tauri::command]
pub async fn list_messages(
    engine: State<'_, EngineSlot>,
    email: String,
    folder: String,
    top: usize,
) -> Result<Vec<CachedMessage>, ApiError> {
    let engine = engine.get().await?;
    let folder: FolderSpec = folder.parse().unwrap_or(FolderSpec::Inbox);
    guarded("list messages", async move { Ok(engine.fetch(&email, &folder, top.max(1), false).await?) }).await
}

/// One message, whole, for the viewer.
///
/// # Errors
/// The message is gone; unknown account or folder; the account cannot be reached.
#[tauri::command]
pub async fn open_message(
    engine: State<'_, EngineSlot>,
    email: String,
    folder: String,
    uid: u32,
) -> Result<MessageView, ApiError> {
    let engine = engine.get().await?;
    let folder: FolderSpec = folder.parse().unwrap_or(FolderSpec::Inbox);
    guarded("open the message", async move { Ok(engine.message_view(&email, &folder, uid).await?) }).await
}
