//! The audit log as people read it: actors and targets by name (linked where
//! the console shows them), actions and details in words, and the filtered
//! view as CSV. The log itself stays as written; only its display changes.

use super::views::{EventRow, when};
use crate::model::{AuditAction, AuditEvent, Member, TokenKind};
use crate::tokens::TokenView;
use std::collections::HashMap;

/// What the org's tokens and members are called, by id (and members by
/// email too).
pub struct Names {
    org_slug: String,
    tokens: HashMap<String, TokenName>,
    people: HashMap<String, String>,
}

struct TokenName {
    name: String,
    kind: TokenKind,
    owner: Option<String>,
}

impl Names {
    pub fn new(org_slug: &str, tokens: &[TokenView], members: &[Member]) -> Names {
        let mut people = HashMap::new();
        for m in members {
            let name = if m.user.name.trim().is_empty() {
                m.user.email.clone()
            } else {
                m.user.name.clone()
            };
            people.insert(m.user.id.to_string(), name.clone());
            people.insert(m.user.email.to_lowercase(), name);
        }
        let tokens = tokens
            .iter()
            .map(|v| {
                let t = &v.token;
                let owner = t
                    .user_email
                    .as_ref()
                    .map(|e| people.get(&e.to_lowercase()).cloned().unwrap_or(e.clone()));
                (
                    t.id.to_string(),
                    TokenName {
                        name: t.name.clone(),
                        kind: t.kind,
                        owner,
                    },
                )
            })
            .collect();
        Names {
            org_slug: org_slug.to_string(),
            tokens,
            people,
        }
    }

    fn person(&self, who: &str) -> Option<&str> {
        self.people
            .get(who)
            .or_else(|| self.people.get(&who.to_lowercase()))
            .map(String::as_str)
    }

    /// A token in words: "“Bob's laptop” (device sign-in of Bob)".
    fn token(&self, id: &str) -> Option<String> {
        let t = self.tokens.get(id)?;
        let whose = match (&t.kind, &t.owner) {
            (TokenKind::Device, Some(owner)) => format!("device sign-in of {owner}"),
            (TokenKind::Personal, Some(owner)) => format!("token of {owner}"),
            (TokenKind::Service, _) => "service token".into(),
            (_, None) => "token".into(),
        };
        Some(format!("“{}” ({whose})", t.name))
    }
}

impl EventRow {
    pub fn new(event: &AuditEvent, names: &Names) -> Self {
        let action = AuditAction::parse(&event.action);
        let (target, target_link) = target_words(event, names);
        Self {
            at: when(event.at),
            at_iso: super::views::iso(event.at),
            action: action
                .map(|a| a.words().to_string())
                .unwrap_or_else(|| event.action.clone()),
            actor: actor_words(event, action, names),
            target,
            target_link,
            ip: event.ip.clone().unwrap_or_default(),
            detail: detail_words(event.detail.as_deref().unwrap_or_default(), names),
        }
    }
}

fn actor_words(event: &AuditEvent, action: Option<AuditAction>, names: &Names) -> String {
    match event.actor_kind.as_str() {
        "user" => match names.person(&event.actor) {
            Some(name) if name != event.actor => format!("{name} ({})", event.actor),
            _ => event.actor.clone(),
        },
        "token" => event
            .actor_id
            .as_deref()
            .and_then(|id| names.token(id))
            .unwrap_or_else(|| format!("a token ({})", event.actor)),
        "system" => "The server (admin command)".into(),
        _ => match action {
            Some(AuditAction::DeviceRequested) => "A device, not signed in yet".into(),
            Some(AuditAction::TokenIssued) => "The device, redeeming its approved code".into(),
            Some(AuditAction::LoginFailed) => "Someone signing in".into(),
            Some(AuditAction::SetupClaimFailed) => "Someone on the setup page".into(),
            _ => "Someone not signed in".into(),
        },
    }
}

fn target_words(event: &AuditEvent, names: &Names) -> (String, Option<String>) {
    let Some(target) = event.target.as_deref() else {
        return (String::new(), None);
    };
    let slug = &names.org_slug;
    if let Some(words) = names.token(target) {
        let name = names
            .tokens
            .get(target)
            .map(|t| t.name.as_str())
            .unwrap_or_default();
        let link = format!(
            "/admin/{slug}/tokens?state=all&q={}",
            super::views::query_component(name)
        );
        return (words, Some(link));
    }
    if let Some(name) = names.person(target) {
        let shown = if name.eq_ignore_ascii_case(target) {
            name.to_string()
        } else {
            format!("{name} ({target})")
        };
        return (shown, Some(format!("/admin/{slug}")));
    }
    if target == slug {
        return (format!("the organization {slug}"), None);
    }
    if looks_like_id(target) {
        let words = if event.action.starts_with("device.") {
            "a device request"
        } else if event.action.starts_with("org.") {
            "this organization"
        } else {
            "an item since deleted"
        };
        return (words.into(), None);
    }
    (target.to_string(), None)
}

/// Whether `text` is one of devauth's ids (a UUID).
fn looks_like_id(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A detail as a sentence: quotes instead of code marks, names (or
/// nothing) instead of ids.
fn detail_words(detail: &str, names: &Names) -> String {
    let mut out = String::new();
    let mut open = true;
    for c in detail.chars() {
        if c == '`' {
            out.push(if open { '“' } else { '”' });
            open = !open;
        } else {
            out.push(c);
        }
    }
    let mut words: Vec<String> = Vec::new();
    let mut skip_next_id = false;
    for word in out.split(' ') {
        let bare = word.trim_end_matches([',', '.', ')', ':']);
        if looks_like_id(bare) {
            let tail = &word[bare.len()..];
            match names.token(bare) {
                Some(token) => words.push(format!("{token}{tail}")),
                None if skip_next_id => {}
                None => words.push(format!("a former item{tail}")),
            }
            skip_next_id = false;
            continue;
        }
        // "for device authorization <id>": the request has no name to show.
        if word == "authorization" && words.last().map(String::as_str) == Some("device") {
            words.pop();
            if words.last().map(String::as_str) == Some("for") {
                words.pop();
            }
            skip_next_id = true;
            continue;
        }
        words.push(word.to_string());
    }
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// The rows as CSV (RFC 4180), cells that a spreadsheet would run as a
/// formula made plain text.
pub fn csv(rows: &[EventRow]) -> String {
    let mut out = String::from("time,action,actor,target,ip,detail\r\n");
    for r in rows {
        let cells = [&r.at_iso, &r.action, &r.actor, &r.target, &r.ip, &r.detail];
        let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_read_as_sentences() {
        let names = Names::new("acme", &[], &[]);
        assert_eq!(
            detail_words(
                "device token `Bob's laptop` (dva_12…34) for device authorization 0b7c2a6e-1f00-4c1e-9a2b-1234567890ab",
                &names
            ),
            "Device token “Bob's laptop” (dva_12…34)"
        );
        assert_eq!(
            detail_words(
                "`CI` personal replaced by 0b7c2a6e-1f00-4c1e-9a2b-1234567890ab (dva_1…2)",
                &names
            ),
            "“CI” personal replaced by a former item (dva_1…2)"
        );
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("-1+2"), "'-1+2");
    }
}
