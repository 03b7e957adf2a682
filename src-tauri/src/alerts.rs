//! New-sign-in alerts: when the server says a device was signed in as this
//! user (`device.signed_in` on the event stream), the app raises a system
//! notification with a Revoke action ("New sign-in: Ada's laptop from
//! 203.0.113.7 — not you? Revoke") and lists the alert in its window with a
//! Revoke button. The list is the app's own record: what it was told, whether
//! the notification was shown, and whether the sign-in was revoked.

use std::collections::HashMap;
use std::sync::Mutex;

use devauth_client::text::clean;
use devauth_proto::DeviceSignedInEvent;
use serde::Serialize;

/// One alert as the window shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Alert {
    /// The new device's token: what Revoke revokes.
    pub token_id: String,
    /// What the device calls itself.
    pub device: String,
    /// The client it signed in with.
    pub client: String,
    /// The address it asked from.
    pub ip: String,
    /// When it was approved (RFC 3339).
    pub approved_at: String,
    /// Whether a system notification was shown for it.
    pub notified: bool,
    /// Whether it was revoked from here.
    pub revoked: bool,
}

impl Alert {
    pub fn new(event: &DeviceSignedInEvent) -> Self {
        Alert {
            token_id: event.token_id.clone(),
            device: event
                .device_name
                .as_deref()
                .map_or_else(|| clean(&event.client_id, 64), |n| clean(n, 64)),
            client: clean(&event.client_id, 64),
            ip: event
                .ip
                .clone()
                .unwrap_or_else(|| "an unknown address".into()),
            approved_at: event.approved_at.clone(),
            notified: false,
            revoked: false,
        }
    }

    /// The notification's title and text.
    pub fn summary(&self) -> String {
        format!("New sign-in: {}", self.device)
    }

    pub fn body(&self) -> String {
        format!(
            "{} ({}) signed in as you from {}. Not you? Revoke it.",
            self.device, self.client, self.ip
        )
    }
}

/// The most alerts kept; older ones drop off.
const KEPT: usize = 20;

/// The alerts of this run, newest first, and which notification is whose.
#[derive(Default)]
pub struct Alerts {
    list: Mutex<Vec<Alert>>,
    notifications: Mutex<HashMap<u32, String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Alerts {
    /// Adds an alert (once per token); `false` when it was known already.
    pub fn add(&self, alert: Alert) -> bool {
        let mut list = lock(&self.list);
        if list.iter().any(|a| a.token_id == alert.token_id) {
            return false;
        }
        list.insert(0, alert);
        list.truncate(KEPT);
        true
    }

    pub fn list(&self) -> Vec<Alert> {
        lock(&self.list).clone()
    }

    /// Notes that notification `id` was shown for `token_id`.
    pub fn notified(&self, token_id: &str, id: u32) {
        lock(&self.notifications).insert(id, token_id.to_string());
        if let Some(a) = lock(&self.list).iter_mut().find(|a| a.token_id == token_id) {
            a.notified = true;
        }
    }

    /// The token notification `id` is about.
    pub fn token_of(&self, id: u32) -> Option<String> {
        lock(&self.notifications).get(&id).cloned()
    }

    /// Whether `token_id` is one this app was alerted of (only those may be
    /// revoked from an alert).
    pub fn knows(&self, token_id: &str) -> bool {
        lock(&self.list).iter().any(|a| a.token_id == token_id)
    }

    pub fn revoked(&self, token_id: &str) {
        if let Some(a) = lock(&self.list).iter_mut().find(|a| a.token_id == token_id) {
            a.revoked = true;
        }
    }
}

/// The desktop's notification service (`org.freedesktop.Notifications` on
/// the session bus).
pub struct Notifier {
    proxy: zbus::Proxy<'static>,
}

/// The action key of Revoke.
pub const REVOKE_ACTION: &str = "revoke";

impl Notifier {
    /// The session bus's notification service; `None` when there is none
    /// (no bus, no notification daemon): the window's list still works.
    pub async fn connect() -> Option<Notifier> {
        let connection = zbus::Connection::session().await.ok()?;
        let proxy = zbus::Proxy::new(
            &connection,
            "org.freedesktop.Notifications",
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications",
        )
        .await
        .ok()?;
        Some(Notifier { proxy })
    }

    /// Shows `alert` with a Revoke action; the notification's id.
    pub async fn show(&self, alert: &Alert) -> Result<u32, String> {
        let hints: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
        let actions = vec![REVOKE_ACTION, "Revoke"];
        self.proxy
            .call(
                "Notify",
                &(
                    "devauth",
                    0u32,
                    "",
                    alert.summary(),
                    alert.body(),
                    actions,
                    hints,
                    -1i32,
                ),
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// The ids of notifications whose Revoke was clicked, as they come.
    pub async fn revoke_clicks(
        &self,
    ) -> Result<impl futures_util::Stream<Item = u32> + use<>, String> {
        use futures_util::StreamExt;
        let signals = self
            .proxy
            .receive_signal("ActionInvoked")
            .await
            .map_err(|e| e.to_string())?;
        Ok(signals.filter_map(|message| async move {
            let (id, action): (u32, String) = message.body().deserialize().ok()?;
            (action == REVOKE_ACTION).then_some(id)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(token: &str) -> DeviceSignedInEvent {
        DeviceSignedInEvent {
            token_id: token.into(),
            device_name: Some("Ada's\u{202e} laptop".into()),
            client_id: "devauth-cli".into(),
            ip: Some("203.0.113.7".into()),
            org_id: "o".into(),
            approved_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn alerts_say_who_from_where_and_are_kept_once() {
        let alerts = Alerts::default();
        let alert = Alert::new(&event("t1"));
        assert_eq!(alert.summary(), "New sign-in: Ada's laptop");
        assert!(
            alert.body().contains("from 203.0.113.7"),
            "{}",
            alert.body()
        );
        assert!(alerts.add(alert.clone()));
        assert!(!alerts.add(alert), "once per token");
        alerts.notified("t1", 7);
        assert_eq!(alerts.token_of(7).as_deref(), Some("t1"));
        assert!(alerts.knows("t1") && !alerts.knows("t2"));
        alerts.revoked("t1");
        let list = alerts.list();
        assert!(list[0].notified && list[0].revoked);
        for n in 0..30 {
            alerts.add(Alert::new(&event(&format!("n{n}"))));
        }
        assert_eq!(alerts.list().len(), KEPT);
    }
}
