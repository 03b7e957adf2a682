use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keyring_core::{CredentialStore, Entry, Error as KeyringError};

use super::{StorageKind, StoreError, TokenStore};
use crate::secret::Secret;
use crate::text::clean;

/// The keychain service name all devauth entries share.
pub const SERVICE: &str = "devauth";
/// Secret Service can block forever on an unlock prompt; no keychain call may
/// take longer than this.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const PROBE_ACCOUNT: &str = "devauth-keychain-probe";
static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Which kind of keychain holds the tokens: a stable name for machines
/// (`devauth status --json` says `"keychain": "secret_service"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeychainKind {
    /// The freedesktop Secret Service (gnome-keyring, KWallet, KeePassXC).
    SecretService,
    /// The macOS Keychain.
    MacosKeychain,
    /// Windows Credential Manager.
    WindowsCredentialManager,
    /// keyring's in-memory mock store (tests only; never used for real tokens).
    Mock,
    /// Another store `keyring` offers.
    Other,
}

/// Which `keyring` credential store is active, as `keyring` describes it.
/// Its strings are `keyring`'s own and may change with its version: show
/// [`StoreInfo::label`] to people and [`StoreInfo::kind`] to machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    /// The store's vendor string, as `keyring` reports it.
    pub vendor: String,
    /// The store's id, as `keyring` reports it.
    pub id: String,
}

impl StoreInfo {
    fn of(store: &CredentialStore) -> Self {
        StoreInfo {
            vendor: store.vendor(),
            id: store.id(),
        }
    }

    /// keyring-core's in-memory mock, which must never hold real tokens.
    pub fn is_mock(&self) -> bool {
        self.kind() == KeychainKind::Mock
    }

    /// Which kind of keychain this is.
    pub fn kind(&self) -> KeychainKind {
        let v = self.vendor.to_ascii_lowercase();
        if v.starts_with("mock store") {
            KeychainKind::Mock
        } else if v.contains("secret service") {
            KeychainKind::SecretService
        } else if v.contains("keychain") || v.contains("apple") {
            KeychainKind::MacosKeychain
        } else if v.contains("windows") {
            KeychainKind::WindowsCredentialManager
        } else {
            KeychainKind::Other
        }
    }

    /// A short name for people.
    pub fn label(&self) -> String {
        match self.kind() {
            KeychainKind::Mock => "in-memory mock keychain (testing only)".to_string(),
            KeychainKind::SecretService => "Secret Service keychain".to_string(),
            KeychainKind::MacosKeychain => "macOS Keychain".to_string(),
            KeychainKind::WindowsCredentialManager => "Windows Credential Manager".to_string(),
            KeychainKind::Other => format!("keychain ({})", clean(&self.vendor, 80)),
        }
    }
}

/// The OS keychain through `keyring` (service `devauth`). Every call runs on
/// its own thread under a timeout.
#[derive(Clone)]
pub struct KeyringStore {
    store: Arc<CredentialStore>,
    info: StoreInfo,
    service: String,
    timeout: Duration,
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("info", &self.info)
            .field("service", &self.service)
            .finish()
    }
}

impl KeyringStore {
    /// The platform's native store (Secret Service, macOS Keychain, Windows
    /// Credential Manager). Fails with a clear error when it cannot be set up,
    /// and refuses keyring's mock store.
    pub async fn platform() -> Result<KeyringStore, StoreError> {
        let store = on_thread(DEFAULT_TIMEOUT, || {
            keyring::Entry::store_status()
                .as_ref()
                .map_err(map_init_error)?;
            keyring_core::get_default_store().ok_or_else(|| StoreError::KeychainUnavailable {
                reason: "no credential store was set up".to_string(),
            })
        })
        .await??;
        let this = KeyringStore::with_store(store);
        if this.info.is_mock() {
            return Err(StoreError::MockStore);
        }
        Ok(this)
    }

    /// Any keyring-core store, e.g. `keyring_core::mock::Store::new()` in tests.
    pub fn with_store(store: Arc<CredentialStore>) -> KeyringStore {
        KeyringStore {
            info: StoreInfo::of(store.as_ref()),
            store,
            service: SERVICE.to_string(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The time limit for each keychain call (5 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The keychain service name entries are stored under (`devauth` by
    /// default).
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// Which `keyring` store this is.
    pub fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn run<T: Send + 'static>(
        &self,
        account: &str,
        op: impl FnOnce(Entry) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        let service = self.service.clone();
        let account = account.to_string();
        on_thread(self.timeout, move || {
            let entry = store.build(&service, &account, None).map_err(map_error)?;
            op(entry)
        })
        .await?
    }
}

#[async_trait]
impl TokenStore for KeyringStore {
    async fn get(&self, account: &str) -> Result<Option<Secret>, StoreError> {
        self.run(account, |entry| match entry.get_password() {
            Ok(token) => Ok(Some(Secret::new(token))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        })
        .await
    }

    async fn set(&self, account: &str, token: &Secret) -> Result<(), StoreError> {
        let token = token.clone();
        self.run(account, move |entry| {
            entry.set_password(token.expose()).map_err(map_error)
        })
        .await
    }

    async fn delete(&self, account: &str) -> Result<bool, StoreError> {
        self.run(account, |entry| match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(e) => Err(map_error(e)),
        })
        .await
    }

    /// Writes, reads back and deletes a throwaway entry, so a sign-in can stop
    /// before showing a code when the token could not be stored afterwards.
    async fn probe(&self) -> Result<(), StoreError> {
        // An account of its own per probe: two devauth processes probing at
        // once must not read each other's value.
        let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let account = format!("{PROBE_ACCOUNT}-{}-{n}", std::process::id());
        let value = format!("probe-{}-{n}", std::process::id());
        self.run(&account, move |entry| {
            entry.set_password(&value).map_err(map_error)?;
            let read = entry.get_password().map_err(map_error)?;
            entry.delete_credential().map_err(map_error)?;
            if read == value {
                Ok(())
            } else {
                Err(StoreError::Keychain(
                    "the keychain returned a different value than was stored".to_string(),
                ))
            }
        })
        .await
    }

    fn describe(&self) -> String {
        self.info.label()
    }

    fn kind(&self) -> StorageKind {
        StorageKind::Keychain
    }
}

/// The default keyring store of this process, if one has been set up.
pub fn active_keyring_store() -> Option<StoreInfo> {
    keyring_core::get_default_store().map(|s| StoreInfo::of(s.as_ref()))
}

/// Runs `f` on a fresh thread and waits at most `timeout`. A thread stuck on
/// an unlock prompt is left behind; it does not keep the process alive.
async fn on_thread<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("devauth-keychain".to_string())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| StoreError::Keychain(format!("cannot start keychain thread: {e}")))?;
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(StoreError::Keychain(
            "the keychain call crashed".to_string(),
        )),
        Err(_) => Err(StoreError::KeychainTimeout {
            secs: timeout.as_secs(),
        }),
    }
}

/// Errors from setting up the platform store. The cases people meet get a
/// sentence of ours, not the text of the crates below (`zbus error: …`).
fn map_init_error(e: &KeyringError) -> StoreError {
    let detail = e.to_string();
    let lower = format!("{detail} {e:?}").to_ascii_lowercase();
    let reason = if lower.contains("serviceunknown") || lower.contains("org.freedesktop.secrets") {
        "no Secret Service provider is running on the session bus".to_string()
    } else if lower.contains("notfound")
        || lower.contains("dbus_session_bus_address")
        || lower.contains("no such file")
        || lower.contains("connection")
    {
        session_bus_unreachable(std::env::var("DBUS_SESSION_BUS_ADDRESS").ok().as_deref())
    } else {
        clean(&detail, 200)
    };
    match e {
        KeyringError::NoStorageAccess(_) => StoreError::KeychainLocked { reason },
        _ => StoreError::KeychainUnavailable { reason },
    }
}

/// "cannot connect to the D-Bus session bus at unix:path=…", naming the
/// address tried (the variable is the one zbus reads).
fn session_bus_unreachable(address: Option<&str>) -> String {
    match address.map(str::trim) {
        Some(address) if !address.is_empty() => format!(
            "cannot connect to the D-Bus session bus at {}",
            clean(address, 120)
        ),
        _ => "cannot connect to the D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
            .to_string(),
    }
}

/// Errors from individual calls. Never formats with `{:?}`: some variants
/// carry the stored bytes.
fn map_error(e: KeyringError) -> StoreError {
    match e {
        KeyringError::NoStorageAccess(inner) => StoreError::KeychainLocked {
            reason: clean(&inner.to_string(), 200),
        },
        KeyringError::NoDefaultStore => match keyring::Entry::store_status() {
            Err(init) => map_init_error(init),
            Ok(()) => StoreError::KeychainUnavailable {
                reason: "no credential store was set up".to_string(),
            },
        },
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(_, _) => {
            StoreError::Keychain("the stored entry is not a valid token".to_string())
        }
        KeyringError::PlatformFailure(inner) => StoreError::KeychainUnavailable {
            reason: clean(&inner.to_string(), 200),
        },
        other => StoreError::Keychain(clean(&other.to_string(), 200)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock() -> KeyringStore {
        KeyringStore::with_store(keyring_core::mock::Store::new().unwrap())
    }

    #[tokio::test]
    async fn set_get_delete() {
        let store = mock();
        let account = "https://a.example";
        assert!(store.get(account).await.unwrap().is_none());
        store.set(account, &Secret::new("dva_abc")).await.unwrap();
        assert_eq!(
            store.get(account).await.unwrap().unwrap().expose(),
            "dva_abc"
        );
        assert!(store.delete(account).await.unwrap());
        assert!(!store.delete(account).await.unwrap());
        assert!(store.get(account).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn probe_leaves_nothing_behind() {
        let store = mock();
        store.probe().await.unwrap();
        let pid = std::process::id();
        for n in 0..PROBES.load(std::sync::atomic::Ordering::Relaxed) {
            let account = format!("{PROBE_ACCOUNT}-{pid}-{n}");
            assert!(store.get(&account).await.unwrap().is_none());
        }
    }

    #[test]
    fn the_mock_store_is_recognised() {
        let store = mock();
        assert!(store.info().is_mock());
        assert_eq!(store.describe(), "in-memory mock keychain (testing only)");
        let ss = StoreInfo {
            vendor:
                "Secret Service store, https://crates.io/crates/zbus-secret-service-keyring-store"
                    .into(),
            id: "x".into(),
        };
        assert!(!ss.is_mock());
        assert_eq!(ss.label(), "Secret Service keychain");
        assert_eq!(ss.kind(), KeychainKind::SecretService);
        assert_eq!(
            serde_json::to_value(ss.kind()).unwrap(),
            serde_json::json!("secret_service")
        );
    }

    #[tokio::test]
    async fn slow_keychain_calls_time_out() {
        let err = on_thread(Duration::from_millis(20), || {
            std::thread::park();
        })
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::KeychainTimeout { .. }), "{err:?}");
        assert!(err.to_string().contains("unlock"));
    }

    #[test]
    fn keychain_errors_lead_with_the_fix() {
        let err = StoreError::KeychainUnavailable {
            reason: session_bus_unreachable(Some("unix:path=/nowhere/bus")),
        };
        let text = err.to_string();
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        assert!(first.contains("--insecure-storage"), "{text}");
        assert!(!first.contains("not available"), "{text}");
        assert_eq!(
            lines.next(),
            Some(
                "  detail: the OS keychain is not available: cannot connect to the D-Bus \
                 session bus at unix:path=/nowhere/bus"
            )
        );
        let one = err.one_line();
        assert!(!one.contains('\n'), "{one}");
        assert!(one.starts_with("the OS keychain is not available"), "{one}");
        assert!(
            session_bus_unreachable(None).contains("DBUS_SESSION_BUS_ADDRESS is not set"),
            "unset"
        );
        let file = StoreError::File {
            path: "/x".into(),
            reason: "mode 0644".into(),
        };
        assert_eq!(file.to_string(), "credentials file /x: mode 0644");
    }

    #[test]
    fn locked_keychain_message_names_the_fix() {
        let err = StoreError::KeychainLocked {
            reason: "prompt dismissed".into(),
        };
        let msg = err.to_string();
        assert!(msg.contains("--insecure-storage"), "{msg}");
    }
}
