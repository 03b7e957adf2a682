use std::sync::Arc;
use std::time::Duration;

pub(super) use devauth_client::clock::ManualClock;

use super::*;

const DAY: Duration = Duration::from_secs(86_400);

fn setup() -> (Machine, ManualClock) {
    let clock = ManualClock::default();
    (Machine::new(Arc::new(clock.clone())), clock)
}

fn server() -> Server {
    Server {
        url: "http://127.0.0.1:8750".into(),
        kind: ServerKind::Environment,
    }
}

fn profile(clock: &ManualClock, days: u64) -> Profile {
    Profile {
        name: Some("Ada Lovelace".into()),
        email: Some("ada@example.com".into()),
        org_slug: Some("acme".into()),
        org_name: Some("Acme".into()),
        role: Some("owner".into()),
        expires_at: Some(clock.now() + DAY * days as u32),
        storage: Some("Secret Service keychain".into()),
    }
}

fn code(clock: &ManualClock) -> Code {
    Code {
        user_code: "BCDF-GHJK".into(),
        verification_uri: "http://127.0.0.1:8750/device".into(),
        verification_uri_complete: Some("http://127.0.0.1:8750/device?user_code=BCDF-GHJK".into()),
        expires_at: clock.now() + Duration::from_secs(600),
        qr_svg: Some("<svg></svg>".into()),
    }
}

fn failure(kind: FailureKind) -> Failure {
    Failure::new(kind, "details")
}

/// Launched, server ready, nobody signed in.
fn signed_out() -> (Machine, ManualClock) {
    let (mut m, clock) = setup();
    assert_eq!(m.handle(Event::Launched), vec![Effect::PrepareServer]);
    assert_eq!(
        m.handle(Event::ServerReady(server())),
        vec![Effect::CheckSession]
    );
    assert!(
        m.handle(Event::SessionChecked(SessionCheck::SignedOut))
            .is_empty()
    );
    assert_eq!(*m.state(), State::SignedOut { notice: None });
    (m, clock)
}

fn signed_in() -> (Machine, ManualClock) {
    let (mut m, clock) = setup();
    m.handle(Event::Launched);
    m.handle(Event::ServerReady(server()));
    let p = profile(&clock, 90);
    assert!(
        m.handle(Event::SessionChecked(SessionCheck::SignedIn(p.clone())))
            .is_empty()
    );
    assert_eq!(
        *m.state(),
        State::SignedIn {
            profile: p,
            offline: None
        }
    );
    (m, clock)
}

/// Sign in clicked and a code shown; returns the attempt number.
fn awaiting() -> (Machine, ManualClock, Attempt) {
    let (mut m, clock) = signed_out();
    let effects = m.handle(Event::SignInClicked);
    let [Effect::BeginSignIn { attempt }] = effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(*m.state(), State::Requesting { attempt });
    let c = code(&clock);
    assert_eq!(
        m.handle(Event::CodeIssued {
            attempt,
            code: c.clone()
        }),
        vec![
            Effect::OpenBrowser(BrowserUrl::new(
                "http://127.0.0.1:8750/device?user_code=BCDF-GHJK"
            )),
            Effect::FinishSignIn { attempt }
        ]
    );
    assert_eq!(*m.state(), State::AwaitingApproval { attempt, code: c });
    (m, clock, attempt)
}

fn notice(m: &Machine) -> Option<Notice> {
    match m.state() {
        State::SignedOut { notice } => notice.clone(),
        other => panic!("not signed out: {other:?}"),
    }
}

// Sign-in: codes, approval, denial, expiry, cancel, the setup step.
mod sign_in;
// The session: start, refresh, sign-out, token expiry, settings, the view.
mod session;
