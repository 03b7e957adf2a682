//! Organization administration: members and roles, with the cascade that
//! revokes a removed or disabled member's tokens at once. Owners are protected:
//! only owners touch owners, and the last owner stays.

use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::metrics::Metrics;
use crate::model::*;
use crate::state::AppState;
use crate::store::Revocation;

/// Who is acting and with which role in the org (`None` = the system, e.g. the admin CLI).
pub struct OrgActor {
    pub actor: Actor,
    pub role: Option<Role>,
}

impl OrgActor {
    pub fn system() -> Self {
        Self {
            actor: Actor::System,
            role: None,
        }
    }

    fn is_owner(&self) -> bool {
        self.role.is_none() || self.role == Some(Role::Owner)
    }
}

/// The user named by an email address or a user id, if any.
pub async fn lookup_user(state: &AppState, who: &str) -> ApiResult<Option<User>> {
    match state.store.user_by_email(who).await? {
        Some(user) => Ok(Some(user)),
        None => Ok(state.store.user_by_id(who).await?),
    }
}

/// The user named by an email address or a user id, or 404.
pub async fn find_user(state: &AppState, who: &str) -> ApiResult<User> {
    lookup_user(state, who)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user `{who}`")))
}

pub async fn org(state: &AppState, slug: &str) -> ApiResult<Org> {
    state
        .store
        .org_by_slug(slug)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no organization `{slug}`")))
}

pub async fn add(
    state: &AppState,
    org: &Org,
    who: &str,
    role: Role,
    by: &OrgActor,
    meta: &RequestMeta,
) -> ApiResult<Member> {
    if role == Role::Owner && !by.is_owner() {
        return Err(ApiError::forbidden("only owners can add owners"));
    }
    let user = find_user(state, who).await?;
    let now = state.now();
    let audit = NewAuditEvent::new(now, by.actor.clone(), "member.added", meta)
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

async fn current_role(state: &AppState, org: &Org, user: &User) -> ApiResult<Role> {
    state
        .store
        .role_of(&org.id, &user.id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "`{}` is not a member of `{}`",
                user.email, org.slug
            ))
        })
}

async fn keep_an_owner(state: &AppState, org: &Org, current: Role) -> ApiResult<()> {
    if current == Role::Owner && state.store.count_owners(&org.id).await? <= 1 {
        return Err(ApiError::conflict(
            "an organization needs at least one owner; make someone else owner first",
        ));
    }
    Ok(())
}

/// Changes a member's role; their tokens act with the new role from the next request.
pub async fn set_role(
    state: &AppState,
    org: &Org,
    who: &str,
    role: Role,
    by: &OrgActor,
    meta: &RequestMeta,
) -> ApiResult<Member> {
    let user = find_user(state, who).await?;
    let current = current_role(state, org, &user).await?;
    if (current == Role::Owner || role == Role::Owner) && !by.is_owner() {
        return Err(ApiError::forbidden(
            "only owners can grant or take away the owner role",
        ));
    }
    if role != Role::Owner {
        keep_an_owner(state, org, current).await?;
    }
    let audit = NewAuditEvent::new(state.now(), by.actor.clone(), "member.role_changed", meta)
        .target(user.email.clone())
        .org(org.id.clone())
        .detail(format!("{current} → {role}"));
    state
        .store
        .set_role(&org.id, &user.id, role, &audit)
        .await?;
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
    org: &Org,
    who: &str,
    by: &OrgActor,
    meta: &RequestMeta,
) -> ApiResult<u64> {
    let user = find_user(state, who).await?;
    let current = current_role(state, org, &user).await?;
    if current == Role::Owner && !by.is_owner() {
        return Err(ApiError::forbidden("only owners can remove an owner"));
    }
    keep_an_owner(state, org, current).await?;
    let now = state.now();
    let rev = Revocation {
        at: now,
        by: by.actor.label(),
        reason: format!("removed from {}", org.slug),
    };
    let audit = NewAuditEvent::new(now, by.actor.clone(), "member.removed", meta)
        .target(user.email.clone())
        .org(org.id.clone());
    let revoked = state
        .store
        .remove_member(&org.id, &user.id, &rev, &audit)
        .await?
        .ok_or_else(|| ApiError::not_found("not a member"))?;
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
    who: &str,
    actor: Actor,
    meta: &RequestMeta,
) -> ApiResult<u64> {
    let user = find_user(state, who).await?;
    let now = state.now();
    let rev = Revocation {
        at: now,
        by: actor.label(),
        reason: "user disabled".into(),
    };
    let audit = NewAuditEvent::new(now, actor, "user.disabled", meta).target(user.email.clone());
    let revoked = state
        .store
        .disable_user(&user.id, &rev, &audit)
        .await?
        .ok_or_else(|| ApiError::conflict(format!("`{}` is already disabled", user.email)))?;
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
