//! `devauth tokens list | create | revoke`. The list shows active tokens
//! unless asked for all, marks the one this devauth is signed in with, says
//! in words when each was last used, and names owners and orgs when they
//! tell the tokens apart. A revoke finds its token by id, name or hint, and
//! refuses to guess between several.

use devauth_client::api::{ApiClient, CreateToken, TokenInfo, distance, parse_time, valid_expires};
use devauth_client::clock::{Clock, TokioClock};
use devauth_client::error::exit;
use devauth_client::text::clean;
use devauth_client::{Client, Error};
use devauth_proto::TokenState;
use time::OffsetDateTime;

use crate::TokensCommand;

pub async fn run(client: &Client, command: TokensCommand) -> Result<i32, Error> {
    match command {
        TokensCommand::List {
            all,
            all_states,
            json,
        } => list(client, all, all_states, json).await,
        TokensCommand::Create {
            name,
            expires,
            scopes,
            json,
        } => create(client, name, expires, scopes, json).await,
        TokensCommand::Revoke { token, all } => revoke(client, &token, all).await,
    }
}

/// Who is asking: the token this devauth uses and its owner, from `/me`,
/// else as the last sign-in recorded them.
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub token_id: Option<String>,
    pub email: Option<String>,
}

async fn current(client: &Client, api: &ApiClient) -> Current {
    if let Ok(me) = api.me().await {
        return Current {
            token_id: Some(me.token.id.into_owned()).filter(|id| !id.is_empty()),
            email: me.user.map(|u| u.email.into_owned()),
        };
    }
    // A DEVAUTH_TOKEN is not the one the last sign-in recorded.
    if client.options().env.token.is_some() {
        return Current::default();
    }
    let config = client.config().ok();
    let account = config.as_ref().and_then(|c| c.account(client.server()));
    Current {
        token_id: account.and_then(|a| a.token_id.clone()),
        email: account.and_then(|a| a.user_email.clone()),
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from(TokioClock.now())
}

async fn list(
    client: &Client,
    whole_org: bool,
    all_states: bool,
    json: bool,
) -> Result<i32, Error> {
    let api = client.api().await?;
    let mut tokens = api.list_tokens(whole_org).await?;
    let listed = tokens.len();
    if !all_states {
        tokens.retain(|t| t.state == TokenState::Active);
    }
    let current = current(client, &api).await;
    if json {
        super::output::print_json(&serde_json::json!({
            "tokens": tokens,
            "current_token_id": current.token_id,
        }));
        return Ok(exit::OK);
    }
    if tokens.is_empty() {
        if listed > 0 {
            println!("No active tokens (--all-states shows the revoked and expired ones).");
        } else {
            println!("No tokens.");
        }
        return Ok(exit::OK);
    }
    print!("{}", table(&tokens, &current, all_states, now()));
    Ok(exit::OK)
}

/// The token list as a table: a `*` before this devauth's own token (and a
/// line saying so), OWNER when the tokens are not all the caller's, ORG when
/// they span orgs, STATUS only when revoked and expired ones are shown.
pub fn table(
    tokens: &[TokenInfo],
    current: &Current,
    with_state: bool,
    now: OffsetDateTime,
) -> String {
    let owner = |t: &TokenInfo| {
        t.user_email
            .clone()
            .unwrap_or_else(|| "(service)".to_string())
    };
    let with_owner = match &current.email {
        Some(me) => tokens.iter().any(|t| {
            !t.user_email
                .as_ref()
                .is_some_and(|e| e.eq_ignore_ascii_case(me))
        }),
        None => tokens.iter().any(|t| owner(t) != owner(&tokens[0])),
    };
    let with_org = tokens.iter().any(|t| t.org_slug != tokens[0].org_slug);
    let is_current = |t: &TokenInfo| current.token_id.as_deref() == Some(t.id.as_str());
    let date = |t: &str| t.chars().take(10).collect::<String>();

    let mut header = vec!["", "ID", "NAME", "KIND", "HINT"];
    if with_owner {
        header.push("OWNER");
    }
    if with_org {
        header.push("ORG");
    }
    header.extend(["CREATED", "EXPIRES", "LAST USED"]);
    if with_state {
        header.push("STATUS");
    }
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    for t in tokens {
        let mut row = vec![
            if is_current(t) { "*" } else { "" }.to_string(),
            t.id.clone(),
            t.name.clone(),
            t.kind.to_string(),
            t.hint.clone(),
        ];
        if with_owner {
            row.push(owner(t));
        }
        if with_org {
            row.push(t.org_slug.clone());
        }
        row.push(date(&t.created_at));
        row.push(t.expires_at.as_deref().map_or("never".to_string(), date));
        row.push(last_used(t, now));
        if with_state {
            row.push(t.state.to_string());
        }
        rows.push(row.iter().map(|cell| clean(cell, 60)).collect());
    }
    let mut widths = vec![0usize; rows[0].len()];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if tokens.iter().any(is_current) {
        out.push_str("* the token this devauth is signed in with\n");
    }
    out
}

/// "5 minutes ago", "never".
fn last_used(t: &TokenInfo, now: OffsetDateTime) -> String {
    match t.last_used_at.as_deref() {
        None => "never".to_string(),
        Some(raw) => {
            parse_time(raw).map_or_else(|| raw.to_string(), |at| distance(at.min(now), now))
        }
    }
}

async fn create(
    client: &Client,
    name: String,
    expires: String,
    scopes: Vec<String>,
    json: bool,
) -> Result<i32, Error> {
    if !valid_expires(&expires) {
        return Err(Error::Usage(format!(
            "--expires {expires}: use 30d, 90d, 365d, never or a date YYYY-MM-DD"
        )));
    }
    let scopes = devauth_client::api::parse_scope_args(&scopes).map_err(Error::Usage)?;
    let new = CreateToken {
        name,
        expires: Some(expires),
        scopes,
        kind: Some(devauth_proto::TokenKind::Personal),
    };
    let created = client.api().await?.create_token(&new).await?;
    if json {
        super::output::print_json(&created);
    } else {
        println!("{}", created.token.expose());
        eprintln!(
            "Created personal token {:?} (id {}). This is the only time it is shown.",
            created.info.name, created.info.id
        );
    }
    Ok(exit::OK)
}

/// What a `tokens revoke` argument names among the listed tokens.
#[derive(Debug)]
pub enum Found<'a> {
    One(&'a TokenInfo),
    Several(Vec<&'a TokenInfo>),
    Nothing,
}

/// The token `query` names: an id (any state), else the name or hint of an
/// active token. Several active tokens can share a name (or, rarely, a hint).
pub fn find<'a>(tokens: &'a [TokenInfo], query: &str) -> Found<'a> {
    let query = query.trim();
    if let Some(t) = tokens.iter().find(|t| t.id.eq_ignore_ascii_case(query)) {
        return Found::One(t);
    }
    let mut named: Vec<&TokenInfo> = tokens
        .iter()
        .filter(|t| t.state == TokenState::Active)
        .filter(|t| t.name == query || hint_matches(&t.hint, query))
        .collect();
    match named.len() {
        0 => Found::Nothing,
        1 => Found::One(named.remove(0)),
        _ => Found::Several(named),
    }
}

/// Whether `query` is the hint `dva_4fdd…adc1` as shown: whole (`...` for
/// `…`, `dva_` optional), or one visible end of at least four characters
/// (`dva_4fdd`, `4fdd`, `adc1`, `…adc1`).
pub fn hint_matches(hint: &str, query: &str) -> bool {
    let normal = |s: &str| {
        let s = s.trim().to_ascii_lowercase().replace("...", "…");
        s.strip_prefix("dva_").map(str::to_string).unwrap_or(s)
    };
    let (hint, query) = (normal(hint), normal(query));
    let Some((head, tail)) = hint.split_once('…') else {
        return !query.is_empty() && hint == query;
    };
    match query.split_once('…') {
        Some((q_head, q_tail)) => {
            q_head.len() + q_tail.len() >= 4
                && (q_head.is_empty() || head == q_head)
                && (q_tail.is_empty() || tail == q_tail)
        }
        None => {
            query.len() >= 4
                && query.chars().all(|c| c.is_ascii_hexdigit())
                && (head.starts_with(&query) || tail.ends_with(&query))
        }
    }
}

/// A whole token (`dva_` and 64 hex digits): never sent as an id, where it
/// would land in the server's request log.
fn is_a_secret(query: &str) -> bool {
    let query = query.trim();
    query.len() == 68
        && query.starts_with("dva_")
        && query[4..].chars().all(|c| c.is_ascii_hexdigit())
}

async fn revoke(client: &Client, query: &str, whole_org: bool) -> Result<i32, Error> {
    let query = query.trim();
    if query.is_empty() {
        return Err(Error::Usage(
            "name the token to revoke by its id, name or hint (devauth tokens list)".into(),
        ));
    }
    if is_a_secret(query) {
        return Err(Error::Usage(
            "that is a token itself, not its id, name or hint; nothing was sent. Find its id or \
             hint with `devauth tokens list`"
                .into(),
        ));
    }
    let api = client.api().await?;
    let tokens = api.list_tokens(whole_org).await?;
    let current = current(client, &api).await;
    let token = match find(&tokens, query) {
        Found::One(token) => token,
        Found::Several(candidates) => {
            return Err(Error::Usage(ambiguous(query, &candidates, now())));
        }
        Found::Nothing => {
            // Perhaps the id of a token the list does not show (another
            // member's, to an admin without --all): the server decides.
            return match api.revoke_token(query).await {
                Ok(()) => {
                    eprintln!("Revoked token {}.", clean(query, 100));
                    Ok(exit::OK)
                }
                Err(devauth_client::api::ApiError::NotFound { .. }) => {
                    Err(Error::Usage(nothing_found(query, whole_org)))
                }
                Err(e) => Err(e.into()),
            };
        }
    };
    api.revoke_token(&token.id).await?;
    eprintln!(
        "Revoked token {} ({}, id {}).",
        clean(&format!("`{}`", token.name), 100),
        clean(&token.hint, 40),
        token.id
    );
    if current.token_id.as_deref() == Some(token.id.as_str()) {
        eprintln!(
            "That was the token this devauth is signed in with; sign in again with `devauth login`."
        );
    }
    Ok(exit::OK)
}

fn ambiguous(query: &str, candidates: &[&TokenInfo], now: OffsetDateTime) -> String {
    let mut out = format!(
        "`{}` matches {} active tokens, so nothing was revoked. Name one by its id or hint:",
        clean(query, 100),
        candidates.len()
    );
    for t in candidates {
        let owner = t.user_email.as_deref().unwrap_or("(service)");
        out.push_str("\n  ");
        out.push_str(&clean(
            &format!(
                "{}  {}  {}  {owner}, created {}, last used {}",
                t.id,
                t.hint,
                t.name,
                t.created_at.chars().take(10).collect::<String>(),
                last_used(t, now)
            ),
            300,
        ));
    }
    out
}

fn nothing_found(query: &str, whole_org: bool) -> String {
    let mut out = format!(
        "no active token has the id, name or hint `{}`; nothing was revoked. \
         `devauth tokens list` shows them",
        clean(query, 100)
    );
    if !whole_org {
        out.push_str(" (an admin's --all looks through the whole organization's)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str, name: &str, hint: &str) -> TokenInfo {
        TokenInfo {
            id: id.into(),
            hint: hint.into(),
            name: name.into(),
            kind: devauth_proto::TokenKind::Personal,
            user_id: Some("u_1".into()),
            user_email: Some("ada@example.com".into()),
            org_id: "o_1".into(),
            org_slug: "acme".into(),
            scopes: Vec::new(),
            created_at: "2026-11-01T10:00:00Z".into(),
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
            state: TokenState::Active,
        }
    }

    fn ids(found: Found<'_>) -> Vec<String> {
        match found {
            Found::One(t) => vec![t.id.clone()],
            Found::Several(list) => list.iter().map(|t| t.id.clone()).collect(),
            Found::Nothing => Vec::new(),
        }
    }

    #[test]
    fn a_hint_matches_whole_or_by_either_end() {
        let hint = "dva_4fdd…adc1";
        for yes in [
            "dva_4fdd…adc1",
            "4fdd…adc1",
            "dva_4fdd...adc1",
            "DVA_4FDD…ADC1",
            "dva_4fdd",
            "4fdd",
            "adc1",
            "…adc1",
            "...adc1",
            "dva_4fdd…",
        ] {
            assert!(hint_matches(hint, yes), "{yes}");
        }
        for no in [
            "",
            "4fd",
            "dva_",
            "…",
            "adc",
            "dc1",
            "4fdd…adc2",
            "dva_4fdd…ad",
            "fdd…adc1",
            "zzzz",
            "4fddadc1",
        ] {
            assert!(!hint_matches(hint, no), "{no}");
        }
    }

    #[test]
    fn find_by_id_name_or_hint_and_never_guess() {
        let mut revoked = token("t_3", "laptop", "dva_9999…0000");
        revoked.state = TokenState::Revoked;
        let tokens = vec![
            token("t_1", "laptop", "dva_4fdd…adc1"),
            token("t_2", "laptop", "dva_1234…abcd"),
            revoked,
            token("t_4", "ci", "dva_5555…6666"),
        ];
        assert_eq!(ids(find(&tokens, "t_3")), ["t_3"], "ids find any state");
        assert_eq!(ids(find(&tokens, "ci")), ["t_4"]);
        assert_eq!(ids(find(&tokens, " abcd ")), ["t_2"]);
        assert_eq!(ids(find(&tokens, "dva_4fdd…adc1")), ["t_1"]);
        assert!(matches!(find(&tokens, "laptop"), Found::Several(ref l) if l.len() == 2));
        assert_eq!(
            ids(find(&tokens, "9999")),
            Vec::<String>::new(),
            "not active"
        );
        assert!(matches!(find(&tokens, "desktop"), Found::Nothing));
        let text = ambiguous(
            "laptop",
            &[&tokens[0], &tokens[1]],
            parse_time("2026-11-02T10:00:00Z").unwrap(),
        );
        for needle in [
            "`laptop` matches 2 active tokens",
            "\n  t_1  dva_4fdd…adc1  laptop  ada@example.com, created 2026-11-01, last used never",
            "\n  t_2  dva_1234…abcd",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }

    #[test]
    fn a_pasted_token_is_never_taken_for_an_id() {
        assert!(is_a_secret(&format!("dva_{}", "ab".repeat(32))));
        assert!(!is_a_secret("dva_4fdd…adc1"));
        assert!(!is_a_secret("1f0c2b3a-0000-4000-8000-000000000000"));
    }

    #[test]
    fn the_table_marks_this_token_and_shows_owner_and_org_only_when_they_differ() {
        let now = parse_time("2026-11-23T12:00:00Z").unwrap();
        let mut used = token("t_1", "devauth CLI on box", "dva_4fdd…adc1");
        used.last_used_at = Some("2026-11-23T11:55:00Z".into());
        let tokens = vec![used, token("t_2", "ci", "dva_1234…abcd")];
        let me = Current {
            token_id: Some("t_1".into()),
            email: Some("ada@example.com".into()),
        };
        let text = table(&tokens, &me, false, now);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("   ID "), "{text}");
        assert!(lines[1].starts_with("*  t_1 "), "{text}");
        assert!(lines[1].ends_with("5 minutes ago"), "{text}");
        assert!(
            lines[2].starts_with("   t_2 ") && lines[2].ends_with("never"),
            "{text}"
        );
        assert_eq!(lines[3], "* the token this devauth is signed in with");
        for absent in ["OWNER", "ORG", "STATUS"] {
            assert!(!text.contains(absent), "{absent}: {text}");
        }

        let mut theirs = token("t_5", "build", "dva_aaaa…bbbb");
        theirs.user_email = Some("bob@example.com".into());
        theirs.org_slug = "other".into();
        let mut service = token("t_6", "deploy", "dva_cccc…dddd");
        service.user_email = None;
        service.state = TokenState::Expired;
        let tokens = vec![tokens[0].clone(), theirs, service];
        let text = table(&tokens, &me, true, now);
        for needle in [
            "OWNER",
            "ORG",
            "STATUS",
            "bob@example.com",
            "(service)",
            "other",
            "expired",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        let nobody = table(&tokens[..1], &Current::default(), false, now);
        assert!(
            !nobody.contains('*') && !nobody.contains("OWNER"),
            "{nobody}"
        );
    }
}
