//! One watched account's task: push rounds (IDLE) while it holds an IDLE slot, or quick
//! polls while someone waits on it without one; cold rounds (a poll now and then, in turn with
//! the other accounts, within the login budget) otherwise.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::{Arrival, JunkMode, Mark, Shared, WatchMode, Watched, lock};
use crate::channel::{DeltaLinks, Route, cured_by_imap};
use crate::clock::{random_fraction, unix_now};
use crate::error::EngineError;
use crate::events::Event;
use crate::imap::{FetchLimits, FolderSpec, ImapError, ImapSession, RawMessage, Selected};
use crate::intake::record_for;

/// The UIDVALIDITY a mark holds for a folder that did not exist at the baseline (servers
/// never use 0).
const MISSING: u32 = 0;

pub(super) async fn run(shared: Arc<Shared>, w: Arc<Watched>) {
    let (backoff_min, backoff_max) = (shared.config.watch.backoff_min, shared.config.watch.backoff_max);
    let mut failures: u32 = 0;
    let mut next_cold = first_cold_poll(&shared, &w);
    // When the last round-robin poll started, for the interval the account really gets.
    let mut last_cold: Option<Instant> = None;
    let mut junk_due = Instant::now();
    let mut links = DeltaLinks::default();
    // Whether Graph's refusal already sent this watch back to IMAP once (an `auto` account).
    let mut tried_imap = false;
    loop {
        if shared.stopping() {
            break;
        }
        if !w.wanted() {
            if shared.retire(&w) {
                break;
            }
            continue;
        }
        let route = shared.channels.route(&w.email).await;
        let graph_auto = matches!(route, Ok(Route::Graph { auto: true }));
        let result = if let Ok(Route::Graph { .. }) = route {
            last_cold = None;
            graph_round(&shared, &w, &mut links).await
        } else if let Err(e) = route {
            Err(e)
        } else if w.hot() {
            last_cold = None;
            let slot = shared.idle_slots.clone().try_acquire_owned().ok();
            push_round(&shared, &w, slot, &mut junk_due).await
        } else if let Some(slot) = push_slot(&shared, &w) {
            last_cold = None;
            push_round(&shared, &w, Some(slot), &mut junk_due).await
        } else {
            if let ColdTurn::Changed = cold_wait(&shared, &w, next_cold).await {
                continue;
            }
            match cold_round(&shared, &w).await {
                ColdPoll::Ran { started, result } => {
                    if let Some(prev) = last_cold.replace(started) {
                        let gap = u64::try_from(started.duration_since(prev).as_millis()).unwrap_or(u64::MAX).max(1);
                        w.cold_gap_ms.store(gap, Ordering::Relaxed);
                    }
                    // Repeated throttling stretches this account's turn, not the others'.
                    next_cold = started + shared.config.watch.poll_interval * slowdown(&shared, &w);
                    result
                }
                ColdPoll::Changed => continue,
            }
        };
        match result {
            Ok(()) => {
                failures = 0;
                tried_imap = false;
                w.set_error(None);
            }
            Err(e) if graph_auto && !tried_imap && cured_by_imap(&e) => {
                // Graph refused an `auto` account: IMAP is tried once before waiters hear.
                tried_imap = true;
                tracing::debug!(email = %w.email, "watch tries IMAP after Graph refused: {e}");
                shared.channels.back_to_imap(&w.email).await;
            }
            Err(e) if shared.channels.fall_back(&w.email, &e).await => {
                // IMAP refused the account in a way Graph cures: the next round reads it
                // through Graph, and its waiters keep waiting.
                tracing::debug!(email = %w.email, "watch moves to Microsoft Graph: {e}");
            }
            Err(e) => {
                let poll = w.polls_started.fetch_add(1, Ordering::AcqRel) + 1;
                w.set_error(Some(e.to_string()));
                let failed: Result<(), EngineError> = Err(e);
                // A throttle reply: the account is left alone for the time asked, its waits go
                // on (the code comes after the pause, if their time allows), and the retry
                // after the pause is at once.
                if let Some(wait) = shared.signin().observe(&w.email, &failed).await {
                    w.done(poll);
                    failures = 0;
                    w.set_mode(WatchMode::Throttled);
                    tracing::debug!(email = %w.email, ?wait, "throttled");
                    let mut stop = shared.shutdown.subscribe();
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                    continue;
                }
                let Err(e) = failed else { unreachable!("an error was observed") };
                // Every waiter gets the same failure, with its cause.
                let e = Arc::new(e);
                if !e.is_connection_error() {
                    w.announce(Arrival::Failed { poll, error: e.clone() });
                }
                w.done(poll);
                // The first retry is immediate: a dead reused session is replaced invisibly.
                // Later pauses are jittered between half and all of the doubling pause, so the
                // accounts one outage cut off together spread out when they come back.
                let pause = if failures == 0 {
                    Duration::ZERO
                } else {
                    let full = (backoff_min * 2u32.saturating_pow(failures - 1)).min(backoff_max);
                    full.mul_f64(0.5 + random_fraction((&w.email, failures)) / 2.0)
                };
                // Graph asked for a longer wait than a request may take: the watch honours it.
                let pause = match &*e {
                    EngineError::Graph(crate::graph::GraphError::Throttled { retry_after, .. }) => {
                        pause.max(*retry_after)
                    }
                    _ => pause,
                };
                failures = failures.saturating_add(1);
                if !pause.is_zero() {
                    w.set_mode(WatchMode::Backoff);
                    tracing::debug!(email = %w.email, ?pause, "watch failed: {e}");
                    let mut stop = shared.shutdown.subscribe();
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                }
            }
        }
    }
}

/// Spreads the first polls of many accounts over one interval, so 1,000 accounts watched at
/// once do not all connect at once.
fn first_cold_poll(shared: &Shared, w: &Watched) -> Instant {
    let interval = shared.config.watch.poll_interval;
    let slots = shared.config.watch.first_poll_slots.max(1);
    Instant::now() + interval / slots * (w.index as u32 % slots)
}

enum ColdTurn {
    Due,
    Changed,
}

async fn cold_wait(shared: &Shared, w: &Watched, due: Instant) -> ColdTurn {
    w.set_mode(WatchMode::Poll);
    let mut stop = shared.shutdown.subscribe();
    tokio::select! {
        _ = tokio::time::sleep_until(due) => ColdTurn::Due,
        _ = w.wake.notified() => ColdTurn::Changed,
        _ = stop.wait_for(|s| *s) => ColdTurn::Changed,
    }
}

enum ColdPoll {
    /// The poll ran, starting at `started`.
    Ran { started: Instant, result: Result<(), EngineError> },
    /// The account's state changed while it waited for a login slot (a wait began, the
    /// watch ended, shutdown); nothing was polled.
    Changed,
}

/// One poll of an account nobody waits on, in turn with the others. A session still open
/// is used at once; otherwise the poll waits for a login slot, and gives it up if someone
/// starts waiting on the account meanwhile (the hot round does not queue for logins).
async fn cold_round(shared: &Shared, w: &Watched) -> ColdPoll {
    let kept = shared.pool.get_reused(&w.email).await;
    if kept.is_some() {
        shared.polls_reused.fetch_add(1, Ordering::Relaxed);
    } else if !queue_for_login(shared, w).await {
        return ColdPoll::Changed;
    }
    let started = Instant::now();
    let result = async {
        let _turn = shared.poll_turns.acquire().await.map_err(|_| EngineError::Closed)?;
        let mut s = match kept {
            Some(s) => s,
            None => shared.pool.get(&w.email).await?,
        };
        let r = poll(shared, w, &mut s, true).await;
        w.set_junk(Some(JunkMode::Poll));
        if r.as_ref().is_err_and(EngineError::is_connection_error) || !s.is_usable() {
            s.mark_broken();
        }
        r
    }
    .await;
    ColdPoll::Ran { started, result }
}

/// An IDLE slot for a watched account nobody waits on, if IDLE is on, its server offers it
/// (as far as known), and the budget has one free.
fn push_slot(shared: &Shared, w: &Watched) -> Option<OwnedSemaphorePermit> {
    if w.no_idle.load(Ordering::Acquire) {
        return None;
    }
    shared.idle_slots.clone().try_acquire_owned().ok()
}

/// Waits for a slot of the login budget, ranked by the logins the account has had and then by
/// when its watch started. Returns false, without a slot, when the account's state changed
/// meanwhile (a wait began, the watch ended, shutdown): a waited-on account does not queue.
async fn queue_for_login(shared: &Shared, w: &Watched) -> bool {
    w.set_mode(WatchMode::Queued);
    let rank = w.paced_logins.load(Ordering::Acquire);
    let mut stop = shared.shutdown.subscribe();
    tokio::select! {
        _ = shared.logins.wait(rank, w.index as u64) => {
            w.paced_logins.fetch_add(1, Ordering::AcqRel);
            true
        }
        _ = w.wake.notified() => false,
        _ = stop.wait_for(|s| *s) => false,
    }
}

/// Holds the account's session in IDLE on INBOX while it has an IDLE slot; without one (a
/// waited-on account past the budget) or on a server without IDLE, polls once and, while
/// someone waits, pauses `cache.pollInterval`. A session still open is taken at once; a new
/// one for an account nobody waits on waits for the login budget first. Returns to let the
/// loop re-decide (nobody wants the account, another caller wants the session, the session
/// is old, shutdown).
///
/// While it idles, junk mail is learnt of the best way the server allows ([`JunkMode`]):
/// NOTIFY on this session; else, for an account someone waits on, a second session idling on
/// the junk folder when `pool.maxPerAccount` allows two; else STATUS every
/// `watch.junkPollInterval` while someone waits, every `watch.pollInterval` otherwise.
async fn push_round(
    shared: &Arc<Shared>,
    w: &Arc<Watched>,
    idle_slot: Option<OwnedSemaphorePermit>,
    junk_due: &mut Instant,
) -> Result<(), EngineError> {
    let cfg = &shared.config;
    // How often this session checks the junk folder itself in a mode.
    let junk_every = |mode: JunkMode| {
        if mode == JunkMode::Poll && w.hot() {
            cfg.watch.junk_poll_interval * slowdown(shared, w)
        } else {
            cfg.watch.poll_interval
        }
    };
    let mut s = if w.hot() {
        shared.pool.get(&w.email).await?
    } else if let Some(s) = shared.pool.get_reused(&w.email).await {
        s
    } else if queue_for_login(shared, w).await {
        shared.pool.get(&w.email).await?
    } else {
        return Ok(());
    };
    if lock(&w.mode).0 == WatchMode::Queued {
        w.set_mode(WatchMode::Starting);
    }
    let r: Result<bool, EngineError> = async {
        let junk = Instant::now() >= *junk_due;
        poll(shared, w, &mut s, junk).await?;
        if junk {
            *junk_due = Instant::now() + junk_every(JunkMode::Poll);
        }
        if idle_slot.is_none() {
            w.set_junk(Some(JunkMode::Poll));
            return Ok(false);
        }
        if !s.supports_idle().await? {
            w.no_idle.store(true, Ordering::Release);
            w.set_junk(Some(JunkMode::Poll));
            return Ok(false);
        }
        let notified = junk_notify(&mut s).await?;
        let mut stop = shared.shutdown.subscribe();
        let mut announced = false;
        loop {
            if shared.stopping()
                || !w.wanted()
                || shared.pool.waiting(&w.email) > 0
                || s.created().elapsed() >= cfg.pool.max_age
            {
                return Ok(true);
            }
            // Mail the server reported while the last poll ran, after its FETCH had looked: an
            // IDLE issued now would not report it again.
            let junk_reported = notified.as_deref().is_some_and(|j| s.take_status_report(j));
            if s.take_reported_arrivals() || junk_reported {
                poll(shared, w, &mut s, junk_reported).await?;
                continue;
            }
            let mode = if notified.is_some() {
                JunkMode::Notify
            } else if w.hot() && cfg.pool.max_per_account >= 2 {
                start_junk_session(shared, w);
                if w.junk_up.load(Ordering::Acquire) { JunkMode::Session } else { JunkMode::Poll }
            } else {
                JunkMode::Poll
            };
            w.set_junk(Some(mode));
            // Someone began to wait: their junk checks start from now.
            *junk_due = (*junk_due).min(Instant::now() + junk_every(mode));
            let renew = cfg
                .watch
                .idle_renew
                .min(junk_due.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(50));
            w.set_mode(WatchMode::Idle);
            s.set_idling(true);
            // The counters change when the session starts idling, not at each renewal or
            // junk check; a snapshot costs a walk over every account.
            if !announced {
                emit_stats(shared);
                announced = true;
            }
            let interrupt = async {
                tokio::select! {
                    _ = shared.pool.contended(&w.email) => {}
                    _ = w.wake.notified() => {}
                    _ = stop.wait_for(|s| *s) => {}
                    // The second session came up or went down: the junk checks change.
                    _ = junk_session_changed(w, mode, cfg.pool.max_per_account >= 2) => {}
                }
            };
            let end = s.idle(renew, cfg.watch.idle_grace, interrupt).await;
            s.set_idling(false);
            // Whatever ended IDLE (news, a renewal, an interruption), one look follows.
            end?;
            let junk = Instant::now() >= *junk_due || notified.as_deref().is_some_and(|j| s.take_status_report(j));
            poll(shared, w, &mut s, junk).await?;
            if junk {
                *junk_due = Instant::now() + junk_every(mode);
            }
        }
    }
    .await;
    // A NO or BAD to IDLE or DONE is no connection error, but it leaves no connection to
    // give back: closing it frees its global slot.
    if r.as_ref().is_err_and(EngineError::is_connection_error) || !s.is_usable() {
        s.mark_broken();
    }
    drop(s);
    drop(idle_slot);
    emit_stats(shared);
    if r.as_ref().is_ok_and(|idled| !idled) && w.hot() && !shared.stopping() {
        // No IDLE here: poll again after the interval (longer for an account its server
        // throttles again and again), or sooner if something changes.
        w.set_mode(WatchMode::Poll);
        let mut stop = shared.shutdown.subscribe();
        tokio::select! {
            _ = tokio::time::sleep(cfg.cache.poll_interval * slowdown(shared, w)) => {}
            _ = w.wake.notified() => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }
    r.map(|_| ())
}

/// One look at INBOX and the junk folder through Microsoft Graph (a delta round each), then a
/// pause of `cache.pollInterval` while someone waits, `watch.pollInterval` otherwise, or less
/// if something changes. Returns to let the loop re-decide the route.
async fn graph_round(shared: &Shared, w: &Watched, links: &mut DeltaLinks) -> Result<(), EngineError> {
    let cfg = &shared.config;
    let seq = w.polls_started.fetch_add(1, Ordering::AcqRel) + 1;
    if lock(&w.mode).0 != WatchMode::Poll {
        w.set_mode(WatchMode::Starting);
    }
    for spec in [FolderSpec::Inbox, FolderSpec::Junk] {
        let key = spec.to_string();
        let saved = shared.channels.look(&w.email, &spec, links).await?;
        for m in &saved.messages {
            if let Some(record) = record_for(&w.email, &key, m, &saved.news) {
                w.announce(Arrival::Found { poll: seq, record });
            }
        }
    }
    w.polls_done.send_replace(seq);
    w.set_mode(WatchMode::Poll);
    let every = if w.hot() { cfg.cache.poll_interval } else { cfg.watch.poll_interval };
    let mut stop = shared.shutdown.subscribe();
    tokio::select! {
        _ = tokio::time::sleep(every) => {}
        _ = w.wake.notified() => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    Ok(())
}

/// The account's polling slowdown from repeated throttling (1 when it is not throttled).
fn slowdown(shared: &Shared, w: &Watched) -> u32 {
    shared.signin().throttles().slowdown(&w.email)
}

/// Asks the server to push the junk folder's news on this session (NOTIFY); the junk
/// folder's name when it agreed. `None` when it has no NOTIFY, refuses it, or the account has
/// no junk folder yet.
async fn junk_notify(s: &mut ImapSession) -> Result<Option<String>, EngineError> {
    let junk = match s.resolve(&FolderSpec::Junk).await {
        Ok(name) => name,
        Err(ImapError::NoSuchFolder { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(s.notify_junk(&junk).await?.then_some(junk))
}

/// Completes when the second session's state no longer matches `mode` (it came up while
/// the junk folder was polled, or went down while it was counted on).
async fn junk_session_changed(w: &Watched, mode: JunkMode, second: bool) {
    if !second || !w.hot() || mode == JunkMode::Notify {
        return std::future::pending().await;
    }
    loop {
        if w.junk_up.load(Ordering::Acquire) != (mode == JunkMode::Session) {
            return;
        }
        tokio::time::sleep(JUNK_SESSION_CHECK).await;
    }
}

/// How often a task or the second session checks whether the other changed or the wait ended.
const JUNK_SESSION_CHECK: Duration = Duration::from_millis(100);

/// Completes when nobody waits on the account any more.
async fn until_cold(w: &Watched) {
    while w.hot() {
        tokio::time::sleep(JUNK_SESSION_CHECK).await;
    }
}

/// Starts the second session on the junk folder unless it runs.
fn start_junk_session(shared: &Arc<Shared>, w: &Arc<Watched>) {
    let mut task = lock(&w.junk_task);
    if task.as_ref().is_none_or(|t| t.is_finished()) && !shared.stopping() {
        *task = Some(tokio::spawn(junk_session(shared.clone(), w.clone())));
    }
}

/// The second session: while someone waits on the account, a session of its own (the
/// account's second, within `pool.maxPerAccount`) selected on the junk folder and idling
/// there, looking whenever the server reports a change. It gives the session back when a
/// caller waits for one, and ends when the wait does. A failure pauses it as the task's do
/// (a throttle reply for the time asked); meanwhile the task checks junk with STATUS.
async fn junk_session(shared: Arc<Shared>, w: Arc<Watched>) {
    let cfg = &shared.config.watch;
    let mut failures: u32 = 0;
    while w.hot() && !shared.stopping() {
        let r = junk_session_round(&shared, &w).await;
        w.junk_up.store(false, Ordering::Release);
        let failed = match r {
            Ok(()) => {
                failures = 0;
                continue;
            }
            Err(e) => Err::<(), _>(e),
        };
        let pause = match shared.signin().observe(&w.email, &failed).await {
            Some(wait) => wait,
            None => {
                failures = failures.saturating_add(1);
                (cfg.backoff_min * 2u32.saturating_pow(failures.min(16) - 1)).min(cfg.backoff_max)
            }
        };
        if let Err(e) = failed {
            tracing::debug!(email = %w.email, ?pause, "the junk session failed: {e}");
        }
        let mut stop = shared.shutdown.subscribe();
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = until_cold(&w) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }
}

async fn junk_session_round(shared: &Shared, w: &Watched) -> Result<(), EngineError> {
    let cfg = &shared.config;
    let mut s = shared.pool.get(&w.email).await?;
    let r: Result<(), EngineError> = async {
        let junk = s.resolve(&FolderSpec::Junk).await?;
        if !s.supports_idle().await? {
            return Ok(());
        }
        s.select(&junk).await?;
        junk_look(shared, w, &mut s).await?;
        let mut stop = shared.shutdown.subscribe();
        loop {
            if shared.stopping()
                || !w.hot()
                || shared.pool.waiting(&w.email) > 0
                || s.created().elapsed() >= cfg.pool.max_age
            {
                return Ok(());
            }
            if s.take_reported_arrivals() {
                junk_look(shared, w, &mut s).await?;
                continue;
            }
            w.junk_up.store(true, Ordering::Release);
            s.set_idling(true);
            let interrupt = async {
                tokio::select! {
                    _ = shared.pool.contended(&w.email) => {}
                    _ = stop.wait_for(|s| *s) => {}
                    _ = until_cold(w) => {}
                }
            };
            let end = s.idle(cfg.watch.idle_renew, cfg.watch.idle_grace, interrupt).await;
            s.set_idling(false);
            end?;
            junk_look(shared, w, &mut s).await?;
        }
    }
    .await;
    if r.as_ref().is_err_and(EngineError::is_connection_error) || !s.is_usable() {
        s.mark_broken();
    }
    r
}

/// One look at the junk folder on the second session, as a poll of its own.
async fn junk_look(shared: &Shared, w: &Watched, s: &mut ImapSession) -> Result<(), EngineError> {
    let seq = w.polls_started.fetch_add(1, Ordering::AcqRel) + 1;
    s.take_reported_arrivals();
    {
        let _turn = w.junk_turn.lock().await;
        poll_folder(shared, w, s, &FolderSpec::Junk, seq).await?;
    }
    w.done(seq);
    shared.signin().succeeded(&w.email).await;
    Ok(())
}

fn emit_stats(shared: &Shared) {
    shared.sink.emit(Event::PoolStats(shared.pool.stats()));
}

/// Looks for new mail in INBOX (and, with `junk`, the junk folder) on a session, delivers
/// what it finds to the subscribers, and moves the marks. On a selected session with nothing
/// new this is one UID FETCH (and one STATUS for the junk folder).
async fn poll(shared: &Shared, w: &Watched, s: &mut ImapSession, junk: bool) -> Result<(), EngineError> {
    let seq = w.polls_started.fetch_add(1, Ordering::AcqRel) + 1;
    // What was reported before this look, this look finds.
    s.take_reported_arrivals();
    poll_folder(shared, w, s, &FolderSpec::Inbox, seq).await?;
    if junk {
        let _turn = w.junk_turn.lock().await;
        match poll_folder(shared, w, s, &FolderSpec::Junk, seq).await {
            Err(EngineError::Imap(ImapError::NoSuchFolder { .. })) => {
                // No junk folder yet: whatever first lands in one is new. The cache's
                // baseline says so too: no UIDVALIDITY, so arrival after now decides.
                let key = FolderSpec::Junk.to_string();
                if mark(w, &key).is_none() {
                    set_mark(w, &key, MISSING, 0);
                    shared.intake.set_baseline(&w.email, &key, MISSING, 0).await?;
                }
            }
            other => other?,
        }
        if s.selected().is_some_and(|x| x.name != "INBOX") && w.hot() {
            // Hot watches idle on INBOX; go back to it now rather than on the next poll.
            s.select("INBOX").await?;
        }
    }
    w.done(seq);
    shared.signin().succeeded(&w.email).await;
    Ok(())
}

fn mark(w: &Watched, key: &str) -> Option<Mark> {
    lock(&w.marks).get(key).cloned()
}

fn set_mark(w: &Watched, key: &str, uid_validity: u32, last_uid: u32) {
    lock(&w.marks).insert(key.to_string(), Mark { uid_validity, last_uid, checked_unix: unix_now() });
}

async fn poll_folder(
    shared: &Shared,
    w: &Watched,
    s: &mut ImapSession,
    spec: &FolderSpec,
    seq: u64,
) -> Result<(), EngineError> {
    let key = spec.to_string();
    let limits = FetchLimits::new(&shared.config.cache);
    let name = s.resolve(spec).await?;
    // What NOTIFY reported before this look, this look finds.
    s.take_status_report(&name);
    let selected = s.selected().is_some_and(|sel| sel.name == name);
    let Some(m) = mark(w, &key) else {
        // The baseline: what is there now is old.
        let (uid_next, uid_validity) = if selected || *spec == FolderSpec::Inbox {
            let sel = s.reselect(&name).await?;
            (sel.uid_next, sel.uid_validity)
        } else {
            s.status(&name).await?
        };
        let last = match uid_next {
            Some(n) => n.saturating_sub(1),
            None => s.fetch_newest(&name, 1, limits).await?.1.first().map_or(0, |m| m.uid),
        };
        set_mark(w, &key, uid_validity, last);
        // The cache's baseline too, so what arrives after this look is news to every path.
        shared.intake.set_baseline(&w.email, &key, uid_validity, last).await?;
        return Ok(());
    };
    if !selected && (*spec != FolderSpec::Inbox || !w.hot()) {
        // Not the selected folder: ask STATUS, and select it only when something is new. A
        // round-robin poll on a new session does the same for INBOX: nothing idles on it.
        let (uid_next, uid_validity) = s.status(&name).await?;
        if uid_validity == m.uid_validity && uid_next.is_some_and(|n| n <= m.last_uid.saturating_add(1)) {
            lock(&w.marks).entry(key).and_modify(|m| m.checked_unix = unix_now());
            return Ok(());
        }
    }
    // New mail comes in batches; the mark moves after each one is delivered, so a backlog
    // cut short by a timeout resumes where it stopped.
    let mut last = m.last_uid;
    loop {
        let batch = s.fetch_after(&name, last, limits).await?;
        let (sel, raws, more) = if batch.selected.uid_validity != m.uid_validity && m.uid_validity != MISSING {
            // Every UID changed meaning: start again from what is there now, and look at the
            // newest few for mail that came since the last look.
            let sel = s.reselect(&name).await?;
            let (_, newest) = s.fetch_newest(&name, shared.config.watch.rebaseline_top, limits).await?;
            let last = sel
                .uid_next
                .map(|n| n.saturating_sub(1))
                .unwrap_or(0)
                .max(newest.iter().map(|r| r.uid).max().unwrap_or(0));
            set_mark(w, &key, sel.uid_validity, last);
            let recent: Vec<RawMessage> =
                newest.into_iter().filter(|r| r.internal_date.is_some_and(|d| d >= m.checked_unix - 1)).collect();
            (sel, recent, false)
        } else {
            last = batch.messages.iter().map(|r| r.uid).max().unwrap_or(last).max(last);
            set_mark(w, &key, batch.selected.uid_validity, last);
            (batch.selected, batch.messages, batch.more)
        };
        deliver(shared, w, &key, &sel, raws, seq).await?;
        if !more {
            break;
        }
    }
    Ok(())
}

async fn deliver(
    shared: &Shared,
    w: &Watched,
    key: &str,
    sel: &Selected,
    raws: Vec<RawMessage>,
    seq: u64,
) -> Result<(), EngineError> {
    if raws.is_empty() {
        return Ok(());
    }
    let saved = shared.intake.save(&w.email, key, sel, raws).await?;
    for m in &saved.messages {
        if let Some(record) = record_for(&w.email, key, m, &saved.news) {
            w.announce(Arrival::Found { poll: seq, record });
        }
    }
    Ok(())
}
