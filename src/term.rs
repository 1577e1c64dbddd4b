//! Text that is safe to print on a terminal.
//!
//! Human output shows values that come from users and feeds: identity ids,
//! attribute values, file names, YAML text quoted in diagnostics. A value
//! holding a newline could forge a line of the plan (`+ grant aws:prod-admin`),
//! a terminal escape sequence could clear the screen or rewrite what a
//! reviewer sees, and a bidirectional override could reorder an id. Every
//! such value goes through [`one_line`] before it reaches human output, where
//! it shows as a visible escape (`\u{1b}`). Machine output (JSON, SARIF, SCIM)
//! needs none of this: its encoders escape control characters themselves.
//!
//! This module never decides what is valid: readers reject control
//! characters in ids; here they are only made visible.

use std::borrow::Cow;

/// Is `c` a character that changes how a terminal shows text rather than
/// being shown: a C0 or C1 control (newline and tab included), DEL, a line or
/// paragraph separator, or an invisible Unicode format character (category
/// Cf: bidi embeddings, overrides and isolates, zero-width characters, the
/// byte-order mark, the soft hyphen, tags)? Readers refuse ids holding one
/// ([`crate::state::is_forbidden_char`] is this list).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
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

/// `text` with every character [`is_unsafe`] says is unsafe written as a
/// visible `\u{..}` escape, so the value stays on one line and shows exactly
/// what it holds. Borrows when there is nothing to escape.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(one_line("u-1042 aws:prod-admin café"), Cow::Borrowed(_)));
    }

    #[test]
    fn newlines_and_escape_sequences_become_visible() {
        assert_eq!(one_line("u-1\n  + grant aws:prod-admin"), "u-1\\u{a}  + grant aws:prod-admin");
        assert_eq!(one_line("\u{1b}[2J\u{1b}]0;title\u{7}"), "\\u{1b}[2J\\u{1b}]0;title\\u{7}");
        assert_eq!(one_line("a\rb\tc\0d\u{7f}e\u{9b}f"), "a\\u{d}b\\u{9}c\\u{0}d\\u{7f}e\\u{9b}f");
    }

    #[test]
    fn bidi_overrides_and_invisible_characters_become_visible() {
        assert_eq!(one_line("u-\u{202e}1001"), "u-\\u{202e}1001");
        assert_eq!(one_line("admin\u{200b}"), "admin\\u{200b}");
        assert_eq!(one_line("\u{feff}x\u{2066}y\u{2069}"), "\\u{feff}x\\u{2066}y\\u{2069}");
    }
}
