//! The real `devauth-server` binary as a child process, the way an operator
//! runs it: its console (stdout) and its log (stderr) are kept for the test to
//! read, it is stopped with SIGTERM or killed with SIGKILL, and killed on drop.

use crate::remote::Remote;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a server may take to say `listening on` (a cold PostgreSQL
/// database runs its migrations first).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A `devauth-server serve` process on `127.0.0.1:0`.
pub struct ServerProcess {
    child: Child,
    /// Its base URL, from its `listening on` line.
    pub url: String,
    /// An HTTP client for it.
    pub remote: Remote,
    console: Arc<Mutex<Vec<String>>>,
    lines: Receiver<String>,
    log: Option<JoinHandle<String>>,
}

/// How a stopped server ended.
pub struct Stopped {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it logged to stderr.
    pub log: String,
}

/// A `devauth-server` run to completion (a refused start, a CLI command).
pub struct Finished {
    /// Its exit code (-1 when killed by a signal).
    pub code: i32,
    /// What it printed to stdout.
    pub stdout: String,
    /// What it printed to stderr.
    pub stderr: String,
}

/// `devauth-server serve` on `database_url` with `env` on top of a clean
/// environment (no `DEVAUTH_*` from the caller's; `RUST_LOG=info` unless set).
fn command(database_url: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(crate::server_binary());
    command.arg("serve");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("DEVAUTH_") {
            command.env_remove(name);
        }
    }
    command
        .env("DEVAUTH_DATABASE_URL", database_url)
        .env("DEVAUTH_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

impl ServerProcess {
    /// Starts the server and waits for its `listening on` line.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let mut child = command(database_url, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn devauth-server");
        let stdout = child.stdout.take().expect("the server's stdout");
        let mut stderr = child.stderr.take().expect("the server's stderr");
        let log = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let console = Arc::new(Mutex::new(Vec::new()));
        let (send, lines) = std::sync::mpsc::channel();
        let kept = console.clone();
        // Keep reading to the end: a server whose stdout is closed fails to print.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                kept.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(line.clone());
                let _ = send.send(line);
            }
        });
        let mut server = ServerProcess {
            child,
            url: String::new(),
            remote: Remote::new("http://127.0.0.1:1").expect("a client"),
            console,
            lines,
            log: Some(log),
        };
        let url = server
            .wait_for_line("listening on ")
            .unwrap_or_else(|| panic!("devauth-server did not listen: {:?}", server.console()));
        server.url = url.trim().to_string();
        server.remote = Remote::new(&server.url).expect("a client for the server");
        server
    }

    /// Runs the server with `env` until it exits by itself (a refused start);
    /// fails the test if it is still running after [`START_TIMEOUT`].
    pub fn run_to_exit(database_url: &str, env: &[(&str, &str)]) -> Finished {
        let child = command(database_url, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn devauth-server");
        let pid = child.id().to_string();
        let (send, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = send.send(child.wait_with_output());
        });
        let Ok(out) = done.recv_timeout(START_TIMEOUT) else {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("devauth-server was expected to refuse to start, and kept running");
        };
        let out = out.expect("devauth-server ran");
        Finished {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The rest of the first console line (so far or to come) that starts
    /// with `prefix`; `None` if the server closed its stdout first.
    pub fn wait_for_line(&self, prefix: &str) -> Option<String> {
        if let Some(rest) = self
            .console()
            .iter()
            .find_map(|line| line.strip_prefix(prefix))
        {
            return Some(rest.to_string());
        }
        loop {
            match self.lines.recv_timeout(START_TIMEOUT) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Some(rest.to_string());
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// What the server printed to stdout so far.
    pub fn console(&self) -> Vec<String> {
        self.console
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits: a graceful stop.
    pub fn stop(mut self) -> Stopped {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.finish()
    }

    /// SIGKILL, then waits: the process dies mid-work.
    pub fn kill(mut self) -> Stopped {
        let _ = self.child.kill();
        self.finish()
    }

    fn finish(&mut self) -> Stopped {
        let status = self.child.wait().expect("waiting for devauth-server");
        let log = self
            .log
            .take()
            .and_then(|log| log.join().ok())
            .unwrap_or_default();
        Stopped { status, log }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
