//! Many messages from one file (`send-batch`): each line is a message, one line's failure
//! never stops the others, and a journal makes a second run after a crash or Ctrl-C send only
//! what the first did not.
//!
//! The file is CSV with a header (`from`, `to`, `cc`, `subject`, `text`, `html`; other
//! columns are the row's own fields) or JSON Lines with the same keys. Subject and bodies are
//! templates: `{{name}}` takes the row's field `name`.
//!
//! A message the server deferred (4xx) is tried again after `smtp.transientBackoff`, doubling,
//! up to `smtp.transientTries` tries; one it refused (5xx) is not. When an account's sign-in
//! fails, its other messages are not tried: one refusal, not a storm of logins.
//!
//! The journal (`send-journal/<file hash>.log` in the data dir) records each line the server
//! accepted, and each line whose connection broke after its data (it may have been sent),
//! right after it happened. With `resume`, both are skipped: nothing is sent twice. Only a
//! crash between the server's reply and the journal's write can leave a line unrecorded.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::Outbox;
use crate::error::EngineError;
use crate::events::EventSink;
use crate::import::{LineError, Problem};
use crate::progress::{BatchControl, Tracker};
use crate::smtp::compose::Draft;

/// One line of a batch file, before its templates are filled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchRow {
    /// The line's 1-based number.
    pub line: usize,
    /// Every field of the line by its lower-cased name, `from`, `to` and the rest.
    pub fields: HashMap<String, String>,
}

/// Fills `{{name}}` with the row's field `name` (any case); an unknown name stays as it is.
pub fn fill(template: &str, fields: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        let name = rest[start + 2..start + 2 + len].trim().to_lowercase();
        out.push_str(&rest[..start]);
        match fields.get(&name) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + 4 + len]),
        }
        rest = &rest[start + 4 + len..];
    }
    out.push_str(rest);
    out
}

fn list(v: Option<&String>) -> Vec<String> {
    v.map(|s| s.split([',', ';']).map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

impl BatchRow {
    /// The message this line asks for.
    ///
    /// # Errors
    /// The reason in words when `from` or `to` is missing.
    pub fn draft(&self) -> Result<Draft, String> {
        let get = |k: &str| self.fields.get(k).filter(|v| !v.trim().is_empty());
        let from = get("from").ok_or("no from address")?.trim().to_string();
        let to = list(get("to"));
        if to.is_empty() {
            return Err("no to address".into());
        }
        let text = get("text").or(get("body")).map(|t| fill(t, &self.fields));
        let html = get("html").map(|t| fill(t, &self.fields));
        Ok(Draft {
            from,
            to,
            cc: list(get("cc")),
            bcc: list(get("bcc")),
            subject: get("subject").map(|s| fill(s, &self.fields)).unwrap_or_default(),
            text: if text.is_none() && html.is_none() { Some(String::new()) } else { text },
            html,
            ..Default::default()
        })
    }
}

/// Reads a batch file: JSON Lines when its first line starts with `{`, else CSV with a
/// header. Lines that cannot be read are reported, not fatal.
pub fn parse(text: &str) -> (Vec<BatchRow>, Vec<LineError>) {
    let text = text.trim_start_matches('\u{feff}');
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    if first.is_some_and(|l| l.starts_with('{')) { parse_jsonl(text) } else { parse_csv(text) }
}

fn parse_jsonl(text: &str) -> (Vec<BatchRow>, Vec<LineError>) {
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(l) {
            Ok(map) => {
                let fields = map
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Array(a) => {
                                a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(",")
                            }
                            other => other.to_string(),
                        };
                        (k.to_lowercase(), v)
                    })
                    .collect();
                rows.push(BatchRow { line: i + 1, fields });
            }
            Err(e) => errors.push(Problem::new("not_an_object", format!("not a JSON object ({e})")).at(i + 1)),
        }
    }
    (rows, errors)
}

fn parse_csv(text: &str) -> (Vec<BatchRow>, Vec<LineError>) {
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    let mut reader = csv::ReaderBuilder::new().flexible(true).comment(Some(b'#')).from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_lowercase()).collect(),
        Err(e) => {
            errors.push(Problem::new("unreadable_row", format!("cannot read the header ({e})")).at(1));
            return (rows, errors);
        }
    };
    for record in reader.records() {
        match record {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line() as usize);
                if r.len() != header.len() {
                    let reason = format!(
                        "this row has {} fields but the header has {}: a value with a comma in it needs quotes",
                        r.len(),
                        header.len()
                    );
                    let problem =
                        Problem::new("field_count", reason).with("fields", r.len()).with("expected", header.len());
                    errors.push(problem.at(line));
                    continue;
                }
                let fields = header.iter().cloned().zip(r.iter().map(str::to_string)).collect();
                rows.push(BatchRow { line, fields });
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(Problem::new("unreadable_row", format!("cannot read this row ({e})")).at(line));
            }
        }
    }
    (rows, errors)
}

/// How a batch runs.
#[derive(Debug, Clone, Default)]
pub struct BatchOptions {
    /// Messages in flight at once (each account still sends within its own limits and pace).
    pub concurrency: usize,
    /// Check every line (addresses, accounts, servers) and send nothing.
    pub dry_run: bool,
    /// Skip the lines a journal says were sent, or may have been.
    pub resume: bool,
}

/// One line that was not sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchFailure {
    /// The line in the file.
    pub line: usize,
    /// Its recipients.
    pub to: String,
    /// The [`EngineError::code`] ("skipped" for an account whose sign-in failed earlier).
    pub code: String,
    /// Why, with the server's words where it gave some.
    pub reason: String,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchReport {
    /// Lines the server accepted now.
    pub sent: usize,
    /// Lines that failed, each in `failures`.
    pub failed: usize,
    /// Lines skipped because the journal says an earlier run sent them, or may have.
    pub already_sent: usize,
    /// Lines whose connection broke after the data: they may have been sent and are not sent again.
    pub uncertain: usize,
    /// Lines that could be sent (dry run) or were not reached (cancelled).
    pub pending: usize,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether the run was stopped before the end.
    pub cancelled: bool,
    /// The journal used, if any.
    pub journal: Option<String>,
    /// Every line that failed, in line order (unreadable lines included).
    pub failures: Vec<BatchFailure>,
}

/// Where the journal of a batch file with this content lives.
pub fn journal_path(data_dir: &Path, text: &str) -> PathBuf {
    // FNV-1a: stable across runs and builds, unlike the standard library's hasher.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    data_dir.join("send-journal").join(format!("{h:016x}.log"))
}

/// Lines recorded as sent (or maybe sent) in a journal.
///
/// # Errors
/// There is no journal (the file changed since its run, or never ran), or it cannot be read:
/// resuming then would send every line again.
fn read_journal(path: &Path) -> Result<HashSet<usize>, EngineError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        EngineError::InvalidInput(if e.kind() == std::io::ErrorKind::NotFound {
            "cannot resume: no earlier run of this file is recorded (a file changed since its run counts as a new one); run it without --resume to send every line".to_string()
        } else {
            format!("cannot resume: the send journal {} cannot be read ({e})", path.display())
        })
    })?;
    Ok(text.lines().filter_map(|l| l.split_whitespace().nth(1)?.parse().ok()).collect())
}

struct Journal(Mutex<Option<std::fs::File>>);

impl Journal {
    fn open(path: &Path) -> Result<Journal, EngineError> {
        let fail = |e: std::io::Error| {
            EngineError::InvalidInput(format!("cannot write the send journal {}: {e}", path.display()))
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(fail)?;
        Ok(Journal(Mutex::new(Some(file))))
    }

    fn record(&self, what: &str, line: usize) {
        let mut file = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = file.as_mut()
            && let Err(e) = f.write_all(format!("{what} {line}\n").as_bytes()).and_then(|()| f.sync_data())
        {
            tracing::warn!("cannot write the send journal ({e}); a rerun with --resume may send line {line} again");
        }
    }
}

enum Outcome {
    Sent,
    Uncertain(BatchFailure),
    Failed(BatchFailure),
    Pending,
}

/// Sends every row. `senders` says, for each `from` address, why it cannot send (an unknown
/// account, no SMTP server), checked once before the run.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    outbox: &Outbox,
    sink: &dyn EventSink,
    rows: &[BatchRow],
    unreadable: Vec<LineError>,
    senders: &HashMap<String, Result<(), EngineError>>,
    journal: Option<&Path>,
    options: &BatchOptions,
    control: &BatchControl,
) -> Result<BatchReport, EngineError> {
    let mut report = BatchReport {
        dry_run: options.dry_run,
        journal: journal.map(|p| p.display().to_string()),
        ..Default::default()
    };
    for e in unreadable {
        report.failures.push(BatchFailure {
            line: e.line,
            to: String::new(),
            code: "invalid_input".into(),
            reason: e.reason,
        });
    }
    let done_before = match journal {
        Some(p) if options.resume => read_journal(p)?,
        _ => HashSet::new(),
    };
    let journal = match journal {
        Some(p) if !options.dry_run => Some(Journal::open(p)?),
        _ => None,
    };
    let todo: Vec<&BatchRow> = rows
        .iter()
        .filter(|r| {
            let skip = done_before.contains(&r.line);
            report.already_sent += usize::from(skip);
            !skip
        })
        .collect();
    let mut tracker = Tracker::new(sink, control, "send", todo.len());
    let dead: Mutex<HashMap<String, String>> = Mutex::new(HashMap::new());
    let cfg = outbox.config();
    let (journal, dead) = (&journal, &dead);

    let one = |row: &BatchRow| {
        let cancel = control.cancel.clone();
        let row = row.clone();
        async move {
            let fail = |code: &str, reason: String, to: &str| BatchFailure {
                line: row.line,
                to: to.to_string(),
                code: code.into(),
                reason,
            };
            if cancel.is_cancelled() {
                return Outcome::Pending;
            }
            let draft = match row.draft() {
                Ok(d) => d,
                Err(reason) => return Outcome::Failed(fail("invalid_input", reason, "")),
            };
            let to = draft.to.join(",");
            let from = match crate::account::normalize_email(&draft.from) {
                Ok(f) => f,
                Err(e) => return Outcome::Failed(fail("invalid_input", e.to_string(), &to)),
            };
            if let Some(Err(e)) = senders.get(&from) {
                return Outcome::Failed(fail(e.code(), e.to_string(), &to));
            }
            let composed = match crate::smtp::compose::compose(&draft) {
                Ok(c) => c,
                Err(e) => return Outcome::Failed(fail("invalid_message", e.to_string(), &to)),
            };
            if options.dry_run {
                return Outcome::Pending;
            }
            let mut pause = cfg.transient_backoff;
            for attempt in 1..=cfg.transient_tries.max(1) {
                if let Some(reason) = dead.lock().unwrap_or_else(|e| e.into_inner()).get(&from).cloned() {
                    return Outcome::Failed(fail("skipped", reason, &to));
                }
                match outbox.send_composed(&from, &composed).await {
                    Ok(_) => {
                        if let Some(j) = journal {
                            j.record("sent", row.line);
                        }
                        if !cfg.batch_pause.is_zero() {
                            tokio::time::sleep(cfg.batch_pause).await;
                        }
                        return Outcome::Sent;
                    }
                    Err(EngineError::Smtp(e)) if e.may_have_been_sent() => {
                        if let Some(j) = journal {
                            j.record("uncertain", row.line);
                        }
                        return Outcome::Uncertain(fail("smtp_error", e.to_string(), &to));
                    }
                    Err(EngineError::Smtp(e)) if e.is_transient() && attempt < cfg.transient_tries => {
                        tracing::info!(
                            line = row.line,
                            "deferred by the server ({e}); trying again in {} s",
                            pause.as_secs_f64()
                        );
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {}
                            () = cancel.cancelled() => return Outcome::Failed(fail(EngineError::Smtp(e.clone()).code(), format!("{e} (stopped before another try)"), &to)),
                        }
                        pause = pause.saturating_mul(2).min(Duration::from_secs(3600));
                    }
                    Err(e) => {
                        let signin =
                            matches!(e.code(), "auth_failed" | "needs_reauth" | "scope_not_granted" | "missing_secret");
                        if signin {
                            dead.lock().unwrap_or_else(|e| e.into_inner()).entry(from.clone()).or_insert_with(|| {
                                format!("not tried: signing in to {from} failed on an earlier line ({e})")
                            });
                        }
                        return Outcome::Failed(fail(e.code(), e.to_string(), &to));
                    }
                }
            }
            unreachable!("the last try returns")
        }
    };
    let mut stream = futures::stream::iter(todo.iter().copied()).map(one).buffered(options.concurrency.max(1));
    while let Some(outcome) = stream.next().await {
        match outcome {
            Outcome::Sent => {
                report.sent += 1;
                tracker.add(1, 0);
            }
            Outcome::Uncertain(f) => {
                report.uncertain += 1;
                report.failures.push(f);
                tracker.add(0, 1);
            }
            Outcome::Failed(f) => {
                report.failed += 1;
                report.failures.push(f);
                tracker.add(0, 1);
            }
            Outcome::Pending => {
                report.pending += 1;
                tracker.add(1, 0);
            }
        }
    }
    report.cancelled = control.cancel.is_cancelled();
    report.failures.sort_by_key(|f| f.line);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_take_the_rows_fields() {
        let fields: HashMap<String, String> =
            [("name", "Ana"), ("code", "123456")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(fill("Hi {{name}}, your code is {{ CODE }}.", &fields), "Hi Ana, your code is 123456.");
        assert_eq!(fill("{{unknown}} and {{name", &fields), "{{unknown}} and {{name", "unknown or open fields stay");
    }

    #[test]
    fn csv_and_json_lines_give_the_same_rows_and_bad_lines_are_reported() {
        let csv = "from,to,subject,text,name\na@example.com,b@example.com,Hello {{name}},Body,Ana\na@example.com,\"c@example.com, d@example.com\",S,T,Bo\nbroken,row\n";
        let (rows, errors) = parse(csv);
        assert_eq!(rows.len(), 2, "{errors:?}");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 4);
        let d = rows[0].draft().unwrap();
        assert_eq!((d.subject.as_str(), d.to.len()), ("Hello Ana", 1));
        assert_eq!(rows[1].draft().unwrap().to, vec!["c@example.com", "d@example.com"]);

        let jsonl = "{\"from\":\"a@example.com\",\"to\":[\"b@example.com\"],\"subject\":\"Hi {{name}}\",\"name\":\"Ana\"}\nnot json\n\n{\"from\":\"a@example.com\"}\n";
        let (rows, errors) = parse(jsonl);
        assert_eq!((rows.len(), errors.len(), errors[0].line), (2, 1, 2));
        assert_eq!(rows[0].draft().unwrap().subject, "Hi Ana");
        assert_eq!(rows[1].draft().unwrap_err(), "no to address");
    }

    #[test]
    fn the_journal_path_depends_on_the_content_only() {
        let d = Path::new("/data");
        assert_eq!(journal_path(d, "a"), journal_path(d, "a"));
        assert_ne!(journal_path(d, "a"), journal_path(d, "b"));
    }
}
