//! The desktop app end to end, under Xvfb with a real Secret Service keychain
//! (run inside `.ci/with-desktop-session.sh`): sign in through a harness
//! server, restart, revocation elsewhere, sign out, deny, an expired code, and
//! the bundled server's first-run setup. Screenshots go to
//! `tests/screenshots/desktop-*.png`.
//!
//! One test function: every app instance shares the session bus, where the
//! app holds a single-instance name, so the scenarios run one after another.

use devauth_harness::desktop::{AppHome, DesktopApp, desktop_available, keychain_token};
use devauth_harness::notifications::Notifications;
use devauth_harness::*;
use devauth_server::Config;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn is_user_code(code: &str) -> bool {
    code.len() == 9
        && code.chars().enumerate().all(|(i, c)| {
            if i == 4 {
                c == '-'
            } else {
                "BCDFGHJKLMNPQRSTVWXZ".contains(c)
            }
        })
}

/// A harness server whose manual clock follows real time (the app's clock is
/// real) plus an offset tests can move. Its polling interval is 0, so the app
/// polls every second (its minimum) and never gets `slow_down`: the server's
/// clock moves in whole seconds, in steps, and could see two polls a second
/// apart as too close.
struct Server {
    srv: TestServer,
    offset: Arc<AtomicI64>,
    follow: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start() -> Server {
        let srv = spawn_server_with(
            Backend::Sqlite,
            Config {
                poll_interval_secs: 0,
                // The test is the loopback proxy: a device can come from another network.
                trusted_proxies: devauth_server::client_ip::TrustedProxies::parse("127.0.0.1")
                    .expect("loopback"),
                ..Config::default()
            },
        )
        .await;
        let offset = Arc::new(AtomicI64::new(0));
        let clock = srv.clock.clone();
        let ahead = offset.clone();
        let follow = tokio::spawn(async move {
            loop {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or_default();
                clock.set(now + ahead.load(Ordering::SeqCst));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        // Let the first tick set the clock.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Server {
            srv,
            offset,
            follow,
        }
    }

    /// Moves the server's time forward.
    fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }

    async fn stop(self) {
        self.follow.abort();
        self.srv.stop().await;
    }
}

impl std::ops::Deref for Server {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.srv
    }
}

/// Clicks Sign in and returns the code the window shows.
async fn start_sign_in(app: &DesktopApp) -> String {
    app.click("#sign-in").await;
    app.wait_for_state("awaiting_approval").await;
    let code = app.text("user-code").await;
    assert!(is_user_code(&code), "a user code on screen: {code:?}");
    code
}

async fn approve(srv: &TestServer, approver: &str, code: &str) {
    let reply = srv
        .post_json(
            "/api/device/approve",
            Some(approver),
            json!({"user_code": code, "org": "acme"}),
        )
        .await;
    assert_eq!(reply.status, 200, "approve: {}", reply.body);
}

/// Waits (bounded) for the keychain entry to appear or disappear.
async fn wait_for_keychain(server: &str, present: bool) -> Option<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let token = keychain_token(server);
        if token.is_some() == present || std::time::Instant::now() > deadline {
            return token;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn s(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Waits (bounded) until `/me` with `token` answers `status`.
async fn wait_for_status(srv: &TestServer, token: &str, status: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while srv.get("/me", Some(token)).await.status != status {
        assert!(
            std::time::Instant::now() < deadline,
            "/me did not answer {status} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn dark(app: &DesktopApp, name: &str) {
    app.js("document.documentElement.dataset.theme = 'dark'")
        .await;
    app.screenshot(name).await;
    app.js("delete document.documentElement.dataset.theme")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_app_end_to_end() {
    if !desktop_available() {
        return;
    }
    sign_in_restart_revoke_sign_out().await;
    deny_and_expired_code().await;
    bundled_server_first_run().await;
    no_keychain().await;
}

async fn sign_in_restart_revoke_sign_out() {
    let srv = Server::start().await;
    let owner = srv.claim().await;
    // The session bus's notification service is the test's: it sees what
    // the app shows and clicks for the person.
    let notes = Notifications::start()
        .await
        .expect("the notification service's name on the session bus");
    let home = AppHome::new(Some(&srv.url));

    // Signed out: the server it talks to and a Sign in button.
    let app = DesktopApp::launch(&home).await;
    app.wait_for_state("signed_out").await;
    app.screenshot("desktop-signed-out").await;
    let host = app.text("server-host").await;
    assert_eq!(host, srv.url.trim_start_matches("http://"));
    assert_eq!(app.text("server-label").await, "Server from DEVAUTH_SERVER");

    // Sign in: a code on screen, the browser opened at the complete URI.
    let code = start_sign_in(&app).await;
    let pages = home.wait_for_pages(1).await;
    assert_eq!(
        pages.last().map(String::as_str),
        Some(format!("{}/device?user_code={code}", srv.url).as_str()),
        "the app opens verification_uri_complete"
    );
    assert!(app.source().await.contains("<svg"), "a QR code is shown");
    app.screenshot("desktop-awaiting-approval").await;
    dark(&app, "desktop-awaiting-approval-dark").await;

    // Approved in "the browser": signed in as the right user and org.
    approve(&srv, &owner, &code).await;
    app.wait_for_state("signed_in").await;
    assert_eq!(app.text("si-name").await, "Olive Owner");
    assert_eq!(app.text("si-email").await, OWNER_EMAIL);
    assert_eq!(app.text("si-org-name").await, "Acme");
    assert_eq!(app.text("si-org").await, "acme");
    assert_eq!(app.text("si-role").await.to_lowercase(), "owner");
    assert_eq!(app.text("si-expiry").await, "Expires in 90 days");
    app.screenshot("desktop-signed-in").await;
    dark(&app, "desktop-signed-in-dark").await;

    // The token is in the Secret Service, works, and never reached the window.
    let token = wait_for_keychain(&srv.url, true)
        .await
        .unwrap_or_else(|| panic!("no token in the keychain for {}", srv.url));
    assert!(token.starts_with("dva_"), "a devauth token in the keychain");
    let me = srv.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["user"]["email"], OWNER_EMAIL);
    assert_eq!(me.body["token"]["kind"], "device");
    assert!(
        !app.source().await.contains(&token),
        "the token reached the webview"
    );

    // Restart: still signed in, from the keychain, checked with /me.
    app.close().await;
    let app = DesktopApp::launch(&home).await;
    app.wait_for_state("signed_in").await;
    assert_eq!(app.text("si-name").await, "Olive Owner");
    assert_eq!(app.text("si-org").await, "acme");

    // Approve a device from the app: another machine's CLI, asking from
    // another network. The same facts and warning as the web page, Deny
    // first; the grant narrowed to reading for 7 days.
    let other: serde_json::Value = srv
        .http
        .post(srv.at("/oauth/device_authorization"))
        .header("x-forwarded-for", "203.0.113.7")
        .form(&[("client_id", "devauth-cli"), ("device_name", "ssh box")])
        .send()
        .await
        .expect("a device authorization")
        .json()
        .await
        .expect("its JSON");
    app.click("#approve-device").await;
    app.fill("#ad-code", other["user_code"].as_str().unwrap_or_default())
        .await;
    app.click("#ad-submit").await;
    app.wait_until(
        "the request is shown",
        "return !document.getElementById('ad-request').hidden",
    )
    .await;
    assert_eq!(app.text("ad-device").await, "ssh box");
    assert_eq!(app.text("ad-from").await, "203.0.113.7 (another network)");
    assert_eq!(
        app.js("return document.getElementById('ad-warning').hidden")
            .await,
        json!(false),
        "the different-network warning"
    );
    assert_eq!(
        app.js("return document.activeElement.id").await,
        json!("ad-deny")
    );
    app.screenshot("desktop-approve-device").await;
    app.click("#ad-read").await;
    app.js("document.getElementById('ad-days').value = '7'")
        .await;
    app.click("#ad-submit").await;
    app.wait_until(
        "the approval is confirmed",
        "return !document.getElementById('ad-result').hidden",
    )
    .await;
    assert_eq!(
        app.text("ad-result").await,
        "Approved: ssh box is signed in to Acme for 7 days."
    );
    let issued = srv
        .poll(
            other["device_code"].as_str().unwrap_or_default(),
            "devauth-cli",
        )
        .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert_eq!(issued.body["expires_in"], 7 * 86_400);
    let them = srv.get("/me", issued.body["access_token"].as_str()).await;
    assert_eq!(them.body["scopes"], json!(["profile:read", "tokens:read"]));
    app.click("#ad-close").await;

    // The new sign-in is announced: a system notification with Revoke, and
    // an alert in the window whose Revoke signs the device out.
    let ssh_token = s(&issued.body["access_token"]);
    let ssh_id = s(&them.body["token"]["id"]);
    let shown = notes.wait_for(1).await;
    assert_eq!(shown[0].app, "devauth");
    assert_eq!(shown[0].summary, "New sign-in: ssh box");
    assert!(shown[0].body.contains("from 203.0.113.7"), "{:?}", shown[0]);
    assert_eq!(shown[0].actions, vec!["revoke", "Revoke"]);
    app.wait_until(
        "the alert is shown",
        "return document.querySelector('#alerts .alert-item') !== null",
    )
    .await;
    assert_eq!(
        app.text("alerts").await.lines().next().unwrap_or_default(),
        "New sign-in: ssh box from 203.0.113.7. Not you?"
    );
    app.screenshot("desktop-new-sign-in").await;
    app.click(&format!("#revoke-{ssh_id}")).await;
    wait_for_status(&srv, &ssh_token, 401).await;
    app.wait_until(
        "the alert says revoked",
        "return document.getElementById('alerts').textContent.includes('Revoked: ssh box')",
    )
    .await;
    // Another sign-in, revoked from the notification's own Revoke.
    let tablet = srv.start_device("devauth-cli", "tablet").await;
    approve(
        &srv,
        &owner,
        tablet["user_code"].as_str().unwrap_or_default(),
    )
    .await;
    let tablet = srv
        .poll(
            tablet["device_code"].as_str().unwrap_or_default(),
            "devauth-cli",
        )
        .await;
    let tablet_token = s(&tablet.body["access_token"]);
    let shown = notes.wait_for(2).await;
    assert_eq!(shown[1].summary, "New sign-in: tablet");
    notes.click(shown[1].id, "revoke").await;
    wait_for_status(&srv, &tablet_token, 401).await;

    // Revoked on the server: the app notices and says why.
    let id = me.body["token"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let revoked = srv.delete(&format!("/api/tokens/{id}"), Some(&owner)).await;
    assert_eq!(revoked.status, 200, "revoke: {}", revoked.body);
    app.wait_for_state("signed_out").await;
    let notice = app.text("so-notice").await;
    assert!(notice.contains("no longer accepts"), "the reason: {notice}");
    app.screenshot("desktop-revoked").await;
    assert_eq!(
        wait_for_keychain(&srv.url, false).await,
        None,
        "the rejected token is dropped from the keychain"
    );

    // Sign in again, then sign out: revoked on the server, gone from the keychain.
    let code = start_sign_in(&app).await;
    approve(&srv, &owner, &code).await;
    app.wait_for_state("signed_in").await;
    let second = wait_for_keychain(&srv.url, true)
        .await
        .unwrap_or_else(|| panic!("no token after signing in again"));
    assert_ne!(second, token);
    app.click("#sign-out").await;
    app.wait_for_state("signed_out").await;
    let notice = app.text("so-notice").await;
    assert!(notice.starts_with("Signed out."), "{notice}");
    assert_eq!(srv.get("/me", Some(&second)).await.status, 401);
    assert_eq!(keychain_token(&srv.url), None, "the keychain entry is gone");
    app.screenshot("desktop-signed-out-after-sign-out").await;
    app.close().await;
    srv.stop().await;
}

async fn deny_and_expired_code() {
    let srv = Server::start().await;
    let owner = srv.claim().await;
    let home = AppHome::new(Some(&srv.url));
    let app = DesktopApp::launch(&home).await;
    app.wait_for_state("signed_out").await;

    // Denied in the browser.
    let code = start_sign_in(&app).await;
    let reply = srv
        .post_json("/api/device/deny", Some(&owner), json!({"user_code": code}))
        .await;
    assert_eq!(reply.status, 200, "deny: {}", reply.body);
    app.wait_for_state("failed").await;
    assert_eq!(
        app.js("return document.body.dataset.failure").await,
        "denied"
    );
    assert_eq!(app.text("f-title").await, "Sign-in was denied");
    assert_eq!(app.text("f-retry").await, "Get a new code");
    app.screenshot("desktop-denied").await;
    assert_eq!(keychain_token(&srv.url), None);

    // The code runs out (on the server's clock): one click gets a new one.
    app.click("#f-retry").await;
    app.wait_for_state("awaiting_approval").await;
    let fresh = app.text("user-code").await;
    assert!(is_user_code(&fresh) && fresh != code, "a new code: {fresh}");
    srv.advance(601);
    // A clock jump wakes no held poll: the one in flight (`Prefer: wait=25`)
    // answers when its hold ends, and the next one sees the expiry.
    app.wait_for_state_within("failed", Duration::from_secs(45))
        .await;
    assert_eq!(
        app.js("return document.body.dataset.failure").await,
        "code_expired"
    );
    assert_eq!(app.text("f-title").await, "The code expired");
    app.screenshot("desktop-code-expired").await;

    // "Back" returns to the signed-out screen with nothing stored.
    app.click("#f-dismiss").await;
    app.wait_for_state("signed_out").await;
    assert_eq!(keychain_token(&srv.url), None);

    // Signed in, then the server goes away: the app says so and keeps the
    // profile; signing out forgets the token here and keeps it for revocation.
    let code = start_sign_in(&app).await;
    approve(&srv, &owner, &code).await;
    app.wait_for_state("signed_in").await;
    let url = srv.url.clone();
    srv.stop().await;
    app.wait_for_text("si-offline", Duration::from_secs(20))
        .await;
    assert!(
        app.text("si-offline")
            .await
            .starts_with("Can't reach the server"),
        "offline notice: {:?}",
        app.text("si-offline").await
    );
    assert_eq!(app.text("si-name").await, "Olive Owner");
    app.screenshot("desktop-offline").await;
    app.click("#sign-out").await;
    app.wait_for_state("signed_out").await;
    assert_eq!(
        app.js("return document.getElementById('so-notice').dataset.kind")
            .await,
        "revocation_pending"
    );
    app.screenshot("desktop-offline-sign-out").await;
    assert_eq!(keychain_token(&url), None, "no longer used here");
    assert!(
        keychain_token(&format!("{url}#pending-revocation")).is_some(),
        "kept until the server can revoke it"
    );
    app.close().await;
}

async fn bundled_server_first_run() {
    let home = AppHome::new(None);
    let app = DesktopApp::launch(&home).await;
    app.wait_for_state("signed_out").await;
    assert_eq!(app.text("server-label").await, "Built-in server");

    // First Sign in on the unclaimed bundled server opens its setup page, with
    // the setup token in the fragment, through a private file: the browser's
    // command line, which any process can read, holds no secret.
    app.click("#sign-in").await;
    app.wait_for_state("setup").await;
    let pages = home.wait_for_pages(1).await;
    let opened = pages.first().cloned().unwrap_or_default();
    assert!(
        !opened.contains("setup_token"),
        "a secret in argv: {opened}"
    );
    let launcher = opened
        .strip_prefix("file://")
        .unwrap_or_else(|| panic!("a file URL: {opened:?}"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(launcher)
            .expect("the launcher page")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only this user can read it");
    }
    let page = std::fs::read_to_string(launcher).expect("the launcher page");
    let setup = page
        .split_once("url=")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(url, _)| url.to_string())
        .unwrap_or_else(|| panic!("a redirect in {page}"));
    let (base, token) = setup
        .split_once("/setup#setup_token=")
        .unwrap_or_else(|| panic!("the setup page with its token: {setup:?}"));
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    app.screenshot("desktop-setup").await;

    // Claiming setup (what the wizard does) lets sign-in continue by itself.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let claim: serde_json::Value = http
        .post(format!("{base}/api/setup/claim"))
        .json(
            &json!({"setup_token": token, "email": "ada@example.com", "name": "Ada Lovelace",
                      "password": PASSWORD, "org_name": "Acme"}),
        )
        .send()
        .await
        .expect("claim")
        .json()
        .await
        .expect("claim");
    let owner = claim["token"].as_str().unwrap_or_default().to_string();
    assert!(owner.starts_with("dva_"), "claimed: {claim}");
    app.wait_for_state("awaiting_approval").await;
    assert!(
        !std::path::Path::new(launcher).exists(),
        "the launcher goes once setup is claimed"
    );
    // The bundled server answers only to its own address (DNS rebinding).
    let rebound = http
        .get(format!("{base}/api/setup/status"))
        .header("host", "rebound.example")
        .send()
        .await
        .expect("an answer");
    assert_eq!(rebound.status().as_u16(), 421);
    let code = app.text("user-code").await;
    let pages = home.wait_for_pages(2).await;
    assert_eq!(
        pages.get(1).map(String::as_str),
        Some(format!("{base}/device?user_code={code}").as_str())
    );
    let approved = http
        .post(format!("{base}/api/device/approve"))
        .bearer_auth(&owner)
        .json(&json!({"user_code": code, "org": "acme"}))
        .send()
        .await
        .expect("the approval gets an answer");
    assert_eq!(approved.status().as_u16(), 200);
    app.wait_for_state("signed_in").await;
    assert_eq!(app.text("si-name").await, "Ada Lovelace");
    assert!(keychain_token(base).is_some(), "token stored for {base}");
    app.close().await;

    // The bundled server keeps its port, so a restart finds the token again.
    let app = DesktopApp::launch(&home).await;
    app.wait_for_state("signed_in").await;
    assert_eq!(
        app.text("server-host").await,
        base.trim_start_matches("http://")
    );
    app.click("#sign-out").await;
    app.wait_for_state("signed_out").await;
    assert_eq!(keychain_token(base), None);

    // Settings: a plain-http remote server is refused and nothing changes.
    app.click("#change-server").await;
    app.wait_until(
        "the settings dialog is open",
        "return document.getElementById('settings').open",
    )
    .await;
    app.click("#mode-remote").await;
    app.fill("#server-url", "http://auth.example.com").await;
    app.click("#settings-save").await;
    app.wait_for_text("settings-error", Duration::from_secs(5))
        .await;
    assert!(
        app.text("settings-error")
            .await
            .starts_with("Use https:// for auth.example.com"),
        "{}",
        app.text("settings-error").await
    );
    app.screenshot("desktop-settings").await;
    app.click("#settings-cancel").await;
    assert_eq!(app.text("server-label").await, "Built-in server");
    assert!(!home.path().join("config/desktop.json").exists());
    app.close().await;
}

/// Without a Secret Service (no D-Bus session bus), Sign in says what to install.
async fn no_keychain() {
    let srv = Server::start().await;
    let home = AppHome::new(Some(&srv.url))
        .with_var("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let app = DesktopApp::launch(&home).await;
    app.wait_for_state("signed_out").await;
    app.click("#sign-in").await;
    app.wait_for_state("failed").await;
    assert_eq!(
        app.js("return document.body.dataset.failure").await,
        "keychain"
    );
    assert_eq!(app.text("f-title").await, "The keychain is not available");
    assert!(app.text("f-hint").await.contains("GNOME Keyring"));
    app.screenshot("desktop-keychain-unavailable").await;
    app.close().await;
    srv.stop().await;
}
