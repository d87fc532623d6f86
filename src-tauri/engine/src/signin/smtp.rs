//! How the SMTP connection pool signs in: the account's submission server, with its password
//! or an access token for sending, refreshed once when the server refuses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::SignIn;
use super::token::Purpose;
use crate::account::{AccountStatus, AuthMethod};
use crate::error::EngineError;
use crate::pool::Connect;
use crate::smtp::{self, SmtpConnection, SmtpCredential, SmtpError, SmtpTls};

/// The SMTP pool's way in: connections are opened through [`SignIn`] and closed with QUIT.
/// No check runs before a send (see [`crate::smtp`]), so `recycle` has nothing to do.
pub struct SmtpLogin {
    signin: Arc<SignIn>,
    tls: SmtpTls,
    connect_timeout: Duration,
    command_timeout: Duration,
    /// Accounts whose sign-in was refused, with the refusal: their senders waiting in the
    /// pool get it at once instead of one login each, until the account's secret changes.
    refused: Mutex<HashMap<String, SmtpError>>,
}

impl SmtpLogin {
    /// Opens connections through `signin`, trusting what `tls` trusts, within these timeouts.
    pub(crate) fn new(signin: Arc<SignIn>, tls: SmtpTls, connect_timeout: Duration, command_timeout: Duration) -> Self {
        Self { signin, tls, connect_timeout, command_timeout, refused: Mutex::new(HashMap::new()) }
    }

    /// Forgets the account's refused sign-in (its secret or servers changed).
    pub(crate) fn forget_refusal(&self, email: &str) {
        self.refused.lock().unwrap_or_else(|e| e.into_inner()).remove(email);
    }
}

impl Connect for SmtpLogin {
    type Session = SmtpConnection;
    type Error = EngineError;
    const NAME: &'static str = "SMTP connections";

    async fn connect(&self, key: &str) -> Result<SmtpConnection, EngineError> {
        if let Some(refusal) = self.refused.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned() {
            return Err(EngineError::Smtp(refusal));
        }
        let result = self.signin.open_smtp(key, &self.tls, self.connect_timeout, self.command_timeout).await;
        if let Err(EngineError::Smtp(e @ SmtpError::AuthFailed { .. })) = &result {
            self.refused.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), e.clone());
        }
        result
    }

    async fn recycle(&self, _connection: &mut SmtpConnection) -> Result<(), EngineError> {
        Ok(())
    }

    async fn close(&self, connection: SmtpConnection) {
        connection.quit(Duration::from_secs(1)).await;
    }
}

impl SignIn {
    /// Opens a signed-in SMTP connection for the account. With OAuth2, a refused token is
    /// refreshed once and tried once more; a refusal after that marks the account as needing a
    /// new sign-in, as IMAP does. A server that cannot be reached changes nothing: reading
    /// mail may well work.
    pub(crate) async fn open_smtp(
        self: &Arc<Self>,
        email: &str,
        tls: &SmtpTls,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Result<SmtpConnection, EngineError> {
        let client = self.client(email).await?;
        let account = &client.account;
        let endpoint = account.smtp.clone().ok_or_else(|| EngineError::NoSmtpServer { email: email.to_string() })?;
        let attempt = match account.auth {
            AuthMethod::Password => {
                let password = client.secret.lock().await.clone();
                let cred = SmtpCredential::Password { user: email, password: &password };
                smtp::connect(&endpoint, tls, client.proxy.as_ref(), cred, connect_timeout, command_timeout).await
            }
            AuthMethod::OAuth2 => {
                let token = self.access_token_for(&client, Purpose::Smtp, None, false).await?;
                let cred = SmtpCredential::OAuth2 { user: email, access_token: &token };
                match smtp::connect(&endpoint, tls, client.proxy.as_ref(), cred, connect_timeout, command_timeout).await
                {
                    Err(SmtpError::AuthFailed { .. }) => {
                        let fresh = self.access_token_for(&client, Purpose::Smtp, Some(&token), false).await?;
                        let cred = SmtpCredential::OAuth2 { user: email, access_token: &fresh };
                        smtp::connect(&endpoint, tls, client.proxy.as_ref(), cred, connect_timeout, command_timeout)
                            .await
                    }
                    other => other,
                }
            }
        };
        match attempt {
            Ok(connection) => Ok(connection),
            // Microsoft refuses a good token with 5.7.139 when SMTP AUTH is turned off for the
            // mailbox: reading still works, and signing in again would not help.
            Err(e @ SmtpError::AuthFailed { .. }) if smtp_auth_disabled(&e) => Err(e.into()),
            Err(e @ SmtpError::AuthFailed { .. }) => {
                self.set_status(email, AccountStatus::NeedsReauth, Some(e.to_string())).await;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether a refused sign-in says SMTP AUTH is off for the mailbox rather than that the
/// credentials are wrong.
fn smtp_auth_disabled(e: &SmtpError) -> bool {
    matches!(e, SmtpError::AuthFailed { reply, .. }
        if reply.contains("5.7.139") || reply.contains("SmtpClientAuthentication") || reply.contains("SMTP AUTH is disabled"))
}
