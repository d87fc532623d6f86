//! Mailwatch's test bed: real servers on loopback for the integration tests.
//!
//! - [`Dovecot`]: the Debian Dovecot, configured per run in a temp dir, with implicit TLS
//!   (a CA made for the run), a STARTTLS port, passwd-file users and XOAUTH2/OAUTHBEARER
//!   validated by token introspection; also LMTP and its auth service, for Postfix.
//! - [`Postfix`]: the Debian Postfix as submission server (STARTTLS and implicit TLS) in
//!   front of a [`Dovecot`]: SMTP AUTH is checked by Dovecot, mail is delivered to Dovecot
//!   over LMTP; counters of connections, AUTHs and accepted messages from its log.
//! - [`OAuthServer`]: a token endpoint that behaves like Microsoft's v2 endpoint (rotating
//!   refresh tokens, Microsoft-shaped errors, consent per scope), with injectable latency and
//!   failures and request counters; it also answers Dovecot's introspection.
//! - [`GraphServer`]: a stand-in for Microsoft Graph's mail API over HTTPS, serving the
//!   mailboxes Dovecot holds to holders of the OAuth server's Graph tokens, with delta links
//!   and injectable throttling.
//! - [`FaultProxy`]: a TCP proxy that adds latency, drops, resets and stalls connections.
//! - [`ProxyServer`]: real SOCKS5 (microsocks) and HTTP CONNECT (tinyproxy) proxies, with
//!   what they connected to read from their logs.
//! - [`keyring::require_secret_service`]: a clear failure when the tests run outside the
//!   D-Bus session set up by `with-session.sh`.
//! - [`imap::ImapClient`] and [`smtp::SmtpClient`]: tiny line-based clients for checks in
//!   tests.
//!
//! Everything listens on 127.0.0.1 only. A failing test prints Dovecot's (and Postfix's) log
//! path and last lines when its handle is dropped during the panic.

mod dovecot;
mod graph;
mod http;
pub mod imap;
pub mod keyring;
mod oauth;
mod postfix;
mod proxies;
mod proxy;
pub mod smtp;
mod tls;
mod util;

pub use dovecot::{Dovecot, DovecotOptions};
pub use graph::GraphServer;
pub use oauth::{
    DEFAULT_CLIENT_ID, DEFAULT_SCOPE, Failure, GRAPH_SCOPE, IMAP_SCOPE, NOT_CONNECTED, OAuthServer, SMTP_SCOPE,
    is_graph_scope,
};
pub use postfix::{Postfix, PostfixOptions};
pub use proxies::{IpEcho, ProxyServer, ProxyServerKind};
pub use proxy::FaultProxy;
pub use util::form_encode;

/// Dovecot and the OAuth server, wired together: Dovecot validates XOAUTH2 and OAUTHBEARER
/// tokens against `oauth`.
#[derive(Debug)]
pub struct TestBed {
    /// The IMAP server.
    pub dovecot: Dovecot,
    /// The token and introspection endpoints.
    pub oauth: OAuthServer,
}

impl TestBed {
    /// Starts both with default options.
    ///
    /// # Panics
    /// As [`Dovecot::start`].
    pub async fn start() -> TestBed {
        TestBed::start_with(DovecotOptions::default()).await
    }

    /// Starts both; `opts.introspection_url` is set to the OAuth server's.
    ///
    /// # Panics
    /// As [`Dovecot::start`].
    pub async fn start_with(mut opts: DovecotOptions) -> TestBed {
        let oauth = OAuthServer::start().await;
        opts.introspection_url = Some(oauth.introspect_url());
        let dovecot = Dovecot::start(opts).await;
        TestBed { dovecot, oauth }
    }

    /// Makes IMAP refuse `user` (`on`) as Outlook refuses a mailbox it does not serve
    /// ("User is authenticated but not connected."), or serve it again; Graph is unaffected.
    pub fn set_imap_not_connected(&self, user: &str, on: bool) {
        self.oauth.set_imap_not_connected(user, on);
        self.dovecot.set_not_connected(user, on);
    }
}
