//! Counting failures in a sliding window (wrong user codes, wrong setup tokens,
//! failed logins), keyed by who failed: an approving user or an IP address.

use crate::clock::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: usize,
    window_secs: i64,
    failures: Mutex<HashMap<String, VecDeque<Timestamp>>>,
}

impl FailureLimiter {
    pub fn new(max_failures: usize, window_secs: i64) -> Self {
        Self {
            max_failures,
            window_secs,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when any of `keys` has used up its failures.
    pub fn check(&self, keys: &[&str], now: Timestamp) -> Result<(), i64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = 0;
        for key in keys {
            if let Some(times) = map.get_mut(*key) {
                while times.front().is_some_and(|t| *t <= now - self.window_secs) {
                    times.pop_front();
                }
                if times.len() >= self.max_failures
                    && let Some(oldest) = times.front()
                {
                    wait = wait.max(oldest + self.window_secs - now);
                }
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    pub fn record_failure(&self, keys: &[&str], now: Timestamp) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            // Bound memory under a flood of distinct keys: old windows are worthless anyway.
            let window = self.window_secs;
            map.retain(|_, times| times.back().is_some_and(|t| *t > now - window));
        }
        for key in keys {
            map.entry((*key).to_string()).or_default().push_back(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_forgives_after_the_window() {
        let limiter = FailureLimiter::new(5, 60);
        for i in 0..5 {
            assert_eq!(limiter.check(&["ip:1"], 1000 + i), Ok(()));
            limiter.record_failure(&["ip:1"], 1000 + i);
        }
        assert_eq!(limiter.check(&["ip:1"], 1010), Err(50));
        assert_eq!(limiter.check(&["ip:2"], 1010), Ok(()));
        assert_eq!(limiter.check(&["ip:2", "ip:1"], 1010), Err(50));
        assert_eq!(limiter.check(&["ip:1"], 1060), Ok(()));
    }
}
