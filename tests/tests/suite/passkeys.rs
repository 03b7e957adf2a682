//! Passkey ceremonies over plain HTTP, on both backends (the authenticator
//! itself is Chromium's, in `browser.rs`): a ceremony belongs to the browser
//! that began it and is taken once; an answer that is not a passkey is
//! refused; registering needs a session and the page's CSRF token; and a
//! server reached by an IP address has passkeys off and says why.

use devauth_harness::web::WebClient;
use devauth_harness::*;
use devauth_server::Config;

devauth_harness::on_both_backends!(a_ceremony_is_one_browsers_and_taken_once);

mod off {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passkeys_are_off_on_an_address_and_say_why() {
        super::passkeys_are_off_on_an_address_and_say_why().await
    }
}

async fn on_localhost(backend: Backend) -> TestServer {
    let port = devauth_harness::idp::free_port();
    let config = Config {
        addr: format!("127.0.0.1:{port}"),
        public_url: Some(format!("http://localhost:{port}")),
        ..Config::default()
    };
    spawn_server_with(backend, config).await
}

fn json_of(page: &devauth_harness::web::Page) -> serde_json::Value {
    serde_json::from_str(&page.body).unwrap_or_default()
}

async fn a_ceremony_is_one_browsers_and_taken_once(backend: Backend) {
    let srv = on_localhost(backend).await;
    srv.claim().await;
    let mut here = WebClient::new(&srv.url);
    let login = here.get("/login").await;
    assert!(
        login.body.contains("id=\"passkey-sign-in\""),
        "{}",
        login.body
    );
    let csrf = login.csrf();
    let begin = async |web: &mut WebClient, csrf: &str| {
        let page = web
            .post(
                "/login/passkey/begin",
                &[("csrf_token", csrf), ("next", "/account")],
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let body = json_of(&page);
        assert!(
            body["options"]["publicKey"]["challenge"].is_string(),
            "{body}"
        );
        assert_eq!(
            body["options"]["publicKey"]["userVerification"], "required",
            "{body}"
        );
        body["ceremony"].as_str().unwrap_or_default().to_string()
    };
    let forged = here
        .post("/login/passkey/begin", &[("csrf_token", "forged")])
        .await;
    assert_eq!(forged.status, 403);

    // Another browser's ceremony: refused, and used up.
    let ceremony = begin(&mut here, &csrf).await;
    let mut there = WebClient::new(&srv.url);
    let there_csrf = there.get("/login").await.csrf();
    let stolen = there
        .post(
            "/login/passkey/finish",
            &[
                ("csrf_token", &there_csrf),
                ("ceremony", &ceremony),
                ("credential", "{}"),
            ],
        )
        .await;
    assert_eq!(stolen.status, 409, "{}", stolen.body);
    assert!(
        json_of(&stolen)["error"]
            .as_str()
            .unwrap_or_default()
            .contains("began elsewhere")
    );
    let after = here
        .post(
            "/login/passkey/finish",
            &[
                ("csrf_token", &csrf),
                ("ceremony", &ceremony),
                ("credential", "{}"),
            ],
        )
        .await;
    assert_eq!(after.status, 409, "taken once: {}", after.body);

    // An answer that is not a passkey: refused; the ceremony is spent.
    let ceremony = begin(&mut here, &csrf).await;
    let garbage = here
        .post(
            "/login/passkey/finish",
            &[
                ("csrf_token", &csrf),
                ("ceremony", &ceremony),
                ("credential", "not json"),
            ],
        )
        .await;
    assert_eq!(garbage.status, 400, "{}", garbage.body);
    assert_eq!(here.get("/account").await.status, 303, "not signed in");
    let refused = srv.audit_events("passkey.refused", 10).await;
    assert_eq!(refused.len(), 3, "every refusal audited: {refused:?}");

    // Registering needs a session, and the page's token.
    let anonymous = here
        .post(
            "/account/passkeys/begin",
            &[("csrf_token", &csrf), ("name", "laptop")],
        )
        .await;
    assert_eq!(anonymous.status, 401);
    here.sign_in(OWNER_EMAIL, PASSWORD).await;
    let account = here.get("/account").await;
    assert!(account.body.contains("id=\"passkeys\""), "{}", account.body);
    let signed_csrf = account.csrf();
    let forged = here
        .post(
            "/account/passkeys/begin",
            &[("csrf_token", "forged"), ("name", "laptop")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let unnamed = here
        .post(
            "/account/passkeys/begin",
            &[("csrf_token", &signed_csrf), ("name", "  ")],
        )
        .await;
    assert_eq!(unnamed.status, 400, "{}", unnamed.body);
    let started = here
        .post(
            "/account/passkeys/begin",
            &[("csrf_token", &signed_csrf), ("name", "laptop")],
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let body = json_of(&started);
    assert_eq!(
        body["options"]["publicKey"]["authenticatorSelection"]["residentKey"], "required",
        "discoverable: {body}"
    );
    assert_eq!(body["options"]["publicKey"]["rp"]["id"], "localhost");

    // Someone else's passkey cannot be removed from here.
    srv.add_member(
        "bob@example.com",
        "acme",
        devauth_server::model::Role::Member,
    )
    .await;
    let store = &srv.server.state.store;
    let bob = store
        .user_by_email("bob@example.com")
        .await
        .expect("a read")
        .expect("bob");
    let row = devauth_server::model::PasskeyRow {
        id: "bobs-key".into(),
        user_id: bob.id.clone(),
        credential_id: "00ff".into(),
        name: "bob's phone".into(),
        passkey: "{}".into(),
        created_at: srv.clock_now(),
        last_used_at: None,
    };
    let audit = devauth_server::model::NewAuditEvent::new(
        srv.clock_now(),
        devauth_server::model::Actor::System,
        devauth_server::model::AuditAction::PasskeyAdded,
        &Default::default(),
    );
    assert!(store.add_passkey(&row, &audit).await.expect("a write"));
    let theirs = here
        .post(
            "/account/passkeys/bobs-key/remove",
            &[("csrf_token", &signed_csrf)],
        )
        .await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    assert_eq!(store.passkeys_of(&bob.id).await.expect("a read").len(), 1);
    srv.stop().await;
}

async fn passkeys_are_off_on_an_address_and_say_why() {
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    let mut web = WebClient::new(&srv.url);
    let login = web.get("/login").await;
    assert!(!login.body.contains("passkey-sign-in"), "not offered");
    let csrf = login.csrf();
    let begun = web
        .post("/login/passkey/begin", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(begun.status, 409, "{}", begun.body);
    assert!(
        json_of(&begun)["error"]
            .as_str()
            .unwrap_or_default()
            .contains("reached by a name")
    );
    srv.stop().await;
}
