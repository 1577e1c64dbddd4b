//! W005 `unbounded-assignment`: an assignable role without `max_duration`.
//! Requested access must expire; an assignment with no bound is the most
//! common audit finding (exceptions that outlive their need).

use crate::diag::{Code, Diagnostic};
use crate::model::Definitions;

pub(super) fn check(defs: &Definitions, out: &mut Vec<Diagnostic>) {
    for role in defs.roles.values().filter(|r| r.assignable && r.max_duration.is_none()) {
        out.push(
            Diagnostic::new(
                Code::UnboundedAssignment,
                role.source.clone(),
                format!("assignable role `{}` has no `max_duration`", role.id),
            )
            .with_help("bound assignments, e.g. `max_duration: 30d`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::check::test_support::run;
    use crate::diag::Code;

    #[test]
    fn flags_assignable_role_without_bound() {
        let d = run(
            "roles:\n  - id: r\n    assignable: true\n    grants: [app:read, app:admin]\n",
            Code::UnboundedAssignment,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "assignable role `r` has no `max_duration`");
        let bounded = run(
            "roles:\n  - id: r\n    assignable: true\n    max_duration: 30d\n    grants: [app:read, app:admin]\n",
            Code::UnboundedAssignment,
        );
        assert!(bounded.is_empty());
    }
}
