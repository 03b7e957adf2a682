//! The SQL shared by both backends. Both schemas use only TEXT and 64-bit
//! integer columns and `$n` placeholders, so one body of code, stamped out by
//! [`sql_store!`] for each sqlx driver, serves SQLite and PostgreSQL alike.
//!
//! SQLite rule kept throughout: a write transaction starts with a write, so it
//! takes the write lock at once (and waits on `busy_timeout`) instead of failing
//! when upgrading a read snapshot.

/// Columns of a token row joined with its user's email and org's slug.
macro_rules! token_select {
    () => {
        "SELECT t.id, t.hash, t.hint, t.name, t.kind, t.user_id, u.email AS user_email, \
         t.org_id, o.slug AS org_slug, t.scopes, t.created_at, t.expires_at, t.last_used_at, \
         t.last_used_ip, t.revoked_at, t.revoked_by, t.revoked_reason \
         FROM tokens t JOIN orgs o ON o.id = t.org_id LEFT JOIN users u ON u.id = t.user_id "
    };
}

macro_rules! device_select {
    () => {
        "SELECT id, client_id, device_name, requester_ip, user_agent, status, interval_secs, \
         last_poll_at, created_at, expires_at, approved_by, org_id, scopes, token_id \
         FROM device_authorizations "
    };
}

macro_rules! user_select {
    () => {
        "SELECT id, email, name, password_hash, disabled_at, created_at FROM users "
    };
}

pub(crate) use {device_select, token_select, user_select};

/// Implements [`crate::store::Store`] for `$store` over the sqlx driver `$db`
/// whose rows are `$row`. `$store` has the fields `pool`, `writes:
/// Option<Arc<tokio::sync::Mutex<()>>>` (see `write_turn`) and `group_queue:
/// std::sync::Mutex<Vec<Pending>>` (see `group_commit`).
macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty, $backend:literal, { $($extra:item)* }) => {
        use crate::model::*;
        use crate::store::sql::{device_select, token_select, user_select};
        use crate::store::{DeviceDecision, MembershipChange, NewSession, Redemption, Result, Revocation, SetupClaim, Store, StoreError};
        use async_trait::async_trait;
        use sqlx::Row;

        type Conn = <$db as sqlx::Database>::Connection;

        fn parse<T: std::str::FromStr<Err = String>>(text: String) -> Result<T> {
            text.parse().map_err(StoreError::Corrupt)
        }

        fn user_from(row: &$row) -> Result<User> {
            Ok(User {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                name: row.try_get("name")?,
                password_hash: row.try_get("password_hash")?,
                disabled_at: row.try_get("disabled_at")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn org_from(row: &$row) -> Result<Org> {
            Ok(Org {
                id: row.try_get("id")?,
                slug: row.try_get("slug")?,
                name: row.try_get("name")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn token_from(row: &$row) -> Result<Token> {
            let scopes: Option<String> = row.try_get("scopes")?;
            Ok(Token {
                id: row.try_get("id")?,
                hash: row.try_get("hash")?,
                hint: row.try_get("hint")?,
                name: row.try_get("name")?,
                kind: parse(row.try_get("kind")?)?,
                user_id: row.try_get("user_id")?,
                user_email: row.try_get("user_email")?,
                org_id: row.try_get("org_id")?,
                org_slug: row.try_get("org_slug")?,
                scopes: parse_scopes(scopes.as_deref().unwrap_or("")).map_err(StoreError::Corrupt)?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                last_used_at: row.try_get("last_used_at")?,
                last_used_ip: row.try_get("last_used_ip")?,
                revoked_at: row.try_get("revoked_at")?,
                revoked_by: row.try_get("revoked_by")?,
                revoked_reason: row.try_get("revoked_reason")?,
            })
        }

        fn device_from(row: &$row) -> Result<DeviceAuthorization> {
            Ok(DeviceAuthorization {
                id: row.try_get("id")?,
                client_id: row.try_get("client_id")?,
                device_name: row.try_get("device_name")?,
                requester_ip: row.try_get("requester_ip")?,
                user_agent: row.try_get("user_agent")?,
                status: parse(row.try_get("status")?)?,
                interval_secs: row.try_get("interval_secs")?,
                last_poll_at: row.try_get("last_poll_at")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                approved_by: row.try_get("approved_by")?,
                org_id: row.try_get("org_id")?,
                scopes: parse_scopes(row.try_get::<Option<String>, _>("scopes")?.as_deref().unwrap_or(""))
                    .map_err(StoreError::Corrupt)?,
                token_id: row.try_get("token_id")?,
            })
        }

        fn audit_from(row: &$row) -> Result<AuditEvent> {
            Ok(AuditEvent {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                actor_kind: row.try_get("actor_kind")?,
                actor_id: row.try_get("actor_id")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                org_id: row.try_get("org_id")?,
                ip: row.try_get("ip")?,
                user_agent: row.try_get("user_agent")?,
                request_id: row.try_get("request_id")?,
                detail: row.try_get("detail")?,
            })
        }

        fn unique_violation(err: sqlx::Error, what: &str) -> StoreError {
            match &err {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StoreError::Conflict(what.to_string())
                }
                _ => StoreError::Database(err),
            }
        }

        /// `INSERT INTO audit_events … VALUES (…), (…)` for `events` (one or many).
        fn audit_rows<'a>(events: impl IntoIterator<Item = &'a NewAuditEvent>) -> sqlx::QueryBuilder<'a, $db> {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO audit_events (at, actor_kind, actor_id, actor, action, target, org_id, \
                 ip, user_agent, request_id, detail) ",
            );
            query.push_values(events, |mut row, e| {
                row.push_bind(e.at)
                    .push_bind(e.actor.kind())
                    .push_bind(e.actor.id())
                    .push_bind(e.actor.label())
                    .push_bind(e.action)
                    .push_bind(&e.target)
                    .push_bind(&e.org_id)
                    .push_bind(&e.meta.ip)
                    .push_bind(&e.meta.user_agent)
                    .push_bind(&e.meta.request_id)
                    .push_bind(&e.detail);
            });
            query
        }

        async fn insert_audit(conn: &mut Conn, e: &NewAuditEvent) -> Result<()> {
            audit_rows([e]).build().execute(&mut *conn).await?;
            Ok(())
        }

        async fn insert_token_row(conn: &mut Conn, t: &NewToken) -> Result<()> {
            sqlx::query(
                "INSERT INTO tokens (id, hash, hint, name, kind, user_id, org_id, scopes, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&t.id)
            .bind(&t.hash)
            .bind(&t.hint)
            .bind(&t.name)
            .bind(t.kind.as_str())
            .bind(&t.user_id)
            .bind(&t.org_id)
            .bind(scopes_to_text(&t.scopes))
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(&mut *conn)
            .await
            .map_err(|e| unique_violation(e, "token already exists"))?;
            Ok(())
        }

        async fn insert_user_row(conn: &mut Conn, u: &User) -> Result<()> {
            sqlx::query(
                "INSERT INTO users (id, email, email_norm, name, password_hash, disabled_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&u.id)
            .bind(&u.email)
            .bind(u.email.to_lowercase())
            .bind(&u.name)
            .bind(&u.password_hash)
            .bind(u.disabled_at)
            .bind(u.created_at)
            .execute(&mut *conn)
            .await
            .map_err(|e| unique_violation(e, "a user with this email already exists"))?;
            Ok(())
        }

        async fn insert_org_row(conn: &mut Conn, o: &Org) -> Result<()> {
            sqlx::query("INSERT INTO orgs (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&o.id)
                .bind(&o.slug)
                .bind(&o.name)
                .bind(o.created_at)
                .execute(&mut *conn)
                .await
                .map_err(|e| unique_violation(e, "an organization with this slug already exists"))?;
            Ok(())
        }

        async fn insert_member_row(conn: &mut Conn, org_id: &str, user_id: &str, role: Role, at: i64) -> Result<()> {
            sqlx::query("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
                .bind(org_id)
                .bind(user_id)
                .bind(role.as_str())
                .bind(at)
                .execute(&mut *conn)
                .await
                .map_err(|e| unique_violation(e, "already a member of this organization"))?;
            Ok(())
        }

        /// Revokes active tokens of a user (in one org or all), service tokens excepted.
        async fn revoke_user_rows(tx: &mut WriteTx, user_id: &str, org_id: Option<&str>, rev: &Revocation) -> Result<u64> {
            let done = sqlx::query(
                "UPDATE tokens SET revoked_at = $1, revoked_by = $2, revoked_reason = $3 \
                 WHERE user_id = $4 AND ($5 IS NULL OR org_id = $5) AND revoked_at IS NULL",
            )
            .bind(rev.at)
            .bind(&rev.by)
            .bind(&rev.reason)
            .bind(user_id)
            .bind(org_id)
            .execute(&mut **tx)
            .await?;
            bump_generation(tx).await?;
            Ok(done.rows_affected())
        }

        /// Inside a membership change: takes the org's row lock (so changes to
        /// one org's memberships run one at a time, on PostgreSQL as on
        /// SQLite), then checks that the member still has the role the caller
        /// decided on and, when `leaves_owners` and that role is owner, that
        /// another owner stays. `Some` is the reason to change nothing.
        async fn guard_membership(tx: &mut WriteTx, org_id: &str, user_id: &str, expected: Role, leaves_owners: bool) -> Result<Option<MembershipChange>> {
            sqlx::query("UPDATE orgs SET name = name WHERE id = $1")
                .bind(org_id)
                .execute(&mut **tx)
                .await?;
            let role: Option<String> =
                sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
                    .bind(org_id)
                    .bind(user_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            let Some(role) = role.map(parse::<Role>).transpose()? else {
                return Ok(Some(MembershipChange::NotMember));
            };
            if role != expected {
                return Ok(Some(MembershipChange::Changed(role)));
            }
            if role == Role::Owner && leaves_owners {
                let owners: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'",
                )
                .bind(org_id)
                .fetch_one(&mut **tx)
                .await?;
                if owners <= 1 {
                    return Ok(Some(MembershipChange::LastOwner));
                }
            }
            Ok(None)
        }

        /// Marks cached validations stale for every server on this database.
        async fn bump_generation(tx: &mut WriteTx) -> Result<()> {
            sqlx::query("UPDATE generation SET value = value + 1 WHERE id = 1")
                .execute(&mut **tx)
                .await?;
            tx.bumped = true;
            Ok(())
        }

        const DUMP_TABLES: &[(&str, &str)] = &[
            ("users", "SELECT * FROM users"),
            ("orgs", "SELECT * FROM orgs"),
            ("memberships", "SELECT * FROM memberships"),
            ("tokens", "SELECT * FROM tokens"),
            ("token_ips", "SELECT * FROM token_ips"),
            ("device_authorizations", "SELECT * FROM device_authorizations"),
            ("audit_events", "SELECT * FROM audit_events"),
            ("setup_state", "SELECT * FROM setup_state"),
            ("sessions", "SELECT * FROM sessions"),
        ];

        /// A write transaction that holds this process's write turn (SQLite) until
        /// it commits, rolls back or is dropped.
        struct WriteTx {
            tx: sqlx::Transaction<'static, $db>,
            /// SQLite: the file to announce a committed counter bump in.
            announce: Option<std::sync::Arc<std::path::Path>>,
            /// Whether this transaction bumped the generation counter.
            bumped: bool,
            // Declared last: released after the transaction has ended.
            _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
        }

        impl std::ops::Deref for WriteTx {
            type Target = Conn;
            fn deref(&self) -> &Conn {
                &self.tx
            }
        }

        impl std::ops::DerefMut for WriteTx {
            fn deref_mut(&mut self) -> &mut Conn {
                &mut self.tx
            }
        }

        impl WriteTx {
            /// Commits, then (SQLite) tells other devauth processes on this
            /// file about a counter bump.
            async fn commit(self) -> Result<()> {
                self.tx.commit().await?;
                if self.bumped
                    && let Some(path) = &self.announce
                {
                    crate::store::change_signal::announce(path).map_err(|e| {
                        StoreError::Internal(format!(
                            "the change was saved, but other devauth processes on this database \
                             could not be told ({}: {e}); restart them to be sure they apply it",
                            path.display()
                        ))
                    })?;
                }
                Ok(())
            }

            async fn rollback(self) -> std::result::Result<(), sqlx::Error> {
                self.tx.rollback().await
            }
        }

        /// A write waiting for the next group commit: the two writes every
        /// unauthenticated device request makes, the hot path under load.
        enum GroupWrite {
            /// A new device authorization and its audit event.
            Device(Box<(NewDeviceAuthorization, NewAuditEvent)>),
            /// A poll of the token endpoint (for `slow_down`).
            Poll { id: String, at: i64, interval_secs: i64 },
        }

        struct Pending {
            write: GroupWrite,
            done: tokio::sync::oneshot::Sender<Result<()>>,
        }

        /// Most writes in one transaction (SQLite allows 32,766 bound values per
        /// statement; an audit row takes 11).
        const MAX_GROUP: usize = 512;

        /// Writes `batch` in one transaction and answers each waiting request. If
        /// the transaction fails, each write is tried on its own, so one bad row
        /// fails only its own request.
        async fn commit_group(pool: &sqlx::Pool<$db>, batch: Vec<Pending>) {
            match write_group(pool, &batch).await {
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
                        let result = write_group(pool, std::slice::from_ref(&pending)).await;
                        let _ = pending.done.send(result);
                    }
                }
            }
        }

        async fn write_group(pool: &sqlx::Pool<$db>, batch: &[Pending]) -> Result<()> {
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
                    GroupWrite::Poll { id, at, interval_secs } => Some((id.as_str(), *at, *interval_secs)),
                    GroupWrite::Device(_) => None,
                })
                .collect();
            let mut tx = pool.begin().await?;
            if !devices.is_empty() {
                let mut rows = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO device_authorizations (id, device_code_hash, user_code_hash, client_id, \
                     device_name, requester_ip, user_agent, status, interval_secs, created_at, expires_at) ",
                );
                rows.push_values(&devices, |mut row, (d, _)| {
                    row.push_bind(&d.id)
                        .push_bind(&d.device_code_hash)
                        .push_bind(&d.user_code_hash)
                        .push_bind(&d.client_id)
                        .push_bind(&d.device_name)
                        .push_bind(&d.requester_ip)
                        .push_bind(&d.user_agent)
                        .push("'pending'")
                        .push_bind(d.interval_secs)
                        .push_bind(d.created_at)
                        .push_bind(d.expires_at);
                });
                rows.build()
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| unique_violation(e, "a device code was issued twice"))?;
                audit_rows(devices.iter().map(|(_, e)| e))
                    .build()
                    .execute(&mut *tx)
                    .await?;
            }
            if !polls.is_empty() {
                // One statement for every poll; VALUES columns are column1… in
                // both SQLite and PostgreSQL.
                let mut update = sqlx::QueryBuilder::<$db>::new(
                    "UPDATE device_authorizations SET last_poll_at = v.column2, interval_secs = v.column3 FROM (",
                );
                update.push_values(&polls, |mut row, (id, at, interval)| {
                    row.push("CAST(")
                        .push_bind_unseparated(*id)
                        .push_unseparated(" AS TEXT)")
                        .push("CAST(")
                        .push_bind_unseparated(*at)
                        .push_unseparated(" AS BIGINT)")
                        .push("CAST(")
                        .push_bind_unseparated(*interval)
                        .push_unseparated(" AS BIGINT)");
                });
                update.push(") AS v WHERE device_authorizations.id = v.column1");
                update.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        impl $store {
            /// Waits for this process's turn to write, where the backend has one
            /// writer at a time (SQLite): writers queue here, in order, instead of
            /// colliding on the file lock and sleeping in SQLite's busy handler.
            async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
                match &self.writes {
                    Some(turns) => Some(turns.clone().lock_owned().await),
                    None => None,
                }
            }

            /// Group commit: the write joins a queue, and whoever gets the write
            /// turn next writes everything queued in one transaction. Under load
            /// that is one commit for many requests; alone, an ordinary one.
            async fn group_commit(&self, write: GroupWrite) -> Result<()> {
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
                    let pool = self.pool.clone();
                    let _ = tokio::spawn(async move {
                        commit_group(&pool, batch).await;
                        drop(turn);
                    })
                    .await;
                }
                written.await.unwrap_or_else(|_| not_written())
            }

            async fn begin_write(&self) -> Result<WriteTx> {
                let turn = self.write_turn().await;
                Ok(WriteTx {
                    tx: self.pool.begin().await?,
                    announce: self.announce.clone(),
                    bumped: false,
                    _turn: turn,
                })
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            $($extra)*

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn dump(&self) -> Result<String> {
                use sqlx::Column;
                let mut out = String::new();
                for (table, sql) in DUMP_TABLES {
                    for row in sqlx::query(sql).fetch_all(&self.pool).await? {
                        out.push_str(table);
                        for (i, col) in row.columns().iter().enumerate() {
                            let value = match row.try_get::<Option<String>, _>(i) {
                                Ok(v) => v,
                                Err(_) => row.try_get::<Option<i64>, _>(i)?.map(|n| n.to_string()),
                            };
                            out.push_str(&format!(" {}={}", col.name(), value.unwrap_or_default()));
                        }
                        out.push('\n');
                    }
                }
                Ok(out)
            }

            async fn create_user(&self, user: &User, audit: &NewAuditEvent) -> Result<()> {
                let mut tx = self.begin_write().await?;
                insert_user_row(&mut tx, user).await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
                let row = sqlx::query(concat!(user_select!(), "WHERE email_norm = $1"))
                    .bind(email.trim().to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(user_from).transpose()
            }

            async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
                let row = sqlx::query(concat!(user_select!(), "WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(user_from).transpose()
            }

            async fn list_users(&self) -> Result<Vec<User>> {
                let rows = sqlx::query(concat!(user_select!(), "ORDER BY email_norm"))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(user_from).collect()
            }

            async fn disable_user(&self, user_id: &str, rev: &Revocation, audit: &NewAuditEvent) -> Result<Option<u64>> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                    .bind(rev.at)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                let revoked = revoke_user_rows(&mut tx, user_id, None, rev).await?;
                sqlx::query("UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL")
                    .bind(rev.at)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                let audit = audit.clone().detail(format!("{revoked} tokens revoked"));
                insert_audit(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(Some(revoked))
            }

            async fn create_org(&self, org: &Org, audit: &NewAuditEvent) -> Result<()> {
                let mut tx = self.begin_write().await?;
                insert_org_row(&mut tx, org).await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn org_by_slug(&self, slug: &str) -> Result<Option<Org>> {
                let row = sqlx::query("SELECT id, slug, name, created_at FROM orgs WHERE slug = $1")
                    .bind(slug)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(org_from).transpose()
            }

            async fn org_by_id(&self, id: &str) -> Result<Option<Org>> {
                let row = sqlx::query("SELECT id, slug, name, created_at FROM orgs WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(org_from).transpose()
            }

            async fn list_orgs(&self) -> Result<Vec<Org>> {
                let rows = sqlx::query("SELECT id, slug, name, created_at FROM orgs ORDER BY slug")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(org_from).collect()
            }

            async fn orgs_of_user(&self, user_id: &str) -> Result<Vec<(Org, Role)>> {
                let rows = sqlx::query(
                    "SELECT o.id, o.slug, o.name, o.created_at, m.role FROM memberships m \
                     JOIN orgs o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY o.slug",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| Ok((org_from(row)?, parse(row.try_get("role")?)?)))
                    .collect()
            }

            async fn add_member(&self, org_id: &str, user_id: &str, role: Role, now: i64, audit: &NewAuditEvent) -> Result<()> {
                let mut tx = self.begin_write().await?;
                insert_member_row(&mut tx, org_id, user_id, role, now).await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn role_of(&self, org_id: &str, user_id: &str) -> Result<Option<Role>> {
                let role: Option<String> =
                    sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
                        .bind(org_id)
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await?;
                role.map(parse).transpose()
            }

            async fn set_role(&self, org_id: &str, user_id: &str, from: Role, to: Role, audit: &NewAuditEvent) -> Result<MembershipChange> {
                let mut tx = self.begin_write().await?;
                if let Some(refused) = guard_membership(&mut tx, org_id, user_id, from, to != Role::Owner).await? {
                    return Ok(refused);
                }
                sqlx::query("UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3")
                    .bind(to.as_str())
                    .bind(org_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                bump_generation(&mut tx).await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(MembershipChange::Done { revoked: 0 })
            }

            async fn remove_member(&self, org_id: &str, user_id: &str, expected: Role, rev: &Revocation, audit: &NewAuditEvent) -> Result<MembershipChange> {
                let mut tx = self.begin_write().await?;
                if let Some(refused) = guard_membership(&mut tx, org_id, user_id, expected, true).await? {
                    return Ok(refused);
                }
                sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
                    .bind(org_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                let revoked = revoke_user_rows(&mut tx, user_id, Some(org_id), rev).await?;
                let audit = audit.clone().detail(format!("{revoked} tokens revoked"));
                insert_audit(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(MembershipChange::Done { revoked })
            }

            async fn list_members(&self, org_id: &str) -> Result<Vec<Member>> {
                let rows = sqlx::query(
                    "SELECT u.id, u.email, u.name, u.password_hash, u.disabled_at, u.created_at, \
                     m.role, m.created_at AS joined_at FROM memberships m JOIN users u ON u.id = m.user_id \
                     WHERE m.org_id = $1 ORDER BY u.email_norm",
                )
                .bind(org_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(Member {
                            user: user_from(row)?,
                            role: parse(row.try_get("role")?)?,
                            joined_at: row.try_get("joined_at")?,
                        })
                    })
                    .collect()
            }

            async fn insert_token(&self, token: &NewToken, audit: &NewAuditEvent) -> Result<()> {
                let mut tx = self.begin_write().await?;
                insert_token_row(&mut tx, token).await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn token_by_id(&self, id: &str) -> Result<Option<Token>> {
                let row = sqlx::query(concat!(token_select!(), "WHERE t.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(token_from).transpose()
            }

            async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenAuth>> {
                let Some(row) = sqlx::query(
                    "SELECT t.id, t.hash, t.hint, t.name, t.kind, t.user_id, u.email AS user_email, \
                     t.org_id, o.slug AS org_slug, t.scopes, t.created_at, t.expires_at, t.last_used_at, \
                     t.last_used_ip, t.revoked_at, t.revoked_by, t.revoked_reason, \
                     u.name AS u_name, u.disabled_at AS u_disabled_at, u.created_at AS u_created_at, \
                     o.name AS o_name, o.created_at AS o_created_at, m.role AS m_role \
                     FROM tokens t JOIN orgs o ON o.id = t.org_id LEFT JOIN users u ON u.id = t.user_id \
                     LEFT JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id \
                     WHERE t.hash = $1",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?
                else {
                    return Ok(None);
                };
                let token = token_from(&row)?;
                let user = match (&token.user_id, &token.user_email) {
                    (Some(id), Some(email)) => Some(User {
                        id: id.clone(),
                        email: email.clone(),
                        name: row.try_get("u_name")?,
                        password_hash: None,
                        disabled_at: row.try_get("u_disabled_at")?,
                        created_at: row.try_get("u_created_at")?,
                    }),
                    _ => None,
                };
                let org = Org {
                    id: token.org_id.clone(),
                    slug: token.org_slug.clone(),
                    name: row.try_get("o_name")?,
                    created_at: row.try_get("o_created_at")?,
                };
                let role: Option<String> = row.try_get("m_role")?;
                Ok(Some(TokenAuth {
                    role: role.map(parse).transpose()?,
                    token: token.into(),
                    user: user.map(Into::into),
                    org: org.into(),
                }))
            }

            async fn list_tokens(&self, q: &TokenQuery) -> Result<Vec<Token>> {
                let rows = sqlx::query(concat!(
                    token_select!(),
                    "WHERE ($1 IS NULL OR t.org_id = $1) AND ($2 IS NULL OR t.user_id = $2) \
                     AND ($3 IS NULL OR (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $3))) \
                     ORDER BY t.created_at DESC, t.id LIMIT 1000"
                ))
                .bind(&q.org_id)
                .bind(&q.user_id)
                .bind(q.active_at)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(token_from).collect()
            }

            async fn revoke_token(&self, id: &str, rev: &Revocation, audit: &NewAuditEvent) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE tokens SET revoked_at = $1, revoked_by = $2, revoked_reason = $3 \
                     WHERE id = $4 AND revoked_at IS NULL",
                )
                .bind(rev.at)
                .bind(&rev.by)
                .bind(&rev.reason)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                bump_generation(&mut tx).await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn revoke_user_tokens(&self, user_id: &str, org_id: Option<&str>, rev: &Revocation, audit: &NewAuditEvent) -> Result<u64> {
                let mut tx = self.begin_write().await?;
                let revoked = revoke_user_rows(&mut tx, user_id, org_id, rev).await?;
                let audit = audit.clone().detail(format!("{revoked} tokens revoked"));
                insert_audit(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(revoked)
            }

            async fn rotate_token(&self, old_id: &str, new: &NewToken, rev: &Revocation, audit: &NewAuditEvent) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE tokens SET revoked_at = $1, revoked_by = $2, revoked_reason = $3 \
                     WHERE id = $4 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
                )
                .bind(rev.at)
                .bind(&rev.by)
                .bind(&rev.reason)
                .bind(old_id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                insert_token_row(&mut tx, new).await?;
                bump_generation(&mut tx).await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn touch_token(&self, id: &str, at: i64, ip: Option<&str>) -> Result<()> {
                let _turn = self.write_turn().await;
                sqlx::query("UPDATE tokens SET last_used_at = $1, last_used_ip = $2 WHERE id = $3")
                    .bind(at)
                    .bind(ip)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn record_token_ip(&self, id: &str, ip: &str, audit: &NewAuditEvent) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "INSERT INTO token_ips (token_id, ip, first_seen) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(ip)
                .bind(audit.at)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn create_device_authorization(&self, d: &NewDeviceAuthorization, audit: &NewAuditEvent) -> Result<()> {
                self.group_commit(GroupWrite::Device(Box::new((d.clone(), audit.clone())))).await
            }

            async fn device_by_code_hash(&self, hash: &str) -> Result<Option<DeviceAuthorization>> {
                let row = sqlx::query(concat!(device_select!(), "WHERE device_code_hash = $1"))
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(device_from).transpose()
            }

            async fn device_by_user_code_hash(&self, hash: &str) -> Result<Option<DeviceAuthorization>> {
                let row = sqlx::query(concat!(
                    device_select!(),
                    "WHERE user_code_hash = $1 ORDER BY created_at DESC LIMIT 1"
                ))
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(device_from).transpose()
            }

            async fn record_poll(&self, id: &str, at: i64, interval_secs: i64) -> Result<()> {
                self.group_commit(GroupWrite::Poll { id: id.to_string(), at, interval_secs }).await
            }

            async fn decide_device(&self, id: &str, decision: &DeviceDecision, now: i64, audit: &NewAuditEvent) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE device_authorizations SET status = $1, approved_by = $2, org_id = $3, scopes = $4, decided_at = $5 \
                     WHERE id = $6 AND status = 'pending' AND expires_at > $5",
                )
                .bind(decision.status.as_str())
                .bind(&decision.user_id)
                .bind(&decision.org_id)
                .bind(scopes_to_text(&decision.scopes))
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn expire_device(&self, id: &str) -> Result<()> {
                let _turn = self.write_turn().await;
                sqlx::query("UPDATE device_authorizations SET status = 'expired' WHERE id = $1 AND status IN ('pending', 'approved')")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn redeem_device(&self, id: &str, token: &NewToken, now: i64, audit: &NewAuditEvent) -> Result<Redemption> {
                let mut tx = self.begin_write().await?;
                // The conditional update is the lock: of any number of concurrent polls,
                // exactly one sees a row change.
                let done = sqlx::query(
                    "UPDATE device_authorizations SET status = 'redeemed', redeemed_at = $1 \
                     WHERE id = $2 AND status = 'approved'",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(Redemption::NotRedeemable);
                }
                let allowed: Option<String> = sqlx::query_scalar(
                    "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id \
                     WHERE m.user_id = $1 AND m.org_id = $2 AND u.disabled_at IS NULL",
                )
                .bind(&token.user_id)
                .bind(&token.org_id)
                .fetch_optional(&mut *tx)
                .await?;
                if allowed.is_none() {
                    tx.rollback().await?;
                    let _turn = self.write_turn().await;
                    sqlx::query("UPDATE device_authorizations SET status = 'denied' WHERE id = $1 AND status = 'approved'")
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    return Ok(Redemption::NoLongerAllowed);
                }
                insert_token_row(&mut tx, token).await?;
                sqlx::query("UPDATE device_authorizations SET token_id = $1 WHERE id = $2")
                    .bind(&token.id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(Redemption::Issued)
            }

            async fn append_audit(&self, event: &NewAuditEvent) -> Result<()> {
                let _turn = self.write_turn().await;
                let mut conn = self.pool.acquire().await?;
                insert_audit(&mut conn, event).await
            }

            async fn list_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
                let rows = sqlx::query(
                    "SELECT id, at, actor_kind, actor_id, actor, action, target, org_id, ip, user_agent, \
                     request_id, detail FROM audit_events \
                     WHERE ($1 IS NULL OR org_id = $1) AND ($2 IS NULL OR action = $2) \
                     AND ($3 IS NULL OR actor = $3 OR actor_id = $3) AND ($4 IS NULL OR at >= $4) \
                     AND ($5 IS NULL OR at <= $5) AND ($6 IS NULL OR id < $6) \
                     ORDER BY id DESC LIMIT $7",
                )
                .bind(&q.org_id)
                .bind(&q.action)
                .bind(&q.actor)
                .bind(q.since)
                .bind(q.until)
                .bind(q.before)
                .bind(q.limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(audit_from).collect()
            }

            async fn create_session(&self, session: &NewSession) -> Result<()> {
                let _turn = self.write_turn().await;
                sqlx::query(
                    "INSERT INTO sessions (id_hash, user_id, created_at, expires_at, ip, user_agent) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&session.id_hash)
                .bind(&session.user_id)
                .bind(session.created_at)
                .bind(session.expires_at)
                .bind(&session.ip)
                .bind(&session.user_agent)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session_user(&self, id_hash: &str, now: i64) -> Result<Option<User>> {
                let row = sqlx::query(
                    "SELECT u.id, u.email, u.name, u.password_hash, u.disabled_at, u.created_at \
                     FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND u.disabled_at IS NULL",
                )
                .bind(id_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(user_from).transpose()
            }

            async fn end_session(&self, id_hash: &str, now: i64) -> Result<()> {
                let _turn = self.write_turn().await;
                sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at IS NULL")
                    .bind(now)
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn end_user_sessions(&self, user_id: &str, now: i64) -> Result<u64> {
                let _turn = self.write_turn().await;
                let done = sqlx::query("UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL")
                    .bind(now)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn setup_claimed(&self) -> Result<bool> {
                let at: Option<i64> = sqlx::query_scalar("SELECT claimed_at FROM setup_state WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(at.is_some())
            }

            async fn claim_setup(&self, claim: &SetupClaim, audit: &[NewAuditEvent]) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("UPDATE setup_state SET claimed_at = $1, claimed_by = $2 WHERE id = 1 AND claimed_at IS NULL")
                    .bind(claim.user.created_at)
                    .bind(&claim.user.id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                insert_user_row(&mut tx, &claim.user).await?;
                insert_org_row(&mut tx, &claim.org).await?;
                insert_member_row(&mut tx, &claim.org.id, &claim.user.id, Role::Owner, claim.user.created_at).await?;
                insert_token_row(&mut tx, &claim.token).await?;
                for event in audit {
                    insert_audit(&mut tx, event).await?;
                }
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

pub(crate) use sql_store;
