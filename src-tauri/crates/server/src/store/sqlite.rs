//! SQLite: one file, WAL journal, foreign keys on, a busy timeout so writers queue.

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL or a plain path.
    pub async fn connect(url: &str) -> super::Result<Self> {
        let url = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    super::StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
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
        Ok(Self { pool })
    }
}

super::sql::sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    "sqlite",
    {
        async fn notify(&self, _payload: &str) -> Result<()> {
            Ok(())
        }

        fn listen(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
            None
        }

        async fn generation(&self) -> Result<Option<i64>> {
            let value = sqlx::query_scalar("SELECT value FROM generation WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
            Ok(Some(value))
        }
    }
);
