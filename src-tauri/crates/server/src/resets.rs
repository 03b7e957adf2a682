//! Password reset links: an owner or admin makes a one-time link for a
//! member of their org (the admin CLI for anyone); it is shown once, stored
//! only as its SHA-256, works for an hour, once, and setting a password with
//! it signs out every browser of that user (tokens keep working).
//!
//! A link sets the password of an account, which may belong to other orgs
//! too: the maker must be allowed to remove the user from every org the user
//! is in (so an admin of one org cannot take over the owner of another, nor
//! an owner of their own).

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::identity;
use crate::members;
use crate::model::*;
use crate::policy::{self, Act, Principal};
use crate::secret::{self, Secret, hex, sha256_hex};
use crate::state::AppState;
use std::sync::Arc;

/// How long a reset link works.
pub const RESET_SECS: i64 = 3600;

/// Whether `by` may reset the password of `target`: remove them, by role,
/// from each org they belong to. A user may always reset their own.
async fn may_reset(state: &AppState, by: &Principal, org: &Org, target: &User) -> Result<()> {
    if matches!(by, Principal::System) {
        return Ok(());
    }
    let role_here = state
        .store
        .role_of(&org.id, &target.id)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!("{} is not a member of {}", target.email, org.name))
        })?;
    let Some(user) = by.user().cloned() else {
        return Err(Error::forbidden(
            "reset links are made by people, not by service tokens",
        ));
    };
    if user.id == target.id {
        return Ok(());
    }
    policy::check(
        by,
        Act::RemoveMember {
            org_id: &org.id,
            role: role_here,
        },
    )?;
    let user = Arc::new(user);
    for (other, role) in state.store.orgs_of_user(&target.id).await? {
        let mine = state.store.role_of(&other.id, &user.id).await?;
        let principal = Principal::session_in(user.clone(), Arc::new(other.clone()), mine);
        policy::check(
            &principal,
            Act::RemoveMember {
                org_id: &other.id,
                role,
            },
        )
        .map_err(|_| {
            Error::forbidden(format!(
                "{} is also {role} of {}, which you do not administer over them",
                target.email, other.name
            ))
        })?;
    }
    Ok(())
}

/// A reset link just made.
pub struct Created {
    /// Whose password it sets.
    pub user: User,
    /// `{public}/reset/{secret}`, shown this once.
    pub link: Secret,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Whether it was also mailed to the user (`DEVAUTH_SMTP_URL`).
    pub mailed: bool,
}

/// A new reset link for the member named by `who` (email or id), shown
/// once, and mailed to them when mail is set up.
pub async fn create(
    state: &AppState,
    by: &Principal,
    org: &Org,
    who: &str,
    meta: &RequestMeta,
) -> Result<Created> {
    let target = members::find_user(state, who).await?;
    if target.disabled_at.is_some() {
        return Err(Error::Conflict(format!("{} is disabled", target.email)));
    }
    may_reset(state, by, org, &target).await?;
    let audit = NewAuditEvent::new(
        state.now(),
        by.actor(),
        AuditAction::PasswordResetCreated,
        meta,
    )
    .target(target.email.clone())
    .org(org.id.clone())
    .detail("a link for 1 hour");
    let (link, expires_at) = issue(state, &target, by.user_id().cloned(), &audit).await?;
    let maker = by
        .user()
        .map_or_else(|| "An administrator".to_string(), |u| u.email.clone());
    let body = format!(
        "{maker} made a link for you to set a new password for {email} on devauth \
         ({public}).\n\nOpen it within the hour; it works once:\n{link}\n\nSetting a \
         password with it signs out every browser signed in as you. Your tokens and devices \
         keep working.\n",
        email = target.email,
        public = state.public_url,
        link = link.expose(),
    );
    let mailed = crate::mail::send(
        state.mailer.as_ref(),
        &target.email,
        "Set a new devauth password",
        body,
    )
    .await;
    Ok(Created {
        user: target,
        link,
        expires_at,
        mailed,
    })
}

/// Failed "forgot password" requests per address, and per email.
pub const FORGOT_PER_IP: crate::rate_limit::Budget = crate::rate_limit::Budget {
    name: "forgot-ip",
    max: 5,
    window_secs: 900,
};
/// Per email asked for (whether or not it has an account).
pub const FORGOT_PER_EMAIL: crate::rate_limit::Budget = crate::rate_limit::Budget {
    name: "forgot-email",
    max: 3,
    window_secs: 3600,
};

/// The "forgot password" form: when `email` is an active account's, a
/// reset link is made (audited, by nobody signed in) and mailed to it; the
/// caller answers the same either way. Limited per address and per email
/// (every request counts). Off without mail (`DEVAUTH_SMTP_URL`).
pub async fn forgot(state: &AppState, email: &str, meta: &RequestMeta) -> Result<()> {
    if state.mailer.is_none() {
        return Err(Error::not_found(
            "password reset by mail is not set up here",
        ));
    }
    let email = identity::clean_email(email)?;
    let ip = meta.ip_key();
    let key = email.to_lowercase();
    crate::rate_limit::judge(
        state,
        &[
            (FORGOT_PER_IP, ip.as_str()),
            (FORGOT_PER_EMAIL, key.as_str()),
        ],
        true,
    )
    .await?;
    // The rest happens after the answer: it takes as long for an unknown email.
    let (state, meta) = (state.clone(), meta.clone());
    tokio::spawn(async move {
        if let Err(err) = mail_forgotten(&state, &email, &meta).await {
            tracing::warn!(target: "devauth::mail", "a forgotten password's link failed: {err}");
        }
    });
    Ok(())
}

async fn mail_forgotten(state: &AppState, email: &str, meta: &RequestMeta) -> Result<()> {
    let Some(user) = state
        .store
        .user_by_email(email)
        .await?
        .filter(|u| u.disabled_at.is_none())
    else {
        return Ok(());
    };
    let audit = NewAuditEvent::new(
        state.now(),
        Actor::Anonymous,
        AuditAction::PasswordResetCreated,
        meta,
    )
    .target(user.email.clone())
    .detail("asked for on the sign-in page, mailed, for 1 hour");
    let (link, _) = issue(state, &user, None, &audit).await?;
    let from = meta.ip.as_deref().unwrap_or("an unknown address");
    let body = format!(
        "Someone (you, we hope) asked on devauth ({public}) from {from} to set a new password \
         for {email}.\n\nOpen this link within the hour; it works once:\n{link}\n\nIf it was \
         not you, ignore this mail: your password stays as it is.\n",
        public = state.public_url,
        email = user.email,
        link = link.expose(),
    );
    crate::mail::send(
        state.mailer.as_ref(),
        &user.email,
        "Set a new devauth password",
        body,
    )
    .await;
    Ok(())
}

/// Makes and stores a link for `target` (any older unused one stops working).
async fn issue(
    state: &AppState,
    target: &User,
    created_by: Option<UserId>,
    audit: &NewAuditEvent,
) -> Result<(Secret, Timestamp)> {
    let mut bytes = [0u8; 32];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    let secret = format!("dvr_{}", hex(&bytes));
    let now = state.now();
    let reset = PasswordReset {
        id: secret::new_id(),
        secret_hash: sha256_hex(&secret),
        user_id: target.id.clone(),
        created_by,
        created_at: now,
        expires_at: now + RESET_SECS,
        used_at: None,
    };
    state.store.create_password_reset(&reset, audit).await?;
    let link = Secret::new(format!("{}/reset/{secret}", state.public_url));
    Ok((link, reset.expires_at))
}

/// The reset behind a link's secret and its user, if it still works.
pub async fn open(state: &AppState, secret: &str) -> Result<(PasswordReset, User)> {
    let gone =
        || Error::Conflict("this reset link was used or has expired; ask for a new one".into());
    if !secret.starts_with("dvr_") || secret.len() != 68 {
        return Err(Error::not_found("this reset link is not known"));
    }
    let reset = state
        .store
        .password_reset_by_hash(&sha256_hex(secret))
        .await?
        .ok_or_else(|| Error::not_found("this reset link is not known"))?;
    if reset.used_at.is_some() || state.now() >= reset.expires_at {
        return Err(gone());
    }
    let user = state
        .store
        .user_by_id(reset.user_id.as_str())
        .await?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(gone)?;
    Ok((reset, user))
}

/// Sets a new password with a link: every session of the user ends.
pub async fn set_password(
    state: &AppState,
    secret: &str,
    password: &Secret,
    meta: &RequestMeta,
) -> Result<User> {
    let (reset, user) = open(state, secret).await?;
    identity::check_password(password)?;
    let hash = state.passwords.hash(password).await?;
    let audit = NewAuditEvent::new(
        state.now(),
        Actor::of_user(&user),
        AuditAction::PasswordReset,
        meta,
    )
    .target(user.email.clone())
    .detail("every browser signed out");
    if !state
        .store
        .use_password_reset(&reset, &hash, &audit)
        .await?
    {
        return Err(Error::Conflict(
            "this reset link was used or has expired; ask for a new one".into(),
        ));
    }
    Ok(user)
}
