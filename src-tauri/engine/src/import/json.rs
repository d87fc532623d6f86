//! A JSON array of objects with the same keys as the CSV header. Each object's line number
//! is the line its `{` is on, found by a scan that tracks strings and nesting.

use serde_json::Value;

use super::{ImportRecord, LineError, Problem};
use crate::secrets::Secret;

pub(super) fn parse(text: &str) -> (Vec<ImportRecord>, Vec<LineError>) {
    let text = text.trim_start_matches('\u{feff}');
    let values: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(_) => {
            return (Vec::new(), vec![Problem::new("not_an_array", "the JSON is not an array of accounts").at(1)]);
        }
        Err(e) => {
            return (
                Vec::new(),
                vec![
                    Problem::new("bad_json", format!("the file is not valid JSON (column {})", e.column()))
                        .with("column", e.column())
                        .at(e.line().max(1)),
                ],
            );
        }
    };
    let lines = element_lines(text);
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(i + 1);
        let Value::Object(map) = v else {
            errors.push(Problem::new("not_an_object", "this entry is not an object").at(line));
            continue;
        };
        let get = |names: &[&str]| {
            names.iter().find_map(|n| map.get(*n)).and_then(|v| match v {
                Value::String(s) => super::clean(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let r = ImportRecord {
            line,
            email: get(&["email", "mail", "address"]).unwrap_or_default(),
            password: get(&["password", "pass"]).map(Secret::new),
            refresh_token: get(&["refresh_token", "refreshToken"]).map(Secret::new),
            client_id: get(&["client_id", "clientId"]),
            provider: get(&["provider"]),
            imap_host: get(&["imap_host", "imapHost"]),
            imap_port: get(&["imap_port", "imapPort"]),
            smtp_host: get(&["smtp_host", "smtpHost"]),
            smtp_port: get(&["smtp_port", "smtpPort"]),
            smtp_tls: get(&["smtp_tls", "smtpTls"]),
            group: get(&["group"]),
            tags: match map.get("tags") {
                Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().and_then(super::clean)).collect(),
                _ => get(&["tags"]).map(|t| super::split_tags(&t)).unwrap_or_default(),
            },
            proxy: get(&["proxy", "proxyUrl", "proxy_url"]).map(Secret::new),
        };
        if r.email.is_empty() {
            errors.push(Problem::new("no_email", "no email address").at(line));
        } else {
            records.push(r);
        }
    }
    (records, errors)
}

/// The line each top-level array element starts on.
fn element_lines(text: &str) -> Vec<usize> {
    let (mut line, mut depth, mut in_string, mut escaped) = (1usize, 0usize, false, false);
    let mut starts = Vec::new();
    let mut expecting = false;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if depth == 1 && expecting && !c.is_whitespace() && c != ',' && c != ']' {
            starts.push(line);
            expecting = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    starts
}
