//! W006 `duplicate-role`: two roles with the same kinds, conditions,
//! assignability and effective grants. One is redundant; kept both, they
//! drift apart and reviewers cannot tell which one is meant.

use std::collections::BTreeMap;

use crate::diag::{Code, Diagnostic};
use crate::graph::RoleGraph;
use crate::model::Definitions;

pub(super) fn check(defs: &Definitions, graph: &RoleGraph, out: &mut Vec<Diagnostic>) {
    let mut roles: Vec<_> = defs.roles.values().collect();
    roles.sort_by(|a, b| a.source.cmp(&b.source));
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for role in roles {
        let grants: Vec<&String> = graph.role_grants.get(&role.id).map(|g| g.keys().collect()).unwrap_or_default();
        let mut kinds = role.kinds.clone();
        kinds.sort();
        // Conditions compare by their compiled Cedar text, which ignores source positions.
        let key = format!(
            "{kinds:?}|{}|{}|{grants:?}",
            role.assignable,
            crate::compile::expr::condition(&role.when)
        );
        match seen.get(&key) {
            Some(first) => out.push(
                Diagnostic::new(
                    Code::DuplicateRole,
                    role.source.clone(),
                    format!("role `{}` has the same conditions and grants as `{first}`", role.id),
                )
                .with_help("remove one of them, or make `extends` express the relation"),
            ),
            None => {
                seen.insert(key, &role.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::test_support::run;
    use crate::diag::Code;

    #[test]
    fn flags_identical_roles() {
        let yaml = "roles:\n  - id: a\n    when: { department: X }\n    grants: [app:read]\n  - id: b\n    when: { department: X }\n    grants: [app:read]\n  - id: c\n    when: { department: Y }\n    grants: [app:read]\n";
        let d = run(yaml, Code::DuplicateRole);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "role `b` has the same conditions and grants as `a`");
    }
}
