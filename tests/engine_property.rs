//! Property test: on random definitions (every condition operator, extends,
//! nested packages, assignable roles with `max_duration`, guardrails with and
//! without resource conditions, hand-written permits, escape hatches that can
//! error at run time) and random identity states (people and NHIs with known,
//! unknown and absent owners; assignments around their boundaries), the
//! engine returns exactly what the Cedar oracle returns.
//!
//! Guardrails are generated too: every scope form, `when`/`unless`, `!`,
//! `&&`, `||`, `if`, comparisons, arithmetic that overflows, sets, `like`,
//! `is`, `in` over roles, packages and applications, entities named by
//! literal (some not in the store, so reading them errs), Cedar's datetime
//! and duration extension (`offset`, `durationSince`, `toDate`, `toTime`,
//! `toDays` …, comparisons; offsets that overflow for some identities or
//! instants and not others), decimal and ipaddr, and Cedar-only constructs
//! (records, one of them reading a static entity by literal) — so both the
//! native guardrail path and the Cedar path are held to the oracle, errors
//! included. Invalid extension literals (`datetime("2026-13-01")`) and
//! constructors applied to attributes cannot be generated here: Cedar's
//! strict validation refuses them at load. `eval/native.rs` holds the native
//! path to Cedar on those directly, over random expressions.
//!
//! Approved exceptions are generated too: for an entitlement or a package,
//! for identities of the run and for one that is not, expiring around the
//! instants evaluated (so some are expired and some not, to the
//! millisecond), with a guardrail forbidding terminated identities
//! everything in some cases (so a guardrail overrides some exceptions);
//! `generated_exceptions_are_held_expired_and_overridden` checks each
//! happens.
//!
//! `ENTITLE_PROPTEST_CASES` sets the number of cases (default 2000).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use entitle::eval::condition::Outcome;
use entitle::eval::{Engine, Evaluator, Oracle};
use entitle::model::SourceFile;
use entitle::project::{Project, Sources};
use entitle::state::IdentityState;
use entitle::Instant;
use proptest::prelude::*;

/// A small deterministic generator, so a failing seed reproduces exactly.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn subset<T: Clone>(&mut self, items: &[T], percent: u64) -> Vec<T> {
        items.iter().filter(|_| self.chance(percent)).cloned().collect()
    }
}

const DEPTS: &[&str] = &["Eng", "Fin", "Ops", "E\"x"];
const TAGS: &[&str] = &["vip", "oncall", "x"];
const KINDS: &[&str] = &["person", "service_account", "agent"];
const T0: &str = "2026-01-01T00:00:00Z";

fn ents() -> Vec<String> {
    let mut out = Vec::new();
    for app in ["a", "b"] {
        for i in 0..4 {
            out.push(format!("{app}:e{i}"));
        }
    }
    out
}

fn attr_condition(g: &mut Gen, owner: bool) -> String {
    let prefix = if owner { "owner." } else { "" };
    match g.below(16) {
        0 => format!("{prefix}status: {}", g.pick(&["active", "leave", "terminated"])),
        1 => format!("{prefix}status: {{ in: [active, leave] }}"),
        2 => format!("{prefix}status: {{ not_in: [terminated] }}"),
        3 => format!("{prefix}dept: {{ not: {:?} }}", g.pick(DEPTS)),
        4 => format!("{prefix}dept: {:?}", g.pick(DEPTS)),
        5 => format!("{prefix}dept: {{ matches: {:?} }}", g.pick(&["E*", "*n*", "Fin", "*", "E\"*"])),
        6 => format!("{prefix}dept: {{ exists: {} }}", g.chance(50)),
        7 => format!("{prefix}tags: {{ contains: {} }}", g.pick(TAGS)),
        8 => format!("{prefix}tags: {}", g.pick(TAGS)),
        9 => format!("{prefix}tags: {{ in: [{}, x] }}", g.pick(TAGS)),
        10 => format!("{prefix}tags: {{ not_in: [{}] }}", g.pick(TAGS)),
        11 => format!("{prefix}level: {{ {}: {} }}", g.pick(&["gt", "gte", "lt", "lte"]), g.below(5)),
        12 => format!("{prefix}level: {{ gte: 1, lt: {} }}", g.below(5)),
        13 => format!(
            "{prefix}start: {{ {}: {} }}",
            g.pick(&["before", "after"]),
            g.pick(&["now", "\"2026-01-01\"", "\"2025-06-01T12:00:00Z\""])
        ),
        14 => format!("{prefix}flag: {}", g.chance(50)),
        _ => format!("{prefix}kind: {}", g.pick(KINDS)),
    }
}

fn condition(g: &mut Gen, depth: usize) -> String {
    if depth == 0 || g.chance(45) {
        return match g.below(10) {
            0 => format!(
                "cedar: '{}'",
                g.pick(&[
                    "principal has level && principal.level > 2",
                    "principal.kind == \"agent\"",
                    "principal has tags && principal.tags.contains(\"vip\")",
                    "principal has level && principal.level + 9223372036854775807 > 0",
                    "principal has start && principal.start < context.now",
                    "principal in Role::\"r0\"",
                    // Extension functions (native), one that overflows for late starts, a Cedar-only record,
                    // and one that errs unless `i1` is the identity or its owner.
                    "principal has start && principal.start < datetime(\"2026-01-01\")",
                    "principal has start && context.now.durationSince(principal.start) < duration(\"30d\")",
                    "principal has start && principal.start.offset(duration(\"9223370269629175807ms\")) > context.now",
                    "{a: principal.kind}.a == \"agent\"",
                    "Identity::\"i1\".kind == \"person\"",
                    "principal has owner && principal.owner has level && principal.owner.level * 4611686018427387904 > 1",
                ])
            ),
            1 => attr_condition(g, true),
            2 => format!("kind: {{ in: [{}, {}] }}", g.pick(KINDS), g.pick(KINDS)),
            _ => attr_condition(g, false),
        };
    }
    let n = 1 + g.below(3);
    let items: Vec<String> = (0..n).map(|_| format!("{{ {} }}", condition(g, depth - 1))).collect();
    match g.below(3) {
        0 => format!("all: [{}]", items.join(", ")),
        1 => format!("any: [{}]", items.join(", ")),
        _ => format!("not: {}", items[0]),
    }
}

fn definitions(g: &mut Gen) -> (String, String) {
    let ents = ents();
    let mut y = String::from(
        "identity:\n  attributes:\n    status: { type: enum, values: [active, leave, terminated] }\n    dept: { type: string }\n    level: { type: int }\n    start: { type: date }\n    tags: { type: set }\n    flag: { type: bool }\n    env: { type: enum, values: [dev, prod], kinds: [service_account, agent] }\n",
    );
    y.push_str("applications:\n");
    for app in ["a", "b"] {
        let _ = writeln!(y, "  - id: {app}\n    entitlements:");
        for i in 0..4 {
            let _ = writeln!(y, "      - {{ id: e{i}, privileged: {} }}", g.chance(30));
        }
    }
    y.push_str("packages:\n");
    for p in 0..4 {
        let _ = writeln!(y, "  - id: p{p}\n    entitlements: [{}]", g.subset(&ents, 25).join(", "));
        let nested: Vec<String> = (0..p).filter(|_| g.chance(35)).map(|q| format!("p{q}")).collect();
        let _ = writeln!(y, "    packages: [{}]", nested.join(", "));
    }
    y.push_str("roles:\n");
    for r in 0..6 {
        let _ = writeln!(y, "  - id: r{r}");
        let kinds = g.subset(&KINDS.iter().map(|k| k.to_string()).collect::<Vec<_>>(), 60);
        if !kinds.is_empty() {
            let _ = writeln!(y, "    kinds: [{}]", kinds.join(", "));
        }
        let parents: Vec<String> = (0..r).filter(|_| g.chance(25)).map(|q| format!("r{q}")).collect();
        let _ = writeln!(y, "    extends: [{}]", parents.join(", "));
        if g.chance(35) {
            let _ = writeln!(y, "    assignable: true");
            if g.chance(70) {
                let _ = writeln!(y, "    max_duration: {}", g.pick(&["1d", "7d", "12h"]));
            }
        }
        if g.chance(85) {
            let _ = writeln!(y, "    when: {{ {} }}", condition(g, 3));
        }
        let mut grants = g.subset(&(0..4).map(|p| format!("p{p}")).collect::<Vec<_>>(), 30);
        grants.extend(g.subset(&ents, 15));
        let _ = writeln!(y, "    grants: [{}]", grants.join(", "));
    }
    let exceptions = g.below(4);
    if exceptions > 0 {
        y.push_str("exceptions:\n");
    }
    for x in 0..exceptions {
        let identity = if g.chance(10) {
            "ghost".to_string()
        } else {
            format!("i{}", g.below(9))
        };
        let _ = writeln!(y, "  - id: x{x}\n    identity: {identity}");
        if g.chance(60) {
            let _ = writeln!(y, "    entitlement: {}", g.pick(&ents));
        } else {
            let _ = writeln!(y, "    package: p{}", g.below(4));
        }
        // Around the instants evaluated (t0, ±1 day, +1 hour, -1 ms).
        let expires = *g.pick(&[
            "2026-01-01",
            "2026-01-01T00:00:00.001Z",
            "2025-12-31T23:59:59.999Z",
            "2026-01-01T02:00:00Z",
            "2026-01-03",
            "2025-12-30",
        ]);
        let _ = writeln!(
            y,
            "    reason: r\n    approved_by: someone\n    ticket: T-{x}\n    approved_on: 2025-12-01\n    expires: \"{expires}\""
        );
    }
    let mut cedar = String::new();
    for i in 0..g.below(5) {
        let _ = writeln!(cedar, "{}", guardrail(g, i));
    }
    if exceptions > 0 && g.chance(40) {
        cedar.push_str(
            "@id(\"leavers\")\nforbid (principal, action, resource) when { principal has status && principal.status == \"terminated\" };\n",
        );
    }
    (y, cedar)
}

/// A leaf of a guardrail condition: every one type-checks under the schema
/// (optional attributes are read after `has`); some err at run time (overflow,
/// an identity entity that is not in the store), some are Cedar-only
/// (extension functions, records), the rest native.
fn guardrail_leaf(g: &mut Gen) -> String {
    let role = format!("r{}", g.below(6));
    let package = format!("p{}", g.below(4));
    let entitlement = format!("{}:e{}", g.pick(&["a", "b"]), g.below(4));
    let op = *g.pick(&["<", "<=", ">", ">=", "==", "!="]);
    match g.below(43) {
        0 => format!(
            "principal has status && principal.status == {:?}",
            g.pick(&["active", "leave", "terminated"])
        ),
        1 => "principal has status && principal.status != \"active\"".into(),
        2 => format!("principal has dept && principal.dept like {:?}", g.pick(&["E*", "*n", "F?n", "*"])),
        3 => format!(
            "principal has level && principal.level {} {}",
            g.pick(&["<", "<=", ">", ">=", "==", "!="]),
            g.below(5)
        ),
        4 => "principal has level && principal.level + 9223372036854775807 > 1".into(),
        5 => "principal has level && principal.level * 4611686018427387904 > 0".into(),
        6 => "principal has level && -principal.level < -2".into(),
        7 => format!("principal has tags && principal.tags.contains({:?})", g.pick(TAGS)),
        8 => "principal has tags && principal.tags.containsAny([\"vip\", \"x\"]) && !principal.tags.containsAll([\"vip\", \"x\"])".into(),
        9 => "principal has tags && principal.tags.isEmpty()".into(),
        10 => "principal has start && principal.start < context.now".into(),
        11 => "principal has start && principal.start < datetime(\"2026-01-01\")".into(),
        12 => "context.now > datetime(\"2026-01-01T12:00:00Z\")".into(),
        13 => "principal has flag && principal.flag".into(),
        14 => format!("principal.kind == {:?}", g.pick(KINDS)),
        15 => "principal has owner && principal.owner has status && principal.owner.status != \"active\"".into(),
        16 => format!("principal has owner && principal.owner in Role::{role:?} && principal.owner.kind == \"person\""),
        17 => format!("Identity::\"i{}\".kind == \"person\"", g.below(3)),
        18 => "Identity::\"ghost\".kind == \"agent\"".into(),
        19 => "resource.privileged".into(),
        20 => format!("resource.application == Application::{:?}", g.pick(&["a", "b"])),
        21 => format!("resource in Package::{package:?}"),
        22 => format!("resource in [Package::{package:?}, Package::\"p3\"]"),
        23 => format!("resource == Entitlement::{entitlement:?}"),
        24 => format!("Entitlement::{entitlement:?}.privileged"),
        25 => format!("principal in Role::{role:?}"),
        26 => "principal has env && principal.env == \"prod\"".into(),
        27 => "if principal has dept then principal.dept == \"Fin\" else principal.kind == \"agent\"".into(),
        28 => format!("[principal.kind, \"x\"].contains(\"agent\") && {{a: {}}}.a == 1", g.below(2)),
        // Datetime and duration: starts are midnights and one half past eleven; instants around them.
        29 | 30 => format!(
            "principal has start && principal.start.offset(duration({:?})) {op} context.now",
            g.pick(&["1d", "-1d", "12h", "30d", "1d1ms", "-24h", "23h59m59s999ms", "30m"])
        ),
        31 => format!(
            "principal has start && context.now.durationSince(principal.start) {op} duration({:?})",
            g.pick(&["0ms", "1d", "-1d", "214d", "30m", "-1ms"])
        ),
        32 => format!(
            "principal has start && context.now.durationSince(principal.start).{}() {op} {}",
            g.pick(&["toDays", "toHours", "toMinutes", "toSeconds", "toMilliseconds"]),
            g.pick(&["0", "1", "-1", "24", "214", "86400000"])
        ),
        33 => format!(
            "{} {op} {}",
            g.pick(&["context.now.toDate()", "context.now", "datetime(\"2026-01-01\")"]),
            g.pick(&[
                "context.now.toDate()",
                "context.now.offset(duration(\"-1ms\"))",
                "datetime(\"2025-12-31T23:30:00.250Z\")"
            ])
        ),
        34 => format!("context.now.toTime() {op} duration({:?})", g.pick(&["0ms", "1h", "23h59m59s999ms"])),
        35 => "principal has start && principal.start.toDate() != principal.start".into(),
        36 => "principal has start && [datetime(\"2026-01-01\"), datetime(\"2025-06-01\")].contains(principal.start)".into(),
        // Overflow: for starts after 2026-01-01, for instants after 2026-01-01, always.
        37 => "principal has start && principal.start.offset(duration(\"9223370269629175807ms\")) > context.now".into(),
        38 => format!(
            "{} && context.now.offset(duration(\"9223370269629175807ms\")) >= context.now",
            g.pick(&["true", "principal.kind == \"person\""])
        ),
        39 => "datetime(\"1970-01-01\").offset(duration(\"-9223372036854775808ms\")).toDate() < context.now".into(),
        40 => format!(
            "decimal(\"1.5\").lessThan(decimal({:?})) && ip(\"10.0.0.1\").isInRange(ip({:?}))",
            g.pick(&["1.4999", "1.5", "2.0"]),
            g.pick(&["10.0.0.0/8", "10.0.0.0/32", "::1"])
        ),
        // Cedar-only: a record holding a static entity read by literal (so the full store), or a duration.
        41 => match g.below(2) {
            0 => format!("{{e: Entitlement::{entitlement:?}}}.e.privileged"),
            _ => "principal has start && {d: duration(\"1d\")}.d < context.now.durationSince(principal.start)".into(),
        },
        _ => format!("principal is Identity && resource is Entitlement in Package::{package:?}"),
    }
}

fn guardrail_condition(g: &mut Gen, depth: usize) -> String {
    if depth == 0 || g.chance(50) {
        return guardrail_leaf(g);
    }
    match g.below(3) {
        0 => format!("!({})", guardrail_condition(g, depth - 1)),
        1 => format!("({}) && ({})", guardrail_condition(g, depth - 1), guardrail_condition(g, depth - 1)),
        _ => format!("({}) || ({})", guardrail_condition(g, depth - 1), guardrail_condition(g, depth - 1)),
    }
}

/// A random hand-written policy: forbids mostly, some permits (scoped to a
/// role, or marked unbounded), every scope form, `when` and `unless` clauses.
fn guardrail(g: &mut Gen, i: usize) -> String {
    let permit = g.chance(20);
    let principal = match g.below(6) {
        0..=2 => "principal".to_string(),
        3 => format!("principal in Role::\"r{}\"", g.below(6)),
        4 => format!("principal == Identity::\"i{}\"", g.below(4)),
        _ => format!("principal is Identity in Role::\"r{}\"", g.below(6)),
    };
    let action = g
        .pick(&["action", "action == Action::\"hold\"", "action in [Action::\"hold\"]"])
        .to_string();
    let resource = match g.below(7) {
        0..=2 => "resource".to_string(),
        3 => format!("resource in Package::\"p{}\"", g.below(4)),
        4 => format!("resource in Application::{:?}", g.pick(&["a", "b"])),
        5 => format!("resource == Entitlement::\"{}:e{}\"", g.pick(&["a", "b"]), g.below(4)),
        _ => format!("resource is Entitlement in Package::\"p{}\"", g.below(4)),
    };
    let mut text = format!("@id(\"g{i}\")\n");
    let unbounded = permit && (principal == "principal" || principal.starts_with("principal is"));
    if unbounded {
        text.push_str("@unbounded_permit(\"property test\")\n");
    }
    let effect = if permit { "permit" } else { "forbid" };
    let _ = write!(text, "{effect} ({principal}, {action}, {resource})");
    for _ in 0..g.below(3) {
        let kind = if g.chance(25) { "unless" } else { "when" };
        let _ = write!(text, " {kind} {{ {} }}", guardrail_condition(g, 2));
    }
    text.push(';');
    text
}

fn identities(g: &mut Gen, t0: Instant) -> Vec<serde_json::Value> {
    let n = 4 + g.below(6);
    let hour = 3_600_000;
    let mut out = Vec::new();
    for i in 0..n {
        let kind = *g.pick(KINDS);
        let mut attrs = serde_json::Map::new();
        if g.chance(80) {
            attrs.insert("status".into(), (*g.pick(&["active", "active", "leave", "terminated"])).into());
        }
        if g.chance(70) {
            attrs.insert("dept".into(), (*g.pick(DEPTS)).into());
        }
        if g.chance(60) {
            attrs.insert("level".into(), (g.below(5) as i64).into());
        }
        if g.chance(60) {
            attrs.insert(
                "start".into(),
                (*g.pick(&[
                    "2025-06-01",
                    "2026-01-01",
                    "2026-01-01T00:00:00Z",
                    "2026-03-01",
                    "2025-12-31T23:30:00.250Z",
                ]))
                .into(),
            );
        }
        if g.chance(60) {
            attrs.insert(
                "tags".into(),
                serde_json::Value::Array(g.subset(TAGS, 40).into_iter().map(|t| t.into()).collect()),
            );
        }
        if g.chance(40) {
            attrs.insert("flag".into(), g.chance(50).into());
        }
        if kind != "person" && g.chance(50) {
            attrs.insert("env".into(), (*g.pick(&["dev", "prod"])).into());
        }
        let mut record = serde_json::json!({"id": format!("i{i}"), "kind": kind, "attributes": attrs});
        if kind != "person" || g.chance(10) {
            match g.below(4) {
                0 => {}
                1 => record["owner"] = "ghost".into(),
                _ => record["owner"] = format!("i{}", g.below(n)).into(),
            }
        }
        let mut assignments = Vec::new();
        for _ in 0..g.below(3) {
            let starts = t0.0 + *g.pick(&[-48, -24, -1, 0, 1]) * hour;
            let mut a = serde_json::json!({"role": format!("r{}", g.below(6)), "starts": Instant(starts).to_rfc3339()});
            if g.chance(85) {
                let expires = starts + *g.pick(&[1, 12, 24, 25, 48, 24 * 7, 24 * 8]) * hour;
                a["expires"] = Instant(expires).to_rfc3339().into();
            }
            assignments.push(a);
        }
        record["assignments"] = serde_json::Value::Array(assignments);
        out.push(record);
    }
    out
}

fn run_case(seed: u64) -> Result<(), TestCaseError> {
    let mut g = Gen(seed | 1);
    let (yaml, cedar) = definitions(&mut g);
    let sources = Sources {
        roles: vec![SourceFile {
            name: "roles/gen.yaml".into(),
            text: yaml.clone(),
        }],
        policies: vec![SourceFile {
            name: "policies/gen.cedar".into(),
            text: cedar.clone(),
        }],
    };
    let project = match Project::from_sources(&sources) {
        Ok(p) => Arc::new(p),
        Err(f) => {
            return Err(TestCaseError::fail(format!(
                "seed {seed}: generated definitions do not load: {:?}\n{yaml}\n{cedar}",
                f.diagnostics
            )))
        }
    };
    let engine = Engine::new(project.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let oracle = Oracle::new(project.clone());
    let t0 = Instant::parse(T0).map_err(TestCaseError::fail)?;
    let records = identities(&mut g, t0);
    let states: Vec<IdentityState> = records
        .iter()
        .filter_map(|r| IdentityState::from_json(r, &project.defs).ok())
        .collect();
    let by_id: BTreeMap<&str, &IdentityState> = states.iter().map(|s| (s.id.as_str(), s)).collect();
    // On t0 (a midnight), a day either side, an hour after, a millisecond before.
    for offset in [0i64, -24 * 3_600_000, 24 * 3_600_000, 3_600_000, -1] {
        let at = Instant(t0.0 + offset);
        for s in &states {
            let owner = s.owner.as_deref().and_then(|o| by_id.get(o).copied());
            let fast = engine.desired(s, owner, at).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let slow = oracle.desired(s, owner, at).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&fast, &slow, "seed {} identity {:?} at {}\n{}\n{}", seed, s, at, yaml, cedar);
            // The walker's trace mode (coverage reads it) holds exactly the roles the engine holds.
            let mut traced = Vec::new();
            engine
                .trace_roles(s, owner, at, &mut |role, trace| {
                    if trace.outcome == Outcome::Holds {
                        traced.push(role);
                    }
                })
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                &traced[..],
                fast.role_ids(),
                "seed {} identity {:?} at {}: traced roles\n{}",
                seed,
                s,
                at,
                yaml
            );
            if offset == 0 {
                // The guardrails forbidding anything at all: once per class, as the oracle answers per entitlement.
                let c = project.catalog();
                let any: Vec<&str> = engine
                    .forbidding_any(s, owner, at)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?
                    .into_iter()
                    .map(|g| c.guardrails.name(g))
                    .collect();
                let mut expected = std::collections::BTreeSet::new();
                for (_, e) in c.entitlements.iter() {
                    expected.extend(oracle.forbidding(s, owner, at, e).map_err(|e| TestCaseError::fail(e.to_string()))?);
                }
                let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
                prop_assert_eq!(any, expected, "seed {} identity {:?}: forbidding_any\n{}\n{}", seed, s, yaml, cedar);
            }
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("ENTITLE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn engine_equals_oracle(seed in any::<u64>()) {
        run_case(seed)?;
    }
}

/// The generator is worth its cases: guardrails take both the native and the
/// Cedar path, native ones use datetime and duration arithmetic, Cedar-path
/// ones read static entities by literal, and permits and forbids both occur.
#[test]
fn generated_guardrails_take_both_paths() {
    use entitle::eval::GuardrailPath;
    let (mut native, mut cedar, mut permits) = (0, 0, 0);
    let (mut native_datetime, mut cedar_static_literal) = (0, 0);
    for seed in 1..400u64 {
        let mut g = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (yaml, policies) = definitions(&mut g);
        permits += policies.matches("permit (").count();
        // Each guardrail's text by `@id`.
        let texts: BTreeMap<String, String> = policies
            .split("@id(\"")
            .skip(1)
            .filter_map(|t| t.split_once('"').map(|(id, rest)| (id.to_string(), rest.to_string())))
            .collect();
        let sources = Sources {
            roles: vec![SourceFile {
                name: "roles/gen.yaml".into(),
                text: yaml,
            }],
            policies: vec![SourceFile {
                name: "policies/gen.cedar".into(),
                text: policies,
            }],
        };
        let project = Arc::new(Project::from_sources(&sources).unwrap_or_else(|f| panic!("seed {seed}: {:?}", f.diagnostics)));
        let engine = Engine::new(project).unwrap();
        for (id, path) in engine.guardrail_paths() {
            let text = texts.get(id).map_or("", String::as_str);
            match path {
                GuardrailPath::Native => {
                    native += 1;
                    native_datetime += usize::from(text.contains(".offset(") || text.contains(".durationSince("));
                }
                GuardrailPath::Cedar(_) => {
                    cedar += 1;
                    cedar_static_literal += usize::from(text.contains("{e: Entitlement::"));
                }
            }
        }
    }
    assert!(
        native > 200 && cedar > 30 && permits > 50 && native_datetime > 100 && cedar_static_literal > 10,
        "native {native} ({native_datetime} with datetime arithmetic), cedar {cedar} ({cedar_static_literal} reading a static entity by literal), permits {permits}"
    );
}

/// The generator is worth its cases for exceptions: some are held (a
/// justification names them), some have expired, and some are overridden by
/// a guardrail (the oracle forbids what the exception permits).
#[test]
fn generated_exceptions_are_held_expired_and_overridden() {
    let (mut held, mut expired, mut overridden) = (0, 0, 0);
    for seed in 1..300u64 {
        let mut g = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (yaml, policies) = definitions(&mut g);
        let sources = Sources {
            roles: vec![SourceFile {
                name: "roles/gen.yaml".into(),
                text: yaml,
            }],
            policies: vec![SourceFile {
                name: "policies/gen.cedar".into(),
                text: policies,
            }],
        };
        let project = Arc::new(Project::from_sources(&sources).unwrap_or_else(|f| panic!("seed {seed}: {:?}", f.diagnostics)));
        let oracle = Oracle::new(project.clone());
        let t0 = Instant::parse(T0).unwrap();
        let records = identities(&mut g, t0);
        let c = project.catalog();
        for r in &records {
            let Ok(s) = IdentityState::from_json(r, &project.defs) else {
                continue;
            };
            let mine = c.exceptions_of(&s.id);
            if mine.is_empty() {
                continue;
            }
            let desired = oracle.desired(&s, None, t0).unwrap();
            for x in mine {
                let info = c.exception(*x);
                if info.expires <= t0 {
                    expired += 1;
                    continue;
                }
                for e in info.entitlements.iter() {
                    let name = c.entitlements.name(*e);
                    if desired.forbidden_by(name).is_some() {
                        overridden += 1;
                    } else if desired
                        .justifications(name)
                        .is_some_and(|j| j.iter().any(|j| j.exception.is_some()))
                    {
                        held += 1;
                    }
                }
            }
        }
    }
    assert!(
        held > 30 && expired > 20 && overridden > 5,
        "held {held}, expired {expired}, overridden {overridden}"
    );
}
