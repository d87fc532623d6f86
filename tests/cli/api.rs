//! `serve` and `api-key` as a script runs them: a real process, one ready line, keys that
//! work over HTTP and stop working when revoked, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::time::Duration;

use super::Cli;

/// A plain HTTP/1.1 GET; returns the status and the body.
pub(super) fn http_get(addr: &str, path: &str, key: Option<&str>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("the server accepts");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Starts `serve` and returns it with the address from its one ready line.
pub(super) fn serve(cli: &Cli, listen: &str, extra: &[&str]) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut args = vec!["serve", "--listen", listen];
    args.extend_from_slice(extra);
    let mut child =
        cli.command(&args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("the first line says where it listens: {line:?}"))
        .to_string();
    (child, addr, out)
}

/// Sends SIGTERM and returns the exit code, the rest of stdout and stderr.
pub(super) fn terminate(mut child: Child, mut out: BufReader<std::process::ChildStdout>) -> (i32, String, String) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, rest, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_keys_from_api_key_and_stops_cleanly_on_sigterm() {
    let mut cli = Cli::start().await;
    let port = cli.bed.dovecot.imaps_port();
    assert_eq!(cli.add_password("hal@example.com", "pw-hal", port, "implicit").code, 0);
    let made =
        cli.run(&["api-key", "create", "--name", "ci", "--scope", "codes:read,mail:read,accounts:read", "--json"]);
    assert_eq!(made.code, 0, "{made:?}");
    let made = made.json();
    let (id, key) = (made["id"].as_str().unwrap().to_string(), made["key"].as_str().unwrap().to_string());
    cli.secrets.push(key.clone());
    let list = cli.run(&["api-key", "list", "--json"]);
    assert_eq!(list.json()[0]["id"], id.as_str(), "{list:?}");
    assert_eq!(list.json()[0]["scopes"], serde_json::json!(["accounts:read", "codes:read", "mail:read"]));
    let bad = cli.run(&["api-key", "create", "--scope", "codes:write"]);
    assert_eq!(bad.code, 2, "an unknown scope is refused: {bad:?}");

    let (child, addr, out) = serve(&cli, "127.0.0.1:0", &[]);
    let (status, body) = http_get(&addr, "/api/v1/accounts", Some(&key));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hal@example.com"), "{body}");
    let (status, body) = http_get(&addr, "/api/v1/health", None);
    assert_eq!(status, 200, "{body}");
    let (status, _) = http_get(&addr, "/api/v1/accounts/hal@example.com/code", Some(&key));
    assert_eq!(status, 200);

    let revoked = cli.run(&["api-key", "revoke", &id]);
    assert_eq!(revoked.code, 0, "{revoked:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = http_get(&addr, "/api/v1/accounts", Some(&key));
        if status == 401 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the running server still takes a revoked key: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let (code, rest, err) = terminate(child, out);
    assert_eq!(code, 0, "SIGTERM is a clean stop:\n{err}");
    assert_eq!(rest, "", "the ready line is the only line on stdout");
    assert!(!err.contains(&key), "the key is never printed by serve");
    let stored = std::fs::read(cli.data.path().join("mailwatch.db")).unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(&key), "only the key's hash is in the cache file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_non_loopback_address_unless_allowed_and_then_warns() {
    let cli = Cli::start().await;
    let refused = cli.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("--allow-remote") && refused.stderr.contains("0.0.0.0:0"), "{refused:?}");
    assert_eq!(refused.stdout, "", "no ready line when refused");

    let (child, addr, out) = serve(&cli, "0.0.0.0:0", &["--allow-remote"]);
    assert!(addr.starts_with("0.0.0.0:"), "{addr}");
    let (code, _, err) = terminate(child, out);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning") && err.contains("other machines"), "--allow-remote warns: {err}");
}
