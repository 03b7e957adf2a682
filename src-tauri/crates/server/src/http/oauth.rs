//! The OAuth endpoints, exactly as RFC 8414, RFC 8628, RFC 6749 §5 and RFC 7009 say.

use super::OAuthForm;
use super::{ApiError, ApiResult};
use crate::device_flow::{self, DEVICE_CODE_GRANT};
use crate::error::{Error, Flow};
use crate::request::Meta;
use crate::state::AppState;
use crate::tokens;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/oauth/device_authorization", post(device_authorization))
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
}

async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let base = &state.public_url;
    Json(json!({
        "issuer": base,
        "device_authorization_endpoint": format!("{base}/oauth/device_authorization"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "grant_types_supported": [DEVICE_CODE_GRANT],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "service_documentation": format!("{base}/"),
    }))
}

async fn device_authorization(
    State(state): State<AppState>,
    Meta(meta): Meta,
    form: OAuthForm,
) -> ApiResult<Response> {
    let client_id = form.require("client_id")?;
    if form.get("scope").is_some() {
        return Err(Error::from(Flow::InvalidScope("devauth device tokens take no scope: they act with the member's role in the chosen org".into())).into());
    }
    let started = device_flow::start(&state, client_id, form.get("device_name"), &meta).await?;
    Ok(Json(started).into_response())
}

async fn token(
    State(state): State<AppState>,
    Meta(meta): Meta,
    headers: axum::http::HeaderMap,
    form: OAuthForm,
) -> ApiResult<Response> {
    let grant_type = form.require("grant_type")?;
    if grant_type != DEVICE_CODE_GRANT {
        return Err(Error::from(Flow::UnsupportedGrantType(format!(
            "only `{DEVICE_CODE_GRANT}` is supported"
        )))
        .into());
    }
    let device_code = form.require("device_code")?;
    let client_id = form.require("client_id")?;
    let wait = crate::events::prefer_wait(headers.get("prefer").and_then(|v| v.to_str().ok()));
    let (result, applied) = device_flow::poll(&state, device_code, client_id, &meta, wait).await;
    let mut response = match result {
        Ok(issued) => Json(issued).into_response(),
        Err(err) => ApiError::from(err).into_response(),
    };
    if let Some(seconds) = applied
        && let Ok(value) = axum::http::HeaderValue::from_str(&format!("wait={seconds}"))
    {
        response.headers_mut().insert("preference-applied", value);
    }
    Ok(response)
}

async fn revoke(
    State(state): State<AppState>,
    Meta(meta): Meta,
    form: OAuthForm,
) -> ApiResult<StatusCode> {
    let token = form.require("token")?;
    tokens::revoke_presented(&state, token, &meta).await?;
    Ok(StatusCode::OK)
}
