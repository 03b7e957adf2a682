//! `/admin/{org}`: members and roles (removal revokes the member's tokens and
//! says how many), every token of the org, service tokens, the audit log.

use super::page::{error_page, layout, message, refuse_post, status_of, to_login, with_fault};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::audit;
use crate::device_policy::PolicyMode;
use crate::error::{Error, Result};
use crate::members;
use crate::model::{AuditQuery, Org, Role, RoleExt, TokenKind, parse_scopes};
use crate::org_policy::{self, PolicyChange};
use crate::policy::{self, Act, Principal};
use crate::state::AppState;
use crate::tokens::{self, TokenRequest};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::Arc;

/// The page: the orgs you administer (straight to the only one).
#[utoipa::path(get, path = "/admin", operation_id = "page_admin_index", tag = "pages",
    responses((status = 200, description = "the list", content_type = "text/html"), (status = 303, description = "to the only org, or to `/login`")))]
pub async fn index(State(state): State<AppState>, visitor: Visitor) -> Response {
    let Some(user) = visitor.user.clone() else {
        return visitor.finish(to_login("/admin"));
    };
    let orgs: Vec<OrgOption> = match state.store.orgs_of_user(&user.id).await {
        Ok(orgs) => orgs
            .into_iter()
            .filter(|(_, role)| role.administers())
            .map(|(org, role)| OrgOption {
                slug: org.slug,
                name: org.name,
                role: role.to_string(),
            })
            .collect(),
        Err(err) => return error_page(&visitor, err.into()),
    };
    if let [only] = orgs.as_slice() {
        return visitor.finish(Redirect::to(&format!("/admin/{}", only.slug)).into_response());
    }
    let page = AdminIndexPage {
        layout: layout(&visitor, "Administration"),
        orgs,
    };
    visitor.finish(render(StatusCode::OK, &page))
}

/// The signed-in user acting in `slug`, if the policy lets them administer it.
async fn admin_of(
    state: &AppState,
    visitor: &Visitor,
    slug: &str,
) -> Result<(Principal, Arc<Org>)> {
    let user = visitor.user.clone().ok_or(Error::Unauthenticated)?;
    let refused =
        || Error::forbidden("only owners and admins of this organization can see this page");
    let org = Arc::new(state.store.org_by_slug(slug).await?.ok_or_else(refused)?);
    let role = state.store.role_of(&org.id, &user.id).await?;
    let principal = Principal::session_in(user, org.clone(), role);
    policy::check(&principal, Act::ListMembers { org_id: &org.id }).map_err(|_| refused())?;
    Ok((principal, org))
}

fn denied(visitor: &Visitor, err: Error) -> Response {
    let mut response = message(
        visitor,
        status_of(&err),
        "Not allowed",
        &err.to_string(),
        "error",
        Some(("/account", "Back to your account")),
    );
    with_fault(&mut response, &err);
    response
}

#[derive(Deserialize, Default)]
pub struct AuditFilter {
    action: Option<String>,
    actor: Option<String>,
    before: Option<i64>,
}

struct Extras {
    status: StatusCode,
    shown_once: Option<ShownOnce>,
    notice: Option<String>,
    error: Option<String>,
}

async fn render_admin(
    state: &AppState,
    visitor: &Visitor,
    principal: &Principal,
    org: &Org,
    filter: AuditFilter,
    extras: Extras,
) -> Response {
    let now = state.now();
    let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (action, actor) = (clean(filter.action), clean(filter.actor));
    let query = AuditQuery {
        org_id: Some(org.id.clone()),
        action: action.clone(),
        actor: actor.clone(),
        before: filter.before,
        limit: 50,
        ..Default::default()
    };
    let loaded = async {
        let members = members::list(state, principal, org).await?;
        let tokens = tokens::list(state, principal, true).await?;
        let events = audit::list(state, principal, &query).await?;
        let device_policy = org_policy::get(state, principal, org).await?;
        Ok::<_, Error>((members, tokens, events, device_policy))
    }
    .await;
    let (members, tokens, events, device_policy) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return error_page(visitor, err),
    };
    let next_before = (events.len() == 50)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    let page = AdminPage {
        layout: layout(visitor, &format!("Admin · {}", org.name)),
        org_slug: org.slug.clone(),
        org_name: org.name.clone(),
        members: members.iter().map(MemberRow::new).collect(),
        tokens: tokens.iter().map(|t| TokenRow::new(t, now)).collect(),
        events: events.iter().map(EventRow::new).collect(),
        filter_action: action.unwrap_or_default(),
        filter_actor: actor.unwrap_or_default(),
        next_before,
        shown_once: extras.shown_once,
        notice: extras.notice,
        error: extras.error,
        scopes: scope_names(),
        policy: PolicyView::new(
            &device_policy,
            policy::check(principal, Act::SetDevicePolicy { org_id: &org.id }).is_ok(),
            state.config.token_ttl_days,
        ),
    };
    visitor.finish(render(extras.status, &page))
}

/// The page: members and roles, every token, service tokens and the audit log of an org you administer; `?action=`, `?actor=`, `?before=` filter the log.
#[utoipa::path(get, path = "/admin/{org}", operation_id = "page_admin_show", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, description = "the admin page", content_type = "text/html"), (status = 403, description = "not an owner or admin there", content_type = "text/html")))]
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    if visitor.user.is_none() {
        return visitor.finish(to_login(&format!("/admin/{slug}")));
    }
    match admin_of(&state, &visitor, &slug).await {
        Ok((principal, org)) => {
            let extras = Extras {
                status: StatusCode::OK,
                shown_once: None,
                notice: None,
                error: None,
            };
            render_admin(&state, &visitor, &principal, &org, filter, extras).await
        }
        Err(err) => denied(&visitor, err),
    }
}

/// Runs an admin action and shows the page with its outcome.
async fn act<F, Fut>(
    state: &AppState,
    visitor: &Visitor,
    slug: &str,
    form: &WebForm,
    action: F,
) -> Response
where
    F: FnOnce(Principal, Arc<Org>) -> Fut,
    Fut: std::future::Future<Output = Result<(Option<ShownOnce>, String)>>,
{
    if let Some(refusal) = refuse_post(visitor, form, &format!("/admin/{slug}")) {
        return refusal;
    }
    let (principal, org) = match admin_of(state, visitor, slug).await {
        Ok(found) => found,
        Err(err) => return denied(visitor, err),
    };
    let mut fault = None;
    let extras = match action(principal, org.clone()).await {
        Ok((shown_once, notice)) => Extras {
            status: StatusCode::OK,
            shown_once,
            notice: Some(notice),
            error: None,
        },
        Err(err) => {
            fault = Some(err.fault());
            Extras {
                status: status_of(&err),
                shown_once: None,
                notice: None,
                error: Some(err.to_string()),
            }
        }
    };
    // Asked again: the action may have changed what the caller may see.
    let principal = match admin_of(state, visitor, slug).await {
        Ok((principal, _)) => principal,
        Err(_) => {
            let body = extras.notice.or(extras.error).unwrap_or_default();
            return message(
                visitor,
                extras.status,
                "Done",
                &format!("{body} You no longer administer this organization."),
                "ok",
                Some(("/account", "Back to your account")),
            );
        }
    };
    let mut response = render_admin(
        state,
        visitor,
        &principal,
        &org,
        AuditFilter::default(),
        extras,
    )
    .await;
    if let Some(Some(detail)) = fault {
        response
            .extensions_mut()
            .insert(crate::request::Fault(detail));
    }
    response
}

fn role_field(form: &WebForm) -> Result<Role> {
    form.text("role").parse().map_err(Error::invalid)
}

/// The page: adds an existing user (fields `email`, `role`, `csrf_token`).
#[utoipa::path(post, path = "/admin/{org}/members", operation_id = "page_admin_add_member", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, description = "the admin page with the outcome", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 404, description = "no such user", content_type = "text/html")))]
pub async fn add_member(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(state, &visitor, &slug, form, |principal, org| async move {
        let member = members::add(
            state,
            &principal,
            &org,
            form.text("email").trim(),
            role_field(form)?,
            meta,
        )
        .await?;
        Ok((
            None,
            format!("Added {} as {}.", member.user.email, member.role),
        ))
    })
    .await
}

/// The page: changes a member's role (fields `role`, `csrf_token`).
#[utoipa::path(post, path = "/admin/{org}/members/{user}/role", operation_id = "page_admin_change_role", tag = "pages",
    params(("org" = String, Path, description = "the org's slug"), ("user" = String, Path, description = "the member's email or id")),
    responses((status = 200, description = "the admin page with the outcome", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 409, description = "the last owner stays", content_type = "text/html")))]
pub async fn change_role(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, user)): Path<(String, String)>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(state, &visitor, &slug, form, |principal, org| async move {
        let member =
            members::set_role(state, &principal, &org, &user, role_field(form)?, meta).await?;
        Ok((
            None,
            format!("{} is now {}.", member.user.email, member.role),
        ))
    })
    .await
}

/// The page: removes a member and revokes their tokens in the org (field `csrf_token`).
#[utoipa::path(post, path = "/admin/{org}/members/{user}/remove", operation_id = "page_admin_remove_member", tag = "pages",
    params(("org" = String, Path, description = "the org's slug"), ("user" = String, Path, description = "the member's email or id")),
    responses((status = 200, description = "the admin page with the outcome", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 409, description = "the last owner stays", content_type = "text/html")))]
pub async fn remove_member(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, user)): Path<(String, String)>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(state, &visitor, &slug, form, |principal, org| async move {
        let email = state
            .store
            .user_by_id(&user)
            .await?
            .map(|u| u.email)
            .unwrap_or_else(|| user.clone());
        let revoked = members::remove(state, &principal, &org, &user, meta).await?;
        let plural = if revoked == 1 { "" } else { "s" };
        Ok((
            None,
            format!(
                "Removed {email} from {}; {revoked} token{plural} revoked.",
                org.slug
            ),
        ))
    })
    .await
}

/// The page: revokes a token of the org (field `csrf_token`).
#[utoipa::path(post, path = "/admin/{org}/tokens/{id}/revoke", operation_id = "page_admin_revoke_token", tag = "pages",
    params(("org" = String, Path, description = "the org's slug"), ("id" = String, Path, description = "the token's id")),
    responses((status = 200, description = "the admin page with the outcome", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 404, description = "no such token", content_type = "text/html")))]
pub async fn revoke_token(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, id)): Path<(String, String)>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(state, &visitor, &slug, form, |principal, _| async move {
        let view = tokens::revoke(state, &principal, &id, meta).await?;
        Ok((
            None,
            format!("Revoked `{}` ({}).", view.token.name, view.token.hint),
        ))
    })
    .await
}

/// The page: creates a service token (fields `name`, `expires`, `scopes`, `csrf_token`), shown once.
#[utoipa::path(post, path = "/admin/{org}/service-tokens", operation_id = "page_admin_create_service_token", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, description = "the admin page with the token shown once", content_type = "text/html"), (status = 400, description = "the page with the problem", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html")))]
pub async fn create_service_token(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(state, &visitor, &slug, form, |principal, _| async move {
        let req = TokenRequest {
            name: form.text("name"),
            kind: TokenKind::Service,
            expires: form.get("expires").map(str::to_string),
            scopes: parse_scopes(&form.all("scopes").join(" ")).map_err(Error::invalid)?,
        };
        let issued = tokens::create(state, &principal, req, meta).await?;
        let name = issued.info.token.name.clone();
        Ok((
            Some(ShownOnce {
                name: name.clone(),
                value: issued.token.expose().to_string(),
            }),
            format!("Created service token `{name}`."),
        ))
    })
    .await
}

/// The page: sets the org's device policy (owners; fields `device_flow=on|off`,
/// `device_networks` (one per line or comma-separated), `device_token_days`
/// (empty: the server's lifetime), `mode=enforce|report`, `csrf_token`).
#[utoipa::path(post, path = "/admin/{org}/policy", operation_id = "page_admin_set_policy", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, description = "the admin page with the outcome", content_type = "text/html"), (status = 400, description = "the page with the problem", content_type = "text/html"), (status = 403, description = "not an owner", content_type = "text/html")))]
pub async fn set_policy(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(state, &visitor, &slug, form, |principal, org| async move {
        let days = form.text("device_token_days");
        let days = match days.trim() {
            "" => None,
            text => Some(text.parse::<i64>().map_err(|_| {
                Error::invalid(format!(
                    "the longest device token is a number of days, not `{text}`"
                ))
            })?),
        };
        let mode = match form.get("mode") {
            Some(mode) => Some(PolicyMode::parse(mode).map_err(Error::invalid)?),
            None => None,
        };
        let change = PolicyChange {
            device_flow: form.get("device_flow").map(|v| v == "on"),
            device_networks: Some(
                form.text("device_networks")
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            device_token_days: Some(days),
            mode,
        };
        let saved = org_policy::set(state, &principal, &org, &change, meta).await?;
        Ok((None, format!("Device policy saved: {}.", saved.describe())))
    })
    .await
}
