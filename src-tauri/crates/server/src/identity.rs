//! Users, organizations and passwords: validation of what people type, argon2id
//! hashing, and creating accounts (used by setup, the admin CLI and the pages).

use crate::error::{ApiError, ApiResult};
use crate::model::{Actor, NewAuditEvent, Org, RequestMeta, User};
use crate::secret::{Secret, new_id};
use crate::state::AppState;
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

pub const MIN_PASSWORD_CHARS: usize = 8;

/// Trims and checks an email address; returns it as typed (lookups ignore case).
pub fn clean_email(input: &str) -> ApiResult<String> {
    let email = input.trim();
    let valid = (3..=254).contains(&email.len())
        && email.matches('@').count() == 1
        && !email.starts_with('@')
        && !email.ends_with('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email.to_string())
    } else {
        Err(ApiError::invalid_request(format!(
            "`{}` is not a valid email address",
            truncate(email, 64)
        )))
    }
}

/// Trims a display name, token name or org name: 1 to `max` characters, no control characters.
pub fn clean_text(field: &str, input: &str, max: usize) -> ApiResult<String> {
    let text = input.trim();
    if text.is_empty() {
        return Err(ApiError::invalid_request(format!(
            "`{field}` must not be empty"
        )));
    }
    if text.chars().count() > max {
        return Err(ApiError::invalid_request(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(ApiError::invalid_request(format!(
            "`{field}` must not contain control characters"
        )));
    }
    Ok(text.to_string())
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

pub fn check_slug(slug: &str) -> ApiResult<()> {
    let ok = (2..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_request(format!(
            "`{}` is not a valid org slug: use 2-40 lowercase letters, digits and dashes",
            truncate(slug, 64)
        )))
    }
}

pub fn check_password(password: &Secret) -> ApiResult<()> {
    let chars = password.expose().chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid_request(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > 1024 {
        return Err(ApiError::invalid_request(
            "the password is longer than 1024 characters",
        ));
    }
    Ok(())
}

/// argon2id with the crate's recommended parameters, off the async threads.
pub async fn hash_password(password: &Secret) -> ApiResult<String> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
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
) -> ApiResult<User> {
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
        id: new_id(),
        email,
        name,
        password_hash,
        disabled_at: None,
        created_at: state.now(),
    })
}

pub async fn create_user(
    state: &AppState,
    email: &str,
    name: &str,
    password: Option<&Secret>,
    actor: Actor,
    meta: &RequestMeta,
) -> ApiResult<User> {
    let user = new_user(state, email, name, password).await?;
    let audit =
        NewAuditEvent::new(state.now(), actor, "user.created", meta).target(user.email.clone());
    state.store.create_user(&user, &audit).await?;
    Ok(user)
}

pub fn new_org(state: &AppState, slug: Option<&str>, name: &str) -> ApiResult<Org> {
    let name = clean_text("org name", name, 100)?;
    let slug = match slug {
        Some(slug) => slug.trim().to_string(),
        None => slugify(&name),
    };
    check_slug(&slug)?;
    Ok(Org {
        id: new_id(),
        slug,
        name,
        created_at: state.now(),
    })
}

pub async fn create_org(
    state: &AppState,
    slug: Option<&str>,
    name: &str,
    actor: Actor,
    meta: &RequestMeta,
) -> ApiResult<Org> {
    let org = new_org(state, slug, name)?;
    let audit = NewAuditEvent::new(state.now(), actor, "org.created", meta)
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
