//! devauth-proto: the wire contract of devauth, as Rust types.
//!
//! Every request and response body of the JSON API and the OAuth endpoints,
//! the error body, and the payloads of the event stream. The server builds
//! its answers from these types, the client and the test harness read them,
//! and with the `openapi` feature each type also describes itself for the
//! server's `GET /openapi.json`. Field names and shapes are the contract:
//! renaming a field here changes the API (a recorded-shape test says so).
//!
//! - [`vocabulary`]: roles, scopes, token kinds, device request states.
//! - [`account`]: `/me` and the token API.
//! - [`orgs`]: members, roles and the audit log.
//! - [`device`]: approving device requests, and the setup claim.
//! - [`oauth`]: RFC 8414 metadata, RFC 8628 and RFC 6749 answers, errors.
//! - [`events`]: what `GET /api/events` sends.
//! - [`text`]: which characters may appear in names people read.
//!
//! Times are RFC 3339 text in UTC ([`Time`]). Secrets are [`Secret`]: sent
//! as plain strings, never shown by `Debug`.

#![warn(missing_docs)]

pub mod account;
pub mod device;
pub mod events;
pub mod oauth;
pub mod orgs;
pub mod text;
pub mod vocabulary;

pub use account::*;
pub use device::*;
pub use events::*;
pub use oauth::*;
pub use orgs::*;
pub use vocabulary::*;

/// A time as RFC 3339 text in UTC, e.g. `2026-01-31T12:00:00Z`.
pub type Time = String;

/// A secret on the wire (a token, a device code, a password): a plain JSON
/// string, whose `Debug` shows `[redacted]` so that it never reaches a log.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself: only where it is sent or stored.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}
