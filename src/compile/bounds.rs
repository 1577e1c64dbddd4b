//! Bounds on Cedar text, checked before Cedar's parser sees it.
//!
//! Cedar's parser, validator and evaluator recurse over the expression tree,
//! and so do entitle's own walkers of a policy's JSON form. A guardrail or a
//! `cedar:` escape hatch nested a few hundred levels deep, or a flat chain of
//! thousands of `&&`, overflows the stack and aborts the process — no error,
//! no location. This module scans the text lexically (strings and comments
//! skipped) and bounds how deep the tree it parses to can be, so such input
//! ends in a located diagnostic instead.
//!
//! It never parses Cedar and never judges what a policy means.

/// Deepest nesting of `(`, `[` and `{` accepted in one policy or expression.
pub const MAX_BRACKET_NESTING: usize = 64;

/// Largest bound on the depth of one policy's expression tree: along any
/// path of open brackets, the brackets plus the operators seen inside them.
pub const MAX_EXPRESSION_DEPTH: usize = 1024;

/// Why a text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TooDeep {
    /// Byte offset of the start of the offending policy (or expression).
    pub offset: usize,
    /// One sentence saying which bound was passed.
    pub message: String,
}

/// Checks every policy of `text` (statements end at a top-level `;`) against
/// [`MAX_BRACKET_NESTING`] and [`MAX_EXPRESSION_DEPTH`].
pub fn check(text: &str) -> Result<(), TooDeep> {
    let bytes = text.as_bytes();
    // One entry per open bracket (the outermost is the statement): operators seen at that level.
    let mut ops: Vec<usize> = vec![0];
    let mut statement_start = 0;
    let mut pos = 0;
    // Reported at the statement's first character, past the whitespace after the previous `;`.
    let too_deep = |start: usize, message: String| TooDeep {
        offset: start + text[start..].len() - text[start..].trim_start().len(),
        message,
    };
    while pos < bytes.len() {
        let b = bytes[pos];
        match b {
            b'"' => {
                pos += 1;
                while pos < bytes.len() && bytes[pos] != b'"' {
                    pos += if bytes[pos] == b'\\' { 2 } else { 1 };
                }
                pos += 1;
                continue;
            }
            b'/' if bytes.get(pos + 1) == Some(&b'/') => {
                while pos < bytes.len() && bytes[pos] != b'\n' {
                    pos += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                ops.push(0);
                if ops.len() - 1 > MAX_BRACKET_NESTING {
                    return Err(too_deep(
                        statement_start,
                        format!("Cedar text nests brackets deeper than {MAX_BRACKET_NESTING} levels"),
                    ));
                }
            }
            b')' | b']' | b'}' if ops.len() > 1 => {
                ops.pop();
            }
            b';' if ops.len() == 1 => {
                ops[0] = 0;
                statement_start = pos + 1;
            }
            b'&' | b'|' | b'=' | b'!' | b'<' | b'>' | b'+' | b'-' | b'*' | b'.' => {
                // `&&`, `==`, `!=`, `<=` are one operator: count the first character of a run.
                let prev = pos.checked_sub(1).map(|p| bytes[p]);
                let continues = matches!(
                    (prev, b),
                    (Some(b'&'), b'&') | (Some(b'|'), b'|') | (Some(b'=' | b'!' | b'<' | b'>'), b'=')
                );
                if !continues {
                    count(&mut ops);
                }
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let start = pos;
                while pos < bytes.len() && (bytes[pos].is_ascii_alphanumeric() || bytes[pos] == b'_') {
                    pos += 1;
                }
                if matches!(&text[start..pos], "if" | "then" | "else" | "in" | "has" | "like" | "is") {
                    count(&mut ops);
                }
                if depth(&ops) > MAX_EXPRESSION_DEPTH {
                    return Err(too_deep(statement_start, expression_message()));
                }
                continue;
            }
            _ => {}
        }
        if depth(&ops) > MAX_EXPRESSION_DEPTH {
            return Err(too_deep(statement_start, expression_message()));
        }
        pos += 1;
    }
    Ok(())
}

fn count(ops: &mut [usize]) {
    if let Some(last) = ops.last_mut() {
        *last += 1;
    }
}

fn depth(ops: &[usize]) -> usize {
    ops.iter().map(|n| n + 1).sum()
}

fn expression_message() -> String {
    format!("Cedar expression is too deep: more than {MAX_EXPRESSION_DEPTH} nested operators and brackets")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_policies_pass() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/guardrails.cedar")).unwrap();
        assert_eq!(check(&text), Ok(()));
        assert_eq!(check(r#"principal.note == "((((((((" && principal.x // ((((((("#), Ok(()));
    }

    #[test]
    fn deep_brackets_are_refused_at_their_policy() {
        let ok = format!("{}true{}", "(".repeat(MAX_BRACKET_NESTING), ")".repeat(MAX_BRACKET_NESTING));
        assert_eq!(check(&ok), Ok(()));
        let first = "permit (principal, action, resource);\n";
        let deep = format!("{first}forbid (principal, action, resource) when {{ {ok} }};");
        let err = check(&deep).unwrap_err();
        assert_eq!(err.offset, first.len());
        let err = check(&format!("{first}\n  \n{}", &deep[first.len()..])).unwrap_err();
        assert_eq!(err.offset, first.len() + 4);
        assert_eq!(err.message, "Cedar text nests brackets deeper than 64 levels");
    }

    #[test]
    fn long_operator_chains_are_refused() {
        let chain = |n: usize| vec!["principal.a"; n].join(" && ");
        // Each `principal.a` is one member access plus the `&&`: two operators per term.
        assert_eq!(check(&chain(400)), Ok(()));
        let err = check(&chain(20_000)).unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(err.message.starts_with("Cedar expression is too deep"), "{}", err.message);
        assert!(check(&"!".repeat(5_000)).is_err());
    }

    #[test]
    fn operators_inside_strings_and_comments_do_not_count() {
        let text = format!("principal.a == \"{}\" // {}\n", "&&".repeat(5_000), "(".repeat(5_000));
        assert_eq!(check(&text), Ok(()));
    }
}
