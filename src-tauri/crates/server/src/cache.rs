//! Token validation without a database round-trip per request: validated
//! tokens are kept in memory by hash, and every change that can invalidate one
//! drops it at once — in this process directly, on other replicas through
//! PostgreSQL `NOTIFY`. With SQLite, where another process (the admin CLI) may
//! write the same file, each use also compares one counter row that every such
//! change bumps in its own transaction. Expiry is checked on every use.
//!
//! Two bounds keep a lost signal from keeping a revoked token alive: an entry
//! is used for at most `max_age` seconds after it was read
//! (`DEVAUTH_CACHE_MAX_AGE_SECS`), and while the PostgreSQL `LISTEN`
//! connection is down (or not yet up) the cache is bypassed: every use reads
//! the database.

use crate::events::Event;
use crate::model::TokenAuth;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Most validations kept; past it the cache starts over.
const MAX_ENTRIES: usize = 100_000;

/// A validation as cached: what was read, at which generation, when.
struct Entry {
    auth: TokenAuth,
    generation: Option<i64>,
    read_at: i64,
}

/// Validated tokens by hash, each with the generation it was read at.
pub struct TokenCache {
    entries: Mutex<HashMap<String, Entry>>,
    /// Counts invalidations, so a validation read from the database just before
    /// one is not cached after it.
    epoch: AtomicU64,
    /// Seconds an entry is used after it was read; 0: nothing is cached.
    max_age: i64,
    /// Whether changes made elsewhere reach this process (false while the
    /// PostgreSQL listener is down): if not, the cache is bypassed.
    live: AtomicBool,
}

impl TokenCache {
    /// A cache whose entries live `max_age` seconds; `live` says whether
    /// changes made elsewhere are heard from the start.
    pub fn new(max_age: i64, live: bool) -> Self {
        Self {
            entries: Mutex::default(),
            epoch: AtomicU64::new(0),
            max_age: max_age.max(0),
            live: AtomicBool::new(live),
        }
    }

    /// The cached validation of `hash`, if any, taken at `generation` and
    /// younger than the maximum age at `now`.
    pub fn get(&self, hash: &str, generation: Option<i64>, now: i64) -> Option<TokenAuth> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|e| e.generation == generation && now - e.read_at < self.max_age)
            .map(|e| e.auth.clone())
    }

    /// Changes made elsewhere are heard again (`true`: the cache is used, from
    /// empty) or no longer (`false`: bypassed until they are).
    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
        // Clearing moves the epoch on, so a validation read before the
        // change is not kept either.
        self.clear();
    }

    /// Whether the cache is in use (changes made elsewhere are heard).
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Read before going to the database; hand back to [`TokenCache::put`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Caches a validation read at `epoch` and time `now`, unless something
    /// was invalidated since (or the cache is bypassed).
    pub fn put(
        &self,
        hash: String,
        auth: TokenAuth,
        generation: Option<i64>,
        epoch: u64,
        now: i64,
    ) {
        if self.max_age == 0 || !self.live.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        let entry = Entry {
            auth,
            generation,
            read_at: now,
        };
        entries.insert(hash, entry);
    }

    /// Drops every validation `event` may have changed.
    pub fn invalidate(&self, event: &Event) {
        if matches!(
            event,
            Event::DeviceDecided { .. }
                | Event::DeviceSignedIn { .. }
                | Event::OrgPolicyChanged { .. }
        ) {
            // No validation changes: nothing to drop, and no validation
            // being read meanwhile is made to miss the cache.
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        match event {
            Event::DeviceDecided { .. }
            | Event::DeviceSignedIn { .. }
            | Event::OrgPolicyChanged { .. } => {}
            Event::TokenRevoked { token_id, .. } => {
                entries.retain(|_, e| e.auth.token.id != *token_id)
            }
            Event::UserTokensRevoked {
                user_id, org_id, ..
            } => entries.retain(|_, e| {
                !(e.auth.token.user_id.as_ref() == Some(user_id)
                    && org_id.as_ref().is_none_or(|o| *o == e.auth.org.id))
            }),
            Event::MembershipChanged {
                user_id, org_id, ..
            } => entries.retain(|_, e| {
                !(e.auth.token.user_id.as_ref() == Some(user_id) && e.auth.org.id == *org_id)
            }),
        }
    }

    /// Forgets everything (e.g. after missing events while reconnecting).
    pub fn clear(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    /// How many validations are cached.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TokenKind;
    use crate::policy::Scopes;
    use crate::policy::tests::{org, token};
    use std::sync::Arc;

    /// A service token's validation (no user needed).
    fn auth() -> TokenAuth {
        let mut token = token("t", TokenKind::Service, None, "o", Scopes::NONE);
        token.hash = "h".into();
        TokenAuth {
            token: Arc::new(token),
            user: None,
            org: org("o"),
            role: None,
        }
    }

    #[test]
    fn entries_are_used_until_their_maximum_age_only() {
        let cache = TokenCache::new(60, true);
        cache.put("h".into(), auth(), None, cache.epoch(), 1000);
        assert!(cache.get("h", None, 1059).is_some());
        assert!(cache.get("h", None, 1060).is_none(), "read again at 60 s");
        let never = TokenCache::new(0, true);
        never.put("h".into(), auth(), None, never.epoch(), 1000);
        assert!(never.get("h", None, 1000).is_none(), "0 caches nothing");
    }

    #[test]
    fn device_events_leave_the_cache_alone() {
        // A validation read while devices are decided and signed in is still
        // kept: those change no token, and a busy sign-in flow must not make
        // every approver's validation miss.
        let cache = TokenCache::new(60, true);
        let epoch = cache.epoch();
        cache.invalidate(&Event::DeviceDecided {
            device_id: "d".into(),
        });
        cache.put("h".into(), auth(), None, epoch, 1000);
        assert!(cache.get("h", None, 1000).is_some());
        assert_eq!(cache.epoch(), epoch);
    }

    #[test]
    fn while_changes_are_not_heard_the_cache_is_bypassed() {
        let cache = TokenCache::new(60, true);
        cache.put("h".into(), auth(), None, cache.epoch(), 1000);
        cache.set_live(false);
        assert!(cache.get("h", None, 1000).is_none());
        cache.put("h".into(), auth(), None, cache.epoch(), 1000);
        assert!(cache.is_empty(), "nothing is kept while bypassed");
        cache.set_live(true);
        assert!(cache.is_empty(), "back live, it starts empty");
        cache.put("h".into(), auth(), None, cache.epoch(), 1000);
        assert!(cache.get("h", None, 1000).is_some());
    }
}
