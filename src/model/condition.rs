//! Reads `when` and `for` conditions (spec §2) and checks them against the
//! identity schema: attribute names, value types, enum values, operators.

use crate::diag::{did_you_mean, Code};
use crate::model::reader::{quote_list, Reader};
use crate::model::types::{AttrTest, AttrType, CmpOp, Condition, IdentitySchema, Literal, Subject};
use crate::model::yaml::{Node, Value};
use crate::time::Instant;

/// Every operator a condition map may use on an attribute.
pub const OPERATORS: &[&str] = &[
    "in", "not_in", "not", "exists", "matches", "contains", "gt", "gte", "lt", "lte", "before", "after",
];

/// Attribute names that are not declared but always present.
const BUILTIN_KEYS: &[&str] = &["all", "any", "not", "cedar", "kind", "owner.kind"];

/// Reads a condition map: every entry must hold.
pub fn read_condition(r: &mut Reader<'_>, schema: &IdentitySchema, node: &Node) -> Option<Condition> {
    let Value::Map(_) = &node.value else {
        if node.is_null() {
            return Some(Condition::always());
        }
        r.report(
            Code::WrongType,
            node,
            format!("expected a condition as a map, found {}", node.type_name()),
        );
        return None;
    };
    let entries = r.map(node, &[], "a condition")?;
    let mut all = Vec::new();
    let mut ok = true;
    for (key, key_node, value) in entries {
        match read_entry(r, schema, key, key_node, value) {
            Some(c) => all.push(c),
            None => ok = false,
        }
    }
    ok.then(|| if all.len() == 1 { all.remove(0) } else { Condition::All(all) })
}

fn read_list(r: &mut Reader<'_>, schema: &IdentitySchema, node: &Node, what: &str) -> Option<Vec<Condition>> {
    let items = r.seq(node, what)?;
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        match read_condition(r, schema, item) {
            Some(c) => out.push(c),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_entry(r: &mut Reader<'_>, schema: &IdentitySchema, key: &str, key_node: &Node, value: &Node) -> Option<Condition> {
    let source = r.loc(key_node);
    match key {
        "all" => read_list(r, schema, value, "`all`").map(Condition::All),
        "any" => read_list(r, schema, value, "`any`").map(Condition::Any),
        "not" => read_condition(r, schema, value).map(|c| Condition::Not(Box::new(c))),
        "cedar" => {
            let expr = r.string(value, "a Cedar expression")?;
            Some(Condition::Cedar {
                expr,
                source: r.loc(value),
            })
        }
        "kind" | "owner.kind" => {
            let subject = if key == "kind" { Subject::Identity } else { Subject::Owner };
            read_kind(r, schema, value).map(|kinds| Condition::Kind { subject, kinds, source })
        }
        _ => {
            let (subject, attr) = match key.strip_prefix("owner.") {
                Some(rest) => (Subject::Owner, rest),
                None => (Subject::Identity, key),
            };
            let Some(def) = schema.attributes.get(attr) else {
                let declared: Vec<&str> = schema.attributes.keys().map(String::as_str).collect();
                let help = did_you_mean(attr, declared.iter().copied().chain(BUILTIN_KEYS.iter().copied()))
                    .or_else(|| Some(format!("declared attributes are {}", quote_list(&declared))));
                r.report_help(
                    Code::UnknownAttribute,
                    key_node,
                    format!("unknown attribute `{attr}` in condition"),
                    help,
                );
                return None;
            };
            let ty = def.ty.clone();
            if value.is_null() {
                // An empty value's position is the next token's: point at the key instead.
                report_no_value(r, attr, key_node);
                return None;
            }
            let tests = read_tests(r, attr, &ty, value)?;
            let mut conds: Vec<Condition> = tests
                .into_iter()
                .map(|test| Condition::Attr {
                    subject,
                    attr: attr.to_string(),
                    ty: ty.clone(),
                    test,
                    source: source.clone(),
                })
                .collect();
            Some(if conds.len() == 1 { conds.remove(0) } else { Condition::All(conds) })
        }
    }
}

fn read_kind(r: &mut Reader<'_>, schema: &IdentitySchema, value: &Node) -> Option<Vec<String>> {
    let nodes: Vec<&Node> = match &value.value {
        Value::Scalar { .. } => vec![value],
        Value::Map(_) => {
            let entries = r.map(value, &["in"], "a kind test")?;
            let Some((_, _, list)) = entries.into_iter().next() else {
                // (an empty map: reported below)
                if matches!(&value.value, Value::Map(m) if m.is_empty()) {
                    r.report_help(
                        Code::MissingKey,
                        value,
                        "the kind test has no `in`",
                        Some("write `kind: person` or `kind: { in: [a, b] }`".into()),
                    );
                }
                return None;
            };
            let items = r.seq(list, "kinds")?;
            if items.is_empty() {
                r.report(Code::InvalidValue, list, "`in` needs at least one value");
                return None;
            }
            items.iter().collect()
        }
        Value::Seq(_) => {
            r.report_help(
                Code::WrongType,
                value,
                "expected a kind or `{ in: [...] }`, found a list",
                Some("write `kind: { in: [a, b] }`".into()),
            );
            return None;
        }
    };
    let mut kinds = Vec::new();
    let mut ok = true;
    for node in nodes {
        let kind = r.string(node, "a kind")?;
        if schema.kinds.contains(&kind) {
            kinds.push(kind);
        } else {
            let help = did_you_mean(&kind, schema.kinds.iter().map(String::as_str));
            r.report_help(Code::UnknownKind, node, format!("unknown identity kind `{kind}`"), help);
            ok = false;
        }
    }
    ok.then_some(kinds)
}

fn read_tests(r: &mut Reader<'_>, attr: &str, ty: &AttrType, value: &Node) -> Option<Vec<AttrTest>> {
    match &value.value {
        Value::Scalar { .. } => read_literal(r, attr, ty, value, false).map(|l| vec![AttrTest::Eq(l)]),
        Value::Seq(_) => {
            r.report_help(
                Code::WrongType,
                value,
                format!("expected a value or an operator map for `{attr}`, found a list"),
                Some(format!("to match any of several values write `{attr}: {{ in: [...] }}`")),
            );
            None
        }
        Value::Map(_) => {
            let entries = r.map(value, OPERATORS, &format!("the test of `{attr}`"))?;
            let written = matches!(&value.value, Value::Map(m) if !m.is_empty());
            if entries.is_empty() && written {
                return None;
            }
            if entries.is_empty() {
                r.report(Code::MissingKey, value, format!("the test of `{attr}` has no operator"));
                return None;
            }
            let mut tests = Vec::new();
            let mut ok = true;
            for (op, op_node, operand) in entries {
                match read_operator(r, attr, ty, op, op_node, operand) {
                    Some(t) => tests.push(t),
                    None => ok = false,
                }
            }
            ok.then_some(tests)
        }
    }
}

fn operator_fits(op: &str, ty: &AttrType) -> bool {
    use AttrType::*;
    match op {
        "exists" => true,
        "in" | "not_in" => matches!(ty, String | Enum(_) | Int | Set),
        "not" => !matches!(ty, Date),
        "matches" => matches!(ty, String | Enum(_)),
        "contains" => matches!(ty, Set),
        "gt" | "gte" | "lt" | "lte" => matches!(ty, Int | Date),
        "before" | "after" => matches!(ty, Date),
        _ => false,
    }
}

fn read_operator(r: &mut Reader<'_>, attr: &str, ty: &AttrType, op: &str, op_node: &Node, operand: &Node) -> Option<AttrTest> {
    if !operator_fits(op, ty) {
        let help = match ty {
            AttrType::Set => Some("sets take `contains`, `in`, `not_in`, `not` and `exists`".to_string()),
            AttrType::Date => Some("dates take `before`, `after`, `gt`, `gte`, `lt`, `lte` and `exists`".to_string()),
            AttrType::Int => Some("ints take `gt`, `gte`, `lt`, `lte`, `in`, `not_in`, `not` and `exists`".to_string()),
            _ => None,
        };
        let article = if matches!(ty, AttrType::Int | AttrType::Enum(_)) {
            "an"
        } else {
            "a"
        };
        r.report_help(
            Code::OperatorType,
            op_node,
            format!("operator `{op}` does not apply to `{attr}`, {article} {}", ty.name()),
            help,
        );
        return None;
    }
    let literal =
        |r: &mut Reader<'_>, node: &Node| read_literal(r, attr, ty, node, matches!(op, "gt" | "gte" | "lt" | "lte" | "before" | "after"));
    let list = |r: &mut Reader<'_>, node: &Node| -> Option<Vec<Literal>> {
        let items = r.seq(node, &format!("the values of `{op}`"))?;
        if items.is_empty() {
            r.report(Code::InvalidValue, node, format!("`{op}` needs at least one value"));
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for item in items {
            match read_literal(r, attr, ty, item, false) {
                Some(l) => out.push(l),
                None => ok = false,
            }
        }
        ok.then_some(out)
    };
    Some(match op {
        "in" => AttrTest::In(list(r, operand)?),
        "not_in" => AttrTest::NotIn(list(r, operand)?),
        "not" => AttrTest::Not(literal(r, operand)?),
        "exists" => AttrTest::Exists(r.bool(operand, "`exists`")?),
        "contains" => AttrTest::Contains(literal(r, operand)?),
        "matches" => {
            let glob = r.string(operand, "a glob")?;
            if let Some(bad) = glob.chars().find(|c| matches!(c, '?' | '[' | ']' | '{' | '}')) {
                r.report_help(
                    Code::InvalidGlob,
                    operand,
                    format!("glob `{glob}` uses `{bad}`, but `*` is the only wildcard"),
                    Some("`*` matches any run of characters; every other character matches itself".into()),
                );
                return None;
            }
            AttrTest::Matches(glob)
        }
        _ => {
            let cmp = match op {
                "gt" | "after" => CmpOp::Gt,
                "gte" => CmpOp::Gte,
                "lt" | "before" => CmpOp::Lt,
                _ => CmpOp::Lte,
            };
            AttrTest::Cmp(cmp, literal(r, operand)?)
        }
    })
}

/// Reports an attribute compared with nothing (`department:` or `department: ~`), at `node`.
fn report_no_value(r: &mut Reader<'_>, attr: &str, node: &Node) {
    r.report_help(
        Code::WrongType,
        node,
        format!("expected a value for `{attr}`, found nothing"),
        Some("write a value, or `{ exists: false }` to match an absent attribute".into()),
    );
}

/// Reads one literal of the attribute's type (for sets: one member).
fn read_literal(r: &mut Reader<'_>, attr: &str, ty: &AttrType, node: &Node, allow_now: bool) -> Option<Literal> {
    let Value::Scalar { text, plain } = &node.value else {
        r.report(
            Code::WrongType,
            node,
            format!("expected a value for `{attr}`, found {}", node.type_name()),
        );
        return None;
    };
    if node.is_null() {
        report_no_value(r, attr, node);
        return None;
    }
    match ty {
        AttrType::String | AttrType::Set => Some(Literal::Str(text.clone())),
        AttrType::Enum(values) => {
            if values.contains(text) {
                Some(Literal::Str(text.clone()))
            } else {
                let help = did_you_mean(text, values.iter().map(String::as_str)).or_else(|| {
                    Some(format!(
                        "`{attr}` takes {}",
                        quote_list(&values.iter().map(String::as_str).collect::<Vec<_>>())
                    ))
                });
                r.report_help(Code::UnknownEnumValue, node, format!("unknown value `{text}` for `{attr}`"), help);
                None
            }
        }
        AttrType::Int => match (plain, text.parse::<i64>()) {
            (true, Ok(n)) => Some(Literal::Int(n)),
            (false, Ok(_)) => {
                r.report_help(
                    Code::WrongType,
                    node,
                    format!("`{attr}` is an int, but `\"{text}\"` is a string"),
                    Some("write the number without quotes".into()),
                );
                None
            }
            _ => {
                r.report(
                    Code::WrongType,
                    node,
                    format!("`{attr}` is an int, but `{text}` is not a whole number"),
                );
                None
            }
        },
        AttrType::Bool => match (plain, text.as_str()) {
            (true, "true") => Some(Literal::Bool(true)),
            (true, "false") => Some(Literal::Bool(false)),
            _ => {
                r.report(
                    Code::WrongType,
                    node,
                    format!("`{attr}` is a bool, but `{text}` is not `true` or `false`"),
                );
                None
            }
        },
        AttrType::Date => {
            if text == "now" {
                if allow_now {
                    return Some(Literal::Now);
                }
                r.report_help(
                    Code::InvalidValue,
                    node,
                    format!("`now` can only be compared with `before`/`after` for `{attr}`"),
                    None,
                );
                return None;
            }
            match Instant::parse(text) {
                Ok(t) => Some(Literal::Date(t)),
                Err(e) => {
                    r.report(Code::InvalidValue, node, format!("`{attr}` is a date, but {e}"));
                    None
                }
            }
        }
    }
}
