//! What a page has to say after a form's redirect (Post/Redirect/Get): the
//! outcome, and a secret shown once. It is held for exactly one view.
//!
//! The note is sealed (ChaCha20-Poly1305) under a fresh key that only the
//! browser's flash cookie holds; the sealed bytes sit on the session's row,
//! bound to that session. The view that shows the note takes it from the row
//! (an atomic `UPDATE … RETURNING`) and clears the cookie, so a reload, a
//! second tab or a replayed cookie finds nothing. Neither side alone can read
//! it: the database has no key and the cookie has no note.

use crate::secret::hex;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};

/// A token value shown exactly once.
#[derive(Serialize, Deserialize)]
pub struct ShownOnce {
    pub name: String,
    pub value: String,
    /// What it is for, when the page has more to say than its name.
    #[serde(default)]
    pub purpose: Option<String>,
}

/// The outcome of a form, for the page the browser is sent to.
#[derive(Serialize, Deserialize, Default)]
pub struct Flash {
    pub notice: Option<String>,
    pub warning: Option<String>,
    pub shown_once: Option<ShownOnce>,
}

impl Flash {
    pub fn notice(text: impl Into<String>) -> Flash {
        Flash {
            notice: Some(text.into()),
            ..Flash::default()
        }
    }

    /// A notice and a secret (a token, a link) to show this once.
    pub fn secret(notice: impl Into<String>, name: impl Into<String>, value: &str) -> Flash {
        Flash {
            notice: Some(notice.into()),
            shown_once: Some(ShownOnce {
                name: name.into(),
                value: value.to_string(),
                purpose: None,
            }),
            ..Flash::default()
        }
    }

    /// What the secret is for, beside it.
    pub fn for_purpose(mut self, purpose: impl Into<String>) -> Flash {
        if let Some(shown) = self.shown_once.as_mut() {
            shown.purpose = Some(purpose.into());
        }
        self
    }
}

/// How long a note waits for its view, seconds (the cookie's `Max-Age`).
pub const FLASH_SECS: i64 = 300;

fn key(bytes: &[u8]) -> Option<LessSafeKey> {
    UnboundKey::new(&CHACHA20_POLY1305, bytes)
        .ok()
        .map(LessSafeKey::new)
}

fn aad(session_hash: &str) -> Vec<u8> {
    format!("devauth flash\0{session_hash}").into_bytes()
}

/// Seals `flash` for the session whose id hashes to `session_hash`: the
/// key for the cookie and the sealed note for the store, both as hex.
pub fn seal(flash: &Flash, session_hash: &str) -> Option<(String, String)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    let mut sealed = serde_json::to_vec(flash).ok()?;
    // A key seals one note only, so one fixed nonce never repeats under it.
    key(&bytes)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(aad(session_hash)),
            &mut sealed,
        )
        .ok()?;
    Some((hex(&bytes), hex(&sealed)))
}

/// Opens a note sealed by [`seal`]: `None` if the key, the session or the
/// bytes are not the ones it was sealed with.
pub fn open(key_hex: &str, sealed_hex: &str, session_hash: &str) -> Option<Flash> {
    let key_bytes = unhex(key_hex)?;
    let mut sealed = unhex(sealed_hex)?;
    let plain = key(&key_bytes)?
        .open_in_place(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(aad(session_hash)),
            &mut sealed,
        )
        .ok()?;
    serde_json::from_slice(plain).ok()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note() -> Flash {
        Flash {
            notice: Some("Created token CI.".into()),
            warning: None,
            shown_once: Some(ShownOnce {
                name: "CI".into(),
                value: "dva_secret".into(),
                purpose: None,
            }),
        }
    }

    #[test]
    fn a_note_opens_with_its_key_for_its_session_only() {
        let (key, sealed) = seal(&note(), "session-a").expect("sealed");
        assert!(
            !sealed.contains(&hex(b"dva_secret")),
            "the store sees no secret"
        );
        let opened = open(&key, &sealed, "session-a").expect("opens");
        assert_eq!(
            opened.shown_once.map(|s| s.value).as_deref(),
            Some("dva_secret")
        );
        assert!(
            open(&key, &sealed, "session-b").is_none(),
            "another session"
        );
        let (other_key, _) = seal(&note(), "session-a").expect("sealed");
        assert!(
            open(&other_key, &sealed, "session-a").is_none(),
            "another key"
        );
        let mut tampered = sealed.clone().into_bytes();
        tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap_or_default();
        assert!(open(&key, &tampered, "session-a").is_none(), "tampered");
        assert!(open("zz", &sealed, "session-a").is_none(), "not a key");
    }
}
