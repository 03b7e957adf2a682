//! Approve a device: the signed-in app signs in another device (a CLI on an
//! SSH host, a second machine) with its own token, after showing what the
//! server saw of the request apart from what the device claims. The window
//! calls these commands; the token never reaches it.

use std::sync::Arc;
use std::time::SystemTime;

use devauth_client::api::{ApiClient, distance, parse_time};
use devauth_client::text::clean;
use devauth_proto::{Access, DeviceRequest, DeviceStatus};
use serde::Serialize;
use tauri::State;
use time::OffsetDateTime;

use crate::commands::CommandError;
use crate::controller::Controller;

/// A sign-in request as the window shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeviceView {
    /// What the device calls itself (its claim).
    pub device: String,
    /// The client it signs in with (its claim).
    pub app: String,
    /// Its user agent (its claim), if it sent one.
    pub user_agent: Option<String>,
    /// Where it asked from (what the server saw).
    pub requested_from: String,
    /// Whether that is this computer's network.
    pub same_network: bool,
    /// "4 seconds ago".
    pub requested: String,
    /// "in 9 minutes".
    pub expires: String,
    /// `pending`, `approved`, `denied`, `redeemed` or `expired`.
    pub status: &'static str,
    /// The org it would be (or was) signed in to, and its name.
    pub org: String,
    pub org_name: String,
    /// Once approved: the days its token lasts.
    pub token_days: Option<i64>,
}

fn status_text(status: DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::Pending => "pending",
        DeviceStatus::Approved => "approved",
        DeviceStatus::Denied => "denied",
        DeviceStatus::Redeemed => "redeemed",
        DeviceStatus::Expired => "expired",
    }
}

impl DeviceView {
    pub fn new(request: &DeviceRequest, org: &str, org_name: &str, now: SystemTime) -> Self {
        let now = OffsetDateTime::from(now);
        let at = |raw: &str| parse_time(raw).map_or_else(|| raw.to_string(), |t| distance(t, now));
        DeviceView {
            device: request
                .device_name
                .as_deref()
                .map_or_else(|| "(unnamed device)".to_string(), |n| clean(n, 64)),
            app: clean(&request.client_id, 64),
            user_agent: request.user_agent.as_deref().map(|a| clean(a, 120)),
            requested_from: request
                .requester_ip
                .clone()
                .unwrap_or_else(|| "an unknown address".into()),
            same_network: request.same_network,
            requested: at(&request.requested_at),
            expires: at(&request.expires_at),
            status: status_text(request.status),
            org: org.to_string(),
            org_name: clean(org_name, 64),
            token_days: request.token_days,
        }
    }
}

fn failed(code: &'static str, e: impl std::fmt::Display) -> CommandError {
    let text = e.to_string();
    let mut chars = text.chars();
    let message = match chars.next() {
        Some(first) => format!("{}{}", first.to_uppercase(), chars.as_str()),
        None => text,
    };
    CommandError { code, message }
}

type Ctl<'a> = State<'a, Arc<Controller>>;

/// The API with the app's token, and that token's org: as the app last saw
/// it (a token's org never changes), else asked of `/me`.
async fn api_and_org(ctl: &Controller) -> Result<(ApiClient, String, String), CommandError> {
    let api = ctl
        .api()
        .await
        .map_err(|f| failed("not_signed_in", f.message))?;
    if let Some((slug, name)) = ctl.org() {
        return Ok((api, slug, name));
    }
    let me = api.me().await.map_err(|e| failed("server", e))?;
    Ok((api, me.org.slug.to_string(), me.org.name.to_string()))
}

fn code_of(code: &str) -> Result<String, CommandError> {
    let code = code.trim();
    if code.is_empty() {
        return Err(failed(
            "invalid_code",
            "Type the code the other device shows",
        ));
    }
    Ok(code.to_string())
}

/// Looks up the request behind a code the person typed.
#[tauri::command(rename_all = "snake_case")]
pub async fn lookup_device(ctl: Ctl<'_>, code: String) -> Result<DeviceView, CommandError> {
    let code = code_of(&code)?;
    let (api, org, name) = api_and_org(&ctl).await?;
    let request = api
        .lookup_device(&code)
        .await
        .map_err(|e| failed("lookup", e))?;
    Ok(DeviceView::new(&request, &org, &name, ctl.now()))
}

/// Approves it into this app's org: the full role, or only reading; for
/// `days` (none: the server's lifetime).
#[tauri::command(rename_all = "snake_case")]
pub async fn approve_device(
    ctl: Ctl<'_>,
    code: String,
    read_only: bool,
    days: Option<i64>,
) -> Result<DeviceView, CommandError> {
    let code = code_of(&code)?;
    let (api, org, name) = api_and_org(&ctl).await?;
    let access = if read_only {
        Access::Read
    } else {
        Access::Full
    };
    let request = api
        .approve_device(&code, &org, access, days)
        .await
        .map_err(|e| failed("approve", e))?;
    Ok(DeviceView::new(&request, &org, &name, ctl.now()))
}

/// Denies it.
#[tauri::command(rename_all = "snake_case")]
pub async fn deny_device(ctl: Ctl<'_>, code: String) -> Result<DeviceView, CommandError> {
    let code = code_of(&code)?;
    let (api, org, name) = api_and_org(&ctl).await?;
    let request = api
        .deny_device(&code)
        .await
        .map_err(|e| failed("deny", e))?;
    Ok(DeviceView::new(&request, &org, &name, ctl.now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_facts_and_claims() {
        let request = DeviceRequest {
            client_id: "devauth-cli".into(),
            device_name: Some("ssh\u{200b}box".into()),
            org_hint: None,
            requester_ip: Some("203.0.113.7".into()),
            same_network: false,
            user_agent: None,
            requested_at: "2026-01-01T00:00:00Z".into(),
            expires_at: "2026-01-01T00:10:00Z".into(),
            status: DeviceStatus::Pending,
            token_days: None,
        };
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_604);
        let view = DeviceView::new(&request, "acme", "Acme", now);
        assert_eq!(view.device, "sshbox", "invisible characters dropped");
        assert_eq!(view.requested, "4 seconds ago");
        assert_eq!(view.expires, "in 9 minutes");
        assert_eq!(view.status, "pending");
        assert!(!view.same_network);
    }
}
