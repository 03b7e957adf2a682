//! The OAuth endpoints' answers: RFC 8414 metadata, RFC 8628 device
//! authorization, the RFC 6749 §5 token response, and the error body every
//! endpoint uses.

use crate::Secret;
use serde::{Deserialize, Serialize};

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metadata {
    /// The server's URL.
    pub issuer: String,
    /// Where devices start (RFC 8628 §3.1).
    pub device_authorization_endpoint: String,
    /// Where devices poll (RFC 6749 §3.2).
    pub token_endpoint: String,
    /// Where tokens are revoked (RFC 7009).
    pub revocation_endpoint: String,
    /// The device code grant only.
    pub grant_types_supported: Vec<String>,
    /// None: there is no authorization endpoint.
    pub response_types_supported: Vec<String>,
    /// `none`: public clients.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `none`: public clients.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// The server's pages.
    pub service_documentation: String,
}

/// `POST /oauth/device_authorization` (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceAuthorizationResponse {
    /// What the device polls with: a secret.
    pub device_code: Secret,
    /// What the person types: `BCDF-GHJK`.
    pub user_code: String,
    /// Where the person goes.
    pub verification_uri: String,
    /// The same with the code filled in.
    pub verification_uri_complete: String,
    /// Seconds until the codes expire.
    pub expires_in: i64,
    /// Seconds to wait between polls.
    pub interval: i64,
}

/// The token response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// The bearer token: shown only in this answer.
    pub access_token: Secret,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

/// Every error answer: RFC 6749 §5.2's body, for the JSON API too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The code: `invalid_request`, `authorization_pending`, `forbidden`, …
    pub error: String,
    /// What went wrong, in words.
    pub error_description: String,
    /// On `slow_down`: the new polling interval, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
}
