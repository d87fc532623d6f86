//! API keys: what each may do (scopes), which accounts it sees (address patterns), and how it
//! is stored: only the SHA-256 of the key, in the cache's settings under `api.keys`, so a
//! copy of the cache gives nobody a key. Keys are 256 random bits, so one unsalted hash is
//! enough: there is no dictionary to try against it. A presented key is hashed and compared
//! with every live key's hash in constant time.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use mailwatch_engine::{Engine, EngineError};
use serde::{Deserialize, Serialize};

/// The setting that holds the keys.
pub const SETTING: &str = "api.keys";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    /// List and read accounts; receive status events.
    #[serde(rename = "accounts:read")]
    AccountsRead,
    /// Add, remove and import accounts; receive import progress.
    #[serde(rename = "accounts:write")]
    AccountsWrite,
    /// Read messages.
    #[serde(rename = "mail:read")]
    MailRead,
    /// Read and wait for codes; receive code events.
    #[serde(rename = "codes:read")]
    CodesRead,
    /// Read the counters and `/metrics`; receive pool stats.
    #[serde(rename = "stats:read")]
    StatsRead,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 5] =
        [Scope::AccountsRead, Scope::AccountsWrite, Scope::MailRead, Scope::CodesRead, Scope::StatsRead];

    /// The scope's name, as keys and errors spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AccountsRead => "accounts:read",
            Scope::AccountsWrite => "accounts:write",
            Scope::MailRead => "mail:read",
            Scope::CodesRead => "codes:read",
            Scope::StatsRead => "stats:read",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Scope, EngineError> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s.trim()).ok_or_else(|| {
            let known: Vec<_> = Scope::ALL.iter().map(|x| x.as_str()).collect();
            EngineError::InvalidInput(format!("cannot use the scope {s:?}: the scopes are {}", known.join(", ")))
        })
    }
}

/// What is known about a key, without the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// Names the key in lists and in `api-key revoke`.
    pub id: String,
    /// What the user called it.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Address patterns (`*` any run of characters, `?` one) of the accounts it sees;
    /// empty means every account.
    pub accounts: Vec<String>,
    /// When it was made, Unix seconds.
    pub created: i64,
    /// When it was revoked, Unix seconds; a revoked key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<i64>,
}

impl KeyInfo {
    /// Whether the key may do this.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether the key sees this account (`email` lower-cased).
    pub fn sees(&self, email: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|p| pattern_matches(p, email))
    }
}

/// A stored key: what is known about it and the hash of the key itself.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredKey {
    /// What is known about it.
    #[serde(flatten)]
    pub info: KeyInfo,
    /// Hex SHA-256 of the key.
    hash: String,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey").field("info", &self.info).finish_non_exhaustive()
    }
}

/// A key just made: shown once, never stored.
#[derive(Clone, Serialize)]
pub struct NewKey {
    /// The key's id.
    pub id: String,
    /// The key itself.
    pub key: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// What to make a key for.
#[derive(Debug, Clone, Default)]
pub struct KeyRequest {
    /// Its name; "key" when empty.
    pub name: String,
    /// Its scopes; every read scope when empty.
    pub scopes: Vec<Scope>,
    /// The account patterns it is limited to; empty for every account.
    pub accounts: Vec<String>,
}

/// Whether `email` matches `pattern`, case-insensitively: `*` is any run of characters,
/// `?` any one, everything else itself.
pub fn pattern_matches(pattern: &str, email: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let s: Vec<char> = email.to_lowercase().chars().collect();
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn sha256_hex(key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two strings in time that depends only on their lengths (hashes: always 64).
fn same_in_constant_time(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn random_bytes<const N: usize>() -> Result<[u8; N], EngineError> {
    use ring::rand::SecureRandom;
    let mut buf = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| EngineError::Internal("cannot read random bytes from the system to make a key".into()))?;
    Ok(buf)
}

/// The live key that `presented` is, if any. Every live key's hash is compared, each in
/// constant time, so the time taken says nothing about how close a guess came.
pub fn find<'k>(keys: &'k [StoredKey], presented: &str) -> Option<&'k StoredKey> {
    let hash = sha256_hex(presented);
    let mut found = None;
    for k in keys {
        if same_in_constant_time(&k.hash, &hash) && k.info.revoked.is_none() {
            found = Some(k);
        }
    }
    found
}

/// Every key, revoked ones included.
///
/// # Errors
/// The cache cannot be read, or its `api.keys` setting is not a list of keys.
pub async fn load(engine: &Engine) -> Result<Vec<StoredKey>, EngineError> {
    match engine.setting(SETTING).await? {
        None => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v).map_err(|e| {
            EngineError::InvalidInput(format!(
                "cannot read the API keys from the cache's setting {SETTING} ({e}); revoke and create them again"
            ))
        }),
    }
}

async fn save(engine: &Engine, keys: &[StoredKey]) -> Result<(), EngineError> {
    let value =
        serde_json::to_value(keys).map_err(|e| EngineError::Internal(format!("cannot store the API keys: {e}")))?;
    engine.set_setting(SETTING, &value).await
}

/// Makes a key, stores its hash, and returns the key (the only time it is seen).
///
/// # Errors
/// [`EngineError::InvalidInput`] for an empty account pattern; the cache cannot be written.
pub async fn create(engine: &Engine, request: &KeyRequest) -> Result<NewKey, EngineError> {
    if request.accounts.iter().any(|p| p.trim().is_empty()) {
        return Err(EngineError::InvalidInput(
            "cannot make the key: an --account pattern is empty; give an address or a pattern such as *@example.com"
                .into(),
        ));
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let id = format!("k{}", b64.encode(random_bytes::<6>()?));
    let key = format!("mwk_{}", b64.encode(random_bytes::<32>()?));
    let mut scopes = if request.scopes.is_empty() {
        vec![Scope::AccountsRead, Scope::MailRead, Scope::CodesRead, Scope::StatsRead]
    } else {
        request.scopes.clone()
    };
    scopes.sort_by_key(|s| s.as_str());
    scopes.dedup();
    let name = if request.name.trim().is_empty() { "key".to_string() } else { request.name.trim().to_string() };
    let info = KeyInfo {
        id: id.clone(),
        name,
        scopes,
        accounts: request.accounts.iter().map(|p| p.trim().to_lowercase()).collect(),
        created: unix_now(),
        revoked: None,
    };
    let mut keys = load(engine).await?;
    keys.push(StoredKey { info, hash: sha256_hex(&key) });
    save(engine, &keys).await?;
    Ok(NewKey { id, key })
}

/// Every key, without the keys themselves.
///
/// # Errors
/// As [`load`].
pub async fn list(engine: &Engine) -> Result<Vec<KeyInfo>, EngineError> {
    Ok(load(engine).await?.into_iter().map(|k| k.info).collect())
}

/// Revokes a key: a running server refuses it within a second.
///
/// # Errors
/// [`EngineError::InvalidInput`] for an unknown id; the cache cannot be written.
pub async fn revoke(engine: &Engine, id: &str) -> Result<KeyInfo, EngineError> {
    let mut keys = load(engine).await?;
    let Some(k) = keys.iter_mut().find(|k| k.info.id == id) else {
        return Err(EngineError::InvalidInput(format!(
            "cannot revoke the key {id}: there is no such key; `mailwatch-cli api-key list` shows them"
        )));
    };
    k.info.revoked.get_or_insert_with(unix_now);
    let info = k.info.clone();
    save(engine, &keys).await?;
    Ok(info)
}

/// The setting that holds the id of the key the desktop app made for itself; the key itself
/// is only in the keyring.
pub const APP_KEY_SETTING: &str = "api.appKey";

/// What the app's key is called in `api-key list`.
pub const APP_KEY_NAME: &str = "Mailwatch app";

/// The keyring entry, beside the accounts' secrets, that holds the app's key with this id.
fn app_entry(id: &str) -> String {
    format!("api-key:{id}")
}

/// The key the desktop app made for itself (every read scope, every account), if the keyring
/// still holds it and it has not been revoked.
///
/// # Errors
/// The cache or the keyring cannot be read.
pub async fn stored_app_key(engine: &Engine) -> Result<Option<NewKey>, EngineError> {
    let Some(id) = engine.setting(APP_KEY_SETTING).await?.and_then(|v| v.as_str().map(str::to_string)) else {
        return Ok(None);
    };
    let secrets = engine.secrets().clone();
    let entry = app_entry(&id);
    let key = tokio::task::spawn_blocking(move || secrets.get(&entry))
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))??;
    let Some(key) = key else { return Ok(None) };
    let live = load(engine).await?;
    Ok(find(&live, key.expose()).filter(|k| k.info.id == id).map(|_| NewKey { id, key: key.expose().to_string() }))
}

/// The app's key: the one in the keyring if it is still good, else a new one (every read
/// scope), whose hash goes to the settings like any key's and whose plain text goes only to
/// the keyring.
///
/// # Errors
/// The cache or the keyring cannot be read or written.
pub async fn app_key(engine: &Engine) -> Result<NewKey, EngineError> {
    match stored_app_key(engine).await? {
        Some(key) => Ok(key),
        None => make_app_key(engine).await,
    }
}

/// Revokes the app's key (a running server refuses it within a second) and makes a new one.
///
/// # Errors
/// The cache or the keyring cannot be read or written.
pub async fn renew_app_key(engine: &Engine) -> Result<NewKey, EngineError> {
    if let Some(id) = engine.setting(APP_KEY_SETTING).await?.and_then(|v| v.as_str().map(str::to_string)) {
        if load(engine).await?.iter().any(|k| k.info.id == id) {
            revoke(engine, &id).await?;
        }
        let secrets = engine.secrets().clone();
        let entry = app_entry(&id);
        tokio::task::spawn_blocking(move || secrets.delete(&entry))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
    }
    make_app_key(engine).await
}

async fn make_app_key(engine: &Engine) -> Result<NewKey, EngineError> {
    let made = create(engine, &KeyRequest { name: APP_KEY_NAME.into(), ..KeyRequest::default() }).await?;
    let secrets = engine.secrets().clone();
    let (entry, secret) = (app_entry(&made.id), mailwatch_engine::secrets::Secret::new(made.key.clone()));
    let kept = tokio::task::spawn_blocking(move || secrets.set(&entry, &secret))
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    if let Err(e) = kept {
        // A key nobody can read back is of no use: take it back.
        let _ = revoke(engine, &made.id).await;
        return Err(e.into());
    }
    engine.set_setting(APP_KEY_SETTING, &serde_json::Value::String(made.id.clone())).await?;
    Ok(made)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_addresses_case_insensitively() {
        assert!(pattern_matches("*@example.com", "a@example.com"));
        assert!(pattern_matches("QA-*@Example.com", "qa-7@example.com"));
        assert!(pattern_matches("a?c@x.io", "abc@x.io"));
        assert!(!pattern_matches("*@example.com", "a@example.com.evil"), "a pattern covers the whole address");
        assert!(!pattern_matches("a@x.io", "ba@x.io"));
        assert!(pattern_matches("*", "anyone@anywhere"));
    }

    #[test]
    fn a_key_is_found_by_its_hash_and_a_revoked_one_is_not() {
        let info = |id: &str, revoked| KeyInfo {
            id: id.into(),
            name: "k".into(),
            scopes: vec![],
            accounts: vec![],
            created: 0,
            revoked,
        };
        let keys = vec![
            StoredKey { info: info("a", None), hash: sha256_hex("mwk_a") },
            StoredKey { info: info("b", Some(1)), hash: sha256_hex("mwk_b") },
        ];
        assert_eq!(find(&keys, "mwk_a").map(|k| k.info.id.as_str()), Some("a"));
        assert!(find(&keys, "mwk_b").is_none(), "a revoked key is refused");
        assert!(find(&keys, "mwk_c").is_none());
        let stored = serde_json::to_string(&keys).unwrap();
        assert!(!stored.contains("mwk_a"), "only the hash is stored: {stored}");
    }

    #[test]
    fn scopes_parse_by_name_and_unknown_ones_are_named() {
        assert_eq!("codes:read".parse::<Scope>().unwrap(), Scope::CodesRead);
        let err = "codes:write".parse::<Scope>().unwrap_err().to_string();
        assert!(err.contains("codes:write") && err.contains("accounts:read"), "{err}");
    }
}
