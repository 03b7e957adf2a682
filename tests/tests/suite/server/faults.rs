//! Faults: the server process killed with SIGKILL in the middle of a storm
//! of device flows and token creations, then started again on the same
//! database.

use devauth_harness::process::ServerProcess;
use devauth_harness::remote::Remote;
use devauth_harness::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

devauth_harness::on_both_backends!(
    a_killed_server_keeps_every_token_it_gave_and_redeems_nothing_twice
);

/// What the clients of the storm were given before the server died.
#[derive(Default)]
struct Received {
    /// Every token secret a client received (created or redeemed).
    tokens: Vec<String>,
    /// Every device code a client redeemed.
    redeemed: Vec<String>,
}

/// One client: create a token, run a device flow, again, until the server
/// stops answering.
async fn storm(remote: Remote, owner: String, worker: usize, got: Arc<Mutex<Received>>) {
    for round in 0.. {
        let name = format!("storm {worker}-{round}");
        let Ok(created) = remote
            .post_json(
                "/api/tokens",
                Some(&owner),
                &serde_json::json!({"name": name}),
            )
            .await
        else {
            return;
        };
        if created.status == 201 {
            let secret = created.text("token");
            got.lock().expect("the list").tokens.push(secret);
        }
        let Ok(started) = remote.start_device("devauth-cli", &name).await else {
            return;
        };
        let (device_code, user_code) = (started.text("device_code"), started.text("user_code"));
        let approve = serde_json::json!({"user_code": user_code, "org": "acme"});
        if remote
            .post_json("/api/device/approve", Some(&owner), &approve)
            .await
            .is_err()
        {
            return;
        }
        let Ok(redeemed) = remote.poll(&device_code, "devauth-cli", None).await else {
            return;
        };
        if redeemed.status == 200 {
            let mut got = got.lock().expect("the list");
            got.tokens.push(redeemed.text("access_token"));
            got.redeemed.push(device_code);
        }
    }
}

async fn a_killed_server_keeps_every_token_it_gave_and_redeems_nothing_twice(backend: Backend) {
    let (database_url, _dir) = fresh_database(backend).await;
    let env = [
        ("DEVAUTH_SETUP_TOKEN", SETUP_TOKEN),
        ("DEVAUTH_DEVICE_STARTS_PER_MINUTE", "0"),
    ];
    let server = ServerProcess::start(&database_url, &env);
    let claim = claim_body(SETUP_TOKEN, OWNER_EMAIL, "Ada", PASSWORD);
    let claimed = server
        .remote
        .post_json("/api/setup/claim", None, &claim)
        .await
        .expect("the claim");
    assert_eq!(claimed.status, 201, "{}", claimed.summary());
    let owner = claimed.text("token");
    let got = Arc::new(Mutex::new(Received::default()));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            tokio::spawn(storm(
                server.remote.clone(),
                owner.clone(),
                worker,
                got.clone(),
            ))
        })
        .collect();
    // Kill it while the storm is at full strength.
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().expect("the list").redeemed.len() < 40 {
        assert!(Instant::now() < deadline, "the storm got going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = server.kill();
    assert!(!killed.status.success(), "killed, not stopped");
    for worker in workers {
        worker.await.expect("a storm client ends");
    }
    let got = std::mem::take(&mut *got.lock().expect("the list"));

    let again = ServerProcess::start(&database_url, &env);
    for token in &got.tokens {
        let me = again.remote.get("/me", Some(token)).await.expect("/me");
        assert_eq!(
            me.status,
            200,
            "a token given before the kill: {}",
            me.summary()
        );
    }
    for code in &got.redeemed {
        let poll = again
            .remote
            .poll(code, "devauth-cli", None)
            .await
            .expect("a poll");
        assert_ne!(poll.status, 200, "a device code redeemed twice");
    }
    // No half-written rows: every redeemed authorization names a token that
    // exists, and (SQLite) the file is sound.
    let orphans: i64 = side_scalar(
        backend,
        &database_url,
        "SELECT count(*) FROM device_authorizations d \
         WHERE d.status = 'redeemed' AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.id = d.token_id)",
    )
    .await;
    assert_eq!(orphans, 0);
    if backend == Backend::Sqlite {
        let sound: String = side_scalar(backend, &database_url, "PRAGMA integrity_check").await;
        assert_eq!(sound, "ok");
    }
    let _ = again.stop();
}

/// Two replicas on PostgreSQL; the one holding a client's long poll is
/// killed. The client, retrying through the other (as a load balancer would
/// send it), gets its token the moment someone approves there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_survives_the_death_of_its_replica() {
    if !available(Backend::Postgres) {
        return;
    }
    let (database_url, _dir) = fresh_database(Backend::Postgres).await;
    let env = [("DEVAUTH_SETUP_TOKEN", SETUP_TOKEN)];
    let a = ServerProcess::start(&database_url, &env);
    let b = ServerProcess::start(&database_url, &env);
    let claim = claim_body(SETUP_TOKEN, OWNER_EMAIL, "Ada", PASSWORD);
    let owner = b
        .remote
        .post_json("/api/setup/claim", None, &claim)
        .await
        .expect("the claim")
        .text("token");
    let started = a
        .remote
        .start_device("devauth-cli", "laptop")
        .await
        .expect("a device authorization");
    let (device_code, user_code) = (started.text("device_code"), started.text("user_code"));
    let held = {
        let (remote, code) = (a.remote.clone(), device_code.clone());
        tokio::spawn(async move { remote.poll(&code, "devauth-cli", Some(30)).await })
    };
    // Held on A (its poll has not answered), then A dies under it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!held.is_finished(), "the poll is held");
    let _ = a.kill();
    assert!(
        held.await.expect("the poll task").is_err(),
        "the held poll lost its connection"
    );
    // A client waits its interval before polling again; the servers' clock
    // cannot be moved, so the last poll is moved back by a minute instead.
    side_execute(
        Backend::Postgres,
        &database_url,
        "UPDATE device_authorizations SET last_poll_at = last_poll_at - 60",
    )
    .await;
    // The client polls again through B, held there, and B approves.
    let retry = {
        let (remote, code) = (b.remote.clone(), device_code.clone());
        tokio::spawn(async move { remote.poll(&code, "devauth-cli", Some(30)).await })
    };
    let approve = serde_json::json!({"user_code": user_code, "org": "acme"});
    let approved = b
        .remote
        .post_json("/api/device/approve", Some(&owner), &approve)
        .await
        .expect("the approval");
    assert_eq!(approved.status, 200, "{}", approved.summary());
    let answer = retry
        .await
        .expect("the poll task")
        .expect("the retried poll answers");
    assert_eq!(answer.status, 200, "{}", answer.summary());
    let token = answer.text("access_token");
    assert_eq!(
        b.remote.get("/me", Some(&token)).await.expect("/me").status,
        200
    );
    let _ = b.stop();
}

/// PostgreSQL stopped for a while under a running server (a cluster of the
/// test's own): requests are answered 503 with `Retry-After`, none hangs, no
/// revoked token is let in meanwhile, and the server recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_answered_503_and_recovered_from() {
    use devauth_harness::pg_cluster::PgCluster;
    if !available(Backend::Postgres) || !PgCluster::available() {
        return;
    }
    let cluster = PgCluster::start();
    let env = [
        ("DEVAUTH_SETUP_TOKEN", SETUP_TOKEN),
        ("DEVAUTH_DEVICE_STARTS_PER_MINUTE", "0"),
        ("RUST_LOG", "warn"),
    ];
    let server = ServerProcess::start(&cluster.url(), &env);
    let remote = &server.remote;
    let claim = claim_body(SETUP_TOKEN, OWNER_EMAIL, "Ada", PASSWORD);
    let owner = remote
        .post_json("/api/setup/claim", None, &claim)
        .await
        .expect("the claim")
        .text("token");
    let victim = remote
        .post_json(
            "/api/tokens",
            Some(&owner),
            &serde_json::json!({"name": "victim"}),
        )
        .await
        .expect("a token");
    let victim_id = victim.body["info"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let victim = victim.text("token");
    assert_eq!(
        remote.get("/me", Some(&victim)).await.expect("/me").status,
        200
    );
    let revoked = remote
        .delete(&format!("/api/tokens/{victim_id}"), &owner)
        .await
        .expect("the revocation");
    assert_eq!(revoked.status, 200);

    cluster.pause();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client");
    let me = async |token: &str| {
        http.get(format!("{}/me", server.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("answered, not hung")
    };
    // The revoked token is never let in; the valid one may be served from
    // the cache until the server notices its LISTEN connection is gone, then
    // every request needs the database: 503. The heartbeat notices within
    // 15 s (10 s apart, 5 s to answer); the rest is slack for a busy machine.
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        assert_ne!(
            me(&victim).await.status().as_u16(),
            200,
            "a revoked token let in"
        );
        if me(&owner).await.status().as_u16() == 503 {
            break;
        }
        assert!(Instant::now() < deadline, "the outage is noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..5 {
        assert_ne!(
            me(&victim).await.status().as_u16(),
            200,
            "a revoked token let in"
        );
        let answer = me(&owner).await;
        assert_eq!(answer.status().as_u16(), 503);
        assert_eq!(
            answer
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("5")
        );
        let body: serde_json::Value = answer.json().await.expect("a JSON error");
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    let ready = http
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        ready.status().as_u16(),
        503,
        "not ready without its database"
    );

    cluster.resume();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let me = remote.get("/me", Some(&owner)).await.expect("/me");
        if me.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "recovered: {}", me.summary());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        remote.get("/me", Some(&victim)).await.expect("/me").status,
        401
    );
    let stopped = server.stop();
    assert!(!stopped.log.contains("panicked"), "{}", stopped.log);
}
