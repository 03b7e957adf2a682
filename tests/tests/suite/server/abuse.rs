//! Attacks on the server as an anonymous stranger would make them: addresses
//! they pick for themselves, budgets they try to reset.

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
    let reply = srv.post_json("/api/tokens", Some(&owner), big).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.body.to_string().contains("16 KiB"), "{}", reply.body);
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
