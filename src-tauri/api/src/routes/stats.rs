//! The counters: JSON, and the Prometheus text format.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mailwatch_engine::engine::EngineStats;
use serde::Serialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::keys::Scope;
use crate::metrics::{ApiStats, prometheus_text};
use crate::server::AppState;

/// The engine's counters (pool, watch, client cache, TLS, sending) and the API's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// As `mailwatch-cli stats --json` prints them for this process.
    #[schema(value_type = Object)]
    pub engine: EngineStats,
    /// Streams, events, requests by status class, rate-limited requests, waits.
    pub api: ApiStats,
}

/// The counters as JSON.
#[utoipa::path(get, path = "/api/v1/stats", tag = "stats", responses((status = 200, body = Stats)))]
pub async fn stats(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Stats>, ApiError> {
    caller.need(Scope::StatsRead)?;
    Ok(Json(Stats { engine: state.engine.stats(), api: state.counters.snapshot() }))
}

/// The counters in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "stats",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
    caller.need(Scope::StatsRead)?;
    let text = prometheus_text(&state.engine.stats(), &state.counters.snapshot());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}
