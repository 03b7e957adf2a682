use std::sync::Arc;
use std::time::Duration;

use time::macros::datetime;

use super::*;
use crate::transport::fake::FakeTransport;

const ME: &str = r#"{
    "user": {"id": "u_1", "email": "ada@example.com", "name": "Ada"},
    "org": {"id": "o_7", "slug": "acme", "name": "Acme"},
    "role": "admin",
    "scopes": [],
    "token": {"id": "t_1", "name": "devauth CLI on box", "kind": "device", "hint": "dva_1234…abcd",
              "created_at": "2026-11-01T10:00:00Z", "expires_at": null}
}"#;

const INFO: &str = r#"{"id":"t_2","hint":"dva_aaaa…bbbb","name":"ci","kind":"personal","user_id":"u_1",
    "user_email":"ada@example.com","org_id":"o_7","org_slug":"acme","scopes":[],
    "created_at":"2026-11-01T10:00:00Z","expires_at":"2027-02-01T00:00:00Z","last_used_at":null,
    "last_used_ip":null,"revoked_at":null,"revoked_by":null,"revoked_reason":null,"state":"active"}"#;

fn client(fake: &FakeTransport) -> ApiClient {
    ApiClient::new(
        Arc::new(fake.clone()),
        ServerUrl::parse("http://127.0.0.1:8750", false).unwrap(),
        Secret::new("dva_secret"),
    )
}

#[tokio::test]
async fn me_sends_the_bearer_token_and_parses_the_contract() {
    let fake = FakeTransport::new();
    fake.respond(200, ME);
    let me = client(&fake).me().await.unwrap();
    let user = me.user.unwrap();
    assert_eq!(user.email, "ada@example.com");
    assert_eq!((me.org.id.as_ref(), me.org.slug.as_ref()), ("o_7", "acme"));
    assert_eq!(me.role, "admin");
    assert_eq!(me.token.expires_at, None);
    assert_eq!(
        Expiry::from_rfc3339(
            me.token.expires_at.as_deref(),
            datetime!(2026-11-02 0:00 UTC)
        ),
        Expiry::Never
    );
    let req = &fake.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.url.as_str()),
        ("GET", "http://127.0.0.1:8750/me")
    );
    assert_eq!(
        req.header("authorization").as_deref(),
        Some("Bearer dva_secret")
    );
}

/// `/me` is the devauth contract (devauth-proto): an answer that lacks a
/// field is a protocol error naming what was wrong, not a half-filled profile.
#[tokio::test]
async fn an_answer_outside_the_contract_is_a_protocol_error() {
    let fake = FakeTransport::new();
    fake.respond(200, r#"{"user":{"email":"x@y"},"extra":true}"#);
    let err = client(&fake).me().await.unwrap_err();
    assert!(matches!(err, ApiError::Protocol(_)), "{err:?}");
    assert!(err.to_string().contains("/me"), "{err}");
}

#[tokio::test]
async fn http_401_means_revoked_or_expired() {
    let fake = FakeTransport::new();
    fake.respond(401, r#"{"error":"invalid_token"}"#);
    let err = client(&fake).me().await.unwrap_err();
    assert!(matches!(err, ApiError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("Sign in again"));
}

#[tokio::test]
async fn other_statuses_map_to_their_kinds() {
    let fake = FakeTransport::new();
    fake.respond(
        403,
        r#"{"error":"forbidden","error_description":"admins only"}"#,
    )
    .respond(404, "")
    .respond(503, "{}")
    .respond(400, r#"{"message":"bad expires"}"#);
    let api = client(&fake);
    let e = api.list_tokens(true).await.unwrap_err();
    assert!(
        matches!(&e, ApiError::Forbidden { message } if message == "admins only"),
        "{e:?}"
    );
    assert!(matches!(
        api.revoke_token("t_9").await.unwrap_err(),
        ApiError::NotFound { .. }
    ));
    assert!(matches!(
        api.me().await.unwrap_err(),
        ApiError::Server { status: 503, .. }
    ));
    let e = api.list_tokens(false).await.unwrap_err();
    assert!(matches!(&e, ApiError::Rejected { status: 400, message } if message == "bad expires"));
    let urls: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url))
        .collect();
    assert_eq!(urls[0], "GET http://127.0.0.1:8750/api/tokens?scope=org");
    assert_eq!(urls[1], "DELETE http://127.0.0.1:8750/api/tokens/t_9");
}

#[tokio::test]
async fn unreachable_server() {
    let fake = FakeTransport::new();
    fake.fail("connection refused");
    let err = client(&fake).me().await.unwrap_err();
    assert!(matches!(err, ApiError::Network(_)));
}

#[tokio::test]
async fn create_token_sends_json_and_keeps_the_token_secret() {
    let fake = FakeTransport::new();
    fake.respond(201, &format!(r#"{{"token":"dva_fresh","info":{INFO}}}"#));
    let created = client(&fake)
        .create_token(&CreateToken {
            name: "ci".into(),
            expires: Some("90d".into()),
            scopes: devauth_proto::ScopeList::None,
            kind: Some(devauth_proto::TokenKind::Personal),
        })
        .await
        .unwrap();
    assert_eq!(created.token.expose(), "dva_fresh");
    assert_eq!(created.info.id, "t_2");
    assert!(!format!("{created:?}").contains("dva_fresh"));
    let req = &fake.requests()[0];
    assert_eq!(
        req.header("content-type").as_deref(),
        Some("application/json")
    );
    let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"name":"ci","expires":"90d","kind":"personal"})
    );
}

#[tokio::test]
async fn a_malformed_token_response_is_not_echoed() {
    let fake = FakeTransport::new();
    fake.respond(201, r#"{"token":"dva_leakme", "info": 5"#);
    let new = CreateToken {
        name: "x".into(),
        expires: Some("never".into()),
        scopes: parse_scope_args(&["tokens:read".into()]).unwrap(),
        kind: Some(devauth_proto::TokenKind::Personal),
    };
    let err = client(&fake).create_token(&new).await.unwrap_err();
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("leakme"), "{shown}");
    }
    let fake = FakeTransport::new();
    fake.respond(201, r#"{"token": 12345678}"#);
    let err = client(&fake).create_token(&new).await.unwrap_err();
    assert!(!err.to_string().contains("12345678"), "{err}");
}

#[tokio::test]
async fn rfc7009_revocation_form() {
    let fake = FakeTransport::new();
    fake.respond(200, "");
    let endpoint = Url::parse("http://127.0.0.1:8750/oauth/revoke").unwrap();
    revoke(&fake, &endpoint, "devauth-cli", &Secret::new("dva_gone"))
        .await
        .unwrap();
    let req = &fake.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.form_value("token").as_deref(), Some("dva_gone"));
    assert_eq!(
        req.form_value("token_type_hint").as_deref(),
        Some("access_token")
    );
    assert_eq!(req.form_value("client_id").as_deref(), Some("devauth-cli"));
    assert!(req.header("authorization").is_none());
}

#[test]
fn expiry_descriptions() {
    let now = datetime!(2026-11-23 12:00 UTC);
    let e = |s: Option<&str>| Expiry::from_rfc3339(s, now).describe();
    assert_eq!(e(Some("2027-02-21T12:00:00Z")), "expires in 90 days");
    assert_eq!(e(Some("2026-11-24T12:00:00+00:00")), "expires in 1 day");
    assert_eq!(e(Some("2026-11-23T15:00:00Z")), "expires in 3 hours");
    assert_eq!(e(Some("2026-11-23T11:00:00Z")), "has expired");
    assert_eq!(e(None), "never expires");
    assert_eq!(e(Some("next tuesday")), "expiry unknown");
    assert_eq!(
        Expiry::from_rfc3339(Some("2026-11-23T12:30:00Z"), now),
        Expiry::In(Duration::from_secs(1800))
    );
}

#[test]
fn expires_values() {
    for ok in ["30d", "90d", "365d", "never", "2027-01-31"] {
        assert!(valid_expires(ok), "{ok}");
    }
    for bad in ["7d", "forever", "2027-13-01", "31/01/2027", ""] {
        assert!(!valid_expires(bad), "{bad}");
    }
}

#[test]
fn distances_in_words() {
    let now = datetime!(2026-11-23 12:00 UTC);
    let ago = |secs: i64| distance(now - time::Duration::seconds(secs), now);
    assert_eq!(ago(0), "just now");
    assert_eq!(ago(1), "1 second ago");
    assert_eq!(ago(4), "4 seconds ago");
    assert_eq!(ago(90), "1 minute ago");
    assert_eq!(ago(5 * 60 + 10), "5 minutes ago");
    assert_eq!(ago(119 * 60), "119 minutes ago");
    assert_eq!(ago(2 * 3600), "2 hours ago");
    assert_eq!(ago(47 * 3600), "47 hours ago");
    assert_eq!(ago(12 * 86_400 + 5), "12 days ago");
    assert_eq!(
        distance(now + time::Duration::seconds(540), now),
        "in 9 minutes"
    );
}
