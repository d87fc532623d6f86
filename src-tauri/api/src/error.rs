//! The API's one error shape, `{"error": {"code", "message"}}`, with the engine's codes and
//! the HTTP status that fits each, and the extractors whose rejections take that shape too
//! (bad JSON, unknown fields, oversized bodies), so no request is ever answered in another.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mailwatch_engine::EngineError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An error answer: a status, a stable snake_case code and a sentence saying what happened
/// and what to do. Never carries a secret.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code clients branch on (the engine's, or the API's own).
    pub code: &'static str,
    /// What happened and what to do.
    pub message: String,
    /// Seconds until a rate-limited key may try again.
    pub retry_after: Option<u64>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The code and the sentence of an error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case name: `unknown_account`, `invalid_key`, `rate_limited`, ...
    pub code: String,
    /// What happened and what to do, in words.
    pub message: String,
}

impl ApiError {
    /// An error with a status, a code and a sentence.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// 400: the request cannot be carried out as given.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    /// 404 for an account the key may not see, worded as for one that does not exist, so the
    /// answer does not tell whether it does.
    pub fn unknown_account(email: &str) -> ApiError {
        ApiError::from(EngineError::UnknownAccount { email: email.to_string() })
    }

    /// 503: the server is shutting down.
    pub fn shutting_down() -> ApiError {
        ApiError::from(EngineError::Closed)
    }
}

/// The status for each of the engine's codes: the caller's mistakes are 4xx, the mail
/// server's or the token endpoint's failures 502 (504 when they timed out), a busy pool or
/// keyring 503.
fn status_of(code: &str) -> StatusCode {
    match code {
        "invalid_account" | "invalid_input" | "invalid_settings" | "not_oauth" | "invalid_message"
        | "no_smtp_server" => StatusCode::BAD_REQUEST,
        "unknown_account" | "message_gone" | "unknown_folder" => StatusCode::NOT_FOUND,
        "missing_secret" => StatusCode::CONFLICT,
        "needs_reauth"
        | "auth_failed"
        | "scope_not_granted"
        | "server_unreachable"
        | "tls_error"
        | "token_endpoint_unreachable"
        | "oauth_error"
        | "imap_error"
        | "server_connection_limit"
        | "smtp_error"
        | "smtp_deferred"
        | "smtp_refused" => StatusCode::BAD_GATEWAY,
        "timeout" | "wait_timed_out" => StatusCode::GATEWAY_TIMEOUT,
        "pool_exhausted"
        | "keyring_unavailable"
        | "keyring_locked"
        | "keyring_busy"
        | "shutting_down"
        | "throttled" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let code = e.code();
        ApiError::new(status_of(code), code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The answer for a body, query or path the framework refused, by its status.
fn rejected(status: StatusCode, what: &str, detail: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "body_too_large",
            format!("cannot read the {what}: it is larger than api.maxBodyBytes allows; send less, or raise the limit"),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            format!("cannot read the {what}: send it with Content-Type: application/json"),
        ),
        _ => ApiError::bad_request(format!("cannot read the {what}: {detail}")),
    }
}

/// A JSON body whose rejections are [`ApiError`]s. Unknown fields are refused by the body
/// types themselves (`deny_unknown_fields`).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(rejected(e.status(), "JSON body", e.body_text())),
        }
    }
}

/// A query string whose rejections are [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(rejected(e.status(), "query string", e.body_text())),
        }
    }
}

/// Path parameters whose rejections are [`ApiError`]s.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(rejected(e.status(), "path", e.body_text())),
        }
    }
}

/// A raw body (an import file) whose rejections are [`ApiError`]s.
pub struct ApiBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(ApiBody(b)),
            Err(e) => Err(rejected(e.status(), "body", e.body_text())),
        }
    }
}
