//! One account a line, the way Outlook account suppliers write them:
//!
//! - `email----password----refresh_token----client_id`
//! - `email----refresh_token----client_id`, `email----client_id----refresh_token`
//! - `email----refresh_token`
//! - `email----password` and `email:password`, optionally followed by `----host----port`
//! - any of these with a proxy among the fields: a URL (`socks5://user:pass@host:port`,
//!   `socks5h://...`, `http://...`) anywhere, or `host:port:user:pass` / `host:port` as the
//!   last field after the secret
//!
//! Fields are told apart by shape, not position: a client id is a GUID, a refresh token is
//! long (often starting `M.C`), and a port is a number after a host.

use super::{ImportRecord, LineError, Problem, clean, is_guid, is_refresh_token, no_refresh_token};
use crate::secrets::Secret;

/// Parses every line; `#` comments and blank lines are skipped but still counted.
pub(super) fn parse(text: &str) -> (Vec<ImportRecord>, Vec<LineError>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim().trim_start_matches('\u{feff}');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_line(trimmed) {
            Ok(mut r) => {
                r.line = line;
                records.push(r);
            }
            Err(problem) => errors.push(problem.at(line)),
        }
    }
    (records, errors)
}

fn parse_line(line: &str) -> Result<ImportRecord, Problem> {
    let mut fields: Vec<Option<String>> = line.split("----").map(clean).collect();
    let first = fields.remove(0).ok_or_else(|| Problem::new("no_email", "the line has no email address"))?;
    let mut record = ImportRecord::default();
    // `email:password` puts the password in the first field.
    match first.split_once(':') {
        Some((email, password)) if email.contains('@') => {
            record.email = clean(email).unwrap_or_default();
            record.password = clean(password).map(Secret::new);
            if record.password.is_none() {
                return Err(Problem::new("no_password", "no password after the colon"));
            }
        }
        _ => record.email = first,
    }
    // A trailing `----host----port`.
    if fields.len() >= 2 {
        let n = fields.len();
        if let (Some(host), Some(port)) = (&fields[n - 2], &fields[n - 1])
            && port.chars().all(|c| c.is_ascii_digit())
            && looks_like_host(host)
        {
            record.imap_host = Some(host.clone());
            record.imap_port = Some(port.clone());
            fields.truncate(n - 2);
        }
    }
    let fields: Vec<String> = fields.into_iter().flatten().collect();
    let mut unknown = Vec::new();
    let last = fields.len().saturating_sub(1);
    for (i, f) in fields.iter().enumerate() {
        // The colon form only last, and only after the secret: a password may look like one.
        let after_secret = i > 0 || record.password.is_some();
        if record.proxy.is_none() && (is_proxy_url(f) || (after_secret && i == last && is_colon_proxy(f))) {
            record.proxy = Some(Secret::new(f.as_str()));
        } else if is_guid(f) && record.client_id.is_none() {
            record.client_id = Some(f.clone());
        } else if is_refresh_token(f) && record.refresh_token.is_none() {
            record.refresh_token = Some(Secret::new(f.as_str()));
        } else if i == 0 && record.password.is_none() {
            record.password = Some(Secret::new(f.as_str()));
        } else {
            unknown.push(i + 2);
        }
    }
    if !unknown.is_empty() {
        let which: Vec<String> = unknown.iter().map(ToString::to_string).collect();
        let which = which.join(", ");
        return Err(Problem::new(
            "unknown_field",
            format!(
                "cannot tell what field {which} is: expected a password, a refresh token, a client id (GUID) or ----host----port"
            ),
        )
        .with("fields", which));
    }
    if record.client_id.is_some() && record.refresh_token.is_none() {
        return Err(no_refresh_token());
    }
    Ok(record)
}

/// A proxy URL by its scheme.
fn is_proxy_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    ["socks5://", "socks5h://", "http://"].iter().any(|p| lower.starts_with(p))
}

/// `host:port` or `host:port:user:password`, where the host has a dot (or is localhost).
fn is_colon_proxy(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(4, ':').collect();
    matches!(parts.len(), 2 | 4)
        && (parts[0].contains('.') || parts[0] == "localhost")
        && parts[0].chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        && parts[1].parse::<u16>().is_ok_and(|p| p > 0)
}

/// A host name or an IP address: dots or colons, no spaces, not an address.
pub(super) fn looks_like_host(s: &str) -> bool {
    (s.contains('.') || s.contains(':') || s == "localhost")
        && !s.contains('@')
        && !s.contains(char::is_whitespace)
        && s.len() < 254
        && !super::is_refresh_token(s)
}
