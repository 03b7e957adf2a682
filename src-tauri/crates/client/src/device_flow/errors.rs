use oauth2::{ErrorResponse, RequestTokenError};

use crate::text::clean;
use crate::transport::TransportError;

/// Why a device authorization did not produce a token. Messages are written
/// for the person at the keyboard and end with what to do next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeviceFlowError {
    /// `access_denied`: the person denied the request.
    #[error("sign-in was denied in the browser{detail}. Start sign-in again if that was a mistake")]
    Denied {
        /// The server's `error_description` as ` (server says: …)`, or empty.
        detail: String,
    },
    /// `expired_token`, or the code's lifetime ran out while polling.
    #[error(
        "the code expired before it was approved{detail}. Start sign-in again and approve \
         the new code within the time shown"
    )]
    Expired {
        /// The server's `error_description` as ` (server says: …)`, or empty.
        detail: String,
    },
    /// `invalid_grant`: the server does not know the device code (already
    /// used, or never issued).
    #[error(
        "the server no longer knows this sign-in request: it was already used or never \
         issued{detail}. Start sign-in again"
    )]
    InvalidGrant {
        /// The server's `error_description` as ` (server says: …)`, or empty.
        detail: String,
    },
    /// `invalid_client`: the server does not accept the client id.
    #[error(
        "the server does not accept the client id `{client_id}`{detail}. Check the server \
         URL, or ask the server's admin to register this client"
    )]
    InvalidClient {
        /// The client id that was sent.
        client_id: String,
        /// The server's `error_description` as ` (server says: …)`, or empty.
        detail: String,
    },
    /// `invalid_scope`: the server refused the requested scope.
    #[error("the server refused the requested scope{detail}. Choose a scope it supports (--scope)")]
    InvalidScope {
        /// The server's `error_description` as ` (server says: …)`, or empty.
        detail: String,
    },
    /// `unauthorized_client` or `unsupported_grant_type`: this client may not
    /// use the device grant.
    #[error("the server does not allow device sign-in for this client{detail}")]
    Unsupported {
        /// The server's `error_description` as ` (server says: …)`, or empty.
        detail: String,
    },
    /// `invalid_request`: the server found the request malformed.
    #[error("the server rejected the request as malformed{detail}")]
    InvalidRequest {
        /// The server's `error_description` as ` (server says: …)`, or empty.
        detail: String,
    },
    /// Any other OAuth error code.
    #[error("the server answered `{code}`{detail}")]
    OAuth {
        /// The `error` code, cleaned for printing.
        code: String,
        /// The server's `error_description` as ` (server says: …)`, or empty.
        detail: String,
    },
    /// A request got no HTTP response; also the code expiring while the server
    /// could not be reached.
    #[error("{0}. Check your network, then start sign-in again")]
    Network(#[source] TransportError),
    /// The server's answer could not be used (missing or malformed fields, an
    /// unusable code or URL). The text never contains the response body.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The `cancel` future completed first.
    #[error("sign-in cancelled")]
    Cancelled,
}

fn detail(description: Option<&str>) -> String {
    match description.map(|d| clean(d, 200)) {
        Some(d) if !d.is_empty() => format!(" (server says: {d})"),
        _ => String::new(),
    }
}

pub(super) fn from_oauth_code(
    code: &str,
    description: Option<&str>,
    client_id: &str,
) -> DeviceFlowError {
    let detail = detail(description);
    match code {
        "access_denied" => DeviceFlowError::Denied { detail },
        "expired_token" => DeviceFlowError::Expired { detail },
        "invalid_grant" => DeviceFlowError::InvalidGrant { detail },
        "invalid_client" => DeviceFlowError::InvalidClient {
            client_id: client_id.to_string(),
            detail,
        },
        "invalid_scope" => DeviceFlowError::InvalidScope { detail },
        "unauthorized_client" | "unsupported_grant_type" => DeviceFlowError::Unsupported { detail },
        "invalid_request" => DeviceFlowError::InvalidRequest { detail },
        other => DeviceFlowError::OAuth {
            code: clean(other, 64),
            detail,
        },
    }
}

/// Maps an `oauth2` error without ever printing a response body: a body that
/// failed to parse as a token response may contain the token.
pub(super) fn from_request_error<T: ErrorResponse>(
    err: RequestTokenError<TransportError, T>,
    code_and_description: impl Fn(&T) -> (String, Option<String>),
    client_id: &str,
) -> DeviceFlowError {
    match err {
        RequestTokenError::ServerResponse(e) => {
            let (code, description) = code_and_description(&e);
            from_oauth_code(&code, description.as_deref(), client_id)
        }
        RequestTokenError::Request(e) => DeviceFlowError::Network(e),
        RequestTokenError::Parse(e, _body) => {
            let inner = e.inner().to_string();
            let what = if inner.starts_with("missing field") {
                clean(&inner, 120)
            } else {
                format!("malformed field `{}`", clean(&e.path().to_string(), 80))
            };
            DeviceFlowError::Protocol(what)
        }
        RequestTokenError::Other(msg) => DeviceFlowError::Protocol(clean(&msg, 200)),
    }
}
