//! The JSON and OAuth surface: `oauth` (RFC 8414, 8628, 6749 §5, 7009), the
//! JSON API (`me`, `tokens`, `orgs`, `device`), `ops` (health, metrics, the
//! OpenAPI document), `stream` (server-sent events); the extractors that turn
//! bad input into clear JSON errors; [`error`], where a domain error becomes
//! an answer; [`openapi`], the document of all of it and of the pages.

mod device;
pub mod error;
mod me;
mod oauth;
pub mod openapi;
mod ops;
mod orgs;
mod stream;
mod tokens;

pub use error::{ApiError, ApiResult};

use crate::auth::{authenticate, bearer};
use crate::model::RequestMeta;
use crate::policy::Principal;
use crate::request::meta_of;
use crate::route_table::Routes;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// Largest request body accepted, bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every JSON and OAuth route.
pub fn routes() -> Routes {
    Routes::new()
        .merge(oauth::routes())
        .merge(me::routes())
        .merge(tokens::routes())
        .merge(orgs::routes())
        .merge(device::routes())
        .merge(ops::routes())
        .merge(stream::routes())
}

/// A request authenticated by `Authorization: Bearer dva_…`.
pub struct Auth(pub Principal, pub RequestMeta);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let meta = meta_of(parts, state);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let principal = authenticate(state, bearer(header), &meta).await?;
        Ok(Auth(principal, meta))
    }
}

/// A JSON body whose problems come back as `invalid_request` with the reason.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => {
                Err(ApiError::invalid_request(rejection.body_text())
                    .with_status(rejection.status()))
            }
        }
    }
}

/// An `application/x-www-form-urlencoded` body as OAuth wants it: each
/// parameter at most once (RFC 6749 §3.1), unknown ones ignored.
pub struct OAuthForm(Vec<(String, String)>);

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, crate::error::Error> {
        self.get(name)
            .ok_or_else(|| crate::error::Error::invalid(format!("missing parameter `{name}`")))
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_form(req.headers()) {
            return Err(ApiError::invalid_request(
                "send parameters as application/x-www-form-urlencoded",
            ));
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::invalid_request(r.body_text()).with_status(r.status()))?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (key, value) in form_urlencoded::parse(&body) {
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(ApiError::invalid_request(format!(
                    "parameter `{key}` was sent more than once"
                )));
            }
            pairs.push((key.into_owned(), value.into_owned()));
        }
        Ok(OAuthForm(pairs))
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// JSON with a status, for handlers that create things.
pub fn created<T: serde::Serialize>(value: T) -> Response {
    (axum::http::StatusCode::CREATED, axum::Json(value)).into_response()
}
