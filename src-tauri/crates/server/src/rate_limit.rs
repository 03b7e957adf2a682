//! Budgets for attempts that can be guessed (passwords, setup tokens, user
//! codes) and for requests that can be flooded (device authorizations).
//!
//! Reserve, then verify: an attempt first takes one hit from every budget it
//! counts against, atomically in the store ([`crate::store::Limits`]), and is
//! refused before any work if one is spent. An attempt that turns out right
//! gives its hits back; a wrong one keeps them. So forty concurrent wrong
//! passwords against a budget of ten cost ten password checks, not forty,
//! and every server on the database draws on the same budget.

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::secret::sha256_hex;
use crate::state::AppState;

/// How many attempts of one kind a subject may make in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// What is counted, e.g. `login-ip`; part of the key.
    pub name: &'static str,
    /// Attempts allowed per window.
    pub max: i64,
    /// The window, seconds.
    pub window_secs: i64,
}

/// Sign-in failures per address and per account.
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

/// Hits taken from budgets: [`Reservation::keep`] them (the attempt failed)
/// or [`Reservation::give_back`] (it succeeded).
#[must_use = "a reservation is kept or given back"]
#[derive(Debug)]
pub struct Reservation {
    taken: Vec<(String, Timestamp)>,
}

impl Reservation {
    /// The attempt failed: its hits stay counted.
    pub fn keep(self) {}

    /// The attempt succeeded (or never happened): its hits are returned.
    /// A store failure here is logged; at worst a hit stays counted.
    pub async fn give_back(self, state: &AppState) {
        for (key, started) in self.taken {
            if let Err(err) = state.store.unhit(&key, started).await {
                tracing::warn!(error = %err, "could not give back a rate limit hit");
            }
        }
    }
}

/// The key one subject of one budget is counted under: a hash, so that the
/// store holds no addresses or emails.
fn key_of(budget: &Budget, subject: &str) -> String {
    sha256_hex(&format!("{}\0{subject}", budget.name))
}

/// Takes one hit from each `(budget, subject)` in turn; at the first that
/// is spent, gives back every hit taken and answers `RateLimited`. Going one
/// budget at a time matters under concurrency: an attempt refused by the
/// first budget never touches the next, so a burst refused by the address's
/// budget cannot spend the account's.
pub async fn reserve(state: &AppState, attempts: &[(Budget, &str)]) -> Result<Reservation> {
    let now = state.now();
    let mut reservation = Reservation { taken: Vec::new() };
    for (budget, subject) in attempts {
        let key = key_of(budget, subject);
        let window = match state.store.hit(&key, now, budget.window_secs).await {
            Ok(window) => window,
            Err(err) => {
                reservation.give_back(state).await;
                return Err(err.into());
            }
        };
        reservation.taken.push((key, window.started));
        if window.hits > budget.max {
            reservation.give_back(state).await;
            return Err(Error::rate_limited(window.ends - now));
        }
    }
    Ok(reservation)
}

/// Counts a request against a flood budget (every request counts, none is
/// given back): `RateLimited` once the window's budget is spent.
pub async fn count(state: &AppState, budget: Budget, subject: &str) -> Result<()> {
    reserve(state, &[(budget, subject)]).await?.keep();
    Ok(())
}
