//! Writing the generated files: YAML flow values and JSON strings, quoted
//! only where a reader could misread them.
//!
//! Must never: emit a value a YAML or JSON reader would read back
//! differently from what was meant (a date, a number, a keyword, an alias).

use std::fmt::Write;

/// A YAML value written in flow style (`{ a: b }`, `[a, b]`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Y {
    /// A string, quoted when needed.
    Str(String),
    /// A number or keyword written as is (`3`, `true`, `now`).
    Raw(String),
    /// A flow mapping, in order.
    Map(Vec<(String, Y)>),
    /// A flow sequence.
    Seq(Vec<Y>),
}

impl Y {
    /// A string value.
    pub(crate) fn s(text: impl Into<String>) -> Y {
        Y::Str(text.into())
    }

    /// A mapping with one entry, `{ op: value }`.
    pub(crate) fn op(op: &str, value: Y) -> Y {
        Y::Map(vec![(op.to_string(), value)])
    }

    /// A sequence of strings.
    pub(crate) fn strs<S: AsRef<str>>(items: &[S]) -> Y {
        Y::Seq(items.iter().map(|s| Y::s(s.as_ref())).collect())
    }

    /// Writes the value in flow style.
    pub(crate) fn write(&self, out: &mut String) {
        match self {
            Y::Str(s) => out.push_str(&scalar(s)),
            Y::Raw(s) => out.push_str(s),
            Y::Map(entries) => {
                out.push_str("{ ");
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    v.write(out);
                }
                out.push_str(" }");
            }
            Y::Seq(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write(out);
                }
                out.push(']');
            }
        }
    }

    /// The value in flow style.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

/// A YAML scalar: plain when it is a word-like string a reader keeps as a
/// string, double-quoted (JSON escaping) otherwise.
pub(crate) fn scalar(s: &str) -> String {
    const KEYWORDS: &[&str] = &["true", "false", "yes", "no", "on", "off", "null", "y", "n", "now", "~"];
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | ':'))
        && !s.ends_with([' ', ':'])
        && !(s.contains(':') && s.contains(' '))
        && !KEYWORDS.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_string()
    } else {
        let mut out = String::with_capacity(s.len() + 2);
        json_str(&mut out, s);
        out
    }
}

/// Appends `s` as a JSON string (which is also a YAML double-quoted scalar).
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A list of ids in flow style: `[a, b]`.
pub(crate) fn id_list<S: AsRef<str>>(ids: &[S]) -> String {
    Y::strs(ids).render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        assert_eq!(scalar("Engineering"), "Engineering");
        assert_eq!(scalar("Customer Success"), "Customer Success");
        assert_eq!(scalar("ENG-2*"), "\"ENG-2*\"");
        assert_eq!(scalar("2016-01-01"), "\"2016-01-01\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("now"), "\"now\"");
        assert_eq!(scalar("okta:sso"), "okta:sso");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("a:"), "\"a:\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
    }

    #[test]
    fn flow_values_render() {
        let y = Y::Map(vec![
            ("status".into(), Y::s("active")),
            ("job_code".into(), Y::op("matches", Y::s("ENG-2*"))),
            ("location".into(), Y::op("in", Y::strs(&["London", "Remote-EU"]))),
            ("clearance".into(), Y::op("gte", Y::Raw("2".into()))),
        ]);
        assert_eq!(
            y.render(),
            "{ status: active, job_code: { matches: \"ENG-2*\" }, location: { in: [London, Remote-EU] }, clearance: { gte: 2 } }"
        );
    }
}
