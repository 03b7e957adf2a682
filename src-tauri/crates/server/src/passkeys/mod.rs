//! Passkeys (WebAuthn, through webauthn-rs): registered on the account page
//! (named, listed, removable), and used to sign in without typing an email
//! (discoverable credentials, user verification required) or to sign in
//! again before approving a device.
//!
//! Every ceremony's challenge state stays on the server (`passkey_ceremonies`),
//! bound to the browser that began it, for five minutes, taken once; the
//! browser holds only a random id for it. A credential is registered to one
//! account only; a sign-in finds the passkey by its credential id and the
//! account by the user handle, and both must agree. The signature counter is
//! kept. The relying party is the public URL's host: passkeys need the
//! server to be reached by a name (`localhost` will do), not an IP address.

use crate::error::{Error, Result};
use crate::model::{
    Actor, AuditAction, NewAuditEvent, PasskeyCeremony, PasskeyRow, RequestMeta, User, UserId,
};
use crate::secret::{hex, sha256_hex};
use crate::state::AppState;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Uuid, Webauthn,
};

/// How long a ceremony may take, seconds.
pub const CEREMONY_SECS: i64 = 300;
/// The most passkeys one account registers.
pub const MAX_PER_USER: usize = 20;

pub mod party;
pub use party::relying_party;

fn webauthn(state: &AppState) -> Result<&Webauthn> {
    state.webauthn.as_ref().ok_or_else(|| {
        Error::Conflict(
            "passkeys need the server reached by a name (DEVAUTH_PUBLIC_URL), not an IP address"
                .into(),
        )
    })
}

fn refused(reason: &str) -> Error {
    Error::invalid(reason.to_string())
}

fn new_ceremony_id() -> String {
    let mut bytes = [0u8; 32];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex(&bytes)
}

fn user_handle(user: &User) -> Result<Uuid> {
    Uuid::parse_str(user.id.as_str()).map_err(|_| Error::internal("a user id is not a UUID"))
}

fn parse_passkey(row: &PasskeyRow) -> Result<Passkey> {
    serde_json::from_str(&row.passkey)
        .map_err(|e| Error::internal(format!("a stored passkey: {e}")))
}

async fn keep(
    state: &AppState,
    browser_hash: &str,
    kind: &str,
    user: Option<&User>,
    name: Option<String>,
    next: &str,
    challenge_state: String,
) -> Result<String> {
    let id = new_ceremony_id();
    let now = state.now();
    state
        .store
        .create_passkey_ceremony(&PasskeyCeremony {
            id_hash: sha256_hex(&id),
            browser_hash: browser_hash.to_string(),
            kind: kind.to_string(),
            user_id: user.map(|u| u.id.clone()),
            name,
            next: next.to_string(),
            state: challenge_state,
            created_at: now,
            expires_at: now + CEREMONY_SECS,
        })
        .await?;
    Ok(id)
}

/// Takes this browser's ceremony `id` of `kind`, once.
async fn take(
    state: &AppState,
    id: &str,
    kind: &str,
    browser_hash: &str,
) -> Result<PasskeyCeremony> {
    let gone = || {
        Error::Conflict(
            "this passkey request was used, has expired or began elsewhere: try again".into(),
        )
    };
    let ceremony = state
        .store
        .take_passkey_ceremony(&sha256_hex(id.trim()), state.now())
        .await?
        .ok_or_else(gone)?;
    if ceremony.kind != kind || ceremony.browser_hash != browser_hash {
        return Err(gone());
    }
    Ok(ceremony)
}

/// Starts registering a passkey named `name` for `user`: the ceremony's id
/// and the options for `navigator.credentials.create`.
pub async fn begin_registration(
    state: &AppState,
    user: &User,
    name: &str,
    browser_hash: &str,
) -> Result<(String, CreationChallengeResponse)> {
    let webauthn = webauthn(state)?;
    let name = crate::identity::clean_text("passkey name", name, 60)?;
    let existing = state.store.passkeys_of(&user.id).await?;
    if existing.len() >= MAX_PER_USER {
        return Err(Error::Conflict(format!(
            "you have {MAX_PER_USER} passkeys: remove one first"
        )));
    }
    if existing.iter().any(|p| p.name.eq_ignore_ascii_case(&name)) {
        return Err(Error::invalid(format!(
            "you have a passkey named “{name}” already: pick another name"
        )));
    }
    let exclude: Vec<_> = existing
        .iter()
        .filter_map(|row| parse_passkey(row).ok())
        .map(|p| p.cred_id().clone())
        .collect();
    let (mut options, registration) = webauthn
        .start_passkey_registration(user_handle(user)?, &user.email, &user.name, Some(exclude))
        .map_err(|e| Error::internal(format!("starting a passkey registration: {e}")))?;
    // Discoverable: it signs in without an email typed.
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(webauthn_rs_proto::ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
    }
    let challenge_state = serde_json::to_string(&registration)
        .map_err(|e| Error::internal(format!("keeping a passkey registration: {e}")))?;
    let id = keep(
        state,
        browser_hash,
        "register",
        Some(user),
        Some(name),
        "/account#passkeys",
        challenge_state,
    )
    .await?;
    Ok((id, options))
}

/// Finishes a registration with what the browser's authenticator made:
/// the passkey's name. Audited `passkey.added`.
pub async fn finish_registration(
    state: &AppState,
    user: &User,
    ceremony: &str,
    credential: &str,
    browser_hash: &str,
    meta: &RequestMeta,
) -> Result<String> {
    let webauthn = webauthn(state)?;
    let ceremony = take(state, ceremony, "register", browser_hash).await?;
    if ceremony.user_id.as_ref() != Some(&user.id) {
        return Err(Error::Conflict(
            "this passkey request was for another account: try again".into(),
        ));
    }
    let registration: PasskeyRegistration = serde_json::from_str(&ceremony.state)
        .map_err(|e| Error::internal(format!("a kept passkey registration: {e}")))?;
    let credential: RegisterPublicKeyCredential = serde_json::from_str(credential)
        .map_err(|_| refused("the browser's answer is not a passkey"))?;
    let passkey = webauthn
        .finish_passkey_registration(&credential, &registration)
        .map_err(|e| {
            tracing::info!("a passkey registration was refused: {e}");
            refused("the passkey could not be checked: try again")
        })?;
    let name = ceremony.name.unwrap_or_else(|| "passkey".into());
    let now = state.now();
    let row = PasskeyRow {
        id: crate::secret::new_id(),
        user_id: user.id.clone(),
        credential_id: hex(passkey.cred_id().as_ref()),
        name: name.clone(),
        passkey: serde_json::to_string(&passkey)
            .map_err(|e| Error::internal(format!("keeping a passkey: {e}")))?,
        created_at: now,
        last_used_at: None,
    };
    let audit = NewAuditEvent::new(now, Actor::of_user(user), AuditAction::PasskeyAdded, meta)
        .target(user.email.clone())
        .detail(format!("“{name}”"));
    if !state.store.add_passkey(&row, &audit).await? {
        return Err(Error::Conflict("this passkey is registered already".into()));
    }
    Ok(name)
}

/// Starts a sign-in with a passkey in this browser (no email: the
/// authenticator offers the accounts it holds): the ceremony's id and the
/// options for `navigator.credentials.get`.
pub async fn begin_sign_in(
    state: &AppState,
    browser_hash: &str,
    next: &str,
) -> Result<(String, RequestChallengeResponse)> {
    let webauthn = webauthn(state)?;
    let (mut options, authentication) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| Error::internal(format!("starting a passkey sign-in: {e}")))?;
    // Asked for by a button, not offered in the email field's autofill.
    options.mediation = None;
    let challenge_state = serde_json::to_string(&authentication)
        .map_err(|e| Error::internal(format!("keeping a passkey sign-in: {e}")))?;
    let id = keep(
        state,
        browser_hash,
        "sign_in",
        None,
        None,
        next,
        challenge_state,
    )
    .await?;
    Ok((id, options))
}

/// Finishes a sign-in with a passkey: the account and where to go. A
/// refusal is audited `passkey.refused`, a sign-in `passkey.signed_in`.
pub async fn finish_sign_in(
    state: &AppState,
    ceremony: &str,
    credential: &str,
    browser_hash: &str,
    meta: &RequestMeta,
) -> Result<(User, String)> {
    let result = finish_sign_in_inner(state, ceremony, credential, browser_hash, meta).await;
    if let Err(err) = &result {
        let audit = NewAuditEvent::new(
            state.now(),
            Actor::Anonymous,
            AuditAction::PasskeyRefused,
            meta,
        )
        .detail(err.to_string());
        if let Err(err) = state.store.append_audit(&audit).await {
            tracing::warn!(error = %err, "could not record a refused passkey");
        }
    }
    result
}

async fn finish_sign_in_inner(
    state: &AppState,
    ceremony: &str,
    credential: &str,
    browser_hash: &str,
    meta: &RequestMeta,
) -> Result<(User, String)> {
    let webauthn = webauthn(state)?;
    let ceremony = take(state, ceremony, "sign_in", browser_hash).await?;
    let authentication: DiscoverableAuthentication = serde_json::from_str(&ceremony.state)
        .map_err(|e| Error::internal(format!("a kept passkey sign-in: {e}")))?;
    let credential: PublicKeyCredential = serde_json::from_str(credential)
        .map_err(|_| refused("the browser's answer is not a passkey"))?;
    let unknown = || refused("this passkey is not registered here (it may have been removed)");
    let (handle, credential_id) = webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(|_| unknown())?;
    let row = state
        .store
        .passkey_by_credential(&hex(credential_id))
        .await?
        .ok_or_else(unknown)?;
    // The user handle the authenticator gave is the passkey's owner.
    if Uuid::parse_str(row.user_id.as_str()).ok() != Some(handle) {
        return Err(unknown());
    }
    let user = state
        .store
        .user_by_id(row.user_id.as_str())
        .await?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(|| refused("this account is disabled"))?;
    let mut passkey = parse_passkey(&row)?;
    let checked = webauthn
        .finish_discoverable_authentication(
            &credential,
            authentication,
            &[DiscoverableKey::from(&passkey)],
        )
        .map_err(|e| {
            tracing::info!("a passkey sign-in was refused: {e}");
            refused("the passkey's answer could not be checked: try again")
        })?;
    if !checked.user_verified() {
        return Err(refused(
            "the passkey did not verify you (a PIN or biometrics)",
        ));
    }
    passkey.update_credential(&checked);
    let kept = serde_json::to_string(&passkey)
        .map_err(|e| Error::internal(format!("keeping a passkey: {e}")))?;
    let now = state.now();
    state.store.passkey_used(&row.id, &kept, now).await?;
    let audit = NewAuditEvent::new(
        now,
        Actor::of_user(&user),
        AuditAction::PasskeySignedIn,
        meta,
    )
    .detail(format!("“{}”", row.name));
    if let Err(err) = state.store.append_audit(&audit).await {
        tracing::warn!(error = %err, "could not record a sign-in");
    }
    Ok((user, ceremony.next))
}

/// A user's passkeys.
pub async fn list(state: &AppState, user_id: &UserId) -> Result<Vec<PasskeyRow>> {
    Ok(state.store.passkeys_of(user_id).await?)
}

/// Removes one of `user`'s passkeys (it signs in no more); audited
/// `passkey.removed`. Its name.
pub async fn remove(state: &AppState, user: &User, id: &str, meta: &RequestMeta) -> Result<String> {
    let found = state
        .store
        .passkeys_of(&user.id)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| Error::not_found("no such passkey of yours"))?;
    let audit = NewAuditEvent::new(
        state.now(),
        Actor::of_user(user),
        AuditAction::PasskeyRemoved,
        meta,
    )
    .target(user.email.clone())
    .detail(format!("“{}”", found.name));
    if !state.store.remove_passkey(&user.id, id, &audit).await? {
        return Err(Error::not_found("no such passkey of yours"));
    }
    Ok(found.name)
}
