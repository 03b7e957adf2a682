//! Token management: issuing personal and service tokens (shown once), listing,
//! revoking one or all, and rotation, for the JSON API, the pages and the admin
//! CLI alike. Each asks [`crate::policy`] before it acts.

use crate::clock::{Timestamp, parse_date_end_of_day};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::identity::clean_text;
use crate::metrics::Metrics;
use crate::model::*;
use crate::policy::{self, Act, Principal, Target};
use crate::secret::{self, Secret, sha256_hex, token_hint};
use crate::state::AppState;
use crate::store::Revocation;

/// Longest token name accepted, characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 64;

/// When a new token expires: `30d`, `90d`, `365d` (any `Nd` up to ten years),
/// `never`, or a date `YYYY-MM-DD` (end of that day, UTC). `None` = the default lifetime.
pub fn parse_expiry(
    text: Option<&str>,
    now: Timestamp,
    default_days: i64,
) -> Result<Option<Timestamp>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Some(now + default_days * 86_400));
    };
    if text == "never" {
        return Ok(None);
    }
    if let Some(days) = text.strip_suffix('d').and_then(|d| d.parse::<i64>().ok()) {
        if (1..=3650).contains(&days) {
            return Ok(Some(now + days * 86_400));
        }
        return Err(Error::invalid("expiry must be between 1 and 3650 days"));
    }
    match parse_date_end_of_day(text) {
        Some(at) if at > now => Ok(Some(at)),
        Some(_) => Err(Error::invalid("the expiry date is in the past")),
        None => Err(Error::invalid(
            "expires must be `30d`, `90d`, `365d`, `never` or a date like 2027-01-31",
        )),
    }
}

/// A freshly issued token: the secret, shown this once, and its record.
pub struct Issued {
    /// The secret.
    pub token: Secret,
    /// The stored record.
    pub info: TokenView,
}

/// A token as lists show it, with its state at the time of the request.
#[derive(Debug, Clone)]
pub struct TokenView {
    /// The stored token.
    pub token: Token,
    /// Active, expired or revoked at the time of the request.
    pub state: TokenState,
}

impl TokenView {
    /// The view of `token` at `now`.
    pub fn new(token: Token, now: Timestamp) -> Self {
        let state = token.state(now);
        Self { token, state }
    }
}

/// What to create.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The token's name (1 to 64 characters).
    pub name: String,
    /// Personal or service; device tokens come only from the device flow.
    pub kind: TokenKind,
    /// When it expires, in the forms [`parse_expiry`] takes; `None`: the default lifetime.
    pub expires: Option<String>,
    /// What it may do; empty: inherit the caller's scopes.
    pub scopes: Vec<Scope>,
}

/// Mints a token record (not stored) and its secret.
pub fn mint(
    name: String,
    kind: TokenKind,
    user_id: Option<UserId>,
    org_id: OrgId,
    scopes: Vec<Scope>,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
) -> (Secret, NewToken) {
    let token = secret::new_token();
    let new = NewToken {
        id: TokenId::new(),
        hash: sha256_hex(token.expose()),
        hint: token_hint(token.expose()),
        name,
        kind,
        user_id,
        org_id,
        scopes,
        created_at,
        expires_at,
    };
    (token, new)
}

async fn stored_view(state: &AppState, id: &TokenId) -> Result<TokenView> {
    let token = state
        .store
        .token_by_id(id)
        .await?
        .ok_or_else(|| Error::internal("token vanished after insert"))?;
    Ok(TokenView::new(token, state.now()))
}

/// Creates a personal token (for the caller) or a service token (admins), in
/// the caller's org. Without scopes the token inherits the caller's: the full
/// role for sessions and unscoped tokens, the caller's own scopes otherwise.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    req: TokenRequest,
    meta: &RequestMeta,
) -> Result<Issued> {
    let org_id = principal
        .org_id()
        .ok_or_else(|| policy::outside_org(principal))?
        .clone();
    let user_id = match req.kind {
        TokenKind::Personal => principal.user_id().cloned(),
        _ => None,
    };
    mint_for(state, principal, org_id, user_id, req, meta).await
}

/// The admin CLI's token creation: a personal token for `user` in `org`, or a
/// service token of `org` when `user` is `None`.
pub async fn create_as_system(
    state: &AppState,
    org: &Org,
    user: Option<&User>,
    req: TokenRequest,
    meta: &RequestMeta,
) -> Result<Issued> {
    if let Some(user) = user
        && state.store.role_of(&org.id, &user.id).await?.is_none()
    {
        return Err(Error::invalid(format!(
            "{} is not a member of {}",
            user.email, org.slug
        )));
    }
    let user_id = user.map(|u| u.id.clone());
    mint_for(
        state,
        &Principal::System,
        org.id.clone(),
        user_id,
        req,
        meta,
    )
    .await
}

async fn mint_for(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    user_id: Option<UserId>,
    req: TokenRequest,
    meta: &RequestMeta,
) -> Result<Issued> {
    let name = clean_text("name", &req.name, MAX_TOKEN_NAME_CHARS)?;
    let now = state.now();
    let expires_at = parse_expiry(req.expires.as_deref(), now, state.config.token_ttl_days)?;
    let scopes = if req.scopes.is_empty() {
        if principal.scoped_to_nothing() {
            return Err(nothing_to_inherit());
        }
        principal.inherited_scopes()
    } else {
        req.scopes
    };
    match req.kind {
        TokenKind::Personal => {
            policy::check(
                principal,
                Act::MintPersonal {
                    org_id: &org_id,
                    scopes: &scopes,
                },
            )?;
            if user_id.is_none() {
                return Err(Error::invalid(
                    "a personal token needs a user; create a `service` token instead",
                ));
            }
        }
        TokenKind::Service => policy::check(
            principal,
            Act::MintService {
                org_id: &org_id,
                scopes: &scopes,
            },
        )?,
        TokenKind::Device => {
            return Err(Error::invalid(
                "device tokens come from the device flow; create a `personal` or `service` token",
            ));
        }
    }
    issue(
        state,
        name,
        req.kind,
        user_id,
        org_id,
        scopes,
        expires_at,
        principal.actor(),
        meta,
    )
    .await
}

/// The refusal when a scoped token's scopes give it nothing in its role now:
/// what it makes would otherwise carry no scopes, that is the full role.
pub fn nothing_to_inherit() -> Error {
    Error::forbidden(
        "this token's scopes give it nothing in its role now, so nothing it makes can inherit them",
    )
}

/// Stores a new token and its audit event; used by the API and the admin CLI.
#[allow(clippy::too_many_arguments)]
pub async fn issue(
    state: &AppState,
    name: String,
    kind: TokenKind,
    user_id: Option<UserId>,
    org_id: OrgId,
    scopes: Vec<Scope>,
    expires_at: Option<Timestamp>,
    actor: Actor,
    meta: &RequestMeta,
) -> Result<Issued> {
    let now = state.now();
    let (token, new) = mint(name, kind, user_id, org_id, scopes, now, expires_at);
    let audit = NewAuditEvent::new(now, actor, AuditAction::TokenIssued, meta)
        .target(new.id.clone())
        .org(new.org_id.clone())
        .detail(format!("{kind} token `{}` ({})", new.name, new.hint));
    state.store.insert_token(&new, &audit).await?;
    Metrics::inc(&state.metrics.tokens_issued, 1);
    Ok(Issued {
        token,
        info: stored_view(state, &new.id).await?,
    })
}

/// The caller's own tokens (a token: those of its own org; a service token:
/// itself), or with `whole_org` every token of the caller's org (admins).
pub async fn list(
    state: &AppState,
    principal: &Principal,
    whole_org: bool,
) -> Result<Vec<TokenView>> {
    let query = if whole_org {
        let org_id = principal
            .org_id()
            .ok_or_else(|| policy::outside_org(principal))?;
        policy::check(principal, Act::ListOrgTokens { org_id })?;
        TokenQuery {
            org_id: Some(org_id.clone()),
            ..Default::default()
        }
    } else {
        policy::check(principal, Act::ListOwnTokens)?;
        match (principal, principal.user_id()) {
            (Principal::Session { .. }, Some(user_id)) => TokenQuery {
                user_id: Some(user_id.clone()),
                ..Default::default()
            },
            (_, Some(user_id)) => TokenQuery {
                user_id: Some(user_id.clone()),
                org_id: principal.org_id().cloned(),
                ..Default::default()
            },
            (_, None) => {
                let now = state.now();
                return Ok(principal
                    .token()
                    .map(|t| TokenView::new((**t).clone(), now))
                    .into_iter()
                    .collect());
            }
        }
    };
    let now = state.now();
    let tokens = state.store.list_tokens(&query).await?;
    Ok(tokens.into_iter().map(|t| TokenView::new(t, now)).collect())
}

/// One token the caller may see.
pub async fn get(state: &AppState, principal: &Principal, id: &str) -> Result<TokenView> {
    let token = find(state, id).await?;
    policy::check(
        principal,
        Act::ReadToken(Target {
            token: &token,
            holder_role: None,
        }),
    )?;
    Ok(TokenView::new(token, state.now()))
}

async fn find(state: &AppState, id: &str) -> Result<Token> {
    state
        .store
        .token_by_id(&TokenId::from(id))
        .await?
        .ok_or_else(|| Error::not_found("no token with this id"))
}

/// The role the token's user has in the token's org now (`None` for service tokens).
async fn holder_role(state: &AppState, token: &Token) -> Result<Option<Role>> {
    match &token.user_id {
        Some(user_id) => Ok(state.store.role_of(&token.org_id, user_id).await?),
        None => Ok(None),
    }
}

/// Revokes one token the caller may revoke; returns it as it is now.
pub async fn revoke(
    state: &AppState,
    principal: &Principal,
    id: &str,
    meta: &RequestMeta,
) -> Result<TokenView> {
    let token = find(state, id).await?;
    let holder_role = holder_role(state, &token).await?;
    policy::check(
        principal,
        Act::Revoke(Target {
            token: &token,
            holder_role,
        }),
    )?;
    revoke_one(state, &token, principal.actor(), "revoked", meta).await?;
    stored_view(state, &token.id).await
}

/// Revokes one token (audited, counted, announced); false when it was revoked already.
pub async fn revoke_one(
    state: &AppState,
    token: &Token,
    actor: Actor,
    reason: &str,
    meta: &RequestMeta,
) -> Result<bool> {
    let now = state.now();
    let rev = Revocation {
        at: now,
        by: actor.label(),
        reason: reason.to_string(),
    };
    let audit = NewAuditEvent::new(now, actor, AuditAction::TokenRevoked, meta)
        .target(token.id.clone())
        .org(token.org_id.clone())
        .detail(format!(
            "{} token `{}` ({}): {reason}",
            token.kind, token.name, token.hint
        ));
    let revoked = state.store.revoke_token(&token.id, &rev, &audit).await?;
    if revoked {
        Metrics::inc(&state.metrics.tokens_revoked, 1);
        state
            .publish(Event::TokenRevoked {
                token_id: token.id.clone(),
                reason: reason.to_string(),
            })
            .await;
    }
    Ok(revoked)
}

/// Revokes every active token of a user, in one org or everywhere (audited,
/// counted, announced); returns how many. `target` names the user in the audit log.
pub async fn revoke_user(
    state: &AppState,
    user_id: &UserId,
    target: &str,
    org_id: Option<&OrgId>,
    actor: Actor,
    reason: &str,
    meta: &RequestMeta,
) -> Result<u64> {
    let now = state.now();
    let rev = Revocation {
        at: now,
        by: actor.label(),
        reason: reason.to_string(),
    };
    let mut audit = NewAuditEvent::new(now, actor, AuditAction::TokenRevokedAll, meta)
        .target(target.to_string());
    if let Some(org) = org_id {
        audit = audit.org(org.to_string());
    }
    let revoked = state
        .store
        .revoke_user_tokens(user_id, org_id, &rev, &audit)
        .await?;
    Metrics::inc(&state.metrics.tokens_revoked, revoked);
    state
        .publish(Event::UserTokensRevoked {
            user_id: user_id.clone(),
            org_id: org_id.cloned(),
            reason: reason.to_string(),
        })
        .await;
    Ok(revoked)
}

/// Replaces a token with a new one of the same name, kind, scopes and lifetime.
pub async fn rotate(
    state: &AppState,
    principal: &Principal,
    id: &str,
    meta: &RequestMeta,
) -> Result<Issued> {
    let old = find(state, id).await?;
    let holder_role = holder_role(state, &old).await?;
    policy::check(
        principal,
        Act::Rotate(Target {
            token: &old,
            holder_role,
        }),
    )?;
    let now = state.now();
    if !old.is_active(now) {
        return Err(Error::conflict(
            "this token is revoked or expired; create a new one instead",
        ));
    }
    let expires_at = old.expires_at.map(|at| now + (at - old.created_at));
    let (token, new) = mint(
        old.name.clone(),
        old.kind,
        old.user_id.clone(),
        old.org_id.clone(),
        old.scopes.clone(),
        now,
        expires_at,
    );
    let actor = principal.actor();
    let rev = Revocation {
        at: now,
        by: actor.label(),
        reason: format!("rotated to {}", new.id),
    };
    let audit = NewAuditEvent::new(now, actor, AuditAction::TokenRotated, meta)
        .target(old.id.clone())
        .org(old.org_id.clone())
        .detail(format!(
            "`{}` {} replaced by {} ({})",
            old.name, old.hint, new.id, new.hint
        ));
    if !state
        .store
        .rotate_token(&old.id, &new, &rev, &audit)
        .await?
    {
        return Err(Error::conflict(
            "this token was revoked meanwhile; create a new one instead",
        ));
    }
    Metrics::inc(&state.metrics.tokens_revoked, 1);
    Metrics::inc(&state.metrics.tokens_issued, 1);
    state
        .publish(Event::TokenRevoked {
            token_id: old.id.clone(),
            reason: "rotated".into(),
        })
        .await;
    Ok(Issued {
        token,
        info: stored_view(state, &new.id).await?,
    })
}

/// Revokes all of the caller's tokens (a session: in every org, "sign out
/// everywhere"; a token: in its own org), or with `user` (admins) all of that
/// member's tokens in the caller's org.
pub async fn revoke_all(
    state: &AppState,
    principal: &Principal,
    user: Option<&str>,
    meta: &RequestMeta,
) -> Result<u64> {
    let actor = principal.actor();
    let (user_id, org_id, target) = match user {
        None => {
            policy::check(principal, Act::RevokeAllMine)?;
            let me = principal.user().ok_or_else(|| {
                Error::forbidden("only a person's tokens can be revoked all at once")
            })?;
            let org_id = match principal {
                Principal::Session { .. } => None,
                _ => principal.org_id().cloned(),
            };
            (me.id.clone(), org_id, me.email.clone())
        }
        Some(who) => {
            let org_id = principal
                .org_id()
                .ok_or_else(|| policy::outside_org(principal))?
                .clone();
            let found = crate::members::lookup_user(state, who).await?;
            let role = match &found {
                Some(user) => state.store.role_of(&org_id, &user.id).await?,
                None => None,
            };
            let (Some(user), Some(role)) = (found, role) else {
                // Only those who may see members learn who is one.
                policy::check(principal, Act::ListMembers { org_id: &org_id })?;
                return Err(Error::not_found(format!(
                    "no member `{who}` in this organization"
                )));
            };
            policy::check(
                principal,
                Act::RevokeAllOf {
                    org_id: &org_id,
                    user_id: &user.id,
                    role,
                },
            )?;
            (user.id, Some(org_id), user.email)
        }
    };
    revoke_user(
        state,
        &user_id,
        &target,
        org_id.as_ref(),
        actor,
        "revoke all",
        meta,
    )
    .await
}

/// RFC 7009: revokes the presented token if it is one of ours and still active.
pub async fn revoke_presented(state: &AppState, token: &str, meta: &RequestMeta) -> Result<()> {
    if !secret::is_token_shaped(token) {
        return Ok(());
    }
    let Some(auth) = state.store.token_by_hash(&sha256_hex(token)).await? else {
        return Ok(());
    };
    let t = auth.token;
    let actor = Actor::of_token(&t);
    revoke_one(state, &t, actor, "revoked by its holder (RFC 7009)", meta).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_forms() {
        let now = 1_767_225_600; // 2026-01-01
        assert_eq!(
            parse_expiry(None, now, 90).ok(),
            Some(Some(now + 90 * 86_400))
        );
        assert_eq!(
            parse_expiry(Some("30d"), now, 90).ok(),
            Some(Some(now + 30 * 86_400))
        );
        assert_eq!(parse_expiry(Some("never"), now, 90).ok(), Some(None));
        assert_eq!(
            parse_expiry(Some("2026-01-31"), now, 90).ok(),
            Some(Some(now + 31 * 86_400 - 1))
        );
        assert!(parse_expiry(Some("2025-12-31"), now, 90).is_err());
        assert!(parse_expiry(Some("0d"), now, 90).is_err());
        assert!(parse_expiry(Some("soon"), now, 90).is_err());
    }
}
