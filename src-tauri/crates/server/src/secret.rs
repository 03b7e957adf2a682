//! Secrets and how they are made, shown and stored.
//!
//! Tokens are `dva_` + 64 lowercase hex (256 bits from the OS CSPRNG). Only the
//! SHA-256 of a secret ever reaches the database. [`Secret`] wraps every raw value
//! so `Debug` and logs print `[redacted]`.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// What every bearer token starts with.
pub const TOKEN_PREFIX: &str = "dva_";
/// The user-code alphabet: consonants only, so no words and no look-alike digits.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A secret value. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a raw secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for the one place that must send or hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in constant time.
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// For `#[serde(serialize_with = …)]` on the one field of a response that
/// must carry the raw value (a token shown once, a device code).
pub fn serialize_exposed<S: serde::Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS CSPRNG failing is not something a server can work around.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// Lowercase hex of `bytes`, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// SHA-256 of a secret, lowercase hex: the only form secrets are stored in.
pub fn sha256_hex(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

/// A new bearer token: `dva_` + 64 lowercase hex.
pub fn new_token() -> Secret {
    Secret(format!("{TOKEN_PREFIX}{}", hex(&random_bytes::<32>())))
}

/// A new device code: 256 random bits, URL-safe.
pub fn new_device_code() -> Secret {
    Secret(hex(&random_bytes::<32>()))
}

/// A new setup token for the first-run claim.
pub fn new_setup_token() -> Secret {
    Secret(format!("setup_{}", hex(&random_bytes::<16>())))
}

/// A random opaque id for rows (not a secret).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Does this look like one of our tokens? (Cheap shape check before any lookup.)
pub fn is_token_shaped(value: &str) -> bool {
    value.len() == TOKEN_PREFIX.len() + 64
        && value.starts_with(TOKEN_PREFIX)
        && value[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What lists show instead of the token: `dva_1a2b…9f0e`.
pub fn token_hint(token: &str) -> String {
    let body = token.strip_prefix(TOKEN_PREFIX).unwrap_or(token);
    let head: String = body.chars().take(4).collect();
    let tail: String = body
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{TOKEN_PREFIX}{head}…{tail}")
}

/// A new user code, 8 letters of [`USER_CODE_ALPHABET`], unbiased.
pub fn new_user_code() -> Secret {
    let mut code = String::with_capacity(8);
    while code.len() < 8 {
        for b in random_bytes::<16>() {
            // 240 = 12 × 20: rejecting bytes above it keeps every letter equally likely.
            if b < 240 && code.len() < 8 {
                code.push(USER_CODE_ALPHABET[usize::from(b % 20)] as char);
            }
        }
    }
    Secret(code)
}

/// Where new user codes come from: the OS CSPRNG, after any codes a test
/// queued (to make two requests draw the same code).
#[derive(Debug, Default)]
pub struct UserCodes {
    queued: std::sync::Mutex<std::collections::VecDeque<String>>,
}

impl UserCodes {
    /// The next code.
    pub fn next(&self) -> Secret {
        let queued = self
            .queued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        queued.map_or_else(new_user_code, Secret)
    }

    /// Makes the next codes drawn these ones (tests).
    pub fn queue<'a>(&self, codes: impl IntoIterator<Item = &'a str>) {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        queued.extend(codes.into_iter().map(str::to_string));
    }
}

/// `BCDFGHJK` → `BCDF-GHJK`.
pub fn format_user_code(code: &str) -> String {
    if code.len() == 8 {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_string()
    }
}

/// Accepts what a person types: any case, dashes and spaces anywhere.
/// Returns `None` when it cannot be a user code at all.
pub fn normalize_user_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == 8 && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_documented_shape() {
        let token = new_token();
        assert!(is_token_shaped(token.expose()), "{}", token.expose().len());
        assert_ne!(token.expose(), new_token().expose());
        assert!(!is_token_shaped("dva_XYZ"));
        assert!(!is_token_shaped(&token.expose().to_uppercase()));
    }

    #[test]
    fn secrets_never_print() {
        let token = new_token();
        assert!(!format!("{token:?}").contains(token.expose()));
        assert!(!format!("{token}").contains(token.expose()));
    }

    #[test]
    fn hint_shows_only_the_ends() {
        let token = "dva_1a2b000000000000000000000000000000000000000000000000000000009f0e";
        assert_eq!(token_hint(token), "dva_1a2b…9f0e");
    }

    #[test]
    fn user_codes_are_normalized_forgivingly() {
        let code = new_user_code();
        assert_eq!(code.expose().len(), 8);
        assert!(
            code.expose()
                .bytes()
                .all(|b| USER_CODE_ALPHABET.contains(&b))
        );
        assert_eq!(
            normalize_user_code("bcdf-ghjk").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(
            normalize_user_code(" BCDF GHJK ").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
        assert_eq!(normalize_user_code("ABCD-EFGH"), None); // vowels never appear
        assert_eq!(format_user_code("BCDFGHJK"), "BCDF-GHJK");
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

/// A key the servers on one database share (`server_keys`), for MACs the
/// browser carries: CSRF tokens, known-browser cookies. `Debug` hides it.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey([redacted])")
    }
}

impl ServerKey {
    /// 256 fresh random bits, as hex (what the store keeps).
    pub fn generate_hex() -> String {
        let mut bytes = [0u8; 32];
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        hex(&bytes)
    }

    /// The key stored as hex; `None` when it is not 64 hex digits.
    pub fn from_hex(text: &str) -> Option<ServerKey> {
        if text.len() != 64 {
            return None;
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(ServerKey(key))
    }

    /// HMAC-SHA256 of the parts (each followed by a NUL, so that no two
    /// lists of parts share a message), as hex.
    pub fn mac(&self, parts: &[&str]) -> String {
        use hmac::Mac;
        #[allow(clippy::expect_used)]
        let mut mac =
            hmac::Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any size");
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        hex(&mac.finalize().into_bytes())
    }

    /// Whether `given` is the MAC of `parts`, in constant time.
    pub fn verify(&self, parts: &[&str], given: &str) -> bool {
        self.mac(parts).as_bytes().ct_eq(given.as_bytes()).into()
    }
}
