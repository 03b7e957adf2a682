//! The audit log, browser sessions, the setup claim, and the store as a
//! whole (its backend name, a ping, the test dump).

use super::db::{Cell, args};
use super::{
    SqlStore, audit_from, insert_audit, insert_member_row, insert_org_row, insert_token_row,
    insert_user_row, user_from,
};
use crate::model::*;
use crate::store::{
    Audit, Changes, NewSession, Result, Sessions, Setup, SetupClaim, Store, StoreError,
};
use async_trait::async_trait;

const DUMP_TABLES: &[&str] = &[
    "users",
    "orgs",
    "memberships",
    "tokens",
    "token_ips",
    "device_authorizations",
    "audit_events",
    "setup_state",
    "sessions",
    "rate_limits",
    "org_policies",
    "invitations",
    "password_resets",
    "sso_identities",
    "sso_attempts",
    "passkeys",
    "passkey_ceremonies",
];

#[async_trait]
impl<C: Send + Sync + 'static> Store for SqlStore<C>
where
    SqlStore<C>: Changes,
{
    fn backend(&self) -> &'static str {
        self.backend
    }

    async fn ping(&self) -> Result<()> {
        self.db.execute("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn dump_for_tests(&self) -> Result<String> {
        let mut out = String::new();
        for table in DUMP_TABLES {
            let sql = format!("SELECT * FROM {table}");
            for row in self.db.fetch_all(&sql, &[]).await? {
                out.push_str(table);
                for (name, cell) in &row.0 {
                    let value = match cell {
                        Cell::Null => String::new(),
                        Cell::Int(n) => n.to_string(),
                        Cell::Text(t) => t.clone(),
                    };
                    out.push_str(&format!(" {name}={value}"));
                }
                out.push('\n');
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl<C: Send + Sync + 'static> Audit for SqlStore<C> {
    async fn append_audit(&self, event: &NewAuditEvent) -> Result<()> {
        let tx = self.begin_write().await?;
        tx.commit_with(event).await
    }

    async fn list_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
        // The page before (`after`) is read oldest first from its cursor,
        // then turned round: newest first, as every page.
        let (cursor, order) = match q.after {
            Some(_) => ("id > $6", "ASC"),
            None => ("($6 IS NULL OR id < $6)", "DESC"),
        };
        let sql = format!(
            "SELECT id, at, actor_kind, actor_id, actor, action, target, org_id, ip, user_agent, \
             request_id, detail FROM audit_events \
             WHERE ($1 IS NULL OR org_id = $1) AND ($2 IS NULL OR action = $2) \
             AND ($3 IS NULL OR actor = $3 OR actor_id = $3) AND ($4 IS NULL OR at >= $4) \
             AND ($5 IS NULL OR at <= $5) AND {cursor} \
             ORDER BY id {order} LIMIT $7"
        );
        let rows = self
            .db
            .fetch_all(
                &sql,
                args![
                    &q.org_id,
                    &q.action,
                    &q.actor,
                    q.since,
                    q.until,
                    q.after.or(q.before),
                    q.limit,
                ],
            )
            .await?;
        let mut events = rows.iter().map(audit_from).collect::<Result<Vec<_>>>()?;
        if q.after.is_some() {
            events.reverse();
        }
        Ok(events)
    }
}

#[async_trait]
impl<C: Send + Sync + 'static> Sessions for SqlStore<C> {
    async fn create_session(&self, session: &NewSession) -> Result<()> {
        let _turn = self.write_turn().await;
        self.db
            .execute(
                "INSERT INTO sessions (id_hash, user_id, created_at, expires_at, ip, user_agent, \
                 method) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args![
                    &session.id_hash,
                    &session.user_id,
                    session.created_at,
                    session.expires_at,
                    &session.ip,
                    &session.user_agent,
                    session.method.as_str(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn session_user(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<(User, i64, SignInMethod)>> {
        let row = self
            .db
            .fetch_optional(
                "SELECT u.id, u.email, u.name, u.password_hash, u.disabled_at, u.created_at, \
                 s.created_at AS signed_in_at, s.method \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 \
                 AND u.disabled_at IS NULL",
                args![id_hash, now],
            )
            .await?;
        row.as_ref()
            .map(|r| {
                let method = r.text("method")?.parse().map_err(StoreError::Corrupt)?;
                Ok((user_from(r)?, r.int("signed_in_at")?, method))
            })
            .transpose()
    }

    async fn end_session(&self, id_hash: &str, now: i64) -> Result<()> {
        let _turn = self.write_turn().await;
        self.db
            .execute(
                "UPDATE sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at IS NULL",
                args![now, id_hash],
            )
            .await?;
        Ok(())
    }

    async fn end_user_sessions(&self, user_id: &UserId, now: i64) -> Result<u64> {
        let _turn = self.write_turn().await;
        let done = self
            .db
            .execute(
                "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL",
                args![now, user_id],
            )
            .await?;
        Ok(done)
    }

    async fn keep_flash(&self, id_hash: &str, sealed: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        self.db
            .execute(
                "UPDATE sessions SET flash = $1 WHERE id_hash = $2",
                args![sealed, id_hash],
            )
            .await?;
        Ok(())
    }

    async fn take_flash(&self, id_hash: &str) -> Result<Option<String>> {
        let _turn = self.write_turn().await;
        let row = self
            .db
            .fetch_optional(
                "SELECT flash FROM sessions WHERE id_hash = $1 AND flash IS NOT NULL",
                args![id_hash],
            )
            .await?;
        let Some(sealed) = row.as_ref().map(|r| r.text("flash")).transpose()? else {
            return Ok(None);
        };
        // Taken only if it is still there: of two views at once, one gets it.
        let taken = self
            .db
            .execute(
                "UPDATE sessions SET flash = NULL WHERE id_hash = $1 AND flash = $2",
                args![id_hash, &sealed],
            )
            .await?;
        Ok((taken == 1).then_some(sealed))
    }
}

#[async_trait]
impl<C: Send + Sync + 'static> Setup for SqlStore<C> {
    async fn setup_claimed(&self) -> Result<bool> {
        let row = self
            .db
            .fetch_optional("SELECT claimed_at FROM setup_state WHERE id = 1", &[])
            .await?;
        Ok(row
            .map(|r| r.opt_int("claimed_at"))
            .transpose()?
            .flatten()
            .is_some())
    }

    async fn server_key(&self, name: &str, fresh: &str, now: i64) -> Result<String> {
        {
            let _turn = self.write_turn().await;
            self.db
                .execute(
                    "INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                    args![name, fresh, now],
                )
                .await?;
        }
        let row = self
            .db
            .fetch_optional("SELECT value FROM server_keys WHERE name = $1", args![name])
            .await?;
        row.map(|r| r.text("value")).transpose()?.ok_or_else(|| {
            crate::store::StoreError::Internal(format!("server key {name} is missing"))
        })
    }

    async fn claim_setup(&self, claim: &SetupClaim, audit: &[NewAuditEvent]) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = tx
            .execute(
                "UPDATE setup_state SET claimed_at = $1, claimed_by = $2 \
                 WHERE id = 1 AND claimed_at IS NULL",
                args![claim.user.created_at, &claim.user.id],
            )
            .await?;
        if done == 0 {
            return Ok(false);
        }
        insert_user_row(&mut tx, &claim.user).await?;
        insert_org_row(&mut tx, &claim.org).await?;
        let owner = Role::Owner;
        insert_member_row(
            &mut tx,
            &claim.org.id,
            &claim.user.id,
            owner,
            claim.user.created_at,
        )
        .await?;
        insert_token_row(&mut tx, &claim.token).await?;
        for event in audit {
            insert_audit(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
