//! A flood limit for requests anyone can send (device authorizations per
//! address): counted in this process's memory, where being exact across
//! replicas matters less than costing nothing on the hot path.

use crate::clock::Timestamp;
use std::collections::HashMap;
use std::sync::Mutex;

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
