use std::sync::Arc;

use async_trait::async_trait;

use super::*;
use crate::clock::ManualClock;
use crate::config::tests::TempDir;
use crate::device_flow::DeviceFlowError;
use crate::token_store::{StoreError, pending_account, pending_revocations};
use crate::transport::fake::FakeTransport;

const SERVER: &str = "http://127.0.0.1:8750";

const METADATA: &str = r#"{
    "issuer": "http://127.0.0.1:8750",
    "device_authorization_endpoint": "http://127.0.0.1:8750/oauth/device_authorization",
    "token_endpoint": "http://127.0.0.1:8750/oauth/token",
    "revocation_endpoint": "http://127.0.0.1:8750/oauth/revoke",
    "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code"]
}"#;

const DEVICE: &str = r#"{"device_code":"dc-1","user_code":"BCDF-GHJK",
    "verification_uri":"http://127.0.0.1:8750/device",
    "verification_uri_complete":"http://127.0.0.1:8750/device?user_code=BCDF-GHJK",
    "expires_in":600,"interval":5}"#;

const TOKEN: &str = r#"{"access_token":"dva_new","token_type":"Bearer","expires_in":7776000}"#;

/// A `/me` answer, built from the wire contract itself.
fn me(org: &str, expires_at: &str) -> String {
    let me = devauth_proto::Me {
        user: Some(devauth_proto::UserRef {
            id: "u1".into(),
            email: "ada@example.com".into(),
            name: "Ada".into(),
        }),
        org: devauth_proto::OrgRef {
            id: "o1".into(),
            slug: org.to_string().into(),
            name: "Acme".into(),
        },
        role: "member".into(),
        scopes: Vec::new().into(),
        token: devauth_proto::MeToken {
            id: "t1".into(),
            name: "devauth CLI on box".into(),
            kind: devauth_proto::TokenKind::Device,
            hint: "dva_1234…abcd".into(),
            created_at: "2023-11-14T22:13:20Z".into(),
            expires_at: Some(expires_at.to_string()),
        },
    };
    serde_json::to_string(&me).unwrap()
}

/// 2023-11-14T22:13:20Z, the ManualClock's default start, plus 90 days.
const IN_90_DAYS: &str = "2024-02-12T22:13:20Z";

struct World {
    _dir: TempDir,
    fake: FakeTransport,
    store: Arc<KeyringStore>,
    client: Client,
}

fn world_with(env_token: Option<&str>, store: Option<Arc<dyn TokenStore>>) -> World {
    let dir = TempDir::new();
    let env = Env {
        config_dir: Some(dir.path().join("cfg")),
        server: None,
        token: env_token.map(Secret::new),
    };
    let fake = FakeTransport::new();
    let mock = Arc::new(KeyringStore::with_store(
        keyring_core::mock::Store::new().unwrap(),
    ));
    let client = Client::new(Options::cli(env))
        .unwrap()
        .with_transport(Arc::new(fake.clone()))
        .with_clock(Arc::new(ManualClock::default()))
        .with_token_store(store.unwrap_or_else(|| mock.clone()));
    World {
        _dir: dir,
        fake,
        store: mock,
        client,
    }
}

fn world() -> World {
    world_with(None, None)
}

impl World {
    async fn stored(&self) -> Option<String> {
        self.store
            .get(SERVER)
            .await
            .unwrap()
            .map(|s| s.expose().to_string())
    }

    async fn sign_in(&self) -> SignedIn {
        self.fake
            .respond(200, METADATA)
            .respond(200, DEVICE)
            .respond(400, r#"{"error":"authorization_pending"}"#)
            .respond(200, TOKEN)
            .respond(200, &me("acme", IN_90_DAYS));
        let pending = self
            .client
            .begin_login(&LoginRequest::default())
            .await
            .unwrap();
        self.client
            .finish_login(pending, std::future::pending(), |_| {})
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn device_login_stores_the_token_and_records_the_account() {
    let w = world();
    let signed_in = w.sign_in().await;
    assert_eq!(
        signed_in.summary(),
        "Signed in as Ada <ada@example.com> in org acme; token expires in 90 days"
    );
    assert_eq!(w.stored().await.as_deref(), Some("dva_new"));
    let config = w.client.config().unwrap();
    assert_eq!(config.server.as_deref(), Some(SERVER));
    let account = config.accounts.get(SERVER).unwrap();
    assert!(account.signed_in);
    assert_eq!(account.org.as_deref(), Some("acme"));
    assert_eq!(account.token_id.as_deref(), Some("t1"));
    assert_eq!(account.token_expires_at.as_deref(), Some(IN_90_DAYS));
    let text = std::fs::read_to_string(w.client.config_file().path()).unwrap();
    assert!(
        !text.contains("dva_new"),
        "no token in the config file: {text}"
    );
    let device_req = &w.fake.requests()[1];
    assert_eq!(
        device_req.form_value("client_id").as_deref(),
        Some("devauth-cli")
    );
    assert!(
        device_req
            .form_value("device_name")
            .unwrap()
            .starts_with("devauth CLI on ")
    );
}

struct BrokenStore;

#[async_trait]
impl TokenStore for BrokenStore {
    async fn get(&self, _: &str) -> Result<Option<Secret>, StoreError> {
        Err(StoreError::KeychainLocked {
            reason: "locked".into(),
        })
    }
    async fn set(&self, _: &str, _: &Secret) -> Result<(), StoreError> {
        Err(StoreError::KeychainLocked {
            reason: "locked".into(),
        })
    }
    async fn delete(&self, _: &str) -> Result<bool, StoreError> {
        Err(StoreError::KeychainLocked {
            reason: "locked".into(),
        })
    }
    async fn probe(&self) -> Result<(), StoreError> {
        Err(StoreError::KeychainLocked {
            reason: "locked".into(),
        })
    }
    fn describe(&self) -> String {
        "broken keychain".into()
    }
    fn kind(&self) -> StorageKind {
        StorageKind::Keychain
    }
}

#[tokio::test]
async fn an_unusable_keychain_stops_login_before_any_code_is_shown() {
    let w = world_with(None, Some(Arc::new(BrokenStore)));
    let err = w
        .client
        .begin_login(&LoginRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert!(
        w.fake.requests().is_empty(),
        "no request may reach the server"
    );
}

#[tokio::test]
async fn approval_for_the_wrong_org_revokes_the_new_token() {
    let w = world();
    w.fake
        .respond(200, METADATA)
        .respond(200, DEVICE)
        .respond(200, TOKEN)
        .respond(200, &me("other", IN_90_DAYS))
        .respond(200, "");
    let request = LoginRequest {
        org: Some("acme".into()),
        scopes: None,
    };
    let pending = w.client.begin_login(&request).await.unwrap();
    let err = w
        .client
        .finish_login(pending, std::future::pending(), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongOrg { .. }), "{err}");
    let revoke = w.fake.requests().last().cloned().unwrap();
    assert_eq!(revoke.url, "http://127.0.0.1:8750/oauth/revoke");
    assert_eq!(revoke.form_value("token").as_deref(), Some("dva_new"));
    assert_eq!(w.stored().await, None);
}

#[tokio::test]
async fn a_denied_request_stores_nothing() {
    let w = world();
    w.fake
        .respond(200, METADATA)
        .respond(200, DEVICE)
        .respond(400, r#"{"error":"access_denied"}"#);
    let pending = w
        .client
        .begin_login(&LoginRequest::default())
        .await
        .unwrap();
    let err = w
        .client
        .finish_login(pending, std::future::pending(), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::DeviceFlow(DeviceFlowError::Denied { .. })
    ));
    assert_eq!(err.exit_code(), 5);
    assert_eq!(w.stored().await, None);
}

#[tokio::test]
async fn with_token_validates_before_storing() {
    let w = world();
    w.fake.respond(401, r#"{"error":"invalid_token"}"#);
    let err = w
        .client
        .login_with_token(Secret::new("dva_bad\n"), None)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert_eq!(w.stored().await, None);

    w.fake.respond(200, &me("acme", IN_90_DAYS));
    let ok = w
        .client
        .login_with_token(Secret::new("dva_good\n"), Some("acme"))
        .await
        .unwrap();
    assert!(ok.summary().starts_with("Signed in as Ada"));
    assert_eq!(w.stored().await.as_deref(), Some("dva_good"));
    assert_eq!(
        w.fake.requests()[1].header("authorization").as_deref(),
        Some("Bearer dva_good")
    );
}

#[tokio::test]
async fn status_reports_signed_out_signed_in_and_revoked() {
    let w = world();
    let s = w.client.status().await.unwrap();
    assert_eq!((s.state, s.exit_code()), (AuthState::SignedOut, 1));

    w.sign_in().await;
    w.fake.respond(200, &me("acme", IN_90_DAYS));
    let s = w.client.status().await.unwrap();
    assert_eq!((s.state, s.exit_code()), (AuthState::SignedIn, 0));
    assert_eq!(s.expires.as_deref(), Some("expires in 90 days"));
    assert_eq!(s.token_source, Some(TokenSource::Keychain));
    let json = serde_json::to_string(&s).unwrap();
    assert!(!json.contains("dva_new"), "{json}");

    w.fake.respond(401, "{}");
    let s = w.client.status().await.unwrap();
    assert_eq!((s.state, s.exit_code()), (AuthState::Revoked, 1));

    w.fake.fail("connection refused");
    let s = w.client.status().await.unwrap();
    assert_eq!((s.state, s.exit_code()), (AuthState::Unknown, 3));
    assert_eq!(
        s.user.and_then(|u| u.email).as_deref(),
        Some("ada@example.com")
    );
}

#[tokio::test]
async fn a_token_known_to_be_expired_is_not_sent() {
    let w = world();
    w.sign_in().await;
    w.client
        .update_config(|c| {
            c.accounts.get_mut(SERVER).unwrap().token_expires_at =
                Some("2020-01-01T00:00:00Z".into())
        })
        .unwrap();
    let before = w.fake.requests().len();
    let s = w.client.status().await.unwrap();
    assert_eq!(s.state, AuthState::Expired);
    let err = w.client.current_token().await.unwrap_err();
    assert!(matches!(err, Error::TokenExpired { .. }), "{err}");
    assert_eq!(w.fake.requests().len(), before);
}

#[tokio::test]
async fn env_token_is_used_and_never_stored() {
    let w = world_with(Some("dva_from_env"), Some(Arc::new(BrokenStore)));
    w.fake.respond(200, &me("acme", IN_90_DAYS));
    let s = w.client.status().await.unwrap();
    assert_eq!(
        (s.state, s.token_source),
        (AuthState::SignedIn, Some(TokenSource::Env))
    );
    let (token, source) = w.client.current_token().await.unwrap();
    assert_eq!((token.expose(), source), ("dva_from_env", TokenSource::Env));
    assert!(matches!(
        w.client.logout().await.unwrap_err(),
        Error::TokenFromEnv
    ));
    assert!(!w.client.config_file().path().exists());
}

#[tokio::test]
async fn logout_revokes_then_forgets() {
    let w = world();
    w.sign_in().await;
    w.fake.respond(200, METADATA).respond(200, "");
    assert_eq!(w.client.logout().await.unwrap(), SignOut::Revoked);
    let revoke = w.fake.requests().last().cloned().unwrap();
    assert_eq!(revoke.form_value("token").as_deref(), Some("dva_new"));
    assert_eq!(w.stored().await, None);
    assert!(!w.client.config().unwrap().accounts.contains_key(SERVER));
    assert_eq!(w.client.logout().await.unwrap(), SignOut::NotSignedIn);
}

#[tokio::test]
async fn offline_logout_forgets_locally_and_revokes_on_a_later_run() {
    let w = world();
    w.sign_in().await;
    w.fake.fail("connection refused");
    let outcome = w.client.logout().await.unwrap();
    assert!(
        matches!(outcome, SignOut::RevocationPending { .. }),
        "{outcome:?}"
    );
    assert_eq!(w.stored().await, None);
    let server = ServerUrl::parse(SERVER, false).unwrap();
    let pending = pending_revocations(w.store.as_ref(), &server)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert!(w.client.config().unwrap().accounts[SERVER].pending_revocation);
    let text = std::fs::read_to_string(w.client.config_file().path()).unwrap();
    assert!(!text.contains("dva_new"));
    let s = w.client.status().await.unwrap();
    assert!(s.pending_revocation && s.state == AuthState::SignedOut);

    // Still offline: nothing changes.
    w.fake.fail("connection refused");
    let reports = w.client.retry_pending_revocations().await;
    assert_eq!((reports[0].revoked, reports[0].remaining), (0, 1));

    // Back online: revoked, record gone.
    w.fake.respond(200, METADATA).respond(200, "");
    let reports = w.client.retry_pending_revocations().await;
    assert_eq!(
        (reports[0].revoked, reports[0].remaining),
        (1, 0),
        "{reports:?}"
    );
    let revoke = w.fake.requests().last().cloned().unwrap();
    assert_eq!(revoke.form_value("token").as_deref(), Some("dva_new"));
    assert!(
        w.store
            .get(&pending_account(&server))
            .await
            .unwrap()
            .is_none()
    );
    assert!(!w.client.config().unwrap().accounts.contains_key(SERVER));
    assert!(w.client.retry_pending_revocations().await.is_empty());
}

#[tokio::test]
async fn signing_in_again_revokes_the_previous_device_token() {
    let w = world();
    w.sign_in().await;
    w.fake
        .respond(200, METADATA)
        .respond(200, DEVICE)
        .respond(
            200,
            r#"{"access_token":"dva_second","token_type":"Bearer"}"#,
        )
        .respond(200, &me("acme", IN_90_DAYS))
        .respond(200, "");
    let pending = w
        .client
        .begin_login(&LoginRequest::default())
        .await
        .unwrap();
    let signed_in = w
        .client
        .finish_login(pending, std::future::pending(), |_| {})
        .await
        .unwrap();
    assert_eq!(w.stored().await.as_deref(), Some("dva_second"));
    let revoke = w.fake.requests().last().cloned().unwrap();
    assert_eq!(revoke.form_value("token").as_deref(), Some("dva_new"));
    assert!(signed_in.notes.iter().any(|n| n.contains("previous")));
}

#[tokio::test]
async fn replacing_a_personal_token_forgets_it_without_revoking_it() {
    let w = world();
    let mut personal: serde_json::Value = serde_json::from_str(&me("acme", IN_90_DAYS)).unwrap();
    personal["token"]["kind"] = "personal".into();
    w.fake.respond(200, &personal.to_string());
    w.client
        .login_with_token(Secret::new("dva_personal"), None)
        .await
        .unwrap();
    w.fake.respond(200, &me("acme", IN_90_DAYS));
    let signed_in = w
        .client
        .login_with_token(Secret::new("dva_other"), None)
        .await
        .unwrap();
    assert_eq!(w.stored().await.as_deref(), Some("dva_other"));
    assert_eq!(w.fake.requests().len(), 2, "two /me, no revocation");
    assert!(
        signed_in.notes.iter().any(|n| n.contains("personal token")
            && n.contains("not revoked")
            && n.contains("devauth tokens revoke t1")),
        "{:?}",
        signed_in.notes
    );
}

#[tokio::test]
async fn stored_status_looks_past_devauth_token() {
    let w = world_with(Some("dva_from_env"), None);
    let status = w.client.stored_status().await.unwrap();
    assert_eq!(status.state, AuthState::SignedOut);
    assert!(w.fake.requests().is_empty(), "nothing to ask about");
    w.fake.respond(200, &me("acme", IN_90_DAYS));
    let status = w.client.status().await.unwrap();
    assert_eq!(
        (status.state, status.token_source),
        (AuthState::SignedIn, Some(TokenSource::Env))
    );
}

#[tokio::test]
async fn client_and_its_futures_can_move_between_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<F: std::future::Future + Send>(_: F) {}
    let w = world();
    send_sync(&w.client);
    send(w.client.status());
    send(w.client.logout());
    send(w.client.begin_login(&LoginRequest::default()));
    send(w.client.retry_pending_revocations());
    send(w.client.login_with_token(Secret::new("x"), None));
}
