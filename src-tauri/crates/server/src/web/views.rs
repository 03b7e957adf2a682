//! Template structs and the small display helpers they use. Every value that
//! reaches a template is escaped by askama; nothing here builds HTML by hand.

use crate::clock::Timestamp;
use crate::model::{Role, Scope};
use crate::tokens::TokenView;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// What the shared header needs.
pub struct Layout {
    pub title: String,
    pub user: Option<String>,
    /// Whether to offer the Admin link.
    pub admin: bool,
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

/// How long to wait, as people say it: "45 seconds", "about 5 minutes".
pub fn wait_words(secs: i64) -> String {
    match secs {
        ..=1 => "a second".into(),
        2..60 => format!("{secs} seconds"),
        60..90 => "about a minute".into(),
        _ => format!("about {} minutes", (secs + 30) / 60),
    }
}

/// The time as RFC 3339 ("2026-11-23T16:40:00Z"), for `<time datetime>`.
pub fn iso(ts: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
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

#[derive(Clone)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// A device token: signed out, not rotated.
    pub device: bool,
    pub hint: String,
    pub owner: String,
    pub org: String,
    /// In words: "Full access (member)", "Read only".
    pub scopes: String,
    pub created: String,
    /// `created` as RFC 3339, for `<time datetime>`.
    pub created_iso: String,
    pub last_used: String,
    /// The client of that last use (its `User-Agent`, shortened).
    pub last_used_agent: String,
    pub expires: String,
    pub state: String,
    pub active: bool,
    pub revoke_ask: Confirmation,
    pub rotate_ask: Confirmation,
}

impl TokenRow {
    /// The rows of a list; a rotated token names its replacement by hint
    /// when the list has it, and a token without scopes says what its
    /// holder's role (from `role_of`) gives it.
    pub fn all(
        views: &[TokenView],
        now: Timestamp,
        role_of: impl Fn(&crate::model::Token) -> Option<Role>,
    ) -> Vec<TokenRow> {
        let known = Known {
            hints: views
                .iter()
                .map(|v| (v.token.id.to_string(), v.token.hint.as_str()))
                .collect(),
            holders: views
                .iter()
                .map(|v| {
                    let holder = v.token.user_email.as_deref().unwrap_or("a service token");
                    (v.token.hint.as_str(), holder)
                })
                .collect(),
        };
        views
            .iter()
            .map(|v| TokenRow::new(v, now, role_of(&v.token), &known))
            .collect()
    }

    fn new(view: &TokenView, now: Timestamp, role: Option<Role>, known: &Known) -> Self {
        let t = &view.token;
        let last_used = match (&t.last_used_at, &t.last_used_ip) {
            (Some(at), Some(ip)) => format!("{} from {ip}", relative(*at, now)),
            (Some(at), None) => relative(*at, now),
            _ => "never".into(),
        };
        let expires = match t.expires_at {
            _ if t.revoked_at.is_some() => "—".into(),
            None => "never".into(),
            Some(at) if at <= now => format!("expired {}", relative(at, now)),
            Some(at) => format!("{} ({})", when(at), relative(at, now)),
        };
        let state = match (&t.revoked_at, view.state) {
            (Some(at), _) => format!(
                "Revoked {}: {}",
                relative(*at, now),
                revocation_words(t, known)
            ),
            (None, crate::model::TokenState::Active) => "Active".into(),
            (None, crate::model::TokenState::Expired) => "Expired".into(),
            (None, state) => capitalize_word(&state.to_string()),
        };
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            kind: t.kind.to_string(),
            device: t.kind == crate::model::TokenKind::Device,
            hint: t.hint.clone(),
            owner: t.user_email.clone().unwrap_or_else(|| "(service)".into()),
            org: t.org_slug.clone(),
            scopes: if t.kind == crate::model::TokenKind::Service && t.scopes.is_empty() {
                // What a service token without scopes may do (the policy's rule).
                "Profile only".into()
            } else {
                scope_words(&t.scopes, role)
            },
            created: when(t.created_at),
            created_iso: iso(t.created_at),
            last_used,
            last_used_agent: t
                .last_used_agent
                .as_deref()
                .map(|a| {
                    let short: String = a.chars().take(60).collect();
                    if short.len() < a.len() {
                        format!("{short}…")
                    } else {
                        short
                    }
                })
                .unwrap_or_default(),
            expires,
            active: view.state == crate::model::TokenState::Active,
            state,
            revoke_ask: Confirmation::revoke(t),
            rotate_ask: Confirmation::rotate(t),
        }
    }
}

fn capitalize_word(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What a list knows of its tokens: hints by id, holders by hint.
pub struct Known<'a> {
    hints: std::collections::HashMap<String, &'a str>,
    holders: std::collections::HashMap<&'a str, &'a str>,
}

/// Why a token was revoked, as a person would say it.
pub fn revocation_words(t: &crate::model::Token, known: &Known) -> String {
    let reason = t.revoked_reason.as_deref().unwrap_or("revoked");
    let by = t.revoked_by.as_deref().unwrap_or("someone");
    // A token acted: name whose it was.
    let by = known.holders.get(by).copied().unwrap_or(by);
    if let Some(id) = reason.strip_prefix("rotated to ") {
        return match known.hints.get(id) {
            Some(hint) => format!("rotated, replaced by {hint}"),
            None => "rotated, replaced by a new token".into(),
        };
    }
    if let Some(org) = reason.strip_prefix("removed from ") {
        return format!("its owner was removed from {org}");
    }
    match reason {
        "rotated" => "rotated".into(),
        "user disabled" => "its owner's account was disabled".into(),
        "revoked by its holder (RFC 7009)" if t.kind == crate::model::TokenKind::Device => {
            "signed out on the device".into()
        }
        "revoked by its holder (RFC 7009)" => "revoked by whoever held it".into(),
        "revoked" if t.kind == crate::model::TokenKind::Device => format!("signed out by {by}"),
        "revoked" => format!("by {by}"),
        other => other.replace('`', ""),
    }
}

/// What a token may do, in words.
pub fn scope_words(scopes: &[Scope], role: Option<Role>) -> String {
    if scopes.is_empty() {
        return match role {
            Some(role) => format!("Full access ({role})"),
            None => "Full access (its holder's role)".into(),
        };
    }
    let has = |s: Scope| scopes.contains(&s);
    if scopes.len() == 2 && has(Scope::ProfileRead) && has(Scope::TokensRead) {
        return "Read only".into();
    }
    let words: Vec<&str> = SCOPES
        .iter()
        .filter(|s| has(**s))
        .map(|s| match s {
            Scope::ProfileRead => "profile",
            Scope::TokensRead => "list tokens",
            Scope::TokensWrite => "manage tokens",
            Scope::OrgAdmin => "administer the organization",
        })
        .collect();
    capitalize_word(&words.join(", "))
}

/// The question a destructive act asks first, on its page or in a dialog.
#[derive(Clone)]
pub struct Confirmation {
    pub heading: String,
    pub consequences: Vec<String>,
    pub button: String,
}

impl Confirmation {
    /// The consequences as one paragraph (the dialog's text).
    pub fn body(&self) -> String {
        self.consequences.join(" ")
    }

    pub fn revoke(t: &crate::model::Token) -> Confirmation {
        if t.kind == crate::model::TokenKind::Device {
            return Confirmation {
                heading: format!("Sign out “{}”?", t.name),
                consequences: vec![format!(
                    "The device is signed out at once ({} stops working) and must sign in again.",
                    t.hint
                )],
                button: "Sign out device".into(),
            };
        }
        Confirmation {
            heading: format!("Revoke “{}”?", t.name),
            consequences: vec![
                format!("Anything using {} stops working now.", t.hint),
                "This cannot be undone.".into(),
            ],
            button: "Revoke".into(),
        }
    }

    /// The notice after [`Confirmation::revoke`].
    pub fn revoked(t: &crate::model::Token) -> String {
        if t.kind == crate::model::TokenKind::Device {
            format!("Signed out “{}”.", t.name)
        } else {
            format!("Revoked “{}” ({}).", t.name, t.hint)
        }
    }

    pub fn rotate(t: &crate::model::Token) -> Confirmation {
        Confirmation {
            heading: format!("Rotate “{}”?", t.name),
            consequences: vec![
                format!("{} stops working now.", t.hint),
                "Its replacement is shown once, here: copy it to whatever used the old one.".into(),
            ],
            button: "Rotate".into(),
        }
    }
}

/// The token form as sent back, with what is wrong beside each field.
#[derive(Default)]
pub struct TokenForm {
    pub name: String,
    pub org: String,
    pub expires: String,
    pub custom_date: String,
    pub scopes: Vec<String>,
    /// Field name and what is wrong with it.
    pub errors: Vec<(&'static str, String)>,
    /// An active token has this name: the form offers `duplicate=yes`.
    pub duplicate: bool,
}

impl TokenForm {
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, e)| e.as_str())
    }

    /// The first field with a problem (the page puts the focus there).
    pub fn first_error(&self) -> Option<&str> {
        self.errors.first().map(|(f, _)| *f)
    }

    pub fn has_scope(&self, scope: &&str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    pub fn expires_is(&self, value: &str) -> bool {
        match self.expires.as_str() {
            "" => value == "90d",
            chosen => chosen == value,
        }
    }

    pub fn org_is(&self, slug: &str) -> bool {
        self.org == slug
    }
}

/// The choices of a token's lifetime: the value and its words.
pub const EXPIRY_CHOICES: &[(&str, &str)] = &[
    ("30d", "in 30 days"),
    ("90d", "in 90 days"),
    ("365d", "in 365 days"),
    ("never", "never"),
    ("custom", "on a date…"),
];

pub struct OrgOption {
    pub slug: String,
    pub name: String,
    pub role: String,
}

pub use super::flash::ShownOnce;

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
    pub notice: Option<&'static str>,
    pub email: String,
    pub next: String,
    /// The single sign-on buttons: provider id and name.
    pub sso: Vec<(String, String)>,
    /// Whether to offer "Forgot your password?" (the server sends mail).
    pub forgot: bool,
    /// Whether to offer "Sign in with a passkey".
    pub passkeys: bool,
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage {
    pub layout: Layout,
    pub error: Option<String>,
    pub email: String,
    pub name: String,
    pub org_name: String,
    /// The slug the org name gives ("acme-corp"), shown beside it.
    pub org_slug: String,
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
    /// "Sign in devauth CLI on “Bob's laptop”?".
    pub heading: String,
    /// The org the device asked for, if it named one.
    pub org_hint: Option<String>,
    /// That org, when the approver is not a member of it.
    pub hint_elsewhere: Option<String>,
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
    /// The sign-in (with a password) is older than `DEVAUTH_APPROVAL_MAX_AUTH_AGE`.
    pub needs_password: bool,
    /// Sign in again through a provider first (an old single sign-on, or an
    /// org that wants it): the providers' ids and names.
    pub sso_again: Vec<(String, String)>,
    /// Where such a sign-in comes back to: this request's page.
    pub again_next: String,
    /// Sign in again with a passkey first (an old passkey sign-in, or an
    /// org that wants one).
    pub passkey_again: bool,
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
    pub warning: Option<String>,
    pub error: Option<String>,
    pub form: TokenForm,
    pub password_error: Option<(&'static str, String)>,
    pub scopes: Vec<&'static str>,
    /// The server's single sign-on providers, and whether each signs in to this account.
    pub sso: Vec<SsoRow>,
    /// Whether the account has a password (one made through a provider has none).
    pub has_password: bool,
    /// The account's passkeys; `None` when passkeys are off on this server.
    pub passkeys: Option<Vec<PasskeyView>>,
}

/// A passkey on the account page.
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub added: String,
    pub last_used: String,
}

/// A single sign-on provider on the account page.
pub struct SsoRow {
    pub id: String,
    pub name: String,
    /// The email the provider gave, when connected.
    pub connected_as: Option<String>,
}

impl AccountPage {
    /// The password form's error, when it is about `field`.
    pub fn password_error_for(&self, field: &str) -> Option<&str> {
        self.password_error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, e)| e.as_str())
    }

    pub fn expiry_choices(&self) -> &'static [(&'static str, &'static str)] {
        EXPIRY_CHOICES
    }
}

/// The page that asks before a destructive act.
#[derive(Template)]
#[template(path = "confirm_act.html")]
pub struct ConfirmActPage {
    pub layout: Layout,
    pub ask: Confirmation,
    /// Where the confirmed form goes.
    pub action: String,
    /// The form's fields, sent again.
    pub fields: Vec<(String, String)>,
    pub cancel: String,
}

pub struct MemberRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub joined: String,
    pub joined_iso: String,
    pub disabled: bool,
    /// The roles the viewer may move this member to (empty: none).
    pub role_options: Vec<RoleOption>,
    /// Whether the viewer may remove them.
    pub removable: bool,
    /// Why the controls are not there, when they are not ("The only owner").
    pub locked: Option<String>,
    pub remove_ask: Confirmation,
    pub reset_ask: Confirmation,
}

/// A text as one component of a query string.
pub fn query_component(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One of the admin console's sections (tabs that are plain links).
pub struct SectionLink {
    pub href: String,
    pub label: String,
    pub current: bool,
}

/// Paging links: each `None` where there is nowhere to go.
#[derive(Default)]
pub struct Paging {
    pub newest: Option<String>,
    pub newer: Option<String>,
    pub older: Option<String>,
}

impl Paging {
    pub fn any(&self) -> bool {
        self.newer.is_some() || self.older.is_some()
    }
}

/// One choice of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// What the members section shows.
pub struct MembersView {
    pub rows: Vec<MemberRow>,
    /// The roles the viewer may give a new member.
    pub grantable: Vec<Choice>,
    /// Invitations not yet accepted.
    pub invitations: Vec<InvitationRow>,
}

/// A pending invitation in the members section.
pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub expires: String,
    pub withdraw_ask: Confirmation,
}

/// What the token sections show.
pub struct TokensView {
    pub rows: Vec<TokenRow>,
    pub query: String,
    pub all_states: bool,
    /// Revoked and expired tokens hidden by the default view.
    pub hidden: usize,
    pub show_hidden: String,
    /// "56 active tokens", "1 token".
    pub count: String,
    pub paging: Paging,
    /// Service tokens only: the creation form and who made each.
    pub service: bool,
}

/// One row of the log on the page.
pub struct EventRow {
    pub at: String,
    pub at_iso: String,
    pub action: String,
    pub actor: String,
    pub target: String,
    /// Where the target is shown in the console, if it is.
    pub target_link: Option<String>,
    pub ip: String,
    pub detail: String,
}

/// What the audit section shows.
pub struct AuditView {
    pub rows: Vec<EventRow>,
    pub actions: Vec<Choice>,
    pub actor: String,
    pub since: String,
    pub until: String,
    pub filtered: bool,
    pub paging: Paging,
    pub csv: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin.html")]
pub struct AdminPage {
    pub layout: Layout,
    pub org_slug: String,
    pub org_name: String,
    pub sections: Vec<SectionLink>,
    pub members: Option<MembersView>,
    pub tokens: Option<TokensView>,
    pub audit: Option<AuditView>,
    pub policy: Option<PolicyView>,
    pub shown_once: Option<ShownOnce>,
    pub notice: Option<String>,
    pub warning: Option<String>,
    pub error: Option<String>,
    /// The field `error` is about, if one is (then it is shown beside it).
    pub field: Option<&'static str>,
    /// The failed form's values, to fill in again.
    pub kept: Vec<(String, String)>,
    pub scopes: Vec<&'static str>,
}

impl AdminPage {
    /// The error, when it is about `field`.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.error.as_deref().filter(|_| self.field == Some(field))
    }

    /// The error for the whole page: one about no field.
    pub fn page_error(&self) -> Option<&str> {
        self.error.as_deref().filter(|_| self.field.is_none())
    }

    /// What was typed into `field` before the form came back.
    pub fn kept(&self, field: &str) -> &str {
        self.kept
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
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
    /// The sign-in methods that may approve: (value, label, ticked).
    pub sign_in: Vec<(&'static str, &'static str, bool)>,
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
            sign_in: vec![
                (
                    "password",
                    "a password",
                    policy
                        .sign_in
                        .contains(&crate::model::SignInMethod::Password),
                ),
                (
                    "sso",
                    "single sign-on",
                    policy.sign_in.contains(&crate::model::SignInMethod::Sso),
                ),
                (
                    "passkey",
                    "a passkey",
                    policy
                        .sign_in
                        .contains(&crate::model::SignInMethod::Passkey),
                ),
            ],
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
    fn waits_read_naturally() {
        assert_eq!(super::wait_words(45), "45 seconds");
        assert_eq!(super::wait_words(286), "about 5 minutes");
        assert_eq!(super::wait_words(61), "about a minute");
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
