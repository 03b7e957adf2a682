//! 7 (only when asked: `--only 7`, `make soak`): a soak. Mixed traffic —
//! four `/me` per complete device flow, from `concurrency` clients — against
//! the `devauth-server` binary for `--soak-secs` (600), with RSS sampled every
//! second; p99 and RSS of the first and the last minute side by side, so a
//! leak or a slowdown that builds up shows.

use super::*;

/// One request's end, seconds into the soak, and how long it took, ms.
type Sample = (f64, f64);

pub async fn soak(ctx: &Ctx, report: &mut Report) -> Res<()> {
    let dir = TempDir::new();
    let (guard, pid, url) = spawn_server(&ctx.server_bin, &dir)?;
    let api = Api::new(&url)?;
    let owner = Arc::new(api.claim().await?);
    let token = Arc::new(api.device_flow(&owner).await?);
    let duration = ctx.soak;
    let window = (duration.as_secs_f64() / 4.0).min(60.0);
    let started = Instant::now();
    let rss = {
        let samples = Arc::new(std::sync::Mutex::new(Vec::<(f64, u64)>::new()));
        let kept = samples.clone();
        let sampler = std::thread::spawn(move || {
            while started.elapsed() < duration {
                if let Some(kib) = proc_kib(pid, "VmRSS") {
                    let at = started.elapsed().as_secs_f64();
                    kept.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((at, kib));
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        (samples, sampler)
    };
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..ctx.concurrency {
        let (api, owner, token) = (api.clone(), owner.clone(), token.clone());
        clients.spawn(async move {
            let mut samples: Vec<Sample> = Vec::new();
            let mut errors = 0u64;
            for i in 0u64.. {
                if started.elapsed() >= duration {
                    break;
                }
                let t = Instant::now();
                let ok = if i % 5 == 4 {
                    api.device_flow(&owner).await.is_ok()
                } else {
                    api.me(&token).await.is_ok()
                };
                if ok {
                    samples.push((
                        started.elapsed().as_secs_f64(),
                        t.elapsed().as_secs_f64() * 1e3,
                    ));
                } else {
                    errors += 1;
                }
            }
            (samples, errors)
        });
    }
    let mut samples: Vec<Sample> = Vec::new();
    let mut errors = 0;
    while let Some(done) = clients.join_next().await {
        let (mine, failed) = done?;
        samples.extend(mine);
        errors += failed;
    }
    let _ = rss.1.join();
    let rss = std::mem::take(&mut *rss.0.lock().unwrap_or_else(|e| e.into_inner()));
    drop(guard);

    let total = duration.as_secs_f64();
    let p99_between = |from: f64, to: f64| {
        let mut v: Vec<f64> = samples
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, ms)| *ms)
            .collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        (percentile(&v, 99.0), v.len() as f64 / (to - from))
    };
    let rss_between = |from: f64, to: f64| {
        rss.iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, kib)| *kib)
            .max()
            .unwrap_or(0)
    };
    let (p99_first, rate_first) = p99_between(0.0, window);
    let (p99_last, rate_last) = p99_between(total - window, total);
    let (rss_first, rss_last) = (rss_between(0.0, window), rss_between(total - window, total));
    let minutes = format!("{:.0} s", window);
    report.row(
        "7a",
        format!(
            "soak, {} of mixed traffic (4 `/me` per device flow, {} clients, server binary on SQLite): p99 and req/s, first {minutes} · last {minutes}",
            if total >= 120.0 {
                format!("{:.0} min", total / 60.0)
            } else {
                format!("{total:.0} s")
            },
            ctx.concurrency
        ),
        format!(
            "{} at {} req/s · {} at {} req/s ({} requests)",
            ms(p99_first),
            rate(rate_first),
            ms(p99_last),
            rate(rate_last),
            samples.len()
        ),
        "last ≤ 1.5 × first",
        Verdict::of(p99_last <= 1.5 * p99_first.max(1.0)),
    );
    report.row(
        "7b",
        format!("soak: server RSS, peak of the first {minutes} · of the last {minutes}"),
        format!("{} · {}", mib(rss_first), mib(rss_last)),
        "last ≤ 1.25 × first",
        Verdict::of(rss_last as f64 <= 1.25 * rss_first as f64),
    );
    report.row(
        "7c",
        "soak: failed requests",
        errors.to_string(),
        "0",
        Verdict::of(errors == 0),
    );
    Ok(())
}
