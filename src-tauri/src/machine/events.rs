//! What goes into the machine (events, with the outcomes of the shell's
//! work) and what comes out (effects: work for the shell).

use super::{Attempt, BrowserUrl, Code, Failure, Profile, Server};

/// What checking the stored token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCheck {
    SignedIn(Profile),
    /// No token is stored for this server.
    SignedOut,
    /// The server answered 401: revoked, or expired by its clock.
    Rejected,
    /// Past its expiry time.
    Expired,
    /// A token is stored but the server could not be asked.
    Offline {
        profile: Option<Profile>,
        reason: String,
    },
}

/// What sign-out achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignOutResult {
    Revoked,
    /// Nothing was stored (signed out elsewhere).
    NotSignedIn,
    /// The server was unreachable; the revocation is retried on a later start.
    Pending {
        reason: String,
    },
    /// The server refused to revoke; the token was removed here anyway.
    NotRevoked {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Launched,
    ServerReady(Server),
    ServerFailed(Failure),
    SessionChecked(SessionCheck),
    SessionCheckFailed(Failure),
    SignInClicked,
    SetupNeeded {
        attempt: Attempt,
        url: BrowserUrl,
    },
    SetupDone {
        attempt: Attempt,
    },
    CodeIssued {
        attempt: Attempt,
        code: Code,
    },
    SignInFinished {
        attempt: Attempt,
        result: Result<Profile, Failure>,
    },
    CancelClicked,
    ReopenBrowserClicked,
    SignOutClicked,
    SignOutFinished(Result<SignOutResult, Failure>),
    RetryClicked,
    DismissClicked,
    /// Time to ask the server again whether the token still works.
    RefreshDue,
    /// A second passed: expiry is checked against the clock.
    Tick,
    SettingsChanged,
}

/// Work for the shell. Each one ends in an [`Event`] (except `OpenBrowser`,
/// `CancelSignIn` and `ForgetToken`, which only act).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Pick the server (starting the bundled one if needed) → `ServerReady` / `ServerFailed`.
    PrepareServer,
    /// Read the keychain and ask `/me` → `SessionChecked` / `SessionCheckFailed`.
    CheckSession,
    /// → `SetupNeeded`, `CodeIssued` or `SignInFinished(Err)`.
    BeginSignIn {
        attempt: Attempt,
    },
    /// Wait until the bundled server is claimed → `SetupDone`.
    WaitForSetup {
        attempt: Attempt,
    },
    /// Poll until approved → `SignInFinished`.
    FinishSignIn {
        attempt: Attempt,
    },
    CancelSignIn {
        attempt: Attempt,
    },
    OpenBrowser(BrowserUrl),
    /// Revoke and forget → `SignOutFinished`.
    SignOut,
    /// Drop a token the server no longer accepts.
    ForgetToken,
}

impl Effect {
    /// For logs: the kind of work, without its data.
    pub fn name(&self) -> &'static str {
        match self {
            Effect::PrepareServer => "prepare server",
            Effect::CheckSession => "check session",
            Effect::BeginSignIn { .. } => "begin sign-in",
            Effect::WaitForSetup { .. } => "wait for setup",
            Effect::FinishSignIn { .. } => "finish sign-in",
            Effect::CancelSignIn { .. } => "cancel sign-in",
            Effect::OpenBrowser(_) => "open browser",
            Effect::SignOut => "sign out",
            Effect::ForgetToken => "forget token",
        }
    }
}
