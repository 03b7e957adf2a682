use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::Client;
use crate::api::{self, ApiError, Expiry, Me, format_time};
use crate::config::ServerSource;
use crate::device_flow::{DeviceAuthorization, DeviceFlow, PollEvent, StartRequest, device_name};
use crate::discovery::{Endpoints, ServerUrl};
use crate::error::Error;
use crate::secret::Secret;
use crate::token_store::{TokenStore, add_pending_revocation};

/// What the person asked for at sign-in.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// Fail (and revoke the new token) unless it was approved for this org.
    pub org: Option<String>,
    /// Override the scopes to request.
    pub scopes: Option<Vec<String>>,
}

/// A started device authorization: show [`PendingLogin::authorization`],
/// then hand this to [`Client::finish_login`].
pub struct PendingLogin {
    flow: DeviceFlow,
    authorization: DeviceAuthorization,
    device_name: String,
    store: Arc<dyn TokenStore>,
    org: Option<String>,
}

impl PendingLogin {
    /// The codes and URLs to show the person.
    pub fn authorization(&self) -> &DeviceAuthorization {
        &self.authorization
    }

    /// The name this device gave, which the approval page shows.
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// Where the token will be kept, for people.
    pub fn storage(&self) -> String {
        self.store.describe()
    }
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("authorization", &self.authorization)
            .field("storage", &self.store.describe())
            .finish()
    }
}

/// The outcome of a sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The server signed in to.
    pub server: ServerUrl,
    /// `None` when the server has no `/me` (a non-devauth server) or it
    /// could not be reached right after sign-in; `notes` says which.
    pub me: Option<Me>,
    /// How long the new token has left.
    pub expiry: Expiry,
    /// Where the token is kept, for people ("Secret Service keychain").
    pub storage: String,
    /// Things the person should know (old token revoked later, ...).
    pub notes: Vec<String>,
}

impl SignedIn {
    /// "Signed in as Ada <ada@example.com> in org acme; token expires in 90 days".
    pub fn summary(&self) -> String {
        let who = self.me.as_ref().and_then(|m| m.user.as_ref()).map(|u| {
            match (u.name.as_ref(), u.email.as_ref()) {
                (n, e) if !n.is_empty() => format!("{n} <{e}>"),
                (_, e) => e.to_string(),
            }
        });
        let org = self.me.as_ref().map(|m| m.org.slug.to_string());
        let mut out = match who {
            Some(w) => format!("Signed in as {w}"),
            None => format!("Signed in to {}", self.server),
        };
        if let Some(org) = org {
            out.push_str(&format!(" in org {org}"));
        }
        out.push_str(&format!("; token {}", self.expiry.describe()));
        crate::text::clean(&out, 300)
    }
}

impl Client {
    /// Checks that the token can be stored, discovers the server and starts
    /// a device authorization. Nothing is shown to anyone before the token
    /// store has proved it works.
    pub async fn begin_login(&self, request: &LoginRequest) -> Result<PendingLogin, Error> {
        let store = self.token_store().await?;
        store.probe().await?;
        let endpoints = self.discover().await?;
        let scopes = match &request.scopes {
            Some(s) => s.clone(),
            None => match self.config()?.scopes {
                Some(s) => s,
                None => endpoints.default_scopes(),
            },
        };
        let flow = DeviceFlow::new(
            self.transport.clone(),
            self.clock.clone(),
            endpoints,
            self.options.client_id.clone(),
        );
        let name = device_name(&self.options.app_name);
        let authorization = flow
            .start(&StartRequest {
                device_name: Some(name.clone()),
                scopes,
                org: request.org.clone(),
            })
            .await?;
        Ok(PendingLogin {
            flow,
            authorization,
            device_name: name,
            store,
            org: request.org.clone(),
        })
    }

    /// Polls until the request is approved (or denied, expired, cancelled),
    /// then stores the token and records the sign-in.
    pub async fn finish_login<C>(
        &self,
        pending: PendingLogin,
        cancel: C,
        on_event: impl Fn(&PollEvent) + Send + Sync + 'static,
    ) -> Result<SignedIn, Error>
    where
        C: Future<Output = ()>,
    {
        let issued = pending
            .flow
            .poll(&pending.authorization, cancel, on_event)
            .await?;
        let endpoints = pending.flow.endpoints().clone();
        self.complete_sign_in(
            issued.access_token,
            issued.expires_in,
            pending.store,
            pending.org.as_deref(),
            Some(endpoints),
            true,
        )
        .await
    }

    /// `login --with-token`: checks a token someone already has with `/me`
    /// and stores it.
    pub async fn login_with_token(
        &self,
        token: Secret,
        org: Option<&str>,
    ) -> Result<SignedIn, Error> {
        let token = Secret::new(token.expose().trim().to_string());
        if token.is_empty() {
            return Err(Error::Usage("no token on standard input".to_string()));
        }
        let store = self.token_store().await?;
        store.probe().await?;
        self.complete_sign_in(token, None, store, org, None, false)
            .await
    }

    async fn complete_sign_in(
        &self,
        token: Secret,
        expires_in: Option<Duration>,
        store: Arc<dyn TokenStore>,
        org: Option<&str>,
        endpoints: Option<Endpoints>,
        from_device_flow: bool,
    ) -> Result<SignedIn, Error> {
        let mut notes = Vec::new();
        let me = match self.api_with(token.clone()).me().await {
            Ok(me) => Some(me),
            Err(ApiError::NotFound { .. }) if from_device_flow => {
                notes.push("this server has no /me endpoint; profile details are unknown".into());
                None
            }
            Err(e) if from_device_flow && !matches!(e, ApiError::Unauthorized { .. }) => {
                notes.push(format!("signed in, but could not load your profile: {e}"));
                None
            }
            Err(e) => return Err(e.into()),
        };

        if let Some(wanted) = org {
            let got = me.as_ref().map(|m| m.org.slug.to_string());
            match got {
                Some(got) if got.eq_ignore_ascii_case(wanted) => {}
                Some(got) => {
                    if from_device_flow {
                        let _ = self.revoke_now(&token, endpoints.as_ref()).await;
                    }
                    return Err(Error::WrongOrg {
                        wanted: wanted.to_string(),
                        got,
                    });
                }
                None => notes.push(format!("could not check that the org is `{wanted}`")),
            }
        }

        let account = self.server.as_str().to_string();
        let previous = store.get(&account).await.ok().flatten();
        if let Err(e) = store.set(&account, &token).await {
            if from_device_flow {
                // A token nobody can store is a token nobody should hold.
                let _ = self.revoke_now(&token, endpoints.as_ref()).await;
            }
            return Err(e.into());
        }

        let config = self.config()?;
        let old = config.account(&self.server).cloned().unwrap_or_default();
        // Replacing a device token this client obtained: revoke the old one.
        // Personal tokens given with --with-token may be in use elsewhere:
        // forgotten here, and the note says they still work.
        let replaced = previous.filter(|p| old.signed_in && p.expose() != token.expose());
        match replaced {
            Some(previous) if old.token_kind.as_deref() == Some("device") => {
                match self.revoke_now(&previous, endpoints.as_ref()).await {
                    Ok(()) => notes.push("revoked the token of the previous sign-in".into()),
                    Err(e) => {
                        add_pending_revocation(store.as_ref(), &self.server, &previous).await?;
                        self.update_config(|c| {
                            c.account_mut(&self.server).pending_revocation = true
                        })?;
                        notes.push(format!(
                            "could not revoke the previous token yet ({e}); will retry on the \
                             next run"
                        ));
                    }
                }
            }
            Some(_) => {
                let id = old.token_id.as_deref().unwrap_or("ID");
                notes.push(format!(
                    "the previous {} token was removed from this machine but not revoked, as it \
                     may be in use elsewhere; if not, revoke it: devauth tokens revoke {id}",
                    old.token_kind.as_deref().unwrap_or("stored")
                ));
            }
            None => {}
        }

        let now = self.now();
        let expiry = match me.as_ref().map(|m| &m.token) {
            Some(info) => Expiry::from_rfc3339(info.expires_at.as_deref(), now),
            None => match expires_in {
                Some(d) => Expiry::In(d),
                None => Expiry::Unknown,
            },
        };
        let expires_at = match expiry {
            Expiry::In(d) => Some(format_time(now + d)),
            Expiry::Expired => me.as_ref().and_then(|m| m.token.expires_at.clone()),
            Expiry::Never | Expiry::Unknown => None,
        };
        let storage_kind = store.kind();
        self.update_config(|c| {
            if self.server_source == ServerSource::Flag || c.server.is_none() {
                c.server = Some(self.server.to_string());
            }
            let a = c.account_mut(&self.server);
            a.signed_in = true;
            a.storage = storage_kind;
            a.allow_insecure_http = self.server.is_insecure();
            a.signed_in_at = Some(format_time(now));
            a.token_expires_at = expires_at;
            let user = me.as_ref().and_then(|m| m.user.as_ref());
            a.user_email = user.map(|u| u.email.to_string());
            a.user_name = user.map(|u| u.name.to_string());
            let org = me.as_ref().map(|m| &m.org);
            a.org = org.map(|o| o.slug.to_string());
            a.org_name = org.map(|o| o.name.to_string());
            a.role = me.as_ref().map(|m| m.role.to_string());
            let info = me.as_ref().map(|m| &m.token);
            a.token_id = info.map(|t| t.id.to_string()).filter(|id| !id.is_empty());
            a.token_kind = info
                .map(|t| t.kind.to_string())
                .or_else(|| from_device_flow.then(|| "device".to_string()));
        })?;
        Ok(SignedIn {
            server: self.server.clone(),
            me,
            expiry,
            storage: store.describe(),
            notes,
        })
    }

    /// RFC 7009 revocation of one token at this server.
    pub(super) async fn revoke_now(
        &self,
        token: &Secret,
        endpoints: Option<&Endpoints>,
    ) -> Result<(), Error> {
        let discovered;
        let endpoints = match endpoints {
            Some(e) => e,
            None => {
                discovered = self.discover().await?;
                &discovered
            }
        };
        let endpoint = endpoints.revocation.as_ref().ok_or_else(|| {
            Error::Usage(format!("{} offers no revocation endpoint", self.server))
        })?;
        api::revoke(
            self.transport.as_ref(),
            endpoint,
            &self.options.client_id,
            token,
        )
        .await?;
        Ok(())
    }
}
