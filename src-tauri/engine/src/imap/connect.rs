//! Opening a connection: TCP, TLS (implicit or STARTTLS), the greeting, and signing in with
//! XOAUTH2 or LOGIN.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::{ClientSessionMemoryCache, Resumption};
use tokio_rustls::rustls::{self, ClientConfig, HandshakeKind, RootCertStore};

use super::{ImapError, ImapSession, ImapStream};
use crate::account::{ImapEndpoint, Tls};
use crate::secrets::Secret;

/// Trust anchors for IMAP: the system's roots plus an optional extra CA (a company proxy, or
/// the test bed's CA). Built once and shared by every connection, and with it the cache of
/// TLS sessions: a reconnection to a server seen before resumes with a session ticket,
/// which skips the certificate check and the server's signature. Tickets prove the
/// server's identity only, so accounts on one server share them; the login is per account.
#[derive(Clone)]
pub struct TlsSetup {
    config: Arc<ClientConfig>,
    handshakes: Arc<Handshakes>,
}

/// Servers whose session tickets are remembered (8 tickets each, the oldest server
/// forgotten first). One per IMAP host, not per account: 1,000 Outlook accounts are one.
const TLS_SERVERS_REMEMBERED: usize = 256;

#[derive(Default)]
struct Handshakes {
    full: AtomicU64,
    resumed: AtomicU64,
}

/// How TLS handshakes went, for the stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsStats {
    /// Handshakes with a certificate check (no ticket, or the server refused it).
    pub tls_full_handshakes: u64,
    /// Handshakes resumed with a session ticket.
    pub tls_resumed_handshakes: u64,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSetup")
    }
}

/// Why the trust anchors could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("cannot load the extra CA certificates from {path}: {reason}")]
pub struct TlsSetupError {
    /// The PEM file.
    pub path: String,
    /// What was wrong with it.
    pub reason: String,
}

impl TlsSetup {
    /// System roots, plus every certificate in `extra_ca` (a PEM file) when given.
    ///
    /// # Errors
    /// The extra CA file is missing, unreadable or holds no certificate.
    pub fn new(extra_ca: Option<&Path>) -> Result<TlsSetup, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = extra_ca {
            let err = |reason: String| TlsSetupError { path: path.display().to_string(), reason };
            let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
            let mut added = 0;
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| err(format!("not a valid PEM certificate ({e})")))?;
                roots.add(cert).map_err(|e| err(e.to_string()))?;
                added += 1;
            }
            if added == 0 {
                return Err(err("the file holds no certificate".into()));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = Resumption::store(Arc::new(ClientSessionMemoryCache::new(8 * TLS_SERVERS_REMEMBERED)));
        Ok(TlsSetup { config: Arc::new(config), handshakes: Arc::default() })
    }

    /// Full and resumed handshakes so far.
    pub fn stats(&self) -> TlsStats {
        TlsStats {
            tls_full_handshakes: self.handshakes.full.load(Ordering::Relaxed),
            tls_resumed_handshakes: self.handshakes.resumed.load(Ordering::Relaxed),
        }
    }

    async fn wrap(&self, endpoint: &ImapEndpoint, tcp: TcpStream) -> Result<ImapStream, ImapError> {
        let name = ServerName::try_from(endpoint.host.clone()).map_err(|_| ImapError::Tls {
            endpoint: endpoint.to_string(),
            reason: format!("{:?} is not a valid server name", endpoint.host),
        })?;
        let stream = TlsConnector::from(self.config.clone()).connect(name, tcp).await.map_err(|e| ImapError::Tls {
            endpoint: endpoint.to_string(),
            reason: describe_tls_error(&e, endpoint.tls),
        })?;
        let counter = match stream.get_ref().1.handshake_kind() {
            Some(HandshakeKind::Resumed) => &self.handshakes.resumed,
            _ => &self.handshakes.full,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(stream)
    }
}

fn describe_tls_error(e: &std::io::Error, mode: Tls) -> String {
    let text = e.to_string();
    let hint = match mode {
        Tls::Implicit
            if text.contains("InvalidContentType") || text.contains("corrupt message") || text.contains("eof") =>
        {
            " (the port may expect STARTTLS or plain IMAP; check the port and TLS mode)"
        }
        _ if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") => {
            " (the server's certificate is not trusted; pass its CA with --extra-ca)"
        }
        _ => "",
    };
    format!("{text}{hint}")
}

/// What the account signs in with.
pub enum Credential<'a> {
    /// AUTHENTICATE XOAUTH2 with a bearer token.
    OAuth2 {
        /// The IMAP user (the address).
        user: &'a str,
        /// The access token.
        access_token: &'a Secret,
    },
    /// LOGIN with a password.
    Password {
        /// The IMAP user.
        user: &'a str,
        /// The password or app password.
        password: &'a Secret,
    },
}

impl Credential<'_> {
    fn user(&self) -> &str {
        match self {
            Credential::OAuth2 { user, .. } | Credential::Password { user, .. } => user,
        }
    }
}

/// Answers every challenge after the initial response with an empty line, which is how a
/// client acknowledges an XOAUTH2 error challenge so the server can send its NO.
struct XOAuth2 {
    initial: Option<Vec<u8>>,
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        self.initial.take().unwrap_or_default()
    }
}

/// Connects to `endpoint`, sets up TLS, reads the greeting and signs in.
///
/// `connect_timeout` bounds everything up to a signed-in session; `command_timeout` bounds
/// each later command on it.
///
/// # Errors
/// [`ImapError::Connect`], [`ImapError::Tls`], [`ImapError::AuthFailed`],
/// [`ImapError::TooManyConnections`] or [`ImapError::Timeout`].
pub async fn connect(
    endpoint: &ImapEndpoint,
    tls: &TlsSetup,
    credential: Credential<'_>,
    connect_timeout: Duration,
    command_timeout: Duration,
) -> Result<ImapSession, ImapError> {
    let ep = endpoint.to_string();
    match timeout(connect_timeout, connect_inner(endpoint, tls, credential, command_timeout)).await {
        Ok(r) => r,
        Err(_) => {
            Err(ImapError::Timeout { endpoint: ep, phase: "connecting and signing in".into(), after: connect_timeout })
        }
    }
}

async fn connect_inner(
    endpoint: &ImapEndpoint,
    tls: &TlsSetup,
    credential: Credential<'_>,
    command_timeout: Duration,
) -> Result<ImapSession, ImapError> {
    let ep = endpoint.to_string();
    let lost = |reason: String| ImapError::ConnectionLost { endpoint: ep.clone(), reason };
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| ImapError::Connect { endpoint: ep.clone(), reason: e.to_string() })?;
    let _ = tcp.set_nodelay(true);

    let (mut client, greeting) = match endpoint.tls {
        Tls::Implicit => {
            let stream = tls.wrap(endpoint, tcp).await?;
            let mut client = async_imap::Client::new(stream);
            let greeting = read_greeting(&mut client).await.map_err(lost)?;
            (client, greeting)
        }
        Tls::Starttls => {
            let mut plain = async_imap::Client::new(tcp);
            read_greeting(&mut plain).await.map_err(lost)?;
            plain.run_command_and_check_ok("STARTTLS", None).await.map_err(|e| ImapError::Tls {
                endpoint: ep.clone(),
                reason: format!("the server refused STARTTLS ({}); try implicit TLS on port 993", super::describe(&e)),
            })?;
            let stream = tls.wrap(endpoint, plain.into_inner()).await?;
            // No greeting follows STARTTLS; capabilities must be asked for again.
            (async_imap::Client::new(stream), String::new())
        }
    };
    let _ = &mut client;

    let user = credential.user().to_string();
    let result = match credential {
        Credential::OAuth2 { user, access_token } => {
            let sasl = format!("user={user}\x01auth=Bearer {}\x01\x01", access_token.expose()).into_bytes();
            if greeting.contains("SASL-IR") {
                let ir = base64::engine::general_purpose::STANDARD.encode(&sasl);
                client.authenticate(format!("XOAUTH2 {ir}"), XOAuth2 { initial: None }).await
            } else {
                client.authenticate("XOAUTH2", XOAuth2 { initial: Some(sasl) }).await
            }
        }
        Credential::Password { user, password } => client.login(user, password.expose()).await,
    };
    match result {
        Ok(session) => Ok(ImapSession::new(session, ep, command_timeout)),
        Err((e, _client)) => Err(map_auth_error(&ep, &user, e)),
    }
}

async fn read_greeting<T>(client: &mut async_imap::Client<T>) -> Result<String, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    match client.read_response().await {
        Ok(Some(resp)) => Ok(format!("{:?}", resp.parsed())),
        Ok(None) => Err("the server closed the connection before its greeting".into()),
        Err(e) => Err(format!("no greeting from the server ({})", super::describe_io(&e))),
    }
}

fn map_auth_error(endpoint: &str, user: &str, e: async_imap::error::Error) -> ImapError {
    use async_imap::error::Error as E;
    let (endpoint, user) = (endpoint.to_string(), user.to_string());
    match e {
        E::No(raw) | E::Bad(raw) => super::refusal(endpoint, "sign-in".into(), &raw, |endpoint, command, reason| {
            if reason.contains("[LIMIT]") || reason.to_ascii_lowercase().contains("too many") {
                ImapError::TooManyConnections { endpoint, user, reason }
            } else if reason.contains("[UNAVAILABLE]") {
                ImapError::Refused { endpoint, command, reason }
            } else {
                ImapError::AuthFailed { endpoint, user, reason }
            }
        }),
        E::Io(io) => ImapError::ConnectionLost { endpoint, reason: super::describe_io(&io) },
        E::ConnectionLost => {
            ImapError::ConnectionLost { endpoint, reason: "the server closed the connection during sign-in".into() }
        }
        other => ImapError::ConnectionLost {
            endpoint,
            reason: format!("unreadable answer during sign-in: {}", super::describe(&other)),
        },
    }
}
