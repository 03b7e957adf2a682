use devauth_client::session::{AuthState, Status};
use devauth_client::text::clean;
use devauth_client::{Client, Error};

pub fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot format JSON: {e}"),
    }
}

pub async fn status(client: &Client, json: bool) -> Result<i32, Error> {
    let status = client.status().await?;
    if json {
        print_json(&status);
    } else {
        print_status(&status);
    }
    Ok(status.exit_code())
}

fn print_status(s: &Status) {
    println!("Server:   {}", s.server);
    match s.state {
        AuthState::SignedOut => {
            println!("Not signed in. Run `devauth login`.");
        }
        AuthState::Expired => println!("The token has expired. Run `devauth login`."),
        AuthState::Revoked => println!(
            "The server rejected the token: it was revoked or has expired. Run `devauth login`."
        ),
        AuthState::Unknown => println!(
            "Cannot check the token right now: {}",
            clean(s.reason.as_deref().unwrap_or("unknown error"), 300)
        ),
        AuthState::SignedIn => {}
    }
    if s.state != AuthState::SignedOut {
        if let Some(user) = &s.user {
            let who = match (&user.name, &user.email) {
                (Some(n), Some(e)) => format!("{n} <{e}>"),
                (None, Some(e)) => e.clone(),
                (Some(n), None) => n.clone(),
                (None, None) => user.id.clone(),
            };
            let who = clean(&who, 200);
            let prefix = if s.state == AuthState::SignedIn {
                "Signed in as"
            } else {
                "Account:"
            };
            println!("{prefix} {who}");
        }
        if let Some(org) = &s.org {
            let slug = org.slug.as_deref().unwrap_or(&org.id);
            let mut line = format!("Org:      {slug}");
            if let Some(name) = &org.name {
                line.push_str(&format!(" ({name})"));
            }
            if let Some(role) = &s.role {
                line.push_str(&format!(", role {role}"));
            }
            println!("{}", clean(&line, 300));
        }
        if let Some(expires) = &s.expires {
            match &s.expires_at {
                Some(at) => println!("Token:    {expires} ({at})"),
                None => println!("Token:    {expires}"),
            }
        }
    }
    if let Some(storage) = &s.storage {
        println!("Storage:  {storage}");
    }
    if s.pending_revocation {
        println!(
            "Note:     a token from an earlier offline sign-out is waiting to be revoked; \
             devauth retries on every run."
        );
    }
}
