//! `mailwatch-cli watch`: watch accounts and print each new code as it arrives.
//!
//! Without `--idle` the accounts are polled in turn (every `watch.pollInterval`, at most
//! `watch.pollConcurrency` at a time, within `pool.maxTotal` sessions); with `--idle` they
//! are waited on, which means IMAP IDLE for up to `watch.maxIdleSessions` of them and quick
//! polls for the rest. Each code new to the history is printed once, as text or as one JSON
//! object per line.

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
    /// Wait on the accounts with IMAP IDLE (up to `watch.maxIdleSessions` of them) instead of
    /// polling them in turn.
    #[arg(long)]
    idle: bool,
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
    let emails: Vec<String> =
        if a.all { engine.accounts().await?.into_iter().map(|acc| acc.email).collect() } else { a.emails.clone() };
    if emails.is_empty() {
        return Err(EngineError::InvalidInput("nothing to watch: name the accounts, or pass --all".into()));
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
        let how = if a.idle {
            "IDLE".to_string()
        } else {
            // With more accounts than sessions the login budget sets the pace.
            let w = engine.stats().watch;
            format!("round-robin polling, each about every {:.0} s", w.expected_poll_interval)
        };
        eprintln!("watching {} account(s) with {how}; Ctrl-C stops", emails.len());
    }
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
            _ = deadline => break,
            _ = &mut ctrl_c => break,
        };
        let Some(Event::CodeFound { email, code, link, service, from, subject, received }) = event else { continue };
        printed += 1;
        if a.json {
            println!(
                "{}",
                json!({"email": email, "code": code, "link": link, "service": service, "from": from, "subject": subject, "received": received})
            );
        } else {
            let what = code.or(link).unwrap_or_default();
            println!("{email}  {what}  {}  {}", service.unwrap_or_default(), subject.unwrap_or_default());
        }
    }
    drop(subscriptions);
    Ok(())
}
