//! Dialing a TCP connection, directly or through the account's proxy.
//!
//! Every connection an account opens (IMAP, SMTP, the token endpoint) starts here, so one
//! rule holds for all of them: **an account with a proxy never connects without it**. When
//! the proxy is down, [`dial`] fails with a sentence that names the proxy (host and port,
//! never its password) and nothing is tried directly.
//!
//! Two kinds of proxy, each given as a URL ([`ProxyUrl`]):
//! - SOCKS5 (`socks5://` or `socks5h://`, RFC 1928) with optional user name and password
//!   (RFC 1929). Both schemes hand the server's *name* to the proxy, which resolves it: the
//!   machine Mailwatch runs on never looks up a mail server's address when a proxy is set,
//!   so its DNS cannot give the account away.
//! - HTTP CONNECT (`http://`), with Basic proxy authentication when a user name is given.
//!   The tunnel is opened by hand, reading the proxy's answer byte by byte: the server may
//!   speak first (an IMAP greeting) and its first bytes can arrive in the same packet as the
//!   proxy's `200`, so nothing past the answer's blank line may be read here.
//!
//! The user name may be a template for rotating residential proxies, which keep one exit IP
//! per session name: `{email}` becomes the account's address and `{session}` a short id
//! derived from it (the same for the account on every run, different between accounts), so
//! each account keeps its own exit IP ([`Proxy::for_account`]).
//!
//! Passwords never reach a [`ProxyUrl`]: [`ProxyUrl::parse`] splits the password off into a
//! [`Secret`], and what is stored, logged or shown is the URL without it.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::secrets::Secret;

/// The two kinds of proxy Mailwatch can dial through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    /// SOCKS5; the proxy resolves the server's name.
    Socks5,
    /// HTTP CONNECT.
    Http,
}

/// A proxy as the user gave it, without its password: what SQLite, exports and the UI hold.
/// Its `Display` is the canonical URL (`socks5h://user@host:1080`, `http://host:8080`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyUrl {
    /// SOCKS5 or HTTP CONNECT.
    pub kind: ProxyKind,
    /// The proxy's host name or address.
    pub host: String,
    /// The proxy's port.
    pub port: u16,
    /// The user name, perhaps a template with `{email}` or `{session}`.
    pub username: Option<String>,
}

/// Why a proxy URL could not be used or a connection could not be opened. None of these
/// carries a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The text is not a proxy URL Mailwatch understands.
    #[error(
        "cannot use that proxy: {reason}. Write it as socks5://[user[:password]@]host:port, socks5h://... or http://[user[:password]@]host:port"
    )]
    InvalidProxy {
        /// What was wrong (never the text itself, which may hold a password).
        reason: String,
    },
    /// A direct connection failed.
    #[error("{reason}")]
    Direct {
        /// What the system said.
        reason: String,
    },
    /// The proxy itself could not be reached; nothing went direct.
    #[error("the proxy {proxy} cannot be reached ({reason}); nothing was sent without it")]
    ProxyUnreachable {
        /// The proxy's host:port.
        proxy: String,
        /// What the system said.
        reason: String,
    },
    /// The proxy refused the user name or password.
    #[error("the proxy {proxy} refused its user name or password; check the proxy's credentials")]
    ProxyAuth {
        /// The proxy's host:port.
        proxy: String,
    },
    /// The proxy was reached but would not connect to the server.
    #[error("the proxy {proxy} could not connect to {target} ({reason})")]
    ProxyRefused {
        /// The proxy's host:port.
        proxy: String,
        /// The server's host:port.
        target: String,
        /// What the proxy said.
        reason: String,
    },
}

impl NetError {
    /// Whether the failure lies with the proxy rather than the server or the network
    /// behind it.
    pub fn is_proxy(&self) -> bool {
        !matches!(self, NetError::Direct { .. })
    }

    /// The proxy's host:port, when the failure names one.
    pub fn proxy(&self) -> Option<String> {
        match self {
            NetError::ProxyUnreachable { proxy, .. }
            | NetError::ProxyAuth { proxy }
            | NetError::ProxyRefused { proxy, .. } => Some(proxy.clone()),
            NetError::InvalidProxy { .. } | NetError::Direct { .. } => None,
        }
    }
}

fn invalid(reason: impl Into<String>) -> NetError {
    NetError::InvalidProxy { reason: reason.into() }
}

fn decode(part: &str) -> String {
    percent_decode_str(part).decode_utf8_lossy().into_owned()
}

impl ProxyUrl {
    /// Parses a proxy as a URL (`socks5://`, `socks5h://`, `http://`), or in the form bulk
    /// account lists use, `host:port` or `host:port:user:password` (taken as SOCKS5). The
    /// password, if any, comes back apart, as a [`Secret`].
    ///
    /// # Errors
    /// [`NetError::InvalidProxy`] for an unknown scheme, a missing host or port, or a path.
    pub fn parse(text: &str) -> Result<(ProxyUrl, Option<Secret>), NetError> {
        let text = text.trim();
        if !text.contains("://") {
            return Self::parse_colon_form(text);
        }
        let url = reqwest::Url::parse(text).map_err(|e| invalid(format!("it is not a URL ({e})")))?;
        let kind = match url.scheme() {
            "socks5" | "socks5h" => ProxyKind::Socks5,
            "http" => ProxyKind::Http,
            "https" => {
                return Err(invalid("TLS to the proxy itself (https://) is not supported; use http:// or socks5://"));
            }
            other => return Err(invalid(format!("the scheme {other:?} is not a proxy Mailwatch knows"))),
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| invalid("it has no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = url.port().ok_or_else(|| invalid("it has no port"))?;
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(invalid("a proxy URL has no path or query"));
        }
        let username = Some(decode(url.username())).filter(|u| !u.is_empty());
        let password = url.password().map(decode).filter(|p| !p.is_empty()).map(Secret::new);
        Ok((ProxyUrl { kind, host, port, username }, password))
    }

    fn parse_colon_form(text: &str) -> Result<(ProxyUrl, Option<Secret>), NetError> {
        let parts: Vec<&str> = text.splitn(4, ':').collect();
        let (host, port, user, pass) = match parts.as_slice() {
            [h, p] => (*h, *p, None, None),
            [h, p, u, pw] => (*h, *p, Some(*u), Some(*pw)),
            _ => return Err(invalid("write it as a URL, host:port, or host:port:user:password")),
        };
        let port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| invalid("its port is not a number"))?;
        if host.is_empty() {
            return Err(invalid("it has no host"));
        }
        let username = user.filter(|u| !u.is_empty()).map(str::to_string);
        let password = pass.filter(|p| !p.is_empty()).map(Secret::new);
        Ok((ProxyUrl { kind: ProxyKind::Socks5, host: host.to_string(), port, username }, password))
    }

    /// The proxy's `host:port`, the only part an error message names.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The keyring entry that holds this proxy's password: one per proxy URL, shared by
    /// every account and group that uses it.
    pub fn secret_key(&self) -> String {
        format!("proxy:{self}")
    }

    /// The proxy with its password (from the keyring), ready to dial.
    pub fn with_password(self, password: Option<Secret>) -> Proxy {
        Proxy { url: self, password }
    }
}

/// What a user name escapes in the URL form: everything but letters, digits, `-_.` and the
/// template's braces.
const USERNAME_ESCAPED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'{').remove(b'}');

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Socks5 => "socks5h",
            ProxyKind::Http => "http",
        };
        match &self.username {
            Some(u) => write!(
                f,
                "{scheme}://{}@{}",
                percent_encoding::utf8_percent_encode(u, USERNAME_ESCAPED),
                self.host_port()
            ),
            None => write!(f, "{scheme}://{}", self.host_port()),
        }
    }
}

impl FromStr for ProxyUrl {
    type Err = NetError;

    /// Parses a URL that carries no password (as stored); a password is dropped.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProxyUrl::parse(s).map(|(u, _)| u)
    }
}

/// A proxy ready to dial: its URL and its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The proxy, its user name expanded once [`Proxy::for_account`] has run.
    pub url: ProxyUrl,
    password: Option<Secret>,
}

/// A short id for the account that stays the same from run to run: rotating proxies keep one
/// exit IP per session name, so an account keeps its IP and two accounts do not share one.
pub fn session_id(email: &str) -> String {
    format!("{:012x}", crate::secrets::fnv1a(email.as_bytes()) & 0xffff_ffff_ffff)
}

impl Proxy {
    /// A proxy without a password (tests, or one that needs none).
    pub fn open(url: ProxyUrl) -> Proxy {
        Proxy { url, password: None }
    }

    /// Whether the proxy has a password (from the keyring); never the password itself.
    pub fn has_password(&self) -> bool {
        self.password.as_ref().is_some_and(|p| !p.is_empty())
    }

    /// The proxy as `email` uses it: `{email}` and `{session}` in the user name replaced.
    pub fn for_account(&self, email: &str) -> Proxy {
        let mut p = self.clone();
        if let Some(u) = &mut p.url.username {
            *u = u.replace("{email}", email).replace("{session}", &session_id(email));
        }
        p
    }

    /// What sets this route apart from others, without the password: TLS sessions and HTTP
    /// clients are kept per route, so a ticket issued to one exit IP is never shown from
    /// another.
    pub fn route(&self) -> String {
        self.url.to_string()
    }

    /// What tells HTTP clients built for this proxy apart: the route and a hash of the
    /// password, so a client built with an old password is not used after it changed.
    pub fn client_key(&self) -> String {
        let pw = self.password.as_ref().map(|p| crate::secrets::fnv1a(p.expose().as_bytes())).unwrap_or(0);
        format!("{} {pw:016x}", self.route())
    }

    /// `text` with the password (plain or percent-encoded) masked, for a library's error
    /// message that might quote the proxy URL it was given.
    pub fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some(pw) if !pw.is_empty() => {
                let encoded = percent_encoding::utf8_percent_encode(pw.expose(), USERNAME_ESCAPED).to_string();
                text.replace(pw.expose(), "***").replace(&encoded, "***")
            }
            _ => text.to_string(),
        }
    }

    /// The URL with its password, percent-encoded, for an HTTP client that dials on its own.
    /// Never to be logged.
    pub fn url_with_password(&self) -> String {
        let scheme = match self.url.kind {
            ProxyKind::Socks5 => "socks5h",
            ProxyKind::Http => "http",
        };
        let mut u = reqwest::Url::parse(&format!("{scheme}://{}", self.url.host_port())).expect("a host and a port");
        if let Some(user) = &self.url.username {
            let _ = u.set_username(user);
            if let Some(pw) = &self.password {
                let _ = u.set_password(Some(pw.expose()));
            }
        }
        u.to_string()
    }
}

/// Largest answer to CONNECT read; a proxy that sends more is not one.
const CONNECT_ANSWER_MAX: usize = 8 * 1024;

/// Opens a TCP connection to `host:port`, through `proxy` when given.
///
/// No timeout here: callers bound the whole of connecting and signing in.
///
/// # Errors
/// [`NetError::Direct`] when a direct connection fails; [`NetError::ProxyUnreachable`],
/// [`NetError::ProxyAuth`] or [`NetError::ProxyRefused`] through a proxy.
pub async fn dial(proxy: Option<&Proxy>, host: &str, port: u16) -> Result<TcpStream, NetError> {
    let Some(proxy) = proxy else {
        let tcp = TcpStream::connect((host, port)).await.map_err(|e| NetError::Direct { reason: e.to_string() })?;
        let _ = tcp.set_nodelay(true);
        return Ok(tcp);
    };
    let name = proxy.url.host_port();
    let tcp = TcpStream::connect((proxy.url.host.as_str(), proxy.url.port))
        .await
        .map_err(|e| NetError::ProxyUnreachable { proxy: name.clone(), reason: e.to_string() })?;
    let _ = tcp.set_nodelay(true);
    let target = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    match proxy.url.kind {
        ProxyKind::Socks5 => socks5(proxy, tcp, host, port, &name, &target).await,
        ProxyKind::Http => http_connect(proxy, tcp, &name, &target).await,
    }
}

async fn socks5(
    proxy: &Proxy,
    tcp: TcpStream,
    host: &str,
    port: u16,
    name: &str,
    target: &str,
) -> Result<TcpStream, NetError> {
    use tokio_socks::Error as E;
    use tokio_socks::tcp::Socks5Stream;
    // A name goes to the proxy as a name (ATYP 3): the proxy resolves it.
    let addr = (host, port);
    let result = match (&proxy.url.username, &proxy.password) {
        (Some(user), pass) => {
            let pass = pass.as_ref().map(Secret::expose).unwrap_or("");
            Socks5Stream::connect_with_password_and_socket(tcp, addr, user, pass).await
        }
        (None, _) => Socks5Stream::connect_with_socket(tcp, addr).await,
    };
    match result {
        Ok(stream) => Ok(stream.into_inner()),
        Err(E::PasswordAuthFailure(_) | E::NoAcceptableAuthMethods) => {
            Err(NetError::ProxyAuth { proxy: name.to_string() })
        }
        Err(E::Io(e)) => Err(NetError::ProxyRefused {
            proxy: name.to_string(),
            target: target.to_string(),
            reason: format!("the proxy broke off the SOCKS5 handshake: {e}"),
        }),
        Err(e) => {
            Err(NetError::ProxyRefused { proxy: name.to_string(), target: target.to_string(), reason: e.to_string() })
        }
    }
}

async fn http_connect(proxy: &Proxy, mut tcp: TcpStream, name: &str, target: &str) -> Result<TcpStream, NetError> {
    let refused =
        |reason: String| NetError::ProxyRefused { proxy: name.to_string(), target: target.to_string(), reason };
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(user) = &proxy.url.username {
        let pass = proxy.password.as_ref().map(Secret::expose).unwrap_or("");
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        request.push_str(&format!("Proxy-Authorization: Basic {basic}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await.map_err(|e| refused(format!("cannot send CONNECT: {e}")))?;
    drop(request);

    // Byte by byte up to the blank line: whatever follows is the server's and stays unread.
    let mut answer = Vec::with_capacity(128);
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() >= CONNECT_ANSWER_MAX {
            return Err(refused("its answer to CONNECT is too long to be HTTP".into()));
        }
        match tcp.read(&mut byte).await {
            Ok(0) => return Err(refused("the proxy closed the connection before answering CONNECT".into())),
            Ok(_) => answer.push(byte[0]),
            Err(e) => return Err(refused(format!("no answer to CONNECT: {e}"))),
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&answer) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(refused("its answer to CONNECT is not HTTP".into())),
    }
    match response.code {
        Some(200..=299) => Ok(tcp),
        // 407 is the standard answer; some proxies (tinyproxy) answer 401. Either way the
        // server was never reached, so it is about the proxy's credentials.
        Some(401 | 407) => Err(NetError::ProxyAuth { proxy: name.to_string() }),
        Some(code) => Err(refused(format!("HTTP {code} {}", response.reason.unwrap_or("")).trim_end().to_string())),
        None => Err(refused("its answer to CONNECT has no status".into())),
    }
}

/// HTTP clients for one kind of request (token refreshes, Graph): the direct one, and one for
/// each proxy (and password) used, built on first use and kept. A proxied client sends every
/// request through its proxy, loopback included, and never falls back to a direct
/// connection; reqwest resolves names at the proxy for `socks5h`.
pub struct HttpClients {
    settings: Box<dyn Fn() -> reqwest::ClientBuilder + Send + Sync>,
    direct: reqwest::Client,
    proxied: std::sync::Mutex<std::collections::HashMap<String, reqwest::Client>>,
}

impl HttpClients {
    /// `settings` gives a client's timeouts, pool and TLS; the direct client is built at once.
    ///
    /// # Errors
    /// Why the client cannot be built, in words.
    pub fn new(settings: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static) -> Result<HttpClients, String> {
        let direct = settings().build().map_err(|e| e.to_string())?;
        Ok(HttpClients { settings: Box::new(settings), direct, proxied: Default::default() })
    }

    /// The client for connections through `proxy` (or direct).
    ///
    /// # Errors
    /// Why the proxied client cannot be built, in words, naming the proxy's host only.
    pub fn client_for(&self, proxy: Option<&Proxy>) -> Result<reqwest::Client, String> {
        let Some(proxy) = proxy else { return Ok(self.direct.clone()) };
        let route = proxy.client_key();
        let lock = || self.proxied.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = lock().get(&route) {
            return Ok(c.clone());
        }
        let unusable = || format!("the proxy {} cannot be used", proxy.url.host_port());
        // `all` and no NO_PROXY list: every request goes through it, loopback included.
        let p = reqwest::Proxy::all(proxy.url_with_password()).map_err(|_| unusable())?;
        let client = (self.settings)().proxy(p).build().map_err(|_| unusable())?;
        Ok(lock().entry(route).or_insert(client).clone())
    }
}

/// Why a request through `proxy` could not connect: the proxy itself down (found by one
/// plain connection to it, made only after the failure), or the proxy's own error.
pub async fn explain_proxied_failure(r: &reqwest::Error, proxy: &Proxy) -> String {
    let addr = (proxy.url.host.as_str(), proxy.url.port);
    match tokio::time::timeout(std::time::Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await {
        Ok(Err(e)) => NetError::ProxyUnreachable { proxy: proxy.url.host_port(), reason: e.to_string() }.to_string(),
        _ => describe_reqwest_error(r, Some(proxy)),
    }
}

/// What went wrong with an HTTP request, in words: the deepest cause for a failed connection,
/// the endpoint's URL never spelt out, and through a proxy the proxy's host named (its URL,
/// which holds the password, never).
pub fn describe_reqwest_error(r: &reqwest::Error, proxy: Option<&Proxy>) -> String {
    use std::error::Error as _;
    let text = if r.is_timeout() {
        "the request timed out".into()
    } else if r.is_connect() {
        let mut reason = "cannot connect".to_string();
        let mut src = r.source();
        while let Some(s) = src {
            reason = format!("cannot connect: {s}");
            src = s.source();
        }
        reason
    } else {
        let text = r.to_string();
        match r.url() {
            Some(u) => text.replace(u.as_str(), "the endpoint"),
            None => text,
        }
    };
    match proxy {
        Some(p) => {
            let text = p.scrub(&text);
            format!("through the proxy {}: {text}; nothing was sent without it", p.url.host_port())
        }
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_and_the_password_split_off() {
        let (u, pw) = ProxyUrl::parse("socks5://alice:s%40cret@127.0.0.1:1080").unwrap();
        assert_eq!((u.kind, u.host.as_str(), u.port), (ProxyKind::Socks5, "127.0.0.1", 1080));
        assert_eq!(u.username.as_deref(), Some("alice"));
        assert_eq!(pw.unwrap().expose(), "s@cret", "percent-encoding is undone");
        assert_eq!(u.to_string(), "socks5h://alice@127.0.0.1:1080", "the stored form has no password");

        let (u, pw) = ProxyUrl::parse("http://proxy.example.com:3128").unwrap();
        assert_eq!((u.kind, u.username.clone(), pw), (ProxyKind::Http, None, None));
        assert_eq!(u.to_string(), "http://proxy.example.com:3128");

        let (u, pw) = ProxyUrl::parse("10.0.0.9:9050:bob:pa:ss").unwrap();
        assert_eq!((u.kind, u.port, u.username.as_deref()), (ProxyKind::Socks5, 9050, Some("bob")));
        assert_eq!(pw.unwrap().expose(), "pa:ss", "the password is the rest of the line");

        let (u, _) = ProxyUrl::parse("socks5h://[::1]:1080").unwrap();
        assert_eq!(u.host_port(), "[::1]:1080");
    }

    #[test]
    fn bad_proxies_are_refused_without_echoing_the_password() {
        for bad in [
            "ftp://u:hunter2@h:1",
            "socks5://u:hunter2@h",
            "http://u:hunter2@h:1/path",
            "h:port:u:hunter2",
            "https://u:hunter2@h:1",
        ] {
            let err = ProxyUrl::parse(bad).unwrap_err();
            assert!(!err.to_string().contains("hunter2"), "{bad}: {err}");
            assert!(err.to_string().starts_with("cannot use that proxy"), "{bad}: {err}");
        }
    }

    #[test]
    fn templates_give_each_account_its_own_stable_session() {
        let (u, pw) = ProxyUrl::parse("socks5://user-{session}-mail-{email}:pw@h:1").unwrap();
        assert_eq!(u.to_string(), "socks5h://user-{session}-mail-{email}@h:1", "the template is stored as given");
        let p = u.with_password(pw);
        let a = p.for_account("a@x.com");
        let again = p.for_account("a@x.com");
        let b = p.for_account("b@x.com");
        let sa = session_id("a@x.com");
        assert_eq!(a.url.username.as_deref(), Some(format!("user-{sa}-mail-a@x.com").as_str()));
        assert_eq!(a, again, "the same account gets the same session on every run");
        assert_ne!(a.route(), b.route(), "two accounts never share a session (or its TLS tickets)");
        assert!(!a.route().contains("pw"), "a route carries no password: {}", a.route());
        assert_eq!(
            a.url_with_password(),
            format!("socks5h://user-{sa}-mail-a%40x.com:pw@h:1"),
            "an HTTP client gets the password, encoded"
        );
    }
}
