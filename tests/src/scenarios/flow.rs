//! The device flow from outside: metadata, a full sign-in, long polling,
//! slow_down, denial, expiry and the redemption race.

use super::{Admin, Ctx, Step, Stop, check, describe, expect};
use crate::remote::{Answer, DEVICE_GRANT};
use serde_json::json;
use std::time::{Duration, Instant};

pub(crate) const USER_CODE_ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

/// A started device authorization.
pub(crate) struct Started {
    pub device_code: String,
    pub user_code: String,
    pub interval: u64,
    pub expires_in: u64,
}

pub(crate) async fn start(ctx: &Ctx<'_>, device_name: &str) -> Step<Started> {
    let answer = ctx
        .remote
        .start_device(&ctx.target.client_id, device_name)
        .await?;
    expect(&answer, 200, "", "POST /oauth/device_authorization")?;
    let started = Started {
        device_code: answer.text("device_code"),
        user_code: answer.text("user_code"),
        // RFC 8628 §3.2: no interval means 5 seconds.
        interval: answer.body["interval"].as_u64().unwrap_or(5),
        expires_in: answer.body["expires_in"].as_u64().unwrap_or(0),
    };
    check(
        !started.device_code.is_empty() && !started.user_code.is_empty(),
        || "the device authorization has no device_code or user_code".to_string(),
    )?;
    Ok(started)
}

pub(crate) async fn approve(ctx: &Ctx<'_>, admin: &Admin, user_code: &str) -> Step<()> {
    let answer = ask_to_approve(ctx, admin, user_code).await?;
    expect(&answer, 200, "", "POST /api/device/approve")
}

/// `POST /api/device/approve` for `user_code` into the admin's org, whatever it answers.
pub(crate) async fn ask_to_approve(ctx: &Ctx<'_>, admin: &Admin, user_code: &str) -> Step<Answer> {
    Ok(ctx
        .remote
        .post_json(
            "/api/device/approve",
            Some(&admin.token),
            &json!({"user_code": user_code, "org": admin.org}),
        )
        .await?)
}

/// Polls an approved code once and returns the token.
pub(crate) async fn redeem(ctx: &mut Ctx<'_>, started: &Started) -> Step<String> {
    let answer = ctx
        .remote
        .poll(&started.device_code, &ctx.target.client_id, None)
        .await?;
    expect(&answer, 200, "", "polling an approved code")?;
    let token = answer.text("access_token");
    check(!token.is_empty(), || {
        "the token response has no access_token".to_string()
    })?;
    ctx.issued.push(token.clone());
    Ok(token)
}

/// A device token for the admin: start, approve, redeem.
pub(crate) async fn device_token(ctx: &mut Ctx<'_>, what: &str) -> Step<String> {
    let admin = ctx.admin()?;
    let started = start(ctx, &ctx.device_name(what)).await?;
    approve(ctx, &admin, &started.user_code).await?;
    redeem(ctx, &started).await
}

pub(crate) async fn discovery(ctx: &mut Ctx<'_>) -> Step<String> {
    let answer = ctx
        .remote
        .get("/.well-known/oauth-authorization-server", None)
        .await?;
    expect(&answer, 200, "", "RFC 8414 metadata")?;
    let base = ctx.remote.base().to_string();
    for field in [
        "issuer",
        "device_authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
    ] {
        let value = answer.text(field);
        check(value.starts_with("http"), || {
            format!("metadata field {field} is missing or not a URL")
        })?;
    }
    let grants = answer.body["grant_types_supported"].to_string();
    check(grants.contains(DEVICE_GRANT), || {
        format!("grant_types_supported does not list the device_code grant: {grants}")
    })?;
    let issuer = answer.text("issuer");
    let note = if issuer.trim_end_matches('/') == base {
        String::new()
    } else {
        format!(" (issuer {issuer} differs from --server; fine behind a proxy)")
    };
    Ok(format!(
        "metadata lists the device, token and revocation endpoints and the device_code grant{note}"
    ))
}

pub(crate) async fn device_flow(ctx: &mut Ctx<'_>) -> Step<String> {
    let admin = ctx.admin()?;
    let name = ctx.device_name("sign-in");
    let answer = ctx
        .remote
        .start_device(&ctx.target.client_id, &name)
        .await?;
    expect(&answer, 200, "", "POST /oauth/device_authorization")?;
    check(answer.header("cache-control").contains("no-store"), || {
        "the device authorization is sent without Cache-Control: no-store".to_string()
    })?;
    let user_code = answer.text("user_code");
    let shape_ok = user_code.len() == 9
        && user_code.as_bytes()[4] == b'-'
        && user_code
            .replace('-', "")
            .chars()
            .all(|c| USER_CODE_ALPHABET.contains(c));
    check(shape_ok, || {
        format!("user code {user_code:?} is not XXXX-XXXX from {USER_CODE_ALPHABET}")
    })?;
    let complete = answer.text("verification_uri_complete");
    check(
        answer.text("verification_uri").starts_with("http") && complete.contains(&user_code),
        || "verification_uri(_complete) missing or without the code".to_string(),
    )?;
    let started = Started {
        device_code: answer.text("device_code"),
        user_code: user_code.clone(),
        interval: answer.body["interval"].as_u64().unwrap_or(5),
        expires_in: answer.body["expires_in"].as_u64().unwrap_or(0),
    };
    check(started.expires_in > 0, || "no expires_in".to_string())?;

    let pending = ctx
        .remote
        .poll(&started.device_code, &ctx.target.client_id, None)
        .await?;
    expect(&pending, 400, "authorization_pending", "first poll")?;

    let lookup = ctx
        .remote
        .post_json(
            "/api/device/lookup",
            Some(&admin.token),
            &json!({"user_code": user_code.to_lowercase().replace('-', "")}),
        )
        .await?;
    expect(
        &lookup,
        200,
        "",
        "looking the code up (lower case, no dash)",
    )?;
    let shown = lookup.body["request"]["device_name"]
        .as_str()
        .unwrap_or_default();
    check(shown == name, || {
        format!("the approver is shown device {shown:?}, not {name:?}")
    })?;

    approve(ctx, &admin, &user_code).await?;
    let token_answer = ctx
        .remote
        .poll(&started.device_code, &ctx.target.client_id, None)
        .await?;
    expect(&token_answer, 200, "", "polling after approval")?;
    let token = token_answer.text("access_token");
    ctx.issued.push(token.clone());
    check(
        token_answer
            .text("token_type")
            .eq_ignore_ascii_case("bearer"),
        || "token_type is not Bearer".to_string(),
    )?;
    let days = token_answer.body["expires_in"].as_u64().unwrap_or(0) / 86_400;

    let me = ctx.remote.get("/me", Some(&token)).await?;
    expect(&me, 200, "", "GET /me with the new token")?;
    check(
        me.body["token"]["kind"] == "device"
            && me.body["token"]["name"] == name.as_str()
            && me.body["org"]["slug"] == admin.org.as_str(),
        || format!("/me does not describe this device token: {}", me.body),
    )?;
    let again = ctx
        .remote
        .poll(&started.device_code, &ctx.target.client_id, None)
        .await?;
    expect(&again, 400, "invalid_grant", "polling a redeemed code")?;
    Ok(format!(
        "code {}…: pending, approved, token ({days} days), /me shows the device; reuse is invalid_grant",
        &user_code[..4]
    ))
}

/// RFC 7240 `Prefer: wait` on the token endpoint: a held poll is released by
/// the approval, and a held poll of an undecided code ends after the wait.
pub(crate) async fn long_poll(ctx: &mut Ctx<'_>) -> Step<String> {
    let admin = ctx.admin()?;
    let started = start(ctx, &ctx.device_name("long-poll")).await?;
    let held_from = Instant::now();
    let (held, approved) = tokio::join!(
        ctx.remote
            .poll(&started.device_code, &ctx.target.client_id, Some(10)),
        async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            approve(ctx, &admin, &started.user_code).await
        }
    );
    let held = held?;
    approved?;
    let took = held_from.elapsed();
    if held.header("preference-applied").is_empty() {
        if held.status == 200 {
            ctx.issued.push(held.text("access_token"));
        }
        return Err(Stop::Skip(format!(
            "the server ignores Prefer: wait (answered {} without Preference-Applied); clients poll at the interval",
            held.summary()
        )));
    }
    expect(&held, 200, "", "a held poll when the code is approved")?;
    ctx.issued.push(held.text("access_token"));
    check(took < Duration::from_secs(5), || {
        format!("the held poll took {took:?} to notice the approval")
    })?;
    check(held.header("preference-applied") == "wait=10", || {
        format!(
            "Preference-Applied is {:?}, not wait=10",
            held.header("preference-applied")
        )
    })?;

    let undecided = start(ctx, &ctx.device_name("long-poll-timeout")).await?;
    let from = Instant::now();
    let answer = ctx
        .remote
        .poll(&undecided.device_code, &ctx.target.client_id, Some(2))
        .await?;
    let waited = from.elapsed();
    expect(
        &answer,
        400,
        "authorization_pending",
        "a held poll nobody decides",
    )?;
    check(
        (Duration::from_millis(1500)..Duration::from_secs(8)).contains(&waited),
        || format!("Prefer: wait=2 was held for {waited:?}"),
    )?;
    Ok(format!(
        "held poll returned the token {:.1}s after approval began; wait=2 on an undecided code held {:.1}s, then authorization_pending",
        took.as_secs_f64(),
        waited.as_secs_f64()
    ))
}

pub(crate) async fn slow_down(ctx: &mut Ctx<'_>) -> Step<String> {
    let started = start(ctx, &ctx.device_name("slow-down")).await?;
    let (remote, client) = (ctx.remote.clone(), ctx.target.client_id.clone());
    let poll = || remote.poll(&started.device_code, &client, None);
    let first = poll().await?;
    expect(&first, 400, "authorization_pending", "first poll")?;
    let base = started.interval;
    let mut intervals = Vec::new();
    for step in 1..=2u64 {
        let answer = poll().await?;
        expect(&answer, 400, "slow_down", "an immediate second poll")?;
        if let Some(interval) = answer.body["interval"].as_u64() {
            check(interval == base + 5 * step, || {
                format!(
                    "slow_down #{step} says interval {interval}, expected {}",
                    base + 5 * step
                )
            })?;
            intervals.push(interval);
        }
    }
    // Longer than the first interval, shorter than the grown one: a server
    // that forgot the growth would now say authorization_pending.
    let pause = base + 1;
    tokio::time::sleep(Duration::from_secs(pause)).await;
    let later = poll().await?;
    check(later.error() == "slow_down", || {
        format!(
            "{pause} s later (more than the first {base} s interval, less than the grown one) the poll got {}: the grown interval was not kept",
            describe(&later)
        )
    })?;
    let shown: Vec<String> = intervals.iter().map(|i| format!("{i} s")).collect();
    Ok(format!(
        "too-fast polls get slow_down ({}); {pause} s later still slow_down: the growth is kept",
        if shown.is_empty() {
            "no interval field".to_string()
        } else {
            shown.join(", ")
        }
    ))
}

pub(crate) async fn deny(ctx: &mut Ctx<'_>) -> Step<String> {
    let admin = ctx.admin()?;
    let started = start(ctx, &ctx.device_name("deny")).await?;
    let answer = ctx
        .remote
        .post_json(
            "/api/device/deny",
            Some(&admin.token),
            &json!({"user_code": started.user_code}),
        )
        .await?;
    expect(&answer, 200, "", "POST /api/device/deny")?;
    let poll = ctx
        .remote
        .poll(&started.device_code, &ctx.target.client_id, None)
        .await?;
    expect(&poll, 400, "access_denied", "polling a denied code")?;
    let again = ask_to_approve(ctx, &admin, &started.user_code).await?;
    expect(&again, 409, "", "approving a denied code")?;
    Ok(format!(
        "denied code polls access_denied; approving it afterwards is 409 {}",
        again.error()
    ))
}

pub(crate) async fn expiry(ctx: &mut Ctx<'_>) -> Step<String> {
    if !ctx.target.wait_for_expiry {
        return Err(Stop::Skip(
            "needs the server's clock to pass expires_in (600 s); nothing over HTTP shortens it. \
             --wait-for-expiry waits it out"
                .to_string(),
        ));
    }
    let admin = ctx.admin()?;
    let started = start(ctx, &ctx.device_name("expiry")).await?;
    let wait = started.expires_in + 2;
    eprintln!("expiry: waiting {wait} s for a code to expire");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let poll = ctx
        .remote
        .poll(&started.device_code, &ctx.target.client_id, None)
        .await?;
    expect(&poll, 400, "expired_token", "polling an expired code")?;
    let approve = ask_to_approve(ctx, &admin, &started.user_code).await?;
    expect(&approve, 409, "", "approving an expired code")?;
    Ok(format!(
        "after {wait} s the code polls expired_token and cannot be approved ({})",
        approve.error()
    ))
}

pub(crate) async fn double_redemption(ctx: &mut Ctx<'_>) -> Step<String> {
    const POLLS: usize = 20;
    let admin = ctx.admin()?;
    let name = ctx.device_name("race");
    let started = start(ctx, &name).await?;
    approve(ctx, &admin, &started.user_code).await?;
    let mut polls = tokio::task::JoinSet::new();
    for _ in 0..POLLS {
        let remote = ctx.remote.clone();
        let code = started.device_code.clone();
        let client = ctx.target.client_id.clone();
        polls.spawn(async move { remote.poll(&code, &client, None).await });
    }
    let mut winners = Vec::new();
    let mut others = Vec::new();
    while let Some(joined) = polls.join_next().await {
        let answer = joined.map_err(|e| format!("a poll task failed: {e}"))??;
        if answer.status == 200 {
            winners.push(answer.text("access_token"));
        } else {
            others.push(answer.summary());
        }
    }
    ctx.issued.extend(winners.iter().cloned());
    check(winners.len() == 1, || {
        format!("{} of {POLLS} concurrent polls got a token", winners.len())
    })?;
    check(others.iter().all(|s| s == "400 invalid_grant"), || {
        format!("the losing polls answered {others:?}")
    })?;
    let listed = ctx
        .remote
        .get("/api/tokens?scope=org", Some(&admin.token))
        .await?;
    expect(&listed, 200, "", "GET /api/tokens?scope=org")?;
    let issued = listed.body["tokens"]
        .as_array()
        .map(|tokens| tokens.iter().filter(|t| t["name"] == name.as_str()).count())
        .unwrap_or(0);
    check(issued == 1, || {
        format!("the org has {issued} tokens for the raced device, not 1")
    })?;
    Ok(format!(
        "{POLLS} concurrent polls of an approved code: exactly one token, {} × invalid_grant, one token listed",
        others.len()
    ))
}
