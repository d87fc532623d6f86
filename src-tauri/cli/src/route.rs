//! Sending `fetch` and `wait-code` through a running server (`serve`, or the app's Local
//! API) over the same data directory, so the per-account and global limits hold across
//! processes: the server's one session per account serves the CLI too, and the CLI logs in
//! nowhere.
//!
//! The server is found through the discovery file it writes in the data directory
//! ([`mailwatch_api::discovery`]: the address and the pid, never a key); a file whose process
//! is gone, or whose address does not answer `GET /api/v1/health` within
//! `api.discoveryTimeout`, is ignored. The key is the app's own, read from the keyring
//! ([`keys::stored_app_key`]); it goes only into the `Authorization` header. The output and
//! the exit codes are the direct path's: the answers are read back into the engine's types
//! and printed by the same code, and an error answer `{"error": {"code", "message"}}` carries
//! the engine's code and sentence. When the server is there but refuses the key (revoked,
//! renewed, or none in the keyring), one sentence on stderr says so and the command runs in
//! this process, as with `--direct`.

use std::net::SocketAddr;
use std::time::Duration;

use mailwatch_api::{discovery, keys};
use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::secrets::Secret;
use mailwatch_engine::store::{CachedMessage, CodeRecord};
use mailwatch_engine::{Engine, EngineError};
use serde::Deserialize;

use crate::Failure;

/// A running server that answers and takes the app's key.
pub(crate) struct Server {
    address: SocketAddr,
    key: Secret,
    client: reqwest::Client,
}

/// What the server said, when it said something the direct path would have said too.
pub(crate) enum Routed<T> {
    /// The answer, or the engine's error as the server reported it.
    Done(Result<T, Failure>),
    /// The server refused or went away; run the command in this process.
    Direct,
}

/// The error answer's body.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// `GET .../messages`.
#[derive(Deserialize)]
struct MessageList {
    messages: Vec<CachedMessage>,
}

/// `GET .../code`: the engine's record, or every field null when no code came in time.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeAnswer {
    code: Option<String>,
    link: Option<String>,
    service: Option<String>,
    from: Option<String>,
    subject: Option<String>,
    received: Option<i64>,
    folder: Option<String>,
    id: Option<i64>,
    email: Option<String>,
    found_at: Option<i64>,
    uid: Option<u32>,
}

/// Whether `--direct` (or `MAILWATCH_DIRECT`) asked for the in-process path.
pub(crate) async fn find(engine: &Engine, direct: bool) -> Option<Server> {
    if direct {
        return None;
    }
    let found = discovery::find(engine.data_dir())?;
    let timeout = engine.config().api.discovery_timeout;
    let client = reqwest::Client::builder().no_proxy().connect_timeout(timeout).build().ok()?;
    let health = client.get(format!("http://{}/api/v1/health", found.address)).timeout(timeout).send().await;
    if !health.is_ok_and(|r| r.status().is_success()) {
        tracing::debug!(address = %found.address, "the discovery file names a server that does not answer; ignored");
        return None;
    }
    match keys::stored_app_key(engine).await {
        Ok(Some(key)) => Some(Server { address: found.address, key: Secret::new(key.key), client }),
        Ok(None) => {
            refused(
                found.address,
                "the app's API key is not in the keyring or was revoked (restart it to make a new one)",
            );
            None
        }
        Err(e) => {
            refused(found.address, &format!("the app's API key cannot be read ({e})"));
            None
        }
    }
}

/// The one sentence said when the server is there but will not do.
fn refused(address: SocketAddr, why: &str) {
    eprintln!(
        "note: a Mailwatch server runs at http://{address}, but {why}; running the command in this process instead (--direct skips the server)"
    );
}

impl Server {
    /// `fetch`: the newest `top` messages of a folder, from the cache while fresh unless
    /// `refresh`.
    pub(crate) async fn fetch(
        &self,
        email: &str,
        folder: &FolderSpec,
        top: usize,
        refresh: bool,
    ) -> Routed<Vec<CachedMessage>> {
        let query = [("folder", folder.to_string()), ("top", top.to_string()), ("refresh", refresh.to_string())];
        match self.get::<MessageList>(email, "messages", &query).await {
            Routed::Done(r) => Routed::Done(r.map(|l| l.messages)),
            Routed::Direct => Routed::Direct,
        }
    }

    /// `wait-code`: the next code to arrive within `timeout`, through the server's one watch
    /// of the account; `wait_timed_out` with the direct path's sentence when none came.
    pub(crate) async fn wait_code(&self, account: &str, timeout: Duration) -> Routed<CodeRecord> {
        let query = [("wait", timeout.as_secs_f64().to_string())];
        match self.get::<CodeAnswer>(account, "code", &query).await {
            Routed::Done(Ok(a)) => Routed::Done(match (a.id, a.email, a.found_at, a.uid, a.folder) {
                (Some(id), Some(email), Some(found_at), Some(uid), Some(folder)) => Ok(CodeRecord {
                    id,
                    email,
                    code: a.code,
                    link: a.link,
                    service: a.service,
                    from: a.from,
                    subject: a.subject,
                    received: a.received,
                    found_at,
                    folder,
                    uid,
                }),
                _ => Err(EngineError::WaitTimedOut { email: account.to_string(), waited: timeout }.into()),
            }),
            Routed::Done(Err(e)) => Routed::Done(Err(e)),
            Routed::Direct => Routed::Direct,
        }
    }

    /// `GET /api/v1/accounts/{email}/{what}?query` with the key.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        email: &str,
        what: &str,
        query: &[(&str, String)],
    ) -> Routed<T> {
        let Ok(mut url) = reqwest::Url::parse(&format!("http://{}/", self.address)) else { return Routed::Direct };
        if let Ok(mut path) = url.path_segments_mut() {
            path.clear().extend(["api", "v1", "accounts", email, what]);
        }
        let sent = self.client.get(url).query(query).bearer_auth(self.key.expose()).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                refused(self.address, &format!("it did not answer ({e})"));
                return Routed::Direct;
            }
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Routed::Done(Err(broken(self.address, &e.to_string()))),
        };
        if status.is_success() {
            return Routed::Done(serde_json::from_slice(&body).map_err(|e| broken(self.address, &e.to_string())));
        }
        let Ok(ErrorBody { error }) = serde_json::from_slice(&body) else {
            return Routed::Done(Err(broken(self.address, &format!("status {status}"))));
        };
        if matches!(error.code.as_str(), "missing_key" | "invalid_key" | "forbidden_scope") {
            refused(self.address, &format!("it refused the app's API key: {}", error.message));
            return Routed::Direct;
        }
        Routed::Done(Err(Failure { code: error.code, message: error.message }))
    }
}

/// An answer the CLI cannot read.
fn broken(address: SocketAddr, what: &str) -> Failure {
    Failure {
        code: "internal".into(),
        message: format!(
            "cannot read the answer of the Mailwatch server at http://{address} ({what}); run the command again with --direct"
        ),
    }
}
