//! The commands the webview may invoke, one file per area. Each name is `verb_noun`, matches
//! the string `ui/ipc.js` passes to `invoke`, and needs an `allow-<name>` permission in
//! `capabilities/` (see `src-tauri/build.rs`).

pub mod accounts;
