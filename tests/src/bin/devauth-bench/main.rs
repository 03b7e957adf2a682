//! `devauth-bench`: the benchmark suite of issue 7 (`make bench`, which runs
//! `.ci/bench.sh`). One run measures, on this machine, side by side:
//!
//! 1. `GET /me` with a valid Bearer vs an axum hello-world in the same process;
//! 2. complete device flows per second on SQLite and PostgreSQL;
//! 3. approval → token at the client, `Prefer: wait` vs plain 5 s polling;
//! 4. `/me` with 1k, 100k and 1M tokens in the database;
//! 5. server RSS idle and under load; the desktop app's start and `.deb`;
//! 6. device authorizations/s and token polls/s vs node's `oidc-provider`;
//! 7. only when asked (`--only 7`, `make soak`): a soak of mixed traffic,
//!    p99 and RSS at its start and its end.
//!
//! Throughput runs use `wrk` on loopback; multi-step flows use Rust clients in
//! this process. Every loop is bounded in time and count. The table goes to
//! stdout and, with `--out`, to a Markdown file.

mod api;
mod measure;
mod report;
mod wrk;

use clap::Parser;
use report::Report;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Parser)]
#[command(
    name = "devauth-bench",
    about = "Measure devauth on this machine and print a results table (see `make bench`)"
)]
struct Args {
    /// Seconds of load per target in the side-by-side runs (split over --rounds, after a 1 s warm-up)
    #[arg(long, default_value_t = 12)]
    duration: u64,
    /// The same for the validation-cost runs (one target per size) and the RSS load
    #[arg(long, default_value_t = 6)]
    short_duration: u64,
    /// Rounds in which side-by-side targets take turns; values are medians over them
    #[arg(long, default_value_t = 6)]
    rounds: usize,
    /// Concurrent clients for complete device flows
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Most device flows started in one measured run
    #[arg(long, default_value_t = 200_000)]
    max_flows: u64,
    /// wrk threads
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// wrk connections
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Tokens in the database for the validation-cost runs
    #[arg(long, value_delimiter = ',', default_value = "1000,100000,1000000")]
    token_counts: Vec<u64>,
    /// Long-poll flows timed (approval → token)
    #[arg(long, default_value_t = 200)]
    long_poll_flows: usize,
    /// Plain-polling flows timed with the real 5 s interval (they run at once, ~5 s)
    #[arg(long, default_value_t = 20)]
    plain_poll_flows: usize,
    /// Long polls held open during the RSS-under-load run
    #[arg(long, default_value_t = 500)]
    held_polls: usize,
    /// Pending device codes cycled through by the token-poll runs (oidc-provider's
    /// in-memory adapter keeps only ~500 device codes)
    #[arg(long, default_value_t = 400)]
    pending_codes: usize,
    /// Directory holding node_modules/oidc-provider (`make bench` installs it)
    #[arg(long, env = "OIDC_PROVIDER_DIR")]
    oidc_dir: Option<PathBuf>,
    /// The oidc-provider start script
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/oidc-provider.mjs"))]
    oidc_script: PathBuf,
    #[arg(long, default_value = "node")]
    node: String,
    #[arg(long, default_value = "wrk")]
    wrk: String,
    /// The devauth-server binary for the RSS runs [default: next to this one]
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Also write the results (Markdown) here
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seconds of the soak (7)
    #[arg(long, default_value_t = 600)]
    soak_secs: u64,
    /// Run only these measurements (1-7), e.g. `--only 1,3`; 7, the soak, runs only when named
    #[arg(long, value_delimiter = ',')]
    only: Vec<u32>,
    /// A short run for trying the bench out (2 s runs, fewer tokens and flows)
    #[arg(long)]
    quick: bool,
}

/// What every measurement needs.
pub struct Ctx {
    pub wrk: wrk::Wrk,
    pub duration: Duration,
    pub short_duration: Duration,
    pub warmup: Duration,
    pub rounds: usize,
    pub concurrency: usize,
    pub max_flows: u64,
    pub token_counts: Vec<u64>,
    pub long_poll_flows: usize,
    pub plain_poll_flows: usize,
    pub held_polls: usize,
    pub pending_codes: usize,
    pub oidc_dir: Option<PathBuf>,
    pub oidc_script: PathBuf,
    pub node: String,
    pub server_bin: PathBuf,
    pub soak: Duration,
}

fn tool_version(program: &str, arg: &str) -> String {
    std::process::Command::new(program)
        .arg(arg)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "?".into())
}

fn git_revision() -> String {
    let rev = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    match rev {
        Some(rev) if dirty => format!("{rev} + local changes"),
        Some(rev) => rev,
        None => "unknown".into(),
    }
}

// The allocator the `devauth-server` binary ships with, so the in-process
// server is measured as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let code = match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("devauth-bench: {e}");
            2
        }
    };
    std::process::exit(code);
}

async fn run(args: Args) -> Res<i32> {
    let quick = args.quick;
    let server_bin = match args.server_bin {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .map(|dir| dir.join("devauth-server"))
            .unwrap_or_default(),
    };
    let ctx = Ctx {
        wrk: wrk::Wrk {
            program: args.wrk.clone(),
            threads: args.threads,
            connections: args.connections,
        },
        duration: Duration::from_secs(if quick { 2 } else { args.duration }),
        short_duration: Duration::from_secs(if quick { 2 } else { args.short_duration }),
        warmup: Duration::from_secs(1),
        rounds: if quick { 1 } else { args.rounds },
        concurrency: args.concurrency,
        max_flows: args.max_flows,
        token_counts: if quick {
            vec![1_000, 20_000]
        } else {
            args.token_counts.clone()
        },
        long_poll_flows: if quick { 40 } else { args.long_poll_flows },
        plain_poll_flows: if quick { 4 } else { args.plain_poll_flows },
        held_polls: if quick { 100 } else { args.held_polls },
        pending_codes: if quick { 100 } else { args.pending_codes },
        oidc_dir: args.oidc_dir.clone(),
        oidc_script: args.oidc_script.clone(),
        node: args.node.clone(),
        server_bin,
        soak: Duration::from_secs(if quick { 20 } else { args.soak_secs }),
    };
    // The soak (7) is long: it runs only when named.
    let wanted = |n: u32| (args.only.is_empty() && n <= 6) || args.only.contains(&n);
    if args.only.iter().any(|n| !(1..=7).contains(n)) {
        return Err("--only takes numbers from 1 to 7".into());
    }
    let wrk_version = wrk::version(&args.wrk)
        .ok_or_else(|| format!("`{}` not found: install wrk (make bench does)", args.wrk))?;
    let load_before = report::loadavg();
    let started = Instant::now();
    let started_at = devauth_server::clock::rfc3339(devauth_server::clock::Clock::now(
        &devauth_server::clock::SystemClock,
    ));
    let mut report = Report::default();

    // Each measurement is bounded as a whole too; a failure becomes a row.
    macro_rules! section {
        ($n:expr, $name:expr, $limit:expr, $body:expr) => {
            if wanted($n) {
                eprintln!("bench: {} ({})…", $n, $name);
                let t = Instant::now();
                match tokio::time::timeout(Duration::from_secs($limit), $body).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        report.errors += 1;
                        report.not_measured(&$n.to_string(), $name, format!("error: {e}"));
                    }
                    Err(_) => {
                        report.errors += 1;
                        report.not_measured(
                            &$n.to_string(),
                            $name,
                            format!("did not finish within {} s", $limit),
                        );
                    }
                }
                eprintln!("bench: {} took {:.0} s", $n, t.elapsed().as_secs_f64());
            }
        };
    }

    section!(1, "`/me` vs hello world", 120, async {
        measure::me_vs_hello(&ctx, &mut report).await
    });
    section!(2, "complete device flows", 120, async {
        measure::device_flows(&ctx, &mut report).await
    });
    section!(3, "approval → token latency", 120, async {
        measure::approval_latency(&ctx, &mut report).await
    });
    section!(4, "validation cost vs tokens stored", 300, async {
        measure::validation_at_scale(&ctx, &mut report).await
    });
    section!(5, "memory", 120, async {
        measure::memory(&ctx, &mut report).await
    });
    if wanted(5) {
        measure::desktop(&ctx, &mut report);
    }
    section!(6, "side by side with oidc-provider", 180, async {
        measure::versus_oidc_provider(&ctx, &mut report).await
    });
    section!(7, "soak", ctx.soak.as_secs() + 120, async {
        measure::soak(&ctx, &mut report).await
    });

    let node_line = match &ctx.oidc_dir {
        Some(dir) => format!(
            "oidc-provider {} on node {}",
            measure::oidc_provider_version(dir).unwrap_or_else(|| "?".into()),
            tool_version(&ctx.node, "--version")
        ),
        None => "oidc-provider not installed".into(),
    };
    let mut text = String::new();
    text.push_str("# devauth benchmark results\n\n");
    text.push_str(&format!(
        "`make bench` (`devauth-bench`{}), {started_at}, commit {}, {:.0} s.\n\n",
        if quick { " --quick" } else { "" },
        git_revision(),
        started.elapsed().as_secs_f64()
    ));
    text.push_str(&format!("- Machine: {}; 1-minute load average {load_before} before the run, {} after (the machine is shared: other builds may have been running).\n", report::machine(), report::loadavg()));
    text.push_str(&format!(
        "- Throughput: {wrk_version}, `-t{} -c{}`, on loopback. Each target gets a {} s warm-up, then {} s of load in {} rounds (the validation-cost sizes: 1 s rounds); targets compared side by side take turns round by round, and each value is the median over the rounds (so a burst of other work hits both sides alike). Device flows and latencies: Rust HTTP clients in the bench process ({} concurrent flows, {} s).\n",
        ctx.wrk.threads,
        ctx.wrk.connections,
        ctx.warmup.as_secs(),
        ctx.duration.as_secs(),
        ctx.rounds,
        ctx.concurrency,
        ctx.duration.as_secs()
    ));
    text.push_str(if cfg!(debug_assertions) {
        "- **Debug build: these numbers are not representative; `make bench` builds in release mode.**\n"
    } else {
        ""
    });
    text.push_str("- devauth: release build, in the bench process (the RSS rows run the `devauth-server` binary), wall clock, SQLite in a temporary file (WAL, `synchronous=NORMAL`); PostgreSQL 15 from `.ci/with-postgres.sh` (fsync off).\n");
    text.push_str(&format!(
        "- Comparison: {node_line}, its default in-memory adapter (one node process).\n\n"
    ));
    text.push_str(&report.table());
    if !report.notes.is_empty() {
        text.push('\n');
        for note in &report.notes {
            text.push_str(&format!("- {note}\n"));
        }
    }
    println!("{text}");
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, &text)?;
        eprintln!("bench: written to {}", out.display());
    }
    let failed = report.failures();
    if failed > 0 {
        eprintln!("bench: {failed} target(s) missed (see the table)");
    }
    if report.errors > 0 {
        eprintln!("bench: {} measurement(s) could not be made", report.errors);
        return Ok(1);
    }
    Ok(0)
}
