//! `send`, `send-batch` and the send benchmark, as scripts call them, through a real Postfix.

use std::time::Duration;

use mailwatch_testbed::{Postfix, PostfixOptions};

use super::Cli;

/// Adds an OAuth2 account that sends through Postfix's STARTTLS submission port.
fn add_sender(cli: &mut Cli, email: &str, postfix: &Postfix) -> String {
    let token = cli.bed.oauth.issue_refresh_token(email, mailwatch_testbed::DEFAULT_CLIENT_ID);
    cli.secrets.push(token.clone());
    let (imap, smtp, url) =
        (cli.bed.dovecot.imaps_port().to_string(), postfix.submission_port().to_string(), cli.bed.oauth.token_url());
    let r = cli.run_with_stdin(
        &[
            "accounts",
            "add",
            email,
            "--provider",
            "outlook",
            "--client-id",
            mailwatch_testbed::DEFAULT_CLIENT_ID,
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
            "starttls",
            "--refresh-token-stdin",
            "--json",
        ],
        &token,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["smtp"]["port"].as_u64(), Some(u64::from(postfix.submission_port())), "{r:?}");
    token
}

async fn deliveries(cli: &Cli, user: &str, n: usize) -> usize {
    for _ in 0..200 {
        if cli.bed.dovecot.deliveries_for(user) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cli.bed.dovecot.deliveries_for(user)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_reads_the_body_from_stdin_and_prints_the_message_id() {
    let mut cli = Cli::start().await;
    let postfix = Postfix::start(&cli.bed.dovecot, PostfixOptions::default()).await;
    add_sender(&mut cli, "sid@outlook.com", &postfix);
    cli.bed.dovecot.add_user("tom@example.com", "pw");
    let r = cli.run_with_stdin(
        &[
            "send",
            "--from",
            "sid@outlook.com",
            "--to",
            "tom@example.com",
            "--subject",
            "Your code",
            "--text",
            "-",
            "--json",
        ],
        "Your verification code is 734102.\n",
    );
    assert_eq!(r.code, 0, "{r:?}\n{}", postfix.diagnostics());
    let v = r.json();
    assert_eq!(v["sent"], true, "{v}");
    assert!(v["messageId"].as_str().is_some_and(|id| id.starts_with('<') && id.ends_with("@outlook.com>")), "{v}");
    assert_eq!(deliveries(&cli, "tom@example.com", 1).await, 1, "{}", cli.bed.dovecot.diagnostics());

    let stats = cli.run(&["stats", "--json"]).json();
    for key in ["smtp_connections_created", "smtp_connections_reused", "smtp_messages_sent"] {
        assert!(stats.get(key).is_some(), "stats --json has {key}: {stats}");
    }
    assert_eq!(stats["smtp_messages_sent"], 1, "{stats}");

    // A bad recipient is refused before any connection, with exit code 2.
    let r = cli.run_with_stdin(&["send", "--from", "sid@outlook.com", "--to", "not an address", "--text", "-"], "x");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("is not an email address"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_batch_reports_each_failed_line_and_resume_sends_nothing_twice() {
    let mut cli = Cli::start().await;
    let options = PostfixOptions { rejected_recipients: vec!["nobody@example.com".into()], ..Default::default() };
    let postfix = Postfix::start(&cli.bed.dovecot, options).await;
    add_sender(&mut cli, "una@outlook.com", &postfix);
    cli.bed.dovecot.add_user("val@example.com", "pw");
    let file = cli.data.path().join("batch.csv");
    std::fs::write(
        &file,
        "from,to,subject,text,code\n\
         una@outlook.com,val@example.com,Code {{code}},Your code is {{code}},111111\n\
         una@outlook.com,nobody@example.com,Code,Hi,222222\n\
         una@outlook.com,val@example.com,Code {{code}},Your code is {{code}},333333\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let dry = cli.run(&["send-batch", path, "--dry-run", "--json"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert_eq!((dry.json()["pending"].as_u64(), dry.json()["sent"].as_u64()), (Some(3), Some(0)), "{dry:?}");
    assert_eq!(postfix.connections(), 0, "a dry run connects nowhere");

    let r = cli.run(&["send-batch", path, "--resume"]);
    assert_eq!(r.code, 2, "nothing to resume: {r:?}");
    assert!(r.stderr.contains("no earlier run of this file"), "{r:?}");
    assert_eq!(postfix.connections(), 0, "and nothing was sent");

    let r = cli.run(&["send-batch", path, "--json"]);
    assert_eq!(r.code, 1, "a line failed, so the run says so: {r:?}");
    let v = r.json();
    assert_eq!((v["sent"].as_u64(), v["failed"].as_u64()), (Some(2), Some(1)), "{v}");
    assert_eq!(v["failures"][0]["line"], 3, "{v}");
    assert!(v["failures"][0]["reason"].as_str().unwrap().contains("Recipient address rejected"), "{v}");
    assert_eq!(deliveries(&cli, "val@example.com", 2).await, 2);

    let r = cli.run(&["send-batch", path, "--resume"]);
    assert!(r.stdout.contains("2 already sent by an earlier run"), "{r:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cli.bed.dovecot.deliveries_for("val@example.com"), 2, "nothing went twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_benchmark_reuses_one_login_or_logs_in_per_message() {
    let mut cli = Cli::start().await;
    let postfix = Postfix::start(&cli.bed.dovecot, PostfixOptions::default()).await;
    add_sender(&mut cli, "wil@outlook.com", &postfix);
    for (mode, logins) in [("send-reuse", 1), ("send-new", 12)] {
        let r = cli.run(&[
            "bench",
            "--email",
            "wil@outlook.com",
            "--mode",
            mode,
            "--iterations",
            "10",
            "--warmup",
            "2",
            "--json",
        ]);
        assert_eq!(r.code, 0, "{r:?}");
        let v = r.json();
        assert_eq!(v["success"], 10, "{v}");
        assert_eq!(v["stats"]["smtp_connections_created"], logins, "{mode}: {v}");
        println!("bench {mode}: median {} ms, p95 {} ms, {} messages/s", v["median_ms"], v["p95_ms"], v["qps"]);
    }
}
