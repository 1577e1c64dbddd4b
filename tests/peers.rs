//! The peers of the benchmarks answer alike: on a quick size of the
//! benchmark's generated organisation (generated guardrails included), the
//! engine, plain Cedar done well and the generated Rego under regorus give
//! the same roles, entitlements and forbidden candidates for every identity,
//! and the oracle agrees on a sample; on random definitions (every condition
//! operator, escape hatches that err, guardrails of every Cedar construct
//! the Rego translation covers), Rego and plain Cedar equal the oracle.
//! Equal answers only: the timings are `benches/peers.rs`'s business.

// The benchmarks' peers, as a module of this one (tests/all.rs holds every test file as a module).
#[allow(clippy::module_inception)]
#[path = "../benches/peers/mod.rs"]
mod peers;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use entitle::gen::{generate, guardrails, GenOptions};
use entitle::io::identities::parse_identities;
use entitle::model::SourceFile;
use entitle::population::Population;
use entitle::project::{Project, Sources};
use entitle::rego::{self, OmittedKind};
use entitle::state::IdentityState;
use entitle::Instant;
use peers::{Peer, Peers, RegoPeer};

fn quick() -> GenOptions {
    GenOptions {
        seed: 5,
        people: 300,
        nhis: 300,
        roles: 100,
        entitlements: 1_000,
        ..GenOptions::reference()
    }
}

#[test]
fn every_peer_gives_the_engines_answer_on_a_quick_generated_organisation() {
    let options = quick();
    let org = generate(&options).expect("generates");
    let policy = rego::write(&org.project);
    assert!(policy.omitted.is_empty(), "nothing is left out of the Rego: {:?}", policy.omitted);
    let peers = Peers::new(org.project.clone()).expect("every peer loads");
    let population = Population::new(org.feed.clone());
    let at = options.as_of;
    let everyone: Vec<usize> = (0..population.feed.identities.len()).collect();

    let compared = peers
        .check(&population, &everyone, &[Peer::Cedar, Peer::Rego], at)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(compared, 2 * everyone.len());

    // The oracle asks Cedar about every catalog entitlement: a sample, with
    // every identity some guardrail forbids something to.
    let mut fired: BTreeSet<String> = BTreeSet::new();
    let mut sample = Vec::new();
    let mut assignments_held = 0;
    for (k, identity) in population.feed.identities.iter().enumerate() {
        let owner = population.owner_of(identity).record();
        let answer = peers.answer(Peer::Engine, identity, owner, at).expect("engine");
        let new: BTreeSet<String> = answer
            .forbidden
            .iter()
            .flat_map(|(_, by)| by.clone())
            .filter(|g| !fired.contains(g))
            .collect();
        let assigned = identity.assignments.iter().any(|a| answer.roles.contains(&a.role));
        assignments_held += usize::from(assigned);
        if !new.is_empty() || k % 40 == 0 {
            sample.push(k);
        }
        fired.extend(new);
    }
    // Generated guardrails of both classes forbid role candidates here. (The
    // example's five and `no-production-cloud-unless-active` forbid what a
    // non-active identity holds, and gen's roles already require an active
    // status: they forbid live grants, not candidates. Every peer still asks
    // them of every candidate, and the answers above agree.)
    let generated: Vec<_> = guardrails(&options).into_iter().filter(|g| g.generated).collect();
    let cedar_only_silent: Vec<&str> = generated
        .iter()
        .filter(|g| !g.native && !fired.contains(g.id))
        .map(|g| g.id)
        .collect();
    assert!(
        cedar_only_silent.is_empty(),
        "Cedar-only guardrails that forbid no candidate: {cedar_only_silent:?}"
    );
    let native_firing = generated.iter().filter(|g| g.native && fired.contains(g.id)).count();
    assert!(
        native_firing >= 4,
        "native generated guardrails forbidding candidates: {native_firing}, fired: {fired:?}"
    );
    assert!(assignments_held > 0, "some identity holds an assignable role");
    peers
        .check(&population, &sample, &[Peer::Oracle], at)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The Rego module is part of `entitle gen`'s output, byte for byte what
/// `rego::write` gives for its definitions.
#[test]
fn gen_writes_the_rego_module_and_its_data() {
    let org = generate(&quick()).expect("generates");
    let files = org.files();
    let module = files
        .iter()
        .find(|(name, _)| name == rego::MODULE_FILE)
        .expect("the module is written");
    let data = files.iter().find(|(name, _)| name == rego::DATA_FILE).expect("the data is written");
    let written = rego::write(&org.project);
    assert_eq!(module.1, written.module);
    assert_eq!(data.1, written.data);
    assert!(module.1.contains("roles contains \"employee\""), "one rule per role");
    assert!(module.1.contains("forbids contains [res, \"vault-after-probation\"]"));
}

fn project(roles: &str, policies: &str) -> Arc<Project> {
    let sources = Sources {
        roles: vec![SourceFile {
            name: "roles/org.yaml".into(),
            text: roles.into(),
        }],
        policies: vec![SourceFile {
            name: "policies/g.cedar".into(),
            text: policies.into(),
        }],
    };
    Arc::new(Project::from_sources(&sources).unwrap_or_else(|f| panic!("loads: {:?}\n{roles}\n{policies}", f.diagnostics)))
}

const SMALL: &str = "identity:
  attributes:
    status: { type: enum, values: [active, terminated], required: true }
    level: { type: int }
    start: { type: date }
applications:
  - id: a
    entitlements: [{ id: x }, { id: y, privileged: true }]
roles:
  - id: worker
    when: { status: active }
    grants: [a:x, a:y]
";

#[test]
fn what_the_translation_does_not_cover_is_left_out_and_named() {
    let p = project(
        SMALL,
        "@id(\"decimal-levels\")\nforbid (principal, action, resource) when { principal has level && decimal(\"1.5\").lessThan(decimal(\"2.0\")) };\n\
         @id(\"privileged\")\nforbid (principal, action, resource) when { resource.privileged && principal.status != \"active\" };\n",
    );
    let policy = rego::write(&p);
    assert_eq!(policy.omitted.len(), 1, "{:?}", policy.omitted);
    assert_eq!(policy.omitted[0].kind, OmittedKind::Guardrail);
    assert_eq!(policy.omitted[0].id, "decimal-levels");
    assert!(policy.omitted[0].reason.contains("lessThan"), "{}", policy.omitted[0].reason);
    assert!(
        policy.module.contains("#   guardrail decimal-levels: "),
        "the module says so at the top"
    );
    assert!(
        policy.module.contains("forbids contains [res, \"privileged\"]"),
        "the rest is written"
    );
    let refused = RegoPeer::new(&p).err().unwrap_or_default();
    assert!(refused.contains("leaves out decimal-levels"), "{refused}");
}

/// Cedar errors are neither true nor false: `not` of an escape hatch that
/// overflows does not hold, where Rego's `not` of an undefined value would.
#[test]
fn an_erring_escape_hatch_under_not_holds_in_neither() {
    let roles = SMALL.replace(
        "    when: { status: active }",
        "    when: { not: { cedar: 'principal has level && principal.level + 9223372036854775807 > 0' } }",
    );
    let p = project(&roles, "");
    let peers = Peers::new(p.clone()).expect("loads");
    let at = Instant::parse("2026-11-21").expect("instant");
    // No level: the hatch is false, `not` true. Level 0: true, so false. Level 1:
    // the sum overflows, an error, so the role is not held (Rego's plain `not`
    // of an undefined value would hold it).
    for (level, held) in [(None, true), (Some(0), false), (Some(1), false)] {
        let mut record = serde_json::json!({"id": "u-1", "kind": "person", "attributes": {"status": "active"}});
        if let Some(l) = level {
            record["attributes"]["level"] = l.into();
        }
        let identity = IdentityState::from_json(&record, &p.defs).expect("valid");
        for peer in Peer::ALL {
            let answer = peers.answer(peer, &identity, None, at).expect("answers");
            assert_eq!(
                answer.roles.contains(&"worker".to_string()),
                held,
                "{} at level {level:?}: {answer:?}",
                peer.name()
            );
        }
    }
}

// --- Random definitions ------------------------------------------------------

/// xorshift: a failing seed reproduces exactly.
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
}

const KINDS: &[&str] = &["person", "service_account", "agent"];

fn leaf(g: &mut Gen) -> String {
    let owner = if g.chance(25) { "owner." } else { "" };
    match g.below(20) {
        0 => format!("{owner}status: {}", g.pick(&["active", "leave", "terminated"])),
        1 => format!("{owner}status: {{ in: [active, leave] }}"),
        2 => format!("{owner}status: {{ not_in: [terminated] }}"),
        3 => format!("{owner}dept: {{ not: {:?} }}", g.pick(&["Eng", "Fin"])),
        4 => format!("{owner}dept: {:?}", g.pick(&["Eng", "Fin", "E\"x"])),
        5 => format!(
            "{owner}dept: {{ matches: {:?} }}",
            g.pick(&["E*", "*n*", "F*n", "*", "E\"*", "a.b*", "*g"])
        ),
        6 => format!("{owner}dept: {{ exists: {} }}", g.chance(50)),
        7 => format!("{owner}tags: {{ contains: {} }}", g.pick(&["vip", "oncall"])),
        8 => format!("{owner}tags: {}", g.pick(&["vip", "oncall"])),
        9 => format!("{owner}tags: {{ in: [vip, x] }}"),
        10 => format!("{owner}tags: {{ not_in: [oncall] }}"),
        11 => format!("{owner}tags: {{ not: vip }}"),
        12 => format!("{owner}level: {{ {}: {} }}", g.pick(&["gt", "gte", "lt", "lte"]), g.below(4)),
        13 => format!("{owner}level: {{ in: [1, 3] }}"),
        14 => format!(
            "{owner}start: {{ {}: {} }}",
            g.pick(&["before", "after"]),
            g.pick(&["now", "\"2026-01-01\""])
        ),
        15 => format!("{owner}flag: {}", g.chance(50)),
        16 => format!("{owner}kind: {{ in: [{}, {}] }}", g.pick(KINDS), g.pick(KINDS)),
        _ => format!(
            "cedar: '{}'",
            g.pick(&[
                "principal has level && principal.level * 2 > 3",
                "principal has tags && principal.tags.containsAny([\"vip\", \"x\"])",
                "principal has level && principal.level + 9223372036854775807 > 0",
                "principal has start && principal.start < context.now.offset(duration(\"-30d\"))",
                "principal has start && principal.start.offset(duration(\"9223372036854775807ms\")) > context.now",
                "principal in Role::\"r0\"",
                "if principal has owner then principal.owner.kind == \"person\" else false",
                "principal has dept && principal.dept like \"*n*g\"",
                "principal has owner && principal.owner has status && principal.owner.status == \"active\"",
            ])
        ),
    }
}

fn condition(g: &mut Gen, depth: usize) -> String {
    if depth == 0 || g.chance(40) {
        return leaf(g);
    }
    let items: Vec<String> = (0..1 + g.below(3)).map(|_| format!("{{ {} }}", condition(g, depth - 1))).collect();
    match g.below(3) {
        0 => format!("all: [{}]", items.join(", ")),
        1 => format!("any: [{}]", items.join(", ")),
        _ => format!("not: {}", items[0]),
    }
}

const GUARDRAILS: &[&str] = &[
    "forbid (principal, action, resource) when { principal has status && principal.status == \"terminated\" };",
    "forbid (principal, action, resource in Package::\"p1\") when { principal.kind == \"agent\" };",
    "forbid (principal, action, resource == Entitlement::\"a:e1\") unless { principal has level && principal.level >= 2 };",
    "@unbounded_permit(\"vip, property test\") permit (principal, action, resource in Application::\"b\") when { principal has tags && principal.tags.contains(\"vip\") };",
    "forbid (principal, action, resource) when { Entitlement::\"a:e0\".privileged && principal has flag && principal.flag };",
    "forbid (principal in Role::\"r1\", action, resource) when { resource.application == Application::\"a\" };",
    "forbid (principal, action, resource) when { principal has owner && principal.owner has status && principal.owner.status != \"active\" };",
    "forbid (principal, action, resource) when { principal has level && principal.level + 9223372036854775807 > 1 && resource.privileged };",
    "forbid (principal, action, resource in Application::\"a\") when { resource.privileged && !(principal has tags && principal.tags.containsAll([\"vip\", \"oncall\"])) };",
    "forbid (principal, action, resource) when { principal has start && context.now < principal.start.offset(duration(\"30d\")) && resource in [Package::\"p0\", Package::\"p2\"] };",
    "forbid (principal, action, resource) when { principal has dept && principal.dept like \"F*\" && (if resource.privileged then true else principal.kind != \"person\") };",
    "forbid (principal is Identity in Role::\"r2\", action, resource is Entitlement) when { principal has owner && principal.owner in Role::\"r0\" };",
    "forbid (principal, action, resource) when { principal has start && context.now.durationSince(principal.start) < duration(\"1d\") };",
];

fn random_case(g: &mut Gen) -> (String, String) {
    let mut y = String::from(
        "identity:\n  attributes:\n    status: { type: enum, values: [active, leave, terminated] }\n    dept: { type: string }\n    level: { type: int }\n    start: { type: date }\n    tags: { type: set }\n    flag: { type: bool }\n",
    );
    y.push_str("applications:\n");
    for app in ["a", "b"] {
        let _ = writeln!(y, "  - id: {app}\n    entitlements:");
        for i in 0..4 {
            let _ = writeln!(y, "      - {{ id: e{i}, privileged: {} }}", g.chance(30));
        }
    }
    let ents: Vec<String> = ["a", "b"].iter().flat_map(|a| (0..4).map(move |i| format!("{a}:e{i}"))).collect();
    y.push_str("packages:\n");
    for p in 0..4 {
        let members: Vec<&String> = ents.iter().filter(|_| g.chance(30)).collect();
        let nested: Vec<String> = (0..p).filter(|_| g.chance(35)).map(|q| format!("p{q}")).collect();
        let _ = writeln!(
            y,
            "  - id: p{p}\n    entitlements: [{}]\n    packages: [{}]",
            members.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            nested.join(", ")
        );
    }
    y.push_str("roles:\n");
    for r in 0..6 {
        let _ = writeln!(y, "  - id: r{r}");
        let kinds: Vec<&str> = KINDS.iter().copied().filter(|_| g.chance(60)).collect();
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
        if g.chance(90) {
            let _ = writeln!(y, "    when: {{ {} }}", condition(g, 3));
        }
        let mut grants: Vec<String> = (0..4).filter(|_| g.chance(30)).map(|p| format!("p{p}")).collect();
        grants.extend(ents.iter().filter(|_| g.chance(15)).cloned());
        let _ = writeln!(y, "    grants: [{}]", grants.join(", "));
    }
    let mut cedar = String::new();
    for (i, text) in GUARDRAILS.iter().enumerate() {
        if g.chance(30) {
            let _ = writeln!(cedar, "@id(\"g{i}\")\n{text}");
        }
    }
    (y, cedar)
}

/// A feed of a few identities (people and NHIs with known, unknown and
/// absent owners; assignments around their boundaries), as JSON Lines.
fn random_feed(g: &mut Gen, t0: Instant) -> String {
    let n = 4 + g.below(6);
    let day = 86_400_000;
    let mut out = String::new();
    for i in 0..n {
        let kind = *g.pick(KINDS);
        let mut attrs = serde_json::Map::new();
        if g.chance(85) {
            attrs.insert("status".into(), (*g.pick(&["active", "active", "leave", "terminated"])).into());
        }
        if g.chance(70) {
            attrs.insert("dept".into(), (*g.pick(&["Eng", "Fin", "E\"x", "a.bc", "Engineering"])).into());
        }
        if g.chance(60) {
            attrs.insert("level".into(), (g.below(4) as i64).into());
        }
        if g.chance(60) {
            attrs.insert(
                "start".into(),
                Instant(t0.0 - *g.pick(&[0, 1, 29, 31, 400]) * day).to_rfc3339().into(),
            );
        }
        if g.chance(60) {
            let tags: Vec<serde_json::Value> = ["vip", "oncall", "x"]
                .iter()
                .filter(|_| g.chance(45))
                .map(|t| (*t).into())
                .collect();
            attrs.insert("tags".into(), serde_json::Value::Array(tags));
        }
        if g.chance(40) {
            attrs.insert("flag".into(), g.chance(50).into());
        }
        let mut record = serde_json::json!({"id": format!("i{i}"), "kind": kind, "attributes": attrs});
        if kind != "person" || g.chance(15) {
            match g.below(4) {
                0 => {}
                1 => record["owner"] = "ghost".into(),
                _ => record["owner"] = format!("i{}", (i + 1 + g.below(n - 1)) % n).into(),
            }
        }
        let hour = 3_600_000;
        let assignments: Vec<serde_json::Value> = (0..g.below(3))
            .map(|_| {
                let starts = t0.0 + *g.pick(&[-48, -24, -1, 0, 1]) * hour;
                let mut a = serde_json::json!({"role": format!("r{}", g.below(6)), "starts": Instant(starts).to_rfc3339()});
                if g.chance(85) {
                    a["expires"] = Instant(starts + *g.pick(&[1, 12, 24, 25, 48, 24 * 8]) * hour).to_rfc3339().into();
                }
                a
            })
            .collect();
        record["assignments"] = serde_json::Value::Array(assignments);
        out.push_str(&record.to_string());
        out.push('\n');
    }
    out
}

/// On random definitions and identities, the generated Rego (under regorus)
/// and plain Cedar answer what the oracle answers. `ENTITLE_PEERS_CASES`
/// sets the number of cases (default 150).
#[test]
fn rego_and_plain_cedar_equal_the_oracle_on_random_definitions() {
    let cases: u64 = std::env::var("ENTITLE_PEERS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let t0 = Instant::parse("2026-01-01T00:00:00Z").expect("instant");
    let mut compared = 0;
    for case in 0..cases {
        let seed = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(case + 1) | 1;
        let mut g = Gen(seed);
        let (yaml, cedar) = random_case(&mut g);
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
        // Some random conditions do not validate (an unguarded `principal.level`): skip those.
        let Ok(project) = Project::from_sources(&sources) else { continue };
        let project = Arc::new(project);
        let policy = rego::write(&project);
        assert!(
            policy.omitted.is_empty(),
            "seed {seed}: left out {:?}\n{yaml}\n{cedar}",
            policy.omitted
        );
        let peers = Peers::new(project.clone()).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", policy.module));
        let text = random_feed(&mut g, t0);
        let feed = parse_identities("feed.jsonl", text.as_bytes(), None, &project.defs).unwrap_or_else(|e| panic!("{e}"));
        let population = Population::new(feed);
        let everyone: Vec<usize> = (0..population.feed.identities.len()).collect();
        for hours in [0i64, 24, -24, 1] {
            let at = Instant(t0.0 + hours * 3_600_000);
            match peers.check(&population, &everyone, &[Peer::Oracle, Peer::Cedar, Peer::Rego], at) {
                Ok(n) => compared += n,
                Err(e) => panic!("seed {seed} at {at}: {e}\n{yaml}\n{cedar}\n{}", policy.module),
            }
        }
    }
    assert!(compared > cases as usize * 10, "only {compared} answers compared");
}
