//! Changes other parts of the server must hear about at once: a device code
//! decided (wakes long-polling devices), tokens revoked, memberships changed
//! (ends event streams, drops cached validations). Published in-process on a
//! broadcast channel and, with PostgreSQL, to every other replica through
//! `NOTIFY devauth_events`.

use crate::model::{OrgId, Role, TokenId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, broadcast};

/// The PostgreSQL channel replicas share.
pub const CHANNEL: &str = "devauth_events";

/// A change to announce, in this process and to other replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A device authorization was approved or denied.
    DeviceDecided {
        /// The device authorization's id.
        device_id: String,
    },
    /// One token was revoked (or rotated away).
    TokenRevoked {
        /// The revoked token's id.
        token_id: TokenId,
        /// Why it was revoked.
        reason: String,
    },
    /// A user's tokens were revoked: in one org, or everywhere when `org_id` is `None`.
    UserTokensRevoked {
        /// The user whose tokens were revoked.
        user_id: UserId,
        /// The org they were revoked in; `None` for every org.
        org_id: Option<OrgId>,
        /// Why they were revoked.
        reason: String,
    },
    /// A device was signed in for a user: its token was just issued.
    DeviceSignedIn {
        /// The user the device acts as.
        user_id: UserId,
        /// The device's new token.
        token_id: TokenId,
        /// The name the device gave.
        device_name: Option<String>,
        /// The client it signed in with.
        client_id: String,
        /// The address the device asked from.
        ip: Option<String>,
        /// The org it acts in.
        org_id: OrgId,
        /// When the request was approved.
        approved_at: i64,
    },
    /// An org's device policy changed.
    OrgPolicyChanged {
        /// The org.
        org_id: OrgId,
    },
    /// A member's role changed, or they left the org (`role: None`).
    MembershipChanged {
        /// The member.
        user_id: UserId,
        /// The org.
        org_id: OrgId,
        /// Their new role; `None` when they left.
        role: Option<Role>,
    },
}

/// An event with the replica it came from, as sent through NOTIFY.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// The [`EventBus::instance`] of the sending process.
    pub origin: String,
    /// The event itself.
    #[serde(flatten)]
    pub event: Event,
}

/// Delivers events inside this process: to event streams, and to long polls
/// held for a device.
pub struct EventBus {
    /// This process's id: our own NOTIFYs come back and are skipped.
    pub instance: String,
    sender: broadcast::Sender<Event>,
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    held: AtomicUsize,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            instance: uuid::Uuid::new_v4().to_string(),
            sender: broadcast::channel(1024).0,
            waiters: Mutex::new(HashMap::new()),
            held: AtomicUsize::new(0),
        }
    }
}

impl EventBus {
    /// Delivers an event to everything in this process that listens.
    pub fn dispatch(&self, event: Event) {
        if let Event::DeviceDecided { device_id } = &event {
            let waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(notify) = waiters.get(device_id) {
                notify.notify_waiters();
            }
        }
        // No receivers is fine: nobody is streaming right now.
        let _ = self.sender.send(event);
    }

    /// A receiver of every event dispatched from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// A slot to hold a long poll for `device_id`, or `None` when `max` polls are held already.
    pub fn hold(self: &Arc<Self>, device_id: &str, max: usize) -> Option<WaitSlot> {
        if self.held.fetch_add(1, Ordering::SeqCst) >= max {
            self.held.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let notify = {
            let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
            waiters
                .entry(device_id.to_string())
                .or_insert_with(|| Arc::new(Notify::new()))
                .clone()
        };
        Some(WaitSlot {
            bus: self.clone(),
            device_id: device_id.to_string(),
            notify,
        })
    }

    /// How many long polls are held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }
}

/// A held long poll; frees its slot (and the device's entry when last) on drop.
pub struct WaitSlot {
    bus: Arc<EventBus>,
    device_id: String,
    /// Notified when the device's request is decided.
    pub notify: Arc<Notify>,
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        self.bus.held.fetch_sub(1, Ordering::SeqCst);
        let mut waiters = self.bus.waiters.lock().unwrap_or_else(|e| e.into_inner());
        // Two references left means ours and the map's: nobody else waits on this device.
        if waiters
            .get(&self.device_id)
            .is_some_and(|n| Arc::strong_count(n) <= 2)
        {
            waiters.remove(&self.device_id);
        }
    }
}

/// Parses `Prefer: wait=N` (RFC 7240), any other preferences ignored.
pub fn prefer_wait(header: Option<&str>) -> Option<u64> {
    header?
        .split([',', ';'])
        .filter_map(|pref| pref.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("wait"))
        .and_then(|(_, value)| value.trim().trim_matches('"').parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefer_wait() {
        assert_eq!(prefer_wait(Some("wait=10")), Some(10));
        assert_eq!(prefer_wait(Some("respond-async, wait=5")), Some(5));
        assert_eq!(prefer_wait(Some("return=minimal")), None);
        assert_eq!(prefer_wait(Some("wait=soon")), None);
        assert_eq!(prefer_wait(None), None);
    }

    #[test]
    fn events_round_trip_through_json() {
        let envelope = Envelope {
            origin: "a".into(),
            event: Event::MembershipChanged {
                user_id: "u".into(),
                org_id: "o".into(),
                role: Some(Role::Admin),
            },
        };
        let text = serde_json::to_string(&envelope).unwrap_or_default();
        let back: Envelope = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(back.event, envelope.event);
    }

    #[tokio::test]
    async fn held_polls_are_bounded_and_released() {
        let bus = Arc::new(EventBus::default());
        let a = bus.hold("d1", 2);
        let b = bus.hold("d1", 2);
        assert!(a.is_some() && b.is_some());
        assert!(
            bus.hold("d2", 2).is_none(),
            "over the limit: answer at once"
        );
        drop(a);
        assert_eq!(bus.held(), 1);
        let waiter = b.map(|slot| slot.notify.clone());
        let notified = waiter.as_ref().map(|n| n.notified());
        bus.dispatch(Event::DeviceDecided {
            device_id: "d1".into(),
        });
        if let Some(notified) = notified {
            tokio::time::timeout(std::time::Duration::from_secs(1), notified)
                .await
                .unwrap_or_else(|_| panic!("the waiter was not woken"));
        }
    }
}
