//! Importing and exporting account files. The rules (what each line becomes, the chunked
//! keyring-first transaction, when removal may happen) are [`crate::import`]'s; the engine
//! runs them, drops the clients and sessions of accounts whose secret changed, removes
//! accounts through the same path as [`Engine::remove_account`], and verifies.

use super::{Engine, EngineError};
use crate::import::{self, ImportFormat, ImportOptions, ImportReport};
use crate::progress::{BatchControl, Tracker};

impl Engine {
    /// Imports an account file (the bytes as read). See [`crate::import`] for what is
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
        let existing = self.accounts().await?;
        let known_ids = if options.dry_run { Default::default() } else { self.store.call(|s| s.account_ids()).await? };
        let secrets = self.signin.secrets().clone();
        let mut plan =
            import::plan(bytes, options, existing, &known_ids, self.config.batch.import_chunk, secrets.as_ref());
        if options.dry_run {
            return Ok(plan.report);
        }
        let mut tracker = Tracker::new(&*self.sink, control, "import", plan.len());
        for index in 0..plan.chunks.len() {
            if control.cancel.is_cancelled() {
                plan.report.cancelled = true;
                break;
            }
            let done = plan.store_chunk(index, &self.store, &secrets).await?;
            for email in &done.changed {
                self.signin.discard_unsaved(email);
                self.forget_client(email).await;
            }
            tracker.add(done.stored, done.failed);
        }
        plan.report.errors.sort_by_key(|e| e.line);

        if !plan.absent.is_empty() {
            match plan.removal_withheld(options.confirm_removal) {
                Some(why) => plan.report.removal_withheld = Some(why),
                None => plan.report.removed = self.remove_accounts(&plan.absent).await?,
            }
        }
        let stored = plan.stored();
        let mut report = plan.report;
        if options.verify && !report.cancelled {
            let concurrency = options.concurrency.unwrap_or(self.config.batch.verify_concurrency);
            report.verified = Some(self.verify(&stored, concurrency, control).await);
        }
        Ok(report)
    }

    /// Removes accounts in one transaction, then their keyring entries, watches and
    /// sessions.
    async fn remove_accounts(&self, emails: &[String]) -> Result<usize, EngineError> {
        let n = import::remove_accounts(&self.store, self.signin.secrets(), emails).await?;
        for e in emails {
            self.watcher.forget(e).await?;
            self.forget_client(e).await;
        }
        Ok(n)
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
        import::export_accounts(all, emails, format, with_secrets.then(|| self.signin.secrets())).await
    }
}
