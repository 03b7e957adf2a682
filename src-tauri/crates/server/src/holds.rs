//! What clients hold open — event streams and long polls — counted per key
//! (a token, a client address, a device authorization, or everything), each
//! key with its own cap, so one token or one address cannot take every place
//! the global caps leave.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Counts of places held, by key.
#[derive(Debug, Default)]
pub struct Holds {
    counts: Mutex<HashMap<String, usize>>,
}

/// Places held under some keys; given back on drop.
#[derive(Debug)]
pub struct Hold {
    holds: Arc<Holds>,
    keys: Vec<String>,
}

/// The key one client address holds its streams and long polls under.
pub fn address_key(meta: &crate::model::RequestMeta) -> String {
    format!("{ADDRESS}{}", meta.ip_key())
}

/// What [`address_key`] starts with.
pub const ADDRESS: &str = "address:";

impl Holds {
    /// Takes one place under each `(key, cap)`, or none at all (`Err` names
    /// the first key that is full) when one of them already holds `cap`.
    pub fn take(self: &Arc<Self>, wanted: &[(String, usize)]) -> Result<Hold, String> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((key, _)) = wanted
            .iter()
            .find(|(key, cap)| counts.get(key).copied().unwrap_or(0) >= *cap)
        {
            return Err(key.clone());
        }
        for (key, _) in wanted {
            *counts.entry(key.clone()).or_default() += 1;
        }
        Ok(Hold {
            holds: self.clone(),
            keys: wanted.iter().map(|(key, _)| key.clone()).collect(),
        })
    }

    /// How many places `key` holds now.
    pub fn held(&self, key: &str) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(key).copied().unwrap_or(0)
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut counts = self.holds.counts.lock().unwrap_or_else(|e| e.into_inner());
        for key in &self.keys {
            if let Some(count) = counts.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(keys: &[(&str, usize)]) -> Vec<(String, usize)> {
        keys.iter().map(|(k, c)| (k.to_string(), *c)).collect()
    }

    #[test]
    fn a_full_key_refuses_without_taking_the_others() {
        let holds = Arc::new(Holds::default());
        let first = holds.take(&want(&[("token:a", 1), ("ip:1", 5)])).unwrap();
        assert_eq!(
            holds
                .take(&want(&[("ip:1", 5), ("token:a", 1)]))
                .unwrap_err(),
            "token:a"
        );
        assert_eq!(holds.held("ip:1"), 1, "the refused take took nothing");
        drop(first);
        assert_eq!(holds.held("token:a"), 0);
        assert_eq!(holds.held("ip:1"), 0);
        let _again = holds.take(&want(&[("token:a", 1)])).unwrap();
        assert!(
            holds.counts.lock().unwrap().len() == 1,
            "empty keys are forgotten"
        );
    }
}
