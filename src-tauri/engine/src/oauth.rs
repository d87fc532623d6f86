//! OAuth2 refresh through one pooled HTTP client.
//!
//! Every account's token refresh goes through the single [`OAuth`] value the engine owns,
//! so keep-alive connections to the token endpoint are shared. An account with a proxy
//! uses a client of its route's own ([`crate::net::Proxy::route`]), built once and kept:
//! its connections go through that proxy and nowhere else, and reqwest never falls back to
//! a direct connection when the proxy is down. Connect, request and idle
//! timeouts come from [`HttpConfig`], and at most `max_connections_per_host` requests run
//! against one host at once.
//!
//! This module only talks to the endpoint. Caching access tokens, merging concurrent
//! refreshes and storing rotated refresh tokens is the sign-in layer's job (see
//! [`crate::signin`]), because it needs the keyring.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{ClientId, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::account::Account;
use crate::config::HttpConfig;
use crate::net::Proxy;
use crate::secrets::Secret;

/// A fresh access token, and the rotated refresh token if the provider sent one.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Bearer token for XOAUTH2.
    pub access_token: Secret,
    /// The provider's replacement for the refresh token just used.
    pub refresh_token: Option<Secret>,
    /// When the access token stops working.
    pub expires_at: Instant,
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider refused the refresh token or the client (invalid_grant,
    /// invalid_client, ...). The user must sign in again.
    #[error(
        "cannot refresh the access token for {email}: the provider refused it ({error}: {description}). Sign in again to get a new refresh token"
    )]
    Rejected {
        /// The account.
        email: String,
        /// OAuth2 error code.
        error: String,
        /// The provider's first line of explanation.
        description: String,
    },
    /// The endpoint could not be reached or timed out, or answered 5xx.
    #[error("cannot reach the token endpoint for {email} ({url}): {reason}")]
    Unreachable {
        /// The account.
        email: String,
        /// The endpoint.
        url: String,
        /// What happened, in words.
        reason: String,
    },
    /// The endpoint answered, but not with a token response.
    #[error("cannot refresh the access token for {email}: the token endpoint gave an unexpected answer ({reason})")]
    Unexpected {
        /// The account.
        email: String,
        /// What was wrong with it (never the body, which may hold tokens).
        reason: String,
    },
    /// The refresh token is good but was not granted the scope asked for (sending mail, with
    /// a token issued for reading only). Reading goes on; only what needs the scope fails.
    #[error(
        "cannot get a token to send mail from {email}: its refresh token was not granted sending ({scope}); the provider said: {description}. Reading mail is not affected; to send, sign in to this account again with an app that asks for sending"
    )]
    ScopeNotGranted {
        /// The account.
        email: String,
        /// The scope asked for.
        scope: String,
        /// The provider's first line of explanation.
        description: String,
    },
    /// The account has no token endpoint or client id.
    #[error("cannot refresh the access token for {email}: {what} is not set for this account")]
    Misconfigured {
        /// The account.
        email: String,
        /// What is missing.
        what: &'static str,
    },
    /// The token endpoint is plain `http://` on another machine, where the refresh token
    /// would cross the network in clear text.
    #[error(
        "cannot refresh the access token for {email}: its token endpoint is not https:// (plain http:// is allowed only on this machine); add the account again with an https:// --token-url"
    )]
    InsecureEndpoint {
        /// The account.
        email: String,
    },
    /// The HTTP client could not be built (bad TLS setup).
    #[error("cannot set up the HTTP client for token refresh: {0}")]
    Client(String),
}

impl OAuthError {
    /// Whether the user must sign in again (as opposed to retrying later).
    pub fn needs_reauth(&self) -> bool {
        matches!(self, OAuthError::Rejected { .. })
    }
}

/// The shared token-endpoint client.
pub struct OAuth {
    http: reqwest::Client,
    cfg: HttpConfig,
    /// One client per proxied route (and password).
    proxied: Mutex<HashMap<String, reqwest::Client>>,
    per_host: usize,
    default_lifetime: Duration,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    requests: AtomicU64,
}

impl OAuth {
    /// Builds the one pooled HTTP client.
    ///
    /// # Errors
    /// [`OAuthError::Client`] when the TLS backend cannot start.
    pub fn new(cfg: &HttpConfig) -> Result<OAuth, OAuthError> {
        let http = build_client(cfg, None)?;
        Ok(OAuth {
            http,
            cfg: cfg.clone(),
            proxied: Mutex::new(HashMap::new()),
            per_host: cfg.max_connections_per_host.max(1),
            default_lifetime: cfg.default_token_lifetime,
            hosts: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
        })
    }

    /// The HTTP client for connections through `proxy` (or direct), built on first use and
    /// kept for the route.
    ///
    /// # Errors
    /// [`OAuthError::Client`] when the client cannot be built.
    pub fn client_for(&self, proxy: Option<&Proxy>) -> Result<reqwest::Client, OAuthError> {
        let Some(proxy) = proxy else { return Ok(self.http.clone()) };
        let route = proxy.client_key();
        if let Some(c) = self.proxied.lock().unwrap_or_else(|e| e.into_inner()).get(&route) {
            return Ok(c.clone());
        }
        let client = build_client(&self.cfg, Some(proxy))?;
        let mut proxied = self.proxied.lock().unwrap_or_else(|e| e.into_inner());
        Ok(proxied.entry(route).or_insert(client).clone())
    }

    /// How many refresh requests were sent since start.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn host_gate(&self, url: &str) -> Arc<Semaphore> {
        let host = reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.entry(host).or_insert_with(|| Arc::new(Semaphore::new(self.per_host))).clone()
    }

    /// Exchanges a refresh token for an access token (and, usually, a rotated refresh token).
    ///
    /// # Errors
    /// [`OAuthError::Rejected`] when the provider refuses; [`OAuthError::Unreachable`] on
    /// network failures, timeouts and 5xx answers.
    /// `scope` is asked for instead of the account's own when given (a second resource, such
    /// as Microsoft's SMTP).
    pub async fn refresh(
        &self,
        account: &Account,
        proxy: Option<&Proxy>,
        refresh_token: &Secret,
        scope: Option<&str>,
    ) -> Result<Tokens, OAuthError> {
        let email = account.email.clone();
        let url = account
            .token_url
            .clone()
            .ok_or(OAuthError::Misconfigured { email: email.clone(), what: "a token endpoint" })?;
        let client_id = account
            .client_id
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or(OAuthError::Misconfigured { email: email.clone(), what: "a client id" })?;
        if !crate::account::is_safe_token_url(&url) {
            return Err(OAuthError::InsecureEndpoint { email });
        }
        let token_url = TokenUrl::new(url.clone())
            .map_err(|_| OAuthError::Misconfigured { email: email.clone(), what: "a valid token endpoint URL" })?;
        let client = BasicClient::new(ClientId::new(client_id)).set_token_uri(token_url);

        let http = self.client_for(proxy)?;
        let gate = self.host_gate(&url);
        let _permit =
            gate.acquire().await.map_err(|_| OAuthError::Client("the HTTP client is shutting down".into()))?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let rt = RefreshToken::new(refresh_token.expose().to_string());
        let mut request = client.exchange_refresh_token(&rt);
        let asked = scope.or(account.scope.as_deref());
        if let Some(scope) = asked {
            request = request.add_scopes(scope.split_whitespace().map(|s| Scope::new(s.to_string())));
        }
        match request.request_async(&http).await {
            Ok(resp) => {
                let lifetime = resp.expires_in().unwrap_or(self.default_lifetime);
                Ok(Tokens {
                    access_token: Secret::new(resp.access_token().secret().clone()),
                    refresh_token: resp.refresh_token().map(|r| Secret::new(r.secret().clone())),
                    expires_at: expiry(started, lifetime),
                })
            }
            Err(RequestTokenError::ServerResponse(err)) => {
                let code = match err.error() {
                    BasicErrorResponseType::Extension(s) => s.clone(),
                    other => other.as_ref().to_string(),
                };
                let description = err
                    .error_description()
                    .map(|d| d.lines().next().unwrap_or("").trim().to_string())
                    .unwrap_or_else(|| "no description".into());
                if code == "temporarily_unavailable" || code == "server_error" {
                    Err(OAuthError::Unreachable { email, url, reason: format!("{code}: {description}") })
                } else if scope.is_some() && not_consented(&code, &description) {
                    Err(OAuthError::ScopeNotGranted {
                        email,
                        scope: asked.unwrap_or_default().to_string(),
                        description,
                    })
                } else {
                    Err(OAuthError::Rejected { email, error: code, description })
                }
            }
            Err(RequestTokenError::Request(e)) => {
                let reason = match (&e, proxy) {
                    (oauth2::HttpClientError::Reqwest(r), Some(p)) if r.is_connect() => {
                        explain_proxied_failure(r, p).await
                    }
                    _ => describe_http_error(&e, proxy),
                };
                Err(OAuthError::Unreachable { email, url, reason })
            }
            Err(RequestTokenError::Parse(e, body)) => {
                let reason = if body.is_empty() {
                    "an empty answer, which usually means a server error".to_string()
                } else {
                    format!("a response that is not a token or an error ({} bytes; {})", body.len(), e.path())
                };
                Err(OAuthError::Unexpected { email, reason })
            }
            Err(RequestTokenError::Other(s)) => Err(OAuthError::Unexpected { email, reason: s }),
        }
    }
}

/// Whether a refused refresh means "this token may not have that scope" rather than "this
/// token is dead": OAuth2's `invalid_scope`, or Microsoft's consent errors (AADSTS65001: no
/// consent for the resource; AADSTS70000: the grant does not cover the scope), which arrive
/// as `invalid_grant`.
fn not_consented(code: &str, description: &str) -> bool {
    code == "invalid_scope" || description.starts_with("AADSTS65001") || description.starts_with("AADSTS70000")
}

/// Longest an access token is taken to last, whatever `expires_in` says: providers issue
/// hours, and a day keeps a wrong or hostile value from pinning a token or overflowing.
pub const LONGEST_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// When a token obtained at `started` for `lifetime` expires, with the lifetime capped at
/// [`LONGEST_TOKEN_LIFETIME`] (`expires_in` is the endpoint's number, up to `u64::MAX`).
fn expiry(started: Instant, lifetime: Duration) -> Instant {
    let lifetime = lifetime.min(LONGEST_TOKEN_LIFETIME);
    started.checked_add(lifetime).unwrap_or(started)
}

/// Builds a client with the configured timeouts and pool, dialing through `proxy` only when
/// given.
fn build_client(cfg: &HttpConfig, proxy: Option<&Proxy>) -> Result<reqwest::Client, OAuthError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.request_timeout)
        .pool_max_idle_per_host(cfg.max_idle_per_host)
        .pool_idle_timeout(cfg.idle_timeout)
        .tcp_keepalive(cfg.tcp_keepalive)
        .user_agent(concat!("Mailwatch/", env!("CARGO_PKG_VERSION")));
    if let Some(p) = proxy {
        // `all` and no NO_PROXY list: every request goes through it, loopback included.
        let p = reqwest::Proxy::all(p.url_with_password())
            .map_err(|_| OAuthError::Client(format!("the proxy {} cannot be used", p.url.host_port())))?;
        builder = builder.proxy(p);
    }
    builder.build().map_err(|e| OAuthError::Client(e.to_string()))
}

/// What went wrong with a request, in words: the deepest cause for a failed connection, the
/// endpoint's URL never spelt out, and through a proxy the proxy's host named (its URL,
/// which holds the password, never).
pub(crate) fn describe_http_error(e: &oauth2::HttpClientError<reqwest::Error>, proxy: Option<&Proxy>) -> String {
    match e {
        oauth2::HttpClientError::Reqwest(r) => describe_reqwest_error(r, proxy),
        other => other.to_string(),
    }
}

/// Why a request through `proxy` could not connect: the proxy itself down (found by one
/// plain connection to it, made only after the failure), or the proxy's own error.
pub(crate) async fn explain_proxied_failure(r: &reqwest::Error, proxy: &Proxy) -> String {
    let addr = (proxy.url.host.as_str(), proxy.url.port);
    match tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await {
        Ok(Err(e)) => {
            crate::net::NetError::ProxyUnreachable { proxy: proxy.url.host_port(), reason: e.to_string() }.to_string()
        }
        _ => describe_reqwest_error(r, Some(proxy)),
    }
}

/// See [`describe_http_error`].
pub(crate) fn describe_reqwest_error(r: &reqwest::Error, proxy: Option<&Proxy>) -> String {
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
    fn a_huge_expires_in_is_capped_and_never_overflows() {
        let now = Instant::now();
        assert_eq!(expiry(now, Duration::from_secs(u64::MAX)), now + LONGEST_TOKEN_LIFETIME, "capped at a day");
        assert_eq!(expiry(now, Duration::MAX), now + LONGEST_TOKEN_LIFETIME);
        assert_eq!(expiry(now, Duration::from_secs(3600)), now + Duration::from_secs(3600), "an hour is kept");
        assert_eq!(expiry(now, Duration::ZERO), now);
    }
}
