//! `mailwatch-cli watch`: watch accounts and print each new code as it arrives.
//!
//! The accounts are watched as the app watches them: each one idles on its own session (IMAP
//! IDLE) within `watch.maxIdleSessions`, and the rest are polled in turn (every
//! `watch.pollInterval`, at most `watch.pollConcurrency` at a time, within `pool.maxTotal`
//! sessions); logins are paced by `watch.pollLoginRate`, the most recently used accounts
//! first. With `--idle` they are waited on instead, which also checks the junk folder every
//! `cache.pollInterval` and never queues for a login. Each code new to the history is printed
//! once, as text or as one JSON object per line. How many accounts are pushed, polled and
//! waiting for a login is printed to stderr whenever it changes (at most every 5 s; not with
//! `--json`), or with `--status SECS` to stdout, as `{"status": {...}}` lines among the codes
//! with `--json`.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use mailwatch_engine::events::{Event, EventSink};
use mailwatch_engine::{Engine, EngineError};
use serde_json::json;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// `watch`'s options.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The addresses to watch.
    emails: Vec<String>,
    /// Watch every account.
    #[arg(long, conflicts_with = "emails")]
    all: bool,
    /// Wait on the accounts (IDLE up to `watch.maxIdleSessions`, quick polls past it, the
    /// junk folder checked every `cache.pollInterval`) instead of watching them.
    #[arg(long)]
    idle: bool,
    /// Also print the watch's figures (accounts pushed, polled, waiting for a login slot) to
    /// stdout every this many seconds when they changed; with `--json` as `{"status": ...}`.
    #[arg(long, value_name = "SECS")]
    status: Option<u64>,
    /// Stop after this many seconds (default: until interrupted).
    #[arg(long = "for", value_name = "SECS")]
    duration: Option<u64>,
    /// Stop after this many codes.
    #[arg(long)]
    count: Option<usize>,
    /// Print one JSON object per code and line: email, code, link, service, from, subject,
    /// received.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    filter: crate::labels::FilterArgs,
}

/// Forwards the engine's events to the command.
struct Forward(UnboundedSender<Event>);

impl EventSink for Forward {
    fn emit(&self, event: Event) {
        let _ = self.0.send(event);
    }
}

/// A sink for the engine and the receiving end for `watch`.
pub fn sink() -> (Arc<dyn EventSink>, UnboundedReceiver<Event>) {
    let (tx, rx) = unbounded_channel();
    (Arc::new(Forward(tx)), rx)
}

/// Watches until the duration or the count runs out, or Ctrl-C.
///
/// # Errors
/// An unknown account, or no account to watch.
pub async fn run(engine: &Engine, a: &WatchArgs, mut events: UnboundedReceiver<Event>) -> Result<(), EngineError> {
    let emails = a.filter.select(engine, &a.emails, a.all, |_| true).await?.unwrap_or_default();
    // The most recently used first: they are the first to idle and to log in.
    let emails = engine.recently_used_first(emails).await;
    if emails.is_empty() {
        return Err(EngineError::InvalidInput(
            "nothing to watch: name the accounts, or pass --all, --group or --tag (no account matched)".into(),
        ));
    }
    let mut subscriptions = Vec::new();
    for email in &emails {
        if a.idle {
            subscriptions.push(engine.subscribe_codes(email).await?);
        } else {
            engine.watch(email).await?;
        }
    }
    if !a.json {
        let w = engine.stats().watch;
        let how = if a.idle {
            "waits: IDLE, or quick polls past the IDLE budget".to_string()
        } else if w.idle_budget >= emails.len() {
            "IMAP IDLE".to_string()
        } else {
            // With more accounts than sessions the login budget sets the pace.
            format!(
                "IMAP IDLE for {} of them, round-robin polling for the rest, each about every {:.0} s",
                w.idle_budget, w.expected_poll_interval
            )
        };
        eprintln!("watching {} account(s) with {how}; Ctrl-C stops", emails.len());
    }
    let mut shown = Figures::default();
    let mut printed_at = None::<tokio::time::Instant>;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    let until = a.duration.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut printed = 0usize;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if a.count.is_some_and(|n| printed >= n) {
            break;
        }
        let deadline = async {
            match until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            e = events.recv() => e,
            _ = ticks.tick() => {
                report(engine, a, &mut shown, &mut printed_at);
                continue;
            }
            _ = deadline => break,
            _ = &mut ctrl_c => break,
        };
        let Some(Event::CodeFound { email, code, link, service, from, subject, received, folder }) = event else {
            continue;
        };
        printed += 1;
        if a.json {
            println!(
                "{}",
                json!({"email": email, "code": code, "link": link, "service": service, "from": from, "subject": subject,
                       "received": received, "folder": folder})
            );
        } else {
            let what = code.or(link).unwrap_or_default();
            println!("{email}  {what}  {}  {}", service.unwrap_or_default(), subject.unwrap_or_default());
        }
    }
    drop(subscriptions);
    Ok(())
}

/// The watch's figures as `watch` reports them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Figures {
    accounts: usize,
    pushed: usize,
    polled: usize,
    queued: usize,
    starting: usize,
}

/// Prints the figures when they changed: to stderr at most every 5 s, and to stdout every
/// `--status` seconds when asked for.
fn report(engine: &Engine, a: &WatchArgs, shown: &mut Figures, at: &mut Option<tokio::time::Instant>) {
    let w = engine.stats().watch;
    let now =
        Figures { accounts: w.accounts, pushed: w.pushed, polled: w.polled, queued: w.queued, starting: w.starting };
    let every = Duration::from_secs(a.status.unwrap_or(5).max(1));
    if now == *shown || at.is_some_and(|t| t.elapsed() < every) {
        return;
    }
    *shown = now;
    *at = Some(tokio::time::Instant::now());
    let line = format!(
        "{} account(s): {} pushed (IDLE), {} polled, {} waiting for a login slot, {} connecting",
        now.accounts, now.pushed, now.polled, now.queued, now.starting
    );
    if a.status.is_some() {
        if a.json {
            let status = json!({"accounts": now.accounts, "pushed": now.pushed, "polled": now.polled,
                "queued": now.queued, "starting": now.starting, "idleBudget": w.idle_budget});
            println!("{}", json!({ "status": status }));
        } else {
            println!("{line}");
        }
    } else if !a.json {
        eprintln!("{line}");
    }
}
