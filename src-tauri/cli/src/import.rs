//! `import`, `export` and `tokens refresh`: batch work over many accounts.
//!
//! Reports go to standard output (one JSON object with `--json`); progress goes to standard
//! error while it runs, when standard error is a terminal. Secrets are printed only by
//! `export --with-secrets`, which needs `--yes` or a typed confirmation.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::{Args, Subcommand};
use mailwatch_engine::engine::{BatchControl, CheckReport, ImportOptions, ImportReport, Progress};
use mailwatch_engine::import::{ImportDefaults, ImportFormat, MergeMode};
use mailwatch_engine::{Engine, EngineError};
use serde_json::json;

/// `import FILE ...`
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The account file (UTF-8, UTF-16 with BOM or GBK).
    file: PathBuf,
    /// auto, dash, csv or json.
    #[arg(long, default_value = "auto")]
    format: ImportFormat,
    /// What to do with known accounts: update, skip or replace (replace also removes known
    /// accounts the file does not mention, with --yes).
    #[arg(long, default_value = "update")]
    merge: MergeMode,
    /// Print the report and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Afterwards, refresh each account's token and log in over IMAP.
    #[arg(long)]
    verify: bool,
    /// Accounts verified at once (default: the batch.verifyConcurrency setting, 5).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Confirm removing accounts with --merge replace.
    #[arg(long)]
    yes: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Servers for lines that name none.
    #[command(flatten)]
    server: crate::ServerArgs,
    /// Group for lines that name none (a column or a `#group NAME` line names one).
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// A tag for every imported account (repeat for several).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
}

impl ImportArgs {
    /// Whether the report is JSON.
    pub fn json(&self) -> bool {
        self.json
    }
}

/// `export ...`
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Accounts to export (default: all).
    emails: Vec<String>,
    /// dash, csv or json.
    #[arg(long, default_value = "csv")]
    format: ImportFormat,
    /// Include refresh tokens and passwords. Needs --yes, or typing "yes" at the prompt.
    #[arg(long)]
    with_secrets: bool,
    /// Confirm --with-secrets.
    #[arg(long)]
    yes: bool,
    /// Write to this file (created readable by its owner only) instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// `tokens ...`
#[derive(Subcommand, Debug)]
pub enum TokensCmd {
    /// Exchange refresh tokens now (storing rotated ones), with a result per account.
    Refresh(RefreshArgs),
}

/// `tokens refresh ...`
#[derive(Args, Debug)]
pub struct RefreshArgs {
    /// Accounts to refresh.
    emails: Vec<String>,
    /// Every OAuth2 account.
    #[arg(long, conflicts_with = "emails")]
    all: bool,
    /// Refreshes at once (default: the batch.refreshConcurrency setting, 5).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    filter: crate::labels::FilterArgs,
}

impl TokensCmd {
    /// Whether the output is JSON.
    pub fn json(&self) -> bool {
        match self {
            TokensCmd::Refresh(a) => a.json,
        }
    }
}

fn invalid(message: String) -> EngineError {
    EngineError::InvalidInput(message)
}

/// A progress line on standard error at most every half second, when it is a terminal.
pub(crate) fn progress_printer() -> BatchControl {
    let mut control = BatchControl::default();
    if std::io::stderr().is_terminal() {
        let last = Arc::new(AtomicU64::new(0));
        control.progress = Some(Arc::new(move |p: &Progress| {
            let tenth = (p.elapsed_secs * 2.0) as u64;
            if p.done == p.total || last.swap(tenth, Ordering::Relaxed) != tenth {
                let eta = p.eta_secs.map(|s| format!(", {s:.0} s left")).unwrap_or_default();
                eprint!("\r{} {}/{} ({:.1}/s{eta}, {} failed)   ", p.job, p.done, p.total, p.rate, p.failed);
                if p.done == p.total {
                    eprintln!();
                }
            }
        }));
    }
    // Ctrl-C cancels between accounts; what finished stays done and is reported.
    let cancel = control.cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    control
}

/// Runs `import`.
pub async fn import(engine: &Engine, a: &ImportArgs) -> Result<(), EngineError> {
    let bytes = std::fs::read(&a.file).map_err(|e| invalid(format!("cannot read {}: {e}", a.file.display())))?;
    if a.merge == MergeMode::Replace && !a.yes && !a.dry_run {
        return Err(invalid(
            "--merge replace removes every account the file does not mention; run it with --dry-run to see how many, then again with --yes".into(),
        ));
    }
    let options = ImportOptions {
        format: a.format,
        merge: a.merge,
        dry_run: a.dry_run,
        confirm_removal: a.yes,
        defaults: ImportDefaults {
            provider: a.server.provider,
            imap_host: a.server.imap_host.clone(),
            imap_port: a.server.imap_port,
            tls: a.server.tls,
            token_url: a.server.token_url.clone(),
            smtp_host: a.server.smtp_host.clone(),
            smtp_port: a.server.smtp_port,
            smtp_tls: a.server.smtp_tls,
            group: a.group.clone(),
            tags: a.tags.clone(),
        },
        verify: a.verify,
        concurrency: a.concurrency,
    };
    let report = engine.import(&bytes, &options, &progress_printer()).await?;
    if a.json {
        print_json(&import_json(&report));
    } else {
        print_import(&report);
    }
    Ok(())
}

/// The stable JSON report: `added`, `updated`, `skipped`, `errors` ({line, reason}) and
/// `verified` ({ok, failed}), plus the details.
fn import_json(r: &ImportReport) -> serde_json::Value {
    let verified = r
        .verified
        .as_ref()
        .map(|v| json!({"ok": v.ok, "failed": v.failed, "cancelled": v.cancelled, "accounts": v.accounts}));
    json!({
        "format": r.format,
        "dryRun": r.dry_run,
        "added": r.added,
        "updated": r.updated,
        "skipped": r.skipped,
        "removed": r.removed,
        "absent": r.absent,
        "removalWithheld": r.removal_withheld,
        "cancelled": r.cancelled,
        "errors": r.errors,
        "verified": verified.unwrap_or_else(|| json!({"ok": 0, "failed": 0})),
    })
}

fn print_import(r: &ImportReport) {
    let verb = if r.dry_run { "would import" } else { "imported" };
    println!(
        "{verb} ({} format): {} added, {} updated, {} skipped, {} errors",
        r.format,
        r.added,
        r.updated,
        r.skipped,
        r.errors.len()
    );
    if r.absent > 0 {
        match &r.removal_withheld {
            Some(why) => println!("{} known account(s) are not in the file and were kept: {why}", r.absent),
            None => println!("removed {} account(s) not in the file", r.removed),
        }
    }
    for e in &r.errors {
        println!("  {e}");
    }
    if r.cancelled {
        println!("cancelled: the accounts stored before that stay");
    }
    if let Some(v) = &r.verified {
        print_checks("verified", v);
    }
}

fn print_checks(what: &str, v: &CheckReport) {
    println!("{what}: {} ok, {} failed{}", v.ok, v.failed, if v.cancelled { " (cancelled)" } else { "" });
    for c in v.accounts.iter().filter(|c| !c.ok) {
        println!("  {}: {}", c.email, c.reason.as_deref().unwrap_or("failed"));
    }
}

/// Runs `export`.
pub async fn export(engine: &Engine, a: &ExportArgs) -> Result<(), EngineError> {
    if a.with_secrets && !a.yes && !confirm_on_terminal()? {
        return Err(invalid(
            "--with-secrets writes refresh tokens and passwords in clear text; add --yes to confirm (or answer yes at the prompt)".into(),
        ));
    }
    let format = if a.format == ImportFormat::Auto { ImportFormat::Csv } else { a.format };
    let emails = (!a.emails.is_empty()).then_some(a.emails.as_slice());
    let text = engine.export(emails, format, a.with_secrets).await?;
    match &a.output {
        None => print!("{text}"),
        Some(path) => {
            write_private(path, &text).map_err(|e| invalid(format!("cannot write {}: {e}", path.display())))?
        }
    }
    Ok(())
}

/// Asks on the terminal; `false` when standard input is not one.
fn confirm_on_terminal() -> Result<bool, EngineError> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("The export will contain refresh tokens and passwords in clear text. Type yes to continue: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| EngineError::InvalidInput(format!("cannot read the answer from standard input: {e}")))?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// Writes `text` to a new file only the owner can read, then renames it over `path`: the temp
/// file is created beside `path` with `O_EXCL` and mode 0600, so an existing file's mode is
/// never kept and a symlink at `path` is replaced, never followed.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".mailwatch-export-").tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename is durable once the directory is synced; not every platform can open one.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Runs `tokens ...`.
pub async fn tokens(engine: &Engine, cmd: &TokensCmd) -> Result<(), EngineError> {
    let TokensCmd::Refresh(a) = cmd;
    let oauth = |acc: &mailwatch_engine::account::Account| acc.auth == mailwatch_engine::account::AuthMethod::OAuth2;
    let emails = a
        .filter
        .select(engine, &a.emails, a.all, oauth)
        .await?
        .ok_or_else(|| invalid("name the accounts to refresh, or pass --all, --group or --tag".into()))?;
    let concurrency = a.concurrency.unwrap_or(engine.config().batch.refresh_concurrency);
    let report = engine.refresh_tokens(Some(&emails), concurrency, &progress_printer()).await?;
    if a.json {
        print_json(&report);
    } else {
        print_checks("refreshed", &report);
    }
    Ok(())
}

fn print_json(v: &impl serde::Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}
