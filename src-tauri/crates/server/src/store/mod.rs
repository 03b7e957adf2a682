//! Persistence behind one trait, [`Store`] (the areas [`Accounts`], [`Tokens`],
//! [`Devices`], [`Audit`], [`Sessions`], [`Setup`], [`Limits`], and the change signalling
//! of [`Changes`]), with a SQLite and a PostgreSQL backend that run the same
//! SQL (`sql/`). Every method is one transaction: a change and its audit
//! event commit together or not at all. Handlers never know which backend
//! they talk to.

mod change_signal;
mod postgres;
pub(crate) mod sql;
mod sqlite;

use crate::clock::Timestamp;
use crate::device_policy::DevicePolicy;
use crate::model::*;
use async_trait::async_trait;
use std::sync::Arc;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// A failed store call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write; the text says what already exists.
    #[error("{0}")]
    Conflict(String),
    /// A database query or connection failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Bringing the schema up to date failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not parse (an unknown role, kind, status or scope).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database cannot be set up as configured (no data directory, a directory that cannot be created).
    #[error("{0}")]
    Config(String),
    /// The store's own machinery failed around the database (the SQLite change
    /// check, a group commit that never answered).
    #[error("{0}")]
    Internal(String),
}

impl StoreError {
    /// Whether the database is out of reach (down, restarting, refusing
    /// connections, no connection free in time) rather than the request or
    /// the data being at fault: worth retrying in a moment.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_),
            ) => true,
            StoreError::Database(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
                // Class 08: connection exceptions; 57P01-57P03: the server
                // is shutting down, crashed or starting.
                code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
            }),
            _ => false,
        }
    }
}

/// A store call's result, failing with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why and by whom tokens are revoked.
#[derive(Debug, Clone)]
pub struct Revocation {
    /// When the tokens are revoked.
    pub at: Timestamp,
    /// Who revokes them: the actor's label.
    pub by: String,
    /// Why, as token lists show it.
    pub reason: String,
}

/// The outcome of redeeming an approved device code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The token was stored and the request marked redeemed.
    Issued,
    /// Already redeemed, or never approved: nothing was issued.
    NotRedeemable,
    /// The approving user is disabled or no longer a member; the request is now denied.
    NoLongerAllowed,
}

/// The outcome of a membership change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    /// Done; for a removal, how many tokens were revoked with it.
    Done {
        /// Tokens revoked with a removal; 0 for a role change.
        revoked: u64,
    },
    /// The user is not a member of the org: nothing was done.
    NotMember,
    /// The member's role changed meanwhile (to this one): nothing was done.
    Changed(Role),
    /// The org would be left without an owner: nothing was done.
    LastOwner,
}

/// An approval or denial of a device request.
#[derive(Debug, Clone)]
pub struct DeviceDecision {
    /// Approved or denied.
    pub status: DeviceStatus,
    /// The user who decided.
    pub user_id: UserId,
    /// The org approved into (none for a denial).
    pub org_id: Option<OrgId>,
    /// What the device token will carry (empty: the approver's full role).
    pub scopes: Vec<Scope>,
    /// The device token's lifetime, days (`None`: the server's default).
    pub token_days: Option<i64>,
}

/// A browser session about to be stored (the cookie value stays with the browser).
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the cookie value, lowercase hex.
    pub id_hash: String,
    /// The signed-in user.
    pub user_id: UserId,
    /// When the user signed in.
    pub created_at: Timestamp,
    /// When the session stops working.
    pub expires_at: Timestamp,
    /// The IP the sign-in came from.
    pub ip: Option<String>,
    /// The browser's `User-Agent`.
    pub user_agent: Option<String>,
    /// How the user signed in.
    pub method: SignInMethod,
}

/// Everything the first-run claim creates, in one transaction.
#[derive(Debug, Clone)]
pub struct SetupClaim {
    /// The first owner.
    pub user: User,
    /// The first org.
    pub org: Org,
    /// The owner's first personal token.
    pub token: NewToken,
}

/// The whole store: persistence by area, and change signalling. Callers
/// bring the area traits into scope with `use crate::store::prelude::*`.
#[async_trait]
pub trait Store:
    Accounts
    + Tokens
    + Devices
    + Audit
    + Sessions
    + Setup
    + Limits
    + Retention
    + Changes
    + Invitations
    + PasswordResets
    + SingleSignOn
    + Passkeys
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;
    /// Every table's rows as text. Test support (the hashed-at-rest check),
    /// not a backup tool: back up with the database's own tools.
    async fn dump_for_tests(&self) -> Result<String>;
}

/// Users, organizations and memberships.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Stores a new user; a [`StoreError::Conflict`] when the email is taken.
    async fn create_user(&self, user: &User, audit: &NewAuditEvent) -> Result<()>;
    /// The user with this email, ignoring case and surrounding spaces.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// The user with this id.
    async fn user_by_id(&self, id: &str) -> Result<Option<User>>;
    /// Every user, by email.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Sets a user's password hash and ends every browser session of theirs
    /// but `keep_session` (an id hash), with its audit event, at once;
    /// returns how many sessions ended (`None`: no such active user). Tokens
    /// are left alone.
    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &str,
        keep_session: Option<&str>,
        audit: &NewAuditEvent,
    ) -> Result<Option<u64>>;
    /// Disables a user and revokes every token they hold; returns how many.
    async fn disable_user(
        &self,
        user_id: &UserId,
        rev: &Revocation,
        audit: &NewAuditEvent,
    ) -> Result<Option<u64>>;

    /// Stores a new org; a [`StoreError::Conflict`] when the slug is taken.
    async fn create_org(&self, org: &Org, audit: &NewAuditEvent) -> Result<()>;
    /// The org with this slug.
    async fn org_by_slug(&self, slug: &str) -> Result<Option<Org>>;
    /// The org with this id.
    async fn org_by_id(&self, id: &str) -> Result<Option<Org>>;
    /// Every org, by slug.
    async fn list_orgs(&self) -> Result<Vec<Org>>;
    /// The orgs a user belongs to, with their role in each, by slug.
    async fn orgs_of_user(&self, user_id: &UserId) -> Result<Vec<(Org, Role)>>;

    /// Adds a user to an org with `role`; a [`StoreError::Conflict`] when already a member.
    async fn add_member(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        role: Role,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> Result<()>;
    /// The user's role in the org; `None` when not a member.
    async fn role_of(&self, org_id: &OrgId, user_id: &UserId) -> Result<Option<Role>>;
    /// Changes a member's role from `from` to `to`. Refused (and nothing
    /// changed) when the role is no longer `from`, or when it would leave the
    /// org without an owner; checked in the transaction, so concurrent changes
    /// cannot both take the last owner away.
    async fn set_role(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        from: Role,
        to: Role,
        audit: &NewAuditEvent,
    ) -> Result<MembershipChange>;
    /// Removes a member whose role is `expected` and revokes their tokens in
    /// that org; refused like [`Accounts::set_role`] for the last owner.
    async fn remove_member(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        expected: Role,
        rev: &Revocation,
        audit: &NewAuditEvent,
    ) -> Result<MembershipChange>;
    /// An org's members, by email.
    async fn list_members(&self, org_id: &OrgId) -> Result<Vec<Member>>;

    /// An org's device policy (the default when none was set).
    async fn org_policy(&self, org_id: &OrgId) -> Result<DevicePolicy>;
    /// Replaces an org's device policy.
    async fn set_org_policy(
        &self,
        org_id: &OrgId,
        policy: &DevicePolicy,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> Result<()>;
}

/// Tokens: stored as hashes, revoked, rotated, used.
#[async_trait]
pub trait Tokens: Send + Sync + 'static {
    /// Stores a new token.
    async fn insert_token(&self, token: &NewToken, audit: &NewAuditEvent) -> Result<()>;
    /// The token with this id, revoked and expired ones included.
    async fn token_by_id(&self, id: &TokenId) -> Result<Option<Token>>;
    /// The token with this hash and what it acts as now (user, org, live role).
    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenAuth>>;
    /// Tokens matching `query`, newest first, at most 1,000.
    async fn list_tokens(&self, query: &TokenQuery) -> Result<Vec<Token>>;
    /// Revokes one token; false when it was revoked already.
    async fn revoke_token(
        &self,
        id: &TokenId,
        rev: &Revocation,
        audit: &NewAuditEvent,
    ) -> Result<bool>;
    /// Revokes a user's active tokens (in one org, or all); returns how many.
    async fn revoke_user_tokens(
        &self,
        user_id: &UserId,
        org_id: Option<&OrgId>,
        rev: &Revocation,
        audit: &NewAuditEvent,
    ) -> Result<u64>;
    /// Revokes `old_id` and stores `new` in its place, only if `old_id` is still active.
    async fn rotate_token(
        &self,
        old_id: &TokenId,
        new: &NewToken,
        rev: &Revocation,
        audit: &NewAuditEvent,
    ) -> Result<bool>;
    /// Records when and from where a token was last used (not audited).
    async fn touch_token(
        &self,
        id: &TokenId,
        at: Timestamp,
        ip: Option<&str>,
        agent: Option<&str>,
    ) -> Result<()>;
    /// Remembers that a token was used from `ip`; true (and audited) the first time.
    async fn record_token_ip(&self, id: &TokenId, ip: &str, audit: &NewAuditEvent) -> Result<bool>;
}

/// Device authorizations, from request to redemption.
#[async_trait]
pub trait Devices: Send + Sync + 'static {
    /// Stores a new pending request (batched with other writes by group commit).
    async fn create_device_authorization(
        &self,
        device: &NewDeviceAuthorization,
        audit: &NewAuditEvent,
    ) -> Result<()>;
    /// The request with this device-code hash.
    async fn device_by_code_hash(&self, hash: &str) -> Result<Option<DeviceAuthorization>>;
    /// The newest request with this user code.
    async fn device_by_user_code_hash(&self, hash: &str) -> Result<Option<DeviceAuthorization>>;
    /// Records a poll of the token endpoint and the interval that now applies.
    async fn record_poll(&self, id: &str, at: Timestamp, interval_secs: i64) -> Result<()>;
    /// Approves or denies a pending, unexpired request; false when it was not pending.
    async fn decide_device(
        &self,
        id: &str,
        decision: &DeviceDecision,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> Result<bool>;
    /// Marks a pending or approved request expired.
    async fn expire_device(&self, id: &str) -> Result<()>;
    /// Turns an approved request into a token, at most once. `announce` is
    /// told to the other replicas in the same transaction (PostgreSQL
    /// `NOTIFY`, sent at commit; nothing on SQLite).
    async fn redeem_device(
        &self,
        id: &str,
        token: &NewToken,
        now: Timestamp,
        audit: &NewAuditEvent,
        announce: Option<&str>,
    ) -> Result<Redemption>;
}

/// The audit log.
#[async_trait]
pub trait Audit: Send + Sync + 'static {
    /// Writes one audit event on its own.
    async fn append_audit(&self, event: &NewAuditEvent) -> Result<()>;
    /// Events matching `query`, newest first.
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>>;
}

/// Invitations to join an org.
#[async_trait]
pub trait Invitations: Send + Sync + 'static {
    /// Stores a new invitation, with its audit event.
    async fn create_invitation(&self, invitation: &Invitation, audit: &NewAuditEvent)
    -> Result<()>;
    /// The org's invitations that can still be accepted at `now`, newest first.
    async fn pending_invitations(&self, org_id: &OrgId, now: Timestamp) -> Result<Vec<Invitation>>;
    /// The invitation whose link's secret hashes to this.
    async fn invitation_by_hash(&self, secret_hash: &str) -> Result<Option<Invitation>>;
    /// Withdraws a pending invitation of the org; false when there is none.
    async fn withdraw_invitation(
        &self,
        org_id: &OrgId,
        id: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool>;
    /// Accepts a pending invitation, once: `new_user` (if given) is created
    /// and the user joins the org with the invitation's role, in one
    /// transaction with the audit event. False when it was used, withdrawn
    /// or expired meanwhile, or the user is a member already.
    async fn accept_invitation(
        &self,
        invitation: &Invitation,
        user_id: &UserId,
        new_user: Option<&User>,
        audit: &NewAuditEvent,
    ) -> Result<bool>;
}

/// Password reset links.
#[async_trait]
pub trait PasswordResets: Send + Sync + 'static {
    /// Stores a new reset link (any earlier unused one of the user's stops
    /// working), with its audit event.
    async fn create_password_reset(
        &self,
        reset: &PasswordReset,
        audit: &NewAuditEvent,
    ) -> Result<()>;
    /// The reset whose link's secret hashes to this.
    async fn password_reset_by_hash(&self, secret_hash: &str) -> Result<Option<PasswordReset>>;
    /// Uses a reset link once: sets the password hash and ends every session
    /// of the user, with the audit event. False when it was used or expired
    /// meanwhile (or the user is disabled).
    async fn use_password_reset(
        &self,
        reset: &PasswordReset,
        password_hash: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool>;
}

/// Single sign-on: identities at providers, and sign-ins under way.
#[async_trait]
pub trait SingleSignOn: Send + Sync + 'static {
    /// Stores a sign-in under way.
    async fn create_sso_attempt(&self, attempt: &SsoAttempt) -> Result<()>;
    /// Takes a sign-in under way once: the first call at `now` before it
    /// expired returns it (a link waiting for a password when `link`),
    /// every later one `None`.
    async fn take_sso_attempt(
        &self,
        id_hash: &str,
        link: bool,
        now: Timestamp,
    ) -> Result<Option<SsoAttempt>>;
    /// The link waiting for a password in this browser, without taking it.
    async fn pending_sso_link(
        &self,
        browser_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SsoAttempt>>;
    /// The active account this identity signs in to, recording the use.
    async fn sso_user(&self, provider: &str, subject: &str, now: Timestamp)
    -> Result<Option<User>>;
    /// Links an identity to an account, creating the account first when
    /// `new_user` is given, and (for an account made on its first sign-in)
    /// adding it to an org, with the audit event, in one transaction. False
    /// when the identity is linked already (to anyone).
    async fn link_sso_identity(
        &self,
        identity: &SsoIdentity,
        new_user: Option<&User>,
        join: Option<(&OrgId, Role)>,
        audit: &NewAuditEvent,
    ) -> Result<bool>;
    /// An account's identities, oldest first.
    async fn sso_identities(&self, user_id: &UserId) -> Result<Vec<SsoIdentity>>;
    /// Unlinks one of an account's identities; false when it has no such one.
    async fn unlink_sso_identity(
        &self,
        user_id: &UserId,
        provider: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool>;
}

/// Passkeys and their ceremonies.
#[async_trait]
pub trait Passkeys: Send + Sync + 'static {
    /// Stores a new passkey with its audit event; false when its credential
    /// id is registered already (to anyone).
    async fn add_passkey(&self, passkey: &PasskeyRow, audit: &NewAuditEvent) -> Result<bool>;
    /// A user's passkeys, oldest first.
    async fn passkeys_of(&self, user_id: &UserId) -> Result<Vec<PasskeyRow>>;
    /// The passkey with this credential id.
    async fn passkey_by_credential(&self, credential_id: &str) -> Result<Option<PasskeyRow>>;
    /// Records a sign-in with a passkey: its updated credential (counter) and when.
    async fn passkey_used(&self, id: &str, passkey: &str, now: Timestamp) -> Result<()>;
    /// Removes one of a user's passkeys; false when they have no such one.
    async fn remove_passkey(
        &self,
        user_id: &UserId,
        id: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool>;
    /// Stores a ceremony under way.
    async fn create_passkey_ceremony(&self, ceremony: &PasskeyCeremony) -> Result<()>;
    /// Takes a ceremony once: the first call before it expired returns it.
    async fn take_passkey_ceremony(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> Result<Option<PasskeyCeremony>>;
}

/// Browser sessions.
#[async_trait]
pub trait Sessions: Send + Sync + 'static {
    /// Stores a new browser session.
    async fn create_session(&self, session: &NewSession) -> Result<()>;
    /// The active user behind a session (not ended, not expired, user not
    /// disabled), when they signed in and how.
    async fn session_user(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(User, Timestamp, SignInMethod)>>;
    /// Ends one session (signing out); nothing when it has ended already.
    async fn end_session(&self, id_hash: &str, now: Timestamp) -> Result<()>;
    /// Ends every browser session of a user; returns how many.
    async fn end_user_sessions(&self, user_id: &UserId, now: Timestamp) -> Result<u64>;
    /// Keeps a sealed note on a session for its next view (replacing any).
    async fn keep_flash(&self, id_hash: &str, sealed: &str) -> Result<()>;
    /// Takes the session's note: the first call returns it, every later one `None`.
    async fn take_flash(&self, id_hash: &str) -> Result<Option<String>>;
}

/// The first-run claim.
#[async_trait]
pub trait Setup: Send + Sync + 'static {
    /// Whether the first-run claim has been made.
    async fn setup_claimed(&self) -> Result<bool>;
    /// The key `name` every server on this database shares: the stored one,
    /// or `fresh` stored now if there is none yet (the first server wins).
    async fn server_key(&self, name: &str, fresh: &str, now: Timestamp) -> Result<String>;
    /// Creates the first owner, org and token; false when setup was already claimed.
    async fn claim_setup(&self, claim: &SetupClaim, audit: &[NewAuditEvent]) -> Result<bool>;
}

/// A key's place in its budget's window, just taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Failures counted in the window.
    pub failures: i64,
    /// Attempts being checked now, this one included.
    pub inflight: i64,
    /// When the window began (which settling names).
    pub started: Timestamp,
    /// When it ends.
    pub ends: Timestamp,
}

/// Budgets for guessable attempts, shared by every server on the database.
#[async_trait]
pub trait Limits: Send + Sync + 'static {
    /// For each `(key, window_secs)`, atomically counts one attempt in flight:
    /// in the key's current window, or in a new one when the last has ended.
    /// One statement; the places come back in the order asked.
    async fn take_places(&self, keys: &[(&str, i64)], now: Timestamp) -> Result<Vec<Place>>;
    /// For each `(key, window_secs)`, atomically counts one failure (of a
    /// check already made); the windows after it, in the order asked.
    async fn add_failures(&self, keys: &[(&str, i64)], now: Timestamp) -> Result<Vec<Place>>;
    /// The keys' open windows as they are (nothing counted when none is open).
    async fn read_places(&self, keys: &[(&str, i64)], now: Timestamp) -> Result<Vec<Place>>;
    /// Settles attempts taken by [`Limits::take_places`] (key and window
    /// start): no longer in flight, and a failure if `failed`. Nothing for a
    /// window that is over.
    async fn settle_places(&self, places: &[(&str, Timestamp)], failed: bool) -> Result<()>;
}

/// What [`Retention::purge`] deletes: rows older than each cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// Device authorizations that expired before this.
    pub devices: Timestamp,
    /// Browser sessions that expired or ended before this.
    pub sessions: Timestamp,
    /// Rate limit windows that ended before this.
    pub limits: Timestamp,
    /// Audit events recorded before this; `None` keeps them all.
    pub audit: Option<Timestamp>,
}

/// How many rows [`Retention::purge`] deleted, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Device authorizations.
    pub devices: u64,
    /// Browser sessions.
    pub sessions: u64,
    /// Rate limit windows.
    pub limits: u64,
    /// Audit events.
    pub audit: u64,
}

/// Deleting what is no longer needed.
#[async_trait]
pub trait Retention: Send + Sync + 'static {
    /// Deletes the rows older than `cutoffs`, one kind at a time.
    async fn purge(&self, cutoffs: &Cutoffs) -> Result<Purged>;
}

/// What the listener for other processes' events reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// Listening (again): what was sent while not listening is lost.
    Connected,
    /// The connection is gone (or stopped answering); reconnecting.
    Lost,
    /// An event's payload, as another process sent it.
    Event(String),
}

/// How changes reach other server processes on the same database, apart
/// from what is stored: SQLite's counter and change signal, PostgreSQL's
/// `NOTIFY`.
#[async_trait]
pub trait Changes: Send + Sync + 'static {
    /// Sends an event to the other server processes on this database
    /// (PostgreSQL `NOTIFY`; nothing to do for SQLite's single process).
    async fn notify(&self, payload: &str) -> Result<()>;
    /// The invalidation counter, when this backend needs it checked on each use
    /// (SQLite: other processes may write the file); `None` when `listen` covers it.
    async fn generation(&self) -> Result<Option<i64>>;
    /// Events other processes sent, if this backend carries them, and the
    /// state of the connection that hears them.
    fn listen(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Remote>>;
    /// Lets go of the database (after the server stopped) so that another
    /// process can open it as if this one had exited; later calls fail.
    async fn close(&self);
}

/// The store's traits, for calling its methods.
pub mod prelude {
    pub use super::{
        Accounts, Audit, Changes, Devices, Limits, Passkeys, Retention, Sessions, Setup,
        SingleSignOn, Store, Tokens,
    };
}

/// The store as the server holds it, whichever backend.
pub type DynStore = Arc<dyn Store>;

/// Opens the database named by `url` (a `postgres://` URL, a `sqlite:` URL or a
/// plain file path) and brings its schema up to date.
pub async fn connect(url: &str) -> Result<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    }
}

/// The database a server uses when none is configured: `devauth.db` in the
/// platform data directory.
pub fn default_database_url() -> Result<String> {
    let dir = dirs::data_dir()
        .ok_or_else(|| {
            StoreError::Config(
                "no data directory on this platform; set DEVAUTH_DATABASE_URL".into(),
            )
        })?
        .join("devauth");
    Ok(format!("sqlite://{}", dir.join("devauth.db").display()))
}

/// A database URL with any password replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// "1 token revoked", "3 tokens revoked": the detail of a cascade's audit event.
pub(crate) fn revoked_words(revoked: u64) -> String {
    match revoked {
        1 => "1 token revoked".into(),
        n => format!("{n} tokens revoked"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_database_passwords() {
        assert_eq!(
            super::redact_url("postgres://app:hunter2@db:5432/devauth"),
            "postgres://app:***@db:5432/devauth"
        );
        assert_eq!(
            super::redact_url("postgres://app@db/devauth"),
            "postgres://app@db/devauth"
        );
        assert_eq!(
            super::redact_url("sqlite:///tmp/x.db"),
            "sqlite:///tmp/x.db"
        );
    }
}
