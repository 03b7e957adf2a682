//! The six measurements, a module each, and what they share: wrk runs,
//! interleaved series, call rates, child processes. Each adds its rows to the
//! report; each load loop is bounded in time and in count.

mod flows;
mod me;
mod memory;
mod oidc;
mod scale;
mod soak;

pub use flows::{approval_latency, device_flows};
pub use me::me_vs_hello;
pub use memory::{desktop, memory};
pub use oidc::{oidc_provider_version, versus_oidc_provider};
pub use scale::validation_at_scale;
pub use soak::soak;

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

/// A child process killed (and reaped) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to `timeout` for a stdout line starting with `listening on `; returns the URL.
/// The `devauth-server` binary on a fresh SQLite file in `dir`, with the
/// limits a load from one address would hit raised: the guard, pid and URL.
fn spawn_server(bin: &Path, dir: &TempDir) -> Res<(Guard, u32, String)> {
    let child = Command::new(bin)
        .arg("serve")
        .env(
            "DEVAUTH_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("devauth.db").display()),
        )
        .env("DEVAUTH_ADDR", "127.0.0.1:0")
        .env("DEVAUTH_SETUP_TOKEN", SETUP_TOKEN)
        .env("RUST_LOG", "warn")
        .env("DEVAUTH_DEVICE_STARTS_PER_MINUTE", "1000000000")
        // Every long poll of the load comes from 127.0.0.1.
        .env("DEVAUTH_MAX_WAITS_PER_ADDRESS", "100000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let mut guard = Guard(child);
    let pid = guard.0.id();
    let url = wait_listening(&mut guard.0, Duration::from_secs(30))?;
    Ok((guard, pid, url))
}

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
