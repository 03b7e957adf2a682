//! `/setup`: the first-run wizard (the setup claim), which ends on the new
//! owner's account page with their first token shown once.

use super::flash::Flash;
use super::page::{csrf_failed, error_page, layout, status_of, with_fault};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::model::SignInMethod;
use crate::secret::Secret;
use crate::setup::{self, ClaimRequest};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// The page: the first-run wizard, while setup is unclaimed.
#[utoipa::path(get, path = "/setup", operation_id = "page_setup_form", tag = "pages",
    responses((status = 200, description = "the wizard", content_type = "text/html"), (status = 303, description = "claimed already: to `/login`")))]
pub async fn setup_form(State(state): State<AppState>, visitor: Visitor) -> Response {
    match state.store.setup_claimed().await {
        Ok(true) => visitor.finish(Redirect::to("/login").into_response()),
        Ok(false) => {
            let page = SetupPage {
                layout: layout(&visitor, "Set up"),
                error: None,
                email: String::new(),
                name: String::new(),
                org_name: String::new(),
                org_slug: slug_preview(""),
            };
            visitor.finish(render(StatusCode::OK, &page))
        }
        Err(err) => error_page(&visitor, err.into()),
    }
}

/// The page: claims setup: fields `setup_token`, `email`, `name`, `password`, `org_name`, `csrf_token`.
#[utoipa::path(post, path = "/setup", operation_id = "page_setup", tag = "pages",
    responses((status = 200, description = "the new owner's account page with the first token shown once", content_type = "text/html"), (status = 400, description = "the wizard again with the problem", content_type = "text/html"), (status = 403, description = "a wrong setup token or CSRF token", content_type = "text/html")))]
pub async fn setup(State(state): State<AppState>, mut visitor: Visitor, form: WebForm) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    if matches!(state.store.setup_claimed().await, Ok(true)) {
        return visitor.finish(Redirect::to("/login").into_response());
    }
    let req = ClaimRequest {
        setup_token: form.get("setup_token").map(|t| Secret::new(t.trim())),
        email: form.text("email"),
        name: form.text("name"),
        password: Secret::new(form.text("password")),
        org_name: form.text("org_name"),
    };
    match setup::claim(&state, req, &visitor.meta).await {
        Ok(claimed) => {
            let mut response = Redirect::to("/account").into_response();
            if let Err(err) = visitor
                .sign_in(
                    &state,
                    claimed.user.clone(),
                    SignInMethod::Password,
                    &mut response,
                )
                .await
            {
                return error_page(&visitor, err);
            }
            // The account page shows the owner's first token once.
            let flash = Flash::secret(
                format!("Setup complete: you own {}.", claimed.org.name),
                "Your first token",
                claimed.issued.token.expose(),
            )
            .for_purpose(
                "Use it in a script or a CI job. To sign in a laptop, run devauth login there instead: each device gets a token of its own.",
            );
            if let Err(err) = visitor.keep_flash(&state, &flash, &mut response).await {
                return error_page(&visitor, err);
            }
            visitor.finish(response)
        }
        Err(err) => {
            let page = SetupPage {
                layout: layout(&visitor, "Set up"),
                error: Some(err.to_string()),
                email: form.text("email"),
                name: form.text("name"),
                org_name: form.text("org_name"),
                org_slug: slug_preview(&form.text("org_name")),
            };
            let mut response = visitor.finish(render(status_of(&err), &page));
            with_fault(&mut response, &err);
            response
        }
    }
}

/// The slug the server will give an org of this name, as the wizard shows it.
fn slug_preview(name: &str) -> String {
    let letters = name.chars().filter(char::is_ascii_alphanumeric).count();
    if letters < 2 {
        return "(chosen for you)".into();
    }
    crate::identity::slugify(name)
}
