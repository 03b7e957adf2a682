//! The identity model: users, organizations, roles, tokens, device
//! authorizations and audit events, as the store returns them.

use crate::clock::Timestamp;
use std::fmt;
use std::sync::Arc;

pub use devauth_proto::{
    DeviceStatus, Role, Scope, SignInMethod, TokenKind, TokenState, parse_scopes, scopes_to_text,
};

/// What a role may do, beside its name on the wire.
pub trait RoleExt {
    /// Owners and admins.
    fn administers(self) -> bool;
    /// Whether the role has `scope`. Scopes on a token can only narrow this.
    fn grants(self, scope: Scope) -> bool;
}

impl RoleExt for Role {
    fn administers(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    fn grants(self, scope: Scope) -> bool {
        match scope {
            Scope::ProfileRead | Scope::TokensRead | Scope::TokensWrite => true,
            Scope::OrgAdmin => self.administers(),
        }
    }
}

/// Declares an id newtype: text on the wire and in the database, but a
/// type of its own, so that a user's id cannot be passed where an org's is
/// wanted.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(crate::secret::new_id())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                Self(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self(text.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

id_type!(
    /// The id of a user.
    UserId
);
id_type!(
    /// The id of an organization.
    OrgId
);
id_type!(
    /// The id of a token (not its secret).
    TokenId
);

/// A person who signs in.
#[derive(Clone)]
pub struct User {
    /// Opaque row id.
    pub id: UserId,
    /// Sign-in email, unique without regard to case.
    pub email: String,
    /// Display name.
    pub name: String,
    /// The argon2id PHC string; `None` when no password is set.
    pub password_hash: Option<String>,
    /// When the user was disabled; `None` while active.
    pub disabled_at: Option<Timestamp>,
    /// When the user was created.
    pub created_at: Timestamp,
}

/// Never the password hash.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("disabled_at", &self.disabled_at)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// An organization: tokens and memberships belong to one.
#[derive(Debug, Clone)]
pub struct Org {
    /// Opaque row id.
    pub id: OrgId,
    /// Unique short name, used in URLs and the CLI.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// When the org was created.
    pub created_at: Timestamp,
}

/// A user in an org, with their role there.
#[derive(Debug, Clone)]
pub struct Member {
    /// The member.
    pub user: User,
    /// Their role in the org.
    pub role: Role,
    /// When they were added to the org.
    pub joined_at: Timestamp,
}

/// A token as stored: never the secret, only its hash and hint.
#[derive(Debug, Clone)]
pub struct Token {
    /// Opaque row id.
    pub id: TokenId,
    /// SHA-256 of the secret, lowercase hex.
    pub hash: String,
    /// The secret's ends (`dva_1a2b…9f0e`), for lists.
    pub hint: String,
    /// The name given at creation (a device token: the device name, else the client id).
    pub name: String,
    /// Device, personal or service.
    pub kind: TokenKind,
    /// The user it acts for; `None` for service tokens.
    pub user_id: Option<UserId>,
    /// That user's email, joined in for lists.
    pub user_email: Option<String>,
    /// The org the token acts in.
    pub org_id: OrgId,
    /// That org's slug, joined in for lists.
    pub org_slug: String,
    /// What the token is limited to (empty: the holder's full role).
    pub scopes: Vec<Scope>,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working; `None` for never.
    pub expires_at: Option<Timestamp>,
    /// When it last authenticated a request.
    pub last_used_at: Option<Timestamp>,
    /// The client IP of that request.
    pub last_used_ip: Option<String>,
    /// Its `User-Agent` (at most 200 characters).
    pub last_used_agent: Option<String>,
    /// When it was revoked; `None` while not revoked.
    pub revoked_at: Option<Timestamp>,
    /// Who revoked it (an actor label: an email, a token hint or `system`).
    pub revoked_by: Option<String>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}

impl Token {
    /// Whether it has expired by `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Neither revoked nor expired at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && !self.is_expired(now)
    }

    /// Active, expired or revoked, for lists.
    pub fn state(&self, now: Timestamp) -> TokenState {
        if self.revoked_at.is_some() {
            TokenState::Revoked
        } else if self.is_expired(now) {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }
}

/// A token about to be stored; the caller holds the secret.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Opaque row id.
    pub id: TokenId,
    /// SHA-256 of the secret, lowercase hex.
    pub hash: String,
    /// The secret's ends (`dva_1a2b…9f0e`), for lists.
    pub hint: String,
    /// The name given at creation.
    pub name: String,
    /// Device, personal or service.
    pub kind: TokenKind,
    /// The user it acts for; `None` for service tokens.
    pub user_id: Option<UserId>,
    /// The org the token acts in.
    pub org_id: OrgId,
    /// What the token is limited to (empty: the holder's full role).
    pub scopes: Vec<Scope>,
    /// When it is issued.
    pub created_at: Timestamp,
    /// When it stops working; `None` for never.
    pub expires_at: Option<Timestamp>,
}

/// An authenticated token with what it acts as right now.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    /// The token itself.
    pub token: Arc<Token>,
    /// Its user; `None` for service tokens.
    pub user: Option<Arc<User>>,
    /// The org it acts in.
    pub org: Arc<Org>,
    /// The member's current role; `None` for service tokens.
    pub role: Option<Role>,
}

/// A device authorization request, as stored (never its codes).
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    /// Opaque row id.
    pub id: String,
    /// The registered client that started the request.
    pub client_id: String,
    /// The name the device gave, if any.
    pub device_name: Option<String>,
    /// The org the device asked for (`org` on the request), if any.
    pub org_hint: Option<String>,
    /// The IP the request came from.
    pub requester_ip: Option<String>,
    /// The requesting device's `User-Agent`.
    pub user_agent: Option<String>,
    /// Where the request is, from pending to redeemed.
    pub status: DeviceStatus,
    /// Seconds the device must wait between polls; `slow_down` lengthens it.
    pub interval_secs: i64,
    /// When the device last polled the token endpoint.
    pub last_poll_at: Option<Timestamp>,
    /// When the request was made.
    pub created_at: Timestamp,
    /// When the codes stop working.
    pub expires_at: Timestamp,
    /// The user who approved or denied it.
    pub approved_by: Option<UserId>,
    /// The org it was approved into.
    pub org_id: Option<OrgId>,
    /// What the device token will carry (empty: the approver's full role).
    pub scopes: Vec<Scope>,
    /// The device token's lifetime the approver chose, days (`None`: the
    /// server's default).
    pub token_days: Option<i64>,
    /// When it was approved or denied.
    pub decided_at: Option<Timestamp>,
    /// The token it was redeemed for.
    pub token_id: Option<TokenId>,
}

/// A device authorization about to be stored; the caller holds the codes.
#[derive(Debug, Clone)]
pub struct NewDeviceAuthorization {
    /// Opaque row id.
    pub id: String,
    /// SHA-256 of the device code, lowercase hex.
    pub device_code_hash: String,
    /// SHA-256 of the user code (normalized, without the dash), lowercase hex.
    pub user_code_hash: String,
    /// The registered client that started the request.
    pub client_id: String,
    /// The name the device gave, if any.
    pub device_name: Option<String>,
    /// The org the device asked for, if any.
    pub org_hint: Option<String>,
    /// The IP the request came from.
    pub requester_ip: Option<String>,
    /// The requesting device's `User-Agent`.
    pub user_agent: Option<String>,
    /// Seconds the device must wait between polls.
    pub interval_secs: i64,
    /// When the request is made.
    pub created_at: Timestamp,
    /// When the codes stop working.
    pub expires_at: Timestamp,
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A user, signed in or through one of their tokens.
    User {
        /// The user's id.
        id: String,
        /// The user's email.
        email: String,
    },
    /// A token acting on its own: a service token, or a token revoking
    /// itself or first seen from a new IP.
    Token {
        /// The token's id.
        id: String,
        /// The token's hint.
        hint: String,
    },
    /// The admin CLI, or the server on its own behalf.
    System,
    /// An unauthenticated request: a device in the flow, a failed sign-in or setup claim.
    Anonymous,
}

impl Actor {
    /// A user, as the audit log names them.
    pub fn of_user(user: &User) -> Actor {
        Actor::User {
            id: user.id.to_string(),
            email: user.email.clone(),
        }
    }

    /// A token, as the audit log names it.
    pub fn of_token(token: &Token) -> Actor {
        Actor::Token {
            id: token.id.to_string(),
            hint: token.hint.clone(),
        }
    }

    /// `user`, `token`, `system` or `anonymous`, as the audit log stores it.
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User { .. } => "user",
            Actor::Token { .. } => "token",
            Actor::System => "system",
            Actor::Anonymous => "anonymous",
        }
    }

    /// The user's or token's id; `None` for the system and anonymous.
    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::User { id, .. } | Actor::Token { id, .. } => Some(id),
            Actor::System | Actor::Anonymous => None,
        }
    }

    /// A readable label: the email or the token hint.
    pub fn label(&self) -> String {
        match self {
            Actor::User { email, .. } => email.clone(),
            Actor::Token { hint, .. } => hint.clone(),
            Actor::System => "system".into(),
            Actor::Anonymous => "anonymous".into(),
        }
    }
}

/// Where a request came from, for audit events.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The client IP.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id the server assigned.
    pub request_id: Option<String>,
}

impl RequestMeta {
    /// The key per-IP limits count this client under: its address, an IPv6
    /// client's /64, or `-` when there is no address.
    pub fn ip_key(&self) -> String {
        self.ip
            .as_deref()
            .and_then(|ip| ip.parse().ok())
            .map_or_else(|| "-".to_string(), crate::client_ip::limit_key)
    }
}

/// What an audit event records. The text (`token.revoked`) is what the
/// log stores and its filters match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A device asked for a code.
    DeviceRequested,
    /// Someone typed a user code that matches no request.
    DeviceCodeFailed,
    /// A device request was approved into an org.
    DeviceApproved,
    /// A device request was denied.
    DeviceDenied,
    /// An org's device policy refused an approval.
    DevicePolicyDenied,
    /// An org's device policy, in report mode, would have refused an approval.
    DevicePolicyWouldDeny,
    /// An org's device policy was changed.
    OrgPolicyChanged,
    /// A sign-in on the pages failed.
    LoginFailed,
    /// A sign-in on the pages worked.
    LoginSucceeded,
    /// A user joined an org.
    MemberAdded,
    /// A member left (and their tokens there were revoked).
    MemberRemoved,
    /// A member's role changed.
    MemberRoleChanged,
    /// An org was made.
    OrgCreated,
    /// A setup claim came with a wrong setup token.
    SetupClaimFailed,
    /// The first owner claimed setup.
    SetupClaimed,
    /// A token was issued (created, rotated in, or redeemed by a device).
    TokenIssued,
    /// A token was used from an address it had not been used from before.
    TokenNewIp,
    /// A token was revoked.
    TokenRevoked,
    /// All of a user's tokens (in an org, or everywhere) were revoked.
    TokenRevokedAll,
    /// A token was replaced by a new one.
    TokenRotated,
    /// A user was made.
    UserCreated,
    /// A user was disabled (and their tokens revoked).
    UserDisabled,
    /// A user changed their password (their other sessions ended).
    PasswordChanged,
    /// Someone was invited to an org.
    InvitationCreated,
    /// An invitation was withdrawn.
    InvitationWithdrawn,
    /// An invitation was accepted (the person joined the org).
    InvitationAccepted,
    /// A password reset link was made for a user.
    PasswordResetCreated,
    /// A user set a new password with a reset link (every session ended).
    PasswordReset,
    /// Someone signed in through a single sign-on provider.
    SsoSignedIn,
    /// A single sign-on identity was linked to an account.
    SsoLinked,
    /// A single sign-on identity was unlinked from an account.
    SsoUnlinked,
    /// A provider's answer was refused (no account, a domain not allowed, a
    /// mismatched state, nonce or issuer).
    SsoRefused,
    /// A passkey was registered.
    PasskeyAdded,
    /// A passkey was removed.
    PasskeyRemoved,
    /// Someone signed in with a passkey.
    PasskeySignedIn,
    /// A passkey sign-in or registration was refused.
    PasskeyRefused,
}

impl AuditAction {
    /// Every action, in the order a filter lists them.
    pub const ALL: [AuditAction; 36] = [
        AuditAction::DeviceRequested,
        AuditAction::DeviceApproved,
        AuditAction::DeviceDenied,
        AuditAction::DeviceCodeFailed,
        AuditAction::DevicePolicyDenied,
        AuditAction::DevicePolicyWouldDeny,
        AuditAction::TokenIssued,
        AuditAction::TokenRotated,
        AuditAction::TokenRevoked,
        AuditAction::TokenRevokedAll,
        AuditAction::TokenNewIp,
        AuditAction::InvitationCreated,
        AuditAction::InvitationAccepted,
        AuditAction::InvitationWithdrawn,
        AuditAction::MemberAdded,
        AuditAction::MemberRoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::OrgCreated,
        AuditAction::OrgPolicyChanged,
        AuditAction::LoginSucceeded,
        AuditAction::LoginFailed,
        AuditAction::SsoSignedIn,
        AuditAction::SsoRefused,
        AuditAction::SsoLinked,
        AuditAction::SsoUnlinked,
        AuditAction::PasskeySignedIn,
        AuditAction::PasskeyRefused,
        AuditAction::PasskeyAdded,
        AuditAction::PasskeyRemoved,
        AuditAction::UserCreated,
        AuditAction::UserDisabled,
        AuditAction::PasswordChanged,
        AuditAction::PasswordResetCreated,
        AuditAction::PasswordReset,
        AuditAction::SetupClaimed,
        AuditAction::SetupClaimFailed,
    ];

    /// What happened, in words ("Token revoked").
    pub fn words(self) -> &'static str {
        match self {
            AuditAction::DeviceRequested => "Device asked to sign in",
            AuditAction::DeviceCodeFailed => "Wrong device code typed",
            AuditAction::DeviceApproved => "Device sign-in approved",
            AuditAction::DeviceDenied => "Device sign-in denied",
            AuditAction::DevicePolicyDenied => "Device refused by policy",
            AuditAction::DevicePolicyWouldDeny => "Device policy would refuse",
            AuditAction::OrgPolicyChanged => "Device policy changed",
            AuditAction::LoginFailed => "Sign-in failed",
            AuditAction::LoginSucceeded => "Signed in",
            AuditAction::MemberAdded => "Member added",
            AuditAction::MemberRemoved => "Member removed",
            AuditAction::MemberRoleChanged => "Role changed",
            AuditAction::OrgCreated => "Organization created",
            AuditAction::SetupClaimFailed => "Setup claim refused",
            AuditAction::SetupClaimed => "Setup claimed",
            AuditAction::TokenIssued => "Token issued",
            AuditAction::TokenNewIp => "Token used from a new address",
            AuditAction::TokenRevoked => "Token revoked",
            AuditAction::TokenRevokedAll => "All tokens revoked",
            AuditAction::TokenRotated => "Token rotated",
            AuditAction::UserCreated => "User created",
            AuditAction::UserDisabled => "User disabled",
            AuditAction::PasswordChanged => "Password changed",
            AuditAction::InvitationCreated => "Invitation sent",
            AuditAction::InvitationWithdrawn => "Invitation withdrawn",
            AuditAction::InvitationAccepted => "Invitation accepted",
            AuditAction::PasswordResetCreated => "Password reset link made",
            AuditAction::PasswordReset => "Password reset",
            AuditAction::SsoSignedIn => "Signed in with single sign-on",
            AuditAction::SsoLinked => "Single sign-on connected",
            AuditAction::SsoUnlinked => "Single sign-on disconnected",
            AuditAction::SsoRefused => "Single sign-on refused",
            AuditAction::PasskeyAdded => "Passkey added",
            AuditAction::PasskeyRemoved => "Passkey removed",
            AuditAction::PasskeySignedIn => "Signed in with a passkey",
            AuditAction::PasskeyRefused => "Passkey refused",
        }
    }

    /// The action a stored text names.
    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// The text the log stores.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::DeviceRequested => "device.requested",
            AuditAction::DeviceCodeFailed => "device.code_failed",
            AuditAction::DeviceApproved => "device.approved",
            AuditAction::DeviceDenied => "device.denied",
            AuditAction::DevicePolicyDenied => "device.policy_denied",
            AuditAction::DevicePolicyWouldDeny => "device.policy_would_deny",
            AuditAction::OrgPolicyChanged => "org.policy_changed",
            AuditAction::LoginFailed => "login.failed",
            AuditAction::LoginSucceeded => "login.succeeded",
            AuditAction::MemberAdded => "member.added",
            AuditAction::MemberRemoved => "member.removed",
            AuditAction::MemberRoleChanged => "member.role_changed",
            AuditAction::OrgCreated => "org.created",
            AuditAction::SetupClaimFailed => "setup.claim_failed",
            AuditAction::SetupClaimed => "setup.claimed",
            AuditAction::TokenIssued => "token.issued",
            AuditAction::TokenNewIp => "token.new_ip",
            AuditAction::TokenRevoked => "token.revoked",
            AuditAction::TokenRevokedAll => "token.revoked_all",
            AuditAction::TokenRotated => "token.rotated",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserDisabled => "user.disabled",
            AuditAction::PasswordChanged => "user.password_changed",
            AuditAction::InvitationCreated => "invitation.created",
            AuditAction::InvitationWithdrawn => "invitation.withdrawn",
            AuditAction::InvitationAccepted => "invitation.accepted",
            AuditAction::PasswordResetCreated => "user.password_reset_created",
            AuditAction::PasswordReset => "user.password_reset",
            AuditAction::SsoSignedIn => "sso.signed_in",
            AuditAction::SsoLinked => "sso.linked",
            AuditAction::SsoUnlinked => "sso.unlinked",
            AuditAction::SsoRefused => "sso.refused",
            AuditAction::PasskeyAdded => "passkey.added",
            AuditAction::PasskeyRemoved => "passkey.removed",
            AuditAction::PasskeySignedIn => "passkey.signed_in",
            AuditAction::PasskeyRefused => "passkey.refused",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An invitation to join an org, as stored (the link's secret only hashed).
#[derive(Debug, Clone)]
pub struct Invitation {
    /// Opaque row id.
    pub id: String,
    /// SHA-256 of the link's secret, lowercase hex.
    pub secret_hash: String,
    /// The org it joins.
    pub org_id: OrgId,
    /// The address it was sent to: the account that accepts must have it.
    pub email: String,
    /// The role it gives.
    pub role: Role,
    /// Who invited (`None`: the admin CLI).
    pub invited_by: Option<UserId>,
    /// Their email, joined in for lists.
    pub invited_by_email: Option<String>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When the link stops working.
    pub expires_at: Timestamp,
    /// When it was accepted, if it was.
    pub accepted_at: Option<Timestamp>,
    /// When it was withdrawn, if it was.
    pub withdrawn_at: Option<Timestamp>,
}

/// How a sign-in method reads in a sentence ("a password").
pub fn sign_in_words(method: SignInMethod) -> &'static str {
    match method {
        SignInMethod::Password => "a password",
        SignInMethod::Sso => "single sign-on",
        SignInMethod::Passkey => "a passkey",
    }
}

/// A registered passkey, as stored.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    /// Opaque row id.
    pub id: String,
    /// Whose it is.
    pub user_id: UserId,
    /// The credential's id, hex.
    pub credential_id: String,
    /// What its owner called it ("work laptop").
    pub name: String,
    /// The credential as webauthn-rs keeps it (public key, counter), JSON.
    pub passkey: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last signed in.
    pub last_used_at: Option<Timestamp>,
}

/// A passkey registration or sign-in under way (see `passkey_ceremonies`).
#[derive(Debug, Clone)]
pub struct PasskeyCeremony {
    /// SHA-256 of the id the browser holds.
    pub id_hash: String,
    /// SHA-256 of the pre-session cookie of the browser it began in.
    pub browser_hash: String,
    /// `register` or `sign_in`.
    pub kind: String,
    /// Registration: whose passkey it is.
    pub user_id: Option<UserId>,
    /// Registration: the name it gets.
    pub name: Option<String>,
    /// The local path to go to after.
    pub next: String,
    /// The challenge's state, JSON.
    pub state: String,
    /// When it began.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// An account's identity at a single sign-on provider.
#[derive(Debug, Clone)]
pub struct SsoIdentity {
    /// The provider's id in the server's configuration.
    pub provider: String,
    /// The ID token's `sub` at that provider.
    pub subject: String,
    /// The account it signs in to.
    pub user_id: UserId,
    /// The verified email the provider gave when it was linked.
    pub email: String,
    /// When it was linked.
    pub created_at: Timestamp,
    /// When it last signed in.
    pub last_used_at: Option<Timestamp>,
}

/// A sign-in through a provider under way (see the `sso_attempts` table).
#[derive(Debug, Clone)]
pub struct SsoAttempt {
    /// SHA-256 of its `state`, lowercase hex.
    pub id_hash: String,
    /// The provider's id.
    pub provider: String,
    /// SHA-256 of the pre-session cookie of the browser it began in.
    pub browser_hash: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier the code is redeemed with.
    pub pkce_verifier: String,
    /// The local path to go to after.
    pub next: String,
    /// SHA-256 of the secret of the invitation it accepts.
    pub invite_hash: Option<String>,
    /// Asked the provider for a fresh sign-in (to approve a device).
    pub fresh: bool,
    /// Waiting for the password of the account with this identity's email:
    /// the identity's subject and email.
    pub link: Option<(String, String)>,
    /// When it began.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A password reset link, as stored (the secret only hashed).
#[derive(Debug, Clone)]
pub struct PasswordReset {
    /// Opaque row id.
    pub id: String,
    /// SHA-256 of the link's secret, lowercase hex.
    pub secret_hash: String,
    /// Whose password it sets.
    pub user_id: UserId,
    /// Who made it (`None`: the admin CLI).
    pub created_by: Option<UserId>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When the link stops working.
    pub expires_at: Timestamp,
    /// When it was used, if it was.
    pub used_at: Option<Timestamp>,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    /// It can be accepted.
    Pending,
    /// Somebody accepted it.
    Accepted,
    /// An admin withdrew it.
    Withdrawn,
    /// It expired unused.
    Expired,
}

impl Invitation {
    /// Its state at `now`.
    pub fn state(&self, now: Timestamp) -> InvitationState {
        if self.accepted_at.is_some() {
            InvitationState::Accepted
        } else if self.withdrawn_at.is_some() {
            InvitationState::Withdrawn
        } else if now >= self.expires_at {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        }
    }
}

/// One audit record.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// Increasing event id; pages go backwards by it.
    pub id: i64,
    /// When it happened.
    pub at: Timestamp,
    /// `user`, `token`, `system` or `anonymous`.
    pub actor_kind: String,
    /// The acting user's or token's id, if any.
    pub actor_id: Option<String>,
    /// A readable label for the actor: the email, the token hint, `system` or `anonymous`.
    pub actor: String,
    /// What happened, such as `token.revoked`.
    pub action: String,
    /// What it happened to (a token or request id, an email, a slug), if any.
    pub target: Option<String>,
    /// The org it happened in, if any.
    pub org_id: Option<String>,
    /// The client IP of the request.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id, to match the event with logs.
    pub request_id: Option<String>,
    /// Free text with more about it.
    pub detail: Option<String>,
}

/// An audit record to write, usually in the same transaction as the change it records.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    pub actor: Actor,
    /// What happened, such as `token.revoked`.
    pub action: AuditAction,
    /// What it happened to (a token or request id, an email, a slug), if any.
    pub target: Option<String>,
    /// The org it happened in, if any.
    pub org_id: Option<String>,
    /// Where the request came from.
    pub meta: RequestMeta,
    /// Free text with more about it.
    pub detail: Option<String>,
}

impl NewAuditEvent {
    /// An event with no target, org or detail; `target`, `org` and `detail` add them.
    pub fn new(at: Timestamp, actor: Actor, action: AuditAction, meta: &RequestMeta) -> Self {
        Self {
            at,
            actor,
            action,
            target: None,
            org_id: None,
            meta: meta.clone(),
            detail: None,
        }
    }

    /// Sets what it happened to.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the org it happened in.
    pub fn org(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = Some(org_id.into());
        self
    }

    /// Sets the free-text detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Filters for the audit log; `before` pages backwards by event id.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only events in this org.
    pub org_id: Option<OrgId>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor, by label or id.
    pub actor: Option<String>,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// Only events at or before this time.
    pub until: Option<Timestamp>,
    /// Only events with a smaller id (the next page).
    pub before: Option<i64>,
    /// Only events with a larger id: the nearest ones (the page before).
    pub after: Option<i64>,
    /// At most this many events, newest first.
    pub limit: i64,
}

/// Filters for token lists.
#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    /// Only tokens of this org.
    pub org_id: Option<OrgId>,
    /// Only tokens of this user.
    pub user_id: Option<UserId>,
    /// Only tokens neither revoked nor expired at this time.
    pub active_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests;
