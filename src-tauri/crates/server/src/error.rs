//! What can go wrong, in the domain's own terms. Every service returns
//! [`Error`]; none of them knows HTTP. The JSON API and the OAuth endpoints
//! turn it into a status and an `{"error", "error_description"}` body in one
//! place (`http::error`), the pages into a message page (`web::page`), and the
//! request layer logs a server fault once, with the request id.

use crate::model::DeviceStatus;
use crate::policy::Denied;
use crate::store::StoreError;

/// A domain error's text as a sentence on a page: no code quotes, a capital
/// letter, one full stop.
pub fn sentence(text: &str) -> String {
    let text = text.replace('`', "");
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

/// A failed service call. `Display` is the sentence a caller may read;
/// [`Error::Store`] and [`Error::Internal`] show only "internal error", their
/// detail is for the log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: the reason names the field.
    #[error("{0}")]
    Invalid(String),
    /// No valid credential: missing, malformed, unknown, expired or revoked
    /// (one answer for all).
    #[error("the access token is missing, invalid, expired or revoked; sign in again")]
    Unauthenticated,
    /// The policy refused.
    #[error("{0}")]
    Denied(Denied),
    /// An org's device policy refused an approval; the text names the policy.
    #[error("{0}")]
    PolicyDenied(String),
    /// Nothing with that id or name; the text says what was looked for.
    #[error("{0}")]
    NotFound(String),
    /// The state does not allow it (the last owner, a token revoked meanwhile).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed attempts; `retry_after` seconds until the next try.
    #[error("too many failed attempts; try again in {retry_after} seconds")]
    RateLimited {
        /// Seconds until the next try is allowed; at least 1.
        retry_after: i64,
    },
    /// Too much work is queued (password checks); try again in `retry_after` seconds.
    #[error("the server is busy; try again in {retry_after} seconds")]
    Busy {
        /// Seconds to wait; at least 1.
        retry_after: i64,
    },
    /// A client holds too much open at once (event streams, long polls); the
    /// text says what and how many.
    #[error("{0}")]
    TooManyOpen(String),
    /// The first-run claim came with a wrong setup token.
    #[error(
        "the setup token is wrong; it was printed when the server started (or set in DEVAUTH_SETUP_TOKEN)"
    )]
    WrongSetupToken,
    /// An outcome of the device flow with its RFC 8628 / RFC 6749 code.
    #[error("{0}")]
    Flow(Flow),
    /// The database failed (or is out of reach: see [`StoreError::is_unavailable`]).
    #[error("{}", if .0.is_unavailable() {
        "the database is not answering; try again in a few seconds"
    } else {
        "internal error; the server log has the details under this request's id"
    })]
    Store(#[source] StoreError),
    /// Something else failed on our side; the detail is for the log.
    #[error("internal error; the server log has the details under this request's id")]
    Internal(String),
}

/// The device flow's own outcomes (RFC 8628 §3.5, RFC 6749 §5.2), and those
/// of typing a user code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Flow {
    /// `invalid_client`: the client is not registered, or is not the one
    /// that started this authorization.
    #[error("{0}")]
    InvalidClient(String),
    /// `invalid_grant`: an unknown device code, or one already used.
    #[error("{0}")]
    InvalidGrant(String),
    /// `unsupported_grant_type`: the token endpoint takes only the device_code grant.
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// `invalid_scope`: a device authorization request named a scope.
    #[error("{0}")]
    InvalidScope(String),
    /// `authorization_pending`: the user has not decided yet; poll again.
    #[error("waiting for the user to approve in the browser")]
    AuthorizationPending,
    /// `slow_down`: the device polled before its interval was up.
    #[error("polling too fast; wait {interval} seconds between polls")]
    SlowDown {
        /// The device's new polling interval, seconds.
        interval: i64,
    },
    /// `access_denied`: the user denied the request, or the approver may no
    /// longer grant it.
    #[error("{0}")]
    AccessDenied(String),
    /// `expired_token`: the device code expired before it was redeemed.
    #[error("the device_code has expired; start again")]
    ExpiredToken,
    /// A typed user code that matches no request.
    #[error("that code is not valid; check the code shown on your device")]
    UnknownUserCode,
    /// A user code whose request can no longer be decided.
    #[error("{}", decided(*.0))]
    NotPending(DeviceStatus),
}

fn decided(status: DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::Expired => "this code has expired; start sign-in on your device again",
        DeviceStatus::Denied => "this request was already denied",
        _ => "this request was already approved",
    }
}

/// A service call's result, failing with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Bad input; `reason` names the field.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::Invalid(reason.into())
    }

    /// The policy refused; `reason` says why.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Error::Denied(Denied::Forbidden(reason.into()))
    }

    /// Nothing matched; `what` says what was looked for.
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    /// The state does not allow it; `what` says why.
    pub fn conflict(what: impl Into<String>) -> Self {
        Error::Conflict(what.into())
    }

    /// Too many failed attempts; `retry_after` seconds to wait (at least 1).
    pub fn rate_limited(retry_after: i64) -> Self {
        Error::RateLimited {
            retry_after: retry_after.max(1),
        }
    }

    /// A fault on our side; `detail` goes to the log, never to the caller.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }

    /// The detail of a server fault, for the log; `None` for the caller's errors.
    pub fn fault(&self) -> Option<String> {
        match self {
            Error::Store(err) => Some(err.to_string()),
            Error::Internal(detail) => Some(detail.clone()),
            _ => None,
        }
    }
}

impl From<Denied> for Error {
    fn from(denied: Denied) -> Self {
        Error::Denied(denied)
    }
}

impl From<Flow> for Error {
    fn from(flow: Flow) -> Self {
        Error::Flow(flow)
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => Error::Conflict(what),
            other => Error::Store(other),
        }
    }
}
