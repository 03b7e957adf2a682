//! Real headless Chromium over WebDriver (Debian's `chromium` and
//! `chromium-driver`), one browser per test, each with a throwaway profile.

use crate::TempDir;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether browser tests can run. Missing Chromium is a skip in a developer's
/// `cargo test`, and a failure when `DEVAUTH_REQUIRE_BROWSER=1` (make test, CI).
pub fn browser_available() -> bool {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var("DEVAUTH_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "DEVAUTH_REQUIRE_BROWSER=1 but Chromium is missing: apt-get install chromium chromium-driver"
        );
        eprintln!(
            "skipped: Chromium is not installed (apt-get install chromium chromium-driver, or run `make test`)"
        );
    }
    present
}

/// A free TCP port on loopback.
/// axe-core's script (`DEVAUTH_AXE_JS`, or where `.ci/install-deps.sh
/// browser` puts it); `None` when it is not installed.
pub fn axe_source() -> Option<String> {
    let path = std::env::var("DEVAUTH_AXE_JS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            let cache = std::env::var("DEVAUTH_AXE_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|_| {
                    std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                        .join(".cache/devauth-axe")
                });
            cache.join("node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(path).ok()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: TempDir,
}

/// Viewport of a desktop window, or of a phone (390 × 844 CSS pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    Desktop,
    Phone,
    /// A desktop window that prefers the dark colour scheme.
    Dark,
}

impl Browser {
    pub async fn start(viewport: Viewport) -> Browser {
        let port = free_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start chromedriver");
        let profile = TempDir::new();
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        });
        if viewport == Viewport::Dark
            && let Some(args) = options["args"].as_array_mut()
        {
            args.push(json!("--blink-settings=preferredColorScheme=0"));
        }
        if viewport == Viewport::Phone {
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 1.0}});
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), options);
        let url = format!("http://127.0.0.1:{port}");
        // chromedriver needs a moment to listen; retry until it does (bounded).
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(err) if Instant::now() < deadline => {
                    let _ = err;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => {
                    let _ = driver.kill();
                    panic!("cannot start a Chromium session: {err}");
                }
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.try_goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Navigates to `url`; the error says why the page did not load (a
    /// redirect to a host that does not resolve, for one).
    pub async fn try_goto(&self, url: &str) -> Result<(), String> {
        self.client.goto(url).await.map_err(|e| e.to_string())
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no field {css}: {e}"));
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks something that loads a new page (a submit button, a link) and
    /// waits, bounded, until the new page has loaded.
    pub async fn click(&self, css: &str) {
        self.js("window.__devauth_old_page = true;").await;
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"));
        el.click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let loaded = self
                .client
                .execute(
                    "return !window.__devauth_old_page && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(loaded, Ok(Value::Bool(true))) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "clicking {css} did not load a new page"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Clicks something that stays on the page (opens a dialog, say).
    pub async fn press(&self, css: &str) {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"));
        el.click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Reloads the page, as the person pressing F5 would.
    pub async fn reload(&self) {
        self.client
            .refresh()
            .await
            .unwrap_or_else(|e| panic!("reload: {e}"));
    }

    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|v| !v.is_empty())
            .unwrap_or(false)
    }

    pub async fn value(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el.prop("value").await.ok().flatten().unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap_or_default()
    }

    /// Runs an asynchronous script: it ends by calling `arguments[0]` with its result.
    pub async fn js_async(&self, script: &str) -> Value {
        self.client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// The serious and critical accessibility violations axe-core
    /// ([`axe_source`]) finds on this page, one line each: the rule, its
    /// help, and where.
    pub async fn accessibility_violations(&self, axe: &str) -> Vec<String> {
        self.client
            .execute(&format!("{axe}\n;return true;"), vec![])
            .await
            .unwrap_or_else(|e| panic!("injecting axe-core: {e}"));
        let found = self
            .js_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ' (' + v.help + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
                   .catch(e => done(['axe failed: ' + e]));",
            )
            .await;
        found
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or(Value::Null)
    }

    /// Signs in through `/login` (or whatever page redirected there).
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("form[action='/login'] button[type=submit]")
            .await;
    }

    /// Saves a PNG screenshot to `tests/screenshots/NAME.png` after two frames have painted.
    pub async fn screenshot(&self, name: &str) {
        let _ = self
            .client
            .execute_async(
                "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await;
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("writing the screenshot");
    }

    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// A command of the WebDriver WebAuthn extension (chromedriver implements it).
#[derive(Debug)]
struct WebAuthnCommand {
    path: String,
    method: http::Method,
    body: Option<Value>,
}

impl fantoccini::wd::WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

impl Browser {
    /// Adds a virtual authenticator (CTAP2, built in, holding discoverable
    /// credentials, user verification that succeeds): its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let answer = self
            .client
            .issue_cmd(WebAuthnCommand {
                path: "authenticator".into(),
                method: http::Method::POST,
                body: Some(serde_json::json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                })),
            })
            .await
            .unwrap_or_else(|e| panic!("a virtual authenticator: {e}"));
        let id = answer.get("value").unwrap_or(&answer);
        id.as_str().unwrap_or_default().to_string()
    }

    /// The credentials a virtual authenticator holds.
    pub async fn virtual_credentials(&self, authenticator: &str) -> Vec<Value> {
        let answer = self
            .client
            .issue_cmd(WebAuthnCommand {
                path: format!("authenticator/{authenticator}/credentials"),
                method: http::Method::GET,
                body: None,
            })
            .await
            .unwrap_or_else(|e| panic!("the authenticator's credentials: {e}"));
        let list = answer.get("value").unwrap_or(&answer);
        list.as_array().cloned().unwrap_or_default()
    }

    /// Waits (bounded) until the element `css` shows some text: it.
    pub async fn text_appears(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = self
                .client
                .execute(
                    "const el = document.querySelector(arguments[0]); \
                     return el && !el.hidden ? el.textContent.trim() : '';",
                    vec![Value::String(css.to_string())],
                )
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            if !text.is_empty() {
                return text;
            }
            assert!(Instant::now() < deadline, "{css} never showed text");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
