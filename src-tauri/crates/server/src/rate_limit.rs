//! Budgets for attempts that can be guessed (passwords, setup tokens, user
//! codes), and a flood limit for requests anyone can send (device
//! authorizations).
//!
//! Checks that cost little (a user code, a setup token) are made first and
//! settled atomically after ([`judge`]). Expensive ones (passwords) reserve,
//! then verify ([`reserve`]): an attempt first takes a place
//! in every budget it counts against, atomically in the store
//! ([`crate::store::Limits`]), and is refused before any work when the
//! budget's failures are spent. While it is checked it counts as in flight;
//! a wrong one then becomes a failure, a right one goes away. Failures plus
//! attempts in flight never exceed the budget: an attempt that would go over
//! waits briefly for those in flight to settle (legitimate bursts are served,
//! a little later), and is refused if they do not. So forty concurrent wrong
//! passwords against a budget of ten cost ten password checks, not forty, and
//! every server on the database draws on the same budget.

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::secret::sha256_hex;
use crate::state::AppState;
use crate::store::DynStore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How many failed attempts of one kind a subject may make in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// What is counted, e.g. `login-ip`; part of the key.
    pub name: &'static str,
    /// Failures allowed per window.
    pub max: i64,
    /// The window, seconds.
    pub window_secs: i64,
}

/// Sign-in failures per client address.
pub const SIGN_IN_PER_IP: Budget = Budget {
    name: "login-ip",
    max: 10,
    window_secs: 300,
};
/// Sign-in failures per account (from browsers it has not seen succeed).
pub const SIGN_IN_PER_ACCOUNT: Budget = Budget {
    name: "login-email",
    max: 10,
    window_secs: 300,
};
/// Wrong setup tokens per address.
pub const SETUP_PER_IP: Budget = Budget {
    name: "setup-ip",
    max: 10,
    window_secs: 300,
};
/// Wrong user codes per approving user.
pub const USER_CODE_PER_USER: Budget = Budget {
    name: "code-user",
    max: 5,
    window_secs: 60,
};
/// Wrong user codes per address.
pub const USER_CODE_PER_IP: Budget = Budget {
    name: "code-ip",
    max: 5,
    window_secs: 60,
};

/// How long an attempt waits, in all, for attempts in flight to settle
/// before it is refused: a few password checks' time.
const WAIT_FOR_ROOM: Duration = Duration::from_millis(1500);

/// Places taken in budgets. [`Reservation::failed`] or
/// [`Reservation::succeeded`] settles them; dropped unsettled (the request
/// was cancelled mid-check), they are settled as a failure.
#[must_use = "a reservation is settled as failed or succeeded"]
pub struct Reservation {
    store: DynStore,
    taken: Vec<(String, Timestamp)>,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("places", &self.taken.len())
            .finish()
    }
}

impl Reservation {
    async fn settle(mut self, failed: bool) {
        let taken = std::mem::take(&mut self.taken);
        settle(&self.store, &taken, failed).await;
    }

    /// The attempt was wrong: it counts as a failure.
    pub async fn failed(self) {
        self.settle(true).await;
    }

    /// The attempt was right (or never made): it counts for nothing.
    pub async fn succeeded(self) {
        self.settle(false).await;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let taken = std::mem::take(&mut self.taken);
        if taken.is_empty() {
            return;
        }
        let store = self.store.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { settle(&store, &taken, true).await });
        }
    }
}

/// A store failure here is logged: at worst an attempt stays in flight
/// until its window ends.
async fn settle(store: &DynStore, taken: &[(String, Timestamp)], failed: bool) {
    let places: Vec<(&str, Timestamp)> = taken.iter().map(|(k, s)| (k.as_str(), *s)).collect();
    if let Err(err) = store.settle_places(&places, failed).await {
        tracing::warn!(error = %err, "could not settle a rate limit place");
    }
}

/// The key one subject of one budget is counted under: a hash, so that the
/// store holds no addresses or emails.
fn key_of(budget: &Budget, subject: &str) -> String {
    sha256_hex(&format!("{}\0{subject}", budget.name))
}

/// Takes a place in each `(budget, subject)` for one attempt: `RateLimited`
/// when a budget's failures are spent, or when attempts in flight leave no
/// room and do not settle within [`WAIT_FOR_ROOM`].
pub async fn reserve(state: &AppState, attempts: &[(Budget, &str)]) -> Result<Reservation> {
    let keys: Vec<String> = attempts.iter().map(|(b, s)| key_of(b, s)).collect();
    let asked: Vec<(&str, i64)> = keys
        .iter()
        .zip(attempts)
        .map(|(key, (budget, _))| (key.as_str(), budget.window_secs))
        .collect();
    let mut pause = Duration::from_millis(2);
    let mut waited = Duration::ZERO;
    loop {
        let now = state.now();
        let places = state.store.take_places(&asked, now).await?;
        let reservation = Reservation {
            store: state.store.clone(),
            taken: keys
                .iter()
                .cloned()
                .zip(places.iter().map(|p| p.started))
                .collect(),
        };
        let mut spent = 0;
        let mut crowded = false;
        for (place, (budget, _)) in places.iter().zip(attempts) {
            if place.failures >= budget.max {
                spent = spent.max(place.ends - now);
            } else if place.failures + place.inflight > budget.max {
                crowded = true;
            }
        }
        if spent == 0 && !crowded {
            return Ok(reservation);
        }
        reservation.succeeded().await;
        if spent > 0 || waited >= WAIT_FOR_ROOM {
            return Err(Error::rate_limited(spent));
        }
        tokio::time::sleep(pause).await;
        waited += pause;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Settles an attempt whose check was cheap enough to make first (a user
/// code looked up, a setup token compared): a wrong one is counted as a
/// failure in one atomic statement, a right one only reads. Either way the
/// answer is `RateLimited` instead of the check's outcome when the budget
/// was spent by the attempts before it, so however many arrive at once, no
/// more than a budget's worth of wrong answers is given, and a right answer
/// only while the budget lasts.
pub async fn judge(state: &AppState, attempts: &[(Budget, &str)], wrong: bool) -> Result<()> {
    let now = state.now();
    let keys: Vec<String> = attempts.iter().map(|(b, s)| key_of(b, s)).collect();
    let asked: Vec<(&str, i64)> = keys
        .iter()
        .zip(attempts)
        .map(|(key, (budget, _))| (key.as_str(), budget.window_secs))
        .collect();
    let places = if wrong {
        state.store.add_failures(&asked, now).await?
    } else {
        state.store.read_places(&asked, now).await?
    };
    let mut wait = 0;
    for (place, (budget, _)) in places.iter().zip(attempts) {
        // A wrong attempt's own failure is in the count; a right one's is not.
        let before = place.failures - i64::from(wrong);
        if before >= budget.max {
            wait = wait.max(place.ends - now);
        }
    }
    if wait > 0 {
        return Err(Error::rate_limited(wait));
    }
    Ok(())
}

/// Requests per subject per minute, counted in this process: a flood limit
/// (device authorizations per address), where being exact across replicas
/// matters less than costing nothing on the hot path.
#[derive(Debug, Default)]
pub struct FloodLimiter {
    windows: Mutex<HashMap<String, (Timestamp, i64)>>,
}

/// The most subjects a flood limiter remembers; beyond it, ended windows are
/// dropped first.
const FLOOD_SUBJECTS: usize = 100_000;

/// The window newcomers share while the limiter is full.
const OVERFLOW: &str = "\0overflow";

impl FloodLimiter {
    /// Counts one request of `subject` at `now`; `Err(seconds to wait)` when
    /// this minute's `per_minute` are used up (the refused one is not counted).
    pub fn count(&self, subject: &str, per_minute: i64, now: Timestamp) -> Result<(), i64> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut subject = subject;
        if windows.len() >= FLOOD_SUBJECTS && !windows.contains_key(subject) {
            windows.retain(|_, (started, _)| *started > now - 60);
            if windows.len() >= FLOOD_SUBJECTS {
                // Every remembered subject is in this minute: newcomers share
                // one window rather than grow the map without bound.
                subject = OVERFLOW;
            }
        }
        let window = windows.entry(subject.to_string()).or_insert((now, 0));
        if window.0 <= now - 60 {
            *window = (now, 0);
        }
        if window.1 >= per_minute {
            return Err((window.0 + 60 - now).max(1));
        }
        window.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floods_stop_at_the_budget_and_the_next_minute_brings_a_new_one() {
        let limiter = FloodLimiter::default();
        for i in 0..3 {
            assert_eq!(limiter.count("ip:1", 3, 1000 + i), Ok(()));
        }
        assert_eq!(limiter.count("ip:1", 3, 1010), Err(50));
        assert_eq!(limiter.count("ip:2", 3, 1010), Ok(()));
        assert_eq!(limiter.count("ip:1", 3, 1060), Ok(()));
    }

    #[test]
    fn a_full_limiter_counts_newcomers_together_instead_of_growing() {
        let limiter = FloodLimiter::default();
        for i in 0..FLOOD_SUBJECTS {
            limiter.count(&format!("ip:{i}"), 1, 1000).unwrap();
        }
        assert_eq!(limiter.count("new:1", 1, 1001), Ok(()));
        assert_eq!(limiter.count("new:2", 1, 1001), Err(60));
        assert!(limiter.windows.lock().unwrap().len() <= FLOOD_SUBJECTS + 1);
        // A minute on, ended windows make room again.
        assert_eq!(limiter.count("new:2", 1, 1061), Ok(()));
        assert_eq!(limiter.count("new:3", 1, 1061), Ok(()));
    }
}
