//! Single sign-on: identities at providers (linked once, the account and
//! its first org made in the same transaction when new) and the sign-ins
//! under way, each taken once.

use super::db::{Row, args};
use super::{SqlStore, USER_SELECT, insert_member_row, insert_user_row, user_from};
use crate::model::*;
use crate::store::{Result, SingleSignOn};
use async_trait::async_trait;

const ATTEMPT_COLUMNS: &str = "id_hash, provider, browser_hash, nonce, pkce_verifier, next, \
     invite_hash, fresh, subject, email, created_at, expires_at";

fn attempt_from(row: &Row) -> Result<SsoAttempt> {
    let link = match (row.opt_text("subject")?, row.opt_text("email")?) {
        (Some(subject), Some(email)) => Some((subject, email)),
        _ => None,
    };
    Ok(SsoAttempt {
        id_hash: row.text("id_hash")?,
        provider: row.text("provider")?,
        browser_hash: row.text("browser_hash")?,
        nonce: row.text("nonce")?,
        pkce_verifier: row.text("pkce_verifier")?,
        next: row.text("next")?,
        invite_hash: row.opt_text("invite_hash")?,
        fresh: row.int("fresh")? != 0,
        link,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
    })
}

fn identity_from(row: &Row) -> Result<SsoIdentity> {
    Ok(SsoIdentity {
        provider: row.text("provider")?,
        subject: row.text("subject")?,
        user_id: row.text("user_id")?.into(),
        email: row.text("email")?,
        created_at: row.int("created_at")?,
        last_used_at: row.opt_int("last_used_at")?,
    })
}

#[async_trait]
impl<C: Send + Sync + 'static> SingleSignOn for SqlStore<C> {
    async fn create_sso_attempt(&self, a: &SsoAttempt) -> Result<()> {
        let _turn = self.write_turn().await;
        let (subject, email) = match &a.link {
            Some((subject, email)) => (Some(subject.as_str()), Some(email.as_str())),
            None => (None, None),
        };
        self.db
            .execute(
                &format!(
                    "INSERT INTO sso_attempts ({ATTEMPT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ),
                args![
                    &a.id_hash,
                    &a.provider,
                    &a.browser_hash,
                    &a.nonce,
                    &a.pkce_verifier,
                    &a.next,
                    &a.invite_hash,
                    i64::from(a.fresh),
                    subject,
                    email,
                    a.created_at,
                    a.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn take_sso_attempt(
        &self,
        id_hash: &str,
        link: bool,
        now: i64,
    ) -> Result<Option<SsoAttempt>> {
        let _turn = self.write_turn().await;
        let phase = if link {
            "subject IS NOT NULL"
        } else {
            "subject IS NULL"
        };
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "DELETE FROM sso_attempts WHERE id_hash = $1 AND expires_at > $2 AND {phase} \
                     RETURNING {ATTEMPT_COLUMNS}"
                ),
                args![id_hash, now],
            )
            .await?;
        row.as_ref().map(attempt_from).transpose()
    }

    async fn pending_sso_link(&self, browser_hash: &str, now: i64) -> Result<Option<SsoAttempt>> {
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM sso_attempts WHERE browser_hash = $1 \
                     AND subject IS NOT NULL AND expires_at > $2 \
                     ORDER BY created_at DESC LIMIT 1"
                ),
                args![browser_hash, now],
            )
            .await?;
        row.as_ref().map(attempt_from).transpose()
    }

    async fn sso_user(&self, provider: &str, subject: &str, now: i64) -> Result<Option<User>> {
        let sql = format!(
            "{USER_SELECT}WHERE disabled_at IS NULL AND id = (SELECT user_id FROM sso_identities \
             WHERE provider = $1 AND subject = $2)"
        );
        let Some(row) = self
            .db
            .fetch_optional(&sql, args![provider, subject])
            .await?
        else {
            return Ok(None);
        };
        let user = user_from(&row)?;
        let _turn = self.write_turn().await;
        self.db
            .execute(
                "UPDATE sso_identities SET last_used_at = $1 WHERE provider = $2 AND subject = $3",
                args![now, provider, subject],
            )
            .await?;
        Ok(Some(user))
    }

    async fn link_sso_identity(
        &self,
        identity: &SsoIdentity,
        new_user: Option<&User>,
        join: Option<(&OrgId, Role)>,
        audit: &NewAuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let taken = tx
            .fetch_optional(
                "SELECT user_id FROM sso_identities WHERE provider = $1 AND subject = $2",
                args![&identity.provider, &identity.subject],
            )
            .await?;
        if taken.is_some() {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(user) = new_user {
            insert_user_row(&mut tx, user).await?;
        }
        tx.execute(
            "INSERT INTO sso_identities (provider, subject, user_id, email, created_at, \
             last_used_at) VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                &identity.provider,
                &identity.subject,
                &identity.user_id,
                &identity.email,
                identity.created_at,
                identity.last_used_at,
            ],
        )
        .await?;
        if let Some((org_id, role)) = join {
            insert_member_row(&mut tx, org_id, &identity.user_id, role, audit.at).await?;
        }
        tx.commit_with(audit).await?;
        Ok(true)
    }

    async fn sso_identities(&self, user_id: &UserId) -> Result<Vec<SsoIdentity>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT provider, subject, user_id, email, created_at, last_used_at \
                 FROM sso_identities WHERE user_id = $1 ORDER BY created_at, provider",
                args![user_id],
            )
            .await?;
        rows.iter().map(identity_from).collect()
    }

    async fn unlink_sso_identity(
        &self,
        user_id: &UserId,
        provider: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = tx
            .execute(
                "DELETE FROM sso_identities WHERE user_id = $1 AND provider = $2",
                args![user_id, provider],
            )
            .await?;
        if done == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit_with(audit).await?;
        Ok(true)
    }
}
