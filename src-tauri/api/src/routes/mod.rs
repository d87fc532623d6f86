//! The handlers, one file per area. Each checks the key's scope and account patterns first,
//! then calls the engine; errors leave as [`ApiError`]s.

pub mod accounts;
pub mod codes;
pub mod compat;
pub mod messages;
pub mod stats;

use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;

use crate::error::ApiError;

/// `GET /api/v1/health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always true when the server answers.
    pub up: bool,
    /// Mailwatch's version.
    pub version: String,
}

/// Whether the server is up, and its version. Needs no key.
#[utoipa::path(get, path = "/api/v1/health", tag = "health", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { up: true, version: env!("CARGO_PKG_VERSION").to_string() })
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "there is no such endpoint; the endpoints are listed at /api/v1/openapi.json",
    )
}
