//! Proofs over every identity state: invariants and separation-of-duties
//! rules (`entitle prove`), and the definitions no identity state can make a
//! difference to — dead roles, shadowed roles, guardrails that forbid nothing
//! (`prove`, `check --deep`).
//!
//! Each property is a question to Cedar's symbolic compiler (SymCC) and the
//! cvc5 solver: "can one request be allowed by both of these policy sets?".
//! For an invariant, the merged policy set (with the assumptions of
//! [`assume`]) against a policy that permits what the invariant forbids; for an
//! SoD rule, the merged set with the resource fixed to an entitlement of one
//! side against the merged set restricted to the other side. A model the
//! solver finds is read back into identity records, confirmed with Cedar on
//! the real store ([`counterexample`]) and made small. docs/prove.md has the
//! encoding in full.
//!
//! Invariants: a result is `proved` only on the solver's `unsat`; a
//! counterexample is reported only once it reproduces under the oracle's
//! semantics with records the feed reader accepts; timeouts, solver failures
//! and models that do not reproduce are `unknown`, never proved. Output is in
//! definition order whatever order the queries finish in.

pub mod assume;
pub mod counterexample;
pub mod render;
mod rewrite;
mod solver;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Mutex;
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
use counterexample::{Claim, Scenario};
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

/// Policy ids of the policies a proof adds (not user policies: `entitle:` is not an id users write).
const ASSUME_IDENTITY: &str = "entitle:assume-identity";
const ASSUME_CATALOG: &str = "entitle:assume-catalog";
const ASSUME_LITERAL: &str = "entitle:assume-literal";
const PROPERTY: &str = "entitle:property";
const OTHER_SIDE: &str = "entitle:other-side";

/// The proof schema and the policies of one project's proofs.
struct Setup<'p> {
    project: &'p Project,
    schema: Schema,
    env: RequestEnv,
    /// Every literal any query names (the schema's enumerations, and ids kept in counterexamples).
    literals: Literals,
    /// What the merged policy set names and reads.
    merged_footprint: Literals,
    /// Does a hand-written permit exist (then the resource must be said to be in the catalog)?
    hand_written_permit: bool,
    /// Why the policies are outside the proof's model, if they are.
    outside: Option<String>,
    /// Each invariant's property policy ("permits what it forbids"), by invariant id.
    invariant_policies: BTreeMap<String, PolicySet>,
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
    let filter = match &inv.rule {
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
    };
    format!(
        "@id(\"{PROPERTY}\")\npermit (principal, action == Action::\"hold\", resource)\nwhen {{ {} }}\nwhen {{ {filter} }};",
        condition(&inv.subject)
    )
}

/// What the dead-role pass learnt: the roles some identity state holds, and
/// the roles held by each witness the solver produced.
#[derive(Default)]
struct Liveness {
    alive: BTreeSet<String>,
    witnesses: Vec<BTreeSet<String>>,
}

/// What one query is about.
enum Query<'a> {
    Invariant(&'a Invariant),
    /// An SoD rule: one entitlement of one side, against one entitlement of
    /// another side, or against a whole (large) side.
    Sod {
        rule: &'a SodRule,
        fixed: String,
        other: Other,
    },
}

/// What an SoD query sets against its fixed entitlement.
enum Other {
    /// One entitlement: both requests are concrete, only the identity is symbolic.
    Entitlement(String),
    /// A side too large to pair up (its index): the resource is symbolic.
    Side(usize),
}

/// Largest side paired entitlement by entitlement; a larger one is queried with a symbolic resource.
const PAIRWISE_SIDE: usize = 8;

impl<'p> Setup<'p> {
    fn new(project: &'p Project) -> Result<Setup<'p>, ProveError> {
        let setup = |e: String| ProveError::Setup(e);
        let defs = &project.defs;
        let mut literals = Literals::default();
        let mut outside = None;
        let mut scan = |policy: &Policy| {
            if let Ok(json) = policy.to_json() {
                literals.add(&json);
                if outside.is_none() {
                    outside = assume::unsupported(&json).map(|why| format!("policy `{}` is outside what proofs model: {why}", policy.id()));
                }
            }
        };
        project.compiled.policies.policies().for_each(&mut scan);
        project.compiled.role_probes.policies().for_each(&mut scan);
        let mut invariant_policies = BTreeMap::new();
        for inv in defs.invariants.values() {
            let policy = parse_policy(&invariant_policy(inv)).map_err(setup)?;
            scan(&policy);
            invariant_policies.insert(inv.id.clone(), set_of([policy]).map_err(setup)?);
        }
        for rule in defs.sod.values() {
            for side in &rule.sides {
                scan(&side_policy(side).map_err(setup)?);
            }
        }
        let schema_text = assume::proof_schema_text(defs, &literals).map_err(setup)?;
        let schema = Schema::from_str(&schema_text).map_err(|e| setup(format!("the proof schema is invalid: {e}")))?;
        let env = schema
            .request_envs()
            .next()
            .ok_or_else(|| setup("the proof schema has no request environment".into()))?;
        let hand_written_permit = project
            .compiled
            .info
            .values()
            .any(|i| i.origin == PolicyOrigin::Guardrail && !i.forbid);
        Ok(Setup {
            project,
            schema,
            env,
            literals,
            merged_footprint: Literals::of(project.compiled.policies.policies()),
            hand_written_permit,
            outside,
            invariant_policies,
        })
    }

    fn compile(&self, set: &PolicySet) -> Result<CompiledPolicySet, String> {
        CompiledPolicySet::compile(set, &self.env, &self.schema).map_err(|e| format!("the symbolic compiler refused the policies: {e}"))
    }

    /// The identity assumption for a footprint (an expression over `principal` and `context`).
    fn identity(&self, footprint: &Literals) -> String {
        assume::identity_assumption(&self.project.defs, &self.project.graph, footprint)
    }

    /// The catalog facts for a footprint (an expression over `resource` and entitlement literals).
    fn catalog(&self, footprint: &Literals) -> String {
        assume::catalog_facts(&self.project.defs, &self.project.graph, footprint, self.hand_written_permit)
    }

    /// `set` with the assumptions for `footprint` added as forbids: it then
    /// allows only requests of well-formed identities for catalog entitlements.
    fn assumed(&self, mut set: PolicySet, footprint: &Literals, catalog: bool) -> Result<PolicySet, String> {
        set.add(forbid_unless(ASSUME_IDENTITY, &self.identity(footprint))?)
            .map_err(|e| e.to_string())?;
        if catalog {
            set.add(forbid_unless(ASSUME_CATALOG, &self.catalog(footprint))?)
                .map_err(|e| e.to_string())?;
        }
        Ok(set)
    }

    /// The merged policy set plus `extra`, with the assumptions for its
    /// footprint and `also` (what the other side of the query reads).
    fn assumed_merged(&self, extra: Option<Policy>, also: &Literals) -> Result<CompiledPolicySet, String> {
        let mut set = self.project.compiled.policies.clone();
        let mut footprint = self.merged_footprint.clone();
        footprint.extend(also);
        if let Some(p) = extra {
            footprint.extend(&Literals::of([&p]));
            set.add(p).map_err(|e| e.to_string())?;
        }
        self.compile(&self.assumed(set, &footprint, true)?)
    }

    /// Invariants, then SoD rules, each in id order.
    fn properties(&self, config: &SolverConfig, jobs: usize) -> Result<Vec<ProofResult>, ProveError> {
        let defs = &self.project.defs;
        let mut queries = Vec::new();
        for inv in defs.invariants.values() {
            queries.push(Query::Invariant(inv));
        }
        for rule in defs.sod.values() {
            let sides: Vec<BTreeSet<String>> = rule.sides.iter().map(|s| self.expand(s)).collect();
            for i in 0..sides.len() {
                for j in i + 1..sides.len() {
                    let (fixed, other) = if sides[i].len() <= sides[j].len() { (i, j) } else { (j, i) };
                    for e in &sides[fixed] {
                        if sides[other].len() <= PAIRWISE_SIDE {
                            for e2 in &sides[other] {
                                queries.push(Query::Sod {
                                    rule,
                                    fixed: e.clone(),
                                    other: Other::Entitlement(e2.clone()),
                                });
                            }
                        } else {
                            queries.push(Query::Sod {
                                rule,
                                fixed: e.clone(),
                                other: Other::Side(other),
                            });
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
                Query::Invariant(inv) => (&inv.id, ProofKind::Invariant),
                Query::Sod { rule, .. } => (&rule.id, ProofKind::Sod),
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
        match query {
            Query::Invariant(inv) => {
                let property = self.invariant_policies.get(&inv.id).ok_or("no property policy")?;
                let footprint = Literals::of(property.policies());
                let merged = self.assumed_merged(None, &footprint)?;
                let mut read = footprint;
                read.extend(&self.merged_footprint);
                match session.overlap(&merged, &self.compile(property)?) {
                    Answer::Disjoint => Ok(Outcome::Proved),
                    Answer::Unknown(reason) => Ok(Outcome::Unknown { reason }),
                    Answer::Overlap(env) => {
                        let (scenario, resource) = counterexample::scenario_of(&env, self.project, &self.literals.identities, &read)?;
                        let claim = Claim {
                            holds: vec![resource],
                            also: Some(property),
                        };
                        self.failure(scenario, &claim)
                    }
                }
            }
            Query::Sod { rule, fixed, other } => {
                let first = self.fixed_resource_policies(fixed)?;
                let (a, b, read) = match other {
                    Other::Entitlement(e2) => {
                        let second = self.fixed_resource_policies(e2)?;
                        let mut read = Literals::of(first.policies());
                        read.extend(&Literals::of(second.policies()));
                        let a = self.assumed(first, &read, false)?;
                        (self.compile(&a)?, self.compile(&second)?, read)
                    }
                    Other::Side(index) => {
                        let side = rule.sides.get(*index).ok_or("no such side")?;
                        let restrict = forbid_unless(OTHER_SIDE, &resource_in(side))?;
                        let read = Literals::of(first.policies());
                        let b = self.assumed_merged(Some(restrict), &read)?;
                        let mut all = read;
                        all.extend(&self.merged_footprint);
                        (self.compile(&first)?, b, all)
                    }
                };
                match session.overlap(&a, &b) {
                    Answer::Disjoint => Ok(Outcome::Proved),
                    Answer::Unknown(reason) => Ok(Outcome::Unknown { reason }),
                    Answer::Overlap(env) => {
                        let (scenario, resource) = counterexample::scenario_of(&env, self.project, &self.literals.identities, &read)?;
                        let second = match other {
                            Other::Entitlement(e2) => e2.clone(),
                            Other::Side(_) => resource,
                        };
                        let mut holds = vec![fixed.clone()];
                        if second != *fixed {
                            holds.push(second);
                        }
                        self.failure(scenario, &Claim { holds, also: None })
                    }
                }
            }
        }
    }

    /// The merged policies as they decide for the one entitlement `fixed`
    /// (role permits that cannot grant it left out), plus what the catalog
    /// says of it: the set answers every request as the merged set answers
    /// the request for `fixed`.
    fn fixed_resource_policies(&self, fixed: &str) -> Result<PolicySet, String> {
        let p = self.project;
        let mut set = PolicySet::new();
        for policy in p.compiled.policies.policies() {
            let id = policy.id().to_string();
            let relevant = match p.compiled.info.get(&id).map(|i| &i.origin) {
                Some(PolicyOrigin::Role(role)) => p.graph.role_grants.get(role).is_some_and(|g| g.contains_key(fixed)),
                _ => true,
            };
            if relevant {
                set.add(rewrite::fix_resource(policy, fixed, &id)?).map_err(|e| e.to_string())?;
            }
        }
        let named = Literals::of(set.policies());
        let facts = assume::literal_facts(fixed, &p.defs, &p.graph, &named);
        set.add(forbid_unless(ASSUME_LITERAL, &facts)?).map_err(|e| e.to_string())?;
        Ok(set)
    }

    /// A confirmed, minimal counterexample, or why the model does not reproduce.
    fn failure(&self, scenario: Scenario, claim: &Claim<'_>) -> Result<Outcome, String> {
        counterexample::confirm(self.project, &scenario, claim)
            .map_err(|why| format!("the solver's counterexample does not reproduce ({why})"))?;
        let small = counterexample::minimise(self.project, scenario, claim);
        let because = counterexample::confirm(self.project, &small, claim)?;
        let mut entitlements = claim.holds.clone();
        entitlements.sort();
        Ok(Outcome::Failed {
            counterexample: Box::new(Counterexample {
                identities: std::iter::once(small.subject).chain(small.owner).collect(),
                entitlements,
                as_of: small.at,
                because,
            }),
        })
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
            .role_probes
            .policy(&PolicyId::new(role_policy_id(role)))
            .cloned()
            .ok_or_else(|| format!("role `{role}` has no probe policy"))
    }

    /// A policy that permits every well-formed request, for the footprint of `policies`.
    fn well_formed(&self, footprint: &Literals, catalog: bool) -> Result<Policy, String> {
        let mut text = format!(
            "@id(\"{ASSUME_IDENTITY}\")\npermit (principal, action, resource)\nwhen {{ {} }}",
            self.identity(footprint)
        );
        if catalog {
            text.push_str(&format!("\nwhen {{ {} }}", self.catalog(footprint)));
        }
        text.push(';');
        parse_policy(&text)
    }

    /// The roles an identity state holds, as the oracle decides them (each role's probe policy).
    fn roles_held(&self, scenario: &Scenario) -> BTreeSet<String> {
        let p = self.project;
        let defs = &p.defs;
        // Only a witness the feed reader would accept says anything about the roles.
        let readable = std::iter::once(&scenario.subject)
            .chain(&scenario.owner)
            .all(|r| IdentityState::from_json(&r.to_json(), defs).is_ok());
        if !readable {
            return BTreeSet::new();
        }
        let mut extra = Vec::new();
        if let Ok(e) = crate::eval::cedar_io::identity_entity(defs, &scenario.subject, scenario.at, scenario.owner.is_some()) {
            extra.push(e);
        }
        if let Some(o) = &scenario.owner {
            if let Ok(e) = crate::eval::cedar_io::identity_entity(defs, o, scenario.at, false) {
                extra.push(e);
            }
        }
        let (Ok(entities), Ok(context)) = (
            p.compiled.entities.clone().add_entities(extra, None),
            crate::eval::cedar_io::context_at(scenario.at),
        ) else {
            return BTreeSet::new();
        };
        let any = defs.entitlements.keys().next().map_or("entitle:probe", String::as_str);
        let Ok(request) = crate::eval::cedar_io::hold_request(&scenario.subject.id, any, context) else {
            return BTreeSet::new();
        };
        let response = Authorizer::new().is_authorized(&request, &p.compiled.role_probes, &entities);
        response
            .diagnostics()
            .reason()
            .filter_map(|id| match p.compiled.info.get(id.to_string().as_str()).map(|i| &i.origin) {
                Some(PolicyOrigin::Role(role)) => Some(role.clone()),
                _ => None,
            })
            .collect()
    }

    /// Roles no well-formed identity state holds, reported in `out`; the
    /// roles known to be held, and the witnesses found on the way.
    fn dead_roles(&self, config: &SolverConfig, jobs: usize, out: &mut Vec<Diagnostic>) -> Result<Liveness, ProveError> {
        let defs = &self.project.defs;
        let roles: Vec<&String> = defs.roles.keys().collect();
        let witnessed: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
        let witnesses: Mutex<Vec<BTreeSet<String>>> = Mutex::new(Vec::new());
        let answers = solver::in_parallel(config, jobs, &roles, |session, role| -> Result<bool, String> {
            // A role some earlier witness holds is alive: no query needed.
            if witnessed.lock().is_ok_and(|w| w.contains(role.as_str())) {
                return Ok(true);
            }
            let probe = self.probe(role)?;
            let footprint = Literals::of([&probe]);
            let world = set_of([self.well_formed(&footprint, false)?])?;
            match session.overlap(&self.compile(&set_of([probe])?)?, &self.compile(&world)?) {
                Answer::Disjoint => Ok(false),
                Answer::Unknown(why) => Err(why),
                Answer::Overlap(env) => {
                    if let Ok((scenario, _)) = counterexample::scenario_of(&env, self.project, &self.literals.identities, &footprint) {
                        let held = self.roles_held(&scenario);
                        if let Ok(mut w) = witnessed.lock() {
                            w.extend(held.iter().cloned());
                        }
                        if let Ok(mut w) = witnesses.lock() {
                            w.push(held);
                        }
                    }
                    Ok(true)
                }
            }
        })?;
        let mut alive = BTreeSet::new();
        for (role, answer) in roles.iter().zip(answers) {
            let Some(r) = defs.roles.get(*role) else { continue };
            match answer {
                Ok(true) => {
                    alive.insert(role.to_string());
                }
                Ok(false) => out.push(
                    Diagnostic::new(
                        Code::DeadRole,
                        r.source.clone(),
                        format!("role `{role}` can never be held: no identity state the feed can produce satisfies its condition"),
                    )
                    .with_help(
                        "check its `when` and `kinds` against the identity schema (enum values, attributes that apply only to some kinds)",
                    ),
                ),
                Err(why) => out.push(Diagnostic::new(
                    Code::ProofUnknown,
                    r.source.clone(),
                    format!("could not decide whether role `{role}` can ever be held: {why}"),
                )),
            }
        }
        Ok(Liveness {
            alive,
            witnesses: witnesses.into_inner().unwrap_or_default(),
        })
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
                // A witness that holds `r` but not `s` settles it without the solver.
                if liveness.witnesses.iter().any(|w| w.contains(r.as_str()) && !w.contains(*s)) {
                    continue;
                }
                pairs.push((r.clone(), s.to_string()));
            }
        }
        let answers = solver::in_parallel(config, jobs, &pairs, |session, (r, s)| -> Result<bool, String> {
            let (probe_r, probe_s) = (self.probe(r)?, self.probe(s)?);
            let footprint = Literals::of([&probe_r, &probe_s]);
            let not_s = rewrite::with_effect(&probe_s, "forbid", "entitle:not-held")?;
            let rest = set_of([self.well_formed(&footprint, false)?, not_s])?;
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
            let as_permit = rewrite::with_effect(g, "permit", "entitle:guardrail")?;
            let world = set_of([self.well_formed(&Literals::of([*g]), true)?])?;
            match session.overlap(&self.compile(&set_of([as_permit])?)?, &self.compile(&world)?) {
                Answer::Disjoint => Ok(true),
                Answer::Overlap(_) => Ok(false),
                Answer::Unknown(why) => Err(why),
            }
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

/// A policy that permits exactly the requests for the entitlements of an SoD side.
fn side_policy(side: &[GrantRef]) -> Result<Policy, String> {
    parse_policy(&format!(
        "@id(\"{OTHER_SIDE}\")\npermit (principal, action, resource)\nwhen {{ {} }};",
        resource_in(side)
    ))
}
