//! Importing account files: pick a file, preview it (a dry run), import it with progress,
//! cancel, and save the report; and the list's batch jobs over selected accounts: refresh
//! their tokens, export them.

use std::path::Path;

use mailwatch_engine::engine::CheckReport;
use mailwatch_engine::engine::{BatchControl, CancellationToken, ImportOptions, ImportReport};
use mailwatch_engine::import::{ImportFormat, MergeMode};
use serde::Deserialize;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::ApiError;
use crate::state::{EngineSlot, Shell, guarded, lock};

/// The largest account file read (a 10,000-line file is about 5 MB).
const MAX_FILE: u64 = 256 * 1024 * 1024;

/// Asks the user for an account file; `None` if they cancelled. The file picked is the one
/// [`import_accounts`] may then read.
#[tauri::command]
pub async fn pick_import_file(app: AppHandle, shell: State<'_, Shell>) -> Result<Option<String>, ApiError> {
    let language = crate::i18n::resolve(&shell.prefs.get().language);
    let tr = |key| crate::i18n::tr(language, key, &[]);
    let (title, accounts, all) = (tr("import.title"), tr("import.filter.accounts"), tr("import.filter.all"));
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .file()
            .set_title(title)
            .add_filter(accounts, &["txt", "csv", "tsv", "json"])
            .add_filter(all, &["*"])
            .blocking_pick_file()
    })
    .await
    .ok()
    .flatten();
    let Some(path) = picked.and_then(|p| p.into_path().ok()) else { return Ok(None) };
    shell.offered_files.offer(&path);
    Ok(Some(path.display().to_string()))
}

/// How to import a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRequest {
    /// The file to read.
    pub path: String,
    /// Its format; auto-detected when left out.
    #[serde(default)]
    pub format: ImportFormat,
    /// What to do with known accounts.
    #[serde(default)]
    pub merge: MergeMode,
    /// Report only; write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// With replace: the user confirmed removing accounts absent from the file.
    #[serde(default)]
    pub confirm_removal: bool,
    /// Sign in to every added or updated account afterwards.
    #[serde(default)]
    pub verify: bool,
    /// Accounts verified at once; the configured default when left out.
    pub concurrency: Option<usize>,
}

/// Imports (or previews) an account file. Progress arrives as `mailwatch://batch-progress`
/// events; [`cancel_batch`] stops it between chunks, keeping what was stored.
///
/// # Errors
/// `invalid_input` for a file the user did not pick or drop; `file_unreadable`;
/// `batch_running` if another job runs; keyring or cache failures that
/// would fail every account.
#[tauri::command]
pub async fn import_accounts(
    engine: State<'_, EngineSlot>,
    shell: State<'_, Shell>,
    request: ImportRequest,
) -> Result<ImportReport, ApiError> {
    let path = shell.offered_files.check(&request.path)?;
    let engine = engine.get().await?;
    let bytes = read_file(&path).await?;
    let cancel = CancellationToken::new();
    {
        let mut batch = lock(&shell.batch);
        if batch.as_ref().is_some_and(|c| !c.is_cancelled()) {
            return Err(ApiError::new("batch_running", "cannot start the import: another import is still running"));
        }
        *batch = Some(cancel.clone());
    }
    let options = ImportOptions {
        format: request.format,
        merge: request.merge,
        dry_run: request.dry_run,
        confirm_removal: request.confirm_removal,
        verify: request.verify,
        concurrency: request.concurrency,
        ..Default::default()
    };
    let control = BatchControl { cancel, progress: None };
    let result =
        guarded("import the accounts", async move { Ok(engine.import(&bytes, &options, &control).await?) }).await;
    *lock(&shell.batch) = None;
    result
}

/// Stops the running import between chunks (what was stored stays).
#[tauri::command]
pub fn cancel_batch(shell: State<'_, Shell>) {
    if let Some(cancel) = lock(&shell.batch).as_ref() {
        cancel.cancel();
    }
}

/// Asks where to save a report (or an export) and writes it; `false` if the user cancelled.
/// `title` is the file dialog's title in the window's language.
///
/// # Errors
/// `file_unwritable` if the file cannot be written.
#[tauri::command]
pub async fn save_report(app: AppHandle, name: String, text: String, title: Option<String>) -> Result<bool, ApiError> {
    let dialog_app = app.clone();
    let title = title.unwrap_or_else(|| "Save the import report".into());
    let picked = tauri::async_runtime::spawn_blocking(move || {
        dialog_app.dialog().file().set_title(title).set_file_name(name).blocking_save_file()
    })
    .await
    .ok()
    .flatten();
    let Some(path) = picked.and_then(|p| p.into_path().ok()) else { return Ok(false) };
    let shown = path.display().to_string();
    tokio::fs::write(&path, text)
        .await
        .map_err(|e| ApiError::new("file_unwritable", format!("cannot write {shown}: {e}")).arg("path", &shown))?;
    Ok(true)
}

async fn read_file(path: &Path) -> Result<Vec<u8>, ApiError> {
    let shown = path.display().to_string();
    let unreadable = |reason: String| {
        ApiError::new("file_unreadable", format!("cannot read {shown}: {reason}"))
            .arg("path", &shown)
            .arg("reason", reason)
    };
    let meta = tokio::fs::metadata(&path).await.map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("it is not a file".into()));
    }
    if meta.len() > MAX_FILE {
        return Err(unreadable(format!("it is {} MB; account files over 256 MB are not read", meta.len() >> 20)));
    }
    tokio::fs::read(&path).await.map_err(|e| unreadable(e.to_string()))
}

/// Exchanges the refresh tokens of the accounts selected in the list now (rotated ones are
/// stored), at `batch.refreshConcurrency` at once, with a result per account. Progress arrives
/// as `mailwatch://batch-progress` events (job `refresh`); [`cancel_batch`] stops it between
/// accounts.
///
/// # Errors
/// `batch_running` if another job runs; the account list cannot be read.
#[tauri::command]
pub async fn refresh_tokens(
    engine: State<'_, EngineSlot>,
    shell: State<'_, Shell>,
    emails: Vec<String>,
) -> Result<CheckReport, ApiError> {
    let engine = engine.get().await?;
    let cancel = CancellationToken::new();
    {
        let mut batch = lock(&shell.batch);
        if batch.as_ref().is_some_and(|c| !c.is_cancelled()) {
            return Err(ApiError::new(
                "batch_running",
                "cannot refresh the tokens: another batch job is still running",
            ));
        }
        *batch = Some(cancel.clone());
    }
    let control = BatchControl { cancel, progress: None };
    let concurrency = engine.config().batch.refresh_concurrency;
    let result =
        guarded(
            "refresh the tokens",
            async move { Ok(engine.refresh_tokens(Some(&emails), concurrency, &control).await?) },
        )
        .await;
    *lock(&shell.batch) = None;
    result
}

/// The selected accounts as CSV (the import's columns), without their secrets: exporting
/// secrets stays with `mailwatch-cli export --with-secrets`, which asks for a confirmation.
///
/// # Errors
/// An account is unknown; the cache cannot be read.
#[tauri::command]
pub async fn export_accounts(engine: State<'_, EngineSlot>, emails: Vec<String>) -> Result<String, ApiError> {
    let engine = engine.get().await?;
    guarded("export the accounts", async move { Ok(engine.export(Some(&emails), ImportFormat::Csv, false).await?) })
        .await
}
