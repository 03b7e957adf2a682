//! Liveness, readiness and metrics (the OpenAPI document is `crate::openapi`).

use super::ApiError;
use crate::error::Error;
use crate::route_table::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use devauth_proto::ErrorBody;

pub fn routes() -> Routes {
    Routes::new()
        .add("/healthz", get(healthz))
        .add("/readyz", get(readyz))
        .add("/metrics", get(metrics))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "`ok`", content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, description = "`ok (sqlite)`", content_type = "text/plain"), (status = 503, description = "the database is unreachable", content_type = "text/plain")))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, format!("ok ({})\n", state.store.backend())),
        Err(err) => {
            tracing::warn!(error = %err, "database not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "database unreachable\n".to_string(),
            )
        }
    }
}

/// Prometheus text; with `DEVAUTH_METRICS_TOKEN` set, only for
/// `Authorization: Bearer` that token.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain"), (status = 401, description = "`DEVAUTH_METRICS_TOKEN` is set and was not sent", body = ErrorBody)))]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.config.metrics_token {
        let given = crate::auth::bearer(
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        );
        if !given.is_some_and(|given| expected.ct_eq(given)) {
            return ApiError::from(Error::Unauthenticated).into_response();
        }
    }
    let mut text = state.metrics.render();
    let gauges = [
        (
            "devauth_event_streams_open",
            "Event streams (/api/events) open now.",
            state.holds.held("streams"),
        ),
        (
            "devauth_long_polls_held",
            "Token polls held open now (Prefer: wait).",
            state.bus.held(),
        ),
    ];
    for (name, help, value) in gauges {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
