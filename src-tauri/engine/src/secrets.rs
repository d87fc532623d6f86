//! Refresh tokens and passwords, kept only in the OS keyring.
//!
//! Secrets never touch SQLite, logs or error messages: [`Secret`] has no `Display`, its
//! `Debug` is masked, and every [`SecretsError`] is built from what went wrong, never from
//! the stored bytes. There is no in-memory or plaintext fallback: with no reachable keyring
//! the caller gets [`SecretsError::Unavailable`], which says what to install or start.
//!
//! Keyring calls block (D-Bus round trips on Linux); async callers run them on a blocking
//! thread.
//!
//! # Shards
//!
//! [`KeyringSecrets`] does not keep one keyring item per account. gnome-keyring's cost per
//! write grows with the number of items (20 ms into an empty collection, 74 ms at 1,000), so
//! 10,000 accounts took most of an hour. Each account's secret goes instead to one of
//! [`SHARDS`] items, chosen by a stable hash of the address ([`shard_of`]); an item holds a
//! JSON map from address to secret. A bulk write ([`SecretStore::set_many`]) writes each
//! shard it touches once; a rotation rewrites one shard.
//!
//! Changing an account is a read-modify-write of its shard, so two writers must never
//! interleave, or one would put back the other's old token. Inside a process a mutex per
//! shard serializes them; across processes (the app and the CLI at the same time) an
//! advisory lock on a file does. The file also holds a stamp per shard, changed before every
//! write of that shard, so each process keeps the shards it has read in memory and reads a
//! shard from the keyring again only after someone changed it. The lock is waited for at most
//! `secrets.lockTimeout`: a process stuck behind an unlock prompt holds it, and the others
//! then get [`SecretsError::Busy`] instead of hanging.
//!
//! A shard that cannot be parsed any more is copied aside, byte for byte, to an item of its
//! own (`shard-NN-of-32.unreadable-<stamp>`) before it is written anew, so the secrets that
//! may still be in it can be recovered by hand; without that copy it is not overwritten.
//!
//! Items written by older versions (one per account, `(service, address)`) are still read
//! when an account is missing from its shard. The next write of such an account moves it
//! into its shard and deletes the old item; removing an account removes both.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
/// A refresh token or password. Cloning is cheap enough; printing is impossible.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value, trimming surrounding whitespace (a pasted token often has a
    /// trailing newline).
    pub fn new(value: impl Into<String>) -> Secret {
        let v: String = value.into();
        let trimmed = v.trim();
        Secret(if trimmed.len() == v.len() { v } else { trimmed.to_string() })
    }

    /// The value, for the one place that must send it (the token endpoint or LOGIN).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why the keyring could not do what was asked. None of these carry the secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretsError {
    /// No Secret Service (or platform keyring) can be reached at all.
    #[error(
        "cannot reach the system keyring: {reason}. Mailwatch keeps tokens and passwords only \
         there. On Linux, install and start a Secret Service provider in your desktop session \
         (for example `apt install gnome-keyring` and log in again, or enable KeePassXC's \
         Secret Service integration), then try again"
    )]
    Unavailable {
        /// What the platform said, without any secret.
        reason: String,
    },
    /// The keyring exists but is locked, or the unlock prompt was dismissed.
    #[error(
        "cannot use the system keyring: it is locked ({reason}). Unlock it (log in to your desktop session or open your keyring app) and try again"
    )]
    Locked {
        /// What the platform said.
        reason: String,
    },
    /// The stored value is not usable text.
    #[error("cannot read the keyring entry for {email}: it is not valid text; add the account again")]
    Corrupt {
        /// The account.
        email: String,
    },
    /// Anything else the platform reported.
    #[error("cannot {action} the keyring entry for {email}: {reason}")]
    Platform {
        /// "read", "write" or "delete".
        action: &'static str,
        /// The account.
        email: String,
        /// What the platform said.
        reason: String,
    },
    /// The lock that keeps two processes from overwriting each other's changes could not be
    /// taken, so nothing was changed.
    #[error(
        "cannot lock {path} to change the keyring safely: {reason}. Check that the directory exists and is writable"
    )]
    Lock {
        /// The lock file.
        path: String,
        /// What the system said.
        reason: String,
    },
    /// Another process (or this one, behind an unlock prompt) kept the keyring's lock for the
    /// whole wait, so nothing was changed.
    #[error(
        "cannot change the keyring now: another Mailwatch process, or an unlock prompt, has held {path} for {} s. Answer the prompt or let the other process finish, then try again",
        waited.as_secs()
    )]
    Busy {
        /// The lock file.
        path: String,
        /// How long this call waited.
        waited: std::time::Duration,
    },
    /// A shard was unreadable and a copy of it could not be kept aside, so it was not
    /// overwritten (which would lose the secrets that may still be in it).
    #[error(
        "cannot write {shard}: it is unreadable and no copy of it could be kept aside ({reason}); nothing was changed"
    )]
    NoBackup {
        /// The shard item.
        shard: String,
        /// What the keyring said.
        reason: String,
    },
}

impl SecretsError {
    /// The same error about another account (a shard's failure is each of its accounts').
    fn for_account(&self, account: &str) -> SecretsError {
        let mut e = self.clone();
        if let SecretsError::Corrupt { email } | SecretsError::Platform { email, .. } = &mut e {
            *email = account.to_string();
        }
        e
    }
}

/// Where secrets are kept. The engine uses [`KeyringSecrets`]; tests of other modules may
/// provide their own.
///
/// The `_many` methods let a store do a batch in fewer steps than one call per account;
/// their defaults call the one-account methods in turn.
pub trait SecretStore: Send + Sync + 'static {
    /// The account's secret, or `None` if none is stored.
    ///
    /// # Errors
    /// The keyring is unreachable, locked, or failed.
    fn get(&self, email: &str) -> Result<Option<Secret>, SecretsError>;

    /// Stores (or replaces) the account's secret.
    ///
    /// # Errors
    /// The keyring is unreachable, locked, or failed.
    fn set(&self, email: &str, secret: &Secret) -> Result<(), SecretsError>;

    /// Removes the account's secret; removing a missing one is not an error.
    ///
    /// # Errors
    /// The keyring is unreachable, locked, or failed.
    fn delete(&self, email: &str) -> Result<(), SecretsError>;

    /// Each account's secret, one result per address in the order given.
    fn get_many(&self, emails: &[String]) -> Vec<Result<Option<Secret>, SecretsError>> {
        emails.iter().map(|e| self.get(e)).collect()
    }

    /// Stores (or replaces) many secrets, one result per item in the order given. A later
    /// item for the same address wins.
    fn set_many(&self, items: &[(String, Secret)]) -> Vec<Result<(), SecretsError>> {
        items.iter().map(|(e, s)| self.set(e, s)).collect()
    }

    /// Removes many secrets, one result per address in the order given.
    fn delete_many(&self, emails: &[String]) -> Vec<Result<(), SecretsError>> {
        emails.iter().map(|e| self.delete(e)).collect()
    }

    /// The group an account's secret is written with, if the store writes in groups (the
    /// keyring's shards). A batch that hands over whole groups at once writes each group
    /// once; `None` means every account is written on its own.
    fn write_group(&self, email: &str) -> Option<usize> {
        let _ = email;
        None
    }

    /// Locks the account's refresh token against other processes for one exchange (read,
    /// exchange, write): held while the returned file is open. `None` when the store is this
    /// process's alone.
    ///
    /// # Errors
    /// [`SecretsError::Busy`] when another process held it for the whole wait.
    fn lock_exchange(&self, email: &str) -> Result<Option<File>, SecretsError> {
        let _ = email;
        Ok(None)
    }
}

/// How many keyring items hold the secrets. It is part of the items' names
/// (`shard-07-of-32`) and of which item holds which account, so changing it would leave
/// every stored secret where the new count does not look. Hence a constant, not a setting.
///
/// 32 weighs an import, which writes every shard once, against a rotation, which reads and
/// rewrites one: with gnome-keyring a write costs about 60 ms whatever the item's size (the
/// daemon rewrites its whole file), and reading a 10,000-account shard of 140 kB about 9 ms.
pub const SHARDS: usize = 32;

/// The shard that holds the account's secret: a stable hash (FNV-1a) of the address as
/// stored, the same in every build and on every platform.
pub fn shard_of(email: &str) -> usize {
    (fnv1a(email.as_bytes()) % SHARDS as u64) as usize
}

/// FNV-1a: a stable 64-bit hash, the same in every build and on every platform.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The keyring user name of a shard item; it holds no `@`, so it never names an account.
fn shard_user(shard: usize) -> String {
    format!("shard-{shard:02}-of-{SHARDS}")
}

/// A shard's contents: address to secret.
type ShardMap = BTreeMap<String, String>;

/// The format version written in every shard item.
const SHARD_FORMAT: u32 = 1;

#[derive(Deserialize)]
struct ShardVersion {
    v: u32,
}

#[derive(Deserialize)]
struct ShardItem {
    secrets: ShardMap,
}

#[derive(Serialize)]
struct ShardItemRef<'a> {
    v: u32,
    secrets: &'a ShardMap,
}

/// What this process last read of one shard, valid while the lock file holds `stamp`.
#[derive(Default)]
struct Slot {
    stamp: u64,
    map: Option<Arc<ShardMap>>,
}

/// One service's shards as this process sees them; shared by every [`KeyringSecrets`] of
/// that service in the process, so that their writes are serialized by the same mutexes.
struct Shards {
    /// One mutex per shard, held for a whole read-modify-write.
    slots: Vec<Mutex<Slot>>,
    lock_path: Option<PathBuf>,
    /// Accounts found only in an older per-account item; their next write deletes it.
    legacy: Mutex<HashSet<String>>,
}

static SHARDS_BY_SERVICE: LazyLock<Mutex<HashMap<String, Arc<Shards>>>> = LazyLock::new(Default::default);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shards {
    fn new(service: &str) -> Shards {
        Shards {
            slots: (0..SHARDS).map(|_| Mutex::default()).collect(),
            lock_path: lock_path(service),
            legacy: Mutex::default(),
        }
    }

    fn lock_error(&self, e: &std::io::Error) -> SecretsError {
        SecretsError::Lock {
            path: self.lock_path.as_ref().map_or_else(|| "(none)".to_string(), |p| p.display().to_string()),
            reason: e.to_string(),
        }
    }

    /// Opens the lock file and locks it, exclusively to change a shard, shared to read one,
    /// waiting at most `timeout` for a holder to let go (a process behind an unlock prompt
    /// may hold it for as long as the prompt is open). Closing the file (dropping it) unlocks
    /// it.
    fn lock_file(&self, exclusive: bool, timeout: Duration) -> Result<File, SecretsError> {
        let Some(path) = &self.lock_path else {
            return Err(SecretsError::Lock { path: "(none)".into(), reason: "no home directory is known".into() });
        };
        lock_with_deadline(path, exclusive, timeout)
    }

    /// The lock file of an account's token exchanges: one of [`EXCHANGE_LOCKS`] beside the
    /// keyring's lock, picked by a hash of the address.
    fn exchange_lock_path(&self, email: &str) -> Option<PathBuf> {
        let dir = self.lock_path.as_ref()?.parent()?;
        // FNV-1a: the same file in every process and build.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in email.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100000001b3);
        }
        Some(dir.join("token-locks").join(format!("{:03}.lock", h % EXCHANGE_LOCKS)))
    }
}

/// Lock files for token exchanges. Accounts sharing one only wait for each other when two
/// processes exchange both at the same moment.
const EXCHANGE_LOCKS: u64 = 256;

/// Opens `path` (and its directory) and locks it, exclusively or shared, waiting at most
/// `timeout` for a holder to let go. Closing the file (dropping it) unlocks it.
fn lock_with_deadline(path: &Path, exclusive: bool, timeout: Duration) -> Result<File, SecretsError> {
    let failed = |e: &std::io::Error| SecretsError::Lock { path: path.display().to_string(), reason: e.to_string() };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
    }
    // A file of its own per call: a lock is held by an open file, so threads of one process
    // sharing one file would not exclude each other.
    let file =
        File::options().read(true).write(true).create(true).truncate(false).open(path).map_err(|e| failed(&e))?;
    // The system offers no lock with a deadline, so the lock is tried with a pause that grows
    // from 1 ms to 50 ms; an uncontended lock is taken at the first try.
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        let attempt = if exclusive { file.try_lock() } else { file.try_lock_shared() };
        match attempt {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(SecretsError::Busy { path: path.display().to_string(), waited: started.elapsed() });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(failed(&e)),
        }
    }
}

/// The lock guards the keyring, which is one per user whatever data directory is in use, so
/// it sits in the user's default data directory (not in `--data-dir` / `MAILWATCH_DATA_DIR`):
/// the app and the CLI find the same file even when they were given different data.
fn lock_path(service: &str) -> Option<PathBuf> {
    let name: String = service
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    directories::ProjectDirs::from("app", "Mailwatch", "mailwatch")
        .map(|p| p.data_dir().join(format!("keyring-{name}.lock")))
}

/// A shard's stamp in the lock file; 0 if it was never written there.
fn read_stamp(mut file: &File, shard: usize) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start((shard * 8) as u64))?;
    let mut bytes = [0u8; 8];
    match file.read_exact(&mut bytes) {
        Ok(()) => Ok(u64::from_le_bytes(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
        Err(e) => Err(e),
    }
}

fn write_stamp(mut file: &File, shard: usize, stamp: u64) -> std::io::Result<()> {
    file.seek(SeekFrom::Start((shard * 8) as u64))?;
    file.write_all(&stamp.to_le_bytes())
}

/// A stamp no other write has used: the time, the process and a counter, mixed.
fn new_stamp() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&nanos.to_le_bytes());
    bytes[8..16].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
    bytes[16..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    fnv1a(&bytes).max(1)
}

/// The OS keyring through the `keyring` crate: Secret Service on Linux, Keychain on macOS,
/// Credential Manager on Windows. Secrets sit in [`SHARDS`] items `(service,
/// shard-NN-of-32)`; see the module docs.
#[derive(Clone)]
pub struct KeyringSecrets {
    service: String,
    shards: Arc<Shards>,
    lock_timeout: Duration,
}

impl fmt::Debug for KeyringSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringSecrets").field("service", &self.service).finish()
    }
}

/// How long a keyring call waits for the lock unless told otherwise
/// ([`crate::config::SecretsConfig`] holds the engine's setting).
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The keyring service name shared by the app and the CLI, so each sees the other's
/// accounts.
pub const DEFAULT_SERVICE: &str = "mailwatch";

impl Default for KeyringSecrets {
    fn default() -> Self {
        Self::new(DEFAULT_SERVICE)
    }
}

impl KeyringSecrets {
    /// A store whose entries carry the given service name.
    pub fn new(service: impl Into<String>) -> Self {
        let service = service.into();
        let shards =
            lock(&SHARDS_BY_SERVICE).entry(service.clone()).or_insert_with(|| Arc::new(Shards::new(&service))).clone();
        Self { service, shards, lock_timeout: DEFAULT_LOCK_TIMEOUT }
    }

    /// The file whose lock keeps processes from overwriting each other's keyring changes.
    pub fn lock_file_path(&self) -> Option<&std::path::Path> {
        self.shards.lock_path.as_deref()
    }

    /// The same store, waiting at most `timeout` for the keyring's lock
    /// (`secrets.lockTimeout`).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Checks that a real keyring backend is reachable, without touching any entry.
    ///
    /// # Errors
    /// [`SecretsError::Unavailable`] with the platform's reason.
    pub fn check_available(&self) -> Result<(), SecretsError> {
        match keyring::Entry::store_status() {
            Ok(()) => Ok(()),
            Err(e) => Err(SecretsError::Unavailable { reason: platform_reason(e) }),
        }
    }

    /// Forgets the shard contents this process has read, so the next read of each shard
    /// asks the keyring. Changes made through Mailwatch are noticed without this; it is for
    /// a keyring edited by hand, and for measuring a first read.
    pub fn clear_cache(&self) {
        for slot in &self.shards.slots {
            *lock(slot) = Slot::default();
        }
    }

    fn entry(&self, action: &'static str, user: &str) -> Result<keyring::Entry, SecretsError> {
        self.check_available()?;
        keyring::Entry::new(&self.service, user).map_err(|e| map_error(action, user, e))
    }

    /// Reads a shard item. Errors name the shard; callers restate them per account.
    fn read_shard(&self, shard: usize) -> Result<ShardMap, SecretsError> {
        let user = shard_user(shard);
        let value = match self.entry("read", &user)?.get_password() {
            Ok(v) => v,
            Err(keyring::Error::NoEntry) => return Ok(ShardMap::new()),
            Err(e) => return Err(map_error("read", &user, e)),
        };
        // serde_json's messages may quote the input, so none of their words are kept.
        let corrupt = || SecretsError::Corrupt { email: user.clone() };
        let version: ShardVersion = serde_json::from_str(&value).map_err(|_| corrupt())?;
        if version.v != SHARD_FORMAT {
            return Err(SecretsError::Platform {
                action: "read",
                email: user.clone(),
                reason: format!("it was written by a newer version of Mailwatch (format {})", version.v),
            });
        }
        let item: ShardItem = serde_json::from_str(&value).map_err(|_| corrupt())?;
        Ok(item.secrets)
    }

    /// The shard's contents as of the stamp in the locked lock file: this process's copy if
    /// the stamp is the one it was read under, else read again.
    fn current(&self, slot: &mut Slot, file: &File, shard: usize) -> Result<Arc<ShardMap>, SecretsError> {
        let stamp = read_stamp(file, shard).map_err(|e| self.shards.lock_error(&e))?;
        if let Some(map) = &slot.map
            && slot.stamp == stamp
        {
            return Ok(map.clone());
        }
        slot.map = None;
        let map = Arc::new(self.read_shard(shard)?);
        *slot = Slot { stamp, map: Some(map.clone()) };
        Ok(map)
    }

    /// The shard's contents, for reading.
    fn shard(&self, shard: usize) -> Result<Arc<ShardMap>, SecretsError> {
        self.check_available()?;
        let mut slot = lock(&self.shards.slots[shard]);
        let file = self.shards.lock_file(false, self.lock_timeout)?;
        self.current(&mut slot, &file, shard)
    }

    /// A read-modify-write of one shard, under the shard's mutex and the exclusive file
    /// lock, so no other thread or process changes it in between. `edit` says whether it
    /// changed anything; an unchanged shard is not written.
    fn change(&self, shard: usize, edit: impl FnOnce(&mut ShardMap) -> bool) -> Result<(), SecretsError> {
        self.check_available()?;
        let mut slot = lock(&self.shards.slots[shard]);
        let file = self.shards.lock_file(true, self.lock_timeout)?;
        let mut map = match self.current(&mut slot, &file, shard) {
            Ok(map) => ShardMap::clone(&map),
            // Unreadable for good. Its accounts can only be added again if it is written anew,
            // but what it held may still be recovered by hand: a copy goes aside first.
            Err(SecretsError::Corrupt { .. }) => {
                let kept = self.keep_aside(shard)?;
                tracing::warn!(
                    shard = %shard_user(shard),
                    copy = %kept,
                    "an unreadable keyring shard is written anew; its old contents are kept in the item named by `copy`"
                );
                ShardMap::new()
            }
            Err(e) => return Err(e),
        };
        if !edit(&mut map) {
            return Ok(());
        }
        // Other processes' copies are stale from the moment the item may change.
        let stamp = new_stamp();
        write_stamp(&file, shard, stamp).map_err(|e| self.shards.lock_error(&e))?;
        slot.map = None;
        let user = shard_user(shard);
        let entry = self.entry("write", &user)?;
        if map.is_empty() {
            match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(map_error("delete", &user, e)),
            }
        } else {
            let json = serde_json::to_string(&ShardItemRef { v: SHARD_FORMAT, secrets: &map }).map_err(|_| {
                SecretsError::Platform {
                    action: "write",
                    email: user.clone(),
                    reason: "cannot encode the shard".into(),
                }
            })?;
            entry.set_password(&json).map_err(|e| map_error("write", &user, e))?;
        }
        *slot = Slot { stamp, map: Some(Arc::new(map)) };
        Ok(())
    }

    /// The account's item as older versions wrote it.
    /// Copies an unreadable shard item, byte for byte, to an item of its own
    /// (`shard-NN-of-32.unreadable-<stamp>`) and returns that item's name.
    fn keep_aside(&self, shard: usize) -> Result<String, SecretsError> {
        let user = shard_user(shard);
        let no_backup = |reason: String| SecretsError::NoBackup { shard: user.clone(), reason };
        let raw = self.entry("read", &user)?.get_secret().map_err(|e| no_backup(platform_reason(&e)))?;
        let aside = format!("{user}.unreadable-{}", new_stamp());
        self.entry("write", &aside)?.set_secret(&raw).map_err(|e| no_backup(platform_reason(&e)))?;
        Ok(aside)
    }

    fn legacy_get(&self, email: &str) -> Result<Option<Secret>, SecretsError> {
        match self.entry("read", email)?.get_password() {
            Ok(v) => {
                lock(&self.shards.legacy).insert(email.to_string());
                Ok(Some(Secret::new(v)))
            }
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error("read", email, e)),
        }
    }

    fn legacy_delete(&self, email: &str) -> Result<(), SecretsError> {
        match self.entry("delete", email)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => {
                lock(&self.shards.legacy).remove(email);
                Ok(())
            }
            Err(e) => Err(map_error("delete", email, e)),
        }
    }

    /// Deletes the older items of accounts whose secret is now in their shard. They are
    /// stale copies by then, so a failure is only logged.
    fn drop_legacy(&self, emails: &[&str]) {
        for email in emails {
            if let Err(e) = self.legacy_delete(email) {
                tracing::warn!(%email, "an older keyring entry stays behind: {e}");
            }
        }
    }
}

/// Indices of `keys` by shard, each list in the order given.
fn by_shard<'a>(keys: impl Iterator<Item = &'a str>) -> BTreeMap<usize, Vec<usize>> {
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, key) in keys.enumerate() {
        groups.entry(shard_of(key)).or_default().push(i);
    }
    groups
}

impl SecretStore for KeyringSecrets {
    fn lock_exchange(&self, email: &str) -> Result<Option<File>, SecretsError> {
        match self.shards.exchange_lock_path(email) {
            Some(path) => lock_with_deadline(&path, true, self.lock_timeout).map(Some),
            None => Ok(None),
        }
    }

    fn get(&self, email: &str) -> Result<Option<Secret>, SecretsError> {
        let map = self.shard(shard_of(email)).map_err(|e| e.for_account(email))?;
        match map.get(email) {
            Some(v) => Ok(Some(Secret::new(v.as_str()))),
            None => self.legacy_get(email),
        }
    }

    fn set(&self, email: &str, secret: &Secret) -> Result<(), SecretsError> {
        let mut was_in_shard = false;
        self.change(shard_of(email), |map| {
            let old = map.insert(email.to_string(), secret.expose().to_string());
            was_in_shard = old.is_some();
            old.as_deref() != Some(secret.expose())
        })
        .map_err(|e| e.for_account(email))?;
        if !was_in_shard || lock(&self.shards.legacy).contains(email) {
            self.drop_legacy(&[email]);
        }
        Ok(())
    }

    fn delete(&self, email: &str) -> Result<(), SecretsError> {
        self.change(shard_of(email), |map| map.remove(email).is_some()).map_err(|e| e.for_account(email))?;
        self.legacy_delete(email)
    }

    fn get_many(&self, emails: &[String]) -> Vec<Result<Option<Secret>, SecretsError>> {
        let mut out: Vec<Result<Option<Secret>, SecretsError>> = emails.iter().map(|_| Ok(None)).collect();
        for (shard, indices) in by_shard(emails.iter().map(String::as_str)) {
            match self.shard(shard) {
                Ok(map) => {
                    for i in indices {
                        out[i] = match map.get(&emails[i]) {
                            Some(v) => Ok(Some(Secret::new(v.as_str()))),
                            None => self.legacy_get(&emails[i]),
                        };
                    }
                }
                Err(e) => {
                    for i in indices {
                        out[i] = Err(e.for_account(&emails[i]));
                    }
                }
            }
        }
        out
    }

    fn set_many(&self, items: &[(String, Secret)]) -> Vec<Result<(), SecretsError>> {
        let mut out: Vec<Result<(), SecretsError>> = items.iter().map(|_| Ok(())).collect();
        for (shard, indices) in by_shard(items.iter().map(|(e, _)| e.as_str())) {
            let written = self.change(shard, |map| {
                let mut changed = false;
                for &i in &indices {
                    let (email, secret) = &items[i];
                    if map.get(email).map(String::as_str) != Some(secret.expose()) {
                        map.insert(email.clone(), secret.expose().to_string());
                        changed = true;
                    }
                }
                changed
            });
            if let Err(e) = written {
                for &i in &indices {
                    out[i] = Err(e.for_account(&items[i].0));
                }
            }
        }
        let stale: Vec<&str> = {
            let legacy = lock(&self.shards.legacy);
            items
                .iter()
                .zip(&out)
                .filter(|((e, _), r)| r.is_ok() && legacy.contains(e))
                .map(|((e, _), _)| e.as_str())
                .collect()
        };
        self.drop_legacy(&stale);
        out
    }

    fn delete_many(&self, emails: &[String]) -> Vec<Result<(), SecretsError>> {
        let mut out: Vec<Result<(), SecretsError>> = emails.iter().map(|_| Ok(())).collect();
        for (shard, indices) in by_shard(emails.iter().map(String::as_str)) {
            let removed = self.change(shard, |map| {
                let mut changed = false;
                for &i in &indices {
                    changed |= map.remove(&emails[i]).is_some();
                }
                changed
            });
            if let Err(e) = removed {
                for &i in &indices {
                    out[i] = Err(e.for_account(&emails[i]));
                }
            }
        }
        for (email, result) in emails.iter().zip(out.iter_mut()) {
            if result.is_ok() {
                *result = self.legacy_delete(email);
            }
        }
        out
    }

    fn write_group(&self, email: &str) -> Option<usize> {
        Some(shard_of(email))
    }
}

/// The platform's words for an error, never the stored bytes (two variants carry them).
fn platform_reason(e: &keyring::Error) -> String {
    let raw = match e {
        keyring::Error::PlatformFailure(p) | keyring::Error::NoStorageAccess(p) => p.to_string(),
        keyring::Error::BadEncoding(_) | keyring::Error::BadDataFormat(..) => "the stored value is unreadable".into(),
        keyring::Error::NoDefaultStore => "no keyring backend could be started".into(),
        other => other.to_string(),
    };
    explain_dbus(&raw)
}

/// Turns the common D-Bus failures into plain words.
fn explain_dbus(raw: &str) -> String {
    if raw.contains("Failed to connect to") || raw.contains("DBUS_SESSION_BUS_ADDRESS") || raw.contains("No such file")
    {
        format!("no D-Bus session bus is running ({raw})")
    } else if raw.contains("was not provided by any .service files") || raw.contains("ServiceUnknown") {
        "no Secret Service provider is running on the session bus".to_string()
    } else {
        raw.to_string()
    }
}

fn map_error(action: &'static str, email: &str, e: keyring::Error) -> SecretsError {
    match &e {
        keyring::Error::NoStorageAccess(_) => SecretsError::Locked { reason: platform_reason(&e) },
        keyring::Error::BadEncoding(_) | keyring::Error::BadDataFormat(..) => {
            SecretsError::Corrupt { email: email.to_string() }
        }
        keyring::Error::NoDefaultStore => SecretsError::Unavailable { reason: platform_reason(&e) },
        _ => {
            let reason = platform_reason(&e);
            if reason.starts_with("no D-Bus") || reason.starts_with("no Secret Service") {
                SecretsError::Unavailable { reason }
            } else if reason.contains("prompt dismissed") || reason.contains("locked") {
                SecretsError::Locked { reason }
            } else {
                SecretsError::Platform { action, email: email.to_string(), reason }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("  M.C123_secret-token\n");
        assert_eq!(s.expose(), "M.C123_secret-token", "surrounding whitespace is trimmed");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn the_shard_of_an_address_never_changes() {
        // These values are what every earlier build wrote; a different hash would lose them.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(shard_of("alice@outlook.com"), (fnv1a(b"alice@outlook.com") % 32) as usize);
        assert_eq!(shard_user(7), "shard-07-of-32");
        let spread: HashSet<usize> = (0..1000).map(|i| shard_of(&format!("user{i}@outlook.com"))).collect();
        assert_eq!(spread.len(), SHARDS, "addresses spread over every shard");
    }

    #[test]
    fn a_shard_error_is_restated_per_account() {
        let e = SecretsError::Corrupt { email: shard_user(3) }.for_account("bob@example.org");
        assert!(e.to_string().contains("bob@example.org"), "{e}");
        let e = SecretsError::Locked { reason: "prompt dismissed".into() }.for_account("bob@example.org");
        assert!(matches!(e, SecretsError::Locked { .. }));
    }

    #[test]
    fn dbus_failures_are_explained() {
        assert!(
            explain_dbus("Failed to connect to address unix:path=/run/user/0/bus").starts_with("no D-Bus session bus")
        );
        assert_eq!(
            explain_dbus("org.freedesktop.secrets was not provided by any .service files"),
            "no Secret Service provider is running on the session bus"
        );
        let err = SecretsError::Unavailable { reason: "no D-Bus session bus is running".into() };
        assert!(err.to_string().contains("gnome-keyring"), "the message says what to install: {err}");
    }
}
