//! Aliases in the URL shape of the Outlook mail-fetching services that many sign-up scripts
//! are written against: `GET /api/mail-new` (the newest message) and `GET /api/mail-all`
//! (the newest `top`), with `email`, `mailbox` (or `folder`) = INBOX | Junk, and `top`. They
//! map onto `GET /api/v1/accounts/{email}/messages`, so switching a script is a change of
//! host and key. The parameters those services use to sign in (`refresh_token`,
//! `client_id`, `password`) are accepted and ignored: the account must be known to
//! Mailwatch, whose keyring holds its secret. The key may come as `?access_token=` here too,
//! since such scripts often cannot add headers.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::messages::{MessageList, MessagesQuery, newest};
use crate::auth::Caller;
use crate::error::{ApiError, ApiQuery};
use crate::keys::Scope;
use crate::server::AppState;

/// The peer services' parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct CompatQuery {
    /// The address.
    pub email: String,
    /// INBOX (default) or Junk.
    pub mailbox: Option<String>,
    /// Same as `mailbox`.
    pub folder: Option<String>,
    /// How many of the newest (mail-all only).
    pub top: Option<usize>,
}

/// The alias routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/mail-new", get(mail_new)).route("/api/mail-all", get(mail_all))
}

fn folder(q: &CompatQuery) -> String {
    let f = q.mailbox.as_deref().or(q.folder.as_deref()).unwrap_or("INBOX");
    if f.eq_ignore_ascii_case("junk") || f.eq_ignore_ascii_case("junk email") || f.eq_ignore_ascii_case("spam") {
        "junk".into()
    } else {
        "inbox".into()
    }
}

async fn answer(state: &AppState, caller: &Caller, q: &CompatQuery, top: usize) -> Result<Json<MessageList>, ApiError> {
    caller.need(Scope::MailRead)?;
    let email = caller.account(&q.email)?;
    let query = MessagesQuery { folder: Some(folder(q)), top: Some(top), ..Default::default() };
    Ok(Json(MessageList { messages: newest(state, &email, &query).await? }))
}

/// The newest message of a mailbox.
#[utoipa::path(get, path = "/api/mail-new", tag = "compatibility", params(CompatQuery),
    responses((status = 200, body = MessageList)))]
pub async fn mail_new(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CompatQuery>,
) -> Result<Json<MessageList>, ApiError> {
    answer(&state, &caller, &q, 1).await
}

/// The newest `top` messages of a mailbox.
#[utoipa::path(get, path = "/api/mail-all", tag = "compatibility", params(CompatQuery),
    responses((status = 200, body = MessageList)))]
pub async fn mail_all(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CompatQuery>,
) -> Result<Json<MessageList>, ApiError> {
    let top = q.top.unwrap_or(state.engine.config().cache.list_top);
    answer(&state, &caller, &q, top).await
}
