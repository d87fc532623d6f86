//! Background work that keeps accounts usable without anyone asking: the token keeper and
//! the background sync.
//!
//! - **Token keeper.** Every `keeper.interval` it renews the access token of each account in
//!   use (fetched within `keeper.inUseWindow`) once it is within `http.refreshMargin` of
//!   expiring, and exchanges the refresh token of each OAuth2 account not used for
//!   `keeper.keepAliveAge` (Microsoft's refresh tokens lapse after 90 days unused). At most
//!   `keeper.maxPerRound` keep-alives a round and `keeper.concurrency` requests at once, so
//!   thousands of stale accounts are spread out instead of flooding the token endpoint.
//! - **Background sync.** Every `sync.interval` it fetches the newest `sync.top` messages of
//!   each watched account into the cache, `sync.concurrency` at once, starting accounts at
//!   least `sync.spacing` apart plus up to `sync.jitter` of random delay. Which accounts are
//!   watched it asks the engine at every round ([`Engine::watched_now`]), so an account
//!   removed or unwatched, or a pause, takes effect at the next round.
//!
//! - **History.** With the token keeper's round, codes, links and cached messages older than
//!   `cache.codeRetention` are deleted ([`Engine::prune_history`]).
//!
//! One failing account is logged and never stops the others. The jobs hold only a `Weak`
//! reference to the engine and stop when it is dropped or when [`Keeper::stop`] is called,
//! whichever comes first; a round in progress is abandoned at its next await.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Engine;
use crate::clock::{random_fraction, unix_now};
use crate::imap::FolderSpec;

/// What one round of the token keeper did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeeperRound {
    /// Accounts in use whose access token was checked (and renewed if near expiry).
    pub warmed: usize,
    /// Rarely used accounts whose refresh token was exchanged to keep it alive.
    pub kept_alive: usize,
    /// Accounts where either failed.
    pub failed: usize,
    /// Stale accounts left for a later round (over `keeper.maxPerRound`).
    pub deferred: usize,
}

/// What one round of the background sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRound {
    /// Accounts synced.
    pub synced: usize,
    /// Accounts that failed.
    pub failed: usize,
}

/// One round of the token keeper at Unix time `now`.
///
/// # Errors
/// Only if the cache cannot be read; each account's failure is counted, not returned.
pub async fn keep_tokens(engine: &Engine, now: i64) -> Result<KeeperRound, crate::EngineError> {
    let cfg = engine.config().keeper.clone();
    let activity = engine.token_activity().await?;
    let in_use_since = now - cfg.in_use_window.as_secs() as i64;
    let stale_before = now - cfg.keep_alive_age.as_secs() as i64;
    let mut warm = Vec::new();
    let mut stale = Vec::new();
    for a in activity {
        if a.synced_at.is_some_and(|t| t >= in_use_since) {
            warm.push(a.email);
        } else if a.last_active().is_none_or(|t| t < stale_before) {
            stale.push(a.email);
        }
    }
    let mut round = KeeperRound { deferred: stale.len().saturating_sub(cfg.max_per_round), ..Default::default() };
    stale.truncate(cfg.max_per_round);
    let jobs = warm.into_iter().map(|e| (e, false)).chain(stale.into_iter().map(|e| (e, true)));
    let mut results = futures::stream::iter(jobs)
        .map(|(email, keep_alive)| async move {
            let r = if keep_alive { engine.refresh_token(&email).await } else { engine.warm_token(&email).await };
            if let Err(e) = &r {
                tracing::warn!(email = %email, code = e.code(), "the token keeper could not refresh: {e}");
            }
            (keep_alive, r.is_ok())
        })
        .buffer_unordered(cfg.concurrency.max(1));
    while let Some((keep_alive, ok)) = results.next().await {
        match (keep_alive, ok) {
            (_, false) => round.failed += 1,
            (true, true) => round.kept_alive += 1,
            (false, true) => round.warmed += 1,
        }
    }
    Ok(round)
}

/// One round of background sync over the accounts watched now ([`Engine::watched_now`]).
pub async fn sync_watched(engine: Arc<Engine>) -> SyncRound {
    let emails = engine.watched_now();
    sync_accounts(engine, emails).await
}

/// One round of background sync over `emails`, paced by the `sync` settings.
pub async fn sync_accounts(engine: Arc<Engine>, emails: Vec<String>) -> SyncRound {
    let cfg = engine.config().sync.clone();
    let start = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, email) in emails.into_iter().enumerate() {
        let jitter = cfg.jitter.mul_f64(random_fraction(&email));
        let at = start + cfg.spacing * i as u32 + jitter;
        let (engine, permits, top) = (engine.clone(), permits.clone(), cfg.top);
        tasks.spawn(async move {
            tokio::time::sleep_until(at).await;
            let Ok(_permit) = permits.acquire_owned().await else { return false };
            let r = engine.fetch(&email, &FolderSpec::Inbox, top, true).await;
            if let Err(e) = &r {
                tracing::warn!(email = %email, code = e.code(), "background sync failed: {e}");
            }
            r.is_ok()
        });
    }
    let mut round = SyncRound::default();
    while let Some(done) = tasks.join_next().await {
        if done.unwrap_or(false) {
            round.synced += 1;
        } else {
            round.failed += 1;
        }
    }
    round
}

/// The running background jobs. Dropping it without [`Keeper::stop`] also stops them (at
/// their next await), but `stop` waits for them to finish.
pub struct Keeper {
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Keeper {
    /// Starts the token keeper and the background sync of the watched accounts.
    pub fn start(engine: &Arc<Engine>) -> Keeper {
        let cancel = CancellationToken::new();
        let keeper_every = engine.config().keeper.interval.max(Duration::from_secs(1));
        let sync_every = engine.config().sync.interval.max(Duration::from_secs(1));
        let tokens = spawn_loop(Arc::downgrade(engine), cancel.clone(), keeper_every, |engine| async move {
            if let Err(e) = keep_tokens(&engine, unix_now()).await {
                tracing::warn!("the token keeper could not read the cache: {e}");
            }
            if let Err(e) = engine.prune_history(unix_now()).await {
                tracing::warn!("cannot prune old codes from the cache: {e}");
            }
        });
        let sync = spawn_loop(Arc::downgrade(engine), cancel.clone(), sync_every, |engine| async move {
            sync_watched(engine).await;
        });
        Keeper { cancel, tasks: vec![tokens, sync] }
    }

    /// Signals the jobs to stop and waits up to `within` for them to finish.
    pub async fn stop(mut self, within: Duration) {
        self.cancel.cancel();
        let tasks = std::mem::take(&mut self.tasks);
        let _ = tokio::time::timeout(within, futures::future::join_all(tasks)).await;
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Runs `round` every `every` until cancelled or the engine is gone. The engine is held
/// strongly only during a round.
fn spawn_loop<F, Fut>(engine: Weak<Engine>, cancel: CancellationToken, every: Duration, round: F) -> JoinHandle<()>
where
    F: Fn(Arc<Engine>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let Some(engine) = engine.upgrade() else { return };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = round(engine) => {}
            }
        }
    })
}
