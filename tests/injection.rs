//! No YAML string can change the structure of a compiled policy (spec §3):
//! hostile strings — quotes, backslashes, line breaks, `" || true || "`,
//! `"; permit(principal,action,resource);`, NUL, `*`, any Unicode — put into
//! attribute values, `in` lists, `matches` globs, set members, names,
//! descriptions and source file names must
//!
//! (a) compile,
//! (b) give exactly one policy per role plus the guardrail, both in the policy
//!     set and when the compiled policy text is parsed back, and
//! (c) give role policies that compare against exactly the hostile string:
//!     Cedar's authorizer, run directly on the compiled schema, policies and
//!     entities, allows an identity whose attribute is the string and denies
//!     one whose attribute differs from it in one character.

use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
use entitle::model::SourceFile;
use entitle::project::{Project, Sources};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Strings built from the fragments most likely to break out of a Cedar
/// string literal or a YAML scalar, mixed with plain text and any character.
fn hostile() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("\\\"".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\t".to_string()),
        Just("\" || true || \"".to_string()),
        Just("\"; permit(principal,action,resource);".to_string()),
        Just("\"}; permit(principal, action, resource) when {\"".to_string()),
        Just("\u{0}".to_string()),
        Just("*".to_string()),
        Just("\\u{41}".to_string()),
        Just("// ".to_string()),
        Just("/*".to_string()),
        Just("'".to_string()),
        Just("é".to_string()),
        Just("e\u{301}".to_string()),
        Just("😀".to_string()),
        Just("\u{202e}".to_string()),
        Just("\u{2028}".to_string()),
        Just("\u{feff}".to_string()),
        Just("\u{7f}".to_string()),
        "[a-zA-Z0-9 ]{1,4}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(fragment, 1..6).prop_map(|parts| parts.concat())
}

/// A hostile glob: `*` stays a wildcard, the characters the glob reader refuses are left out.
fn hostile_glob() -> impl Strategy<Value = String> {
    hostile().prop_map(|s| s.chars().filter(|c| !matches!(c, '?' | '[' | ']' | '{' | '}')).collect())
}

/// A YAML double-quoted scalar holding exactly `s`: only printable ASCII is
/// written as itself, everything else as a `\U` escape.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// `s` with one character changed (or one added, when every character is a
/// `*`), so that neither equality nor a glob of `s` can accept it.
fn one_char_changed(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    match chars.iter().position(|c| *c != '*') {
        Some(i) => chars[i] = if chars[i] == 'a' { 'b' } else { 'a' },
        None => chars.push('a'),
    }
    chars.into_iter().collect()
}

#[derive(Debug, Clone)]
struct Hostile {
    equal: String,
    listed: [String; 2],
    glob: String,
    member: String,
    owner_value: String,
    name: String,
    description: String,
    roles_file: String,
    policies_file: String,
}

fn hostile_inputs() -> impl Strategy<Value = Hostile> {
    (
        hostile(),
        hostile(),
        hostile(),
        hostile_glob(),
        hostile(),
        hostile(),
        hostile(),
        hostile(),
        hostile(),
        hostile(),
    )
        .prop_map(
            |(equal, a, b, glob, member, owner_value, name, description, roles_file, policies_file)| Hostile {
                equal,
                listed: [a, b],
                glob,
                member,
                owner_value,
                name,
                description,
                roles_file: format!("roles/{roles_file}.yaml"),
                policies_file: format!("policies/{policies_file}.cedar"),
            },
        )
}

/// Roles, each testing one hostile string, and what each grants.
const ROLES: &[(&str, &str)] = &[
    ("equal", "app:equal"),
    ("listed", "app:listed"),
    ("glob", "app:glob"),
    ("member", "app:member"),
    ("owned", "app:owned"),
];

fn definitions(h: &Hostile) -> String {
    let q = yaml_quoted;
    let (name, description) = (q(&h.name), q(&h.description));
    format!(
        r#"identity:
  attributes:
    department: {{ type: string }}
    location: {{ type: string }}
    job_code: {{ type: string }}
    tags: {{ type: set }}
applications:
  - id: app
    name: {name}
    description: {description}
    entitlements:
      - id: equal
        name: {name}
        description: {description}
      - id: listed
      - id: glob
      - id: member
      - id: owned
packages:
  - id: globbed
    name: {name}
    description: {description}
    entitlements: [app:glob]
roles:
  - id: equal
    name: {name}
    description: {description}
    when: {{ department: {equal} }}
    grants: [app:equal]
  - id: listed
    when: {{ location: {{ in: [{a}, {b}] }} }}
    grants: [app:listed]
  - id: glob
    when: {{ job_code: {{ matches: {glob} }} }}
    grants: [globbed]
  - id: member
    when: {{ tags: {{ contains: {member} }} }}
    grants: [app:member]
  - id: owned
    kinds: [service_account]
    when: {{ owner.department: {owner} }}
    grants: [app:owned]
"#,
        equal = q(&h.equal),
        a = q(&h.listed[0]),
        b = q(&h.listed[1]),
        glob = q(&h.glob),
        member = q(&h.member),
        owner = q(&h.owner_value),
    )
}

const GUARDRAIL: &str = "@id(\"nobody-in-nowhere\")\nforbid (principal, action == Action::\"hold\", resource)\nwhen { principal has location && principal.location == \"nowhere\" };\n";

fn project(h: &Hostile) -> Result<Project, String> {
    let sources = Sources {
        roles: vec![SourceFile {
            name: h.roles_file.clone(),
            text: definitions(h),
        }],
        policies: vec![SourceFile {
            name: h.policies_file.clone(),
            text: GUARDRAIL.to_string(),
        }],
    };
    Project::from_sources(&sources).map_err(|failure| {
        let rendered: Vec<String> = failure
            .diagnostics
            .iter()
            .map(|d| d.render(sources.text_of(&d.location.file)))
            .collect();
        format!(
            "definitions did not compile:\n{}\n--- definitions ---\n{}",
            rendered.join("\n"),
            definitions(h)
        )
    })
}

fn uid(text: &str) -> EntityUid {
    EntityUid::from_str(text).expect("a valid entity uid")
}

/// The identity `u` (and its owner `o`, for a service account), as Cedar entity JSON.
fn identity(kind: &str, attrs: Value, owner_attrs: Option<Value>) -> Vec<Value> {
    let mut attrs = attrs;
    attrs["kind"] = json!(kind);
    let mut out = Vec::new();
    if let Some(mut owner) = owner_attrs {
        owner["kind"] = json!("person");
        attrs["owner"] = json!({"__entity": {"type": "Identity", "id": "o"}});
        out.push(json!({"uid": {"type": "Identity", "id": "o"}, "attrs": owner, "parents": []}));
    }
    out.push(json!({"uid": {"type": "Identity", "id": "u"}, "attrs": attrs, "parents": []}));
    out
}

/// Runs Cedar directly on the compiled artefacts: may the identity hold `entitlement`?
/// Also checks that the compiled policy text, parsed back, decides the same.
fn decide(project: &Project, identity: Vec<Value>, entitlement: &str, role: &str) -> Result<bool, String> {
    let compiled = &project.compiled;
    let schema = &compiled.schema;
    let mut all: Vec<Value> = serde_json::from_str(&compiled.entities_json).map_err(|e| e.to_string())?;
    all.extend(identity);
    let entities = Entities::from_json_value(Value::Array(all), Some(schema)).map_err(|e| format!("entities: {e}"))?;
    let action = uid(r#"Action::"hold""#);
    let context = Context::from_json_value(
        json!({"now": {"__extn": {"fn": "datetime", "arg": "2026-11-21"}}}),
        Some((schema, &action)),
    )
    .map_err(|e| format!("context: {e}"))?;
    let resource = EntityUid::from_type_name_and_id(
        "Entitlement".parse().map_err(|e| format!("{e}"))?,
        cedar_policy::EntityId::new(entitlement),
    );
    let request = Request::new(uid(r#"Identity::"u""#), action, resource, context, Some(schema)).map_err(|e| format!("request: {e}"))?;
    let authorizer = Authorizer::new();
    let response = authorizer.is_authorized(&request, &compiled.policies, &entities);
    let errors: Vec<String> = response.diagnostics().errors().map(|e| e.to_string()).collect();
    if !errors.is_empty() {
        return Err(format!("evaluation errors: {errors:?}"));
    }
    let allowed = response.decision() == Decision::Allow;
    let reasons: Vec<String> = response.diagnostics().reason().map(|p| p.to_string()).collect();
    if allowed && reasons != [format!("role:{role}")] {
        return Err(format!("allowed {entitlement} by {reasons:?}, expected only `role:{role}`"));
    }
    let reparsed = PolicySet::from_str(&compiled.policies_text).map_err(|e| format!("compiled text does not parse: {e}"))?;
    let from_text = authorizer.is_authorized(&request, &reparsed, &entities).decision() == Decision::Allow;
    if from_text != allowed {
        return Err(format!(
            "the compiled text decides {from_text} for {entitlement}, the policy set {allowed}"
        ));
    }
    Ok(allowed)
}

fn check(h: &Hostile) -> Result<(), TestCaseError> {
    let project = project(h).map_err(TestCaseError::fail)?;
    let compiled = &project.compiled;

    // (b) one policy per role plus the guardrail, in the set and in its text.
    let mut ids: Vec<String> = compiled.policies.policies().map(|p| p.id().to_string()).collect();
    ids.sort();
    let mut expected: Vec<String> = ROLES.iter().map(|(r, _)| format!("role:{r}")).collect();
    expected.push("nobody-in-nowhere".into());
    expected.sort();
    prop_assert_eq!(&ids, &expected);
    let reparsed =
        PolicySet::from_str(&compiled.policies_text).map_err(|e| TestCaseError::fail(format!("compiled text does not parse: {e}")))?;
    let mut text_ids: Vec<String> = reparsed
        .policies()
        .map(|p| p.annotation("id").unwrap_or("<no @id>").to_string())
        .collect();
    text_ids.sort();
    prop_assert_eq!(&text_ids, &expected, "compiled text:\n{}", compiled.policies_text);

    // The hostile file name reaches `@source` intact.
    for (role, _) in ROLES {
        let policy = compiled
            .policies
            .policy(&cedar_policy::PolicyId::new(format!("role:{role}")))
            .expect("role policy");
        let line = project.defs.roles[*role].source.line;
        let source = format!("{}:{line}", h.roles_file);
        prop_assert_eq!(policy.annotation("source"), Some(source.as_str()));
    }

    // (c) each role compares against exactly its hostile string.
    let run =
        |identity: Vec<Value>, entitlement: &str, role: &str| decide(&project, identity, entitlement, role).map_err(TestCaseError::fail);
    let person = |attrs: Value| identity("person", attrs, None);

    prop_assert!(
        run(person(json!({"department": h.equal})), "app:equal", "equal")?,
        "department {:?} must hold app:equal",
        h.equal
    );
    let changed = one_char_changed(&h.equal);
    prop_assert!(
        !run(person(json!({"department": changed})), "app:equal", "equal")?,
        "department {:?} must not hold app:equal",
        changed
    );

    for listed in &h.listed {
        prop_assert!(
            run(person(json!({"location": listed})), "app:listed", "listed")?,
            "location {:?} must hold app:listed",
            listed
        );
    }
    let outsider = one_char_changed(&h.listed[0]);
    if !h.listed.contains(&outsider) {
        prop_assert!(
            !run(person(json!({"location": outsider})), "app:listed", "listed")?,
            "location {:?} must not hold app:listed",
            outsider
        );
    }

    prop_assert!(
        run(person(json!({"job_code": h.glob})), "app:glob", "glob")?,
        "job_code {:?} must match itself as a glob",
        h.glob
    );
    if h.glob.chars().any(|c| c != '*') {
        let changed = one_char_changed(&h.glob);
        prop_assert!(
            !run(person(json!({"job_code": changed})), "app:glob", "glob")?,
            "job_code {:?} must not match {:?}",
            changed,
            h.glob
        );
    }

    prop_assert!(
        run(person(json!({"tags": [h.member]})), "app:member", "member")?,
        "tags [{:?}] must hold app:member",
        h.member
    );
    let changed = one_char_changed(&h.member);
    prop_assert!(
        !run(person(json!({"tags": [changed]})), "app:member", "member")?,
        "tags [{:?}] must not hold app:member",
        changed
    );

    let owned = |value: &str| identity("service_account", json!({}), Some(json!({"department": value})));
    prop_assert!(
        run(owned(&h.owner_value), "app:owned", "owned")?,
        "owner department {:?} must hold app:owned",
        h.owner_value
    );
    let changed = one_char_changed(&h.owner_value);
    prop_assert!(
        !run(owned(&changed), "app:owned", "owned")?,
        "owner department {:?} must not hold app:owned",
        changed
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hostile_strings_cannot_change_policy_structure(h in hostile_inputs()) {
        check(&h)?;
    }
}

/// The fragments named in the spec, each on its own, in every position at once.
#[test]
fn the_classic_payloads_compile_to_exact_comparisons() {
    for payload in [
        "\" || true || \"",
        "\"; permit(principal,action,resource);",
        "\\",
        "\"",
        "\n",
        "\u{0}",
        "*",
        "",
        "🦀 ünïcödé",
    ] {
        let h = Hostile {
            equal: payload.into(),
            listed: [payload.into(), format!("{payload}2")],
            glob: payload.into(),
            member: payload.into(),
            owner_value: payload.into(),
            name: payload.into(),
            description: payload.into(),
            roles_file: format!("roles/{payload}.yaml"),
            policies_file: format!("policies/{payload}.cedar"),
        };
        if let Err(e) = check(&h) {
            panic!("payload {payload:?}: {e}");
        }
    }
}

/// Known bug in `compile::merge_guardrails` (src/compile/mod.rs): a guardrail's
/// file name is copied unescaped into the `// file:line` comment that precedes
/// it in the compiled policy text, so a line break in the name ends the comment
/// and the rest of the name becomes policy text: here a permit-all that
/// `entitle compile --out` would write next to the roles. The in-memory policy
/// set is not affected, which is why the property test above leaves line
/// breaks out of guardrail file names.
#[test]

fn guardrail_file_name_cannot_inject_policies() {
    let h = Hostile {
        equal: "x".into(),
        listed: ["x".into(), "y".into()],
        glob: "x".into(),
        member: "x".into(),
        owner_value: "x".into(),
        name: "x".into(),
        description: "x".into(),
        roles_file: "roles/roles.yaml".into(),
        policies_file: "policies/g\npermit (principal, action, resource);\n//.cedar".into(),
    };
    let project = project(&h).unwrap_or_else(|e| panic!("{e}"));
    let text = &project.compiled.policies_text;
    let reparsed = PolicySet::from_str(text).unwrap_or_else(|e| panic!("compiled text does not parse: {e}\n{text}"));
    assert_eq!(
        reparsed.policies().count(),
        ROLES.len() + 1,
        "the compiled text gained a policy:\n{text}"
    );
}

/// An approved exception's identity, ticket, reason and approver are user
/// strings too: whatever they hold, the exception compiles to exactly one
/// policy (in the set and in its text), and it allows exactly the identity
/// it names — not one whose id differs in one character.
fn check_exception(identity: &str, ticket: &str, reason: &str) -> Result<(), TestCaseError> {
    use entitle::eval::{Engine, Evaluator, Oracle};
    use entitle::state::IdentityState;
    let yaml = format!(
        "identity:\n  attributes:\n    status: {{ type: string }}\napplications:\n  - id: a\n    entitlements: [{{ id: x }}]\nexceptions:\n  - id: EXC-1\n    identity: {}\n    entitlement: a:x\n    reason: {}\n    approved_by: {}\n    ticket: {}\n    expires: 2027-01-01\n",
        yaml_quoted(identity),
        yaml_quoted(reason),
        yaml_quoted(ticket),
        yaml_quoted(ticket)
    );
    let sources = Sources {
        roles: vec![SourceFile {
            name: "roles/x.yaml".into(),
            text: yaml.clone(),
        }],
        policies: vec![],
    };
    let project =
        std::sync::Arc::new(Project::from_sources(&sources).map_err(|f| TestCaseError::fail(format!("{:?}\n{yaml}", f.diagnostics)))?);
    let ids: Vec<String> = project.compiled.policies.policies().map(|p| p.id().to_string()).collect();
    prop_assert_eq!(&ids, &["exception:EXC-1".to_string()]);
    let reparsed = PolicySet::from_str(&project.compiled.policies_text)
        .map_err(|e| TestCaseError::fail(format!("compiled text does not parse: {e}")))?;
    prop_assert_eq!(reparsed.policies().count(), 1, "{}", project.compiled.policies_text);
    let at = entitle::Instant::parse("2026-11-21").map_err(TestCaseError::fail)?;
    let engine = Engine::new(project.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let oracle = Oracle::new(project.clone());
    for (id, holds) in [(identity.to_string(), true), (one_char_changed(identity), false)] {
        let Ok(state) = IdentityState::from_json(&json!({"id": id, "kind": "person", "attributes": {}}), &project.defs) else {
            continue;
        };
        for desired in [engine.desired(&state, None, at), oracle.desired(&state, None, at)] {
            let desired = desired.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(desired.holds("a:x"), holds, "identity {:?}", id);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_strings_in_an_exception_cannot_change_policy_structure(
        identity in hostile().prop_filter("an id a feed can hold", |s| entitle::state::check_id("id", s).is_ok()),
        ticket in hostile().prop_filter("not blank", |s| !s.trim().is_empty()),
        reason in hostile().prop_filter("not blank", |s| !s.trim().is_empty()),
    ) {
        check_exception(&identity, &ticket, &reason)?;
    }
}
