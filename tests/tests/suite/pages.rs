//! Security of the pages over plain HTTP, where every header and form field is
//! under the test's control: CSRF, headers, sessions, sign-in limits, redirects,
//! cross-org approval. Runs on both backends.

use devauth_harness::web::{Page, WebClient};
use devauth_harness::*;
use devauth_server::model::Role;

devauth_harness::on_both_backends!(
    pages_send_protective_headers,
    forms_without_a_valid_csrf_token_change_nothing,
    sessions_are_hashed_and_cookies_are_strict,
    failed_sign_ins_are_limited_and_audited,
    sign_in_redirects_only_to_this_site,
    approval_only_into_own_orgs,
    admin_pages_are_for_admins,
    first_run_and_sign_in_say_where_they_lead,
    unknown_addresses_answer_a_page_to_browsers_and_json_to_the_rest,
);

/// Posts the login form of a fresh `/login` page (its CSRF token) as the owner, with `password` and these extra fields.
async fn post_login(web: &mut WebClient, password: &str, extra: &[(&str, &str)]) -> Page {
    let csrf = web.get("/login").await.csrf();
    let mut form = vec![
        ("csrf_token", csrf.as_str()),
        ("email", OWNER_EMAIL),
        ("password", password),
    ];
    form.extend_from_slice(extra);
    web.post("/login", &form).await
}

async fn pages_send_protective_headers(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let mut web = WebClient::new(&srv.url);
    for path in ["/login", "/setup", "/device"] {
        let page = web.get(path).await;
        let csp = page.header("content-security-policy");
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}: no inline script");
        assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(page.header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
    }
    web.sign_in(OWNER_EMAIL, PASSWORD).await;
    let account = web.get("/account").await;
    assert_eq!(account.status, 200);
    assert_eq!(account.header("cache-control"), "no-store");
    assert!(
        !account.body.contains("<script>"),
        "no inline script on pages"
    );
}

async fn forms_without_a_valid_csrf_token_change_nothing(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let mut web = WebClient::new(&srv.url);
    // Login itself needs the token (no login CSRF).
    web.get("/login").await;
    let page = web
        .post("/login", &[("email", OWNER_EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(page.status, 403);
    assert!(!web.cookies().contains_key("devauth_session"));
    web.sign_in(OWNER_EMAIL, PASSWORD).await;
    let started = srv.start_device("devauth-cli", "victim").await;
    let code = started["user_code"].as_str().unwrap_or_default();
    for forged in ["", "forged", &"0".repeat(64)] {
        let page = web
            .post(
                "/device/decide",
                &[
                    ("csrf_token", forged),
                    ("user_code", code),
                    ("org", "acme"),
                    ("action", "approve"),
                ],
            )
            .await;
        assert_eq!(page.status, 403, "forged {forged:?}");
        let page = web
            .post(
                "/account/tokens",
                &[("csrf_token", forged), ("name", "x"), ("org", "acme")],
            )
            .await;
        assert_eq!(page.status, 403);
        let page = web
            .post(
                "/account/revoke-all",
                &[("csrf_token", forged), ("confirm", "yes")],
            )
            .await;
        assert_eq!(page.status, 403);
    }
    let poll = srv
        .poll(
            started["device_code"].as_str().unwrap_or_default(),
            "devauth-cli",
        )
        .await;
    assert_eq!(
        poll.error(),
        "authorization_pending",
        "the device was not approved"
    );
    assert_eq!(
        srv.get("/me", Some(&owner)).await.status,
        200,
        "nothing was revoked"
    );
    let tokens = srv.get("/api/tokens", Some(&owner)).await;
    assert_eq!(
        tokens.body["tokens"].as_array().map(Vec::len),
        Some(1),
        "nothing was created"
    );
    // Another browser's token does not work either: tokens are tied to the session.
    let mut other = WebClient::new(&srv.url);
    other.sign_in(OWNER_EMAIL, PASSWORD).await;
    let theirs = other.get("/account").await.csrf();
    let mine = web.get("/account").await.csrf();
    assert_ne!(theirs, mine);
    let page = web
        .post(
            "/account/tokens",
            &[("csrf_token", &theirs), ("name", "x"), ("org", "acme")],
        )
        .await;
    assert_eq!(page.status, 403);
    let page = web
        .post(
            "/account/tokens",
            &[("csrf_token", &mine), ("name", "x"), ("org", "acme")],
        )
        .await;
    assert_eq!(page.status, 303, "the right token works: {}", page.body);
}

async fn sessions_are_hashed_and_cookies_are_strict(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let mut web = WebClient::new(&srv.url);
    let page = post_login(&mut web, PASSWORD, &[]).await;
    let cookie = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("devauth_session="))
        .unwrap_or_default();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: no Secure flag"
    );
    let value = web
        .cookies()
        .get("devauth_session")
        .cloned()
        .unwrap_or_default();
    assert_eq!(value.len(), 64);
    let dump = srv
        .server
        .state
        .store
        .dump_for_tests()
        .await
        .unwrap_or_default();
    assert!(dump.contains("sessions id_hash="), "sessions are stored");
    assert!(!dump.contains(&value), "but never the cookie value");
    // Sign out ends the session server-side: the old cookie is useless.
    let csrf = web.get("/account").await.csrf();
    web.post("/logout", &[("csrf_token", &csrf)]).await;
    let mut replay = WebClient::new(&srv.url);
    replay.cookies().insert("devauth_session".into(), value);
    let page = replay.get("/account").await;
    assert_eq!(page.status, 303, "a signed-out session is dead");
    assert!(page.header("location").starts_with("/login"));
}

async fn failed_sign_ins_are_limited_and_audited(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let mut web = WebClient::new(&srv.url);
    for _ in 0..10 {
        let page = post_login(&mut web, "wrong password", &[]).await;
        assert_eq!(page.status, 401);
        assert!(page.body.contains("Wrong email or password"));
    }
    let page = post_login(&mut web, PASSWORD, &[]).await;
    assert_eq!(page.status, 429, "even the right password waits");
    assert!(page.body.contains("Too many failed sign-ins"));
    srv.clock.advance(301);
    web.sign_in(OWNER_EMAIL, PASSWORD).await;
    let failed = srv.audit_events("login.failed", 50).await;
    assert_eq!(failed.len(), 10);
    assert_eq!(failed[0].target.as_deref(), Some(OWNER_EMAIL));
}

async fn sign_in_redirects_only_to_this_site(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    for (next, expected) in [
        ("/device?user_code=BCDF-GHJK", "/device?user_code=BCDF-GHJK"),
        ("//evil.example/steal", "/account"),
        ("https://evil.example/", "/account"),
    ] {
        let mut web = WebClient::new(&srv.url);
        let page = post_login(&mut web, PASSWORD, &[("next", next)]).await;
        assert_eq!(page.status, 303);
        assert_eq!(page.header("location"), expected, "next={next}");
    }
}

async fn approval_only_into_own_orgs(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    srv.add_org("beta").await;
    srv.add_member("bob@example.com", "acme", Role::Member)
        .await;
    let mut web = WebClient::new(&srv.url);
    web.sign_in("bob@example.com", PASSWORD).await;
    let started = srv.start_device("devauth-cli", "x").await;
    let code = started["user_code"].as_str().unwrap_or_default();
    let csrf = web.get("/device").await.csrf();
    let confirm = web
        .post("/device", &[("csrf_token", &csrf), ("user_code", code)])
        .await;
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.body.contains("value=\"acme\"") && !confirm.body.contains("value=\"beta\""),
        "only bob's orgs are offered"
    );
    let page = web
        .post(
            "/device/decide",
            &[
                ("csrf_token", &csrf),
                ("user_code", code),
                ("org", "beta"),
                ("action", "approve"),
            ],
        )
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    let poll = srv
        .poll(
            started["device_code"].as_str().unwrap_or_default(),
            "devauth-cli",
        )
        .await;
    assert_eq!(poll.error(), "authorization_pending");
}

async fn admin_pages_are_for_admins(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    srv.add_member("bob@example.com", "acme", Role::Member)
        .await;
    let mut web = WebClient::new(&srv.url);
    web.sign_in("bob@example.com", PASSWORD).await;
    assert_eq!(web.get("/admin/acme").await.status, 403);
    let csrf = web.get("/account").await.csrf();
    let owner_id = srv
        .server
        .state
        .store
        .user_by_email(OWNER_EMAIL)
        .await
        .ok()
        .flatten()
        .map(|u| u.id)
        .unwrap_or_default();
    let page = web
        .post(
            &format!("/admin/acme/members/{owner_id}/remove"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(page.status, 403);
    let members = srv
        .server
        .state
        .store
        .list_members(
            &srv.server
                .state
                .store
                .org_by_slug("acme")
                .await
                .ok()
                .flatten()
                .map(|o| o.id)
                .unwrap_or_default(),
        )
        .await
        .unwrap_or_default();
    assert_eq!(members.len(), 2, "nobody was removed");
    // Not signed in: to the login page, keeping where they wanted to go.
    let mut anonymous = WebClient::new(&srv.url);
    let page = anonymous.get("/admin/acme").await;
    assert_eq!(
        (page.status, page.header("location")),
        (303, "/login?next=%2Fadmin%2Facme".to_string())
    );
    // An admin may read the device policy on the page, not change it.
    srv.add_member("ada@example.com", "acme", Role::Admin).await;
    let mut admin = WebClient::new(&srv.url);
    admin.sign_in("ada@example.com", PASSWORD).await;
    let page = admin.get("/admin/acme").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let page = admin
        .post(
            "/admin/acme/policy",
            &[("csrf_token", &csrf), ("device_flow", "off")],
        )
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    let org = srv
        .server
        .state
        .store
        .org_by_slug("acme")
        .await
        .ok()
        .flatten();
    let policy = srv
        .server
        .state
        .store
        .org_policy(&org.map(|o| o.id).unwrap_or_default())
        .await
        .expect("the policy");
    assert!(policy.device_flow, "the policy did not change");
}

/// On a server nobody has claimed, `/` leads to the first-run setup; once
/// claimed, to sign-in. Sign-in reached from a device link says what it is for.
async fn first_run_and_sign_in_say_where_they_lead(backend: Backend) {
    let srv = spawn_server(backend).await;
    let mut web = WebClient::new(&srv.url);
    let home = web.get("/").await;
    assert_eq!(
        (home.status, home.header("location")),
        (303, "/setup".to_string())
    );
    let setup = web.get("/setup").await;
    assert!(
        setup.body.contains("id=\"org-slug-value\""),
        "the slug is previewed"
    );
    assert!(
        setup.body.contains("run <code>devauth login</code> on it"),
        "what comes next"
    );
    srv.claim().await;
    let home = web.get("/").await;
    assert_eq!(
        (home.status, home.header("location")),
        (303, "/login".to_string())
    );
    let from_device = web
        .get("/login?next=%2Fdevice%3Fuser_code%3DBCDF-GHJK")
        .await;
    assert!(
        from_device.body.contains("Sign in to approve a device"),
        "{}",
        from_device.body
    );
    let plain = web.get("/login").await;
    assert!(plain.body.contains(">Sign in</h1>"), "{}", plain.body);
    assert!(!plain.body.contains("approve a device"));
}

async fn unknown_addresses_answer_a_page_to_browsers_and_json_to_the_rest(backend: Backend) {
    let srv = spawn_server(backend).await;
    let api = srv.get("/api/no-such-thing", None).await;
    assert_eq!(
        (api.status, api.error()),
        (404, "not_found"),
        "{}",
        api.body
    );
    let page = reqwest::Client::new()
        .get(srv.at("/no/such/page"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("an answer");
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/html"),
        "a page for a browser"
    );
    let body = page.text().await.unwrap_or_default();
    assert!(body.contains("Page not found"), "{body}");
    srv.stop().await;
}
