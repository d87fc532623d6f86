//! A stand-in for Microsoft Graph's mail API (the real one cannot be reached from the tests),
//! serving the mailboxes a [`Dovecot`] holds, over HTTPS with the run's certificate.
//!
//! It reads each user's maildir directly, so a message APPENDed or delivered to Dovecot shows
//! up here at once, with the same bytes as IMAP gives (maildir's bare LF become CRLF, as on
//! the wire); its received time is the file's modification time,
//! which is Dovecot's INTERNALDATE. Endpoints, under [`GraphServer::base_url`]
//! (`https://127.0.0.1:PORT/v1.0`):
//!
//! - `GET /me/mailFolders/{inbox|junkemail}/messages` with `$select` (`id` and
//!   `receivedDateTime` always; `subject` and `internetMessageId` when asked), `$orderby`
//!   (`receivedDateTime desc`, the default, or `asc`) and `$top` (10 by default, at most 1000);
//! - `GET /me/messages/{id}/$value`: the raw MIME;
//! - `GET /me/mailFolders/{folder}/messages/delta`: a first round lists every message, in
//!   pages of 10 or the request's `Prefer: odata.maxpagesize=N`, each page but the last with
//!   `@odata.nextLink`, the last with `@odata.deltaLink`; the delta link then gives what was
//!   added since (and `@removed` rows for what went). An unknown link answers 410
//!   `SyncStateNotFound`, as Graph answers an expired one.
//!
//! Every request needs `Authorization: Bearer` with an access token the run's
//! [`OAuthServer`] issued for a Graph scope (its `scope` has a `graph.microsoft.com/` scope);
//! any other answers 401 `InvalidAuthenticationToken`. [`GraphServer::throttle_next`] makes
//! the next requests answer 429 (or 503) with `Retry-After`, as Graph throttles.
//! Requests are counted at arrival, and how many it answers at once (`max_in_flight`).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::http::{self, Reply, Request};
use crate::oauth::{OAuthServer, Tokens, is_graph_scope};
use crate::util::{random_token, utc_timestamp};
use crate::{Dovecot, tls};

/// The Graph stand-in. Stops serving when dropped.
pub struct GraphServer {
    port: u16,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

struct State {
    tokens: Tokens,
    mail_root: PathBuf,
    junk: String,
    throttles: VecDeque<(u16, u64)>,
    latency: Duration,
    requests: usize,
    requests_by_user: HashMap<String, usize>,
    throttled: usize,
    unauthorized: usize,
    raw_fetches: usize,
    delta_requests: usize,
    in_flight: usize,
    max_in_flight: usize,
    /// Delta state tokens: the user, the folder and the ids it had.
    deltas: HashMap<String, (String, String, BTreeSet<String>)>,
    /// Pages of a delta round still to come, by skip token: their rows, and the delta
    /// token of the round's end.
    pages: HashMap<String, (String, VecDeque<Value>, String)>,
}

/// One message file in a maildir.
struct MailFile {
    id: String,
    path: PathBuf,
    received: u64,
}

impl GraphServer {
    /// Starts the stand-in on a free loopback port, serving the mailboxes of `dovecot` to
    /// holders of `oauth`'s Graph tokens.
    pub async fn start(dovecot: &Dovecot, oauth: &OAuthServer) -> GraphServer {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind Graph stand-in");
        let port = listener.local_addr().unwrap().port();
        let mail_root = dovecot.maildir("x").parent().and_then(Path::parent).expect("mail root").to_path_buf();
        let state = Arc::new(Mutex::new(State {
            tokens: oauth.tokens(),
            mail_root,
            junk: dovecot.special_use_folder("\\Junk").unwrap_or_else(|| "Junk".into()),
            throttles: VecDeque::new(),
            latency: Duration::ZERO,
            requests: 0,
            requests_by_user: HashMap::new(),
            throttled: 0,
            unauthorized: 0,
            raw_fetches: 0,
            delta_requests: 0,
            in_flight: 0,
            max_in_flight: 0,
            deltas: HashMap::new(),
            pages: HashMap::new(),
        }));
        let handler_state = state.clone();
        let handler = Arc::new(move |req: Request| {
            let state = handler_state.clone();
            async move { handle(&state, port, req).await }
        });
        let task = http::serve_tls(listener, tls::acceptor(dovecot.run_ca()), handler);
        GraphServer { port, state, task }
    }

    /// Port it listens on (127.0.0.1, TLS with the run's certificate: trust
    /// [`Dovecot::ca_pem_path`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL, shaped like `https://graph.microsoft.com/v1.0`.
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}/v1.0", self.port)
    }

    /// Makes the next `n` authorized requests answer `status` (429 or 503) with
    /// `Retry-After: retry_after` (whole seconds), queued after earlier calls.
    pub fn throttle_next(&self, n: usize, status: u16, retry_after: u64) {
        let mut s = self.lock();
        for _ in 0..n {
            s.throttles.push_back((status, retry_after));
        }
    }

    /// Delays every answer by `d` (requests are counted before the delay).
    pub fn set_latency(&self, d: Duration) {
        self.lock().latency = d;
    }

    /// Every request, whatever it carried.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    /// Requests with a valid Graph token of `user`.
    pub fn requests_for(&self, user: &str) -> usize {
        self.lock().requests_by_user.get(user).copied().unwrap_or(0)
    }

    /// Requests answered with an injected 429 or 503.
    pub fn throttled(&self) -> usize {
        self.lock().throttled
    }

    /// Requests refused for their token (none, unknown, expired, or not for Graph).
    pub fn unauthorized(&self) -> usize {
        self.lock().unauthorized
    }

    /// `$value` requests answered.
    pub fn raw_fetches(&self) -> usize {
        self.lock().raw_fetches
    }

    /// The most requests it was answering at once (latency included).
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// Delta requests answered (first rounds, next links and delta links).
    pub fn delta_requests(&self) -> usize {
        self.lock().delta_requests
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

impl Drop for GraphServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for GraphServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphServer").field("port", &self.port).finish()
    }
}

fn graph_error(status: u16, code: &str, message: &str) -> Reply {
    let body = json!({"error": {"code": code, "message": message, "innerError": {
        "date": utc_timestamp(now()).replace(' ', "T"),
        "request-id": crate::util::random_guid(),
    }}});
    Reply::Json { status, body: body.to_string() }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn decode(s: &str) -> String {
    crate::util::parse_form(&format!("x={s}")).pop().map(|(_, v)| v).unwrap_or_default()
}

/// Counts a request as in flight until dropped.
struct InFlight<'a>(&'a Mutex<State>);

impl<'a> InFlight<'a> {
    fn new(state: &'a Mutex<State>) -> Self {
        let mut s = state.lock().unwrap();
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
}

async fn handle(state: &Mutex<State>, port: u16, req: Request) -> Reply {
    let _counted = InFlight::new(state);
    let bearer = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).map(str::to_string);
    let (latency, user, throttle) = {
        let mut s = state.lock().unwrap();
        s.requests += 1;
        let holder = bearer.as_deref().and_then(|t| s.tokens.holder(t));
        match holder {
            Some(h) if h.scope.split_whitespace().any(is_graph_scope) => {
                *s.requests_by_user.entry(h.user.clone()).or_default() += 1;
                let throttle = s.throttles.pop_front();
                if throttle.is_some() {
                    s.throttled += 1;
                }
                (s.latency, Some(h.user), throttle)
            }
            _ => {
                s.unauthorized += 1;
                (s.latency, None, None)
            }
        }
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(user) = user else {
        return graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.");
    };
    if let Some((status, secs)) = throttle {
        let (code, message) = if status == 503 {
            ("ServiceUnavailable", "The service is temporarily unavailable. Try again later.")
        } else {
            ("TooManyRequests", "Application is over its MailboxConcurrency limit.")
        };
        let Reply::Json { body, .. } = graph_error(status, code, message) else { unreachable!() };
        return Reply::Raw {
            status,
            content_type: "application/json",
            headers: vec![("Retry-After".into(), secs.to_string())],
            body: body.into_bytes(),
        };
    }
    if req.method != "GET" {
        return graph_error(405, "Request_BadRequest", "The stand-in answers GET only.");
    }
    let query: HashMap<String, String> =
        req.query.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect();
    let path = req.path.strip_prefix("/v1.0").unwrap_or(&req.path);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["me", "mailFolders", folder, "messages"] => {
            let Some(dir) = folder_dir(state, &user, folder) else { return no_folder(folder) };
            list(&dir, folder, &query)
        }
        ["me", "mailFolders", folder, "messages", "delta"] => {
            let Some(dir) = folder_dir(state, &user, folder) else { return no_folder(folder) };
            let page_size = req
                .header("prefer")
                .and_then(|p| p.split(',').find_map(|x| x.trim().strip_prefix("odata.maxpagesize=")))
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(10)
                .clamp(1, 1000);
            delta(state, port, &user, folder, &dir, &query, page_size)
        }
        ["me", "messages", id, "$value"] => {
            let Some(file) = find_message(state, &user, id) else {
                return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.");
            };
            match std::fs::read(&file) {
                Ok(body) => {
                    // Maildir keeps bare LF; the wire (IMAP's BODY[], Graph's $value) has CRLF.
                    let body = crlf(&body);
                    state.lock().unwrap().raw_fetches += 1;
                    Reply::Raw { status: 200, content_type: "text/plain", headers: vec![], body }
                }
                Err(_) => graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
            }
        }
        _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
    }
}

fn no_folder(folder: &str) -> Reply {
    graph_error(404, "ErrorInvalidIdMalformed", &format!("Id is malformed: {folder}."))
}

/// The maildir of a well-known folder name.
fn folder_dir(state: &Mutex<State>, user: &str, folder: &str) -> Option<PathBuf> {
    let s = state.lock().unwrap();
    let home = s.mail_root.join(user).join("Maildir");
    match folder.to_ascii_lowercase().as_str() {
        "inbox" => Some(home),
        "junkemail" => Some(home.join(&s.junk)),
        _ => None,
    }
}

/// A message id: opaque to clients, the folder and the file's unique name to the stand-in.
fn message_id(folder: &str, unique: &str) -> String {
    let hex: String = format!("{}/{unique}", folder.to_ascii_lowercase()).bytes().map(|b| format!("{b:02x}")).collect();
    format!("AAMkAG{hex}")
}

fn find_message(state: &Mutex<State>, user: &str, id: &str) -> Option<PathBuf> {
    let hex = id.strip_prefix("AAMkAG")?;
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect::<Option<_>>()?;
    let text = String::from_utf8(bytes).ok()?;
    let (folder, unique) = text.split_once('/')?;
    let dir = folder_dir(state, user, folder)?;
    mail_files(&dir, folder).into_iter().find(|f| f.id == message_id(folder, unique)).map(|f| f.path)
}

/// The folder's messages, newest first. A file Dovecot moves from `new` to `cur` meanwhile
/// keeps its unique name, so its id holds.
fn mail_files(dir: &Path, folder: &str) -> Vec<MailFile> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let unique = name.split(':').next().unwrap_or(&name).to_string();
            let received = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            files.push(MailFile { id: message_id(folder, &unique), path: e.path(), received });
        }
    }
    files.sort_by(|a, b| b.received.cmp(&a.received).then_with(|| b.id.cmp(&a.id)));
    files.dedup_by(|a, b| a.id == b.id);
    files
}

fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    for (i, b) in raw.iter().enumerate() {
        if *b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}

fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

fn row(f: &MailFile, select: &str) -> Value {
    let mut row = json!({
        "@odata.etag": format!("W/\"CQAAABYAAAA{}\"", f.received),
        "id": f.id,
        "receivedDateTime": utc_timestamp(f.received).replace(' ', "T"),
    });
    let wanted: Vec<&str> = select.split(',').map(str::trim).collect();
    if wanted.contains(&"subject") || wanted.contains(&"internetMessageId") {
        let raw = std::fs::read(&f.path).unwrap_or_default();
        if wanted.contains(&"subject") {
            row["subject"] = json!(header(&raw, "subject").unwrap_or_default());
        }
        if wanted.contains(&"internetMessageId") {
            row["internetMessageId"] = json!(header(&raw, "message-id"));
        }
    }
    row
}

fn list(dir: &Path, folder: &str, query: &HashMap<String, String>) -> Reply {
    let top = query.get("$top").and_then(|t| t.parse::<usize>().ok()).unwrap_or(10).clamp(1, 1000);
    let select = query.get("$select").cloned().unwrap_or_default();
    let mut files = mail_files(dir, folder);
    if query.get("$orderby").is_some_and(|o| o.trim().eq_ignore_ascii_case("receivedDateTime asc")) {
        files.reverse();
    }
    let value: Vec<Value> = files.iter().take(top).map(|f| row(f, &select)).collect();
    Reply::Json {
        status: 200,
        body: json!({"@odata.context": "$metadata#users('me')/messages", "value": value}).to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn delta(
    state: &Mutex<State>,
    port: u16,
    user: &str,
    folder: &str,
    dir: &Path,
    query: &HashMap<String, String>,
    page_size: usize,
) -> Reply {
    let link = |kind: &str, token: &str| {
        format!("https://127.0.0.1:{port}/v1.0/me/mailFolders/{folder}/messages/delta?{kind}={token}")
    };
    let mut s = state.lock().unwrap();
    s.delta_requests += 1;
    let (mut rows, end_token) = if let Some(skip) = query.get("$skiptoken") {
        match s.pages.remove(skip) {
            Some((owner, rows, end)) if owner == user => (rows, end),
            _ => return graph_error(410, "SyncStateNotFound", "The sync state generation is not found."),
        }
    } else {
        let select = query.get("$select").cloned().unwrap_or_default();
        let files = mail_files(dir, folder);
        let now_ids: BTreeSet<String> = files.iter().map(|f| f.id.clone()).collect();
        let mut rows: VecDeque<Value> = VecDeque::new();
        match query.get("$deltatoken") {
            None => rows.extend(files.iter().rev().map(|f| row(f, &select))),
            Some(token) => {
                let Some((owner, known_folder, known)) = s.deltas.get(token) else {
                    return graph_error(410, "SyncStateNotFound", "The sync state generation is not found.");
                };
                if owner != user || !known_folder.eq_ignore_ascii_case(folder) {
                    return graph_error(410, "SyncStateNotFound", "The sync state generation is not found.");
                }
                rows.extend(files.iter().rev().filter(|f| !known.contains(&f.id)).map(|f| row(f, &select)));
                rows.extend(
                    known
                        .iter()
                        .filter(|id| !now_ids.contains(*id))
                        .map(|id| json!({"id": id, "@removed": {"reason": "deleted"}})),
                );
            }
        }
        let end = random_token(24, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
        s.deltas.insert(end.clone(), (user.to_string(), folder.to_string(), now_ids));
        (rows, end)
    };
    let page: Vec<Value> = rows.drain(..rows.len().min(page_size)).collect();
    let mut body = json!({"@odata.context": "$metadata#Collection(message)", "value": page});
    if rows.is_empty() {
        body["@odata.deltaLink"] = json!(link("$deltatoken", &end_token));
    } else {
        let skip = random_token(24, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
        s.pages.insert(skip.clone(), (user.to_string(), rows, end_token));
        body["@odata.nextLink"] = json!(link("$skiptoken", &skip));
    }
    Reply::Json { status: 200, body: body.to_string() }
}
