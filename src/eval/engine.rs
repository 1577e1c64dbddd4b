//! The engine: the same answers as the oracle, in integers, without a Cedar
//! request per entitlement.
//!
//! Per identity: the [`Facts`] are read once (attributes by id, kind, the
//! roles its valid assignments make it a member of); the role index
//! (`index.rs`) names the roles that can apply; their compiled conditions
//! (`condition.rs`) are evaluated natively; each held role adds its grants
//! from the catalog as (entitlement, justification) id pairs, merged in one
//! sort. Guardrails are then asked once per class of candidate entitlements
//! they cannot tell apart (`classes.rs`): natively for every guardrail the
//! native compiler accepts (`native.rs`), and through Cedar, against a small
//! entity store (the identity, its owner, their roles, the class
//! representatives), for the rest. A guardrail or escape hatch on the Cedar
//! path that reads static entities by literal makes that store the full one.
//! Hand-written permits add the entitlements their resource scope reaches,
//! when their principal scope admits the identity; approved exceptions add
//! theirs for exactly the identity they name while `at` is before their
//! expiry (their compiled permit's `context.now < expires`), and face the
//! guardrails like any role's grant.
//!
//! Invariant: for every input, `Engine::desired == Oracle::desired`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{Authorizer, Decision, Entities, Entity, PolicySet};
use serde_json::Value;

use crate::catalog::{Catalog, DenseId, EntitlementId, GuardrailId, JustificationId, RoleId};
use crate::compile::{uid, EntityType, PolicyOrigin};
use crate::project::Project;
use crate::state::IdentityState;
use crate::time::Instant;

use super::cedar_io::{context_at, entitlement_entity, hold_request, identity_entity, CedarHatches};
use super::classes::ResourceClasses;
use super::condition::{RoleConditions, Trace};
use super::facts::Facts;
use super::index::RoleIndex;
use super::native::NativePolicy;
use super::{check_owner, guardrail_ids, DesiredSet, EvalError, Evaluator};

/// How the engine evaluates a hand-written guardrail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardrailPath {
    /// Compiled to a native predicate with Cedar's semantics.
    Native,
    /// Asked of Cedar; the reason it is not native.
    Cedar(String),
}

/// The fast evaluator.
#[derive(Debug, Clone)]
pub struct Engine {
    project: Arc<Project>,
    /// Every role's condition, compiled (escape hatches included).
    conditions: RoleConditions,
    /// Which roles can apply to an identity.
    index: RoleIndex,
    guardrails: Guardrails,
}

/// The hand-written policies, split by how they are evaluated.
#[derive(Debug, Clone, Default)]
struct Guardrails {
    /// Any at all.
    any: bool,
    /// How each is evaluated, by catalog id.
    paths: Vec<GuardrailPath>,
    /// The native ones, by catalog id: (id, forbid, predicate).
    native: Vec<(GuardrailId, bool, NativePolicy)>,
    /// The others, asked of Cedar.
    cedar: PolicySet,
    /// The Cedar-path permits alone.
    cedar_permits: PolicySet,
    /// Every hand-written permit's reach (native or not).
    permits: Vec<PermitReach>,
    /// Entitlements the guardrails cannot tell apart share a class.
    classes: ResourceClasses,
    /// A Cedar-path guardrail or escape hatch reads static entities by literal.
    needs_full_store: bool,
    /// The static entitlement entities (by id), parents flattened to every ancestor.
    entitlement_entities: Vec<Entity>,
}

/// What a hand-written permit can grant: to whom (its principal scope) and
/// what (the entitlements its resource scope reaches; `None`: any).
#[derive(Debug, Clone)]
struct PermitReach {
    principal: Option<NativePolicy>,
    entitlements: Option<Box<[EntitlementId]>>,
}

/// What the guardrails answer for one class of entitlements.
#[derive(Debug, Clone, Default)]
struct Verdict {
    /// Satisfied forbids, sorted.
    forbids: Vec<GuardrailId>,
    /// Satisfied permits, sorted.
    permits: Vec<GuardrailId>,
}

impl Engine {
    /// Prepares the engine for a compiled project.
    pub fn new(project: Arc<Project>) -> Result<Engine, EvalError> {
        let conditions = RoleConditions::new(&project)?;
        let index = RoleIndex::new(&project);
        let guardrails = Guardrails::new(&project, &conditions)?;
        Ok(Engine {
            project,
            conditions,
            index,
            guardrails,
        })
    }

    /// How each hand-written guardrail is evaluated, by `@id` (sorted).
    pub fn guardrail_paths(&self) -> impl Iterator<Item = (&str, &GuardrailPath)> {
        self.project
            .catalog()
            .guardrails
            .iter()
            .map(|(_, name)| name)
            .zip(&self.guardrails.paths)
    }

    /// The project it evaluates.
    pub fn project(&self) -> &Arc<Project> {
        &self.project
    }

    /// Could `identity` hold any of `roles` at `at`? `false` is certain: the
    /// role index leaves every one of them out (its kinds exclude the
    /// identity, a required conjunct is false, or an assignable role has no
    /// valid assignment). What-if asks it of the roles a policy change
    /// touches, to re-evaluate only the identities that could be affected.
    pub fn may_hold_any(
        &self,
        identity: &IdentityState,
        owner: Option<&IdentityState>,
        at: Instant,
        roles: &[RoleId],
    ) -> Result<bool, EvalError> {
        if roles.is_empty() {
            return Ok(false);
        }
        let owner = check_owner(identity, owner)?;
        let c = self.project.catalog();
        let facts = Facts::new(c, identity, owner, at);
        Ok(roles.iter().any(|r| self.index.may_apply(c, &facts, *r)))
    }

    /// The roles the index asks about for `identity` at `at`, before their
    /// conditions are evaluated (a diagnostic for tuning and benchmarks:
    /// every role left out is certainly not held).
    pub fn candidate_roles(&self, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<Vec<&str>, EvalError> {
        let owner = check_owner(identity, owner)?;
        let c = self.project.catalog();
        let facts = Facts::new(c, identity, owner, at);
        let mut candidates = Vec::new();
        self.index.candidates(c, &facts, &mut candidates);
        Ok(candidates.into_iter().map(|r| c.roles.name(r)).collect())
    }

    /// Every role whose condition decides for `identity` at `at` — the role
    /// applies to its kind and, for an assignable role, a valid assignment
    /// makes it a member — with the condition traced by the one walker of the
    /// condition language ([`RoleConditions::trace`]), in role id order. The
    /// role is held exactly when the trace's outcome is
    /// [`Outcome::Holds`](super::condition::Outcome::Holds): this is the walk
    /// [`Evaluator::desired`] makes, entry by entry (coverage reads it).
    pub fn trace_roles(
        &self,
        identity: &IdentityState,
        owner: Option<&IdentityState>,
        at: Instant,
        visit: &mut dyn FnMut(RoleId, &Trace<'_, '_>),
    ) -> Result<(), EvalError> {
        let owner = check_owner(identity, owner)?;
        let c = self.project.catalog();
        let facts = Facts::new(c, identity, owner, at);
        let build = || self.store(&facts, &[]);
        let mut hatches = CedarHatches::new(self.conditions.escape_hatches(), c, &facts, &build);
        for (role, name) in c.roles.iter() {
            let info = c.role(role);
            if facts.identity.kind.is_none_or(|k| info.kinds.binary_search(&k).is_err()) {
                continue;
            }
            if info.assignable && !facts.identity.is_member(c, at, role) {
                continue;
            }
            let Some(definition) = self.project.defs.roles.get(name) else {
                continue;
            };
            let trace = self.conditions.trace(c, role, &definition.when, &facts, &mut |h| hatches.answer(h));
            if let Some(e) = hatches.failure.take() {
                return Err(e);
            }
            visit(role, &trace);
        }
        Ok(())
    }

    /// The guardrails that forbid `identity` at `at` at least one catalog
    /// entitlement (sorted; whether or not a policy permits it): what
    /// [`Evaluator::forbidding`] answers, asked once per class of
    /// entitlements the guardrails cannot tell apart instead of once per
    /// entitlement.
    pub fn forbidding_any(
        &self,
        identity: &IdentityState,
        owner: Option<&IdentityState>,
        at: Instant,
    ) -> Result<Vec<GuardrailId>, EvalError> {
        let owner = check_owner(identity, owner)?;
        if !self.guardrails.any {
            return Ok(Vec::new());
        }
        let c = self.project.catalog();
        let mut seen: HashSet<u32> = HashSet::new();
        let representatives: Vec<EntitlementId> = (0..c.entitlements.len())
            .map(EntitlementId::from_index)
            .filter(|e| seen.insert(self.guardrails.classes.class(*e)))
            .collect();
        let facts = Facts::new(c, identity, owner, at);
        let mut out: Vec<GuardrailId> = self
            .verdicts(&facts, &representatives)?
            .into_iter()
            .flat_map(|v| v.forbids)
            .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The Cedar entity store for one identity: itself, its owner, the roles
    /// they are in, and the given entitlements (or the full static store).
    fn store(&self, facts: &Facts<'_>, entitlements: &[EntitlementId]) -> Result<Entities, EvalError> {
        let p = &self.project;
        let (identity, owner, at) = (facts.identity.state, facts.owner.as_ref(), facts.at);
        let mut extra = vec![identity_entity(&p.defs, identity, at, owner.is_some())?];
        if let Some(o) = owner {
            extra.push(identity_entity(&p.defs, o.state, at, false)?);
        }
        if self.guardrails.needs_full_store {
            return p
                .compiled
                .entities()
                .map_err(EvalError::Cedar)?
                .clone()
                .add_entities(extra, None)
                .map_err(|e| EvalError::Cedar(format!("identity `{}`: {e}", identity.id)));
        }
        let c = p.catalog();
        let mut roles: BTreeSet<RoleId> = facts.identity.memberships(c, at).iter().copied().collect();
        if let Some(o) = owner {
            roles.extend(o.memberships(c, at));
        }
        for r in roles {
            let name = c.roles.name(r);
            let parents = p
                .defs
                .roles
                .get(name)
                .map(|role| role.extends.iter().map(|p| uid(EntityType::Role, p)).collect())
                .unwrap_or_default();
            extra.push(Entity::new_no_attrs(uid(EntityType::Role, name), parents));
        }
        extra.extend(
            entitlements
                .iter()
                .filter_map(|e| self.guardrails.entitlement_entities.get(e.index()).cloned()),
        );
        Entities::from_entities(extra, None).map_err(|e| EvalError::Cedar(e.to_string()))
    }

    /// Is the role held? (kinds, assignment, condition; errors mean no, as in Cedar.)
    fn holds(&self, role: RoleId, facts: &Facts<'_>, hatches: &mut CedarHatches<'_>) -> bool {
        let catalog = self.project.catalog();
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

    /// The guardrails' verdict on each class representative, in order.
    fn verdicts(&self, facts: &Facts<'_>, representatives: &[EntitlementId]) -> Result<Vec<Verdict>, EvalError> {
        let g = &self.guardrails;
        let c = self.project.catalog();
        // Policies that never read `resource` answer once for every class.
        let mut fixed: Vec<Option<bool>> = Vec::with_capacity(g.native.len());
        for (_, _, policy) in &g.native {
            fixed.push((!policy.reads_resource()).then(|| policy.eval(c, facts, None) == Ok(true)));
        }
        let mut out: Vec<Verdict> = representatives
            .iter()
            .map(|e| {
                let mut v = Verdict::default();
                for ((id, forbid, policy), fixed) in g.native.iter().zip(&fixed) {
                    if fixed.unwrap_or_else(|| policy.eval(c, facts, Some(*e)) == Ok(true)) {
                        if *forbid { &mut v.forbids } else { &mut v.permits }.push(*id);
                    }
                }
                v
            })
            .collect();
        if g.cedar.is_empty() {
            return Ok(out);
        }
        let entities = self.store(facts, representatives)?;
        let authorizer = Authorizer::new();
        let context = context_at(facts.at)?;
        let identity = &facts.identity.state.id;
        let p = &self.project;
        for (e, verdict) in representatives.iter().zip(&mut out) {
            let request = hold_request(identity, c.entitlements.name(*e), context.clone())?;
            let response = authorizer.is_authorized(&request, &g.cedar, &entities);
            let reasons = response.diagnostics().reason().map(AsRef::<str>::as_ref);
            match response.decision() {
                Decision::Allow => verdict.permits.extend(guardrail_ids(p, reasons)),
                Decision::Deny => {
                    verdict.forbids.extend(guardrail_ids(p, reasons));
                    // A forbid hides which permits held: ask the permits alone.
                    if !verdict.forbids.is_empty() && !g.cedar_permits.is_empty() {
                        let permits = authorizer.is_authorized(&request, &g.cedar_permits, &entities);
                        verdict
                            .permits
                            .extend(guardrail_ids(p, permits.diagnostics().reason().map(AsRef::<str>::as_ref)));
                    }
                }
            }
            verdict.forbids.sort_unstable();
            verdict.permits.sort_unstable();
        }
        Ok(out)
    }

    /// The entitlements hand-written permits may grant to the identity of
    /// `facts` (sorted), or `None` when one may grant anything.
    fn permit_reach(&self, facts: &Facts<'_>) -> Option<Vec<EntitlementId>> {
        let c = self.project.catalog();
        let mut out = Vec::new();
        for permit in &self.guardrails.permits {
            // A principal scope that errs or fails keeps the permit from ever applying.
            if permit.principal.as_ref().is_some_and(|p| p.eval(c, facts, None) != Ok(true)) {
                continue;
            }
            out.extend_from_slice(permit.entitlements.as_deref()?);
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

impl Guardrails {
    fn new(project: &Project, conditions: &RoleConditions) -> Result<Guardrails, EvalError> {
        let c = project.catalog();
        let mut g = Guardrails::default();
        // By catalog id (the sorted `@id`s), so native verdicts come out sorted.
        let mut by_id: Vec<Option<&cedar_policy::Policy>> = vec![None; c.guardrails.len()];
        for policy in project.compiled.policies.policies() {
            let id: &str = policy.id().as_ref();
            if project.compiled.info.get(id).is_some_and(|i| i.origin == PolicyOrigin::Guardrail) {
                if let Some(g) = c.guardrails.id(id) {
                    by_id[g.index()] = Some(policy);
                }
            }
        }
        let mut all_json = Vec::new();
        for (guardrail, policy) in c.guardrails.iter().map(|(id, _)| id).zip(by_id) {
            let Some(policy) = policy else {
                g.paths.push(GuardrailPath::Cedar("not in the policy set".into()));
                continue;
            };
            g.any = true;
            let forbid = policy.effect() == cedar_policy::Effect::Forbid;
            let json = policy.to_json().map_err(|e| EvalError::Cedar(e.to_string()))?;
            if !forbid {
                g.permits.push(PermitReach::new(&json, project));
            }
            match NativePolicy::compile(&json, c) {
                Ok(native) => {
                    g.native.push((guardrail, forbid, native));
                    g.paths.push(GuardrailPath::Native);
                }
                Err(why) => {
                    g.needs_full_store |= reads_static_literal(&json);
                    g.cedar.add(policy.clone()).map_err(|e| EvalError::Cedar(e.to_string()))?;
                    if !forbid {
                        g.cedar_permits.add(policy.clone()).map_err(|e| EvalError::Cedar(e.to_string()))?;
                    }
                    g.paths.push(GuardrailPath::Cedar(why.0));
                }
            }
            all_json.push(json);
        }
        g.needs_full_store |= conditions
            .escape_hatches()
            .cedar_sets()
            .flat_map(|s| s.policies())
            .any(|p| p.to_json().map_or(true, |j| reads_static_literal(&j)));
        if !g.cedar.is_empty() {
            g.entitlement_entities = entitlement_entities(project)?;
        }
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
        g.classes = ResourceClasses::new(
            all_json.iter(),
            project
                .defs
                .entitlements
                .values()
                .map(|e| (e.id.as_str(), e.privileged, e.application.as_str(), ancestors_of(&e.id))),
        );
        Ok(g)
    }
}

impl PermitReach {
    fn new(json: &Value, project: &Project) -> PermitReach {
        let c = project.catalog();
        let principal = NativePolicy::compile_principal_scope(json, c).ok();
        let scope = json.get("resource");
        let op = scope.and_then(|s| s.get("op")).and_then(Value::as_str);
        let target = match op {
            Some("==") | Some("in") => scope.and_then(|s| s.get("entity")),
            Some("is") => scope.and_then(|s| s.get("in")).and_then(|i| i.get("entity")),
            _ => None,
        };
        let entitlements = target.and_then(|t| {
            let (ty, id) = (t.get("type")?.as_str()?, t.get("id")?.as_str()?);
            let mut reach: Vec<EntitlementId> = match ty {
                "Entitlement" => c.entitlements.id(id).into_iter().collect(),
                // `==` a package or an application names no entitlement.
                _ if op == Some("==") => Vec::new(),
                "Package" => project
                    .graph
                    .package_entitlements
                    .get(id)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| c.entitlements.id(e))
                    .collect(),
                "Application" => match c.applications.id(id) {
                    Some(app) => c
                        .entitlements
                        .iter()
                        .map(|(e, _)| e)
                        .filter(|e| c.entitlement(*e).application == app)
                        .collect(),
                    None => Vec::new(),
                },
                _ => Vec::new(),
            };
            reach.sort_unstable();
            Some(reach.into())
        });
        PermitReach { principal, entitlements }
    }
}

/// The static entitlement entities, parents flattened to every ancestor (for Cedar-path stores).
fn entitlement_entities(project: &Project) -> Result<Vec<Entity>, EvalError> {
    project.defs.entitlements.keys().map(|id| entitlement_entity(project, id)).collect()
}

/// Groups sorted (entitlement, justification) pairs: each entitlement with the range of its pairs.
fn grouped(pairs: &[u64]) -> Vec<(EntitlementId, std::ops::Range<usize>)> {
    let mut out: Vec<(EntitlementId, std::ops::Range<usize>)> = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        let e = EntitlementId((pair >> 32) as u32);
        match out.last_mut() {
            Some((last, range)) if *last == e => range.end = i + 1,
            _ => out.push((e, i..i + 1)),
        }
    }
    out
}

fn justification(pair: u64) -> JustificationId {
    JustificationId(pair as u32)
}

impl Evaluator for Engine {
    fn desired(&self, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<DesiredSet, EvalError> {
        let owner = check_owner(identity, owner)?;
        let c: &Catalog = self.project.catalog();
        let facts = Facts::new(c, identity, owner, at);
        let build = || self.store(&facts, &[]);
        let mut hatches = CedarHatches::new(self.conditions.escape_hatches(), c, &facts, &build);
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
        // Approved exceptions: permits for exactly this identity, until they expire.
        for &x in c.exceptions_of(&identity.id) {
            let info = c.exception(x);
            if at < info.expires {
                let j = u64::from(info.justification.0);
                pairs.extend(info.entitlements.iter().map(|e| (u64::from(e.0) << 32) | j));
            }
        }
        pairs.sort_unstable();
        let granted = grouped(&pairs);
        let mut out = DesiredSet::with_capacity(self.project.catalog().clone(), identity.id.clone(), granted.len(), pairs.len());
        out.set_roles(roles);
        let g = &self.guardrails;
        if !g.any {
            for (e, range) in granted {
                out.push_entitlement(e, pairs[range].iter().map(|p| justification(*p)));
            }
            return Ok(out);
        }

        // Candidates: what the roles grant, and what hand-written permits may.
        let reach = if g.permits.is_empty() {
            Some(Vec::new())
        } else {
            self.permit_reach(&facts)
        };
        let candidates: Vec<EntitlementId> = match reach {
            None => (0..c.entitlements.len()).map(EntitlementId::from_index).collect(),
            Some(extra) if extra.is_empty() => granted.iter().map(|(e, _)| *e).collect(),
            Some(mut extra) => {
                extra.extend(granted.iter().map(|(e, _)| *e));
                extra.sort_unstable();
                extra.dedup();
                extra
            }
        };
        // One verdict per class of candidates the guardrails cannot tell apart.
        let mut classes: Vec<u32> = Vec::new();
        let mut representatives: Vec<EntitlementId> = Vec::new();
        let mut class_index: HashMap<u32, u32> = HashMap::new();
        let verdict_of: Vec<u32> = candidates
            .iter()
            .map(|e| {
                let class = g.classes.class(*e);
                let found = if classes.len() <= 16 {
                    classes.iter().position(|c| *c == class).map(|i| i as u32)
                } else {
                    if class_index.is_empty() {
                        class_index.extend(classes.iter().enumerate().map(|(i, c)| (*c, i as u32)));
                    }
                    class_index.get(&class).copied()
                };
                found.unwrap_or_else(|| {
                    classes.push(class);
                    representatives.push(*e);
                    if !class_index.is_empty() {
                        class_index.insert(class, (classes.len() - 1) as u32);
                    }
                    (classes.len() - 1) as u32
                })
            })
            .collect();
        let verdicts = self.verdicts(&facts, &representatives)?;

        let mut granted = granted.into_iter().peekable();
        for (e, v) in candidates.into_iter().zip(verdict_of) {
            let role_pairs = match granted.peek() {
                Some((g, _)) if *g == e => granted.next().map(|(_, range)| &pairs[range]),
                _ => None,
            };
            let Some(verdict) = verdicts.get(v as usize) else { continue };
            let permitted = role_pairs.is_some() || !verdict.permits.is_empty();
            if !permitted {
                continue;
            }
            if !verdict.forbids.is_empty() {
                out.push_forbidden(e, verdict.forbids.iter().copied());
                continue;
            }
            let own = role_pairs.into_iter().flatten().map(|p| justification(*p));
            if verdict.permits.is_empty() {
                out.push_entitlement(e, own);
            } else {
                // Permit justifications (no role) sort before every role's, but
                // among exceptions' (no role either) by their policy ids.
                let mut because: Vec<JustificationId> = verdict
                    .permits
                    .iter()
                    .filter_map(|g| c.guardrail(*g).justification)
                    .chain(own)
                    .collect();
                because.sort_unstable();
                because.dedup();
                out.push_entitlement(e, because);
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
        let c = self.project.catalog();
        let Some(e) = c.entitlements.id(entitlement) else {
            return Ok(Vec::new());
        };
        if !self.guardrails.any {
            return Ok(Vec::new());
        }
        let facts = Facts::new(c, identity, owner, at);
        let verdict = self.verdicts(&facts, &[e])?;
        Ok(verdict
            .into_iter()
            .flat_map(|v| v.forbids)
            .map(|g| c.guardrails.name(g).to_string())
            .collect())
    }
}

/// Does a policy (JSON form) read a static entity named by a literal: its
/// attributes, tags or ancestors? Such a policy needs the full static store.
pub(crate) fn reads_static_literal(v: &serde_json::Value) -> bool {
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
