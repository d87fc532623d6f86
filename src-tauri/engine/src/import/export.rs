//! Writing accounts back out in the formats the importer reads, so an export re-imports to
//! the same accounts. Secrets are written only when the caller put them in the records,
//! which [`crate::Engine::export`] does only after an explicit confirmation.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::ImportFormat;
use crate::account::{Account, AuthMethod, normalize_email, presets};
use crate::error::EngineError;
use crate::net::ProxyUrl;
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
    let secrets_store = secrets;
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
    let proxy_passwords = match secrets_store {
        Some(store) => proxy_passwords(store, &accounts).await?,
        None => HashMap::new(),
    };
    let records: Vec<ExportRecord> = accounts
        .iter()
        .zip(secrets)
        .map(|(a, s)| {
            let mut r = ExportRecord::new(a, s);
            if let Some(pw) = r.proxy_key.as_ref().and_then(|k| proxy_passwords.get(k)) {
                r.add_proxy_password(pw.clone());
            }
            r
        })
        .collect();
    Ok(write_export(&records, format))
}

/// The passwords of the proxies the accounts name, by keyring entry.
async fn proxy_passwords(
    store: &Arc<dyn SecretStore>,
    accounts: &[Account],
) -> Result<HashMap<String, Secret>, EngineError> {
    let mut keys: Vec<String> = accounts
        .iter()
        .filter_map(|a| a.proxy.as_deref())
        .filter_map(|u| u.parse::<ProxyUrl>().ok())
        .map(|u| u.secret_key())
        .collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let got = store.get_many(&keys);
        let mut out = HashMap::new();
        for (k, r) in keys.into_iter().zip(got) {
            if let Some(s) = r? {
                out.insert(k, s);
            }
        }
        Ok(out)
    })
    .await
    .map_err(|e| EngineError::Internal(e.to_string()))?
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
    /// The account's group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The account's tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The account's own proxy as a URL; with its password only when secrets are exported.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "expose")]
    pub proxy: Option<Secret>,
    /// The proxy's keyring entry.
    #[serde(skip)]
    proxy_key: Option<String>,
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
            group: account.group.clone(),
            tags: account.tags.clone(),
            proxy: account.proxy.clone().map(Secret::new),
            proxy_key: account.proxy.as_deref().and_then(|u| u.parse::<ProxyUrl>().ok()).map(|u| u.secret_key()),
        }
    }

    /// Puts the proxy's password into its URL (an export with secrets).
    pub fn add_proxy_password(&mut self, password: Secret) {
        if let Some(url) = self.proxy.as_ref().and_then(|u| u.expose().parse::<ProxyUrl>().ok()) {
            self.proxy = Some(Secret::new(url.with_password(Some(password)).url_with_password()));
        }
    }
}

/// Writes the records in `format` (`Auto` means CSV, which carries every column).
pub fn write_export(records: &[ExportRecord], format: ImportFormat) -> String {
    match format {
        ImportFormat::Json => serde_json::to_string_pretty(records).unwrap_or_else(|_| "[]".into()) + "\n",
        ImportFormat::Dash => {
            let mut out = String::new();
            let mut group: Option<&str> = None;
            for r in records {
                // A dash file carries groups as `#group` lines (and no tags).
                if r.group.as_deref() != group {
                    group = r.group.as_deref();
                    out.push_str(&format!("#group {}\n", group.unwrap_or("")).replace("#group \n", "#group\n"));
                }
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
                fields.extend(r.proxy.as_ref().map(|p| p.expose().to_string()));
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
                "group",
                "tags",
                "proxy",
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
                    r.group.as_deref().unwrap_or(""),
                    r.tags.join(",").as_str(),
                    r.proxy.as_ref().map(Secret::expose).unwrap_or(""),
                ]);
            }
            String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
        }
    }
}
