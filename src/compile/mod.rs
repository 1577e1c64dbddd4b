//! Definitions → Cedar: the generated schema, one policy per role, the static
//! entities, and the hand-written guardrails merged and validated.
//!
//! Invariants: output is deterministic (byte-identical for the same input);
//! the merged policy set passes Cedar's validator in strict mode or the
//! compiler reports why; no YAML string reaches policy text unescaped.

pub mod bounds;
pub mod expr;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::OnceLock;

use cedar_policy::{Effect, Entities, EntityUid, Expression, Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic as _;
use rayon::prelude::*;

use crate::diag::{Code, Diagnostic, Location};
use crate::graph::RoleGraph;
use crate::model::{AttrType, Condition, Definitions, GrantRef, Role, SourceFile};

/// The prefix of every compiled role policy's id.
pub const ROLE_POLICY_PREFIX: &str = "role:";

/// The prefix of every compiled exception policy's id.
pub const EXCEPTION_POLICY_PREFIX: &str = "exception:";

/// The policy id of an exception.
pub fn exception_policy_id(exception: &str) -> String {
    format!("{EXCEPTION_POLICY_PREFIX}{exception}")
}

/// The policy id of a role.
pub fn role_policy_id(role: &str) -> String {
    format!("{ROLE_POLICY_PREFIX}{role}")
}

/// A policy id as written in its `@id`. Cedar displays a policy id escaped
/// (`it\'s` for `it's`), so its `Display` must never be used to look a
/// policy up or to name it to a user: this is the id every map is keyed by.
pub fn policy_id(id: &PolicyId) -> &str {
    id.as_ref()
}

/// Where a policy of the merged set came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOrigin {
    /// Compiled from the role with this id.
    Role(String),
    /// Hand-written in `policies/`.
    Guardrail,
    /// Compiled from the approved exception with this id.
    Exception(String),
}

/// What entitle knows about one policy of the merged set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The policy id (`role:engineer`, or a guardrail's `@id`).
    pub id: String,
    /// Role or guardrail.
    pub origin: PolicyOrigin,
    /// Permit or forbid.
    pub forbid: bool,
    /// The YAML or Cedar line it came from.
    pub source: Location,
}

/// The Cedar artefacts of a set of definitions.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The generated Cedar schema, as text.
    pub schema_text: String,
    /// The parsed schema.
    pub schema: Schema,
    /// The merged policy set (compiled roles, then guardrails), as text.
    pub policies_text: String,
    /// The merged policy set, ids set from `@id`.
    pub policies: PolicySet,
    /// Per role, its policy id and the policy with its grants left out
    /// (satisfied exactly when the role is held), parsed on first use by
    /// [`Compiled::role_probes`]: only the oracle asks.
    probe_texts: Vec<(String, String)>,
    role_probes: OnceLock<Result<PolicySet, String>>,
    /// The static entities (applications, entitlements, packages, roles), as JSON text.
    pub entities_json: String,
    /// The static entities parsed by Cedar, built on first use by
    /// [`Compiled::entities`]: only the oracle and guardrails that read
    /// static entities by literal need them, and parsing 40,000 entities
    /// is half the cost of loading a large organisation.
    entities: OnceLock<Result<Entities, String>>,
    /// Every policy of the merged set, by id.
    pub info: BTreeMap<String, PolicyInfo>,
}

impl Compiled {
    /// The static entities, parsed and checked against the schema on first
    /// use (then shared). An error here is a bug of the compiler: the
    /// entities are generated from definitions that passed every check.
    pub fn entities(&self) -> Result<&Entities, String> {
        self.entities
            .get_or_init(|| {
                Entities::from_json_str(&self.entities_json, Some(&self.schema))
                    .map_err(|e| format!("the static entities do not fit the schema: {e}"))
            })
            .as_ref()
            .map_err(String::clone)
    }

    /// Per role, the policy with its grants left out: satisfied exactly when
    /// the role is held. Parsed on first use (then shared); an error here is
    /// a bug of the compiler, since each role's full policy parsed.
    pub fn role_probes(&self) -> Result<&PolicySet, String> {
        self.role_probes
            .get_or_init(|| {
                let mut set = PolicySet::new();
                for (id, text) in &self.probe_texts {
                    let probe = Policy::parse(Some(PolicyId::new(id)), text).map_err(|e| format!("probe of `{id}`: {e}"))?;
                    set.add(probe).map_err(|e| format!("probe of `{id}`: {e}"))?;
                }
                Ok(set)
            })
            .as_ref()
            .map_err(String::clone)
    }
}

/// Compiles definitions and guardrail sources. Errors are every diagnostic found.
/// On success, also the warnings found (such as guardrails without `@id`).
pub fn compile(defs: &Definitions, graph: &RoleGraph, guardrails: &[SourceFile]) -> Result<(Compiled, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let schema_text = schema_text(defs);
    let schema = match Schema::from_str(&schema_text) {
        Ok(s) => s,
        Err(e) => {
            diagnostics.push(Diagnostic::new(
                Code::CedarType,
                defs.identity.source.clone(),
                format!("the generated Cedar schema is invalid: {e}"),
            ));
            return Err(diagnostics);
        }
    };

    // Escape hatches first: each must be one expression that type-checks on its own.
    let declared: Vec<&str> = defs
        .identity
        .attributes
        .keys()
        .map(String::as_str)
        .chain(["kind", "owner"])
        .collect();
    for role in defs.roles.values() {
        check_escape_hatches(&role.when, &schema, &declared, &mut diagnostics);
    }
    for inv in defs.invariants.values() {
        check_escape_hatches(&inv.subject, &schema, &declared, &mut diagnostics);
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }

    let mut policies = PolicySet::new();
    let mut probe_texts = Vec::with_capacity(defs.roles.len());
    let mut info = BTreeMap::new();
    let mut text = String::from("// Generated by entitle from the role definitions: do not edit.\n\n");
    // Generating and parsing each role's policy is independent work: done on
    // every core, then added in role order so the set and its text stay deterministic.
    let roles: Vec<&Role> = defs.roles.values().collect();
    let compiled_roles: Vec<(String, Result<Policy, Diagnostic>)> = roles
        .par_iter()
        .map(|role| {
            let policy_text = role_policy(defs, graph, role, true);
            let parsed = match bounds::check(&policy_text) {
                Err(deep) => Err(Diagnostic::new(
                    Code::InputTooLarge,
                    role.source.clone(),
                    format!("role `{}` compiles to Cedar that is too deep: {}", role.id, deep.message),
                )
                .with_help("flatten the role's `when` (fewer nested `all`/`any`/`not`)")),
                Ok(()) => Policy::parse(Some(PolicyId::new(role_policy_id(&role.id))), &policy_text).map_err(|e| {
                    Diagnostic::new(
                        Code::CedarSyntax,
                        role.source.clone(),
                        format!("role `{}` compiled to invalid Cedar: {e}", role.id),
                    )
                }),
            };
            (policy_text, parsed)
        })
        .collect();
    for (role, (policy_text, parsed)) in roles.iter().zip(compiled_roles) {
        let id = role_policy_id(&role.id);
        let source = role.source.clone();
        match parsed {
            Ok(p) => push_policy(&mut policies, p, &mut diagnostics, &source),
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                continue;
            }
        }
        probe_texts.push((id.clone(), role_policy(defs, graph, role, false)));
        text.push_str(&policy_text);
        text.push_str("\n\n");
        info.insert(
            id.clone(),
            PolicyInfo {
                id,
                origin: PolicyOrigin::Role(role.id.clone()),
                forbid: false,
                source,
            },
        );
    }

    if !defs.exceptions.is_empty() {
        text.push_str("// Approved exceptions (`exceptions:`), each bounded by its expiry.\n\n");
    }
    for exception in defs.exceptions.values() {
        let id = exception_policy_id(&exception.id);
        let policy_text = exception_policy(exception);
        match Policy::parse(Some(PolicyId::new(&id)), &policy_text) {
            Ok(p) => push_policy(&mut policies, p, &mut diagnostics, &exception.source),
            Err(e) => {
                diagnostics.push(Diagnostic::new(
                    Code::CedarSyntax,
                    exception.source.clone(),
                    format!("exception `{}` compiled to invalid Cedar: {e}", exception.id),
                ));
                continue;
            }
        }
        text.push_str(&policy_text);
        text.push_str("\n\n");
        info.insert(
            id.clone(),
            PolicyInfo {
                id,
                origin: PolicyOrigin::Exception(exception.id.clone()),
                forbid: false,
                source: exception.source.clone(),
            },
        );
    }

    for file in guardrails {
        merge_guardrails(file, &mut policies, &mut info, &mut text, &mut diagnostics);
    }

    // The merged set must pass the strict validator; locate each error at its source.
    let validator = Validator::new(schema.clone());
    let result = validator.validate(&policies, ValidationMode::Strict);
    for error in result.validation_errors() {
        let pid = policy_id(error.policy_id());
        let location = info.get(pid).map(|i| i.source.clone()).unwrap_or_default();
        let location = guardrails
            .iter()
            .find(|f| f.name == location.file)
            .and_then(|f| error.labels().and_then(|mut l| l.next()).map(|l| offset_location(f, l.offset())))
            .unwrap_or(location);
        diagnostics.push(
            Diagnostic::new(
                Code::CedarType,
                location,
                format!("policy `{pid}` does not type-check: {}", without_policy_prefix(&error.to_string())),
            )
            .with_help_opt(error.help().map(|h| h.to_string())),
        );
    }

    for warning in result.validation_warnings() {
        if let cedar_policy::ValidationWarning::ImpossiblePolicy(w) = warning {
            let pid = policy_id(w.policy_id());
            if let Some(info) = info.get(pid).filter(|i| i.origin == PolicyOrigin::Guardrail) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::ImpossibleGuardrail,
                        info.source.clone(),
                        format!("guardrail `{pid}` can never apply under the identity schema"),
                    )
                    .with_help("check the attribute names it tests against the `identity:` schema"),
                );
            }
        }
    }
    if diagnostics.iter().any(|d| d.severity == crate::diag::Severity::Error) {
        return Err(diagnostics);
    }
    let entities_json = entities_json_text(defs);
    Ok((
        Compiled {
            schema_text,
            schema,
            policies_text: text,
            policies,
            probe_texts,
            role_probes: OnceLock::new(),
            entities_json,
            entities: OnceLock::new(),
            info,
        },
        diagnostics,
    ))
}

/// The policy id escape hatches are validated under.
const ESCAPE_HATCH_ID: &str = "cedar-escape-hatch";

/// Cedar's validation messages start with "for policy `X`, "; entitle names the policy itself.
fn without_policy_prefix(message: &str) -> &str {
    match message.strip_prefix("for policy `").and_then(|rest| rest.split_once("`, ")) {
        Some((_, tail)) => tail,
        None => message,
    }
}

fn push_policy(set: &mut PolicySet, policy: Policy, diagnostics: &mut Vec<Diagnostic>, source: &Location) {
    if let Err(e) = set.add(policy) {
        diagnostics.push(Diagnostic::new(Code::DuplicateId, source.clone(), format!("policy id clash: {e}")));
    }
}

/// A location in `file` for a byte offset into its text.
pub fn offset_location(file: &SourceFile, offset: usize) -> Location {
    let before = &file.text[..offset.min(file.text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    Location::new(file.name.clone(), line, column)
}

fn merge_guardrails(
    file: &SourceFile,
    policies: &mut PolicySet,
    info: &mut BTreeMap<String, PolicyInfo>,
    text: &mut String,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if let Err(deep) = bounds::check(&file.text) {
        diagnostics.push(
            Diagnostic::new(Code::InputTooLarge, offset_location(file, deep.offset), deep.message)
                .with_help("split the policy, or flatten its nesting; deeper text could exhaust the stack"),
        );
        return;
    }
    let parsed = match PolicySet::from_str(&file.text) {
        Ok(p) => p,
        Err(errors) => {
            for e in errors.iter() {
                let offset = e.labels().and_then(|mut l| l.next()).map_or(0, |l| l.offset());
                diagnostics.push(
                    Diagnostic::new(Code::PolicySyntax, offset_location(file, offset), format!("invalid Cedar: {e}"))
                        .with_help_opt(e.help().map(|h| h.to_string())),
                );
            }
            return;
        }
    };
    if parsed.templates().next().is_some() {
        diagnostics.push(Diagnostic::new(
            Code::PolicySyntax,
            Location::new(file.name.clone(), 1, 1),
            "templates are not supported in guardrails",
        ));
    }
    let mut search_from = 0;
    for index in 0.. {
        let Some(policy) = parsed.policy(&PolicyId::new(format!("policy{index}"))) else {
            break;
        };
        let policy_text = policy.to_string();
        let offset = file.text[search_from..].find(&policy_text).map_or(search_from, |o| o + search_from);
        search_from = offset + policy_text.len();
        let source = offset_location(file, offset);
        let id = match policy.annotation("id") {
            Some(id) => id.to_string(),
            None => {
                diagnostics.push(
                    Diagnostic::new(Code::PolicyWithoutId, source.clone(), "guardrail has no `@id` annotation")
                        .with_help("add `@id(\"a-stable-name\")` above the policy; plans and explanations name policies by it"),
                );
                format!("{}#{}", file.name, index + 1)
            }
        };
        if id.starts_with(ROLE_POLICY_PREFIX) || id.starts_with(EXCEPTION_POLICY_PREFIX) || info.contains_key(&id) {
            diagnostics.push(
                Diagnostic::new(Code::DuplicateId, source.clone(), format!("policy id `{id}` is already taken")).with_help(
                    info.get(&id).map_or(
                        "ids starting with `role:` or `exception:` are reserved for compiled roles and exceptions".to_string(),
                        |i| format!("it is first used at {}", i.source),
                    ),
                ),
            );
            continue;
        }
        crate::check::unbounded_permit::check(policy, &id, &source, diagnostics);
        let forbid = policy.effect() == Effect::Forbid;
        if let Err(e) = policies.add(policy.new_id(PolicyId::new(&id))) {
            diagnostics.push(Diagnostic::new(Code::DuplicateId, source.clone(), format!("policy id clash: {e}")));
            continue;
        }
        // The file name is the user's: escaped so no character of it can end the comment.
        text.push_str(&format!("// {}\n{policy_text}\n\n", source.file_line().escape_debug()));
        info.insert(
            id.clone(),
            PolicyInfo {
                id,
                origin: PolicyOrigin::Guardrail,
                forbid,
                source,
            },
        );
    }
}

/// Does a policy's JSON form refer to the variable `var` (or constrain it in the scope)?
fn mentions_var(policy_json: &serde_json::Value, var: &str) -> bool {
    let scope_constrained = policy_json
        .get(var)
        .and_then(|s| s.get("op"))
        .and_then(|o| o.as_str())
        .is_some_and(|op| op != "All");
    fn walk(v: &serde_json::Value, var: &str) -> bool {
        match v {
            serde_json::Value::Object(m) => m.iter().any(|(k, v)| (k == "Var" && v.as_str() == Some(var)) || walk(v, var)),
            serde_json::Value::Array(a) => a.iter().any(|v| walk(v, var)),
            _ => false,
        }
    }
    scope_constrained || policy_json.get("conditions").is_some_and(|c| walk(c, var))
}

/// The first attribute of `principal` a policy (JSON form) reads or tests that is not declared.
fn undeclared_principal_attribute(json: &serde_json::Value, declared: &[&str]) -> Option<String> {
    match json {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if matches!(k.as_str(), "has" | ".") {
                    let on_principal = v.get("left").and_then(|l| l.get("Var")).and_then(|x| x.as_str()) == Some("principal");
                    if let Some(attr) = v.get("attr").and_then(|a| a.as_str()).filter(|_| on_principal) {
                        if !declared.contains(&attr) {
                            return Some(attr.to_string());
                        }
                    }
                }
                if let Some(found) = undeclared_principal_attribute(v, declared) {
                    return Some(found);
                }
            }
            None
        }
        serde_json::Value::Array(a) => a.iter().find_map(|v| undeclared_principal_attribute(v, declared)),
        _ => None,
    }
}

fn did_you_mean_attr(json: &serde_json::Value, declared: &[&str]) -> Option<String> {
    let attr = undeclared_principal_attribute(json, declared)?;
    crate::diag::did_you_mean(&attr, declared.iter().copied())
}

fn check_escape_hatches(c: &Condition, schema: &Schema, declared: &[&str], diagnostics: &mut Vec<Diagnostic>) {
    match c {
        Condition::All(items) | Condition::Any(items) => items.iter().for_each(|i| check_escape_hatches(i, schema, declared, diagnostics)),
        Condition::Not(inner) => check_escape_hatches(inner, schema, declared, diagnostics),
        Condition::Cedar { expr, source } => {
            if let Err(deep) = bounds::check(expr) {
                diagnostics.push(
                    Diagnostic::new(Code::InputTooLarge, source.clone(), deep.message)
                        .with_help("write the condition in YAML (`all`, `any`, `not`), which entitle compiles without deep nesting"),
                );
                return;
            }
            if let Err(e) = Expression::from_str(expr) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::CedarSyntax,
                        source.clone(),
                        format!("`cedar:` is not a Cedar expression: {e}"),
                    )
                    .with_help("write one boolean expression over `principal` and `context`, such as `principal.clearance >= 2`"),
                );
                return;
            }
            let probe = format!("permit (principal, action == Action::\"hold\", resource) when {{ ({expr}) }};");
            let policy = match Policy::parse(Some(PolicyId::new(ESCAPE_HATCH_ID)), &probe) {
                Ok(p) => p,
                Err(e) => {
                    diagnostics.push(Diagnostic::new(
                        Code::CedarSyntax,
                        source.clone(),
                        format!("`cedar:` is not a Cedar expression: {e}"),
                    ));
                    return;
                }
            };
            if policy.to_json().map(|j| mentions_var(&j, "resource")).unwrap_or(true) {
                diagnostics.push(
                    Diagnostic::new(Code::ConditionScope, source.clone(), "a role condition cannot refer to `resource`")
                        .with_help("conditions decide who holds a role; restrict entitlements with a guardrail in policies/"),
                );
                return;
            }
            let mut set = PolicySet::new();
            if set.add(policy).is_ok() {
                let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
                for error in result.validation_errors() {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::CedarType,
                            source.clone(),
                            format!("`cedar:` does not type-check: {}", without_policy_prefix(&error.to_string())),
                        )
                        .with_help_opt(error.help().map(|h| h.to_string())),
                    );
                }
                // An escape hatch that can never be true (say `principal has levl` for a
                // misspelt attribute) silently disables its role: that is an error.
                for warning in result.validation_warnings() {
                    if matches!(warning, cedar_policy::ValidationWarning::ImpossiblePolicy(_)) {
                        let json = set.policies().next().and_then(|p| p.to_json().ok()).unwrap_or_default();
                        let message = match undeclared_principal_attribute(&json, declared) {
                            Some(attr) => format!("`cedar:` never holds: `{attr}` is not an attribute of `Identity`"),
                            None => "`cedar:` never holds under the identity schema".to_string(),
                        };
                        let help = did_you_mean_attr(&json, declared);
                        diagnostics.push(Diagnostic::new(Code::CedarType, source.clone(), message).with_help_opt(help));
                    }
                }
            }
        }
        Condition::Kind { .. } | Condition::Attr { .. } => {}
    }
}

/// The generated Cedar schema.
pub fn schema_text(defs: &Definitions) -> String {
    let mut out = String::from("// Generated by entitle from the identity schema and catalog: do not edit.\n\n");
    out.push_str("entity Application;\n");
    out.push_str("entity Package in [Package];\n");
    out.push_str("entity Role in [Role];\n");
    out.push_str("entity Entitlement in [Package, Application] {\n  application: Application,\n  privileged: Bool,\n};\n");
    out.push_str("entity Identity in [Role] {\n  kind: String,\n  owner?: Identity,\n");
    for attr in defs.identity.attributes.values() {
        let ty = match attr.ty {
            AttrType::String | AttrType::Enum(_) => "String",
            AttrType::Int => "Long",
            AttrType::Bool => "Bool",
            AttrType::Date => "__cedar::datetime",
            AttrType::Set => "Set<String>",
        };
        // Per-kind and required attributes stay optional in Cedar: a required
        // attribute is enforced by entitle's reader, and only for kinds it applies to.
        let optional = if attr.required && attr.kinds.is_none() { "" } else { "?" };
        out.push_str(&format!("  {}{optional}: {ty},\n", attr.name));
    }
    out.push_str("};\n");
    out.push_str(
        "action \"hold\" appliesTo {\n  principal: [Identity],\n  resource: [Entitlement],\n  context: { now: __cedar::datetime },\n};\n",
    );
    out
}

/// An exception's policy: a permit for exactly its identity and its
/// entitlement (or the entitlements of its package), while `context.now` is
/// before its expiry. Being a permit, every guardrail (a forbid) still wins.
pub fn exception_policy(exception: &crate::model::Exception) -> String {
    use expr::{entity_ref, string_lit};
    let resource = match &exception.grants {
        GrantRef::Entitlement(e) => format!("resource == {}", entity_ref("Entitlement", e)),
        GrantRef::Package(p) => format!("resource in {}", entity_ref("Package", p)),
    };
    format!(
        "@id({})\n@source({})\n@ticket({})\npermit (\n  principal == {},\n  action == Action::\"hold\",\n  {resource}\n)\nwhen {{ context.now < datetime({}) }};",
        string_lit(&exception_policy_id(&exception.id)),
        string_lit(&exception.source.file_line()),
        string_lit(&exception.ticket),
        entity_ref("Identity", &exception.identity),
        string_lit(&exception.expires.to_cedar()),
    )
}

/// A role's policy. With `with_grants` false, the probe: the same policy
/// without its resource clause, satisfied exactly when the role is held.
pub fn role_policy(defs: &Definitions, graph: &RoleGraph, role: &Role, with_grants: bool) -> String {
    use expr::{condition, entity_ref, string_lit};
    let mut out = format!(
        "@id({})\n@source({})\npermit (\n  principal is Identity{},\n  action == Action::\"hold\",\n  resource is Entitlement\n)",
        string_lit(&role_policy_id(&role.id)),
        string_lit(&role.source.file_line()),
        if role.assignable {
            format!(" in {}", entity_ref("Role", &role.id))
        } else {
            String::new()
        },
    );
    if with_grants {
        let mut packages = BTreeSet::new();
        let mut entitlements = BTreeSet::new();
        // The role's own grants and those of every role it extends.
        let ancestors = graph.role_ancestors.get(&role.id).into_iter().flatten();
        for r in std::iter::once(&role.id).chain(ancestors).filter_map(|id| defs.roles.get(id)) {
            for g in &r.grants {
                match g {
                    GrantRef::Package(p) => packages.insert(p.as_str()),
                    GrantRef::Entitlement(e) => entitlements.insert(e.as_str()),
                };
            }
        }
        let mut clauses = Vec::new();
        if !packages.is_empty() {
            clauses.push(format!(
                "resource in [{}]",
                packages.iter().map(|p| entity_ref("Package", p)).collect::<Vec<_>>().join(", ")
            ));
        }
        if !entitlements.is_empty() {
            clauses.push(format!(
                "resource in [{}]",
                entitlements
                    .iter()
                    .map(|e| entity_ref("Entitlement", e))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let grants = if clauses.is_empty() {
            "false".to_string()
        } else {
            clauses.join("\n    || ")
        };
        out.push_str(&format!("\nwhen {{\n  {grants}\n}}"));
    }
    let mut parts = Vec::new();
    // The kind test is left out only when the role applies to every declared kind.
    if !defs.identity.kinds.iter().all(|k| role.kinds.contains(k)) {
        parts.push(condition(&Condition::Kind {
            subject: crate::model::Subject::Identity,
            kinds: role.kinds.clone(),
            source: role.source.clone(),
        }));
    }
    if role.when != Condition::always() {
        parts.push(condition(&role.when));
    }
    if !parts.is_empty() {
        out.push_str(&format!("\nwhen {{\n  {}\n}}", parts.join("\n  && ")));
    }
    out.push(';');
    out
}

/// The static entities as Cedar entity JSON.
pub fn entities_json(defs: &Definitions) -> serde_json::Value {
    serde_json::to_value(static_entities(defs)).unwrap_or_default()
}

/// The static entities as Cedar entity JSON text, as [`compile`] writes it:
/// `entities_json` pretty-printed, serialised straight from borrowed records
/// (building the `Value` tree first was a fifth of loading an organisation
/// of 40,000 entitlements).
fn entities_json_text(defs: &Definitions) -> String {
    serde_json::to_string_pretty(&static_entities(defs)).unwrap_or_default() + "\n"
}

/// One static entity in Cedar's entity JSON; the fields in the order Cedar's JSON lists them.
#[derive(serde::Serialize)]
struct EntityRecord<'a> {
    uid: UidRecord<'a>,
    attrs: EntityAttrs<'a>,
    parents: Vec<UidRecord<'a>>,
}

#[derive(serde::Serialize)]
struct UidRecord<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    id: &'a str,
}

/// An entitlement's attributes; none for the other types.
#[derive(serde::Serialize)]
struct EntityAttrs<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    application: Option<EntityRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    privileged: Option<bool>,
}

#[derive(serde::Serialize)]
struct EntityRef<'a> {
    __entity: UidRecord<'a>,
}

fn static_entities(defs: &Definitions) -> Vec<EntityRecord<'_>> {
    let uid = |ty: &'static str, id| UidRecord { ty, id };
    let none = || EntityAttrs {
        application: None,
        privileged: None,
    };
    let mut out = Vec::with_capacity(defs.applications.len() + defs.entitlements.len() + defs.packages.len() + defs.roles.len());
    for app in defs.applications.keys() {
        out.push(EntityRecord {
            uid: uid("Application", app),
            attrs: none(),
            parents: Vec::new(),
        });
    }
    let mut package_parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut entitlement_packages: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (id, p) in &defs.packages {
        for nested in &p.packages {
            package_parents.entry(nested).or_default().insert(id);
        }
        for e in &p.entitlements {
            entitlement_packages.entry(e).or_default().insert(id);
        }
    }
    for (id, e) in &defs.entitlements {
        let mut parents = vec![uid("Application", &e.application)];
        parents.extend(
            entitlement_packages
                .get(id.as_str())
                .into_iter()
                .flatten()
                .map(|p| uid("Package", p)),
        );
        out.push(EntityRecord {
            uid: uid("Entitlement", id),
            attrs: EntityAttrs {
                application: Some(EntityRef {
                    __entity: uid("Application", &e.application),
                }),
                privileged: Some(e.privileged),
            },
            parents,
        });
    }
    for id in defs.packages.keys() {
        let parents = package_parents
            .get(id.as_str())
            .into_iter()
            .flatten()
            .map(|p| uid("Package", p))
            .collect();
        out.push(EntityRecord {
            uid: uid("Package", id),
            attrs: none(),
            parents,
        });
    }
    for (id, r) in &defs.roles {
        let parents = r.extends.iter().map(|p| uid("Role", p)).collect();
        out.push(EntityRecord {
            uid: uid("Role", id),
            attrs: none(),
            parents,
        });
    }
    out
}

/// The entity types of entitle's Cedar vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    /// `Identity`
    Identity,
    /// `Entitlement`
    Entitlement,
    /// `Package`
    Package,
    /// `Role`
    Role,
    /// `Application`
    Application,
}

impl EntityType {
    /// The type name.
    pub fn name(self) -> &'static str {
        match self {
            EntityType::Identity => "Identity",
            EntityType::Entitlement => "Entitlement",
            EntityType::Package => "Package",
            EntityType::Role => "Role",
            EntityType::Application => "Application",
        }
    }
}

/// The uid of an entity of type `ty` with `id`.
pub fn uid(ty: EntityType, id: &str) -> EntityUid {
    static TYPES: std::sync::LazyLock<[cedar_policy::EntityTypeName; 5]> = std::sync::LazyLock::new(|| {
        #[expect(clippy::expect_used, reason = "the five fixed type names are valid Cedar identifiers")]
        [
            EntityType::Identity,
            EntityType::Entitlement,
            EntityType::Package,
            EntityType::Role,
            EntityType::Application,
        ]
        .map(|t| cedar_policy::EntityTypeName::from_str(t.name()).expect("valid type name"))
    });
    EntityUid::from_type_name_and_id(TYPES[ty as usize].clone(), cedar_policy::EntityId::new(id))
}

#[cfg(test)]
mod tests {
    use crate::model::SourceFile;
    use crate::project::{Project, Sources};

    /// The entity JSON is written straight from records: its text is exactly
    /// what pretty-printing Cedar's entity JSON gives (key order as Cedar
    /// lists them, empty attributes and parents as `{}` and `[]`).
    #[test]
    fn static_entities_are_written_as_cedar_entity_json() {
        let roles = "identity:\n  attributes:\n    status: { type: string }\napplications:\n  - id: gh\n    entitlements: [{ id: member }, { id: owner, privileged: true }]\npackages:\n  - id: base\n    entitlements: [gh:member]\n  - id: eng\n    packages: [base]\nroles:\n  - id: staff\n    grants: [base]\n  - id: lead\n    extends: [staff]\n    grants: [gh:owner]\n";
        let sources = Sources {
            roles: vec![SourceFile {
                name: "roles/org.yaml".into(),
                text: roles.into(),
            }],
            policies: vec![],
        };
        let project = Project::from_sources(&sources).unwrap_or_else(|f| panic!("{:?}", f.diagnostics));
        let uid = |ty: &str, id: &str| serde_json::json!({"type": ty, "id": id});
        let app = serde_json::json!({"__entity": uid("Application", "gh")});
        let expected = serde_json::json!([
            {"uid": uid("Application", "gh"), "attrs": {}, "parents": []},
            {"uid": uid("Entitlement", "gh:member"), "attrs": {"application": app, "privileged": false},
             "parents": [uid("Application", "gh"), uid("Package", "base")]},
            {"uid": uid("Entitlement", "gh:owner"), "attrs": {"application": app, "privileged": true},
             "parents": [uid("Application", "gh")]},
            {"uid": uid("Package", "base"), "attrs": {}, "parents": [uid("Package", "eng")]},
            {"uid": uid("Package", "eng"), "attrs": {}, "parents": []},
            {"uid": uid("Role", "lead"), "attrs": {}, "parents": [uid("Role", "staff")]},
            {"uid": uid("Role", "staff"), "attrs": {}, "parents": []},
        ]);
        let text = serde_json::to_string_pretty(&expected).unwrap_or_default() + "\n";
        assert_eq!(project.compiled.entities_json, text);
        assert_eq!(super::entities_json(&project.defs), expected);
        assert!(project.compiled.entities().is_ok(), "Cedar reads them against the schema");
    }
}
