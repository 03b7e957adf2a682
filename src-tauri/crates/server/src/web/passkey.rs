//! Passkey pages ([`crate::passkeys`] does the work). The ceremonies need
//! the browser's WebAuthn API, so these answer the pages' script with JSON
//! (forms with a `csrf_token` like every other): begin gives the options
//! for `navigator.credentials`, finish takes what the authenticator made
//! and answers where to go next.

use super::flash::Flash;
use super::page::{safe_next, sentence, status_of};
use super::session::{Visitor, WebForm};
use crate::error::Error;
use crate::model::SignInMethod;
use crate::passkeys;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

fn answer(visitor: &Visitor, status: StatusCode, body: serde_json::Value) -> Response {
    visitor.finish((status, Json(body)).into_response())
}

fn failed(visitor: &Visitor, err: &Error) -> Response {
    let text = match err {
        Error::Store(_) | Error::Internal(_) => {
            "Something went wrong on the server. Try again.".to_string()
        }
        other => sentence(&other.to_string()),
    };
    answer(visitor, status_of(err), json!({ "error": text }))
}

/// A ceremony begun: its id and the options for the browser's WebAuthn call.
fn begun_answer<T: serde::Serialize>(
    visitor: &Visitor,
    begun: Result<(String, T), Error>,
) -> Response {
    match begun {
        Ok((ceremony, options)) => answer(
            visitor,
            StatusCode::OK,
            json!({ "ceremony": ceremony, "options": options }),
        ),
        Err(err) => failed(visitor, &err),
    }
}

fn expired(visitor: &Visitor) -> Response {
    answer(
        visitor,
        StatusCode::FORBIDDEN,
        json!({ "error": "This page has expired: reload it and try again." }),
    )
}

/// The page: starts registering a passkey (fields `csrf_token`, `name`):
/// `{"ceremony", "options"}`.
#[utoipa::path(post, path = "/account/passkeys/begin", operation_id = "page_passkey_register_begin", tag = "pages",
    responses((status = 200, description = "the ceremony's id and the options for navigator.credentials.create", content_type = "application/json"), (status = 400, description = "a bad name", content_type = "application/json"), (status = 401, description = "not signed in", content_type = "application/json"), (status = 403, description = "a missing or wrong CSRF token", content_type = "application/json")))]
pub async fn register_begin(
    State(state): State<AppState>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    let Some(user) = visitor.user.clone() else {
        return answer(
            &visitor,
            StatusCode::UNAUTHORIZED,
            json!({ "error": "Sign in first." }),
        );
    };
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return expired(&visitor);
    }
    let browser = visitor.browser_hash();
    let begun = passkeys::begin_registration(&state, &user, &form.text("name"), &browser).await;
    begun_answer(&visitor, begun)
}

/// The page: finishes a registration (fields `csrf_token`, `ceremony`,
/// `credential`, the authenticator's answer as JSON): `{"redirect"}`.
#[utoipa::path(post, path = "/account/passkeys/finish", operation_id = "page_passkey_register_finish", tag = "pages",
    responses((status = 200, description = "added: where to go", content_type = "application/json"), (status = 400, description = "the answer could not be checked", content_type = "application/json"), (status = 409, description = "used, expired or another browser's", content_type = "application/json")))]
pub async fn register_finish(
    State(state): State<AppState>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    let Some(user) = visitor.user.clone() else {
        return answer(
            &visitor,
            StatusCode::UNAUTHORIZED,
            json!({ "error": "Sign in first." }),
        );
    };
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return expired(&visitor);
    }
    let finished = passkeys::finish_registration(
        &state,
        &user,
        &form.text("ceremony"),
        &form.text("credential"),
        &visitor.browser_hash(),
        &visitor.meta,
    )
    .await;
    match finished {
        Ok(name) => {
            let mut response = answer(
                &visitor,
                StatusCode::OK,
                json!({ "redirect": "/account#passkeys" }),
            );
            let flash = Flash::notice(format!(
                "Passkey “{name}” added: use it to sign in without a password."
            ));
            if let Err(err) = visitor.keep_flash(&state, &flash, &mut response).await {
                return failed(&visitor, &err);
            }
            response
        }
        Err(err) => failed(&visitor, &err),
    }
}

/// The page: starts a sign-in with a passkey (fields `csrf_token`, `next`):
/// `{"ceremony", "options"}`.
#[utoipa::path(post, path = "/login/passkey/begin", operation_id = "page_passkey_sign_in_begin", tag = "pages",
    responses((status = 200, description = "the ceremony's id and the options for navigator.credentials.get", content_type = "application/json"), (status = 403, description = "a missing or wrong CSRF token", content_type = "application/json"), (status = 409, description = "passkeys are off on this server", content_type = "application/json")))]
pub async fn sign_in_begin(
    State(state): State<AppState>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return expired(&visitor);
    }
    let next = safe_next(form.get("next"));
    let begun = passkeys::begin_sign_in(&state, &visitor.browser_hash(), &next).await;
    begun_answer(&visitor, begun)
}

/// The page: finishes a sign-in with a passkey (fields `csrf_token`,
/// `ceremony`, `credential`): signed in (or, signed in already, signed in
/// again now), `{"redirect"}`.
#[utoipa::path(post, path = "/login/passkey/finish", operation_id = "page_passkey_sign_in_finish", tag = "pages",
    responses((status = 200, description = "signed in: where to go", content_type = "application/json"), (status = 400, description = "refused: an unknown or removed passkey, an answer that does not check", content_type = "application/json"), (status = 409, description = "used, expired or another browser's", content_type = "application/json")))]
pub async fn sign_in_finish(
    State(state): State<AppState>,
    mut visitor: Visitor,
    form: WebForm,
) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return expired(&visitor);
    }
    let finished = passkeys::finish_sign_in(
        &state,
        &form.text("ceremony"),
        &form.text("credential"),
        &visitor.browser_hash(),
        &visitor.meta,
    )
    .await;
    let (user, next) = match finished {
        Ok(found) => found,
        Err(err) => return failed(&visitor, &err),
    };
    if let Some(current) = &visitor.user
        && current.id != user.id
    {
        let err = Error::Conflict(format!(
            "this passkey signs in as {}, and you are signed in as {}: sign out first",
            user.email, current.email
        ));
        return failed(&visitor, &err);
    }
    let mut response = (StatusCode::OK, Json(json!({ "redirect": next }))).into_response();
    let started = if visitor.user.is_some() {
        visitor
            .renew(&state, user, SignInMethod::Passkey, &mut response)
            .await
    } else {
        visitor
            .sign_in(&state, user, SignInMethod::Passkey, &mut response)
            .await
    };
    if let Err(err) = started {
        return failed(&visitor, &err);
    }
    visitor.finish(response)
}

/// The page: removes one of your passkeys (field `csrf_token`); it signs
/// in no more.
#[utoipa::path(post, path = "/account/passkeys/{id}/remove", operation_id = "page_passkey_remove", tag = "pages",
    params(("id" = String, Path, description = "the passkey's id")),
    responses((status = 303, description = "to `/account#passkeys`"), (status = 403, description = "a missing or wrong CSRF token", content_type = "text/html"), (status = 404, description = "no such passkey of yours", content_type = "text/html")))]
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    let user = match super::page::form_user(&visitor, &form, "/account") {
        Ok(user) => user,
        Err(refusal) => return refusal,
    };
    let done = passkeys::remove(&state, &user, &id, &visitor.meta)
        .await
        .map(|name| format!("Passkey “{name}” removed: it signs in no more."));
    super::page::after(&state, &visitor, "/account#passkeys", done).await
}
