//! Commands about accounts.

use mailwatch_engine::account::Account;
use mailwatch_engine::imap::FolderSpec;
use serde::Serialize;
use tauri::State;

use crate::error::ApiError;
use crate::state::{EngineSlot, guarded};

/// An account as the accounts list shows it: everything the engine stores (no secret) plus
/// when Mailwatch last looked at its mail.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRow {
    /// The account itself, flattened into the row.
    #[serde(flatten)]
    pub account: Account,
    /// When the inbox or the junk folder was last synced, in Unix seconds; `None` if never.
    pub last_check: Option<i64>,
}

/// Every account, in the order they were added, with when each was last checked.
///
/// # Errors
/// The engine could not be opened, or its cache could not be read.
#[tauri::command]
pub async fn list_accounts(engine: State<'_, EngineSlot>) -> Result<Vec<AccountRow>, ApiError> {
    let engine = engine.get().await?;
    guarded("list accounts", async move {
        let accounts = engine.accounts().await?;
        // The folders the engine watches for codes, under the names it keeps their sync under.
        let watched = [FolderSpec::Inbox.to_string(), FolderSpec::Junk.to_string()];
        let rows = engine
            .store()
            .call(move |store| {
                accounts
                    .into_iter()
                    .map(|account| {
                        let mut last_check = None;
                        for folder in &watched {
                            let synced = store.folder_state(&account.email, folder)?.map(|state| state.synced_at);
                            last_check = last_check.max(synced);
                        }
                        Ok(AccountRow { account, last_check })
                    })
                    .collect::<Result<Vec<_>, mailwatch_engine::store::StoreError>>()
            })
            .await?;
        Ok(rows)
    })
    .await
}
