//! Single sign-on pages ([`crate::sso`] does the work): a "Sign in with
//! {name}" button posts to `/login/sso/{provider}`, which sends the browser
//! to the provider; the provider sends it back to
//! `/login/sso/{provider}/callback`, which signs in (or asks, on
//! `/login/sso/link`, for the password of the account the email is
//! already theirs); `/account/sso/{provider}/disconnect` unlinks.

use super::flash::Flash;
use super::page::{
    csrf_failed, error_page, layout, message, refused_password, retry_after, safe_next,
};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::model::SignInMethod;
use crate::secret::Secret;
use crate::sso::{self, Answer, LinkError, Outcome, Purpose, Refusal};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

fn refused(visitor: &Visitor, status: StatusCode, refusal: &Refusal) -> Response {
    message(
        visitor,
        status,
        "Single sign-on did not work",
        &refusal.message,
        "error",
        Some(("/login", "Back to sign-in")),
    )
}

/// The page: starts a sign-in through a provider: fields `csrf_token`,
/// `next`, and `invite` (an invitation's secret, to accept) or
/// `fresh=yes` (sign in at the provider again, to approve a device).
#[utoipa::path(post, path = "/login/sso/{provider}", operation_id = "page_sso_start", tag = "pages",
    params(("provider" = String, Path, description = "the provider's id")),
    responses((status = 303, description = "to the provider"), (status = 403, description = "a missing or wrong CSRF token", content_type = "text/html"), (status = 502, description = "the provider could not be reached", content_type = "text/html")))]
pub async fn start(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    let purpose = Purpose {
        next: safe_next(form.get("next")),
        invite: form
            .get("invite")
            .filter(|s| s.starts_with("dvi_"))
            .map(str::to_string),
        fresh: form.get("fresh") == Some("yes"),
    };
    match sso::begin(&state, &provider, &visitor.browser_hash(), &purpose).await {
        Ok(url) if state.sso.form_may_lead_to(&url) => {
            visitor.finish(Redirect::to(&url).into_response())
        }
        // The page's CSP did not name the provider's sign-in address yet
        // (it was read just now): a link leads there instead.
        Ok(url) => {
            let name = state.sso.name_of(&provider).unwrap_or_default();
            let page = ContinuePage {
                layout: layout(&visitor, "Continue to sign in"),
                name,
                url,
            };
            visitor.finish(render(StatusCode::OK, &page))
        }
        Err(refusal) => refused(&visitor, StatusCode::BAD_GATEWAY, &refusal),
    }
}

#[derive(Template)]
#[template(path = "sso_continue.html")]
pub struct ContinuePage {
    pub layout: Layout,
    pub name: String,
    pub url: String,
}

/// The page: where a provider sends the browser back (`code`, `state`,
/// `iss`, or `error`): signs in, or asks for the password of the account
/// with this email first.
#[utoipa::path(get, path = "/login/sso/{provider}/callback", operation_id = "page_sso_callback", tag = "pages",
    params(("provider" = String, Path, description = "the provider's id")),
    responses((status = 303, description = "signed in: to where the sign-in began; or to `/login/sso/link`"), (status = 400, description = "refused: the page says why", content_type = "text/html")))]
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    mut visitor: Visitor,
    Query(answer): Query<Answer>,
) -> Response {
    let signed_in = visitor.user.clone();
    let finished = sso::finish(
        &state,
        &provider,
        &answer,
        &visitor.browser_hash(),
        signed_in.as_deref(),
        &visitor.meta,
    )
    .await;
    match finished {
        Ok(Outcome::SignedIn {
            user, next, joined, ..
        }) => {
            let mut response = Redirect::to(&next).into_response();
            let started = if signed_in.is_some() {
                visitor
                    .renew(&state, user, SignInMethod::Sso, &mut response)
                    .await
            } else {
                visitor
                    .sign_in(&state, user, SignInMethod::Sso, &mut response)
                    .await
            };
            if let Err(err) = started {
                return error_page(&visitor, err);
            }
            if let Some(org) = joined {
                let flash =
                    Flash::notice(format!("Welcome to {}: you are a member now.", org.name));
                if let Err(err) = visitor.keep_flash(&state, &flash, &mut response).await {
                    return error_page(&visitor, err);
                }
            }
            visitor.finish(response)
        }
        Ok(Outcome::NeedsPassword { .. }) => {
            visitor.finish(Redirect::to("/login/sso/link").into_response())
        }
        Err(refusal) => refused(&visitor, StatusCode::BAD_REQUEST, &refusal),
    }
}

#[derive(Template)]
#[template(path = "sso_link.html")]
pub struct LinkPage {
    pub layout: Layout,
    pub email: String,
    pub name: String,
    pub error: Option<String>,
}

fn nothing_waiting(visitor: &Visitor) -> Response {
    message(
        visitor,
        StatusCode::GONE,
        "Nothing to connect",
        "No single sign-on is waiting to be connected in this browser, or it waited more than ten minutes. Sign in again.",
        "warn",
        Some(("/login", "Back to sign-in")),
    )
}

/// The page: the password of the account whose email the provider gave, to
/// connect the provider to it.
#[utoipa::path(get, path = "/login/sso/link", operation_id = "page_sso_link_form", tag = "pages",
    responses((status = 200, description = "the form", content_type = "text/html"), (status = 410, description = "nothing waits in this browser", content_type = "text/html")))]
pub async fn link_form(State(state): State<AppState>, visitor: Visitor) -> Response {
    match sso::pending_link(&state, &visitor.browser_hash()).await {
        Ok(Some((email, name))) => {
            let page = LinkPage {
                layout: layout(&visitor, "Connect your account"),
                email,
                name,
                error: None,
            };
            visitor.finish(render(StatusCode::OK, &page))
        }
        Ok(None) => nothing_waiting(&visitor),
        Err(err) => error_page(&visitor, err),
    }
}

/// The page: connects the provider once the account's password is right
/// (fields `csrf_token`, `password`; limited as a sign-in is), then signs in.
#[utoipa::path(post, path = "/login/sso/link", operation_id = "page_sso_link", tag = "pages",
    responses((status = 303, description = "connected and signed in"), (status = 401, description = "the form again: wrong password", content_type = "text/html"), (status = 403, description = "a missing or wrong CSRF token", content_type = "text/html"), (status = 410, description = "nothing waits in this browser", content_type = "text/html"), (status = 429, description = "too many failed sign-ins", content_type = "text/html")))]
pub async fn link(State(state): State<AppState>, mut visitor: Visitor, form: WebForm) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    let browser = visitor.browser_hash();
    let password = Secret::new(form.text("password"));
    let pending = sso::pending_link(&state, &browser).await;
    let Ok(Some((email, name))) = pending else {
        return nothing_waiting(&visitor);
    };
    let known = visitor.known_as(&email).map(str::to_string);
    let retry = |visitor: &Visitor, status: StatusCode, error: String| {
        let page = LinkPage {
            layout: layout(visitor, "Connect your account"),
            email: email.clone(),
            name: name.clone(),
            error: Some(error),
        };
        visitor.finish(render(status, &page))
    };
    let linked =
        sso::link_with_password(&state, &browser, &password, known.as_deref(), &visitor.meta).await;
    match linked {
        Ok((user, next)) => {
            let mut response = Redirect::to(&next).into_response();
            if let Err(err) = visitor
                .sign_in(&state, user, SignInMethod::Sso, &mut response)
                .await
            {
                return error_page(&visitor, err);
            }
            visitor.finish(response)
        }
        Err(LinkError::Gone) => nothing_waiting(&visitor),
        Err(LinkError::Refused(refusal)) => refused(&visitor, StatusCode::CONFLICT, &refusal),
        Err(LinkError::SignIn(err)) => match refused_password(err, "Wrong password.") {
            Ok((status, text, wait)) => {
                let mut response = retry(&visitor, status, text);
                retry_after(&mut response, wait);
                response
            }
            Err(err) => error_page(&visitor, err),
        },
    }
}

/// The page: disconnects a provider from the signed-in account (field
/// `csrf_token`); refused when it is the account's only way to sign in.
#[utoipa::path(post, path = "/account/sso/{provider}/disconnect", operation_id = "page_sso_disconnect", tag = "pages",
    params(("provider" = String, Path, description = "the provider's id")),
    responses((status = 303, description = "to `/account#sso`"), (status = 403, description = "a missing or wrong CSRF token", content_type = "text/html"), (status = 409, description = "the only way to sign in", content_type = "text/html")))]
pub async fn disconnect(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    let user = match super::page::form_user(&visitor, &form, "/account") {
        Ok(user) => user,
        Err(refusal) => return refusal,
    };
    let done = sso::unlink(&state, &user, &provider, &visitor.meta)
        .await
        .map(|()| {
            let name = state.sso.name_of(&provider).unwrap_or(provider);
            format!("{name} is disconnected from your account.")
        });
    super::page::after(&state, &visitor, "/account#sso", done).await
}
