//! The one place a domain [`Error`] becomes an HTTP answer: a status and the
//! `{"error", "error_description"}` body of RFC 6749 §5.2 (with `interval`
//! on `slow_down`, `Retry-After` on 429, `WWW-Authenticate` on 401). A server
//! fault travels to the request layer as a [`Fault`] on the response, where
//! it is logged once with the request id; the caller sees "internal error".

use crate::error::{Error, Flow};
use crate::model::DeviceStatus;
use crate::policy::Denied;
use crate::request::Fault;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer of the JSON API or an OAuth endpoint.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    pub retry_after: Option<i64>,
    /// Extra JSON members (the new `interval` on `slow_down`).
    pub extra: Option<(&'static str, serde_json::Value)>,
    /// A server fault's detail, for the log only.
    fault: Option<String>,
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            retry_after: None,
            extra: None,
            fault: None,
        }
    }

    /// A request the HTTP layer itself refuses (a malformed body, a missing parameter).
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// The same error with another status (an extractor's rejection: 413, 415, …).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

/// The status and error code of a domain error.
pub fn status_and_code(err: &Error) -> (StatusCode, &'static str) {
    match err {
        Error::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "invalid_token"),
        Error::Denied(Denied::MissingScope(_)) => (StatusCode::FORBIDDEN, "insufficient_scope"),
        Error::Denied(Denied::Forbidden(_)) => (StatusCode::FORBIDDEN, "forbidden"),
        Error::PolicyDenied(_) => (StatusCode::FORBIDDEN, "policy_denied"),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Error::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        Error::TooManyOpen(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Error::WrongSetupToken => (StatusCode::FORBIDDEN, "invalid_setup_token"),
        Error::Flow(flow) => match flow {
            Flow::InvalidClient(_) => (StatusCode::UNAUTHORIZED, "invalid_client"),
            Flow::InvalidGrant(_) => (StatusCode::BAD_REQUEST, "invalid_grant"),
            Flow::UnsupportedGrantType(_) => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            Flow::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
            Flow::AuthorizationPending => (StatusCode::BAD_REQUEST, "authorization_pending"),
            Flow::SlowDown { .. } => (StatusCode::BAD_REQUEST, "slow_down"),
            Flow::AccessDenied(_) => (StatusCode::BAD_REQUEST, "access_denied"),
            Flow::ExpiredToken => (StatusCode::BAD_REQUEST, "expired_token"),
            Flow::UnknownUserCode => (StatusCode::BAD_REQUEST, "invalid_user_code"),
            Flow::NotPending(DeviceStatus::Expired) => (StatusCode::CONFLICT, "expired_user_code"),
            Flow::NotPending(_) => (StatusCode::CONFLICT, "code_already_used"),
        },
        Error::Store(store) if store.is_unavailable() => {
            (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
        }
        Error::Store(_) | Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let (status, code) = status_and_code(&err);
        let mut api = ApiError::new(status, code, err.to_string());
        api.fault = err.fault();
        match err {
            Error::RateLimited { retry_after } | Error::Busy { retry_after } => {
                api.retry_after = Some(retry_after)
            }
            Error::TooManyOpen(_) => api.retry_after = Some(5),
            Error::Store(store) if store.is_unavailable() => api.retry_after = Some(5),
            Error::Flow(Flow::SlowDown { interval }) => {
                api.extra = Some(("interval", interval.into()))
            }
            _ => {}
        }
        api
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        Error::from(err).into()
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        Error::Denied(denied).into()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "error_description": self.description });
        if let (Some((key, value)), Some(map)) = (self.extra, body.as_object_mut()) {
            map.insert(key.to_string(), value);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(fault) = self.fault {
            response.extensions_mut().insert(Fault(fault));
        }
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED && self.code == "invalid_token" {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}
