//! SQLite: one file, WAL journal, foreign keys on, a busy timeout so writers queue.
//!
//! Another process (the admin CLI) may write the same file, so cached token
//! validations are tied to a counter row that every such change bumps. Reading
//! that row through the pool on every request would cost a round trip to a
//! connection thread; instead one side connection asks SQLite whether anything
//! was committed at all (`PRAGMA data_version`, a few microseconds, answered
//! from the shared WAL index) and reads the counter only when something was.
//! On Linux even that look is skipped while no devauth process has announced a
//! change since the last one (`change_signal`).

use super::change_signal;
use super::sql::SqlStore;
use super::{Changes, Result};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

super::sql::db::sqlx_db!(sqlx::Sqlite, sqlx::sqlite::SqliteRow);

/// The SQL store on a SQLite file (or in memory).
pub type SqliteStore = SqlStore<SqliteChanges>;

/// SQLite's change check: `None` for an in-memory database, which no other
/// process can write.
pub struct SqliteChanges(Option<ChangeWatch>);

/// Answers "what is the generation counter now?" without the pool.
///
/// Concurrent callers share looks: a caller takes a ticket (the number of looks
/// started so far) on arrival and accepts the result of any look that started
/// after that, so it still sees every commit made before it arrived, while
/// under load one look serves a whole queue of requests.
struct ChangeWatch {
    looks_started: AtomicU64,
    state: tokio::sync::Mutex<WatchState>,
    /// Linux: lets a call skip the look while no change was announced.
    signal: Option<change_signal::Watch>,
}

struct WatchState {
    /// `None` once the store is closed.
    conn: Option<rusqlite::Connection>,
    /// `PRAGMA data_version` when `generation` was read.
    data_version: Option<i64>,
    generation: i64,
    /// Which look (0, 1, …) produced the current values.
    look: Option<u64>,
}

impl ChangeWatch {
    fn open(path: &str, signal: &std::path::Path) -> super::Result<Self> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(watch_error)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(watch_error)?;
        Ok(Self {
            signal: change_signal::Watch::open(signal),
            looks_started: AtomicU64::new(0),
            state: tokio::sync::Mutex::new(WatchState {
                conn: Some(conn),
                data_version: None,
                generation: 0,
                look: None,
            }),
        })
    }

    /// The counter as of no earlier than this call.
    async fn generation(&self) -> super::Result<i64> {
        if let Some(generation) = self.signal.as_ref().and_then(change_signal::Watch::quiet) {
            return Ok(generation);
        }
        let ticket = self.looks_started.load(Ordering::SeqCst);
        let mut state = self.state.lock().await;
        if state.look.is_some_and(|look| look >= ticket) {
            return Ok(state.generation);
        }
        let look = self.looks_started.fetch_add(1, Ordering::SeqCst);
        let heard = self.signal.as_ref().map(change_signal::Watch::heard);
        state.look_now()?;
        state.look = Some(look);
        if let (Some(signal), Some(heard)) = (&self.signal, heard) {
            signal.looked(heard, state.generation);
        }
        Ok(state.generation)
    }
}

impl WatchState {
    /// Re-reads the counter only when some connection committed since the last
    /// look. `data_version` is read first: a commit landing in between makes the
    /// next look read the counter again, never the other way round.
    fn look_now(&mut self) -> super::Result<()> {
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| super::StoreError::Internal("the database is closed".into()))?;
        let version: i64 = conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut q| q.query_row([], |row| row.get(0)))
            .map_err(watch_error)?;
        if self.data_version != Some(version) {
            self.generation = conn
                .prepare_cached("SELECT value FROM generation WHERE id = 1")
                .and_then(|mut q| q.query_row([], |row| row.get(0)))
                .map_err(watch_error)?;
            self.data_version = Some(version);
        }
        Ok(())
    }
}

fn watch_error(err: rusqlite::Error) -> super::StoreError {
    super::StoreError::Internal(format!("database change check failed: {err}"))
}

impl SqlStore<SqliteChanges> {
    /// Opens (creating if missing) the database at a `sqlite:` URL or a plain path.
    pub async fn connect(url: &str) -> Result<Self> {
        let url = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or(path).to_string();
        if !in_memory
            && let Some(dir) = std::path::Path::new(&path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                super::StoreError::Config(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // Every connection to `:memory:` is its own database: keep to one.
        let max = if in_memory { 1 } else { 8 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let (changes, announce) = if in_memory {
            (None, None)
        } else {
            let signal = change_signal::signal_path(std::path::Path::new(&path));
            (
                Some(ChangeWatch::open(&path, &signal)?),
                Some(signal.into()),
            )
        };
        Ok(SqlStore {
            db: Arc::new(pool),
            // One writer at a time, as SQLite allows (`SqlStore::write_turn`).
            writes: Some(Default::default()),
            group_queue: Default::default(),
            announce,
            changes: SqliteChanges(changes),
            backend: "sqlite",
        })
    }
}

#[async_trait]
impl Changes for SqlStore<SqliteChanges> {
    async fn notify(&self, _payload: &str) -> Result<()> {
        Ok(())
    }

    async fn generation(&self) -> Result<Option<i64>> {
        // In memory, every writer is this process, which invalidates directly.
        match &self.changes.0 {
            Some(watch) => watch.generation().await.map(Some),
            None => Ok(None),
        }
    }

    fn listen(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::store::Remote>> {
        None
    }

    async fn close(&self) {
        self.db.close().await;
        if let Some(watch) = &self.changes.0 {
            watch.state.lock().await.conn = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SqliteStore;
    use crate::model::{Actor, AuditQuery, NewAuditEvent, NewDeviceAuthorization, RequestMeta};
    use crate::store::prelude::*;

    /// A fresh database file, opened by a store and by a second connection that
    /// stands in for another devauth process; the directory goes when this does.
    struct FileDb {
        store: std::sync::Arc<SqliteStore>,
        other: rusqlite::Connection,
        path: std::path::PathBuf,
        dir: std::path::PathBuf,
    }

    impl Drop for FileDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    impl FileDb {
        /// What another devauth process does for a change: bump the counter,
        /// commit, announce. Returns the new value.
        fn change(&self) -> i64 {
            let value = self.bump_silently();
            super::change_signal::announce(&self.signal()).expect("the change signal file");
            value
        }

        /// A commit to the counter that nobody announces (no devauth process
        /// does this).
        fn bump_silently(&self) -> i64 {
            self.other
                .query_row(
                    "UPDATE generation SET value = value + 1 WHERE id = 1 RETURNING value",
                    [],
                    |row| row.get(0),
                )
                .expect("reading the counter")
        }

        fn signal(&self) -> std::path::PathBuf {
            super::change_signal::signal_path(&self.path)
        }
    }

    async fn file_db() -> FileDb {
        let dir = std::env::temp_dir().join(format!("devauth-watch-{}", uuid::Uuid::new_v4()));
        let path = dir.join("devauth.db");
        let store = SqliteStore::connect(&path.to_string_lossy())
            .await
            .expect("opening the store");
        let other = rusqlite::Connection::open(&path).expect("opening the database");
        FileDb {
            store: std::sync::Arc::new(store),
            other,
            path,
            dir,
        }
    }

    async fn generation(store: &SqliteStore) -> Option<i64> {
        store.generation().await.expect("the change check")
    }

    #[tokio::test]
    async fn sees_every_announced_commit_by_another_process() {
        let db = &file_db().await;
        let first = generation(&db.store).await;
        assert!(first.is_some(), "a file database has a counter");
        assert_eq!(generation(&db.store).await, first, "nothing changed");
        for round in 1..=3 {
            let value = db.change();
            assert_eq!(first.map(|g| g + round), Some(value));
            assert_eq!(
                generation(&db.store).await,
                Some(value),
                "the very next call sees change {round}"
            );
        }
        // A commit that leaves the counter alone changes nothing.
        db.other
            .execute_batch("CREATE TABLE scratch (x INTEGER); INSERT INTO scratch VALUES (1);")
            .expect("a commit without a bump");
        super::change_signal::announce(&db.signal()).expect("the change signal file");
        assert_eq!(generation(&db.store).await, first.map(|g| g + 3));
    }

    /// A change that bumps the counter (and revokes nothing).
    async fn revoke_all_of_nobody(store: &SqliteStore) -> crate::store::Result<u64> {
        let rev = crate::store::Revocation {
            at: 2_000,
            by: "admin".into(),
            reason: "test".into(),
        };
        let audit = NewAuditEvent::new(
            2_000,
            Actor::Anonymous,
            crate::model::AuditAction::TokenRevokedAll,
            &RequestMeta::default(),
        );
        store
            .revoke_user_tokens(&"nobody".into(), None, &rev, &audit)
            .await
    }

    /// A second store on the file is what the admin CLI is: its changes are
    /// announced by the store itself, after the commit.
    #[tokio::test]
    async fn a_second_store_on_the_file_is_heard() {
        let db = &file_db().await;
        let before = generation(&db.store).await;
        let cli = SqliteStore::connect(&db.path.to_string_lossy())
            .await
            .expect("opening the store");
        assert_eq!(
            generation(&db.store).await,
            before,
            "connecting changes nothing"
        );
        revoke_all_of_nobody(&cli).await.expect("the change");
        assert_eq!(generation(&db.store).await, before.map(|g| g + 1));
    }

    /// A change that cannot be announced is saved, and its caller goes on
    /// (to apply it in its own process; the failure is logged), so that the
    /// caller's cache is not left holding what the change revoked.
    #[tokio::test]
    async fn an_unannounced_change_is_saved_and_applied() {
        let db = &file_db().await;
        let _ = std::fs::remove_file(db.signal());
        std::fs::create_dir(db.signal()).expect("the change signal file");
        let before: i64 = db
            .other
            .query_row("SELECT value FROM generation", [], |row| row.get(0))
            .expect("reading the counter");
        revoke_all_of_nobody(&db.store)
            .await
            .expect("the change succeeds though it cannot be announced");
        let after: i64 = db
            .other
            .query_row("SELECT value FROM generation", [], |row| row.get(0))
            .expect("reading the counter");
        assert_eq!(after, before + 1, "committed before the announcement");
    }

    /// Linux: between announcements a call does not look at the database at
    /// all (the unannounced commit stays unseen), and an announcement is heard
    /// even after the signal file was replaced.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn without_an_announcement_nothing_is_looked_at() {
        let db = &file_db().await;
        let first = generation(&db.store).await;
        db.bump_silently();
        assert_eq!(
            generation(&db.store).await,
            first,
            "no look without a signal"
        );
        let value = db.change();
        assert_eq!(generation(&db.store).await, Some(value));

        std::fs::remove_file(db.signal()).expect("the change signal file");
        for _ in 0..2 {
            let value = db.change();
            assert_eq!(
                generation(&db.store).await,
                Some(value),
                "heard after the file was replaced"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_never_share_a_look_older_than_themselves() {
        let db = &file_db().await;
        for _ in 0..40 {
            let committed = db.change();
            let lookers: Vec<_> = (0..16)
                .map(|_| {
                    let store = db.store.clone();
                    tokio::spawn(async move { store.generation().await.ok().flatten() })
                })
                .collect();
            for looker in lookers {
                let seen = looker.await.expect("a looker task");
                assert_eq!(
                    seen,
                    Some(committed),
                    "a caller saw a look from before the commit"
                );
            }
        }
    }

    fn device(n: usize, code_hash: &str) -> (NewDeviceAuthorization, NewAuditEvent) {
        let device = NewDeviceAuthorization {
            id: format!("device-{n}"),
            device_code_hash: code_hash.to_string(),
            user_code_hash: format!("user-code-{n}"),
            client_id: "devauth-cli".into(),
            device_name: Some(format!("box {n}")),
            org_hint: None,
            requester_ip: Some("127.0.0.1".into()),
            user_agent: None,
            interval_secs: 5,
            created_at: 1_000,
            expires_at: 1_600,
        };
        let audit = NewAuditEvent::new(
            1_000,
            Actor::Anonymous,
            crate::model::AuditAction::DeviceRequested,
            &RequestMeta::default(),
        )
        .target(device.id.clone());
        (device, audit)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_device_authorizations_commit_together_and_fail_alone() {
        let store = std::sync::Arc::new(
            SqliteStore::connect("sqlite::memory:")
                .await
                .expect("connecting"),
        );
        let (first, audit) = device(0, "taken");
        store
            .create_device_authorization(&first, &audit)
            .await
            .expect("create device authorization");

        // Hold the write turn so that every request below queues up behind it.
        let turns = store
            .writes
            .clone()
            .unwrap_or_else(|| panic!("SQLite has write turns"));
        let held = turns.clone().lock_owned().await;
        let requests: Vec<_> = (1..=50)
            .map(|n| {
                // Request 25 reuses a device code hash, which the schema refuses.
                let hash = if n == 25 {
                    "taken".to_string()
                } else {
                    format!("code-{n}")
                };
                let (d, a) = device(n, &hash);
                let store = store.clone();
                tokio::spawn(async move { store.create_device_authorization(&d, &a).await })
            })
            .collect();
        for _ in 0..100_000 {
            if store.group_queue.lock().map(|q| q.len()).unwrap_or(0) == 50 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            store.group_queue.lock().map(|q| q.len()).unwrap_or(0),
            50,
            "all fifty wait in the queue"
        );
        drop(held);
        let mut failed = Vec::new();
        for (n, request) in (1..=50).zip(requests) {
            if let Err(err) = request.await.expect("a request task") {
                failed.push((n, err.to_string()));
            }
        }
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].0, 25, "{failed:?}");
        for n in (1..=50).filter(|n| *n != 25) {
            let stored = store
                .device_by_code_hash(&format!("code-{n}"))
                .await
                .expect("reading the request back");
            assert_eq!(stored.map(|d| d.id), Some(format!("device-{n}")));
        }
        let audit = store
            .list_audit(&AuditQuery {
                action: Some("device.requested".into()),
                limit: 1_000,
                ..Default::default()
            })
            .await
            .expect("the listing");
        assert_eq!(
            audit.len(),
            50,
            "one audit event per stored request, none for the refused one"
        );
        assert!(
            audit
                .iter()
                .all(|e| e.target.as_deref() != Some("device-25"))
        );

        // Polls and new requests share a batch.
        let held = turns.clone().lock_owned().await;
        let mut writes: Vec<_> = (1..=10)
            .map(|n: i64| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .record_poll(&format!("device-{n}"), 2_000 + n, 5 + n)
                        .await
                })
            })
            .collect();
        let (late, late_audit) = device(99, "code-99");
        writes.push({
            let store = store.clone();
            tokio::spawn(async move { store.create_device_authorization(&late, &late_audit).await })
        });
        for _ in 0..100_000 {
            if store.group_queue.lock().map(|q| q.len()).unwrap_or(0) == 11 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(store.group_queue.lock().map(|q| q.len()).unwrap_or(0), 11);
        drop(held);
        for write in writes {
            write.await.expect("drop").expect("unwrap or else");
        }
        for n in 1..=10 {
            let polled = store
                .device_by_code_hash(&format!("code-{n}"))
                .await
                .expect("device by code hash")
                .unwrap_or_else(|| panic!("device {n} is stored"));
            assert_eq!(
                (polled.last_poll_at, polled.interval_secs),
                (Some(2_000 + n), 5 + n),
                "device {n}"
            );
        }
        let untouched = store
            .device_by_code_hash("code-11")
            .await
            .expect("device by code hash")
            .unwrap_or_else(|| panic!("device 11 is stored"));
        assert_eq!((untouched.last_poll_at, untouched.interval_secs), (None, 5));
        assert!(
            store
                .device_by_code_hash("code-99")
                .await
                .expect("device by code hash")
                .is_some()
        );
    }

    #[tokio::test]
    async fn in_memory_databases_have_no_counter_to_watch() {
        let store = SqliteStore::connect("sqlite::memory:")
            .await
            .expect("connecting");
        assert_eq!(store.generation().await.ok(), Some(None));
    }
}
