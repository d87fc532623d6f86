//! Accounts and the providers they belong to.
//!
//! An [`Account`] is everything about a mailbox except its secret: the address, how it signs
//! in, and where its servers are. Secrets live in [`crate::secrets`]; accounts are stored in
//! [`crate::store`]. Every endpoint comes from a [`presets`] entry for the domain unless the
//! account overrides it, which is also how tests point accounts at a local test bed.

pub mod presets;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use presets::{Preset, preset_for};

/// Who runs the mailbox; decides sign-in and default endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Outlook.com, Hotmail, Live, MSN: OAuth2 through Microsoft's v2 token endpoint.
    Outlook,
    /// Gmail: OAuth2 or an app password.
    Gmail,
    /// Any IMAP server with a password.
    Imap,
}

impl Provider {
    /// The name used on the command line, in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Outlook => "outlook",
            Provider::Gmail => "gmail",
            Provider::Imap => "imap",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "outlook" | "hotmail" | "microsoft" => Ok(Provider::Outlook),
            "gmail" | "google" => Ok(Provider::Gmail),
            "imap" => Ok(Provider::Imap),
            other => Err(AccountError::UnknownProvider(other.to_string())),
        }
    }
}

/// How the account proves who it is to the IMAP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// AUTHENTICATE XOAUTH2 with an access token from a refresh token in the keyring.
    OAuth2,
    /// LOGIN with a password (or app password) from the keyring.
    Password,
}

impl AuthMethod {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::OAuth2 => "oauth2",
            AuthMethod::Password => "password",
        }
    }
}

impl FromStr for AuthMethod {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "oauth2" => Ok(AuthMethod::OAuth2),
            "password" => Ok(AuthMethod::Password),
            other => Err(AccountError::UnknownAuth(other.to_string())),
        }
    }
}

/// How TLS is set up on the IMAP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// TLS from the first byte (port 993).
    Implicit,
    /// Plain connection upgraded with STARTTLS (port 143). Refused if the server won't.
    Starttls,
}

impl Tls {
    /// The name used on the command line and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Tls::Implicit => "implicit",
            Tls::Starttls => "starttls",
        }
    }
}

impl FromStr for Tls {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "implicit" | "ssl" | "tls" => Ok(Tls::Implicit),
            "starttls" => Ok(Tls::Starttls),
            other => Err(AccountError::UnknownTls(other.to_string())),
        }
    }
}

/// An IMAP server address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImapEndpoint {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Implicit TLS or STARTTLS.
    pub tls: Tls,
}

impl fmt::Display for ImapEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// An SMTP submission server address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmtpEndpoint {
    /// Host name or IP address.
    pub host: String,
    /// TCP port: 465 with implicit TLS, 587 with STARTTLS, as a rule.
    pub port: u16,
    /// Implicit TLS or STARTTLS; never plain text.
    pub tls: Tls,
}

impl fmt::Display for SmtpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Which way an Outlook account's mail is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// IMAP, moving to Microsoft Graph when IMAP refuses the account in a way Graph cures
    /// (and back after `graph.imapRecheck`). Other providers always use IMAP.
    #[default]
    Auto,
    /// IMAP only.
    Imap,
    /// Microsoft Graph only (Outlook accounts with OAuth2).
    Graph,
}

impl Channel {
    /// The name used on the command line, in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Auto => "auto",
            Channel::Imap => "imap",
            Channel::Graph => "graph",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Channel::Auto),
            "imap" => Ok(Channel::Imap),
            "graph" => Ok(Channel::Graph),
            other => Err(AccountError::UnknownChannel(other.to_string())),
        }
    }
}

/// Where an account's health stands, as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountStatus {
    /// Never checked, or last check passed.
    Ok,
    /// The provider refused the refresh token or password; the user must sign in again.
    NeedsReauth,
    /// The last attempt failed for another reason (network, server, keyring).
    Error,
    /// The server throttles the account: Mailwatch leaves it alone for the time the server
    /// asked, then goes on by itself.
    Throttled,
}

impl AccountStatus {
    /// The name stored in the database and shown by `accounts list`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Ok => "ok",
            AccountStatus::NeedsReauth => "needs-reauth",
            AccountStatus::Error => "error",
            AccountStatus::Throttled => "throttled",
        }
    }
}

impl FromStr for AccountStatus {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ok" => Ok(AccountStatus::Ok),
            "needs-reauth" => Ok(AccountStatus::NeedsReauth),
            "error" => Ok(AccountStatus::Error),
            "throttled" => Ok(AccountStatus::Throttled),
            other => Err(AccountError::UnknownStatus(other.to_string())),
        }
    }
}

/// A mailbox Mailwatch watches. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The address, lower-cased; also the IMAP user name and the keyring entry's user.
    pub email: String,
    /// Who runs the mailbox.
    pub provider: Provider,
    /// How it signs in.
    pub auth: AuthMethod,
    /// Primary IMAP server.
    pub imap: ImapEndpoint,
    /// Tried when the primary cannot be reached (Outlook has two).
    pub imap_fallback: Option<ImapEndpoint>,
    /// OAuth2 client id (public client, no secret). `None` for password accounts.
    pub client_id: Option<String>,
    /// OAuth2 token endpoint. `None` for password accounts.
    pub token_url: Option<String>,
    /// OAuth2 scope requested on refresh.
    pub scope: Option<String>,
    /// Where mail is sent from: the provider's submission server, the account's override, or
    /// `None` when neither is known (a generic IMAP server whose name gives no hint).
    #[serde(default)]
    pub smtp: Option<SmtpEndpoint>,
    /// Health as last seen.
    pub status: AccountStatus,
    /// What went wrong, in words, when `status` is not ok.
    pub status_detail: Option<String>,
    /// How its mail is read, as the user chose.
    #[serde(default)]
    pub channel: Channel,
    /// The channel that worked last (`imap` or `graph`), for an `auto` account; `None` until
    /// one has.
    #[serde(default)]
    pub channel_in_use: Option<Channel>,
    /// When an `auto` account last tried IMAP (Unix seconds), for the re-check after
    /// `graph.imapRecheck`.
    #[serde(default)]
    pub imap_checked_at: Option<i64>,
    /// Microsoft Graph's base URL for an Outlook OAuth2 account (the preset's, or an
    /// override such as a test bed's); `None` for accounts Graph cannot read.
    #[serde(default)]
    pub graph_url: Option<String>,
    /// The account's group, if it is in one (one at most).
    #[serde(default)]
    pub group: Option<String>,
    /// The account's tags, sorted, without repeats.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The account's own proxy as a URL without its password (see [`crate::net::ProxyUrl`]);
    /// when `None`, its group's proxy applies, if the group has one.
    #[serde(default)]
    pub proxy: Option<String>,
}

/// What the user says about a new account; everything left out comes from the preset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountSpec {
    /// The address.
    pub email: String,
    /// Force a provider instead of guessing it from the domain.
    pub provider: Option<Provider>,
    /// Force a sign-in method (OAuth2 when a refresh token is given, otherwise password).
    pub auth: Option<AuthMethod>,
    /// OAuth2 client id.
    pub client_id: Option<String>,
    /// IMAP host override.
    pub imap_host: Option<String>,
    /// IMAP port override.
    pub imap_port: Option<u16>,
    /// TLS mode override.
    pub tls: Option<Tls>,
    /// Token endpoint override.
    pub token_url: Option<String>,
    /// Scope override.
    pub scope: Option<String>,
    /// SMTP host override.
    pub smtp_host: Option<String>,
    /// SMTP port override.
    pub smtp_port: Option<u16>,
    /// SMTP TLS mode override.
    pub smtp_tls: Option<Tls>,
    /// How mail is read (default `auto`).
    pub channel: Option<Channel>,
    /// Microsoft Graph base URL override (Outlook accounts).
    pub graph_url: Option<String>,
    /// The group to put the account in.
    pub group: Option<String>,
    /// Tags to give the account.
    pub tags: Vec<String>,
    /// The account's own proxy, as a URL. A password in it is dropped here: the caller keeps
    /// it in the keyring (see [`crate::net::ProxyUrl::secret_key`]).
    pub proxy: Option<String>,
}

/// Which accounts a list or a bulk command applies to: all of them, or those in a group
/// and/or carrying every tag given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountFilter {
    /// Only accounts in this group.
    pub group: Option<String>,
    /// Only accounts that carry every one of these tags.
    pub tags: Vec<String>,
}

impl AccountFilter {
    /// Whether the filter lets every account through.
    pub fn is_empty(&self) -> bool {
        self.group.is_none() && self.tags.is_empty()
    }

    /// Whether `account` passes.
    pub fn matches(&self, account: &Account) -> bool {
        self.group.as_ref().is_none_or(|g| account.group.as_ref() == Some(g))
            && self.tags.iter().all(|t| account.tags.contains(t))
    }
}

/// Why an account could not be built or parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    /// The address has no `@` or no domain.
    #[error("cannot use {0:?} as an email address: it needs a name, an @ and a domain")]
    InvalidEmail(String),
    /// Unknown provider name.
    #[error("unknown provider {0:?}: use outlook, gmail or imap")]
    UnknownProvider(String),
    /// Unknown TLS mode.
    #[error("unknown TLS mode {0:?}: use implicit or starttls")]
    UnknownTls(String),
    /// Unknown auth method in the database.
    #[error("unknown sign-in method {0:?}")]
    UnknownAuth(String),
    /// Unknown channel name.
    #[error("unknown channel {0:?}: use auto, imap or graph")]
    UnknownChannel(String),
    /// Graph chosen for an account Graph cannot read.
    #[error(
        "cannot read {email} through Microsoft Graph: only Outlook accounts that sign in with OAuth2 can; use the auto or imap channel"
    )]
    GraphUnavailable {
        /// The address.
        email: String,
    },
    /// A Graph URL that is not `https://` (plain `http://` only on loopback), or not a URL.
    #[error(
        "cannot use that Graph URL for {email}: it must be an https:// URL (plain http:// is allowed only on this machine)"
    )]
    InsecureGraphUrl {
        /// The address.
        email: String,
    },
    /// Unknown status in the database.
    #[error("unknown account status {0:?}")]
    UnknownStatus(String),
    /// A generic IMAP account without a host we can guess.
    #[error("cannot tell which IMAP server serves {domain}: give --imap-host (and --imap-port)")]
    NoImapHost {
        /// The address's domain.
        domain: String,
    },
    /// OAuth2 chosen for a provider we have no token endpoint for.
    #[error("cannot sign in to {email} with OAuth2: no token endpoint is known; give --token-url")]
    NoTokenUrl {
        /// The address.
        email: String,
    },
    /// The proxy is not a URL Mailwatch can use.
    #[error("{0}")]
    InvalidProxy(String),
    /// A group or tag name that is empty or holds a comma, a newline or a control character.
    #[error("cannot use {0:?} as a group or tag name: it must not be empty or hold commas or control characters")]
    InvalidLabel(String),
    /// A token endpoint that is not `https://` (plain `http://` only on loopback), or not a URL.
    #[error(
        "cannot use that token endpoint for {email}: it must be an https:// URL (plain http:// is allowed only on this machine: localhost, 127.0.0.1 or ::1)"
    )]
    InsecureTokenUrl {
        /// The address.
        email: String,
    },
}

/// Whether refresh tokens may be sent to `url`: `https://` anywhere, `http://` only to a
/// loopback host, where nothing crosses the network.
pub fn is_safe_token_url(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else { return false };
    let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    match url.scheme() {
        "https" => !host.is_empty(),
        "http" => {
            host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// Trims a group or tag name and checks it: not empty, no comma (the separator of tags in
/// a file), no control character.
///
/// # Errors
/// [`AccountError::InvalidLabel`].
pub fn normalize_label(label: &str) -> Result<String, AccountError> {
    let t = label.trim();
    if t.is_empty() || t.contains(',') || t.chars().any(char::is_control) {
        return Err(AccountError::InvalidLabel(t.to_string()));
    }
    Ok(t.to_string())
}

/// Tags as a sorted set of checked names.
///
/// # Errors
/// [`AccountError::InvalidLabel`] for the first bad name.
pub fn normalize_tags<'a>(tags: impl IntoIterator<Item = &'a String>) -> Result<Vec<String>, AccountError> {
    let mut v = tags.into_iter().map(|t| normalize_label(t)).collect::<Result<Vec<_>, _>>()?;
    v.sort();
    v.dedup();
    Ok(v)
}

/// A proxy URL as stored: canonical and without a password.
///
/// # Errors
/// [`AccountError::InvalidProxy`] with the sentence from [`crate::net::ProxyUrl::parse`].
pub fn normalize_proxy(url: &str) -> Result<String, AccountError> {
    crate::net::ProxyUrl::parse(url).map(|(u, _)| u.to_string()).map_err(|e| AccountError::InvalidProxy(e.to_string()))
}

/// Lower-cases and checks an address.
///
/// # Errors
/// [`AccountError::InvalidEmail`] when there is no local part or no domain.
pub fn normalize_email(email: &str) -> Result<String, AccountError> {
    let e = email.trim().to_lowercase();
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.') | (domain == "localhost")
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(|c| c.is_whitespace() || c.is_control())
                && !domain.contains('@') =>
        {
            Ok(e)
        }
        _ => Err(AccountError::InvalidEmail(email.trim().to_string())),
    }
}

impl Account {
    /// Builds an account from what the user gave, filling the rest from the domain's preset.
    ///
    /// `has_refresh_token` picks OAuth2 when the user did not say which sign-in to use.
    ///
    /// # Errors
    /// An invalid address, or a generic IMAP domain with no host given.
    pub fn from_spec(spec: &AccountSpec, has_refresh_token: bool) -> Result<Account, AccountError> {
        let email = normalize_email(&spec.email)?;
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
        let preset = preset_for(&domain);
        let provider = spec.provider.or(preset.map(|p| p.provider)).unwrap_or(Provider::Imap);
        let preset = preset.filter(|p| p.provider == provider).or_else(|| presets::provider_default(provider));
        let auth = spec.auth.unwrap_or(if has_refresh_token { AuthMethod::OAuth2 } else { AuthMethod::Password });

        let host = match (&spec.imap_host, preset) {
            (Some(h), _) => h.clone(),
            (None, Some(p)) => p.imap_host.to_string(),
            (None, None) => return Err(AccountError::NoImapHost { domain }),
        };
        let tls = spec.tls.or(preset.map(|p| p.tls)).unwrap_or(Tls::Implicit);
        let default_port = match tls {
            Tls::Implicit => 993,
            Tls::Starttls => 143,
        };
        let port = spec.imap_port.or(preset.filter(|p| p.tls == tls).map(|p| p.imap_port)).unwrap_or(default_port);
        let overridden = spec.imap_host.is_some() || spec.imap_port.is_some();
        let imap_fallback = match preset.and_then(|p| p.imap_fallback) {
            Some(h) if !overridden => Some(ImapEndpoint { host: h.to_string(), port, tls }),
            _ => None,
        };

        let (client_id, token_url, scope) = match auth {
            AuthMethod::Password => (None, None, None),
            AuthMethod::OAuth2 => {
                let oauth = preset.and_then(|p| p.oauth);
                let token_url = spec
                    .token_url
                    .clone()
                    .or(oauth.map(|o| o.token_url.to_string()))
                    .ok_or_else(|| AccountError::NoTokenUrl { email: email.clone() })?;
                if !is_safe_token_url(&token_url) {
                    return Err(AccountError::InsecureTokenUrl { email: email.clone() });
                }
                let client_id = spec.client_id.clone().or(oauth.map(|o| o.default_client_id.to_string()));
                let scope = spec.scope.clone().or(oauth.map(|o| o.scope.to_string()));
                (client_id, Some(token_url), scope)
            }
        };

        let graph_url = match (provider, auth) {
            (Provider::Outlook, AuthMethod::OAuth2) => {
                let url = spec.graph_url.clone().unwrap_or_else(|| presets::MICROSOFT_GRAPH_URL.to_string());
                if !is_safe_token_url(&url) {
                    return Err(AccountError::InsecureGraphUrl { email: email.clone() });
                }
                Some(url.trim_end_matches('/').to_string())
            }
            _ => None,
        };
        let channel = spec.channel.unwrap_or_default();
        if channel == Channel::Graph && graph_url.is_none() {
            return Err(AccountError::GraphUnavailable { email: email.clone() });
        }

        let imap = ImapEndpoint { host, port, tls };
        let smtp = match &spec.smtp_host {
            Some(host) => {
                let tls = spec.smtp_tls.unwrap_or(match spec.smtp_port {
                    Some(587 | 25) => Tls::Starttls,
                    _ => Tls::Implicit,
                });
                let port = spec.smtp_port.unwrap_or(match tls {
                    Tls::Implicit => 465,
                    Tls::Starttls => 587,
                });
                Some(SmtpEndpoint { host: host.clone(), port, tls })
            }
            None => presets::smtp_default(provider, &imap).map(|mut e| {
                if let Some(port) = spec.smtp_port {
                    e.port = port;
                }
                if let Some(tls) = spec.smtp_tls {
                    e.tls = tls;
                }
                e
            }),
        };

        Ok(Account {
            email,
            provider,
            auth,
            imap,
            imap_fallback,
            client_id,
            token_url,
            scope,
            smtp,
            status: AccountStatus::Ok,
            status_detail: None,
            channel,
            channel_in_use: None,
            imap_checked_at: None,
            graph_url,
            group: spec.group.as_deref().map(normalize_label).transpose()?,
            tags: normalize_tags(&spec.tags)?,
            proxy: spec.proxy.as_deref().map(normalize_proxy).transpose()?,
        })
    }

    /// The scope of an access token for reading this account through Microsoft Graph, when
    /// Graph can read it (an Outlook account with OAuth2).
    pub fn graph_scope(&self) -> Option<&'static str> {
        (self.graph_url.is_some() && self.auth == AuthMethod::OAuth2).then_some(presets::MICROSOFT_GRAPH_SCOPE)
    }

    /// The OAuth2 scope an access token for sending needs. Microsoft issues SMTP tokens for a
    /// scope of their own, asked for separately from the IMAP one; Google's full-mail scope and
    /// other servers' scopes cover both.
    pub fn smtp_scope(&self) -> Option<String> {
        let scope = self.scope.as_deref()?;
        if self.provider == Provider::Outlook && scope.contains("outlook.office.com/") {
            return Some(presets::MICROSOFT_SMTP_SCOPE.to_string());
        }
        Some(scope.to_string())
    }

    /// The endpoints to try, primary first.
    pub fn endpoints(&self) -> impl Iterator<Item = &ImapEndpoint> {
        std::iter::once(&self.imap).chain(self.imap_fallback.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(email: &str) -> AccountSpec {
        AccountSpec { email: email.into(), ..Default::default() }
    }

    #[test]
    fn outlook_addresses_get_microsoft_oauth_and_a_fallback_server() {
        let a = Account::from_spec(&spec("Alice@Hotmail.com"), true).unwrap();
        assert_eq!(a.email, "alice@hotmail.com");
        assert_eq!(a.provider, Provider::Outlook);
        assert_eq!(a.auth, AuthMethod::OAuth2);
        assert_eq!(a.imap.to_string(), "outlook.office365.com:993");
        assert_eq!(a.imap_fallback.as_ref().unwrap().host, "outlook.live.com");
        assert_eq!(a.token_url.as_deref(), Some("https://login.microsoftonline.com/consumers/oauth2/v2.0/token"));
        assert_eq!(a.scope.as_deref(), Some("https://outlook.office.com/IMAP.AccessAsUser.All offline_access"));
        assert!(a.client_id.is_some(), "a default public client id is filled in");
    }

    #[test]
    fn token_urls_must_be_https_except_on_loopback() {
        for ok in [
            "https://login.example.com/token",
            "http://127.0.0.1:9/token",
            "http://127.8.0.1/token",
            "http://[::1]:8080/token",
            "http://LOCALHOST/token",
        ] {
            assert!(is_safe_token_url(ok), "{ok} may carry refresh tokens");
        }
        for bad in [
            "http://login.example.com/token",
            "http://10.0.0.1/token",
            "http://localhost.example.com/token",
            "ftp://127.0.0.1/token",
            "file:///etc/token",
            "not a url",
        ] {
            assert!(!is_safe_token_url(bad), "{bad} must be refused");
        }
        let mut s = spec("bob@outlook.com");
        s.token_url = Some("http://login.example.com/token".into());
        let err = Account::from_spec(&s, true).unwrap_err();
        assert_eq!(err, AccountError::InsecureTokenUrl { email: "bob@outlook.com".into() });
        assert!(err.to_string().contains("https://"), "the sentence says what to use: {err}");
    }

    #[test]
    fn overrides_win_and_drop_the_fallback() {
        let mut s = spec("bob@outlook.com");
        s.imap_host = Some("127.0.0.1".into());
        s.imap_port = Some(10993);
        s.token_url = Some("http://127.0.0.1:9/token".into());
        s.client_id = Some("my-client".into());
        let a = Account::from_spec(&s, true).unwrap();
        assert_eq!(a.imap.to_string(), "127.0.0.1:10993");
        assert!(a.imap_fallback.is_none(), "an explicit server has no fallback");
        assert_eq!(a.token_url.as_deref(), Some("http://127.0.0.1:9/token"));
        assert_eq!(a.client_id.as_deref(), Some("my-client"));
    }

    #[test]
    fn gmail_with_a_password_is_an_app_password_account() {
        let a = Account::from_spec(&spec("c@gmail.com"), false).unwrap();
        assert_eq!((a.provider, a.auth), (Provider::Gmail, AuthMethod::Password));
        assert_eq!(a.imap.host, "imap.gmail.com");
        assert!(a.token_url.is_none() && a.client_id.is_none());
    }

    #[test]
    fn unknown_domains_need_a_host() {
        let err = Account::from_spec(&spec("d@example.org"), false).unwrap_err();
        assert_eq!(err, AccountError::NoImapHost { domain: "example.org".into() });
        let mut s = spec("d@example.org");
        s.imap_host = Some("mail.example.org".into());
        s.tls = Some(Tls::Starttls);
        let a = Account::from_spec(&s, false).unwrap();
        assert_eq!((a.imap.port, a.imap.tls), (143, Tls::Starttls));
    }

    #[test]
    fn bad_addresses_are_refused_in_words() {
        for bad in ["", "nobody", "@x.com", "a@", "a b@c.com", "a@.com"] {
            let err = normalize_email(bad).unwrap_err();
            assert!(err.to_string().starts_with("cannot use"), "{bad:?} gave {err}");
        }
    }
}
