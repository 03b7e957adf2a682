//! What someone can do in one org: a scope set and whether owner-level acts
//! are theirs ([`Power`]), from a role, a token's scopes, or a service token.

use crate::model::{Role, RoleExt, Scope, Token, TokenKind};
use std::fmt;

/// A set of [`Scope`]s.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Scopes(pub(super) u8);

impl Scopes {
    /// No scopes.
    pub const NONE: Scopes = Scopes(0);
    /// Every scope.
    pub const ALL: Scopes = Scopes(0b1111);

    fn bit(scope: Scope) -> u8 {
        match scope {
            Scope::ProfileRead => 1,
            Scope::TokensRead => 2,
            Scope::TokensWrite => 4,
            Scope::OrgAdmin => 8,
        }
    }

    /// The set of `scopes`.
    pub fn of(scopes: &[Scope]) -> Scopes {
        Scopes(scopes.iter().fold(0, |bits, s| bits | Self::bit(*s)))
    }

    /// What a role may do.
    pub fn of_role(role: Role) -> Scopes {
        Scopes(
            Scope::ALL
                .iter()
                .filter(|s| role.grants(**s))
                .fold(0, |bits, s| bits | Self::bit(*s)),
        )
    }

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & Self::bit(scope) != 0
    }

    /// Whether every scope in this set is also in `other`.
    pub fn is_subset_of(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    /// The scopes in both sets.
    pub fn intersect(self, other: Scopes) -> Scopes {
        Scopes(self.0 & other.0)
    }

    /// Whether the set has no scopes.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in the canonical (sorted) order.
    pub fn to_vec(self) -> Vec<Scope> {
        Scope::ALL
            .iter()
            .copied()
            .filter(|s| self.contains(*s))
            .collect()
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.to_vec()).finish()
    }
}

/// What someone can do in one org right now: a scope set, and whether they
/// may do owner-level acts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Power {
    /// The scopes they have.
    pub scopes: Scopes,
    /// Whether they may do owner-level acts.
    pub owner: bool,
}

impl Power {
    /// Nothing at all.
    pub const NONE: Power = Power {
        scopes: Scopes::NONE,
        owner: false,
    };
    /// Everything, owner-level acts included (the system).
    pub const ALL: Power = Power {
        scopes: Scopes::ALL,
        owner: true,
    };

    /// A user with `role` and a token's `scopes` (empty: the full role).
    pub fn of_member(role: Role, scopes: &[Scope]) -> Power {
        let by_role = Scopes::of_role(role);
        if scopes.is_empty() {
            Power {
                scopes: by_role,
                owner: role == Role::Owner,
            }
        } else {
            Power {
                scopes: by_role.intersect(Scopes::of(scopes)),
                owner: false,
            }
        }
    }

    /// A service token: exactly its scopes (`profile:read` when it has none).
    pub fn of_service(scopes: &[Scope]) -> Power {
        let scopes = if scopes.is_empty() {
            Scopes::of(&[Scope::ProfileRead])
        } else {
            Scopes::of(scopes)
        };
        Power {
            scopes,
            owner: false,
        }
    }

    /// What `token` can do in its org while its user has `holder_role` there.
    pub fn of_token(token: &Token, holder_role: Option<Role>) -> Power {
        match (token.kind, holder_role) {
            (TokenKind::Service, _) => Power::of_service(&token.scopes),
            (_, Some(role)) => Power::of_member(role, &token.scopes),
            (_, None) => Power::NONE,
        }
    }

    /// Whether `scope` is among its scopes.
    pub fn can(self, scope: Scope) -> bool {
        self.scopes.contains(scope)
    }

    /// Whether this power includes everything `other` can do.
    pub fn covers(self, other: Power) -> bool {
        other.scopes.is_subset_of(self.scopes) && (self.owner || !other.owner)
    }
}
