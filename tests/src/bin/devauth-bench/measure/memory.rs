//! 5: the server's memory idle and under load, and the desktop app's start.

use super::*;

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
    let (guard, pid, url) = spawn_server(bin, &dir)?;
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
