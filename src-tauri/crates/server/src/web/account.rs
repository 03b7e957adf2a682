//! `/account`: my tokens, creating a personal token (shown once), rotating,
//! revoking one, revoking all (and signing out every browser).

use super::page::{
    error_page, form_user, layout, message, refuse_post, status_of, to_login, with_fault,
};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::error::{Error, Result};
use crate::model::{Role, RoleExt, TokenKind, parse_scopes};
use crate::policy::Principal;
use crate::state::AppState;
use crate::tokens::{self, TokenRequest};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

/// The account page, with whatever the last action has to say.
pub async fn render(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    shown_once: Option<ShownOnce>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let Some(user) = visitor.user.clone() else {
        return visitor.finish(to_login("/account"));
    };
    let now = state.now();
    let orgs = match state.store.orgs_of_user(&user.id).await {
        Ok(orgs) => orgs,
        Err(err) => return error_page(visitor, err.into()),
    };
    let tokens = match tokens::list(state, &Principal::session(user.clone()), false).await {
        Ok(tokens) => tokens,
        Err(err) => return error_page(visitor, err),
    };
    let option = |(org, role): &(crate::model::Org, Role)| OrgOption {
        slug: org.slug.clone(),
        name: org.name.clone(),
        role: role.to_string(),
    };
    let page = AccountPage {
        layout: layout(visitor, "Account"),
        email: user.email.clone(),
        name: user.name.clone(),
        tokens: tokens.iter().map(|t| TokenRow::new(t, now)).collect(),
        recent: tokens
            .iter()
            .filter(|t| {
                t.token.kind == crate::model::TokenKind::Device
                    && t.token.is_active(now)
                    && now - t.token.created_at <= RECENT_SECS
            })
            .map(|t| TokenRow::new(t, now))
            .collect(),
        admin_orgs: orgs
            .iter()
            .filter(|(_, role)| role.administers())
            .map(option)
            .collect(),
        orgs: orgs.iter().map(option).collect(),
        shown_once,
        notice,
        error,
        scopes: scope_names(),
    };
    visitor.finish(render_page(status, &page))
}

/// How far back the account page lists device sign-ins.
const RECENT_SECS: i64 = 14 * 86_400;

fn render_page(status: StatusCode, page: &AccountPage) -> Response {
    super::views::render(status, page)
}

/// The page: your tokens, create one, revoke one or all.
#[utoipa::path(get, path = "/account", operation_id = "page_account_show", tag = "pages",
    responses((status = 200, description = "the account page", content_type = "text/html"), (status = 303, description = "not signed in: to `/login`")))]
pub async fn show(State(state): State<AppState>, visitor: Visitor) -> Response {
    render(&state, &visitor, StatusCode::OK, None, None, None).await
}

/// The signed-in user acting in `slug` with their role there.
async fn acting_in(state: &AppState, visitor: &Visitor, slug: &str) -> Result<Principal> {
    let user = visitor.user.clone().ok_or(Error::Unauthenticated)?;
    let org = crate::members::org(state, slug).await?;
    let role = state.store.role_of(&org.id, &user.id).await?;
    Ok(Principal::session_in(user, std::sync::Arc::new(org), role))
}

/// The signed-in user acting on one of their own tokens (in that token's org).
async fn owner_of(state: &AppState, visitor: &Visitor, id: &str) -> Result<Principal> {
    let user = visitor.user.clone().ok_or(Error::Unauthenticated)?;
    let token = state
        .store
        .token_by_id(&id.into())
        .await?
        .filter(|t| t.user_id.as_ref() == Some(&user.id));
    let token = token.ok_or_else(|| Error::not_found("no such token among yours"))?;
    let org = state
        .store
        .org_by_id(&token.org_id)
        .await?
        .ok_or_else(|| Error::not_found("the token's organization is gone"))?;
    // A former member (no role) may still revoke their tokens there.
    let role = state.store.role_of(&org.id, &user.id).await?;
    Ok(Principal::session_in(user, std::sync::Arc::new(org), role))
}

async fn after(
    state: &AppState,
    visitor: &Visitor,
    result: Result<(Option<ShownOnce>, String)>,
) -> Response {
    match result {
        Ok((shown, notice)) => {
            render(state, visitor, StatusCode::OK, shown, Some(notice), None).await
        }
        Err(err) => {
            let status = status_of(&err);
            let mut page = render(state, visitor, status, None, None, Some(err.to_string())).await;
            with_fault(&mut page, &err);
            page
        }
    }
}

/// The page: creates a personal token (fields `name`, `org`, `expires`, `custom_date`, `scopes`, `csrf_token`), shown once.
#[utoipa::path(post, path = "/account/tokens", operation_id = "page_account_create", tag = "pages",
    responses((status = 200, description = "the account page with the token shown once", content_type = "text/html"), (status = 400, description = "the page with the problem", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html")))]
pub async fn create(State(state): State<AppState>, visitor: Visitor, form: WebForm) -> Response {
    if let Some(refusal) = refuse_post(&visitor, &form, "/account") {
        return refusal;
    }
    let result = async {
        let principal = acting_in(&state, &visitor, &form.text("org")).await?;
        let expires = match form.get("expires") {
            Some("custom") => form.get("custom_date").map(str::to_string),
            other => other.map(str::to_string),
        };
        let req = TokenRequest {
            name: form.text("name"),
            kind: TokenKind::Personal,
            expires,
            scopes: parse_scopes(&form.all("scopes").join(" ")).map_err(Error::invalid)?,
        };
        let issued = tokens::create(&state, &principal, req, &visitor.meta).await?;
        let name = issued.info.token.name.clone();
        Ok((
            Some(ShownOnce {
                name: name.clone(),
                value: issued.token.expose().to_string(),
            }),
            format!("Created token `{name}`."),
        ))
    }
    .await;
    after(&state, &visitor, result).await
}

/// The page: revokes one of your tokens (field `csrf_token`).
#[utoipa::path(post, path = "/account/tokens/{id}/revoke", operation_id = "page_account_revoke", tag = "pages",
    params(("id" = String, Path, description = "the token's id")),
    responses((status = 200, description = "the account page", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 404, description = "not one of yours", content_type = "text/html")))]
pub async fn revoke(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    form: WebForm,
) -> Response {
    if let Some(refusal) = refuse_post(&visitor, &form, "/account") {
        return refusal;
    }
    let result = async {
        let principal = owner_of(&state, &visitor, &id).await?;
        let view = tokens::revoke(&state, &principal, &id, &visitor.meta).await?;
        Ok((
            None,
            format!("Revoked `{}` ({}).", view.token.name, view.token.hint),
        ))
    }
    .await;
    after(&state, &visitor, result).await
}

/// The page: rotates one of your tokens (field `csrf_token`), the new one shown once.
#[utoipa::path(post, path = "/account/tokens/{id}/rotate", operation_id = "page_account_rotate", tag = "pages",
    params(("id" = String, Path, description = "the token's id")),
    responses((status = 200, description = "the account page with the new token", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 404, description = "not one of yours", content_type = "text/html")))]
pub async fn rotate(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    form: WebForm,
) -> Response {
    if let Some(refusal) = refuse_post(&visitor, &form, "/account") {
        return refusal;
    }
    let result = async {
        let principal = owner_of(&state, &visitor, &id).await?;
        let issued = tokens::rotate(&state, &principal, &id, &visitor.meta).await?;
        let name = issued.info.token.name.clone();
        Ok((
            Some(ShownOnce {
                name: name.clone(),
                value: issued.token.expose().to_string(),
            }),
            format!("Rotated `{name}`: the old token no longer works."),
        ))
    }
    .await;
    after(&state, &visitor, result).await
}

/// The page: revokes all your tokens in every org (fields `confirm=yes`, `sessions=yes` to sign out every browser too, `csrf_token`).
#[utoipa::path(post, path = "/account/revoke-all", operation_id = "page_account_revoke_all", tag = "pages",
    responses((status = 200, description = "the account page, or signed out everywhere", content_type = "text/html"), (status = 400, description = "not confirmed", content_type = "text/html"), (status = 403, description = "a wrong CSRF token", content_type = "text/html")))]
pub async fn revoke_all(
    State(state): State<AppState>,
    mut visitor: Visitor,
    form: WebForm,
) -> Response {
    let user = match form_user(&visitor, &form, "/account") {
        Ok(user) => user,
        Err(refusal) => return refusal,
    };
    if form.get("confirm") != Some("yes") {
        return render(
            &state,
            &visitor,
            StatusCode::BAD_REQUEST,
            None,
            None,
            Some("Tick the box to confirm: nothing was revoked.".into()),
        )
        .await;
    }
    let now = state.now();
    let principal = Principal::session(user.clone());
    let revoked = match tokens::revoke_all(&state, &principal, None, &visitor.meta).await {
        Ok(n) => n,
        Err(err) => return error_page(&visitor, err),
    };
    if form.get("sessions") == Some("yes") {
        if let Err(err) = state.store.end_user_sessions(&user.id, now).await {
            return error_page(&visitor, err.into());
        }
        let mut response = message(
            &visitor,
            StatusCode::OK,
            "Signed out everywhere",
            &format!("{revoked} tokens revoked and every browser signed out."),
            "ok",
            Some(("/login", "Sign in again")),
        );
        let _ = visitor.sign_out(&state, &mut response).await;
        return response;
    }
    render(
        &state,
        &visitor,
        StatusCode::OK,
        None,
        Some(format!("Revoked all your tokens ({revoked}).")),
        None,
    )
    .await
}
