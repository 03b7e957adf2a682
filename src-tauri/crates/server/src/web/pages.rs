//! Sign-in, sign-out, the setup wizard, and the device pages: code entry,
//! the confirm page (with the different-network warning) and the result.

use super::session::{Visitor, WebForm};
use super::views::*;
use crate::device_flow::{self, PendingRequest, not_pending};
use crate::error::ApiError;
use crate::identity::verify_password;
use crate::model::{Actor, DeviceStatus, NewAuditEvent};
use crate::policy::Principal;
use crate::secret::Secret;
use crate::setup::{self, ClaimRequest};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

pub fn layout(visitor: &Visitor, title: &str) -> Layout {
    Layout {
        title: title.to_string(),
        user: visitor.user.as_ref().map(|u| u.email.clone()),
        csrf: visitor.csrf_token(),
    }
}

/// A page with one message and maybe a link onward.
pub fn message(
    visitor: &Visitor,
    status: StatusCode,
    heading: &str,
    body: &str,
    tone: &'static str,
    link: Option<(&str, &str)>,
) -> Response {
    let page = MessagePage {
        layout: layout(visitor, heading),
        heading: heading.to_string(),
        body: body.to_string(),
        tone,
        link: link.map(|(h, l)| (h.to_string(), l.to_string())),
    };
    visitor.finish(render(status, &page))
}

/// The answer to a form without a valid `csrf_token`: nothing was changed.
pub fn csrf_failed(visitor: &Visitor) -> Response {
    message(
        visitor,
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form did not come from this page, or your session changed since it was shown. Nothing was changed. Go back, reload the page and try again.",
        "error",
        None,
    )
}

/// Only same-site paths: `/x`, never `//host` or `https://…`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.contains("\r")
                && !n.contains('\n') =>
        {
            n.to_string()
        }
        _ => "/account".to_string(),
    }
}

/// What a signed-in form must answer instead of acting: the CSRF page when its
/// token is wrong, the sign-in page (then back to `next`) when nobody is signed in.
pub fn refuse_post(visitor: &Visitor, form: &WebForm, next: &str) -> Option<Response> {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return Some(csrf_failed(visitor));
    }
    if visitor.user.is_none() {
        return Some(visitor.finish(to_login(next)));
    }
    None
}

pub fn to_login(next: &str) -> Response {
    let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("/login?next={encoded}")).into_response()
}

pub fn error_page(visitor: &Visitor, err: ApiError) -> Response {
    message(
        visitor,
        err.status,
        "Something went wrong",
        &err.description,
        "error",
        Some(("/account", "Back to your account")),
    )
}

pub async fn home(visitor: Visitor) -> Response {
    let to = if visitor.user.is_some() {
        "/account"
    } else {
        "/login"
    };
    visitor.finish(Redirect::to(to).into_response())
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(visitor: Visitor, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if visitor.user.is_some() {
        return visitor.finish(Redirect::to(&next).into_response());
    }
    let page = LoginPage {
        layout: layout(&visitor, "Sign in"),
        error: None,
        email: String::new(),
        next,
    };
    visitor.finish(render(StatusCode::OK, &page))
}

pub async fn login(State(state): State<AppState>, mut visitor: Visitor, form: WebForm) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    let email = form.text("email").trim().to_string();
    let next = safe_next(form.get("next"));
    let retry = |visitor: &Visitor, status: StatusCode, error: String| {
        let page = LoginPage {
            layout: layout(visitor, "Sign in"),
            error: Some(error),
            email: email.clone(),
            next: next.clone(),
        };
        visitor.finish(render(status, &page))
    };
    let now = state.now();
    let ip_key = format!("login-ip:{}", visitor.meta.ip.as_deref().unwrap_or("-"));
    let email_key = format!("login-email:{}", email.to_lowercase());
    let keys = [ip_key.as_str(), email_key.as_str()];
    if let Err(wait) = state.auth_failures.check(&keys, now) {
        return retry(
            &visitor,
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed sign-ins. Try again in {wait} seconds."),
        );
    }
    let user = match state.store.user_by_email(&email).await {
        Ok(user) => user,
        Err(err) => return error_page(&visitor, err.into()),
    };
    let password = Secret::new(form.text("password"));
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let valid = verify_password(stored, &password).await;
    let user = match user {
        Some(user) if valid && user.disabled_at.is_none() => user,
        _ => {
            state.auth_failures.record_failure(&keys, now);
            let audit = NewAuditEvent::new(now, Actor::Anonymous, "login.failed", &visitor.meta)
                .target(email.clone());
            if let Err(err) = state.store.append_audit(&audit).await {
                return error_page(&visitor, err.into());
            }
            return retry(
                &visitor,
                StatusCode::UNAUTHORIZED,
                "Wrong email or password.".into(),
            );
        }
    };
    let actor = Actor::User {
        id: user.id.clone(),
        email: user.email.clone(),
    };
    let mut response = Redirect::to(&next).into_response();
    if let Err(err) = visitor.sign_in(&state, user, &mut response).await {
        return error_page(&visitor, err);
    }
    let _ = state
        .store
        .append_audit(&NewAuditEvent::new(
            now,
            actor,
            "login.succeeded",
            &visitor.meta,
        ))
        .await;
    visitor.finish(response)
}

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
            };
            visitor.finish(render(StatusCode::OK, &page))
        }
        Err(err) => error_page(&visitor, err.into()),
    }
}

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
                .sign_in(&state, claimed.user.clone(), &mut response)
                .await
            {
                return error_page(&visitor, err);
            }
            // The page after setup shows the owner's first token once.
            let shown = ShownOnce {
                name: "Your first token (setup)".into(),
                value: claimed.issued.token.expose().to_string(),
            };
            let notice = format!("Setup complete: you own {}.", claimed.org.name);
            let mut page = super::account::render(
                &state,
                &visitor,
                StatusCode::OK,
                Some(shown),
                Some(notice),
                None,
            )
            .await;
            for cookie in response.headers().get_all(axum::http::header::SET_COOKIE) {
                page.headers_mut()
                    .append(axum::http::header::SET_COOKIE, cookie.clone());
            }
            page
        }
        Err(err) => {
            let page = SetupPage {
                layout: layout(&visitor, "Set up"),
                error: Some(err.description),
                email: form.text("email"),
                name: form.text("name"),
                org_name: form.text("org_name"),
            };
            visitor.finish(render(err.status, &page))
        }
    }
}

#[derive(Deserialize)]
pub struct CodeQuery {
    user_code: Option<String>,
}

pub async fn device_form(visitor: Visitor, Query(q): Query<CodeQuery>) -> Response {
    let code = q.user_code.unwrap_or_default();
    if visitor.user.is_none() {
        let next = if code.is_empty() {
            "/device".to_string()
        } else {
            let encoded: String = form_urlencoded::byte_serialize(code.as_bytes()).collect();
            format!("/device?user_code={encoded}")
        };
        return visitor.finish(to_login(&next));
    }
    let page = DevicePage {
        layout: layout(&visitor, "Connect a device"),
        error: None,
        user_code: code.chars().take(16).collect(),
    };
    visitor.finish(render(StatusCode::OK, &page))
}

fn code_error(visitor: &Visitor, code: &str, err: ApiError) -> Response {
    let page = DevicePage {
        layout: layout(visitor, "Connect a device"),
        error: Some(capitalize(&err.description)),
        user_code: code.chars().take(16).collect(),
    };
    visitor.finish(render(err.status, &page))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}

fn already_decided(visitor: &Visitor, status: DeviceStatus) -> Response {
    decided_message(visitor, not_pending(status))
}

fn decided_message(visitor: &Visitor, err: ApiError) -> Response {
    let heading = if err.code == "expired_user_code" {
        "This code has expired"
    } else {
        "This code was already used"
    };
    message(
        visitor,
        err.status,
        heading,
        &capitalize(&err.description),
        "warn",
        Some(("/device", "Enter another code")),
    )
}

pub async fn device_submit(
    State(state): State<AppState>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    let Some(user) = visitor.user.clone() else {
        return visitor.finish(to_login("/device"));
    };
    let code = form.text("user_code");
    let principal = Principal::session(user.clone());
    let request = match device_flow::lookup(&state, &principal, &code, &visitor.meta).await {
        Ok(request) => request,
        Err(err) => return code_error(&visitor, &code, err),
    };
    if request.status != DeviceStatus::Pending {
        return already_decided(&visitor, request.status);
    }
    let orgs = match state.store.orgs_of_user(&user.id).await {
        Ok(orgs) => orgs,
        Err(err) => return error_page(&visitor, err.into()),
    };
    if orgs.is_empty() {
        return message(
            &visitor,
            StatusCode::FORBIDDEN,
            "No organization to sign in to",
            "You are not a member of any organization yet. Ask an admin to add you, then enter the code again.",
            "warn",
            None,
        );
    }
    confirm_page(&state, &visitor, &request, &code, orgs)
}

fn confirm_page(
    state: &AppState,
    visitor: &Visitor,
    request: &PendingRequest,
    code: &str,
    orgs: Vec<(crate::model::Org, crate::model::Role)>,
) -> Response {
    let now = state.now();
    let shown = crate::secret::normalize_user_code(code)
        .map(|c| crate::secret::format_user_code(&c))
        .unwrap_or_default();
    let page = ConfirmPage {
        layout: layout(visitor, "Confirm sign-in"),
        user_code: shown,
        device_name: request
            .device_name
            .clone()
            .unwrap_or_else(|| "(unnamed device)".into()),
        client_id: request.client_id.clone(),
        requester_ip: request
            .requester_ip
            .clone()
            .unwrap_or_else(|| "unknown".into()),
        user_agent: request.user_agent.clone().unwrap_or_default(),
        requested: format!(
            "{} ({})",
            when(request.requested_at),
            relative(request.requested_at, now)
        ),
        expires: format!(
            "{} ({})",
            when(request.expires_at),
            relative(request.expires_at, now)
        ),
        different_network: request.requester_ip.is_some()
            && request.requester_ip != visitor.meta.ip,
        orgs: orgs
            .into_iter()
            .map(|(org, role)| OrgOption {
                slug: org.slug,
                name: org.name,
                role: role.to_string(),
            })
            .collect(),
    };
    visitor.finish(render(StatusCode::OK, &page))
}

pub async fn device_decide(
    State(state): State<AppState>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    if !visitor.csrf_ok(form.get("csrf_token")) {
        return csrf_failed(&visitor);
    }
    let Some(user) = visitor.user.clone() else {
        return visitor.finish(to_login("/device"));
    };
    let code = form.text("user_code");
    let principal = Principal::session(user.clone());
    let result = match form.get("action") {
        Some("approve") => {
            device_flow::approve(&state, &principal, &code, &form.text("org"), &visitor.meta).await
        }
        Some("deny") => device_flow::deny(&state, &principal, &code, &visitor.meta).await,
        _ => Err(ApiError::invalid_request("choose Approve or Deny")),
    };
    match result {
        Ok(request) if request.status == DeviceStatus::Approved => {
            let device = request
                .device_name
                .unwrap_or_else(|| request.client_id.clone());
            let body = format!(
                "{device} is signed in to {} as {}. You can return to the app now.",
                form.text("org"),
                user.email
            );
            message(
                &visitor,
                StatusCode::OK,
                "Device approved",
                &body,
                "ok",
                None,
            )
        }
        Ok(request) => {
            let device = request
                .device_name
                .unwrap_or_else(|| request.client_id.clone());
            let body = format!(
                "{device} was not signed in. If you did not start this request, nobody got access. You can close this page."
            );
            message(
                &visitor,
                StatusCode::OK,
                "Request denied",
                &body,
                "warn",
                None,
            )
        }
        Err(err) if err.code == "expired_user_code" || err.code == "code_already_used" => {
            decided_message(&visitor, err)
        }
        Err(err) if err.code == "invalid_user_code" || err.code == "rate_limited" => {
            code_error(&visitor, &code, err)
        }
        Err(err) => message(
            &visitor,
            err.status,
            "Not approved",
            &capitalize(&err.description),
            "error",
            Some(("/device", "Start over")),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            super::safe_next(Some("/device?user_code=BCDF-GHJK")),
            "/device?user_code=BCDF-GHJK"
        );
        assert_eq!(super::safe_next(Some("//evil.example/x")), "/account");
        assert_eq!(super::safe_next(Some("https://evil.example")), "/account");
        assert_eq!(super::safe_next(Some("/\\evil.example")), "/account");
        assert_eq!(super::safe_next(None), "/account");
    }
}
