//! Messages: the newest of an account's inbox, junk or both, and one by UID.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mailwatch_engine::EngineError;
use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::store::CachedMessage;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::keys::Scope;
use crate::server::AppState;

/// Which messages.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// inbox (default), junk, both, or a folder's name.
    pub folder: Option<String>,
    /// How many of the newest (default `cache.listTop`, at most `cache.maxTop`).
    pub top: Option<usize>,
    /// Only mail received at or after this Unix time.
    pub since: Option<i64>,
    /// Only mail whose sender contains this text (any case).
    pub from_contains: Option<String>,
    /// Only mail whose subject contains this text (any case).
    pub subject_contains: Option<String>,
    /// Ask the server even when the cache is fresh.
    pub refresh: Option<bool>,
}

/// The newest messages, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageList {
    /// With what extraction found in each (as `mailwatch-cli fetch --json`).
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<CachedMessage>,
}

/// The newest messages of an account. The filters apply to the newest `top` of each folder;
/// answered from the cache while it is fresh (`cache.messageTtl`) unless `refresh=true`.
#[utoipa::path(get, path = "/api/v1/accounts/{email}/messages", tag = "mail",
    params(("email" = String, Path, description = "The address"), MessagesQuery),
    responses((status = 200, body = MessageList), (status = 404, body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(email): ApiPath<String>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<Json<MessageList>, ApiError> {
    caller.need(Scope::MailRead)?;
    let email = caller.account(&email)?;
    Ok(Json(MessageList { messages: newest(&state, &email, &q).await? }))
}

/// The newest messages as [`list`] finds them; the compatibility routes use it too.
pub(crate) async fn newest(state: &AppState, email: &str, q: &MessagesQuery) -> Result<Vec<CachedMessage>, ApiError> {
    let engine = &state.engine;
    let top = q.top.unwrap_or(engine.config().cache.list_top);
    let use_cache = !q.refresh.unwrap_or(false);
    let folder = q.folder.as_deref().unwrap_or("inbox");
    let mut messages = if folder.eq_ignore_ascii_case("both") {
        let mut all = engine.fetch(email, &FolderSpec::Inbox, top, use_cache).await?;
        match engine.fetch(email, &FolderSpec::Junk, top, use_cache).await {
            Ok(junk) => all.extend(junk),
            // An account without a junk folder has nothing there.
            Err(EngineError::Imap(mailwatch_engine::imap::ImapError::NoSuchFolder { .. })) => {}
            Err(e) => return Err(e.into()),
        }
        all.sort_by_key(|m| std::cmp::Reverse(m.received));
        all.truncate(top);
        all
    } else {
        let spec: FolderSpec = folder.parse().unwrap_or(FolderSpec::Inbox);
        engine.fetch(email, &spec, top, use_cache).await?
    };
    let contains = |field: &Option<String>, needle: &Option<String>| match needle {
        None => true,
        Some(n) => field.as_deref().is_some_and(|f| f.to_lowercase().contains(&n.to_lowercase())),
    };
    messages.retain(|m| {
        q.since.is_none_or(|s| m.received.is_some_and(|r| r >= s))
            && contains(&m.from, &q.from_contains)
            && contains(&m.subject, &q.subject_contains)
    });
    Ok(messages)
}

/// One message's options.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    /// inbox (default), junk, or a folder's name.
    pub folder: Option<String>,
    /// Answer the RFC 5322 text itself (`message/rfc822`) instead of the viewer's JSON.
    pub raw: Option<bool>,
}

/// One message by UID, as the viewer shows it, or raw.
#[utoipa::path(get, path = "/api/v1/accounts/{email}/messages/{uid}", tag = "mail",
    params(("email" = String, Path, description = "The address"), ("uid" = u32, Path, description = "The UID"), MessageQuery),
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath((email, uid)): ApiPath<(String, u32)>,
    ApiQuery(q): ApiQuery<MessageQuery>,
) -> Result<Response, ApiError> {
    caller.need(Scope::MailRead)?;
    let email = caller.account(&email)?;
    let folder: FolderSpec = q.folder.as_deref().unwrap_or("inbox").parse().unwrap_or(FolderSpec::Inbox);
    if q.raw.unwrap_or(false) {
        let raw = state.engine.message(&email, &folder, uid).await?;
        return Ok(([(header::CONTENT_TYPE, "message/rfc822")], raw).into_response());
    }
    Ok(Json(state.engine.message_view(&email, &folder, uid).await?).into_response())
}
