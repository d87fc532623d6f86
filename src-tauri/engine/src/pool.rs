//! Plan A: one short-lived, reusable IMAP session per account, shared by callers in turn.
//!
//! The pool is modelled on deadpool and bb8. A [`Manager`] knows how to `connect` a session
//! for a key (an account's address), `recycle` it (a NOOP health check) and `close` it
//! (LOGOUT). The pool decides when:
//!
//! - a caller takes an idle session when one is fresh, checks it with NOOP first when it has
//!   idled past `health_check_after`, and replaces it when the check fails or it is past its
//!   idle TTL or maximum age;
//! - at most `max_per_account` sessions exist per key and `max_total` overall. A caller over
//!   a limit waits up to `wait_timeout` and then gets [`PoolError::WaitTimeout`], never an
//!   extra login. When only the global limit is hit, an idle session of another account is
//!   closed to make room;
//! - a [`Pooled`] guard gives the session back when dropped, or closes it when the caller
//!   marked it broken;
//! - a reaper task closes expired idle sessions, and [`SessionPool::close`] logs out of all.
//!
//! Counters are atomics, bumped where the event happens, so they stay right when a waiting
//! caller is cancelled; [`SessionPool::stats`] copies them into a plain [`PoolStats`].
//! Maps and counters sit behind `std::sync::Mutex`, never held across an `.await`.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};

use crate::config::PoolConfig;

/// Connects, checks and closes sessions for the pool.
pub trait Manager: Send + Sync + 'static {
    /// The session type, e.g. [`crate::imap::ImapSession`].
    type Session: Send + 'static;
    /// What connecting or checking can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens a new, signed-in session for `key`.
    fn connect(&self, key: &str) -> impl Future<Output = Result<Self::Session, Self::Error>> + Send;
    /// Checks that an idle session still works (NOOP).
    fn recycle(&self, session: &mut Self::Session) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Says goodbye (LOGOUT); must be bounded in time.
    fn close(&self, session: Self::Session) -> impl Future<Output = ()> + Send;
}

/// Why a caller got no session.
#[derive(Debug, thiserror::Error)]
pub enum PoolError<E: std::error::Error + 'static> {
    /// Every allowed session was busy for the whole wait.
    #[error("pool exhausted for {key}: {in_use} in use, waited {} s (limit {limit} {scope}); raise the limit or lower the concurrency", waited.as_secs_f64().round())]
    WaitTimeout {
        /// The account.
        key: String,
        /// Sessions of this account in use when the wait ended.
        in_use: usize,
        /// How long the caller waited.
        waited: Duration,
        /// The limit that held.
        limit: usize,
        /// "per account" or "overall".
        scope: &'static str,
    },
    /// Connecting failed.
    #[error(transparent)]
    Connect(E),
    /// The pool is shutting down.
    #[error("cannot open a session: Mailwatch is shutting down")]
    Closed,
}

/// Counters shared by the totals and each account.
#[derive(Debug, Default)]
struct Counters {
    created: AtomicU64,
    reused: AtomicU64,
    closed: AtomicU64,
    health_check_failures: AtomicU64,
    connection_waits: AtomicU64,
    wait_timeouts: AtomicU64,
    in_use: AtomicUsize,
    waiting: AtomicUsize,
}

/// A snapshot of one set of counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Sessions opened (logins).
    pub total_created: u64,
    /// Checkouts served by an existing session.
    pub total_reused: u64,
    /// Sessions closed, for any reason.
    pub total_closed: u64,
    /// NOOP checks that failed (the session was replaced).
    pub health_check_failures: u64,
    /// Checkouts that had to wait for a session.
    pub connection_waits: u64,
    /// Waits that ran out.
    pub wait_timeouts: u64,
    /// Sessions checked out now.
    pub in_use: usize,
    /// Sessions open and idle now.
    pub idle: usize,
    /// Callers waiting now.
    pub waiting: usize,
}

/// One account's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCounts {
    /// The account.
    pub email: String,
    /// Its counters.
    #[serde(flatten)]
    pub counts: Counts,
}

/// The pool's counters, overall and per account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStats {
    /// All accounts together.
    #[serde(flatten)]
    pub total: Counts,
    /// Each account that has used the pool, by address.
    pub per_account: Vec<AccountCounts>,
    /// Most sessions per account.
    pub max_per_account: usize,
    /// Most sessions overall.
    pub max_total: usize,
}

impl Counters {
    fn snapshot(&self, idle: usize) -> Counts {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            total_created: l(&self.created),
            total_reused: l(&self.reused),
            total_closed: l(&self.closed),
            health_check_failures: l(&self.health_check_failures),
            connection_waits: l(&self.connection_waits),
            wait_timeouts: l(&self.wait_timeouts),
            in_use: self.in_use.load(Ordering::Relaxed),
            idle,
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }
}

struct Idle<S> {
    session: S,
    created: Instant,
    last_used: Instant,
    generation: u64,
    global: OwnedSemaphorePermit,
}

struct Slot<S> {
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle<S>>>,
    counters: Counters,
    generation: AtomicU64,
}

impl<S> Slot<S> {
    fn idle(&self) -> MutexGuard<'_, Vec<Idle<S>>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Inner<M: Manager> {
    manager: M,
    cfg: PoolConfig,
    global: Arc<Semaphore>,
    slots: Mutex<HashMap<String, Arc<Slot<M::Session>>>>,
    totals: Counters,
    closed: AtomicBool,
}

impl<M: Manager> Inner<M> {
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Arc<Slot<M::Session>>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self, key: &str) -> Arc<Slot<M::Session>> {
        self.slots()
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Slot {
                    permits: Arc::new(Semaphore::new(self.cfg.max_per_account.max(1))),
                    idle: Mutex::new(Vec::new()),
                    counters: Counters::default(),
                    generation: AtomicU64::new(0),
                })
            })
            .clone()
    }

    fn bump(&self, slot: &Slot<M::Session>, f: impl Fn(&Counters) -> &AtomicU64) {
        f(&self.totals).fetch_add(1, Ordering::Relaxed);
        f(&slot.counters).fetch_add(1, Ordering::Relaxed);
    }

    fn expired(&self, e: &Idle<M::Session>, now: Instant, generation: u64) -> bool {
        e.generation != generation || now.duration_since(e.created) >= self.cfg.max_age || now.duration_since(e.last_used) >= self.cfg.idle_ttl
    }

    /// Closes one session in the background, counting it at once.
    fn retire(self: &Arc<Self>, slot: &Slot<M::Session>, session: M::Session, global: Option<OwnedSemaphorePermit>) {
        self.bump(slot, |c| &c.closed);
        let inner = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    inner.manager.close(session).await;
                    drop(global);
                });
            }
            Err(_) => drop((session, global)),
        }
    }

    /// Closes the least recently used idle session of any account other than `except`, to
    /// free a global permit. Returns whether one was closed.
    fn evict_one(self: &Arc<Self>, except: &str) -> bool {
        let victim = {
            let slots = self.slots();
            let mut best: Option<(Instant, Arc<Slot<M::Session>>)> = None;
            for (k, s) in slots.iter() {
                if k == except {
                    continue;
                }
                if let Some(t) = s.idle().iter().map(|e| e.last_used).min() {
                    if best.as_ref().is_none_or(|(bt, _)| t < *bt) {
                        best = Some((t, s.clone()));
                    }
                }
            }
            best
        };
        let Some((_, slot)) = victim else { return false };
        let taken = {
            let mut idle = slot.idle();
            let pos = idle.iter().enumerate().min_by_key(|(_, e)| e.last_used).map(|(i, _)| i);
            pos.map(|i| idle.remove(i))
        };
        match taken {
            Some(e) => {
                // The permit goes back now, so the caller can take it at once.
                drop(e.global);
                self.retire(&slot, e.session, None);
                true
            }
            None => false,
        }
    }
}

/// Keeps the "waiting" gauges right however the wait ends, cancellation included.
struct Waiting<'a>(&'a Counters, &'a Counters);

impl<'a> Waiting<'a> {
    fn new(a: &'a Counters, b: &'a Counters) -> Self {
        a.waiting.fetch_add(1, Ordering::Relaxed);
        b.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(a, b)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
        self.1.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A session checked out of the pool. Derefs to the session; dropping it returns the
/// session to the pool, or closes it if [`Pooled::mark_broken`] was called.
pub struct Pooled<M: Manager> {
    session: Option<M::Session>,
    created: Instant,
    generation: u64,
    reused: bool,
    broken: bool,
    global: Option<OwnedSemaphorePermit>,
    _account: OwnedSemaphorePermit,
    slot: Arc<Slot<M::Session>>,
    inner: Arc<Inner<M>>,
}

impl<M: Manager> Pooled<M> {
    /// Whether this checkout was served by an existing session.
    pub fn is_reused(&self) -> bool {
        self.reused
    }

    /// Marks the session unusable: it is closed instead of returned.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Session;

    fn deref(&self) -> &M::Session {
        self.session.as_ref().expect("a checked-out session is present until drop")
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Session {
        self.session.as_mut().expect("a checked-out session is present until drop")
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        self.inner.totals.in_use.fetch_sub(1, Ordering::Relaxed);
        self.slot.counters.in_use.fetch_sub(1, Ordering::Relaxed);
        let (Some(session), Some(global)) = (self.session.take(), self.global.take()) else { return };
        let now = Instant::now();
        let stale = self.broken
            || self.inner.closed.load(Ordering::Acquire)
            || self.generation != self.slot.generation.load(Ordering::Acquire)
            || now.duration_since(self.created) >= self.inner.cfg.max_age;
        if stale {
            self.inner.retire(&self.slot, session, Some(global));
        } else {
            self.slot.idle().push(Idle { session, created: self.created, last_used: now, generation: self.generation, global });
        }
        // The account permit is released after the session is back, so the next caller
        // finds it idle.
    }
}

/// The session pool. Cheap to clone.
pub struct SessionPool<M: Manager> {
    inner: Arc<Inner<M>>,
}

impl<M: Manager> Clone for SessionPool<M> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<M: Manager> SessionPool<M> {
    /// A pool with the given limits. Starts the reaper when called inside a Tokio runtime;
    /// the reaper stops when the last handle to the pool is dropped.
    pub fn new(manager: M, cfg: PoolConfig) -> Self {
        let inner = Arc::new(Inner {
            manager,
            global: Arc::new(Semaphore::new(cfg.max_total.max(1))),
            cfg,
            slots: Mutex::new(HashMap::new()),
            totals: Counters::default(),
            closed: AtomicBool::new(false),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(reaper(Arc::downgrade(&inner), inner.cfg.reap_interval));
        }
        SessionPool { inner }
    }

    /// The manager, for callers that need its state.
    pub fn manager(&self) -> &M {
        &self.inner.manager
    }

    /// The limits in force.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.cfg
    }

    /// Takes a session for `key`: an idle one if it is fresh (checked with NOOP after
    /// idling), otherwise a new one, waiting for the limits up to `wait_timeout`.
    ///
    /// # Errors
    /// [`PoolError::WaitTimeout`] when the wait runs out, [`PoolError::Connect`] when a new
    /// session cannot be opened, [`PoolError::Closed`] after [`SessionPool::close`].
    pub async fn get(&self, key: &str) -> Result<Pooled<M>, PoolError<M::Error>> {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(PoolError::Closed);
        }
        let slot = inner.slot(key);
        let started = Instant::now();
        let deadline = started + inner.cfg.wait_timeout;
        let mut waited = false;

        let account = match slot.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                waited = true;
                inner.bump(&slot, |c| &c.connection_waits);
                let _w = Waiting::new(&inner.totals, &slot.counters);
                match timeout_at(deadline, slot.permits.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => return Err(PoolError::Closed),
                    Err(_) => {
                        inner.bump(&slot, |c| &c.wait_timeouts);
                        return Err(PoolError::WaitTimeout {
                            key: key.to_string(),
                            in_use: slot.counters.in_use.load(Ordering::Relaxed),
                            waited: started.elapsed(),
                            limit: inner.cfg.max_per_account,
                            scope: "per account",
                        });
                    }
                }
            }
        };

        // Reuse an idle session if one is fresh and healthy.
        loop {
            let generation = slot.generation.load(Ordering::Acquire);
            let now = Instant::now();
            let candidate = slot.idle().pop();
            let Some(mut entry) = candidate else { break };
            if inner.expired(&entry, now, generation) {
                inner.retire(&slot, entry.session, Some(entry.global));
                continue;
            }
            if now.duration_since(entry.last_used) >= inner.cfg.health_check_after {
                let mut check = CloseOnDrop { session: Some(entry.session), global: Some(entry.global), slot: &slot, inner };
                let ok = inner.manager.recycle(check.session.as_mut().expect("present")).await.is_ok();
                if !ok {
                    inner.bump(&slot, |c| &c.health_check_failures);
                    drop(check);
                    continue;
                }
                let (s, g) = check.defuse();
                entry.session = s;
                entry.global = g;
            }
            inner.bump(&slot, |c| &c.reused);
            return Ok(self.checkout(slot.clone(), account, entry.session, entry.global, entry.created, entry.generation, true));
        }

        // Open a new one within the global limit.
        let global = match inner.global.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let evicted = inner.evict_one(key);
                match inner.global.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        if !waited {
                            inner.bump(&slot, |c| &c.connection_waits);
                        }
                        let _w = Waiting::new(&inner.totals, &slot.counters);
                        let _ = evicted;
                        match timeout_at(deadline, inner.global.clone().acquire_owned()).await {
                            Ok(Ok(p)) => p,
                            Ok(Err(_)) => return Err(PoolError::Closed),
                            Err(_) => {
                                inner.bump(&slot, |c| &c.wait_timeouts);
                                return Err(PoolError::WaitTimeout {
                                    key: key.to_string(),
                                    in_use: slot.counters.in_use.load(Ordering::Relaxed),
                                    waited: started.elapsed(),
                                    limit: inner.cfg.max_total,
                                    scope: "overall",
                                });
                            }
                        }
                    }
                }
            }
        };
        let generation = slot.generation.load(Ordering::Acquire);
        let session = inner.manager.connect(key).await.map_err(PoolError::Connect)?;
        inner.bump(&slot, |c| &c.created);
        Ok(self.checkout(slot, account, session, global, Instant::now(), generation, false))
    }

    #[allow(clippy::too_many_arguments)]
    fn checkout(
        &self,
        slot: Arc<Slot<M::Session>>,
        account: OwnedSemaphorePermit,
        session: M::Session,
        global: OwnedSemaphorePermit,
        created: Instant,
        generation: u64,
        reused: bool,
    ) -> Pooled<M> {
        self.inner.totals.in_use.fetch_add(1, Ordering::Relaxed);
        slot.counters.in_use.fetch_add(1, Ordering::Relaxed);
        Pooled { session: Some(session), created, generation, reused, broken: false, global: Some(global), _account: account, slot, inner: self.inner.clone() }
    }

    /// Closes `key`'s idle sessions now and makes its busy ones close when returned (after
    /// its credentials changed, say).
    pub async fn invalidate(&self, key: &str) {
        let slot = self.inner.slots().get(key).cloned();
        let Some(slot) = slot else { return };
        slot.generation.fetch_add(1, Ordering::AcqRel);
        let idle: Vec<_> = slot.idle().drain(..).collect();
        for e in idle {
            self.inner.bump(&slot, |c| &c.closed);
            self.inner.manager.close(e.session).await;
        }
    }

    /// Closes sessions past their idle TTL or maximum age. The reaper calls this on its
    /// interval; tests may call it directly.
    pub async fn reap(&self) {
        reap_once(&self.inner).await;
    }

    /// Stops handing out sessions and logs out of every idle one. Sessions still checked
    /// out are closed when returned.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let slots: Vec<_> = self.inner.slots().values().cloned().collect();
        let mut closing = Vec::new();
        for slot in slots {
            let idle: Vec<_> = slot.idle().drain(..).collect();
            for e in idle {
                self.inner.bump(&slot, |c| &c.closed);
                closing.push(self.inner.manager.close(e.session));
            }
        }
        futures::future::join_all(closing).await;
    }

    /// A copy of the counters.
    pub fn stats(&self) -> PoolStats {
        let slots: Vec<(String, Arc<Slot<M::Session>>)> = self.inner.slots().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut per_account: Vec<AccountCounts> =
            slots.iter().map(|(k, s)| AccountCounts { email: k.clone(), counts: s.counters.snapshot(s.idle().len()) }).collect();
        per_account.sort_by(|a, b| a.email.cmp(&b.email));
        let idle = per_account.iter().map(|a| a.counts.idle).sum();
        PoolStats {
            total: self.inner.totals.snapshot(idle),
            per_account,
            max_per_account: self.inner.cfg.max_per_account,
            max_total: self.inner.cfg.max_total,
        }
    }
}

/// Holds a session under a health check, so a cancelled check still counts it closed.
struct CloseOnDrop<'a, M: Manager> {
    session: Option<M::Session>,
    global: Option<OwnedSemaphorePermit>,
    slot: &'a Arc<Slot<M::Session>>,
    inner: &'a Arc<Inner<M>>,
}

impl<M: Manager> CloseOnDrop<'_, M> {
    fn defuse(mut self) -> (M::Session, OwnedSemaphorePermit) {
        (self.session.take().expect("present"), self.global.take().expect("present"))
    }
}

impl<M: Manager> Drop for CloseOnDrop<'_, M> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.inner.retire(self.slot, s, self.global.take());
        }
    }
}

async fn reap_once<M: Manager>(inner: &Arc<Inner<M>>) {
    let now = Instant::now();
    let slots: Vec<_> = inner.slots().values().cloned().collect();
    let mut closing = Vec::new();
    for slot in slots {
        let generation = slot.generation.load(Ordering::Acquire);
        let expired: Vec<Idle<M::Session>> = {
            let mut idle = slot.idle();
            let (old, keep): (Vec<_>, Vec<_>) = idle.drain(..).partition(|e| inner.expired(e, now, generation));
            *idle = keep;
            old
        };
        for e in expired {
            inner.bump(&slot, |c| &c.closed);
            let global = e.global;
            let fut = inner.manager.close(e.session);
            closing.push(async move {
                fut.await;
                drop(global);
            });
        }
    }
    futures::future::join_all(closing).await;
}

async fn reaper<M: Manager>(inner: Weak<Inner<M>>, every: Duration) {
    let every = every.max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        reap_once(&inner).await;
    }
}
