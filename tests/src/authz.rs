//! The permission matrix: who may do what to which object, as one table.
//!
//! Each [`Row`] is an act on a target; each column a kind of principal (see
//! [`API_ACTORS`] and [`PAGE_ACTORS`]). A cell is `y` (allowed), `n` (refused:
//! 403, or 404 where the target is not visible to the caller) or `-` (does not
//! apply: a service token has no tokens of its own; the pages have no form for
//! it). The server tests drive every cell through the real HTTP API and pages
//! on both backends; [`markdown`] renders the same table for the README, and a
//! test fails when the two differ.
//!
//! The fixture: org `acme` with owners Olive and Oscar, admin Ada, members Mia
//! and Max, viewer Val, and Bea (admin here, owner of org `beta`); org `beta`
//! where Olive, Ada, Mia and Val are members too and Ben is a member.

/// The API principals, in column order: (label in the README, what it is).
pub const API_ACTORS: &[(&str, &str)] = &[
    ("owner", "Olive's unscoped token (owner of acme)"),
    (
        "owner·scoped",
        "Olive's token scoped to all four scopes (scoped, so not owner-level)",
    ),
    ("admin", "Ada's unscoped token (admin)"),
    ("member", "Mia's unscoped token (member)"),
    ("viewer", "Val's unscoped token (viewer)"),
    ("member·w", "Mia's token scoped to `tokens:write` only"),
    (
        "member·r",
        "Mia's token scoped to `profile:read tokens:read` (read-only)",
    ),
    (
        "service·admin",
        "a service token of acme with all four scopes",
    ),
    (
        "service",
        "a service token of acme without scopes (`profile:read`)",
    ),
    (
        "beta token",
        "Bea's token of org beta (she is owner of beta, admin of acme)",
    ),
];

/// The browser sessions, in column order.
pub const PAGE_ACTORS: &[(&str, &str)] = &[
    ("owner session", "Olive signed in"),
    ("admin session", "Ada signed in"),
    ("member session", "Mia signed in"),
];

/// Whose token an act is aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Another unscoped token of the caller's own user, in acme.
    Own,
    /// Max's token (a member).
    Member,
    /// Oscar's token (an owner).
    Owner,
    /// A service token of acme scoped to `tokens:read`.
    Service,
    /// Ben's token in org beta.
    OtherOrg,
}

/// An act the matrix tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Me,
    ListOwn,
    ListOrg,
    Read(Target),
    Revoke(Target),
    Rotate(Target),
    RevokeAllMine,
    /// Revoke all tokens of Max (false) or of Oscar, an owner (true).
    RevokeAllOf {
        owner: bool,
    },
    /// Mint a personal token with these scopes (empty: none named).
    MintPersonal(&'static [&'static str]),
    MintService(&'static [&'static str]),
    ListMembers,
    ReadAudit,
    /// Add a new user to acme with this role.
    AddMember(&'static str),
    /// Change a fresh member's role from → to.
    ChangeRole(&'static str, &'static str),
    /// Remove a fresh member who has this role.
    Remove(&'static str),
    /// Approve a device request into this org.
    Approve(&'static str),
    /// Invite a user who is not a member into acme with this role.
    Invite(&'static str),
    /// Make a password reset link for a fresh member with this role.
    ResetPassword(&'static str),
}

/// One act, what the API columns expect, and what the page columns expect
/// (`---` when the pages have no form for it).
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub label: &'static str,
    pub act: Act,
    pub api: &'static str,
    pub pages: &'static str,
}

/// A row of [`MATRIX`], cells first so the table reads as a grid.
const fn row(api: &'static str, pages: &'static str, act: Act, label: &'static str) -> Row {
    Row {
        label,
        act,
        api,
        pages,
    }
}

/// The matrix. Columns: owner, owner·scoped, admin, member, viewer, member·w,
/// member·r, service·admin, service, beta token | owner, admin, member session.
#[rustfmt::skip]
pub const MATRIX: &[Row] = &[
    //  API columns   pages  act                                  label
    row("yyyyynyyyy", "---", Act::Me,                              "GET /me"),
    row("yyyyynyyny", "---", Act::ListOwn,                         "list own tokens"),
    row("yyynnnnyny", "---", Act::ListOrg,                         "list every token of the token's org"),
    row("yyyyyny--n", "---", Act::Read(Target::Own),               "read own token"),
    row("yyynnnnynn", "---", Act::Read(Target::Member),            "read a member's token"),
    row("yyynnnnynn", "---", Act::Read(Target::Owner),             "read an owner's token"),
    row("yyynnnnynn", "---", Act::Read(Target::Service),           "read a service token"),
    row("nnnnnnnnny", "---", Act::Read(Target::OtherOrg),          "read a token of org beta"),
    row("yyyyyyn--n", "yyy", Act::Revoke(Target::Own),             "revoke own token"),
    row("yyynnnnynn", "yyn", Act::Revoke(Target::Member),          "revoke a member's token"),
    row("ynnnnnnnnn", "ynn", Act::Revoke(Target::Owner),           "revoke an owner's token"),
    row("yyynnnnynn", "yyn", Act::Revoke(Target::Service),         "revoke a service token"),
    row("nnnnnnnnny", "---", Act::Revoke(Target::OtherOrg),        "revoke a token of org beta"),
    row("ynyyynn--n", "yyy", Act::Rotate(Target::Own),             "rotate own unscoped token"),
    row("nnnnnnnnnn", "nnn", Act::Rotate(Target::Member),          "rotate a member's token"),
    row("nnnnnnnnnn", "---", Act::Rotate(Target::Owner),           "rotate an owner's token"),
    row("yyynnnnynn", "---", Act::Rotate(Target::Service),         "rotate a service token"),
    row("nnnnnnnnnn", "---", Act::Rotate(Target::OtherOrg),        "rotate a token of org beta"),
    row("yyyyyynnny", "yyy", Act::RevokeAllMine,                   "revoke all own tokens"),
    row("yyynnnnynn", "---", Act::RevokeAllOf { owner: false },    "revoke all of a member's tokens"),
    row("ynnnnnnnnn", "---", Act::RevokeAllOf { owner: true },     "revoke all of an owner's tokens"),
    row("yyyyyynnny", "yyy", Act::MintPersonal(&[]),               "mint a personal token, no scopes named (inherits the caller's)"),
    row("yyyyynnnny", "---", Act::MintPersonal(&["profile:read"]), "mint a personal token `profile:read`"),
    row("yyynnnnnny", "---", Act::MintPersonal(&["org:admin"]),    "mint a personal token `org:admin`"),
    row("yyynnnnyny", "---", Act::MintService(&[]),                "mint a service token, no scopes named"),
    row("yyynnnnyny", "yyn", Act::MintService(&["org:admin"]),     "mint a service token `org:admin`"),
    row("yyynnnnynn", "yyn", Act::ListMembers,                     "list acme's members"),
    row("yyynnnnynn", "---", Act::ReadAudit,                       "read acme's audit log"),
    row("yyynnnnnnn", "yyn", Act::AddMember("viewer"),             "add a member as viewer"),
    row("ynnnnnnnnn", "ynn", Act::AddMember("owner"),              "add a member as owner"),
    row("yyynnnnnnn", "yyn", Act::ChangeRole("member", "admin"),   "member → admin"),
    row("ynnnnnnnnn", "ynn", Act::ChangeRole("member", "owner"),   "member → owner"),
    row("ynnnnnnnnn", "ynn", Act::ChangeRole("owner", "admin"),    "owner → admin (another owner stays)"),
    row("yyynnnnnnn", "yyn", Act::ChangeRole("admin", "member"),   "admin → member"),
    row("yyynnnnnnn", "yyn", Act::Remove("member"),                "remove a member"),
    row("ynnnnnnnnn", "ynn", Act::Remove("owner"),                 "remove an owner (another owner stays)"),
    row("yyynnnnnnn", "yyn", Act::Invite("viewer"),                "invite someone as viewer"),
    row("ynnnnnnnnn", "ynn", Act::Invite("owner"),                 "invite someone as owner"),
    row("yyynnnnnnn", "yyn", Act::ResetPassword("member"),         "make a password reset link for a member"),
    row("ynnnnnnnnn", "ynn", Act::ResetPassword("owner"),          "make a password reset link for an owner (another owner stays)"),
    row("yyyyyynnnn", "yyy", Act::Approve("acme"),                 "approve a device into acme"),
    row("nnnnnnnnny", "yyy", Act::Approve("beta"),                 "approve a device into beta (the user is a member there too)"),
];

/// What a cell expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Allow,
    Deny,
    NotApplicable,
}

impl Expect {
    fn of(c: u8) -> Expect {
        match c {
            b'y' => Expect::Allow,
            b'n' => Expect::Deny,
            _ => Expect::NotApplicable,
        }
    }

    fn mark(self) -> &'static str {
        match self {
            Expect::Allow => "✓",
            Expect::Deny => "✗",
            Expect::NotApplicable => "–",
        }
    }
}

impl Row {
    pub fn api_expect(&self, column: usize) -> Expect {
        Expect::of(self.api.as_bytes()[column])
    }

    pub fn page_expect(&self, column: usize) -> Expect {
        Expect::of(self.pages.as_bytes()[column])
    }
}

/// The matrix as the README shows it.
pub fn markdown() -> String {
    let columns: Vec<&str> = API_ACTORS
        .iter()
        .chain(PAGE_ACTORS)
        .map(|(label, _)| *label)
        .collect();
    let mut out = format!("| act | {} |\n", columns.join(" | "));
    out.push_str(&format!("|---|{}\n", ":-:|".repeat(columns.len())));
    for row in MATRIX {
        let cells: Vec<&str> = (0..API_ACTORS.len())
            .map(|c| row.api_expect(c).mark())
            .chain((0..PAGE_ACTORS.len()).map(|c| row.page_expect(c).mark()))
            .collect();
        out.push_str(&format!("| {} | {} |\n", row.label, cells.join(" | ")));
    }
    out.push('\n');
    for (label, what) in API_ACTORS.iter().chain(PAGE_ACTORS) {
        out.push_str(&format!("- **{label}**: {what}\n"));
    }
    out
}

/// The README's copy of the matrix: the text between its two markers.
pub fn readme_section(readme: &str) -> Option<&str> {
    let start = readme.find(README_START)? + README_START.len();
    let end = readme[start..].find(README_END)? + start;
    Some(readme[start..end].trim_matches('\n'))
}

pub const README_START: &str =
    "<!-- permission-matrix:start (generated from tests/src/authz.rs; a test compares them) -->";
pub const README_END: &str = "<!-- permission-matrix:end -->";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_a_cell_per_column() {
        for row in MATRIX {
            assert_eq!(row.api.len(), API_ACTORS.len(), "{}", row.label);
            assert_eq!(row.pages.len(), PAGE_ACTORS.len(), "{}", row.label);
            assert!(
                row.api
                    .bytes()
                    .chain(row.pages.bytes())
                    .all(|c| b"yn-".contains(&c)),
                "{}",
                row.label
            );
        }
    }
}
