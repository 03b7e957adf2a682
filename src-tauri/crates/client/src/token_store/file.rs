use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{StorageKind, StoreError, TokenStore};
use crate::secret::Secret;

pub const FILE_NAME: &str = "credentials.json";

/// Tokens in a plaintext JSON file (mode 0600) in the config directory.
///
/// Used only when asked for (`--insecure-storage` or `"storage": "file"` in
/// the config), never as a fallback. Each `FileStore` announces itself once,
/// on first use, through the warning sink (stderr by default); a CLI run opens
/// one, so every command that touches the file says so.
#[derive(Clone)]
pub struct FileStore {
    path: PathBuf,
    warn: Arc<dyn Fn(&str) + Send + Sync>,
    warned: Arc<AtomicBool>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish()
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Contents {
    #[serde(default)]
    tokens: BTreeMap<String, String>,
}

impl FileStore {
    /// A store in the file at `path` that warns on stderr. Nothing is read or
    /// created yet.
    pub fn new(path: PathBuf) -> Self {
        FileStore {
            path,
            warn: Arc::new(|msg| eprintln!("{msg}")),
            warned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// `credentials.json` in the given config directory.
    pub fn in_dir(config_dir: &Path) -> Self {
        FileStore::new(config_dir.join(FILE_NAME))
    }

    /// Sends the every-use warning somewhere other than stderr (the desktop
    /// app shows it in its window).
    pub fn with_warning_sink(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.warn = Arc::new(sink);
        self
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The warning announced on first use: the token sits unencrypted in this
    /// file.
    pub fn warning(&self) -> String {
        format!(
            "warning: the token is stored unencrypted in {} (insecure storage). Anyone who \
             can read that file can act as you",
            self.path.display()
        )
    }

    fn announce(&self) {
        if !self.warned.swap(true, Ordering::SeqCst) {
            (self.warn)(&self.warning());
        }
    }

    fn error(&self, reason: impl Into<String>) -> StoreError {
        StoreError::File {
            path: self.path.display().to_string(),
            reason: reason.into(),
        }
    }

    fn read(&self) -> Result<Contents, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
            Err(e) => return Err(self.error(e.to_string())),
        };
        self.check_permissions()?;
        serde_json::from_slice(&bytes)
            .map_err(|_| self.error("not a devauth credentials file (invalid JSON)"))
    }

    #[cfg(unix)]
    fn check_permissions(&self) -> Result<(), StoreError> {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&self.path)
            .map_err(|e| self.error(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(self.error(format!(
                "readable by other users (mode {:o}); run `chmod 600 {}` and check who \
                 may have read it",
                mode & 0o777,
                self.path.display()
            )));
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn check_permissions(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Writes a temporary file with mode 0600 and renames it over the old
    /// one, so a crash never leaves a half-written file.
    fn write(&self, contents: &Contents) -> Result<(), StoreError> {
        if contents.tokens.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(self.error(e.to_string())),
            };
        }
        let dir = self
            .path
            .parent()
            .ok_or_else(|| self.error("has no parent directory"))?;
        crate::config::create_private_dir(dir).map_err(|e| self.error(e.to_string()))?;
        let json = serde_json::to_vec_pretty(contents).map_err(|e| self.error(e.to_string()))?;
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        let result = (|| {
            let mut file = private_file(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.error(e.to_string()));
        }
        Ok(())
    }
}

/// Opens `path` for writing, created or truncated, readable only by its owner.
#[cfg(unix)]
pub(crate) fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // The mode above only applies to new files.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
pub(crate) fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

#[async_trait]
impl TokenStore for FileStore {
    async fn get(&self, account: &str) -> Result<Option<Secret>, StoreError> {
        self.announce();
        Ok(self.read()?.tokens.remove(account).map(Secret::new))
    }

    async fn set(&self, account: &str, token: &Secret) -> Result<(), StoreError> {
        self.announce();
        let mut contents = self.read()?;
        contents
            .tokens
            .insert(account.to_string(), token.expose().to_string());
        self.write(&contents)
    }

    async fn delete(&self, account: &str) -> Result<bool, StoreError> {
        self.announce();
        let mut contents = self.read()?;
        let existed = contents.tokens.remove(account).is_some();
        if existed {
            self.write(&contents)?;
        }
        Ok(existed)
    }

    async fn probe(&self) -> Result<(), StoreError> {
        self.announce();
        self.read().map(|_| ())
    }

    fn describe(&self) -> String {
        format!("file {} (insecure)", self.path.display())
    }

    fn kind(&self) -> StorageKind {
        StorageKind::File
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::config::tests::TempDir;

    fn store(dir: &TempDir) -> (FileStore, Arc<Mutex<Vec<String>>>) {
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let sink = warnings.clone();
        let store = FileStore::in_dir(&dir.path().join("devauth"))
            .with_warning_sink(move |m| sink.lock().unwrap().push(m.to_string()));
        (store, warnings)
    }

    #[tokio::test]
    async fn round_trip_with_mode_0600_and_a_warning() {
        let dir = TempDir::new();
        let (store, warnings) = store(&dir);
        assert!(store.get("https://a.example").await.unwrap().is_none());
        store
            .set("https://a.example", &Secret::new("dva_1"))
            .await
            .unwrap();
        store
            .set("https://b.example", &Secret::new("dva_2"))
            .await
            .unwrap();
        assert_eq!(
            store
                .get("https://a.example")
                .await
                .unwrap()
                .unwrap()
                .expose(),
            "dva_1"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(store.delete("https://a.example").await.unwrap());
        assert!(store.delete("https://b.example").await.unwrap());
        assert!(!store.path().exists(), "an empty store leaves no file");
        let warnings = warnings.lock().unwrap();
        assert_eq!(warnings.len(), 1, "once per store");
        assert!(warnings[0].contains("unencrypted"));
        assert_eq!(
            store.describe(),
            format!("file {} (insecure)", store.path().display())
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn refuses_a_file_others_can_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new();
        let (store, _) = store(&dir);
        store
            .set("https://a.example", &Secret::new("dva_1"))
            .await
            .unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.get("https://a.example").await.unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
