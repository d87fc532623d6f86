//! `bench --mode idle`: how long a code takes from the server to the user while the account
//! is watched with IMAP IDLE.
//!
//! One engine waits on the account (a code subscription keeps it in IDLE); a second engine,
//! with its own session, appends a message with a fresh code. Each sample runs from the
//! server's OK to the APPEND to the first engine's `CodeFound` event, so it holds the
//! server's own notification delay (Dovecot: at least 500 ms), the DONE, the UID FETCH and
//! the extraction.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailwatch_engine::engine::EngineOptions;
use mailwatch_engine::events::{Event, EventSink, NullSink};
use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::watch::WatchMode;
use mailwatch_engine::{Engine, EngineError};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::{BenchArgs, report};

/// Each code event with the moment it was emitted.
struct Timing(UnboundedSender<(String, Instant)>);

impl EventSink for Timing {
    fn emit(&self, event: Event) {
        if let Event::CodeFound { code: Some(code), .. } = event {
            let _ = self.0.send((code, Instant::now()));
        }
    }
}

/// How long one message may take before it counts as failed.
const PER_MESSAGE: Duration = Duration::from_secs(10);

fn message(code: &str, n: usize) -> Vec<u8> {
    format!(
        "From: Example Service <no-reply@service.example>\r\nTo: bench@example.com\r\nSubject: Your verification code\r\n\
         Message-ID: <bench-idle-{n}-{code}@service.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your verification code is {code}. It expires in 10 minutes.\r\n"
    )
    .into_bytes()
}

async fn until_idle(engine: &Engine, email: &str) -> bool {
    let give_up = Instant::now() + PER_MESSAGE;
    while Instant::now() < give_up {
        if engine.watch_statuses().iter().any(|s| s.email == email && s.mode == WatchMode::Idle)
            && engine.stats().pool.total.idling > 0
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

/// Runs the idle benchmark and prints its figures.
///
/// # Errors
/// The account is unknown, or the benchmark's caches cannot be opened. Messages that bring
/// no code event are counted, not returned.
pub async fn run(engine: &Engine, a: &BenchArgs) -> Result<(), EngineError> {
    let account = engine.account(&a.email).await?;
    let email = account.email.clone();
    let dir = engine.data_dir().to_path_buf();
    let db = a.database_path.clone().unwrap_or_else(|| dir.join("bench.db"));
    let open = async |path: PathBuf, sink: Arc<dyn EventSink>| -> Result<Engine, EngineError> {
        let options = EngineOptions {
            data_dir: Some(dir.clone()),
            database_path: Some(path),
            config: Some(engine.config().clone()),
            ..engine.options().clone()
        };
        let e = Engine::open(options, sink).await?;
        e.adopt_account(&account).await?;
        Ok(e)
    };
    let (tx, mut events) = unbounded_channel();
    let watcher = open(db.clone(), Arc::new(Timing(tx))).await?;
    let append_db = db.with_extension("append.db");
    let appender = open(append_db.clone(), Arc::new(NullSink)).await?;

    let sub = watcher.subscribe_codes(&email).await?;
    let mut errors = Vec::new();
    let mut samples = Vec::new();
    if tokio::time::timeout(PER_MESSAGE, sub.ready()).await.is_err() {
        errors.push("the watch did not take its baseline within 10 s".to_string());
    }
    let seed = std::process::id() as usize;
    let started = Instant::now();
    for i in 0..a.warmup + a.iterations {
        if !until_idle(&watcher, &email).await {
            errors.push(format!("the watch was not in IDLE within 10 s: {:?}", watcher.watch_statuses()));
            continue;
        }
        let code = format!("{}", 100_000 + (seed + i * 7919) % 900_000);
        if let Err(e) = appender.append(&email, &FolderSpec::Inbox, &message(&code, i)).await {
            errors.push(e.to_string());
            continue;
        }
        let appended = Instant::now();
        let got = loop {
            match tokio::time::timeout_at((appended + PER_MESSAGE).into(), events.recv()).await {
                Ok(Some((c, at))) if c == code => break Some(at.saturating_duration_since(appended)),
                Ok(Some(_)) => continue,
                _ => break None,
            }
        };
        match got {
            Some(d) if i >= a.warmup => samples.push(d.as_secs_f64() * 1000.0),
            Some(_) => {}
            None => errors.push("no code event within 10 s of the APPEND".to_string()),
        }
    }
    let total = started.elapsed();
    report(&watcher, a, &email, samples, errors, total, 1);
    drop(sub);
    watcher.shutdown().await;
    appender.shutdown().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", append_db.display()));
    }
    Ok(())
}
