//! The device pages: `/device` (code entry), the confirm page (the device,
//! the requesting IP and time, the different-network warning, the org to
//! approve into) and the result, all through the approval service.

use super::page::{
    capitalize, error_page, form_user, layout, message, status_of, to_login, with_fault,
};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::device_flow::{self, PendingRequest, not_pending};
use crate::error::{Error, Flow};
use crate::model::{DeviceStatus, User};
use crate::policy::Principal;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use devauth_proto::text::visible;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct CodeQuery {
    user_code: Option<String>,
}

/// The page: the code entry page; `?user_code=` fills it in.
#[utoipa::path(get, path = "/device", operation_id = "page_device_form", tag = "pages",
    responses((status = 200, description = "the code entry page", content_type = "text/html"), (status = 303, description = "not signed in: to `/login`")))]
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

fn code_error(visitor: &Visitor, code: &str, err: Error) -> Response {
    let page = DevicePage {
        layout: layout(visitor, "Connect a device"),
        error: Some(capitalize(&err.to_string())),
        user_code: code.chars().take(16).collect(),
    };
    let mut response = visitor.finish(render(status_of(&err), &page));
    with_fault(&mut response, &err);
    response
}

fn already_decided(visitor: &Visitor, status: DeviceStatus) -> Response {
    let err = not_pending(status);
    let heading = if status == DeviceStatus::Expired {
        "This code has expired"
    } else {
        "This code was already used"
    };
    message(
        visitor,
        status_of(&err),
        heading,
        &capitalize(&err.to_string()),
        "warn",
        Some(("/device", "Enter another code")),
    )
}

/// Who decides a device form's code: the signed-in user, the code typed,
/// and the user as a principal; or what to answer instead.
#[allow(clippy::result_large_err)] // the refusal is a whole page
fn decider(visitor: &Visitor, form: &WebForm) -> Result<(Arc<User>, String, Principal), Response> {
    let user = form_user(visitor, form, "/device")?;
    let principal = Principal::session(user.clone());
    Ok((user, form.text("user_code"), principal))
}

/// The page: looks up a typed code (fields `user_code`, `csrf_token`) and shows the confirm page.
#[utoipa::path(post, path = "/device", operation_id = "page_device_submit", tag = "pages",
    responses((status = 200, description = "the confirm page: the device, its IP and time, the org to approve into", content_type = "text/html"), (status = 400, description = "an unknown code", content_type = "text/html"), (status = 409, description = "a decided or expired code", content_type = "text/html"), (status = 429, description = "too many wrong codes", content_type = "text/html")))]
pub async fn device_submit(
    State(state): State<AppState>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    let (user, code, principal) = match decider(&visitor, &form) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
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
        // What the requester wrote is shown as it renders: nothing invisible
        // (names are refused with such characters; user agents are not).
        device_name: request
            .device_name
            .as_deref()
            .map_or_else(|| "(unnamed device)".into(), visible),
        client_id: request.client_id.clone(),
        requester_ip: request
            .requester_ip
            .clone()
            .unwrap_or_else(|| "unknown".into()),
        user_agent: request
            .user_agent
            .as_deref()
            .map(visible)
            .unwrap_or_default(),
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

/// The page: approves into an org or denies: fields `user_code`, `org`, `action=approve|deny`, `csrf_token`.
#[utoipa::path(post, path = "/device/decide", operation_id = "page_device_decide", tag = "pages",
    responses((status = 200, description = "the outcome", content_type = "text/html"), (status = 403, description = "not a member of that org, or a wrong CSRF token", content_type = "text/html"), (status = 409, description = "decided meanwhile", content_type = "text/html")))]
pub async fn device_decide(
    State(state): State<AppState>,
    visitor: Visitor,
    form: WebForm,
) -> Response {
    let (user, code, principal) = match decider(&visitor, &form) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let result = match form.get("action") {
        Some("approve") => {
            device_flow::approve(&state, &principal, &code, &form.text("org"), &visitor.meta).await
        }
        Some("deny") => device_flow::deny(&state, &principal, &code, &visitor.meta).await,
        _ => Err(Error::invalid("choose Approve or Deny")),
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
        Err(Error::Flow(Flow::NotPending(status))) => already_decided(&visitor, status),
        Err(err @ (Error::Flow(Flow::UnknownUserCode) | Error::RateLimited { .. })) => {
            code_error(&visitor, &code, err)
        }
        Err(err) => {
            let mut response = message(
                &visitor,
                status_of(&err),
                "Not approved",
                &capitalize(&err.to_string()),
                "error",
                Some(("/device", "Start over")),
            );
            with_fault(&mut response, &err);
            response
        }
    }
}
