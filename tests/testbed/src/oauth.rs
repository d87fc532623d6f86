//! A local OAuth2 server that behaves like Microsoft identity platform's v2 token endpoint,
//! plus the RFC 7662 introspection endpoint Dovecot calls to validate access tokens.
//!
//! Token endpoint (`POST {base}/{tenant}/oauth2/v2.0/token`, form body):
//! - only `grant_type=refresh_token`, with `client_id`, `refresh_token` and optional `scope`
//!   (defaults to the scope the refresh token was issued with);
//! - each refresh token carries the scopes the user consented to: everything for
//!   [`OAuthServer::issue_refresh_token`], a given list for
//!   [`OAuthServer::issue_refresh_token_with_scopes`]. Asking for a scope outside the grant
//!   gets `invalid_grant` AADSTS65001 (consent required), as Microsoft answers an app that asks
//!   for `SMTP.Send` without consent; such a request does not consume the token. The
//!   OpenID Connect scopes (`offline_access`, `openid`, `profile`, `email`) need no consent;
//! - refresh tokens rotate: each success returns a new `refresh_token` (with the same grant)
//!   and invalidates the one presented, whatever scope was asked;
//! - success: `{"token_type":"Bearer","scope":..,"expires_in":..,"ext_expires_in":..,
//!   "access_token":..,"refresh_token":..}`;
//! - errors are HTTP 400 with Microsoft's JSON shape (`error`, `error_description` starting
//!   with `AADSTSnnnn:`, `error_codes`, `timestamp`, `trace_id`, `correlation_id`,
//!   `error_uri`): `invalid_grant` 70000 for an unknown or already rotated refresh token,
//!   `invalid_grant` 50173 for a revoked one, `invalid_grant` 65001 (plus
//!   `"suberror": "consent_required"`) for a scope the user did not consent to,
//!   `invalid_client` 700016 for a client id that was never registered, `invalid_request`
//!   900144 for a missing parameter, `unsupported_grant_type` 70003.
//!
//! - tokens are per resource, as Microsoft issues them: a request mixing Graph's scopes
//!   ([`GRAPH_SCOPE`]) with Outlook's gets `invalid_scope` AADSTS70011, a Graph scope outside
//!   the grant `invalid_grant` AADSTS70000 ("one or more scopes requested are unauthorized or
//!   expired"); introspection (Dovecot) answers `active` only for Outlook-audience tokens, and
//!   the [`GraphServer`](crate::GraphServer) takes only Graph-audience ones;
//! - [`OAuthServer::set_imap_not_connected`] adds `nologin` and the reason
//!   [`NOT_CONNECTED`] to the user's introspection answers, which Dovecot turns into a refused
//!   login when it is told too ([`crate::TestBed::set_imap_not_connected`] does both).
//!
//! Client ids: unknown ids are rejected. [`DEFAULT_CLIENT_ID`] is registered from the start,
//! and [`OAuthServer::issue_refresh_token`] registers the client id it is given.
//!
//! Every request is counted at arrival, before any injected latency or failure, so tests can
//! assert "N concurrent refreshes became one request".

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::http::{self, Reply, Request};
use crate::util::{self, parse_form, random_guid, random_token, unix_now};

/// A client id registered on every [`OAuthServer`] from the start.
pub const DEFAULT_CLIENT_ID: &str = "6f2b2b5e-3c1d-4a8e-9d7a-0c5e6b1f4a21";

/// The scope refresh tokens are issued with unless a request names another.
pub const DEFAULT_SCOPE: &str = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access";

/// Outlook's IMAP scope.
pub const IMAP_SCOPE: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";

/// Outlook's scope for SMTP AUTH (submission with XOAUTH2).
pub const SMTP_SCOPE: &str = "https://outlook.office.com/SMTP.Send";

/// Microsoft Graph's scope for reading mail: tokens for it are for the Graph audience, which
/// Dovecot refuses and the [`GraphServer`](crate::GraphServer) accepts.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/Mail.Read";

/// The words Outlook's IMAP server answers an account whose sign-in works but whose mailbox
/// IMAP does not serve (see [`OAuthServer::set_imap_not_connected`]).
pub const NOT_CONNECTED: &str = "User is authenticated but not connected.";

/// Whether a scope is one of Microsoft Graph's (its resource is `graph.microsoft.com`).
pub fn is_graph_scope(scope: &str) -> bool {
    scope.starts_with("https://graph.microsoft.com/")
}

/// Scopes of OpenID Connect that Microsoft grants without consent to a resource.
const OIDC_SCOPES: [&str; 4] = ["offline_access", "openid", "profile", "email"];

/// The display name of every registered application in consent errors (Microsoft names the
/// app the user would have to consent to).
const APP_NAME: &str = "Mailwatch";

/// An injected failure of the token endpoint (see [`OAuthServer::fail_next`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// That HTTP status (e.g. 500, 503, 429) with a Microsoft-shaped `temporarily_unavailable`
    /// body (`server_error` for 500).
    Status(u16),
    /// HTTP 400 `invalid_grant` (AADSTS70000), as for a bad refresh token.
    InvalidGrant,
    /// HTTP 400 `invalid_client` (AADSTS700016), as for an unknown application.
    InvalidClient,
    /// Any Microsoft-shaped error: status, `error`, AADSTS code, description text.
    Error { status: u16, error: String, code: u32, description: String },
    /// Close the connection without any answer.
    Hangup,
}

/// The local OAuth2 server. Stops serving when dropped.
pub struct OAuthServer {
    port: u16,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct RefreshToken {
    user: String,
    client_id: String,
    scope: String,
    /// Scopes the user consented to; `None` is consent to every scope.
    granted: Option<Vec<String>>,
    status: TokenStatus,
    uses: usize,
}

#[derive(Debug, PartialEq, Eq)]
enum TokenStatus {
    Current,
    Rotated,
    Revoked,
}

struct AccessToken {
    user: String,
    client_id: String,
    scope: String,
    exp: u64,
    revoked: bool,
}

struct State {
    clients: HashSet<String>,
    refresh_tokens: HashMap<String, RefreshToken>,
    current: HashMap<String, String>,
    access_tokens: HashMap<String, AccessToken>,
    refreshes_by_user: HashMap<String, usize>,
    total_requests: usize,
    introspections: usize,
    latency: Duration,
    introspection_latency: Duration,
    failures: VecDeque<Failure>,
    access_token_lifetime: u64,
    /// Users whose IMAP sign-in Dovecot refuses with [`NOT_CONNECTED`].
    not_connected: HashSet<String>,
}

/// Who an access token was issued to and for what (see [`OAuthServer::token_holder`]).
pub(crate) struct TokenHolder {
    pub user: String,
    pub scope: String,
}

/// A handle on the server's tokens for the other stand-ins (the Graph one checks bearer
/// tokens with it).
#[derive(Clone)]
pub(crate) struct Tokens(Arc<Mutex<State>>);

impl Tokens {
    /// The holder of a valid (issued, unrevoked, unexpired) access token.
    pub(crate) fn holder(&self, token: &str) -> Option<TokenHolder> {
        let s = self.0.lock().unwrap();
        s.access_tokens
            .get(token)
            .filter(|at| !at.revoked && at.exp > unix_now())
            .map(|at| TokenHolder { user: at.user.clone(), scope: at.scope.clone() })
    }
}

impl OAuthServer {
    /// Starts the server on a free loopback port.
    pub async fn start() -> OAuthServer {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind OAuth server");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            clients: HashSet::from([DEFAULT_CLIENT_ID.to_string()]),
            refresh_tokens: HashMap::new(),
            current: HashMap::new(),
            access_tokens: HashMap::new(),
            refreshes_by_user: HashMap::new(),
            total_requests: 0,
            introspections: 0,
            latency: Duration::ZERO,
            introspection_latency: Duration::ZERO,
            failures: VecDeque::new(),
            access_token_lifetime: 3600,
            not_connected: HashSet::new(),
        }));
        let handler_state = state.clone();
        let handler = Arc::new(move |req: Request| {
            let state = handler_state.clone();
            async move { handle(&state, req).await }
        });
        let task = http::serve(listener, handler);
        OAuthServer { port, state, task }
    }

    /// Port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The token endpoint, shaped like `https://login.microsoftonline.com/common/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("http://127.0.0.1:{}/common/oauth2/v2.0/token", self.port)
    }

    /// The introspection endpoint Dovecot is configured with.
    pub fn introspect_url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.port)
    }

    /// Accepts `client_id` from now on.
    pub fn register_client(&self, client_id: &str) {
        self.lock().clients.insert(client_id.to_string());
    }

    /// Issues a fresh refresh token for `user` and `client_id` (registering the client) with
    /// [`DEFAULT_SCOPE`]; it replaces (invalidates) the user's previous one. The user
    /// consented to every scope, so a refresh may ask for IMAP, [`SMTP_SCOPE`] or anything
    /// else. Shaped like Microsoft's consumer tokens: `M.C5xx_BAY.0.U.-` and ~400 more
    /// characters, including `!`, `*` and `$` that need form encoding.
    pub fn issue_refresh_token(&self, user: &str, client_id: &str) -> String {
        let mut s = self.lock();
        s.clients.insert(client_id.to_string());
        s.issue_refresh(user, client_id, DEFAULT_SCOPE, None)
    }

    /// As [`OAuthServer::issue_refresh_token`], but the user consented to `scopes` only (the
    /// OpenID Connect scopes such as `offline_access` are always allowed). A refresh asking
    /// for anything else gets HTTP 400 `invalid_grant` AADSTS65001 and leaves the token valid.
    /// A refresh without a `scope` field gets the first of `scopes` plus `offline_access`.
    ///
    /// # Panics
    /// When `scopes` is empty.
    pub fn issue_refresh_token_with_scopes(&self, user: &str, client_id: &str, scopes: &[&str]) -> String {
        assert!(!scopes.is_empty(), "a refresh token needs at least one granted scope");
        let mut s = self.lock();
        s.clients.insert(client_id.to_string());
        let granted: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let default_scope = format!("{} offline_access", scopes[0]);
        s.issue_refresh(user, client_id, &default_scope, Some(granted))
    }

    /// Marks `user` as Outlook marks a mailbox IMAP does not serve: the token works, but
    /// Dovecot refuses the XOAUTH2 login with [`NOT_CONNECTED`] (through introspection's
    /// `nologin` and `reason`); Graph still reads the mailbox. `false` undoes it.
    pub fn set_imap_not_connected(&self, user: &str, on: bool) {
        let mut s = self.lock();
        if on {
            s.not_connected.insert(user.to_string());
        } else {
            s.not_connected.remove(user);
        }
    }

    /// Access to the server's tokens for the other stand-ins.
    pub(crate) fn tokens(&self) -> Tokens {
        Tokens(self.state.clone())
    }

    /// A refresh token whose grant has [`IMAP_SCOPE`] but not [`SMTP_SCOPE`]: an account added
    /// before the app asked for SMTP, or a user who declined it.
    pub fn issue_refresh_token_without_smtp(&self, user: &str, client_id: &str) -> String {
        self.issue_refresh_token_with_scopes(user, client_id, &[IMAP_SCOPE])
    }

    /// Issues an access token for `user` directly (no HTTP), valid for the configured lifetime.
    pub fn issue_access_token(&self, user: &str) -> String {
        self.lock().issue_access(user, DEFAULT_CLIENT_ID, DEFAULT_SCOPE)
    }

    /// Revokes one refresh token: using it then gives `invalid_grant` (AADSTS50173).
    pub fn revoke(&self, refresh_token: &str) {
        let mut s = self.lock();
        if let Some(rt) = s.refresh_tokens.get_mut(refresh_token) {
            rt.status = TokenStatus::Revoked;
        }
    }

    /// Revokes all refresh and access tokens of `user` (as a password reset does).
    pub fn revoke_user(&self, user: &str) {
        let mut s = self.lock();
        for rt in s.refresh_tokens.values_mut().filter(|t| t.user == user) {
            rt.status = TokenStatus::Revoked;
        }
        s.current.remove(user);
        for at in s.access_tokens.values_mut().filter(|t| t.user == user) {
            at.revoked = true;
        }
    }

    /// Makes introspection answer `{"active": false}` for every access token of `user` issued
    /// so far, so Dovecot rejects XOAUTH2 with them; new ones from a refresh work again.
    pub fn revoke_access_tokens(&self, user: &str) {
        for at in self.lock().access_tokens.values_mut().filter(|t| t.user == user) {
            at.revoked = true;
        }
    }

    /// Delays every token endpoint reply by `d` (requests are counted before the delay).
    pub fn set_latency(&self, d: Duration) {
        self.lock().latency = d;
    }

    /// Delays every introspection reply by `d` (slows XOAUTH2 logins at Dovecot).
    pub fn set_introspection_latency(&self, d: Duration) {
        self.lock().introspection_latency = d;
    }

    /// Makes the next `n` token endpoint requests fail with `failure` (queued after earlier
    /// `fail_next` calls). Failed requests do not rotate the refresh token.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        let mut s = self.lock();
        for _ in 0..n {
            s.failures.push_back(failure.clone());
        }
    }

    /// `expires_in` (and introspection expiry) of access tokens issued from now on.
    pub fn set_access_token_lifetime(&self, secs: u64) {
        self.lock().access_token_lifetime = secs;
    }

    /// Token endpoint requests that presented a refresh token of `user` (any outcome).
    pub fn refresh_count(&self, user: &str) -> usize {
        self.lock().refreshes_by_user.get(user).copied().unwrap_or(0)
    }

    /// Token endpoint requests that presented exactly `refresh_token`.
    pub fn refresh_count_for_token(&self, refresh_token: &str) -> usize {
        self.lock().refresh_tokens.get(refresh_token).map_or(0, |t| t.uses)
    }

    /// All token endpoint requests, whatever they carried.
    pub fn total_refreshes(&self) -> usize {
        self.lock().total_requests
    }

    /// Introspection requests (one per XOAUTH2/OAUTHBEARER login attempt at Dovecot).
    pub fn introspection_count(&self) -> usize {
        self.lock().introspections
    }

    /// The refresh token of `user` that is valid now, if any.
    pub fn current_refresh_token(&self, user: &str) -> Option<String> {
        self.lock().current.get(user).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for OAuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthServer").field("port", &self.port).finish()
    }
}

impl State {
    fn issue_refresh(&mut self, user: &str, client_id: &str, scope: &str, granted: Option<Vec<String>>) -> String {
        let token = format!(
            "M.C5{}_BAY.0.U.-{}$$",
            random_token(2, b"0123456789"),
            random_token(420, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*")
        );
        if let Some(old) = self.current.insert(user.to_string(), token.clone())
            && let Some(rt) = self.refresh_tokens.get_mut(&old)
            && rt.status == TokenStatus::Current
        {
            rt.status = TokenStatus::Rotated;
        }
        self.refresh_tokens.insert(
            token.clone(),
            RefreshToken {
                user: user.to_string(),
                client_id: client_id.to_string(),
                scope: scope.to_string(),
                granted,
                status: TokenStatus::Current,
                uses: 0,
            },
        );
        token
    }

    fn issue_access(&mut self, user: &str, client_id: &str, scope: &str) -> String {
        // Microsoft's consumer access tokens are opaque, ~1.5 kB, base64 with + / =.
        let token =
            format!("EwB{}=", random_token(1200, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"));
        self.access_tokens.insert(
            token.clone(),
            AccessToken {
                user: user.to_string(),
                client_id: client_id.to_string(),
                scope: scope.to_string(),
                exp: unix_now() + self.access_token_lifetime,
                revoked: false,
            },
        );
        token
    }
}

async fn handle(state: &Mutex<State>, req: Request) -> Reply {
    if req.path == "/introspect" {
        return introspect(state, req).await;
    }
    if req.path.ends_with("/oauth2/v2.0/token") || req.path == "/token" {
        if req.method != "POST" {
            return Reply::Json {
                status: 405,
                body: ms_error("invalid_request", 900561, "The endpoint only accepts POST requests."),
            };
        }
        return token(state, req).await;
    }
    Reply::Json { status: 404, body: json!({"error": "not_found"}).to_string() }
}

async fn token(state: &Mutex<State>, req: Request) -> Reply {
    let form = parse_form(&String::from_utf8_lossy(&req.body));
    let param = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (latency, failure) = {
        let mut s = state.lock().unwrap();
        s.total_requests += 1;
        if let Some(rt) = param("refresh_token") {
            let user = s.refresh_tokens.get_mut(&rt).map(|t| {
                t.uses += 1;
                t.user.clone()
            });
            if let Some(user) = user {
                *s.refreshes_by_user.entry(user).or_default() += 1;
            }
        }
        (s.latency, s.failures.pop_front())
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(failure) = failure {
        return failure_reply(failure);
    }
    let bad = |code: u32, error: &str, text: String| Reply::Json { status: 400, body: ms_error(error, code, &text) };
    let missing = |name: &str| {
        bad(
            900144,
            "invalid_request",
            format!("AADSTS900144: The request body must contain the following parameter: '{name}'."),
        )
    };
    let Some(grant_type) = param("grant_type") else {
        return missing("grant_type");
    };
    if grant_type != "refresh_token" {
        return bad(
            70003,
            "unsupported_grant_type",
            format!("AADSTS70003: The app requested an unsupported grant type '{grant_type}'."),
        );
    }
    let Some(client_id) = param("client_id") else {
        return missing("client_id");
    };
    let Some(refresh_token) = param("refresh_token") else {
        return missing("refresh_token");
    };
    let mut s = state.lock().unwrap();
    if !s.clients.contains(&client_id) {
        return bad(
            700016,
            "invalid_client",
            format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory \
                 'Microsoft Accounts'. This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You may have sent \
                 your authentication request to the wrong tenant."
            ),
        );
    }
    let invalid = || {
        bad(
            70000,
            "invalid_grant",
            "AADSTS70000: The provided value for the 'refresh_token' is not valid. The provided \
             refresh token has been used or is malformed."
                .to_string(),
        )
    };
    let Some(rt) = s.refresh_tokens.get(&refresh_token) else {
        return invalid();
    };
    match rt.status {
        TokenStatus::Current => {}
        TokenStatus::Rotated => return invalid(),
        TokenStatus::Revoked => {
            return bad(
                50173,
                "invalid_grant",
                "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth \
                 token is needed. The user might have changed or reset their password."
                    .to_string(),
            );
        }
    }
    if rt.client_id != client_id {
        return invalid();
    }
    let user = rt.user.clone();
    let consented = rt.granted.clone();
    let scope = param("scope").filter(|s| !s.trim().is_empty()).unwrap_or_else(|| rt.scope.clone());
    // One token is for one resource: Microsoft refuses Graph's scopes beside Outlook's.
    let resources: Vec<&str> = scope.split_whitespace().filter(|w| !OIDC_SCOPES.contains(w)).collect();
    if resources.iter().any(|w| is_graph_scope(w)) && resources.iter().any(|w| !is_graph_scope(w)) {
        return bad(
            70011,
            "invalid_scope",
            format!(
                "AADSTS70011: The provided request must include a 'scope' input parameter. The provided value \
                 for the input parameter 'scope' is not valid. The scope {scope} is not valid. static scope limit \
                 exceeded."
            ),
        );
    }
    // Consent is checked before anything changes: Microsoft refuses the request, and the
    // refresh token stays valid for the scopes the user did consent to.
    if let Some(consented) = &consented
        && scope
            .split_whitespace()
            .any(|wanted| !OIDC_SCOPES.contains(&wanted) && !consented.iter().any(|g| g == wanted))
    {
        if resources.iter().any(|w| is_graph_scope(w)) {
            // Graph's scopes outside the grant get AADSTS70000, as Microsoft answers a
            // refresh token that was never granted them (or whose grant expired).
            return bad(
                70000,
                "invalid_grant",
                "AADSTS70000: The request was denied because one or more scopes requested are unauthorized \
                 or expired. The user must first sign in and grant the client application access to the \
                 requested scope."
                    .to_string(),
            );
        }
        return Reply::Json { status: 400, body: consent_required(&client_id) };
    }
    let new_refresh = s.issue_refresh(&user, &client_id, &scope, consented);
    let access = s.issue_access(&user, &client_id, &scope);
    let granted: Vec<&str> = scope.split_whitespace().filter(|s| *s != "offline_access").collect();
    let body = json!({
        "token_type": "Bearer",
        "scope": granted.join(" "),
        "expires_in": s.access_token_lifetime,
        "ext_expires_in": s.access_token_lifetime,
        "access_token": access,
        "refresh_token": new_refresh,
    });
    Reply::Json { status: 200, body: body.to_string() }
}

async fn introspect(state: &Mutex<State>, req: Request) -> Reply {
    let token = parse_form(&String::from_utf8_lossy(&req.body))
        .into_iter()
        .chain(parse_form(&req.query))
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
        .or_else(|| req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).map(str::to_string));
    let (latency, body) = {
        let mut s = state.lock().unwrap();
        s.introspections += 1;
        let now = unix_now();
        // IMAP takes tokens for Outlook's audience only, not Graph's.
        let body = match token.as_deref().and_then(|t| s.access_tokens.get(t)) {
            Some(at) if !at.revoked && at.exp > now && !at.scope.split_whitespace().any(is_graph_scope) => {
                let mut body = json!({
                    "active": true,
                    "username": at.user,
                    "client_id": at.client_id,
                    "scope": at.scope,
                    "token_type": "Bearer",
                    "exp": at.exp,
                });
                if s.not_connected.contains(&at.user) {
                    body["nologin"] = json!("y");
                    body["reason"] = json!(NOT_CONNECTED);
                }
                body
            }
            _ => json!({"active": false}),
        };
        (s.introspection_latency, body)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    Reply::Json { status: 200, body: body.to_string() }
}

fn failure_reply(failure: Failure) -> Reply {
    match failure {
        Failure::Hangup => Reply::Hangup,
        Failure::Status(status) => {
            let (error, code, text) = if status == 500 {
                (
                    "server_error",
                    50000,
                    "AADSTS50000: There was an error issuing a token or an issue with our sign-in service.",
                )
            } else {
                (
                    "temporarily_unavailable",
                    90036,
                    "AADSTS90036: An unexpected, non-retryable error stemming from the directory service has occurred.",
                )
            };
            Reply::Json { status, body: ms_error(error, code, text) }
        }
        Failure::InvalidGrant => Reply::Json {
            status: 400,
            body: ms_error(
                "invalid_grant",
                70000,
                "AADSTS70000: The provided value for the 'refresh_token' is not valid.",
            ),
        },
        Failure::InvalidClient => Reply::Json {
            status: 400,
            body: ms_error(
                "invalid_client",
                700016,
                "AADSTS700016: Application with identifier was not found in the directory 'Microsoft Accounts'.",
            ),
        },
        Failure::Error { status, error, code, description } => {
            Reply::Json { status, body: ms_error(&error, code, &description) }
        }
    }
}

/// AADSTS65001 as Microsoft sends it for a refresh that asks for a scope without consent: an
/// `invalid_grant` whose `suberror` tells the client that only an interactive sign-in helps.
fn consent_required(client_id: &str) -> String {
    let text = format!(
        "AADSTS65001: The user or administrator has not consented to use the application with ID \
         '{client_id}' named '{APP_NAME}'. Send an interactive authorization request for this user and \
         resource."
    );
    let mut body: Value = serde_json::from_str(&ms_error("invalid_grant", 65001, &text)).expect("ms_error is JSON");
    body["suberror"] = json!("consent_required");
    body.to_string()
}

/// Microsoft's error body: the description carries trace and correlation ids and a timestamp.
fn ms_error(error: &str, code: u32, text: &str) -> String {
    let trace_id = random_guid();
    let correlation_id = random_guid();
    let timestamp = util::utc_timestamp(unix_now());
    let body: Value = json!({
        "error": error,
        "error_description": format!(
            "{text} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    body.to_string()
}
