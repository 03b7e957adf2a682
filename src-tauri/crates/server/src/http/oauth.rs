//! The OAuth endpoints, exactly as RFC 8414, RFC 8628, RFC 6749 §5 and RFC 7009 say.

use super::OAuthForm;
use super::{ApiError, ApiResult};
use crate::device_flow::{self, DEVICE_CODE_GRANT};
use crate::error::{Error, Flow};
use crate::request::Meta;
use crate::route_table::Routes;
use crate::state::AppState;
use crate::tokens;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use devauth_proto::{DeviceAuthorizationResponse, ErrorBody, Metadata, TokenResponse};

pub fn routes() -> Routes {
    Routes::new()
        .add("/.well-known/oauth-authorization-server", get(metadata))
        .add("/oauth/device_authorization", post(device_authorization))
        .add("/oauth/token", post(token))
        .add("/oauth/revoke", post(revoke))
        .limit_bodies(super::OAUTH_MAX_BODY_BYTES)
}

/// RFC 8414 metadata: where to start, poll and revoke.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", operation_id = "oauth_metadata", tag = "oauth",
    responses((status = 200, body = Metadata)))]
async fn metadata(State(state): State<AppState>) -> Json<Metadata> {
    let base = &state.public_url;
    Json(Metadata {
        issuer: base.clone(),
        device_authorization_endpoint: format!("{base}/oauth/device_authorization"),
        token_endpoint: format!("{base}/oauth/token"),
        revocation_endpoint: format!("{base}/oauth/revoke"),
        grant_types_supported: vec![DEVICE_CODE_GRANT.to_string()],
        response_types_supported: Vec::new(),
        token_endpoint_auth_methods_supported: vec!["none".into()],
        revocation_endpoint_auth_methods_supported: vec!["none".into()],
        service_documentation: format!("{base}/"),
    })
}

/// `application/x-www-form-urlencoded` fields of `POST /oauth/device_authorization`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the form; `OAuthForm` reads it
struct DeviceAuthorizationForm {
    /// A registered public client: `devauth-desktop` or `devauth-cli`.
    client_id: String,
    /// The name the approver will see (at most 64 characters).
    device_name: Option<String>,
}

/// Fields of `POST /oauth/token`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the form; `OAuthForm` reads it
struct TokenForm {
    /// `urn:ietf:params:oauth:grant-type:device_code`.
    grant_type: String,
    /// From the device authorization.
    device_code: String,
    /// The client that started it.
    client_id: String,
}

/// Fields of `POST /oauth/revoke`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the form; `OAuthForm` reads it
struct RevocationForm {
    /// The token to revoke.
    token: String,
    /// Ignored (`access_token`).
    token_type_hint: Option<String>,
}

/// RFC 8628 §3.1: a device asks for a code.
#[utoipa::path(post, path = "/oauth/device_authorization", operation_id = "oauth_device_authorization", tag = "oauth",
    request_body(content = DeviceAuthorizationForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = DeviceAuthorizationResponse), (status = 400, body = ErrorBody), (status = 401, description = "an unknown client", body = ErrorBody)))]
async fn device_authorization(
    State(state): State<AppState>,
    Meta(meta): Meta,
    form: OAuthForm,
) -> ApiResult<Response> {
    let client_id = form.require("client_id")?;
    if form.get("scope").is_some() {
        return Err(Error::from(Flow::InvalidScope("devauth device tokens take no scope: they act with the member's role in the chosen org".into())).into());
    }
    let started = device_flow::start(
        &state,
        client_id,
        form.get("device_name"),
        form.get("org"),
        &meta,
    )
    .await?;
    Ok(Json(started).into_response())
}

/// RFC 8628 §3.4: a device polls; `Prefer: wait=N` (at most 30) holds an
/// undecided poll until the decision.
#[utoipa::path(post, path = "/oauth/token", operation_id = "oauth_token", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    params(("prefer" = Option<String>, Header, description = "`wait=N`: hold an undecided poll up to N seconds")),
    responses((status = 200, body = TokenResponse), (status = 400, description = "authorization_pending, slow_down, access_denied, expired_token, invalid_grant", body = ErrorBody), (status = 401, description = "invalid_client", body = ErrorBody)))]
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

/// RFC 7009: revokes the token; 200 even for an unknown one.
#[utoipa::path(post, path = "/oauth/revoke", operation_id = "oauth_revoke", tag = "oauth",
    request_body(content = RevocationForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "revoked, or never known"), (status = 400, body = ErrorBody)))]
async fn revoke(
    State(state): State<AppState>,
    Meta(meta): Meta,
    form: OAuthForm,
) -> ApiResult<StatusCode> {
    let token = form.require("token")?;
    tokens::revoke_presented(&state, token, &meta).await?;
    Ok(StatusCode::OK)
}
