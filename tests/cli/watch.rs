//! `watch` and the benchmark's `idle` and `empty-poll` modes, as a user runs them.

use std::process::Stdio;
use std::time::Duration;

use super::{Cli, mail};

async fn until_sessions(cli: &Cli, users: &[&str]) {
    for _ in 0..200 {
        if users.iter().all(|u| cli.bed.dovecot.sessions_for(u) == 1) {
            // The session is up; give the watch a moment to take its baseline and enter IDLE.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the watch never opened its sessions\n{}", cli.bed.dovecot.diagnostics());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_with_idle_prints_each_new_code_once_as_a_json_line() {
    let mut cli = Cli::start().await;
    let port = cli.bed.dovecot.imaps_port();
    for who in ["olga@example.com", "pete@example.com"] {
        let r = cli.add_password(who, &format!("pw-{who}"), port, "implicit");
        assert_eq!(r.code, 0, "{r:?}");
    }
    cli.bed.dovecot.append("olga@example.com", "INBOX", &mail("Old code", "Your verification code is 555111.")).await;
    let child = cli
        .command(&["watch", "olga@example.com", "pete@example.com", "--idle", "--json", "--count", "2", "--for", "40"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until_sessions(&cli, &["olga@example.com", "pete@example.com"]).await;
    cli.bed
        .dovecot
        .append("olga@example.com", "INBOX", &mail("[GitHub] Please verify your device", "Verification code: 246801"))
        .await;
    cli.bed.dovecot.append("pete@example.com", "Junk", &mail("Your code", "Your verification code is 390125.")).await;
    let r = cli.finish(tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap());
    assert_eq!(r.code, 0, "{r:?}");
    let mut lines: Vec<(String, String)> = r
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{r:?}"));
            (v["email"].as_str().unwrap_or("").to_string(), v["code"].as_str().unwrap_or("").to_string())
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            ("olga@example.com".to_string(), "246801".to_string()),
            ("pete@example.com".to_string(), "390125".to_string())
        ],
        "each new code once, the old one never (the junk folder counts): {r:?}"
    );
    assert_eq!(cli.bed.dovecot.max_sessions_seen("olga@example.com"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_accounts_idle_and_the_status_lines_say_so() {
    let mut cli = Cli::start().await;
    let port = cli.bed.dovecot.imaps_port();
    let users = ["rosa@example.com", "saul@example.com", "tina@example.com"];
    for who in users {
        let r = cli.add_password(who, &format!("pw-{who}"), port, "implicit");
        assert_eq!(r.code, 0, "{r:?}");
    }
    let child = cli
        .command(&["watch", "--all", "--json", "--status", "1", "--for", "12"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until_sessions(&cli, &users).await;
    cli.bed.dovecot.append("saul@example.com", "INBOX", &mail("Your code", "Your verification code is 864209.")).await;
    let r = cli.finish(tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap());
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{r:?}")))
        .collect();
    let codes: Vec<&serde_json::Value> = lines.iter().filter(|v| v.get("email").is_some()).collect();
    assert_eq!(codes.len(), 1, "one code line: {r:?}");
    assert_eq!((codes[0]["email"].as_str(), codes[0]["code"].as_str()), (Some("saul@example.com"), Some("864209")));
    let pushed = lines.iter().filter_map(|v| v.get("status")).find(|s| s["pushed"] == 3);
    let pushed = pushed.unwrap_or_else(|| panic!("a status line with all 3 accounts pushed: {r:?}"));
    assert_eq!((pushed["polled"].as_u64(), pushed["queued"].as_u64()), (Some(0), Some(0)), "{pushed}");
    for u in users {
        assert_eq!(cli.bed.dovecot.max_sessions_seen(u), 1, "one idling session for {u}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_needs_known_accounts() {
    let cli = Cli::start().await;
    let r = cli.run(&["watch", "nobody@example.com", "--for", "1"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("cannot find account nobody@example.com"), "{r:?}");
    let r = cli.run(&["watch", "--all", "--for", "1"]);
    assert_eq!(r.code, 2, "a request that cannot be carried out as given: {r:?}");
    assert!(r.stderr.contains("nothing to watch"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_measures_an_empty_poll_and_the_idle_path_with_the_same_keys() {
    let mut cli = Cli::start().await;
    cli.add_oauth("quinn@outlook.com");
    cli.bed.dovecot.append("quinn@outlook.com", "INBOX", &mail("m", "Your code is 123456")).await;
    let db = cli.data.path().join("bench.db");
    let db = db.to_str().unwrap();
    for (mode, iterations) in [("empty-poll", "30"), ("idle", "3")] {
        let r = cli.run(&[
            "bench",
            "--email",
            "quinn@outlook.com",
            "--mode",
            mode,
            "--iterations",
            iterations,
            "--warmup",
            "1",
            "--database-path",
            db,
            "--json",
        ]);
        assert_eq!(r.code, 0, "{r:?}");
        let v = r.json();
        for key in ["mode", "iterations", "success", "avg_ms", "median_ms", "p95_ms", "qps", "stats"] {
            assert!(v.get(key).is_some(), "bench --json has {key}: {v}");
        }
        assert_eq!(v["mode"], mode);
        assert_eq!(v["success"].to_string(), iterations, "every iteration succeeded: {v}");
        assert_eq!(v["stats"]["total_created"], 1, "{mode}: one session for the whole run: {v}");
        println!("bench {mode}: median {} ms, p95 {} ms", v["median_ms"], v["p95_ms"]);
    }
    assert_eq!(
        cli.bed.dovecot.max_sessions_seen("quinn@outlook.com"),
        2,
        "the idle bench's watching and appending engines, one session each"
    );
}
