//! What the machine holds: the state, and the facts it is made of.

use std::fmt;
use std::time::SystemTime;

/// Numbers each sign-in attempt, so that the late result of a cancelled
/// attempt is recognised and dropped.
pub type Attempt = u64;

/// Who the token belongs to, from `/me` or from what the last sign-in recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: Option<String>,
    pub email: Option<String>,
    pub org_slug: Option<String>,
    pub org_name: Option<String>,
    pub role: Option<String>,
    /// `None`: the token never expires, or its expiry is unknown.
    pub expires_at: Option<SystemTime>,
    /// Where the token is kept, for people ("Secret Service keychain").
    pub storage: Option<String>,
}

/// A user code waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_at: SystemTime,
    /// An SVG QR code of the complete verification URI.
    pub qr_svg: Option<String>,
}

/// Which server the app talks to, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub url: String,
    pub kind: ServerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// Started inside the app (no server configured).
    Bundled,
    /// Chosen in Settings.
    Configured,
    /// `DEVAUTH_SERVER`.
    Environment,
}

/// A page to open in the browser. The setup page carries the setup token in
/// its fragment, so `Debug` shows only the part before `#`.
#[derive(Clone, PartialEq, Eq)]
pub struct BrowserUrl(String);

impl BrowserUrl {
    pub fn new(url: impl Into<String>) -> Self {
        BrowserUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BrowserUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.split_once('#') {
            Some((base, _)) => write!(f, "BrowserUrl({base}#redacted)"),
            None => write!(f, "BrowserUrl({})", self.0),
        }
    }
}

/// Why something failed, as far as the person needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Someone pressed Deny on the approval page.
    Denied,
    /// The user code expired before anyone approved it.
    CodeExpired,
    Unreachable,
    /// No usable OS keychain.
    Keychain,
    /// The bundled server could not start.
    BundledServer,
    /// The settings or the server URL are unusable.
    Settings,
    /// The server misbehaved or refused.
    Server,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

/// What "Try again" does after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    PrepareServer,
    CheckSession,
    SignIn,
    SignOut,
}

/// Shown on the signed-out screen: why the person is signed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    SignedOut,
    RevocationPending {
        reason: String,
    },
    NotRevoked {
        reason: String,
    },
    /// The server rejected the token (revoked elsewhere, or expired).
    Rejected,
    Expired,
    /// The token disappeared from the keychain (e.g. `devauth logout`).
    RemovedElsewhere,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Starting the server or reading the keychain and asking `/me`.
    Starting,
    SignedOut {
        notice: Option<Notice>,
    },
    /// The bundled server is unclaimed: its setup page is open in the browser.
    Setup {
        attempt: Attempt,
    },
    /// Probing the keychain and asking for a device code.
    Requesting {
        attempt: Attempt,
    },
    AwaitingApproval {
        attempt: Attempt,
        code: Code,
    },
    SignedIn {
        profile: Profile,
        /// Set when the server could not be asked; the profile is the last known.
        offline: Option<String>,
    },
    SigningOut,
    Failed {
        failure: Failure,
        retry: Retry,
    },
}
