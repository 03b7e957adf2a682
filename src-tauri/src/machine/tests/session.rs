use std::time::Duration;

use super::*;

#[test]
fn start_with_a_valid_token_is_signed_in() {
    let (m, _) = signed_in();
    let Screen::SignedIn {
        name,
        org,
        role,
        expiry,
        days_left,
        expiring_soon,
        initials,
        ..
    } = m.view().screen
    else {
        panic!()
    };
    assert_eq!(name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(
        (org.as_deref(), role.as_deref()),
        (Some("acme"), Some("owner"))
    );
    assert_eq!(expiry, "Expires in 90 days");
    assert_eq!((days_left, expiring_soon), (Some(90), false));
    assert_eq!(initials, "AL");
}

#[test]
fn start_with_a_revoked_or_expired_token_is_signed_out_with_the_reason() {
    for (check, want) in [
        (SessionCheck::Rejected, Notice::Rejected),
        (SessionCheck::Expired, Notice::Expired),
    ] {
        let (mut m, _) = setup();
        m.handle(Event::Launched);
        m.handle(Event::ServerReady(server()));
        assert_eq!(
            m.handle(Event::SessionChecked(check)),
            vec![Effect::ForgetToken]
        );
        assert_eq!(notice(&m), Some(want));
        let Screen::SignedOut {
            notice: Some(shown),
        } = m.view().screen
        else {
            panic!()
        };
        assert_eq!(shown.tone, "warning");
    }
}

#[test]
fn start_offline_shows_the_last_known_profile_or_an_error() {
    let (mut m, clock) = setup();
    m.handle(Event::Launched);
    m.handle(Event::ServerReady(server()));
    let p = profile(&clock, 30);
    m.handle(Event::SessionChecked(SessionCheck::Offline {
        profile: Some(p.clone()),
        reason: "connection refused".into(),
    }));
    assert_eq!(
        *m.state(),
        State::SignedIn {
            profile: p,
            offline: Some("connection refused".into())
        }
    );

    let (mut m, _) = setup();
    m.handle(Event::Launched);
    m.handle(Event::ServerReady(server()));
    m.handle(Event::SessionChecked(SessionCheck::Offline {
        profile: None,
        reason: "connection refused".into(),
    }));
    let State::Failed { failure, retry } = m.state().clone() else {
        panic!()
    };
    assert_eq!(
        (failure.kind, retry),
        (FailureKind::Unreachable, Retry::CheckSession)
    );
    assert_eq!(m.handle(Event::RetryClicked), vec![Effect::CheckSession]);
    assert_eq!(*m.state(), State::Starting);
}

#[test]
fn a_server_that_fails_to_start_can_be_retried() {
    let (mut m, _) = setup();
    m.handle(Event::Launched);
    m.handle(Event::ServerFailed(failure(FailureKind::BundledServer)));
    let Screen::Failed(view) = m.view().screen else {
        panic!()
    };
    assert_eq!(view.actions, vec!["retry", "settings"]);
    assert_eq!(m.handle(Event::SignInClicked), Vec::new(), "no server yet");
    assert_eq!(m.handle(Event::RetryClicked), vec![Effect::PrepareServer]);
    assert_eq!(*m.state(), State::Starting);
    assert_eq!(
        m.handle(Event::ServerReady(server())),
        vec![Effect::CheckSession]
    );
}

#[test]
fn keychain_failure_at_start_is_an_error_with_retry() {
    let (mut m, _) = setup();
    m.handle(Event::Launched);
    m.handle(Event::ServerReady(server()));
    m.handle(Event::SessionCheckFailed(failure(FailureKind::Keychain)));
    let Screen::Failed(view) = m.view().screen else {
        panic!()
    };
    assert_eq!(view.kind, FailureKind::Keychain);
    assert!(view.hint.contains("keychain"), "{}", view.hint);
    assert_eq!(m.handle(Event::RetryClicked), vec![Effect::CheckSession]);
}

#[test]
fn sign_out_outcomes() {
    for (result, want) in [
        (Ok(SignOutResult::Revoked), Some(Notice::SignedOut)),
        (Ok(SignOutResult::NotSignedIn), Some(Notice::SignedOut)),
        (
            Ok(SignOutResult::Pending {
                reason: "offline".into(),
            }),
            Some(Notice::RevocationPending {
                reason: "offline".into(),
            }),
        ),
        (
            Ok(SignOutResult::NotRevoked {
                reason: "refused".into(),
            }),
            Some(Notice::NotRevoked {
                reason: "refused".into(),
            }),
        ),
    ] {
        let (mut m, _) = signed_in();
        assert_eq!(m.handle(Event::SignOutClicked), vec![Effect::SignOut]);
        assert_eq!(*m.state(), State::SigningOut);
        m.handle(Event::SignOutFinished(result));
        assert_eq!(notice(&m), want);
    }
}

#[test]
fn a_failed_sign_out_can_be_retried() {
    let (mut m, _) = signed_in();
    m.handle(Event::SignOutClicked);
    m.handle(Event::SignOutFinished(Err(failure(FailureKind::Keychain))));
    assert!(matches!(
        m.state(),
        State::Failed {
            retry: Retry::SignOut,
            ..
        }
    ));
    assert_eq!(m.handle(Event::DismissClicked), Vec::new());
    assert_eq!(m.handle(Event::RetryClicked), vec![Effect::SignOut]);
    assert_eq!(*m.state(), State::SigningOut);
}

#[test]
fn refresh_detects_a_token_revoked_elsewhere() {
    let (mut m, _) = signed_in();
    assert_eq!(m.handle(Event::RefreshDue), vec![Effect::CheckSession]);
    assert_eq!(
        m.handle(Event::RefreshDue),
        Vec::new(),
        "one check at a time"
    );
    assert_eq!(
        m.handle(Event::SessionChecked(SessionCheck::Rejected)),
        vec![Effect::ForgetToken]
    );
    assert_eq!(notice(&m), Some(Notice::Rejected));
    assert_eq!(m.handle(Event::RefreshDue), Vec::new());
}

#[test]
fn refresh_notices_a_token_removed_elsewhere_and_network_trouble() {
    let (mut m, clock) = signed_in();
    m.handle(Event::RefreshDue);
    m.handle(Event::SessionChecked(SessionCheck::Offline {
        profile: None,
        reason: "timed out".into(),
    }));
    let State::SignedIn { profile, offline } = m.state().clone() else {
        panic!()
    };
    assert_eq!(
        profile,
        self::profile(&clock, 90),
        "keeps the known profile"
    );
    assert_eq!(offline.as_deref(), Some("timed out"));
    m.handle(Event::RefreshDue);
    m.handle(Event::SessionCheckFailed(failure(FailureKind::Keychain)));
    assert!(matches!(
        m.state(),
        State::SignedIn {
            offline: Some(_),
            ..
        }
    ));
    m.handle(Event::RefreshDue);
    m.handle(Event::SessionChecked(SessionCheck::SignedIn(
        profile.clone(),
    )));
    assert!(matches!(m.state(), State::SignedIn { offline: None, .. }));
    m.handle(Event::RefreshDue);
    m.handle(Event::SessionChecked(SessionCheck::SignedOut));
    assert_eq!(notice(&m), Some(Notice::RemovedElsewhere));
}

#[test]
fn a_session_check_finishing_after_sign_out_started_is_ignored() {
    let (mut m, _) = signed_in();
    m.handle(Event::RefreshDue);
    m.handle(Event::SignOutClicked);
    m.handle(Event::SessionChecked(SessionCheck::Rejected));
    assert_eq!(*m.state(), State::SigningOut);
}

#[test]
fn expiry_warning_and_local_expiry() {
    let (mut m, clock) = signed_in();
    clock.advance(DAY * 83);
    let Screen::SignedIn {
        expiry,
        expiring_soon,
        ..
    } = m.view().screen
    else {
        panic!()
    };
    assert_eq!(
        (expiry.as_str(), expiring_soon),
        ("Expires in 7 days", false)
    );
    clock.advance(Duration::from_secs(1));
    let Screen::SignedIn {
        expiry,
        expiring_soon,
        days_left,
        ..
    } = m.view().screen
    else {
        panic!()
    };
    assert_eq!(expiry, "Expires in 7 days");
    assert_eq!((days_left, expiring_soon), (Some(7), true));
    clock.advance(DAY * 6 + Duration::from_secs(86_399 - 7_200));
    let Screen::SignedIn { expiry, .. } = m.view().screen else {
        panic!()
    };
    assert_eq!(expiry, "Expires in 2 hours");
    assert!(m.handle(Event::Tick).is_empty());
    clock.advance(Duration::from_secs(7_200));
    assert_eq!(m.handle(Event::Tick), vec![Effect::ForgetToken]);
    assert_eq!(notice(&m), Some(Notice::Expired));
}

#[test]
fn refresh_of_a_locally_expired_token_signs_out_without_asking() {
    let (mut m, clock) = signed_in();
    clock.advance(DAY * 91);
    assert_eq!(m.handle(Event::RefreshDue), vec![Effect::ForgetToken]);
    assert_eq!(notice(&m), Some(Notice::Expired));
}

#[test]
fn a_token_that_never_expires() {
    let (mut m, clock) = setup();
    m.handle(Event::Launched);
    m.handle(Event::ServerReady(server()));
    let p = Profile {
        expires_at: None,
        ..profile(&clock, 1)
    };
    m.handle(Event::SessionChecked(SessionCheck::SignedIn(p)));
    clock.advance(DAY * 10_000);
    assert!(m.handle(Event::Tick).is_empty());
    let Screen::SignedIn {
        expiry, days_left, ..
    } = m.view().screen
    else {
        panic!()
    };
    assert_eq!((expiry.as_str(), days_left), ("Never expires", None));
}

#[test]
fn settings_change_cancels_a_sign_in_and_starts_over() {
    let (mut m, _, attempt) = awaiting();
    assert_eq!(
        m.handle(Event::SettingsChanged),
        vec![Effect::CancelSignIn { attempt }, Effect::PrepareServer]
    );
    assert_eq!(*m.state(), State::Starting);
    assert_eq!(m.view().server, None);
    let (mut m, _) = signed_in();
    assert_eq!(
        m.handle(Event::SettingsChanged),
        vec![Effect::PrepareServer]
    );
}

#[test]
fn clicks_that_do_not_apply_do_nothing() {
    let (mut m, _) = signed_in();
    for event in [
        Event::SignInClicked,
        Event::CancelClicked,
        Event::ReopenBrowserClicked,
        Event::RetryClicked,
        Event::DismissClicked,
        Event::SignOutFinished(Ok(SignOutResult::Revoked)),
    ] {
        let before = m.state().clone();
        assert_eq!(m.handle(event.clone()), Vec::new(), "{event:?}");
        assert_eq!(*m.state(), before, "{event:?}");
    }
    let (mut m, _) = signed_out();
    for event in [
        Event::SignOutClicked,
        Event::CancelClicked,
        Event::RefreshDue,
        Event::Tick,
    ] {
        assert_eq!(m.handle(event.clone()), Vec::new(), "{event:?}");
        assert_eq!(notice(&m), None);
    }
}

#[test]
fn the_view_names_the_server_and_never_holds_a_token() {
    let (m, _) = signed_in();
    let json = serde_json::to_value(m.view()).unwrap();
    assert_eq!(json["state"], "signed_in");
    assert_eq!(json["server"]["host"], "127.0.0.1:8750");
    assert_eq!(json["server"]["label"], "Server from DEVAUTH_SERVER");
    assert!(!json.to_string().contains("dva_"));
}

#[test]
fn initials_from_name_or_email() {
    let mut p = Profile {
        name: Some("Olive".into()),
        ..Profile::default()
    };
    assert_eq!(view::initials_of(&p), "O");
    p.name = None;
    p.email = Some("bob.smith@example.com".into());
    assert_eq!(view::initials_of(&p), "B");
    p.email = None;
    assert_eq!(view::initials_of(&p), "?");
}

#[test]
fn every_change_of_state_or_server_gets_a_new_revision() {
    let (mut m, _) = setup();
    assert_eq!(m.view().revision, 0);
    m.handle(Event::Launched);
    assert_eq!(m.revision(), 0, "already starting");
    m.handle(Event::ServerReady(server()));
    assert_eq!(m.revision(), 1);
    m.handle(Event::SessionChecked(SessionCheck::SignedOut));
    assert_eq!(m.revision(), 2);
    m.handle(Event::Tick);
    m.handle(Event::SignOutClicked);
    assert_eq!(m.revision(), 2, "nothing changed");
    m.handle(Event::SignInClicked);
    assert_eq!(m.view().revision, 3);
}
