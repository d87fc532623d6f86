//! The local API's benchmark: prints the README's figures as Markdown. Run it through
//! `tests/bench/run.sh api`, which builds it in release and runs it in a private D-Bus session
//! with a keyring, with the release `mailwatch-cli` as its argument (the memory figure is
//! the RSS of a real `serve` process).
//!
//! - event latency: the engine's sink to 1, 100 and 1,000 WebSocket clients (in this
//!   process, so the clients share the 2 cores with the server);
//! - memory per idle WebSocket: `serve`'s RSS with 0 and 1,000 connections;
//! - cached GET of an account's newest code with keep-alive, 8 connections;
//! - APPEND to the code in an HTTP wait's answer, beside the engine's own wait (what
//!   `wait-code` does), at 0 and 20 ms of added round trip.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mailwatch_api::keys::{self, KeyRequest, Scope};
use mailwatch_api::{Api, Hub};
use mailwatch_engine::Engine;
use mailwatch_engine::account::{AccountSpec, Provider, Tls};
use mailwatch_engine::config::Config;
use mailwatch_engine::engine::{EngineOptions, NewSecret};
use mailwatch_engine::events::Event;
use mailwatch_engine::secrets::{KeyringSecrets, Secret};
use mailwatch_testbed::{FaultProxy, TestBed};
use tokio_tungstenite::tungstenite::Message;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn since_epoch() -> Duration {
    EPOCH.get_or_init(Instant::now).elapsed()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Bench {
    bed: TestBed,
    engine: Arc<Engine>,
    hub: Arc<Hub>,
    port: u16,
    key: String,
    _dir: tempfile::TempDir,
}

async fn start() -> Bench {
    mailwatch_testbed::keyring::require_secret_service();
    let bed = TestBed::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.api.rate_limit = 0.0;
    config.api.max_streams = 5000;
    config.cache.poll_interval = Duration::from_millis(200);
    let hub = Hub::new();
    let options = EngineOptions {
        data_dir: Some(dir.path().to_path_buf()),
        extra_ca: Some(bed.dovecot.ca_pem_path().to_path_buf()),
        config: Some(config),
        secrets: Some(Arc::new(KeyringSecrets::default())),
        ..Default::default()
    };
    let engine = Arc::new(Engine::open(options, hub.sink()).await.unwrap());
    let key =
        keys::create(&engine, &KeyRequest { name: "bench".into(), scopes: Scope::ALL.to_vec(), accounts: vec![] })
            .await
            .unwrap()
            .key;
    let api = Api::new(engine.clone(), hub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(api.serve(listener, std::future::pending()));
    Bench { bed, engine, hub, port, key, _dir: dir }
}

async fn add_account(b: &Bench, email: &str, port: u16) {
    b.bed.dovecot.add_user(email, "pw-bench");
    let spec = AccountSpec {
        email: email.into(),
        provider: Some(Provider::Imap),
        imap_host: Some("127.0.0.1".into()),
        imap_port: Some(port),
        tls: Some(Tls::Implicit),
        ..Default::default()
    };
    b.engine.add_account(&spec, NewSecret::Password(Secret::new("pw-bench"))).await.unwrap();
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How the benchmark's clients read: tungstenite zero-fills its whole read buffer before
/// every read (128 KiB by default), which at 1,000 clients was a fifth of all the CPU time in
/// the benchmark, spent by the clients rather than the server; a 4 KiB buffer holds any event.
fn client_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4 * 1024)
}

async fn connect_ready(port: u16, key: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://127.0.0.1:{port}/api/v1/stream?access_token={key}"),
        Some(client_config()),
        true,
    )
    .await
    .unwrap();
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Text(t) = m
            && t.as_str().contains("\"ready\"")
        {
            break;
        }
    }
    ws
}

/// The clients' own runtime (two threads named `bench-client`), so the CPU time they take can
/// be told from the server's (`tokio-rt-worker`); both share the same two cores.
fn client_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-client")
            .enable_all()
            .build()
            .unwrap()
    })
}

/// CPU time (user and system, ms) this process's threads have used, by thread name.
fn cpu_by_thread() -> std::collections::HashMap<String, f64> {
    let tick_ms = 1000.0 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut by_name = std::collections::HashMap::new();
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
        *by_name.entry(name).or_insert(0.0) += ticks * tick_ms;
    }
    by_name
}

/// What one run of [`event_latency`] measured.
struct Latency {
    p50: f64,
    p99: f64,
    samples: usize,
    /// CPU ms per event of the server's threads (fan-out, one write per client; every thread
    /// of the process but the clients') and of the clients' threads (one read each).
    server_cpu: f64,
    client_cpu: f64,
}

/// p50 and p99 of sink-to-client latency, in ms, with `clients` connected and `events` sent,
/// and the CPU time each event cost the server and the clients.
async fn event_latency(b: &Bench, clients: usize, events: usize) -> Latency {
    let mut sockets = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (port, key) = (b.port, b.key.clone());
        sockets.push(client_runtime().spawn(async move { connect_ready(port, &key).await }).await.unwrap());
    }
    let before = cpu_by_thread();
    let mut readers = Vec::new();
    for mut ws in sockets {
        readers.push(client_runtime().spawn(async move {
            let mut got = Vec::with_capacity(events);
            while got.len() < events {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        let now = since_epoch();
                        // The send time is the code; a string search keeps the clients, which
                        // share the cores with the server, cheap.
                        let sent = t
                            .as_str()
                            .split_once("\"code\":\"")
                            .and_then(|(_, rest)| rest.split_once('"'))
                            .and_then(|(code, _)| code.parse::<u64>().ok());
                        if let Some(sent) = sent {
                            got.push((now.as_nanos() as u64 - sent) as f64 / 1e6);
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                }
            }
            got
        }));
    }
    let sink = b.hub.sink();
    for _ in 0..events {
        let sent = since_epoch().as_nanos() as u64;
        sink.emit(Event::CodeFound {
            email: "bench@example.com".into(),
            code: Some(sent.to_string()),
            link: None,
            service: Some("Example".into()),
            from: Some("no-reply@service.example".into()),
            subject: Some("Your verification code".into()),
            received: Some(1_800_000_000),
            folder: "inbox".into(),
        });
        tokio::time::sleep(Duration::from_millis(if clients >= 1000 { 60 } else { 20 })).await;
    }
    let mut all = Vec::new();
    for r in readers {
        all.extend(r.await.unwrap());
    }
    let after = cpu_by_thread();
    // The server: the runtime's workers (`tokio-rt-worker`) and the main thread, which emits.
    let used = |server: bool| {
        let is_client = |name: &String| name.starts_with("bench-client");
        let sum = |m: &std::collections::HashMap<String, f64>| {
            m.iter().filter(|(n, _)| is_client(n) != server).map(|(_, v)| v).sum::<f64>()
        };
        (sum(&after) - sum(&before)) / events as f64
    };
    all.sort_by(|a, b| a.total_cmp(b));
    Latency {
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        samples: all.len(),
        server_cpu: used(true),
        client_cpu: used(false),
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `mailwatch-cli serve` on a free loopback port over `data`, once it printed its ready line.
fn serve(cli: &str, data: &str) -> (Serving, u16) {
    let child = Command::new(cli)
        .args(["--data-dir", data, "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Serving(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    (child, port)
}

/// `serve`'s RSS with no connection and with `n` idle WebSockets, in KiB.
async fn idle_memory(cli: &str, n: usize) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    // No rate limit for this run: a thousand upgrades in a second are the point.
    let mut config = Config::default();
    config.api.rate_limit = 0.0;
    config.api.max_streams = 2000;
    mailwatch_engine::store::Store::open(&dir.path().join("mailwatch.db")).unwrap().set_config(&config).unwrap();
    let made = Command::new(cli).args(["--data-dir", &data, "api-key", "create", "--json"]).output().unwrap();
    let made: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    let key = made["key"].as_str().unwrap().to_string();
    let (child, port) = serve(cli, &data);
    // One connection first, so what every process pays once (buffers, the first task) is in
    // the baseline.
    let first = connect_ready(port, &key).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(child.0.id());
    let mut sockets = Vec::with_capacity(n);
    for _ in 0..n {
        sockets.push(connect_ready(port, &key).await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(child.0.id());
    drop(sockets);
    drop(first);
    (before, after)
}

/// `serve`'s RSS with `n` idle keep-alive HTTP/1.1 connections, each after one health check:
/// what a connection costs before any WebSocket.
async fn idle_memory_http(cli: &str, n: usize) -> (u64, u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let (child, port) = serve(cli, &data);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(child.0.id());
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        c.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = c.read(&mut buf).await.unwrap();
        conns.push(c);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(child.0.id());
    drop(conns);
    (before, after)
}

/// The `serve` process, stopped with SIGTERM however the benchmark ends.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// Requests per second for the cached newest code, `conns` keep-alive connections, `secs`.
async fn cached_gets(b: &Bench, conns: usize, secs: u64) -> (f64, u64) {
    let url = format!("http://127.0.0.1:{}/api/v1/accounts/bench@example.com/code", b.port);
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (url, key) = (url.clone(), b.key.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(1).build().unwrap();
            let (mut ok, mut failed) = (0u64, 0u64);
            while Instant::now() < until {
                match http.get(&url).bearer_auth(&key).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok += 1;
                    }
                    _ => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        let (o, f) = t.await.unwrap();
        ok += o;
        failed += f;
    }
    (ok as f64 / secs as f64, failed)
}

fn code_mail(n: usize) -> Vec<u8> {
    format!(
        "From: Example <no-reply@service.example>\r\nSubject: Your code\r\nMessage-ID: <b{n}@service.example>\r\n\r\nYour verification code is {:06}.\r\n",
        100_000 + n
    )
    .into_bytes()
}

/// Median ms from APPEND to the code, through an HTTP wait and through the engine's wait.
async fn append_to_code(b: &Bench, email: &str, rounds: usize) -> (f64, f64) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://127.0.0.1:{}/api/v1/accounts/{email}/code?wait=30", b.port);
    // Keeps the account's watch in IDLE with its baseline taken, as a running app would.
    let held = b.engine.subscribe_codes(email).await.unwrap();
    held.ready().await;
    let (mut via_http, mut via_engine) = (Vec::new(), Vec::new());
    let settle = Duration::from_millis(100);
    for i in 0..rounds {
        let waiting = b.hub.counters().snapshot().waits_open;
        let (h, u, k) = (http.clone(), url.clone(), b.key.clone());
        let answer = tokio::spawn(async move {
            let r = h.get(u).bearer_auth(k).send().await.unwrap().json::<serde_json::Value>().await.unwrap();
            (Instant::now(), r)
        });
        while b.hub.counters().snapshot().waits_open <= waiting {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(settle).await;
        let t0 = Instant::now();
        b.bed.dovecot.append(email, "INBOX", &code_mail(2 * i)).await;
        let (t1, v) = answer.await.unwrap();
        assert!(v["code"].is_string(), "the HTTP wait got a code: {v}");
        via_http.push(t1.duration_since(t0).as_secs_f64() * 1e3);

        // What `wait-code` does, in this process: the engine's own wait.
        let (engine, e) = (b.engine.clone(), email.to_string());
        let answer = tokio::spawn(async move {
            let options = engine.wait_options();
            let found = engine.wait_code(&e, &options).await;
            (Instant::now(), found.is_ok())
        });
        tokio::time::sleep(settle).await;
        let t0 = Instant::now();
        b.bed.dovecot.append(email, "INBOX", &code_mail(2 * i + 1)).await;
        let (t1, ok) = answer.await.unwrap();
        assert!(ok, "the engine's wait got a code");
        via_engine.push(t1.duration_since(t0).as_secs_f64() * 1e3);
    }
    drop(held);
    via_http.sort_by(|a, b| a.total_cmp(b));
    via_engine.sort_by(|a, b| a.total_cmp(b));
    (percentile(&via_http, 0.5), percentile(&via_engine, 0.5))
}

/// The event-latency table at 1, 100 and 1,000 clients.
async fn latency_table(b: &Bench) {
    println!(
        "| connected WebSocket clients | events | samples | p50 | p99 | server CPU per event | clients' CPU per event |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (clients, events) in [(1, 200), (100, 50), (1000, 20)] {
        let l = event_latency(b, clients, events).await;
        println!(
            "| {clients} | {events} | {} | {:.2} ms | {:.2} ms | {:.1} ms | {:.1} ms |",
            l.samples, l.p50, l.p99, l.server_cpu, l.client_cpu
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cli =
        std::env::args().nth(1).expect("usage: bench-api PATH_TO_RELEASE_MAILWATCH_CLI [latency|memory|memory-http]");
    EPOCH.get_or_init(Instant::now);
    if std::env::args().nth(2).as_deref() == Some("memory-http") {
        let (before, after) = idle_memory_http(&cli, 1000).await;
        println!(
            "`serve` RSS: {before} KiB with no connection, {after} KiB with 1,000 idle keep-alive HTTP connections"
        );
        return;
    }
    if std::env::args().nth(2).as_deref() == Some("memory") {
        let (before, after) = idle_memory(&cli, 1000).await;
        println!("`serve` RSS: {before} KiB with 1 connection, {after} KiB with 1,001");
        return;
    }
    let b = start().await;
    if std::env::args().nth(2).as_deref() == Some("latency") {
        // Only the event-latency table, e.g. under `perf record`.
        latency_table(&b).await;
        return;
    }
    add_account(&b, "bench@example.com", b.bed.dovecot.imaps_port()).await;
    let proxy = FaultProxy::start(b.bed.dovecot.imaps_addr()).await;
    proxy.set_latency(Duration::from_millis(10), Duration::from_millis(10));
    add_account(&b, "slow@example.com", proxy.port()).await;

    latency_table(&b).await;

    let (before, after) = idle_memory(&cli, 1000).await;
    println!();
    println!(
        "`serve` RSS: {before} KiB with 1 connection, {after} KiB with 1,001: {:.1} KiB per idle WebSocket",
        (after.saturating_sub(before)) as f64 / 1000.0
    );

    // A code in the cache first, then the cached GET.
    b.bed.dovecot.append("bench@example.com", "INBOX", &code_mail(999)).await;
    let _ = b.engine.fetch("bench@example.com", &mailwatch_engine::imap::FolderSpec::Inbox, 1, false).await;
    let (rate, failed) = cached_gets(&b, 8, 5).await;
    println!();
    println!("cached GET of the newest code, 8 keep-alive connections, 5 s: {rate:.0} requests/s ({failed} failed)");

    println!();
    println!("| round trip | APPEND → code, HTTP wait (median) | APPEND → code, engine wait (median) | HTTP adds |");
    println!("|---|---|---|---|");
    for (rtt, email) in [(0, "bench@example.com"), (20, "slow@example.com")] {
        let (http, engine) = append_to_code(&b, email, 10).await;
        println!("| {rtt} ms | {http:.1} ms | {engine:.1} ms | {:.1} ms |", http - engine);
    }
    b.engine.shutdown().await;
}
