//! Invitations: an owner or admin invites an email address into their org
//! with a role no higher than the policy lets them grant; the link
//! (`{public}/invite/{secret}`) is shown once and stored only as its
//! SHA-256, lasts 7 days and works once. The person opening it sets a name
//! and password (no account yet) or signs in (an account), and joins; the
//! account's email must be the invited one. All of it is audited.

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::identity;
use crate::model::*;
use crate::policy::{self, Act, Principal};
use crate::secret::{self, Secret, hex, sha256_hex};
use crate::state::AppState;

/// How long an invitation's link works.
pub const INVITATION_SECS: i64 = 7 * 86_400;

/// A new invitation and its link, shown this once.
pub struct Created {
    /// The stored invitation.
    pub invitation: Invitation,
    /// `{public}/invite/{secret}`, shown this once.
    pub link: Secret,
    /// Whether it was also mailed to the invited address (`DEVAUTH_SMTP_URL`).
    pub mailed: bool,
}

fn new_secret() -> Secret {
    let mut bytes = [0u8; 32];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    Secret::new(format!("dvi_{}", hex(&bytes)))
}

/// Invites `email` into `org` as `role`, if `by` may add a member with it.
pub async fn create(
    state: &AppState,
    by: &Principal,
    org: &Org,
    email: &str,
    role: Role,
    meta: &RequestMeta,
) -> Result<Created> {
    policy::check(
        by,
        Act::AddMember {
            org_id: &org.id,
            role,
        },
    )?;
    let inviter = match (by, by.user_id()) {
        (Principal::System, _) => None,
        (_, Some(user)) => Some(user.clone()),
        (_, None) => {
            return Err(Error::forbidden(
                "invitations are made by people, not by service tokens",
            ));
        }
    };
    let email = identity::clean_email(email)?;
    if let Some(user) = state.store.user_by_email(&email).await?
        && state.store.role_of(&org.id, &user.id).await?.is_some()
    {
        return Err(Error::Conflict(format!(
            "{email} is a member of {} already",
            org.name
        )));
    }
    let link = new_secret();
    let now = state.now();
    let invitation = Invitation {
        id: secret::new_id(),
        secret_hash: sha256_hex(link.expose()),
        org_id: org.id.clone(),
        email: email.clone(),
        role,
        invited_by: inviter,
        invited_by_email: None,
        created_at: now,
        expires_at: now + INVITATION_SECS,
        accepted_at: None,
        withdrawn_at: None,
    };
    let audit = NewAuditEvent::new(now, by.actor(), AuditAction::InvitationCreated, meta)
        .target(email)
        .org(org.id.clone())
        .detail(format!("as {role}, for 7 days"));
    state.store.create_invitation(&invitation, &audit).await?;
    let link = Secret::new(format!("{}/invite/{}", state.public_url, link.expose()));
    let inviter = by
        .user()
        .map_or_else(|| "An administrator".to_string(), |u| u.email.clone());
    let body = format!(
        "{inviter} invited you to join {org} on devauth ({public}) as {role}.\n\nOpen this link \
         to join; it works once, for 7 days, and only for {email}:\n{link}\n\nIf you did not \
         expect this, ignore this mail.\n",
        org = org.name,
        public = state.public_url,
        email = invitation.email,
        link = link.expose(),
    );
    let subject = format!("{inviter} invited you to {} on devauth", org.name);
    let mailed = crate::mail::send(state.mailer.as_ref(), &invitation.email, &subject, body).await;
    Ok(Created {
        invitation,
        link,
        mailed,
    })
}

/// The org's invitations that can still be accepted, for its administrators.
pub async fn pending(state: &AppState, by: &Principal, org: &Org) -> Result<Vec<Invitation>> {
    policy::check(by, Act::ListMembers { org_id: &org.id })?;
    Ok(state
        .store
        .pending_invitations(&org.id, state.now())
        .await?)
}

/// Withdraws a pending invitation, if `by` could have made it.
pub async fn withdraw(
    state: &AppState,
    by: &Principal,
    org: &Org,
    id: &str,
    meta: &RequestMeta,
) -> Result<Invitation> {
    let found = pending(state, by, org)
        .await?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(|| Error::not_found("no pending invitation with this id"))?;
    policy::check(
        by,
        Act::AddMember {
            org_id: &org.id,
            role: found.role,
        },
    )?;
    let audit = NewAuditEvent::new(
        state.now(),
        by.actor(),
        AuditAction::InvitationWithdrawn,
        meta,
    )
    .target(found.email.clone())
    .org(org.id.clone())
    .detail(format!("as {}", found.role));
    if !state.store.withdraw_invitation(&org.id, id, &audit).await? {
        return Err(Error::Conflict(
            "the invitation was used or withdrawn meanwhile".into(),
        ));
    }
    Ok(found)
}

/// The invitation behind a link's secret, and its org, whatever its state.
pub async fn open(state: &AppState, secret: &str) -> Result<(Invitation, Org)> {
    let unknown = || Error::not_found("this invitation link is not known");
    if !secret.starts_with("dvi_") || secret.len() != 68 {
        return Err(unknown());
    }
    open_by_hash(state, &sha256_hex(secret)).await
}

/// The invitation whose link's secret hashes to `secret_hash`, and its org.
pub async fn open_by_hash(state: &AppState, secret_hash: &str) -> Result<(Invitation, Org)> {
    let unknown = || Error::not_found("this invitation link is not known");
    let invitation = state
        .store
        .invitation_by_hash(secret_hash)
        .await?
        .ok_or_else(unknown)?;
    let org = state
        .store
        .org_by_id(&invitation.org_id)
        .await?
        .ok_or_else(unknown)?;
    Ok((invitation, org))
}

fn still_open(invitation: &Invitation, now: Timestamp) -> Result<()> {
    match invitation.state(now) {
        InvitationState::Pending => Ok(()),
        InvitationState::Accepted => Err(Error::Conflict(
            "this invitation was used already; sign in instead".into(),
        )),
        InvitationState::Withdrawn => Err(Error::Conflict(
            "this invitation was withdrawn; ask for a new one".into(),
        )),
        InvitationState::Expired => Err(Error::Conflict(
            "this invitation has expired; ask for a new one".into(),
        )),
    }
}

fn accepted_event(
    state: &AppState,
    user: &User,
    invitation: &Invitation,
    new_account: bool,
    meta: &RequestMeta,
) -> NewAuditEvent {
    let how = if new_account { ", a new account" } else { "" };
    NewAuditEvent::new(
        state.now(),
        Actor::of_user(user),
        AuditAction::InvitationAccepted,
        meta,
    )
    .target(user.email.clone())
    .org(invitation.org_id.clone())
    .detail(format!("as {}{how}", invitation.role))
}

/// Accepts an invitation with a new account (name and password); the
/// email is the invited one. Returns the new user, a member now.
pub async fn accept_as_new(
    state: &AppState,
    secret: &str,
    name: &str,
    password: &Secret,
    meta: &RequestMeta,
) -> Result<(User, Org)> {
    let (invitation, org) = open(state, secret).await?;
    still_open(&invitation, state.now())?;
    if state
        .store
        .user_by_email(&invitation.email)
        .await?
        .is_some()
    {
        return Err(Error::Conflict(format!(
            "{} has an account already: sign in to accept",
            invitation.email
        )));
    }
    let user = identity::new_user(state, &invitation.email, name, Some(password)).await?;
    let audit = accepted_event(state, &user, &invitation, true, meta);
    if !state
        .store
        .accept_invitation(&invitation, &user.id, Some(&user), &audit)
        .await?
    {
        return Err(Error::Conflict(
            "this invitation was used or withdrawn meanwhile".into(),
        ));
    }
    Ok((user, org))
}

/// Accepts an invitation as a signed-in user, whose email must be the
/// invited one.
pub async fn accept_as(
    state: &AppState,
    secret: &str,
    user: &User,
    meta: &RequestMeta,
) -> Result<(Invitation, Org)> {
    let (invitation, org) = open(state, secret).await?;
    accept_opened(state, &invitation, &org, user, meta).await?;
    Ok((invitation, org))
}

/// Accepts an invitation already opened as `user`, whose email must be the
/// invited one.
pub async fn accept_opened(
    state: &AppState,
    invitation: &Invitation,
    org: &Org,
    user: &User,
    meta: &RequestMeta,
) -> Result<()> {
    still_open(invitation, state.now())?;
    if !user.email.eq_ignore_ascii_case(&invitation.email) {
        return Err(Error::forbidden(format!(
            "this invitation is for {}, and you are signed in as {}",
            invitation.email, user.email
        )));
    }
    let audit = accepted_event(state, user, invitation, false, meta);
    if !state
        .store
        .accept_invitation(invitation, &user.id, None, &audit)
        .await?
    {
        return Err(Error::Conflict(format!(
            "this invitation was used meanwhile, or you are a member of {} already",
            org.name
        )));
    }
    Ok(())
}
