//! Single sign-on through a team's OpenID Connect providers (the
//! authorization code flow with PKCE, `state` and `nonce`).
//!
//! [`begin`] stores the sign-in under way (its `state` only hashed, bound to
//! the browser's pre-session cookie, for ten minutes) and answers the
//! provider's authorization URL. [`finish`] takes it once, checks that the
//! answer is for this browser, this provider (RFC 9207's `iss` when the
//! provider sends it) and not a replay, redeems the code with the PKCE
//! verifier, and checks the ID token: its signature against the provider's
//! keys (read again once when a token names a key not seen yet: key
//! rotation), `iss`, `aud`, `exp` and the `nonce`. Then it decides whose
//! account it is:
//!
//! - an identity linked before signs in to its account;
//! - a verified email with an invitation for it joins (a new account, or
//!   the existing one: the invitation proves the email);
//! - a verified email of an existing account is linked only after its
//!   password is entered ([`link_with_password`]);
//! - a verified email in the provider's `allowed_domains` gets a new
//!   account (in the provider's org, if it names one);
//! - anything else is refused, and audited.
//!
//! The provider's documents are read on first use, not at startup, so a
//! provider that is down does not stop the server.

use crate::config::OidcProvider;
use crate::error::{Error, Result};
use crate::identity::{self, SignInError};
use crate::invitations;
use crate::model::{
    Actor, AuditAction, Invitation, NewAuditEvent, Org, RequestMeta, SsoAttempt, SsoIdentity, User,
};
use crate::secret::{Secret, sha256_hex};
use crate::state::AppState;
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use std::time::Duration;

pub mod providers;
pub use providers::{Refusal, Sso};

/// How long a sign-in through a provider may take, and a link wait for its
/// password, seconds.
pub const ATTEMPT_SECS: i64 = 600;
/// A fresh sign-in (to approve a device) happened at most this long before
/// the answer, by the provider's `auth_time`.
const FRESH_SECS: i64 = 300;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

fn client_of(
    state: &AppState,
    config: &OidcProvider,
    metadata: CoreProviderMetadata,
) -> std::result::Result<Client, Refusal> {
    let redirect = RedirectUrl::new(redirect_uri(state, &config.id)).map_err(|err| {
        Refusal::new(
            "redirect URI unusable",
            format!("The sign-in address is not usable: {err}"),
        )
    })?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        config
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose().to_string())),
    )
    .set_redirect_uri(redirect))
}

/// Where a provider sends the person back: register this at the provider.
pub fn redirect_uri(state: &AppState, provider: &str) -> String {
    format!("{}/login/sso/{provider}/callback", state.public_url)
}

/// What a sign-in is for, besides signing in.
#[derive(Debug, Clone, Default)]
pub struct Purpose {
    /// The local path to go to after.
    pub next: String,
    /// The secret of an invitation to accept.
    pub invite: Option<String>,
    /// Ask the provider to sign the person in again (to approve a device).
    pub fresh: bool,
}

/// Starts a sign-in through `provider` for the browser `browser_hash`:
/// the address to send the person to.
pub async fn begin(
    state: &AppState,
    provider: &str,
    browser_hash: &str,
    purpose: &Purpose,
) -> std::result::Result<String, Refusal> {
    let slot = state.sso.slot(provider).ok_or_else(|| {
        Refusal::new(
            "unknown provider",
            "This server has no such single sign-on provider.",
        )
    })?;
    let discovered = state.sso.discovered(slot, state.now()).await?;
    let client = client_of(state, &slot.config, discovered.metadata)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge);
    for scope in &slot.config.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if purpose.fresh {
        request = request
            .add_prompt(CoreAuthPrompt::Login)
            .set_max_age(Duration::ZERO);
    }
    let (url, csrf, nonce) = request.url();
    let now = state.now();
    let attempt = SsoAttempt {
        id_hash: sha256_hex(csrf.secret()),
        provider: provider.to_string(),
        browser_hash: browser_hash.to_string(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        next: purpose.next.clone(),
        invite_hash: purpose.invite.as_deref().map(sha256_hex),
        fresh: purpose.fresh,
        link: None,
        created_at: now,
        expires_at: now + ATTEMPT_SECS,
    };
    state
        .store
        .create_sso_attempt(&attempt)
        .await
        .map_err(Error::from)?;
    Ok(url.to_string())
}

/// The provider's answer, as it arrives on the callback address.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Answer {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` the sign-in began with.
    pub state: Option<String>,
    /// RFC 9207: who answered.
    pub iss: Option<String>,
    /// The provider's error code, when it did not sign the person in.
    pub error: Option<String>,
    /// Its words for it.
    pub error_description: Option<String>,
}

/// How a sign-in through a provider ended.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in as `user`; `joined` an org through an invitation or the
    /// provider's settings; `linked` an identity just now.
    SignedIn {
        /// Who signed in.
        user: User,
        /// Where to go now.
        next: String,
        /// The org joined just now, if any.
        joined: Option<Org>,
        /// The provider signed the person in again just now.
        fresh: bool,
    },
    /// The email is an existing account's: its password proves the person
    /// may link this identity ([`link_with_password`]).
    NeedsPassword {
        /// The account's email.
        email: String,
        /// The provider's id.
        provider: String,
    },
}

/// What the ID token (or the user info) says about the person.
struct Person {
    subject: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    /// The groups in the provider's `roles_claim`.
    groups: Vec<String>,
}

/// The strings listed in the claim `name` of a (verified) ID token.
fn listed_claim(id_token: &openidconnect::core::CoreIdToken, name: &str) -> Vec<String> {
    use base64::Engine;
    let jwt = serde_json::to_value(id_token)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let payload = jwt
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    match payload.as_ref().and_then(|p| p.get(name)) {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// Finishes a sign-in through `provider` with its answer, in the browser
/// `browser_hash` (signed in as `signed_in`, if it is). Every refusal is
/// audited `sso.refused`.
pub async fn finish(
    state: &AppState,
    provider: &str,
    answer: &Answer,
    browser_hash: &str,
    signed_in: Option<&User>,
    meta: &RequestMeta,
) -> std::result::Result<Outcome, Refusal> {
    let result = finish_inner(state, provider, answer, browser_hash, signed_in, meta).await;
    if let Err(refusal) = &result {
        let audit = NewAuditEvent::new(
            state.now(),
            signed_in.map_or(Actor::Anonymous, Actor::of_user),
            AuditAction::SsoRefused,
            meta,
        )
        .target(provider.to_string())
        .detail(refusal.reason.clone());
        if let Err(err) = state.store.append_audit(&audit).await {
            tracing::warn!(error = %err, "could not record a refused single sign-on");
        }
    }
    result
}

async fn finish_inner(
    state: &AppState,
    provider: &str,
    answer: &Answer,
    browser_hash: &str,
    signed_in: Option<&User>,
    meta: &RequestMeta,
) -> std::result::Result<Outcome, Refusal> {
    let slot = state.sso.slot(provider).ok_or_else(|| {
        Refusal::new(
            "unknown provider",
            "This server has no such single sign-on provider.",
        )
    })?;
    let name = &slot.config.name;
    let start_again = || {
        Refusal::new(
            "state unknown, used or expired",
            format!(
                "This answer from {name} does not belong to a sign-in under way in this browser \
                 (it was used already, has expired, or began elsewhere). Start again."
            ),
        )
    };
    let given_state = answer.state.as_deref().ok_or_else(start_again)?;
    let attempt = state
        .store
        .take_sso_attempt(&sha256_hex(given_state), false, state.now())
        .await
        .map_err(Error::from)?
        .ok_or_else(start_again)?;
    if attempt.provider != provider {
        return Err(Refusal::new(
            format!("state of a sign-in with {}", attempt.provider),
            "This answer is not from the provider the sign-in began with. Start again.",
        ));
    }
    if attempt.browser_hash != browser_hash {
        return Err(Refusal::new(
            "state from another browser",
            start_again().message,
        ));
    }
    if let Some(error) = &answer.error {
        let said = answer
            .error_description
            .as_deref()
            .map(|d| format!(": {}", truncate(d, 200)))
            .unwrap_or_default();
        return Err(Refusal::new(
            format!("the provider answered {}", truncate(error, 64)),
            format!("{name} did not sign you in{said}."),
        ));
    }
    let discovered = state.sso.discovered(slot, state.now()).await?;
    let issuer = discovered.metadata.issuer().as_str().to_string();
    match answer.iss.as_deref() {
        Some(iss) if iss != issuer => {
            return Err(Refusal::new(
                format!("answer from the issuer {}", truncate(iss, 100)),
                format!("This answer comes from another provider than {name}. Start again."),
            ));
        }
        None if discovered.sends_iss => {
            return Err(Refusal::new(
                "answer without its issuer",
                format!("This answer does not say it comes from {name}. Start again."),
            ));
        }
        _ => {}
    }
    let code = answer
        .code
        .clone()
        .ok_or_else(|| Refusal::new("no code", format!("{name} sent no sign-in code.")))?;
    let client = client_of(state, &slot.config, discovered.metadata.clone())?;
    let refused_by_provider = |detail: String| {
        tracing::info!(provider = %provider, "code redemption refused: {detail}");
        Refusal::new(
            "code refused by the provider",
            format!("{name} did not accept the sign-in. Start again."),
        )
    };
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|err| refused_by_provider(err.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(attempt.pkce_verifier.clone()))
        .request_async(&state.sso.http)
        .await
        .map_err(|err| refused_by_provider(err.to_string()))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| Refusal::new("no ID token", format!("{name} sent no ID token.")))?;
    let nonce = Nonce::new(attempt.nonce.clone());
    let not_trusted = |err: openidconnect::ClaimsVerificationError| {
        use openidconnect::ClaimsVerificationError as E;
        let reason = match &err {
            E::InvalidIssuer(_) => "ID token from another issuer",
            E::InvalidNonce(_) => "ID token with another nonce (a replay)",
            E::InvalidAudience(_) => "ID token for another client",
            E::Expired(_) => "ID token expired",
            E::SignatureVerification(_) => "ID token signature not valid",
            E::InvalidAuthTime(_) => "sign-in at the provider not fresh",
            _ => "ID token not valid",
        };
        tracing::info!(provider = %provider, "ID token refused: {err}");
        Refusal::new(
            reason,
            format!("{name}'s answer could not be trusted ({reason}). Start again."),
        )
    };
    let now = state.now();
    let fresh_enough =
        |auth_time: Option<i64>| auth_time.is_some_and(|at| (now - at).abs() <= FRESH_SECS);
    // The ID token's times are judged by the server's clock.
    let at_now = move || chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    let claims = {
        let verifier = client.id_token_verifier().set_time_fn(at_now);
        match id_token.claims(&verifier, &nonce) {
            Ok(claims) => claims.clone(),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider may have rotated its keys: read them again, once.
                let Some(again) = state.sso.reread_keys(slot).await else {
                    return Err(not_trusted(
                        openidconnect::ClaimsVerificationError::SignatureVerification(
                            openidconnect::SignatureVerificationError::NoMatchingKey,
                        ),
                    ));
                };
                let client = client_of(state, &slot.config, again.metadata)?;
                let verifier = client.id_token_verifier().set_time_fn(at_now);
                id_token
                    .claims(&verifier, &nonce)
                    .map_err(not_trusted)?
                    .clone()
            }
            Err(err) => return Err(not_trusted(err)),
        }
    };
    if attempt.fresh && !fresh_enough(claims.auth_time().map(|t| t.timestamp())) {
        return Err(Refusal::new(
            "sign-in at the provider not fresh",
            format!("{name} did not sign you in again. Start again."),
        ));
    }
    // The access token is the one the ID token was issued with.
    if let Some(expected) = claims.access_token_hash() {
        let actual = id_token.signing_alg().ok().and_then(|alg| {
            let verifier = client.id_token_verifier();
            let key = id_token.signing_key(&verifier).ok()?;
            AccessTokenHash::from_token(tokens.access_token(), alg, key).ok()
        });
        if actual.as_ref() != Some(expected) {
            return Err(Refusal::new(
                "access token does not match the ID token",
                format!("{name}'s answer could not be trusted. Start again."),
            ));
        }
    }
    let mut person = Person {
        subject: claims.subject().as_str().to_string(),
        email: claims.email().map(|e| e.as_str().to_string()),
        email_verified: claims.email_verified() == Some(true),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string()),
        groups: slot
            .config
            .roles_claim
            .as_deref()
            .map(|claim| listed_claim(id_token, claim))
            .unwrap_or_default(),
    };
    if person.email.is_none()
        && let Ok(request) = client.user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        && let Ok(info) = request.request_async(&state.sso.http).await
    {
        let info: CoreUserInfoClaims = info;
        person.email = info.email().map(|e| e.as_str().to_string());
        person.email_verified = info.email_verified() == Some(true);
        if person.name.is_none() {
            person.name = info
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_string());
        }
    }
    decide(state, &slot.config, attempt, person, signed_in, meta).await
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Whose account an answer signs in to (see the module's comment).
async fn decide(
    state: &AppState,
    config: &OidcProvider,
    attempt: SsoAttempt,
    person: Person,
    signed_in: Option<&User>,
    meta: &RequestMeta,
) -> std::result::Result<Outcome, Refusal> {
    let name = &config.name;
    let now = state.now();
    let invitation = match &attempt.invite_hash {
        Some(hash) => Some(invitations::open_by_hash(state, hash).await?),
        None => None,
    };
    let signed = |user: User, joined: Option<Org>| Outcome::SignedIn {
        user,
        next: attempt.next.clone(),
        joined,
        fresh: attempt.fresh,
    };
    let linked = state
        .store
        .sso_user(&config.id, &person.subject, now)
        .await
        .map_err(Error::from)?;
    if let Some(user) = linked {
        if let Some(current) = signed_in
            && current.id != user.id
        {
            return Err(Refusal::new(
                "identity of another account",
                format!(
                    "This {name} account signs in to {}, not to {}. Sign out first.",
                    user.email, current.email
                ),
            ));
        }
        let joined = match invitation {
            Some((invitation, org)) => Some(accept(state, &invitation, org, &user, meta).await?),
            None => None,
        };
        record_sign_in(state, config, &user, meta).await;
        return Ok(signed(user, joined));
    }
    let email = person.email.clone().filter(|_| person.email_verified);
    let identity = |user: &User, email: &str| SsoIdentity {
        provider: config.id.clone(),
        subject: person.subject.clone(),
        user_id: user.id.clone(),
        email: email.to_string(),
        created_at: now,
        last_used_at: Some(now),
    };
    // Signed in already (with a password): this identity becomes theirs.
    if let Some(current) = signed_in {
        let user = current.clone();
        let shown = email.clone().unwrap_or_else(|| person.subject.clone());
        link(state, config, &identity(&user, &shown), None, None, meta).await?;
        return Ok(signed(user, None));
    }
    let Some(email) = email else {
        return Err(Refusal::new(
            "email not verified",
            format!(
                "{name} did not give a verified email address for you, so devauth cannot tell \
                 which account is yours. Ask your {name} administrator, or sign in with your password."
            ),
        ));
    };
    let existing = state
        .store
        .user_by_email(&email)
        .await
        .map_err(Error::from)?;
    if let Some((invitation, org)) = invitation {
        if !invitation.email.eq_ignore_ascii_case(&email) {
            return Err(Refusal::new(
                "invitation for another email",
                format!(
                    "This invitation is for {}, and {name} says you are {email}. Sign in to {name} \
                     as {} or ask for an invitation for {email}.",
                    invitation.email, invitation.email
                ),
            ));
        }
        let user = match existing {
            Some(user) if user.disabled_at.is_some() => return Err(disabled(&email)),
            Some(user) => {
                link(state, config, &identity(&user, &email), None, None, meta).await?;
                user
            }
            None => {
                let user = new_account(state, &email, person.name.as_deref()).await?;
                link(
                    state,
                    config,
                    &identity(&user, &email),
                    Some(&user),
                    None,
                    meta,
                )
                .await?;
                user
            }
        };
        let joined = accept(state, &invitation, org, &user, meta).await?;
        record_sign_in(state, config, &user, meta).await;
        return Ok(signed(user, Some(joined)));
    }
    if let Some(user) = existing {
        if user.disabled_at.is_some() {
            return Err(disabled(&email));
        }
        if user.password_hash.is_none() {
            return Err(Refusal::new(
                "account without a password",
                format!(
                    "{email} has an account that signs in another way. Sign in that way, then \
                     connect {name} on your account page."
                ),
            ));
        }
        // Proof first: the account's password.
        let pending = SsoAttempt {
            link: Some((person.subject.clone(), email.clone())),
            created_at: now,
            expires_at: now + ATTEMPT_SECS,
            ..attempt
        };
        state
            .store
            .create_sso_attempt(&pending)
            .await
            .map_err(Error::from)?;
        return Ok(Outcome::NeedsPassword {
            email,
            provider: config.id.clone(),
        });
    }
    if !config.allows(&email) {
        return Err(Refusal::new(
            "domain not allowed",
            format!(
                "There is no devauth account for {email}, and {name} may make accounts only with \
                 an invitation{}. Ask an admin of your team to invite you.",
                if config.allowed_domains.is_empty() {
                    String::new()
                } else {
                    format!(" or for {}", config.allowed_domains.join(", "))
                }
            ),
        ));
    }
    let org = match &config.org {
        Some(slug) => Some(state.store.org_by_slug(slug).await.map_err(Error::from)?.ok_or_else(
            || {
                Refusal::new(
                    "the provider's org is missing",
                    format!(
                        "{name} is set to add new accounts to the org {slug}, which does not exist. \
                         Tell the server's operator."
                    ),
                )
            },
        )?),
        None => None,
    };
    let user = new_account(state, &email, person.name.as_deref()).await?;
    let join = org
        .as_ref()
        .map(|org| (&org.id, config.role_for(&person.groups)));
    link(
        state,
        config,
        &identity(&user, &email),
        Some(&user),
        join,
        meta,
    )
    .await?;
    record_sign_in(state, config, &user, meta).await;
    Ok(signed(user, org))
}

fn disabled(email: &str) -> Refusal {
    Refusal::new(
        "account disabled",
        format!("The account {email} is disabled. Ask an admin."),
    )
}

/// A new account for a first sign-in: no password (it signs in through the
/// provider), named as the provider says or by the email.
async fn new_account(
    state: &AppState,
    email: &str,
    name: Option<&str>,
) -> std::result::Result<User, Refusal> {
    let fallback = email.split('@').next().unwrap_or(email);
    let name = name
        .map(str::trim)
        .filter(|n| identity::clean_text("name", n, 100).is_ok())
        .unwrap_or(fallback);
    Ok(identity::new_user(state, email, name, None).await?)
}

async fn link(
    state: &AppState,
    config: &OidcProvider,
    identity: &SsoIdentity,
    new_user: Option<&User>,
    join: Option<(&crate::model::OrgId, crate::model::Role)>,
    meta: &RequestMeta,
) -> std::result::Result<(), Refusal> {
    let actor = Actor::User {
        id: identity.user_id.to_string(),
        email: new_user.map_or_else(|| identity.email.clone(), |u| u.email.clone()),
    };
    let what = if new_user.is_some() {
        ", a new account"
    } else {
        ""
    };
    let audit = NewAuditEvent::new(state.now(), actor, AuditAction::SsoLinked, meta)
        .target(identity.email.clone())
        .detail(format!("{}{what}", config.name));
    let audit = match join {
        Some((org_id, _)) => audit.org(org_id.clone()),
        None => audit,
    };
    if !state
        .store
        .link_sso_identity(identity, new_user, join, &audit)
        .await
        .map_err(Error::from)?
    {
        return Err(Refusal::new(
            "identity linked meanwhile",
            format!(
                "This {} account was connected to devauth meanwhile. Start again.",
                config.name
            ),
        ));
    }
    Ok(())
}

async fn accept(
    state: &AppState,
    invitation: &Invitation,
    org: Org,
    user: &User,
    meta: &RequestMeta,
) -> std::result::Result<Org, Refusal> {
    invitations::accept_opened(state, invitation, &org, user, meta).await?;
    Ok(org)
}

async fn record_sign_in(state: &AppState, config: &OidcProvider, user: &User, meta: &RequestMeta) {
    let audit = NewAuditEvent::new(
        state.now(),
        Actor::of_user(user),
        AuditAction::SsoSignedIn,
        meta,
    )
    .detail(config.name.clone());
    if let Err(err) = state.store.append_audit(&audit).await {
        tracing::warn!(error = %err, "could not record a sign-in");
    }
}

/// Why a link with a password did not work.
#[derive(Debug)]
pub enum LinkError {
    /// No link is waiting in this browser (or it expired).
    Gone,
    /// The password was not right, or could not be checked.
    SignIn(SignInError),
    /// The link could not be made.
    Refused(Refusal),
}

/// The link waiting in this browser for a password: the email and the provider's name.
pub async fn pending_link(
    state: &AppState,
    browser_hash: &str,
) -> Result<Option<(String, String)>> {
    let Some(attempt) = state
        .store
        .pending_sso_link(browser_hash, state.now())
        .await?
    else {
        return Ok(None);
    };
    let Some((_, email)) = attempt.link else {
        return Ok(None);
    };
    let name = state
        .sso
        .name_of(&attempt.provider)
        .unwrap_or_else(|| attempt.provider.clone());
    Ok(Some((email, name)))
}

/// Links the identity waiting in this browser to its account, once the
/// account's password is entered (checked and limited as a sign-in is).
pub async fn link_with_password(
    state: &AppState,
    browser_hash: &str,
    password: &Secret,
    known_browser: Option<&str>,
    meta: &RequestMeta,
) -> std::result::Result<(User, String), LinkError> {
    let attempt = state
        .store
        .pending_sso_link(browser_hash, state.now())
        .await
        .map_err(|err| LinkError::SignIn(SignInError::Failed(err.into())))?
        .ok_or(LinkError::Gone)?;
    let (subject, email) = attempt.link.clone().ok_or(LinkError::Gone)?;
    let config = state
        .sso
        .slot(&attempt.provider)
        .map(|slot| slot.config.clone())
        .ok_or(LinkError::Gone)?;
    let user = identity::sign_in(state, &email, password, known_browser, meta)
        .await
        .map_err(LinkError::SignIn)?;
    // Taken once: a second form sent meanwhile finds nothing.
    if state
        .store
        .take_sso_attempt(&attempt.id_hash, true, state.now())
        .await
        .map_err(|err| LinkError::SignIn(SignInError::Failed(err.into())))?
        .is_none()
    {
        return Err(LinkError::Gone);
    }
    let now = state.now();
    let identity = SsoIdentity {
        provider: config.id.clone(),
        subject,
        user_id: user.id.clone(),
        email,
        created_at: now,
        last_used_at: Some(now),
    };
    link(state, &config, &identity, None, None, meta)
        .await
        .map_err(LinkError::Refused)?;
    Ok((user, attempt.next))
}

/// The providers an account is linked to: (provider id, its name, the email it gave).
pub async fn identities_of(state: &AppState, user: &User) -> Result<Vec<(String, String, String)>> {
    Ok(state
        .store
        .sso_identities(&user.id)
        .await?
        .into_iter()
        .map(|identity| {
            let name = state
                .sso
                .name_of(&identity.provider)
                .unwrap_or_else(|| identity.provider.clone());
            (identity.provider, name, identity.email)
        })
        .collect())
}

/// Disconnects a provider from an account, when the account keeps a way
/// to sign in (a password, or another provider). Audited `sso.unlinked`.
pub async fn unlink(
    state: &AppState,
    user: &User,
    provider: &str,
    meta: &RequestMeta,
) -> Result<()> {
    let identities = state.store.sso_identities(&user.id).await?;
    if !identities.iter().any(|i| i.provider == provider) {
        return Err(Error::not_found(
            "that provider is not connected to your account",
        ));
    }
    if user.password_hash.is_none() && identities.len() == 1 {
        return Err(Error::Conflict(
            "this is the only way you sign in: it cannot be disconnected".into(),
        ));
    }
    let name = state
        .sso
        .name_of(provider)
        .unwrap_or_else(|| provider.to_string());
    let audit = NewAuditEvent::new(
        state.now(),
        Actor::of_user(user),
        AuditAction::SsoUnlinked,
        meta,
    )
    .target(user.email.clone())
    .detail(name);
    if !state
        .store
        .unlink_sso_identity(&user.id, provider, &audit)
        .await?
    {
        return Err(Error::not_found(
            "that provider is not connected to your account",
        ));
    }
    Ok(())
}
