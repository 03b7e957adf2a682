//! devauth-server: the verification server for devauth's device sign-in.
//!
//! It runs the OAuth 2.0 Device Authorization Grant (RFC 8628) and manages
//! every token it issues. A library first (`app` builds the router, `start`
//! and `serve` run it), with a thin binary that adds an admin CLI.
//!
//! - [`server`]: opening the store, the setup token, binding, graceful stop;
//!   [`conn`]: accepting connections with timeouts and a cap.
//! - [`router`]: the whole server as one router, composed there only;
//!   `request`: the request layer (request id, client IP, the log line);
//!   [`client_ip`]: who the client is behind the operator's proxies;
//!   [`route_table`]: routes that remember their paths.
//! - `http`: the JSON and OAuth routes and their extractors: `http::oauth`
//!   (RFC endpoints), `http::me`, `http::tokens`, `http::orgs`,
//!   `http::device` (the JSON API), `http::stream` (events), `http::ops`
//!   (health, metrics), `http::error` (domain errors
//!   to answers).
//! - [`openapi`]: the OpenAPI document of the whole server, above `http`
//!   and `web`, served at `/openapi.json`.
//! - [`error`]: the domain error every service returns; `wire`: stored
//!   values in the shape of the wire contract (`devauth-proto`).
//! - `device_flow`: starting, polling and redeeming device authorizations,
//!   and the approval service (look up, approve, deny by user code, with
//!   the grant the approver narrows).
//! - [`device_policy`]: an org's device policy (on/off, networks, lifetime
//!   cap, enforce or report); [`org_policy`]: reading and changing it.
//! - [`policy`]: who may do what — the one place that decides, for every
//!   principal (session, user token, service token, the system).
//! - [`tokens`]: issuing, listing, revoking and rotating tokens.
//! - [`auth`]: bearer tokens to a [`policy::Principal`] with its live role;
//!   [`cache`] keeps validations in memory, invalidated by [`events`].
//! - [`events`]: changes announced in-process and to other replicas.
//! - [`members`]: org membership and roles, with revocation cascades;
//!   [`invitations`]: joining an org by a one-time link; [`resets`]: one-time
//!   password reset links.
//! - `audit`: reading the audit log.
//! - [`identity`]: users, orgs, input validation, sign-in;
//!   [`password`]: argon2id behind a gate sized to the CPUs.
//! - `setup`: the first-run claim; [`retention`]: purging what has expired.
//! - [`store`]: the [`store::Store`] trait and its SQLite and PostgreSQL backends.
//! - [`model`]: the data types everything above passes around.
//! - [`secret`]: generating, hashing and redacting secrets.
//! - [`clock`]: injected time; `rate_limit`: attempt budgets; `flood`: the
//!   per-process flood limit; `holds`: caps
//!   on what clients hold open; `usage`, `metrics`: in-memory bookkeeping.
//! - `web`: the browser pages (sign-in, device confirmation, account,
//!   admin, setup), server-rendered with askama, CSRF-protected.
//! - [`admin`]: the admin CLI commands, on the same services.

#![warn(missing_docs)]

pub mod admin;
pub(crate) mod audit;
pub mod auth;
pub mod cache;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod conn;
pub(crate) mod device_flow;
pub mod device_policy;
pub mod error;
pub mod events;
pub(crate) mod flood;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod holds;
pub(crate) mod http;
pub mod identity;
pub mod invitations;
pub mod mail;
pub mod members;
pub(crate) mod metrics;
pub mod model;
pub mod openapi;
pub mod org_policy;
pub mod passkeys;
pub mod password;
pub mod policy;
pub(crate) mod rate_limit;
pub(crate) mod request;
pub mod resets;
pub mod retention;
pub mod route_table;
pub mod router;
pub mod secret;
pub mod server;
pub(crate) mod setup;
pub mod sso;
pub mod state;
pub mod store;
pub mod tokens;
pub(crate) mod usage;
pub(crate) mod web;
pub(crate) mod wire;

pub use config::Config;
pub use router::app;
pub use server::{RunningServer, ServeError, serve, start};
pub use state::AppState;
