use super::*;

#[test]
fn roles_grant_scopes() {
    assert!(Role::Admin.grants(Scope::OrgAdmin));
    assert!(!Role::Member.grants(Scope::OrgAdmin));
    assert!(Role::Viewer.grants(Scope::ProfileRead));
}

#[test]
fn a_users_debug_never_shows_the_password_hash() {
    let user = User {
        id: "u1".into(),
        email: "a@example.com".into(),
        name: "A".into(),
        password_hash: Some("$argon2id$v=19$secret-hash".into()),
        disabled_at: None,
        created_at: 0,
    };
    let shown = format!("{user:?}");
    assert!(
        shown.contains("a@example.com") && !shown.contains("argon2id"),
        "{shown}"
    );
}
