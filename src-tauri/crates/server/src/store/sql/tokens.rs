//! Tokens: stored, found by hash with what they act as now, listed, revoked
//! (one or all of a user's), rotated, used.

use super::db::args;
use super::{
    SqlStore, TOKEN_SELECT, WriteTx, insert_token_row, parse, revoke_user_rows, token_from,
};
use crate::model::*;
use crate::store::{Result, Revocation, Tokens};
use async_trait::async_trait;

/// Revokes a token that is not revoked yet (with `unexpired`, nor past its
/// expiry); false when it was.
async fn revoke_active(
    tx: &mut WriteTx,
    id: &TokenId,
    rev: &Revocation,
    unexpired: bool,
) -> Result<bool> {
    let sql = if unexpired {
        "UPDATE tokens SET revoked_at = $1, revoked_by = $2, revoked_reason = $3 \
         WHERE id = $4 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)"
    } else {
        "UPDATE tokens SET revoked_at = $1, revoked_by = $2, revoked_reason = $3 \
         WHERE id = $4 AND revoked_at IS NULL"
    };
    Ok(tx
        .execute(sql, args![rev.at, &rev.by, &rev.reason, id])
        .await?
        > 0)
}

#[async_trait]
impl<C: Send + Sync + 'static> Tokens for SqlStore<C> {
    async fn insert_token(&self, token: &NewToken, audit: &NewAuditEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_token_row(&mut tx, token).await?;
        tx.commit_with(audit).await
    }

    async fn token_by_id(&self, id: &TokenId) -> Result<Option<Token>> {
        let sql = format!("{TOKEN_SELECT}WHERE t.id = $1");
        let row = self.db.fetch_optional(&sql, args![id]).await?;
        row.as_ref().map(token_from).transpose()
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenAuth>> {
        let Some(row) = self
            .db
            .fetch_optional(
                "SELECT t.id, t.hash, t.hint, t.name, t.kind, t.user_id, u.email AS user_email, \
                 t.org_id, o.slug AS org_slug, t.scopes, t.created_at, t.expires_at, t.last_used_at, \
                 t.last_used_ip, t.last_used_agent, t.revoked_at, t.revoked_by, t.revoked_reason, \
                 u.name AS u_name, u.disabled_at AS u_disabled_at, u.created_at AS u_created_at, \
                 o.name AS o_name, o.created_at AS o_created_at, m.role AS m_role \
                 FROM tokens t JOIN orgs o ON o.id = t.org_id LEFT JOIN users u ON u.id = t.user_id \
                 LEFT JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id \
                 WHERE t.hash = $1",
                args![hash],
            )
            .await?
        else {
            return Ok(None);
        };
        let token = token_from(&row)?;
        let user = match (&token.user_id, &token.user_email) {
            (Some(id), Some(email)) => Some(User {
                id: id.clone(),
                email: email.clone(),
                name: row.text("u_name")?,
                password_hash: None,
                disabled_at: row.opt_int("u_disabled_at")?,
                created_at: row.int("u_created_at")?,
            }),
            _ => None,
        };
        let org = Org {
            id: token.org_id.clone(),
            slug: token.org_slug.clone(),
            name: row.text("o_name")?,
            created_at: row.int("o_created_at")?,
        };
        Ok(Some(TokenAuth {
            role: row.opt_text("m_role")?.map(parse).transpose()?,
            token: token.into(),
            user: user.map(Into::into),
            org: org.into(),
        }))
    }

    async fn list_tokens(&self, q: &TokenQuery) -> Result<Vec<Token>> {
        let sql = format!(
            "{TOKEN_SELECT}WHERE ($1 IS NULL OR t.org_id = $1) AND ($2 IS NULL OR t.user_id = $2) \
             AND ($3 IS NULL OR (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $3))) \
             ORDER BY t.created_at DESC, t.id LIMIT 1000"
        );
        let rows = self
            .db
            .fetch_all(&sql, args![&q.org_id, &q.user_id, q.active_at])
            .await?;
        rows.iter().map(token_from).collect()
    }

    async fn revoke_token(
        &self,
        id: &TokenId,
        rev: &Revocation,
        audit: &NewAuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !revoke_active(&mut tx, id, rev, false).await? {
            return Ok(false);
        }
        tx.bump_generation().await?;
        tx.commit_with(audit).await?;
        Ok(true)
    }

    async fn revoke_user_tokens(
        &self,
        user_id: &UserId,
        org_id: Option<&OrgId>,
        rev: &Revocation,
        audit: &NewAuditEvent,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let revoked = revoke_user_rows(&mut tx, user_id, org_id, rev).await?;
        let audit = audit.clone().detail(crate::store::revoked_words(revoked));
        tx.commit_with(&audit).await?;
        Ok(revoked)
    }

    async fn rotate_token(
        &self,
        old_id: &TokenId,
        new: &NewToken,
        rev: &Revocation,
        audit: &NewAuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !revoke_active(&mut tx, old_id, rev, true).await? {
            return Ok(false);
        }
        insert_token_row(&mut tx, new).await?;
        tx.bump_generation().await?;
        tx.commit_with(audit).await?;
        Ok(true)
    }

    async fn touch_token(
        &self,
        id: &TokenId,
        at: i64,
        ip: Option<&str>,
        agent: Option<&str>,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        self.db
            .execute(
                "UPDATE tokens SET last_used_at = $1, last_used_ip = $2, last_used_agent = $3 \
                 WHERE id = $4",
                args![at, ip, agent, id],
            )
            .await?;
        Ok(())
    }

    async fn record_token_ip(&self, id: &TokenId, ip: &str, audit: &NewAuditEvent) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = tx
            .execute(
                "INSERT INTO token_ips (token_id, ip, first_seen) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                args![id, ip, audit.at],
            )
            .await?;
        if done == 0 {
            return Ok(false);
        }
        tx.commit_with(audit).await?;
        Ok(true)
    }
}
