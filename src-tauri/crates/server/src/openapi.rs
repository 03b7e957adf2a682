//! The OpenAPI 3.1 document of the whole server, derived from the handlers'
//! annotations and the wire types of `devauth-proto`; served at
//! `GET /openapi.json`. It sits above `crate::http` and `crate::web`, whose
//! handlers it describes, and beside `crate::router`, which adds its route.
//! A test holds it against the router's routes.

use crate::route_table::Routes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "devauth",
        description = "Device sign-in (OAuth 2.0 Device Authorization Grant, RFC 8628) and the tokens it issues. \
                       Errors everywhere are RFC 6749 §5.2 bodies (`ErrorBody`). The pages are server-rendered HTML; \
                       their forms carry a `csrf_token`.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::http::oauth::metadata,
        crate::http::oauth::device_authorization,
        crate::http::oauth::token,
        crate::http::oauth::revoke,
        crate::http::me::me,
        crate::http::stream::events,
        crate::http::tokens::list,
        crate::http::tokens::create,
        crate::http::tokens::read,
        crate::http::tokens::revoke,
        crate::http::tokens::rotate,
        crate::http::tokens::revoke_all,
        crate::http::orgs::list_members,
        crate::http::orgs::add_member,
        crate::http::orgs::change_role,
        crate::http::orgs::remove_member,
        crate::http::orgs::audit_log,
        crate::http::orgs::get_policy,
        crate::http::orgs::change_policy,
        crate::http::orgs::invite,
        crate::http::orgs::list_invitations,
        crate::http::orgs::withdraw_invitation,
        crate::http::device::lookup,
        crate::http::device::approve,
        crate::http::device::deny,
        crate::http::device::setup_status,
        crate::http::device::setup_claim,
        crate::http::ops::healthz,
        crate::http::ops::readyz,
        crate::http::ops::metrics,
        openapi,
        crate::web::sign_in::home,
        crate::web::sign_in::login_form,
        crate::web::sign_in::login,
        crate::web::sign_in::logout,
        crate::web::passkey::register_begin,
        crate::web::passkey::register_finish,
        crate::web::passkey::sign_in_begin,
        crate::web::passkey::sign_in_finish,
        crate::web::passkey::remove,
        crate::web::reset::forgot_form,
        crate::web::reset::forgot,
        crate::web::sso::start,
        crate::web::sso::callback,
        crate::web::sso::link_form,
        crate::web::sso::link,
        crate::web::sso::disconnect,
        crate::web::setup_page::setup_form,
        crate::web::setup_page::setup,
        crate::web::device::device_form,
        crate::web::device::device_submit,
        crate::web::device::device_decide,
        crate::web::account::show,
        crate::web::account::create,
        crate::web::account::revoke,
        crate::web::account::rotate,
        crate::web::account::revoke_all,
        crate::web::account::change_password,
        crate::web::admin::index,
        crate::web::admin::invite,
        crate::web::admin::withdraw_invitation,
        crate::web::invite::show,
        crate::web::reset::show,
        crate::web::reset::set,
        crate::web::admin::password_reset,
        crate::http::orgs::password_reset,
        crate::web::invite::accept,
        crate::web::admin::show,
        crate::web::admin::tokens_section,
        crate::web::admin::service_tokens_section,
        crate::web::admin::audit_section,
        crate::web::admin::audit_csv,
        crate::web::admin::policy_section,
        crate::web::admin::add_member,
        crate::web::admin::change_role,
        crate::web::admin::remove_member,
        crate::web::admin::revoke_token,
        crate::web::admin::create_service_token,
        crate::web::admin::set_policy,
        crate::web::style,
        crate::web::script,
    ),
    components(schemas(
        devauth_proto::TokenRevokedEvent,
        devauth_proto::TokenExpiringEvent,
        devauth_proto::DeviceSignedInEvent,
        devauth_proto::MembershipChangedEvent,
    )),
    modifiers(&Bearer),
    tags(
        (name = "oauth", description = "RFC 8414, RFC 8628, RFC 6749 §5, RFC 7009"),
        (name = "account", description = "who a token is, and its event stream"),
        (name = "tokens", description = "list, create (shown once), revoke, rotate"),
        (name = "orgs", description = "members, roles, audit (owners and admins)"),
        (name = "device", description = "approving device requests with a token"),
        (name = "setup", description = "the first-run claim"),
        (name = "ops", description = "health, metrics, this document"),
        (name = "pages", description = "the browser pages (HTML)"),
    )
)]
struct Document;

/// `Authorization: Bearer dva_…`.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a devauth token: `dva_` and 64 hex digits"))
                    .build(),
            ),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    Document::openapi()
}

/// `GET /openapi.json`.
pub fn routes() -> Routes {
    Routes::new().add("/openapi.json", get(openapi))
}

/// This document: OpenAPI 3.1, derived from the handlers and the wire types.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
async fn openapi() -> impl IntoResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| document().to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], body.as_str())
}
