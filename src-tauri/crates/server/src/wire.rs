//! Domain values in the shape of the wire contract (`devauth-proto`): the one
//! place that turns a stored user, org, member, token, audit event or device
//! request into what the JSON API and the admin CLI's `--json` show.

use crate::clock::{Timestamp, rfc3339};
use crate::device_flow::PendingRequest;
use crate::model::{AuditEvent, Member, Org, Token, User};
use crate::tokens::{Issued, TokenView};
use devauth_proto as proto;

pub fn time(ts: Timestamp) -> proto::Time {
    rfc3339(ts)
}

pub fn opt_time(ts: Option<Timestamp>) -> Option<proto::Time> {
    ts.map(rfc3339)
}

pub fn user(user: &User) -> proto::User {
    proto::User {
        id: user.id.to_string(),
        email: user.email.clone(),
        name: user.name.clone(),
        disabled_at: opt_time(user.disabled_at),
        created_at: time(user.created_at),
    }
}

pub fn org(org: &Org) -> proto::Org {
    proto::Org {
        id: org.id.to_string(),
        slug: org.slug.clone(),
        name: org.name.clone(),
        created_at: time(org.created_at),
    }
}

pub fn member(member: &Member) -> proto::Member {
    proto::Member {
        user: user(&member.user),
        role: member.role,
        joined_at: time(member.joined_at),
    }
}

pub fn members(members: &[Member]) -> proto::MemberList {
    proto::MemberList {
        members: members.iter().map(member).collect(),
    }
}

pub fn token(view: &TokenView) -> proto::TokenInfo {
    token_info(&view.token, view.state)
}

fn token_info(t: &Token, state: proto::TokenState) -> proto::TokenInfo {
    proto::TokenInfo {
        id: t.id.to_string(),
        hint: t.hint.clone(),
        name: t.name.clone(),
        kind: t.kind,
        user_id: t.user_id.as_ref().map(ToString::to_string),
        user_email: t.user_email.clone(),
        org_id: t.org_id.to_string(),
        org_slug: t.org_slug.clone(),
        scopes: t.scopes.clone(),
        created_at: time(t.created_at),
        expires_at: opt_time(t.expires_at),
        last_used_at: opt_time(t.last_used_at),
        last_used_ip: t.last_used_ip.clone(),
        revoked_at: opt_time(t.revoked_at),
        revoked_by: t.revoked_by.clone(),
        revoked_reason: t.revoked_reason.clone(),
        state,
    }
}

pub fn tokens(views: &[TokenView]) -> proto::TokenList {
    proto::TokenList {
        tokens: views.iter().map(token).collect(),
    }
}

/// A token just made, with its secret shown this once.
pub fn issued(issued: &Issued) -> proto::IssuedToken {
    proto::IssuedToken {
        token: proto::Secret::new(issued.token.expose()),
        info: token(&issued.info),
    }
}

pub fn audit_event(e: &AuditEvent) -> proto::AuditEvent {
    proto::AuditEvent {
        id: e.id,
        at: time(e.at),
        actor_kind: e.actor_kind.clone(),
        actor_id: e.actor_id.clone(),
        actor: e.actor.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        org_id: e.org_id.clone(),
        ip: e.ip.clone(),
        user_agent: e.user_agent.clone(),
        request_id: e.request_id.clone(),
        detail: e.detail.clone(),
    }
}

/// A device request as `approver` (the caller) sees it.
pub fn device_request(
    r: &PendingRequest,
    approver: &crate::model::RequestMeta,
) -> proto::DeviceRequestOne {
    proto::DeviceRequestOne {
        request: proto::DeviceRequest {
            client_id: r.client_id.clone(),
            device_name: r.device_name.clone(),
            org_hint: r.org_hint.clone(),
            requester_ip: r.requester_ip.clone(),
            same_network: crate::device_flow::same_network(r, approver),
            user_agent: r.user_agent.clone(),
            requested_at: time(r.requested_at),
            expires_at: time(r.expires_at),
            status: r.status,
            token_days: r.token_days,
        },
    }
}

pub fn device_policy(policy: &crate::device_policy::DevicePolicy) -> proto::DevicePolicy {
    use crate::device_policy::PolicyMode;
    proto::DevicePolicy {
        device_flow: if policy.device_flow {
            proto::DeviceFlowSwitch::On
        } else {
            proto::DeviceFlowSwitch::Off
        },
        device_networks: policy
            .device_networks
            .iter()
            .map(ToString::to_string)
            .collect(),
        device_token_days: policy.device_token_days,
        mode: match policy.mode {
            PolicyMode::Enforce => proto::PolicyMode::Enforce,
            PolicyMode::Report => proto::PolicyMode::Report,
        },
        sign_in: policy.sign_in.clone(),
    }
}

pub fn policy_change(change: proto::DevicePolicyChange) -> crate::org_policy::PolicyChange {
    use crate::device_policy::PolicyMode;
    crate::org_policy::PolicyChange {
        device_flow: change.device_flow.map(|s| s == proto::DeviceFlowSwitch::On),
        device_networks: change.device_networks,
        device_token_days: change.device_token_days,
        mode: change.mode.map(|m| match m {
            proto::PolicyMode::Enforce => PolicyMode::Enforce,
            proto::PolicyMode::Report => PolicyMode::Report,
        }),
        sign_in: change.sign_in,
    }
}

pub fn invitation(i: &crate::model::Invitation) -> proto::Invitation {
    proto::Invitation {
        id: i.id.clone(),
        email: i.email.clone(),
        role: i.role,
        invited_by: i.invited_by_email.clone(),
        created_at: time(i.created_at),
        expires_at: time(i.expires_at),
    }
}
