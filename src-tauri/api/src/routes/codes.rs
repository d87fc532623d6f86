//! Codes: the newest code of an account, waiting for one through the account's single watch,
//! and the history across accounts.
//!
//! A wait that sees no code in time answers 200 with every field null, not 504: a timeout
//! is an expected outcome for a script that polls in a loop, and the fixed shape saves it a
//! second code path. Errors that waiting will not fix (sign-in refused, server unreachable)
//! come back as errors at once.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use mailwatch_engine::store::CodeRecord;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::keys::Scope;
use crate::metrics::ApiCounters;
use crate::server::AppState;

/// The code answer: every field null when no code came in time (and then `id`, `email`,
/// `foundAt` and `uid` are left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeAnswer {
    /// The code as the user types it.
    pub code: Option<String>,
    /// The verification link.
    pub link: Option<String>,
    /// The sending service.
    pub service: Option<String>,
    /// The sender.
    pub from: Option<String>,
    /// The subject.
    pub subject: Option<String>,
    /// When the message arrived, Unix seconds.
    pub received: Option<i64>,
    /// The folder it was in: inbox or junk.
    pub folder: Option<String>,
    /// The codes history's row id (as `mailwatch-cli wait-code --json` prints it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The account, as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When Mailwatch found it, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_at: Option<i64>,
    /// The message's UID in its folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
}

impl From<CodeRecord> for CodeAnswer {
    fn from(r: CodeRecord) -> CodeAnswer {
        CodeAnswer {
            code: r.code,
            link: r.link,
            service: r.service,
            from: r.from,
            subject: r.subject,
            received: r.received,
            folder: Some(r.folder),
            id: Some(r.id),
            email: Some(r.email),
            found_at: Some(r.found_at),
            uid: Some(r.uid),
        }
    }
}

/// `?wait=` and `?since=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
    /// Wait up to this many seconds (at most `api.maxWait`, 300) for a code in mail that
    /// arrives after the request started; 0 or absent answers from the cache at once.
    pub wait: Option<f64>,
    /// Only mail received at or after this Unix time counts (with `wait`, a code already
    /// there from after `since` answers at once).
    pub since: Option<i64>,
}

/// Counts a wait while it runs.
struct WaitGuard(Arc<ApiCounters>);

impl Drop for WaitGuard {
    fn drop(&mut self) {
        self.0.waits_open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The code for `email` as `GET .../code` answers it; the WebSocket's `wait` uses it too.
pub(crate) async fn find_code(
    state: &AppState,
    caller: &Caller,
    email: &str,
    since: Option<i64>,
    wait: Duration,
) -> Result<CodeAnswer, ApiError> {
    caller.need(Scope::CodesRead)?;
    let email = caller.account(email)?;
    let counts = |r: &CodeRecord| since.is_none_or(|s| r.received.unwrap_or(r.found_at) >= s);
    if wait.is_zero() {
        let last = state.engine.last_code(&email).await?;
        return Ok(last.filter(counts).map(CodeAnswer::from).unwrap_or_default());
    }
    if wait > state.config.max_wait {
        return Err(ApiError::bad_request(format!(
            "cannot wait {} s: the most is {} s (api.maxWait)",
            wait.as_secs_f64(),
            state.config.max_wait.as_secs_f64()
        )));
    }
    // Subscribe before looking at the history, so a code that lands in between is not lost.
    let mut sub = state.engine.subscribe_codes(&email).await?;
    if since.is_some() {
        let closing = state.hub.closing();
        tokio::select! {
            _ = tokio::time::timeout(wait, sub.ready()) => {}
            _ = closing.cancelled() => return Err(ApiError::shutting_down()),
        }
        if let Some(found) = state.engine.last_code(&email).await?.filter(counts) {
            return Ok(found.into());
        }
    }
    state.counters.waits_open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _counted = WaitGuard(state.counters.clone());
    let folders: Vec<String> = state.engine.wait_options().folders.iter().map(ToString::to_string).collect();
    tokio::select! {
        found = tokio::time::timeout(wait, sub.next(&folders)) => match found {
            Ok(Ok(record)) => Ok(record.into()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Ok(CodeAnswer::default()),
        },
        _ = state.hub.closing().cancelled() => Err(ApiError::shutting_down()),
    }
}

/// The newest code of an account, or with `wait` the next one to arrive (through the
/// account's one watch: any number of waits share one IMAP session).
#[utoipa::path(get, path = "/api/v1/accounts/{email}/code", tag = "codes",
    params(("email" = String, Path, description = "The address"), CodeQuery),
    responses((status = 200, body = CodeAnswer, description = "The code; every field null if none came in time"),
        (status = 404, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn code(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(email): ApiPath<String>,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> Result<Json<CodeAnswer>, ApiError> {
    let wait = match q.wait {
        None => Duration::ZERO,
        Some(w) => Duration::try_from_secs_f64(w)
            .map_err(|_| ApiError::bad_request("cannot wait: wait must be a non-negative number of seconds"))?,
    };
    Ok(Json(find_code(&state, &caller, &email, q.since, wait).await?))
}

/// `?limit=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// At most this many (default 50, at most `cache.maxTop`).
    pub limit: Option<usize>,
}

/// The codes history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeHistory {
    /// Codes found, most recently found first, in the accounts the key sees.
    #[schema(value_type = Vec<Object>)]
    pub codes: Vec<CodeRecord>,
}

/// The codes history across the accounts the key sees, newest first.
#[utoipa::path(get, path = "/api/v1/codes", tag = "codes", params(HistoryQuery),
    responses((status = 200, body = CodeHistory)))]
pub async fn history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<CodeHistory>, ApiError> {
    caller.need(Scope::CodesRead)?;
    let limit = q.limit.unwrap_or(50);
    let codes = state.engine.recent_codes(limit).await?.into_iter().filter(|c| caller.key.sees(&c.email)).collect();
    Ok(Json(CodeHistory { codes }))
}
