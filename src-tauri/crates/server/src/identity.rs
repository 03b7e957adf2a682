//! Users, organizations and passwords: validation of what people type, argon2id
//! hashing, and creating accounts (used by setup, the admin CLI and the pages).

use crate::error::{Error, Result};
use crate::model::{Actor, AuditAction, NewAuditEvent, Org, OrgId, RequestMeta, User, UserId};
use crate::secret::{Secret, new_id};
use crate::state::AppState;
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

/// Shortest password accepted, characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

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

/// Checks a new password's length: 8 to 1024 characters.
pub fn check_password(password: &Secret) -> Result<()> {
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

/// argon2id with the crate's recommended parameters, off the async threads.
pub async fn hash_password(password: &Secret) -> Result<String> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(Error::internal)
    })
    .await
    .map_err(Error::internal)?
}

/// Checks a password against a stored hash. With no hash (unknown email, no
/// password set) it still does the same work, so timing does not reveal accounts.
pub async fn verify_password(stored: Option<String>, password: &Secret) -> bool {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    let password = password.clone();
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| DUMMY.to_string());
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok();
        ok && known
    })
    .await
    .unwrap_or(false)
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
            Some(hash_password(password).await?)
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

    #[tokio::test]
    async fn passwords_verify_and_unknown_accounts_never_do() {
        let password = Secret::new("correct horse");
        let hash = hash_password(&password).await.ok();
        assert!(hash.as_deref().is_some_and(|h| h.starts_with("$argon2id$")));
        assert!(verify_password(hash.clone(), &password).await);
        assert!(!verify_password(hash, &Secret::new("wrong horse")).await);
        assert!(!verify_password(None, &password).await);
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
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &Secret,
    meta: &RequestMeta,
) -> std::result::Result<User, SignInError> {
    let now = state.now();
    let ip_key = format!("login-ip:{}", meta.ip_key());
    let email_key = format!("login-email:{}", email.to_lowercase());
    let keys = [ip_key.as_str(), email_key.as_str()];
    state
        .auth_failures
        .check(&keys, now)
        .map_err(|retry_after| SignInError::Limited { retry_after })?;
    let user = state
        .store
        .user_by_email(email)
        .await
        .map_err(Error::from)?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let valid = verify_password(stored, password).await;
    let Some(user) = user.filter(|u| valid && u.disabled_at.is_none()) else {
        state.auth_failures.record_failure(&keys, now);
        let audit =
            NewAuditEvent::new(now, Actor::Anonymous, AuditAction::LoginFailed, meta).target(email);
        state
            .store
            .append_audit(&audit)
            .await
            .map_err(Error::from)?;
        return Err(SignInError::Wrong);
    };
    let actor = Actor::of_user(&user);
    let audit = NewAuditEvent::new(now, actor, AuditAction::LoginSucceeded, meta);
    if let Err(err) = state.store.append_audit(&audit).await {
        tracing::warn!(error = %err, "could not record a sign-in");
    }
    Ok(user)
}
