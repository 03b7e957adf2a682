//! Bearer authentication: from an `Authorization` header to a [`Principal`]
//! acting with its member's *current* role, narrowed by the token's scopes.
//! What the principal may do is [`crate::policy`]'s to say.

use crate::error::{Error, Result};
use crate::model::{Actor, AuditAction, NewAuditEvent, RequestMeta, TokenAuth, TokenKind};
use crate::policy::Principal;
use crate::secret::{is_token_shaped, sha256_hex};
use crate::state::AppState;
use subtle::ConstantTimeEq;

/// The principal a token acts as: a service token, or its user's token with
/// the member's role now; `None` when its user is disabled or no longer a member.
fn principal_of(auth: &TokenAuth) -> Option<Principal> {
    match (auth.token.kind, &auth.user, auth.role) {
        (TokenKind::Service, _, _) => Some(Principal::Service {
            org: auth.org.clone(),
            token: auth.token.clone(),
        }),
        (_, Some(user), Some(role)) if user.disabled_at.is_none() => Some(Principal::UserToken {
            user: user.clone(),
            org: auth.org.clone(),
            role,
            token: auth.token.clone(),
        }),
        _ => None,
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
) -> Result<Principal> {
    let token = token
        .filter(|t| is_token_shaped(t))
        .ok_or_else(|| Error::Unauthenticated)?;
    let hash = sha256_hex(token);
    let generation = state.store.generation().await?;
    let now = state.now();
    // From the cache, or from the database (remembering the cache's epoch to fill it after).
    let (auth, read_at_epoch) = match state.cache.get(&hash, generation, now) {
        Some(auth) => (auth, None),
        None => {
            let epoch = state.cache.epoch();
            let auth = state
                .store
                .token_by_hash(&hash)
                .await?
                .ok_or_else(|| Error::Unauthenticated)?;
            (auth, Some(epoch))
        }
    };
    let matches: bool = auth.token.hash.as_bytes().ct_eq(hash.as_bytes()).into();
    let principal = principal_of(&auth).filter(|_| matches && auth.token.is_active(now));
    let Some(principal) = principal else {
        return Err(Error::Unauthenticated);
    };
    if let Some(epoch) = read_at_epoch {
        state.cache.put(hash, auth.clone(), generation, epoch, now);
    }
    record_use(state, &auth, meta, now).await;
    Ok(principal)
}

/// The client's `User-Agent` as the token list shows it: at most 200
/// characters, nothing invisible.
fn agent_of(meta: &RequestMeta) -> Option<String> {
    let agent = meta.user_agent.as_deref()?;
    let shown: String = devauth_proto::text::visible(agent)
        .chars()
        .take(200)
        .collect();
    Some(shown).filter(|a| !a.trim().is_empty())
}

/// Writes `last_used` (at most once a minute) and audits a first use from a new IP.
/// Failures here are logged, never fatal to the request.
async fn record_use(state: &AppState, auth: &TokenAuth, meta: &RequestMeta, now: i64) {
    let ip = meta.ip.as_deref();
    let writes = state.usage.observe(&auth.token.id, ip, now);
    if writes.touch
        && let Err(err) = state
            .store
            .touch_token(&auth.token.id, now, ip, agent_of(meta).as_deref())
            .await
    {
        tracing::warn!(error = %err, "could not record token use");
    }
    if let (true, Some(ip)) = (writes.maybe_new_ip, ip) {
        let actor = Actor::of_token(&auth.token);
        let audit = NewAuditEvent::new(now, actor, AuditAction::TokenNewIp, meta)
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
