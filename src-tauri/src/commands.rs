//! The commands the window may call (each is granted in
//! `capabilities/main.json`). Clicks return the view right away; what
//! follows arrives as `state` events.

use std::sync::Arc;

use serde::Serialize;
use tauri::State;

use crate::controller::Controller;
use crate::machine::{Event, View};
use crate::settings::{Settings, SettingsFile, SettingsView, check_server_url};

/// An error the window can show: a stable code and a sentence.
#[derive(Debug, Clone, Serialize)]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}

type Ctl<'a> = State<'a, Arc<Controller>>;

fn click(ctl: Ctl<'_>, event: Event) -> Result<View, CommandError> {
    ctl.dispatch(event);
    Ok(ctl.view())
}

#[tauri::command]
pub fn current_view(ctl: Ctl<'_>) -> Result<View, CommandError> {
    Ok(ctl.view())
}

#[tauri::command]
pub fn sign_in(ctl: Ctl<'_>) -> Result<View, CommandError> {
    click(ctl, Event::SignInClicked)
}

#[tauri::command]
pub fn cancel_sign_in(ctl: Ctl<'_>) -> Result<View, CommandError> {
    click(ctl, Event::CancelClicked)
}

#[tauri::command]
pub fn reopen_browser(ctl: Ctl<'_>) -> Result<View, CommandError> {
    click(ctl, Event::ReopenBrowserClicked)
}

#[tauri::command]
pub fn sign_out(ctl: Ctl<'_>) -> Result<View, CommandError> {
    click(ctl, Event::SignOutClicked)
}

#[tauri::command]
pub fn retry(ctl: Ctl<'_>) -> Result<View, CommandError> {
    click(ctl, Event::RetryClicked)
}

#[tauri::command]
pub fn dismiss(ctl: Ctl<'_>) -> Result<View, CommandError> {
    click(ctl, Event::DismissClicked)
}

fn settings_file(ctl: &Controller) -> Result<(SettingsFile, std::path::PathBuf), CommandError> {
    let dir = ctl.env().config_dir().map_err(|e| CommandError {
        code: "config_dir",
        message: e.0,
    })?;
    Ok((SettingsFile::in_dir(&dir), dir))
}

/// The new-sign-in alerts of this run, newest first.
#[tauri::command]
pub fn alerts(ctl: Ctl<'_>) -> Result<Vec<crate::alerts::Alert>, CommandError> {
    Ok(ctl.alerts())
}

/// Revokes a sign-in the app alerted of ("not you?").
#[tauri::command(rename_all = "snake_case")]
pub async fn revoke_sign_in(
    ctl: Ctl<'_>,
    token_id: String,
) -> Result<Vec<crate::alerts::Alert>, CommandError> {
    ctl.revoke_sign_in(&token_id)
        .await
        .map_err(|message| CommandError {
            code: "revoke",
            message,
        })
}

#[tauri::command]
pub fn get_settings(ctl: Ctl<'_>) -> Result<SettingsView, CommandError> {
    let (file, dir) = settings_file(&ctl)?;
    let settings = file.load().map_err(|e| CommandError {
        code: "settings_file",
        message: e.0,
    })?;
    Ok(SettingsView::new(&settings, ctl.env(), &dir))
}

/// Saves the server choice and reconnects. A bad URL changes nothing.
#[tauri::command(rename_all = "snake_case")]
pub fn save_settings(
    ctl: Ctl<'_>,
    use_bundled: bool,
    server: Option<String>,
) -> Result<SettingsView, CommandError> {
    let server = server
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let server = match server {
        Some(raw) => Some(check_server_url(&raw).map_err(|e| CommandError {
            code: "invalid_server_url",
            message: e.0,
        })?),
        None if !use_bundled => {
            return Err(CommandError {
                code: "invalid_server_url",
                message: "Enter the address of a devauth server, or use the built-in server."
                    .to_string(),
            });
        }
        None => None,
    };
    let (file, dir) = settings_file(&ctl)?;
    let settings = Settings {
        server,
        use_bundled: Some(use_bundled),
    };
    let old = file.load().unwrap_or_default();
    if old != settings {
        file.save(&settings).map_err(|e| CommandError {
            code: "settings_file",
            message: e.0,
        })?;
        ctl.dispatch(Event::SettingsChanged);
    }
    Ok(SettingsView::new(&settings, ctl.env(), &dir))
}
