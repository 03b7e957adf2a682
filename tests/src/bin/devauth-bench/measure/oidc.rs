//! 6: devauth side by side with node's oidc-provider.

use super::*;

/// The oidc-provider version installed in `dir`.
pub fn oidc_provider_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("node_modules/oidc-provider/package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["version"].as_str().map(str::to_string)
}

fn start_oidc_provider(ctx: &Ctx, dir: &Path) -> Res<(Guard, String)> {
    let child = Command::new(&ctx.node)
        .arg(&ctx.oidc_script)
        .arg("0")
        .env("OIDC_PROVIDER_DIR", dir)
        .env("NODE_ENV", "production")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", ctx.node))?;
    let mut guard = Guard(child);
    let url = wait_listening(&mut guard.0, Duration::from_secs(30))?;
    Ok((guard, url))
}

/// `n` pending device codes, as form bodies for polling.
async fn pending_bodies(api: &Api, auth_path: &str, client_id: &str, n: usize) -> Res<Vec<String>> {
    let mut bodies = Vec::with_capacity(n);
    for _ in 0..n {
        let response = api
            .http
            .post(format!("{}{auth_path}", api.base))
            .form(&[("client_id", client_id)])
            .send()
            .await?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await?;
        let code = body["device_code"]
            .as_str()
            .filter(|_| status == 200)
            .ok_or_else(|| format!("{auth_path} answered {status}: {body}"))?;
        bodies.push(form_body(&[
            ("grant_type", devauth_harness::DEVICE_GRANT),
            ("device_code", code),
            ("client_id", client_id),
        ]));
    }
    Ok(bodies)
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn versus_oidc_provider(ctx: &Ctx, report: &mut Report) -> Res<()> {
    let Some(dir) = ctx.oidc_dir.clone() else {
        report.errors += 1;
        report.not_measured(
            "6",
            "side by side with oidc-provider",
            "OIDC_PROVIDER_DIR is not set; `make bench` installs oidc-provider",
        );
        return Ok(());
    };
    let version = oidc_provider_version(&dir).unwrap_or_else(|| "?".into());
    let devauth = Devauth::start(Backend::Sqlite).await?;
    let (node, node_url) = match start_oidc_provider(ctx, &dir) {
        Ok(started) => started,
        Err(e) => {
            devauth.stop().await;
            return Err(e);
        }
    };
    let outcome = async {
        let oidc_api = Api::new(&node_url)?;
        let d_auth = Load::PostForm {
            path: "/oauth/device_authorization",
            body: form_body(&[("client_id", CLIENT), ("device_name", "bench device")]),
        };
        let o_auth = Load::PostForm {
            path: "/device/auth",
            body: form_body(&[("client_id", "bench-cli")]),
        };
        let auth = interleaved(
            ctx,
            &[(&devauth.api.base, &d_auth), (&node_url, &o_auth)],
            ctx.duration,
            ctx.rounds,
        )?;
        auth[0].check_clean("devauth /oauth/device_authorization")?;
        auth[1].check_clean("oidc-provider /device/auth")?;
        // Pending codes made after the runs above: oidc-provider's in-memory
        // adapter keeps its last 1000 entries (two per device code).
        let d_bodies = pending_bodies(
            &devauth.api,
            "/oauth/device_authorization",
            CLIENT,
            ctx.pending_codes,
        )
        .await?;
        let o_bodies =
            pending_bodies(&oidc_api, "/device/auth", "bench-cli", ctx.pending_codes).await?;
        let d_polls = Load::PostFormCycle {
            path: "/oauth/token",
            bodies: &d_bodies,
        };
        let o_polls = Load::PostFormCycle {
            path: "/token",
            bodies: &o_bodies,
        };
        let polls = interleaved(
            ctx,
            &[(&devauth.api.base, &d_polls), (&node_url, &o_polls)],
            ctx.duration,
            ctx.rounds,
        )?;
        polls[0].check_pending("devauth /oauth/token")?;
        polls[1].check_pending("oidc-provider /token")?;
        Res::Ok((auth, polls))
    }
    .await;
    let node_peak = proc_kib(node.0.id(), "VmHWM");
    drop(node);
    devauth.stop().await;
    let (auth, polls) = outcome?;
    let name = format!("oidc-provider {version}");
    let runs = format!("median of {} runs, interleaved", auth[0].runs.len());
    report.row(
        "6a",
        format!(
            "device authorizations/s, devauth (durable SQLite: row + audit event per request; {runs})"
        ),
        format!("{} /s ({})", rate(auth[0].rps()), auth[0].latency_text()),
        "—",
        Verdict::None,
    );
    report.row(
        "6b",
        format!("device authorizations/s, {name} (in-memory adapter)"),
        format!("{} /s ({})", rate(auth[1].rps()), auth[1].latency_text()),
        "—",
        Verdict::None,
    );
    let ratio = auth[0].rps() / auth[1].rps();
    report.row(
        "6c",
        "device authorizations/s, devauth ÷ oidc-provider",
        format!("{ratio:.2}"),
        "> 1 (devauth ahead)",
        Verdict::of(ratio > 1.0),
    );
    let (dp, op) = (polls[0].good_rps(true), polls[1].good_rps(true));
    report.row(
        "6d",
        format!(
            "token polls/s for pending codes, devauth ({} codes cycled; every answer a 400 `authorization_pending` or `slow_down`, each poll recorded in SQLite)",
            ctx.pending_codes
        ),
        format!("{} /s ({})", rate(dp), polls[0].latency_text()),
        "—",
        Verdict::None,
    );
    report.row(
        "6e",
        format!("token polls/s for pending codes, {name}"),
        format!("{} /s ({})", rate(op), polls[1].latency_text()),
        "—",
        Verdict::None,
    );
    let ratio = dp / op;
    report.row(
        "6f",
        "token polls/s, devauth ÷ oidc-provider",
        format!("{ratio:.2}"),
        "> 1 (devauth ahead)",
        Verdict::of(ratio > 1.0),
    );
    if let Some(kib) = node_peak {
        report.note(format!(
            "6: oidc-provider's node process peaked at {} RSS (compare 5b).",
            mib(kib)
        ));
    }
    Ok(())
}
