//! The test bed proves its own parts work: Dovecot logins (password, XOAUTH2, OAUTHBEARER,
//! STARTTLS) and LMTP deliveries, Postfix submission in front of it, the token endpoint's
//! Microsoft behaviour, the fault proxy, and the servers' records.

use std::time::{Duration, Instant};

use base64::Engine as _;
use mailwatch_testbed::imap::ImapClient;
use mailwatch_testbed::smtp::{Reply, SmtpClient};
use mailwatch_testbed::{
    DEFAULT_CLIENT_ID, DEFAULT_SCOPE, Dovecot, DovecotOptions, Failure, FaultProxy, GRAPH_SCOPE, IMAP_SCOPE,
    NOT_CONNECTED, OAuthServer, Postfix, PostfixOptions, SMTP_SCOPE, TestBed, form_encode,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const USER: &str = "alice@example.com";
const PASSWORD: &str = "correct horse";

/// POSTs a form to a loopback URL with a fresh connection; returns status and JSON body.
async fn post_form(url: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').expect("URL with path");
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", form_encode(v))).collect();
    let body = body.join("&");
    let mut s = TcpStream::connect(host).await.expect("connect OAuth server");
    let req = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, json) = out.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

async fn refresh(oauth: &OAuthServer, refresh_token: &str) -> (u16, Value) {
    refresh_scope(oauth, refresh_token, DEFAULT_SCOPE).await
}

async fn refresh_scope(oauth: &OAuthServer, refresh_token: &str, scope: &str) -> (u16, Value) {
    post_form(
        &oauth.token_url(),
        &[
            ("client_id", DEFAULT_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ],
    )
    .await
}

async fn login_tls(dovecot: &Dovecot, port: u16) -> ImapClient {
    let mut c = ImapClient::connect_tls(port, dovecot.tls_client_config()).await.expect("TLS connect");
    let r = c.login(USER, PASSWORD).await.unwrap();
    assert!(r.is_ok(), "password login must succeed: {r:?}\n{dovecot}");
    c
}

#[tokio::test]
async fn password_login_over_implicit_tls_and_starttls() {
    let t = Instant::now();
    let dovecot = Dovecot::start(DovecotOptions::default()).await;
    eprintln!("dovecot start: {:?}", t.elapsed());
    dovecot.add_user(USER, PASSWORD);
    assert!(dovecot.ca_pem().contains("BEGIN CERTIFICATE"));
    assert!(dovecot.ca_pem_path().exists());

    let t = Instant::now();
    let mut c = ImapClient::connect_tls(dovecot.imaps_port(), dovecot.tls_client_config()).await.unwrap();
    assert!(c.greeting.starts_with("* OK"), "greeting: {}", c.greeting);
    let r = c.login(USER, PASSWORD).await.unwrap();
    eprintln!("TLS connect + LOGIN: {:?}", t.elapsed());
    assert!(r.is_ok(), "{r:?}\n{dovecot}");
    c.logout().await;

    let mut bad = ImapClient::connect_tls(dovecot.imaps_port(), dovecot.tls_client_config()).await.unwrap();
    let r = bad.login(USER, "wrong").await.unwrap();
    assert!(r.status.starts_with("NO"), "a wrong password is refused: {r:?}");

    let mut plain = ImapClient::connect_plain(dovecot.imap_port()).await.unwrap();
    let caps = plain.command("CAPABILITY").await.unwrap();
    assert!(caps.lines.iter().any(|l| l.contains("STARTTLS")), "plain port offers STARTTLS: {caps:?}");
    assert!(plain.starttls(dovecot.tls_client_config()).await.unwrap().is_ok());
    assert!(plain.login(USER, PASSWORD).await.unwrap().is_ok(), "login after STARTTLS\n{dovecot}");
    assert_eq!(dovecot.logins_for(USER), 2, "two successful logins are in the log\n{dovecot}");
}

#[tokio::test]
async fn xoauth2_and_oauthbearer_are_checked_by_introspection() {
    let bed = TestBed::start().await;
    let rt = bed.oauth.issue_refresh_token(USER, DEFAULT_CLIENT_ID);
    let (status, body) = refresh(&bed.oauth, &rt).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();

    let t = Instant::now();
    let mut c = ImapClient::connect_tls(bed.dovecot.imaps_port(), bed.dovecot.tls_client_config()).await.unwrap();
    let r = c.authenticate_xoauth2(USER, &access).await.unwrap();
    eprintln!("TLS connect + XOAUTH2: {:?}", t.elapsed());
    assert!(r.is_ok(), "XOAUTH2 with a fresh token: {r:?}\n{}", bed.dovecot);
    let mut c2 = ImapClient::connect_tls(bed.dovecot.imaps_port(), bed.dovecot.tls_client_config()).await.unwrap();
    let r = c2.authenticate_oauthbearer(USER, &access).await.unwrap();
    assert!(r.is_ok(), "OAUTHBEARER with a fresh token: {r:?}\n{}", bed.dovecot);
    assert_eq!(bed.oauth.introspection_count(), 2);

    let mut other = ImapClient::connect_tls(bed.dovecot.imaps_port(), bed.dovecot.tls_client_config()).await.unwrap();
    let r = other.authenticate_xoauth2("bob@example.com", &access).await.unwrap();
    assert!(r.status.starts_with("NO"), "a token of alice does not log in bob: {r:?}");

    bed.oauth.revoke_access_tokens(USER);
    let t = Instant::now();
    let mut c3 = ImapClient::connect_tls(bed.dovecot.imaps_port(), bed.dovecot.tls_client_config()).await.unwrap();
    let r = c3.authenticate_xoauth2(USER, &access).await.unwrap();
    eprintln!("rejected XOAUTH2: {:?}", t.elapsed());
    assert!(r.status.starts_with("NO"), "a revoked token is refused: {r:?}");
    assert!(r.lines.iter().any(|l| l.starts_with('+')), "Dovecot sends a JSON challenge first: {r:?}");
    assert_eq!(bed.dovecot.auth_failures_for(USER), 1, "{}", bed.dovecot);

    let (_, body) = refresh(&bed.oauth, bed.oauth.current_refresh_token(USER).as_deref().unwrap()).await;
    let fresh = body["access_token"].as_str().unwrap();
    let mut c4 = ImapClient::connect_tls(bed.dovecot.imaps_port(), bed.dovecot.tls_client_config()).await.unwrap();
    assert!(c4.authenticate_xoauth2(USER, fresh).await.unwrap().is_ok(), "a token from a new refresh works");
}

#[tokio::test]
async fn token_endpoint_rotates_and_fails_like_microsoft() {
    let oauth = OAuthServer::start().await;
    let rt1 = oauth.issue_refresh_token(USER, DEFAULT_CLIENT_ID);
    assert!(rt1.starts_with("M.C5") && rt1.len() > 400, "Microsoft-shaped: {rt1}");

    let (status, ok) = refresh(&oauth, &rt1).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["token_type"], "Bearer");
    assert_eq!(ok["expires_in"], 3600);
    assert_eq!(ok["scope"], "https://outlook.office.com/IMAP.AccessAsUser.All");
    let rt2 = ok["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2, "refresh tokens rotate");
    assert_eq!(oauth.current_refresh_token(USER).as_deref(), Some(rt2.as_str()));

    let (status, err) = refresh(&oauth, &rt1).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_grant", "the rotated-away token is dead: {err}");
    assert_eq!(err["error_codes"][0], 70000);
    assert!(err["error_description"].as_str().unwrap().starts_with("AADSTS70000:"));
    for key in ["timestamp", "trace_id", "correlation_id"] {
        assert!(err[key].is_string(), "{key} present: {err}");
    }

    let (status, err) = post_form(
        &oauth.token_url(),
        &[
            ("client_id", "11111111-2222-4333-8444-555555555555"),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt2),
        ],
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_client")), "{err}");
    assert_eq!(err["error_codes"][0], 700016);

    oauth.fail_next(2, Failure::Status(503));
    assert_eq!(refresh(&oauth, &rt2).await.0, 503);
    assert_eq!(refresh(&oauth, &rt2).await.0, 503);
    oauth.set_latency(Duration::from_millis(300));
    oauth.set_access_token_lifetime(120);
    let t = Instant::now();
    let (status, ok) = refresh(&oauth, &rt2).await;
    assert!(t.elapsed() >= Duration::from_millis(300), "latency is added");
    assert_eq!(status, 200, "failures stop after two and did not rotate the token: {ok}");
    assert_eq!(ok["expires_in"], 120);
    assert_eq!(oauth.refresh_count(USER), 6, "every request with alice's tokens is counted");
    assert_eq!(oauth.refresh_count_for_token(&rt2), 4);
    assert_eq!(oauth.total_refreshes(), 6);

    let rt3 = ok["refresh_token"].as_str().unwrap().to_string();
    oauth.set_latency(Duration::ZERO);
    oauth.revoke(&rt3);
    let (status, err) = refresh(&oauth, &rt3).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(err["error_codes"][0], 50173);
}

#[tokio::test]
async fn concurrent_refreshes_are_counted_at_arrival() {
    let oauth = OAuthServer::start().await;
    let rt = oauth.issue_refresh_token(USER, DEFAULT_CLIENT_ID);
    oauth.set_latency(Duration::from_millis(200));
    let (a, b) = tokio::join!(refresh(&oauth, &rt), refresh(&oauth, &rt));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "one wins, the other presents a rotated token");
    assert_eq!(oauth.refresh_count(USER), 2);
}

#[tokio::test]
async fn append_folders_sessions_and_restart() {
    let dovecot = Dovecot::start(DovecotOptions::default()).await;
    dovecot.add_user(USER, PASSWORD);
    let raw = b"From: a@example.com\r\nTo: alice@example.com\r\nSubject: Your code\r\n\r\nYour code is 123456\r\n";
    dovecot.append(USER, "INBOX", raw).await;
    dovecot.append(USER, "INBOX", raw).await;
    dovecot.append(USER, "Junk", raw).await;
    dovecot.create_folder(USER, "Courrier ind\u{e9}sirable", Some("\\Junk"));

    let mut c = login_tls(&dovecot, dovecot.imaps_port()).await;
    let r = c.select("INBOX").await.unwrap();
    assert_eq!(r.exists(), Some(2), "two appended messages: {r:?}");
    let r = c.select("Junk").await.unwrap();
    assert_eq!(r.exists(), Some(1), "{r:?}");
    let list = c.command("LIST \"\" \"*\"").await.unwrap();
    assert!(list.lines.iter().any(|l| l.contains("\\Junk") && l.ends_with(" Junk")), "Junk carries \\Junk: {list:?}");
    assert!(
        list.lines.iter().filter(|l| l.contains("\\Junk")).count() == 2,
        "the folder declared at run time carries \\Junk too: {list:?}"
    );

    assert_eq!(dovecot.sessions_for(USER), 1, "doveadm who sees the open session\n{dovecot}");
    let c2 = login_tls(&dovecot, dovecot.imaps_port()).await;
    assert_eq!(dovecot.sessions_for(USER), 2);
    c2.logout().await;
    c.logout().await;
    let c3 = login_tls(&dovecot, dovecot.imaps_port()).await;
    assert_eq!(dovecot.max_sessions_seen(USER), 2, "at most two at once over the test\n{dovecot}");
    assert_eq!(dovecot.logins_for(USER), 3);

    let t = Instant::now();
    dovecot.restart().await;
    eprintln!("dovecot restart: {:?}", t.elapsed());
    let mut c3 = c3;
    assert!(c3.command("NOOP").await.is_err(), "a restart cuts open sessions");
    let mut c4 = login_tls(&dovecot, dovecot.imaps_port()).await;
    assert_eq!(c4.select("INBOX").await.unwrap().exists(), Some(2), "mail survives a restart");
    assert_eq!(dovecot.logins_for(USER), 4);
}

/// An echo server on loopback, so proxy tests do not depend on Dovecot's timing.
async fn echo_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn echo_round_trip(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).await.unwrap();
    let mut buf = vec![0; msg.len()];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf)).await.unwrap().unwrap();
    buf
}

#[tokio::test]
async fn proxy_forwards_imap_and_adds_latency() {
    let dovecot = Dovecot::start(DovecotOptions::default()).await;
    dovecot.add_user(USER, PASSWORD);
    let proxy = FaultProxy::start(dovecot.imaps_addr()).await;
    let mut c = login_tls(&dovecot, proxy.port()).await;
    assert_eq!(proxy.connections(), 1);
    assert_eq!(proxy.active_connections(), 1);

    proxy.set_latency(Duration::from_millis(40), Duration::from_millis(60));
    let t = Instant::now();
    assert!(c.command("NOOP").await.unwrap().is_ok());
    let took = t.elapsed();
    eprintln!("NOOP through a 100 ms round trip: {took:?}");
    assert!(took >= Duration::from_millis(100), "both directions are delayed: {took:?}");
    let (up, down) = proxy.bytes_forwarded();
    assert!(up > 0 && down > 0);
    c.logout().await;
}

#[tokio::test]
async fn proxy_latency_does_not_queue_chunks() {
    let proxy = FaultProxy::start(echo_server().await).await;
    proxy.set_latency(Duration::from_millis(100), Duration::ZERO);
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    s.set_nodelay(true).unwrap();
    let t = Instant::now();
    for i in 0..5u8 {
        s.write_all(&[i]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(buf, [0, 1, 2, 3, 4]);
    // Lower bound only: tests do not assert upper wall-clock limits.
    assert!(t.elapsed() >= Duration::from_millis(100));
    eprintln!("5 chunks 10 ms apart with 100 ms latency: {:?}", t.elapsed());
}

#[tokio::test]
async fn proxy_resets_stalls_drops_and_refuses() {
    let proxy = FaultProxy::start(echo_server().await).await;

    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(echo_round_trip(&mut s, b"hello").await, b"hello");
    proxy.reset_all();
    let mut buf = [0u8; 16];
    let got = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.expect("reset arrives");
    assert_eq!(
        got.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionReset),
        "the client sees a RST, not a clean close"
    );
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(echo_round_trip(&mut s, b"after").await, b"after", "new connections work after a reset");

    proxy.set_stall(true);
    s.write_all(b"held").await.unwrap();
    let stalled = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await;
    assert!(stalled.is_err(), "nothing is forwarded while stalled");
    proxy.set_stall(false);
    let mut held = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut held)).await.unwrap().unwrap();
    assert_eq!(&held, b"held", "held data is delivered after the stall");

    proxy.drop_after(Some(6));
    let mut d = TcpStream::connect(proxy.addr()).await.unwrap();
    d.write_all(b"abcdef").await.unwrap(); // 6 bytes up use the whole budget
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), d.read_to_end(&mut rest)).await.unwrap();
    assert!(matches!(n, Ok(0)), "closed after 6 bytes, before any echo: {n:?} {rest:?}");
    proxy.drop_after(None);

    proxy.set_refuse(true);
    let mut r = TcpStream::connect(proxy.addr()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), r.read(&mut buf)).await.unwrap();
    assert!(got.is_err() || matches!(got, Ok(0)), "refused connections are cut: {got:?}");
    proxy.set_refuse(false);
    assert_eq!(proxy.connections(), 4);
}

#[test]
fn with_session_script_gives_an_unlocked_keyring_and_passes_the_exit_code() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/with-session.sh");
    let out = std::process::Command::new(script)
        .args([
            "bash",
            "-c",
            "printf s3cret | secret-tool store --label=t service mailwatch-selftest user u \
             && secret-tool lookup service mailwatch-selftest user u && exit 7",
        ])
        .output()
        .expect("run with-session.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "the command's exit code comes back; stderr: {stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "s3cret", "a secret round-trips; stderr: {stderr}");
}

#[test]
fn require_secret_service_explains_how_to_run() {
    // Outside a session this must fail with instructions; inside one it must pass.
    match mailwatch_testbed::keyring::secret_service_available() {
        Ok(()) => mailwatch_testbed::keyring::require_secret_service(),
        Err(_) => {
            let panic = std::panic::catch_unwind(mailwatch_testbed::keyring::require_secret_service)
                .expect_err("no Secret Service, so it panics");
            let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(msg.contains("with-session.sh"), "the message says how to run: {msg}");
        }
    }
}

#[tokio::test]
async fn userip_limit_refuses_extra_sessions_and_the_log_stays_countable() {
    let opts = DovecotOptions { max_userip_connections: 2, ..DovecotOptions::default() };
    let dovecot = Dovecot::start(opts).await;
    dovecot.add_user(USER, PASSWORD);
    let a = login_tls(&dovecot, dovecot.imaps_port()).await;
    let b = login_tls(&dovecot, dovecot.imaps_port()).await;
    let mut c = ImapClient::connect_tls(dovecot.imaps_port(), dovecot.tls_client_config()).await.unwrap();
    let r = c.login(USER, PASSWORD).await;
    eprintln!("third login: {r:?}");
    let refused = match &r {
        Ok(resp) => !resp.is_ok(),
        Err(_) => true,
    };
    assert!(refused, "the third session is over the limit: {r:?}");
    a.logout().await;
    b.logout().await;
    assert_eq!(dovecot.max_sessions_seen(USER), 2, "refused sessions do not count\n{dovecot}");
    assert_eq!(dovecot.limit_refusals_for(USER), 1, "{dovecot}");
}

const BOB: &str = "bob@example.com";
const BOB_PASSWORD: &str = "battery staple";
/// How long a delivery may take before a test gives up waiting; it normally takes well under
/// 100 ms.
const DELIVERY_WAIT: Duration = Duration::from_secs(10);

fn message(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!("From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\r\nHello from the test bed.\r\n.leading dot\r\n")
        .into_bytes()
}

/// Opens a submission session with STARTTLS and AUTH PLAIN.
async fn plain_session(postfix: &Postfix, user: &str, password: &str) -> SmtpClient {
    let mut c = SmtpClient::connect_plain(postfix.submission_port()).await.expect("connect submission");
    assert_eq!(c.greeting.code, 220, "greeting: {}\n{postfix}", c.greeting);
    c.ehlo("client.example").await.unwrap();
    let r = c.starttls(postfix.tls_client_config()).await.unwrap();
    assert_eq!(r.code, 220, "{r}\n{postfix}");
    c.ehlo("client.example").await.unwrap();
    let r = c.auth_plain(user, password).await.unwrap();
    assert_eq!(r.code, 235, "AUTH PLAIN of {user}: {r}\n{postfix}");
    c
}

fn assert_sent(replies: &[Reply], postfix: &Postfix) {
    let last = replies.last().expect("replies");
    assert!(last.is_ok() && last.text().contains("queued as"), "message accepted: {replies:?}\n{postfix}");
}

#[tokio::test]
async fn lmtp_delivers_to_password_and_token_only_users() {
    let dovecot = Dovecot::start(DovecotOptions::default()).await;
    dovecot.add_user(USER, PASSWORD);
    let mut lmtp = SmtpClient::connect_plain(dovecot.lmtp_addr().port()).await.unwrap();
    assert!(lmtp.lhlo("mta.example").await.unwrap().is_ok());
    // carol has no passwd entry, like a user who only ever signs in with a token.
    let to = [USER, "Carol@Example.com"];
    let replies = lmtp.send_mail("sender@example.net", &to, &message("sender@example.net", USER, "via LMTP")).await;
    let replies = replies.unwrap();
    assert!(replies.iter().all(|r| r.code < 400), "LMTP accepts both: {replies:?}\n{dovecot}");
    assert_eq!(replies.iter().filter(|r| r.text().contains("Saved")).count(), 2, "{replies:?}");
    lmtp.quit().await;
    assert_eq!(dovecot.deliveries_for(USER), 1, "{dovecot}");
    assert_eq!(dovecot.deliveries_for("carol@example.com"), 1, "{dovecot}");
    let mut c = login_tls(&dovecot, dovecot.imaps_port()).await;
    assert_eq!(c.select("INBOX").await.unwrap().exists(), Some(1), "the delivery is visible over IMAP");
}

#[tokio::test]
async fn postfix_submission_with_starttls_and_password_delivers_to_another_user() {
    let bed = TestBed::start().await;
    bed.dovecot.add_user(USER, PASSWORD);
    bed.dovecot.add_user(BOB, BOB_PASSWORD);
    let t = Instant::now();
    let postfix = Postfix::start(&bed.dovecot, PostfixOptions::default()).await;
    eprintln!("postfix start: {:?}", t.elapsed());
    assert_eq!(postfix.connections(), 0, "the readiness probe is not counted\n{postfix}");

    let mut c = SmtpClient::connect_plain(postfix.submission_port()).await.unwrap();
    let ehlo = c.ehlo("client.example").await.unwrap();
    assert!(!ehlo.has_extension("AUTH"), "no AUTH before TLS: {ehlo}");
    let r = c.command("MAIL FROM:<alice@example.com>").await.unwrap();
    assert_eq!(r.code, 530, "TLS is required first: {r}");
    assert_eq!(c.starttls(postfix.tls_client_config()).await.unwrap().code, 220);
    let ehlo = c.ehlo("client.example").await.unwrap();
    for ext in ["AUTH PLAIN", "AUTH LOGIN", "AUTH XOAUTH2", "AUTH OAUTHBEARER", "PIPELINING"] {
        assert!(ehlo.has_extension(ext), "{ext} advertised after STARTTLS: {ehlo}");
    }
    let r = c.auth_plain(USER, "wrong").await.unwrap();
    assert_eq!(r.code, 535, "a wrong password is refused: {r}");
    let r = c.auth_plain(USER, PASSWORD).await.unwrap();
    assert_eq!(r.code, 235, "{r}\n{postfix}");
    let t = Instant::now();
    let replies = c.send_mail(USER, &[BOB], &message(USER, BOB, "Submitted")).await.unwrap();
    assert_sent(&replies, &postfix);
    c.quit().await;

    assert_eq!(bed.dovecot.wait_deliveries(BOB, 1, DELIVERY_WAIT).await, 1, "{postfix}\n{}", bed.dovecot);
    eprintln!("DATA to delivery in bob's INBOX: {:?}", t.elapsed());
    assert_eq!(bed.dovecot.deliveries_for(BOB), 1);
    assert_eq!(bed.dovecot.deliveries_for(USER), 0, "nothing for the sender");
    let mut imap = ImapClient::connect_tls(bed.dovecot.imaps_port(), bed.dovecot.tls_client_config()).await.unwrap();
    assert!(imap.login(BOB, BOB_PASSWORD).await.unwrap().is_ok());
    assert_eq!(imap.select("INBOX").await.unwrap().exists(), Some(1));
    let fetch = imap.command("FETCH 1 BODY.PEEK[]").await.unwrap();
    let body = fetch.lines.join("\n");
    assert!(body.contains("Subject: Submitted") && body.contains("\r\n.leading dot"), "message intact: {body}");

    assert!(postfix.wait_closed(Duration::from_secs(5)).await, "the session's end is logged\n{postfix}");
    assert_eq!(postfix.connections(), 1, "{postfix}");
    assert_eq!(postfix.auths(), 1, "one successful AUTH (the failed one is not counted)\n{postfix}");
    assert_eq!(postfix.auth_failures(), 1, "{postfix}");
    assert_eq!(postfix.accepted_messages(), 1, "{postfix}");
    assert_eq!(postfix.accepted_messages_from(USER), 1);
    assert_eq!(postfix.max_concurrent_connections(), 1);
    assert_eq!(bed.dovecot.auth_failures_for(USER), 1, "Dovecot checked the password\n{}", bed.dovecot);
}

#[tokio::test]
async fn postfix_checks_xoauth2_tokens_like_imap() {
    let bed = TestBed::start().await;
    bed.dovecot.add_user(BOB, BOB_PASSWORD);
    let postfix = Postfix::start(&bed.dovecot, PostfixOptions::default()).await;
    // A user with no passwd entry, who signs in with tokens only.
    let user = "token.user@example.com";
    let rt = bed.oauth.issue_refresh_token(user, DEFAULT_CLIENT_ID);
    let (status, body) = refresh_scope(&bed.oauth, &rt, &format!("{SMTP_SCOPE} offline_access")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], SMTP_SCOPE);
    let access = body["access_token"].as_str().unwrap().to_string();

    let mut c = SmtpClient::connect_tls(postfix.submissions_port(), postfix.tls_client_config()).await.unwrap();
    assert_eq!(c.greeting.code, 220, "implicit TLS greeting: {}", c.greeting);
    let ehlo = c.ehlo("client.example").await.unwrap();
    assert!(ehlo.has_extension("AUTH XOAUTH2") && ehlo.has_extension("PIPELINING"), "{ehlo}");
    let r = c.auth_xoauth2(user, &access).await.unwrap();
    assert_eq!(r.code, 235, "XOAUTH2 with a fresh token: {r}\n{postfix}\n{}", bed.dovecot);
    let replies = c.send_mail(user, &[BOB, user], &message(user, BOB, "Sent with a token")).await.unwrap();
    assert_sent(&replies, &postfix);
    c.quit().await;
    assert_eq!(bed.dovecot.wait_deliveries(BOB, 1, DELIVERY_WAIT).await, 1, "{postfix}");
    assert_eq!(bed.dovecot.wait_deliveries(user, 1, DELIVERY_WAIT).await, 1, "a token-only user gets mail too");

    let mut bad = SmtpClient::connect_tls(postfix.submissions_port(), postfix.tls_client_config()).await.unwrap();
    bad.ehlo("client.example").await.unwrap();
    let r = bad.auth_xoauth2(user, "not-a-valid-token").await.unwrap();
    assert_eq!(r.code, 535, "a bad token is refused: {r}");
    let challenge = r.lines.iter().find_map(|l| l.strip_prefix("334 ")).expect("Dovecot's error challenge first");
    let challenge = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(challenge).unwrap()).unwrap();
    assert!(challenge.contains("\"status\""), "the challenge is Dovecot's JSON error: {challenge}");
    let r = bad.command(&format!("MAIL FROM:<{user}>")).await.unwrap();
    assert!(r.is_ok(), "{r}");
    let r = bad.command(&format!("RCPT TO:<{BOB}>")).await.unwrap();
    assert_eq!(r.code, 554, "an unauthenticated client may not send: {r}");
    bad.quit().await;

    assert!(postfix.wait_closed(Duration::from_secs(5)).await, "{postfix}");
    assert_eq!((postfix.connections(), postfix.auths(), postfix.auth_failures()), (2, 1, 1), "{postfix}");
    assert_eq!(postfix.accepted_messages_from(user), 1);
    assert_eq!(bed.oauth.introspection_count(), 2, "both tokens were introspected");
}

#[tokio::test]
async fn postfix_rejects_and_defers_listed_recipients() {
    let bed = TestBed::start().await;
    bed.dovecot.add_user(USER, PASSWORD);
    let opts = PostfixOptions {
        rejected_recipients: vec!["nobody@example.com".into()],
        deferred_recipients: vec!["busy@example.com".into()],
        ..PostfixOptions::default()
    };
    let postfix = Postfix::start(&bed.dovecot, opts).await;
    let mut c = plain_session(&postfix, USER, PASSWORD).await;
    assert!(c.command(&format!("MAIL FROM:<{USER}>")).await.unwrap().is_ok());
    let r = c.command("RCPT TO:<nobody@example.com>").await.unwrap();
    assert_eq!(r.to_string(), "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown");
    let r = c.command("RCPT TO:<busy@example.com>").await.unwrap();
    assert_eq!(r.code, 450, "{r}");
    assert!(r.text().starts_with("4.2.0 <busy@example.com>:"), "{r}");
    assert!(c.command(&format!("RCPT TO:<{BOB}>")).await.unwrap().is_ok());
    assert_eq!(c.command("DATA").await.unwrap().code, 354);
    let r = c.command("Subject: partly\r\n\r\nonly bob gets this\r\n.").await.unwrap();
    assert!(r.is_ok(), "{r}");
    // A transaction given up after an accepted RCPT (Postfix has made a queue file by then)
    // is not an accepted message.
    assert!(c.command(&format!("MAIL FROM:<{USER}>")).await.unwrap().is_ok());
    assert!(c.command(&format!("RCPT TO:<{BOB}>")).await.unwrap().is_ok());
    assert!(c.command("RSET").await.unwrap().is_ok());
    c.quit().await;
    assert_eq!(bed.dovecot.wait_deliveries(BOB, 1, DELIVERY_WAIT).await, 1, "{postfix}");
    assert_eq!(bed.dovecot.deliveries_for("nobody@example.com") + bed.dovecot.deliveries_for("busy@example.com"), 0);
    assert!(postfix.wait_for(|p| p.auths() == 1, Duration::from_secs(5)).await, "{postfix}");
    assert_eq!(postfix.accepted_messages(), 1);
}

#[tokio::test]
async fn refresh_without_smtp_consent_is_refused_and_keeps_the_token() {
    let oauth = OAuthServer::start().await;
    let rt = oauth.issue_refresh_token_without_smtp(USER, DEFAULT_CLIENT_ID);
    let (status, err) = refresh_scope(&oauth, &rt, &format!("{SMTP_SCOPE} offline_access")).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")), "{err}");
    assert_eq!(err["error_codes"][0], 65001);
    assert_eq!(err["suberror"], "consent_required");
    let description = err["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!(
            "AADSTS65001: The user or administrator has not consented to use the application with ID \
             '{DEFAULT_CLIENT_ID}' named 'Mailwatch'. Send an interactive authorization request for this \
             user and resource. Trace ID: "
        )),
        "{description}"
    );
    assert_eq!(oauth.current_refresh_token(USER).as_deref(), Some(rt.as_str()), "the refused request rotated nothing");

    let (status, ok) = refresh_scope(&oauth, &rt, &format!("{IMAP_SCOPE} offline_access openid")).await;
    assert_eq!(status, 200, "the same token still refreshes for IMAP: {ok}");
    assert_eq!(ok["scope"], format!("{IMAP_SCOPE} openid"));
    let rt2 = ok["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt2, rt, "a successful refresh rotates");
    let (status, err) = refresh_scope(&oauth, &rt2, SMTP_SCOPE).await;
    assert_eq!((status, err["error_codes"][0].as_u64()), (400, Some(65001)), "the grant survives rotation: {err}");
    assert_eq!(oauth.refresh_count_for_token(&rt), 2, "refused requests are counted too");

    // Full consent: SMTP refreshes rotate like any other.
    let full = oauth.issue_refresh_token("bob@example.com", DEFAULT_CLIENT_ID);
    let (status, ok) = refresh_scope(&oauth, &full, &format!("{SMTP_SCOPE} offline_access")).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["scope"], SMTP_SCOPE);
    let next = ok["refresh_token"].as_str().unwrap();
    assert_eq!(oauth.current_refresh_token("bob@example.com").as_deref(), Some(next));
    assert_eq!(refresh(&oauth, &full).await.0, 400, "the SMTP refresh consumed the old token");
}

#[tokio::test]
async fn postfix_retries_mail_deferred_while_dovecot_was_down() {
    let bed = TestBed::start().await;
    bed.dovecot.add_user(USER, PASSWORD);
    let postfix = Postfix::start(&bed.dovecot, PostfixOptions::default()).await;
    // Authenticate first: AUTH needs Dovecot, the delivery is what should fail.
    let mut c = plain_session(&postfix, USER, PASSWORD).await;
    bed.dovecot.stop().await;
    let replies = c.send_mail(USER, &[BOB], &message(USER, BOB, "Queued")).await.unwrap();
    assert_sent(&replies, &postfix);
    c.quit().await;
    let deferred = postfix.wait_for(|p| p.log_tail(20).contains("status=deferred"), Duration::from_secs(5)).await;
    assert!(deferred, "LMTP refused, so the message waits in the queue\n{postfix}");
    let t = Instant::now();
    bed.dovecot.restart().await;
    assert_eq!(bed.dovecot.wait_deliveries(BOB, 1, Duration::from_secs(20)).await, 1, "{postfix}\n{}", bed.dovecot);
    eprintln!("deferred message delivered {:?} after Dovecot came back", t.elapsed());
}

#[tokio::test]
async fn tokens_are_per_resource_and_imap_can_refuse_a_connected_account() {
    let bed = TestBed::start().await;
    let rt = bed.oauth.issue_refresh_token(USER, DEFAULT_CLIENT_ID);
    let (status, err) = refresh_scope(&bed.oauth, &rt, &format!("{IMAP_SCOPE} {GRAPH_SCOPE} offline_access")).await;
    assert_eq!(
        (status, err["error"].as_str(), err["error_codes"][0].as_u64()),
        (400, Some("invalid_scope"), Some(70011)),
        "{err}"
    );
    let (status, graph) = refresh_scope(&bed.oauth, &rt, &format!("{GRAPH_SCOPE} offline_access")).await;
    assert_eq!(status, 200, "a mixed request spends nothing: {graph}");
    assert_eq!(graph["scope"], GRAPH_SCOPE, "the granted scope is in the answer");
    let graph_token = graph["access_token"].as_str().unwrap().to_string();
    let mut c = ImapClient::connect_tls(bed.dovecot.imaps_port(), bed.dovecot.tls_client_config()).await.unwrap();
    let r = c.authenticate_xoauth2(USER, &graph_token).await.unwrap();
    assert!(r.status.starts_with("NO"), "IMAP refuses a Graph token: {r:?}");

    let (_, imap) = refresh(&bed.oauth, graph["refresh_token"].as_str().unwrap()).await;
    let imap_token = imap["access_token"].as_str().unwrap().to_string();
    bed.set_imap_not_connected(USER, true);
    let mut c = ImapClient::connect_tls(bed.dovecot.imaps_port(), bed.dovecot.tls_client_config()).await.unwrap();
    let r = c.authenticate_xoauth2(USER, &imap_token).await.unwrap();
    assert!(r.status.starts_with("NO") && r.status.contains(NOT_CONNECTED), "{r:?}\n{}", bed.dovecot);
    bed.set_imap_not_connected(USER, false);
    let mut c = ImapClient::connect_tls(bed.dovecot.imaps_port(), bed.dovecot.tls_client_config()).await.unwrap();
    let r = c.authenticate_xoauth2(USER, &imap_token).await.unwrap();
    assert!(r.is_ok(), "connected again: {r:?}\n{}", bed.dovecot);

    let imap_only = bed.oauth.issue_refresh_token_with_scopes(USER, DEFAULT_CLIENT_ID, &[IMAP_SCOPE]);
    let (status, err) = refresh_scope(&bed.oauth, &imap_only, &format!("{GRAPH_SCOPE} offline_access")).await;
    assert_eq!((status, err["error_codes"][0].as_u64()), (400, Some(70000)), "{err}");
    assert!(err["error_description"].as_str().unwrap().contains("scopes requested are unauthorized"), "{err}");
}

/// One HTTPS GET with a fresh connection trusting the run's CA; returns status, headers and body.
async fn https_get(dovecot: &Dovecot, url: &str, token: &str, prefer: Option<&str>) -> (u16, String, Vec<u8>) {
    let rest = url.strip_prefix("https://").expect("https URL");
    let (host, path) = rest.split_once('/').expect("URL with path");
    let tcp = TcpStream::connect(host).await.expect("connect Graph stand-in");
    let connector = tokio_rustls::TlsConnector::from(dovecot.tls_client_config());
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut s = connector.connect(name, tcp).await.expect("TLS with the stand-in");
    let prefer = prefer.map(|p| format!("Prefer: {p}\r\n")).unwrap_or_default();
    let req = format!(
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n{prefer}Connection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, out[split + 4..].to_vec())
}

#[tokio::test]
async fn graph_stand_in_serves_dovecot_mailboxes_to_graph_tokens() {
    let bed = TestBed::start().await;
    let graph = mailwatch_testbed::GraphServer::start(&bed.dovecot, &bed.oauth).await;
    for i in 0..3 {
        let raw = format!("Subject: old {i}\r\nMessage-ID: <old{i}@x>\r\n\r\nbody {i}\r\n");
        bed.dovecot.append(USER, "INBOX", raw.as_bytes()).await;
    }
    let rt = bed.oauth.issue_refresh_token(USER, DEFAULT_CLIENT_ID);
    let (_, imap) = refresh(&bed.oauth, &rt).await;
    let imap_token = imap["access_token"].as_str().unwrap().to_string();
    let (_, g) = refresh_scope(&bed.oauth, imap["refresh_token"].as_str().unwrap(), GRAPH_SCOPE).await;
    let token = g["access_token"].as_str().unwrap().to_string();
    let base = graph.base_url();
    let list = format!(
        "{base}/me/mailFolders/inbox/messages?$select=id,receivedDateTime,subject&$orderby=receivedDateTime%20desc&$top=2"
    );

    let (status, _, body) = https_get(&bed.dovecot, &list, &imap_token, None).await;
    assert_eq!(status, 401, "an IMAP token is not for Graph: {}", String::from_utf8_lossy(&body));
    let (status, _, body) = https_get(&bed.dovecot, &list, &token, None).await;
    let page: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["value"].as_array().unwrap().len(), 2, "$top=2: {page}");
    let id = page["value"][0]["id"].as_str().unwrap().to_string();
    let (status, _, raw) = https_get(&bed.dovecot, &format!("{base}/me/messages/{id}/$value"), &token, None).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&raw).starts_with("Subject: old"), "{}", String::from_utf8_lossy(&raw));

    let delta = format!("{base}/me/mailFolders/inbox/messages/delta?$select=id,receivedDateTime");
    let (_, _, body) = https_get(&bed.dovecot, &delta, &token, Some("odata.maxpagesize=2")).await;
    let first: Value = serde_json::from_slice(&body).unwrap();
    let next = first["@odata.nextLink"].as_str().expect("three messages in pages of two").to_string();
    let (_, _, body) = https_get(&bed.dovecot, &next, &token, None).await;
    let last: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(first["value"].as_array().unwrap().len() + last["value"].as_array().unwrap().len(), 3, "{last}");
    let link = last["@odata.deltaLink"].as_str().expect("the round ends with a delta link").to_string();
    let (_, _, body) = https_get(&bed.dovecot, &link, &token, None).await;
    let none: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(none["value"].as_array().unwrap().len(), 0, "nothing new: {none}");
    bed.dovecot.append(USER, "INBOX", b"Subject: new\r\n\r\ncode 123456\r\n").await;
    let link = none["@odata.deltaLink"].as_str().unwrap().to_string();
    let (_, _, body) = https_get(&bed.dovecot, &link, &token, None).await;
    let news: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(news["value"].as_array().unwrap().len(), 1, "the APPEND shows up in the delta: {news}");

    graph.throttle_next(1, 429, 3);
    let (status, head, _) = https_get(&bed.dovecot, &list, &token, None).await;
    assert_eq!(status, 429);
    assert!(head.contains("Retry-After: 3"), "{head}");
    assert_eq!(graph.throttled(), 1);
    let (status, _, _) =
        https_get(&bed.dovecot, &format!("{base}/me/mailFolders/junkemail/messages"), &token, None).await;
    assert_eq!(status, 200, "the junk folder exists even when empty");
}
