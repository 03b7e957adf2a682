//! Organization administration: members and roles, with the cascade that
//! revokes a removed or disabled member's tokens at once. Who may change what
//! is [`crate::policy`]'s to say (only owners touch owners); the store keeps
//! the last owner, in the same transaction as the change.

use crate::error::{Error, Result};
use crate::events::Event;
use crate::metrics::Metrics;
use crate::model::*;
use crate::policy::{self, Act, Principal};
use crate::state::AppState;
use crate::store::{MembershipChange, Revocation};

/// The user named by an email address or a user id, if any.
pub async fn lookup_user(state: &AppState, who: &str) -> Result<Option<User>> {
    match state.store.user_by_email(who).await? {
        Some(user) => Ok(Some(user)),
        None => Ok(state.store.user_by_id(who).await?),
    }
}

/// The user named by an email address or a user id, or 404.
pub async fn find_user(state: &AppState, who: &str) -> Result<User> {
    lookup_user(state, who)
        .await?
        .ok_or_else(|| Error::not_found(format!("no user `{who}`")))
}

/// The org with this slug, or 404.
pub async fn org(state: &AppState, slug: &str) -> Result<Org> {
    state
        .store
        .org_by_slug(slug)
        .await?
        .ok_or_else(|| Error::not_found(format!("no organization `{slug}`")))
}

/// The members of `org`, for those who administer it.
pub async fn list(state: &AppState, by: &Principal, org: &Org) -> Result<Vec<Member>> {
    policy::check(by, Act::ListMembers { org_id: &org.id })?;
    Ok(state.store.list_members(&org.id).await?)
}

/// Adds the user named by `who` (email or id) to `org` with `role`, if `by` may.
pub async fn add(
    state: &AppState,
    by: &Principal,
    org: &Org,
    who: &str,
    role: Role,
    meta: &RequestMeta,
) -> Result<Member> {
    policy::check(
        by,
        Act::AddMember {
            org_id: &org.id,
            role,
        },
    )?;
    let user = find_user(state, who).await?;
    let now = state.now();
    let audit = NewAuditEvent::new(now, by.actor(), AuditAction::MemberAdded, meta)
        .target(user.email.clone())
        .org(org.id.clone())
        .detail(format!("as {role}"));
    state
        .store
        .add_member(&org.id, &user.id, role, now, &audit)
        .await?;
    Ok(Member {
        user,
        role,
        joined_at: now,
    })
}

async fn current_role(state: &AppState, org: &Org, user: &User) -> Result<Role> {
    state
        .store
        .role_of(&org.id, &user.id)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!(
                "`{}` is not a member of `{}`",
                user.email, org.slug
            ))
        })
}

/// The answer for a membership change the store refused.
fn refused(change: MembershipChange, user: &User, org: &Org) -> Error {
    match change {
        MembershipChange::LastOwner => Error::conflict(
            "an organization needs at least one owner; make someone else owner first",
        ),
        MembershipChange::Changed(now) => Error::conflict(format!(
            "`{}` became {now} meanwhile; nothing was changed, look again and retry",
            user.email
        )),
        MembershipChange::NotMember | MembershipChange::Done { .. } => Error::not_found(format!(
            "`{}` is not a member of `{}`",
            user.email, org.slug
        )),
    }
}

/// Changes a member's role; their tokens act with the new role from the next request.
pub async fn set_role(
    state: &AppState,
    by: &Principal,
    org: &Org,
    who: &str,
    role: Role,
    meta: &RequestMeta,
) -> Result<Member> {
    let user = find_user(state, who).await?;
    let current = current_role(state, org, &user).await?;
    policy::check(
        by,
        Act::ChangeRole {
            org_id: &org.id,
            from: current,
            to: role,
        },
    )?;
    let audit = NewAuditEvent::new(
        state.now(),
        by.actor(),
        AuditAction::MemberRoleChanged,
        meta,
    )
    .target(user.email.clone())
    .org(org.id.clone())
    .detail(format!("{current} → {role}"));
    match state
        .store
        .set_role(&org.id, &user.id, current, role, &audit)
        .await?
    {
        MembershipChange::Done { .. } => {}
        other => return Err(refused(other, &user, org)),
    }
    state
        .publish(Event::MembershipChanged {
            user_id: user.id.clone(),
            org_id: org.id.clone(),
            role: Some(role),
        })
        .await;
    let joined_at = user.created_at;
    Ok(Member {
        user,
        role,
        joined_at,
    })
}

/// Removes a member and revokes their tokens in this org; returns how many.
pub async fn remove(
    state: &AppState,
    by: &Principal,
    org: &Org,
    who: &str,
    meta: &RequestMeta,
) -> Result<u64> {
    let user = find_user(state, who).await?;
    let current = current_role(state, org, &user).await?;
    policy::check(
        by,
        Act::RemoveMember {
            org_id: &org.id,
            role: current,
        },
    )?;
    let now = state.now();
    let actor = by.actor();
    let rev = Revocation {
        at: now,
        by: actor.label(),
        reason: format!("removed from {}", org.slug),
    };
    let audit = NewAuditEvent::new(now, actor, AuditAction::MemberRemoved, meta)
        .target(user.email.clone())
        .org(org.id.clone());
    let revoked = match state
        .store
        .remove_member(&org.id, &user.id, current, &rev, &audit)
        .await?
    {
        MembershipChange::Done { revoked } => revoked,
        other => return Err(refused(other, &user, org)),
    };
    Metrics::inc(&state.metrics.tokens_revoked, revoked);
    let reason = format!("removed from {}", org.slug);
    state
        .publish(Event::UserTokensRevoked {
            user_id: user.id.clone(),
            org_id: Some(org.id.clone()),
            reason,
        })
        .await;
    state
        .publish(Event::MembershipChanged {
            user_id: user.id.clone(),
            org_id: org.id.clone(),
            role: None,
        })
        .await;
    Ok(revoked)
}

/// Disables a user everywhere and revokes all their tokens; returns how many.
pub async fn disable_user(
    state: &AppState,
    by: &Principal,
    who: &str,
    meta: &RequestMeta,
) -> Result<u64> {
    policy::check(by, Act::DisableUser)?;
    let actor = by.actor();
    let user = find_user(state, who).await?;
    let now = state.now();
    let rev = Revocation {
        at: now,
        by: actor.label(),
        reason: "user disabled".into(),
    };
    let audit =
        NewAuditEvent::new(now, actor, AuditAction::UserDisabled, meta).target(user.email.clone());
    let revoked = state
        .store
        .disable_user(&user.id, &rev, &audit)
        .await?
        .ok_or_else(|| Error::conflict(format!("`{}` is already disabled", user.email)))?;
    Metrics::inc(&state.metrics.tokens_revoked, revoked);
    state
        .publish(Event::UserTokensRevoked {
            user_id: user.id.clone(),
            org_id: None,
            reason: "user disabled".into(),
        })
        .await;
    Ok(revoked)
}
