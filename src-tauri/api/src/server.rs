//! The server: its state, its routes, the headers every answer gets, where it may listen,
//! and how it stops.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use mailwatch_engine::config::ApiConfig;
use mailwatch_engine::{Engine, EngineError};

use crate::auth::{KeyCache, RateLimiter};
use crate::metrics::ApiCounters;
use crate::routes;
use crate::stream::{self, Hub};

/// After the stop signal, how long open requests (waits, streams closing) get to finish before
/// the owner stops waiting for the server; `serve` and the app's Local API both wait this long.
pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// What every handler shares.
pub struct AppState {
    /// The engine: the app's or `serve`'s one pool, watches and limits.
    pub engine: Arc<Engine>,
    /// The API's limits (`api.*`).
    pub config: ApiConfig,
    pub(crate) keys: KeyCache,
    pub(crate) limiter: RateLimiter,
    /// The live streams.
    pub hub: Arc<Hub>,
    pub(crate) counters: Arc<ApiCounters>,
}

/// The local API over one engine.
pub struct Api {
    state: Arc<AppState>,
}

/// Whether the server may listen on `addr`: loopback always; any other address only with
/// `allow_remote`, and then with a warning to print that says what that exposes.
///
/// # Errors
/// [`EngineError::InvalidInput`] for a non-loopback address without `allow_remote`.
pub fn check_listen(addr: SocketAddr, allow_remote: bool) -> Result<Option<String>, EngineError> {
    if addr.ip().is_loopback() {
        return Ok(None);
    }
    if !allow_remote {
        return Err(EngineError::InvalidInput(format!(
            "cannot listen on {addr}: it is not a loopback address, so other machines could reach the API; listen on 127.0.0.1, or pass --allow-remote if that is what you want"
        )));
    }
    Ok(Some(format!(
        "warning: listening on {addr}, which other machines can reach: anyone who can connect and holds a key can read codes and messages and, with accounts:write, add and remove accounts; the API speaks plain HTTP, so keys and codes cross the network unencrypted (put it behind a TLS proxy or an SSH tunnel)"
    )))
}

impl Api {
    /// The API over `engine`, whose events reach the streams through `hub` (open the engine
    /// with [`Hub::sink`]). Its limits are `engine.config().api`.
    pub fn new(engine: Arc<Engine>, hub: Arc<Hub>) -> Api {
        let config = engine.config().api.clone();
        hub.set_max_streams(config.max_streams);
        let state = Arc::new(AppState {
            keys: KeyCache::new(),
            limiter: RateLimiter::new(config.rate_limit, config.rate_burst),
            counters: hub.counters().clone(),
            hub,
            config,
            engine,
        });
        Api { state }
    }

    /// The shared state (the tests read the counters through it).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Every route, with the headers and limits every answer gets.
    pub fn router(&self) -> Router {
        let v1 = Router::new()
            .route("/health", get(routes::health))
            .route("/openapi.json", get(crate::openapi::document))
            .route("/accounts", get(routes::accounts::list).post(routes::accounts::add))
            .route("/accounts/import", post(routes::accounts::import))
            .route("/accounts/{email}", get(routes::accounts::one).delete(routes::accounts::remove))
            .route("/accounts/{email}/messages", get(routes::messages::list))
            .route("/accounts/{email}/messages/{uid}", get(routes::messages::one))
            .route("/accounts/{email}/code", get(routes::codes::code))
            .route("/codes", get(routes::codes::history))
            .route("/stats", get(routes::stats::stats))
            .route("/stream", get(stream::websocket))
            .route("/events", get(stream::server_sent_events));
        Router::new()
            .nest("/api/v1", v1)
            .route("/metrics", get(routes::stats::metrics))
            .merge(routes::compat::router())
            .fallback(routes::not_found)
            .layer(DefaultBodyLimit::max(self.state.config.max_body_bytes))
            .layer(middleware::from_fn_with_state(self.state.clone(), every_answer))
            .with_state(self.state.clone())
    }

    /// Serves until `shutdown` completes, then closes every stream (WebSocket close frames),
    /// ends every wait, and waits for the open requests to finish. The engine is the
    /// caller's to shut down afterwards.
    ///
    /// # Errors
    /// The listener failed.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let closing = self.state.hub.closing().clone();
        let app = self.router();
        // An event is one small write per stream: Nagle's algorithm would hold it back while an
        // earlier write waits for its ACK.
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "cannot set TCP_NODELAY on a connection");
            }
        });
        axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(async move {
                shutdown.await;
                closing.cancel();
            })
            .await
    }
}

/// Every answer: `Cache-Control: no-store` (codes and messages must not sit in a cache), and
/// counted by status class.
async fn every_answer(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    state.counters.count_status(response.status().as_u16());
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
