//! The tray icon: the sign-in status, Sign in / Sign out, Show and Quit.

use std::sync::Arc;

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

use crate::machine::{Event, Screen, View};

pub struct Tray {
    status: MenuItem<Wry>,
    sign_in: MenuItem<Wry>,
    sign_out: MenuItem<Wry>,
    icon: TrayIcon<Wry>,
}

impl Tray {
    /// The tray, whose Sign in / Sign out items hand their event to `dispatch`
    /// (the controller's; the tray knows nothing else of it).
    pub fn build(
        app: &AppHandle,
        dispatch: Arc<dyn Fn(Event) + Send + Sync>,
    ) -> tauri::Result<Tray> {
        let status = MenuItem::with_id(app, "status", "devauth", false, None::<&str>)?;
        let sign_in = MenuItem::with_id(app, "sign_in", "Sign in…", false, None::<&str>)?;
        let sign_out = MenuItem::with_id(app, "sign_out", "Sign out", false, None::<&str>)?;
        let show = MenuItem::with_id(app, "show", "Show window", true, None::<&str>)?;
        let quit = MenuItem::with_id(app, "quit", "Quit devauth", true, None::<&str>)?;
        let menu = Menu::with_items(
            app,
            &[
                &status,
                &PredefinedMenuItem::separator(app)?,
                &sign_in,
                &sign_out,
                &PredefinedMenuItem::separator(app)?,
                &show,
                &quit,
            ],
        )?;
        let mut builder = TrayIconBuilder::with_id("main")
            .menu(&menu)
            .tooltip("devauth")
            .on_menu_event(move |app, event| match event.id().as_ref() {
                "sign_in" => {
                    show_main_window(app);
                    dispatch(Event::SignInClicked);
                }
                "sign_out" => dispatch(Event::SignOutClicked),
                "show" => show_main_window(app),
                "quit" => app.exit(0),
                _ => {}
            });
        if let Some(icon) = app.default_window_icon() {
            builder = builder.icon(icon.clone());
        }
        let icon = builder.build(app)?;
        Ok(Tray {
            status,
            sign_in,
            sign_out,
            icon,
        })
    }

    pub fn update(&self, view: &View) {
        let (status, can_sign_in, can_sign_out) = match &view.screen {
            Screen::Starting => ("Checking sign-in…".to_string(), false, false),
            Screen::SignedOut { .. } => ("Signed out".to_string(), true, false),
            Screen::Setup => ("Setting up the server…".to_string(), false, false),
            Screen::Requesting | Screen::AwaitingApproval { .. } => {
                ("Waiting for approval…".to_string(), false, false)
            }
            Screen::SignedIn {
                name,
                email,
                org,
                expiring_soon,
                expiry,
                ..
            } => {
                let who = name.as_ref().or(email.as_ref()).map_or("", |s| s.as_str());
                let mut text = match org {
                    Some(org) => format!("Signed in as {who} ({org})"),
                    None => format!("Signed in as {who}"),
                };
                if *expiring_soon {
                    text = format!("{text} — token {}", expiry.to_lowercase());
                }
                (text, false, true)
            }
            Screen::SigningOut => ("Signing out…".to_string(), false, false),
            Screen::Failed(failure) => (failure.title.to_string(), true, false),
        };
        // Menus are best effort: a desktop without a tray still has the window.
        let _ = self.status.set_text(&status);
        let _ = self.sign_in.set_enabled(can_sign_in);
        let _ = self.sign_out.set_enabled(can_sign_out);
        let _ = self.icon.set_tooltip(Some(format!("devauth: {status}")));
    }
}

pub fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}
