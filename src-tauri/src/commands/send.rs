//! Sending one message from an account.

use mailwatch_engine::outbox::SendReceipt;
use mailwatch_engine::smtp::compose::Draft;
use tauri::State;

use crate::error::ApiError;
use crate::state::{EngineSlot, guarded};

/// Sends one message from the draft's `from` account over its reused SMTP connection.
///
/// # Errors
/// `invalid_message` for a draft that is not a message (no recipient, a bad address);
/// `unknown_account`; `no_smtp_server` when no SMTP server is known for the account;
/// `auth_failed` or `scope_not_granted` when signing in fails; `smtp_refused` or
/// `smtp_deferred` with the server's words; `pool_exhausted`; connection failures.
#[tauri::command]
pub async fn send_message(engine: State<'_, EngineSlot>, draft: Draft) -> Result<SendReceipt, ApiError> {
    let engine = engine.get().await?;
    guarded("send the message", async move { Ok(engine.send(&draft).await?) }).await
}
