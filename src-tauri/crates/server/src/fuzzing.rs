//! The properties the parsers that read untrusted input must keep, each as a
//! function of arbitrary bytes that panics when one is broken.
//!
//! The proptests in `make test` and the cargo-fuzz targets in `make fuzz`
//! (`tests/fuzz`) call the same functions, so a property is written once and
//! both kinds of search try to break it. Built for tests and with the
//! `fuzzing` feature only.

use crate::client_ip::{TrustedProxies, client_ip};
use crate::http::{OAUTH_MAX_PARAMS, OAuthForm};
use crate::secret::{
    TOKEN_PREFIX, USER_CODE_ALPHABET, format_user_code, is_token_shaped, normalize_user_code,
    token_hint,
};
use std::net::{IpAddr, Ipv4Addr};

/// An OAuth form body: parsing answers (never panics); a form it accepts has
/// at most [`OAUTH_MAX_PARAMS`] parameters and holds each exactly as sent, and
/// one it refuses had a repeated key or too many.
pub fn oauth_form(body: &[u8]) {
    let sent: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut keys: Vec<&str> = sent.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    let repeated = keys.windows(2).any(|w| w[0] == w[1]);
    match OAuthForm::parse(body) {
        Ok(form) => {
            assert!(
                !repeated && sent.len() <= OAUTH_MAX_PARAMS,
                "accepted {body:?}"
            );
            for (key, value) in &sent {
                let expected = Some(value.as_str()).filter(|v| !v.is_empty());
                assert_eq!(form.get(key), expected, "{key:?} in {body:?}");
            }
        }
        Err(_) => assert!(
            repeated || sent.len() > OAUTH_MAX_PARAMS,
            "refused {body:?}"
        ),
    }
}

/// What a person types as a user code: an accepted code is 8 letters of the
/// alphabet, and reading it again in any of the spellings the page shows or
/// a person types (dashed, lower case) gives the same code.
pub fn user_code(input: &[u8]) {
    let Ok(input) = std::str::from_utf8(input) else {
        return;
    };
    let Some(code) = normalize_user_code(input) else {
        // Refused whatever the case: upper-casing what was typed changes nothing.
        assert_eq!(normalize_user_code(&input.to_ascii_uppercase()), None);
        return;
    };
    assert_eq!(code.len(), 8, "{input:?}");
    assert!(
        code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)),
        "{input:?}"
    );
    for spelling in [
        format_user_code(&code),
        code.to_ascii_lowercase(),
        input.to_ascii_lowercase(),
    ] {
        assert_eq!(
            normalize_user_code(&spelling).as_deref(),
            Some(code.as_str())
        );
    }
}

/// Forwarding headers (`Forwarded` and `X-Forwarded-For` lines, chosen by the
/// first byte; lines split at `\n`): never a panic; from a peer that is not a
/// trusted proxy the client is the peer, whatever the headers say; and the
/// answer is never itself a trusted proxy unless every hop named was one.
pub fn forwarding(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let trusted = TrustedProxies::parse("10.0.0.0/8,2001:db8::/32").unwrap_or_default();
    let lines: Vec<&str> = text.split('\n').collect();
    let (forwarded, forwarded_for): (Vec<&str>, Vec<&str>) = if choice & 1 == 0 {
        (lines, Vec::new())
    } else {
        (Vec::new(), lines)
    };
    let stranger = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    let got = client_ip(
        stranger,
        &trusted,
        forwarded.iter().copied(),
        forwarded_for.iter().copied(),
    );
    assert_eq!(got, stranger, "an untrusted peer's headers were believed");
    let proxy = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99));
    let got = client_ip(
        proxy,
        &trusted,
        forwarded.iter().copied(),
        forwarded_for.iter().copied(),
    );
    assert_eq!(got, got.to_canonical(), "{got} is not canonical");
    if got != proxy {
        // A client other than the peer is an address the headers spell out.
        assert!(spelled_out(text).contains(&got), "{got} is not in {text:?}");
    }
}

/// Every address written anywhere in `text`, as a hop may write one (bare,
/// quoted, `[v6]:port`, `v4:port`), canonical: a superset of the hops.
fn spelled_out(text: &str) -> Vec<IpAddr> {
    text.split([',', '\n', ';', '='])
        .filter_map(|piece| {
            let piece = piece.trim().trim_matches('"');
            let bracketed = piece
                .strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .map(|(addr, _)| addr);
            let with_port = piece.rsplit_once(':').map(|(addr, _)| addr);
            [Some(piece), bracketed, with_port]
                .into_iter()
                .flatten()
                .find_map(|a| a.parse::<IpAddr>().ok())
        })
        .map(|ip| ip.to_canonical())
        .collect()
}

/// A sign-in page's `next`: whatever it is, the redirect is a path of this
/// server that no browser reads as another host, and reading it again gives
/// the same path.
pub fn next(data: &[u8]) {
    let Ok(next) = std::str::from_utf8(data) else {
        return;
    };
    let got = crate::web::safe_next(Some(next));
    assert!(got.starts_with('/'), "{got:?}");
    assert!(!got.starts_with("//") && !got.starts_with("/\\"), "{got:?}");
    assert!(!got.contains(['\t', '\n', '\r', ' ']), "{got:?}");
    let path = got.split(['?', '#']).next().unwrap_or_default();
    assert!(!path.contains('\\'), "{got:?}");
    assert_eq!(crate::web::safe_next(Some(&got)), got, "from {next:?}");
}

/// An `Authorization` header value: the bearer token read from it is part
/// of it, a token-shaped one has the documented shape, and no hint of any
/// value shows more than its ends.
pub fn bearer_token(data: &[u8]) {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let Some(token) = crate::auth::bearer(Some(header)) else {
        return;
    };
    assert!(header.contains(token), "{token:?} is not in {header:?}");
    assert_eq!(token, token.trim());
    if is_token_shaped(token) {
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 64);
        assert!(token.is_ascii());
        assert_eq!(token, token.to_ascii_lowercase());
    }
    let hint = token_hint(token);
    assert!(hint.starts_with(TOKEN_PREFIX), "{hint:?}");
    let body = hint.strip_prefix(TOKEN_PREFIX).unwrap_or_default();
    assert!(body.chars().count() <= 9, "{hint:?} shows too much");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn oauth_form_bodies(body in "([a-z_%0-9]{0,4}(=[a-z%0-9+]{0,4})?&?){0,40}") {
            super::oauth_form(body.as_bytes());
        }

        #[test]
        fn oauth_form_bytes(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            super::oauth_form(&body);
        }

        #[test]
        fn user_codes(input in "[BCDFGHJKLMNPQRSTVWXZbcdfghjkaeiou0-9 \t-]{0,14}") {
            super::user_code(input.as_bytes());
        }

        #[test]
        fn forwarding_headers(
            choice in any::<u8>(),
            hops in proptest::collection::vec(
                "(for=)?\"?(10\\.[0-9]\\.0\\.1|203\\.0\\.113\\.[0-9]|\\[2001:db8::[0-9]\\](:80)?|::ffff:10\\.0\\.0\\.1|unknown|_x)\"?",
                0..6,
            ),
            seps in proptest::collection::vec(prop_oneof![Just(","), Just("\n"), Just(";"), Just(", ")], 6),
        ) {
            let mut text = vec![choice];
            for (i, hop) in hops.iter().enumerate() {
                text.extend_from_slice(hop.as_bytes());
                text.extend_from_slice(seps[i].as_bytes());
            }
            super::forwarding(&text);
        }

        #[test]
        fn next_paths(next in "[/\\\\a-z.:@%09\t\n\r ?#]{0,24}") {
            super::next(next.as_bytes());
        }

        #[test]
        fn bearer_headers(header in "( |\t)?(Bearer|bearer|Basic|BEARER)?( {1,2})?(dva_)?[0-9a-fA-F…é]{0,66}( )?") {
            super::bearer_token(header.as_bytes());
        }
    }
}
