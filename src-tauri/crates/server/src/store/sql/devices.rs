//! Device authorizations: requested (by group commit, with the token polls:
//! the two writes every unauthenticated device request makes), decided,
//! expired, redeemed at most once.

use super::db::{Db, args};
use super::{
    DEVICE_SELECT, SqlStore, WriteTx, device_from, insert_audit_rows, insert_token_row,
    unique_violation, values_list_with,
};
use crate::model::*;
use crate::store::{DeviceDecision, Devices, Redemption, Result, StoreError};
use async_trait::async_trait;

/// A write waiting for the next group commit.
pub(crate) enum GroupWrite {
    /// A new device authorization and its audit event.
    Device(Box<(NewDeviceAuthorization, NewAuditEvent)>),
    /// A poll of the token endpoint (for `slow_down`).
    Poll {
        id: String,
        at: i64,
        interval_secs: i64,
    },
}

pub(crate) struct Pending {
    write: GroupWrite,
    done: tokio::sync::oneshot::Sender<Result<()>>,
}

/// Most writes in one transaction (SQLite allows 32,766 bound values per
/// statement; an audit row takes 11).
const MAX_GROUP: usize = 512;

/// Writes `batch` in one transaction and answers each waiting request. If
/// the transaction fails, each write is tried on its own, so one bad row
/// fails only its own request.
async fn commit_group(db: &dyn Db, batch: Vec<Pending>) {
    match write_group(db, &batch).await {
        Ok(()) => {
            for pending in batch {
                let _ = pending.done.send(Ok(()));
            }
        }
        Err(err) if batch.len() == 1 => {
            if let Some(pending) = batch.into_iter().next() {
                let _ = pending.done.send(Err(err));
            }
        }
        Err(_) => {
            for pending in batch {
                let result = write_group(db, std::slice::from_ref(&pending)).await;
                let _ = pending.done.send(result);
            }
        }
    }
}

async fn write_group(db: &dyn Db, batch: &[Pending]) -> Result<()> {
    let devices: Vec<&(NewDeviceAuthorization, NewAuditEvent)> = batch
        .iter()
        .filter_map(|p| match &p.write {
            GroupWrite::Device(d) => Some(&**d),
            GroupWrite::Poll { .. } => None,
        })
        .collect();
    let polls: Vec<(&str, i64, i64)> = batch
        .iter()
        .filter_map(|p| match &p.write {
            GroupWrite::Poll {
                id,
                at,
                interval_secs,
            } => Some((id.as_str(), *at, *interval_secs)),
            GroupWrite::Device(_) => None,
        })
        .collect();
    let mut tx = WriteTx::holding_turn(db).await?;
    if !devices.is_empty() {
        let sql = format!(
            "INSERT INTO device_authorizations (id, device_code_hash, user_code_hash, client_id, \
             device_name, requester_ip, user_agent, interval_secs, created_at, expires_at, org_hint, \
             status) {}",
            values_list_with(devices.len(), 11, 1, ", 'pending'")
        );
        let mut values = Vec::with_capacity(devices.len() * 11);
        for (d, _) in &devices {
            values.extend_from_slice(args![
                &d.id,
                &d.device_code_hash,
                &d.user_code_hash,
                &d.client_id,
                &d.device_name,
                &d.requester_ip,
                &d.user_agent,
                d.interval_secs,
                d.created_at,
                d.expires_at,
                &d.org_hint,
            ]);
        }
        tx.execute(&sql, &values)
            .await
            .map_err(|e| unique_violation(e, "a device code was issued twice"))?;
        let events: Vec<&NewAuditEvent> = devices.iter().map(|(_, e)| e).collect();
        insert_audit_rows(&mut tx, &events).await?;
    }
    if !polls.is_empty() {
        // One statement for every poll; VALUES columns are column1… in both
        // SQLite and PostgreSQL, and typed by the casts of the first row.
        let mut rows = Vec::with_capacity(polls.len());
        for i in 0..polls.len() {
            let n = i * 3 + 1;
            rows.push(format!(
                "(CAST(${n} AS TEXT), CAST(${} AS BIGINT), CAST(${} AS BIGINT))",
                n + 1,
                n + 2
            ));
        }
        let sql = format!(
            "UPDATE device_authorizations SET last_poll_at = v.column2, interval_secs = v.column3 \
             FROM (VALUES {}) AS v WHERE device_authorizations.id = v.column1",
            rows.join(", ")
        );
        let mut values = Vec::with_capacity(polls.len() * 3);
        for (id, at, interval) in &polls {
            values.extend_from_slice(args![*id, *at, *interval]);
        }
        tx.execute(&sql, &values).await?;
    }
    tx.commit().await
}

impl<C> SqlStore<C> {
    /// Group commit: the write joins a queue, and whoever gets the write turn
    /// next writes everything queued in one transaction. Under load that is
    /// one commit for many requests; alone, an ordinary one.
    pub(crate) async fn group_commit(&self, write: GroupWrite) -> Result<()> {
        let (done, mut written) = tokio::sync::oneshot::channel();
        self.group_queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Pending { write, done });
        let not_written = || Err(StoreError::Internal("the write was not carried out".into()));
        // Stop waiting for the turn as soon as another request's batch has
        // taken this write: waiting on would line every request up behind
        // one commit each, and no batch would ever form.
        let turn = tokio::select! {
            biased;
            result = &mut written => return result.unwrap_or_else(|_| not_written()),
            turn = self.write_turn() => turn,
        };
        let batch: Vec<Pending> = {
            let mut queue = self.group_queue.lock().unwrap_or_else(|e| e.into_inner());
            let n = queue.len().min(MAX_GROUP);
            queue.drain(..n).collect()
        };
        if !batch.is_empty() {
            // A task of its own, so the batch is written and answered even if
            // this request goes away meanwhile.
            let db = self.db.clone();
            let _ = tokio::spawn(async move {
                commit_group(&*db, batch).await;
                drop(turn);
            })
            .await;
        }
        written.await.unwrap_or_else(|_| not_written())
    }
}

#[async_trait]
impl<C: Send + Sync + 'static> Devices for SqlStore<C> {
    async fn create_device_authorization(
        &self,
        d: &NewDeviceAuthorization,
        audit: &NewAuditEvent,
    ) -> Result<()> {
        self.group_commit(GroupWrite::Device(Box::new((d.clone(), audit.clone()))))
            .await
    }

    async fn device_by_code_hash(&self, hash: &str) -> Result<Option<DeviceAuthorization>> {
        let sql = format!("{DEVICE_SELECT}WHERE device_code_hash = $1");
        let row = self.db.fetch_optional(&sql, args![hash]).await?;
        row.as_ref().map(device_from).transpose()
    }

    async fn device_by_user_code_hash(&self, hash: &str) -> Result<Option<DeviceAuthorization>> {
        // The pending request of this code (one at most), else the newest
        // decided one: each through its partial index.
        let pending = format!("{DEVICE_SELECT}WHERE user_code_hash = $1 AND status = 'pending'");
        if let Some(row) = self.db.fetch_optional(&pending, args![hash]).await? {
            return device_from(&row).map(Some);
        }
        let decided = format!(
            "{DEVICE_SELECT}WHERE user_code_hash = $1 AND status <> 'pending' \
             ORDER BY created_at DESC LIMIT 1"
        );
        let row = self.db.fetch_optional(&decided, args![hash]).await?;
        row.as_ref().map(device_from).transpose()
    }

    async fn record_poll(&self, id: &str, at: i64, interval_secs: i64) -> Result<()> {
        self.group_commit(GroupWrite::Poll {
            id: id.to_string(),
            at,
            interval_secs,
        })
        .await
    }

    async fn decide_device(
        &self,
        id: &str,
        decision: &DeviceDecision,
        now: i64,
        audit: &NewAuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let scopes = scopes_to_text(&decision.scopes);
        let done = tx
            .execute(
                "UPDATE device_authorizations SET status = $1, approved_by = $2, org_id = $3, \
                 scopes = $4, decided_at = $5, token_days = $7 \
                 WHERE id = $6 AND status = 'pending' AND expires_at > $5",
                args![
                    decision.status.as_str(),
                    &decision.user_id,
                    &decision.org_id,
                    &scopes,
                    now,
                    id,
                    decision.token_days,
                ],
            )
            .await?;
        if done == 0 {
            return Ok(false);
        }
        tx.commit_with(audit).await?;
        Ok(true)
    }

    async fn expire_device(&self, id: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        self.db
            .execute(
                "UPDATE device_authorizations SET status = 'expired' \
                 WHERE id = $1 AND status IN ('pending', 'approved')",
                args![id],
            )
            .await?;
        Ok(())
    }

    async fn redeem_device(
        &self,
        id: &str,
        token: &NewToken,
        now: i64,
        audit: &NewAuditEvent,
        announce: Option<&str>,
    ) -> Result<Redemption> {
        let mut tx = self.begin_write().await?;
        // The conditional update is the lock: of any number of concurrent polls,
        // exactly one sees a row change.
        let done = tx
            .execute(
                "UPDATE device_authorizations SET status = 'redeemed', redeemed_at = $1 \
                 WHERE id = $2 AND status = 'approved'",
                args![now, id],
            )
            .await?;
        if done == 0 {
            return Ok(Redemption::NotRedeemable);
        }
        let allowed = tx
            .fetch_optional(
                "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.user_id = $1 AND m.org_id = $2 AND u.disabled_at IS NULL",
                args![&token.user_id, &token.org_id],
            )
            .await?;
        if allowed.is_none() {
            tx.rollback().await?;
            let _turn = self.write_turn().await;
            self.db
                .execute(
                    "UPDATE device_authorizations SET status = 'denied' WHERE id = $1 AND status = 'approved'",
                    args![id],
                )
                .await?;
            return Ok(Redemption::NoLongerAllowed);
        }
        insert_token_row(&mut tx, token).await?;
        tx.execute(
            "UPDATE device_authorizations SET token_id = $1 WHERE id = $2",
            args![&token.id, id],
        )
        .await?;
        if let Some(payload) = announce.filter(|_| self.backend == "postgres") {
            // Delivered at commit, with the token: one commit, not two.
            tx.execute(
                "SELECT pg_notify($1, $2)",
                args![crate::events::CHANNEL, payload],
            )
            .await?;
        }
        tx.commit_with(audit).await?;
        Ok(Redemption::Issued)
    }
}
