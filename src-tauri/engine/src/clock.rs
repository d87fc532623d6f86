//! Wall-clock time as the cache stores it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A number in [0, 1) that differs from call to call, for jitter (not for anything secret):
/// the standard library's randomly keyed hash of `key`.
pub(crate) fn random_fraction(key: impl std::hash::Hash) -> f64 {
    use std::hash::BuildHasher;
    let h = std::collections::hash_map::RandomState::new().hash_one(key);
    (h % 1_000_000) as f64 / 1_000_000.0
}
