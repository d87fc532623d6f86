//! The live stream: one [`Hub`] fans the engine's events out to every WebSocket and SSE
//! client. The engine's [`EventSink::emit`] must never wait, so each connection has a
//! bounded queue (`api.sendQueue`): an event is encoded once, then `try_send` to every
//! connection that wants it; a connection whose queue is full is closed with a reason
//! instead of being waited for, so a client that stops reading slows neither the engine nor
//! the others. Pool stats are sent at most four times a second, like the app's.

mod socket;
mod sse;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use axum::http::StatusCode;
use mailwatch_engine::events::{Event, EventSink};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::keys::{KeyInfo, Scope};
use crate::metrics::ApiCounters;

pub(crate) use socket::stream as websocket;
pub(crate) use sse::events as server_sent_events;

/// How often pool stats may go out: at most four a second.
const POOL_STATS_EVERY: Duration = Duration::from_millis(250);

/// A kind of event a client can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A code or link found in new mail (`codes:read`).
    Code,
    /// An account's status changed (`accounts:read`).
    Status,
    /// The pool's counters (`stats:read`), at most 4 a second.
    PoolStats,
    /// An import moved on (`accounts:write`).
    ImportProgress,
    /// Another batch job (verify, refresh) moved on (`accounts:read`).
    Progress,
}

impl Kind {
    fn scope(self) -> Scope {
        match self {
            Kind::Code => Scope::CodesRead,
            Kind::Status | Kind::Progress => Scope::AccountsRead,
            Kind::PoolStats => Scope::StatsRead,
            Kind::ImportProgress => Scope::AccountsWrite,
        }
    }
}

/// What one connection wants: the key's limits, narrowed by the client's subscription.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    key: KeyInfo,
    accounts: Option<HashSet<String>>,
    kinds: Option<HashSet<Kind>>,
}

impl Filter {
    pub(crate) fn new(key: KeyInfo) -> Filter {
        Filter { key, accounts: None, kinds: None }
    }

    fn wants(&self, kind: Kind, email: Option<&str>) -> bool {
        if !self.key.allows(kind.scope()) || self.kinds.as_ref().is_some_and(|k| !k.contains(&kind)) {
            return false;
        }
        match email {
            Some(e) => self.key.sees(e) && self.accounts.as_ref().is_none_or(|a| a.contains(e)),
            None => true,
        }
    }
}

/// Why a connection was closed by the hub.
const OPEN: u8 = 0;
const TOO_SLOW: u8 = 1;

/// The hub's handle on one connection, shared with the connection's task.
pub(crate) struct Link {
    /// Cancelled when the hub closes the connection (too slow) or the server shuts down.
    pub(crate) closed: CancellationToken,
    why: AtomicU8,
    pub(crate) filter: RwLock<Filter>,
}

impl Link {
    /// Whether the hub closed the connection because its client fell behind.
    pub(crate) fn too_slow(&self) -> bool {
        self.why.load(Ordering::Acquire) == TOO_SLOW
    }

    pub(crate) fn set_filter(&self, accounts: Option<HashSet<String>>, kinds: Option<HashSet<Kind>>) {
        let mut f = self.filter.write().unwrap_or_else(|e| e.into_inner());
        f.accounts = accounts;
        f.kinds = kinds;
    }
}

struct Conn {
    tx: mpsc::Sender<Utf8Bytes>,
    link: Arc<Link>,
}

/// The connections and the fan-out.
pub struct Hub {
    conns: Mutex<HashMap<u64, Conn>>,
    next_id: AtomicU64,
    counters: Arc<ApiCounters>,
    closing: CancellationToken,
    pending_stats: Mutex<Option<Utf8Bytes>>,
    max_streams: AtomicUsize,
}

/// A place among the `api.maxStreams` open streams, given back on drop.
pub(crate) struct StreamSlot(Arc<ApiCounters>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.streams_open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Removes a connection from the hub when its task ends, however it ends.
pub(crate) struct Registration {
    hub: Arc<Hub>,
    id: u64,
    pub(crate) link: Arc<Link>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.conns.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl Hub {
    /// A hub with no connections. Starts the task that sends pool stats at most four times a
    /// second, so it must be called within a Tokio runtime.
    pub fn new() -> Arc<Hub> {
        let hub = Arc::new(Hub {
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            counters: Arc::new(ApiCounters::default()),
            closing: CancellationToken::new(),
            pending_stats: Mutex::new(None),
            max_streams: AtomicUsize::new(mailwatch_engine::config::ApiConfig::default().max_streams),
        });
        tokio::spawn(flush_pool_stats(Arc::downgrade(&hub)));
        hub
    }

    /// The event sink to open the engine with, so its events reach the streams.
    pub fn sink(self: &Arc<Self>) -> Arc<dyn EventSink> {
        Arc::new(HubSink(self.clone()))
    }

    /// The API's counters.
    pub fn counters(&self) -> &Arc<ApiCounters> {
        &self.counters
    }

    /// Cancelled when the server shuts down: every stream closes, every wait ends.
    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    pub(crate) fn set_max_streams(&self, n: usize) {
        self.max_streams.store(n, Ordering::Release);
    }

    /// Takes a place among the open streams, or refuses with 503.
    pub(crate) fn open_slot(&self) -> Result<StreamSlot, ApiError> {
        let max = self.max_streams.load(Ordering::Acquire);
        let open = &self.counters.streams_open;
        let mut n = open.load(Ordering::Acquire);
        loop {
            if n as usize >= max {
                ApiCounters::add(&self.counters.streams_refused);
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too_many_streams",
                    format!(
                        "cannot open another stream: {n} are open, the most api.maxStreams allows; close one, or raise the limit"
                    ),
                ));
            }
            match open.compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(StreamSlot(self.counters.clone())),
                Err(now) => n = now,
            }
        }
    }

    /// Adds a connection with a queue of `queue` events; its events arrive on the receiver.
    pub(crate) fn connect(self: &Arc<Self>, filter: Filter, queue: usize) -> (Registration, mpsc::Receiver<Utf8Bytes>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let link = Arc::new(Link {
            closed: self.closing.child_token(),
            why: AtomicU8::new(OPEN),
            filter: RwLock::new(filter),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.conns.lock().unwrap_or_else(|e| e.into_inner()).insert(id, Conn { tx, link: link.clone() });
        (Registration { hub: self.clone(), id, link }, rx)
    }

    /// Sends an event to every connection that wants it, never waiting: a full queue closes
    /// its connection as too slow.
    pub fn publish(&self, event: &Event) {
        let Some((kind, email, text)) = encode(event) else { return };
        if kind == Kind::PoolStats {
            *self.pending_stats.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
            return;
        }
        self.fan_out(kind, email.as_deref(), &text);
    }

    fn fan_out(&self, kind: Kind, email: Option<&str>, text: &Utf8Bytes) {
        let conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        for conn in conns.values() {
            let wants = conn.link.filter.read().unwrap_or_else(|e| e.into_inner()).wants(kind, email);
            if !wants || conn.link.closed.is_cancelled() {
                continue;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = conn.tx.try_send(text.clone()) {
                if conn.link.why.compare_exchange(OPEN, TOO_SLOW, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    ApiCounters::add(&self.counters.streams_closed_slow);
                }
                conn.link.closed.cancel();
            }
        }
    }
}

struct HubSink(Arc<Hub>);

impl EventSink for HubSink {
    fn emit(&self, event: Event) {
        self.0.publish(&event);
    }
}

async fn flush_pool_stats(hub: Weak<Hub>) {
    let mut tick = tokio::time::interval(POOL_STATS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(hub) = hub.upgrade() else { return };
        if hub.closing.is_cancelled() {
            return;
        }
        let pending = hub.pending_stats.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(text) = pending {
            hub.fan_out(Kind::PoolStats, None, &text);
        }
    }
}

/// An engine event as the stream sends it: its kind, its account, its JSON text.
fn encode(event: &Event) -> Option<(Kind, Option<String>, Utf8Bytes)> {
    let (kind, email, value) = match event {
        Event::CodeFound { email, code, link, service, from, subject, received, folder } => (
            Kind::Code,
            Some(email.clone()),
            json!({"type": "code", "email": email, "code": code, "link": link, "service": service,
                   "from": from, "subject": subject, "received": received, "folder": folder}),
        ),
        Event::AccountStatus { email, status, detail } => (
            Kind::Status,
            Some(email.clone()),
            json!({"type": "status", "email": email, "status": status, "detail": detail}),
        ),
        Event::PoolStats(stats) => {
            let mut v = serde_json::to_value(stats).ok()?;
            v.as_object_mut()?.insert("type".into(), "pool-stats".into());
            (Kind::PoolStats, None, v)
        }
        Event::BatchProgress(p) => {
            let kind = if p.job == "import" { Kind::ImportProgress } else { Kind::Progress };
            let mut v = serde_json::to_value(p).ok()?;
            v.as_object_mut()?.insert("type".into(), serde_json::to_value(kind).ok()?);
            (kind, None, v)
        }
    };
    Some((kind, email, Utf8Bytes::from(value.to_string())))
}

/// What a client asks for when it connects or subscribes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Subscription {
    /// Only these accounts (each is then watched with IDLE while the stream is open).
    pub accounts: Option<Vec<String>>,
    /// Only these kinds.
    pub kinds: Option<Vec<Kind>>,
}

/// How long a subscription waits for the watch's first look before it says it is ready
/// anyway: the watch keeps trying, and codes still arrive once it gets through.
const READY_WAIT: Duration = Duration::from_secs(30);

/// Checks that the key sees every account named, and watches each (IDLE) for as long as the
/// returned subscriptions live, once their baselines are taken.
///
/// # Errors
/// 404 for an account the key does not see or that does not exist.
pub(crate) async fn hold_accounts(
    state: &crate::server::AppState,
    caller: &crate::auth::Caller,
    accounts: &[String],
) -> Result<(HashSet<String>, Vec<mailwatch_engine::watch::CodeSubscription>), ApiError> {
    let mut names = HashSet::new();
    let mut subs = Vec::new();
    for a in accounts {
        let email = caller.account(a)?;
        let sub = state.engine.subscribe_codes(&email).await?;
        names.insert(state.engine.account(&email).await?.email);
        subs.push(sub);
    }
    let ready = futures::future::join_all(subs.iter().map(|s| s.ready()));
    let _ = tokio::time::timeout(READY_WAIT, ready).await;
    Ok((names, subs))
}
