//! Groups, tags and proxies as a user runs them: an import with `#group` lines and proxy
//! fields, `accounts list --group/--tag --json`, `tokens refresh --group`, `proxy set/test`,
//! `accounts group`, and the proxy password kept out of SQLite, output and plain exports.

use mailwatch_engine::store::Store;
use mailwatch_testbed::{DEFAULT_CLIENT_ID, IpEcho, ProxyServer};

use crate::Cli;

const SOCKS_PASSWORD: &str = "cli-S0cks-pw-4471";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_tags_and_proxies_from_import_to_proxy_test() {
    let mut cli = Cli::start().await;
    let socks = ProxyServer::socks5(Some(("mw", SOCKS_PASSWORD))).await;
    let http = ProxyServer::http(None).await;
    let echo = IpEcho::start().await;
    cli.secrets.push(SOCKS_PASSWORD.to_string());
    let (imaps, oauth) = (cli.bed.dovecot.imaps_port(), cli.bed.oauth.port());

    // Two accounts behind the SOCKS5 proxy in group "shop-1", one outside any group.
    let mut text = String::from("#group shop-1\n");
    for email in ["gia@outlook.com", "hal@outlook.com", "ivy@outlook.com"] {
        let token = cli.bed.oauth.issue_refresh_token(email, DEFAULT_CLIENT_ID);
        cli.secrets.push(token.clone());
        if email == "ivy@outlook.com" {
            text.push_str("#group\n");
            text.push_str(&format!("{email}----{DEFAULT_CLIENT_ID}----{token}\n"));
        } else {
            text.push_str(&format!("{email}----{DEFAULT_CLIENT_ID}----{token}----{}\n", socks.url()));
        }
    }
    let file = cli.data.path().join("accounts.txt");
    std::fs::write(&file, text).unwrap();
    let (port, url) = (imaps.to_string(), cli.bed.oauth.token_url());
    let bed = ["--imap-host", "127.0.0.1", "--imap-port", &port, "--token-url", &url];
    let mut args = vec!["import", file.to_str().unwrap(), "--tag", "batch-9", "--json"];
    args.extend(bed);
    let r = cli.run(&args);
    assert_eq!((r.code, r.json()["added"].as_u64()), (0, Some(3)), "{r:?}");

    let listed = cli.run(&["accounts", "list", "--json", "--group", "shop-1", "--tag", "batch-9"]);
    let rows = listed.json();
    let rows = rows.as_array().expect("an array");
    assert_eq!(rows.len(), 2, "the group filter keeps gia and hal: {listed:?}");
    assert_eq!(rows[0]["group"], "shop-1");
    assert_eq!(rows[0]["tags"], serde_json::json!(["batch-9"]));
    assert_eq!(rows[0]["proxy"], format!("socks5h://mw@127.0.0.1:{}", socks.port()), "no password: {listed:?}");
    let text = cli.run(&["accounts", "list"]);
    assert!(text.stdout.contains("group shop-1") && text.stdout.contains("tags batch-9"), "{text:?}");

    // A bulk refresh of the group goes through the group's accounts' proxy.
    let r = cli.run(&["tokens", "refresh", "--group", "shop-1", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(socks.connections_to(oauth), 2, "both token requests went through SOCKS5:\n{socks}");
    assert_eq!(cli.bed.oauth.refresh_count("ivy@outlook.com"), 0, "ivy is not in the group");

    // A group proxy for a second group; ivy joins it and fetches through tinyproxy.
    let r = cli.run(&["proxy", "set", "--group", "shop-2", &http.url()]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = cli.run(&["accounts", "group", "shop-2", "ivy@outlook.com"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = cli.run(&["fetch", "ivy@outlook.com", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(http.connections_to(imaps), 1, "ivy's IMAP went through the group's HTTP proxy:\n{http}");
    assert_eq!(http.connections_to(oauth), 1, "and so did its token request:\n{http}");
    let watch = cli.run(&["watch", "--group", "shop-2", "--for", "1"]);
    assert_eq!(watch.code, 0, "{watch:?}");
    assert!(watch.stderr.contains("watching 1 account(s)"), "only the group's one account is watched: {watch:?}");
    let none = cli.run(&["watch", "--tag", "no-such-tag", "--for", "1"]);
    assert_eq!(none.code, 2, "a filter that matches nothing is refused: {none:?}");
    let groups = cli.run(&["groups", "list", "--json"]).json();
    assert_eq!(groups[1]["name"], "shop-2");
    assert_eq!(groups[1]["proxy"], http.url());

    // proxy test, with the echo page on loopback.
    {
        let store = Store::open(&cli.data.path().join("mailwatch.db")).unwrap();
        let mut config = store.config().unwrap();
        config.proxy.echo_url = echo.url();
        store.set_config(&config).unwrap();
    }
    let r = cli.run(&["proxy", "test", "--account", "gia@outlook.com", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["exitIp"], "127.0.0.1", "{r:?}");
    assert!(v["connectMs"].as_f64().is_some_and(|ms| ms > 0.0), "{r:?}");
    let r = cli.run(&["proxy", "test", "--group", "shop-2"]);
    assert!(r.stdout.contains("exit IP 127.0.0.1") && r.stdout.contains(" ms"), "{r:?}");

    // The proxy stopped: the sentence names it, the exit code says "unreachable".
    let mut socks = socks;
    socks.stop();
    let r = cli.run(&["proxy", "test", "--account", "hal@outlook.com"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains(&format!("the proxy 127.0.0.1:{} cannot be reached", socks.port())), "{r:?}");

    // A plain export names the proxy without its password; SQLite never holds it.
    let r = cli.run(&["export", "--format", "csv"]);
    assert!(r.stdout.contains(&format!("socks5h://mw@127.0.0.1:{}", socks.port())), "{r:?}");
    let mut cache = std::fs::read(cli.data.path().join("mailwatch.db")).unwrap();
    cache.extend(std::fs::read(cli.data.path().join("mailwatch.db-wal")).unwrap_or_default());
    let cache = String::from_utf8_lossy(&cache);
    assert!(cache.contains("socks5h://mw@"), "the scan sees the stored URL, so it proves something");
    assert!(!cache.contains(SOCKS_PASSWORD), "the proxy password is in the SQLite file");
}
