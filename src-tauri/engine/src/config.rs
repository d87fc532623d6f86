//! Every limit the engine applies, in one place, with its default and why.
//!
//! The shell shows these in Settings and stores them in the cache's settings table; the CLI
//! takes them from the same table. Nothing else in the engine hard-codes a TTL, a cap or a
//! timeout.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits for the reusable IMAP sessions and the connections behind them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PoolConfig {
    /// Most sessions one account may hold open at once. 1 means one session per account,
    /// shared by every caller in turn. Many servers (Outlook among them) throttle above a few.
    pub max_per_account: usize,
    /// Most sessions open across all accounts, IDLE sessions of watched accounts included,
    /// so the servers never see more than this from Mailwatch. The default leaves room for
    /// `watch.maxIdleSessions` idling accounts plus the round robin and the user's fetches.
    pub max_total: usize,
    /// How long a caller waits for a session before it gets a "pool exhausted" error.
    #[serde(with = "secs")]
    pub wait_timeout: Duration,
    /// A session unused this long is closed by the reaper.
    #[serde(with = "secs")]
    pub idle_ttl: Duration,
    /// A session older than this is closed and replaced, however busy it is.
    #[serde(with = "secs")]
    pub max_age: Duration,
    /// A session idle for longer than this is checked with NOOP before it is handed out.
    #[serde(with = "secs")]
    pub health_check_after: Duration,
    /// TCP connect, TLS handshake and login together.
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    /// Any one IMAP command; a peer silent this long is treated as dead.
    #[serde(with = "secs")]
    pub command_timeout: Duration,
    /// How often the reaper looks for expired sessions.
    #[serde(with = "secs")]
    pub reap_interval: Duration,
    /// How long LOGOUT waits for the server's goodbye before the connection is dropped; a
    /// dead server must not hold up closing or quitting.
    #[serde(with = "secs")]
    pub logout_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_per_account: 1,
            max_total: 1100,
            wait_timeout: Duration::from_secs(30),
            idle_ttl: Duration::from_secs(300),
            max_age: Duration::from_secs(1800),
            health_check_after: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(20),
            command_timeout: Duration::from_secs(30),
            reap_interval: Duration::from_secs(15),
            logout_timeout: Duration::from_secs(1),
        }
    }
}

/// Limits for the OAuth2 token endpoint and the one HTTP client that talks to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpConfig {
    /// TCP and TLS connect to the token endpoint.
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    /// The whole request, connect included.
    #[serde(with = "secs")]
    pub request_timeout: Duration,
    /// Idle keep-alive connections kept per host.
    pub max_idle_per_host: usize,
    /// Token requests in flight to one host at once; more wait their turn.
    pub max_connections_per_host: usize,
    /// How long an idle keep-alive connection is kept.
    #[serde(with = "secs")]
    pub idle_timeout: Duration,
    /// An access token is refreshed this long before it expires.
    #[serde(with = "secs")]
    pub refresh_margin: Duration,
    /// TCP keep-alive probes on idle connections to the token endpoint, so a dead one is
    /// noticed before a refresh needs it.
    #[serde(with = "secs")]
    pub tcp_keepalive: Duration,
    /// How long an access token is taken to last when the endpoint does not say
    /// (`expires_in` is optional in RFC 6749); an hour is what Microsoft and Google issue.
    #[serde(with = "secs")]
    pub default_token_lifetime: Duration,
    /// Longest pause between attempts to store a rotated refresh token the keyring refused
    /// (a locked or full keyring); the pause doubles from one second. Until then the token
    /// is kept in memory and used.
    #[serde(with = "secs")]
    pub keyring_retry_max: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_idle_per_host: 16,
            max_connections_per_host: 8,
            idle_timeout: Duration::from_secs(90),
            refresh_margin: Duration::from_secs(300),
            tcp_keepalive: Duration::from_secs(60),
            default_token_lifetime: Duration::from_secs(3600),
            keyring_retry_max: Duration::from_secs(60),
        }
    }
}

/// Limits for the SQLite message cache and for waiting on codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CacheConfig {
    /// Cached messages younger than this are served without asking the server.
    #[serde(with = "secs")]
    pub message_ttl: Duration,
    /// How often an account someone waits on is polled when it cannot IDLE (no IDLE on the
    /// server, or `watch.maxIdleSessions` reached), its junk folder with it.
    #[serde(with = "secs")]
    pub poll_interval: Duration,
    /// Most messages fetched with content in one request, and most codes the codes feed
    /// lists at once.
    pub max_top: usize,
    /// How many of the newest messages a listing shows when the caller does not say.
    pub list_top: usize,
    /// How long a wait for a code lasts when the caller does not say.
    #[serde(with = "secs")]
    pub wait_timeout: Duration,
    /// Codes, sign-in links and cached messages older than this are deleted: they are
    /// credentials, and a month covers any sign-up flow. 0 keeps them forever.
    #[serde(with = "secs")]
    pub code_retention: Duration,
    /// Messages larger than this are fetched for their first this many bytes only
    /// (`BODY.PEEK[]<0.N>`), and a batch of fetched messages stops growing at about this
    /// many bytes. Default 4 MiB: verification mail is a few kilobytes and its code sits near
    /// the top, while mail is untrusted input, so a 25 MB mail bomb costs a session 4 MiB of
    /// memory, not 25 MB, and fetches within `pool.commandTimeout` at about 140 kB/s.
    pub max_message_bytes: usize,
    /// Most messages whose content one FETCH asks for; a poll with more new mail fetches it
    /// in several batches and moves its position after each, so a backlog that would take
    /// longer than `pool.commandTimeout` is not fetched again from the start forever.
    /// Default 50: a few hundred kilobytes of ordinary mail, one round trip per 50 messages.
    pub fetch_batch: usize,
    /// The message viewer parses at most this many bytes of a message; a larger one is
    /// shown from its start with a note, so a huge mail cannot stall the window.
    pub view_max_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            message_ttl: Duration::from_secs(60),
            poll_interval: Duration::from_secs(3),
            max_top: 200,
            list_top: 20,
            wait_timeout: Duration::from_secs(120),
            code_retention: Duration::from_secs(30 * 24 * 3600),
            max_message_bytes: 4 * 1024 * 1024,
            fetch_batch: 50,
            view_max_bytes: 2 * 1024 * 1024,
        }
    }
}

/// How watched accounts learn of new mail: IMAP IDLE for the accounts someone is waiting on
/// now, round-robin polling for the rest, all within the pool's limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WatchConfig {
    /// Use IMAP IDLE where the server advertises it; off means every watch polls.
    pub idle: bool,
    /// Most sessions held in IDLE at once, over all accounts: watched accounts and accounts
    /// someone waits on alike, first come first served. Each one is a checked-out session,
    /// so this is also capped at `pool.maxTotal` less `pollConcurrency` less one, to leave
    /// room for polling and for the user's own fetches. Accounts beyond it are polled (the
    /// round robin, or every `cache.pollInterval` while someone waits). An idle session
    /// costs about 60 KB in Mailwatch (TLS and IMAP buffers and one task) and one IMAP
    /// process at the server.
    pub max_idle_sessions: usize,
    /// IDLE is ended and issued again after this long (servers drop IDLE after 30 minutes).
    #[serde(with = "secs")]
    pub idle_renew: Duration,
    /// How often a watched account that does not idle (past `maxIdleSessions`, or on a
    /// server without IDLE) is polled by the round robin, and how often the junk folder of a
    /// watched account that idles on INBOX is checked with STATUS when nobody waits on it (or,
    /// as a safety net, when NOTIFY or a second session pushes it).
    #[serde(with = "secs")]
    pub poll_interval: Duration,
    /// Accounts polled at the same time by the round robin.
    pub poll_concurrency: usize,
    /// Most new sessions (TLS handshake and login) the round robin opens per second, over
    /// all accounts. With more watched accounts than sessions every poll is a login, so the
    /// round then takes `accounts / pollLoginRate` seconds when that is longer than
    /// `pollInterval`. Polls on a session still open and accounts someone waits on are not
    /// paced. 0 turns pacing off.
    pub poll_login_rate: f64,
    /// Longest pause between reconnection attempts after a lost connection; the pause
    /// starts at zero and doubles from `backoffMin`.
    #[serde(with = "secs")]
    pub backoff_max: Duration,
    /// The pause after the second failure in a row (the first retry is immediate, since a
    /// dead reused session is usually replaced at once).
    #[serde(with = "secs")]
    pub backoff_min: Duration,
    /// How much earlier than a wait's start a message may say it arrived and still count:
    /// covers clock skew between the server and this machine.
    #[serde(with = "secs")]
    pub arrival_slack: Duration,
    /// The first polls of accounts watched at once are spread over this many slots of one
    /// `pollInterval`, so 1,000 accounts watched together do not all connect together.
    pub first_poll_slots: u32,
    /// After a folder's UIDVALIDITY changes, how many of its newest messages are looked at
    /// for mail that came since the last look.
    pub rebaseline_top: usize,
    /// Codes kept for a waiter that has not read them yet; a slower waiter skips ahead.
    pub arrival_buffer: usize,
    /// How long past `idleRenew` an IDLE may go without any word from the server before the
    /// connection is taken as dead.
    #[serde(with = "secs")]
    pub idle_grace: Duration,
    /// How often the junk folder of an account someone waits on is checked with STATUS when
    /// the server cannot push it: no NOTIFY, and `pool.maxPerAccount` 1, so no second session
    /// can idle on it. Each check ends IDLE on INBOX for three round trips (DONE, STATUS,
    /// IDLE); only accounts being waited on pay it, so 1 s costs little and brings junk mail
    /// within about a second (a wait lasts two minutes at most by default).
    #[serde(with = "secs")]
    pub junk_poll_interval: Duration,
    /// How long an account is left alone after a throttle reply that gives no time (Outlook's
    /// "Request is throttled. Suggested Backoff Time: N milliseconds" gives one, and that is
    /// used).
    #[serde(with = "secs")]
    pub throttle_default: Duration,
    /// The longest wait a throttle reply can impose, so a reply asking for days does not stop
    /// an account for days. Outlook asks for up to about 5 minutes.
    #[serde(with = "secs")]
    pub throttle_max: Duration,
    /// Repeated throttling slows the account's own polling: each throttle reply doubles its
    /// round-robin interval (and the pause before a waited-on account without IDLE polls
    /// again), up to this factor. Other accounts keep their pace.
    pub throttle_slowdown_max: u32,
    /// After this long without a throttle reply, an account's slowdown is forgotten.
    #[serde(with = "secs")]
    pub throttle_forget: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            idle: true,
            max_idle_sessions: 1000,
            idle_renew: Duration::from_secs(25 * 60),
            poll_interval: Duration::from_secs(60),
            poll_concurrency: 4,
            poll_login_rate: 4.0,
            backoff_max: Duration::from_secs(60),
            backoff_min: Duration::from_secs(1),
            arrival_slack: Duration::from_secs(60),
            first_poll_slots: 64,
            rebaseline_top: 20,
            arrival_buffer: 256,
            idle_grace: Duration::from_secs(60),
            junk_poll_interval: Duration::from_secs(1),
            throttle_default: Duration::from_secs(60),
            throttle_max: Duration::from_secs(30 * 60),
            throttle_slowdown_max: 8,
            throttle_forget: Duration::from_secs(3600),
        }
    }
}

/// Limits for batch work: importing, verifying and refreshing many accounts at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchConfig {
    /// Accounts verified at once after an import (token refresh plus IMAP login). The
    /// pool's global limit still applies on top.
    pub verify_concurrency: usize,
    /// Accounts whose tokens "refresh all" refreshes at once.
    pub refresh_concurrency: usize,
    /// Fewest accounts per import chunk. A chunk is whole keyring shards, so each shard is
    /// written once per import; its secrets are written before its rows go to SQLite in one
    /// transaction, so a row never exists without its secret.
    pub import_chunk: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self { verify_concurrency: 5, refresh_concurrency: 5, import_chunk: 200 }
    }
}

/// Limits for the token keeper, which keeps access tokens fresh for accounts in use and
/// refresh tokens alive for accounts rarely used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeeperConfig {
    /// Token refreshes in flight at once.
    pub concurrency: usize,
    /// How often the keeper looks for work. Shorter than `http.refreshMargin`, so an access
    /// token in use is renewed before it expires.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// An account fetched within this window counts as in use.
    #[serde(with = "secs")]
    pub in_use_window: Duration,
    /// A refresh token unused this long is refreshed to keep it alive. Microsoft's lapse
    /// after 90 days unused; 30 leaves room for a machine that is off for weeks.
    #[serde(with = "secs")]
    pub keep_alive_age: Duration,
    /// Most keep-alive refreshes in one round, so thousands of stale accounts are spread
    /// over several rounds instead of hitting the token endpoint at once.
    pub max_per_round: usize,
}

impl Default for KeeperConfig {
    fn default() -> Self {
        Self {
            concurrency: 10,
            interval: Duration::from_secs(60),
            in_use_window: Duration::from_secs(3600),
            keep_alive_age: Duration::from_secs(30 * 24 * 3600),
            max_per_round: 200,
        }
    }
}

/// Limits for syncing watched accounts' recent messages into the cache in the background.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncConfig {
    /// Accounts synced at once.
    pub concurrency: usize,
    /// Time between two rounds over the watched accounts.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// Least time between starting two accounts, so a round never opens many connections
    /// in the same instant.
    #[serde(with = "secs")]
    pub spacing: Duration,
    /// Up to this much random delay added to each account's start.
    #[serde(with = "secs")]
    pub jitter: Duration,
    /// Newest messages fetched per account and round.
    pub top: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            concurrency: 5,
            interval: Duration::from_secs(120),
            spacing: Duration::from_millis(200),
            jitter: Duration::from_millis(500),
            top: 10,
        }
    }
}

/// The system keyring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretsConfig {
    /// How long a keyring call waits for the lock that keeps the app and the CLI from
    /// overwriting each other's changes; a process behind an unlock prompt holds it. Past
    /// this the call fails with "the keyring is busy" instead of hanging.
    #[serde(with = "secs")]
    pub lock_timeout: Duration,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self { lock_timeout: Duration::from_secs(10) }
    }
}

/// Sending mail: the reused SMTP connections, their limits and the pace of sending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SmtpConfig {
    /// Most SMTP connections one account may hold open at once. 1 sends an account's mail
    /// over one connection in turn, which is what providers expect of one mailbox.
    pub max_per_account: usize,
    /// Most SMTP connections open across all accounts.
    pub max_total: usize,
    /// How long a sender waits for a connection before it gets an "exhausted" error.
    #[serde(with = "secs")]
    pub wait_timeout: Duration,
    /// A connection unused this long is closed with QUIT; servers drop idle ones after a
    /// few minutes anyway (Postfix after 300 s, Outlook sooner).
    #[serde(with = "secs")]
    pub idle_timeout: Duration,
    /// Messages sent over one connection before it is replaced: providers cap this (Outlook
    /// and Postfix's defaults allow 100 or more), and a fresh connection now and then keeps a
    /// long batch from meeting the cap halfway.
    pub max_messages_per_connection: usize,
    /// Most messages one account sends per second; a sender over it waits its turn.
    /// Outlook throttles accounts that send faster than about 30 a minute for long.
    pub rate_per_second: f64,
    /// A pause between the messages of a batch, on top of the rate (0: none).
    #[serde(with = "secs")]
    pub batch_pause: Duration,
    /// TCP connect, TLS and AUTH together.
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    /// Any one SMTP command, the message's data included.
    #[serde(with = "secs")]
    pub command_timeout: Duration,
    /// Tries of a message the server deferred (4xx) within a batch, the first included.
    pub transient_tries: u32,
    /// The pause before the first retry of a deferred message; it doubles with each.
    #[serde(with = "secs")]
    pub transient_backoff: Duration,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            max_per_account: 1,
            max_total: 20,
            wait_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_messages_per_connection: 50,
            rate_per_second: 10.0,
            batch_pause: Duration::ZERO,
            connect_timeout: Duration::from_secs(20),
            command_timeout: Duration::from_secs(60),
            transient_tries: 3,
            transient_backoff: Duration::from_secs(5),
        }
    }
}

impl SmtpConfig {
    /// The connection pool's limits for these settings: no health check before a send (a
    /// broken connection shows on the send itself, which is then retried once when the server
    /// cannot have taken the message), closed after `idle_timeout`.
    pub fn pool(&self) -> PoolConfig {
        PoolConfig {
            max_per_account: self.max_per_account,
            max_total: self.max_total,
            wait_timeout: self.wait_timeout,
            idle_ttl: self.idle_timeout,
            max_age: Duration::from_secs(24 * 3600),
            health_check_after: Duration::from_secs(365 * 24 * 3600),
            connect_timeout: self.connect_timeout,
            command_timeout: self.command_timeout,
            reap_interval: (self.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(15)),
            logout_timeout: Duration::from_secs(1),
        }
    }
}

/// The local automation API (`mailwatch-cli serve`, the app's "Local API"): its streams and
/// its per-key rate limit. The server itself lives in `mailwatch-api`; the limits live here
/// with every other limit, so Settings and the settings JSON edit them alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiConfig {
    /// Where the app's "Local API" listens, and `mailwatch-cli serve` unless `--listen` says
    /// otherwise. Loopback only: other machines must not reach the keys' codes by default
    /// (`serve --listen ADDR --allow-remote` is the explicit way out).
    pub listen: std::net::SocketAddr,
    /// Most live streams (WebSocket and SSE together) open at once; the next is refused
    /// with 503. A thousand idle WebSockets cost a few megabytes.
    pub max_streams: usize,
    /// How often a WebSocket is pinged (and an SSE stream sent a comment line), so proxies
    /// keep it open and a dead peer is noticed.
    #[serde(with = "secs")]
    pub ping_interval: Duration,
    /// A WebSocket that has sent nothing, not even a pong, for this long is closed: the peer
    /// is gone or stuck. Longer than `pingInterval`, so one lost pong is forgiven.
    #[serde(with = "secs")]
    pub stream_timeout: Duration,
    /// Events queued for one stream that its client has not read yet. A client that falls
    /// this far behind is closed with a reason, so it slows neither the engine nor the others.
    pub send_queue: usize,
    /// Requests per second one key may make on average (0: no limit); past it the answer is
    /// 429 with `Retry-After`.
    pub rate_limit: f64,
    /// Requests one key may make at once above the average, e.g. a burst of concurrent waits.
    pub rate_burst: usize,
    /// Longest `wait=` a request may ask for: a wait holds a connection open this long.
    #[serde(with = "secs")]
    pub max_wait: Duration,
    /// Largest request body (an account, an import file); larger ones get 413.
    pub max_body_bytes: usize,
    /// How long `mailwatch-cli` waits for a running server named in the data directory's
    /// discovery file to answer its health check before running the command itself.
    #[serde(with = "secs")]
    pub discovery_timeout: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 7878)),
            max_streams: 1000,
            ping_interval: Duration::from_secs(30),
            stream_timeout: Duration::from_secs(75),
            send_queue: 256,
            rate_limit: 50.0,
            rate_burst: 200,
            max_wait: Duration::from_secs(300),
            max_body_bytes: 8 * 1024 * 1024,
            discovery_timeout: Duration::from_secs(2),
        }
    }
}

/// Reading Outlook mail through Microsoft Graph, the second channel beside IMAP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GraphConfig {
    /// Graph requests in flight for one account at once; more wait their turn. Graph allows
    /// four concurrent requests per mailbox before it throttles.
    pub max_per_account: usize,
    /// Graph requests in flight over all accounts at once.
    pub max_total: usize,
    /// Retries of one request that Graph throttled (429) or found busy (503), each after the
    /// `Retry-After` it gave; past them the request fails with a sentence saying so.
    pub throttle_retries: u32,
    /// The pause before a retry when a 429 or 503 carries no `Retry-After`; it doubles with
    /// each retry.
    #[serde(with = "secs")]
    pub backoff_min: Duration,
    /// The longest `Retry-After` waited out inside one request; a longer one fails the
    /// request at once (the watch then backs off), so no caller hangs for minutes.
    #[serde(with = "secs")]
    pub retry_after_max: Duration,
    /// How long an account on `auto` that moved to Graph stays there before IMAP is tried
    /// again (a mailbox Outlook did not serve over IMAP may be served later).
    #[serde(with = "secs")]
    pub imap_recheck: Duration,
    /// Messages per page of a delta round (`Prefer: odata.maxpagesize`); the first round of
    /// a folder lists every message once, in pages this large.
    pub delta_page_size: usize,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            max_per_account: 4,
            max_total: 64,
            throttle_retries: 3,
            backoff_min: Duration::from_secs(1),
            retry_after_max: Duration::from_secs(60),
            imap_recheck: Duration::from_secs(6 * 3600),
            delta_page_size: 100,
        }
    }
}

/// Proxies: how `proxy test` checks one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProxyConfig {
    /// A page that answers with the caller's IP address as plain text (or JSON with an `ip`
    /// field): fetched through the proxy, it tells the proxy's exit IP. `proxy test` only;
    /// nothing else calls it.
    pub echo_url: String,
    /// How long `proxy test` waits for the proxy and the echo page together.
    #[serde(with = "secs")]
    pub test_timeout: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self { echo_url: "https://api.ipify.org".into(), test_timeout: Duration::from_secs(15) }
    }
}

/// Everything configurable in the engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    /// Session pool limits.
    pub pool: PoolConfig,
    /// Token endpoint limits.
    pub http: HttpConfig,
    /// Cache and polling.
    pub cache: CacheConfig,
    /// Watching accounts: IDLE, polling, backoff.
    pub watch: WatchConfig,
    /// Import, verification and "refresh all".
    pub batch: BatchConfig,
    /// The token keeper.
    pub keeper: KeeperConfig,
    /// Background sync.
    pub sync: SyncConfig,
    /// The system keyring.
    pub secrets: SecretsConfig,
    /// Sending mail.
    pub smtp: SmtpConfig,
    /// The local automation API.
    pub api: ApiConfig,
    /// Microsoft Graph, the second channel for Outlook accounts.
    pub graph: GraphConfig,
    /// Proxies.
    pub proxy: ProxyConfig,
}

/// Durations are whole or fractional seconds in JSON, which is what a settings form edits.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        if !v.is_finite() || v < 0.0 {
            return Err(serde::de::Error::custom("a duration must be a non-negative number of seconds"));
        }
        Duration::try_from_secs_f64(v)
            .map_err(|_| serde::de::Error::custom("a duration must be a number of seconds that fits"))
    }
}

/// A setting outside its documented range, as `Config::validate` finds it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The value is below the least or above the most the setting allows.
    #[error("cannot save the settings: {setting} must be between {min} and {max}{unit} (it is {value}{unit})")]
    OutOfRange {
        /// The setting, as Settings and the settings JSON name it (`pool.waitTimeout`).
        setting: &'static str,
        /// What was given.
        value: String,
        /// The least allowed.
        min: String,
        /// The most allowed.
        max: String,
        /// ` s` for durations, empty for counts.
        unit: &'static str,
    },
    /// An address other machines could reach, where only loopback is allowed.
    #[error(
        "cannot save the settings: {setting} must be a loopback address such as 127.0.0.1:7878 (it is {value}), so that other machines cannot reach the API"
    )]
    NotLoopback {
        /// The setting (`api.listen`).
        setting: &'static str,
        /// What was given.
        value: String,
    },
}

const MINUTE: f64 = 60.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;

fn secs_in(setting: &'static str, d: Duration, min: f64, max: f64) -> Result<(), ConfigError> {
    let v = d.as_secs_f64();
    if (min..=max).contains(&v) {
        return Ok(());
    }
    Err(ConfigError::OutOfRange {
        setting,
        value: v.to_string(),
        min: min.to_string(),
        max: max.to_string(),
        unit: " s",
    })
}

fn count_in(setting: &'static str, v: impl Into<f64>, min: f64, max: f64) -> Result<(), ConfigError> {
    let v = v.into();
    if v.is_finite() && (min..=max).contains(&v) {
        return Ok(());
    }
    Err(ConfigError::OutOfRange { setting, value: v.to_string(), min: min.to_string(), max: max.to_string(), unit: "" })
}

fn usize_in(setting: &'static str, v: usize, min: f64, max: f64) -> Result<(), ConfigError> {
    // Counts above 2^53 lose precision as f64, but they are far outside every range anyway.
    count_in(setting, v as f64, min, max)
}

impl Config {
    /// Checks every setting against its range, so a value saved from Settings can neither
    /// overflow time arithmetic nor stop the engine (a zero interval, a zero limit). The
    /// ranges are the table below; each is wide around its default.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] for the first value outside its range, naming the setting
    /// and the range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (p, h, c, w, b, k, s) =
            (&self.pool, &self.http, &self.cache, &self.watch, &self.batch, &self.keeper, &self.sync);
        usize_in("pool.maxPerAccount", p.max_per_account, 1.0, 10.0)?;
        usize_in("pool.maxTotal", p.max_total, 1.0, 10_000.0)?;
        secs_in("pool.waitTimeout", p.wait_timeout, 0.1, HOUR)?;
        secs_in("pool.idleTtl", p.idle_ttl, 1.0, DAY)?;
        secs_in("pool.maxAge", p.max_age, 1.0, DAY)?;
        secs_in("pool.healthCheckAfter", p.health_check_after, 0.0, DAY)?;
        secs_in("pool.connectTimeout", p.connect_timeout, 0.1, 10.0 * MINUTE)?;
        secs_in("pool.commandTimeout", p.command_timeout, 0.1, HOUR)?;
        secs_in("pool.reapInterval", p.reap_interval, 0.1, HOUR)?;
        secs_in("pool.logoutTimeout", p.logout_timeout, 0.0, MINUTE)?;
        secs_in("http.connectTimeout", h.connect_timeout, 0.1, 10.0 * MINUTE)?;
        secs_in("http.requestTimeout", h.request_timeout, 0.1, 10.0 * MINUTE)?;
        usize_in("http.maxIdlePerHost", h.max_idle_per_host, 0.0, 1000.0)?;
        usize_in("http.maxConnectionsPerHost", h.max_connections_per_host, 1.0, 1000.0)?;
        secs_in("http.idleTimeout", h.idle_timeout, 0.0, DAY)?;
        secs_in("http.refreshMargin", h.refresh_margin, 0.0, HOUR)?;
        secs_in("http.tcpKeepalive", h.tcp_keepalive, 1.0, DAY)?;
        secs_in("http.defaultTokenLifetime", h.default_token_lifetime, MINUTE, DAY)?;
        secs_in("http.keyringRetryMax", h.keyring_retry_max, 1.0, DAY)?;
        secs_in("cache.messageTtl", c.message_ttl, 0.0, 30.0 * DAY)?;
        secs_in("cache.pollInterval", c.poll_interval, 0.1, HOUR)?;
        usize_in("cache.maxTop", c.max_top, 1.0, 10_000.0)?;
        usize_in("cache.listTop", c.list_top, 1.0, 10_000.0)?;
        secs_in("cache.waitTimeout", c.wait_timeout, 1.0, DAY)?;
        usize_in("cache.maxMessageBytes", c.max_message_bytes, 64.0 * 1024.0, 1024.0 * 1024.0 * 1024.0)?;
        usize_in("cache.viewMaxBytes", c.view_max_bytes, 64.0 * 1024.0, 256.0 * 1024.0 * 1024.0)?;
        usize_in("cache.fetchBatch", c.fetch_batch, 1.0, 10_000.0)?;
        secs_in("cache.codeRetention", c.code_retention, 0.0, 100.0 * 365.0 * DAY)?;
        usize_in("watch.maxIdleSessions", w.max_idle_sessions, 0.0, 10_000.0)?;
        secs_in("watch.idleRenew", w.idle_renew, 10.0, 29.0 * MINUTE)?;
        secs_in("watch.pollInterval", w.poll_interval, 0.1, DAY)?;
        usize_in("watch.pollConcurrency", w.poll_concurrency, 1.0, 1000.0)?;
        count_in("watch.pollLoginRate", w.poll_login_rate, 0.0, 1000.0)?;
        secs_in("watch.backoffMax", w.backoff_max, 0.0, HOUR)?;
        secs_in("watch.backoffMin", w.backoff_min, 0.0, HOUR)?;
        secs_in("watch.arrivalSlack", w.arrival_slack, 0.0, DAY)?;
        count_in("watch.firstPollSlots", w.first_poll_slots, 1.0, 100_000.0)?;
        usize_in("watch.rebaselineTop", w.rebaseline_top, 1.0, 10_000.0)?;
        usize_in("watch.arrivalBuffer", w.arrival_buffer, 1.0, 100_000.0)?;
        secs_in("watch.idleGrace", w.idle_grace, 1.0, HOUR)?;
        secs_in("watch.junkPollInterval", w.junk_poll_interval, 0.1, HOUR)?;
        secs_in("watch.throttleDefault", w.throttle_default, 1.0, DAY)?;
        secs_in("watch.throttleMax", w.throttle_max, 1.0, DAY)?;
        count_in("watch.throttleSlowdownMax", w.throttle_slowdown_max, 1.0, 1024.0)?;
        secs_in("watch.throttleForget", w.throttle_forget, MINUTE, 30.0 * DAY)?;
        usize_in("batch.verifyConcurrency", b.verify_concurrency, 1.0, 1000.0)?;
        usize_in("batch.refreshConcurrency", b.refresh_concurrency, 1.0, 1000.0)?;
        usize_in("batch.importChunk", b.import_chunk, 1.0, 100_000.0)?;
        usize_in("keeper.concurrency", k.concurrency, 1.0, 1000.0)?;
        secs_in("keeper.interval", k.interval, 1.0, DAY)?;
        secs_in("keeper.inUseWindow", k.in_use_window, 0.0, 30.0 * DAY)?;
        secs_in("keeper.keepAliveAge", k.keep_alive_age, HOUR, 365.0 * DAY)?;
        usize_in("keeper.maxPerRound", k.max_per_round, 1.0, 100_000.0)?;
        usize_in("sync.concurrency", s.concurrency, 1.0, 1000.0)?;
        secs_in("sync.interval", s.interval, 1.0, 7.0 * DAY)?;
        secs_in("sync.spacing", s.spacing, 0.0, MINUTE)?;
        secs_in("sync.jitter", s.jitter, 0.0, HOUR)?;
        usize_in("sync.top", s.top, 1.0, 10_000.0)?;
        secs_in("secrets.lockTimeout", self.secrets.lock_timeout, 0.1, HOUR)?;
        let m = &self.smtp;
        usize_in("smtp.maxPerAccount", m.max_per_account, 1.0, 10.0)?;
        usize_in("smtp.maxTotal", m.max_total, 1.0, 10_000.0)?;
        secs_in("smtp.waitTimeout", m.wait_timeout, 0.1, HOUR)?;
        secs_in("smtp.idleTimeout", m.idle_timeout, 1.0, HOUR)?;
        usize_in("smtp.maxMessagesPerConnection", m.max_messages_per_connection, 1.0, 100_000.0)?;
        count_in("smtp.ratePerSecond", m.rate_per_second, 0.01, 1000.0)?;
        secs_in("smtp.batchPause", m.batch_pause, 0.0, HOUR)?;
        secs_in("smtp.connectTimeout", m.connect_timeout, 0.1, 10.0 * MINUTE)?;
        secs_in("smtp.commandTimeout", m.command_timeout, 0.1, HOUR)?;
        count_in("smtp.transientTries", m.transient_tries, 1.0, 100.0)?;
        secs_in("smtp.transientBackoff", m.transient_backoff, 0.0, HOUR)?;
        let a = &self.api;
        if !a.listen.ip().is_loopback() {
            return Err(ConfigError::NotLoopback { setting: "api.listen", value: a.listen.to_string() });
        }
        usize_in("api.maxStreams", a.max_streams, 1.0, 100_000.0)?;
        secs_in("api.pingInterval", a.ping_interval, 0.05, HOUR)?;
        secs_in("api.streamTimeout", a.stream_timeout, 0.1, DAY)?;
        usize_in("api.sendQueue", a.send_queue, 1.0, 100_000.0)?;
        count_in("api.rateLimit", a.rate_limit, 0.0, 1_000_000.0)?;
        usize_in("api.rateBurst", a.rate_burst, 1.0, 1_000_000.0)?;
        secs_in("api.maxWait", a.max_wait, 1.0, HOUR)?;
        usize_in("api.maxBodyBytes", a.max_body_bytes, 1024.0, 1024.0 * 1024.0 * 1024.0)?;
        secs_in("api.discoveryTimeout", a.discovery_timeout, 0.05, MINUTE)?;
        let g = &self.graph;
        usize_in("graph.maxPerAccount", g.max_per_account, 1.0, 100.0)?;
        usize_in("graph.maxTotal", g.max_total, 1.0, 10_000.0)?;
        count_in("graph.throttleRetries", g.throttle_retries, 0.0, 100.0)?;
        secs_in("graph.backoffMin", g.backoff_min, 0.0, HOUR)?;
        secs_in("graph.retryAfterMax", g.retry_after_max, 0.0, HOUR)?;
        secs_in("graph.imapRecheck", g.imap_recheck, MINUTE, 30.0 * DAY)?;
        usize_in("graph.deltaPageSize", g.delta_page_size, 1.0, 1000.0)?;
        secs_in("proxy.testTimeout", self.proxy.test_timeout, 0.1, 10.0 * MINUTE)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_json_as_seconds() {
        let c = Config::default();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["pool"]["waitTimeout"], 30.0, "durations are stored as seconds");
        assert_eq!(json["pool"]["maxPerAccount"], 1, "one session per account by default");
        let back: Config = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn partial_settings_keep_the_other_defaults() {
        let c: Config = serde_json::from_str(r#"{"pool":{"maxTotal":5}}"#).unwrap();
        assert_eq!(c.pool.max_total, 5);
        assert_eq!(c.pool.max_per_account, 1);
        assert_eq!(c.cache, CacheConfig::default());
    }

    #[test]
    fn the_defaults_are_in_range() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn an_out_of_range_setting_is_named_with_its_range() {
        let mut c = Config::default();
        c.pool.reap_interval = Duration::ZERO;
        let err = c.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot save the settings: pool.reapInterval must be between 0.1 and 3600 s (it is 0 s)"
        );
        let mut c = Config::default();
        c.http.refresh_margin = Duration::MAX;
        assert!(matches!(c.validate(), Err(ConfigError::OutOfRange { setting: "http.refreshMargin", .. })));
        let mut c = Config::default();
        c.batch.import_chunk = 0;
        let err = c.validate().unwrap_err();
        assert!(err.to_string().contains("batch.importChunk must be between 1 and 100000"), "{err}");
        let mut c = Config::default();
        c.watch.poll_login_rate = f64::NAN;
        assert!(c.validate().is_err(), "NaN is no rate");
    }

    #[test]
    fn the_api_limits_are_checked_like_the_others() {
        let mut c = Config::default();
        c.api.max_streams = 0;
        assert!(matches!(c.validate(), Err(ConfigError::OutOfRange { setting: "api.maxStreams", .. })));
        let mut c = Config::default();
        c.api.ping_interval = Duration::ZERO;
        assert!(matches!(c.validate(), Err(ConfigError::OutOfRange { setting: "api.pingInterval", .. })));
        let c: Config = serde_json::from_str(r#"{"api":{"sendQueue":16}}"#).unwrap();
        assert_eq!((c.api.send_queue, c.api.max_streams), (16, 1000), "unset api limits keep their defaults");
        let c: Config = serde_json::from_str(r#"{"api":{"listen":"0.0.0.0:7878"}}"#).unwrap();
        assert!(
            matches!(c.validate(), Err(ConfigError::NotLoopback { setting: "api.listen", .. })),
            "the app's API listens on loopback only"
        );
        let c: Config = serde_json::from_str(r#"{"api":{"listen":"[::1]:9000"}}"#).unwrap();
        assert_eq!(c.validate(), Ok(()), "IPv6 loopback is loopback");
    }

    #[test]
    fn the_graph_limits_are_checked_like_the_others() {
        let mut c = Config::default();
        c.graph.max_per_account = 0;
        assert!(matches!(c.validate(), Err(ConfigError::OutOfRange { setting: "graph.maxPerAccount", .. })));
        let mut c = Config::default();
        c.graph.imap_recheck = Duration::from_secs(1);
        assert!(matches!(c.validate(), Err(ConfigError::OutOfRange { setting: "graph.imapRecheck", .. })));
        let c: Config = serde_json::from_str(r#"{"graph":{"maxTotal":8}}"#).unwrap();
        assert_eq!((c.graph.max_total, c.graph.max_per_account), (8, 4), "unset graph limits keep their defaults");
    }

    #[test]
    fn a_duration_too_large_for_the_clock_is_refused_not_a_panic() {
        let err = serde_json::from_str::<Config>(r#"{"pool":{"idleTtl":1e30}}"#).unwrap_err();
        assert!(err.to_string().contains("fits"), "{err}");
    }

    #[test]
    fn negative_durations_are_refused() {
        let err = serde_json::from_str::<Config>(r#"{"pool":{"idleTtl":-1}}"#).unwrap_err();
        assert!(err.to_string().contains("non-negative"), "{err}");
    }
}
