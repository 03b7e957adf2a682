//! Password hashing and checking (argon2id with the crate's recommended
//! parameters: 19 MiB and two passes each), behind a gate: at most one check
//! per CPU runs at once, a bounded number wait, and the rest are turned away
//! at once with [`Error::Busy`] (503 with `Retry-After`) instead of piling up
//! on blocking threads until memory runs out.

use crate::error::{Error, Result};
use crate::secret::Secret;
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// Admission to the password checks.
#[derive(Debug)]
pub struct PasswordGate {
    running: Semaphore,
    /// Checks running or waiting.
    inside: AtomicUsize,
    /// Most checks running or waiting at once.
    capacity: usize,
    /// Checks done since start (hashes and verifications).
    done: AtomicU64,
}

/// Leaves the gate on drop, however the call ends.
struct Inside<'a>(&'a AtomicUsize);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordGate {
    /// `running` checks at once (0: one per CPU), `queue` more waiting.
    pub fn new(running: usize, queue: usize) -> PasswordGate {
        let running = match running {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        PasswordGate {
            running: Semaphore::new(running),
            inside: AtomicUsize::new(0),
            capacity: running + queue,
            done: AtomicU64::new(0),
        }
    }

    /// How many checks have run.
    pub fn checks_done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Runs `work` on a blocking thread once a slot is free; `Busy` when the
    /// queue is full.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let before = self.inside.fetch_add(1, Ordering::AcqRel);
        let _inside = Inside(&self.inside);
        if before >= self.capacity {
            return Err(Error::Busy { retry_after: 1 });
        }
        let _slot = self.running.acquire().await.map_err(Error::internal)?;
        self.done.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(work)
            .await
            .map_err(Error::internal)
    }

    /// argon2id of `password` with a fresh salt.
    pub async fn hash(&self, password: &Secret) -> Result<String> {
        let password = password.clone();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(Error::internal)
        })
        .await?
    }

    /// Whether `password` matches `stored`. With no hash (unknown email, no
    /// password set) it does the same work, so timing does not reveal
    /// accounts.
    pub async fn verify(&self, stored: Option<String>, password: &Secret) -> Result<bool> {
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        let password = password.clone();
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY.to_string());
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return false;
            };
            let ok = Argon2::default()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok();
            ok && known
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn passwords_verify_and_unknown_accounts_never_do() {
        let gate = PasswordGate::new(1, 4);
        let password = Secret::new("correct horse");
        let hash = gate.hash(&password).await.ok();
        assert!(hash.as_deref().is_some_and(|h| h.starts_with("$argon2id$")));
        assert!(matches!(
            gate.verify(hash.clone(), &password).await,
            Ok(true)
        ));
        let wrong = gate.verify(hash, &Secret::new("wrong horse")).await;
        assert!(matches!(wrong, Ok(false)));
        assert!(matches!(gate.verify(None, &password).await, Ok(false)));
        assert_eq!(gate.checks_done(), 4);
    }

    /// A full gate turns the next check away at once, and lets checks in
    /// again as soon as there is room.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_gate_turns_checks_away() {
        let gate = Arc::new(PasswordGate::new(1, 1));
        let password = Secret::new("correct horse");
        // Fill it: one running, one waiting (the semaphore is held so
        // neither finishes while we look).
        let held = gate.running.acquire().await.expect("a slot");
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let (gate, password) = (gate.clone(), password.clone());
                tokio::spawn(async move { gate.verify(None, &password).await })
            })
            .collect();
        while gate.inside.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        let refused = gate.verify(None, &password).await;
        assert!(
            matches!(refused, Err(Error::Busy { retry_after: 1 })),
            "{refused:?}"
        );
        drop(held);
        for task in waiting {
            let answer = task.await.expect("the check ran");
            assert!(matches!(answer, Ok(false)), "{answer:?}");
        }
        assert!(matches!(gate.verify(None, &password).await, Ok(false)));
        assert_eq!(gate.checks_done(), 3, "the refused one did no work");
    }
}
