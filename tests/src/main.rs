//! `devauth-harness`: runs the scenario suite against a live devauth server
//! over HTTP and prints a pass/fail table. Parses arguments and hands over to
//! `devauth_harness::scenarios`.

use clap::{ArgGroup, Parser};
use devauth_harness::scenarios::{self, Credential, Member, Outcome, Target};
use std::io::Write;

const AFTER_HELP: &str = "\
Scenarios, in order: setup, discovery, device-flow, long-poll, slow-down, deny,
expiry, double-redemption, revoke, cascade, rate-limit. Skipped, with the reason:
expiry unless --wait-for-expiry; cascade unless --member.

The suite leaves behind what an operator would see after a real sign-in: audit
events, revoked tokens (it revokes every token it obtained), and, with
--setup-token, the owner account it claimed setup for. rate-limit runs last and
leaves this IP limited for device-code lookups for up to a minute.

Exit codes: 0 every scenario passed or was skipped; 1 a scenario failed;
2 usage error.";

#[derive(Debug, Parser)]
#[command(
    name = "devauth-harness",
    version,
    about = "Run the devauth scenario suite against a live server, over HTTP only",
    after_help = AFTER_HELP,
    group(ArgGroup::new("credential").required(true).multiple(true).args(["setup_token", "admin_token"]))
)]
struct Args {
    /// Base URL of the server, e.g. https://auth.example.com
    #[arg(long, value_name = "URL")]
    server: String,
    /// Claim first-run setup with this token (the server must be unclaimed)
    #[arg(
        long,
        value_name = "T",
        env = "DEVAUTH_SETUP_TOKEN",
        hide_env_values = true
    )]
    setup_token: Option<String>,
    /// Act as the owner or admin this token belongs to (a user's token)
    #[arg(
        long,
        value_name = "T",
        env = "DEVAUTH_HARNESS_ADMIN_TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,
    /// Email of the owner account that claiming setup creates
    #[arg(
        long,
        value_name = "EMAIL",
        default_value = "harness-owner@example.com"
    )]
    owner_email: String,
    /// Password for that owner [default: generated and printed once]
    #[arg(
        long,
        value_name = "PW",
        env = "DEVAUTH_HARNESS_OWNER_PASSWORD",
        hide_env_values = true
    )]
    owner_password: Option<String>,
    /// Name of the organization that claiming setup creates
    #[arg(long, value_name = "NAME", default_value = "Harness")]
    org_name: String,
    /// An existing user who is not in the org, for the cascade scenario; it is
    /// added, approves a device on the pages, and is removed again
    #[arg(long, value_name = "EMAIL", requires = "member_password")]
    member: Option<String>,
    /// That user's password
    #[arg(
        long,
        value_name = "PW",
        env = "DEVAUTH_HARNESS_MEMBER_PASSWORD",
        hide_env_values = true
    )]
    member_password: Option<String>,
    /// Public client id to start device authorizations as
    #[arg(long, value_name = "ID", default_value = "devauth-cli")]
    client_id: String,
    /// Check expiry by waiting out a real device code (10 minutes on devauth-server)
    #[arg(long)]
    wait_for_expiry: bool,
}

fn main() {
    let args = Args::parse();
    let credential = match (args.setup_token.clone(), args.admin_token.clone()) {
        (_, Some(token)) => Credential::AdminToken(token.trim().to_string()),
        (Some(token), None) => Credential::SetupToken(token.trim().to_string()),
        (None, None) => unreachable_usage(),
    };
    let generated_password = args.owner_password.is_none();
    let mut target = Target::new(args.server.trim(), credential);
    target.owner.email = args.owner_email.clone();
    target.owner.org_name = args.org_name.clone();
    target.owner.password = args
        .owner_password
        .clone()
        .unwrap_or_else(|| format!("harness-{}", uuid::Uuid::new_v4().simple()));
    target.member = args.member.clone().map(|email| Member {
        email,
        password: args.member_password.clone().unwrap_or_default(),
    });
    target.client_id = args.client_id.clone();
    target.wait_for_expiry = args.wait_for_expiry;

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "devauth-harness: running the scenario suite against {}",
        target.server
    );
    let report = runtime.block_on(scenarios::run(&target, |result| {
        eprintln!("  {:<18} {}", result.name, result.outcome.label());
    }));
    let claimed = matches!(target.credential, Credential::SetupToken(_))
        && report
            .result("setup")
            .is_some_and(|r| r.outcome == Outcome::Pass);
    if claimed && generated_password {
        eprintln!(
            "The claim created the owner {} with the generated password {} — keep it: it is \
             the only way to sign in to that account.",
            target.owner.email, target.owner.password
        );
    }
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(report.table().as_bytes());
    let _ = stdout.flush();
    std::process::exit(if report.passed() { 0 } else { 1 });
}

/// clap's group makes one of the two required; this is never reached.
fn unreachable_usage() -> ! {
    eprintln!("error: pass --setup-token or --admin-token");
    std::process::exit(2);
}
