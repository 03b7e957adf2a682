//! The page toolkit every handler builds on: the layout, message and error
//! pages, the guard every signed-in form passes, and local redirects. Handler
//! modules import this; it imports none of them.

use super::flash::Flash;
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::error::Error;
use crate::model::User;
use crate::request::Fault;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;
use url::Url;

pub fn layout(visitor: &Visitor, title: &str) -> Layout {
    Layout {
        title: title.to_string(),
        user: visitor.user.as_ref().map(|u| u.email.clone()),
        admin: visitor.administers,
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

/// Where to go after sign-in: `next` only if it resolves, as a browser
/// resolves it (WHATWG URL: tabs and newlines dropped, `\` read as `/`,
/// `//host` another origin), to a path of this server; then the resolved
/// path, query and fragment, never the text as given. Anything else: the
/// account page.
pub fn safe_next(next: Option<&str>) -> String {
    const FALLBACK: &str = "/account";
    // The origin does not matter, only whether `next` keeps it.
    const BASE: &str = "https://devauth.invalid/";
    let Some(next) = next.filter(|n| n.starts_with('/')) else {
        return FALLBACK.to_string();
    };
    let (Ok(base), true) = (Url::parse(BASE), next.len() <= 2048) else {
        return FALLBACK.to_string();
    };
    let Ok(resolved) = base.join(next) else {
        return FALLBACK.to_string();
    };
    let path = resolved.path();
    // `//x` as a path would be read as a host by whoever follows it.
    if resolved.origin() != base.origin() || path.starts_with("//") || !path.starts_with('/') {
        return FALLBACK.to_string();
    }
    let mut local = path.to_string();
    if let Some(query) = resolved.query() {
        local.push('?');
        local.push_str(query);
    }
    if let Some(fragment) = resolved.fragment() {
        local.push('#');
        local.push_str(fragment);
    }
    local
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

/// The signed-in user behind a form, or what to answer instead (see
/// [`refuse_post`]).
// The refusal is a whole page, as axum's own rejections are responses.
#[allow(clippy::result_large_err)]
pub fn form_user(visitor: &Visitor, form: &WebForm, next: &str) -> Result<Arc<User>, Response> {
    if let Some(refusal) = refuse_post(visitor, form, next) {
        return Err(refusal);
    }
    visitor
        .user
        .clone()
        .ok_or_else(|| visitor.finish(to_login(next)))
}

/// Whether a destructive form was confirmed (`confirm=yes`).
pub fn confirmed(form: &WebForm) -> bool {
    form.get("confirm") == Some("yes")
}

/// The page that asks before a destructive act (forms reach it without
/// JavaScript, or when the dialog was skipped): what will stop working, and
/// the same form again, confirmed. Nothing has changed yet.
pub fn confirm_page(
    visitor: &Visitor,
    form: &WebForm,
    action: &str,
    ask: Confirmation,
    cancel: &str,
) -> Response {
    let fields = form
        .pairs()
        .filter(|(k, _)| *k != "csrf_token" && *k != "confirm")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let page = ConfirmActPage {
        layout: layout(visitor, &ask.heading),
        ask,
        action: action.to_string(),
        fields,
        cancel: cancel.to_string(),
    };
    visitor.finish(render(StatusCode::OK, &page))
}

/// After a form succeeded: to `to`, with `flash` kept for that one view.
pub async fn see_other(
    state: &crate::state::AppState,
    visitor: &Visitor,
    to: &str,
    flash: &Flash,
) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Err(err) = visitor.keep_flash(state, flash, &mut response).await {
        return error_page(visitor, err);
    }
    visitor.finish(response)
}

pub use crate::error::sentence;

/// A password check that did not pass, as a form says it: the status, the
/// sentence (`wrong` for a wrong password) and, when the server is busy, the
/// seconds for `Retry-After`; the check's own failure as the error.
pub fn refused_password(
    err: crate::identity::SignInError,
    wrong: &str,
) -> Result<(StatusCode, String, Option<i64>), Error> {
    use crate::identity::SignInError;
    match err {
        SignInError::Wrong => Ok((StatusCode::UNAUTHORIZED, wrong.to_string(), None)),
        SignInError::Limited { retry_after } => Ok((
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-ins. Try again in {}.",
                wait_words(retry_after)
            ),
            None,
        )),
        SignInError::Busy { retry_after } => Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is busy checking other sign-ins. Try again in a moment.".into(),
            Some(retry_after),
        )),
        SignInError::Failed(err) => Err(err),
    }
}

/// Puts `Retry-After: secs` on `response`, when there is a wait.
pub fn retry_after(response: &mut Response, secs: Option<i64>) {
    if let Some(value) = secs.and_then(|s| s.to_string().parse().ok()) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
}

/// After a signed-in form's act: what it did, kept for the next view of
/// `to`, or the error page.
pub async fn after(
    state: &crate::state::AppState,
    visitor: &Visitor,
    to: &str,
    done: Result<String, Error>,
) -> Response {
    match done {
        Ok(notice) => see_other(state, visitor, to, &Flash::notice(notice)).await,
        Err(err) => error_page(visitor, err),
    }
}

pub fn to_login(next: &str) -> Response {
    let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("/login?next={encoded}")).into_response()
}

/// The page for an error no handler answers more precisely. A server fault
/// goes to the request layer's log, with the request id.
pub fn error_page(visitor: &Visitor, err: Error) -> Response {
    let mut response = message(
        visitor,
        status_of(&err),
        "Something went wrong",
        &sentence(&err.to_string()),
        "error",
        Some(("/account", "Back to your account")),
    );
    with_fault(&mut response, &err);
    response
}

/// The status a page answers a domain error with: the JSON API's.
pub fn status_of(err: &Error) -> StatusCode {
    crate::http::error::status_and_code(err).0
}

/// Puts a server fault's detail on the response, for the request log.
pub fn with_fault(response: &mut Response, err: &Error) {
    if let Some(detail) = err.fault() {
        response.extensions_mut().insert(Fault(detail));
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
        // The payload once reported: a tab between the slashes.
        assert_eq!(super::safe_next(Some("/\t/evil.example/x")), "/account");
        assert_eq!(super::safe_next(Some("/.//evil.example")), "/account");
        // Local paths come back as a browser would request them.
        assert_eq!(
            super::safe_next(Some("/a/../tokens?x=1#y")),
            "/tokens?x=1#y"
        );
        assert_eq!(super::safe_next(Some("/a b")), "/a%20b");
    }
    // The property for any `next` is `crate::fuzzing::next`.
}
