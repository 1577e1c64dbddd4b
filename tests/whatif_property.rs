//! Property test: incremental what-if equals full what-if. On random
//! definitions (conditions over every operator and the owner, extends,
//! nested packages, assignable roles, privileged entitlements, forbids and
//! permits reading roles, packages, applications and privilege, SoD rules) and
//! a random population, one random change is made to the definitions — a
//! role's condition, grants, kinds, assignment rules or place in the
//! hierarchy, a role added or removed, a package's contents, an
//! entitlement's privilege, a guardrail, an SoD rule, an approved exception
//! (added, removed, or naming another identity, target or expiry), or
//! nothing but the order of the roles in the file — and the comparison evaluated over the
//! scope `whatif::scope::between` bounds must equal the comparison over
//! everyone, in every field but `evaluation`.
//!
//! `ENTITLE_PROPTEST_CASES` sets the number of cases (default 600); a case
//! counts only when the comparison was incremental (definitions that do not
//! load and changes that fall back to everyone are rejected), so 600 cases
//! are 600 random policy changes bounded by the scope and checked against
//! the full comparison.

use std::fmt::Write as _;
use std::sync::Arc;

use entitle::eval::Engine;
use entitle::io::identities::parse_identities;
use entitle::model::SourceFile;
use entitle::population::Population;
use entitle::project::{Project, Sources};
use entitle::whatif::{compare, scope, EvaluationMode, Scope, State, WhatIf};
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

const DEPTS: &[&str] = &["Eng", "Fin", "Ops"];
const KINDS: &[&str] = &["person", "service_account", "agent"];
const ENTS: &[&str] = &["a:e0", "a:e1", "a:e2", "a:e3", "b:e0", "b:e1", "b:e2", "b:e3"];

fn attr_condition(g: &mut Gen) -> String {
    let prefix = if g.chance(15) { "owner." } else { "" };
    match g.below(10) {
        0 => format!("{prefix}status: {}", g.pick(&["active", "leave", "terminated"])),
        1 => format!("{prefix}status: {{ in: [active, leave] }}"),
        2 => format!("{prefix}dept: {}", g.pick(DEPTS)),
        3 => format!("{prefix}dept: {{ in: [{}, {}] }}", g.pick(DEPTS), g.pick(DEPTS)),
        4 => format!("{prefix}dept: {{ matches: \"{}*\" }}", g.pick(&["E", "F", "O"])),
        5 => format!("{prefix}dept: {{ not: {} }}", g.pick(DEPTS)),
        6 => format!("{prefix}level: {{ {}: {} }}", g.pick(&["gt", "lt"]), g.below(4)),
        7 => format!("{prefix}tags: {}", g.pick(&["vip", "oncall"])),
        8 => format!("{prefix}start: {{ {}: now }}", g.pick(&["before", "after"])),
        _ => format!("kind: {}", g.pick(KINDS)),
    }
}

fn condition(g: &mut Gen, depth: usize) -> String {
    if depth == 0 || g.chance(50) {
        if g.chance(5) {
            return format!(
                "cedar: '{}'",
                g.pick(&["principal in Role::\"r0\"", "principal has level && principal.level > 1"])
            );
        }
        return attr_condition(g);
    }
    let items: Vec<String> = (0..1 + g.below(2)).map(|_| format!("{{ {} }}", condition(g, depth - 1))).collect();
    match g.below(3) {
        0 => format!("all: [{}]", items.join(", ")),
        1 => format!("any: [{}]", items.join(", ")),
        _ => format!("not: {}", items[0]),
    }
}

#[derive(Debug, Clone)]
struct Role {
    id: String,
    kinds: Vec<String>,
    extends: Vec<String>,
    assignable: bool,
    max_duration: Option<&'static str>,
    when: Option<String>,
    grants: Vec<String>,
}

#[derive(Debug, Clone)]
struct Model {
    privileged: Vec<bool>,
    packages: Vec<(Vec<String>, Vec<String>)>,
    roles: Vec<Role>,
    guardrails: Vec<String>,
    sod: Vec<(String, String)>,
    /// Approved exceptions: identity, entitlement or package, expiry.
    exceptions: Vec<(String, String, &'static str)>,
}

fn exception(g: &mut Gen) -> (String, String, &'static str) {
    let target = if g.chance(60) {
        g.pick(ENTS).to_string()
    } else {
        format!("p{}", g.below(3))
    };
    let expires = *g.pick(&["2026-01-01T12:00:00Z", "2026-01-02", "2026-01-02T00:00:00.001Z", "2026-02-01"]);
    (format!("i{}", g.below(10)), target, expires)
}

fn guardrail(g: &mut Gen) -> String {
    match g.below(8) {
        0 => "forbid (principal, action, resource) when { principal has status && principal.status == \"terminated\" };".into(),
        1 => "forbid (principal, action, resource) when { resource.privileged && principal has dept && principal.dept == \"Ops\" };".into(),
        2 => format!("forbid (principal, action, resource in Package::\"p{}\") when {{ principal.kind == \"agent\" }};", g.below(3)),
        3 => format!("forbid (principal in Role::\"r{}\", action, resource) when {{ resource.application == Application::\"b\" }};", g.below(6)),
        4 => "forbid (principal, action, resource) when { principal has owner && principal.owner has status && principal.owner.status != \"active\" };".into(),
        5 => format!("permit (principal in Role::\"r{}\", action, resource in Package::\"p{}\");", g.below(6), g.below(3)),
        6 => format!("forbid (principal, action, resource == Entitlement::\"{}\") when {{ principal has level && principal.level > 2 }};", g.pick(ENTS)),
        _ => "forbid (principal, action, resource) when { principal has start && principal.start > context.now };".into(),
    }
}

fn role(g: &mut Gen, id: String, below: usize) -> Role {
    let assignable = g.chance(25);
    Role {
        id,
        kinds: g.subset(&KINDS.iter().map(|k| k.to_string()).collect::<Vec<_>>(), 60),
        extends: (0..below).filter(|_| g.chance(20)).map(|q| format!("r{q}")).collect(),
        assignable,
        max_duration: (assignable && g.chance(60)).then(|| *g.pick(&["1d", "7d"])),
        when: g.chance(90).then(|| condition(g, 2)),
        grants: grants(g),
    }
}

fn grants(g: &mut Gen) -> Vec<String> {
    let mut out = g.subset(&["p0", "p1", "p2"].map(String::from), 30);
    out.extend(g.subset(&ENTS.iter().map(|e| e.to_string()).collect::<Vec<_>>(), 15));
    out
}

impl Model {
    fn random(g: &mut Gen) -> Model {
        let ents: Vec<String> = ENTS.iter().map(|e| e.to_string()).collect();
        Model {
            privileged: (0..ENTS.len()).map(|_| g.chance(30)).collect(),
            packages: (0..3)
                .map(|p| {
                    (
                        g.subset(&ents, 25),
                        (0..p).filter(|_| g.chance(35)).map(|q| format!("p{q}")).collect(),
                    )
                })
                .collect(),
            roles: (0..6).map(|r| role(g, format!("r{r}"), r)).collect(),
            guardrails: (0..g.below(3)).map(|_| guardrail(g)).collect(),
            sod: (0..g.below(2))
                .map(|_| (g.pick(ENTS).to_string(), format!("p{}", g.below(3))))
                .collect(),
            exceptions: (0..g.below(3)).map(|_| exception(g)).collect(),
        }
    }

    /// One random change; its name, for the failure message.
    fn change(&mut self, g: &mut Gen) -> &'static str {
        let r = g.below(self.roles.len());
        match g.below(14) {
            0 => {
                self.roles[r].when = Some(condition(g, 2));
                "a role's condition"
            }
            1 => {
                self.roles[r].grants = grants(g);
                "a role's grants"
            }
            2 => {
                self.roles[r].kinds = g.subset(&KINDS.iter().map(|k| k.to_string()).collect::<Vec<_>>(), 60);
                "a role's kinds"
            }
            3 => {
                let role = &mut self.roles[r];
                role.assignable = !role.assignable;
                role.max_duration = (role.assignable && g.chance(50)).then_some("7d");
                "a role's assignment rules"
            }
            4 => {
                let below = r;
                self.roles[r].extends = (0..below).filter(|_| g.chance(40)).map(|q| format!("r{q}")).collect();
                "a role's place in the hierarchy"
            }
            5 => {
                let id = format!("r{}", self.roles.len());
                let new = role(g, id, self.roles.len());
                self.roles.push(new);
                "a role added"
            }
            6 => {
                // The last role: nothing extends it (extends point to lower numbers).
                let gone = self.roles.pop().map(|r| r.id).unwrap_or_default();
                for g in &mut self.guardrails {
                    if g.contains(&format!("Role::\"{gone}\"")) {
                        *g = "forbid (principal, action, resource) when { principal.kind == \"agent\" && resource.privileged };".into();
                    }
                }
                "a role removed"
            }
            7 => {
                let p = g.below(self.packages.len());
                self.packages[p].0 = g.subset(&ENTS.iter().map(|e| e.to_string()).collect::<Vec<_>>(), 30);
                "a package's entitlements"
            }
            8 => {
                let e = g.below(self.privileged.len());
                self.privileged[e] = !self.privileged[e];
                "an entitlement's privilege"
            }
            9 => {
                if self.guardrails.is_empty() || g.chance(50) {
                    self.guardrails.push(guardrail(g));
                } else {
                    self.guardrails.remove(0);
                }
                "a guardrail"
            }
            10 => {
                self.sod.push((g.pick(ENTS).to_string(), g.pick(ENTS).to_string()));
                "an SoD rule"
            }
            11 => {
                self.roles.reverse();
                "the order of the roles (nothing else)"
            }
            13 => {
                if self.exceptions.is_empty() || g.chance(40) {
                    self.exceptions.push(exception(g));
                } else if g.chance(40) {
                    self.exceptions.remove(0);
                } else {
                    let changed = exception(g);
                    let x = g.below(self.exceptions.len());
                    match g.below(3) {
                        0 => self.exceptions[x].0 = changed.0,
                        1 => self.exceptions[x].1 = changed.1,
                        _ => self.exceptions[x].2 = changed.2,
                    }
                }
                "an exception"
            }
            _ => {
                self.roles[r].max_duration = Some(*g.pick(&["1d", "7d", "30d"]));
                "a role's max_duration"
            }
        }
    }

    fn sources(&self) -> Sources {
        let mut y = String::from(
            "identity:\n  attributes:\n    status: { type: enum, values: [active, leave, terminated] }\n    dept: { type: string }\n    level: { type: int }\n    start: { type: date }\n    tags: { type: set }\n",
        );
        y.push_str("applications:\n");
        for app in ["a", "b"] {
            let _ = writeln!(y, "  - id: {app}\n    entitlements:");
            for i in 0..4 {
                let privileged = self.privileged[if app == "a" { i } else { 4 + i }];
                let _ = writeln!(y, "      - {{ id: e{i}, privileged: {privileged} }}");
            }
        }
        y.push_str("packages:\n");
        for (p, (ents, nested)) in self.packages.iter().enumerate() {
            let _ = writeln!(
                y,
                "  - id: p{p}\n    entitlements: [{}]\n    packages: [{}]",
                ents.join(", "),
                nested.join(", ")
            );
        }
        y.push_str("roles:\n");
        for r in &self.roles {
            let _ = writeln!(y, "  - id: {}", r.id);
            if !r.kinds.is_empty() {
                let _ = writeln!(y, "    kinds: [{}]", r.kinds.join(", "));
            }
            let _ = writeln!(y, "    extends: [{}]", r.extends.join(", "));
            if r.assignable {
                let _ = writeln!(y, "    assignable: true");
            }
            if let Some(d) = r.max_duration.filter(|_| r.assignable) {
                let _ = writeln!(y, "    max_duration: {d}");
            }
            if let Some(w) = &r.when {
                let _ = writeln!(y, "    when: {{ {w} }}");
            }
            let _ = writeln!(y, "    grants: [{}]", r.grants.join(", "));
        }
        if !self.sod.is_empty() {
            y.push_str("separation_of_duties:\n");
            for (i, (a, b)) in self.sod.iter().enumerate() {
                let _ = writeln!(y, "  - id: s{i}\n    sides: [[{a}], [{b}]]");
            }
        }
        if !self.exceptions.is_empty() {
            y.push_str("exceptions:\n");
        }
        for (i, (identity, target, expires)) in self.exceptions.iter().enumerate() {
            let key = if target.contains(':') { "entitlement" } else { "package" };
            let _ = writeln!(
                y,
                "  - id: x{i}\n    identity: {identity}\n    {key}: {target}\n    reason: r\n    approved_by: someone\n    ticket: T-{i}\n    approved_on: 2025-12-20\n    expires: \"{expires}\""
            );
        }
        let mut cedar = String::new();
        for (i, g) in self.guardrails.iter().enumerate() {
            let bounded = !g.starts_with("permit") || g.contains("principal in");
            let _ = writeln!(
                cedar,
                "@id(\"g{i}\")\n{}{g}",
                if bounded { "" } else { "@unbounded_permit(\"test\")\n" }
            );
        }
        Sources {
            roles: vec![SourceFile {
                name: "roles/org.yaml".into(),
                text: y,
            }],
            policies: vec![SourceFile {
                name: "policies/g.cedar".into(),
                text: cedar,
            }],
        }
    }
}

/// A population whose assignments are mostly to the base's assignable roles (the rest may be invalid on a side).
fn population(g: &mut Gen, assignable: &[String]) -> String {
    let n = 6 + g.below(8);
    let mut out = String::new();
    for i in 0..n {
        let kind = *g.pick(KINDS);
        let mut attrs = serde_json::Map::new();
        attrs.insert("status".into(), (*g.pick(&["active", "active", "leave", "terminated"])).into());
        if g.chance(80) {
            attrs.insert("dept".into(), (*g.pick(DEPTS)).into());
        }
        if g.chance(60) {
            attrs.insert("level".into(), (g.below(4) as i64).into());
        }
        if g.chance(50) {
            attrs.insert("start".into(), (*g.pick(&["2025-06-01", "2026-03-01"])).into());
        }
        if g.chance(50) {
            attrs.insert("tags".into(), serde_json::json!(g.subset(&["vip", "oncall"], 50)));
        }
        let mut record = serde_json::json!({"id": format!("i{i}"), "kind": kind, "attributes": attrs});
        if kind != "person" && g.chance(80) {
            record["owner"] = format!("i{}", g.below(n)).into();
        }
        let assignments: Vec<serde_json::Value> = (0..g.below(3))
            .map(|_| {
                let role = if !assignable.is_empty() && g.chance(85) {
                    g.pick(assignable).clone()
                } else {
                    format!("r{}", g.below(7))
                };
                serde_json::json!({"role": role, "starts": "2026-01-01T00:00:00Z",
                    "expires": *g.pick(&["2026-01-01T12:00:00Z", "2026-01-05T00:00:00Z", "2026-03-01T00:00:00Z"])})
            })
            .collect();
        record["assignments"] = serde_json::Value::Array(assignments);
        let _ = writeln!(out, "{record}");
    }
    out
}

fn without_evaluation(mut w: WhatIf) -> WhatIf {
    w.evaluation.reason.clear();
    w.evaluation.evaluated = 0;
    w.evaluation.mode = EvaluationMode::Full;
    w
}

/// One case: its mode when it ran, or why it could not (definitions that do not load are skipped).
fn run_case(seed: u64) -> Result<Option<EvaluationMode>, TestCaseError> {
    let mut g = Gen(seed | 1);
    let base_model = Model::random(&mut g);
    let mut head_model = base_model.clone();
    let change = head_model.change(&mut g);
    let assignable: Vec<String> = base_model.roles.iter().filter(|r| r.assignable).map(|r| r.id.clone()).collect();
    let feed = population(&mut g, &assignable);
    let (Ok(base), Ok(head)) = (
        Project::from_sources(&base_model.sources()),
        Project::from_sources(&head_model.sources()),
    ) else {
        return Ok(None);
    };
    let (base, head) = (Arc::new(base), Arc::new(head));
    let (eb, eh) = (
        Engine::new(base.clone()).expect("engine"),
        Engine::new(head.clone()).expect("engine"),
    );
    let read = |p: &Project| Population::new(parse_identities("people.jsonl", feed.as_bytes(), None, &p.defs).expect("feed"));
    let (pb, ph) = (read(&base), read(&head));
    let at = Instant::parse("2026-01-02").expect("instant");
    let before = State {
        label: "base",
        project: &base,
        evaluator: &eb,
        population: &pb,
        at,
    };
    let after = State {
        label: "head",
        project: &head,
        evaluator: &eh,
        population: &ph,
        at,
    };
    let bounded = scope::between(&before, &after, Some((&eb, &eh)));
    let mode = match &bounded {
        Scope::Everyone { .. } => EvaluationMode::Full,
        Scope::Only { .. } => EvaluationMode::Incremental,
    };
    let incremental = compare(&before, &after, &bounded, &|_| ()).expect("compare");
    let full = compare(&before, &after, &Scope::Everyone { reason: "test".into() }, &|_| ()).expect("compare");
    prop_assert_eq!(
        without_evaluation(incremental),
        without_evaluation(full),
        "seed {}: {} ({}):\nbase:\n{}\nhead:\n{}\nfeed:\n{}",
        seed,
        change,
        bounded.reason(),
        base_model.sources().roles[0].text,
        head_model.sources().roles[0].text,
        feed
    );
    Ok(Some(mode))
}

fn cases() -> u32 {
    std::env::var("ENTITLE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // About one generated change in four is rejected (see the test below).
        max_global_rejects: cases().saturating_mul(2).max(1024),
        ..ProptestConfig::default()
    })]

    /// Every counted case is an incremental comparison checked against the full one: definitions
    /// that do not load, and changes the scope cannot bound (whose comparison is the full one by
    /// construction), are rejected and do not count towards the cases.
    #[test]
    fn incremental_whatif_equals_full_whatif(seed in any::<u64>()) {
        let mode = run_case(seed)?;
        prop_assume!(mode == Some(EvaluationMode::Incremental), "not an incremental comparison");
    }
}

/// The generator must exercise both: changes the scope bounds, and changes it cannot.
#[test]
fn generated_changes_are_both_bounded_and_unbounded() {
    let (mut incremental, mut full, mut skipped) = (0, 0, 0);
    for seed in 0..300u64 {
        match run_case(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)) {
            Ok(Some(EvaluationMode::Incremental)) => incremental += 1,
            Ok(Some(EvaluationMode::Full)) => full += 1,
            Ok(None) => skipped += 1,
            Err(e) => panic!("{e}"),
        }
    }
    eprintln!("incremental {incremental}, full {full}, skipped {skipped}");
    assert!(incremental >= 150, "incremental {incremental}, full {full}, skipped {skipped}");
    assert!(full >= 15, "incremental {incremental}, full {full}, skipped {skipped}");
    assert!(skipped <= 60, "incremental {incremental}, full {full}, skipped {skipped}");
}
