//! The bundled server: devauth-server running inside the app, on loopback,
//! with SQLite in the app's data directory, for a person who has no server.
//!
//! It listens on `127.0.0.1`, on the port it had last time when that port is
//! free (the server URL names the keychain entry, so a stable port keeps the
//! person signed in across restarts), else on any free port.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::Mutex;

use devauth_server::clock::SystemClock;
use devauth_server::secret::Secret;
use devauth_server::{AppState, Config, RunningServer};

const DATABASE: &str = "devauth.db";
const PORT_FILE: &str = "bundled-port";
/// The page that sends the browser on to setup with the token.
const SETUP_LAUNCHER: &str = "setup-open.html";

#[derive(Debug, thiserror::Error)]
pub enum BundledError {
    #[error("cannot create {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Start(String),
    #[error("cannot read the server's database: {0}")]
    Store(String),
}

pub struct Bundled {
    url: String,
    state: AppState,
    setup_token: Option<Secret>,
    data_dir: PathBuf,
    /// Taken by [`Bundled::stop`].
    running: Mutex<Option<RunningServer>>,
}

impl Bundled {
    pub async fn start(data_dir: &Path) -> Result<Bundled, BundledError> {
        devauth_client::config::create_private_dir(data_dir).map_err(|source| {
            BundledError::DataDir {
                path: data_dir.display().to_string(),
                source,
            }
        })?;
        let database_url = format!("sqlite://{}", data_dir.join(DATABASE).display());
        let port_file = data_dir.join(PORT_FILE);
        let last_port = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok())
            .filter(|&p| p != 0);
        let mut ports: Vec<u16> = last_port.into_iter().collect();
        ports.push(0);
        let mut last_error = String::new();
        for port in ports {
            let config = Config {
                database_url: Some(database_url.clone()),
                addr: format!("127.0.0.1:{port}"),
                // A web page whose name was rebound to 127.0.0.1 cannot talk
                // to this server: it answers only to its own address.
                own_host_only: true,
                ..Config::default()
            };
            match devauth_server::start(config, Arc::new(SystemClock)).await {
                Ok(server) => {
                    if Some(server.addr.port()) != last_port {
                        // Best effort: without it the next start picks a new port.
                        let _ = std::fs::write(&port_file, server.addr.port().to_string());
                    }
                    tracing::info!(url = %server.url, "bundled server started");
                    return Ok(Bundled {
                        url: server.url.clone(),
                        state: server.state.clone(),
                        setup_token: server.setup_token.clone(),
                        data_dir: data_dir.to_path_buf(),
                        running: Mutex::new(Some(server)),
                    });
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(BundledError::Start(last_error))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub async fn is_claimed(&self) -> Result<bool, BundledError> {
        self.state
            .store
            .setup_claimed()
            .await
            .map_err(|e| BundledError::Store(e.to_string()))
    }

    /// The setup page with the setup token in the fragment, which the
    /// browser keeps to itself: it reaches neither the server nor its log.
    pub fn setup_url(&self) -> Option<String> {
        let token = self.setup_token.as_ref()?;
        Some(format!("{}/setup#setup_token={}", self.url, token.expose()))
    }

    /// A page in the app's private data directory (mode 0600) that sends the
    /// browser on to [`Bundled::setup_url`], as a `file://` URL: what the
    /// browser is started with holds no secret, since any process on the
    /// machine can read another's command line, while only this user can
    /// read the file.
    pub fn setup_launcher(&self) -> Option<Result<String, BundledError>> {
        let target = self.setup_url()?;
        let path = self.data_dir.join(SETUP_LAUNCHER);
        let page = format!(
            "<!doctype html>\n<meta charset=\"utf-8\">\n<title>devauth setup</title>\n\
             <meta http-equiv=\"refresh\" content=\"0;url={target}\">\n\
             <p><a href=\"{target}\">Continue to devauth setup</a></p>\n"
        );
        let written =
            write_private(&path, page.as_bytes()).map_err(|source| BundledError::DataDir {
                path: path.display().to_string(),
                source,
            });
        Some(written.map(|()| format!("file://{}", path.display())))
    }

    /// Deletes the setup launcher (once setup is claimed it is of no use).
    pub fn forget_setup_launcher(&self) {
        let _ = std::fs::remove_file(self.data_dir.join(SETUP_LAUNCHER));
    }

    /// Stops accepting and waits for requests in flight. Later calls do nothing.
    pub async fn stop(&self) {
        self.forget_setup_launcher();
        let running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(server) = running
            && let Err(e) = server.stop().await
        {
            tracing::warn!("bundled server did not stop cleanly: {e}");
        }
    }
}

/// Writes `bytes` to a new file only this user can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("devauth-desktop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn starts_unclaimed_with_a_setup_link_and_keeps_its_port() {
        let dir = temp_dir("bundled");
        let first = Bundled::start(&dir).await.unwrap();
        assert!(first.url().starts_with("http://127.0.0.1:"));
        assert!(!first.is_claimed().await.unwrap());
        let setup = first.setup_url().unwrap();
        assert!(setup.starts_with(&format!("{}/setup#setup_token=", first.url())));
        let launcher = first.setup_launcher().unwrap().unwrap();
        assert!(!launcher.contains("setup_token"), "{launcher}");
        let file = dir.join(SETUP_LAUNCHER);
        assert!(launcher.ends_with(&file.display().to_string()));
        let page = std::fs::read_to_string(&file).unwrap();
        assert!(
            page.contains(&setup),
            "the launcher sends the browser on to setup"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "readable by this user only");
        }
        let url = first.url().to_string();
        first.stop().await;
        assert!(!file.exists(), "the launcher goes when the app stops");
        let again = Bundled::start(&dir).await.unwrap();
        assert_eq!(again.url(), url, "same port after a restart");
        assert!(dir.join(DATABASE).exists());
        again.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_taken_port_falls_back_to_a_free_one() {
        let dir = temp_dir("bundled-taken");
        let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = blocker.local_addr().unwrap().port();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(PORT_FILE), taken.to_string()).unwrap();
        let server = Bundled::start(&dir).await.unwrap();
        assert_ne!(server.url(), format!("http://127.0.0.1:{taken}"));
        server.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
