//! Making untrusted text safe to print.

/// Makes server- or system-provided text safe to print: control characters
/// (terminal escape sequences among them) become spaces, and the result is cut
/// to `max_chars` characters.
pub fn clean(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars + 1)
        .collect();
    if out.chars().count() > max_chars {
        out = out.chars().take(max_chars.saturating_sub(1)).collect();
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn strips_escapes_and_truncates() {
        assert_eq!(clean("ok\u{1b}[31mred\n", 50), "ok [31mred ");
        assert_eq!(clean("abcdef", 4), "abc…");
        assert_eq!(clean("abcd", 4), "abcd");
    }
}
