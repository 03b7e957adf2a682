//! Text people will read: names of devices, tokens, orgs and people. Unicode
//! format characters (bidi controls such as U+202E, zero-width spaces and
//! joiners, invisible operators, tag characters) draw nothing yet reorder or
//! hide what is around them, so `Ada\u{202E}…` can show a name other than the
//! one stored. The server refuses them in names; clients drop them from
//! anything they display.

/// Whether `c` is a format character (Unicode general category `Cf`) or
/// another character that renders as nothing (Hangul fillers).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// The first invisible or control character in `text`, if any.
pub fn first_hidden(text: &str) -> Option<char> {
    text.chars().find(|c| c.is_control() || is_invisible(*c))
}

/// `text` for display: control characters become spaces, invisible ones
/// are dropped.
pub fn visible(text: &str) -> String {
    text.chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_zero_width_characters_are_hidden_ones() {
        for c in [
            '\u{202E}',
            '\u{2066}',
            '\u{200B}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{E0041}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", c as u32);
        }
        for c in ['a', 'é', '日', '🙂', ' ', '-'] {
            assert!(!is_invisible(c), "{c}");
        }
        assert_eq!(first_hidden("Ada\u{202E}dap"), Some('\u{202E}'));
        assert_eq!(first_hidden("tab\there"), Some('\t'));
        assert_eq!(first_hidden("Ada's ThinkPad"), None);
        assert_eq!(visible("Ada\u{202E}\u{200B}pad\n"), "Adapad ");
    }
}
