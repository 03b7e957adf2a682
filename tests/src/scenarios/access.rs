//! Who may do what, from outside: the setup claim (or the admin token),
//! revocation, the membership cascade and the wrong-code rate limit.

use super::flow::{self, USER_CODE_ALPHABET};
use super::{Admin, Credential, Ctx, Step, Stop, check, describe, expect};
use crate::remote::{Answer, Visitor};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

/// Claims setup with the setup token, or checks the admin token; either way
/// the suite ends up with an owner or admin of an org.
pub(crate) async fn setup(ctx: &mut Ctx<'_>) -> Step<String> {
    let status = ctx.remote.get("/api/setup/status", None).await?;
    expect(&status, 200, "", "GET /api/setup/status")?;
    let claimed_before = status.body["claimed"].as_bool();
    match ctx.target.credential.clone() {
        Credential::SetupToken(setup_token) => {
            check(claimed_before == Some(false), || {
                "setup is already claimed on this server: run with --admin-token instead"
                    .to_string()
            })?;
            let owner = ctx.target.owner.clone();
            let body = |token: &str| {
                json!({"setup_token": token, "email": owner.email, "name": owner.name,
                       "password": owner.password, "org_name": owner.org_name})
            };
            let wrong = ctx
                .remote
                .post_json("/api/setup/claim", None, &body("setup_not_the_token"))
                .await?;
            expect(&wrong, 403, "", "claiming with a wrong setup token")?;
            let claim = ctx
                .remote
                .post_json("/api/setup/claim", None, &body(&setup_token))
                .await?;
            expect(&claim, 201, "", "POST /api/setup/claim")?;
            let admin = admin_from_me(ctx, &claim.text("token")).await?;
            ctx.issued.push(admin.token.clone());
            let again = ctx
                .remote
                .post_json("/api/setup/claim", None, &body(&setup_token))
                .await?;
            expect(&again, 409, "", "claiming a second time")?;
            let after = ctx.remote.get("/api/setup/status", None).await?;
            check(after.body["claimed"] == true, || {
                "setup status does not say claimed after the claim".to_string()
            })?;
            let mut detail = format!(
                "claimed as {} (owner of {}); a wrong setup token is 403, a second claim 409",
                admin.email, admin.org
            );
            ctx.admin = Some(admin);
            if let Some(waited) = wait_out_rate_limit(ctx).await? {
                detail.push_str(&format!(
                    "; waited {waited} s for an earlier run's rate limit to lapse"
                ));
            }
            Ok(detail)
        }
        Credential::AdminToken(token) => {
            let admin = admin_from_me(ctx, &token).await?;
            check(claimed_before == Some(true), || {
                "setup status does not say claimed, yet an admin token works".to_string()
            })?;
            let mut detail = format!("acting as {} in org {}", admin.email, admin.org);
            ctx.admin = Some(admin);
            if let Some(waited) = wait_out_rate_limit(ctx).await? {
                detail.push_str(&format!(
                    "; waited {waited} s for an earlier run's rate limit to lapse"
                ));
            }
            Ok(detail)
        }
    }
}

/// An earlier run from this IP (its rate-limit scenario) may still block
/// approvals for up to a minute: look up a real code, which costs nothing,
/// and wait while the answer is 429.
async fn wait_out_rate_limit(ctx: &mut Ctx<'_>) -> Step<Option<u64>> {
    let admin = ctx.admin()?;
    let started = flow::start(ctx, &ctx.device_name("probe")).await?;
    let lookup = ctx
        .remote
        .post_json(
            "/api/device/lookup",
            Some(&admin.token),
            &json!({"user_code": started.user_code}),
        )
        .await?;
    if lookup.status != 429 {
        expect(&lookup, 200, "", "looking up a fresh code")?;
        return Ok(None);
    }
    let wait: u64 = lookup.header("retry-after").parse().unwrap_or(60).min(61) + 1;
    eprintln!(
        "setup: device-code lookups from here are rate limited from before; waiting {wait} s"
    );
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    Ok(Some(wait))
}

async fn admin_from_me(ctx: &Ctx<'_>, token: &str) -> Step<Admin> {
    let answer = ctx.remote.get("/me", Some(token)).await?;
    expect(&answer, 200, "", "GET /me with the admin token")?;
    let me: devauth_proto::Me<'static> = answer.parse()?;
    check(me.role == "owner" || me.role == "admin", || {
        format!(
            "the token's role is {:?}; the suite needs an owner or admin",
            me.role
        )
    })?;
    let Some(user) = me.user else {
        return Err(Stop::Fail(
            "the token belongs to no user (a service token); approving devices needs a user's token"
                .to_string(),
        ));
    };
    Ok(Admin {
        token: token.to_string(),
        email: user.email.into_owned(),
        org: me.org.slug.into_owned(),
    })
}

fn is_invalid_token(answer: &Answer) -> bool {
    answer.status == 401
        && answer
            .header("www-authenticate")
            .contains("error=\"invalid_token\"")
}

pub(crate) async fn revoke(ctx: &mut Ctx<'_>) -> Step<String> {
    let admin = ctx.admin()?;
    let token = flow::device_token(ctx, "revoke").await?;
    let me = ctx.remote.get("/me", Some(&token)).await?;
    expect(&me, 200, "", "/me before revocation")?;
    let revoked = ctx.remote.revoke(&token).await?;
    expect(&revoked, 200, "", "POST /oauth/revoke")?;
    let me = ctx.remote.get("/me", Some(&token)).await?;
    check(is_invalid_token(&me), || {
        format!("/me after revocation answered {}", describe(&me))
    })?;
    let unknown = ctx
        .remote
        .revoke("dva_0000000000000000000000000000000000000000000000000000000000000000")
        .await?;
    expect(&unknown, 200, "", "revoking an unknown token (RFC 7009)")?;

    let created = ctx
        .remote
        .post_json(
            "/api/tokens",
            Some(&admin.token),
            &json!({"name": ctx.device_name("personal"), "expires": "30d"}),
        )
        .await?;
    expect(&created, 201, "", "POST /api/tokens")?;
    let personal = created.text("token");
    ctx.issued.push(personal.clone());
    let id = created.body["info"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    expect(
        &ctx.remote.get("/me", Some(&personal)).await?,
        200,
        "",
        "/me with a new personal token",
    )?;
    let deleted = ctx
        .remote
        .delete(&format!("/api/tokens/{id}"), &admin.token)
        .await?;
    expect(&deleted, 200, "", "DELETE /api/tokens/{id}")?;
    check(deleted.body["token"]["state"] == "revoked", || {
        format!(
            "the revoked token's state is {}",
            deleted.body["token"]["state"]
        )
    })?;
    let me = ctx.remote.get("/me", Some(&personal)).await?;
    check(is_invalid_token(&me), || {
        format!("/me after DELETE answered {}", describe(&me))
    })?;
    Ok(
        "device token revoked by RFC 7009 and personal token by DELETE: both 401 invalid_token at once; unknown tokens revoke with 200"
            .to_string(),
    )
}

/// Membership changes reach tokens at once: a member's device token follows
/// a role change on its next request and dies when the member is removed.
pub(crate) async fn cascade(ctx: &mut Ctx<'_>) -> Step<String> {
    let admin = ctx.admin()?;
    let Some(member) = ctx.target.member.clone() else {
        return Err(Stop::Skip(
            "needs a second user, and the API adds only existing users: create one (devauth-server user add) \
             and pass --member EMAIL with DEVAUTH_HARNESS_MEMBER_PASSWORD"
                .to_string(),
        ));
    };
    let members_path = format!("/api/orgs/{}/members", admin.org);
    member_not_in_org(ctx, &admin, &member.email).await?;
    let added = ctx
        .remote
        .post_json(
            &members_path,
            Some(&admin.token),
            &json!({"email": member.email, "role": "member"}),
        )
        .await?;
    expect(&added, 201, "", "adding the member")?;
    let result = member_cascade(ctx, &admin, &member.email, &member.password).await;
    if result.is_err() {
        // Leave the org as it was; the removal may already have happened.
        let _ = ctx
            .remote
            .delete(&format!("{members_path}/{}", member.email), &admin.token)
            .await;
    }
    result
}

/// Fails unless `email` is not a member of the admin's org: the scenarios
/// that add and remove it would otherwise revoke its real tokens.
pub(crate) async fn member_not_in_org(ctx: &Ctx<'_>, admin: &Admin, email: &str) -> Step<()> {
    let members_path = format!("/api/orgs/{}/members", admin.org);
    let listed = ctx.remote.get(&members_path, Some(&admin.token)).await?;
    expect(&listed, 200, "", "listing members")?;
    let already = listed.body["members"].as_array().is_some_and(|members| {
        members.iter().any(|m| {
            m["user"]["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
    });
    check(!already, || {
        format!(
            "{email} is already a member of {}: removing them would revoke their real tokens; pass a user who is not a member",
            admin.org
        )
    })
}

async fn member_cascade(
    ctx: &mut Ctx<'_>,
    admin: &Admin,
    email: &str,
    password: &str,
) -> Step<String> {
    let member_path = format!("/api/orgs/{}/members/{email}", admin.org);
    let mut visitor = Visitor::new(&ctx.remote);
    visitor.sign_in(email, password).await?;
    let started = flow::start(ctx, &ctx.device_name("member")).await?;
    visitor.approve(&started.user_code, &admin.org).await?;
    let token = flow::redeem(ctx, &started).await?;
    let me = ctx.remote.get("/me", Some(&token)).await?;
    expect(&me, 200, "", "/me with the member's token")?;
    check(
        me.body["user"]["email"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
            && me.text("role") == "member",
        || format!("/me with the member's token: {}", me.body),
    )?;

    let changed = ctx
        .remote
        .json(
            Method::PATCH,
            &member_path,
            Some(&admin.token),
            &json!({"role": "viewer"}),
        )
        .await?;
    expect(&changed, 200, "", "changing the member's role")?;
    let me = ctx.remote.get("/me", Some(&token)).await?;
    check(me.text("role") == "viewer", || {
        format!(
            "after the role change /me says role {:?}, not viewer",
            me.text("role")
        )
    })?;

    let removed = ctx.remote.delete(&member_path, &admin.token).await?;
    expect(&removed, 200, "", "removing the member")?;
    let revoked = removed.body["tokens_revoked"].as_u64().unwrap_or(0);
    check(revoked >= 1, || {
        format!("removing the member revoked {revoked} tokens")
    })?;
    let me = ctx.remote.get("/me", Some(&token)).await?;
    check(is_invalid_token(&me), || {
        format!("the removed member's token still answers {}", describe(&me))
    })?;
    Ok(format!(
        "{email} approved on the pages; role change seen on the next /me; removal revoked {revoked} token(s), 401 at once"
    ))
}

/// A code no server is likely to have issued, from the user-code alphabet.
fn wrong_code(n: usize) -> String {
    let letters: Vec<char> = USER_CODE_ALPHABET.chars().collect();
    let seed = uuid::Uuid::new_v4().as_u128();
    let code: String = (0..8)
        .map(|i| letters[((seed >> (i * 5)) as usize + n) % letters.len()])
        .collect();
    format!("{}-{}", &code[..4], &code[4..])
}

pub(crate) async fn rate_limit(ctx: &mut Ctx<'_>) -> Step<String> {
    const ALLOWED: usize = 5;
    let admin = ctx.admin()?;
    let started = flow::start(ctx, &ctx.device_name("rate-limit")).await?;
    let lookup = |code: String| {
        let remote = ctx.remote.clone();
        let token = admin.token.clone();
        async move {
            remote
                .post_json(
                    "/api/device/lookup",
                    Some(&token),
                    &json!({"user_code": code}),
                )
                .await
        }
    };
    let mut note = String::new();
    let mut first = lookup(wrong_code(0)).await?;
    if first.status == 429 {
        // An earlier run (or person) from this IP is still limited.
        let wait: u64 = first.header("retry-after").parse().unwrap_or(60).min(61);
        eprintln!("rate-limit: this IP is still limited from before; waiting {wait} s");
        tokio::time::sleep(Duration::from_secs(wait + 1)).await;
        note = format!(" (waited {wait} s for an earlier limit to lapse first)");
        first = lookup(wrong_code(0)).await?;
    }
    expect(&first, 400, "invalid_user_code", "a wrong code")?;
    for n in 1..ALLOWED {
        let answer = lookup(wrong_code(n)).await?;
        expect(&answer, 400, "invalid_user_code", "a wrong code")?;
    }
    let right = flow::ask_to_approve(ctx, &admin, &started.user_code).await?;
    expect(
        &right,
        429,
        "rate_limited",
        "the right code after 5 wrong ones",
    )?;
    let retry: u64 = right.header("retry-after").parse().unwrap_or(0);
    check((1..=60).contains(&retry), || {
        format!("Retry-After is {:?}", right.header("retry-after"))
    })?;
    Ok(format!(
        "{ALLOWED} wrong codes are 400 invalid_user_code, then even the right one is 429 (Retry-After {retry} s){note}"
    ))
}
