//! The engine as managed Tauri state.
//!
//! The engine opens in the background as the app starts, so the window appears at once. A
//! command that needs it waits for that one opening instead of starting another. A failed
//! opening is not kept: the next command tries again, which is what the UI's "Try again"
//! button relies on.

use std::future::Future;
use std::sync::Arc;

use mailwatch_engine::Engine;
use mailwatch_engine::engine::EngineOptions;
use mailwatch_engine::events::EventSink;
use tokio::sync::OnceCell;

use crate::error::ApiError;

/// Holds the engine once it is open, and what it takes to open it.
pub struct EngineSlot {
    engine: OnceCell<Arc<Engine>>,
    options: EngineOptions,
    sink: Arc<dyn EventSink>,
}

impl EngineSlot {
    /// A slot that will open the engine with `options`, reporting to `sink`.
    pub fn new(options: EngineOptions, sink: Arc<dyn EventSink>) -> Self {
        Self { engine: OnceCell::new(), options, sink }
    }

    /// The open engine, opening it first if no earlier call managed to.
    ///
    /// # Errors
    /// The engine cannot be opened (for example the data directory is not writable).
    pub async fn get(&self) -> Result<Arc<Engine>, ApiError> {
        self.engine
            .get_or_try_init(|| {
                let options = self.options.clone();
                let sink = Arc::clone(&self.sink);
                guarded("open the mail engine", async move {
                    let engine = Engine::open(options, sink).await?;
                    Ok(Arc::new(engine))
                })
            })
            .await
            .cloned()
    }
}

impl EngineSlot {
    /// The engine if it has been opened, without opening it.
    pub fn opened(&self) -> Option<Arc<Engine>> {
        self.engine.get().cloned()
    }
}

/// Runs engine work on its own task, so that a panic in it becomes an error the UI can show
/// rather than a request that never answers.
///
/// # Errors
/// Whatever `work` returns, or [`ApiError::engine_stopped`] if it panicked.
pub async fn guarded<T, F>(what: &'static str, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, ApiError>> + Send + 'static,
{
    match tauri::async_runtime::spawn(work).await {
        Ok(result) => result,
        Err(err) => {
            tracing::error!(error = %err, "engine task stopped while trying to {what}");
            Err(ApiError::engine_stopped(what))
        }
    }
}

/// A code as the tray lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentCode {
    /// The code.
    pub code: String,
    /// The service that sent it.
    pub service: Option<String>,
    /// The account it arrived in.
    pub email: String,
}

impl RecentCode {
    /// The menu item's words: "042917 · GitHub · ann@example.com".
    pub fn label(&self) -> String {
        match &self.service {
            Some(service) => format!("{} · {service} · {}", self.code, self.email),
            None => format!("{} · {}", self.code, self.email),
        }
    }
}

/// What the shell keeps besides the engine: preferences, running waits, the batch job, and
/// the latest codes for the tray.
#[derive(Default)]
pub struct Shell {
    /// The preferences in force.
    pub prefs: crate::prefs::Prefs,
    /// Running waits for a code, by account, so the UI can cancel them.
    pub waits: std::sync::Mutex<std::collections::HashMap<String, (u64, mailwatch_engine::engine::CancellationToken)>>,
    /// The running import or batch job, so the UI can cancel it.
    pub batch: std::sync::Mutex<Option<mailwatch_engine::engine::CancellationToken>>,
    /// The newest codes, newest first, for the tray menu.
    pub recent: std::sync::Mutex<std::collections::VecDeque<RecentCode>>,
    /// Whether the tray icon exists; without it, closing the window quits.
    pub tray: std::sync::atomic::AtomicBool,
    /// The token keeper and background sync, once the engine is open.
    pub keeper: std::sync::Mutex<Option<mailwatch_engine::keeper::Keeper>>,
    /// The account files the user picked or dropped, the only ones an import may read.
    pub offered_files: OfferedFiles,
}

/// The files the user offered the app, in the file dialog or by dropping them on the window.
/// The page names the file to import, and a page is not to be trusted with the file system:
/// it may read only what the user handed over.
#[derive(Default)]
pub struct OfferedFiles(std::sync::Mutex<std::collections::HashSet<std::path::PathBuf>>);

impl OfferedFiles {
    /// Remembers a file the user picked or dropped.
    pub fn offer(&self, path: impl Into<std::path::PathBuf>) {
        lock(&self.0).insert(path.into());
    }

    /// The path, if the user offered it.
    ///
    /// # Errors
    /// `invalid_input` for any other path.
    pub fn check(&self, path: &str) -> Result<std::path::PathBuf, ApiError> {
        let path = std::path::PathBuf::from(path);
        if lock(&self.0).contains(&path) {
            Ok(path)
        } else {
            Err(ApiError::new(
                "invalid_input",
                "cannot import that file: Mailwatch imports only a file picked with Import or dropped on the window; pick it again",
            ))
        }
    }
}

/// Locks a mutex, taking the data of a poisoned one (a panic elsewhere must not stop the UI).
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_offered_files_may_be_imported() {
        let offered = OfferedFiles::default();
        offered.offer("/home/u/accounts.csv");
        assert_eq!(offered.check("/home/u/accounts.csv").unwrap(), std::path::PathBuf::from("/home/u/accounts.csv"));
        for other in ["/etc/passwd", "/home/u/accounts.csv.bak", "/home/u/../u/accounts.csv"] {
            let err = offered.check(other).unwrap_err();
            assert_eq!(err.code, "invalid_input", "{other} was never offered");
            assert!(!err.message.contains(other), "the refusal does not echo the path: {}", err.message);
        }
    }
}
