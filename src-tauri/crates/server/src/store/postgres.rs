//! PostgreSQL, for teams: the same schema and SQL as SQLite.

use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

pub struct PgStore {
    pool: PgPool,
    /// Always `None`: PostgreSQL runs concurrent writers itself.
    writes: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// Writes waiting for a group commit (see `group_commit`).
    group_queue: std::sync::Mutex<Vec<Pending>>,
    /// Always `None`: other servers hear of changes through `NOTIFY`.
    announce: Option<std::sync::Arc<std::path::Path>>,
}

impl PgStore {
    pub async fn connect(url: &str) -> super::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self {
            pool,
            writes: None,
            group_queue: Default::default(),
            announce: None,
        })
    }

    /// The pool, for features only PostgreSQL has (LISTEN/NOTIFY).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

super::sql::sql_store!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    "postgres",
    {
        async fn notify(&self, payload: &str) -> Result<()> {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(crate::events::CHANNEL)
                .bind(payload)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        async fn generation(&self) -> Result<Option<i64>> {
            Ok(None)
        }

        async fn close(&self) {
            // Bounded: a connection still checked out is closed when returned.
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), self.pool.close()).await;
        }

        fn listen(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let pool = self.pool.clone();
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
);
