//! [`Secret`], the wrapper every token and device code lives in.

use std::fmt;

/// A token, device code or other credential.
///
/// `Debug` and `Display` never show the value, so a `Secret` can sit inside
/// any struct or error that gets logged. The value is reachable only through
/// [`Secret::expose`]. `Secret` deserializes (for API responses that carry a
/// token) but deliberately does not serialize.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, for the one place that has to send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("dva_0123456789abcdef");
        assert_eq!(format!("{s:?}"), "Secret(redacted)");
        assert_eq!(format!("{s}"), "Secret(redacted)");
        assert_eq!(
            format!("{:#?}", Some(&s)),
            "Some(\n    Secret(redacted),\n)"
        );
        assert_eq!(s.expose(), "dva_0123456789abcdef");
    }

    #[test]
    fn nested_in_a_struct_stays_hidden() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Issued {
            token: Secret,
            name: String,
        }
        let issued: Issued =
            serde_json::from_str(r#"{"token":"dva_feedface","name":"laptop"}"#).unwrap();
        let shown = format!("{issued:?}");
        assert!(!shown.contains("feedface"), "{shown}");
        assert!(shown.contains("laptop"));
        assert_eq!(issued.token.expose(), "dva_feedface");
    }
}
