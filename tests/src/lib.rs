//! devauth-harness: what the end-to-end tests stand on.
//!
//! - [`spawn_server`]: a real devauth-server on `127.0.0.1:0` with a fresh
//!   database (a temporary SQLite file, or a new database in the PostgreSQL
//!   cluster named by `DEVAUTH_TEST_POSTGRES_URL`) and an injected clock.
//! - [`TestServer`]: HTTP helpers for the flows tests repeat (claim setup,
//!   add users, start and approve device authorizations).
//! - [`browser`]: real headless Chromium over WebDriver, for the pages.
//! - [`web`]: a cookie-keeping HTTP client for exact tests of the pages.
//! - [`scenarios`]: the scenario suite over HTTP only, against any server
//!   (the `devauth-harness` binary runs it); [`remote`] is its HTTP client.
//! - [`cli`]: the real `devauth` binary as a child process; [`keyring`]: the
//!   real Secret Service keychain of `.ci/with-keyring.sh`, for the CLI tests.
//! - [`process`]: the real `devauth-server` binary as a child process.
//! - [`Backend`]: which store a test runs on; [`backends`] lists the ones this
//!   run must cover (PostgreSQL is required when `DEVAUTH_REQUIRE_POSTGRES=1`).

// A test harness: failing the test loudly, saying what failed, is its job.
#![allow(clippy::expect_used)]

use devauth_server::clock::ManualClock;
use devauth_server::model::{Actor, RequestMeta, Role};
use devauth_server::{Config, RunningServer, identity, members};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod authz;
pub mod browser;
pub mod cli;
pub mod desktop;
pub mod idp;
pub mod keyring;
pub mod notifications;
pub mod pg_cluster;
pub mod process;
pub mod remote;
pub mod scenarios;
pub mod smtp;
pub mod web;

pub use reqwest;

pub const OWNER_EMAIL: &str = "owner@example.com";
pub const PASSWORD: &str = "correct horse battery";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` scenario as two tests, `sqlite::NAME`
/// and `postgres::NAME` (the latter skipped, or failed under
/// `DEVAUTH_REQUIRE_POSTGRES=1`, when no PostgreSQL is configured).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::available($crate::Backend::Postgres) {
                        super::$name($crate::Backend::Postgres).await
                    }
                }
            )*
        }
    };
}

/// The PostgreSQL server for tests, if this run has one.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("DEVAUTH_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Whether a test on `backend` should run. Missing PostgreSQL is a skip in a
/// developer's `cargo test`, and a failure under `make test` / CI.
pub fn available(backend: Backend) -> bool {
    match backend {
        Backend::Sqlite => true,
        Backend::Postgres => {
            if postgres_admin_url().is_some() {
                return true;
            }
            assert!(
                std::env::var("DEVAUTH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "DEVAUTH_REQUIRE_POSTGRES=1 but DEVAUTH_TEST_POSTGRES_URL is not set: the PostgreSQL suite cannot be skipped"
            );
            eprintln!("skipped: PostgreSQL (set DEVAUTH_TEST_POSTGRES_URL, or run `make test`)");
            false
        }
    }
}

/// A fresh, empty database on `backend`; returns its URL and, for SQLite, the directory to delete.
pub async fn fresh_database(backend: Backend) -> (String, Option<TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = TempDir::new();
            (
                format!("sqlite://{}", dir.path().join("devauth.db").display()),
                Some(dir),
            )
        }
        Backend::Postgres => {
            let admin = postgres_admin_url().unwrap_or_default();
            let name = format!("devauth_test_{}", uuid::Uuid::new_v4().simple());
            let pool = sqlx::PgPool::connect(&admin)
                .await
                .expect("cannot reach PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .expect("cannot create a test database");
            pool.close().await;
            let base = admin
                .rsplit_once('/')
                .map(|(base, _)| base)
                .unwrap_or(&admin);
            (format!("{base}/{name}"), None)
        }
    }
}

/// The `devauth-server` binary of this build (`cargo build --workspace --bins` makes it).
pub fn server_binary() -> PathBuf {
    binary("devauth-server")
}

/// A binary of this workspace, found next to the running test executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/test-binary → target/debug/
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (make test does)",
        path.display()
    );
    path
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("devauth-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server running in the test process.
pub struct TestServer {
    pub url: String,
    pub clock: ManualClock,
    pub server: RunningServer,
    /// The one HTTP client of the tests ([`remote::Remote`]); the helpers
    /// below fail the test when a request gets no answer.
    pub remote: remote::Remote,
    /// Its underlying client (no redirects followed), for raw requests.
    pub http: reqwest::Client,
    pub backend: Backend,
    pub database_url: String,
    _dir: Option<TempDir>,
}

/// Starts a server on a fresh database with a manual clock and a known setup token.
pub async fn spawn_server(backend: Backend) -> TestServer {
    spawn_server_with(backend, Config::default()).await
}

pub const SETUP_TOKEN: &str = "setup_test_0123456789";

pub async fn spawn_server_with(backend: Backend, config: Config) -> TestServer {
    let (database_url, dir) = fresh_database(backend).await;
    start_on(backend, database_url, dir, ManualClock::default(), config).await
}

async fn start_on(
    backend: Backend,
    database_url: String,
    dir: Option<TempDir>,
    clock: ManualClock,
    config: Config,
) -> TestServer {
    // A free port unless the test picked one (a public URL naming it).
    let addr = if config.addr == Config::default().addr {
        "127.0.0.1:0".into()
    } else {
        config.addr.clone()
    };
    let config = Config {
        database_url: Some(database_url.clone()),
        addr,
        setup_token: config
            .setup_token
            .clone()
            .or_else(|| Some(devauth_server::secret::Secret::new(SETUP_TOKEN))),
        ..config
    };
    let server = devauth_server::start(config, Arc::new(clock.clone()))
        .await
        .expect("server did not start");
    // The bound address: the public URL may name a proxy in front.
    let url = format!("http://{}", server.addr);
    let remote = remote::Remote::new(&url).expect("an HTTP client");
    TestServer {
        url,
        clock,
        server,
        http: remote.http().clone(),
        remote,
        backend,
        database_url,
        _dir: dir,
    }
}

impl TestServer {
    /// Another server on this one's database and clock: a second replica
    /// (it must stop before this one, which owns a SQLite file).
    pub async fn replica(&self, config: Config) -> TestServer {
        let clock = self.clock.clone();
        start_on(self.backend, self.database_url.clone(), None, clock, config).await
    }

    /// Stops this server and starts a new one on the same database and clock.
    pub async fn restart(self, config: Config) -> TestServer {
        let TestServer {
            server,
            clock,
            backend,
            database_url,
            _dir,
            ..
        } = self;
        let _ = server.stop().await;
        start_on(backend, database_url, _dir, clock, config).await
    }
}

/// The body of `POST /api/setup/claim` that makes `email` the owner of a new org Acme.
pub fn claim_body(setup_token: &str, email: &str, name: &str, password: &str) -> Value {
    json!({"setup_token": setup_token, "email": email, "name": name,
           "password": password, "org_name": "Acme"})
}

/// An answer from the in-process server: the scenario suite's [`remote::Answer`]
/// (status, headers, body as JSON, or a JSON string when it is not JSON).
pub use remote::Answer as Reply;

impl TestServer {
    /// The server's current time (the manual clock).
    pub fn clock_now(&self) -> i64 {
        use devauth_server::clock::Clock;
        self.clock.now()
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.remote.get(path, token).await.expect("an answer")
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Reply {
        let answer = self.remote.json(method, path, token, &body).await;
        answer.expect("an answer")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send_json(reqwest::Method::POST, path, token, body)
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.remote
            .delete_with(path, token)
            .await
            .expect("an answer")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.remote
            .post_form(path, form, &[])
            .await
            .expect("an answer")
    }

    /// The status of `GET path`.
    pub async fn get_status(&self, path: &str, token: Option<&str>) -> u16 {
        self.get(path, token).await.status
    }

    /// The status of `DELETE path`.
    pub async fn delete_status(&self, path: &str, token: Option<&str>) -> u16 {
        self.delete(path, token).await.status
    }

    /// `POST /api/tokens` as `token`: creates the token `body` describes.
    pub async fn create_token(&self, token: &str, body: Value) -> Reply {
        self.post_json("/api/tokens", Some(token), body).await
    }

    /// `POST /api/tokens/{id}/rotate` as `token`.
    pub async fn rotate(&self, token: &str, id: &str) -> Reply {
        let path = format!("/api/tokens/{id}/rotate");
        self.post_json(&path, Some(token), json!({})).await
    }

    /// `PATCH /api/orgs/{org}/members/{email}` as `token`: gives the member `role`.
    pub async fn set_role(&self, token: &str, org: &str, email: &str, role: &str) -> Reply {
        let path = format!("/api/orgs/{org}/members/{email}");
        let body = json!({ "role": role });
        self.send_json(reqwest::Method::PATCH, &path, Some(token), body)
            .await
    }

    /// `DELETE /api/orgs/{org}/members/{email}` as `token`.
    pub async fn remove_member(&self, token: &str, org: &str, email: &str) -> Reply {
        let path = format!("/api/orgs/{org}/members/{email}");
        self.delete(&path, Some(token)).await
    }

    /// `POST /api/device/lookup` as `token`.
    pub async fn lookup(&self, token: &str, user_code: &str) -> Reply {
        let body = json!({ "user_code": user_code });
        self.post_json("/api/device/lookup", Some(token), body)
            .await
    }

    /// `POST /api/device/approve` as `token`: approves `user_code` into `org`.
    pub async fn approve(&self, token: &str, user_code: &str, org: &str) -> Reply {
        let body = json!({ "user_code": user_code, "org": org });
        self.post_json("/api/device/approve", Some(token), body)
            .await
    }

    /// `POST /api/device/deny` as `token`.
    pub async fn deny(&self, token: &str, user_code: &str) -> Reply {
        let body = json!({ "user_code": user_code });
        self.post_json("/api/device/deny", Some(token), body).await
    }

    /// Creates a token as [`Self::create_token`] does, which must succeed; returns its secret.
    pub async fn new_token(&self, token: &str, body: Value) -> String {
        let reply = self.create_token(token, body).await;
        assert_eq!(reply.status, 201, "token creation failed: {}", reply.body);
        reply.body["token"].as_str().unwrap_or_default().to_string()
    }

    /// The audit log's events with `action` (every org), newest first, read from the store.
    pub async fn audit_events(
        &self,
        action: &str,
        limit: i64,
    ) -> Vec<devauth_server::model::AuditEvent> {
        let query = devauth_server::model::AuditQuery {
            action: Some(action.into()),
            limit,
            ..Default::default()
        };
        let events = self.server.state.store.list_audit(&query).await;
        events.unwrap_or_default()
    }

    /// Claims setup as the owner of org `acme`; returns the owner's token.
    pub async fn claim(&self) -> String {
        let body = claim_body(SETUP_TOKEN, OWNER_EMAIL, "Olive Owner", PASSWORD);
        let reply = self.post_json("/api/setup/claim", None, body).await;
        assert_eq!(reply.status, 201, "setup claim failed: {}", reply.body);
        let claimed: devauth_proto::SetupClaimed = reply.parse().expect("the setup claim's answer");
        claimed.token.expose().to_string()
    }

    /// Adds a user with a password and makes them a member of `org` with `role`.
    pub async fn add_member(&self, email: &str, org: &str, role: Role) {
        let state = &self.server.state;
        let meta = RequestMeta::default();
        let password = devauth_server::secret::Secret::new(PASSWORD);
        if state
            .store
            .user_by_email(email)
            .await
            .ok()
            .flatten()
            .is_none()
        {
            identity::create_user(state, email, email, Some(&password), Actor::System, &meta)
                .await
                .unwrap_or_else(|e| panic!("add user {email}: {e}"));
        }
        let org = members::org(state, org).await.expect("the org exists");
        members::add(
            state,
            &devauth_server::policy::Principal::System,
            &org,
            email,
            role,
            &meta,
        )
        .await
        .unwrap_or_else(|e| panic!("add member {email}: {e}"));
    }

    /// Adds `email` to `org` with `role` (as [`Self::add_member`]) and returns a personal token of theirs.
    pub async fn enrol(&self, email: &str, org: &str, role: Role) -> String {
        self.add_member(email, org, role).await;
        self.personal_token(email, org).await
    }

    /// Adds an org (as the system).
    pub async fn add_org(&self, slug: &str) {
        identity::create_org(
            &self.server.state,
            Some(slug),
            slug,
            Actor::System,
            &RequestMeta::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("add org {slug}: {e}"));
    }

    /// Starts a device authorization; returns the JSON response.
    pub async fn start_device(&self, client_id: &str, device_name: &str) -> Value {
        let reply = self
            .post_form(
                "/oauth/device_authorization",
                &[("client_id", client_id), ("device_name", device_name)],
            )
            .await;
        assert_eq!(
            reply.status, 200,
            "device authorization failed: {}",
            reply.body
        );
        let _: devauth_proto::DeviceAuthorizationResponse =
            reply.parse().expect("the device authorization's answer");
        reply.body
    }

    pub async fn poll(&self, device_code: &str, client_id: &str) -> Reply {
        self.post_form(
            "/oauth/token",
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("client_id", client_id),
            ],
        )
        .await
    }

    /// A device token for `email` (a member of `org`): start, approve with `approver_token`, redeem.
    pub async fn device_token(&self, approver_token: &str, org: &str) -> String {
        let started = self.start_device("devauth-cli", "test laptop").await;
        let code = started["user_code"].as_str().unwrap_or_default();
        let approve = self.approve(approver_token, code, org).await;
        assert_eq!(approve.status, 200, "approve failed: {}", approve.body);
        let reply = self
            .poll(
                started["device_code"].as_str().unwrap_or_default(),
                "devauth-cli",
            )
            .await;
        assert_eq!(reply.status, 200, "redeem failed: {}", reply.body);
        let issued: devauth_proto::TokenResponse = reply.parse().expect("the token response");
        issued.access_token.expose().to_string()
    }

    /// A personal token for a member (created server-side, as an admin would with the CLI).
    pub async fn personal_token(&self, email: &str, org: &str) -> String {
        self.mint(Some(email), org, &[]).await.0
    }

    /// A token minted by the system (the admin CLI's path): a personal token of
    /// `user` in `org`, or a service token of `org` when `user` is `None`, with
    /// these scopes. Returns the secret and the token's id.
    pub async fn mint(&self, user: Option<&str>, org: &str, scopes: &[&str]) -> (String, String) {
        let state = &self.server.state;
        let holder = match user {
            Some(email) => Some(
                members::find_user(state, email)
                    .await
                    .expect("the user exists"),
            ),
            None => None,
        };
        let org = members::org(state, org).await.expect("the org exists");
        let req = devauth_server::tokens::TokenRequest {
            name: format!("{} test token", user.unwrap_or("service")),
            kind: if holder.is_some() {
                devauth_server::model::TokenKind::Personal
            } else {
                devauth_server::model::TokenKind::Service
            },
            expires: None,
            scopes: devauth_server::model::parse_scopes(&scopes.join(" ")).expect("valid scopes"),
        };
        let issued = devauth_server::tokens::create_as_system(
            state,
            &org,
            holder.as_ref(),
            req,
            &RequestMeta::default(),
        )
        .await
        .expect("mint a token");
        (
            issued.token.expose().to_string(),
            issued.info.token.id.to_string(),
        )
    }

    pub async fn stop(self) {
        let _ = self.server.stop().await;
    }
}

/// Waits (bounded) until `server` holds `n` long polls.
pub async fn until_held(server: &devauth_server::RunningServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.state.bus.held() != n {
        assert!(
            Instant::now() < deadline,
            "the poll was never held ({} held)",
            server.state.bus.held()
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads server-sent events from a streaming response until `want` arrive or the stream ends.
pub async fn read_events(mut response: reqwest::Response, want: usize) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    while events.len() < want {
        let chunk = match tokio::time::timeout(Duration::from_secs(20), response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            _ => break,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let name = block
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .map(str::to_string);
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .and_then(|d| serde_json::from_str(d).ok());
            if let (Some(name), Some(data)) = (name, data) {
                events.push((name, data));
            }
        }
    }
    events
}

pub async fn open_stream(url: &str, token: &str, in_query: bool) -> reqwest::Response {
    let http = reqwest::Client::new();
    let request = if in_query {
        http.get(format!("{url}/api/events?token={token}"))
    } else {
        http.get(format!("{url}/api/events")).bearer_auth(token)
    };
    request.send().await.expect("the event stream answers")
}

/// A Python tool from the tests' virtualenv (`.ci/install-deps.sh python`:
/// `$DEVAUTH_PY_VENV`, default `~/.cache/devauth-py`). Missing, it is a skip
/// in a developer's `cargo test` and a failure under `make test`
/// (`DEVAUTH_REQUIRE_TOOLS=1`).
pub fn python_tool(name: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("DEVAUTH_PY_VENV")
        .map(PathBuf::from)
        .or_else(|| dirs_home().map(|home| home.join(".cache/devauth-py")))?;
    let path = venv.join("bin").join(name);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("DEVAUTH_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "{} is missing: run `.ci/install-deps.sh python` (make test does)",
        path.display()
    );
    eprintln!("skipped: {name} is not installed (.ci/install-deps.sh python)");
    None
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// `body` with `$side` a connection of the test's own to `database_url`,
/// whichever backend it is.
macro_rules! on_side_connection {
    ($backend:expr, $url:expr, |$side:ident| $body:expr) => {{
        use sqlx::Connection;
        match $backend {
            Backend::Sqlite => {
                let mut $side = sqlx::SqliteConnection::connect($url)
                    .await
                    .expect("a side connection");
                $body
            }
            Backend::Postgres => {
                let mut $side = sqlx::PgConnection::connect($url)
                    .await
                    .expect("a side connection");
                $body
            }
        }
    }};
}

/// Runs `sql` on a connection of the test's own to `database_url`, behind
/// the servers' backs (no counter bump, no announcement, no `NOTIFY`).
pub async fn side_execute(backend: Backend, database_url: &str, sql: &str) {
    on_side_connection!(backend, database_url, |side| {
        sqlx::query(sql)
            .execute(&mut side)
            .await
            .expect("the statement");
    })
}

/// The one value `sql` selects, read on a connection of the test's own.
pub async fn side_scalar<T>(backend: Backend, database_url: &str, sql: &str) -> T
where
    T: Send
        + Unpin
        + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>,
{
    on_side_connection!(backend, database_url, |side| {
        sqlx::query_scalar(sql)
            .fetch_one(&mut side)
            .await
            .expect("the query")
    })
}
