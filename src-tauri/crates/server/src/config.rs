//! Server settings. The binary fills these from flags and `DEVAUTH_*`
//! variables; the desktop app and tests build them directly.

use crate::client_ip::TrustedProxies;
use crate::secret::Secret;
use std::time::Duration;

/// How a server runs; [`Config::default`] suits local use.
#[derive(Debug, Clone)]
pub struct Config {
    /// `postgres://…`, `sqlite://…` or a file path; `None` = `devauth.db` in the platform data dir.
    pub database_url: Option<String>,
    /// Where to listen, e.g. `127.0.0.1:8750`; port 0 picks a free port.
    pub addr: String,
    /// Issuer and base of the verification URI; defaults to the bound address.
    pub public_url: Option<String>,
    /// Default lifetime of a new token, days (1 to 3650).
    pub token_ttl_days: i64,
    /// The first-run claim secret; generated and printed when unset and unclaimed.
    pub setup_token: Option<Secret>,
    /// Local development only: setup can be claimed without the setup token.
    pub dangerously_skip_setup_token: bool,
    /// Registered public clients allowed to start device authorizations.
    pub clients: Vec<String>,
    /// Lifetime of a device code, seconds.
    pub device_code_ttl_secs: i64,
    /// Minimum polling interval handed to devices, seconds.
    pub poll_interval_secs: i64,
    /// The reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name
    /// the client (`DEVAUTH_TRUSTED_PROXIES`); empty: the peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// Device authorizations one address may start per minute
    /// (`DEVAUTH_DEVICE_STARTS_PER_MINUTE`); 0: no limit.
    pub device_starts_per_minute: i64,
    /// Password checks (argon2id, 19 MiB each) run at once; 0: one per CPU.
    pub password_checks: usize,
    /// Sign-ins that may wait for a password check; beyond it they are 503.
    pub password_queue: usize,
    /// When set, `/metrics` answers only `Authorization: Bearer` this token
    /// (`DEVAUTH_METRICS_TOKEN`).
    pub metrics_token: Option<Secret>,
    /// Most token polls held open at once for `Prefer: wait`; beyond it polls answer at once.
    pub max_waiters: usize,
    /// Most event streams open at once (`/api/events`); beyond it, 429.
    pub max_streams: usize,
    /// Event streams one token may hold open (`DEVAUTH_MAX_STREAMS_PER_TOKEN`).
    pub streams_per_token: usize,
    /// Event streams, and long polls, one client address may hold open, each
    /// (`DEVAUTH_MAX_WAITS_PER_ADDRESS`).
    pub waits_per_address: usize,
    /// Seconds a cached token validation is used before the database is read
    /// again (`DEVAUTH_CACHE_MAX_AGE_SECS`); 0: every use reads the database.
    pub cache_max_age_secs: i64,
    /// How often expired rows are purged ([`crate::retention`]); zero: never.
    pub purge_interval: std::time::Duration,
    /// Days audit events are kept (`DEVAUTH_AUDIT_RETENTION_DAYS`); 0: for ever.
    pub audit_retention_days: i64,
    /// Answer only requests whose `Host` is this server's own address (the
    /// public URL's, or `localhost` on its port); others get 421. The desktop
    /// app's bundled server sets it against DNS rebinding.
    pub own_host_only: bool,
    /// Timeouts and the cap on connections.
    pub connections: ConnectionLimits,
    /// Approving a device in the browser needs a sign-in at most this many
    /// seconds old (`DEVAUTH_APPROVAL_MAX_AUTH_AGE`); older sessions enter
    /// the password again on the confirm page.
    pub approval_max_auth_age_secs: i64,
    /// The single sign-on providers the sign-in page offers
    /// (`DEVAUTH_OIDC_*`, or several in `DEVAUTH_OIDC_CONFIG`).
    pub oidc_providers: Vec<OidcProvider>,
    /// The SMTP server invitations and reset links are also mailed through
    /// (`DEVAUTH_SMTP_URL`); with it, the sign-in page offers "Forgot your
    /// password?".
    pub smtp_url: Option<Secret>,
    /// The address they come from (`DEVAUTH_SMTP_FROM`).
    pub smtp_from: Option<String>,
}

/// A team's OpenID Connect provider, to sign in through ("Sign in with {name}").
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// In addresses (`/login/sso/{id}`) and stored with each linked
    /// identity: keep it when the provider's settings change.
    #[serde(default = "default_provider_id")]
    pub id: String,
    /// What the button says after "Sign in with".
    pub name: String,
    /// The issuer; its `/.well-known/openid-configuration` is read on first use.
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret (a public client with PKCE only: none).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Email domains whose people get an account on their first sign-in
    /// (with a verified email); empty: only people with an invitation.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// The org (slug) an account made on its first sign-in joins, if any.
    #[serde(default)]
    pub org: Option<String>,
    /// The role it joins with: `member` (the default), `viewer` or `admin`.
    #[serde(default = "default_join_role")]
    pub role: crate::model::Role,
    /// More scopes to ask for (e.g. `groups`) beyond `openid email profile`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The ID token claim that lists the person's groups (e.g. `groups`).
    #[serde(default)]
    pub roles_claim: Option<String>,
    /// A group in `roles_claim` → the role an account made on its first
    /// sign-in gets in `org` (the most powerful one that matches; none: `role`).
    #[serde(default)]
    pub roles: std::collections::BTreeMap<String, crate::model::Role>,
}

fn default_provider_id() -> String {
    "sso".into()
}

fn default_join_role() -> crate::model::Role {
    crate::model::Role::Member
}

/// `DEVAUTH_OIDC_CONFIG`'s contents: `{"providers": [{…}, …]}`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcFile {
    providers: Vec<OidcProvider>,
}

impl OidcProvider {
    /// The providers a `DEVAUTH_OIDC_CONFIG` file lists; the error names
    /// the file and what is wrong.
    pub fn from_file(path: &std::path::Path) -> Result<Vec<OidcProvider>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("DEVAUTH_OIDC_CONFIG: cannot read {}: {err}", path.display()))?;
        let file: OidcFile = serde_json::from_str(&text)
            .map_err(|err| format!("DEVAUTH_OIDC_CONFIG: {}: {err}", path.display()))?;
        Ok(file.providers)
    }

    /// The role an account made on its first sign-in gets, for these groups.
    pub fn role_for(&self, groups: &[String]) -> crate::model::Role {
        groups
            .iter()
            .filter_map(|group| self.roles.get(group))
            .min()
            .copied()
            .unwrap_or(self.role)
    }

    /// Whether an account may be made on a first sign-in with this
    /// (verified) email.
    pub fn allows(&self, email: &str) -> bool {
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        self.allowed_domains
            .iter()
            .any(|allowed| allowed.trim().eq_ignore_ascii_case(domain))
    }

    fn validate(&self) -> Result<(), String> {
        let id_ok = (1..=40).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(format!(
                "single sign-on provider id `{}`: use 1-40 lowercase letters, digits and dashes",
                self.id
            ));
        }
        let issuer = url::Url::parse(&self.issuer)
            .map_err(|err| format!("provider `{}`: issuer `{}`: {err}", self.id, self.issuer))?;
        let loopback = matches!(issuer.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if issuer.scheme() != "https" && !(issuer.scheme() == "http" && loopback) {
            return Err(format!(
                "provider `{}`: the issuer must be https:// (http:// only on localhost), got `{}`",
                self.id, self.issuer
            ));
        }
        if self.name.trim().is_empty() || self.client_id.trim().is_empty() {
            return Err(format!(
                "provider `{}`: name and client id must not be empty",
                self.id
            ));
        }
        if self.role == crate::model::Role::Owner
            || self.roles.values().any(|r| *r == crate::model::Role::Owner)
        {
            return Err(format!(
                "provider `{}`: accounts made on a first sign-in cannot join as owner",
                self.id
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: None,
            addr: "127.0.0.1:8750".into(),
            public_url: None,
            token_ttl_days: 90,
            setup_token: None,
            dangerously_skip_setup_token: false,
            clients: vec!["devauth-desktop".into(), "devauth-cli".into()],
            device_code_ttl_secs: 600,
            poll_interval_secs: 5,
            trusted_proxies: TrustedProxies::default(),
            max_waiters: 1000,
            device_starts_per_minute: 60,
            password_checks: 0,
            password_queue: 32,
            metrics_token: None,
            max_streams: 1000,
            streams_per_token: 4,
            waits_per_address: 256,
            connections: ConnectionLimits::default(),
            cache_max_age_secs: 60,
            own_host_only: false,
            purge_interval: std::time::Duration::from_secs(3600),
            audit_retention_days: 0,
            approval_max_auth_age_secs: 2 * 3600,
            oidc_providers: Vec::new(),
            smtp_url: None,
            smtp_from: None,
        }
    }
}

impl Config {
    /// Checks the token lifetime, the public URL's scheme and that a client is
    /// registered; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=3650).contains(&self.token_ttl_days) {
            return Err(format!(
                "DEVAUTH_TOKEN_TTL_DAYS must be between 1 and 3650, got {}",
                self.token_ttl_days
            ));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!(
                "DEVAUTH_PUBLIC_URL must start with http:// or https://, got `{url}`"
            ));
        }
        let limits = &self.connections;
        if limits.header_timeout.is_zero() || limits.body_timeout.is_zero() {
            return Err(
                "DEVAUTH_HEADER_TIMEOUT_SECS and DEVAUTH_BODY_TIMEOUT_SECS must be at least 1"
                    .into(),
            );
        }
        if limits.max_connections == 0 {
            return Err("DEVAUTH_MAX_CONNECTIONS must be at least 1".into());
        }
        if self.clients.is_empty() {
            return Err("at least one client id must be registered".into());
        }
        match (&self.smtp_url, &self.smtp_from) {
            (Some(url), Some(from)) => {
                crate::mail::Mailer::new(url, from)?;
            }
            (Some(_), None) => {
                return Err(
                    "DEVAUTH_SMTP_URL is set: set DEVAUTH_SMTP_FROM (the sender) too".into(),
                );
            }
            _ => {}
        }
        for (i, provider) in self.oidc_providers.iter().enumerate() {
            provider.validate()?;
            if self.oidc_providers[..i].iter().any(|p| p.id == provider.id) {
                return Err(format!(
                    "two single sign-on providers have the id `{}`: give each its own",
                    provider.id
                ));
            }
        }
        Ok(())
    }
}

/// A length of time as an operator writes it: `7200`, `90s`, `30m`, `2h` or
/// `1d`; seconds.
pub fn parse_duration_secs(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => {
            return Err(format!(
                "`{text}`: the unit `{other}` is not one of s, m, h, d (e.g. 2h)"
            ));
        }
    };
    number
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("`{text}` is not a length of time (e.g. 7200, 30m, 2h)"))
}

/// What a connection may cost ([`crate::conn`] applies it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request head must arrive within this, counted from when the
    /// connection is ready for it (also closes idle keep-alive connections).
    pub header_timeout: Duration,
    /// A body must arrive within this, counted from its first read.
    pub body_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration_secs;

    #[test]
    fn lengths_of_time_read_as_operators_write_them() {
        assert_eq!(parse_duration_secs("7200"), Ok(7200));
        assert_eq!(parse_duration_secs("90s"), Ok(90));
        assert_eq!(parse_duration_secs("30m"), Ok(1800));
        assert_eq!(parse_duration_secs(" 2h "), Ok(7200));
        assert_eq!(parse_duration_secs("1d"), Ok(86_400));
        for bad in ["", "h", "2w", "-5", "2h30m", "99999999999999999999d"] {
            let err = parse_duration_secs(bad).expect_err(bad);
            assert!(err.contains('`'), "{err}");
        }
    }
}

#[cfg(test)]
mod oidc_tests {
    use super::{Config, OidcProvider};
    use crate::model::Role;

    fn provider(json: &str) -> Result<OidcProvider, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn providers_read_from_a_file_are_checked() {
        let good = provider(
            r#"{"name": "Okta", "issuer": "https://idp.example.com", "client_id": "devauth",
                "allowed_domains": ["Example.com"], "org": "acme",
                "roles_claim": "groups", "roles": {"admins": "admin", "guests": "viewer"}}"#,
        )
        .expect("a provider");
        assert_eq!(good.id, "sso", "the default id");
        assert!(good.allows("ada@example.COM") && !good.allows("ada@example.org"));
        let groups = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            good.role_for(&groups(&["guests", "admins"])),
            Role::Admin,
            "the most powerful"
        );
        assert_eq!(good.role_for(&groups(&["guests"])), Role::Viewer);
        assert_eq!(
            good.role_for(&groups(&["other"])),
            Role::Member,
            "none: `role`"
        );
        let config = |p: OidcProvider| Config {
            oidc_providers: vec![p],
            ..Config::default()
        };
        assert!(config(good.clone()).validate().is_ok());
        assert!(
            provider(r#"{"name": "x", "issuer": "https://i", "client_id": "c", "colour": 1}"#)
                .is_err_and(|e| e.contains("colour")),
            "unknown fields are refused"
        );
        let owner = OidcProvider {
            roles: [("admins".to_string(), Role::Owner)].into(),
            ..good.clone()
        };
        assert!(config(owner).validate().is_err_and(|e| e.contains("owner")));
        let plain_http = OidcProvider {
            issuer: "http://idp.example.com".into(),
            ..good.clone()
        };
        assert!(
            config(plain_http)
                .validate()
                .is_err_and(|e| e.contains("https"))
        );
        let twice = Config {
            oidc_providers: vec![good.clone(), good],
            ..Config::default()
        };
        assert!(
            twice
                .validate()
                .is_err_and(|e| e.contains("two single sign-on providers"))
        );
    }

    #[test]
    fn mail_needs_a_sender() {
        let config = Config {
            smtp_url: Some(crate::secret::Secret::new("smtp://127.0.0.1:2525")),
            ..Config::default()
        };
        assert!(
            config
                .validate()
                .is_err_and(|e| e.contains("DEVAUTH_SMTP_FROM"))
        );
        let bad_from = Config {
            smtp_from: Some("not an address".into()),
            ..config.clone()
        };
        assert!(
            bad_from
                .validate()
                .is_err_and(|e| e.contains("DEVAUTH_SMTP_FROM"))
        );
        let secret_url = Config {
            smtp_url: Some(crate::secret::Secret::new("smtp://user:hunter2@[bad")),
            smtp_from: Some("devauth <devauth@example.com>".into()),
            ..Config::default()
        };
        let err = secret_url.validate().expect_err("an unusable URL");
        assert!(!err.contains("hunter2"), "the password stays out: {err}");
    }
}
