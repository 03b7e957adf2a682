//! Passkeys: registered once per credential id, listed, used (the counter
//! kept), removed; and their ceremonies, each taken once.

use super::SqlStore;
use super::db::{Row, args};
use crate::model::*;
use crate::store::{Passkeys, Result};
use async_trait::async_trait;

const PASSKEY_COLUMNS: &str = "id, user_id, credential_id, name, passkey, created_at, last_used_at";
const CEREMONY_COLUMNS: &str =
    "id_hash, browser_hash, kind, user_id, name, next, state, created_at, expires_at";

fn passkey_from(row: &Row) -> Result<PasskeyRow> {
    Ok(PasskeyRow {
        id: row.text("id")?,
        user_id: row.text("user_id")?.into(),
        credential_id: row.text("credential_id")?,
        name: row.text("name")?,
        passkey: row.text("passkey")?,
        created_at: row.int("created_at")?,
        last_used_at: row.opt_int("last_used_at")?,
    })
}

fn ceremony_from(row: &Row) -> Result<PasskeyCeremony> {
    Ok(PasskeyCeremony {
        id_hash: row.text("id_hash")?,
        browser_hash: row.text("browser_hash")?,
        kind: row.text("kind")?,
        user_id: row.opt_text("user_id")?.map(Into::into),
        name: row.opt_text("name")?,
        next: row.text("next")?,
        state: row.text("state")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
    })
}

#[async_trait]
impl<C: Send + Sync + 'static> Passkeys for SqlStore<C> {
    async fn add_passkey(&self, p: &PasskeyRow, audit: &NewAuditEvent) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let taken = tx
            .fetch_optional(
                "SELECT id FROM passkeys WHERE credential_id = $1",
                args![&p.credential_id],
            )
            .await?;
        if taken.is_some() {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.execute(
            &format!(
                "INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            args![
                &p.id,
                &p.user_id,
                &p.credential_id,
                &p.name,
                &p.passkey,
                p.created_at,
                p.last_used_at,
            ],
        )
        .await?;
        tx.commit_with(audit).await?;
        Ok(true)
    }

    async fn passkeys_of(&self, user_id: &UserId) -> Result<Vec<PasskeyRow>> {
        let rows = self
            .db
            .fetch_all(
                &format!(
                    "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 \
                     ORDER BY created_at, id"
                ),
                args![user_id],
            )
            .await?;
        rows.iter().map(passkey_from).collect()
    }

    async fn passkey_by_credential(&self, credential_id: &str) -> Result<Option<PasskeyRow>> {
        let row = self
            .db
            .fetch_optional(
                &format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = $1"),
                args![credential_id],
            )
            .await?;
        row.as_ref().map(passkey_from).transpose()
    }

    async fn passkey_used(&self, id: &str, passkey: &str, now: i64) -> Result<()> {
        let _turn = self.write_turn().await;
        self.db
            .execute(
                "UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3",
                args![passkey, now, id],
            )
            .await?;
        Ok(())
    }

    async fn remove_passkey(
        &self,
        user_id: &UserId,
        id: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = tx
            .execute(
                "DELETE FROM passkeys WHERE id = $1 AND user_id = $2",
                args![id, user_id],
            )
            .await?;
        if done == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit_with(audit).await?;
        Ok(true)
    }

    async fn create_passkey_ceremony(&self, c: &PasskeyCeremony) -> Result<()> {
        let _turn = self.write_turn().await;
        self.db
            .execute(
                &format!(
                    "INSERT INTO passkey_ceremonies ({CEREMONY_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ),
                args![
                    &c.id_hash,
                    &c.browser_hash,
                    &c.kind,
                    &c.user_id,
                    &c.name,
                    &c.next,
                    &c.state,
                    c.created_at,
                    c.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn take_passkey_ceremony(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<PasskeyCeremony>> {
        let _turn = self.write_turn().await;
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "DELETE FROM passkey_ceremonies WHERE id_hash = $1 AND expires_at > $2 \
                     RETURNING {CEREMONY_COLUMNS}"
                ),
                args![id_hash, now],
            )
            .await?;
        row.as_ref().map(ceremony_from).transpose()
    }
}
