//! Deleting what has served its purpose: device authorizations a day after
//! they expired, browser sessions once expired or ended, rate limit windows
//! once over, and (only when configured) audit events past their retention.
//! Runs on a schedule in every server (`DEVAUTH_PURGE_INTERVAL_SECS`; several
//! replicas purging is harmless) and on demand (`devauth-server purge`).

use crate::error::Result;
use crate::state::AppState;
use crate::store::{Cutoffs, Purged};
use std::time::Duration;

/// How long an expired device authorization is kept, seconds: a person who
/// opens an old link the same day is told it expired, not that it is unknown.
pub const EXPIRED_DEVICE_KEPT_SECS: i64 = 86_400;

/// The cutoffs at `now`, keeping audit events `audit_days` days (0: for ever).
pub fn cutoffs(now: i64, audit_days: i64) -> Cutoffs {
    Cutoffs {
        devices: now - EXPIRED_DEVICE_KEPT_SECS,
        sessions: now,
        limits: now,
        audit: (audit_days > 0).then(|| now - audit_days * 86_400),
    }
}

/// Purges now, with the server's settings; the counts are logged.
pub async fn purge(state: &AppState) -> Result<Purged> {
    purge_keeping_audit(state, state.config.audit_retention_days).await
}

/// Purges now, keeping audit events `audit_days` days (0: for ever); the
/// counts are logged.
pub async fn purge_keeping_audit(state: &AppState, audit_days: i64) -> Result<Purged> {
    let cutoffs = cutoffs(state.now(), audit_days);
    let purged = state.store.purge(&cutoffs).await?;
    if purged != Purged::default() {
        tracing::info!(
            devices = purged.devices,
            sessions = purged.sessions,
            rate_limits = purged.limits,
            audit_events = purged.audit,
            "purged"
        );
    }
    Ok(purged)
}

/// Purges on a schedule until stopped.
pub struct Schedule {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Schedule {
    /// Purges every `interval`, the first time one interval after start;
    /// `None` when `interval` is zero (purging off).
    pub fn start(state: AppState, interval: Duration) -> Option<Schedule> {
        if interval.is_zero() {
            return None;
        }
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = &mut stopped => return,
                }
                // Not cancelled halfway: a stop waits for this purge.
                if let Err(err) = purge(&state).await {
                    tracing::warn!(error = %err, "scheduled purge failed; retrying at the next one");
                }
            }
        });
        Some(Schedule { stop, task })
    }

    /// Stops, after the purge in progress if any.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// One line for people: what `purged` removed.
pub fn describe(purged: &Purged, audit_kept: bool) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let audit = if audit_kept {
        "audit events kept (set DEVAUTH_AUDIT_RETENTION_DAYS to purge them)".to_string()
    } else {
        plural(purged.audit, "audit event", "audit events")
    };
    format!(
        "purged {}, {}, {}; {audit}",
        plural(
            purged.devices,
            "device authorization",
            "device authorizations"
        ),
        plural(purged.sessions, "session", "sessions"),
        plural(purged.limits, "rate limit window", "rate limit windows"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_events_are_kept_unless_a_retention_is_set() {
        assert_eq!(cutoffs(1_000_000, 0).audit, None);
        assert_eq!(cutoffs(1_000_000, 2).audit, Some(1_000_000 - 172_800));
        assert_eq!(cutoffs(1_000_000, 0).devices, 1_000_000 - 86_400);
    }

    #[test]
    fn describes_counts_in_words() {
        let purged = Purged {
            devices: 1,
            sessions: 2,
            limits: 0,
            audit: 0,
        };
        assert_eq!(
            describe(&purged, true),
            "purged 1 device authorization, 2 sessions, 0 rate limit windows; \
             audit events kept (set DEVAUTH_AUDIT_RETENTION_DAYS to purge them)"
        );
        assert!(describe(&purged, false).ends_with("; 0 audit events"));
    }
}
