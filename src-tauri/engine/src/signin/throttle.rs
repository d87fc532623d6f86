//! Throttle replies: a server that says "Request is throttled. Suggested Backoff Time: 29000
//! milliseconds" (Outlook) gets what it asked for, for that account only.
//!
//! [`Throttles`] remembers, per account, until when it is left alone and how often it was
//! throttled lately. Sign-in refuses to log in before that time (no connection is made), the
//! watch pauses the account's task until then (its round-robin turn, its IDLE reconnection and
//! the waits on it all come from that task), and a user's fetch gets a clear sentence instead
//! of a login that would only be throttled again. Repeated throttling doubles the account's
//! own polling interval, up to `watch.throttleSlowdownMax`, and is forgotten after
//! `watch.throttleForget` without a throttle reply; the other accounts keep their pace.
//! Time is Tokio's, so the rules are tested with paused time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::config::WatchConfig;

/// One account's throttling.
#[derive(Debug, Clone, Copy)]
struct State {
    /// Left alone until then.
    until: Instant,
    /// Throttle replies since the slowdown was last forgotten.
    count: u32,
    /// The last throttle reply.
    last: Instant,
    /// Whether the account's status says it is throttled (to be set back once it works).
    shown: bool,
}

/// How throttling went, for the stats (flattened beside the pool's, sending's and Graph's
/// counters, so named as they are).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleStats {
    /// Throttle replies received so far, over all accounts.
    pub throttle_replies: u64,
    /// Accounts being left alone now.
    pub throttled_accounts: usize,
    /// Accounts whose polling is slowed now by repeated throttling.
    pub slowed_accounts: usize,
}

/// Every account's throttling.
pub struct Throttles {
    default: Duration,
    max: Duration,
    slowdown_max: u32,
    forget: Duration,
    accounts: Mutex<HashMap<String, State>>,
    replies: AtomicU64,
}

impl Throttles {
    /// Throttling by the rules in `watch` (`throttleDefault`, `throttleMax`,
    /// `throttleSlowdownMax`, `throttleForget`).
    pub(crate) fn new(watch: &WatchConfig) -> Throttles {
        Throttles {
            default: watch.throttle_default,
            max: watch.throttle_max,
            slowdown_max: watch.throttle_slowdown_max.max(1),
            forget: watch.throttle_forget,
            accounts: Mutex::new(HashMap::new()),
            replies: AtomicU64::new(0),
        }
    }

    fn accounts(&self) -> std::sync::MutexGuard<'_, HashMap<String, State>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a throttle reply for `email` asking for `asked` (or nothing); returns how long
    /// the account is left alone: what was asked, within `throttleMax`, or `throttleDefault`.
    pub(crate) fn note(&self, email: &str, asked: Option<Duration>) -> Duration {
        self.replies.fetch_add(1, Ordering::Relaxed);
        let wait = asked.unwrap_or(self.default).min(self.max);
        let now = Instant::now();
        let mut map = self.accounts();
        let s = map.entry(email.to_string()).or_insert(State { until: now, count: 0, last: now, shown: false });
        if now.duration_since(s.last) >= self.forget {
            s.count = 0;
        }
        s.count = s.count.saturating_add(1);
        s.last = now;
        s.until = s.until.max(now + wait);
        s.shown = true;
        wait
    }

    /// How long `email` is still left alone, if it is.
    pub(crate) fn remaining(&self, email: &str) -> Option<Duration> {
        let now = Instant::now();
        self.accounts().get(email).map(|s| s.until.saturating_duration_since(now)).filter(|d| !d.is_zero())
    }

    /// The factor the account's polling interval is multiplied by: 1, then doubling with each
    /// throttle reply after the first, up to `throttleSlowdownMax`; back to 1 after
    /// `throttleForget` without one.
    pub fn slowdown(&self, email: &str) -> u32 {
        let now = Instant::now();
        match self.accounts().get(email) {
            Some(s) if now.duration_since(s.last) < self.forget => {
                2u32.saturating_pow(s.count.saturating_sub(1)).min(self.slowdown_max)
            }
            _ => 1,
        }
    }

    /// Called when the account worked again: whether its status still says throttled (and so
    /// must be set back). Clears that mark.
    pub(crate) fn recovered(&self, email: &str) -> bool {
        self.accounts().get_mut(email).is_some_and(|s| std::mem::take(&mut s.shown))
    }

    /// A copy of the counters.
    pub fn stats(&self) -> ThrottleStats {
        let now = Instant::now();
        let map = self.accounts();
        ThrottleStats {
            throttle_replies: self.replies.load(Ordering::Relaxed),
            throttled_accounts: map.values().filter(|s| s.until > now).count(),
            slowed_accounts: map.values().filter(|s| s.count > 1 && now.duration_since(s.last) < self.forget).count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttles() -> Throttles {
        let mut w = WatchConfig::default();
        w.throttle_default = Duration::from_secs(60);
        w.throttle_max = Duration::from_secs(600);
        w.throttle_slowdown_max = 8;
        w.throttle_forget = Duration::from_secs(3600);
        Throttles::new(&w)
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_is_left_alone_for_the_time_asked_and_only_that_account() {
        let t = throttles();
        assert_eq!(t.note("a@x", Some(Duration::from_millis(29_000))), Duration::from_secs(29));
        assert_eq!(t.remaining("a@x"), Some(Duration::from_secs(29)));
        assert_eq!(t.remaining("b@x"), None, "another account is not throttled");
        tokio::time::advance(Duration::from_secs(28)).await;
        assert_eq!(t.remaining("a@x"), Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(t.remaining("a@x"), None, "free again once the time asked for has passed");
        assert_eq!(t.note("a@x", None), Duration::from_secs(60), "no time given: throttleDefault");
        assert_eq!(t.note("a@x", Some(Duration::from_secs(86_400))), Duration::from_secs(600), "capped at throttleMax");
        let s = t.stats();
        assert_eq!((s.throttle_replies, s.throttled_accounts), (3, 1), "{s:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn repeated_throttling_slows_that_accounts_polling_and_is_forgotten_later() {
        let t = throttles();
        let mut seen = Vec::new();
        for _ in 0..5 {
            t.note("a@x", Some(Duration::from_secs(1)));
            seen.push(t.slowdown("a@x"));
            tokio::time::advance(Duration::from_secs(60)).await;
        }
        assert_eq!(seen, [1, 2, 4, 8, 8], "doubling from the second throttle reply, capped at throttleSlowdownMax");
        assert_eq!(t.slowdown("b@x"), 1, "the other accounts keep their pace");
        assert_eq!(t.stats().slowed_accounts, 1);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(t.slowdown("a@x"), 1, "forgotten after throttleForget without a throttle reply");
        t.note("a@x", Some(Duration::from_secs(1)));
        assert_eq!(t.slowdown("a@x"), 1, "a throttle long after the last one starts again at 1");
        assert!(t.recovered("a@x"), "the status said throttled");
        assert!(!t.recovered("a@x"), "and is set back once");
    }
}
