//! The mail tests' SMTP server: Python's `aiosmtpd` (from the tests'
//! virtualenv, `.ci/install-deps.sh python`) on loopback, keeping what it
//! receives in a maildir the test reads. Missing, it is a skip in a
//! developer's `cargo test` and a failure under `make test`.

use crate::TempDir;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A message as it arrived.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope's recipient.
    pub to: String,
    pub subject: String,
    /// The body, its transfer encoding undone.
    pub body: String,
}

/// A running SMTP server.
pub struct SmtpServer {
    /// `smtp://127.0.0.1:PORT` (no TLS, no credentials).
    pub url: String,
    dir: TempDir,
    child: Child,
}

impl SmtpServer {
    /// Starts one, or `None` (a skip) when aiosmtpd is not installed.
    pub async fn start() -> Option<SmtpServer> {
        let python = crate::python_tool("python")?;
        let has_aiosmtpd = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        if !has_aiosmtpd {
            assert!(
                std::env::var("DEVAUTH_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "aiosmtpd is missing: run `.ci/install-deps.sh python` (make test does)"
            );
            eprintln!("skipped: aiosmtpd is not installed (.ci/install-deps.sh python)");
            return None;
        }
        let port = crate::idp::free_port();
        let dir = TempDir::new();
        let maildir = dir.path().join("mail");
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python starts aiosmtpd");
        let mut ready = false;
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(ready, "aiosmtpd did not start on port {port}");
        Some(SmtpServer {
            url: format!("smtp://127.0.0.1:{port}"),
            dir,
            child,
        })
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<Mail> {
        let new = self.dir.path().join("mail/new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        let mut mails: Vec<(std::time::SystemTime, Mail)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let at = e.metadata().and_then(|m| m.modified()).ok()?;
                let text = std::fs::read_to_string(e.path()).ok()?;
                Some((at, parse(&text)))
            })
            .collect();
        mails.sort_by_key(|(at, _)| *at);
        mails.into_iter().map(|(_, m)| m).collect()
    }

    /// Waits (up to ten seconds) until a message to `to` has arrived: the
    /// first one to that address.
    pub async fn wait_for(&self, to: &str) -> Mail {
        for _ in 0..400 {
            if let Some(mail) = self
                .received()
                .into_iter()
                .find(|m| m.to.eq_ignore_ascii_case(to))
            {
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no mail to {to} arrived; received: {:?}", self.received());
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stored message: headers (aiosmtpd adds `X-RcptTo`), then the body.
fn parse(text: &str) -> Mail {
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_default()
    };
    let body = match header("Content-Transfer-Encoding").to_lowercase().as_str() {
        "quoted-printable" => quoted_printable(body),
        _ => body.to_string(),
    };
    Mail {
        to: header("X-RcptTo"),
        subject: header("Subject"),
        body,
    }
}

/// Undoes quoted-printable: soft line breaks and `=XX` bytes.
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len() + 1
            && let Some(hex) = joined.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_printable_is_undone() {
        assert_eq!(
            super::quoted_printable("a link http://x/reset/dvr_ab=\ncd and =C3=A9"),
            "a link http://x/reset/dvr_abcd and é"
        );
    }
}
