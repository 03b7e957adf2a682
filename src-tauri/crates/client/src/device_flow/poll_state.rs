use std::sync::Mutex;
use std::time::Duration;

use super::{PollEvent, SLOW_DOWN_STEP};
use crate::transport::{HttpResponse, TransportError};

const HOLD_MARGIN: Duration = Duration::from_secs(1);

/// Shared between the HTTP wrapper and the sleep function while polling.
pub(super) struct PollState {
    inner: Mutex<PollInner>,
    on_event: Box<dyn Fn(&PollEvent) + Send + Sync>,
}

struct PollInner {
    interval: Duration,
    last_error: Option<TransportError>,
    /// How long the server held the last poll, when it applied our
    /// `Prefer: wait` and still answered `authorization_pending`. That time
    /// counts towards the interval before the next poll.
    held: Duration,
}

impl PollState {
    pub(super) fn new(
        interval: Duration,
        on_event: impl Fn(&PollEvent) + Send + Sync + 'static,
    ) -> PollState {
        PollState {
            inner: Mutex::new(PollInner {
                interval,
                last_error: None,
                held: Duration::ZERO,
            }),
            on_event: Box::new(on_event),
        }
    }

    /// The network error of the most recent poll, if it failed.
    pub(super) fn last_error(&self) -> Option<TransportError> {
        self.lock().last_error.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PollInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one answer of the token endpoint, `held` being how long the
    /// request took.
    pub(super) fn observe(&self, response: &HttpResponse, held: Duration) {
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
        let event = {
            let mut inner = self.lock();
            inner.last_error = None;
            inner.held = Duration::ZERO;
            match body.get("error").and_then(|e| e.as_str()) {
                Some("authorization_pending") => {
                    if wait_applied(response) {
                        inner.held = held;
                    }
                    Some(PollEvent::Pending)
                }
                Some("slow_down") => {
                    // The server's new interval wins when it sends one; else +5 s.
                    inner.interval = match body.get("interval").and_then(|i| i.as_u64()) {
                        Some(secs) if secs > 0 => Duration::from_secs(secs),
                        _ => inner.interval + SLOW_DOWN_STEP,
                    };
                    Some(PollEvent::SlowDown {
                        interval: inner.interval,
                    })
                }
                _ => None,
            }
        };
        if let Some(event) = event {
            (self.on_event)(&event);
        }
    }

    pub(super) fn observe_failure(&self, error: &TransportError) {
        let mut inner = self.lock();
        inner.last_error = Some(error.clone());
        inner.held = Duration::ZERO;
        drop(inner);
        (self.on_event)(&PollEvent::Retrying {
            error: error.to_string(),
        });
    }

    /// `oauth2` proposes a wait: its own interval, or a doubled one after a
    /// network error. Our interval (which knows the server's slow_down value)
    /// decides, except that network back-off may only make the wait longer.
    /// After a poll the server held (long polling), only what is left of the
    /// interval remains: usually nothing, so the next poll goes out at once.
    pub(super) fn next_wait(&self, proposed: Duration) -> Duration {
        let inner = self.lock();
        if inner.last_error.is_some() {
            proposed.max(inner.interval)
        } else if inner.held.is_zero() {
            inner.interval
        } else {
            // The server started timing the hold a little after we sent the
            // poll and counts whole seconds: keep a second in hand.
            (inner.interval + HOLD_MARGIN).saturating_sub(inner.held)
        }
    }
}

/// Whether the server applied our `Prefer: wait` (RFC 7240
/// `Preference-Applied: wait=N`).
fn wait_applied(response: &HttpResponse) -> bool {
    response
        .headers()
        .get_all("preference-applied")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .any(|pref| {
            let name = pref.split('=').next().unwrap_or_default();
            name.trim().eq_ignore_ascii_case("wait")
        })
}
