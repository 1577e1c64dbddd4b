//! The oracle: spec §3 taken literally. One Cedar `is_authorized` per
//! (identity, catalog entitlement) over the full merged policy set and the
//! static entities plus the identity and its owner.
//!
//! It is the definition of correct, kept simple and obviously right; it is
//! slow on purpose (no index, no shortcut). The engine is tested against it.

use std::collections::BTreeSet;

use cedar_policy::{Authorizer, Decision, Entities, PolicySet};

use crate::catalog::RoleId;
use crate::compile::{policy_id, PolicyOrigin};
use crate::project::Project;
use crate::state::IdentityState;
use crate::time::Instant;

use super::cedar_io::{context_at, full_store, hold_request};
use super::{guardrail_ids, justifications_for, DesiredSet, EvalError, Evaluator};

/// The plain-Cedar evaluator.
#[derive(Debug, Clone)]
pub struct Oracle {
    project: std::sync::Arc<Project>,
    permits_only: PolicySet,
}

impl Oracle {
    /// An oracle over a compiled project.
    pub fn new(project: std::sync::Arc<Project>) -> Oracle {
        let mut permits_only = PolicySet::new();
        for p in project.compiled.policies.policies() {
            if p.effect() == cedar_policy::Effect::Permit {
                // Ids are unique in the source set, so adding cannot clash.
                let _ = permits_only.add(p.clone());
            }
        }
        Oracle { project, permits_only }
    }
}

impl Oracle {
    /// The static entities plus the identity and, when known, its owner.
    fn entities(&self, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<Entities, EvalError> {
        full_store(&self.project, identity, owner, at)
    }
}

impl Evaluator for Oracle {
    fn desired(&self, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<DesiredSet, EvalError> {
        let p = &self.project;
        let c = p.catalog();
        let owner = super::check_owner(identity, owner)?;
        let entities = self.entities(identity, owner, at)?;
        let authorizer = Authorizer::new();
        let mut out = DesiredSet::empty(c.clone(), identity.id.clone());

        // Roles: each role's probe policy (its condition without its grants).
        let probe_resource = p.defs.entitlements.keys().next().map_or("entitle:probe", String::as_str);
        let probe = authorizer.is_authorized(
            &hold_request(&identity.id, probe_resource, context_at(at)?)?,
            p.compiled.role_probes().map_err(EvalError::Cedar)?,
            &entities,
        );
        let mut roles: Vec<RoleId> = probe
            .diagnostics()
            .reason()
            .filter_map(|id| match &p.compiled.info.get(policy_id(id))?.origin {
                PolicyOrigin::Role(role) => c.roles.id(role),
                PolicyOrigin::Guardrail | PolicyOrigin::Exception(_) => None,
            })
            .collect();
        roles.sort_unstable();
        roles.dedup();
        out.set_roles(roles);

        // The answer is read in the catalog's numbers: same strings, same order.
        for (id, entitlement) in c.entitlements.iter() {
            let request = hold_request(&identity.id, entitlement, context_at(at)?)?;
            let response = authorizer.is_authorized(&request, &p.compiled.policies, &entities);
            let reasons: BTreeSet<String> = response.diagnostics().reason().map(|id| policy_id(id).to_string()).collect();
            match response.decision() {
                Decision::Allow => out.push_entitlement(id, justifications_for(p, id, reasons.iter().map(String::as_str))),
                Decision::Deny if !reasons.is_empty() => {
                    let permitted = authorizer.is_authorized(&request, &self.permits_only, &entities).decision() == Decision::Allow;
                    if permitted {
                        out.push_forbidden(id, guardrail_ids(p, reasons.iter().map(String::as_str)));
                    }
                }
                Decision::Deny => {}
            }
        }
        Ok(out)
    }

    fn forbidding(
        &self,
        identity: &IdentityState,
        owner: Option<&IdentityState>,
        at: Instant,
        entitlement: &str,
    ) -> Result<Vec<String>, EvalError> {
        let p = &self.project;
        let owner = super::check_owner(identity, owner)?;
        let entities = self.entities(identity, owner, at)?;
        let response = Authorizer::new().is_authorized(
            &hold_request(&identity.id, entitlement, context_at(at)?)?,
            &p.compiled.policies,
            &entities,
        );
        Ok(super::forbidding_reasons(p, &response))
    }
}
