//! One reusable session per account (an IMAP session, or an SMTP connection in the outbox's
//! own pool), shared by callers in turn.
//!
//! The pool is modelled on deadpool and bb8. A [`Connect`] implementation knows how to `connect` a session
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
//! - a session being closed still counts against both limits until its LOGOUT is done: it
//!   holds a global permit and, unless it was marked broken, one of its account's, so the
//!   server never sees more than `max_per_account` healthy sessions of an account, not even
//!   while a stale one says goodbye;
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
pub trait Connect: Send + Sync + 'static {
    /// The session type, e.g. [`crate::imap::ImapSession`].
    type Session: Send + 'static;
    /// What connecting or checking can fail with.
    type Error: std::error::Error + Send + Sync + 'static;
    /// What the pool is called in its "exhausted" sentence.
    const NAME: &'static str = "pool";

    /// Opens a new, signed-in session for `key`.
    fn connect(&self, key: &str) -> impl Future<Output = Result<Self::Session, Self::Error>> + Send;
    /// Checks that an idle session still works (NOOP).
    fn recycle(&self, session: &mut Self::Session) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Says goodbye (LOGOUT); must be bounded in time.
    fn close(&self, session: Self::Session) -> impl Future<Output = ()> + Send;
}

/// Which of the pool's limits kept a caller waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// `pool.maxPerAccount`: the account's own sessions were all busy.
    PerAccount,
    /// `pool.maxTotal`: every session allowed was busy.
    Overall,
}

impl std::fmt::Display for LimitScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LimitScope::PerAccount => "per account",
            LimitScope::Overall => "overall",
        })
    }
}

/// Why a caller got no session.
#[derive(Debug, thiserror::Error)]
pub enum PoolError<E: std::error::Error + 'static> {
    /// Every allowed session was busy for the whole wait.
    #[error("{name} exhausted for {key}: {in_use} in use, waited {} s (limit {limit} {scope}); raise the limit or lower the concurrency", waited.as_secs_f64().round())]
    WaitTimeout {
        /// The pool's [`Connect::NAME`].
        name: &'static str,
        /// The account.
        key: String,
        /// Sessions of this account in use when the wait ended.
        in_use: usize,
        /// How long the caller waited.
        waited: Duration,
        /// The limit that held.
        limit: usize,
        /// Which limit held.
        scope: LimitScope,
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
    idling: AtomicUsize,
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
    /// Checked-out sessions in IMAP IDLE now (a subset of `in_use`).
    #[serde(default)]
    pub idling: usize,
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
            idling: self.idling.load(Ordering::Relaxed),
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
    /// Woken when a caller starts waiting for this account's session, so a holder that
    /// idles on it (IMAP IDLE) can give it back.
    wanted: tokio::sync::Notify,
    /// Callers waiting for this account's limit (not the global one) now.
    queued: AtomicUsize,
    idle: Mutex<Vec<Idle<S>>>,
    counters: Counters,
    generation: AtomicU64,
}

impl<S> Slot<S> {
    fn idle(&self) -> MutexGuard<'_, Vec<Idle<S>>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Inner<M: Connect> {
    connector: M,
    cfg: PoolConfig,
    global: Arc<Semaphore>,
    slots: Mutex<HashMap<String, Arc<Slot<M::Session>>>>,
    totals: Counters,
    closed: AtomicBool,
}

impl<M: Connect> Inner<M> {
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Arc<Slot<M::Session>>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self, key: &str) -> Arc<Slot<M::Session>> {
        self.slots()
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Slot {
                    permits: Arc::new(Semaphore::new(self.cfg.max_per_account.max(1))),
                    wanted: tokio::sync::Notify::new(),
                    queued: AtomicUsize::new(0),
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
        e.generation != generation
            || now.duration_since(e.created) >= self.cfg.max_age
            || now.duration_since(e.last_used) >= self.cfg.idle_ttl
    }

    /// Waits for a permit of `sem` until `deadline`; running out is counted and reported
    /// with the limit that held.
    async fn wait_permit(
        &self,
        slot: &Slot<M::Session>,
        sem: &Arc<Semaphore>,
        key: &str,
        started: Instant,
        deadline: Instant,
        scope: LimitScope,
    ) -> Result<OwnedSemaphorePermit, PoolError<M::Error>> {
        match timeout_at(deadline, sem.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(PoolError::Closed),
            Err(_) => {
                self.bump(slot, |c| &c.wait_timeouts);
                Err(PoolError::WaitTimeout {
                    name: M::NAME,
                    key: key.to_string(),
                    in_use: slot.counters.in_use.load(Ordering::Relaxed),
                    waited: started.elapsed(),
                    limit: match scope {
                        LimitScope::Overall => self.cfg.max_total,
                        LimitScope::PerAccount => self.cfg.max_per_account,
                    },
                    scope,
                })
            }
        }
    }

    /// Closes one session in the background, counting it at once. The permits it holds go
    /// back when LOGOUT is done.
    fn retire(
        self: &Arc<Self>,
        slot: &Slot<M::Session>,
        session: M::Session,
        global: Option<OwnedSemaphorePermit>,
        account: Option<OwnedSemaphorePermit>,
    ) {
        self.bump(slot, |c| &c.closed);
        let inner = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    inner.connector.close(session).await;
                    drop((global, account));
                });
            }
            Err(_) => drop((session, global, account)),
        }
    }

    /// Closes one session on the caller's account permit and hands the permit back once
    /// LOGOUT is done, so the caller's next login for the account comes after it. The close
    /// runs in a task of its own: a caller cancelled meanwhile still frees the permit only
    /// after LOGOUT.
    async fn close_holding(
        self: &Arc<Self>,
        slot: &Arc<Slot<M::Session>>,
        session: M::Session,
        global: OwnedSemaphorePermit,
        account: OwnedSemaphorePermit,
    ) -> OwnedSemaphorePermit {
        self.bump(slot, |c| &c.closed);
        let inner = self.clone();
        let closing = tokio::spawn(async move {
            inner.connector.close(session).await;
            drop(global);
            account
        });
        match closing.await {
            Ok(account) => account,
            // The close panicked and its permit went with it: take the account's next one.
            Err(_) => slot.permits.clone().acquire_owned().await.expect("account semaphores are never closed"),
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
                if let Some(t) = s.idle().iter().map(|e| e.last_used).min()
                    && best.as_ref().is_none_or(|(bt, _)| t < *bt)
                {
                    best = Some((t, s.clone()));
                }
            }
            best
        };
        let Some((_, slot)) = victim else { return false };
        // The victim's account must not log in again before its LOGOUT is done either; if
        // all its permits are taken, one of its callers is about to reuse the session.
        let Ok(account) = slot.permits.clone().try_acquire_owned() else { return false };
        let taken = {
            let mut idle = slot.idle();
            let pos = idle.iter().enumerate().min_by_key(|(_, e)| e.last_used).map(|(i, _)| i);
            pos.map(|i| idle.remove(i))
        };
        match taken {
            Some(e) => {
                // The permits go back only once LOGOUT is done, so the server never sees
                // more than `max_total` sessions, not even for a moment.
                self.retire(&slot, e.session, Some(e.global), Some(account));
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

/// Keeps a slot's count of callers queued for the account's limit right, cancellation
/// included.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::AcqRel);
        Queued(n)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A session checked out of the pool. Derefs to the session; dropping it returns the
/// session to the pool, or closes it if [`Pooled::mark_broken`] was called.
pub struct Pooled<M: Connect> {
    session: Option<M::Session>,
    created: Instant,
    generation: u64,
    reused: bool,
    broken: bool,
    spent: bool,
    idling: bool,
    global: Option<OwnedSemaphorePermit>,
    account: Option<OwnedSemaphorePermit>,
    slot: Arc<Slot<M::Session>>,
    inner: Arc<Inner<M>>,
}

impl<M: Connect> Pooled<M> {
    /// Whether this checkout was served by an existing session.
    pub fn is_reused(&self) -> bool {
        self.reused
    }

    /// Marks the session unusable: it is closed instead of returned.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Takes back [`Pooled::mark_broken`]: the session is returned after all. A caller that
    /// cannot be sure to finish a conversation (it may be cancelled halfway) marks the session
    /// broken first and clears the mark once the conversation is over.
    pub fn clear_broken(&mut self) {
        self.broken = false;
    }

    /// Closes the session when it is given back, gracefully, as one past its maximum age
    /// (an SMTP connection that sent its quota of messages, say).
    pub fn retire(&mut self) {
        self.spent = true;
    }

    /// Counts the session as idling (IMAP IDLE) or not, for [`Counts::idling`].
    pub fn set_idling(&mut self, on: bool) {
        if on != self.idling {
            self.idling = on;
            for c in [&self.inner.totals, &self.slot.counters] {
                if on {
                    c.idling.fetch_add(1, Ordering::Relaxed);
                } else {
                    c.idling.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }
}

impl<M: Connect> Deref for Pooled<M> {
    type Target = M::Session;

    fn deref(&self) -> &M::Session {
        self.session.as_ref().expect("a checked-out session is present until drop")
    }
}

impl<M: Connect> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Session {
        self.session.as_mut().expect("a checked-out session is present until drop")
    }
}

impl<M: Connect> Drop for Pooled<M> {
    fn drop(&mut self) {
        self.set_idling(false);
        self.inner.totals.in_use.fetch_sub(1, Ordering::Relaxed);
        self.slot.counters.in_use.fetch_sub(1, Ordering::Relaxed);
        let (Some(session), Some(global)) = (self.session.take(), self.global.take()) else { return };
        let now = Instant::now();
        let stale = self.broken
            || self.spent
            || self.inner.closed.load(Ordering::Acquire)
            || self.generation != self.slot.generation.load(Ordering::Acquire)
            || now.duration_since(self.created) >= self.inner.cfg.max_age;
        if stale {
            // A stale session's account permit goes with it: the account's next login waits
            // for its LOGOUT. A broken one's does not: its connection is already failing, and
            // the caller replacing it (at once, see `with_session`) must not wait out a LOGOUT
            // on a dead link and fail with "pool exhausted" instead of its own error.
            let account = if self.broken { None } else { self.account.take() };
            self.inner.retire(&self.slot, session, Some(global), account);
        } else {
            self.slot.idle().push(Idle {
                session,
                created: self.created,
                last_used: now,
                generation: self.generation,
                global,
            });
        }
        // The account permit is released after the session is back, so the next caller
        // finds it idle.
    }
}

/// The session pool. Cheap to clone.
pub struct SessionPool<M: Connect> {
    inner: Arc<Inner<M>>,
}

impl<M: Connect> Clone for SessionPool<M> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<M: Connect> SessionPool<M> {
    /// A pool with the given limits. Starts the reaper when called inside a Tokio runtime;
    /// the reaper stops when the last handle to the pool is dropped.
    pub fn new(connector: M, cfg: PoolConfig) -> Self {
        let inner = Arc::new(Inner {
            connector,
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

    /// The connector, for callers that need its state.
    pub fn connector(&self) -> &M {
        &self.inner.connector
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
                let _q = Queued::new(&slot.queued);
                slot.wanted.notify_waiters();
                inner.wait_permit(&slot, &slot.permits, key, started, deadline, LimitScope::PerAccount).await?
            }
        };

        let account = match self.reuse(&slot, account).await {
            Ok(pooled) => return Ok(pooled),
            Err(account) => account,
        };

        // Open a new one within the global limit.
        let global = match inner.global.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let evicted = inner.evict_one(key);
                match inner.global.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        if !waited && !evicted {
                            inner.bump(&slot, |c| &c.connection_waits);
                        }
                        // After an eviction the wait is for the victim's LOGOUT, not a queue.
                        let _w = (!evicted).then(|| Waiting::new(&inner.totals, &slot.counters));
                        inner.wait_permit(&slot, &inner.global, key, started, deadline, LimitScope::Overall).await?
                    }
                }
            }
        };
        let generation = slot.generation.load(Ordering::Acquire);
        let session = inner.connector.connect(key).await.map_err(PoolError::Connect)?;
        inner.bump(&slot, |c| &c.created);
        Ok(self.checkout(slot, account, session, global, Instant::now(), generation, false))
    }

    /// Takes `key`'s idle session if it has a fresh, healthy one and nobody holds its
    /// account's limit; never connects and never waits for a limit (only, when the idle
    /// session is stale, for its LOGOUT). A caller that must pace its logins
    /// (the round robin) tries this first and spends a login only when it gets `None`.
    pub async fn get_reused(&self, key: &str) -> Option<Pooled<M>> {
        if self.inner.closed.load(Ordering::Acquire) {
            return None;
        }
        let slot = self.inner.slot(key);
        let account = slot.permits.clone().try_acquire_owned().ok()?;
        self.reuse(&slot, account).await.ok()
    }

    /// Checks out an idle session of `slot` if one is fresh and healthy (with NOOP once it
    /// has idled past `health_check_after`); gives the account permit back when none is.
    /// A stale session is closed on the caller's account permit, which comes back once its
    /// LOGOUT is done, so a login that follows never overlaps it.
    async fn reuse(
        &self,
        slot: &Arc<Slot<M::Session>>,
        mut account: OwnedSemaphorePermit,
    ) -> Result<Pooled<M>, OwnedSemaphorePermit> {
        let inner = &self.inner;
        loop {
            let generation = slot.generation.load(Ordering::Acquire);
            let now = Instant::now();
            let candidate = slot.idle().pop();
            let Some(mut entry) = candidate else { return Err(account) };
            if inner.expired(&entry, now, generation) {
                account = inner.close_holding(slot, entry.session, entry.global, account).await;
                continue;
            }
            if now.duration_since(entry.last_used) >= inner.cfg.health_check_after {
                let mut check = CloseOnDrop {
                    session: Some(entry.session),
                    global: Some(entry.global),
                    account: Some(account),
                    slot,
                    inner,
                };
                let ok = inner.connector.recycle(check.session.as_mut().expect("present")).await.is_ok();
                let (s, g, a) = check.defuse();
                if !ok {
                    inner.bump(slot, |c| &c.health_check_failures);
                    account = inner.close_holding(slot, s, g, a).await;
                    continue;
                }
                entry.session = s;
                entry.global = g;
                account = a;
            }
            inner.bump(slot, |c| &c.reused);
            return Ok(self.checkout(
                slot.clone(),
                account,
                entry.session,
                entry.global,
                entry.created,
                entry.generation,
                true,
            ));
        }
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
        Pooled {
            session: Some(session),
            created,
            generation,
            reused,
            broken: false,
            spent: false,
            idling: false,
            global: Some(global),
            account: Some(account),
            slot,
            inner: self.inner.clone(),
        }
    }

    /// Callers waiting for `key`'s per-account limit now: the ones a holder of one of its
    /// sessions could serve by giving it back. (Callers waiting for the global limit are not
    /// counted: a returned session keeps its global permit.)
    pub fn waiting(&self, key: &str) -> usize {
        self.inner.slots().get(key).map_or(0, |s| s.queued.load(Ordering::Acquire))
    }

    /// Completes when a caller is waiting for one of `key`'s sessions (at once if one already
    /// is). A holder that would otherwise keep its session for a long time (IMAP IDLE) races
    /// this and gives the session back.
    pub async fn contended(&self, key: &str) {
        let slot = self.inner.slot(key);
        loop {
            let notified = slot.wanted.notified();
            tokio::pin!(notified);
            // Registered before the check, so a caller that starts waiting in between wakes us.
            notified.as_mut().enable();
            if slot.queued.load(Ordering::Acquire) > 0 {
                return;
            }
            notified.await;
        }
    }

    /// Closes `key`'s idle sessions now and makes its busy ones close when returned (after
    /// its credentials changed, say).
    pub async fn invalidate(&self, key: &str) {
        let slot = self.inner.slots().get(key).cloned();
        let Some(slot) = slot else { return };
        slot.generation.fetch_add(1, Ordering::AcqRel);
        // Each closes holding an account permit; one left idle for want of a permit is of
        // the old generation, so whoever takes it next retires it.
        for (e, account) in take_holding(&slot, |_| true) {
            self.inner.bump(&slot, |c| &c.closed);
            self.inner.connector.close(e.session).await;
            drop((e.global, account));
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
                closing.push(self.inner.connector.close(e.session));
            }
        }
        futures::future::join_all(closing).await;
    }

    /// A copy of the counters.
    pub fn stats(&self) -> PoolStats {
        let slots: Vec<(String, Arc<Slot<M::Session>>)> =
            self.inner.slots().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut per_account: Vec<AccountCounts> = slots
            .iter()
            .map(|(k, s)| AccountCounts { email: k.clone(), counts: s.counters.snapshot(s.idle().len()) })
            .collect();
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

/// Holds a session under a health check, so a cancelled check still counts it closed and
/// keeps its permits until LOGOUT is done.
struct CloseOnDrop<'a, M: Connect> {
    session: Option<M::Session>,
    global: Option<OwnedSemaphorePermit>,
    account: Option<OwnedSemaphorePermit>,
    slot: &'a Arc<Slot<M::Session>>,
    inner: &'a Arc<Inner<M>>,
}

impl<M: Connect> CloseOnDrop<'_, M> {
    fn defuse(mut self) -> (M::Session, OwnedSemaphorePermit, OwnedSemaphorePermit) {
        (
            self.session.take().expect("present"),
            self.global.take().expect("present"),
            self.account.take().expect("present"),
        )
    }
}

impl<M: Connect> Drop for CloseOnDrop<'_, M> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.inner.retire(self.slot, s, self.global.take(), self.account.take());
        }
    }
}

async fn reap_once<M: Connect>(inner: &Arc<Inner<M>>) {
    let now = Instant::now();
    let slots: Vec<_> = inner.slots().values().cloned().collect();
    let mut closing = Vec::new();
    for slot in slots {
        let generation = slot.generation.load(Ordering::Acquire);
        let expired = take_holding(&slot, |e| inner.expired(e, now, generation));
        for (e, account) in expired {
            inner.bump(&slot, |c| &c.closed);
            let global = e.global;
            let fut = inner.connector.close(e.session);
            closing.push(async move {
                fut.await;
                drop((global, account));
            });
        }
    }
    futures::future::join_all(closing).await;
}

/// Takes the idle sessions of `slot` that `pick` chooses, each with one of the account's
/// permits to hold while it closes. A session no permit is free for stays idle: one of the
/// account's callers is about to reuse it (and retires it itself if it is stale).
fn take_holding<S>(slot: &Slot<S>, pick: impl Fn(&Idle<S>) -> bool) -> Vec<(Idle<S>, OwnedSemaphorePermit)> {
    let mut idle = slot.idle();
    let mut taken = Vec::new();
    let mut keep = Vec::new();
    for e in idle.drain(..) {
        match pick(&e).then(|| slot.permits.clone().try_acquire_owned().ok()).flatten() {
            Some(account) => taken.push((e, account)),
            None => keep.push(e),
        }
    }
    *idle = keep;
    taken
}

async fn reaper<M: Connect>(inner: Weak<Inner<M>>, every: Duration) {
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

#[cfg(test)]
mod tests {
    //! The pool's rules with a scripted connector and paused time, for what a real server
    //! cannot be made to do on cue (expire exactly now, fail a NOOP, hang a caller).

    use std::sync::atomic::AtomicBool;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("scripted failure")]
    struct Scripted;

    #[derive(Default)]
    struct Fake {
        connects: AtomicUsize,
        closes: AtomicUsize,
        fail_recycle: AtomicBool,
        fail_connect: AtomicBool,
        /// LOGOUT waits while a test holds this for writing, as a slow server's would.
        logout_gate: tokio::sync::RwLock<()>,
        /// Sessions the "server" has now (logged in, LOGOUT not done) and the most it saw.
        open: AtomicUsize,
        max_open: AtomicUsize,
    }

    impl Connect for Arc<Fake> {
        type Session = usize;
        type Error = Scripted;

        async fn connect(&self, _key: &str) -> Result<usize, Scripted> {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if self.fail_connect.load(Ordering::SeqCst) {
                return Err(Scripted);
            }
            let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_open.fetch_max(open, Ordering::SeqCst);
            Ok(self.connects.fetch_add(1, Ordering::SeqCst))
        }

        async fn recycle(&self, _s: &mut usize) -> Result<(), Scripted> {
            if self.fail_recycle.load(Ordering::SeqCst) { Err(Scripted) } else { Ok(()) }
        }

        async fn close(&self, _s: usize) {
            self.closes.fetch_add(1, Ordering::SeqCst);
            drop(self.logout_gate.read().await);
            self.open.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn cfg() -> PoolConfig {
        PoolConfig {
            max_per_account: 1,
            max_total: 10,
            wait_timeout: Duration::from_secs(5),
            idle_ttl: Duration::from_secs(60),
            max_age: Duration::from_secs(600),
            health_check_after: Duration::from_secs(30),
            reap_interval: Duration::from_secs(10),
            ..PoolConfig::default()
        }
    }

    fn pool(c: PoolConfig) -> (SessionPool<Arc<Fake>>, Arc<Fake>) {
        let fake = Arc::new(Fake::default());
        (SessionPool::new(fake.clone(), c), fake)
    }

    fn open_sessions(s: &PoolStats) -> u64 {
        s.total.total_created - s.total.total_closed
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_session_is_reused_and_an_idle_expired_one_replaced() {
        let (p, _) = pool(cfg());
        let first = *p.get("a").await.unwrap();
        let again = p.get("a").await.unwrap();
        assert!(again.is_reused());
        assert_eq!(*again, first, "the same session came back");
        drop(again);
        tokio::time::advance(Duration::from_secs(61)).await;
        let third = p.get("a").await.unwrap();
        assert_ne!(*third, first, "past the idle TTL a new session is opened");
        let s = p.stats();
        assert_eq!((s.total.total_created, s.total.total_reused, s.total.total_closed), (2, 1, 1), "{s:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_session_is_still_retired_at_its_maximum_age() {
        let mut c = cfg();
        c.max_age = Duration::from_secs(100);
        let (p, _) = pool(c);
        for _ in 0..12 {
            drop(p.get("a").await.unwrap());
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        let s = p.stats().total;
        assert_eq!(s.total_created, 2, "one replacement after 100 s of constant use: {s:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reuse_only_checkout_never_connects_and_never_waits() {
        let (p, fake) = pool(cfg());
        assert!(p.get_reused("a").await.is_none(), "nothing idle yet");
        assert_eq!(fake.connects.load(Ordering::SeqCst), 0, "and no login was spent on finding out");
        drop(p.get("a").await.unwrap());
        let s = p.get_reused("a").await.expect("the idle session is handed out");
        assert!(s.is_reused());
        assert!(p.get_reused("a").await.is_none(), "the account's one session is busy: no wait, no login");
        drop(s);
        let st = p.stats().total;
        assert_eq!((st.total_created, st.total_reused, st.connection_waits, st.idle), (1, 1, 0, 1), "{st:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_health_check_is_counted_and_replaced_invisibly() {
        let (p, fake) = pool(cfg());
        drop(p.get("a").await.unwrap());
        tokio::time::advance(Duration::from_secs(20)).await;
        drop(p.get("a").await.unwrap());
        assert_eq!(p.stats().total.health_check_failures, 0, "no NOOP before health_check_after");
        tokio::time::advance(Duration::from_secs(31)).await;
        fake.fail_recycle.store(true, Ordering::SeqCst);
        let s = p.get("a").await.expect("the caller gets a new session, not the failure");
        assert!(!s.is_reused());
        let st = p.stats().total;
        assert_eq!((st.health_check_failures, st.total_created, st.total_closed), (1, 2, 1), "{st:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_reaper_closes_expired_idle_sessions() {
        let (p, fake) = pool(cfg());
        drop(p.get("a").await.unwrap());
        drop(p.get("b").await.unwrap());
        assert_eq!(p.stats().total.idle, 2);
        tokio::time::sleep(Duration::from_secs(75)).await;
        let s = p.stats().total;
        assert_eq!((s.idle, s.total_closed), (0, 2), "{s:?}");
        assert_eq!(fake.closes.load(Ordering::SeqCst), 2, "each was logged out");
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_over_the_account_limit_waits_then_gets_a_clear_error() {
        let (p, fake) = pool(cfg());
        let held = p.get("alice@example.com").await.unwrap();
        let err = p.get("alice@example.com").await.err().expect("the one session stays busy");
        assert_eq!(
            err.to_string(),
            "pool exhausted for alice@example.com: 1 in use, waited 5 s (limit 1 per account); raise the limit or lower the concurrency"
        );
        let s = p.stats().total;
        assert_eq!(
            (s.connection_waits, s.wait_timeouts, s.total_created),
            (1, 1, 1),
            "a timeout is never an extra login: {s:?}"
        );
        assert_eq!(fake.connects.load(Ordering::SeqCst), 1);
        drop(held);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_gets_the_session_as_soon_as_it_is_returned() {
        let (p, _) = pool(cfg());
        let held = p.get("a").await.unwrap();
        let p2 = p.clone();
        let waiter = tokio::spawn(async move { p2.get("a").await.map(|s| (*s, s.is_reused())) });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(p.stats().total.waiting, 1);
        let id = *held;
        drop(held);
        let (got, reused) = waiter.await.unwrap().unwrap();
        assert_eq!((got, reused), (id, true));
        assert_eq!(p.stats().total.waiting, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_waiter_leaves_the_counters_right() {
        let (p, _) = pool(cfg());
        let held = p.get("a").await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(1), p.get("a")).await;
        assert!(r.is_err(), "the waiter was cancelled");
        let s = p.stats().total;
        assert_eq!((s.waiting, s.in_use, s.connection_waits, s.wait_timeouts), (0, 1, 1, 0), "{s:?}");
        drop(held);
        let s = p.stats().total;
        assert_eq!((s.in_use, s.idle), (0, 1), "{s:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_holder_learns_that_a_caller_waits_and_the_caller_gets_the_session() {
        let (p, _) = pool(cfg());
        let mut held = p.get("a").await.unwrap();
        held.set_idling(true);
        assert_eq!((p.stats().total.in_use, p.stats().total.idling), (1, 1));
        let pending = tokio::time::timeout(Duration::from_millis(50), p.contended("a")).await;
        assert!(pending.is_err(), "nobody waits yet");
        let caller = {
            let p = p.clone();
            tokio::spawn(async move { *p.get("a").await.unwrap() })
        };
        p.contended("a").await;
        assert_eq!(p.waiting("a"), 1);
        let first = *held;
        drop(held);
        assert_eq!(caller.await.unwrap(), first, "the caller got the holder's session");
        let s = p.stats().total;
        assert_eq!((p.waiting("a"), s.idling, s.in_use, s.total_created), (0, 0, 0, 1), "{s:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_global_limit_evicts_another_accounts_idle_session() {
        let mut c = cfg();
        c.max_total = 1;
        let (p, _) = pool(c);
        drop(p.get("a").await.unwrap());
        let b = p.get("b").await.expect("a's idle session makes room");
        let s = p.stats();
        assert_eq!((s.total.total_created, s.total.total_closed), (2, 1), "{s:?}");
        let err = p.get("c").await.err().expect("b is busy and nothing is idle");
        assert!(err.to_string().contains("(limit 1 overall)"), "{err}");
        drop(b);
        assert_eq!(open_sessions(&p.stats()), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn broken_sessions_are_closed_and_failed_connects_leave_no_trace() {
        let (p, fake) = pool(cfg());
        let mut s = p.get("a").await.unwrap();
        s.mark_broken();
        drop(s);
        assert_eq!(p.stats().total.idle, 0, "a broken session is not returned");
        fake.fail_connect.store(true, Ordering::SeqCst);
        assert!(matches!(p.get("a").await, Err(PoolError::Connect(_))));
        let st = p.stats().total;
        assert_eq!((st.total_created, st.total_closed, st.in_use, st.idle), (1, 1, 0, 0), "{st:?}");
        fake.fail_connect.store(false, Ordering::SeqCst);
        drop(p.get("a").await.expect("the permits were given back"));
    }

    #[tokio::test(start_paused = true)]
    async fn close_logs_out_of_idle_sessions_and_refuses_new_callers() {
        let (p, fake) = pool(cfg());
        drop(p.get("a").await.unwrap());
        let busy = p.get("b").await.unwrap();
        p.close().await;
        assert_eq!(fake.closes.load(Ordering::SeqCst), 1, "the idle one was logged out");
        assert!(matches!(p.get("a").await, Err(PoolError::Closed)));
        drop(busy);
        tokio::task::yield_now().await;
        assert_eq!(fake.closes.load(Ordering::SeqCst), 2, "the busy one is closed when returned");
    }

    /// Starts a checkout of `key` in the background and lets paused time run `secs` seconds.
    async fn pending_get(p: &SessionPool<Arc<Fake>>, key: &'static str, secs: u64) -> tokio::task::JoinHandle<usize> {
        let p = p.clone();
        let task = tokio::spawn(async move { *p.get(key).await.expect("a session once LOGOUT is done") });
        tokio::time::sleep(Duration::from_secs(secs)).await;
        task
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_returned_past_its_maximum_age_holds_its_accounts_slot_until_its_logout_is_done() {
        let (p, fake) = pool(cfg());
        let s = p.get("a").await.unwrap();
        tokio::time::advance(Duration::from_secs(601)).await;
        let logout = fake.logout_gate.write().await;
        drop(s);
        let next = pending_get(&p, "a", 3).await;
        let seen = (next.is_finished(), fake.connects.load(Ordering::SeqCst), fake.closes.load(Ordering::SeqCst));
        assert_eq!(seen, (false, 1, 1), "(served, logins, logouts begun): no login while the LOGOUT runs");
        drop(logout);
        assert_eq!(next.await.unwrap(), 1, "the caller got a new session once LOGOUT was done");
        let max = fake.max_open.load(Ordering::SeqCst);
        assert_eq!(max, 1, "the server saw at most one session of the account at a time, saw {max}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_broken_session_frees_its_accounts_slot_at_once_for_the_caller_replacing_it() {
        let (p, fake) = pool(cfg());
        let mut s = p.get("a").await.unwrap();
        s.mark_broken();
        let logout = fake.logout_gate.write().await;
        drop(s);
        let next = pending_get(&p, "a", 1).await;
        assert!(next.is_finished(), "the replacement does not wait out a LOGOUT on a failing connection");
        drop(logout);
        assert_eq!(next.await.unwrap(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_idle_sessions_logout_holds_its_accounts_slot_on_every_path() {
        // The caller finds the stale session itself (the reaper sleeps), then the reaper finds
        // it, then the caller's NOOP fails.
        for path in ["checkout", "reaper", "health check"] {
            let mut c = cfg();
            if path != "reaper" {
                c.reap_interval = Duration::from_secs(10_000);
            }
            let (p, fake) = pool(c);
            drop(p.get("a").await.unwrap());
            let logout = fake.logout_gate.write().await;
            if path == "health check" {
                fake.fail_recycle.store(true, Ordering::SeqCst);
                tokio::time::advance(Duration::from_secs(31)).await;
            } else {
                tokio::time::advance(Duration::from_secs(61)).await;
            }
            let next = pending_get(&p, "a", 3).await;
            let seen = (next.is_finished(), fake.connects.load(Ordering::SeqCst), fake.closes.load(Ordering::SeqCst));
            assert_eq!(seen, (false, 1, 1), "{path}: (served, logins, logouts begun) while the LOGOUT runs");
            drop(logout);
            assert_eq!(next.await.unwrap(), 1, "{path}: a new session once LOGOUT was done");
            let max = fake.max_open.load(Ordering::SeqCst);
            assert_eq!(max, 1, "{path}: the server saw at most one session of the account, saw {max}");
            let st = p.stats().total;
            assert_eq!((st.total_created, st.total_closed, st.in_use), (2, 1, 0), "{path}: {st:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_evicted_session_holds_its_accounts_slot_until_its_logout_is_done() {
        let mut c = cfg();
        c.max_total = 1;
        let (p, fake) = pool(c);
        drop(p.get("a").await.unwrap());
        let free = |key: &str| p.inner.slot(key).permits.available_permits();
        let logout = fake.logout_gate.write().await;
        let other = pending_get(&p, "b", 1).await;
        assert_eq!(fake.closes.load(Ordering::SeqCst), 1, "a's idle session is being closed to make room for b");
        assert_eq!((free("a"), other.is_finished()), (0, false), "(a's free slots, b served) while a's LOGOUT runs");
        drop(logout);
        other.await.unwrap();
        assert_eq!(free("a"), 1, "a's slot came back with the LOGOUT");
        let max = fake.max_open.load(Ordering::SeqCst);
        assert_eq!(max, 1, "the server never saw more sessions than the global limit of 1, saw {max}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counters_balance_under_a_concurrent_mixed_load() {
        let mut c = cfg();
        c.max_per_account = 2;
        c.max_total = 3;
        c.wait_timeout = Duration::from_millis(50);
        c.health_check_after = Duration::ZERO;
        let (p, _) = pool(c);
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let p = p.clone();
                tokio::spawn(async move {
                    let key = ["a", "b", "c", "d"][i % 4];
                    if let Ok(mut s) = p.get(key).await {
                        tokio::time::sleep(Duration::from_millis((i % 3) as u64)).await;
                        if i % 17 == 0 {
                            s.mark_broken();
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let s = p.stats();
        assert_eq!(s.total.in_use, 0);
        assert_eq!(open_sessions(&s), s.total.idle as u64, "created - closed = open sessions: {s:?}");
        assert!(s.total.idle <= 3, "never more than the global limit: {s:?}");
        for a in &s.per_account {
            assert!(a.counts.idle <= 2, "never more than the account limit: {a:?}");
        }
        let sum: u64 = s.per_account.iter().map(|a| a.counts.total_created).sum();
        assert_eq!(sum, s.total.total_created, "per-account counters add up to the totals");
    }
}
