//! The SQL both backends run: one text for SQLite and PostgreSQL (the schemas
//! use only TEXT and 64-bit integer columns and `$n` placeholders), written
//! once against the small database seam of [`db`]. A backend supplies its
//! pool (through [`db::sqlx_db!`]) and its change signalling (`C`).
//!
//! - `accounts`, `tokens`, `devices`, `records`: the [`crate::store::Store`]
//!   areas, each an `impl` for [`SqlStore`].
//! - here: the store itself, the write transaction ([`WriteTx`]: a write
//!   turn, commit, then the change announcement), group commit, row mappers
//!   and the statements several areas share.
//!
//! SQLite rule kept throughout: a write transaction starts with a write, so it
//! takes the write lock at once (and waits on `busy_timeout`) instead of failing
//! when upgrading a read snapshot.

mod accounts;
pub(crate) mod db;
mod devices;
mod invitations;
mod limits;
mod passkeys;
mod records;
mod resets;
mod sso;
mod tokens;

use crate::model::*;
use crate::store::{MembershipChange, Result, Revocation, StoreError};
use db::{Arg, Db, DbTx, Row, args};
use std::path::Path;
use std::sync::Arc;

pub(crate) use devices::Pending;

/// A store over a SQL database (`db`) and a backend's change signalling.
pub struct SqlStore<C> {
    pub(crate) db: Arc<dyn Db>,
    /// One writer at a time (SQLite; see [`SqlStore::write_turn`]), or none.
    pub(crate) writes: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Writes waiting for a group commit (see [`SqlStore::group_commit`]).
    pub(crate) group_queue: std::sync::Mutex<Vec<Pending>>,
    /// SQLite: the file to announce a committed counter bump in.
    pub(crate) announce: Option<Arc<Path>>,
    pub(crate) changes: C,
    pub(crate) backend: &'static str,
}

/// Columns of a token row joined with its user's email and org's slug.
pub(crate) const TOKEN_SELECT: &str = "SELECT t.id, t.hash, t.hint, t.name, t.kind, t.user_id, \
     u.email AS user_email, t.org_id, o.slug AS org_slug, t.scopes, t.created_at, t.expires_at, \
     t.last_used_at, t.last_used_ip, t.last_used_agent, t.revoked_at, t.revoked_by, t.revoked_reason \
     FROM tokens t JOIN orgs o ON o.id = t.org_id LEFT JOIN users u ON u.id = t.user_id ";

pub(crate) const DEVICE_SELECT: &str = "SELECT id, client_id, device_name, org_hint, requester_ip, \
     user_agent, status, interval_secs, last_poll_at, created_at, expires_at, approved_by, org_id, \
     scopes, token_days, token_id, decided_at FROM device_authorizations ";

pub(crate) const USER_SELECT: &str =
    "SELECT id, email, name, password_hash, disabled_at, created_at FROM users ";

fn parse<T: std::str::FromStr<Err = String>>(text: String) -> Result<T> {
    text.parse().map_err(StoreError::Corrupt)
}

fn scopes_of(text: Option<String>) -> Result<Vec<Scope>> {
    parse_scopes(text.as_deref().unwrap_or("")).map_err(StoreError::Corrupt)
}

pub(crate) fn user_from(row: &Row) -> Result<User> {
    Ok(User {
        id: row.text("id")?.into(),
        email: row.text("email")?,
        name: row.text("name")?,
        password_hash: row.opt_text("password_hash")?,
        disabled_at: row.opt_int("disabled_at")?,
        created_at: row.int("created_at")?,
    })
}

pub(crate) fn org_from(row: &Row) -> Result<Org> {
    Ok(Org {
        id: row.text("id")?.into(),
        slug: row.text("slug")?,
        name: row.text("name")?,
        created_at: row.int("created_at")?,
    })
}

pub(crate) fn token_from(row: &Row) -> Result<Token> {
    Ok(Token {
        id: row.text("id")?.into(),
        hash: row.text("hash")?,
        hint: row.text("hint")?,
        name: row.text("name")?,
        kind: parse(row.text("kind")?)?,
        user_id: row.opt_text("user_id")?.map(Into::into),
        user_email: row.opt_text("user_email")?,
        org_id: row.text("org_id")?.into(),
        org_slug: row.text("org_slug")?,
        scopes: scopes_of(row.opt_text("scopes")?)?,
        created_at: row.int("created_at")?,
        expires_at: row.opt_int("expires_at")?,
        last_used_at: row.opt_int("last_used_at")?,
        last_used_ip: row.opt_text("last_used_ip")?,
        last_used_agent: row.opt_text("last_used_agent")?,
        revoked_at: row.opt_int("revoked_at")?,
        revoked_by: row.opt_text("revoked_by")?,
        revoked_reason: row.opt_text("revoked_reason")?,
    })
}

pub(crate) fn device_from(row: &Row) -> Result<DeviceAuthorization> {
    Ok(DeviceAuthorization {
        id: row.text("id")?,
        client_id: row.text("client_id")?,
        device_name: row.opt_text("device_name")?,
        org_hint: row.opt_text("org_hint")?,
        requester_ip: row.opt_text("requester_ip")?,
        user_agent: row.opt_text("user_agent")?,
        status: parse(row.text("status")?)?,
        interval_secs: row.int("interval_secs")?,
        last_poll_at: row.opt_int("last_poll_at")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        approved_by: row.opt_text("approved_by")?.map(Into::into),
        org_id: row.opt_text("org_id")?.map(Into::into),
        scopes: scopes_of(row.opt_text("scopes")?)?,
        token_days: row.opt_int("token_days")?,
        decided_at: row.opt_int("decided_at")?,
        token_id: row.opt_text("token_id")?.map(Into::into),
    })
}

pub(crate) fn audit_from(row: &Row) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: row.int("id")?,
        at: row.int("at")?,
        actor_kind: row.text("actor_kind")?,
        actor_id: row.opt_text("actor_id")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        target: row.opt_text("target")?,
        org_id: row.opt_text("org_id")?,
        ip: row.opt_text("ip")?,
        user_agent: row.opt_text("user_agent")?,
        request_id: row.opt_text("request_id")?,
        detail: row.opt_text("detail")?,
    })
}

/// A unique-constraint failure as the conflict it means; other errors as they are.
pub(crate) fn unique_violation(err: sqlx::Error, what: &str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(what.to_string())
        }
        _ => StoreError::Database(err),
    }
}

/// `VALUES ($1, …), (…)` for `rows` rows of `width` values, numbering the
/// placeholders from `$first`.
pub(crate) fn values_list(rows: usize, width: usize, first: usize) -> String {
    values_list_with(rows, width, first, "")
}

/// The same with `tail` (e.g. `, 'pending'`) ending each row.
pub(crate) fn values_list_with(rows: usize, width: usize, first: usize, tail: &str) -> String {
    let mut out = String::from("VALUES ");
    let mut n = first;
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for col in 0..width {
            if col > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${n}"));
            n += 1;
        }
        out.push_str(tail);
        out.push(')');
    }
    out
}

const AUDIT_COLUMNS: &str = "INSERT INTO audit_events (at, actor_kind, actor_id, actor, action, \
     target, org_id, ip, user_agent, request_id, detail) ";

/// The audit rows for `events`, one statement for all of them.
pub(crate) async fn insert_audit_rows(tx: &mut WriteTx, events: &[&NewAuditEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let labels: Vec<String> = events.iter().map(|e| e.actor.label()).collect();
    let sql = format!("{AUDIT_COLUMNS}{}", values_list(events.len(), 11, 1));
    let mut args: Vec<Arg<'_>> = Vec::with_capacity(events.len() * 11);
    for (e, label) in events.iter().zip(&labels) {
        args.extend_from_slice(args![
            e.at,
            e.actor.kind(),
            e.actor.id(),
            label,
            e.action.as_str(),
            &e.target,
            &e.org_id,
            &e.meta.ip,
            &e.meta.user_agent,
            &e.meta.request_id,
            &e.detail,
        ]);
    }
    tx.execute(&sql, &args).await?;
    Ok(())
}

pub(crate) async fn insert_audit(tx: &mut WriteTx, e: &NewAuditEvent) -> Result<()> {
    insert_audit_rows(tx, &[e]).await
}

pub(crate) async fn insert_token_row(tx: &mut WriteTx, t: &NewToken) -> Result<()> {
    let scopes = scopes_to_text(&t.scopes);
    tx.execute(
        "INSERT INTO tokens (id, hash, hint, name, kind, user_id, org_id, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        args![
            &t.id,
            &t.hash,
            &t.hint,
            &t.name,
            t.kind.as_str(),
            &t.user_id,
            &t.org_id,
            &scopes,
            t.created_at,
            t.expires_at,
        ],
    )
    .await
    .map_err(|e| unique_violation(e, "token already exists"))?;
    Ok(())
}

pub(crate) async fn insert_user_row(tx: &mut WriteTx, u: &User) -> Result<()> {
    let email_norm = u.email.to_lowercase();
    tx.execute(
        "INSERT INTO users (id, email, email_norm, name, password_hash, disabled_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            &u.id,
            &u.email,
            &email_norm,
            &u.name,
            &u.password_hash,
            u.disabled_at,
            u.created_at,
        ],
    )
    .await
    .map_err(|e| unique_violation(e, "a user with this email already exists"))?;
    Ok(())
}

pub(crate) async fn insert_org_row(tx: &mut WriteTx, o: &Org) -> Result<()> {
    tx.execute(
        "INSERT INTO orgs (id, slug, name, created_at) VALUES ($1, $2, $3, $4)",
        args![&o.id, &o.slug, &o.name, o.created_at],
    )
    .await
    .map_err(|e| unique_violation(e, "an organization with this slug already exists"))?;
    Ok(())
}

pub(crate) async fn insert_member_row(
    tx: &mut WriteTx,
    org_id: &OrgId,
    user_id: &UserId,
    role: Role,
    at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        args![org_id, user_id, role.as_str(), at],
    )
    .await
    .map_err(|e| unique_violation(e, "already a member of this organization"))?;
    Ok(())
}

/// Revokes active tokens of a user (in one org or all), service tokens excepted.
pub(crate) async fn revoke_user_rows(
    tx: &mut WriteTx,
    user_id: &UserId,
    org_id: Option<&OrgId>,
    rev: &Revocation,
) -> Result<u64> {
    let done = tx
        .execute(
            "UPDATE tokens SET revoked_at = $1, revoked_by = $2, revoked_reason = $3 \
             WHERE user_id = $4 AND ($5 IS NULL OR org_id = $5) AND revoked_at IS NULL",
            args![rev.at, &rev.by, &rev.reason, user_id, org_id],
        )
        .await?;
    tx.bump_generation().await?;
    Ok(done)
}

/// A write transaction that holds this process's write turn (SQLite) until
/// it commits, rolls back or is dropped.
pub(crate) struct WriteTx {
    tx: Box<dyn DbTx>,
    /// SQLite: the file to announce a committed counter bump in.
    announce: Option<Arc<Path>>,
    /// Whether this transaction bumped the generation counter.
    bumped: bool,
    // Declared last: released after the transaction has ended.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// A transaction for a writer that already holds the write turn (a group commit).
    pub(crate) async fn holding_turn(db: &dyn Db) -> Result<WriteTx> {
        Ok(WriteTx {
            tx: db.begin().await?,
            announce: None,
            bumped: false,
            _turn: None,
        })
    }

    pub(crate) async fn execute(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<u64, sqlx::Error> {
        self.tx.execute(sql, args).await
    }

    pub(crate) async fn fetch_optional(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, sqlx::Error> {
        self.tx.fetch_optional(sql, args).await
    }

    /// Marks cached validations stale for every server on this database.
    pub(crate) async fn bump_generation(&mut self) -> Result<()> {
        self.execute("UPDATE generation SET value = value + 1 WHERE id = 1", &[])
            .await?;
        self.bumped = true;
        Ok(())
    }

    /// Commits, then (SQLite) tells other devauth processes on this file
    /// about a counter bump.
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        if self.bumped
            && let Some(path) = &self.announce
        {
            // The change is saved: this process goes on to apply it (its
            // cache first); other processes on the file apply it when their
            // cached validations reach their maximum age.
            if let Err(err) = crate::store::change_signal::announce(path) {
                tracing::error!(
                    signal = %path.display(),
                    error = %err,
                    "a change was saved, but other devauth processes on this database could not \
                     be told; they apply it within DEVAUTH_CACHE_MAX_AGE_SECS"
                );
            }
        }
        Ok(())
    }

    /// Records `audit` with the change, then commits both.
    pub(crate) async fn commit_with(mut self, audit: &NewAuditEvent) -> Result<()> {
        insert_audit(&mut self, audit).await?;
        self.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<()> {
        Ok(self.tx.rollback().await?)
    }
}

impl<C> SqlStore<C> {
    /// Waits for this process's turn to write, where the backend has one
    /// writer at a time (SQLite): writers queue here, in order, instead of
    /// colliding on the file lock and sleeping in SQLite's busy handler.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.writes {
            Some(turns) => Some(turns.clone().lock_owned().await),
            None => None,
        }
    }

    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        let turn = self.write_turn().await;
        Ok(WriteTx {
            tx: self.db.begin().await?,
            announce: self.announce.clone(),
            bumped: false,
            _turn: turn,
        })
    }

    /// Inside a membership change: takes the org's row lock (so changes to
    /// one org's memberships run one at a time, on PostgreSQL as on SQLite),
    /// then checks that the member still has the role the caller decided on
    /// and, when `leaves_owners` and that role is owner, that another owner
    /// stays. `Some` is the reason to change nothing.
    pub(crate) async fn guard_membership(
        tx: &mut WriteTx,
        org_id: &OrgId,
        user_id: &UserId,
        expected: Role,
        leaves_owners: bool,
    ) -> Result<Option<MembershipChange>> {
        tx.execute("UPDATE orgs SET name = name WHERE id = $1", args![org_id])
            .await?;
        let row = tx
            .fetch_optional(
                "SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2",
                args![org_id, user_id],
            )
            .await?;
        let Some(role) = row.map(|r| r.text("role")).transpose()? else {
            return Ok(Some(MembershipChange::NotMember));
        };
        let role: Role = parse(role)?;
        if role != expected {
            return Ok(Some(MembershipChange::Changed(role)));
        }
        if role == Role::Owner && leaves_owners {
            let owners = tx
                .fetch_optional(
                    "SELECT COUNT(*) AS n FROM memberships WHERE org_id = $1 AND role = 'owner'",
                    args![org_id],
                )
                .await?
                .map(|r| r.int("n"))
                .transpose()?
                .unwrap_or(0);
            if owners <= 1 {
                return Ok(Some(MembershipChange::LastOwner));
            }
        }
        Ok(None)
    }
}
