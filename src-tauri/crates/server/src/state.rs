//! Shared server state: the store, the clock, settings and the in-memory
//! counters and limits. Cheap to clone (one `Arc`).

use crate::cache::TokenCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::Error;
use crate::events::{Envelope, Event, EventBus};
use crate::flood::FloodLimiter;
use crate::metrics::Metrics;
use crate::password::PasswordGate;
use crate::secret::{Secret, ServerKey};
use crate::store::DynStore;
use crate::usage::UsageTracker;
use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The state every handler, page and CLI command shares; derefs to [`Inner`].
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    /// The database.
    pub store: DynStore,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: Config,
    /// Issuer URL without a trailing slash.
    pub(crate) public_url: String,
    /// The setup token in force while setup is unclaimed.
    pub(crate) setup_token: Option<Secret>,
    pub(crate) metrics: Metrics,
    pub(crate) usage: UsageTracker,
    /// Device authorizations per address, this minute.
    pub(crate) device_starts: FloodLimiter,
    /// Org device policies, as approvals read them.
    pub(crate) policies: crate::device_policy::PolicyCache,
    /// Where new user codes come from (tests may queue some).
    pub user_codes: crate::secret::UserCodes,
    /// Event streams and long polls held, per token and address.
    pub(crate) holds: Arc<crate::holds::Holds>,
    /// Admission to argon2id: one check per CPU, a bounded queue.
    pub passwords: PasswordGate,
    /// In-process events; mirrored to other replicas through the store.
    pub bus: Arc<EventBus>,
    /// Validated tokens, dropped as soon as an event says they may have changed.
    pub cache: TokenCache,
    /// The single sign-on providers, and what was read from them.
    pub sso: crate::sso::providers::Sso,
    /// Mail for invitations and reset links, when `DEVAUTH_SMTP_URL` is set.
    pub mailer: Option<crate::mail::Mailer>,
    /// The passkeys' relying party (the public URL's host), when it is a name.
    pub webauthn: Option<webauthn_rs::prelude::Webauthn>,
    /// The key the servers on this database share, loaded on first use.
    key: tokio::sync::OnceCell<ServerKey>,
    /// Whether untrusted forwarding headers have been reported (once).
    forwarding_reported: AtomicBool,
}

impl AppState {
    /// State over `store` and `clock`; `public_url` is the issuer URL (a trailing
    /// slash is dropped), `setup_token` the one in force while setup is unclaimed.
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        config: Config,
        public_url: String,
        setup_token: Option<Secret>,
    ) -> Self {
        let passwords = PasswordGate::new(config.password_checks, config.password_queue);
        // With a listener (PostgreSQL) the cache waits until it is connected.
        let cache = TokenCache::new(config.cache_max_age_secs, store.backend() != "postgres");
        let sso = crate::sso::providers::Sso::new(&config.oidc_providers);
        let mailer = match (&config.smtp_url, &config.smtp_from) {
            (Some(url), Some(from)) => crate::mail::Mailer::new(url, from)
                .map_err(|err| tracing::warn!("mail is off: {err}"))
                .ok(),
            _ => None,
        };
        let webauthn = crate::passkeys::party::relying_party(&public_url)
            .map_err(|err| tracing::info!("{err}"))
            .ok();
        Self(Arc::new(Inner {
            sso,
            mailer,
            webauthn,
            store,
            clock,
            config,
            public_url: public_url.trim_end_matches('/').to_string(),
            setup_token,
            metrics: Metrics::default(),
            usage: UsageTracker::default(),
            device_starts: FloodLimiter::default(),
            user_codes: crate::secret::UserCodes::default(),
            policies: crate::device_policy::PolicyCache::default(),
            holds: Arc::default(),
            passwords,
            bus: Arc::new(EventBus::default()),
            cache,
            key: tokio::sync::OnceCell::new(),
            forwarding_reported: AtomicBool::new(false),
        }))
    }

    /// Notes that a request from `peer`, which is not a trusted proxy, carried
    /// forwarding headers (ignored). Logged once per server: behind a proxy
    /// that is not listed, every client shares the proxy's address.
    pub(crate) fn untrusted_forwarding(&self, peer: IpAddr) {
        if !self.forwarding_reported.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "devauth::http",
                peer = %peer,
                "requests carry Forwarded/X-Forwarded-For headers from a peer that is not in \
                 DEVAUTH_TRUSTED_PROXIES; they are ignored and the peer counts as the client. \
                 Behind a reverse proxy, list its address there"
            );
        }
    }

    /// The key the servers on this database share for the MACs browsers
    /// carry (CSRF tokens, known-browser cookies): created by the first
    /// server that needs it, then read once per process.
    pub(crate) async fn server_key(&self) -> Result<&ServerKey, Error> {
        self.key
            .get_or_try_init(|| async {
                let fresh = ServerKey::generate_hex();
                let stored = self
                    .store
                    .server_key("browser-mac", &fresh, self.now())
                    .await?;
                ServerKey::from_hex(&stored)
                    .ok_or_else(|| Error::internal("the stored server key is not 64 hex digits"))
            })
            .await
    }

    /// The current time, from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Applies an event in this process: drops stale validations, then wakes
    /// long polls and event streams.
    pub fn deliver(&self, event: Event) {
        self.cache.invalidate(&event);
        self.policies.invalidate(&event);
        self.bus.dispatch(event);
    }

    /// Tells this process at once, and other replicas through the store
    /// (PostgreSQL `NOTIFY`). A failed broadcast is logged; the change itself
    /// is already committed.
    pub async fn publish(&self, event: Event) {
        let payload = self.envelope(&event);
        self.deliver(event);
        if let Some(payload) = payload
            && let Err(err) = self.store.notify(&payload).await
        {
            tracing::warn!(error = %err, "could not tell other replicas about a change");
        }
    }

    /// `event` as other replicas receive it: from this process, as JSON.
    pub fn envelope(&self, event: &Event) -> Option<String> {
        let envelope = Envelope {
            origin: self.bus.instance.clone(),
            event: event.clone(),
        };
        serde_json::to_string(&envelope)
            .map_err(|err| tracing::warn!(error = %err, "could not encode an event"))
            .ok()
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
