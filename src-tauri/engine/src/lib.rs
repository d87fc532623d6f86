//! Mailwatch's engine: every rule of the product, with no dependency on Tauri, so that it
//! builds and tests headless. The desktop shell and `mailwatch-cli` are thin layers over
//! [`Engine`].
//!
//! # Module map
//!
//! | module      | what it owns                                                                 |
//! |-------------|------------------------------------------------------------------------------|
//! | [`config`]  | every limit (TTLs, caps, timeouts, concurrency) with its documented default |
//! | [`account`] | accounts, providers, per-domain presets and endpoint overrides               |
//! | [`secrets`] | refresh tokens and passwords, kept only in the OS keyring                    |
//! | [`oauth`]   | OAuth2 refresh over one pooled HTTP client, access-token cache, rotation     |
//! | [`imap`]    | TLS connect, XOAUTH2/LOGIN, folder discovery, fetching messages by UID       |
//! | [`pool`]    | plan A: one reusable session per account, limits, waits, stats, the reaper   |
//! | [`store`]   | the SQLite cache: accounts (no secrets), folder state, messages, codes       |
//! | [`extract`] | verification codes, links and services found in a raw message               |
//! | [`engine`]  | [`Engine`]: the facade the shell and the CLI call, and the client cache      |
//! | [`watch`]   | watched accounts: IDLE for the ones waited on, round-robin polls for the rest |
//! | [`import`]  | account files in suppliers' formats: detection, parsing, line errors, export |
//! | [`keeper`]  | background jobs: the token keeper and the background sync, stop on shutdown  |
//! | [`events`]  | [`events::EventSink`]: how the engine reports to a UI                        |
//! | [`redact`]  | masking addresses for output that may be shared                              |
//!
//! Data flows one way: a caller asks [`Engine`] for messages; the engine takes the account
//! from the [`store`], its secret from [`secrets`], an access token from [`oauth`], a session
//! from the [`pool`] (which connects through [`imap`]), runs [`extract`] on each new message
//! and writes the results back to the [`store`].

pub mod account;
pub mod config;
pub mod engine;
pub mod events;
pub use mailwatch_extract as extract;
pub mod imap;
pub mod import;
pub mod keeper;
pub mod oauth;
pub mod pool;
pub mod redact;
pub mod secrets;
pub mod store;
pub mod watch;

pub use engine::{Engine, EngineError};
