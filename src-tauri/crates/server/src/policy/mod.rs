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

mod power;
mod principal;

pub use power::{Power, Scopes};
pub use principal::Principal;

use crate::model::{OrgId, Role, Scope, Token, TokenKind, UserId};
use std::fmt;

/// A token someone wants to act on, with its user's role in its org now.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The token acted on.
    pub token: &'a Token,
    /// Its user's role in its org now; `None` for service tokens and non-members.
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
        /// The org whose tokens are listed.
        org_id: &'a OrgId,
    },
    /// See one token.
    ReadToken(Target<'a>),
    /// Mint a personal token for oneself with these (already inherited) scopes.
    MintPersonal {
        /// The org the token will act in.
        org_id: &'a OrgId,
        /// The scopes it will carry.
        scopes: &'a [Scope],
    },
    /// Mint a service token for an org with these (already inherited) scopes.
    MintService {
        /// The org the token will act in.
        org_id: &'a OrgId,
        /// The scopes it will carry.
        scopes: &'a [Scope],
    },
    /// Replace a token and receive the new secret.
    Rotate(Target<'a>),
    /// Revoke one token.
    Revoke(Target<'a>),
    /// Revoke all of one's own tokens (a token: those of its own org).
    RevokeAllMine,
    /// Revoke every token a member holds in an org.
    RevokeAllOf {
        /// The org whose tokens are revoked.
        org_id: &'a OrgId,
        /// The member whose tokens are revoked.
        user_id: &'a UserId,
        /// That member's role there now.
        role: Role,
    },
    /// List an org's members.
    ListMembers {
        /// The org.
        org_id: &'a OrgId,
    },
    /// Read an org's audit log.
    ReadAudit {
        /// The org.
        org_id: &'a OrgId,
    },
    /// Add a member to an org.
    AddMember {
        /// The org.
        org_id: &'a OrgId,
        /// The role the new member gets.
        role: Role,
    },
    /// Change a member's role.
    ChangeRole {
        /// The org.
        org_id: &'a OrgId,
        /// The member's role now.
        from: Role,
        /// The role they get.
        to: Role,
    },
    /// Remove a member from an org.
    RemoveMember {
        /// The org.
        org_id: &'a OrgId,
        /// The member's role now.
        role: Role,
    },
    /// Look up or deny a device request by its user code.
    DecideDevice,
    /// Approve a device request into an org.
    ApproveDevice {
        /// The org the device token will act in.
        org_id: &'a OrgId,
    },
    /// Read an org's device policy.
    ReadDevicePolicy {
        /// The org.
        org_id: &'a OrgId,
    },
    /// Change an org's device policy.
    SetDevicePolicy {
        /// The org.
        org_id: &'a OrgId,
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
    /// Not allowed at all; the text says why.
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
fn power_for(p: &Principal, org_id: &OrgId) -> Result<Power, Denied> {
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
fn membership_power(p: &Principal, org_id: &OrgId) -> Result<Power, Denied> {
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
    token.user_id.is_some() && token.user_id.as_ref() == p.user_id()
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
    let none = OrgId::default();
    let home = p.org_id().unwrap_or(&none);
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
        Act::ListMembers { org_id }
        | Act::ReadAudit { org_id }
        | Act::ReadDevicePolicy { org_id } => need(power_for(p, org_id)?, Scope::OrgAdmin),
        Act::SetDevicePolicy { org_id } => {
            let power = power_for(p, org_id)?;
            need(power, Scope::OrgAdmin)?;
            need_owner(power)
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
pub(crate) mod tests;
