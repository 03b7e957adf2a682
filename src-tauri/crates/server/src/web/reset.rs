//! `/reset/{secret}`: the page a password reset link opens: a new password,
//! then every browser of that user is signed out and they sign in again.

use super::page::{csrf_failed, error_page, layout, message, sentence, status_of};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::error::Error;
use crate::resets;
use crate::secret::Secret;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage {
    pub layout: Layout,
    pub secret: String,
    pub email: String,
    pub error: Option<String>,
}

fn unusable(visitor: &Visitor, err: Error) -> Response {
    match err {
        Error::NotFound(_) => message(
            visitor,
            StatusCode::NOT_FOUND,
            "This reset link is not known",
            "Check that the whole link was copied, or ask an administrator for a new one.",
            "error",
            None,
        ),
        Error::Conflict(_) => message(
            visitor,
            StatusCode::GONE,
            "This reset link no longer works",
            "It was used, or its hour is over. Ask an administrator of your team for a new one.",
            "warn",
            Some(("/login", "Sign in")),
        ),
        other => error_page(visitor, other),
    }
}

/// The page: a password reset link: the form for a new password.
#[utoipa::path(get, path = "/reset/{secret}", operation_id = "page_reset", tag = "pages",
    params(("secret" = String, Path, description = "the reset link's secret")),
    responses((status = 200, description = "the form", content_type = "text/html"), (status = 404, description = "an unknown link", content_type = "text/html"), (status = 410, description = "used or expired", content_type = "text/html")))]
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(secret): Path<String>,
) -> Response {
    match resets::open(&state, &secret).await {
        Ok((_, user)) => {
            let page = ResetPage {
                layout: layout(&visitor, "Set a new password"),
                secret,
                email: user.email,
                error: None,
            };
            visitor.finish(render(StatusCode::OK, &page))
        }
        Err(err) => unusable(&visitor, err),
    }
}

/// The page: sets the new password (fields `password`, `csrf_token`), signs out every browser of that user, then to `/login`.
#[utoipa::path(post, path = "/reset/{secret}", operation_id = "page_reset_set", tag = "pages",
    params(("secret" = String, Path, description = "the reset link's secret")),
    responses((status = 303, description = "set: to `/login`"), (status = 400, description = "the form again: the password is not acceptable", content_type = "text/html"), (status = 403, description = "a wrong CSRF token", content_type = "text/html"), (status = 404, description = "an unknown link", content_type = "text/html"), (status = 410, description = "used or expired", content_type = "text/html")))]
pub async fn set(
    State(state): State<AppState>,
    mut visitor: Visitor,
    Path(secret): Path<String>,
    form: WebForm,
) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    let (_, user) = match resets::open(&state, &secret).await {
        Ok(found) => found,
        Err(err) => return unusable(&visitor, err),
    };
    let password = Secret::new(form.text("password"));
    match resets::set_password(&state, &secret, &password, &visitor.meta).await {
        Ok(_) => {
            let mut response = Redirect::to("/login?reset=done").into_response();
            // Whoever this browser was signed in as, it starts over.
            let _ = visitor.sign_out(&state, &mut response).await;
            visitor.finish(response)
        }
        Err(err @ Error::Invalid(_)) => {
            let page = ResetPage {
                layout: layout(&visitor, "Set a new password"),
                secret,
                email: user.email,
                error: Some(sentence(&err.to_string())),
            };
            visitor.finish(render(status_of(&err), &page))
        }
        Err(err) => unusable(&visitor, err),
    }
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage {
    pub layout: Layout,
    pub email: String,
    pub error: Option<String>,
    /// After the form: the same words whether or not the email has an account.
    pub sent_to: Option<String>,
}

fn forgot_off(visitor: &Visitor) -> Response {
    message(
        visitor,
        StatusCode::NOT_FOUND,
        "Ask for a reset link",
        "This server does not send mail. Ask an owner or admin of your organization: they can make you a link to set a new password.",
        "warn",
        Some(("/login", "Back to sign-in")),
    )
}

/// The page: "Forgot your password?": an email, to mail a reset link to
/// (only when the server sends mail).
#[utoipa::path(get, path = "/login/forgot", operation_id = "page_forgot_form", tag = "pages",
    responses((status = 200, description = "the form", content_type = "text/html"), (status = 404, description = "this server sends no mail: ask an admin", content_type = "text/html")))]
pub async fn forgot_form(State(state): State<AppState>, visitor: Visitor) -> Response {
    if state.mailer.is_none() {
        return forgot_off(&visitor);
    }
    let page = ForgotPage {
        layout: layout(&visitor, "Forgot your password?"),
        email: String::new(),
        error: None,
        sent_to: None,
    };
    visitor.finish(render(StatusCode::OK, &page))
}

/// The page: mails a reset link to `email` if it has an account (fields
/// `email`, `csrf_token`); the answer is the same either way. Limited per
/// address and per email.
#[utoipa::path(post, path = "/login/forgot", operation_id = "page_forgot", tag = "pages",
    responses((status = 200, description = "the same answer whether or not the email has an account", content_type = "text/html"), (status = 400, description = "not an email address", content_type = "text/html"), (status = 403, description = "a missing or wrong CSRF token", content_type = "text/html"), (status = 429, description = "asked too often", content_type = "text/html")))]
pub async fn forgot(State(state): State<AppState>, visitor: Visitor, form: WebForm) -> Response {
    if state.mailer.is_none() {
        return forgot_off(&visitor);
    }
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    let email = form.text("email").trim().to_string();
    let again = |status: StatusCode, error: String| {
        let page = ForgotPage {
            layout: layout(&visitor, "Forgot your password?"),
            email: email.clone(),
            error: Some(error),
            sent_to: None,
        };
        visitor.finish(render(status, &page))
    };
    match resets::forgot(&state, &email, &visitor.meta).await {
        Ok(()) => {
            let page = ForgotPage {
                layout: layout(&visitor, "Check your mail"),
                email: String::new(),
                error: None,
                sent_to: Some(email.clone()),
            };
            visitor.finish(render(StatusCode::OK, &page))
        }
        Err(Error::RateLimited { retry_after }) => again(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many requests for a reset link. Try again in {}.",
                wait_words(retry_after)
            ),
        ),
        Err(err @ Error::Invalid(_)) => again(StatusCode::BAD_REQUEST, sentence(&err.to_string())),
        Err(err) => error_page(&visitor, err),
    }
}
