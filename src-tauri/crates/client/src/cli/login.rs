use devauth_client::clock::{Clock, TokioClock};
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::task::Poll;
use std::time::{Duration, SystemTime};

use devauth_client::device_flow::PollEvent;
use devauth_client::error::exit;
use devauth_client::session::{AuthState, LoginRequest, SignedIn};
use devauth_client::text::clean;
use devauth_client::{Client, Error};

use crate::LoginArgs;

pub async fn run(client: &Client, args: LoginArgs) -> Result<i32, Error> {
    if client.options().env.token.is_some() {
        eprintln!(
            "note: DEVAUTH_TOKEN is set; it takes precedence over the token stored by this login."
        );
    }
    if !args.force
        && let Some(code) = keep_working_sign_in(client).await?
    {
        return Ok(code);
    }
    if args.with_token {
        let token = super::read_token_from_stdin()?;
        let signed_in = client.login_with_token(token, args.org.as_deref()).await?;
        print_signed_in(&signed_in);
        return Ok(exit::OK);
    }

    let request = LoginRequest {
        org: args.org,
        scopes: (!args.scopes.is_empty()).then_some(args.scopes),
    };
    // Listen for Ctrl-C before offering it: a signal that came between the
    // message and the first wait would kill the process instead.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut early = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = ctrl_c.as_mut().poll(cx) {
            early = Some(result);
        }
        Poll::Ready(())
    })
    .await;
    let pending = client.begin_login(&request).await?;
    let auth = pending.authorization();
    let minutes = auth.expires_in().as_secs().div_ceil(60);
    eprintln!("Signing in to {}.", client.server());
    eprintln!();
    eprintln!("  Your one-time code:  {}", auth.user_code());
    eprintln!("  Enter it at:         {}", auth.verification_uri());
    if let Some(complete) = auth.verification_uri_complete() {
        eprintln!("  Or open this link:   {complete}");
    }
    eprintln!("  The page will show:  {}", pending.device_name());
    eprintln!();
    eprintln!(
        "Check that the page shows the same code before approving. The code expires in \
         {minutes} minutes."
    );
    eprintln!(
        "Approve only a sign-in you started yourself: if someone sent you this code or link, \
         do not approve it."
    );
    if args.no_browser {
        // Asked not to.
    } else if !has_display() {
        eprintln!("No display found, so no browser was opened; open the link on any device.");
    } else if let Err(e) = open::that_detached(auth.browser_url()) {
        eprintln!("Could not open a browser ({e}); open the link yourself.");
    } else {
        eprintln!("Opened the link in your browser.");
    }
    eprintln!("Waiting for approval (Ctrl-C to cancel)...");

    let expires_at = auth.expires_at();
    let tty = std::io::stderr().is_terminal();
    let on_event = move |event: &PollEvent| {
        let line = match event {
            PollEvent::Pending => return,
            PollEvent::SlowDown { interval } => {
                format!(
                    "The server asked to poll less often; now every {} s.",
                    interval.as_secs()
                )
            }
            PollEvent::Retrying { error } => format!("Server not reachable ({error}); retrying."),
        };
        if tty {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{line}");
    };
    let cancel = async {
        let interrupted = match early {
            Some(result) => result,
            None => ctrl_c.await,
        };
        if interrupted.is_err() {
            // No signal handling available: never cancel from here.
            std::future::pending::<()>().await;
        }
    };
    let finish = client.finish_login(pending, cancel, on_event);
    tokio::pin!(finish);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        tokio::select! {
            result = &mut finish => break result,
            _ = ticker.tick(), if tty => draw_countdown(expires_at),
        }
    };
    if tty {
        eprint!("\r\x1b[2K");
    }
    match result {
        Ok(signed_in) => {
            print_signed_in(&signed_in);
            Ok(exit::OK)
        }
        Err(e) if e.code() == "cancelled" => {
            eprintln!("Sign-in cancelled; nothing was stored.");
            Ok(exit::CANCELLED)
        }
        Err(e) => Err(e),
    }
}

/// A sign-in that works is replaced only when the person says so: asked on
/// the terminal, or `--force`. `Some(exit code)` when it stays. What cannot
/// be checked (no keychain, say) is left to the sign-in to report.
async fn keep_working_sign_in(client: &Client) -> Result<Option<i32>, Error> {
    let Ok(status) = client.stored_status().await else {
        return Ok(None);
    };
    if status.state != AuthState::SignedIn {
        return Ok(None);
    }
    let who = status
        .user
        .as_ref()
        .and_then(|u| u.email.clone().or_else(|| u.name.clone()))
        .map(|who| format!(" as {}", clean(&who, 200)))
        .unwrap_or_default();
    let org = status
        .org
        .as_ref()
        .and_then(|o| o.slug.clone())
        .map(|slug| format!(" (org {})", clean(&slug, 100)))
        .unwrap_or_default();
    let signed_in = format!("signed in to {}{who}{org}", status.server);
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "already {signed_in}. Pass --force to sign in again and replace it (standard input \
             is not a terminal, so devauth cannot ask); nothing was changed"
        )));
    }
    if super::confirm(&format!(
        "You are {signed_in}. Sign in again and replace it? [y/N] "
    )) {
        return Ok(None);
    }
    eprintln!("Kept the current sign-in; nothing was changed.");
    Ok(Some(exit::CANCELLED))
}

fn draw_countdown(expires_at: SystemTime) {
    let left = expires_at
        .duration_since(TokioClock.now())
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "\r\x1b[2KWaiting for approval... {}:{:02} left",
        left / 60,
        left % 60
    );
    let _ = err.flush();
}

fn print_signed_in(signed_in: &SignedIn) {
    for note in &signed_in.notes {
        eprintln!("note: {note}");
    }
    eprintln!("{}", signed_in.summary());
}

/// A browser can only be shown where there is a display: always on macOS and
/// Windows, and on other Unix systems when X11 or Wayland is set up.
fn has_display() -> bool {
    if cfg!(any(target_os = "macos", windows)) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}
