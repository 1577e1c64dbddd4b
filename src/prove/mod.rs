//! Proofs over every identity state: invariants and separation-of-duties
//! rules (`entitle prove`), and the definitions no identity state can make a
//! difference to — dead roles, shadowed roles, guardrails that forbid nothing
//! (`prove`, `check --deep`).
//!
//! Each property is a few questions to Cedar's symbolic compiler (SymCC) and
//! the cvc5 solver: "can one request be allowed by both of these policy
//! sets?", under the assumptions of [`assume`] (identity states a feed can
//! produce). The resource is never symbolic: entitlements the hand-written
//! policies cannot tell apart are asked about together, through the roles
//! that grant them and the hand-written policies fixed to one of them
//! (`Setup::class_set`). For an invariant, each class it forbids against a
//! policy that permits what it forbids; for an SoD rule, a class of one side
//! against a class of another. A model the solver finds is read back into
//! identity records, confirmed with Cedar on the real store
//! ([`counterexample`]) and made small. docs/prove.md has the encoding in full.
//!
//! Invariants: a result is `proved` only on the solver's `unsat`; a
//! counterexample is reported only once it reproduces under the oracle's
//! semantics with records the feed reader accepts; timeouts, solver failures
//! and models that do not reproduce are `unknown`, never proved. Output is in
//! definition order whatever order the queries finish in.

pub mod assume;
pub mod counterexample;
mod prune;
pub mod render;
mod rewrite;
mod solver;
mod witness;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

use cedar_policy::{Authorizer, Policy, PolicyId, PolicySet, RequestEnv, Schema};
use cedar_policy_symcc::CompiledPolicySet;

use crate::compile::expr::{condition, entity_ref};
use crate::compile::{role_policy_id, PolicyOrigin};
use crate::diag::{Code, Diagnostic, Location};
use crate::eval::Justification;
use crate::model::{GrantRef, Invariant, InvariantRule, SodRule};
use crate::project::Project;
use crate::state::IdentityState;
use crate::time::Instant;

use assume::Literals;
use counterexample::{Claim, Index, Scenario, Store};
use solver::{Answer, Session, SolverConfig};

pub use solver::{describe as describe_duration, INSTALL_HINT};

/// How to prove.
#[derive(Debug, Clone)]
pub struct ProveOptions {
    /// The time limit of one solver query (a query that runs out is `unknown`).
    pub timeout: Duration,
    /// How many solver processes run at once.
    pub jobs: usize,
    /// Also look for dead roles, shadowed roles and idle guardrails.
    pub definitions: bool,
}

impl Default for ProveOptions {
    fn default() -> Self {
        ProveOptions {
            timeout: Duration::from_secs(60),
            jobs: std::thread::available_parallelism().map_or(2, usize::from),
            definitions: true,
        }
    }
}

/// Why nothing could be proved at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProveError {
    /// The solver is not installed (or not where `CVC5` says).
    #[error("cvc5, the solver `entitle prove` needs, cannot be started as `{program}` ({why}): {INSTALL_HINT}", INSTALL_HINT = solver::INSTALL_HINT)]
    SolverMissing {
        /// The program tried.
        program: String,
        /// What went wrong.
        why: String,
    },
    /// The proof schema or policies could not be built.
    #[error("cannot set up the proofs: {0}")]
    Setup(String),
}

/// What a property is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProofKind {
    /// An invariant (`invariants:`).
    Invariant,
    /// A separation-of-duties rule (`separation_of_duties:`).
    Sod,
}

/// An identity state that breaks a property, as `entitle eval` reproduces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counterexample {
    /// The identity records: the subject first, then its owner when it has one.
    pub identities: Vec<IdentityState>,
    /// What the subject holds that it must not (sorted).
    pub entitlements: Vec<String>,
    /// The instant (`--as-of`) at which it holds them.
    pub as_of: Instant,
    /// Why it holds each of them: roles (with the assignments of the records), packages, policies.
    pub because: BTreeMap<String, Vec<Justification>>,
}

impl serde::Serialize for Counterexample {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Counterexample", 4)?;
        let records: Vec<serde_json::Value> = self.identities.iter().map(IdentityState::to_json).collect();
        out.serialize_field("identities", &records)?;
        out.serialize_field("entitlements", &self.entitlements)?;
        out.serialize_field("as_of", &self.as_of.to_rfc3339())?;
        out.serialize_field("because", &self.because)?;
        out.end()
    }
}

/// The outcome of one proof.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    /// Holds for every identity state.
    Proved,
    /// Broken by the counterexample.
    Failed {
        /// The identity state that breaks it.
        counterexample: Box<Counterexample>,
    },
    /// Neither proved nor refuted.
    Unknown {
        /// Why not.
        reason: String,
    },
}

/// One invariant or SoD rule and what the solver made of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProofResult {
    /// The invariant or rule id.
    pub id: String,
    /// Invariant or SoD rule.
    pub kind: ProofKind,
    /// The outcome (`status` and its details in JSON).
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Where it is defined.
    #[serde(skip)]
    pub source: Location,
}

impl ProofResult {
    /// The result as a diagnostic located at its definition (failed and
    /// unknown results; `None` for a proved one), for SARIF.
    pub fn diagnostic(&self) -> Option<Diagnostic> {
        let what = match self.kind {
            ProofKind::Invariant => format!("invariant `{}`", self.id),
            ProofKind::Sod => format!("separation-of-duties rule `{}`", self.id),
        };
        match &self.outcome {
            Outcome::Proved => None,
            Outcome::Failed { counterexample: c } => {
                let subject = c.identities.first().map_or("an identity", |i| i.id.as_str());
                let held = c.entitlements.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(" and ");
                let code = match self.kind {
                    ProofKind::Invariant => Code::InvariantViolated,
                    ProofKind::Sod => Code::SodReachable,
                };
                let verb = match self.kind {
                    ProofKind::Invariant => "does not hold",
                    ProofKind::Sod => "can be violated",
                };
                Some(
                    Diagnostic::new(
                        code,
                        self.source.clone(),
                        format!("{what} {verb}: identity `{subject}` holds {held} at {}", c.as_of),
                    )
                    .with_help("`entitle prove --format json` prints the identity records; `entitle eval` reproduces them"),
                )
            }
            Outcome::Unknown { reason } => Some(Diagnostic::new(
                Code::ProofUnknown,
                self.source.clone(),
                format!("{what} is neither proved nor refuted: {reason}"),
            )),
        }
    }
}

/// Everything `prove` found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProveReport {
    /// One result per invariant, then per SoD rule, each in id order.
    pub results: Vec<ProofResult>,
    /// Dead roles, shadowed roles and idle guardrails (sorted).
    pub warnings: Vec<Diagnostic>,
}

impl ProveReport {
    /// Did every property prove?
    pub fn all_proved(&self) -> bool {
        self.results.iter().all(|r| r.outcome == Outcome::Proved)
    }
}

/// Proves every invariant and SoD rule of `project` (and, with
/// `options.definitions`, looks for dead and shadowed definitions).
pub fn prove(project: &Project, options: &ProveOptions) -> Result<ProveReport, ProveError> {
    let config = SolverConfig::from_env(options.timeout)?;
    let setup = Setup::new(project)?;
    let results = setup.properties(&config, options.jobs)?;
    let warnings = if options.definitions {
        setup.definitions(&config, options.jobs)?
    } else {
        Vec::new()
    };
    Ok(ProveReport { results, warnings })
}

/// Dead roles, shadowed roles and idle guardrails only (`check --deep`).
pub fn analyse_definitions(project: &Project, options: &ProveOptions) -> Result<Vec<Diagnostic>, ProveError> {
    let config = SolverConfig::from_env(options.timeout)?;
    Setup::new(project)?.definitions(&config, options.jobs)
}

/// Most pairs of roles an SoD query tries witnesses of before asking the solver.
const WITNESS_PAIRS: usize = 16;

/// Most roles an invariant query tries witnesses of before asking the solver
/// (fewer: an invariant is mostly kept by a guardrail, which every witness meets).
const WITNESS_ROLES: usize = 4;

/// Policy ids of the policies a proof adds (not user policies: `entitle:` is not an id users write).
const ASSUME_IDENTITY: &str = "entitle:assume-identity";
const ASSUME_CATALOG: &str = "entitle:assume-catalog";
const PROPERTY: &str = "entitle:property";

/// The proof schema and the policies of one project's proofs.
struct Setup<'p> {
    project: &'p Project,
    schema: Schema,
    env: RequestEnv,
    /// Every literal any query names (the schema's enumerations, and ids kept in counterexamples).
    literals: Literals,
    /// Why the policies are outside the proof's model, if they are.
    outside: Option<String>,
    /// Each invariant's property policy ("permits what it forbids"), by invariant id.
    invariant_policies: BTreeMap<String, PolicySet>,
    /// Each invariant's filter alone (what it forbids of an entitlement), by invariant id.
    invariant_filters: BTreeMap<String, PolicySet>,
    /// The hand-written policies (guardrails and permits), in policy-set order.
    hand_written: Vec<Policy>,
    /// What each role's probe policy reads, by role id.
    probe_footprints: BTreeMap<String, Literals>,
    /// For each entitlement, the roles that grant it (own grants and inherited).
    granted_by: BTreeMap<String, BTreeSet<String>>,
    /// Whether counterexamples may be confirmed through [`Store::Slim`].
    slim: bool,
    /// Per invariant, the roles no identity its `for` speaks of can hold ([`prune`]).
    excluded: BTreeMap<String, BTreeSet<String>>,
    /// Every catalog entitlement's packages and application, as `Type::"id"`.
    ancestors: BTreeMap<String, BTreeSet<String>>,
    /// The catalog in classes no hand-written policy can tell apart (made when first needed).
    base_classes: std::sync::OnceLock<Vec<Vec<String>>>,
}

/// Parses a policy the proof writes; its id is its `@id`.
fn parse_policy(text: &str) -> Result<Policy, String> {
    let parsed = Policy::from_str(text).map_err(|e| format!("{e}: {text}"))?;
    let id = parsed.annotation("id").unwrap_or("entitle:query").to_string();
    Ok(parsed.new_id(PolicyId::new(id)))
}

fn set_of(policies: impl IntoIterator<Item = Policy>) -> Result<PolicySet, String> {
    let mut set = PolicySet::new();
    for p in policies {
        set.add(p).map_err(|e| e.to_string())?;
    }
    Ok(set)
}

/// A Cedar test that `resource` is one of `grants` (packages and entitlements).
fn resource_in(grants: &[GrantRef]) -> String {
    let packages: Vec<String> = grants
        .iter()
        .filter_map(|g| match g {
            GrantRef::Package(p) => Some(entity_ref("Package", p)),
            GrantRef::Entitlement(_) => None,
        })
        .collect();
    let entitlements: Vec<String> = grants
        .iter()
        .filter_map(|g| match g {
            GrantRef::Entitlement(e) => Some(entity_ref("Entitlement", e)),
            GrantRef::Package(_) => None,
        })
        .collect();
    let mut parts = Vec::new();
    if !packages.is_empty() {
        parts.push(format!("resource in [{}]", packages.join(", ")));
    }
    if !entitlements.is_empty() {
        parts.push(format!("resource in [{}]", entitlements.join(", ")));
    }
    match parts.len() {
        0 => "false".to_string(),
        _ => format!("({})", parts.join(" || ")),
    }
}

/// The policy that permits exactly what an invariant forbids its identities.
fn invariant_policy(inv: &Invariant) -> String {
    format!(
        "@id(\"{PROPERTY}\")\npermit (principal, action == Action::\"hold\", resource)\nwhen {{ {} }}\nwhen {{ {} }};",
        condition(&inv.subject),
        invariant_filter(inv)
    )
}

/// What an invariant forbids, as a Cedar test of `resource`.
fn invariant_filter(inv: &Invariant) -> String {
    match &inv.rule {
        InvariantRule::HoldsNothing => "true".to_string(),
        InvariantRule::Never(f) => {
            let mut parts = Vec::new();
            if let Some(p) = f.privileged {
                parts.push(format!("resource.privileged == {p}"));
            }
            if let Some(a) = &f.application {
                parts.push(format!("resource in {}", entity_ref("Application", a)));
            }
            if !f.entitlements.is_empty() {
                parts.push(resource_in(&f.entitlements));
            }
            if parts.is_empty() {
                "true".to_string()
            } else {
                parts.join(" && ")
            }
        }
        InvariantRule::Only(allowed) => format!("!{}", resource_in(allowed)),
    }
}

/// What the dead-role pass learnt: the roles some identity state holds, with
/// an identity state that holds each (when one was read back).
#[derive(Default)]
struct Liveness {
    alive: BTreeSet<String>,
    witnesses: BTreeMap<String, Scenario>,
}

/// What one query is about: entitlements that the hand-written policies (and
/// the property) cannot tell apart are asked about together, through a
/// representative (see [`Setup::class_set`]).
enum Query<'a> {
    /// An invariant, for one class of entitlements.
    Invariant(&'a Invariant, Vec<String>),
    /// An SoD rule, for a class of one side against a class of another.
    Sod(&'a SodRule, Vec<String>, Vec<String>),
}

impl<'p> Setup<'p> {
    fn new(project: &'p Project) -> Result<Setup<'p>, ProveError> {
        let setup = |e: String| ProveError::Setup(e);
        let defs = &project.defs;
        let mut literals = Literals::default();
        let mut outside = None;
        let mut reads_static_literal = false;
        let mut scan = |policy: &Policy| match policy.to_json() {
            Ok(json) => {
                literals.add(&json);
                reads_static_literal |= crate::eval::reads_static_literal(&json);
                if outside.is_none() {
                    outside = assume::unsupported(&json).map(|why| format!("policy `{}` is outside what proofs model: {why}", policy.id()));
                }
            }
            Err(_) => reads_static_literal = true,
        };
        // Role policies name only defined roles and packages (always in the
        // proof schema), and read what their definition says: only hand-written
        // policies and `cedar:` escape hatches need their text scanned.
        // Approved exceptions are permits for one identity and resource, and
        // are proved with exactly as the hand-written permits are.
        let is_hand_written = |p: &Policy| {
            project
                .compiled
                .info
                .get(p.id().to_string().as_str())
                .is_some_and(|i| matches!(i.origin, PolicyOrigin::Guardrail | PolicyOrigin::Exception(_)))
        };
        let hand_written: Vec<Policy> = project
            .compiled
            .policies
            .policies()
            .filter(|p| is_hand_written(p))
            .cloned()
            .collect();
        hand_written.iter().for_each(&mut scan);
        let mut probe_footprints = BTreeMap::new();
        for role in defs.roles.values() {
            let footprint = match assume::role_footprint(role, &defs.identity.kinds) {
                Some(f) => f,
                None => {
                    let probe = project
                        .compiled
                        .role_probes()
                        .map_err(setup)?
                        .policy(&PolicyId::new(role_policy_id(&role.id)))
                        .ok_or_else(|| setup(format!("role `{}` has no probe policy", role.id)))?;
                    scan(probe);
                    Literals::of([probe])
                }
            };
            probe_footprints.insert(role.id.clone(), footprint);
        }
        let mut invariant_policies = BTreeMap::new();
        let mut invariant_filters = BTreeMap::new();
        for inv in defs.invariants.values() {
            let policy = parse_policy(&invariant_policy(inv)).map_err(setup)?;
            scan(&policy);
            invariant_policies.insert(inv.id.clone(), set_of([policy]).map_err(setup)?);
            let filter = parse_policy(&format!(
                "permit (principal, action, resource) when {{ {} }};",
                invariant_filter(inv)
            ))
            .map_err(setup)?;
            invariant_filters.insert(inv.id.clone(), set_of([filter]).map_err(setup)?);
        }
        if let Some(ghost) = literals.entitlements.iter().find(|e| !defs.entitlements.contains_key(*e)) {
            outside.get_or_insert(format!(
                "a policy reads {}, which is not in the catalog (Cedar errors on it where the solver would read a free record)",
                entity_ref("Entitlement", ghost)
            ));
        }
        let schema_text = assume::proof_schema_text(defs, &literals).map_err(setup)?;
        let schema = Schema::from_str(&schema_text).map_err(|e| setup(format!("the proof schema is invalid: {e}")))?;
        let env = schema
            .request_envs()
            .next()
            .ok_or_else(|| setup("the proof schema has no request environment".into()))?;
        let mut granted_by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (role, grants) in &project.graph.role_grants {
            for e in grants.keys() {
                granted_by.entry(e.clone()).or_default().insert(role.clone());
            }
        }
        let ancestors = defs
            .entitlements
            .values()
            .map(|e| {
                let packages = project
                    .graph
                    .entitlement_packages
                    .get(&e.id)
                    .into_iter()
                    .flatten()
                    .map(|pk| format!("Package::{pk:?}"));
                let application = format!("Application::{:?}", e.application);
                (e.id.clone(), packages.chain([application]).collect())
            })
            .collect();
        let mut answers = prune::Answers::default();
        let excluded = defs
            .invariants
            .values()
            .map(|inv| {
                let roles = defs
                    .roles
                    .values()
                    .filter(|r| !prune::may_hold(r, &inv.subject, defs, &mut answers))
                    .map(|r| r.id.clone())
                    .collect();
                (inv.id.clone(), roles)
            })
            .collect();
        Ok(Setup {
            project,
            excluded,
            schema,
            env,
            literals,
            outside,
            invariant_policies,
            invariant_filters,
            hand_written,
            probe_footprints,
            granted_by,
            // Role policies without a `cedar:` escape hatch read no static entity by literal.
            slim: !reads_static_literal,
            ancestors,
            base_classes: std::sync::OnceLock::new(),
        })
    }

    /// Can an identity that `inv` speaks of hold `role`? (`false` only when their conditions contradict.)
    fn may_hold(&self, role: &str, inv: &Invariant) -> bool {
        !self.excluded.get(&inv.id).is_some_and(|roles| roles.contains(role))
    }

    /// How counterexamples are confirmed: [`Store::Slim`] unless a policy reads a static entity by literal.
    fn store(&self) -> Store<'_> {
        if self.slim {
            Store::Slim(Index {
                granted_by: &self.granted_by,
                hand_written: &self.hand_written,
            })
        } else {
            Store::Full
        }
    }

    fn compile(&self, set: &PolicySet) -> Result<CompiledPolicySet, String> {
        CompiledPolicySet::compile(set, &self.env, &self.schema).map_err(|e| format!("the symbolic compiler refused the policies: {e}"))
    }

    /// The identity assumption for a footprint (an expression over `principal` and `context`).
    fn identity(&self, footprint: &Literals) -> String {
        assume::identity_assumption(&self.project.defs, &self.project.graph, footprint)
    }

    /// `set` with the assumptions for `footprint` (what the policies of the
    /// whole query read): well-formed identities, and the catalog's facts
    /// about the entitlements they read.
    fn assumed(&self, mut set: PolicySet, footprint: &Literals) -> Result<PolicySet, String> {
        let p = self.project;
        set.add(forbid_unless(ASSUME_IDENTITY, &self.identity(footprint))?)
            .map_err(|e| e.to_string())?;
        set.add(forbid_unless(ASSUME_CATALOG, &assume::catalog_facts(&p.defs, &p.graph, footprint))?)
            .map_err(|e| e.to_string())?;
        Ok(set)
    }

    /// `within`, grouped into classes the hand-written policies and `extra`
    /// cannot tell apart (each class in catalog order, classes by their first member).
    fn classes(&self, extra: &[&Policy], within: &BTreeSet<String>) -> Vec<Vec<String>> {
        let observers: Vec<&Policy> = self.hand_written.iter().chain(extra.iter().copied()).collect();
        self.group(&observers, within.iter())
    }

    /// `members` (in catalog order), grouped into classes `observers` cannot
    /// tell apart (each class in catalog order, classes by their first member).
    fn group<'a>(&self, observers: &[&Policy], members: impl Iterator<Item = &'a String> + Clone) -> Vec<Vec<String>> {
        let defs = &self.project.defs;
        let observers: Vec<serde_json::Value> = observers.iter().filter_map(|policy| policy.to_json().ok()).collect();
        let empty = BTreeSet::new();
        let classes = crate::eval::ResourceClasses::new(
            observers.iter(),
            members.clone().filter_map(|e| defs.entitlements.get(e)).map(|e| {
                (
                    e.id.as_str(),
                    e.privileged,
                    e.application.as_str(),
                    self.ancestors.get(&e.id).unwrap_or(&empty),
                )
            }),
        );
        let mut grouped: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for (i, e) in members.filter(|e| defs.entitlements.contains_key(*e)).enumerate() {
            if let Some(c) = classes.class_at(i) {
                grouped.entry(c).or_default().push(e.clone());
            }
        }
        let mut out: Vec<Vec<String>> = grouped.into_values().collect();
        out.sort();
        out
    }

    /// The classes of the catalog `policy` alone cannot tell apart: unions of
    /// the classes of all hand-written policies (`base_classes`), which
    /// `policy` (one of them) cannot tell apart any better.
    fn classes_of(&self, policy: &Policy) -> Vec<Vec<String>> {
        let base = self.base_classes.get_or_init(|| {
            let catalog: BTreeSet<String> = self.project.defs.entitlements.keys().cloned().collect();
            self.classes(&[], &catalog)
        });
        let by_first: BTreeMap<&String, &Vec<String>> = base.iter().filter_map(|c| Some((c.first()?, c))).collect();
        let mut out: Vec<Vec<String>> = self
            .group(&[policy], by_first.keys().copied())
            .into_iter()
            .map(|firsts| {
                let mut members: Vec<String> = firsts
                    .iter()
                    .filter_map(|f| by_first.get(f))
                    .flat_map(|c| c.iter().cloned())
                    .collect();
                members.sort();
                members
            })
            .collect();
        out.sort();
        out
    }

    /// Can `policy`'s scope (its `resource` constraint, conditions aside) admit `entitlement`?
    fn scope_admits(&self, policy: &Policy, entitlement: &str) -> bool {
        let scope_only = policy.to_json().ok().and_then(|mut json| {
            let obj = json.as_object_mut()?;
            obj.insert("effect".into(), "permit".into());
            obj.insert("principal".into(), serde_json::json!({"op": "All"}));
            obj.insert("action".into(), serde_json::json!({"op": "All"}));
            obj.insert("conditions".into(), serde_json::json!([]));
            obj.remove("annotations");
            Policy::from_json(None, json).ok()
        });
        scope_only
            .and_then(|p| set_of([p]).ok())
            .is_none_or(|set| self.allows_resource(&set, entitlement))
    }

    /// Does `set` (policies that read nothing of the request but `resource`)
    /// allow a request for `entitlement`? Asked of Cedar with the entitlement
    /// as the static store holds it; `true` when in doubt (the solver decides).
    fn allows_resource(&self, set: &PolicySet, entitlement: &str) -> bool {
        use crate::eval::cedar_io::{context_at, entitlement_entity, hold_request};
        let asked = (|| -> Option<bool> {
            let entities = cedar_policy::Entities::from_entities([entitlement_entity(self.project, entitlement).ok()?], None).ok()?;
            let request = hold_request("entitle:anyone", entitlement, context_at(Instant(0)).ok()?).ok()?;
            Some(Authorizer::new().is_authorized(&request, set, &entities).decision() == cedar_policy::Decision::Allow)
        })();
        asked.unwrap_or(true)
    }

    /// The policies that decide, for any request, whether its identity holds
    /// some entitlement of the class `members`: the probe (condition without
    /// grants) of every role granting one of them, and the hand-written
    /// policies with `resource` fixed to the first member (they cannot tell
    /// the members apart). [`Setup::assumed`] adds what the catalog says of it.
    ///
    /// An identity holds some member exactly when this set allows it: the
    /// roles' grants are the only thing that differs between members.
    ///
    /// For an invariant, roles whose condition contradicts its `for` are left
    /// out ([`prune`]): no identity it speaks of holds them.
    ///
    /// Also what the set reads (its footprint).
    fn class_set(&self, members: &[String], invariant: Option<&Invariant>) -> Result<(PolicySet, Literals), String> {
        let representative = members.first().ok_or("an empty class")?;
        let mut set = PolicySet::new();
        let mut footprint = Literals::default();
        let roles: BTreeSet<&String> = members.iter().filter_map(|e| self.granted_by.get(e)).flatten().collect();
        for role in roles {
            if invariant.is_some_and(|inv| !self.may_hold(role, inv)) {
                continue;
            }
            set.add(self.probe(role)?).map_err(|e| e.to_string())?;
            if let Some(f) = self.probe_footprints.get(role) {
                footprint.extend(f);
            }
        }
        let mut fixed = Vec::new();
        for policy in &self.hand_written {
            fixed.push(rewrite::fix_resource(policy, representative, policy.id().as_ref())?);
        }
        footprint.extend(&Literals::of(&fixed));
        for policy in fixed {
            set.add(policy).map_err(|e| e.to_string())?;
        }
        Ok((set, footprint))
    }

    /// Can anything in `members` be allowed at all (a role grants one, or a hand-written permit exists)?
    fn grantable(&self, members: &[String]) -> bool {
        members.iter().any(|e| self.granted_by.contains_key(e))
            || self.hand_written.iter().any(|p| p.effect() == cedar_policy::Effect::Permit)
    }

    /// Does the invariant forbid the entitlements of `class` (its filter, asked
    /// of Cedar for the class's first member; the class shares the answer)?
    fn forbids(&self, inv: &Invariant, class: &[String]) -> bool {
        let (Some(filter), Some(representative)) = (self.invariant_filters.get(&inv.id), class.first()) else {
            return true;
        };
        self.allows_resource(filter, representative)
    }

    /// Invariants, then SoD rules, each in id order.
    fn properties(&self, config: &SolverConfig, jobs: usize) -> Result<Vec<ProofResult>, ProveError> {
        let defs = &self.project.defs;
        let catalog: BTreeSet<String> = defs.entitlements.keys().cloned().collect();
        let mut queries = Vec::new();
        for inv in defs.invariants.values() {
            let property: Vec<&Policy> = self
                .invariant_policies
                .get(&inv.id)
                .map(|s| s.policies().collect())
                .unwrap_or_default();
            for class in self.classes(&property, &catalog) {
                if self.grantable(&class) && self.forbids(inv, &class) {
                    queries.push(Query::Invariant(inv, class));
                }
            }
        }
        for rule in defs.sod.values() {
            let sides: Vec<Vec<Vec<String>>> = rule.sides.iter().map(|s| self.classes(&[], &self.expand(s))).collect();
            for i in 0..sides.len() {
                for j in i + 1..sides.len() {
                    for a in sides[i].iter().filter(|c| self.grantable(c)) {
                        for b in sides[j].iter().filter(|c| self.grantable(c)) {
                            queries.push(Query::Sod(rule, a.clone(), b.clone()));
                        }
                    }
                }
            }
        }
        let mut results: Vec<ProofResult> = defs
            .invariants
            .values()
            .map(|i| (i.id.clone(), ProofKind::Invariant, i.source.clone()))
            .chain(defs.sod.values().map(|r| (r.id.clone(), ProofKind::Sod, r.source.clone())))
            .map(|(id, kind, source)| ProofResult {
                id,
                kind,
                outcome: Outcome::Proved,
                source,
            })
            .collect();
        if let Some(why) = &self.outside {
            for r in &mut results {
                r.outcome = Outcome::Unknown { reason: why.clone() };
            }
            return Ok(results);
        }
        let answers = solver::in_parallel(config, jobs, &queries, |session, q| match self.answer(session, q) {
            Ok(o) => o,
            Err(reason) => Outcome::Unknown { reason },
        })?;
        // Each property takes the first failure in query order (deterministic), else
        // the first unknown, else it is proved.
        for (q, outcome) in queries.iter().zip(answers) {
            let (id, kind) = match q {
                Query::Invariant(inv, _) => (&inv.id, ProofKind::Invariant),
                Query::Sod(rule, ..) => (&rule.id, ProofKind::Sod),
            };
            let Some(result) = results.iter_mut().find(|r| &r.id == id && r.kind == kind) else {
                continue;
            };
            match (&result.outcome, outcome) {
                (Outcome::Failed { .. }, _) | (_, Outcome::Proved) => {}
                (Outcome::Unknown { .. }, o @ Outcome::Failed { .. }) | (Outcome::Proved, o) => result.outcome = o,
                (Outcome::Unknown { .. }, Outcome::Unknown { .. }) => {}
            }
        }
        Ok(results)
    }

    /// The entitlements a list of grants stands for.
    fn expand(&self, grants: &[GrantRef]) -> BTreeSet<String> {
        grants.iter().flat_map(|g| self.project.graph.expand(g)).collect()
    }

    fn answer(&self, session: &mut Session, query: &Query<'_>) -> Result<Outcome, String> {
        let (a, b, footprint, candidates, also) = match query {
            Query::Invariant(inv, class) => {
                let property = self.invariant_policies.get(&inv.id).ok_or("no property policy")?;
                let representative = class.first().ok_or("an empty class")?;
                let fixed = rewrite::fix_resource(property.policies().next().ok_or("no property policy")?, representative, PROPERTY)?;
                let mut footprint = Literals::of([&fixed]);
                let b = set_of([fixed])?;
                let (a, read) = self.class_set(class, Some(inv))?;
                footprint.extend(&read);
                (self.assumed(a, &footprint)?, b, footprint, vec![class.clone()], Some(property))
            }
            Query::Sod(_, first, second) => {
                let (b, mut footprint) = self.class_set(second, None)?;
                let (a, read) = self.class_set(first, None)?;
                footprint.extend(&read);
                (
                    self.assumed(a, &footprint)?,
                    b,
                    footprint,
                    vec![first.clone(), second.clone()],
                    None,
                )
            }
        };
        if let Some(outcome) = self.witnessed(query) {
            return Ok(outcome);
        }
        match session.overlap(&self.compile(&a)?, &self.compile(&b)?) {
            Answer::Disjoint => Ok(Outcome::Proved),
            Answer::Unknown(reason) => Ok(Outcome::Unknown { reason }),
            Answer::Overlap(env) => {
                let (scenario, _) = counterexample::scenario_of(&env, self.project, &self.literals.identities, &footprint)?;
                self.failure(scenario, &candidates, also)
            }
        }
    }

    /// A confirmed, minimal counterexample: the scenario holds an entitlement
    /// of each class in `classes`, and matches `also` for the first; or why
    /// it does not reproduce.
    ///
    /// The members of a class are alike to every hand-written policy and to
    /// the property: only the roles' grants tell them apart. So per class it
    /// is enough to try the first member (catalog order) a role the scenario
    /// holds grants, and, when a hand-written permit exists, the first member
    /// none of them grants. Whatever is reported is confirmed by Cedar.
    fn failure(&self, scenario: Scenario, classes: &[Vec<String>], also: Option<&PolicySet>) -> Result<Outcome, String> {
        let held = counterexample::held_roles(self.project, &scenario, self.store())?;
        let permits = self.hand_written.iter().any(|p| p.effect() == cedar_policy::Effect::Permit);
        let by_held = |e: &String| self.granted_by.get(e).is_some_and(|roles| !roles.is_disjoint(&held));
        let mut holds = Vec::new();
        let mut last_error = String::from("no entitlement of the class is held");
        for (i, class) in classes.iter().enumerate() {
            let granted = class.iter().find(|e| by_held(e));
            let other = class.iter().find(|e| !by_held(e)).filter(|_| permits);
            let found = granted.into_iter().chain(other).find(|e| {
                let mut claimed = holds.clone();
                claimed.push((*e).clone());
                let claim = Claim {
                    holds: claimed,
                    also: also.filter(|_| i == 0),
                };
                match counterexample::confirm(self.project, &scenario, &claim, self.store()) {
                    Ok(_) => true,
                    Err(why) => {
                        last_error = why;
                        false
                    }
                }
            });
            match found {
                Some(e) => holds.push(e.clone()),
                None => return Err(format!("the solver's counterexample does not reproduce ({last_error})")),
            }
        }
        let claim = Claim { holds, also };
        let small = counterexample::minimise(self.project, scenario, &claim, self.store());
        let because = counterexample::confirm(self.project, &small, &claim, self.store())?;
        let mut entitlements = claim.holds.clone();
        entitlements.sort();
        entitlements.dedup();
        Ok(Outcome::Failed {
            counterexample: Box::new(Counterexample {
                identities: std::iter::once(small.subject).chain(small.owner).collect(),
                entitlements,
                as_of: small.at,
                because,
            }),
        })
    }

    /// A counterexample found without the solver: identity states built from
    /// the conditions of the roles that grant the classes of `query` (with an
    /// invariant's `for`), tried in role order, at most [`WITNESS_ROLES`] roles
    /// or [`WITNESS_PAIRS`] pairs of roles. Each is held to [`Setup::failure`] (Cedar), so a
    /// failure found here is as real as one read from a model; finding none
    /// proves nothing and the solver is asked.
    fn witnessed(&self, query: &Query<'_>) -> Option<Outcome> {
        let defs = &self.project.defs;
        let at = counterexample::round_instant();
        let granting = |class: &[String], invariant: Option<&Invariant>| -> Vec<&crate::model::Role> {
            let ids: BTreeSet<&String> = class.iter().filter_map(|e| self.granted_by.get(e)).flatten().collect();
            ids.into_iter()
                .filter(|r| invariant.is_none_or(|inv| self.may_hold(r, inv)))
                .filter_map(|r| defs.roles.get(r))
                .collect()
        };
        // The roles (one, or one per side) each try builds its records from,
        // what the records must also meet, the classes to hold and the property.
        let (tries, subject, classes, also): (Vec<Vec<&crate::model::Role>>, _, _, _) = match query {
            Query::Invariant(inv, class) => (
                granting(class, Some(inv))
                    .into_iter()
                    .take(WITNESS_ROLES)
                    .map(|r| vec![r])
                    .collect(),
                Some(&inv.subject),
                vec![class.clone()],
                Some(self.invariant_policies.get(&inv.id)?),
            ),
            Query::Sod(_, a, b) => {
                let (left, right) = (granting(a, None), granting(b, None));
                let pairs = left
                    .iter()
                    .flat_map(|x| right.iter().map(move |y| if x.id == y.id { vec![*x] } else { vec![*x, *y] }))
                    .take(WITNESS_PAIRS)
                    .collect();
                (pairs, None, vec![a.clone(), b.clone()], None)
            }
        };
        for roles in tries {
            for scenario in witness::candidates_for(&roles, subject, defs, at) {
                if let Ok(outcome) = self.failure(scenario, &classes, also) {
                    return Some(outcome);
                }
            }
        }
        None
    }

    /// Dead roles, shadowed roles and idle guardrails, as sorted warnings.
    fn definitions(&self, config: &SolverConfig, jobs: usize) -> Result<Vec<Diagnostic>, ProveError> {
        if self.outside.is_some() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let liveness = self.dead_roles(config, jobs, &mut out)?;
        self.shadowed_roles(config, jobs, &liveness, &mut out)?;
        self.idle_guardrails(config, jobs, &mut out)?;
        crate::diag::sort(&mut out);
        Ok(out)
    }

    fn probe(&self, role: &str) -> Result<Policy, String> {
        self.project
            .compiled
            .role_probes()?
            .policy(&PolicyId::new(role_policy_id(role)))
            .cloned()
            .ok_or_else(|| format!("role `{role}` has no probe policy"))
    }

    /// A policy that permits every well-formed request, for the footprint of `policies`.
    fn well_formed(&self, footprint: &Literals) -> Result<Policy, String> {
        parse_policy(&format!(
            "@id(\"{ASSUME_IDENTITY}\")\npermit (principal, action, resource)\nwhen {{ {} }};",
            self.identity(footprint)
        ))
    }

    /// Does `scenario` hold `role`, as the oracle decides it (the role's probe
    /// policy, on the identity, its owner and the roles they are in: the
    /// store of [`Setup::store`]), with records the feed reader reads back as
    /// they are?
    fn holds_role(&self, scenario: &Scenario, role: &str) -> bool {
        let p = self.project;
        let defs = &p.defs;
        // Only records the feed reader reads back as they are say anything about the roles.
        let readable = std::iter::once(&scenario.subject)
            .chain(&scenario.owner)
            .all(|r| counterexample::as_read(r, defs).as_ref() == Ok(r));
        let Ok(probe) = self.probe(role).and_then(|p| set_of([p])) else {
            return false;
        };
        let Some(any) = defs.entitlements.keys().next() else {
            return false;
        };
        let (Ok(entities), Ok(context)) = (
            counterexample::entities_for(p, scenario, std::slice::from_ref(any), self.store()),
            crate::eval::cedar_io::context_at(scenario.at),
        ) else {
            return false;
        };
        let Ok(request) = crate::eval::cedar_io::hold_request(&scenario.subject.id, any, context) else {
            return false;
        };
        readable && Authorizer::new().is_authorized(&request, &probe, &entities).decision() == cedar_policy::Decision::Allow
    }

    /// Roles no well-formed identity state holds, reported in `out`; the
    /// roles known to be held, each with a witness when one was read back.
    /// A witness built from the role's own literals ([`witness`]) spares
    /// most roles a solver query.
    fn dead_roles(&self, config: &SolverConfig, jobs: usize, out: &mut Vec<Diagnostic>) -> Result<Liveness, ProveError> {
        let defs = &self.project.defs;
        let roles: Vec<&crate::model::Role> = defs.roles.values().collect();
        let at = counterexample::round_instant();
        // `Some(witness)` when alive (the witness when one was read back), `None` when dead.
        let answers = solver::in_parallel(config, jobs, &roles, |session, role| -> Result<Option<Option<Scenario>>, String> {
            if let Some(w) = witness::candidates(role, defs, at)
                .into_iter()
                .find(|w| self.holds_role(w, &role.id))
            {
                return Ok(Some(Some(w)));
            }
            let probe = self.probe(&role.id)?;
            let footprint = self.probe_footprints.get(&role.id).cloned().unwrap_or_default();
            let world = set_of([self.well_formed(&footprint)?])?;
            match session.overlap(&self.compile(&set_of([probe])?)?, &self.compile(&world)?) {
                Answer::Disjoint => Ok(None),
                Answer::Unknown(why) => Err(why),
                Answer::Overlap(env) => {
                    let read_back = counterexample::scenario_of(&env, self.project, &self.literals.identities, &footprint)
                        .ok()
                        .map(|(s, _)| s)
                        .filter(|s| self.holds_role(s, &role.id));
                    Ok(Some(read_back))
                }
            }
        })?;
        let mut liveness = Liveness::default();
        for (role, answer) in roles.iter().zip(answers) {
            match answer {
                Ok(Some(witness)) => {
                    liveness.alive.insert(role.id.clone());
                    if let Some(w) = witness {
                        liveness.witnesses.insert(role.id.clone(), w);
                    }
                }
                Ok(None) => out.push(
                    Diagnostic::new(
                        Code::DeadRole,
                        role.source.clone(),
                        format!(
                            "role `{}` can never be held: no identity state the feed can produce satisfies its condition",
                            role.id
                        ),
                    )
                    .with_help(
                        "check its `when` and `kinds` against the identity schema (enum values, attributes that apply only to some kinds)",
                    ),
                ),
                Err(why) => out.push(Diagnostic::new(
                    Code::ProofUnknown,
                    role.source.clone(),
                    format!("could not decide whether role `{}` can ever be held: {why}", role.id),
                )),
            }
        }
        Ok(liveness)
    }

    /// Roles whose grants another role grants too, to every identity that holds them.
    fn shadowed_roles(&self, config: &SolverConfig, jobs: usize, liveness: &Liveness, out: &mut Vec<Diagnostic>) -> Result<(), ProveError> {
        let p = self.project;
        let grants = |r: &str| -> BTreeSet<&str> {
            p.graph
                .role_grants
                .get(r)
                .map(|g| g.keys().map(String::as_str).collect())
                .unwrap_or_default()
        };
        let mut granted_by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in &liveness.alive {
            for e in grants(r) {
                granted_by.entry(e).or_default().push(r);
            }
        }
        let mut pairs = Vec::new();
        for r in &liveness.alive {
            let mine = grants(r);
            // Only roles granting `r`'s least granted entitlement can grant all of `r`'s.
            let Some(rarest) = mine.iter().min_by_key(|e| granted_by.get(*e).map_or(0, Vec::len)) else {
                continue;
            };
            for s in granted_by.get(rarest).into_iter().flatten() {
                if *s == r.as_str() || !mine.is_subset(&grants(s)) {
                    continue;
                }
                // `r`'s witness not holding `s` settles it without the solver.
                if liveness.witnesses.get(r.as_str()).is_some_and(|w| !self.holds_role(w, s)) {
                    continue;
                }
                pairs.push((r.clone(), s.to_string()));
            }
        }
        let answers = solver::in_parallel(config, jobs, &pairs, |session, (r, s)| -> Result<bool, String> {
            let (probe_r, probe_s) = (self.probe(r)?, self.probe(s)?);
            let mut footprint = self.probe_footprints.get(r).cloned().unwrap_or_default();
            footprint.extend(&self.probe_footprints.get(s).cloned().unwrap_or_default());
            let not_s = rewrite::with_effect(&probe_s, "forbid", "entitle:not-held")?;
            let rest = set_of([self.well_formed(&footprint)?, not_s])?;
            match session.overlap(&self.compile(&set_of([probe_r])?)?, &self.compile(&rest)?) {
                Answer::Disjoint => Ok(true),
                Answer::Overlap(_) => Ok(false),
                Answer::Unknown(why) => Err(why),
            }
        })?;
        let shadowed: BTreeSet<(&str, &str)> = pairs
            .iter()
            .zip(&answers)
            .filter(|(_, a)| matches!(a, Ok(true)))
            .map(|((r, s), _)| (r.as_str(), s.as_str()))
            .collect();
        let mut reported = BTreeSet::new();
        for ((r, s), answer) in pairs.iter().zip(&answers) {
            let Some(role) = p.defs.roles.get(r) else { continue };
            match answer {
                // Two roles that shadow each other: report the later one only.
                Ok(true) if shadowed.contains(&(s.as_str(), r.as_str())) && r < s => {}
                Ok(true) => {
                    if reported.insert(r.clone()) {
                        out.push(
                            Diagnostic::new(
                                Code::ShadowedRole,
                                role.source.clone(),
                                format!("role `{r}` adds nothing: every identity state that holds it also holds `{s}`, which grants all it grants"),
                            )
                            .with_help(format!("remove `{r}`, or make it grant what `{s}` does not")),
                        );
                    }
                }
                Ok(false) => {}
                Err(why) => out.push(Diagnostic::new(
                    Code::ProofUnknown,
                    role.source.clone(),
                    format!("could not decide whether role `{s}` shadows role `{r}`: {why}"),
                )),
            }
        }
        Ok(())
    }

    /// Hand-written forbids that match no well-formed identity state and catalog entitlement.
    fn idle_guardrails(&self, config: &SolverConfig, jobs: usize, out: &mut Vec<Diagnostic>) -> Result<(), ProveError> {
        let p = self.project;
        let guardrails: Vec<&Policy> = p
            .compiled
            .policies
            .policies()
            .filter(|policy| {
                p.compiled
                    .info
                    .get(policy.id().to_string().as_str())
                    .is_some_and(|i| i.origin == PolicyOrigin::Guardrail && i.forbid)
            })
            .collect();
        let answers = solver::in_parallel(config, jobs, &guardrails, |session, g| -> Result<bool, String> {
            // Idle when, for every class of entitlements it can tell apart, no well-formed identity matches it.
            let as_permit = rewrite::with_effect(g, "permit", "entitle:guardrail")?;
            for class in self.classes_of(g) {
                let representative = class.first().ok_or("an empty class")?;
                if !self.scope_admits(g, representative) {
                    continue;
                }
                let fixed = set_of([rewrite::fix_resource(&as_permit, representative, "entitle:guardrail")?])?;
                let footprint = Literals::of(fixed.policies());
                let fixed = self.assumed(fixed, &footprint)?;
                let world = set_of([self.well_formed(&footprint)?])?;
                match session.overlap(&self.compile(&fixed)?, &self.compile(&world)?) {
                    Answer::Disjoint => {}
                    Answer::Overlap(_) => return Ok(false),
                    Answer::Unknown(why) => return Err(why),
                }
            }
            Ok(true)
        })?;
        for (g, answer) in guardrails.iter().zip(answers) {
            let id = g.id().to_string();
            let Some(info) = p.compiled.info.get(&id) else { continue };
            match answer {
                Ok(true) => out.push(
                    Diagnostic::new(
                        Code::IdleGuardrail,
                        info.source.clone(),
                        format!(
                            "guardrail `{id}` forbids nothing: no identity state the feed can produce and no catalog entitlement match it"
                        ),
                    )
                    .with_help("check the attribute values, kinds and entitlements it tests against the definitions"),
                ),
                Ok(false) => {}
                Err(why) => out.push(Diagnostic::new(
                    Code::ProofUnknown,
                    info.source.clone(),
                    format!("could not decide whether guardrail `{id}` can forbid anything: {why}"),
                )),
            }
        }
        Ok(())
    }
}

/// A forbid that holds back every request for which `expr` does not hold.
fn forbid_unless(id: &str, expr: &str) -> Result<Policy, String> {
    parse_policy(&format!(
        "@id(\"{id}\")\nforbid (principal, action, resource)\nunless {{ {expr} }};"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{generate, GenOptions};

    /// A tiny generated organisation, with or without a guardrail that reads a static entity by literal.
    fn org(literal_entity_guardrail: bool) -> crate::gen::GeneratedOrg {
        generate(&GenOptions {
            people: 20,
            nhis: 5,
            roles: 100,
            entitlements: 1_000,
            literal_entity_guardrail,
            ..GenOptions::reference()
        })
        .unwrap()
    }

    #[test]
    fn counterexamples_are_confirmed_the_oracles_way_when_a_policy_reads_a_static_literal() {
        let plain = org(false);
        assert!(Setup::new(&plain.project).unwrap().slim);
        let literal = org(true);
        let setup = Setup::new(&literal.project).unwrap();
        assert!(!setup.slim);
        assert!(matches!(setup.store(), Store::Full));
    }

    #[test]
    fn a_guardrail_is_asked_about_the_classes_it_alone_tells_apart_within_its_scope() {
        let plain = org(false);
        let setup = Setup::new(&plain.project).unwrap();
        let guardrail = |id: &str| setup.hand_written.iter().find(|p| AsRef::<str>::as_ref(p.id()) == id).unwrap();
        // Reads nothing of the resource: one class, the whole catalog.
        let leavers = setup.classes_of(guardrail("leavers-hold-nothing"));
        assert_eq!(leavers.len(), 1);
        assert_eq!(leavers[0].len(), plain.project.defs.entitlements.len());
        // Reads `privileged` only: two classes, whatever else the other guardrails read.
        let agents = setup.classes_of(guardrail("agents-never-privileged"));
        assert_eq!(agents.len(), 2);
        // Scoped to an application: only its entitlements pass the scope.
        let cloud = guardrail("no-production-cloud-unless-active");
        let admitted: Vec<Vec<String>> = setup
            .classes_of(cloud)
            .into_iter()
            .filter(|c| setup.scope_admits(cloud, &c[0]))
            .collect();
        assert_eq!(admitted.len(), 1);
        assert!(admitted[0]
            .iter()
            .all(|e| plain.project.defs.entitlements[e].application == "aws-prod"));
    }
}
