//! Driving `wrk` (the HTTP load generator, a separate process) and reading
//! its results. Every run is bounded: wrk stops itself after `-d`, and is
//! killed if it has not finished a few seconds later.
//!
//! Results come from a generated Lua script's `done()` hook, which prints one
//! `WRK_RESULT k=v …` line with exact counts and latency percentiles (µs), so
//! nothing depends on wrk's human-readable summary.

use crate::Res;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What each connection sends.
pub enum Load<'a> {
    /// `GET path` with extra headers.
    Get { path: &'a str, headers: Vec<String> },
    /// The same form-encoded `POST` every time.
    PostForm { path: &'a str, body: String },
    /// Form-encoded `POST`s cycling through `bodies` (one per line of a file),
    /// counting RFC 8628 "still pending" answers (400 with
    /// `authorization_pending` or `slow_down`) apart from every other answer.
    PostFormCycle { path: &'a str, bodies: &'a [String] },
}

#[derive(Debug, Clone, Default)]
pub struct WrkResult {
    pub requests: u64,
    pub seconds: f64,
    /// Non-2xx/3xx answers.
    pub status_errors: u64,
    /// connect + read + write + timeout errors.
    pub socket_errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// For [`Load::PostFormCycle`]: "still pending" answers, and any other answers.
    pub pending_answers: u64,
    pub other_answers: u64,
}

impl WrkResult {
    pub fn rps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Requests per second that got the expected kind of answer: 2xx/3xx for
    /// [`Load::Get`] and [`Load::PostForm`], "still pending" for [`Load::PostFormCycle`].
    pub fn good_rps(&self, cycle: bool) -> f64 {
        if self.seconds <= 0.0 {
            return 0.0;
        }
        let good = if cycle {
            self.pending_answers
        } else {
            self.requests.saturating_sub(self.status_errors)
        };
        good as f64 / self.seconds
    }
}

pub struct Wrk {
    pub program: String,
    pub threads: u32,
    pub connections: u32,
}

fn lua_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b}"));
                }
            }
        }
    }
    out.push('"');
    out
}

const DONE: &str = r#"
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  -- Where this thread starts in a cycled body list (read by init below).
  thread:set("offset", #threads * 7919)
end
done = function(summary, latency, requests)
  local c400, other = 0, 0
  for _, t in ipairs(threads) do
    c400 = c400 + (t:get("c400") or 0)
    other = other + (t:get("other") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d status=%d socket=%d p50_us=%d p99_us=%d c400=%d other=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), c400, other))
end
"#;

impl Wrk {
    /// Runs wrk against `base` (e.g. `http://127.0.0.1:1234`) for `duration`.
    pub fn run(&self, base: &str, load: &Load<'_>, duration: Duration) -> Res<WrkResult> {
        let dir = devauth_harness::TempDir::new();
        let script = dir.path().join("load.lua");
        let mut lua = String::new();
        let url_path: &str;
        let mut headers: Vec<String> = Vec::new();
        match load {
            Load::Get { path, headers: h } => {
                url_path = path;
                headers.extend(h.iter().cloned());
            }
            Load::PostForm { path, body } => {
                url_path = path;
                lua.push_str(&format!(
                    "wrk.method = \"POST\"\nwrk.body = {}\nwrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n",
                    lua_string(body)
                ));
            }
            Load::PostFormCycle { path, bodies } => {
                url_path = path;
                let file = dir.path().join("bodies.txt");
                let mut f = std::fs::File::create(&file)?;
                for body in bodies.iter() {
                    writeln!(f, "{body}")?;
                }
                f.flush()?;
                lua.push_str(&format!(
                    r#"
c400 = 0
other = 0
local bodies = {{}}
local n = 0
local i = 0
local hdrs = {{ ["Content-Type"] = "application/x-www-form-urlencoded" }}
init = function(args)
  for line in io.lines({file}) do
    table.insert(bodies, line)
  end
  n = #bodies
  i = (offset or 0) % n
end
request = function()
  i = i % n + 1
  return wrk.format("POST", {path}, hdrs, bodies[i])
end
response = function(status, headers, body)
  if status == 400 and (string.find(body, "authorization_pending", 1, true)
      or string.find(body, "slow_down", 1, true)) then
    c400 = c400 + 1
  else
    other = other + 1
  end
end
"#,
                    file = lua_string(&file.display().to_string()),
                    path = lua_string(path),
                ));
            }
        }
        lua.push_str(DONE);
        std::fs::write(&script, lua)?;

        let secs = duration.as_secs().max(1);
        let mut cmd = Command::new(&self.program);
        cmd.arg(format!("-t{}", self.threads))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{secs}s"))
            .arg("--timeout")
            .arg("10s")
            .arg("-s")
            .arg(&script);
        for h in &headers {
            cmd.arg("-H").arg(h);
        }
        cmd.arg(format!("{base}{url_path}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.program))?;
        // Bounded: wrk stops itself after -d; kill it if it hangs past that.
        let deadline = Instant::now() + Duration::from_secs(secs + 20);
        loop {
            if child.try_wait()?.is_some() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("wrk did not finish within {}s", secs + 20).into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find(|l| l.starts_with("WRK_RESULT "))
            .ok_or_else(|| {
                format!(
                    "wrk printed no result ({}): {}{}",
                    output.status,
                    stdout.trim(),
                    String::from_utf8_lossy(&output.stderr).trim()
                )
            })?;
        parse(line)
    }
}

fn parse(line: &str) -> Res<WrkResult> {
    let mut r = WrkResult::default();
    for pair in line.split_whitespace().skip(1) {
        let (k, v) = pair.split_once('=').ok_or("bad WRK_RESULT")?;
        let v: u64 = v
            .parse()
            .map_err(|_| format!("bad WRK_RESULT value {pair}"))?;
        match k {
            "requests" => r.requests = v,
            "duration_us" => r.seconds = v as f64 / 1e6,
            "status" => r.status_errors = v,
            "socket" => r.socket_errors = v,
            "p50_us" => r.p50_ms = v as f64 / 1e3,
            "p99_us" => r.p99_ms = v as f64 / 1e3,
            "c400" => r.pending_answers = v,
            "other" => r.other_answers = v,
            _ => {}
        }
    }
    Ok(r)
}

/// `wrk -v` prints its version on the first line (and exits 1).
pub fn version(program: &str) -> Option<String> {
    let out = Command::new(program).arg("-v").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .next()
        .map(|l| l.split(" [").next().unwrap_or(l).trim().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_the_result_line() {
        let r = super::parse(
            "WRK_RESULT requests=1000 duration_us=2000000 status=3 socket=1 p50_us=1500 p99_us=9000 c400=0 other=0",
        );
        let r = r.unwrap_or_default();
        assert_eq!(r.requests, 1000);
        assert!((r.rps() - 500.0).abs() < 1e-9);
        assert!((r.p50_ms - 1.5).abs() < 1e-9);
        assert_eq!(r.status_errors, 3);
    }

    #[test]
    fn quotes_lua_strings() {
        assert_eq!(super::lua_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(super::lua_string("é"), "\"\\195\\169\"");
    }
}
