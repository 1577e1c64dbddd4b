//! The peers entitle is measured against, on one generated organisation:
//! the engine, plain Cedar done well, the same roles in Rego evaluated by
//! regorus, and the oracle — each answering "what should this identity
//! hold?" for one identity.
//!
//! Shared, through `#[path]`, by `benches/peers.rs` (criterion),
//! `tests/peers.rs` (a quick size, asserting equal answers) and
//! `examples/peers.rs` (one table). It lives here and not in the library
//! because regorus is a dev-dependency: the library's users should not
//! compile a Rego interpreter to use entitle, and the peers are measuring
//! instruments, not API.
//!
//! Must never: let a peer answer differently from the oracle unnoticed —
//! [`Peers::check`] compares every peer's [`Outcome`] on the identities it is
//! given, and every measurement starts with it.

#![allow(dead_code)] // each includer uses its own part

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{Authorizer, Context, Decision, Effect, Entities, Entity, EntityUid, PolicySet, Request, RestrictedExpression};
use entitle::compile::{uid, EntityType, PolicyOrigin};
use entitle::eval::cedar_io::entitlement_entity;
use entitle::eval::{assigned_roles, DesiredSet, Engine, Evaluator, Oracle};
use entitle::population::Population;
use entitle::state::{AttrValue, IdentityState};
use entitle::{Instant, Project};

/// What every peer answers for one identity, in one shape: the roles held,
/// the entitlements desired, and the candidates a guardrail forbids (with
/// the guardrails, sorted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Roles held, sorted.
    pub roles: Vec<String>,
    /// Entitlements desired, sorted.
    pub entitlements: Vec<String>,
    /// Forbidden candidates, sorted, each with its forbidding guardrails.
    pub forbidden: Vec<(String, Vec<String>)>,
}

/// The one place that reads a [`DesiredSet`]: when its shape changes, only
/// this function does.
pub fn outcome(d: &DesiredSet) -> Outcome {
    Outcome {
        roles: d.roles().map(str::to_string).collect(),
        entitlements: d.entitlements().map(str::to_string).collect(),
        forbidden: d
            .forbidden()
            .map(|(e, by)| (e.to_string(), by.into_iter().map(str::to_string).collect()))
            .collect(),
    }
}

/// The four peers over one project.
pub struct Peers {
    /// The project they share.
    pub project: Arc<Project>,
    /// entitle's engine.
    pub engine: Engine,
    /// Plain Cedar done well.
    pub cedar: PlainCedar,
    /// The same roles in Rego, evaluated by regorus.
    pub rego: RegoPeer,
    /// The oracle (spec §3 taken literally).
    pub oracle: Oracle,
}

/// Which peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// entitle's engine.
    Engine,
    /// Plain Cedar done well.
    Cedar,
    /// regorus on the generated Rego.
    Rego,
    /// The oracle.
    Oracle,
}

impl Peer {
    /// Every peer, the engine first.
    pub const ALL: [Peer; 4] = [Peer::Engine, Peer::Cedar, Peer::Rego, Peer::Oracle];

    /// A short name for tables and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Engine => "engine",
            Peer::Cedar => "plain-cedar",
            Peer::Rego => "regorus",
            Peer::Oracle => "oracle",
        }
    }
}

impl Peers {
    /// Prepares every peer (the Rego module is written here, from the project).
    pub fn new(project: Arc<Project>) -> Result<Peers, String> {
        Ok(Peers {
            engine: Engine::new(project.clone()).map_err(|e| e.to_string())?,
            cedar: PlainCedar::new(project.clone())?,
            rego: RegoPeer::new(&project)?,
            oracle: Oracle::new(project.clone()),
            project,
        })
    }

    /// One peer's answer for one identity.
    pub fn answer(&self, peer: Peer, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<Outcome, String> {
        match peer {
            Peer::Engine => self
                .engine
                .desired(identity, owner, at)
                .map(|d| outcome(&d))
                .map_err(|e| e.to_string()),
            Peer::Oracle => self
                .oracle
                .desired(identity, owner, at)
                .map(|d| outcome(&d))
                .map_err(|e| e.to_string()),
            Peer::Cedar => self.cedar.desired(identity, owner, at),
            Peer::Rego => self.rego.desired(identity, owner, at),
        }
    }

    /// One peer's work for one identity, its own answer dropped unread: what
    /// the benchmarks time (the engine's and the oracle's `DesiredSet` is not
    /// converted into an [`Outcome`]).
    pub fn run(&self, peer: Peer, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<(), String> {
        match peer {
            Peer::Engine => {
                std::hint::black_box(self.engine.desired(identity, owner, at).map_err(|e| e.to_string())?);
            }
            Peer::Oracle => {
                std::hint::black_box(self.oracle.desired(identity, owner, at).map_err(|e| e.to_string())?);
            }
            Peer::Cedar => {
                std::hint::black_box(self.cedar.desired(identity, owner, at)?);
            }
            Peer::Rego => {
                std::hint::black_box(self.rego.desired(identity, owner, at)?);
            }
        }
        Ok(())
    }

    /// Every peer in `peers` gives the engine's answer for each identity of
    /// `sample` (indices into the population). Returns how many answers were compared.
    pub fn check(&self, population: &Population, sample: &[usize], peers: &[Peer], at: Instant) -> Result<usize, String> {
        let mut compared = 0;
        for &i in sample {
            let Some(identity) = population.feed.identities.get(i) else {
                continue;
            };
            let owner = population.owner_of(identity).record();
            let expected = self.answer(Peer::Engine, identity, owner, at)?;
            for &peer in peers.iter().filter(|p| **p != Peer::Engine) {
                let got = self.answer(peer, identity, owner, at)?;
                if got != expected {
                    return Err(format!(
                        "{} and the engine disagree on `{}`:\n  {}: {got:?}\n  engine: {expected:?}",
                        peer.name(),
                        identity.id,
                        peer.name()
                    ));
                }
                compared += 1;
            }
        }
        Ok(compared)
    }
}

/// `n` identities spread evenly over the population (every kind is met).
pub fn spread(population: &Population, n: usize) -> Vec<usize> {
    let len = population.feed.identities.len();
    if len == 0 || n == 0 {
        return Vec::new();
    }
    let n = n.min(len);
    (0..n).map(|k| k * len / n).collect()
}

// --- Plain Cedar done well ---------------------------------------------------

/// Plain Cedar as a careful Cedar user would run it: for each identity, ONE
/// `is_authorized` over every role's policy (each compiled without its
/// grants, so it is satisfied exactly when the role is held) reads the held
/// roles from the response's reasons; the held roles' grant closures give the
/// candidate entitlements; then the guardrails are asked once per candidate.
/// The entity store is built per identity: the identity, its owner, the
/// roles they are assigned (with the roles those extend), the candidate
/// entitlements with their packages and application as ancestors, and any
/// static entity a guardrail names by literal.
pub struct PlainCedar {
    project: Arc<Project>,
    /// Every role's policy without its grants.
    roles: PolicySet,
    /// The hand-written policies.
    guardrails: PolicySet,
    /// The hand-written permits alone (asked when a forbid hides whether one holds).
    guardrail_permits: Option<PolicySet>,
    /// Per role id, its grant closure.
    grants: HashMap<String, Vec<String>>,
    /// Per entitlement id, its entity with every ancestor as a parent.
    entitlements: HashMap<String, Entity>,
    /// Static entities guardrails name by literal.
    literals: Vec<Entity>,
}

impl PlainCedar {
    /// Prepares the policy sets, the grant closures and the entitlement entities.
    pub fn new(project: Arc<Project>) -> Result<PlainCedar, String> {
        let compiled = &project.compiled;
        let mut guardrails = PolicySet::new();
        let mut permits = PolicySet::new();
        let mut literal_uids = BTreeSet::new();
        for p in compiled.policies.policies() {
            let is_guardrail = compiled
                .info
                .get(AsRef::<str>::as_ref(p.id()))
                .is_some_and(|i| i.origin == PolicyOrigin::Guardrail);
            if !is_guardrail {
                continue;
            }
            guardrails.add(p.clone()).map_err(|e| e.to_string())?;
            if p.effect() == Effect::Permit {
                permits.add(p.clone()).map_err(|e| e.to_string())?;
            }
            if let Ok(json) = p.to_json() {
                entity_literals(&json, &mut literal_uids);
            }
        }
        let statics = compiled.entities()?;
        let literals = literal_uids
            .iter()
            .filter_map(|text| EntityUid::from_str(text).ok())
            .filter_map(|u| statics.get(&u).cloned())
            .collect();
        let grants = project
            .graph
            .role_grants
            .iter()
            .map(|(role, closure)| (role.clone(), closure.keys().cloned().collect()))
            .collect();
        let mut entitlements = HashMap::new();
        for id in project.defs.entitlements.keys() {
            let entity = entitlement_entity(&project, id).map_err(|e| e.to_string())?;
            entitlements.insert(id.clone(), entity);
        }
        Ok(PlainCedar {
            roles: compiled.role_probes()?.clone(),
            guardrail_permits: (!permits.is_empty()).then_some(permits),
            guardrails,
            grants,
            entitlements,
            literals,
            project,
        })
    }

    /// The answer for one identity.
    pub fn desired(&self, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<Outcome, String> {
        let defs = &self.project.defs;
        let mut store: Vec<Entity> = vec![identity_entity(identity, owner.is_some(), defs, at)?];
        let mut roles_in = BTreeSet::new();
        for who in std::iter::once(identity).chain(owner) {
            for r in assigned_roles(defs, who, at) {
                roles_in.extend(self.project.graph.role_ancestors.get(&r).into_iter().flatten().cloned());
                roles_in.insert(r);
            }
        }
        if let Some(o) = owner {
            store.push(identity_entity(o, false, defs, at)?);
        }
        for r in &roles_in {
            let parents = defs
                .roles
                .get(r)
                .map(|role| role.extends.iter().map(|p| uid(EntityType::Role, p)).collect())
                .unwrap_or_default();
            store.push(Entity::new_no_attrs(uid(EntityType::Role, r), parents));
        }
        let context = context_at(at)?;
        let authorizer = Authorizer::new();

        // One request: which role policies hold?
        let roles_store = Entities::from_entities(store.clone(), None).map_err(|e| e.to_string())?;
        let probe = request(&identity.id, "entitle:probe", context.clone())?;
        let response = authorizer.is_authorized(&probe, &self.roles, &roles_store);
        let mut out = Outcome::default();
        let info = &self.project.compiled.info;
        for id in response.diagnostics().reason() {
            if let Some(PolicyOrigin::Role(role)) = info.get(AsRef::<str>::as_ref(id)).map(|i| &i.origin) {
                out.roles.push(role.clone());
            }
        }
        out.roles.sort();
        let granted: BTreeSet<&str> = out
            .roles
            .iter()
            .flat_map(|r| self.grants.get(r).into_iter().flatten())
            .map(String::as_str)
            .collect();
        if self.guardrails.is_empty() {
            out.entitlements = granted.into_iter().map(str::to_string).collect();
            return Ok(out);
        }

        // Then the guardrails, once per candidate.
        let candidates: Vec<&str> = match self.guardrail_permits {
            Some(_) => self
                .entitlements
                .keys()
                .map(String::as_str)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            None => granted.iter().copied().collect(),
        };
        let mut seen: HashSet<EntityUid> = store.iter().map(|e| e.uid()).collect();
        for e in &candidates {
            if let Some(entity) = self.entitlements.get(*e) {
                if seen.insert(entity.uid()) {
                    store.push(entity.clone());
                }
            }
        }
        for entity in &self.literals {
            if seen.insert(entity.uid()) {
                store.push(entity.clone());
            }
        }
        let entities = Entities::from_entities(store, None).map_err(|e| e.to_string())?;
        for e in candidates {
            let req = request(&identity.id, e, context.clone())?;
            let response = authorizer.is_authorized(&req, &self.guardrails, &entities);
            let reasons: Vec<String> = response.diagnostics().reason().map(|id| id.to_string()).collect();
            let by_role = granted.contains(e);
            match response.decision() {
                Decision::Allow => out.entitlements.push(e.to_string()),
                Decision::Deny if reasons.is_empty() => {
                    if by_role {
                        out.entitlements.push(e.to_string());
                    }
                }
                Decision::Deny => {
                    let permitted = by_role
                        || self
                            .guardrail_permits
                            .as_ref()
                            .is_some_and(|permits| authorizer.is_authorized(&req, permits, &entities).decision() == Decision::Allow);
                    if permitted {
                        let mut by = reasons;
                        by.sort();
                        out.forbidden.push((e.to_string(), by));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Every entity a policy (JSON form) names by literal, as uid text.
fn entity_literals(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(e) = m.get("__entity") {
                if let (Some(t), Some(id)) = (e.get("type").and_then(|t| t.as_str()), e.get("id").and_then(|i| i.as_str())) {
                    out.insert(format!("{t}::{}", serde_json::Value::from(id)));
                }
            }
            m.values().for_each(|inner| entity_literals(inner, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|inner| entity_literals(inner, out)),
        _ => {}
    }
}

thread_local! {
    static DATETIMES: RefCell<HashMap<i64, RestrictedExpression>> = RefCell::new(HashMap::new());
}

/// Cedar's `datetime` for an instant; the expressions are kept (Cedar parses
/// the extension's name on each construction, and HR dates repeat).
fn datetime(t: Instant) -> RestrictedExpression {
    DATETIMES.with(|cache| {
        cache
            .borrow_mut()
            .entry(t.0)
            .or_insert_with(|| RestrictedExpression::new_datetime(t.to_cedar()))
            .clone()
    })
}

/// An identity as a Cedar entity: its attributes, `kind`, `owner` when the
/// owner's record is known, and the roles of its valid assignments as parents.
fn identity_entity(s: &IdentityState, owner_known: bool, defs: &entitle::model::Definitions, at: Instant) -> Result<Entity, String> {
    let mut attrs: HashMap<String, RestrictedExpression> = s
        .attributes
        .iter()
        .map(|(name, value)| {
            let v = match value {
                AttrValue::Str(t) => RestrictedExpression::new_string(t.to_string()),
                AttrValue::Int(n) => RestrictedExpression::new_long(*n),
                AttrValue::Bool(b) => RestrictedExpression::new_bool(*b),
                AttrValue::Date(t) => datetime(*t),
                AttrValue::Set(items) => {
                    RestrictedExpression::new_set(items.iter().map(|m| RestrictedExpression::new_string(m.to_string())))
                }
            };
            (name.to_string(), v)
        })
        .collect();
    attrs.insert("kind".into(), RestrictedExpression::new_string(s.kind.to_string()));
    if let Some(o) = s.owner.as_ref().filter(|_| owner_known) {
        attrs.insert("owner".into(), RestrictedExpression::new_entity_uid(uid(EntityType::Identity, o)));
    }
    let parents: HashSet<EntityUid> = assigned_roles(defs, s, at).iter().map(|r| uid(EntityType::Role, r)).collect();
    Entity::new(uid(EntityType::Identity, &s.id), attrs, parents).map_err(|e| e.to_string())
}

fn context_at(at: Instant) -> Result<Context, String> {
    Context::from_pairs([("now".to_string(), datetime(at))]).map_err(|e| e.to_string())
}

fn request(principal: &str, entitlement: &str, context: Context) -> Result<Request, String> {
    let action = EntityUid::from_str(r#"Action::"hold""#).map_err(|e| e.to_string())?;
    Request::new(
        uid(EntityType::Identity, principal),
        action,
        uid(EntityType::Entitlement, entitlement),
        context,
        None,
    )
    .map_err(|e| e.to_string())
}

// --- Rego, evaluated by regorus ----------------------------------------------

/// The generated Rego module and data, loaded into regorus once; each
/// identity is one evaluation of `data.entitle.result` with the identity as
/// input (converted from the record as `entitle::rego::input` documents).
pub struct RegoPeer {
    engine: RefCell<regorus::Engine>,
}

impl RegoPeer {
    /// Loads the module entitle writes for `project`. Refuses a module that
    /// leaves roles or guardrails out: its answers would differ.
    pub fn new(project: &Project) -> Result<RegoPeer, String> {
        let policy = entitle::rego::write(project);
        if !policy.omitted.is_empty() {
            let list: Vec<String> = policy.omitted.iter().map(|o| format!("{} ({})", o.id, o.reason)).collect();
            return Err(format!("the Rego module leaves out {}: not comparable", list.join(", ")));
        }
        RegoPeer::from_text(&policy.module, &policy.data)
    }

    /// Loads a module and data document.
    pub fn from_text(module: &str, data: &str) -> Result<RegoPeer, String> {
        let mut engine = regorus::Engine::new();
        // regorus bounds a policy file (1 MiB, 20,000 lines, 1,024 columns) by
        // default (tabs count wide); the module of 4,000 roles is larger, and it is ours.
        let at_least = |n: usize| std::num::NonZeroUsize::new(n.max(1)).unwrap_or(std::num::NonZeroUsize::MIN);
        let widest = module.lines().map(str::len).max().unwrap_or(0);
        engine.set_policy_length_config(regorus::PolicyLengthConfig {
            max_col: std::num::NonZeroU32::new(u32::try_from(widest * 8 + 1024).unwrap_or(u32::MAX)).unwrap_or(std::num::NonZeroU32::MIN),
            max_file_bytes: at_least(module.len() + 1),
            max_lines: at_least(module.lines().count() + 1),
        });
        engine
            .add_policy(entitle::rego::MODULE_FILE.into(), module.into())
            .map_err(|e| format!("regorus refuses the module: {e}"))?;
        engine
            .add_data(regorus::Value::from_json_str(data).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        Ok(RegoPeer {
            engine: RefCell::new(engine),
        })
    }

    /// The answer for one identity.
    pub fn desired(&self, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<Outcome, String> {
        let input = regorus::Value::from(entitle::rego::input(identity, owner, at));
        let mut engine = self.engine.borrow_mut();
        engine.set_input(input);
        let result = engine
            .eval_rule(entitle::rego::RESULT_RULE.into())
            .map_err(|e| format!("regorus on `{}`: {e}", identity.id))?;
        let strings = |v: &regorus::Value| -> Vec<String> {
            let mut out: Vec<String> = match v {
                regorus::Value::Set(s) => s.iter().filter_map(|x| x.as_string().ok().map(|s| s.to_string())).collect(),
                regorus::Value::Array(a) => a.iter().filter_map(|x| x.as_string().ok().map(|s| s.to_string())).collect(),
                _ => Vec::new(),
            };
            out.sort();
            out
        };
        let mut forbidden: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let regorus::Value::Set(pairs) = &result["forbids"] {
            for pair in pairs.iter() {
                if let (Ok(e), Ok(by)) = (pair[0usize].as_string(), pair[1usize].as_string()) {
                    forbidden.entry(e.to_string()).or_default().push(by.to_string());
                }
            }
        }
        for by in forbidden.values_mut() {
            by.sort();
        }
        Ok(Outcome {
            roles: strings(&result["roles"]),
            entitlements: strings(&result["entitlements"]),
            forbidden: forbidden.into_iter().collect(),
        })
    }
}
