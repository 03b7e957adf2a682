//! The HTTP surface: `app(state)` builds the router; this module owns the
//! request context (request id, client IP, one log line per request) and the
//! extractors that turn bad input into clear JSON errors.

mod api;
mod oauth;
mod ops;
mod stream;

use crate::auth::{authenticate, bearer};
use crate::error::ApiError;
use crate::model::RequestMeta;
use crate::policy::Principal;
use crate::state::AppState;
use axum::Router;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Request, State,
};
use axum::http::{HeaderMap, HeaderValue, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::time::Instant;

/// Largest request body accepted, bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole server as a router; serve it with connect info (`SocketAddr`).
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(oauth::routes())
        .merge(api::routes())
        .merge(ops::routes())
        .merge(stream::routes())
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .with_state(state)
}

/// The request id of the current request (honoured from `X-Request-Id` or generated).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn valid_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| text.to_string())
}

/// A fresh request id: UUID-shaped, from one random base per process plus a
/// counter, so it is unique without a trip to the OS random source per request.
/// Request ids are for correlation, not secrets.
fn new_request_id() -> String {
    static BASE: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = *BASE.get_or_init(|| uuid::Uuid::new_v4().as_u128());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The counter fills the low 48 bits (the UUID's last group); version and
    // variant bits stay those of the random base.
    let id = (base & !0xffff_ffff_ffff) | u128::from(n & 0xffff_ffff_ffff);
    uuid::Uuid::from_u128(id).to_string()
}

/// Request id in and out, safe default headers, metrics and one log line.
/// The line names the route pattern, never the URL: query strings can hold user codes.
async fn request_context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // How long the request took, for the log line: a measurement, not a time.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(valid_request_id)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("(unmatched)", MatchedPath::as_str);
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", value);
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let status = response.status().as_u16();
    state.metrics.request(route, status);
    tracing::info!(
        target: "devauth::http",
        request_id = %id,
        method = %method,
        route = %route,
        status,
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

fn client_ip(parts: &Parts, trust_forwarded: bool) -> Option<String> {
    if trust_forwarded
        && let Some(hop) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
    {
        return Some(hop.to_string());
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical().to_string())
}

/// Where a request came from: IP, user agent, request id.
pub struct Meta(pub RequestMeta);

impl FromRequestParts<AppState> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Meta(meta_of(parts, state)))
    }
}

fn meta_of(parts: &Parts, state: &AppState) -> RequestMeta {
    RequestMeta {
        ip: client_ip(parts, state.config.trust_forwarded_for),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect()),
        request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
    }
}

/// A request authenticated by `Authorization: Bearer dva_…`.
pub struct Auth(pub Principal, pub RequestMeta);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let meta = meta_of(parts, state);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let principal = authenticate(state, bearer(header), &meta).await?;
        Ok(Auth(principal, meta))
    }
}

/// A JSON body whose problems come back as `invalid_request` with the reason.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(ApiError {
                status: rejection.status(),
                ..ApiError::invalid_request(rejection.body_text())
            }),
        }
    }
}

/// An `application/x-www-form-urlencoded` body as OAuth wants it: each
/// parameter at most once (RFC 6749 §3.1), unknown ones ignored.
pub struct OAuthForm(Vec<(String, String)>);

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::invalid_request(format!("missing parameter `{name}`")))
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_form(req.headers()) {
            return Err(ApiError::invalid_request(
                "send parameters as application/x-www-form-urlencoded",
            ));
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError {
                status: r.status(),
                ..ApiError::invalid_request(r.body_text())
            })?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (key, value) in form_urlencoded::parse(&body) {
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(ApiError::invalid_request(format!(
                    "parameter `{key}` was sent more than once"
                )));
            }
            pairs.push((key.into_owned(), value.into_owned()));
        }
        Ok(OAuthForm(pairs))
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// JSON with a status, for handlers that create things.
pub fn created<T: serde::Serialize>(value: T) -> Response {
    (axum::http::StatusCode::CREATED, axum::Json(value)).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        let ids: Vec<String> = (0..1000).map(|_| super::new_request_id()).collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            let uuid = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(uuid.get_version_num(), 4, "{id}");
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }
}
