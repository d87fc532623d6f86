//! The README's performance table: `mailwatch-cli bench` in every mode against the test bed,
//! through a proxy that adds 0 and 20 ms of round trip, printed as Markdown.
//!
//! Run it with `tests/bench/run.sh`, which builds the release binaries and starts a private
//! keyring session. Arguments: the `mailwatch-cli` binary to measure.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use mailwatch_testbed::{DEFAULT_CLIENT_ID, FaultProxy, TestBed};
use serde_json::Value;

/// Modes and how many measured iterations each gets.
const MODES: [(&str, &str); 4] = [("reuse-client", "100"), ("new-client", "40"), ("empty-poll", "200"), ("idle", "12")];

/// Dovecot holds IDLE notifications for this long (hard-coded in Dovecot).
const DOVECOT_IDLE_DELAY_MS: f64 = 500.0;

fn run(cli: &str, data: &std::path::Path, ca: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(cli)
        .arg("--data-dir")
        .arg(data)
        .arg("--extra-ca")
        .arg(ca)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cli}: {e}"));
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("the CLI finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: GitHub <noreply@github.com>\r\nTo: bench@outlook.com\r\nSubject: Your code {i}\r\nMessage-ID: <table-{i}@github.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYour verification code is 73{i:04}.\r\n"
    )
    .into_bytes()
}

struct Row {
    rtt: u64,
    mode: String,
    median: f64,
    p95: f64,
    avg: f64,
    qps: f64,
    success: u64,
    iterations: u64,
    logins: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cli = std::env::args().nth(1).expect("usage: bench-table PATH/TO/mailwatch-cli");
    mailwatch_testbed::keyring::require_secret_service();
    let bed = TestBed::start().await;
    let proxy = FaultProxy::start(bed.dovecot.imaps_addr()).await;
    let data = tempfile::tempdir().expect("a temp data dir");
    let ca = bed.dovecot.ca_pem_path().to_path_buf();
    let email = "bench@outlook.com";
    let token = bed.oauth.issue_refresh_token(email, DEFAULT_CLIENT_ID);
    let port = proxy.port().to_string();
    let url = bed.oauth.token_url();
    let add = [
        "accounts",
        "add",
        email,
        "--provider",
        "outlook",
        "--client-id",
        DEFAULT_CLIENT_ID,
        "--imap-host",
        "127.0.0.1",
        "--imap-port",
        &port,
        "--token-url",
        &url,
        "--refresh-token-stdin",
    ];
    let (code, out, err) = run(&cli, data.path(), &ca, &add, &token);
    assert_eq!(code, 0, "cannot add the account:\n{out}\n{err}");
    for i in 0..3 {
        bed.dovecot.append(email, "INBOX", &message(i)).await;
    }
    let db = data.path().join("bench.db");
    let db = db.to_str().expect("a UTF-8 temp path");

    let mut rows = Vec::new();
    for rtt in [0u64, 20] {
        let half = Duration::from_millis(rtt / 2);
        proxy.set_latency(half, half);
        for (mode, iterations) in MODES {
            let args = [
                "bench",
                "--email",
                email,
                "--mode",
                mode,
                "--iterations",
                iterations,
                "--warmup",
                "2",
                "--top",
                "1",
                "--database-path",
                db,
                "--json",
            ];
            let (code, out, err) = run(&cli, data.path(), &ca, &args, "");
            if code != 0 {
                eprintln!("bench {mode} at {rtt} ms failed (exit {code}):\n{out}\n{err}");
                continue;
            }
            let v: Value =
                serde_json::from_str(&out).unwrap_or_else(|e| panic!("bench printed no JSON ({e}):\n{out}\n{err}"));
            let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            let errors = v["errors"].as_array().map(Vec::len).unwrap_or(0);
            if errors > 0 {
                eprintln!("bench {mode} at {rtt} ms: {}", v["errors"]);
            }
            rows.push(Row {
                rtt,
                mode: mode.to_string(),
                median: f("median_ms"),
                p95: f("p95_ms"),
                avg: f("avg_ms"),
                qps: f("qps"),
                success: v["success"].as_u64().unwrap_or(0),
                iterations: v["iterations"].as_u64().unwrap_or(0),
                logins: v["stats"]["total_created"].as_u64().unwrap_or(0),
            });
            eprintln!("done: {mode} at {rtt} ms round trip");
        }
    }

    println!("| round trip | mode | median | p95 | avg | per second | ok | logins |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} ms | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} | {}/{} | {} |",
            r.rtt, r.mode, r.median, r.p95, r.avg, r.qps, r.success, r.iterations, r.logins
        );
    }
    let at = |rtt: u64, mode: &str| rows.iter().find(|r| r.rtt == rtt && r.mode == mode).map(|r| r.median);
    println!();
    if let Some(p) = at(20, "empty-poll") {
        println!("- Empty poll at 20 ms round trip: median {p:.1} ms = {:.2} round trips.", p / 20.0);
    }
    if let (Some(reuse), Some(new)) = (at(20, "reuse-client"), at(20, "new-client")) {
        println!("- reuse-client / new-client at 20 ms round trip, top=1: {:.2}.", reuse / new);
    }
    for rtt in [0, 20] {
        if let Some(idle) = at(rtt, "idle") {
            println!(
                "- idle at {rtt} ms round trip: median {idle:.0} ms from the APPEND's OK to the code event, {:.0} ms beyond Dovecot's {DOVECOT_IDLE_DELAY_MS:.0} ms notification delay.",
                idle - DOVECOT_IDLE_DELAY_MS
            );
        }
    }
}
