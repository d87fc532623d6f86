//! Proxies against real ones on loopback: microsocks (SOCKS5) and tinyproxy (HTTP CONNECT).
//! An account with a proxy reaches Dovecot and the token server only through it, a proxy
//! that is down fails the fetch with its host named and nothing goes direct, a group's proxy
//! applies to its accounts unless they have their own, and the proxy password is in the
//! keyring only.

use mailwatch_engine::engine::ProxyTarget;
use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::net::ProxyUrl;
use mailwatch_engine::secrets::{KeyringSecrets, SecretStore};
use mailwatch_testbed::{IpEcho, ProxyServer};

use crate::support::{Harness, test_config};

const SOCKS_PASSWORD: &str = "s0cks-Pass-7f3k";
const HTTP_PASSWORD: &str = "http-Pass-9q2w";

/// Dovecot's `imap-login` lines so far: every connection that reaches it leaves at least one.
fn imap_login_lines(h: &Harness) -> usize {
    let log = std::fs::read_to_string(h.bed.dovecot.log_path()).unwrap_or_default();
    log.lines().filter(|l| l.contains("imap-login:")).count()
}

/// Every byte SQLite holds for the engine (the file and its WAL), as text.
fn cache_bytes(h: &Harness) -> String {
    let mut all = Vec::new();
    for name in ["mailwatch.db", "mailwatch.db-wal"] {
        all.extend(std::fs::read(h.dir.path().join(name)).unwrap_or_default());
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_reach_dovecot_and_the_token_server_only_through_their_proxy() {
    let h = Harness::start().await;
    let socks = ProxyServer::socks5(Some(("mw", SOCKS_PASSWORD))).await;
    let http = ProxyServer::http(Some(("mw", HTTP_PASSWORD))).await;
    let imaps = h.bed.dovecot.imaps_port();

    h.oauth_account("sam@outlook.com", None).await;
    h.oauth_account("tia@outlook.com", None).await;
    h.engine.set_account_proxy(&["sam@outlook.com".into()], Some(&socks.url())).await.unwrap();
    h.engine.set_account_proxy(&["tia@outlook.com".into()], Some(&http.url())).await.unwrap();

    for email in ["sam@outlook.com", "tia@outlook.com"] {
        h.engine
            .fetch(email, &FolderSpec::Inbox, 1, false)
            .await
            .unwrap_or_else(|e| panic!("{email}: {e}\n{socks}\n{http}"));
    }
    let oauth = h.bed.oauth.port();
    assert_eq!(socks.connections_to(oauth), 1, "sam's token request went through SOCKS5:\n{socks}");
    assert_eq!(http.connections_to(oauth), 1, "tia's token request went through the HTTP proxy:\n{http}");
    let (sam, tia) = (h.bed.dovecot.logins_for("sam@outlook.com"), h.bed.dovecot.logins_for("tia@outlook.com"));
    assert_eq!((sam, tia), (1, 1), "one login each");
    assert_eq!(socks.connections_to(imaps), sam, "every IMAP connection of sam's went through SOCKS5:\n{socks}");
    assert_eq!(http.connections_to(imaps), tia, "every IMAP connection of tia's went through CONNECT:\n{http}");
    let listed = h.engine.account("sam@outlook.com").await.unwrap();
    assert_eq!(listed.proxy, Some(format!("socks5h://mw@127.0.0.1:{}", socks.port())), "stored without its password");

    // The proxy goes down: a new session fails with the proxy named, and nothing reaches Dovecot.
    let mut socks = socks;
    socks.stop();
    h.engine.forget_client("sam@outlook.com").await;
    let before = imap_login_lines(&h);
    let err = h.engine.fetch("sam@outlook.com", &FolderSpec::Inbox, 1, false).await.unwrap_err();
    let text = err.to_string();
    let named = format!("the proxy 127.0.0.1:{} cannot be reached", socks.port());
    assert!(text.contains(&named), "the sentence names the proxy: {text}");
    assert!(!text.contains(SOCKS_PASSWORD), "never the password: {text}");
    // The token request is the first to need the proxy after the client was dropped.
    assert!(
        matches!(err.code(), "proxy_error" | "token_endpoint_unreachable"),
        "a proxy failure, not a server one: {} ({text})",
        err.code()
    );
    assert_eq!(imap_login_lines(&h), before, "nothing went direct to Dovecot:\n{}", h.bed.dovecot.log_tail(10));
    assert_eq!(h.bed.oauth.refresh_count("sam@outlook.com"), 1, "nor to the token server");

    // With a token in hand (tia's, through the HTTP proxy), the IMAP connection is what fails.
    let mut http = http;
    h.engine.fetch("tia@outlook.com", &FolderSpec::Inbox, 1, false).await.unwrap();
    http.stop();
    h.engine.set_account_proxy(&["tia@outlook.com".into()], Some(&http.url())).await.unwrap();
    let before = imap_login_lines(&h);
    let err = h.engine.fetch("tia@outlook.com", &FolderSpec::Inbox, 1, false).await.unwrap_err();
    assert!(err.to_string().contains(&format!("the proxy 127.0.0.1:{} cannot be reached", http.port())), "{err}");
    assert!(!err.to_string().contains(HTTP_PASSWORD), "{err}");
    assert_eq!(imap_login_lines(&h), before, "nothing went direct to Dovecot");

    // The passwords are in the keyring, under the proxy's entry, and nowhere in SQLite.
    let keyring = KeyringSecrets::default();
    let socks_key = ProxyUrl::parse(&socks.url()).unwrap().0.secret_key();
    assert_eq!(keyring.get(&socks_key).unwrap().map(|s| s.expose().to_string()).as_deref(), Some(SOCKS_PASSWORD));
    let cache = cache_bytes(&h);
    assert!(cache.contains("socks5h://mw@127.0.0.1"), "the scan sees the stored proxy URL, so it proves something");
    for pw in [SOCKS_PASSWORD, HTTP_PASSWORD] {
        assert!(!cache.contains(pw), "the proxy password {pw} is in the SQLite file");
    }
    let listed = serde_json::to_string(&h.engine.accounts().await.unwrap()).unwrap();
    assert!(!listed.contains(SOCKS_PASSWORD) && !listed.contains(HTTP_PASSWORD), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_proxy_applies_to_its_accounts_and_an_accounts_own_wins() {
    let h = Harness::start().await;
    let group_proxy = ProxyServer::socks5(None).await;
    let own_proxy = ProxyServer::http(None).await;
    let imaps = h.bed.dovecot.imaps_port();
    let uma = h.password_account("uma@example.org", "pw-uma", None).await;
    let vic = h.password_account("vic@example.org", "pw-vic", None).await;
    let wes = h.password_account("wes@example.org", "pw-wes", None).await;
    h.engine.set_group(&[uma.clone(), vic.clone()], Some("shop-1")).await.unwrap();
    h.engine.set_group_proxy("shop-1", Some(&group_proxy.url())).await.unwrap();
    h.engine.set_account_proxy(std::slice::from_ref(&vic), Some(&own_proxy.url())).await.unwrap();

    for e in [&uma, &vic, &wes] {
        h.engine.fetch(e, &FolderSpec::Inbox, 1, false).await.unwrap_or_else(|err| panic!("{e}: {err}"));
    }
    assert_eq!(group_proxy.connections_to(imaps), 1, "uma (group proxy) only:\n{group_proxy}");
    assert_eq!(own_proxy.connections_to(imaps), 1, "vic's own proxy won over the group's:\n{own_proxy}");
    assert_eq!(h.bed.dovecot.logins_for(&wes), 1, "wes, in no group, connects directly");

    let groups = h.engine.groups().await.unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!((groups[0].accounts, groups[0].proxy.clone()), (2, Some(group_proxy.url())));
    let filter = mailwatch_engine::account::AccountFilter { group: Some("shop-1".into()), tags: vec![] };
    let members: Vec<String> =
        h.engine.accounts_matching(&filter).await.unwrap().into_iter().map(|a| a.email).collect();
    assert_eq!(members, vec![uma.clone(), vic.clone()]);

    // Changing the group's proxy closes its accounts' sessions: the next fetch goes the new way.
    h.engine.set_group_proxy("shop-1", None).await.unwrap();
    h.engine.fetch(&uma, &FolderSpec::Inbox, 1, false).await.unwrap();
    assert_eq!(group_proxy.connections_to(imaps), 1, "uma now connects directly:\n{group_proxy}");
    assert_eq!(h.bed.dovecot.logins_for(&uma), 2, "a new session after the change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_test_reports_the_exit_ip_and_the_time_to_connect() {
    let echo = IpEcho::start().await;
    let mut cfg = test_config();
    cfg.proxy.echo_url = echo.url();
    let h = Harness::with_config(cfg).await;
    let mut socks = ProxyServer::socks5(Some(("mw", SOCKS_PASSWORD))).await;
    let report = h.engine.test_proxy(&ProxyTarget::Url(socks.url())).await.unwrap_or_else(|e| panic!("{e}\n{socks}"));
    assert_eq!(report.exit_ip.as_deref(), Some("127.0.0.1"), "{report:?}");
    assert!(report.connect_ms > 0.0, "{report:?}");
    assert_eq!(report.proxy, format!("socks5h://mw@127.0.0.1:{}", socks.port()), "no password in the report");
    assert_eq!(
        socks.connections_to(echo.port()),
        2,
        "the tunnel test and the echo request both went through it:\n{socks}"
    );
    assert_eq!(echo.hits(), 1);

    let wrong = socks.url().replace(SOCKS_PASSWORD, "wrong");
    let err = h.engine.test_proxy(&ProxyTarget::Url(wrong)).await.unwrap_err();
    assert!(err.to_string().contains("refused its user name or password"), "{err}");
    socks.stop();
    let err = h.engine.test_proxy(&ProxyTarget::Url(socks.url())).await.unwrap_err();
    assert!(err.to_string().contains(&format!("the proxy 127.0.0.1:{} cannot be reached", socks.port())), "{err}");
    assert!(!err.to_string().contains(SOCKS_PASSWORD), "{err}");
    assert_eq!(echo.hits(), 1, "nothing reached the echo page without the proxy");
}

/// The cost of a SOCKS5 proxy, printed: a new session (TCP, TLS, login, SELECT, SEARCH,
/// FETCH) and a poll on a reused session, direct and through microsocks (with and without a
/// password) and Dante, over a link with a
/// 20 ms round trip (the fault proxy's latency, 10 ms each way) in front of both, so the
/// path to Dovecot is the same and only the SOCKS hop differs. Run with
/// `cargo test -p mailwatch-engine --test engine proxies::bench -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: prints figures, asserts none"]
async fn bench_socks5_overhead_on_new_and_reused_sessions() {
    use std::time::{Duration, Instant};

    use mailwatch_testbed::FaultProxy;

    const NEW: usize = 15;
    const REUSED: usize = 40;
    let h = Harness::start().await;
    let dovecot: std::net::SocketAddr = ([127, 0, 0, 1], h.bed.dovecot.imaps_port()).into();
    let open = ProxyServer::socks5(None).await;
    let authed = ProxyServer::socks5(Some(("mw", SOCKS_PASSWORD))).await;
    let dante = ProxyServer::dante().await;
    // Every user is known to Dovecot before the first login (its passwd-file is read once a
    // second at most).
    let mut setups = Vec::new();
    for one_way in [Duration::ZERO, Duration::from_millis(10)] {
        // The link: direct to Dovecot, or to the SOCKS5 proxy (which is next to Dovecot).
        let direct_link = FaultProxy::start(dovecot).await;
        let open_link = FaultProxy::start(([127, 0, 0, 1], open.port()).into()).await;
        let authed_link = FaultProxy::start(([127, 0, 0, 1], authed.port()).into()).await;
        let dante_link = FaultProxy::start(([127, 0, 0, 1], dante.port()).into()).await;
        for l in [&direct_link, &open_link, &authed_link, &dante_link] {
            l.set_latency(one_way, one_way);
        }
        let tag = (one_way.as_millis() * 2).to_string();
        let direct =
            h.password_account(&format!("bench-direct-{tag}@example.org"), "pw", Some(direct_link.port())).await;
        let via_open = h.password_account(&format!("bench-open-{tag}@example.org"), "pw", None).await;
        let via_authed = h.password_account(&format!("bench-auth-{tag}@example.org"), "pw", None).await;
        let via_dante = h.password_account(&format!("bench-dante-{tag}@example.org"), "pw", None).await;
        let dante_url = format!("socks5h://127.0.0.1:{}", dante_link.port());
        h.engine.set_account_proxy(std::slice::from_ref(&via_dante), Some(&dante_url)).await.unwrap();
        let open_url = format!("socks5h://127.0.0.1:{}", open_link.port());
        let authed_url = format!("socks5h://mw:{SOCKS_PASSWORD}@127.0.0.1:{}", authed_link.port());
        h.engine.set_account_proxy(std::slice::from_ref(&via_open), Some(&open_url)).await.unwrap();
        h.engine.set_account_proxy(std::slice::from_ref(&via_authed), Some(&authed_url)).await.unwrap();
        setups.push((
            one_way,
            [direct, via_open, via_authed, via_dante],
            [direct_link, open_link, authed_link, dante_link],
        ));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut rows = Vec::new();
    for (one_way, emails, _links) in &setups {
        let rtt = (*one_way * 2).as_secs_f64() * 1000.0;
        for (name, email) in
            ["direct", "microsocks, no auth", "microsocks, user+pass", "dante, no auth"].into_iter().zip(emails)
        {
            h.engine.fetch(email, &FolderSpec::Inbox, 1, false).await.unwrap(); // warm: TLS ticket, folder
            let mut new = Vec::new();
            for _ in 0..NEW {
                h.engine.forget_client(email).await;
                let t = Instant::now();
                h.engine.fetch(email, &FolderSpec::Inbox, 1, false).await.unwrap();
                new.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let mut reused = Vec::new();
            for _ in 0..REUSED {
                let t = Instant::now();
                h.engine.fetch(email, &FolderSpec::Inbox, 1, false).await.unwrap();
                reused.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            rows.push((rtt, name, median(&mut new), median(&mut reused)));
        }
    }
    println!("\nSOCKS5 overhead (median ms; {NEW} new sessions, {REUSED} reused polls each)");
    println!("{:>8}  {:<24} {:>12} {:>12}", "link RTT", "path", "new session", "reused poll");
    for (rtt, name, new, reused) in &rows {
        println!("{rtt:>6.0} ms  {name:<24} {new:>12.1} {reused:>12.1}");
    }
    for chunk in rows.chunks(4) {
        let (rtt, _, new_direct, reused_direct) = chunk[0];
        for (_, name, new, reused) in &chunk[1..] {
            let extra_rt =
                if rtt > 0.0 { format!(" = {:.1} round trips", (new - new_direct) / rtt) } else { String::new() };
            println!(
                "{rtt:>6.0} ms  {name:<24} new session +{:.1} ms{extra_rt}; reused poll {:+.1} ms",
                new - new_direct,
                reused - reused_direct
            );
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_sent_only_through_the_accounts_proxy_on_both_tls_modes() {
    use mailwatch_engine::account::{AccountSpec, Provider, Tls};
    use mailwatch_engine::engine::NewSecret;
    use mailwatch_engine::secrets::Secret;
    use mailwatch_engine::smtp::compose::Draft;
    use mailwatch_testbed::{Postfix, PostfixOptions};

    let h = Harness::start().await;
    let postfix = Postfix::start(&h.bed.dovecot, PostfixOptions::default()).await;
    let socks = ProxyServer::socks5(Some(("mw", SOCKS_PASSWORD))).await;
    let http = ProxyServer::http(None).await;
    let mut senders = Vec::new();
    for (email, port, tls, proxy) in [
        ("xan@example.org", postfix.submission_port(), Tls::Starttls, socks.url()),
        ("yul@example.org", postfix.submissions_port(), Tls::Implicit, http.url()),
    ] {
        h.bed.dovecot.add_user(email, "pw");
        let spec = AccountSpec {
            email: email.into(),
            provider: Some(Provider::Imap),
            imap_host: Some("127.0.0.1".into()),
            imap_port: Some(h.bed.dovecot.imaps_port()),
            tls: Some(Tls::Implicit),
            smtp_host: Some("127.0.0.1".into()),
            smtp_port: Some(port),
            smtp_tls: Some(tls),
            proxy: Some(proxy),
            ..Default::default()
        };
        h.engine.add_account(&spec, NewSecret::Password(Secret::new("pw"))).await.expect("added");
        senders.push((email, port));
    }
    for (email, _) in &senders {
        let draft = Draft {
            from: (*email).into(),
            to: vec!["zed@example.org".into()],
            subject: "through the proxy".into(),
            text: Some("Your code is 551234.".into()),
            ..Default::default()
        };
        h.engine.send(&draft).await.unwrap_or_else(|e| panic!("{email}: {e}\n{socks}\n{http}"));
    }
    assert_eq!(socks.connections_to(postfix.submission_port()), 1, "STARTTLS submission through SOCKS5:\n{socks}");
    assert_eq!(http.connections_to(postfix.submissions_port()), 1, "implicit TLS through CONNECT:\n{http}");
    assert_eq!(postfix.connections(), 2, "Postfix saw exactly the two proxied connections:\n{postfix}");

    // The proxy down: the send fails naming it, and Postfix sees nothing new.
    let mut socks = socks;
    socks.stop();
    h.engine.forget_client("xan@example.org").await;
    let draft = Draft {
        from: "xan@example.org".into(),
        to: vec!["zed@example.org".into()],
        subject: "never sent".into(),
        text: Some("x".into()),
        ..Default::default()
    };
    let err = h.engine.send(&draft).await.unwrap_err();
    assert!(err.to_string().contains(&format!("the proxy 127.0.0.1:{} cannot be reached", socks.port())), "{err}");
    assert!(!err.to_string().contains(SOCKS_PASSWORD), "{err}");
    assert_eq!(postfix.connections(), 2, "nothing went direct to Postfix:\n{postfix}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_tickets_are_kept_per_proxy_and_server() {
    // One login process, so one ticket key: every connection could resume, were it allowed.
    let opts = mailwatch_testbed::DovecotOptions {
        extra_config: "service imap-login {\n  process_min_avail = 1\n  process_limit = 1\n}\n".into(),
        ..Default::default()
    };
    let h = Harness::with_bed(test_config(), None, mailwatch_testbed::TestBed::start_with(opts).await).await;
    let (one, two) = (ProxyServer::socks5(None).await, ProxyServer::dante().await);
    let direct = h.password_account("ada@example.org", "pw", None).await;
    let first = h.password_account("bea@example.org", "pw", None).await;
    let second = h.password_account("cy@example.org", "pw", None).await;
    h.engine.set_account_proxy(std::slice::from_ref(&first), Some(&one.url())).await.unwrap();
    h.engine.set_account_proxy(std::slice::from_ref(&second), Some(&two.url())).await.unwrap();
    let handshakes = |h: &Harness| {
        let t = h.engine.stats().tls;
        (t.tls_full_handshakes, t.tls_resumed_handshakes)
    };
    h.engine.fetch(&direct, &FolderSpec::Inbox, 1, false).await.unwrap();
    assert_eq!(handshakes(&h), (1, 0), "the server is new");
    h.engine.fetch(&first, &FolderSpec::Inbox, 1, false).await.unwrap();
    assert_eq!(handshakes(&h), (2, 0), "through a proxy the direct route's ticket is not shown");
    h.engine.forget_client(&first).await;
    h.engine.fetch(&first, &FolderSpec::Inbox, 1, false).await.unwrap();
    assert_eq!(handshakes(&h), (2, 1), "the same proxy and server resume");
    h.engine.fetch(&second, &FolderSpec::Inbox, 1, false).await.unwrap();
    assert_eq!(handshakes(&h), (3, 1), "another proxy starts with no ticket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_resolves_the_servers_name_and_wrong_credentials_are_named() {
    use mailwatch_engine::account::{AccountSpec, Provider, Tls};
    use mailwatch_engine::engine::NewSecret;
    use mailwatch_engine::secrets::Secret;

    let echo = IpEcho::start().await;
    let mut cfg = test_config();
    cfg.proxy.echo_url = echo.url();
    let h = Harness::with_config(cfg).await;
    let socks = ProxyServer::socks5(None).await;
    h.bed.dovecot.add_user("dan@example.org", "pw");
    let spec = AccountSpec {
        email: "dan@example.org".into(),
        provider: Some(Provider::Imap),
        imap_host: Some("localhost".into()),
        imap_port: Some(h.bed.dovecot.imaps_port()),
        tls: Some(Tls::Implicit),
        proxy: Some(socks.url()),
        ..Default::default()
    };
    h.engine.add_account(&spec, NewSecret::Password(Secret::new("pw"))).await.unwrap();
    h.engine.fetch("dan@example.org", &FolderSpec::Inbox, 1, false).await.unwrap_or_else(|e| panic!("{e}\n{socks}"));
    let asked = format!("connected to localhost:{}", h.bed.dovecot.imaps_port());
    assert!(socks.log().contains(&asked), "the name went to the proxy unresolved (socks5h):\n{socks}");

    let http = ProxyServer::http(Some(("mw", HTTP_PASSWORD))).await;
    let wrong = http.url().replace(HTTP_PASSWORD, "not-it");
    let err = h.engine.test_proxy(&ProxyTarget::Url(wrong)).await.unwrap_err();
    assert_eq!(err.code(), "proxy_error", "{err}");
    assert!(
        err.to_string().contains(&format!("the proxy 127.0.0.1:{} refused its user name or password", http.port())),
        "{err}"
    );
    let ok = h.engine.test_proxy(&ProxyTarget::Url(http.url())).await.unwrap_or_else(|e| panic!("{e}\n{http}"));
    assert_eq!(ok.exit_ip.as_deref(), Some("127.0.0.1"), "{ok:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_requests_go_through_the_accounts_proxy_and_never_direct() {
    let h = Harness::start().await;
    let graph = mailwatch_testbed::GraphServer::start(&h.bed.dovecot, &h.bed.oauth).await;
    let mut socks = ProxyServer::socks5(Some(("mw", SOCKS_PASSWORD))).await;
    const USER: &str = "gil@outlook.com";
    h.outlook_account(USER, &graph.base_url(), None, Some(mailwatch_engine::account::Channel::Graph), None).await;
    h.engine.set_account_proxy(&[USER.into()], Some(&socks.url())).await.unwrap();
    let (s, b) = crate::support::code_mail("604417");
    h.deliver(USER, "INBOX", &s, &b).await;

    let messages = h.engine.fetch(USER, &FolderSpec::Inbox, 5, false).await.unwrap_or_else(|e| panic!("{e}\n{socks}"));
    assert_eq!(messages.first().and_then(|m| m.code.as_deref()), Some("604417"), "{messages:?}");
    assert!(socks.connections_to(graph.port()) >= 1, "Graph was reached through SOCKS5:\n{socks}");
    assert_eq!(socks.connections_to(h.bed.oauth.port()), 1, "so was the token endpoint:\n{socks}");

    // The proxy goes down: Graph is not asked directly.
    socks.stop();
    h.engine.forget_client(USER).await;
    let before = graph.requests();
    let err = h.engine.fetch(USER, &FolderSpec::Inbox, 5, false).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{}", socks.port())), "the sentence names the proxy: {text}");
    assert!(!text.contains(SOCKS_PASSWORD), "never the password: {text}");
    assert_eq!(graph.requests(), before, "nothing went direct to Graph");
}
