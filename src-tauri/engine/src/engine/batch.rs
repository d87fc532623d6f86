//! Work over many accounts at once: importing a supplier's file, verifying accounts,
//! refreshing every token, and exporting.
//!
//! What it promises:
//!
//! - **Forgiving.** One bad line or one failing account never stops the others; each is
//!   reported with its line number (or address) and the reason in words.
//! - **Nothing lost under kill -9.** Accounts are stored in chunks: every secret of a chunk
//!   is written to the keyring first, then the chunk's rows in one SQLite transaction. A row
//!   never exists without its secret, so a killed import leaves each account either fully
//!   imported or absent (at worst an orphan secret, which the next run overwrites). Running
//!   the same import again gives the same state.
//! - **File order.** The accounts are listed in the file's order afterwards, even though a
//!   chunk is not a run of lines (see below) and a killed import stored a scattered part of
//!   the file: each new row is placed by the known accounts around it in the file.
//! - **Replace is the last step.** Accounts absent from the file are removed only after
//!   every line was valid and stored, and only when the caller confirmed.
//! - **Bounded.** Verification and "refresh all" run at most `batch.verifyConcurrency` /
//!   `batch.refreshConcurrency` accounts at once, through the session pool, so its per
//!   account and global limits still hold. Progress (done/total, rate, ETA) goes to the
//!   caller's callback and to the event sink; a [`CancellationToken`] stops the job between
//!   accounts.
//!
//! Keyring writes are the slow part: with gnome-keyring each costs tens of milliseconds, a
//! D-Bus round trip to a daemon that handles one change at a time and rewrites its file. The
//! keyring store keeps secrets in shards (see [`crate::secrets`]) and tells which shard an
//! account's secret is written with ([`SecretStore::write_group`]), so a chunk is made of
//! whole shards, at least `batch.importChunk` accounts: each shard is written once per
//! import. A secret the keyring already holds is not written again, so a re-import only reads.
//!
//! [`SecretStore::write_group`]: crate::secrets::SecretStore::write_group

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
pub use tokio_util::sync::CancellationToken;

use super::sync::unix_now;
use super::{Engine, EngineError};
use crate::account::{Account, AuthMethod};
use crate::events::Event;
use crate::import::{self, ExportRecord, ImportDefaults, ImportFormat, LineError, MergeMode, PlannedAccount};
use crate::secrets::{Secret, SecretsError};

/// How far a batch job has come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// "import", "verify" or "refresh".
    pub job: String,
    /// Items finished.
    pub done: usize,
    /// Items in the job.
    pub total: usize,
    /// Items that succeeded so far.
    pub ok: usize,
    /// Items that failed so far.
    pub failed: usize,
    /// Seconds since the job started.
    pub elapsed_secs: f64,
    /// Items per second so far.
    pub rate: f64,
    /// Seconds left at the current rate, once there is a rate.
    pub eta_secs: Option<f64>,
}

/// Receives progress; called from the job's task, so it must return quickly.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How a caller follows and stops a batch job.
#[derive(Clone, Default)]
pub struct BatchControl {
    /// Cancel to stop the job between items; what finished stays done.
    pub cancel: CancellationToken,
    /// Called after every item (import: every chunk).
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for BatchControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchControl").field("cancelled", &self.cancel.is_cancelled()).finish()
    }
}

/// Counts progress and reports it.
struct Tracker<'a> {
    engine: &'a Engine,
    control: &'a BatchControl,
    job: &'static str,
    started: Instant,
    total: usize,
    done: usize,
    ok: usize,
    failed: usize,
}

impl<'a> Tracker<'a> {
    fn new(engine: &'a Engine, control: &'a BatchControl, job: &'static str, total: usize) -> Self {
        Self { engine, control, job, started: Instant::now(), total, done: 0, ok: 0, failed: 0 }
    }

    fn add(&mut self, ok: usize, failed: usize) {
        self.done += ok + failed;
        self.ok += ok;
        self.failed += failed;
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 { self.done as f64 / elapsed } else { 0.0 };
        let p = Progress {
            job: self.job.to_string(),
            done: self.done,
            total: self.total,
            ok: self.ok,
            failed: self.failed,
            elapsed_secs: elapsed,
            rate,
            eta_secs: (rate > 0.0).then(|| self.total.saturating_sub(self.done) as f64 / rate),
        };
        if let Some(f) = &self.control.progress {
            f(&p);
        }
        self.engine.connector.sink.emit(Event::BatchProgress(p));
    }
}

/// What an import should do.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The file's format; `Auto` detects it.
    pub format: ImportFormat,
    /// What to do with known accounts.
    pub merge: MergeMode,
    /// Report what would happen and write nothing.
    pub dry_run: bool,
    /// With [`MergeMode::Replace`]: the caller confirmed that known accounts absent from the
    /// file may be removed. Without it they are only counted.
    pub confirm_removal: bool,
    /// Details for lines that do not give their own.
    pub defaults: ImportDefaults,
    /// Verify every added or updated account afterwards.
    pub verify: bool,
    /// Accounts verified at once; `None` is `batch.verifyConcurrency`.
    pub concurrency: Option<usize>,
}

/// The result of checking one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountCheck {
    /// The account.
    pub email: String,
    /// Whether it passed.
    pub ok: bool,
    /// The failure's [`EngineError::code`], or "cancelled" / "skipped".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why it failed, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How long the check took, in milliseconds.
    pub ms: u64,
}

/// The result of a verification or a "refresh all".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Accounts that passed.
    pub ok: usize,
    /// Accounts that failed (cancelled ones included).
    pub failed: usize,
    /// Whether the job was cancelled before it finished.
    pub cancelled: bool,
    /// Each account's result, in the order given.
    pub accounts: Vec<AccountCheck>,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The format used.
    pub format: ImportFormat,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// New accounts.
    pub added: usize,
    /// Known accounts overwritten.
    pub updated: usize,
    /// Known accounts left as they were.
    pub skipped: usize,
    /// Known accounts removed because the file did not mention them (replace only).
    pub removed: usize,
    /// Known accounts the file does not mention that replace would remove, or did not
    /// remove (no confirmation, errors in the file, or a dry run).
    pub absent: usize,
    /// Why absent accounts were kept, when replace was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_withheld: Option<String>,
    /// Unusable lines, by line number.
    pub errors: Vec<LineError>,
    /// Whether the import was cancelled; the accounts stored before that stay.
    pub cancelled: bool,
    /// The verification, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<CheckReport>,
}

/// Keyring failures that will fail every other account too, so the import stops.
fn keyring_down(e: &SecretsError) -> bool {
    matches!(e, SecretsError::Unavailable { .. } | SecretsError::Locked { .. })
}

impl Engine {
    /// Imports an account file (the bytes as read). See the module docs for what is
    /// promised; the report lists every unusable line with its number and reason.
    ///
    /// # Errors
    /// Only for failures that would fail every account: the keyring is unreachable or
    /// locked, or the cache cannot be written. Accounts stored before that stay stored.
    pub async fn import(
        &self,
        bytes: &[u8],
        options: &ImportOptions,
        control: &BatchControl,
    ) -> Result<ImportReport, EngineError> {
        let parsed = import::parse(bytes, options.format);
        let mut report = ImportReport {
            format: parsed.format,
            dry_run: options.dry_run,
            errors: parsed.errors,
            ..Default::default()
        };

        // Check every record and drop duplicates (the first occurrence wins).
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut planned: Vec<PlannedAccount> = Vec::with_capacity(parsed.records.len());
        for record in &parsed.records {
            match record.plan(&options.defaults) {
                Ok(p) => match seen.get(&p.account.email) {
                    Some(first) => {
                        report.errors.push(LineError { line: p.line, reason: format!("duplicate of line {first}") })
                    }
                    None => {
                        seen.insert(p.account.email.clone(), p.line);
                        planned.push(p);
                    }
                },
                Err(reason) => report.errors.push(LineError { line: record.line, reason }),
            }
        }
        report.errors.sort_by_key(|e| e.line);

        let existing: HashMap<String, Account> =
            self.accounts().await?.into_iter().map(|a| (a.email.clone(), a)).collect();
        let file_order: Vec<String> = planned.iter().map(|p| p.account.email.clone()).collect();
        let (mut to_store, mut new_emails) = (Vec::new(), HashSet::new());
        for p in planned {
            match existing.get(&p.account.email) {
                Some(_) if options.merge == MergeMode::Skip => report.skipped += 1,
                Some(_) => to_store.push(p),
                None => {
                    new_emails.insert(p.account.email.clone());
                    to_store.push(p);
                }
            }
        }
        let absent: Vec<String> = if options.merge == MergeMode::Replace {
            existing.keys().filter(|e| !seen.contains_key(*e)).cloned().collect()
        } else {
            Vec::new()
        };
        report.absent = absent.len();

        if options.dry_run {
            report.added = new_emails.len();
            report.updated = to_store.len() - new_emails.len();
            if !absent.is_empty() {
                report.removal_withheld = Some("this is a dry run".into());
            }
            return Ok(report);
        }

        let known_ids = self.connector.store.call(|s| s.account_ids()).await?;
        let file_refs: Vec<&str> = file_order.iter().map(String::as_str).collect();
        let row_ids: HashMap<&str, i64> = file_refs
            .iter()
            .zip(place_new_accounts(&file_refs, &known_ids))
            .filter_map(|(e, id)| id.map(|id| (*e, id)))
            .collect();
        let chunk_size = self.connector.config.batch.import_chunk.max(1);
        let secrets = &self.connector.secrets;
        let chunks = plan_chunks(&to_store, chunk_size, |email| secrets.write_group(email));
        let mut tracker = Tracker::new(self, control, "import", to_store.len());
        let mut stored: Vec<usize> = Vec::with_capacity(to_store.len());
        for chunk in chunks {
            if control.cancel.is_cancelled() {
                report.cancelled = true;
                break;
            }
            let items: Vec<PlannedAccount> = chunk.iter().map(|&i| to_store[i].clone()).collect();
            let (accounts, changed, failures) = self.store_secrets(items, &existing).await?;
            let rows: Vec<(Account, Option<i64>)> =
                accounts.iter().map(|a| (a.clone(), row_ids.get(a.email.as_str()).copied())).collect();
            self.connector.store.call(move |s| s.upsert_accounts_at(&rows)).await?;
            for email in changed {
                self.connector.forget(&email);
                self.pool.invalidate(&email).await;
            }
            let index: HashMap<&str, usize> = chunk.iter().map(|&i| (to_store[i].account.email.as_str(), i)).collect();
            for a in &accounts {
                if new_emails.contains(&a.email) {
                    report.added += 1;
                } else {
                    report.updated += 1;
                }
                stored.extend(index.get(a.email.as_str()));
            }
            tracker.add(accounts.len(), failures.len());
            report.errors.extend(failures);
        }
        stored.sort_unstable();
        let stored: Vec<String> = stored.into_iter().map(|i| to_store[i].account.email.clone()).collect();
        report.errors.sort_by_key(|e| e.line);

        if !absent.is_empty() {
            let withheld = if report.cancelled {
                Some("the import was cancelled".to_string())
            } else if !report.errors.is_empty() {
                Some(format!(
                    "{} line(s) of the file could not be imported; fix them and import again",
                    report.errors.len()
                ))
            } else if !options.confirm_removal {
                Some("removal was not confirmed".to_string())
            } else {
                None
            };
            match withheld {
                Some(w) => report.removal_withheld = Some(w),
                None => report.removed = self.remove_accounts(&absent).await?,
            }
        }

        if options.verify && !report.cancelled {
            let concurrency = options.concurrency.unwrap_or(self.connector.config.batch.verify_concurrency);
            report.verified = Some(self.verify(&stored, concurrency, control).await);
        }
        Ok(report)
    }

    /// Writes a chunk's secrets to the keyring on one blocking thread, in one bulk write.
    /// Returns the accounts whose secret is safe (ready for their rows), those whose secret
    /// changed, and the lines that failed.
    async fn store_secrets(
        &self,
        chunk: Vec<PlannedAccount>,
        existing: &HashMap<String, Account>,
    ) -> Result<(Vec<Account>, Vec<String>, Vec<LineError>), EngineError> {
        let secrets = self.connector.secrets.clone();
        let work: Vec<(PlannedAccount, Option<Account>)> = chunk
            .into_iter()
            .map(|p| {
                let before = existing.get(&p.account.email).cloned();
                (p, before)
            })
            .collect();
        let joined = tokio::task::spawn_blocking(move || {
            // Only a known account can already hold this secret; reading first turns a
            // re-import into reads, which cost far less than writes.
            let known: Vec<String> =
                work.iter().filter(|(_, before)| before.is_some()).map(|(p, _)| p.account.email.clone()).collect();
            let held: HashMap<String, Secret> = known
                .iter()
                .zip(secrets.get_many(&known))
                .filter_map(|(e, r)| r.ok().flatten().map(|s| (e.clone(), s)))
                .collect();
            let mut writes: Vec<(String, Secret)> = Vec::new();
            let mut planned: Vec<(Account, usize, bool, bool)> = Vec::with_capacity(work.len());
            for (p, before) in work {
                let mut account = p.account;
                let same = held.get(&account.email) == Some(&p.secret);
                if let Some(before) = &before
                    && same
                    && before.auth == account.auth
                {
                    // The same secret keeps what is known about the account's health.
                    account.status = before.status;
                    account.status_detail = before.status_detail.clone();
                }
                if !same {
                    writes.push((account.email.clone(), p.secret));
                }
                planned.push((account, p.line, same, before.is_some()));
            }
            let mut results = secrets.set_many(&writes).into_iter();
            let (mut ok, mut changed, mut failed) = (Vec::new(), Vec::new(), Vec::new());
            for (account, line, same, known) in planned {
                if !same {
                    match results.next() {
                        Some(Ok(())) => {}
                        Some(Err(e)) if keyring_down(&e) => return Err(e),
                        Some(Err(e)) => {
                            failed.push(LineError { line, reason: e.to_string() });
                            continue;
                        }
                        None => {
                            let reason = "the keyring gave no result for this account".to_string();
                            failed.push(LineError { line, reason });
                            continue;
                        }
                    }
                    if known {
                        changed.push(account.email.clone());
                    }
                }
                ok.push(account);
            }
            Ok((ok, changed, failed))
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(joined?)
    }

    /// Removes accounts in one transaction, then their keyring entries and sessions.
    async fn remove_accounts(&self, emails: &[String]) -> Result<usize, EngineError> {
        let list = emails.to_vec();
        let n = self.connector.store.call(move |s| s.remove_accounts(&list)).await?;
        let secrets = self.connector.secrets.clone();
        let list = emails.to_vec();
        // The rows are gone, so a leftover entry is only an orphan; report, do not fail.
        let failures =
            tokio::task::spawn_blocking(move || secrets.delete_many(&list).into_iter().filter(Result::is_err).count())
                .await
                .unwrap_or(0);
        if failures > 0 {
            tracing::warn!(failures, "some keyring entries of removed accounts could not be deleted");
        }
        for e in emails {
            self.connector.forget(e);
            self.pool.invalidate(e).await;
        }
        Ok(n)
    }

    /// Checks that each account signs in: refreshes its token (storing a rotated one) and
    /// logs in over IMAP through the session pool. At most `concurrency` accounts at once;
    /// the pool's limits apply on top. Never fails as a whole: each account gets a result.
    pub async fn verify(&self, emails: &[String], concurrency: usize, control: &BatchControl) -> CheckReport {
        self.run_checks("verify", emails, concurrency, control, |email| Box::pin(self.verify_account(email))).await
    }

    /// Verifies one account: a new client (so the token is refreshed), a new session (so it
    /// logs in), and the session goes back to the pool for the next fetch.
    ///
    /// # Errors
    /// The account is unknown, or refreshing or signing in failed.
    pub async fn verify_account(&self, email: &str) -> Result<(), EngineError> {
        let account = self.account(email).await?;
        self.forget_client(&account.email).await;
        let session = self.pool.get(&account.email).await?;
        drop(session);
        if account.auth == AuthMethod::OAuth2 {
            let e = account.email.clone();
            self.connector.store.call(move |s| s.set_token_refreshed(&e, unix_now())).await?;
        }
        Ok(())
    }

    /// Refreshes the refresh tokens of the given accounts, or of every OAuth2 account when
    /// `emails` is `None`, at most `concurrency` at once. A rotated token is stored before it
    /// is used. Password accounts are reported as skipped.
    pub async fn refresh_tokens(
        &self,
        emails: Option<&[String]>,
        concurrency: usize,
        control: &BatchControl,
    ) -> Result<CheckReport, EngineError> {
        let emails: Vec<String> = match emails {
            Some(list) => list.to_vec(),
            None => {
                self.accounts().await?.into_iter().filter(|a| a.auth == AuthMethod::OAuth2).map(|a| a.email).collect()
            }
        };
        Ok(self.run_checks("refresh", &emails, concurrency, control, |email| Box::pin(self.refresh_token(email))).await)
    }

    /// Exchanges one account's refresh token now, whatever the cached access token.
    ///
    /// # Errors
    /// The account is unknown or signs in with a password ("skipped"), or the refresh failed.
    pub async fn refresh_token(&self, email: &str) -> Result<(), EngineError> {
        let account = self.account(email).await?;
        if account.auth != AuthMethod::OAuth2 {
            return Err(EngineError::NotOAuth { email: account.email });
        }
        // A new client has no access token, so the next call refreshes.
        self.connector.forget(&account.email);
        let client = self.connector.client(&account.email).await?;
        self.connector.access_token(&client, None).await?;
        let e = account.email.clone();
        self.connector.store.call(move |s| s.set_token_refreshed(&e, unix_now())).await?;
        Ok(())
    }

    /// Makes sure the account's cached access token is valid for a while: renews it if it
    /// is within the refresh margin of expiring (the token keeper's job for accounts in
    /// use). Reuses the cached client, so a fresh token costs nothing.
    ///
    /// # Errors
    /// The account is unknown or not OAuth2, or the refresh failed.
    pub async fn warm_token(&self, email: &str) -> Result<(), EngineError> {
        let client = self.connector.client(email).await?;
        if client.account.auth != AuthMethod::OAuth2 {
            return Err(EngineError::NotOAuth { email: email.to_string() });
        }
        self.connector.access_token(&client, None).await?;
        Ok(())
    }

    /// Runs `check` over the accounts with bounded concurrency, progress and cancellation.
    async fn run_checks<'a, F>(
        &'a self,
        job: &'static str,
        emails: &'a [String],
        concurrency: usize,
        control: &BatchControl,
        check: F,
    ) -> CheckReport
    where
        // A boxed future keeps the job's own future `Send` (the shell runs it on a
        // multi-threaded runtime); a generic one trips over the higher-ranked closure.
        F: Fn(&'a str) -> futures::future::BoxFuture<'a, Result<(), EngineError>> + Sync,
    {
        let mut tracker = Tracker::new(self, control, job, emails.len());
        let cancel = control.cancel.clone();
        let check = &check;
        let mut results: Vec<Option<AccountCheck>> = vec![None; emails.len()];
        // The stream's items are indexes, not borrowed addresses: a closure taking a borrowed
        // item makes the future not provably `Send`.
        let mut stream = futures::stream::iter(0..emails.len())
            .map(|i| {
                let email: &'a str = &emails[i];
                let cancel = cancel.clone();
                async move {
                    let started = Instant::now();
                    let outcome = if cancel.is_cancelled() {
                        Err(("cancelled".to_string(), "cancelled before it started".to_string()))
                    } else {
                        tokio::select! {
                            r = check(email) => r.map_err(|e| (e.code().to_string(), e.to_string())),
                            () = cancel.cancelled() => Err(("cancelled".to_string(), "cancelled while running".to_string())),
                        }
                    };
                    let ms = started.elapsed().as_millis() as u64;
                    let result = match outcome {
                        Ok(()) => AccountCheck { email: email.to_string(), ok: true, code: None, reason: None, ms },
                        Err((code, reason)) => AccountCheck { email: email.to_string(), ok: false, code: Some(code), reason: Some(reason), ms },
                    };
                    (i, result)
                }
            })
            .buffer_unordered(concurrency.max(1));
        while let Some((i, result)) = stream.next().await {
            if result.ok {
                tracker.add(1, 0);
            } else {
                tracker.add(0, 1);
            }
            results[i] = Some(result);
        }
        let accounts: Vec<AccountCheck> = results.into_iter().flatten().collect();
        CheckReport {
            ok: accounts.iter().filter(|a| a.ok).count(),
            failed: accounts.iter().filter(|a| !a.ok).count(),
            cancelled: control.cancel.is_cancelled(),
            accounts,
        }
    }

    /// The accounts (all, or the ones named) in `format`. Secrets are included only with
    /// `with_secrets`, which callers set only after the user explicitly confirmed.
    ///
    /// # Errors
    /// A named account is unknown; the cache or the keyring failed.
    pub async fn export(
        &self,
        emails: Option<&[String]>,
        format: ImportFormat,
        with_secrets: bool,
    ) -> Result<String, EngineError> {
        let all = self.accounts().await?;
        let accounts: Vec<Account> = match emails {
            None => all,
            Some(list) => {
                let mut by_email: HashMap<String, Account> = all.into_iter().map(|a| (a.email.clone(), a)).collect();
                let mut picked = Vec::new();
                for e in list {
                    let e = crate::account::normalize_email(e)?;
                    picked.push(by_email.remove(&e).ok_or(EngineError::UnknownAccount { email: e })?);
                }
                picked
            }
        };
        let secrets: Vec<Option<Secret>> = if with_secrets {
            let store = self.connector.secrets.clone();
            let list: Vec<String> = accounts.iter().map(|a| a.email.clone()).collect();
            tokio::task::spawn_blocking(move || store.get_many(&list).into_iter().collect::<Result<Vec<_>, _>>())
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??
        } else {
            vec![None; accounts.len()]
        };
        let records: Vec<ExportRecord> = accounts.iter().zip(secrets).map(|(a, s)| ExportRecord::new(a, s)).collect();
        Ok(import::write_export(&records, format))
    }
}

/// The import's chunks, as indices into `accounts`. With a store that writes in groups,
/// a chunk is whole groups in group order, at least `size` accounts, so that each group is
/// written once; otherwise runs of `size` accounts in file order.
fn plan_chunks(accounts: &[PlannedAccount], size: usize, group: impl Fn(&str) -> Option<usize>) -> Vec<Vec<usize>> {
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut alone = Vec::new();
    for (i, p) in accounts.iter().enumerate() {
        match group(&p.account.email) {
            Some(g) => groups.entry(g).or_default().push(i),
            None => alone.push(i),
        }
    }
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    for i in groups.into_values().flat_map(|g| {
        // A group is never split: the marker after it closes a full chunk.
        g.into_iter().map(Some).chain(std::iter::once(None))
    }) {
        match i {
            Some(i) => chunk.push(i),
            None if chunk.len() >= size => chunks.push(std::mem::take(&mut chunk)),
            None => {}
        }
    }
    for i in alone {
        chunk.push(i);
        if chunk.len() >= size {
            chunks.push(std::mem::take(&mut chunk));
        }
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    for chunk in &mut chunks {
        chunk.sort_unstable();
    }
    chunks
}

/// Row ids for the new accounts of an import, so that [`Store::accounts`] lists the file's
/// accounts in file order although they are stored out of order: the keyring's shards group
/// accounts by a hash of the address, and an import killed half way leaves a scattered part
/// of the file stored for the next run to fill in.
///
/// `file` is the file's accounts in order, `known` every existing row id by address. Returns
/// one entry per file line: `None` for a known account (it keeps its row), else the new
/// account's id. A new account goes right after the known account before it in the file, or
/// right before the known one after it, counting the new accounts in between, when that id
/// is free, lies between those two neighbours and after every account the file does not
/// mention. The others go after everything, in file order.
pub fn place_new_accounts(file: &[&str], known: &HashMap<String, i64>) -> Vec<Option<i64>> {
    let in_file: HashSet<&str> = file.iter().copied().collect();
    let floor = known.iter().filter(|(e, _)| !in_file.contains(e.as_str())).map(|(_, id)| *id).max().unwrap_or(0);
    let taken: HashSet<i64> = known.values().copied().collect();
    let anchors: Vec<Option<i64>> = file.iter().map(|e| known.get(*e).copied()).collect();
    let mut next: Vec<Option<(usize, i64)>> = vec![None; file.len()];
    let mut after = None;
    for i in (0..file.len()).rev() {
        next[i] = after;
        if let Some(id) = anchors[i] {
            after = Some((i, id));
        }
    }
    let mut placed: Vec<Option<i64>> = vec![None; file.len()];
    let mut before: Option<(usize, i64)> = None;
    for i in 0..file.len() {
        if let Some(id) = anchors[i] {
            before = Some((i, id));
            continue;
        }
        let candidate = match (before, next[i]) {
            (Some((at, id)), _) => id + (i - at) as i64,
            (None, Some((at, id))) => id - (at - i) as i64,
            (None, None) => continue,
        };
        let fits = candidate > floor
            && !taken.contains(&candidate)
            && before.is_none_or(|(_, id)| candidate > id)
            && next[i].is_none_or(|(_, id)| candidate < id);
        if fits {
            placed[i] = Some(candidate);
        }
    }
    let mut tail = known.values().copied().chain(placed.iter().flatten().copied()).max().unwrap_or(0);
    for i in 0..file.len() {
        if anchors[i].is_none() && placed[i].is_none() {
            tail += 1;
            placed[i] = Some(tail);
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
        pairs.iter().map(|(e, id)| (e.to_string(), *id)).collect()
    }

    #[test]
    fn a_first_import_goes_after_the_accounts_already_there_in_file_order() {
        let known = ids(&[("old@x", 4)]);
        assert_eq!(place_new_accounts(&["a@x", "b@x", "c@x"], &known), vec![Some(5), Some(6), Some(7)]);
    }

    #[test]
    fn a_rerun_after_a_kill_fills_the_gaps_the_first_run_left() {
        // The first run placed line i at id i + 1 and stored lines 1, 2 and 5 before the kill.
        let file = ["l0@x", "l1@x", "l2@x", "l3@x", "l4@x", "l5@x", "l6@x"];
        let known = ids(&[("l1@x", 2), ("l2@x", 3), ("l5@x", 6)]);
        assert_eq!(
            place_new_accounts(&file, &known),
            vec![Some(1), None, None, Some(4), Some(5), None, Some(7)],
            "every new line goes back to the place the first run gave it"
        );
    }

    #[test]
    fn a_gap_left_by_a_removed_account_is_not_reused() {
        // a@x (1) and z@x (5) exist; 2..4 were removed. z@x is not in the file, so a new
        // account goes after it, not into the gap after a@x.
        let known = ids(&[("a@x", 1), ("z@x", 5)]);
        assert_eq!(place_new_accounts(&["a@x", "n@x", "m@x"], &known), vec![None, Some(6), Some(7)]);
    }

    #[test]
    fn a_file_in_another_order_than_the_table_appends_what_does_not_fit() {
        let known = ids(&[("a@x", 1), ("b@x", 2)]);
        // Nothing fits between b (2) and a (1), and the place after a is b's: both go last,
        // in file order.
        assert_eq!(place_new_accounts(&["b@x", "n@x", "a@x", "m@x"], &known), vec![None, Some(3), None, Some(4)]);
    }

    fn planned(emails: &[&str]) -> Vec<PlannedAccount> {
        let records = import::parse(
            emails.iter().map(|e| format!("{e}----pw----127.0.0.1----993\n")).collect::<String>().as_bytes(),
            ImportFormat::Auto,
        );
        records.records.iter().map(|r| r.plan(&ImportDefaults::default()).unwrap()).collect()
    }

    #[test]
    fn chunks_are_whole_groups_of_at_least_the_chunk_size() {
        let accounts = planned(&["a0@x.org", "b1@x.org", "a2@x.org", "c3@x.org", "b4@x.org", "c5@x.org", "a6@x.org"]);
        let group = |e: &str| Some(usize::from(e.as_bytes()[0] - b'a'));
        assert_eq!(plan_chunks(&accounts, 2, group), vec![vec![0, 2, 6], vec![1, 4], vec![3, 5]]);
        assert_eq!(plan_chunks(&accounts, 4, group), vec![vec![0, 1, 2, 4, 6], vec![3, 5]], "a and b; then c");
        assert_eq!(plan_chunks(&accounts, 100, group), vec![vec![0, 1, 2, 3, 4, 5, 6]]);
        assert_eq!(plan_chunks(&accounts, 3, |_| None), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]], "file order");
    }
}
