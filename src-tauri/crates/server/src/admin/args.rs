//! The admin CLI's arguments (clap): one enum per noun, one variant per verb.

use crate::model::*;
use clap::{Args, Subcommand};

/// The admin CLI's commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage memberships and roles.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Create, list and revoke tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Invite an email address into an organization: prints the link, which
    /// works once, for 7 days (only its hash is kept).
    Invite {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// The address to invite.
        #[arg(long)]
        email: String,
        /// The role: owner, admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: Role,
    },
    /// Show the audit log, newest first.
    Audit(AuditArgs),
    /// Delete expired device authorizations, sessions and rate limit windows
    /// now (a running server also does it hourly); audit events only with a
    /// retention set.
    Purge {
        /// Days audit events are kept; 0: for ever.
        #[arg(long, env = "DEVAUTH_AUDIT_RETENTION_DAYS", default_value_t = 0)]
        audit_retention_days: i64,
    },
}

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. With --password-stdin the first line of stdin is the password.
    Add {
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// The user's display name.
        #[arg(long)]
        name: String,
        /// Read the password from the first line of stdin (without it the user has no password).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a one-time password reset link for a user (an hour; setting a
    /// password with it signs out every browser of theirs).
    ResetLink {
        /// The user's email address or id.
        user: String,
    },
    /// Disable a user and revoke all their tokens.
    Disable {
        /// The user's email address or id.
        email: String,
    },
    /// List users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `org` subcommands.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Add an organization.
    Add {
        /// The organization's slug: 2-40 lowercase letters, digits and dashes.
        slug: String,
        /// The organization's display name.
        #[arg(long)]
        name: String,
    },
    /// List organizations.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `member` subcommands.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a user to an organization.
    Add {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// The user's email address or id.
        #[arg(long)]
        user: String,
        /// The role: owner, admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: Role,
    },
    /// Change a member's role (applies to their tokens at once).
    SetRole {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// The user's email address or id.
        #[arg(long)]
        user: String,
        /// The new role: owner, admin, member or viewer.
        #[arg(long)]
        role: Role,
    },
    /// Remove a member and revoke their tokens in the organization.
    Remove {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// The user's email address or id.
        #[arg(long)]
        user: String,
    },
    /// List an organization's members.
    List {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a personal token (--user, --org) or a service token (--service, --org). Printed once.
    Create {
        /// The token's user, by email address or id (for a personal token).
        #[arg(long, required_unless_present = "service")]
        user: Option<String>,
        /// Create a service token of the organization, with no user.
        #[arg(long)]
        service: bool,
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// A name for the token.
        #[arg(long)]
        name: String,
        /// 30d, 90d, 365d, never, or YYYY-MM-DD.
        #[arg(long)]
        expires: Option<String>,
        /// Restrict to these scopes (profile:read tokens:read tokens:write org:admin).
        #[arg(long = "scope", num_args = 1..)]
        scopes: Vec<String>,
        /// Print JSON (with the token) instead of plain text.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their values).
    List {
        /// Only tokens of this organization (slug).
        #[arg(long)]
        org: Option<String>,
        /// Only tokens of this user (email address or id).
        #[arg(long)]
        user: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke one token by id, or every token of a user with --all --user.
    Revoke {
        /// The token's id (see `token list`).
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        /// Revoke every active token of --user, in every organization.
        #[arg(long, requires = "user")]
        all: bool,
        /// The user whose tokens to revoke, by email address or id.
        #[arg(long)]
        user: Option<String>,
        /// Why, as the token list and audit log show it.
        #[arg(long, default_value = "revoked by an administrator")]
        reason: String,
    },
}

/// Options of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this organization's events (its slug).
    #[arg(long)]
    pub(super) org: Option<String>,
    /// Only this action, e.g. `token.revoked`.
    #[arg(long)]
    pub(super) action: Option<String>,
    /// How many events, newest first (1 to 10000).
    #[arg(long, default_value_t = 50)]
    pub(super) limit: i64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(super) json: bool,
}
