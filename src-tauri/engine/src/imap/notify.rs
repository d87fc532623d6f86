//! The NOTIFY extension (RFC 5465): one session, selected and idling on INBOX, also hears of
//! new mail in the junk folder, as an unasked `* STATUS Junk (...)`, so junk mail is pushed as
//! fast as the inbox's without a second session or a poll.
//!
//! async-imap knows no NOTIFY: [`ImapSession::notify_junk`] sends `NOTIFY SET` as a raw
//! command, and the STATUS responses it brings are caught where every unasked response is
//! (beside any command's answer, and during IDLE) and kept until
//! [`ImapSession::take_status_report`] asks for them.

use super::{ImapError, ImapSession};

impl ImapSession {
    /// Whether the server advertises NOTIFY. Asks CAPABILITY once per session.
    ///
    /// # Errors
    /// Connection errors.
    pub async fn supports_notify(&mut self) -> Result<bool, ImapError> {
        Ok(self.caps().await?.notify)
    }

    /// Asks the server to report new and expunged mail in the selected folder (as IDLE does)
    /// and new mail in `junk` (as `* STATUS`), for the rest of the session:
    /// `NOTIFY SET (selected (MessageNew MessageExpunge)) (mailboxes "junk" (MessageNew))`.
    /// Returns whether the server agreed; it is asked once per session and folder (a refusal,
    /// e.g. from a Dovecot that advertises NOTIFY without a mailbox list index, is
    /// remembered too, and answered with false without asking again).
    ///
    /// # Errors
    /// Connection errors; a NO or BAD is `Ok(false)`, a throttle reply an error.
    pub async fn notify_junk(&mut self, junk: &str) -> Result<bool, ImapError> {
        match self.notify.as_deref() {
            Some("") => return Ok(false),
            Some(set) if set == junk => return Ok(true),
            _ => {}
        }
        if !self.supports_notify().await? {
            self.notify = Some(String::new());
            return Ok(false);
        }
        let command =
            format!("NOTIFY SET (selected (MessageNew MessageExpunge)) (mailboxes {} (MessageNew))", quote(junk));
        let inner = super::conn(&mut self.inner, &self.endpoint)?;
        match timed!(self, "running NOTIFY", inner.run_command_and_check_ok(&command)) {
            Ok(()) => {
                self.notify = Some(junk.to_string());
                Ok(true)
            }
            Err(ImapError::Refused { reason, .. }) => {
                tracing::debug!(endpoint = %self.endpoint, "NOTIFY refused: {reason}");
                self.notify = Some(String::new());
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether NOTIFY is set for `junk` on this session.
    pub fn notifies(&self, junk: &str) -> bool {
        self.notify.as_deref() == Some(junk)
    }

    /// Whether the server reported a change in `folder` with an unasked STATUS since the last
    /// call for it.
    pub fn take_status_report(&mut self, folder: &str) -> bool {
        let before = self.status_reports.len();
        self.status_reports.retain(|f| f != folder);
        self.status_reports.len() != before
    }
}

/// A mailbox name as an IMAP quoted string.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mailbox_names_are_quoted() {
        assert_eq!(super::quote("Junk"), "\"Junk\"");
        assert_eq!(super::quote("Junk \"E\\mail\""), "\"Junk \\\"E\\\\mail\\\"\"");
    }
}
