//! PostgreSQL, for teams: the same schema and SQL as SQLite.

use super::sql::SqlStore;
use super::{Changes, Remote, Result};
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
            // A database out of reach answers 503 within this, not a hang.
            .acquire_timeout(Duration::from_secs(5))
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

/// How often the `LISTEN` connection is asked whether it is alive.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long it has to answer before it counts as lost.
const HEARTBEAT_ANSWER: Duration = Duration::from_secs(5);

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

    fn listen(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Remote>> {
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
                if tx.send(Remote::Connected).is_err() {
                    return;
                }
                let mut heartbeat = tokio::time::interval(HEARTBEAT);
                heartbeat.tick().await;
                loop {
                    // `try_recv`, not `recv`: `recv` reconnects by itself
                    // and drops what was sent meanwhile without a word.
                    let received = tokio::select! {
                        received = listener.try_recv() => received,
                        _ = heartbeat.tick() => {
                            // A connection can die without a word (a dropped
                            // route, a killed backend): ask it something.
                            let asked = tokio::time::timeout(
                                HEARTBEAT_ANSWER,
                                sqlx::query("SELECT 1").execute(&mut listener),
                            )
                            .await;
                            if matches!(asked, Ok(Ok(_))) {
                                continue;
                            }
                            tracing::warn!("LISTEN connection does not answer; reconnecting");
                            let _ = tx.send(Remote::Lost);
                            break;
                        }
                        // The server stopped: let go of the connection.
                        () = tx.closed() => return,
                    };
                    match received {
                        Ok(None) => {
                            tracing::warn!("LISTEN connection lost; reconnecting");
                            let _ = tx.send(Remote::Lost);
                            break;
                        }
                        Ok(Some(notification)) => {
                            let payload = notification.payload().to_string();
                            if tx.send(Remote::Event(payload)).is_err() {
                                return; // the server stopped
                            }
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "LISTEN connection lost; reconnecting");
                            let _ = tx.send(Remote::Lost);
                            break;
                        }
                    }
                }
            }
        });
        Some(rx)
    }
}
