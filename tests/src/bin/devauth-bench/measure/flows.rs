//! 2 and 3: complete device flows per second on both backends, and the
//! latency from approval to token (long poll and plain polling).

use super::*;

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
