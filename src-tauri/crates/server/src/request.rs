//! The request context: the request id (honoured from `X-Request-Id` or
//! generated), the client's address and user agent ([`Meta`]), and the layer
//! around every request that sets the safe default headers, counts it, and
//! writes its one log line — with the detail of a server fault, if the answer
//! carries one ([`Fault`]).

use crate::client_ip;
use crate::model::RequestMeta;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Instant;

/// A server fault's detail, put on a response by whoever turned the error
/// into an answer, and logged here once, with the request id.
#[derive(Debug, Clone)]
pub struct Fault(pub String);

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
pub async fn context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // How long the request took, for the log line: a measurement, not a time.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(valid_request_id)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    report_untrusted_forwarding(&req, &state);
    let method = req.method().clone();
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("(unmatched)", MatchedPath::as_str);
    let mut response = match foreign_host(&req, &state) {
        Some(refused) => refused,
        None => next.run(req).await,
    };
    if let Some(Fault(detail)) = response.extensions_mut().remove::<Fault>() {
        tracing::error!(
            target: "devauth::http",
            request_id = %id,
            route = %route,
            error = %detail,
            "internal error"
        );
    }
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

/// With `own_host_only`, the answer to a request addressed to another host:
/// a page on `evil.example` whose name now resolves to 127.0.0.1 (DNS
/// rebinding) still sends `Host: evil.example`.
fn foreign_host(req: &Request, state: &AppState) -> Option<Response> {
    if !state.config.own_host_only {
        return None;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let own = state
        .public_url
        .split_once("://")
        .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(rest));
    let port = own.rsplit_once(':').map_or("", |(_, port)| port);
    let localhost = host
        .get(..10)
        .is_some_and(|name| name.eq_ignore_ascii_case("localhost:"))
        && host[10..] == *port;
    if host.eq_ignore_ascii_case(own) || localhost {
        return None;
    }
    let message =
        format!("this server answers only as {own}; the request was addressed to another host");
    let body = devauth_proto::ErrorBody {
        error: "invalid_request".into(),
        error_description: message,
        interval: None,
    };
    Some((StatusCode::MISDIRECTED_REQUEST, axum::Json(body)).into_response())
}

/// The client's address: the peer, or behind a trusted proxy the first
/// untrusted hop of its forwarding headers (see [`crate::client_ip`]).
fn client_ip(parts: &Parts, state: &AppState) -> Option<String> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    let headers = &parts.headers;
    let trusted = &state.config.trusted_proxies;
    if !trusted.trusts(peer) {
        return Some(client_ip::canonical(peer).to_string());
    }
    let lines = |name| {
        headers
            .get_all(name)
            .into_iter()
            .filter_map(|v| v.to_str().ok())
    };
    let ip = client_ip::client_ip(
        peer,
        trusted,
        lines(header::FORWARDED),
        lines(X_FORWARDED_FOR),
    );
    Some(ip.to_string())
}

/// Forwarding headers from a peer that is not a trusted proxy are ignored;
/// the first such request is logged (see [`AppState::untrusted_forwarding`]).
fn report_untrusted_forwarding(req: &Request, state: &AppState) {
    let headers = req.headers();
    if !(headers.contains_key(header::FORWARDED) || headers.contains_key(X_FORWARDED_FOR)) {
        return;
    }
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>()
        && !state.config.trusted_proxies.trusts(peer.ip())
    {
        state.untrusted_forwarding(peer.ip());
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Where a request came from: IP, user agent, request id.
pub struct Meta(pub RequestMeta);

impl FromRequestParts<AppState> for Meta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Meta(meta_of(parts, state)))
    }
}

/// The request's [`RequestMeta`], for extractors that build on it.
pub fn meta_of(parts: &Parts, state: &AppState) -> RequestMeta {
    RequestMeta {
        ip: client_ip(parts, state),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect()),
        request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
    }
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
