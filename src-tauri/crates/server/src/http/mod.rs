//! The JSON and OAuth surface: `oauth` (RFC 8414, 8628, 6749 §5, 7009), the
//! JSON API (`me`, `tokens`, `orgs`, `device`), `ops` (health, metrics),
//! `stream` (server-sent events); the extractors that turn bad input into
//! clear JSON errors; [`error`], where a domain error becomes an answer. The
//! modules are the crate's so that `crate::openapi` can describe them.

pub(crate) mod device;
pub mod error;
pub(crate) mod me;
pub(crate) mod oauth;
pub(crate) mod ops;
pub(crate) mod orgs;
pub(crate) mod stream;
pub(crate) mod tokens;

pub use error::{ApiError, ApiResult};

use crate::auth::{authenticate, bearer};
use crate::model::RequestMeta;
use crate::policy::Principal;
use crate::request::meta_of;
use crate::route_table::Routes;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Largest request body accepted, bytes: JSON bodies and page forms.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Largest body of an OAuth endpoint, bytes: a few short parameters.
pub const OAUTH_MAX_BODY_BYTES: usize = 8 * 1024;

/// Most parameters an OAuth form may have; none of them needs more than 6.
pub const OAUTH_MAX_PARAMS: usize = 32;

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
            Err(rejection) => Err(rejected(
                rejection.body_text(),
                rejection.status(),
                MAX_BODY_BYTES,
            )),
        }
    }
}

/// An `application/x-www-form-urlencoded` body as OAuth wants it: each
/// parameter at most once (RFC 6749 §3.1), unknown ones ignored, at most
/// [`OAUTH_MAX_PARAMS`] of them. Parsing is linear in the body's length.
pub struct OAuthForm(HashMap<String, String>);

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, crate::error::Error> {
        self.get(name)
            .ok_or_else(|| crate::error::Error::invalid(format!("missing parameter `{name}`")))
    }

    /// Reads a form body: each parameter once, at most [`OAUTH_MAX_PARAMS`].
    pub fn parse(body: &[u8]) -> Result<OAuthForm, String> {
        let mut pairs = HashMap::new();
        for (key, value) in form_urlencoded::parse(body) {
            if pairs.len() == OAUTH_MAX_PARAMS {
                return Err(format!("more than {OAUTH_MAX_PARAMS} parameters"));
            }
            match pairs.entry(key.into_owned()) {
                Entry::Occupied(seen) => {
                    return Err(format!(
                        "parameter `{}` was sent more than once",
                        seen.key()
                    ));
                }
                Entry::Vacant(slot) => {
                    slot.insert(value.into_owned());
                }
            }
        }
        Ok(OAuthForm(pairs))
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
            .map_err(|r| rejected(r.body_text(), r.status(), OAUTH_MAX_BODY_BYTES))?;
        OAuthForm::parse(&body).map_err(ApiError::invalid_request)
    }
}

/// An extractor's rejection as an `invalid_request` with its status; a body
/// over the route's `limit` says what the limit is.
fn rejected(text: String, status: StatusCode, limit: usize) -> ApiError {
    let text = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("the request body is larger than {} KiB", limit / 1024)
    } else {
        text
    };
    ApiError::invalid_request(text).with_status(status)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forms_keep_each_parameter_once() {
        let form = OAuthForm::parse(b"grant_type=x&device_code=a%20b&empty=").expect("a form");
        assert_eq!(form.get("device_code"), Some("a b"));
        assert_eq!(form.get("empty"), None, "empty is missing");
        assert_eq!(form.get("nope"), None);
        let twice = OAuthForm::parse(b"a=1&b=2&a=3").err().expect("refused");
        assert!(twice.contains("`a`"), "{twice}");
    }

    #[test]
    fn forms_have_at_most_32_parameters() {
        let keys = |n: usize| {
            (0..n)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert!(OAuthForm::parse(keys(32).as_bytes()).is_ok());
        let many = OAuthForm::parse(keys(33).as_bytes())
            .err()
            .expect("refused");
        assert!(many.contains("32"), "{many}");
    }

    proptest! {
        /// Distinct keys within the cap are all kept; one repeated key is refused.
        #[test]
        fn distinct_keys_are_kept_and_a_repeat_is_refused(
            keys in proptest::collection::btree_set("[a-z_]{1,12}", 1..=OAUTH_MAX_PARAMS),
            repeat in any::<prop::sample::Index>(),
        ) {
            let keys: Vec<String> = keys.into_iter().collect();
            let body = keys.iter().map(|k| format!("{k}=1")).collect::<Vec<_>>().join("&");
            let form = OAuthForm::parse(body.as_bytes()).map_err(TestCaseError::fail)?;
            prop_assert_eq!(form.0.len(), keys.len());
            let again = format!("{body}&{}=2", repeat.get(&keys));
            prop_assert!(OAuthForm::parse(again.as_bytes()).is_err());
        }
    }
}
