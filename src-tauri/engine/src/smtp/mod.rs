//! Sending mail over SMTP submission: connecting (implicit TLS or STARTTLS, never plain
//! text), signing in (XOAUTH2, PLAIN or LOGIN), and sending one message after another on a
//! connection that stays open.
//!
//! lettre speaks the protocol (its `AsyncSmtpConnection`) and writes the messages
//! ([`compose`]). What a reused connection needs on top is here:
//!
//! - **A deadline on every command.** A silent server must not hold a sender forever.
//! - **Where a failure came.** A connection that breaks before the message's data was handed
//!   over cannot have delivered it, so the message may go again on a new connection; one that
//!   breaks after may have, so it never goes again ([`SmtpError::may_have_been_sent`]).
//! - **No check before a send.** A NOOP before each message costs a round trip and proves
//!   little; the send itself shows a dead connection, before the data.
//! - **PIPELINING.** MAIL FROM and every RCPT TO go in one write when the server offers it,
//!   and DATA with them when there is one recipient, so a message on a reused connection costs
//!   two round trips (the envelope, the data), or three with several recipients.
//! - **The server's words** in every refusal, and a refused recipient leaves the connection
//!   usable (RSET) for the next message.

pub mod compose;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Quit, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::time::{timeout, timeout_at};

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::account::{SmtpEndpoint, Tls};
use crate::imap::TlsSetup;
use crate::net::{self, Proxy};
use crate::secrets::Secret;

/// Trust anchors for SMTP: the system's roots plus the same optional extra CA as IMAP. The
/// TLS settings for a host are built once per route (direct, or each proxy) and shared by
/// its connections, so session tickets are kept per proxy and server, as for IMAP.
/// Implicit TLS is set up with IMAP's [`TlsSetup`] (same trust anchors, same per-route ticket
/// caches) before lettre sees the stream; STARTTLS is lettre's.
pub struct SmtpTls {
    extra_ca: Option<Vec<u8>>,
    by_host: Mutex<HashMap<(String, String), TlsParameters>>,
    implicit: TlsSetup,
}

impl fmt::Debug for SmtpTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmtpTls")
    }
}

impl SmtpTls {
    /// System roots, plus the certificates in `extra_ca` (a PEM file, already checked by
    /// [`crate::imap::TlsSetup::new`]) when given; an unreadable file adds nothing here.
    pub fn new(extra_ca: Option<&Path>, implicit: TlsSetup) -> SmtpTls {
        SmtpTls {
            extra_ca: extra_ca.and_then(|p| std::fs::read(p).ok()),
            by_host: Mutex::new(HashMap::new()),
            implicit,
        }
    }

    fn params(&self, endpoint: &SmtpEndpoint, route: Option<&str>) -> Result<TlsParameters, SmtpError> {
        let mut by_host = self.by_host.lock().unwrap_or_else(|e| e.into_inner());
        let key = (route.unwrap_or_default().to_string(), endpoint.host.clone());
        if let Some(p) = by_host.get(&key) {
            return Ok(p.clone());
        }
        let tls_err = |reason: String| SmtpError::Tls { endpoint: endpoint.to_string(), reason };
        let mut builder = TlsParameters::builder(endpoint.host.clone()).certificate_store(CertificateStore::Default);
        if let Some(pem) = &self.extra_ca {
            let cert = Certificate::from_pem(pem).map_err(|e| tls_err(format!("the extra CA is not usable ({e})")))?;
            builder = builder.add_root_certificate(cert);
        }
        let params = builder.build_rustls().map_err(|e| tls_err(describe(&e)))?;
        by_host.insert(key, params.clone());
        Ok(params)
    }

    /// Implicit TLS over `tcp`, with the route's ticket cache.
    async fn wrap(
        &self,
        endpoint: &SmtpEndpoint,
        tcp: TcpStream,
        route: Option<&str>,
    ) -> Result<TlsTransport, SmtpError> {
        let tls_err = |reason: String| SmtpError::Tls { endpoint: endpoint.to_string(), reason };
        let name = ServerName::try_from(endpoint.host.clone())
            .map_err(|_| tls_err(format!("{:?} is not a valid server name", endpoint.host)))?;
        let stream = TlsConnector::from(self.implicit.config_for(route))
            .connect(name, tcp)
            .await
            .map_err(|e| tls_err(e.to_string()))?;
        Ok(TlsTransport(stream))
    }
}

/// An implicit-TLS stream handed to lettre as an already open transport.
#[derive(Debug)]
struct TlsTransport(tokio_rustls::client::TlsStream<TcpStream>);

impl tokio::io::AsyncRead for TlsTransport {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsTransport {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsTransport {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// How a connection signs in.
pub enum SmtpCredential<'a> {
    /// PLAIN (or LOGIN where PLAIN is not offered) with the account's password.
    Password {
        /// The user name, the address.
        user: &'a str,
        /// The password or app password.
        password: &'a Secret,
    },
    /// XOAUTH2 with an access token for sending.
    OAuth2 {
        /// The user name, the address.
        user: &'a str,
        /// The bearer token.
        access_token: &'a Secret,
    },
}

/// Why connecting, signing in or sending failed. Never carries a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SmtpError {
    /// TCP could not connect (refused, unreachable, no such host).
    #[error("cannot reach the SMTP server {endpoint}: {reason}")]
    Connect {
        /// host:port.
        endpoint: String,
        /// What happened.
        reason: String,
    },
    /// The account's proxy could not be used; nothing went direct.
    #[error("cannot reach the SMTP server {endpoint}: {source}")]
    Proxy {
        /// host:port of the server.
        endpoint: String,
        /// What went wrong with the proxy; names the proxy's host, never its password.
        #[source]
        source: crate::net::NetError,
    },
    /// The TLS handshake failed (certificate, protocol).
    #[error("cannot set up TLS with the SMTP server {endpoint}: {reason}")]
    Tls {
        /// host:port.
        endpoint: String,
        /// What happened.
        reason: String,
    },
    /// A STARTTLS port that does not offer STARTTLS. Mailwatch does not go on in plain text.
    #[error(
        "the SMTP server {endpoint} does not offer STARTTLS, and Mailwatch never sends a password or mail in plain text; use the server's implicit-TLS port (usually 465) with --smtp-tls implicit"
    )]
    NoStarttls {
        /// host:port.
        endpoint: String,
    },
    /// The server offers no sign-in mechanism Mailwatch has for this account.
    #[error("cannot sign in to the SMTP server {endpoint}: it offers no {wanted} sign-in")]
    NoMechanism {
        /// host:port.
        endpoint: String,
        /// What the account needs ("XOAUTH2", "PLAIN or LOGIN").
        wanted: &'static str,
    },
    /// The server refused the account's credentials.
    #[error("the SMTP server {endpoint} refused to sign in {email}: {reply}")]
    AuthFailed {
        /// host:port.
        endpoint: String,
        /// The account.
        email: String,
        /// The server's reply.
        reply: String,
    },
    /// The server refused part of a message, or the sign-in for now, with a 4xx or 5xx reply.
    #[error("the SMTP server {endpoint} refused {what}: {reply}")]
    Refused {
        /// host:port.
        endpoint: String,
        /// What it refused: "the recipient bob@example.com", "the sender", "the message".
        what: String,
        /// The server's reply, code first.
        reply: String,
        /// A 4xx reply: the same message may go through later.
        transient: bool,
    },
    /// The server did not answer in time; the connection is dropped.
    #[error("the SMTP server {endpoint} did not answer {during} within {} s", waited.as_secs_f64())]
    Timeout {
        /// host:port.
        endpoint: String,
        /// What was going on.
        during: &'static str,
        /// The deadline.
        waited: Duration,
        /// Whether the message's data had been handed over.
        after_data: bool,
    },
    /// The connection broke.
    #[error("the connection to the SMTP server {endpoint} broke {}: {reason}", if *after_data { "after the message was handed over, so it may have been sent" } else { "before the message was handed over" })]
    Broken {
        /// host:port.
        endpoint: String,
        /// What happened.
        reason: String,
        /// Whether the message's data had been handed over.
        after_data: bool,
    },
    /// The message cannot go to this server as it is (a non-ASCII address to a server
    /// without SMTPUTF8, say).
    #[error("cannot send this message through {endpoint}: {reason}")]
    Unsendable {
        /// host:port.
        endpoint: String,
        /// Why.
        reason: String,
    },
}

impl SmtpError {
    /// Whether the connection is gone or in an unknown state: it must be closed, and a new
    /// one may work.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            SmtpError::Timeout { .. } | SmtpError::Broken { .. } | SmtpError::Connect { .. } | SmtpError::Proxy { .. }
        )
    }

    /// Whether the server may have accepted the message although the send failed: the
    /// connection broke or went silent after the data was handed over. Such a message is
    /// never sent again.
    pub fn may_have_been_sent(&self) -> bool {
        matches!(self, SmtpError::Timeout { after_data: true, .. } | SmtpError::Broken { after_data: true, .. })
    }

    /// A 4xx refusal: the same message may be accepted later.
    pub fn is_transient(&self) -> bool {
        matches!(self, SmtpError::Refused { transient: true, .. })
    }
}

/// A line sent as it is (an AUTH exchange lettre's own would end early, an empty answer).
/// Its `Display` is what goes on the wire, so it is never logged.
struct Line(String);

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\r\n", self.0)
    }
}

/// Text written as it is, without a line end of its own.
struct Raw(String);

impl fmt::Display for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The message's data as it goes after DATA: a line that starts with a dot gets a second one
/// (RFC 5321 §4.5.2), and the end-of-data line follows. `None` when the message is not UTF-8
/// (lettre's builder never writes such a message), which then goes through lettre's own
/// writer.
fn data_block(message: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(message).ok()?;
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    if !out.ends_with("\r\n") {
        if out.ends_with('\n') {
            out.pop();
        }
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    Some(out)
}

/// MAIL FROM, every RCPT TO and perhaps DATA, written at once (PIPELINING).
struct Group<'a> {
    mail: &'a Mail,
    rcpts: &'a [Rcpt],
    data: bool,
}

impl fmt::Display for Group<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.mail)?;
        for r in self.rcpts {
            write!(f, "{r}")?;
        }
        if self.data {
            write!(f, "{Data}")?;
        }
        Ok(())
    }
}

/// A signed-in SMTP connection, ready for the next message.
pub struct SmtpConnection {
    conn: AsyncSmtpConnection,
    endpoint: SmtpEndpoint,
    pipelining: bool,
    smtputf8: bool,
    eightbit: bool,
    command_timeout: Duration,
    sent: usize,
}

impl fmt::Debug for SmtpConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConnection").field("endpoint", &self.endpoint).field("sent", &self.sent).finish()
    }
}

/// The server's reply in one line: code, then its text.
fn reply_of(e: &lettre::transport::smtp::Error) -> String {
    let text = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default();
    match e.status() {
        Some(code) => format!("{code} {}", text.trim()).trim().to_string(),
        None => describe(e),
    }
}

/// An error with its causes, in words (lettre's own `Display` already names the first).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Opens a signed-in connection: TCP, TLS (implicit, or STARTTLS which must be offered),
/// EHLO, AUTH. `connect_timeout` bounds all of it.
///
/// # Errors
/// [`SmtpError::Connect`], [`SmtpError::Tls`], [`SmtpError::NoStarttls`],
/// [`SmtpError::AuthFailed`], [`SmtpError::NoMechanism`], [`SmtpError::Timeout`].
pub async fn connect(
    endpoint: &SmtpEndpoint,
    tls: &SmtpTls,
    proxy: Option<&Proxy>,
    credential: SmtpCredential<'_>,
    connect_timeout: Duration,
    command_timeout: Duration,
) -> Result<SmtpConnection, SmtpError> {
    let name = endpoint.to_string();
    let timed_out = || SmtpError::Timeout {
        endpoint: name.clone(),
        during: "while connecting and signing in",
        waited: connect_timeout,
        after_data: false,
    };
    timeout(connect_timeout, open(endpoint, tls, proxy, credential, command_timeout)).await.map_err(|_| timed_out())?
}

async fn open(
    endpoint: &SmtpEndpoint,
    tls: &SmtpTls,
    proxy: Option<&Proxy>,
    credential: SmtpCredential<'_>,
    command_timeout: Duration,
) -> Result<SmtpConnection, SmtpError> {
    let name = endpoint.to_string();
    let route = proxy.map(Proxy::route);
    let route = route.as_deref();
    let params = tls.params(endpoint, route)?;
    let hello = ClientId::default();
    // Through the account's proxy when it has one, and then never without it.
    let tcp = net::dial(proxy, &endpoint.host, endpoint.port).await.map_err(|e| match e {
        net::NetError::Direct { reason } => SmtpError::Connect { endpoint: name.clone(), reason },
        source => SmtpError::Proxy { endpoint: name.clone(), source },
    })?;
    let classify = |e: lettre::transport::smtp::Error| {
        if e.is_tls() {
            SmtpError::Tls { endpoint: name.clone(), reason: describe(&e) }
        } else {
            SmtpError::Connect { endpoint: name.clone(), reason: describe(&e) }
        }
    };
    let mut conn = match endpoint.tls {
        Tls::Implicit => {
            let stream = tls.wrap(endpoint, tcp, route).await?;
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello).await.map_err(classify)?
        }
        Tls::Starttls => {
            let mut conn =
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello).await.map_err(classify)?;
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(SmtpError::NoStarttls { endpoint: name });
            }
            conn.starttls(params, &hello).await.map_err(classify)?;
            conn
        }
    };
    // lettre keeps only the extensions it knows from EHLO; PIPELINING is not one of them,
    // so ask once more and read the list (one round trip per connection, not per message).
    let ehlo = conn.command(Ehlo::new(hello)).await.map_err(classify)?;
    let pipelining = ehlo.message().any(|l| l.trim().eq_ignore_ascii_case("PIPELINING"));
    let info = conn.server_info().clone();
    let mut c = SmtpConnection {
        conn,
        endpoint: endpoint.clone(),
        pipelining,
        smtputf8: info.supports_feature(Extension::SmtpUtfEight),
        eightbit: info.supports_feature(Extension::EightBitMime),
        command_timeout,
        sent: 0,
    };
    if let Err(e) = c.authenticate(credential, &info).await {
        c.conn.abort().await;
        return Err(e);
    }
    Ok(c)
}

impl SmtpConnection {
    /// Messages sent on this connection so far.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Whether the server takes the envelope in one write.
    pub fn pipelines(&self) -> bool {
        self.pipelining
    }

    fn name(&self) -> String {
        self.endpoint.to_string()
    }

    /// The error for a failed command: the server's refusal, or a broken connection.
    fn failed(&self, e: lettre::transport::smtp::Error, what: &str, after_data: bool) -> SmtpError {
        match e.status() {
            Some(_) => SmtpError::Refused {
                endpoint: self.name(),
                what: what.to_string(),
                reply: reply_of(&e),
                transient: e.is_transient(),
            },
            None => SmtpError::Broken { endpoint: self.name(), reason: describe(&e), after_data },
        }
    }

    fn timed_out(&self, during: &'static str, after_data: bool) -> SmtpError {
        SmtpError::Timeout { endpoint: self.name(), during, waited: self.command_timeout, after_data }
    }

    async fn authenticate(
        &mut self,
        credential: SmtpCredential<'_>,
        info: &lettre::transport::smtp::extension::ServerInfo,
    ) -> Result<(), SmtpError> {
        let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
        let t = self.command_timeout;
        let (user, result) = match credential {
            SmtpCredential::OAuth2 { user, access_token } => {
                if !info.supports_auth_mechanism(Mechanism::Xoauth2) {
                    return Err(SmtpError::NoMechanism { endpoint: self.name(), wanted: "XOAUTH2" });
                }
                let ir = b64(format!("user={user}\x01auth=Bearer {}\x01\x01", access_token.expose()));
                let first = timeout(t, self.conn.command(Line(format!("AUTH XOAUTH2 {ir}")))).await;
                let result = match first {
                    // A refused token gets an error challenge (JSON) that wants an empty answer;
                    // the refusal follows it.
                    Ok(Ok(r)) if r.has_code(334) => match timeout(t, self.conn.command(Line(String::new()))).await {
                        Ok(Ok(r)) => Err(Ok(r)),
                        Ok(Err(e)) => Err(Err(e)),
                        Err(_) => return Err(self.timed_out("while signing in", false)),
                    },
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(Err(e)),
                    Err(_) => return Err(self.timed_out("while signing in", false)),
                };
                (user, result)
            }
            SmtpCredential::Password { user, password } => {
                let result = if info.supports_auth_mechanism(Mechanism::Plain) {
                    let ir = b64(format!("\0{user}\0{}", password.expose()));
                    match timeout(t, self.conn.command(Line(format!("AUTH PLAIN {ir}")))).await {
                        Ok(Ok(r)) if r.has_code(334) => Err(Ok(r)),
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(e)) => Err(Err(e)),
                        Err(_) => return Err(self.timed_out("while signing in", false)),
                    }
                } else if info.supports_auth_mechanism(Mechanism::Login) {
                    let creds = Credentials::new(user.to_string(), password.expose().to_string());
                    match timeout(t, self.conn.auth(&[Mechanism::Login], &creds)).await {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(e)) => Err(Err(e)),
                        Err(_) => return Err(self.timed_out("while signing in", false)),
                    }
                } else {
                    return Err(SmtpError::NoMechanism { endpoint: self.name(), wanted: "PLAIN or LOGIN" });
                };
                (user, result)
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(Ok(unexpected)) => Err(SmtpError::AuthFailed {
                endpoint: self.name(),
                email: user.to_string(),
                reply: format!("{} {}", unexpected.code(), unexpected.message().collect::<Vec<_>>().join(" ")),
            }),
            Err(Err(e)) if e.is_transient() => Err(self.failed(e, "the sign-in for now", false)),
            Err(Err(e)) if e.status().is_some() => {
                Err(SmtpError::AuthFailed { endpoint: self.name(), email: user.to_string(), reply: reply_of(&e) })
            }
            Err(Err(e)) => Err(self.failed(e, "the sign-in", false)),
        }
    }

    /// Sends one message to the envelope's recipients and returns the server's reply (which
    /// usually names its queue id).
    ///
    /// # Errors
    /// [`SmtpError::Refused`] for a refused sender, recipient or message (the connection stays
    /// usable); [`SmtpError::Broken`] and [`SmtpError::Timeout`] when the connection failed,
    /// with whether the data had been handed over; [`SmtpError::Unsendable`].
    pub async fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<String, SmtpError> {
        let mut params = Vec::new();
        let non_ascii = envelope.from().into_iter().chain(envelope.to()).any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii {
            if !self.smtputf8 {
                return Err(SmtpError::Unsendable {
                    endpoint: self.name(),
                    reason: "an address is not ASCII and the server does not take such addresses (no SMTPUTF8)".into(),
                });
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !message.is_ascii() {
            if !self.eightbit {
                return Err(SmtpError::Unsendable {
                    endpoint: self.name(),
                    reason: "the message is not 7-bit and the server does not take 8-bit mail (no 8BITMIME)".into(),
                });
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mail = Mail::new(envelope.from().cloned(), params);
        let rcpts: Vec<Rcpt> = envelope.to().iter().map(|a| Rcpt::new(a.clone(), vec![])).collect();
        let t = self.command_timeout;

        // The envelope: one write and one reply each when pipelined, else command by command.
        // With one recipient, DATA goes in the same write (RFC 2920 allows it as the group's
        // last command): a refused recipient then leaves no valid one, the server refuses DATA,
        // and no data is sent. With several, DATA waits for their replies, so a message never
        // goes to only some of them.
        let data_in_group = self.pipelining && rcpts.len() == 1;
        let mut refusal = None;
        let mut data_open = false;
        if self.pipelining {
            // One deadline for the group: a silent server costs one timeout, not one per reply.
            let deadline = tokio::time::Instant::now() + t;
            let first =
                timeout_at(deadline, self.conn.command(Group { mail: &mail, rcpts: &rcpts, data: data_in_group }))
                    .await;
            let mut replies = vec![first];
            for _ in 0..rcpts.len() + usize::from(data_in_group) {
                if matches!(replies.last(), Some(Err(_))) {
                    break;
                }
                replies.push(timeout_at(deadline, self.conn.read_response()).await);
            }
            for (i, reply) in replies.into_iter().enumerate() {
                let what = match i {
                    0 => "the sender".to_string(),
                    i if i <= rcpts.len() => format!("the recipient {}", envelope.to()[i - 1]),
                    _ => "the message".to_string(),
                };
                let is_data = i > rcpts.len();
                match reply {
                    Ok(Ok(_)) => data_open |= is_data,
                    // DATA refused after a refused sender or recipient says nothing new.
                    Ok(Err(e)) if e.status().is_some() => {
                        refusal.get_or_insert(self.failed(e, &what, false));
                    }
                    Ok(Err(e)) => return Err(self.failed(e, &what, false)),
                    Err(_) => return Err(self.timed_out("to the envelope", false)),
                }
            }
        } else {
            match timeout(t, self.conn.command(&mail)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.status().is_some() => refusal = Some(self.failed(e, "the sender", false)),
                Ok(Err(e)) => return Err(self.failed(e, "the sender", false)),
                Err(_) => return Err(self.timed_out("to MAIL FROM", false)),
            }
            for (r, addr) in rcpts.iter().zip(envelope.to()) {
                if refusal.is_some() {
                    break;
                }
                match timeout(t, self.conn.command(r)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) if e.status().is_some() => {
                        refusal = Some(self.failed(e, &format!("the recipient {addr}"), false))
                    }
                    Ok(Err(e)) => return Err(self.failed(e, "the recipient", false)),
                    Err(_) => return Err(self.timed_out("to RCPT TO", false)),
                }
            }
        }
        if refusal.is_none() && !data_open {
            match timeout(t, self.conn.command(Data)).await {
                Ok(Ok(_)) => data_open = true,
                // Refused: MAIL and RCPT still stand, so the RSET below ends the transaction.
                Ok(Err(e)) if e.status().is_some() => refusal = Some(self.failed(e, "the message", false)),
                Ok(Err(e)) => return Err(self.failed(e, "the message", false)),
                Err(_) => return Err(self.timed_out("to DATA", false)),
            }
        }
        if let Some(refusal) = refusal {
            // A server that opened DATA all the same gets an empty one, which has no valid
            // recipient to go to; then start over cleanly, so the connection serves the next
            // message.
            if data_open {
                match timeout(t, self.conn.command(Raw(".\r\n".into()))).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) if e.status().is_some() => {}
                    Ok(Err(e)) => return Err(self.failed(e, "the end of an empty message", false)),
                    Err(_) => return Err(self.timed_out("to the end of an empty message", false)),
                }
            }
            return match timeout(t, self.conn.command(Rset)).await {
                Ok(Ok(_)) => Err(refusal),
                Ok(Err(e)) => Err(self.failed(e, "RSET", false)),
                Err(_) => Err(self.timed_out("to RSET", false)),
            };
        }

        // From here on, a broken connection may have delivered the message. The data and its
        // end go in one write: lettre writes them in two, and the second then waits for the
        // server's delayed ACK of the first (Nagle), 40 ms per message on Linux.
        let sent = match data_block(message) {
            Some(block) => timeout(t, self.conn.command(Raw(block))).await,
            None => timeout(t, self.conn.message(message)).await,
        };
        match sent {
            Ok(Ok(reply)) => {
                self.sent += 1;
                Ok(format!("{} {}", reply.code(), reply.message().collect::<Vec<_>>().join(" ")))
            }
            Ok(Err(e)) => Err(self.failed(e, "the message", true)),
            Err(_) => Err(self.timed_out("to the message's data", true)),
        }
    }

    /// Says goodbye (QUIT) within `wait`, then drops the connection.
    pub async fn quit(mut self, wait: Duration) {
        let _ = timeout(wait, self.conn.command(Quit)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::data_block;

    #[test]
    fn the_data_block_doubles_leading_dots_and_ends_with_a_lone_dot() {
        assert_eq!(data_block(b"a\r\n.b\r\n..c\r\n").unwrap(), "a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(data_block(b".\r\nend").unwrap(), "..\r\nend\r\n.\r\n", "a line of one dot is not the end");
        assert_eq!(data_block(b"x\n").unwrap(), "x\r\n.\r\n");
        assert!(data_block(&[0xff, 0xfe]).is_none());
    }
}
