//! `/admin/{org}`: the console of an org you administer, in sections that
//! are plain links: Members (and roles; removal revokes the member's tokens
//! and says how many), Tokens and Service tokens (active ones first, search,
//! paging), Audit (in words, filtered, as CSV) and Device policy.
//!
//! Controls are shown only where the policy module allows them; where one
//! stays visible it says why it does nothing. Every form redirects back to
//! its section after it succeeds, and destructive ones ask first.

use super::audit_log::{self, Names};
use super::flash::Flash;
use super::page::{
    confirm_page, confirmed, error_page, layout, message, refuse_post, see_other, sentence,
    status_of, to_login, with_fault,
};
use super::session::{Visitor, WebForm};
use super::views::*;
use crate::audit;
use crate::device_policy::PolicyMode;
use crate::error::{Error, Result};
use crate::members;
use crate::model::{AuditAction, AuditQuery, Member, Org, Role, RoleExt, TokenKind, parse_scopes};
use crate::org_policy::{self, PolicyChange};
use crate::policy::{self, Act, Principal};
use crate::state::AppState;
use crate::tokens::{self, TokenRequest, TokenView};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::Arc;

/// Tokens per page of the token sections.
const TOKENS_PER_PAGE: usize = 25;
/// Events per page of the audit section.
const EVENTS_PER_PAGE: i64 = 50;
/// Most events one CSV export holds.
const CSV_MAX_EVENTS: i64 = 5_000;

/// The page: the orgs you administer (straight to the only one).
#[utoipa::path(get, path = "/admin", operation_id = "page_admin_index", tag = "pages",
    responses((status = 200, description = "the list", content_type = "text/html"), (status = 303, description = "to the only org, or to `/login`")))]
pub async fn index(State(state): State<AppState>, visitor: Visitor) -> Response {
    let Some(user) = visitor.user.clone() else {
        return visitor.finish(to_login("/admin"));
    };
    let orgs: Vec<OrgOption> = match state.store.orgs_of_user(&user.id).await {
        Ok(orgs) => orgs
            .into_iter()
            .filter(|(_, role)| role.administers())
            .map(|(org, role)| OrgOption {
                slug: org.slug,
                name: org.name,
                role: role.to_string(),
            })
            .collect(),
        Err(err) => return error_page(&visitor, err.into()),
    };
    if let [only] = orgs.as_slice() {
        return visitor.finish(Redirect::to(&format!("/admin/{}", only.slug)).into_response());
    }
    let page = AdminIndexPage {
        layout: layout(&visitor, "Administration"),
        orgs,
    };
    visitor.finish(render(StatusCode::OK, &page))
}

/// The signed-in user acting in `slug`, if the policy lets them administer it.
async fn admin_of(
    state: &AppState,
    visitor: &Visitor,
    slug: &str,
) -> Result<(Principal, Arc<Org>)> {
    let user = visitor.user.clone().ok_or(Error::Unauthenticated)?;
    let refused =
        || Error::forbidden("only owners and admins of this organization can see this page");
    let org = Arc::new(state.store.org_by_slug(slug).await?.ok_or_else(refused)?);
    let role = state.store.role_of(&org.id, &user.id).await?;
    let principal = Principal::session_in(user, org.clone(), role);
    policy::check(&principal, Act::ListMembers { org_id: &org.id }).map_err(|_| refused())?;
    Ok((principal, org))
}

fn denied(visitor: &Visitor, err: Error) -> Response {
    let mut response = message(
        visitor,
        status_of(&err),
        "Not allowed",
        &sentence(&err.to_string()),
        "error",
        Some(("/account", "Back to your account")),
    );
    with_fault(&mut response, &err);
    response
}

/// The sections, in the order of their tabs.
const SECTIONS: &[(&str, &str, &str)] = &[
    ("members", "", "Members"),
    ("tokens", "/tokens", "Tokens"),
    ("service-tokens", "/service-tokens", "Service tokens"),
    ("audit", "/audit", "Audit log"),
    ("policy", "/policy", "Device policy"),
];

fn section_path(slug: &str, section: &str) -> String {
    let tail = SECTIONS
        .iter()
        .find(|(name, _, _)| *name == section)
        .map(|(_, tail, _)| *tail)
        .unwrap_or_default();
    format!("/admin/{slug}{tail}")
}

/// What a page of the console says beside its section.
#[derive(Default)]
struct Said {
    status: Option<StatusCode>,
    flash: Flash,
    error: Option<String>,
    /// The field the error is about, if one is.
    field: Option<&'static str>,
    /// The form as it was sent, to fill in again.
    kept: Vec<(String, String)>,
}

/// Why a form failed, and the field it is about.
struct Failed {
    field: Option<&'static str>,
    err: Error,
}

impl<E: Into<Error>> From<E> for Failed {
    fn from(err: E) -> Failed {
        Failed {
            field: None,
            err: err.into(),
        }
    }
}

/// Ties an error to the field it is about.
fn at(field: &'static str) -> impl FnOnce(Error) -> Failed {
    move |err| Failed {
        field: Some(field),
        err,
    }
}

/// What a section shows.
enum Body {
    Members(MembersView),
    Tokens(TokensView),
    Audit(AuditView),
    Policy(PolicyView),
}

fn page(visitor: &Visitor, org: &Org, section: &'static str, body: Body, said: Said) -> Response {
    let mut page = AdminPage {
        layout: layout(visitor, &format!("{} · {}", label_of(section), org.name)),
        org_slug: org.slug.clone(),
        org_name: org.name.clone(),
        sections: SECTIONS
            .iter()
            .map(|(name, _, label)| SectionLink {
                href: section_path(&org.slug, name),
                label: label.to_string(),
                current: *name == section,
            })
            .collect(),
        members: None,
        tokens: None,
        audit: None,
        policy: None,
        shown_once: said.flash.shown_once,
        notice: said.flash.notice,
        warning: said.flash.warning,
        error: said.error,
        field: said.field,
        kept: said.kept,
        scopes: scope_names(),
    };
    match body {
        Body::Members(v) => page.members = Some(v),
        Body::Tokens(v) => page.tokens = Some(v),
        Body::Audit(v) => page.audit = Some(v),
        Body::Policy(v) => page.policy = Some(v),
    }
    visitor.finish(render(said.status.unwrap_or(StatusCode::OK), &page))
}

fn label_of(section: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|(name, _, _)| *name == section)
        .map(|(_, _, label)| *label)
        .unwrap_or("Admin")
}

/// Opens a section: signed in, an administrator there, and the note the
/// last form left (once).
async fn open_section(
    state: &AppState,
    visitor: &mut Visitor,
    slug: &str,
    path: &str,
) -> std::result::Result<(Principal, Arc<Org>, Said), Response> {
    if visitor.user.is_none() {
        return Err(visitor.finish(to_login(path)));
    }
    let (principal, org) = admin_of(state, visitor, slug)
        .await
        .map_err(|err| denied(visitor, err))?;
    let flash = visitor
        .take_flash(state)
        .await
        .map_err(|err| error_page(visitor, err))?
        .unwrap_or_default();
    Ok((
        principal,
        org,
        Said {
            flash,
            ..Said::default()
        },
    ))
}

// ----- Members -----------------------------------------------------------

/// The old single page's audit filters (`?action=`, `?actor=`, `?before=`)
/// now lead to the audit section.
#[derive(Deserialize, Default)]
pub struct OldFilter {
    action: Option<String>,
    actor: Option<String>,
    before: Option<i64>,
}

/// The page: the members section of an org you administer (roles, removal, adding an existing user).
#[utoipa::path(get, path = "/admin/{org}", operation_id = "page_admin_show", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, description = "the members section", content_type = "text/html"), (status = 303, description = "old audit filters: to the audit section; not signed in: to `/login`"), (status = 403, description = "not an owner or admin there", content_type = "text/html")))]
pub async fn show(
    State(state): State<AppState>,
    mut visitor: Visitor,
    Path(slug): Path<String>,
    Query(old): Query<OldFilter>,
) -> Response {
    if old.action.is_some() || old.actor.is_some() || old.before.is_some() {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("action", old.action), ("actor", old.actor)] {
            if let Some(v) = v {
                query.append_pair(k, &v);
            }
        }
        if let Some(before) = old.before {
            query.append_pair("before", &before.to_string());
        }
        let to = format!("/admin/{slug}/audit?{}", query.finish());
        return visitor.finish(Redirect::to(&to).into_response());
    }
    let (principal, org, said) =
        match open_section(&state, &mut visitor, &slug, &format!("/admin/{slug}")).await {
            Ok(opened) => opened,
            Err(response) => return response,
        };
    members_page(&state, &visitor, &principal, &org, said).await
}

async fn members_page(
    state: &AppState,
    visitor: &Visitor,
    principal: &Principal,
    org: &Org,
    said: Said,
) -> Response {
    let loaded = async {
        let members = members::list(state, principal, org).await?;
        let tokens = tokens::list(state, principal, true).await?;
        let invitations = crate::invitations::pending(state, principal, org).await?;
        Ok::<_, Error>((members, tokens, invitations))
    }
    .await;
    let (members, tokens, invitations) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return error_page(visitor, err),
    };
    let now = state.now();
    let invitations = invitations
        .iter()
        .map(|i| InvitationRow {
            id: i.id.clone(),
            email: i.email.clone(),
            role: i.role.to_string(),
            invited_by: i.invited_by_email.clone().unwrap_or_default(),
            expires: relative(i.expires_at, now),
            withdraw_ask: withdraw_ask(&i.email),
        })
        .collect();
    let owners = members.iter().filter(|m| m.role == Role::Owner).count();
    let rows = members
        .iter()
        .map(|m| member_row(principal, org, m, owners, &tokens, now))
        .collect();
    let grantable = Role::ALL
        .iter()
        .filter(|r| {
            policy::check(
                principal,
                Act::AddMember {
                    org_id: &org.id,
                    role: **r,
                },
            )
            .is_ok()
        })
        .map(|r| Choice {
            value: r.as_str().into(),
            label: r.as_str().into(),
            selected: *r == Role::Member,
        })
        .collect();
    let body = Body::Members(MembersView {
        rows,
        grantable,
        invitations,
    });
    page(visitor, org, "members", body, said)
}

fn member_row(
    principal: &Principal,
    org: &Org,
    m: &Member,
    owners: usize,
    tokens: &[TokenView],
    now: i64,
) -> MemberRow {
    let only_owner = m.role == Role::Owner && owners == 1;
    let role_options: Vec<RoleOption> = if only_owner {
        Vec::new()
    } else {
        Role::ALL
            .iter()
            .filter(|r| {
                **r == m.role
                    || policy::check(
                        principal,
                        Act::ChangeRole {
                            org_id: &org.id,
                            from: m.role,
                            to: **r,
                        },
                    )
                    .is_ok()
            })
            .map(|r| RoleOption {
                name: r.as_str(),
                selected: *r == m.role,
            })
            .collect()
    };
    let removable = !only_owner
        && policy::check(
            principal,
            Act::RemoveMember {
                org_id: &org.id,
                role: m.role,
            },
        )
        .is_ok();
    let locked = if only_owner {
        Some("The only owner: make someone else an owner first.".to_string())
    } else if !removable && role_options.len() <= 1 {
        Some(format!("Only owners change {}s.", m.role))
    } else {
        None
    };
    let name = if m.user.name.trim().is_empty() {
        m.user.email.clone()
    } else {
        m.user.name.clone()
    };
    let active: Vec<&str> = tokens
        .iter()
        .filter(|t| t.token.user_id.as_ref() == Some(&m.user.id) && t.token.is_active(now))
        .map(|t| t.token.name.as_str())
        .collect();
    let held = match active.len() {
        0 => format!("They hold no active tokens in {}.", org.name),
        1 => format!("Their active token “{}” stops working now.", active[0]),
        n => format!(
            "Their {n} active tokens ({}) stop working now.",
            active
                .iter()
                .map(|n| format!("“{n}”"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    MemberRow {
        id: m.user.id.to_string(),
        email: m.user.email.clone(),
        name: m.user.name.clone(),
        role: m.role.to_string(),
        joined: when(m.joined_at),
        joined_iso: iso(m.joined_at),
        disabled: m.user.disabled_at.is_some(),
        role_options: if role_options.len() > 1 {
            role_options
        } else {
            Vec::new()
        },
        removable,
        locked,
        reset_ask: reset_ask(&m.user.email),
        remove_ask: Confirmation {
            heading: format!("Remove {name} from {}?", org.name),
            consequences: vec![
                held,
                format!(
                    "They can no longer see {} or sign devices in to it.",
                    org.name
                ),
            ],
            button: "Remove".into(),
        },
    }
}

// ----- Tokens ------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct TokenFilter {
    /// Part of a name, owner or hint.
    q: Option<String>,
    /// `all`: revoked and expired too.
    state: Option<String>,
    /// 1-based.
    page: Option<usize>,
}

/// The page: the org's personal and device tokens (active ones; `?state=all` for every one), searched by `?q=` (name, owner or hint), `?page=`.
#[utoipa::path(get, path = "/admin/{org}/tokens", operation_id = "page_admin_tokens", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, description = "the tokens section", content_type = "text/html"), (status = 403, description = "not an owner or admin there", content_type = "text/html")))]
pub async fn tokens_section(
    State(state): State<AppState>,
    mut visitor: Visitor,
    Path(slug): Path<String>,
    Query(filter): Query<TokenFilter>,
) -> Response {
    let path = format!("/admin/{slug}/tokens");
    let (principal, org, said) = match open_section(&state, &mut visitor, &slug, &path).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    tokens_page(&state, &visitor, &principal, &org, filter, false, said).await
}

/// The page: the org's service tokens, who made each, and the form to make one.
#[utoipa::path(get, path = "/admin/{org}/service-tokens", operation_id = "page_admin_service_tokens", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, description = "the service tokens section", content_type = "text/html"), (status = 403, description = "not an owner or admin there", content_type = "text/html")))]
pub async fn service_tokens_section(
    State(state): State<AppState>,
    mut visitor: Visitor,
    Path(slug): Path<String>,
    Query(filter): Query<TokenFilter>,
) -> Response {
    let path = format!("/admin/{slug}/service-tokens");
    let (principal, org, said) = match open_section(&state, &mut visitor, &slug, &path).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    tokens_page(&state, &visitor, &principal, &org, filter, true, said).await
}

async fn tokens_page(
    state: &AppState,
    visitor: &Visitor,
    principal: &Principal,
    org: &Org,
    filter: TokenFilter,
    service: bool,
    said: Said,
) -> Response {
    let loaded = async {
        let members = members::list(state, principal, org).await?;
        let tokens = tokens::list(state, principal, true).await?;
        let makers = if service {
            service_makers(state, principal, org).await?
        } else {
            Default::default()
        };
        Ok::<_, Error>((members, tokens, makers))
    }
    .await;
    let (members, all_tokens, makers) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return error_page(visitor, err),
    };
    let now = state.now();
    let query = filter.q.unwrap_or_default().trim().to_string();
    let all_states = filter.state.as_deref() == Some("all");
    let needle = query.to_lowercase();
    let of_kind: Vec<&TokenView> = all_tokens
        .iter()
        .filter(|t| (t.token.kind == TokenKind::Service) == service)
        .collect();
    let found: Vec<&TokenView> = of_kind
        .iter()
        .copied()
        .filter(|t| {
            needle.is_empty()
                || t.token.name.to_lowercase().contains(&needle)
                || t.token.hint.to_lowercase().contains(&needle)
                || t.token
                    .user_email
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase().contains(&needle))
        })
        .collect();
    let hidden = found.iter().filter(|t| !t.token.is_active(now)).count();
    let shown: Vec<TokenView> = found
        .into_iter()
        .filter(|t| all_states || t.token.is_active(now))
        .cloned()
        .collect();
    let matching = shown.len();
    let pages = matching.div_ceil(TOKENS_PER_PAGE).max(1);
    let at = filter.page.unwrap_or(1).clamp(1, pages);
    let start = (at - 1) * TOKENS_PER_PAGE;
    let window: Vec<TokenView> = shown
        .into_iter()
        .skip(start)
        .take(TOKENS_PER_PAGE)
        .collect();
    let role_of = |t: &crate::model::Token| {
        members
            .iter()
            .find(|m| Some(&m.user.id) == t.user_id.as_ref())
            .map(|m| m.role)
    };
    // Rows are drawn from every token of the org, so that a rotated one
    // names its replacement; then only the page's are kept.
    let ids: std::collections::HashSet<String> =
        window.iter().map(|t| t.token.id.to_string()).collect();
    let mut rows: Vec<TokenRow> = TokenRow::all(&all_tokens, now, role_of)
        .into_iter()
        .filter(|r| ids.contains(&r.id))
        .collect();
    let order: Vec<String> = window.iter().map(|t| t.token.id.to_string()).collect();
    rows.sort_by_key(|r| order.iter().position(|id| *id == r.id));
    if service {
        for row in &mut rows {
            row.owner = makers
                .get(&row.id)
                .cloned()
                .unwrap_or_else(|| "not recorded".into());
        }
    }
    let section = if service { "service-tokens" } else { "tokens" };
    let base = section_path(&org.slug, section);
    let link = |page: usize, all: bool| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if !query.is_empty() {
            q.append_pair("q", &query);
        }
        if all {
            q.append_pair("state", "all");
        }
        if page > 1 {
            q.append_pair("page", &page.to_string());
        }
        let q = q.finish();
        if q.is_empty() {
            base.clone()
        } else {
            format!("{base}?{q}")
        }
    };
    let paging = Paging {
        newest: (at > 1).then(|| link(1, all_states)),
        newer: (at > 1).then(|| link(at - 1, all_states)),
        older: (at < pages).then(|| link(at + 1, all_states)),
    };
    let count = format!(
        "{matching} {}{}",
        if all_states { "" } else { "active " },
        if matching == 1 { "token" } else { "tokens" }
    );
    let view = TokensView {
        rows,
        count,
        query: query.clone(),
        all_states,
        hidden,
        show_hidden: link(1, !all_states),
        paging,
        service,
    };
    page(visitor, org, section, Body::Tokens(view), said)
}

/// Who made each service token of the org (by token id), from the log.
async fn service_makers(
    state: &AppState,
    principal: &Principal,
    org: &Org,
) -> Result<std::collections::HashMap<String, String>> {
    let query = AuditQuery {
        org_id: Some(org.id.clone()),
        action: Some(AuditAction::TokenIssued.as_str().into()),
        limit: 1_000,
        ..Default::default()
    };
    Ok(audit::list(state, principal, &query)
        .await?
        .into_iter()
        .filter_map(|e| Some((e.target?, e.actor)))
        .collect())
}

// ----- Audit -------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct AuditFilter {
    action: Option<String>,
    actor: Option<String>,
    /// `YYYY-MM-DD`, from the start of that day (UTC).
    since: Option<String>,
    /// `YYYY-MM-DD`, to the end of that day (UTC).
    until: Option<String>,
    before: Option<i64>,
    after: Option<i64>,
}

fn clean(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The filter as a query, and what is wrong with it.
fn audit_query(org: &Org, filter: &AuditFilter, limit: i64) -> (AuditQuery, Option<String>) {
    let mut error = None;
    let mut day = |field: &str, text: Option<String>, end: bool| -> Option<i64> {
        let text = text?;
        match crate::clock::parse_date_end_of_day(&text) {
            Some(at) => Some(if end { at } else { at - 86_399 }),
            None => {
                error = Some(format!(
                    "The {field} date should look like 2026-12-01, not “{text}”."
                ));
                None
            }
        }
    };
    let since = day("from", clean(&filter.since), false);
    let until = day("to", clean(&filter.until), true);
    let query = AuditQuery {
        org_id: Some(org.id.clone()),
        action: clean(&filter.action),
        actor: clean(&filter.actor),
        since,
        until,
        before: filter.before,
        after: filter.after.filter(|_| filter.before.is_none()),
        limit,
    };
    (query, error)
}

fn filter_link(base: &str, filter: &AuditFilter, cursor: Option<(&str, i64)>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("action", &filter.action),
        ("actor", &filter.actor),
        ("since", &filter.since),
        ("until", &filter.until),
    ] {
        if let Some(v) = clean(v) {
            q.append_pair(k, &v);
        }
    }
    if let Some((k, id)) = cursor {
        q.append_pair(k, &id.to_string());
    }
    let q = q.finish();
    if q.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{q}")
    }
}

/// The page: the org's audit log in words: `?action=`, `?actor=` (email or id), `?since=`/`?until=` (dates), paged by `?before=`/`?after=` (event ids).
#[utoipa::path(get, path = "/admin/{org}/audit", operation_id = "page_admin_audit", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, description = "the audit section", content_type = "text/html"), (status = 403, description = "not an owner or admin there", content_type = "text/html")))]
pub async fn audit_section(
    State(state): State<AppState>,
    mut visitor: Visitor,
    Path(slug): Path<String>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let path = format!("/admin/{slug}/audit");
    let (principal, org, mut said) = match open_section(&state, &mut visitor, &slug, &path).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let (query, error) = audit_query(&org, &filter, EVENTS_PER_PAGE + 1);
    let loaded = async {
        let members = members::list(&state, &principal, &org).await?;
        let tokens = tokens::list(&state, &principal, true).await?;
        let events = if error.is_some() {
            Vec::new()
        } else {
            audit::list(&state, &principal, &query).await?
        };
        Ok::<_, Error>((members, tokens, events))
    }
    .await;
    let (members, tokens, mut events) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return error_page(&visitor, err),
    };
    // One more than a page was read, to know whether there is more.
    let more = events.len() as i64 > EVENTS_PER_PAGE;
    if more {
        if query.after.is_some() {
            events.remove(0);
        } else {
            events.pop();
        }
    }
    let paged_back = query.before.is_some() || query.after.is_some();
    let (newer, older) = match (events.first(), events.last()) {
        (Some(first), Some(last)) => {
            let newer_exists = query.before.is_some() || (query.after.is_some() && more);
            let older_exists = if query.after.is_some() { true } else { more };
            (
                newer_exists.then(|| filter_link(&path, &filter, Some(("after", first.id)))),
                older_exists.then(|| filter_link(&path, &filter, Some(("before", last.id)))),
            )
        }
        _ => (None, None),
    };
    let names = Names::new(&org.slug, &tokens, &members);
    let chosen = clean(&filter.action).unwrap_or_default();
    let mut actions = vec![Choice {
        value: String::new(),
        label: "Any action".into(),
        selected: chosen.is_empty(),
    }];
    actions.extend(AuditAction::ALL.iter().map(|a| Choice {
        value: a.as_str().into(),
        label: a.words().into(),
        selected: a.as_str() == chosen,
    }));
    let view = AuditView {
        rows: events.iter().map(|e| EventRow::new(e, &names)).collect(),
        actions,
        actor: clean(&filter.actor).unwrap_or_default(),
        since: clean(&filter.since).unwrap_or_default(),
        until: clean(&filter.until).unwrap_or_default(),
        filtered: clean(&filter.action).is_some()
            || clean(&filter.actor).is_some()
            || clean(&filter.since).is_some()
            || clean(&filter.until).is_some(),
        paging: Paging {
            newest: paged_back.then(|| filter_link(&path, &filter, None)),
            newer,
            older,
        },
        csv: filter_link(&format!("/admin/{}/audit.csv", org.slug), &filter, None),
        error: error.clone(),
    };
    if error.is_some() {
        said.status = Some(StatusCode::BAD_REQUEST);
    }
    page(&visitor, &org, "audit", Body::Audit(view), said)
}

/// The page: the filtered audit log (same filters as the section, every page of it up to 5,000 events) as CSV.
#[utoipa::path(get, path = "/admin/{org}/audit.csv", operation_id = "page_admin_audit_csv", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, description = "the events", content_type = "text/csv"), (status = 400, description = "a date that is not one", content_type = "text/html"), (status = 403, description = "not an owner or admin there", content_type = "text/html")))]
pub async fn audit_csv(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    if visitor.user.is_none() {
        return visitor.finish(to_login(&format!("/admin/{slug}/audit")));
    }
    let (principal, org) = match admin_of(&state, &visitor, &slug).await {
        Ok(found) => found,
        Err(err) => return denied(&visitor, err),
    };
    let (query, error) = audit_query(&org, &filter, CSV_MAX_EVENTS);
    if let Some(error) = error {
        let back = format!("/admin/{slug}/audit");
        return message(
            &visitor,
            StatusCode::BAD_REQUEST,
            "Not a date",
            &error,
            "error",
            Some((&back, "Back to the audit log")),
        );
    }
    let loaded = async {
        let members = members::list(&state, &principal, &org).await?;
        let tokens = tokens::list(&state, &principal, true).await?;
        let events = audit::list(&state, &principal, &query).await?;
        Ok::<_, Error>((members, tokens, events))
    }
    .await;
    let (members, tokens, events) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return error_page(&visitor, err),
    };
    let names = Names::new(&org.slug, &tokens, &members);
    let rows: Vec<EventRow> = events.iter().map(|e| EventRow::new(e, &names)).collect();
    let mut response = audit_log::csv(&rows).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"devauth-audit-{}.csv\"",
        org.slug
    )) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    visitor.finish(response)
}

// ----- Device policy -----------------------------------------------------

/// The page: the org's device policy (owners change it; admins read it).
#[utoipa::path(get, path = "/admin/{org}/policy", operation_id = "page_admin_policy", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 200, description = "the device policy section", content_type = "text/html"), (status = 403, description = "not an owner or admin there", content_type = "text/html")))]
pub async fn policy_section(
    State(state): State<AppState>,
    mut visitor: Visitor,
    Path(slug): Path<String>,
) -> Response {
    let path = format!("/admin/{slug}/policy");
    let (principal, org, said) = match open_section(&state, &mut visitor, &slug, &path).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    policy_page(&state, &visitor, &principal, &org, said).await
}

async fn policy_page(
    state: &AppState,
    visitor: &Visitor,
    principal: &Principal,
    org: &Org,
    said: Said,
) -> Response {
    let device_policy = match org_policy::get(state, principal, org).await {
        Ok(policy) => policy,
        Err(err) => return error_page(visitor, err),
    };
    let mut view = PolicyView::new(
        &device_policy,
        policy::check(principal, Act::SetDevicePolicy { org_id: &org.id }).is_ok(),
        state.config.token_ttl_days,
    );
    // Single sign-on is offered only on a server that has a provider.
    view.sign_in.retain(|(value, _, ticked)| match *value {
        "sso" => *ticked || state.sso.enabled(),
        "passkey" => *ticked || state.webauthn.is_some(),
        _ => true,
    });
    page(visitor, org, "policy", Body::Policy(view), said)
}

// ----- Forms -------------------------------------------------------------

/// Runs an admin form: on success, back to `section` with the outcome kept
/// for one view; on failure, the section now with the problem.
async fn act<F, Fut>(
    state: &AppState,
    visitor: &Visitor,
    slug: &str,
    form: &WebForm,
    section: &'static str,
    action: F,
) -> Response
where
    F: FnOnce(Principal, Arc<Org>) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<Flash, Failed>>,
{
    if let Some(refusal) = refuse_post(visitor, form, &section_path(slug, section)) {
        return refusal;
    }
    let (principal, org) = match admin_of(state, visitor, slug).await {
        Ok(found) => found,
        Err(err) => return denied(visitor, err),
    };
    match action(principal, org.clone()).await {
        Ok(mut flash) => {
            // Asked again: the act may have ended the caller's right to the console.
            let to = match admin_of(state, visitor, slug).await {
                Ok(_) => {
                    let anchor = if flash.shown_once.is_some() {
                        "#new-token"
                    } else {
                        ""
                    };
                    format!("{}{anchor}", section_path(slug, section))
                }
                Err(_) => {
                    let notice = flash.notice.take().unwrap_or_default();
                    flash.notice = Some(format!("{notice} You no longer administer {}.", org.name));
                    "/account".to_string()
                }
            };
            see_other(state, visitor, &to, &flash).await
        }
        Err(Failed { field, err }) => {
            let (principal, _) = match admin_of(state, visitor, slug).await {
                Ok(found) => found,
                Err(again) => return denied(visitor, again),
            };
            let said = Said {
                status: Some(status_of(&err)),
                error: Some(beside(field, &err.to_string())),
                field,
                kept: form
                    .pairs()
                    .filter(|(k, _)| *k != "csrf_token")
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Said::default()
            };
            let mut response = match section {
                "policy" => policy_page(state, visitor, &principal, &org, said).await,
                "service-tokens" | "tokens" => {
                    let filter = TokenFilter::default();
                    let service = section == "service-tokens";
                    tokens_page(state, visitor, &principal, &org, filter, service, said).await
                }
                _ => members_page(state, visitor, &principal, &org, said).await,
            };
            with_fault(&mut response, &err);
            response
        }
    }
}

/// An error's text as a sentence beside its field: without the field's
/// name in front ("`device_networks`: 300.1.1.1 is not…" beside that field
/// reads "300.1.1.1 is not…").
fn beside(field: Option<&str>, text: &str) -> String {
    let plain = text.replace('`', "");
    let shown = field
        .and_then(|f| plain.strip_prefix(f))
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::trim_start)
        .unwrap_or(&plain);
    sentence(shown)
}

/// Unless the form says `confirm=yes`: the page that asks first, with what
/// `ask` says stops working, or why the act is refused (nothing changes
/// either way). `None`: confirmed, go ahead.
async fn ask_first(
    visitor: &Visitor,
    form: &WebForm,
    slug: &str,
    action: &str,
    ask: impl std::future::Future<Output = Result<Confirmation>>,
) -> Option<Response> {
    if confirmed(form) {
        return None;
    }
    let cancel = format!("/admin/{slug}");
    if let Some(refusal) = refuse_post(visitor, form, &cancel) {
        return Some(refusal);
    }
    Some(match ask.await {
        Ok(ask) => confirm_page(visitor, form, action, ask, &cancel),
        Err(err) => denied(visitor, err),
    })
}

fn role_field(form: &WebForm) -> Result<Role> {
    form.text("role").parse().map_err(Error::invalid)
}

/// The page: adds an existing user (fields `email`, `role`, `csrf_token`).
#[utoipa::path(post, path = "/admin/{org}/members", operation_id = "page_admin_add_member", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 303, description = "added: to the members section"), (status = 403, description = "refused", content_type = "text/html"), (status = 404, description = "no such user", content_type = "text/html")))]
pub async fn add_member(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(
        state,
        &visitor,
        &slug,
        form,
        "members",
        |principal, org| async move {
            let role = role_field(form).map_err(at("role"))?;
            let email = form.text("email");
            if email.trim().is_empty() {
                let err = Error::invalid("enter the email of the user to add");
                return Err(at("email")(err));
            }
            let member = members::add(state, &principal, &org, email.trim(), role, meta)
                .await
                .map_err(|err| match err {
                    Error::NotFound(_) | Error::Conflict(_) | Error::Invalid(_) => at("email")(err),
                    other => other.into(),
                })?;
            Ok(Flash::notice(format!(
                "Added {} as {}.",
                member.user.email, member.role
            )))
        },
    )
    .await
}

/// The page: changes a member's role (fields `role`, `csrf_token`).
#[utoipa::path(post, path = "/admin/{org}/members/{user}/role", operation_id = "page_admin_change_role", tag = "pages",
    params(("org" = String, Path, description = "the org's slug"), ("user" = String, Path, description = "the member's email or id")),
    responses((status = 303, description = "changed: to the members section"), (status = 403, description = "refused", content_type = "text/html"), (status = 409, description = "the last owner stays", content_type = "text/html")))]
pub async fn change_role(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, user)): Path<(String, String)>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(
        state,
        &visitor,
        &slug,
        form,
        "members",
        |principal, org| async move {
            let member =
                members::set_role(state, &principal, &org, &user, role_field(form)?, meta).await?;
            Ok(Flash::notice(format!(
                "{} is now {}.",
                member.user.email, member.role
            )))
        },
    )
    .await
}

/// The page: removes a member and revokes their tokens in the org (fields `confirm=yes`, `csrf_token`; without `confirm` it asks first, naming the tokens that stop working).
#[utoipa::path(post, path = "/admin/{org}/members/{user}/remove", operation_id = "page_admin_remove_member", tag = "pages",
    params(("org" = String, Path, description = "the org's slug"), ("user" = String, Path, description = "the member's email or id")),
    responses((status = 303, description = "removed: to the members section"), (status = 200, description = "not confirmed: the page that asks", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 409, description = "the last owner stays", content_type = "text/html")))]
pub async fn remove_member(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, user)): Path<(String, String)>,
    form: WebForm,
) -> Response {
    let asked = async {
        let (principal, org) = admin_of(&state, &visitor, &slug).await?;
        let members = members::list(&state, &principal, &org).await?;
        let tokens = tokens::list(&state, &principal, true).await?;
        let owners = members.iter().filter(|m| m.role == Role::Owner).count();
        let target = members::find_user(&state, &user).await?;
        let member = members
            .iter()
            .find(|m| m.user.id == target.id)
            .ok_or_else(|| Error::not_found(format!("{} is not a member", target.email)))?;
        let row = member_row(&principal, &org, member, owners, &tokens, state.now());
        if !row.removable {
            return Err(Error::forbidden(
                row.locked
                    .unwrap_or_else(|| "you may not remove this member".into()),
            ));
        }
        Ok(row.remove_ask)
    };
    let action = format!("/admin/{slug}/members/{user}/remove");
    if let Some(page) = ask_first(&visitor, &form, &slug, &action, asked).await {
        return page;
    }
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(
        state,
        &visitor,
        &slug,
        form,
        "members",
        |principal, org| async move {
            let email = state
                .store
                .user_by_id(&user)
                .await?
                .map(|u| u.email)
                .unwrap_or_else(|| user.clone());
            let revoked = members::remove(state, &principal, &org, &user, meta).await?;
            let plural = if revoked == 1 { "" } else { "s" };
            Ok(Flash::notice(format!(
                "Removed {email} from {}; {revoked} token{plural} revoked.",
                org.name
            )))
        },
    )
    .await
}

/// The page: revokes a token of the org (fields `confirm=yes`, `csrf_token`; without `confirm` it asks first).
#[utoipa::path(post, path = "/admin/{org}/tokens/{id}/revoke", operation_id = "page_admin_revoke_token", tag = "pages",
    params(("org" = String, Path, description = "the org's slug"), ("id" = String, Path, description = "the token's id")),
    responses((status = 303, description = "revoked: to the token's section"), (status = 200, description = "not confirmed: the page that asks", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 404, description = "no such token", content_type = "text/html")))]
pub async fn revoke_token(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, id)): Path<(String, String)>,
    form: WebForm,
) -> Response {
    if let Some(refusal) = refuse_post(&visitor, &form, &format!("/admin/{slug}/tokens")) {
        return refusal;
    }
    let found = async {
        let (principal, _) = admin_of(&state, &visitor, &slug).await?;
        tokens::get(&state, &principal, &id).await
    }
    .await;
    let token = match found {
        Ok(view) => view.token,
        Err(err) => return denied(&visitor, err),
    };
    let section = if token.kind == TokenKind::Service {
        "service-tokens"
    } else {
        "tokens"
    };
    if !confirmed(&form) {
        return confirm_page(
            &visitor,
            &form,
            &format!("/admin/{slug}/tokens/{id}/revoke"),
            Confirmation::revoke(&token),
            &section_path(&slug, section),
        );
    }
    let (state, meta) = (&state, &visitor.meta.clone());
    act(
        state,
        &visitor,
        &slug,
        &form,
        section,
        |principal, _| async move {
            let view = tokens::revoke(state, &principal, &id, meta).await?;
            Ok(Flash::notice(Confirmation::revoked(&view.token)))
        },
    )
    .await
}

/// The page: creates a service token (fields `name`, `expires`, `scopes`, `csrf_token`), then to the service tokens section, which shows it once.
#[utoipa::path(post, path = "/admin/{org}/service-tokens", operation_id = "page_admin_create_service_token", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 303, description = "created: to the service tokens section, which shows it once"), (status = 400, description = "the section with the problem", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html")))]
pub async fn create_service_token(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(
        state,
        &visitor,
        &slug,
        form,
        "service-tokens",
        |principal, _| async move {
            let name = crate::identity::clean_text(
                "name",
                &form.text("name"),
                tokens::MAX_TOKEN_NAME_CHARS,
            )
            .map_err(at("name"))?;
            let scopes = parse_scopes(&form.all("scopes").join(" "))
                .map_err(Error::invalid)
                .map_err(at("scopes"))?;
            let req = TokenRequest {
                name,
                kind: TokenKind::Service,
                expires: form.get("expires").map(str::to_string),
                scopes,
            };
            let issued = tokens::create(state, &principal, req, meta).await?;
            let name = issued.info.token.name.clone();
            let notice = format!("Created the service token “{name}”.");
            Ok(Flash::secret(notice, name, issued.token.expose()))
        },
    )
    .await
}

/// The page: sets the org's device policy (owners; fields `device_flow=on|off`,
/// `device_networks` (one per line or comma-separated), `device_token_days`
/// (empty: the server's lifetime), `mode=enforce|report`, `csrf_token`).
#[utoipa::path(post, path = "/admin/{org}/policy", operation_id = "page_admin_set_policy", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 303, description = "saved: to the device policy section"), (status = 400, description = "the section with the problem", content_type = "text/html"), (status = 403, description = "not an owner", content_type = "text/html")))]
pub async fn set_policy(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(
        state,
        &visitor,
        &slug,
        form,
        "policy",
        |principal, org| async move {
            let days = form.text("device_token_days");
            let days = match days.trim() {
                "" => None,
                text => {
                    let days = text.parse::<i64>().map_err(|_| {
                        at("device_token_days")(Error::invalid(format!(
                            "the longest device token is a number of days, not “{text}”"
                        )))
                    })?;
                    Some(days)
                }
            };
            let mode = match form.get("mode") {
                Some(mode) => Some(PolicyMode::parse(mode).map_err(Error::invalid)?),
                None => None,
            };
            let change = PolicyChange {
                device_flow: form.get("device_flow").map(|v| v == "on"),
                device_networks: Some(
                    form.text("device_networks")
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|n| !n.is_empty())
                        .map(str::to_string)
                        .collect(),
                ),
                device_token_days: Some(days),
                mode,
                sign_in: Some(
                    crate::device_policy::DevicePolicy::parse_sign_in(form.all("sign_in"))
                        .map_err(|e| at("sign_in")(Error::invalid(e)))?,
                ),
            };
            let saved = org_policy::set(state, &principal, &org, &change, meta)
                .await
                .map_err(|err| {
                    let text = err.to_string();
                    if text.contains("sign_in") || text.contains("single sign-on") {
                        at("sign_in")(err)
                    } else if text.contains("device_networks") {
                        at("device_networks")(err)
                    } else if text.contains("device_token_days") {
                        at("device_token_days")(err)
                    } else {
                        err.into()
                    }
                })?;
            Ok(Flash::notice(format!(
                "Device policy saved: {}.",
                saved.describe()
            )))
        },
    )
    .await
}

/// The page: invites an email address into the org (fields `email`, `role`, `csrf_token`); the link is shown once on the members section.
#[utoipa::path(post, path = "/admin/{org}/invitations", operation_id = "page_admin_invite", tag = "pages",
    params(("org" = String, Path, description = "the org's slug")),
    responses((status = 303, description = "invited: to the members section, which shows the link once"), (status = 400, description = "the section with the problem", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 409, description = "a member already", content_type = "text/html")))]
pub async fn invite(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    form: WebForm,
) -> Response {
    let (state, form, meta) = (&state, &form, &visitor.meta.clone());
    act(
        state,
        &visitor,
        &slug,
        form,
        "members",
        |principal, org| async move {
            let role = role_field(form).map_err(at("invite_role"))?;
            let email = form.text("invite_email");
            let made = crate::invitations::create(state, &principal, &org, &email, role, meta)
                .await
                .map_err(|err| match err {
                    Error::Invalid(_) | Error::Conflict(_) => at("invite_email")(err),
                    other => other.into(),
                })?;
            let email = made.invitation.email.clone();
            let sent = if made.mailed {
                format!("Invited {email} as {role}, and mailed them the link.")
            } else {
                format!("Invited {email} as {role}.")
            };
            let flash = Flash::secret(
                sent,
                format!("Invitation link for {email}"),
                made.link.expose(),
            );
            let purpose = if made.mailed {
                format!("In case the mail does not arrive: it works once, for 7 days, and only for {email}.")
            } else {
                format!("Send it to {email}: it works once, for 7 days, and only for that address.")
            };
            Ok(flash.for_purpose(purpose))
        },
    )
    .await
}

/// What withdrawing an invitation asks first.
fn withdraw_ask(email: &str) -> Confirmation {
    Confirmation {
        heading: format!("Withdraw the invitation of {email}?"),
        consequences: vec![format!(
            "Its link stops working now; {email} can be invited again."
        )],
        button: "Withdraw".into(),
    }
}

/// The page: withdraws a pending invitation (fields `confirm=yes`, `csrf_token`; without `confirm` it asks first).
#[utoipa::path(post, path = "/admin/{org}/invitations/{id}/withdraw", operation_id = "page_admin_withdraw_invitation", tag = "pages",
    params(("org" = String, Path, description = "the org's slug"), ("id" = String, Path, description = "the invitation's id")),
    responses((status = 303, description = "withdrawn: to the members section"), (status = 200, description = "not confirmed: the page that asks", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 404, description = "no such pending invitation", content_type = "text/html")))]
pub async fn withdraw_invitation(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, id)): Path<(String, String)>,
    form: WebForm,
) -> Response {
    let asked = async {
        let (principal, org) = admin_of(&state, &visitor, &slug).await?;
        crate::invitations::pending(&state, &principal, &org)
            .await?
            .into_iter()
            .find(|i| i.id == id)
            .map(|i| withdraw_ask(&i.email))
            .ok_or_else(|| Error::not_found("no pending invitation with this id"))
    };
    let action = format!("/admin/{slug}/invitations/{id}/withdraw");
    if let Some(page) = ask_first(&visitor, &form, &slug, &action, asked).await {
        return page;
    }
    let (state, meta) = (&state, &visitor.meta.clone());
    act(
        state,
        &visitor,
        &slug,
        &form,
        "members",
        |principal, org| async move {
            let withdrawn =
                crate::invitations::withdraw(state, &principal, &org, &id, meta).await?;
            Ok(Flash::notice(format!(
                "Withdrew the invitation of {}.",
                withdrawn.email
            )))
        },
    )
    .await
}

/// The page: makes a one-time password reset link for a member (fields `confirm=yes`, `csrf_token`; without `confirm` it asks first); the link is shown once on the members section.
#[utoipa::path(post, path = "/admin/{org}/members/{user}/password-reset", operation_id = "page_admin_password_reset", tag = "pages",
    params(("org" = String, Path, description = "the org's slug"), ("user" = String, Path, description = "the member's email or id")),
    responses((status = 303, description = "made: to the members section, which shows the link once"), (status = 200, description = "not confirmed: the page that asks", content_type = "text/html"), (status = 403, description = "refused", content_type = "text/html"), (status = 404, description = "not a member", content_type = "text/html")))]
pub async fn password_reset(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, user)): Path<(String, String)>,
    form: WebForm,
) -> Response {
    let asked = async {
        admin_of(&state, &visitor, &slug).await?;
        Ok(reset_ask(&members::find_user(&state, &user).await?.email))
    };
    let action = format!("/admin/{slug}/members/{user}/password-reset");
    if let Some(page) = ask_first(&visitor, &form, &slug, &action, asked).await {
        return page;
    }
    let (state, meta) = (&state, &visitor.meta.clone());
    act(
        state,
        &visitor,
        &slug,
        &form,
        "members",
        |principal, org| async move {
            let made = crate::resets::create(state, &principal, &org, &user, meta).await?;
            let email = made.user.email;
            let (notice, send) = if made.mailed {
                (
                    format!("Made a password reset link for {email} and mailed it to them."),
                    "In case the mail does not arrive",
                )
            } else {
                (
                    format!("Made a password reset link for {email}."),
                    "Send it to them yourself",
                )
            };
            let flash = Flash::secret(
                notice,
                format!("Password reset link for {email}"),
                made.link.expose(),
            );
            Ok(flash.for_purpose(format!(
                "{send}: it works once, for an hour. Setting a password with it signs out every browser of theirs."
            )))
        },
    )
    .await
}

/// What making a reset link asks first.
fn reset_ask(email: &str) -> Confirmation {
    Confirmation {
        heading: format!("Make a password reset link for {email}?"),
        consequences: vec![
            format!(
                "Whoever opens the link can set {email}'s password, for an hour: send it only to them."
            ),
            "Their current password keeps working until a new one is set.".into(),
        ],
        button: "Make the link".into(),
    }
}
