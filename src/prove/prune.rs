//! Roles a property's identities can never hold, told apart without the
//! solver: a role that requires `status: active` is no concern of an
//! invariant about `status: terminated`. Leaving such roles out of a query
//! keeps it small on large organisations.
//!
//! Invariant: only a role whose condition *contradicts* the property's
//! condition on their top-level conjuncts is left out (the same attribute
//! pinned to a value the other's test refuses, or no kind in common), so the
//! query's answer is the same with or without it. Whether a test refuses a
//! pinned value is Cedar's answer for the test's compiled text, on an identity
//! that carries that value and nothing else (the test reads nothing else).

use std::collections::HashMap;
use std::str::FromStr;

use cedar_policy::{Authorizer, Decision, Policy, PolicySet};

use crate::compile::expr::condition;
use crate::eval::cedar_io::{context_at, hold_request, identity_entity};
use crate::model::{AttrTest, AttrType, Condition, Definitions, Literal, Role, Subject};
use crate::state::{AttrValue, IdentityState};
use crate::time::Instant;

/// Cedar's answers so far: does the identity pinned by a test (first text)
/// pass another test (second text)?
#[derive(Debug, Default)]
pub struct Answers(HashMap<(String, String), bool>);

/// The top-level conjuncts of a condition (nested `all` flattened).
fn conjuncts(c: &Condition) -> Vec<&Condition> {
    match c {
        Condition::All(items) => items.iter().flat_map(conjuncts).collect(),
        other => vec![other],
    }
}

/// The single value an `attr: value` test pins a scalar attribute to.
fn pinned(ty: &AttrType, test: &AttrTest) -> Option<AttrValue> {
    if matches!(ty, AttrType::Set) {
        return None;
    }
    match test {
        AttrTest::Eq(Literal::Str(s)) => Some(AttrValue::str(s)),
        AttrTest::Eq(Literal::Int(n)) => Some(AttrValue::Int(*n)),
        AttrTest::Eq(Literal::Bool(b)) => Some(AttrValue::Bool(*b)),
        AttrTest::Eq(Literal::Date(t)) => Some(AttrValue::Date(*t)),
        _ => None,
    }
}

/// Does a test mention the instant of evaluation (then it cannot be decided here)?
fn uses_now(test: &AttrTest) -> bool {
    match test {
        AttrTest::Eq(l) | AttrTest::Not(l) | AttrTest::Contains(l) | AttrTest::Cmp(_, l) => *l == Literal::Now,
        AttrTest::In(ls) | AttrTest::NotIn(ls) => ls.contains(&Literal::Now),
        AttrTest::Exists(_) | AttrTest::Matches(_) => false,
    }
}

/// Does Cedar refuse `test` (an attribute test) for an identity whose
/// attribute is `value` (the one `pin` pins it to)? `false` when in doubt.
fn refuses(pin: &Condition, value: AttrValue, test: &Condition, defs: &Definitions, answers: &mut Answers) -> bool {
    let key = (condition(pin), condition(test));
    if let Some(answer) = answers.0.get(&key) {
        return *answer;
    }
    let Condition::Attr { subject, attr, .. } = pin else { return false };
    let kind = defs.identity.kinds.first().map_or("person", String::as_str);
    let record = |id: &str, owner: Option<&str>, attributes: Vec<(String, AttrValue)>| IdentityState {
        id: id.to_string(),
        kind: kind.into(),
        owner: owner.map(str::to_string),
        attributes: attributes.into_iter().collect(),
        assignments: Vec::new(),
    };
    let pinned = vec![(attr.clone(), value)];
    let at = Instant(0);
    let entities = match subject {
        Subject::Identity => vec![identity_entity(defs, &record("entitle:pinned", None, pinned), at, false)],
        Subject::Owner => vec![
            identity_entity(defs, &record("entitle:pinned", Some("entitle:owner"), Vec::new()), at, true),
            identity_entity(defs, &record("entitle:owner", None, pinned), at, false),
        ],
    };
    let answer = (|| -> Option<bool> {
        let entities = cedar_policy::Entities::from_entities(entities.into_iter().collect::<Result<Vec<_>, _>>().ok()?, None).ok()?;
        let policy = Policy::from_str(&format!("permit (principal, action, resource) when {{ {} }};", key.1)).ok()?;
        let set = PolicySet::from_policies([policy]).ok()?;
        let request = hold_request("entitle:pinned", "entitle:any", context_at(at).ok()?).ok()?;
        Some(Authorizer::new().is_authorized(&request, &set, &entities).decision() != Decision::Allow)
    })()
    .unwrap_or(false);
    answers.0.insert(key, answer);
    answer
}

/// Do the conjuncts `a` and `b` contradict each other on some attribute?
fn contradict(a: &[&Condition], b: &[&Condition], defs: &Definitions, answers: &mut Answers) -> bool {
    a.iter().any(|x| {
        let Condition::Attr {
            subject, attr, ty, test, ..
        } = x
        else {
            return false;
        };
        let Some(value) = pinned(ty, test) else { return false };
        b.iter().any(|y| match y {
            Condition::Attr {
                subject: s2,
                attr: a2,
                test: t2,
                ..
            } if s2 == subject && a2 == attr && !uses_now(t2) => refuses(x, value.clone(), y, defs, answers),
            _ => false,
        })
    })
}

/// Can an identity matching `subject` (an invariant's `for`) hold `role`?
/// `false` only when their conditions contradict outright.
pub fn may_hold(role: &Role, subject: &Condition, defs: &Definitions, answers: &mut Answers) -> bool {
    let (r, s) = (conjuncts(&role.when), conjuncts(subject));
    let kinds_meet = s.iter().all(|c| match c {
        Condition::Kind {
            subject: Subject::Identity,
            kinds,
            ..
        } => kinds.iter().any(|k| role.kinds.contains(k)),
        _ => true,
    });
    kinds_meet && !contradict(&r, &s, defs, answers) && !contradict(&s, &r, defs, answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::load_ok;

    fn check(role_when: &str, kinds: &str, subject_yaml: &str) -> bool {
        let (defs, _) = load_ok(&format!(
            "roles:\n  - id: r\n    kinds: {kinds}\n    when: {role_when}\n    grants: [app:read]\ninvariants:\n  - id: i\n    for: {subject_yaml}\n    holds: nothing\n"
        ));
        may_hold(&defs.roles["r"], &defs.invariants["i"].subject, &defs, &mut Answers::default())
    }

    #[test]
    fn contradictions_on_a_pinned_attribute_rule_a_role_out() {
        assert!(!check("{ status: active }", "[person]", "{ status: terminated }"));
        assert!(!check(
            "{ department: A, status: active }",
            "[person]",
            "{ status: { in: [terminated] } }"
        ));
        assert!(!check("{ status: { not: terminated } }", "[person]", "{ status: terminated }"));
        assert!(!check(
            "{ status: active }",
            "[person]",
            "{ kind: { in: [agent, service_account] } }"
        ));
    }

    #[test]
    fn cedar_decides_whether_a_test_refuses_the_pinned_value() {
        assert!(!check("{ department: { matches: \"FIN-*\" } }", "[person]", "{ department: ENG }"));
        assert!(check("{ department: { matches: \"EN*\" } }", "[person]", "{ department: ENG }"));
        assert!(!check("{ owner.status: active }", "[agent]", "{ owner.status: terminated }"));
        assert!(check("{ owner.status: active }", "[agent]", "{ status: terminated }"));
    }

    #[test]
    fn anything_short_of_a_contradiction_keeps_the_role() {
        assert!(check("{ status: active }", "[person]", "{ department: A }"));
        assert!(check("{ any: [{ status: active }] }", "[person]", "{ status: terminated }"));
        assert!(check("{ tags: x }", "[person]", "{ tags: { not: x } }"));
        assert!(check("{ status: active }", "[person, agent]", "{ kind: agent }"));
    }
}
