//! Rate limit windows: one row per key, counted by one upsert, so that every
//! server on the database shares one budget and a restart resets nothing.
//! A fixed window: the first hit after the last window ended starts a new
//! one. Both statements are the same text on SQLite and PostgreSQL.

use super::SqlStore;
use super::db::args;
use crate::clock::Timestamp;
use crate::store::{Limits, Result, Window};
use async_trait::async_trait;

#[async_trait]
impl<C: Send + Sync + 'static> Limits for SqlStore<C> {
    async fn hit(&self, key: &str, now: Timestamp, window_secs: i64) -> Result<Window> {
        let _turn = self.write_turn().await;
        let row = self
            .db
            .fetch_optional(
                "INSERT INTO rate_limits (key, window_start, window_end, hits) \
                 VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                 hits = CASE WHEN rate_limits.window_end <= $2 THEN 1 \
                        ELSE rate_limits.hits + 1 END, \
                 window_start = CASE WHEN rate_limits.window_end <= $2 THEN $2 \
                        ELSE rate_limits.window_start END, \
                 window_end = CASE WHEN rate_limits.window_end <= $2 THEN $3 \
                        ELSE rate_limits.window_end END \
                 RETURNING hits, window_start, window_end",
                args![key, now, now + window_secs],
            )
            .await?;
        let row = row.ok_or_else(|| {
            crate::store::StoreError::Internal("the rate limit upsert returned no row".into())
        })?;
        Ok(Window {
            hits: row.int("hits")?,
            started: row.int("window_start")?,
            ends: row.int("window_end")?,
        })
    }

    async fn unhit(&self, key: &str, started: Timestamp) -> Result<()> {
        let _turn = self.write_turn().await;
        self.db
            .execute(
                "UPDATE rate_limits SET hits = hits - 1 \
                 WHERE key = $1 AND window_start = $2 AND hits > 0",
                args![key, started],
            )
            .await?;
        Ok(())
    }

    async fn purge_limits(&self, before: Timestamp) -> Result<u64> {
        let _turn = self.write_turn().await;
        Ok(self
            .db
            .execute(
                "DELETE FROM rate_limits WHERE window_end < $1",
                args![before],
            )
            .await?)
    }
}
