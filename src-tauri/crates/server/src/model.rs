//! The identity model: users, organizations, roles, tokens, device
//! authorizations and audit events, as the store returns them.

use crate::clock::Timestamp;
use std::fmt;
use std::sync::Arc;

pub use devauth_proto::{
    DeviceStatus, Role, Scope, TokenKind, TokenState, parse_scopes, scopes_to_text,
};

/// What a role may do, beside its name on the wire.
pub trait RoleExt {
    /// Owners and admins.
    fn administers(self) -> bool;
    /// Whether the role has `scope`. Scopes on a token can only narrow this.
    fn grants(self, scope: Scope) -> bool;
}

impl RoleExt for Role {
    fn administers(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    fn grants(self, scope: Scope) -> bool {
        match scope {
            Scope::ProfileRead | Scope::TokensRead | Scope::TokensWrite => true,
            Scope::OrgAdmin => self.administers(),
        }
    }
}

#[derive(Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// Never the password hash.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("disabled_at", &self.disabled_at)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub joined_at: Timestamp,
}

/// A token as stored: never the secret, only its hash and hint.
#[derive(Debug, Clone)]
pub struct Token {
    pub id: String,
    pub hash: String,
    pub hint: String,
    pub name: String,
    pub kind: TokenKind,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub org_id: String,
    pub org_slug: String,
    pub scopes: Vec<Scope>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    pub revoked_reason: Option<String>,
}

impl Token {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && !self.is_expired(now)
    }

    /// Active, expired or revoked, for lists.
    pub fn state(&self, now: Timestamp) -> TokenState {
        if self.revoked_at.is_some() {
            TokenState::Revoked
        } else if self.is_expired(now) {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }
}

/// A token about to be stored; the caller holds the secret.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: String,
    pub hash: String,
    pub hint: String,
    pub name: String,
    pub kind: TokenKind,
    pub user_id: Option<String>,
    pub org_id: String,
    pub scopes: Vec<Scope>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// An authenticated token with what it acts as right now.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub token: Arc<Token>,
    pub user: Option<Arc<User>>,
    pub org: Arc<Org>,
    /// The member's current role; `None` for service tokens.
    pub role: Option<Role>,
}

#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub id: String,
    pub client_id: String,
    pub device_name: Option<String>,
    pub requester_ip: Option<String>,
    pub user_agent: Option<String>,
    pub status: DeviceStatus,
    pub interval_secs: i64,
    pub last_poll_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub approved_by: Option<String>,
    pub org_id: Option<String>,
    /// What the device token will carry (empty: the approver's full role).
    pub scopes: Vec<Scope>,
    pub token_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewDeviceAuthorization {
    pub id: String,
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    pub device_name: Option<String>,
    pub requester_ip: Option<String>,
    pub user_agent: Option<String>,
    pub interval_secs: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User { id: String, email: String },
    Token { id: String, hint: String },
    System,
    Anonymous,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User { .. } => "user",
            Actor::Token { .. } => "token",
            Actor::System => "system",
            Actor::Anonymous => "anonymous",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::User { id, .. } | Actor::Token { id, .. } => Some(id),
            Actor::System | Actor::Anonymous => None,
        }
    }

    /// A readable label: the email or the token hint.
    pub fn label(&self) -> String {
        match self {
            Actor::User { email, .. } => email.clone(),
            Actor::Token { hint, .. } => hint.clone(),
            Actor::System => "system".into(),
            Actor::Anonymous => "anonymous".into(),
        }
    }
}

/// Where a request came from, for audit events.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// One audit record.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: i64,
    pub at: Timestamp,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub org_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

/// An audit record to write, usually in the same transaction as the change it records.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub at: Timestamp,
    pub actor: Actor,
    pub action: &'static str,
    pub target: Option<String>,
    pub org_id: Option<String>,
    pub meta: RequestMeta,
    pub detail: Option<String>,
}

impl NewAuditEvent {
    pub fn new(at: Timestamp, actor: Actor, action: &'static str, meta: &RequestMeta) -> Self {
        Self {
            at,
            actor,
            action,
            target: None,
            org_id: None,
            meta: meta.clone(),
            detail: None,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn org(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = Some(org_id.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Filters for the audit log; `before` pages backwards by event id.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub org_id: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// Filters for token lists.
#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    /// Only tokens neither revoked nor expired at this time.
    pub active_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_scopes() {
        assert!(Role::Admin.grants(Scope::OrgAdmin));
        assert!(!Role::Member.grants(Scope::OrgAdmin));
        assert!(Role::Viewer.grants(Scope::ProfileRead));
    }

    #[test]
    fn a_users_debug_never_shows_the_password_hash() {
        let user = User {
            id: "u1".into(),
            email: "a@example.com".into(),
            name: "A".into(),
            password_hash: Some("$argon2id$v=19$secret-hash".into()),
            disabled_at: None,
            created_at: 0,
        };
        let shown = format!("{user:?}");
        assert!(
            shown.contains("a@example.com") && !shown.contains("argon2id"),
            "{shown}"
        );
    }
}
