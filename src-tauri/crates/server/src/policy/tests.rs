//! Exhaustive over the small world the policy sees: every principal kind,
//! role and scope set, against every target token of the same or another
//! org. Whatever the policy allows to be minted, approved or rotated must
//! be covered by the principal's own power.

use super::*;
use crate::model::{Org, OrgId, User, UserId};
use std::sync::{Arc, LazyLock};

static A: LazyLock<OrgId> = LazyLock::new(|| OrgId::from("a"));
static B: LazyLock<OrgId> = LazyLock::new(|| OrgId::from("b"));
static V: LazyLock<UserId> = LazyLock::new(|| UserId::from("v"));

/// An org whose id, slug and name are `id` (other modules' tests use it too).
pub(crate) fn org(id: &str) -> Arc<Org> {
    Arc::new(Org {
        id: id.into(),
        slug: id.into(),
        name: id.into(),
        created_at: 0,
    })
}

fn user(id: &str) -> Arc<User> {
    Arc::new(User {
        id: id.into(),
        email: format!("{id}@example.com"),
        name: id.into(),
        password_hash: None,
        disabled_at: None,
        created_at: 0,
    })
}

/// A live token of `kind` (other modules' tests use it too).
pub(crate) fn token(
    id: &str,
    kind: TokenKind,
    user: Option<&str>,
    org: &str,
    scopes: Scopes,
) -> Token {
    Token {
        id: id.into(),
        hash: String::new(),
        hint: String::new(),
        name: id.into(),
        kind,
        user_id: user.map(UserId::from),
        user_email: None,
        org_id: org.into(),
        org_slug: org.into(),
        scopes: scopes.to_vec(),
        created_at: 0,
        expires_at: None,
        last_used_at: None,
        last_used_ip: None,
        last_used_agent: None,
        revoked_at: None,
        revoked_by: None,
        revoked_reason: None,
    }
}

fn subsets() -> impl Iterator<Item = Scopes> {
    (0u8..16).map(Scopes)
}

/// Every principal of user `u` (or a service token) in org `a`.
fn principals() -> Vec<Principal> {
    let mut out = Vec::new();
    for role in Role::ALL {
        out.push(Principal::session_in(user("u"), org("a"), Some(*role)));
        for scopes in subsets() {
            out.push(Principal::UserToken {
                user: user("u"),
                org: org("a"),
                role: *role,
                token: Arc::new(token("p", TokenKind::Personal, Some("u"), "a", scopes)),
            });
        }
    }
    for scopes in subsets() {
        out.push(Principal::Service {
            org: org("a"),
            token: Arc::new(token("s", TokenKind::Service, None, "a", scopes)),
        });
    }
    out
}

fn own_power(p: &Principal) -> Power {
    p.power_in(&A)
}

#[test]
fn what_is_minted_is_covered_by_its_maker() {
    for p in principals() {
        for requested in subsets() {
            let asked = requested.to_vec();
            let scopes = if asked.is_empty() {
                p.inherited_scopes()
            } else {
                asked
            };
            let personal = Act::MintPersonal {
                org_id: &A,
                scopes: &scopes,
            };
            if check(&p, personal).is_ok() {
                let made = Power::of_member(p.role().unwrap_or(Role::Viewer), &scopes);
                assert!(own_power(&p).covers(made), "{p:?} minted {scopes:?}");
            }
            let service = Act::MintService {
                org_id: &A,
                scopes: &scopes,
            };
            if check(&p, service).is_ok() {
                assert!(own_power(&p).covers(Power::of_service(&scopes)), "{p:?}");
            }
            let elsewhere = Act::MintPersonal {
                org_id: &B,
                scopes: &scopes,
            };
            assert!(check(&p, elsewhere).is_err(), "{p:?}");
            let elsewhere = Act::MintService {
                org_id: &B,
                scopes: &scopes,
            };
            assert!(check(&p, elsewhere).is_err(), "{p:?}");
        }
    }
}

#[test]
fn a_device_approved_gets_no_more_than_its_approver() {
    for p in principals() {
        if check(&p, Act::ApproveDevice { org_id: &A }).is_ok() {
            let made = Power::of_member(p.role().unwrap_or(Role::Viewer), &p.inherited_scopes());
            assert!(own_power(&p).covers(made), "{p:?}");
            assert!(p.user().is_some(), "{p:?}: approvals need a person");
        }
        assert!(
            check(&p, Act::ApproveDevice { org_id: &B }).is_err(),
            "{p:?}"
        );
    }
}

#[test]
fn rotation_hands_secrets_only_to_their_owner_and_never_more_power() {
    for p in principals() {
        for kind in TokenKind::ALL {
            for holder in ["u", "v"] {
                for scopes in subsets() {
                    for holder_role in Role::ALL {
                        for org_id in ["a", "b"] {
                            let user = (*kind != TokenKind::Service).then_some(holder);
                            let target = token("t", *kind, user, org_id, scopes);
                            let t = Target {
                                token: &target,
                                holder_role: user.map(|_| *holder_role),
                            };
                            if check(&p, Act::Rotate(t)).is_err() {
                                continue;
                            }
                            assert_eq!(org_id, "a", "{p:?} rotated a token of another org");
                            let theirs = Power::of_token(&target, t.holder_role);
                            assert!(own_power(&p).covers(theirs), "{p:?} rotated {target:?}");
                            if *kind != TokenKind::Service {
                                assert_eq!(
                                    user,
                                    p.user_id().map(|u| u.as_str()),
                                    "{p:?} got {target:?}'s secret"
                                );
                            } else {
                                assert!(own_power(&p).can(Scope::OrgAdmin), "{p:?}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn owner_level_acts_need_an_unscoped_owner() {
    for p in principals() {
        let owner_level = own_power(&p).owner;
        let acts = [
            Act::AddMember {
                org_id: &A,
                role: Role::Owner,
            },
            Act::ChangeRole {
                org_id: &A,
                from: Role::Owner,
                to: Role::Admin,
            },
            Act::ChangeRole {
                org_id: &A,
                from: Role::Member,
                to: Role::Owner,
            },
            Act::RemoveMember {
                org_id: &A,
                role: Role::Owner,
            },
            Act::RevokeAllOf {
                org_id: &A,
                user_id: &V,
                role: Role::Owner,
            },
        ];
        for act in acts {
            assert_eq!(check(&p, act).is_ok(), owner_level, "{p:?} {act:?}");
        }
        let scoped = p.token().is_some_and(|t| !t.scopes.is_empty());
        let is_owner = p.role() == Some(Role::Owner);
        let expected = is_owner && !scoped && !matches!(p, Principal::Service { .. });
        assert_eq!(owner_level, expected, "{p:?}");
    }
}

#[test]
fn service_tokens_change_no_memberships_and_the_system_approves_nothing() {
    for p in principals()
        .iter()
        .filter(|p| matches!(p, Principal::Service { .. }))
    {
        let change = Act::ChangeRole {
            org_id: &A,
            from: Role::Member,
            to: Role::Viewer,
        };
        assert!(check(p, change).is_err());
        assert!(check(p, Act::DecideDevice).is_err());
    }
    assert!(check(&Principal::System, Act::DecideDevice).is_err());
    assert!(check(&Principal::System, Act::DisableUser).is_ok());
}
