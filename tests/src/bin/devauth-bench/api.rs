//! The few HTTP calls the bench makes itself (setup, device flows, polls),
//! and starting devauth servers on fresh databases with the real clock.

use crate::Res;
use devauth_harness::{Backend, DEVICE_GRANT, TempDir, fresh_database};
use devauth_server::clock::SystemClock;
use devauth_server::secret::Secret;
use devauth_server::{Config, RunningServer};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SETUP_TOKEN: &str = "setup_bench_0123456789abcdef";
pub const CLIENT: &str = "devauth-cli";

/// A devauth server in this process, with the wall clock (not a test clock):
/// intervals and `slow_down` behave as in production.
pub struct Devauth {
    pub server: RunningServer,
    pub api: Api,
    pub database_url: String,
    _dir: Option<TempDir>,
}

impl Devauth {
    pub async fn start(backend: Backend) -> Res<Devauth> {
        let (database_url, dir) = fresh_database(backend).await;
        Devauth::start_on(database_url, dir).await
    }

    /// A server on an existing database (`dir` is deleted when it stops).
    pub async fn start_on(database_url: String, dir: Option<TempDir>) -> Res<Devauth> {
        let config = Config {
            database_url: Some(database_url.clone()),
            addr: "127.0.0.1:0".into(),
            setup_token: Some(Secret::new(SETUP_TOKEN)),
            max_waiters: 10_000,
            // The bench starts thousands of flows from one address: a budget
            // it never spends, so the counting is measured with the rest.
            device_starts_per_minute: 1_000_000_000,
            waits_per_address: 100_000,
            ..Config::default()
        };
        let server = devauth_server::start(config, Arc::new(SystemClock)).await?;
        let api = Api::new(&server.url)?;
        Ok(Devauth {
            server,
            api,
            database_url,
            _dir: dir,
        })
    }

    pub async fn stop(self) {
        drop(self.stop_keeping_database().await);
    }

    /// Stops the server and hands back its database's directory (SQLite).
    pub async fn stop_keeping_database(self) -> Option<TempDir> {
        let Devauth { server, _dir, .. } = self;
        let _ = tokio::time::timeout(Duration::from_secs(5), server.stop()).await;
        _dir
    }
}

/// The owner's token and the org slug, after claiming setup.
pub struct Owner {
    pub token: String,
    pub org: String,
}

pub struct Device {
    pub device_code: String,
    pub user_code: String,
    pub interval: u64,
}

/// A poll's answer and when it arrived.
pub struct PollReply {
    pub status: u16,
    pub body: Value,
    pub preference_applied: bool,
    pub received: Instant,
}

impl PollReply {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The JSON body of an answer with status `want`; any other is an error
/// naming `what`.
async fn expect(response: reqwest::Response, want: u16, what: &str) -> Res<Value> {
    let (status, body) = json_of(response).await;
    if status != want {
        return Err(format!("{what} answered {status}: {body}").into());
    }
    Ok(body)
}

/// The answer with status `want` as a type of the wire contract.
async fn expect_typed<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    want: u16,
    what: &str,
) -> Res<T> {
    let body = expect(response, want, what).await?;
    serde_json::from_value(body).map_err(|e| format!("{what}: not in the contract: {e}").into())
}

impl Api {
    pub fn new(base: &str) -> Res<Api> {
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .timeout(Duration::from_secs(60))
                .build()?,
        })
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Claims first-run setup (owner + org `Bench`).
    pub async fn claim(&self) -> Res<Owner> {
        let response = self
            .http
            .post(self.at("/api/setup/claim"))
            .json(
                &json!({"setup_token": SETUP_TOKEN, "email": "bench-owner@example.com",
                          "name": "Bench Owner", "password": "correct horse battery staple",
                          "org_name": "Bench"}),
            )
            .send()
            .await?;
        let claimed: devauth_proto::SetupClaimed =
            expect_typed(response, 201, "setup claim").await?;
        Ok(Owner {
            token: claimed.token.expose().to_string(),
            org: claimed.org.slug,
        })
    }

    pub async fn start_device(&self, client_id: &str) -> Res<Device> {
        let response = self
            .http
            .post(self.at("/oauth/device_authorization"))
            .form(&[("client_id", client_id), ("device_name", "bench device")])
            .send()
            .await?;
        let body = expect(response, 200, "device_authorization").await?;
        Ok(Device {
            device_code: body["device_code"].as_str().unwrap_or_default().to_string(),
            user_code: body["user_code"].as_str().unwrap_or_default().to_string(),
            interval: body["interval"].as_u64().unwrap_or(5),
        })
    }

    pub async fn approve(&self, owner: &Owner, user_code: &str) -> Res<()> {
        let response = self
            .http
            .post(self.at("/api/device/approve"))
            .bearer_auth(&owner.token)
            .json(&json!({"user_code": user_code, "org": owner.org}))
            .send()
            .await?;
        expect(response, 200, "approve").await?;
        Ok(())
    }

    /// One poll of the token endpoint, optionally with `Prefer: wait=N`.
    pub async fn poll(
        &self,
        token_path: &str,
        device_code: &str,
        client_id: &str,
        wait: Option<u64>,
    ) -> Res<PollReply> {
        let mut req = self.http.post(self.at(token_path)).form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", client_id),
        ]);
        if let Some(n) = wait {
            req = req.header("prefer", format!("wait={n}"));
        }
        let response = req.send().await?;
        let preference_applied = response.headers().contains_key("preference-applied");
        let (status, body) = json_of(response).await;
        Ok(PollReply {
            status,
            body,
            preference_applied,
            received: Instant::now(),
        })
    }

    /// Start → approve → redeem; returns the access token.
    pub async fn device_flow(&self, owner: &Owner) -> Res<String> {
        let device = self.start_device(CLIENT).await?;
        self.approve(owner, &device.user_code).await?;
        let reply = self
            .poll("/oauth/token", &device.device_code, CLIENT, None)
            .await?;
        if reply.status != 200 {
            return Err(format!("redeem answered {}: {}", reply.status, reply.body).into());
        }
        let issued: devauth_proto::TokenResponse = serde_json::from_value(reply.body)
            .map_err(|e| format!("the token response is not in the contract: {e}"))?;
        Ok(issued.access_token.expose().to_string())
    }

    async fn get_me(&self, token: &str) -> Res<reqwest::Response> {
        Ok(self
            .http
            .get(self.at("/me"))
            .bearer_auth(token)
            .send()
            .await?)
    }

    /// `/me`'s answer as sent: headers (without `date` and `content-length`,
    /// which every server adds) and body.
    pub async fn me_raw(&self, token: &str) -> Res<(axum::http::HeaderMap, axum::body::Bytes)> {
        let response = self.get_me(token).await?;
        if response.status() != 200 {
            return Err(format!("/me answered {}", response.status()).into());
        }
        let mut head = response.headers().clone();
        head.remove("date");
        head.remove("content-length");
        Ok((head, response.bytes().await?))
    }

    pub async fn me(&self, token: &str) -> Res<devauth_proto::Me<'static>> {
        expect_typed(self.get_me(token).await?, 200, "/me").await
    }
}

/// A random number in `[0, 1)` (from the OS generator through uuid v4).
pub fn random_unit() -> f64 {
    // The low 56 bits of a v4 UUID are all random (version and variant bits are higher).
    let bits = uuid::Uuid::new_v4().as_u128() as u64 & ((1u64 << 53) - 1);
    bits as f64 / (1u64 << 53) as f64
}
