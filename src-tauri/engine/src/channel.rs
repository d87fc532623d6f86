//! Which way an account's mail is read, IMAP or Microsoft Graph, and reading it through
//! Graph with the same results as IMAP.
//!
//! **The route.** An account on `imap` or `graph` uses that. An Outlook OAuth2 account on
//! `auto` uses IMAP and moves to Graph when IMAP refuses it in a way Graph cures
//! ([`cured_by_graph`]: "User is authenticated but not connected", IMAP turned off for the
//! mailbox, a token whose granted scopes read mail but not over IMAP, or the provider refusing
//! IMAP's scope). The channel that worked is stored with the account ([`Channels::fall_back`],
//! [`Channels::imap_worked`]), so the next start goes straight to it, and IMAP is tried again
//! once `graph.imapRecheck` has passed since it last failed. A scope Graph refuses for an
//! `auto` account is tried on IMAP once (the engine's routing does that).
//!
//! **Same results.** Graph's messages go into the same cache as IMAP's, under the same folder
//! keys, through the same extraction on the same bytes (`$value` is the MIME an IMAP `BODY[]`
//! gives). Graph's ids are opaque strings, so the cache gives them UIDs of its own in the order
//! they were first seen, in a UIDVALIDITY of their own ([`GRAPH_VALIDITY`]): moving between
//! IMAP and Graph is, to the cache, a UIDVALIDITY change. A listing brings old messages with
//! fresh UIDs, so a code in a listing is news only if it also arrived after the folder's last
//! look; a delta round brings only what is new since the last round, so its codes are news.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt as _;

use crate::account::{Account, AccountStatus, Channel};
use crate::clock::unix_now;
use crate::config::Config;
use crate::error::EngineError;
use crate::graph::{Graph, GraphError, GraphFolder, GraphStats};
use crate::imap::{FolderSpec, ImapError, RawMessage, Selected};
use crate::intake::{Intake, Saved};
use crate::net::Proxy;
use crate::oauth::OAuthError;
use crate::secrets::Secret;
use crate::signin::{Purpose, SignIn};
use crate::store::{CachedMessage, Store};

/// The UIDVALIDITY of the UIDs the cache gives Graph's messages ("GRAP"); IMAP servers use
/// small numbers or timestamps, never this one in practice.
pub(crate) const GRAPH_VALIDITY: u32 = 0x4752_4150;

/// How one operation on an account goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Over IMAP; `auto` says the account may move to Graph.
    Imap {
        /// The account's channel is `auto` and Graph can read it.
        auto: bool,
    },
    /// Through Microsoft Graph.
    Graph {
        /// The account's channel is `auto` (it may go back to IMAP once).
        auto: bool,
    },
}

/// Whether an IMAP failure is one Graph cures: the mailbox is not served over IMAP, or the
/// token is not for IMAP.
pub(crate) fn cured_by_graph(e: &EngineError) -> bool {
    match e {
        EngineError::Watch { source, .. } => cured_by_graph(source),
        EngineError::Imap(ImapError::AuthFailed { .. }) => {
            let text = e.to_string().to_ascii_lowercase();
            text.contains("not connected") || text.contains("disabled") || text.contains("not enabled")
        }
        EngineError::OAuth(OAuthError::ChannelScopeRefused { channel, .. }) => *channel == "IMAP",
        _ => false,
    }
}

/// Whether a Graph failure is one IMAP may cure: Graph's scope refused, or the mailbox
/// refused by Graph.
pub(crate) fn cured_by_imap(e: &EngineError) -> bool {
    match e {
        EngineError::Watch { source, .. } => cured_by_imap(source),
        EngineError::OAuth(OAuthError::ChannelScopeRefused { channel, .. }) => *channel != "IMAP",
        EngineError::Graph(GraphError::Refused { .. }) => true,
        _ => false,
    }
}

/// A watch's place in each folder's delta rounds.
#[derive(Debug, Default)]
pub(crate) struct DeltaLinks {
    links: HashMap<String, String>,
}

/// Routes accounts and reads them through Graph.
pub(crate) struct Channels {
    signin: Arc<SignIn>,
    graph: Graph,
    intake: Intake,
    store: Store,
    config: Config,
}

impl Channels {
    pub(crate) fn new(signin: Arc<SignIn>, graph: Graph, intake: Intake, store: Store, config: Config) -> Self {
        Self { signin, graph, intake, store, config }
    }

    /// Graph's counters.
    pub(crate) fn stats(&self) -> GraphStats {
        self.graph.stats()
    }

    async fn account(&self, email: &str) -> Result<Account, EngineError> {
        let e = email.to_string();
        self.store
            .call(move |s| s.account(&e))
            .await?
            .ok_or_else(|| EngineError::UnknownAccount { email: email.into() })
    }

    /// How the account's mail is read now (see the module docs).
    ///
    /// # Errors
    /// Unknown account; the cache cannot be read.
    pub(crate) async fn route(&self, email: &str) -> Result<Route, EngineError> {
        Ok(self.route_for(&self.account(email).await?))
    }

    pub(crate) fn route_for(&self, a: &Account) -> Route {
        if a.graph_scope().is_none() {
            return Route::Imap { auto: false };
        }
        match a.channel {
            Channel::Imap => Route::Imap { auto: false },
            Channel::Graph => Route::Graph { auto: false },
            Channel::Auto => {
                let recheck = self.config.graph.imap_recheck.as_secs() as i64;
                let due = a.imap_checked_at.is_none_or(|t| unix_now() - t >= recheck);
                if a.channel_in_use == Some(Channel::Graph) && !due {
                    Route::Graph { auto: true }
                } else {
                    Route::Imap { auto: true }
                }
            }
        }
    }

    /// Moves an `auto` account to Graph when `cause` is an IMAP failure Graph cures; returns
    /// whether it did. The account's status says why, in the provider's words.
    pub(crate) async fn fall_back(&self, email: &str, cause: &EngineError) -> bool {
        if !cured_by_graph(cause) {
            return false;
        }
        let Ok(account) = self.account(email).await else { return false };
        if self.route_for(&account) != (Route::Imap { auto: true }) {
            return false;
        }
        let e = email.to_string();
        if self.store.call(move |s| s.set_channel_in_use(&e, Channel::Graph, Some(unix_now()))).await.is_err() {
            return false;
        }
        let sentence = format!("reading through Microsoft Graph, because IMAP refused it: {cause}");
        tracing::info!(email = %email, "{sentence}");
        self.signin.set_status(email, AccountStatus::Ok, Some(sentence)).await;
        true
    }

    /// Records that IMAP worked for an account on `auto`, when that is news.
    pub(crate) async fn imap_worked(&self, email: &str) {
        let Ok(account) = self.account(email).await else { return };
        if account.channel == Channel::Auto
            && account.graph_scope().is_some()
            && account.channel_in_use != Some(Channel::Imap)
        {
            let e = email.to_string();
            let _ = self.store.call(move |s| s.set_channel_in_use(&e, Channel::Imap, Some(unix_now()))).await;
            if account.channel_in_use == Some(Channel::Graph) {
                self.signin.set_status(email, AccountStatus::Ok, None).await;
            }
        }
    }

    /// Sends an `auto` account back to IMAP (Graph refused it); IMAP's last try stays as it
    /// was.
    pub(crate) async fn back_to_imap(&self, email: &str) {
        let e = email.to_string();
        let _ = self.store.call(move |s| s.set_channel_in_use(&e, Channel::Imap, None)).await;
    }

    /// Records that Graph worked for an account on `auto` (after IMAP's scope was refused).
    pub(crate) async fn graph_worked(&self, email: &str) {
        let e = email.to_string();
        let _ = self.store.call(move |s| s.set_channel_in_use(&e, Channel::Graph, None)).await;
    }

    /// Runs `op` with a Graph access token for the account; a token Graph refuses is
    /// replaced once.
    async fn with_token<T, F, Fut>(&self, email: &str, op: F) -> Result<T, EngineError>
    where
        F: Fn(Account, Option<Proxy>, Secret) -> Fut,
        Fut: std::future::Future<Output = Result<T, GraphError>>,
    {
        let client = self.signin.client(email).await?;
        let token = self.signin.access_token_for(&client, Purpose::Graph, None, false).await?;
        match op(client.account.clone(), client.proxy.clone(), token.clone()).await {
            Err(e) if e.token_refused() => {
                let fresh = self.signin.access_token_for(&client, Purpose::Graph, Some(&token), false).await?;
                Ok(op(client.account.clone(), client.proxy.clone(), fresh).await?)
            }
            other => Ok(other?),
        }
    }

    /// Reads messages whole, a few at a time (`graph.maxPerAccount` caps them anyway).
    async fn read(&self, email: &str, found: &[(u32, Option<i64>, String)]) -> Result<Vec<RawMessage>, EngineError> {
        let max = self.config.cache.max_message_bytes;
        let per_account = self.config.graph.max_per_account.max(1);
        let reads = futures::stream::iter(found.iter().cloned())
            .map(|(uid, received, id)| async move {
                let raw = self
                    .with_token(email, |a, p, t| {
                        let id = id.clone();
                        async move { self.graph.raw(&a, p.as_ref(), &t, &id, max).await }
                    })
                    .await;
                match raw {
                    Ok(raw) => Ok(Some(RawMessage { uid, internal_date: received, raw, size: None })),
                    // Deleted since it was listed: as IMAP, it is simply not there.
                    Err(EngineError::Graph(GraphError::NotFound { .. })) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffered(per_account)
            .collect::<Vec<_>>()
            .await;
        reads.into_iter().filter_map(Result::transpose).collect()
    }

    /// The cache's UIDs for ids given oldest first.
    async fn uids(&self, email: &str, key: &str, ids: Vec<String>) -> Result<Vec<u32>, EngineError> {
        let (e, k) = (email.to_string(), key.to_string());
        Ok(self.store.call(move |s| s.graph_uids(&e, &k, &ids)).await?)
    }

    /// Checks that Graph reads the account: one listing of one message of its inbox.
    ///
    /// # Errors
    /// Sign-in or Graph failures.
    pub(crate) async fn check(&self, email: &str) -> Result<(), EngineError> {
        self.with_token(
            email,
            |a, p, t| async move { self.graph.newest(&a, p.as_ref(), &t, GraphFolder::Inbox, 1).await },
        )
        .await?;
        Ok(())
    }

    /// The newest `top` messages of a folder through Graph, saved like an IMAP fetch's,
    /// newest first.
    ///
    /// # Errors
    /// A folder Graph has no well-known name for; sign-in, Graph or cache failures.
    pub(crate) async fn fetch_newest(
        &self,
        email: &str,
        folder: &FolderSpec,
        top: usize,
    ) -> Result<Vec<CachedMessage>, EngineError> {
        let gf = graph_folder(folder)?;
        let key = folder.to_string();
        let mut listed = self
            .with_token(email, |a, p, t| async move { self.graph.newest(&a, p.as_ref(), &t, gf, top).await })
            .await?;
        listed.reverse();
        let uids = self.uids(email, &key, listed.iter().map(|m| m.id.clone()).collect()).await?;
        let found: Vec<_> = uids.into_iter().zip(listed).map(|(uid, m)| (uid, m.received, m.id)).collect();
        let raws = self.read(email, &found).await?;
        let baseline = self.intake.baseline(email, &key).await?;
        let slack = self.config.watch.arrival_slack.as_secs() as i64;
        let not_before = baseline.map_or(i64::MAX, |b| b.synced_at - slack);
        let mut messages =
            self.intake.save_arrived(email, &key, &selected(gf, raws.len()), raws, Some(not_before)).await?.messages;
        messages.sort_by_key(|m| std::cmp::Reverse(m.uid));
        Ok(messages)
    }

    /// One message's MIME through Graph, by the UID the cache gave it.
    ///
    /// # Errors
    /// [`EngineError::MessageGone`] when the cache never listed it or Graph no longer has
    /// it; sign-in, Graph or cache failures.
    pub(crate) async fn message(&self, email: &str, folder: &FolderSpec, uid: u32) -> Result<Vec<u8>, EngineError> {
        let (e, k) = (email.to_string(), folder.to_string());
        let gone = || EngineError::MessageGone { email: email.into(), folder: folder.to_string(), uid };
        let Some(id) = self.store.call(move |s| s.graph_id(&e, &k, uid)).await? else { return Err(gone()) };
        let max = self.config.cache.max_message_bytes;
        let id = &id;
        match self.with_token(email, |a, p, t| async move { self.graph.raw(&a, p.as_ref(), &t, id, max).await }).await {
            Err(EngineError::Graph(GraphError::NotFound { .. })) => Err(gone()),
            other => other,
        }
    }

    /// One look at a folder for a watch: its first look takes the baseline (a first delta
    /// round; what is there is old), later looks bring what the delta link says is new,
    /// saved and announced like an IMAP poll's.
    ///
    /// # Errors
    /// Sign-in, Graph or cache failures; an expired delta link starts a new baseline.
    pub(crate) async fn look(
        &self,
        email: &str,
        folder: &FolderSpec,
        links: &mut DeltaLinks,
    ) -> Result<Saved, EngineError> {
        let gf = graph_folder(folder)?;
        let key = folder.to_string();
        let link = links.links.get(&key).cloned();
        let round = match self
            .with_token(email, |a, p, t| {
                let link = link.clone();
                async move { self.graph.delta(&a, p.as_ref(), &t, gf, link.as_deref()).await }
            })
            .await
        {
            Err(EngineError::Graph(GraphError::DeltaExpired { .. })) => {
                links.links.remove(&key);
                return Ok(Saved { messages: Vec::new(), news: Vec::new() });
            }
            other => other?,
        };
        links.links.insert(key.clone(), round.delta_link);
        if link.is_none() {
            // The baseline: everything listed is old, and UIDs given from now on are new.
            let (e, k) = (email.to_string(), key.clone());
            let last = self.store.call(move |s| s.graph_last_uid(&e, &k)).await?;
            self.intake.set_baseline(email, &key, GRAPH_VALIDITY, last).await?;
            return Ok(Saved { messages: Vec::new(), news: Vec::new() });
        }
        if round.added.is_empty() {
            return Ok(Saved { messages: Vec::new(), news: Vec::new() });
        }
        let uids = self.uids(email, &key, round.added.iter().map(|m| m.id.clone()).collect()).await?;
        let found: Vec<_> = uids.into_iter().zip(round.added).map(|(uid, m)| (uid, m.received, m.id)).collect();
        let raws = self.read(email, &found).await?;
        self.intake.save(email, &key, &selected(gf, raws.len()), raws).await
    }
}

/// Graph's well-known folder for a folder spec.
fn graph_folder(folder: &FolderSpec) -> Result<GraphFolder, EngineError> {
    match folder {
        FolderSpec::Inbox => Ok(GraphFolder::Inbox),
        FolderSpec::Junk => Ok(GraphFolder::Junk),
        FolderSpec::Named(name) if name.eq_ignore_ascii_case("inbox") => Ok(GraphFolder::Inbox),
        FolderSpec::Named(name) => Err(ImapError::NoSuchFolder { folder: name.clone() }.into()),
    }
}

fn selected(gf: GraphFolder, exists: usize) -> Selected {
    Selected {
        name: gf.as_str().to_string(),
        uid_validity: GRAPH_VALIDITY,
        uid_next: None,
        exists: u32::try_from(exists).unwrap_or(u32::MAX),
    }
}
