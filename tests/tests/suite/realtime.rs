//! Instant delivery and revocation push: `Prefer: wait` long polls on the
//! token endpoint, `GET /api/events` streams, and both across two server
//! replicas on one PostgreSQL database (LISTEN/NOTIFY).

use devauth_harness::*;
use devauth_server::Config;
use devauth_server::model::Role;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

devauth_harness::on_both_backends!(
    long_poll_returns_the_token_on_approval,
    long_poll_wakes_on_denial,
    long_poll_times_out_as_pending,
    without_prefer_polling_is_standard,
    held_polls_are_bounded,
    events_stream_revocation_and_role_changes,
    events_warn_before_expiry,
    cached_validations_never_outlive_a_change,
    a_new_device_is_announced_to_the_users_other_streams,
);

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Sends a token poll with `Prefer: wait=N` in the background.
fn waiting_poll(
    srv: &TestServer,
    device_code: &str,
    wait: u64,
) -> tokio::task::JoinHandle<(u16, String, Value)> {
    waiting_poll_to(srv.http.clone(), srv.at("/oauth/token"), device_code, wait)
}

/// [`waiting_poll`] to the token endpoint at `url`, with `http`; answers status, `Preference-Applied` and body.
fn waiting_poll_to(
    http: reqwest::Client,
    url: String,
    device_code: &str,
    wait: u64,
) -> tokio::task::JoinHandle<(u16, String, Value)> {
    let code = device_code.to_string();
    tokio::spawn(async move {
        let response = http
            .post(url)
            .header("prefer", format!("wait={wait}"))
            .form(&[
                ("grant_type", DEVICE_GRANT),
                ("device_code", code.as_str()),
                ("client_id", "devauth-cli"),
            ])
            .send()
            .await
            .expect("the request got an answer");
        let status = response.status().as_u16();
        let applied = response
            .headers()
            .get("preference-applied")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (
            status,
            applied,
            response.json().await.unwrap_or(Value::Null),
        )
    })
}

async fn long_poll_returns_the_token_on_approval(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let started = srv.start_device("devauth-cli", "fast").await;
    let began = Instant::now();
    let poll = waiting_poll(&srv, &s(&started["device_code"]), 25);
    until_held(&srv.server, 1).await;
    let approve = srv.approve(&owner, &s(&started["user_code"]), "acme").await;
    assert_eq!(approve.status, 200);
    let (status, applied, body) = poll.await.expect("the background task");
    assert_eq!(status, 200, "{body}");
    assert_eq!(applied, "wait=25");
    assert!(s(&body["access_token"]).starts_with("dva_"));
    assert!(
        began.elapsed() < Duration::from_secs(25),
        "woken by the approval, not by the timeout"
    );
    assert_eq!(srv.server.state.bus.held(), 0, "the slot is released");
    srv.stop().await;
}

async fn long_poll_wakes_on_denial(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let started = srv.start_device("devauth-cli", "denied").await;
    let poll = waiting_poll(&srv, &s(&started["device_code"]), 25);
    until_held(&srv.server, 1).await;
    srv.deny(&owner, &s(&started["user_code"])).await;
    let (status, _, body) = poll.await.expect("the background task");
    assert_eq!(
        (status, s(&body["error"])),
        (400, "access_denied".to_string())
    );
    srv.stop().await;
}

async fn long_poll_times_out_as_pending(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let started = srv.start_device("devauth-cli", "patient").await;
    let (status, applied, body) = waiting_poll(&srv, &s(&started["device_code"]), 1)
        .await
        .expect("the background poll");
    assert_eq!(
        (status, s(&body["error"])),
        (400, "authorization_pending".to_string())
    );
    assert_eq!(applied, "wait=1");
    // Waits longer than 30 s are cut to 30.
    let reply = srv
        .http
        .post(srv.at("/oauth/token"))
        .header("prefer", "wait=3600")
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", "unknown"),
            ("client_id", "devauth-cli"),
        ])
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(reply.ok(), Some(400), "unknown codes answer at once");
    srv.stop().await;
}

async fn without_prefer_polling_is_standard(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let started = srv.start_device("devauth-cli", "classic").await;
    let code = s(&started["device_code"]);
    let reply = srv.poll(&code, "devauth-cli").await;
    assert_eq!(reply.error(), "authorization_pending");
    assert_eq!(reply.header("preference-applied"), "");
    assert_eq!(
        srv.poll(&code, "devauth-cli").await.error(),
        "slow_down",
        "slow_down still applies to quick plain polls"
    );
    srv.stop().await;
}

async fn held_polls_are_bounded(backend: Backend) {
    let srv = spawn_server_with(
        backend,
        Config {
            max_waiters: 1,
            ..Config::default()
        },
    )
    .await;
    srv.claim().await;
    let first = srv.start_device("devauth-cli", "one").await;
    let second = srv.start_device("devauth-cli", "two").await;
    let held = waiting_poll(&srv, &s(&first["device_code"]), 2);
    until_held(&srv.server, 1).await;
    let (status, applied, body) = waiting_poll(&srv, &s(&second["device_code"]), 20)
        .await
        .expect("the background poll");
    assert_eq!(
        (status, s(&body["error"])),
        (400, "authorization_pending".to_string())
    );
    assert_eq!(
        applied, "",
        "over the limit: answered at once, without waiting"
    );
    let _ = held.await;
    srv.stop().await;
}

async fn events_stream_revocation_and_role_changes(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let bob = srv.enrol("bob@example.com", "acme", Role::Member).await;
    assert_eq!(
        open_stream(&srv.url, "dva_nonsense", false).await.status(),
        401
    );
    let response = open_stream(&srv.url, &bob, true).await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .starts_with("text/event-stream")
    );
    let reader = tokio::spawn(read_events(response, 3));
    // Give the stream a moment to subscribe (it subscribes before answering, so this only orders the test).
    srv.set_role(&owner, "acme", "bob@example.com", "admin")
        .await;
    let bob_id = s(&srv.get("/me", Some(&bob)).await.body["token"]["id"]);
    srv.delete(&format!("/api/tokens/{bob_id}"), Some(&owner))
        .await;
    let events = reader.await.unwrap_or_default();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["membership.changed", "token.revoked"],
        "{events:?}"
    );
    assert_eq!(events[0].1["role"], "admin");
    assert_eq!(events[1].1["token_id"], bob_id.as_str());
    srv.stop().await;
}

async fn events_warn_before_expiry(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let short = srv
        .new_token(&owner, json!({"name": "short", "expires": "5d"}))
        .await;
    let reader = tokio::spawn(read_events(open_stream(&srv.url, &short, false).await, 2));
    // Revoked through RFC 7009 by its holder: the stream says so and ends.
    let mut waited = 0;
    while srv.server.state.bus.held() == 0 && waited < 1 {
        waited += 1; // streams are not long polls; nothing to wait for here
    }
    srv.post_form("/oauth/revoke", &[("token", &short)]).await;
    let events = reader.await.unwrap_or_default();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["token.expiring", "token.revoked"], "{events:?}");
    assert_eq!(events[0].1["days_left"], 5);
    srv.stop().await;
}

async fn cached_validations_never_outlive_a_change(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let bob = srv.enrol("bob@example.com", "acme", Role::Member).await;
    let spare = srv.personal_token("bob@example.com", "acme").await;
    assert_eq!(srv.get("/me", Some(&bob)).await.body["role"], "member");
    assert!(
        !srv.server.state.cache.is_empty(),
        "the validation is cached"
    );
    srv.set_role(&owner, "acme", "bob@example.com", "viewer")
        .await;
    assert_eq!(
        srv.get("/me", Some(&bob)).await.body["role"],
        "viewer",
        "role change applies on the next request"
    );
    let bob_id = s(&srv.get("/me", Some(&bob)).await.body["token"]["id"]);
    srv.delete(&format!("/api/tokens/{bob_id}"), Some(&owner))
        .await;
    assert_eq!(
        srv.get_status("/me", Some(&bob)).await,
        401,
        "revoked: the next request fails"
    );
    assert_eq!(srv.get_status("/me", Some(&spare)).await, 200);
    srv.remove_member(&owner, "acme", "bob@example.com").await;
    assert_eq!(
        srv.get_status("/me", Some(&spare)).await,
        401,
        "removed: the next request fails"
    );
    // Expiry needs no event: it is checked on every use.
    let short = srv
        .new_token(&owner, json!({"name": "short", "expires": "1d"}))
        .await;
    assert_eq!(srv.get_status("/me", Some(&short)).await, 200);
    srv.clock.advance(86_400);
    assert_eq!(srv.get_status("/me", Some(&short)).await, 401);
    srv.stop().await;
}

/// A server on PostgreSQL, or `None` (a skip) when this run has none.
async fn on_postgres() -> Option<TestServer> {
    if !available(Backend::Postgres) {
        return None;
    }
    Some(spawn_server(Backend::Postgres).await)
}

/// Two replicas on one PostgreSQL database: an approval on one wakes a long
/// poll on the other, and a revocation on one reaches a stream on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_events_through_postgres() {
    let Some(a) = on_postgres().await else {
        return;
    };
    let b = devauth_server::start(
        Config {
            database_url: Some(a.database_url.clone()),
            addr: "127.0.0.1:0".into(),
            ..Config::default()
        },
        std::sync::Arc::new(a.clock.clone()),
    )
    .await
    .expect("the second replica starts");
    let owner = a.claim().await;
    let started = a.start_device("devauth-cli", "replicated").await;
    let code = s(&started["device_code"]);
    let b_token = format!("{}/oauth/token", b.url);
    let poll = waiting_poll_to(reqwest::Client::new(), b_token, &code, 25);
    until_held(&b, 1).await;
    let began = Instant::now();
    a.approve(&owner, &s(&started["user_code"]), "acme").await;
    let (status, _, body) = poll.await.expect("the background task");
    assert_eq!(status, 200, "{body}");
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "woken through NOTIFY"
    );
    let token = s(&body["access_token"]);

    let reader = tokio::spawn(read_events(open_stream(&b.url, &token, false).await, 1));
    a.post_form("/oauth/revoke", &[("token", &token)]).await;
    let events = reader.await.unwrap_or_default();
    assert_eq!(
        events.first().map(|(n, _)| n.as_str()),
        Some("token.revoked"),
        "{events:?}"
    );
    let _ = b.stop().await;
    a.stop().await;
}

/// A stopped PostgreSQL server keeps no connection to its database: neither
/// its pool nor the one it LISTENs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_replica_closes_its_postgres_connections() {
    use sqlx::Connection;
    let Some(a) = on_postgres().await else {
        return;
    };
    a.claim().await;
    let mut watcher = sqlx::PgConnection::connect(&a.database_url)
        .await
        .expect("connecting");
    let others = async |conn: &mut sqlx::PgConnection| -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(conn)
        .await
        .expect("the query")
    };
    let listening = async |conn: &mut sqlx::PgConnection| -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_one(conn)
        .await
        .expect("the query")
    };
    // The LISTEN connection comes up in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening(&mut watcher).await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listening(&mut watcher).await, 1, "the server listens");
    let held = a.server.state.clone();
    a.stop().await;
    // Closing is asynchronous on the server's side of each connection.
    let deadline = Instant::now() + Duration::from_secs(10);
    while others(&mut watcher).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        others(&mut watcher).await,
        0,
        "connections left open after stop"
    );
    drop(held);
}

/// A device token issued to a user is announced, as `device.signed_in`, on
/// the open streams of that user's other tokens, and nowhere else; the
/// token id in it is enough to revoke the device ("not you? revoke").
async fn a_new_device_is_announced_to_the_users_other_streams(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let bob = srv.enrol("bob@example.com", "acme", Role::Member).await;
    let bobs = tokio::spawn(read_events(open_stream(&srv.url, &bob, false).await, 2));
    let owners = tokio::spawn(read_events(open_stream(&srv.url, &owner, false).await, 1));
    let metrics = srv.get("/metrics", None).await;
    let metrics = metrics.body.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("devauth_event_streams_open 2\n"),
        "{metrics}"
    );
    let started = srv.start_device("devauth-cli", "Bob's other laptop").await;
    assert_eq!(
        srv.approve(&bob, &s(&started["user_code"]), "acme")
            .await
            .status,
        200
    );
    let issued = srv.poll(&s(&started["device_code"]), "devauth-cli").await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let device = s(&issued.body["access_token"]);
    let device_id = s(&srv.get("/me", Some(&device)).await.body["token"]["id"]);
    // Not you? The event's token id revokes the device.
    let bob_id = s(&srv.get("/me", Some(&bob)).await.body["token"]["id"]);
    srv.delete(&format!("/api/tokens/{bob_id}"), Some(&owner))
        .await;
    srv.delete(
        &format!(
            "/api/tokens/{}",
            srv.get("/me", Some(&owner)).await.body["token"]["id"]
                .as_str()
                .unwrap_or_default()
        ),
        Some(&owner),
    )
    .await;
    let events = bobs.await.unwrap_or_default();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["device.signed_in", "token.revoked"],
        "{events:?}"
    );
    let signed_in = &events[0].1;
    assert_eq!(signed_in["token_id"], device_id.as_str());
    assert_eq!(signed_in["device_name"], "Bob's other laptop");
    assert_eq!(signed_in["client_id"], "devauth-cli");
    assert_eq!(signed_in["ip"], "127.0.0.1");
    assert!(
        signed_in["approved_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{signed_in}"
    );
    let org_id = s(&srv.get("/me", Some(&device)).await.body["org"]["id"]);
    assert_eq!(signed_in["org_id"], org_id.as_str());
    // Another user's stream heard nothing of it.
    let events = owners.await.unwrap_or_default();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["token.revoked"], "{events:?}");
    assert_eq!(
        srv.delete(&format!("/api/tokens/{device_id}"), Some(&device))
            .await
            .status,
        200
    );
    assert_eq!(srv.get_status("/me", Some(&device)).await, 401);
    srv.stop().await;
}

/// A policy one replica keeps is dropped the moment another changes it: an
/// owner turning device sign-in off is obeyed by every replica at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_change_reaches_every_replica_at_once() {
    let Some(a) = on_postgres().await else {
        return;
    };
    let b = a.replica(Config::default()).await;
    let owner = a.claim().await;
    // b reads the policy (on, the default) and keeps it.
    let first = b.start_device("devauth-cli", "first").await;
    assert_eq!(
        b.approve(&owner, &s(&first["user_code"]), "acme")
            .await
            .status,
        200
    );
    let off = a
        .send_json(
            reqwest::Method::PATCH,
            "/api/orgs/acme/policy",
            Some(&owner),
            json!({"device_flow": "off"}),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let second = b.start_device("devauth-cli", "second").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let refused = b.approve(&owner, &s(&second["user_code"]), "acme").await;
        if refused.error() == "policy_denied" {
            break;
        }
        assert_eq!(
            refused.status, 403,
            "approved despite the policy: {}",
            refused.body
        );
        assert!(Instant::now() < deadline, "b still follows the old policy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.stop().await;
    a.stop().await;
}

/// A device signed in through one replica is announced on the user's
/// streams held by another (the `NOTIFY` rides on the redemption's commit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sign_in_reaches_streams_on_other_replicas() {
    let Some(a) = on_postgres().await else {
        return;
    };
    let b = a.replica(Config::default()).await;
    let owner = a.claim().await;
    let heard = tokio::spawn(read_events(open_stream(&b.url, &owner, false).await, 1));
    let started = a.start_device("devauth-cli", "through a").await;
    assert_eq!(
        a.approve(&owner, &s(&started["user_code"]), "acme")
            .await
            .status,
        200
    );
    let issued = a.poll(&s(&started["device_code"]), "devauth-cli").await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let events = heard.await.unwrap_or_default();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "device.signed_in");
    assert_eq!(events[0].1["device_name"], "through a");
    b.stop().await;
    a.stop().await;
}
