use serde::Serialize;

use super::{Client, TokenSource};
use crate::api::{ApiError, Expiry, MeToken, parse_time};
use crate::config::ServerSource;
use crate::error::{Error, exit};
use crate::secret::Secret;
use crate::text;
use crate::token_store::{KeychainKind, active_keyring_store};

/// Whether the token for this server works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthState {
    /// The server accepted the token (or has no `/me` to ask).
    SignedIn,
    /// No token for this server.
    SignedOut,
    /// Past its expiry time.
    Expired,
    /// The server answered 401: revoked, or expired by the server's clock.
    Revoked,
    /// The server could not be asked; `reason` says why.
    Unknown,
}

/// Who a status is about: from `/me`, or from the last sign-in when the
/// server cannot be asked (then without an id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusUser {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// The org a status is about, likewise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusOrg {
    pub id: String,
    pub slug: Option<String>,
    pub name: Option<String>,
}

/// `devauth status`: what is known about the sign-in at one server.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The server, as its canonical URL.
    pub server: String,
    /// Where the server URL came from.
    pub server_source: ServerSource,
    /// Whether the token works.
    pub state: AuthState,
    /// Why the state is what it is, when there is more to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The user, from `/me`; when the server cannot be asked, as the last
    /// sign-in recorded it (never for a `DEVAUTH_TOKEN` token).
    pub user: Option<StatusUser>,
    /// The org, likewise.
    pub org: Option<StatusOrg>,
    /// The user's role in the org, likewise.
    pub role: Option<String>,
    /// The token, as `/me` describes it.
    pub token: Option<MeToken<'static>>,
    /// RFC 3339; `null` with a token means it never expires (or is unknown).
    pub expires_at: Option<String>,
    /// "expires in 90 days", "never expires", ...
    pub expires: Option<String>,
    /// Where the token comes from; `None` when there is none.
    pub token_source: Option<TokenSource>,
    /// Where the token lives, for people ("Secret Service keychain").
    pub storage: Option<String>,
    /// Which keychain holds the token, when it is the keychain:
    /// `secret_service`, `macos_keychain`, `windows_credential_manager` or
    /// `other`.
    pub keychain: Option<KeychainKind>,
    /// Tokens from an earlier sign-out still wait to be revoked at this server.
    pub pending_revocation: bool,
}

impl Status {
    /// 0 signed in; 1 signed out, expired or revoked; 3 server unreachable.
    pub fn exit_code(&self) -> i32 {
        match self.state {
            AuthState::SignedIn => exit::OK,
            AuthState::SignedOut | AuthState::Expired | AuthState::Revoked => exit::SIGNED_OUT,
            AuthState::Unknown => exit::NETWORK,
        }
    }
}

impl Client {
    /// Reads the token (without printing it), asks `/me` and reports. A
    /// keychain that cannot be opened is an error, not "signed out".
    pub async fn status(&self) -> Result<Status, Error> {
        self.status_of(self.options.env.token.as_ref()).await
    }

    /// [`Client::status`] of the stored sign-in, whatever `DEVAUTH_TOKEN`
    /// holds: what a new sign-in would replace.
    pub async fn stored_status(&self) -> Result<Status, Error> {
        self.status_of(None).await
    }

    /// The status of `env_token` when there is one, else of the stored token.
    async fn status_of(&self, env_token: Option<&Secret>) -> Result<Status, Error> {
        let config = self.config()?;
        let account = config.account(&self.server).cloned().unwrap_or_default();
        let mut status = Status {
            server: self.server.to_string(),
            server_source: self.server_source,
            state: AuthState::SignedOut,
            reason: None,
            user: None,
            org: None,
            role: None,
            token: None,
            expires_at: None,
            expires: None,
            token_source: None,
            storage: None,
            keychain: None,
            pending_revocation: account.pending_revocation,
        };

        let (token, source) = if let Some(token) = env_token {
            status.storage = Some("environment variable DEVAUTH_TOKEN".to_string());
            (token.clone(), TokenSource::Env)
        } else {
            let store = match self.token_store().await {
                Ok(store) => store,
                // Nothing was ever stored here, so the answer is known anyway.
                Err(e) if !account.signed_in && !account.pending_revocation => {
                    let why = match &e {
                        Error::Store(store) => store.one_line(),
                        other => other.to_string(),
                    };
                    status.reason = Some(format!(
                        "not signed in to {}; also, the token store cannot be opened: {why}",
                        self.server
                    ));
                    return Ok(status);
                }
                Err(e) => return Err(e),
            };
            status.storage = Some(store.describe());
            if store.kind() == crate::token_store::StorageKind::Keychain {
                status.keychain = active_keyring_store().map(|s| s.kind());
            }
            let source = match store.kind() {
                crate::token_store::StorageKind::Keychain => TokenSource::Keychain,
                crate::token_store::StorageKind::File => TokenSource::File,
            };
            match store.get(self.server.as_str()).await? {
                Some(token) => (token, source),
                None => {
                    status.reason = Some(format!("not signed in to {}", self.server));
                    return Ok(status);
                }
            }
        };
        status.token_source = Some(source);

        // What the last sign-in recorded, shown when the server cannot be asked.
        if source != TokenSource::Env {
            status.user = account.user_email.as_ref().map(|email| StatusUser {
                id: String::new(),
                email: Some(text::name(email)),
                name: account.user_name.as_deref().map(text::name),
            });
            status.org = account.org.as_ref().map(|slug| StatusOrg {
                id: String::new(),
                slug: Some(slug.clone()),
                name: account.org_name.as_deref().map(text::name),
            });
            status.role = account.role.clone();
            status.expires_at = account.token_expires_at.clone();
        }
        let now = self.now();
        let locally_expired = status
            .expires_at
            .as_deref()
            .and_then(parse_time)
            .is_some_and(|at| at <= now);
        if locally_expired {
            status.state = AuthState::Expired;
            status.expires = Some(Expiry::Expired.describe());
            status.reason = Some("the token has expired; sign in again".to_string());
            return Ok(status);
        }

        match self.api_with(token).me().await {
            Ok(me) => {
                status.state = AuthState::SignedIn;
                status.user = me.user.map(|u| StatusUser {
                    id: u.id.into_owned(),
                    email: Some(text::name(&u.email)),
                    name: Some(text::name(&u.name)),
                });
                status.org = Some(StatusOrg {
                    id: me.org.id.into_owned(),
                    slug: Some(me.org.slug.into_owned()),
                    name: Some(text::name(&me.org.name)),
                });
                status.role = Some(me.role.into_owned());
                status.expires_at = me.token.expires_at.clone();
                status.token = Some(me.token);
            }
            Err(ApiError::Unauthorized { .. }) => {
                status.state = AuthState::Revoked;
                status.reason =
                    Some("the server rejected the token: it was revoked or has expired".into());
            }
            Err(ApiError::NotFound { .. }) => {
                status.state = AuthState::SignedIn;
                status.reason = Some("this server has no /me endpoint".into());
            }
            Err(e) => {
                status.state = AuthState::Unknown;
                status.reason = Some(e.to_string());
            }
        }
        if matches!(status.state, AuthState::SignedIn | AuthState::Unknown) {
            let known = status.token.is_some() || status.expires_at.is_some();
            if known {
                status.expires =
                    Some(Expiry::from_rfc3339(status.expires_at.as_deref(), now).describe());
            }
        }
        Ok(status)
    }
}
