//! Any bytes, as an account file: decoding, format detection, the dash, CSV/TSV and JSON
//! parsers (each format asked for explicitly, and auto-detected), then `ImportRecord::plan`
//! with the default details for every record each parser returned.
//!
//! What must hold, besides never panicking:
//!
//! - every line error has a line number from 1 to the file's line count, every record the
//!   number of a line that has something on it, with the record's address on it or after
//!   its start, and each list is in file order;
//! - auto-detection gives the same result as asking for the format it detected;
//! - the parsers' reasons echo nothing from the file but numbers: each is one of the known
//!   sentences below with its numbers taken out;
//! - `plan` never depends on a secret's value: with the password and refresh token replaced
//!   by marker values of the same shape, every record plans to the same account or fails
//!   with the same reason, and no reason or account contains a marker;
//! - and, said plainly: no password or refresh token of a parsed record appears in any
//!   reason, unless the words that come from no file hold it too (the known sentence, or the
//!   reason `plan` gives with the marker in the secret's place).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwatch_engine::import::{self, ImportDefaults, ImportFormat, ImportRecord, ParsedFile};
use mailwatch_engine::secrets::Secret;

/// Marker values that stand in for a record's secrets. A refresh token keeps its shape:
/// the marker for one that looks like a token looks like a token, and the other does not.
const MARK_PASSWORD: &str = "mwfuzz-marker-password";
const MARK_TOKEN: &str = "M.C-mwfuzz-marker-token";
const MARK_NOT_TOKEN: &str = "mwfuzz marker not a token";

/// Every reason a parser may give, with each run of digits written `N` and a list of numbers
/// (`3, 4`) written as one `N`. A new reason has to be added here, once it is checked to
/// echo nothing from the file.
const PARSE_REASONS: &[&str] = &[
    // dash.rs
    "the line has no email address",
    "no password after the colon",
    "cannot tell what field N is: expected a password, a refresh token, a client id (GUID) or ----host----port",
    "no refresh token",
    // delimited.rs
    "cannot read this row (unbalanced quotes or bad text)",
    "the header has no email column (expected email, password, refresh_token, client_id, provider, imap_host, imap_port)",
    "this row has N fields but the header has N: a value with the delimiter in it needs quotes",
    "no email address",
    // json.rs
    "the JSON is not an array of accounts",
    "the file is not valid JSON (column N)",
    "this entry is not an object",
];

/// The reason with its numbers taken out, as in [`PARSE_REASONS`].
fn without_numbers(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut in_number = false;
    for c in reason.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    while out.contains("N, N") {
        out = out.replace("N, N", "N");
    }
    out
}

fn secrets_of(r: &ImportRecord) -> impl Iterator<Item = &str> {
    r.password.iter().chain(&r.refresh_token).map(Secret::expose)
}

/// The record with its secrets replaced by markers of the same shape.
fn with_markers(r: &ImportRecord) -> ImportRecord {
    let mut m = r.clone();
    m.password = r.password.as_ref().map(|_| Secret::new(MARK_PASSWORD));
    m.refresh_token = r.refresh_token.as_ref().map(|t| {
        let mark = if looks_like_token(t.expose()) { MARK_TOKEN } else { MARK_NOT_TOKEN };
        Secret::new(mark)
    });
    m
}

/// The engine's own test for a refresh token's shape (`import::is_refresh_token`, which is
/// private to the crate), written out again.
fn looks_like_token(s: &str) -> bool {
    s.starts_with("M.C")
        || s.starts_with("0.A")
        || s.starts_with("1//")
        || (s.len() >= 80 && !s.contains(char::is_whitespace))
}

fn check_lines(file: &ParsedFile, text: &str, line_count: usize, format: ImportFormat) {
    let lines: Vec<&str> = text.lines().collect();
    let line_starts: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let escaped = text.contains('\\');
    // The text without quotes, and where each line starts in it.
    let unquoted = if format == ImportFormat::Csv {
        let mut starts = vec![0];
        let mut out = String::with_capacity(text.len());
        for c in text.chars().filter(|c| *c != '"') {
            out.push(c);
            if c == '\n' {
                starts.push(out.len());
            }
        }
        (out, starts)
    } else {
        (String::new(), Vec::new())
    };
    let mut last = 0;
    for r in &file.records {
        // A record starts on a line with something on it. (Not necessarily the start of a
        // row: in CSV a quoted field can go on over lines, and a lone CR ends a row.)
        let on = lines.get(r.line.wrapping_sub(1)).map(|l| l.trim().trim_start_matches('\u{feff}'));
        assert!(
            on.is_some_and(|l| !l.is_empty()),
            "{format}: a record on line {}, which is {on:?} (the file has {} lines)",
            r.line,
            lines.len()
        );
        // Its address is on that line (dash) or comes after its start: in CSV once the quotes
        // are taken out of both (a field can be quoted in part), in JSON where nothing is
        // escaped. The search stops at the first match, in the record itself.
        let found = match format {
            ImportFormat::Dash => lines[r.line - 1].contains(&r.email),
            ImportFormat::Csv => unquoted.0[unquoted.1[r.line - 1]..].contains(&r.email.replace('"', "")),
            _ => escaped || text[line_starts[r.line - 1]..].contains(&r.email),
        };
        assert!(found, "{format}: a record on line {} whose address is not on that line or after it", r.line);
        assert!(r.line >= last, "{format}: records out of file order ({} after {last})", r.line);
        last = r.line;
        assert!(!r.email.is_empty(), "{format}: a record without an address on line {}", r.line);
        assert!(secrets_of(r).all(|s| !s.is_empty()), "{format}: an empty secret on line {}", r.line);
    }
    let mut last = 0;
    for e in &file.errors {
        assert!(
            (1..=line_count).contains(&e.line),
            "{format}: an error on line {} of a file of {line_count} lines: {}",
            e.line,
            e.reason
        );
        assert!(e.line >= last, "{format}: errors out of file order ({} after {last})", e.line);
        last = e.line;
    }
}

fuzz_target!(|data: &[u8]| {
    let text = import::decode(data);
    // Lines as an editor counts them: a line break starts one more, even at the very end.
    let line_count = text.matches('\n').count() + 1;
    let markers_in_input = [MARK_PASSWORD, MARK_TOKEN, MARK_NOT_TOKEN, "mwfuzz"].iter().any(|m| text.contains(m));

    let auto = import::parse(data, ImportFormat::Auto);
    assert_eq!(auto.format, import::detect(&text), "parse and detect disagree");
    assert_ne!(auto.format, ImportFormat::Auto, "auto is never the format used");

    let defaults = ImportDefaults::default();
    for format in [ImportFormat::Dash, ImportFormat::Csv, ImportFormat::Json] {
        let file = import::parse(data, format);
        assert_eq!(file.format, format);
        check_lines(&file, &text, line_count, format);
        if format == auto.format {
            assert_eq!(file.records, auto.records, "{format}: detected and asked for differ");
            assert_eq!(file.errors, auto.errors, "{format}: detected and asked for differ");
        }

        // (reason, the same words with nothing from the file in them)
        let mut reasons: Vec<(String, String)> = Vec::new();
        for e in &file.errors {
            let known = without_numbers(&e.reason);
            assert!(
                PARSE_REASONS.contains(&known.as_str()),
                "{format}: an unknown reason on line {}: {:?}",
                e.line,
                e.reason
            );
            reasons.push((e.reason.clone(), known));
        }

        for r in &file.records {
            // A refusal's sentence and its details together: neither may hold a secret.
            let said = |p: mailwatch_engine::import::Problem| format!("{} {:?}", p.reason, p.args);
            let got = r.plan(&defaults).map_err(said);
            let marked = with_markers(r).plan(&defaults).map_err(said);
            match (&got, &marked) {
                (Ok(p), Ok(m)) => {
                    assert_eq!(p.line, r.line);
                    assert_eq!(p.account, m.account, "{format}: line {}: the account depends on the secret", r.line);
                    let expected = r.refresh_token.as_ref().or(r.password.as_ref()).expect("planned with a secret");
                    assert!(p.secret == *expected, "{format}: line {}: not the record's secret", r.line);
                    let stored = format!("{:?}", m.account);
                    if !markers_in_input {
                        assert!(
                            !stored.contains("mwfuzz"),
                            "{format}: line {}: a secret went into the account: {stored}",
                            r.line
                        );
                    }
                }
                (Err(reason), Err(marked_reason)) => {
                    assert_eq!(reason, marked_reason, "{format}: line {}: the reason depends on the secret", r.line);
                    if !markers_in_input {
                        assert!(
                            !marked_reason.contains("mwfuzz"),
                            "{format}: line {}: a reason holds a secret: {marked_reason}",
                            r.line
                        );
                    }
                    reasons.push((reason.clone(), marked_reason.clone()));
                }
                _ => panic!(
                    "{format}: line {}: planned with the secrets, {} with markers in their place",
                    r.line,
                    if marked.is_ok() { "planned" } else { "refused" }
                ),
            }
        }

        // Said plainly, for values that look like secrets (8 characters or more, no spaces: a
        // number a reason gives, a count or a column, is shorter than that).
        for s in file.records.iter().flat_map(secrets_of).filter(|s| s.len() >= 8 && !s.contains(char::is_whitespace)) {
            for (reason, words) in &reasons {
                assert!(
                    !reason.contains(s) || words.contains(s),
                    "{format}: a reason shows a secret of {} characters: {reason:?}",
                    s.chars().count()
                );
            }
        }
    }
});
