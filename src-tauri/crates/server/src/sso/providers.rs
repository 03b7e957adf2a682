//! The single sign-on providers the server is configured with, and what
//! was read from them: each one's discovery document and keys (read on
//! first use, an hour later again, the keys again when a token names one not
//! seen yet), the sign-in buttons, and the origins the pages' CSP lets a
//! form lead to. Nothing here reads the server's state: [`super`] runs the
//! sign-ins.

use crate::config::OidcProvider;
use crate::error::Error;
use openidconnect::IssuerUrl;
use openidconnect::core::{CoreJsonWebKeySet, CoreProviderMetadata};
use std::sync::Arc;
use std::time::Duration;

/// How long a provider's discovery document is kept before it is read again, seconds.
const METADATA_MAX_AGE: i64 = 3600;

/// The configured providers, and what was read from them.
pub struct Sso {
    providers: Vec<Arc<Slot>>,
    pub(super) http: openidconnect::reqwest::Client,
    /// Where a sign-in form may lead (the pages' CSP `form-action`): the
    /// issuers' origins, and their authorization endpoints' once read.
    origins: std::sync::RwLock<Vec<String>>,
}

/// `https://idp.example:8443` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

pub(super) struct Slot {
    pub(super) config: OidcProvider,
    discovered: tokio::sync::Mutex<Option<Discovered>>,
}

#[derive(Clone)]
pub(super) struct Discovered {
    pub(super) metadata: CoreProviderMetadata,
    /// The provider says it sends `iss` with every answer (RFC 9207).
    pub(super) sends_iss: bool,
    /// When it was read, by the server's clock.
    read_at: i64,
}

/// The one field of a discovery document the crate's type leaves out.
#[derive(serde::Deserialize)]
struct IssParameter {
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl Sso {
    /// The providers of the server's settings (nothing is read from them yet).
    pub fn new(providers: &[OidcProvider]) -> Sso {
        let http = openidconnect::reqwest::Client::builder()
            // Following redirects would let a provider's answer lead anywhere.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Sso {
            providers: providers
                .iter()
                .map(|config| {
                    Arc::new(Slot {
                        config: config.clone(),
                        discovered: tokio::sync::Mutex::new(None),
                    })
                })
                .collect(),
            http,
            origins: std::sync::RwLock::new(
                providers
                    .iter()
                    .filter_map(|p| origin_of(&p.issuer))
                    .collect(),
            ),
        }
    }

    /// The pages' Content-Security-Policy: `base` with the providers'
    /// origins allowed as where a form leads (a sign-in button's answer
    /// redirects there).
    pub fn csp(&self, base: &'static str) -> std::borrow::Cow<'static, str> {
        if self.providers.is_empty() {
            return base.into();
        }
        let origins = self.origins.read().map(|o| o.join(" ")).unwrap_or_default();
        base.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origins}"),
        )
        .into()
    }

    /// Whether the pages' CSP lets a form lead to `url`.
    pub fn form_may_lead_to(&self, url: &str) -> bool {
        let (Some(origin), Ok(origins)) = (origin_of(url), self.origins.read()) else {
            return false;
        };
        origins.contains(&origin)
    }

    fn learn_origin(&self, url: &str) {
        if let (Some(origin), Ok(mut origins)) = (origin_of(url), self.origins.write())
            && !origins.contains(&origin)
        {
            origins.push(origin);
        }
    }

    /// The providers, as the sign-in page lists them: id and name.
    pub fn buttons(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .map(|slot| (slot.config.id.clone(), slot.config.name.clone()))
            .collect()
    }

    /// Whether any provider is configured.
    pub fn enabled(&self) -> bool {
        !self.providers.is_empty()
    }

    /// A provider's name, by id.
    pub fn name_of(&self, id: &str) -> Option<String> {
        self.slot(id).map(|slot| slot.config.name.clone())
    }

    pub(super) fn slot(&self, id: &str) -> Option<&Arc<Slot>> {
        self.providers.iter().find(|slot| slot.config.id == id)
    }

    pub(super) async fn discovered(
        &self,
        slot: &Slot,
        now: i64,
    ) -> std::result::Result<Discovered, Refusal> {
        let mut kept = slot.discovered.lock().await;
        if let Some(found) = kept.as_ref()
            && (0..METADATA_MAX_AGE).contains(&(now - found.read_at))
        {
            return Ok(found.clone());
        }
        let fresh = self.discover(&slot.config, now).await?;
        *kept = Some(fresh.clone());
        Ok(fresh)
    }

    async fn discover(
        &self,
        config: &OidcProvider,
        now: i64,
    ) -> std::result::Result<Discovered, Refusal> {
        let unreachable = |detail: String| {
            tracing::warn!(provider = %config.id, issuer = %config.issuer, "{detail}");
            Refusal::new(
                "provider unreachable",
                format!(
                    "{} could not be reached. Try again in a moment, or sign in with your password.",
                    config.name
                ),
            )
        };
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|err| unreachable(format!("discovery failed: {err}")))?;
        if !response.status().is_success() {
            return Err(unreachable(format!(
                "discovery answered {}",
                response.status()
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|err| unreachable(format!("discovery failed: {err}")))?;
        let metadata: CoreProviderMetadata = serde_json::from_slice(&body)
            .map_err(|err| unreachable(format!("discovery document unreadable: {err}")))?;
        let sends_iss = serde_json::from_slice::<IssParameter>(&body)
            .map(|p| p.authorization_response_iss_parameter_supported)
            .unwrap_or(false);
        let expected = IssuerUrl::new(config.issuer.clone())
            .map_err(|err| unreachable(format!("issuer unusable: {err}")))?;
        if metadata.issuer() != &expected {
            return Err(unreachable(format!(
                "the discovery document names the issuer {}, not {}",
                metadata.issuer().as_str(),
                expected.as_str()
            )));
        }
        let keys = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|err| unreachable(format!("reading the keys failed: {err}")))?;
        self.learn_origin(metadata.authorization_endpoint().as_str());
        Ok(Discovered {
            metadata: metadata.set_jwks(keys),
            sends_iss,
            read_at: now,
        })
    }

    /// Reads the provider's keys again: an ID token (which comes only from
    /// the provider's token endpoint) named a key not seen yet.
    pub(super) async fn reread_keys(&self, slot: &Slot) -> Option<Discovered> {
        let mut kept = slot.discovered.lock().await;
        let found = kept.as_mut()?;
        let keys = CoreJsonWebKeySet::fetch_async(found.metadata.jwks_uri(), &self.http)
            .await
            .map_err(
                |err| tracing::warn!(provider = %slot.config.id, "reading the keys failed: {err}"),
            )
            .ok()?;
        found.metadata = found.metadata.clone().set_jwks(keys);
        Some(found.clone())
    }
}

/// Why a sign-in through a provider did not work: for the audit log, and
/// for the person.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Short, for the log's detail ("state unknown or used").
    pub reason: String,
    /// A sentence for the page.
    pub message: String,
}

impl Refusal {
    pub(super) fn new(reason: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal {
            reason: reason.into(),
            message: message.into(),
        }
    }
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Refusal {
        Refusal::new(
            "failed",
            match err {
                Error::Store(_) | Error::Internal(_) => {
                    "Something went wrong on the server. Try again.".into()
                }
                other => crate::error::sentence(&other.to_string()),
            },
        )
    }
}
