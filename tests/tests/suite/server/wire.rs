//! The JSON of every endpoint, as a contract: one request of each kind, its
//! answer reduced to its shape (field names, nesting, and each value's JSON
//! type; the values themselves vary), compared with the recorded shapes in
//! `tests/golden/wire-shapes.json`. A renamed, dropped, added or retyped field
//! fails here. `DEVAUTH_RECORD_WIRE=1` records the file anew (review the diff).

use devauth_harness::*;
use devauth_server::model::Role;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn shape(value: &Value) -> Value {
    match value {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        // Each distinct element shape once, in a fixed order.
        Value::Array(items) => {
            let shapes: std::collections::BTreeMap<String, Value> = items
                .iter()
                .map(|item| {
                    let s = shape(item);
                    (s.to_string(), s)
                })
                .collect();
            Value::Array(shapes.into_values().collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

struct Recorder(BTreeMap<String, Value>);

impl Recorder {
    fn put(&mut self, name: &str, status: u16, body: &Value) {
        self.0.insert(
            name.to_string(),
            json!({ "status": status, "body": shape(body) }),
        );
    }

    fn reply(&mut self, name: &str, reply: &Reply) {
        self.put(name, reply.status, &reply.body);
    }
}

pub async fn wire_shapes_are_kept(backend: Backend) {
    let srv = spawn_server(backend).await;
    let mut r = Recorder(BTreeMap::new());
    r.reply(
        "GET /api/setup/status",
        &srv.get("/api/setup/status", None).await,
    );
    let body = claim_body(SETUP_TOKEN, OWNER_EMAIL, "Olive", PASSWORD);
    let claim = srv.post_json("/api/setup/claim", None, body).await;
    r.reply("POST /api/setup/claim", &claim);
    let owner = s(&claim.body["token"]);
    r.reply(
        "GET /.well-known/oauth-authorization-server",
        &srv.get("/.well-known/oauth-authorization-server", None)
            .await,
    );
    r.reply("GET /me", &srv.get("/me", Some(&owner)).await);
    r.reply("GET /me (no token)", &srv.get("/me", None).await);

    let started = srv.start_device("devauth-cli", "wire laptop").await;
    r.put("POST /oauth/device_authorization", 200, &started);
    let code = s(&started["device_code"]);
    r.reply(
        "POST /oauth/token (pending)",
        &srv.poll(&code, "devauth-cli").await,
    );
    r.reply(
        "POST /oauth/token (slow_down)",
        &srv.poll(&code, "devauth-cli").await,
    );
    let user_code = json!({"user_code": started["user_code"]});
    r.reply(
        "POST /api/device/lookup",
        &srv.post_json("/api/device/lookup", Some(&owner), user_code.clone())
            .await,
    );
    r.reply(
        "POST /api/device/approve",
        &srv.approve(&owner, &s(&started["user_code"]), "acme").await,
    );
    let token = srv.poll(&code, "devauth-cli").await;
    r.reply("POST /oauth/token (token)", &token);
    r.reply(
        "POST /oauth/token (used)",
        &srv.poll(&code, "devauth-cli").await,
    );
    let denied = srv.start_device("devauth-cli", "wire denied").await;
    r.reply(
        "POST /api/device/deny",
        &srv.deny(&owner, &s(&denied["user_code"])).await,
    );
    r.reply(
        "POST /api/device/approve (decided)",
        &srv.approve(&owner, &s(&denied["user_code"]), "acme").await,
    );

    let created = srv
        .create_token(
            &owner,
            json!({"name": "ci", "expires": "30d", "scopes": ["profile:read"]}),
        )
        .await;
    r.reply("POST /api/tokens", &created);
    let id = s(&created.body["info"]["id"]);
    r.reply(
        "GET /api/tokens",
        &srv.get("/api/tokens", Some(&owner)).await,
    );
    r.reply(
        "GET /api/tokens?scope=org",
        &srv.get("/api/tokens?scope=org", Some(&owner)).await,
    );
    r.reply(
        "GET /api/tokens/{id}",
        &srv.get(&format!("/api/tokens/{id}"), Some(&owner)).await,
    );
    let rotated = srv.rotate(&owner, &id).await;
    r.reply("POST /api/tokens/{id}/rotate", &rotated);
    let new_id = s(&rotated.body["info"]["id"]);
    r.reply(
        "DELETE /api/tokens/{id}",
        &srv.delete(&format!("/api/tokens/{new_id}"), Some(&owner))
            .await,
    );
    r.reply(
        "POST /api/tokens (invalid)",
        &srv.create_token(&owner, json!({"name": " "})).await,
    );
    let service = srv
        .create_token(&owner, json!({"name": "bot", "kind": "service"}))
        .await;
    r.reply(
        "GET /me (service)",
        &srv.get("/me", Some(&s(&service.body["token"]))).await,
    );

    let bob = srv.enrol("bob@example.com", "acme", Role::Member).await;
    // The event stream: a role change, then the revocation that ends it.
    let (short, short_id) = {
        let made = srv
            .create_token(&owner, json!({"name": "short", "expires": "3d"}))
            .await;
        (s(&made.body["token"]), s(&made.body["info"]["id"]))
    };
    let stream = open_stream(&srv.url, &short, false).await;
    let reader = tokio::spawn(read_events(stream, 2));
    srv.delete(&format!("/api/tokens/{short_id}"), Some(&owner))
        .await;
    for (name, data) in reader.await.expect("the event reader") {
        r.put(&format!("event {name}"), 200, &data);
    }
    let stream = open_stream(&srv.url, &bob, true).await;
    let reader = tokio::spawn(read_events(stream, 1));
    srv.set_role(&owner, "acme", "bob@example.com", "viewer")
        .await;
    for (name, data) in reader.await.expect("the event reader") {
        r.put(&format!("event {name}"), 200, &data);
    }
    r.reply(
        "GET /api/tokens?scope=org (forbidden)",
        &srv.get("/api/tokens?scope=org", Some(&bob)).await,
    );
    r.reply(
        "GET /api/tokens/{id} (not found)",
        &srv.get("/api/tokens/nope", Some(&owner)).await,
    );
    r.reply(
        "GET /api/orgs/{org}/members",
        &srv.get("/api/orgs/acme/members", Some(&owner)).await,
    );
    srv.add_member("carol@example.com", "acme", Role::Viewer)
        .await;
    r.reply(
        "POST /api/orgs/{org}/members",
        &srv.post_json(
            "/api/orgs/acme/members",
            Some(&owner),
            json!({"email": "dan@example.com", "role": "viewer"}),
        )
        .await,
    );
    user_without_org(&srv, "erin@example.com").await;
    r.reply(
        "POST /api/orgs/{org}/members (added)",
        &srv.post_json(
            "/api/orgs/acme/members",
            Some(&owner),
            json!({"email": "erin@example.com", "role": "viewer"}),
        )
        .await,
    );
    r.reply(
        "PATCH /api/orgs/{org}/members/{user}",
        &srv.set_role(&owner, "acme", "carol@example.com", "member")
            .await,
    );
    r.reply(
        "DELETE /api/orgs/{org}/members/{user}",
        &srv.remove_member(&owner, "acme", "carol@example.com").await,
    );
    r.reply(
        "DELETE /api/orgs/{org}/members/{user} (last owner)",
        &srv.remove_member(&owner, "acme", OWNER_EMAIL).await,
    );
    r.reply(
        "GET /api/orgs/{org}/audit",
        &srv.get("/api/orgs/acme/audit?limit=2", Some(&owner)).await,
    );
    r.reply(
        "POST /api/tokens/revoke-all",
        &srv.post_json("/api/tokens/revoke-all", Some(&bob), json!({}))
            .await,
    );
    r.reply(
        "GET /api/orgs/{org}/policy",
        &srv.get("/api/orgs/acme/policy", Some(&owner)).await,
    );
    r.reply(
        "PATCH /api/orgs/{org}/policy",
        &srv.send_json(
            reqwest::Method::PATCH,
            "/api/orgs/acme/policy",
            Some(&owner),
            json!({"device_token_days": 30}),
        )
        .await,
    );
    r.reply("GET /healthz", &srv.get("/healthz", None).await);
    r.reply("GET /readyz", &srv.get("/readyz", None).await);
    r.reply(
        "POST /oauth/revoke",
        &srv.post_form("/oauth/revoke", &[("token", &owner)]).await,
    );
    r.reply(
        "POST /oauth/token (unsupported grant)",
        &srv.post_form("/oauth/token", &[("grant_type", "password")])
            .await,
    );
    let mut wrong = None;
    for n in 0..6 {
        let reply = srv
            .post_json(
                "/api/device/lookup",
                Some(&s(&token.body["access_token"])),
                json!({"user_code": format!("BBBB-BBB{}", ["B", "C", "D", "F", "G", "H"][n])}),
            )
            .await;
        if n == 0 {
            r.reply("POST /api/device/lookup (wrong code)", &reply);
        }
        wrong = Some(reply);
    }
    if let Some(limited) = wrong {
        r.reply("POST /api/device/lookup (rate limited)", &limited);
    }
    srv.stop().await;

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/golden/wire-shapes.json");
    let recorded = serde_json::to_string_pretty(&r.0).unwrap_or_default() + "\n";
    if std::env::var("DEVAUTH_RECORD_WIRE").as_deref() == Ok("1") {
        std::fs::write(path, &recorded).unwrap_or_else(|e| panic!("write {path}: {e}"));
        return;
    }
    let golden = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {path}: {e} (DEVAUTH_RECORD_WIRE=1 records it)"));
    let golden: BTreeMap<String, Value> =
        serde_json::from_str(&golden).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut differ = Vec::new();
    for name in golden
        .keys()
        .chain(r.0.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if golden.get(name) != r.0.get(name) {
            differ.push(format!(
                "{name}:\n  recorded {}\n  now      {}",
                golden.get(name).map(Value::to_string).unwrap_or_default(),
                r.0.get(name).map(Value::to_string).unwrap_or_default()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "the wire changed:\n{}",
        differ.join("\n")
    );
}

async fn user_without_org(srv: &TestServer, email: &str) {
    devauth_server::identity::create_user(
        &srv.server.state,
        email,
        email,
        None,
        devauth_server::model::Actor::System,
        &Default::default(),
    )
    .await
    .expect("creating the user");
}
