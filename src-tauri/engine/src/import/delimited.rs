//! CSV or TSV with a header naming the columns, in any order: email, password,
//! refresh_token, client_id, provider, imap_host, imap_port, smtp_host, smtp_port, smtp_tls, group,
//! tags, proxy. Common spellings of each name
//! are accepted; unknown columns are ignored.

use super::{ImportRecord, LineError, Problem, clean};
use crate::secrets::Secret;

/// Each field and the header names that mean it.
pub(super) const COLUMNS: &[(Field, &[&str])] = &[
    (Field::Email, &["email", "mail", "e-mail", "address", "account", "username", "user"]),
    (Field::Password, &["password", "pass", "pwd", "app_password"]),
    (Field::RefreshToken, &["refresh_token", "refreshtoken", "refresh token", "token"]),
    (Field::ClientId, &["client_id", "clientid", "client id"]),
    (Field::Provider, &["provider"]),
    (Field::ImapHost, &["imap_host", "host", "server", "imap_server"]),
    (Field::ImapPort, &["imap_port", "port"]),
    (Field::SmtpHost, &["smtp_host", "smtp_server"]),
    (Field::SmtpPort, &["smtp_port"]),
    (Field::SmtpTls, &["smtp_tls", "smtp_security"]),
    (Field::Group, &["group", "group_name", "分组"]),
    (Field::Tags, &["tags", "tag", "labels", "标签"]),
    (Field::Proxy, &["proxy", "proxy_url", "socks5", "代理"]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Email,
    Password,
    RefreshToken,
    ClientId,
    Provider,
    ImapHost,
    ImapPort,
    SmtpHost,
    SmtpPort,
    SmtpTls,
    Group,
    Tags,
    Proxy,
}

/// Parses the file; the delimiter is a tab if the header has one, else `;` if it has no
/// comma, else a comma.
pub(super) fn parse(text: &str) -> (Vec<ImportRecord>, Vec<LineError>) {
    let mut errors = Vec::new();
    let header_line = text.lines().position(|l| {
        let t = l.trim().trim_start_matches('\u{feff}');
        !t.is_empty() && !t.starts_with('#')
    });
    let Some(header_index) = header_line else {
        return (Vec::new(), errors);
    };
    let header = text.lines().nth(header_index).unwrap_or_default();
    let delimiter = if header.contains('\t') {
        b'\t'
    } else if !header.contains(',') && header.contains(';') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    // The reader's own line count skips comment lines; byte offsets do not.
    let line_starts: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
    // A record's position is where the previous one ended, before any line break, blank
    // line or comment in between; skip those, as the reader does, to find where the record
    // starts. Only line breaks count as blank here: a line of spaces is a record to the
    // reader, and so is a comment with spaces before its `#`.
    let bytes = text.as_bytes();
    let start_of = |pos: Option<&csv::Position>| {
        let mut at = pos.map(|p| p.byte() as usize).unwrap_or(0);
        loop {
            while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
                at += 1;
            }
            if bytes.get(at) == Some(&b'#') {
                at = bytes[at..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |n| at + n + 1);
            } else {
                break;
            }
        }
        at
    };
    let line_of = |at: usize| line_starts.partition_point(|s| *s <= at);
    // Whether the record starting at `at` is a comment with spaces before its `#`, which
    // the other formats, the format detection and the header search above all skip.
    let indented_comment = |at: usize| {
        text.get(at..)
            .unwrap_or_default()
            .trim_start_matches(|c: char| c == '\u{feff}' || (c.is_whitespace() && c != '\n' && c != '\r'))
            .starts_with('#')
    };
    let mut columns: Option<Vec<Option<Field>>> = None;
    let mut records = Vec::new();
    for row in reader.records() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = line_of(start_of(e.position()));
                errors.push(
                    Problem::new("unreadable_row", "cannot read this row (unbalanced quotes or bad text)").at(line),
                );
                continue;
            }
        };
        let start = start_of(row.position());
        let line = line_of(start);
        if indented_comment(start) {
            continue;
        }
        if row.iter().all(|f| f.is_empty()) {
            continue;
        }
        let Some(cols) = &columns else {
            let cols: Vec<Option<Field>> = row
                .iter()
                .map(|name| {
                    let name = clean(name).unwrap_or_default().to_ascii_lowercase().replace('-', "_");
                    COLUMNS.iter().find(|(_, names)| names.iter().any(|n| n.replace('-', "_") == name)).map(|(f, _)| *f)
                })
                .collect();
            if !cols.contains(&Some(Field::Email)) {
                errors.push(Problem::new("no_email_column", "the header has no email column (expected email, password, refresh_token, client_id, provider, imap_host, imap_port)").at(line));
                return (records, errors);
            }
            columns = Some(cols);
            continue;
        };
        // A row longer or shorter than the header would shift a value into another column's
        // field (a refresh token into the client id, which is stored and shown).
        if row.len() != cols.len() {
            let reason = format!(
                "this row has {} fields but the header has {}: a value with the delimiter in it needs quotes",
                row.len(),
                cols.len()
            );
            let problem = Problem::new("field_count", reason).with("fields", row.len()).with("expected", cols.len());
            errors.push(problem.at(line));
            continue;
        }
        let mut r = ImportRecord { line, ..Default::default() };
        for (field, value) in cols.iter().zip(row.iter()) {
            let Some(v) = clean(value) else { continue };
            match field {
                Some(Field::Email) => r.email = v,
                Some(Field::Password) => r.password = Some(Secret::new(v)),
                Some(Field::RefreshToken) => r.refresh_token = Some(Secret::new(v)),
                Some(Field::ClientId) => r.client_id = Some(v),
                Some(Field::Provider) => r.provider = Some(v),
                Some(Field::ImapHost) => r.imap_host = Some(v),
                Some(Field::ImapPort) => r.imap_port = Some(v),
                Some(Field::SmtpHost) => r.smtp_host = Some(v),
                Some(Field::SmtpPort) => r.smtp_port = Some(v),
                Some(Field::SmtpTls) => r.smtp_tls = Some(v),
                Some(Field::Group) => r.group = Some(v),
                Some(Field::Tags) => r.tags = super::split_tags(&v),
                Some(Field::Proxy) => r.proxy = Some(Secret::new(v)),
                None => {}
            }
        }
        if r.email.is_empty() {
            errors.push(Problem::new("no_email", "no email address").at(line));
        } else {
            records.push(r);
        }
    }
    (records, errors)
}
