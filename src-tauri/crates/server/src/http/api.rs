//! The JSON API: `/me`, tokens, org members and audit, setup, and the device
//! approval service for signed-in callers.

use super::{ApiError, ApiResult};
use super::{Auth, JsonBody, created};
use crate::audit;
use crate::device_flow;
use crate::error::Error;
use crate::members;
use crate::model::*;
use crate::policy::{self, Act, Principal};
use crate::request::Meta;
use crate::secret::Secret;
use crate::setup::{self, ClaimRequest};
use crate::state::AppState;
use crate::tokens::{self, TokenRequest};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route("/api/tokens/revoke-all", post(revoke_all))
        .route("/api/tokens/{id}", delete(revoke_token).get(get_token))
        .route("/api/tokens/{id}/rotate", post(rotate_token))
        .route(
            "/api/orgs/{org}/members",
            get(list_members).post(add_member),
        )
        .route(
            "/api/orgs/{org}/members/{user}",
            delete(remove_member).patch(change_role),
        )
        .route("/api/orgs/{org}/audit", get(audit))
        .route("/api/setup/status", get(setup_status))
        .route("/api/setup/claim", post(setup_claim))
        .route("/api/device/lookup", post(device_lookup))
        .route("/api/device/approve", post(device_approve))
        .route("/api/device/deny", post(device_deny))
}

/// The body of `GET /me`, serialized straight from the cached validation.
#[derive(Serialize)]
struct MeBody<'a> {
    user: Option<MeUser<'a>>,
    org: MeOrg<'a>,
    /// The member's role now, or `service`.
    role: &'a str,
    scopes: &'a [Scope],
    token: MeToken<'a>,
}

#[derive(Serialize)]
struct MeUser<'a> {
    id: &'a str,
    email: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct MeOrg<'a> {
    id: &'a str,
    slug: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct MeToken<'a> {
    id: &'a str,
    name: &'a str,
    kind: TokenKind,
    hint: &'a str,
    #[serde(serialize_with = "ser_time")]
    created_at: i64,
    #[serde(serialize_with = "ser_opt_time")]
    expires_at: Option<i64>,
}

async fn me(Auth(principal, _): Auth) -> ApiResult<Response> {
    policy::check(&principal, Act::ReadProfile)?;
    let (Some(t), Some(org)) = (principal.token(), principal.org()) else {
        return Err(Error::Unauthenticated.into());
    };
    let body = MeBody {
        user: principal.user().map(|u| MeUser {
            id: &u.id,
            email: &u.email,
            name: &u.name,
        }),
        org: MeOrg {
            id: &org.id,
            slug: &org.slug,
            name: &org.name,
        },
        role: principal.role().map_or("service", Role::as_str),
        scopes: &t.scopes,
        token: MeToken {
            id: &t.id,
            name: &t.name,
            kind: t.kind,
            hint: &t.hint,
            created_at: t.created_at,
            expires_at: t.expires_at,
        },
    };
    Ok(Json(body).into_response())
}

#[derive(Deserialize, Default)]
struct ListQuery {
    scope: Option<String>,
}

async fn list_tokens(
    State(state): State<AppState>,
    Auth(principal, _): Auth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let whole_org = match q.scope.as_deref() {
        None | Some("own") => false,
        Some("org") => true,
        Some(other) => {
            return Err(ApiError::invalid_request(format!(
                "scope must be `own` or `org`, not `{other}`"
            )));
        }
    };
    let tokens = tokens::list(&state, &principal, whole_org).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

async fn get_token(
    State(state): State<AppState>,
    Auth(principal, _): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let token = tokens::get(&state, &principal, &id).await?;
    Ok(Json(json!({ "token": token })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    expires: Option<String>,
    #[serde(default)]
    scopes: ScopeList,
    kind: Option<TokenKind>,
}

/// Scopes as a JSON list or a space-separated string.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum ScopeList {
    #[default]
    None,
    List(Vec<Scope>),
    Text(String),
}

impl ScopeList {
    fn parse(self) -> Result<Vec<Scope>, Error> {
        match self {
            ScopeList::None => Ok(Vec::new()),
            ScopeList::List(list) => parse_scopes(
                &list
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .map_err(Error::invalid),
            ScopeList::Text(text) => parse_scopes(&text).map_err(Error::invalid),
        }
    }
}

async fn create_token(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    JsonBody(body): JsonBody<CreateToken>,
) -> ApiResult<Response> {
    let req = TokenRequest {
        name: body.name,
        kind: body.kind.unwrap_or(TokenKind::Personal),
        expires: body.expires,
        scopes: body.scopes.parse()?,
    };
    Ok(created(
        tokens::create(&state, &principal, req, &meta).await?,
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let token = tokens::revoke(&state, &principal, &id, &meta).await?;
    Ok(Json(json!({ "token": token })))
}

async fn rotate_token(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(created(
        tokens::rotate(&state, &principal, &id, &meta).await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevokeAll {
    user: Option<String>,
}

async fn revoke_all(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    // The body is optional: none means "all of my tokens".
    let body: RevokeAll = if body.iter().all(u8::is_ascii_whitespace) {
        RevokeAll::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?
    };
    let revoked = tokens::revoke_all(&state, &principal, body.user.as_deref(), &meta).await?;
    Ok(Json(json!({ "revoked": revoked })))
}

/// The org named in the path: the token's own, since a token's authority
/// never leaves its org.
fn org_in_path(principal: &Principal, slug: &str) -> Result<Arc<Org>, Error> {
    principal
        .org()
        .filter(|org| org.slug == slug)
        .cloned()
        .ok_or_else(|| policy::outside_org(principal).into())
}

async fn list_members(
    State(state): State<AppState>,
    Auth(principal, _): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = org_in_path(&principal, &slug)?;
    let members = members::list(&state, &principal, &org).await?;
    Ok(Json(json!({ "members": members })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddMember {
    email: String,
    role: Role,
}

async fn add_member(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody<AddMember>,
) -> ApiResult<Response> {
    let org = org_in_path(&principal, &slug)?;
    let member = members::add(&state, &principal, &org, &body.email, body.role, &meta).await?;
    Ok(created(json!({ "member": member })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeRole {
    role: Role,
}

async fn change_role(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path((slug, user)): Path<(String, String)>,
    JsonBody(body): JsonBody<ChangeRole>,
) -> ApiResult<Json<Value>> {
    let org = org_in_path(&principal, &slug)?;
    let member = members::set_role(&state, &principal, &org, &user, body.role, &meta).await?;
    Ok(Json(json!({ "member": member })))
}

async fn remove_member(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path((slug, user)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let org = org_in_path(&principal, &slug)?;
    let revoked = members::remove(&state, &principal, &org, &user, &meta).await?;
    Ok(Json(json!({ "removed": true, "tokens_revoked": revoked })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    action: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

fn parse_time(field: &str, text: Option<&str>) -> Result<Option<i64>, Error> {
    let Some(text) = text else { return Ok(None) };
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(Some(secs));
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| Some(t.unix_timestamp()))
        .map_err(|_| {
            Error::invalid(format!(
                "`{field}` must be RFC 3339 (2026-01-31T12:00:00Z) or Unix seconds"
            ))
        })
}

async fn audit(
    State(state): State<AppState>,
    Auth(principal, _): Auth,
    Path(slug): Path<String>,
    Query(q): Query<AuditParams>,
) -> ApiResult<Json<Value>> {
    let org = org_in_path(&principal, &slug)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_request("limit must be between 1 and 500"));
    }
    let query = AuditQuery {
        org_id: Some(org.id.clone()),
        action: q.action,
        actor: q.actor,
        since: parse_time("since", q.since.as_deref())?,
        until: parse_time("until", q.until.as_deref())?,
        before: q.before,
        limit,
    };
    let events = audit::list(&state, &principal, &query).await?;
    let next = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({ "events": events, "next_before": next })))
}

async fn setup_status(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "claimed": state.store.setup_claimed().await? }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Claim {
    setup_token: Option<Secret>,
    email: String,
    name: String,
    password: Secret,
    org_name: String,
}

async fn setup_claim(
    State(state): State<AppState>,
    Meta(meta): Meta,
    JsonBody(body): JsonBody<Claim>,
) -> ApiResult<Response> {
    let req = ClaimRequest {
        setup_token: body.setup_token,
        email: body.email,
        name: body.name,
        password: body.password,
        org_name: body.org_name,
    };
    let claimed = setup::claim(&state, req, &meta).await?;
    Ok(created(json!({
        "user": claimed.user,
        "org": claimed.org,
        "token": claimed.issued.token.expose(),
        "info": claimed.issued.info,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceDecision {
    user_code: String,
    org: Option<String>,
}

async fn device_lookup(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    JsonBody(body): JsonBody<DeviceDecision>,
) -> ApiResult<Json<Value>> {
    let request = device_flow::lookup(&state, &principal, &body.user_code, &meta).await?;
    Ok(Json(json!({ "request": request })))
}

async fn device_approve(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    JsonBody(body): JsonBody<DeviceDecision>,
) -> ApiResult<Json<Value>> {
    let org = body.org.as_deref().ok_or_else(|| {
        ApiError::invalid_request("missing `org`: the slug of the organization to approve into")
    })?;
    let request = device_flow::approve(&state, &principal, &body.user_code, org, &meta).await?;
    Ok(Json(json!({ "request": request })))
}

async fn device_deny(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    JsonBody(body): JsonBody<DeviceDecision>,
) -> ApiResult<Json<Value>> {
    let request = device_flow::deny(&state, &principal, &body.user_code, &meta).await?;
    Ok(Json(json!({ "request": request })))
}
