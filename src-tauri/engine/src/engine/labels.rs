//! Groups, tags and proxies: setting them on accounts and groups, choosing accounts by them,
//! and testing a proxy. A change of proxy drops the clients and sessions of the accounts it
//! touches, so their next connection goes the new way and no session opened the old way
//! lives on.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::account::{Account, AccountFilter, normalize_email, normalize_label, normalize_tags};
use crate::error::EngineError;
use crate::net::{self, NetError, Proxy, ProxyUrl};
use crate::store::GroupInfo;

/// What a proxy test is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyTarget {
    /// The proxy an account uses (its own, else its group's).
    Account(String),
    /// A group's proxy.
    Group(String),
    /// A proxy given as a URL (its password, if any, is used and not stored).
    Url(String),
}

/// What `proxy test` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyTestReport {
    /// The proxy, as a URL without its password.
    pub proxy: String,
    /// Where the test connected through it (the echo page's host and port).
    pub target: String,
    /// Milliseconds from the first byte to the proxy until the tunnel to the target stood.
    pub connect_ms: f64,
    /// The exit IP the echo page saw, when it answered with one.
    pub exit_ip: Option<String>,
    /// Why there is no exit IP, in words, when there is none.
    pub note: Option<String>,
}

impl Engine {
    /// The accounts `filter` lets through, in the order they were added.
    ///
    /// # Errors
    /// The cache cannot be read.
    pub async fn accounts_matching(&self, filter: &AccountFilter) -> Result<Vec<Account>, EngineError> {
        Ok(self.accounts().await?.into_iter().filter(|a| filter.matches(a)).collect())
    }

    /// Puts the accounts in `group`, or in none. Returns how many accounts were changed. A
    /// group with a proxy changes how these accounts connect, so their sessions close.
    ///
    /// # Errors
    /// An invalid address or group name; the cache failed.
    pub async fn set_group(&self, emails: &[String], group: Option<&str>) -> Result<usize, EngineError> {
        let emails = normalize_all(emails)?;
        let group = group.map(normalize_label).transpose()?;
        let list = emails.clone();
        let n = self.store.call(move |s| s.set_group(&list, group.as_deref())).await?;
        self.forget_clients(&emails).await;
        Ok(n)
    }

    /// Adds `add` and removes `remove` from each account's tags. Returns how many accounts
    /// there were among `emails`.
    ///
    /// # Errors
    /// An invalid address or tag; the cache failed.
    pub async fn tag_accounts(
        &self,
        emails: &[String],
        add: &[String],
        remove: &[String],
    ) -> Result<usize, EngineError> {
        let emails = normalize_all(emails)?;
        let (add, remove) = (normalize_tags(add)?, normalize_tags(remove)?);
        let n = self
            .store
            .call(move |s| {
                let n = s.add_tags(&emails, &add)?;
                s.remove_tags(&emails, &remove)?;
                Ok::<usize, crate::store::StoreError>(n)
            })
            .await?;
        Ok(n)
    }

    /// Gives the accounts their own proxy (`None`: their group's applies again). A password in
    /// the URL goes to the keyring, never to the cache. Returns how many accounts changed.
    ///
    /// # Errors
    /// An invalid address or proxy URL; the keyring or the cache failed.
    pub async fn set_account_proxy(&self, emails: &[String], proxy: Option<&str>) -> Result<usize, EngineError> {
        let emails = normalize_all(emails)?;
        let url = self.store_proxy_password(proxy).await?;
        let list = emails.clone();
        let n = self.store.call(move |s| s.set_account_proxy(&list, url.as_deref())).await?;
        self.forget_clients(&emails).await;
        Ok(n)
    }

    /// Sets a group's proxy (`None`: its accounts connect directly, unless they have their
    /// own). A password in the URL goes to the keyring.
    ///
    /// # Errors
    /// An invalid group name or proxy URL; the keyring or the cache failed.
    pub async fn set_group_proxy(&self, group: &str, proxy: Option<&str>) -> Result<(), EngineError> {
        let group = normalize_label(group)?;
        let url = self.store_proxy_password(proxy).await?;
        let g = group.clone();
        self.store.call(move |s| s.set_group_proxy(&g, url.as_deref())).await?;
        let filter = AccountFilter { group: Some(group), tags: Vec::new() };
        let members: Vec<String> = self.accounts_matching(&filter).await?.into_iter().map(|a| a.email).collect();
        self.forget_clients(&members).await;
        Ok(())
    }

    /// Every group that has accounts or a proxy.
    ///
    /// # Errors
    /// The cache cannot be read.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>, EngineError> {
        Ok(self.store.call(|s| s.groups()).await?)
    }

    /// The proxy the account's connections go through, if any (its own, else its group's).
    ///
    /// # Errors
    /// [`EngineError::UnknownAccount`]; a stored URL this build cannot read; the keyring failed.
    pub async fn account_proxy(&self, email: &str) -> Result<Option<Proxy>, EngineError> {
        let account = self.account(email).await?;
        self.signin.resolve_proxy(&account).await
    }

    /// Connects through a proxy to the echo page of `proxy.echoUrl`, timing the tunnel, and
    /// asks the page for the exit IP.
    ///
    /// # Errors
    /// [`EngineError::InvalidInput`] when the account or group has no proxy or the echo URL is
    /// not usable; [`EngineError::Proxy`] when the proxy cannot be reached, refuses its
    /// credentials or cannot reach the echo page's host; a timeout.
    pub async fn test_proxy(&self, target: &ProxyTarget) -> Result<ProxyTestReport, EngineError> {
        let proxy = match target {
            ProxyTarget::Url(text) => {
                let (url, password) = ProxyUrl::parse(text)?;
                url.with_password(password)
            }
            ProxyTarget::Account(email) => self.account_proxy(email).await?.ok_or_else(|| {
                EngineError::InvalidInput(format!("{email} has no proxy, neither its own nor its group's"))
            })?,
            ProxyTarget::Group(group) => {
                let g = normalize_label(group)?;
                let url = self.store.call(move |s| s.group_proxy(&g)).await?;
                let url: ProxyUrl =
                    url.ok_or_else(|| EngineError::InvalidInput(format!("the group {group} has no proxy")))?.parse()?;
                let password = self.signin.read_secret(&url.secret_key()).await?;
                url.with_password(password)
            }
        };
        let cfg = self.config.proxy.clone();
        let echo = reqwest::Url::parse(&cfg.echo_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| EngineError::InvalidInput("proxy.echoUrl is not an http:// or https:// URL".into()))?;
        let host = echo.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
        let port = echo.port_or_known_default().unwrap_or(443);
        let limit = cfg.test_timeout;
        let timed_out = || {
            EngineError::Proxy(NetError::ProxyRefused {
                proxy: proxy.url.host_port(),
                target: format!("{host}:{port}"),
                reason: format!("no tunnel within {} s", limit.as_secs_f64()),
            })
        };
        let started = Instant::now();
        let tunnel =
            tokio::time::timeout(limit, net::dial(Some(&proxy), &host, port)).await.map_err(|_| timed_out())??;
        let connect_ms = started.elapsed().as_secs_f64() * 1000.0;
        drop(tunnel);
        let left = limit.saturating_sub(started.elapsed()).max(Duration::from_millis(100));
        let (exit_ip, note) = match self.echo_ip(&proxy, echo.as_str(), left).await {
            Ok(ip) => (Some(ip), None),
            Err(why) => (None, Some(why)),
        };
        Ok(ProxyTestReport {
            proxy: proxy.url.to_string(),
            target: format!("{host}:{port}"),
            connect_ms,
            exit_ip,
            note,
        })
    }

    /// The echo page's answer, through `proxy`: the exit IP, or why there is none.
    async fn echo_ip(&self, proxy: &Proxy, url: &str, limit: Duration) -> Result<String, String> {
        let client = self.signin.oauth().client_for(Some(proxy)).map_err(|e| e.to_string())?;
        let resp = match client.get(url).timeout(limit).send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Err(crate::net::explain_proxied_failure(&e, proxy).await),
            Err(e) => {
                return Err(format!(
                    "the echo page did not answer ({})",
                    crate::net::describe_reqwest_error(&e, Some(proxy))
                ));
            }
        };
        if !resp.status().is_success() {
            return Err(format!("the echo page answered HTTP {}", resp.status().as_u16()));
        }
        let body = resp.text().await.map_err(|_| "the echo page's answer could not be read".to_string())?;
        let body = body.trim();
        let ip = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("ip").and_then(|ip| ip.as_str()).map(str::to_string))
            .unwrap_or_else(|| body.to_string());
        match ip.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(ip.to_string()),
            Err(_) => Err("the echo page's answer is not an IP address".into()),
        }
    }

    /// Writes the password of `proxy` (a URL) to the keyring, if it has one, and returns the
    /// URL as stored (without it).
    async fn store_proxy_password(&self, proxy: Option<&str>) -> Result<Option<String>, EngineError> {
        let Some(text) = proxy else { return Ok(None) };
        let (url, password) = ProxyUrl::parse(text)?;
        if let Some(pw) = password {
            self.signin.write_secret(&url.secret_key(), &pw).await?;
        }
        Ok(Some(url.to_string()))
    }

    /// Writes the password of a new account's proxy, when its spec names one with a password.
    pub(crate) async fn store_spec_proxy(&self, proxy: Option<&str>) -> Result<(), EngineError> {
        self.store_proxy_password(proxy).await.map(drop)
    }

    async fn forget_clients(&self, emails: &[String]) {
        for e in emails {
            self.forget_client(e).await;
        }
    }
}

fn normalize_all(emails: &[String]) -> Result<Vec<String>, EngineError> {
    Ok(emails.iter().map(|e| normalize_email(e)).collect::<Result<Vec<_>, _>>()?)
}
