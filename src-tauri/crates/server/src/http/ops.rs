//! Liveness, readiness and metrics.

use crate::route_table::Routes;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

pub fn routes() -> Routes {
    Routes::new()
        .add("/healthz", get(healthz))
        .add("/readyz", get(readyz))
        .add("/metrics", get(metrics))
        .add("/openapi.json", get(openapi))
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

/// Prometheus text.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// This document: OpenAPI 3.1, derived from the handlers and the wire types.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
async fn openapi() -> impl IntoResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| super::openapi::document().to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], body.as_str())
}
