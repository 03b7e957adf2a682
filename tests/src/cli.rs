//! The real `devauth` binary as a child process, the way a person runs it:
//! its own config directory, a clean environment (no inherited
//! `DEVAUTH_SERVER`/`DEVAUTH_TOKEN`, no display so no browser), and a
//! sign-in whose code is read from its output and approved by the test.

use crate::{TempDir, binary};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Parses standard output as JSON (`--json` commands).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// One person's `devauth`: a config directory and extra environment.
pub struct DevauthCli {
    config: TempDir,
    env: Vec<(String, String)>,
}

/// A `devauth login` that is waiting for approval.
pub struct PendingLogin {
    child: tokio::process::Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
    pub user_code: String,
}

const DEADLINE: Duration = Duration::from_secs(60);

impl DevauthCli {
    pub fn new() -> DevauthCli {
        DevauthCli {
            config: TempDir::new(),
            env: Vec::new(),
        }
    }

    /// Sets a variable for every run (e.g. `DBUS_SESSION_BUS_ADDRESS`).
    pub fn env(mut self, name: &str, value: &str) -> DevauthCli {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// `DEVAUTH_CONFIG_DIR`.
    pub fn config_dir(&self) -> PathBuf {
        self.config.path().join("devauth")
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
        self.command_of(binary("devauth"), args, env)
    }

    /// `program ARGS` with this person's config directory and environment.
    fn command_of(
        &self,
        program: PathBuf,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env("DEVAUTH_CONFIG_DIR", self.config_dir())
            .env_remove("DEVAUTH_SERVER")
            .env_remove("DEVAUTH_TOKEN")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .kill_on_drop(true);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        command
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[], None).await
    }

    /// Runs to the end with extra environment and, optionally, standard input.
    pub async fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut child = self
            .command(args, env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn devauth");
        if let Some(mut pipe) = child.stdin.take() {
            let _ = pipe.write_all(stdin.unwrap_or("").as_bytes()).await;
        }
        let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("devauth {args:?} did not finish in {DEADLINE:?}"))
            .unwrap_or_else(|e| panic!("devauth {args:?}: {e}"));
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `devauth ARGS` to the end on a pseudo-terminal (util-linux
    /// `script`), typing `input`, as a person at a terminal would: standard
    /// input is a terminal. The terminal merges standard output and error and
    /// echoes what was typed; all of it is in `stdout`.
    pub async fn run_in_terminal(&self, args: &[&str], input: &str) -> Run {
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let mut line = quote(&binary("devauth").to_string_lossy());
        for arg in args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        let mut child = self
            .command_of(
                PathBuf::from("script"),
                &["--quiet", "--return", "--command", &line, "/dev/null"],
                &[],
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run script (util-linux, Debian bsdutils): {e}"));
        if let Some(mut pipe) = child.stdin.take() {
            let _ = pipe.write_all(input.as_bytes()).await;
        }
        let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("devauth {args:?} did not finish in {DEADLINE:?}"))
            .unwrap_or_else(|e| panic!("devauth {args:?}: {e}"));
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).replace('\r', ""),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts `devauth login ARGS` and waits until it shows the user code.
    pub async fn start_login(&self, args: &[&str], env: &[(&str, &str)]) -> PendingLogin {
        let mut full = vec!["login"];
        full.extend_from_slice(args);
        let mut child = self
            .command(&full, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn devauth login");
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        for stream in [
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    let _ = tx.send(line);
                }
            });
        }
        let mut pending = PendingLogin {
            child,
            lines,
            seen: Vec::new(),
            user_code: String::new(),
        };
        let line = pending.wait_for("Your one-time code:").await;
        pending.user_code = line
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        pending
    }
}

impl Default for DevauthCli {
    fn default() -> Self {
        Self::new()
    }
}

impl PendingLogin {
    /// Waits for an output line containing `needle` and returns it.
    pub async fn wait_for(&mut self, needle: &str) -> String {
        let found = tokio::time::timeout(DEADLINE, async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!(
                "devauth login never printed {needle:?}; output so far:\n{}",
                self.seen.join("\n")
            ),
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub async fn interrupt(&self) {
        let pid = self
            .child
            .id()
            .unwrap_or_else(|| panic!("devauth login already exited"));
        let status = tokio::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .await
            .expect("kill -INT");
        assert!(status.success(), "kill -INT {pid} failed");
    }

    /// Waits for the process to end; everything it printed, in order
    /// (standard error and output interleaved), is in `stderr`.
    pub async fn finish(mut self) -> Run {
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("devauth login did not finish: {}", self.seen.join("\n")))
            .expect("devauth login");
        // The readers end when the pipes close.
        while let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_secs(5), self.lines.recv()).await
        {
            self.seen.push(line);
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::new(),
            stderr: self.seen.join("\n"),
        }
    }
}
