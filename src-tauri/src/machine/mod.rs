//! The app's sign-in state machine, free of Tauri and of I/O.
//!
//! [`Machine::handle`] takes an [`Event`] (a click, or the result of some
//! work) and returns the [`Effect`]s the shell must carry out; the shell
//! feeds each effect's outcome back as another event. Time comes from an
//! injected [`Clock`], so code expiry and "token expires in N days" are
//! tested without waiting. [`Machine::view`] is what the window is sent.

mod events;
mod state;
mod view;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::SystemTime;

use devauth_client::clock::Clock;

pub use events::{Effect, Event, SessionCheck, SignOutResult};
pub use state::{
    Attempt, BrowserUrl, Code, Failure, FailureKind, Notice, Profile, Retry, Server, ServerKind,
    State,
};
pub use view::{FailureView, NoticeView, Screen, ServerView, View};

pub struct Machine {
    clock: Arc<dyn Clock>,
    state: State,
    server: Option<Server>,
    last_attempt: Attempt,
    /// The page the current sign-in opened, for "Open browser again".
    browser_url: Option<BrowserUrl>,
    /// A `CheckSession` is under way.
    checking: bool,
    /// Counts changes of state or server. The window gets views both as
    /// command answers and as events, which can arrive out of order; it keeps
    /// the one with the highest revision.
    revision: u64,
}

impl Machine {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Machine {
            clock,
            state: State::Starting,
            server: None,
            last_attempt: 0,
            browser_url: None,
            checking: false,
            revision: 0,
        }
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn server(&self) -> Option<&Server> {
        self.server.as_ref()
    }

    /// The sign-in attempt in progress, if any.
    pub fn attempt(&self) -> Option<Attempt> {
        match &self.state {
            State::Setup { attempt }
            | State::Requesting { attempt }
            | State::AwaitingApproval { attempt, .. } => Some(*attempt),
            _ => None,
        }
    }

    pub fn view(&self) -> View {
        view::view(self, self.clock.now())
    }

    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let before = (self.state.clone(), self.server.clone());
        let effects = self.transition(event);
        if before.0 != self.state || before.1 != self.server {
            self.revision += 1;
        }
        effects
    }

    fn transition(&mut self, event: Event) -> Vec<Effect> {
        let now = self.clock.now();
        match event {
            Event::Launched => {
                self.state = State::Starting;
                vec![Effect::PrepareServer]
            }
            Event::ServerReady(server) => {
                self.server = Some(server);
                if self.state == State::Starting {
                    self.checking = true;
                    vec![Effect::CheckSession]
                } else {
                    Vec::new()
                }
            }
            Event::ServerFailed(failure) => {
                self.server = None;
                self.fail(failure, Retry::PrepareServer);
                Vec::new()
            }
            Event::SessionChecked(check) => {
                self.checking = false;
                self.session_checked(check)
            }
            Event::SessionCheckFailed(failure) => {
                self.checking = false;
                if self.state == State::Starting {
                    self.fail(failure, Retry::CheckSession);
                } else if let State::SignedIn { offline, .. } = &mut self.state {
                    *offline = Some(failure.message);
                }
                Vec::new()
            }
            Event::SignInClicked => match self.state {
                State::SignedOut { .. } | State::Failed { .. } if self.server.is_some() => {
                    self.start_attempt()
                }
                _ => Vec::new(),
            },
            Event::SetupNeeded { attempt, url } => {
                if self.state != (State::Requesting { attempt }) {
                    return Vec::new();
                }
                self.state = State::Setup { attempt };
                self.browser_url = Some(url.clone());
                vec![Effect::OpenBrowser(url), Effect::WaitForSetup { attempt }]
            }
            Event::SetupDone { attempt } => {
                if self.state != (State::Setup { attempt }) {
                    return Vec::new();
                }
                self.state = State::Requesting { attempt };
                vec![Effect::BeginSignIn { attempt }]
            }
            Event::CodeIssued { attempt, code } => {
                if self.state != (State::Requesting { attempt }) {
                    // Cancelled meanwhile: let go of the pending authorization.
                    return vec![Effect::CancelSignIn { attempt }];
                }
                let url = BrowserUrl::new(
                    code.verification_uri_complete
                        .clone()
                        .unwrap_or_else(|| code.verification_uri.clone()),
                );
                self.browser_url = Some(url.clone());
                self.state = State::AwaitingApproval { attempt, code };
                vec![Effect::OpenBrowser(url), Effect::FinishSignIn { attempt }]
            }
            Event::SignInFinished { attempt, result } => self.sign_in_finished(attempt, result),
            Event::CancelClicked => match self.attempt() {
                Some(attempt) => {
                    self.browser_url = None;
                    self.state = State::SignedOut { notice: None };
                    vec![Effect::CancelSignIn { attempt }]
                }
                None => Vec::new(),
            },
            Event::ReopenBrowserClicked => match (&self.state, &self.browser_url) {
                (State::Setup { .. } | State::AwaitingApproval { .. }, Some(url)) => {
                    vec![Effect::OpenBrowser(url.clone())]
                }
                _ => Vec::new(),
            },
            Event::SignOutClicked => match self.state {
                State::SignedIn { .. } => {
                    self.state = State::SigningOut;
                    vec![Effect::SignOut]
                }
                _ => Vec::new(),
            },
            Event::SignOutFinished(result) => {
                if self.state != State::SigningOut {
                    return Vec::new();
                }
                match result {
                    Ok(outcome) => {
                        let notice = match outcome {
                            SignOutResult::Revoked | SignOutResult::NotSignedIn => {
                                Notice::SignedOut
                            }
                            SignOutResult::Pending { reason } => {
                                Notice::RevocationPending { reason }
                            }
                            SignOutResult::NotRevoked { reason } => Notice::NotRevoked { reason },
                        };
                        self.state = State::SignedOut {
                            notice: Some(notice),
                        };
                    }
                    Err(failure) => self.fail(failure, Retry::SignOut),
                }
                Vec::new()
            }
            Event::RetryClicked => {
                let State::Failed { retry, .. } = self.state else {
                    return Vec::new();
                };
                match retry {
                    Retry::PrepareServer => {
                        self.state = State::Starting;
                        vec![Effect::PrepareServer]
                    }
                    Retry::CheckSession => {
                        self.state = State::Starting;
                        self.checking = true;
                        vec![Effect::CheckSession]
                    }
                    Retry::SignIn if self.server.is_some() => self.start_attempt(),
                    Retry::SignIn => Vec::new(),
                    Retry::SignOut => {
                        self.state = State::SigningOut;
                        vec![Effect::SignOut]
                    }
                }
            }
            Event::DismissClicked => {
                if let State::Failed {
                    retry: Retry::SignIn,
                    ..
                } = self.state
                {
                    self.state = State::SignedOut { notice: None };
                }
                Vec::new()
            }
            Event::RefreshDue => match &self.state {
                State::SignedIn { profile, .. } => {
                    if is_past(profile.expires_at, now) {
                        self.token_gone(Notice::Expired)
                    } else if self.checking {
                        Vec::new()
                    } else {
                        self.checking = true;
                        vec![Effect::CheckSession]
                    }
                }
                _ => Vec::new(),
            },
            Event::Tick => match &self.state {
                State::AwaitingApproval { attempt, code } if code.expires_at <= now => {
                    let attempt = *attempt;
                    self.browser_url = None;
                    self.fail(
                        Failure::new(
                            FailureKind::CodeExpired,
                            "the code expired before it was approved",
                        ),
                        Retry::SignIn,
                    );
                    vec![Effect::CancelSignIn { attempt }]
                }
                State::SignedIn { profile, .. } if is_past(profile.expires_at, now) => {
                    self.token_gone(Notice::Expired)
                }
                _ => Vec::new(),
            },
            Event::SettingsChanged => {
                let mut effects = Vec::new();
                if let Some(attempt) = self.attempt() {
                    effects.push(Effect::CancelSignIn { attempt });
                }
                self.server = None;
                self.browser_url = None;
                self.checking = false;
                self.state = State::Starting;
                effects.push(Effect::PrepareServer);
                effects
            }
        }
    }

    fn start_attempt(&mut self) -> Vec<Effect> {
        self.last_attempt += 1;
        let attempt = self.last_attempt;
        self.browser_url = None;
        self.state = State::Requesting { attempt };
        vec![Effect::BeginSignIn { attempt }]
    }

    fn fail(&mut self, failure: Failure, retry: Retry) {
        self.state = State::Failed { failure, retry };
    }

    /// Signed out because the token no longer works; it is dropped locally.
    fn token_gone(&mut self, notice: Notice) -> Vec<Effect> {
        self.state = State::SignedOut {
            notice: Some(notice),
        };
        vec![Effect::ForgetToken]
    }

    fn session_checked(&mut self, check: SessionCheck) -> Vec<Effect> {
        let known = match &self.state {
            State::Starting => None,
            State::SignedIn { profile, .. } => Some(profile.clone()),
            // A sign-in or sign-out started meanwhile: its own result decides.
            _ => return Vec::new(),
        };
        match check {
            SessionCheck::SignedIn(profile) => {
                self.state = State::SignedIn {
                    profile,
                    offline: None,
                };
                Vec::new()
            }
            SessionCheck::SignedOut => {
                let notice = known.map(|_| Notice::RemovedElsewhere);
                self.state = State::SignedOut { notice };
                Vec::new()
            }
            SessionCheck::Rejected => self.token_gone(Notice::Rejected),
            SessionCheck::Expired => self.token_gone(Notice::Expired),
            SessionCheck::Offline { profile, reason } => {
                match known.or(profile) {
                    Some(profile) => {
                        self.state = State::SignedIn {
                            profile,
                            offline: Some(reason),
                        }
                    }
                    None => self.fail(
                        Failure::new(FailureKind::Unreachable, reason),
                        Retry::CheckSession,
                    ),
                }
                Vec::new()
            }
        }
    }

    fn sign_in_finished(
        &mut self,
        attempt: Attempt,
        result: Result<Profile, Failure>,
    ) -> Vec<Effect> {
        let current = self.attempt() == Some(attempt);
        match result {
            Ok(profile) => {
                // Approved just as it was cancelled: the token is stored, so
                // the honest answer is "signed in".
                let idle = matches!(self.state, State::SignedOut { .. } | State::Failed { .. });
                if current || idle {
                    self.browser_url = None;
                    self.state = State::SignedIn {
                        profile,
                        offline: None,
                    };
                }
            }
            Err(failure) if current => {
                self.browser_url = None;
                self.fail(failure, Retry::SignIn);
            }
            Err(_) => {}
        }
        Vec::new()
    }
}

fn is_past(at: Option<SystemTime>, now: SystemTime) -> bool {
    at.is_some_and(|at| at <= now)
}
