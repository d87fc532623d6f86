//! Accounts: list, one, add (the secret straight to the keyring), remove, import.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mailwatch_engine::EngineError;
use mailwatch_engine::account::{Account, AccountSpec, Provider, Tls};
use mailwatch_engine::engine::NewSecret;
use mailwatch_engine::import::{ImportFormat, ImportOptions, MergeMode};
use mailwatch_engine::progress::BatchControl;
use mailwatch_engine::secrets::Secret;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::{ApiBody, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::keys::Scope;
use crate::server::AppState;

/// The filters and the page of `GET /api/v1/accounts`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only accounts with this status (`ok`, `needs-reauth`, ...).
    pub status: Option<String>,
    /// Only addresses containing this text.
    pub search: Option<String>,
    /// Skip this many (default 0).
    pub offset: Option<usize>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// A page of accounts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountPage {
    /// Accounts matching the filters, before paging.
    pub total: usize,
    /// Where this page starts.
    pub offset: usize,
    /// The accounts, in the order they were added (as `mailwatch-cli accounts list --json`).
    #[schema(value_type = Vec<Object>)]
    pub accounts: Vec<Account>,
}

/// The accounts the key sees, filtered and paged.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(ListQuery),
    responses((status = 200, body = AccountPage), (status = 401, body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<AccountPage>, ApiError> {
    caller.need(Scope::AccountsRead)?;
    let search = q.search.as_deref().map(str::to_lowercase);
    let all: Vec<Account> = state
        .engine
        .accounts()
        .await?
        .into_iter()
        .filter(|a| caller.key.sees(&a.email))
        .filter(|a| q.status.as_deref().is_none_or(|s| a.status.as_str() == s))
        .filter(|a| search.as_deref().is_none_or(|s| a.email.contains(s)))
        .collect();
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).min(1000);
    let total = all.len();
    Ok(Json(AccountPage { total, offset, accounts: all.into_iter().skip(offset).take(limit).collect() }))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/accounts/{email}", tag = "accounts",
    params(("email" = String, Path, description = "The address")),
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(email): ApiPath<String>,
) -> Result<Json<Account>, ApiError> {
    caller.need(Scope::AccountsRead)?;
    let email = caller.account(&email)?;
    Ok(Json(state.engine.account(&email).await?))
}

/// A new account: its address, its secret (a password or a refresh token, which goes
/// straight to the keyring), and any server details the domain's preset does not give.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAccount {
    /// The address.
    pub email: String,
    /// A password or app password.
    pub password: Option<String>,
    /// An OAuth2 refresh token.
    pub refresh_token: Option<String>,
    /// outlook, gmail or imap.
    #[schema(value_type = Option<String>)]
    pub provider: Option<Provider>,
    /// OAuth2 client id.
    pub client_id: Option<String>,
    /// IMAP host.
    pub imap_host: Option<String>,
    /// IMAP port.
    pub imap_port: Option<u16>,
    /// implicit or starttls.
    #[schema(value_type = Option<String>)]
    pub tls: Option<Tls>,
    /// OAuth2 token endpoint.
    pub token_url: Option<String>,
    /// SMTP host.
    pub smtp_host: Option<String>,
    /// SMTP port.
    pub smtp_port: Option<u16>,
    /// implicit or starttls, for SMTP.
    #[schema(value_type = Option<String>)]
    pub smtp_tls: Option<Tls>,
}

/// Adds an account; 409 if it is already known (remove it first to replace it).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = NewAccount,
    responses((status = 201, body = Object), (status = 400, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
pub async fn add(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<NewAccount>,
) -> Result<Response, ApiError> {
    caller.need(Scope::AccountsWrite)?;
    let email = body.email.trim().to_lowercase();
    if !caller.key.sees(&email) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_account",
            format!("cannot add {email} with the key {}: it is limited to other accounts", caller.key.id),
        ));
    }
    let secret = match (body.password, body.refresh_token) {
        (Some(p), None) => NewSecret::Password(Secret::new(p)),
        (None, Some(t)) => NewSecret::RefreshToken(Secret::new(t)),
        _ => {
            return Err(ApiError::bad_request(
                "say how the account signs in: give either \"password\" or \"refreshToken\", not both",
            ));
        }
    };
    match state.engine.account(&email).await {
        Ok(_) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "account_exists",
                format!("cannot add {email}: it is already known; remove it first to add it again"),
            ));
        }
        Err(EngineError::UnknownAccount { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let spec = AccountSpec {
        email,
        provider: body.provider,
        auth: None,
        client_id: body.client_id,
        imap_host: body.imap_host,
        imap_port: body.imap_port,
        tls: body.tls,
        token_url: body.token_url,
        scope: None,
        smtp_host: body.smtp_host,
        smtp_port: body.smtp_port,
        smtp_tls: body.smtp_tls,
        ..Default::default()
    };
    let account = state.engine.add_account(&spec, secret).await?;
    Ok((StatusCode::CREATED, Json(account)).into_response())
}

/// Removes an account, its cache and its keyring entry.
#[utoipa::path(delete, path = "/api/v1/accounts/{email}", tag = "accounts",
    params(("email" = String, Path, description = "The address")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(email): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.need(Scope::AccountsWrite)?;
    let email = caller.account(&email)?;
    state.engine.remove_account(&email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How to import.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportQuery {
    /// Report what would happen and write nothing.
    pub dry_run: Option<bool>,
    /// auto (default), dash, csv or json.
    #[param(value_type = Option<String>)]
    pub format: Option<ImportFormat>,
    /// update (default), skip or replace.
    #[param(value_type = Option<String>)]
    pub merge: Option<MergeMode>,
    /// With merge=replace: known accounts absent from the file may be removed.
    pub confirm_removal: Option<bool>,
    /// Verify every added or updated account afterwards.
    pub verify: Option<bool>,
}

/// Imports an account file (its text is the body), answering the same report as
/// `mailwatch-cli import --json`. Only a key that sees every account may import.
#[utoipa::path(post, path = "/api/v1/accounts/import", tag = "accounts", params(ImportQuery),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = Object), (status = 403, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody)))]
pub async fn import(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ImportQuery>,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    caller.need(Scope::AccountsWrite)?;
    if !caller.key.accounts.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_account",
            format!(
                "cannot import with the key {}: it is limited to some accounts, and a file may name any",
                caller.key.id
            ),
        ));
    }
    let options = ImportOptions {
        format: q.format.unwrap_or_default(),
        merge: q.merge.unwrap_or_default(),
        dry_run: q.dry_run.unwrap_or(false),
        confirm_removal: q.confirm_removal.unwrap_or(false),
        verify: q.verify.unwrap_or(false),
        ..Default::default()
    };
    let report = state.engine.import(&body, &options, &BatchControl::default()).await?;
    Ok(Json(report).into_response())
}
