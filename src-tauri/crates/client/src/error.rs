use crate::api::ApiError;
use crate::config::ConfigError;
use crate::device_flow::DeviceFlowError;
use crate::discovery::{DiscoveryError, UrlError};
use crate::token_store::StoreError;
use crate::transport::TransportError;

/// Process exit codes of the `devauth` CLI, one per kind of failure.
pub mod exit {
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
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    DeviceFlow(#[from] DeviceFlowError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("not signed in to {server}. Sign in with `devauth login`")]
    NotSignedIn { server: String },
    #[error("the token for {server} expired at {at}. Sign in again with `devauth login`")]
    TokenExpired { server: String, at: String },
    #[error(
        "the request was approved for org `{got}`, but `{wanted}` was asked for; the new token \
         was revoked. Sign in again and choose `{wanted}` on the approval page"
    )]
    WrongOrg { wanted: String, got: String },
    #[error(
        "the token comes from the DEVAUTH_TOKEN environment variable, which devauth never \
         stored; unset it (and revoke the token on the server if it leaked)"
    )]
    TokenFromEnv,
    #[error("{0}")]
    Usage(String),
}

impl Error {
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
