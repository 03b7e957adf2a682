//! The token API: list, read, create (shown once), revoke, rotate, revoke all.

use super::{ApiResult, Auth, JsonBody, created};
use crate::error::Error;
use crate::model::{Scope, TokenKind, parse_scopes};
use crate::route_table::Routes;
use crate::state::AppState;
use crate::tokens::{self, TokenRequest};
use crate::wire;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use devauth_proto::{
    CreateToken, ErrorBody, IssuedToken, RevokeAll, Revoked, ScopeList, TokenList, TokenOne,
};
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .add("/api/tokens", get(list).post(create))
        .add("/api/tokens/revoke-all", post(revoke_all))
        .add("/api/tokens/{id}", get(read).delete(revoke))
        .add("/api/tokens/{id}/rotate", post(rotate))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `own` (the default): your tokens in this token's org; `org`: every
    /// token of the org (owners and admins).
    scope: Option<String>,
}

/// Your tokens, or with `?scope=org` every token of the org.
#[utoipa::path(get, path = "/api/tokens", operation_id = "list_tokens", tag = "tokens", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = TokenList), (status = 403, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    Auth(principal, _): Auth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<TokenList>> {
    let whole_org = match q.scope.as_deref() {
        None | Some("own") => false,
        Some("org") => true,
        Some(other) => {
            return Err(
                Error::invalid(format!("scope must be `own` or `org`, not `{other}`")).into(),
            );
        }
    };
    let tokens = tokens::list(&state, &principal, whole_org).await?;
    Ok(Json(wire::tokens(&tokens)))
}

/// One token you may see.
#[utoipa::path(get, path = "/api/tokens/{id}", operation_id = "read_token", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "the token's id")),
    responses((status = 200, body = TokenOne), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn read(
    State(state): State<AppState>,
    Auth(principal, _): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenOne>> {
    let token = tokens::get(&state, &principal, &id).await?;
    Ok(Json(TokenOne {
        token: wire::token(&token),
    }))
}

fn scopes(list: ScopeList) -> Result<Vec<Scope>, Error> {
    match list {
        ScopeList::None => Ok(Vec::new()),
        ScopeList::List(list) => Ok(parse_scopes(
            &list
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
        .map_err(Error::invalid)?),
        ScopeList::Text(text) => parse_scopes(&text).map_err(Error::invalid),
    }
}

/// A personal token for you, or (owners and admins) a service token of the
/// org; shown this once. Scopes: a subset of yours; none named: yours.
#[utoipa::path(post, path = "/api/tokens", operation_id = "create_token", tag = "tokens", security(("bearer" = [])),
    request_body = CreateToken,
    responses((status = 201, body = IssuedToken), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    JsonBody(body): JsonBody<CreateToken>,
) -> ApiResult<Response> {
    let req = TokenRequest {
        name: body.name,
        kind: body.kind.unwrap_or(TokenKind::Personal),
        expires: body.expires,
        scopes: scopes(body.scopes)?,
    };
    let issued = tokens::create(&state, &principal, req, &meta).await?;
    Ok(created(wire::issued(&issued)))
}

/// Revokes your token, or (owners and admins) any of the org's; an owner's
/// only by an owner.
#[utoipa::path(delete, path = "/api/tokens/{id}", operation_id = "revoke_token", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "the token's id")),
    responses((status = 200, body = TokenOne), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenOne>> {
    let token = tokens::revoke(&state, &principal, &id, &meta).await?;
    Ok(Json(TokenOne {
        token: wire::token(&token),
    }))
}

/// A new token in place of one of yours (same name, kind, scopes and
/// lifetime); service tokens by owners and admins.
#[utoipa::path(post, path = "/api/tokens/{id}/rotate", operation_id = "rotate_token", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "the token's id")),
    responses((status = 201, body = IssuedToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn rotate(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let issued = tokens::rotate(&state, &principal, &id, &meta).await?;
    Ok(created(wire::issued(&issued)))
}

/// Revokes all your tokens in this token's org, or (owners and admins,
/// `{"user"}`) all of a member's.
#[utoipa::path(post, path = "/api/tokens/revoke-all", operation_id = "revoke_all_tokens", tag = "tokens", security(("bearer" = [])),
    request_body(content = Option<RevokeAll>, description = "optional; none: all of mine"),
    responses((status = 200, body = Revoked), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_all(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    body: axum::body::Bytes,
) -> ApiResult<Json<Revoked>> {
    // The body is optional: none means "all of my tokens".
    let body: RevokeAll = if body.iter().all(u8::is_ascii_whitespace) {
        RevokeAll::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Error::invalid(format!("invalid JSON body: {e}")))?
    };
    let revoked = tokens::revoke_all(&state, &principal, body.user.as_deref(), &meta).await?;
    Ok(Json(Revoked { revoked }))
}
