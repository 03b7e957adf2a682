//! Users, organizations and memberships. A membership change first checks,
//! in its own transaction, that it leaves the org an owner.

use super::db::args;
use super::{
    SqlStore, USER_SELECT, insert_member_row, insert_org_row, insert_user_row, org_from, parse,
    revoke_user_rows, user_from,
};
use crate::device_policy::{DevicePolicy, PolicyMode};
use crate::model::*;
use crate::store::{Accounts, MembershipChange, Result, Revocation, StoreError};
use async_trait::async_trait;

#[async_trait]
impl<C: Send + Sync + 'static> Accounts for SqlStore<C> {
    async fn create_user(&self, user: &User, audit: &NewAuditEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_user_row(&mut tx, user).await?;
        tx.commit_with(audit).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("{USER_SELECT}WHERE email_norm = $1");
        let norm = email.trim().to_lowercase();
        let row = self.db.fetch_optional(&sql, args![&norm]).await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("{USER_SELECT}WHERE id = $1");
        let row = self.db.fetch_optional(&sql, args![id]).await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("{USER_SELECT}ORDER BY email_norm");
        let rows = self.db.fetch_all(&sql, &[]).await?;
        rows.iter().map(user_from).collect()
    }

    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &str,
        keep_session: Option<&str>,
        audit: &NewAuditEvent,
    ) -> Result<Option<u64>> {
        let mut tx = self.begin_write().await?;
        let done = tx
            .execute(
                "UPDATE users SET password_hash = $1 WHERE id = $2 AND disabled_at IS NULL",
                args![password_hash, user_id],
            )
            .await?;
        if done == 0 {
            return Ok(None);
        }
        let ended = tx
            .execute(
                "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL \
                 AND ($3 IS NULL OR id_hash <> $3)",
                args![audit.at, user_id, keep_session],
            )
            .await?;
        tx.commit_with(audit).await?;
        Ok(Some(ended))
    }

    async fn disable_user(
        &self,
        user_id: &UserId,
        rev: &Revocation,
        audit: &NewAuditEvent,
    ) -> Result<Option<u64>> {
        let mut tx = self.begin_write().await?;
        let done = tx
            .execute(
                "UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL",
                args![rev.at, user_id],
            )
            .await?;
        if done == 0 {
            return Ok(None);
        }
        let revoked = revoke_user_rows(&mut tx, user_id, None, rev).await?;
        tx.execute(
            "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL",
            args![rev.at, user_id],
        )
        .await?;
        let audit = audit.clone().detail(crate::store::revoked_words(revoked));
        tx.commit_with(&audit).await?;
        Ok(Some(revoked))
    }

    async fn create_org(&self, org: &Org, audit: &NewAuditEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_org_row(&mut tx, org).await?;
        tx.commit_with(audit).await
    }

    async fn org_by_slug(&self, slug: &str) -> Result<Option<Org>> {
        let row = self
            .db
            .fetch_optional(
                "SELECT id, slug, name, created_at FROM orgs WHERE slug = $1",
                args![slug],
            )
            .await?;
        row.as_ref().map(org_from).transpose()
    }

    async fn org_by_id(&self, id: &str) -> Result<Option<Org>> {
        let row = self
            .db
            .fetch_optional(
                "SELECT id, slug, name, created_at FROM orgs WHERE id = $1",
                args![id],
            )
            .await?;
        row.as_ref().map(org_from).transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<Org>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT id, slug, name, created_at FROM orgs ORDER BY slug",
                &[],
            )
            .await?;
        rows.iter().map(org_from).collect()
    }

    async fn orgs_of_user(&self, user_id: &UserId) -> Result<Vec<(Org, Role)>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT o.id, o.slug, o.name, o.created_at, m.role FROM memberships m \
                 JOIN orgs o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY o.slug",
                args![user_id],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((org_from(row)?, parse(row.text("role")?)?)))
            .collect()
    }

    async fn add_member(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        role: Role,
        now: i64,
        audit: &NewAuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_member_row(&mut tx, org_id, user_id, role, now).await?;
        tx.commit_with(audit).await
    }

    async fn role_of(&self, org_id: &OrgId, user_id: &UserId) -> Result<Option<Role>> {
        let row = self
            .db
            .fetch_optional(
                "SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2",
                args![org_id, user_id],
            )
            .await?;
        row.map(|r| r.text("role").and_then(parse)).transpose()
    }

    async fn set_role(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        from: Role,
        to: Role,
        audit: &NewAuditEvent,
    ) -> Result<MembershipChange> {
        let mut tx = self.begin_write().await?;
        let leaves_owners = to != Role::Owner;
        if let Some(refused) =
            Self::guard_membership(&mut tx, org_id, user_id, from, leaves_owners).await?
        {
            return Ok(refused);
        }
        tx.execute(
            "UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3",
            args![to.as_str(), org_id, user_id],
        )
        .await?;
        tx.bump_generation().await?;
        tx.commit_with(audit).await?;
        Ok(MembershipChange::Done { revoked: 0 })
    }

    async fn remove_member(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        expected: Role,
        rev: &Revocation,
        audit: &NewAuditEvent,
    ) -> Result<MembershipChange> {
        let mut tx = self.begin_write().await?;
        if let Some(refused) =
            Self::guard_membership(&mut tx, org_id, user_id, expected, true).await?
        {
            return Ok(refused);
        }
        tx.execute(
            "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2",
            args![org_id, user_id],
        )
        .await?;
        let revoked = revoke_user_rows(&mut tx, user_id, Some(org_id), rev).await?;
        let audit = audit.clone().detail(crate::store::revoked_words(revoked));
        tx.commit_with(&audit).await?;
        Ok(MembershipChange::Done { revoked })
    }

    async fn list_members(&self, org_id: &OrgId) -> Result<Vec<Member>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT u.id, u.email, u.name, u.password_hash, u.disabled_at, u.created_at, \
                 m.role, m.created_at AS joined_at FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.org_id = $1 ORDER BY u.email_norm",
                args![org_id],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Member {
                    user: user_from(row)?,
                    role: parse(row.text("role")?)?,
                    joined_at: row.int("joined_at")?,
                })
            })
            .collect()
    }

    async fn org_policy(&self, org_id: &OrgId) -> Result<DevicePolicy> {
        let row = self
            .db
            .fetch_optional(
                "SELECT device_flow, device_networks, device_token_days, mode, sign_in \
                 FROM org_policies WHERE org_id = $1",
                args![org_id],
            )
            .await?;
        let Some(row) = row else {
            return Ok(DevicePolicy::default());
        };
        let networks = row.text("device_networks")?;
        Ok(DevicePolicy {
            device_flow: row.text("device_flow")? == "on",
            device_networks: DevicePolicy::parse_networks(networks.split(','))
                .map_err(StoreError::Corrupt)?,
            device_token_days: row.opt_int("device_token_days")?,
            mode: PolicyMode::parse(&row.text("mode")?).map_err(StoreError::Corrupt)?,
            sign_in: DevicePolicy::parse_sign_in(
                row.opt_text("sign_in")?.as_deref().unwrap_or("").split(','),
            )
            .map_err(StoreError::Corrupt)?,
        })
    }

    async fn set_org_policy(
        &self,
        org_id: &OrgId,
        policy: &DevicePolicy,
        now: i64,
        audit: &NewAuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let networks: Vec<String> = policy
            .device_networks
            .iter()
            .map(ToString::to_string)
            .collect();
        let sign_in = (!policy.sign_in.is_empty()).then(|| {
            policy
                .sign_in
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(",")
        });
        tx.execute(
            "INSERT INTO org_policies (org_id, device_flow, device_networks, device_token_days, \
             mode, updated_at, sign_in) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (org_id) DO UPDATE SET device_flow = excluded.device_flow, \
             device_networks = excluded.device_networks, \
             device_token_days = excluded.device_token_days, mode = excluded.mode, \
             updated_at = excluded.updated_at, sign_in = excluded.sign_in",
            args![
                org_id,
                if policy.device_flow { "on" } else { "off" },
                &networks.join(","),
                policy.device_token_days,
                policy.mode.as_str(),
                now,
                &sign_in,
            ],
        )
        .await?;
        tx.commit_with(audit).await
    }
}
