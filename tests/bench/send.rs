//! The README's sending figures: `mailwatch-cli bench --mode send-reuse|send-new` through a
//! proxy that adds 0 and 20 ms of round trip in front of Postfix's implicit-TLS submission port.
//!
//! Run it with `tests/bench/run.sh send`. Arguments: the `mailwatch-cli` binary to measure.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use mailwatch_testbed::{DEFAULT_CLIENT_ID, FaultProxy, Postfix, PostfixOptions, TestBed};
use serde_json::Value;

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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cli = std::env::args().nth(1).expect("usage: bench-send PATH/TO/mailwatch-cli");
    mailwatch_testbed::keyring::require_secret_service();
    let bed = TestBed::start().await;
    let postfix = Postfix::start(&bed.dovecot, PostfixOptions::default()).await;
    let proxy = FaultProxy::start(postfix.submissions_addr()).await;
    let data = tempfile::tempdir().expect("a temp data dir");
    let ca = bed.dovecot.ca_pem_path().to_path_buf();
    let email = "sender@outlook.com";
    bed.dovecot.add_user("receiver@example.com", "pw");
    let token = bed.oauth.issue_refresh_token(email, DEFAULT_CLIENT_ID);
    let (imap, smtp, url) = (bed.dovecot.imaps_port().to_string(), proxy.port().to_string(), bed.oauth.token_url());
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
        &imap,
        "--token-url",
        &url,
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &smtp,
        "--smtp-tls",
        "implicit",
        "--refresh-token-stdin",
    ];
    let (code, out, err) = run(&cli, data.path(), &ca, &add, &token);
    assert_eq!(code, 0, "cannot add the account:\n{out}\n{err}");

    println!("| round trip | mode | median per message | p95 | messages per second | logins |");
    println!("|---|---|---|---|---|---|");
    let mut medians = Vec::new();
    for rtt in [0u64, 20] {
        let half = Duration::from_millis(rtt / 2);
        proxy.set_latency(half, half);
        for (mode, iterations) in [("send-reuse", "100"), ("send-new", "30")] {
            let args = [
                "bench",
                "--email",
                email,
                "--to",
                "receiver@example.com",
                "--mode",
                mode,
                "--iterations",
                iterations,
                "--warmup",
                "2",
                "--json",
            ];
            let (code, out, err) = run(&cli, data.path(), &ca, &args, "");
            if code != 0 {
                eprintln!("bench {mode} at {rtt} ms failed (exit {code}):\n{out}\n{err}\n{}", postfix.diagnostics());
                continue;
            }
            let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("no JSON ({e}):\n{out}\n{err}"));
            let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            println!(
                "| {rtt} ms | {mode} | {:.1} ms | {:.1} ms | {:.0} | {} |",
                f("median_ms"),
                f("p95_ms"),
                f("qps"),
                v["stats"]["smtp_connections_created"]
            );
            medians.push((rtt, mode, f("median_ms")));
        }
    }
    let at = |rtt: u64, mode: &str| medians.iter().find(|(r, m, _)| *r == rtt && *m == mode).map(|(_, _, v)| *v);
    println!();
    if let (Some(reuse), Some(new)) = (at(20, "send-reuse"), at(20, "send-new")) {
        println!(
            "- At 20 ms round trip a reused connection sends {:.1}x faster per message than a new one.",
            new / reuse
        );
        if let Some(base) = at(0, "send-reuse") {
            println!(
                "- A reused connection's message at 20 ms: {reuse:.1} ms = {:.2} round trips beyond its {base:.1} ms at 0 ms.",
                (reuse - base) / 20.0
            );
        }
    }
}
