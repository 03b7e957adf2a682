//! [`Client`], where front ends start: one server, its stored token and the
//! config file.

mod login;
mod logout;
mod status;

use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::OnceCell;

use crate::api::{ApiClient, parse_time};
use crate::clock::{Clock, TokioClock};
use crate::config::{Config, ConfigFile, Env, ServerSource, config_dir, resolve_server};
use crate::device_flow::{CLI_CLIENT_ID, DESKTOP_CLIENT_ID};
use crate::discovery::{Endpoints, ServerUrl, discover};
use crate::error::Error;
use crate::secret::Secret;
use crate::token_store::{FileStore, KeyringStore, StorageKind, TokenStore};
use crate::transport::{ReqwestTransport, Transport};

pub use login::{LoginRequest, PendingLogin, SignedIn};
pub use logout::{RetryReport, SignOut};
pub use status::{AuthState, Status};

/// How a front end (CLI or desktop app) wants the client to behave.
#[derive(Debug, Clone)]
pub struct Options {
    /// OAuth client id: `devauth-cli` or `devauth-desktop`.
    pub client_id: String,
    /// Names this device on the approval page: "`app_name` on `hostname`".
    pub app_name: String,
    /// `--server`; `None` falls back to DEVAUTH_SERVER, the config, the default.
    pub server: Option<String>,
    /// Accept plain http to a non-loopback server (`--allow-insecure-http`).
    pub allow_insecure_http: bool,
    /// Keep tokens in a plaintext file instead of the keychain.
    pub insecure_storage: bool,
    /// The environment variables, captured once.
    pub env: Env,
}

impl Options {
    /// The CLI's defaults: client id `devauth-cli`, the keychain, and the
    /// server from `DEVAUTH_SERVER`, the config or the default.
    pub fn cli(env: Env) -> Options {
        Options {
            client_id: CLI_CLIENT_ID.to_string(),
            app_name: "devauth CLI".to_string(),
            server: None,
            allow_insecure_http: false,
            insecure_storage: false,
            env,
        }
    }

    /// The desktop app's defaults: those of [`Options::cli`] with client id
    /// `devauth-desktop`.
    pub fn desktop(env: Env) -> Options {
        Options {
            client_id: DESKTOP_CLIENT_ID.to_string(),
            app_name: "devauth desktop".to_string(),
            ..Options::cli(env)
        }
    }
}

/// Where the token in use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenSource {
    /// `DEVAUTH_TOKEN`.
    Env,
    /// The OS keychain.
    Keychain,
    /// The plaintext token file.
    File,
}

/// One server, its stored token and the config file: what both front ends
/// call. Sign-in, status, sign-out and the API all start here.
pub struct Client {
    options: Options,
    config_file: ConfigFile,
    server: ServerUrl,
    server_source: ServerSource,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    keychain: OnceCell<Arc<dyn TokenStore>>,
    file: OnceCell<Arc<dyn TokenStore>>,
    store_override: Option<Arc<dyn TokenStore>>,
    warn: Arc<dyn Fn(&str) + Send + Sync>,
}

impl Client {
    /// Reads the config and settles which server to talk to. Touches neither
    /// the network nor the keychain.
    pub fn new(options: Options) -> Result<Client, Error> {
        let config_file = ConfigFile::new(config_dir(&options.env)?);
        let config = config_file.load()?;
        let (server, server_source) = resolve_server(
            options.server.as_deref(),
            &options.env,
            &config,
            options.allow_insecure_http,
        )?;
        Ok(Client {
            options,
            config_file,
            server,
            server_source,
            transport: Arc::new(ReqwestTransport::new()?),
            clock: Arc::new(TokioClock),
            keychain: OnceCell::new(),
            file: OnceCell::new(),
            store_override: None,
            warn: Arc::new(|msg| eprintln!("{msg}")),
        })
    }

    /// Sends every HTTP request through `transport` instead of `reqwest`
    /// (tests script the server this way).
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = transport;
        self
    }

    /// Takes time and sleeping from `clock` instead of the wall clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses this store for every token instead of the keychain or file.
    pub fn with_token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store_override = Some(store);
        self
    }

    /// Where warnings (plaintext storage in use) go; stderr by default.
    pub fn with_warning_sink(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.warn = Arc::new(sink);
        self
    }

    /// The server this client talks to.
    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// Where the server URL came from.
    pub fn server_source(&self) -> ServerSource {
        self.server_source
    }

    /// The options the client was made with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The config file in use.
    pub fn config_file(&self) -> &ConfigFile {
        &self.config_file
    }

    /// The config as it is on disk now.
    pub fn config(&self) -> Result<Config, Error> {
        Ok(self.config_file.load()?)
    }

    /// Load, change, save. Reloads first so concurrent runs lose as little
    /// as possible.
    fn update_config(&self, change: impl FnOnce(&mut Config)) -> Result<Config, Error> {
        let mut config = self.config_file.load()?;
        change(&mut config);
        config.prune();
        self.config_file.save(&config)?;
        Ok(config)
    }

    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from(self.clock.now())
    }

    /// The storage backend for this server: the flag, then what the last
    /// sign-in used, then the config, then the keychain.
    pub fn storage_kind(&self) -> Result<StorageKind, Error> {
        if self.options.insecure_storage {
            return Ok(StorageKind::File);
        }
        let config = self.config()?;
        if let Some(account) = config.account(&self.server)
            && (account.signed_in || account.pending_revocation)
        {
            return Ok(account.storage);
        }
        Ok(config.storage.unwrap_or_default())
    }

    /// The token store for this server, opened (the keychain under a timeout).
    pub async fn token_store(&self) -> Result<Arc<dyn TokenStore>, Error> {
        let kind = self.storage_kind()?;
        self.store_for(kind).await
    }

    async fn store_for(&self, kind: StorageKind) -> Result<Arc<dyn TokenStore>, Error> {
        if let Some(store) = &self.store_override {
            return Ok(store.clone());
        }
        match kind {
            StorageKind::File => {
                let store = self
                    .file
                    .get_or_init(|| async {
                        let warn = self.warn.clone();
                        let store = FileStore::in_dir(self.config_file.dir())
                            .with_warning_sink(move |m| warn(m));
                        Arc::new(store) as Arc<dyn TokenStore>
                    })
                    .await;
                Ok(store.clone())
            }
            StorageKind::Keychain => {
                let store = self
                    .keychain
                    .get_or_try_init(|| async {
                        let store = KeyringStore::platform().await?;
                        Ok::<_, Error>(Arc::new(store) as Arc<dyn TokenStore>)
                    })
                    .await?;
                Ok(store.clone())
            }
        }
    }

    /// The token to use: `DEVAUTH_TOKEN`, else the stored one. A stored token
    /// that is known to have expired is an error, not a request doomed to 401.
    pub async fn current_token(&self) -> Result<(Secret, TokenSource), Error> {
        if let Some(token) = &self.options.env.token {
            return Ok((token.clone(), TokenSource::Env));
        }
        let store = match self.token_store().await {
            Ok(store) => store,
            Err(_) if !self.recorded_sign_in()? => {
                return Err(Error::NotSignedIn {
                    server: self.server.to_string(),
                });
            }
            Err(e) => return Err(e),
        };
        let source = match store.kind() {
            StorageKind::Keychain => TokenSource::Keychain,
            StorageKind::File => TokenSource::File,
        };
        let token = store
            .get(self.server.as_str())
            .await?
            .ok_or_else(|| Error::NotSignedIn {
                server: self.server.to_string(),
            })?;
        let config = self.config()?;
        if let Some(at) = config
            .account(&self.server)
            .and_then(|a| a.token_expires_at.as_deref())
            .and_then(parse_time)
            && at <= self.now()
        {
            return Err(Error::TokenExpired {
                server: self.server.to_string(),
                at: crate::api::format_time(at),
            });
        }
        Ok((token, source))
    }

    /// Whether the config records a token (or a pending revocation) for
    /// this server.
    fn recorded_sign_in(&self) -> Result<bool, Error> {
        Ok(self
            .config()?
            .account(&self.server)
            .is_some_and(|a| a.signed_in || a.pending_revocation))
    }

    /// An API client with the current token.
    pub async fn api(&self) -> Result<ApiClient, Error> {
        let (token, _) = self.current_token().await?;
        Ok(self.api_with(token))
    }

    /// The server's event stream for the stored token (`GET /api/events`).
    pub async fn events(&self) -> Result<crate::events::EventStream, Error> {
        let (token, _) = self.current_token().await?;
        Ok(crate::events::EventStream::connect(&self.server, &token).await?)
    }

    fn api_with(&self, token: Secret) -> ApiClient {
        ApiClient::new(self.transport.clone(), self.server.clone(), token)
    }

    /// Fetches and checks the server's OAuth metadata.
    pub async fn discover(&self) -> Result<Endpoints, Error> {
        self.discover_server(&self.server).await
    }

    async fn discover_server(&self, server: &ServerUrl) -> Result<Endpoints, Error> {
        let insecure_ok = self.options.allow_insecure_http || server.is_insecure();
        Ok(discover(self.transport.as_ref(), server, insecure_ok).await?)
    }
}

#[cfg(test)]
mod tests;
