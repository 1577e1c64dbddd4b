//! `conditions`: structured input decoded into roles with generated `when`
//! conditions (every operator, `all`/`any`/`not`, `owner.*`, `kind`) and
//! `cedar:` escape hatches from a small Cedar grammar (with, now and then,
//! raw bytes spliced in), plus now and then a generated guardrail; all over
//! a fixed identity schema and catalog, compiled through `Project::from_sources`.
//!
//! Invariants: no panic (on a 2 MiB stack); a failed load says why with an
//! error; a successful one compiles to Cedar that parses again and passes
//! Cedar's validator in strict mode, and to an engine that builds; and the
//! engine returns exactly what the oracle returns (spec §3) for a few fixed
//! identities at two instants — a differential fuzzer of the fast path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{PolicySet, ValidationMode, Validator};
use entitle::diag::Severity;
use entitle::eval::{Engine, Evaluator, Oracle};
use entitle::model::SourceFile;
use entitle::project::{Project, Sources};
use entitle::state::IdentityState;
use entitle::Instant;

use super::{on_small_stack, Bytes};

const SCHEMA: &str = "\
identity:
  kinds: [person, service_account, agent]
  attributes:
    status: { type: enum, values: [active, leave, terminated], required: true }
    dept: { type: string }
    level: { type: int }
    start: { type: date }
    tags: { type: set }
    flag: { type: bool }
    env: { type: enum, values: [dev, prod], kinds: [service_account, agent] }
applications:
  - id: a
    entitlements: [{ id: e0 }, { id: e1, privileged: true }]
  - id: b
    entitlements: [{ id: e0 }, { id: e1, privileged: true }]
packages:
  - id: p0
    entitlements: [a:e0, b:e0]
  - id: p1
    entitlements: [a:e1]
    packages: [p0]
";

const GRANTS: &[&str] = &["p0", "p1", "a:e0", "a:e1", "b:e0", "b:e1"];
const KINDS: &[&str] = &["person", "service_account", "agent", "robot"];
const DEPTS: &[&str] = &["Eng", "Fin", "E\"x", "a\\b", "ü", "Eng ", "", "E*", "*", "%", "Fin'"];
const TAGS: &[&str] = &["vip", "oncall", "x", "", "VIP"];
const INTS: &[i64] = &[0, 1, 2, 3, -1, i64::MAX, i64::MIN];
const DATES: &[&str] = &[
    "2026-01-01",
    "2025-06-01T12:00:00Z",
    "2026-01-01T00:00:00+14:00",
    "2026-01-02",
    "0001-01-01",
    "9999-12-31",
    "2026-13-01",
];
const GLOBS: &[&str] = &["E*", "*n*", "Fin", "*", "**", "E\"*", "a\\*", "*\\", "E?"];
const STATUSES: &[&str] = &["active", "leave", "terminated", "gone"];
const T0: &str = "2026-01-01T00:00:00Z";

/// The identities every compiled input is evaluated for: people and
/// non-human identities with a known, an unknown and a terminated owner,
/// attributes present and absent, values at the edges.
const IDENTITIES: &[&str] = &[
    r#"{"id": "i0", "kind": "person", "attributes": {"status": "active", "dept": "Eng", "level": 2, "start": "2025-06-01", "tags": ["vip", "x"], "flag": true}, "assignments": [{"role": "r1", "starts": "2025-12-31T00:00:00Z", "expires": "2026-01-01T12:00:00Z"}, {"role": "r3", "starts": "2025-12-01T00:00:00Z"}]}"#,
    r#"{"id": "i1", "kind": "person", "attributes": {"status": "leave", "dept": "Fin", "level": 9223372036854775807, "start": "2026-01-01T00:00:00Z", "tags": []}}"#,
    r#"{"id": "i2", "kind": "person", "attributes": {"status": "terminated", "dept": "E\"x", "level": -9223372036854775808, "flag": false}, "assignments": [{"role": "r2", "starts": "2026-01-01T00:00:00Z", "expires": "2026-01-08T00:00:00Z"}]}"#,
    r#"{"id": "i3", "kind": "service_account", "owner": "i0", "attributes": {"status": "active", "env": "prod", "dept": "ü", "tags": ["oncall"]}, "assignments": [{"role": "r0", "starts": "2025-01-01T00:00:00Z", "expires": "2027-01-01T00:00:00Z"}]}"#,
    r#"{"id": "i4", "kind": "agent", "owner": "ghost", "attributes": {"status": "active", "env": "dev", "level": 0}}"#,
    r#"{"id": "i5", "kind": "agent", "owner": "i2", "attributes": {"status": "active", "start": "2026-01-02", "dept": "a\\b"}, "assignments": [{"role": "r1", "starts": "2026-01-01T00:00:00Z"}]}"#,
];

fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// A YAML scalar for a string: usually from a pool, now and then raw bytes.
fn string_value(b: &mut Bytes<'_>, pool: &[&str]) -> String {
    if b.chance(8) {
        quoted(&b.text(6))
    } else {
        quoted(b.pick::<&str>(pool))
    }
}

fn int_value(b: &mut Bytes<'_>) -> String {
    match b.below(10) {
        0 => quoted(&b.pick(INTS).to_string()),
        1 => format!("{}", i64::from(b.byte() as i8) * 1_000_003),
        _ => b.pick(INTS).to_string(),
    }
}

fn date_value(b: &mut Bytes<'_>, allow_now: bool) -> String {
    if allow_now && b.chance(25) {
        return "now".into();
    }
    if b.chance(5) {
        return quoted(&b.text(25));
    }
    quoted(b.pick::<&str>(DATES))
}

fn list(b: &mut Bytes<'_>, item: impl Fn(&mut Bytes<'_>) -> String) -> String {
    let n = if b.chance(5) { 0 } else { 1 + b.below(3) };
    let items: Vec<String> = (0..n).map(|_| item(b)).collect();
    format!("[{}]", items.join(", "))
}

/// One attribute test, `attr: ...`, mostly well-typed.
fn attr_test(b: &mut Bytes<'_>, prefix: &str) -> String {
    match b.below(8) {
        0 => {
            let value = match b.below(6) {
                0 => format!("{{ in: {} }}", list(b, |b| string_value(b, STATUSES))),
                1 => format!("{{ not_in: {} }}", list(b, |b| string_value(b, STATUSES))),
                2 => format!("{{ not: {} }}", string_value(b, STATUSES)),
                3 => format!("{{ matches: {} }}", string_value(b, GLOBS)),
                _ => string_value(b, STATUSES),
            };
            format!("{prefix}status: {value}")
        }
        1 => {
            let value = match b.below(7) {
                0 => format!("{{ in: {} }}", list(b, |b| string_value(b, DEPTS))),
                1 => format!("{{ not_in: {} }}", list(b, |b| string_value(b, DEPTS))),
                2 => format!("{{ not: {} }}", string_value(b, DEPTS)),
                3 => format!("{{ matches: {} }}", string_value(b, GLOBS)),
                4 => format!("{{ exists: {} }}", b.chance(50)),
                _ => string_value(b, DEPTS),
            };
            format!("{prefix}dept: {value}")
        }
        2 => {
            let op = *b.pick(&["gt", "gte", "lt", "lte", "in", "not_in", "not", "eq", "exists", "matches"]);
            let value = match op {
                "in" | "not_in" => format!("{{ {op}: {} }}", list(b, int_value)),
                "eq" => int_value(b),
                "exists" => format!("{{ exists: {} }}", b.chance(50)),
                "matches" => format!("{{ matches: {} }}", string_value(b, GLOBS)),
                _ if b.chance(20) => format!(
                    "{{ {op}: {}, {}: {} }}",
                    int_value(b),
                    b.pick(&["gt", "gte", "lt", "lte"]),
                    int_value(b)
                ),
                _ => format!("{{ {op}: {} }}", int_value(b)),
            };
            format!("{prefix}level: {value}")
        }
        3 => {
            let op = *b.pick(&["before", "after", "gt", "gte", "lt", "lte", "exists", "not", "eq"]);
            let value = match op {
                "exists" => format!("{{ exists: {} }}", b.chance(50)),
                "eq" => date_value(b, false),
                "not" => format!("{{ not: {} }}", date_value(b, false)),
                _ => format!("{{ {op}: {} }}", date_value(b, true)),
            };
            format!("{prefix}start: {value}")
        }
        4 => {
            let value = match b.below(6) {
                0 => format!("{{ contains: {} }}", string_value(b, TAGS)),
                1 => format!("{{ in: {} }}", list(b, |b| string_value(b, TAGS))),
                2 => format!("{{ not_in: {} }}", list(b, |b| string_value(b, TAGS))),
                3 => format!("{{ not: {} }}", string_value(b, TAGS)),
                4 => format!("{{ exists: {} }}", b.chance(50)),
                _ => string_value(b, TAGS),
            };
            format!("{prefix}tags: {value}")
        }
        5 => {
            let value = match b.below(4) {
                0 => format!("{{ not: {} }}", b.chance(50)),
                1 => format!("{{ exists: {} }}", b.chance(50)),
                2 => (*b.pick(&["yes", "\"true\"", "1"])).to_string(),
                _ => b.chance(50).to_string(),
            };
            format!("{prefix}flag: {value}")
        }
        6 => {
            let value = match b.below(4) {
                0 => format!("{{ in: {} }}", list(b, |b| string_value(b, &["dev", "prod", "test"]))),
                1 => format!("{{ exists: {} }}", b.chance(50)),
                _ => string_value(b, &["dev", "prod"]),
            };
            format!("{prefix}env: {value}")
        }
        _ => {
            let value = if b.chance(50) {
                format!("{{ in: {} }}", list(b, |b| (*b.pick(&KINDS[..3])).to_string()))
            } else if b.chance(90) {
                (*b.pick(&KINDS[..3])).to_string()
            } else {
                (*b.pick(KINDS)).to_string()
            };
            format!("{prefix}kind: {value}")
        }
    }
}

/// A Cedar string literal (Cedar's escapes are Rust's).
fn cedar_string(b: &mut Bytes<'_>) -> String {
    let text = if b.chance(10) {
        b.text(5)
    } else {
        (*b.pick(&["Eng", "E\"x", "a\\b", "vip", "ü", "", "E*", "\0"])).to_string()
    };
    format!("\"{}\"", text.escape_default())
}

/// A Cedar boolean expression that type-checks against the schema (mostly):
/// attribute reads guarded by `has`, comparisons with values at the edges,
/// arithmetic that can overflow (an error at run time), role membership.
fn cedar_bool(b: &mut Bytes<'_>, depth: usize) -> String {
    if depth == 0 || b.chance(40) {
        let int = |b: &mut Bytes<'_>| {
            if b.chance(70) {
                b.pick(INTS).to_string()
            } else {
                (i64::from(b.byte()) - 128).to_string()
            }
        };
        let cmp = |b: &mut Bytes<'_>| *b.pick(&["==", "!=", "<", "<=", ">", ">="]);
        return match b.below(16) {
            0 => format!("principal has level && principal.level {} {}", cmp(b), int(b)),
            1 => format!(
                "principal has level && principal.level {} {} {} {}",
                b.pick(&["+", "-", "*"]),
                int(b),
                cmp(b),
                int(b)
            ),
            2 => format!("principal has dept && principal.dept {} {}", b.pick(&["==", "!="]), cedar_string(b)),
            3 => format!(
                "principal has dept && principal.dept like \"{}\"",
                b.pick(&["E*", "*", "\\*x", "a\\\\b", "*n*", ""])
            ),
            4 => format!("principal has tags && principal.tags.contains({})", cedar_string(b)),
            5 => format!(
                "principal has start && principal.start {} {}",
                cmp(b),
                b.pick(&[
                    "context.now",
                    "context.now.offset(duration(\"-1d\"))",
                    "datetime(\"2026-01-01\")",
                    "datetime(\"2025-06-01T12:00:00Z\")"
                ])
            ),
            6 => format!("principal.kind == \"{}\"", b.pick(&KINDS[..3])),
            7 => format!("principal.status {} \"{}\"", b.pick(&["==", "!="]), b.pick(STATUSES)),
            8 => format!(
                "principal has owner && principal.owner has {0} && principal.owner.{0} == {1}",
                b.pick(&["status", "dept"]),
                cedar_string(b)
            ),
            9 => format!("principal in Role::\"r{}\"", b.below(5)),
            10 => "principal has flag && principal.flag".into(),
            11 => format!(
                "principal has {}",
                b.pick(&["level", "dept", "tags", "start", "flag", "env", "owner"])
            ),
            12 => format!("principal has env && principal.env == \"{}\"", b.pick(&["dev", "prod"])),
            13 => format!(
                "principal has tags && principal.tags.{}([{}])",
                b.pick(&["containsAll", "containsAny"]),
                cedar_string(b)
            ),
            14 => (*b.pick(&["true", "false"])).into(),
            _ => format!("principal has owner && principal.owner.kind == \"{}\"", b.pick(&KINDS[..3])),
        };
    }
    let d = depth - 1;
    match b.below(6) {
        0 | 1 => format!("{} && {}", cedar_bool(b, d), cedar_bool(b, d)),
        2 | 3 => format!("({} || {})", cedar_bool(b, d), cedar_bool(b, d)),
        4 => format!("!({})", cedar_bool(b, d)),
        _ => format!("(if {} then {} else {})", cedar_bool(b, d), cedar_bool(b, d), cedar_bool(b, d)),
    }
}

/// Any Cedar expression, often ill-typed or not Cedar at all (to depth `depth`).
fn cedar_expr(b: &mut Bytes<'_>, depth: usize) -> String {
    if depth == 0 || b.chance(35) {
        return match b.below(24) {
            0 => "principal.level".into(),
            1 => "principal.dept".into(),
            2 => "principal.tags".into(),
            3 => "principal.start".into(),
            4 => "principal.flag".into(),
            5 => "principal.status".into(),
            6 => "principal.kind".into(),
            7 => "principal.owner".into(),
            8 => "principal.owner.status".into(),
            9 => "context.now".into(),
            10 => format!(
                "principal has {}",
                b.pick(&["level", "dept", "tags", "start", "flag", "env", "owner", "nope"])
            ),
            11 => b.pick(INTS).to_string(),
            12 => (i64::from(b.byte()) - 128).to_string(),
            13 => cedar_string(b),
            14 => (*b.pick(&["true", "false"])).into(),
            15 => format!("Role::\"r{}\"", b.below(5)),
            16 => format!("Entitlement::\"{}\"", b.pick(&["a:e0", "b:e1", "zz"])),
            17 => format!("[{}]", (0..b.below(3)).map(|_| cedar_string(b)).collect::<Vec<_>>().join(", ")),
            18 => format!(
                "datetime(\"{}\")",
                b.pick(&["2026-01-01", "2025-06-01T12:00:00Z", "2026-01-01T00:00:00.000+1400", "bad"])
            ),
            19 => format!("duration(\"{}\")", b.pick(&["1d", "-1h", "0ms", "1x"])),
            20 => "principal".into(),
            21 => format!("principal.owner has {}", b.pick(&["status", "dept"])),
            22 => b.text(8),
            _ => format!("Application::\"{}\"", b.pick(&["a", "b"])),
        };
    }
    let d = depth - 1;
    match b.below(16) {
        0 => format!("{} && {}", cedar_expr(b, d), cedar_expr(b, d)),
        1 => format!("{} || {}", cedar_expr(b, d), cedar_expr(b, d)),
        2 => format!("!{}", cedar_expr(b, d)),
        3 => format!("({})", cedar_expr(b, d)),
        4 => format!(
            "{} {} {}",
            cedar_expr(b, d),
            b.pick(&["==", "!=", "<", "<=", ">", ">="]),
            cedar_expr(b, d)
        ),
        5 => format!("{} {} {}", cedar_expr(b, d), b.pick(&["+", "-", "*"]), cedar_expr(b, d)),
        6 => format!("-{}", cedar_expr(b, d)),
        7 => format!("{} in {}", cedar_expr(b, d), cedar_expr(b, d)),
        8 => format!(
            "{}.{}({})",
            cedar_expr(b, d),
            b.pick(&["contains", "containsAll", "containsAny"]),
            cedar_expr(b, d)
        ),
        9 => format!("{} like \"{}\"", cedar_expr(b, d), b.pick(&["E*", "*", "\\*x", "a\\\\b"])),
        10 => format!("if {} then {} else {}", cedar_expr(b, d), cedar_expr(b, d), cedar_expr(b, d)),
        11 => format!("{} is {}", cedar_expr(b, d), b.pick(&["Identity", "Role", "Entitlement"])),
        12 => format!(
            "{}.{}",
            cedar_expr(b, d),
            b.pick(&["toDate()", "offset(duration(\"1d\"))", "toDays()", "isEmpty()"])
        ),
        13 => format!(
            "{}.{}({})",
            cedar_expr(b, d),
            b.pick(&["lessThan", "greaterThan"]),
            cedar_expr(b, d)
        ),
        14 => format!("{} {}", cedar_expr(b, d), b.text(6)),
        _ => format!(
            "principal has {} && {}",
            b.pick(&["level", "dept", "tags", "start", "flag", "owner"]),
            cedar_expr(b, d)
        ),
    }
}

/// A condition map body (`key: value` entries of a flow map), to depth `depth`.
fn condition(b: &mut Bytes<'_>, depth: usize) -> String {
    if depth == 0 || b.chance(40) {
        return match b.below(10) {
            0 | 1 if b.chance(85) => format!("cedar: {}", quoted(&cedar_bool(b, 3))),
            0 | 1 => format!("cedar: {}", quoted(&cedar_expr(b, 3))),
            2 => attr_test(b, "owner."),
            _ => attr_test(b, ""),
        };
    }
    let n = b.below(4);
    let items: Vec<String> = (0..n).map(|_| format!("{{ {} }}", condition(b, depth - 1))).collect();
    match b.below(4) {
        0 => format!("all: [{}]", items.join(", ")),
        1 => format!("any: [{}]", items.join(", ")),
        2 => format!("not: {{ {} }}", condition(b, depth - 1)),
        _ => format!("{}, {}", condition(b, depth - 1), condition(b, depth - 1)),
    }
}

/// The role definitions and guardrails an input decodes to.
pub fn decode(data: &[u8]) -> (String, String) {
    let mut b = Bytes::new(data);
    let mut yaml = String::from(SCHEMA);
    yaml.push_str("roles:\n");
    let roles = 1 + b.below(4);
    for r in 0..roles {
        let _ = writeln!(yaml, "  - id: r{r}");
        if b.chance(30) {
            let kinds: Vec<&str> = KINDS[..3].iter().copied().filter(|_| b.chance(60)).collect();
            let _ = writeln!(yaml, "    kinds: [{}]", kinds.join(", "));
        }
        if r > 0 && b.chance(25) {
            let _ = writeln!(yaml, "    extends: [r{}]", b.below(r));
        }
        if b.chance(30) {
            let _ = writeln!(yaml, "    assignable: true");
            if b.chance(60) {
                let _ = writeln!(yaml, "    max_duration: {}", b.pick(&["1d", "7d", "12h", "1d", "7d", "12h", "0d"]));
            }
        }
        if b.chance(90) {
            let _ = writeln!(yaml, "    when: {{ {} }}", condition(&mut b, 3));
        }
        let grants: Vec<&str> = GRANTS.iter().copied().filter(|_| b.chance(35)).collect();
        let _ = writeln!(yaml, "    grants: [{}]", grants.join(", "));
    }
    let mut cedar = String::new();
    let guardrails = if b.chance(50) { b.below(3) } else { 0 };
    for g in 0..guardrails {
        let scope = *b.pick(&[
            "resource",
            "resource in Application::\"a\"",
            "resource == Entitlement::\"a:e1\"",
            "resource in Package::\"p0\"",
        ]);
        let resource_test = *b.pick(&["true", "resource.privileged", "!resource.privileged"]);
        if b.chance(15) {
            let _ = writeln!(
                cedar,
                "@id(\"g{g}\")\n@unbounded_permit(\"fuzz\")\npermit (principal, action, {scope}) when {{ {} }};",
                cedar_bool(&mut b, 2)
            );
        } else {
            let _ = writeln!(
                cedar,
                "@id(\"g{g}\")\nforbid (principal, action, {scope}) when {{ {} && {resource_test} }};",
                if b.chance(85) {
                    cedar_bool(&mut b, 2)
                } else {
                    cedar_expr(&mut b, 2)
                }
            );
        }
    }
    (yaml, cedar)
}

/// Checks one input.
pub fn check(data: &[u8]) {
    let (yaml, cedar) = decode(data);
    on_small_stack(|| check_decoded(&yaml, &cedar));
}

fn check_decoded(yaml: &str, cedar: &str) {
    let sources = Sources {
        roles: vec![SourceFile {
            name: "roles/fuzz.yaml".into(),
            text: yaml.into(),
        }],
        policies: if cedar.is_empty() {
            vec![]
        } else {
            vec![SourceFile {
                name: "policies/fuzz.cedar".into(),
                text: cedar.into(),
            }]
        },
    };
    let project = match Project::from_sources(&sources) {
        Ok(project) => Arc::new(project),
        Err(failure) => {
            assert!(
                failure.diagnostics.iter().any(|d| d.severity == Severity::Error),
                "a failed load without an error: {:?}",
                failure.diagnostics
            );
            return;
        }
    };
    let compiled = &project.compiled;
    let validation = Validator::new(compiled.schema.clone()).validate(&compiled.policies, ValidationMode::Strict);
    assert!(
        validation.validation_passed(),
        "compiled policies fail strict validation: {:?}\n{}",
        validation.validation_errors().map(ToString::to_string).collect::<Vec<_>>(),
        compiled.policies_text
    );
    let reparsed = PolicySet::from_str(&compiled.policies_text)
        .unwrap_or_else(|e| panic!("policy text does not parse again: {e}\n{}", compiled.policies_text));
    assert_eq!(
        reparsed.policies().count(),
        compiled.policies.policies().count(),
        "policy text and policy set differ"
    );
    let engine = Engine::new(project.clone()).unwrap_or_else(|e| panic!("the engine does not build: {e}\n{yaml}\n{cedar}"));
    let oracle = Oracle::new(project.clone());
    let states: Vec<IdentityState> = IDENTITIES
        .iter()
        .map(|text| {
            let mut record: serde_json::Value = serde_json::from_str(text).expect("a fixed record is JSON");
            // Assignments of roles this input does not make assignable would make the record invalid.
            if let Some(serde_json::Value::Array(assignments)) = record.get_mut("assignments") {
                assignments.retain(|a| {
                    let role = a["role"].as_str().unwrap_or_default();
                    project.defs.roles.get(role).is_some_and(|r| r.assignable)
                });
            }
            IdentityState::from_json(&record, &project.defs).unwrap_or_else(|e| panic!("fixed record invalid: {e}"))
        })
        .collect();
    let by_id: BTreeMap<&str, &IdentityState> = states.iter().map(|s| (s.id.as_str(), s)).collect();
    let t0 = Instant::parse(T0).expect("a fixed instant");
    for at in [t0, Instant(t0.0 + 36 * 3_600_000)] {
        for state in &states {
            let owner = state.owner.as_deref().and_then(|o| by_id.get(o).copied());
            let fast = engine.desired(state, owner, at);
            let slow = oracle.desired(state, owner, at);
            assert!(
                fast == slow,
                "engine and oracle differ for `{}` at {at}:\nengine: {fast:?}\noracle: {slow:?}\n--- roles\n{yaml}--- guardrails\n{cedar}",
                state.id
            );
        }
    }
}
