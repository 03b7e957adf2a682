//! Deciding device requests with a token (the pages call the same service),
//! and the first-run setup claim.

use super::{ApiResult, Auth, JsonBody, created};
use crate::device_flow;
use crate::error::Error;
use crate::request::Meta;
use crate::route_table::Routes;
use crate::secret::Secret;
use crate::setup::{self, ClaimRequest};
use crate::state::AppState;
use crate::wire;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use devauth_proto::{
    Access, DeviceDecision, DeviceRequestOne, ErrorBody, SetupClaim, SetupClaimed, SetupStatus,
};

pub fn routes() -> Routes {
    Routes::new()
        .add("/api/device/lookup", post(lookup))
        .add("/api/device/approve", post(approve))
        .add("/api/device/deny", post(deny))
        .add("/api/setup/status", get(setup_status))
        .add("/api/setup/claim", post(setup_claim))
}

/// The request a user code belongs to; 5 wrong codes a minute per user and
/// per address, then 429.
#[utoipa::path(post, path = "/api/device/lookup", operation_id = "lookup_device", tag = "device", security(("bearer" = [])),
    request_body = DeviceDecision,
    responses((status = 200, body = DeviceRequestOne), (status = 400, description = "an unknown code", body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn lookup(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    JsonBody(body): JsonBody<DeviceDecision>,
) -> ApiResult<Json<DeviceRequestOne>> {
    let request = device_flow::lookup(&state, &principal, &body.user_code, &meta).await?;
    Ok(Json(wire::device_request(&request, &meta)))
}

/// Approves into this token's org; the device gets this token's scopes.
#[utoipa::path(post, path = "/api/device/approve", operation_id = "approve_device", tag = "device", security(("bearer" = [])),
    request_body = DeviceDecision,
    responses((status = 200, body = DeviceRequestOne), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, description = "already decided or expired", body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    JsonBody(body): JsonBody<DeviceDecision>,
) -> ApiResult<Json<DeviceRequestOne>> {
    let org = body.org.as_deref().ok_or_else(|| {
        Error::invalid("missing `org`: the slug of the organization to approve into")
    })?;
    let grant = device_flow::Grant {
        read_only: body.access == Some(Access::Read),
        days: body.days,
    };
    let request =
        device_flow::approve(&state, &principal, &body.user_code, org, grant, &meta).await?;
    Ok(Json(wire::device_request(&request, &meta)))
}

/// Denies a request.
#[utoipa::path(post, path = "/api/device/deny", operation_id = "deny_device", tag = "device", security(("bearer" = [])),
    request_body = DeviceDecision,
    responses((status = 200, body = DeviceRequestOne), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn deny(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    JsonBody(body): JsonBody<DeviceDecision>,
) -> ApiResult<Json<DeviceRequestOne>> {
    let request = device_flow::deny(&state, &principal, &body.user_code, &meta).await?;
    Ok(Json(wire::device_request(&request, &meta)))
}

/// Whether the first owner exists.
#[utoipa::path(get, path = "/api/setup/status", tag = "setup",
    responses((status = 200, body = SetupStatus)))]
async fn setup_status(State(state): State<AppState>) -> ApiResult<Json<SetupStatus>> {
    let claimed = state.store.setup_claimed().await.map_err(Error::from)?;
    Ok(Json(SetupStatus { claimed }))
}

/// The first owner, their org and first token (shown once), with the setup
/// token; 409 for good once claimed.
#[utoipa::path(post, path = "/api/setup/claim", tag = "setup",
    request_body = SetupClaim,
    responses((status = 201, body = SetupClaimed), (status = 400, body = ErrorBody), (status = 403, description = "a wrong setup token", body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn setup_claim(
    State(state): State<AppState>,
    Meta(meta): Meta,
    JsonBody(body): JsonBody<SetupClaim>,
) -> ApiResult<Response> {
    let req = ClaimRequest {
        setup_token: body.setup_token.map(|t| Secret::new(t.expose())),
        email: body.email,
        name: body.name,
        password: Secret::new(body.password.expose()),
        org_name: body.org_name,
    };
    let claimed = setup::claim(&state, req, &meta).await?;
    let issued = wire::issued(&claimed.issued);
    Ok(created(SetupClaimed {
        user: wire::user(&claimed.user),
        org: wire::org(&claimed.org),
        token: issued.token,
        info: issued.info,
    }))
}
