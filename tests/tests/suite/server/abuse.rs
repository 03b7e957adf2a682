//! Attacks on the server as an anonymous stranger would make them: addresses
//! they pick for themselves, budgets they try to reset.

use devauth_harness::remote::{Visitor, csrf};
use devauth_harness::*;
use devauth_server::Config;
use devauth_server::client_ip::TrustedProxies;
use devauth_server::model::TokenId;
use serde_json::json;

devauth_harness::on_both_backends!(
    a_client_cannot_pick_its_own_address,
    behind_a_trusted_proxy_the_first_untrusted_hop_is_the_client,
    ipv6_clients_share_a_budget_per_64,
    oauth_forms_and_json_bodies_are_bounded,
    invisible_characters_in_names_are_refused,
    concurrent_wrong_passwords_cost_one_budget,
    concurrent_wrong_user_codes_hold_their_limit,
    budgets_are_shared_by_replicas_and_survive_restarts,
    a_burst_of_sign_ins_is_turned_away_with_503,
    device_authorizations_are_limited_per_address,
    an_attacker_who_knows_an_email_cannot_lock_its_owner_out,
    csrf_tokens_cannot_be_computed_from_a_planted_cookie,
    over_https_cookies_are_host_only,
    metrics_can_require_a_token,
);

fn behind(proxies: &str) -> Config {
    Config {
        trusted_proxies: TrustedProxies::parse(proxies).expect("a proxy list"),
        ..Config::default()
    }
}

/// One request to `/me` with `token` and the given forwarding header lines;
/// answers where the server recorded the token was used from.
async fn seen_from(srv: &TestServer, token: &str, id: &str, headers: &[(&str, &str)]) -> String {
    let mut request = srv.http.get(srv.at("/me")).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.expect("/me answers");
    assert_eq!(answer.status(), 200);
    srv.server
        .state
        .store
        .token_by_id(&TokenId::from(id.to_string()))
        .await
        .expect("the store answers")
        .expect("the token exists")
        .last_used_ip
        .unwrap_or_default()
}

async fn wrong_claim(srv: &TestServer, setup_token: &str, forwarded_for: &str) -> u16 {
    let body = json!({"setup_token": setup_token, "email": OWNER_EMAIL, "name": "O",
                      "password": PASSWORD, "org_name": "Acme"});
    srv.http
        .post(srv.at("/api/setup/claim"))
        .header("x-forwarded-for", forwarded_for)
        .json(&body)
        .send()
        .await
        .expect("the claim answers")
        .status()
        .as_u16()
}

/// Without trusted proxies, forwarding headers are the client's own words:
/// neither the recorded address nor a rate limit's budget follows them.
async fn a_client_cannot_pick_its_own_address(backend: Backend) {
    let srv = spawn_server(backend).await;
    for i in 1..=10 {
        let status = wrong_claim(&srv, "setup_wrong_guess", &format!("198.51.100.{i}")).await;
        assert_eq!(status, 403, "wrong setup token {i}");
    }
    // A new "address" per attempt bought no new budget: the peer is locked out.
    let status = wrong_claim(&srv, SETUP_TOKEN, "198.51.100.99").await;
    assert_eq!(
        status, 429,
        "the eleventh claim from the same peer is refused"
    );

    let srv = spawn_server(backend).await;
    srv.claim().await;
    let (token, id) = srv.mint(Some(OWNER_EMAIL), "acme", &[]).await;
    let seen = seen_from(
        &srv,
        &token,
        &id,
        &[
            ("x-forwarded-for", "198.51.100.9"),
            ("forwarded", "for=198.51.100.10"),
        ],
    )
    .await;
    assert_eq!(seen, "127.0.0.1", "the peer, not what the headers claim");
    srv.stop().await;
}

/// Behind the operator's proxies, the hops are walked from the right over
/// every header line; what a client prepends is never read.
async fn behind_a_trusted_proxy_the_first_untrusted_hop_is_the_client(backend: Backend) {
    let srv = spawn_server_with(backend, behind("127.0.0.1, 10.0.0.0/8")).await;
    srv.claim().await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        // The client wrote 6.6.6.6; the edge proxy appended the real peer;
        // an inner proxy added its own line.
        (
            &[
                ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
                ("x-forwarded-for", "10.0.0.5"),
            ],
            "198.51.100.7",
        ),
        // RFC 7239 wins over X-Forwarded-For, and IPv6 is read in brackets.
        (
            &[
                ("forwarded", "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\""),
                ("x-forwarded-for", "198.51.100.8"),
            ],
            "2001:db8:cafe::17",
        ),
        // Garbage stops the walk at the last believable hop.
        (
            &[("x-forwarded-for", "6.6.6.6, not-an-ip, 10.0.0.9")],
            "10.0.0.9",
        ),
        // No header: the proxy itself.
        (&[], "127.0.0.1"),
    ];
    for (headers, expected) in cases {
        let (token, id) = srv.mint(Some(OWNER_EMAIL), "acme", &[]).await;
        let seen = seen_from(&srv, &token, &id, headers).await;
        assert_eq!(seen, expected, "{headers:?}");
    }
    srv.stop().await;
}

/// One IPv6 subscriber holds a whole /64: rotating the last 64 bits buys no
/// new budget, and a neighbouring /64 keeps its own.
async fn ipv6_clients_share_a_budget_per_64(backend: Backend) {
    let srv = spawn_server_with(backend, behind("127.0.0.1")).await;
    for i in 1..=10 {
        let status = wrong_claim(&srv, "setup_wrong_guess", &format!("2001:db8:1:2::{i:x}")).await;
        assert_eq!(status, 403, "wrong setup token {i}");
    }
    assert_eq!(
        wrong_claim(&srv, SETUP_TOKEN, "2001:db8:1:2:ffff::1").await,
        429
    );
    assert_eq!(wrong_claim(&srv, SETUP_TOKEN, "2001:db8:1:3::1").await, 201);
    srv.stop().await;
}

/// `count` distinct parameters `aaa=1&aab=1&…`: the body that made the old
/// duplicate check quadratic.
fn distinct_keys(count: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    (0..count)
        .map(|i| {
            let key: String = [i / 676 % 26, i / 26 % 26, i % 26]
                .iter()
                .map(|d| letters[*d] as char)
                .collect();
            format!("{key}=1")
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn raw_form(srv: &TestServer, path: &str, body: String) -> (u16, String) {
    let answer = srv
        .http
        .post(srv.at(path))
        .header("content-type", "application/x-www-form-urlencoded")
        // A refused body is not read: the server may close the connection
        // after answering, so none is reused after one.
        .header("connection", "close")
        .body(body)
        .send()
        .await
        .expect("an answer");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

/// The OAuth endpoints take 8 KiB and 32 parameters, the JSON API 16 KiB;
/// beyond that the answer is a clear error and nothing is stored.
async fn oauth_forms_and_json_bodies_are_bounded(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    // 64 KiB of distinct keys: refused by size before any parsing.
    let (status, body) = raw_form(&srv, "/oauth/token", distinct_keys(9000)).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains("invalid_request") && body.contains("8 KiB"),
        "{body}"
    );
    // Under the size limit, but hundreds of parameters.
    let mut many = distinct_keys(1100);
    many.push_str("&client_id=devauth-cli");
    assert!(many.len() < 8 * 1024);
    let (status, body) = raw_form(&srv, "/oauth/device_authorization", many).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("more than 32 parameters"), "{body}");
    // A repeated parameter (RFC 6749 §3.1).
    let twice = "client_id=devauth-cli&device_name=a&device_name=b".to_string();
    let (status, body) = raw_form(&srv, "/oauth/device_authorization", twice).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("`device_name` was sent more than once"),
        "{body}"
    );
    // Within bounds, the same endpoint works.
    let (status, body) = raw_form(
        &srv,
        "/oauth/device_authorization",
        "client_id=devauth-cli".into(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // JSON: 20 KiB of name is refused with the limit named, and no token is made.
    let before = srv.get("/api/tokens", Some(&owner)).await.body;
    let big = json!({"name": "x".repeat(20 * 1024)});
    let answer = srv
        .http
        .post(srv.at("/api/tokens"))
        .bearer_auth(&owner)
        .header("connection", "close")
        .json(&big)
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 413);
    let body = answer.text().await.unwrap_or_default();
    assert!(body.contains("16 KiB"), "{body}");
    assert_eq!(srv.get("/api/tokens", Some(&owner)).await.body, before);
    let metrics = srv.get("/metrics", None).await.body;
    let metrics = metrics.as_str().unwrap_or_default();
    assert!(
        metrics.contains("devauth_device_flows_started_total 1"),
        "only the bounded request started a flow: {metrics}"
    );
    srv.stop().await;
}

/// Names people read cannot carry characters that draw nothing but reorder
/// or hide the text around them; the refusal names the code point and
/// nothing is stored.
async fn invisible_characters_in_names_are_refused(backend: Backend) {
    let srv = spawn_server(backend).await;
    let claim = json!({"setup_token": SETUP_TOKEN, "email": OWNER_EMAIL, "name": "Olive",
                       "password": PASSWORD, "org_name": "Acme\u{2066}Corp"});
    let reply = srv.post_json("/api/setup/claim", None, claim).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.to_string().contains("U+2066"), "{}", reply.body);
    let owner = srv.claim().await;

    let started = srv
        .post_form(
            "/oauth/device_authorization",
            &[
                ("client_id", "devauth-cli"),
                ("device_name", "Ada\u{202E}daPkniht"),
            ],
        )
        .await;
    assert_eq!(started.status, 400, "{}", started.body);
    assert_eq!(started.error(), "invalid_request");
    assert!(
        started.body.to_string().contains("U+202E"),
        "{}",
        started.body
    );

    let before = srv.get("/api/tokens", Some(&owner)).await.body;
    for name in ["ci\u{200B}", "\u{FEFF}deploy", "a\u{E0041}b"] {
        let reply = srv
            .post_json("/api/tokens", Some(&owner), json!({"name": name}))
            .await;
        assert_eq!(reply.status, 400, "{name:?}: {}", reply.body);
    }
    assert_eq!(srv.get("/api/tokens", Some(&owner)).await.body, before);
    // Letters of every script are names, of course.
    let reply = srv
        .post_json("/api/tokens", Some(&owner), json!({"name": "Zoë 日本 🙂"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    srv.stop().await;
}

/// Visitors at `/login`, each with its own pre-session and CSRF token, ready
/// to post at the same moment.
async fn at_the_login_page(srv: &TestServer, n: usize) -> Vec<(Visitor, String)> {
    let mut ready = Vec::new();
    for _ in 0..n {
        let mut visitor = Visitor::new(&srv.remote);
        let page = visitor.get("/login").await.expect("the sign-in page");
        let token = csrf(&page);
        ready.push((visitor, token));
    }
    ready
}

async fn sign_in_all(ready: Vec<(Visitor, String)>, email: impl Fn(usize) -> String) -> Vec<u16> {
    let posts = ready
        .into_iter()
        .enumerate()
        .map(|(i, (mut visitor, token))| {
            let email = email(i);
            async move {
                let form = [
                    ("csrf_token", token.as_str()),
                    ("email", email.as_str()),
                    ("password", "not the password"),
                    ("next", "/account"),
                ];
                visitor
                    .post("/login", &form)
                    .await
                    .expect("an answer")
                    .status
            }
        });
    all(posts).await
}

/// Runs every future at once (each on its own task) and collects the answers in order.
async fn all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("the task ran"));
    }
    out
}

fn tally(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// Forty wrong passwords at once from one address against a budget of ten:
/// ten are checked (and answered "wrong"), thirty are refused before any
/// argon2 work, because each attempt reserves its place before the check.
async fn concurrent_wrong_passwords_cost_one_budget(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let checks = srv.server.state.passwords.checks_done();
    let ready = at_the_login_page(&srv, 40).await;
    let statuses = sign_in_all(ready, |_| OWNER_EMAIL.to_string()).await;
    assert_eq!(tally(&statuses, 401), 10, "{statuses:?}");
    assert_eq!(tally(&statuses, 429), 30, "{statuses:?}");
    assert_eq!(
        srv.server.state.passwords.checks_done() - checks,
        10,
        "only reserved attempts reach argon2"
    );
    // The owner's right password is refused too while the budget is spent…
    let mut owner = Visitor::new(&srv.remote);
    assert!(owner.sign_in(OWNER_EMAIL, PASSWORD).await.is_err());
    // …and works once the window has passed.
    srv.clock.advance(301);
    owner
        .sign_in(OWNER_EMAIL, PASSWORD)
        .await
        .expect("signed in after the window");
    srv.stop().await;
}

/// Twenty wrong user codes at once against a budget of five: five are looked
/// up, fifteen refused.
async fn concurrent_wrong_user_codes_hold_their_limit(backend: Backend) {
    let srv = spawn_server(backend).await;
    let owner = srv.claim().await;
    let tries = (0..20).map(|i| {
        let body = json!({"user_code": format!("BCDF-GH{}{}", ["J", "K"][i % 2], ["L", "M", "N", "P", "Q", "R", "S", "T", "V", "W"][i / 2]), "org": "acme"});
        let (http, url, owner) = (srv.http.clone(), srv.at("/api/device/approve"), owner.clone());
        async move {
            let answer = http.post(url).bearer_auth(owner).json(&body).send().await;
            answer.expect("an answer").status().as_u16()
        }
    });
    let statuses = all(tries).await;
    assert_eq!(tally(&statuses, 429), 15, "{statuses:?}");
    assert_eq!(statuses.len() - tally(&statuses, 429), 5, "{statuses:?}");
    assert!(!statuses.contains(&200), "{statuses:?}");
    srv.stop().await;
}

/// The budget lives in the database: a second replica draws on the same
/// one, and a restart does not reset it.
async fn budgets_are_shared_by_replicas_and_survive_restarts(backend: Backend) {
    let srv = spawn_server(backend).await;
    let other = srv.replica(Config::default()).await;
    for i in 0..10 {
        let on = if i % 2 == 0 { &srv } else { &other };
        assert_eq!(
            wrong_claim(on, "setup_wrong_guess", "-").await,
            403,
            "guess {i}"
        );
    }
    assert_eq!(
        wrong_claim(&other, SETUP_TOKEN, "-").await,
        429,
        "the replica knows"
    );
    other.stop().await;
    let srv = srv.restart(Config::default()).await;
    assert_eq!(
        wrong_claim(&srv, SETUP_TOKEN, "-").await,
        429,
        "a restart resets nothing"
    );
    srv.clock.advance(301);
    assert_eq!(wrong_claim(&srv, SETUP_TOKEN, "-").await, 201);
    srv.stop().await;
}

/// With one password check at a time and no queue, a burst of sign-ins is
/// partly turned away at once with 503 and `Retry-After`, not queued on
/// blocking threads; what is turned away costs no budget and no check.
async fn a_burst_of_sign_ins_is_turned_away_with_503(backend: Backend) {
    let config = Config {
        password_checks: 1,
        password_queue: 0,
        ..Config::default()
    };
    let srv = spawn_server_with(backend, config).await;
    srv.claim().await;
    let checks = srv.server.state.passwords.checks_done();
    let ready = at_the_login_page(&srv, 8).await;
    let statuses = sign_in_all(ready, |i| format!("nobody{i}@example.com")).await;
    let (busy, wrong) = (tally(&statuses, 503), tally(&statuses, 401));
    assert_eq!(busy + wrong, 8, "{statuses:?}");
    assert!(busy >= 1 && wrong >= 1, "{statuses:?}");
    assert_eq!(
        srv.server.state.passwords.checks_done() - checks,
        wrong as u64,
        "turned away before any work"
    );
    srv.stop().await;
}

/// A flood of device authorizations from one address stops at its budget
/// (429 with `Retry-After`), other addresses keep theirs, and the next
/// minute brings a new one.
async fn device_authorizations_are_limited_per_address(backend: Backend) {
    let config = Config {
        device_starts_per_minute: 5,
        ..behind("127.0.0.1")
    };
    let srv = spawn_server_with(backend, config).await;
    let start = |ip: &'static str| {
        srv.http
            .post(srv.at("/oauth/device_authorization"))
            .header("x-forwarded-for", ip)
            .form(&[("client_id", "devauth-cli")])
            .send()
    };
    for i in 0..5 {
        let answer = start("198.51.100.1").await.expect("an answer");
        assert_eq!(answer.status(), 200, "start {i}");
    }
    let refused = start("198.51.100.1").await.expect("an answer");
    assert_eq!(refused.status(), 429);
    let wait: i64 = refused.headers()["retry-after"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        start("198.51.100.2").await.expect("an answer").status(),
        200
    );
    srv.clock.advance(60);
    assert_eq!(
        start("198.51.100.1").await.expect("an answer").status(),
        200
    );
    let metrics = srv.get("/metrics", None).await.body;
    assert!(
        metrics
            .as_str()
            .unwrap_or_default()
            .contains("devauth_device_flows_started_total 7"),
        "the refused start stored nothing: {metrics}"
    );
    srv.stop().await;
}

/// Ten wrong passwords for the owner's email from ten addresses spend the
/// account's budget: a new browser is refused even with the right password,
/// but the browser the owner signed in with before has a budget of its own.
/// Its mark is bound to the account and to the server's key.
async fn an_attacker_who_knows_an_email_cannot_lock_its_owner_out(backend: Backend) {
    let srv = spawn_server_with(backend, behind("127.0.0.1")).await;
    srv.claim().await;
    let mut owner = Visitor::new(&srv.remote);
    owner
        .sign_in(OWNER_EMAIL, PASSWORD)
        .await
        .expect("the owner signs in");
    let mark = owner
        .cookies
        .get("devauth_known")
        .cloned()
        .expect("the browser is known now");
    let page = owner.get("/account").await.expect("the account page");
    owner
        .post("/logout", &[("csrf_token", &csrf(&page))])
        .await
        .expect("signed out");
    assert!(!owner.cookies.contains_key("devauth_session"));

    for i in 0..10 {
        let mut attacker = Visitor::new(&srv.remote).from_ip(&format!("203.0.113.{i}"));
        let token = csrf(&attacker.get("/login").await.expect("the page"));
        let form = [
            ("csrf_token", token.as_str()),
            ("email", OWNER_EMAIL),
            ("password", "guess"),
            ("next", "/account"),
        ];
        let answer = attacker.post("/login", &form).await.expect("an answer");
        assert_eq!(answer.status, 401, "guess {i}");
    }
    let mut stranger = Visitor::new(&srv.remote).from_ip("198.51.100.50");
    assert!(
        stranger.sign_in(OWNER_EMAIL, PASSWORD).await.is_err(),
        "the account's budget is spent"
    );
    // A forged mark, or a real one moved to another account, is no mark.
    let mut forged = Visitor::new(&srv.remote).from_ip("198.51.100.51");
    forged.cookies.insert(
        "devauth_known".into(),
        format!("{}.{}", "a".repeat(32), "b".repeat(64)),
    );
    assert!(forged.sign_in(OWNER_EMAIL, PASSWORD).await.is_err());
    srv.add_member(
        "ada@example.com",
        "acme",
        devauth_server::model::Role::Member,
    )
    .await;
    for i in 0..10 {
        let mut attacker = Visitor::new(&srv.remote).from_ip(&format!("203.0.114.{i}"));
        let token = csrf(&attacker.get("/login").await.expect("the page"));
        let form = [
            ("csrf_token", token.as_str()),
            ("email", "ada@example.com"),
            ("password", "guess"),
            ("next", "/account"),
        ];
        attacker.post("/login", &form).await.expect("an answer");
    }
    let mut moved = Visitor::new(&srv.remote).from_ip("198.51.100.52");
    moved.cookies.insert("devauth_known".into(), mark.clone());
    assert!(
        moved.sign_in("ada@example.com", PASSWORD).await.is_err(),
        "the mark is the owner's"
    );
    // The owner's own browser still gets in.
    owner
        .sign_in(OWNER_EMAIL, PASSWORD)
        .await
        .expect("the known browser signs in");
    srv.stop().await;
}

/// A cookie planted by someone else (a sibling subdomain, a shared machine)
/// does not let them compute the CSRF token: it is an HMAC under the
/// server's key, not a hash of the cookie.
async fn csrf_tokens_cannot_be_computed_from_a_planted_cookie(backend: Backend) {
    let srv = spawn_server(backend).await;
    srv.claim().await;
    let planted = "c".repeat(64);
    let mut victim = Visitor::new(&srv.remote);
    victim
        .cookies
        .insert("devauth_presession".into(), planted.clone());
    let page = victim.get("/login").await.expect("the page");
    let real = csrf(&page);
    let guessed = devauth_server::secret::sha256_hex(&format!("devauth-csrf\0{planted}"));
    assert_ne!(real, guessed);
    assert_eq!(real.len(), 64);
    let form = [
        ("csrf_token", guessed.as_str()),
        ("email", OWNER_EMAIL),
        ("password", PASSWORD),
        ("next", "/account"),
    ];
    let answer = victim.post("/login", &form).await.expect("an answer");
    assert_eq!(answer.status, 403, "a computed token is refused");
    assert!(!victim.cookies.contains_key("devauth_session"));
    // Another server on the same database shares the key: its pages accept the token.
    let other = srv.replica(Config::default()).await;
    let mut same = Visitor::new(&other.remote);
    same.cookies = victim.cookies.clone();
    let again = csrf(&same.get("/login").await.expect("the page"));
    assert_eq!(again, real, "one key for every server on the database");
    other.stop().await;
    srv.stop().await;
}

/// Over https the cookies are `__Host-` cookies (Secure, Path=/, no
/// Domain), and a plain-named cookie is not read.
async fn over_https_cookies_are_host_only(backend: Backend) {
    let config = Config {
        public_url: Some("https://auth.example.test".into()),
        ..Config::default()
    };
    let srv = spawn_server_with(backend, config).await;
    srv.claim().await;
    let mut visitor = Visitor::new(&srv.remote);
    let page = visitor.get("/login").await.expect("the page");
    let set: Vec<&str> = page
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(!set.is_empty());
    for cookie in &set {
        assert!(cookie.starts_with("__Host-devauth_"), "{cookie}");
        assert!(
            cookie.contains("; Secure") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    }
    visitor
        .sign_in(OWNER_EMAIL, PASSWORD)
        .await
        .expect("signed in");
    let session = visitor
        .cookies
        .get("__Host-devauth_session")
        .cloned()
        .expect("a session");
    assert_eq!(visitor.get("/account").await.expect("the page").status, 200);
    let mut plain = Visitor::new(&srv.remote);
    plain.cookies.insert("devauth_session".into(), session);
    let answer = plain.get("/account").await.expect("an answer");
    assert_eq!(
        answer.status, 303,
        "a cookie without the prefix is not a session"
    );
    srv.stop().await;
}

/// `DEVAUTH_METRICS_TOKEN` closes `/metrics` to everyone without it.
async fn metrics_can_require_a_token(backend: Backend) {
    let config = Config {
        metrics_token: Some(devauth_server::secret::Secret::new("metrics-secret-123")),
        ..Config::default()
    };
    let srv = spawn_server_with(backend, config).await;
    assert_eq!(srv.get("/metrics", None).await.status, 401);
    assert_eq!(srv.get("/metrics", Some("wrong")).await.status, 401);
    let owner = srv.claim().await;
    assert_eq!(
        srv.get("/metrics", Some(&owner)).await.status,
        401,
        "an API token is not it"
    );
    let answer = srv.get("/metrics", Some("metrics-secret-123")).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .body
            .as_str()
            .unwrap_or_default()
            .contains("devauth_"),
        "{}",
        answer.body
    );
    srv.stop().await;
}
