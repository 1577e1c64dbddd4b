//! Witnesses without the solver: identity states built from the literals a
//! role's condition names, one attribute at a time, so that most roles are
//! shown alive (not dead) without a solver query — and, from several roles'
//! conditions at once, candidate counterexamples that spare a failing SoD
//! rule or invariant its (slowest) solver query.
//!
//! A role's condition is mostly a conjunction of tests on separate
//! attributes (`department: X, status: active, job_code: { matches: "X-*" }`);
//! for each tested attribute a value is picked among the literals the tests
//! name (and the enum's values, glob instantiations, neighbours of numbers and
//! dates) that passes every test on it, as the engine evaluates a test
//! ([`passes`], the condition language's meaning of a test). `any` takes one
//! branch at a time; `not` and `cedar:` are left to luck.
//!
//! Invariant: this module only proposes. A candidate counts as a witness only
//! once the feed reader accepts its records and Cedar, on the oracle's store,
//! says it holds the role (the caller checks); a role no candidate holds goes
//! to the solver.

use crate::eval::condition::glob_matches;
use crate::model::{AttrTest, AttrType, AttributeDef, CmpOp, Condition, Definitions, Literal, Role, Subject};
use crate::state::{Assignment, AttrValue, IdentityState};
use crate::time::{Duration, Instant};

use super::counterexample::Scenario;

/// Most alternatives (`any` branches multiplied out) tried per role.
const MAX_ALTERNATIVES: usize = 8;

/// Candidate identity states for `role` at `at`, most likely first.
pub fn candidates(role: &Role, defs: &Definitions, at: Instant) -> Vec<Scenario> {
    candidates_for(&[role], None, defs, at)
}

/// Candidate identity states that hold every role of `roles` at once (and
/// meet `also`, an invariant's `for`), most likely first: the roles'
/// conditions conjoined, a kind every role admits, an assignment to each
/// assignable one.
pub fn candidates_for(roles: &[&Role], also: Option<&Condition>, defs: &Definitions, at: Instant) -> Vec<Scenario> {
    let mut out = Vec::new();
    let conditions: Vec<&Condition> = roles.iter().map(|r| &r.when).chain(also).collect();
    let kinds: Vec<&String> = defs
        .identity
        .kinds
        .iter()
        .filter(|k| roles.iter().all(|r| r.kinds.contains(k)))
        .collect();
    for conjunction in conjunctions(&conditions) {
        let tests = |subject: Subject| -> Vec<&Condition> {
            conjunction
                .iter()
                .copied()
                .filter(|c| match c {
                    Condition::Kind { subject: s, .. } | Condition::Attr { subject: s, .. } => *s == subject,
                    _ => false,
                })
                .collect()
        };
        let (mine, owners) = (tests(Subject::Identity), tests(Subject::Owner));
        let owner = if owners.is_empty() {
            None
        } else {
            match defs.identity.kinds.iter().find_map(|k| record("owner", k, &owners, defs, at)) {
                Some(o) => Some(o),
                None => continue,
            }
        };
        for kind in &kinds {
            let Some(mut subject) = record("subject", kind, &mine, defs, at) else {
                continue;
            };
            subject.owner = owner.as_ref().map(|o| o.id.clone());
            for role in roles.iter().filter(|r| r.assignable) {
                if !subject.assignments.iter().any(|a| a.role == role.id) {
                    subject.assignments.push(assignment(role, at));
                }
            }
            out.push(Scenario {
                subject,
                owner: owner.clone(),
                at,
            });
            break;
        }
    }
    out
}

/// Several conditions, all to hold, as alternative conjunctions of tests (bounded).
fn conjunctions<'c>(conditions: &[&'c Condition]) -> Vec<Vec<&'c Condition>> {
    conditions.iter().fold(vec![Vec::new()], |acc, c| {
        let mut out = Vec::new();
        for prefix in &acc {
            for alt in alternatives(c) {
                if out.len() < MAX_ALTERNATIVES {
                    out.push(prefix.iter().copied().chain(alt).collect());
                }
            }
        }
        out
    })
}

/// The condition as alternative conjunctions of tests (`any` multiplied out, bounded).
fn alternatives(c: &Condition) -> Vec<Vec<&Condition>> {
    match c {
        Condition::All(items) => conjunctions(&items.iter().collect::<Vec<_>>()),
        Condition::Any(items) => items.iter().flat_map(alternatives).take(MAX_ALTERNATIVES).collect(),
        other => vec![vec![other]],
    }
}

/// A record of `kind` meeting `tests` (kind and attribute tests of one
/// subject), with the required attributes filled in; `None` when some tested
/// attribute has no passing value among the candidates.
fn record(id: &str, kind: &str, tests: &[&Condition], defs: &Definitions, at: Instant) -> Option<IdentityState> {
    for t in tests {
        if let Condition::Kind { kinds, .. } = t {
            if !kinds.iter().any(|k| k == kind) {
                return None;
            }
        }
    }
    let mut attributes: Vec<(String, AttrValue)> = Vec::new();
    for def in defs.identity.attributes.values() {
        let on_it: Vec<&AttrTest> = tests
            .iter()
            .filter_map(|t| match t {
                Condition::Attr { attr, test, .. } if *attr == def.name => Some(test),
                _ => None,
            })
            .collect();
        if on_it.is_empty() {
            if def.required && def.applies_to(kind) {
                attributes.push((def.name.clone(), default_value(def, at)));
            }
            continue;
        }
        let applies = def.applies_to(kind);
        let chosen = values(def, &on_it, at)
            .into_iter()
            .map(Some)
            .chain((!def.required || !applies).then_some(None))
            .find(|v| (applies || v.is_none()) && on_it.iter().all(|t| passes(v.as_ref(), t, at)))?;
        if let Some(v) = chosen {
            attributes.push((def.name.clone(), v));
        }
    }
    Some(IdentityState {
        id: id.to_string(),
        kind: kind.into(),
        owner: None,
        attributes: attributes.into_iter().collect(),
        assignments: Vec::new(),
    })
}

/// Does `value` (absent: `None`) pass `test` at `at`? The condition
/// language's meaning (an absent attribute fails every test but `exists:
/// false`); only used to pick candidate values, which Cedar then confirms.
fn passes(value: Option<&AttrValue>, test: &AttrTest, at: Instant) -> bool {
    let Some(value) = value else {
        return matches!(test, AttrTest::Exists(false));
    };
    let equals = |l: &Literal| match (value, l) {
        (AttrValue::Set(_), Literal::Str(s)) => value.set_contains(s),
        (AttrValue::Str(a), Literal::Str(b)) => **a == **b,
        (AttrValue::Int(a), Literal::Int(b)) => a == b,
        (AttrValue::Bool(a), Literal::Bool(b)) => a == b,
        (AttrValue::Date(a), Literal::Date(b)) => a == b,
        _ => false,
    };
    match test {
        AttrTest::Exists(present) => *present,
        AttrTest::Eq(l) => equals(l),
        AttrTest::Contains(l) => matches!(value, AttrValue::Set(_)) && equals(l),
        AttrTest::In(ls) => ls.iter().any(equals),
        AttrTest::NotIn(ls) => !ls.iter().any(equals),
        AttrTest::Not(l) => !equals(l),
        AttrTest::Matches(glob) => matches!(value, AttrValue::Str(s) if glob_matches(glob, s)),
        AttrTest::Cmp(op, l) => {
            let (a, b) = match (value, l) {
                (AttrValue::Int(a), Literal::Int(b)) => (*a, *b),
                (AttrValue::Date(a), Literal::Date(b)) => (a.0, b.0),
                (AttrValue::Date(a), Literal::Now) => (a.0, at.0),
                _ => return false,
            };
            match op {
                CmpOp::Gt => a > b,
                CmpOp::Gte => a >= b,
                CmpOp::Lt => a < b,
                CmpOp::Lte => a <= b,
            }
        }
    }
}

/// A value every record may carry for an untested required attribute.
fn default_value(def: &AttributeDef, at: Instant) -> AttrValue {
    match &def.ty {
        AttrType::Enum(values) => AttrValue::str(values.first().map_or("x", String::as_str)),
        AttrType::String => AttrValue::str("x"),
        AttrType::Int => AttrValue::Int(0),
        AttrType::Bool => AttrValue::Bool(false),
        AttrType::Date => AttrValue::Date(at),
        AttrType::Set => AttrValue::set(Vec::<&str>::new()),
    }
}

/// Values worth trying for an attribute under `tests`: the literals they name
/// and their neighbours, the enum's values, globs filled in.
fn values(def: &AttributeDef, tests: &[&AttrTest], at: Instant) -> Vec<AttrValue> {
    let mut literals = Vec::new();
    let mut globs = Vec::new();
    for t in tests {
        match t {
            AttrTest::Eq(l) | AttrTest::Not(l) | AttrTest::Contains(l) | AttrTest::Cmp(_, l) => literals.push(l.clone()),
            AttrTest::In(ls) | AttrTest::NotIn(ls) => literals.extend(ls.iter().cloned()),
            AttrTest::Matches(g) => globs.push(g.clone()),
            AttrTest::Exists(_) => {}
        }
    }
    let strings: Vec<String> = literals
        .iter()
        .filter_map(|l| match l {
            Literal::Str(s) => Some(s.clone()),
            _ => None,
        })
        .chain(globs.iter().flat_map(|g| [g.replace('*', "x"), g.replace('*', "")]))
        .chain(["x".to_string()])
        // Only text the feed reader keeps as it is (trimmed, not blank, no control characters).
        .filter(|s| crate::state::clean_text("", s).ok().flatten() == Some(s.as_str()))
        .collect();
    match &def.ty {
        AttrType::Enum(values) => values.iter().map(|v| AttrValue::str(v)).collect(),
        AttrType::String => strings.iter().map(|s| AttrValue::str(s)).collect(),
        AttrType::Set => {
            let mut out: Vec<AttrValue> = strings.iter().map(|s| AttrValue::set([s.as_str()])).collect();
            out.push(AttrValue::set(strings.iter().map(String::as_str)));
            out.push(AttrValue::set(Vec::<&str>::new()));
            out
        }
        AttrType::Int => {
            let mut out = vec![AttrValue::Int(0)];
            for l in &literals {
                if let Literal::Int(n) = l {
                    out.extend([*n, n.saturating_add(1), n.saturating_sub(1)].map(AttrValue::Int));
                }
            }
            out
        }
        AttrType::Bool => vec![AttrValue::Bool(true), AttrValue::Bool(false)],
        AttrType::Date => {
            let day = 86_400_000;
            let mut out = Vec::new();
            for t in literals
                .iter()
                .filter_map(|l| match l {
                    Literal::Date(t) => Some(*t),
                    Literal::Now => Some(at),
                    _ => None,
                })
                .chain([at])
            {
                out.extend([t, Instant(t.0.saturating_add(day)), Instant(t.0.saturating_sub(day))].map(AttrValue::Date));
            }
            out
        }
    }
}

/// An assignment to `role` valid at `at`.
fn assignment(role: &Role, at: Instant) -> Assignment {
    let length = role.max_duration.unwrap_or(Duration(30 * 86_400_000));
    Assignment {
        role: role.id.clone(),
        starts: at,
        expires: Some(Instant(at.0.saturating_add(length.0))),
        approved_by: None,
        ticket: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::load_ok;

    #[test]
    fn a_conjunction_of_tests_gets_a_record_that_passes_them() {
        let (defs, _) = load_ok(
            "roles:\n  - id: r\n    when: { status: active, department: { matches: \"ENG-*\" }, tags: { contains: oncall } }\n    grants: [app:read]\n",
        );
        let at = Instant::parse("2030-01-01").unwrap();
        let found = candidates(&defs.roles["r"], &defs, at);
        let subject = &found[0].subject;
        assert_eq!(subject.attributes.get("status"), Some(&AttrValue::str("active")));
        assert_eq!(subject.attributes.get("department"), Some(&AttrValue::str("ENG-x")));
        assert_eq!(subject.attributes.get("tags"), Some(&AttrValue::set(["oncall"])));
    }

    #[test]
    fn several_roles_conjoin_their_conditions_and_assignments() {
        let (defs, _) = load_ok(
            "roles:\n  - id: a\n    when: { status: active, department: { matches: \"FIN-*\" } }\n    grants: [app:read]\n  - id: b\n    assignable: true\n    max_duration: 1d\n    kinds: [person]\n    when: { tags: { contains: oncall } }\n    grants: [app:read]\n  - id: c\n    when: { department: Sales }\n    grants: [app:read]\n",
        );
        let at = Instant::parse("2030-01-01").unwrap();
        let found = candidates_for(&[&defs.roles["a"], &defs.roles["b"]], None, &defs, at);
        let subject = &found[0].subject;
        assert_eq!(&*subject.kind, "person");
        assert_eq!(subject.attributes.get("department"), Some(&AttrValue::str("FIN-x")));
        assert_eq!(subject.attributes.get("tags"), Some(&AttrValue::set(["oncall"])));
        assert_eq!(subject.assignments.iter().map(|a| a.role.as_str()).collect::<Vec<_>>(), ["b"]);
        // `also` (an invariant's `for`) is conjoined too: no department is both `FIN-*` and `Sales`.
        assert!(candidates_for(&[&defs.roles["a"]], Some(&defs.roles["c"].when), &defs, at).is_empty());
    }

    #[test]
    fn no_value_passes_contradictory_tests() {
        let (defs, _) = load_ok("roles:\n  - id: r\n    when: { all: [{ department: A }, { department: B }] }\n    grants: [app:read]\n");
        assert!(candidates(&defs.roles["r"], &defs, Instant(0)).is_empty());
    }
}
