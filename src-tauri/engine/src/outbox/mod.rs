//! Sending mail the way Mailwatch reads it: one reused SMTP connection per account, within
//! limits, at a steady pace, counted, and never a message twice.
//!
//! - Connections come from a [`SessionPool`] of their own (`smtp.maxPerAccount`,
//!   `smtp.maxTotal`, `smtp.waitTimeout`, closed after `smtp.idleTimeout`): a sender over a
//!   limit waits, then gets the pool's "exhausted" sentence, never an extra login. A connection
//!   is replaced after `smtp.maxMessagesPerConnection` messages.
//! - Nothing is checked before a send. When the connection turns out broken, the message goes
//!   once more on a new one, but only if the failure came before its data was handed over
//!   ([`crate::smtp::SmtpError::may_have_been_sent`]).
//! - Each account sends at most `smtp.ratePerSecond` messages a second: a sender takes the
//!   account's next free slot and waits for it.

pub mod batch;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::config::SmtpConfig;
use crate::error::EngineError;
use crate::pool::{PoolStats, SessionPool};
use crate::signin::SmtpLogin;
use crate::smtp::SmtpError;
use crate::smtp::compose::{Composed, Draft, compose};

/// What a sent message left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendReceipt {
    /// Always true: a message that was not sent is an error.
    pub sent: bool,
    /// The message's Message-ID.
    pub message_id: String,
    /// The server's final reply (it usually names its queue id).
    pub reply: String,
    /// Whether it went over a connection that had sent before.
    pub reused_connection: bool,
    /// Whether it went again on a new connection after the first one broke before its data.
    pub retried: bool,
}

/// The sending counters, overall.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SendStats {
    /// SMTP connections opened (logins).
    pub smtp_connections_created: u64,
    /// Sends served by an open connection.
    pub smtp_connections_reused: u64,
    /// Connections closed, for any reason.
    pub smtp_connections_closed: u64,
    /// Connections open now.
    pub smtp_connections_open: usize,
    /// Senders that waited for a connection.
    pub smtp_connection_waits: u64,
    /// Waits that ran out ("exhausted").
    pub smtp_wait_timeouts: u64,
    /// Messages the server accepted.
    pub smtp_messages_sent: u64,
    /// Messages sent per connection opened, on average.
    pub smtp_messages_per_connection: f64,
    /// Senders that waited for the account's rate.
    pub smtp_rate_waits: u64,
    /// Messages sent again on a new connection after the first broke before their data.
    pub smtp_retries: u64,
    /// Connections found broken while sending.
    pub smtp_broken_connections: u64,
    /// Sends refused for good (5xx: a recipient, the sender or the message), or that the
    /// server could not take as they were (an 8-bit message without 8BITMIME).
    pub smtp_refused: u64,
    /// Deferrals (4xx): each try of a message the server deferred counts.
    pub smtp_deferred: u64,
    /// Sign-ins refused: by the SMTP server, or by the provider (a revoked token, no scope
    /// for sending).
    pub smtp_signin_failures: u64,
    /// Sends that failed on the way (the server or the token endpoint unreachable, a broken
    /// or silent connection).
    pub smtp_connection_failures: u64,
    /// Other failures (a bad message, no server known, an exhausted pool).
    pub smtp_other_failures: u64,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    rate_waits: AtomicU64,
    retries: AtomicU64,
    broken: AtomicU64,
    refused: AtomicU64,
    deferred: AtomicU64,
    signin: AtomicU64,
    connection: AtomicU64,
    other: AtomicU64,
}

impl Counters {
    fn failed(&self, e: &EngineError) {
        let c = match e {
            EngineError::Smtp(SmtpError::Refused { transient: true, .. }) => &self.deferred,
            EngineError::Smtp(SmtpError::Refused { .. } | SmtpError::Unsendable { .. }) => &self.refused,
            EngineError::Smtp(SmtpError::AuthFailed { .. }) => &self.signin,
            EngineError::OAuth(e) if e.needs_reauth() => &self.signin,
            EngineError::OAuth(crate::oauth::OAuthError::ScopeNotGranted { .. }) => &self.signin,
            EngineError::OAuth(_) => &self.connection,
            EngineError::Smtp(_) => &self.connection,
            _ => &self.other,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Each account's next free moment to send, `1 / smtp.ratePerSecond` apart. A sender takes
/// the slot and waits for it, so senders of one account go in the order they came.
struct Pace {
    interval: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl Pace {
    fn new(rate_per_second: f64) -> Pace {
        let interval = Duration::try_from_secs_f64(1.0 / rate_per_second.max(0.001)).unwrap_or(Duration::ZERO);
        Pace { interval, next: Mutex::new(HashMap::new()) }
    }

    /// Waits for the account's next slot; returns whether that meant waiting.
    async fn turn(&self, key: &str) -> bool {
        let at = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.get(key).copied().filter(|t| *t > now).unwrap_or(now);
            next.insert(key.to_string(), slot + self.interval);
            slot
        };
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
            true
        } else {
            false
        }
    }
}

/// Sending: the SMTP connection pool, the pace per account, the counters.
pub struct Outbox {
    pool: SessionPool<SmtpLogin>,
    cfg: SmtpConfig,
    pace: Pace,
    counters: Counters,
}

impl Outbox {
    /// An outbox that signs in through `login`, within `cfg`'s limits.
    pub(crate) fn new(login: SmtpLogin, cfg: SmtpConfig) -> Outbox {
        Outbox {
            pool: SessionPool::new(login, cfg.pool()),
            pace: Pace::new(cfg.rate_per_second),
            cfg,
            counters: Counters::default(),
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &SmtpConfig {
        &self.cfg
    }

    /// Builds the draft's message and sends it from `draft.from`.
    ///
    /// # Errors
    /// [`EngineError::Compose`] for a draft that is not a message; the account is unknown or
    /// has no SMTP server; signing in failed; the server refused the message
    /// ([`SmtpError::Refused`], with its words); the connection failed twice, or once after
    /// the data (the message may have been sent and is not sent again); the pool stayed
    /// exhausted.
    pub async fn send(&self, draft: &Draft) -> Result<SendReceipt, EngineError> {
        let count_other = |_: &_| {
            self.counters.other.fetch_add(1, Ordering::Relaxed);
        };
        let composed = compose(draft).inspect_err(count_other)?;
        let from = crate::account::normalize_email(&draft.from).inspect_err(|_| {
            self.counters.other.fetch_add(1, Ordering::Relaxed);
        })?;
        self.send_composed(&from, &composed).await
    }

    /// Sends a built message from the account `from` (its normalised address).
    ///
    /// # Errors
    /// As [`Outbox::send`].
    pub async fn send_composed(&self, from: &str, composed: &Composed) -> Result<SendReceipt, EngineError> {
        let result = self.try_send(from, composed).await;
        if let Err(e) = &result {
            self.counters.failed(e);
        }
        result
    }

    async fn try_send(&self, from: &str, composed: &Composed) -> Result<SendReceipt, EngineError> {
        let mut retried = false;
        loop {
            let mut connection = self.pool.get(from).await?;
            // The turn is taken with the connection in hand: a sender that waited for it
            // (behind a slow login, say) must not have spent its slot meanwhile.
            if !retried && self.pace.turn(from).await {
                self.counters.rate_waits.fetch_add(1, Ordering::Relaxed);
            }
            let reused = connection.is_reused();
            // A sender cancelled halfway (a caller that gave up) leaves the conversation in an
            // unknown state: until it is over, the connection counts as broken, so it is closed
            // rather than handed to the next sender.
            connection.mark_broken();
            let result = connection.send(&composed.envelope, &composed.bytes).await;
            if !matches!(&result, Err(e) if e.is_connection_error()) {
                connection.clear_broken();
            }
            match result {
                Ok(reply) => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                    if connection.sent() >= self.cfg.max_messages_per_connection {
                        connection.retire();
                    }
                    return Ok(SendReceipt {
                        sent: true,
                        message_id: composed.message_id.clone(),
                        reply,
                        reused_connection: reused,
                        retried,
                    });
                }
                Err(e) if e.is_connection_error() => {
                    self.counters.broken.fetch_add(1, Ordering::Relaxed);
                    if retried || e.may_have_been_sent() {
                        return Err(e.into());
                    }
                    tracing::info!(account = %from, "the SMTP connection broke before the message's data; sending it on a new one");
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    retried = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Closes the account's idle connections and makes its busy ones close when returned
    /// (its secret or servers changed).
    pub(crate) async fn invalidate(&self, email: &str) {
        self.pool.connector().forget_refusal(email);
        self.pool.invalidate(email).await;
    }

    /// The pool's counters per account.
    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// The counters.
    pub fn stats(&self) -> SendStats {
        let p = self.pool.stats();
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let c = &self.counters;
        let sent = l(&c.sent);
        SendStats {
            smtp_connections_created: p.total.total_created,
            smtp_connections_reused: p.total.total_reused,
            smtp_connections_closed: p.total.total_closed,
            smtp_connections_open: p.total.in_use + p.total.idle,
            smtp_connection_waits: p.total.connection_waits,
            smtp_wait_timeouts: p.total.wait_timeouts,
            smtp_messages_sent: sent,
            smtp_messages_per_connection: if p.total.total_created == 0 {
                0.0
            } else {
                (sent as f64 / p.total.total_created as f64 * 10.0).round() / 10.0
            },
            smtp_rate_waits: l(&c.rate_waits),
            smtp_retries: l(&c.retries),
            smtp_broken_connections: l(&c.broken),
            smtp_refused: l(&c.refused),
            smtp_deferred: l(&c.deferred),
            smtp_signin_failures: l(&c.signin),
            smtp_connection_failures: l(&c.connection),
            smtp_other_failures: l(&c.other),
        }
    }

    /// Says QUIT on every idle connection; busy ones close when returned.
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_pace_spaces_one_accounts_sends_and_leaves_others_alone() {
        let pace = Pace::new(10.0);
        let start = Instant::now();
        assert!(!pace.turn("a").await, "the first send goes at once");
        assert!(pace.turn("a").await, "the second waits its turn");
        assert_eq!(start.elapsed(), Duration::from_millis(100), "one tenth of a second apart at 10 a second");
        assert!(!pace.turn("b").await, "another account has its own pace");
        pace.turn("a").await;
        assert_eq!(start.elapsed(), Duration::from_millis(200));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!pace.turn("a").await, "an account that paused sends at once again");
    }
}
