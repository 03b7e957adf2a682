// Every command the window may call is listed here; Tauri generates an
// `allow-<command>` permission for each, granted in capabilities/main.json.
const COMMANDS: &[&str] = &[
    "current_view",
    "sign_in",
    "cancel_sign_in",
    "reopen_browser",
    "sign_out",
    "retry",
    "dismiss",
    "get_settings",
    "save_settings",
    "lookup_device",
    "approve_device",
    "deny_device",
    "alerts",
    "revoke_sign_in",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {e:#}");
    }
}
