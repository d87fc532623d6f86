//! Commands about accounts: list, preview a preset, add or edit, remove.

use std::collections::HashSet;

use mailwatch_engine::account::{Account, AccountSpec, ImapEndpoint, SmtpEndpoint, presets};
use mailwatch_engine::engine::NewSecret;
use mailwatch_engine::secrets::Secret;
use mailwatch_engine::store::CodeRecord;
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::error::ApiError;
use crate::state::{EngineSlot, guarded};

/// An account as the accounts list shows it: everything the engine stores (no secret), when
/// Mailwatch last looked at its mail, its newest code and whether it is watched.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRow {
    /// The account itself, flattened into the row.
    #[serde(flatten)]
    pub account: Account,
    /// When the inbox or the junk folder was last synced, in Unix seconds; `None` if never.
    pub last_check: Option<i64>,
    /// The newest code found in the account.
    pub last_code: Option<CodeRecord>,
    /// Whether the account is among the watched ones (paused or not).
    pub watching: bool,
}

/// Every account, in the order they were added, with when each was last checked, its newest
/// code and whether it is watched. Two queries, whatever the number of accounts.
///
/// # Errors
/// The engine could not be opened, or its cache could not be read.
#[tauri::command]
pub async fn list_accounts(engine: State<'_, EngineSlot>) -> Result<Vec<AccountRow>, ApiError> {
    let engine = engine.get().await?;
    guarded("list accounts", async move {
        let accounts = engine.accounts().await?;
        let mut overview = engine.account_overview().await?;
        let watched: HashSet<String> = engine.watch_choice().watched.into_iter().collect();
        Ok(accounts
            .into_iter()
            .map(|account| {
                let seen = overview.remove(&account.email).unwrap_or_default();
                let watching = watched.contains(&account.email);
                AccountRow { account, last_check: seen.last_check, last_code: seen.last_code, watching }
            })
            .collect())
    })
    .await
}

/// The servers a new account would use, for the add dialog to show before saving.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresetView {
    /// "outlook", "gmail" or "imap".
    pub provider: String,
    /// IMAP host.
    pub imap_host: String,
    /// IMAP port.
    pub imap_port: u16,
    /// "implicit" or "starttls".
    pub tls: String,
    /// Whether the provider signs in with OAuth2 (a refresh token) rather than a password.
    pub oauth: bool,
    /// The SMTP server mail is sent through, `None` when the preset gives no hint.
    pub smtp: Option<SmtpEndpoint>,
}

/// The preset for an address's domain, if Mailwatch knows it.
#[tauri::command]
pub fn account_preset(email: String) -> Option<PresetView> {
    let domain = email.rsplit_once('@')?.1.trim();
    let preset = presets::preset_for(domain)?;
    let imap = ImapEndpoint { host: preset.imap_host.to_string(), port: preset.imap_port, tls: preset.tls };
    Some(PresetView {
        provider: plain(&preset.provider),
        imap_host: preset.imap_host.to_string(),
        imap_port: preset.imap_port,
        tls: plain(&preset.tls),
        oauth: preset.oauth.is_some(),
        smtp: presets::smtp_default(preset.provider, &imap),
    })
}

/// A unit enum's serialized name ("outlook", "implicit").
fn plain<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// What the add and edit dialogs send: the account's details and, for a new account or a
/// changed secret, the secret. The secret goes straight to the keyring.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInput {
    /// The account's details; what is left out comes from the preset.
    pub spec: AccountSpec,
    /// A refresh token (OAuth2) or a password; `None` keeps the stored one when editing.
    pub secret: Option<String>,
    /// Whether `secret` is a refresh token (otherwise a password).
    pub secret_is_token: bool,
}

/// Adds an account, or updates it if the address is already known. Editing without a new
/// secret keeps the stored one.
///
/// # Errors
/// Invalid details, a missing secret for a new account, or the keyring or cache failed.
#[tauri::command]
pub async fn save_account(engine: State<'_, EngineSlot>, input: AccountInput) -> Result<AccountRow, ApiError> {
    let engine = engine.get().await?;
    guarded("save the account", async move {
        let AccountInput { spec, secret, secret_is_token } = input;
        let account = match secret.filter(|s| !s.trim().is_empty()) {
            Some(secret) => {
                let secret = Secret::new(secret.trim().to_string());
                let secret =
                    if secret_is_token { NewSecret::RefreshToken(secret) } else { NewSecret::Password(secret) };
                engine.add_account(&spec, secret).await?
            }
            None => engine.update_account(&spec).await?,
        };
        Ok(AccountRow { account, last_check: None, last_code: None, watching: false })
    })
    .await
}

/// Removes an account, its watch, its cached mail and its keyring entry.
///
/// # Errors
/// Unknown account, or the keyring or cache failed.
#[tauri::command]
pub async fn remove_account(engine: State<'_, EngineSlot>, email: String) -> Result<(), ApiError> {
    let engine = engine.get().await?;
    guarded("remove the account", async move { Ok(engine.remove_account(&email).await?) }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preset_names_the_server_mail_is_sent_through() {
        let outlook = account_preset("ann@outlook.com".into()).expect("outlook.com has a preset");
        let smtp = outlook.smtp.expect("Outlook has a submission server");
        assert_eq!((smtp.to_string(), plain(&smtp.tls)), ("smtp.office365.com:587".into(), "starttls".into()));
        assert!(account_preset("ann@unknown.example".into()).is_none(), "an unknown domain has no preset");
    }
}
