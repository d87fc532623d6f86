//! An Outlook account that IMAP refuses, read through the Graph stand-in by the CLI's usual
//! commands; the channel shows in `accounts list` and can be set with `accounts channel`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use mailwatch_testbed::{GraphServer, NOT_CONNECTED};

use crate::{Cli, mail};

const USER: &str = "gina@outlook.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usual_commands_read_an_account_imap_refuses_through_graph() {
    let mut cli = Cli::start().await;
    let graph = GraphServer::start(&cli.bed.dovecot, &cli.bed.oauth).await;
    cli.add_oauth_with(USER, &["--graph-url", &graph.base_url()]);
    cli.bed.dovecot.append(USER, "INBOX", &mail("Your code", "Your verification code is 246810.")).await;
    cli.bed.set_imap_not_connected(USER, true);

    let r = cli.run(&["fetch", USER, "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()[0]["code"], "246810", "read through Graph: {r:?}");
    assert!(graph.requests_for(USER) > 0, "Graph was asked");

    let r = cli.run(&["accounts", "list", "--json"]);
    let a = &r.json()[0];
    assert_eq!((a["channel"].as_str(), a["channelInUse"].as_str()), (Some("auto"), Some("graph")), "{r:?}");
    assert!(a["statusDetail"].as_str().unwrap_or("").contains(NOT_CONNECTED), "the status says why: {r:?}");
    let r = cli.run(&["accounts", "list"]);
    assert!(r.stdout.contains("auto:graph"), "the table shows the channel in use: {r:?}");

    // wait-code, in another process, gets a code appended while it waits.
    let before = graph.delta_requests();
    let child = cli
        .command(&["wait-code", USER, "--timeout", "30", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while graph.delta_requests() < before + 2 && t.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cli.bed.dovecot.append(USER, "INBOX", &mail("New code", "Your verification code is 135790.")).await;
    let appended = Instant::now();
    let r = cli.finish(tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap());
    eprintln!("APPEND to code over Graph in the CLI at the default cadence: {:?}", appended.elapsed());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["code"], "135790", "{r:?}");

    let r = cli.run(&["accounts", "channel", USER, "imap", "--json"]);
    assert_eq!((r.code, r.json()["channel"].as_str()), (0, Some("imap")), "{r:?}");
    let r = cli.run(&["fetch", USER, "--no-cache"]);
    assert_ne!(r.code, 0, "IMAP alone refuses it: {r:?}");
    assert!(r.stderr.contains(NOT_CONNECTED), "in the server's words: {r:?}");
    let r = cli.run(&["accounts", "channel", USER, "sideways"]);
    assert_eq!(r.code, 2, "an unknown channel is a usage error: {r:?}");
    assert!(r.stderr.contains("auto, imap or graph"), "{r:?}");
}
