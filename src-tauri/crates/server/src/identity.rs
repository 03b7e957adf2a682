//! Users, organizations and sign-in: validation of what people type, and
//! creating accounts (used by setup, the admin CLI and the pages); the
//! password checks themselves are [`crate::password`].

use crate::error::{Error, Result};
use crate::model::{Actor, AuditAction, NewAuditEvent, Org, OrgId, RequestMeta, User, UserId};
use crate::rate_limit;
use crate::secret::{Secret, new_id};
use crate::state::AppState;

/// Shortest password accepted, characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Trims and checks an email address; returns it as typed (lookups ignore case).
pub fn clean_email(input: &str) -> Result<String> {
    let email = input.trim();
    let valid = (3..=254).contains(&email.len())
        && email.matches('@').count() == 1
        && !email.starts_with('@')
        && !email.ends_with('@')
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || devauth_proto::text::is_invisible(c));
    if valid {
        Ok(email.to_string())
    } else {
        Err(Error::invalid(format!(
            "`{}` is not a valid email address",
            truncate(email, 64)
        )))
    }
}

/// Trims a display name, token name or org name: 1 to `max` characters, no control characters.
pub fn clean_text(field: &str, input: &str, max: usize) -> Result<String> {
    let text = input.trim();
    if text.is_empty() {
        return Err(Error::invalid(format!("`{field}` must not be empty")));
    }
    if text.chars().count() > max {
        return Err(Error::invalid(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    refuse_hidden(field, text)?;
    Ok(text.to_string())
}

/// Names people read carry no control characters and no invisible ones
/// (bidi controls, zero-width characters: see [`devauth_proto::text`]),
/// which could make a name read as another.
pub fn refuse_hidden(field: &str, text: &str) -> Result<()> {
    match devauth_proto::text::first_hidden(text) {
        None => Ok(()),
        Some(c) if c.is_control() => Err(Error::invalid(format!(
            "`{field}` must not contain control characters"
        ))),
        Some(c) => Err(Error::invalid(format!(
            "`{field}` must not contain invisible formatting characters (found U+{:04X})",
            c as u32
        ))),
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `Acme Corp.` → `acme-corp`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug
        .trim_end_matches('-')
        .chars()
        .take(40)
        .collect::<String>();
    if slug.len() < 2 {
        format!("org-{}", &new_id()[..8])
    } else {
        slug
    }
}

/// Checks an org slug: 2 to 40 lowercase letters, digits and dashes, not
/// starting or ending with a dash.
pub fn check_slug(slug: &str) -> Result<()> {
    let ok = (2..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "`{}` is not a valid org slug: use 2-40 lowercase letters, digits and dashes",
            truncate(slug, 64)
        )))
    }
}

/// Passwords too common to accept, shipped with the crate.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Whether `password` is on the list of the most common ones (ignoring case).
pub fn is_common_password(password: &str) -> bool {
    let password = password.trim().to_lowercase();
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|common| common == password)
}

/// Checks a new password: 12 to 1024 characters, and not one of the most
/// common passwords.
pub fn check_password(password: &Secret) -> Result<()> {
    if is_common_password(password.expose()) {
        return Err(Error::invalid(
            "that password is one of the most common ones: choose another",
        ));
    }
    let chars = password.expose().chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > 1024 {
        return Err(Error::invalid(
            "the password is longer than 1024 characters",
        ));
    }
    Ok(())
}

/// A new user record, password hashed (not yet stored).
pub async fn new_user(
    state: &AppState,
    email: &str,
    name: &str,
    password: Option<&Secret>,
) -> Result<User> {
    let email = clean_email(email)?;
    let name = clean_text("name", name, 100)?;
    let password_hash = match password {
        Some(password) => {
            check_password(password)?;
            Some(state.passwords.hash(password).await?)
        }
        None => None,
    };
    Ok(User {
        id: UserId::new(),
        email,
        name,
        password_hash,
        disabled_at: None,
        created_at: state.now(),
    })
}

/// Checks the input, then creates and stores a user (audited as
/// `user.created`); the email must not be taken yet.
pub async fn create_user(
    state: &AppState,
    email: &str,
    name: &str,
    password: Option<&Secret>,
    actor: Actor,
    meta: &RequestMeta,
) -> Result<User> {
    let user = new_user(state, email, name, password).await?;
    let audit = NewAuditEvent::new(state.now(), actor, AuditAction::UserCreated, meta)
        .target(user.email.clone());
    state.store.create_user(&user, &audit).await?;
    Ok(user)
}

/// A new org record, checked but not yet stored; without `slug`, one made
/// from the name.
pub fn new_org(state: &AppState, slug: Option<&str>, name: &str) -> Result<Org> {
    let name = clean_text("org name", name, 100)?;
    let slug = match slug {
        Some(slug) => slug.trim().to_string(),
        None => slugify(&name),
    };
    check_slug(&slug)?;
    Ok(Org {
        id: OrgId::new(),
        slug,
        name,
        created_at: state.now(),
    })
}

/// Creates and stores an org (audited as `org.created`); the slug must not be
/// taken yet.
pub async fn create_org(
    state: &AppState,
    slug: Option<&str>,
    name: &str,
    actor: Actor,
    meta: &RequestMeta,
) -> Result<Org> {
    let org = new_org(state, slug, name)?;
    let audit = NewAuditEvent::new(state.now(), actor, AuditAction::OrgCreated, meta)
        .target(org.slug.clone())
        .org(org.id.clone());
    state.store.create_org(&org, &audit).await?;
    Ok(org)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_names_are_checked() {
        assert_eq!(
            clean_email("  Ada@Example.com ").ok().as_deref(),
            Some("Ada@Example.com")
        );
        assert!(clean_email("ada").is_err());
        assert!(clean_email("a@b@c").is_err());
        assert!(clean_email("a b@c").is_err());
        assert!(clean_text("name", "  ", 10).is_err());
        assert!(clean_text("name", "a\u{7}b", 10).is_err());
        let hidden = clean_text("name", "Ada\u{202E}dap", 20).expect_err("a bidi override");
        assert!(hidden.to_string().contains("U+202E"), "{hidden}");
        assert!(clean_text("name", "zero\u{200B}width", 20).is_err());
        assert!(clean_text("name", "Zoë 日本 🙂", 20).is_ok());
        assert!(clean_text("name", "abcdefghijk", 10).is_err());
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Acme Corp."), "acme-corp");
        assert_eq!(slugify("  Ünïcode  Team "), "n-code-team");
        assert!(slugify("!").starts_with("org-"));
        assert!(check_slug("acme").is_ok());
        assert!(check_slug("Acme").is_err());
        assert!(check_slug("-acme").is_err());
    }

    #[test]
    fn passwords_are_long_and_not_common() {
        let check = |p: &str| super::check_password(&crate::secret::Secret::new(p));
        assert!(check("correct horse battery").is_ok());
        assert!(check("eleven char").is_err(), "11 characters");
        assert!(check("Password1234").is_err(), "common, in any case");
        assert!(check("qwerty123456").is_err());
        assert!(super::is_common_password("  PASSWORD1234 "));
    }
}

/// Changes a signed-in user's password: the current one is checked as a
/// sign-in is (limited, audited), the new one must pass [`check_password`]
/// and differ; then every other browser session of theirs ends (the one in
/// `keep_session`, an id hash, stays) and it is audited
/// `user.password_changed`. Tokens keep working. Returns the sessions ended.
pub async fn change_password(
    state: &AppState,
    user: &User,
    current: &Secret,
    new: &Secret,
    keep_session: Option<&str>,
    known_browser: Option<&str>,
    meta: &RequestMeta,
) -> std::result::Result<u64, PasswordChangeError> {
    check_password(new).map_err(PasswordChangeError::New)?;
    if new.expose() == current.expose() {
        return Err(PasswordChangeError::New(Error::invalid(
            "the new password is the one you have now",
        )));
    }
    sign_in(state, &user.email, current, known_browser, meta)
        .await
        .map_err(PasswordChangeError::Current)?;
    let hash = state.passwords.hash(new).await?;
    let audit = NewAuditEvent::new(
        state.now(),
        Actor::of_user(user),
        AuditAction::PasswordChanged,
        meta,
    )
    .target(user.email.clone());
    let ended = state
        .store
        .set_password(&user.id, &hash, keep_session, &audit)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::not_found("the account is gone or disabled"))?;
    Ok(ended)
}

/// Why a password was not changed.
#[derive(Debug)]
pub enum PasswordChangeError {
    /// The current password was not right (or could not be checked).
    Current(SignInError),
    /// The new password is not acceptable.
    New(Error),
    /// Something else failed.
    Failed(Error),
}

impl From<Error> for PasswordChangeError {
    fn from(err: Error) -> Self {
        PasswordChangeError::Failed(err)
    }
}

/// Why a sign-in did not work.
#[derive(Debug)]
pub enum SignInError {
    /// Too many failures from this address or for this account lately.
    Limited {
        /// Seconds until the next try is allowed.
        retry_after: i64,
    },
    /// Too many password checks are waiting; try again in `retry_after` seconds.
    Busy {
        /// Seconds to wait.
        retry_after: i64,
    },
    /// The email and password do not belong to an active user (which of
    /// them is wrong is not said).
    Wrong,
    /// The check itself failed.
    Failed(Error),
}

impl From<Error> for SignInError {
    fn from(err: Error) -> Self {
        SignInError::Failed(err)
    }
}

/// Checks an email and password, rate limited per address and per account;
/// a failure is counted and audited (`login.failed`), a success audited
/// (`login.succeeded`). An unknown email costs the same work as a known one.
/// `known_browser` is the mark of a browser that signed in to this account
/// before: it counts against a budget of its own, so that failures
/// elsewhere cannot lock the account's owner out of it.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &Secret,
    known_browser: Option<&str>,
    meta: &RequestMeta,
) -> std::result::Result<User, SignInError> {
    let now = state.now();
    let ip = meta.ip_key();
    let mut account = email.trim().to_lowercase();
    if let Some(mark) = known_browser {
        account = format!("{account}\0browser:{mark}");
    }
    let attempts = [
        (rate_limit::SIGN_IN_PER_IP, ip.as_str()),
        (rate_limit::SIGN_IN_PER_ACCOUNT, account.as_str()),
    ];
    let reservation = rate_limit::reserve(state, &attempts)
        .await
        .map_err(|err| match err {
            Error::RateLimited { retry_after } => SignInError::Limited { retry_after },
            err => SignInError::Failed(err),
        })?;
    let user = state
        .store
        .user_by_email(email)
        .await
        .map_err(Error::from)?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let valid = match state.passwords.verify(stored, password).await {
        Ok(valid) => valid,
        Err(err) => {
            // Turned away (busy) or failed: the attempt never happened.
            reservation.succeeded().await;
            return Err(match err {
                Error::Busy { retry_after } => SignInError::Busy { retry_after },
                err => SignInError::Failed(err),
            });
        }
    };
    let Some(user) = user.filter(|u| valid && u.disabled_at.is_none()) else {
        reservation.failed().await;
        let audit =
            NewAuditEvent::new(now, Actor::Anonymous, AuditAction::LoginFailed, meta).target(email);
        state
            .store
            .append_audit(&audit)
            .await
            .map_err(Error::from)?;
        return Err(SignInError::Wrong);
    };
    reservation.succeeded().await;
    let actor = Actor::of_user(&user);
    let audit = NewAuditEvent::new(now, actor, AuditAction::LoginSucceeded, meta);
    if let Err(err) = state.store.append_audit(&audit).await {
        tracing::warn!(error = %err, "could not record a sign-in");
    }
    Ok(user)
}
