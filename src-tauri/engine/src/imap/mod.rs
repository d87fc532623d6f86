//! IMAP over TLS: connecting, signing in, choosing folders and fetching messages by UID.
//!
//! An [`ImapSession`] is one signed-in connection. It remembers which folder is selected so
//! that a caller asking for the same folder again costs no SELECT, and it wraps every command
//! in the configured timeout so a dead peer never hangs a caller. Reuse, limits and health
//! checks are the [`crate::pool`]'s business, not this module's.
//!
//! Mail is untrusted input, so no fetch downloads an unbounded amount of it: UIDs and sizes
//! come first (`RFC822.SIZE`, a few dozen bytes a message), then content in batches of at
//! most [`FetchLimits::batch`] messages and about [`FetchLimits::max_message_bytes`] bytes,
//! and a message larger than that only for its start (`BODY.PEEK[]<0.N>`: codes sit near the
//! top). Each batch is one or two commands, so a slow link costs a batch its command timeout,
//! not the whole backlog, and callers move their position after every batch.
//!
//! Server text that reaches an error (a NO's words, a response the parser could not read) is
//! cut to a short excerpt by [`excerpt`]: a parse error would otherwise carry the whole
//! receive buffer, mail content and codes included.

mod connect;
mod folders;

use std::time::Duration;

use futures::TryStreamExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

pub use connect::{Credential, TlsSetup, TlsSetupError, TlsStats, connect};
pub use folders::FolderSpec;
pub use idle::IdleEnd;

/// The transport under every session: TLS, either from the start or after STARTTLS.
pub type ImapStream = tokio_rustls::client::TlsStream<TcpStream>;

/// Why an IMAP operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// DNS, TCP connect, or the connection was refused.
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect {
        /// host:port.
        endpoint: String,
        /// What the system said.
        reason: String,
    },
    /// The account's proxy could not be used (down, refused the credentials, or could not
    /// reach the server). Nothing went direct.
    #[error("cannot connect to {endpoint}: {source}")]
    Proxy {
        /// host:port of the server.
        endpoint: String,
        /// What went wrong with the proxy; names the proxy's host, never its password.
        #[source]
        source: crate::net::NetError,
    },
    /// The TLS handshake failed (wrong port for the TLS mode, untrusted certificate, ...).
    #[error("cannot set up TLS with {endpoint}: {reason}")]
    Tls {
        /// host:port.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The server said no to the sign-in.
    #[error("cannot sign in to {endpoint} as {user}: the server refused ({reason})")]
    AuthFailed {
        /// host:port.
        endpoint: String,
        /// The user name (an address; never the secret).
        user: String,
        /// The server's words.
        reason: String,
    },
    /// The server refused because too many connections are open (`[LIMIT]`).
    #[error("cannot sign in to {endpoint} as {user}: the server allows no more connections ({reason})")]
    TooManyConnections {
        /// host:port.
        endpoint: String,
        /// The user name.
        user: String,
        /// The server's words.
        reason: String,
    },
    /// A step took longer than its timeout.
    #[error("timed out after {after:?} while {phase} with {endpoint}")]
    Timeout {
        /// host:port.
        endpoint: String,
        /// What was being done, e.g. "connecting", "running FETCH".
        phase: String,
        /// The timeout that ran out.
        after: Duration,
    },
    /// The folder does not exist on the server.
    #[error("cannot open folder {folder:?}: the server has no such folder")]
    NoSuchFolder {
        /// The folder asked for.
        folder: String,
    },
    /// The connection dropped or the server sent something we cannot read.
    #[error("lost the connection to {endpoint}: {reason}")]
    ConnectionLost {
        /// host:port.
        endpoint: String,
        /// What happened.
        reason: String,
    },
    /// The server asked to be left alone for a while: a NO or BAD saying "Request is
    /// throttled. Suggested Backoff Time: N milliseconds" (Outlook), or another throttle reply
    /// (`[THROTTLED]`, "throttled") that gives no time, which then gets `watch.throttleDefault`.
    #[error("{endpoint} is throttling this account ({reason}) and asked Mailwatch to wait {}", match backoff { Some(d) => format!("{} s before it tries again", d.as_secs_f64().ceil()), None => "before it tries again".to_string() })]
    Throttled {
        /// host:port.
        endpoint: String,
        /// The command refused ("sign-in" for a login).
        command: String,
        /// The time the server asked for, when it said.
        backoff: Option<Duration>,
        /// The server's words (as an [`excerpt`]).
        reason: String,
    },
    /// The server answered NO or BAD to a command.
    #[error("the server {endpoint} refused {command}: {reason}")]
    Refused {
        /// host:port.
        endpoint: String,
        /// The command.
        command: String,
        /// The server's words.
        reason: String,
    },
}

impl ImapError {
    /// Whether the connection itself is gone or unusable, so a new one may succeed where
    /// this one failed.
    pub fn is_connection_error(&self) -> bool {
        matches!(self, ImapError::ConnectionLost { .. } | ImapError::Timeout { .. })
    }

    /// For a throttle reply, the wait the server asked for (`Some(None)` when it gave none).
    pub fn throttle(&self) -> Option<Option<Duration>> {
        match self {
            ImapError::Throttled { backoff, .. } => Some(*backoff),
            _ => None,
        }
    }
}

/// One message as fetched: its UID, arrival time and the raw RFC 5322 bytes.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// UID in the folder.
    pub uid: u32,
    /// INTERNALDATE in Unix seconds.
    pub internal_date: Option<i64>,
    /// The message, or its first [`FetchLimits::max_message_bytes`] when it is larger
    /// (then `size` says how large it is).
    pub raw: Vec<u8>,
    /// The message's full size (`RFC822.SIZE`), when the server said.
    pub size: Option<u32>,
}

impl RawMessage {
    /// Whether `raw` is only the start of the message.
    pub fn is_partial(&self) -> bool {
        self.size.is_some_and(|s| s as usize > self.raw.len())
    }
}

/// How much one fetch may bring home (from `cache.fetchBatch` and `cache.maxMessageBytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Most messages whose content one batch asks for.
    pub batch: usize,
    /// A message larger than this is fetched for its first this many bytes; a batch stops
    /// taking messages once their sizes add up to this (it always takes one).
    pub max_message_bytes: usize,
}

impl FetchLimits {
    /// The limits in `cache`.
    pub fn new(cache: &crate::config::CacheConfig) -> Self {
        Self { batch: cache.fetch_batch.max(1), max_message_bytes: cache.max_message_bytes.max(1) }
    }

    fn cap(&self) -> u32 {
        u32::try_from(self.max_message_bytes).unwrap_or(u32::MAX)
    }

    /// The longest prefix of `sizes` (UID, size) that makes one batch.
    fn take<'a>(&self, sizes: &'a [(u32, u32)]) -> &'a [(u32, u32)] {
        let mut bytes = 0usize;
        let mut n = 0;
        for &(_, size) in sizes.iter().take(self.batch) {
            let size = size.min(self.cap()) as usize;
            if n > 0 && bytes + size > self.max_message_bytes {
                break;
            }
            bytes += size;
            n += 1;
        }
        &sizes[..n]
    }
}

/// One batch of new messages: see [`ImapSession::fetch_after`].
#[derive(Debug, Clone)]
pub struct Batch {
    /// The folder as SELECT (and what came since) left it.
    pub selected: Selected,
    /// The messages, oldest first.
    pub messages: Vec<RawMessage>,
    /// Whether messages above the last one here were left for the next batch.
    pub more: bool,
}

/// The selected folder and what SELECT said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// Folder name as the server spells it.
    pub name: String,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// UIDNEXT, when the server sent it.
    pub uid_next: Option<u32>,
    /// Messages in the folder.
    pub exists: u32,
}

/// A signed-in IMAP connection.
pub struct ImapSession {
    /// `None` only after an IDLE that could not be ended: the connection is then unusable.
    inner: Option<async_imap::Session<ImapStream>>,
    endpoint: String,
    command_timeout: Duration,
    selected: Option<Selected>,
    junk: Option<Option<String>>,
    /// What CAPABILITY said, once asked.
    caps: Option<Caps>,
    /// The folder a NOTIFY SET asked the server to report new mail in (see `notify.rs`), once
    /// it said OK; `Some("")` after it refused.
    notify: Option<String>,
    /// Folders the server reported a change in with an unasked STATUS (NOTIFY), since
    /// [`ImapSession::take_status_report`] last asked.
    status_reports: Vec<String>,
    /// The server reported more messages in the selected folder (an unasked EXISTS above the
    /// count known) since [`ImapSession::take_reported_arrivals`] last asked.
    arrivals: bool,
    created: Instant,
}

impl std::fmt::Debug for ImapSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapSession").field("endpoint", &self.endpoint).field("selected", &self.selected).finish()
    }
}

const SIZE_ITEMS: &str = "(UID RFC822.SIZE)";
const WHOLE_ITEMS: &str = "(UID RFC822.SIZE INTERNALDATE BODY.PEEK[])";

/// Runs one command under the session's timeout, then applies what the server sent
/// unasked. A macro rather than a method so the command's borrow of the connection and the
/// timeout's borrow of the endpoint can coexist.
macro_rules! timed {
    ($self:ident, $phase:expr, $fut:expr) => {{
        let r = $crate::imap::run_timed(&$self.endpoint, $self.command_timeout, $phase, $fut).await;
        $self.drain_unsolicited();
        r
    }};
}

mod idle;
mod notify;

use idle::Caps;

/// Remembers that the server reported a change in `folder` (once per folder).
fn note_status(reports: &mut Vec<String>, folder: String) {
    if !reports.contains(&folder) {
        reports.push(folder);
    }
}

async fn run_timed<T>(
    endpoint: &str,
    after: Duration,
    phase: &str,
    fut: impl Future<Output = async_imap::error::Result<T>>,
) -> Result<T, ImapError> {
    match timeout(after, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(map_command_error(endpoint, phase, e)),
        Err(_) => Err(ImapError::Timeout { endpoint: endpoint.to_string(), phase: phase.to_string(), after }),
    }
}

impl ImapSession {
    pub(crate) fn new(inner: async_imap::Session<ImapStream>, endpoint: String, command_timeout: Duration) -> Self {
        Self {
            inner: Some(inner),
            endpoint,
            command_timeout,
            selected: None,
            junk: None,
            caps: None,
            notify: None,
            status_reports: Vec::new(),
            arrivals: false,
            created: Instant::now(),
        }
    }

    /// host:port of the server.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether the connection can still take commands: false after an IDLE or DONE that
    /// failed, whatever the failure (a NO or BAD included), since IDLE took the connection
    /// and could not give it back. A holder must then close the session, not return it.
    pub fn is_usable(&self) -> bool {
        self.inner.is_some()
    }

    /// When the connection was made.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// The folder currently selected, if any.
    pub fn selected(&self) -> Option<&Selected> {
        self.selected.as_ref()
    }

    /// Applies the EXISTS and EXPUNGE counts the server sent along with other answers, so the
    /// selected folder's count stays current without a new SELECT. (The channel is bounded
    /// and drops what overflows, so it is drained after every command.)
    fn drain_unsolicited(&mut self) {
        use async_imap::types::UnsolicitedResponse as U;
        let Some(inner) = self.inner.as_mut() else { return };
        while let Ok(r) = inner.unsolicited_responses.try_recv() {
            match (r, self.selected.as_mut()) {
                (U::Exists(n), Some(sel)) => {
                    self.arrivals |= n > sel.exists;
                    sel.exists = n;
                }
                (U::Expunge(_), Some(sel)) => sel.exists = sel.exists.saturating_sub(1),
                (U::Status { mailbox, .. }, _) => note_status(&mut self.status_reports, mailbox),
                _ => {}
            }
        }
    }

    /// Whether the server reported new messages in the selected folder since the last call:
    /// an EXISTS it sent along with another command's answer. A server reports each arrival
    /// once, so mail reported that way while a poll ran will not be announced again by IDLE.
    pub fn take_reported_arrivals(&mut self) -> bool {
        std::mem::take(&mut self.arrivals)
    }

    /// NOOP: a health check, and a way to learn of new mail on the selected folder.
    ///
    /// # Errors
    /// The connection is gone or timed out.
    pub async fn noop(&mut self) -> Result<(), ImapError> {
        let inner = conn(&mut self.inner, &self.endpoint)?;
        timed!(self, "running NOOP", inner.noop())
    }

    /// Selects `folder` unless it is already selected.
    ///
    /// # Errors
    /// [`ImapError::NoSuchFolder`] for a missing folder; connection errors.
    pub async fn select(&mut self, folder: &str) -> Result<Selected, ImapError> {
        if let Some(sel) = &self.selected
            && sel.name == folder
        {
            return Ok(sel.clone());
        }
        self.reselect(folder).await
    }

    /// Selects `folder` even if it is already selected, to learn its current counts.
    ///
    /// # Errors
    /// As [`ImapSession::select`].
    pub async fn reselect(&mut self, folder: &str) -> Result<Selected, ImapError> {
        self.selected = None;
        let inner = conn(&mut self.inner, &self.endpoint)?;
        let mb = match timed!(self, "running SELECT", inner.select(folder)) {
            Ok(mb) => mb,
            Err(ImapError::Refused { reason, .. }) if looks_like_missing_folder(&reason) => {
                return Err(ImapError::NoSuchFolder { folder: folder.to_string() });
            }
            Err(e) => return Err(e),
        };
        let sel = Selected {
            name: folder.to_string(),
            uid_validity: mb.uid_validity.unwrap_or(0),
            uid_next: mb.uid_next,
            exists: mb.exists,
        };
        self.selected = Some(sel.clone());
        Ok(sel)
    }

    /// Resolves a folder spec to the server's folder name (finding the junk folder once per
    /// session, or on every call while the account has none).
    ///
    /// # Errors
    /// [`ImapError::NoSuchFolder`] when the account has no junk folder; connection errors.
    pub async fn resolve(&mut self, spec: &FolderSpec) -> Result<String, ImapError> {
        match spec {
            FolderSpec::Inbox => Ok("INBOX".to_string()),
            FolderSpec::Named(n) => Ok(n.clone()),
            FolderSpec::Junk => {
                // Only a found folder is remembered: a junk folder may be created later (by
                // the first message filed there), and a watch must then see it.
                if self.junk.as_ref().is_none_or(Option::is_none) {
                    let inner = conn(&mut self.inner, &self.endpoint)?;
                    let names: Vec<async_imap::types::Name> = timed!(self, "running LIST", async {
                        inner.list(Some(""), Some("*")).await?.try_collect().await
                    })?;
                    self.junk = Some(folders::find_junk(&names));
                }
                self.junk.clone().flatten().ok_or(ImapError::NoSuchFolder { folder: "junk".into() })
            }
        }
    }

    /// The newest `top` messages of `folder`, newest first, each within `limits` (content
    /// asked for in batches).
    ///
    /// When the folder is already selected the sizes are one FETCH: the range starts `top`
    /// below the last known message count and ends at `*`, so mail that arrived since is
    /// included without a new SELECT.
    ///
    /// # Errors
    /// Missing folder, connection errors.
    pub async fn fetch_newest(
        &mut self,
        folder: &str,
        top: usize,
        limits: FetchLimits,
    ) -> Result<(Selected, Vec<RawMessage>), ImapError> {
        let already = self.selected.as_ref().is_some_and(|s| s.name == folder);
        let mut sel = self.select(folder).await?;
        if already {
            // A folder selected earlier in this session shows the messages the server has told
            // it about: Dovecot reports mail delivered since only on NOOP, IDLE or SELECT, so a
            // listing asks first (one round trip) rather than show an inbox without its newest.
            self.noop().await?;
            sel = self.selected.clone().unwrap_or(sel);
        }
        if top == 0 {
            return Ok((sel, Vec::new()));
        }
        let mut sizes = if sel.exists > 0 {
            let first = sel.exists.saturating_sub(top as u32 - 1).max(1);
            self.fetch_sizes(false, &format!("{first}:*")).await?
        } else {
            // An empty folder has no sequence numbers; ask by UID from where it stood.
            let next = sel.uid_next.unwrap_or(1).max(1);
            self.fetch_sizes(true, &format!("{next}:*")).await?.into_iter().filter(|&(uid, _)| uid >= next).collect()
        };
        sizes.sort_by_key(|&(uid, _)| std::cmp::Reverse(uid));
        sizes.truncate(top);
        sizes.reverse();
        let mut msgs = Vec::with_capacity(sizes.len());
        let mut rest = &sizes[..];
        while !rest.is_empty() {
            let batch = limits.take(rest);
            msgs.extend(self.fetch_bodies(batch, limits).await?);
            rest = &rest[batch.len()..];
        }
        msgs.sort_by_key(|m| std::cmp::Reverse(m.uid));
        let sel = self.selected.clone().unwrap_or(sel);
        Ok((sel, msgs))
    }

    /// One message of `folder` by UID (its start only when larger than `limits` allow);
    /// `None` if the folder has no such message.
    ///
    /// # Errors
    /// Missing folder, connection errors.
    pub async fn fetch_uid(
        &mut self,
        folder: &str,
        uid: u32,
        limits: FetchLimits,
    ) -> Result<Option<RawMessage>, ImapError> {
        self.select(folder).await?;
        let sizes: Vec<(u32, u32)> =
            self.fetch_sizes(true, &uid.to_string()).await?.into_iter().filter(|&(u, _)| u == uid).collect();
        Ok(self.fetch_bodies(&sizes, limits).await?.into_iter().find(|m| m.uid == uid))
    }

    /// The oldest batch of messages of `folder` with a UID above `after_uid`, oldest first:
    /// at most `limits.batch` of them, about `limits.max_message_bytes` together, each
    /// within that size. [`Batch::more`] says whether newer ones wait for the next call,
    /// which the caller makes with the last UID it got, after moving its position there.
    /// Costs one UID FETCH when the folder is already selected and nothing is new.
    ///
    /// # Errors
    /// Missing folder, connection errors.
    pub async fn fetch_after(&mut self, folder: &str, after_uid: u32, limits: FetchLimits) -> Result<Batch, ImapError> {
        let sel = self.select(folder).await?;
        let range = format!("{}:*", after_uid.saturating_add(1));
        let mut sizes = self.fetch_sizes(true, &range).await?;
        // `N:*` always includes the highest message, even when its UID is below N.
        sizes.retain(|&(uid, _)| uid > after_uid);
        sizes.sort_by_key(|&(uid, _)| uid);
        let batch = limits.take(&sizes);
        let more = batch.len() < sizes.len();
        let mut messages = self.fetch_bodies(batch, limits).await?;
        messages.sort_by_key(|m| m.uid);
        Ok(Batch { selected: sel, messages, more })
    }

    /// UID and RFC822.SIZE of the messages in `range`: no content.
    async fn fetch_sizes(&mut self, by_uid: bool, range: &str) -> Result<Vec<(u32, u32)>, ImapError> {
        let fetches = self.fetch_items(by_uid, range, SIZE_ITEMS).await?;
        // A size the server did not give counts as too large: only the start is asked for.
        Ok(fetches.iter().filter_map(|f| Some((f.uid?, f.size.unwrap_or(u32::MAX)))).collect())
    }

    /// The content of the messages in `sizes` (UID, size): whole when within `limits`, the
    /// start otherwise. One UID FETCH for each kind present.
    async fn fetch_bodies(&mut self, sizes: &[(u32, u32)], limits: FetchLimits) -> Result<Vec<RawMessage>, ImapError> {
        let cap = limits.cap();
        let (whole, large): (Vec<_>, Vec<_>) = sizes.iter().partition(|&&(_, size)| size <= cap);
        let set = |v: &[&(u32, u32)]| v.iter().map(|(uid, _)| uid.to_string()).collect::<Vec<_>>().join(",");
        let mut out = Vec::with_capacity(sizes.len());
        for (part, items) in
            [(whole, WHOLE_ITEMS.to_string()), (large, format!("(UID RFC822.SIZE INTERNALDATE BODY.PEEK[]<0.{cap}>)"))]
        {
            if part.is_empty() {
                continue;
            }
            let fetches = self.fetch_items(true, &set(&part), &items).await?;
            out.extend(fetches.into_iter().filter_map(|f| {
                let uid = f.uid?;
                let mut raw = f.body().unwrap_or_default().to_vec();
                // A server that ignores the partial range is still kept to the cap.
                raw.truncate(limits.max_message_bytes);
                Some(RawMessage { uid, internal_date: f.internal_date().map(|d| d.timestamp()), raw, size: f.size })
            }));
        }
        Ok(out)
    }

    async fn fetch_items(
        &mut self,
        by_uid: bool,
        range: &str,
        items: &str,
    ) -> Result<Vec<async_imap::types::Fetch>, ImapError> {
        let phase = if by_uid { "running UID FETCH" } else { "running FETCH" };
        let inner = conn(&mut self.inner, &self.endpoint)?;
        timed!(self, phase, async {
            if by_uid {
                inner.uid_fetch(range, items).await?.try_collect().await
            } else {
                inner.fetch(range, items).await?.try_collect().await
            }
        })
    }

    /// Appends a message (used by tests and benchmarks to deliver mail).
    ///
    /// # Errors
    /// Connection errors, or the server refused.
    pub async fn append(&mut self, folder: &str, raw: &[u8]) -> Result<(), ImapError> {
        let inner = conn(&mut self.inner, &self.endpoint)?;
        timed!(self, "running APPEND", inner.append(folder, None, None, raw))
    }

    /// UIDNEXT and UIDVALIDITY of a folder that need not be selected (STATUS): one round
    /// trip, and the selected folder stays selected. Used to poll the junk folder while the
    /// inbox is watched.
    ///
    /// # Errors
    /// [`ImapError::NoSuchFolder`] for a missing folder; connection errors.
    pub async fn status(&mut self, folder: &str) -> Result<(Option<u32>, u32), ImapError> {
        let inner = conn(&mut self.inner, &self.endpoint)?;
        match timed!(self, "running STATUS", inner.status(folder, "(UIDNEXT UIDVALIDITY)")) {
            Ok(mb) => Ok((mb.uid_next, mb.uid_validity.unwrap_or(0))),
            Err(ImapError::Refused { reason, .. }) if looks_like_missing_folder(&reason) => {
                Err(ImapError::NoSuchFolder { folder: folder.to_string() })
            }
            Err(e) => Err(e),
        }
    }

    /// Says goodbye politely, bounded by the command timeout; errors are ignored because the
    /// connection is being dropped anyway.
    ///
    /// After the server's OK it waits (up to `drain`, `pool.logoutTimeout`) for the server
    /// to close the connection, so a caller that counts open sessions (the pool's global
    /// limit) frees the slot only once the server has let go of it too.
    pub async fn logout(mut self, drain: Duration) {
        let Ok(inner) = conn(&mut self.inner, &self.endpoint) else { return };
        if timed!(self, "running LOGOUT", inner.logout()).is_err() {
            return;
        }
        let Some(inner) = self.inner.as_mut() else { return };
        let _ = timeout(drain, async { while let Ok(Some(_)) = inner.read_response().await {} }).await;
    }
}

/// The connection, or the error a command gets on a connection lost during IDLE. A free
/// function so it borrows only the connection field.
fn conn<'a>(
    inner: &'a mut Option<async_imap::Session<ImapStream>>,
    endpoint: &str,
) -> Result<&'a mut async_imap::Session<ImapStream>, ImapError> {
    inner.as_mut().ok_or_else(|| ImapError::ConnectionLost {
        endpoint: endpoint.to_string(),
        reason: "the connection was lost during IDLE".into(),
    })
}

fn looks_like_missing_folder(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("nonexistent")
        || r.contains("doesn't exist")
        || r.contains("does not exist")
        || r.contains("not found")
        || r.contains("unknown mailbox")
}

/// Most characters of server text an error carries.
const EXCERPT_CHARS: usize = 80;

/// Server text made fit for an error message, a log line or a UI: its first line, printable
/// characters only, every run of four or more digits masked (a code is most often one), and
/// at most [`EXCERPT_CHARS`] characters. Enough to tell a `[LIMIT]` from a missing folder,
/// never a message's content.
pub fn excerpt(text: &str) -> String {
    let mut lines = text.trim().lines();
    let chars: Vec<char> = lines.next().unwrap_or("").chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut masked = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run >= 4 {
            masked.extend(std::iter::repeat_n('#', run));
            i += run;
        } else {
            masked.push(chars[i]);
            i += 1;
        }
    }
    let masked = masked.trim_end();
    if masked.chars().count() > EXCERPT_CHARS || lines.next().is_some() {
        let mut cut: String = masked.chars().take(EXCERPT_CHARS).collect();
        cut.push('…');
        return cut;
    }
    masked.to_string()
}

/// async-imap puts the server's whole response, debug-formatted, into `No`/`Bad`; keep the
/// human part (`[AUTHENTICATIONFAILED] Authentication failed.`), as an [`excerpt`].
pub(crate) fn server_words(raw: &str) -> String {
    if let Some(start) = raw.find("info: Some(\"") {
        let rest = &raw[start + 12..];
        if let Some(end) = rest.find("\")") {
            return excerpt(&rest[..end].replace("\\\"", "\""));
        }
    }
    excerpt(raw)
}

/// What an I/O error from the connection says. async-imap reports a response it cannot
/// parse as an I/O error holding the whole receive buffer; that becomes its size.
pub(crate) fn describe_io(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" during parsing of ") {
        Some(at) => format!("a response that cannot be parsed ({} bytes)", text.len() - at - 19),
        None => excerpt(&text),
    }
}

/// What an async-imap error says, without the server data some of them carry whole: a
/// parse error's receive buffer or unexpected response (a FETCH's literal, that is a
/// message, codes and all) is reduced to what kind of thing it was and its size.
pub(crate) fn describe(e: &async_imap::error::Error) -> String {
    use async_imap::error::{Error as E, ParseError as P};
    match e {
        E::Io(io) => format!("io: {}", describe_io(io)),
        E::Bad(raw) => format!("bad response: {}", server_words(raw)),
        E::No(raw) => format!("no response: {}", server_words(raw)),
        E::ConnectionLost => "connection lost".into(),
        E::Parse(P::Invalid(buf)) => format!("a response that cannot be parsed ({} bytes)", buf.len()),
        E::Parse(P::Unexpected(what)) => {
            // The response's debug form; its leading name says what kind it was.
            let kind: String = what.chars().take_while(|c| c.is_ascii_alphanumeric()).take(40).collect();
            format!("an unexpected {} response ({} bytes)", if kind.is_empty() { "kind of" } else { &kind }, what.len())
        }
        E::Parse(P::DataNotUtf8(buf, _)) => format!("a response that is not UTF-8 ({} bytes)", buf.len()),
        E::Parse(P::Authentication(..)) => "an authentication challenge that cannot be read".into(),
        E::Parse(P::ExpectedResponseNotFound(what)) => format!("no expected response for {}", excerpt(what)),
        E::Validate(v) => format!("validate: {v}"),
        E::Append => "could not append mail to mailbox".into(),
        other => excerpt(&other.to_string()),
    }
}

/// Whether a NO or BAD is a throttle reply, and the wait it asks for: Outlook's "Request is
/// throttled. Suggested Backoff Time: 29000 milliseconds" (read before [`excerpt`] masks the
/// digits), Gmail's `[THROTTLED]` code, or any reply that says it throttles without a time
/// (`Some(None)`). `None` for any other refusal.
pub(crate) fn throttle_backoff(raw: &str) -> Option<Option<Duration>> {
    let lower = raw.to_ascii_lowercase();
    if let Some(at) = lower.find("backoff time:") {
        let rest = lower[at + 13..].trim_start();
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<u64>() {
            let unit = rest[digits.len()..].trim_start();
            let backoff = if unit.starts_with("ms") || unit.starts_with("milli") {
                Duration::from_millis(n)
            } else if unit.starts_with('s') {
                Duration::from_secs(n)
            } else {
                // Outlook gives milliseconds; a bare number is taken as such.
                Duration::from_millis(n)
            };
            return Some(Some(backoff));
        }
        return Some(None);
    }
    (lower.contains("[throttled]") || lower.contains("throttled") || lower.contains("throttling")).then_some(None)
}

/// A NO or BAD's words as the error for it: [`ImapError::Throttled`] for a throttle reply,
/// `other` otherwise.
pub(crate) fn refusal(
    endpoint: String,
    command: String,
    raw: &str,
    other: impl FnOnce(String, String, String) -> ImapError,
) -> ImapError {
    let reason = server_words(raw);
    match throttle_backoff(raw) {
        Some(backoff) => ImapError::Throttled { endpoint, command, backoff, reason },
        None => other(endpoint, command, reason),
    }
}

fn map_command_error(endpoint: &str, phase: &str, e: async_imap::error::Error) -> ImapError {
    use async_imap::error::Error as E;
    let endpoint = endpoint.to_string();
    let command = phase.trim_start_matches("running ").to_string();
    match e {
        E::Io(io) => ImapError::ConnectionLost { endpoint, reason: describe_io(&io) },
        E::ConnectionLost => ImapError::ConnectionLost { endpoint, reason: "the server closed the connection".into() },
        E::No(raw) | E::Bad(raw) => refusal(endpoint, command, &raw, |endpoint, command, reason| ImapError::Refused {
            endpoint,
            command,
            reason,
        }),
        other => ImapError::ConnectionLost {
            endpoint,
            reason: format!("unreadable answer to {command}: {}", describe(&other)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_words_keep_the_human_part_of_a_refusal() {
        let raw = r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#;
        assert_eq!(server_words(raw), "[AUTHENTICATIONFAILED] Authentication failed.");
        assert_eq!(server_words(" plain text "), "plain text");
    }

    #[test]
    fn server_text_in_errors_is_one_short_line_without_codes() {
        let long = format!("Your code is 482913. {}", "blah ".repeat(200));
        let e = excerpt(&long);
        assert!(!e.contains("482913"), "a code never reaches an error: {e}");
        assert!(e.starts_with("Your code is ######."), "{e}");
        assert!(e.chars().count() <= EXCERPT_CHARS + 1, "cut to the excerpt's length: {} chars", e.chars().count());
        let two = excerpt("first line\r\nSubject: secret\r\n");
        assert_eq!(two, "first line…", "only the first line, marked as cut");
        assert_eq!(excerpt("limit=10 [LIMIT]\u{7}"), "limit=10 [LIMIT]", "short numbers and codes in brackets stay");
    }

    #[test]
    fn throttle_replies_are_told_apart_and_their_backoff_read_before_the_digits_are_masked() {
        use async_imap::error::Error;
        let outlook = r#"code: None, info: Some("Request is throttled. Suggested Backoff Time: 29000 milliseconds")"#;
        let e = map_command_error("outlook.office365.com:993", "running UID FETCH", Error::No(outlook.into()));
        assert_eq!(e.throttle(), Some(Some(Duration::from_millis(29_000))), "{e:?}");
        assert_eq!(
            e.to_string(),
            "outlook.office365.com:993 is throttling this account (Request is throttled. Suggested Backoff Time: ##### milliseconds) and asked Mailwatch to wait 29 s before it tries again"
        );
        let bad = map_command_error(
            "h:993",
            "running SELECT",
            Error::Bad("Request is throttled. Suggested Backoff Time: 89117 milliseconds".into()),
        );
        assert_eq!(bad.throttle(), Some(Some(Duration::from_millis(89_117))), "BAD is a throttle reply too");
        assert_eq!(throttle_backoff("[THROTTLED] Account exceeded command or bandwidth limits"), Some(None));
        assert_eq!(throttle_backoff("Suggested backoff time: 5 seconds"), Some(Some(Duration::from_secs(5))));
        let other =
            map_command_error("h:993", "running SELECT", Error::No("[NONEXISTENT] Mailbox doesn't exist: Junk".into()));
        assert_eq!(other.throttle(), None, "an ordinary refusal is no throttle: {other:?}");
    }

    #[test]
    fn a_parse_error_is_described_without_the_receive_buffer() {
        use async_imap::error::{Error, ParseError};
        let buffer = b"* 1 FETCH (UID 7 BODY[] {60}\r\nSubject: Your code\r\n\r\nYour code is 482913\r\n)".to_vec();
        let unexpected =
            format!("Fetch(1, [Uid(7), BodySection {{ data: Some({:?}) }}])", String::from_utf8_lossy(&buffer));
        let io = std::io::Error::other(format!(
            "{:?} during parsing of {:?}",
            "Error { input: [42], code: Tag }",
            String::from_utf8_lossy(&buffer)
        ));
        for e in [
            Error::Parse(ParseError::Invalid(buffer.clone())),
            Error::Parse(ParseError::Unexpected(unexpected)),
            Error::Io(io),
        ] {
            let said = describe(&e);
            let err = map_command_error("127.0.0.1:993", "running UID FETCH", e);
            let shown = err.to_string();
            for text in [&said, &shown] {
                for secret in ["482913", "Subject", "Your code"] {
                    assert!(!text.contains(secret), "{secret:?} leaked into the error: {text}");
                }
            }
            assert!(
                shown.contains("cannot be parsed (") || shown.contains("an unexpected Fetch response ("),
                "the error says what kind of answer it was, and its size: {shown}"
            );
        }
        let said = describe(&Error::Parse(ParseError::Unexpected("Fetch(1, [Uid(7)])".into())));
        assert_eq!(said, "an unexpected Fetch response (18 bytes)");
    }
}
