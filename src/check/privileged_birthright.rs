//! W001 `privileged-birthright`: a privileged entitlement granted by a role
//! that is not assignable. Everyone matching the rule then holds admin-grade
//! access permanently, without request, approval or expiry — the "typo that
//! grants admin to everyone" disaster. Privileged access belongs in
//! assignable roles with `max_duration`.

use crate::diag::{Code, Diagnostic};
use crate::graph::RoleGraph;
use crate::model::Definitions;

pub(super) fn check(defs: &Definitions, graph: &RoleGraph, out: &mut Vec<Diagnostic>) {
    for role in defs.roles.values().filter(|r| !r.assignable) {
        let privileged: Vec<&str> = graph
            .role_grants
            .get(&role.id)
            .into_iter()
            .flatten()
            .filter(|(e, _)| defs.entitlements.get(*e).is_some_and(|e| e.privileged))
            .map(|(e, _)| e.as_str())
            .collect();
        if privileged.is_empty() {
            continue;
        }
        let list = privileged.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ");
        out.push(
            Diagnostic::new(
                Code::PrivilegedBirthright,
                role.source.clone(),
                format!("birthright role `{}` grants privileged {list}", role.id),
            )
            .with_help("grant privileged entitlements through an assignable role with `max_duration`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::check::test_support::run;
    use crate::diag::Code;

    #[test]
    fn flags_privileged_grant_from_birthright_role() {
        let d = run(
            "roles:\n  - id: everyone\n    grants: [app:admin, app:read]\n",
            Code::PrivilegedBirthright,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "birthright role `everyone` grants privileged `app:admin`");
        assert_eq!(d[0].location.line, 14);
    }

    #[test]
    fn assignable_roles_may_grant_privileged() {
        let d = run(
            "roles:\n  - id: admins\n    assignable: true\n    max_duration: 7d\n    grants: [app:admin, app:read]\n",
            Code::PrivilegedBirthright,
        );
        assert!(d.is_empty());
    }

    #[test]
    fn inherited_privilege_is_flagged_too() {
        let yaml = "roles:\n  - id: a\n    assignable: true\n    max_duration: 1d\n    grants: [app:admin]\n  - id: b\n    extends: [a]\n    grants: [app:read]\n";
        let d = run(yaml, Code::PrivilegedBirthright);
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("`b`"));
    }
}
