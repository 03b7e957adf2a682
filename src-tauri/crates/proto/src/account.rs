//! `GET /me` and the token API (`/api/tokens…`).

use crate::{Scope, Secret, Time, TokenKind, TokenState};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// `GET /me`: who a token acts as, right now. Borrowed text (`Cow`), so the
/// server answers from its cached validation without copying; a client
/// reads it as `Me<'static>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me<'a> {
    /// The token's user; `null` for a service token.
    pub user: Option<UserRef<'a>>,
    /// The org the token acts in (its only one).
    pub org: OrgRef<'a>,
    /// The member's role now, or `service`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub role: Cow<'a, str>,
    /// The token's scopes; empty: the role's full power.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Scope>))]
    pub scopes: Cow<'a, [Scope]>,
    /// The token itself (never its secret).
    pub token: MeToken<'a>,
}

/// A user, as `/me` names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserRef<'a> {
    /// The user's id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: Cow<'a, str>,
    /// Their email address.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub email: Cow<'a, str>,
    /// Their display name.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: Cow<'a, str>,
}

/// An org, as `/me` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgRef<'a> {
    /// The org's id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: Cow<'a, str>,
    /// Its short name in URLs (`acme`).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub slug: Cow<'a, str>,
    /// Its display name.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: Cow<'a, str>,
}

/// The token `/me` was asked with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeToken<'a> {
    /// The token's id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: Cow<'a, str>,
    /// Its name (the device name for device tokens).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: Cow<'a, str>,
    /// How it came to be.
    pub kind: TokenKind,
    /// A display hint such as `dva_1a2b…9f0e`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub hint: Cow<'a, str>,
    /// When it was issued.
    pub created_at: Time,
    /// When it expires; `null`: never.
    pub expires_at: Option<Time>,
}

/// A token as lists show it: never the secret, only its hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    /// The token's id.
    pub id: String,
    /// A display hint such as `dva_1a2b…9f0e`.
    pub hint: String,
    /// Its name.
    pub name: String,
    /// How it came to be.
    pub kind: TokenKind,
    /// Its user; `null` for service tokens.
    pub user_id: Option<String>,
    /// Its user's email; `null` for service tokens.
    pub user_email: Option<String>,
    /// The org it acts in.
    pub org_id: String,
    /// That org's slug.
    pub org_slug: String,
    /// Its scopes; empty: the member's full role.
    pub scopes: Vec<Scope>,
    /// When it was issued.
    pub created_at: Time,
    /// When it expires; `null`: never.
    pub expires_at: Option<Time>,
    /// When it was last used (written at most once a minute).
    pub last_used_at: Option<Time>,
    /// From where it was last used.
    pub last_used_ip: Option<String>,
    /// When it was revoked.
    pub revoked_at: Option<Time>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why.
    pub revoked_reason: Option<String>,
    /// Where it stands at the time of the answer.
    pub state: TokenState,
}

/// `GET /api/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    /// The tokens, newest first.
    pub tokens: Vec<TokenInfo>,
}

/// One token: `GET` and `DELETE /api/tokens/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenOne {
    /// The token.
    pub token: TokenInfo,
}

/// A token just made (created or rotated): its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedToken {
    /// The secret (`dva_…`): shown only in this answer.
    pub token: Secret,
    /// Its record.
    pub info: TokenInfo,
}

/// `POST /api/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateToken {
    /// What it is for (at most 64 characters).
    pub name: String,
    /// `30d`, `90d`, `365d` (any `Nd` up to ten years), `never`, or a date
    /// `YYYY-MM-DD`; none: the default lifetime (90 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Scopes, a subset of the caller's; none: the caller's own.
    #[serde(default, skip_serializing_if = "ScopeList::is_none")]
    pub scopes: ScopeList,
    /// `personal` (the default) or `service` (owners and admins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TokenKind>,
}

/// Scopes as a JSON list or a space-separated string.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ScopeList {
    /// None given.
    #[default]
    None,
    /// `["profile:read", "tokens:read"]`.
    List(Vec<Scope>),
    /// `"profile:read tokens:read"`.
    Text(String),
}

impl ScopeList {
    /// Whether no scopes were given.
    pub fn is_none(&self) -> bool {
        matches!(self, ScopeList::None)
    }
}

/// `POST /api/tokens/revoke-all`; no body means "all of mine".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeAll {
    /// A member's email or id (owners and admins): revoke theirs in this org.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// How many tokens were revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revoked {
    /// The count.
    pub revoked: u64,
}
