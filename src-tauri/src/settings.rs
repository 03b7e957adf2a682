//! What the app is told from outside: environment variables, read once at
//! start ([`DesktopEnv`]), and the settings the person chooses, kept in
//! `desktop.json` next to devauth's `config.json` ([`Settings`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use devauth_client::config::{ENV_CONFIG_DIR, ENV_SERVER, Env, config_dir};
use devauth_client::discovery::{ServerUrl, UrlError};
use serde::{Deserialize, Serialize};

pub const SETTINGS_FILE: &str = "desktop.json";
/// Where the bundled server keeps its SQLite database.
pub const ENV_DATA_DIR: &str = "DEVAUTH_DATA_DIR";
/// `1`: never open a browser (the window shows the code and the link).
pub const ENV_NO_BROWSER: &str = "DEVAUTH_NO_BROWSER";
/// A program to open pages with instead of the system's default browser;
/// it gets the URL as its only argument.
pub const ENV_BROWSER: &str = "DEVAUTH_BROWSER";
/// Seconds between checks that the token still works (default 60).
pub const ENV_REFRESH_SECS: &str = "DEVAUTH_REFRESH_SECS";
/// Append logs to this file instead of writing them to stderr.
pub const ENV_LOG_FILE: &str = "DEVAUTH_LOG_FILE";

const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

/// The environment, captured once.
#[derive(Debug, Clone)]
pub struct DesktopEnv {
    /// `DEVAUTH_SERVER` and `DEVAUTH_CONFIG_DIR` as devauth-client reads them.
    /// `DEVAUTH_TOKEN` is deliberately dropped: the app signs in and out
    /// itself and never uses a token it did not store.
    pub client: Env,
    pub data_dir: Option<PathBuf>,
    pub no_browser: bool,
    pub browser: Option<String>,
    pub refresh: Duration,
}

impl DesktopEnv {
    pub fn from_process() -> Self {
        let mut client = Env::from_process();
        client.token = None;
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        DesktopEnv {
            client,
            data_dir: std::env::var_os(ENV_DATA_DIR)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            no_browser: var(ENV_NO_BROWSER).is_some_and(|v| v != "0"),
            browser: var(ENV_BROWSER),
            refresh: var(ENV_REFRESH_SECS)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&s| s > 0)
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_REFRESH),
        }
    }

    pub fn config_dir(&self) -> Result<PathBuf, SettingsError> {
        config_dir(&self.client).map_err(|e| SettingsError(e.to_string()))
    }
}

/// The person's choices. No server (the default) means the bundled one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// A devauth server URL; used when `use_bundled` is false.
    pub server: Option<String>,
    pub use_bundled: Option<bool>,
}

impl Settings {
    /// The configured server, or `None` for the bundled one.
    pub fn remote_server(&self) -> Option<&str> {
        match (self.use_bundled, self.server.as_deref()) {
            (Some(true), _) | (_, None) => None,
            (_, Some(url)) => Some(url),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// `desktop.json` in one directory.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    path: PathBuf,
}

impl SettingsFile {
    pub fn in_dir(dir: &Path) -> Self {
        SettingsFile {
            path: dir.join(SETTINGS_FILE),
        }
    }

    /// A missing file means the defaults.
    pub fn load(&self) -> Result<Settings, SettingsError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                SettingsError(format!(
                    "{} is not valid: {e}. Fix or delete the file",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(SettingsError(format!(
                "cannot read {}: {e}",
                self.path.display()
            ))),
        }
    }

    /// Written to a temporary file, then renamed over the old one.
    pub fn save(&self, settings: &Settings) -> Result<(), SettingsError> {
        let fail =
            |e: std::io::Error| SettingsError(format!("cannot write {}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut json = serde_json::to_vec_pretty(settings)
            .map_err(|e| SettingsError(format!("cannot encode settings: {e}")))?;
        json.push(b'\n');
        let tmp = self.path.with_extension("json.tmp");
        let result = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&json).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(e));
        }
        Ok(())
    }
}

/// Checks a server URL the way sign-in will, and returns its canonical form.
pub fn check_server_url(raw: &str) -> Result<String, SettingsError> {
    ServerUrl::parse(raw, false)
        .map(|u| u.as_str().to_string())
        .map_err(|e| match e {
            UrlError::InsecureHttp { host } => SettingsError(format!(
                "Use https:// for {host}. Plain http:// is allowed only to this computer, so \
                 that the token never crosses the network unencrypted."
            )),
            UrlError::Invalid { input, reason } if input.is_empty() => {
                SettingsError(format!("Enter a server address ({reason})."))
            }
            UrlError::Invalid { input, reason } => SettingsError(format!(
                "`{input}` is not a valid server address ({reason})."
            )),
        })
}

/// What the Settings dialog shows.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsView {
    pub use_bundled: bool,
    pub server: Option<String>,
    /// Set when `DEVAUTH_SERVER` overrides whatever is chosen here.
    pub env_server: Option<String>,
    pub env_var: &'static str,
    pub config_dir_var: &'static str,
    pub config_dir: String,
}

impl SettingsView {
    pub fn new(settings: &Settings, env: &DesktopEnv, dir: &Path) -> Self {
        SettingsView {
            use_bundled: settings.remote_server().is_none(),
            server: settings.server.clone(),
            env_server: env.client.server.clone(),
            env_var: ENV_SERVER,
            config_dir_var: ENV_CONFIG_DIR,
            config_dir: dir.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_server_or_the_toggle_means_bundled() {
        let mut s = Settings::default();
        assert_eq!(s.remote_server(), None);
        s.server = Some("https://auth.example.com".into());
        assert_eq!(s.remote_server(), Some("https://auth.example.com"));
        s.use_bundled = Some(true);
        assert_eq!(s.remote_server(), None);
        s.use_bundled = Some(false);
        assert_eq!(s.remote_server(), Some("https://auth.example.com"));
    }

    #[test]
    fn round_trip_and_bad_files() {
        let dir =
            std::env::temp_dir().join(format!("devauth-desktop-settings-{}", std::process::id()));
        let file = SettingsFile::in_dir(&dir);
        assert_eq!(file.load().unwrap(), Settings::default());
        let s = Settings {
            server: Some("https://auth.example.com".into()),
            use_bundled: Some(false),
        };
        file.save(&s).unwrap();
        assert_eq!(file.load().unwrap(), s);
        std::fs::write(dir.join(SETTINGS_FILE), "{nope").unwrap();
        assert!(file.load().unwrap_err().0.contains("Fix or delete"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn server_urls_are_checked_like_sign_in_checks_them() {
        assert_eq!(
            check_server_url("Auth.Example.com/").unwrap(),
            "https://auth.example.com"
        );
        let insecure = check_server_url("http://auth.example.com").unwrap_err();
        assert!(
            insecure.0.starts_with("Use https:// for auth.example.com"),
            "{insecure}"
        );
        assert!(
            !insecure.0.contains("--"),
            "no command-line flags: {insecure}"
        );
        assert!(check_server_url("http://127.0.0.1:8750").is_ok());
        assert!(check_server_url("").is_err());
    }
}
