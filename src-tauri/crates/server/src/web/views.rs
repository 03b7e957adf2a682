//! Template structs and the small display helpers they use. Every value that
//! reaches a template is escaped by askama; nothing here builds HTML by hand.

use crate::clock::Timestamp;
use crate::model::{AuditEvent, Member, Role, Scope};
use crate::tokens::TokenView;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// What the shared header needs.
pub struct Layout {
    pub title: String,
    pub user: Option<String>,
    pub csrf: String,
}

/// "2026-11-23 16:40 UTC".
pub fn when(ts: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}

/// "in 3 days", "in 9 minutes", "2 hours ago".
/// How long ago `ts` was, to the second under a minute ("4 seconds ago").
pub fn age(ts: Timestamp, now: Timestamp) -> String {
    match now - ts {
        ..=0 => "just now".into(),
        1 => "1 second ago".into(),
        secs @ 2..60 => format!("{secs} seconds ago"),
        _ => relative(ts, now),
    }
}

pub fn relative(ts: Timestamp, now: Timestamp) -> String {
    let delta = ts - now;
    let abs = delta.abs();
    if abs < 60 {
        return "just now".into();
    }
    let amount = if abs >= 2 * 86_400 {
        format!("{} days", abs / 86_400)
    } else if abs >= 2 * 3600 {
        format!("{} hours", abs / 3600)
    } else if abs >= 120 {
        format!("{} minutes", abs / 60)
    } else {
        format!(
            "{} minute{}",
            abs / 60,
            if abs / 60 == 1 { "" } else { "s" }
        )
    };
    if delta >= 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// Renders a template as a page with a status.
pub fn render<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            response
                .extensions_mut()
                .insert(crate::request::Fault(format!(
                    "a page did not render: {err}"
                )));
            response
        }
    }
}

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub hint: String,
    pub owner: String,
    pub org: String,
    pub scopes: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    pub state: String,
    pub active: bool,
}

impl TokenRow {
    pub fn new(view: &TokenView, now: Timestamp) -> Self {
        let t = &view.token;
        let last_used = match (&t.last_used_at, &t.last_used_ip) {
            (Some(at), Some(ip)) => format!("{} from {ip}", relative(*at, now)),
            (Some(at), None) => relative(*at, now),
            _ => "never".into(),
        };
        let expires = match t.expires_at {
            None => "never".into(),
            Some(at) if at <= now => "expired".into(),
            Some(at) => format!("{} ({})", when(at), relative(at, now)),
        };
        let state = match (&t.revoked_at, view.state) {
            (Some(at), _) => format!(
                "revoked {}{}",
                relative(*at, now),
                t.revoked_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            (None, state) => state.to_string(),
        };
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            kind: t.kind.to_string(),
            hint: t.hint.clone(),
            owner: t.user_email.clone().unwrap_or_else(|| "(service)".into()),
            org: t.org_slug.clone(),
            scopes: if t.scopes.is_empty() {
                "role".into()
            } else {
                t.scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            },
            created: when(t.created_at),
            last_used,
            expires,
            active: view.state == crate::model::TokenState::Active,
            state,
        }
    }
}

pub struct OrgOption {
    pub slug: String,
    pub name: String,
    pub role: String,
}

/// A token value shown exactly once.
pub struct ShownOnce {
    pub name: String,
    pub value: String,
}

pub const SCOPES: &[Scope] = &[
    Scope::ProfileRead,
    Scope::TokensRead,
    Scope::TokensWrite,
    Scope::OrgAdmin,
];

pub fn scope_names() -> Vec<&'static str> {
    SCOPES.iter().map(|s| s.as_str()).collect()
}

/// One `<option>` of a role select.
pub struct RoleOption {
    pub name: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub heading: String,
    pub body: String,
    /// `ok`, `warn` or `error`: the colour of the panel.
    pub tone: &'static str,
    pub link: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    /// "Sign in", or what for ("Sign in to approve a device").
    pub heading: &'static str,
    pub error: Option<String>,
    pub email: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage {
    pub layout: Layout,
    pub error: Option<String>,
    pub email: String,
    pub name: String,
    pub org_name: String,
}

#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage {
    pub layout: Layout,
    pub error: Option<String>,
    /// Why the code was not filled in (a link from another site).
    pub notice: Option<String>,
    pub user_code: String,
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    /// The code as the form carries it back.
    pub user_code: String,
    /// Shown on the page only when the request came from this network;
    /// otherwise the person types it from the device (`confirm_code`).
    pub show_code: bool,
    pub error: Option<String>,
    /// Which field the error is about (`confirm_code`, `password`).
    pub error_field: &'static str,
    pub device_name: String,
    pub client_id: String,
    pub requester_ip: String,
    pub browser_ip: String,
    pub user_agent: String,
    /// "4 seconds ago", and the time itself.
    pub requested_ago: String,
    pub requested: String,
    pub expires: String,
    pub different_network: bool,
    /// The sign-in is older than `DEVAUTH_APPROVAL_MAX_AUTH_AGE`.
    pub needs_password: bool,
    /// That age in words ("2 hours").
    pub max_auth_age: String,
    pub orgs: Vec<OrgOption>,
    /// The org, access and lifetime chosen (kept when the form comes back).
    pub chosen_org: String,
    pub read_only: bool,
    pub days: Vec<DaysOption>,
}

/// A lifetime the approver may give the device token.
pub struct DaysOption {
    pub days: i64,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub layout: Layout,
    pub email: String,
    pub name: String,
    pub tokens: Vec<TokenRow>,
    /// Devices signed in as this user lately, still active.
    pub recent: Vec<TokenRow>,
    pub orgs: Vec<OrgOption>,
    pub admin_orgs: Vec<OrgOption>,
    pub shown_once: Option<ShownOnce>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub scopes: Vec<&'static str>,
}

pub struct MemberRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub joined: String,
    pub disabled: bool,
    pub role_options: Vec<RoleOption>,
}

impl MemberRow {
    pub fn new(member: &Member) -> Self {
        Self {
            id: member.user.id.to_string(),
            email: member.user.email.clone(),
            name: member.user.name.clone(),
            joined: when(member.joined_at),
            disabled: member.user.disabled_at.is_some(),
            role_options: Role::ALL
                .iter()
                .map(|r| RoleOption {
                    name: r.as_str(),
                    selected: *r == member.role,
                })
                .collect(),
        }
    }
}

pub struct EventRow {
    pub at: String,
    pub action: String,
    pub actor: String,
    pub target: String,
    pub ip: String,
    pub detail: String,
}

impl EventRow {
    pub fn new(event: &AuditEvent) -> Self {
        Self {
            at: when(event.at),
            action: event.action.clone(),
            actor: event.actor.clone(),
            target: event.target.clone().unwrap_or_default(),
            ip: event.ip.clone().unwrap_or_default(),
            detail: event.detail.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin.html")]
pub struct AdminPage {
    pub layout: Layout,
    pub org_slug: String,
    pub org_name: String,
    pub members: Vec<MemberRow>,
    pub tokens: Vec<TokenRow>,
    pub events: Vec<EventRow>,
    pub filter_action: String,
    pub filter_actor: String,
    pub next_before: Option<i64>,
    pub shown_once: Option<ShownOnce>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub scopes: Vec<&'static str>,
    pub policy: PolicyView,
}

/// An org's device policy as the admin page shows and edits it.
pub struct PolicyView {
    pub describe: String,
    pub on: bool,
    pub networks: String,
    pub days: String,
    pub report: bool,
    /// Owners change it; admins only see it.
    pub editable: bool,
    pub most_days: i64,
}

impl PolicyView {
    pub fn new(
        policy: &crate::device_policy::DevicePolicy,
        editable: bool,
        most_days: i64,
    ) -> Self {
        PolicyView {
            describe: policy.describe(),
            on: policy.device_flow,
            networks: policy
                .device_networks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            days: policy
                .device_token_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            report: policy.mode == crate::device_policy::PolicyMode::Report,
            editable,
            most_days,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_index.html")]
pub struct AdminIndexPage {
    pub layout: Layout,
    pub orgs: Vec<OrgOption>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_count_seconds_under_a_minute() {
        assert_eq!(super::age(100, 100), "just now");
        assert_eq!(super::age(100, 101), "1 second ago");
        assert_eq!(super::age(100, 104), "4 seconds ago");
        assert_eq!(super::age(100, 100 + 5 * 60), "5 minutes ago");
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(super::relative(100 + 3 * 86_400, 100), "in 3 days");
        assert_eq!(super::relative(100, 100 + 7200), "2 hours ago");
        assert_eq!(super::relative(700, 100), "in 10 minutes");
        assert_eq!(super::relative(100, 130), "just now");
        assert_eq!(super::relative(190, 100), "in 1 minute");
        assert_eq!(super::when(1_767_225_600), "2026-01-01 00:00 UTC");
    }
}
