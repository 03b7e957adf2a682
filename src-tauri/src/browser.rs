//! Opening pages in the person's browser: the system default, the program
//! named by `DEVAUTH_BROWSER`, or none at all with `DEVAUTH_NO_BROWSER=1`
//! (the window always shows the code and the address to type).

use std::process::{Command, Stdio};

use crate::settings::DesktopEnv;

pub fn open(env: &DesktopEnv, url: &str) {
    if env.no_browser {
        tracing::info!("DEVAUTH_NO_BROWSER is set: not opening a browser");
        return;
    }
    let result = match &env.browser {
        Some(program) => Command::new(program)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|mut child| {
                // Reaped on a thread of its own so no zombie is left behind.
                std::thread::spawn(move || child.wait());
            }),
        None => open::that_detached(url),
    };
    if let Err(e) = result {
        // The URL itself stays out of the log: the setup page carries a secret.
        tracing::warn!("could not open a browser: {e}");
    }
}
