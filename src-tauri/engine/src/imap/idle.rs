//! IMAP IDLE (RFC 2177) on the selected folder: the server tells us when mail arrives, so a
//! waiting user learns of a code one server notification after it lands, not one poll
//! interval later.
//!
//! async-imap's `Session::idle()` consumes the session. [`ImapSession::idle`] takes the
//! connection out, idles, sends DONE and puts it back, so callers keep one `ImapSession`
//! (and the pool keeps one checked-out session) across IDLE rounds. Two async-imap traits are
//! covered here: an EOF during IDLE comes back as `ManualInterrupt`, which this module
//! turns into [`ImapError::ConnectionLost`] unless the caller asked for the interrupt; and
//! its own timeout is reset by every `* OK Still here`, so the renewal deadline is kept here.

use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, Response};
use tokio::time::timeout;

use super::{ImapError, ImapSession, map_command_error};

/// The server capabilities Mailwatch looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Caps {
    /// IDLE (RFC 2177).
    pub idle: bool,
    /// NOTIFY (RFC 5465).
    pub notify: bool,
}

/// Why an IDLE round ended with the connection still usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEnd {
    /// The server sent something (EXISTS, EXPUNGE, FETCH): look at the folder.
    Changed,
    /// The renewal deadline passed; IDLE should be issued again.
    Renew,
    /// The caller's interrupt fired (someone else needs the session, or shutdown).
    Interrupted,
}

impl ImapSession {
    /// Whether the server advertises IDLE. Asks CAPABILITY once per session.
    ///
    /// # Errors
    /// Connection errors.
    pub async fn supports_idle(&mut self) -> Result<bool, ImapError> {
        Ok(self.caps().await?.idle)
    }

    /// The capabilities Mailwatch uses, asked for once per session.
    pub(super) async fn caps(&mut self) -> Result<Caps, ImapError> {
        if let Some(known) = self.caps {
            return Ok(known);
        }
        let inner = super::conn(&mut self.inner, &self.endpoint)?;
        let caps = timed!(self, "running CAPABILITY", inner.capabilities())?;
        let known = Caps { idle: caps.has_str("IDLE"), notify: caps.has_str("NOTIFY") };
        self.caps = Some(known);
        Ok(known)
    }

    /// IDLEs on the selected folder until the server reports a change, `renew_after` passes,
    /// or `interrupt` completes; then sends DONE. IDLE, DONE and its answer each run under the
    /// command timeout. A server silent for `grace` past `renew_after` is taken as gone.
    ///
    /// # Errors
    /// [`ImapError::ConnectionLost`] when the server closed the connection during IDLE (an
    /// EOF), or any error of IDLE or DONE, a NO or BAD reply included. After an error the
    /// session is unusable ([`ImapSession::is_usable`] is false, every later command fails
    /// with `ConnectionLost`), so the caller must mark it broken rather than return it.
    pub async fn idle(
        &mut self,
        renew_after: Duration,
        grace: Duration,
        interrupt: impl Future<Output = ()>,
    ) -> Result<IdleEnd, ImapError> {
        super::conn(&mut self.inner, &self.endpoint)?;
        let session = self.inner.take().expect("checked just above");
        let endpoint = self.endpoint.clone();
        let after = self.command_timeout;
        let to = |phase: &str| ImapError::Timeout { endpoint: endpoint.clone(), phase: phase.to_string(), after };
        let mut handle = session.idle();
        match timeout(after, handle.init()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(map_command_error(&endpoint, "running IDLE", e)),
            Err(_) => return Err(to("running IDLE")),
        }
        let mut reports = Vec::new();
        let end = {
            // async-imap's own timeout restarts at every keepalive; ours does not.
            let (wait, _stop) = handle.wait_with_timeout(renew_after + grace);
            tokio::pin!(wait);
            tokio::pin!(interrupt);
            let renew = tokio::time::sleep(renew_after);
            tokio::pin!(renew);
            tokio::select! {
                r = &mut wait => match r {
                    Ok(IdleResponse::NewData(data)) => {
                        // A STATUS here is NOTIFY's word on another folder (the junk folder).
                        if let Response::MailboxData(MailboxDatum::Status { mailbox, .. }) = data.parsed() {
                            super::note_status(&mut reports, mailbox.to_string());
                        }
                        Ok(IdleEnd::Changed)
                    }
                    Ok(IdleResponse::Timeout) => Ok(IdleEnd::Renew),
                    // Nobody dropped the stop source, so the stream ended: the server hung up.
                    Ok(IdleResponse::ManualInterrupt) => Err(ImapError::ConnectionLost { endpoint: endpoint.clone(), reason: "the server closed the connection during IDLE".into() }),
                    Err(e) => Err(map_command_error(&endpoint, "running IDLE", e)),
                },
                _ = &mut renew => Ok(IdleEnd::Renew),
                _ = &mut interrupt => Ok(IdleEnd::Interrupted),
            }
        };
        for folder in reports {
            super::note_status(&mut self.status_reports, folder);
        }
        let end = end?;
        match timeout(after, handle.done()).await {
            Ok(Ok(session)) => self.inner = Some(session),
            Ok(Err(e)) => return Err(map_command_error(&endpoint, "running DONE", e)),
            Err(_) => return Err(to("running DONE")),
        }
        self.drain_unsolicited();
        Ok(end)
    }
}
