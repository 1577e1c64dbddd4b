//! W004 `contradictory-condition`: a role whose `when` can never hold by a
//! simple contradiction among its top-level entries — two different required
//! values for one attribute (`department: A` with `department: B`), a value
//! that a `not`/`not_in` of the same attribute excludes, disjoint `in` lists,
//! or `exists: false` beside a test that needs the attribute. Such a role
//! grants nothing, which is rarely what its author meant.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Code, Diagnostic};
use crate::model::{AttrTest, AttrType, Condition, Definitions, Literal, Subject};

#[derive(Default)]
struct Constraint {
    allowed: Option<BTreeSet<Literal>>,
    excluded: BTreeSet<Literal>,
    absent: bool,
    present: bool,
}

fn conjuncts(c: &Condition) -> Vec<&Condition> {
    match c {
        Condition::All(items) => items.iter().flat_map(conjuncts).collect(),
        other => vec![other],
    }
}

/// Why the condition can never hold, if it plainly cannot.
fn contradiction(c: &Condition) -> Option<String> {
    let mut by_attr: BTreeMap<(bool, &str), Constraint> = BTreeMap::new();
    for part in conjuncts(c) {
        if let Condition::Any(items) = part {
            if items.is_empty() {
                return Some("`any: []` never holds".into());
            }
        }
        let Condition::Attr {
            subject, attr, ty, test, ..
        } = part
        else {
            continue;
        };
        if matches!(ty, AttrType::Set) {
            continue;
        }
        let entry = by_attr.entry((*subject == Subject::Owner, attr.as_str())).or_default();
        let restrict = |entry: &mut Constraint, values: BTreeSet<Literal>| {
            entry.allowed = Some(match entry.allowed.take() {
                None => values,
                Some(prev) => prev.intersection(&values).cloned().collect(),
            });
        };
        match test {
            AttrTest::Exists(false) => entry.absent = true,
            AttrTest::Exists(true) => entry.present = true,
            AttrTest::Eq(l) => {
                entry.present = true;
                restrict(entry, BTreeSet::from([l.clone()]));
            }
            AttrTest::In(ls) => {
                entry.present = true;
                restrict(entry, ls.iter().cloned().collect());
            }
            AttrTest::Not(l) => {
                entry.present = true;
                entry.excluded.insert(l.clone());
            }
            AttrTest::NotIn(ls) => {
                entry.present = true;
                entry.excluded.extend(ls.iter().cloned());
            }
            _ => entry.present = true,
        }
    }
    for ((owner, attr), c) in by_attr {
        let name = if owner { format!("owner.{attr}") } else { attr.to_string() };
        if c.absent && c.present {
            return Some(format!("`{name}` is required both to be absent and to be present"));
        }
        if let Some(allowed) = c.allowed {
            if allowed.iter().all(|v| c.excluded.contains(v)) {
                return Some(format!("no value of `{name}` satisfies every test on it"));
            }
        }
    }
    None
}

pub(super) fn check(defs: &Definitions, out: &mut Vec<Diagnostic>) {
    for role in defs.roles.values() {
        if let Some(why) = contradiction(&role.when) {
            out.push(
                Diagnostic::new(
                    Code::Contradiction,
                    role.source.clone(),
                    format!("role `{}` can never apply: {why}", role.id),
                )
                .with_help("to match any of several values use `{ in: [...] }` or `any:`"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::test_support::run;
    use crate::diag::Code;

    fn role(when: &str) -> String {
        format!("roles:\n  - id: r\n    when: {when}\n    grants: [app:read]\n")
    }

    #[test]
    fn flags_two_values_for_one_attribute() {
        let d = run(&role("{ all: [{ department: A }, { department: B }] }"), Code::Contradiction);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].message,
            "role `r` can never apply: no value of `department` satisfies every test on it"
        );
    }

    #[test]
    fn flags_excluded_value_and_absent_present() {
        assert_eq!(
            run(&role("{ status: active, all: [{ status: { not: active } }] }"), Code::Contradiction).len(),
            1
        );
        assert_eq!(
            run(&role("{ department: { exists: false, matches: \"E*\" } }"), Code::Contradiction).len(),
            1
        );
        assert_eq!(
            run(
                &role("{ department: { in: [A, B] }, all: [{ department: { in: [C] } }] }"),
                Code::Contradiction
            )
            .len(),
            1
        );
    }

    #[test]
    fn satisfiable_conditions_pass() {
        assert!(run(
            &role("{ department: { in: [A, B] }, all: [{ department: { not: A } }] }"),
            Code::Contradiction
        )
        .is_empty());
        assert!(run(&role("{ any: [{ department: A }, { department: B }] }"), Code::Contradiction).is_empty());
    }
}
