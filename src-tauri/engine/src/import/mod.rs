//! Account files the way suppliers write them: reading, importing, and writing them back out.
//!
//! Users arrive with hundreds or thousands of accounts in whatever format their supplier
//! used. This module turns such a file into [`ImportRecord`]s, one per usable line, and a
//! [`LineError`] for every line it cannot use, with the line's 1-based number in the file and
//! the reason in words. One bad line never stops the rest. `run.rs` is the import itself:
//! the plan, and the transaction that stores it (keyring first, then rows, chunk by chunk,
//! removal last); [`crate::Engine::import`] runs it and drops what it replaced.
//!
//! Formats (see [`ImportFormat`]), detected from the first meaningful line unless the caller
//! says which:
//!
//! - `dash.rs`: `email----refresh_token----client_id` and its variants, `email----password`,
//!   `email:password`, optionally followed by `----host----port`;
//! - `delimited.rs`: CSV or TSV with a header naming the columns, in any order;
//! - `json.rs`: an array of objects with the same keys.
//!
//! `decode.rs` turns the raw bytes into text first (UTF-8 with or without BOM, UTF-16 with
//! BOM, GBK). `export.rs` writes accounts back in the same formats.
//!
//! Secrets are wrapped in [`Secret`] as soon as they are read, so neither a report nor an
//! error can print one.

mod dash;
mod decode;
mod delimited;
mod export;
mod json;
mod run;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::account::{Account, AccountSpec, AuthMethod, Provider, Tls, normalize_email};
use crate::error::EngineError;
use crate::secrets::Secret;

pub use decode::decode;
pub(crate) use export::export_accounts;
pub use export::{ExportRecord, write_export};
pub use run::{ImportOptions, ImportReport, place_new_accounts};
pub(crate) use run::{plan, remove_accounts};

/// The shape of an account file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// Look at the first meaningful line and decide.
    #[default]
    Auto,
    /// One account a line, fields separated by `----` (or `email:password`).
    Dash,
    /// CSV or TSV with a header.
    Csv,
    /// A JSON array of objects.
    Json,
}

impl ImportFormat {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportFormat::Auto => "auto",
            ImportFormat::Dash => "dash",
            ImportFormat::Csv => "csv",
            ImportFormat::Json => "json",
        }
    }
}

impl fmt::Display for ImportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(ImportFormat::Auto),
            "dash" | "txt" | "text" => Ok(ImportFormat::Dash),
            "csv" | "tsv" => Ok(ImportFormat::Csv),
            "json" => Ok(ImportFormat::Json),
            other => Err(format!("unknown format {other:?}: use auto, dash, csv or json")),
        }
    }
}

/// What to do with an account that is already known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MergeMode {
    /// Overwrite the known account with the file's details and secret.
    #[default]
    Update,
    /// Keep the known account as it is.
    Skip,
    /// Like update, and afterwards remove known accounts the file does not mention (only
    /// once every line is valid and stored, and only when the caller confirms).
    Replace,
}

impl MergeMode {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMode::Update => "update",
            MergeMode::Skip => "skip",
            MergeMode::Replace => "replace",
        }
    }
}

impl FromStr for MergeMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "update" => Ok(MergeMode::Update),
            "skip" => Ok(MergeMode::Skip),
            "replace" => Ok(MergeMode::Replace),
            other => Err(format!("unknown merge mode {other:?}: use update, skip or replace")),
        }
    }
}

/// One usable line of an account file, before it is checked against the presets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportRecord {
    /// The line's 1-based number in the file (for JSON, where its object starts).
    pub line: usize,
    /// The address as written.
    pub email: String,
    /// A password or app password.
    pub password: Option<Secret>,
    /// An OAuth2 refresh token.
    pub refresh_token: Option<Secret>,
    /// An OAuth2 client id.
    pub client_id: Option<String>,
    /// A provider named by the file.
    pub provider: Option<String>,
    /// An IMAP host named by the file.
    pub imap_host: Option<String>,
    /// An IMAP port named by the file.
    pub imap_port: Option<String>,
    /// An SMTP host named by the file.
    pub smtp_host: Option<String>,
    /// An SMTP port named by the file.
    pub smtp_port: Option<String>,
    /// An SMTP TLS mode named by the file (implicit or starttls).
    pub smtp_tls: Option<String>,
    /// The group named by the file: its column, or the last `#group NAME` line above.
    pub group: Option<String>,
    /// Tags named by the file (a column, separated by commas, semicolons or `|`).
    pub tags: Vec<String>,
    /// The proxy named by the file, as written: it may hold the proxy's password, so it is
    /// kept as a secret until [`ImportRecord::plan`] splits it.
    pub proxy: Option<Secret>,
}

/// A line that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// The 1-based line number in the file.
    pub line: usize,
    /// What is wrong, in words; never contains a secret.
    pub reason: String,
    /// What is wrong, as a stable code for programs and translations (`no_email`,
    /// `duplicate`, `bad_imap_port`, ... or an engine error code), with its details in `args`.
    #[serde(default)]
    pub code: String,
    /// The details the reason names (`first`, `column`, `domain`, ...); never a field's value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

/// Why a line cannot be used, before its line number is known: a [`LineError`] without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// See [`LineError::code`].
    pub code: &'static str,
    /// See [`LineError::reason`].
    pub reason: String,
    /// See [`LineError::args`].
    pub args: BTreeMap<String, String>,
}

impl Problem {
    /// A problem with its code and its sentence in English.
    pub fn new(code: &'static str, reason: impl Into<String>) -> Problem {
        Problem { code, reason: reason.into(), args: BTreeMap::new() }
    }

    /// With a detail the sentence names.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl ToString) -> Problem {
        self.args.insert(key.to_string(), value.to_string());
        self
    }

    /// The problem at line `line`.
    pub fn at(self, line: usize) -> LineError {
        LineError { line, reason: self.reason, code: self.code.to_string(), args: self.args }
    }
}

impl LineError {
    /// A line refused with an engine error (its code, its sentence).
    pub fn engine(line: usize, e: &EngineError) -> LineError {
        LineError { line, reason: e.to_string(), code: e.code().to_string(), args: BTreeMap::new() }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A whole file read: what can be used, what cannot, and which format it was.
#[derive(Debug, Clone, Default)]
pub struct ParsedFile {
    /// The format used (never `Auto`).
    pub format: ImportFormat,
    /// Usable lines, in file order.
    pub records: Vec<ImportRecord>,
    /// Unusable lines, in file order.
    pub errors: Vec<LineError>,
}

/// Reads an account file: decodes it, picks the format (unless given) and parses every line.
/// Never fails as a whole: a file that cannot be read at all comes back as one error on
/// line 1 (or the line where the JSON broke).
pub fn parse(bytes: &[u8], format: ImportFormat) -> ParsedFile {
    let text = decode(bytes);
    let format = match format {
        ImportFormat::Auto => detect(&text),
        f => f,
    };
    let (mut records, errors) = match format {
        ImportFormat::Dash | ImportFormat::Auto => dash::parse(&text),
        ImportFormat::Csv => delimited::parse(&text),
        ImportFormat::Json => json::parse(&text),
    };
    apply_group_headers(&text, &mut records);
    ParsedFile { format, records, errors }
}

/// Gives each record without a group of its own the group of the last `#group NAME` line
/// above it; `#group` alone ends the group. Works alike in every format, since all of them
/// skip `#` lines.
fn apply_group_headers(text: &str, records: &mut [ImportRecord]) {
    let mut headers: Vec<(usize, Option<String>)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim().trim_start_matches('\u{feff}');
        if let Some(rest) = t.strip_prefix("#group")
            && (rest.is_empty() || rest.starts_with(char::is_whitespace))
        {
            headers.push((i + 1, clean(rest)));
        }
    }
    if headers.is_empty() {
        return;
    }
    for r in records.iter_mut().filter(|r| r.group.is_none()) {
        let at = headers.partition_point(|(line, _)| *line < r.line);
        if at > 0 {
            r.group = headers[at - 1].1.clone();
        }
    }
}

/// Tags as a file writes them: separated by commas, semicolons or `|`.
pub(crate) fn split_tags(text: &str) -> Vec<String> {
    text.split([',', ';', '|']).filter_map(clean).collect()
}

/// Picks the format from the first line that is neither blank nor a comment.
pub fn detect(text: &str) -> ImportFormat {
    let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')) else {
        return ImportFormat::Dash;
    };
    if first.starts_with('[') || first.starts_with('{') {
        return ImportFormat::Json;
    }
    if first.contains("----") || !first.contains(',') && !first.contains('\t') && !first.contains(';') {
        return ImportFormat::Dash;
    }
    let header = first.to_ascii_lowercase();
    if delimited::COLUMNS
        .iter()
        .flat_map(|(_, names)| names.iter())
        .any(|n| header.split([',', '\t', ';']).any(|c| c.trim().trim_matches(['"', '\'']) == *n))
    {
        ImportFormat::Csv
    } else {
        ImportFormat::Dash
    }
}

/// Trims whitespace and one pair of surrounding quotes; empty becomes `None`.
pub(crate) fn clean(field: &str) -> Option<String> {
    let t = field.trim();
    let t = ['"', '\''].iter().find_map(|q| t.strip_prefix(*q).and_then(|s| s.strip_suffix(*q))).unwrap_or(t).trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Whether a field looks like an OAuth2 client id: a GUID.
pub(crate) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(n, p)| p.len() == *n)
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Whether a field looks like a refresh token: Microsoft's start `M.C` (or `0.A` for work
/// accounts), Google's `1//`; any other token is long and has no spaces.
pub(crate) fn is_refresh_token(s: &str) -> bool {
    s.starts_with("M.C")
        || s.starts_with("0.A")
        || s.starts_with("1//")
        || (s.len() >= 80 && !s.contains(char::is_whitespace))
}

/// Whether a field looks like an OAuth2 client id: a GUID (Microsoft), or a short run of
/// letters, digits, dots, dashes and underscores (Google's end in `.apps.googleusercontent.com`),
/// and never something shaped like a refresh token.
pub(crate) fn is_client_id(s: &str) -> bool {
    is_guid(s)
        || (!s.is_empty()
            && s.len() <= 128
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            && !is_refresh_token(s))
}

impl ImportRecord {
    /// Checks that each field has the shape of what it claims to be, in every format, so a
    /// value in the wrong column is refused rather than stored. The reason names the field
    /// and what it should look like, never its value.
    fn check_shapes(&self) -> Result<(), Problem> {
        if let Some(t) = &self.refresh_token
            && !is_refresh_token(t.expose())
        {
            return Err(Problem::new(
                "bad_refresh_token",
                "the refresh_token field does not look like a refresh token (M.C…, 0.A…, 1//… or a long run without spaces)",
            ));
        }
        if let Some(id) = &self.client_id
            && !is_client_id(id)
        {
            return Err(Problem::new(
                "bad_client_id",
                "the client_id field does not look like a client id (a GUID, or letters, digits, dots and dashes)",
            ));
        }
        if let Some(host) = &self.imap_host
            && !dash::looks_like_host(host)
        {
            return Err(Problem::new(
                "bad_imap_host",
                "the imap_host field does not look like a host name or an IP address",
            ));
        }
        if let Some(port) = &self.imap_port
            && !(port.chars().all(|c| c.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
        {
            return Err(bad_imap_port());
        }
        if let Some(host) = &self.smtp_host
            && !dash::looks_like_host(host)
        {
            return Err(Problem::new(
                "bad_smtp_host",
                "the smtp_host field does not look like a host name or an IP address",
            ));
        }
        if let Some(port) = &self.smtp_port
            && !(port.chars().all(|c| c.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
        {
            return Err(Problem::new("bad_smtp_port", "the smtp_port field is not a port number (1 to 65535)"));
        }
        if let Some(tls) = &self.smtp_tls
            && tls.parse::<Tls>().is_err()
        {
            return Err(Problem::new("bad_smtp_tls", "the smtp_tls field is not implicit or starttls"));
        }
        Ok(())
    }
}

fn bad_imap_port() -> Problem {
    Problem::new("bad_imap_port", "the imap_port field is not a port number (1 to 65535)")
}

fn no_refresh_token() -> Problem {
    Problem::new("no_refresh_token", "no refresh token")
}

/// What the engine needs to store one record, once it passed every check.
#[derive(Debug, Clone)]
pub struct PlannedAccount {
    /// The record's line.
    pub line: usize,
    /// The account built from the record and the presets.
    pub account: Account,
    /// The secret for the keyring.
    pub secret: Secret,
    /// The proxy's password, under its keyring entry ([`crate::net::ProxyUrl::secret_key`]).
    pub proxy_secret: Option<(String, Secret)>,
}

/// Details applied to every record that does not give its own (the CLI's `--imap-host`,
/// `--token-url` and so on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImportDefaults {
    /// Provider for records that name none (otherwise guessed from the domain).
    pub provider: Option<Provider>,
    /// IMAP host for records that name none.
    pub imap_host: Option<String>,
    /// IMAP port for records that name none.
    pub imap_port: Option<u16>,
    /// TLS mode.
    pub tls: Option<Tls>,
    /// OAuth2 token endpoint.
    pub token_url: Option<String>,
    /// SMTP host for records that name none.
    pub smtp_host: Option<String>,
    /// SMTP port for records that name none.
    pub smtp_port: Option<u16>,
    /// SMTP TLS mode for records that name none.
    pub smtp_tls: Option<Tls>,
    /// Group for records that name none (the CLI's `--group`).
    pub group: Option<String>,
    /// Tags added to every record (the CLI's `--tag`).
    pub tags: Vec<String>,
}

impl ImportRecord {
    /// Checks the record and builds its account: an address, a secret, a known provider, a
    /// usable port, and an IMAP server for password accounts.
    ///
    /// # Errors
    /// The reason in words, for the report.
    pub fn plan(&self, defaults: &ImportDefaults) -> Result<PlannedAccount, Problem> {
        // The field is not echoed: on a malformed line it may well be a password or a token.
        let email = normalize_email(&self.email)
            .map_err(|_| Problem::new("not_an_email", "the first field is not an email address"))?;
        self.check_shapes()?;
        // No field's value is echoed below either: a shifted column may hold a secret.
        let provider = match &self.provider {
            Some(p) => Some(
                p.parse::<Provider>()
                    .map_err(|_| Problem::new("bad_provider", "the provider field is not outlook, gmail or imap"))?,
            ),
            None => defaults.provider,
        };
        let imap_port = match &self.imap_port {
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad_imap_port)?),
            None => defaults.imap_port,
        };
        let (secret, auth) = match (&self.refresh_token, &self.password) {
            (Some(t), _) => (t.clone(), AuthMethod::OAuth2),
            (None, Some(p)) => (p.clone(), AuthMethod::Password),
            (None, None) if self.client_id.is_some() => return Err(no_refresh_token()),
            (None, None) => return Err(Problem::new("no_secret", "no password or refresh token")),
        };
        // A refresh token is an Outlook account unless the domain or the file says otherwise
        // (these files come from Outlook account suppliers).
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        let provider = provider.or_else(|| match (auth, crate::account::preset_for(domain)) {
            (AuthMethod::OAuth2, Some(p)) if p.oauth.is_some() => Some(p.provider),
            (AuthMethod::OAuth2, _) => Some(Provider::Outlook),
            (AuthMethod::Password, _) => None,
        });
        let (proxy, proxy_secret) = match &self.proxy {
            Some(text) => {
                // The sentence names what is wrong, never the text (it may hold a password).
                let (url, password) =
                    crate::net::ProxyUrl::parse(text.expose()).map_err(|e| Problem::new("bad_proxy", e.to_string()))?;
                let secret = password.map(|p| (url.secret_key(), p));
                (Some(url.to_string()), secret)
            }
            None => (None, None),
        };
        let mut tags = self.tags.clone();
        tags.extend(defaults.tags.iter().cloned());
        let spec = AccountSpec {
            group: self.group.clone().or_else(|| defaults.group.clone()),
            tags,
            proxy,
            email,
            provider,
            auth: Some(auth),
            client_id: self.client_id.clone(),
            imap_host: self.imap_host.clone().or_else(|| defaults.imap_host.clone()),
            imap_port,
            // Port 143 is plain IMAP, which Mailwatch only uses upgraded with STARTTLS.
            tls: defaults.tls.or((imap_port == Some(143)).then_some(Tls::Starttls)),
            token_url: defaults.token_url.clone(),
            scope: None,
            smtp_host: self.smtp_host.clone().or_else(|| defaults.smtp_host.clone()),
            // Checked by `check_shapes`.
            smtp_port: self.smtp_port.as_deref().and_then(|p| p.parse().ok()).or(defaults.smtp_port),
            smtp_tls: self.smtp_tls.as_deref().and_then(|t| t.parse().ok()).or(defaults.smtp_tls),
            channel: None,
            graph_url: None,
        };
        let account = Account::from_spec(&spec, auth == AuthMethod::OAuth2).map_err(|e| match e {
            crate::account::AccountError::NoImapHost { domain } => Problem::new(
                "unknown_server",
                format!("no IMAP server is known for {domain}: add ----host----port to the line"),
            )
            .with("domain", domain),
            crate::account::AccountError::InvalidLabel(_) => {
                Problem::new("bad_label", "the group or a tag is empty or holds a comma or a control character")
            }
            other => Problem::new("invalid_account", other.to_string()).with("detail", other),
        })?;
        Ok(PlannedAccount { line: self.line, account, secret, proxy_secret })
    }
}

#[cfg(test)]
mod tests;
