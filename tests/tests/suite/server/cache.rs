//! The validation cache under lost signals: a change nobody announced (a
//! crash between commit and `NOTIFY`, a failed SQLite announcement) and a
//! `LISTEN` connection that dies.

use devauth_harness::*;
use devauth_server::Config;
use std::time::{Duration, Instant};

devauth_harness::on_both_backends!(a_change_nobody_announced_applies_within_the_cache_max_age);

/// Revokes token `id` in the database behind the servers' backs: no counter
/// bump, no announcement, no `NOTIFY`.
async fn revoke_silently(srv: &TestServer, id: &str) {
    let now = devauth_server::clock::Clock::now(&srv.clock);
    let sql =
        format!("UPDATE tokens SET revoked_at = {now}, revoked_reason = 'x' WHERE id = '{id}'");
    side_execute(srv.backend, &srv.database_url, &sql).await;
}

/// Waits (bounded) until the server's cache is in use: on PostgreSQL, once
/// the LISTEN connection is up.
async fn wait_until_live(srv: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !srv.server.state.cache.is_live() {
        assert!(Instant::now() < deadline, "the listener comes up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_change_nobody_announced_applies_within_the_cache_max_age(backend: Backend) {
    let config = Config {
        cache_max_age_secs: 60,
        ..Config::default()
    };
    let srv = spawn_server_with(backend, config).await;
    srv.claim().await;
    let (token, id) = srv.mint(Some(OWNER_EMAIL), "acme", &[]).await;
    wait_until_live(&srv).await;
    assert_eq!(srv.get("/me", Some(&token)).await.status, 200);
    revoke_silently(&srv, &id).await;
    // Nobody said so: the cached validation still answers (this is the
    // window the maximum age bounds)...
    srv.clock.advance(59);
    assert_eq!(srv.get("/me", Some(&token)).await.status, 200);
    // ...and no longer than that.
    srv.clock.advance(1);
    assert_eq!(srv.get("/me", Some(&token)).await.status, 401);
    srv.stop().await;
}

/// A LISTEN connection killed under a replica: it reconnects, and what it may
/// have missed meanwhile is read from the database, not the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listen_connection_empties_the_cache() {
    use sqlx::Connection;
    if !available(Backend::Postgres) {
        return;
    }
    let srv = spawn_server(Backend::Postgres).await;
    srv.claim().await;
    let (token, id) = srv.mint(Some(OWNER_EMAIL), "acme", &[]).await;
    wait_until_live(&srv).await;
    assert_eq!(srv.get("/me", Some(&token)).await.status, 200);
    revoke_silently(&srv, &id).await;
    assert_eq!(srv.get("/me", Some(&token)).await.status, 200, "cached");
    let mut side = sqlx::PgConnection::connect(&srv.database_url)
        .await
        .expect("a side connection");
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(&mut side)
    .await
    .expect("terminating the LISTEN connection");
    assert_eq!(killed, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if srv.get("/me", Some(&token)).await.status == 401 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the revocation applies after the reconnect"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    srv.stop().await;
}
