//! Reading and changing an org's device policy ([`crate::device_policy`]):
//! owners change it, owners and admins read it; every change is audited.
//! Approvals read it through [`crate::device_policy::PolicyCache`]: kept in
//! memory, dropped when a change is announced (to every replica), read again
//! after the validation cache's maximum age, and not used while changes
//! cannot be heard.

use crate::device_policy::{DevicePolicy, PolicyMode};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::model::OrgId;
use crate::model::{AuditAction, NewAuditEvent, Org, RequestMeta};
use crate::policy::{self, Act, Principal};
use crate::state::AppState;

/// The policy an approval into `org_id` follows.
pub async fn current(state: &AppState, org_id: &OrgId) -> Result<DevicePolicy> {
    let now = state.now();
    let max_age = state.config.cache_max_age_secs;
    let usable = state.cache.is_live() && max_age > 0;
    if usable && let Some(policy) = state.policies.get(org_id, now, max_age) {
        return Ok(policy);
    }
    let policy = state.store.org_policy(org_id).await?;
    if usable {
        state.policies.put(org_id, &policy, now);
    }
    Ok(policy)
}

/// What an owner changes; `None` keeps a setting.
#[derive(Debug, Clone, Default)]
pub struct PolicyChange {
    /// Whether devices may be approved.
    pub device_flow: Option<bool>,
    /// The networks devices may ask from.
    pub device_networks: Option<Vec<String>>,
    /// The cap on device tokens' lifetime (`Some(None)`: none).
    pub device_token_days: Option<Option<i64>>,
    /// Refuse or report.
    pub mode: Option<PolicyMode>,
    /// How approvers must have signed in (empty: any way).
    pub sign_in: Option<Vec<crate::model::SignInMethod>>,
}

/// An org's device policy (owners and admins may read it).
pub async fn get(state: &AppState, principal: &Principal, org: &Org) -> Result<DevicePolicy> {
    policy::check(principal, Act::ReadDevicePolicy { org_id: &org.id })?;
    Ok(state.store.org_policy(&org.id).await?)
}

/// Changes an org's device policy (owners only); bad settings change
/// nothing. Audited `org.policy_changed` with the policy in words.
pub async fn set(
    state: &AppState,
    principal: &Principal,
    org: &Org,
    change: &PolicyChange,
    meta: &RequestMeta,
) -> Result<DevicePolicy> {
    policy::check(principal, Act::SetDevicePolicy { org_id: &org.id })?;
    let mut next = state.store.org_policy(&org.id).await?;
    if let Some(on) = change.device_flow {
        next.device_flow = on;
    }
    if let Some(networks) = &change.device_networks {
        next.device_networks = DevicePolicy::parse_networks(networks.iter().map(String::as_str))
            .map_err(Error::invalid)?;
    }
    if let Some(days) = change.device_token_days {
        DevicePolicy::check_days(days, state.config.token_ttl_days).map_err(Error::invalid)?;
        next.device_token_days = days;
    }
    if let Some(mode) = change.mode {
        next.mode = mode;
    }
    if let Some(methods) = &change.sign_in {
        let mut methods = methods.clone();
        methods.sort();
        methods.dedup();
        if methods.contains(&crate::model::SignInMethod::Sso) && !state.sso.enabled() {
            return Err(Error::invalid(
                "`sign_in`: this server has no single sign-on provider (set DEVAUTH_OIDC_ISSUER)",
            ));
        }
        if methods.contains(&crate::model::SignInMethod::Passkey) && state.webauthn.is_none() {
            return Err(Error::invalid(
                "`sign_in`: passkeys are off on this server (it must be reached by a name: \
                 set DEVAUTH_PUBLIC_URL)",
            ));
        }
        next.sign_in = methods;
    }
    let now = state.now();
    let audit = NewAuditEvent::new(now, principal.actor(), AuditAction::OrgPolicyChanged, meta)
        .target(org.id.clone())
        .org(org.id.clone())
        .detail(next.describe());
    state
        .store
        .set_org_policy(&org.id, &next, now, &audit)
        .await?;
    // Every replica drops the policy it kept, this one first.
    state
        .publish(Event::OrgPolicyChanged {
            org_id: org.id.clone(),
        })
        .await;
    Ok(next)
}
