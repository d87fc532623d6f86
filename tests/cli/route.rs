//! `fetch` and `wait-code` while `serve` runs over the same data directory: they go through
//! it (found by the discovery file, with the app's key from the keyring), so the CLI process
//! logs in nowhere, and they print and exit exactly as the in-process path does. A stale
//! discovery file is ignored, `--direct` bypasses the server, and a refused key falls back.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::api::{http_get, serve, terminate};
use super::{Cli, mail};

const USER: &str = "rae@example.com";

/// The server's API counters, read with a key of its own.
fn api_stats(addr: &str, key: &str) -> Value {
    let (status, body) = http_get(addr, "/api/v1/stats", Some(key));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["api"].clone()
}

/// The keys of a JSON object in the order they were printed.
fn printed_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("  \"").and_then(|rest| rest.split_once('"')).map(|(k, _)| k.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_wait_code_go_through_a_running_serve_and_print_what_the_direct_path_prints() {
    let mut cli = Cli::start().await;
    let port = cli.bed.dovecot.imaps_port();
    assert_eq!(cli.add_password(USER, "pw-rae", port, "implicit").code, 0);
    cli.bed.dovecot.append(USER, "INBOX", &mail("Your GitHub launch code", "Your code is 73910286.")).await;
    let made = cli.run(&["api-key", "create", "--name", "stats", "--scope", "stats:read,codes:read", "--json"]);
    let stats_key = made.json()["key"].as_str().unwrap().to_string();
    cli.secrets.push(stats_key.clone());

    let (child, addr, out) = serve(&cli, "127.0.0.1:0", &[]);
    let file = cli.data.path().join("local-api.json");
    let announced = std::fs::read_to_string(&file).expect("serve writes the discovery file before its ready line");
    assert!(announced.contains(&addr) && !announced.contains("mwk_"), "address and pid, no key: {announced}");

    let before = api_stats(&addr, &stats_key)["requests2xx"].as_u64().unwrap();
    let routed = cli.run(&["fetch", USER, "--no-cache", "--json"]);
    assert_eq!(routed.code, 0, "{routed:?}");
    assert_eq!(routed.json()[0]["code"], "73910286", "{routed:?}");
    let logins = cli.bed.dovecot.logins_for(USER);
    assert_eq!(logins, 1, "the server logged in once for the first fetch:\n{}", cli.bed.dovecot.log_tail(20));

    let again = cli.run(&["fetch", USER, "--no-cache", "--json"]);
    let text = cli.run(&["fetch", USER, "--no-cache"]);
    assert_eq!(
        cli.bed.dovecot.logins_for(USER),
        logins,
        "fetches through the server reuse its session; the CLI logs in nowhere:\n{}",
        cli.bed.dovecot.log_tail(20)
    );
    let after = api_stats(&addr, &stats_key)["requests2xx"].as_u64().unwrap();
    assert!(after >= before + 3, "the server counted the CLI's three fetches (and a stats read): {before} -> {after}");

    let direct = cli.run(&["fetch", USER, "--no-cache", "--json", "--direct"]);
    let direct_text = cli.run(&["fetch", USER, "--no-cache", "--direct"]);
    assert_eq!(cli.bed.dovecot.logins_for(USER), logins + 2, "--direct logs in from the CLI, once per run");
    assert_eq!(routed.stdout, direct.stdout, "fetch --json prints the same through the server");
    assert_eq!(again.stdout, direct.stdout);
    assert_eq!(text.stdout, direct_text.stdout, "fetch prints the same text through the server");
    assert_eq!((text.code, text.stderr.as_str()), (0, ""), "{text:?}");

    // Errors: the same sentence and exit code either way.
    let unknown = cli.run(&["fetch", "nobody@example.com", "--json"]);
    let unknown_direct = cli.run(&["fetch", "nobody@example.com", "--json", "--direct"]);
    assert_eq!(unknown.code, 3, "{unknown:?}");
    assert_eq!(
        (unknown.code, &unknown.stdout, &unknown.stderr),
        (unknown_direct.code, &unknown_direct.stdout, &unknown_direct.stderr)
    );
    let timed_out = cli.run(&["wait-code", USER, "--timeout", "1", "--json"]);
    let timed_out_direct = cli.run(&["wait-code", USER, "--timeout", "1", "--json", "--direct"]);
    assert_eq!(timed_out.code, 7, "{timed_out:?}");
    assert_eq!(
        (timed_out.code, &timed_out.stdout, &timed_out.stderr),
        (timed_out_direct.code, &timed_out_direct.stdout, &timed_out_direct.stderr),
        "a wait that sees no code says the same through the server"
    );

    // A wait through the server's one watch of the account.
    let logins = cli.bed.dovecot.logins_for(USER);
    let waiting = cli
        .command(&["wait-code", USER, "--timeout", "30", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while api_stats(&addr, &stats_key)["waitsOpen"] == 0 {
        assert!(std::time::Instant::now() < deadline, "the CLI's wait never reached the server");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cli.bed
        .dovecot
        .append(USER, "INBOX", &mail("[GitHub] Please verify your device", "Verification code: 058213"))
        .await;
    let waited = cli.finish(tokio::task::spawn_blocking(move || waiting.wait_with_output().unwrap()).await.unwrap());
    assert_eq!(waited.code, 0, "{waited:?}");
    assert_eq!(waited.json()["code"], "058213", "{waited:?}");
    let (_, last) = http_get(&addr, &format!("/api/v1/accounts/{USER}/code"), Some(&stats_key));
    assert_eq!(waited.json(), serde_json::from_str::<Value>(&last).unwrap(), "the record as the server keeps it");

    let direct = cli
        .command(&["wait-code", USER, "--timeout", "30", "--json", "--direct"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    cli.bed.dovecot.append(USER, "INBOX", &mail("[GitHub] Another device", "Verification code: 661104")).await;
    let direct = cli.finish(tokio::task::spawn_blocking(move || direct.wait_with_output().unwrap()).await.unwrap());
    assert_eq!(direct.code, 0, "{direct:?}");
    assert_eq!(direct.json()["code"], "661104", "{direct:?}");
    assert_eq!(printed_keys(&waited.stdout), printed_keys(&direct.stdout), "the same fields in the same order");
    assert!(printed_keys(&waited.stdout).contains(&"foundAt".to_string()), "{waited:?}");
    assert_eq!(
        cli.bed.dovecot.logins_for(USER),
        logins + 1,
        "the routed wait used the server's watch (its session was there); only --direct logged in:\n{}",
        cli.bed.dovecot.log_tail(20)
    );

    for run in [&routed, &again, &text, &unknown, &timed_out, &waited] {
        assert!(!run.stdout.contains("mwk_") && !run.stderr.contains("mwk_"), "no key is printed: {run:?}");
    }
    let (code, rest, err) = terminate(child, out);
    assert_eq!(code, 0, "{err}");
    assert!(!rest.contains("mwk_") && !err.contains("mwk_"), "serve prints no key:\n{rest}\n{err}");
    assert!(!file.exists(), "a clean stop removes the discovery file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_discovery_file_is_ignored_and_a_refused_key_falls_back_with_a_sentence() {
    let mut cli = Cli::start().await;
    let port = cli.bed.dovecot.imaps_port();
    assert_eq!(cli.add_password(USER, "pw-rae", port, "implicit").code, 0);
    cli.bed.dovecot.append(USER, "INBOX", &mail("Your GitHub launch code", "Your code is 73910286.")).await;
    let file = cli.data.path().join("local-api.json");

    // A server that is gone: its pid no longer runs.
    std::fs::write(&file, r#"{"address":"127.0.0.1:9","pid":2000000000}"#).unwrap();
    let r = cli.run(&["fetch", USER, "--no-cache", "--json"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "a file whose process is gone is ignored: {r:?}");
    assert_eq!(r.json()[0]["code"], "73910286");
    // A live pid (this test's) whose address answers nothing.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    std::fs::write(&file, format!(r#"{{"address":"{closed}","pid":{}}}"#, std::process::id())).unwrap();
    let r2 = cli.run(&["fetch", USER, "--no-cache", "--json"]);
    assert_eq!((r2.code, r2.stderr.as_str()), (0, ""), "an address that does not answer is ignored: {r2:?}");
    assert_eq!(r2.stdout, r.stdout);
    assert_eq!(cli.bed.dovecot.logins_for(USER), 2, "both ran in the CLI's process");
    std::fs::remove_file(&file).unwrap();

    let (child, addr, out) = serve(&cli, "127.0.0.1:0", &[]);
    let list = cli.run(&["api-key", "list", "--json"]).json();
    let app =
        list.as_array().unwrap().iter().find(|k| k["name"] == "Mailwatch app").expect("serve keeps the app's key");
    let revoked = cli.run(&["api-key", "revoke", app["id"].as_str().unwrap()]);
    assert_eq!(revoked.code, 0, "{revoked:?}");
    let fallback = cli.run(&["fetch", USER, "--no-cache", "--json"]);
    assert_eq!(fallback.code, 0, "{fallback:?}");
    assert_eq!(fallback.stdout, r.stdout, "the command ran in this process and printed the same");
    assert!(
        fallback.stderr.contains(&format!("a Mailwatch server runs at http://{addr}"))
            && fallback.stderr.contains("in this process instead")
            && fallback.stderr.lines().count() == 1,
        "one sentence says the server was there but refused: {fallback:?}"
    );
    assert!(!fallback.stderr.contains("mwk_"), "{fallback:?}");
    assert_eq!(cli.bed.dovecot.logins_for(USER), 3, "the fallback logged in from the CLI");

    let (code, _, err) = terminate(child, out);
    assert_eq!(code, 0, "{err}");
}
