//! Bearer authentication: from an `Authorization` header to a [`Principal`]
//! acting with its member's *current* role, narrowed by the token's scopes.

use crate::error::{ApiError, ApiResult};
use crate::model::{
    Actor, NewAuditEvent, Org, RequestMeta, Role, Scope, Token, TokenAuth, TokenKind, User,
};
use crate::secret::{is_token_shaped, sha256_hex};
use crate::state::AppState;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Who a request acts as: a user (through a token or a browser session) or a
/// service token, in one org, with the member's role *now*.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: Option<Arc<User>>,
    pub org: Arc<Org>,
    /// The member's current role; `None` for service tokens.
    pub role: Option<Role>,
    /// The token the request came with; `None` for a browser session.
    pub token: Option<Arc<Token>>,
}

impl Principal {
    pub fn from_token(auth: TokenAuth) -> Self {
        Self {
            user: auth.user,
            org: auth.org,
            role: auth.role,
            token: Some(auth.token),
        }
    }

    /// A signed-in person acting in one of their orgs (the pages).
    pub fn from_session(user: User, org: Org, role: Role) -> Self {
        Self {
            user: Some(Arc::new(user)),
            org: Arc::new(org),
            role: Some(role),
            token: None,
        }
    }

    pub fn actor(&self) -> Actor {
        match (&self.user, &self.token) {
            (Some(user), _) => Actor::User {
                id: user.id.clone(),
                email: user.email.clone(),
            },
            (None, Some(token)) => Actor::Token {
                id: token.id.clone(),
                hint: token.hint.clone(),
            },
            (None, None) => Actor::Anonymous,
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.id.as_str())
    }

    pub fn org_id(&self) -> &str {
        &self.org.id
    }

    pub fn role(&self) -> Option<Role> {
        self.role
    }

    fn scopes(&self) -> &[Scope] {
        self.token
            .as_ref()
            .map(|t| t.scopes.as_slice())
            .unwrap_or(&[])
    }

    fn is_service(&self) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| t.kind == TokenKind::Service)
    }

    /// Whether this principal may do `scope` now. A user has their role, narrowed
    /// by the token's scopes if it has any; a service token has exactly its scopes
    /// (`profile:read` when none were given).
    pub fn can(&self, scope: Scope) -> bool {
        let scopes = self.scopes();
        if self.is_service() {
            return scopes.contains(&scope) || (scopes.is_empty() && scope == Scope::ProfileRead);
        }
        match self.role {
            Some(role) => role.grants(scope) && (scopes.is_empty() || scopes.contains(&scope)),
            None => false,
        }
    }

    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        if self.can(scope) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(scope))
        }
    }

    /// Admin rights over the org named by `slug` (which must be this principal's org).
    pub fn require_admin_of(&self, slug: &str) -> ApiResult<()> {
        if self.org.slug != slug {
            return Err(ApiError::forbidden(format!(
                "this token belongs to org `{}`, not `{slug}`",
                self.org.slug
            )));
        }
        if !self.can(Scope::OrgAdmin) {
            return Err(ApiError::forbidden(
                "only owners and admins of this organization may do this",
            ));
        }
        Ok(())
    }

    /// The calling user, or 403 for service tokens.
    pub fn require_user(&self) -> ApiResult<&User> {
        self.user
            .as_deref()
            .ok_or_else(|| ApiError::forbidden("service tokens cannot do this; use a user's token"))
    }
}

/// The token in an `Authorization: Bearer …` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let header = header?.trim();
    let (scheme, value) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
}

/// Checks a presented token; every failure is the same `invalid_token`.
pub async fn authenticate(
    state: &AppState,
    token: Option<&str>,
    meta: &RequestMeta,
) -> ApiResult<Principal> {
    let token = token
        .filter(|t| is_token_shaped(t))
        .ok_or_else(ApiError::invalid_token)?;
    let hash = sha256_hex(token);
    let generation = state.store.generation().await?;
    // From the cache, or from the database (remembering the cache's epoch to fill it after).
    let (auth, read_at_epoch) = match state.cache.get(&hash, generation) {
        Some(auth) => (auth, None),
        None => {
            let epoch = state.cache.epoch();
            let auth = state
                .store
                .token_by_hash(&hash)
                .await?
                .ok_or_else(ApiError::invalid_token)?;
            (auth, Some(epoch))
        }
    };
    let now = state.now();
    let matches: bool = auth.token.hash.as_bytes().ct_eq(hash.as_bytes()).into();
    let user_ok = match (&auth.token.kind, &auth.user) {
        (TokenKind::Service, _) => true,
        (_, Some(user)) => user.disabled_at.is_none() && auth.role.is_some(),
        (_, None) => false,
    };
    if !matches || !auth.token.is_active(now) || !user_ok {
        return Err(ApiError::invalid_token());
    }
    if let Some(epoch) = read_at_epoch {
        state.cache.put(hash, auth.clone(), generation, epoch);
    }
    record_use(state, &auth, meta, now).await;
    Ok(Principal::from_token(auth))
}

/// Writes `last_used` (at most once a minute) and audits a first use from a new IP.
/// Failures here are logged, never fatal to the request.
async fn record_use(state: &AppState, auth: &TokenAuth, meta: &RequestMeta, now: i64) {
    let ip = meta.ip.as_deref();
    let writes = state.usage.observe(&auth.token.id, ip, now);
    if writes.touch
        && let Err(err) = state.store.touch_token(&auth.token.id, now, ip).await
    {
        tracing::warn!(error = %err, "could not record token use");
    }
    if let (true, Some(ip)) = (writes.maybe_new_ip, ip) {
        let actor = Actor::Token {
            id: auth.token.id.clone(),
            hint: auth.token.hint.clone(),
        };
        let audit = NewAuditEvent::new(now, actor, "token.new_ip", meta)
            .target(auth.token.id.clone())
            .org(auth.org.id.clone())
            .detail(format!("first use from {ip}"));
        if let Err(err) = state
            .store
            .record_token_ip(&auth.token.id, ip, &audit)
            .await
        {
            tracing::warn!(error = %err, "could not record token IP");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_bearer_headers() {
        assert_eq!(super::bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(super::bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(super::bearer(Some("Basic abc")), None);
        assert_eq!(super::bearer(Some("Bearer")), None);
        assert_eq!(super::bearer(None), None);
    }
}
