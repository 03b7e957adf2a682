mod approve;
mod login;
mod output;
mod tokens;

use std::io::{BufRead, Read, Write};

use devauth_client::config::Env;
use devauth_client::error::exit;
use devauth_client::session::{RetryReport, SignOut};
use devauth_client::{Client, Error, Options, Secret};

use crate::{Cli, Command};

pub async fn run(cli: Cli) -> i32 {
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

async fn dispatch(cli: Cli) -> Result<i32, Error> {
    let mut options = Options::cli(Env::from_process());
    options.server = cli.server;
    options.allow_insecure_http = cli.allow_insecure_http;
    options.insecure_storage = cli.insecure_storage;
    let client = Client::new(options)?;
    if client.server().is_insecure() {
        eprintln!(
            "warning: {} uses plain http; the token crosses the network unencrypted",
            client.server()
        );
    }
    report_retries(&client.retry_pending_revocations().await);

    match cli.command {
        Command::Login(args) => login::run(&client, args).await,
        Command::Status { json } => output::status(&client, json).await,
        Command::Token => {
            let (token, _) = client.current_token().await?;
            println!("{}", token.expose());
            Ok(exit::OK)
        }
        Command::Logout => logout(&client).await,
        Command::Approve(args) => approve::run(&client, args).await,
        Command::Tokens { command } => tokens::run(&client, command).await,
    }
}

fn report_retries(reports: &[RetryReport]) {
    for r in reports {
        if r.revoked > 0 {
            eprintln!(
                "Revoked {} token(s) left over from an offline sign-out at {}.",
                r.revoked, r.server
            );
        }
        if let Some(error) = &r.error {
            if r.remaining > 0 {
                eprintln!(
                    "note: {} token(s) from an earlier sign-out at {} are not revoked yet ({error}); \
                     devauth will try again next time.",
                    r.remaining, r.server
                );
            } else {
                eprintln!(
                    "note: gave up revoking an old token at {}: {error}",
                    r.server
                );
            }
        }
    }
}

async fn logout(client: &Client) -> Result<i32, Error> {
    let server = client.server();
    Ok(match client.logout().await? {
        SignOut::Revoked => {
            eprintln!(
                "Signed out of {server}; the token was revoked on the server and removed here."
            );
            exit::OK
        }
        SignOut::NotSignedIn => {
            eprintln!("Not signed in to {server}; nothing to do.");
            exit::OK
        }
        SignOut::RevocationPending { reason } => {
            eprintln!(
                "Signed out locally, but {server} could not be reached ({reason}).\n\
                 The token still works on the server until it is revoked; devauth keeps it in \
                 the token store and revokes it the next time it runs."
            );
            exit::NETWORK
        }
        SignOut::NotRevoked { reason } => {
            eprintln!(
                "Removed the token from this machine, but the server did not revoke it \
                 ({reason}).\nIt may keep working until it expires; revoke it in the web \
                 account page."
            );
            exit::NETWORK
        }
    })
}

/// `login --with-token`: the whole of standard input is the token.
fn read_token_from_stdin() -> Result<Secret, Error> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| Error::Usage(format!("cannot read the token from standard input: {e}")))?;
    Ok(Secret::new(input.trim().to_string()))
}

/// Asks a yes/no question on the terminal; anything but yes is no.
fn confirm(prompt: &str) -> bool {
    let mut err = std::io::stderr();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
}
