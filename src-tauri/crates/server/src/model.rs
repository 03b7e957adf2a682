//! The identity model: users, organizations, roles, tokens, device
//! authorizations and audit events, as the store returns them.

use crate::clock::{Timestamp, rfc3339};
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Serializes a timestamp as RFC 3339 text.
pub fn ser_time<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*ts))
}

/// Serializes an optional timestamp as RFC 3339 text or null.
pub fn ser_opt_time<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(ts) => s.serialize_str(&rfc3339(*ts)),
        None => s.serialize_none(),
    }
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} `{}`; expected one of: {}",
                        stringify!($name).to_lowercase(),
                        s,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

text_enum!(
    /// A member's role in an organization, most powerful first.
    Role { Owner = "owner", Admin = "admin", Member = "member", Viewer = "viewer" }
);

impl Role {
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// What the role may do. Scopes on a token can only narrow this.
    pub fn grants(self, scope: Scope) -> bool {
        match scope {
            Scope::ProfileRead | Scope::TokensRead | Scope::TokensWrite => true,
            Scope::OrgAdmin => self.is_admin(),
        }
    }
}

text_enum!(
    /// What a token may be used for. A token without scopes has its member's full role.
    Scope {
        ProfileRead = "profile:read",
        TokensRead = "tokens:read",
        TokensWrite = "tokens:write",
        OrgAdmin = "org:admin",
    }
);

text_enum!(
    TokenKind { Device = "device", Personal = "personal", Service = "service" }
);

text_enum!(
    DeviceStatus {
        Pending = "pending",
        Approved = "approved",
        Denied = "denied",
        Expired = "expired",
        Redeemed = "redeemed",
    }
);

/// Parses a space- or comma-separated scope list; empty means "no restriction".
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for part in text.split([' ', ',']).filter(|p| !p.is_empty()) {
        let scope: Scope = part.parse()?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.sort();
    Ok(scopes)
}

pub fn scopes_to_text(scopes: &[Scope]) -> Option<String> {
    (!scopes.is_empty()).then(|| {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    #[serde(serialize_with = "ser_opt_time")]
    pub disabled_at: Option<Timestamp>,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Org {
    pub id: String,
    pub slug: String,
    pub name: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub user: User,
    pub role: Role,
    #[serde(serialize_with = "ser_time")]
    pub joined_at: Timestamp,
}

/// A token as stored: never the secret, only its hash and hint.
#[derive(Debug, Clone, Serialize)]
pub struct Token {
    pub id: String,
    #[serde(skip)]
    pub hash: String,
    pub hint: String,
    pub name: String,
    pub kind: TokenKind,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub org_id: String,
    pub org_slug: String,
    pub scopes: Vec<Scope>,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "ser_opt_time")]
    pub expires_at: Option<Timestamp>,
    #[serde(serialize_with = "ser_opt_time")]
    pub last_used_at: Option<Timestamp>,
    pub last_used_ip: Option<String>,
    #[serde(serialize_with = "ser_opt_time")]
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

    /// `active`, `expired` or `revoked`, for lists.
    pub fn state(&self, now: Timestamp) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.is_expired(now) {
            "expired"
        } else {
            "active"
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
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: i64,
    #[serde(serialize_with = "ser_time")]
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
    fn roles_and_scopes_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
        }
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Admin.grants(Scope::OrgAdmin));
        assert!(!Role::Member.grants(Scope::OrgAdmin));
        assert!(Role::Viewer.grants(Scope::ProfileRead));
    }

    #[test]
    fn scope_lists_parse_strictly() {
        assert_eq!(
            parse_scopes("tokens:read, profile:read tokens:read"),
            Ok(vec![Scope::ProfileRead, Scope::TokensRead])
        );
        assert!(parse_scopes("tokens:read admin").is_err());
        assert_eq!(parse_scopes(""), Ok(vec![]));
        assert_eq!(scopes_to_text(&[]), None);
    }
}
