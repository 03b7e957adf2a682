//! The crate-wide [`Error`], the CLI's exit codes ([`exit`]) and a stable
//! machine-readable code for each failure.

use crate::api::ApiError;
use crate::config::ConfigError;
use crate::device_flow::DeviceFlowError;
use crate::discovery::{DiscoveryError, UrlError};
use crate::token_store::StoreError;
use crate::transport::TransportError;

/// Process exit codes of the `devauth` CLI, one per kind of failure.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Not signed in, or the token expired or was revoked.
    pub const SIGNED_OUT: i32 = 1;
    /// Bad arguments or configuration, or a request the server refused (400/403/404).
    pub const USAGE: i32 = 2;
    /// The server could not be reached or misbehaved.
    pub const NETWORK: i32 = 3;
    /// The OS keychain (or the requested token file) is unavailable.
    pub const KEYCHAIN: i32 = 4;
    /// The sign-in request was denied, expired, or approved for the wrong org.
    pub const FLOW: i32 = 5;
    /// Interrupted (Ctrl-C).
    pub const CANCELLED: i32 = 130;
}

/// Everything that can go wrong in a devauth operation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A server URL was refused.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The config directory or file cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server's OAuth metadata cannot be fetched or used.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The device authorization did not produce a token.
    #[error(transparent)]
    DeviceFlow(#[from] DeviceFlowError),
    /// The token store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A devauth API call or a revocation failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The HTTP client cannot be set up, or a request got no response.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// No token is stored for the server.
    #[error("not signed in to {server}. Sign in with `devauth login`")]
    NotSignedIn {
        /// The server, as its canonical URL.
        server: String,
    },
    /// The stored token's recorded expiry time has passed.
    #[error("the token for {server} expired at {at}. Sign in again with `devauth login`")]
    TokenExpired {
        /// The server, as its canonical URL.
        server: String,
        /// When the token expired, RFC 3339.
        at: String,
    },
    /// The sign-in was approved for another org than the one asked for.
    /// Nothing is stored, and a token from the device flow is revoked.
    #[error(
        "the request was approved for org `{got}`, but `{wanted}` was asked for; the new token \
         was revoked. Sign in again and choose `{wanted}` on the approval page"
    )]
    WrongOrg {
        /// The org slug asked for.
        wanted: String,
        /// The org slug the token belongs to.
        got: String,
    },
    /// Sign-out was asked for while the token comes from `DEVAUTH_TOKEN`,
    /// which devauth never stored.
    #[error(
        "the token comes from the DEVAUTH_TOKEN environment variable, which devauth never \
         stored; unset it (and revoke the token on the server if it leaked)"
    )]
    TokenFromEnv,
    /// Any other failure; the text says what. Exits with [`exit::USAGE`].
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The `devauth` exit code for this failure, one of the [`exit`] codes.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Url(_) | Error::Config(_) | Error::TokenFromEnv | Error::Usage(_) => exit::USAGE,
            Error::Discovery(DiscoveryError::Url(_)) => exit::USAGE,
            Error::Discovery(_) | Error::Transport(_) => exit::NETWORK,
            Error::DeviceFlow(e) => match e {
                DeviceFlowError::Denied { .. }
                | DeviceFlowError::Expired { .. }
                | DeviceFlowError::InvalidGrant { .. } => exit::FLOW,
                DeviceFlowError::Cancelled => exit::CANCELLED,
                _ => exit::NETWORK,
            },
            Error::Store(_) => exit::KEYCHAIN,
            Error::Api(e) => match e {
                ApiError::Unauthorized { .. } => exit::SIGNED_OUT,
                ApiError::Forbidden { .. }
                | ApiError::NotFound { .. }
                | ApiError::Rejected { .. } => exit::USAGE,
                ApiError::Server { .. } | ApiError::Network(_) | ApiError::Protocol(_) => {
                    exit::NETWORK
                }
            },
            Error::NotSignedIn { .. } | Error::TokenExpired { .. } => exit::SIGNED_OUT,
            Error::WrongOrg { .. } => exit::FLOW,
        }
    }

    /// A stable machine-readable name for the failure (for `--json` output
    /// and the desktop UI).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Url(UrlError::InsecureHttp { .. }) => "insecure_http",
            Error::Url(_) => "invalid_server_url",
            Error::Config(_) => "config",
            Error::Discovery(DiscoveryError::Unreachable { .. }) | Error::Transport(_) => {
                "unreachable"
            }
            Error::Discovery(DiscoveryError::Url(_)) => "invalid_server_url",
            Error::Discovery(_) => "discovery",
            Error::DeviceFlow(e) => match e {
                DeviceFlowError::Denied { .. } => "access_denied",
                DeviceFlowError::Expired { .. } => "expired_token",
                DeviceFlowError::InvalidGrant { .. } => "invalid_grant",
                DeviceFlowError::InvalidClient { .. } => "invalid_client",
                DeviceFlowError::Cancelled => "cancelled",
                DeviceFlowError::Network(_) => "unreachable",
                _ => "oauth_error",
            },
            Error::Store(StoreError::File { .. }) => "token_file",
            Error::Store(_) => "keychain_unavailable",
            Error::Api(e) => match e {
                ApiError::Unauthorized { .. } => "unauthorized",
                ApiError::Forbidden { .. } => "forbidden",
                ApiError::NotFound { .. } => "not_found",
                ApiError::Rejected { .. } => "rejected",
                ApiError::Network(_) => "unreachable",
                ApiError::Server { .. } | ApiError::Protocol(_) => "server_error",
            },
            Error::NotSignedIn { .. } => "signed_out",
            Error::TokenExpired { .. } => "token_expired",
            Error::WrongOrg { .. } => "wrong_org",
            Error::TokenFromEnv => "token_from_env",
            Error::Usage(_) => "usage",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_documented_scheme() {
        let denied: Error = DeviceFlowError::Denied {
            detail: String::new(),
        }
        .into();
        assert_eq!((denied.exit_code(), denied.code()), (5, "access_denied"));
        let revoked: Error = ApiError::Unauthorized {
            detail: String::new(),
        }
        .into();
        assert_eq!(revoked.exit_code(), 1);
        let keychain: Error = StoreError::KeychainTimeout { secs: 5 }.into();
        assert_eq!(keychain.exit_code(), 4);
        let insecure: Error = UrlError::InsecureHttp { host: "x".into() }.into();
        assert_eq!(
            (insecure.exit_code(), insecure.code()),
            (2, "insecure_http")
        );
        let offline: Error = ApiError::Network(TransportError::new(
            crate::transport::TransportErrorKind::Connect,
            "refused",
        ))
        .into();
        assert_eq!(offline.exit_code(), 3);
        assert_eq!(Error::from(DeviceFlowError::Cancelled).exit_code(), 130);
    }
}
