//! Password reset links: made (replacing an unused one), looked up, and used
//! once (the new hash and the end of every session in one transaction).

use super::SqlStore;
use super::db::{Row, args};
use crate::model::*;
use crate::store::{PasswordResets, Result};
use async_trait::async_trait;

const RESET_SELECT: &str = "SELECT id, secret_hash, user_id, created_by, created_at, \
     expires_at, used_at FROM password_resets ";

fn reset_from(row: &Row) -> Result<PasswordReset> {
    Ok(PasswordReset {
        id: row.text("id")?,
        secret_hash: row.text("secret_hash")?,
        user_id: row.text("user_id")?.into(),
        created_by: row.opt_text("created_by")?.map(Into::into),
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        used_at: row.opt_int("used_at")?,
    })
}

#[async_trait]
impl<C: Send + Sync + 'static> PasswordResets for SqlStore<C> {
    async fn create_password_reset(&self, r: &PasswordReset, audit: &NewAuditEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // One working link per user: an older unused one ends now.
        tx.execute(
            "UPDATE password_resets SET expires_at = $1 WHERE user_id = $2 AND used_at IS NULL \
             AND expires_at > $1",
            args![r.created_at, &r.user_id],
        )
        .await?;
        tx.execute(
            "INSERT INTO password_resets (id, secret_hash, user_id, created_by, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                &r.id,
                &r.secret_hash,
                &r.user_id,
                &r.created_by,
                r.created_at,
                r.expires_at,
            ],
        )
        .await?;
        tx.commit_with(audit).await
    }

    async fn password_reset_by_hash(&self, secret_hash: &str) -> Result<Option<PasswordReset>> {
        let sql = format!("{RESET_SELECT}WHERE secret_hash = $1");
        let row = self.db.fetch_optional(&sql, args![secret_hash]).await?;
        row.as_ref().map(reset_from).transpose()
    }

    async fn use_password_reset(
        &self,
        r: &PasswordReset,
        password_hash: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let used = tx
            .execute(
                "UPDATE password_resets SET used_at = $1 WHERE id = $2 AND used_at IS NULL \
                 AND expires_at > $1",
                args![audit.at, &r.id],
            )
            .await?;
        let set = tx
            .execute(
                "UPDATE users SET password_hash = $1 WHERE id = $2 AND disabled_at IS NULL",
                args![password_hash, &r.user_id],
            )
            .await?;
        if used == 0 || set == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.execute(
            "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL",
            args![audit.at, &r.user_id],
        )
        .await?;
        tx.commit_with(audit).await?;
        Ok(true)
    }
}
