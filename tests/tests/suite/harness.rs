//! The scenario suite itself: run through the library against an in-process
//! server on both backends (with a short device-code life, so expiry is
//! checked for real), and as a black box — the real `devauth-harness` binary
//! against the real `devauth-server` binary.

use devauth_harness::scenarios::{self, Credential, Member, Outcome, SCENARIOS, Target};
use devauth_harness::*;
use devauth_server::model::{Actor, RequestMeta};
use std::process::{Command, Stdio};
use std::sync::Arc;

devauth_harness::on_both_backends!(every_scenario_passes_against_a_fresh_server);

const MEMBER: &str = "member@example.com";
const MEMBER_PASSWORD: &str = "member password 123";

async fn every_scenario_passes_against_a_fresh_server(backend: Backend) {
    let (database_url, _dir) = fresh_database(backend).await;
    // The real clock, and device codes that live 10 s: long enough for the
    // slow-down scenario's 6 s pause, short enough to wait one out.
    let server = devauth_server::start(
        devauth_server::Config {
            database_url: Some(database_url),
            addr: "127.0.0.1:0".into(),
            setup_token: Some(devauth_server::secret::Secret::new(SETUP_TOKEN)),
            device_code_ttl_secs: 10,
            ..Default::default()
        },
        Arc::new(devauth_server::clock::SystemClock),
    )
    .await
    .expect("server did not start");
    devauth_server::identity::create_user(
        &server.state,
        MEMBER,
        "Member",
        Some(&devauth_server::secret::Secret::new(MEMBER_PASSWORD)),
        Actor::System,
        &RequestMeta::default(),
    )
    .await
    .expect("create the member");

    let mut target = Target::new(&server.url, Credential::SetupToken(SETUP_TOKEN.into()));
    target.owner.password = PASSWORD.into();
    target.member = Some(Member {
        email: MEMBER.into(),
        password: MEMBER_PASSWORD.into(),
    });
    target.wait_for_expiry = true;
    let report = scenarios::run(&target, |_| {}).await;
    let table = report.table();
    assert!(report.passed(), "{table}");
    assert_eq!(report.count(Outcome::Pass), SCENARIOS.len(), "{table}");
    let expiry = report.result("expiry").map(|r| r.detail.clone());
    assert!(
        expiry.as_deref().unwrap_or("").contains("expired_token"),
        "{table}"
    );

    // Every token the suite obtained was revoked at the end.
    let active = server
        .state
        .store
        .list_tokens(&devauth_server::model::TokenQuery::default())
        .await
        .map(|tokens| tokens.iter().filter(|t| t.revoked_at.is_none()).count());
    assert_eq!(active.ok(), Some(0), "{table}");
    let _ = server.stop().await;
}

struct HarnessRun {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_harness(args: &[&str], env: &[(&str, &str)]) -> HarnessRun {
    let mut command = Command::new(binary("devauth-harness"));
    command
        .args(args)
        .env_remove("DEVAUTH_SETUP_TOKEN")
        .env_remove("DEVAUTH_HARNESS_ADMIN_TOKEN")
        .env_remove("DEVAUTH_HARNESS_OWNER_PASSWORD")
        .env_remove("DEVAUTH_HARNESS_MEMBER_PASSWORD");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().expect("run devauth-harness");
    HarnessRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The row of `scenario` in the printed table: its result column.
fn result_of<'a>(table: &'a str, scenario: &str) -> &'a str {
    table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(scenario))
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or("missing")
}

#[test]
fn the_harness_binary_passes_against_the_server_binary() {
    let dir = TempDir::new();
    let db = format!("sqlite://{}", dir.path().join("devauth.db").display());
    // What an operator does before running the suite with a cascade: make a
    // user that is not in any org.
    let mut add = Command::new(server_binary())
        .args([
            "user",
            "add",
            "--email",
            MEMBER,
            "--name",
            "Member",
            "--password-stdin",
        ])
        .env("DEVAUTH_DATABASE_URL", &db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn devauth-server user add");
    if let Some(mut stdin) = add.stdin.take() {
        use std::io::Write;
        let _ = writeln!(stdin, "{MEMBER_PASSWORD}");
    }
    let added = add.wait_with_output().expect("user add");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let server = process::ServerProcess::start(&db, &[("DEVAUTH_SETUP_TOKEN", SETUP_TOKEN)]);
    let run = run_harness(
        &[
            "--server",
            &server.url,
            "--setup-token",
            SETUP_TOKEN,
            "--member",
            MEMBER,
        ],
        &[("DEVAUTH_HARNESS_MEMBER_PASSWORD", MEMBER_PASSWORD)],
    );
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let table = &run.stdout;
    assert!(table.starts_with("SCENARIO  "), "{table}");
    for scenario in SCENARIOS {
        let expected = if *scenario == "expiry" {
            "skip"
        } else {
            "pass"
        };
        assert_eq!(result_of(table, scenario), expected, "{scenario}:\n{table}");
    }
    assert!(
        table.contains(&format!(
            "{} passed, 0 failed, 1 skipped against {}",
            SCENARIOS.len() - 1,
            server.url
        )),
        "{table}"
    );
    assert!(
        run.stderr.contains("generated password"),
        "the generated owner password is shown once: {}",
        run.stderr
    );

    // The same server again: setup is claimed now, so --setup-token fails,
    // and one failure is exit status 1.
    let again = run_harness(
        &["--server", &server.url, "--setup-token", SETUP_TOKEN],
        &[],
    );
    assert_eq!(again.code, 1, "{}", again.stdout);
    assert_eq!(
        result_of(&again.stdout, "setup"),
        "FAIL",
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("already claimed"), "{}", again.stdout);
    assert_eq!(
        result_of(&again.stdout, "device-flow"),
        "skip",
        "{}",
        again.stdout
    );

    let usage = run_harness(&["--server", &server.url], &[]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
}
