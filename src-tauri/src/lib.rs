//! devauth-desktop: the Tauri 2 shell over devauth-client. The window
//! (`ui/`, plain HTML, CSS and JS) renders what Rust sends it and calls
//! commands; it never sees a token.
//!
//! # Module map
//!
//! **[`machine`]** is the sign-in state machine (signed out → awaiting
//! approval → signed in, the bundled server's setup step, and the failures),
//! pure Rust with an injected clock: events in, effects out, and the view
//! the window is sent.
//!
//! **[`controller`]** runs the machine: it carries out effects with
//! [`session`] and [`bundled`], and pushes each new view to the window (the
//! `state` event) and to the [`tray`].
//!
//! **[`session`]** is every call into devauth-client (status, sign-in,
//! sign-out) and the wording of its errors for the window.
//!
//! **[`bundled`]** runs devauth-server in-process on loopback with SQLite in
//! the app's data directory, for when no server is configured.
//!
//! **[`settings`]** holds the environment variables the app reads and the
//! server choice kept in `desktop.json`; **[`commands`]** are the Tauri
//! commands the window may call; **[`browser`]** opens pages; **[`tray`]**
//! is the tray icon and its menu.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod alerts;
pub mod approve;
pub mod browser;
pub mod bundled;
pub mod commands;
pub mod controller;
pub mod machine;
pub mod session;
pub mod settings;
pub mod tray;

use std::sync::Arc;

use devauth_client::clock::TokioClock;
use tauri::{Manager, RunEvent, WindowEvent};

use controller::Controller;
use machine::Event;
use settings::DesktopEnv;

/// Builds and runs the app until it quits.
pub fn run() {
    init_logging();

    let app = tauri::Builder::default()
        // First: a second launch hands over to the running app and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tray::show_main_window(app);
        }))
        .invoke_handler(tauri::generate_handler![
            commands::current_view,
            commands::sign_in,
            commands::cancel_sign_in,
            commands::reopen_browser,
            commands::sign_out,
            commands::retry,
            commands::dismiss,
            commands::get_settings,
            commands::save_settings,
            approve::lookup_device,
            approve::approve_device,
            approve::deny_device,
            commands::alerts,
            commands::revoke_sign_in,
        ])
        .setup(|app| {
            let env = DesktopEnv::from_process();
            let data_dir = match &env.data_dir {
                Some(dir) => dir.clone(),
                None => app.path().app_data_dir()?,
            };
            let controller =
                Controller::new(app.handle().clone(), env, Arc::new(TokioClock), data_dir);
            app.manage(controller.clone());
            // On Linux the tray needs libayatana-appindicator3, loaded at run
            // time; without it the library panics. The window works without a tray.
            let handle = app.handle().clone();
            let for_tray = controller.clone();
            let dispatch: Arc<dyn Fn(Event) + Send + Sync> =
                Arc::new(move |event| for_tray.dispatch(event));
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                tray::Tray::build(&handle, dispatch)
            })) {
                Ok(Ok(tray)) => controller.set_tray(tray),
                Ok(Err(e)) => tracing::warn!("no tray icon: {e}"),
                Err(_) => tracing::warn!("no tray icon: the appindicator library is missing"),
            }
            controller.launch();
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::Focused(true) = event
                && let Some(controller) = window.try_state::<Arc<Controller>>()
            {
                controller.dispatch(Event::RefreshDue);
            }
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("devauth: cannot start the app: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let RunEvent::Exit = event
            && let Some(controller) = handle.try_state::<Arc<Controller>>()
        {
            tauri::async_runtime::block_on(controller.shutdown());
        }
    });
}

/// Logs go to stderr, or to the file named by `DEVAUTH_LOG_FILE` (appended);
/// `RUST_LOG` filters them.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,devauth_desktop=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let file = std::env::var_os(settings::ENV_LOG_FILE)
        .filter(|p| !p.is_empty())
        .and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
        });
    let _ = match file {
        Some(file) => builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}
