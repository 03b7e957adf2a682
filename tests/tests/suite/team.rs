//! Team sign-in over plain HTTP, on both backends: changing one's password
//! (the current one required, other browsers signed out, tokens kept) and
//! the password rules; invitations (who may invite to what, the link shown
//! once and stored hashed, a new account or an existing one joining, once,
//! only for the invited email; withdrawn and expired links).

use devauth_harness::web::WebClient;
use devauth_harness::*;
use devauth_server::model::Role;

devauth_harness::on_both_backends!(
    a_password_change_signs_out_other_browsers_and_keeps_tokens,
    an_invitation_brings_a_colleague_in_once,
    an_account_accepts_only_an_invitation_for_its_own_email,
    the_console_invites_and_shows_the_link_once,
    a_reset_link_sets_a_password_once_and_signs_out_everywhere,
);

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn a_password_change_signs_out_other_browsers_and_keeps_tokens(backend: Backend) {
    let srv = spawn_server(backend).await;
    let token = srv.claim().await;
    let mut here = WebClient::new(&srv.url);
    here.sign_in(OWNER_EMAIL, PASSWORD).await;
    let mut elsewhere = WebClient::new(&srv.url);
    elsewhere.sign_in(OWNER_EMAIL, PASSWORD).await;
    let csrf = here.get("/account").await.csrf();
    let change = |current: &'static str, new: &'static str| {
        [
            ("csrf_token", csrf.clone()),
            ("current_password", current.to_string()),
            ("new_password", new.to_string()),
        ]
    };
    let post = async |web: &mut WebClient, form: [(&'static str, String); 3]| {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        web.post("/account/password", &pairs).await
    };

    // A forged form, a wrong current password, an unacceptable new one:
    // refused, said beside the field, nothing changed.
    let mut forged = change(PASSWORD, NEW_PASSWORD);
    forged[0].1 = "forged".into();
    assert_eq!(post(&mut here, forged).await.status, 403);
    let wrong = post(&mut here, change("not my password", NEW_PASSWORD)).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(
        wrong.body.contains("id=\"current-password-error\""),
        "{}",
        wrong.body
    );
    let short = post(&mut here, change(PASSWORD, "too short")).await;
    assert_eq!(short.status, 400);
    assert!(
        short.body.contains("at least 12 characters"),
        "{}",
        short.body
    );
    assert!(short.body.contains("id=\"new-password-error\""));
    let common = post(&mut here, change(PASSWORD, "Password1234")).await;
    assert_eq!(common.status, 400);
    assert!(
        common.body.contains("one of the most common"),
        "{}",
        common.body
    );
    assert_eq!(
        elsewhere.get("/account").await.status,
        200,
        "nothing changed yet"
    );
    let mut check = WebClient::new(&srv.url);
    check.sign_in(OWNER_EMAIL, PASSWORD).await;

    // The change.
    let done = post(&mut here, change(PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(
        (done.status, done.header("location")),
        (303, "/account#password".to_string()),
        "{}",
        done.body
    );
    let after = here.get("/account").await;
    assert_eq!(after.status, 200, "this browser stays signed in");
    assert!(
        after.body.contains("Password changed. The 2 other browsers signed in as you are signed out; your tokens keep working."),
        "{}",
        after.body
    );
    assert_eq!(
        elsewhere.get("/account").await.status,
        303,
        "the others are signed out"
    );
    assert_eq!(check.get("/account").await.status, 303);
    assert_eq!(
        srv.get("/me", Some(&token)).await.status,
        200,
        "tokens keep working"
    );
    // The old password no longer signs in; the new one does.
    let mut old = WebClient::new(&srv.url);
    let csrf = old.get("/login").await.csrf();
    let refused = old
        .post(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("email", OWNER_EMAIL),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(refused.status, 401);
    old.sign_in(OWNER_EMAIL, NEW_PASSWORD).await;
    let events = srv.audit_events("user.password_changed", 10).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, OWNER_EMAIL);
    let dump = srv
        .server
        .state
        .store
        .dump_for_tests()
        .await
        .unwrap_or_default();
    assert!(!dump.contains(NEW_PASSWORD), "only its hash is stored");
    srv.stop().await;
}

/// The link of an invitation created through the API as `token`.
async fn invite(srv: &TestServer, token: &str, email: &str, role: &str) -> Reply {
    srv.post_json(
        "/api/orgs/acme/invitations",
        Some(token),
        serde_json::json!({ "email": email, "role": role }),
    )
    .await
}

fn link_path(reply: &Reply) -> String {
    let link = reply.body["link"].as_str().unwrap_or_default();
    link.find("/invite/")
        .map(|at| link[at..].to_string())
        .unwrap_or_default()
}

async fn role_in_acme(srv: &TestServer, email: &str) -> Option<Role> {
    let state = &srv.server.state;
    let user = state.store.user_by_email(email).await.ok().flatten()?;
    let org = state.store.org_by_slug("acme").await.ok().flatten()?;
    state.store.role_of(&org.id, &user.id).await.ok().flatten()
}

async fn an_invitation_brings_a_colleague_in_once(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let bob = srv.enrol("bob@example.com", "acme", Role::Member).await;
    let ada = srv.enrol("ada@example.com", "acme", Role::Admin).await;

    // Who may invite, and to what.
    assert_eq!(
        invite(&srv, &bob, "x@example.com", "viewer").await.status,
        403,
        "members do not invite"
    );
    assert_eq!(
        invite(&srv, &ada, "x@example.com", "owner").await.status,
        403,
        "admins do not make owners"
    );
    assert_eq!(
        invite(&srv, &owner, "bob@example.com", "member")
            .await
            .status,
        409,
        "a member already"
    );
    assert_eq!(
        invite(&srv, &owner, "not an email", "member").await.status,
        400
    );
    let made = invite(&srv, &ada, "carol@example.com", "member").await;
    assert_eq!(made.status, 201, "{}", made.body);
    let path = link_path(&made);
    assert!(path.starts_with("/invite/dvi_"), "{}", made.body);
    let secret = path.trim_start_matches("/invite/").to_string();
    let dump = srv
        .server
        .state
        .store
        .dump_for_tests()
        .await
        .unwrap_or_default();
    assert!(
        !dump.contains(&secret),
        "the link's secret is stored only hashed"
    );
    let listed = srv.get("/api/orgs/acme/invitations", Some(&owner)).await;
    assert_eq!(listed.body["invitations"][0]["email"], "carol@example.com");
    assert_eq!(
        listed.body["invitations"][0]["invited_by"],
        "ada@example.com"
    );
    assert!(
        listed.body.to_string().find("dvi_").is_none(),
        "lists never show the link"
    );
    assert_eq!(
        srv.get("/api/orgs/acme/invitations", Some(&bob))
            .await
            .status,
        403
    );

    // Carol opens it, makes her account, and is in, signed in.
    let mut carol = WebClient::new(&srv.url);
    let page = carol.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Join Acme"));
    assert!(
        page.body
            .contains("ada@example.com invited <strong>carol@example.com</strong>")
    );
    let csrf = page.csrf();
    let forged = carol
        .post(
            &path,
            &[
                ("csrf_token", "forged"),
                ("action", "create"),
                ("name", "Carol"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    let short = carol
        .post(
            &path,
            &[
                ("csrf_token", &csrf),
                ("action", "create"),
                ("name", "Carol Chen"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 400, "{}", short.body);
    assert!(short.body.contains("at least 12 characters"));
    assert!(
        short.body.contains("value=\"Carol Chen\""),
        "the name is kept"
    );
    assert_eq!(
        role_in_acme(&srv, "carol@example.com").await,
        None,
        "nothing yet"
    );
    let joined = carol
        .post(
            &path,
            &[
                ("csrf_token", &csrf),
                ("action", "create"),
                ("name", "Carol Chen"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (joined.status, joined.header("location")),
        (303, "/account".to_string()),
        "{}",
        joined.body
    );
    let account = carol.get("/account").await;
    assert_eq!(account.status, 200, "signed in");
    assert!(
        account
            .body
            .contains("Welcome to Acme: you joined as member."),
        "{}",
        account.body
    );
    assert_eq!(
        role_in_acme(&srv, "carol@example.com").await,
        Some(Role::Member)
    );
    assert_eq!(srv.audit_events("invitation.accepted", 5).await.len(), 1);

    // Once only.
    let mut again = WebClient::new(&srv.url);
    let used = again.get(&path).await;
    assert_eq!(used.status, 410);
    assert!(used.body.contains("This invitation was used"));
    let csrf = again.get("/login").await.csrf();
    let replay = again
        .post(
            &path,
            &[
                ("csrf_token", &csrf),
                ("action", "create"),
                ("name", "Mallory"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(replay.status, 410, "{}", replay.body);
    assert_eq!(again.get("/invite/dvi_nonsense").await.status, 404);
    assert!(
        srv.server
            .state
            .store
            .user_by_email("mallory@example.com")
            .await
            .ok()
            .flatten()
            .is_none()
    );

    // Withdrawn, and expired, links say so.
    let withdrawn = invite(&srv, &owner, "dave@example.com", "viewer").await;
    let id = withdrawn.body["invitation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        srv.delete(&format!("/api/orgs/acme/invitations/{id}"), Some(&bob))
            .await
            .status,
        403
    );
    assert_eq!(
        srv.delete(&format!("/api/orgs/acme/invitations/{id}"), Some(&owner))
            .await
            .status,
        200
    );
    let page = again.get(&link_path(&withdrawn)).await;
    assert_eq!(page.status, 410);
    assert!(page.body.contains("This invitation was withdrawn"));
    let late = invite(&srv, &owner, "erin@example.com", "viewer").await;
    srv.clock.advance(7 * 86_400 + 1);
    let page = again.get(&link_path(&late)).await;
    assert_eq!(page.status, 410);
    assert!(page.body.contains("This invitation has expired"));
    srv.stop().await;
}

async fn an_account_accepts_only_an_invitation_for_its_own_email(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let state = &srv.server.state;
    for (email, name) in [("frank@example.com", "Frank"), ("gina@example.com", "Gina")] {
        devauth_server::identity::create_user(
            state,
            email,
            name,
            Some(&devauth_server::secret::Secret::new(PASSWORD)),
            devauth_server::model::Actor::System,
            &Default::default(),
        )
        .await
        .expect("a user without an org");
    }
    let made = invite(&srv, &owner, "frank@example.com", "admin").await;
    assert_eq!(made.status, 201, "{}", made.body);
    let path = link_path(&made);
    // Not signed in: the page leads to sign-in, and back.
    let mut anyone = WebClient::new(&srv.url);
    let page = anyone.get(&path).await;
    assert!(page.body.contains("Sign in to accept"), "{}", page.body);
    assert!(page.body.contains("/login?next=%2Finvite%2Fdvi_"));
    assert!(
        !page.body.contains("id=\"new-account\""),
        "no second account for that email"
    );
    // Someone else, signed in: told, and refused.
    let mut gina = WebClient::new(&srv.url);
    gina.sign_in("gina@example.com", PASSWORD).await;
    let page = gina.get(&path).await;
    assert!(page.body.contains("id=\"wrong-account\""), "{}", page.body);
    let csrf = page.csrf();
    let refused = gina
        .post(&path, &[("csrf_token", &csrf), ("action", "accept")])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(role_in_acme(&srv, "gina@example.com").await, None);
    // Frank accepts.
    let mut frank = WebClient::new(&srv.url);
    frank.sign_in("frank@example.com", PASSWORD).await;
    let page = frank.get(&path).await;
    assert!(page.body.contains("id=\"accept\""), "{}", page.body);
    let csrf = page.csrf();
    let done = frank
        .post(&path, &[("csrf_token", &csrf), ("action", "accept")])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        role_in_acme(&srv, "frank@example.com").await,
        Some(Role::Admin)
    );
    assert!(
        frank
            .get("/account")
            .await
            .body
            .contains("You joined Acme as admin.")
    );
    srv.stop().await;
}

async fn the_console_invites_and_shows_the_link_once(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let mut web = WebClient::new(&srv.url);
    web.sign_in(OWNER_EMAIL, PASSWORD).await;
    let csrf = web.get("/admin/acme").await.csrf();
    let made = web
        .post(
            "/admin/acme/invitations",
            &[
                ("csrf_token", &csrf),
                ("invite_email", "hal@example.com"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(
        (made.status, made.header("location")),
        (303, "/admin/acme#new-token".to_string()),
        "{}",
        made.body
    );
    let page = web.get("/admin/acme").await;
    assert!(
        page.body.contains("Invitation link for hal@example.com"),
        "{}",
        page.body
    );
    assert!(page.body.contains("/invite/dvi_"));
    assert!(
        page.body
            .contains("<td data-label=\"Invited\">hal@example.com</td>")
    );
    let again = web.get("/admin/acme").await;
    assert!(
        !again.body.contains("/invite/dvi_"),
        "the link is shown once"
    );
    let bad = web
        .post(
            "/admin/acme/invitations",
            &[
                ("csrf_token", &csrf),
                ("invite_email", "nope"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("id=\"invite-email-error\""),
        "{}",
        bad.body
    );
    srv.stop().await;
}

async fn reset_link(srv: &TestServer, token: &str, who: &str) -> Reply {
    srv.post_json(
        &format!("/api/orgs/acme/members/{who}/password-reset"),
        Some(token),
        serde_json::json!({}),
    )
    .await
}

fn reset_path(reply: &Reply) -> String {
    let link = reply.body["link"].as_str().unwrap_or_default();
    link.find("/reset/")
        .map(|at| link[at..].to_string())
        .unwrap_or_default()
}

async fn a_reset_link_sets_a_password_once_and_signs_out_everywhere(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let ada = srv.enrol("ada@example.com", "acme", Role::Admin).await;
    let max = srv.enrol("max@example.com", "acme", Role::Member).await;
    srv.add_member("bob@example.com", "acme", Role::Member)
        .await;
    srv.add_org("beta").await;
    srv.add_member("bob@example.com", "beta", Role::Owner).await;

    // Who may make one for whom.
    let refused = reset_link(&srv, &ada, OWNER_EMAIL).await;
    assert_eq!(
        refused.status, 403,
        "an admin cannot take over the owner: {}",
        refused.body
    );
    let refused = reset_link(&srv, &ada, "bob@example.com").await;
    assert_eq!(
        refused.status, 403,
        "nor the owner of another org: {}",
        refused.body
    );
    assert!(
        refused.body.to_string().contains("also owner of beta"),
        "{}",
        refused.body
    );
    assert_eq!(
        reset_link(&srv, &max, "ada@example.com").await.status,
        403,
        "members make none"
    );
    assert_eq!(
        reset_link(&srv, &ada, "nobody@example.com").await.status,
        404
    );
    let made = reset_link(&srv, &ada, "max@example.com").await;
    assert_eq!(made.status, 201, "{}", made.body);
    let path = reset_path(&made);
    assert!(path.starts_with("/reset/dvr_"), "{}", made.body);
    let secret = path.trim_start_matches("/reset/").to_string();
    let dump = srv
        .server
        .state
        .store
        .dump_for_tests()
        .await
        .unwrap_or_default();
    assert!(!dump.contains(&secret), "stored only hashed");

    // Max, signed in somewhere, and the link opened elsewhere.
    let mut signed_in = WebClient::new(&srv.url);
    signed_in.sign_in("max@example.com", PASSWORD).await;
    let mut web = WebClient::new(&srv.url);
    let page = web.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("For <strong>max@example.com</strong>"));
    let csrf = page.csrf();
    let short = web
        .post(&path, &[("csrf_token", &csrf), ("password", "short")])
        .await;
    assert_eq!(short.status, 400, "{}", short.body);
    assert_eq!(
        signed_in.get("/account").await.status,
        200,
        "nothing changed yet"
    );
    let done = web
        .post(&path, &[("csrf_token", &csrf), ("password", NEW_PASSWORD)])
        .await;
    assert_eq!(
        (done.status, done.header("location")),
        (303, "/login?reset=done".to_string()),
        "{}",
        done.body
    );
    assert!(
        web.get("/login?reset=done")
            .await
            .body
            .contains("Your new password is set")
    );
    assert_eq!(
        signed_in.get("/account").await.status,
        303,
        "every browser is signed out"
    );
    assert_eq!(
        srv.get("/me", Some(&max)).await.status,
        200,
        "tokens keep working"
    );
    let mut fresh = WebClient::new(&srv.url);
    fresh.sign_in("max@example.com", NEW_PASSWORD).await;
    assert_eq!(srv.audit_events("user.password_reset", 5).await.len(), 1);
    // Once only; a newer link replaces an older one; an hour at most.
    let again = web.get(&path).await;
    assert_eq!(again.status, 410, "{}", again.body);
    let first = reset_path(&reset_link(&srv, &owner, "max@example.com").await);
    let second = reset_path(&reset_link(&srv, &owner, "max@example.com").await);
    assert_eq!(
        web.get(&first).await.status,
        410,
        "replaced by the newer link"
    );
    assert_eq!(web.get(&second).await.status, 200);
    srv.clock.advance(3_601);
    assert_eq!(web.get(&second).await.status, 410, "an hour at most");
    assert_eq!(web.get("/reset/dvr_nonsense").await.status, 404);

    // The console asks first, then shows the link once.
    let mut console = WebClient::new(&srv.url);
    console.sign_in(OWNER_EMAIL, PASSWORD).await;
    let csrf = console.get("/admin/acme").await.csrf();
    let form_path = "/admin/acme/members/max@example.com/password-reset";
    let ask = console.post(form_path, &[("csrf_token", &csrf)]).await;
    assert_eq!(ask.status, 200);
    assert!(
        ask.body
            .contains("Make a password reset link for max@example.com?"),
        "{}",
        ask.body
    );
    let made = console
        .post(form_path, &[("csrf_token", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let shown = console.get("/admin/acme").await;
    assert!(
        shown
            .body
            .contains("Password reset link for max@example.com")
    );
    assert!(shown.body.contains("/reset/dvr_"));
    assert!(
        !console
            .get("/admin/acme")
            .await
            .body
            .contains("/reset/dvr_"),
        "once"
    );
    srv.stop().await;
}
