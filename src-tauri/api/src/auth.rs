//! Who is calling: the key in `Authorization: Bearer`, `X-API-Key` or (for the streams, which
//! browsers cannot give headers, and the compatibility aliases) `?access_token=`; what it may
//! do; and its rate limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use mailwatch_engine::Engine;

use crate::error::ApiError;
use crate::keys::{self, KeyInfo, Scope, StoredKey};
use crate::server::AppState;

/// How long the server trusts its copy of the keys: a key made or revoked by another process
/// (`mailwatch-cli api-key`) takes effect within this.
pub const KEY_RELOAD: Duration = Duration::from_secs(1);

/// A key the server's copy does not know makes it read the keys again, so a key made a moment
/// ago works at once; such reads are at least this far apart, which also slows guessing.
const MISS_SPACING: Duration = Duration::from_millis(50);

/// The server's copy of the stored keys, read again when older than [`KEY_RELOAD`].
pub(crate) struct KeyCache {
    keys: RwLock<(Option<Instant>, Arc<Vec<StoredKey>>)>,
    reload: tokio::sync::Mutex<()>,
}

impl KeyCache {
    pub(crate) fn new() -> KeyCache {
        KeyCache { keys: RwLock::new((None, Arc::new(Vec::new()))), reload: tokio::sync::Mutex::new(()) }
    }

    fn fresh(&self) -> Option<Arc<Vec<StoredKey>>> {
        let g = self.keys.read().unwrap_or_else(|e| e.into_inner());
        g.0.filter(|t| t.elapsed() < KEY_RELOAD).map(|_| g.1.clone())
    }

    /// The keys, read from the cache when the copy is stale.
    pub(crate) async fn current(&self, engine: &Engine) -> Arc<Vec<StoredKey>> {
        match self.fresh() {
            Some(k) => k,
            None => self.read_since(engine, Instant::now() - KEY_RELOAD).await,
        }
    }

    /// The keys as read by a read that began at or after `since`: one reader at a time, reads
    /// at least [`MISS_SPACING`] apart. A failed read keeps the old copy (and says so in the
    /// log) rather than locking every client out.
    pub(crate) async fn read_since(&self, engine: &Engine, since: Instant) -> Arc<Vec<StoredKey>> {
        let _one_reader = self.reload.lock().await;
        let last = {
            let g = self.keys.read().unwrap_or_else(|e| e.into_inner());
            if g.0.is_some_and(|t| t >= since) {
                return g.1.clone();
            }
            g.0
        };
        if let Some(t) = last {
            tokio::time::sleep(MISS_SPACING.saturating_sub(t.elapsed())).await;
        }
        let began = Instant::now();
        let loaded = keys::load(engine).await;
        let mut g = self.keys.write().unwrap_or_else(|e| e.into_inner());
        match loaded {
            Ok(k) => g.1 = Arc::new(k),
            Err(e) => tracing::warn!("cannot read the API keys; using the ones read before: {e}"),
        }
        g.0 = Some(began);
        g.1.clone()
    }
}

/// Token buckets, one per key: `api.rateLimit` requests a second on average, up to
/// `api.rateBurst` at once.
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub(crate) fn new(rate: f64, burst: usize) -> RateLimiter {
        RateLimiter { rate, burst: burst.max(1) as f64, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `id`, or says how many whole seconds until one is there.
    pub(crate) fn take(&self, id: &str) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = buckets.entry(id.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// The key a request came with, checked and counted against its rate limit.
#[derive(Debug, Clone)]
pub struct Caller {
    /// What is known about the key.
    pub key: KeyInfo,
}

impl Caller {
    /// Refuses with 403 unless the key has `scope`.
    ///
    /// # Errors
    /// 403 `forbidden_scope`, naming the scope.
    pub fn need(&self, scope: Scope) -> Result<(), ApiError> {
        if self.key.allows(scope) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_scope",
            format!(
                "cannot do that with the key {}: it needs the scope {scope}; create a key with it (`mailwatch-cli api-key create --scope {scope}`)",
                self.key.id
            ),
        ))
    }

    /// The account's address, lower-cased, if the key sees it; otherwise the same 404 as for
    /// an account that does not exist.
    ///
    /// # Errors
    /// 404 `unknown_account`.
    pub fn account(&self, email: &str) -> Result<String, ApiError> {
        let email = email.trim().to_lowercase();
        if self.key.sees(&email) { Ok(email) } else { Err(ApiError::unknown_account(&email)) }
    }
}

/// The key as presented, from the headers, or from the query for the streams.
fn presented_key(parts: &Parts) -> Option<String> {
    let h = &parts.headers;
    if let Some(v) = h.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
            return Some(v[7..].trim().to_string());
        }
    }
    if let Some(v) = h.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    let path = parts.uri.path();
    if path.ends_with("/stream") || path.ends_with("/events") || path.starts_with("/api/mail-") {
        let query = parts.uri.query().unwrap_or("");
        for pair in query.split('&') {
            if let Some(v) = pair.strip_prefix("access_token=") {
                return Some(percent_decode(v));
            }
        }
    }
    None
}

/// Keys are URL-safe, but a client may still percent-encode them.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Caller, ApiError> {
        let Some(presented) = presented_key(parts) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_key",
                "send an API key as Authorization: Bearer KEY or X-API-Key: KEY; create one with `mailwatch-cli api-key create`",
            ));
        };
        let asked = Instant::now();
        let mut keys = state.keys.current(&state.engine).await;
        if keys::find(&keys, &presented).is_none() {
            keys = state.keys.read_since(&state.engine, asked).await;
        }
        let Some(key) = keys::find(&keys, &presented) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_key",
                "the API key is unknown or revoked; create one with `mailwatch-cli api-key create`",
            ));
        };
        if let Err(secs) = state.limiter.take(&key.info.id) {
            crate::metrics::ApiCounters::add(&state.counters.rate_limited);
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many requests with the key {}: at most {} a second (api.rateLimit); try again in {secs} s",
                    key.info.id, state.config.rate_limit
                ),
            );
            e.retry_after = Some(secs);
            return Err(e);
        }
        Ok(Caller { key: key.info.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_says_when_to_come_back() {
        let limiter = RateLimiter::new(1.0, 3);
        assert!((0..3).all(|_| limiter.take("a").is_ok()));
        assert_eq!(limiter.take("a"), Err(1));
        assert!(limiter.take("b").is_ok(), "each key has its own bucket");
    }

    #[test]
    fn percent_encoded_keys_are_decoded() {
        assert_eq!(percent_decode("mwk_a%2Db"), "mwk_a-b");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("odd%2"), "odd%2");
    }
}
