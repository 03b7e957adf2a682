//! Making untrusted text safe to print.

/// Makes server- or system-provided text safe to print: control characters
/// (terminal escape sequences among them) become spaces, invisible ones
/// (bidi controls, zero-width characters: [`devauth_proto::text`]) are
/// dropped, and the result is cut to `max_chars` characters.
pub fn clean(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .filter(|c| !devauth_proto::text::is_invisible(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars + 1)
        .collect();
    if out.chars().count() > max_chars {
        out = out.chars().take(max_chars.saturating_sub(1)).collect();
        out.push('…');
    }
    out
}

/// A name from the server (a person's, an org's, a device's) as the client
/// shows it: [`clean`], at most 200 characters.
pub fn name(text: &str) -> String {
    clean(text, 200)
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn strips_escapes_and_truncates() {
        assert_eq!(clean("ok\u{1b}[31mred\n", 50), "ok [31mred ");
        assert_eq!(clean("abcdef", 4), "abc…");
        assert_eq!(clean("abcd", 4), "abcd");
        assert_eq!(clean("Ada\u{202E}dapkniht\u{200B}", 50), "Adadapkniht");
    }
}
