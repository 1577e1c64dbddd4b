//! The role index: which roles can possibly apply to an identity.
//!
//! Most roles require one attribute to take one of a few values (`department:
//! Finance`, `status: { in: [...] }`) as a top-level conjunct of `when`. The
//! index picks the string attribute most roles constrain that way and buckets
//! the roles by its values; an identity is then checked only against the roles
//! of its bucket and the roles the index cannot place. Skipping a role whose
//! required conjunct is false is exact: the condition is then false (or an
//! error), and the role is not held either way.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{AttrTest, AttrType, Condition, Literal, Role, Subject};
use crate::state::{AttrValue, IdentityState};

/// Role positions (into the engine's role list) grouped by one attribute's values.
#[derive(Debug, Clone, Default)]
pub struct RoleIndex {
    attribute: Option<String>,
    by_value: BTreeMap<String, Vec<usize>>,
    unindexed: Vec<usize>,
}

/// The values a role's `when` requires of `attr` (top-level conjuncts only).
fn required_values(c: &Condition, attr: &str) -> Option<BTreeSet<String>> {
    match c {
        Condition::All(items) => {
            let mut out: Option<BTreeSet<String>> = None;
            for item in items {
                if let Some(values) = required_values(item, attr) {
                    out = Some(match out {
                        None => values,
                        Some(prev) => prev.intersection(&values).cloned().collect(),
                    });
                }
            }
            out
        }
        Condition::Attr {
            subject: Subject::Identity,
            attr: a,
            ty: AttrType::String | AttrType::Enum(_),
            test,
            ..
        } if a == attr => {
            let strings = |ls: &[Literal]| {
                ls.iter()
                    .filter_map(|l| if let Literal::Str(s) = l { Some(s.clone()) } else { None })
                    .collect()
            };
            match test {
                AttrTest::Eq(Literal::Str(s)) => Some(BTreeSet::from([s.clone()])),
                AttrTest::In(ls) => Some(strings(ls)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn constrained_attributes(c: &Condition, out: &mut BTreeSet<String>) {
    match c {
        Condition::All(items) => items.iter().for_each(|i| constrained_attributes(i, out)),
        Condition::Attr {
            subject: Subject::Identity,
            attr,
            ty: AttrType::String | AttrType::Enum(_),
            test: AttrTest::Eq(_) | AttrTest::In(_),
            ..
        } => {
            out.insert(attr.clone());
        }
        _ => {}
    }
}

impl RoleIndex {
    /// Builds the index over `roles` (positions are their order).
    pub fn new(roles: &[&Role]) -> RoleIndex {
        // The attribute that places the most roles, preferring the one with the most distinct values.
        let mut counts: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
        for role in roles {
            let mut attrs = BTreeSet::new();
            constrained_attributes(&role.when, &mut attrs);
            for attr in attrs {
                if let Some(values) = required_values(&role.when, &attr) {
                    let entry = counts.entry(attr).or_default();
                    entry.0 += 1;
                    entry.1.extend(values);
                }
            }
        }
        let best = counts
            .into_iter()
            .filter(|(_, (n, values))| *n >= 2 && values.len() >= 2)
            .max_by_key(|(attr, (n, values))| (*n * values.len().min(64), std::cmp::Reverse(attr.clone())))
            .map(|(attr, _)| attr);
        let mut index = RoleIndex {
            attribute: best.clone(),
            ..RoleIndex::default()
        };
        for (position, role) in roles.iter().enumerate() {
            match best.as_deref().and_then(|attr| required_values(&role.when, attr)) {
                Some(values) => {
                    for v in values {
                        index.by_value.entry(v).or_default().push(position);
                    }
                }
                None => index.unindexed.push(position),
            }
        }
        index
    }

    /// The positions of the roles that may apply to `identity`, ascending.
    pub fn candidates(&self, identity: &IdentityState) -> Vec<usize> {
        let mut out = self.unindexed.clone();
        if let Some(attr) = &self.attribute {
            if let Some(AttrValue::Str(v)) = identity.attributes.get(attr) {
                out.extend(self.by_value.get(&**v).into_iter().flatten());
            }
        }
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::load_ok;

    #[test]
    fn buckets_roles_by_the_most_constraining_attribute() {
        let (defs, _) = load_ok(
            "roles:\n  - id: a\n    when: { department: A }\n    grants: [app:read]\n  - id: b\n    when: { department: { in: [B, C] }, status: active }\n    grants: [app:read]\n  - id: all\n    when: { status: active }\n    grants: [app:read]\n",
        );
        let roles: Vec<&Role> = defs.roles.values().collect();
        let index = RoleIndex::new(&roles);
        assert_eq!(index.attribute.as_deref(), Some("department"));
        let identity = |dept: &str| IdentityState {
            id: "u".into(),
            kind: "person".into(),
            owner: None,
            attributes: [("department", AttrValue::str(dept))].into_iter().collect(),
            assignments: Vec::new(),
        };
        let ids = |dept: &str| {
            index
                .candidates(&identity(dept))
                .into_iter()
                .map(|i| roles[i].id.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("A"), ["a", "all"]);
        assert_eq!(ids("C"), ["all", "b"]);
        assert_eq!(ids("Z"), ["all"]);
    }
}
