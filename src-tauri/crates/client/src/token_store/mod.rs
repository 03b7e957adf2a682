//! Where tokens live: the OS keychain ([`KeyringStore`]) or, only when asked
//! for, a plaintext file ([`FileStore`]); plus the tokens still to be revoked
//! after an offline sign-out.

mod file;
mod keychain;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::discovery::ServerUrl;
use crate::secret::Secret;

pub use file::FileStore;
pub(crate) use file::private_file;
pub use keychain::{KeychainKind, KeyringStore, StoreInfo, active_keyring_store};

/// Where tokens live. Implementations key entries by account name; the
/// account for a server's token is the server's canonical URL.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The token stored under `account`; `None` when there is none.
    async fn get(&self, account: &str) -> Result<Option<Secret>, StoreError>;
    /// Stores `token` under `account`, replacing any earlier one.
    async fn set(&self, account: &str, token: &Secret) -> Result<(), StoreError>;
    /// Ok(true) when something was deleted.
    async fn delete(&self, account: &str) -> Result<bool, StoreError>;
    /// Checks that tokens can be stored, before anything depends on it.
    async fn probe(&self) -> Result<(), StoreError>;
    /// For people: "Secret Service keychain", "file /path (insecure)".
    fn describe(&self) -> String;
    /// Which backend this is.
    fn kind(&self) -> StorageKind;
}

/// The storage backend, as written in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// The OS keychain; the default.
    #[default]
    Keychain,
    /// Plaintext file; only when asked for explicitly.
    File,
}

// What to do when no keychain can be used. Each error leads with its fix:
// that is the line people read.
const FIX_KEYCHAIN: &str = if cfg!(target_os = "macos") {
    "unlock your login keychain, or pass --insecure-storage to keep the token in a plaintext \
     file instead"
} else if cfg!(windows) {
    "check that Windows Credential Manager is available, or pass --insecure-storage to keep the \
     token in a plaintext file instead"
} else {
    "install and start a Secret Service keychain such as gnome-keyring and unlock it, inside a \
     desktop or D-Bus session (dbus-run-session), or pass --insecure-storage to keep the token \
     in a plaintext file instead"
};

const FIX_LOCKED: &str = if cfg!(any(target_os = "macos", windows)) {
    FIX_KEYCHAIN
} else {
    "unlock the keychain (log in to your desktop session, or unlock the login keyring in your \
     keyring manager), or pass --insecure-storage to keep the token in a plaintext file instead"
};

/// Token storage failed. Shown, the fix comes first and the detail on the
/// next line ([`StoreError::fix`], [`StoreError::detail`]).
#[derive(Debug, Clone)]
pub enum StoreError {
    /// No usable keychain: no provider or session bus, or the platform store
    /// failed.
    KeychainUnavailable {
        /// What went wrong, for people.
        reason: String,
    },
    /// The keychain refused access: it is locked or has no default collection.
    KeychainLocked {
        /// What the keychain reported.
        reason: String,
    },
    /// A keychain call did not finish within the store's timeout.
    KeychainTimeout {
        /// The timeout, in seconds.
        secs: u64,
    },
    /// The active store is keyring's in-memory mock, which would lose the token.
    MockStore,
    /// Any other keychain failure; the text says what.
    Keychain(String),
    /// The token file cannot be read, written or trusted (it is readable by
    /// other users, say).
    File {
        /// The file's path.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl StoreError {
    /// What the person can do about it, when there is something: for every
    /// keychain that cannot be used, set one up or unlock it, or pass
    /// `--insecure-storage`.
    pub fn fix(&self) -> Option<&'static str> {
        match self {
            StoreError::KeychainUnavailable { .. } => Some(FIX_KEYCHAIN),
            StoreError::KeychainLocked { .. } | StoreError::KeychainTimeout { .. } => {
                Some(FIX_LOCKED)
            }
            StoreError::MockStore | StoreError::Keychain(_) | StoreError::File { .. } => None,
        }
    }

    /// What went wrong, without the fix.
    pub fn detail(&self) -> String {
        match self {
            StoreError::KeychainUnavailable { reason } => {
                format!("the OS keychain is not available: {reason}")
            }
            StoreError::KeychainLocked { reason } => {
                format!("the OS keychain is locked or has no default collection ({reason})")
            }
            StoreError::KeychainTimeout { secs } => format!(
                "the OS keychain did not answer within {secs} s; it may be waiting for an unlock \
                 prompt"
            ),
            StoreError::MockStore => "the keychain in use is keyring's in-memory mock store, \
                                      which keeps nothing; refusing to store tokens there"
                .to_string(),
            StoreError::Keychain(reason) => format!("keychain error: {reason}"),
            StoreError::File { path, reason } => format!("credentials file {path}: {reason}"),
        }
    }

    /// The detail, then the fix, on one line (for a JSON `reason`).
    pub fn one_line(&self) -> String {
        match self.fix() {
            Some(fix) => format!("{}; {fix}", self.detail()),
            None => self.detail(),
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.fix() {
            Some(fix) => write!(f, "{fix}\n  detail: {}", self.detail()),
            None => f.write_str(&self.detail()),
        }
    }
}

impl std::error::Error for StoreError {}

/// The keychain account that holds tokens still to be revoked at `server`
/// (sign-out happened while the server was unreachable).
pub fn pending_account(server: &ServerUrl) -> String {
    format!("{server}#pending-revocation")
}

/// Tokens waiting to be revoked at `server`.
pub async fn pending_revocations(
    store: &dyn TokenStore,
    server: &ServerUrl,
) -> Result<Vec<Secret>, StoreError> {
    let Some(raw) = store.get(&pending_account(server)).await? else {
        return Ok(Vec::new());
    };
    // A JSON list of tokens; a bare token from an older or hand-made entry
    // counts as a list of one.
    Ok(match serde_json::from_str::<Vec<String>>(raw.expose()) {
        Ok(list) => list.into_iter().map(Secret::new).collect(),
        Err(_) if !raw.is_empty() => vec![raw],
        Err(_) => Vec::new(),
    })
}

/// Replaces the pending list; an empty list deletes the entry.
pub async fn set_pending_revocations(
    store: &dyn TokenStore,
    server: &ServerUrl,
    tokens: &[Secret],
) -> Result<(), StoreError> {
    let account = pending_account(server);
    if tokens.is_empty() {
        store.delete(&account).await?;
        return Ok(());
    }
    let list: Vec<&str> = tokens.iter().map(Secret::expose).collect();
    let encoded = serde_json::to_string(&list).map_err(|e| StoreError::Keychain(e.to_string()))?;
    store.set(&account, &Secret::new(encoded)).await
}

/// Adds `token` to those waiting to be revoked at `server`, unless it is
/// already there.
pub async fn add_pending_revocation(
    store: &dyn TokenStore,
    server: &ServerUrl,
    token: &Secret,
) -> Result<(), StoreError> {
    let mut list = pending_revocations(store, server).await?;
    if !list.iter().any(|t| t.expose() == token.expose()) {
        list.push(token.clone());
    }
    set_pending_revocations(store, server, &list).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock_store() -> KeyringStore {
        KeyringStore::with_store(keyring_core::mock::Store::new().unwrap())
    }

    #[tokio::test]
    async fn pending_revocations_round_trip() {
        let store = mock_store();
        let server = ServerUrl::parse("https://a.example", false).unwrap();
        assert!(
            pending_revocations(&store, &server)
                .await
                .unwrap()
                .is_empty()
        );
        add_pending_revocation(&store, &server, &Secret::new("dva_1"))
            .await
            .unwrap();
        add_pending_revocation(&store, &server, &Secret::new("dva_2"))
            .await
            .unwrap();
        add_pending_revocation(&store, &server, &Secret::new("dva_1"))
            .await
            .unwrap();
        let list = pending_revocations(&store, &server).await.unwrap();
        let raw: Vec<&str> = list.iter().map(Secret::expose).collect();
        assert_eq!(raw, ["dva_1", "dva_2"]);
        assert!(store.get("https://a.example").await.unwrap().is_none());
        set_pending_revocations(&store, &server, &[]).await.unwrap();
        assert!(
            store
                .get(&pending_account(&server))
                .await
                .unwrap()
                .is_none()
        );
    }
}
