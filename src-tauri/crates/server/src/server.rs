//! Running the server: open the store, settle the setup token, bind, serve
//! until told to stop. `start` is what tests and the desktop app call;
//! `serve` adds the console lines and signal handling for the binary.

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::secret::{Secret, new_setup_token};
use crate::state::AppState;
use crate::store::{self, redact_url};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Why a server could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A setting is invalid, or no default database location exists.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The database could not be opened or read.
    #[error("cannot open the database {url}: {source}")]
    Store {
        /// The database URL, password redacted.
        url: String,
        /// What the store reported.
        source: store::StoreError,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from the configuration.
        addr: String,
        /// What the OS reported.
        source: std::io::Error,
    },
    /// Any other I/O failure: reading the bound address, or serving.
    #[error("server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// A server running in this process.
pub struct RunningServer {
    /// The address bound (with the real port when port 0 was asked for).
    pub addr: SocketAddr,
    /// The issuer URL, e.g. `http://127.0.0.1:8750`.
    pub url: String,
    /// The state the server runs on, for calling services directly.
    pub state: AppState,
    /// The setup token in force while setup is unclaimed.
    pub setup_token: Option<Secret>,
    /// True when the setup token was generated here (and must be shown to the operator).
    pub setup_token_generated: bool,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    /// Relays other replicas' events (PostgreSQL); ended by `stop`.
    relay: Option<JoinHandle<()>>,
    /// Purges expired rows on a schedule; ended by `stop`.
    purger: Option<crate::retention::Schedule>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let served = match (&mut self.task).await {
            Ok(result) => result.map_err(ServeError::from),
            Err(join) => Err(ServeError::Io(std::io::Error::other(join))),
        };
        // Ending the relay drops its receiver, which ends the LISTEN task and
        // its connection.
        if let Some(relay) = self.relay.take() {
            relay.abort();
        }
        if let Some(purger) = self.purger.take() {
            purger.stop().await;
        }
        // Background tasks may still hold the state: close the database now,
        // so that another process can open it as if this one had exited.
        self.state.store.close().await;
        served
    }

    /// Waits until the server stops by itself (it normally does not).
    pub async fn wait(mut self) -> Result<(), ServeError> {
        match (&mut self.task).await {
            Ok(result) => Ok(result?),
            Err(join) => Err(ServeError::Io(std::io::Error::other(join))),
        }
    }
}

/// Opens the store and binds; the server is accepting when this returns.
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<RunningServer, ServeError> {
    config.validate().map_err(ServeError::Config)?;
    let url = match &config.database_url {
        Some(url) => url.clone(),
        None => store::default_database_url().map_err(|e| ServeError::Config(e.to_string()))?,
    };
    let store = store::connect(&url)
        .await
        .map_err(|source| ServeError::Store {
            url: redact_url(&url),
            source,
        })?;
    let claimed = store
        .setup_claimed()
        .await
        .map_err(|source| ServeError::Store {
            url: redact_url(&url),
            source,
        })?;
    let (setup_token, generated) = match (&config.setup_token, claimed) {
        (_, true) => (None, false),
        (Some(token), false) => (Some(token.clone()), false),
        (None, false) => (Some(new_setup_token()), true),
    };
    let listener = tokio::net::TcpListener::bind(&config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr.clone(),
            source,
        })?;
    let addr = listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| {
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        format!("http://{host}:{}", addr.port())
    });
    let remote = store.listen();
    let state = AppState::new(
        store,
        clock,
        config,
        public_url.clone(),
        setup_token.clone(),
    );
    let relay = remote.map(|mut remote| {
        // Other replicas' events: wake our long polls and event streams too.
        let state = state.clone();
        tokio::spawn(async move {
            while let Some(heard) = remote.recv().await {
                let payload = match heard {
                    // (Re)connected: events may have been missed meanwhile,
                    // so the cache starts empty.
                    store::Remote::Connected => {
                        state.policies.clear();
                        state.cache.set_live(true);
                        continue;
                    }
                    // Until the listener is back, every use reads the database.
                    store::Remote::Lost => {
                        state.cache.set_live(false);
                        continue;
                    }
                    store::Remote::Event(payload) => payload,
                };
                match serde_json::from_str::<crate::events::Envelope>(&payload) {
                    Ok(envelope) if envelope.origin != state.bus.instance => {
                        state.deliver(envelope.event)
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, "ignoring an unreadable event from another replica")
                    }
                }
            }
        })
    });
    let app = crate::router::app(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(crate::conn::serve(listener, app, state.clone(), rx));
    let purger = crate::retention::Schedule::start(state.clone(), state.config.purge_interval);
    Ok(RunningServer {
        addr,
        url: state.public_url.clone(),
        state,
        setup_token,
        setup_token_generated: generated,
        shutdown: Some(tx),
        task,
        relay,
        purger,
    })
}

/// The binary's `serve`: start, say where, run until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let skip = config.dangerously_skip_setup_token;
    let server = start(config, Arc::new(SystemClock)).await?;
    tracing::info!(backend = server.state.store.backend(), url = %server.url, "devauth-server started");
    println!("listening on http://{}", server.addr);
    if let Some(token) = &server.setup_token {
        if skip {
            println!(
                "WARNING: --dangerously-skip-setup-token: anyone who can reach this server can claim it. Use only for local development."
            );
        }
        println!("setup: not claimed yet; claim it at {}/setup", server.url);
        if server.setup_token_generated {
            // Printed once, on the console only (never to the log).
            println!("setup token: {}", token.expose());
        }
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
