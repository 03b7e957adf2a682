//! Organizations: members and roles, and the audit log (`/api/orgs/{org}/…`).

use crate::{Role, Secret, Time};
use serde::{Deserialize, Serialize};

/// A user, as member lists show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// The user's id.
    pub id: String,
    /// Their email address.
    pub email: String,
    /// Their display name.
    pub name: String,
    /// When they were disabled; `null`: active.
    pub disabled_at: Option<Time>,
    /// When the account was made.
    pub created_at: Time,
}

/// An org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Org {
    /// The org's id.
    pub id: String,
    /// Its short name in URLs.
    pub slug: String,
    /// Its display name.
    pub name: String,
    /// When it was made.
    pub created_at: Time,
}

/// A member of an org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    /// Who.
    pub user: User,
    /// Their role there.
    pub role: Role,
    /// Since when.
    pub joined_at: Time,
}

/// `GET /api/orgs/{org}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberList {
    /// Every member, by email.
    pub members: Vec<Member>,
}

/// One member, after adding them or changing their role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberOne {
    /// The member.
    pub member: Member,
}

/// `POST /api/orgs/{org}/members`: add an existing user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddMember {
    /// The user's email.
    pub email: String,
    /// Their role.
    pub role: Role,
}

/// `PATCH /api/orgs/{org}/members/{user}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeRole {
    /// The new role.
    pub role: Role,
}

/// `DELETE /api/orgs/{org}/members/{user}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Removed {
    /// Always true.
    pub removed: bool,
    /// How many of their tokens in the org were revoked with it.
    pub tokens_revoked: u64,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Its id; pages go backwards by it.
    pub id: i64,
    /// When.
    pub at: Time,
    /// `user`, `token`, `system` or `anonymous`.
    pub actor_kind: String,
    /// The user's or token's id.
    pub actor_id: Option<String>,
    /// A readable name: the email or the token hint.
    pub actor: String,
    /// What happened (`token.revoked`, `member.role_changed`, …).
    pub action: String,
    /// What it happened to.
    pub target: Option<String>,
    /// In which org.
    pub org_id: Option<String>,
    /// From which address.
    pub ip: Option<String>,
    /// With which user agent.
    pub user_agent: Option<String>,
    /// The request's id, as in the server log.
    pub request_id: Option<String>,
    /// More, in words.
    pub detail: Option<String>,
}

/// `GET /api/orgs/{org}/audit`: a page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEvent>,
    /// `before=` for the next page; `null` at the end.
    pub next_before: Option<i64>,
}

/// Whether devices may be approved into an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeviceFlowSwitch {
    /// Devices may be approved (the default).
    On,
    /// No device is approved into the org.
    Off,
}

/// Whether a device policy refuses or only reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PolicyMode {
    /// What the policy refuses is refused (`device.policy_denied`).
    Enforce,
    /// What it would refuse is allowed and audited (`device.policy_would_deny`).
    Report,
}

/// `GET /api/orgs/{org}/policy`, and the answer of `PATCH`: the org's device policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevicePolicy {
    /// Whether devices may be approved into the org.
    pub device_flow: DeviceFlowSwitch,
    /// The networks (addresses or CIDR ranges) a device may ask from; empty: any.
    pub device_networks: Vec<String>,
    /// The longest a device token for the org lasts, days; `null`: the server's lifetime.
    pub device_token_days: Option<i64>,
    /// Refuse, or only report.
    pub mode: PolicyMode,
    /// How an approver must have signed in to the pages (`password`,
    /// `sso`); empty: any way, and approving with a token too.
    #[serde(default)]
    pub sign_in: Vec<crate::SignInMethod>,
}

/// `PATCH /api/orgs/{org}/policy` (owners): the settings to change; the
/// others stay. `"device_token_days": null` removes the cap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevicePolicyChange {
    /// Whether devices may be approved into the org.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_flow: Option<DeviceFlowSwitch>,
    /// The networks a device may ask from (at most 64); empty: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_networks: Option<Vec<String>>,
    /// The longest a device token lasts, days; `null` removes the cap.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub device_token_days: Option<Option<i64>>,
    /// Refuse, or only report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<PolicyMode>,
    /// How an approver must have signed in; `[]`: any way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<Vec<crate::SignInMethod>>,
}

/// A field that was sent, `null` or not (absent stays `None` by `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// An invitation to join an org, as its administrators list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invitation {
    /// The invitation's id (to withdraw it).
    pub id: String,
    /// The address invited: the account that accepts must have it.
    pub email: String,
    /// The role it gives.
    pub role: Role,
    /// Who invited.
    pub invited_by: Option<String>,
    /// When it was made.
    pub created_at: Time,
    /// When its link stops working.
    pub expires_at: Time,
}

/// `POST /api/orgs/{org}/invitations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateInvitation {
    /// The address to invite.
    pub email: String,
    /// The role it gives (no higher than the caller may grant).
    pub role: Role,
}

/// A new invitation and its link, shown this once (only its hash is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationCreated {
    /// The invitation.
    pub invitation: Invitation,
    /// `{public}/invite/{secret}`: works once, for 7 days.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub link: Secret,
    /// Whether the server also mailed it to the invited address.
    #[serde(default)]
    pub mailed: bool,
}

/// `GET /api/orgs/{org}/invitations`: the pending ones, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationList {
    /// The invitations that can still be accepted.
    pub invitations: Vec<Invitation>,
}

/// A password reset link, shown this once (only its hash is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordResetCreated {
    /// `{public}/reset/{secret}`: works once, for an hour.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub link: Secret,
    /// When it stops working.
    pub expires_at: Time,
    /// Whether the server also mailed it to the user.
    #[serde(default)]
    pub mailed: bool,
}
