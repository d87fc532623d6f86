//! `mailwatch-cli` as a user runs it: a real process, real Dovecot, the real keyring and a
//! real SQLite file. Every run is checked for leaked secrets.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use mailwatch_testbed::{DEFAULT_CLIENT_ID, TestBed};
use serde_json::Value;

mod api;
mod graph;
mod import;
mod kill;
mod proxies;
mod route;
mod send;
mod watch;

struct Cli {
    bed: TestBed,
    data: tempfile::TempDir,
    secrets: Vec<String>,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl Cli {
    async fn start() -> Cli {
        mailwatch_testbed::keyring::require_secret_service();
        Cli { bed: TestBed::start().await, data: tempfile::tempdir().unwrap(), secrets: Vec::new() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mailwatch-cli"));
        c.arg("--data-dir").arg(self.data.path()).arg("--extra-ca").arg(self.bed.dovecot.ca_pem_path()).args(args);
        c.env_remove("MAILWATCH_DATA_DIR").env_remove("MAILWATCH_EXTRA_CA").env_remove("MAILWATCH_DIRECT");
        c
    }

    fn finish(&self, out: Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        };
        for s in &self.secrets {
            assert!(
                !run.stdout.contains(s.as_str()) && !run.stderr.contains(s.as_str()),
                "a secret was printed:\n{run:?}"
            );
        }
        assert_ne!(run.code, 101, "the CLI panicked:\n{run:?}");
        run
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the CLI starts");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        self.finish(child.wait_with_output().unwrap())
    }

    fn add_password(&mut self, email: &str, password: &str, port: u16, tls: &str) -> Run {
        self.bed.dovecot.add_user(email, password);
        self.secrets.push(password.to_string());
        let port = port.to_string();
        self.run_with_stdin(
            &[
                "accounts",
                "add",
                email,
                "--provider",
                "imap",
                "--imap-host",
                "127.0.0.1",
                "--imap-port",
                &port,
                "--tls",
                tls,
                "--password-stdin",
            ],
            &format!("{password}\n"),
        )
    }

    fn add_oauth(&mut self, email: &str) -> String {
        self.add_oauth_with(email, &[])
    }

    /// Adds an Outlook account with a fresh refresh token, and `extra` arguments to `accounts add`.
    fn add_oauth_with(&mut self, email: &str, extra: &[&str]) -> String {
        let token = self.bed.oauth.issue_refresh_token(email, DEFAULT_CLIENT_ID);
        self.secrets.push(token.clone());
        let port = self.bed.dovecot.imaps_port().to_string();
        let url = self.bed.oauth.token_url();
        let mut args = vec![
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
        args.extend_from_slice(extra);
        let r = self.run_with_stdin(&args, &token);
        assert_eq!(r.code, 0, "{r:?}");
        token
    }
}

pub(crate) fn mail(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: GitHub <noreply@github.com>\r\nTo: u@example.com\r\nSubject: {subject}\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_added_listed_and_removed() {
    let mut cli = Cli::start().await;
    let port = cli.bed.dovecot.imaps_port();
    let r = cli.add_password("Vera@Example.com", "pw-vera", port, "implicit");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("added vera@example.com"), "{r:?}");
    cli.add_oauth("walt@hotmail.com");

    let list = cli.run(&["accounts", "list", "--json"]);
    let v = list.json();
    let rows = v.as_array().expect("an array");
    assert_eq!(rows.len(), 2, "{list:?}");
    assert_eq!(
        (rows[0]["email"].as_str(), rows[0]["provider"].as_str(), rows[0]["status"].as_str()),
        (Some("vera@example.com"), Some("imap"), Some("ok"))
    );
    assert_eq!(rows[1]["provider"], "outlook");

    let redacted = cli.run(&["accounts", "list", "--json", "--redact"]);
    assert!(!redacted.stdout.contains("vera@"), "--redact masks addresses: {redacted:?}");

    let r = cli.run(&["accounts", "remove", "vera@example.com"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(cli.run(&["accounts", "list", "--json"]).json().as_array().unwrap().len(), 1);
    let r = cli.run(&["accounts", "remove", "vera@example.com"]);
    assert_eq!(r.code, 3, "removing an unknown account: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_stats_report_in_json() {
    let mut cli = Cli::start().await;
    cli.add_oauth("xena@outlook.com");
    cli.bed
        .dovecot
        .append("xena@outlook.com", "INBOX", &mail("Your GitHub launch code", "Your code is 73910286."))
        .await;
    let r = cli.run(&["fetch", "xena@outlook.com", "--top", "5", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v[0]["code"], "73910286", "{r:?}");
    assert_eq!(v[0]["subject"], "Your GitHub launch code");

    let cached = cli.run(&["fetch", "xena@outlook.com", "--json"]);
    assert_eq!(cached.json()[0]["code"], "73910286", "served from the cache");
    let text = cli.run(&["fetch", "xena@outlook.com", "--no-cache"]);
    assert!(text.stdout.contains("code 73910286"), "{text:?}");

    let stats = cli.run(&["stats", "--json"]).json();
    for key in [
        "total_created",
        "total_reused",
        "total_closed",
        "health_check_failures",
        "connection_waits",
        "wait_timeouts",
        "client_creates",
        "client_reuses",
    ] {
        assert!(stats.get(key).is_some_and(Value::is_u64), "stats has {key}: {stats}");
    }
    assert_eq!(stats["total_created"], 2, "two runs that asked the server, one login each: {stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logging_never_writes_a_password_or_a_token() {
    let mut cli = Cli::start().await;
    let port = cli.bed.dovecot.imaps_port();
    let password = "pw-zora-7c1f";
    let r = cli.add_password("zora@example.com", password, port, "implicit");
    assert_eq!(r.code, 0, "{r:?}");
    cli.add_oauth("zeno@outlook.com");
    for email in ["zora@example.com", "zeno@outlook.com"] {
        cli.bed.dovecot.append(email, "INBOX", &mail("Your GitHub launch code", "Your code is 73910286.")).await;
        let out = cli
            .command(&["fetch", email, "--json"])
            .env("MAILWATCH_LOG", "trace")
            .stdin(Stdio::null())
            .output()
            .expect("the CLI starts");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Checked here, before `finish`, so that a failure shows the lines with the secret hidden.
        let leaks: Vec<String> = stderr
            .lines()
            .filter(|l| cli.secrets.iter().any(|s| l.contains(s.as_str())))
            .map(|l| cli.secrets.iter().fold(l.to_string(), |l, s| l.replace(s.as_str(), "<secret>")))
            .collect();
        assert!(leaks.is_empty(), "MAILWATCH_LOG=trace wrote a secret on these lines:\n{}", leaks.join("\n"));
        assert!(
            stderr.contains("DEBUG") || stderr.contains("TRACE"),
            "the filter let debug lines through (else this test proves nothing); stderr's lines began:\n{}",
            stderr
                .lines()
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let r = cli.finish(out);
        assert_eq!(r.code, 0, "the fetch itself works with tracing on, exit {}", r.code);
        assert_eq!(r.json()[0]["code"], "73910286", "stdout: {}", r.stdout);
    }
}

/// `accounts add --password-stdin` on a real terminal (a pseudo-terminal made by `script`):
/// the password typed after the prompt must not be echoed back.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_typed_at_the_terminal_is_not_echoed() {
    use std::io::Read;
    let mut cli = Cli::start().await;
    let (email, password) = ("tia@example.com", "pw-tia-typed-4e2");
    cli.bed.dovecot.add_user(email, password);
    cli.secrets.push(password.to_string());
    let port = cli.bed.dovecot.imaps_port().to_string();
    let args = [
        "accounts",
        "add",
        email,
        "--provider",
        "imap",
        "--imap-host",
        "127.0.0.1",
        "--imap-port",
        &port,
        "--password-stdin",
    ];
    let inner = cli.command(&args);
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"));
    let line =
        std::iter::once(quote(inner.get_program())).chain(inner.get_args().map(quote)).collect::<Vec<_>>().join(" ");
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("MAILWATCH_DATA_DIR")
        .env_remove("MAILWATCH_EXTRA_CA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs the CLI on a pseudo-terminal");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    // Type only once the prompt shows: the CLI turns echo off before it prints the prompt.
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("password: ") {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!("no prompt on the terminal; it showed:\n{}", String::from_utf8_lossy(&seen)),
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    drop(stdin);
    reader.join().unwrap();
    seen.extend(rx.try_iter().flatten());
    let screen = String::from_utf8_lossy(&seen).replace(password, "<password>");
    assert!(!screen.contains("<password>"), "the password was echoed on the terminal:\n{screen}");
    assert!(
        status.success(),
        "the account was added from the typed password ({status}); the terminal showed:\n{screen}"
    );
    let list = cli.run(&["accounts", "list", "--json"]);
    assert_eq!(list.json()[0]["email"], email, "{list:?}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_at_the_password_prompt_gives_the_terminal_its_echo_back() {
    use std::io::Read;
    let cli = Cli::start().await;
    let inner = cli.command(&["accounts", "add", "uma@example.com", "--imap-host", "127.0.0.1", "--password-stdin"]);
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"));
    let command =
        std::iter::once(quote(inner.get_program())).chain(inner.get_args().map(quote)).collect::<Vec<_>>().join(" ");
    // The shell survives Ctrl-C (a trap, not an ignore, which the CLI would inherit) and then
    // prints the terminal's settings as the CLI left them.
    let line = format!("trap : INT; {command}; echo; echo SETTINGS; stty -a");
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env_remove("MAILWATCH_DATA_DIR")
        .env_remove("MAILWATCH_EXTRA_CA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs the CLI on a pseudo-terminal");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("password: ") {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!("no prompt on the terminal; it showed:\n{}", String::from_utf8_lossy(&seen)),
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\x03").unwrap();
    while !String::from_utf8_lossy(&seen).contains("speed") {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!("no settings after Ctrl-C; the terminal showed:\n{}", String::from_utf8_lossy(&seen)),
        }
    }
    drop(stdin);
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    reader.join().unwrap();
    seen.extend(rx.try_iter().flatten());
    let screen = String::from_utf8_lossy(&seen).into_owned();
    let settings = screen.split("SETTINGS").nth(1).unwrap_or_default();
    let flags: Vec<&str> = settings.split(|c: char| c.is_whitespace() || c == ';').collect();
    assert!(
        flags.contains(&"echo") && !flags.contains(&"-echo"),
        "after Ctrl-C at the prompt the terminal echoes again; it showed:\n{screen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_code_prints_the_code_of_a_message_that_arrives_during_the_wait() {
    let mut cli = Cli::start().await;
    cli.add_oauth("yuri@outlook.com");
    cli.bed.dovecot.append("yuri@outlook.com", "INBOX", &mail("Old code", "Your verification code is 111222.")).await;
    cli.bed.dovecot.append("yuri@outlook.com", "Junk", &mail("Old code", "Your verification code is 111333.")).await;
    let child = cli
        .command(&["wait-code", "yuri@outlook.com", "--timeout", "30", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cli.bed
        .dovecot
        .append("yuri@outlook.com", "INBOX", &mail("[GitHub] Please verify your device", "Verification code: 058213"))
        .await;
    let r = cli.finish(tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap());
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["code"], "058213", "only the new message counts: {r:?}");
    for key in ["code", "link", "service", "from", "subject", "received"] {
        assert!(v.get(key).is_some(), "wait-code --json has {key}: {v}");
    }
    assert_eq!(v["subject"], "[GitHub] Please verify your device");

    let r = cli.run(&["wait-code", "yuri@outlook.com", "--timeout", "1"]);
    assert_eq!(r.code, 7, "a timeout exits non-zero: {r:?}");
    assert!(r.stderr.contains("no verification code arrived for yuri@outlook.com within 1 s"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_gets_its_own_sentence_and_exit_code_and_harms_nothing() {
    let mut cli = Cli::start().await;
    let imaps = cli.bed.dovecot.imaps_port();
    let plain = cli.bed.dovecot.imap_port();
    let ok = cli.add_password("zoe@example.com", "right", imaps, "implicit");
    assert_eq!(ok.code, 0, "{ok:?}");
    cli.secrets.push("wrong".into());
    cli.run_with_stdin(
        &[
            "accounts",
            "add",
            "amy@example.com",
            "--imap-host",
            "127.0.0.1",
            "--imap-port",
            &imaps.to_string(),
            "--password-stdin",
        ],
        "wrong",
    );
    cli.bed.dovecot.add_user("amy@example.com", "the-real-one");
    let token = cli.add_oauth("ben@outlook.com");
    cli.bed.oauth.revoke(&token);
    cli.add_password("cat@example.com", "pw", plain, "implicit");

    let cases: [(&[&str], i32, &str); 6] = [
        (&["fetch", "amy@example.com"], 4, "cannot sign in to 127.0.0.1"),
        (&["fetch", "ben@outlook.com"], 4, "invalid_grant"),
        (&["fetch", "cat@example.com"], 5, "cannot set up TLS"),
        (&["fetch", "zoe@example.com", "--folder", "Nope"], 2, "no such folder"),
        (&["fetch", "nobody@example.com"], 3, "cannot find account nobody@example.com"),
        (
            &["accounts", "add", "not-an-address", "--password-stdin"],
            2,
            "cannot use \"not-an-address\" as an email address",
        ),
    ];
    for (args, code, words) in cases {
        let r = cli.run(args);
        assert_eq!(r.code, code, "{args:?}: {r:?}");
        assert!(
            r.stderr.lines().count() == 1 && r.stderr.contains(words),
            "{args:?} says {words:?} in one line: {r:?}"
        );
    }
    let json = cli.run(&["fetch", "ben@outlook.com", "--json"]).json();
    assert_eq!(json["error"]["code"], "needs_reauth");

    cli.bed.dovecot.stop().await;
    let r = cli.run(&["fetch", "zoe@example.com", "--no-cache"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("cannot connect to 127.0.0.1") && r.stderr.contains("refused"), "{r:?}");

    let list = cli.run(&["accounts", "list", "--json"]).json();
    assert_eq!(list.as_array().unwrap().len(), 4, "no failure removed or damaged an account: {list}");
    let ben = list.as_array().unwrap().iter().find(|a| a["email"] == "ben@outlook.com").unwrap();
    assert_eq!(ben["status"], "needs-reauth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keyring_the_cli_says_what_to_install() {
    let cli = Cli::start().await;
    let mut c = cli.command(&["accounts", "add", "dan@example.com", "--imap-host", "127.0.0.1", "--password-stdin"]);
    c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"pw-dan").unwrap();
    let r = cli.finish(child.wait_with_output().unwrap());
    assert_eq!(r.code, 6, "{r:?}");
    assert!(r.stderr.contains("cannot reach the system keyring") && r.stderr.contains("gnome-keyring"), "{r:?}");
    assert!(!r.stderr.contains("pw-dan"));
    let list = cli.run(&["accounts", "list", "--json"]).json();
    assert_eq!(list.as_array().unwrap().len(), 0, "no account without its secret was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_reports_reuse_and_new_client_figures() {
    let mut cli = Cli::start().await;
    cli.add_oauth("eve@outlook.com");
    for i in 0..3 {
        cli.bed.dovecot.append("eve@outlook.com", "INBOX", &mail(&format!("m{i}"), "Your code is 123456")).await;
    }
    let db = cli.data.path().join("bench.db");
    let db = db.to_str().unwrap();
    let mut medians = Vec::new();
    for mode in ["reuse-client", "new-client"] {
        let r = cli.run(&[
            "bench",
            "--email",
            "eve@outlook.com",
            "--mode",
            mode,
            "--iterations",
            "20",
            "--warmup",
            "2",
            "--top",
            "1",
            "--database-path",
            db,
            "--json",
            "--redact",
        ]);
        assert_eq!(r.code, 0, "{r:?}");
        let v = r.json();
        for key in ["mode", "iterations", "success", "avg_ms", "median_ms", "p95_ms", "qps", "stats"] {
            assert!(v.get(key).is_some(), "bench --json has {key}: {v}");
        }
        assert_eq!(v["success"], 20, "{r:?}");
        assert_eq!(v["email"], "e***e@outlook.com", "--redact masks the address");
        let created = v["stats"]["total_created"].as_u64().unwrap();
        let expected = if mode == "reuse-client" { 1 } else { 22 };
        assert_eq!(created, expected, "{mode}: one login per client: {v}");
        println!("bench {mode}: median {} ms, p95 {} ms, {} fetches/s", v["median_ms"], v["p95_ms"], v["qps"]);
        medians.push(v["median_ms"].as_f64().unwrap());
    }
    let r = cli.run(&["bench", "--email", "eve@outlook.com", "--iterations", "50", "--concurrency", "10", "--json"]);
    let v = r.json();
    assert_eq!(v["success"], 50, "{r:?}");
    assert_eq!(v["stats"]["total_created"], 1, "ten callers at a limit of 1 share one session: {v}");
    assert!(v["stats"]["connection_waits"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(cli.bed.dovecot.max_sessions_seen("eve@outlook.com"), 1);
}

#[test]
fn extract_reads_a_message_from_stdin_or_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.eml");
    std::fs::write(&file, mail("Your Steam Guard code", "Here is the code you need: 4GJ7K")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailwatch-cli"))
        .args(["extract", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["code", "link", "service", "confidence"] {
        assert!(v.get(key).is_some(), "extract prints {key}: {v}");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailwatch-cli"))
        .args(["extract", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&mail("Verify", "Your verification code is 884422")).unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "884422", "{v}");
}
