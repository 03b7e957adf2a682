//! The console's forms and sections over plain HTTP, on both backends:
//! Post/Redirect/Get with a secret held for exactly one view, destructive
//! acts that ask first, forms that keep their values and say what is wrong
//! where it is wrong, the admin console's sections, search and paging, the
//! audit log in words and as CSV, and controls that match what the viewer
//! may do. The browser tests drive the same pages with JavaScript.

use devauth_harness::web::{Page, WebClient};
use devauth_harness::*;
use devauth_server::model::Role;
use serde_json::json;

devauth_harness::on_both_backends!(
    a_new_secret_is_shown_for_exactly_one_view,
    destructive_acts_ask_first,
    forms_keep_their_values_and_say_what_is_wrong,
    the_console_is_in_sections_with_search_and_paging,
    the_audit_log_reads_as_sentences_and_exports_as_csv,
    controls_match_what_the_viewer_may_do,
    the_org_a_device_asks_for_is_picked_and_guarded,
);

async fn owner_at_the_console(srv: &TestServer) -> (WebClient, String) {
    let mut web = WebClient::new(&srv.url);
    web.sign_in(OWNER_EMAIL, PASSWORD).await;
    let csrf = web.get("/account").await.csrf();
    (web, csrf)
}

async fn token_count(srv: &TestServer) -> usize {
    let query = devauth_server::model::TokenQuery::default();
    srv.server
        .state
        .store
        .list_tokens(&query)
        .await
        .map(|t| t.len())
        .unwrap_or_default()
}

/// The value shown in `#new-token-value`, if the page shows one.
fn shown_secret(page: &Page) -> Option<String> {
    let start = page.body.find("id=\"new-token-value\"")?;
    let rest = &page.body[start..];
    let open = rest.find('>')? + 1;
    let close = rest[open..].find('<')?;
    Some(rest[open..open + close].trim().to_string())
}

/// How many rows the table with this id has in its body.
fn rows_of(page: &Page, table: &str) -> usize {
    let Some(start) = page.body.find(&format!("<table id=\"{table}\"")) else {
        return 0;
    };
    let rest = &page.body[start..];
    let end = rest.find("</table>").unwrap_or(rest.len());
    rest[..end].matches("<tr").count().saturating_sub(1)
}

/// The `href` of the link with this id.
fn link(page: &Page, id: &str) -> Option<String> {
    let start = page.body.find(&format!("id=\"{id}\""))?;
    let before = &page.body[..start];
    let tag = before.rfind('<')?;
    let tag_text = &page.body[tag..start + page.body[start..].find('>')?];
    let href = tag_text.find("href=\"")? + 6;
    let end = tag_text[href..].find('"')?;
    Some(tag_text[href..href + end].replace("&amp;", "&"))
}

fn has_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.windows(36).any(|w| {
        w.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit() && !b.is_ascii_uppercase(),
        })
    })
}

async fn a_new_secret_is_shown_for_exactly_one_view(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let (mut web, csrf) = owner_at_the_console(&srv).await;
    let before = token_count(&srv).await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("name", "CI on GitHub"),
        ("org", "acme"),
        ("expires", "90d"),
    ];
    let created = web.post("/account/tokens", &form).await;
    assert_eq!(
        (created.status, created.header("location")),
        (303, "/account#new-token".to_string()),
        "a form that worked redirects: {}",
        created.body
    );
    assert!(
        shown_secret(&created).is_none(),
        "nothing is drawn at the POST"
    );
    assert_eq!(token_count(&srv).await, before + 1);
    let flash_cookie = web
        .cookies()
        .get("devauth_flash")
        .cloned()
        .expect("the note's key is a cookie");
    let dump = srv
        .server
        .state
        .store
        .dump_for_tests()
        .await
        .unwrap_or_default();
    // Another session cannot open this browser's note with its key.
    let mut other = WebClient::new(&srv.url);
    other.sign_in(OWNER_EMAIL, PASSWORD).await;
    other
        .cookies()
        .insert("devauth_flash".into(), flash_cookie.clone());
    let elsewhere = other.get("/account").await;
    assert!(
        shown_secret(&elsewhere).is_none(),
        "another session sees nothing"
    );
    // The one view.
    let shown = web.get("/account").await;
    let secret = shown_secret(&shown).expect("the account page shows the new token once");
    assert!(secret.starts_with("dva_"), "{secret}");
    assert!(shown.body.contains("Created the token “CI on GitHub”."));
    assert!(
        shown
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("devauth_flash=;") && c.contains("Max-Age=0")),
        "the view clears the note's cookie"
    );
    assert!(!dump.contains(&secret), "the store never held the secret");
    assert!(!flash_cookie.contains(&secret));
    assert_eq!(srv.get("/me", Some(&secret)).await.status, 200);
    // A reload, and a replayed cookie, find nothing; nothing more is created.
    let reload = web.get("/account").await;
    assert!(shown_secret(&reload).is_none(), "a reload shows nothing");
    assert!(!reload.body.contains("Created the token"));
    web.cookies().insert("devauth_flash".into(), flash_cookie);
    let replay = web.get("/account").await;
    assert!(
        shown_secret(&replay).is_none(),
        "a replayed cookie shows nothing"
    );
    assert_eq!(
        token_count(&srv).await,
        before + 1,
        "reloading created nothing"
    );
    srv.stop().await;
}

async fn destructive_acts_ask_first(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    srv.add_member("bob@example.com", "acme", Role::Member)
        .await;
    let (bob_token, bob_token_id) = srv.mint(Some("bob@example.com"), "acme", &[]).await;
    let (mut web, csrf) = owner_at_the_console(&srv).await;
    let (mine, mine_id) = srv.mint(Some(OWNER_EMAIL), "acme", &[]).await;
    let c = csrf.as_str();

    // Revoke: first the question, then the act.
    let path = format!("/account/tokens/{mine_id}/revoke");
    let ask = web.post(&path, &[("csrf_token", c)]).await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(
        ask.body.contains("Revoke “owner@example.com test token”?"),
        "{}",
        ask.body
    );
    assert!(ask.body.contains("stops working now"));
    assert!(ask.body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(
        srv.get("/me", Some(&mine)).await.status,
        200,
        "asking revoked nothing"
    );
    let done = web
        .post(&path, &[("csrf_token", c), ("confirm", "yes")])
        .await;
    assert_eq!(
        (done.status, done.header("location")),
        (303, "/account".to_string())
    );
    assert_eq!(
        srv.get("/me", Some(&mine)).await.status,
        401,
        "confirmed: revoked"
    );
    let after = web.get("/account").await;
    assert!(
        after
            .body
            .contains("Revoked “owner@example.com test token”"),
        "{}",
        after.body
    );

    // Rotate asks too.
    let (other, other_id) = srv.mint(Some(OWNER_EMAIL), "acme", &[]).await;
    let ask = web
        .post(
            &format!("/account/tokens/{other_id}/rotate"),
            &[("csrf_token", c)],
        )
        .await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Rotate “"), "{}", ask.body);
    assert_eq!(
        srv.get("/me", Some(&other)).await.status,
        200,
        "asking rotated nothing"
    );

    // A device token is signed out, never rotated on the page.
    let device = srv.device_token(&owner, "acme").await;
    let me = srv.get("/me", Some(&device)).await;
    let device_id = me.body["token"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let account = web.get("/account").await;
    assert!(account.body.contains("Sign out device"), "{}", account.body);
    assert!(
        !account
            .body
            .contains(&format!("/account/tokens/{device_id}/rotate")),
        "no Rotate for a device token"
    );
    let refused = web
        .post(
            &format!("/account/tokens/{device_id}/rotate"),
            &[("csrf_token", c), ("confirm", "yes")],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(srv.get("/me", Some(&device)).await.status, 200);

    // Removing a member names the tokens that stop working.
    let bob_id = srv
        .server
        .state
        .store
        .user_by_email("bob@example.com")
        .await
        .ok()
        .flatten()
        .map(|u| u.id.to_string())
        .unwrap_or_default();
    let path = format!("/admin/acme/members/{bob_id}/remove");
    let ask = web.post(&path, &[("csrf_token", c)]).await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(
        ask.body.contains("Remove bob@example.com from Acme?"),
        "{}",
        ask.body
    );
    assert!(
        ask.body
            .contains("“bob@example.com test token” stops working now"),
        "{}",
        ask.body
    );
    assert_eq!(
        srv.get("/me", Some(&bob_token)).await.status,
        200,
        "nobody removed yet"
    );
    // The admin's Revoke asks as well.
    let ask = web
        .post(
            &format!("/admin/acme/tokens/{bob_token_id}/revoke"),
            &[("csrf_token", c)],
        )
        .await;
    assert_eq!(ask.status, 200);
    assert_eq!(srv.get("/me", Some(&bob_token)).await.status, 200);
    let done = web
        .post(&path, &[("csrf_token", c), ("confirm", "yes")])
        .await;
    assert_eq!(
        (done.status, done.header("location")),
        (303, "/admin/acme".to_string())
    );
    assert_eq!(srv.get("/me", Some(&bob_token)).await.status, 401);
    srv.stop().await;
}

async fn forms_keep_their_values_and_say_what_is_wrong(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let (mut web, csrf) = owner_at_the_console(&srv).await;
    let c = csrf.as_str();
    let before = token_count(&srv).await;

    // "On a date" without a date is refused, not 90 days.
    let page = web
        .post(
            "/account/tokens",
            &[
                ("csrf_token", c),
                ("name", "nightly backup"),
                ("org", "acme"),
                ("expires", "custom"),
                ("custom_date", ""),
                ("scopes", "tokens:read"),
            ],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("id=\"token-date-error\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("Pick the day it expires"));
    assert!(
        page.body
            .contains("aria-invalid=\"true\" aria-describedby=\"token-date-error\"")
    );
    assert!(
        page.body.contains("value=\"nightly backup\""),
        "the name is kept"
    );
    assert!(
        page.body.contains("value=\"tokens:read\" checked"),
        "the scopes are kept"
    );
    assert!(
        page.body.contains("value=\"custom\" selected"),
        "the choice is kept"
    );
    assert_eq!(token_count(&srv).await, before, "nothing was created");

    // An empty name is refused beside the name.
    let page = web
        .post(
            "/account/tokens",
            &[("csrf_token", c), ("name", "  "), ("org", "acme")],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("id=\"token-name-error\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains('`'), "messages carry no code quotes");

    // A name an active token has: asked, then allowed on purpose.
    let ok = web
        .post(
            "/account/tokens",
            &[("csrf_token", c), ("name", "deploy"), ("org", "acme")],
        )
        .await;
    assert_eq!(ok.status, 303);
    web.get("/account").await;
    let again = web
        .post(
            "/account/tokens",
            &[("csrf_token", c), ("name", "Deploy"), ("org", "acme")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again
            .body
            .contains("You already have an active token named “Deploy”")
    );
    assert!(again.body.contains("name=\"duplicate\" value=\"yes\""));
    assert_eq!(
        token_count(&srv).await,
        before + 1,
        "the duplicate was not created"
    );
    let second = web
        .post(
            "/account/tokens",
            &[
                ("csrf_token", c),
                ("name", "Deploy"),
                ("org", "acme"),
                ("duplicate", "yes"),
            ],
        )
        .await;
    assert_eq!(second.status, 303);
    assert_eq!(token_count(&srv).await, before + 2);

    // The console's forms too: the error beside its field, the value kept.
    let page = web
        .post(
            "/admin/acme/members",
            &[
                ("csrf_token", c),
                ("email", "nobody@example.com"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(
        page.body.contains("id=\"member-email-error\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("value=\"nobody@example.com\""),
        "the email is kept"
    );
    let page = web
        .post(
            "/admin/acme/service-tokens",
            &[("csrf_token", c), ("name", ""), ("expires", "30d")],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("id=\"svc-name-error\""), "{}", page.body);
    let page = web
        .post(
            "/admin/acme/policy",
            &[
                ("csrf_token", c),
                ("device_flow", "on"),
                ("device_token_days", "soon"),
            ],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("id=\"p-days-error\""), "{}", page.body);
    assert!(page.body.contains("value=\"soon\""), "the days are kept");
    assert_eq!(token_count(&srv).await, before + 2, "nothing was created");
    srv.stop().await;
}

async fn the_console_is_in_sections_with_search_and_paging(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let reply = srv
            .create_token(&owner, json!({ "name": format!("tok-{i:02}") }))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        ids.push(
            reply.body["info"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    for id in &ids[..5] {
        let reply = srv.delete(&format!("/api/tokens/{id}"), Some(&owner)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let (mut web, _) = owner_at_the_console(&srv).await;

    // The harness's client used the owner's token: its agent shows beside the use.
    let listed = web.get("/admin/acme/tokens?q=setup").await;
    assert!(listed.body.contains("devauth-harness/"), "{}", listed.body);

    // Members is a page of its own, without the token tables.
    let members = web.get("/admin/acme").await;
    assert_eq!(members.status, 200);
    assert!(
        members.body.contains("aria-current=\"page\">Members"),
        "{}",
        members.body
    );
    assert!(!members.body.contains("id=\"org-tokens\""));
    assert!(!members.body.contains("id=\"audit\""));

    // Tokens: the active ones, 25 a page; 56 = 55 left of 60, and setup's.
    let first = web.get("/admin/acme/tokens").await;
    assert_eq!(rows_of(&first, "org-tokens"), 25, "{}", first.body);
    assert!(first.body.contains("56 active tokens"), "{}", first.body);
    assert!(first.body.contains("Show revoked and expired (5)"));
    assert!(
        !first.body.contains(">tok-00<"),
        "a revoked token is not listed by default"
    );
    assert!(link(&first, "newer").is_none());
    let older = link(&first, "older").expect("an Older link");
    let second = web.get(&older).await;
    assert_eq!(rows_of(&second, "org-tokens"), 25);
    let last = web
        .get(&link(&second, "older").expect("a third page"))
        .await;
    assert_eq!(rows_of(&last, "org-tokens"), 6);
    assert!(link(&last, "older").is_none());
    assert_eq!(link(&last, "newest").as_deref(), Some("/admin/acme/tokens"));
    assert!(link(&last, "newer").is_some_and(|l| l.contains("page=2")));

    // Search by name; every state on request.
    let found = web.get("/admin/acme/tokens?q=tok-07").await;
    assert_eq!(rows_of(&found, "org-tokens"), 1);
    assert!(
        found.body.contains("1 active token matching “tok-07”."),
        "{}",
        found.body
    );
    let revoked = web.get("/admin/acme/tokens?q=tok-03&state=all").await;
    assert_eq!(rows_of(&revoked, "org-tokens"), 1);
    assert!(
        revoked
            .body
            .contains("Revoked just now: by owner@example.com"),
        "{}",
        revoked.body
    );
    assert!(
        revoked.body.contains("<td data-label=\"Expires\">—</td>"),
        "no future expiry on a revoked row"
    );
    let every = web.get("/admin/acme/tokens?state=all").await;
    assert!(every.body.contains("61 tokens"), "{}", every.body);
    let paged = link(&every, "older").unwrap_or_default();
    assert!(
        paged.contains("state=all"),
        "paging keeps the view: {paged}"
    );
    let nothing = web.get("/admin/acme/tokens?q=no-such-token").await;
    assert!(nothing.body.contains("No token matches “no-such-token”."));

    // The audit log pages both ways, keeping its filters.
    let audit = web.get("/admin/acme/audit").await;
    assert_eq!(rows_of(&audit, "audit"), 50, "{}", audit.body);
    let older = link(&audit, "older").expect("older events");
    let back = web.get(&older).await;
    let newer = link(&back, "newer").expect("newer events");
    assert!(link(&back, "newest").is_some());
    let again = web.get(&newer).await;
    assert_eq!(rows_of(&again, "audit"), 50);
    let first_row = |p: &Page| {
        let at = p.body.find("<tbody>").unwrap_or_default();
        p.body[at..]
            .split("</tr>")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        first_row(&again),
        first_row(&audit),
        "Newer leads back to the newest page"
    );
    let revocations = web.get("/admin/acme/audit?action=token.revoked").await;
    assert_eq!(rows_of(&revocations, "audit"), 5, "{}", revocations.body);
    assert!(
        revocations
            .body
            .contains("value=\"token.revoked\" selected")
    );
    srv.stop().await;
}

async fn the_audit_log_reads_as_sentences_and_exports_as_csv(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    srv.add_member("bob@example.com", "acme", Role::Member)
        .await;
    let bob = srv.personal_token("bob@example.com", "acme").await;
    let device = srv.device_token(&bob, "acme").await;
    let me = srv.get("/me", Some(&device)).await;
    let id = me.body["token"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let reply = srv.delete(&format!("/api/tokens/{id}"), Some(&owner)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (mut web, _) = owner_at_the_console(&srv).await;
    let audit = web.get("/admin/acme/audit").await;
    assert_eq!(audit.status, 200);
    let table = &audit.body[audit.body.find("<table id=\"audit\"").unwrap_or_default()..];
    assert!(!has_uuid(table), "no raw ids in the log: {table}");
    assert!(!table.contains('`'), "no code quotes in the log");
    assert!(!table.contains(">anonymous<"), "actors are named");
    assert!(table.contains("Token revoked"));
    assert!(table.contains("Device sign-in approved"), "{table}");
    assert!(
        table.contains("The device, redeeming its approved code"),
        "{table}"
    );
    assert!(
        table.contains("(device sign-in of bob@example.com)"),
        "{table}"
    );
    assert!(
        table.contains("href=\"/admin/acme/tokens?state=all&#38;q=test+laptop\""),
        "targets link to their token: {table}"
    );
    assert!(
        table.contains("<time datetime=\""),
        "times are machine-readable"
    );

    // Filters that find nothing say so, with the way out.
    let none = web
        .get("/admin/acme/audit?actor=nobody%40example.com")
        .await;
    assert!(
        none.body.contains("No events match these filters."),
        "{}",
        none.body
    );
    assert!(none.body.contains("id=\"clear-filters\""));
    let bad = web.get("/admin/acme/audit?since=yesterday").await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("should look like 2026-12-01"),
        "{}",
        bad.body
    );

    // CSV of the filtered view.
    let csv = web.get("/admin/acme/audit.csv?action=token.revoked").await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert!(
        csv.header("content-disposition")
            .contains("devauth-audit-acme.csv")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("time,action,actor,target,ip,detail")
    );
    assert_eq!(
        lines.len(),
        2,
        "the header and the one revocation: {}",
        csv.body
    );
    assert!(lines[1].contains("Token revoked"), "{}", lines[1]);
    // Only administrators get it.
    let mut member = WebClient::new(&srv.url);
    member.sign_in("bob@example.com", PASSWORD).await;
    assert_eq!(member.get("/admin/acme/audit.csv").await.status, 403);
    assert_eq!(member.get("/admin/acme/audit").await.status, 403);
    assert_eq!(member.get("/admin/acme/tokens").await.status, 403);
    srv.stop().await;
}

async fn controls_match_what_the_viewer_may_do(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    srv.add_member("ada@example.com", "acme", Role::Admin).await;
    srv.add_member("bob@example.com", "acme", Role::Member)
        .await;
    let owner_id = srv
        .server
        .state
        .store
        .user_by_email(OWNER_EMAIL)
        .await
        .ok()
        .flatten()
        .map(|u| u.id.to_string())
        .unwrap_or_default();

    // The only owner cannot be removed or demoted, and the page says why.
    let (mut owner, _) = owner_at_the_console(&srv).await;
    let page = owner.get("/admin/acme").await;
    assert!(
        page.body
            .contains("The only owner: make someone else an owner first.")
    );
    assert!(!page.body.contains(&format!("/members/{owner_id}/remove")));
    assert!(!page.body.contains(&format!("/members/{owner_id}/role")));

    // An admin sees no control over owners, and cannot make one.
    let mut ada = WebClient::new(&srv.url);
    ada.sign_in("ada@example.com", PASSWORD).await;
    let page = ada.get("/admin/acme").await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains(&format!("/members/{owner_id}/remove")),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("<option value=\"owner\""),
        "no way to grant owner: {}",
        page.body
    );
    let csrf = page.csrf();
    let refused = ada
        .post(
            &format!("/admin/acme/members/{owner_id}/remove"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 403, "not even asked: {}", refused.body);

    // A member is not offered the console.
    let mut bob = WebClient::new(&srv.url);
    bob.sign_in("bob@example.com", PASSWORD).await;
    let account = bob.get("/account").await;
    assert!(
        !account.body.contains("href=\"/admin\""),
        "{}",
        account.body
    );
    assert!(owner.get("/account").await.body.contains("href=\"/admin\""));
    assert!(
        !account.body.contains("value=\"org:admin\""),
        "no scope the role cannot grant"
    );

    // Someone in no org is told to ask, and offered no token form.
    let state = &srv.server.state;
    devauth_server::identity::create_user(
        state,
        "newcomer@example.com",
        "Nina Newcomer",
        Some(&devauth_server::secret::Secret::new(PASSWORD)),
        devauth_server::model::Actor::System,
        &Default::default(),
    )
    .await
    .expect("a user without an org");
    let mut nina = WebClient::new(&srv.url);
    nina.sign_in("newcomer@example.com", PASSWORD).await;
    let account = nina.get("/account").await;
    assert!(
        account
            .body
            .contains("Ask an owner or admin of your team to add you.")
    );
    assert!(!account.body.contains("id=\"create-token\""));
    srv.stop().await;
}

async fn the_org_a_device_asks_for_is_picked_and_guarded(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    srv.add_org("beta").await;
    srv.add_member(OWNER_EMAIL, "beta", Role::Member).await;
    srv.add_org("gamma").await;
    let start = |org: &'static str| {
        let srv = &srv;
        async move {
            srv.post_form(
                "/oauth/device_authorization",
                &[
                    ("client_id", "devauth-cli"),
                    ("device_name", "Bob's laptop"),
                    ("org", org),
                ],
            )
            .await
        }
    };
    // Not a slug: refused as the request it is.
    let bad = start("Not A Slug!").await;
    assert_eq!(
        (bad.status, bad.error()),
        (400, "invalid_request"),
        "{}",
        bad.body
    );

    let started = start("beta").await;
    assert_eq!(started.status, 200, "{}", started.body);
    let code = started.body["user_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let device_code = started.body["device_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The lookup says which org was asked for.
    let looked = srv.lookup(&owner, &code).await;
    assert_eq!(
        looked.body["request"]["org_hint"], "beta",
        "{}",
        looked.body
    );

    let (mut web, csrf) = owner_at_the_console(&srv).await;
    let c = csrf.as_str();
    let page = web
        .post("/device", &[("csrf_token", c), ("user_code", &code)])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("Sign in devauth CLI on “Bob&#39;s laptop”?"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<dd id=\"org-hint\">beta</dd>"));
    assert!(
        page.body
            .contains("<option value=\"beta\" selected>beta (member) · asked for by the device"),
        "the asked-for org is picked: {}",
        page.body
    );
    // Into another org: asked first, still pending.
    let decide = |org: &'static str, other: bool| {
        let mut form = vec![
            ("csrf_token", c),
            ("user_code", code.as_str()),
            ("org", org),
            ("action", "approve"),
        ];
        if other {
            form.push(("other_org", "yes"));
        }
        form.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let form = decide("acme", false);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let refused = web.post("/device/decide", &pairs).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("The device asked to be signed in to beta, not acme.")
    );
    assert!(refused.body.contains("name=\"other_org\" value=\"yes\""));
    let poll = srv.poll(&device_code, "devauth-cli").await;
    assert_eq!(poll.error(), "authorization_pending");
    // Into the org it asked for: approved, in words.
    let form = decide("beta", false);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let done = web.post("/device/decide", &pairs).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body
            .contains("now acts as you (owner@example.com) — member of beta — for 90 days"),
        "{}",
        done.body
    );
    assert!(done.body.contains("href=\"/account#recent-sign-ins\""));
    let token = srv.poll(&device_code, "devauth-cli").await;
    let access = token.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        srv.get("/me", Some(&access)).await.body["org"]["slug"],
        "beta"
    );

    // Asked for an org the approver is not in: said so; another needs the box.
    let started = start("gamma").await;
    let code = started.body["user_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let page = web
        .post("/device", &[("csrf_token", c), ("user_code", &code)])
        .await;
    assert!(page.body.contains("id=\"hint-elsewhere\""), "{}", page.body);
    let refused = web
        .post(
            "/device/decide",
            &[
                ("csrf_token", c),
                ("user_code", &code),
                ("org", "acme"),
                ("action", "approve"),
            ],
        )
        .await;
    assert_eq!(refused.status, 409);
    let done = web
        .post(
            "/device/decide",
            &[
                ("csrf_token", c),
                ("user_code", &code),
                ("org", "acme"),
                ("action", "approve"),
                ("other_org", "yes"),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    srv.stop().await;
}
