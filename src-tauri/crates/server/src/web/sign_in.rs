//! Signing in and out: `/` (to the account or the sign-in page), `/login`
//! (through the identity service, which limits, checks and audits) and
//! `/logout`.

use super::page::{csrf_failed, error_page, layout, refused_password, retry_after, safe_next};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::identity;
use crate::model::SignInMethod;
use crate::secret::Secret;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The page: the account page when signed in, the first-run setup on a
/// server nobody has claimed, otherwise the sign-in page.
#[utoipa::path(get, path = "/", operation_id = "page_home", tag = "pages",
    responses((status = 303, description = "to `/account`, `/setup` (unclaimed) or `/login`")))]
pub async fn home(State(state): State<AppState>, visitor: Visitor) -> Response {
    let to = if visitor.user.is_some() {
        "/account"
    } else if matches!(state.store.setup_claimed().await, Ok(false)) {
        "/setup"
    } else {
        "/login"
    };
    visitor.finish(Redirect::to(to).into_response())
}

/// The sign-in page's heading: what signing in is for.
fn heading_for(next: &str) -> &'static str {
    if next == "/device" || next.starts_with("/device?") {
        "Sign in to approve a device"
    } else {
        "Sign in"
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// `everywhere`: after "Sign out everywhere" on the account page.
    signed_out: Option<String>,
    /// `done`: after a password was set with a reset link.
    reset: Option<String>,
}

/// The page: the sign-in form; `?next=` a local path to go to after.
#[utoipa::path(get, path = "/login", operation_id = "page_login_form", tag = "pages",
    responses((status = 200, description = "the sign-in page", content_type = "text/html"), (status = 303, description = "already signed in: to `next`")))]
pub async fn login_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if visitor.user.is_some() {
        return visitor.finish(Redirect::to(&next).into_response());
    }
    let heading = heading_for(&next);
    let page = LoginPage {
        layout: layout(&visitor, heading),
        heading,
        error: None,
        notice: match (q.signed_out.as_deref(), q.reset.as_deref()) {
            (Some("everywhere"), _) => Some(
                "You are signed out everywhere: your tokens are revoked and every browser is signed out.",
            ),
            (_, Some("done")) => {
                Some("Your new password is set and every browser was signed out: sign in with it.")
            }
            _ => None,
        },
        email: String::new(),
        next,
        sso: state.sso.buttons(),
        forgot: state.mailer.is_some(),
        passkeys: state.webauthn.is_some(),
    };
    visitor.finish(render(StatusCode::OK, &page))
}

/// The page: signs in: fields `email`, `password`, `next`, `csrf_token`; limited per address and per account.
#[utoipa::path(post, path = "/login", operation_id = "page_login", tag = "pages",
    responses((status = 303, description = "signed in: to `next`"), (status = 401, description = "the form again: wrong email or password", content_type = "text/html"), (status = 403, description = "a missing or wrong CSRF token", content_type = "text/html"), (status = 429, description = "too many failed sign-ins", content_type = "text/html")))]
pub async fn login(State(state): State<AppState>, mut visitor: Visitor, form: WebForm) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    let email = form.text("email").trim().to_string();
    let next = safe_next(form.get("next"));
    let retry = |visitor: &Visitor, status: StatusCode, error: String| {
        let heading = heading_for(&next);
        let page = LoginPage {
            layout: layout(visitor, heading),
            heading,
            error: Some(error),
            notice: None,
            email: email.clone(),
            next: next.clone(),
            sso: state.sso.buttons(),
            forgot: state.mailer.is_some(),
            passkeys: state.webauthn.is_some(),
        };
        visitor.finish(render(status, &page))
    };
    let password = Secret::new(form.text("password"));
    let known = visitor.known_as(&email);
    let user = match identity::sign_in(&state, &email, &password, known, &visitor.meta).await {
        Ok(user) => user,
        Err(err) => {
            return match refused_password(err, "Wrong email or password.") {
                Ok((status, text, wait)) => {
                    let mut response = retry(&visitor, status, text);
                    retry_after(&mut response, wait);
                    response
                }
                Err(err) => error_page(&visitor, err),
            };
        }
    };
    let mut response = Redirect::to(&next).into_response();
    if let Err(err) = visitor
        .sign_in(&state, user, SignInMethod::Password, &mut response)
        .await
    {
        return error_page(&visitor, err);
    }
    visitor.finish(response)
}

/// The page: signs out (field `csrf_token`).
#[utoipa::path(post, path = "/logout", operation_id = "page_logout", tag = "pages",
    responses((status = 303, description = "to `/login`"), (status = 403, description = "a missing or wrong CSRF token", content_type = "text/html")))]
pub async fn logout(
    State(state): State<AppState>,
    mut visitor: Visitor,
    form: WebForm,
) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    let mut response = Redirect::to("/login").into_response();
    if let Err(err) = visitor.sign_out(&state, &mut response).await {
        return error_page(&visitor, err);
    }
    visitor.finish(response)
}
