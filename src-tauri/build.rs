//! Generates the Tauri context from `tauri.conf.json` and the permission manifest for the
//! app's own commands. Listing the commands here means each one is denied until a capability
//! in `capabilities/` allows it (`allow-<command>`), instead of every command being open to
//! every window by default.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&[
        "list_accounts",
        "account_preset",
        "save_account",
        "remove_account",
        "wait_for_code",
        "cancel_wait",
        "recent_codes",
        "set_watching",
        "set_paused",
        "list_messages",
        "open_message",
        "send_message",
        "pool_stats",
        "get_settings",
        "save_settings",
        "restart",
        "get_local_api",
        "set_local_api",
        "renew_api_key",
        "pick_import_file",
        "import_accounts",
        "cancel_batch",
        "save_report",
        "refresh_tokens",
        "export_accounts",
        "set_account_group",
        "tag_accounts",
        "proxy_password_kept",
        "set_account_proxy",
        "set_group_proxy",
        "list_groups",
        "copy_text",
        "open_link",
        "app_info",
        "get_catalogue",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("cannot generate the Tauri context from tauri.conf.json");
}
