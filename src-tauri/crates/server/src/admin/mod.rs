//! The admin CLI (`devauth-server user|org|member|token|audit …`): the same
//! services the HTTP API uses, acting as `system`, on the database named by
//! `--database-url` / `DEVAUTH_DATABASE_URL`. Human tables by default,
//! `--json` for scripts; errors are one clear line and a non-zero exit.

use crate::clock::{SystemClock, rfc3339};
use crate::config::Config;
use crate::error::Error;
use crate::identity;
use crate::members;
use crate::model::*;
use crate::policy::Principal;
use crate::retention;
use crate::secret::Secret;
use crate::state::AppState;
use crate::store;
use crate::tokens::{self, TokenView};
use crate::wire;
use serde_json::json;
use std::io::Read;
use std::sync::Arc;

mod args;

pub use args::*;

/// A one-line error for the terminal.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdminError(pub String);

impl From<Error> for AdminError {
    fn from(e: Error) -> Self {
        match e.fault() {
            Some(detail) => AdminError(detail),
            None => AdminError(e.to_string()),
        }
    }
}

impl From<store::StoreError> for AdminError {
    fn from(e: store::StoreError) -> Self {
        AdminError(e.to_string())
    }
}

fn meta() -> RequestMeta {
    RequestMeta {
        ip: None,
        user_agent: Some("devauth-server admin CLI".into()),
        request_id: None,
    }
}

/// Opens the database for an admin command.
pub async fn open(database_url: Option<&str>, token_ttl_days: i64) -> Result<AppState, AdminError> {
    let url = match database_url {
        Some(url) => url.to_string(),
        None => store::default_database_url()?,
    };
    let store = store::connect(&url).await.map_err(|e| {
        AdminError(format!(
            "cannot open the database {}: {e}",
            store::redact_url(&url)
        ))
    })?;
    let config = Config {
        token_ttl_days,
        ..Config::default()
    };
    // Links the CLI prints (invitations, password resets) lead where the
    // server answers: DEVAUTH_PUBLIC_URL, else its listening address.
    let public_url = std::env::var("DEVAUTH_PUBLIC_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| {
            let addr = std::env::var("DEVAUTH_ADDR").unwrap_or_else(|_| "127.0.0.1:8750".into());
            format!("http://{addr}")
        });
    Ok(AppState::new(
        store,
        Arc::new(SystemClock),
        config,
        public_url.trim_end_matches('/').to_string(),
        None,
    ))
}

async fn org(state: &AppState, slug: &str) -> Result<Org, AdminError> {
    Ok(members::org(state, slug).await?)
}

async fn user(state: &AppState, who: &str) -> Result<User, AdminError> {
    Ok(members::find_user(state, who).await?)
}

fn read_password() -> Result<Secret, AdminError> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| AdminError(format!("cannot read the password from stdin: {e}")))?;
    Ok(Secret::new(input.lines().next().unwrap_or("").to_string()))
}

/// Prints rows as aligned columns under a header.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

fn opt_time(ts: Option<i64>) -> String {
    ts.map(rfc3339).unwrap_or_else(|| "-".into())
}

fn print_json(value: serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
}

/// Runs one admin command as the system, printing its result to stdout.
pub async fn run(state: &AppState, command: AdminCommand) -> Result<(), AdminError> {
    let system = Principal::System;
    match command {
        AdminCommand::User(UserCommand::Add {
            email,
            name,
            password_stdin,
        }) => {
            let password = if password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let user = identity::create_user(
                state,
                &email,
                &name,
                password.as_ref(),
                Actor::System,
                &meta(),
            )
            .await?;
            println!("added user {} ({})", user.email, user.id);
        }
        AdminCommand::User(UserCommand::ResetLink { user }) => {
            let target = members::find_user(state, &user).await?;
            let orgs = state.store.orgs_of_user(&target.id).await?;
            let Some((org, _)) = orgs.first() else {
                return Err(AdminError::from(crate::error::Error::invalid(format!(
                    "{} is in no organization",
                    target.email
                ))));
            };
            let made = crate::resets::create(state, &system, org, &target.email, &meta()).await?;
            let mailed = if made.mailed {
                "; mailed to them too"
            } else {
                ""
            };
            eprintln!(
                "a password reset link for {} (it works once, for an hour, and is not shown again{mailed}):",
                made.user.email
            );
            println!("{}", made.link.expose());
        }
        AdminCommand::User(UserCommand::Disable { email }) => {
            let revoked = members::disable_user(state, &system, &email, &meta()).await?;
            println!("disabled {email}; {}", crate::store::revoked_words(revoked));
        }
        AdminCommand::User(UserCommand::List { json }) => {
            let users = state.store.list_users().await?;
            if json {
                print_json(json!(users.iter().map(wire::user).collect::<Vec<_>>()));
            } else {
                let rows = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.email.clone(),
                            u.name.clone(),
                            if u.disabled_at.is_some() {
                                "disabled".into()
                            } else {
                                "active".into()
                            },
                            rfc3339(u.created_at),
                        ]
                    })
                    .collect::<Vec<_>>();
                print_table(&["EMAIL", "NAME", "STATE", "CREATED"], &rows);
            }
        }
        AdminCommand::Org(OrgCommand::Add { slug, name }) => {
            let org =
                identity::create_org(state, Some(&slug), &name, Actor::System, &meta()).await?;
            println!("added org {} ({})", org.slug, org.name);
        }
        AdminCommand::Org(OrgCommand::List { json }) => {
            let orgs = state.store.list_orgs().await?;
            if json {
                print_json(json!(orgs.iter().map(wire::org).collect::<Vec<_>>()));
            } else {
                let rows = orgs
                    .iter()
                    .map(|o| vec![o.slug.clone(), o.name.clone(), rfc3339(o.created_at)])
                    .collect::<Vec<_>>();
                print_table(&["SLUG", "NAME", "CREATED"], &rows);
            }
        }
        AdminCommand::Member(MemberCommand::Add {
            org: slug,
            user,
            role,
        }) => {
            let org = org(state, &slug).await?;
            let member = members::add(state, &system, &org, &user, role, &meta()).await?;
            println!(
                "added {} to {} as {}",
                member.user.email, org.slug, member.role
            );
        }
        AdminCommand::Invite {
            org: slug,
            email,
            role,
        } => {
            let org = org(state, &slug).await?;
            let made =
                crate::invitations::create(state, &system, &org, &email, role, &meta()).await?;
            let send = if made.mailed {
                "it was mailed to them; the link"
            } else {
                "send them this link"
            };
            eprintln!(
                "invited {} to {} as {}; {send} (it works once, for 7 days, and is not shown again):",
                made.invitation.email, org.slug, role
            );
            println!("{}", made.link.expose());
        }
        AdminCommand::Member(MemberCommand::SetRole {
            org: slug,
            user,
            role,
        }) => {
            let org = org(state, &slug).await?;
            let member = members::set_role(state, &system, &org, &user, role, &meta()).await?;
            println!(
                "{} is now {} in {}",
                member.user.email, member.role, org.slug
            );
        }
        AdminCommand::Member(MemberCommand::Remove { org: slug, user }) => {
            let org = org(state, &slug).await?;
            let revoked = members::remove(state, &system, &org, &user, &meta()).await?;
            println!(
                "removed {user} from {}; {}",
                org.slug,
                crate::store::revoked_words(revoked)
            );
        }
        AdminCommand::Member(MemberCommand::List { org: slug, json }) => {
            let org = org(state, &slug).await?;
            let members = members::list(state, &system, &org).await?;
            if json {
                print_json(json!(wire::members(&members).members));
            } else {
                let rows = members
                    .iter()
                    .map(|m| {
                        vec![
                            m.user.email.clone(),
                            m.user.name.clone(),
                            m.role.to_string(),
                            rfc3339(m.joined_at),
                        ]
                    })
                    .collect::<Vec<_>>();
                print_table(&["EMAIL", "NAME", "ROLE", "JOINED"], &rows);
            }
        }
        AdminCommand::Token(TokenCommand::Create {
            user: who,
            service,
            org: slug,
            name,
            expires,
            scopes,
            json,
        }) => {
            let org = org(state, &slug).await?;
            let scopes = parse_scopes(&scopes.join(" ")).map_err(AdminError)?;
            let (kind, holder) = if service {
                (TokenKind::Service, None)
            } else {
                let who = who
                    .ok_or_else(|| AdminError("--user is required for a personal token".into()))?;
                (TokenKind::Personal, Some(user(state, &who).await?))
            };
            let req = tokens::TokenRequest {
                name,
                kind,
                expires,
                scopes,
            };
            let issued =
                tokens::create_as_system(state, &org, holder.as_ref(), req, &meta()).await?;
            if json {
                print_json(json!(wire::issued(&issued)));
            } else {
                println!("{}", issued.token.expose());
                eprintln!(
                    "created {} token `{}` ({}), expires {}. This is the only time the token is shown.",
                    issued.info.token.kind,
                    issued.info.token.name,
                    issued.info.token.id,
                    issued
                        .info
                        .token
                        .expires_at
                        .map(rfc3339)
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
        AdminCommand::Token(TokenCommand::List {
            org: slug,
            user: who,
            json,
        }) => {
            let org_id = match slug {
                Some(slug) => Some(org(state, &slug).await?.id),
                None => None,
            };
            let user_id = match who {
                Some(who) => Some(user(state, &who).await?.id),
                None => None,
            };
            let now = state.now();
            let list: Vec<TokenView> = state
                .store
                .list_tokens(&TokenQuery {
                    org_id,
                    user_id,
                    active_at: None,
                })
                .await?
                .into_iter()
                .map(|t| TokenView::new(t, now))
                .collect();
            if json {
                print_json(json!(wire::tokens(&list).tokens));
            } else {
                let rows = list
                    .iter()
                    .map(|v| {
                        let t = &v.token;
                        vec![
                            t.id.to_string(),
                            t.hint.clone(),
                            t.name.clone(),
                            t.kind.to_string(),
                            t.user_email.clone().unwrap_or_else(|| "-".into()),
                            t.org_slug.clone(),
                            rfc3339(t.created_at),
                            opt_time(t.last_used_at),
                            t.expires_at.map(rfc3339).unwrap_or_else(|| "never".into()),
                            v.state.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>();
                print_table(
                    &[
                        "ID",
                        "HINT",
                        "NAME",
                        "KIND",
                        "USER",
                        "ORG",
                        "CREATED",
                        "LAST USED",
                        "EXPIRES",
                        "STATE",
                    ],
                    &rows,
                );
            }
        }
        AdminCommand::Token(TokenCommand::Revoke {
            id,
            all,
            user: who,
            reason,
        }) => {
            if all {
                let who = who.ok_or_else(|| AdminError("--all needs --user".into()))?;
                let user = user(state, &who).await?;
                let n = tokens::revoke_user(
                    state,
                    &user.id,
                    &user.email,
                    None,
                    Actor::System,
                    &reason,
                    &meta(),
                )
                .await?;
                println!("revoked {n} tokens of {}", user.email);
            } else {
                let id =
                    id.ok_or_else(|| AdminError("give a token id (see `token list`)".into()))?;
                let token = state
                    .store
                    .token_by_id(&TokenId::from(id.as_str()))
                    .await?
                    .ok_or_else(|| AdminError(format!("no token `{id}`")))?;
                if tokens::revoke_one(state, &token, Actor::System, &reason, &meta()).await? {
                    println!("revoked {} ({})", token.id, token.hint);
                } else {
                    println!("{} was already revoked", token.id);
                }
            }
        }
        AdminCommand::Audit(args) => {
            if !(1..=10_000).contains(&args.limit) {
                return Err(AdminError("--limit must be between 1 and 10000".into()));
            }
            let org_id = match &args.org {
                Some(slug) => Some(org(state, slug).await?.id),
                None => None,
            };
            let query = AuditQuery {
                org_id,
                action: args.action,
                limit: args.limit,
                ..Default::default()
            };
            let events = state.store.list_audit(&query).await?;
            if args.json {
                print_json(json!(
                    events.iter().map(wire::audit_event).collect::<Vec<_>>()
                ));
            } else {
                let rows = events
                    .iter()
                    .map(|e| {
                        vec![
                            rfc3339(e.at),
                            e.action.clone(),
                            e.actor.clone(),
                            e.target.clone().unwrap_or_default(),
                            e.ip.clone().unwrap_or_default(),
                            e.detail.clone().unwrap_or_default(),
                        ]
                    })
                    .collect::<Vec<_>>();
                print_table(
                    &["TIME", "ACTION", "ACTOR", "TARGET", "IP", "DETAIL"],
                    &rows,
                );
            }
        }
        AdminCommand::Purge {
            audit_retention_days,
        } => {
            if audit_retention_days < 0 {
                return Err(AdminError(
                    "--audit-retention-days must be 0 (keep) or more".into(),
                ));
            }
            let purged = retention::purge_keeping_audit(state, audit_retention_days).await?;
            println!(
                "{}",
                retention::describe(&purged, audit_retention_days == 0)
            );
        }
    }
    Ok(())
}
