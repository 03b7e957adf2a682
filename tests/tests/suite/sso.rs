//! Single sign-on against a real OpenID Connect provider (node's
//! oidc-provider, `tests/idp/idp.mjs`), on both backends, driven as a
//! browser would be but with every redirect in the test's hands: an
//! invited colleague joins through the provider (a new account, no
//! password); a first sign-in makes an account only for an allowed domain
//! and a verified email; an existing account is linked only with its
//! password; and answers that do not belong here are refused (a tampered
//! or replayed `state`, another browser's answer, a replayed nonce, an
//! answer or ID token from another issuer), while a key rotation at the
//! provider is followed.

use devauth_harness::idp::{self, Account, Idp};
use devauth_harness::web::WebClient;
use devauth_harness::*;
use devauth_server::config::OidcProvider;
use devauth_server::model::Role;
use devauth_server::secret::Secret;
use std::collections::BTreeMap;

devauth_harness::on_both_backends!(
    an_invited_colleague_joins_through_single_sign_on,
    a_first_sign_in_makes_an_account_only_for_an_allowed_verified_email,
    an_existing_account_is_linked_only_with_its_password,
    an_org_can_require_single_sign_on_to_approve_devices,
);

mod attacks {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_that_do_not_belong_here_are_refused() {
        super::answers_that_do_not_belong_here_are_refused(devauth_harness::Backend::Sqlite).await
    }
}

const NAME: &str = "Team IdP";

fn provider(id: &str, issuer: &str, domains: &[&str], org: Option<&str>) -> OidcProvider {
    OidcProvider {
        id: id.into(),
        name: NAME.into(),
        issuer: issuer.into(),
        client_id: "devauth".into(),
        client_secret: Some(Secret::new(idp::CLIENT_SECRET)),
        allowed_domains: domains.iter().map(|d| d.to_string()).collect(),
        org: org.map(str::to_string),
        role: Role::Member,
        scopes: vec!["groups".into()],
        roles_claim: Some("groups".into()),
        roles: [("devauth-admins".to_string(), Role::Admin)].into(),
    }
}

fn accounts() -> Vec<Account> {
    vec![
        Account::verified("carol@team.example", "Carol Colleague"),
        Account {
            groups: vec!["devauth-admins".into(), "everyone".into()],
            ..Account::verified("dave@team.example", "Dave Developer")
        },
        Account::verified("erin@team.example", "Erin Engineer"),
        Account::verified("eve@other.example", "Eve Elsewhere"),
        Account::verified(OWNER_EMAIL, "Olive at the IdP"),
        Account {
            email_verified: false,
            ..Account::verified("unverified@team.example", "Una Unverified")
        },
    ]
}

/// A server with the provider `team` (and `mixup`, whose discovery
/// document is a lie, when `mixup`), and the provider running.
pub(crate) async fn setup(
    backend: Backend,
    domains: &[&str],
    org: Option<&str>,
    mixup: bool,
) -> Option<(TestServer, Idp)> {
    let dir = idp::installed()?;
    let port = idp::free_port();
    let mixup_port = idp::free_port();
    let mut providers = vec![provider(
        "team",
        &format!("http://127.0.0.1:{port}"),
        domains,
        org,
    )];
    if mixup {
        providers.push(provider(
            "mixup",
            &format!("http://127.0.0.1:{mixup_port}"),
            domains,
            org,
        ));
    }
    let config = devauth_server::Config {
        oidc_providers: providers,
        ..Default::default()
    };
    let srv = spawn_server_with(backend, config).await;
    // The provider's tokens carry the real time: the server's clock starts there.
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    srv.clock.set(wall);
    let uris = vec![
        format!("{}/login/sso/team/callback", srv.url),
        format!("{}/login/sso/mixup/callback", srv.url),
    ];
    let idp = if mixup {
        Idp::start_with_mixup(&dir, port, mixup_port, &accounts(), &uris).await
    } else {
        Idp::start(&dir, port, &accounts(), &uris).await
    };
    Some((srv, idp))
}

/// Presses "Sign in with …" (or "Join with …") on `page` as `web`, with
/// the form's other fields: the provider's authorization URL.
async fn press(web: &mut WebClient, page: &str, provider: &str, extra: &[(&str, &str)]) -> String {
    let shown = web.get(page).await;
    assert_eq!(shown.status, 200, "{page}: {}", shown.body);
    assert!(
        shown
            .body
            .contains(&format!("action=\"/login/sso/{provider}\"")),
        "{page} offers single sign-on: {}",
        shown.body
    );
    let csrf = shown.csrf();
    let mut form = vec![("csrf_token", csrf.as_str()), ("next", "/account")];
    form.extend_from_slice(extra);
    let started = web.post(&format!("/login/sso/{provider}"), &form).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let to = started.header("location");
    assert!(to.contains("code_challenge="), "PKCE: {to}");
    assert!(to.contains("nonce=") && to.contains("state="), "{to}");
    to
}

fn cookie_header(jar: &BTreeMap<String, String>) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn keep(jar: &mut BTreeMap<String, String>, headers: &reqwest::header::HeaderMap) {
    for value in headers.get_all(reqwest::header::SET_COOKIE) {
        let Some(pair) = value.to_str().ok().and_then(|v| v.split(';').next()) else {
            continue;
        };
        if let Some((name, value)) = pair.split_once('=') {
            jar.insert(name.trim().to_string(), value.trim().to_string());
        }
    }
}

/// At the provider, in a browser of its own: opens `auth_url`, signs in
/// as `email` and follows its redirects until they lead back to devauth:
/// that callback's path and query.
async fn at_idp(idp: &Idp, auth_url: &str, email: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let mut jar = BTreeMap::new();
    let mut url = auth_url.to_string();
    let mut signed_in = false;
    for _ in 0..10 {
        let response = http
            .get(&url)
            .header("cookie", cookie_header(&jar))
            .send()
            .await
            .expect("the provider answers");
        keep(&mut jar, response.headers());
        if response.status() == 200 && !signed_in {
            // Its sign-in page: one field.
            let action = url.split('?').next().unwrap_or_default().to_string();
            let response = http
                .post(&action)
                .header("cookie", cookie_header(&jar))
                .form(&[("login", email)])
                .send()
                .await
                .expect("the provider's sign-in answers");
            keep(&mut jar, response.headers());
            assert_eq!(
                response.status(),
                303,
                "signing in at the provider as {email}"
            );
            signed_in = true;
            url = absolute(idp, &location(&response));
            continue;
        }
        assert!(
            response.status().is_redirection(),
            "the provider answered {} at {url}",
            response.status()
        );
        let next = absolute(idp, &location(&response));
        if !next.starts_with(&idp.issuer) {
            let at = next
                .find("/login/sso/")
                .expect("back to devauth's callback");
            return next[at..].to_string();
        }
        url = next;
    }
    panic!("the provider never sent the browser back");
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn absolute(idp: &Idp, to: &str) -> String {
    if to.starts_with('/') {
        format!("{}{to}", idp.issuer)
    } else {
        to.to_string()
    }
}

/// `url` with the query parameter `name` set to `value` (or left out).
fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    if let Some(value) = value {
        pairs.push((name.to_string(), value.to_string()));
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{query}")
}

fn param(url: &str, name: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Whom `web` is signed in as: the account page's header, or `None`.
async fn signed_in_as(web: &mut WebClient) -> Option<String> {
    let page = web.get("/account").await;
    if page.status != 200 {
        return None;
    }
    ["carol@team.example", "dave@team.example", OWNER_EMAIL]
        .into_iter()
        .find(|email| page.body.contains(email))
        .map(str::to_string)
}

async fn refusals(srv: &TestServer) -> Vec<String> {
    srv.audit_events("sso.refused", 100)
        .await
        .into_iter()
        .filter_map(|e| e.detail)
        .collect()
}

async fn actions(srv: &TestServer) -> Vec<String> {
    let query = devauth_server::model::AuditQuery {
        limit: 100,
        ..Default::default()
    };
    let events = srv.server.state.store.list_audit(&query).await;
    events
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn an_invited_colleague_joins_through_single_sign_on(backend: Backend) {
    let Some((srv, idp)) = setup(backend, &[], None, false).await else {
        return;
    };
    let owner = srv.claim().await;
    let reply = srv
        .post_json(
            "/api/orgs/acme/invitations",
            Some(&owner),
            serde_json::json!({ "email": "carol@team.example", "role": "member" }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let link = reply.body["link"].as_str().unwrap_or_default();
    let page = &link[link.find("/invite/").expect("an invitation path")..];
    let secret = page.trim_start_matches("/invite/").to_string();

    // Somebody else with the link: refused, nothing made.
    let mut dave = WebClient::new(&srv.url);
    let to = press(&mut dave, page, "team", &[("invite", &secret)]).await;
    let back = at_idp(&idp, &to, "dave@team.example").await;
    let refused = dave.get(&back).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("This invitation is for carol@team.example"),
        "{}",
        refused.body
    );
    assert_eq!(signed_in_as(&mut dave).await, None);
    let store = &srv.server.state.store;
    assert!(
        store
            .user_by_email("dave@team.example")
            .await
            .expect("a read")
            .is_none()
    );

    // Carol joins: a new account without a password, a member, signed in.
    let mut carol = WebClient::new(&srv.url);
    let to = press(&mut carol, page, "team", &[("invite", &secret)]).await;
    let back = at_idp(&idp, &to, "carol@team.example").await;
    let landed = carol.get(&back).await;
    assert_eq!(
        (landed.status, landed.header("location")),
        (303, "/account".to_string()),
        "{}",
        landed.body
    );
    let account = carol.get("/account").await;
    assert!(
        account.body.contains("carol@team.example"),
        "{}",
        account.body
    );
    assert!(account.body.contains("Welcome to"), "{}", account.body);
    let user = store
        .user_by_email("carol@team.example")
        .await
        .expect("a read")
        .expect("carol's account");
    assert_eq!(user.name, "Carol Colleague", "named as the provider says");
    assert!(
        user.password_hash.is_none(),
        "no password: the provider signs her in"
    );
    let org = store
        .org_by_slug("acme")
        .await
        .expect("a read")
        .expect("acme");
    assert_eq!(
        store.role_of(&org.id, &user.id).await.expect("a read"),
        Some(Role::Member)
    );
    let actions = actions(&srv).await;
    for action in ["sso.linked", "invitation.accepted", "sso.signed_in"] {
        assert!(
            actions.contains(&action.to_string()),
            "{action} in {actions:?}"
        );
    }
    // The invitation is used: its page says so.
    assert_eq!(WebClient::new(&srv.url).get(page).await.status, 410);

    // Later, in another browser, the provider signs her in to the same account.
    let mut later = WebClient::new(&srv.url);
    let to = press(&mut later, "/login", "team", &[]).await;
    let back = at_idp(&idp, &to, "carol@team.example").await;
    assert_eq!(later.get(&back).await.status, 303);
    assert_eq!(
        signed_in_as(&mut later).await.as_deref(),
        Some("carol@team.example")
    );
    // Her only way to sign in cannot be disconnected; she has no password form.
    let account = later.get("/account").await;
    assert!(
        account.body.contains("connected as carol@team.example"),
        "{}",
        account.body
    );
    assert!(!account.body.contains("id=\"password-form\""));
    let kept = later
        .post(
            "/account/sso/team/disconnect",
            &[("csrf_token", &account.csrf())],
        )
        .await;
    assert_eq!(kept.status, 409, "{}", kept.body);
    assert_eq!(
        store.sso_identities(&user.id).await.expect("a read").len(),
        1
    );
    srv.stop().await;
}

async fn a_first_sign_in_makes_an_account_only_for_an_allowed_verified_email(backend: Backend) {
    let Some((srv, idp)) = setup(backend, &["team.example"], Some("acme"), false).await else {
        return;
    };
    srv.claim().await;
    let store = srv.server.state.store.clone();

    // Another domain: refused, said, audited, nothing made.
    let mut eve = WebClient::new(&srv.url);
    let to = press(&mut eve, "/login", "team", &[]).await;
    let refused = eve.get(&at_idp(&idp, &to, "eve@other.example").await).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("There is no devauth account for eve@other.example"),
        "{}",
        refused.body
    );
    assert!(
        store
            .user_by_email("eve@other.example")
            .await
            .expect("a read")
            .is_none()
    );

    // An email the provider did not verify: refused, even in the domain.
    let mut una = WebClient::new(&srv.url);
    let to = press(&mut una, "/login", "team", &[]).await;
    let refused = una
        .get(&at_idp(&idp, &to, "unverified@team.example").await)
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("verified email"), "{}", refused.body);
    assert!(
        store
            .user_by_email("unverified@team.example")
            .await
            .expect("a read")
            .is_none()
    );
    let details = refusals(&srv).await;
    assert!(
        details.contains(&"domain not allowed".to_string()),
        "{details:?}"
    );
    assert!(
        details.contains(&"email not verified".to_string()),
        "{details:?}"
    );

    // The allowed domain, verified: an account, in the provider's org, with
    // the role its groups map to (none mapped: the provider's `role`).
    for (email, role) in [
        ("dave@team.example", Role::Admin),
        ("erin@team.example", Role::Member),
    ] {
        let mut web = WebClient::new(&srv.url);
        let to = press(&mut web, "/login", "team", &[]).await;
        assert!(to.contains("groups"), "asks for the groups scope: {to}");
        let landed = web.get(&at_idp(&idp, &to, email).await).await;
        assert_eq!(landed.status, 303, "{}", landed.body);
        let user = store
            .user_by_email(email)
            .await
            .expect("a read")
            .expect("the new account");
        let org = store
            .org_by_slug("acme")
            .await
            .expect("a read")
            .expect("acme");
        assert_eq!(
            store.role_of(&org.id, &user.id).await.expect("a read"),
            Some(role),
            "{email}"
        );
    }
    srv.stop().await;
}

async fn an_existing_account_is_linked_only_with_its_password(backend: Backend) {
    let Some((srv, idp)) = setup(backend, &["example.com"], None, false).await else {
        return;
    };
    srv.claim().await;
    let mut web = WebClient::new(&srv.url);
    let to = press(&mut web, "/login", "team", &[]).await;
    let back = at_idp(&idp, &to, OWNER_EMAIL).await;
    let asked = web.get(&back).await;
    assert_eq!(
        (asked.status, asked.header("location")),
        (303, "/login/sso/link".to_string()),
        "the email is an account's: proof first, even in an allowed domain"
    );
    assert_eq!(signed_in_as(&mut web).await, None, "not signed in yet");
    let form = web.get("/login/sso/link").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains(OWNER_EMAIL), "{}", form.body);
    let csrf = form.csrf();

    // A wrong password: nothing linked; another browser finds nothing waiting.
    let wrong = web
        .post(
            "/login/sso/link",
            &[("csrf_token", &csrf), ("password", "not the password")],
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let store = srv.server.state.store.clone();
    let user = store
        .user_by_email(OWNER_EMAIL)
        .await
        .expect("a read")
        .expect("the owner");
    assert!(
        store
            .sso_identities(&user.id)
            .await
            .expect("a read")
            .is_empty()
    );
    let mut other = WebClient::new(&srv.url);
    let other_csrf = other.get("/login").await.csrf();
    let elsewhere = other
        .post(
            "/login/sso/link",
            &[("csrf_token", &other_csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(elsewhere.status, 410, "bound to the browser it began in");
    assert_eq!(signed_in_as(&mut other).await, None);

    // The password: linked, signed in; from then on the provider alone signs in.
    let right = web
        .post(
            "/login/sso/link",
            &[("csrf_token", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        (right.status, right.header("location")),
        (303, "/account".to_string())
    );
    assert_eq!(signed_in_as(&mut web).await.as_deref(), Some(OWNER_EMAIL));
    assert_eq!(
        store.sso_identities(&user.id).await.expect("a read").len(),
        1
    );
    let csrf = web.get("/account").await.csrf();
    let again = web
        .post(
            "/login/sso/link",
            &[("csrf_token", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(again.status, 410, "the link was taken once");
    let mut later = WebClient::new(&srv.url);
    let to = press(&mut later, "/login", "team", &[]).await;
    let landed = later.get(&at_idp(&idp, &to, OWNER_EMAIL).await).await;
    assert_eq!(landed.header("location"), "/account");
    assert_eq!(signed_in_as(&mut later).await.as_deref(), Some(OWNER_EMAIL));
    let linked = srv.audit_events("sso.linked", 10).await;
    assert_eq!(linked.len(), 1, "{linked:?}");

    // With a password to fall back on, it can be disconnected (a forged form cannot).
    let csrf = later.get("/account").await.csrf();
    let forged = later
        .post("/account/sso/team/disconnect", &[("csrf_token", "forged")])
        .await;
    assert_eq!(forged.status, 403);
    let done = later
        .post("/account/sso/team/disconnect", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        (done.status, done.header("location")),
        (303, "/account#sso".to_string())
    );
    assert!(
        store
            .sso_identities(&user.id)
            .await
            .expect("a read")
            .is_empty()
    );
    assert_eq!(srv.audit_events("sso.unlinked", 10).await.len(), 1);
    srv.stop().await;
}

async fn answers_that_do_not_belong_here_are_refused(backend: Backend) {
    let Some((srv, idp)) = setup(backend, &["team.example"], None, true).await else {
        return;
    };
    srv.claim().await;
    let mut web = WebClient::new(&srv.url);

    // A tampered state: refused; the real one still works after.
    let to = press(&mut web, "/login", "team", &[]).await;
    let back = at_idp(&idp, &to, "dave@team.example").await;
    let tampered = web
        .get(&with_param(&back, "state", Some("forged-state")))
        .await;
    assert_eq!(tampered.status, 400, "{}", tampered.body);
    assert_eq!(signed_in_as(&mut web).await, None);

    // Another browser's answer (a login CSRF): refused there, and used up.
    let mut attacker = WebClient::new(&srv.url);
    let stolen = attacker.get(&back).await;
    assert_eq!(stolen.status, 400, "{}", stolen.body);
    assert_eq!(signed_in_as(&mut attacker).await, None);
    assert_eq!(web.get(&back).await.status, 400, "taken once");

    // A good answer works once; replayed, it is refused.
    let to = press(&mut web, "/login", "team", &[]).await;
    let first_nonce = param(&to, "nonce");
    let back = at_idp(&idp, &to, "dave@team.example").await;
    assert_eq!(web.get(&back).await.status, 303);
    assert_eq!(
        signed_in_as(&mut web).await.as_deref(),
        Some("dave@team.example")
    );
    let mut fresh = WebClient::new(&srv.url);
    assert_eq!(fresh.get(&back).await.status, 400, "a replayed answer");

    // A replayed nonce: the provider is asked with the nonce of the sign-in
    // before; its ID token carries it, and this sign-in expects another.
    let mut again = WebClient::new(&srv.url);
    let to = press(&mut again, "/login", "team", &[]).await;
    let replayed = with_param(&to, "nonce", Some(&first_nonce));
    let back = at_idp(&idp, &replayed, "dave@team.example").await;
    let refused = again.get(&back).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("another nonce"), "{}", refused.body);
    assert_eq!(signed_in_as(&mut again).await, None);

    // An answer naming another issuer (RFC 9207 `iss`): refused.
    let to = press(&mut again, "/login", "team", &[]).await;
    let back = at_idp(&idp, &to, "dave@team.example").await;
    let other_iss = with_param(&back, "iss", Some("http://127.0.0.1:9"));
    assert_eq!(again.get(&other_iss).await.status, 400);
    assert_eq!(signed_in_as(&mut again).await, None);

    // A provider whose discovery document names itself but whose ID
    // tokens come from another issuer (signed by keys it vouches for).
    let to = press(&mut again, "/login", "mixup", &[]).await;
    assert!(
        to.starts_with(&idp.issuer),
        "sent to the real provider: {to}"
    );
    let back = at_idp(&idp, &to, "dave@team.example").await;
    let refused = again.get(&with_param(&back, "iss", None)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("another issuer"), "{}", refused.body);
    assert_eq!(signed_in_as(&mut again).await, None);

    let details = refusals(&srv).await;
    for reason in [
        "state unknown, used or expired",
        "state from another browser",
        "ID token with another nonce (a replay)",
        "answer from the issuer http://127.0.0.1:9",
        "ID token from another issuer",
    ] {
        assert!(
            details.contains(&reason.to_string()),
            "{reason} in {details:?}"
        );
    }

    // The provider rotates its signing key: the new key is read, sign-in works.
    let idp = idp.restart().await;
    let mut rotated = WebClient::new(&srv.url);
    let to = press(&mut rotated, "/login", "team", &[]).await;
    let landed = rotated
        .get(&at_idp(&idp, &to, "dave@team.example").await)
        .await;
    assert_eq!(landed.status, 303, "{}", landed.body);
    assert_eq!(
        signed_in_as(&mut rotated).await.as_deref(),
        Some("dave@team.example")
    );
    srv.stop().await;
}

async fn patch_policy(srv: &TestServer, token: &str, body: serde_json::Value) -> Reply {
    srv.send_json(
        reqwest::Method::PATCH,
        "/api/orgs/acme/policy",
        Some(token),
        body,
    )
    .await
}

/// Enters `code` on `/device` and approves it into acme on the confirm page.
async fn approve_in_page(web: &mut WebClient, code: &str) -> devauth_harness::web::Page {
    let csrf = web.get("/device").await.csrf();
    let confirm = web
        .post("/device", &[("csrf_token", &csrf), ("user_code", code)])
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let csrf = confirm.csrf();
    web.post(
        "/device/decide",
        &[
            ("csrf_token", &csrf),
            ("user_code", code),
            ("org", "acme"),
            ("action", "approve"),
        ],
    )
    .await
}

fn user_code(device: &serde_json::Value) -> String {
    device["user_code"].as_str().unwrap_or_default().to_string()
}

async fn an_org_can_require_single_sign_on_to_approve_devices(backend: Backend) {
    // A server without a provider refuses the setting.
    let plain = spawn_server(backend).await;
    let token = plain.claim().await;
    let refused = patch_policy(&plain, &token, serde_json::json!({ "sign_in": ["sso"] })).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    plain.stop().await;

    let Some((srv, idp)) = setup(backend, &["team.example"], Some("acme"), false).await else {
        return;
    };
    let owner = srv.claim().await;
    let bad = patch_policy(&srv, &owner, serde_json::json!({ "sign_in": ["magic"] })).await;
    assert_eq!(bad.status, 422, "an unknown method: {}", bad.body);
    let set = patch_policy(&srv, &owner, serde_json::json!({ "sign_in": ["sso"] })).await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["sign_in"], serde_json::json!(["sso"]));

    // Signed in with a password: refused, said, offered to sign in again;
    // the request stays pending. With a token: refused too.
    let device = srv.start_device("devauth-cli", "laptop").await;
    let code = user_code(&device);
    let mut web = WebClient::new(&srv.url);
    web.sign_in(OWNER_EMAIL, PASSWORD).await;
    let refused = approve_in_page(&mut web, &code).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("only for people signed in with single sign-on"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("id=\"sso-again-team\""),
        "{}",
        refused.body
    );
    let by_token = srv.approve(&owner, &code, "acme").await;
    assert_eq!(by_token.status, 403, "{}", by_token.body);
    let denied = srv.audit_events("device.policy_denied", 10).await;
    assert_eq!(denied.len(), 2, "both refusals audited");

    // "Sign in again with Team IdP": a fresh sign-in at the provider, back
    // to this request, and now the approval works.
    let again = web.get(&format!("/device?user_code={code}")).await;
    let csrf = again.csrf();
    let started = web
        .post(
            "/login/sso/team",
            &[
                ("csrf_token", &csrf),
                ("next", &format!("/device?user_code={code}")),
                ("fresh", "yes"),
            ],
        )
        .await;
    assert_eq!(started.status, 303);
    let to = started.header("location");
    assert!(
        to.contains("prompt=login") && to.contains("max_age=0"),
        "{to}"
    );
    let back = at_idp(&idp, &to, OWNER_EMAIL).await;
    let landed = web.get(&back).await;
    assert_eq!(
        landed.header("location"),
        format!("/device?user_code={code}"),
        "{}",
        landed.body
    );
    let approved = approve_in_page(&mut web, &code).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert!(
        approved.body.contains("Device approved"),
        "{}",
        approved.body
    );
    let device_code = device["device_code"].as_str().unwrap_or_default();
    let polled = srv.poll(device_code, "devauth-cli").await;
    assert_eq!(polled.status, 200, "{}", polled.body);

    // Someone who joined through the provider approves at once.
    let mut dave = WebClient::new(&srv.url);
    let to = press(&mut dave, "/login", "team", &[]).await;
    assert_eq!(
        dave.get(&at_idp(&idp, &to, "dave@team.example").await)
            .await
            .status,
        303
    );
    let second = srv.start_device("devauth-cli", "dave's laptop").await;
    let approved = approve_in_page(&mut dave, &user_code(&second)).await;
    assert!(
        approved.body.contains("Device approved"),
        "{}",
        approved.body
    );
    // Hours later his sign-in is old: no password to type (he has none),
    // the page offers to sign in with the provider again.
    srv.clock.advance(3 * 3600);
    let third = srv.start_device("devauth-cli", "dave's desktop").await;
    let old = approve_in_page(&mut dave, &user_code(&third)).await;
    assert_eq!(old.status, 401, "{}", old.body);
    assert!(old.body.contains("sign in again with it"), "{}", old.body);
    assert!(old.body.contains("id=\"sso-again-team\""), "{}", old.body);
    assert!(!old.body.contains("id=\"password\""), "no password field");
    srv.stop().await;
}
