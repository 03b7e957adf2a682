//! Organizations: members and roles, and the audit log (`/api/orgs/{org}/…`).

use crate::{Role, Time};
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
