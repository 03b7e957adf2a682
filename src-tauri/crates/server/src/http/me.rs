//! `GET /me`: who the token acts as, answered from the cached validation.

use super::{ApiError, ApiResult, Auth};
use crate::error::Error;
use crate::model::Role;
use crate::policy::{self, Act};
use crate::route_table::Routes;
use crate::wire;
use axum::Json;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use devauth_proto::{ErrorBody, Me, MeToken, OrgRef, UserRef};
use std::borrow::Cow;

pub fn routes() -> Routes {
    Routes::new().add("/me", get(me))
}

/// Who the token acts as: its user, its org, the member's role *now* (or
/// `service`), its scopes.
#[utoipa::path(get, path = "/me", tag = "account", security(("bearer" = [])),
    responses(
        (status = 200, body = Me<'static>),
        (status = 401, description = "missing, malformed, unknown, expired or revoked", body = ErrorBody),
        (status = 403, description = "the token lacks `profile:read`", body = ErrorBody),
    ))]
async fn me(Auth(principal, _): Auth) -> ApiResult<Response> {
    policy::check(&principal, Act::ReadProfile)?;
    let (Some(t), Some(org)) = (principal.token(), principal.org()) else {
        return Err(ApiError::from(Error::Unauthenticated));
    };
    let body = Me {
        user: principal.user().map(|u| UserRef {
            id: Cow::Borrowed(&u.id),
            email: Cow::Borrowed(&u.email),
            name: Cow::Borrowed(&u.name),
        }),
        org: OrgRef {
            id: Cow::Borrowed(&org.id),
            slug: Cow::Borrowed(&org.slug),
            name: Cow::Borrowed(&org.name),
        },
        role: Cow::Borrowed(principal.role().map_or("service", Role::as_str)),
        scopes: Cow::Borrowed(&t.scopes),
        token: MeToken {
            id: Cow::Borrowed(&t.id),
            name: Cow::Borrowed(&t.name),
            kind: t.kind,
            hint: Cow::Borrowed(&t.hint),
            created_at: wire::time(t.created_at),
            expires_at: wire::opt_time(t.expires_at),
        },
    };
    Ok(Json(body).into_response())
}
