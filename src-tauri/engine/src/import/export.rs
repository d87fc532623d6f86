//! Writing accounts back out in the formats the importer reads, so an export re-imports to
//! the same accounts. Secrets are written only when the caller put them in the records,
//! which [`crate::Engine::export`] does only after an explicit confirmation.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::ImportFormat;
use crate::account::{Account, AuthMethod, normalize_email, presets};
use crate::error::EngineError;
use crate::secrets::{Secret, SecretStore};

/// The accounts named in `emails` (all of `all` when `None`) in `format`, with each secret
/// read from `secrets` when given. Callers pass `secrets` only after the user explicitly
/// confirmed.
///
/// # Errors
/// A named account is unknown or its address invalid; the keyring failed.
pub(crate) async fn export_accounts(
    all: Vec<Account>,
    emails: Option<&[String]>,
    format: ImportFormat,
    secrets: Option<&Arc<dyn SecretStore>>,
) -> Result<String, EngineError> {
    let accounts: Vec<Account> = match emails {
        None => all,
        Some(list) => {
            let mut by_email: HashMap<String, Account> = all.into_iter().map(|a| (a.email.clone(), a)).collect();
            let mut picked = Vec::new();
            for e in list {
                let e = normalize_email(e)?;
                picked.push(by_email.remove(&e).ok_or(EngineError::UnknownAccount { email: e })?);
            }
            picked
        }
    };
    let secrets: Vec<Option<Secret>> = match secrets {
        Some(store) => {
            let store = store.clone();
            let list: Vec<String> = accounts.iter().map(|a| a.email.clone()).collect();
            tokio::task::spawn_blocking(move || store.get_many(&list).into_iter().collect::<Result<Vec<_>, _>>())
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??
        }
        None => vec![None; accounts.len()],
    };
    let records: Vec<ExportRecord> = accounts.iter().zip(secrets).map(|(a, s)| ExportRecord::new(a, s)).collect();
    Ok(write_export(&records, format))
}

/// One account as exported.
#[derive(Debug, Clone, Serialize)]
pub struct ExportRecord {
    /// The address.
    pub email: String,
    /// The password, when secrets are exported.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "expose")]
    pub password: Option<Secret>,
    /// The refresh token, when secrets are exported.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "expose")]
    pub refresh_token: Option<Secret>,
    /// The OAuth2 client id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// outlook, gmail or imap.
    pub provider: &'static str,
    /// The IMAP server, unless it is the domain's preset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imap_host: Option<String>,
    /// Its port, unless it is the domain's preset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imap_port: Option<u16>,
}

fn expose<S: serde::Serializer>(s: &Option<Secret>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(s) => ser.serialize_str(s.expose()),
        None => ser.serialize_none(),
    }
}

impl ExportRecord {
    /// The account's record, with its secret if one is given.
    pub fn new(account: &Account, secret: Option<Secret>) -> ExportRecord {
        let (password, refresh_token) = match account.auth {
            AuthMethod::OAuth2 => (None, secret),
            AuthMethod::Password => (secret, None),
        };
        // The server is left out when the preset gives it anyway, so that re-importing keeps
        // the preset's fallback server.
        let domain = account.email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        let preset = crate::account::preset_for(domain)
            .filter(|p| p.provider == account.provider)
            .or_else(|| presets::provider_default(account.provider));
        let is_preset = preset.is_some_and(|p| p.imap_host == account.imap.host && p.imap_port == account.imap.port);
        ExportRecord {
            email: account.email.clone(),
            password,
            refresh_token,
            client_id: account.client_id.clone(),
            provider: account.provider.as_str(),
            imap_host: (!is_preset).then(|| account.imap.host.clone()),
            imap_port: (!is_preset).then_some(account.imap.port),
        }
    }
}

/// Writes the records in `format` (`Auto` means CSV, which carries every column).
pub fn write_export(records: &[ExportRecord], format: ImportFormat) -> String {
    match format {
        ImportFormat::Json => serde_json::to_string_pretty(records).unwrap_or_else(|_| "[]".into()) + "\n",
        ImportFormat::Dash => {
            let mut out = String::new();
            for r in records {
                let mut fields = vec![r.email.clone()];
                if let Some(t) = &r.refresh_token {
                    fields.push(t.expose().to_string());
                    fields.extend(r.client_id.clone());
                } else if let Some(p) = &r.password {
                    fields.push(p.expose().to_string());
                } else {
                    // Without secrets a dash line keeps what it can: the client id.
                    fields.extend(r.client_id.clone());
                }
                if let (None, Some(host), Some(port)) = (&r.refresh_token, &r.imap_host, r.imap_port) {
                    fields.push(host.clone());
                    fields.push(port.to_string());
                }
                out.push_str(&fields.join("----"));
                out.push('\n');
            }
            out
        }
        ImportFormat::Csv | ImportFormat::Auto => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let _ = w.write_record([
                "email",
                "password",
                "refresh_token",
                "client_id",
                "provider",
                "imap_host",
                "imap_port",
            ]);
            for r in records {
                let port = r.imap_port.map(|p| p.to_string()).unwrap_or_default();
                let _ = w.write_record([
                    r.email.as_str(),
                    r.password.as_ref().map(Secret::expose).unwrap_or(""),
                    r.refresh_token.as_ref().map(Secret::expose).unwrap_or(""),
                    r.client_id.as_deref().unwrap_or(""),
                    r.provider,
                    r.imap_host.as_deref().unwrap_or(""),
                    port.as_str(),
                ]);
            }
            String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
        }
    }
}
