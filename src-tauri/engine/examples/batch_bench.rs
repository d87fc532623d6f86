//! The batch import and verification figures.
//!
//! ```sh
//! tests/testbed/with-session.sh cargo run --release -p mailwatch-engine --example batch_bench -- import [--lines 10000] [--keyring-lines N]
//! tests/testbed/with-session.sh cargo run --release -p mailwatch-engine --example batch_bench -- verify [--accounts 200]
//! ```
//!
//! `import` imports a generated file of Outlook-style lines twice: once with the real
//! keyring (a private gnome-keyring in the session `with-session.sh` starts) and once with
//! an in-memory secret store, so the difference is what the keyring costs. It prints where
//! the time went, how long the same file takes again, and what reading a secret back costs
//! (from this process's copy of the shards, and from the keyring).
//!
//! `verify` imports accounts pointed at the test bed with 50 ms added at the token endpoint
//! and 20 ms of round trip on IMAP (10 ms each way through the fault proxy), verifies them
//! all at concurrency 1 to learn the per-account time, then at 5 and 10, and compares each
//! wall time with the ideal (accounts / concurrency) x per-account time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailwatch_engine::Engine;
use mailwatch_engine::config::Config;
use mailwatch_engine::engine::{BatchControl, EngineOptions, ImportOptions, Progress};
use mailwatch_engine::events::NullSink;
use mailwatch_engine::import::{self, ImportDefaults};
use mailwatch_engine::secrets::{KeyringSecrets, Secret, SecretStore, SecretsError};
use mailwatch_testbed::{DEFAULT_CLIENT_ID, FaultProxy, TestBed};

/// Secrets in memory: the import without the keyring, to see what the rest costs.
#[derive(Default)]
struct MemorySecrets(Mutex<HashMap<String, Secret>>);

impl SecretStore for MemorySecrets {
    fn get(&self, email: &str) -> Result<Option<Secret>, SecretsError> {
        Ok(self.0.lock().unwrap().get(email).cloned())
    }
    fn set(&self, email: &str, secret: &Secret) -> Result<(), SecretsError> {
        self.0.lock().unwrap().insert(email.to_string(), secret.clone());
        Ok(())
    }
    fn delete(&self, email: &str) -> Result<(), SecretsError> {
        self.0.lock().unwrap().remove(email);
        Ok(())
    }
}

/// The real keyring, with the time spent writing counted, to see what share of a
/// verification is the rotated token's write.
struct TimedSecrets {
    inner: KeyringSecrets,
    writes: Mutex<(usize, Duration)>,
}

impl SecretStore for TimedSecrets {
    fn get(&self, email: &str) -> Result<Option<Secret>, SecretsError> {
        self.inner.get(email)
    }
    fn set(&self, email: &str, secret: &Secret) -> Result<(), SecretsError> {
        let t = Instant::now();
        let r = self.inner.set(email, secret);
        let mut w = self.writes.lock().unwrap();
        w.0 += 1;
        w.1 += t.elapsed();
        r
    }
    fn delete(&self, email: &str) -> Result<(), SecretsError> {
        self.inner.delete(email)
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn engine(
    dir: &std::path::Path,
    secrets: Arc<dyn SecretStore>,
    config: Config,
    extra_ca: Option<std::path::PathBuf>,
) -> Engine {
    let options = EngineOptions {
        data_dir: Some(dir.to_path_buf()),
        config: Some(config),
        secrets: Some(secrets),
        extra_ca,
        ..Default::default()
    };
    Engine::open(options, Arc::new(NullSink)).await.expect("the engine opens")
}

#[tokio::main]
async fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("import") => {
            let lines = arg("--lines", 10_000);
            bench_import(lines, arg("--keyring-lines", lines)).await
        }
        Some("verify") => bench_verify(arg("--accounts", 200)).await,
        _ => eprintln!("usage: batch_bench import [--lines N] | verify [--accounts N]"),
    }
}

async fn bench_import(lines: usize, keyring_lines: usize) {
    let mut file = String::with_capacity(lines * 480);
    for i in 0..lines {
        file.push_str(&format!(
            "bench{i}@outlook.com----{DEFAULT_CLIENT_ID}----M.C5{i}_BAY.0.U.-{}\n",
            "Cx!*9$kQ".repeat(50)
        ));
    }
    let bytes = file.into_bytes();
    println!("import of {lines} lines ({:.1} MB)", bytes.len() as f64 / 1e6);

    let t = Instant::now();
    let parsed = import::parse(&bytes, import::ImportFormat::Auto);
    let parse = t.elapsed();
    let t = Instant::now();
    let planned = parsed.records.iter().filter(|r| r.plan(&ImportDefaults::default()).is_ok()).count();
    let plan = t.elapsed();
    println!("  parse {:>8.1} ms, check against presets {:>8.1} ms ({planned} accounts)", ms(parse), ms(plan));

    let keyring_lines = keyring_lines.min(lines);
    let cut = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(keyring_lines.saturating_sub(1))
        .map_or(0, |(i, _)| i + 1);
    let keyring = Arc::new(KeyringSecrets::new("mailwatch-bench"));
    let runs: [(&str, Arc<dyn SecretStore>, &[u8]); 2] =
        [("memory", Arc::new(MemorySecrets::default()), &bytes), ("keyring", keyring.clone(), &bytes[..cut])];
    for (name, secrets, bytes) in runs {
        let lines = bytes.iter().filter(|b| **b == b'\n').count();
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path(), secrets, Config::default(), None).await;
        let chunks: Arc<Mutex<Vec<(usize, f64)>>> = Arc::default();
        let c = chunks.clone();
        let control = BatchControl {
            progress: Some(Arc::new(move |p: &Progress| c.lock().unwrap().push((p.done, p.elapsed_secs)))),
            ..Default::default()
        };
        let t = Instant::now();
        let report = e.import(bytes, &ImportOptions::default(), &control).await.expect("the import runs");
        let total = t.elapsed();
        println!(
            "  {name:<8} secrets: {} added in {:>8.2} s ({:.0} accounts/s)",
            report.added,
            total.as_secs_f64(),
            report.added as f64 / total.as_secs_f64()
        );
        let chunks: Vec<(usize, f64)> = chunks.lock().unwrap().clone();
        let mut last = (0usize, 0f64);
        let step = (lines / 5).max(1);
        let mut next = step;
        // The first progress report at or past each fifth of the file (chunks vary in size).
        for &(done, at) in &chunks {
            if done < next && done != lines {
                continue;
            }
            while next <= done {
                next += step;
            }
            println!(
                "           up to {done:>6}: {:>6.2} ms per account",
                (at - last.1) * 1000.0 / (done - last.0).max(1) as f64
            );
            last = (done, at);
        }
        let t = Instant::now();
        let again = e.import(bytes, &ImportOptions::default(), &BatchControl::default()).await.unwrap();
        println!(
            "           same file again: {} updated in {:.2} s (secrets unchanged, so only read)",
            again.updated,
            t.elapsed().as_secs_f64()
        );
        e.shutdown().await;
    }

    let emails: Vec<String> = (0..keyring_lines).map(|i| format!("bench{i}@outlook.com")).collect();
    let read_all = |label: &str| {
        let t = Instant::now();
        let found = emails.iter().filter(|e| matches!(keyring.get(e), Ok(Some(_)))).count();
        let took = t.elapsed();
        println!(
            "  read back one at a time, {label}: {found} secrets in {:.2} s ({:.1} us per account)",
            took.as_secs_f64(),
            took.as_secs_f64() * 1e6 / emails.len().max(1) as f64
        );
    };
    keyring.clear_cache();
    read_all("shards from the keyring");
    read_all("shards from memory");
    keyring.clear_cache();
    let t = Instant::now();
    let found = keyring.get_many(&emails).into_iter().filter(|r| matches!(r, Ok(Some(_)))).count();
    println!("  read back in one batch from the keyring: {found} secrets in {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    keyring.set(&emails[0], &Secret::new("M.C5-rotated")).expect("a rotation is stored");
    println!("  one rotation (a shard read-modify-write): {:.1} ms", ms(t.elapsed()));
}

async fn bench_verify(accounts: usize) {
    let bed = TestBed::start().await;
    let proxy = FaultProxy::start(bed.dovecot.imaps_addr()).await;
    proxy.set_latency(Duration::from_millis(10), Duration::from_millis(10));
    bed.oauth.set_latency(Duration::from_millis(50));
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    // Every session stays open, so verifying account N never waits on closing another.
    config.pool.max_total = accounts.max(50) + 10;
    config.http.max_connections_per_host = arg("--http-per-host", config.http.max_connections_per_host);
    let secrets = Arc::new(TimedSecrets {
        inner: KeyringSecrets::new("mailwatch-bench-verify"),
        writes: Mutex::new((0, Duration::ZERO)),
    });
    let e = engine(dir.path(), secrets.clone(), config, Some(bed.dovecot.ca_pem_path().to_path_buf())).await;
    let mut file = String::new();
    let emails: Vec<String> = (0..accounts).map(|i| format!("verify{i}@outlook.com")).collect();
    for email in &emails {
        let token = bed.oauth.issue_refresh_token(email, DEFAULT_CLIENT_ID);
        file.push_str(&format!("{email}----{token}----{DEFAULT_CLIENT_ID}\n"));
    }
    let defaults = ImportDefaults {
        imap_host: Some("127.0.0.1".into()),
        imap_port: Some(proxy.port()),
        token_url: Some(bed.oauth.token_url()),
        ..Default::default()
    };
    let r = e
        .import(file.as_bytes(), &ImportOptions { defaults, ..Default::default() }, &BatchControl::default())
        .await
        .unwrap();
    assert_eq!(r.added, accounts, "{r:?}");
    println!(
        "verify {accounts} accounts: token endpoint +50 ms, IMAP +20 ms round trip, {} token requests in flight at most",
        e.config().http.max_connections_per_host
    );

    let mut per_account = None;
    for concurrency in [1usize, 5, 10] {
        *secrets.writes.lock().unwrap() = (0, Duration::ZERO);
        let t = Instant::now();
        let report = e.verify(&emails, concurrency, &BatchControl::default()).await;
        let wall = t.elapsed().as_secs_f64();
        let (writes, writing) = *secrets.writes.lock().unwrap();
        let mut times: Vec<u64> = report.accounts.iter().map(|a| a.ms).collect();
        times.sort_unstable();
        let median = times[times.len() / 2];
        let per = *per_account.get_or_insert(wall / accounts as f64);
        let ideal = accounts as f64 / concurrency as f64 * per;
        println!(
            "  concurrency {concurrency:>2}: {:>3} ok {:>3} failed, wall {wall:>6.2} s, per account median {median} ms; ideal {ideal:>6.2} s, ratio {:.2}",
            report.ok,
            report.failed,
            wall / ideal
        );
        println!(
            "    keyring: {writes} rotated tokens written, {:.2} s in all ({:.1} ms each; the daemon takes one at a time)",
            writing.as_secs_f64(),
            ms(writing) / writes.max(1) as f64
        );
        if let Some(f) = report.accounts.iter().find(|a| !a.ok) {
            println!("    first failure: {}: {}", f.email, f.reason.as_deref().unwrap_or(""));
        }
    }
    let stats = e.stats();
    println!(
        "  pool: {} sessions created, {} closed; token requests {}",
        stats.pool.total.total_created,
        stats.pool.total.total_closed,
        bed.oauth.total_refreshes()
    );
    e.shutdown().await;
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
