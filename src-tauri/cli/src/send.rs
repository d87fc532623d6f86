//! `send` and `send-batch`: mail from an account, over its reused SMTP connection.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use mailwatch_engine::outbox::batch::{BatchOptions, BatchReport};
use mailwatch_engine::smtp::compose::{Attachment, Draft};
use mailwatch_engine::{Engine, EngineError};

/// `send`'s options.
#[derive(Args, Debug)]
pub struct SendArgs {
    /// The account to send from.
    #[arg(long)]
    from: String,
    /// Recipients, separated by commas (the option may be repeated).
    #[arg(long, value_delimiter = ',', required = true)]
    to: Vec<String>,
    /// Copies.
    #[arg(long, value_delimiter = ',')]
    cc: Vec<String>,
    /// Blind copies.
    #[arg(long, value_delimiter = ',')]
    bcc: Vec<String>,
    /// The subject.
    #[arg(long, default_value = "")]
    subject: String,
    /// The plain-text body: a file, or - for standard input.
    #[arg(long, value_name = "FILE|-")]
    text: Option<String>,
    /// An HTML body (a file); with --text, both go as alternatives.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// A file to attach (may be repeated).
    #[arg(long, value_name = "FILE")]
    attach: Vec<PathBuf>,
    /// Print JSON: {"sent": true, "messageId": ...}.
    #[arg(long)]
    pub json: bool,
}

/// `send-batch`'s options.
#[derive(Args, Debug)]
pub struct SendBatchArgs {
    /// A CSV file with a header (from, to, cc, subject, text, html, and fields of your own for
    /// {{name}} templates) or JSON Lines with the same keys.
    file: PathBuf,
    /// Messages in flight at once (each account still sends within smtp.maxPerAccount and
    /// smtp.ratePerSecond).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Check every line (addresses, accounts, servers) and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Skip the lines an earlier run of the same file sent (or may have sent), as its
    /// journal in the data directory records.
    #[arg(long)]
    resume: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn read(path: &str) -> Result<String, EngineError> {
    let mut text = String::new();
    let result = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|e| EngineError::InvalidInput(format!("cannot read {path}: {e}")))?;
    Ok(text)
}

/// A MIME type for an attachment, from its extension.
fn content_type(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("txt" | "log" | "csv") => "text/plain",
        Some("html" | "htm") => "text/html",
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("zip") => "application/zip",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Runs `send`.
///
/// # Errors
/// A file cannot be read; the send failed (see `Engine::send`).
pub async fn send(engine: &Engine, a: &SendArgs) -> Result<(), EngineError> {
    let mut draft = Draft {
        from: a.from.clone(),
        to: a.to.clone(),
        cc: a.cc.clone(),
        bcc: a.bcc.clone(),
        subject: a.subject.clone(),
        text: a.text.as_deref().map(read).transpose()?,
        html: a.html.as_ref().map(|p| read(&p.to_string_lossy())).transpose()?,
        ..Default::default()
    };
    if draft.text.is_none() && draft.html.is_none() {
        draft.text = Some(String::new());
    }
    for path in &a.attach {
        let bytes = std::fs::read(path)
            .map_err(|e| EngineError::InvalidInput(format!("cannot attach {}: {e}", path.display())))?;
        let filename =
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "attachment".into());
        draft.attachments.push(Attachment { filename, content_type: content_type(path).into(), bytes });
    }
    let receipt = engine.send(&draft).await?;
    if a.json {
        crate::print_json(&receipt);
    } else {
        println!("sent {} to {} ({})", receipt.message_id, draft.to.join(", "), receipt.reply);
    }
    Ok(())
}

/// Runs `send-batch`. Ctrl-C stops between messages; what was sent stays in the journal.
///
/// # Errors
/// The file cannot be read, or the journal cannot be written. Each line's failure is in the
/// report, and a line not sent makes the exit code 1.
pub async fn send_batch(engine: &Engine, a: &SendBatchArgs) -> Result<(), EngineError> {
    let text = read(&a.file.to_string_lossy())?;
    let options = BatchOptions { concurrency: a.concurrency, dry_run: a.dry_run, resume: a.resume };
    let report = engine.send_batch(&text, &options, &crate::import::progress_printer()).await?;
    if a.json {
        crate::print_json(&report);
    } else {
        print_report(&report);
    }
    if report.failed + report.uncertain > 0 || report.cancelled {
        crate::PARTLY_FAILED.store(1, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(())
}

fn print_report(r: &BatchReport) {
    if r.dry_run {
        println!("dry run: {} messages would be sent, {} lines have problems", r.pending, r.failures.len());
    } else {
        let mut line = format!("sent {}, failed {}", r.sent, r.failed);
        if r.uncertain > 0 {
            line.push_str(&format!(", {} may have been sent (not sent again)", r.uncertain));
        }
        if r.already_sent > 0 {
            line.push_str(&format!(", {} already sent by an earlier run", r.already_sent));
        }
        if r.cancelled {
            line.push_str(&format!(", stopped with {} not sent; run again with --resume to send the rest", r.pending));
        }
        println!("{line}");
    }
    for f in &r.failures {
        let to = if f.to.is_empty() { String::new() } else { format!(" to {}", f.to) };
        println!("  line {}{to}: {}", f.line, f.reason);
    }
}
