//! The evaluator: the desired entitlements of an identity state at an
//! instant, with every justification.
//!
//! Two implementations of one [`Evaluator`] trait: the [`Oracle`] (plain
//! Cedar, spec §3 literally: the semantics) and the [`Engine`] (the fast
//! path: role conditions evaluated natively, Cedar only for escape hatches
//! and hand-written guardrails). They must agree on every input; the property
//! tests in `tests/` hold them to it.

pub mod cedar_io;
mod classes;
pub mod condition;
mod desired;
mod engine;
pub mod explain;
mod extensions;
pub mod facts;
mod index;
mod native;
mod oracle;

use std::collections::BTreeSet;

pub use cedar_io::assigned_roles;
pub(crate) use classes::ResourceClasses;
pub use desired::{DesiredSet, DesiredSummary};
pub(crate) use engine::reads_static_literal;
pub use engine::{Engine, GuardrailPath};
pub use oracle::Oracle;

use crate::catalog::{EntitlementId, GuardrailId, JustificationId};
use crate::compile::{policy_id, PolicyOrigin};
use crate::project::Project;
use crate::state::IdentityState;
use crate::time::Instant;

/// One reason an identity holds an entitlement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Justification {
    /// The role that grants it (none for a hand-written permit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Roles it is inherited through (`extends`), nearest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inherited: Vec<String>,
    /// The package path, outermost first.
    pub via: Vec<String>,
    /// The id of the Cedar policy that permits it.
    pub policy: String,
    /// The YAML (or Cedar) `file:line` it came from.
    pub source: String,
    /// For an approved exception, which one: its id, ticket, approver and expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<ExceptionJustification>,
}

/// The approved exception a justification rests on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ExceptionJustification {
    /// The exception id.
    pub id: String,
    /// The ticket recording its approval.
    pub ticket: String,
    /// Who approved it.
    pub approved_by: String,
    /// When it stops applying (RFC 3339).
    pub expires: String,
}

/// Why an evaluation could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The owner record passed does not belong to the identity's `owner`.
    #[error("owner record `{given}` is not the owner `{expected}` of identity `{identity}`")]
    OwnerMismatch {
        /// The identity.
        identity: String,
        /// Its declared owner (or `none`).
        expected: String,
        /// The id of the record passed as owner.
        given: String,
    },
    /// Cedar refused an entity or request built from the identity.
    #[error("cedar: {0}")]
    Cedar(String),
}

/// Computes desired entitlements. Implementations are `Send + Sync`: one
/// loaded evaluator serves many threads.
pub trait Evaluator: Send + Sync {
    /// The desired set of `identity` at `at`. `owner` is the owner's record
    /// when the identity has an owner and the record is known; `None` means
    /// no owner or an unknown one, and every `owner.*` condition is then false.
    fn desired(&self, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<DesiredSet, EvalError>;

    /// The guardrails that forbid `identity` holding `entitlement` at `at`
    /// (sorted ids; empty when none does).
    fn forbidding(
        &self,
        identity: &IdentityState,
        owner: Option<&IdentityState>,
        at: Instant,
        entitlement: &str,
    ) -> Result<Vec<String>, EvalError>;
}

/// The forbid policies among a response's reasons, sorted.
fn forbidding_reasons(project: &Project, response: &cedar_policy::Response) -> Vec<String> {
    let forbids: BTreeSet<String> = response
        .diagnostics()
        .reason()
        .map(policy_id)
        .filter(|id| project.compiled.info.get(*id).is_some_and(|i| i.forbid))
        .map(str::to_string)
        .collect();
    forbids.into_iter().collect()
}

/// Checks the owner record passed matches the identity's owner.
fn check_owner<'a>(identity: &IdentityState, owner: Option<&'a IdentityState>) -> Result<Option<&'a IdentityState>, EvalError> {
    match (identity.owner.as_deref(), owner) {
        (_, None) => Ok(None),
        (Some(expected), Some(o)) if o.id == expected => Ok(Some(o)),
        (expected, Some(o)) => Err(EvalError::OwnerMismatch {
            identity: identity.id.clone(),
            expected: expected.unwrap_or("none").to_string(),
            given: o.id.clone(),
        }),
    }
}

/// Every justification for `entitlement` given the satisfied permit policies, sorted.
pub(crate) fn justifications_for<'a>(
    project: &Project,
    entitlement: EntitlementId,
    policies: impl IntoIterator<Item = &'a str>,
) -> Vec<JustificationId> {
    let c = project.catalog();
    let mut out = Vec::new();
    for id in policies {
        let Some(info) = project.compiled.info.get(id) else { continue };
        if info.forbid {
            continue;
        }
        match &info.origin {
            PolicyOrigin::Role(role) => {
                if let Some(role) = c.roles.id(role) {
                    out.extend_from_slice(c.role_justifications(role, entitlement));
                }
            }
            PolicyOrigin::Guardrail => out.extend(c.guardrails.id(id).and_then(|g| c.guardrail(g).justification)),
            PolicyOrigin::Exception(e) => out.extend(c.exceptions.id(e).map(|e| c.exception(e).justification)),
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The guardrails among policy ids, as sorted catalog ids.
fn guardrail_ids<'a>(project: &Project, policies: impl IntoIterator<Item = &'a str>) -> Vec<GuardrailId> {
    let mut out: Vec<GuardrailId> = policies.into_iter().filter_map(|id| project.catalog().guardrails.id(id)).collect();
    out.sort_unstable();
    out.dedup();
    out
}
