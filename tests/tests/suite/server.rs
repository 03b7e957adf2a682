//! The server, end to end over real HTTP: each scenario runs against SQLite and
//! against PostgreSQL (`sqlite::…` and `postgres::…` test names).

use devauth_harness::*;
use devauth_server::model::Role;
use reqwest::Method;
use serde_json::json;

mod abuse;
mod amplification;
mod authz;
mod cache;
mod connections;
mod faults;
mod openapi;
mod phishing;
mod retention;
mod wire;
use authz::permission_matrix;
use phishing::{
    device_policy_is_the_owners, device_policy_refuses_or_reports, narrowed_grants_through_the_api,
    pending_user_codes_are_unique, scoped_tokens_pass_on_nothing_they_lack,
};
use wire::wire_shapes_are_kept;

devauth_harness::on_both_backends!(
    permission_matrix,
    wire_shapes_are_kept,
    full_device_flow,
    deny_path,
    expiry_path,
    oauth_errors_follow_the_rfcs,
    double_redemption_race,
    member_removal_cascades,
    user_disable_cascades,
    role_change_applies_at_once,
    setup_claim_once,
    hashed_at_rest,
    members_see_only_their_tokens,
    wrong_user_codes_are_rate_limited,
    personal_tokens_scopes_rotation_and_revoke_all,
    service_tokens,
    expired_tokens_fail,
    last_use_is_written_at_most_once_a_minute,
    owners_are_protected,
    two_owners_demoting_each_other_leave_an_owner,
    the_escalations_once_reported_fail,
    audit_log_filters_and_pages,
    redemption_requires_current_membership,
    headers_health_and_metrics,
    narrowed_grants_through_the_api,
    device_policy_is_the_owners,
    device_policy_refuses_or_reports,
    pending_user_codes_are_unique,
    scoped_tokens_pass_on_nothing_they_lack,
);

pub(crate) fn s(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn full_device_flow(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;

    let started = srv.start_device("devauth-cli", "Ada's laptop").await;
    let device_code = s(&started["device_code"]);
    let user_code = s(&started["user_code"]);
    assert_eq!(started["expires_in"], 600);
    assert_eq!(started["interval"], 5);
    assert_eq!(device_code.len(), 64, "256-bit device code");
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .replace('-', "")
            .bytes()
            .all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b))
    );
    assert_eq!(s(&started["verification_uri"]), srv.at("/device"));
    assert_eq!(
        s(&started["verification_uri_complete"]),
        srv.at(&format!("/device?user_code={user_code}"))
    );

    // First poll: pending, never slow_down.
    let reply = srv.poll(&device_code, "devauth-cli").await;
    assert_eq!(
        (reply.status, reply.error()),
        (400, "authorization_pending")
    );
    assert_eq!(reply.header("cache-control"), "no-store");
    // Too soon: slow_down, interval 5 → 10.
    srv.clock.advance(2);
    let reply = srv.poll(&device_code, "devauth-cli").await;
    assert_eq!(reply.error(), "slow_down");
    assert_eq!(reply.body["interval"], 10);
    // 6 s later is fine for the old interval but not the grown one: 10 → 15.
    srv.clock.advance(6);
    let reply = srv.poll(&device_code, "devauth-cli").await;
    assert_eq!(reply.error(), "slow_down");
    assert_eq!(reply.body["interval"], 15);
    // Waiting the grown interval: pending again, and the interval stays grown.
    srv.clock.advance(15);
    assert_eq!(
        srv.poll(&device_code, "devauth-cli").await.error(),
        "authorization_pending"
    );
    srv.clock.advance(10);
    let reply = srv.poll(&device_code, "devauth-cli").await;
    assert_eq!(
        (reply.error(), reply.body["interval"].as_i64()),
        ("slow_down", Some(20))
    );

    // Approve through the JSON API (case- and dash-insensitive code).
    let lookup = srv
        .lookup(&owner, &user_code.to_lowercase().replace('-', " "))
        .await;
    assert_eq!(lookup.status, 200, "{}", lookup.body);
    assert_eq!(lookup.body["request"]["device_name"], "Ada's laptop");
    assert_eq!(lookup.body["request"]["requester_ip"], "127.0.0.1");
    assert_eq!(lookup.body["request"]["status"], "pending");
    let approve = srv.approve(&owner, &user_code, "acme").await;
    assert_eq!(approve.status, 200, "{}", approve.body);

    srv.clock.advance(20);
    let reply = srv.poll(&device_code, "devauth-cli").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 90 * 86_400);
    let token = s(&reply.body["access_token"]);
    assert!(token.starts_with("dva_") && token.len() == 68);

    let me = srv.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["user"]["email"], OWNER_EMAIL);
    assert_eq!(me.body["org"]["slug"], "acme");
    assert_eq!(me.body["role"], "owner");
    assert_eq!(me.body["token"]["kind"], "device");
    assert_eq!(me.body["token"]["name"], "Ada's laptop");

    // RFC 7009 revocation, then the token is dead.
    let reply = srv.post_form("/oauth/revoke", &[("token", &token)]).await;
    assert_eq!(reply.status, 200);
    let me = srv.get("/me", Some(&token)).await;
    assert_eq!(me.status, 401);
    assert_eq!(me.error(), "invalid_token");
    assert_eq!(
        me.header("www-authenticate"),
        "Bearer error=\"invalid_token\""
    );
    // Unknown and malformed tokens: still 200.
    let fake = format!("dva_{}", "0".repeat(64));
    assert_eq!(
        srv.post_form("/oauth/revoke", &[("token", &fake)])
            .await
            .status,
        200
    );
    assert_eq!(
        srv.post_form("/oauth/revoke", &[("token", "nonsense")])
            .await
            .status,
        200
    );
    assert_eq!(
        srv.post_form("/oauth/revoke", &[]).await.error(),
        "invalid_request"
    );
    srv.stop().await;
}

async fn deny_path(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let started = srv.start_device("devauth-desktop", "desk").await;
    let code = s(&started["user_code"]);
    let deny = srv.deny(&owner, &code).await;
    assert_eq!(deny.status, 200, "{}", deny.body);
    let reply = srv
        .poll(&s(&started["device_code"]), "devauth-desktop")
        .await;
    assert_eq!((reply.status, reply.error()), (400, "access_denied"));
    // A decided code cannot be reused.
    let again = srv.approve(&owner, &code, "acme").await;
    assert_eq!((again.status, again.error()), (409, "code_already_used"));
    srv.stop().await;
}

async fn expiry_path(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let started = srv.start_device("devauth-cli", "old").await;
    let device_code = s(&started["device_code"]);
    assert_eq!(
        srv.poll(&device_code, "devauth-cli").await.error(),
        "authorization_pending"
    );
    srv.clock.advance(600);
    let reply = srv.poll(&device_code, "devauth-cli").await;
    assert_eq!((reply.status, reply.error()), (400, "expired_token"));
    let approve = srv.approve(&owner, &s(&started["user_code"]), "acme").await;
    assert_eq!(
        (approve.status, approve.error()),
        (409, "expired_user_code")
    );
    assert_eq!(
        srv.poll(&device_code, "devauth-cli").await.error(),
        "expired_token"
    );
    srv.stop().await;
}

async fn oauth_errors_follow_the_rfcs(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let reply = srv
        .post_form("/oauth/device_authorization", &[("client_id", "evil-app")])
        .await;
    assert_eq!((reply.status, reply.error()), (401, "invalid_client"));
    let reply = srv.post_form("/oauth/device_authorization", &[]).await;
    assert_eq!((reply.status, reply.error()), (400, "invalid_request"));
    let long_name = "x".repeat(65);
    let reply = srv
        .post_form(
            "/oauth/device_authorization",
            &[("client_id", "devauth-cli"), ("device_name", &long_name)],
        )
        .await;
    assert_eq!(reply.error(), "invalid_request");
    let reply = srv
        .post_form(
            "/oauth/device_authorization",
            &[
                ("client_id", "devauth-cli"),
                ("device_name", "a\u{1b}[31mb"),
            ],
        )
        .await;
    assert_eq!(reply.error(), "invalid_request");
    // JSON instead of a form.
    let reply = srv
        .post_json(
            "/oauth/device_authorization",
            None,
            json!({"client_id": "devauth-cli"}),
        )
        .await;
    assert_eq!((reply.status, reply.error()), (400, "invalid_request"));

    let started = srv.start_device("devauth-cli", "x").await;
    let device_code = s(&started["device_code"]);
    let reply = srv.poll(&device_code, "devauth-desktop").await;
    assert_eq!((reply.status, reply.error()), (401, "invalid_client"));
    let reply = srv
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", "devauth-cli"),
            ],
        )
        .await;
    assert_eq!(
        (reply.status, reply.error()),
        (400, "unsupported_grant_type")
    );
    let reply = srv
        .post_form(
            "/oauth/token",
            &[("grant_type", DEVICE_GRANT), ("client_id", "devauth-cli")],
        )
        .await;
    assert_eq!(reply.error(), "invalid_request");
    let reply = srv.poll(&"f".repeat(64), "devauth-cli").await;
    assert_eq!((reply.status, reply.error()), (400, "invalid_grant"));
    // A parameter sent twice is invalid (RFC 6749 §3.1).
    let body = format!(
        "grant_type={DEVICE_GRANT}&device_code={device_code}&device_code={device_code}&client_id=devauth-cli"
    );
    let reply = srv
        .http
        .post(srv.at("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(reply.ok(), Some(400));
    // Nothing above touched the pending request.
    assert_eq!(
        srv.poll(&device_code, "devauth-cli").await.error(),
        "authorization_pending"
    );
    srv.stop().await;
}

async fn double_redemption_race(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let started = srv.start_device("devauth-cli", "racer").await;
    let device_code = s(&started["device_code"]);
    let approve = srv.approve(&owner, &s(&started["user_code"]), "acme").await;
    assert_eq!(approve.status, 200);
    let polls = (0..50).map(|_| {
        let http = srv.http.clone();
        let url = srv.at("/oauth/token");
        let code = device_code.clone();
        tokio::spawn(async move {
            http.post(url)
                .form(&[
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", code.as_str()),
                    ("client_id", "devauth-cli"),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        })
    });
    let mut statuses = Vec::new();
    for poll in polls.collect::<Vec<_>>() {
        statuses.push(poll.await.unwrap_or(0));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "exactly one redemption: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        49,
        "{statuses:?}"
    );
    assert_eq!(
        srv.poll(&device_code, "devauth-cli").await.error(),
        "invalid_grant"
    );
    let tokens = srv.get("/api/tokens?scope=org", Some(&owner)).await;
    let device_tokens = tokens.body["tokens"]
        .as_array()
        .map(|t| t.iter().filter(|t| t["kind"] == "device").count());
    assert_eq!(device_tokens, Some(1));
    srv.stop().await;
}

async fn member_removal_cascades(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let bob_personal = srv.enrol("bob@example.com", "acme", Role::Member).await;
    let bob_device = srv.device_token(&bob_personal, "acme").await;
    assert_eq!(srv.get_status("/me", Some(&bob_device)).await, 200);

    let reply = srv.remove_member(&owner, "acme", "bob@example.com").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["tokens_revoked"], 2);
    for token in [&bob_personal, &bob_device] {
        assert_eq!(srv.get_status("/me", Some(token)).await, 401);
    }
    let all = srv.get("/api/tokens?scope=org", Some(&owner)).await;
    let revoked: Vec<_> = all.body["tokens"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter(|t| t["user_email"] == "bob@example.com")
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(revoked.len(), 2, "revoked tokens are kept: {}", all.body);
    for token in &revoked {
        assert_eq!(token["state"], "revoked");
        assert_eq!(token["revoked_reason"], "removed from acme");
        assert_eq!(token["revoked_by"], OWNER_EMAIL);
    }
    let audit = srv
        .get("/api/orgs/acme/audit?action=member.removed", Some(&owner))
        .await;
    assert_eq!(audit.body["events"][0]["target"], "bob@example.com");
    assert_eq!(audit.body["events"][0]["detail"], "2 tokens revoked");
    srv.stop().await;
}

async fn user_disable_cascades(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    srv.add_org("beta").await;
    let in_acme = srv.enrol("bob@example.com", "acme", Role::Member).await;
    let in_beta = srv.enrol("bob@example.com", "beta", Role::Admin).await;
    let revoked = devauth_server::members::disable_user(
        &srv.server.state,
        &devauth_server::policy::Principal::System,
        "bob@example.com",
        &Default::default(),
    )
    .await
    .ok();
    assert_eq!(revoked, Some(2));
    assert_eq!(srv.get_status("/me", Some(&in_acme)).await, 401);
    assert_eq!(srv.get_status("/me", Some(&in_beta)).await, 401);
    // A disabled user's pending approval is refused at redemption too (see redemption test).
    srv.stop().await;
}

async fn role_change_applies_at_once(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let bob = srv.enrol("bob@example.com", "acme", Role::Member).await;
    assert_eq!(srv.get("/me", Some(&bob)).await.body["role"], "member");
    assert_eq!(
        srv.get_status("/api/orgs/acme/members", Some(&bob)).await,
        403
    );

    let reply = srv
        .set_role(&owner, "acme", "bob@example.com", "admin")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(srv.get("/me", Some(&bob)).await.body["role"], "admin");
    assert_eq!(
        srv.get_status("/api/orgs/acme/members", Some(&bob)).await,
        200
    );

    let reply = srv
        .set_role(&owner, "acme", "bob@example.com", "viewer")
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(srv.get("/me", Some(&bob)).await.body["role"], "viewer");
    assert_eq!(
        srv.get_status("/api/orgs/acme/members", Some(&bob)).await,
        403
    );
    // Bad role: clear error, nothing changed.
    let reply = srv.set_role(&owner, "acme", "bob@example.com", "god").await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(
        reply.body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("unknown role")
    );
    assert_eq!(srv.get("/me", Some(&bob)).await.body["role"], "viewer");
    let audit = srv
        .get(
            "/api/orgs/acme/audit?action=member.role_changed",
            Some(&owner),
        )
        .await;
    assert_eq!(audit.body["events"].as_array().map(Vec::len), Some(2));
    srv.stop().await;
}

async fn setup_claim_once(backend: Backend) {
    let srv = spawn_server(backend).await;
    assert_eq!(
        srv.get("/api/setup/status", None).await.body["claimed"],
        false
    );
    let claim = |token: &str| claim_body(token, "o@example.com", "O", PASSWORD);
    let reply = srv
        .post_json("/api/setup/claim", None, claim("setup_wrong"))
        .await;
    assert_eq!((reply.status, reply.error()), (403, "invalid_setup_token"));
    let reply = srv
        .post_json(
            "/api/setup/claim",
            None,
            claim_body(SETUP_TOKEN, "o@example.com", "O", "short"),
        )
        .await;
    assert_eq!(reply.status, 400, "short password: {}", reply.body);
    assert_eq!(
        srv.get("/api/setup/status", None).await.body["claimed"],
        false,
        "failed claims change nothing"
    );

    let reply = srv
        .post_json("/api/setup/claim", None, claim(SETUP_TOKEN))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let token = s(&reply.body["token"]);
    assert_eq!(reply.body["org"]["slug"], "acme");
    assert_eq!(srv.get("/me", Some(&token)).await.body["role"], "owner");
    assert_eq!(
        srv.get("/api/setup/status", None).await.body["claimed"],
        true
    );

    let reply = srv
        .post_json("/api/setup/claim", None, claim(SETUP_TOKEN))
        .await;
    assert_eq!(reply.status, 409);
    // Revoking every token never reopens setup.
    let reply = srv
        .post_json("/api/tokens/revoke-all", Some(&token), json!({}))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(srv.get_status("/me", Some(&token)).await, 401);
    assert_eq!(
        srv.get("/api/setup/status", None).await.body["claimed"],
        true
    );
    assert_eq!(
        srv.post_json("/api/setup/claim", None, claim(SETUP_TOKEN))
            .await
            .status,
        409
    );
    srv.stop().await;
}

async fn hashed_at_rest(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let started = srv.start_device("devauth-cli", "dumped").await;
    let device_code = s(&started["device_code"]);
    let user_code = s(&started["user_code"]);
    srv.approve(&owner, &user_code, "acme").await;
    let device_token = s(&srv.poll(&device_code, "devauth-cli").await.body["access_token"]);
    let personal = srv
        .new_token(&owner, json!({"name": "ci", "expires": "30d"}))
        .await;
    let personal_id = s(&srv.get("/me", Some(&personal)).await.body["token"]["id"]);
    let rotated = srv.rotate(&owner, &personal_id).await;
    let rotated = s(&rotated.body["token"]);
    let dump = srv.server.state.store.dump_for_tests().await.expect("dump");
    assert!(
        dump.contains("tokens id="),
        "the dump covers the tokens table"
    );
    let secrets = [
        owner.as_str(),
        device_token.as_str(),
        personal.as_str(),
        rotated.as_str(),
        device_code.as_str(),
        user_code.as_str(),
        &user_code.replace('-', ""),
        PASSWORD,
        SETUP_TOKEN,
    ];
    for secret in secrets {
        assert!(secret.len() >= 8, "secret collected: {secret:?}");
        assert!(!dump.contains(secret), "a raw secret is in the database");
        assert!(
            !dump.contains(&secret[4..]),
            "a secret's body is in the database"
        );
    }
    // What is there: the SHA-256 of the token.
    assert!(dump.contains(&devauth_server::secret::sha256_hex(&device_token)));
    srv.stop().await;
}

async fn members_see_only_their_tokens(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let bob = srv.enrol("bob@example.com", "acme", Role::Member).await;
    let carol = srv.enrol("carol@example.com", "acme", Role::Member).await;
    let carol_id = s(&srv.get("/me", Some(&carol)).await.body["token"]["id"]);

    let mine = srv.get("/api/tokens", Some(&bob)).await;
    let emails: Vec<_> = mine.body["tokens"]
        .as_array()
        .map(|t| t.iter().map(|t| s(&t["user_email"])).collect())
        .unwrap_or_default();
    assert_eq!(emails, vec!["bob@example.com".to_string()]);
    assert_eq!(
        srv.get_status("/api/tokens?scope=org", Some(&bob)).await,
        403
    );
    assert_eq!(
        srv.get_status(&format!("/api/tokens/{carol_id}"), Some(&bob))
            .await,
        403
    );
    assert_eq!(
        srv.delete_status(&format!("/api/tokens/{carol_id}"), Some(&bob))
            .await,
        403
    );
    assert_eq!(srv.rotate(&bob, &carol_id).await.status, 403);
    assert_eq!(
        srv.post_json(
            "/api/tokens/revoke-all",
            Some(&bob),
            json!({"user": "carol@example.com"})
        )
        .await
        .status,
        403
    );
    assert_eq!(
        srv.get_status("/me", Some(&carol)).await,
        200,
        "carol's token survived bob's attempts"
    );

    let org = srv.get("/api/tokens?scope=org", Some(&owner)).await;
    assert_eq!(org.body["tokens"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        srv.delete_status(&format!("/api/tokens/{carol_id}"), Some(&owner))
            .await,
        200
    );
    assert_eq!(srv.get_status("/me", Some(&carol)).await, 401);
    assert_eq!(
        srv.delete_status("/api/tokens/no-such-id", Some(&owner))
            .await,
        404
    );
    srv.stop().await;
}

async fn wrong_user_codes_are_rate_limited(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let bob = srv.enrol("bob@example.com", "acme", Role::Member).await;
    let started = srv.start_device("devauth-cli", "victim").await;
    let real = s(&started["user_code"]);
    for guess in [
        "BBBB-BBBB",
        "CCCC-CCCC",
        "DDDD-DDDD",
        "FFFF-FFFF",
        "not a code",
    ] {
        let reply = srv.lookup(&bob, guess).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_user_code"),
            "{guess}"
        );
    }
    let reply = srv.approve(&bob, &real, "acme").await;
    assert_eq!(
        (reply.status, reply.error()),
        (429, "rate_limited"),
        "even the right code waits"
    );
    let wait: i64 = reply.header("retry-after").parse().unwrap_or(0);
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    // Same IP, other user: the IP is limited too.
    let reply = srv.lookup(&owner, &real).await;
    assert_eq!(reply.status, 429);
    srv.clock.advance(61);
    let reply = srv.approve(&bob, &real, "acme").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let audit = srv
        .get(
            "/api/orgs/acme/audit?action=device.code_failed&limit=100",
            Some(&owner),
        )
        .await;
    let _ = audit; // code failures carry no org; check the global log instead.
    let events = srv.audit_events("device.code_failed", 100).await;
    assert_eq!(events.len(), 5);
    assert_eq!(events[0].actor, "bob@example.com");
    srv.stop().await;
}

async fn personal_tokens_scopes_rotation_and_revoke_all(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let reply = srv
        .create_token(
            &owner,
            json!({"name": "ci", "expires": "30d", "scopes": ["profile:read"]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let narrow = s(&reply.body["token"]);
    assert_eq!(reply.body["info"]["scopes"], json!(["profile:read"]));
    assert_eq!(
        reply.body["info"]["expires_at"],
        devauth_server::clock::rfc3339(srv.clock_now() + 30 * 86_400)
    );
    assert_eq!(srv.get_status("/me", Some(&narrow)).await, 200);
    let reply = srv.get("/api/tokens", Some(&narrow)).await;
    assert_eq!((reply.status, reply.error()), (403, "insufficient_scope"));
    // A narrowed token cannot mint a wider one.
    let reply = srv.create_token(&narrow, json!({"name": "wider"})).await;
    assert_eq!(reply.status, 403);

    for (body, what) in [
        (json!({"name": "x", "expires": "tomorrow"}), "bad expiry"),
        (json!({"name": "x", "expires": "2020-01-01"}), "past date"),
        (json!({"name": "  "}), "empty name"),
        (json!({"name": "x", "scopes": ["root"]}), "unknown scope"),
        (json!({"name": "x", "colour": "red"}), "unknown field"),
        (json!({"name": "x", "kind": "device"}), "device kind"),
    ] {
        let reply = srv.post_json("/api/tokens", Some(&owner), body).await;
        assert!(
            matches!(reply.status, 400 | 422),
            "{what}: {} {}",
            reply.status,
            reply.body
        );
        assert!(
            !reply.body["error_description"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{what} explains itself"
        );
    }
    let reply = srv
        .http
        .post(srv.at("/api/tokens"))
        .bearer_auth(&owner)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(reply.ok(), Some(400));

    let never = srv
        .create_token(&owner, json!({"name": "forever", "expires": "never"}))
        .await;
    assert_eq!(never.body["info"]["expires_at"], serde_json::Value::Null);
    let old = s(&never.body["token"]);
    let old_id = s(&never.body["info"]["id"]);
    let rotated = srv.rotate(&owner, &old_id).await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new = s(&rotated.body["token"]);
    assert_eq!(rotated.body["info"]["name"], "forever");
    assert_eq!(rotated.body["info"]["expires_at"], serde_json::Value::Null);
    assert_eq!(srv.get_status("/me", Some(&old)).await, 401);
    assert_eq!(srv.get_status("/me", Some(&new)).await, 200);
    assert_eq!(srv.rotate(&owner, &old_id).await.status, 409);

    let reply = srv
        .post_json("/api/tokens/revoke-all", Some(&owner), json!({}))
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["revoked"].as_u64().unwrap_or(0) >= 3);
    for token in [&owner, &narrow, &new] {
        assert_eq!(srv.get_status("/me", Some(token)).await, 401);
    }
    srv.stop().await;
}

async fn service_tokens(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let bob = srv.enrol("bob@example.com", "acme", Role::Member).await;
    let ann = srv.enrol("ann@example.com", "acme", Role::Admin).await;
    let reply = srv
        .create_token(&bob, json!({"name": "deploy", "kind": "service"}))
        .await;
    assert_eq!(reply.status, 403);
    let reply = srv
        .create_token(
            &ann,
            json!({"name": "deploy", "kind": "service", "scopes": "profile:read tokens:read"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let service = s(&reply.body["token"]);
    assert_eq!(reply.body["info"]["user_id"], serde_json::Value::Null);
    let (plain, _) = srv.mint(None, "acme", &[]).await;
    let me = srv.get("/me", Some(&plain)).await;
    assert_eq!((me.status, &me.body["role"]), (200, &json!("service")));
    assert_eq!(me.body["user"], serde_json::Value::Null);
    // Service tokens survive the removal of the admin who made them.
    srv.remove_member(&owner, "acme", "ann@example.com").await;
    assert_eq!(srv.get_status("/me", Some(&ann)).await, 401);
    assert_eq!(srv.get_status("/me", Some(&service)).await, 200);
    // And they cannot approve devices or act as a user.
    let started = srv.start_device("devauth-cli", "x").await;
    let reply = srv
        .approve(&service, &s(&started["user_code"]), "acme")
        .await;
    assert_eq!(reply.status, 403);
    srv.stop().await;
}

async fn expired_tokens_fail(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let short = srv
        .new_token(&owner, json!({"name": "short", "expires": "1d"}))
        .await;
    assert_eq!(srv.get_status("/me", Some(&short)).await, 200);
    srv.clock.advance(86_400);
    let me = srv.get("/me", Some(&short)).await;
    assert_eq!((me.status, me.error()), (401, "invalid_token"));
    let list = srv.get("/api/tokens", Some(&owner)).await;
    let state = list.body["tokens"].as_array().and_then(|t| {
        t.iter()
            .find(|t| t["name"] == "short")
            .map(|t| s(&t["state"]))
    });
    assert_eq!(state.as_deref(), Some("expired"));
    srv.stop().await;
}

async fn last_use_is_written_at_most_once_a_minute(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let last_used = || async {
        let me = srv.get("/me", Some(&owner)).await;
        let id = s(&me.body["token"]["id"]);
        srv.server
            .state
            .store
            .token_by_id(&id.as_str().into())
            .await
            .ok()
            .flatten()
            .and_then(|t| t.last_used_at)
    };
    let first = last_used().await;
    assert_eq!(first, Some(srv.clock_now()));
    srv.clock.advance(30);
    assert_eq!(last_used().await, first, "no write within the minute");
    srv.clock.advance(30);
    assert_eq!(last_used().await, Some(srv.clock_now()));
    let events = srv.audit_events("token.new_ip", 10).await;
    assert_eq!(events.len(), 1, "first use from an IP is audited once");
    srv.stop().await;
}

async fn owners_are_protected(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let reply = srv.remove_member(&owner, "acme", OWNER_EMAIL).await;
    assert_eq!(reply.status, 409, "the last owner stays: {}", reply.body);
    let reply = srv.set_role(&owner, "acme", OWNER_EMAIL, "member").await;
    assert_eq!(reply.status, 409);
    let ann = srv.enrol("ann@example.com", "acme", Role::Admin).await;
    let reply = srv.remove_member(&ann, "acme", OWNER_EMAIL).await;
    assert_eq!(reply.status, 403, "admins cannot remove owners");
    let reply = srv.set_role(&ann, "acme", "ann@example.com", "owner").await;
    assert_eq!(reply.status, 403, "admins cannot make owners");
    assert_eq!(srv.get("/me", Some(&owner)).await.body["role"], "owner");
    // Another org's admin pages are out of reach.
    srv.add_org("beta").await;
    assert_eq!(
        srv.get_status("/api/orgs/beta/members", Some(&owner)).await,
        403
    );
    srv.stop().await;
}

/// 100 rounds, each in a fresh org with two owners who demote (even rounds)
/// or remove (odd rounds) each other at the same moment: exactly one wins and
/// the org keeps an owner every time.
async fn two_owners_demoting_each_other_leave_an_owner(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    for round in 0..100 {
        let org = format!("race{round}");
        srv.add_org(&org).await;
        let (a, b) = (
            format!("a{round}@example.com"),
            format!("b{round}@example.com"),
        );
        let ta = srv.enrol(&a, &org, Role::Owner).await;
        let tb = srv.enrol(&b, &org, Role::Owner).await;
        let act = |token: String, other: String| {
            let srv = &srv;
            let org = org.clone();
            async move {
                let path = format!("/api/orgs/{org}/members/{other}");
                if round % 2 == 0 {
                    let body = json!({"role": "admin"});
                    srv.send_json(Method::PATCH, &path, Some(&token), body)
                        .await
                } else {
                    srv.delete(&path, Some(&token)).await
                }
            }
        };
        let (ra, rb) = tokio::join!(act(ta, b.clone()), act(tb, a.clone()));
        let wins = [&ra, &rb].iter().filter(|r| r.status == 200).count();
        // The loser is refused: no longer an owner (403), the last owner
        // (409), or already removed with its tokens (401).
        for r in [&ra, &rb] {
            assert!(
                matches!(r.status, 200 | 401 | 403 | 409),
                "round {round}: {} {}",
                r.status,
                r.body
            );
        }
        assert_eq!(
            wins, 1,
            "round {round}: exactly one wins ({} / {})",
            ra.body, rb.body
        );
        let state = &srv.server.state;
        let org = devauth_server::members::org(state, &org).await.ok();
        let members = match org {
            Some(org) => state.store.list_members(&org.id).await.ok(),
            None => None,
        };
        let owners = members
            .unwrap_or_default()
            .iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        assert_eq!(owners, 1, "round {round}: the org keeps one owner");
    }
    srv.stop().await;
}

/// The escalations found by trying the API as a hostile admin would, each
/// refused now.
async fn the_escalations_once_reported_fail(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let eve = srv.enrol("eve@example.com", "acme", Role::Admin).await;

    // An admin lists the owner's token, then tries to rotate it.
    let listed = srv.get("/api/tokens?scope=org", Some(&eve)).await;
    assert_eq!(listed.status, 200);
    let owner_id = s(&srv.get("/me", Some(&owner)).await.body["token"]["id"]);
    assert!(listed.body.to_string().contains(&owner_id));
    let rotated = srv.rotate(&eve, &owner_id).await;
    assert_eq!(rotated.status, 403, "{}", rotated.body);
    assert!(rotated.body.get("token").is_none(), "no secret handed out");
    assert_eq!(
        srv.get_status("/me", Some(&owner)).await,
        200,
        "the owner's token lives"
    );

    // An admin's service token is no owner.
    let service = srv
        .create_token(
            &eve,
            json!({"name": "svc", "kind": "service", "scopes": ["org:admin"]}),
        )
        .await;
    assert_eq!(service.status, 201, "{}", service.body);
    let service = s(&service.body["token"]);
    for (path, body) in [
        (
            "/api/orgs/acme/members/eve@example.com",
            json!({"role": "owner"}),
        ),
        (
            &format!("/api/orgs/acme/members/{OWNER_EMAIL}") as &str,
            json!({"role": "member"}),
        ),
    ] {
        let reply = srv
            .send_json(Method::PATCH, path, Some(&service), body)
            .await;
        assert_eq!(reply.status, 403, "{path}: {}", reply.body);
    }
    let reply = srv.remove_member(&service, "acme", OWNER_EMAIL).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(srv.get("/me", Some(&owner)).await.body["role"], "owner");
    let (plain, _) = srv.mint(None, "acme", &[]).await;
    let me = srv.get("/me", Some(&plain)).await;
    assert_eq!((me.status, &me.body["role"]), (200, &json!("service")));
    let approve = srv.approve(&service, "BCDF-GHJK", "acme").await;
    assert_eq!(approve.status, 403, "service tokens approve no devices");

    // A narrow token mints only narrow tokens.
    let narrow = srv
        .new_token(&eve, json!({"name": "narrow", "scopes": ["tokens:write"]}))
        .await;
    let wide = srv.create_token(&narrow, json!({"name": "wide"})).await;
    assert_eq!(wide.status, 201, "{}", wide.body);
    assert_eq!(wide.body["info"]["scopes"], json!(["tokens:write"]));
    let wider = srv
        .create_token(&narrow, json!({"name": "wider", "scopes": ["org:admin"]}))
        .await;
    assert_eq!(wider.status, 403, "{}", wider.body);

    // A token of acme does not reach beta, where its user is an admin too.
    srv.add_org("beta").await;
    srv.add_member("eve@example.com", "beta", Role::Admin).await;
    let started = srv.start_device("devauth-cli", "elsewhere").await;
    let into_beta = srv
        .approve(&narrow, &s(&started["user_code"]), "beta")
        .await;
    assert_eq!(into_beta.status, 403, "{}", into_beta.body);
    let poll = srv.poll(&s(&started["device_code"]), "devauth-cli").await;
    assert_eq!(poll.error(), "authorization_pending");
    for path in ["/api/orgs/beta/members", "/api/orgs/beta/audit"] {
        assert_eq!(srv.get_status(path, Some(&eve)).await, 403, "{path}");
    }
    // Into its own org, the device gets the narrow token's scopes.
    let into_acme = srv
        .approve(&narrow, &s(&started["user_code"]), "acme")
        .await;
    assert_eq!(into_acme.status, 200, "{}", into_acme.body);
    let device = srv.poll(&s(&started["device_code"]), "devauth-cli").await;
    let device = s(&device.body["access_token"]);
    let listed = srv.get("/api/tokens", Some(&device)).await;
    assert_eq!(
        listed.status, 403,
        "the device token has only `tokens:write`"
    );
    srv.stop().await;
}

async fn audit_log_filters_and_pages(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    for i in 0..5 {
        srv.create_token(&owner, json!({"name": format!("t{i}")}))
            .await;
    }
    let page = srv
        .get(
            "/api/orgs/acme/audit?action=token.issued&limit=4",
            Some(&owner),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let events = page.body["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e["action"] == "token.issued"));
    assert!(
        events
            .iter()
            .all(|e| e["actor"] == OWNER_EMAIL && e["ip"] == "127.0.0.1")
    );
    assert!(
        events
            .iter()
            .all(|e| e["request_id"].as_str().is_some_and(|r| !r.is_empty()))
    );
    let before = page.body["next_before"].as_i64().unwrap_or(0);
    let next = srv
        .get(
            &format!("/api/orgs/acme/audit?action=token.issued&limit=4&before={before}"),
            Some(&owner),
        )
        .await;
    let rest = next.body["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(rest.len(), 2, "5 created + the setup token = 6 issued");
    assert_eq!(next.body["next_before"], serde_json::Value::Null);
    // The request id a client sends is recorded and echoed.
    let reply = srv
        .http
        .post(srv.at("/api/tokens"))
        .bearer_auth(&owner)
        .header("x-request-id", "trace-me-123")
        .json(&json!({"name": "traced"}))
        .send()
        .await;
    assert_eq!(
        reply.ok().and_then(|r| r
            .headers()
            .get("x-request-id")
            .map(|v| v.as_bytes().to_vec())),
        Some(b"trace-me-123".to_vec())
    );
    let latest = srv
        .get(
            "/api/orgs/acme/audit?action=token.issued&limit=1",
            Some(&owner),
        )
        .await;
    assert_eq!(latest.body["events"][0]["request_id"], "trace-me-123");
    assert_eq!(
        srv.get_status("/api/orgs/acme/audit?limit=0", Some(&owner))
            .await,
        400
    );
    assert_eq!(
        srv.get_status("/api/orgs/acme/audit?since=yesterday", Some(&owner))
            .await,
        400
    );
    srv.stop().await;
}

async fn redemption_requires_current_membership(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let bob = srv.enrol("bob@example.com", "acme", Role::Member).await;
    let started = srv.start_device("devauth-cli", "late").await;
    let reply = srv.approve(&bob, &s(&started["user_code"]), "acme").await;
    assert_eq!(reply.status, 200);
    // Bob is removed between approval and redemption.
    srv.remove_member(&owner, "acme", "bob@example.com").await;
    let reply = srv.poll(&s(&started["device_code"]), "devauth-cli").await;
    assert_eq!((reply.status, reply.error()), (400, "access_denied"));
    // A member of acme cannot approve into an org they are not in.
    srv.add_org("beta").await;
    let started = srv.start_device("devauth-cli", "x").await;
    let reply = srv.approve(&owner, &s(&started["user_code"]), "beta").await;
    assert_eq!(reply.status, 403);
    srv.stop().await;
}

async fn headers_health_and_metrics(backend: Backend) {
    let srv = spawn_server(backend).await;
    let meta = srv
        .get("/.well-known/oauth-authorization-server", None)
        .await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.body["issuer"], srv.url.as_str());
    assert_eq!(
        meta.body["device_authorization_endpoint"],
        srv.at("/oauth/device_authorization")
    );
    assert_eq!(meta.body["token_endpoint"], srv.at("/oauth/token"));
    assert_eq!(meta.body["revocation_endpoint"], srv.at("/oauth/revoke"));
    assert_eq!(meta.body["grant_types_supported"], json!([DEVICE_GRANT]));
    assert_eq!(
        meta.body["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert!(meta.body["response_types_supported"].is_array());
    assert!(!meta.header("x-request-id").is_empty());

    assert_eq!(srv.get_status("/healthz", None).await, 200);
    let ready = srv.get("/readyz", None).await;
    assert_eq!(ready.status, 200);
    srv.claim().await;
    srv.start_device("devauth-cli", "m").await;
    let metrics = srv.get("/metrics", None).await;
    let text = metrics.body.as_str().unwrap_or("").to_string();
    assert!(
        text.contains("devauth_device_flows_started_total 1"),
        "{text}"
    );
    assert!(text.contains("devauth_tokens_issued_total 1"), "{text}");
    assert!(
        text.contains(
            "devauth_http_requests_total{route=\"/oauth/device_authorization\",status=\"200\"} 1"
        ),
        "{text}"
    );
    let missing = srv.get("/nope", None).await;
    assert_eq!((missing.status, missing.error()), (404, "not_found"));
    let big = "x".repeat(100 * 1024);
    let reply = srv
        .post_form(
            "/oauth/device_authorization",
            &[("client_id", "devauth-cli"), ("device_name", &big)],
        )
        .await;
    assert_eq!(reply.status, 413, "bodies are size-limited");
    srv.stop().await;
}

/// After `stop` the SQLite file is free for another process, as if the server
/// had exited, even while something in this process still holds its state.
#[tokio::test]
async fn a_stopped_server_lets_go_of_its_sqlite_file() {
    use sqlx::ConnectOptions;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteLockingMode};
    let dir = TempDir::new();
    let path = dir.path().join("devauth.db");
    let config = devauth_server::Config {
        database_url: Some(path.display().to_string()),
        addr: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let server = devauth_server::start(
        config,
        std::sync::Arc::new(devauth_server::clock::ManualClock::default()),
    )
    .await
    .expect("the server starts");
    let ready = reqwest::get(format!("{}/readyz", server.url))
        .await
        .expect("/readyz answers");
    assert_eq!(ready.status(), 200);
    let held = server.state.clone();
    server.stop().await.expect("stopping the server");

    let mut exclusive = SqliteConnectOptions::new()
        .filename(&path)
        .locking_mode(SqliteLockingMode::Exclusive)
        .busy_timeout(std::time::Duration::ZERO)
        .connect()
        .await
        .expect("connecting");
    sqlx::raw_sql("BEGIN EXCLUSIVE; UPDATE generation SET value = value + 1; COMMIT;")
        .execute(&mut exclusive)
        .await
        .expect("the stopped server still holds the file");
    assert!(held.store.setup_claimed().await.is_err(), "closed");
}
