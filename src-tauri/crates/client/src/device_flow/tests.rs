use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::discovery::ServerUrl;
use crate::transport::fake::FakeTransport;

const TOKEN: &str = r#"{"access_token":"dva_0011","token_type":"Bearer","expires_in":7776000}"#;
const PENDING: &str = r#"{"error":"authorization_pending"}"#;

fn endpoints(scopes: &[&str]) -> Endpoints {
    let server = ServerUrl::parse("http://127.0.0.1:8750", false).unwrap();
    Endpoints {
        device_authorization: server.join("oauth/device_authorization").unwrap(),
        token: server.join("oauth/token").unwrap(),
        revocation: Some(server.join("oauth/revoke").unwrap()),
        scopes_supported: scopes.iter().map(|s| s.to_string()).collect(),
        metadata_url: server
            .join(".well-known/oauth-authorization-server")
            .unwrap(),
        server,
    }
}

fn device_response(expires_in: u64, interval: Option<u64>) -> String {
    let mut v = serde_json::json!({
        "device_code": "dc-secret-123",
        "user_code": "BCDF-GHJK",
        "verification_uri": "http://127.0.0.1:8750/device",
        "verification_uri_complete": "http://127.0.0.1:8750/device?user_code=BCDF-GHJK",
        "expires_in": expires_in,
    });
    if let Some(i) = interval {
        v["interval"] = i.into();
    }
    v.to_string()
}

struct Harness {
    fake: FakeTransport,
    clock: ManualClock,
    flow: DeviceFlow,
}

fn harness(scopes: &[&str]) -> Harness {
    let clock = ManualClock::default();
    let fake = FakeTransport::new().with_clock(clock.clone());
    let flow = DeviceFlow::new(
        Arc::new(fake.clone()),
        Arc::new(clock.clone()),
        endpoints(scopes),
        CLI_CLIENT_ID,
    );
    Harness { fake, clock, flow }
}

impl Harness {
    async fn start(&self, expires_in: u64, interval: Option<u64>) -> DeviceAuthorization {
        self.fake
            .respond(200, &device_response(expires_in, interval));
        let req = StartRequest {
            device_name: Some("devauth CLI on testbox".into()),
            scopes: self.flow.endpoints().default_scopes(),
            org: None,
        };
        self.flow.start(&req).await.unwrap()
    }

    async fn poll(
        &self,
        auth: &DeviceAuthorization,
    ) -> (Result<IssuedToken, DeviceFlowError>, Vec<PollEvent>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let result = self
            .flow
            .poll(auth, std::future::pending(), move |e| {
                sink.lock().unwrap().push(e.clone())
            })
            .await;
        let events = events.lock().unwrap().clone();
        (result, events)
    }

    fn sleeps(&self) -> Vec<u64> {
        self.clock.sleeps().iter().map(|d| d.as_secs()).collect()
    }
}

#[tokio::test]
async fn start_sends_client_and_device_name_without_scope() {
    let h = harness(&[]);
    let auth = h.start(600, None).await;
    assert_eq!(auth.user_code(), "BCDF-GHJK");
    assert_eq!(auth.verification_uri(), "http://127.0.0.1:8750/device");
    assert_eq!(
        auth.browser_url(),
        "http://127.0.0.1:8750/device?user_code=BCDF-GHJK"
    );
    assert_eq!(auth.interval(), DEFAULT_INTERVAL, "no interval means 5 s");
    assert_eq!(auth.expires_in(), Duration::from_secs(600));
    let req = &h.fake.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.url, "http://127.0.0.1:8750/oauth/device_authorization");
    assert_eq!(req.form_value("client_id").as_deref(), Some("devauth-cli"));
    assert_eq!(
        req.form_value("device_name").as_deref(),
        Some("devauth CLI on testbox")
    );
    assert_eq!(req.form_value("scope"), None);
}

#[tokio::test]
async fn start_sends_openid_when_the_server_lists_it() {
    let h = harness(&["openid", "profile"]);
    h.start(600, Some(5)).await;
    assert_eq!(
        h.fake.requests()[0].form_value("scope").as_deref(),
        Some("openid")
    );
}

#[tokio::test]
async fn start_maps_invalid_client() {
    let h = harness(&[]);
    h.fake.respond(
        401,
        r#"{"error":"invalid_client","error_description":"unknown client"}"#,
    );
    let err = h.flow.start(&StartRequest::default()).await.unwrap_err();
    assert!(
        matches!(err, DeviceFlowError::InvalidClient { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("devauth-cli") && msg.contains("unknown client"),
        "{msg}"
    );
}

#[tokio::test]
async fn start_reports_unreachable_server() {
    let h = harness(&[]);
    h.fake.fail("connection refused");
    let err = h.flow.start(&StartRequest::default()).await.unwrap_err();
    assert!(matches!(err, DeviceFlowError::Network(_)), "{err:?}");
}

#[tokio::test]
async fn authorization_debug_hides_codes() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    let shown = format!("{auth:?}");
    assert!(!shown.contains("dc-secret-123"), "{shown}");
    assert!(!shown.contains("BCDF"), "{shown}");
}

#[tokio::test]
async fn polls_at_the_interval_until_approved() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake
        .respond(400, PENDING)
        .respond(400, PENDING)
        .respond(200, TOKEN);
    let (result, events) = h.poll(&auth).await;
    let token = result.unwrap();
    assert_eq!(token.access_token.expose(), "dva_0011");
    assert_eq!(token.expires_in, Some(Duration::from_secs(7_776_000)));
    assert_eq!(h.sleeps(), [5, 5]);
    assert_eq!(events, [PollEvent::Pending, PollEvent::Pending]);
    let polls = &h.fake.requests()[1..];
    assert_eq!(polls.len(), 3);
    for p in polls {
        assert_eq!(p.url, "http://127.0.0.1:8750/oauth/token");
        assert_eq!(
            p.form_value("grant_type").as_deref(),
            Some("urn:ietf:params:oauth:grant-type:device_code")
        );
        assert_eq!(
            p.form_value("device_code").as_deref(),
            Some("dc-secret-123")
        );
        assert_eq!(p.form_value("client_id").as_deref(), Some("devauth-cli"));
    }
}

#[tokio::test]
async fn slow_down_adds_five_seconds_and_keeps_them() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake
        .respond(400, PENDING)
        .respond(400, r#"{"error":"slow_down"}"#)
        .respond(400, PENDING)
        .respond(400, PENDING)
        .respond(200, TOKEN);
    let (result, events) = h.poll(&auth).await;
    result.unwrap();
    assert_eq!(h.sleeps(), [5, 10, 10, 10]);
    assert!(events.contains(&PollEvent::SlowDown {
        interval: Duration::from_secs(10)
    }));
}

#[tokio::test]
async fn slow_down_uses_the_servers_new_interval() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake
        .respond(400, r#"{"error":"slow_down","interval":7}"#)
        .respond(400, PENDING)
        .respond(200, TOKEN);
    h.poll(&auth).await.0.unwrap();
    assert_eq!(h.sleeps(), [7, 7]);
}

#[tokio::test]
async fn http_200_with_error_body_keeps_polling() {
    let h = harness(&[]);
    let auth = h.start(600, None).await;
    h.fake.respond(200, PENDING).respond(200, TOKEN);
    let (result, events) = h.poll(&auth).await;
    result.unwrap();
    assert_eq!(events, [PollEvent::Pending]);
    assert_eq!(h.sleeps(), [5]);
}

#[tokio::test]
async fn denial_is_a_typed_error() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake
        .respond(400, PENDING)
        .respond(400, r#"{"error":"access_denied"}"#);
    let err = h.poll(&auth).await.0.unwrap_err();
    assert!(matches!(err, DeviceFlowError::Denied { .. }), "{err:?}");
    assert!(err.to_string().contains("Start sign-in again"));
}

#[tokio::test]
async fn server_side_expiry_and_redeemed_codes() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake.respond(400, r#"{"error":"expired_token"}"#);
    let err = h.poll(&auth).await.0.unwrap_err();
    assert!(matches!(err, DeviceFlowError::Expired { .. }), "{err:?}");

    let auth = h.start(600, Some(5)).await;
    h.fake.respond(400, r#"{"error":"invalid_grant"}"#);
    let err = h.poll(&auth).await.0.unwrap_err();
    assert!(
        matches!(err, DeviceFlowError::InvalidGrant { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn gives_up_when_the_code_expires_on_our_clock() {
    let h = harness(&[]);
    let auth = h.start(12, Some(5)).await;
    // Polls at t = 0, 5 and 10; at t = 15 the code is past its 12 s life.
    h.fake
        .respond(400, PENDING)
        .respond(400, PENDING)
        .respond(400, PENDING);
    let err = h.poll(&auth).await.0.unwrap_err();
    assert!(matches!(err, DeviceFlowError::Expired { .. }), "{err:?}");
    assert_eq!(h.fake.requests().len(), 1 + 3);
    assert_eq!(h.sleeps(), [5, 5, 5]);
}

#[tokio::test]
async fn network_errors_back_off_and_recover() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake
        .fail("connection reset")
        .respond(400, PENDING)
        .respond(200, TOKEN);
    let (result, events) = h.poll(&auth).await;
    result.unwrap();
    assert!(
        matches!(events[0], PollEvent::Retrying { .. }),
        "{events:?}"
    );
    // Back-off after the failure (oauth2 doubles, capped at 10 s), then back to 5 s.
    assert_eq!(h.sleeps(), [10, 5]);
}

#[tokio::test]
async fn expiry_while_unreachable_is_reported_as_a_network_error() {
    let h = harness(&[]);
    let auth = h.start(15, Some(5)).await;
    h.fake.fail("connection refused").fail("connection refused");
    let err = h.poll(&auth).await.0.unwrap_err();
    assert!(matches!(err, DeviceFlowError::Network(_)), "{err:?}");
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test]
async fn cancel_stops_polling() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake.respond(400, PENDING).hang();
    let notify = Arc::new(tokio::sync::Notify::new());
    let on_event = {
        let notify = notify.clone();
        move |_: &PollEvent| notify.notify_one()
    };
    let err = h
        .flow
        .poll(&auth, notify.notified(), on_event)
        .await
        .unwrap_err();
    assert!(matches!(err, DeviceFlowError::Cancelled), "{err:?}");
    assert_eq!(h.fake.requests().len(), 1 + 2);
}

#[tokio::test]
async fn malformed_token_response_never_echoes_the_token() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake
        .respond(200, r#"{"access_token":"dva_leakme","token_type":42}"#);
    let err = h.poll(&auth).await.0.unwrap_err();
    assert!(matches!(err, DeviceFlowError::Protocol(_)), "{err:?}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("leakme"), "{shown}");
    }
}

const APPLIED: &[(&str, &str)] = &[("preference-applied", "wait=25")];

#[tokio::test]
async fn polls_ask_the_server_to_hold_and_repoll_at_once_when_it_does() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake
        .respond_held(400, PENDING, APPLIED, Duration::from_secs(25))
        .respond_held(400, PENDING, APPLIED, Duration::from_secs(25))
        .respond_held(200, TOKEN, APPLIED, Duration::from_secs(3));
    let (result, events) = h.poll(&auth).await;
    assert_eq!(result.unwrap().access_token.expose(), "dva_0011");
    assert_eq!(events, [PollEvent::Pending, PollEvent::Pending]);
    assert_eq!(
        h.sleeps(),
        [0, 0],
        "a held pending poll is followed at once"
    );
    let requests = h.fake.requests();
    assert_eq!(
        requests[0].header("prefer"),
        None,
        "only token polls ask to be held"
    );
    for poll in &requests[1..] {
        assert_eq!(poll.header("prefer").as_deref(), Some("wait=25"));
    }
}

#[tokio::test]
async fn a_server_that_ignores_prefer_is_polled_at_the_interval() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake
        .respond(400, PENDING)
        .respond(400, PENDING)
        .respond(200, TOKEN);
    h.poll(&auth).await.0.unwrap();
    assert_eq!(h.sleeps(), [5, 5]);
    assert!(
        h.fake.requests()[1..]
            .iter()
            .all(|p| p.header("prefer").as_deref() == Some("wait=25"))
    );
}

#[tokio::test]
async fn a_short_hold_waits_out_the_rest_of_the_interval() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake
        .respond_held(400, PENDING, APPLIED, Duration::from_secs(2))
        .respond(200, TOKEN);
    h.poll(&auth).await.0.unwrap();
    // 5 s interval, 2 s already spent on the server, 1 s in hand for rounding.
    assert_eq!(h.sleeps(), [4]);
}

#[tokio::test]
async fn slow_down_still_applies_between_held_polls() {
    let h = harness(&[]);
    let auth = h.start(600, Some(5)).await;
    h.fake
        .respond_held(400, PENDING, APPLIED, Duration::from_secs(25))
        .respond(400, r#"{"error":"slow_down"}"#)
        .respond_held(400, PENDING, APPLIED, Duration::from_secs(25))
        .respond(400, PENDING)
        .respond(200, TOKEN);
    let (result, events) = h.poll(&auth).await;
    result.unwrap();
    assert!(events.contains(&PollEvent::SlowDown {
        interval: Duration::from_secs(10)
    }));
    // Held: at once; slow_down: the grown interval; held again: at once; a
    // plain pending (the server stopped holding): the grown interval, kept.
    assert_eq!(h.sleeps(), [0, 10, 0, 10]);
}

#[tokio::test]
async fn held_polls_still_stop_when_the_code_expires() {
    let h = harness(&[]);
    let auth = h.start(60, Some(5)).await;
    // Held from t = 0, 25 and 50; at t = 75 the 60 s code is gone.
    for _ in 0..3 {
        h.fake
            .respond_held(400, PENDING, APPLIED, Duration::from_secs(25));
    }
    let err = h.poll(&auth).await.0.unwrap_err();
    assert!(matches!(err, DeviceFlowError::Expired { .. }), "{err:?}");
    assert_eq!(h.fake.requests().len(), 1 + 3);
}

#[tokio::test]
async fn long_polling_can_be_turned_off() {
    let mut h = harness(&[]);
    h.flow = h.flow.clone().with_prefer_wait(None);
    let auth = h.start(600, Some(5)).await;
    h.fake.respond(400, PENDING).respond(200, TOKEN);
    h.poll(&auth).await.0.unwrap();
    assert!(
        h.fake
            .requests()
            .iter()
            .all(|r| r.header("prefer").is_none())
    );
    assert_eq!(h.sleeps(), [5]);
}

#[test]
fn device_name_names_the_app_and_host() {
    let name = device_name("devauth CLI");
    assert!(name.starts_with("devauth CLI on "), "{name}");
    assert!(name.chars().count() <= 64);
}
