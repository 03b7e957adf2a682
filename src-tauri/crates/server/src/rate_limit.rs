//! Budgets for attempts that can be guessed (passwords, setup tokens, user
//! codes); the flood limit for requests anyone can send is `crate::flood`.
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

/// Each key with its budget's window, as the store asks for them.
fn windows<'k>(keys: &'k [String], attempts: &[(Budget, &str)]) -> Vec<(&'k str, i64)> {
    keys.iter()
        .zip(attempts)
        .map(|(key, (budget, _))| (key.as_str(), budget.window_secs))
        .collect()
}

/// Takes a place in each `(budget, subject)` for one attempt: `RateLimited`
/// when a budget's failures are spent, or when attempts in flight leave no
/// room and do not settle within [`WAIT_FOR_ROOM`].
pub async fn reserve(state: &AppState, attempts: &[(Budget, &str)]) -> Result<Reservation> {
    let keys: Vec<String> = attempts.iter().map(|(b, s)| key_of(b, s)).collect();
    let asked = windows(&keys, attempts);
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
    let asked = windows(&keys, attempts);
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
