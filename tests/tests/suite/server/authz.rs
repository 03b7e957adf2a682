//! The permission matrix of `devauth_harness::authz`, driven cell by cell
//! through the real HTTP API and pages. Every cell gets a fresh credential and
//! a fresh target; an allowed act must have its effect, a refused one must
//! change nothing. All mismatches are reported together.

use devauth_harness::authz::{API_ACTORS, Act, Expect, MATRIX, PAGE_ACTORS, Row, Target};
use devauth_harness::web::WebClient;
use devauth_harness::*;
use devauth_server::model::{Role, TokenQuery};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};

const OLIVE: &str = OWNER_EMAIL;
const OSCAR: &str = "oscar@example.com";
const ADA: &str = "ada@example.com";
const MIA: &str = "mia@example.com";
const MAX: &str = "max@example.com";
const VAL: &str = "val@example.com";
const BEA: &str = "bea@example.com";
const BEN: &str = "ben@example.com";
const ALL_SCOPES: &[&str] = &["profile:read", "tokens:read", "tokens:write", "org:admin"];

/// How the API column `i` gets its credential: (user, org, scopes); no user
/// is a service token.
fn api_actor(i: usize) -> (Option<&'static str>, &'static str, &'static [&'static str]) {
    match i {
        0 => (Some(OLIVE), "acme", &[]),
        1 => (Some(OLIVE), "acme", ALL_SCOPES),
        2 => (Some(ADA), "acme", &[]),
        3 => (Some(MIA), "acme", &[]),
        4 => (Some(VAL), "acme", &[]),
        5 => (Some(MIA), "acme", &["tokens:write"]),
        6 => (Some(MIA), "acme", &["profile:read", "tokens:read"]),
        7 => (None, "acme", ALL_SCOPES),
        8 => (None, "acme", &[]),
        _ => (Some(BEA), "beta", &[]),
    }
}

const PAGE_USERS: [&str; 3] = [OLIVE, ADA, MIA];

struct Fixture {
    srv: TestServer,
    sessions: Vec<(WebClient, String)>,
    fresh: AtomicU32,
}

/// Allowed or refused, from a status; anything else is a bug worth seeing.
fn outcome(status: u16, what: &str, body: &dyn std::fmt::Display) -> Expect {
    match status {
        200 | 201 | 303 => Expect::Allow,
        403 | 404 => Expect::Deny,
        other => panic!("{what}: unexpected status {other}: {body}"),
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        let srv = spawn_server(backend).await;
        srv.claim().await;
        srv.add_org("beta").await;
        for (org, email, role) in [
            ("acme", OSCAR, Role::Owner),
            ("acme", ADA, Role::Admin),
            ("acme", MIA, Role::Member),
            ("acme", MAX, Role::Member),
            ("acme", VAL, Role::Viewer),
            ("acme", BEA, Role::Admin),
            ("beta", BEA, Role::Owner),
            ("beta", BEN, Role::Member),
            ("beta", OLIVE, Role::Member),
            ("beta", ADA, Role::Member),
            ("beta", MIA, Role::Member),
            ("beta", VAL, Role::Member),
        ] {
            srv.add_member(email, org, role).await;
        }
        let mut sessions = Vec::new();
        for email in PAGE_USERS {
            let mut web = WebClient::new(&srv.url);
            web.sign_in(email, PASSWORD).await;
            let csrf = web.get("/account").await.csrf();
            assert!(!csrf.is_empty(), "a CSRF token on /account");
            sessions.push((web, csrf));
        }
        Fixture {
            srv,
            sessions,
            fresh: AtomicU32::new(0),
        }
    }

    fn state(&self) -> &devauth_server::AppState {
        &self.srv.server.state
    }

    /// A new user, a member of acme with `role` (or of nothing).
    async fn fresh_user(&self, role: Option<Role>) -> String {
        let n = self.fresh.fetch_add(1, Ordering::Relaxed);
        let email = format!("fresh{n}@example.com");
        match role {
            Some(role) => self.srv.add_member(&email, "acme", role).await,
            None => {
                devauth_server::identity::create_user(
                    self.state(),
                    &email,
                    &email,
                    None,
                    devauth_server::model::Actor::System,
                    &Default::default(),
                )
                .await
                .expect("creating the user");
            }
        }
        email
    }

    /// Whether a pending invitation of acme names `email`.
    async fn invited(&self, email: &str) -> bool {
        let state = self.state();
        let org = devauth_server::members::org(state, "acme")
            .await
            .expect("acme");
        state
            .store
            .pending_invitations(&org.id, state.now())
            .await
            .unwrap_or_default()
            .iter()
            .any(|i| i.email == email)
    }

    /// Whether a password reset link was made for `email`.
    async fn reset_made(&self, email: &str) -> bool {
        self.srv
            .audit_events("user.password_reset_created", 1_000)
            .await
            .iter()
            .any(|e| e.target.as_deref() == Some(email))
    }

    async fn role_in_acme(&self, email: &str) -> Option<Role> {
        let state = self.state();
        let user = devauth_server::members::find_user(state, email)
            .await
            .expect("the user exists");
        let org = devauth_server::members::org(state, "acme")
            .await
            .expect("the org exists");
        state
            .store
            .role_of(&org.id, &user.id)
            .await
            .expect("reading the role")
    }

    async fn revoked(&self, id: &str) -> bool {
        let token = self.state().store.token_by_id(&id.into()).await;
        let token = token
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no token {id}"));
        token.revoked_at.is_some()
    }

    async fn token_count(&self) -> usize {
        let all = self.state().store.list_tokens(&TokenQuery::default()).await;
        all.map(|t| t.len()).unwrap_or_default()
    }

    /// Asserts that there are still `before` tokens: the act `what` created none.
    async fn assert_no_token_created(&self, before: usize, what: &str) {
        assert_eq!(
            self.token_count().await,
            before,
            "{what}: a token was created"
        );
    }

    /// A fresh target token; `own_user` is the caller's user (for `Own`).
    async fn target(&self, target: Target, own_user: Option<&str>) -> Option<(String, String)> {
        Some(match target {
            Target::Own => self.srv.mint(Some(own_user?), "acme", &[]).await,
            Target::Member => self.srv.mint(Some(MAX), "acme", &[]).await,
            Target::Owner => self.srv.mint(Some(OSCAR), "acme", &[]).await,
            Target::Service => self.srv.mint(None, "acme", &["tokens:read"]).await,
            Target::OtherOrg => self.srv.mint(Some(BEN), "beta", &[]).await,
        })
    }

    /// Whom a secret acts as: (user email or none, org slug, scopes).
    async fn identity(&self, secret: &str) -> (Option<String>, String, Vec<String>) {
        let hash = devauth_server::secret::sha256_hex(secret);
        let auth = self.state().store.token_by_hash(&hash).await;
        let auth = auth
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("a secret of no token"));
        (
            auth.user.map(|u| u.email.clone()),
            auth.org.slug.clone(),
            auth.token.scopes.iter().map(|s| s.to_string()).collect(),
        )
    }
}

/// The scopes a token minted or approved by API column `i` carries when none
/// are named: none for unscoped tokens, the caller's own otherwise.
fn inherited(i: usize) -> Vec<String> {
    api_actor(i).2.iter().map(|s| s.to_string()).collect()
}

fn strings(scopes: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    v.sort_by_key(|s| ALL_SCOPES.iter().position(|a| a == s));
    v
}

/// Runs one API cell; `None` when it does not apply.
async fn api_cell(fx: &Fixture, row: &Row, i: usize) -> Option<Expect> {
    let srv = &fx.srv;
    let (user, org, scopes) = api_actor(i);
    let (token, token_id) = srv.mint(user, org, scopes).await;
    let what = format!("{} by {}", row.label, API_ACTORS[i].0);
    let t = Some(token.as_str());
    Some(match row.act {
        Act::Me => {
            let r = srv.get("/me", t).await;
            outcome(r.status, &what, &r.body)
        }
        Act::ListOwn | Act::ListOrg => {
            let path = if row.act == Act::ListOwn {
                "/api/tokens"
            } else {
                "/api/tokens?scope=org"
            };
            let r = srv.get(path, t).await;
            let got = outcome(r.status, &what, &r.body);
            if got == Expect::Allow {
                for listed in r.body["tokens"].as_array().into_iter().flatten() {
                    assert_eq!(
                        s(&listed["org_slug"]),
                        org,
                        "{what}: a token of another org listed"
                    );
                    if row.act == Act::ListOwn {
                        match user {
                            Some(email) => assert_eq!(s(&listed["user_email"]), email, "{what}"),
                            None => assert_eq!(s(&listed["id"]), token_id, "{what}"),
                        }
                    }
                }
            }
            got
        }
        Act::Read(target) => {
            let (_, id) = fx.target(target, user).await?;
            let r = srv.get(&format!("/api/tokens/{id}"), t).await;
            outcome(r.status, &what, &r.body)
        }
        Act::Revoke(target) => {
            let (_, id) = fx.target(target, user).await?;
            let r = srv.delete(&format!("/api/tokens/{id}"), t).await;
            let got = outcome(r.status, &what, &r.body);
            assert_eq!(
                fx.revoked(&id).await,
                got == Expect::Allow,
                "{what}: effect"
            );
            got
        }
        Act::Rotate(target) => {
            let (_, id) = fx.target(target, user).await?;
            let before = fx.token_count().await;
            let r = srv
                .post_json(&format!("/api/tokens/{id}/rotate"), t, json!({}))
                .await;
            let got = outcome(r.status, &what, &r.body);
            assert_eq!(
                fx.revoked(&id).await,
                got == Expect::Allow,
                "{what}: effect"
            );
            if got == Expect::Allow {
                // The new secret went to the token's own user (a service token has none).
                let (holder, _, _) = fx.identity(&s(&r.body["token"])).await;
                let expected = match target {
                    Target::Service => None,
                    _ => user.map(str::to_string),
                };
                assert_eq!(
                    holder, expected,
                    "{what}: rotated secret handed to another user"
                );
            } else {
                fx.assert_no_token_created(before, &what).await;
            }
            got
        }
        Act::RevokeAllMine => {
            // One more of the caller's tokens in its org, and one in the other org.
            let (here, there) = match user {
                Some(email) => {
                    let other = if org == "acme" { "beta" } else { "acme" };
                    (
                        Some(srv.mint(Some(email), org, &[]).await.1),
                        Some(srv.mint(Some(email), other, &[]).await.1),
                    )
                }
                None => (None, None),
            };
            let r = srv.post_json("/api/tokens/revoke-all", t, json!({})).await;
            let got = outcome(r.status, &what, &r.body);
            if let (Some(here), Some(there)) = (here, there) {
                assert_eq!(
                    fx.revoked(&here).await,
                    got == Expect::Allow,
                    "{what}: effect"
                );
                assert!(!fx.revoked(&there).await, "{what}: reached another org");
            }
            assert_eq!(fx.revoked(&token_id).await, got == Expect::Allow, "{what}");
            got
        }
        Act::RevokeAllOf { owner } => {
            let email = if owner { OSCAR } else { MAX };
            let (_, id) = srv.mint(Some(email), "acme", &[]).await;
            let r = srv
                .post_json("/api/tokens/revoke-all", t, json!({ "user": email }))
                .await;
            let got = outcome(r.status, &what, &r.body);
            assert_eq!(
                fx.revoked(&id).await,
                got == Expect::Allow,
                "{what}: effect"
            );
            got
        }
        Act::MintPersonal(named) | Act::MintService(named) => {
            let service = matches!(row.act, Act::MintService(_));
            let mut body = json!({ "name": "minted" });
            if !named.is_empty() {
                body["scopes"] = json!(named);
            }
            if service {
                body["kind"] = json!("service");
            }
            let before = fx.token_count().await;
            let r = srv.post_json("/api/tokens", t, body).await;
            let got = outcome(r.status, &what, &r.body);
            if got == Expect::Allow {
                let info = &r.body["info"];
                let minted: Vec<String> = info["scopes"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect())
                    .unwrap_or_default();
                let expected = if named.is_empty() {
                    inherited(i)
                } else {
                    strings(named)
                };
                assert_eq!(minted, expected, "{what}: scopes");
                assert_eq!(s(&info["org_slug"]), org, "{what}: org");
                let holder = info["user_email"].as_str();
                assert_eq!(holder, if service { None } else { user }, "{what}: holder");
            } else {
                fx.assert_no_token_created(before, &what).await;
            }
            got
        }
        Act::ListMembers | Act::ReadAudit => {
            let path = if row.act == Act::ListMembers {
                "/api/orgs/acme/members"
            } else {
                "/api/orgs/acme/audit"
            };
            let r = srv.get(path, t).await;
            outcome(r.status, &what, &r.body)
        }
        Act::AddMember(role) => {
            let email = fx.fresh_user(None).await;
            let r = srv
                .post_json(
                    "/api/orgs/acme/members",
                    t,
                    json!({ "email": email, "role": role }),
                )
                .await;
            let got = outcome(r.status, &what, &r.body);
            let now = fx.role_in_acme(&email).await.map(|r| r.to_string());
            let expected = (got == Expect::Allow).then(|| role.to_string());
            assert_eq!(now, expected, "{what}: effect");
            got
        }
        Act::ChangeRole(from, to) => {
            let email = fx
                .fresh_user(Some(from.parse().unwrap_or(Role::Member)))
                .await;
            let r = srv
                .send_json(
                    reqwest::Method::PATCH,
                    &format!("/api/orgs/acme/members/{email}"),
                    t,
                    json!({ "role": to }),
                )
                .await;
            let got = outcome(r.status, &what, &r.body);
            let now = fx.role_in_acme(&email).await.map(|r| r.to_string());
            let expected = if got == Expect::Allow { to } else { from };
            assert_eq!(now.as_deref(), Some(expected), "{what}: effect");
            got
        }
        Act::Remove(role) => {
            let email = fx
                .fresh_user(Some(role.parse().unwrap_or(Role::Member)))
                .await;
            let r = srv
                .delete(&format!("/api/orgs/acme/members/{email}"), t)
                .await;
            let got = outcome(r.status, &what, &r.body);
            let now = fx.role_in_acme(&email).await;
            assert_eq!(now.is_none(), got == Expect::Allow, "{what}: effect");
            got
        }
        Act::Invite(role) => {
            let email = fx.fresh_user(None).await;
            let r = srv
                .post_json(
                    "/api/orgs/acme/invitations",
                    t,
                    json!({ "email": email, "role": role }),
                )
                .await;
            let got = outcome(r.status, &what, &r.body);
            assert_eq!(
                fx.invited(&email).await,
                got == Expect::Allow,
                "{what}: effect"
            );
            got
        }
        Act::ResetPassword(role) => {
            let email = fx
                .fresh_user(Some(role.parse().unwrap_or(Role::Member)))
                .await;
            let r = srv
                .post_json(
                    &format!("/api/orgs/acme/members/{email}/password-reset"),
                    t,
                    json!({}),
                )
                .await;
            let got = outcome(r.status, &what, &r.body);
            assert_eq!(
                fx.reset_made(&email).await,
                got == Expect::Allow,
                "{what}: effect"
            );
            got
        }
        Act::Approve(into) => {
            let started = srv.start_device("devauth-cli", "matrix device").await;
            let r = srv
                .post_json(
                    "/api/device/approve",
                    t,
                    json!({ "user_code": started["user_code"], "org": into }),
                )
                .await;
            let got = outcome(r.status, &what, &r.body);
            let poll = srv.poll(&s(&started["device_code"]), "devauth-cli").await;
            if got == Expect::Allow {
                assert_eq!(poll.status, 200, "{what}: redeem: {}", poll.body);
                let (holder, slug, scopes) = fx.identity(&s(&poll.body["access_token"])).await;
                assert_eq!(holder.as_deref(), user, "{what}: device token's user");
                assert_eq!(slug, into, "{what}: device token's org");
                assert_eq!(scopes, inherited(i), "{what}: device token's scopes");
            } else {
                assert_eq!(poll.error(), "authorization_pending", "{what}: effect");
            }
            got
        }
    })
}

/// Runs one page cell; `None` when the pages have no form for it.
async fn page_cell(fx: &mut Fixture, row: &Row, i: usize) -> Option<Expect> {
    let email = PAGE_USERS[i];
    let what = format!("{} by {}", row.label, PAGE_ACTORS[i].0);
    // Targets first: they need the fixture, the session borrows it after.
    let target = match row.act {
        Act::Revoke(t) | Act::Rotate(t) => fx.target(t, Some(email)).await,
        _ => None,
    };
    let fresh = match row.act {
        Act::AddMember(_) => Some(fx.fresh_user(None).await),
        Act::ChangeRole(from, _) => Some(fx.fresh_user(from.parse().ok()).await),
        Act::Remove(role) | Act::ResetPassword(role) => {
            Some(fx.fresh_user(role.parse().ok()).await)
        }
        Act::Invite(_) => Some(fx.fresh_user(None).await),
        _ => None,
    };
    let extra = match row.act {
        Act::RevokeAllMine => Some((
            fx.srv.mint(Some(email), "acme", &[]).await.1,
            fx.srv.mint(Some(email), "beta", &[]).await.1,
        )),
        _ => None,
    };
    let device = match row.act {
        Act::Approve(_) => Some(fx.srv.start_device("devauth-cli", "matrix device").await),
        _ => None,
    };
    let before = fx.token_count().await;
    let (web, csrf) = &mut fx.sessions[i];
    let csrf = csrf.clone();
    let c = csrf.as_str();
    let page = match row.act {
        Act::Revoke(Target::Own) | Act::Rotate(_) => {
            let (_, id) = target.clone()?;
            let verb = if matches!(row.act, Act::Revoke(_)) {
                "revoke"
            } else {
                "rotate"
            };
            web.post(
                &format!("/account/tokens/{id}/{verb}"),
                &[("csrf_token", c), ("confirm", "yes")],
            )
            .await
        }
        Act::Revoke(_) => {
            let (_, id) = target.clone()?;
            web.post(
                &format!("/admin/acme/tokens/{id}/revoke"),
                &[("csrf_token", c), ("confirm", "yes")],
            )
            .await
        }
        Act::RevokeAllMine => {
            web.post(
                "/account/revoke-all",
                &[("csrf_token", c), ("confirm", "yes")],
            )
            .await
        }
        Act::MintPersonal(_) => {
            web.post(
                "/account/tokens",
                &[
                    ("csrf_token", c),
                    ("name", "page token"),
                    ("org", "acme"),
                    ("expires", "90d"),
                ],
            )
            .await
        }
        Act::MintService(_) => {
            web.post(
                "/admin/acme/service-tokens",
                &[
                    ("csrf_token", c),
                    ("name", "page bot"),
                    ("expires", "90d"),
                    ("scopes", "org:admin"),
                ],
            )
            .await
        }
        Act::ListMembers => web.get("/admin/acme").await,
        Act::AddMember(role) => {
            let email = fresh.clone()?;
            web.post(
                "/admin/acme/members",
                &[("csrf_token", c), ("email", &email), ("role", role)],
            )
            .await
        }
        Act::ChangeRole(_, to) => {
            let email = fresh.clone()?;
            web.post(
                &format!("/admin/acme/members/{email}/role"),
                &[("csrf_token", c), ("role", to)],
            )
            .await
        }
        Act::Remove(_) => {
            let email = fresh.clone()?;
            web.post(
                &format!("/admin/acme/members/{email}/remove"),
                &[("csrf_token", c), ("confirm", "yes")],
            )
            .await
        }
        Act::Invite(role) => {
            let email = fresh.clone()?;
            web.post(
                "/admin/acme/invitations",
                &[("csrf_token", c), ("invite_email", &email), ("role", role)],
            )
            .await
        }
        Act::ResetPassword(_) => {
            let email = fresh.clone()?;
            web.post(
                &format!("/admin/acme/members/{email}/password-reset"),
                &[("csrf_token", c), ("confirm", "yes")],
            )
            .await
        }
        Act::Approve(into) => {
            let device = device.clone()?;
            let code = s(&device["user_code"]);
            let confirm = web
                .post("/device", &[("csrf_token", c), ("user_code", &code)])
                .await;
            assert_eq!(
                confirm.status, 200,
                "{what}: the confirm page: {}",
                confirm.body
            );
            web.post(
                "/device/decide",
                &[
                    ("csrf_token", c),
                    ("user_code", &code),
                    ("org", into),
                    ("action", "approve"),
                ],
            )
            .await
        }
        _ => return None,
    };
    let excerpt: String = page.body.chars().take(400).collect();
    let got = outcome(page.status, &what, &excerpt);
    // The effect, or none.
    match row.act {
        Act::Revoke(_) | Act::Rotate(_) => {
            let (_, id) = target?;
            assert_eq!(
                fx.revoked(&id).await,
                got == Expect::Allow,
                "{what}: effect"
            );
            if got == Expect::Deny {
                fx.assert_no_token_created(before, &what).await;
            }
        }
        Act::RevokeAllMine => {
            let (here, there) = extra?;
            assert_eq!(fx.revoked(&here).await, got == Expect::Allow, "{what}");
            // A session signs out everywhere: every org.
            assert_eq!(fx.revoked(&there).await, got == Expect::Allow, "{what}");
        }
        Act::MintPersonal(_) | Act::MintService(_) => {
            let created = fx.token_count().await - before;
            assert_eq!(created == 1, got == Expect::Allow, "{what}: effect");
        }
        Act::AddMember(role) => {
            let now = fx.role_in_acme(&fresh?).await.map(|r| r.to_string());
            assert_eq!(
                now,
                (got == Expect::Allow).then(|| role.to_string()),
                "{what}"
            );
        }
        Act::ChangeRole(from, to) => {
            let now = fx.role_in_acme(&fresh?).await.map(|r| r.to_string());
            let expected = if got == Expect::Allow { to } else { from };
            assert_eq!(now.as_deref(), Some(expected), "{what}: effect");
        }
        Act::Remove(_) => {
            let now = fx.role_in_acme(&fresh?).await;
            assert_eq!(now.is_none(), got == Expect::Allow, "{what}: effect");
        }
        Act::Invite(_) => {
            assert_eq!(
                fx.invited(&fresh?).await,
                got == Expect::Allow,
                "{what}: effect"
            );
        }
        Act::ResetPassword(_) => {
            assert_eq!(
                fx.reset_made(&fresh?).await,
                got == Expect::Allow,
                "{what}: effect"
            );
        }
        Act::Approve(into) => {
            let device = device?;
            let poll = fx.srv.poll(&s(&device["device_code"]), "devauth-cli").await;
            assert_eq!(
                poll.status == 200,
                got == Expect::Allow,
                "{what}: {}",
                poll.body
            );
            if got == Expect::Allow {
                let (holder, slug, scopes) = fx.identity(&s(&poll.body["access_token"])).await;
                assert_eq!(holder.as_deref(), Some(email), "{what}");
                assert_eq!(slug, into, "{what}");
                assert!(
                    scopes.is_empty(),
                    "{what}: a session approves with the full role"
                );
            }
        }
        _ => {}
    }
    Some(got)
}

pub async fn permission_matrix(backend: Backend) {
    let mut fx = Fixture::new(backend).await;
    let mut wrong = Vec::new();
    let mut cells = 0;
    for row in MATRIX {
        for (i, (actor, _)) in API_ACTORS.iter().enumerate() {
            let expected = row.api_expect(i);
            let got = api_cell(&fx, row, i).await;
            match (expected, got) {
                (Expect::NotApplicable, None) => {}
                (expected, Some(got)) if expected == got => cells += 1,
                (expected, got) => wrong.push(format!(
                    "{} by {actor}: expected {expected:?}, got {got:?}",
                    row.label
                )),
            }
        }
        for (i, (actor, _)) in PAGE_ACTORS.iter().enumerate() {
            let expected = row.page_expect(i);
            if expected == Expect::NotApplicable {
                continue; // no form on the pages for this act
            }
            let got = page_cell(&mut fx, row, i).await;
            match (expected, got) {
                (Expect::NotApplicable, None) => {}
                (expected, Some(got)) if expected == got => cells += 1,
                (expected, got) => wrong.push(format!(
                    "{} by {actor}: expected {expected:?}, got {got:?}",
                    row.label
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(cells > 300, "only {cells} cells were checked");
    fx.srv.stop().await;
}

#[test]
fn the_readme_shows_the_tested_matrix() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("read README.md");
    let section = devauth_harness::authz::readme_section(&readme).unwrap_or_else(|| {
        panic!(
            "README.md has no permission matrix between {} and {}",
            devauth_harness::authz::README_START,
            devauth_harness::authz::README_END
        )
    });
    let expected = devauth_harness::authz::markdown();
    assert_eq!(
        section.trim(),
        expected.trim(),
        "README.md's permission matrix differs from tests/src/authz.rs; paste this:\n{expected}"
    );
}
