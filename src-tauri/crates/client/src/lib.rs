//! devauth-client: sign in to a devauth server (or any RFC 8628 server) from
//! a device, keep the token in the OS keychain, and call the devauth API. The
//! `devauth` CLI (`src/main.rs`, `src/cli/`) and the desktop app are two thin
//! front ends over this library; it knows nothing about either.
//!
//! # Module map
//!
//! **[`session`]** is where front ends start. [`session::Client`] ties one
//! server, the config file and the token store together: sign-in
//! ([`Client::begin_login`] then [`Client::finish_login`], or
//! [`Client::login_with_token`]), [`Client::status`], [`Client::logout`]
//! (revoke, then forget; offline it keeps a pending revocation in the token
//! store) and [`Client::retry_pending_revocations`].
//!
//! **[`discovery`]** owns server URLs and metadata. [`discovery::ServerUrl`]
//! normalizes a URL to the one spelling that also names the keychain entry and
//! refuses plain `http://` except to loopback. [`discovery::discover`] reads
//! RFC 8414 metadata, falling back to OpenID discovery, and checks the
//! endpoints it finds.
//!
//! **[`device_flow`]** runs the RFC 8628 device authorization grant through the
//! `oauth2` crate: start (client id, device name, scope only when the server
//! lists `openid`), then poll honouring `interval`, `slow_down` and
//! `expires_in`, cancellable, with time and sleeping taken from a
//! [`clock::Clock`]. Every RFC error becomes a [`device_flow::DeviceFlowError`]
//! whose message says what to do next.
//!
//! **[`token_store`]** keeps tokens: [`token_store::KeyringStore`] (the OS
//! keychain via `keyring`, every call on its own thread under a timeout, with a
//! probe used before sign-in) and [`token_store::FileStore`] (a 0600 plaintext
//! file, only when asked for, announcing itself on every use). It also holds
//! the pending-revocation list kept after an offline sign-out.
//!
//! **[`config`]** is the non-secret side: `config.json` in the platform config
//! directory (or `DEVAUTH_CONFIG_DIR`), the environment overrides
//! `DEVAUTH_SERVER` and `DEVAUTH_TOKEN` ([`config::Env`]), and which server a
//! command talks to.
//!
//! **[`api`]** is the devauth HTTP API with a bearer token: `/me`, the token
//! list, creation and revocation, plus RFC 7009 revocation
//! ([`api::revoke`]). A 401 is [`api::ApiError::Unauthorized`].
//!
//! **[`transport`]** is the one HTTP seam: a [`transport::Transport`] trait
//! with a `reqwest` (rustls) implementation. Discovery, the device flow, the
//! API and revocation all go through it, so tests script the server. It also
//! turns HTTP-200 OAuth error bodies into the 400s they should be.
//!
//! **[`clock`]** abstracts time for the poller: real tokio sleeping, or a
//! manual clock that moves instantly in tests.
//!
//! **[`secret`]** is [`secret::Secret`], the wrapper every token and device
//! code lives in; its `Debug` and `Display` print `Secret(redacted)`.
//!
//! **[`error`]** gathers the per-module errors into [`error::Error`], with the
//! CLI's exit code and a stable machine-readable code for each failure.

// Tests may unwrap; the non-test build still denies it everywhere else.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod api;
pub mod clock;
pub mod config;
pub mod device_flow;
pub mod discovery;
pub mod error;
pub mod events;
pub mod secret;
pub mod session;
pub mod text;
pub mod token_store;
pub mod transport;

pub use error::Error;
pub use secret::Secret;
pub use session::{Client, Options};
