//! Who may do what: the one place that answers "may this principal do this
//! to that". Handlers, pages, the admin CLI and the approval service gather
//! the facts (the target token, the target member's role) and ask [`check`];
//! nothing else decides.
//!
//! **No privilege amplification.** Nothing a principal creates or obtains — a
//! minted, rotated or approved token — can do more than the principal itself
//! at that moment:
//!
//! - A token's authority never leaves its org, whatever its user may do
//!   elsewhere. Browser sessions act per org, with the user's role there.
//! - A scoped token mints and approves only tokens whose scopes are a
//!   non-empty subset of its own; a request without scopes inherits the
//!   caller's scopes ([`Principal::inherited_scopes`]), not the full role.
//! - Rotation hands the new secret only to the token's owner: personal and
//!   device tokens are rotated by their user, service tokens by the org's
//!   owners and admins, and only when the caller can already do everything the
//!   token can. Admins may revoke other members' tokens, never obtain them.
//! - Owner-level acts (granting or taking the owner role, removing an owner,
//!   revoking an owner's tokens) need an owner of that org acting through a
//!   session or an unscoped token — never an admin, never a service token.
//! - Service tokens have exactly their scopes (at most `org:admin`, which is
//!   admin-level, never owner-level); they approve no devices and change no
//!   memberships.
//!
//! The last-owner rule is not a policy question but an invariant of the data:
//! the store checks it in the transaction that changes a membership.

use crate::model::{Actor, Org, Role, RoleExt, Scope, Token, TokenKind, User};
use std::fmt;
use std::sync::Arc;

/// A set of [`Scope`]s.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Scopes(u8);

impl Scopes {
    pub const NONE: Scopes = Scopes(0);
    pub const ALL: Scopes = Scopes(0b1111);

    fn bit(scope: Scope) -> u8 {
        match scope {
            Scope::ProfileRead => 1,
            Scope::TokensRead => 2,
            Scope::TokensWrite => 4,
            Scope::OrgAdmin => 8,
        }
    }

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

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & Self::bit(scope) != 0
    }

    pub fn is_subset_of(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn intersect(self, other: Scopes) -> Scopes {
        Scopes(self.0 & other.0)
    }

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
    pub scopes: Scopes,
    pub owner: bool,
}

impl Power {
    pub const NONE: Power = Power {
        scopes: Scopes::NONE,
        owner: false,
    };
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

    pub fn can(self, scope: Scope) -> bool {
        self.scopes.contains(scope)
    }

    /// Whether this power includes everything `other` can do.
    pub fn covers(self, other: Power) -> bool {
        other.scopes.is_subset_of(self.scopes) && (self.owner || !other.owner)
    }
}

/// Who a request acts as.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A signed-in person in the browser: acting in one org with their role
    /// there (role `None`: not a member, which still lets them revoke their
    /// own tokens), or with no org for what concerns only themselves.
    Session {
        user: Arc<User>,
        org: Option<Arc<Org>>,
        role: Option<Role>,
    },
    /// A user's personal or device token: its org only, the user's current
    /// role narrowed by the token's scopes.
    UserToken {
        user: Arc<User>,
        org: Arc<Org>,
        role: Role,
        token: Arc<Token>,
    },
    /// A service token: its org only, exactly its scopes.
    Service { org: Arc<Org>, token: Arc<Token> },
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

    pub fn user(&self) -> Option<&User> {
        match self {
            Principal::Session { user, .. } | Principal::UserToken { user, .. } => Some(user),
            Principal::Service { .. } | Principal::System => None,
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        self.user().map(|u| u.id.as_str())
    }

    /// The org this principal acts in; `None` for the system.
    pub fn org(&self) -> Option<&Arc<Org>> {
        match self {
            Principal::Session { org, .. } => org.as_ref(),
            Principal::UserToken { org, .. } | Principal::Service { org, .. } => Some(org),
            Principal::System => None,
        }
    }

    pub fn org_id(&self) -> Option<&str> {
        self.org().map(|o| o.id.as_str())
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
            Principal::Session { user, .. } | Principal::UserToken { user, .. } => Actor::User {
                id: user.id.clone(),
                email: user.email.clone(),
            },
            Principal::Service { token, .. } => Actor::Token {
                id: token.id.clone(),
                hint: token.hint.clone(),
            },
            Principal::System => Actor::System,
        }
    }

    /// What this principal can do in `org_id` now.
    pub fn power_in(&self, org_id: &str) -> Power {
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
}

/// A token someone wants to act on, with its user's role in its org now.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub token: &'a Token,
    pub holder_role: Option<Role>,
}

/// What a principal wants to do.
#[derive(Debug, Clone, Copy)]
pub enum Act<'a> {
    /// `/me` and the event stream.
    ReadProfile,
    /// List one's own tokens (a token sees those of its own org only).
    ListOwnTokens,
    /// List every token of an org.
    ListOrgTokens {
        org_id: &'a str,
    },
    ReadToken(Target<'a>),
    /// Mint a personal token for oneself with these (already inherited) scopes.
    MintPersonal {
        org_id: &'a str,
        scopes: &'a [Scope],
    },
    MintService {
        org_id: &'a str,
        scopes: &'a [Scope],
    },
    /// Replace a token and receive the new secret.
    Rotate(Target<'a>),
    Revoke(Target<'a>),
    /// Revoke all of one's own tokens (a token: those of its own org).
    RevokeAllMine,
    /// Revoke every token a member holds in an org.
    RevokeAllOf {
        org_id: &'a str,
        user_id: &'a str,
        role: Role,
    },
    ListMembers {
        org_id: &'a str,
    },
    ReadAudit {
        org_id: &'a str,
    },
    AddMember {
        org_id: &'a str,
        role: Role,
    },
    ChangeRole {
        org_id: &'a str,
        from: Role,
        to: Role,
    },
    RemoveMember {
        org_id: &'a str,
        role: Role,
    },
    /// Look up or deny a device request by its user code.
    DecideDevice,
    /// Approve a device request into an org.
    ApproveDevice {
        org_id: &'a str,
    },
    /// Disable a user everywhere (the admin CLI).
    DisableUser,
}

/// Why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The principal would have it by role, but its token lacks this scope
    /// (or its role does not grant it).
    MissingScope(Scope),
    Forbidden(String),
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::MissingScope(scope) => write!(f, "this token lacks the `{scope}` permission"),
            Denied::Forbidden(reason) => f.write_str(reason),
        }
    }
}

fn forbidden(reason: impl Into<String>) -> Denied {
    Denied::Forbidden(reason.into())
}

const OWNER_ONLY: &str = "only an owner of this organization (signed in, or with a token that has no scope limits) may do this";

/// Why a principal cannot act in an org other than its own: a token's
/// authority never leaves its org.
pub fn outside_org(p: &Principal) -> Denied {
    match p.org() {
        Some(org) if p.token().is_some() => forbidden(format!(
            "this token belongs to organization `{}` and cannot act in another one",
            org.slug
        )),
        _ => forbidden("you are not a member of this organization"),
    }
}

/// The principal's power in `org_id`, or why it has none there.
fn power_for(p: &Principal, org_id: &str) -> Result<Power, Denied> {
    match p {
        Principal::System => Ok(Power::ALL),
        _ if p.org_id() != Some(org_id) => Err(outside_org(p)),
        Principal::Session {
            org: Some(org),
            role: None,
            ..
        } => Err(forbidden(format!("you are not a member of `{}`", org.slug))),
        _ => Ok(p.power_in(org_id)),
    }
}

fn need(power: Power, scope: Scope) -> Result<(), Denied> {
    if power.can(scope) {
        Ok(())
    } else if scope == Scope::OrgAdmin {
        Err(forbidden(
            "only owners and admins of this organization may do this",
        ))
    } else {
        Err(Denied::MissingScope(scope))
    }
}

fn need_owner(power: Power) -> Result<(), Denied> {
    if power.owner {
        Ok(())
    } else {
        Err(forbidden(OWNER_ONLY))
    }
}

/// The principal's power in `org_id` if it may change memberships there.
fn membership_power(p: &Principal, org_id: &str) -> Result<Power, Denied> {
    if matches!(p, Principal::Service { .. }) {
        return Err(forbidden(
            "service tokens cannot change memberships; use an owner's or admin's own token",
        ));
    }
    let power = power_for(p, org_id)?;
    need(power, Scope::OrgAdmin)?;
    Ok(power)
}

fn same_user(p: &Principal, token: &Token) -> bool {
    token.user_id.is_some() && token.user_id.as_deref() == p.user_id()
}

fn is_self(p: &Principal, token: &Token) -> bool {
    p.token().is_some_and(|t| t.id == token.id)
}

/// Whether `p` may do `act`; the reason when not.
pub fn check(p: &Principal, act: Act<'_>) -> Result<(), Denied> {
    if matches!(p, Principal::System) {
        return match act {
            Act::DecideDevice | Act::ApproveDevice { .. } => Err(forbidden(
                "device requests are approved by a signed-in person, not the system",
            )),
            _ => Ok(()),
        };
    }
    let home = p.org_id().unwrap_or_default();
    match act {
        Act::ReadProfile => need(p.power_in(home), Scope::ProfileRead),
        Act::ListOwnTokens => match p {
            Principal::Session { .. } => Ok(()),
            _ => need(power_for(p, home)?, Scope::TokensRead),
        },
        Act::ListOrgTokens { org_id } => {
            let power = power_for(p, org_id)?;
            need(power, Scope::TokensRead)?;
            need(power, Scope::OrgAdmin)
        }
        Act::ReadToken(Target { token, .. }) => {
            let power = power_for(p, &token.org_id)?;
            need(power, Scope::TokensRead)?;
            if same_user(p, token) || is_self(p, token) {
                Ok(())
            } else {
                need(power, Scope::OrgAdmin)
                    .map_err(|_| forbidden("you can only see your own tokens"))
            }
        }
        Act::MintPersonal { org_id, scopes } => {
            let Some(_) = p.user() else {
                return Err(forbidden(
                    "service tokens have no user to mint a personal token for; create a service token",
                ));
            };
            let power = power_for(p, org_id)?;
            need(power, Scope::TokensWrite)?;
            grantable(p, power, scopes)
        }
        Act::MintService { org_id, scopes } => {
            let power = power_for(p, org_id)?;
            need(power, Scope::OrgAdmin)?;
            need(power, Scope::TokensWrite)?;
            grantable(p, power, scopes)
        }
        Act::Rotate(target) => rotate(p, target),
        Act::Revoke(Target { token, holder_role }) => {
            if same_user(p, token) && matches!(p, Principal::Session { .. }) {
                // Own tokens, in any of one's orgs, even after leaving it.
                return Ok(());
            }
            let power = power_for(p, &token.org_id)?;
            need(power, Scope::TokensWrite)?;
            if same_user(p, token) || is_self(p, token) {
                return Ok(());
            }
            need(power, Scope::OrgAdmin)
                .map_err(|_| forbidden("you can only revoke your own tokens"))?;
            if token.kind != TokenKind::Service && holder_role == Some(Role::Owner) {
                need_owner(power)?;
            }
            Ok(())
        }
        Act::RevokeAllMine => match p {
            Principal::Session { .. } => Ok(()),
            Principal::UserToken { .. } => need(p.power_in(home), Scope::TokensWrite),
            _ => Err(forbidden(
                "service tokens have no user; revoke them one by one",
            )),
        },
        Act::RevokeAllOf {
            org_id,
            user_id,
            role,
        } => {
            let power = power_for(p, org_id)?;
            need(power, Scope::TokensWrite)?;
            if p.user_id() == Some(user_id) {
                return Ok(());
            }
            need(power, Scope::OrgAdmin).map_err(|_| {
                forbidden("only owners and admins can revoke another member's tokens")
            })?;
            if role == Role::Owner {
                need_owner(power)?;
            }
            Ok(())
        }
        Act::ListMembers { org_id } | Act::ReadAudit { org_id } => {
            need(power_for(p, org_id)?, Scope::OrgAdmin)
        }
        Act::AddMember { org_id, role } => {
            let power = membership_power(p, org_id)?;
            if role == Role::Owner {
                need_owner(power)?;
            }
            Ok(())
        }
        Act::ChangeRole { org_id, from, to } => {
            let power = membership_power(p, org_id)?;
            if from == Role::Owner || to == Role::Owner {
                need_owner(power)?;
            }
            Ok(())
        }
        Act::RemoveMember { org_id, role } => {
            let power = membership_power(p, org_id)?;
            if role == Role::Owner {
                need_owner(power)?;
            }
            Ok(())
        }
        Act::DecideDevice => match p {
            Principal::Session { .. } => Ok(()),
            Principal::UserToken { .. } => need(p.power_in(home), Scope::TokensWrite),
            _ => Err(no_device_approval()),
        },
        Act::ApproveDevice { org_id } => match p {
            Principal::Session { .. } | Principal::UserToken { .. } => {
                need(power_for(p, org_id)?, Scope::TokensWrite)
            }
            _ => Err(no_device_approval()),
        },
        Act::DisableUser => Err(forbidden(
            "users are disabled with the admin CLI on the server host",
        )),
    }
}

fn no_device_approval() -> Denied {
    forbidden("service tokens have no user to approve devices as; use a person's token")
}

/// Scopes a new token may carry: a subset of what the caller can do, and not
/// empty when the caller itself is limited (empty would mean the full role).
fn grantable(p: &Principal, power: Power, scopes: &[Scope]) -> Result<(), Denied> {
    for scope in scopes {
        if !power.can(*scope) {
            return Err(forbidden(format!(
                "you cannot grant `{scope}`: you do not have it"
            )));
        }
    }
    let limited = match p {
        Principal::UserToken { token, .. } => !token.scopes.is_empty(),
        _ => false,
    };
    if limited && scopes.is_empty() {
        return Err(forbidden(
            "a token with limited scopes can only create tokens with some of its own scopes",
        ));
    }
    Ok(())
}

fn rotate(p: &Principal, Target { token, holder_role }: Target<'_>) -> Result<(), Denied> {
    let power = power_for(p, &token.org_id)?;
    need(power, Scope::TokensWrite)?;
    if token.kind == TokenKind::Service {
        need(power, Scope::OrgAdmin)
            .map_err(|_| forbidden("only owners and admins rotate service tokens"))?;
    } else if !same_user(p, token) {
        return Err(forbidden(
            "only its owner can rotate a token, because rotation hands out the new secret; you may revoke it",
        ));
    }
    if !power.covers(Power::of_token(token, holder_role)) {
        return Err(forbidden(
            "this token can do more than you can; rotate it with a credential that has at least its permissions",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Exhaustive over the small world the policy sees: every principal kind,
    //! role and scope set, against every target token of the same or another
    //! org. Whatever the policy allows to be minted, approved or rotated must
    //! be covered by the principal's own power.

    use super::*;

    fn org(id: &str) -> Arc<Org> {
        Arc::new(Org {
            id: id.into(),
            slug: id.into(),
            name: id.into(),
            created_at: 0,
        })
    }

    fn user(id: &str) -> Arc<User> {
        Arc::new(User {
            id: id.into(),
            email: format!("{id}@example.com"),
            name: id.into(),
            password_hash: None,
            disabled_at: None,
            created_at: 0,
        })
    }

    fn token(id: &str, kind: TokenKind, user: Option<&str>, org: &str, scopes: Scopes) -> Token {
        Token {
            id: id.into(),
            hash: String::new(),
            hint: String::new(),
            name: id.into(),
            kind,
            user_id: user.map(str::to_string),
            user_email: None,
            org_id: org.into(),
            org_slug: org.into(),
            scopes: scopes.to_vec(),
            created_at: 0,
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
        }
    }

    fn subsets() -> impl Iterator<Item = Scopes> {
        (0u8..16).map(Scopes)
    }

    /// Every principal of user `u` (or a service token) in org `a`.
    fn principals() -> Vec<Principal> {
        let mut out = Vec::new();
        for role in Role::ALL {
            out.push(Principal::session_in(user("u"), org("a"), Some(*role)));
            for scopes in subsets() {
                out.push(Principal::UserToken {
                    user: user("u"),
                    org: org("a"),
                    role: *role,
                    token: Arc::new(token("p", TokenKind::Personal, Some("u"), "a", scopes)),
                });
            }
        }
        for scopes in subsets() {
            out.push(Principal::Service {
                org: org("a"),
                token: Arc::new(token("s", TokenKind::Service, None, "a", scopes)),
            });
        }
        out
    }

    fn own_power(p: &Principal) -> Power {
        p.power_in("a")
    }

    #[test]
    fn what_is_minted_is_covered_by_its_maker() {
        for p in principals() {
            for requested in subsets() {
                let asked = requested.to_vec();
                let scopes = if asked.is_empty() {
                    p.inherited_scopes()
                } else {
                    asked
                };
                let personal = Act::MintPersonal {
                    org_id: "a",
                    scopes: &scopes,
                };
                if check(&p, personal).is_ok() {
                    let made = Power::of_member(p.role().unwrap_or(Role::Viewer), &scopes);
                    assert!(own_power(&p).covers(made), "{p:?} minted {scopes:?}");
                }
                let service = Act::MintService {
                    org_id: "a",
                    scopes: &scopes,
                };
                if check(&p, service).is_ok() {
                    assert!(own_power(&p).covers(Power::of_service(&scopes)), "{p:?}");
                }
                let elsewhere = Act::MintPersonal {
                    org_id: "b",
                    scopes: &scopes,
                };
                assert!(check(&p, elsewhere).is_err(), "{p:?}");
                let elsewhere = Act::MintService {
                    org_id: "b",
                    scopes: &scopes,
                };
                assert!(check(&p, elsewhere).is_err(), "{p:?}");
            }
        }
    }

    #[test]
    fn a_device_approved_gets_no_more_than_its_approver() {
        for p in principals() {
            if check(&p, Act::ApproveDevice { org_id: "a" }).is_ok() {
                let made =
                    Power::of_member(p.role().unwrap_or(Role::Viewer), &p.inherited_scopes());
                assert!(own_power(&p).covers(made), "{p:?}");
                assert!(p.user().is_some(), "{p:?}: approvals need a person");
            }
            assert!(
                check(&p, Act::ApproveDevice { org_id: "b" }).is_err(),
                "{p:?}"
            );
        }
    }

    #[test]
    fn rotation_hands_secrets_only_to_their_owner_and_never_more_power() {
        for p in principals() {
            for kind in TokenKind::ALL {
                for holder in ["u", "v"] {
                    for scopes in subsets() {
                        for holder_role in Role::ALL {
                            for org_id in ["a", "b"] {
                                let user = (*kind != TokenKind::Service).then_some(holder);
                                let target = token("t", *kind, user, org_id, scopes);
                                let t = Target {
                                    token: &target,
                                    holder_role: user.map(|_| *holder_role),
                                };
                                if check(&p, Act::Rotate(t)).is_err() {
                                    continue;
                                }
                                assert_eq!(org_id, "a", "{p:?} rotated a token of another org");
                                let theirs = Power::of_token(&target, t.holder_role);
                                assert!(own_power(&p).covers(theirs), "{p:?} rotated {target:?}");
                                if *kind != TokenKind::Service {
                                    assert_eq!(user, p.user_id(), "{p:?} got {target:?}'s secret");
                                } else {
                                    assert!(own_power(&p).can(Scope::OrgAdmin), "{p:?}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn owner_level_acts_need_an_unscoped_owner() {
        for p in principals() {
            let owner_level = own_power(&p).owner;
            let acts = [
                Act::AddMember {
                    org_id: "a",
                    role: Role::Owner,
                },
                Act::ChangeRole {
                    org_id: "a",
                    from: Role::Owner,
                    to: Role::Admin,
                },
                Act::ChangeRole {
                    org_id: "a",
                    from: Role::Member,
                    to: Role::Owner,
                },
                Act::RemoveMember {
                    org_id: "a",
                    role: Role::Owner,
                },
                Act::RevokeAllOf {
                    org_id: "a",
                    user_id: "v",
                    role: Role::Owner,
                },
            ];
            for act in acts {
                assert_eq!(check(&p, act).is_ok(), owner_level, "{p:?} {act:?}");
            }
            let scoped = p.token().is_some_and(|t| !t.scopes.is_empty());
            let is_owner = p.role() == Some(Role::Owner);
            let expected = is_owner && !scoped && !matches!(p, Principal::Service { .. });
            assert_eq!(owner_level, expected, "{p:?}");
        }
    }

    #[test]
    fn service_tokens_change_no_memberships_and_the_system_approves_nothing() {
        for p in principals()
            .iter()
            .filter(|p| matches!(p, Principal::Service { .. }))
        {
            let change = Act::ChangeRole {
                org_id: "a",
                from: Role::Member,
                to: Role::Viewer,
            };
            assert!(check(p, change).is_err());
            assert!(check(p, Act::DecideDevice).is_err());
        }
        assert!(check(&Principal::System, Act::DecideDevice).is_err());
        assert!(check(&Principal::System, Act::DisableUser).is_ok());
    }
}
