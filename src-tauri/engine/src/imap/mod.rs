//! IMAP over TLS: connecting, signing in, choosing folders and fetching messages by UID.
//!
//! An [`ImapSession`] is one signed-in connection. It remembers which folder is selected so
//! that a caller asking for the same folder again costs no SELECT, and it wraps every command
//! in the configured timeout so a dead peer never hangs a caller. Reuse, limits and health
//! checks are the [`crate::pool`]'s business, not this module's.

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
}

/// One message as fetched: its UID, arrival time and the raw RFC 5322 bytes.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// UID in the folder.
    pub uid: u32,
    /// INTERNALDATE in Unix seconds.
    pub internal_date: Option<i64>,
    /// The whole message.
    pub raw: Vec<u8>,
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
    idle: Option<bool>,
    created: Instant,
}

impl std::fmt::Debug for ImapSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapSession").field("endpoint", &self.endpoint).field("selected", &self.selected).finish()
    }
}

const FETCH_ITEMS: &str = "(UID INTERNALDATE BODY.PEEK[])";

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
            idle: None,
            created: Instant::now(),
        }
    }

    /// host:port of the server.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
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
            if let Some(sel) = self.selected.as_mut() {
                match r {
                    U::Exists(n) => sel.exists = n,
                    U::Expunge(_) => sel.exists = sel.exists.saturating_sub(1),
                    _ => {}
                }
            }
        }
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

    /// The newest `top` messages of `folder`, newest first.
    ///
    /// When the folder is already selected this is one FETCH: the range starts `top` below
    /// the last known message count and ends at `*`, so mail that arrived since is included
    /// without a new SELECT.
    ///
    /// # Errors
    /// Missing folder, connection errors.
    pub async fn fetch_newest(&mut self, folder: &str, top: usize) -> Result<(Selected, Vec<RawMessage>), ImapError> {
        let sel = self.select(folder).await?;
        if top == 0 {
            return Ok((sel, Vec::new()));
        }
        let mut msgs = if sel.exists > 0 {
            let first = sel.exists.saturating_sub(top as u32 - 1).max(1);
            self.fetch_range(false, &format!("{first}:*")).await?
        } else {
            // An empty folder has no sequence numbers; ask by UID from where it stood.
            let next = sel.uid_next.unwrap_or(1).max(1);
            self.fetch_range(true, &format!("{next}:*")).await?.into_iter().filter(|m| m.uid >= next).collect()
        };
        msgs.sort_by_key(|m| std::cmp::Reverse(m.uid));
        msgs.truncate(top);
        let sel = self.selected.clone().unwrap_or(sel);
        Ok((sel, msgs))
    }

    /// One message of `folder` by UID, whole; `None` if the folder has no such message.
    ///
    /// # Errors
    /// Missing folder, connection errors.
    pub async fn fetch_uid(&mut self, folder: &str, uid: u32) -> Result<Option<RawMessage>, ImapError> {
        self.select(folder).await?;
        Ok(self.fetch_range(true, &uid.to_string()).await?.into_iter().find(|m| m.uid == uid))
    }

    /// Messages of `folder` with a UID above `after_uid`, oldest first. Costs one UID FETCH
    /// when the folder is already selected.
    ///
    /// # Errors
    /// Missing folder, connection errors.
    pub async fn fetch_after(
        &mut self,
        folder: &str,
        after_uid: u32,
    ) -> Result<(Selected, Vec<RawMessage>), ImapError> {
        let sel = self.select(folder).await?;
        let range = format!("{}:*", after_uid.saturating_add(1));
        let mut msgs = self.fetch_range(true, &range).await?;
        // `N:*` always includes the highest message, even when its UID is below N.
        msgs.retain(|m| m.uid > after_uid);
        msgs.sort_by_key(|m| m.uid);
        Ok((sel, msgs))
    }

    async fn fetch_range(&mut self, by_uid: bool, range: &str) -> Result<Vec<RawMessage>, ImapError> {
        let phase = if by_uid { "running UID FETCH" } else { "running FETCH" };
        let inner = conn(&mut self.inner, &self.endpoint)?;
        let fetches: Vec<async_imap::types::Fetch> = timed!(self, phase, async {
            if by_uid {
                inner.uid_fetch(range, FETCH_ITEMS).await?.try_collect().await
            } else {
                inner.fetch(range, FETCH_ITEMS).await?.try_collect().await
            }
        })?;
        Ok(fetches
            .into_iter()
            .filter_map(|f| {
                let uid = f.uid?;
                Some(RawMessage {
                    uid,
                    internal_date: f.internal_date().map(|d| d.timestamp()),
                    raw: f.body().unwrap_or_default().to_vec(),
                })
            })
            .collect())
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

/// async-imap puts the server's whole response, debug-formatted, into `No`/`Bad`; keep the
/// human part (`[AUTHENTICATIONFAILED] Authentication failed.`).
pub(crate) fn server_words(raw: &str) -> String {
    if let Some(start) = raw.find("info: Some(\"") {
        let rest = &raw[start + 12..];
        if let Some(end) = rest.find("\")") {
            return rest[..end].replace("\\\"", "\"");
        }
    }
    raw.trim().to_string()
}

fn map_command_error(endpoint: &str, phase: &str, e: async_imap::error::Error) -> ImapError {
    use async_imap::error::Error as E;
    let endpoint = endpoint.to_string();
    let command = phase.trim_start_matches("running ").to_string();
    match e {
        E::Io(io) => ImapError::ConnectionLost { endpoint, reason: io.to_string() },
        E::ConnectionLost => ImapError::ConnectionLost { endpoint, reason: "the server closed the connection".into() },
        E::No(reason) | E::Bad(reason) => ImapError::Refused { endpoint, command, reason: server_words(&reason) },
        other => ImapError::ConnectionLost { endpoint, reason: format!("unreadable answer to {command}: {other}") },
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
}
