//! The fault matrix's kill -9 cells, which need a process to kill: an import and a token
//! rotation cut off by SIGKILL leave nothing lost, and running the command again completes it.

use std::process::Stdio;
use std::time::Duration;

use mailwatch_engine::secrets::{KeyringSecrets, SecretStore};

use super::Cli;

/// Starts the CLI with `args`, kills it with SIGKILL after `after`, and says whether it was
/// still running then (a run that finished first proves nothing).
async fn kill_after(cli: &Cli, args: &[&str], after: Duration) -> bool {
    let mut child = cli.command(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    tokio::time::sleep(after).await;
    let running = child.try_wait().unwrap().is_none();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_midway_leaves_each_account_whole_or_absent_and_a_rerun_completes_it() {
    let mut cli = Cli::start().await;
    let port = cli.bed.dovecot.imaps_port();
    // About a second of work in a debug build, so a kill lands in the middle.
    let n = 20_000;
    let lines: String =
        (0..n).map(|i| format!("kill{i:05}@example.com----pw-kill-{i:05}----127.0.0.1----{port}\n")).collect();
    cli.secrets.push("pw-kill-00042".into());
    let file = cli.data.path().join("accounts.txt");
    std::fs::write(&file, &lines).unwrap();
    let path = file.to_str().unwrap();
    let mut cut = false;
    for after in [300, 150, 500, 80, 700] {
        if kill_after(&cli, &["import", path], Duration::from_millis(after)).await {
            cut = true;
            break;
        }
    }
    assert!(cut, "the import finished before every kill, so nothing was cut");
    let listed = cli.run(&["accounts", "list", "--json"]).json();
    let listed: Vec<String> =
        listed.as_array().unwrap().iter().map(|a| a["email"].as_str().unwrap().to_string()).collect();
    let keyring = KeyringSecrets::default();
    let missing: Vec<&String> = listed.iter().filter(|e| keyring.get(e).ok().flatten().is_none()).collect();
    println!("kill -9 during import: {} of {n} accounts stored when it was cut", listed.len());
    assert!(
        missing.is_empty(),
        "every stored account has its secret ({} without): {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    let r = cli.run(&["import", path, "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let listed = cli.run(&["accounts", "list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), n, "the rerun stored every account");
    for (i, a) in listed.as_array().unwrap().iter().enumerate().step_by(997) {
        let email = a["email"].as_str().unwrap();
        assert_eq!(email, format!("kill{i:05}@example.com"), "in the file's order");
        let secret = keyring.get(email).unwrap().expect("a secret for every account");
        assert_eq!(secret.expose(), format!("pw-kill-{i:05}"), "{email} has its own secret");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_killed_during_the_exchange_keeps_the_account_and_says_what_happened() {
    let mut cli = Cli::start().await;
    let original = cli.add_oauth("kit@outlook.com");
    // The token server answers after 1.5 s; the kill lands while the exchange is on the way.
    // The server still carries the exchange out, and, like a provider that revokes a spent
    // refresh token at once, refuses the old one afterwards: the new token went to a process
    // that no longer exists. No client can keep it; what Mailwatch must do is keep the
    // account and its last token, and say so in words on the next sign-in.
    cli.bed.oauth.set_latency(Duration::from_millis(1500));
    let cut = kill_after(&cli, &["tokens", "refresh", "kit@outlook.com"], Duration::from_millis(700)).await;
    assert!(cut, "the refresh finished before the kill");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    cli.bed.oauth.set_latency(Duration::ZERO);
    let stored = KeyringSecrets::default().get("kit@outlook.com").unwrap().expect("the account's token is kept");
    assert!(stored.expose() == original, "the keyring still holds the last token it was given");
    let rotated = cli.bed.oauth.current_refresh_token("kit@outlook.com").is_some_and(|t| t != original);
    let r = cli.run(&["tokens", "refresh", "kit@outlook.com", "--json"]);
    if rotated {
        println!(
            "kill -9 during rotation: lost (known: the provider finished the exchange for a killed process and revokes spent tokens at once); the account is kept and marked"
        );
        let v = r.json();
        assert_eq!((v["ok"].as_u64(), v["failed"].as_u64()), (Some(0), Some(1)), "the spent token is refused: {r:?}");
        assert_eq!(v["accounts"][0]["code"], "needs_reauth", "with the provider's words: {r:?}");
        let list = cli.run(&["accounts", "list", "--json"]).json();
        assert_eq!(list[0]["status"], "needs-reauth", "the account is kept and says what to do: {list}");
    } else {
        println!("kill -9 during rotation: recovered (the exchange was not carried out)");
        assert_eq!(r.code, 0, "the account still signs in after the kill: {r:?}");
    }
}
