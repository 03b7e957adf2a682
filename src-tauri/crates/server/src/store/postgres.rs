//! PostgreSQL, for teams: the same schema and SQL as SQLite.

use super::sql::SqlStore;
use super::{Changes, Result};
use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::sync::Arc;
use std::time::Duration;

super::sql::db::sqlx_db!(sqlx::Postgres, sqlx::postgres::PgRow);

/// The SQL store on a PostgreSQL database.
pub type PgStore = SqlStore<PgChanges>;

/// PostgreSQL's change signalling: `NOTIFY` and `LISTEN` on the pool.
pub struct PgChanges(PgPool);

impl SqlStore<PgChanges> {
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(SqlStore {
            db: Arc::new(pool.clone()),
            // PostgreSQL runs concurrent writers itself.
            writes: None,
            group_queue: Default::default(),
            // Other servers hear of changes through `NOTIFY`.
            announce: None,
            changes: PgChanges(pool),
            backend: "postgres",
        })
    }
}

#[async_trait]
impl Changes for SqlStore<PgChanges> {
    async fn notify(&self, payload: &str) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::events::CHANNEL)
            .bind(payload)
            .execute(&self.changes.0)
            .await?;
        Ok(())
    }

    async fn generation(&self) -> Result<Option<i64>> {
        Ok(None)
    }

    async fn close(&self) {
        self.db.close().await;
    }

    fn listen(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let pool = self.changes.0.clone();
        tokio::spawn(async move {
            loop {
                if tx.is_closed() {
                    return;
                }
                let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(listener) => listener,
                    Err(err) => {
                        tracing::warn!(error = %err, "LISTEN connection failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(err) = listener.listen(crate::events::CHANNEL).await {
                    tracing::warn!(error = %err, "LISTEN failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
                // Listening (again): whatever was sent meanwhile is lost; say so.
                if tx.send(String::new()).is_err() {
                    return;
                }
                loop {
                    let received = tokio::select! {
                        received = listener.recv() => received,
                        // The server stopped: let go of the connection.
                        () = tx.closed() => return,
                    };
                    match received {
                        Ok(notification) => {
                            if tx.send(notification.payload().to_string()).is_err() {
                                return; // the server stopped
                            }
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "LISTEN connection lost; reconnecting");
                            break;
                        }
                    }
                }
            }
        });
        Some(rx)
    }
}
