//! First-run claim: whoever holds the setup token (from `DEVAUTH_SETUP_TOKEN`, or
//! generated and printed at start) creates the first owner and organization.
//! Claimed once, for good: revoking every token never reopens setup.

use crate::error::{Error, Result};
use crate::identity::{check_password, new_org, new_user};
use crate::metrics::Metrics;
use crate::model::*;
use crate::rate_limit;
use crate::secret::Secret;
use crate::state::AppState;
use crate::store::SetupClaim;
use crate::tokens::{Issued, TokenView, mint};

pub struct ClaimRequest {
    pub setup_token: Option<Secret>,
    pub email: String,
    pub name: String,
    pub password: Secret,
    pub org_name: String,
}

pub struct Claimed {
    pub user: User,
    pub org: Org,
    pub issued: Issued,
}

pub async fn claim(state: &AppState, req: ClaimRequest, meta: &RequestMeta) -> Result<Claimed> {
    let now = state.now();
    if state.store.setup_claimed().await? {
        return Err(Error::conflict(
            "setup has already been claimed; sign in instead",
        ));
    }
    if !state.config.dangerously_skip_setup_token {
        let valid = match (&state.setup_token, &req.setup_token) {
            (Some(expected), Some(given)) => expected.ct_eq(given.expose()),
            _ => false,
        };
        let ip = meta.ip_key();
        rate_limit::judge(state, &[(rate_limit::SETUP_PER_IP, &ip)], !valid).await?;
        if !valid {
            state
                .store
                .append_audit(
                    &NewAuditEvent::new(now, Actor::Anonymous, AuditAction::SetupClaimFailed, meta)
                        .detail("wrong setup token"),
                )
                .await?;
            return Err(Error::WrongSetupToken);
        }
    }
    check_password(&req.password)?;
    let user = new_user(state, &req.email, &req.name, Some(&req.password)).await?;
    let org = new_org(state, None, &req.org_name)?;
    let (token, new) = mint(
        "setup".into(),
        TokenKind::Personal,
        Some(user.id.clone()),
        org.id.clone(),
        Vec::new(),
        now,
        Some(now + state.config.token_ttl_days * 86_400),
    );
    let actor = Actor::of_user(&user);
    let events = [
        NewAuditEvent::new(now, actor.clone(), AuditAction::SetupClaimed, meta)
            .org(org.id.clone())
            .target(user.email.clone()),
        NewAuditEvent::new(now, actor.clone(), AuditAction::UserCreated, meta)
            .target(user.email.clone()),
        NewAuditEvent::new(now, actor.clone(), AuditAction::OrgCreated, meta)
            .org(org.id.clone())
            .target(org.slug.clone()),
        NewAuditEvent::new(now, actor.clone(), AuditAction::MemberAdded, meta)
            .org(org.id.clone())
            .target(user.email.clone())
            .detail("as owner"),
        NewAuditEvent::new(now, actor, AuditAction::TokenIssued, meta)
            .org(org.id.clone())
            .target(new.id.clone())
            .detail(format!("personal token `setup` ({})", new.hint)),
    ];
    let claim = SetupClaim {
        user: user.clone(),
        org: org.clone(),
        token: new.clone(),
    };
    if !state.store.claim_setup(&claim, &events).await? {
        return Err(Error::conflict(
            "setup has already been claimed; sign in instead",
        ));
    }
    Metrics::inc(&state.metrics.tokens_issued, 1);
    let stored = state
        .store
        .token_by_id(&new.id)
        .await?
        .ok_or_else(|| Error::internal("setup token vanished"))?;
    Ok(Claimed {
        user,
        org,
        issued: Issued {
            token,
            info: TokenView::new(stored, now),
        },
    })
}
