//! Generates the Tauri context from `tauri.conf.json` and the permission manifest for the
//! app's own commands. Listing the commands here means each one is denied until a capability
//! in `capabilities/` allows it (`allow-<command>`), instead of every command being open to
//! every window by default.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&["list_accounts"]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("cannot generate the Tauri context from tauri.conf.json");
}
