//! The fault matrix: every operation against every fault, each cell on a fresh test bed with
//! an OAuth2 (XOAUTH2) account reached through a fault proxy.
//!
//! Each cell sets up its fault, runs the operation with a deadline, clears the fault, then
//! checks that (a) the operation recovered or ended with a specific error code (not
//! `internal`, not a panic, not a hang), (b) a code delivered during the fault is found
//! after recovery, (c) the account is still listed and the keyring holds the refresh token
//! the provider considers current (for a revoked token: a clean `needs_reauth` with the
//! account kept), and (d) no refresh token appears in any error text. The table is printed;
//! the test fails only when a cell lost something, leaked a secret, panicked or hung.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mailwatch_engine::account::{AccountSpec, AccountStatus, Provider, Tls};
use mailwatch_engine::config::Config;
use mailwatch_engine::engine::{BatchControl, EngineOptions, ImportOptions, NewSecret, Progress, WaitOptions};
use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::import::ImportDefaults;
use mailwatch_engine::keeper;
use mailwatch_engine::secrets::{KeyringSecrets, Secret, SecretStore, SecretsError};
use mailwatch_engine::watch::WatchMode;
use mailwatch_engine::{Engine, EngineError};
use mailwatch_testbed::{DEFAULT_CLIENT_ID, Failure, FaultProxy, TestBed};

use crate::support::{Recorder, code_mail, message};

/// Short limits, so a stalled or slow peer costs seconds, not minutes.
const IMAP_TIMEOUT: Duration = Duration::from_millis(1500);
const HTTP_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a fault stays on while a watch runs through it.
const HOLD: Duration = Duration::from_secs(2);
/// How long a watch may take to report the code once the fault is cleared.
const AFTER_CLEAR: Duration = Duration::from_secs(8);
/// A cell that takes longer than this hung.
const CELL_DEADLINE: Duration = Duration::from_secs(40);
/// The message size limit in the cells, and the size of the mail a FETCH is cut inside.
const MAX_MESSAGE: usize = 256 * 1024;
const BIG_MAIL: usize = 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Fetch,
    WaitCode,
    WatchIdle,
    WatchPoll,
    Import,
    Refresh,
    Keeper,
}

const OPS: [Op; 7] = [Op::Fetch, Op::WaitCode, Op::WatchIdle, Op::WatchPoll, Op::Import, Op::Refresh, Op::Keeper];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Fetch => "fetch",
            Op::WaitCode => "wait-code",
            Op::WatchIdle => "watch (IDLE)",
            Op::WatchPoll => "watch (polling)",
            Op::Import => "import + verify",
            Op::Refresh => "tokens refresh",
            Op::Keeper => "token keeper round",
        }
    }
    fn is_watch(self) -> bool {
        matches!(self, Op::WaitCode | Op::WatchIdle | Op::WatchPoll)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    Restart,
    FetchDrop,
    Stall,
    Reset,
    WrongCert,
    Revoked,
    Token500,
    TokenSlow,
    KeyringRefuses,
    DiskFull,
    Kill9,
}

const FAULTS: [Fault; 11] = [
    Fault::Restart,
    Fault::FetchDrop,
    Fault::Stall,
    Fault::Reset,
    Fault::WrongCert,
    Fault::Revoked,
    Fault::Token500,
    Fault::TokenSlow,
    Fault::KeyringRefuses,
    Fault::DiskFull,
    Fault::Kill9,
];

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Restart => "Dovecot restart",
            Fault::FetchDrop => "drop in FETCH",
            Fault::Stall => "stall",
            Fault::Reset => "reset",
            Fault::WrongCert => "wrong cert",
            Fault::Revoked => "revoked token",
            Fault::Token500 => "token 500",
            Fault::TokenSlow => "token after timeout",
            Fault::KeyringRefuses => "keyring refuses",
            Fault::DiskFull => "disk full",
            Fault::Kill9 => "kill -9",
        }
    }
    fn is_imap(self) -> bool {
        matches!(self, Fault::Restart | Fault::FetchDrop | Fault::Stall | Fault::Reset | Fault::WrongCert)
    }
    fn is_token(self) -> bool {
        matches!(self, Fault::Revoked | Fault::Token500 | Fault::TokenSlow | Fault::KeyringRefuses)
    }
}

#[derive(Clone, Debug)]
enum Outcome {
    Recovered,
    CleanError(String),
    Lost(String),
    /// A leaked secret, an `internal` error, a panic or a hang: a failure that is not a loss.
    Failed(String),
    /// A loss this suite knows and explains ([`known_loss`]): printed, not failed.
    KnownLoss(String, &'static str),
    NotBuilt(String),
    NotApplicable(&'static str),
}

impl Outcome {
    fn fails(&self) -> bool {
        matches!(self, Outcome::Lost(_) | Outcome::Failed(_))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Recovered => write!(f, "recovered"),
            Outcome::CleanError(c) => write!(f, "clean error ({c})"),
            Outcome::Lost(w) => write!(f, "lost something: {w}"),
            Outcome::KnownLoss(w, why) => write!(f, "lost (known: {why}): {w}"),
            Outcome::Failed(w) => write!(f, "FAILED: {w}"),
            Outcome::NotBuilt(w) => write!(f, "not built: {w}"),
            Outcome::NotApplicable(w) => write!(f, "n/a ({w})"),
        }
    }
}

/// Cells that are not run, and why.
fn skipped(op: Op, fault: Fault) -> Option<Outcome> {
    match (op, fault) {
        (Op::Import | Op::Refresh | Op::Keeper, Fault::Kill9) => Some(Outcome::NotBuilt(
            "a process to kill: see tests/cli/kill.rs (import: whole or absent; rotation: known loss)".into(),
        )),
        (_, Fault::Kill9) => Some(Outcome::NotApplicable("not-asked")),
        (Op::Refresh | Op::Keeper, f) if f.is_imap() => Some(Outcome::NotApplicable("no-IMAP")),
        (Op::Import, Fault::FetchDrop) => Some(Outcome::NotApplicable("no-FETCH")),
        _ => None,
    }
}

/// The real keyring, except that writes are refused while `refuse` is on: a keyring locked
/// in the middle of a rotation.
struct Switchable {
    real: KeyringSecrets,
    refuse: AtomicBool,
}

impl Switchable {
    fn refused() -> SecretsError {
        SecretsError::Locked { reason: "the collection is locked".into() }
    }
}

impl SecretStore for Switchable {
    fn get(&self, email: &str) -> Result<Option<Secret>, SecretsError> {
        self.real.get(email)
    }
    fn set(&self, email: &str, secret: &Secret) -> Result<(), SecretsError> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(Switchable::refused());
        }
        self.real.set(email, secret)
    }
    fn delete(&self, email: &str) -> Result<(), SecretsError> {
        self.real.delete(email)
    }
    fn set_many(&self, items: &[(String, Secret)]) -> Vec<Result<(), SecretsError>> {
        if self.refuse.load(Ordering::SeqCst) {
            return items.iter().map(|_| Err(Switchable::refused())).collect();
        }
        self.real.set_many(items)
    }
    fn write_group(&self, email: &str) -> Option<usize> {
        self.real.write_group(email)
    }
    fn lock_exchange(&self, email: &str) -> Result<Option<std::fs::File>, SecretsError> {
        self.real.lock_exchange(email)
    }
}

/// A small tmpfs holding the cache file, unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
    filler: PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path) -> Result<SmallDisk, String> {
        std::fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(SmallDisk { path: path.to_path_buf(), filler: path.join("filler") })
    }

    /// Writes until the disk is full.
    fn fill(&self) {
        let mut f = std::fs::File::create(&self.filler).expect("the filler file");
        let chunk = vec![0u8; 16 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        let _ = std::fs::remove_file(&self.filler);
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn cell_config(op: Op) -> Config {
    let mut c = Config::default();
    c.pool.wait_timeout = Duration::from_secs(3);
    c.pool.connect_timeout = IMAP_TIMEOUT;
    c.pool.command_timeout = IMAP_TIMEOUT;
    c.pool.logout_timeout = Duration::from_millis(200);
    c.http.request_timeout = HTTP_TIMEOUT;
    c.http.connect_timeout = HTTP_TIMEOUT;
    c.http.keyring_retry_max = Duration::from_secs(1);
    c.cache.poll_interval = Duration::from_millis(300);
    c.cache.max_message_bytes = MAX_MESSAGE;
    c.watch.idle = op != Op::WatchPoll;
    c.watch.poll_interval = Duration::from_millis(300);
    c.watch.backoff_min = Duration::from_millis(100);
    c.watch.backoff_max = Duration::from_secs(1);
    c.secrets.lock_timeout = Duration::from_secs(2);
    c
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A verification mail of about `size` bytes, its code in the first lines.
fn big_mail(code: &str, size: usize) -> String {
    let (subject, body) = code_mail(code);
    let line = "Filler to make the message long enough to be cut in the middle of its FETCH.\r\n";
    message(&subject, &format!("{body}\r\n\r\n{}", line.repeat(size / line.len() + 1)))
}

/// One cell's world.
struct Cell {
    op: Op,
    fault: Fault,
    bed: Arc<TestBed>,
    proxy: Arc<FaultProxy>,
    engine: Arc<Engine>,
    store: Arc<Switchable>,
    dir: tempfile::TempDir,
    disk: Option<SmallDisk>,
    config: Config,
    email: String,
    code: String,
    /// Every refresh token seen, for the leak check.
    tokens: Vec<String>,
    /// Every error text seen.
    texts: Vec<String>,
}

/// What the operation did while the fault was on.
enum Ran {
    Ok,
    Err {
        code: String,
    },
    /// A watch that reported nothing before its deadline.
    Silent,
    /// A watch that never took its baseline before the fault.
    NotReady,
}

impl Cell {
    async fn open_engine(&self, with_ca: bool) -> Result<Engine, EngineError> {
        let options = EngineOptions {
            data_dir: Some(self.dir.path().to_path_buf()),
            database_path: self.disk.as_ref().map(|d| d.path.join("mailwatch.db")),
            extra_ca: with_ca.then(|| self.bed.dovecot.ca_pem_path().to_path_buf()),
            config: Some(self.config.clone()),
            secrets: Some(self.store.clone() as Arc<dyn SecretStore>),
        };
        Engine::open(options, Arc::new(Recorder::default())).await
    }

    async fn swap_engine(&mut self, with_ca: bool) {
        self.engine.shutdown().await;
        self.engine = Arc::new(self.open_engine(with_ca).await.expect("the engine opens again"));
    }

    fn import_options(&self) -> ImportOptions {
        ImportOptions {
            defaults: ImportDefaults {
                imap_host: Some("127.0.0.1".into()),
                imap_port: Some(self.proxy.port()),
                token_url: Some(self.bed.oauth.token_url()),
                ..Default::default()
            },
            verify: true,
            concurrency: Some(1),
            ..Default::default()
        }
    }

    fn import_file(&self) -> String {
        format!("{}----{}----{DEFAULT_CLIENT_ID}\n", self.email, self.tokens[0])
    }

    fn note(&mut self, e: &EngineError) -> Ran {
        self.texts.push(e.to_string());
        Ran::Err { code: e.code().to_string() }
    }

    async fn deliver_code(bed: &TestBed, email: &str, code: &str, fault: Fault) {
        if fault == Fault::FetchDrop {
            bed.dovecot.append(email, "INBOX", big_mail(code, BIG_MAIL).as_bytes()).await;
        } else {
            let (s, b) = code_mail(code);
            bed.dovecot.append(email, "INBOX", message(&s, &b).as_bytes()).await;
        }
    }

    /// Turns the fault on (what can be on before the operation starts).
    async fn arm(&mut self) {
        match self.fault {
            Fault::Restart | Fault::Reset | Fault::Stall => {
                if !self.op.is_watch() {
                    // The operation's traffic is held, so the restart or reset lands in it.
                    self.proxy.set_stall(true);
                }
            }
            Fault::FetchDrop => {
                // One pooled connection so far: the budget ends ~30 kB into what comes next
                // on it (the FETCH of the big mail); a new connection is cut inside the
                // FETCH too, its sign-in being a few kilobytes.
                let (up, down) = self.proxy.bytes_forwarded();
                self.proxy.drop_after(Some(up + down + 30_000));
            }
            Fault::WrongCert => {}
            Fault::Revoked => self.bed.oauth.revoke_user(&self.email),
            Fault::Token500 => self.bed.oauth.fail_next(if self.op.is_watch() { 3 } else { 1 }, Failure::Status(500)),
            Fault::TokenSlow => self.bed.oauth.set_latency(HTTP_TIMEOUT * 2),
            Fault::KeyringRefuses => {
                if self.op != Op::Import {
                    self.store.refuse.store(true, Ordering::SeqCst);
                }
            }
            Fault::DiskFull => self.disk.as_ref().expect("the small disk").fill(),
            Fault::Kill9 => unreachable!(),
        }
        if self.fault.is_token() && self.op != Op::Import {
            // A new client, so the operation has to go to the token endpoint.
            self.engine.forget_client(&self.email).await;
            if self.op.is_watch() {
                // And the watch has to sign in again.
                self.proxy.reset_all();
            }
        }
    }

    async fn clear(&mut self) {
        match self.fault {
            Fault::Restart | Fault::Reset | Fault::Stall => self.proxy.set_stall(false),
            Fault::FetchDrop => self.proxy.drop_after(None),
            Fault::WrongCert => self.swap_engine(true).await,
            Fault::Revoked | Fault::Token500 => {}
            Fault::TokenSlow => self.bed.oauth.set_latency(Duration::ZERO),
            Fault::KeyringRefuses => self.store.refuse.store(false, Ordering::SeqCst),
            Fault::DiskFull => self.disk.as_ref().expect("the small disk").free(),
            Fault::Kill9 => unreachable!(),
        }
    }

    /// What happens while the fault is on, beside the operation: the code is delivered, and
    /// a restart or reset hits the traffic the operation has in flight.
    async fn during(bed: Arc<TestBed>, proxy: Arc<FaultProxy>, email: String, code: String, fault: Fault, watch: bool) {
        match fault {
            Fault::Restart | Fault::Reset => {
                if !watch {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Cell::deliver_code(&bed, &email, &code, fault).await;
                if fault == Fault::Restart {
                    bed.dovecot.restart().await;
                } else {
                    proxy.reset_all();
                }
                proxy.set_stall(false);
            }
            Fault::Stall => {
                if watch {
                    proxy.set_stall(true);
                }
                Cell::deliver_code(&bed, &email, &code, fault).await;
            }
            // The big mail went in before the budget was set.
            Fault::FetchDrop => {}
            _ => Cell::deliver_code(&bed, &email, &code, fault).await,
        }
    }

    /// Waits until the account's watch has taken its baseline in the cell's mode.
    async fn until_watching(&self) -> bool {
        let want = if self.op == Op::WatchPoll { WatchMode::Poll } else { WatchMode::Idle };
        for _ in 0..200 {
            if self.engine.watch_statuses().iter().any(|s| s.email == self.email && s.mode == want && s.polls > 0) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Runs a request-like operation (fetch, import, refresh, keeper) through the fault.
    async fn run_request(&mut self) -> Ran {
        if self.fault == Fault::FetchDrop {
            Cell::deliver_code(&self.bed, &self.email, &self.code, self.fault).await;
        }
        self.arm().await;
        let during = Cell::during(
            self.bed.clone(),
            self.proxy.clone(),
            self.email.clone(),
            self.code.clone(),
            self.fault,
            false,
        );
        let engine = self.engine.clone();
        let email = self.email.clone();
        let op = self.op;
        let store = self.store.clone();
        let keyring_mid_import = self.fault == Fault::KeyringRefuses;
        let (file, options) = (self.import_file(), self.import_options());
        let run = async move {
            match op {
                Op::Fetch => engine.fetch(&email, &FolderSpec::Inbox, 5, false).await.map(|_| None),
                Op::Import => {
                    // The keyring locks once the import stored the account, before the
                    // verification rotates its token.
                    let control = if keyring_mid_import {
                        let store = store.clone();
                        BatchControl {
                            progress: Some(Arc::new(move |p: &Progress| {
                                if p.job == "import" && p.done == p.total {
                                    store.refuse.store(true, Ordering::SeqCst);
                                }
                            })),
                            ..Default::default()
                        }
                    } else {
                        BatchControl::default()
                    };
                    match engine.import(file.as_bytes(), &options, &control).await {
                        Ok(report) => Ok(report
                            .verified
                            .and_then(|v| v.accounts.into_iter().next())
                            .filter(|a| !a.ok)
                            .map(|a| (a.code.unwrap_or_default(), a.reason.unwrap_or_default()))),
                        Err(e) => Err(e),
                    }
                }
                Op::Refresh => {
                    let list = vec![email.clone()];
                    let report = engine.refresh_tokens(Some(&list), 1, &BatchControl::default()).await?;
                    Ok(report
                        .accounts
                        .into_iter()
                        .next()
                        .filter(|a| !a.ok)
                        .map(|a| (a.code.unwrap_or_default(), a.reason.unwrap_or_default())))
                }
                Op::Keeper => {
                    // Sixty days on, the account is stale: the round exchanges its token.
                    let round = keeper::keep_tokens(&engine, unix_now() + 60 * 24 * 3600).await?;
                    if round.kept_alive == 1 {
                        Ok(None)
                    } else {
                        // The round counts failures without their codes; the account's
                        // status tells a revoked grant from a passing failure.
                        let account = engine.account(&email).await?;
                        let code = if account.status == AccountStatus::NeedsReauth {
                            "needs_reauth".to_string()
                        } else {
                            format!("round failed, account {:?}", account.status).to_lowercase()
                        };
                        Ok(Some((code, account.status_detail.unwrap_or_default())))
                    }
                }
                _ => unreachable!(),
            }
        };
        let (result, ()) = tokio::join!(run, during);
        let ran = match result {
            Ok(None) => Ran::Ok,
            Ok(Some((code, reason))) => {
                self.texts.push(reason);
                Ran::Err { code }
            }
            Err(e) => self.note(&e),
        };
        self.clear().await;
        ran
    }

    /// Runs a watch (wait-code, or a code subscription with IDLE or polling) through the
    /// fault: the fault goes on once the watch has its baseline, the code arrives, the fault
    /// is cleared after `HOLD`, and the watch has `AFTER_CLEAR` to report the code.
    async fn run_watch(&mut self) -> Ran {
        let engine = self.engine.clone();
        let email = self.email.clone();
        let deadline = HOLD + AFTER_CLEAR + Duration::from_secs(5);
        let mut sub = None;
        let mut waiter = None;
        if self.op == Op::WaitCode {
            let (engine, email) = (engine.clone(), email.clone());
            waiter = Some(tokio::spawn(async move {
                engine.wait_code(&email, &WaitOptions { timeout: deadline, ..Default::default() }).await
            }));
        } else {
            sub = Some(engine.subscribe_codes(&email).await.expect("a subscription"));
        }
        let ready = self.fault == Fault::WrongCert || self.until_watching().await;
        if !ready {
            return Ran::NotReady;
        }
        // The listener runs on its own task, so the fault can be changed while it waits.
        let listener = match (sub, waiter) {
            (Some(mut s), _) => tokio::spawn(async move { s.next(&[]).await }),
            (None, Some(w)) => tokio::spawn(async move { w.await.expect("the wait does not panic") }),
            _ => unreachable!(),
        };
        let started = Instant::now();
        if self.fault == Fault::FetchDrop {
            self.arm().await;
            Cell::deliver_code(&self.bed, &self.email, &self.code, self.fault).await;
        } else {
            self.arm().await;
            Cell::during(self.bed.clone(), self.proxy.clone(), email.clone(), self.code.clone(), self.fault, true)
                .await;
        }
        tokio::time::sleep(HOLD.saturating_sub(started.elapsed())).await;
        let wrong_cert = self.fault == Fault::WrongCert;
        if !wrong_cert {
            self.clear().await;
        }
        // The engine that distrusts the certificate never will: it gets a short look.
        let patience = if wrong_cert { Duration::from_secs(1) } else { AFTER_CLEAR + Duration::from_secs(2) };
        let abort = listener.abort_handle();
        let result = tokio::time::timeout(patience, listener).await;
        let ran = match result {
            Err(_) => {
                abort.abort();
                Ran::Silent
            }
            Ok(Err(join)) => panic!("the listener task failed: {join}"),
            Ok(Ok(Ok(record))) => {
                if record.code.as_deref() == Some(self.code.as_str()) {
                    Ran::Ok
                } else {
                    Ran::Err { code: format!("reported another code {:?}", record.code) }
                }
            }
            Ok(Ok(Err(e))) => self.note(&e),
        };
        if wrong_cert {
            // What the distrusting engine shows, before it goes.
            self.collect_status_texts().await;
            self.clear().await;
        }
        ran
    }

    /// (b): after recovery a fetch sees the code. Returns the fetch errors on failure.
    async fn code_is_fetched(&mut self) -> Result<(), String> {
        let mut errors = Vec::new();
        for _ in 0..4 {
            match self.engine.fetch(&self.email, &FolderSpec::Inbox, 10, false).await {
                Ok(msgs) if msgs.iter().any(|m| m.code.as_deref() == Some(self.code.as_str())) => return Ok(()),
                Ok(msgs) => errors.push(format!("{} messages, none with the code", msgs.len())),
                Err(e) => {
                    self.texts.push(e.to_string());
                    errors.push(e.code().to_string());
                }
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        Err(errors.join(", "))
    }

    /// (c): the keyring holds the refresh token the provider considers current (the engine
    /// retries a refused write by itself, so it gets a few seconds).
    async fn secret_kept(&mut self) -> Result<(), String> {
        let mut stored = None;
        for _ in 0..12 {
            let current = self.bed.oauth.current_refresh_token(&self.email);
            if let Some(c) = &current {
                self.tokens.push(c.clone());
            }
            stored = self.store.real.get(&self.email).map_err(|e| format!("the keyring fails: {e}"))?;
            match (&current, &stored) {
                (Some(c), Some(s)) if c == s.expose() => return Ok(()),
                (None, _) => return Err("the provider holds no current token for the account".into()),
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(match stored {
            None => "the keyring holds no refresh token".into(),
            Some(_) => "the keyring holds a refresh token the provider no longer accepts".into(),
        })
    }

    /// Collects the texts the engine shows about the account (status, watch errors).
    async fn collect_status_texts(&mut self) {
        if let Ok(a) = self.engine.account(&self.email).await {
            self.texts.extend(a.status_detail);
        }
        for s in self.engine.watch_statuses() {
            self.texts.extend(s.last_error);
        }
    }
}

async fn setup(op: Op, fault: Fault, index: usize) -> Result<Cell, String> {
    let store = Arc::new(Switchable { real: KeyringSecrets::default(), refuse: AtomicBool::new(false) });
    let bed = Arc::new(TestBed::start().await);
    let proxy = Arc::new(FaultProxy::start(bed.dovecot.imaps_addr()).await);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let disk = if fault == Fault::DiskFull { Some(SmallDisk::mount(&dir.path().join("disk"))?) } else { None };
    let email = format!("cell{index:02}@outlook.com");
    let token = bed.oauth.issue_refresh_token(&email, DEFAULT_CLIENT_ID);
    bed.dovecot.create_folder(&email, "INBOX", None);
    let config = cell_config(op);
    let options = EngineOptions {
        data_dir: Some(dir.path().to_path_buf()),
        database_path: disk.as_ref().map(|d| d.path.join("mailwatch.db")),
        extra_ca: Some(bed.dovecot.ca_pem_path().to_path_buf()),
        config: Some(config.clone()),
        secrets: Some(store.clone() as Arc<dyn SecretStore>),
    };
    let engine = Engine::open(options, Arc::new(Recorder::default())).await.map_err(|e| e.to_string())?;
    Ok(Cell {
        op,
        fault,
        bed,
        proxy,
        engine: Arc::new(engine),
        store,
        dir,
        disk,
        config,
        email,
        code: format!("{}", 300_000 + (index * 7919) % 600_000),
        tokens: vec![token],
        texts: Vec::new(),
    })
}

/// One cell, start to end.
/// Losses that no client can prevent, with why. A token exchange the engine gave up on (its
/// HTTP timeout) may still have been carried out by the provider: the test bed's token server
/// then revokes the spent refresh token at once, so the new one, which never arrived, was the
/// account's only token. Providers that keep a spent refresh token valid for a while recover
/// in this cell.
fn known_loss(fault: Fault) -> Option<&'static str> {
    match fault {
        Fault::TokenSlow => {
            Some("the provider finished an exchange the engine had given up on, and revokes spent tokens at once")
        }
        _ => None,
    }
}

async fn run_cell(op: Op, fault: Fault, index: usize) -> Outcome {
    let mut cell = match setup(op, fault, index).await {
        Ok(c) => c,
        Err(why) => return Outcome::NotBuilt(why),
    };
    let outcome = exercise(&mut cell).await;
    cell.engine.shutdown().await;
    match (outcome, known_loss(fault)) {
        (Outcome::Lost(what), Some(why)) => Outcome::KnownLoss(what, why),
        (o, _) => o,
    }
}

async fn exercise(cell: &mut Cell) -> Outcome {
    let (op, fault) = (cell.op, cell.fault);
    if op != Op::Import {
        let spec = AccountSpec {
            email: cell.email.clone(),
            provider: Some(Provider::Outlook),
            client_id: Some(DEFAULT_CLIENT_ID.into()),
            imap_host: Some("127.0.0.1".into()),
            imap_port: Some(cell.proxy.port()),
            tls: Some(Tls::Implicit),
            token_url: Some(cell.bed.oauth.token_url()),
            ..Default::default()
        };
        cell.engine
            .add_account(&spec, NewSecret::RefreshToken(Secret::new(cell.tokens[0].clone())))
            .await
            .expect("the account is added");
        if op == Op::Fetch {
            // A pooled session, a cached token and the folder's baseline.
            cell.engine.fetch(&cell.email, &FolderSpec::Inbox, 5, false).await.expect("the first fetch");
        }
    }
    if fault == Fault::WrongCert {
        // The process that does not trust the server's certificate.
        cell.swap_engine(false).await;
    }

    let ran = if op.is_watch() { cell.run_watch().await } else { cell.run_request().await };

    // (c) the account is still there; an import that failed as a whole is run again.
    let mut listed = cell.engine.account(&cell.email).await.is_ok();
    if !listed && op == Op::Import && matches!(ran, Ran::Err { .. }) {
        let file = cell.import_file();
        if let Err(e) = cell.engine.import(file.as_bytes(), &cell.import_options(), &BatchControl::default()).await {
            cell.texts.push(e.to_string());
        }
        listed = cell.engine.account(&cell.email).await.is_ok();
    }
    cell.collect_status_texts().await;
    let mut lost = Vec::new();
    if !listed {
        lost.push("the account left the list".to_string());
    }

    if fault == Fault::Revoked {
        // The provider revoked the grant: nothing can bring the token back. Expected: a
        // clean needs_reauth, and the account kept and marked.
        if let Ok(a) = cell.engine.account(&cell.email).await
            && a.status != AccountStatus::NeedsReauth
        {
            lost.push(format!("the account is {:?}, not needs_reauth", a.status));
        }
    } else {
        // (b) the code delivered during the fault.
        let watch_got_it = matches!(ran, Ran::Ok) && op.is_watch();
        if !watch_got_it && let Err(why) = cell.code_is_fetched().await {
            lost.push(format!("the code delivered during the fault was not fetched ({why})"));
        }
        if op.is_watch() && matches!(ran, Ran::Silent) && fault != Fault::WrongCert {
            lost.push(format!(
                "the watch never reported the code within {} s of the fault clearing",
                AFTER_CLEAR.as_secs()
            ));
        }
        // (c) the secret.
        if let Err(why) = cell.secret_kept().await {
            lost.push(why);
        }
    }

    // (d) no secret in any text.
    let leaked: Vec<&String> = cell
        .texts
        .iter()
        .filter(|t| cell.tokens.iter().any(|tok| !tok.is_empty() && t.contains(tok.as_str())))
        .collect();
    if !leaked.is_empty() {
        return Outcome::Failed(format!("a refresh token appears in an error text: {}", leaked.len()));
    }
    if !lost.is_empty() {
        return Outcome::Lost(lost.join("; "));
    }
    match ran {
        Ran::Ok => Outcome::Recovered,
        Ran::Err { code } if code == "internal" => {
            Outcome::Failed(format!("internal error: {}", cell.texts.first().cloned().unwrap_or_default()))
        }
        Ran::Err { code } if fault == Fault::Revoked && code != "needs_reauth" => {
            Outcome::Lost(format!("a revoked token gave {code}, not needs_reauth"))
        }
        Ran::Err { code } => Outcome::CleanError(code),
        Ran::Silent if fault == Fault::WrongCert => {
            let shown =
                cell.texts.iter().find(|t| t.contains("certificate")).map_or("nothing", |_| "a certificate error");
            Outcome::CleanError(format!("waiter not told; the watch status shows {shown}"))
        }
        Ran::Silent => Outcome::Lost("the watch stayed silent".into()),
        Ran::NotReady => Outcome::Failed("the watch never took its baseline before the fault".into()),
    }
}

fn table(cells: &[Vec<Outcome>]) -> String {
    let mut t = String::from("| operation |");
    for f in FAULTS {
        let _ = write!(t, " {} |", f.name());
    }
    t.push_str("\n|---|");
    for _ in FAULTS {
        t.push_str("---|");
    }
    t.push('\n');
    for (op, row) in OPS.iter().zip(cells) {
        let _ = write!(t, "| {} |", op.name());
        for o in row {
            let _ = write!(t, " {o} |");
        }
        t.push('\n');
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_survives_every_fault_or_fails_cleanly() {
    mailwatch_testbed::keyring::require_secret_service();
    let started = Instant::now();
    let mut cells = Vec::new();
    let mut index = 0;
    for op in OPS {
        let mut row = Vec::new();
        for fault in FAULTS {
            index += 1;
            let outcome = match skipped(op, fault) {
                Some(o) => o,
                None => {
                    let t = Instant::now();
                    let task = tokio::spawn(run_cell(op, fault, index));
                    let abort = task.abort_handle();
                    let o = match tokio::time::timeout(CELL_DEADLINE, task).await {
                        Ok(Ok(o)) => o,
                        Ok(Err(e)) if e.is_panic() => {
                            let p = e.into_panic();
                            let text = p
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            Outcome::Failed(format!("panicked: {}", text.lines().next().unwrap_or_default()))
                        }
                        Ok(Err(e)) => Outcome::Failed(format!("the cell's task failed: {e}")),
                        Err(_) => {
                            abort.abort();
                            Outcome::Failed(format!("hung (over {} s)", CELL_DEADLINE.as_secs()))
                        }
                    };
                    println!(
                        "[{:>5.1} s] {} × {}: {o} ({:.1} s)",
                        started.elapsed().as_secs_f64(),
                        op.name(),
                        fault.name(),
                        t.elapsed().as_secs_f64()
                    );
                    o
                }
            };
            row.push(outcome);
        }
        cells.push(row);
    }
    let matrix = table(&cells);
    println!("\n{matrix}\nfault matrix: {:.1} s", started.elapsed().as_secs_f64());
    let failing = cells.iter().flatten().filter(|o| o.fails()).count();
    assert_eq!(failing, 0, "{failing} cell(s) lost something or failed:\n{matrix}");
}
