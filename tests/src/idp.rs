//! The single sign-on tests' upstream identity provider: node's
//! `oidc-provider` (`tests/idp/idp.mjs`) on loopback, one process per test.
//! Missing (node or the package), it is a skip in a developer's `cargo
//! test` and a failure under `make test` (`DEVAUTH_REQUIRE_TOOLS=1`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The pinned version (`.ci/install-deps.sh browser` installs it).
pub const OIDC_PROVIDER_VERSION: &str = "9.13.3";
/// The client secret the provider registers for devauth.
pub const CLIENT_SECRET: &str = "devauth-test-secret";

/// A person known to the provider.
#[derive(Debug, Clone)]
pub struct Account {
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    /// What the `groups` claim lists.
    pub groups: Vec<String>,
}

impl Account {
    pub fn verified(email: &str, name: &str) -> Account {
        Account {
            email: email.into(),
            email_verified: true,
            name: name.into(),
            groups: Vec::new(),
        }
    }
}

/// Where oidc-provider is installed, or `None` (a skip) outside `make test`.
pub fn installed() -> Option<PathBuf> {
    let dir = std::env::var_os("OIDC_PROVIDER_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| {
                PathBuf::from(home).join(format!(
                    ".cache/devauth-bench/oidc-provider-{OIDC_PROVIDER_VERSION}"
                ))
            })
        })?;
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if node && dir.join("node_modules/oidc-provider/package.json").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("DEVAUTH_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "oidc-provider is missing from {}: run `.ci/install-deps.sh browser` (make test does)",
        dir.display()
    );
    eprintln!("skipped: oidc-provider is not installed (.ci/install-deps.sh browser)");
    None
}

/// A free loopback port (the provider's issuer URL must be known before
/// devauth starts, and devauth's redirect URI before the provider does).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running provider.
pub struct Idp {
    /// Its issuer, `http://127.0.0.1:PORT`.
    pub issuer: String,
    /// With [`Idp::start_with_mixup`]: an issuer whose discovery document
    /// points at this provider's endpoints.
    pub mixup: Option<String>,
    dir: PathBuf,
    port: u16,
    mixup_port: Option<u16>,
    accounts: Vec<Account>,
    redirect_uris: Vec<String>,
    child: Child,
}

impl Idp {
    /// Starts the provider on `port` for `accounts`, registering devauth's
    /// `redirect_uris`.
    pub async fn start(
        dir: &std::path::Path,
        port: u16,
        accounts: &[Account],
        redirect_uris: &[String],
    ) -> Idp {
        Self::spawn(
            dir.to_path_buf(),
            port,
            None,
            accounts.to_vec(),
            redirect_uris.to_vec(),
        )
        .await
    }

    /// The same, with a mix-up issuer on `mixup_port`.
    pub async fn start_with_mixup(
        dir: &std::path::Path,
        port: u16,
        mixup_port: u16,
        accounts: &[Account],
        redirect_uris: &[String],
    ) -> Idp {
        Self::spawn(
            dir.to_path_buf(),
            port,
            Some(mixup_port),
            accounts.to_vec(),
            redirect_uris.to_vec(),
        )
        .await
    }

    async fn spawn(
        dir: PathBuf,
        port: u16,
        mixup_port: Option<u16>,
        accounts: Vec<Account>,
        redirect_uris: Vec<String>,
    ) -> Idp {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/idp/idp.mjs");
        let accounts_json = serde_json::Value::Array(
            accounts
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "email": a.email, "email_verified": a.email_verified, "name": a.name,
                        "groups": a.groups,
                    })
                })
                .collect(),
        );
        let mut command = Command::new("node");
        command
            .arg(script)
            .arg(port.to_string())
            .env("OIDC_PROVIDER_DIR", &dir)
            .env("IDP_ACCOUNTS", accounts_json.to_string())
            .env("IDP_REDIRECT_URIS", redirect_uris.join(" "))
            .env("IDP_CLIENT_SECRET", CLIENT_SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(mixup) = mixup_port {
            command.arg(mixup.to_string());
        }
        let child = command.spawn().expect("node starts the identity provider");
        let issuer = format!("http://127.0.0.1:{port}");
        // Ready when its discovery document answers.
        let http = reqwest::Client::new();
        let discovery = format!("{issuer}/.well-known/openid-configuration");
        let mut ready = false;
        for _ in 0..200 {
            if http
                .get(&discovery)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "the identity provider did not start on {issuer}");
        Idp {
            issuer,
            mixup: mixup_port.map(|p| format!("http://127.0.0.1:{p}")),
            dir,
            port,
            mixup_port,
            accounts,
            redirect_uris,
            child,
        }
    }

    /// Stops it and starts it again on the same port: a new signing key
    /// (key rotation), the same accounts.
    pub async fn restart(mut self) -> Idp {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (dir, accounts, uris) = (
            std::mem::take(&mut self.dir),
            std::mem::take(&mut self.accounts),
            std::mem::take(&mut self.redirect_uris),
        );
        Self::spawn(dir, self.port, self.mixup_port, accounts, uris).await
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
