//! No privilege amplification, as a property: random sequences of mints,
//! rotations, device approvals, role changes, removals and revocations by
//! random principals, through the real HTTP API. After every step:
//!
//! - a token made in that step can do no more than the credential that made
//!   it could at that moment, belongs to the same org, and its secret went to
//!   its own user (a service token: to an owner or admin of its org);
//! - every live token can do no more than its creator's credential allows
//!   today: a token made by a scoped or service credential keeps within the
//!   scopes that credential had, whatever happens to roles afterwards.
//!
//! The powers are computed here from the data (roles, scopes), independently
//! of the server's policy module.

use devauth_harness::*;
use devauth_server::model::{Role, TokenKind};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::json;

const SCOPES: [&str; 4] = ["profile:read", "tokens:read", "tokens:write", "org:admin"];
const USERS: [&str; 5] = [
    OWNER_EMAIL,
    "owen@example.com",
    "adam@example.com",
    "mona@example.com",
    "vic@example.com",
];

/// What a token can do: scope bits and owner-level acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Power {
    bits: u8,
    owner: bool,
}

impl Power {
    fn covers(self, other: Power) -> bool {
        other.bits & !self.bits == 0 && (self.owner || !other.owner)
    }
}

fn bits(scopes: &[String]) -> u8 {
    scopes
        .iter()
        .filter_map(|s| SCOPES.iter().position(|x| x == s))
        .fold(0, |b, i| b | 1 << i)
}

fn role_bits(role: Role) -> u8 {
    match role {
        Role::Owner | Role::Admin => 0b1111,
        Role::Member | Role::Viewer => 0b0111,
    }
}

/// A token's power from its kind, its user's role now and its scopes.
fn power(kind: TokenKind, role: Option<Role>, scopes: &[String]) -> Power {
    match (kind, role) {
        (TokenKind::Service, _) => Power {
            bits: if scopes.is_empty() { 1 } else { bits(scopes) },
            owner: false,
        },
        (_, None) => Power {
            bits: 0,
            owner: false,
        },
        (_, Some(role)) if scopes.is_empty() => Power {
            bits: role_bits(role),
            owner: role == Role::Owner,
        },
        (_, Some(role)) => Power {
            bits: role_bits(role) & bits(scopes),
            owner: false,
        },
    }
}

/// A token the run knows the secret of, and what made it.
#[derive(Debug, Clone)]
struct Known {
    secret: String,
    id: String,
    /// For tokens made by a scoped or service credential: the scope bits it
    /// had then. `None`: made by an unscoped credential (or the system).
    ceiling: Option<u8>,
    /// The power of its maker when it was made.
    maker_power: Power,
}

#[derive(Debug, Clone)]
enum Op {
    Mint {
        actor: usize,
        service: bool,
        scopes: Option<u8>,
    },
    Rotate {
        actor: usize,
        target: usize,
    },
    Approve {
        actor: usize,
        beta: bool,
    },
    SetRole {
        actor: usize,
        user: usize,
        role: usize,
    },
    Remove {
        actor: usize,
        user: usize,
    },
    Revoke {
        actor: usize,
        target: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let idx = || 0usize..64;
    prop_oneof![
        3 => (idx(), any::<bool>(), proptest::option::of(1u8..16))
            .prop_map(|(actor, service, scopes)| Op::Mint { actor, service, scopes }),
        2 => (idx(), idx()).prop_map(|(actor, target)| Op::Rotate { actor, target }),
        2 => (idx(), any::<bool>()).prop_map(|(actor, beta)| Op::Approve { actor, beta }),
        2 => (idx(), 0usize..5, 0usize..4)
            .prop_map(|(actor, user, role)| Op::SetRole { actor, user, role }),
        1 => (idx(), 0usize..5).prop_map(|(actor, user)| Op::Remove { actor, user }),
        1 => (idx(), idx()).prop_map(|(actor, target)| Op::Revoke { actor, target }),
    ]
}

struct World {
    srv: TestServer,
    known: Vec<Known>,
}

/// A token's facts now: (kind, user email, org slug, scopes, role now, live).
struct Facts {
    kind: TokenKind,
    user: Option<String>,
    org: String,
    scopes: Vec<String>,
    role: Option<Role>,
    live: bool,
}

impl World {
    async fn new(backend: Backend) -> World {
        let srv = spawn_server(backend).await;
        srv.claim().await;
        srv.add_org("beta").await;
        for (email, role) in
            USERS[1..]
                .iter()
                .zip([Role::Owner, Role::Admin, Role::Member, Role::Viewer])
        {
            srv.add_member(email, "acme", role).await;
        }
        srv.add_member(USERS[2], "beta", Role::Owner).await;
        srv.add_member(USERS[3], "beta", Role::Member).await;
        let mut known = Vec::new();
        let full = Power {
            bits: 0b1111,
            owner: true,
        };
        let mut seed = |(secret, id): (String, String)| {
            known.push(Known {
                secret,
                id,
                ceiling: None,
                maker_power: full,
            })
        };
        for email in USERS {
            seed(srv.mint(Some(email), "acme", &[]).await);
        }
        seed(srv.mint(Some(USERS[2]), "beta", &[]).await);
        seed(srv.mint(Some(USERS[3]), "beta", &[]).await);
        seed(srv.mint(Some(USERS[3]), "acme", &["tokens:write"]).await);
        seed(srv.mint(None, "acme", &SCOPES).await);
        seed(srv.mint(None, "acme", &[]).await);
        World { srv, known }
    }

    async fn facts(&self, id: &str) -> Facts {
        let state = &self.srv.server.state;
        let token = state.store.token_by_id(&id.into()).await.ok().flatten();
        let token = token.unwrap_or_else(|| panic!("no token {id}"));
        let role = match &token.user_id {
            Some(user) => state
                .store
                .role_of(&token.org_id, user)
                .await
                .ok()
                .flatten(),
            None => None,
        };
        let disabled = match &token.user_id {
            Some(user) => state
                .store
                .user_by_id(user)
                .await
                .ok()
                .flatten()
                .is_none_or(|u| u.disabled_at.is_some()),
            None => false,
        };
        let live = token.revoked_at.is_none()
            && (token.kind == TokenKind::Service || (role.is_some() && !disabled));
        Facts {
            kind: token.kind,
            user: token.user_email.clone(),
            org: token.org_slug.clone(),
            scopes: token.scopes.iter().map(|s| s.to_string()).collect(),
            role,
            live,
        }
    }

    async fn id_of(&self, secret: &str) -> String {
        let hash = devauth_server::secret::sha256_hex(secret);
        let auth = self.srv.server.state.store.token_by_hash(&hash).await;
        let auth = auth
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("a secret of no token"));
        auth.token.id.to_string()
    }

    /// Records a token made by `maker` (with its facts from before the act),
    /// checking what must hold at the moment it is made.
    async fn made(&mut self, step: usize, before: &Facts, secret: String) {
        let id = self.id_of(&secret).await;
        let new = self.facts(&id).await;
        let maker_power = power(before.kind, before.role, &before.scopes);
        let new_power = power(new.kind, new.role, &new.scopes);
        assert!(
            maker_power.covers(new_power),
            "step {step}: a token that can do {new_power:?} was made by one that can do {maker_power:?}"
        );
        assert_eq!(
            new.org, before.org,
            "step {step}: a token made in another org"
        );
        match new.kind {
            TokenKind::Service => assert!(
                maker_power.bits & 0b1000 != 0,
                "step {step}: a service token's secret went to a non-admin"
            ),
            _ => assert_eq!(
                new.user, before.user,
                "step {step}: a secret of {:?}'s token went to {:?}",
                new.user, before.user
            ),
        }
        let ceiling = (before.kind == TokenKind::Service || !before.scopes.is_empty())
            .then_some(maker_power.bits);
        self.known.push(Known {
            secret,
            id,
            ceiling,
            maker_power,
        });
    }

    /// What must hold after every step, for every live token.
    async fn check_all(&self, step: usize) {
        for known in &self.known {
            let now = self.facts(&known.id).await;
            if !now.live {
                continue;
            }
            let power_now = power(now.kind, now.role, &now.scopes);
            let bound = match (now.kind, known.ceiling) {
                (TokenKind::Service, _) => known.maker_power,
                (_, None) => power(now.kind, now.role, &[]),
                (_, Some(ceiling)) => Power {
                    bits: now.role.map_or(0, role_bits) & ceiling,
                    owner: false,
                },
            };
            assert!(
                bound.covers(power_now),
                "step {step}: token {} can do {power_now:?}, more than its maker allows ({bound:?})",
                known.id
            );
            if known.ceiling.is_some() && now.kind != TokenKind::Service {
                assert!(
                    !now.scopes.is_empty(),
                    "step {step}: a limited maker made an unscoped token"
                );
            }
        }
    }

    async fn run(&mut self, ops: &[Op]) {
        self.check_all(0).await;
        for (step, op) in ops.iter().enumerate() {
            let step = step + 1;
            self.apply(step, op).await;
            self.check_all(step).await;
        }
    }

    async fn apply(&mut self, step: usize, op: &Op) {
        let pick = |i: usize| i % self.known.len();
        let actor_index = match op {
            Op::Mint { actor, .. }
            | Op::Rotate { actor, .. }
            | Op::Approve { actor, .. }
            | Op::SetRole { actor, .. }
            | Op::Remove { actor, .. }
            | Op::Revoke { actor, .. } => pick(*actor),
        };
        let actor = self.known[actor_index].clone();
        let before = self.facts(&actor.id).await;
        let t = Some(actor.secret.as_str());
        let srv = &self.srv;
        let reply = match op {
            Op::Mint {
                service, scopes, ..
            } => {
                let mut body = json!({"name": format!("step {step}")});
                if *service {
                    body["kind"] = json!("service");
                }
                if let Some(mask) = scopes {
                    let named: Vec<&str> = (0..4)
                        .filter(|i| mask & (1 << i) != 0)
                        .map(|i| SCOPES[i])
                        .collect();
                    body["scopes"] = json!(named);
                }
                srv.post_json("/api/tokens", t, body).await
            }
            Op::Rotate { target, .. } => {
                let id = self.known[pick(*target)].id.clone();
                srv.post_json(&format!("/api/tokens/{id}/rotate"), t, json!({}))
                    .await
            }
            Op::Revoke { target, .. } => {
                let id = self.known[pick(*target)].id.clone();
                srv.delete(&format!("/api/tokens/{id}"), t).await
            }
            Op::Approve { beta, .. } => {
                let org = if *beta { "beta" } else { "acme" };
                let started = srv.start_device("devauth-cli", "property").await;
                let reply = srv
                    .post_json(
                        "/api/device/approve",
                        t,
                        json!({"user_code": started["user_code"], "org": org}),
                    )
                    .await;
                if reply.status == 200 {
                    let code = started["device_code"].as_str().unwrap_or_default();
                    let redeemed = srv.poll(code, "devauth-cli").await;
                    if redeemed.status == 200 {
                        let secret = redeemed.body["access_token"].as_str().unwrap_or_default();
                        self.made(step, &before, secret.to_string()).await;
                    }
                }
                reply
            }
            Op::SetRole { user, role, .. } => {
                let role = ["owner", "admin", "member", "viewer"][*role];
                srv.send_json(
                    reqwest::Method::PATCH,
                    &format!("/api/orgs/acme/members/{}", USERS[*user]),
                    t,
                    json!({"role": role}),
                )
                .await
            }
            Op::Remove { user, .. } => {
                srv.delete(&format!("/api/orgs/acme/members/{}", USERS[*user]), t)
                    .await
            }
        };
        assert!(
            reply.status < 500,
            "step {step}: {op:?} answered {} {}",
            reply.status,
            reply.body
        );
        if matches!(op, Op::Mint { .. } | Op::Rotate { .. }) && reply.status == 201 {
            let secret = reply.body["token"].as_str().unwrap_or_default().to_string();
            self.made(step, &before, secret).await;
        }
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn no_amplification(backend: Backend, default_cases: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut runner = TestRunner::new(RunnerConfig {
        cases: cases(default_cases),
        max_shrink_iters: 64,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..24), |ops| {
        rt.block_on(async {
            let mut world = World::new(backend).await;
            world.run(&ops).await;
            world.srv.stop().await;
        });
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn nothing_made_can_do_more_than_its_maker_sqlite() {
    no_amplification(Backend::Sqlite, 32);
}

#[test]
fn nothing_made_can_do_more_than_its_maker_postgres() {
    if available(Backend::Postgres) {
        no_amplification(Backend::Postgres, 12);
    }
}
