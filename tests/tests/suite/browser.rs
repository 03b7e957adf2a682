//! The pages in real headless Chromium: setup, sign-in, approving and denying a
//! device, expired and wrong codes, tokens on /account, member removal on
//! /admin, CSRF, escaping, and a phone-width layout. Screenshots go to
//! `tests/screenshots/`.

use devauth_harness::browser::{Browser, Viewport, browser_available};
use devauth_harness::*;
use devauth_server::Config;
use devauth_server::client_ip::TrustedProxies;
use devauth_server::model::Role;
use serde_json::json;

fn s(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn signed_in(srv: &TestServer, email: &str, viewport: Viewport) -> Browser {
    let browser = Browser::start(viewport).await;
    browser.goto(&srv.at("/login")).await;
    browser.sign_in(email, PASSWORD).await;
    assert!(
        browser.url().await.ends_with("/account"),
        "signed in: {}",
        browser.url().await
    );
    browser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_setup_through_the_wizard() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    let browser = Browser::start(Viewport::Desktop).await;
    // The desktop app opens /setup with the token in the fragment, which never reaches the server.
    browser
        .goto(&srv.at(&format!("/setup#setup_token={SETUP_TOKEN}")))
        .await;
    assert_eq!(
        browser.value("#setup_token").await,
        SETUP_TOKEN,
        "filled from the fragment"
    );
    assert!(
        !browser.url().await.contains(SETUP_TOKEN),
        "the fragment is dropped from the address bar"
    );
    browser.fill("#email", "olive@example.com").await;
    browser.fill("#name", "Olive").await;
    browser.fill("#password", PASSWORD).await;
    browser.fill("#org_name", "Acme Corp").await;
    browser.click("form[action='/setup'] button").await;
    assert!(
        browser.text("#notice").await.contains("Setup complete"),
        "{}",
        browser.source().await
    );
    let token = browser.text("#new-token-value").await;
    assert_eq!(
        srv.get("/me", Some(&token)).await.body["org"]["slug"],
        "acme-corp"
    );
    assert_eq!(
        srv.get("/api/setup/status", None).await.body["claimed"],
        true
    );
    // Setup is gone once claimed.
    browser.goto(&srv.at("/setup")).await;
    assert!(
        !browser.url().await.contains("/setup"),
        "{}",
        browser.url().await
    );
    browser.close().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_approval_in_the_browser() {
    if !browser_available() {
        return;
    }
    // The test is the loopback proxy, so the device can appear to come from another network.
    let srv = spawn_server_with(
        Backend::Sqlite,
        Config {
            trusted_proxies: TrustedProxies::parse("127.0.0.1").expect("loopback is a range"),
            ..Config::default()
        },
    )
    .await;
    srv.claim().await;
    let started = srv
        .http
        .post(srv.at("/oauth/device_authorization"))
        .header("x-forwarded-for", "203.0.113.7")
        .form(&[
            ("client_id", "devauth-desktop"),
            ("device_name", "Ada's ThinkPad"),
        ])
        .send()
        .await
        .expect("the request got an answer")
        .json::<serde_json::Value>()
        .await
        .unwrap_or_default();
    let user_code = s(&started["user_code"]);
    let browser = Browser::start(Viewport::Desktop).await;
    browser
        .goto(&s(&started["verification_uri_complete"]))
        .await;
    assert!(
        browser.url().await.contains("/login?next="),
        "not signed in → login first: {}",
        browser.url().await
    );
    browser.sign_in(OWNER_EMAIL, PASSWORD).await;
    assert!(
        browser.url().await.contains("/device?user_code="),
        "back to the code: {}",
        browser.url().await
    );
    assert_eq!(
        browser.value("#user_code").await,
        user_code,
        "code kept and pre-filled"
    );
    browser.click("form[action='/device'] button").await;
    assert_eq!(browser.text("#device-name").await, "Ada's ThinkPad");
    assert_eq!(browser.text("#requester-ip").await, "203.0.113.7");
    assert!(
        browser
            .text("#network-warning")
            .await
            .contains("This request came from a different network"),
        "anti-phishing warning shown"
    );
    // Across networks the page does not show the code: it must be typed
    // from the device, and Deny has the focus.
    assert!(
        !browser.exists("#code-shown").await,
        "the code is not shown"
    );
    assert!(
        !browser.text("#confirm").await.contains(&user_code),
        "the code is nowhere on the page"
    );
    assert_eq!(browser.js("return document.activeElement.id").await, "deny");
    assert_eq!(
        browser.text("#reported #device-name").await,
        "Ada's ThinkPad"
    );
    assert!(
        browser
            .text("#network")
            .await
            .starts_with("Not this browser's"),
        "{}",
        browser.text("#network").await
    );
    browser.screenshot("confirm").await;
    // Approve without the code (the browser would not send the form: the
    // field is required; the server refuses it anyway).
    browser
        .js("document.getElementById('confirm_code').removeAttribute('required')")
        .await;
    browser.click("#approve").await;
    assert!(
        browser
            .text("#error")
            .await
            .contains("type the code your device shows"),
        "{}",
        browser.source().await
    );
    assert_eq!(
        browser.js("return document.activeElement.id").await,
        "confirm_code"
    );
    let device_code = s(&started["device_code"]);
    srv.clock.advance(10);
    assert_eq!(
        srv.poll(&device_code, "devauth-desktop").await.error(),
        "authorization_pending",
        "the request stays pending"
    );
    // Another code: refused, still pending.
    let other = if user_code == "BCDF-GHJK" {
        "BCDF-GHJL"
    } else {
        "BCDF-GHJK"
    };
    browser.fill("#confirm_code", other).await;
    browser.click("#approve").await;
    assert!(
        browser
            .text("#error")
            .await
            .contains("not the code of this request"),
        "{}",
        browser.source().await
    );
    srv.clock.advance(10);
    assert_eq!(
        srv.poll(&device_code, "devauth-desktop").await.error(),
        "authorization_pending"
    );
    // The code as the device shows it, typed loosely: approved.
    browser
        .fill("#confirm_code", &user_code.replace('-', " ").to_lowercase())
        .await;
    browser.click("#approve").await;
    assert_eq!(browser.text("#message h1").await, "Device approved");
    assert!(
        browser
            .text("#message")
            .await
            .contains("now acts as you (owner@example.com) — owner of Acme — for 90 days. Return to the device now."),
        "{}",
        browser.text("#message").await
    );
    srv.clock.advance(10);
    let reply = srv
        .poll(&s(&started["device_code"]), "devauth-desktop")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The code cannot be used again.
    browser
        .goto(&srv.at(&format!("/device?user_code={user_code}")))
        .await;
    browser.click("form[action='/device'] button").await;
    assert_eq!(
        browser.text("#message h1").await,
        "This code was already used"
    );
    browser.close().await;
    srv.stop().await;
}

/// Serves one HTML page on `localhost` (another site than the test server's
/// `127.0.0.1`), as a phishing page or a web mail would link to devauth.
async fn serve_elsewhere(html: String) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the other site");
    let port = listener.local_addr().expect("its address").port();
    let task = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut head = [0u8; 4096];
            let _ = conn.read(&mut head).await;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = conn.write_all(answer.as_bytes()).await;
        }
    });
    (format!("http://localhost:{port}/"), task)
}

/// A `verification_uri_complete` link on another site lands on the empty
/// code form with a sentence saying why, signed in or not; the same link
/// opened by the person (the app, typed) is filled in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_from_another_site_does_not_fill_in_the_code() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    let started = srv.start_device("devauth-cli", "attacker's box").await;
    let link = s(&started["verification_uri_complete"]);
    assert!(link.starts_with("http://127.0.0.1:"), "{link}");
    let (page, other_site) = serve_elsewhere(format!(
        "<!doctype html><title>Your files</title><a id=\"phish\" href=\"{link}\">Open your files</a>"
    ))
    .await;

    // Signed in already: the code form, empty, says why.
    let browser = signed_in(&srv, OWNER_EMAIL, Viewport::Desktop).await;
    browser.goto(&page).await;
    browser.click("#phish").await;
    assert!(
        browser.url().await.contains("/device"),
        "{}",
        browser.url().await
    );
    assert_eq!(browser.value("#user_code").await, "", "not filled in");
    assert!(
        browser.text("#not-filled").await.contains("another site"),
        "{}",
        browser.source().await
    );
    browser.screenshot("device-link-from-elsewhere").await;
    // The same link opened by the person (as the app opens it) is filled in.
    browser.goto(&link).await;
    assert_eq!(browser.value("#user_code").await, s(&started["user_code"]));
    assert!(!browser.exists("#not-filled").await);
    browser.close().await;

    // Not signed in: through the sign-in page, and still not filled in.
    let browser = Browser::start(Viewport::Desktop).await;
    browser.goto(&page).await;
    browser.click("#phish").await;
    assert!(
        browser.url().await.contains("/login?next="),
        "{}",
        browser.url().await
    );
    assert!(
        !browser.url().await.contains(&s(&started["user_code"])),
        "the code is dropped before the sign-in page: {}",
        browser.url().await
    );
    browser.sign_in(OWNER_EMAIL, PASSWORD).await;
    assert_eq!(browser.value("#user_code").await, "");
    assert!(browser.text("#not-filled").await.contains("another site"));
    browser.close().await;
    other_site.abort();
    srv.stop().await;
}

/// A sign-in older than DEVAUTH_APPROVAL_MAX_AUTH_AGE (2 h) enters the
/// password again on the confirm page; the code is kept, a wrong password
/// approves nothing, and the renewed session is not asked again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_sign_in_enters_the_password_to_approve() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    let browser = signed_in(&srv, OWNER_EMAIL, Viewport::Desktop).await;
    srv.clock.advance(2 * 3600 + 1);
    let started = srv.start_device("devauth-cli", "build box").await;
    browser
        .goto(&s(&started["verification_uri_complete"]))
        .await;
    browser.click("form[action='/device'] button").await;
    assert!(
        browser.exists("#password").await,
        "{}",
        browser.source().await
    );
    assert!(
        browser
            .text("#password-why")
            .await
            .contains("more than 2 hours ago")
    );
    browser
        .js("document.getElementById('password').removeAttribute('required')")
        .await;
    browser.click("#approve").await;
    assert!(browser.text("#error").await.contains("Enter your password"));
    browser.fill("#password", "not the password").await;
    browser.click("#approve").await;
    assert_eq!(browser.text("#error").await, "Wrong password.");
    assert_eq!(
        browser.js("return document.activeElement.id").await,
        "password"
    );
    let device_code = s(&started["device_code"]);
    assert_eq!(
        srv.poll(&device_code, "devauth-cli").await.error(),
        "authorization_pending"
    );
    browser.screenshot("confirm-password-again").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#approve").await;
    assert_eq!(browser.text("#message h1").await, "Device approved");
    srv.clock.advance(10);
    assert_eq!(srv.poll(&device_code, "devauth-cli").await.status, 200);
    // The session started over: the next approval needs no password.
    let again = srv.start_device("devauth-cli", "second box").await;
    browser.goto(&s(&again["verification_uri_complete"])).await;
    browser.click("form[action='/device'] button").await;
    assert!(!browser.exists("#password").await);
    browser.click("#approve").await;
    assert_eq!(browser.text("#message h1").await, "Device approved");
    browser.close().await;
    srv.stop().await;
}

/// The approver narrows what the device gets: read only, for 7 days; the
/// token carries exactly that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approver_narrows_the_grant() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    let browser = signed_in(&srv, OWNER_EMAIL, Viewport::Desktop).await;
    let started = srv.start_device("devauth-cli", "shared screen").await;
    browser
        .goto(&s(&started["verification_uri_complete"]))
        .await;
    browser.click("form[action='/device'] button").await;
    assert_eq!(
        browser
            .js("return document.getElementById('access-full').checked")
            .await,
        true
    );
    assert_eq!(browser.value("#days").await, "90");
    browser
        .js("document.getElementById('access-read').checked = true; document.getElementById('days').value = '7';")
        .await;
    browser.click("#approve").await;
    assert!(
        browser
            .text("#message")
            .await
            .contains("may read your profile and tokens in Acme for 7 days"),
        "{}",
        browser.text("#message").await
    );
    srv.clock.advance(10);
    let reply = srv.poll(&s(&started["device_code"]), "devauth-cli").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["expires_in"], 7 * 86_400);
    let token = s(&reply.body["access_token"]);
    let me = srv.get("/me", Some(&token)).await;
    assert_eq!(
        me.body["scopes"],
        json!(["profile:read", "tokens:read"]),
        "{}",
        me.body
    );
    // Reading works; writing does not.
    assert_eq!(srv.get("/api/tokens", Some(&token)).await.status, 200);
    let create = srv
        .post_json("/api/tokens", Some(&token), json!({"name": "more"}))
        .await;
    assert_eq!(create.status, 403, "{}", create.body);
    // The account page lists the sign-in, and revoking it there signs the device out.
    browser.goto(&srv.at("/account")).await;
    assert!(
        browser
            .text("#recent-sign-ins")
            .await
            .contains("shared screen"),
        "{}",
        browser.source().await
    );
    let id = s(&me.body["token"]["id"]);
    browser.press(&format!("#revoke-recent-{id}")).await;
    assert!(
        browser
            .text("#confirm-dialog-title")
            .await
            .starts_with("Sign out “"),
        "a device is signed out, after asking"
    );
    browser.click("#confirm-dialog-ok").await;
    assert_eq!(srv.get_status("/me", Some(&token)).await, 401);
    assert!(
        !browser.exists("#recent-sign-ins").await,
        "nothing recent is active now"
    );
    browser.close().await;
    srv.stop().await;
}

/// Owners set the org's device policy on the admin page (admins only see
/// it); an approval the policy refuses says so, and in report mode it goes
/// through and is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_set_the_device_policy_on_the_admin_page() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    srv.add_member("ada@example.com", "acme", Role::Admin).await;
    let owner = signed_in(&srv, OWNER_EMAIL, Viewport::Desktop).await;
    owner.goto(&srv.at("/admin/acme/policy")).await;
    assert!(
        owner
            .text("#policy-summary")
            .await
            .contains("device sign-in on, from any network")
    );
    owner
        .js("document.getElementById('p-flow').value = 'off'")
        .await;
    owner.click("#save-policy").await;
    assert!(
        owner
            .text("#notice")
            .await
            .contains("Device policy saved: device sign-in off"),
        "{}",
        owner.source().await
    );
    let started = srv.start_device("devauth-cli", "ci runner").await;
    owner.goto(&s(&started["verification_uri_complete"])).await;
    owner.click("form[action='/device'] button").await;
    owner.click("#approve").await;
    assert_eq!(owner.text("#message h1").await, "Not approved");
    assert!(
        owner
            .text("#message")
            .await
            .contains("The device policy of Acme does not allow signing in devices"),
        "{}",
        owner.text("#message").await
    );
    // Bad input changes nothing and says what is wrong.
    owner.goto(&srv.at("/admin/acme/policy")).await;
    owner.fill("#p-networks", "10.0.0.0/8\n300.1.1.1").await;
    owner.click("#save-policy").await;
    assert_eq!(
        owner.value("#p-networks").await,
        "10.0.0.0/8\n300.1.1.1",
        "what was typed is kept"
    );
    assert!(
        owner
            .text("#p-networks-error")
            .await
            .starts_with("300.1.1.1 is not an address"),
        "{}",
        owner.source().await
    );
    assert!(
        owner
            .text("#policy-summary")
            .await
            .contains("device sign-in off")
    );
    // Report only, from one network, tokens for 7 days at most: allowed,
    // audited, and shortened.
    owner.fill("#p-networks", "10.0.0.0/8").await;
    owner.fill("#p-days", "7").await;
    owner.js("document.getElementById('p-flow').value = 'on'; document.getElementById('p-mode').value = 'report';").await;
    owner.click("#save-policy").await;
    assert!(
        owner
            .text("#policy-summary")
            .await
            .contains("from 10.0.0.0/8, tokens for at most 7 days, reported only"),
        "{}",
        owner.text("#policy-summary").await
    );
    owner
        .js("document.getElementById('device-policy').scrollIntoView()")
        .await;
    owner.screenshot("admin-policy").await;
    owner.goto(&s(&started["verification_uri_complete"])).await;
    owner.click("form[action='/device'] button").await;
    owner.click("#approve").await;
    assert_eq!(owner.text("#message h1").await, "Device approved");
    assert!(
        owner.text("#message").await.contains("for 7 days"),
        "the cap: {}",
        owner.text("#message").await
    );
    assert_eq!(
        srv.audit_events("device.policy_would_deny", 10).await.len(),
        1
    );
    let token = srv.poll(&s(&started["device_code"]), "devauth-cli").await;
    assert_eq!(token.body["expires_in"], 7 * 86_400, "{}", token.body);
    owner.close().await;
    // An admin sees the policy and cannot change it.
    let admin = signed_in(&srv, "ada@example.com", Viewport::Desktop).await;
    admin.goto(&srv.at("/admin/acme/policy")).await;
    assert!(
        admin
            .text("#policy-summary")
            .await
            .contains("reported only")
    );
    assert!(!admin.exists("#policy-form").await);
    assert!(admin.exists("#policy-owners-only").await);
    admin.close().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_expired_and_wrong_codes() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    let browser = signed_in(&srv, OWNER_EMAIL, Viewport::Desktop).await;

    // Same network: no warning. Deny.
    let started = srv.start_device("devauth-cli", "build box").await;
    browser
        .goto(&s(&started["verification_uri_complete"]))
        .await;
    browser.click("form[action='/device'] button").await;
    assert!(!browser.exists("#network-warning").await);
    browser.click("#deny").await;
    assert_eq!(browser.text("#message h1").await, "Request denied");
    assert_eq!(
        srv.poll(&s(&started["device_code"]), "devauth-cli")
            .await
            .error(),
        "access_denied"
    );

    // Wrong code: a clear message, typed text kept.
    browser.goto(&srv.at("/device")).await;
    browser.fill("#user_code", "bbbb-bbbb").await;
    browser.click("form[action='/device'] button").await;
    assert!(
        browser
            .text("#error")
            .await
            .contains("That code is not valid"),
        "{}",
        browser.source().await
    );
    assert_eq!(browser.value("#user_code").await, "BBBB-BBBB");

    // Expired code.
    let started = srv.start_device("devauth-cli", "late laptop").await;
    srv.clock.advance(601);
    browser
        .goto(&s(&started["verification_uri_complete"]))
        .await;
    browser.click("form[action='/device'] button").await;
    assert_eq!(browser.text("#message h1").await, "This code has expired");
    browser.close().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_token_on_the_account_page() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    let browser = signed_in(&srv, OWNER_EMAIL, Viewport::Desktop).await;
    browser.fill("#token-name", "laptop scripts").await;
    browser.click("#create-token button[type=submit]").await;
    let token = browser.text("#new-token-value").await;
    assert!(
        token.starts_with("dva_") && token.len() == 68,
        "shown once: {token}"
    );
    assert!(
        browser.url().await.ends_with("/account"),
        "the form redirected: {}",
        browser.url().await
    );
    let me = srv.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["token"]["name"], "laptop scripts");
    assert!(browser.text("#tokens").await.contains("laptop scripts"));
    // Reloading the page creates nothing and shows the value no more.
    browser.reload().await;
    assert!(
        !browser.exists("#new-token").await,
        "a reload shows nothing"
    );
    let named = |list: &serde_json::Value| {
        list["tokens"]
            .as_array()
            .map(|t| t.iter().filter(|t| t["name"] == "laptop scripts").count())
            .unwrap_or_default()
    };
    assert_eq!(named(&srv.get("/api/tokens", Some(&token)).await.body), 1);
    // Use it once so the list shows last use and IP.
    browser.goto(&srv.at("/account")).await;
    assert!(
        !browser.exists("#new-token").await,
        "the value is never shown again"
    );
    assert!(
        !browser.source().await.contains(&token[4..]),
        "not even in the page source"
    );
    assert!(browser.text("#tokens").await.contains("from 127.0.0.1"));
    browser.screenshot("account").await;
    // Revoke it from the page: a dialog asks first; Cancel changes nothing.
    let id = s(&me.body["token"]["id"]);
    let revoke = format!("form[action='/account/tokens/{id}/revoke'] button");
    browser.press(&revoke).await;
    assert!(
        browser.exists("#confirm-dialog[open]").await,
        "the dialog asks"
    );
    assert_eq!(
        browser.text("#confirm-dialog-title").await,
        "Revoke “laptop scripts”?"
    );
    assert!(
        browser
            .text("#confirm-dialog-body")
            .await
            .contains("stops working now")
    );
    browser.screenshot("confirm-dialog").await;
    browser.press("#confirm-dialog-cancel").await;
    assert!(!browser.exists("#confirm-dialog[open]").await);
    assert_eq!(srv.get("/me", Some(&token)).await.status, 200, "cancelled");
    browser.press(&revoke).await;
    browser.click("#confirm-dialog-ok").await;
    assert!(
        browser
            .text("#notice")
            .await
            .contains("Revoked “laptop scripts”")
    );
    assert_eq!(srv.get("/me", Some(&token)).await.status, 401);
    browser.close().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_removes_a_member_and_their_token_dies() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    srv.add_member("bob@example.com", "acme", Role::Member)
        .await;
    let bob_token = srv.personal_token("bob@example.com", "acme").await;
    let bob_id = srv
        .server
        .state
        .store
        .user_by_email("bob@example.com")
        .await
        .ok()
        .flatten()
        .map(|u| u.id)
        .unwrap_or_default();

    // Bob cannot reach the admin page.
    let bob = signed_in(&srv, "bob@example.com", Viewport::Desktop).await;
    bob.goto(&srv.at("/admin/acme")).await;
    assert_eq!(bob.text("#message h1").await, "Not allowed");
    bob.close().await;

    let admin = signed_in(&srv, OWNER_EMAIL, Viewport::Desktop).await;
    admin.goto(&srv.at("/admin/acme")).await;
    assert!(admin.text("#members").await.contains("bob@example.com"));
    admin
        .press(&format!(
            "form[action='/admin/acme/members/{bob_id}/remove'] button"
        ))
        .await;
    assert!(
        admin
            .text("#confirm-dialog-body")
            .await
            .contains("“bob@example.com test token” stops working now"),
        "the dialog names the token that stops working"
    );
    admin.click("#confirm-dialog-ok").await;
    assert_eq!(
        admin.text("#notice").await,
        "Removed bob@example.com from Acme; 1 token revoked."
    );
    assert!(!admin.text("#members").await.contains("bob@example.com"));
    admin.screenshot("admin").await;
    admin.click("nav.tabs a[href='/admin/acme/audit']").await;
    assert!(admin.text("#audit").await.contains("Member removed"));
    admin.screenshot("admin-audit").await;
    assert_eq!(srv.get("/me", Some(&bob_token)).await.status, 401);
    admin.close().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_and_escaping() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    let owner = srv.claim().await;
    let browser = signed_in(&srv, OWNER_EMAIL, Viewport::Desktop).await;
    let before = srv.get("/api/tokens", Some(&owner)).await.body["tokens"]
        .as_array()
        .map(Vec::len);
    // A forged token in an otherwise valid form.
    browser.fill("#token-name", "forged").await;
    browser
        .js("document.querySelector('#create-token input[name=csrf_token]').value = 'forged';")
        .await;
    browser.click("#create-token button[type=submit]").await;
    assert_eq!(browser.text("#message h1").await, "This form has expired");
    let after = srv.get("/api/tokens", Some(&owner)).await.body["tokens"]
        .as_array()
        .map(Vec::len);
    assert_eq!(before, after, "nothing was created");
    // A device named like a script renders as text.
    let started = srv
        .start_device("devauth-cli", "<script>alert(1)</script>")
        .await;
    browser
        .goto(&s(&started["verification_uri_complete"]))
        .await;
    browser.click("form[action='/device'] button").await;
    assert_eq!(
        browser.text("#device-name").await,
        "<script>alert(1)</script>"
    );
    assert!(
        browser
            .source()
            .await
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    let alert = browser.client.get_alert_text().await;
    assert!(alert.is_err(), "no alert ran");
    browser.close().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_page_fits_a_phone() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    let browser = signed_in(&srv, OWNER_EMAIL, Viewport::Phone).await;
    let started = srv.start_device("devauth-desktop", "Ada's ThinkPad").await;
    browser
        .goto(&s(&started["verification_uri_complete"]))
        .await;
    browser.click("form[action='/device'] button").await;
    assert!(browser.exists("#approve").await);
    let width = browser
        .js("return document.documentElement.scrollWidth;")
        .await;
    assert!(
        width.as_i64().is_some_and(|w| w <= 390),
        "no horizontal scrolling at 390 px: {width}"
    );
    browser.screenshot("confirm-phone").await;
    browser.goto(&srv.at("/account")).await;
    let width = browser
        .js("return document.documentElement.scrollWidth;")
        .await;
    assert!(
        width.as_i64().is_some_and(|w| w <= 390),
        "account fits too: {width}"
    );
    browser.close().await;
    let _ = json!(null);
    srv.stop().await;
}

/// Where sign-in sends a visitor next (`?next=`) is proved the way it matters:
/// a real browser follows the redirect and must still be on this server, for
/// every payload known to slip past string checks (tabs and newlines that
/// browsers drop, backslashes they read as slashes, `//`, encoded slashes,
/// whitespace, userinfo, other schemes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_never_leaves_this_server_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    let payloads = [
        "//evil.example/x",
        "///evil.example/x",
        "/\\evil.example/x",
        "\\\\evil.example/x",
        "/\\/evil.example/x",
        "/\t/evil.example/x",
        "/\n/evil.example/x",
        "/\r\n/evil.example/x",
        "/\t\\evil.example/x",
        " //evil.example/x",
        "/ /evil.example/x",
        "/.//evil.example/x",
        "/..//evil.example/x",
        "/%2F/evil.example/x",
        "/%2f%2fevil.example/x",
        "/%5Cevil.example/x",
        "/%09/evil.example/x",
        "//evil.example@127.0.0.1/x",
        "/@evil.example/x",
        "https://evil.example/x",
        "http:evil.example/x",
        "http:/evil.example/x",
        "javascript:alert(document.domain)",
        "data:text/html,<h1>evil</h1>",
        "\u{FF0F}\u{FF0F}evil.example/x",
        "/\u{3000}/evil.example/x",
        "#//evil.example",
    ];
    let browser = signed_in(&srv, OWNER_EMAIL, Viewport::Desktop).await;
    let origin = format!("{}/", srv.url);
    for payload in payloads {
        let next: String = form_urlencoded_component(payload);
        let went = browser
            .try_goto(&srv.at(&format!("/login?next={next}")))
            .await;
        let landed = browser.url().await;
        assert!(
            went.is_ok(),
            "next={payload:?} left this server: {went:?} at {landed}"
        );
        assert!(
            landed.starts_with(&origin),
            "next={payload:?} sent the browser to {landed}"
        );
    }
    // A local path still works, query and all.
    browser
        .goto(&srv.at("/login?next=%2Fdevice%3Fuser_code%3DBCDF-GHJK"))
        .await;
    assert_eq!(
        browser.url().await,
        format!("{origin}device?user_code=BCDF-GHJK")
    );
    browser.close().await;

    // The same through the sign-in form (its hidden `next`), for the payload
    // that was once reported.
    let fresh = Browser::start(Viewport::Desktop).await;
    fresh
        .goto(&srv.at("/login?next=%2F%09%2Fevil.example%2Fx"))
        .await;
    fresh.sign_in(OWNER_EMAIL, PASSWORD).await;
    let landed = fresh.url().await;
    assert!(landed.starts_with(&origin), "signed in, then to {landed}");
    fresh.close().await;
    srv.stop().await;
}

fn form_urlencoded_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// axe-core finds no serious or critical violation on any page: signed out
/// and in, the code and confirm pages, the outcome, the account page with a
/// token shown once and with a form error, every section of the console, the
/// dialog that asks first, the setup wizard and an unknown page; in the
/// light and the dark theme and at 390 px.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_in_both_themes_and_on_a_phone() {
    if !browser_available() {
        return;
    }
    let Some(axe) = devauth_harness::browser::axe_source() else {
        assert!(
            std::env::var("DEVAUTH_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "DEVAUTH_REQUIRE_BROWSER=1 but axe-core is missing: run .ci/install-deps.sh browser"
        );
        eprintln!("skipped: axe-core is not installed (.ci/install-deps.sh browser)");
        return;
    };
    let mut found = Vec::new();
    for viewport in [Viewport::Desktop, Viewport::Dark, Viewport::Phone] {
        let srv = spawn_server(Backend::Sqlite).await;
        let browser = Browser::start(viewport).await;
        let mut check = async |page: &str| {
            for v in browser.accessibility_violations(&axe).await {
                found.push(format!("{viewport:?} {page}: {v}"));
            }
        };
        browser.goto(&srv.at("/setup")).await;
        check("/setup").await;
        srv.claim().await;
        srv.add_member("bob@example.com", "acme", Role::Member)
            .await;
        srv.mint(Some("bob@example.com"), "acme", &[]).await;
        browser.goto(&srv.at("/login")).await;
        check("/login").await;
        browser.sign_in(OWNER_EMAIL, PASSWORD).await;
        check("/account").await;
        browser.fill("#token-name", "CI on GitHub").await;
        browser.click("#create-token button[type=submit]").await;
        check("/account, a token shown once").await;
        browser.click("#create-token button[type=submit]").await;
        check("/account, a form error").await;
        browser.press("form[action$='/revoke'] button").await;
        check("the dialog that asks first").await;
        browser.press("#confirm-dialog-cancel").await;
        let started = srv.start_device("devauth-cli", "Bob's laptop").await;
        browser.goto(&srv.at("/device")).await;
        check("/device").await;
        browser
            .goto(&s(&started["verification_uri_complete"]))
            .await;
        browser.click("form[action='/device'] button").await;
        check("the confirm page").await;
        browser.click("#approve").await;
        check("the outcome").await;
        for section in ["", "/tokens", "/service-tokens", "/audit", "/policy"] {
            browser
                .goto(&srv.at(&format!("/admin/acme{section}")))
                .await;
            check(&format!("/admin/acme{section}")).await;
        }
        browser.goto(&srv.at("/no/such/page")).await;
        assert_eq!(
            browser.text("#message h1").await,
            "Page not found",
            "a page, not JSON"
        );
        check("an unknown page").await;
        // The check can fail: a field without a label is found.
        browser
            .js("document.querySelector('main').insertAdjacentHTML('beforeend', '<input id=\"axe-probe\">')")
            .await;
        let probe = browser.accessibility_violations(&axe).await;
        assert!(
            probe.iter().any(|v| v.contains("#axe-probe")),
            "axe-core did not run: {probe:?}"
        );
        browser.close().await;
        srv.stop().await;
    }
    assert!(found.is_empty(), "axe-core found:\n{}", found.join("\n"));
}

/// A colleague joins through an invitation made on the members section,
/// without anyone touching the server host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colleague_joins_through_an_invitation() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    let owner = signed_in(&srv, OWNER_EMAIL, Viewport::Desktop).await;
    owner.goto(&srv.at("/admin/acme")).await;
    owner.fill("#invite-email", "carol@example.com").await;
    owner.click("#invite").await;
    let link = owner.text("#new-token-value").await;
    assert!(
        link.contains("/invite/dvi_"),
        "the link, shown once: {link}"
    );
    assert!(
        owner
            .text("#invitations")
            .await
            .contains("carol@example.com")
    );
    owner.screenshot("admin-invite").await;
    owner.close().await;

    let carol = Browser::start(Viewport::Desktop).await;
    carol.goto(&link).await;
    assert_eq!(carol.text("#invite h1").await, "Join Acme");
    carol.fill("#name", "Carol Chen").await;
    carol.fill("#password", PASSWORD).await;
    carol.screenshot("invite").await;
    carol.click("#create-account").await;
    assert!(
        carol.url().await.ends_with("/account"),
        "{}",
        carol.url().await
    );
    assert!(
        carol.text("#notice").await.contains("Welcome to Acme"),
        "{}",
        carol.source().await
    );
    // The link is spent.
    carol.goto(&link).await;
    assert_eq!(carol.text("#message h1").await, "This invitation was used");
    carol.close().await;
    srv.stop().await;
}

/// The console of a busy org in Chromium: 200 tokens and 2,000 audit events
/// in sections of their own, searched and paged by clicks; the audit log
/// filtered by its action menu; the only owner's controls held back with a
/// reason; a form error beside its field; the first-run redirect; and the
/// org a device asked for picked on the confirm page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_console_in_sections_in_chromium() {
    if !browser_available() {
        return;
    }
    let srv = spawn_server(Backend::Sqlite).await;
    let browser = Browser::start(Viewport::Desktop).await;
    browser.goto(&srv.at("/")).await;
    assert!(
        browser.url().await.ends_with("/setup"),
        "first run: {}",
        browser.url().await
    );
    let owner = srv.claim().await;
    srv.add_org("globex").await;
    srv.add_member(OWNER_EMAIL, "globex", Role::Member).await;
    let state = &srv.server.state;
    let org = devauth_server::members::org(state, "acme")
        .await
        .expect("acme");
    for i in 0..200 {
        let req = devauth_server::tokens::TokenRequest {
            name: format!("build-{i:03}"),
            kind: devauth_server::model::TokenKind::Service,
            expires: None,
            scopes: Vec::new(),
        };
        devauth_server::tokens::create_as_system(state, &org, None, req, &Default::default())
            .await
            .expect("a service token");
    }
    for i in 0..1_800 {
        let event = devauth_server::model::NewAuditEvent::new(
            srv.clock_now(),
            devauth_server::model::Actor::System,
            devauth_server::model::AuditAction::MemberRoleChanged,
            &Default::default(),
        )
        .org(org.id.clone())
        .detail(format!("member → viewer ({i})"));
        state
            .store
            .append_audit(&event)
            .await
            .expect("an audit event");
    }
    browser.goto(&srv.at("/login")).await;
    browser.sign_in(OWNER_EMAIL, PASSWORD).await;

    // Members: the only owner's controls are held back, and say why.
    browser.goto(&srv.at("/admin/acme")).await;
    assert!(browser.text("#members").await.contains("The only owner"));
    // Service tokens: a page of 25, searched and paged by clicks.
    browser
        .click("nav.tabs a[href='/admin/acme/service-tokens']")
        .await;
    assert!(
        browser
            .text("#token-count")
            .await
            .starts_with("200 active tokens")
    );
    let height = browser
        .js("return document.documentElement.scrollHeight")
        .await;
    assert!(
        height.as_i64().unwrap_or(i64::MAX) < 4_000,
        "a section fits: {height} px"
    );
    browser.click("#older").await;
    assert!(browser.url().await.contains("page=2"));
    assert!(browser.exists("#newest").await && browser.exists("#newer").await);
    browser.fill("#q", "build-042").await;
    browser.click("#token-search button[type=submit]").await;
    assert!(browser.text("#org-tokens").await.contains("build-042"));
    assert!(!browser.text("#org-tokens").await.contains("build-043"));
    browser.screenshot("admin-tokens").await;
    // The audit log: filtered from its menu, paged.
    browser.click("nav.tabs a[href='/admin/acme/audit']").await;
    browser
        .js("document.getElementById('f-action').value = 'token.issued'")
        .await;
    browser.click("#audit-filter button[type=submit]").await;
    assert!(browser.url().await.contains("action=token.issued"));
    assert!(browser.text("#audit").await.contains("Token issued"));
    assert!(!browser.text("#audit").await.contains("Role changed"));
    browser.click("#older").await;
    assert!(
        browser.url().await.contains("action=token.issued"),
        "paging keeps the filter"
    );
    // A form error beside its field.
    browser.goto(&srv.at("/account")).await;
    browser.fill("#token-name", "nightly").await;
    browser
        .js("document.getElementById('token-expires').value = 'custom'")
        .await;
    browser.click("#create-token button[type=submit]").await;
    assert!(
        browser
            .text("#token-date-error")
            .await
            .starts_with("Pick the day it expires")
    );
    assert_eq!(
        browser.value("#token-name").await,
        "nightly",
        "the value is kept"
    );
    // The org a device asked for.
    let started = srv
        .post_form(
            "/oauth/device_authorization",
            &[
                ("client_id", "devauth-cli"),
                ("device_name", "ci box"),
                ("org", "globex"),
            ],
        )
        .await;
    browser
        .goto(&s(&started.body["verification_uri_complete"]))
        .await;
    browser.click("form[action='/device'] button").await;
    assert_eq!(browser.value("#org").await, "globex");
    assert_eq!(browser.text("#org-hint").await, "globex");
    let _ = owner;
    browser.close().await;
    srv.stop().await;
}

/// Single sign-on in Chromium, against the real provider: an invited
/// colleague presses "Join with Team IdP" (the pages' CSP lets the form
/// lead to the provider), signs in there and lands in the org; later, in
/// another browser, "Sign in with Team IdP" on the sign-in page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colleague_joins_with_single_sign_on_in_chromium() {
    if !browser_available() {
        return;
    }
    let Some((srv, _idp)) = crate::sso::setup(Backend::Sqlite, &[], None, false).await else {
        return;
    };
    let owner = srv.claim().await;
    let reply = srv
        .post_json(
            "/api/orgs/acme/invitations",
            Some(&owner),
            json!({ "email": "carol@team.example", "role": "member" }),
        )
        .await;
    let link = reply.body["link"].as_str().unwrap_or_default().to_string();
    let carol = Browser::start(Viewport::Desktop).await;
    carol.goto(&link).await;
    assert!(
        carol
            .text("#join-sso-team")
            .await
            .contains("Join with Team IdP"),
        "{}",
        carol.source().await
    );
    carol.screenshot("invite-sso").await;
    carol.click("#join-sso-team").await;
    assert!(
        carol.text("h1").await.contains("Team IdP"),
        "at the provider: {}",
        carol.source().await
    );
    carol.fill("#login", "carol@team.example").await;
    carol.click("#idp-submit").await;
    assert!(
        carol.url().await.ends_with("/account"),
        "{}",
        carol.url().await
    );
    assert!(
        carol.text("#notice").await.contains("Welcome to Acme"),
        "{}",
        carol.source().await
    );
    carol.close().await;

    let later = Browser::start(Viewport::Desktop).await;
    later.goto(&srv.at("/login")).await;
    assert_eq!(later.text("#sso-team").await, "Sign in with Team IdP");
    later.screenshot("sso-login").await;
    later.click("#sso-team").await;
    later.fill("#login", "carol@team.example").await;
    later.click("#idp-submit").await;
    assert!(
        later.url().await.ends_with("/account"),
        "{}",
        later.url().await
    );
    assert!(later.source().await.contains("carol@team.example"));
    later.close().await;
    srv.stop().await;
}

/// Passkeys in Chromium with a virtual authenticator, on a server reached
/// as `localhost` (the relying party must be a name): one is added on the
/// account page, signs in with no email typed, approves a device into an
/// org whose policy wants a passkey, and once removed signs in no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_sign_in_and_approve_in_chromium() {
    if !browser_available() {
        return;
    }
    let port = devauth_harness::idp::free_port();
    let base = format!("http://localhost:{port}");
    let config = Config {
        addr: format!("127.0.0.1:{port}"),
        public_url: Some(base.clone()),
        ..Config::default()
    };
    let srv = spawn_server_with(Backend::Sqlite, config).await;
    let owner = srv.claim().await;
    let browser = Browser::start(Viewport::Desktop).await;
    let authenticator = browser.add_virtual_authenticator().await;
    browser.goto(&format!("{base}/login")).await;
    browser.sign_in(OWNER_EMAIL, PASSWORD).await;
    assert!(
        browser.url().await.ends_with("/account"),
        "{}",
        browser.url().await
    );

    // Added on the account page, named.
    browser.fill("#passkey-name", "test laptop").await;
    browser.click("#passkey-register").await;
    assert!(
        browser
            .text("#notice")
            .await
            .contains("Passkey “test laptop” added"),
        "{}",
        browser.source().await
    );
    assert!(browser.text("#passkey-list").await.contains("test laptop"));
    assert_eq!(browser.virtual_credentials(&authenticator).await.len(), 1);
    browser.screenshot("account-passkeys").await;

    // Signed out, then in again with the passkey: no email typed.
    browser.click("form[action=\"/logout\"] button").await;
    browser.goto(&format!("{base}/login")).await;
    browser.screenshot("passkey-login").await;
    browser.click("#passkey-sign-in").await;
    assert!(
        browser.url().await.ends_with("/account"),
        "{}",
        browser.url().await
    );
    assert!(browser.source().await.contains(OWNER_EMAIL));

    // An org that wants a passkey to approve: approved in this browser.
    let set = srv
        .send_json(
            reqwest::Method::PATCH,
            "/api/orgs/acme/policy",
            Some(&owner),
            json!({ "sign_in": ["passkey"] }),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let device = srv.start_device("devauth-cli", "build box").await;
    let code = device["user_code"].as_str().unwrap_or_default().to_string();
    browser
        .goto(&format!("{base}/device?user_code={code}"))
        .await;
    browser.click("form[action='/device'] button").await;
    browser.click("#approve").await;
    assert!(
        browser.source().await.contains("Device approved"),
        "{}",
        browser.source().await
    );

    // Removed: the authenticator still holds it, the server refuses it.
    browser.goto(&format!("{base}/account")).await;
    browser.press("#passkey-list button[type=submit]").await;
    browser.click("#confirm-dialog-ok").await;
    assert!(
        browser.text("#notice").await.contains("removed"),
        "{}",
        browser.source().await
    );
    browser.click("form[action=\"/logout\"] button").await;
    browser.goto(&format!("{base}/login")).await;
    browser.press("#passkey-sign-in").await;
    let refused = browser.text_appears("#passkey-status").await;
    assert!(refused.contains("not registered here"), "{refused}");
    assert!(browser.url().await.contains("/login"), "still signed out");
    let audit = srv.audit_events("passkey.refused", 10).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    browser.close().await;
    srv.stop().await;
}
