//! Watching many accounts within a global session limit: 1,000 password accounts on the test
//! bed's Dovecot, all watched, a few of them waited on, `pool.maxTotal` = 50. Prints the
//! process's RSS and CPU while it watches, the logins and TLS handshakes it made, the poll
//! interval the round robin reached, how many codes were announced, and the most IMAP
//! sessions Dovecot had open at once (replayed from Dovecot's own log).
//!
//! With `MODE=push` it measures the other way of watching: every watched account idling on
//! its own session (the defaults: `watch.maxIdleSessions` 1,000 within `pool.maxTotal`
//! 1,100). It prints the RSS before and with all of them idling (and so per idle session), CPU
//! over a quiet window, and the time from APPEND to the code for `CODES` codes spread over
//! random accounts (p50, p99).
//!
//! With `MODE=junk` it measures how fast a code APPENDed to the junk folder reaches a wait, in
//! each way Mailwatch watches junk (NOTIFY on the one session; a second session idling on junk
//! with `pool.maxPerAccount` 2 on a Dovecot without NOTIFY; STATUS every
//! `watch.junkPollInterval`; and, as it was before, STATUS every 3 s), against the inbox over
//! IDLE: `CODES` codes (20) one after the other to one waited-on account, each timed from
//! `doveadm save` returning to the wait having it.
//!
//! Secrets live in memory here (a stand-in for the keyring, which is not what is measured).
//! Settings through the environment: `ACCOUNTS` (1000), `WAITED` (10), `MAX_TOTAL` (50; with
//! `MODE=push` the default 1,100), `POLL_INTERVAL` seconds (60), `LOGIN_RATE` per second
//! (`watch.pollLoginRate`'s default), `MEASURE` seconds (120), `CODES` (50, push only).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailwatch_engine::Engine;
use mailwatch_engine::account::{AccountSpec, Provider, Tls};
use mailwatch_engine::config::Config;
use mailwatch_engine::engine::{EngineOptions, NewSecret};
use mailwatch_engine::events::{Event, EventSink};
use mailwatch_engine::secrets::{Secret, SecretStore, SecretsError};
use mailwatch_testbed::{DovecotOptions, TestBed};

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

/// Codes announced, by account.
#[derive(Default)]
struct Codes(Mutex<Vec<(String, String, Instant)>>);

impl EventSink for Codes {
    fn emit(&self, event: Event) {
        if let Event::CodeFound { email, code: Some(code), .. } = event {
            self.0.lock().unwrap().push((email, code, Instant::now()));
        }
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Resident memory and CPU time (user + system) of this process.
fn usage() -> (u64, Duration) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses: utime is the 14th, stime the 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    // The kernel's USER_HZ is 100 on Linux.
    (rss_kb, Duration::from_millis(ticks * 10))
}

fn code_mail(code: &str) -> Vec<u8> {
    format!(
        "From: Example <no-reply@service.example>\r\nTo: u@example.com\r\nSubject: Your verification code\r\nMessage-ID: <many-{code}@service.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYour verification code is {code}.\r\n"
    )
    .into_bytes()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var("MODE").is_ok_and(|m| m == "push") {
        return push().await;
    }
    if std::env::var("MODE").is_ok_and(|m| m == "junk") {
        return junk().await;
    }
    let accounts = env("ACCOUNTS", 1000) as usize;
    let waited = env("WAITED", 10) as usize;
    let max_total = env("MAX_TOTAL", 50) as usize;
    let poll_interval = Duration::from_secs(env("POLL_INTERVAL", 60));
    let measure = Duration::from_secs(env("MEASURE", 120));
    let login_rate = std::env::var("LOGIN_RATE").ok().and_then(|v| v.parse::<f64>().ok());

    let bed = TestBed::start_with(DovecotOptions::default()).await;
    let mut config = Config::default();
    config.pool.max_total = max_total;
    config.watch.poll_interval = poll_interval;
    if let Some(rate) = login_rate {
        config.watch.poll_login_rate = rate;
    }
    let login_rate = config.watch.poll_login_rate;
    let codes = Arc::new(Codes::default());
    let t = Instant::now();
    let (engine, emails, _dir) = engine_with_accounts(&bed, config, codes.clone(), accounts).await;
    eprintln!("{accounts} accounts added in {:.1} s", t.elapsed().as_secs_f64());
    let (rss_before, _) = usage();

    for e in &emails {
        engine.watch(e).await.expect("watch");
    }
    let mut subscriptions = Vec::new();
    for e in emails.iter().take(waited) {
        subscriptions.push(engine.subscribe_codes(e).await.expect("subscribe"));
    }
    // One full round of polls first: every account takes its baseline (with logins paced,
    // that takes longer than one poll interval).
    let t = Instant::now();
    eprintln!("warming up: waiting until every account has been polled once");
    while engine.watch_statuses().iter().filter(|s| s.polls > 0).count() < accounts {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!("every account polled once after {:.0} s", t.elapsed().as_secs_f64());

    let before = engine.stats();
    let (_, cpu0) = usage();
    let t0 = Instant::now();
    let mut rss_max = 0;
    // Codes to a few waited-on accounts and a few polled ones, spread over the window.
    let targets: Vec<(String, String)> = (0..10)
        .map(|i| {
            let idx = if i < 5 { i % waited.max(1) } else { waited + (i * 97) % (accounts - waited).max(1) };
            (emails[idx.min(accounts - 1)].clone(), format!("{}", 500_000 + i * 1_111))
        })
        .collect();
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut next_target = 0;
    while t0.elapsed() < measure {
        let (rss, _) = usage();
        rss_max = rss_max.max(rss);
        // After the first third of the window, deliver one code every few seconds.
        if t0.elapsed() > measure / 3
            && next_target < targets.len()
            && t0.elapsed() > measure / 3 + Duration::from_secs(3 * next_target as u64)
        {
            let (e, c) = &targets[next_target];
            bed.dovecot.append(e, "INBOX", &code_mail(c)).await;
            sent.insert(c.clone(), Instant::now());
            next_target += 1;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (rss_end, cpu1) = usage();
    let window = t0.elapsed();
    let cpu = (cpu1 - cpu0).as_secs_f64() / window.as_secs_f64() * 100.0;
    let after = engine.stats();
    let logins = after.pool.total.total_created - before.pool.total.total_created;
    let full = after.tls.tls_full_handshakes - before.tls.tls_full_handshakes;
    let resumed = after.tls.tls_resumed_handshakes - before.tls.tls_resumed_handshakes;
    // Give the last polled codes one more round to be found.
    let round = Duration::from_secs_f64(after.watch.expected_poll_interval) + Duration::from_secs(10);
    let tail = Instant::now();
    while tail.elapsed() < round && codes.0.lock().unwrap().len() < targets.len() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let found = codes.0.lock().unwrap().clone();
    let mut waited_latency = Vec::new();
    let mut polled_latency = Vec::new();
    for (i, (_, c)) in targets.iter().enumerate() {
        if let (Some(at), Some(sent_at)) = (found.iter().find(|(_, code, _)| code == c).map(|x| x.2), sent.get(c)) {
            let ms = at.saturating_duration_since(*sent_at).as_secs_f64() * 1000.0;
            if i < 5 { waited_latency.push(ms) } else { polled_latency.push(ms) }
        }
    }
    let all = engine.stats();
    let stats = all.pool.total;
    let statuses = engine.watch_statuses();
    let idling = statuses.iter().filter(|s| s.mode == mailwatch_engine::watch::WatchMode::Idle).count();
    drop(subscriptions);
    engine.shutdown().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dovecot_max = bed.dovecot.max_total_sessions_seen();

    println!("| figure | value |");
    println!("|---|---|");
    println!("| accounts watched / waited on | {accounts} / {waited} |");
    println!(
        "| pool.maxTotal, watch.pollInterval, watch.pollLoginRate | {max_total}, {} s, {login_rate} /s |",
        poll_interval.as_secs()
    );
    println!(
        "| RSS before watching / max while watching / at the end | {:.0} / {:.0} / {:.0} MB |",
        rss_before as f64 / 1024.0,
        rss_max as f64 / 1024.0,
        rss_end as f64 / 1024.0
    );
    println!("| CPU while watching ({:.0} s window) | {cpu:.2} % of one core |", window.as_secs_f64());
    println!(
        "| logins in the window | {logins}, {:.2} /s ({full} full TLS handshakes, {resumed} resumed) |",
        logins as f64 / window.as_secs_f64()
    );
    println!(
        "| poll interval per account: expected / measured (median) | {:.0} s / {} |",
        all.watch.expected_poll_interval,
        all.watch.measured_poll_interval.map_or("-".to_string(), |s| format!("{s:.0} s"))
    );
    println!("| most IMAP sessions open at once (Dovecot's log) | {dovecot_max} |");
    println!("| sessions opened / closed by the pool | {} / {} |", stats.total_created, stats.total_closed);
    println!("| watches in IDLE at the end | {idling} |");
    println!("| codes to waited-on accounts announced | {}/5, {} |", waited_latency.len(), summary(&waited_latency));
    println!("| codes to polled accounts announced | {}/5, {} |", polled_latency.len(), summary(&polled_latency));
}

fn summary(ms: &[f64]) -> String {
    if ms.is_empty() {
        return "-".into();
    }
    let mut v = ms.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!("median {:.0} ms, max {:.0} ms after delivery", v[v.len() / 2], v[v.len() - 1])
}

/// An engine on the test bed with `accounts` password accounts added (secrets in memory),
/// their addresses, and its data dir.
async fn engine_with_accounts(
    bed: &TestBed,
    config: Config,
    codes: Arc<Codes>,
    accounts: usize,
) -> (Engine, Vec<String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp data dir");
    let options = EngineOptions {
        data_dir: Some(dir.path().to_path_buf()),
        extra_ca: Some(bed.dovecot.ca_pem_path().to_path_buf()),
        config: Some(config),
        secrets: Some(Arc::new(MemorySecrets::default())),
        ..Default::default()
    };
    let engine = Engine::open(options, codes).await.expect("the engine opens");
    let emails: Vec<String> = (0..accounts).map(|i| format!("user{i:04}@example.com")).collect();
    for e in &emails {
        bed.dovecot.add_user(e, "pw");
        let spec = AccountSpec {
            email: e.clone(),
            provider: Some(Provider::Imap),
            imap_host: Some("127.0.0.1".into()),
            imap_port: Some(bed.dovecot.imaps_port()),
            tls: Some(Tls::Implicit),
            ..Default::default()
        };
        engine.add_account(&spec, NewSecret::Password(Secret::new("pw"))).await.expect("the account is added");
    }
    (engine, emails, dir)
}

/// Every watched account idling: memory per session, quiet CPU, APPEND to code.
async fn push() {
    let accounts = env("ACCOUNTS", 1000) as usize;
    let measure = Duration::from_secs(env("MEASURE", 120));
    let n_codes = env("CODES", 50) as usize;
    let mut config = Config::default();
    if let Some(total) = std::env::var("MAX_TOTAL").ok().and_then(|v| v.parse().ok()) {
        config.pool.max_total = total;
    }
    if let Some(rate) = std::env::var("LOGIN_RATE").ok().and_then(|v| v.parse::<f64>().ok()) {
        config.watch.poll_login_rate = rate;
    }
    let (max_total, max_idle, rate) =
        (config.pool.max_total, config.watch.max_idle_sessions, config.watch.poll_login_rate);
    let bed = TestBed::start_with(DovecotOptions::default()).await;
    let codes = Arc::new(Codes::default());
    let (engine, emails, _dir) = engine_with_accounts(&bed, config, codes.clone(), accounts).await;
    let (rss_before, _) = usage();

    let t = Instant::now();
    engine.set_watched(&emails, true).await.expect("watch");
    eprintln!("waiting until every account idles (logins at {rate} /s)");
    loop {
        let w = engine.stats().watch;
        if w.pushed >= accounts.min(w.idle_budget) {
            break;
        }
        if t.elapsed() > Duration::from_secs(1800) {
            panic!("not every account idles after 30 minutes: {w:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ramp = t.elapsed();
    // Let the last logins' allocations settle before reading memory.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (rss_idle, cpu0) = usage();
    eprintln!("all idling after {:.0} s; quiet for {} s", ramp.as_secs_f64(), measure.as_secs());
    let t0 = Instant::now();
    let mut rss_max = rss_idle;
    while t0.elapsed() < measure {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_max = rss_max.max(usage().0);
    }
    let (_, cpu1) = usage();
    let quiet_cpu = (cpu1 - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64() * 100.0;

    // Codes to random accounts, one every 200 ms; the time runs from `doveadm save` returning.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut sent: Vec<(String, String, Instant)> = Vec::new();
    for i in 0..n_codes {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let who = &emails[(seed % accounts as u64) as usize];
        let code = format!("{}", 700_000 + i * 37);
        bed.dovecot.append(who, "INBOX", &code_mail(&code)).await;
        sent.push((who.clone(), code, Instant::now()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tail = Instant::now();
    while tail.elapsed() < Duration::from_secs(30) && codes.0.lock().unwrap().len() < n_codes {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let found = codes.0.lock().unwrap().clone();
    let mut ms: Vec<f64> = sent
        .iter()
        .filter_map(|(_, c, at)| {
            found.iter().find(|(_, code, _)| code == c).map(|x| x.2.saturating_duration_since(*at))
        })
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    for (who, c, _) in sent.iter().filter(|(_, c, _)| !found.iter().any(|(_, code, _)| code == c)) {
        eprintln!("not announced within 30 s: {c} to {who}");
    }
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| if ms.is_empty() { f64::NAN } else { ms[((ms.len() - 1) as f64 * p).round() as usize] };
    let stats = engine.stats();
    engine.shutdown().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dovecot_max = bed.dovecot.max_total_sessions_seen();

    println!("| figure | value |");
    println!("|---|---|");
    println!("| accounts watched, all idling | {accounts} (IDLE budget {}) |", stats.watch.idle_budget);
    println!("| pool.maxTotal, watch.maxIdleSessions, watch.pollLoginRate | {max_total}, {max_idle}, {rate} /s |");
    println!("| time until every account idled | {:.0} s |", ramp.as_secs_f64());
    println!(
        "| RSS before watching / all idling / most in the quiet window | {:.0} / {:.0} / {:.0} MB |",
        rss_before as f64 / 1024.0,
        rss_idle as f64 / 1024.0,
        rss_max as f64 / 1024.0
    );
    println!(
        "| RSS per idle session | {:.0} KB |",
        rss_idle.saturating_sub(rss_before) as f64 / accounts.max(1) as f64
    );
    println!(
        "| CPU while quiet ({} s, junk checked once a minute per account) | {quiet_cpu:.2} % of one core |",
        measure.as_secs()
    );
    println!(
        "| APPEND to code, {} codes to random accounts | {}/{n_codes} announced, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms |",
        n_codes,
        ms.len(),
        q(0.5),
        q(0.99),
        q(1.0)
    );
    println!("| most IMAP sessions open at once (Dovecot's log) | {dovecot_max} |");
    println!("| sessions opened by the pool | {} |", stats.pool.total.total_created);
}

/// APPEND to code for junk in each way of watching it, against the inbox.
async fn junk() {
    use mailwatch_engine::watch::{JunkMode, WatchMode};
    let n_codes = env("CODES", 20) as usize;
    let default_every = Config::default().watch.junk_poll_interval;
    // (what, folder, NOTIFY offered, pool.maxPerAccount, watch.junkPollInterval, the mode expected)
    let cases: [(String, &str, bool, usize, Duration, JunkMode); 5] = [
        ("inbox, IDLE".into(), "INBOX", true, 1, default_every, JunkMode::Notify),
        ("junk, NOTIFY on the one session".into(), "Junk", true, 1, default_every, JunkMode::Notify),
        (
            "junk, a second session idling on it (no NOTIFY, maxPerAccount 2)".into(),
            "Junk",
            false,
            2,
            default_every,
            JunkMode::Session,
        ),
        (
            format!("junk, STATUS every {} s (no NOTIFY, maxPerAccount 1)", default_every.as_secs_f64()),
            "Junk",
            false,
            1,
            default_every,
            JunkMode::Poll,
        ),
        ("junk, STATUS every 3 s (as before)".into(), "Junk", false, 1, Duration::from_secs(3), JunkMode::Poll),
    ];
    println!("| how | APPEND to code ({n_codes} codes) | sessions at Dovecot |");
    println!("|---|---|---|");
    for (what, folder, notify, per_account, every, mode) in cases {
        let bed = TestBed::start_with(DovecotOptions { notify, ..DovecotOptions::default() }).await;
        let mut config = Config::default();
        config.pool.max_per_account = per_account;
        config.watch.junk_poll_interval = every;
        let (engine, emails, _dir) = engine_with_accounts(&bed, config, Arc::new(Codes::default()), 1).await;
        let email = &emails[0];
        bed.dovecot.create_folder(email, "Junk", None);
        let mut sub = engine.subscribe_codes(email).await.expect("subscribe");
        sub.ready().await;
        let t = Instant::now();
        while !engine.watch_statuses().iter().any(|s| s.mode == WatchMode::Idle && s.junk == Some(mode)) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "never watched junk by {mode:?}: {:?}",
                engine.watch_statuses()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The second session comes up a moment after the mode is first seen.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut ms = Vec::with_capacity(n_codes);
        for i in 0..n_codes {
            let code = format!("{}", 800_000 + i * 41);
            bed.dovecot.append(email, folder, &code_mail(&code)).await;
            let sent = Instant::now();
            loop {
                let got = tokio::time::timeout(Duration::from_secs(30), sub.next(&[])).await;
                match got {
                    Ok(Ok(r)) if r.code.as_deref() == Some(code.as_str()) => break,
                    Ok(Ok(_)) => continue,
                    other => panic!("{what}: code {code} not announced: {other:?}"),
                }
            }
            ms.push(sent.elapsed().as_secs_f64() * 1000.0);
            // The next arrival falls anywhere in a poll's period: the pause is spread evenly
            // over 3 s, a whole number of both periods polled here.
            tokio::time::sleep(Duration::from_millis((i as u64 * 2333) % 3000)).await;
        }
        drop(sub);
        engine.shutdown().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        ms.sort_by(f64::total_cmp);
        let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
        println!(
            "| {what} | p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms | {} |",
            q(0.5),
            q(0.9),
            q(1.0),
            bed.dovecot.max_sessions_seen(email)
        );
    }
}
