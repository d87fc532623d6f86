//! `mailwatch-cli`: the engine without a window, for scripts, servers and automation.
//!
//! Every command prints plain text by default and one stable JSON value with `--json`.
//! Failures print one sentence on stderr (and `{"error": {"code", "message"}}` on stdout with
//! `--json`) and exit with a code that says what kind of failure it was; see [`exit_code`].
//!
//! `fetch` and `wait-code` go through `serve` or the app's Local API when one runs over the
//! same data directory, so its pool and limits serve every process ([`route`]); `--direct`
//! runs them here.

mod api;
mod bench;
mod extract;
mod import;
mod labels;
mod route;
mod send;
mod watch;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mailwatch_engine::account::{AccountSpec, Channel, Provider, Tls};
use mailwatch_engine::engine::{EngineOptions, NewSecret};
use mailwatch_engine::events::NullSink;
use mailwatch_engine::imap::FolderSpec;
use mailwatch_engine::redact::mask_email;
use mailwatch_engine::secrets::Secret;
use mailwatch_engine::{Engine, EngineError};
use serde_json::{Value, json};

/// Watches mailboxes for verification codes and links, without a window.
#[derive(Parser, Debug)]
#[command(name = "mailwatch-cli", version, about, propagate_version = true)]
struct Cli {
    /// Where the cache lives (default: the platform data directory, shared with the app).
    #[arg(long, global = true, env = "MAILWATCH_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Extra CA certificates (PEM) to trust for IMAP and SMTP, e.g. a company proxy's.
    #[arg(long, global = true, env = "MAILWATCH_EXTRA_CA", value_name = "PEM_FILE")]
    extra_ca: Option<PathBuf>,
    /// Run `fetch` and `wait-code` in this process even when `serve` or the app's Local API
    /// runs over the same data directory (by default they go through it). MAILWATCH_DIRECT=1
    /// does the same.
    #[arg(long, global = true, env = "MAILWATCH_DIRECT", value_parser = clap::builder::BoolishValueParser::new())]
    direct: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Add, list and remove accounts.
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// Fetch the newest messages of a folder, with the codes and links found in them.
    Fetch(FetchArgs),
    /// Wait for a verification code in a message that arrives after the command starts.
    WaitCode(WaitArgs),
    /// Show the session pool's and the client cache's counters.
    Stats(JsonFlag),
    /// Measure fetch latency with a reused client or a new client per fetch.
    Bench(bench::BenchArgs),
    /// Watch accounts and print each new code as it arrives.
    Watch(watch::WatchArgs),
    /// Find the code, link and service in one RFC 5322 message.
    Extract(ExtractArgs),
    /// Import accounts from a file (dash lines, CSV/TSV or JSON), with a report per line.
    Import(import::ImportArgs),
    /// Export accounts in the import formats (secrets only with --with-secrets --yes).
    Export(import::ExportArgs),
    /// Refresh OAuth2 tokens.
    #[command(subcommand)]
    Tokens(import::TokensCmd),
    /// Send a message from an account, over its reused SMTP connection.
    Send(send::SendArgs),
    /// Send one message per line of a CSV or JSON Lines file, with a report per line.
    SendBatch(send::SendBatchArgs),
    /// Serve the local automation API (HTTP, WebSocket, SSE) until Ctrl-C or SIGTERM.
    Serve(api::ServeArgs),
    /// Create, list and revoke keys for the local API.
    #[command(subcommand)]
    ApiKey(api::ApiKeyCmd),
    /// List groups of accounts and their proxies.
    #[command(subcommand)]
    Groups(labels::GroupsCmd),
    /// Set, clear and test proxies of accounts and groups.
    #[command(subcommand)]
    Proxy(labels::ProxyCmd),
}

#[derive(Args, Debug)]
struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum AccountsCmd {
    /// Add an account (or update it). The secret is read from standard input and stored
    /// only in the system keyring.
    Add(AddArgs),
    /// List accounts.
    List {
        /// Print JSON: an array of objects with email, provider, status, group, tags, proxy
        /// (never its password) and more.
        #[arg(long)]
        json: bool,
        /// Mask addresses.
        #[arg(long)]
        redact: bool,
        #[command(flatten)]
        filter: labels::FilterArgs,
    },
    /// Put accounts in a group (one group per account), or in none with --none.
    Group(labels::GroupArgs),
    /// Add or remove tags on accounts.
    Tag(labels::TagArgs),
    /// Remove an account, its cache and its keyring entry.
    Remove {
        /// The address.
        email: String,
    },
    /// Set how an Outlook account's mail is read: auto (IMAP, moving to Microsoft Graph when
    /// IMAP refuses the account), imap, or graph.
    Channel {
        /// The address.
        email: String,
        /// auto, imap or graph.
        channel: Channel,
        /// Print the account as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where an account's servers are, when the domain's preset is not right; shared by
/// `accounts add` and `import` (where it fills in lines that name no server).
#[derive(Args, Debug, Clone)]
pub(crate) struct ServerArgs {
    /// outlook, gmail or imap (default: from the domain; Outlook for refresh tokens).
    #[arg(long)]
    pub provider: Option<Provider>,
    /// IMAP server (default: the domain's preset).
    #[arg(long)]
    pub imap_host: Option<String>,
    /// IMAP port (default: 993, or 143 with STARTTLS).
    #[arg(long)]
    pub imap_port: Option<u16>,
    /// implicit or starttls.
    #[arg(long)]
    pub tls: Option<Tls>,
    /// OAuth2 token endpoint (default: the provider's).
    #[arg(long)]
    pub token_url: Option<String>,
    /// SMTP server for sending (default: the provider's, or the IMAP host with smtp. for imap.).
    #[arg(long)]
    pub smtp_host: Option<String>,
    /// SMTP port (default: 465 with implicit TLS, 587 with STARTTLS).
    #[arg(long)]
    pub smtp_port: Option<u16>,
    /// implicit or starttls, for SMTP.
    #[arg(long)]
    pub smtp_tls: Option<Tls>,
}

#[derive(Args, Debug)]
struct AddArgs {
    /// The address.
    email: String,
    /// OAuth2 client id (default: the provider's public client).
    #[arg(long)]
    client_id: Option<String>,
    /// Read an OAuth2 refresh token from standard input.
    #[arg(long, conflicts_with = "password_stdin")]
    refresh_token_stdin: bool,
    /// Read a password (or app password) from standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    server: ServerArgs,
    /// How mail is read: auto (default), imap or graph (Outlook accounts with OAuth2).
    #[arg(long)]
    channel: Option<Channel>,
    /// Microsoft Graph base URL (default: https://graph.microsoft.com/v1.0 for Outlook).
    #[arg(long)]
    graph_url: Option<String>,
    /// The account's group.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// A tag for the account (repeat for several).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// The account's own proxy URL (see `proxy set`); its password goes to the keyring.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct FetchArgs {
    /// The address.
    email: String,
    /// inbox, junk, or a folder name.
    #[arg(long, default_value = "inbox")]
    folder: String,
    /// How many of the newest messages (default: `cache.listTop`, at most `cache.maxTop`).
    #[arg(long)]
    top: Option<usize>,
    /// Always ask the server, even when the cache is fresh.
    #[arg(long)]
    no_cache: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct WaitArgs {
    /// The address.
    email: String,
    /// Give up after this many seconds (default: `cache.waitTimeout`, 120).
    #[arg(long)]
    timeout: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ExtractArgs {
    /// The message file, or - for standard input.
    #[arg(default_value = "-")]
    file: String,
    /// Print JSON (the default output is JSON too; this flag is accepted for symmetry).
    #[arg(long)]
    json: bool,
    /// Print why the code won and what else was considered, instead of JSON.
    #[arg(long)]
    explain: bool,
}

/// Set to 1 by a batch that ran to its end but could not do every line; its report says
/// which, so no error sentence is printed.
pub(crate) static PARTLY_FAILED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// A failure as the CLI reports it: the engine's error code and sentence, from this process's
/// engine or from a running server's answer.
#[derive(Debug)]
pub(crate) struct Failure {
    code: String,
    message: String,
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Failure {
        Failure { code: e.code().to_string(), message: e.to_string() }
    }
}

/// Exit codes by kind of failure, so scripts can react without parsing text.
fn exit_code(code: &str) -> u8 {
    match code {
        "invalid_account" | "unknown_folder" | "extra_ca_invalid" | "invalid_input" | "not_oauth" | "invalid_proxy" => {
            2
        }
        "unknown_account" => 3,
        "invalid_message" | "no_smtp_server" => 2,
        "needs_reauth" | "auth_failed" | "missing_secret" | "scope_not_granted" => 4,
        "server_unreachable"
        | "proxy_error"
        | "tls_error"
        | "timeout"
        | "token_endpoint_unreachable"
        | "imap_error"
        | "server_connection_limit"
        | "throttled"
        | "smtp_error"
        | "smtp_deferred"
        | "smtp_refused"
        | "oauth_error" => 5,
        "keyring_unavailable" | "keyring_locked" | "keyring_busy" | "keyring_error" | "rotation_not_saved" => 6,
        "wait_timed_out" => 7,
        "pool_exhausted" | "rate_limited" => 8,
        _ => 1,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let json = match &cli.command {
        Command::Accounts(AccountsCmd::List { json, .. }) | Command::Stats(JsonFlag { json }) => *json,
        Command::Accounts(AccountsCmd::Add(a)) => a.json,
        Command::Accounts(AccountsCmd::Remove { .. } | AccountsCmd::Group(_) | AccountsCmd::Tag(_)) => false,
        Command::Accounts(AccountsCmd::Channel { json, .. }) => *json,
        Command::Groups(labels::GroupsCmd::List { json }) => *json,
        Command::Proxy(p) => p.json(),
        Command::Fetch(a) => a.json,
        Command::WaitCode(a) => a.json,
        Command::Bench(a) => a.json,
        Command::Watch(a) => a.json,
        Command::Extract(_) => true,
        Command::Import(a) => a.json(),
        Command::Export(_) => false,
        Command::Tokens(t) => t.json(),
        Command::Send(a) => a.json,
        Command::SendBatch(a) => a.json,
        Command::Serve(_) => false,
        Command::ApiKey(k) => k.json(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::from(PARTLY_FAILED.load(std::sync::atomic::Ordering::Relaxed)),
        Err(e) => {
            eprintln!("error: {}", e.message);
            if json {
                println!("{}", json!({"error": {"code": e.code, "message": e.message}}));
            }
            ExitCode::from(exit_code(&e.code))
        }
    }
}

/// Logs to stderr as `MAILWATCH_LOG` asks (default warn), with the crates that log raw
/// protocol text capped at info so that no filter writes a password or a token.
fn init_logging() {
    use mailwatch_engine::redact::{PROTOCOL_LOG_CAP, PROTOCOL_LOG_TARGETS};
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILWATCH_LOG").unwrap_or_else(|_| "warn".into());
    let quiet = PROTOCOL_LOG_TARGETS
        .iter()
        .fold(Targets::new().with_default(LevelFilter::TRACE), |t, target| t.with_target(*target, PROTOCOL_LOG_CAP));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter).with_filter(quiet))
        .init();
}

fn print_json(v: &impl serde::Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

fn read_secret_from_stdin(what: &str) -> Result<Secret, EngineError> {
    let mut stdin = std::io::stdin();
    let mut buf = String::new();
    let read = if stdin.is_terminal() {
        // Echo goes off before the prompt shows, so nothing typed after it is ever echoed.
        let read = without_echo(|| {
            eprint!("{what}: ");
            stdin.read_line(&mut buf)
        });
        eprintln!();
        read
    } else {
        stdin.read_to_string(&mut buf)
    };
    read.map_err(|e| EngineError::InvalidInput(format!("cannot read the {what} from standard input: {e}")))?;
    let first = buf.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    Ok(Secret::new(first))
}

/// The terminal's settings while echo is off, for the signal handler that puts them back.
#[cfg(unix)]
static mut SAVED_TERMINAL: std::mem::MaybeUninit<libc::termios> = std::mem::MaybeUninit::uninit();
/// Whether [`SAVED_TERMINAL`] holds settings to put back.
#[cfg(unix)]
static ECHO_OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// The signals that end the process while a secret is typed (Ctrl-C, Ctrl-\, a closed
/// terminal, `kill`).
#[cfg(unix)]
const ENDING_SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM];

/// Puts the terminal's echo back, then dies of the signal as it would have.
#[cfg(unix)]
extern "C" fn restore_echo_and_die(signal: libc::c_int) {
    if ECHO_OFF.load(std::sync::atomic::Ordering::Acquire) {
        // SAFETY: tcsetattr, signal and raise are async-signal-safe; the settings were written
        // before ECHO_OFF was set and are not written again while it is.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, (&raw const SAVED_TERMINAL).cast());
        }
    }
    // SAFETY: as above.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Runs `read` with the terminal on standard input not echoing what is typed, and restores
/// the terminal afterwards, so a secret typed at the prompt never shows on screen. Ctrl-C
/// (or another ending signal) at the prompt restores it too, instead of leaving the shell
/// without echo.
#[cfg(unix)]
fn without_echo<T>(read: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let fd = libc::STDIN_FILENO;
    // SAFETY: `termios` is plain data, filled by `tcgetattr` before it is read.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open for the whole process and `saved` is a valid `termios`.
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(std::io::Error::other("cannot turn off the terminal's echo; pipe the secret instead"));
    }
    // SAFETY: only this function writes SAVED_TERMINAL, before ECHO_OFF says it is there; the
    // handler is a plain `extern "C" fn` that only reads it.
    unsafe {
        (&raw mut SAVED_TERMINAL).cast::<libc::termios>().write(saved);
    }
    ECHO_OFF.store(true, std::sync::atomic::Ordering::Release);
    let handler = restore_echo_and_die as extern "C" fn(libc::c_int) as libc::sighandler_t;
    let previous: Vec<libc::sighandler_t> =
        // SAFETY: installs a handler that only calls async-signal-safe functions.
        ENDING_SIGNALS.iter().map(|s| unsafe { libc::signal(*s, handler) }).collect();
    let result = echo_off_while(fd, saved, read);
    ECHO_OFF.store(false, std::sync::atomic::Ordering::Release);
    for (s, p) in ENDING_SIGNALS.iter().zip(previous) {
        // SAFETY: puts back what was there before.
        unsafe { libc::signal(*s, p) };
    }
    result
}

#[cfg(unix)]
fn echo_off_while<T>(
    fd: libc::c_int,
    saved: libc::termios,
    read: impl FnOnce() -> std::io::Result<T>,
) -> std::io::Result<T> {
    let mut quiet = saved;
    quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
    quiet.c_lflag |= libc::ICANON;
    // SAFETY: as above, with a `termios` copied from the terminal's own.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) } != 0 {
        return Err(std::io::Error::other("cannot turn off the terminal's echo; pipe the secret instead"));
    }
    let result = read();
    // SAFETY: restores the settings read above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    result
}

#[cfg(not(unix))]
fn without_echo<T>(read: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    read()
}

async fn open(cli: &Cli, sink: Arc<dyn mailwatch_engine::events::EventSink>) -> Result<Engine, EngineError> {
    let options =
        EngineOptions { data_dir: cli.data_dir.clone(), extra_ca: cli.extra_ca.clone(), ..Default::default() };
    Engine::open(options, sink).await
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Extract(a) = &cli.command {
        return Ok(extract(a)?);
    }
    if let Command::Watch(a) = &cli.command {
        let (sink, events) = watch::sink();
        let engine = open(&cli, sink).await?;
        let result = watch::run(&engine, a, events).await;
        engine.shutdown().await;
        bench::persist_stats(&engine).await;
        return Ok(result?);
    }
    if let Command::Serve(a) = &cli.command {
        return Ok(api::serve(&cli, a).await?);
    }
    let engine = open(&cli, Arc::new(NullSink)).await?;
    let result = dispatch(&cli, &engine).await;
    engine.shutdown().await;
    bench::persist_stats(&engine).await;
    result
}

async fn dispatch(cli: &Cli, engine: &Engine) -> Result<(), Failure> {
    match &cli.command {
        Command::Accounts(AccountsCmd::Add(a)) => {
            let server = a.server.clone();
            let spec = AccountSpec {
                email: a.email.clone(),
                provider: server.provider,
                auth: None,
                client_id: a.client_id.clone(),
                imap_host: server.imap_host,
                imap_port: server.imap_port,
                tls: server.tls,
                token_url: server.token_url,
                scope: None,
                smtp_host: server.smtp_host,
                smtp_port: server.smtp_port,
                smtp_tls: server.smtp_tls,
                channel: a.channel,
                graph_url: a.graph_url.clone(),
                group: a.group.clone(),
                tags: a.tags.clone(),
                proxy: a.proxy.clone(),
            };
            let secret = if a.refresh_token_stdin {
                NewSecret::RefreshToken(read_secret_from_stdin("refresh token")?)
            } else if a.password_stdin {
                NewSecret::Password(read_secret_from_stdin("password")?)
            } else {
                return Err(EngineError::InvalidInput(
                    "say how the account signs in: pipe its refresh token with --refresh-token-stdin, or its password with --password-stdin".into(),
                )
                .into());
            };
            let account = engine.add_account(&spec, secret).await?;
            if a.json {
                print_json(&account);
            } else {
                let sends = account.smtp.as_ref().map_or_else(
                    || "no SMTP server known: give --smtp-host to send".to_string(),
                    |s| format!("sends through {s}"),
                );
                println!(
                    "added {} ({}, {} at {}, {sends})",
                    account.email,
                    account.provider,
                    account.auth.as_str(),
                    account.imap
                );
            }
        }
        Command::Accounts(AccountsCmd::List { json, redact, filter }) => {
            let mut accounts = engine.accounts_matching(&filter.filter()).await?;
            if *redact {
                for a in &mut accounts {
                    a.email = mask_email(&a.email);
                }
            }
            if *json {
                print_json(&accounts);
            } else if accounts.is_empty() && filter.is_set() {
                println!("No account matches the filter.");
            } else if accounts.is_empty() {
                println!(
                    "No accounts yet. Add one with `mailwatch-cli accounts add EMAIL --refresh-token-stdin` (or --password-stdin)."
                );
            } else {
                for a in accounts {
                    let detail = a.status_detail.clone().map(|d| format!("  ({d})")).unwrap_or_default();
                    let mut labels = Vec::new();
                    labels.extend(a.group.as_ref().map(|g| format!("group {g}")));
                    if !a.tags.is_empty() {
                        labels.push(format!("tags {}", a.tags.join(",")));
                    }
                    labels.extend(a.proxy.as_ref().map(|p| format!("proxy {p}")));
                    let labels = if labels.is_empty() { String::new() } else { format!("  [{}]", labels.join("; ")) };
                    println!(
                        "{:<40} {:<8} {:<13} {:<12}{labels}{detail}",
                        a.email,
                        a.provider,
                        a.status.as_str(),
                        channel_text(&a),
                    );
                }
            }
        }
        Command::Accounts(AccountsCmd::Channel { email, channel, json }) => {
            let account = engine.set_channel(email, *channel).await?;
            if *json {
                print_json(&account);
            } else {
                println!("{} reads mail over {}", account.email, channel_text(&account));
            }
        }
        Command::Accounts(AccountsCmd::Group(a)) => labels::group(engine, a).await?,
        Command::Accounts(AccountsCmd::Tag(a)) => labels::tag(engine, a).await?,
        Command::Groups(g) => labels::groups(engine, g).await?,
        Command::Proxy(p) => labels::proxy(engine, p).await?,
        Command::Accounts(AccountsCmd::Remove { email }) => {
            engine.remove_account(email).await?;
            println!("removed {email}");
        }
        Command::Fetch(a) => {
            let folder: FolderSpec = a.folder.parse().unwrap_or(FolderSpec::Inbox);
            let top = a.top.unwrap_or(engine.config().cache.list_top);
            let routed = match route::find(engine, cli.direct).await {
                // The server's `both` means inbox and junk together; a folder of that name is not.
                Some(server) if !a.folder.eq_ignore_ascii_case("both") => {
                    server.fetch(&a.email, &folder, top, a.no_cache).await
                }
                _ => route::Routed::Direct,
            };
            let messages = match routed {
                route::Routed::Done(r) => r?,
                route::Routed::Direct => engine.fetch(&a.email, &folder, top, !a.no_cache).await?,
            };
            if a.json {
                print_json(&messages);
            } else if messages.is_empty() {
                println!("No messages in {folder}.");
            } else {
                for m in messages {
                    let found = match (&m.code, &m.link) {
                        (Some(c), _) => format!("code {c}"),
                        (None, Some(_)) => "link".to_string(),
                        _ => String::new(),
                    };
                    println!(
                        "{:>6}  {:<30.30}  {:<50.50}  {}",
                        m.uid,
                        m.from.as_deref().unwrap_or("-"),
                        m.subject.as_deref().unwrap_or("(no subject)"),
                        found
                    );
                }
            }
        }
        Command::WaitCode(a) => {
            let mut options = engine.wait_options();
            if let Some(secs) = a.timeout {
                options.timeout = Duration::from_secs(secs);
            }
            // A wait longer than the server allows (api.maxWait) runs here.
            let routed = match route::find(engine, cli.direct).await {
                Some(server) if options.timeout <= engine.config().api.max_wait => {
                    let account = engine.account(&a.email).await?.email;
                    server.wait_code(&account, options.timeout).await
                }
                _ => route::Routed::Direct,
            };
            let found = match routed {
                route::Routed::Done(r) => r?,
                route::Routed::Direct => engine.wait_code(&a.email, &options).await?,
            };
            if a.json {
                print_json(&found);
            } else {
                match (&found.code, &found.link) {
                    (Some(code), _) => println!("{code}"),
                    (None, Some(link)) => println!("{link}"),
                    _ => {}
                }
                if let Some(s) = &found.service {
                    eprintln!("from {s}: {}", found.subject.as_deref().unwrap_or(""));
                }
            }
        }
        Command::Stats(JsonFlag { json }) => {
            let stats = bench::cumulative_stats(engine).await?;
            if *json {
                print_json(&stats);
            } else {
                print_stats_text(&stats);
            }
        }
        Command::Bench(a) => bench::run(engine, a).await?,
        Command::Extract(_) | Command::Watch(_) | Command::Serve(_) => unreachable!("handled before dispatch"),
        Command::ApiKey(k) => api::api_key(engine, k).await?,
        Command::Import(a) => import::import(engine, a).await?,
        Command::Export(a) => import::export(engine, a).await?,
        Command::Tokens(t) => import::tokens(engine, t).await?,
        Command::Send(a) => send::send(engine, a).await?,
        Command::SendBatch(a) => send::send_batch(engine, a).await?,
    }
    Ok(())
}

fn print_stats_text(stats: &Value) {
    for key in bench::COUNTERS {
        println!("{key:<26} {}", stats.get(key).cloned().unwrap_or(Value::from(0)));
    }
}

fn extract(a: &ExtractArgs) -> Result<(), EngineError> {
    let mut raw = Vec::new();
    let read = if a.file == "-" {
        std::io::stdin().read_to_end(&mut raw).map(|_| ())
    } else {
        std::fs::read(&a.file).map(|b| raw = b)
    };
    read.map_err(|e| EngineError::InvalidInput(format!("cannot read {}: {e}", a.file)))?;
    let _ = a.json;
    extract::print(&raw, a.explain);
    Ok(())
}

/// An account's channel as `accounts list` shows it: `imap`, `graph`, or `auto` with the
/// channel that worked (`auto:graph`).
fn channel_text(a: &mailwatch_engine::account::Account) -> String {
    match (a.graph_url.is_some(), a.channel, a.channel_in_use) {
        (false, ..) => "imap".to_string(),
        (true, Channel::Auto, Some(used)) => format!("auto:{used}"),
        (true, channel, _) => channel.to_string(),
    }
}
