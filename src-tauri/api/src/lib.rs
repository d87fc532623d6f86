//! Mailwatch's local automation API: HTTP, WebSocket and Server-Sent Events over the same
//! [`Engine`](mailwatch_engine::Engine) as the app, so every request shares its one session
//! per account, its watches and its limits. No Tauri here, and the engine knows nothing of
//! HTTP: this crate is the only place the two meet.
//!
//! | module | what it owns |
//! |--------|--------------|
//! | [`server`] | the state, the routes, `Cache-Control: no-store`, where it may listen, graceful shutdown |
//! | [`routes`] | the handlers: health, accounts, messages, codes, stats, the compatibility aliases |
//! | [`stream`] | the hub that fans engine events out to WebSocket and SSE clients, with their limits |
//! | [`auth`] | the key in a request, its scopes and account patterns, the per-key rate limit |
//! | [`discovery`] | the file in the data directory that tells the CLI where a running server listens |
//! | [`keys`] | making, listing and revoking keys; only their hashes are stored |
//! | [`metrics`] | the API's counters and the Prometheus text |
//! | [`error`] | `{"error": {"code", "message"}}` with the right status, for every rejection too |
//! | [`openapi`] | the OpenAPI document, generated from the handlers |

pub mod auth;
pub mod discovery;
pub mod error;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod stream;

pub use error::ApiError;
pub use server::{Api, check_listen};
pub use stream::Hub;
