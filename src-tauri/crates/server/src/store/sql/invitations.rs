//! Invitations: made, listed, withdrawn, and accepted once (the account, if
//! new, and the membership in the same transaction).

use super::db::{Row, args};
use super::{SqlStore, insert_member_row, insert_user_row};
use crate::model::*;
use crate::store::{Invitations, Result, StoreError};
use async_trait::async_trait;

const INVITATION_SELECT: &str = "SELECT i.id, i.secret_hash, i.org_id, i.email, i.role, \
     i.invited_by, u.email AS invited_by_email, i.created_at, i.expires_at, i.accepted_at, \
     i.withdrawn_at FROM invitations i LEFT JOIN users u ON u.id = i.invited_by ";

fn invitation_from(row: &Row) -> Result<Invitation> {
    Ok(Invitation {
        id: row.text("id")?,
        secret_hash: row.text("secret_hash")?,
        org_id: row.text("org_id")?.into(),
        email: row.text("email")?,
        role: row
            .text("role")?
            .parse()
            .map_err(|e: String| StoreError::Corrupt(e))?,
        invited_by: row.opt_text("invited_by")?.map(Into::into),
        invited_by_email: row.opt_text("invited_by_email")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        accepted_at: row.opt_int("accepted_at")?,
        withdrawn_at: row.opt_int("withdrawn_at")?,
    })
}

#[async_trait]
impl<C: Send + Sync + 'static> Invitations for SqlStore<C> {
    async fn create_invitation(&self, i: &Invitation, audit: &NewAuditEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        tx.execute(
            "INSERT INTO invitations (id, secret_hash, org_id, email, role, invited_by, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![
                &i.id,
                &i.secret_hash,
                &i.org_id,
                &i.email,
                i.role.as_str(),
                &i.invited_by,
                i.created_at,
                i.expires_at,
            ],
        )
        .await?;
        tx.commit_with(audit).await
    }

    async fn pending_invitations(&self, org_id: &OrgId, now: i64) -> Result<Vec<Invitation>> {
        let sql = format!(
            "{INVITATION_SELECT}WHERE i.org_id = $1 AND i.accepted_at IS NULL \
             AND i.withdrawn_at IS NULL AND i.expires_at > $2 ORDER BY i.created_at DESC, i.id"
        );
        let rows = self.db.fetch_all(&sql, args![org_id, now]).await?;
        rows.iter().map(invitation_from).collect()
    }

    async fn invitation_by_hash(&self, secret_hash: &str) -> Result<Option<Invitation>> {
        let sql = format!("{INVITATION_SELECT}WHERE i.secret_hash = $1");
        let row = self.db.fetch_optional(&sql, args![secret_hash]).await?;
        row.as_ref().map(invitation_from).transpose()
    }

    async fn withdraw_invitation(
        &self,
        org_id: &OrgId,
        id: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = tx
            .execute(
                "UPDATE invitations SET withdrawn_at = $1 WHERE id = $2 AND org_id = $3 \
                 AND accepted_at IS NULL AND withdrawn_at IS NULL AND expires_at > $1",
                args![audit.at, id, org_id],
            )
            .await?;
        if done == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit_with(audit).await?;
        Ok(true)
    }

    async fn accept_invitation(
        &self,
        i: &Invitation,
        user_id: &UserId,
        new_user: Option<&User>,
        audit: &NewAuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if let Some(user) = new_user {
            insert_user_row(&mut tx, user).await?;
        }
        let done = tx
            .execute(
                "UPDATE invitations SET accepted_at = $1, accepted_by = $2 WHERE id = $3 \
                 AND accepted_at IS NULL AND withdrawn_at IS NULL AND expires_at > $1",
                args![audit.at, user_id, &i.id],
            )
            .await?;
        let already = tx
            .fetch_optional(
                "SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2",
                args![&i.org_id, user_id],
            )
            .await?;
        if done == 0 || already.is_some() {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_member_row(&mut tx, &i.org_id, user_id, i.role, audit.at).await?;
        tx.commit_with(audit).await?;
        Ok(true)
    }
}
