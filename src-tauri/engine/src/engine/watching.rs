//! Watching: the user's choice of watched accounts (stored, and the one answer to "which
//! accounts are watched"), pausing, watches for this run only, and code subscriptions.

use super::{Engine, EngineError};
use crate::clock::unix_now;
use crate::watch::{CodeSubscription, WatchChoice, WatchStatus};

impl Engine {
    /// Adds accounts to the watched ones (`watch`) or removes them, stores the choice, and
    /// starts or stops their watches; while paused the choice is only recorded. Watched
    /// accounts idle on their own sessions within `watch.maxIdleSessions` and are polled in
    /// turn past it (see [`crate::watch`]); codes found are announced as events.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`] (when adding); an invalid address; the cache cannot be
    /// written. Nothing changes then.
    pub async fn set_watched(&self, emails: &[String], watch: bool) -> Result<WatchChoice, EngineError> {
        let mut list = Vec::with_capacity(emails.len());
        for email in emails {
            list.push(if watch { self.account(email).await?.email } else { crate::account::normalize_email(email)? });
        }
        self.watcher.choose(&list, watch).await
    }

    /// Pauses or resumes watching every chosen account (waits for a code still run), and
    /// stores that.
    ///
    /// # Errors
    /// The cache cannot be written; nothing changes then.
    pub async fn set_paused(&self, paused: bool) -> Result<WatchChoice, EngineError> {
        self.watcher.pause(paused).await
    }

    /// Which accounts are chosen for watching and whether watching is paused.
    pub fn watch_choice(&self) -> WatchChoice {
        self.watcher.choice()
    }

    /// The accounts being watched now: the chosen ones, none while paused. The background
    /// sync keeps these fresh.
    pub fn watched_now(&self) -> Vec<String> {
        self.watcher.choice().active().to_vec()
    }

    /// Starts the watches of the stored choice, as the desktop app does when it starts: the
    /// accounts used most recently first, so they are the first to idle and to log in.
    pub async fn resume_watching(&self) {
        let chosen = self.watcher.choice().active().to_vec();
        let order = self.recently_used_first(chosen).await;
        self.watcher.resume(&order);
    }

    /// `emails` with the accounts the user used most recently (waited on, opened a message of,
    /// sent from) first, then the others in the order they were added. If the cache cannot
    /// be read, `emails` as given.
    pub async fn recently_used_first(&self, emails: Vec<String>) -> Vec<String> {
        let given = emails.clone();
        self.store.call(move |s| s.by_recent_use(&emails)).await.unwrap_or_else(|e| {
            tracing::warn!("cannot order the accounts by use: {e}");
            given
        })
    }

    /// Records that the user used `email` now; a failure is only logged (the order of the
    /// next start is all it affects).
    pub(super) async fn mark_used(&self, email: &str) {
        let email = email.to_string();
        if let Err(e) = self.store.call(move |s| s.mark_used(&email, unix_now())).await {
            tracing::warn!("cannot record that an account was used: {e}");
        }
    }

    /// Watches an account for this run only, leaving the stored choice alone (the CLI's
    /// `watch` command): it idles on its own session within `watch.maxIdleSessions`, or is
    /// polled in turn with the other watched accounts past it. Codes found are announced as
    /// events. Ends with [`Engine::unwatch`] or when the engine shuts down.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; the cache cannot be read.
    pub async fn watch(&self, email: &str) -> Result<(), EngineError> {
        let email = self.account(email).await?.email;
        self.watcher.watch(&email);
        Ok(())
    }

    /// Stops an account's watch for this run (a wait in progress keeps its watch until it
    /// ends); the stored choice is left alone.
    ///
    /// # Errors
    /// The address is invalid.
    pub async fn unwatch(&self, email: &str) -> Result<(), EngineError> {
        let email = crate::account::normalize_email(email)?;
        self.watcher.unwatch(&email);
        Ok(())
    }

    /// Codes arriving in an account from now on. The account is watched with IDLE while
    /// the subscription lives; wait for [`CodeSubscription::ready`] to know the baseline is
    /// taken.
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; the cache cannot be read.
    pub async fn subscribe_codes(&self, email: &str) -> Result<CodeSubscription, EngineError> {
        let email = self.account(email).await?.email;
        self.mark_used(&email).await;
        Ok(self.watcher.subscribe(&email))
    }

    /// What each account's watch is doing.
    pub fn watch_statuses(&self) -> Vec<WatchStatus> {
        self.watcher.statuses()
    }
}
