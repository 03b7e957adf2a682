//! RFC 8628 on the server: starting a device authorization, polling the token
//! endpoint (`slow_down`, expiry, one-time redemption) and the approval service
//! the pages and the JSON API call (look up, approve, deny by user code).

use crate::device_policy::PolicyMode;
use crate::error::{Error, Flow, Result};
use crate::events::Event;
use crate::metrics::Metrics;
use crate::model::*;
use crate::policy::{self, Act, Principal};
use crate::rate_limit;
use crate::secret::{self, format_user_code, new_id, normalize_user_code, sha256_hex, token_hint};
use crate::state::AppState;
use crate::store::{DeviceDecision, Redemption, StoreError};
use std::time::Duration;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// How much `slow_down` adds to a device's polling interval, seconds.
pub const SLOW_DOWN_STEP_SECS: i64 = 5;
pub const MAX_DEVICE_NAME_CHARS: usize = 64;

pub use devauth_proto::{DeviceAuthorizationResponse, TokenResponse};

/// Checks a device name from a request: at most 64 characters, no control
/// or invisible characters (a confirm page must show the name as it is).
pub fn clean_device_name(name: Option<&str>) -> Result<Option<String>> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_DEVICE_NAME_CHARS {
        return Err(Error::invalid(format!(
            "device_name is longer than {MAX_DEVICE_NAME_CHARS} characters"
        )));
    }
    crate::identity::refuse_hidden("device_name", name)?;
    Ok(Some(name.to_string()))
}

/// How often a start draws its codes again when one is taken.
const CODE_ATTEMPTS: usize = 4;

/// The org a device asks for (`org`, an extension of RFC 8628 §3.1): an
/// org's slug, as the device was told it; `None` when not given.
fn clean_org_hint(org: Option<&str>) -> Result<Option<String>> {
    let Some(org) = org.map(str::trim).filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    let slug_like = org.len() <= 64
        && org
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !slug_like {
        return Err(Error::invalid(
            "`org` must be an organization's slug (lowercase letters, digits and dashes, at most 64)",
        ));
    }
    Ok(Some(org.to_string()))
}

pub async fn start(
    state: &AppState,
    client_id: &str,
    device_name: Option<&str>,
    org_hint: Option<&str>,
    meta: &RequestMeta,
) -> Result<DeviceAuthorizationResponse> {
    if !state.config.clients.iter().any(|c| c == client_id) {
        return Err(
            Flow::InvalidClient(format!("`{client_id}` is not a registered client")).into(),
        );
    }
    let device_name = clean_device_name(device_name)?;
    let org_hint = clean_org_hint(org_hint)?;
    let per_minute = state.config.device_starts_per_minute;
    if per_minute > 0 {
        state
            .device_starts
            .count(&meta.ip_key(), per_minute, state.now())
            .map_err(Error::rate_limited)?;
    }
    let now = state.now();
    let ttl = state.config.device_code_ttl_secs;
    let interval = state.config.poll_interval_secs;
    // A pending user code is unique (a unique index): a code drawn twice is
    // drawn again, with a new device code too.
    let mut attempts = 0;
    let (device_code, user_code) = loop {
        let device_code = secret::new_device_code();
        let user_code = state.user_codes.next();
        let device = NewDeviceAuthorization {
            id: new_id(),
            device_code_hash: sha256_hex(device_code.expose()),
            user_code_hash: sha256_hex(user_code.expose()),
            client_id: client_id.to_string(),
            device_name: device_name.clone(),
            org_hint: org_hint.clone(),
            requester_ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            interval_secs: interval,
            created_at: now,
            expires_at: now + ttl,
        };
        let audit = NewAuditEvent::new(now, Actor::Anonymous, AuditAction::DeviceRequested, meta)
            .target(device.id.clone())
            .detail(format!(
                "client {client_id}, device {}",
                device_name.as_deref().unwrap_or("(unnamed)")
            ));
        match state
            .store
            .create_device_authorization(&device, &audit)
            .await
        {
            Ok(()) => break (device_code, user_code),
            Err(StoreError::Conflict(_)) if attempts < CODE_ATTEMPTS => attempts += 1,
            Err(err) => return Err(err.into()),
        }
    };
    Metrics::inc(&state.metrics.device_flows_started, 1);
    let shown = format_user_code(user_code.expose());
    let verification_uri = format!("{}/device", state.public_url);
    Ok(DeviceAuthorizationResponse {
        device_code: devauth_proto::Secret::new(device_code.expose()),
        verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
        user_code: shown,
        verification_uri,
        expires_in: ttl,
        interval,
    })
}

/// One poll of the token endpoint with the device_code grant. With `wait`
/// (`Prefer: wait=N`, at most 30 s) a poll that would answer
/// `authorization_pending` is held until the request is decided or the time is
/// up; the second value is the wait applied, for `Preference-Applied`.
pub async fn poll(
    state: &AppState,
    device_code: &str,
    client_id: &str,
    meta: &RequestMeta,
    wait: Option<u64>,
) -> (Result<TokenResponse>, Option<u64>) {
    let device = match find_for_client(state, device_code, client_id).await {
        Ok(device) => device,
        Err(err) => return (Err(err), None),
    };
    let first = answer(state, &device, meta, true).await;
    let wait = wait.map(|n| n.min(MAX_WAIT_SECS)).filter(|n| *n > 0);
    let (Some(wait), Err(err)) = (wait, &first) else {
        return (first, None);
    };
    if !matches!(err, Error::Flow(Flow::AuthorizationPending)) {
        return (first, None);
    }
    // Too many held already (in all, for this request, or from this
    // address): answer now, plainly; the client polls as RFC 8628 says.
    let wanted = [
        (format!("poll-device:{}", device.id), WAITS_PER_DEVICE),
        (
            crate::holds::address_key(meta),
            state.config.waits_per_address,
        ),
    ];
    let Ok(hold) = state.holds.take(&wanted) else {
        crate::metrics::Metrics::inc(&state.metrics.holds_refused, 1);
        return (first, None);
    };
    let Some(slot) = state.bus.hold(&device.id, state.config.max_waiters) else {
        return (first, None);
    };
    let notify = slot.notify.clone();
    let notified = notify.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    // Decided between the first look and now? Then no need to wait.
    let fresh = match find_for_client(state, device_code, client_id).await {
        Ok(device) => device,
        Err(err) => return (Err(err), Some(wait)),
    };
    if fresh.status == DeviceStatus::Pending {
        let left = (fresh.expires_at - state.now()).max(0) as u64;
        let _ = tokio::time::timeout(Duration::from_secs(wait.min(left)), notified).await;
    }
    drop((slot, hold));
    let after = match find_for_client(state, device_code, client_id).await {
        Ok(device) => device,
        Err(err) => return (Err(err), Some(wait)),
    };
    (answer(state, &after, meta, false).await, Some(wait))
}

/// Long polls held at once for one device authorization (a client retrying
/// while its first poll is held gets the second).
const WAITS_PER_DEVICE: usize = 2;

/// Longest `Prefer: wait` honoured, seconds.
pub const MAX_WAIT_SECS: u64 = 30;

async fn find_for_client(
    state: &AppState,
    device_code: &str,
    client_id: &str,
) -> Result<DeviceAuthorization> {
    let Some(device) = state
        .store
        .device_by_code_hash(&sha256_hex(device_code))
        .await?
    else {
        return Err(Flow::InvalidGrant("unknown device_code".into()).into());
    };
    if device.client_id != client_id {
        return Err(Flow::InvalidClient(
            "client_id does not match the one that started this authorization".into(),
        )
        .into());
    }
    Ok(device)
}

/// The token endpoint's answer for a request in its current state. `as_poll`
/// counts this as a poll: it records the time and applies `slow_down`.
async fn answer(
    state: &AppState,
    device: &DeviceAuthorization,
    meta: &RequestMeta,
    as_poll: bool,
) -> Result<TokenResponse> {
    let now = state.now();
    match device.status {
        DeviceStatus::Redeemed => return Err(already_used()),
        DeviceStatus::Denied => {
            return Err(Flow::AccessDenied("the request was denied".into()).into());
        }
        DeviceStatus::Expired => return Err(Flow::ExpiredToken.into()),
        _ if now >= device.expires_at => {
            state.store.expire_device(&device.id).await?;
            return Err(Flow::ExpiredToken.into());
        }
        DeviceStatus::Approved => return redeem(state, device, meta, now).await,
        DeviceStatus::Pending => {}
    }
    if !as_poll {
        return Err(Flow::AuthorizationPending.into());
    }
    // The first poll never gets slow_down; later ones must wait the interval,
    // and each violation lengthens it for good.
    let too_soon = device
        .last_poll_at
        .is_some_and(|last| now - last < device.interval_secs);
    let interval = device.interval_secs + if too_soon { SLOW_DOWN_STEP_SECS } else { 0 };
    state.store.record_poll(&device.id, now, interval).await?;
    if too_soon {
        Err(Flow::SlowDown { interval }.into())
    } else {
        Err(Flow::AuthorizationPending.into())
    }
}

async fn redeem(
    state: &AppState,
    device: &DeviceAuthorization,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse> {
    let (Some(user_id), Some(org_id)) = (&device.approved_by, &device.org_id) else {
        return Err(Error::internal(
            "approved device authorization without user or org",
        ));
    };
    let token = secret::new_token();
    let ttl = device.token_days.unwrap_or(state.config.token_ttl_days) * 86_400;
    let new = NewToken {
        id: TokenId::new(),
        hash: sha256_hex(token.expose()),
        hint: token_hint(token.expose()),
        name: device
            .device_name
            .clone()
            .unwrap_or_else(|| device.client_id.clone()),
        kind: TokenKind::Device,
        user_id: Some(user_id.clone()),
        org_id: org_id.clone(),
        scopes: device.scopes.clone(),
        created_at: now,
        expires_at: Some(now + ttl),
    };
    let audit = NewAuditEvent::new(now, Actor::Anonymous, AuditAction::TokenIssued, meta)
        .target(new.id.clone())
        .org(org_id.clone())
        .detail(format!(
            "device token `{}` ({}) for device authorization {}",
            new.name, new.hint, device.id
        ));
    let signed_in = Event::DeviceSignedIn {
        user_id: user_id.clone(),
        token_id: new.id.clone(),
        device_name: device.device_name.clone(),
        client_id: device.client_id.clone(),
        ip: device.requester_ip.clone(),
        org_id: org_id.clone(),
        approved_at: device.decided_at.unwrap_or(now),
    };
    let announce = state.envelope(&signed_in);
    match state
        .store
        .redeem_device(&device.id, &new, now, &audit, announce.as_deref())
        .await?
    {
        Redemption::Issued => {
            Metrics::inc(&state.metrics.device_flows_redeemed, 1);
            Metrics::inc(&state.metrics.tokens_issued, 1);
            // The user's other open streams hear of it (not you? revoke):
            // here at once, elsewhere through the redemption's own commit.
            state.deliver(signed_in);
            Ok(TokenResponse {
                access_token: devauth_proto::Secret::new(token.expose()),
                token_type: "Bearer".into(),
                expires_in: Some(ttl),
            })
        }
        Redemption::NotRedeemable => Err(already_used()),
        Redemption::NoLongerAllowed => Err(Flow::AccessDenied(
            "the approving user is no longer an active member of the organization".into(),
        )
        .into()),
    }
}

/// What the approver sees before deciding.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    pub id: String,
    pub client_id: String,
    pub device_name: Option<String>,
    /// The org the device asked for, if any.
    pub org_hint: Option<String>,
    pub requester_ip: Option<String>,
    pub user_agent: Option<String>,
    pub requested_at: i64,
    pub expires_at: i64,
    pub status: DeviceStatus,
    /// Once approved: the days the device token will last.
    pub token_days: Option<i64>,
}

/// Finds the request a person typed the code of, for someone who may decide
/// it. Unknown codes count against the approver and the IP; after 5 in a
/// minute every lookup answers 429.
pub async fn lookup(
    state: &AppState,
    principal: &Principal,
    user_code: &str,
    meta: &RequestMeta,
) -> Result<PendingRequest> {
    policy::check(principal, Act::DecideDevice)?;
    find_request(state, user_code, &principal.actor(), meta).await
}

/// The request behind a user code, if it can still be decided.
async fn pending(
    state: &AppState,
    principal: &Principal,
    user_code: &str,
    meta: &RequestMeta,
) -> Result<PendingRequest> {
    let request = lookup(state, principal, user_code, meta).await?;
    if request.status != DeviceStatus::Pending {
        return Err(not_pending(request.status));
    }
    Ok(request)
}

async fn find_request(
    state: &AppState,
    user_code: &str,
    approver: &Actor,
    meta: &RequestMeta,
) -> Result<PendingRequest> {
    let now = state.now();
    let found = match normalize_user_code(user_code) {
        Some(code) => {
            state
                .store
                .device_by_user_code_hash(&sha256_hex(&code))
                .await?
        }
        None => None,
    };
    let ip = meta.ip_key();
    let attempts = [
        (rate_limit::USER_CODE_PER_USER, approver.id().unwrap_or("-")),
        (rate_limit::USER_CODE_PER_IP, ip.as_str()),
    ];
    rate_limit::judge(state, &attempts, found.is_none()).await?;
    let Some(device) = found else {
        let audit = NewAuditEvent::new(now, approver.clone(), AuditAction::DeviceCodeFailed, meta)
            .detail("unknown user code entered");
        state.store.append_audit(&audit).await?;
        return Err(Flow::UnknownUserCode.into());
    };
    let status = if device.status == DeviceStatus::Pending && now >= device.expires_at {
        DeviceStatus::Expired
    } else {
        device.status
    };
    Ok(PendingRequest {
        id: device.id,
        client_id: device.client_id,
        device_name: device.device_name,
        org_hint: device.org_hint,
        requester_ip: device.requester_ip,
        user_agent: device.user_agent,
        requested_at: device.created_at,
        expires_at: device.expires_at,
        status,
        token_days: device.token_days,
    })
}

/// Whether the device asked from the approver's network: the same IPv4
/// address, or the same IPv6 /64. Unknown on either side is not the same.
pub fn same_network(request: &PendingRequest, approver: &RequestMeta) -> bool {
    let key = |ip: &Option<String>| {
        ip.as_deref()
            .and_then(|ip| ip.parse().ok())
            .map(crate::client_ip::limit_key)
    };
    matches!((key(&request.requester_ip), key(&approver.ip)), (Some(a), Some(b)) if a == b)
}

/// The error for a code that can no longer be decided.
pub fn not_pending(status: DeviceStatus) -> Error {
    Flow::NotPending(status).into()
}

fn already_used() -> Error {
    Flow::InvalidGrant("this device_code was already used".into()).into()
}

/// What the approver lets the device have: its full power (the default), or
/// only reading; and how long its token lasts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grant {
    /// Only `profile:read tokens:read`, however much the approver may do.
    pub read_only: bool,
    /// Days the device token lasts; `None`: the server's default
    /// (`DEVAUTH_TOKEN_TTL_DAYS`), which is also the most.
    pub days: Option<i64>,
}

/// The scopes a read-only grant keeps.
pub const READ_ONLY: [Scope; 2] = [Scope::ProfileRead, Scope::TokensRead];

/// The lifetimes the confirm page offers, days; the server's default (and
/// most) is offered too.
pub const OFFERED_DAYS: [i64; 3] = [7, 30, 90];

impl Grant {
    /// The device token's scopes: `inherited` (the approver's; empty: the
    /// full role), narrowed to reading when asked. Narrowing a scoped
    /// approver's scopes to nothing is refused: no scopes would be the full role.
    fn scopes(&self, inherited: Vec<Scope>) -> Result<Vec<Scope>> {
        if !self.read_only {
            return Ok(inherited);
        }
        if inherited.is_empty() {
            return Ok(READ_ONLY.to_vec());
        }
        let narrowed: Vec<Scope> = inherited
            .into_iter()
            .filter(|s| READ_ONLY.contains(s))
            .collect();
        if narrowed.is_empty() {
            return Err(Error::forbidden(
                "a read-only sign-in needs profile:read or tokens:read, which this token does not have",
            ));
        }
        Ok(narrowed)
    }

    /// The lifetime checked against the server's most.
    fn days(&self, most: i64) -> Result<Option<i64>> {
        match self.days {
            Some(days) if !(1..=most).contains(&days) => Err(Error::invalid(format!(
                "a device token lasts 1 to {most} days, not {days}"
            ))),
            days => Ok(days),
        }
    }
}

/// Approves a pending request into `org_slug`. A session approves into any
/// org its user belongs to, with the full role there; a token only into its
/// own org, and the device token gets the approving token's scopes. `grant`
/// may narrow both.
pub async fn approve(
    state: &AppState,
    principal: &Principal,
    user_code: &str,
    org_slug: &str,
    grant: Grant,
    meta: &RequestMeta,
) -> Result<PendingRequest> {
    grant.days(state.config.token_ttl_days)?;
    let request = pending(state, principal, user_code, meta).await?;
    // With a token: no browser sign-in (an org's `sign_in` policy may refuse it).
    approve_found(
        state, principal, None, request, user_code, org_slug, grant, meta,
    )
    .await
}

/// [`approve`] for a request the caller has just looked up ([`lookup`]) and
/// found pending (the confirm page, which checks more before approving). It
/// is recorded only if still pending.
#[allow(clippy::too_many_arguments)]
pub async fn approve_found(
    state: &AppState,
    principal: &Principal,
    signed_in_with: Option<crate::model::SignInMethod>,
    request: PendingRequest,
    user_code: &str,
    org_slug: &str,
    grant: Grant,
    meta: &RequestMeta,
) -> Result<PendingRequest> {
    let token_days = grant.days(state.config.token_ttl_days)?;
    let actor = principal.actor();
    let acting = acting_in(state, principal, org_slug).await?;
    let org = acting
        .org()
        .cloned()
        .ok_or_else(|| policy::outside_org(principal))?;
    policy::check(&acting, Act::ApproveDevice { org_id: &org.id })?;
    let (Some(user), Some(role)) = (acting.user(), acting.role()) else {
        return Err(policy::outside_org(principal).into());
    };
    if acting.scoped_to_nothing() {
        return Err(crate::tokens::nothing_to_inherit());
    }
    let scopes = grant.scopes(acting.inherited_scopes())?;
    let now = state.now();
    let org_policy = crate::org_policy::current(state, &org.id).await?;
    if let Some(reason) =
        org_policy.refusal(&org.name, request.requester_ip.as_deref(), signed_in_with)
    {
        let enforced = org_policy.mode == PolicyMode::Enforce;
        let action = if enforced {
            AuditAction::DevicePolicyDenied
        } else {
            AuditAction::DevicePolicyWouldDeny
        };
        let audit = NewAuditEvent::new(now, actor.clone(), action, meta)
            .target(request.id.clone())
            .org(org.id.clone())
            .detail(format!(
                "device {}: {reason}",
                request.device_name.as_deref().unwrap_or(&request.client_id)
            ));
        state.store.append_audit(&audit).await?;
        if enforced {
            return Err(Error::PolicyDenied(reason));
        }
    }
    let days = org_policy.cap_days(token_days.unwrap_or(state.config.token_ttl_days));
    let token_days = Some(days);
    let grant = match scopes_to_text(&scopes) {
        None => format!("as {role} for {days} days"),
        Some(limited) => format!("as {role}, limited to {limited}, for {days} days"),
    };
    let audit = NewAuditEvent::new(now, actor, AuditAction::DeviceApproved, meta)
        .target(request.id.clone())
        .org(org.id.clone())
        .detail(format!(
            "device {} {grant}",
            request.device_name.as_deref().unwrap_or(&request.client_id)
        ));
    let decision = DeviceDecision {
        status: DeviceStatus::Approved,
        user_id: user.id.clone(),
        org_id: Some(org.id.clone()),
        scopes,
        token_days,
    };
    let decided = decide(state, request, user_code, &decision, &audit, meta).await?;
    Ok(PendingRequest {
        token_days,
        ..decided
    })
}

/// The principal as it acts in the org named `slug`: a session takes the
/// user's role there; a token stays what it is (the policy refuses other orgs).
async fn acting_in(state: &AppState, principal: &Principal, slug: &str) -> Result<Principal> {
    if let Some(org) = principal.org().filter(|o| o.slug == slug) {
        if let Principal::Session { user, .. } = principal {
            let role = state.store.role_of(&org.id, &user.id).await?;
            return Ok(Principal::session_in(user.clone(), org.clone(), role));
        }
        return Ok(principal.clone());
    }
    let Principal::Session { user, .. } = principal else {
        return Err(policy::outside_org(principal).into());
    };
    let org = state.store.org_by_slug(slug).await?;
    let role = match &org {
        Some(org) => state.store.role_of(&org.id, &user.id).await?,
        None => None,
    };
    match (org, role) {
        (Some(org), Some(role)) => Ok(Principal::session_in(
            user.clone(),
            std::sync::Arc::new(org),
            Some(role),
        )),
        _ => Err(Error::forbidden(format!(
            "you are not a member of an organization `{slug}`"
        ))),
    }
}

pub async fn deny(
    state: &AppState,
    principal: &Principal,
    user_code: &str,
    meta: &RequestMeta,
) -> Result<PendingRequest> {
    let request = pending(state, principal, user_code, meta).await?;
    let Some(user) = principal.user() else {
        return Err(policy::outside_org(principal).into());
    };
    let actor = principal.actor();
    let now = state.now();
    let audit = NewAuditEvent::new(now, actor, AuditAction::DeviceDenied, meta)
        .target(request.id.clone())
        .detail(format!(
            "device {}",
            request.device_name.as_deref().unwrap_or(&request.client_id)
        ));
    let decision = DeviceDecision {
        status: DeviceStatus::Denied,
        user_id: user.id.clone(),
        org_id: None,
        scopes: Vec::new(),
        token_days: None,
    };
    decide(state, request, user_code, &decision, &audit, meta).await
}

/// Records an approval or denial of a still-pending request, counts it and
/// wakes the device; a request decided meanwhile answers with its new state.
async fn decide(
    state: &AppState,
    request: PendingRequest,
    user_code: &str,
    decision: &DeviceDecision,
    audit: &NewAuditEvent,
    meta: &RequestMeta,
) -> Result<PendingRequest> {
    let now = state.now();
    let status = decision.status;
    if !state
        .store
        .decide_device(&request.id, decision, now, audit)
        .await?
    {
        let fresh = find_request(state, user_code, &Actor::System, meta).await?;
        return Err(not_pending(fresh.status));
    }
    let counter = if status == DeviceStatus::Approved {
        &state.metrics.device_flows_approved
    } else {
        &state.metrics.device_flows_denied
    };
    Metrics::inc(counter, 1);
    state
        .publish(Event::DeviceDecided {
            device_id: request.id.clone(),
        })
        .await;
    Ok(PendingRequest { status, ..request })
}
