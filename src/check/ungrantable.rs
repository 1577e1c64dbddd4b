//! W002 `ungrantable-entitlement`: a catalog entitlement that no role can
//! ever grant, directly or through packages. Every live holder of it is then
//! unjustified and would be revoked by `plan`; usually a role or package entry
//! was forgotten, or the catalog entry is dead and should go.

use std::collections::BTreeSet;

use crate::diag::{Code, Diagnostic};
use crate::graph::RoleGraph;
use crate::model::Definitions;

pub(super) fn check(defs: &Definitions, graph: &RoleGraph, out: &mut Vec<Diagnostic>) {
    let grantable: BTreeSet<&str> = graph.role_grants.values().flat_map(|m| m.keys().map(String::as_str)).collect();
    for e in defs.entitlements.values().filter(|e| !grantable.contains(e.id.as_str())) {
        out.push(
            Diagnostic::new(
                Code::UngrantableEntitlement,
                e.source.clone(),
                format!("no role grants entitlement `{}`", e.id),
            )
            .with_help("grant it from a role or package, or remove it from the catalog"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::check::test_support::run;
    use crate::diag::Code;

    #[test]
    fn flags_entitlement_nothing_grants() {
        let d = run("roles:\n  - id: r\n    grants: [app:read]\n", Code::UngrantableEntitlement);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "no role grants entitlement `app:admin`");
    }

    #[test]
    fn package_grants_count() {
        let yaml = "packages:\n  - id: p\n    entitlements: [app:admin]\nroles:\n  - id: r\n    assignable: true\n    max_duration: 1d\n    grants: [p, app:read]\n";
        assert!(run(yaml, Code::UngrantableEntitlement).is_empty());
    }
}
