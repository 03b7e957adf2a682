//! Token usage bookkeeping without a write per request: `last_used_at/ip` is
//! written at most once a minute per token (or when the IP changes), and each
//! new IP is written (and audited) once.

use crate::clock::Timestamp;
use std::collections::HashMap;
use std::sync::Mutex;

/// Seconds between two `last_used` writes for the same token.
pub const TOUCH_EVERY_SECS: i64 = 60;
const IPS_REMEMBERED: usize = 16;

#[derive(Debug, Default)]
pub struct UsageTracker {
    seen: Mutex<HashMap<String, Seen>>,
}

#[derive(Debug, Default)]
struct Seen {
    written_at: Option<Timestamp>,
    last_ip: Option<String>,
    ips: Vec<String>,
}

/// What a use of a token needs written.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UsageWrites {
    pub touch: bool,
    /// An IP this process has not seen for this token (may still be known to the database).
    pub maybe_new_ip: bool,
}

impl UsageTracker {
    pub fn observe(&self, token_id: &str, ip: Option<&str>, now: Timestamp) -> UsageWrites {
        let mut map = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 200_000 {
            map.clear();
        }
        let seen = match map.get_mut(token_id) {
            Some(seen) => seen,
            None => map.entry(token_id.to_string()).or_default(),
        };
        let ip_changed = seen.last_ip.as_deref() != ip;
        let touch = ip_changed
            || seen
                .written_at
                .is_none_or(|at| now - at >= TOUCH_EVERY_SECS);
        if touch {
            seen.written_at = Some(now);
            seen.last_ip = ip.map(str::to_string);
        }
        let mut maybe_new_ip = false;
        if let Some(ip) = ip
            && !seen.ips.iter().any(|known| known == ip)
        {
            if seen.ips.len() >= IPS_REMEMBERED {
                seen.ips.remove(0);
            }
            seen.ips.push(ip.to_string());
            maybe_new_ip = true;
        }
        UsageWrites {
            touch,
            maybe_new_ip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_at_most_once_a_minute_per_token() {
        let usage = UsageTracker::default();
        assert_eq!(
            usage.observe("t", Some("1.1.1.1"), 0),
            UsageWrites {
                touch: true,
                maybe_new_ip: true
            }
        );
        assert_eq!(
            usage.observe("t", Some("1.1.1.1"), 30),
            UsageWrites::default()
        );
        assert_eq!(
            usage.observe("t", Some("1.1.1.1"), 59),
            UsageWrites::default()
        );
        assert_eq!(
            usage.observe("t", Some("1.1.1.1"), 60),
            UsageWrites {
                touch: true,
                maybe_new_ip: false
            }
        );
        assert_eq!(
            usage.observe("t", Some("2.2.2.2"), 61),
            UsageWrites {
                touch: true,
                maybe_new_ip: true
            }
        );
        assert_eq!(
            usage.observe("u", Some("2.2.2.2"), 61),
            UsageWrites {
                touch: true,
                maybe_new_ip: true
            }
        );
    }
}
