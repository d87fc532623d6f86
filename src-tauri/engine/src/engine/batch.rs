//! Work over many accounts at once: importing a supplier's file, verifying accounts,
//! refreshing every token, and exporting.
//!
//! What it promises:
//!
//! - **Forgiving.** One bad line or one failing account never stops the others; each is
//!   reported with its line number (or address) and the reason in words.
//! - **Nothing lost under kill -9.** Accounts are stored in chunks: every keyring entry of a
//!   chunk is written first, then the chunk's rows in one SQLite transaction. A row never
//!   exists without its secret, so a killed import leaves each account either fully imported
//!   or absent (at worst an orphan keyring entry, which the next run overwrites). Running
//!   the same import again gives the same state.
//! - **Replace is the last step.** Accounts absent from the file are removed only after
//!   every line was valid and stored, and only when the caller confirmed.
//! - **Bounded.** Verification and "refresh all" run at most `batch.verifyConcurrency` /
//!   `batch.refreshConcurrency` accounts at once, through the session pool, so its per
//!   account and global limits still hold. Progress (done/total, rate, ETA) goes to the
//!   caller's callback and to the event sink; a [`CancellationToken`] stops the job between
//!   accounts.
//!
//! Keyring writes are the slow part: each is a D-Bus round trip, and with gnome-keyring a
//! write costs more the more entries exist (20 ms into an empty collection, 74 ms at 1,000).
//! Writing from several threads was no faster (the daemon handles one change at a time), so
//! one blocking thread writes a chunk in turn, and a secret the keyring already holds is not
//! written again (a read costs a millisecond or two).

use std::collections::{HashMap, HashSet};
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

        let chunk_size = self.connector.config.batch.import_chunk.max(1);
        let mut tracker = Tracker::new(self, control, "import", to_store.len());
        let mut stored: Vec<String> = Vec::with_capacity(to_store.len());
        for chunk in to_store.chunks(chunk_size) {
            if control.cancel.is_cancelled() {
                report.cancelled = true;
                break;
            }
            let (accounts, changed, failures) = self.store_secrets(chunk, &existing).await?;
            let rows = accounts.clone();
            self.connector.store.call(move |s| s.upsert_accounts(&rows)).await?;
            for email in changed {
                self.connector.forget(&email);
                self.pool.invalidate(&email).await;
            }
            for a in &accounts {
                if new_emails.contains(&a.email) {
                    report.added += 1;
                } else {
                    report.updated += 1;
                }
                stored.push(a.email.clone());
            }
            tracker.add(accounts.len(), failures.len());
            report.errors.extend(failures);
        }
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

    /// Writes a chunk's secrets to the keyring on one blocking thread. Returns the accounts
    /// whose secret is safe (ready for their rows), those whose secret changed, and the lines
    /// that failed.
    async fn store_secrets(
        &self,
        chunk: &[PlannedAccount],
        existing: &HashMap<String, Account>,
    ) -> Result<(Vec<Account>, Vec<String>, Vec<LineError>), EngineError> {
        let secrets = self.connector.secrets.clone();
        let work: Vec<(PlannedAccount, Option<Account>)> =
            chunk.iter().map(|p| (p.clone(), existing.get(&p.account.email).cloned())).collect();
        let joined = tokio::task::spawn_blocking(move || {
            let (mut ok, mut changed, mut failed) = (Vec::new(), Vec::new(), Vec::new());
            for (p, before) in work {
                let mut account = p.account;
                let mut same = false;
                if let Some(before) = &before {
                    // Only a known account can already hold this secret; reading first turns
                    // a re-import into reads, which cost far less than writes.
                    same = matches!(secrets.get(&account.email), Ok(Some(s)) if s == p.secret);
                    if same && before.auth == account.auth {
                        // The same secret keeps what is known about the account's health.
                        account.status = before.status;
                        account.status_detail = before.status_detail.clone();
                    }
                }
                if !same {
                    match secrets.set(&account.email, &p.secret) {
                        Ok(()) => {}
                        Err(e) if keyring_down(&e) => return Err(e),
                        Err(e) => {
                            failed.push(LineError { line: p.line, reason: e.to_string() });
                            continue;
                        }
                    }
                    if before.is_some() {
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
        let failures = tokio::task::spawn_blocking(move || list.iter().filter(|e| secrets.delete(e).is_err()).count())
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
            tokio::task::spawn_blocking(move || list.iter().map(|e| store.get(e)).collect::<Result<Vec<_>, _>>())
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??
        } else {
            vec![None; accounts.len()]
        };
        let records: Vec<ExportRecord> = accounts.iter().zip(secrets).map(|(a, s)| ExportRecord::new(a, s)).collect();
        Ok(import::write_export(&records, format))
    }
}
