//! `GET /openapi.json` against the router itself: the document validates as
//! OpenAPI 3.1, and its operations are exactly the routes the server answers
//! (each route is asked which methods it takes; 405 means "not this one").

use devauth_harness::*;
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn documented(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((method.to_string(), path.clone()));
            }
        }
    }
    ops
}

async fn routed(srv: &TestServer) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for path in devauth_server::router::routes().paths() {
        let concrete = path
            .replace("{id}", "no-such-token")
            .replace("{org}", "no-such-org")
            .replace("{user}", "nobody@example.com");
        for method in METHODS {
            let request = srv.http.request(
                method.to_uppercase().parse().expect("a method"),
                srv.at(&concrete),
            );
            let status = request
                .send()
                .await
                .expect("the route answers")
                .status()
                .as_u16();
            if status != 405 {
                ops.insert((method.to_string(), path.to_string()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_is_valid_and_lists_every_route() {
    let srv = spawn_server(Backend::Sqlite).await;
    let answer = srv.get("/openapi.json", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), "application/json");
    let doc = answer.body;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let documented = documented(&doc);
    let routed = routed(&srv).await;
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes without a document entry: {missing:?}\ndocumented but not routed: {extra:?}"
    );
    assert!(routed.len() >= 49, "only {} operations", routed.len());
    // Every operation says what it answers; the JSON ones name their schema.
    for (method, path) in &documented {
        let op = &doc["paths"][path][method];
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} documents no response"
        );
    }
    srv.stop().await;

    let Some(validator) = python_tool("openapi-spec-validator") else {
        return;
    };
    let dir = TempDir::new();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).expect("writing the document");
    let out = std::process::Command::new(validator)
        .arg("--schema")
        .arg("3.1")
        .arg(&file)
        .output()
        .expect("running openapi-spec-validator");
    assert!(
        out.status.success(),
        "the document does not validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An HTTP fuzzing campaign from the document (schemathesis) against the
/// release-like binary: no answer is a 5xx, and every answer matches the
/// schema documented for it. A short run with a fixed seed here;
/// `make fuzz` runs it longer with a fresh seed
/// (`DEVAUTH_FUZZ_EXAMPLES`, `DEVAUTH_FUZZ_SEED`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fuzzing_campaign_finds_no_server_error_and_nothing_off_schema() {
    let Some(schemathesis) = python_tool("schemathesis") else {
        return;
    };
    let dir = TempDir::new();
    let db = format!("sqlite://{}", dir.path().join("devauth.db").display());
    let env = [
        ("DEVAUTH_SETUP_TOKEN", SETUP_TOKEN),
        ("DEVAUTH_DEVICE_STARTS_PER_MINUTE", "0"),
        ("RUST_LOG", "warn"),
    ];
    let server = devauth_harness::process::ServerProcess::start(&db, &env);
    let claim = claim_body(SETUP_TOKEN, OWNER_EMAIL, "Ada", PASSWORD);
    let owner = server
        .remote
        .post_json("/api/setup/claim", None, &claim)
        .await
        .expect("the claim")
        .text("token");
    let examples = std::env::var("DEVAUTH_FUZZ_EXAMPLES").unwrap_or_else(|_| "10".into());
    let seed = std::env::var("DEVAUTH_FUZZ_SEED").unwrap_or_else(|_| "20261201".into());
    let url = server.url.clone();
    let work = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(schemathesis);
        command
            .arg("run")
            .arg(format!("{url}/openapi.json"))
            .args(["--checks", "not_a_server_error,response_schema_conformance"])
            .args(["--max-examples", &examples])
            .args(["--header", &format!("Authorization: Bearer {owner}")])
            .env("NO_COLOR", "1")
            // Its cache of crashes stays out of the checkout.
            .current_dir(&work);
        if seed != "random" {
            command.args(["--seed", &seed]);
        }
        command.output().expect("running schemathesis")
    })
    .await
    .expect("the campaign");
    let stopped = server.stop();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        stopped.log
    );
    let line = report
        .lines()
        .find(|l| l.contains(" generated, "))
        .unwrap_or_default();
    assert!(line.contains("passed"), "a summary of the cases: {report}");
    println!("schemathesis: {}", line.trim());
}
