//! Opening a connection: TCP, TLS (implicit or STARTTLS), the greeting, and signing in with
//! XOAUTH2 or LOGIN.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
use crate::net::{self, Proxy};
use crate::secrets::Secret;

/// Trust anchors for IMAP: the system's roots plus an optional extra CA (a company proxy, or
/// the test bed's CA). Built once and shared by every connection, and with it the cache of
/// TLS sessions: a reconnection to a server seen before resumes with a session ticket,
/// which skips the certificate check and the server's signature. Tickets prove the
/// server's identity only, so accounts on one server share them; the login is per account.
///
/// Connections through a proxy keep their tickets apart, one cache per route (the proxy and
/// its user name, see [`crate::net::Proxy::route`]): a ticket is a stable identifier, and
/// showing the one issued to one exit IP from another would tie the two together.
#[derive(Clone)]
pub struct TlsSetup {
    config: Arc<ClientConfig>,
    routes: Arc<Mutex<HashMap<String, Arc<ClientConfig>>>>,
    handshakes: Arc<Handshakes>,
}

/// Servers whose tickets are remembered per proxied route: such a route serves one account,
/// or one group's accounts, which rarely use more than a few servers.
const TLS_SERVERS_PER_ROUTE: usize = 4;

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
    /// The client configuration (trust anchors, session tickets) for another TLS client,
    /// such as the Graph HTTP client.
    pub(crate) fn client_config(&self) -> ClientConfig {
        (*self.config).clone()
    }

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
        Ok(TlsSetup { config: Arc::new(config), routes: Arc::default(), handshakes: Arc::default() })
    }

    /// The client config for connections through `route` (direct when `None`): the same trust
    /// anchors, a ticket cache of the route's own.
    pub fn config_for(&self, route: Option<&str>) -> Arc<ClientConfig> {
        let Some(route) = route else { return self.config.clone() };
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        routes
            .entry(route.to_string())
            .or_insert_with(|| {
                let mut config = (*self.config).clone();
                config.resumption =
                    Resumption::store(Arc::new(ClientSessionMemoryCache::new(8 * TLS_SERVERS_PER_ROUTE)));
                Arc::new(config)
            })
            .clone()
    }

    /// Counts a finished handshake.
    pub fn count(&self, kind: Option<HandshakeKind>) {
        let counter = match kind {
            Some(HandshakeKind::Resumed) => &self.handshakes.resumed,
            _ => &self.handshakes.full,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Full and resumed handshakes so far.
    pub fn stats(&self) -> TlsStats {
        TlsStats {
            tls_full_handshakes: self.handshakes.full.load(Ordering::Relaxed),
            tls_resumed_handshakes: self.handshakes.resumed.load(Ordering::Relaxed),
        }
    }

    async fn wrap(
        &self,
        endpoint: &ImapEndpoint,
        tcp: TcpStream,
        route: Option<&str>,
    ) -> Result<ImapStream, ImapError> {
        let name = ServerName::try_from(endpoint.host.clone()).map_err(|_| ImapError::Tls {
            endpoint: endpoint.to_string(),
            reason: format!("{:?} is not a valid server name", endpoint.host),
        })?;
        let stream = TlsConnector::from(self.config_for(route)).connect(name, tcp).await.map_err(|e| {
            ImapError::Tls { endpoint: endpoint.to_string(), reason: describe_tls_error(&e, endpoint.tls) }
        })?;
        self.count(stream.get_ref().1.handshake_kind());
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

/// Connects to `endpoint` (through `proxy` when given, and then never without it), sets up
/// TLS, reads the greeting and signs in.
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
    proxy: Option<&Proxy>,
    credential: Credential<'_>,
    connect_timeout: Duration,
    command_timeout: Duration,
) -> Result<ImapSession, ImapError> {
    let ep = endpoint.to_string();
    match timeout(connect_timeout, connect_inner(endpoint, tls, proxy, credential, command_timeout)).await {
        Ok(r) => r,
        Err(_) => {
            let phase = match proxy {
                Some(p) => format!("connecting through the proxy {} and signing in", p.url.host_port()),
                None => "connecting and signing in".into(),
            };
            Err(ImapError::Timeout { endpoint: ep, phase, after: connect_timeout })
        }
    }
}

async fn connect_inner(
    endpoint: &ImapEndpoint,
    tls: &TlsSetup,
    proxy: Option<&Proxy>,
    credential: Credential<'_>,
    command_timeout: Duration,
) -> Result<ImapSession, ImapError> {
    let ep = endpoint.to_string();
    let lost = |reason: String| ImapError::ConnectionLost { endpoint: ep.clone(), reason };
    let tcp = net::dial(proxy, &endpoint.host, endpoint.port).await.map_err(|e| match e {
        net::NetError::Direct { reason } => ImapError::Connect { endpoint: ep.clone(), reason },
        source => ImapError::Proxy { endpoint: ep.clone(), source },
    })?;
    let route = proxy.map(Proxy::route);
    let route = route.as_deref();

    let (mut client, greeting) = match endpoint.tls {
        Tls::Implicit => {
            let stream = tls.wrap(endpoint, tcp, route).await?;
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
            let stream = tls.wrap(endpoint, plain.into_inner(), route).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_proxy_route_has_its_own_ticket_cache() {
        let tls = TlsSetup::new(None).unwrap();
        let direct = tls.config_for(None);
        let a = tls.config_for(Some("socks5h://u-1@h:1"));
        let again = tls.config_for(Some("socks5h://u-1@h:1"));
        let b = tls.config_for(Some("socks5h://u-2@h:1"));
        assert!(Arc::ptr_eq(&direct, &tls.config), "direct connections share the one cache");
        assert!(Arc::ptr_eq(&a, &again), "one route keeps its cache from connection to connection");
        assert!(!Arc::ptr_eq(&a, &b) && !Arc::ptr_eq(&a, &direct), "routes never share tickets");
    }
}
