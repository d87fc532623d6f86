//! The watcher's login budget: at most `watch.pollLoginRate` new sessions per second for
//! accounts nobody waits on, whether they idle or are polled.
//!
//! With more watched accounts than sessions, every round-robin poll is a new TLS handshake
//! and login. Left alone, 1,000 accounts polled every minute are 17 logins a second: CPU
//! on both sides, and the kind of rate that makes a provider throttle. Paced, the round
//! stretches instead: each account is polled every `accounts / rate` seconds when that is
//! longer than `watch.pollInterval`. Polls that find their account's session still open cost
//! no login and are not paced; accounts someone waits on never queue here.
//!
//! The same budget paces the sessions of watched accounts that idle: when 1,000 of them
//! start, or come back after a network loss or a server restart, they log in at the budget's
//! rate instead of all in the same second.
//!
//! Slots go by rank, not by arrival: the caller with the lowest rank queued gets the next
//! one. The watcher ranks an account by the paced logins it has already had and then by the
//! order its watch started (the most recently used accounts first), so the first round
//! serves recently used accounts first and no account is served twice while another waits
//! for its first.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::lock;

/// Where a caller stands in the queue: lower goes first; the last part keeps equal ranks in
/// arrival order.
type Place = (u64, u64, u64);

/// Hands out login slots `1 / rate` apart, lowest rank first.
pub(super) struct LoginPace {
    /// The least time between two slots; `None` when logins are not paced.
    every: Option<Duration>,
    queue: Mutex<Queue>,
    /// Slots handed out so far.
    spent: AtomicU64,
}

struct Queue {
    /// When the next slot opens.
    next: Instant,
    /// Who waits, in order; each is woken when it comes to the head.
    waiting: BTreeMap<Place, Arc<Notify>>,
    arrivals: u64,
}

impl Queue {
    /// Wakes whoever is first now, so it sleeps until the next slot.
    fn wake_head(&self) {
        if let Some(n) = self.waiting.values().next() {
            n.notify_one();
        }
    }
}

/// Leaves the queue when the caller stops waiting (got its slot or was cancelled).
struct Leave<'a> {
    pace: &'a LoginPace,
    place: Place,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut q = lock(&self.pace.queue);
        q.waiting.remove(&self.place);
        q.wake_head();
    }
}

impl LoginPace {
    /// A budget of `rate` logins per second; 0 (or anything not a positive number) means
    /// no pacing.
    pub(super) fn new(rate: f64) -> LoginPace {
        let every = (rate.is_finite() && rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
        let queue = Queue { next: Instant::now(), waiting: BTreeMap::new(), arrivals: 0 };
        LoginPace { every, queue: Mutex::new(queue), spent: AtomicU64::new(0) }
    }

    /// Completes when the caller may log in; of the callers queued, the one with the lowest
    /// `(rank, tiebreak)` goes first. Cancel-safe: a caller dropped while it waits leaves its
    /// slot to the next in line.
    pub(super) async fn wait(&self, rank: u64, tiebreak: u64) {
        if let Some(every) = self.every {
            let me = Arc::new(Notify::new());
            let place = {
                let mut q = lock(&self.queue);
                q.arrivals += 1;
                let place = (rank, tiebreak, q.arrivals);
                q.waiting.insert(place, me.clone());
                place
            };
            let _leave = Leave { pace: self, place };
            loop {
                let due = {
                    let mut q = lock(&self.queue);
                    let first = q.waiting.keys().next() == Some(&place);
                    let now = Instant::now();
                    if first && now >= q.next {
                        q.next = now + every;
                        break;
                    }
                    first.then_some(q.next)
                };
                match due {
                    // First in line: sleep until the slot, unless someone ranked higher comes.
                    Some(at) => tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = me.notified() => {}
                    },
                    None => me.notified().await,
                }
            }
        }
        self.spent.fetch_add(1, Ordering::Relaxed);
    }

    /// Opens the next slot no sooner than one interval from now, so that callers arriving
    /// together (the watches of a whole choice, started at once) all queue before the first
    /// slot and go in the order of their ranks, not in the order their tasks happened to run.
    pub(super) fn gather(&self) {
        if let Some(every) = self.every {
            let mut q = lock(&self.queue);
            q.next = q.next.max(Instant::now() + every);
        }
    }

    /// Logins allowed so far.
    pub(super) fn spent(&self) -> u64 {
        self.spent.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_by_the_rate_and_a_cancelled_waiter_gives_its_slot_away() {
        let pace = Arc::new(LoginPace::new(2.0));
        let start = Instant::now();
        pace.wait(0, 0).await;
        assert_eq!(start.elapsed(), Duration::ZERO, "the first login goes at once");
        // A caller that gives up while it waits does not use the slot.
        let gave_up = tokio::time::timeout(Duration::from_millis(100), pace.wait(0, 0)).await;
        assert!(gave_up.is_err());
        let mut at = Vec::new();
        for _ in 0..4 {
            pace.wait(0, 0).await;
            at.push(start.elapsed().as_millis());
        }
        assert_eq!(at, [500, 1000, 1500, 2000], "one login every half second");
        assert_eq!(pace.spent(), 5, "the cancelled wait is not counted");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_of_zero_is_no_pacing() {
        let pace = LoginPace::new(0.0);
        let start = Instant::now();
        for _ in 0..100 {
            pace.wait(0, 0).await;
        }
        assert_eq!((start.elapsed(), pace.spent()), (Duration::ZERO, 100));
    }

    #[tokio::test(start_paused = true)]
    async fn the_lowest_rank_queued_goes_first_and_equal_ranks_go_in_order() {
        let pace = Arc::new(LoginPace::new(10.0));
        pace.wait(0, 0).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Queued while the first slot is spent: ranks 3, 1, 2, then 1 again with a later tiebreak.
        for (name, rank, tie) in [("c", 3, 0), ("a", 1, 0), ("b", 2, 0), ("a2", 1, 5)] {
            let (pace, order) = (pace.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                pace.wait(rank, tie).await;
                order.lock().unwrap().push(name);
            }));
            tokio::task::yield_now().await;
        }
        assert_eq!(lock(&pace.queue).waiting.len(), 4, "all four queue");
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["a", "a2", "b", "c"]);
        assert!(lock(&pace.queue).waiting.is_empty(), "nobody is left in the queue");
    }
}
