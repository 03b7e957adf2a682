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

/// `membership.changed`: the token's user has another role, or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembershipChangedEvent {
    /// The org.
    pub org_id: String,
    /// The new role; `null`: no longer a member.
    pub role: Option<Role>,
}
