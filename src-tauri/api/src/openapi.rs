//! The OpenAPI document, generated from the handlers' types and annotations.

use axum::Json;
use utoipa::OpenApi;

use crate::routes;

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mailwatch local API",
        description = "Accounts, messages and verification codes over the engine's one pool. Keys: Authorization: Bearer KEY or X-API-Key: KEY. Errors: {\"error\": {\"code\", \"message\"}}. Live events: GET /api/v1/stream (WebSocket) and GET /api/v1/events (SSE)."
    ),
    paths(
        routes::health,
        routes::accounts::list,
        routes::accounts::one,
        routes::accounts::add,
        routes::accounts::remove,
        routes::accounts::import,
        routes::messages::list,
        routes::messages::one,
        routes::codes::code,
        routes::codes::history,
        routes::stats::stats,
        routes::stats::metrics,
        routes::compat::mail_new,
        routes::compat::mail_all,
    ),
    components(schemas(crate::error::ErrorBody, crate::keys::Scope, crate::stream::Kind))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`. Needs no key: it describes the API, not the data.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
