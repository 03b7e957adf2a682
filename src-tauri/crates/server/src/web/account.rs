//! `/account`: my tokens, creating a personal token (shown once), rotating,
//! revoking one, revoking all (and signing out every browser).
//!
//! Every form redirects after it succeeds (Post/Redirect/Get): the outcome,
//! and a new secret, are kept for exactly one view (see `flash`). Revoking
//! and rotating ask first: without `confirm=yes` the form answers with a page
//! naming what will stop working, whose button sends it again confirmed.

use super::flash::Flash;
use super::page::{
    confirm_page, confirmed, error_page, form_user, layout, refuse_post, see_other, sentence,
    status_of, to_login, with_fault,
};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::error::{Error, Result};
use crate::model::{Role, RoleExt, TokenKind, parse_scopes};
use crate::policy::Principal;
use crate::state::AppState;
use crate::tokens::{self, TokenRequest, TokenView};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// What the account page shows beside the lists.
#[derive(Default)]
pub struct Outcome {
    /// What the last form did (after its redirect).
    pub flash: Option<Flash>,
    /// What went wrong, for the whole page.
    pub error: Option<String>,
    /// The token form as it was sent, with what is wrong in it.
    pub form: TokenForm,
    /// What is wrong with the password form: the field and why.
    pub password_error: Option<(&'static str, String)>,
}

/// The account page.
pub async fn render(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    outcome: Outcome,
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
    let rows = TokenRow::all(&tokens, now, |t| {
        orgs.iter()
            .find(|(org, _)| org.id == t.org_id)
            .map(|(_, role)| *role)
    });
    let linked = match crate::sso::identities_of(state, &user).await {
        Ok(linked) => linked,
        Err(err) => return error_page(visitor, err),
    };
    let sso = state
        .sso
        .buttons()
        .into_iter()
        .map(|(id, name)| SsoRow {
            connected_as: linked
                .iter()
                .find(|(provider, _, _)| *provider == id)
                .map(|(_, _, email)| email.clone()),
            id,
            name,
        })
        .collect();
    let passkeys = match &state.webauthn {
        None => None,
        Some(_) => match crate::passkeys::list(state, &user.id).await {
            Ok(rows) => Some(
                rows.into_iter()
                    .map(|p| PasskeyView {
                        id: p.id,
                        name: p.name,
                        added: when(p.created_at),
                        last_used: p.last_used_at.map_or_else(|| "never".into(), when),
                    })
                    .collect(),
            ),
            Err(err) => return error_page(visitor, err),
        },
    };
    let flash = outcome.flash.unwrap_or_default();
    let page = AccountPage {
        sso,
        passkeys,
        has_password: user.password_hash.is_some(),
        layout: layout(visitor, "Account"),
        email: user.email.clone(),
        name: user.name.clone(),
        recent: rows
            .iter()
            .zip(&tokens)
            .filter(|(_, t)| {
                t.token.kind == TokenKind::Device
                    && t.token.is_active(now)
                    && now - t.token.created_at <= RECENT_SECS
            })
            .map(|(row, _)| row.clone())
            .collect(),
        tokens: rows,
        admin_orgs: orgs
            .iter()
            .filter(|(_, role)| role.administers())
            .map(option)
            .collect(),
        orgs: orgs.iter().map(option).collect(),
        shown_once: flash.shown_once,
        notice: flash.notice,
        warning: flash.warning,
        error: outcome.error,
        form: outcome.form,
        password_error: outcome.password_error,
        // Only what one of the user's roles can grant.
        scopes: SCOPES
            .iter()
            .filter(|s| orgs.iter().any(|(_, role)| role.grants(**s)))
            .map(|s| s.as_str())
            .collect(),
    };
    visitor.finish(super::views::render(status, &page))
}

/// How far back the account page lists device sign-ins.
const RECENT_SECS: i64 = 14 * 86_400;

/// The page: your tokens, create one, revoke one or all.
#[utoipa::path(get, path = "/account", operation_id = "page_account_show", tag = "pages",
    responses((status = 200, description = "the account page (with the last form's outcome, once)", content_type = "text/html"), (status = 303, description = "not signed in: to `/login`")))]
pub async fn show(State(state): State<AppState>, mut visitor: Visitor) -> Response {
    let flash = match visitor.take_flash(&state).await {
        Ok(flash) => flash,
        Err(err) => return error_page(&visitor, err),
    };
    let outcome = Outcome {
        flash,
        ..Outcome::default()
    };
    render(&state, &visitor, StatusCode::OK, outcome).await
}

/// The signed-in user acting in `slug` with their role there.
async fn acting_in(state: &AppState, visitor: &Visitor, slug: &str) -> Result<Principal> {
    let user = visitor.user.clone().ok_or(Error::Unauthenticated)?;
    let org = crate::members::org(state, slug).await?;
    let role = state.store.role_of(&org.id, &user.id).await?;
    Ok(Principal::session_in(user, std::sync::Arc::new(org), role))
}

/// The signed-in user acting on one of their own tokens (in that token's
/// org), and the token.
async fn owner_of(state: &AppState, visitor: &Visitor, id: &str) -> Result<(Principal, TokenView)> {
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
    let view = TokenView::new(token, state.now());
    Ok((
        Principal::session_in(user, std::sync::Arc::new(org), role),
        view,
    ))
}

/// After a form: on success, to the account page with the outcome kept for
/// one view; on failure, the page now, with the problem.
async fn after(state: &AppState, visitor: &Visitor, result: Result<Flash>) -> Response {
    match result {
        Ok(flash) => see_other(state, visitor, "/account", &flash).await,
        Err(err) => failed(state, visitor, err, TokenForm::default()).await,
    }
}

/// The page now, with the problem: beside its fields when the form has
/// them, else for the whole page.
async fn failed(state: &AppState, visitor: &Visitor, err: Error, form: TokenForm) -> Response {
    let outcome = Outcome {
        error: form.errors.is_empty().then(|| sentence(&err.to_string())),
        form,
        ..Outcome::default()
    };
    let mut page = render(state, visitor, status_of(&err), outcome).await;
    with_fault(&mut page, &err);
    page
}

/// Reads the token form, saying beside each field what is wrong with it.
fn read_token_form(
    form: &WebForm,
    now: i64,
    default_days: i64,
) -> (TokenForm, Option<TokenRequest>) {
    let mut kept = TokenForm {
        name: form.text("name"),
        org: form.text("org"),
        expires: form.get("expires").unwrap_or("90d").to_string(),
        custom_date: form.text("custom_date"),
        scopes: form.all("scopes").iter().map(|s| s.to_string()).collect(),
        ..TokenForm::default()
    };
    if let Err(err) = crate::identity::clean_text("name", &kept.name, tokens::MAX_TOKEN_NAME_CHARS)
    {
        kept.errors.push(("name", sentence(&err.to_string())));
    }
    let expires = if kept.expires == "custom" {
        if kept.custom_date.trim().is_empty() {
            kept.errors.push((
                "custom_date",
                "Pick the day it expires, or another choice under Expires.".into(),
            ));
        }
        Some(kept.custom_date.clone())
    } else {
        Some(kept.expires.clone())
    };
    let field = if kept.expires == "custom" {
        "custom_date"
    } else {
        "expires"
    };
    if kept.error(field).is_none()
        && let Err(err) = tokens::parse_expiry(expires.as_deref(), now, default_days)
    {
        kept.errors.push((field, sentence(&err.to_string())));
    }
    let scopes = match parse_scopes(&kept.scopes.join(" ")) {
        Ok(scopes) => scopes,
        Err(err) => {
            kept.errors.push(("scopes", sentence(&err)));
            Vec::new()
        }
    };
    if !kept.errors.is_empty() {
        return (kept, None);
    }
    let request = TokenRequest {
        name: kept.name.trim().to_string(),
        kind: TokenKind::Personal,
        expires,
        scopes,
    };
    (kept, Some(request))
}

/// The page: creates a personal token (fields `name`, `org`, `expires`, `custom_date`, `scopes`, `duplicate=yes` to reuse an active token's name, `csrf_token`), then to `/account`, where it is shown once.
#[utoipa::path(post, path = "/account/tokens", operation_id = "page_account_create", tag = "pages",
    responses((status = 303, description = "created: to `/account`, which shows it once"), (status = 400, description = "the page with the problem beside its field", content_type = "text/html"), (status = 409, description = "an active token has that name: the page asks to confirm", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html")))]
pub async fn create(State(state): State<AppState>, visitor: Visitor, form: WebForm) -> Response {
    if let Some(refusal) = refuse_post(&visitor, &form, "/account") {
        return refusal;
    }
    let now = state.now();
    let (mut kept, request) = read_token_form(&form, now, state.config.token_ttl_days);
    let Some(request) = request else {
        let err = Error::invalid("the form has problems");
        return failed(&state, &visitor, err, kept).await;
    };
    let principal = match acting_in(&state, &visitor, &kept.org).await {
        Ok(principal) => principal,
        Err(err) => return failed(&state, &visitor, err, kept).await,
    };
    if form.get("duplicate") != Some("yes") {
        match same_name(&state, &principal, &request.name).await {
            Ok(Some(hint)) => {
                kept.duplicate = true;
                kept.errors.push((
                    "name",
                    format!(
                        "You already have an active token named “{}” ({hint}). Choose another name, or tick the box to create a second one.",
                        request.name
                    ),
                ));
                let err = Error::Conflict("a token of that name is active".into());
                return failed(&state, &visitor, err, kept).await;
            }
            Ok(None) => {}
            Err(err) => return failed(&state, &visitor, err, kept).await,
        }
    }
    let result = async {
        let issued = tokens::create(&state, &principal, request, &visitor.meta).await?;
        let name = issued.info.token.name.clone();
        let notice = format!("Created the token “{name}”.");
        Ok(Flash::secret(notice, name, issued.token.expose()))
    }
    .await;
    match result {
        Ok(flash) => see_other(&state, &visitor, "/account#new-token", &flash).await,
        Err(err) => failed(&state, &visitor, err, kept).await,
    }
}

/// The hint of an active token of the caller's with this name, in the org.
async fn same_name(state: &AppState, principal: &Principal, name: &str) -> Result<Option<String>> {
    let now = state.now();
    let org_id = principal.org_id().cloned();
    Ok(tokens::list(state, principal, false)
        .await?
        .into_iter()
        .find(|t| {
            t.token.is_active(now)
                && Some(&t.token.org_id) == org_id.as_ref()
                && t.token.name.eq_ignore_ascii_case(name)
        })
        .map(|t| t.token.hint))
}

/// The page: revokes one of your tokens (fields `confirm=yes`, `csrf_token`; without `confirm` it asks first).
#[utoipa::path(post, path = "/account/tokens/{id}/revoke", operation_id = "page_account_revoke", tag = "pages",
    params(("id" = String, Path, description = "the token's id")),
    responses((status = 303, description = "revoked: to `/account`"), (status = 200, description = "not confirmed: the page that asks", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 404, description = "not one of yours", content_type = "text/html")))]
pub async fn revoke(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    form: WebForm,
) -> Response {
    if let Some(refusal) = refuse_post(&visitor, &form, "/account") {
        return refusal;
    }
    let (principal, token) = match owner_of(&state, &visitor, &id).await {
        Ok(found) => found,
        Err(err) => return failed(&state, &visitor, err, TokenForm::default()).await,
    };
    if !confirmed(&form) {
        let ask = Confirmation::revoke(&token.token);
        return confirm_page(
            &visitor,
            &form,
            &format!("/account/tokens/{id}/revoke"),
            ask,
            "/account",
        );
    }
    let result = async {
        let view = tokens::revoke(&state, &principal, &id, &visitor.meta).await?;
        Ok(Flash::notice(Confirmation::revoked(&view.token)))
    }
    .await;
    after(&state, &visitor, result).await
}

/// The page: rotates one of your tokens (fields `confirm=yes`, `csrf_token`; without `confirm` it asks first), the new one shown once.
#[utoipa::path(post, path = "/account/tokens/{id}/rotate", operation_id = "page_account_rotate", tag = "pages",
    params(("id" = String, Path, description = "the token's id")),
    responses((status = 303, description = "rotated: to `/account`, which shows the new token once"), (status = 200, description = "not confirmed: the page that asks", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 404, description = "not one of yours", content_type = "text/html")))]
pub async fn rotate(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    form: WebForm,
) -> Response {
    if let Some(refusal) = refuse_post(&visitor, &form, "/account") {
        return refusal;
    }
    let (principal, token) = match owner_of(&state, &visitor, &id).await {
        Ok(found) => found,
        Err(err) => return failed(&state, &visitor, err, TokenForm::default()).await,
    };
    if token.token.kind == TokenKind::Device {
        // Its replacement would be shown here, in the browser, where the
        // device cannot use it: a device signs in again instead.
        let err = Error::invalid(
            "a device token is not rotated here: sign the device out, then sign in on it again",
        );
        return failed(&state, &visitor, err, TokenForm::default()).await;
    }
    if !confirmed(&form) {
        let ask = Confirmation::rotate(&token.token);
        return confirm_page(
            &visitor,
            &form,
            &format!("/account/tokens/{id}/rotate"),
            ask,
            "/account",
        );
    }
    let result = async {
        let issued = tokens::rotate(&state, &principal, &id, &visitor.meta).await?;
        let name = issued.info.token.name.clone();
        let notice = format!(
            "Rotated “{name}”: the old token ({}) no longer works.",
            token.token.hint
        );
        Ok(Flash::secret(notice, name, issued.token.expose()))
    }
    .await;
    match result {
        Ok(flash) => see_other(&state, &visitor, "/account#new-token", &flash).await,
        Err(err) => failed(&state, &visitor, err, TokenForm::default()).await,
    }
}

/// The page: revokes all your tokens in every org (fields `confirm=yes`, `sessions=yes` to sign out every browser too, `csrf_token`).
#[utoipa::path(post, path = "/account/revoke-all", operation_id = "page_account_revoke_all", tag = "pages",
    responses((status = 303, description = "revoked: to `/account`, or signed out everywhere: to `/login`"), (status = 400, description = "not confirmed", content_type = "text/html"), (status = 403, description = "a wrong CSRF token", content_type = "text/html")))]
pub async fn revoke_all(
    State(state): State<AppState>,
    mut visitor: Visitor,
    form: WebForm,
) -> Response {
    let user = match form_user(&visitor, &form, "/account") {
        Ok(user) => user,
        Err(refusal) => return refusal,
    };
    if !confirmed(&form) {
        let outcome = Outcome {
            error: Some("Tick the box to confirm: nothing was revoked.".into()),
            ..Outcome::default()
        };
        return render(&state, &visitor, StatusCode::BAD_REQUEST, outcome).await;
    }
    let now = state.now();
    let principal = Principal::session(user.clone());
    let revoked = match tokens::revoke_all(&state, &principal, None, &visitor.meta).await {
        Ok(n) => n,
        Err(err) => return error_page(&visitor, err),
    };
    let tokens = if revoked == 1 { "token" } else { "tokens" };
    if form.get("sessions") == Some("yes") {
        if let Err(err) = state.store.end_user_sessions(&user.id, now).await {
            return error_page(&visitor, err.into());
        }
        let mut response = Redirect::to("/login?signed_out=everywhere").into_response();
        let _ = visitor.sign_out(&state, &mut response).await;
        return visitor.finish(response);
    }
    let flash = Flash::notice(format!("Revoked all your tokens ({revoked} {tokens})."));
    see_other(&state, &visitor, "/account", &flash).await
}

/// The page: changes your password (fields `current_password`, `new_password`, `csrf_token`): every other browser is signed out, your tokens keep working.
#[utoipa::path(post, path = "/account/password", operation_id = "page_account_password", tag = "pages",
    responses((status = 303, description = "changed: to `/account`"), (status = 400, description = "the new password is not acceptable: the page with the problem beside it", content_type = "text/html"), (status = 401, description = "the current password is wrong", content_type = "text/html"), (status = 403, description = "a wrong CSRF token", content_type = "text/html"), (status = 429, description = "too many wrong passwords", content_type = "text/html")))]
pub async fn change_password(
    State(state): State<AppState>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    use crate::identity::{PasswordChangeError, SignInError};
    let user = match form_user(&visitor, &form, "/account") {
        Ok(user) => user,
        Err(refusal) => return refusal,
    };
    let current = crate::secret::Secret::new(form.text("current_password"));
    let new = crate::secret::Secret::new(form.text("new_password"));
    let known = visitor.known_as(&user.email).map(str::to_string);
    let changed = crate::identity::change_password(
        &state,
        &user,
        &current,
        &new,
        visitor.session_hash().as_deref(),
        known.as_deref(),
        &visitor.meta,
    )
    .await;
    let (status, field, text) = match changed {
        Ok(ended) => {
            let others = match ended {
                0 => "No other browser was signed in".to_string(),
                1 => "The one other browser signed in as you is signed out".to_string(),
                n => format!("The {n} other browsers signed in as you are signed out"),
            };
            let flash = Flash::notice(format!(
                "Password changed. {others}; your tokens keep working."
            ));
            return see_other(&state, &visitor, "/account#password", &flash).await;
        }
        Err(PasswordChangeError::Current(SignInError::Wrong)) => (
            StatusCode::UNAUTHORIZED,
            "current_password",
            "That is not your current password. Nothing was changed.".to_string(),
        ),
        Err(PasswordChangeError::Current(SignInError::Limited { retry_after })) => (
            StatusCode::TOO_MANY_REQUESTS,
            "current_password",
            format!(
                "Too many wrong passwords. Try again in {}.",
                super::views::wait_words(retry_after)
            ),
        ),
        Err(PasswordChangeError::Current(SignInError::Busy { .. })) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "current_password",
            "The server is busy checking other passwords. Try again in a moment.".to_string(),
        ),
        Err(PasswordChangeError::New(err)) => (
            StatusCode::BAD_REQUEST,
            "new_password",
            sentence(&err.to_string()),
        ),
        Err(
            PasswordChangeError::Current(SignInError::Failed(err))
            | PasswordChangeError::Failed(err),
        ) => return error_page(&visitor, err),
    };
    let outcome = Outcome {
        password_error: Some((field, text)),
        ..Outcome::default()
    };
    render(&state, &visitor, status, outcome).await
}
