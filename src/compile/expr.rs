//! Conditions → Cedar expression text, with every user string escaped.
//!
//! Invariant: the only text this module copies verbatim from the YAML is a
//! `cedar:` escape hatch, and that only after it parsed as a single Cedar
//! expression (checked by the compiler); everything else is escaped here.

use crate::model::{AttrTest, AttrType, CmpOp, Condition, Literal, Subject};

/// A Cedar string literal for `s`: quotes, backslashes and every
/// non-printable or non-ASCII character are escaped.
pub fn string_lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out.push('"');
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        ' '..='~' => out.push(c),
        _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// A Cedar `like` pattern for a glob where `*` is the only wildcard.
pub fn like_pattern(glob: &str) -> String {
    let mut out = String::from("\"");
    for c in glob.chars() {
        if c == '*' {
            out.push('*');
        } else {
            push_escaped(&mut out, c);
        }
    }
    out.push('"');
    out
}

/// An entity reference such as `Entitlement::"github:org-member"`.
pub fn entity_ref(ty: &str, id: &str) -> String {
    format!("{ty}::{}", string_lit(id))
}

/// A literal's Cedar text.
pub fn literal(l: &Literal) -> String {
    match l {
        Literal::Str(s) => string_lit(s),
        Literal::Int(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Date(t) => format!("datetime({})", string_lit(&t.to_cedar())),
        Literal::Now => "context.now".to_string(),
    }
}

fn set_lit(items: &[Literal]) -> String {
    format!("[{}]", items.iter().map(literal).collect::<Vec<_>>().join(", "))
}

/// The guard that makes the subject's attribute safe to read, and the access itself.
fn access(subject: Subject, attr: &str) -> (String, String) {
    match subject {
        Subject::Identity => (format!("principal has {attr}"), format!("principal.{attr}")),
        Subject::Owner => (
            format!("{} && principal.owner has {attr}", owner_known()),
            format!("principal.owner.{attr}"),
        ),
    }
}

/// True when the identity has an owner whose record is loaded (every loaded identity has a `kind`).
fn owner_known() -> &'static str {
    "principal has owner && principal.owner has kind"
}

/// The Cedar expression for a condition. Absent attributes (and unknown
/// owners) make every comparison false, never an error.
pub fn condition(c: &Condition) -> String {
    match c {
        Condition::All(items) if items.is_empty() => "true".into(),
        Condition::Any(items) if items.is_empty() => "false".into(),
        Condition::All(items) => join(items, " && "),
        Condition::Any(items) => join(items, " || "),
        Condition::Not(inner) => format!("!({})", condition(inner)),
        Condition::Cedar { expr, .. } => format!("({expr})"),
        Condition::Kind { subject, kinds, .. } => {
            let (guard, value) = match subject {
                Subject::Identity => (None, "principal.kind"),
                Subject::Owner => (Some(owner_known()), "principal.owner.kind"),
            };
            let test = match kinds.as_slice() {
                // Cedar forbids empty set literals; no kind is in an empty list.
                [] => "false".to_string(),
                [one] => format!("{value} == {}", string_lit(one)),
                many => format!(
                    "[{}].contains({value})",
                    many.iter().map(|k| string_lit(k)).collect::<Vec<_>>().join(", ")
                ),
            };
            match guard {
                Some(g) => format!("({g} && {test})"),
                None => test,
            }
        }
        Condition::Attr {
            subject, attr, ty, test, ..
        } => attr_test(*subject, attr, ty, test),
    }
}

/// `items` joined by `op` as a balanced tree of parenthesised halves.
///
/// `&&` and `||` are associative in Cedar, errors and short-circuits
/// included, and evaluation stays left to right, so this is the flat chain's
/// meaning; but Cedar recurses over the tree, and a flat chain of thousands
/// of conditions would be thousands deep, while this is `log2(n)` deep.
fn join(items: &[Condition], op: &str) -> String {
    match items {
        [one] => format!("({})", condition(one)),
        _ if items.len() <= 8 => format!("({})", items.iter().map(condition).collect::<Vec<_>>().join(op)),
        _ => {
            let (left, right) = items.split_at(items.len() / 2);
            format!("({}{op}{})", join(left, op), join(right, op))
        }
    }
}

fn attr_test(subject: Subject, attr: &str, ty: &AttrType, test: &AttrTest) -> String {
    let (guard, x) = access(subject, attr);
    let is_set = matches!(ty, AttrType::Set);
    let body = match test {
        AttrTest::Exists(true) => return format!("({guard})"),
        AttrTest::Exists(false) => {
            return match subject {
                Subject::Identity => format!("!({guard})"),
                Subject::Owner => format!("({} && !(principal.owner has {attr}))", owner_known()),
            }
        }
        AttrTest::Eq(l) | AttrTest::Contains(l) if is_set => format!("{x}.contains({})", literal(l)),
        AttrTest::Eq(l) => format!("{x} == {}", literal(l)),
        AttrTest::Contains(l) => format!("{x}.contains({})", literal(l)),
        // Cedar forbids empty set literals: nothing is in an empty list.
        AttrTest::In(ls) if ls.is_empty() => "false".to_string(),
        AttrTest::NotIn(ls) if ls.is_empty() => "true".to_string(),
        AttrTest::In(ls) if is_set => format!("{x}.containsAny({})", set_lit(ls)),
        AttrTest::In(ls) => format!("{}.contains({x})", set_lit(ls)),
        AttrTest::NotIn(ls) if is_set => format!("!{x}.containsAny({})", set_lit(ls)),
        AttrTest::NotIn(ls) => format!("!{}.contains({x})", set_lit(ls)),
        AttrTest::Not(l) if is_set => format!("!{x}.contains({})", literal(l)),
        AttrTest::Not(l) => format!("{x} != {}", literal(l)),
        AttrTest::Matches(glob) => format!("{x} like {}", like_pattern(glob)),
        AttrTest::Cmp(op, l) => {
            let op = match op {
                CmpOp::Gt => ">",
                CmpOp::Gte => ">=",
                CmpOp::Lt => "<",
                CmpOp::Lte => "<=",
            };
            format!("{x} {op} {}", literal(l))
        }
    };
    format!("({guard} && {body})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_structural() {
        assert_eq!(string_lit(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(string_lit("line\nbreak"), r#""line\u{a}break""#);
        assert_eq!(string_lit("café"), r#""caf\u{e9}""#);
        assert_eq!(like_pattern(r#"FIN-*"x"#), r#""FIN-*\"x""#);
    }
}
