//! The app's "Local API": the same server as `mailwatch-cli serve` ([`mailwatch_api::Api`]),
//! over the app's own engine, so scripts share the app's sessions, watches and limits. Off by
//! default; Settings turns it on and off.
//!
//! The engine reports to one sink, the window's; that sink hands every event to
//! [`LocalApi::publish`] as well, which passes it to the running server's hub, so codes the
//! app sees are streamed too. The app's key (every read scope) lives in the keyring and its
//! hash in the settings, like any key ([`mailwatch_api::keys::app_key`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use mailwatch_api::{Api, Hub};
use mailwatch_engine::Engine;
use mailwatch_engine::events::Event;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::state::lock;

/// The server while it runs.
struct Running {
    address: SocketAddr,
    /// The discovery file that sends `mailwatch-cli`'s IMAP commands here; removed on stop.
    _announced: Option<mailwatch_api::discovery::Announced>,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
}

/// The Local API's server, when it runs, and the hub the window's sink tees events into.
#[derive(Default)]
pub struct LocalApi {
    running: Mutex<Option<Running>>,
    hub: RwLock<Option<Arc<Hub>>>,
    /// Serializes turning on and off, so two quick clicks cannot start two servers.
    switching: tokio::sync::Mutex<()>,
}

/// What Settings shows about the Local API.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalApiView {
    /// Whether the server runs.
    pub running: bool,
    /// Where it listens (`http://127.0.0.1:7878`), while it runs.
    pub address: Option<String>,
    /// The app's key, while the server runs; Settings masks it until asked.
    pub key: Option<String>,
}

impl LocalApi {
    /// Passes an engine event to the running server's streams; nothing when it is off.
    pub fn publish(&self, event: &Event) {
        let hub = self.hub.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hub) = hub.as_ref() {
            hub.publish(event);
        }
    }

    /// Where the server listens, if it runs.
    pub fn address(&self) -> Option<SocketAddr> {
        lock(&self.running).as_ref().map(|r| r.address)
    }

    /// Starts the server on `api.listen` as saved (so a new address applies without a
    /// restart), unless it runs already.
    ///
    /// # Errors
    /// `api_address_in_use` when another program holds the address, `api_listen_failed` for
    /// any other reason it cannot listen; the cache cannot be read.
    pub async fn start(&self, engine: Arc<Engine>) -> Result<SocketAddr, ApiError> {
        let _switching = self.switching.lock().await;
        if let Some(address) = self.address() {
            return Ok(address);
        }
        let address = engine.saved_config().await?.api.listen;
        mailwatch_api::check_listen(address, false)?;
        let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| listen_error(address, &e))?;
        // The port the system gave, when the setting asks for any (port 0).
        let address = listener.local_addr().map_err(|e| listen_error(address, &e))?;
        let announced = match mailwatch_api::discovery::announce(engine.data_dir(), address) {
            Ok(announced) => Some(announced),
            Err(err) => {
                tracing::warn!(error = %err, "cannot write the discovery file; the CLI will not use the local API");
                None
            }
        };
        let hub = Hub::new();
        let api = Api::new(engine, hub.clone());
        let (stop, stopped) = oneshot::channel();
        let served = tokio::spawn(async move {
            if let Err(err) = api
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
            {
                tracing::error!(error = %err, "the local API stopped");
            }
        });
        *self.hub.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hub);
        *lock(&self.running) = Some(Running { address, _announced: announced, stop, served });
        tracing::info!(%address, "the local API listens");
        Ok(address)
    }

    /// Stops the server: streams get close frames, waits end, and open requests get
    /// [`DRAIN`](mailwatch_api::server::DRAIN) to finish.
    pub async fn stop(&self) {
        let _switching = self.switching.lock().await;
        let Some(running) = lock(&self.running).take() else { return };
        *self.hub.write().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        // From here on the CLI runs its commands itself.
        drop(running._announced);
        let _ = running.stop.send(());
        let mut served = running.served;
        if tokio::time::timeout(mailwatch_api::server::DRAIN, &mut served).await.is_err() {
            tracing::warn!("requests to the local API still open after the drain were cut off");
            served.abort();
        }
    }
}

/// A sentence for a listener that cannot be had.
fn listen_error(address: SocketAddr, err: &std::io::Error) -> ApiError {
    if err.kind() == std::io::ErrorKind::AddrInUse {
        return ApiError::new(
            "api_address_in_use",
            format!(
                "cannot start the local API: another program already listens on {address}; choose another address under Local API, save, and turn it on again"
            ),
        )
        .arg("address", address);
    }
    ApiError::new(
        "api_listen_failed",
        format!("cannot start the local API on {address}: {err}; choose another address under Local API and try again"),
    )
    .arg("address", address)
    .arg("reason", err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_discovery_file_names_the_bound_address_while_the_server_runs() {
        use mailwatch_api::discovery;
        let dir = std::env::temp_dir().join(format!("mailwatch-local-api-test-{}", std::process::id()));
        let options = mailwatch_engine::engine::EngineOptions { data_dir: Some(dir.clone()), ..Default::default() };
        let engine = Arc::new(Engine::open(options, Arc::new(mailwatch_engine::events::NullSink)).await.unwrap());
        let mut config = engine.saved_config().await.unwrap();
        config.api.listen = "127.0.0.1:0".parse().unwrap();
        engine.save_config(&config).await.unwrap();

        let local = LocalApi::default();
        let address = local.start(engine.clone()).await.unwrap();
        assert_ne!(address.port(), 0, "the address is the one bound");
        let found = discovery::find(engine.data_dir());
        assert_eq!(found.map(|d| (d.address, d.pid)), Some((address, std::process::id())), "{found:?}");
        local.stop().await;
        assert!(!discovery::path(engine.data_dir()).exists(), "turning it off removes the file");
        engine.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_taken_port_is_said_in_words_with_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap();
        let err = std::net::TcpListener::bind(address).unwrap_err();
        let api = listen_error(address, &err);
        assert_eq!(api.code, "api_address_in_use", "{err}");
        assert!(api.message.contains(&address.to_string()), "{}", api.message);
        assert_eq!(api.args.get("address").map(String::as_str), Some(address.to_string().as_str()));
    }
}
