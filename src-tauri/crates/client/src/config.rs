//! The non-secret side: `config.json` in the config directory, the environment
//! overrides ([`Env`]) and which server a command talks to ([`resolve_server`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::discovery::{DEFAULT_SERVER, ServerUrl, UrlError};
use crate::secret::Secret;
use crate::token_store::StorageKind;

/// The config file's name in the config directory.
pub const CONFIG_FILE: &str = "config.json";
/// Environment variable that replaces the platform config directory.
pub const ENV_CONFIG_DIR: &str = "DEVAUTH_CONFIG_DIR";
/// Environment variable naming the server when `--server` is not given.
pub const ENV_SERVER: &str = "DEVAUTH_SERVER";
/// Environment variable with a token to use instead of the stored one.
pub const ENV_TOKEN: &str = "DEVAUTH_TOKEN";

/// The environment variables devauth reads, captured once. Tests build one
/// by hand instead of touching the process environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `DEVAUTH_CONFIG_DIR`.
    pub config_dir: Option<PathBuf>,
    /// `DEVAUTH_SERVER`.
    pub server: Option<String>,
    /// Used for requests, never written anywhere.
    pub token: Option<Secret>,
}

impl Env {
    /// Reads the variables from the process environment. Empty values count
    /// as unset, and so do blank ones for the server and token; the token is
    /// trimmed.
    pub fn from_process() -> Env {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Env {
            config_dir: std::env::var_os(ENV_CONFIG_DIR)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            server: var(ENV_SERVER),
            token: var(ENV_TOKEN).map(|t| Secret::new(t.trim().to_string())),
        }
    }
}

/// Non-secret settings, kept in `config.json`. Tokens are never here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The server commands use when none is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Set to `file` to keep tokens in a plaintext file instead of the keychain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageKind>,
    /// Scopes to request at sign-in (default: `openid` when the server lists it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// What we know about the sign-in at each server, keyed by canonical URL.
    #[serde(default)]
    pub accounts: BTreeMap<String, Account>,
}

/// One signed-in server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    /// Where this server's token is kept.
    pub storage: StorageKind,
    /// The user's email, from `/me` at the last sign-in.
    pub user_email: Option<String>,
    /// The user's display name, likewise.
    pub user_name: Option<String>,
    /// The slug of the org the token belongs to, likewise.
    pub org: Option<String>,
    /// The org's display name, likewise.
    pub org_name: Option<String>,
    /// The user's role in that org, likewise.
    pub role: Option<String>,
    /// The token's id at the server, likewise.
    pub token_id: Option<String>,
    /// `device`, `personal` or `service`, as the server reported it.
    pub token_kind: Option<String>,
    /// RFC 3339; `None` with `token_id` set means the token never expires.
    pub token_expires_at: Option<String>,
    /// When the last sign-in happened, RFC 3339.
    pub signed_in_at: Option<String>,
    /// A token for this server sits in the keychain waiting to be revoked.
    pub pending_revocation: bool,
    /// The user chose plain http to a non-loopback host for this server.
    pub allow_insecure_http: bool,
    /// True while a token for this server is stored.
    pub signed_in: bool,
}

impl Config {
    /// What is recorded for `server`, if anything.
    pub fn account(&self, server: &ServerUrl) -> Option<&Account> {
        self.accounts.get(server.as_str())
    }

    /// The record for `server`, created empty if there is none.
    pub fn account_mut(&mut self, server: &ServerUrl) -> &mut Account {
        self.accounts
            .entry(server.as_str().to_string())
            .or_default()
    }

    /// Drops accounts that hold nothing worth remembering.
    pub fn prune(&mut self) {
        self.accounts
            .retain(|_, a| a.signed_in || a.pending_revocation || a.allow_insecure_http);
    }
}

/// The config directory or file cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// The platform knows no config directory for this user, and
    /// `DEVAUTH_CONFIG_DIR` is not set.
    #[error(
        "cannot find a configuration directory for this user; set {ENV_CONFIG_DIR} to a \
         directory devauth may use"
    )]
    NoConfigDir,
    /// The config file exists but cannot be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The config file's path.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The config file is not valid JSON of the expected shape.
    #[error("{path} is not valid devauth configuration: {reason}. Fix or delete the file")]
    Parse {
        /// The config file's path.
        path: String,
        /// The JSON error.
        reason: String,
    },
    /// The config file (or its directory) cannot be written.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The config file's path.
        path: String,
        /// What failed.
        reason: String,
    },
}

/// Where the server URL in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerSource {
    /// `--server` (`Options::server`).
    Flag,
    /// `DEVAUTH_SERVER`.
    Env,
    /// `server` in `config.json`.
    Config,
    /// [`DEFAULT_SERVER`], as nothing else named one.
    Default,
}

/// The config directory: `DEVAUTH_CONFIG_DIR`, else `<platform config dir>/devauth`.
pub fn config_dir(env: &Env) -> Result<PathBuf, ConfigError> {
    if let Some(dir) = &env.config_dir {
        return Ok(dir.clone());
    }
    dirs::config_dir()
        .map(|d| d.join("devauth"))
        .ok_or(ConfigError::NoConfigDir)
}

/// The config file in one directory.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    dir: PathBuf,
}

impl ConfigFile {
    /// The config file in `dir`. Nothing is read or created yet.
    pub fn new(dir: PathBuf) -> Self {
        ConfigFile { dir }
    }

    /// The config directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of `config.json` in that directory.
    pub fn path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// A missing file is an empty config.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        serde_json::from_slice(&bytes).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Atomic replace: a temporary file renamed over the old one.
    pub fn save(&self, config: &Config) -> Result<(), ConfigError> {
        let path = self.path();
        let write_err = |e: std::io::Error| ConfigError::Write {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        create_private_dir(&self.dir).map_err(write_err)?;
        let mut json = serde_json::to_vec_pretty(config).map_err(|e| ConfigError::Write {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        json.push(b'\n');
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        let result = (|| {
            let mut file = crate::token_store::private_file(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(write_err(e));
        }
        Ok(())
    }
}

/// Creates `dir` (and parents); new directories get mode 0700 on Unix.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Picks the server: `--server`, then `DEVAUTH_SERVER`, then the config file,
/// then the default. Plain http to a non-loopback host needs the flag or an
/// earlier sign-in that used it.
pub fn resolve_server(
    flag: Option<&str>,
    env: &Env,
    config: &Config,
    allow_insecure_http: bool,
) -> Result<(ServerUrl, ServerSource), UrlError> {
    let (raw, source) = if let Some(s) = flag {
        (s.to_string(), ServerSource::Flag)
    } else if let Some(s) = &env.server {
        (s.clone(), ServerSource::Env)
    } else if let Some(s) = &config.server {
        (s.clone(), ServerSource::Config)
    } else {
        (DEFAULT_SERVER.to_string(), ServerSource::Default)
    };
    let remembered = ServerUrl::parse(&raw, true)
        .ok()
        .and_then(|u| config.account(&u).map(|a| a.allow_insecure_http))
        .unwrap_or(false);
    let url = ServerUrl::parse(&raw, allow_insecure_http || remembered)?;
    Ok((url, source))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new() -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "devauth-client-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn config_dir_env_override() {
        let env = Env {
            config_dir: Some(PathBuf::from("/tmp/elsewhere")),
            ..Env::default()
        };
        assert_eq!(config_dir(&env).unwrap(), PathBuf::from("/tmp/elsewhere"));
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = TempDir::new();
        let file = ConfigFile::new(dir.path().join("nested/devauth"));
        assert_eq!(file.load().unwrap(), Config::default());
        let mut config = Config {
            server: Some("https://a.example".into()),
            ..Config::default()
        };
        let server = ServerUrl::parse("https://a.example", false).unwrap();
        let account = config.account_mut(&server);
        account.signed_in = true;
        account.org = Some("acme".into());
        account.token_id = Some("tok_1".into());
        file.save(&config).unwrap();
        assert_eq!(file.load().unwrap(), config);
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(text.contains("\"https://a.example\""), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.dir()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn unknown_fields_are_tolerated_and_bad_json_is_reported() {
        let dir = TempDir::new();
        let file = ConfigFile::new(dir.path().to_path_buf());
        std::fs::write(file.path(), r#"{"server":"https://a.example","future":1}"#).unwrap();
        assert_eq!(
            file.load().unwrap().server.as_deref(),
            Some("https://a.example")
        );
        std::fs::write(file.path(), "{not json").unwrap();
        let err = file.load().unwrap_err();
        assert!(err.to_string().contains("Fix or delete"), "{err}");
    }

    #[test]
    fn server_precedence_flag_env_config_default() {
        let config = Config {
            server: Some("https://from-config.example".into()),
            ..Config::default()
        };
        let env = Env {
            server: Some("https://from-env.example/".into()),
            ..Env::default()
        };
        let pick = |flag: Option<&str>, env: &Env, config: &Config| {
            let (url, source) = resolve_server(flag, env, config, false).unwrap();
            (url.as_str().to_string(), source)
        };
        assert_eq!(
            pick(Some("https://flag.example"), &env, &config),
            ("https://flag.example".into(), ServerSource::Flag)
        );
        assert_eq!(
            pick(None, &env, &config),
            ("https://from-env.example".into(), ServerSource::Env)
        );
        assert_eq!(
            pick(None, &Env::default(), &config),
            ("https://from-config.example".into(), ServerSource::Config)
        );
        assert_eq!(
            pick(None, &Env::default(), &Config::default()),
            ("http://127.0.0.1:8750".into(), ServerSource::Default)
        );
    }

    #[test]
    fn insecure_http_is_remembered_per_server() {
        let env = Env {
            server: Some("http://lan.example:8750".into()),
            ..Env::default()
        };
        let mut config = Config::default();
        assert!(resolve_server(None, &env, &config, false).is_err());
        let url = ServerUrl::parse("http://lan.example:8750", true).unwrap();
        config.account_mut(&url).allow_insecure_http = true;
        assert!(resolve_server(None, &env, &config, false).is_ok());
    }

    #[test]
    fn env_token_is_redacted_in_debug() {
        let env = Env {
            token: Some(Secret::new("dva_envtoken")),
            ..Env::default()
        };
        assert!(!format!("{env:?}").contains("envtoken"));
    }
}
