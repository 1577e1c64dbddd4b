//! W003 `unreferenced`: a package that no role grants and no package nests,
//! or a role that grants nothing and that no role extends. Dead definitions
//! rot: reviewers read them as live access and they hide real changes.

use std::collections::BTreeSet;

use crate::diag::{Code, Diagnostic};
use crate::graph::RoleGraph;
use crate::model::{Definitions, GrantRef};

pub(super) fn check(defs: &Definitions, graph: &RoleGraph, out: &mut Vec<Diagnostic>) {
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for role in defs.roles.values() {
        used.extend(role.grants.iter().filter_map(|g| match g {
            GrantRef::Package(p) => Some(p.as_str()),
            GrantRef::Entitlement(_) => None,
        }));
    }
    for p in defs.packages.values() {
        used.extend(p.packages.iter().map(String::as_str));
    }
    for p in defs.packages.values().filter(|p| !used.contains(p.id.as_str())) {
        out.push(
            Diagnostic::new(Code::Unreferenced, p.source.clone(), format!("no role grants package `{}`", p.id))
                .with_help("grant it from a role, nest it in a package, or remove it"),
        );
    }
    for role in defs.roles.values() {
        let grants_nothing = graph.role_grants.get(&role.id).is_none_or(|g| g.is_empty());
        if grants_nothing && !graph.extended_by.contains_key(&role.id) {
            out.push(
                Diagnostic::new(
                    Code::Unreferenced,
                    role.source.clone(),
                    format!("role `{}` grants nothing and no role extends it", role.id),
                )
                .with_help("add `grants`, or remove the role"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::test_support::run;
    use crate::diag::Code;

    #[test]
    fn flags_unused_package_and_empty_role() {
        let yaml = "packages:\n  - id: lonely\n    entitlements: [app:read]\nroles:\n  - id: empty\n";
        let d = run(yaml, Code::Unreferenced);
        let messages: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "no role grants package `lonely`",
                "role `empty` grants nothing and no role extends it"
            ]
        );
    }

    #[test]
    fn nested_and_extended_count_as_used() {
        let yaml = "packages:\n  - id: inner\n    entitlements: [app:read]\n  - id: outer\n    packages: [inner]\nroles:\n  - id: base\n  - id: r\n    extends: [base]\n    grants: [outer]\n";
        assert!(run(yaml, Code::Unreferenced).is_empty());
    }
}
