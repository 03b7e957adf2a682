//! The browser pages: sign-in, device verification and confirmation, account
//! and admin dashboards, the setup wizard. Server-rendered (askama), no
//! JavaScript required; every form carries a `csrf_token` tied to the browser's
//! session cookie, and every page is sent with a strict CSP and no framing.
//!
//! - `session`: cookies, sessions, CSRF tokens, the [`Visitor`] extractor.
//! - `page`: the toolkit every handler builds on (layout, messages, errors,
//!   the signed-in form guard, local redirects); it imports no handler.
//! - `sign_in`, `setup_page`, `device`: sign-in and out, the first-run
//!   wizard, device code entry and confirmation.
//! - `account`: my tokens. `admin`: the console's sections (members,
//!   tokens, service tokens, audit, device policy); `audit_log`: the log in words.
//! - `flash`: what a page says after a form's redirect, held for one view.
//! - `views`: template structs and display helpers.

pub(crate) mod account;
pub(crate) mod admin;
mod audit_log;
pub(crate) mod device;
mod flash;
pub(crate) mod invite;
mod page;
pub(crate) mod passkey;
pub(crate) mod reset;
mod session;
pub(crate) mod setup_page;
pub(crate) mod sign_in;
pub(crate) mod sso;
mod views;

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use page::safe_next;
pub(crate) use session::Visitor;

/// The page for an address nothing answers.
pub(crate) fn not_found_page(visitor: &Visitor) -> Response {
    let home = if visitor.user.is_some() {
        ("/account", "Go to your account")
    } else {
        ("/", "Go to the start page")
    };
    page::message(
        visitor,
        axum::http::StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address. Check the link, or start again from the start page.",
        "warn",
        Some(home),
    )
}

use crate::route_table::Routes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// Content-Security-Policy for every page: no inline script, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Routes {
    Routes::new()
        .add("/", get(sign_in::home))
        .add("/login", get(sign_in::login_form).post(sign_in::login))
        .add("/logout", post(sign_in::logout))
        .add("/login/forgot", get(reset::forgot_form).post(reset::forgot))
        .add("/login/passkey/begin", post(passkey::sign_in_begin))
        .add("/login/passkey/finish", post(passkey::sign_in_finish))
        .add("/account/passkeys/begin", post(passkey::register_begin))
        .add("/account/passkeys/finish", post(passkey::register_finish))
        .add("/account/passkeys/{id}/remove", post(passkey::remove))
        .add("/login/sso/link", get(sso::link_form).post(sso::link))
        .add("/login/sso/{provider}", post(sso::start))
        .add("/login/sso/{provider}/callback", get(sso::callback))
        .add("/account/sso/{provider}/disconnect", post(sso::disconnect))
        .add(
            "/setup",
            get(setup_page::setup_form).post(setup_page::setup),
        )
        .add(
            "/device",
            get(device::device_form).post(device::device_submit),
        )
        .add("/device/decide", post(device::device_decide))
        .add("/account", get(account::show))
        .add("/account/tokens", post(account::create))
        .add("/account/tokens/{id}/revoke", post(account::revoke))
        .add("/account/tokens/{id}/rotate", post(account::rotate))
        .add("/account/revoke-all", post(account::revoke_all))
        .add("/account/password", post(account::change_password))
        .add("/admin", get(admin::index))
        .add("/admin/{org}", get(admin::show))
        .add("/admin/{org}/members", post(admin::add_member))
        .add("/admin/{org}/tokens", get(admin::tokens_section))
        .add("/admin/{org}/audit", get(admin::audit_section))
        .add("/admin/{org}/audit.csv", get(admin::audit_csv))
        .add("/admin/{org}/members/{user}/role", post(admin::change_role))
        .add(
            "/admin/{org}/members/{user}/remove",
            post(admin::remove_member),
        )
        .add("/admin/{org}/tokens/{id}/revoke", post(admin::revoke_token))
        .add(
            "/admin/{org}/policy",
            get(admin::policy_section).post(admin::set_policy),
        )
        .add(
            "/admin/{org}/service-tokens",
            get(admin::service_tokens_section).post(admin::create_service_token),
        )
        .add("/admin/{org}/invitations", post(admin::invite))
        .add(
            "/admin/{org}/invitations/{id}/withdraw",
            post(admin::withdraw_invitation),
        )
        .add("/invite/{secret}", get(invite::show).post(invite::accept))
        .add("/reset/{secret}", get(reset::show).post(reset::set))
        .add(
            "/admin/{org}/members/{user}/password-reset",
            post(admin::password_reset),
        )
        .add("/static/style.css", get(style))
        .add("/static/app.js", get(script))
}

/// The page: the pages' stylesheet.
#[utoipa::path(get, path = "/static/style.css", operation_id = "page_style", tag = "pages",
    responses((status = 200, description = "CSS", content_type = "text/css")))]
pub(crate) async fn style() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    )
}

/// The page: the pages' optional script (copy buttons, the setup token from the URL fragment).
#[utoipa::path(get, path = "/static/app.js", operation_id = "page_script", tag = "pages",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript")))]
pub(crate) async fn script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// Headers every HTML page gets.
pub fn page_headers(response: &mut Response) {
    // The request layer adds the rest (no framing, no referrer, nosniff, no-store).
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
}
