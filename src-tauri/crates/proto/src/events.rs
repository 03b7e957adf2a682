//! What `GET /api/events` sends: one server-sent event per change to the
//! caller's token, named as the type says.

use crate::{Role, Time};
use serde::{Deserialize, Serialize};

/// `token.revoked`: the token no longer works; the stream ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRevokedEvent {
    /// The token.
    pub token_id: String,
    /// Why (`revoked`, `rotated`, `removed from acme`, …).
    pub reason: String,
}

/// `token.expiring`: the token expires within 7 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenExpiringEvent {
    /// The token.
    pub token_id: String,
    /// When it expires.
    pub expires_at: Time,
    /// Whole days left.
    pub days_left: i64,
}

/// `device.signed_in`: a device was just signed in as the token's user
/// (sent to the user's other tokens' streams).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceSignedInEvent {
    /// The device's new token.
    pub token_id: String,
    /// The name the device gave itself.
    pub device_name: Option<String>,
    /// The client it signed in with (`devauth-cli`, `devauth-desktop`).
    pub client_id: String,
    /// The address it asked from.
    pub ip: Option<String>,
    /// The org it acts in.
    pub org_id: String,
    /// When it was approved.
    pub approved_at: Time,
}

/// `membership.changed`: the token's user has another role, or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembershipChangedEvent {
    /// The org.
    pub org_id: String,
    /// The new role; `null`: no longer a member.
    pub role: Option<Role>,
}
