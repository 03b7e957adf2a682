//! The app's calls into devauth-client, and the translation of its answers
//! and errors into the state machine's terms. The token stays in here: only
//! profiles, codes and worded failures come out.

use std::future::Future;
use std::time::{Duration, SystemTime};

use devauth_client::api::{Expiry, parse_time};
use devauth_client::config::Env;
use devauth_client::error::Error;
use devauth_client::session::{AuthState, LoginRequest, PendingLogin, SignOut, SignedIn, Status};
use devauth_client::text;
use devauth_client::token_store::StoreError;
use devauth_client::{Client, Options};

use crate::machine::{Code, Failure, FailureKind, Profile, SessionCheck, SignOutResult};

/// How often to look whether the bundled server has been claimed.
pub const SETUP_POLL: Duration = Duration::from_millis(700);

/// A devauth-client for one server. Reads the config file; touches neither
/// the network nor the keychain.
pub fn client_for(env: &Env, server: &str) -> Result<Client, Failure> {
    let mut env = env.clone();
    env.server = Some(server.to_string());
    env.token = None;
    let client = Client::new(Options::desktop(env)).map_err(|e| failure_of(&e))?;
    Ok(client.with_warning_sink(|message| tracing::warn!("{message}")))
}

/// Retries revocations left from an offline sign-out, then reads the
/// keychain and asks `/me`.
pub async fn check(client: &Client) -> Result<SessionCheck, Failure> {
    for report in client.retry_pending_revocations().await {
        if report.revoked > 0 {
            tracing::info!(
                "revoked {} token(s) left from an earlier sign-out",
                report.revoked
            );
        }
    }
    let status = client.status().await.map_err(|e| failure_of(&e))?;
    Ok(match status.state {
        AuthState::SignedIn => SessionCheck::SignedIn(profile_of_status(&status)),
        AuthState::SignedOut => SessionCheck::SignedOut,
        AuthState::Expired => SessionCheck::Expired,
        AuthState::Revoked => SessionCheck::Rejected,
        AuthState::Unknown => SessionCheck::Offline {
            profile: status.user.is_some().then(|| profile_of_status(&status)),
            reason: status
                .reason
                .clone()
                .unwrap_or_else(|| "the server could not be reached".to_string()),
        },
    })
}

/// Probes the keychain, discovers the server and asks for a code.
pub async fn begin(client: &Client) -> Result<PendingLogin, Failure> {
    client
        .begin_login(&LoginRequest::default())
        .await
        .map_err(|e| failure_of(&e))
}

/// What the window shows while waiting: the code, the links and a QR code.
pub fn code_of(pending: &PendingLogin) -> Code {
    let auth = pending.authorization();
    let complete = auth.verification_uri_complete().map(str::to_string);
    Code {
        user_code: auth.user_code().to_string(),
        verification_uri: auth.verification_uri().to_string(),
        qr_svg: qr_svg(complete.as_deref().unwrap_or(auth.verification_uri())),
        verification_uri_complete: complete,
        expires_at: auth.expires_at(),
    }
}

/// Polls until the code is approved, denied or expired, or `cancel` fires.
pub async fn finish(
    client: &Client,
    pending: PendingLogin,
    cancel: impl Future<Output = ()>,
    now: impl Fn() -> SystemTime,
) -> Result<Profile, Failure> {
    let signed_in = client
        .finish_login(pending, cancel, |_| {})
        .await
        .map_err(|e| failure_of(&e))?;
    for note in &signed_in.notes {
        tracing::info!("{note}");
    }
    Ok(profile_of_sign_in(&signed_in, now()))
}

/// Revokes the token at the server and removes it from the keychain.
pub async fn sign_out(client: &Client) -> Result<SignOutResult, Failure> {
    let outcome = client.logout().await.map_err(|e| failure_of(&e))?;
    Ok(match outcome {
        SignOut::Revoked => SignOutResult::Revoked,
        SignOut::NotSignedIn => SignOutResult::NotSignedIn,
        SignOut::RevocationPending { reason } => SignOutResult::Pending { reason },
        SignOut::NotRevoked { reason } => SignOutResult::NotRevoked { reason },
    })
}

/// An SVG QR code (dark modules on white, with the quiet zone).
pub fn qr_svg(data: &str) -> Option<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color>()
        .module_dimensions(1, 1)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Drop the XML declaration: the SVG goes inline into the page.
    Some(match image.find("<svg") {
        Some(start) => image[start..].to_string(),
        None => image,
    })
}

fn profile_of_status(status: &Status) -> Profile {
    Profile {
        name: status.user.as_ref().and_then(|u| u.name.clone()),
        email: status.user.as_ref().and_then(|u| u.email.clone()),
        org_slug: status.org.as_ref().and_then(|o| o.slug.clone()),
        org_name: status.org.as_ref().and_then(|o| o.name.clone()),
        role: status.role.clone(),
        expires_at: status
            .expires_at
            .as_deref()
            .and_then(parse_time)
            .map(SystemTime::from),
        storage: status.storage.clone(),
    }
}

fn profile_of_sign_in(signed_in: &SignedIn, now: SystemTime) -> Profile {
    let me = signed_in.me.as_ref();
    let user = me.and_then(|m| m.user.as_ref());
    let org = me.map(|m| &m.org);
    Profile {
        name: user.map(|u| text::name(&u.name)),
        email: user.map(|u| text::name(&u.email)),
        org_slug: org.map(|o| o.slug.to_string()),
        org_name: org.map(|o| text::name(&o.name)),
        role: me.map(|m| m.role.to_string()),
        expires_at: match signed_in.expiry {
            Expiry::In(left) => Some(now + left),
            Expiry::Expired => Some(now),
            Expiry::Never | Expiry::Unknown => None,
        },
        storage: Some(signed_in.storage.clone()),
    }
}

/// How the app words a devauth-client error. Keychain errors get the
/// desktop's own advice (the client's mentions command-line flags).
pub fn failure_of(error: &Error) -> Failure {
    let kind = match error.code() {
        "access_denied" => FailureKind::Denied,
        "expired_token" => FailureKind::CodeExpired,
        "unreachable" => FailureKind::Unreachable,
        "keychain_unavailable" | "token_file" => FailureKind::Keychain,
        "invalid_server_url" | "insecure_http" | "config" | "usage" => FailureKind::Settings,
        "discovery" | "oauth_error" | "invalid_client" | "invalid_grant" | "server_error"
        | "rejected" | "forbidden" | "not_found" | "unauthorized" | "wrong_org" => {
            FailureKind::Server
        }
        _ => FailureKind::Other,
    };
    let message = match error {
        Error::Store(store) => keychain_message(store),
        other => other.to_string(),
    };
    Failure::new(kind, sentence(&message))
}

fn keychain_message(error: &StoreError) -> String {
    match error {
        StoreError::KeychainUnavailable { reason } => {
            format!("the OS keychain is not available: {reason}")
        }
        StoreError::KeychainLocked { reason } => {
            format!("the OS keychain is locked or has no default collection ({reason})")
        }
        StoreError::KeychainTimeout { secs } => format!(
            "the OS keychain did not answer within {secs} s; it may be waiting for an unlock \
             prompt"
        ),
        StoreError::MockStore => "only an in-memory test keychain is available".to_string(),
        StoreError::Keychain(detail) => format!("keychain error: {detail}"),
        other => other.to_string(),
    }
}

/// Capitalized, ending with a full stop.
fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut out = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use devauth_client::device_flow::DeviceFlowError;

    #[test]
    fn errors_map_to_kinds_with_desktop_wording() {
        let denied: Error = DeviceFlowError::Denied {
            detail: String::new(),
        }
        .into();
        let f = failure_of(&denied);
        assert_eq!(f.kind, FailureKind::Denied);
        assert!(f.message.starts_with("Sign-in was denied"), "{}", f.message);
        assert!(f.message.ends_with('.'));

        let locked: Error = StoreError::KeychainLocked {
            reason: "no default collection".into(),
        }
        .into();
        let f = failure_of(&locked);
        assert_eq!(f.kind, FailureKind::Keychain);
        assert!(!f.message.contains("--insecure-storage"), "{}", f.message);

        let expired: Error = DeviceFlowError::Expired {
            detail: String::new(),
        }
        .into();
        assert_eq!(failure_of(&expired).kind, FailureKind::CodeExpired);
    }

    #[test]
    fn qr_code_is_inline_svg() {
        let svg = qr_svg("http://127.0.0.1:8750/device?user_code=BCDF-GHJK").unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("style"));
    }

    #[test]
    fn sentences() {
        assert_eq!(sentence("  the code expired "), "The code expired.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence(""), "");
    }
}
