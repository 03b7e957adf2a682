//! 1: `/me` against an axum hello world, and where its time goes.

use super::*;

pub async fn me_vs_hello(ctx: &Ctx, report: &mut Report) -> Res<()> {
    let devauth = Devauth::start(Backend::Sqlite).await?;
    let owner = devauth.api.claim().await?;
    let token = devauth.api.device_flow(&owner).await?;
    devauth.api.me(&token).await?;

    // `/me`'s exact answer (headers and body) as a static response: what
    // the same bytes cost wrk and the kernel without devauth's work.
    let (me_head, me_body) = devauth.api.me_raw(&token).await?;
    let me_bytes = me_body.len()
        + me_head
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hello_url = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "Hello, World!" }))
        .route(
            "/same-bytes",
            axum::routing::get(move || {
                let (head, body) = (me_head.clone(), me_body.clone());
                async move {
                    let mut response = axum::response::Response::new(axum::body::Body::from(body));
                    response.headers_mut().extend(head);
                    response
                }
            }),
        );
    let hello = tokio::spawn(async move { axum::serve(listener, app).await });
    let same_load = Load::Get {
        path: "/same-bytes",
        headers: Vec::new(),
    };

    let hello_load = Load::Get {
        path: "/hello",
        headers: Vec::new(),
    };
    let me_load = Load::Get {
        path: "/me",
        headers: vec![format!("Authorization: Bearer {token}")],
    };
    let result = interleaved(
        ctx,
        &[
            (&hello_url, &hello_load),
            (&devauth.api.base, &me_load),
            (&hello_url, &same_load),
        ],
        ctx.duration,
        ctx.rounds,
    );
    hello.abort();
    // Where the time of a validation goes, without HTTP.
    let state = devauth.server.state.clone();
    let meta = devauth_server::model::RequestMeta {
        ip: Some("127.0.0.1".into()),
        ..Default::default()
    };
    let auth = {
        let (state, token, meta) = (state.clone(), token.clone(), meta.clone());
        move || {
            let (state, token, meta) = (state.clone(), token.clone(), meta.clone());
            async move {
                devauth_server::auth::authenticate(&state, Some(&token), &meta)
                    .await
                    .is_ok()
            }
        }
    };
    let generation = {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move { state.store.generation().await.is_ok() }
        }
    };
    // The same three requests through the routers alone: no sockets, one task.
    let in_router = {
        let hello_app =
            axum::Router::new().route("/hello", axum::routing::get(|| async { "Hello, World!" }));
        let devauth_app = devauth_server::app(state.clone());
        let bearer = format!("Bearer {token}");
        let per_call = |app: axum::Router, path: &'static str, auth: Option<String>| async move {
            use tower::ServiceExt;
            let calls = 200_000u32;
            let started = Instant::now();
            for _ in 0..calls {
                let mut req = axum::http::Request::get(path);
                if let Some(auth) = &auth {
                    req = req.header("authorization", auth.as_str());
                }
                let req = req.body(axum::body::Body::empty())?;
                let res = app.clone().oneshot(req).await?;
                if !res.status().is_success() {
                    return Err(format!("{path}: {}", res.status()).into());
                }
                axum::body::to_bytes(res.into_body(), 64 * 1024).await?;
            }
            Res::Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(calls))
        };
        async {
            Res::Ok((
                per_call(hello_app, "/hello", None).await?,
                per_call(devauth_app.clone(), "/healthz", None).await?,
                per_call(devauth_app, "/me", Some(bearer)).await?,
            ))
        }
        .await
    };
    let second = Duration::from_secs(1);
    let diagnostics = async {
        Res::Ok((
            call_rate(1, second, 100_000, auth.clone()).await?,
            call_rate(64, second, 1_000_000, auth).await?,
            call_rate(1, second, 100_000, generation.clone()).await?,
            call_rate(64, second, 1_000_000, generation).await?,
        ))
    }
    .await;
    devauth.stop().await;
    let series = result?;
    let (h, m, same) = (&series[0], &series[1], &series[2]);
    h.check_clean("/hello")?;
    m.check_clean("/me")?;
    same.check_clean("/same-bytes")?;
    let runs = format!("median of {} runs", h.runs.len());
    report.row(
        "1a",
        format!("axum hello world `GET /hello`, same process ({runs})"),
        format!("{} req/s ({})", rate(h.rps()), h.latency_text()),
        "—",
        Verdict::None,
    );
    report.row(
        "1b",
        format!("`GET /me` with a valid Bearer ({runs}, interleaved with 1a)"),
        format!("{} req/s ({})", rate(m.rps()), m.latency_text()),
        "—",
        Verdict::None,
    );
    let ratio = m.rps() / h.rps();
    report.row(
        "1c",
        "`/me` ÷ hello world (req/s)",
        format!("{ratio:.2}"),
        "≥ 0.70",
        Verdict::of(ratio >= 0.7),
    );
    match diagnostics {
        Ok(((auth_us, _), (_, auth_rate), (gen_us, _), (_, gen_rate))) => {
            report.row(
                "1d",
                "diagnosis: `auth::authenticate` alone (cached token, no HTTP)",
                format!(
                    "{auth_us:.1} µs per call; {} calls/s from 64 tasks",
                    rate(auth_rate)
                ),
                "—",
                Verdict::None,
            );
            report.row(
                "1e",
                "diagnosis: `Store::generation` alone (the SQLite change check every validation makes)",
                format!(
                    "{gen_us:.1} µs per call; {} calls/s from 64 tasks",
                    rate(gen_rate)
                ),
                "—",
                Verdict::None,
            );
        }
        Err(e) => report.not_measured("1d", "diagnosis: `auth::authenticate` alone", e),
    }
    match in_router {
        Ok((hello_us, healthz_us, me_us)) => report.row(
            "1f",
            "diagnosis: one request through the router alone, no sockets (hello world · devauth `/healthz` · devauth `/me`)",
            format!("{hello_us:.1} µs · {healthz_us:.1} µs · {me_us:.1} µs"),
            "—",
            Verdict::None,
        ),
        Err(e) => report.not_measured("1f", "diagnosis: one request through the router alone", e),
    }
    report.row(
        "1g",
        format!(
            "diagnosis: hello world answering with `/me`'s exact headers and body ({me_bytes} bytes; {runs}, interleaved with 1a–1b) · `/me` ÷ that"
        ),
        format!(
            "{} req/s ({}) · {:.2}",
            rate(same.rps()),
            same.latency_text(),
            m.rps() / same.rps()
        ),
        "—",
        Verdict::None,
    );
    Ok(())
}

// --- 2. complete device flows ----------------------------------------------
