//! `/invite/{secret}`: the page an invitation's link opens. Without an
//! account the person sets a name and password and lands in the org signed
//! in; with one they sign in (back to this page) and accept. Only the
//! invited email can accept; a used, withdrawn or expired link says so.

use super::flash::Flash;
use super::page::{csrf_failed, error_page, layout, message, see_other, sentence, status_of};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::error::Error;
use crate::invitations;
use crate::model::SignInMethod;
use crate::model::{Invitation, InvitationState, Org};
use crate::secret::Secret;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Template)]
#[template(path = "invite.html")]
pub struct InvitePage {
    pub layout: Layout,
    pub secret: String,
    pub org_name: String,
    pub email: String,
    pub role: String,
    pub inviter: String,
    pub expires: String,
    pub signed_in_as_invited: bool,
    pub signed_in_as_other: Option<String>,
    pub has_account: bool,
    pub sign_in: String,
    pub name: String,
    pub error: Option<String>,
    pub error_field: &'static str,
    /// The single sign-on buttons: provider id and name.
    pub sso: Vec<(String, String)>,
}

/// The link's state as a page, when it cannot be accepted.
fn closed(visitor: &Visitor, state: InvitationState) -> Option<Response> {
    let (heading, body) = match state {
        InvitationState::Pending => return None,
        InvitationState::Accepted => (
            "This invitation was used",
            "Somebody accepted it already. If that was you, sign in.",
        ),
        InvitationState::Withdrawn => (
            "This invitation was withdrawn",
            "The person who invited you took it back. Ask them for a new one.",
        ),
        InvitationState::Expired => (
            "This invitation has expired",
            "Invitations work for 7 days. Ask the person who invited you for a new one.",
        ),
    };
    Some(message(
        visitor,
        StatusCode::GONE,
        heading,
        body,
        "warn",
        Some(("/login", "Sign in")),
    ))
}

fn unknown(visitor: &Visitor) -> Response {
    message(
        visitor,
        StatusCode::NOT_FOUND,
        "This invitation link is not known",
        "Check that the whole link was copied, or ask for a new invitation.",
        "error",
        None,
    )
}

async fn page(
    state: &AppState,
    visitor: &Visitor,
    secret: &str,
    (invitation, org): (&Invitation, &Org),
    status: StatusCode,
    error: Option<(String, &'static str)>,
    name: String,
) -> Response {
    let has_account = match state.store.user_by_email(&invitation.email).await {
        Ok(found) => found.is_some(),
        Err(err) => return error_page(visitor, err.into()),
    };
    let signed_in = visitor.user.as_ref().map(|u| u.email.clone());
    let is_invited = signed_in
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(&invitation.email));
    let encoded: String =
        form_urlencoded::byte_serialize(format!("/invite/{secret}").as_bytes()).collect();
    let (error, error_field) = match error {
        Some((text, field)) => (Some(text), field),
        None => (None, ""),
    };
    let page = InvitePage {
        layout: layout(visitor, &format!("Join {}", org.name)),
        secret: secret.to_string(),
        org_name: org.name.clone(),
        email: invitation.email.clone(),
        role: invitation.role.to_string(),
        inviter: invitation
            .invited_by_email
            .clone()
            .unwrap_or_else(|| "An administrator".into()),
        expires: when(invitation.expires_at),
        signed_in_as_invited: is_invited,
        signed_in_as_other: signed_in.filter(|_| !is_invited),
        has_account,
        sign_in: format!("/login?next={encoded}"),
        name,
        error,
        error_field,
        sso: state.sso.buttons(),
    };
    visitor.finish(render(status, &page))
}

/// The page: an invitation: join the org with a new account, or sign in and accept.
#[utoipa::path(get, path = "/invite/{secret}", operation_id = "page_invite", tag = "pages",
    params(("secret" = String, Path, description = "the invitation link's secret")),
    responses((status = 200, description = "the invitation", content_type = "text/html"), (status = 404, description = "an unknown link", content_type = "text/html"), (status = 410, description = "used, withdrawn or expired", content_type = "text/html")))]
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(secret): Path<String>,
) -> Response {
    let (invitation, org) = match invitations::open(&state, &secret).await {
        Ok(found) => found,
        Err(Error::NotFound(_)) => return unknown(&visitor),
        Err(err) => return error_page(&visitor, err),
    };
    if let Some(response) = closed(&visitor, invitation.state(state.now())) {
        return response;
    }
    page(
        &state,
        &visitor,
        &secret,
        (&invitation, &org),
        StatusCode::OK,
        None,
        String::new(),
    )
    .await
}

/// The page: accepts an invitation: `action=create` with `name` and `password` (a new account, then signed in), or `action=accept` signed in as the invited email; `csrf_token`.
#[utoipa::path(post, path = "/invite/{secret}", operation_id = "page_invite_accept", tag = "pages",
    params(("secret" = String, Path, description = "the invitation link's secret")),
    responses((status = 303, description = "joined: to `/account`"), (status = 400, description = "the form again with the problem", content_type = "text/html"), (status = 403, description = "signed in as another email, or a wrong CSRF token", content_type = "text/html"), (status = 404, description = "an unknown link", content_type = "text/html"), (status = 410, description = "used, withdrawn or expired", content_type = "text/html")))]
pub async fn accept(
    State(state): State<AppState>,
    mut visitor: Visitor,
    Path(secret): Path<String>,
    form: WebForm,
) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    let (invitation, org) = match invitations::open(&state, &secret).await {
        Ok(found) => found,
        Err(Error::NotFound(_)) => return unknown(&visitor),
        Err(err) => return error_page(&visitor, err),
    };
    if let Some(response) = closed(&visitor, invitation.state(state.now())) {
        return response;
    }
    let opened = (&invitation, &org);
    let name = form.text("name");
    match (form.get("action"), visitor.user.clone()) {
        (Some("accept"), Some(user)) => {
            match invitations::accept_as(&state, &secret, &user, &visitor.meta).await {
                Ok((invitation, org)) => {
                    let flash =
                        Flash::notice(format!("You joined {} as {}.", org.name, invitation.role));
                    see_other(&state, &visitor, "/account", &flash).await
                }
                Err(err) => again(&state, &visitor, &secret, opened, &name, err, "").await,
            }
        }
        (Some("create"), None) => {
            let password = Secret::new(form.text("password"));
            let name = form.text("name");
            match invitations::accept_as_new(&state, &secret, &name, &password, &visitor.meta).await
            {
                Ok((user, org)) => {
                    let mut response = Redirect::to("/account").into_response();
                    if let Err(err) = visitor
                        .sign_in(&state, user, SignInMethod::Password, &mut response)
                        .await
                    {
                        return error_page(&visitor, err);
                    }
                    let flash = Flash::notice(format!(
                        "Welcome to {}: you joined as {}. To sign in a laptop, run devauth login on it and approve it here.",
                        org.name, invitation.role
                    ));
                    if let Err(err) = visitor.keep_flash(&state, &flash, &mut response).await {
                        return error_page(&visitor, err);
                    }
                    visitor.finish(response)
                }
                Err(err) => {
                    let text = err.to_string();
                    let field = if text.contains("password") {
                        "password"
                    } else if text.contains("name") {
                        "name"
                    } else {
                        ""
                    };
                    again(&state, &visitor, &secret, opened, &name, err, field).await
                }
            }
        }
        (Some("accept"), None) => {
            let next: String =
                form_urlencoded::byte_serialize(format!("/invite/{secret}").as_bytes()).collect();
            visitor.finish(Redirect::to(&format!("/login?next={next}")).into_response())
        }
        _ => {
            let err = Error::invalid(
                "sign out first: you are signed in, and this form makes a new account",
            );
            again(&state, &visitor, &secret, opened, &name, err, "").await
        }
    }
}

/// The invitation page again, saying what was wrong (beside `field`).
async fn again(
    state: &AppState,
    visitor: &Visitor,
    secret: &str,
    opened: (&Invitation, &Org),
    name: &str,
    err: Error,
    field: &'static str,
) -> Response {
    let status = status_of(&err);
    let text = sentence(&err.to_string());
    page(
        state,
        visitor,
        secret,
        opened,
        status,
        Some((text, field)),
        name.to_string(),
    )
    .await
}
