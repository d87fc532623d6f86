//! Microsoft Graph's mail API over one pooled HTTP client: the second channel for Outlook
//! accounts whose mailbox IMAP does not serve.
//!
//! Like [`crate::oauth`] this module only talks to the endpoint: the caller brings an access
//! token for Graph's audience (asked for with Graph's scope alone; see [`crate::signin`]).
//! What it promises:
//!
//! - **One client per route, capped.** Every request goes through one `reqwest` client
//!   (keep-alive shared by all accounts), or through the client of the account's proxy
//!   ([`crate::net::HttpClients`]: nothing goes direct when the proxy is down), at most
//!   `graph.maxPerAccount` in flight for one account and `graph.maxTotal` over all.
//! - **Throttling honoured.** A 429 or 503 is retried after its `Retry-After` (or a doubling
//!   pause from `graph.backoffMin` when it gives none), up to `graph.throttleRetries` times
//!   and never for longer than `graph.retryAfterMax` at once; the slots are given back while
//!   it waits. Each such answer is counted ([`GraphStats`]).
//! - **The same bytes as IMAP.** [`Graph::raw`] reads a message's MIME (`/$value`), so
//!   extraction sees what an IMAP `BODY[]` would have given.
//! - **Delta rounds.** [`Graph::delta`] follows `@odata.nextLink` to the round's end and
//!   hands back the `@odata.deltaLink` for the next look; an expired link is
//!   [`GraphError::DeltaExpired`], after which the caller starts a new round.
//!
//! Endpoints: `GET {base}/me/mailFolders/{inbox|junkemail}/messages?$select&$orderby&$top`,
//! `GET {base}/me/messages/{id}/$value`, `GET {base}/me/mailFolders/{folder}/messages/delta`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::account::Account;
use crate::config::{GraphConfig, HttpConfig};
use crate::net::{HttpClients, Proxy};
use crate::secrets::Secret;

/// A well-known Graph mail folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFolder {
    /// `inbox`.
    Inbox,
    /// `junkemail`.
    Junk,
}

impl GraphFolder {
    /// Graph's well-known name.
    pub fn as_str(self) -> &'static str {
        match self {
            GraphFolder::Inbox => "inbox",
            GraphFolder::Junk => "junkemail",
        }
    }
}

/// A message as a listing or a delta round names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphMessage {
    /// Graph's id.
    pub id: String,
    /// `receivedDateTime` in Unix seconds.
    pub received: Option<i64>,
}

/// What a delta round brought.
#[derive(Debug, Clone, Default)]
pub struct DeltaRound {
    /// Messages added (or changed) since the link given, oldest first as Graph lists them.
    pub added: Vec<GraphMessage>,
    /// Ids of messages that went.
    pub removed: Vec<String>,
    /// The link for the next look.
    pub delta_link: String,
}

/// Why a Graph request failed. Never holds a token.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Graph refused the access token (401) or the mailbox (403).
    #[error("Microsoft Graph refused to read {email} (HTTP {status}: {message})")]
    Refused {
        /// The account.
        email: String,
        /// 401 or 403.
        status: u16,
        /// Graph's words.
        message: String,
    },
    /// Throttled past the retries or past `graph.retryAfterMax`.
    #[error(
        "Microsoft Graph is throttling {email} (HTTP {status}); it asked to wait {} s, so Mailwatch will try again later",
        retry_after.as_secs()
    )]
    Throttled {
        /// The account.
        email: String,
        /// 429 or 503.
        status: u16,
        /// The last wait Graph asked for.
        retry_after: Duration,
    },
    /// The delta link expired (410): a new round must start.
    #[error("the Graph delta link of {email} expired")]
    DeltaExpired {
        /// The account.
        email: String,
    },
    /// The message is gone (404).
    #[error("the message is no longer in {email}'s mailbox")]
    NotFound {
        /// The account.
        email: String,
    },
    /// Any other error answer.
    #[error("Microsoft Graph answered HTTP {status} for {email}: {message}")]
    Status {
        /// The account.
        email: String,
        /// The HTTP status.
        status: u16,
        /// Graph's error code and words.
        message: String,
    },
    /// Graph could not be reached or timed out.
    #[error("cannot reach Microsoft Graph for {email} ({host}): {reason}")]
    Unreachable {
        /// The account.
        email: String,
        /// The host (never the path, which may carry a delta token).
        host: String,
        /// What happened.
        reason: String,
    },
    /// An answer that is not what Graph sends.
    #[error("Microsoft Graph gave an unexpected answer for {email}: {reason}")]
    Unexpected {
        /// The account.
        email: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The account has no Graph URL.
    #[error("cannot read {email} through Microsoft Graph: it is not an Outlook account that signs in with OAuth2")]
    NotGraph {
        /// The account.
        email: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client for Microsoft Graph: {0}")]
    Client(String),
}

impl GraphError {
    /// Whether a fresh access token may help (Graph said the token is not valid).
    pub fn token_refused(&self) -> bool {
        matches!(self, GraphError::Refused { status: 401, .. })
    }
}

/// Counters of Graph traffic, for `stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphStats {
    /// Requests sent (retries included).
    pub graph_requests: u64,
    /// 429 and 503 answers.
    pub graph_throttled: u64,
    /// Requests retried after such an answer.
    pub graph_retries: u64,
    /// Messages read whole (`$value`).
    pub graph_messages: u64,
}

/// The Graph client.
pub struct Graph {
    /// The direct client and one per proxy route.
    clients: HttpClients,
    cfg: GraphConfig,
    total: Arc<Semaphore>,
    accounts: Mutex<HashMap<String, Arc<Semaphore>>>,
    requests: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    messages: AtomicU64,
}

/// The fields a listing asks for: the id and arrival, nothing of the content (the content
/// comes whole from `$value`).
const SELECT: &str = "id,receivedDateTime";

impl Graph {
    /// Builds the one pooled client; `tls` is the engine's TLS setup (system roots plus the
    /// extra CA), so Graph trusts what IMAP trusts.
    ///
    /// # Errors
    /// [`GraphError::Client`] when the client cannot be built.
    pub fn new(
        cfg: &GraphConfig,
        http: &HttpConfig,
        tls: tokio_rustls::rustls::ClientConfig,
    ) -> Result<Graph, GraphError> {
        let mut tls = tls;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http = http.clone();
        let clients = HttpClients::new(move || {
            reqwest::Client::builder()
                .use_preconfigured_tls(tls.clone())
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(http.connect_timeout)
                .timeout(http.request_timeout)
                .pool_max_idle_per_host(http.max_idle_per_host)
                .pool_idle_timeout(http.idle_timeout)
                .tcp_keepalive(http.tcp_keepalive)
                .user_agent(concat!("Mailwatch/", env!("CARGO_PKG_VERSION")))
        })
        .map_err(GraphError::Client)?;
        Ok(Graph {
            clients,
            cfg: cfg.clone(),
            total: Arc::new(Semaphore::new(cfg.max_total.max(1))),
            accounts: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            messages: AtomicU64::new(0),
        })
    }

    /// The HTTP client for requests through `proxy` (the account's), or the direct one.
    fn client_for(&self, proxy: Option<&Proxy>) -> Result<reqwest::Client, GraphError> {
        self.clients.client_for(proxy).map_err(GraphError::Client)
    }

    /// The counters.
    pub fn stats(&self) -> GraphStats {
        GraphStats {
            graph_requests: self.requests.load(Ordering::Relaxed),
            graph_throttled: self.throttled.load(Ordering::Relaxed),
            graph_retries: self.retries.load(Ordering::Relaxed),
            graph_messages: self.messages.load(Ordering::Relaxed),
        }
    }

    fn account_gate(&self, email: &str) -> Arc<Semaphore> {
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(email.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.cfg.max_per_account.max(1))))
            .clone()
    }

    fn base(account: &Account) -> Result<&str, GraphError> {
        account.graph_url.as_deref().ok_or_else(|| GraphError::NotGraph { email: account.email.clone() })
    }

    /// One GET within the caps, retried after 429/503 as the module docs say.
    async fn get(
        &self,
        account: &Account,
        proxy: Option<&Proxy>,
        token: &Secret,
        url: &str,
        prefer: Option<String>,
    ) -> Result<reqwest::Response, GraphError> {
        let email = &account.email;
        let host = reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let gate = self.account_gate(email);
        let mut pause = self.cfg.backoff_min;
        let mut tries = 0;
        loop {
            let resp = {
                let _mine = gate.acquire().await.map_err(|_| GraphError::Client("shutting down".into()))?;
                let _all = self.total.acquire().await.map_err(|_| GraphError::Client("shutting down".into()))?;
                self.requests.fetch_add(1, Ordering::Relaxed);
                let mut req = self.client_for(proxy)?.get(url).bearer_auth(token.expose());
                if let Some(p) = &prefer {
                    req = req.header("Prefer", p);
                }
                match req.send().await {
                    Ok(resp) => resp,
                    Err(e) => {
                        let reason = match proxy {
                            Some(p) if e.is_connect() => crate::net::explain_proxied_failure(&e, p).await,
                            _ => crate::net::describe_reqwest_error(&e, proxy),
                        };
                        return Err(GraphError::Unreachable { email: email.clone(), host: host.clone(), reason });
                    }
                }
            };
            let status = resp.status().as_u16();
            if status != 429 && status != 503 {
                return Ok(resp);
            }
            self.throttled.fetch_add(1, Ordering::Relaxed);
            let wait = retry_after(resp.headers()).unwrap_or(pause);
            if tries >= self.cfg.throttle_retries || wait > self.cfg.retry_after_max {
                return Err(GraphError::Throttled { email: email.clone(), status, retry_after: wait });
            }
            tries += 1;
            self.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(email = %email, status, ?wait, "Graph throttled; waiting");
            tokio::time::sleep(wait).await;
            pause = (pause * 2).max(Duration::from_millis(100));
        }
    }

    /// A GET whose answer is JSON.
    async fn get_json(
        &self,
        account: &Account,
        proxy: Option<&Proxy>,
        token: &Secret,
        url: &str,
        prefer: Option<String>,
    ) -> Result<serde_json::Value, GraphError> {
        let resp = self.get(account, proxy, token, url, prefer).await?;
        let resp = check(account, resp).await?;
        resp.json().await.map_err(|e| GraphError::Unexpected { email: account.email.clone(), reason: e.to_string() })
    }

    /// The newest `top` messages of a folder, newest first.
    ///
    /// # Errors
    /// As the module docs say.
    pub async fn newest(
        &self,
        account: &Account,
        proxy: Option<&Proxy>,
        token: &Secret,
        folder: GraphFolder,
        top: usize,
    ) -> Result<Vec<GraphMessage>, GraphError> {
        let url = format!(
            "{}/me/mailFolders/{}/messages?$select={SELECT}&$orderby=receivedDateTime%20desc&$top={}",
            Self::base(account)?,
            folder.as_str(),
            top.clamp(1, 1000)
        );
        let page = self.get_json(account, proxy, token, &url, None).await?;
        Ok(rows(&page).0)
    }

    /// One message's MIME, or its first `max_bytes` when it is larger.
    ///
    /// # Errors
    /// [`GraphError::NotFound`] when it is gone; as the module docs say.
    pub async fn raw(
        &self,
        account: &Account,
        proxy: Option<&Proxy>,
        token: &Secret,
        id: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, GraphError> {
        let url = format!("{}/me/messages/{}/$value", Self::base(account)?, percent_encode(id));
        let resp = self.get(account, proxy, token, &url, None).await?;
        let mut resp = check(account, resp).await?;
        let mut raw = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| GraphError::Unreachable {
            email: account.email.clone(),
            host: String::new(),
            reason: crate::net::describe_reqwest_error(&e, proxy),
        })? {
            raw.extend_from_slice(&chunk);
            if raw.len() >= max_bytes {
                raw.truncate(max_bytes);
                break;
            }
        }
        self.messages.fetch_add(1, Ordering::Relaxed);
        Ok(raw)
    }

    /// A delta round on a folder: from `link` (the last round's delta link), or a first round
    /// listing every message when `None`.
    ///
    /// # Errors
    /// [`GraphError::DeltaExpired`] for a link Graph no longer knows; as the module docs say.
    pub async fn delta(
        &self,
        account: &Account,
        proxy: Option<&Proxy>,
        token: &Secret,
        folder: GraphFolder,
        link: Option<&str>,
    ) -> Result<DeltaRound, GraphError> {
        let base = Self::base(account)?;
        let mut url = match link {
            Some(l) => l.to_string(),
            None => format!("{base}/me/mailFolders/{}/messages/delta?$select={SELECT}", folder.as_str()),
        };
        let prefer = format!("odata.maxpagesize={}", self.cfg.delta_page_size.max(1));
        let mut round = DeltaRound::default();
        loop {
            // The bearer token goes only where the account's Graph is: a link elsewhere is
            // refused, not followed.
            if !same_origin(&url, base) {
                return Err(GraphError::Unexpected {
                    email: account.email.clone(),
                    reason: "a delta link to another server than the account's Graph".into(),
                });
            }
            let page = self.get_json(account, proxy, token, &url, Some(prefer.clone())).await?;
            let (added, removed) = rows(&page);
            round.added.extend(added);
            round.removed.extend(removed);
            if let Some(next) = page.get("@odata.nextLink").and_then(|v| v.as_str()) {
                url = next.to_string();
                continue;
            }
            let Some(delta) = page.get("@odata.deltaLink").and_then(|v| v.as_str()) else {
                return Err(GraphError::Unexpected {
                    email: account.email.clone(),
                    reason: "a delta page with neither a next link nor a delta link".into(),
                });
            };
            round.delta_link = delta.to_string();
            return Ok(round);
        }
    }
}

/// Whether `url` is on the same scheme, host and port as `base`.
fn same_origin(url: &str, base: &str) -> bool {
    match (reqwest::Url::parse(url), reqwest::Url::parse(base)) {
        (Ok(u), Ok(b)) => u.origin() == b.origin(),
        _ => false,
    }
}

/// The rows of a page: messages, and ids marked `@removed`.
fn rows(page: &serde_json::Value) -> (Vec<GraphMessage>, Vec<String>) {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for row in page.get("value").and_then(|v| v.as_array()).into_iter().flatten() {
        let Some(id) = row.get("id").and_then(|v| v.as_str()) else { continue };
        if row.get("@removed").is_some() {
            removed.push(id.to_string());
            continue;
        }
        let received = row.get("receivedDateTime").and_then(|v| v.as_str()).and_then(parse_utc);
        added.push(GraphMessage { id: id.to_string(), received });
    }
    (added, removed)
}

/// Turns an error answer into a [`GraphError`] with Graph's words (its `error.code` and
/// `error.message`).
async fn check(account: &Account, resp: reqwest::Response) -> Result<reqwest::Response, GraphError> {
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        return Ok(resp);
    }
    let email = account.email.clone();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let code = body["error"]["code"].as_str().unwrap_or("").to_string();
    let words = body["error"]["message"].as_str().unwrap_or("no explanation").to_string();
    let message = if code.is_empty() { words } else { format!("{code}: {words}") };
    Err(match status {
        401 | 403 => GraphError::Refused { email, status, message },
        404 => GraphError::NotFound { email },
        410 => GraphError::DeltaExpired { email },
        _ => GraphError::Status { email, status, message },
    })
}

/// `Retry-After` in seconds (Graph sends seconds; an HTTP date is not used by it).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Unix seconds of an ISO 8601 UTC time as Graph writes it (`2026-12-07T11:55:32Z`).
fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (hh, mm) = (t.next()?.parse::<i64>().ok()?, t.next()?.parse::<i64>().ok()?);
    let ss = t.next().and_then(|x| x.split('.').next()?.parse::<i64>().ok()).unwrap_or(0);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Graph's ids are base64 with `/`, `+` and `=`: encoded for a path segment.
fn percent_encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_times_are_read_as_unix_seconds() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc("2026-12-07T11:55:32Z"), Some(1_796_644_532));
        assert_eq!(parse_utc("2024-02-29T23:59:59.123Z"), Some(1_709_251_199));
        assert_eq!(parse_utc("not a time"), None);
    }

    #[test]
    fn retry_after_is_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None, "what cannot be read is the caller's own backoff");
    }

    #[test]
    fn links_are_followed_only_on_the_accounts_graph() {
        let base = "https://graph.microsoft.com/v1.0";
        assert!(same_origin(
            "https://graph.microsoft.com/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=x",
            base
        ));
        assert!(!same_origin("https://evil.example/v1.0/me/messages/delta", base), "another host");
        assert!(!same_origin("http://graph.microsoft.com/v1.0/x", base), "another scheme");
        assert!(!same_origin("https://graph.microsoft.com:8443/v1.0/x", base), "another port");
        assert!(!same_origin("not a url", base));
    }

    #[test]
    fn ids_are_encoded_for_a_path() {
        assert_eq!(percent_encode("AAMk+a/b=="), "AAMk%2Ba%2Fb%3D%3D");
    }
}
