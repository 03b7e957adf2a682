//! A hostile admin, from outside: the escalations an admin once had over an
//! owner, each of which must be refused by any server the suite runs against.

use super::access::member_not_in_org;
use super::{Admin, Ctx, Step, Stop, check, describe, expect};
use crate::remote::{Answer, Visitor};
use reqwest::Method;
use serde_json::json;

/// The suite's owner adds the `--member` user as an admin, who then tries to
/// take the owner's token, to make themselves owner with a service token, to
/// mint wider than their token, and to win a race to demote the owner.
pub(crate) async fn escalation(ctx: &mut Ctx<'_>) -> Step<String> {
    let owner = ctx.admin()?;
    let me = ctx.remote.get("/me", Some(&owner.token)).await?;
    if me.text("role") != "owner" {
        return Err(Stop::Skip(format!(
            "needs an owner's token to make someone an admin; the suite's token is {:?}",
            me.text("role")
        )));
    }
    let Some(member) = ctx.target.member.clone() else {
        return Err(Stop::Skip(
            "needs a second user to act as the hostile admin: pass --member EMAIL".to_string(),
        ));
    };
    member_not_in_org(ctx, &owner, &member.email).await?;
    let members = format!("/api/orgs/{}/members", owner.org);
    let added = ctx
        .remote
        .post_json(
            &members,
            Some(&owner.token),
            &json!({"email": member.email, "role": "admin"}),
        )
        .await?;
    expect(&added, 201, "", "adding the member as admin")?;
    let result = hostile_admin(ctx, &owner, &member.email, &member.password).await;
    // Leave the org as it was, whoever won the race.
    let _ = ctx
        .remote
        .delete(&format!("{members}/{}", member.email), &owner.token)
        .await;
    result
}

async fn hostile_admin(
    ctx: &mut Ctx<'_>,
    owner: &Admin,
    email: &str,
    password: &str,
) -> Step<String> {
    let mut visitor = Visitor::new(&ctx.remote);
    visitor.sign_in(email, password).await?;
    let started = super::flow::start(ctx, &ctx.device_name("hostile admin")).await?;
    visitor.approve(&started.user_code, &owner.org).await?;
    let eve = super::flow::redeem(ctx, &started).await?;
    let me = ctx.remote.get("/me", Some(&eve)).await?;
    check(me.text("role") == "admin", || {
        format!("the member's token is {}, not admin", me.body)
    })?;

    // 1. The owner's token is listed to an admin, never handed over.
    let owner_me = ctx.remote.get("/me", Some(&owner.token)).await?;
    let owner_token = owner_me.body["token"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rotate = ctx
        .remote
        .post_json(
            &format!("/api/tokens/{owner_token}/rotate"),
            Some(&eve),
            &json!({}),
        )
        .await?;
    refused(&rotate, "an admin rotating the owner's token")?;
    check(rotate.body.get("token").is_none(), || {
        "a refused rotation still carried a token".to_string()
    })?;

    // 2. A service token with org:admin is admin-level, not owner-level.
    let service = mint(
        ctx,
        &eve,
        json!({"kind": "service", "scopes": ["org:admin"]}),
    )
    .await?;
    let members = format!("/api/orgs/{}/members", owner.org);
    for (who, role) in [(email, "owner"), (owner.email.as_str(), "member")] {
        let reply = ctx
            .remote
            .json(
                Method::PATCH,
                &format!("{members}/{who}"),
                Some(&service.0),
                &json!({ "role": role }),
            )
            .await?;
        refused(&reply, &format!("a service token making {who} {role}"))?;
    }
    let remove = ctx
        .remote
        .delete(&format!("{members}/{}", owner.email), &service.0)
        .await?;
    refused(&remove, "a service token removing the owner")?;

    // 3. A narrow token mints only within its scopes.
    let narrow = mint(ctx, &eve, json!({"scopes": ["tokens:write"]})).await?;
    let wide = mint(ctx, &narrow.0, json!({})).await?;
    check(
        wide.1.body["info"]["scopes"] == json!(["tokens:write"]),
        || {
            format!(
                "a token scoped to tokens:write minted {}",
                wide.1.body["info"]["scopes"]
            )
        },
    )?;

    // 4. Two owners demoting each other at once: one wins, an owner stays.
    let promote = ctx
        .remote
        .json(
            Method::PATCH,
            &format!("{members}/{email}"),
            Some(&owner.token),
            &json!({"role": "owner"}),
        )
        .await?;
    expect(&promote, 200, "", "making the member an owner")?;
    let demote = |token: String, who: String| {
        let remote = ctx.remote.clone();
        let path = format!("{members}/{who}");
        async move {
            remote
                .json(
                    Method::PATCH,
                    &path,
                    Some(&token),
                    &json!({"role": "admin"}),
                )
                .await
        }
    };
    let (a, b) = tokio::join!(
        demote(owner.token.clone(), email.to_string()),
        demote(eve.clone(), owner.email.clone())
    );
    let (a, b) = (a?, b?);
    let wins = [&a, &b].iter().filter(|r| r.status == 200).count();
    let listed = ctx.remote.get(&members, Some(&eve)).await?;
    let owners: Vec<String> = listed.body["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "owner")
        .filter_map(|m| m["user"]["email"].as_str().map(str::to_string))
        .collect();
    // Put the suite's owner back if the member won.
    if !owners.iter().any(|o| o.eq_ignore_ascii_case(&owner.email)) {
        let back = ctx
            .remote
            .json(
                Method::PATCH,
                &format!("{members}/{}", owner.email),
                Some(&eve),
                &json!({"role": "owner"}),
            )
            .await?;
        expect(
            &back,
            200,
            "",
            "giving the suite's owner the owner role back",
        )?;
    }
    check(wins == 1 && owners.len() == 1, || {
        format!(
            "two owners demoting each other: {} and {} ({wins} won), owners after: {owners:?}",
            describe(&a),
            describe(&b)
        )
    })?;
    Ok(format!(
        "an admin cannot rotate the owner's token (403), a service token with org:admin cannot touch owners (403), \
         a tokens:write token mints only tokens:write, and of two owners demoting each other one wins ({} is owner)",
        owners.join(", ")
    ))
}

fn refused(answer: &Answer, what: &str) -> Step<()> {
    check(answer.status == 403, || {
        format!("{what}: expected 403, got {}", describe(answer))
    })
}

/// `POST /api/tokens` with `body` (a name is added); the secret and the answer.
async fn mint(
    ctx: &mut Ctx<'_>,
    token: &str,
    mut body: serde_json::Value,
) -> Step<(String, Answer)> {
    body["name"] = json!(ctx.device_name("escalation"));
    let answer = ctx
        .remote
        .post_json("/api/tokens", Some(token), &body)
        .await?;
    expect(&answer, 201, "", &format!("POST /api/tokens {body}"))?;
    let secret = answer.text("token");
    ctx.issued.push(secret.clone());
    Ok((secret, answer))
}
