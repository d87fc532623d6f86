//! Sending mail through a real MTA: Postfix on loopback, signing in through Dovecot's auth
//! (passwords and XOAUTH2 tokens checked as IMAP checks them), delivering over LMTP to the
//! test accounts' inboxes. What arrived is counted in Dovecot; connections and logins in
//! Postfix's log.

use std::time::Duration;

use futures::future::join_all;
use mailwatch_engine::account::{AccountSpec, AccountStatus, Provider, Tls};
use mailwatch_engine::engine::{NewSecret, WaitOptions};
use mailwatch_engine::outbox::batch::BatchOptions;
use mailwatch_engine::progress::BatchControl;
use mailwatch_engine::secrets::Secret;
use mailwatch_engine::smtp::compose::Draft;
use mailwatch_testbed::{DEFAULT_CLIENT_ID, FaultProxy, Postfix, PostfixOptions};

use crate::support::{Harness, test_config};

/// Where an account sends: Postfix's STARTTLS submission port, its implicit-TLS port, or a
/// proxy in front of one of them.
fn smtp(port: u16, tls: Tls) -> AccountSpec {
    AccountSpec {
        smtp_host: Some("127.0.0.1".into()),
        smtp_port: Some(port),
        smtp_tls: Some(tls),
        ..Default::default()
    }
}

async fn password_sender(h: &Harness, email: &str, password: &str, keyring_password: &str, at: AccountSpec) -> String {
    h.bed.dovecot.add_user(email, password);
    let spec = AccountSpec {
        email: email.into(),
        provider: Some(Provider::Imap),
        imap_host: Some("127.0.0.1".into()),
        imap_port: Some(h.bed.dovecot.imaps_port()),
        tls: Some(Tls::Implicit),
        ..at
    };
    h.engine.add_account(&spec, NewSecret::Password(Secret::new(keyring_password))).await.expect("added").email
}

async fn oauth_sender(h: &Harness, email: &str, refresh_token: String, at: AccountSpec) -> String {
    let spec = AccountSpec {
        email: email.into(),
        provider: Some(Provider::Outlook),
        client_id: Some(DEFAULT_CLIENT_ID.into()),
        imap_host: Some("127.0.0.1".into()),
        imap_port: Some(h.bed.dovecot.imaps_port()),
        tls: Some(Tls::Implicit),
        token_url: Some(h.bed.oauth.token_url()),
        ..at
    };
    h.engine.add_account(&spec, NewSecret::RefreshToken(Secret::new(refresh_token))).await.expect("added").email
}

fn draft(from: &str, to: &str, subject: &str, text: &str) -> Draft {
    Draft {
        from: from.into(),
        to: vec![to.into()],
        subject: subject.into(),
        text: Some(text.into()),
        ..Default::default()
    }
}

/// Waits until Dovecot has delivered `n` messages to `user` (Postfix's queue hands them over
/// within a moment), and says what both logs show when it does not.
async fn expect_deliveries(h: &Harness, postfix: &Postfix, user: &str, n: usize) {
    for _ in 0..300 {
        if h.bed.dovecot.deliveries_for(user) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more, so a message delivered twice would show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.bed.dovecot.deliveries_for(user),
        n,
        "Dovecot should have delivered exactly {n} messages to {user}\n{}\n{}",
        postfix.diagnostics(),
        h.bed.dovecot.diagnostics()
    );
}

fn fast_config() -> mailwatch_engine::config::Config {
    let mut c = test_config();
    c.smtp.rate_per_second = 1000.0;
    c.smtp.wait_timeout = Duration::from_secs(20);
    c.smtp.connect_timeout = Duration::from_secs(10);
    c.smtp.command_timeout = Duration::from_secs(10);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_sent_from_either_kind_of_account_reaches_the_other_ones_wait() {
    let h = Harness::with_config(fast_config()).await;
    let postfix = Postfix::start(&h.bed.dovecot, PostfixOptions::default()).await;
    let token = h.bed.oauth.issue_refresh_token("olga@example.com", DEFAULT_CLIENT_ID);
    // Outlook's way: STARTTLS on the submission port, XOAUTH2 with a token for sending.
    let olga = oauth_sender(&h, "olga@example.com", token, smtp(postfix.submission_port(), Tls::Starttls)).await;
    // A password account on the implicit-TLS port.
    let pavel =
        password_sender(&h, "pavel@example.com", "pw", "pw", smtp(postfix.submissions_port(), Tls::Implicit)).await;

    for (from, to, code) in [(&olga, &pavel, "482913"), (&pavel, &olga, "517306")] {
        let options = WaitOptions { timeout: Duration::from_secs(30), ..Default::default() };
        let wait = h.engine.wait_code(to, &options);
        let send = async {
            // The wait is set up before the message leaves.
            tokio::time::sleep(Duration::from_millis(300)).await;
            h.engine
                .send(&draft(from, to, "Your verification code", &format!("Your verification code is {code}.")))
                .await
        };
        let (found, sent) = tokio::join!(wait, send);
        let sent = sent.unwrap_or_else(|e| panic!("{from} sends: {e}\n{}", postfix.diagnostics()));
        assert!(sent.sent && sent.message_id.starts_with('<'), "{sent:?}");
        let found =
            found.unwrap_or_else(|e| panic!("{to} waits for the code {from} sent: {e}\n{}", postfix.diagnostics()));
        assert_eq!(found.code.as_deref(), Some(code), "the whole loop, send to code, through real servers: {found:?}");
    }
    let stats = h.engine.send_stats();
    assert_eq!(
        (stats.smtp_messages_sent, stats.smtp_connections_created),
        (2, 2),
        "one connection per account: {stats:?}"
    );
    assert_eq!(h.bed.oauth.refresh_count("olga@example.com"), 2, "one refresh for IMAP and one for the SMTP scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_and_twenty_messages_take_three_connections_and_three_logins() {
    let mut config = fast_config();
    config.smtp.max_messages_per_connection = 50;
    let h = Harness::with_config(config).await;
    let postfix = Postfix::start(&h.bed.dovecot, PostfixOptions::default()).await;
    let from =
        password_sender(&h, "sam@example.com", "pw", "pw", smtp(postfix.submissions_port(), Tls::Implicit)).await;
    h.bed.dovecot.add_user("rita@example.com", "pw");
    for i in 0..120 {
        let d = draft(&from, "rita@example.com", &format!("Notice {i}"), &format!("Message number {i}."));
        h.engine.send(&d).await.unwrap_or_else(|e| panic!("message {i}: {e}\n{}", postfix.diagnostics()));
    }
    h.engine.shutdown().await;
    assert!(
        postfix.wait_closed(Duration::from_secs(10)).await,
        "every connection said QUIT\n{}",
        postfix.diagnostics()
    );
    assert_eq!(postfix.connections(), 3, "50 + 50 + 20 messages\n{}", postfix.diagnostics());
    assert_eq!(postfix.auths(), 3, "one login per connection, none before each message\n{}", postfix.diagnostics());
    expect_deliveries(&h, &postfix, "rita@example.com", 120).await;
    let stats = h.engine.send_stats();
    assert_eq!((stats.smtp_connections_created, stats.smtp_connections_reused), (3, 117), "{stats:?}");
    assert_eq!(stats.smtp_messages_per_connection, 40.0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_between_messages_costs_one_reconnect_and_no_duplicate() {
    let h = Harness::with_config(fast_config()).await;
    let postfix = Postfix::start(&h.bed.dovecot, PostfixOptions::default()).await;
    let proxy = FaultProxy::start(postfix.submissions_addr()).await;
    let from = password_sender(&h, "rick@example.com", "pw", "pw", smtp(proxy.port(), Tls::Implicit)).await;
    h.bed.dovecot.add_user("rose@example.com", "pw");
    for i in 0..20 {
        if i == 10 {
            // The idle connection is cut, as a NAT or the server's own timeout would.
            proxy.reset_all();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let d = draft(&from, "rose@example.com", &format!("Batch {i}"), "Hello.");
        h.engine.send(&d).await.unwrap_or_else(|e| panic!("message {i}: {e}\n{}", postfix.diagnostics()));
    }
    expect_deliveries(&h, &postfix, "rose@example.com", 20).await;
    let stats = h.engine.send_stats();
    assert_eq!(stats.smtp_retries, 1, "the message after the reset went once more, on a new connection: {stats:?}");
    assert_eq!(stats.smtp_broken_connections, 1, "{stats:?}");
    assert_eq!(stats.smtp_connections_created, 2, "{stats:?}");
    assert_eq!(stats.smtp_messages_sent, 20, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_senders_on_one_account_share_one_connection_and_a_stall_gives_the_exhausted_sentence() {
    let h = Harness::with_config(fast_config()).await;
    let postfix = Postfix::start(&h.bed.dovecot, PostfixOptions::default()).await;
    let from =
        password_sender(&h, "tess@example.com", "pw", "pw", smtp(postfix.submission_port(), Tls::Starttls)).await;
    h.bed.dovecot.add_user("ugo@example.com", "pw");
    let drafts: Vec<Draft> =
        (0..20).map(|i| draft(&from, "ugo@example.com", &format!("Parallel {i}"), "Hi.")).collect();
    let sends = drafts.iter().map(|d| h.engine.send(d));
    for (i, r) in join_all(sends).await.into_iter().enumerate() {
        r.unwrap_or_else(|e| panic!("sender {i}: {e}\n{}", postfix.diagnostics()));
    }
    expect_deliveries(&h, &postfix, "ugo@example.com", 20).await;
    assert_eq!(postfix.max_concurrent_connections(), 1, "never a second connection\n{}", postfix.diagnostics());
    let stats = h.engine.send_stats();
    assert_eq!(stats.smtp_connections_created, 1, "{stats:?}");
    assert!(stats.smtp_connection_waits >= 1, "the other senders waited their turn: {stats:?}");

    // A stalled path: the first sender hangs connecting, the second waits and gives up.
    let mut config = fast_config();
    config.smtp.wait_timeout = Duration::from_secs(1);
    config.smtp.connect_timeout = Duration::from_secs(8);
    let h2 = Harness::with_config(config).await;
    let postfix2 = Postfix::start(&h2.bed.dovecot, PostfixOptions::default()).await;
    let proxy = FaultProxy::start(postfix2.submissions_addr()).await;
    proxy.set_stall(true);
    let from = password_sender(&h2, "vic@example.com", "pw", "pw", smtp(proxy.port(), Tls::Implicit)).await;
    let d = draft(&from, "vic@example.com", "Stalled", "Hi.");
    let first = h2.engine.send(&d);
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        h2.engine.send(&d).await
    };
    let (_, second) = tokio::join!(first, second);
    let err = second.expect_err("the second sender cannot get the one connection");
    assert_eq!(err.code(), "pool_exhausted", "{err}");
    assert!(err.to_string().starts_with("SMTP connections exhausted for vic@example.com"), "{err}");
    assert_eq!(h2.engine.send_stats().smtp_wait_timeouts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_fails_its_line_with_the_servers_words_and_the_rest_go() {
    let mut config = fast_config();
    config.smtp.transient_tries = 2;
    config.smtp.transient_backoff = Duration::from_millis(200);
    let h = Harness::with_config(config).await;
    let options = PostfixOptions {
        rejected_recipients: vec!["ghost@example.com".into()],
        deferred_recipients: vec!["later@example.com".into()],
        ..Default::default()
    };
    let postfix = Postfix::start(&h.bed.dovecot, options).await;
    let from =
        password_sender(&h, "wes@example.com", "pw", "pw", smtp(postfix.submissions_port(), Tls::Implicit)).await;
    h.bed.dovecot.add_user("xena@example.com", "pw");
    let file = format!(
        "from,to,subject,text,name\n{from},xena@example.com,Hello {{{{name}}}},One,Ana\n{from},ghost@example.com,Hello,Two,Bo\n{from},xena@example.com,Hello {{{{name}}}},Three,Cy\n{from},,Hello,Four,Di\n{from},later@example.com,Hi,Five,Ed\n"
    );
    let report = h
        .engine
        .send_batch(&file, &BatchOptions { concurrency: 2, ..Default::default() }, &BatchControl::default())
        .await
        .expect("the batch runs");
    assert_eq!((report.sent, report.failed), (2, 3), "{report:#?}");
    let ghost = &report.failures[0];
    assert_eq!(
        (ghost.line, ghost.to.as_str(), ghost.code.as_str()),
        (3, "ghost@example.com", "smtp_refused"),
        "{report:#?}"
    );
    assert!(
        ghost.reason.contains("550") && ghost.reason.contains("Recipient address rejected"),
        "the server's words: {}",
        ghost.reason
    );
    assert_eq!((report.failures[1].line, report.failures[1].reason.as_str()), (5, "no to address"));
    let later = &report.failures[2];
    assert_eq!((later.line, later.code.as_str()), (6, "smtp_deferred"), "{report:#?}");
    assert!(later.reason.contains("450"), "the server's words: {}", later.reason);
    assert_eq!(h.engine.send_stats().smtp_deferred, 2, "a deferred message is tried again, up to smtp.transientTries");
    expect_deliveries(&h, &postfix, "xena@example.com", 2).await;
    assert_eq!(h.engine.send_stats().smtp_connections_created, 1, "the refusal left the connection usable (RSET)");

    // A message to a good and a refused recipient goes to neither: never to only some.
    let mut both = draft(&from, "xena@example.com", "Both", "Hi.");
    both.to.push("ghost@example.com".into());
    let err = h.engine.send(&both).await.expect_err("one recipient is refused");
    assert_eq!(err.code(), "smtp_refused", "{err}");
    assert!(err.to_string().contains("ghost@example.com"), "{err}");

    // The same file again with --resume sends nothing twice.
    let again = h
        .engine
        .send_batch(
            &file,
            &BatchOptions { concurrency: 2, resume: true, ..Default::default() },
            &BatchControl::default(),
        )
        .await
        .expect("the batch runs");
    assert_eq!((again.sent, again.already_sent), (0, 2), "{again:#?}");
    expect_deliveries(&h, &postfix, "xena@example.com", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_a_revoked_token_marks_the_account_once_without_a_storm() {
    let h = Harness::with_config(fast_config()).await;
    let postfix = Postfix::start(&h.bed.dovecot, PostfixOptions::default()).await;
    let wrong =
        password_sender(&h, "yuri@example.com", "right", "wrong", smtp(postfix.submissions_port(), Tls::Implicit))
            .await;
    h.bed.dovecot.add_user("zoe@example.com", "pw");
    let rows: String = (0..5).map(|i| format!("{wrong},zoe@example.com,Try {i},Hi\n")).collect();
    let report = h
        .engine
        .send_batch(
            &format!("from,to,subject,text\n{rows}"),
            &BatchOptions { concurrency: 3, ..Default::default() },
            &BatchControl::default(),
        )
        .await
        .expect("the batch runs");
    assert_eq!(report.failed, 5, "{report:#?}");
    assert_eq!(report.failures[0].code, "auth_failed", "{report:#?}");
    assert!(
        report.failures[1..].iter().all(|f| f.code == "skipped" || f.code == "auth_failed"),
        "the other lines are not tried, or get the first refusal: {report:#?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(postfix.auth_failures(), 1, "one refused login, not one per line in flight\n{}", postfix.diagnostics());
    assert_eq!(h.engine.account(&wrong).await.unwrap().status, AccountStatus::NeedsReauth);

    let token = h.bed.oauth.issue_refresh_token("abe@example.com", DEFAULT_CLIENT_ID);
    let revoked = oauth_sender(&h, "abe@example.com", token, smtp(postfix.submission_port(), Tls::Starttls)).await;
    h.bed.oauth.revoke_user("abe@example.com");
    let err =
        h.engine.send(&draft(&revoked, "zoe@example.com", "Hi", "Hi")).await.expect_err("a revoked token cannot send");
    assert_eq!(err.code(), "needs_reauth", "{err}");
    assert_eq!(h.engine.account(&revoked).await.unwrap().status, AccountStatus::NeedsReauth);
    assert_eq!(h.engine.send_stats().smtp_connections_created, 0, "no login was tried without a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_sending_scope_gets_a_clear_sentence_and_reading_goes_on() {
    let h = Harness::with_config(fast_config()).await;
    let postfix = Postfix::start(&h.bed.dovecot, PostfixOptions::default()).await;
    let token = h.bed.oauth.issue_refresh_token_without_smtp("cleo@example.com", DEFAULT_CLIENT_ID);
    let cleo = oauth_sender(&h, "cleo@example.com", token, smtp(postfix.submission_port(), Tls::Starttls)).await;
    let err = h.engine.send(&draft(&cleo, "cleo@example.com", "Hi", "Hi")).await.expect_err("no scope, no send");
    assert_eq!(err.code(), "scope_not_granted", "{err}");
    let text = err.to_string();
    assert!(text.contains("not granted sending") && text.contains("Reading mail is not affected"), "{text}");
    assert!(text.contains("AADSTS65001"), "the provider's words: {text}");
    let account = h.engine.account(&cleo).await.unwrap();
    assert_eq!(account.status, AccountStatus::Ok, "reading is not disturbed: {account:?}");
    h.engine
        .fetch(&cleo, &mailwatch_engine::imap::FolderSpec::Inbox, 5, false)
        .await
        .unwrap_or_else(|e| panic!("the IMAP side still works: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_given_up_halfway_never_leaves_its_connection_to_the_next_sender() {
    let h = Harness::with_config(fast_config()).await;
    let postfix = Postfix::start(&h.bed.dovecot, PostfixOptions::default()).await;
    let proxy = FaultProxy::start(postfix.submissions_addr()).await;
    let from = password_sender(&h, "ada@example.com", "pw", "pw", smtp(proxy.port(), Tls::Implicit)).await;
    h.bed.dovecot.add_user("ben@example.com", "pw");
    h.engine.send(&draft(&from, "ben@example.com", "First", "One.")).await.expect("the first message goes");
    // The next send is cut off mid-conversation: its replies are still on the way.
    proxy.set_latency(Duration::from_millis(400), Duration::from_millis(400));
    let given_up = tokio::time::timeout(
        Duration::from_millis(300),
        h.engine.send(&draft(&from, "ben@example.com", "Given up", "Two.")),
    )
    .await;
    assert!(given_up.is_err(), "the send was still going when its caller gave up");
    proxy.set_latency(Duration::ZERO, Duration::ZERO);
    let third = h.engine.send(&draft(&from, "ben@example.com", "Third", "Three.")).await;
    let third = third.unwrap_or_else(|e| panic!("the next sender is not handed a half-spoken connection: {e}"));
    assert!(!third.reused_connection, "it got a new connection: {third:?}");
    assert_eq!(h.engine.send_stats().smtp_connections_created, 2);
    expect_deliveries(&h, &postfix, "ben@example.com", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starttls_port_without_starttls_is_refused_and_nothing_goes_in_plain_text() {
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let h = Harness::with_config(fast_config()).await;
    // A server that does not offer STARTTLS: what a real submission server is not made to do
    // on cue, so a scripted one plays it and records every line it is sent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let heard = lines.clone();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        write.write_all(b"220 plain.example ESMTP\r\n").await.unwrap();
        let mut read = BufReader::new(read);
        let mut line = String::new();
        while read.read_line(&mut line).await.is_ok_and(|n| n > 0) {
            let command = line.trim_end().to_string();
            heard.lock().unwrap().push(command.clone());
            let reply: &[u8] = if command.to_ascii_uppercase().starts_with("EHLO") {
                b"250-plain.example\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
            } else if command.eq_ignore_ascii_case("QUIT") {
                b"221 bye\r\n"
            } else {
                b"502 5.5.1 not here\r\n"
            };
            let _ = write.write_all(reply).await;
            line.clear();
        }
    });
    let from = password_sender(&h, "cal@example.com", "pw", "pw-cal-never-sent", smtp(port, Tls::Starttls)).await;
    let err = h.engine.send(&draft(&from, "dan@example.com", "Hi", "Hi")).await.expect_err("no STARTTLS, no send");
    assert_eq!(err.code(), "tls_error", "{err}");
    assert!(err.to_string().contains("does not offer STARTTLS"), "{err}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines = lines.lock().unwrap().clone();
    assert!(
        !lines.iter().any(|l| l.to_ascii_uppercase().starts_with("AUTH") || l.to_ascii_uppercase().starts_with("MAIL")),
        "nothing but EHLO and QUIT went in plain text: {lines:?}"
    );
    assert_eq!(
        h.engine.account(&from).await.unwrap().status,
        AccountStatus::Ok,
        "a server problem is not the account's"
    );
}
