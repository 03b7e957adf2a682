//! The desktop app (`devauth-desktop`) driven over WebDriver: `tauri-driver`
//! in front of WebKitGTK's `WebKitWebDriver`, one app process per session.
//!
//! It runs only inside a prepared desktop session (`.ci/with-desktop-session.sh`:
//! Xvfb, a private D-Bus bus, an unlocked gnome-keyring, throwaway XDG dirs),
//! which sets `DEVAUTH_DESKTOP_SESSION=1`. Elsewhere the tests skip, unless
//! `DEVAUTH_REQUIRE_DESKTOP=1` makes that a failure.

use crate::TempDir;
use crate::browser::free_port;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const WEBKIT_WEBDRIVER: &str = "/usr/bin/WebKitWebDriver";
pub const APP: &str = "devauth-desktop";

/// Whether the desktop tests can run here; says why not when they cannot.
pub fn desktop_available() -> bool {
    let mut missing = Vec::new();
    if std::env::var("DEVAUTH_DESKTOP_SESSION").as_deref() != Ok("1") {
        missing.push("not inside .ci/with-desktop-session.sh (DEVAUTH_DESKTOP_SESSION=1)".into());
    } else {
        for var in ["DISPLAY", "DBUS_SESSION_BUS_ADDRESS"] {
            if std::env::var_os(var).is_none_or(|v| v.is_empty()) {
                missing.push(format!(
                    "{var} is not set (is a wrapper such as .ci/with-keyring.sh running \
                     inside .ci/with-desktop-session.sh and clearing it?)"
                ));
            }
        }
    }
    if tauri_driver().is_none() {
        missing.push("tauri-driver is not installed (cargo install tauri-driver --locked)".into());
    }
    if !Path::new(WEBKIT_WEBDRIVER).exists() {
        missing.push(format!(
            "{WEBKIT_WEBDRIVER} is missing (apt-get install webkit2gtk-driver)"
        ));
    }
    if !app_binary().exists() {
        missing.push(format!(
            "{} is missing (cargo build -p devauth-desktop)",
            app_binary().display()
        ));
    }
    if missing.is_empty() {
        return true;
    }
    let why = missing.join("; ");
    assert!(
        std::env::var("DEVAUTH_REQUIRE_DESKTOP").as_deref() != Ok("1"),
        "DEVAUTH_REQUIRE_DESKTOP=1 but the desktop tests cannot run: {why}"
    );
    eprintln!("skipped: desktop app tests: {why}");
    false
}

/// The app binary of this build, next to the test executable (this honours
/// `CARGO_TARGET_DIR`).
pub fn app_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join(APP))
        .unwrap_or_else(|| PathBuf::from(APP))
}

/// `tauri-driver` on PATH, else where `cargo install` puts it.
pub fn tauri_driver() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tauri-driver"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        Some(cargo_home.join("bin").join("tauri-driver")).filter(|p| p.is_file())
    })
}

/// A throwaway home for one simulated person: the app's config directory
/// (`DEVAUTH_CONFIG_DIR`), its data directory (`DEVAUTH_DATA_DIR`, where the
/// bundled server keeps its database) and a "browser" that only writes down
/// the pages the app asks it to open (`DEVAUTH_BROWSER`).
pub struct AppHome {
    dir: TempDir,
    vars: Vec<(String, String)>,
}

impl AppHome {
    /// Against `server` (`DEVAUTH_SERVER`); `None` leaves the app to start its bundled server.
    pub fn new(server: Option<&str>) -> AppHome {
        let dir = TempDir::new();
        let browser = dir.path().join("browser.sh");
        let opened = dir.path().join("opened.txt");
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
                opened.display()
            ),
        )
        .expect("writing the fake browser");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755))
                .expect("making the fake browser executable");
        }
        let mut vars = vec![
            (
                "DEVAUTH_CONFIG_DIR".to_string(),
                dir.path().join("config").display().to_string(),
            ),
            (
                "DEVAUTH_DATA_DIR".to_string(),
                dir.path().join("data").display().to_string(),
            ),
            ("DEVAUTH_BROWSER".to_string(), browser.display().to_string()),
            ("DEVAUTH_REFRESH_SECS".to_string(), "1".to_string()),
            (
                "RUST_LOG".to_string(),
                "info,devauth_desktop=debug,devauth_client=debug".to_string(),
            ),
            (
                "DEVAUTH_LOG_FILE".to_string(),
                dir.path().join("app.log").display().to_string(),
            ),
        ];
        if let Some(server) = server {
            vars.push(("DEVAUTH_SERVER".to_string(), server.to_string()));
        }
        AppHome { dir, vars }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Sets (or replaces) one more environment variable for the app.
    pub fn with_var(mut self, name: &str, value: &str) -> AppHome {
        self.vars.retain(|(k, _)| k != name);
        self.vars.push((name.to_string(), value.to_string()));
        self
    }

    /// Every page the app opened in "the browser", oldest first.
    pub fn opened_pages(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("opened.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Waits (bounded) until the app has opened at least `count` pages.
    pub async fn wait_for_pages(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pages = self.opened_pages();
            if pages.len() >= count || Instant::now() > deadline {
                return pages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One running app, driven through `tauri-driver`.
pub struct DesktopApp {
    pub client: Client,
    driver: Child,
    log: PathBuf,
}

impl DesktopApp {
    /// Starts `tauri-driver` with `home`'s environment and opens a session,
    /// which launches the app.
    pub async fn launch(home: &AppHome) -> DesktopApp {
        let driver_bin = tauri_driver().unwrap_or_else(|| panic!("tauri-driver is not installed"));
        let log = home
            .path()
            .join(format!("driver-{}.log", uuid::Uuid::new_v4().simple()));
        let log_file = std::fs::File::create(&log).expect("creating the file");
        let port = free_port();
        let native_port = free_port();
        let mut driver = Command::new(driver_bin)
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .args(["--native-driver", WEBKIT_WEBDRIVER])
            .envs(home.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("cannot start tauri-driver");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({"application": app_binary().display().to_string()}),
        );
        let url = format!("http://127.0.0.1:{port}");
        // The driver needs a moment to listen. Without a display, session
        // creation hangs instead of failing, hence the timeout on each try.
        let deadline = Instant::now() + Duration::from_secs(45);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let attempt = tokio::time::timeout(
                Duration::from_secs(30),
                ClientBuilder::new(connector)
                    .capabilities(caps.clone())
                    .connect(&url),
            )
            .await;
            match attempt {
                Ok(Ok(client)) => break client,
                Ok(Err(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
                other => {
                    kill_tree(driver.id());
                    let _ = driver.kill();
                    let _ = driver.wait();
                    let detail = match other {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".to_string(),
                    };
                    panic!(
                        "cannot start a session with the app: {detail}\n--- driver log ---\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        };
        DesktopApp {
            client,
            driver,
            log,
        }
    }

    /// What the app logged and the drivers printed so far.
    pub fn log(&self) -> String {
        let app = self.log.with_file_name("app.log");
        format!(
            "{}\n--- driver ---\n{}",
            std::fs::read_to_string(app).unwrap_or_default(),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// The state on screen (`signed_out`, `awaiting_approval`, ...).
    pub async fn state(&self) -> String {
        self.js("return document.body.dataset.state || ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the window shows `state`; fails with what it shows instead.
    pub async fn wait_for_state(&self, state: &str) {
        self.wait_for_state_within(state, Duration::from_secs(20))
            .await;
    }

    pub async fn wait_for_state_within(&self, state: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let now = self.state().await;
            if now == state {
                return;
            }
            if Instant::now() > deadline {
                let text = self
                    .js("return document.querySelector('main').innerText")
                    .await;
                panic!(
                    "the app did not reach `{state}` within {limit:?}; it shows `{now}`: {}\n--- app log ---\n{}",
                    text.as_str().unwrap_or_default(),
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `script` returns `true` (UI work that follows an `invoke`
    /// finishes a moment after the click that started it).
    pub async fn wait_until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.js(script).await != Value::Bool(true) {
            if Instant::now() > deadline {
                panic!(
                    "{what}: not so within 15 s (`{script}`)\n--- app log ---\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the element with this id once it shows any (see `text`).
    pub async fn wait_for_text(&self, id: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.text(id).await;
            if !text.is_empty() || Instant::now() > deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn js(&self, script: &str) -> Value {
        bounded(script, self.client.execute(script, vec![]))
            .await
            .unwrap_or(Value::Null)
    }

    /// The text of the element with this id, as rendered (empty when hidden).
    pub async fn text(&self, id: &str) -> String {
        let script = "const el = document.getElementById(arguments[0]); \
                      return el && !el.closest('[hidden]') ? el.innerText : '';";
        bounded("text", self.client.execute(script, vec![json!(id)]))
            .await
            .ok()
            .and_then(|v| v.as_str().map(|s| s.trim().to_string()))
            .unwrap_or_default()
    }

    /// Replaces the value of a text field, as typing would.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = bounded(css, self.client.find(Locator::Css(css)))
            .await
            .unwrap_or_else(|e| panic!("no field {css}: {e}"));
        bounded(css, field.clear())
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        bounded(css, field.send_keys(text))
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn click(&self, css: &str) {
        let el = bounded(css, self.client.find(Locator::Css(css)))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"));
        bounded(css, el.click())
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn source(&self) -> String {
        bounded("source", self.client.source())
            .await
            .unwrap_or_default()
    }

    /// Saves `tests/screenshots/NAME.png` once two frames have painted.
    pub async fn screenshot(&self, name: &str) {
        let _ = bounded(
            "two animation frames",
            self.client.execute_async(
                "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            ),
        )
        .await;
        // Let the screen's entrance animation finish; under load WebKit can
        // hand out the previous frame for a little while after that.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let png = bounded("screenshot", self.client.screenshot())
            .await
            .expect("screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("writing the screenshot");
    }

    /// Ends the session (the app quits) and stops the drivers.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(CALL_LIMIT, self.client.clone().close()).await;
        self.stop_driver();
        // The next launch must not find this app still holding the
        // single-instance name on the session bus.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    fn stop_driver(&mut self) {
        kill_tree(self.driver.id());
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for DesktopApp {
    fn drop(&mut self) {
        self.stop_driver();
    }
}

/// A hung app or driver must fail the test, not stall the run.
const CALL_LIMIT: Duration = Duration::from_secs(30);

async fn bounded<T>(what: &str, call: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(CALL_LIMIT, call).await {
        Ok(value) => value,
        Err(_) => panic!("WebDriver call `{what}` did not answer within {CALL_LIMIT:?}"),
    }
}

/// Kills every descendant of `pid` (WebKitWebDriver and the app under it),
/// by PID, children first.
fn kill_tree(pid: u32) {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                children.entry(ppid).or_default().push(child);
            }
        }
    }
    let mut order = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            order.push(c);
            stack.push(c);
        }
    }
    for pid in order.into_iter().rev() {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// The token the app stored in the Secret Service for `server`, if any.
pub fn keychain_token(server: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "devauth", "username", server])
        .stderr(Stdio::null())
        .output()
        .expect("cannot run secret-tool");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !token.is_empty()).then_some(token)
}
