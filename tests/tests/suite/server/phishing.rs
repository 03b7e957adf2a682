//! The device flow's defences against phishing that live on the server: the
//! grant an approver narrows, per-org device policy, new-device alerts and
//! unique live user codes. (The pages' defences are in `browser.rs`.)

use super::s;
use devauth_harness::*;
use devauth_server::Config;
use devauth_server::client_ip::TrustedProxies;
use devauth_server::model::Role;
use serde_json::json;

/// Through the API, an approver narrows the device's grant: reading only,
/// for 7 days; an impossible lifetime is refused and approves nothing.
pub async fn narrowed_grants_through_the_api(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let started = srv.start_device("devauth-cli", "kiosk").await;
    let code = s(&started["user_code"]);
    for days in [0, 91, -1] {
        let refused = srv
            .post_json(
                "/api/device/approve",
                Some(&owner),
                json!({"user_code": code, "org": "acme", "days": days}),
            )
            .await;
        assert_eq!(refused.status, 400, "{days}: {}", refused.body);
        assert!(
            refused.body["error_description"]
                .as_str()
                .unwrap_or_default()
                .contains("1 to 90 days"),
            "{}",
            refused.body
        );
    }
    let unknown = srv
        .post_json(
            "/api/device/approve",
            Some(&owner),
            json!({"user_code": code, "org": "acme", "access": "admin"}),
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert!(
        unknown.body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("expected `full` or `read`"),
        "{}",
        unknown.body
    );
    let device_code = s(&started["device_code"]);
    assert_eq!(
        srv.poll(&device_code, "devauth-cli").await.error(),
        "authorization_pending",
        "nothing was approved"
    );
    let approved = srv
        .post_json(
            "/api/device/approve",
            Some(&owner),
            json!({"user_code": code, "org": "acme", "access": "read", "days": 7}),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    srv.clock.advance(10);
    let token = srv.poll(&device_code, "devauth-cli").await;
    assert_eq!(token.status, 200, "{}", token.body);
    assert_eq!(token.body["expires_in"], 7 * 86_400);
    let me = srv.get("/me", token.body["access_token"].as_str()).await;
    assert_eq!(me.body["scopes"], json!(["profile:read", "tokens:read"]));
    // A full grant by default, for the server's lifetime.
    let full = srv.start_device("devauth-cli", "laptop").await;
    assert_eq!(
        srv.approve(&owner, &s(&full["user_code"]), "acme")
            .await
            .status,
        200
    );
    let token = srv.poll(&s(&full["device_code"]), "devauth-cli").await;
    assert_eq!(token.body["expires_in"], 90 * 86_400);
    let me = srv.get("/me", token.body["access_token"].as_str()).await;
    assert_eq!(me.body["scopes"], json!([]), "the full role");
    srv.stop().await;
}

/// A device authorization started from `address` (the test is a trusted proxy).
async fn start_from(srv: &TestServer, address: &str, name: &str) -> serde_json::Value {
    srv.http
        .post(srv.at("/oauth/device_authorization"))
        .header("x-forwarded-for", address)
        .form(&[("client_id", "devauth-cli"), ("device_name", name)])
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("a device authorization")
}

async fn patch_policy(srv: &TestServer, token: &str, body: serde_json::Value) -> Reply {
    srv.send_json(
        reqwest::Method::PATCH,
        "/api/orgs/acme/policy",
        Some(token),
        body,
    )
    .await
}

/// Who may read and change an org's device policy: owners change it, admins
/// read it, members and tokens without `org:admin` neither; bad settings
/// change nothing.
pub async fn device_policy_is_the_owners(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let admin = srv.enrol("ada@example.com", "acme", Role::Admin).await;
    let member = srv.enrol("mel@example.com", "acme", Role::Member).await;
    let reader = srv
        .new_token(
            &owner,
            json!({"name": "reader", "scopes": ["profile:read", "tokens:read"]}),
        )
        .await;
    let default = srv.get("/api/orgs/acme/policy", Some(&owner)).await;
    assert_eq!(default.status, 200, "{}", default.body);
    assert_eq!(
        default.body,
        json!({"device_flow": "on", "device_networks": [], "device_token_days": null, "mode": "enforce", "sign_in": []})
    );
    assert_eq!(
        srv.get_status("/api/orgs/acme/policy", Some(&admin)).await,
        200
    );
    for who in [&member, &reader] {
        assert_eq!(
            srv.get_status("/api/orgs/acme/policy", Some(who)).await,
            403
        );
    }
    srv.add_org("other").await;
    let elsewhere = srv.get("/api/orgs/other/policy", Some(&owner)).await;
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    for who in [&admin, &member, &reader] {
        let refused = patch_policy(&srv, who, json!({"device_flow": "off"})).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
    }
    for bad in [
        json!({"device_networks": ["10.0.0.0/33"]}),
        json!({"device_networks": ["not an address"]}),
        json!({"device_token_days": 0}),
        json!({"device_token_days": 91}),
    ] {
        let refused = patch_policy(&srv, &owner, bad.clone()).await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.body);
    }
    for bad in [
        json!({"mode": "audit"}),
        json!({"device_flow": true}),
        json!({"extra": 1}),
    ] {
        let refused = patch_policy(&srv, &owner, bad.clone()).await;
        assert!(
            matches!(refused.status, 400 | 422),
            "{bad}: {}",
            refused.body
        );
    }
    assert_eq!(
        srv.get("/api/orgs/acme/policy", Some(&owner)).await.body,
        default.body,
        "nothing changed"
    );
    let changed = patch_policy(
        &srv,
        &owner,
        json!({"device_token_days": 30, "mode": "report"}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["device_token_days"], 30);
    assert_eq!(changed.body["device_flow"], "on", "unsent settings stay");
    let cleared = patch_policy(&srv, &owner, json!({"device_token_days": null})).await;
    assert_eq!(cleared.body["device_token_days"], json!(null));
    assert_eq!(cleared.body["mode"], "report");
    let audited = srv.audit_events("org.policy_changed", 10).await;
    assert_eq!(audited.len(), 2, "two changes, nothing for the refusals");
    assert!(
        audited[0]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("reported only"),
        "{:?}",
        audited[0].detail
    );
    srv.stop().await;
}

/// Enforced, a policy refuses approvals (device flow off, or a device asking
/// from outside the org's networks) with 403 `policy_denied`, the request
/// stays pending and it is audited; in report mode the same approvals go
/// through and are audited as what would have been refused; the lifetime
/// cap shortens every device token of the org.
pub async fn device_policy_refuses_or_reports(backend: Backend) {
    let srv = spawn_server_with(
        backend,
        Config {
            trusted_proxies: TrustedProxies::parse("127.0.0.1").expect("loopback"),
            ..Config::default()
        },
    )
    .await;
    let owner = srv.claim().await;
    let off = patch_policy(&srv, &owner, json!({"device_flow": "off"})).await;
    assert_eq!(off.status, 200, "{}", off.body);
    let started = start_from(&srv, "10.1.2.3", "office pc").await;
    let code = s(&started["user_code"]);
    let refused = srv.approve(&owner, &code, "acme").await;
    assert_eq!(
        (refused.status, refused.error()),
        (403, "policy_denied"),
        "{}",
        refused.body
    );
    assert!(
        s(&refused.body["error_description"]).contains("device policy of Acme"),
        "{}",
        refused.body
    );
    srv.clock.advance(10);
    assert_eq!(
        srv.poll(&s(&started["device_code"]), "devauth-cli")
            .await
            .error(),
        "authorization_pending"
    );
    assert_eq!(srv.audit_events("device.policy_denied", 10).await.len(), 1);

    // Networks: inside is approved, outside refused.
    patch_policy(
        &srv,
        &owner,
        json!({"device_flow": "on", "device_networks": ["10.0.0.0/8"]}),
    )
    .await;
    assert_eq!(srv.approve(&owner, &code, "acme").await.status, 200);
    let outside = start_from(&srv, "203.0.113.7", "cafe laptop").await;
    let refused = srv.approve(&owner, &s(&outside["user_code"]), "acme").await;
    assert_eq!(refused.error(), "policy_denied", "{}", refused.body);
    assert!(s(&refused.body["error_description"]).contains("203.0.113.7"));

    // Report mode: allowed, and audited as what would have been refused.
    patch_policy(
        &srv,
        &owner,
        json!({"mode": "report", "device_token_days": 7}),
    )
    .await;
    let approved = srv.approve(&owner, &s(&outside["user_code"]), "acme").await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let would = srv.audit_events("device.policy_would_deny", 10).await;
    assert_eq!(would.len(), 1);
    assert!(
        would[0]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("cafe laptop")
    );
    assert_eq!(srv.audit_events("device.policy_denied", 10).await.len(), 2);
    // The cap: 7 days, even when the approver asks for 90.
    srv.clock.advance(10);
    let token = srv.poll(&s(&outside["device_code"]), "devauth-cli").await;
    assert_eq!(token.body["expires_in"], 7 * 86_400, "{}", token.body);
    let asked_more = start_from(&srv, "10.0.0.5", "desk").await;
    let approved = srv
        .post_json(
            "/api/device/approve",
            Some(&owner),
            json!({"user_code": s(&asked_more["user_code"]), "org": "acme", "days": 90}),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let token = srv
        .poll(&s(&asked_more["device_code"]), "devauth-cli")
        .await;
    assert_eq!(token.body["expires_in"], 7 * 86_400);
    srv.stop().await;
}

/// A pending user code names one request only: a code drawn while another
/// request holds it is drawn again, and the database refuses a second
/// pending row with it; once decided, the code may come round again.
pub async fn pending_user_codes_are_unique(backend: Backend) {
    use devauth_server::model::{
        Actor, AuditAction, NewAuditEvent, NewDeviceAuthorization, RequestMeta,
    };
    use devauth_server::secret::sha256_hex;
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let state = &srv.server.state;
    state.user_codes.queue(["BCDFGHJK", "BCDFGHJK"]);
    let first = srv.start_device("devauth-cli", "victim's laptop").await;
    let second = srv.start_device("devauth-cli", "flood").await;
    assert_eq!(first["user_code"], "BCDF-GHJK");
    assert_ne!(second["user_code"], "BCDF-GHJK", "drawn again");
    let found = srv.lookup(&owner, "BCDF-GHJK").await;
    assert_eq!(
        found.body["request"]["device_name"], "victim's laptop",
        "{}",
        found.body
    );
    let now = srv.clock_now();
    let twin = NewDeviceAuthorization {
        id: "twin".into(),
        device_code_hash: sha256_hex("another device code"),
        user_code_hash: sha256_hex("BCDFGHJK"),
        client_id: "devauth-cli".into(),
        device_name: Some("twin".into()),
        org_hint: None,
        requester_ip: None,
        user_agent: None,
        interval_secs: 5,
        created_at: now,
        expires_at: now + 600,
    };
    let audit = NewAuditEvent::new(
        now,
        Actor::Anonymous,
        AuditAction::DeviceRequested,
        &RequestMeta::default(),
    );
    let refused = state.store.create_device_authorization(&twin, &audit).await;
    assert!(
        matches!(refused, Err(devauth_server::store::StoreError::Conflict(_))),
        "{refused:?}"
    );
    // Decided, the code is free again.
    assert_eq!(srv.deny(&owner, "BCDF-GHJK").await.status, 200);
    state.user_codes.queue(["BCDFGHJK"]);
    let third = srv.start_device("devauth-cli", "later").await;
    assert_eq!(third["user_code"], "BCDF-GHJK");
    let found = srv.lookup(&owner, "BCDF-GHJK").await;
    assert_eq!(
        found.body["request"]["device_name"], "later",
        "{}",
        found.body
    );
    srv.stop().await;
}

/// A scoped token whose scopes give it nothing in its role (`org:admin` for
/// a member), or nothing readable (`tokens:write` asked to approve read-only),
/// makes nothing: no scopes on a new token would mean the full role. Found by
/// the amplification property.
pub async fn scoped_tokens_pass_on_nothing_they_lack(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    srv.add_member("mia@example.com", "acme", Role::Member)
        .await;
    let (nothing, _) = srv
        .mint(Some("mia@example.com"), "acme", &["org:admin"])
        .await;
    let (write_only, _) = srv
        .mint(Some("mia@example.com"), "acme", &["tokens:write"])
        .await;
    let approve = async |token: &str, access: &str| {
        let started = srv.start_device("devauth-cli", "scoped approver").await;
        let reply = srv
            .post_json(
                "/api/device/approve",
                Some(token),
                json!({"user_code": started["user_code"], "org": "acme", "access": access}),
            )
            .await;
        let poll = srv
            .poll(
                started["device_code"].as_str().unwrap_or_default(),
                "devauth-cli",
            )
            .await;
        (reply, poll)
    };
    let (reply, poll) = approve(&nothing, "full").await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        poll.error(),
        "authorization_pending",
        "nothing was approved"
    );
    let made = srv.create_token(&nothing, json!({"name": "heir"})).await;
    assert_eq!(made.status, 403, "{}", made.body);
    let (reply, poll) = approve(&write_only, "read").await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(poll.error(), "authorization_pending");
    // What it has, it may pass on.
    let (reply, poll) = approve(&write_only, "full").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let device = poll.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(device.starts_with("dva_"), "{}", poll.body);
    let me = srv.get("/me", Some(&device)).await;
    assert_eq!(
        (me.status, me.error()),
        (403, "insufficient_scope"),
        "the device token has tokens:write only, not the full role: {}",
        me.body
    );
    srv.stop().await;
}
