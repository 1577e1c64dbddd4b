//! Why a live grant is revoked: a guardrail forbids it, the approved
//! exception it was held through expired, an assignment expired, an assignment outlived its role's `max_duration`, the role's
//! eligibility no longer holds, or nothing grants it.
//!
//! It explains a revocation the diff already decided; it never decides one.

use crate::eval::{EvalError, Evaluator};
use crate::model::Role;
use crate::project::Project;
use crate::state::{Assignment, AssignmentStatus, IdentityState};
use crate::time::Instant;

use super::{Change, RevokeReason};

/// The revocation of a live grant `identity` should not hold, with its reason.
pub fn revocation(
    project: &Project,
    evaluator: &dyn Evaluator,
    identity: &IdentityState,
    owner: Option<&IdentityState>,
    at: Instant,
    entitlement: &str,
) -> Result<Change, EvalError> {
    let forbidding = evaluator.forbidding(identity, owner, at, entitlement)?;
    let revoke = |reason, forbidden_by, detail| Change::Revoke {
        identity: identity.id.clone(),
        entitlement: entitlement.to_string(),
        reason,
        forbidden_by,
        detail,
    };
    if !forbidding.is_empty() {
        return Ok(revoke(RevokeReason::Forbidden, Some(forbidding.join(", ")), None));
    }
    if let Some(detail) = expired_exception(project, &identity.id, at, entitlement) {
        return Ok(revoke(RevokeReason::ExceptionExpired, None, Some(detail)));
    }
    Ok(match assignment_reason(project, identity, at, entitlement) {
        Some((reason, detail)) => revoke(reason, None, Some(detail)),
        None => revoke(RevokeReason::NotJustified, None, None),
    })
}

/// The approved exception of `identity` covering `entitlement` that has
/// expired by `at` (the latest to expire, when several have), in one
/// sentence: what an `exception-expired` revocation says.
pub fn expired_exception(project: &Project, identity: &str, at: Instant, entitlement: &str) -> Option<String> {
    let c = project.catalog();
    let e = c.entitlements.id(entitlement)?;
    let x = c
        .exceptions_of(identity)
        .iter()
        .copied()
        .filter(|x| {
            let info = c.exception(*x);
            info.expires <= at && info.entitlements.binary_search(&e).is_ok()
        })
        .max_by_key(|x| (c.exception(*x).expires, *x))?;
    let info = c.exception(x);
    Some(format!(
        "exception `{}` expired at {} (ticket {})",
        c.exceptions.name(x),
        info.expires.to_rfc3339(),
        info.ticket
    ))
}

/// What `identity`'s assignments say about losing `entitlement` at `at`, when
/// they say something: a still valid assignment whose role's eligibility
/// fails (`not-justified`), an expired one (`expired-assignment`), one
/// longer than its role's `max_duration` (`not-justified`) — each with a
/// one-sentence detail. Plan and what-if both ask it.
pub fn assignment_reason(project: &Project, identity: &IdentityState, at: Instant, entitlement: &str) -> Option<(RevokeReason, String)> {
    // The assignments whose role would grant it (the role's closure covers `extends`).
    let relevant: Vec<(&Assignment, &Role, AssignmentStatus)> = identity
        .assignments
        .iter()
        .filter_map(|a| project.defs.roles.get(&a.role).map(|r| (a, r)))
        .filter(|(_, r)| project.graph.role_grants.get(&r.id).is_some_and(|g| g.contains_key(entitlement)))
        .map(|(a, r)| (a, r, a.status(at, r.max_duration)))
        .collect();
    // A valid assignment means the role's eligibility (`when`) is what fails, not the assignment.
    if let Some((a, _, _)) = relevant.iter().find(|(_, _, s)| *s == AssignmentStatus::Active) {
        let detail = format!("assignment to `{}` is valid, but the role's eligibility no longer holds", a.role);
        return Some((RevokeReason::NotJustified, detail));
    }
    if let Some((a, _, _)) = relevant.iter().find(|(_, _, s)| *s == AssignmentStatus::Expired) {
        let detail = format!(
            "assignment to `{}` expired at {}{}",
            a.role,
            a.expires.map(|e| e.to_rfc3339()).unwrap_or_default(),
            a.ticket.as_deref().map(|t| format!(" (ticket {t})")).unwrap_or_default()
        );
        return Some((RevokeReason::ExpiredAssignment, detail));
    }
    if let Some((a, r, _)) = relevant.iter().find(|(_, _, s)| *s == AssignmentStatus::ExceedsMaxDuration) {
        let detail = format!(
            "assignment to `{}` is longer than its max_duration {}",
            a.role,
            r.max_duration.map(|d| d.to_string()).unwrap_or_default()
        );
        return Some((RevokeReason::NotJustified, detail));
    }
    None
}
