//! Mailwatch's engine: every rule of the product, with no dependency on Tauri, so that it
//! builds and tests headless. The desktop shell and `mailwatch-cli` are thin layers over
//! [`Engine`].
//!
//! # Module map
//!
//! Layers, top to bottom. A module uses only modules in its own row or the rows below it,
//! never one above, and no two modules use each other; `tests/engine/layers.rs` reads this
//! table and checks every `crate::` path against it.
//!
//! | layer | modules | what they own |
//! |-------|---------|---------------|
//! | 1 | [`keeper`] | background jobs: the token keeper, the background sync of watched accounts |
//! | 2 | [`engine`] | [`Engine`]: the facade the shell and the CLI call; sequences the layers below |
//! | 3 | [`watch`] | watched accounts: the user's choice and pause, IDLE for each within a budget, round-robin polls past it, the login budget, delta rounds for accounts read through Graph |
//! | 4 | [`intake`] | what a fetch brings home: extraction, the cache, and when a code is news |
//! | 4 | [`channel`] | which way an account is read (IMAP or Microsoft Graph), falling back and back again; reading through Graph into the same cache |
//! | 4 | [`signin`] | one account's sign-in: client cache, access tokens, rotation, status changes; how the pool logs in |
//! | 4 | [`import`] | account files: formats, line errors, the import transaction, export |
//! | 4 | [`outbox`] | sending: one reused SMTP connection per account, its limits and pace, batches and their journal |
//! | 5 | [`progress`] | how a batch job reports progress, is cancelled and runs its accounts |
//! | 6 | [`error`], [`events`] | the engine's one error type; how the engine reports to a UI |
//! | 7 | [`pool`] | one reusable session per account, limits, waits, stats, the reaper |
//! | 7 | [`imap`] | TLS connect, XOAUTH2/LOGIN, folder discovery, fetching by UID, IDLE |
//! | 7 | [`smtp`] | SMTP submission: TLS, XOAUTH2/PLAIN/LOGIN, a pipelined send that knows whether the data went, composing messages |
//! | 7 | [`oauth`] | OAuth2 refresh over one pooled HTTP client |
//! | 7 | [`graph`] | Microsoft Graph's mail API over one pooled HTTP client: listings, raw MIME, delta rounds, throttling |
//! | 7 | [`store`] | the SQLite cache: accounts (no secrets), folder state, messages, codes, settings |
//! | 8 | [`account`] | accounts, providers, per-domain presets and endpoint overrides |
//! | 8 | [`secrets`] | refresh tokens and passwords, kept only in the OS keyring |
//! | 8 | [`net`] | dialing TCP directly or through the account's proxy (SOCKS5, HTTP CONNECT); proxy URLs and templates |
//! | 8 | [`config`] | every limit (TTLs, caps, timeouts, concurrency) with its documented default |
//! | 8 | [`extract`] | verification codes, links and services in a raw message (its own crate) |
//! | 8 | [`view`], [`redact`], `clock` | a message as the viewer shows it; masking addresses, quiet protocol logs; the wall clock |
//!
//! A fetch goes down and comes back up once: the [`Engine`] (or a watch) takes a session
//! from the [`pool`], which logs in through [`signin`] (the account from the [`store`], its
//! secret from [`secrets`], an access token from [`oauth`], the connection from [`imap`]);
//! the messages fetched go through [`intake`], which runs [`extract`], writes the [`store`]
//! and announces the codes that are news through [`events`]. A send goes the same way through
//! the [`outbox`], its own pool of SMTP connections, which sign in through [`signin`] and
//! speak [`smtp`].

pub mod keeper;

pub mod engine;

pub mod watch;

pub mod channel;
pub mod intake;
pub mod outbox;
pub mod signin;

pub mod graph;
pub mod imap;
pub mod import;
pub mod oauth;
pub mod pool;
pub mod smtp;
pub mod store;

pub mod account;
pub mod config;
pub mod net;
pub use mailwatch_extract as extract;
pub mod secrets;
pub mod view;

mod clock;
pub mod error;
pub mod events;
pub mod progress;
pub mod redact;

pub use engine::Engine;
pub use error::EngineError;
