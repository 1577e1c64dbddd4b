//! The roles and guardrails as Rego: a module and its data document that
//! answer what the Cedar oracle answers, so entitle can be measured against
//! a Rego engine (OPA, regorus) on the same organisation (`benches/peers.rs`).
//!
//! What is written ([`write`]):
//! - `rego/entitle.rego` (package `entitle`): one rule per role — its kinds,
//!   for an assignable role a valid assignment, its `when` in the condition
//!   language — then the grant closures, one rule per guardrail asked of every
//!   candidate entitlement, and `result` (`roles`, `entitlements`, and
//!   `forbids`: each forbidden candidate with the guardrail that forbids it);
//! - `rego/data.json` (`data.catalog`): each role's grant closure (through
//!   `extends` and nested packages), assignable roles with their
//!   `max_duration` and the roles an assignment makes one a member of, and
//!   the static entities (attributes and ancestors) the guardrails read.
//!
//! The input is one identity at one instant ([`input`]); dates are
//! milliseconds since the epoch. The semantics are those `compile::expr`
//! gives the condition language in Cedar — an absent attribute or an unknown
//! owner makes a comparison false — and Cedar's own for guardrails and
//! `cedar:` escape hatches, errors included (`cedar.rs`).
//!
//! Must never: write a rule that means something other than its Cedar
//! policy. What it cannot translate exactly (see `cedar.rs` for what it
//! covers) it leaves out and lists in [`RegoPolicy::omitted`]; a comparison
//! must refuse to compare when anything is.

mod body;
mod cedar;

use std::collections::BTreeMap;
use std::str::FromStr;

use serde_json::{json, Map, Value as Json};

use crate::compile::PolicyOrigin;
use crate::model::{AttrTest, AttrType, CmpOp, Condition, Literal, Subject};
use crate::project::Project;
use crate::state::{AttrValue, IdentityState};
use crate::time::Instant;

use body::{rule, Helpers, Pred};
use cedar::{Translator, Uses};

/// Where `entitle gen` writes the module, relative to its output directory.
pub const MODULE_FILE: &str = "rego/entitle.rego";
/// Where `entitle gen` writes the data document.
pub const DATA_FILE: &str = "rego/data.json";
/// The rule to evaluate: `{"roles": [...], "entitlements": [...], "forbids": [[entitlement, guardrail], ...]}`.
pub const RESULT_RULE: &str = "data.entitle.result";

/// The Rego form of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoPolicy {
    /// The module text (`rego/entitle.rego`).
    pub module: String,
    /// The data document, JSON (`rego/data.json`).
    pub data: String,
    /// Roles and guardrails left out because they use Cedar the translation
    /// does not cover (their answers would differ): empty for an exact module.
    pub omitted: Vec<Omission>,
}

/// A role or guardrail the Rego module leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Omission {
    /// A role or a guardrail.
    pub kind: OmittedKind,
    /// Its id (a role id, or a guardrail's `@id`).
    pub id: String,
    /// What it uses that Rego is not given.
    pub reason: String,
}

/// What was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OmittedKind {
    /// A role (its rule is not written: nobody holds it in Rego).
    Role,
    /// A guardrail (its rule is not written: it forbids nothing in Rego).
    Guardrail,
    /// An approved exception (not translated: it permits nothing in Rego).
    Exception,
}

/// A Rego string literal (JSON's escapes, which Rego shares).
fn rego_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The Rego term of an entity uid: `{"type": T, "id": id}`, with `id` a
/// literal (`literal`) or a Rego term.
fn uid_term(ty: &str, id: &str, literal: bool) -> String {
    let id = if literal { rego_str(id) } else { id.to_string() };
    format!("{{\"type\": {}, \"id\": {id}}}", rego_str(ty))
}

fn uid_json(ty: &str, id: &str) -> Json {
    json!({"type": ty, "id": id})
}

/// The input document for one identity at `at`: `identity` and, when its
/// owner's record is known, `owner` (each with `id`, `kind`, `owner`,
/// `attributes` and `assignments`), and `now`. Dates are milliseconds since
/// the epoch; sets are sorted arrays.
pub fn input(identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Json {
    let mut out = Map::new();
    out.insert("identity".into(), identity_json(identity));
    if let Some(o) = owner {
        out.insert("owner".into(), identity_json(o));
    }
    out.insert("now".into(), json!(at.0));
    Json::Object(out)
}

fn identity_json(s: &IdentityState) -> Json {
    let attributes: Map<String, Json> = s
        .attributes
        .iter()
        .map(|(name, value)| {
            let v = match value {
                AttrValue::Str(t) => json!(&**t),
                AttrValue::Int(n) => json!(n),
                AttrValue::Bool(b) => json!(b),
                AttrValue::Date(t) => json!(t.0),
                AttrValue::Set(items) => Json::Array(items.iter().map(|m| json!(&**m)).collect()),
            };
            (name.to_string(), v)
        })
        .collect();
    let assignments: Vec<Json> = s
        .assignments
        .iter()
        .map(|a| {
            let mut m = Map::new();
            m.insert("role".into(), json!(a.role));
            m.insert("starts".into(), json!(a.starts.0));
            if let Some(e) = a.expires {
                m.insert("expires".into(), json!(e.0));
            }
            Json::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("id".into(), json!(s.id));
    m.insert("kind".into(), json!(&*s.kind));
    if let Some(o) = &s.owner {
        m.insert("owner".into(), json!(o));
    }
    m.insert("attributes".into(), Json::Object(attributes));
    m.insert("assignments".into(), Json::Array(assignments));
    Json::Object(m)
}

/// Writes the Rego module and data document of a project (deterministic:
/// the same project gives the same bytes).
pub fn write(project: &Project) -> RegoPolicy {
    let defs = &project.defs;
    let mut helpers = Helpers::default();
    let mut uses = Uses::default();
    let mut omitted = Vec::new();

    let mut roles_text = String::new();
    let mut member_roles_used = false;
    for role in defs.roles.values() {
        let mut parts = Vec::new();
        if !defs.identity.kinds.iter().all(|k| role.kinds.contains(k)) {
            parts.push(kind_test("input.identity", &role.kinds));
        }
        if role.assignable {
            member_roles_used = true;
            parts.push(Pred::stmt(format!("{} in member_roles", rego_str(&role.id))));
        }
        let mut conditions = Conditions {
            defs,
            helpers: &mut helpers,
            uses: &mut uses,
        };
        let when = match conditions.truth(&role.when) {
            Ok(p) => p,
            Err(cedar::Unsupported(reason)) => {
                omitted.push(Omission {
                    kind: OmittedKind::Role,
                    id: role.id.clone(),
                    reason,
                });
                continue;
            }
        };
        parts.push(when);
        let holds = helpers.all(parts);
        roles_text.push_str(&format!(
            "# {} ({})\n",
            rego_comment(&role.id),
            rego_comment(&role.source.file_line())
        ));
        if holds.is_never() {
            roles_text.push_str("# (never held)\n\n");
            continue;
        }
        for body in &holds.0 {
            roles_text.push_str(&rule(&format!("roles contains {}", rego_str(&role.id)), body));
        }
        roles_text.push('\n');
    }

    // Approved exceptions are not translated (yet): listed, so the module says it.
    for exception in defs.exceptions.values() {
        omitted.push(Omission {
            kind: OmittedKind::Exception,
            id: exception.id.clone(),
            reason: "approved exceptions are not translated to Rego".into(),
        });
    }

    // Guardrails: every hand-written policy, asked of each candidate.
    let mut forbids_text = String::new();
    let mut permits_text = String::new();
    let mut permits = false;
    helpers.param = Some("res");
    for policy in project.compiled.policies.policies() {
        let id = policy.id().to_string();
        let Some(info) = project.compiled.info.get(&id) else { continue };
        if info.origin != PolicyOrigin::Guardrail {
            continue;
        }
        let translated = match policy.to_json() {
            Ok(json) => Translator {
                defs,
                helpers: &mut helpers,
                resource: true,
                uses: &mut uses,
            }
            .policy(&json),
            Err(e) => Err(cedar::Unsupported(format!("its JSON form: {e}"))),
        };
        let holds = match translated {
            Ok(p) => p,
            Err(cedar::Unsupported(reason)) => {
                omitted.push(Omission {
                    kind: OmittedKind::Guardrail,
                    id,
                    reason,
                });
                continue;
            }
        };
        let header = format!("# {} ({})\n", rego_comment(&id), rego_comment(&info.source.file_line()));
        if info.forbid {
            forbids_text.push_str(&header);
            for body in &holds.0 {
                let mut b = vec!["some res in candidates".to_string()];
                b.extend(body.iter().cloned());
                forbids_text.push_str(&rule(&format!("forbids contains [res, {}]", rego_str(&id)), &b));
            }
            forbids_text.push('\n');
        } else {
            permits = true;
            permits_text.push_str(&header);
            for body in &holds.0 {
                let mut b = vec!["some res, _ in data.catalog.entities.Entitlement".to_string()];
                b.extend(body.iter().cloned());
                permits_text.push_str(&rule("permitted contains res", &b));
            }
            permits_text.push('\n');
        }
    }
    omitted.sort_by(|a, b| (a.kind as u8, &a.id).cmp(&(b.kind as u8, &b.id)));

    let mut m = String::new();
    m.push_str(HEADER);
    if !omitted.is_empty() {
        m.push_str("#\n# Left out (Cedar this translation does not cover; their answers would differ):\n");
        for o in &omitted {
            let kind = match o.kind {
                OmittedKind::Role => "role",
                OmittedKind::Guardrail => "guardrail",
                OmittedKind::Exception => "exception",
            };
            m.push_str(&format!("#   {kind} {}: {}\n", rego_comment(&o.id), rego_comment(&o.reason)));
        }
    }
    m.push_str("\npackage entitle\n\nimport rego.v1\n\n");
    m.push_str(PRELUDE);
    if member_roles_used || uses.principal_in {
        m.push_str(&members("member_roles", "input.identity"));
    }
    if uses.principal_in {
        m.push_str("principal_in := { {\"type\": \"Role\", \"id\": r} | some r in member_roles }\n\n");
    }
    if uses.owner_in {
        m.push_str(&members("owner_member_roles", "input.owner"));
        m.push_str("owner_in := { {\"type\": \"Role\", \"id\": r} | some r in owner_member_roles }\n\n");
    }
    if uses.principal_uid {
        m.push_str("principal_uid := {\"type\": \"Identity\", \"id\": input.identity.id}\n\n");
    }
    if uses.owner_uid {
        m.push_str("# Only when the owner's record is known (Cedar: an unknown owner is no owner).\nowner_uid := {\"type\": \"Identity\", \"id\": input.owner.id}\n\n");
    }
    m.push_str("# --- Roles ---\n\n");
    if roles_text.contains("roles contains") {
        m.push_str(&roles_text);
    } else {
        m.push_str(&roles_text);
        m.push_str("roles := set()\n\n");
    }
    m.push_str("# --- What the roles grant ---\n\n");
    m.push_str("granted contains e if {\n\tsome r in roles\n\tsome e in data.catalog.grants[r]\n}\n\n");
    if permits {
        m.push_str("# --- Hand-written permits, asked of every catalog entitlement ---\n\n");
        m.push_str(&permits_text);
        m.push_str("candidates := granted | permitted\n\n");
    } else {
        m.push_str("candidates := granted\n\n");
    }
    m.push_str("# --- Guardrails, asked of every candidate ---\n\n");
    if forbids_text.contains("forbids contains") {
        m.push_str(&forbids_text);
    } else {
        m.push_str(&forbids_text);
        m.push_str("forbids := set()\n\n");
    }
    m.push_str(RESULT);
    if !helpers.rules.is_empty() {
        m.push_str("\n# --- Helpers (alternatives and negations of the conditions above) ---\n\n");
        for r in &helpers.rules {
            m.push_str(r);
            m.push('\n');
        }
    }

    RegoPolicy {
        module: m,
        data: data(project),
        omitted,
    }
}

const HEADER: &str = "# Generated by entitle from the role definitions and guardrails: do not edit.
#
# The roles and guardrails as Rego, answering what the compiled Cedar policies
# answer: evaluate `data.entitle.result` with data.json beside this file and
# an input of one identity at one instant:
#
#   {\"identity\": IDENTITY, \"owner\": IDENTITY (only when its record is known), \"now\": MS}
#   IDENTITY: {\"id\", \"kind\", \"owner\", \"attributes\": {NAME: VALUE},
#              \"assignments\": [{\"role\", \"starts\": MS, \"expires\": MS}]}
#
# Dates are milliseconds since the epoch; sets are arrays. An absent attribute
# or an unknown owner makes a comparison false, as in Cedar.
";

const PRELUDE: &str = "# An assignment is valid at `now` when it has started, has not expired,
# and is within its role's max_duration (which needs an expiry).
valid_assignment(a) if {
\trole := data.catalog.assignable[a.role]
\twithin_max_duration(a, role)
\ta.starts <= input.now
\tnot expired(a)
}

within_max_duration(_, role) if not role.max_duration

within_max_duration(a, role) if a.expires - a.starts <= role.max_duration

expired(a) if input.now >= a.expires

intersects(xs, ys) if {
\tsome x in xs
\tx in ys
}

";

const RESULT: &str = "# --- The answer ---

forbidden := {p[0] | some p in forbids}

entitlements := candidates - forbidden

result := {\"roles\": roles, \"entitlements\": entitlements, \"forbids\": forbids}
";

/// The roles a valid assignment makes `who` a member of (the role and every
/// role it extends: Cedar's `in`).
fn members(name: &str, who: &str) -> String {
    format!("{name} contains r if {{\n\tsome a in {who}.assignments\n\tvalid_assignment(a)\n\tsome r in data.catalog.assignable[a.role].member_of\n}}\n\n")
}

/// A comment-safe rendering of a user string (no line breaks).
fn rego_comment(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn kind_test(doc: &str, kinds: &[String]) -> Pred {
    match kinds {
        [] => Pred::never(),
        [one] => Pred::stmt(format!("{doc}.kind == {}", rego_str(one))),
        many => Pred::stmt(format!(
            "{doc}.kind in {{{}}}",
            many.iter().map(|k| rego_str(k)).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The condition language → predicates, with the semantics `compile::expr`
/// gives it in Cedar. Only `cedar:` escape hatches can err; wherever one
/// can, `T` and `F` are kept apart (an error is neither).
struct Conditions<'a> {
    defs: &'a crate::model::Definitions,
    helpers: &'a mut Helpers,
    uses: &'a mut Uses,
}

fn may_err(c: &Condition) -> bool {
    match c {
        Condition::All(items) | Condition::Any(items) => items.iter().any(may_err),
        Condition::Not(inner) => may_err(inner),
        Condition::Cedar { .. } => true,
        Condition::Kind { .. } | Condition::Attr { .. } => false,
    }
}

impl Conditions<'_> {
    fn truth(&mut self, c: &Condition) -> Result<Pred, cedar::Unsupported> {
        self.eval(c, true)
    }

    fn eval(&mut self, c: &Condition, want: bool) -> Result<Pred, cedar::Unsupported> {
        if !want && !may_err(c) {
            let t = self.eval(c, true)?;
            return Ok(self.helpers.not(t));
        }
        match c {
            Condition::All(items) | Condition::Any(items) => {
                // `all` is Cedar's `&&`, `any` its `||`, left to right.
                let short = matches!(c, Condition::Any(_));
                if want != short {
                    let parts = items.iter().map(|i| self.eval(i, want)).collect::<Result<Vec<_>, _>>()?;
                    return Ok(self.helpers.all(parts));
                }
                // T(any[a, ..rest]) = T(a) ∨ (F(a) ∧ T(any rest)); dually F(all).
                let mut out = Pred::never();
                // (An item that cannot err needs no F(a): T(a) ∨ T(rest) is the same.)
                for item in items.iter().rev() {
                    let decided = self.eval(item, want)?;
                    let rest = if may_err(item) {
                        let passed = self.eval(item, !want)?;
                        self.helpers.and(passed, out)
                    } else {
                        out
                    };
                    out = Helpers::or(decided, rest);
                }
                Ok(out)
            }
            Condition::Not(inner) => self.eval(inner, !want),
            Condition::Cedar { expr, .. } => {
                let text = format!("permit (principal, action, resource) when {{ ({expr}) }};");
                let json = cedar_policy::Policy::from_str(&text)
                    .ok()
                    .and_then(|p| p.to_json().ok())
                    .and_then(|j| j.get("conditions").and_then(|c| c.get(0)).and_then(|c| c.get("body")).cloned())
                    .ok_or_else(|| cedar::Unsupported("an escape hatch that does not parse".into()))?;
                let mut t = Translator {
                    defs: self.defs,
                    helpers: self.helpers,
                    resource: false,
                    uses: self.uses,
                };
                if want {
                    t.truth(&json)
                } else {
                    t.falsity(&json)
                }
            }
            Condition::Kind { subject, kinds, .. } => Ok(kind_test(doc(*subject), kinds)),
            Condition::Attr {
                subject, attr, ty, test, ..
            } => Ok(self.attr(*subject, attr, ty, test)),
        }
    }

    fn attr(&mut self, subject: Subject, attr: &str, ty: &AttrType, test: &AttrTest) -> Pred {
        let base = format!("{}.attributes[{}]", doc(subject), rego_str(attr));
        let is_set = matches!(ty, AttrType::Set);
        let lits = |ls: &[Literal]| format!("{{{}}}", ls.iter().map(literal).collect::<Vec<_>>().join(", "));
        match test {
            AttrTest::Exists(true) => Pred::stmt(format!("{base} != null")),
            AttrTest::Exists(false) => match subject {
                Subject::Identity => Pred::stmt(format!("not {base} != null")),
                Subject::Owner => Pred::body(vec!["input.owner.kind != null".into(), format!("not {base} != null")]),
            },
            AttrTest::Eq(l) | AttrTest::Contains(l) if is_set => Pred::stmt(format!("{} in {base}", literal(l))),
            AttrTest::Eq(l) => Pred::stmt(format!("{base} == {}", literal(l))),
            AttrTest::Contains(l) => Pred::stmt(format!("{} in {base}", literal(l))),
            AttrTest::In(ls) if ls.is_empty() => Pred::never(),
            AttrTest::NotIn(ls) if ls.is_empty() => Pred::stmt(format!("{base} != null")),
            AttrTest::In(ls) if is_set => {
                let v = self.helpers.var();
                Pred::body(vec![format!("{v} := {base}"), format!("intersects({v}, {})", lits(ls))])
            }
            AttrTest::In(ls) => Pred::stmt(format!("{base} in {}", lits(ls))),
            AttrTest::NotIn(ls) => {
                let v = self.helpers.var();
                let test = if is_set {
                    format!("not intersects({v}, {})", lits(ls))
                } else {
                    format!("not {v} in {}", lits(ls))
                };
                Pred::body(vec![format!("{v} := {base}"), test])
            }
            AttrTest::Not(l) if is_set => {
                let v = self.helpers.var();
                Pred::body(vec![format!("{v} := {base}"), format!("not {} in {v}", literal(l))])
            }
            AttrTest::Not(l) => Pred::stmt(format!("{base} != {}", literal(l))),
            AttrTest::Matches(glob) => {
                let v = self.helpers.var();
                let test = cedar::like(&v, &glob_pattern(glob));
                self.helpers.and(Pred::body(vec![format!("{v} := {base}")]), test)
            }
            AttrTest::Cmp(op, l) => {
                let op = match op {
                    CmpOp::Gt => ">",
                    CmpOp::Gte => ">=",
                    CmpOp::Lt => "<",
                    CmpOp::Lte => "<=",
                };
                Pred::stmt(format!("{base} {op} {}", literal(l)))
            }
        }
    }
}

/// A glob as the pattern elements of Cedar's JSON form.
fn glob_pattern(glob: &str) -> Vec<Json> {
    let mut out = Vec::new();
    let mut run = String::new();
    for c in glob.chars() {
        if c == '*' {
            if !run.is_empty() {
                out.push(json!({"Literal": std::mem::take(&mut run)}));
            }
            out.push(json!("Wildcard"));
        } else {
            run.push(c);
        }
    }
    if !run.is_empty() {
        out.push(json!({"Literal": run}));
    }
    out
}

fn doc(subject: Subject) -> &'static str {
    match subject {
        Subject::Identity => "input.identity",
        Subject::Owner => "input.owner",
    }
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Str(s) => rego_str(s),
        Literal::Int(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Date(t) => t.0.to_string(),
        Literal::Now => "input.now".into(),
    }
}

/// `data.catalog`: grant closures, assignable roles, static entities.
fn data(project: &Project) -> String {
    let defs = &project.defs;
    let graph = &project.graph;
    let mut grants = Map::new();
    for (role, closure) in &graph.role_grants {
        if !closure.is_empty() {
            grants.insert(role.clone(), Json::Array(closure.keys().map(|e| json!(e)).collect()));
        }
    }
    let mut assignable = Map::new();
    for role in defs.roles.values().filter(|r| r.assignable) {
        let mut member_of = vec![json!(role.id)];
        member_of.extend(graph.role_ancestors.get(&role.id).into_iter().flatten().map(|r| json!(r)));
        let mut m = Map::new();
        if let Some(d) = role.max_duration {
            m.insert("max_duration".into(), json!(d.0));
        }
        m.insert("member_of".into(), Json::Array(member_of));
        assignable.insert(role.id.clone(), Json::Object(m));
    }
    let entity = |attrs: Json, ancestors: Vec<Json>| json!({"attrs": attrs, "in": ancestors});
    let mut entities: BTreeMap<&str, Map<String, Json>> = BTreeMap::new();
    for id in defs.applications.keys() {
        entities
            .entry("Application")
            .or_default()
            .insert(id.clone(), entity(json!({}), Vec::new()));
    }
    let mut nested_in: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, pkg) in &defs.packages {
        for nested in &pkg.packages {
            nested_in.entry(nested).or_default().push(id);
        }
    }
    let package_ancestors = |p: &str| -> Vec<Json> {
        // A package is in every package that nests it, transitively (a DAG).
        let mut out = std::collections::BTreeSet::new();
        let mut stack = vec![p];
        while let Some(next) = stack.pop() {
            for parent in nested_in.get(next).into_iter().flatten() {
                if out.insert(*parent) {
                    stack.push(parent);
                }
            }
        }
        out.into_iter().map(|id| uid_json("Package", id)).collect()
    };
    for id in defs.packages.keys() {
        entities
            .entry("Package")
            .or_default()
            .insert(id.clone(), entity(json!({}), package_ancestors(id)));
    }
    for (id, e) in &defs.entitlements {
        let mut ancestors: Vec<Json> = graph
            .entitlement_packages
            .get(id)
            .into_iter()
            .flatten()
            .map(|p| uid_json("Package", p))
            .collect();
        ancestors.push(uid_json("Application", &e.application));
        let attrs = json!({"application": uid_json("Application", &e.application), "privileged": e.privileged});
        entities
            .entry("Entitlement")
            .or_default()
            .insert(id.clone(), entity(attrs, ancestors));
    }
    for id in defs.roles.keys() {
        let ancestors = graph
            .role_ancestors
            .get(id)
            .into_iter()
            .flatten()
            .map(|r| uid_json("Role", r))
            .collect();
        entities.entry("Role").or_default().insert(id.clone(), entity(json!({}), ancestors));
    }
    let entities: Map<String, Json> = entities.into_iter().map(|(k, v)| (k.to_string(), Json::Object(v))).collect();
    let catalog = json!({"catalog": {"grants": grants, "assignable": assignable, "entities": entities}});
    let mut text = serde_json::to_string(&catalog).unwrap_or_default();
    text.push('\n');
    text
}
