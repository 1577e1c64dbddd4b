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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{Authorizer, Decision, Entities, Entity, EntityUid, PolicySet, RestrictedExpression};

use crate::compile::{uid, EntityType, PolicyOrigin};
use crate::model::{AttrTest, CmpOp, Condition, Literal, Subject};
use crate::project::Project;
use crate::state::{AttrValue, IdentityState};
use crate::time::Instant;

use super::cedar_io::{assigned_roles, context_at, hold_request, identity_entity};
use super::classes::ResourceClasses;
use super::index::RoleIndex;
use super::{check_owner, DesiredSet, EvalError, Evaluator};
use crate::catalog::{DenseId, EntitlementId, JustificationId, RoleId};

/// A condition evaluated to true, false, or a Cedar error (which, as in
/// Cedar, makes the whole policy not apply).
type Tri = Result<bool, ()>;

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
    /// Per escape hatch text, a one-policy set that is satisfied when it holds.
    escape_hatches: HashMap<String, PolicySet>,
    /// The static entitlement entities, parents flattened to every ancestor.
    entitlement_entities: BTreeMap<String, Entity>,
    /// Entitlements the guardrails cannot tell apart share a class.
    classes: ResourceClasses,
    /// The hand-written permits alone.
    guardrail_permit_set: PolicySet,
    /// The roles, in id order (a role's position is its catalog id).
    roles: Vec<crate::model::Role>,
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
        let mut escape_hatches = HashMap::new();
        for role in project.defs.roles.values() {
            collect_escape_hatches(&role.when, &mut escape_hatches)?;
        }
        needs_full_store |= escape_hatches
            .values()
            .flat_map(|s| s.policies())
            .any(|p| p.to_json().map_or(true, |j| reads_static_literal(&j)));

        let mut entitlement_entities = BTreeMap::new();
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
            entitlement_entities.insert(id.clone(), entity);
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
        let roles: Vec<crate::model::Role> = project.defs.roles.values().cloned().collect();
        let index = RoleIndex::new(&roles.iter().collect::<Vec<_>>());
        Ok(Engine {
            project,
            guardrails,
            guardrail_permits,
            needs_full_store,
            escape_hatches,
            entitlement_entities,
            classes,
            guardrail_permit_set,
            roles,
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
        extra.extend(entitlements.iter().filter_map(|e| self.entitlement_entities.get(*e).cloned()));
        Entities::from_entities(extra, None).map_err(|e| EvalError::Cedar(e.to_string()))
    }

    /// Is the role held? (kinds, assignment, condition; errors mean no, as in Cedar.)
    fn holds(&self, role: &crate::model::Role, ctx: &mut EvalContext<'_>) -> bool {
        if !role.kinds.iter().any(|k| **k == *ctx.identity.kind) {
            return false;
        }
        if role.assignable {
            let via = self.project.graph.role_members.get(&role.id);
            if !via.is_some_and(|v| v.iter().any(|r| ctx.assigned.contains(r))) {
                return false;
            }
        }
        self.eval(&role.when, ctx) == Ok(true)
    }

    fn eval(&self, c: &Condition, ctx: &mut EvalContext<'_>) -> Tri {
        match c {
            Condition::All(items) => {
                for item in items {
                    if !self.eval(item, ctx)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Any(items) => {
                for item in items {
                    if self.eval(item, ctx)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(inner) => self.eval(inner, ctx).map(|b| !b),
            Condition::Kind { subject, kinds, .. } => Ok(match subject {
                Subject::Identity => kinds.iter().any(|k| **k == *ctx.identity.kind),
                Subject::Owner => ctx.owner.is_some_and(|o| kinds.iter().any(|k| **k == *o.kind)),
            }),
            Condition::Attr { subject, attr, test, .. } => Ok(match subject {
                Subject::Identity => attr_test(ctx.identity.attributes.get(attr), test, ctx.at),
                Subject::Owner => match ctx.owner {
                    None => false,
                    Some(o) => attr_test(o.attributes.get(attr), test, ctx.at),
                },
            }),
            Condition::Cedar { expr, .. } => {
                let set = self.escape_hatches.get(expr).ok_or(())?;
                // A store or request Cedar refuses is entitle's failure, not the policy's:
                // it is kept and returned from `desired`, as the oracle would fail too.
                let entities = match &ctx.store {
                    Some(s) => s,
                    None => match self.store(ctx.identity, ctx.owner, ctx.at, &[]) {
                        Ok(s) => ctx.store.insert(s),
                        Err(e) => {
                            ctx.failure = Some(e);
                            return Err(());
                        }
                    },
                };
                let request = match context_at(ctx.at).and_then(|c| hold_request(&ctx.identity.id, "entitle:probe", c)) {
                    Ok(r) => r,
                    Err(e) => {
                        ctx.failure = Some(e);
                        return Err(());
                    }
                };
                let response = Authorizer::new().is_authorized(&request, set, entities);
                if response.diagnostics().errors().next().is_some() {
                    return Err(());
                }
                Ok(response.decision() == Decision::Allow)
            }
        }
    }
}

/// What the guardrails answer for one class of entitlements.
struct Verdict {
    decision: Decision,
    reasons: BTreeSet<String>,
    permitted: Option<bool>,
}

struct EvalContext<'a> {
    identity: &'a IdentityState,
    owner: Option<&'a IdentityState>,
    at: Instant,
    assigned: BTreeSet<String>,
    store: Option<Entities>,
    /// Set when Cedar refused what entitle built (not a policy error).
    failure: Option<EvalError>,
}

impl Evaluator for Engine {
    fn desired(&self, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<DesiredSet, EvalError> {
        let owner = check_owner(identity, owner)?;
        let p = &self.project;
        let c = &p.catalog;
        let mut ctx = EvalContext {
            identity,
            owner,
            at,
            assigned: assigned_roles(&p.defs, identity, at),
            store: None,
            failure: None,
        };
        let mut roles = Vec::new();
        // (entitlement, justification) pairs of every held role, packed to sort as one integer.
        let mut pairs: Vec<u64> = Vec::new();
        for position in self.index.candidates(identity) {
            let held = self.holds(&self.roles[position], &mut ctx);
            if let Some(e) = ctx.failure.take() {
                return Err(e);
            }
            if !held {
                continue;
            }
            let role = RoleId::from_index(position);
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
        if self.guardrails.is_empty() || !self.entitlement_entities.contains_key(entitlement) {
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

fn collect_escape_hatches(c: &Condition, out: &mut HashMap<String, PolicySet>) -> Result<(), EvalError> {
    match c {
        Condition::All(items) | Condition::Any(items) => items.iter().try_for_each(|i| collect_escape_hatches(i, out)),
        Condition::Not(inner) => collect_escape_hatches(inner, out),
        Condition::Cedar { expr, .. } => {
            if !out.contains_key(expr) {
                let text = format!("permit (principal, action, resource) when {{ ({expr}) }};");
                let set = PolicySet::from_str(&text).map_err(|e| EvalError::Cedar(e.to_string()))?;
                out.insert(expr.clone(), set);
            }
            Ok(())
        }
        Condition::Kind { .. } | Condition::Attr { .. } => Ok(()),
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

/// One attribute test, with Cedar's semantics: an absent attribute makes
/// every test false except `exists: false`. (Explanations use it too.)
pub(crate) fn attr_test(value: Option<&AttrValue>, test: &AttrTest, at: Instant) -> bool {
    let Some(value) = value else {
        return matches!(test, AttrTest::Exists(false));
    };
    match test {
        AttrTest::Exists(present) => *present,
        AttrTest::Eq(l) => match value {
            AttrValue::Set(items) => set_contains(items, l),
            v => equals(v, l),
        },
        AttrTest::Contains(l) => matches!(value, AttrValue::Set(items) if set_contains(items, l)),
        AttrTest::In(ls) => match value {
            AttrValue::Set(items) => ls.iter().any(|l| set_contains(items, l)),
            v => ls.iter().any(|l| equals(v, l)),
        },
        AttrTest::NotIn(ls) => match value {
            AttrValue::Set(items) => !ls.iter().any(|l| set_contains(items, l)),
            v => !ls.iter().any(|l| equals(v, l)),
        },
        AttrTest::Not(l) => match value {
            AttrValue::Set(items) => !set_contains(items, l),
            v => !equals(v, l),
        },
        AttrTest::Matches(glob) => matches!(value, AttrValue::Str(s) if glob_matches(glob, s)),
        AttrTest::Cmp(op, l) => {
            let (a, b) = match (value, l) {
                (AttrValue::Int(a), Literal::Int(b)) => (*a, *b),
                (AttrValue::Date(a), Literal::Date(b)) => (a.0, b.0),
                (AttrValue::Date(a), Literal::Now) => (a.0, at.0),
                _ => return false,
            };
            match op {
                CmpOp::Gt => a > b,
                CmpOp::Gte => a >= b,
                CmpOp::Lt => a < b,
                CmpOp::Lte => a <= b,
            }
        }
    }
}

fn set_contains(items: &[std::sync::Arc<str>], l: &Literal) -> bool {
    matches!(l, Literal::Str(s) if items.binary_search_by(|m| (**m).cmp(s.as_str())).is_ok())
}

fn equals(v: &AttrValue, l: &Literal) -> bool {
    match (v, l) {
        (AttrValue::Str(a), Literal::Str(b)) => **a == **b,
        (AttrValue::Int(a), Literal::Int(b)) => a == b,
        (AttrValue::Bool(a), Literal::Bool(b)) => a == b,
        (AttrValue::Date(a), Literal::Date(b)) => a == b,
        _ => false,
    }
}

/// Cedar's `like`: `*` matches any run of characters (also none); the whole text must match.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let p: Vec<char> = glob.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs() {
        assert!(glob_matches("FIN-*", "FIN-110"));
        assert!(glob_matches("FIN-*", "FIN-"));
        assert!(!glob_matches("FIN-*", "XFIN-1"));
        assert!(glob_matches("*a*b", "xxaxxb"));
        assert!(!glob_matches("*a*b", "xxaxxbc"));
        assert!(glob_matches("", ""));
        assert!(!glob_matches("", "a"));
        assert!(glob_matches("**", "anything"));
    }
}
