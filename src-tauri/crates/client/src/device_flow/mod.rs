//! The RFC 8628 device authorization grant: [`DeviceFlow::start`] asks for the
//! codes, [`DeviceFlow::poll`] waits for the token.

use std::fmt;
use std::future::Future;
mod errors;
mod poll_state;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oauth2::basic::BasicClient;
use oauth2::http::{HeaderName, HeaderValue};
use oauth2::{
    AuthType, ClientId, DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse,
    TokenResponse, TokenUrl,
};

use crate::clock::Clock;
use crate::discovery::Endpoints;
use crate::secret::Secret;
use crate::text::clean;
use crate::transport::{
    HttpRequest, HttpResponse, Transport, TransportError, rewrite_ok_with_error,
};
pub use errors::DeviceFlowError;
use errors::from_request_error;
use poll_state::PollState;

/// The CLI's client id, registered as a public client at devauth-server.
pub const CLI_CLIENT_ID: &str = "devauth-cli";
/// The desktop app's client id, registered likewise.
pub const DESKTOP_CLIENT_ID: &str = "devauth-desktop";

/// RFC 8628 §3.2: a response without `interval` means 5 seconds.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// How long token polls ask the server to hold a pending answer
/// (`Prefer: wait=25`, RFC 7240); under the transport's 30 s timeout.
pub const DEFAULT_PREFER_WAIT: Duration = Duration::from_secs(25);
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
const MAX_DEVICE_NAME: usize = 64;

/// "`app` on `hostname`", the label the approver sees in the browser.
pub fn device_name(app: &str) -> String {
    let host = whoami::fallible::hostname().unwrap_or_else(|_| "unknown host".to_string());
    let name = clean(&format!("{app} on {host}"), MAX_DEVICE_NAME);
    name.trim().to_string()
}

/// What to send when starting a device authorization.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    /// Sent as `device_name`; devauth-server shows it on the approval page.
    pub device_name: Option<String>,
    /// Empty means no `scope` parameter at all.
    pub scopes: Vec<String>,
    /// Sent as `org` (an extension devauth-server understands): the org to be
    /// signed in to, which the approval page then picks.
    pub org: Option<String>,
}

/// The codes to show the person, plus what the poller needs.
pub struct DeviceAuthorization {
    response: StandardDeviceAuthorizationResponse,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    interval: Duration,
    expires_at: SystemTime,
}

impl DeviceAuthorization {
    /// The code the person enters (or checks) on the verification page.
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// The page where the person enters the code.
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// The verification URI with the code filled in, when the server sent one.
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    /// The page to open in a browser: the complete URI if there is one.
    pub fn browser_url(&self) -> &str {
        self.verification_uri_complete
            .as_deref()
            .unwrap_or(&self.verification_uri)
    }

    /// How long the codes are valid, as the server said (`expires_in`).
    pub fn expires_in(&self) -> Duration {
        self.response.expires_in()
    }

    /// When the codes expire, by the flow's clock: when the request was sent
    /// plus `expires_in`.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The polling interval the server asked for (5 s when it said nothing).
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &"redacted")
            .field("user_code", &"redacted")
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in())
            .field("interval", &self.interval)
            .finish()
    }
}

/// What the poller is doing, for progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollEvent {
    /// Not approved yet.
    Pending,
    /// The server asked us to poll less often; this is the new interval.
    SlowDown {
        /// The new polling interval.
        interval: Duration,
    },
    /// The request did not reach the server; polling continues with back-off.
    Retrying {
        /// What went wrong with the request.
        error: String,
    },
}

/// A bearer token fresh from the token endpoint.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The access token.
    pub access_token: Secret,
    /// `token_type` as the server sent it, normally `Bearer`.
    pub token_type: String,
    /// The token's lifetime (`expires_in`); `None` when the server sent none.
    pub expires_in: Option<Duration>,
    /// The granted scopes (`scope`); empty when the server sent none.
    pub scopes: Vec<String>,
}

/// RFC 8628 device authorization against one server, through the `oauth2`
/// crate with our [`Transport`] as its HTTP client and our [`Clock`] for
/// sleeping and expiry.
///
/// Token polls send `Prefer: wait=25`. A server that honours it (devauth-server
/// does, and says so with `Preference-Applied`) holds a pending poll until the
/// request is decided, so approval is noticed at once; after such a held
/// `authorization_pending` the next poll goes out without waiting (only what is
/// left of `interval`, if the hold was shorter). A server that ignores the
/// header is polled at `interval`, exactly as RFC 8628 says.
#[derive(Clone)]
pub struct DeviceFlow {
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    endpoints: Endpoints,
    client_id: String,
    prefer_wait: Option<Duration>,
}

impl DeviceFlow {
    /// A flow against `endpoints` as `client_id`. Token polls send
    /// `Prefer: wait` with [`DEFAULT_PREFER_WAIT`]; see
    /// [`DeviceFlow::with_prefer_wait`].
    pub fn new(
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        endpoints: Endpoints,
        client_id: impl Into<String>,
    ) -> Self {
        DeviceFlow {
            transport,
            clock,
            endpoints,
            client_id: client_id.into(),
            prefer_wait: Some(DEFAULT_PREFER_WAIT),
        }
    }

    /// The `Prefer: wait` sent with token polls; `None` sends none (plain
    /// interval polling).
    pub fn with_prefer_wait(mut self, wait: Option<Duration>) -> Self {
        self.prefer_wait = wait.filter(|w| !w.is_zero());
        self
    }

    /// The server endpoints this flow uses.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The OAuth client id this flow sends.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Asks the server for a device code and user code.
    pub async fn start(
        &self,
        request: &StartRequest,
    ) -> Result<DeviceAuthorization, DeviceFlowError> {
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_type(AuthType::RequestBody)
            .set_device_authorization_url(DeviceAuthorizationUrl::from_url(
                self.endpoints.device_authorization.clone(),
            ));
        let mut req = client.exchange_device_code();
        if let Some(name) = &request.device_name {
            req = req.add_extra_param("device_name", name.clone());
        }
        if let Some(org) = &request.org {
            req = req.add_extra_param("org", org.clone());
        }
        req = req.add_scopes(request.scopes.iter().cloned().map(Scope::new));
        let http = self.http(None);
        let started_at = self.clock.now();
        let response: StandardDeviceAuthorizationResponse =
            req.request_async(&http).await.map_err(|e| {
                from_request_error(
                    e,
                    |e| {
                        (
                            e.error().as_ref().to_string(),
                            e.error_description().cloned(),
                        )
                    },
                    &self.client_id,
                )
            })?;

        let user_code = response.user_code().secret().trim().to_string();
        if user_code.is_empty() || user_code.len() > 64 || user_code.chars().any(char::is_control) {
            return Err(DeviceFlowError::Protocol("unusable user_code".to_string()));
        }
        let verification_uri = web_url(response.verification_uri().as_str()).ok_or_else(|| {
            DeviceFlowError::Protocol("verification_uri is not an http(s) URL".to_string())
        })?;
        let verification_uri_complete = response
            .verification_uri_complete()
            .and_then(|u| web_url(u.secret()));
        // `oauth2` already turns a missing or null interval into 5 s.
        let interval = response.interval().max(Duration::from_secs(1));
        let expires_at = started_at + response.expires_in();
        Ok(DeviceAuthorization {
            response,
            user_code,
            verification_uri,
            verification_uri_complete,
            interval,
            expires_at,
        })
    }

    /// Polls the token endpoint until the request is approved, denied or
    /// expired, or `cancel` completes. `on_event` hears about pending polls,
    /// slow_down and network retries.
    pub async fn poll<C>(
        &self,
        authorization: &DeviceAuthorization,
        cancel: C,
        on_event: impl Fn(&PollEvent) + Send + Sync + 'static,
    ) -> Result<IssuedToken, DeviceFlowError>
    where
        C: Future<Output = ()>,
    {
        let state = Arc::new(PollState::new(authorization.interval, on_event));
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::from_url(self.endpoints.token.clone()));
        let http = self.http(Some(state.clone()));
        let sleep = {
            let clock = self.clock.clone();
            let state = state.clone();
            move |proposed: Duration| clock.sleep(state.next_wait(proposed))
        };
        let time_fn = {
            let clock = self.clock.clone();
            move || chrono::DateTime::<chrono::Utc>::from(clock.now())
        };
        let remaining = authorization
            .expires_at
            .duration_since(self.clock.now())
            .unwrap_or(Duration::ZERO);
        let polling = client
            .exchange_device_access_token(&authorization.response)
            .set_time_fn(time_fn)
            .request_async(&http, sleep, Some(remaining));

        let result = tokio::select! {
            biased;
            () = cancel => return Err(DeviceFlowError::Cancelled),
            result = polling => result,
        };
        match result {
            Ok(token) => Ok(IssuedToken {
                access_token: Secret::new(token.access_token().secret().clone()),
                token_type: token.token_type().as_ref().to_string(),
                expires_in: token.expires_in(),
                scopes: token
                    .scopes()
                    .map(|s| s.iter().map(|s| s.to_string()).collect())
                    .unwrap_or_default(),
            }),
            Err(e) => {
                let err = from_request_error(
                    e,
                    |e| {
                        (
                            e.error().as_ref().to_string(),
                            e.error_description().cloned(),
                        )
                    },
                    &self.client_id,
                );
                // Running out of time while the server was unreachable is a
                // network problem, not a slow approver.
                let last_error = state.last_error();
                match (err, last_error) {
                    (DeviceFlowError::Expired { .. }, Some(net)) => {
                        Err(DeviceFlowError::Network(net))
                    }
                    (err, _) => Err(err),
                }
            }
        }
    }

    /// The HTTP client handed to `oauth2`: our transport, with 200-with-error
    /// answers rewritten and every answer reported to the poll state. Token
    /// polls (those with a poll state) carry `Prefer: wait` and are timed, so
    /// the poll state knows how long the server held them.
    fn http(
        &self,
        state: Option<Arc<PollState>>,
    ) -> impl Fn(
        HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send>,
    > + Send
    + Sync
    + use<> {
        let transport = self.transport.clone();
        let clock = self.clock.clone();
        let prefer = self
            .prefer_wait
            .and_then(|w| HeaderValue::from_str(&format!("wait={}", w.as_secs())).ok());
        move |mut request: HttpRequest| {
            let transport = transport.clone();
            let clock = clock.clone();
            let state = state.clone();
            if let (Some(_), Some(prefer)) = (&state, &prefer) {
                request.headers_mut().insert(PREFER, prefer.clone());
            }
            Box::pin(async move {
                let sent_at = clock.now();
                match transport.send(request).await {
                    Ok(response) => {
                        let response = rewrite_ok_with_error(response);
                        if let Some(state) = &state {
                            let held = clock.now().duration_since(sent_at).unwrap_or_default();
                            state.observe(&response, held);
                        }
                        Ok(response)
                    }
                    Err(error) => {
                        if let Some(state) = &state {
                            state.observe_failure(&error);
                        }
                        Err(error)
                    }
                }
            })
        }
    }
}

const PREFER: HeaderName = HeaderName::from_static("prefer");

fn web_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    matches!(url.scheme(), "https" | "http").then(|| url.to_string())
}

#[cfg(test)]
mod tests;
