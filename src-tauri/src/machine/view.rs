//! What the window is sent: the state with everything worded and counted,
//! and never a token.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{Failure, FailureKind, Machine, Notice, Profile, Retry, Server, ServerKind, State};

/// A token expiring sooner than this is shown as a warning.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    /// Higher is newer; see [`Machine::revision`].
    pub revision: u64,
    pub server: Option<ServerView>,
    #[serde(flatten)]
    pub screen: Screen,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerView {
    pub url: String,
    pub kind: ServerKind,
    /// "Built-in server", "Server from settings", "Server from DEVAUTH_SERVER".
    pub label: &'static str,
    /// The URL without its scheme, for the header.
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Screen {
    Starting,
    SignedOut {
        notice: Option<NoticeView>,
    },
    Setup,
    Requesting,
    AwaitingApproval {
        user_code: String,
        verification_uri: String,
        verification_uri_complete: Option<String>,
        qr_svg: Option<String>,
        /// Seconds left at the time of this view; the window counts down.
        expires_in_secs: u64,
    },
    SignedIn {
        name: Option<String>,
        email: Option<String>,
        initials: String,
        org: Option<String>,
        org_name: Option<String>,
        role: Option<String>,
        /// "Expires in 90 days".
        expiry: String,
        days_left: Option<u64>,
        expiring_soon: bool,
        storage: Option<String>,
        offline: Option<String>,
    },
    SigningOut,
    Failed(FailureView),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeView {
    pub kind: &'static str,
    /// `info` or `warning`.
    pub tone: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureView {
    pub kind: FailureKind,
    pub title: &'static str,
    pub message: String,
    /// What to do next.
    pub hint: &'static str,
    /// Buttons, first one primary: `retry`, `sign_in`, `settings`, `dismiss`.
    pub actions: Vec<&'static str>,
    /// The label of the `retry` / `sign_in` button.
    pub retry_label: &'static str,
}

pub(super) fn view(machine: &Machine, now: SystemTime) -> View {
    let screen = match &machine.state {
        State::Starting => Screen::Starting,
        State::SignedOut { notice } => Screen::SignedOut {
            notice: notice.as_ref().map(notice_view),
        },
        State::Setup { .. } => Screen::Setup,
        State::Requesting { .. } => Screen::Requesting,
        State::AwaitingApproval { code, .. } => Screen::AwaitingApproval {
            user_code: code.user_code.clone(),
            verification_uri: code.verification_uri.clone(),
            verification_uri_complete: code.verification_uri_complete.clone(),
            qr_svg: code.qr_svg.clone(),
            expires_in_secs: code
                .expires_at
                .duration_since(now)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        },
        State::SignedIn { profile, offline } => signed_in(profile, offline.clone(), now),
        State::SigningOut => Screen::SigningOut,
        State::Failed { failure, retry } => Screen::Failed(failure_view(failure, *retry)),
    };
    View {
        revision: machine.revision,
        server: machine.server.as_ref().map(server_view),
        screen,
    }
}

fn server_view(server: &Server) -> ServerView {
    let label = match server.kind {
        ServerKind::Bundled => "Built-in server",
        ServerKind::Configured => "Server from settings",
        ServerKind::Environment => "Server from DEVAUTH_SERVER",
    };
    let host = server
        .url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(&server.url)
        .to_string();
    ServerView {
        url: server.url.clone(),
        kind: server.kind,
        label,
        host,
    }
}

fn signed_in(profile: &Profile, offline: Option<String>, now: SystemTime) -> Screen {
    let left = profile
        .expires_at
        .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO));
    // Whole days, rounded to the nearest: 90 days and 10 minutes is 90 days.
    let days_left = left.map(|d| (d.as_secs() + 43_200) / 86_400);
    let expiry = match (left, days_left) {
        (None, _) => "Never expires".to_string(),
        (Some(d), _) if d.is_zero() => "Has expired".to_string(),
        (Some(d), _) if d.as_secs() < 3_600 => "Expires in less than an hour".to_string(),
        (Some(d), _) if d.as_secs() < 86_400 => {
            let hours = d.as_secs() / 3_600;
            format!(
                "Expires in {hours} hour{}",
                if hours == 1 { "" } else { "s" }
            )
        }
        (Some(_), Some(1)) => "Expires in 1 day".to_string(),
        (Some(_), Some(days)) => format!("Expires in {days} days"),
        (Some(_), None) => "Expiry unknown".to_string(),
    };
    Screen::SignedIn {
        name: profile.name.clone(),
        email: profile.email.clone(),
        initials: initials_of(profile),
        org: profile.org_slug.clone(),
        org_name: profile.org_name.clone(),
        role: profile.role.clone(),
        expiry,
        days_left,
        expiring_soon: left.is_some_and(|d| d < EXPIRY_WARNING),
        storage: profile.storage.clone(),
        offline,
    }
}

/// Up to two letters for the avatar: from the name, else the email.
pub(super) fn initials_of(profile: &Profile) -> String {
    let source = profile
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .or(profile.email.as_deref())
        .unwrap_or("?");
    let words: Vec<&str> = source
        .split(|c: char| c.is_whitespace() || c == '@' || c == '.')
        .filter(|w| !w.is_empty())
        .collect();
    let letters: String = match words.as_slice() {
        [] => "?".to_string(),
        [one] => one.chars().take(1).collect(),
        [first, .., last] if profile.name.is_some() => {
            first.chars().take(1).chain(last.chars().take(1)).collect()
        }
        [first, ..] => first.chars().take(1).collect(),
    };
    letters.to_uppercase()
}

fn notice_view(notice: &Notice) -> NoticeView {
    let (kind, tone, text) = match notice {
        Notice::SignedOut => (
            "signed_out",
            "info",
            "Signed out. The token was revoked on the server and removed from this computer."
                .to_string(),
        ),
        Notice::RevocationPending { reason } => (
            "revocation_pending",
            "warning",
            format!(
                "Signed out on this computer, but the server could not be reached ({reason}). \
                 The token will be revoked the next time the app can reach it."
            ),
        ),
        Notice::NotRevoked { reason } => (
            "not_revoked",
            "warning",
            format!(
                "Signed out on this computer, but the server did not revoke the token \
                 ({reason}). Revoke it on the server's account page."
            ),
        ),
        Notice::Rejected => (
            "revoked",
            "warning",
            "You were signed out: the server no longer accepts this computer's token. It was \
             revoked, or it expired. Sign in again to continue."
                .to_string(),
        ),
        Notice::Expired => (
            "expired",
            "warning",
            "You were signed out: the token has expired. Sign in again to continue.".to_string(),
        ),
        Notice::RemovedElsewhere => (
            "removed",
            "info",
            "You were signed out: the token was removed from this computer's keychain \
             (for example by `devauth logout`)."
                .to_string(),
        ),
    };
    NoticeView { kind, tone, text }
}

fn failure_view(failure: &Failure, retry: Retry) -> FailureView {
    let (title, hint) = match failure.kind {
        FailureKind::Denied => (
            "Sign-in was denied",
            "Someone chose Deny on the approval page. If that was a mistake, get a new code \
             and approve it.",
        ),
        FailureKind::CodeExpired => (
            "The code expired",
            "Codes work for 10 minutes. Get a new code and approve it in the browser.",
        ),
        FailureKind::Unreachable => (
            "Can't reach the server",
            "Check your network connection and the server address in Settings, then try again.",
        ),
        FailureKind::Keychain => (
            "The keychain is not available",
            "devauth keeps tokens in the OS keychain. Install and unlock one (on Linux: GNOME \
             Keyring or KWallet with the Secret Service API), then try again.",
        ),
        FailureKind::BundledServer => (
            "The built-in server did not start",
            "Try again, or choose another server in Settings.",
        ),
        FailureKind::Settings => (
            "The settings need attention",
            "Open Settings and check the server address.",
        ),
        FailureKind::Server => (
            "The server had a problem",
            "Try again in a moment. If it keeps happening, ask the server's admin.",
        ),
        FailureKind::Other => ("Something went wrong", "Try again."),
    };
    let (mut actions, retry_label) = match retry {
        Retry::SignIn => match failure.kind {
            FailureKind::Denied | FailureKind::CodeExpired => (vec!["retry"], "Get a new code"),
            _ => (vec!["retry"], "Try again"),
        },
        Retry::PrepareServer | Retry::CheckSession | Retry::SignOut => (vec!["retry"], "Try again"),
    };
    if matches!(
        failure.kind,
        FailureKind::Unreachable | FailureKind::Settings | FailureKind::BundledServer
    ) {
        actions.push("settings");
    }
    if retry == Retry::SignIn {
        actions.push("dismiss");
    }
    // For these the title and hint say it all; the client's sentence would repeat them.
    let message = match failure.kind {
        FailureKind::Denied | FailureKind::CodeExpired => String::new(),
        _ => failure.message.clone(),
    };
    FailureView {
        kind: failure.kind,
        title,
        message,
        hint,
        actions,
        retry_label,
    }
}
