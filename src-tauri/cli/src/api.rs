//! `serve` (the local API over this process's engine) and `api-key` (its keys).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Args, Subcommand};
use mailwatch_api::discovery;
use mailwatch_api::keys::{self, KeyRequest, Scope};
use mailwatch_api::{Api, Hub};
use mailwatch_engine::{Engine, EngineError};

use crate::{Cli, print_json};

use mailwatch_api::server::DRAIN;

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Where to listen (default: the setting api.listen, 127.0.0.1:7878). Loopback only
    /// unless --allow-remote.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// Allow an address other machines can reach (prints a warning saying what that exposes).
    #[arg(long)]
    allow_remote: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ApiKeyCmd {
    /// Create a key; it is printed once, and only its hash is stored.
    Create {
        /// A name to recognise it by.
        #[arg(long, default_value = "key")]
        name: String,
        /// What it may do, comma-separated: accounts:read, accounts:write, mail:read,
        /// codes:read, stats:read (default: every read scope).
        #[arg(long, value_delimiter = ',')]
        scope: Vec<String>,
        /// Limit it to accounts matching this pattern (`*` any run, `?` one character);
        /// repeat for more. Other accounts are invisible to it (404).
        #[arg(long, value_name = "PATTERN")]
        account: Vec<String>,
        /// Print {"id", "key"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List keys (never the keys themselves).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key; a running server refuses it within a second.
    Revoke {
        /// The key's id, as `api-key list` shows it.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

impl ApiKeyCmd {
    pub(crate) fn json(&self) -> bool {
        match self {
            ApiKeyCmd::Create { json, .. } | ApiKeyCmd::List { json } | ApiKeyCmd::Revoke { json, .. } => *json,
        }
    }
}

pub(crate) async fn api_key(engine: &Engine, cmd: &ApiKeyCmd) -> Result<(), EngineError> {
    match cmd {
        ApiKeyCmd::Create { name, scope, account, json } => {
            let scopes =
                scope.iter().filter(|s| !s.trim().is_empty()).map(|s| s.parse()).collect::<Result<Vec<Scope>, _>>()?;
            let request = KeyRequest { name: name.clone(), scopes, accounts: account.clone() };
            let made = keys::create(engine, &request).await?;
            if *json {
                println!("{}", serde_json::json!({"id": made.id, "key": made.key}));
            } else {
                println!("{}", made.key);
                eprintln!("created key {}: keep it now, it is not shown again", made.id);
            }
        }
        ApiKeyCmd::List { json } => {
            let list = keys::list(engine).await?;
            if *json {
                print_json(&list);
            } else if list.is_empty() {
                println!("No API keys yet. Create one with `mailwatch-cli api-key create --name NAME`.");
            } else {
                for k in list {
                    let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
                    let accounts = if k.accounts.is_empty() { "all accounts".into() } else { k.accounts.join(" ") };
                    let state = if k.revoked.is_some() { "revoked" } else { "active" };
                    println!("{:<10} {:<16} {:<8} {:<50} {}", k.id, k.name, state, scopes.join(","), accounts);
                }
            }
        }
        ApiKeyCmd::Revoke { id, json } => {
            let info = keys::revoke(engine, id).await?;
            if *json {
                print_json(&info);
            } else {
                println!("revoked {}", info.id);
            }
        }
    }
    Ok(())
}

pub(crate) async fn serve(cli: &Cli, a: &ServeArgs) -> Result<(), EngineError> {
    let hub = Hub::new();
    let engine = Arc::new(crate::open(cli, hub.sink()).await?);
    let listen = a.listen.unwrap_or(engine.config().api.listen);
    let bound = async {
        if let Some(warning) = mailwatch_api::check_listen(listen, a.allow_remote)? {
            eprintln!("{warning}");
        }
        tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            EngineError::InvalidInput(format!("cannot listen on {listen}: {e}; pick another address with --listen"))
        })
    };
    let listener = match bound.await {
        Ok(listener) => listener,
        Err(e) => {
            engine.shutdown().await;
            return Err(e);
        }
    };
    let local = listener.local_addr().map_err(|e| EngineError::Internal(e.to_string()))?;
    let stop = stop_signal();
    let announced = announce(&engine, local).await;
    println!("listening on http://{local}");
    let _ = std::io::stdout().flush();

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        stop.await;
        // From here on the CLI runs its commands itself.
        drop(announced);
        let _ = stop_tx.send(true);
    };
    let api = Api::new(engine.clone(), hub);
    let served = tokio::select! {
        r = api.serve(listener, signal) => r,
        _ = async { let _ = stop_rx.wait_for(|s| *s).await; tokio::time::sleep(DRAIN).await } => {
            tracing::warn!("requests still open {} s after the stop signal were cut off", DRAIN.as_secs());
            Ok(())
        }
    };
    engine.shutdown().await;
    crate::bench::persist_stats(&engine).await;
    served.map_err(|e| EngineError::Internal(format!("the API server failed: {e}")))
}

/// Makes sure the app's key is in the keyring (the one the app uses, made if there is none)
/// and writes the discovery file, so `mailwatch-cli` sends its IMAP commands here. Without
/// either the server still serves, and the CLI runs its commands itself.
async fn announce(engine: &Engine, local: SocketAddr) -> Option<discovery::Announced> {
    if let Err(e) = keys::app_key(engine).await {
        eprintln!(
            "warning: cannot keep a key for the CLI in the keyring ({e}); mailwatch-cli will run its commands itself, beside this server"
        );
        return None;
    }
    match discovery::announce(engine.data_dir(), local) {
        Ok(announced) => Some(announced),
        Err(e) => {
            eprintln!(
                "warning: cannot write {} in the data directory ({e}); mailwatch-cli will run its commands itself, beside this server",
                discovery::FILE
            );
            None
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix. The handlers are installed when this is called, not when the
/// future is first polled, so a signal sent right after the ready line is not lost.
fn stop_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
