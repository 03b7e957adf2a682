//! The real `devauth` CLI against a real server: sign-in approved by the test,
//! the token in a real Secret Service keychain (read back with `secret-tool`),
//! sign-out with revocation, offline sign-out, and the failure paths people
//! hit: no keychain, plaintext storage on request, environment overrides,
//! plain http, Ctrl-C.
//!
//! Tests that need the keychain run under `.ci/with-keyring.sh` (make test);
//! elsewhere they are skipped, or fail with `DEVAUTH_REQUIRE_KEYRING=1`. The
//! others point `DBUS_SESSION_BUS_ADDRESS` at nothing, so they prove the CLI
//! never needed a keychain for what they do.

use devauth_harness::cli::{DevauthCli, Run};
use devauth_harness::keyring::{self, NO_BUS, keyring_available};
use devauth_harness::*;
use std::sync::Arc;

/// A server whose (manual) clock reads the real time, so the expiry the
/// server gives tokens means the same thing to the CLI.
async fn server() -> (TestServer, String) {
    let srv = spawn_server(Backend::Sqlite).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    srv.clock.set(now);
    let owner = srv.claim().await;
    (srv, owner)
}

/// With the keychain of `.ci/with-keyring.sh` (`None`, a skip, without it): a
/// server, its owner's token and a CLI that uses the keychain.
async fn with_keychain() -> Option<(TestServer, String, DevauthCli)> {
    if !keyring_available() {
        return None;
    }
    let (srv, owner) = server().await;
    Some((srv, owner, DevauthCli::new()))
}

/// A CLI whose D-Bus session bus leads nowhere: no keychain within reach.
fn without_keychain() -> DevauthCli {
    DevauthCli::new().env("DBUS_SESSION_BUS_ADDRESS", NO_BUS)
}

/// `devauth login --no-browser` approved through the JSON API, to the end.
async fn login(cli: &DevauthCli, srv: &TestServer, owner: &str, extra: &[&str]) -> Run {
    let mut args = vec!["--server", srv.url.as_str(), "--no-browser"];
    args.extend_from_slice(extra);
    let mut pending = cli.start_login(&args, &[]).await;
    pending.wait_for("Waiting for approval").await;
    let approve = srv.approve(owner, &pending.user_code, "acme").await;
    assert_eq!(approve.status, 200, "{}", approve.body);
    pending.finish().await
}

const SIGNED_IN: &str =
    "Signed in as Olive Owner <owner@example.com> in org acme; token expires in 90 days";

async fn me_status(srv: &TestServer, token: &str) -> u16 {
    srv.get("/me", Some(token)).await.status
}

/// The fields `devauth status --json` documents (the client README), and
/// only those.
const STATUS_FIELDS: [&str; 14] = [
    "server",
    "server_source",
    "state",
    "reason",
    "user",
    "org",
    "role",
    "token",
    "expires_at",
    "expires",
    "token_source",
    "storage",
    "keychain",
    "pending_revocation",
];

/// `status --json` holds documented fields only, and none of the text of
/// the keychain crates below the CLI (their error wording, store structs).
fn assert_documented_status(run: &Run) {
    let json = run.json();
    let fields = json
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>());
    for field in fields.unwrap_or_default() {
        assert!(
            STATUS_FIELDS.contains(&field.as_str()),
            "undocumented field {field}: {}",
            run.stdout
        );
    }
    let lower = run.stdout.to_lowercase();
    for internal in [
        "zbus",
        "platform failure",
        "keyring-store",
        "keyring_core",
        "crates.io",
        "crate version",
        "vendor",
    ] {
        assert!(!lower.contains(internal), "{internal}: {}", run.stdout);
    }
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_status_token_logout_with_the_keychain() {
    let Some((srv, owner, cli)) = with_keychain().await else {
        return;
    };
    let run = login(&cli, &srv, &owner, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(SIGNED_IN), "{}", run.stderr);
    assert!(
        !run.stderr.contains("dva_"),
        "no token on screen: {}",
        run.stderr
    );

    // The token is in the keychain, and only there.
    let token = keyring::lookup(&srv.url).unwrap_or_else(|| panic!("no keychain entry"));
    assert!(token.starts_with("dva_") && token.len() == 68, "{token}");
    let me = srv.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["token"]["kind"], "device");
    assert!(
        me.body["token"]["name"]
            .as_str()
            .unwrap_or_default()
            .starts_with("devauth CLI on "),
        "{}",
        me.body
    );
    assert_eq!(files_in(&cli.config_dir()), ["config.json"]);
    let config = std::fs::read_to_string(cli.config_dir().join("config.json")).unwrap_or_default();
    assert!(!config.contains(&token[4..]), "{config}");

    let status = cli.run(&["status"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    for line in [
        format!("Server:   {}", srv.url),
        "Signed in as Olive Owner <owner@example.com>".to_string(),
        "Org:      acme (Acme), role owner".to_string(),
        "Token:    expires in 90 days".to_string(),
        "Storage:  Secret Service keychain".to_string(),
    ] {
        assert!(status.stdout.contains(&line), "{line}:\n{}", status.stdout);
    }
    let json = cli.run(&["status", "--json"]).await;
    assert_eq!(json.code, 0);
    assert_documented_status(&json);
    let json = json.json();
    assert_eq!(json["state"], "signed_in");
    assert_eq!(json["keychain"], "secret_service");
    assert_eq!(json["server_source"], "config");
    assert_eq!(json["user"]["email"], OWNER_EMAIL);
    assert_eq!(json["role"], "owner");
    assert_eq!(json["token_source"], "keychain");
    assert_eq!(json["token"]["kind"], "device");

    let printed = cli.run(&["token"]).await;
    assert_eq!((printed.code, printed.stdout.trim()), (0, token.as_str()));

    // A keychain that cannot be reached is an error naming the fix, not "signed out".
    let offline = cli
        .run_with(&["token"], &[("DBUS_SESSION_BUS_ADDRESS", NO_BUS)], None)
        .await;
    assert_eq!(offline.code, 4, "{}", offline.stderr);
    assert!(offline.stderr.contains("keychain"), "{}", offline.stderr);

    let logout = cli.run(&["logout"]).await;
    assert_eq!(logout.code, 0, "{}", logout.stderr);
    assert!(
        logout.stderr.contains("revoked on the server"),
        "{}",
        logout.stderr
    );
    assert_eq!(me_status(&srv, &token).await, 401);
    assert_eq!(keyring::lookup(&srv.url), None, "keychain entry removed");
    let status = cli.run(&["status"]).await;
    assert_eq!(status.code, 1, "{}", status.stdout);
    assert!(status.stdout.contains("Not signed in"), "{}", status.stdout);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_binary_uses_the_real_keychain_not_the_mock() {
    let Some((srv, _, cli)) = with_keychain().await else {
        return;
    };
    let run = cli.run(&["status", "--json", "--server", &srv.url]).await;
    assert_eq!(run.code, 1, "signed out: {}", run.stderr);
    assert_documented_status(&run);
    let json = run.json();
    assert_eq!(
        json["keychain"], "secret_service",
        "the shipped binary must use the platform keychain, not the mock: {json}"
    );
    assert_eq!(json["storage"], "Secret Service keychain");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_while_the_server_is_down_revokes_on_the_next_run() {
    let Some((srv, owner, cli)) = with_keychain().await else {
        return;
    };
    let run = login(&cli, &srv, &owner, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let token = keyring::lookup(&srv.url).unwrap_or_else(|| panic!("no keychain entry"));
    let pending_account = format!("{}#pending-revocation", srv.url);

    // Stop the server, keeping its database (and the TestServer's temp dir).
    let (addr, database_url, now) = (srv.server.addr, srv.database_url.clone(), srv.clock_now());
    let running = srv.server;
    let _ = running.stop().await;

    let logout = cli.run(&["logout"]).await;
    assert_eq!(logout.code, 3, "{}", logout.stderr);
    assert!(
        logout.stderr.contains("Signed out locally") && logout.stderr.contains("next time it runs"),
        "{}",
        logout.stderr
    );
    assert_eq!(keyring::lookup(&srv.url), None, "forgotten for normal use");
    let pending = keyring::lookup(&pending_account).unwrap_or_default();
    assert!(
        pending.contains(&token),
        "kept for revocation, in the keychain only"
    );
    let config = std::fs::read_to_string(cli.config_dir().join("config.json")).unwrap_or_default();
    assert!(!config.contains(&token[4..]), "{config}");
    let offline = cli.run(&["status"]).await;
    assert_eq!(offline.code, 1, "{}", offline.stdout);
    assert!(
        offline.stderr.contains("not revoked yet"),
        "{}",
        offline.stderr
    );
    assert!(
        offline.stdout.contains("waiting to be revoked"),
        "{}",
        offline.stdout
    );

    // The server comes back at the same URL, on the same database.
    let clock = devauth_server::clock::ManualClock::new(now);
    let back = devauth_server::start(
        devauth_server::Config {
            database_url: Some(database_url),
            addr: addr.to_string(),
            ..Default::default()
        },
        Arc::new(clock),
    )
    .await
    .unwrap_or_else(|e| panic!("restart on {addr}: {e}"));
    let http = reqwest::Client::new();
    let me = |token: String| {
        let request = http.get(format!("{}/me", back.url)).bearer_auth(token);
        async move {
            request
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(
        me(token.clone()).await,
        200,
        "not revoked while the server was down"
    );

    let next = cli.run(&["status"]).await;
    assert!(
        next.stderr
            .contains("Revoked 1 token(s) left over from an offline sign-out"),
        "{}",
        next.stderr
    );
    assert_eq!(me(token.clone()).await, 401);
    assert_eq!(keyring::lookup(&pending_account), None);
    let quiet = cli.run(&["status"]).await;
    assert!(!quiet.stderr.contains("Revoked"), "{}", quiet.stderr);
    assert!(
        !quiet.stdout.contains("waiting to be revoked"),
        "{}",
        quiet.stdout
    );
    let _ = back.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keychain_login_stops_before_showing_a_code() {
    let (srv, _) = server().await;
    let cli = without_keychain();
    let run = cli
        .run(&["login", "--server", &srv.url, "--no-browser"])
        .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    for needle in [
        "the OS keychain is not available",
        "D-Bus session bus",
        "dbus-run-session",
        "--insecure-storage",
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
    // The first line says what to do; the detail follows.
    let mut lines = run.stderr.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with("error: install and start a Secret Service keychain")
            && first.contains("--insecure-storage"),
        "{}",
        run.stderr
    );
    assert!(!first.contains("not available"), "{}", run.stderr);
    assert_eq!(
        lines.next().unwrap_or_default(),
        format!(
            "  detail: the OS keychain is not available: cannot connect to the D-Bus session bus at {NO_BUS}"
        ),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.to_lowercase().contains("zbus"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("one-time code"), "{}", run.stderr);
    assert!(files_in(&cli.config_dir()).is_empty(), "no file written");
    let requested = srv.audit_events("device.requested", 10).await;
    assert!(requested.is_empty(), "no device authorization was started");

    let with_token = cli
        .run_with(
            &["login", "--with-token", "--server", &srv.url],
            &[],
            Some("dva_0000"),
        )
        .await;
    assert_eq!(with_token.code, 4, "{}", with_token.stderr);
    // The error comes from the platform store trying D-Bus: the in-memory
    // mock store (which would accept anything) is not in play.
    let status = cli.run(&["status", "--json", "--server", &srv.url]).await;
    assert_eq!(status.code, 1);
    assert_documented_status(&status);
    let reason = status.json()["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("D-Bus"), "{reason}");
    assert!(
        files_in(&cli.config_dir()).is_empty(),
        "still no file written"
    );
    srv.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_storage_is_a_0600_file_and_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let (srv, owner) = server().await;
    let cli = without_keychain();
    let run = login(&cli, &srv, &owner, &["--insecure-storage"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(SIGNED_IN), "{}", run.stderr);
    // What the approval page will show, and what to approve.
    assert!(
        run.stderr.contains("The page will show:  devauth CLI on "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("Approve only a sign-in you started yourself"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("warning: the token is stored unencrypted"),
        "{}",
        run.stderr
    );
    let file = cli.config_dir().join("credentials.json");
    let mode = std::fs::metadata(&file)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o600, "{}", file.display());
    let dir_mode = std::fs::metadata(cli.config_dir())
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(dir_mode, 0o700);
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_default())
            .unwrap_or_default();
    let token = stored["tokens"][&srv.url]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(me_status(&srv, &token).await, 200);

    // Later commands remember the choice, and warn every time.
    let status = cli.run(&["status", "--json"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stderr.contains("stored unencrypted"),
        "{}",
        status.stderr
    );
    let json = status.json();
    assert_eq!(json["token_source"], "file");
    assert!(
        json["storage"]
            .as_str()
            .unwrap_or_default()
            .contains("(insecure)")
    );
    assert_eq!(json.get("keychain"), Some(&serde_json::Value::Null));
    assert_documented_status(&status);

    let logout = cli.run(&["logout"]).await;
    assert_eq!(logout.code, 0, "{}", logout.stderr);
    assert_eq!(me_status(&srv, &token).await, 401);
    assert!(!file.exists(), "the file goes with the last token");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_overrides_win_and_are_never_stored() {
    let (srv, _) = server().await;
    let personal = srv.personal_token(OWNER_EMAIL, "acme").await;
    let cli = without_keychain()
        .env("DEVAUTH_SERVER", &srv.url)
        .env("DEVAUTH_TOKEN", &personal);

    let status = cli.run(&["status", "--json"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    let json = status.json();
    assert_eq!(json["server"], srv.url.as_str());
    assert_eq!(json["server_source"], "env");
    assert_eq!(json["token_source"], "env");
    assert_eq!(json["storage"], "environment variable DEVAUTH_TOKEN");
    assert_eq!(json["user"]["email"], OWNER_EMAIL);
    let printed = cli.run(&["token"]).await;
    assert_eq!(printed.stdout.trim(), personal);
    let logout = cli.run(&["logout"]).await;
    assert_eq!(logout.code, 2, "{}", logout.stderr);
    assert!(logout.stderr.contains("DEVAUTH_TOKEN"), "{}", logout.stderr);
    assert_eq!(
        me_status(&srv, &personal).await,
        200,
        "logout refused: still valid"
    );
    assert!(
        files_in(&cli.config_dir()).is_empty(),
        "nothing written anywhere"
    );

    // --server beats DEVAUTH_SERVER.
    let flag = cli
        .run_with(
            &["status", "--json", "--server", &srv.url],
            &[("DEVAUTH_SERVER", "http://127.0.0.1:9")],
            None,
        )
        .await;
    assert_eq!(flag.code, 0, "{}", flag.stderr);
    assert_eq!(flag.json()["server_source"], "flag");

    // A revoked DEVAUTH_TOKEN reads as revoked, exit 1.
    srv.post_form("/oauth/revoke", &[("token", &personal)])
        .await;
    let revoked = cli.run(&["status", "--json"]).await;
    assert_eq!(revoked.code, 1);
    assert_eq!(revoked.json()["state"], "revoked");
    srv.stop().await;
}

/// `devauth approve CODE` signs in another device with this one's token:
/// it shows what the server saw apart from what the device claims, asks
/// (and refuses to guess without a terminal), narrows the grant on request,
/// and denies with `--deny`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_signs_in_another_device() {
    let (srv, _) = server().await;
    let personal = srv.personal_token(OWNER_EMAIL, "acme").await;
    let cli = without_keychain()
        .env("DEVAUTH_SERVER", &srv.url)
        .env("DEVAUTH_TOKEN", &personal);
    let started = srv.start_device("devauth-desktop", "second machine").await;
    let code = started["user_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let device_code = started["device_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // No terminal and no --yes: nothing is approved.
    let asked = cli.run(&["approve", &code]).await;
    assert_eq!(asked.code, 2, "{}", asked.stderr);
    assert!(asked.stderr.contains("pass --yes"), "{}", asked.stderr);
    assert!(asked.stderr.contains("Seen by devauth"), "{}", asked.stderr);
    assert!(
        asked.stderr.contains("(this machine's network)"),
        "{}",
        asked.stderr
    );
    assert!(
        asked.stderr.contains("Reported by the device"),
        "{}",
        asked.stderr
    );
    assert!(asked.stderr.contains("second machine"), "{}", asked.stderr);
    assert_eq!(
        srv.poll(&device_code, "devauth-desktop").await.error(),
        "authorization_pending"
    );

    let bad = cli.run(&["approve", &code, "--yes", "--days", "0"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);

    let approved = cli
        .run(&[
            "approve",
            &code.to_lowercase(),
            "--yes",
            "--read-only",
            "--days",
            "7",
        ])
        .await;
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    assert!(
        approved
            .stderr
            .contains("Approved: second machine is signed in to acme for 7 days."),
        "{}",
        approved.stderr
    );
    srv.clock.advance(10);
    let token = srv.poll(&device_code, "devauth-desktop").await;
    assert_eq!(token.status, 200, "{}", token.body);
    assert_eq!(token.body["expires_in"], 7 * 86_400);
    let me = srv.get("/me", token.body["access_token"].as_str()).await;
    assert_eq!(
        me.body["scopes"],
        serde_json::json!(["profile:read", "tokens:read"])
    );

    // Used: nothing to approve.
    let again = cli.run(&["approve", &code, "--yes"]).await;
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("already used"), "{}", again.stderr);

    // --deny.
    let other = srv.start_device("devauth-cli", "not mine").await;
    let denied = cli
        .run(&[
            "approve",
            other["user_code"].as_str().unwrap_or_default(),
            "--deny",
        ])
        .await;
    assert_eq!(denied.code, 0, "{}", denied.stderr);
    assert!(
        denied.stderr.contains("Denied: not mine"),
        "{}",
        denied.stderr
    );
    assert_eq!(
        srv.poll(
            other["device_code"].as_str().unwrap_or_default(),
            "devauth-cli"
        )
        .await
        .error(),
        "access_denied"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_except_to_loopback() {
    let cli = without_keychain();
    for url in [
        "http://auth.example.com",
        "http://10.1.2.3:8750",
        "http://192.168.0.10/",
    ] {
        let run = cli.run(&["login", "--server", url, "--no-browser"]).await;
        assert_eq!(run.code, 2, "{url}: {}", run.stderr);
        assert!(
            run.stderr.contains("refusing plain http://") && run.stderr.contains("https://"),
            "{url}: {}",
            run.stderr
        );
    }
    let env = cli
        .run_with(
            &["status"],
            &[("DEVAUTH_SERVER", "http://auth.example.com")],
            None,
        )
        .await;
    assert_eq!(env.code, 2, "{}", env.stderr);
    assert!(
        env.stderr.contains("refusing plain http://"),
        "{}",
        env.stderr
    );

    for url in ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"] {
        let run = cli.run(&["status", "--server", url]).await;
        assert_eq!(run.code, 1, "{url}: {}", run.stderr);
        assert!(
            run.stdout.contains("Not signed in"),
            "{url}: {}",
            run.stdout
        );
        assert!(!run.stderr.contains("plain http"), "{url}: {}", run.stderr);
    }

    // Overridden on purpose: allowed, with a warning.
    let run = cli
        .run(&[
            "status",
            "--server",
            "http://auth.example.com",
            "--allow-insecure-http",
        ])
        .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("warning: http://auth.example.com uses plain http"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_sign_in_and_stores_nothing() {
    let (srv, _) = server().await;
    let cli = without_keychain();
    let mut pending = cli
        .start_login(
            &["--server", &srv.url, "--no-browser", "--insecure-storage"],
            &[],
        )
        .await;
    pending.wait_for("Waiting for approval").await;
    pending.interrupt().await;
    let run = pending.finish().await;
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Sign-in cancelled; nothing was stored."),
        "{}",
        run.stderr
    );
    assert!(!cli.config_dir().join("credentials.json").exists());
    let status = cli
        .run(&["status", "--server", &srv.url, "--insecure-storage"])
        .await;
    assert_eq!(status.code, 1, "{}", status.stdout);
    srv.stop().await;
}

/// A personal token made with `devauth tokens create --json`: its secret, id
/// and hint.
async fn create_token(cli: &DevauthCli, name: &str) -> (String, String, String) {
    let run = cli
        .run(&["tokens", "create", "--name", name, "--json"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    (
        text(&json["token"]),
        text(&json["info"]["id"]),
        text(&json["info"]["hint"]),
    )
}

/// The line of `out` that contains `needle`.
fn line_with(out: &str, needle: &str) -> String {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
        .to_string()
}

/// `devauth tokens list`: active tokens unless `--all-states`, a `*` on the
/// token this CLI is signed in with, last use in words, and an OWNER column
/// once other people's tokens are listed (`--all`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_list_shows_active_tokens_marks_this_one_and_says_when_each_was_used() {
    let (srv, owner) = server().await;
    let cli = without_keychain();
    let run = login(&cli, &srv, &owner, &["--insecure-storage"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let status = cli.run(&["status", "--json"]).await.json();
    let this = status["token"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!this.is_empty(), "{status}");

    // One token made and used five minutes ago (by the server's clock), one
    // never used, one revoked; and a member's.
    let now = srv.clock_now();
    srv.clock.set(now - 5 * 60 - 10);
    let (used, _, _) = create_token(&cli, "used before").await;
    assert_eq!(me_status(&srv, &used).await, 200);
    srv.clock.set(now);
    create_token(&cli, "never used").await;
    let (gone, gone_id, _) = create_token(&cli, "old laptop").await;
    srv.post_form("/oauth/revoke", &[("token", &gone)]).await;
    srv.add_member(
        "mia@example.com",
        "acme",
        devauth_server::model::Role::Member,
    )
    .await;
    srv.personal_token("mia@example.com", "acme").await;

    let list = cli.run(&["tokens", "list"]).await;
    assert_eq!(list.code, 0, "{}", list.stderr);
    let out = &list.stdout;
    let mine = line_with(out, &this);
    assert!(mine.starts_with("* "), "{out}");
    assert!(mine.contains("devauth CLI on "), "{out}");
    assert!(
        mine.ends_with("seconds ago") || mine.ends_with("second ago") || mine.ends_with("just now"),
        "{out}"
    );
    assert!(
        out.contains("* the token this devauth is signed in with"),
        "{out}"
    );
    let before = line_with(out, "used before");
    assert!(
        before.starts_with("  ") && before.ends_with("5 minutes ago"),
        "{out}"
    );
    assert!(line_with(out, "never used").ends_with("never"), "{out}");
    assert!(line_with(out, "LAST USED").starts_with("   ID "), "{out}");
    for absent in ["old laptop", "OWNER", "ORG", "STATUS", "mia@example.com"] {
        assert!(!out.contains(absent), "{absent}: {out}");
    }

    let every = cli.run(&["tokens", "list", "--all-states"]).await;
    assert_eq!(every.code, 0, "{}", every.stderr);
    assert!(
        line_with(&every.stdout, "LAST USED").ends_with("STATUS"),
        "{}",
        every.stdout
    );
    assert!(
        line_with(&every.stdout, "old laptop").ends_with("revoked"),
        "{}",
        every.stdout
    );
    assert!(
        line_with(&every.stdout, "never used").ends_with("active"),
        "{}",
        every.stdout
    );

    // The whole org: other people's tokens, so whose each is.
    let org = cli.run(&["tokens", "list", "--all"]).await;
    assert_eq!(org.code, 0, "{}", org.stderr);
    assert!(
        line_with(&org.stdout, "LAST USED").contains("OWNER"),
        "{}",
        org.stdout
    );
    assert!(
        line_with(&org.stdout, "mia@example.com test token").contains("mia@example.com  "),
        "{}",
        org.stdout
    );
    assert!(
        line_with(&org.stdout, &this).contains(OWNER_EMAIL),
        "{}",
        org.stdout
    );
    assert!(
        !org.stdout.contains("ORG "),
        "one org, no ORG column: {}",
        org.stdout
    );

    let json = cli.run(&["tokens", "list", "--json"]).await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    let json = json.json();
    assert_eq!(json["current_token_id"], this.as_str());
    let tokens = json["tokens"].as_array().cloned().unwrap_or_default();
    assert_eq!(tokens.len(), 4, "{json}");
    assert!(tokens.iter().all(|t| t["state"] == "active"), "{json}");
    let every = cli
        .run(&["tokens", "list", "--json", "--all-states"])
        .await
        .json();
    let ids: Vec<&str> = every["tokens"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(ids.contains(&gone_id.as_str()), "{every}");
    srv.stop().await;
}

/// `devauth tokens revoke` takes an id, a name or a hint as the list shows
/// it; a name several tokens share is refused and nothing is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_revoke_finds_a_token_by_name_or_hint_and_refuses_to_guess() {
    let (srv, owner) = server().await;
    let cli = without_keychain();
    let run = login(&cli, &srv, &owner, &["--insecure-storage"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (a, a_id, a_hint) = create_token(&cli, "laptop").await;
    let (b, b_id, b_hint) = create_token(&cli, "laptop").await;

    let refused = cli.run(&["tokens", "revoke", "laptop"]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    for needle in [
        "`laptop` matches 2 active tokens, so nothing was revoked",
        &format!("{a_id}  {a_hint}  laptop"),
        &format!("{b_id}  {b_hint}  laptop"),
    ] {
        assert!(
            refused.stderr.contains(needle),
            "{needle}: {}",
            refused.stderr
        );
    }
    // One candidate a line, under the message.
    let candidates: Vec<&str> = refused
        .stderr
        .lines()
        .filter(|l| l.starts_with("  "))
        .collect();
    assert_eq!(candidates.len(), 2, "{}", refused.stderr);
    assert_eq!(me_status(&srv, &a).await, 200);
    assert_eq!(me_status(&srv, &b).await, 200);
    assert!(
        srv.audit_events("token.revoked", 10).await.is_empty(),
        "nothing revoked"
    );

    let unknown = cli.run(&["tokens", "revoke", "desktop"]).await;
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown
            .stderr
            .contains("no active token has the id, name or hint `desktop`; nothing was revoked"),
        "{}",
        unknown.stderr
    );

    // By the whole hint; then the name is one active token's.
    let by_hint = cli.run(&["tokens", "revoke", &a_hint]).await;
    assert_eq!(by_hint.code, 0, "{}", by_hint.stderr);
    assert!(
        by_hint
            .stderr
            .contains(&format!("Revoked token `laptop` ({a_hint}, id {a_id}).")),
        "{}",
        by_hint.stderr
    );
    assert_eq!(me_status(&srv, &a).await, 401);
    assert_eq!(me_status(&srv, &b).await, 200);
    let by_name = cli.run(&["tokens", "revoke", "laptop"]).await;
    assert_eq!(by_name.code, 0, "{}", by_name.stderr);
    assert!(by_name.stderr.contains(&b_id), "{}", by_name.stderr);
    assert_eq!(me_status(&srv, &b).await, 401);

    // By one end of the hint, and by id as before.
    let (c, _, c_hint) = create_token(&cli, "ci").await;
    let tail = c_hint.rsplit('…').next().unwrap_or_default();
    let by_end = cli.run(&["tokens", "revoke", tail]).await;
    assert_eq!(by_end.code, 0, "{tail}: {}", by_end.stderr);
    assert_eq!(me_status(&srv, &c).await, 401);
    let (d, d_id, _) = create_token(&cli, "by id").await;
    let by_id = cli.run(&["tokens", "revoke", &d_id]).await;
    assert_eq!(by_id.code, 0, "{}", by_id.stderr);
    assert_eq!(me_status(&srv, &d).await, 401);

    // A token pasted whole is refused, and never sent as an id.
    let (e, _, _) = create_token(&cli, "pasted").await;
    let pasted = cli.run(&["tokens", "revoke", &e]).await;
    assert_eq!(pasted.code, 2, "{}", pasted.stderr);
    assert!(
        pasted.stderr.contains("that is a token itself"),
        "{}",
        pasted.stderr
    );
    assert!(!pasted.stderr.contains(&e), "{}", pasted.stderr);
    assert_eq!(me_status(&srv, &e).await, 200);
    assert_eq!(srv.audit_events("token.revoked", 10).await.len(), 4);
    srv.stop().await;
}

/// A second `devauth login` while a sign-in works asks first (on a
/// terminal), is refused without one unless `--force`, and changes nothing
/// when refused; replacing revokes the old device token as logout would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_login_asks_before_replacing_a_working_sign_in() {
    let Some((srv, owner, cli)) = with_keychain().await else {
        return;
    };
    let run = login(&cli, &srv, &owner, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first = keyring::lookup(&srv.url).unwrap_or_else(|| panic!("no keychain entry"));
    let started = srv.audit_events("device.requested", 10).await.len();
    let signed_in = format!("signed in to {} as {OWNER_EMAIL} (org acme)", srv.url);
    let unchanged = |what: &str| {
        let what = what.to_string();
        let (srv, first) = (&srv, &first);
        async move {
            assert_eq!(
                keyring::lookup(&srv.url).as_deref(),
                Some(first.as_str()),
                "{what}: the stored token stays"
            );
            assert_eq!(me_status(srv, first).await, 200, "{what}: and still works");
            assert_eq!(
                srv.audit_events("device.requested", 10).await.len(),
                started,
                "{what}: no sign-in was started"
            );
        }
    };

    // Standard input is no terminal and there is no --force: refused.
    let refused = cli.run(&["login", "--no-browser"]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!("already {signed_in}"))
            && refused.stderr.contains("Pass --force"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("one-time code"),
        "{}",
        refused.stderr
    );
    unchanged("no terminal").await;
    let personal = srv.personal_token(OWNER_EMAIL, "acme").await;
    let with_token = cli
        .run_with(&["login", "--with-token"], &[], Some(&personal))
        .await;
    assert_eq!(with_token.code, 2, "{}", with_token.stderr);
    assert!(
        with_token.stderr.contains("Pass --force"),
        "{}",
        with_token.stderr
    );
    unchanged("--with-token without --force").await;

    // On a terminal it asks; anything but yes keeps the sign-in.
    let kept = cli.run_in_terminal(&["login", "--no-browser"], "n\n").await;
    assert_eq!(kept.code, 130, "{}", kept.stdout);
    assert!(
        kept.stdout.contains(&format!(
            "You are {signed_in}. Sign in again and replace it? [y/N]"
        )),
        "{}",
        kept.stdout
    );
    assert!(
        kept.stdout
            .contains("Kept the current sign-in; nothing was changed."),
        "{}",
        kept.stdout
    );
    assert!(!kept.stdout.contains("one-time code"), "{}", kept.stdout);
    unchanged("answered no").await;

    // --force replaces it without asking and revokes the old token.
    let forced = login(&cli, &srv, &owner, &["--force"]).await;
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(!forced.stderr.contains("replace it?"), "{}", forced.stderr);
    assert!(
        forced
            .stderr
            .contains("note: revoked the token of the previous sign-in"),
        "{}",
        forced.stderr
    );
    let second = keyring::lookup(&srv.url).unwrap_or_default();
    assert!(second.starts_with("dva_") && second != first, "{second}");
    assert_eq!(me_status(&srv, &first).await, 401);
    assert_eq!(me_status(&srv, &second).await, 200);

    // Yes on a terminal replaces it too (here with a token typed in).
    let replaced = cli
        .run_in_terminal(&["login", "--with-token"], &format!("y\n{personal}\n"))
        .await;
    assert_eq!(replaced.code, 0, "{}", replaced.stdout);
    assert!(
        replaced
            .stdout
            .contains("Sign in again and replace it? [y/N]"),
        "{}",
        replaced.stdout
    );
    assert_eq!(
        keyring::lookup(&srv.url).as_deref(),
        Some(personal.as_str())
    );
    assert_eq!(me_status(&srv, &second).await, 401);
    assert_eq!(me_status(&srv, &personal).await, 200);

    // A personal token given with --with-token may be in use elsewhere:
    // replaced, it is forgotten here but not revoked, and the note says so.
    let other = srv.personal_token(OWNER_EMAIL, "acme").await;
    let again = cli
        .run_with(&["login", "--with-token", "--force"], &[], Some(&other))
        .await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains(
            "note: the previous personal token was removed from this machine but not revoked"
        ),
        "{}",
        again.stderr
    );
    assert_eq!(keyring::lookup(&srv.url).as_deref(), Some(other.as_str()));
    assert_eq!(me_status(&srv, &personal).await, 200);
    srv.stop().await;
}

/// `devauth login --org beta` asks the server for beta: the approval page
/// picks it, and the CLI takes the token it gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_org_asks_for_that_org() {
    let Some((srv, owner, cli)) = with_keychain().await else {
        return;
    };
    srv.add_org("beta").await;
    srv.add_member(OWNER_EMAIL, "beta", devauth_server::model::Role::Member)
        .await;
    let args = [
        "--server",
        srv.url.as_str(),
        "--no-browser",
        "--org",
        "beta",
    ];
    let mut pending = cli.start_login(&args, &[]).await;
    pending.wait_for("Waiting for approval").await;
    let looked = srv.lookup(&owner, &pending.user_code).await;
    assert_eq!(
        looked.body["request"]["org_hint"], "beta",
        "{}",
        looked.body
    );
    let in_beta = srv.personal_token(OWNER_EMAIL, "beta").await;
    let approve = srv.approve(&in_beta, &pending.user_code, "beta").await;
    assert_eq!(approve.status, 200, "{}", approve.body);
    let run = pending.finish().await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("in org beta"), "{}", run.stderr);
    srv.stop().await;
}
