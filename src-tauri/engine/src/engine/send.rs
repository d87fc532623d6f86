//! Sending mail: one message, or a batch file with its journal.

use std::collections::HashMap;
use std::path::Path;

use super::Engine;
use crate::error::EngineError;
use crate::outbox::batch::{self, BatchOptions, BatchReport};
use crate::outbox::{SendReceipt, SendStats};
use crate::pool::PoolStats;
use crate::progress::BatchControl;
use crate::smtp::compose::Draft;

impl Engine {
    /// Sends one message from the draft's `from` account over its reused SMTP connection.
    ///
    /// # Errors
    /// See [`crate::outbox::Outbox::send`].
    pub async fn send(&self, draft: &Draft) -> Result<SendReceipt, EngineError> {
        let receipt = self.outbox.send(draft).await?;
        if let Ok(from) = crate::account::normalize_email(&draft.from) {
            self.mark_used(&from).await;
        }
        Ok(receipt)
    }

    /// Sends every line of a batch file's `text` (CSV or JSON Lines), with progress and
    /// cancellation between messages. With `options.resume`, lines the journal of an earlier
    /// run of the same file records as sent are skipped.
    ///
    /// # Errors
    /// The journal cannot be written. Each line's failure is in the report instead.
    pub async fn send_batch(
        &self,
        text: &str,
        options: &BatchOptions,
        control: &BatchControl,
    ) -> Result<BatchReport, EngineError> {
        let (rows, unreadable) = batch::parse(text);
        // Each sender is checked once: an unknown account or one with no SMTP server fails
        // its lines without a connection.
        let mut senders: HashMap<String, Result<(), EngineError>> = HashMap::new();
        for row in &rows {
            let Some(from) = row.fields.get("from").and_then(|f| crate::account::normalize_email(f).ok()) else {
                continue;
            };
            if senders.contains_key(&from) {
                continue;
            }
            let verdict = match self.account(&from).await {
                Ok(a) if a.smtp.is_none() => Err(EngineError::NoSmtpServer { email: from.clone() }),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            senders.insert(from, verdict);
        }
        let journal = batch::journal_path(&self.data_dir, text);
        batch::run(&self.outbox, &*self.sink, &rows, unreadable, &senders, Some(&journal), options, control).await
    }

    /// The sending counters.
    pub fn send_stats(&self) -> SendStats {
        self.outbox.stats()
    }

    /// The SMTP connection pool's counters per account.
    pub fn smtp_pool_stats(&self) -> PoolStats {
        self.outbox.pool_stats()
    }

    /// Where the journal of a batch file with this content is kept.
    pub fn send_journal_path(&self, text: &str) -> std::path::PathBuf {
        batch::journal_path(Path::new(&self.data_dir), text)
    }
}
