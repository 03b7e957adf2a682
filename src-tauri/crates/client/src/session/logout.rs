use super::Client;
use crate::api::{self, ApiError};
use crate::discovery::{DiscoveryError, ServerUrl};
use crate::error::Error;
use crate::secret::Secret;
use crate::token_store::{
    StorageKind, add_pending_revocation, pending_revocations, set_pending_revocations,
};

/// What sign-out achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignOut {
    /// Revoked on the server and removed from this machine.
    Revoked,
    /// No token was stored for this server.
    NotSignedIn,
    /// The server could not be reached. The token is gone from normal use
    /// here but kept in the token store until a later run revokes it.
    RevocationPending {
        /// Why the server could not be reached.
        reason: String,
    },
    /// The server refused or cannot revoke tokens. Removed from this machine;
    /// the token may still work until it expires.
    NotRevoked {
        /// Why the token was not revoked.
        reason: String,
    },
}

/// One server's pending revocations after a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryReport {
    /// The server, as its canonical URL.
    pub server: String,
    /// How many tokens this retry revoked.
    pub revoked: usize,
    /// How many still wait to be revoked (0 when the retry failed before it
    /// could count them; `error` says why).
    pub remaining: usize,
    /// Why some remain.
    pub error: Option<String>,
}

/// Worth retrying later: the server was not reached or failed.
fn is_transient(e: &Error) -> bool {
    matches!(
        e,
        Error::Discovery(DiscoveryError::Unreachable { .. })
            | Error::Api(ApiError::Network(_) | ApiError::Server { .. })
            | Error::Transport(_)
    )
}

/// The network-level cause, without the advice wrapped around it.
fn short_reason(e: &Error) -> String {
    match e {
        Error::Discovery(DiscoveryError::Unreachable { source, .. })
        | Error::Api(ApiError::Network(source))
        | Error::Transport(source) => source.to_string(),
        Error::Api(ApiError::Server { status, message }) => {
            format!("the server failed with {status}: {message}")
        }
        other => other.to_string(),
    }
}

impl Client {
    /// Revokes the stored token at the server, then forgets it. When the
    /// server is unreachable the token is forgotten for normal use but kept
    /// as a pending revocation that later runs retry.
    pub async fn logout(&self) -> Result<SignOut, Error> {
        if self.options.env.token.is_some() {
            return Err(Error::TokenFromEnv);
        }
        let store = self.token_store().await?;
        let account = self.server.as_str().to_string();
        let Some(token) = store.get(&account).await? else {
            self.forget_account(false)?;
            return Ok(SignOut::NotSignedIn);
        };
        let outcome = match self.revoke_now(&token, None).await {
            Ok(()) => SignOut::Revoked,
            Err(e) if is_transient(&e) => {
                // Record the pending revocation before deleting the token, so
                // no crash in between can lose track of it.
                add_pending_revocation(store.as_ref(), &self.server, &token).await?;
                SignOut::RevocationPending {
                    reason: short_reason(&e),
                }
            }
            Err(e) => SignOut::NotRevoked {
                reason: e.to_string(),
            },
        };
        let pending = matches!(outcome, SignOut::RevocationPending { .. });
        store.delete(&account).await?;
        self.forget_account(pending)?;
        Ok(outcome)
    }

    fn forget_account(&self, pending: bool) -> Result<(), Error> {
        self.update_config(|c| {
            let a = c.account_mut(&self.server);
            let keep_storage = a.storage;
            let insecure = a.allow_insecure_http;
            let was_pending = a.pending_revocation;
            *a = Default::default();
            a.storage = keep_storage;
            a.allow_insecure_http = insecure;
            a.pending_revocation = pending || was_pending;
        })?;
        Ok(())
    }

    /// Retries revocations left over from offline sign-outs, for every server
    /// that has some. Cheap when there are none: only the config is read.
    pub async fn retry_pending_revocations(&self) -> Vec<RetryReport> {
        let Ok(config) = self.config() else {
            return Vec::new();
        };
        let mut reports = Vec::new();
        for (raw, account) in config.accounts.iter().filter(|(_, a)| a.pending_revocation) {
            let Ok(server) = ServerUrl::parse(raw, true) else {
                continue;
            };
            let report = self
                .retry_one(&server, account.storage)
                .await
                .unwrap_or_else(|e| RetryReport {
                    server: server.to_string(),
                    revoked: 0,
                    remaining: 0,
                    error: Some(e.to_string()),
                });
            reports.push(report);
        }
        reports
    }

    async fn retry_one(&self, server: &ServerUrl, kind: StorageKind) -> Result<RetryReport, Error> {
        let store = self.store_for(kind).await?;
        let tokens = pending_revocations(store.as_ref(), server).await?;
        let total = tokens.len();
        let mut report = RetryReport {
            server: server.to_string(),
            revoked: 0,
            remaining: 0,
            error: None,
        };
        let mut keep: Vec<Secret> = Vec::new();
        if !tokens.is_empty() {
            match self.discover_server(server).await {
                Err(e) => {
                    report.error = Some(short_reason(&e));
                    keep = tokens;
                }
                Ok(endpoints) => match endpoints.revocation {
                    None => report.error = Some(format!("{server} offers no revocation endpoint")),
                    Some(endpoint) => {
                        for token in tokens {
                            let result = api::revoke(
                                self.transport.as_ref(),
                                &endpoint,
                                &self.options.client_id,
                                &token,
                            )
                            .await
                            .map_err(Error::from);
                            match result {
                                Ok(()) => report.revoked += 1,
                                Err(e) if is_transient(&e) => {
                                    report.error = Some(short_reason(&e));
                                    keep.push(token);
                                }
                                // Refused for good: retrying cannot help.
                                Err(e) => report.error = Some(e.to_string()),
                            }
                        }
                    }
                },
            }
        }
        report.remaining = keep.len();
        if keep.len() != total {
            set_pending_revocations(store.as_ref(), server, &keep).await?;
        }
        if keep.is_empty() {
            self.update_config(|c| c.account_mut(server).pending_revocation = false)?;
        }
        Ok(report)
    }
}
