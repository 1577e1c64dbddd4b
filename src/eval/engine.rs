//! The engine: the same answers as the oracle, without asking Cedar about
//! every entitlement.
//!
//! How: the role index (`index.rs`) narrows the roles to those that can
//! apply; their conditions are evaluated natively (they are entitle's own
//! condition language, whose Cedar translation is fixed by `compile::expr`);
//! a held role contributes its precomputed grant closure; Cedar is asked only
//! for `cedar:` escape hatches and for hand-written guardrails, once per class
//! of candidate entitlements the guardrails cannot tell apart (`classes.rs`),
//! against a small entity store (the identity, its owner, their roles, the
//! class representatives). Guardrails that read static entities by literal
//! (say `Entitlement::"x".privileged`) make the engine fall back to the full
//! static store, which is slower but still exact.
//!
//! Invariant: for every input, `Engine::desired == Oracle::desired`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{Authorizer, Decision, Entities, Entity, EntityUid, PolicySet, RestrictedExpression};

use crate::catalog::{DenseId, EntitlementId, JustificationId, RoleId};
use crate::compile::{uid, EntityType, PolicyOrigin};
use crate::project::Project;
use crate::state::IdentityState;
use crate::time::Instant;

use super::cedar_io::{assigned_roles, context_at, hold_request, identity_entity, CedarHatches};
use super::classes::ResourceClasses;
use super::condition::RoleConditions;
use super::facts::Facts;
use super::index::RoleIndex;
use super::{check_owner, DesiredSet, EvalError, Evaluator};

/// The fast evaluator.
#[derive(Debug, Clone)]
pub struct Engine {
    project: Arc<Project>,
    /// Hand-written policies only (the roles are evaluated natively).
    guardrails: PolicySet,
    /// Some guardrail is a permit (it may grant beyond the roles).
    guardrail_permits: bool,
    /// Some guardrail or escape hatch needs the full static store.
    needs_full_store: bool,
    /// Every role's condition, compiled (escape hatches included).
    conditions: RoleConditions,
    /// The static entitlement entities (by id), parents flattened to every ancestor.
    entitlement_entities: Vec<Entity>,
    /// Entitlements the guardrails cannot tell apart share a class.
    classes: ResourceClasses,
    /// The hand-written permits alone.
    guardrail_permit_set: PolicySet,
    /// Which roles can apply to an identity.
    index: RoleIndex,
}

impl Engine {
    /// Prepares the engine for a compiled project.
    pub fn new(project: Arc<Project>) -> Result<Engine, EvalError> {
        let mut guardrails = PolicySet::new();
        let mut guardrail_permits = false;
        for p in project.compiled.policies.policies() {
            let Some(info) = project.compiled.info.get(AsRef::<str>::as_ref(p.id())) else {
                continue;
            };
            if info.origin == PolicyOrigin::Guardrail {
                guardrail_permits |= !info.forbid;
                guardrails.add(p.clone()).map_err(|e| EvalError::Cedar(e.to_string()))?;
            }
        }
        let mut needs_full_store = guardrails
            .policies()
            .any(|p| p.to_json().map_or(true, |j| reads_static_literal(&j)));
        let conditions = RoleConditions::new(&project)?;
        needs_full_store |= conditions
            .escape_hatches()
            .sets()
            .flat_map(|s| s.policies())
            .any(|p| p.to_json().map_or(true, |j| reads_static_literal(&j)));

        let mut entitlement_entities = Vec::new();
        for (id, e) in &project.defs.entitlements {
            let mut parents: HashSet<EntityUid> = HashSet::from([uid(EntityType::Application, &e.application)]);
            parents.extend(
                project
                    .graph
                    .entitlement_packages
                    .get(id)
                    .into_iter()
                    .flatten()
                    .map(|p| uid(EntityType::Package, p)),
            );
            let attrs = HashMap::from([
                (
                    "application".to_string(),
                    RestrictedExpression::new_entity_uid(uid(EntityType::Application, &e.application)),
                ),
                ("privileged".to_string(), RestrictedExpression::new_bool(e.privileged)),
            ]);
            let entity = Entity::new(uid(EntityType::Entitlement, id), attrs, parents).map_err(|e| EvalError::Cedar(e.to_string()))?;
            entitlement_entities.push(entity);
        }
        let mut guardrail_permit_set = PolicySet::new();
        for p in guardrails.policies().filter(|p| p.effect() == cedar_policy::Effect::Permit) {
            guardrail_permit_set.add(p.clone()).map_err(|e| EvalError::Cedar(e.to_string()))?;
        }
        let guardrail_json: Vec<serde_json::Value> = guardrails.policies().filter_map(|p| p.to_json().ok()).collect();
        let ancestors_of = |id: &str| -> BTreeSet<String> {
            let packages = project
                .graph
                .entitlement_packages
                .get(id)
                .into_iter()
                .flatten()
                .map(|p| format!("Package::{p:?}"));
            let application = project
                .defs
                .entitlements
                .get(id)
                .map(|e| format!("Application::{:?}", e.application));
            packages.chain(application).collect()
        };
        let classes = ResourceClasses::new(
            guardrail_json.iter(),
            project
                .defs
                .entitlements
                .values()
                .map(|e| (e.id.as_str(), e.privileged, e.application.as_str(), ancestors_of(&e.id))),
        );
        let index = RoleIndex::new(&project);
        Ok(Engine {
            project,
            guardrails,
            guardrail_permits,
            needs_full_store,
            conditions,
            entitlement_entities,
            classes,
            guardrail_permit_set,
            index,
        })
    }

    /// The Cedar entity store for one identity: itself, its owner, the roles
    /// they are in, and the given entitlements (or the full static store).
    fn store(
        &self,
        identity: &IdentityState,
        owner: Option<&IdentityState>,
        at: Instant,
        entitlements: &[&str],
    ) -> Result<Entities, EvalError> {
        let defs = &self.project.defs;
        let mut extra = vec![identity_entity(defs, identity, at, owner.is_some())?];
        if let Some(o) = owner {
            extra.push(identity_entity(defs, o, at, false)?);
        }
        if self.needs_full_store {
            return self
                .project
                .compiled
                .entities()
                .map_err(EvalError::Cedar)?
                .clone()
                .add_entities(extra, None)
                .map_err(|e| EvalError::Cedar(e.to_string()));
        }
        let mut roles = BTreeSet::new();
        for who in std::iter::once(identity).chain(owner) {
            for r in assigned_roles(defs, who, at) {
                roles.extend(self.project.graph.role_ancestors.get(&r).into_iter().flatten().cloned());
                roles.insert(r);
            }
        }
        for r in roles {
            let parents = defs
                .roles
                .get(&r)
                .map(|role| role.extends.iter().map(|p| uid(EntityType::Role, p)).collect())
                .unwrap_or_default();
            extra.push(Entity::new_no_attrs(uid(EntityType::Role, &r), parents));
        }
        let catalog = &self.project.catalog;
        extra.extend(
            entitlements
                .iter()
                .filter_map(|e| catalog.entitlements.id(e))
                .filter_map(|e| self.entitlement_entities.get(e.index()).cloned()),
        );
        Entities::from_entities(extra, None).map_err(|e| EvalError::Cedar(e.to_string()))
    }

    /// Is the role held? (kinds, assignment, condition; errors mean no, as in Cedar.)
    fn holds(&self, role: RoleId, facts: &Facts<'_>, hatches: &mut CedarHatches<'_>) -> bool {
        let catalog = &self.project.catalog;
        let info = catalog.role(role);
        if facts.identity.kind.is_none_or(|k| info.kinds.binary_search(&k).is_err()) {
            return false;
        }
        // Cedar `in`: an assignment to the role or to any role extending it.
        if info.assignable && !facts.identity.is_member(catalog, facts.at, role) {
            return false;
        }
        self.conditions.eval(role, facts, &mut |h| hatches.answer(h)) == Ok(true)
    }
}

/// What the guardrails answer for one class of entitlements.
struct Verdict {
    decision: Decision,
    reasons: BTreeSet<String>,
    permitted: Option<bool>,
}

impl Engine {
    /// The roles the index asks about for `identity` at `at`, before their
    /// conditions are evaluated (a diagnostic for tuning and benchmarks:
    /// every role left out is certainly not held).
    pub fn candidate_roles(&self, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<Vec<&str>, EvalError> {
        let owner = check_owner(identity, owner)?;
        let c = &self.project.catalog;
        let facts = Facts::new(c, identity, owner, at);
        let mut candidates = Vec::new();
        self.index.candidates(c, &facts, &mut candidates);
        Ok(candidates.into_iter().map(|r| c.roles.name(r)).collect())
    }
}

impl Evaluator for Engine {
    fn desired(&self, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<DesiredSet, EvalError> {
        let owner = check_owner(identity, owner)?;
        let p = &self.project;
        let c = &p.catalog;
        let facts = Facts::new(c, identity, owner, at);
        let build = || self.store(identity, owner, at, &[]);
        let mut hatches = CedarHatches::new(self.conditions.escape_hatches(), &build, &identity.id, at);
        let mut candidates = Vec::new();
        self.index.candidates(c, &facts, &mut candidates);
        let mut roles = Vec::new();
        // (entitlement, justification) pairs of every held role, packed to sort as one integer.
        let mut pairs: Vec<u64> = Vec::new();
        for role in candidates {
            let held = self.holds(role, &facts, &mut hatches);
            if let Some(e) = hatches.failure.take() {
                return Err(e);
            }
            if !held {
                continue;
            }
            roles.push(role);
            for grant in c.role_grants(role) {
                let e = u64::from(grant.entitlement.0) << 32;
                pairs.extend(c.grant_justifications(grant).iter().map(|j| e | u64::from(j.0)));
            }
        }
        pairs.sort_unstable();
        let mut granted: Vec<(EntitlementId, Vec<JustificationId>)> = Vec::new();
        for pair in pairs {
            let (e, j) = (EntitlementId((pair >> 32) as u32), JustificationId(pair as u32));
            match granted.last_mut() {
                Some((last, js)) if *last == e => js.push(j),
                _ => granted.push((e, vec![j])),
            }
        }
        let mut out = DesiredSet::empty(c.clone(), identity.id.clone());
        out.set_roles(roles);
        if self.guardrails.is_empty() {
            for (e, js) in granted {
                out.push_entitlement(e, js);
            }
            return Ok(out);
        }
        let candidates: Vec<EntitlementId> = if self.guardrail_permits {
            (0..c.entitlements.len()).map(EntitlementId::from_index).collect()
        } else {
            granted.iter().map(|(e, _)| *e).collect()
        };
        // One Cedar request per class of candidates the guardrails cannot tell apart.
        let mut by_class: Vec<(u32, EntitlementId)> = candidates.iter().map(|e| (self.classes.class(*e), *e)).collect();
        by_class.sort_unstable();
        let mut representatives: Vec<(u32, &str)> = Vec::new();
        for (class, e) in &by_class {
            if representatives.last().is_none_or(|(last, _)| last != class) {
                representatives.push((*class, c.entitlements.name(*e)));
            }
        }
        let names: Vec<&str> = representatives.iter().map(|(_, name)| *name).collect();
        let entities = self.store(identity, owner, at, &names)?;
        let authorizer = Authorizer::new();
        let context = context_at(at)?;
        let mut verdicts: Vec<(u32, Verdict)> = Vec::with_capacity(representatives.len());
        for (class, representative) in &representatives {
            let response = authorizer.is_authorized(
                &hold_request(&identity.id, representative, context.clone())?,
                &self.guardrails,
                &entities,
            );
            let reasons: BTreeSet<String> = response.diagnostics().reason().map(|id| id.to_string()).collect();
            let permitted = if response.decision() == Decision::Deny && !reasons.is_empty() && self.guardrail_permits {
                Some(self.permitted_by_guardrail(identity, at, representative, &entities)?)
            } else {
                None
            };
            verdicts.push((
                *class,
                Verdict {
                    decision: response.decision(),
                    reasons,
                    permitted,
                },
            ));
        }
        let mut granted = granted.into_iter().peekable();
        for entitlement in candidates {
            let role_granted = match granted.peek() {
                Some((e, _)) if *e == entitlement => granted.next().map(|(_, js)| js),
                _ => None,
            };
            let class = self.classes.class(entitlement);
            let Ok(v) = verdicts.binary_search_by_key(&class, |(c, _)| *c) else {
                continue;
            };
            let verdict = &verdicts[v].1;
            let reasons = verdict.reasons.iter().map(String::as_str);
            match verdict.decision {
                Decision::Deny if !verdict.reasons.is_empty() => {
                    if role_granted.is_some() || verdict.permitted == Some(true) {
                        out.push_forbidden(entitlement, super::guardrail_ids(p, reasons));
                    }
                }
                Decision::Deny => {
                    if let Some(js) = role_granted {
                        out.push_entitlement(entitlement, js);
                    }
                }
                Decision::Allow => {
                    let mut all = role_granted.unwrap_or_default();
                    all.extend(super::justifications_for(p, entitlement, reasons));
                    all.sort_unstable();
                    all.dedup();
                    out.push_entitlement(entitlement, all);
                }
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
        let owner = check_owner(identity, owner)?;
        if self.guardrails.is_empty() || self.project.catalog.entitlements.id(entitlement).is_none() {
            return Ok(Vec::new());
        }
        let entities = self.store(identity, owner, at, &[entitlement])?;
        let response = Authorizer::new().is_authorized(
            &hold_request(&identity.id, entitlement, context_at(at)?)?,
            &self.guardrails,
            &entities,
        );
        Ok(super::forbidding_reasons(&self.project, &response))
    }
}

impl Engine {
    /// Does a hand-written permit allow the entitlement (forbids aside)?
    fn permitted_by_guardrail(
        &self,
        identity: &IdentityState,
        at: Instant,
        entitlement: &str,
        entities: &Entities,
    ) -> Result<bool, EvalError> {
        let response = Authorizer::new().is_authorized(
            &hold_request(&identity.id, entitlement, context_at(at)?)?,
            &self.guardrail_permit_set,
            entities,
        );
        Ok(response.decision() == Decision::Allow)
    }
}

/// Does a policy (JSON form) read a static entity named by a literal: its
/// attributes, tags or ancestors? Such a policy needs the full static store.
fn reads_static_literal(v: &serde_json::Value) -> bool {
    fn has_entity_literal(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => m.contains_key("__entity") || m.values().any(has_entity_literal),
            serde_json::Value::Array(a) => a.iter().any(has_entity_literal),
            _ => false,
        }
    }
    match v {
        serde_json::Value::Object(m) => m.iter().any(|(k, inner)| {
            let reads = matches!(k.as_str(), "." | "has" | "in" | "hasTag" | "getTag") && inner.get("left").is_some_and(has_entity_literal);
            reads || reads_static_literal(inner)
        }),
        serde_json::Value::Array(a) => a.iter().any(reads_static_literal),
        _ => false,
    }
}
