//! Small helpers shared by the test bed: temp dirs, randomness, time stamps, free ports.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};

/// A directory under the system temp dir that is removed on drop unless kept.
pub(crate) struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// Creates `mailwatch-<prefix>-<pid>-<n>-<random>` with mode 0755 (Dovecot's
    /// unprivileged processes must be able to traverse it).
    pub(crate) fn new(prefix: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // Unix socket paths are limited to 108 bytes, so stay short.
        let name = format!("mw-{prefix}-{}-{n}-{}", std::process::id(), &random_token(6, ALNUM));
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create temp dir {}: {e}", path.display()));
        set_mode(&path, 0o755);
        TempDir { path, keep: std::env::var_os("MAILWATCH_TESTBED_KEEP").is_some() }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the directory on drop (used when a test fails, so its logs can be read).
    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub(crate) fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
}

pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters drawn uniformly from `alphabet` using the system CSPRNG.
pub(crate) fn random_token(len: usize, alphabet: &[u8]) -> String {
    let rng = SystemRandom::new();
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes).expect("system random generator failed");
    bytes.iter().map(|b| alphabet[*b as usize % alphabet.len()] as char).collect()
}

/// A random RFC 4122 version 4 GUID, as Microsoft prints trace and correlation ids.
pub(crate) fn random_guid() -> String {
    let hex = random_token(32, b"0123456789abcdef");
    let variant = ["8", "9", "a", "b"][hex.as_bytes()[16] as usize % 4];
    format!("{}-{}-4{}-{}{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], variant, &hex[17..20], &hex[20..32])
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `YYYY-MM-DD hh:mm:ssZ`, the shape of the `timestamp` field in Microsoft error replies.
pub(crate) fn utc_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z", rem / 3600, (rem / 60) % 60, rem % 60)
}

/// `n` distinct loopback ports that were free a moment ago (all are held until each is
/// found, so they differ). Dovecot binds its own sockets, so the ports are released before
/// they are handed over; `Dovecot::start` retries on a collision.
pub(crate) fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| {
            TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
                .expect("cannot bind an ephemeral loopback port")
        })
        .collect();
    listeners.iter().map(|l| l.local_addr().expect("bound socket has an address").port()).collect()
}

/// Decodes `application/x-www-form-urlencoded` into (name, value) pairs.
pub(crate) fn parse_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Encodes a form value the way browsers and `reqwest` do.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_matches_known_dates() {
        assert_eq!(utc_timestamp(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc_timestamp(1_709_251_199), "2024-02-29 23:59:59Z");
    }

    #[test]
    fn form_round_trips_microsoft_token_characters() {
        let v = "M.C5a_BAY.0.U.-x!y*z$$ a+b/c=";
        let body = format!("refresh_token={}&x=1", form_encode(v));
        assert_eq!(parse_form(&body)[0].1, v);
    }

    #[test]
    fn guid_is_version_4_shaped() {
        let g = random_guid();
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
    }
}
