//! Retention: what has expired is deleted (on a schedule and on demand),
//! what is still in use is not, and audit events stay unless a retention is
//! set. Rows are counted in the database itself.

use devauth_harness::remote::Visitor;
use devauth_harness::*;
use devauth_server::Config;
use devauth_server::store::Purged;
use std::time::{Duration, Instant};

devauth_harness::on_both_backends!(
    purging_deletes_what_has_expired_and_keeps_the_rest,
    a_running_server_purges_on_its_schedule,
);

/// Rows in `table`, counted on a connection of the test's own.
async fn count(srv: &TestServer, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    side_scalar(srv.backend, &srv.database_url, &sql).await
}

/// A device authorization, a browser session and a rate limit window, all
/// made now.
async fn leave_traces(srv: &TestServer) {
    srv.start_device("devauth-cli", "old laptop").await;
    let mut visitor = Visitor::new(&srv.remote);
    visitor
        .sign_in(OWNER_EMAIL, PASSWORD)
        .await
        .expect("signs in");
    let mut stranger = Visitor::new(&srv.remote);
    assert!(
        stranger
            .sign_in(OWNER_EMAIL, "wrong password")
            .await
            .is_err()
    );
}

fn no_schedule() -> Config {
    Config {
        purge_interval: Duration::ZERO,
        ..Config::default()
    }
}

async fn purging_deletes_what_has_expired_and_keeps_the_rest(backend: Backend) {
    let srv = spawn_server_with(backend, no_schedule()).await;
    srv.claim().await;
    leave_traces(&srv).await;
    let (devices, sessions, limits) = (
        count(&srv, "device_authorizations").await,
        count(&srv, "sessions").await,
        count(&srv, "rate_limits").await,
    );
    assert!(
        devices >= 1 && sessions >= 1 && limits >= 1,
        "{devices} {sessions} {limits}"
    );
    let state = &srv.server.state;
    // Nothing has expired yet: nothing goes.
    assert_eq!(
        devauth_server::retention::purge(state)
            .await
            .expect("purges"),
        Purged::default()
    );
    // Two days on, with one fresh request that must stay.
    srv.clock.advance(2 * 86_400);
    let fresh = srv.start_device("devauth-cli", "new laptop").await;
    let audit_before = count(&srv, "audit_events").await;
    let purged = devauth_server::retention::purge(state)
        .await
        .expect("purges");
    assert_eq!(purged.devices, devices as u64);
    assert_eq!(purged.sessions, sessions as u64);
    assert_eq!(purged.limits, limits as u64);
    assert_eq!(purged.audit, 0, "audit events are kept by default");
    assert_eq!(count(&srv, "device_authorizations").await, 1);
    assert_eq!(count(&srv, "sessions").await, 0);
    assert_eq!(count(&srv, "rate_limits").await, 0);
    assert_eq!(count(&srv, "audit_events").await, audit_before);
    // The fresh request still works.
    let lookup = srv
        .remote
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                (
                    "device_code",
                    fresh["device_code"].as_str().unwrap_or_default(),
                ),
                ("client_id", "devauth-cli"),
            ],
            &[],
        )
        .await
        .expect("the token endpoint answers");
    assert_eq!(
        lookup.error(),
        "authorization_pending",
        "{}",
        lookup.summary()
    );
    // With a retention of one day, the audit events of two days ago go and
    // today's (the fresh request's) stay.
    use devauth_server::clock::Clock;
    let cutoffs = devauth_server::retention::cutoffs(srv.clock.now(), 1);
    let purged = state.store.purge(&cutoffs).await.expect("purges");
    let left = count(&srv, "audit_events").await;
    assert!(
        purged.audit > 0 && left >= 1,
        "purged {purged:?}, left {left}"
    );
    assert_eq!(purged.audit as i64 + left, audit_before);
    srv.stop().await;
}

async fn a_running_server_purges_on_its_schedule(backend: Backend) {
    let config = Config {
        purge_interval: Duration::from_millis(200),
        ..Config::default()
    };
    let srv = spawn_server_with(backend, config).await;
    srv.claim().await;
    leave_traces(&srv).await;
    assert!(count(&srv, "device_authorizations").await >= 1);
    srv.clock.advance(2 * 86_400);
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&srv, "device_authorizations").await > 0 || count(&srv, "sessions").await > 0 {
        assert!(Instant::now() < deadline, "the schedule purged nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    srv.stop().await;
}
