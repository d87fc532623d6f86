//! `import`, `export` and `tokens refresh` as a user runs them, including an import killed
//! with SIGKILL half way.

use std::process::Stdio;
use std::time::Duration;

use mailwatch_engine::secrets::{KeyringSecrets, SecretStore};
use mailwatch_engine::store::Store;
use mailwatch_testbed::DEFAULT_CLIENT_ID;

use crate::Cli;

/// Issues tokens for `n` users and writes them as dash lines; returns the file's path.
fn oauth_file(cli: &mut Cli, prefix: &str, n: usize, extra: &str) -> std::path::PathBuf {
    let mut text = String::from("# from the supplier\n");
    for i in 0..n {
        let email = format!("{prefix}{i}@outlook.com");
        let token = cli.bed.oauth.issue_refresh_token(&email, DEFAULT_CLIENT_ID);
        cli.secrets.push(token.clone());
        text.push_str(&format!("{email}----{DEFAULT_CLIENT_ID}----{token}\n"));
    }
    text.push_str(extra);
    let path = cli.data.path().join(format!("{prefix}.txt"));
    std::fs::write(&path, text).unwrap();
    path
}

fn bed_args(cli: &Cli) -> Vec<String> {
    vec![
        "--imap-host".into(),
        "127.0.0.1".into(),
        "--imap-port".into(),
        cli.bed.dovecot.imaps_port().to_string(),
        "--token-url".into(),
        cli.bed.oauth.token_url(),
    ]
}

fn args<'a>(head: &[&'a str], tail: &'a [String]) -> Vec<&'a str> {
    head.iter().copied().chain(tail.iter().map(String::as_str)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_prints_the_report_and_dry_run_writes_nothing() {
    let mut cli = Cli::start().await;
    let file = oauth_file(&mut cli, "cli-imp", 3, "\nbad-line\ncli-imp0@outlook.com----x\n");
    let bed = bed_args(&cli);
    let path = file.to_str().unwrap();

    let dry = cli.run(&args(&["import", path, "--dry-run", "--json"], &bed));
    assert_eq!(dry.code, 0, "{dry:?}");
    let v = dry.json();
    assert_eq!(
        (v["added"].as_u64(), v["updated"].as_u64(), v["skipped"].as_u64()),
        (Some(3), Some(0), Some(0)),
        "{dry:?}"
    );
    assert_eq!(
        v["errors"],
        serde_json::json!([
            {"line": 6, "reason": "the first field is not an email address", "code": "not_an_email"},
            {"line": 7, "reason": "duplicate of line 2", "code": "duplicate", "args": {"first": "2"}}
        ]),
        "{dry:?}"
    );
    assert_eq!(v["verified"], serde_json::json!({"ok": 0, "failed": 0}));
    assert_eq!(
        cli.run(&["accounts", "list", "--json"]).json().as_array().unwrap().len(),
        0,
        "a dry run writes nothing"
    );

    let real = cli.run(&args(&["import", path, "--verify", "--concurrency", "2", "--json"], &bed));
    assert_eq!(real.code, 0, "{real:?}");
    let v = real.json();
    assert_eq!(
        (v["added"].as_u64(), v["verified"]["ok"].as_u64(), v["verified"]["failed"].as_u64()),
        (Some(3), Some(3), Some(0)),
        "{real:?}"
    );
    let again = cli.run(&args(&["import", path, "--merge", "skip"], &bed));
    assert!(again.stdout.contains("0 added, 0 updated, 3 skipped, 2 errors"), "{again:?}");
    assert!(again.stdout.contains("line 7: duplicate of line 2"), "{again:?}");

    let refused = cli.run(&args(&["import", path, "--merge", "replace"], &bed));
    assert_eq!(refused.code, 2, "replace without --yes is refused: {refused:?}");
    assert!(refused.stderr.contains("--yes"), "{refused:?}");

    let refresh = cli.run(&["tokens", "refresh", "--all", "--json"]);
    assert_eq!(refresh.code, 0, "{refresh:?}");
    assert_eq!(refresh.json()["ok"], 3, "{refresh:?}");
    let none = cli.run(&["tokens", "refresh"]);
    assert_eq!(none.code, 2, "{none:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_prints_secrets_only_when_confirmed() {
    let mut cli = Cli::start().await;
    let file = oauth_file(&mut cli, "cli-exp", 2, "");
    let bed = bed_args(&cli);
    let r = cli.run(&args(&["import", file.to_str().unwrap()], &bed));
    assert_eq!(r.code, 0, "{r:?}");

    let plain = cli.run(&["export", "--format", "json"]);
    assert_eq!(plain.code, 0, "{plain:?}");
    let rows = plain.json();
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{plain:?}");
    assert!(rows[0].get("refresh_token").is_none(), "{plain:?}");

    let refused = cli.run(&["export", "--with-secrets"]);
    assert_eq!(refused.code, 2, "secrets need --yes when no one can be asked: {refused:?}");

    // The one run allowed to print secrets.
    let secrets = std::mem::take(&mut cli.secrets);
    let out = cli.data.path().join("out.txt");
    let r = cli.run(&["export", "--with-secrets", "--yes", "--format", "dash", "--output", out.to_str().unwrap()]);
    cli.secrets = secrets;
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    for s in &cli.secrets {
        assert!(text.contains(s.as_str()), "the export holds every token:\n{text}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600,
            "only the owner may read exported secrets"
        );
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_with_secrets_writes_a_new_private_file_and_never_follows_a_link() {
    use std::os::unix::fs::PermissionsExt;
    let mut cli = Cli::start().await;
    let file = oauth_file(&mut cli, "cli-priv", 1, "");
    let bed = bed_args(&cli);
    let r = cli.run(&args(&["import", file.to_str().unwrap()], &bed));
    assert_eq!(r.code, 0, "{r:?}");
    let secrets = std::mem::take(&mut cli.secrets);

    // A link planted at the output path must be replaced, and what it pointed at left alone.
    let victim = cli.data.path().join("victim.txt");
    std::fs::write(&victim, "someone else's file\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = cli.data.path().join("link.txt");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    // An existing world-readable file must not keep its mode.
    let loose = cli.data.path().join("loose.txt");
    std::fs::write(&loose, "old\n").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();

    for out in [&link, &loose] {
        let r = cli.run(&["export", "--with-secrets", "--yes", "--format", "dash", "--output", out.to_str().unwrap()]);
        assert_eq!(r.code, 0, "exit {} stderr {}", r.code, r.stderr.lines().next().unwrap_or(""));
        let meta = std::fs::symlink_metadata(out).unwrap();
        assert!(meta.file_type().is_file(), "{} is a regular file after the export, not a link", out.display());
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{}: only the owner may read exported secrets",
            out.display()
        );
        let text = std::fs::read_to_string(out).unwrap();
        assert!(secrets.iter().all(|s| text.contains(s.as_str())), "{} holds the exported token", out.display());
    }
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "someone else's file\n",
        "the export did not write through the link"
    );
    assert_eq!(
        std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
        0o644,
        "the link's target kept its mode"
    );
    let stray: Vec<_> = std::fs::read_dir(cli.data.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".mailwatch-export-"))
        .collect();
    assert!(stray.is_empty(), "no temp file is left behind: {stray:?}");
    cli.secrets = secrets;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_half_way_leaves_whole_accounts_and_the_rerun_completes_it() {
    let mut cli = Cli::start().await;
    let n = 300;
    let mut text = String::new();
    for i in 0..n {
        let pw = format!("kill-pw-{i}-{}", i * 7919);
        cli.secrets.push(pw.clone());
        text.push_str(&format!("kill{i}@example.org----{pw}----127.0.0.1----993\n"));
    }
    let path = cli.data.path().join("big.txt");
    std::fs::write(&path, &text).unwrap();
    // Small chunks, so the kill lands between committed chunks and inside one.
    let db = cli.data.path().join("mailwatch.db");
    {
        let store = Store::open(&db).unwrap();
        let mut config = store.config().unwrap();
        config.batch.import_chunk = 10;
        store.set_config(&config).unwrap();
    }
    let store = Store::open(&db).unwrap();

    let mut child =
        cli.command(&["import", path.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // The wait ends either way: the import stores accounts until it finishes.
    while store.account_count().unwrap() < 30 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import is still running when killed ({} rows stored)",
            store.account_count().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let keyring = KeyringSecrets::default();
    let rows = store.accounts().unwrap();
    assert!(rows.len() < n, "the kill came before the end ({} rows)", rows.len());
    for a in &rows {
        let i: usize = a.email.trim_start_matches("kill").split('@').next().unwrap().parse().unwrap();
        let secret = keyring.get(&a.email).unwrap();
        assert_eq!(
            secret.as_ref().map(|s| s.expose()),
            Some(format!("kill-pw-{i}-{}", i * 7919).as_str()),
            "{} has a row, so it has its secret",
            a.email
        );
    }
    println!("killed after {} of {n} accounts were stored", rows.len());

    let rerun = cli.run(&["import", path.to_str().unwrap(), "--json"]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    let v = rerun.json();
    assert_eq!(
        (v["added"].as_u64(), v["updated"].as_u64()),
        (Some((n - rows.len()) as u64), Some(rows.len() as u64)),
        "{rerun:?}"
    );
    let all = store.accounts().unwrap();
    assert_eq!(all.len(), n);
    for (i, a) in all.iter().enumerate() {
        assert_eq!(a.email, format!("kill{i}@example.org"), "file order is kept");
        assert_eq!(
            keyring.get(&a.email).unwrap().map(|s| s.expose().to_string()),
            Some(format!("kill-pw-{i}-{}", i * 7919))
        );
    }
    let third = cli.run(&["import", path.to_str().unwrap(), "--json"]).json();
    assert_eq!((third["added"].as_u64(), third["updated"].as_u64()), (Some(0), Some(n as u64)), "idempotent");
    assert_eq!(store.accounts().unwrap(), all, "the same state after a third run");
}
