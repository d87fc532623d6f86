//! Fetching messages into the cache, and waiting for a verification code.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::{Engine, EngineError};
use crate::events::Event;
use crate::extract;
use crate::imap::{FolderSpec, ImapSession, RawMessage, Selected};
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
    fn default() -> Self {
        Self { timeout: Duration::from_secs(120), folders: vec![FolderSpec::Inbox, FolderSpec::Junk] }
    }
}

/// How much earlier than the wait's start a message may claim to have arrived and still
/// count; covers clock skew between the server and this machine.
const ARRIVAL_SLACK_SECS: i64 = 60;

pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn to_cached(folder: &str, raw: &RawMessage) -> CachedMessage {
    let x = extract::extract(&raw.raw);
    CachedMessage {
        uid: raw.uid,
        folder: folder.to_string(),
        message_id: x.message_id,
        from: x.from,
        subject: x.subject,
        received: raw.internal_date,
        snippet: x.snippet,
        code: x.code,
        link: x.link,
        service: x.service,
        confidence: x.confidence,
    }
}

impl Engine {
    /// Runs `op` on the account's session. A reused session that turns out dead is closed
    /// and the operation runs once more on a new one, invisibly to the caller.
    pub(crate) async fn with_session<T>(&self, email: &str, mut op: impl AsyncFnMut(&mut ImapSession) -> Result<T, EngineError>) -> Result<T, EngineError> {
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

    fn emit_stats(&self) {
        self.connector.sink.emit(Event::PoolStats(self.pool.stats()));
    }

    /// Extracts, stores and announces what a fetch brought.
    async fn save(&self, email: &str, folder_key: &str, sel: &Selected, raws: Vec<RawMessage>) -> Result<(Vec<CachedMessage>, Vec<CodeRecord>), EngineError> {
        let key = folder_key.to_string();
        let messages = tokio::task::spawn_blocking(move || raws.iter().map(|r| to_cached(&key, r)).collect::<Vec<_>>())
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let (e, k) = (email.to_string(), folder_key.to_string());
        let prev = self.connector.store.call(move |s| s.folder_state(&e, &k)).await?;
        let max_uid = messages.iter().map(|m| m.uid).max().unwrap_or(0);
        let last_uid = match prev {
            Some(p) if p.uid_validity == sel.uid_validity => p.last_uid.max(max_uid),
            _ => max_uid,
        };
        let state = FolderState { uid_validity: sel.uid_validity, last_uid, synced_at: unix_now() };
        let (e, k, m) = (email.to_string(), folder_key.to_string(), messages.clone());
        let codes = self.connector.store.call(move |s| s.save_sync(&e, &k, state, &m, unix_now())).await?;
        for c in &codes {
            self.connector.sink.emit(Event::CodeFound {
                email: c.email.clone(),
                code: c.code.clone(),
                link: c.link.clone(),
                service: c.service.clone(),
                from: c.from.clone(),
                subject: c.subject.clone(),
                received: c.received,
            });
        }
        Ok((messages, codes))
    }

    /// The newest `top` messages of a folder with what extraction found, newest first (the
    /// seeds' `get_messages_with_content`). With `use_cache`, a folder synced within the
    /// cache TTL is answered from the cache without touching the server.
    ///
    /// # Errors
    /// Unknown account or folder; sign-in, network, pool or cache failures.
    pub async fn fetch(&self, email: &str, folder: &FolderSpec, top: usize, use_cache: bool) -> Result<Vec<CachedMessage>, EngineError> {
        let email = self.account(email).await?.email;
        let top = top.min(self.connector.config.cache.max_top);
        let key = folder.to_string();
        if use_cache {
            let (e, k) = (email.clone(), key.clone());
            let ttl = self.connector.config.cache.message_ttl.as_secs() as i64;
            let cached = self
                .connector
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
        let (sel, raws) = self
            .with_session(&email, async |s| {
                let name = s.resolve(folder).await?;
                Ok(s.fetch_newest(&name, top).await?)
            })
            .await?;
        let (mut messages, _) = self.save(&email, &key, &sel, raws).await?;
        self.emit_stats();
        messages.sort_by(|a, b| b.uid.cmp(&a.uid));
        Ok(messages)
    }

    /// Waits for a verification code (or link) in a message that arrives after the call
    /// starts, in the inbox or the junk folder. Older messages never count: each folder's
    /// UIDNEXT is taken at the start, and only higher UIDs that arrived after the start
    /// (less a minute of clock slack) are considered.
    ///
    /// # Errors
    /// [`EngineError::WaitTimedOut`]; sign-in, network, pool or cache failures.
    pub async fn wait_code(&self, email: &str, options: &WaitOptions) -> Result<CodeRecord, EngineError> {
        let email = self.account(email).await?.email;
        let started_unix = unix_now();
        let deadline = Instant::now() + options.timeout;
        let poll = self.connector.config.cache.poll_interval;

        // The baseline: the highest UID each folder has now.
        let mut watched: Vec<(FolderSpec, String, u32)> = Vec::new();
        for spec in &options.folders {
            let r = self
                .with_session(&email, async |s| {
                    let name = s.resolve(spec).await?;
                    let sel = s.reselect(&name).await?;
                    Ok((name, sel.uid_next.map(|n| n.saturating_sub(1))))
                })
                .await;
            match r {
                Ok((name, Some(last))) => watched.push((spec.clone(), name, last)),
                Ok((name, None)) => {
                    let newest = self.with_session(&email, async |s| Ok(s.fetch_newest(&name, 1).await?.1)).await?;
                    watched.push((spec.clone(), name, newest.first().map(|m| m.uid).unwrap_or(0)));
                }
                Err(EngineError::Imap(crate::imap::ImapError::NoSuchFolder { .. })) if *spec == FolderSpec::Junk => {}
                Err(e) => return Err(e),
            }
        }

        loop {
            for (spec, name, last) in watched.iter_mut() {
                let after = *last;
                let (sel, raws) = self.with_session(&email, async |s| Ok(s.fetch_after(name, after).await?)).await?;
                if let Some(max) = raws.iter().map(|m| m.uid).max() {
                    *last = max;
                }
                let fresh: Vec<RawMessage> =
                    raws.into_iter().filter(|m| m.internal_date.is_none_or(|d| d >= started_unix - ARRIVAL_SLACK_SECS)).collect();
                if fresh.is_empty() {
                    continue;
                }
                let (messages, codes) = self.save(&email, &spec.to_string(), &sel, fresh).await?;
                self.emit_stats();
                if let Some(c) = codes.into_iter().find(|c| c.code.is_some() || c.link.is_some()) {
                    return Ok(c);
                }
                // Already recorded in an earlier run (the codes history is unique per
                // message), but new to this wait: answer from the message itself.
                if let Some(m) = messages.iter().find(|m| m.code.is_some() || m.link.is_some()) {
                    return Ok(CodeRecord {
                        id: 0,
                        email: email.clone(),
                        code: m.code.clone(),
                        link: m.link.clone(),
                        service: m.service.clone(),
                        from: m.from.clone(),
                        subject: m.subject.clone(),
                        received: m.received,
                        found_at: unix_now(),
                        folder: spec.to_string(),
                        uid: m.uid,
                    });
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(EngineError::WaitTimedOut { email, waited: options.timeout });
            }
            tokio::time::sleep(poll.min(deadline - now)).await;
        }
    }
}
