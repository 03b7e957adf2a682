//! `devauth`: sign in from this device and manage devauth API tokens.
//! Parses arguments and hands over to `devauth_client`; the presentation
//! (codes, countdown, tables) lives in `cli/`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cli;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Environment:
  DEVAUTH_SERVER      server URL (overrides the config file; --server overrides it)
  DEVAUTH_TOKEN       token to use instead of the stored one; never written anywhere
  DEVAUTH_CONFIG_DIR  directory for config.json (default: <config dir>/devauth)
  HTTPS_PROXY, NO_PROXY are honoured.

Exit codes:
  0    success
  1    not signed in, or the token expired or was revoked
  2    usage error, bad configuration, or a request the server refused
  3    server unreachable or misbehaving (also: logout could not revoke yet)
  4    keychain unavailable (fix it, or use --insecure-storage)
  5    sign-in denied, expired, or approved for another org
  130  cancelled (Ctrl-C, or no at a question)";

#[derive(Debug, Parser)]
#[command(
    name = "devauth",
    version,
    about = "Sign in to a devauth server from this device and manage API tokens",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Server URL [default: DEVAUTH_SERVER, the config file, or http://127.0.0.1:8750]
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Allow plain http:// to a host that is not loopback (the token travels unencrypted)
    #[arg(long, global = true)]
    pub allow_insecure_http: bool,
    /// Keep the token in a plaintext 0600 file instead of the OS keychain
    #[arg(long, global = true)]
    pub insecure_storage: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in with a one-time code approved in the browser
    Login(LoginArgs),
    /// Show who you are signed in as; exit 1 when signed out, expired or revoked
    Status {
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Print the token, for scripts: curl -H "Authorization: Bearer $(devauth token)"
    Token,
    /// Revoke the token on the server, then remove it from this machine
    Logout,
    /// Sign in another device with this one's token: type the code it shows
    Approve(ApproveArgs),
    /// List, create and revoke personal API tokens
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Require approval for this organization (slug)
    #[arg(long, value_name = "SLUG")]
    pub org: Option<String>,
    /// Do not open a browser; print the link only
    #[arg(long)]
    pub no_browser: bool,
    /// Read a token from standard input instead (for CI) and check it with /me
    #[arg(long)]
    pub with_token: bool,
    /// Replace a working sign-in without asking (needed when standard input is not a terminal)
    #[arg(long)]
    pub force: bool,
    /// Scope to request (repeatable) [default: openid when the server lists it, else none]
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The code the other device shows (any case, with or without the dash)
    pub code: String,
    /// Let the device only read (profile:read tokens:read)
    #[arg(long)]
    pub read_only: bool,
    /// Days the device's token lasts [default: the server's lifetime]
    #[arg(long, value_name = "N")]
    pub days: Option<i64>,
    /// Approve without asking (needed when standard input is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Deny the request instead
    #[arg(long, conflicts_with_all = ["yes", "read_only", "days"])]
    pub deny: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// List your active tokens; `*` marks the one this devauth is signed in with
    List {
        /// Every token of the organization, not only yours (admins)
        #[arg(long)]
        all: bool,
        /// Revoked and expired tokens too
        #[arg(long)]
        all_states: bool,
        #[arg(long)]
        json: bool,
    },
    /// Create a personal token; the token is printed once, on standard output
    Create {
        #[arg(long)]
        name: String,
        /// 30d, 90d, 365d, never, or a date YYYY-MM-DD
        #[arg(long, default_value = "90d")]
        expires: String,
        /// Restrict the token (repeatable): profile:read, tokens:read, tokens:write, org:admin
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id, name or hint; a name several tokens share is refused
    Revoke {
        /// The token's id, its name, or its hint as `tokens list` shows it:
        /// dva_4fdd…adc1, or one end of it (4fdd, adc1)
        #[arg(value_name = "TOKEN")]
        token: String,
        /// Look the name or hint up among every token of the organization (admins)
        #[arg(long)]
        all: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let code = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(cli::run(cli)),
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            devauth_client::error::exit::NETWORK
        }
    };
    // Exit without waiting for a keychain thread stuck on an unlock prompt.
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "devauth",
            "login",
            "--server",
            "https://auth.example.com",
            "--insecure-storage",
            "--no-browser",
            "--scope",
            "openid",
        ])
        .unwrap();
        assert_eq!(cli.server.as_deref(), Some("https://auth.example.com"));
        assert!(cli.insecure_storage);
        let Command::Login(args) = cli.command else {
            panic!("expected login");
        };
        assert!(args.no_browser && !args.with_token);
        assert_eq!(args.scopes, ["openid"]);
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        for needle in ["Exit codes:", "130", "DEVAUTH_TOKEN"] {
            assert!(help.contains(needle), "{needle}");
        }
    }
}
