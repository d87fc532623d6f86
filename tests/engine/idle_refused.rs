//! A server that answers DONE with NO: the session is closed, not given back to the pool with
//! no connection in it, so its global slot comes back at once. (async-imap already turns a
//! BAD to IDLE itself into an I/O error, a lost connection.) Dovecot cannot be made to refuse
//! on cue, so a scripted server speaks the few commands a watch sends, over TLS with the test
//! bed's certificate.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

use crate::support::Harness;

#[derive(Default)]
struct Seen {
    logins: AtomicUsize,
    dones_refused: AtomicUsize,
    open: AtomicUsize,
}

/// Answers `line` (one command) the way a tiny server with an empty INBOX would, except
/// that IDLE reports a new message at once and DONE gets NO.
fn answer(line: &str, seen: &Seen, idle_tag: &mut String) -> Option<String> {
    if line.trim().eq_ignore_ascii_case("DONE") {
        seen.dones_refused.fetch_add(1, Ordering::SeqCst);
        return Some(format!("{idle_tag} NO cannot end IDLE here\r\n"));
    }
    let mut words = line.split_whitespace();
    let tag = words.next()?;
    let command = words.next()?.to_ascii_uppercase();
    let sub = words.next().unwrap_or("").to_ascii_uppercase();
    Some(match command.as_str() {
        "LOGIN" => {
            seen.logins.fetch_add(1, Ordering::SeqCst);
            format!("{tag} OK logged in\r\n")
        }
        "CAPABILITY" => format!("* CAPABILITY IMAP4rev1 IDLE\r\n{tag} OK done\r\n"),
        "SELECT" | "EXAMINE" => format!(
            "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 1] ok\r\n{tag} OK [READ-WRITE] selected\r\n"
        ),
        "STATUS" => format!("* STATUS INBOX (UIDNEXT 1 UIDVALIDITY 7)\r\n{tag} OK done\r\n"),
        "IDLE" => {
            *idle_tag = tag.to_string();
            "+ idling\r\n* 1 EXISTS\r\n".to_string()
        }
        "LOGOUT" => format!("* BYE bye\r\n{tag} OK bye\r\n"),
        "UID" if sub == "FETCH" => format!("{tag} OK done\r\n"),
        _ => format!("{tag} OK done\r\n"),
    })
}

async fn scripted_server(h: &Harness, seen: Arc<Seen>) -> u16 {
    let dir = h.bed.dovecot.config_path().parent().expect("the config sits in the test bed's dir").to_path_buf();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("the test bed's certificate")
        .collect::<Result<_, _>>()
        .expect("a PEM certificate");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("the test bed's key");
    let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("a server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                seen.open.fetch_add(1, Ordering::SeqCst);
                let (r, mut w) = tokio::io::split(tls);
                let mut lines = BufReader::new(r).lines();
                let mut idle_tag = String::new();
                let _ = w.write_all(b"* OK [CAPABILITY IMAP4rev1 IDLE] scripted\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let Some(reply) = answer(&line, &seen, &mut idle_tag) else { continue };
                    if w.write_all(reply.as_bytes()).await.is_err() || reply.starts_with("* BYE") {
                        break;
                    }
                }
                seen.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_done_closes_the_session_and_frees_its_slot() {
    let h = Harness::start().await;
    let seen = Arc::new(Seen::default());
    let port = scripted_server(&h, seen.clone()).await;
    let email = h.password_account("refused@example.com", "pw", Some(port)).await;
    let sub = h.engine.subscribe_codes(&email).await.unwrap();
    sub.ready().await;
    for _ in 0..100 {
        if seen.dones_refused.load(Ordering::SeqCst) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(sub);
    let refused = seen.dones_refused.load(Ordering::SeqCst);
    let t = h.engine.stats().pool.total;
    println!("DONE refused {refused} times; {} logins; pool {t:?}", seen.logins.load(Ordering::SeqCst));
    assert!(refused >= 2, "the watch tried IDLE again after the refusal: {refused}");
    assert!(t.total_closed >= 1, "the refused session was closed: {t:?}");
    assert_eq!(t.total_reused, 0, "a session left without its connection is never handed out again: {t:?}");
    assert_eq!(t.idle, 0, "no session without a connection sits in the pool: {t:?}");
    assert!(
        t.total_created - t.total_closed <= 1,
        "at most the session in use is open; each refused one was closed: {t:?}"
    );
}
