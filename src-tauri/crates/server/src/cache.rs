//! Token validation without a database round-trip per request: validated
//! tokens are kept in memory by hash, and every change that can invalidate one
//! drops it at once — in this process directly, on other replicas through
//! PostgreSQL `NOTIFY`. With SQLite, where another process (the admin CLI) may
//! write the same file, each use also compares one counter row that every such
//! change bumps in its own transaction. Expiry is checked on every use.

use crate::events::Event;
use crate::model::TokenAuth;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most validations kept; past it the cache starts over.
const MAX_ENTRIES: usize = 100_000;

/// Validated tokens by hash, each with the generation it was read at.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (TokenAuth, Option<i64>)>>,
    /// Counts invalidations, so a validation read from the database just before
    /// one is not cached after it.
    epoch: AtomicU64,
}

impl TokenCache {
    /// The cached validation of `hash`, if any and taken at `generation`.
    pub fn get(&self, hash: &str, generation: Option<i64>) -> Option<TokenAuth> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| *at == generation)
            .map(|(auth, _)| auth.clone())
    }

    /// Read before going to the database; hand back to [`TokenCache::put`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Caches a validation read at `epoch`, unless something was invalidated since.
    pub fn put(&self, hash: String, auth: TokenAuth, generation: Option<i64>, epoch: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, (auth, generation));
    }

    /// Drops every validation `event` may have changed.
    pub fn invalidate(&self, event: &Event) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        match event {
            Event::DeviceDecided { .. } => {}
            Event::TokenRevoked { token_id, .. } => {
                entries.retain(|_, (a, _)| a.token.id != *token_id)
            }
            Event::UserTokensRevoked {
                user_id, org_id, ..
            } => entries.retain(|_, (a, _)| {
                !(a.token.user_id.as_ref() == Some(user_id)
                    && org_id.as_ref().is_none_or(|o| *o == a.org.id))
            }),
            Event::MembershipChanged {
                user_id, org_id, ..
            } => entries.retain(|_, (a, _)| {
                !(a.token.user_id.as_ref() == Some(user_id) && a.org.id == *org_id)
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
