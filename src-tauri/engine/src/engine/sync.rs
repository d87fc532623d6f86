//! Fetching messages into the cache, and waiting for a verification code.

use std::time::Duration;

use futures::future::BoxFuture;

use super::{Engine, EngineError};
use crate::channel::{Route, cured_by_imap};
use crate::clock::unix_now;
use crate::config::CacheConfig;
use crate::events::Event;
use crate::imap::{FetchLimits, FolderSpec, ImapSession};
use crate::store::{CachedMessage, CodeRecord, FolderState};

/// A wait's settings.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// Folders to watch; inbox and junk by default. A missing junk folder is skipped.
    pub folders: Vec<FolderSpec>,
}

impl Default for WaitOptions {
    /// `cache.waitTimeout`'s default, over inbox and junk; [`Engine::wait_options`] gives the
    /// timeout in force instead.
    fn default() -> Self {
        Self { timeout: CacheConfig::default().wait_timeout, folders: vec![FolderSpec::Inbox, FolderSpec::Junk] }
    }
}

impl Engine {
    /// Runs `op` on the account's session. A reused session that turns out dead is closed
    /// and the operation runs once more on a new one, invisibly to the caller.
    ///
    /// `op` returns a boxed future rather than being an async closure so that the callers'
    /// futures stay `Send` (async closures' futures are not yet provably `Send`).
    ///
    /// The pool's counters go to the event sink afterwards, whether the operation worked or
    /// not, so a UI sees waits and wait timeouts as they happen.
    pub(crate) async fn with_session<T>(
        &self,
        email: &str,
        op: impl for<'s> FnMut(&'s mut ImapSession) -> BoxFuture<'s, Result<T, EngineError>> + Send,
    ) -> Result<T, EngineError> {
        // An account its server throttles is not contacted until the time asked has passed.
        self.signin.check_throttle(email)?;
        let result = self.with_session_inner(email, op).await;
        self.signin.observe(email, &result).await;
        self.emit_stats();
        result
    }

    async fn with_session_inner<T>(
        &self,
        email: &str,
        mut op: impl for<'s> FnMut(&'s mut ImapSession) -> BoxFuture<'s, Result<T, EngineError>> + Send,
    ) -> Result<T, EngineError> {
        let mut retried = false;
        loop {
            let mut session = self.pool.get(email).await?;
            match op(&mut session).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_connection_error() => {
                    session.mark_broken();
                    drop(session);
                    if retried {
                        return Err(e);
                    }
                    retried = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs an operation on the account's channel (see [`crate::channel`]): `imap` over
    /// IMAP, `graph` through Microsoft Graph. An `auto` account that IMAP refuses in a way
    /// Graph cures moves to Graph and the operation runs there; one whose Graph scope is
    /// refused is tried on IMAP once. When both refuse, the error says both, in the
    /// provider's words.
    pub(super) async fn routed<'a, T>(
        &'a self,
        email: &'a str,
        imap: impl FnOnce() -> BoxFuture<'a, Result<T, EngineError>>,
        graph: impl FnOnce() -> BoxFuture<'a, Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let both = |imap: &EngineError, graph: &EngineError| EngineError::NoChannel {
            email: email.to_string(),
            imap: imap.to_string(),
            graph: graph.to_string(),
        };
        match self.channels.route(email).await? {
            Route::Graph { auto } => match graph().await {
                Err(g) if auto && cured_by_imap(&g) => match imap().await {
                    Ok(v) => {
                        self.channels.imap_worked(email).await;
                        Ok(v)
                    }
                    Err(i) => Err(both(&i, &g)),
                },
                other => other,
            },
            Route::Imap { auto } => match imap().await {
                Ok(v) => {
                    if auto {
                        self.channels.imap_worked(email).await;
                    }
                    Ok(v)
                }
                Err(i) if auto && self.channels.fall_back(email, &i).await => match graph().await {
                    Ok(v) => {
                        self.channels.graph_worked(email).await;
                        Ok(v)
                    }
                    Err(g) if cured_by_imap(&g) => Err(both(&i, &g)),
                    Err(g) => Err(g),
                },
                Err(i) => Err(i),
            },
        }
    }

    fn emit_stats(&self) {
        self.sink.emit(Event::PoolStats(self.pool.stats()));
    }

    /// A wait's settings as configured: `cache.waitTimeout`, inbox and junk.
    pub fn wait_options(&self) -> WaitOptions {
        WaitOptions { timeout: self.config.cache.wait_timeout, ..WaitOptions::default() }
    }

    /// The newest `top` messages of a folder with what extraction found, newest first. With
    /// `use_cache`, a folder synced within the cache TTL is answered from the cache without
    /// touching the server. Codes in messages that were already there at the folder's
    /// baseline are recorded as old: no [`Event::CodeFound`] (see [`crate::intake`]).
    ///
    /// # Errors
    /// Unknown account or folder; sign-in, network, pool or cache failures.
    pub async fn fetch(
        &self,
        email: &str,
        folder: &FolderSpec,
        top: usize,
        use_cache: bool,
    ) -> Result<Vec<CachedMessage>, EngineError> {
        let email = self.account(email).await?.email;
        let top = top.min(self.config.cache.max_top);
        let key = folder.to_string();
        if use_cache {
            let (e, k) = (email.clone(), key.clone());
            let ttl = self.config.cache.message_ttl.as_secs() as i64;
            let cached = self
                .store
                .call(move |s| -> Result<Option<Vec<CachedMessage>>, crate::store::StoreError> {
                    match s.folder_state(&e, &k)? {
                        Some(st) if unix_now() - st.synced_at < ttl => Ok(Some(s.recent_messages(&e, &k, top)?)),
                        _ => Ok(None),
                    }
                })
                .await?;
            if let Some(msgs) = cached {
                return Ok(msgs);
            }
        }
        self.routed(
            &email,
            || Box::pin(self.fetch_imap(&email, folder, top)),
            || Box::pin(self.channels.fetch_newest(&email, folder, top)),
        )
        .await
    }

    async fn fetch_imap(
        &self,
        email: &str,
        folder: &FolderSpec,
        top: usize,
    ) -> Result<Vec<CachedMessage>, EngineError> {
        let key = folder.to_string();
        let limits = FetchLimits::new(&self.config.cache);
        let (sel, raws) = self
            .with_session(email, |s| {
                let folder = folder.clone();
                Box::pin(async move {
                    let name = s.resolve(&folder).await?;
                    Ok(s.fetch_newest(&name, top, limits).await?)
                })
            })
            .await?;
        let mut messages = self.intake.save(email, &key, &sel, raws).await?.messages;
        messages.sort_by_key(|m| std::cmp::Reverse(m.uid));
        Ok(messages)
    }

    /// Waits for a verification code (or link) in a message that arrives after the call
    /// starts, in the inbox or the junk folder. The account's watch does the looking (IMAP
    /// IDLE where the server has it), so any number of concurrent waits on one account share
    /// its one session, and every one of them gets the code. Older messages never count: the
    /// watch's first look after the call is the baseline, and messages that claim to have
    /// arrived more than a minute before the call are ignored too.
    ///
    /// # Errors
    /// [`EngineError::WaitTimedOut`]; sign-in, network, pool or cache failures.
    pub async fn wait_code(&self, email: &str, options: &WaitOptions) -> Result<CodeRecord, EngineError> {
        let email = self.account(email).await?.email;
        let folders: Vec<String> = options.folders.iter().map(ToString::to_string).collect();
        self.mark_used(&email).await;
        let mut sub = self.watcher.subscribe(&email);
        match tokio::time::timeout(options.timeout, sub.next(&folders)).await {
            Ok(r) => r,
            Err(_) => Err(EngineError::WaitTimedOut { email, waited: options.timeout }),
        }
    }

    /// One message as the server has it (for showing it), found by folder and UID: whole, or
    /// its first `cache.maxMessageBytes` when it is larger.
    ///
    /// # Errors
    /// [`EngineError::MessageGone`] if the folder no longer has it; unknown account or
    /// folder; sign-in, network or pool failures.
    pub async fn message(&self, email: &str, folder: &FolderSpec, uid: u32) -> Result<Vec<u8>, EngineError> {
        let email = self.account(email).await?.email;
        self.routed(
            &email,
            || Box::pin(self.message_imap(&email, folder, uid)),
            || Box::pin(self.channels.message(&email, folder, uid)),
        )
        .await
    }

    async fn message_imap(&self, email: &str, folder: &FolderSpec, uid: u32) -> Result<Vec<u8>, EngineError> {
        let email = email.to_string();
        let limits = FetchLimits::new(&self.config.cache);
        let found = self
            .with_session(&email, |s| {
                let folder = folder.clone();
                Box::pin(async move {
                    let name = s.resolve(&folder).await?;
                    Ok(s.fetch_uid(&name, uid, limits).await?)
                })
            })
            .await?;
        found.map(|m| m.raw).ok_or_else(|| EngineError::MessageGone { email, folder: folder.to_string(), uid })
    }

    /// One message as the viewer shows it (see [`crate::view`]).
    ///
    /// # Errors
    /// As [`Engine::message`].
    pub async fn message_view(
        &self,
        email: &str,
        folder: &FolderSpec,
        uid: u32,
    ) -> Result<crate::view::MessageView, EngineError> {
        let raw = self.message(email, folder, uid).await?;
        Ok(crate::view::view(&raw, self.config().cache.view_max_bytes))
    }

    /// One look for new mail in a folder on the account's reused session: a single
    /// `UID FETCH last+1:*` of UIDs and sizes when the folder is already selected and the
    /// cache knows the last UID (one round trip when nothing is new). New messages are
    /// fetched in batches (`cache.fetchBatch`), each extracted and cached, which moves the
    /// folder's position, before the next is asked for.
    ///
    /// # Errors
    /// Unknown account or folder; sign-in, network, pool or cache failures. Batches cached
    /// before a failure stay cached, and the next poll starts after them.
    pub async fn poll(&self, email: &str, folder: &FolderSpec) -> Result<Vec<CachedMessage>, EngineError> {
        let email = self.account(email).await?.email;
        let top = self.config.cache.list_top;
        let email = email.as_str();
        self.routed(
            email,
            || Box::pin(self.poll_imap(email, folder)),
            || {
                Box::pin(async move {
                    // Graph's listing brings the newest; what is new to the cache is what the
                    // folder's baseline had not seen.
                    let before = self.intake.baseline(email, &folder.to_string()).await?;
                    let all = self.channels.fetch_newest(email, folder, top).await?;
                    Ok(all
                        .into_iter()
                        .filter(|m| {
                            before
                                .as_ref()
                                .is_none_or(|b| b.uid_validity != crate::channel::GRAPH_VALIDITY || m.uid > b.last_uid)
                        })
                        .collect())
                })
            },
        )
        .await
    }

    async fn poll_imap(&self, email: &str, folder: &FolderSpec) -> Result<Vec<CachedMessage>, EngineError> {
        let email = email.to_string();
        let key = folder.to_string();
        let limits = FetchLimits::new(&self.config.cache);
        let mut found = Vec::new();
        loop {
            let (e, k) = (email.clone(), key.clone());
            let known = self.store.call(move |s| s.folder_state(&e, &k)).await?;
            let (batch, floor) = self
                .with_session(&email, |s| {
                    let folder = folder.clone();
                    Box::pin(async move {
                        let name = s.resolve(&folder).await?;
                        match known {
                            Some(st)
                                if s.selected()
                                    .is_some_and(|x| x.name == name && x.uid_validity == st.uid_validity) =>
                            {
                                Ok((s.fetch_after(&name, st.last_uid, limits).await?, st.last_uid))
                            }
                            _ => {
                                let sel = s.reselect(&name).await?;
                                let last = sel.uid_next.map(|n| n.saturating_sub(1)).unwrap_or(0);
                                let after = known
                                    .filter(|st| st.uid_validity == sel.uid_validity)
                                    .map_or(last, |st| st.last_uid);
                                Ok((s.fetch_after(&name, after, limits).await?, after))
                            }
                        }
                    })
                })
                .await?;
            let sel = batch.selected;
            if batch.messages.is_empty() {
                if known.as_ref().is_none_or(|st| st.uid_validity != sel.uid_validity || st.last_uid != floor) {
                    // Remember the baseline, so the next poll is a single UID FETCH.
                    let state = FolderState { uid_validity: sel.uid_validity, last_uid: floor, synced_at: unix_now() };
                    let (e, k) = (email.clone(), key.clone());
                    self.store.call(move |s| s.save_sync(&e, &k, state, &[], unix_now())).await?;
                }
                return Ok(found);
            }
            found.extend(self.intake.save(&email, &key, &sel, batch.messages).await?.messages);
            if !batch.more {
                return Ok(found);
            }
        }
    }

    /// Appends a message to a folder of the account (benchmarks and tests deliver mail this
    /// way), on the account's pooled session.
    ///
    /// # Errors
    /// Unknown account; sign-in, network or pool failures; the server refused.
    pub async fn append(&self, email: &str, folder: &FolderSpec, raw: &[u8]) -> Result<(), EngineError> {
        let email = self.account(email).await?.email;
        self.with_session(&email, |s| {
            let (folder, raw) = (folder.clone(), raw.to_vec());
            Box::pin(async move {
                let name = s.resolve(&folder).await?;
                Ok(s.append(&name, &raw).await?)
            })
        })
        .await
    }
}

/// The shell runs these on Tauri's multi-threaded runtime, which needs `Send` futures; this
/// fails to compile when one stops being `Send`.
#[allow(dead_code)]
fn engine_futures_are_send(engine: &Engine, options: &WaitOptions) {
    fn is_send<T: Send>(_: T) {}
    let control = crate::progress::BatchControl::default();
    is_send(engine.import(b"", &crate::import::ImportOptions::default(), &control));
    is_send(engine.set_watched(&[], true));
    is_send(engine.set_paused(false));
    is_send(engine.remove_account("a@b.c"));
    is_send(engine.verify(&[], 1, &control));
    is_send(engine.message("a@b.c", &FolderSpec::Inbox, 1));
    is_send(engine.update_account(&crate::account::AccountSpec::default()));
    is_send(engine.fetch("a@b.c", &FolderSpec::Inbox, 1, true));
    is_send(engine.wait_code("a@b.c", options));
    is_send(engine.accounts());
    is_send(engine.poll("a@b.c", &FolderSpec::Inbox));
    is_send(engine.append("a@b.c", &FolderSpec::Inbox, b""));
}
