//! The six measurements of issue 7. Each adds its rows to the report; each
//! load loop is bounded in time and in count.

use crate::api::{Api, CLIENT, Devauth, Owner, SETUP_TOKEN, random_unit};
use crate::report::{Report, Verdict, ms, percentile, rate};
use crate::wrk::{Load, WrkResult};
use crate::{Ctx, Res};
use devauth_harness::{Backend, TempDir};
use devauth_server::secret::{sha256_hex, token_hint};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Runs wrk without taking a runtime worker away from the in-process servers.
fn wrk(ctx: &Ctx, base: &str, load: &Load<'_>, duration: Duration) -> Res<WrkResult> {
    tokio::task::block_in_place(|| ctx.wrk.run(base, load, duration))
}

/// Several wrk runs of one target; medians make the numbers robust to other
/// work on a shared machine.
#[derive(Default)]
pub struct Series {
    pub runs: Vec<WrkResult>,
}

impl Series {
    fn median(&self, f: impl Fn(&WrkResult) -> f64) -> f64 {
        let mut v: Vec<f64> = self.runs.iter().map(f).collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        percentile(&v, 50.0)
    }

    /// Median requests/s over the runs.
    pub fn rps(&self) -> f64 {
        self.median(WrkResult::rps)
    }

    /// Median requests/s with the expected answer (see [`WrkResult::good_rps`]).
    pub fn good_rps(&self, cycle: bool) -> f64 {
        self.median(|r| r.good_rps(cycle))
    }

    pub fn latency_text(&self) -> String {
        format!(
            "p50 {}, p99 {}",
            ms(self.median(|r| r.p50_ms)),
            ms(self.median(|r| r.p99_ms))
        )
    }

    fn sum(&self, f: impl Fn(&WrkResult) -> u64) -> u64 {
        self.runs.iter().map(f).sum()
    }

    /// Fails unless every request got a 2xx/3xx answer without socket errors.
    fn check_clean(&self, what: &str) -> Res<()> {
        let (status, socket) = (self.sum(|r| r.status_errors), self.sum(|r| r.socket_errors));
        if status > 0 || socket > 0 {
            return Err(format!(
                "{what}: {status} non-2xx answers and {socket} socket errors in {} requests",
                self.sum(|r| r.requests)
            )
            .into());
        }
        Ok(())
    }

    /// Fails unless every poll got a "still pending" answer.
    fn check_pending(&self, what: &str) -> Res<()> {
        let (other, socket) = (self.sum(|r| r.other_answers), self.sum(|r| r.socket_errors));
        if other > 0 || socket > 0 {
            return Err(format!(
                "{what}: {other} answers other than authorization_pending/slow_down and {socket} socket errors in {} polls",
                self.sum(|r| r.requests)
            )
            .into());
        }
        Ok(())
    }
}

/// Measures several targets under the same conditions: a warm-up run of
/// each, then `rounds` rounds that run each target in turn, so a burst of
/// other work on the machine hits all of them alike. Every target gets
/// `total` seconds in all (split over the rounds).
fn interleaved(
    ctx: &Ctx,
    targets: &[(&str, &Load<'_>)],
    total: Duration,
    rounds: usize,
) -> Res<Vec<Series>> {
    for (base, load) in targets {
        wrk(ctx, base, load, ctx.warmup)?;
    }
    let rounds = rounds.max(1);
    let each = Duration::from_secs((total.as_secs() / rounds as u64).max(1));
    let mut series: Vec<Series> = targets.iter().map(|_| Series::default()).collect();
    for _ in 0..rounds {
        for ((base, load), s) in targets.iter().zip(series.iter_mut()) {
            s.runs.push(wrk(ctx, base, load, each)?);
        }
    }
    Ok(series)
}

/// Calls `f` from `tasks` concurrent loops for `duration` (at most `max`
/// calls): returns (mean µs per call in one loop, calls per second in all).
async fn call_rate<F, Fut>(tasks: usize, duration: Duration, max: u64, f: F) -> Res<(f64, f64)>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let calls = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (f, calls, failures) = (f.clone(), calls.clone(), failures.clone());
        set.spawn(async move {
            while Instant::now() < deadline && calls.fetch_add(1, Ordering::Relaxed) < max {
                if !f().await {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let n = calls.load(Ordering::Relaxed).min(max) as f64;
    if failures.load(Ordering::Relaxed) > 0 {
        return Err(format!("{} of {n} calls failed", failures.load(Ordering::Relaxed)).into());
    }
    Ok((elapsed * 1e6 * tasks as f64 / n, n / elapsed))
}

// --- 1. /me vs hello world -------------------------------------------------

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

pub struct FlowStats {
    pub flows: usize,
    pub errors: u64,
    pub seconds: f64,
    pub latencies_ms: Vec<f64>,
    pub first_error: Option<String>,
}

impl FlowStats {
    pub fn per_second(&self) -> f64 {
        self.flows as f64 / self.seconds
    }
}

/// `concurrency` clients each doing authorize → approve (JSON API) → redeem
/// in a loop, until `duration` is up or `max_flows` were started.
pub async fn run_flows(
    api: &Api,
    owner: &Arc<Owner>,
    concurrency: usize,
    duration: Duration,
    max_flows: u64,
) -> FlowStats {
    let started = Instant::now();
    let deadline = started + duration;
    let begun = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let api = api.clone();
        let owner = owner.clone();
        let begun = begun.clone();
        set.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            while Instant::now() < deadline && begun.fetch_add(1, Ordering::Relaxed) < max_flows {
                let t = Instant::now();
                match tokio::time::timeout(Duration::from_secs(30), api.device_flow(&owner)).await {
                    Ok(Ok(_)) => latencies.push(t.elapsed().as_secs_f64() * 1e3),
                    Ok(Err(e)) => {
                        errors += 1;
                        first_error.get_or_insert(e.to_string());
                    }
                    Err(_) => {
                        errors += 1;
                        first_error.get_or_insert("a flow took over 30 s".to_string());
                    }
                }
            }
            (latencies, errors, first_error)
        });
    }
    let mut stats = FlowStats {
        flows: 0,
        errors: 0,
        seconds: 0.0,
        latencies_ms: Vec::new(),
        first_error: None,
    };
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((latencies, errors, first_error)) => {
                stats.latencies_ms.extend(latencies);
                stats.errors += errors;
                if stats.first_error.is_none() {
                    stats.first_error = first_error;
                }
            }
            Err(e) => {
                stats.errors += 1;
                stats.first_error.get_or_insert(e.to_string());
            }
        }
    }
    stats.seconds = started.elapsed().as_secs_f64();
    stats.flows = stats.latencies_ms.len();
    stats
        .latencies_ms
        .sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    stats
}

async fn flows_on(ctx: &Ctx, backend: Backend) -> Res<FlowStats> {
    let devauth = Devauth::start(backend).await?;
    let owner = Arc::new(devauth.api.claim().await?);
    // Warm-up: connections, statement caches, the approver's token in the cache.
    let _ = run_flows(&devauth.api, &owner, ctx.concurrency, ctx.warmup, 5_000).await;
    let stats = run_flows(
        &devauth.api,
        &owner,
        ctx.concurrency,
        ctx.duration,
        ctx.max_flows,
    )
    .await;
    devauth.stop().await;
    Ok(stats)
}

fn flow_value(s: &FlowStats) -> String {
    let failed = match &s.first_error {
        Some(e) => format!("; **{} flows failed**, first: {e}", s.errors),
        None => String::new(),
    };
    format!(
        "{} flows/s ({} flows in {:.1} s; per flow p50 {}, p99 {}{failed})",
        rate(s.per_second()),
        s.flows,
        s.seconds,
        ms(percentile(&s.latencies_ms, 50.0)),
        ms(percentile(&s.latencies_ms, 99.0))
    )
}

pub async fn device_flows(ctx: &Ctx, report: &mut Report) -> Res<()> {
    let what = format!(
        "complete device flows/s, SQLite (authorize → approve via JSON API → redeem; {} clients)",
        ctx.concurrency
    );
    match flows_on(ctx, Backend::Sqlite).await {
        Ok(s) => report.row(
            "2a",
            what,
            flow_value(&s),
            "≥ 500/s, none failing",
            Verdict::of(s.per_second() >= 500.0 && s.errors == 0),
        ),
        Err(e) => {
            report.errors += 1;
            report.not_measured("2a", what, e)
        }
    }
    let what = format!(
        "complete device flows/s, PostgreSQL ({} clients; throwaway cluster, fsync off)",
        ctx.concurrency
    );
    if devauth_harness::postgres_admin_url().is_none() {
        report.errors += 1;
        report.not_measured(
            "2b",
            what,
            "DEVAUTH_TEST_POSTGRES_URL is not set; `make bench` starts a PostgreSQL",
        );
        return Ok(());
    }
    match flows_on(ctx, Backend::Postgres).await {
        Ok(s) => {
            let verdict = Verdict::of(s.errors == 0);
            report.row("2b", what, flow_value(&s), "none failing", verdict)
        }
        Err(e) => {
            report.errors += 1;
            report.not_measured("2b", what, e)
        }
    }
    Ok(())
}

// --- 3. approval → token ---------------------------------------------------

/// One flow with a held poll: returns approval → token received, ms.
async fn one_long_poll(api: &Api, owner: &Owner) -> Res<f64> {
    let device = api.start_device(CLIENT).await?;
    let poller = api.clone();
    let code = device.device_code.clone();
    let poll =
        tokio::spawn(async move { poller.poll("/oauth/token", &code, CLIENT, Some(30)).await });
    // Let the poll reach the server and be held.
    tokio::time::sleep(Duration::from_millis(20 + (random_unit() * 80.0) as u64)).await;
    let approved = Instant::now();
    api.approve(owner, &device.user_code).await?;
    let reply = tokio::time::timeout(Duration::from_secs(35), poll)
        .await
        .map_err(|_| "a held poll did not answer within 35 s")???;
    if reply.status != 200 || !reply.preference_applied {
        return Err(format!(
            "held poll answered {} (Preference-Applied: {}): {}",
            reply.status, reply.preference_applied, reply.body
        )
        .into());
    }
    Ok(reply
        .received
        .saturating_duration_since(approved)
        .as_secs_f64()
        * 1e3)
}

/// One flow polled plainly every `interval` seconds, approved at a uniformly
/// random point of the first interval. Returns (approval → token ms, the
/// successful poll's round trip ms).
async fn one_plain_poll(api: &Api, owner: &Arc<Owner>) -> Res<(f64, f64)> {
    let device = api.start_device(CLIENT).await?;
    let first = Instant::now();
    let reply = api
        .poll("/oauth/token", &device.device_code, CLIENT, None)
        .await?;
    if reply.error() != "authorization_pending" {
        return Err(format!("first poll answered {}: {}", reply.status, reply.body).into());
    }
    let interval = Duration::from_secs(device.interval.max(1));
    let approve_at = first + interval.mul_f64(0.01 + 0.98 * random_unit());
    let approver = api.clone();
    let owner = owner.clone();
    let user_code = device.user_code.clone();
    let approval = tokio::spawn(async move {
        tokio::time::sleep_until(approve_at.into()).await;
        let at = Instant::now();
        approver.approve(&owner, &user_code).await.map(|_| at)
    });
    // Polls on the interval (plus a little, so none is early by the server's clock).
    for k in 1..=3u32 {
        tokio::time::sleep_until((first + interval * k + Duration::from_millis(30)).into()).await;
        let sent = Instant::now();
        let reply = api
            .poll("/oauth/token", &device.device_code, CLIENT, None)
            .await?;
        if reply.status == 200 {
            let approved = approval.await??;
            let latency = reply.received.saturating_duration_since(approved);
            let rtt = reply.received.saturating_duration_since(sent);
            return Ok((latency.as_secs_f64() * 1e3, rtt.as_secs_f64() * 1e3));
        }
        if reply.error() != "authorization_pending" {
            return Err(format!("poll answered {}: {}", reply.status, reply.body).into());
        }
    }
    Err("no token after three intervals".into())
}

pub async fn approval_latency(ctx: &Ctx, report: &mut Report) -> Res<()> {
    let devauth = Devauth::start(Backend::Sqlite).await?;
    let owner = Arc::new(devauth.api.claim().await?);
    let result = async {
        // Long polls: `long_poll_flows` flows, 8 at a time.
        let workers = 8usize;
        let per = ctx.long_poll_flows.div_ceil(workers);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let api = devauth.api.clone();
            let owner = owner.clone();
            set.spawn(async move {
                let mut out = Vec::new();
                for _ in 0..per {
                    out.push(one_long_poll(&api, &owner).await?);
                }
                Res::Ok(out)
            });
        }
        let mut long = Vec::new();
        while let Some(joined) = set.join_next().await {
            long.extend(joined??);
        }
        // Plain polling with the real 5 s interval: all flows at once, ~5 s.
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..ctx.plain_poll_flows {
            let api = devauth.api.clone();
            let owner = owner.clone();
            set.spawn(async move { one_plain_poll(&api, &owner).await });
        }
        let mut plain = Vec::new();
        let mut rtts = Vec::new();
        while let Some(joined) = set.join_next().await {
            let (latency, rtt) = joined??;
            plain.push(latency);
            rtts.push(rtt);
        }
        Res::Ok((long, plain, rtts))
    }
    .await;
    devauth.stop().await;
    let (mut long, mut plain, mut rtts) = result?;
    for v in [&mut long, &mut plain, &mut rtts] {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    }
    let p50 = percentile(&long, 50.0);
    report.row(
        "3a",
        format!(
            "approval → token at the client, `Prefer: wait=30` long poll (measured, {} flows)",
            long.len()
        ),
        format!("p50 {}, p99 {}", ms(p50), ms(percentile(&long, 99.0))),
        "p50 < 100 ms",
        Verdict::of(p50 < 100.0),
    );
    report.row(
        "3b",
        format!(
            "approval → token, plain polling every 5 s (measured, {} flows, approval at a uniformly random point of the interval)",
            plain.len()
        ),
        format!(
            "p50 {}, p99 {}",
            ms(percentile(&plain, 50.0)),
            ms(percentile(&plain, 99.0))
        ),
        "—",
        Verdict::None,
    );
    let rtt = percentile(&rtts, 50.0);
    report.row(
        "3c",
        "approval → token, plain polling every 5 s (computed: uniform wait over the 5 s interval + measured poll round trip)",
        format!(
            "p50 {}, p99 {} (2.5 s / 4.95 s + {})",
            ms(2500.0 + rtt),
            ms(4950.0 + rtt),
            ms(rtt)
        ),
        "—",
        Verdict::None,
    );
    Ok(())
}

// --- 4. validation cost vs. tokens in the database -------------------------

/// The `i`-th bulk token of a run: `dva_` + 64 hex, like real ones.
fn bulk_token(seed: &str, i: u64) -> String {
    format!("dva_{}", sha256_hex(&format!("{seed}:{i}")))
}

/// Inserts bulk tokens `0..count` in one transaction: generated, hashed,
/// sorted by hash (so both indexes grow at their end), then written with
/// 100-row prepared INSERTs. (Few parameters per statement: sqlx looks each
/// one up by position, which costs time linear in their number.)
async fn insert_tokens(
    pool: &sqlx::SqlitePool,
    seed: &str,
    user_id: &str,
    org_id: &str,
    count: u64,
    now: i64,
) -> Res<()> {
    const ROWS: usize = 100;
    let mut rows: Vec<(String, String)> = (0..count)
        .map(|n| {
            let token = bulk_token(seed, n);
            (sha256_hex(&token), token_hint(&token))
        })
        .collect();
    rows.sort_unstable();
    // ?1..?4 are the same for every row: user, org, created, expires.
    let insert = |n: usize| {
        let mut sql = String::from(
            "INSERT INTO tokens (id, hash, hint, name, kind, user_id, org_id, created_at, expires_at) VALUES ",
        );
        for i in 0..n {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(?{}, ?{}, ?{}, 'bench token', 'personal', ?1, ?2, ?3, ?4)",
                5 + 3 * i,
                6 + 3 * i,
                7 + 3 * i
            ));
        }
        sql
    };
    let full = insert(ROWS);
    let mut tx = pool.begin().await?;
    for (chunk_no, chunk) in rows.chunks(ROWS).enumerate() {
        let sql;
        let mut query = sqlx::query(if chunk.len() == ROWS {
            &full
        } else {
            sql = insert(chunk.len());
            &sql
        })
        .bind(user_id)
        .bind(org_id)
        .bind(now)
        .bind(now + 90 * 86_400);
        for (i, (hash, hint)) in chunk.iter().enumerate() {
            query = query
                .bind(format!("bench-{seed}-{:08}", chunk_no * ROWS + i))
                .bind(hash)
                .bind(hint);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Mean time of `store.token_by_hash` (the database path, no cache) for
/// random bulk tokens, µs.
async fn uncached_lookup_us(devauth: &Devauth, seed: &str, have: u64, n: usize) -> Res<f64> {
    let store = devauth.server.state.store.clone();
    let hashes: Vec<String> = (0..n)
        .map(|_| {
            let i = (random_unit() * have as f64) as u64;
            sha256_hex(&bulk_token(seed, i.min(have.saturating_sub(1))))
        })
        .collect();
    let started = Instant::now();
    let mut found = 0usize;
    for hash in &hashes {
        if store.token_by_hash(hash).await?.is_some() {
            found += 1;
        }
    }
    let elapsed = started.elapsed();
    if found != n {
        return Err(format!("only {found} of {n} bulk tokens found").into());
    }
    Ok(elapsed.as_secs_f64() * 1e6 / n as f64)
}

/// A server whose database holds `total` tokens, one of them `token` (real, device flow).
struct Stocked {
    devauth: Devauth,
    token: String,
    seed: String,
    bulk: u64,
    total: u64,
    insert_secs: f64,
}

async fn stocked_server(tokens: u64) -> Res<Stocked> {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
    use std::str::FromStr;
    // A fresh server makes the owner, the org and one real device token...
    let devauth = Devauth::start(Backend::Sqlite).await?;
    let owner = devauth.api.claim().await?;
    let token = devauth.api.device_flow(&owner).await?;
    let me = devauth.api.me(&token).await?;
    let database_url = devauth.database_url.clone();
    let dir = devauth.stop_keeping_database().await;
    let user_id = me.user.map(|u| u.id.into_owned()).unwrap_or_default();
    let org_id = me.org.id.into_owned();
    // ...then, with the server stopped, the bulk rows go in (no sync: this is
    // a throwaway file)...
    let seed = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let options = SqliteConnectOptions::from_str(&database_url)?
        .synchronous(SqliteSynchronous::Off)
        .busy_timeout(Duration::from_secs(30))
        .pragma("cache_size", "-262144");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let result = async {
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(&pool)
            .await?;
        let bulk = tokens.saturating_sub(existing.max(0) as u64);
        let started = Instant::now();
        let now = devauth_server::clock::Clock::now(&devauth_server::clock::SystemClock);
        insert_tokens(&pool, &seed, &user_id, &org_id, bulk, now).await?;
        // Fold the WAL into the database now rather than under the measurement.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&pool)
            .await?;
        let insert_secs = started.elapsed().as_secs_f64();
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(&pool)
            .await?;
        Res::Ok((bulk, total.max(0) as u64, insert_secs))
    }
    .await;
    pool.close().await;
    let (bulk, total, insert_secs) = result?;
    // ...and the server starts again on that database (WAL, as always).
    let devauth = Devauth::start_on(database_url, dir).await?;
    devauth.api.me(&token).await?;
    Ok(Stocked {
        devauth,
        token,
        seed,
        bulk,
        total,
        insert_secs,
    })
}

pub async fn validation_at_scale(ctx: &Ctx, report: &mut Report) -> Res<()> {
    // One server per size, all up at once, measured in interleaved rounds.
    let mut servers: Vec<Stocked> = Vec::new();
    let mut failure = None;
    for &tokens in &ctx.token_counts {
        match stocked_server(tokens).await {
            Ok(s) => servers.push(s),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let outcome = async {
        if let Some(e) = failure {
            return Err(e);
        }
        let loads: Vec<Load<'_>> = servers
            .iter()
            .map(|s| Load::Get {
                path: "/me",
                headers: vec![format!("Authorization: Bearer {}", s.token)],
            })
            .collect();
        let targets: Vec<(&str, &Load<'_>)> = servers
            .iter()
            .zip(loads.iter())
            .map(|(s, l)| (s.devauth.api.base.as_str(), l))
            .collect();
        // One-second runs: the sizes alternate quickly, so drifting load on a
        // shared machine spreads evenly over them.
        let rounds = ctx.short_duration.as_secs() as usize;
        let series = interleaved(ctx, &targets, ctx.short_duration, rounds)?;
        // Database lookups: 3 interleaved rounds of 2,000 per size; the
        // fastest round counts (other work on the machine only slows rounds down).
        let mut uncached = vec![f64::INFINITY; servers.len()];
        for _ in 0..3 {
            for (s, best) in servers.iter().zip(uncached.iter_mut()) {
                let us = uncached_lookup_us(&s.devauth, &s.seed, s.bulk.max(1), 2_000).await?;
                *best = best.min(us);
            }
        }
        Res::Ok((series, uncached))
    }
    .await;
    let sizes: Vec<(u64, u64, f64)> = servers
        .iter()
        .map(|s| (s.total, s.bulk, s.insert_secs))
        .collect();
    for s in servers {
        s.devauth.stop().await;
    }
    let (series, uncached) = outcome?;
    for s in &series {
        s.check_clean("/me")?;
    }
    let labels = ["4a", "4b", "4c", "4d", "4e", "4f"];
    for (n, ((total, _, _), s)) in sizes.iter().zip(series.iter()).enumerate() {
        report.row(
            labels.get(n).copied().unwrap_or("4"),
            format!(
                "`GET /me` with {} tokens in the database (SQLite; median of {} runs, interleaved)",
                rate(*total as f64),
                s.runs.len()
            ),
            format!("{} req/s ({})", rate(s.rps()), s.latency_text()),
            "—",
            Verdict::None,
        );
    }
    if let (Some(small), Some(large), Some(us), Some(ul)) = (
        sizes.first().zip(series.first()),
        sizes.last().zip(series.last()),
        uncached.first(),
        uncached.last(),
    ) {
        let ratio = small.1.rps() / large.1.rps();
        report.row(
            "4r",
            format!(
                "validation cost ratio, {} ÷ {} tokens (time per `/me`)",
                rate(large.0.0 as f64),
                rate(small.0.0 as f64)
            ),
            format!("{ratio:.2}"),
            "≤ 1.20",
            Verdict::of(ratio <= 1.2),
        );
        report.row(
            "4u",
            "for comparison, a database lookup (`Store::token_by_hash`, random stored tokens, no cache; best of 3 rounds)",
            format!(
                "{us:.0} µs at {} → {ul:.0} µs at {} (ratio {:.2})",
                rate(small.0.0 as f64),
                rate(large.0.0 as f64),
                ul / us
            ),
            "—",
            Verdict::None,
        );
        let inserted: u64 = sizes.iter().map(|s| s.1).sum();
        let largest = sizes.last().map(|s| (s.1, s.2)).unwrap_or_default();
        report.note(format!(
            "4: {} bulk tokens (`dva_` + 64 hex, stored as SHA-256 like real ones) inserted with 100-row prepared INSERTs in one transaction per database, sorted by hash, while its server was stopped; the {}-token database took {:.1} s.",
            rate(inserted as f64),
            rate(largest.0 as f64),
            largest.1
        ));
    }
    Ok(())
}

// --- 5. memory; the desktop app ----------------------------------------------

/// A child process killed (and reaped) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to `timeout` for a stdout line starting with `listening on `; returns the URL.
fn wait_listening(child: &mut Child, timeout: Duration) -> Res<String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    Ok(rx
        .recv_timeout(timeout)
        .map_err(|_| format!("no `listening on` line within {}s", timeout.as_secs()))?)
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub async fn memory(ctx: &Ctx, report: &mut Report) -> Res<()> {
    let bin = &ctx.server_bin;
    if !bin.exists() {
        report.errors += 1;
        for (id, what) in [("5a", "server RSS, idle"), ("5b", "server RSS under load")] {
            report.not_measured(id, what, format!("{} is missing", bin.display()));
        }
        return Ok(());
    }
    let dir = TempDir::new();
    let child = Command::new(bin)
        .arg("serve")
        .env(
            "DEVAUTH_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("devauth.db").display()),
        )
        .env("DEVAUTH_ADDR", "127.0.0.1:0")
        .env("DEVAUTH_SETUP_TOKEN", SETUP_TOKEN)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let mut guard = Guard(child);
    let pid = guard.0.id();
    let url = wait_listening(&mut guard.0, Duration::from_secs(30))?;
    let api = Api::new(&url)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = proc_kib(pid, "VmRSS").ok_or("cannot read VmRSS")?;

    let owner = Arc::new(api.claim().await?);
    let token = api.device_flow(&owner).await?;
    // Held long polls, as many devices waiting for approval would.
    let mut held = tokio::task::JoinSet::new();
    for _ in 0..ctx.held_polls {
        let device = api.start_device(CLIENT).await?;
        let api = api.clone();
        held.spawn(async move {
            let _ = api
                .poll("/oauth/token", &device.device_code, CLIENT, Some(30))
                .await;
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let peak = peak.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = proc_kib(pid, "VmRSS") {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let me_load = Load::Get {
        path: "/me",
        headers: vec![format!("Authorization: Bearer {token}")],
    };
    let load = wrk(ctx, &url, &me_load, ctx.short_duration);
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    held.abort_all();
    while held.join_next().await.is_some() {}
    let load = Series { runs: vec![load?] };
    load.check_clean("/me")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = proc_kib(pid, "VmRSS").unwrap_or(0);
    drop(guard);

    report.row(
        "5a",
        "server RSS, idle after start (`devauth-server serve`, SQLite)",
        mib(idle),
        "—",
        Verdict::None,
    );
    report.row(
        "5b",
        format!(
            "server RSS under load (peak while serving `/me` at {} req/s over {} connections, with {} long polls held)",
            rate(load.rps()),
            ctx.wrk.connections,
            ctx.held_polls
        ),
        mib(peak.load(Ordering::Relaxed)),
        "—",
        Verdict::None,
    );
    report.row(
        "5c",
        "server RSS, idle again 2 s after the load",
        mib(after),
        "—",
        Verdict::None,
    );
    Ok(())
}

pub fn desktop(ctx: &Ctx, report: &mut Report) {
    let release = ctx
        .server_bin
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let app = release.join("devauth-desktop");
    let debs: Vec<PathBuf> = std::fs::read_dir(release.join("bundle/deb"))
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "deb"))
                .collect()
        })
        .unwrap_or_default();
    let what = "desktop app cold start → window viewable (first run, fresh data dirs; proxy for first paint)";
    if app.exists() {
        match window_probe(&app) {
            Ok(ms_taken) => report.row("5d", what, ms(ms_taken), "—", Verdict::None),
            Err(why) => report.not_measured("5d", what, why),
        }
    } else {
        report.not_measured(
            "5d",
            what,
            format!(
                "{} is not built; `make bench` does not build the Tauri app",
                app.display()
            ),
        );
    }
    match debs.first() {
        Some(deb) => {
            let size = std::fs::metadata(deb).map(|m| m.len()).unwrap_or(0);
            report.row(
                "5e",
                format!(
                    "`.deb` size ({})",
                    deb.file_name().unwrap_or_default().to_string_lossy()
                ),
                format!("{:.1} MiB", size as f64 / 1024.0 / 1024.0),
                "—",
                Verdict::None,
            );
        }
        None => report.not_measured(
            "5e",
            "`.deb` size",
            format!(
                "no {}/bundle/deb/*.deb; the Tauri bundle is built separately",
                release.display()
            ),
        ),
    }
}

/// Starts the app on a fresh profile under the current X display and times
/// until `xwininfo` reports its window (title `devauth`) viewable.
fn window_probe(app: &Path) -> Result<f64, String> {
    if std::env::var_os("DISPLAY").is_none() {
        return Err("no X display; .ci/bench.sh runs it under .ci/with-desktop-session.sh when the app is built".into());
    }
    // A second try (again on a fresh profile) when the first start fails.
    match start_until_window(app) {
        Ok(ms) => Ok(ms),
        Err(first) => start_until_window(app).map_err(|second| {
            if first == second {
                first
            } else {
                format!("{first}; again: {second}")
            }
        }),
    }
}

fn start_until_window(app: &Path) -> Result<f64, String> {
    let viewable = || {
        Command::new("xwininfo")
            .args(["-name", "devauth"])
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("IsViewable"))
    };
    match viewable() {
        Err(e) => return Err(format!("cannot run xwininfo: {e}")),
        Ok(true) => return Err("a devauth window is already open".into()),
        Ok(false) => {}
    }
    let profile = TempDir::new();
    let mut cmd = Command::new(app);
    for (var, sub) in [
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
    ] {
        let dir = profile.path().join(sub);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        cmd.env(var, dir);
    }
    let log = profile.path().join("stderr.log");
    let stderr = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", app.display()))?;
    let mut guard = Guard(child);
    while started.elapsed() < Duration::from_secs(30) {
        if viewable().unwrap_or(false) {
            return Ok(started.elapsed().as_secs_f64() * 1e3);
        }
        if let Ok(Some(status)) = guard.0.try_wait() {
            // The panic message, if any, says why.
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let why = text
                .lines()
                .skip_while(|l| !l.contains("panicked"))
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            return Err(format!(
                "the app exited ({status}) before showing a window{}",
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {}", why.chars().take(200).collect::<String>())
                }
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err("no window within 30 s".into())
}

// --- 6. side by side with node's oidc-provider -----------------------------

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
