//! An org's members and roles, and its audit log. `{org}` must be the
//! token's own org: a token's authority never leaves it.

use super::{ApiResult, Auth, JsonBody, created};
use crate::audit;
use crate::error::Error;
use crate::members;
use crate::model::{AuditQuery, Org};
use crate::org_policy;
use crate::policy::{self, Principal};
use crate::route_table::Routes;
use crate::state::AppState;
use crate::wire;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, patch};
use devauth_proto::{
    AddMember, AuditPage, ChangeRole, DevicePolicyChange, ErrorBody, MemberList, MemberOne, Removed,
};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Routes {
    Routes::new()
        .add(
            "/api/orgs/{org}/members",
            get(list_members).post(add_member),
        )
        .add(
            "/api/orgs/{org}/members/{user}",
            patch(change_role).delete(remove_member),
        )
        .add("/api/orgs/{org}/audit", get(audit_log))
        .add(
            "/api/orgs/{org}/policy",
            get(get_policy).patch(change_policy),
        )
        .add(
            "/api/orgs/{org}/invitations",
            get(list_invitations).post(invite),
        )
        .add(
            "/api/orgs/{org}/members/{user}/password-reset",
            axum::routing::post(password_reset),
        )
        .add(
            "/api/orgs/{org}/invitations/{id}",
            axum::routing::delete(withdraw_invitation),
        )
}

/// Invites an email address into the org with a role (owners and admins, no
/// higher a role than they may grant); the link is in the answer only.
#[utoipa::path(post, path = "/api/orgs/{org}/invitations", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug")),
    request_body = devauth_proto::CreateInvitation,
    responses((status = 201, body = devauth_proto::InvitationCreated), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, description = "a member already", body = ErrorBody)))]
async fn invite(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody<devauth_proto::CreateInvitation>,
) -> ApiResult<Response> {
    let org = org_in_path(&principal, &slug)?;
    let made =
        crate::invitations::create(&state, &principal, &org, &body.email, body.role, &meta).await?;
    let mut invitation = made.invitation;
    invitation.invited_by_email = principal.user().map(|u| u.email.clone());
    Ok(created(devauth_proto::InvitationCreated {
        invitation: wire::invitation(&invitation),
        link: devauth_proto::Secret::new(made.link.expose()),
        mailed: made.mailed,
    }))
}

/// The org's pending invitations (owners and admins).
#[utoipa::path(get, path = "/api/orgs/{org}/invitations", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, body = devauth_proto::InvitationList), (status = 403, body = ErrorBody)))]
async fn list_invitations(
    State(state): State<AppState>,
    Auth(principal, _): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<devauth_proto::InvitationList>> {
    let org = org_in_path(&principal, &slug)?;
    let pending = crate::invitations::pending(&state, &principal, &org).await?;
    Ok(Json(devauth_proto::InvitationList {
        invitations: pending.iter().map(wire::invitation).collect(),
    }))
}

/// Withdraws a pending invitation: its link stops working.
#[utoipa::path(delete, path = "/api/orgs/{org}/invitations/{id}", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug"), ("id" = String, Path, description = "the invitation's id")),
    responses((status = 200, body = devauth_proto::InvitationList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn withdraw_invitation(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<Json<devauth_proto::InvitationList>> {
    let org = org_in_path(&principal, &slug)?;
    crate::invitations::withdraw(&state, &principal, &org, &id, &meta).await?;
    let pending = crate::invitations::pending(&state, &principal, &org).await?;
    Ok(Json(devauth_proto::InvitationList {
        invitations: pending.iter().map(wire::invitation).collect(),
    }))
}

/// The org's device policy (owners and admins).
#[utoipa::path(get, path = "/api/orgs/{org}/policy", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, body = devauth_proto::DevicePolicy), (status = 403, body = ErrorBody)))]
pub(crate) async fn get_policy(
    State(state): State<AppState>,
    Auth(principal, _): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<devauth_proto::DevicePolicy>> {
    let org = org_in_path(&principal, &slug)?;
    let policy = org_policy::get(&state, &principal, &org).await?;
    Ok(Json(wire::device_policy(&policy)))
}

/// Changes the org's device policy (owners only); what is not sent stays.
#[utoipa::path(patch, path = "/api/orgs/{org}/policy", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug")),
    request_body = DevicePolicyChange,
    responses((status = 200, body = devauth_proto::DevicePolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn change_policy(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody<DevicePolicyChange>,
) -> ApiResult<Json<devauth_proto::DevicePolicy>> {
    let org = org_in_path(&principal, &slug)?;
    let change = wire::policy_change(body);
    let policy = org_policy::set(&state, &principal, &org, &change, &meta).await?;
    Ok(Json(wire::device_policy(&policy)))
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

/// The org's members (owners and admins).
#[utoipa::path(get, path = "/api/orgs/{org}/members", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, body = MemberList), (status = 403, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    Auth(principal, _): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<MemberList>> {
    let org = org_in_path(&principal, &slug)?;
    let members = members::list(&state, &principal, &org).await?;
    Ok(Json(wire::members(&members)))
}

/// Adds an existing user (owners and admins; as owner: owners only).
#[utoipa::path(post, path = "/api/orgs/{org}/members", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug")),
    request_body = AddMember,
    responses((status = 201, body = MemberOne), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_member(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody<AddMember>,
) -> ApiResult<Response> {
    let org = org_in_path(&principal, &slug)?;
    let member = members::add(&state, &principal, &org, &body.email, body.role, &meta).await?;
    Ok(created(MemberOne {
        member: wire::member(&member),
    }))
}

/// Changes a member's role; their tokens act with it from the next request.
#[utoipa::path(patch, path = "/api/orgs/{org}/members/{user}", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug"), ("user" = String, Path, description = "the member's email or id")),
    request_body = ChangeRole,
    responses((status = 200, body = MemberOne), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "the last owner stays", body = ErrorBody)))]
async fn change_role(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path((slug, user)): Path<(String, String)>,
    JsonBody(body): JsonBody<ChangeRole>,
) -> ApiResult<Json<MemberOne>> {
    let org = org_in_path(&principal, &slug)?;
    let member = members::set_role(&state, &principal, &org, &user, body.role, &meta).await?;
    Ok(Json(MemberOne {
        member: wire::member(&member),
    }))
}

/// Removes a member and revokes their tokens in the org.
#[utoipa::path(delete, path = "/api/orgs/{org}/members/{user}", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug"), ("user" = String, Path, description = "the member's email or id")),
    responses((status = 200, body = Removed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "the last owner stays", body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path((slug, user)): Path<(String, String)>,
) -> ApiResult<Json<Removed>> {
    let org = org_in_path(&principal, &slug)?;
    let tokens_revoked = members::remove(&state, &principal, &org, &user, &meta).await?;
    Ok(Json(Removed {
        removed: true,
        tokens_revoked,
    }))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// Only this action (`token.revoked`).
    action: Option<String>,
    /// Only this actor (email or id).
    actor: Option<String>,
    /// From this time (RFC 3339 or Unix seconds).
    since: Option<String>,
    /// Until this time.
    until: Option<String>,
    /// Events older than this id (the previous page's `next_before`).
    before: Option<i64>,
    /// 1–500, default 50.
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

/// The org's audit log, newest first, a page at a time (owners and admins).
#[utoipa::path(get, path = "/api/orgs/{org}/audit", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug"), AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn audit_log(
    State(state): State<AppState>,
    Auth(principal, _): Auth,
    Path(slug): Path<String>,
    Query(q): Query<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    let org = org_in_path(&principal, &slug)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit must be between 1 and 500").into());
    }
    let query = AuditQuery {
        org_id: Some(org.id.clone()),
        action: q.action,
        actor: q.actor,
        since: parse_time("since", q.since.as_deref())?,
        until: parse_time("until", q.until.as_deref())?,
        before: q.before,
        after: None,
        limit,
    };
    let events = audit::list(&state, &principal, &query).await?;
    let next_before = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage {
        events: events.iter().map(wire::audit_event).collect(),
        next_before,
    }))
}

/// Makes a one-time password reset link for a member (someone who may remove
/// them from every org they are in): `{link, expires_at}`, in this answer only.
#[utoipa::path(post, path = "/api/orgs/{org}/members/{user}/password-reset", tag = "orgs", security(("bearer" = [])),
    params(("org" = String, Path, description = "the org's slug"), ("user" = String, Path, description = "the member's email or id")),
    responses((status = 201, body = devauth_proto::PasswordResetCreated), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn password_reset(
    State(state): State<AppState>,
    Auth(principal, meta): Auth,
    Path((slug, user)): Path<(String, String)>,
) -> ApiResult<Response> {
    let org = org_in_path(&principal, &slug)?;
    let made = crate::resets::create(&state, &principal, &org, &user, &meta).await?;
    Ok(created(devauth_proto::PasswordResetCreated {
        link: devauth_proto::Secret::new(made.link.expose()),
        expires_at: wire::time(made.expires_at),
        mailed: made.mailed,
    }))
}
