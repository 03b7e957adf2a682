//! `devauth-server`: parse arguments, then call into the library.

use clap::{Parser, Subcommand};
use devauth_server::admin::{self, AdminCommand};
use devauth_server::client_ip::TrustedProxies;
use devauth_server::config::OidcProvider;
use devauth_server::secret::Secret;
use devauth_server::{Config, serve};
use std::process::ExitCode;

/// devauth verification server: RFC 8628 device sign-in and token management.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Database: postgres://… or a SQLite path / sqlite:// URL (default: devauth.db in the data dir).
    #[arg(
        long,
        global = true,
        env = "DEVAUTH_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Lifetime of device tokens and default lifetime of personal tokens, days.
    #[arg(
        long,
        global = true,
        env = "DEVAUTH_TOKEN_TTL_DAYS",
        default_value_t = 90
    )]
    token_ttl_days: i64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(Box<ServeArgs>),
    /// Bring the database schema up to date, then exit.
    Migrate,
    #[command(flatten)]
    Admin(AdminCommand),
}

#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "DEVAUTH_ADDR", default_value = "127.0.0.1:8750")]
    addr: String,
    /// Public base URL (issuer, verification URI); defaults to the bound address.
    #[arg(long, env = "DEVAUTH_PUBLIC_URL")]
    public_url: Option<String>,
    /// Setup token for the first-run claim; generated and printed when unset.
    #[arg(long, env = "DEVAUTH_SETUP_TOKEN", hide_env_values = true)]
    setup_token: Option<String>,
    /// Local development only: allow claiming setup without the setup token.
    #[arg(long)]
    dangerously_skip_setup_token: bool,
    /// Registered public client ids, comma-separated.
    #[arg(
        long,
        env = "DEVAUTH_CLIENTS",
        value_delimiter = ',',
        default_value = "devauth-desktop,devauth-cli"
    )]
    clients: Vec<String>,
    /// Your reverse proxies (addresses or CIDR ranges, comma-separated): only
    /// their Forwarded / X-Forwarded-For headers name the client.
    #[arg(long, env = "DEVAUTH_TRUSTED_PROXIES", default_value = "")]
    trusted_proxies: String,
    /// Device authorizations one address may start per minute; 0: no limit.
    #[arg(long, env = "DEVAUTH_DEVICE_STARTS_PER_MINUTE", default_value_t = 60)]
    device_starts_per_minute: i64,
    /// Password checks run at once (argon2id, 19 MiB each); 0: one per CPU.
    #[arg(long, env = "DEVAUTH_PASSWORD_CHECKS", default_value_t = 0)]
    password_checks: usize,
    /// Sign-ins that may wait for a password check; beyond it they are 503.
    #[arg(long, env = "DEVAUTH_PASSWORD_QUEUE", default_value_t = 32)]
    password_queue: usize,
    /// Seconds a connection has to send a request's head once the server is
    /// ready for it; also closes idle keep-alive connections.
    #[arg(long, env = "DEVAUTH_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds a request body has to arrive, once the server reads it.
    #[arg(long, env = "DEVAUTH_BODY_TIMEOUT_SECS", default_value_t = 10)]
    body_timeout_secs: u64,
    /// Connections served at once; beyond it they are answered 503 and closed.
    #[arg(long, env = "DEVAUTH_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// Seconds a cached token validation is used before the database is read
    /// again; 0: every request reads the database.
    #[arg(long, env = "DEVAUTH_CACHE_MAX_AGE_SECS", default_value_t = 60)]
    cache_max_age_secs: i64,
    /// Seconds between purges of expired rows; 0: never (purge on demand with
    /// `devauth-server purge`).
    #[arg(long, env = "DEVAUTH_PURGE_INTERVAL_SECS", default_value_t = 3600)]
    purge_interval_secs: u64,
    /// Days audit events are kept; 0: for ever.
    #[arg(long, env = "DEVAUTH_AUDIT_RETENTION_DAYS", default_value_t = 0)]
    audit_retention_days: i64,
    /// Event streams open at once, in all.
    #[arg(long, env = "DEVAUTH_MAX_STREAMS", default_value_t = 1000)]
    max_streams: usize,
    /// Event streams one token may hold open.
    #[arg(long, env = "DEVAUTH_MAX_STREAMS_PER_TOKEN", default_value_t = 4)]
    max_streams_per_token: usize,
    /// Event streams, and held long polls, one client address may have open (each).
    #[arg(long, env = "DEVAUTH_MAX_WAITS_PER_ADDRESS", default_value_t = 256)]
    max_waits_per_address: usize,
    /// How recent a sign-in must be to approve a device in the browser
    /// (7200, 30m, 2h, 1d); older sessions enter the password again.
    #[arg(long, env = "DEVAUTH_APPROVAL_MAX_AUTH_AGE", default_value = "2h",
        value_parser = devauth_server::config::parse_duration_secs)]
    approval_max_auth_age: i64,
    /// Protect /metrics: it answers only `Authorization: Bearer` this token.
    #[arg(long, env = "DEVAUTH_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Single sign-on: the team's OpenID Connect issuer (https://…); the
    /// sign-in page offers "Sign in with {DEVAUTH_OIDC_NAME}".
    #[arg(long, env = "DEVAUTH_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// The client id registered at the issuer (its redirect URI:
    /// {public URL}/login/sso/{DEVAUTH_OIDC_ID}/callback).
    #[arg(long, env = "DEVAUTH_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    /// The client secret registered at the issuer.
    #[arg(long, env = "DEVAUTH_OIDC_CLIENT_SECRET", hide_env_values = true)]
    oidc_client_secret: Option<String>,
    /// What the sign-in button calls the provider.
    #[arg(long, env = "DEVAUTH_OIDC_NAME", default_value = "single sign-on")]
    oidc_name: String,
    /// The provider's id in addresses and stored identities.
    #[arg(long, env = "DEVAUTH_OIDC_ID", default_value = "sso")]
    oidc_id: String,
    /// Email domains (comma-separated) whose people get an account on their
    /// first sign-in; by default only people with an invitation do.
    #[arg(
        long,
        env = "DEVAUTH_OIDC_ALLOWED_DOMAINS",
        value_delimiter = ',',
        default_value = ""
    )]
    oidc_allowed_domains: Vec<String>,
    /// The org (slug) accounts made on a first sign-in join.
    #[arg(long, env = "DEVAUTH_OIDC_ORG")]
    oidc_org: Option<String>,
    /// Their role there: member (default), viewer or admin.
    #[arg(long, env = "DEVAUTH_OIDC_ROLE", default_value = "member")]
    oidc_role: String,
    /// Mail invitations and reset links through this SMTP server
    /// (smtp://user:pass@host:587, smtps://…); also offers "Forgot your password?".
    #[arg(long, env = "DEVAUTH_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The address mail comes from, e.g. "devauth <devauth@example.com>".
    #[arg(long, env = "DEVAUTH_SMTP_FROM")]
    smtp_from: Option<String>,
    /// More scopes to ask the provider for (comma-separated, e.g. groups).
    #[arg(
        long,
        env = "DEVAUTH_OIDC_SCOPES",
        value_delimiter = ',',
        default_value = ""
    )]
    oidc_scopes: Vec<String>,
    /// The ID token claim listing the person's groups (e.g. groups).
    #[arg(long, env = "DEVAUTH_OIDC_ROLES_CLAIM")]
    oidc_roles_claim: Option<String>,
    /// Group → role for accounts made on a first sign-in, comma-separated:
    /// devauth-admins=admin,contractors=viewer (the most powerful match wins).
    #[arg(long, env = "DEVAUTH_OIDC_ROLES", default_value = "")]
    oidc_roles: String,
    /// Several providers: a JSON file `{"providers": [{"id", "name",
    /// "issuer", "client_id", "client_secret", "allowed_domains", "org",
    /// "role"}, …]}` (added to the one set by DEVAUTH_OIDC_ISSUER).
    #[arg(long, env = "DEVAUTH_OIDC_CONFIG")]
    oidc_config: Option<std::path::PathBuf>,
}

/// `devauth-admins=admin,contractors=viewer` → group → role.
fn parse_roles(
    text: &str,
) -> Result<std::collections::BTreeMap<String, devauth_server::model::Role>, String> {
    let mut roles = std::collections::BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (group, role) = pair
            .split_once('=')
            .ok_or_else(|| format!("DEVAUTH_OIDC_ROLES: `{pair}` is not group=role"))?;
        let role = role
            .trim()
            .parse()
            .map_err(|err| format!("DEVAUTH_OIDC_ROLES: {err}"))?;
        roles.insert(group.trim().to_string(), role);
    }
    Ok(roles)
}

impl ServeArgs {
    /// The single sign-on providers these settings name.
    fn oidc_providers(&self) -> Result<Vec<OidcProvider>, String> {
        let mut providers = match &self.oidc_config {
            Some(path) => OidcProvider::from_file(path)?,
            None => Vec::new(),
        };
        if let Some(issuer) = self.oidc_issuer.as_deref().filter(|i| !i.is_empty()) {
            let client_id = self
                .oidc_client_id
                .clone()
                .filter(|c| !c.is_empty())
                .ok_or("DEVAUTH_OIDC_ISSUER is set: set DEVAUTH_OIDC_CLIENT_ID too")?;
            providers.push(OidcProvider {
                id: self.oidc_id.clone(),
                name: self.oidc_name.clone(),
                issuer: issuer.to_string(),
                client_id,
                client_secret: self
                    .oidc_client_secret
                    .clone()
                    .filter(|s| !s.is_empty())
                    .map(Secret::new),
                allowed_domains: self
                    .oidc_allowed_domains
                    .iter()
                    .map(|d| d.trim().to_string())
                    .filter(|d| !d.is_empty())
                    .collect(),
                org: self.oidc_org.clone().filter(|o| !o.is_empty()),
                role: self
                    .oidc_role
                    .parse()
                    .map_err(|err| format!("DEVAUTH_OIDC_ROLE: {err}"))?,
                scopes: self
                    .oidc_scopes
                    .iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
                roles_claim: self.oidc_roles_claim.clone().filter(|c| !c.is_empty()),
                roles: parse_roles(&self.oidc_roles)?,
            });
        }
        Ok(providers)
    }
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(Box::new(ServeArgs::parse_from_env())));
    match command {
        Command::Serve(args) => {
            init_logging("info");
            if std::env::var_os("DEVAUTH_TRUST_FORWARDED_FOR").is_some() {
                eprintln!(
                    "devauth-server: DEVAUTH_TRUST_FORWARDED_FOR is no longer read: it let anyone \
                     who reaches the port pick their address. Set DEVAUTH_TRUSTED_PROXIES to your \
                     proxies' addresses instead (e.g. DEVAUTH_TRUSTED_PROXIES=10.0.0.0/8), and unset it."
                );
                return ExitCode::FAILURE;
            }
            let trusted_proxies = match TrustedProxies::parse(&args.trusted_proxies) {
                Ok(proxies) => proxies,
                Err(err) => {
                    eprintln!("devauth-server: DEVAUTH_TRUSTED_PROXIES: {err}");
                    return ExitCode::FAILURE;
                }
            };
            let oidc_providers = match args.oidc_providers() {
                Ok(providers) => providers,
                Err(err) => {
                    eprintln!("devauth-server: {err}");
                    return ExitCode::FAILURE;
                }
            };
            let config = Config {
                oidc_providers,
                smtp_url: args
                    .smtp_url
                    .clone()
                    .filter(|u| !u.is_empty())
                    .map(Secret::new),
                smtp_from: args.smtp_from.clone().filter(|f| !f.is_empty()),
                database_url: cli.database_url,
                addr: args.addr,
                public_url: args.public_url,
                token_ttl_days: cli.token_ttl_days,
                setup_token: args.setup_token.filter(|t| !t.is_empty()).map(Secret::new),
                dangerously_skip_setup_token: args.dangerously_skip_setup_token,
                clients: args
                    .clients
                    .into_iter()
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect(),
                trusted_proxies,
                device_starts_per_minute: args.device_starts_per_minute.max(0),
                password_checks: args.password_checks,
                password_queue: args.password_queue,
                metrics_token: args
                    .metrics_token
                    .filter(|t| !t.is_empty())
                    .map(Secret::new),
                cache_max_age_secs: args.cache_max_age_secs.max(0),
                purge_interval: std::time::Duration::from_secs(args.purge_interval_secs),
                audit_retention_days: args.audit_retention_days.max(0),
                max_streams: args.max_streams.max(1),
                streams_per_token: args.max_streams_per_token.max(1),
                waits_per_address: args.max_waits_per_address.max(1),
                approval_max_auth_age_secs: args.approval_max_auth_age,
                connections: devauth_server::conn::Limits {
                    header_timeout: std::time::Duration::from_secs(args.header_timeout_secs),
                    body_timeout: std::time::Duration::from_secs(args.body_timeout_secs),
                    max_connections: args.max_connections,
                },
                ..Config::default()
            };
            match serve(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("devauth-server: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Migrate => {
            init_logging("warn");
            match admin::open(cli.database_url.as_deref(), cli.token_ttl_days).await {
                Ok(state) => {
                    println!("database is up to date ({})", state.store.backend());
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("devauth-server: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Admin(command) => {
            init_logging("warn");
            let result = match admin::open(cli.database_url.as_deref(), cli.token_ttl_days).await {
                Ok(state) => admin::run(&state, command).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("devauth-server: {err}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

impl ServeArgs {
    /// `devauth-server` with no subcommand serves, reading the same environment.
    fn parse_from_env() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            args: ServeArgs,
        }
        Only::parse_from(["devauth-server"]).args
    }
}
