//! E022 `unbounded-permit`: a hand-written permit not bound to a role or an identity.
//!
//! Roles grant through the policies entitle compiles, each bound to the
//! role's own condition. A hand-written `permit (principal, action, resource);`
//! in policies/ — or any permit whose scope leaves `principal` open — grants
//! on its own to every identity that its `when` lets through, service
//! accounts and AI agents included, and one careless line grants privileged
//! access to everyone. So a guardrail permit must name its principal in the
//! scope (`principal == Identity::"u-1"`, `principal in Role::"oncall"`).
//! Where an open permit is really meant, the explicit opt-out is the
//! annotation `@unbounded_permit("why")` with a non-empty reason, which a
//! reviewer sees in the pull request.
//!
//! The check runs on each hand-written policy while guardrails are merged
//! (`compile::merge_guardrails`): it is an error, so it cannot wait for the
//! lints, which run only on definitions without errors.

use cedar_policy::{Effect, Policy, PrincipalConstraint};

use crate::diag::{Code, Diagnostic, Location};

/// The annotation that lets a hand-written permit leave its principal open.
pub const OPT_OUT: &str = "unbounded_permit";

/// Reports `policy` (with `id`, written at `source`) when it is a permit
/// whose principal is not bound to a role or an identity, without the opt-out.
pub(crate) fn check(policy: &Policy, id: &str, source: &Location, out: &mut Vec<Diagnostic>) {
    if policy.effect() != Effect::Permit {
        return;
    }
    let bound = match policy.principal_constraint() {
        PrincipalConstraint::Eq(_) | PrincipalConstraint::In(_) | PrincipalConstraint::IsIn(_, _) => true,
        PrincipalConstraint::Any | PrincipalConstraint::Is(_) => false,
    };
    if bound {
        return;
    }
    match policy.annotation(OPT_OUT) {
        Some(reason) if !reason.trim().is_empty() => {}
        Some(_) => out.push(
            Diagnostic::new(
                Code::UnboundedPermit,
                source.clone(),
                format!("`@{OPT_OUT}` on permit `{id}` gives no reason"),
            )
            .with_help(format!("say why everyone the condition lets through may hold it: `@{OPT_OUT}(\"why\")`")),
        ),
        None => out.push(
            Diagnostic::new(
                Code::UnboundedPermit,
                source.clone(),
                format!("permit `{id}` is not bound to a role or an identity, so it can grant to every identity"),
            )
            .with_help(format!(
                "bind it in the scope (`principal in Role::\"r\"` or `principal == Identity::\"id\"`), grant through a role in roles/, or opt out with `@{OPT_OUT}(\"why\")`"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn diagnostics(text: &str) -> Vec<String> {
        let policy = Policy::from_str(text).unwrap();
        let mut out = Vec::new();
        check(&policy, "p", &Location::new("g.cedar", 1, 1), &mut out);
        out.into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn an_open_permit_is_an_error() {
        let expected = ["permit `p` is not bound to a role or an identity, so it can grant to every identity"];
        assert_eq!(diagnostics("permit (principal, action, resource);"), expected);
        assert_eq!(
            diagnostics("permit (principal is Identity, action, resource) when { principal.status == \"active\" };"),
            expected
        );
    }

    #[test]
    fn a_permit_bound_to_a_role_or_an_identity_passes() {
        assert!(diagnostics(r#"permit (principal in Role::"oncall", action, resource);"#).is_empty());
        assert!(diagnostics(r#"permit (principal == Identity::"u-1", action, resource);"#).is_empty());
        assert!(diagnostics(r#"permit (principal is Identity in Role::"oncall", action, resource);"#).is_empty());
    }

    #[test]
    fn forbids_are_not_its_business() {
        assert!(diagnostics("forbid (principal, action, resource);").is_empty());
    }

    #[test]
    fn the_opt_out_needs_a_reason() {
        assert!(
            diagnostics(r#"@unbounded_permit("break-glass read access, reviewed monthly") permit (principal, action, resource);"#)
                .is_empty()
        );
        assert_eq!(
            diagnostics(r#"@unbounded_permit("") permit (principal, action, resource);"#),
            ["`@unbounded_permit` on permit `p` gives no reason"]
        );
    }
}
