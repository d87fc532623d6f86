//! What a fetch brings home: every message fetched is extracted and cached, and a code or
//! link in it is news only when the message arrived after the account's baseline.
//!
//! Every path that fetches mail (a listing, a poll, the watch, the background sync) saves it
//! through [`Intake::save`], so there is one rule for what counts as a new code:
//!
//! - The baseline is the cache's [`FolderState`] of the folder: the highest UID seen, in one
//!   UIDVALIDITY, and when the folder was last looked at.
//! - A message is news when the folder had a baseline and the message's UID is above it. The
//!   first look at a folder has no baseline: whatever is already there is old, however
//!   recent, so opening an account's messages never announces the code already in them.
//! - After a UIDVALIDITY change UIDs say nothing; a message is news when it arrived (its
//!   INTERNALDATE) after the last look. A folder that did not exist at the first look (a junk
//!   folder the server creates later) has a baseline with UIDVALIDITY 0, so the same applies.
//!
//! News is announced with [`Event::CodeFound`] (notifications, the tray) and enters the codes
//! history as found now. An old code enters the history too, found when it arrived, so the
//! history stays complete without an old code showing as "just now". The watch takes its
//! baseline with [`Intake::set_baseline`] on its first look, so what arrives after it is
//! news whichever path fetches it first.

use std::sync::Arc;

use crate::clock::unix_now;
use crate::error::EngineError;
use crate::events::{Event, EventSink};
use crate::extract;
use crate::imap::{RawMessage, Selected};
use crate::store::{CachedMessage, CodeRecord, FolderState, Store};

/// Saves fetched mail and announces the news in it.
#[derive(Clone)]
pub(crate) struct Intake {
    store: Store,
    sink: Arc<dyn EventSink>,
}

/// What one save brought.
pub(crate) struct Saved {
    /// Every message fetched, as cached.
    pub messages: Vec<CachedMessage>,
    /// The codes new to the history that are news, each announced.
    pub news: Vec<CodeRecord>,
}

/// Whether a message fetched from a folder arrived after the folder's baseline (see the
/// module docs). `uid_validity` is the folder's as the fetch saw it.
pub(crate) fn is_news(baseline: Option<&FolderState>, uid_validity: u32, m: &CachedMessage) -> bool {
    match baseline {
        None => false,
        Some(b) if b.uid_validity == uid_validity => m.uid > b.last_uid,
        Some(b) => m.received.is_some_and(|r| r >= b.synced_at - 1),
    }
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
        candidates: x.candidates,
    }
}

impl Intake {
    pub(crate) fn new(store: Store, sink: Arc<dyn EventSink>) -> Self {
        Self { store, sink }
    }

    /// The folder's baseline, if it has one.
    pub(crate) async fn baseline(&self, email: &str, folder_key: &str) -> Result<Option<FolderState>, EngineError> {
        let (e, k) = (email.to_string(), folder_key.to_string());
        Ok(self.store.call(move |s| s.folder_state(&e, &k)).await?)
    }

    /// Records that everything up to `last_uid` in the folder is old, unless the cache
    /// already has a baseline in this UIDVALIDITY (which may be older: what came after it is
    /// still news).
    pub(crate) async fn set_baseline(
        &self,
        email: &str,
        folder_key: &str,
        uid_validity: u32,
        last_uid: u32,
    ) -> Result<(), EngineError> {
        let known = self.baseline(email, folder_key).await?;
        if known.is_some_and(|b| b.uid_validity == uid_validity) {
            return Ok(());
        }
        let state = FolderState { uid_validity, last_uid, synced_at: unix_now() };
        let (e, k) = (email.to_string(), folder_key.to_string());
        self.store.call(move |s| s.save_sync(&e, &k, state, &[], unix_now())).await?;
        Ok(())
    }

    /// Extracts and caches what a fetch brought, moves the folder's baseline past it, and
    /// announces the codes that are news (each with [`Event::CodeFound`]).
    pub(crate) async fn save(
        &self,
        email: &str,
        folder_key: &str,
        sel: &Selected,
        raws: Vec<RawMessage>,
    ) -> Result<Saved, EngineError> {
        self.save_arrived(email, folder_key, sel, raws, None).await
    }

    /// [`Intake::save`], where a message is news only if, besides, it arrived at or after
    /// `not_before` (Unix seconds). Graph's listings need it: their UIDs are the cache's own,
    /// given when an id is first seen, so a listing's old messages get UIDs above the
    /// baseline too.
    pub(crate) async fn save_arrived(
        &self,
        email: &str,
        folder_key: &str,
        sel: &Selected,
        raws: Vec<RawMessage>,
        not_before: Option<i64>,
    ) -> Result<Saved, EngineError> {
        let key = folder_key.to_string();
        let messages = tokio::task::spawn_blocking(move || raws.iter().map(|r| to_cached(&key, r)).collect::<Vec<_>>())
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let prev = self.baseline(email, folder_key).await?;
        let max_uid = messages.iter().map(|m| m.uid).max().unwrap_or(0);
        let last_uid = match prev {
            Some(p) if p.uid_validity == sel.uid_validity => p.last_uid.max(max_uid),
            _ => max_uid,
        };
        let now = unix_now();
        let state = FolderState { uid_validity: sel.uid_validity, last_uid, synced_at: now };
        let validity = sel.uid_validity;
        let is_news = move |prev: Option<&FolderState>, validity: u32, m: &CachedMessage| {
            is_news(prev, validity, m) && not_before.is_none_or(|t| m.received.is_some_and(|r| r >= t))
        };
        let (e, k, m) = (email.to_string(), folder_key.to_string(), messages.clone());
        let recorded = self
            .store
            .call(move |s| {
                s.save_sync_found(&e, &k, state, &m, |msg| {
                    if is_news(prev.as_ref(), validity, msg) { now } else { msg.received.unwrap_or(now).min(now) }
                })
            })
            .await?;
        let news: Vec<CodeRecord> = recorded
            .into_iter()
            .filter(|c| messages.iter().any(|m| m.uid == c.uid && is_news(prev.as_ref(), validity, m)))
            .collect();
        for c in &news {
            self.sink.emit(Event::CodeFound {
                email: c.email.clone(),
                code: c.code.clone(),
                link: c.link.clone(),
                service: c.service.clone(),
                from: c.from.clone(),
                subject: c.subject.clone(),
                received: c.received,
                folder: c.folder.clone(),
            });
        }
        Ok(Saved { messages, news })
    }
}

/// The code record for a message that carries a code or a link, for whoever waits on the
/// account: the history's new row when there is one, otherwise one built from the message.
pub(crate) fn record_for(email: &str, folder_key: &str, m: &CachedMessage, news: &[CodeRecord]) -> Option<CodeRecord> {
    if m.code.is_none() && m.link.is_none() {
        return None;
    }
    if let Some(c) = news.iter().find(|c| c.uid == m.uid && c.folder == folder_key) {
        return Some(c.clone());
    }
    Some(CodeRecord::from_message(0, email, folder_key, m, unix_now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(uid: u32, received: Option<i64>) -> CachedMessage {
        CachedMessage {
            uid,
            folder: "INBOX".into(),
            message_id: None,
            from: None,
            subject: None,
            received,
            snippet: String::new(),
            code: Some("123456".into()),
            link: None,
            service: None,
            confidence: 1.0,
            candidates: Vec::new(),
        }
    }

    #[test]
    fn the_first_look_at_a_folder_finds_nothing_new() {
        assert!(!is_news(None, 7, &message(1, Some(i64::MAX))), "no baseline: whatever is there is old");
    }

    #[test]
    fn a_message_above_the_baseline_is_news_and_one_at_or_below_it_is_not() {
        let b = FolderState { uid_validity: 7, last_uid: 10, synced_at: 1_000 };
        assert!(is_news(Some(&b), 7, &message(11, Some(0))), "UID 11 came after 10, whatever its date says");
        assert!(!is_news(Some(&b), 7, &message(10, Some(2_000))), "UID 10 was already seen");
    }

    #[test]
    fn after_a_uidvalidity_change_the_arrival_time_decides() {
        let b = FolderState { uid_validity: 7, last_uid: 10, synced_at: 1_000 };
        assert!(is_news(Some(&b), 8, &message(1, Some(1_000))), "arrived at the last look");
        assert!(!is_news(Some(&b), 8, &message(50, Some(900))), "arrived before the last look");
        assert!(!is_news(Some(&b), 8, &message(50, None)), "no arrival time: not known to be new");
    }
}
