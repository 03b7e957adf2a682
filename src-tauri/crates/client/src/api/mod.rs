//! The devauth HTTP API with one bearer token ([`ApiClient`]), RFC 7009
//! revocation ([`revoke`]) and helpers for token expiry times.

use std::sync::Arc;
use std::time::Duration;

use oauth2::http::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use crate::discovery::ServerUrl;
use crate::secret::Secret;
use crate::text::clean;
use crate::transport::{HttpResponse, Transport, TransportError, build_request, form_body};
use devauth_proto::{Access, DeviceDecision};

/// A devauth API failure. Messages say what to do next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 401: the server does not accept the token.
    #[error("the token was revoked or has expired{detail}. Sign in again")]
    Unauthorized {
        /// The server's message as ` (server says: …)`, or empty.
        detail: String,
    },
    /// 403: the token may not do this.
    #[error("not allowed: {message}")]
    Forbidden {
        /// The server's message, or `HTTP <status>` when the body has none.
        message: String,
    },
    /// 404.
    #[error("not found: {message}")]
    NotFound {
        /// The server's message, or `HTTP <status>` when the body has none.
        message: String,
    },
    /// Any other failure status below 500 (redirects too: they are never
    /// followed).
    #[error("the server rejected the request ({status}): {message}")]
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// The server's message, or `HTTP <status>` when the body has none.
        message: String,
    },
    /// 5xx: the server failed.
    #[error("the server failed ({status}): {message}. Try again later")]
    Server {
        /// The HTTP status code.
        status: u16,
        /// The server's message, or `HTTP <status>` when the body has none.
        message: String,
    },
    /// The request got no HTTP response (or could not be built).
    #[error("{0}. Check your network and the server URL")]
    Network(#[source] TransportError),
    /// The answer could not be read, or the request could not be formed. The
    /// text says what; it never contains the response body.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

/// `GET /me`, as the wire contract has it (owned text).
pub type Me = devauth_proto::Me<'static>;

pub use devauth_proto::{CreateToken, IssuedToken, MeToken, OrgRef, TokenInfo, TokenList, UserRef};

/// How long a token has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The token has no expiry time.
    Never,
    /// Still valid for this long.
    In(Duration),
    /// The expiry time has passed.
    Expired,
    /// The server sent a time this client cannot read.
    Unknown,
}

impl Expiry {
    /// From an RFC 3339 `expires_at`, as of `now`; `None` means the token never
    /// expires.
    pub fn from_rfc3339(expires_at: Option<&str>, now: OffsetDateTime) -> Expiry {
        match expires_at {
            None => Expiry::Never,
            Some(raw) => match parse_time(raw) {
                Some(at) if at <= now => Expiry::Expired,
                Some(at) => Expiry::In((at - now).try_into().unwrap_or(Duration::ZERO)),
                None => Expiry::Unknown,
            },
        }
    }

    /// "expires in 90 days", "never expires", "has expired".
    pub fn describe(&self) -> String {
        match self {
            Expiry::Never => "never expires".to_string(),
            Expiry::Expired => "has expired".to_string(),
            Expiry::Unknown => "expiry unknown".to_string(),
            Expiry::In(d) => {
                let secs = d.as_secs();
                let days = (secs + 43_200) / 86_400;
                match (days, secs / 3600) {
                    (0, 0) => "expires in less than an hour".to_string(),
                    (0, 1) => "expires in 1 hour".to_string(),
                    (0, h) => format!("expires in {h} hours"),
                    (1, _) => "expires in 1 day".to_string(),
                    (d, _) => format!("expires in {d} days"),
                }
            }
        }
    }
}

/// Parses an RFC 3339 timestamp (surrounding whitespace ignored); `None` when
/// it is not one.
pub fn parse_time(raw: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(raw.trim(), &Rfc3339).ok()
}

/// Formats a time as RFC 3339, or as Unix seconds should that fail.
pub fn format_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// How far `t` is from `now`, in words: "4 seconds ago", "in 9 minutes",
/// "3 hours ago", "12 days ago", "just now". Hours from two hours on and days
/// from two days on, as the server's pages word it.
pub fn distance(t: OffsetDateTime, now: OffsetDateTime) -> String {
    const HOUR: u64 = 3600;
    const DAY: u64 = 86_400;
    let secs = (t - now).whole_seconds();
    let abs = secs.unsigned_abs();
    let amount = match abs {
        0 => return "just now".into(),
        1 => "1 second".to_string(),
        2..=59 => format!("{abs} seconds"),
        60..=119 => "1 minute".to_string(),
        _ if abs < 2 * HOUR => format!("{} minutes", abs / 60),
        _ if abs < 2 * DAY => format!("{} hours", abs / HOUR),
        _ => format!("{} days", abs / DAY),
    };
    if secs < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// The `--scope` arguments of `devauth tokens create` as a scope list (each
/// may hold several, space- or comma-separated); none: the caller's own.
pub fn parse_scope_args(args: &[String]) -> Result<devauth_proto::ScopeList, String> {
    let scopes = devauth_proto::parse_scopes(&args.join(" "))?;
    Ok(if scopes.is_empty() {
        devauth_proto::ScopeList::None
    } else {
        devauth_proto::ScopeList::List(scopes)
    })
}

/// Checks an `expires` value before sending it.
pub fn valid_expires(value: &str) -> bool {
    matches!(value, "30d" | "90d" | "365d" | "never")
        || time::Date::parse(
            value,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .is_ok()
}

/// The devauth HTTP API, authenticated with one bearer token.
#[derive(Clone)]
pub struct ApiClient {
    transport: Arc<dyn Transport>,
    server: ServerUrl,
    token: Secret,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("server", &self.server)
            .finish()
    }
}

impl ApiClient {
    /// A client for `server` that sends `token` as the bearer token on every
    /// request.
    pub fn new(transport: Arc<dyn Transport>, server: ServerUrl, token: Secret) -> Self {
        ApiClient {
            transport,
            server,
            token,
        }
    }

    /// The server this client talks to.
    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// `GET /me`: the user, org, role and token behind the bearer token.
    pub async fn me(&self) -> Result<Me, ApiError> {
        let response = self.send(Method::GET, "me", None).await?;
        decode(expect_ok(response)?, "/me")
    }

    /// Your own tokens; with `whole_org`, every token of the org (admins).
    pub async fn list_tokens(&self, whole_org: bool) -> Result<Vec<TokenInfo>, ApiError> {
        let path = if whole_org {
            "api/tokens?scope=org"
        } else {
            "api/tokens"
        };
        let response = self.send(Method::GET, path, None).await?;
        let list: TokenList = decode(expect_ok(response)?, "the token list")?;
        Ok(list.tokens)
    }

    /// `POST /api/tokens`. The answer holds the new token's secret, which the
    /// server shows only this once.
    pub async fn create_token(&self, new: &CreateToken) -> Result<IssuedToken, ApiError> {
        let body = serde_json::to_vec(new).map_err(|e| ApiError::Protocol(e.to_string()))?;
        let response = self.send(Method::POST, "api/tokens", Some(body)).await?;
        decode(expect_ok(response)?, "the new token")
    }

    /// `DELETE /api/tokens/{id}`: revokes a token by its id (as
    /// [`ApiClient::list_tokens`] shows it).
    pub async fn revoke_token(&self, id: &str) -> Result<(), ApiError> {
        let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let response = self
            .send(Method::DELETE, &format!("api/tokens/{id}"), None)
            .await?;
        expect_ok(response).map(|_| ())
    }

    /// `POST /api/device/lookup`: the sign-in request another device shows
    /// `user_code` for, as the server saw it (and whether it came from this
    /// machine's network).
    pub async fn lookup_device(
        &self,
        user_code: &str,
    ) -> Result<devauth_proto::DeviceRequest, ApiError> {
        self.decide_device("api/device/lookup", &DeviceDecision::new(user_code))
            .await
    }

    /// `POST /api/device/approve`: signs that device in to this token's org,
    /// with `access` for `days` (`None`: the server's lifetime).
    pub async fn approve_device(
        &self,
        user_code: &str,
        org: &str,
        access: Access,
        days: Option<i64>,
    ) -> Result<devauth_proto::DeviceRequest, ApiError> {
        let decision = DeviceDecision {
            org: Some(org.to_string()),
            access: Some(access),
            days,
            ..DeviceDecision::new(user_code)
        };
        self.decide_device("api/device/approve", &decision).await
    }

    /// `POST /api/device/deny`.
    pub async fn deny_device(
        &self,
        user_code: &str,
    ) -> Result<devauth_proto::DeviceRequest, ApiError> {
        self.decide_device("api/device/deny", &DeviceDecision::new(user_code))
            .await
    }

    async fn decide_device(
        &self,
        path: &str,
        decision: &DeviceDecision,
    ) -> Result<devauth_proto::DeviceRequest, ApiError> {
        let body = serde_json::to_vec(decision).map_err(|e| ApiError::Protocol(e.to_string()))?;
        let response = self.send(Method::POST, path, Some(body)).await?;
        let one: devauth_proto::DeviceRequestOne =
            decode(expect_ok(response)?, "the sign-in request")?;
        Ok(one.request)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        json: Option<Vec<u8>>,
    ) -> Result<HttpResponse, ApiError> {
        let url = self
            .server
            .join(path)
            .map_err(|e| ApiError::Protocol(e.to_string()))?;
        let mut headers = vec![(
            header::AUTHORIZATION,
            format!("Bearer {}", self.token.expose()),
        )];
        if json.is_some() {
            headers.push((header::CONTENT_TYPE, "application/json".to_string()));
        }
        let request = build_request(method, &url, &headers, json.unwrap_or_default())
            .map_err(ApiError::Network)?;
        self.transport
            .send(request)
            .await
            .map_err(ApiError::Network)
    }
}

/// RFC 7009 revocation of `token` at `endpoint`. The server answers 200 for
/// unknown tokens too, so success means "this token no longer works".
pub async fn revoke(
    transport: &dyn Transport,
    endpoint: &Url,
    client_id: &str,
    token: &Secret,
) -> Result<(), ApiError> {
    let body = form_body(&[
        ("token", token.expose()),
        ("token_type_hint", "access_token"),
        ("client_id", client_id),
    ]);
    let headers = [(
        header::CONTENT_TYPE,
        "application/x-www-form-urlencoded".to_string(),
    )];
    let request =
        build_request(Method::POST, endpoint, &headers, body).map_err(ApiError::Network)?;
    let response = transport.send(request).await.map_err(ApiError::Network)?;
    expect_ok(response).map(|_| ())
}

fn expect_ok(response: HttpResponse) -> Result<HttpResponse, ApiError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(error_for(status, response.body()))
}

/// The error for a failure `status` and its body.
pub(crate) fn error_for(status: StatusCode, body: &[u8]) -> ApiError {
    let message = error_message(body, status);
    match status {
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized {
            detail: if message.is_empty() {
                String::new()
            } else {
                format!(" (server says: {message})")
            },
        },
        StatusCode::FORBIDDEN => ApiError::Forbidden { message },
        StatusCode::NOT_FOUND => ApiError::NotFound { message },
        s if s.is_server_error() => ApiError::Server {
            status: s.as_u16(),
            message,
        },
        s => ApiError::Rejected {
            status: s.as_u16(),
            message,
        },
    }
}

/// The human part of an error body: `error_description`, `message` or `error`.
fn error_message(body: &[u8], status: StatusCode) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .map(|s| clean(s, 200))
    };
    field("error_description")
        .or_else(|| field("message"))
        .or_else(|| field("error"))
        .unwrap_or_else(|| {
            if status == StatusCode::UNAUTHORIZED {
                String::new()
            } else {
                format!("HTTP {status}")
            }
        })
}

/// Never echoes the body: a token-bearing response that fails to parse must
/// not end up in an error message.
fn decode<T: DeserializeOwned>(response: HttpResponse, what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(response.body()).map_err(|e| {
        let msg = e.to_string();
        let reason = if msg.starts_with("missing field") {
            clean(msg.split(" at line").next().unwrap_or(&msg), 100)
        } else {
            format!(
                "malformed JSON near line {}, column {}",
                e.line(),
                e.column()
            )
        };
        ApiError::Protocol(format!("cannot read {what}: {reason}"))
    })
}

#[cfg(test)]
mod tests;
