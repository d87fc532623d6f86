//! Watching accounts for new mail, within the pool's limits.
//!
//! Every watched account has one task, whatever the number of callers interested in it, and
//! that task is the only reader of the account's new mail. It runs in one of two modes:
//!
//! - **pushed**, while it holds one of the `watch.maxIdleSessions` IDLE slots (watched
//!   accounts and accounts someone waits on alike, first come first served): it keeps the
//!   account's session checked out of the pool, selected on INBOX, in IMAP IDLE, and fetches
//!   `UID FETCH last+1:*` whenever the server reports a change, so a code shows within one
//!   server notification of its arrival. The junk folder is pushed as fast where the server
//!   allows ([`JunkMode`]): NOTIFY (RFC 5465) on this one session, else a second session
//!   idling on junk while someone waits (`wait_code`, a [`CodeSubscription`]) and
//!   `pool.maxPerAccount` allows two, else STATUS (one round trip, INBOX stays selected) every
//!   `watch.junkPollInterval` while someone waits, every `watch.pollInterval` otherwise. When any
//!   other caller waits for the account's session (a fetch, with `pool.maxPerAccount` = 1),
//!   the task ends IDLE with DONE, gives the session back, and takes it again after that
//!   caller. The IDLE slots are checked-out sessions, so they count in `pool.maxTotal`, and
//!   the cap leaves room below it for polling and the user's fetches.
//! - **polled**, past the IDLE budget or on a server without IDLE: an account someone waits
//!   on is polled every `cache.pollInterval`; a watched account is polled once per
//!   `watch.pollInterval`, at most `watch.pollConcurrency` accounts at a time, in turn, each
//!   poll taking a session from the pool and giving it back, so 1,000 polled accounts never
//!   hold more sessions than the pool allows. [`Watcher::stats`] says how long the round
//!   takes.
//!
//! Every login of an account nobody waits on, pushed or polled, waits for a slot of the
//! login budget first (`pace`): at most `watch.pollLoginRate` logins a second, lowest rank
//! first, so 1,000 accounts starting together, or coming back after a network loss or a
//! server restart, log in at that rate instead of in one burst, and the first round serves
//! the accounts used most recently first ([`Watcher::resume`] starts them in that order). A
//! session still open costs no login; an account someone waits on never queues.
//!
//! A poll on a selected, reused session is one `UID FETCH last+1:*` (plus one STATUS for the
//! junk folder); a changed UIDVALIDITY resets the folder's baseline. A lost connection (an
//! EOF during IDLE among them) is retried at once, then with a doubling pause up to
//! `watch.backoffMax`, each pause jittered per account so accounts cut off together do not
//! come back together. A throttle reply ("Request is throttled. Suggested Backoff Time: N
//! milliseconds") pauses the account's task for the time asked instead (see
//! `signin::Throttles`), and its waits go on through the pause. Every new message goes
//! through extraction and the cache as a fetch
//! would, and codes found are sent to the account's subscribers. Tasks stop on
//! [`Watcher::shutdown`] or when the watcher is dropped.
//!
//! An account read through Microsoft Graph (see [`crate::channel`]) has no IDLE and no
//! session: its task runs a delta round on INBOX and the junk folder every
//! `cache.pollInterval` while someone waits, every `watch.pollInterval` otherwise, and takes
//! no session, IDLE slot or login from the budgets. An account on `auto` that IMAP refuses in
//! a way Graph cures moves to Graph at once, without failing its waiters.
//!
//! The watcher also keeps the user's [`WatchChoice`] (`choice.rs`): which accounts are
//! watched and whether watching is paused. [`Watcher::choose`], [`Watcher::pause`] and
//! [`Watcher::forget`] change it, store it and start or stop the watches to match, so what
//! is stored and what runs never disagree. [`Watcher::watch`] and [`Watcher::unwatch`] start
//! and stop a watch for this run only (the CLI's `watch` command), leaving the choice alone.

pub(crate) mod choice;
mod pace;
mod task;

pub use choice::WatchChoice;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, broadcast};
use tokio::task::JoinHandle;

use self::pace::LoginPace;

use crate::channel::Channels;
use crate::clock::unix_now;
use crate::config::Config;
use crate::error::EngineError;
use crate::events::EventSink;
use crate::intake::Intake;
use crate::pool::SessionPool;
use crate::signin::ImapLogin;
use crate::store::{CodeRecord, Store};

/// What an account's watch is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchMode {
    /// Connecting, or taking its first look.
    Starting,
    /// In IMAP IDLE on INBOX: pushed.
    Idle,
    /// Polled (past the IDLE budget, or on a server without IDLE).
    Poll,
    /// Waiting for a slot of the login budget (`watch.pollLoginRate`).
    Queued,
    /// Waiting before it reconnects after a failure.
    Backoff,
    /// Left alone for the time its server asked in a throttle reply.
    Throttled,
}

/// How a watch learns of new mail in the junk folder while it idles on INBOX, chosen per
/// server and account, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JunkMode {
    /// The server offers NOTIFY (RFC 5465): the session idling on INBOX hears of junk mail
    /// too, as fast as of the inbox's, at no extra cost.
    Notify,
    /// A second session idles on the junk folder, while someone waits on the account and
    /// `pool.maxPerAccount` allows two.
    Session,
    /// STATUS of the junk folder: every `watch.junkPollInterval` while someone waits, every
    /// `watch.pollInterval` otherwise (and every poll of an account that does not idle).
    Poll,
}

/// One account's watch, for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchStatus {
    /// The account.
    pub email: String,
    /// What it is doing.
    pub mode: WatchMode,
    /// Callers waiting for a code on it.
    pub waiters: usize,
    /// Whether it is watched (not only waited on).
    pub watched: bool,
    /// Polls run so far (each IDLE wake-up is one).
    pub polls: u64,
    /// How it learns of junk mail now, while it has a session (see [`JunkMode`]).
    #[serde(default)]
    pub junk: Option<JunkMode>,
    /// Seconds between the starts of its last two round-robin polls: the interval it is
    /// really polled at, `watch.pollInterval` or longer when logins are paced. `None` until
    /// it has been polled twice in a row by the round robin.
    #[serde(default)]
    pub poll_interval: Option<f64>,
    /// The last failure, in words, until a poll succeeds.
    pub last_error: Option<String>,
}

/// What the account's task tells its subscribers.
#[derive(Debug, Clone)]
enum Arrival {
    /// A message with a code or a link, found by poll number `poll`.
    Found { poll: u64, record: CodeRecord },
    /// The watch failed in a way waiting will not fix (sign-in refused, unknown folder, ...).
    Failed { poll: u64, error: Arc<EngineError> },
}

/// The highest UID seen in one folder, in one UIDVALIDITY.
#[derive(Debug, Clone)]
struct Mark {
    uid_validity: u32,
    last_uid: u32,
    /// When the folder was last looked at (Unix seconds), for messages found after a
    /// UIDVALIDITY change.
    checked_unix: i64,
}

struct Watched {
    email: String,
    index: usize,
    /// `watch.arrivalSlack` in seconds, for the account's subscribers.
    arrival_slack: i64,
    waiters: AtomicUsize,
    watched: AtomicBool,
    /// The channel to the account's subscribers, while it has any: `watch.arrivalBuffer`
    /// slots are allocated up front, too much to keep for each of 1,000 idling accounts
    /// nobody waits on. Changed only together with `waiters`.
    arrivals: Mutex<Option<broadcast::Sender<Arrival>>>,
    /// `watch.arrivalBuffer`.
    arrival_buffer: usize,
    /// A waiter came or went, or the watch was turned on or off.
    wake: Notify,
    polls_started: AtomicU64,
    polls_done: tokio::sync::watch::Sender<u64>,
    /// Logins this account has had from the login budget: its rank in the budget's queue.
    paced_logins: AtomicU64,
    /// Its server does not offer IDLE (learned from a session), so it is polled.
    no_idle: AtomicBool,
    /// Milliseconds between the starts of the last two round-robin polls; 0 until known.
    cold_gap_ms: AtomicU64,
    mode: Mutex<(WatchMode, Option<String>)>,
    /// How the junk folder is watched now.
    junk: Mutex<Option<JunkMode>>,
    /// Held by whoever looks at the junk folder (the account's task, or its second session),
    /// so two looks never move its mark at once.
    junk_turn: tokio::sync::Mutex<()>,
    /// The second session idling on the junk folder, while there is one (`task.rs`).
    junk_task: Mutex<Option<JoinHandle<()>>>,
    /// Whether that session is idling on the junk folder now.
    junk_up: AtomicBool,
    marks: Mutex<HashMap<String, Mark>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Watched {
    fn wanted(&self) -> bool {
        self.watched.load(Ordering::Acquire) || self.waiters.load(Ordering::Acquire) > 0
    }

    fn hot(&self) -> bool {
        self.waiters.load(Ordering::Acquire) > 0
    }

    fn set_mode(&self, mode: WatchMode) {
        lock(&self.mode).0 = mode;
    }

    fn set_error(&self, e: Option<String>) {
        lock(&self.mode).1 = e;
    }

    fn set_junk(&self, mode: Option<JunkMode>) {
        *lock(&self.junk) = mode;
    }

    /// Marks poll number `seq` done; polls of the second session run beside the task's, so
    /// the figure only grows.
    fn done(&self, seq: u64) {
        self.polls_done.send_if_modified(|v| {
            let newer = seq > *v;
            if newer {
                *v = seq;
            }
            newer
        });
    }

    fn status(&self) -> WatchStatus {
        let (mode, last_error) = lock(&self.mode).clone();
        WatchStatus {
            email: self.email.clone(),
            mode,
            waiters: self.waiters.load(Ordering::Relaxed),
            watched: self.watched.load(Ordering::Relaxed),
            polls: *self.polls_done.borrow(),
            junk: *lock(&self.junk),
            poll_interval: self.cold_gap(),
            last_error,
        }
    }

    /// Tells the account's subscribers, if it has any.
    fn announce(&self, arrival: Arrival) {
        if let Some(tx) = lock(&self.arrivals).as_ref() {
            let _ = tx.send(arrival);
        }
    }

    fn cold_gap(&self) -> Option<f64> {
        let ms = self.cold_gap_ms.load(Ordering::Relaxed);
        (ms > 0).then(|| ms as f64 / 1000.0)
    }
}

/// The watcher's figures, over all watched accounts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchStats {
    /// Accounts with a watch (watched, waited on, or both).
    pub accounts: usize,
    /// Accounts someone waits on now (IDLE, or quick polls).
    pub waited: usize,
    /// Accounts in IDLE now: pushed.
    #[serde(default)]
    pub pushed: usize,
    /// Accounts polled now (past the IDLE budget, or on a server without IDLE).
    #[serde(default)]
    pub polled: usize,
    /// Accounts waiting for a slot of the login budget now.
    #[serde(default)]
    pub queued: usize,
    /// Accounts connecting, or pausing after a failure before they try again.
    #[serde(default)]
    pub starting: usize,
    /// Accounts left alone now because their server throttles them.
    #[serde(default)]
    pub throttled: usize,
    /// Accounts whose junk folder is pushed by NOTIFY on their one session.
    #[serde(default)]
    pub junk_notify: usize,
    /// Accounts whose junk folder has a second session idling on it.
    #[serde(default)]
    pub junk_session: usize,
    /// Accounts whose junk folder is checked with STATUS.
    #[serde(default)]
    pub junk_poll: usize,
    /// The most accounts that may idle at once: `watch.maxIdleSessions`, capped below
    /// `pool.maxTotal` (0 with `watch.idle` off).
    #[serde(default)]
    pub idle_budget: usize,
    /// The round robin's login budget, per second (`watch.pollLoginRate`; 0: not paced).
    pub poll_login_rate: f64,
    /// Logins the round robin has spent so far.
    pub poll_logins: u64,
    /// Round-robin polls served by a session still open (no login).
    pub polls_reused: u64,
    /// Seconds between two polls of one account that the round robin should reach with
    /// this many accounts: `watch.pollInterval` while their sessions stay open, otherwise
    /// the longer of that and `accounts / pollLoginRate`.
    pub expected_poll_interval: f64,
    /// The median over round-robin accounts of the seconds between their last two polls,
    /// once known: the interval really reached.
    pub measured_poll_interval: Option<f64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct Shared {
    pool: SessionPool<ImapLogin>,
    intake: Intake,
    channels: Arc<Channels>,
    config: Config,
    sink: Arc<dyn EventSink>,
    accounts: Mutex<HashMap<String, Arc<Watched>>>,
    next_index: AtomicUsize,
    idle_slots: Arc<Semaphore>,
    idle_budget: usize,
    poll_turns: Arc<Semaphore>,
    logins: LoginPace,
    polls_reused: AtomicU64,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    /// The account's entry, created (with its task) if needed; `f` runs under the map's lock
    /// so a task that is about to retire sees the change.
    fn enter(self: &Arc<Self>, email: &str, f: impl FnOnce(&Watched)) -> Arc<Watched> {
        let mut map = lock(&self.accounts);
        let w = map
            .entry(email.to_string())
            .or_insert_with(|| {
                Arc::new(Watched {
                    email: email.to_string(),
                    index: self.next_index.fetch_add(1, Ordering::Relaxed),
                    arrival_slack: self.config.watch.arrival_slack.as_secs() as i64,
                    waiters: AtomicUsize::new(0),
                    watched: AtomicBool::new(false),
                    arrivals: Mutex::new(None),
                    arrival_buffer: self.config.watch.arrival_buffer.max(1),
                    wake: Notify::new(),
                    polls_started: AtomicU64::new(0),
                    polls_done: tokio::sync::watch::channel(0).0,
                    paced_logins: AtomicU64::new(0),
                    no_idle: AtomicBool::new(false),
                    cold_gap_ms: AtomicU64::new(0),
                    mode: Mutex::new((WatchMode::Starting, None)),
                    junk: Mutex::new(None),
                    junk_turn: tokio::sync::Mutex::new(()),
                    junk_task: Mutex::new(None),
                    junk_up: AtomicBool::new(false),
                    marks: Mutex::new(HashMap::new()),
                    task: Mutex::new(None),
                })
            })
            .clone();
        f(&w);
        let mut task = lock(&w.task);
        if task.as_ref().is_none_or(|t| t.is_finished()) && !*self.shutdown.borrow() {
            *task = Some(tokio::spawn(task::run(self.clone(), w.clone())));
        }
        drop(task);
        w.wake.notify_one();
        w
    }

    /// Removes the entry if nobody wants it any more; returns whether the task should end.
    fn retire(&self, w: &Arc<Watched>) -> bool {
        let mut map = lock(&self.accounts);
        if w.wanted() {
            return false;
        }
        if map.get(&w.email).is_some_and(|x| Arc::ptr_eq(x, w)) {
            map.remove(&w.email);
        }
        true
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The sign-in layer, for throttling.
    fn signin(&self) -> &Arc<crate::signin::SignIn> {
        self.pool.connector().signin()
    }
}

/// The watcher: one task per watched account, IDLE for the accounts being waited on,
/// round-robin polling for the rest, and the user's choice of accounts. Owned by the engine.
pub struct Watcher {
    shared: Arc<Shared>,
    store: Store,
    choice: Mutex<WatchChoice>,
    /// Serialises changes of the choice, so the one stored last is the one in force.
    choosing: tokio::sync::Mutex<()>,
}

impl Watcher {
    /// A watcher with no watch running; `choice` is the stored choice, applied by
    /// [`Watcher::resume`].
    pub(crate) fn new(
        pool: SessionPool<ImapLogin>,
        intake: Intake,
        channels: Arc<Channels>,
        store: Store,
        config: Config,
        sink: Arc<dyn EventSink>,
        choice: WatchChoice,
    ) -> Watcher {
        let w = &config.watch;
        let p = &config.pool;
        // IDLE sessions are checked out for as long as they idle; leave room for the round
        // robin and for one fetch of the user's.
        let idle_cap = w.max_idle_sessions.min(p.max_total.saturating_sub(w.poll_concurrency.max(1) + 1));
        let idle_budget = if w.idle { idle_cap } else { 0 };
        let shared = Arc::new(Shared {
            idle_slots: Arc::new(Semaphore::new(idle_budget)),
            idle_budget,
            poll_turns: Arc::new(Semaphore::new(w.poll_concurrency.max(1))),
            logins: LoginPace::new(w.poll_login_rate),
            polls_reused: AtomicU64::new(0),
            pool,
            intake,
            channels,
            sink,
            accounts: Mutex::new(HashMap::new()),
            next_index: AtomicUsize::new(0),
            shutdown: tokio::sync::watch::channel(false).0,
            config,
        });
        Watcher { shared, store, choice: Mutex::new(choice), choosing: tokio::sync::Mutex::new(()) }
    }

    /// Wakes the account's watch, if it has one, to look at its channel again.
    pub(crate) fn nudge(&self, email: &str) {
        if let Some(w) = lock(&self.shared.accounts).get(email) {
            w.wake.notify_one();
        }
    }

    /// The user's choice now.
    pub(crate) fn choice(&self) -> WatchChoice {
        lock(&self.choice).clone()
    }

    /// Starts the watches of the stored choice (none while paused), in the order of `order`
    /// (the engine puts the most recently used accounts first): the earlier an account's
    /// watch starts, the earlier it gets an IDLE slot and a login slot.
    pub(crate) fn resume(&self, order: &[String]) {
        let active = self.choice().active().to_vec();
        self.shared.logins.gather();
        for email in order.iter().filter(|e| active.contains(e)) {
            self.watch(email);
        }
    }

    /// Adds accounts to the choice or removes them, stores it, and starts or stops their
    /// watches (only records the change while paused).
    ///
    /// # Errors
    /// The choice cannot be stored; nothing changed then.
    pub(crate) async fn choose(&self, emails: &[String], watch: bool) -> Result<WatchChoice, EngineError> {
        let _turn = self.choosing.lock().await;
        let mut next = self.choice();
        if next.set(emails, watch) {
            self.store_choice(&next).await?;
        }
        if !next.paused {
            for email in emails {
                if watch { self.watch(email) } else { self.unwatch(email) }
            }
        }
        Ok(next)
    }

    /// Pauses or resumes every chosen watch, and stores that.
    ///
    /// # Errors
    /// The choice cannot be stored; nothing changed then.
    pub(crate) async fn pause(&self, paused: bool) -> Result<WatchChoice, EngineError> {
        let _turn = self.choosing.lock().await;
        let mut next = self.choice();
        next.paused = paused;
        self.store_choice(&next).await?;
        for email in &next.watched {
            if paused { self.unwatch(email) } else { self.watch(email) }
        }
        Ok(next)
    }

    /// Drops a removed account from the choice, paused or not, and stops its watch.
    ///
    /// # Errors
    /// The choice cannot be stored.
    pub(crate) async fn forget(&self, email: &str) -> Result<(), EngineError> {
        let _turn = self.choosing.lock().await;
        self.unwatch(email);
        let mut next = self.choice();
        if next.set(&[email.to_string()], false) {
            self.store_choice(&next).await?;
        }
        Ok(())
    }

    /// Stores `next` and makes it the choice in force.
    async fn store_choice(&self, next: &WatchChoice) -> Result<(), EngineError> {
        let value = next.clone();
        self.store.call(move |s| choice::save(s, &value)).await?;
        *lock(&self.choice) = next.clone();
        Ok(())
    }

    /// Starts watching `email` (cold: round-robin polling) until [`Watcher::unwatch`].
    pub(crate) fn watch(&self, email: &str) {
        self.shared.enter(email, |w| w.watched.store(true, Ordering::Release));
    }

    /// Stops watching `email`; a wait in progress keeps its watch until it ends.
    pub(crate) fn unwatch(&self, email: &str) {
        let w = lock(&self.shared.accounts).get(email).cloned();
        if let Some(w) = w {
            w.watched.store(false, Ordering::Release);
            w.wake.notify_one();
        }
    }

    /// Subscribes to codes arriving in `email` from now on; the account is hot (IDLE) while
    /// at least one subscription lives.
    pub(crate) fn subscribe(&self, email: &str) -> CodeSubscription {
        let mut rx = None;
        let mut accept_from = 0;
        let w = self.shared.enter(email, |w| {
            let mut tx = lock(&w.arrivals);
            w.waiters.fetch_add(1, Ordering::AcqRel);
            rx = Some(tx.get_or_insert_with(|| broadcast::channel(w.arrival_buffer).0).subscribe());
            // The next poll to start is this subscriber's baseline; what later polls find is new.
            accept_from = w.polls_started.load(Ordering::Acquire) + 2;
        });
        CodeSubscription { w, rx: rx.expect("set under the lock"), accept_from, started_unix: unix_now() }
    }

    /// Every watch, by address.
    pub(crate) fn statuses(&self) -> Vec<WatchStatus> {
        let mut v: Vec<WatchStatus> = lock(&self.shared.accounts).values().map(|w| w.status()).collect();
        v.sort_by(|a, b| a.email.cmp(&b.email));
        v
    }

    /// How the round robin keeps up: its login budget and spending, and the interval it
    /// expects and reaches per account.
    pub(crate) fn stats(&self) -> WatchStats {
        let cfg = &self.shared.config;
        let (mut accounts, mut waited, mut gaps) = (0, 0, Vec::new());
        let (mut pushed, mut polled, mut queued, mut starting, mut throttled) = (0, 0, 0, 0, 0);
        let (mut junk_notify, mut junk_session, mut junk_poll) = (0, 0, 0);
        for w in lock(&self.shared.accounts).values() {
            accounts += 1;
            match lock(&w.mode).0 {
                WatchMode::Idle => pushed += 1,
                WatchMode::Poll => polled += 1,
                WatchMode::Queued => queued += 1,
                WatchMode::Starting | WatchMode::Backoff => starting += 1,
                WatchMode::Throttled => throttled += 1,
            }
            match *lock(&w.junk) {
                Some(JunkMode::Notify) => junk_notify += 1,
                Some(JunkMode::Session) => junk_session += 1,
                Some(JunkMode::Poll) => junk_poll += 1,
                None => {}
            }
            if w.hot() {
                waited += 1;
            } else if let Some(g) = w.cold_gap() {
                gaps.push(g);
            }
        }
        let measured = (!gaps.is_empty()).then(|| {
            let mid = gaps.len() / 2;
            *gaps.select_nth_unstable_by(mid, f64::total_cmp).1
        });
        // The round robin polls the accounts that neither idle nor are waited on.
        let held = accounts.min(self.shared.idle_budget).max(waited);
        let cold = accounts - held;
        let interval = cfg.watch.poll_interval.as_secs_f64();
        // Sessions the round robin can keep open between polls: the rest idle or serve waits.
        let room = cfg.pool.max_total.saturating_sub(held);
        let kept = cold <= room && cfg.watch.poll_interval < cfg.pool.idle_ttl;
        let rate = cfg.watch.poll_login_rate;
        let expected =
            if kept || !(rate.is_finite() && rate > 0.0) { interval } else { interval.max(cold as f64 / rate) };
        WatchStats {
            accounts,
            waited,
            pushed,
            polled,
            queued,
            starting,
            throttled,
            junk_notify,
            junk_session,
            junk_poll,
            idle_budget: self.shared.idle_budget,
            poll_login_rate: if rate.is_finite() && rate > 0.0 { rate } else { 0.0 },
            poll_logins: self.shared.logins.spent(),
            polls_reused: self.shared.polls_reused.load(Ordering::Relaxed),
            expected_poll_interval: expected,
            measured_poll_interval: measured,
        }
    }

    /// Signals every task to stop and waits for them up to `within`; sessions in IDLE get
    /// DONE and go back to the pool, which the caller then closes.
    pub(crate) async fn shutdown(&self, within: Duration) {
        self.shared.shutdown.send_replace(true);
        let tasks: Vec<JoinHandle<()>> =
            lock(&self.shared.accounts).values().filter_map(|w| lock(&w.task).take()).collect();
        let _ = tokio::time::timeout(within, futures::future::join_all(tasks)).await;
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

/// Codes arriving in one account after the subscription's baseline. While it lives, the
/// account is watched in hot mode; dropping it lets the watch cool down.
pub struct CodeSubscription {
    w: Arc<Watched>,
    rx: broadcast::Receiver<Arrival>,
    accept_from: u64,
    started_unix: i64,
}

impl CodeSubscription {
    /// Completes once the baseline is taken: from then on every new message counts.
    pub async fn ready(&self) {
        let mut rx = self.w.polls_done.subscribe();
        let _ = rx.wait_for(|done| *done + 1 >= self.accept_from).await;
    }

    /// The next code (or link) in a message that arrived after the baseline, in one of
    /// `folders` (folder keys such as `inbox`, `junk`; empty means any).
    ///
    /// # Errors
    /// The watch failed in a way that waiting will not fix: sign-in refused, server
    /// unreachable, keyring or cache failures. Lost connections are retried, not returned.
    pub async fn next(&mut self, folders: &[String]) -> Result<CodeRecord, EngineError> {
        loop {
            match self.rx.recv().await {
                Ok(Arrival::Found { poll, record }) => {
                    // A message that says it arrived well before the wait began is old mail the
                    // server only now reports; `watch.arrivalSlack` allows for clock skew.
                    let slack = self.w.arrival_slack;
                    let fresh = record.received.is_none_or(|d| d >= self.started_unix - slack);
                    if poll >= self.accept_from && fresh && (folders.is_empty() || folders.contains(&record.folder)) {
                        return Ok(record);
                    }
                }
                Ok(Arrival::Failed { poll, error }) => {
                    if poll + 1 >= self.accept_from {
                        return Err(EngineError::Watch { email: self.w.email.clone(), source: error });
                    }
                }
                // Fell behind by `watch.arrivalBuffer` arrivals: read on from where the channel is.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Err(EngineError::Closed),
            }
        }
    }
}

impl Drop for CodeSubscription {
    fn drop(&mut self) {
        let mut tx = lock(&self.w.arrivals);
        if self.w.waiters.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last subscriber: the channel's slots go with it.
            *tx = None;
        }
        drop(tx);
        self.w.wake.notify_one();
    }
}
