//! The world the solver ranges over: the identity states a feed can produce,
//! the instants `--as-of` can name, and the catalog as it is.
//!
//! Cedar's symbolic compiler ranges over *every* entity store the schema
//! allows: any attribute values, any role membership, any package hierarchy.
//! Most of those stores are ones entitle never builds, and a proof over them
//! is wrong in both directions (a leaver "holds" an entitlement through a
//! package the catalog never put it in; an invariant "fails" for a `status`
//! outside its enum). This module writes down, as Cedar expressions the solver
//! must assume, what today lives in Rust (the feed reader, `state.rs`, and the
//! compiler, `compile/`):
//!
//! - **identities** ([`identity_assumption`]): the kind is a declared kind;
//!   enum attributes take declared values; text is never empty (the reader
//!   drops blank text); per-kind attributes appear only on
//!   their kinds and required ones are present; dates lie in the years
//!   0000–9999 `Instant` reads; an identity is `in` a role only through an
//!   assignment to an assignable role (and then in every role it extends), and
//!   not in a role with `max_duration` at the last representable instant (no
//!   assignment could still run then); the owner is another identity whose own
//!   record is loaded without an owner of its own (as the oracle builds it),
//!   and it is well-formed too;
//! - **the instant**: `context.now` lies in the same years;
//! - **the catalog** ([`catalog_facts`]): the resource is in each package and
//!   application the policies name exactly when the catalog puts it there
//!   (transitively), `privileged` and `application` are the catalog's, and so
//!   for every entitlement a policy names by literal.
//!
//! The proof schema ([`proof_schema_text`]) is the generated schema with
//! `Role`, `Package` and `Application` as enumerated types: their hierarchy is
//! fixed by the definitions, so the solver need not reason about it (the
//! facts above state what policies can observe of it). A policy that asks the
//! hierarchy directly (`Role::"a" in Role::"b"`) is outside this model:
//! [`unsupported`] says so and the proofs report `unknown`.
//!
//! Invariant: every assumption holds of every request the oracle can make
//! (an identity the feed reader accepts, its loaded owner, a catalog
//! entitlement, an instant `--as-of` reads). Assuming more would prove false
//! things; the tests feed every counterexample back through the reader and
//! the oracle, which catches assuming less.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::compile::expr::{entity_ref, string_lit};
use crate::graph::RoleGraph;
use crate::model::{AttrType, AttributeDef, Condition, Definitions, Role, Subject};

/// The first instant an identity record or `--as-of` can name (years are four digits).
pub const FIRST_INSTANT: &str = "0000-01-01";
/// The last instant an identity record or `--as-of` can name.
pub const LAST_INSTANT: &str = "9999-12-31T23:59:59.999Z";

/// What the policies of a query name and read: entity literals by type, and
/// the attributes they read of the identity and of its owner. Assumptions are
/// written for this footprint only: a constraint on something no policy of
/// the query reads cannot change its answer, and costs the solver time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Literals {
    /// `Role::"..."` ids.
    pub roles: BTreeSet<String>,
    /// `Package::"..."` ids.
    pub packages: BTreeSet<String>,
    /// `Application::"..."` ids.
    pub applications: BTreeSet<String>,
    /// `Entitlement::"..."` ids whose attributes or ancestors a policy asks
    /// (the left of `in`, `.` or `has`); as a value compared with `resource`,
    /// a literal needs no facts.
    pub entitlements: BTreeSet<String>,
    /// `Identity::"..."` ids.
    pub identities: BTreeSet<String>,
    /// Entitlement attributes some policy reads (`privileged`, `application`).
    pub resource_attributes: BTreeSet<String>,
    /// Attributes of `principal` some policy reads or tests (`owner` included).
    pub principal_attributes: BTreeSet<String>,
    /// Attributes of `principal.owner` some policy reads or tests.
    pub owner_attributes: BTreeSet<String>,
    /// Does some policy ask the owner's roles (`principal.owner in Role::"..."`)?
    pub owner_roles: bool,
}

impl Literals {
    /// Adds the literals of a policy in Cedar's JSON form.
    pub fn add(&mut self, policy_json: &Value) {
        walk(policy_json, &mut |v| {
            if let Some((ty, id)) = uid_of(v) {
                let set = match ty {
                    "Role" => &mut self.roles,
                    "Package" => &mut self.packages,
                    "Application" => &mut self.applications,
                    "Identity" => &mut self.identities,
                    _ => return,
                };
                set.insert(id.to_string());
            }
            for op in ["in", ".", "has"] {
                let left = v
                    .get(op)
                    .and_then(|x| x.get("left"))
                    .and_then(|l| l.get("Value"))
                    .and_then(|l| l.get("__entity"));
                if let Some(("Entitlement", id)) = left.and_then(uid_of) {
                    self.entitlements.insert(id.to_string());
                }
            }
            if let Some(attr) = v.get(".").and_then(|g| g.get("attr")).and_then(Value::as_str) {
                if matches!(attr, "privileged" | "application") {
                    self.resource_attributes.insert(attr.to_string());
                }
            }
            let is_owner = |x: &Value| {
                x.get(".").is_some_and(|l| {
                    l.get("attr").and_then(Value::as_str) == Some("owner") && l.get("left").is_some_and(|p| is_var(p, "principal"))
                })
            };
            if v.get("in").and_then(|i| i.get("left")).is_some_and(is_owner) {
                self.owner_roles = true;
            }
            for op in [".", "has"] {
                let Some(access) = v.get(op) else { continue };
                let (Some(left), Some(attr)) = (access.get("left"), access.get("attr").and_then(Value::as_str)) else {
                    continue;
                };
                if is_var(left, "principal") {
                    self.principal_attributes.insert(attr.to_string());
                } else if is_owner(left) {
                    self.owner_attributes.insert(attr.to_string());
                }
            }
        });
    }

    /// Does some policy read the identity's owner?
    pub fn reads_owner(&self) -> bool {
        self.principal_attributes.contains("owner")
    }

    /// Adds every literal of another set.
    pub fn extend(&mut self, other: &Literals) {
        self.roles.extend(other.roles.iter().cloned());
        self.packages.extend(other.packages.iter().cloned());
        self.applications.extend(other.applications.iter().cloned());
        self.entitlements.extend(other.entitlements.iter().cloned());
        self.identities.extend(other.identities.iter().cloned());
        self.resource_attributes.extend(other.resource_attributes.iter().cloned());
        self.principal_attributes.extend(other.principal_attributes.iter().cloned());
        self.owner_attributes.extend(other.owner_attributes.iter().cloned());
        self.owner_roles |= other.owner_roles;
    }

    /// The footprint of a set of policies (read from their JSON form).
    pub fn of<'a>(policies: impl IntoIterator<Item = &'a cedar_policy::Policy>) -> Literals {
        let mut out = Literals::default();
        for p in policies {
            if let Ok(json) = p.to_json() {
                out.add(&json);
            }
        }
        out
    }
}

/// What a role's probe policy (its condition, kinds and, when assignable, its
/// membership) reads, from the definition itself; `None` when the condition
/// has a `cedar:` escape hatch (then the policy text must be scanned).
pub fn role_footprint(role: &Role, declared_kinds: &[String]) -> Option<Literals> {
    fn walk(c: &Condition, out: &mut Literals) -> bool {
        let owner = |out: &mut Literals| {
            out.principal_attributes.insert("owner".into());
            // "The owner is known" is `principal.owner has kind`.
            out.owner_attributes.insert("kind".into());
        };
        match c {
            Condition::All(items) | Condition::Any(items) => items.iter().all(|i| walk(i, out)),
            Condition::Not(inner) => walk(inner, out),
            Condition::Cedar { .. } => false,
            Condition::Kind { subject, .. } | Condition::Attr { subject, .. } => {
                let attr = match c {
                    Condition::Attr { attr, .. } => attr.as_str(),
                    _ => "kind",
                };
                match subject {
                    Subject::Identity => {
                        out.principal_attributes.insert(attr.to_string());
                    }
                    Subject::Owner => {
                        owner(out);
                        out.owner_attributes.insert(attr.to_string());
                    }
                }
                true
            }
        }
    }
    let mut out = Literals::default();
    if !declared_kinds.iter().all(|k| role.kinds.contains(k)) {
        out.principal_attributes.insert("kind".into());
    }
    if role.assignable {
        out.roles.insert(role.id.clone());
    }
    walk(&role.when, &mut out).then_some(out)
}

fn is_var(v: &Value, name: &str) -> bool {
    v.get("Var").and_then(Value::as_str) == Some(name)
}

/// Calls `f` on every JSON value inside `v`, `v` included.
fn walk(v: &Value, f: &mut impl FnMut(&Value)) {
    f(v);
    match v {
        Value::Object(m) => m.values().for_each(|x| walk(x, f)),
        Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
        _ => {}
    }
}

/// `(type, id)` when `v` is an entity uid in Cedar's JSON policy form
/// (`{"type": "Role", "id": "x"}`, bare in scopes, under `__entity` in values).
fn uid_of(v: &Value) -> Option<(&str, &str)> {
    let m = v.as_object()?;
    if m.len() != 2 {
        return None;
    }
    Some((m.get("type")?.as_str()?, m.get("id")?.as_str()?))
}

/// Why a policy (JSON form) is outside the proof's model, if it is: it asks
/// the role or package hierarchy of a literal (which the proof schema leaves
/// out), or reads an attribute of an identity named by literal (which is not
/// in any request entitle makes: Cedar errors where the solver would read a
/// free record).
pub fn unsupported(policy_json: &Value) -> Option<String> {
    let mut reason = None;
    walk(policy_json, &mut |v| {
        if reason.is_some() {
            return;
        }
        let literal_left = |op: &str| {
            v.get(op)
                .and_then(|x| x.get("left"))
                .and_then(|l| l.get("Value"))
                .and_then(|l| l.get("__entity"))
                .and_then(uid_of)
        };
        if let Some((ty @ ("Role" | "Package"), id)) = literal_left("in") {
            reason = Some(format!(
                "it asks whether {} is in another entity, and proofs model the `{ty}` hierarchy only through identities and entitlements",
                entity_ref(ty, id)
            ));
        }
        for op in [".", "has"] {
            if let Some(("Identity", id)) = literal_left(op) {
                reason = Some(format!(
                    "it reads an attribute of {}, an identity no request of entitle carries",
                    entity_ref("Identity", id)
                ));
            }
        }
    });
    reason
}

/// The proof schema: the generated schema, with `Role`, `Package` and
/// `Application` enumerated (members: the defined ids and any literal the
/// policies name) and without a hierarchy of their own.
pub(crate) fn proof_schema_text(defs: &Definitions, literals: &Literals) -> Result<String, String> {
    fn enumerated<'a>(ty: &str, defined: impl Iterator<Item = &'a String>, named: &'a BTreeSet<String>) -> String {
        let members: BTreeSet<&String> = defined.chain(named).collect();
        if members.is_empty() {
            format!("entity {ty};\n")
        } else {
            let list: Vec<String> = members.iter().map(|m| string_lit(m)).collect();
            format!("entity {ty} enum [{}];\n", list.join(", "))
        }
    }
    let mut text = crate::compile::schema_text(defs);
    for (declared, replacement) in [
        (
            "entity Application;\n",
            enumerated("Application", defs.applications.keys(), &literals.applications),
        ),
        (
            "entity Package in [Package];\n",
            enumerated("Package", defs.packages.keys(), &literals.packages),
        ),
        ("entity Role in [Role];\n", enumerated("Role", defs.roles.keys(), &literals.roles)),
    ] {
        if !text.contains(declared) {
            return Err(format!("the generated schema no longer declares `{}`", declared.trim()));
        }
        text = text.replacen(declared, &replacement, 1);
    }
    Ok(text)
}

fn datetime(text: &str) -> String {
    format!("datetime({})", string_lit(text))
}

/// `items` joined by `op` as a balanced tree of parenthesised halves: the
/// symbolic compiler and its encoder recurse over (and compare) whole
/// subterms, so a flat chain of a hundred conjuncts, a hundred deep, costs
/// far more than the same chain `log2(n)` deep. (Same meaning: `&&` and `||`
/// are associative in Cedar.)
fn balanced(items: &[String], op: &str) -> String {
    match items {
        [one] => one.clone(),
        _ if items.len() <= 4 => format!("({})", items.join(op)),
        _ => {
            let (left, right) = items.split_at(items.len() / 2);
            format!("({}{op}{})", balanced(left, op), balanced(right, op))
        }
    }
}

fn any_of(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    if items.is_empty() {
        "false".into()
    } else {
        balanced(&items, " || ")
    }
}

fn all_of(items: Vec<String>) -> String {
    if items.is_empty() {
        "true".into()
    } else {
        balanced(&items, "\n  && ")
    }
}

/// `subject` is one of `kinds`.
fn kind_in(subject: &str, kinds: &[String]) -> String {
    any_of(kinds.iter().map(|k| format!("{subject}.kind == {}", string_lit(k))))
}

/// What the feed reader guarantees of one attribute of `subject`.
fn attribute_assumptions(subject: &str, attr: &AttributeDef, declared_kinds: &[String], out: &mut Vec<String>) {
    // Required attributes of every kind are not optional in the schema: no `has` guard.
    let always_present = attr.required && attr.kinds.is_none();
    let value = format!("{subject}.{}", attr.name);
    let mut facts = Vec::new();
    match &attr.ty {
        AttrType::Enum(values) => facts.push(any_of(values.iter().map(|v| format!("{value} == {}", string_lit(v))))),
        AttrType::Date => facts.push(format!(
            "({value} >= {} && {value} <= {})",
            datetime(FIRST_INSTANT),
            datetime(LAST_INSTANT)
        )),
        // The reader drops blank text (and blank set members): present text is never empty.
        AttrType::String => facts.push(format!("{value} != \"\"")),
        AttrType::Set => facts.push(format!("!{value}.contains(\"\")")),
        AttrType::Int | AttrType::Bool => {}
    }
    if let Some(kinds) = &attr.kinds {
        if !declared_kinds.iter().all(|k| kinds.contains(k)) {
            facts.push(kind_in(subject, kinds));
        }
        if attr.required {
            out.push(format!("(!{} || {subject} has {})", kind_in(subject, kinds), attr.name));
        }
    }
    if facts.is_empty() {
        return;
    }
    if always_present {
        out.extend(facts);
    } else {
        out.push(format!("(if {subject} has {} then {} else true)", attr.name, all_of(facts)));
    }
}

/// The roles the assumptions speak of for the role literals `named`: those,
/// and every assignable role that is one of them or extends one of them.
pub fn roles_named(defs: &Definitions, graph: &RoleGraph, named: &BTreeSet<String>) -> BTreeSet<String> {
    let mut closed = named.clone();
    for r in named {
        for member in graph.role_members.get(r).into_iter().flatten() {
            if defs.roles.get(member).is_some_and(|role| role.assignable) {
                closed.insert(member.clone());
            }
        }
    }
    closed
}

/// The roles an identity is `in`, as the feed and the hierarchy allow: for
/// every role the policies name, membership only through an assignable role
/// that is it or extends it; every assignable role brings its ancestors; no
/// role with `max_duration` at the last instant.
fn role_assumptions(subject: &str, defs: &Definitions, graph: &RoleGraph, named: &BTreeSet<String>, out: &mut Vec<String>) {
    let assignable = |r: &str| defs.roles.get(r).is_some_and(|role| role.assignable);
    let closed = roles_named(defs, graph, named);
    for r in &closed {
        let held = format!("{subject} in {}", entity_ref("Role", r));
        if assignable(r) {
            for ancestor in graph.role_ancestors.get(r).into_iter().flatten() {
                if closed.contains(ancestor) {
                    out.push(format!("(!({held}) || {subject} in {})", entity_ref("Role", ancestor)));
                }
            }
            if defs.roles.get(r).is_some_and(|role| role.max_duration.is_some()) {
                out.push(format!("(!({held}) || context.now < {})", datetime(LAST_INSTANT)));
            }
        } else {
            let through: Vec<String> = graph
                .role_members
                .get(r)
                .into_iter()
                .flatten()
                .filter(|m| assignable(m))
                .map(|m| entity_ref("Role", m))
                .collect();
            if through.is_empty() {
                out.push(format!("!({held})"));
            } else {
                out.push(format!("(!({held}) || {subject} in [{}])", through.join(", ")));
            }
        }
    }
}

/// Everything the feed reader and the oracle guarantee of the identity
/// `subject` (`principal` or `principal.owner`), as conjuncts: for its kind,
/// its required attributes and the attributes in `read`, and its roles.
fn identity_conjuncts(
    subject: &str,
    defs: &Definitions,
    graph: &RoleGraph,
    read: &BTreeSet<String>,
    named_roles: &BTreeSet<String>,
) -> Vec<String> {
    let mut out = vec![kind_in(subject, &defs.identity.kinds)];
    for attr in defs.identity.attributes.values() {
        if attr.required || read.contains(&attr.name) {
            attribute_assumptions(subject, attr, &defs.identity.kinds, &mut out);
        }
    }
    role_assumptions(subject, defs, graph, named_roles, &mut out);
    out
}

/// The well-formed identity states and instants, as one Cedar expression over
/// `principal` (with its owner) and `context`, for the footprint `literals`.
///
/// Attributes the footprint does not read are left free (except required
/// ones, which a record must carry): nothing the query asks depends on them,
/// and [`crate::prove::counterexample::scenario_of`] drops them from models.
/// Likewise the owner, when no policy of the query reads it.
pub fn identity_assumption(defs: &Definitions, graph: &RoleGraph, literals: &Literals) -> String {
    let mut conjuncts = vec![
        format!("context.now >= {}", datetime(FIRST_INSTANT)),
        format!("context.now <= {}", datetime(LAST_INSTANT)),
    ];
    conjuncts.extend(identity_conjuncts(
        "principal",
        defs,
        graph,
        &literals.principal_attributes,
        &literals.roles,
    ));
    if literals.reads_owner() {
        let mut owner = vec![
            "principal.owner != principal".to_string(),
            "!(principal.owner has owner)".to_string(),
        ];
        let owner_roles = if literals.owner_roles {
            literals.roles.clone()
        } else {
            BTreeSet::new()
        };
        owner.extend(identity_conjuncts(
            "principal.owner",
            defs,
            graph,
            &literals.owner_attributes,
            &owner_roles,
        ));
        conjuncts.push(format!("(if principal has owner then {} else true)", all_of(owner)));
    }
    all_of(conjuncts)
}

/// What the catalog says of every catalog entitlement the policies read by
/// literal (`resource` is one, once fixed to a class representative), as
/// constants: in which of the packages and applications they name it is
/// (transitively), whether it is privileged, its application.
pub fn catalog_facts(defs: &Definitions, graph: &RoleGraph, literals: &Literals) -> String {
    let mut out = Vec::new();
    for e in literals.entitlements.iter().filter_map(|e| defs.entitlements.get(e)) {
        let subject = entity_ref("Entitlement", &e.id);
        for p in &literals.packages {
            let member = graph.package_entitlements.get(p).is_some_and(|m| m.contains(&e.id));
            out.push(format!("(({subject} in {}) == {member})", entity_ref("Package", p)));
        }
        for a in &literals.applications {
            // An entitlement is in its own application, and in no other.
            let member = e.application == *a;
            out.push(format!("(({subject} in {}) == {member})", entity_ref("Application", a)));
            if literals.resource_attributes.contains("application") {
                out.push(format!("(({subject}.application == {}) == {member})", entity_ref("Application", a)));
            }
        }
        if literals.resource_attributes.contains("privileged") {
            out.push(format!("({subject}.privileged == {})", e.privileged));
        }
    }
    all_of(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::load_ok;

    #[test]
    fn literals_are_collected_from_scopes_and_values() {
        let policy: cedar_policy::Policy = r#"permit (principal in Role::"r", action, resource)
            when { resource in [Package::"p"] && resource.privileged && principal == Identity::"u" };"#
            .parse()
            .unwrap();
        let mut lits = Literals::default();
        lits.add(&policy.to_json().unwrap());
        assert_eq!(lits.roles, BTreeSet::from(["r".to_string()]));
        assert_eq!(lits.packages, BTreeSet::from(["p".to_string()]));
        assert_eq!(lits.identities, BTreeSet::from(["u".to_string()]));
        assert_eq!(lits.resource_attributes, BTreeSet::from(["privileged".to_string()]));
    }

    #[test]
    fn hierarchy_questions_are_outside_the_model() {
        for (text, outside) in [
            (r#"forbid (principal, action, resource) when { Role::"a" in Role::"b" };"#, true),
            (
                r#"forbid (principal, action, resource) when { Identity::"u".status == "x" };"#,
                true,
            ),
            (r#"forbid (principal, action, resource) when { principal in Role::"b" };"#, false),
            (r#"forbid (principal, action, resource) when { resource in Package::"p" };"#, false),
        ] {
            let policy: cedar_policy::Policy = text.parse().unwrap();
            assert_eq!(unsupported(&policy.to_json().unwrap()).is_some(), outside, "{text}");
        }
    }

    #[test]
    fn the_proof_schema_enumerates_the_static_types() {
        let (defs, _) = load_ok("roles:\n  - id: r\n    grants: [app:read]\n");
        let text = proof_schema_text(&defs, &Literals::default()).unwrap();
        assert!(text.contains("entity Role enum [\"r\"];"), "{text}");
        assert!(text.contains("entity Application enum [\"app\"];"), "{text}");
        assert!(text.contains("entity Package;"), "{text}");
        assert!(cedar_policy::Schema::from_cedarschema_str(&text).is_ok(), "{text}");
    }
}
