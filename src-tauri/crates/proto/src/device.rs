//! Approving device requests (`/api/device/…`) and the first-run setup
//! claim (`/api/setup/…`).

use crate::{DeviceStatus, Org, Secret, Time, TokenInfo, User};
use serde::{Deserialize, Serialize};

/// `POST /api/device/lookup`, `approve` and `deny`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceDecision {
    /// The code the device shows, in any case, with or without the dash.
    pub user_code: String,
    /// To approve: the org to approve into (the token's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// To approve: what the device may do (default `full`: what the approver may).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// To approve: days the device token lasts (default and most: the
    /// server's token lifetime, capped by the org's policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
}

impl DeviceDecision {
    /// A lookup or denial of `user_code`; set the rest to approve.
    pub fn new(user_code: &str) -> Self {
        DeviceDecision {
            user_code: user_code.to_string(),
            org: None,
            access: None,
            days: None,
        }
    }
}

/// What an approved device may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Access {
    /// What the approver may do in the org.
    #[default]
    Full,
    /// Only reading: `profile:read tokens:read`.
    Read,
}

/// A device request as the approver sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceRequest {
    /// The public client that asked (`devauth-desktop`, `devauth-cli`).
    pub client_id: String,
    /// The name the device gave itself.
    pub device_name: Option<String>,
    /// The org the device asked to be signed in to (`org` on its request, an
    /// extension), if it named one; approving into another gives it a token
    /// it did not ask for.
    #[serde(default)]
    pub org_hint: Option<String>,
    /// The address it asked from.
    pub requester_ip: Option<String>,
    /// Whether that is the caller's network (the same IPv4 address or IPv6
    /// /64): a request from elsewhere deserves a second look.
    pub same_network: bool,
    /// Its user agent.
    pub user_agent: Option<String>,
    /// When it asked.
    pub requested_at: Time,
    /// When the code expires.
    pub expires_at: Time,
    /// Where it stands.
    pub status: DeviceStatus,
    /// Once approved: the days the device token will last.
    pub token_days: Option<i64>,
}

/// The answer of the device approval endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceRequestOne {
    /// The request.
    pub request: DeviceRequest,
}

/// `GET /api/setup/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetupStatus {
    /// Whether the first owner exists; then setup is closed for good.
    pub claimed: bool,
}

/// `POST /api/setup/claim`: the first owner, their org, their first token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetupClaim {
    /// The setup token the server printed (or `DEVAUTH_SETUP_TOKEN`).
    #[serde(default)]
    pub setup_token: Option<Secret>,
    /// The owner's email.
    pub email: String,
    /// The owner's name.
    pub name: String,
    /// The owner's password.
    pub password: Secret,
    /// The org's name.
    pub org_name: String,
}

/// What the setup claim made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetupClaimed {
    /// The owner.
    pub user: User,
    /// Their org.
    pub org: Org,
    /// The owner's first token: shown only in this answer.
    pub token: Secret,
    /// Its record.
    pub info: TokenInfo,
}
