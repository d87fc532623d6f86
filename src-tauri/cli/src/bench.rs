//! `mailwatch-cli bench`: how fast a fetch is on a reused session and on a new one, and the counters `stats` shows.
//!
//! Every iteration asks the server (the cache is written as in the real path but never
//! answers). `reuse-client` keeps one client and its session; `new-client` forgets the
//! client before every fetch, so each one refreshes its token and logs in again;
//! `empty-poll` times a poll that finds nothing new on the reused, selected session (one
//! `UID FETCH last+1:*`); `idle` waits on the account (IMAP IDLE), appends a message with a
//! fresh code through a second engine, and times from the server's OK to the APPEND to the
//! engine's code event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use mailwatch_engine::engine::{EngineOptions, EngineStats};
use mailwatch_engine::events::NullSink;
use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::redact::mask_email;
use mailwatch_engine::{Engine, EngineError};
use serde_json::{Value, json};

mod idle;

/// Which client strategy to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// One client and its session for every fetch.
    ReuseClient,
    /// A new client (token refresh and login) for every fetch.
    NewClient,
    /// A poll that finds nothing new, on the reused session.
    EmptyPoll,
    /// From an APPEND to the code event, while the account is watched with IDLE.
    Idle,
    /// Sending a message over the account's reused SMTP connection.
    SendReuse,
    /// Sending a message over a new SMTP connection (and client) each time.
    SendNew,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::ReuseClient => "reuse-client",
            Mode::NewClient => "new-client",
            Mode::EmptyPoll => "empty-poll",
            Mode::Idle => "idle",
            Mode::SendReuse => "send-reuse",
            Mode::SendNew => "send-new",
        }
    }
}

/// `bench`'s options.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The account to fetch from.
    #[arg(long)]
    email: String,
    /// reuse-client, new-client, empty-poll, idle, send-reuse or send-new.
    #[arg(long, value_enum, default_value = "reuse-client")]
    mode: Mode,
    /// Fetches before measuring (not counted).
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Fetches measured in all, spread over the callers.
    #[arg(long, default_value_t = 20)]
    iterations: usize,
    /// The recipient of the send modes' messages (default: the account itself).
    #[arg(long)]
    to: Option<String>,
    /// Messages per fetch.
    #[arg(long, default_value_t = 1)]
    top: usize,
    /// Callers at once, in this process, against this one account.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// A separate SQLite file for the benchmark's message cache.
    #[arg(long)]
    database_path: Option<std::path::PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Mask the address in the output.
    #[arg(long)]
    redact: bool,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Runs the benchmark and prints its figures.
///
/// # Errors
/// The account is unknown, or the benchmark's own cache cannot be opened. Failed fetches
/// are counted, not returned.
pub async fn run(engine: &Engine, a: &BenchArgs) -> Result<(), EngineError> {
    if a.mode == Mode::Idle {
        return idle::run(engine, a).await;
    }
    let account = engine.account(&a.email).await?;
    // A separate cache file keeps benchmark rows out of the user's history.
    let separate;
    let send_mode = matches!(a.mode, Mode::SendReuse | Mode::SendNew);
    let engine = match &a.database_path {
        // The send modes measure the connection, not the account's pace: the rate is lifted.
        None if send_mode => {
            let mut config = engine.config().clone();
            config.smtp.rate_per_second = 1000.0;
            let options = EngineOptions { config: Some(config), ..engine.options().clone() };
            separate = Engine::open(options, Arc::new(NullSink)).await?;
            &separate
        }
        Some(path) => {
            let options = EngineOptions {
                data_dir: Some(engine.data_dir().to_path_buf()),
                database_path: Some(path.clone()),
                config: Some(engine.config().clone()),
                ..engine.options().clone()
            };
            separate = Engine::open(options, Arc::new(NullSink)).await?;
            separate.adopt_account(&account).await?;
            &separate
        }
        None => engine,
    };
    let email = account.email.clone();
    let draft = mailwatch_engine::smtp::compose::Draft {
        from: email.clone(),
        to: vec![a.to.clone().unwrap_or_else(|| email.clone())],
        subject: "Mailwatch benchmark".into(),
        text: Some("Your verification code is 123456.".into()),
        ..Default::default()
    };
    let fetch_once = async |engine: &Engine| -> Result<Duration, EngineError> {
        if matches!(a.mode, Mode::NewClient | Mode::SendNew) {
            engine.forget_client(&email).await;
        }
        let t = Instant::now();
        if matches!(a.mode, Mode::SendReuse | Mode::SendNew) {
            engine.send(&draft).await?;
        } else if a.mode == Mode::EmptyPoll {
            engine.poll(&email, &FolderSpec::Inbox).await?;
        } else {
            engine.fetch(&email, &FolderSpec::Inbox, a.top, false).await?;
        }
        Ok(t.elapsed())
    };
    for _ in 0..a.warmup {
        let _ = fetch_once(engine).await;
    }
    let callers = a.concurrency.max(1);
    let started = Instant::now();
    let per_caller: Vec<usize> =
        (0..callers).map(|i| a.iterations / callers + usize::from(i < a.iterations % callers)).collect();
    let mut errors: Vec<String> = Vec::new();
    let mut samples: Vec<f64> = Vec::new();
    let runs = per_caller.iter().map(|&n| async move {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(fetch_once(engine).await);
        }
        out
    });
    for result in futures::future::join_all(runs).await.into_iter().flatten() {
        match result {
            Ok(d) => samples.push(d.as_secs_f64() * 1000.0),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let total = started.elapsed();
    report(engine, a, &email, samples, errors, total, callers);
    if a.database_path.is_some() || send_mode {
        engine.shutdown().await;
    }
    Ok(())
}

/// Prints the figures: one JSON object with `--json`, or a few lines of text.
fn report(
    engine: &Engine,
    a: &BenchArgs,
    email: &str,
    mut samples: Vec<f64>,
    mut errors: Vec<String>,
    total: Duration,
    callers: usize,
) {
    samples.sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
    let success = samples.len();
    let avg = if success > 0 { samples.iter().sum::<f64>() / success as f64 } else { 0.0 };
    let qps = if total.as_secs_f64() > 0.0 { success as f64 / total.as_secs_f64() } else { 0.0 };
    let shown = if a.redact { mask_email(email) } else { email.to_string() };
    let stats = engine.stats();
    errors.sort();
    errors.dedup();
    let report = json!({
        "email": shown,
        "mode": a.mode.as_str(),
        "iterations": a.iterations,
        "concurrency": callers,
        "top": a.top,
        "success": success,
        "failed": a.iterations - success,
        "avg_ms": round2(avg),
        "median_ms": round2(percentile(&samples, 0.5)),
        "p95_ms": round2(percentile(&samples, 0.95)),
        "qps": round2(qps),
        "total_ms": round2(total.as_secs_f64() * 1000.0),
        "errors": errors,
        "stats": stats,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        println!("{} on {} ({} fetches, top {}, {} callers)", a.mode.as_str(), shown, a.iterations, a.top, callers);
        println!(
            "  success {success}/{}  avg {:.2} ms  median {:.2} ms  p95 {:.2} ms  {:.1} fetches/s  total {:.0} ms",
            a.iterations,
            avg,
            percentile(&samples, 0.5),
            percentile(&samples, 0.95),
            qps,
            total.as_secs_f64() * 1000.0
        );
        if matches!(a.mode, Mode::SendReuse | Mode::SendNew) {
            println!(
                "  SMTP connections created {} (logins)  reused {}  messages sent {}  rate waits {}",
                stats.send.smtp_connections_created,
                stats.send.smtp_connections_reused,
                stats.send.smtp_messages_sent,
                stats.send.smtp_rate_waits
            );
        }
        println!(
            "  sessions created {}  reused {}  closed {}  waits {}  wait timeouts {}",
            stats.pool.total.total_created,
            stats.pool.total.total_reused,
            stats.pool.total.total_closed,
            stats.pool.total.connection_waits,
            stats.pool.total.wait_timeouts
        );
        for e in &errors {
            println!("  error: {e}");
        }
    }
}

const CUMULATIVE_KEY: &str = "stats.cumulative";
/// The counters `stats` adds up over runs and prints, in order.
pub const COUNTERS: [&str; 19] = [
    "total_created",
    "total_reused",
    "total_closed",
    "health_check_failures",
    "connection_waits",
    "wait_timeouts",
    "client_creates",
    "client_reuses",
    "token_refreshes",
    "smtp_connections_created",
    "smtp_connections_reused",
    "smtp_messages_sent",
    "smtp_retries",
    "smtp_rate_waits",
    "graph_requests",
    "graph_throttled",
    "graph_retries",
    "graph_messages",
    "throttle_replies",
];

/// Adds this run's counters to the totals kept in the cache, so `stats` can report across
/// runs of the CLI (each run has its own pool).
pub async fn persist_stats(engine: &Engine) {
    let run = serde_json::to_value(engine.stats()).unwrap_or(Value::Null);
    let mut total = engine.setting(CUMULATIVE_KEY).await.ok().flatten().unwrap_or_else(|| json!({}));
    for k in COUNTERS {
        let add = run.get(k).and_then(Value::as_u64).unwrap_or(0);
        let had = total.get(k).and_then(Value::as_u64).unwrap_or(0);
        total[k] = json!(had + add);
    }
    total["last_run"] = run;
    let _ = engine.set_setting(CUMULATIVE_KEY, &total).await;
}

/// The counters of every finished CLI run so far, plus the last run's per-account detail.
///
/// # Errors
/// The cache cannot be read.
pub async fn cumulative_stats(engine: &Engine) -> Result<Value, EngineError> {
    let saved = engine.setting(CUMULATIVE_KEY).await?;
    let mut out = json!({});
    for k in COUNTERS {
        out[k] = json!(saved.as_ref().and_then(|v| v.get(k)).and_then(Value::as_u64).unwrap_or(0));
    }
    let now: EngineStats = engine.stats();
    out["in_use"] = json!(now.pool.total.in_use);
    out["idle"] = json!(now.pool.total.idle);
    out["max_per_account"] = json!(engine.config().pool.max_per_account);
    out["max_total"] = json!(engine.config().pool.max_total);
    out["last_run"] = saved.and_then(|v| v.get("last_run").cloned()).unwrap_or(Value::Null);
    Ok(out)
}
