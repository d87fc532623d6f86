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
use crate::net::{HttpClients, Proxy};
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
    /// The scopes the provider says it granted (the answer's `scope`), when it said.
    pub granted: Option<String>,
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
    /// The provider refused the scope one way of reading mail needs (IMAP's, or Graph's):
    /// the refresh token is good, but not for that. Mailwatch tries the other way once
    /// when the account's channel is `auto`.
    #[error(
        "cannot get a token to read {email} over {channel}: the provider refused the scope {scope} ({description})"
    )]
    ChannelScopeRefused {
        /// The account.
        email: String,
        /// "IMAP" or "Microsoft Graph".
        channel: &'static str,
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
    /// The direct client and one per proxied route (and password).
    clients: HttpClients,
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
        let settings = cfg.clone();
        let clients = HttpClients::new(move || client_settings(&settings)).map_err(OAuthError::Client)?;
        Ok(OAuth {
            clients,
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
        self.clients.client_for(proxy).map_err(OAuthError::Client)
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
                    granted: resp.scopes().map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")),
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
                // Only an account Graph can also read has another way to try; elsewhere a
                // refused IMAP scope means signing in again, as before Graph.
                let reading = match scope {
                    None if account.graph_scope().is_none() => None,
                    None => Some("IMAP"),
                    Some(s) if s.contains("graph.microsoft.com/") => Some("Microsoft Graph"),
                    Some(_) => None,
                };
                if code == "temporarily_unavailable" || code == "server_error" {
                    Err(OAuthError::Unreachable { email, url, reason: format!("{code}: {description}") })
                } else if let Some(channel) = reading
                    && scope_refused(&code, &description)
                {
                    Err(OAuthError::ChannelScopeRefused {
                        email,
                        channel,
                        scope: asked.unwrap_or_default().to_string(),
                        description,
                    })
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
                        crate::net::explain_proxied_failure(r, p).await
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

/// Whether a refused refresh for a way of reading mail means "not this scope" rather than
/// "this token is dead": AADSTS70011 (`invalid_scope`: a scope Microsoft will not issue
/// here), AADSTS70000 when it names the scopes (a grant without them, or expired for them;
/// the same code about the refresh token itself means the token is dead), and AADSTS65001
/// (no consent to that resource): the other way of reading may be granted.
fn scope_refused(code: &str, description: &str) -> bool {
    code == "invalid_scope"
        || description.starts_with("AADSTS70011")
        || description.starts_with("AADSTS65001")
        || (description.starts_with("AADSTS70000") && description.contains("scopes requested"))
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

/// A token-endpoint client's settings: the configured timeouts and pool, no redirects.
fn client_settings(cfg: &HttpConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.request_timeout)
        .pool_max_idle_per_host(cfg.max_idle_per_host)
        .pool_idle_timeout(cfg.idle_timeout)
        .tcp_keepalive(cfg.tcp_keepalive)
        .user_agent(concat!("Mailwatch/", env!("CARGO_PKG_VERSION")))
}

/// What went wrong with a request, in words: the deepest cause for a failed connection, the
/// endpoint's URL never spelt out, and through a proxy the proxy's host named (its URL,
/// which holds the password, never).
pub(crate) fn describe_http_error(e: &oauth2::HttpClientError<reqwest::Error>, proxy: Option<&Proxy>) -> String {
    match e {
        oauth2::HttpClientError::Reqwest(r) => crate::net::describe_reqwest_error(r, proxy),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_scope_is_told_from_a_dead_token() {
        let scopes =
            "AADSTS70000: The request was denied because one or more scopes requested are unauthorized or expired.";
        let dead = "AADSTS70000: The provided value for the 'refresh_token' is not valid.";
        assert!(scope_refused("invalid_grant", scopes), "the grant lacks the scope");
        assert!(!scope_refused("invalid_grant", dead), "the token itself is dead");
        let mixed = "AADSTS70011: The provided value for the input parameter 'scope' is not valid.";
        assert!(scope_refused("invalid_scope", mixed), "a scope Microsoft will not issue here");
        assert!(scope_refused("invalid_grant", "AADSTS65001: not consented"), "no consent to this resource");
        assert!(!scope_refused("invalid_grant", "AADSTS50173: revoked"), "a revoked grant is dead");
    }

    #[test]
    fn a_huge_expires_in_is_capped_and_never_overflows() {
        let now = Instant::now();
        assert_eq!(expiry(now, Duration::from_secs(u64::MAX)), now + LONGEST_TOKEN_LIFETIME, "capped at a day");
        assert_eq!(expiry(now, Duration::MAX), now + LONGEST_TOKEN_LIFETIME);
        assert_eq!(expiry(now, Duration::from_secs(3600)), now + Duration::from_secs(3600), "an hour is kept");
        assert_eq!(expiry(now, Duration::ZERO), now);
    }
}
