//! Integration tests of the engine against the real test bed: Dovecot on loopback, the local
//! OAuth2 server, the fault proxy, a real Secret Service and real SQLite files.
//!
//! Run them inside the session `tests/testbed/with-session.sh` sets up (the README's test
//! command does).

mod support;

mod cache;
mod faults;
mod fetch_limits;
mod graph;
mod idle_refused;
mod import;
mod junk;
mod layers;
mod oauth;
mod pool_limits;
mod proxies;
mod push;
mod secrets;
mod send;
mod sessions;
mod throttle;
mod watch;
