//! Who a request acts as ([`Principal`]), and its power in an org.

use super::power::Power;
use crate::model::{Actor, Org, OrgId, Role, Scope, Token, User, UserId};
use std::sync::Arc;

/// Who a request acts as.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A signed-in person in the browser: acting in one org with their role
    /// there (role `None`: not a member, which still lets them revoke their
    /// own tokens), or with no org for what concerns only themselves.
    Session {
        /// The signed-in user.
        user: Arc<User>,
        /// The org they act in, if any.
        org: Option<Arc<Org>>,
        /// Their role there; `None` when not a member or with no org.
        role: Option<Role>,
    },
    /// A user's personal or device token: its org only, the user's current
    /// role narrowed by the token's scopes.
    UserToken {
        /// The token's user.
        user: Arc<User>,
        /// The token's org.
        org: Arc<Org>,
        /// The user's role in that org now.
        role: Role,
        /// The token presented.
        token: Arc<Token>,
    },
    /// A service token: its org only, exactly its scopes.
    Service {
        /// The token's org.
        org: Arc<Org>,
        /// The token presented.
        token: Arc<Token>,
    },
    /// The admin CLI on the server host.
    System,
}

impl Principal {
    /// A signed-in person acting only on what is theirs (no org).
    pub fn session(user: Arc<User>) -> Self {
        Principal::Session {
            user,
            org: None,
            role: None,
        }
    }

    /// A signed-in person acting in `org`, where their role is `role`.
    pub fn session_in(user: Arc<User>, org: Arc<Org>, role: Option<Role>) -> Self {
        Principal::Session {
            user,
            org: Some(org),
            role,
        }
    }

    /// The user acting; `None` for service tokens and the system.
    pub fn user(&self) -> Option<&User> {
        match self {
            Principal::Session { user, .. } | Principal::UserToken { user, .. } => Some(user),
            Principal::Service { .. } | Principal::System => None,
        }
    }

    /// That user's id.
    pub fn user_id(&self) -> Option<&UserId> {
        self.user().map(|u| &u.id)
    }

    /// The org this principal acts in; `None` for the system.
    pub fn org(&self) -> Option<&Arc<Org>> {
        match self {
            Principal::Session { org, .. } => org.as_ref(),
            Principal::UserToken { org, .. } | Principal::Service { org, .. } => Some(org),
            Principal::System => None,
        }
    }

    /// The id of the org this principal acts in.
    pub fn org_id(&self) -> Option<&OrgId> {
        self.org().map(|o| &o.id)
    }

    /// The token the request came with.
    pub fn token(&self) -> Option<&Arc<Token>> {
        match self {
            Principal::UserToken { token, .. } | Principal::Service { token, .. } => Some(token),
            Principal::Session { .. } | Principal::System => None,
        }
    }

    /// The member's role now; `None` for service tokens, the system and non-members.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Session { role, .. } => *role,
            Principal::UserToken { role, .. } => Some(*role),
            Principal::Service { .. } | Principal::System => None,
        }
    }

    /// Who did it, for the audit log.
    pub fn actor(&self) -> Actor {
        match self {
            Principal::Session { user, .. } | Principal::UserToken { user, .. } => {
                Actor::of_user(user)
            }
            Principal::Service { token, .. } => Actor::of_token(token),
            Principal::System => Actor::System,
        }
    }

    /// What this principal can do in `org_id` now.
    pub fn power_in(&self, org_id: &OrgId) -> Power {
        if !matches!(self, Principal::System) && self.org_id() != Some(org_id) {
            return Power::NONE;
        }
        match self {
            Principal::Session { role, .. } => {
                role.map_or(Power::NONE, |r| Power::of_member(r, &[]))
            }
            Principal::UserToken { role, token, .. } => Power::of_member(*role, &token.scopes),
            Principal::Service { token, .. } => Power::of_service(&token.scopes),
            Principal::System => Power::ALL,
        }
    }

    /// The scopes a token minted or approved by this principal carries when the
    /// request names none: none (the member's full role) for sessions, unscoped
    /// tokens and the system; for scoped and service tokens, what the caller
    /// can do now.
    pub fn inherited_scopes(&self) -> Vec<Scope> {
        match self {
            Principal::UserToken { role, token, .. } if !token.scopes.is_empty() => {
                Power::of_member(*role, &token.scopes).scopes.to_vec()
            }
            Principal::Service { token, .. } => token.scopes.clone(),
            _ => Vec::new(),
        }
    }

    /// Whether this is a scoped token whose scopes give it nothing in its
    /// role now (say `org:admin` for a member): its [`Self::inherited_scopes`]
    /// are empty, which on a new token would mean the full role, so nothing
    /// may inherit them.
    pub fn scoped_to_nothing(&self) -> bool {
        matches!(
            self,
            Principal::UserToken { role, token, .. }
                if !token.scopes.is_empty() && Power::of_member(*role, &token.scopes).scopes.is_empty()
        )
    }
}
