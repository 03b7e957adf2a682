use std::time::Duration;

use super::*;

#[test]
fn sign_in_approved() {
    let (mut m, clock, attempt) = awaiting();
    let Screen::AwaitingApproval {
        user_code,
        expires_in_secs,
        ..
    } = m.view().screen
    else {
        panic!()
    };
    assert_eq!((user_code.as_str(), expires_in_secs), ("BCDF-GHJK", 600));
    clock.advance(Duration::from_secs(42));
    let Screen::AwaitingApproval {
        expires_in_secs, ..
    } = m.view().screen
    else {
        panic!()
    };
    assert_eq!(expires_in_secs, 558);
    let p = profile(&clock, 90);
    assert!(
        m.handle(Event::SignInFinished {
            attempt,
            result: Ok(p.clone())
        })
        .is_empty()
    );
    assert_eq!(
        *m.state(),
        State::SignedIn {
            profile: p,
            offline: None
        }
    );
}

#[test]
fn sign_in_denied_or_expired_offers_a_new_code() {
    for kind in [FailureKind::Denied, FailureKind::CodeExpired] {
        let (mut m, _, attempt) = awaiting();
        m.handle(Event::SignInFinished {
            attempt,
            result: Err(failure(kind)),
        });
        let Screen::Failed(view) = m.view().screen else {
            panic!()
        };
        assert_eq!(view.kind, kind);
        assert_eq!(view.actions, vec!["retry", "dismiss"]);
        assert_eq!(view.retry_label, "Get a new code");
        let effects = m.handle(Event::RetryClicked);
        assert_eq!(
            effects,
            vec![Effect::BeginSignIn {
                attempt: attempt + 1
            }]
        );
    }
}

#[test]
fn a_code_past_its_expiry_fails_on_the_clock_alone() {
    let (mut m, clock, attempt) = awaiting();
    clock.advance(Duration::from_secs(599));
    assert!(m.handle(Event::Tick).is_empty());
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        m.handle(Event::Tick),
        vec![Effect::CancelSignIn { attempt }]
    );
    let State::Failed { failure, retry } = m.state() else {
        panic!()
    };
    assert_eq!(
        (failure.kind, *retry),
        (FailureKind::CodeExpired, Retry::SignIn)
    );
    assert_eq!(m.handle(Event::DismissClicked), Vec::new());
    assert_eq!(notice(&m), None);
}

#[test]
fn errors_while_requesting_a_code_fail_with_retry() {
    let (mut m, _) = signed_out();
    let effects = m.handle(Event::SignInClicked);
    let [Effect::BeginSignIn { attempt }] = effects[..] else {
        panic!()
    };
    m.handle(Event::SignInFinished {
        attempt,
        result: Err(failure(FailureKind::Unreachable)),
    });
    let Screen::Failed(view) = m.view().screen else {
        panic!()
    };
    assert_eq!(view.actions, vec!["retry", "settings", "dismiss"]);
    assert_eq!(view.retry_label, "Try again");
    // Sign in from the failure screen starts a fresh attempt too.
    assert_eq!(
        m.handle(Event::SignInClicked),
        vec![Effect::BeginSignIn {
            attempt: attempt + 1
        }]
    );
}

#[test]
fn cancel_drops_the_attempt_and_ignores_its_late_results() {
    let (mut m, clock, attempt) = awaiting();
    assert_eq!(
        m.handle(Event::CancelClicked),
        vec![Effect::CancelSignIn { attempt }]
    );
    assert_eq!(notice(&m), None);
    m.handle(Event::SignInFinished {
        attempt,
        result: Err(failure(FailureKind::Other)),
    });
    assert_eq!(notice(&m), None, "the cancelled attempt's error is dropped");
    assert_eq!(m.handle(Event::ReopenBrowserClicked), Vec::new());

    // Cancelled while the code was being requested: the late code is let go.
    let effects = m.handle(Event::SignInClicked);
    let [Effect::BeginSignIn { attempt: second }] = effects[..] else {
        panic!()
    };
    m.handle(Event::CancelClicked);
    assert_eq!(
        m.handle(Event::CodeIssued {
            attempt: second,
            code: code(&clock)
        }),
        vec![Effect::CancelSignIn { attempt: second }]
    );
    assert_eq!(notice(&m), None);
}

#[test]
fn approval_racing_a_cancel_still_signs_in() {
    let (mut m, clock, attempt) = awaiting();
    m.handle(Event::CancelClicked);
    let p = profile(&clock, 90);
    m.handle(Event::SignInFinished {
        attempt,
        result: Ok(p.clone()),
    });
    assert_eq!(
        *m.state(),
        State::SignedIn {
            profile: p,
            offline: None
        }
    );
}

#[test]
fn results_of_an_old_attempt_do_not_touch_a_newer_one() {
    let (mut m, clock, first) = awaiting();
    m.handle(Event::CancelClicked);
    m.handle(Event::SignInClicked);
    let second = first + 1;
    assert_eq!(*m.state(), State::Requesting { attempt: second });
    m.handle(Event::SignInFinished {
        attempt: first,
        result: Ok(profile(&clock, 90)),
    });
    assert_eq!(*m.state(), State::Requesting { attempt: second });
    m.handle(Event::SetupDone { attempt: first });
    assert_eq!(*m.state(), State::Requesting { attempt: second });
}

#[test]
fn reopen_browser_opens_the_same_page() {
    let (mut m, _, _) = awaiting();
    assert_eq!(
        m.handle(Event::ReopenBrowserClicked),
        vec![Effect::OpenBrowser(BrowserUrl::new(
            "http://127.0.0.1:8750/device?user_code=BCDF-GHJK"
        ))]
    );
}

#[test]
fn a_code_without_a_complete_uri_opens_the_plain_one() {
    let (mut m, clock) = signed_out();
    m.handle(Event::SignInClicked);
    let mut c = code(&clock);
    c.verification_uri_complete = None;
    let effects = m.handle(Event::CodeIssued {
        attempt: 1,
        code: c,
    });
    assert_eq!(
        effects[0],
        Effect::OpenBrowser(BrowserUrl::new("http://127.0.0.1:8750/device"))
    );
}

#[test]
fn unclaimed_bundled_server_opens_setup_then_continues() {
    let (mut m, clock) = signed_out();
    m.handle(Event::SignInClicked);
    let url = BrowserUrl::new("http://127.0.0.1:9/setup#setup_token=setup_secret");
    assert_eq!(
        m.handle(Event::SetupNeeded {
            attempt: 1,
            url: url.clone()
        }),
        vec![
            Effect::OpenBrowser(url.clone()),
            Effect::WaitForSetup { attempt: 1 }
        ]
    );
    assert_eq!(*m.state(), State::Setup { attempt: 1 });
    assert_eq!(m.view().screen, Screen::Setup);
    assert_eq!(
        m.handle(Event::ReopenBrowserClicked),
        vec![Effect::OpenBrowser(url)]
    );
    assert_eq!(
        m.handle(Event::SetupDone { attempt: 1 }),
        vec![Effect::BeginSignIn { attempt: 1 }]
    );
    let effects = m.handle(Event::CodeIssued {
        attempt: 1,
        code: code(&clock),
    });
    assert_eq!(effects[1], Effect::FinishSignIn { attempt: 1 });
}

#[test]
fn cancel_during_setup() {
    let (mut m, _) = signed_out();
    m.handle(Event::SignInClicked);
    m.handle(Event::SetupNeeded {
        attempt: 1,
        url: BrowserUrl::new("http://127.0.0.1:9/setup#setup_token=s"),
    });
    assert_eq!(
        m.handle(Event::CancelClicked),
        vec![Effect::CancelSignIn { attempt: 1 }]
    );
    assert_eq!(m.handle(Event::SetupDone { attempt: 1 }), Vec::new());
    assert_eq!(notice(&m), None);
}

#[test]
fn the_setup_token_never_shows_in_debug_output() {
    let url = BrowserUrl::new("http://127.0.0.1:9/setup#setup_token=setup_secret");
    let shown = format!("{:?}", Effect::OpenBrowser(url));
    assert!(!shown.contains("setup_secret"), "{shown}");
    assert!(shown.contains("/setup#redacted"), "{shown}");
}
