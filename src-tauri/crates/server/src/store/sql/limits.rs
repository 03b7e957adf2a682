//! Budgets for guessable attempts: one row per key, so that every server on
//! the database shares one budget and a restart resets nothing. A fixed
//! window: the first attempt after the last window ended starts a new one.
//! Taking places is one statement whatever the number of keys, settling
//! one per key; the same text on SQLite and PostgreSQL.

use super::SqlStore;
use super::db::{Arg, Row};
use crate::clock::Timestamp;
use crate::store::{Cutoffs, Limits, Place, Purged, Result, Retention, StoreError};
use async_trait::async_trait;

fn place_from(row: &Row) -> Result<Place> {
    Ok(Place {
        failures: row.int("failures")?,
        inflight: row.int("inflight")?,
        started: row.int("window_start")?,
        ends: row.int("window_end")?,
    })
}

impl<C: Send + Sync + 'static> SqlStore<C> {
    /// Adds `failures` and `inflight` to each key's window (a new one when
    /// the last has ended), in one statement; the windows in the order asked.
    async fn bump(
        &self,
        keys: &[(&str, i64)],
        now: Timestamp,
        failures: i64,
        inflight: i64,
    ) -> Result<Vec<Place>> {
        // Rows are locked in the order of the VALUES list: sorted, so that two
        // attempts on the same keys never wait for each other in a cycle.
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        let mut rows = Vec::with_capacity(keys.len());
        let mut values: Vec<Arg<'_>> = vec![Arg::Int(Some(failures)), Arg::Int(Some(inflight))];
        let ends: Vec<i64> = sorted.iter().map(|(_, window)| now + window).collect();
        for (i, ((key, _), end)) in sorted.iter().zip(&ends).enumerate() {
            let n = i * 3 + 3;
            rows.push(format!(
                "(${n}, ${}, ${}, CAST($1 AS BIGINT), CAST($2 AS BIGINT))",
                n + 1,
                n + 2
            ));
            values.extend([Arg::from(*key), Arg::Int(Some(now)), Arg::Int(Some(*end))]);
        }
        let sql = format!(
            "INSERT INTO rate_limits (key, window_start, window_end, failures, inflight) VALUES {} \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN rate_limits.window_end <= excluded.window_start \
                        THEN excluded.failures ELSE rate_limits.failures + excluded.failures END, \
             inflight = CASE WHEN rate_limits.window_end <= excluded.window_start \
                        THEN excluded.inflight ELSE rate_limits.inflight + excluded.inflight END, \
             window_start = CASE WHEN rate_limits.window_end <= excluded.window_start \
                        THEN excluded.window_start ELSE rate_limits.window_start END, \
             window_end = CASE WHEN rate_limits.window_end <= excluded.window_start \
                        THEN excluded.window_end ELSE rate_limits.window_end END \
             RETURNING key, failures, inflight, window_start, window_end",
            rows.join(", ")
        );
        let found = {
            let _turn = self.write_turn().await;
            self.db.fetch_all(&sql, &values).await?
        };
        // In the order asked (RETURNING promises none).
        keys.iter()
            .map(|(key, _)| {
                let row = found
                    .iter()
                    .find(|r| r.text("key").is_ok_and(|k| k == *key))
                    .ok_or_else(|| StoreError::Internal("a rate limit row went missing".into()))?;
                place_from(row)
            })
            .collect()
    }
}

#[async_trait]
impl<C: Send + Sync + 'static> Limits for SqlStore<C> {
    async fn take_places(&self, keys: &[(&str, i64)], now: Timestamp) -> Result<Vec<Place>> {
        self.bump(keys, now, 0, 1).await
    }

    async fn add_failures(&self, keys: &[(&str, i64)], now: Timestamp) -> Result<Vec<Place>> {
        self.bump(keys, now, 1, 0).await
    }

    async fn read_places(&self, keys: &[(&str, i64)], now: Timestamp) -> Result<Vec<Place>> {
        let mut terms = Vec::with_capacity(keys.len());
        let mut values: Vec<Arg<'_>> = vec![Arg::Int(Some(now))];
        for (i, (key, _)) in keys.iter().enumerate() {
            terms.push(format!("${}", i + 2));
            values.push(Arg::from(*key));
        }
        let sql = format!(
            "SELECT key, failures, inflight, window_start, window_end FROM rate_limits \
             WHERE window_end > $1 AND key IN ({})",
            terms.join(", ")
        );
        let found = self.db.fetch_all(&sql, &values).await?;
        keys.iter()
            .map(|(key, window)| {
                match found
                    .iter()
                    .find(|r| r.text("key").is_ok_and(|k| k == *key))
                {
                    Some(row) => place_from(row),
                    // No window open: nothing counted.
                    None => Ok(Place {
                        failures: 0,
                        inflight: 0,
                        started: now,
                        ends: now + window,
                    }),
                }
            })
            .collect()
    }

    async fn settle_places(&self, places: &[(&str, Timestamp)], failed: bool) -> Result<()> {
        // One row per statement: a settling attempt never holds one row while
        // waiting for another (no deadlock with attempts taking places).
        for (key, started) in places {
            let _turn = self.write_turn().await;
            self.db
                .execute(
                    "UPDATE rate_limits SET inflight = inflight - 1, failures = failures + $1 \
                     WHERE key = $2 AND window_start = $3 AND inflight > 0",
                    &[
                        Arg::Int(Some(i64::from(failed))),
                        Arg::from(*key),
                        Arg::Int(Some(*started)),
                    ],
                )
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<C: Send + Sync + 'static> Retention for SqlStore<C> {
    async fn purge(&self, cutoffs: &Cutoffs) -> Result<Purged> {
        // One statement per kind, each its own write turn: a long purge does
        // not hold the writer for the whole of it.
        let delete = async |sql: &str, before: Timestamp| -> Result<u64> {
            let _turn = self.write_turn().await;
            Ok(self.db.execute(sql, &[Arg::Int(Some(before))]).await?)
        };
        let devices = delete(
            "DELETE FROM device_authorizations WHERE expires_at < $1",
            cutoffs.devices,
        )
        .await?;
        let sessions = delete(
            "DELETE FROM sessions WHERE expires_at < $1 OR (ended_at IS NOT NULL AND ended_at < $1)",
            cutoffs.sessions,
        )
        .await?;
        let attempts = delete(
            "DELETE FROM sso_attempts WHERE expires_at < $1",
            cutoffs.sessions,
        )
        .await?
            + delete(
                "DELETE FROM passkey_ceremonies WHERE expires_at < $1",
                cutoffs.sessions,
            )
            .await?;
        let limits = delete(
            "DELETE FROM rate_limits WHERE window_end < $1",
            cutoffs.limits,
        )
        .await?;
        let audit = match cutoffs.audit {
            Some(before) => delete("DELETE FROM audit_events WHERE at < $1", before).await?,
            None => 0,
        };
        Ok(Purged {
            devices,
            sessions: sessions + attempts,
            limits,
            audit,
        })
    }
}
