//! `devauth approve CODE`: sign in another device (a CLI on an SSH host, a
//! second machine) with this one's token, after showing what the server saw
//! of the request and what the device claims about itself.

use std::io::IsTerminal;

use devauth_client::api::{distance, format_time, parse_time};
use devauth_client::clock::{Clock, TokioClock};
use devauth_client::error::exit;
use devauth_client::text::clean;
use devauth_client::{Client, Error};
use devauth_proto::{Access, DeviceRequest, DeviceStatus};
use time::OffsetDateTime;

use crate::ApproveArgs;

pub async fn run(client: &Client, args: ApproveArgs) -> Result<i32, Error> {
    if let Some(days) = args.days
        && days < 1
    {
        return Err(Error::Usage(format!(
            "--days {days}: a device token lasts at least 1 day"
        )));
    }
    let api = client.api().await?;
    let me = api.me().await?;
    let request = api.lookup_device(&args.code).await?;
    match request.status {
        DeviceStatus::Pending => {}
        DeviceStatus::Expired => {
            eprintln!("This code has expired; ask the device for a new one.");
            return Ok(exit::USAGE);
        }
        _ => {
            eprintln!("This code was already used; nothing to approve.");
            return Ok(exit::USAGE);
        }
    }
    let now = OffsetDateTime::from(TokioClock.now());
    eprint!("{}", describe(&request, now));
    let device = device_label(&request);
    if args.deny {
        api.deny_device(&args.code).await?;
        eprintln!(
            "Denied: {device} was not signed in. If you did not start it, nobody got access."
        );
        return Ok(exit::OK);
    }
    let access = if args.read_only {
        Access::Read
    } else {
        Access::Full
    };
    let what = match access {
        Access::Read => "only reading your profile and tokens",
        Access::Full => "acting as you, with your role",
    };
    let email = me
        .user
        .as_ref()
        .map(|u| u.email.to_string())
        .unwrap_or_default();
    eprintln!(
        "Approving signs it in to {} ({}) as {email}, {what}{}.",
        me.org.name,
        me.org.slug,
        args.days
            .map(|d| format!(", for {d} days"))
            .unwrap_or_default()
    );
    if let Some(hint) = request.org_hint.as_deref()
        && hint != me.org.slug
    {
        eprintln!(
            "Warning: the device asked to be signed in to {}, not {}: it gets a token it did not ask for, and may refuse it.",
            clean(hint, 64),
            me.org.slug
        );
    }
    eprintln!("Approve only a sign-in you started yourself, on a device in front of you.");
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::Usage(
                "standard input is not a terminal: pass --yes to approve without asking".into(),
            ));
        }
        if !super::confirm("Approve? [y/N] ") {
            eprintln!(
                "Not approved; the request is still pending (deny it: devauth approve {} --deny).",
                args.code
            );
            return Ok(exit::CANCELLED);
        }
    }
    let approved = api
        .approve_device(&args.code, &me.org.slug, access, args.days)
        .await?;
    let days = approved
        .token_days
        .map(|d| format!(" for {d} days"))
        .unwrap_or_default();
    eprintln!("Approved: {device} is signed in to {}{days}.", me.org.slug);
    Ok(exit::OK)
}

fn device_label(request: &DeviceRequest) -> String {
    request
        .device_name
        .as_deref()
        .map_or_else(|| request.client_id.clone(), |n| clean(n, 64))
}

/// The request in words: what devauth saw, then what the device says.
pub fn describe(request: &DeviceRequest, now: OffsetDateTime) -> String {
    let from = request
        .requester_ip
        .as_deref()
        .unwrap_or("an unknown address");
    let network = if request.same_network {
        "this machine's network"
    } else {
        "NOT this machine's network"
    };
    let requested = parse_time(&request.requested_at)
        .map(|t| distance(t.min(now), now))
        .unwrap_or_else(|| request.requested_at.clone());
    let expires = parse_time(&request.expires_at)
        .map(format_time)
        .unwrap_or_else(|| request.expires_at.clone());
    let mut out = String::new();
    out.push_str("Seen by devauth:\n");
    out.push_str(&format!("  Requested from:  {from} ({network})\n"));
    out.push_str(&format!("  Requested:       {requested}\n"));
    out.push_str(&format!("  Code expires:    {expires}\n"));
    out.push_str("Reported by the device (any device can claim any name):\n");
    out.push_str(&format!("  Device:          {}\n", device_label(request)));
    out.push_str(&format!(
        "  App:             {}\n",
        clean(&request.client_id, 64)
    ));
    if let Some(agent) = &request.user_agent {
        out.push_str(&format!("  Client:          {}\n", clean(agent, 120)));
    }
    if let Some(org) = &request.org_hint {
        out.push_str(&format!("  Asks for org:    {}\n", clean(org, 64)));
    }
    if !request.same_network {
        out.push_str(
            "Warning: this request came from another network than this machine's. If someone \
             sent you the code, deny it.\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(same_network: bool) -> DeviceRequest {
        DeviceRequest {
            client_id: "devauth-cli".into(),
            device_name: Some("build\u{202e}box".into()),
            org_hint: None,
            requester_ip: Some("203.0.113.7".into()),
            same_network,
            user_agent: Some("devauth/0.1".into()),
            requested_at: "2026-01-01T00:00:00Z".into(),
            expires_at: "2026-01-01T00:10:00Z".into(),
            status: DeviceStatus::Pending,
            token_days: None,
        }
    }

    #[test]
    fn the_request_is_told_as_facts_and_claims() {
        let now = parse_time("2026-01-01T00:00:04Z").expect("a time");
        let text = describe(&request(false), now);
        assert!(
            text.contains("203.0.113.7 (NOT this machine's network)"),
            "{text}"
        );
        assert!(text.contains("4 seconds ago"), "{text}");
        assert!(text.contains("Reported by the device"), "{text}");
        assert!(
            text.contains("Warning: this request came from another network"),
            "{text}"
        );
        assert!(
            !text.contains('\u{202e}'),
            "invisible characters are dropped: {text:?}"
        );
        let text = describe(&request(true), now);
        assert!(text.contains("(this machine's network)"), "{text}");
        assert!(!text.contains("Warning"), "{text}");
        assert!(!text.contains("Asks for org"), "{text}");
        let asked = DeviceRequest {
            org_hint: Some("globex".into()),
            ..request(true)
        };
        assert!(describe(&asked, now).contains("Asks for org:    globex"));
    }
}
