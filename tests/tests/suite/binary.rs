//! The real `devauth-server` binary, as an operator runs it: the admin CLI on
//! both backends, and a full flow under `RUST_LOG=trace` whose log must not
//! contain a single secret.

use devauth_harness::*;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

devauth_harness::on_both_backends!(admin_cli, logs_never_contain_secrets);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cli(db: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(server_binary())
        .args(args)
        .env("DEVAUTH_DATABASE_URL", db)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn devauth-server");
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin.unwrap_or("").as_bytes());
    }
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A command line split on whitespace, for the arguments that have none.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Sends `request` and reads its answer as JSON (`null` when it is not JSON).
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let answer = request.send().await.expect("the request got an answer");
    answer.json().await.unwrap_or(Value::Null)
}

fn ok(db: &str, args: &[&str]) -> String {
    let run = cli(db, args, None);
    assert_eq!(run.code, 0, "{args:?} failed: {}", run.stderr);
    run.stdout
}

fn fails(db: &str, args: &[&str], message: &str) {
    let run = cli(db, args, None);
    assert_ne!(run.code, 0, "{args:?} should fail");
    assert!(
        run.stderr.contains(message),
        "{args:?}: expected `{message}` in: {}",
        run.stderr
    );
}

/// Runs a CLI command that changes something a running server has cached. On
/// PostgreSQL the server hears of it through `NOTIFY`, which arrives a moment
/// after the CLI exits: wait for that (at most 10 s) so that what follows tests
/// the change, not the delivery race. SQLite needs no wait: each request asks
/// the file itself.
async fn change_heard(
    backend: Backend,
    srv: &devauth_server::RunningServer,
    db: &str,
    args: &[&str],
) -> String {
    let mut heard = srv.state.bus.subscribe();
    let out = ok(db, args);
    if backend == Backend::Postgres {
        tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv())
            .await
            .unwrap_or_else(|_| panic!("the server never heard of `{}`", args.join(" ")))
            .expect("the watch channel stays open");
    }
    out
}

async fn admin_cli(backend: Backend) {
    let (db, _dir) = fresh_database(backend).await;
    assert!(ok(&db, &["migrate"]).contains("up to date"));
    let run = cli(
        &db,
        &words("user add --email Ada@Example.com --name Ada --password-stdin"),
        Some("a long password\n"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    fails(
        &db,
        &["user", "add", "--email", "ada@example.com", "--name", "Dup"],
        "already exists",
    );
    fails(
        &db,
        &["user", "add", "--email", "nope", "--name", "X"],
        "not a valid email",
    );
    ok(&db, &["org", "add", "acme", "--name", "Acme Inc"]);
    fails(
        &db,
        &["org", "add", "Bad Slug", "--name", "X"],
        "not a valid org slug",
    );
    ok(
        &db,
        &words("member add --org acme --user ada@example.com --role admin"),
    );
    fails(
        &db,
        &words("member add --org nope --user ada@example.com"),
        "no organization `nope`",
    );
    fails(
        &db,
        &words("member add --org acme --user ada@example.com --role root"),
        "root",
    );

    let token = ok(
        &db,
        &words("token create --user ada@example.com --org acme --name ci --expires 30d"),
    );
    let token = token.trim().to_string();
    assert!(
        token.starts_with("dva_") && token.len() == 68,
        "prints just the token: {token}"
    );
    fails(
        &db,
        &words("token create --user ada@example.com --org acme --name x --expires soon"),
        "expires must be",
    );
    fails(
        &db,
        &words("token create --user ada@example.com --org acme --name x --scope root"),
        "unknown scope",
    );
    let service = ok(
        &db,
        &words(
            "token create --service --org acme --name deploy --scope profile:read --expires never",
        ),
    );

    let listed: Value =
        serde_json::from_str(&ok(&db, &["token", "list", "--org", "acme", "--json"]))
            .unwrap_or(Value::Null);
    let listed = listed.as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 2);
    let text = serde_json::to_string(&listed).unwrap_or_default();
    assert!(
        !text.contains(&token[4..]) && !text.contains(service.trim()),
        "lists never show a token"
    );
    let ci = listed
        .iter()
        .find(|t| t["name"] == "ci")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(ci["kind"], "personal");
    assert_eq!(ci["state"], "active");
    let table = ok(&db, &["token", "list", "--user", "ada@example.com"]);
    assert!(
        table.starts_with("ID") && table.contains(ci["hint"].as_str().unwrap_or("?")),
        "{table}"
    );

    // A server on the same database accepts the CLI's token, and sees its revocation at once.
    let srv = devauth_server::start(
        devauth_server::Config {
            database_url: Some(db.clone()),
            addr: "127.0.0.1:0".into(),
            ..Default::default()
        },
        std::sync::Arc::new(devauth_server::clock::SystemClock),
    )
    .await
    .expect("the server starts");
    let http = reqwest::Client::new();
    let me = |t: String| {
        let http = http.clone();
        let url = format!("{}/me", srv.url);
        async move {
            http.get(url)
                .bearer_auth(t)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(me(token.clone()).await, 200);
    assert_eq!(me(service.trim().to_string()).await, 200);
    change_heard(
        backend,
        &srv,
        &db,
        &words("member set-role --org acme --user ada@example.com --role viewer"),
    )
    .await;
    let members: Value =
        serde_json::from_str(&ok(&db, &["member", "list", "--org", "acme", "--json"]))
            .unwrap_or(Value::Null);
    assert_eq!(members[0]["role"], "viewer");
    // The running server cached this token's validation as an owner: the CLI's
    // change (another process) must show on the next request.
    let me_now = json_of(http.get(format!("{}/me", srv.url)).bearer_auth(&token)).await;
    assert_eq!(me_now["role"], "viewer", "{me_now}");
    let id = ci["id"].as_str().unwrap_or_default();
    assert!(
        change_heard(backend, &srv, &db, &["token", "revoke", id])
            .await
            .contains("revoked")
    );
    assert_eq!(me(token.clone()).await, 401);
    assert!(ok(&db, &["token", "revoke", id]).contains("already revoked"));
    fails(&db, &["token", "revoke", "no-such-token"], "no token");

    let second = ok(
        &db,
        &words("token create --user ada@example.com --org acme --name two"),
    );
    assert!(
        ok(
            &db,
            &["token", "revoke", "--all", "--user", "ada@example.com"]
        )
        .contains("revoked 1 tokens")
    );
    assert_eq!(me(second.trim().to_string()).await, 401);
    let third = ok(
        &db,
        &words("token create --user ada@example.com --org acme --name three"),
    );
    let reset = ok(&db, &["user", "reset-link", "ada@example.com"]);
    assert!(reset.trim().starts_with("http://"), "a whole link: {reset}");
    assert!(reset.trim().contains("/reset/dvr_"), "{reset}");
    assert!(ok(&db, &["user", "disable", "ada@example.com"]).contains("1 token revoked"));
    // An invitation from the host: the link on standard output, nothing else.
    let link = ok(
        &db,
        &words("invite --org acme --email zoe@example.com --role viewer"),
    );
    assert!(link.trim().starts_with("http://"), "a whole link: {link}");
    assert!(link.trim().contains("/invite/dvi_"), "{link}");
    assert_eq!(link.trim().lines().count(), 1, "{link}");
    fails(
        &db,
        &words("invite --org acme --email not-an-email --role viewer"),
        "email",
    );
    assert_eq!(me(third.trim().to_string()).await, 401);
    assert_eq!(
        me(service.trim().to_string()).await,
        200,
        "service tokens belong to no user"
    );
    fails(
        &db,
        &["user", "disable", "ada@example.com"],
        "already disabled",
    );

    let audit: Value = serde_json::from_str(&ok(&db, &["audit", "--org", "acme", "--json"]))
        .unwrap_or(Value::Null);
    let actions: Vec<&str> = audit
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    for expected in [
        "member.added",
        "token.issued",
        "member.role_changed",
        "token.revoked",
    ] {
        assert!(
            actions.contains(&expected),
            "audit has {expected}: {actions:?}"
        );
    }
    let users = ok(&db, &["user", "list"]);
    assert!(users.contains("disabled"), "{users}");
    let _ = srv.stop().await;
}

/// Runs `devauth-server serve` with `RUST_LOG=trace`, drives a whole flow, and
/// checks that the log has none of the secrets that passed through.
async fn logs_never_contain_secrets(backend: Backend) {
    let (db, _dir) = fresh_database(backend).await;
    let server = process::ServerProcess::start(&db, &[("RUST_LOG", "trace")]);
    let setup_token = server
        .wait_for_line("setup token: ")
        .expect("the server prints its setup token")
        .trim()
        .to_string();
    let url = server.url.clone();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let http = reqwest::Client::new();
    let post_json = |path: &str, token: Option<&str>, body: Value| {
        let mut req = http.post(format!("{url}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.expect("the request got an answer");
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let password = "a secret password";
    let (status, _) = post_json(
        "/api/setup/claim",
        None,
        claim_body("setup_wrong_guess", "o@x.io", "O", password),
    )
    .await;
    assert_eq!(status, 403);
    let (status, claim) = post_json(
        "/api/setup/claim",
        None,
        claim_body(&setup_token, "o@x.io", "O", password),
    )
    .await;
    assert_eq!(status, 201, "{claim}");
    let owner = claim["token"].as_str().unwrap_or_default().to_string();
    let started = json_of(
        http.post(format!("{url}/oauth/device_authorization"))
            .form(&[("client_id", "devauth-cli"), ("device_name", "laptop")]),
    )
    .await;
    let device_code = started["device_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let user_code = started["user_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let poll = || {
        http.post(format!("{url}/oauth/token"))
            .form(&[
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code.as_str()),
                ("client_id", "devauth-cli"),
            ])
            .send()
    };
    let _ = poll().await;
    let _ = http
        .get(format!("{url}/device?user_code={user_code}"))
        .send()
        .await;
    let (status, _) = post_json(
        "/api/device/approve",
        Some(&owner),
        json!({"user_code": user_code, "org": "acme"}),
    )
    .await;
    assert_eq!(status, 200);
    let device_token = poll()
        .await
        .expect("the poll gets an answer")
        .json::<Value>()
        .await
        .unwrap_or(Value::Null)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(device_token.starts_with("dva_"));
    let (_, personal) = post_json("/api/tokens", Some(&device_token), json!({"name": "ci"})).await;
    let personal = personal["token"].as_str().unwrap_or_default().to_string();
    let _ = http
        .post(format!("{url}/oauth/revoke"))
        .form(&[("token", personal.as_str())])
        .send()
        .await;
    let _ = http
        .get(format!("{url}/me"))
        .bearer_auth(&personal)
        .send()
        .await;

    // SIGTERM: graceful stop, exit 0.
    let console = server.console();
    let stopped = server.stop();
    assert!(
        stopped.status.success(),
        "graceful shutdown exits 0: {:?}",
        stopped.status
    );
    let log = stopped.log;
    assert!(
        log.contains("request_id"),
        "the log has request lines: {log}"
    );
    assert!(log.lines().count() > 10, "trace logging was on");
    let secrets = [
        ("setup token", setup_token.as_str()),
        ("wrong setup token", "setup_wrong_guess"),
        ("password", password),
        ("owner token", owner.as_str()),
        ("device code", device_code.as_str()),
        ("user code", user_code.as_str()),
        ("user code body", &user_code.replace('-', "")),
        ("device token", device_token.as_str()),
        ("personal token", personal.as_str()),
    ];
    for (what, secret) in secrets {
        assert!(secret.len() >= 8, "{what} was collected");
        assert!(!log.contains(secret), "the {what} appears in the log");
    }
    // The console shows the generated setup token exactly once, on its own line.
    let shown: Vec<_> = console
        .iter()
        .filter(|l| l.contains(&setup_token))
        .collect();
    assert_eq!(shown.len(), 1, "{console:?}");
}

/// A server fault answers "internal error" with the request id, and its
/// detail is logged once, on the request's log line, never sent.
#[tokio::test]
async fn a_server_fault_is_logged_once_with_its_request_id() {
    use sqlx::Connection;
    let dir = TempDir::new();
    let path = dir.path().join("devauth.db");
    let server = process::ServerProcess::start(
        &format!("sqlite://{}", path.display()),
        &[("DEVAUTH_SETUP_TOKEN", SETUP_TOKEN)],
    );
    let (url, remote) = (server.url.clone(), server.remote.clone());
    let claim = claim_body(SETUP_TOKEN, "o@x.io", "O", PASSWORD);
    let claimed = remote
        .post_json("/api/setup/claim", None, &claim)
        .await
        .expect("claim");
    assert_eq!(claimed.status, 201);
    // Break the database under the running server.
    let mut side = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("a side connection");
    sqlx::query("ALTER TABLE device_authorizations RENAME TO gone")
        .execute(&mut side)
        .await
        .expect("renaming a table");
    let answer = remote
        .http()
        .get(format!("{}/api/setup/status", url.trim()))
        .send()
        .await
        .expect("an answer");
    let fault = remote
        .http()
        .post(format!("{}/oauth/device_authorization", url.trim()))
        .header("x-request-id", "fault-test-1")
        .form(&[("client_id", "devauth-cli")])
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        answer.status(),
        200,
        "a request that needs no broken table still works"
    );
    assert_eq!(fault.status(), 500);
    assert_eq!(fault.headers()["x-request-id"], "fault-test-1");
    let body = fault.text().await.unwrap_or_default();
    assert!(
        body.contains("server_error") && !body.contains("gone"),
        "{body}"
    );
    let log = server.kill().log;
    let faults: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("internal error"))
        .collect();
    assert_eq!(faults.len(), 1, "one log line per fault:\n{log}");
    assert!(faults[0].contains("fault-test-1"), "{}", faults[0]);
}

/// Forwarding settings that would mislead are refused at start, naming the
/// setting: the old all-or-nothing switch (anyone could pick their address)
/// and a proxy list that does not parse.
#[test]
fn misleading_forwarding_settings_are_refused() {
    let dir = TempDir::new();
    let db = format!("sqlite://{}", dir.path().join("devauth.db").display());
    let old = process::ServerProcess::run_to_exit(&db, &[("DEVAUTH_TRUST_FORWARDED_FOR", "1")]);
    assert_ne!(old.code, 0, "{}", old.stderr);
    assert!(
        old.stderr.contains("DEVAUTH_TRUST_FORWARDED_FOR")
            && old.stderr.contains("DEVAUTH_TRUSTED_PROXIES"),
        "the message names the replacement: {}",
        old.stderr
    );
    let bad =
        process::ServerProcess::run_to_exit(&db, &[("DEVAUTH_TRUSTED_PROXIES", "10.0.0.0/33")]);
    assert_ne!(bad.code, 0, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("DEVAUTH_TRUSTED_PROXIES") && bad.stderr.contains("10.0.0.0/33"),
        "{}",
        bad.stderr
    );
}

/// Forwarding headers from a peer that is not a trusted proxy are ignored and
/// reported once in the log, however many requests carry them; from a trusted
/// proxy they are not reported.
#[tokio::test]
async fn untrusted_forwarding_headers_are_reported_once() {
    let dir = TempDir::new();
    let db = format!("sqlite://{}", dir.path().join("devauth.db").display());
    let count_reports = |log: &str| {
        log.lines()
            .filter(|l| l.contains("not in DEVAUTH_TRUSTED_PROXIES"))
            .count()
    };
    for (proxies, expected) in [("", 1), ("127.0.0.1", 0)] {
        let server = process::ServerProcess::start(&db, &[("DEVAUTH_TRUSTED_PROXIES", proxies)]);
        for i in 0..3 {
            let answer = server
                .remote
                .http()
                .get(format!("{}/healthz", server.url))
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .send()
                .await
                .expect("healthz answers");
            assert_eq!(answer.status(), 200);
        }
        let log = server.stop().log;
        assert_eq!(count_reports(&log), expected, "proxies {proxies:?}:\n{log}");
    }
}

/// `devauth-server purge` deletes what has expired on demand and says what,
/// in words; audit events stay unless a retention is given.
#[tokio::test]
async fn purge_on_demand_says_what_it_deleted() {
    use sqlx::Connection;
    let dir = TempDir::new();
    let db = format!("sqlite://{}", dir.path().join("devauth.db").display());
    ok(&db, &["migrate"]);
    let mut side = sqlx::SqliteConnection::connect(&db)
        .await
        .expect("a side connection");
    sqlx::query(
        "INSERT INTO rate_limits (key, window_start, window_end, failures, inflight) \
         VALUES ('old', 0, 300, 3, 0), ('older', 0, 60, 1, 0)",
    )
    .execute(&mut side)
    .await
    .expect("two ended windows");
    let said = ok(&db, &["purge"]);
    assert!(
        said.contains("2 rate limit windows") && said.contains("audit events kept"),
        "{said}"
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM rate_limits")
        .fetch_one(&mut side)
        .await
        .expect("counting");
    assert_eq!(left, 0);
    let again = ok(&db, &["purge", "--audit-retention-days", "30"]);
    assert!(
        again.contains("0 rate limit windows") && again.contains("0 audit events"),
        "{again}"
    );
    fails(
        &db,
        &["purge", "--audit-retention-days=-1"],
        "--audit-retention-days",
    );
}
