//! The device pages: `/device` (code entry), the confirm page (the device,
//! the requesting IP and time, the different-network warning, the org to
//! approve into) and the result, all through the approval service.

use super::page::{
    error_page, form_user, layout, message, sentence, status_of, to_login, with_fault,
};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::device_flow::{self, PendingRequest, not_pending};
use crate::error::{Error, Flow};
use crate::identity;
use crate::model::SignInMethod;
use crate::model::{DeviceStatus, User};
use crate::policy::Principal;
use crate::secret::Secret;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use devauth_proto::text::visible;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct CodeQuery {
    user_code: Option<String>,
    /// `elsewhere`: a link from another site was not filled in (kept across
    /// the sign-in page).
    from: Option<String>,
}

/// What the code page says when a link from another site brought a code.
const NOT_FILLED: &str = "You followed a link from another site, so the code was not filled in. \
     Type the code your device shows. If you did not start a sign-in yourself, close this page.";

/// Whether this navigation came from another site, not from the person.
/// `Sec-Fetch-Site` says so where browsers send it (https, loopback):
/// `cross-site` or `same-site` is a link on another site (a phishing
/// page, a web mail), while `none` (typed, a bookmark, the app opening the
/// browser, a QR code) and `same-origin` (this server's own pages) are the
/// person's. Without it (plain http), a `Referer` from another origin.
fn from_another_site(headers: &HeaderMap, public_url: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site");
    }
    let origin = |url: &str| url::Url::parse(url).ok().map(|u| u.origin());
    header("referer").is_some_and(|referer| origin(referer) != origin(public_url))
}

/// The page: the code entry page; `?user_code=` fills it in, unless the
/// link came from another site.
#[utoipa::path(get, path = "/device", operation_id = "page_device_form", tag = "pages",
    responses((status = 200, description = "the code entry page", content_type = "text/html"), (status = 303, description = "not signed in: to `/login`")))]
pub async fn device_form(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(q): Query<CodeQuery>,
) -> Response {
    let sent = q.user_code.unwrap_or_default();
    let refused = !sent.is_empty() && from_another_site(&headers, &state.public_url);
    let code = if refused { String::new() } else { sent };
    let notice =
        (refused || q.from.as_deref() == Some("elsewhere")).then(|| NOT_FILLED.to_string());
    if visitor.user.is_none() {
        let next = if !code.is_empty() {
            let encoded: String = form_urlencoded::byte_serialize(code.as_bytes()).collect();
            format!("/device?user_code={encoded}")
        } else if notice.is_some() {
            "/device?from=elsewhere".to_string()
        } else {
            "/device".to_string()
        };
        return visitor.finish(to_login(&next));
    }
    let page = DevicePage {
        layout: layout(&visitor, "Approve a device"),
        error: None,
        notice,
        user_code: code.chars().take(16).collect(),
    };
    visitor.finish(render(StatusCode::OK, &page))
}

fn code_error(visitor: &Visitor, code: &str, err: Error) -> Response {
    let page = DevicePage {
        layout: layout(visitor, "Approve a device"),
        error: Some(sentence(&err.to_string())),
        notice: None,
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
        &sentence(&err.to_string()),
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
    let page = confirm_page(&state, &visitor, &request, &code, orgs, &Choices::default());
    visitor.finish(render(StatusCode::OK, &page))
}

/// What the approver chose on the confirm form, and what was wrong with it.
#[derive(Default)]
struct Choices {
    org: String,
    read_only: bool,
    days: Option<i64>,
    error: Option<(String, &'static str)>,
    /// Refused for how the approver signed in: offer single sign-on, a passkey.
    wants_sso: bool,
    wants_passkey: bool,
}

impl Choices {
    fn of(form: &WebForm) -> Choices {
        Choices {
            org: form.text("org"),
            read_only: form.get("access") == Some("read"),
            days: form.get("days").and_then(|d| d.trim().parse().ok()),
            error: None,
            wants_sso: false,
            wants_passkey: false,
        }
    }

    fn refused(self, error: &str, field: &'static str) -> Choices {
        Choices {
            error: Some((error.to_string(), field)),
            ..self
        }
    }
}

fn confirm_page(
    state: &AppState,
    visitor: &Visitor,
    request: &PendingRequest,
    code: &str,
    orgs: Vec<(crate::model::Org, crate::model::Role)>,
    choices: &Choices,
) -> ConfirmPage {
    let now = state.now();
    let shown = crate::secret::normalize_user_code(code)
        .map(|c| crate::secret::format_user_code(&c))
        .unwrap_or_default();
    let different = !device_flow::same_network(request, &visitor.meta);
    let most = state.config.token_ttl_days;
    let chosen_days = choices
        .days
        .filter(|d| (1..=most).contains(d))
        .unwrap_or(most);
    let mut offered: Vec<i64> = device_flow::OFFERED_DAYS
        .into_iter()
        .filter(|d| *d < most)
        .collect();
    offered.push(most);
    let (error, error_field) = match &choices.error {
        Some((text, field)) => (Some(text.clone()), *field),
        None => (None, ""),
    };
    let old = !visitor.signed_in_within(now, state.config.approval_max_auth_age_secs);
    let by_sso = visitor.signed_in_with == Some(SignInMethod::Sso);
    let by_passkey = visitor.signed_in_with == Some(SignInMethod::Passkey);
    ConfirmPage {
        layout: layout(visitor, "Approve a device"),
        heading: format!(
            "Sign in {} on “{}”?",
            client_words(&request.client_id),
            request
                .device_name
                .as_deref()
                .map_or_else(|| "an unnamed device".into(), visible)
        ),
        user_code: shown,
        show_code: !different,
        error,
        error_field,
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
        browser_ip: visitor.meta.ip.clone().unwrap_or_else(|| "unknown".into()),
        user_agent: request
            .user_agent
            .as_deref()
            .map(visible)
            .unwrap_or_default(),
        requested_ago: age(request.requested_at, now),
        requested: when(request.requested_at),
        expires: format!(
            "{} ({})",
            when(request.expires_at),
            relative(request.expires_at, now)
        ),
        different_network: different,
        needs_password: old && !by_sso && !by_passkey,
        sso_again: if (old && by_sso) || (error_field == "sign_in" && choices.wants_sso) {
            state.sso.buttons()
        } else {
            Vec::new()
        },
        passkey_again: state.webauthn.is_some()
            && ((old && by_passkey) || (error_field == "sign_in" && choices.wants_passkey)),
        again_next: format!(
            "/device?user_code={}",
            crate::secret::normalize_user_code(code).unwrap_or_default()
        ),
        max_auth_age: duration_words(state.config.approval_max_auth_age_secs),
        hint_elsewhere: request
            .org_hint
            .clone()
            .filter(|hint| !orgs.iter().any(|(org, _)| org.slug == *hint)),
        org_hint: request.org_hint.clone(),
        chosen_org: if choices.org.is_empty() {
            // The org the device asked for, if the approver is in it.
            request
                .org_hint
                .clone()
                .filter(|hint| orgs.iter().any(|(org, _)| org.slug == *hint))
                .unwrap_or_default()
        } else {
            choices.org.clone()
        },
        orgs: orgs
            .into_iter()
            .map(|(org, role)| OrgOption {
                slug: org.slug,
                name: org.name,
                role: role.to_string(),
            })
            .collect(),
        read_only: choices.read_only,
        days: offered
            .into_iter()
            .map(|days| DaysOption {
                days,
                selected: days == chosen_days,
            })
            .collect(),
    }
}

/// The confirm page again, for the same request, saying what was wrong; the
/// request stays pending.
async fn confirm_again(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    request: &PendingRequest,
    code: &str,
    choices: Choices,
    status: StatusCode,
) -> Response {
    let orgs = match state.store.orgs_of_user(&user.id).await {
        Ok(orgs) => orgs,
        Err(err) => return error_page(visitor, err.into()),
    };
    let page = confirm_page(state, visitor, request, code, orgs, &choices);
    visitor.finish(render(status, &page))
}

/// Why the confirm form comes back: the message, the field it is about, the status.
type Refusal = (String, &'static str, StatusCode);

/// Before a browser approval: across networks the code typed again from the
/// device; a sign-in older than `DEVAUTH_APPROVAL_MAX_AUTH_AGE`, the password
/// (then the session starts over: its cookie goes on `renewed`).
#[allow(clippy::result_large_err)] // the refusal is a whole page
async fn approval_checks(
    state: &AppState,
    visitor: &mut Visitor,
    user: &User,
    request: &PendingRequest,
    form: &WebForm,
    renewed: &mut Response,
) -> Result<(), Refusal> {
    if !device_flow::same_network(request, &visitor.meta) {
        let typed = form.get("confirm_code").unwrap_or_default();
        let expected = crate::secret::normalize_user_code(&form.text("user_code"));
        if typed.trim().is_empty() {
            let text = "This request came from another network: type the code your device \
                 shows to approve it.";
            return Err((text.to_string(), "confirm_code", StatusCode::BAD_REQUEST));
        }
        if crate::secret::normalize_user_code(typed) != expected {
            let text = "That is not the code of this request. Type the code your device shows; \
                 if no device of yours shows one, deny.";
            return Err((text.to_string(), "confirm_code", StatusCode::BAD_REQUEST));
        }
    }
    if visitor.signed_in_within(state.now(), state.config.approval_max_auth_age_secs) {
        return Ok(());
    }
    if visitor.signed_in_with == Some(SignInMethod::Sso) {
        let text = "You signed in with single sign-on a while ago: sign in again with it to \
             approve a device.";
        return Err((text.to_string(), "sso", StatusCode::UNAUTHORIZED));
    }
    if visitor.signed_in_with == Some(SignInMethod::Passkey) {
        let text = "You signed in with a passkey a while ago: sign in again with it to approve \
             a device.";
        return Err((text.to_string(), "passkey", StatusCode::UNAUTHORIZED));
    }
    let password = Secret::new(form.text("password"));
    if password.expose().is_empty() {
        let text = "Enter your password to approve a device.";
        return Err((text.to_string(), "password", StatusCode::UNAUTHORIZED));
    }
    let known = visitor.known_as(&user.email).map(str::to_string);
    let checked = identity::sign_in(
        state,
        &user.email,
        &password,
        known.as_deref(),
        &visitor.meta,
    )
    .await;
    let (text, status) = match checked {
        Ok(fresh) => match visitor
            .renew(state, fresh, SignInMethod::Password, renewed)
            .await
        {
            Ok(()) => return Ok(()),
            Err(_) => (
                "Your session could not be renewed. Try again.".to_string(),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        },
        Err(err) => match super::page::refused_password(err, "Wrong password.") {
            Ok((status, text, _)) => (text, status),
            Err(_) => (
                "Your password could not be checked. Try again.".to_string(),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        },
    };
    Err((text, "password", status))
}

/// When `org`'s policy wants approvers signed in another way than
/// `method`: that way, in words, and whether single sign-on, and a
/// passkey, are among them (and available here).
async fn wanted_sign_in(
    state: &AppState,
    org: &str,
    method: Option<SignInMethod>,
) -> Option<(String, bool, bool)> {
    let org = state.store.org_by_slug(org).await.ok()??;
    let policy = crate::org_policy::current(state, &org.id).await.ok()?;
    let refused =
        !policy.sign_in.is_empty() && !method.is_some_and(|m| policy.sign_in.contains(&m));
    let by_sso = policy.sign_in.contains(&SignInMethod::Sso) && state.sso.enabled();
    let by_passkey = policy.sign_in.contains(&SignInMethod::Passkey) && state.webauthn.is_some();
    refused.then(|| (policy.sign_in_text(), by_sso, by_passkey))
}

/// A registered client as people call it: "devauth CLI", not `devauth-cli`.
pub fn client_words(client_id: &str) -> String {
    match client_id {
        "devauth-cli" => "devauth CLI".into(),
        "devauth-desktop" => "the devauth app".into(),
        "devauth-harness" => "the devauth test harness".into(),
        other => other.to_string(),
    }
}

/// "2 hours", "30 minutes", "90 seconds".
fn duration_words(secs: i64) -> String {
    let (n, unit) = if secs >= 86_400 && secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs >= 3600 && secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs >= 60 && secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The page: approves into an org or denies: fields `user_code`, `org`,
/// `action=approve|deny`, `access=full|read`, `days`, `csrf_token`; across
/// networks `confirm_code`, after an old sign-in `password`.
#[utoipa::path(post, path = "/device/decide", operation_id = "page_device_decide", tag = "pages",
    responses((status = 200, description = "the outcome", content_type = "text/html"), (status = 400, description = "the confirm page again: the code was not typed (another network)", content_type = "text/html"), (status = 401, description = "the confirm page again: the password is needed (an old sign-in)", content_type = "text/html"), (status = 403, description = "not a member of that org, or a wrong CSRF token", content_type = "text/html"), (status = 409, description = "decided meanwhile", content_type = "text/html")))]
pub async fn device_decide(
    State(state): State<AppState>,
    mut visitor: Visitor,
    form: WebForm,
) -> Response {
    let (user, code, principal) = match decider(&visitor, &form) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let mut renewed = Response::default();
    let result = match form.get("action") {
        Some("approve") => {
            let request = match device_flow::lookup(&state, &principal, &code, &visitor.meta).await
            {
                Ok(request) if request.status == DeviceStatus::Pending => request,
                Ok(request) => return already_decided(&visitor, request.status),
                Err(err) => return code_error(&visitor, &code, err),
            };
            let choices = Choices::of(&form);
            if let Some(hint) = request.org_hint.as_deref()
                && hint != choices.org
                && form.get("other_org") != Some("yes")
            {
                let text = format!(
                    "The device asked to be signed in to {hint}, not {}. Tick the box to approve it into {} anyway: it gets a token it did not ask for.",
                    choices.org, choices.org
                );
                let choices = choices.refused(&text, "org");
                return confirm_again(
                    &state,
                    &visitor,
                    &user,
                    &request,
                    &code,
                    choices,
                    StatusCode::CONFLICT,
                )
                .await;
            }
            let checked =
                approval_checks(&state, &mut visitor, &user, &request, &form, &mut renewed).await;
            if let Err((text, field, status)) = checked {
                let choices = choices.refused(&text, field);
                return confirm_again(&state, &visitor, &user, &request, &code, choices, status)
                    .await;
            }
            let grant = device_flow::Grant {
                read_only: choices.read_only,
                days: choices.days,
            };
            let org = form.text("org");
            let meta = visitor.meta.clone();
            let method = visitor.signed_in_with;
            let found = request.clone();
            let approved = device_flow::approve_found(
                &state, &principal, method, request, &code, &org, grant, &meta,
            )
            .await;
            // Refused for how the approver signed in: the page offers to
            // sign in again the way the org wants (the request stays pending).
            if let Err(Error::PolicyDenied(reason)) = &approved
                && let Some((wants, by_sso, by_passkey)) =
                    wanted_sign_in(&state, &org, method).await
            {
                let text = format!(
                    "{} Sign in again with {wants}, then approve.",
                    super::page::sentence(reason)
                );
                // With single sign-on or a passkey wanted, the page offers it.
                let field = if by_sso || by_passkey {
                    "sign_in"
                } else {
                    "org"
                };
                let mut choices = choices.refused(&text, field);
                choices.wants_sso = by_sso;
                choices.wants_passkey = by_passkey;
                return confirm_again(
                    &state,
                    &visitor,
                    &user,
                    &found,
                    &code,
                    choices,
                    StatusCode::FORBIDDEN,
                )
                .await;
            }
            approved
        }
        Some("deny") => device_flow::deny(&state, &principal, &code, &visitor.meta).await,
        _ => Err(Error::invalid("choose Approve or Deny")),
    };
    let orgs = state.store.orgs_of_user(&user.id).await.unwrap_or_default();
    let mut response = outcome(&state, &visitor, &user, &orgs, &form, result);
    for cookie in renewed.headers().get_all(header::SET_COOKIE) {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    response
}

fn outcome(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    orgs: &[(crate::model::Org, crate::model::Role)],
    form: &WebForm,
    result: crate::error::Result<PendingRequest>,
) -> Response {
    let code = form.text("user_code");
    match result {
        Ok(request) if request.status == DeviceStatus::Approved => {
            let device = request
                .device_name
                .unwrap_or_else(|| request.client_id.clone());
            let choices = Choices::of(form);
            let days = request.token_days.unwrap_or(state.config.token_ttl_days);
            let org = orgs
                .iter()
                .find(|(org, _)| org.slug == choices.org)
                .map(|(org, role)| format!("{role} of {}", org.name))
                .unwrap_or_else(|| choices.org.clone());
            let body = if choices.read_only {
                format!(
                    "“{device}”, signed in as {}, may read your profile and tokens in {org} for {days} days. Return to the device now. Not you? Sign it out on your account page.",
                    user.email,
                    org = org.split(" of ").last().unwrap_or_default()
                )
            } else {
                format!(
                    "“{device}” now acts as you ({}) — {org} — for {days} days. Return to the device now. Not you? Sign it out on your account page.",
                    user.email
                )
            };
            message(
                visitor,
                StatusCode::OK,
                "Device approved",
                &body,
                "ok",
                Some(("/account#recent-sign-ins", "Your recent sign-ins")),
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
                visitor,
                StatusCode::OK,
                "Request denied",
                &body,
                "warn",
                None,
            )
        }
        Err(Error::Flow(Flow::NotPending(status))) => already_decided(visitor, status),
        Err(err @ (Error::Flow(Flow::UnknownUserCode) | Error::RateLimited { .. })) => {
            code_error(visitor, &code, err)
        }
        Err(err) => {
            let mut response = message(
                visitor,
                status_of(&err),
                "Not approved",
                &sentence(&err.to_string()),
                "error",
                Some(("/device", "Start over")),
            );
            with_fault(&mut response, &err);
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::from_another_site;
    use axum::http::HeaderMap;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("a header value"));
        }
        map
    }

    #[test]
    fn links_from_other_sites_are_told_apart_from_the_persons_own() {
        let ours = "https://auth.example.com";
        for other in [
            &[("sec-fetch-site", "cross-site")][..],
            &[("sec-fetch-site", "same-site")],
            &[
                ("sec-fetch-site", "Cross-Site"),
                ("referer", "https://auth.example.com/"),
            ],
            &[("referer", "https://mail.example.net/inbox")],
            &[("referer", "http://auth.example.com/")],
        ] {
            assert!(from_another_site(&headers(other), ours), "{other:?}");
        }
        for own in [
            &[][..],
            &[("sec-fetch-site", "none")],
            &[("sec-fetch-site", "same-origin")],
            &[
                ("sec-fetch-site", "none"),
                ("referer", "https://mail.example.net/"),
            ],
            &[("referer", "https://auth.example.com/device")],
        ] {
            assert!(!from_another_site(&headers(own), ours), "{own:?}");
        }
    }
}
