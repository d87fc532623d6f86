//! The round robin's login budget: at most `watch.pollLoginRate` new sessions per second
//! for polls of accounts nobody waits on.
//!
//! With more watched accounts than sessions, every round-robin poll is a new TLS handshake
//! and login. Left alone, 1,000 accounts polled every minute are 17 logins a second: CPU
//! on both sides, and the kind of rate that makes a provider throttle. Paced, the round
//! stretches instead: each account is polled every `accounts / rate` seconds when that is
//! longer than `watch.pollInterval`. Polls that find their account's session still open cost
//! no login and are not paced; accounts someone waits on never queue here.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::lock;

/// Hands out login slots `1 / rate` apart, first come first served.
pub(super) struct LoginPace {
    /// The least time between two slots; `None` when logins are not paced.
    every: Option<Duration>,
    /// One caller at a time waits for the next slot; the others queue in order.
    turn: Semaphore,
    /// When the next slot opens.
    next: Mutex<Instant>,
    /// Slots handed out so far.
    spent: AtomicU64,
}

impl LoginPace {
    /// A budget of `rate` logins per second; 0 (or anything not a positive number) means
    /// no pacing.
    pub(super) fn new(rate: f64) -> LoginPace {
        let every = (rate.is_finite() && rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
        LoginPace { every, turn: Semaphore::new(1), next: Mutex::new(Instant::now()), spent: AtomicU64::new(0) }
    }

    /// Completes when the caller may log in. Cancel-safe: a caller dropped while it waits
    /// leaves its slot to the next in line.
    pub(super) async fn wait(&self) {
        if let Some(every) = self.every {
            let Ok(_turn) = self.turn.acquire().await else { return };
            let at = *lock(&self.next);
            tokio::time::sleep_until(at).await;
            *lock(&self.next) = Instant::now().max(at) + every;
        }
        self.spent.fetch_add(1, Ordering::Relaxed);
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
        pace.wait().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "the first login goes at once");
        // A caller that gives up while it waits does not use the slot.
        let gave_up = tokio::time::timeout(Duration::from_millis(100), pace.wait()).await;
        assert!(gave_up.is_err());
        let mut at = Vec::new();
        for _ in 0..4 {
            pace.wait().await;
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
            pace.wait().await;
        }
        assert_eq!((start.elapsed(), pace.spent()), (Duration::ZERO, 100));
    }
}
