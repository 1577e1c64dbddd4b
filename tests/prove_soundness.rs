//! The proofs' assumptions are true of real requests, and what `prove` calls
//! proved holds on real identities.
//!
//! `prove` may only assume what holds of every request the oracle makes
//! (docs/prove.md): these tests evaluate the assumptions themselves with
//! Cedar, on the oracle's store, for every identity of the example's feed (and
//! records at the edges of what the reader accepts) at several instants, and
//! the catalog facts for every catalog entitlement. Then every property the
//! example proves is checked against every fixture identity with the oracle.
//!
//! Counterexamples are searched for and confirmed through a fast path
//! (`Store::Slim`: only the entities and policies a request can reach); it is
//! held to the oracle's way (`Store::Full`) on a generated organisation.
//!
//! The test of what the example proves needs the cvc5 solver and fails
//! (never skips) without it.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use cedar_policy::{Authorizer, Decision, Entities, Policy, PolicySet};
use entitle::compile::expr::condition;
use entitle::compile::PolicyOrigin;
use entitle::eval::cedar_io::{context_at, hold_request, identity_entity};
use entitle::eval::{Evaluator, Oracle};
use entitle::gen::{generate, GenOptions};
use entitle::model::InvariantRule;
use entitle::project::Project;
use entitle::prove::assume::{catalog_facts, identity_assumption, Literals};
use entitle::prove::counterexample::{confirm, held_roles, Claim, Index, Scenario, Store};
use entitle::prove::{prove, ProveOptions};
use entitle::state::IdentityState;
use entitle::Instant;

fn example() -> Arc<Project> {
    common::load_project(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// A footprint that reads everything: every assumption the proofs can make.
fn everything(project: &Project) -> Literals {
    let defs = &project.defs;
    let attributes = || defs.identity.attributes.keys().cloned();
    Literals {
        roles: defs.roles.keys().cloned().collect(),
        packages: defs.packages.keys().cloned().collect(),
        applications: defs.applications.keys().cloned().collect(),
        entitlements: defs.entitlements.keys().cloned().collect(),
        identities: BTreeSet::new(),
        resource_attributes: BTreeSet::from(["privileged".into(), "application".into()]),
        principal_attributes: attributes().chain(["owner".into(), "kind".into()]).collect(),
        owner_attributes: attributes().chain(["kind".into()]).collect(),
        owner_roles: true,
    }
}

/// Does Cedar allow `principal` (with its owner) under `when { expr }`, on the oracle's store?
fn holds(project: &Project, expr: &str, subject: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> bool {
    let mut extra = vec![identity_entity(&project.defs, subject, at, owner.is_some()).unwrap()];
    if let Some(o) = owner {
        extra.push(identity_entity(&project.defs, o, at, false).unwrap());
    }
    let entities: Entities = project.compiled.entities().unwrap().clone().add_entities(extra, None).unwrap();
    let policy: Policy = format!("permit (principal, action, resource) when {{ {expr} }};").parse().unwrap();
    let mut set = PolicySet::new();
    set.add(policy).unwrap();
    let any = project.defs.entitlements.keys().next().unwrap();
    let request = hold_request(&subject.id, any, context_at(at).unwrap()).unwrap();
    Authorizer::new().is_authorized(&request, &set, &entities).decision() == Decision::Allow
}

/// The example's feed, plus records at the edges of what the reader accepts.
fn identities(project: &Project) -> Vec<IdentityState> {
    let mut out = common::read_identities(project, &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/identities.jsonl"));
    for record in [
        r#"{"id": "edge-first", "kind": "person", "attributes": {"status": "leave", "start_date": "0000-01-01", "end_date": "9999-12-31T23:59:59.999Z", "clearance": -9223372036854775808, "tags": []}}"#,
        r#"{"id": "edge-agent", "kind": "agent", "owner": "edge-first", "attributes": {"status": "pre_hire", "environment": "staging", "purpose": ""}}"#,
        r#"{"id": "edge-assigned", "kind": "person", "attributes": {"status": "active", "department": "Engineering"}, "assignments": [{"role": "prod-oncall", "starts": "2026-11-01T00:00:00Z", "expires": "2026-11-30T00:00:00Z"}, {"role": "break-glass-admin", "starts": "0000-01-01T00:00:00Z"}]}"#,
    ] {
        let v: serde_json::Value = serde_json::from_str(record).unwrap();
        out.push(IdentityState::from_json(&v, &project.defs).unwrap_or_else(|e| panic!("{record}: {e}")));
    }
    out
}

#[test]
fn the_identity_assumption_holds_for_every_identity_the_feed_produces() {
    let project = example();
    let w = identity_assumption(&project.defs, &project.graph, &everything(&project));
    let all = identities(&project);
    let instants = ["0000-01-01", "2026-11-21", "2026-11-15T12:00:00Z", "9999-12-31T23:59:59.998Z"].map(|t| Instant::parse(t).unwrap());
    let mut checked = 0;
    for identity in &all {
        let owner = identity.owner.as_deref().and_then(|o| all.iter().find(|i| i.id == o));
        for at in instants {
            assert!(
                holds(&project, &w, identity, owner, at),
                "the assumption refuses `{}` (owner {:?}) at {at}, a state the reader accepts",
                identity.id,
                owner.map(|o| &o.id)
            );
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
}

#[test]
fn the_assumption_is_not_vacuous() {
    let project = example();
    let w = identity_assumption(&project.defs, &project.graph, &everything(&project));
    let v = serde_json::json!({"id": "x", "kind": "person", "attributes": {"status": "active"}});
    let mut person = IdentityState::from_json(&v, &project.defs).unwrap();
    let at = Instant::parse("2026-11-21").unwrap();
    assert!(holds(&project, &w, &person, None, at));
    // What the reader would refuse, built behind its back, the assumption refuses too.
    use entitle::state::AttrValue;
    person.attributes = [("status", AttrValue::str("fired"))].into_iter().collect();
    assert!(!holds(&project, &w, &person, None, at), "an enum value outside the schema");
    person.attributes = [("status", AttrValue::str("active")), ("department", AttrValue::str(""))]
        .into_iter()
        .collect();
    assert!(!holds(&project, &w, &person, None, at), "blank text, which the reader drops");
    person.attributes = [("status", AttrValue::str("active")), ("environment", AttrValue::str("prod"))]
        .into_iter()
        .collect();
    assert!(!holds(&project, &w, &person, None, at), "a per-kind attribute on the wrong kind");
}

#[test]
fn the_catalog_facts_hold_for_the_catalog() {
    let project = example();
    let facts = catalog_facts(&project.defs, &project.graph, &everything(&project));
    let subject = identities(&project).remove(0);
    assert!(holds(&project, &facts, &subject, None, Instant::parse("2026-11-21").unwrap()));
}

#[test]
fn what_the_example_proves_holds_for_its_fixtures() {
    let project = example();
    let report = prove(
        &project,
        &ProveOptions {
            definitions: false,
            ..ProveOptions::default()
        },
    )
    .expect("prove (needs cvc5)");
    assert!(report.all_proved(), "{:?}", report.results);
    let oracle = Oracle::new(project.clone());
    let all = identities(&project);
    let at = Instant::parse("2026-11-21").unwrap();
    let mut checked = 0;
    for identity in &all {
        let owner = identity.owner.as_deref().and_then(|o| all.iter().find(|i| i.id == o));
        let desired = oracle.desired(identity, owner, at).unwrap();
        let held: BTreeSet<&str> = desired.entitlements().collect();
        for inv in project.defs.invariants.values() {
            if !holds(&project, &condition(&inv.subject), identity, owner, at) {
                continue;
            }
            checked += 1;
            for e in &held {
                let entitlement = &project.defs.entitlements[*e];
                let forbidden = match &inv.rule {
                    InvariantRule::HoldsNothing => true,
                    InvariantRule::Never(f) => f.privileged.is_none_or(|p| p == entitlement.privileged) && f.entitlements.is_empty(),
                    InvariantRule::Only(_) => false,
                };
                assert!(
                    !forbidden,
                    "`{}` holds `{e}`, which proved invariant `{}` forbids",
                    identity.id, inv.id
                );
            }
        }
        for rule in project.defs.sod.values() {
            let sides_held = rule
                .sides
                .iter()
                .filter(|side| side.iter().flat_map(|g| project.graph.expand(g)).any(|e| held.contains(e.as_str())))
                .count();
            assert!(sides_held < 2, "`{}` holds two sides of proved rule `{}`", identity.id, rule.id);
        }
    }
    assert!(checked > 0, "no fixture identity matches an invariant's `for`");
}

#[test]
fn the_fast_confirmation_answers_as_the_oracle_does() {
    let org = generate(&GenOptions {
        seed: 3,
        people: 300,
        nhis: 60,
        roles: 100,
        entitlements: 1_000,
        ..GenOptions::reference()
    })
    .expect("the organisation generates");
    // Plus an assignable role that extends another: its holders are in the
    // parent only through the role hierarchy (the `Role` entities of the store).
    let mut sources = org.sources.clone();
    let first = org.project.defs.entitlements.keys().next().unwrap().clone();
    sources.roles.push(entitle::model::SourceFile {
        name: "roles/zz-hierarchy.yaml".into(),
        text: format!(
            "roles:\n  - id: zz-parent\n    assignable: true\n    max_duration: 30d\n    when: {{ status: active }}\n    grants: [{first}]\n  - id: zz-child\n    assignable: true\n    max_duration: 30d\n    extends: [zz-parent]\n    when: {{ kind: person }}\n    grants: []\n"
        ),
    });
    let project = &Project::from_sources(&sources).unwrap_or_else(|f| panic!("{:?}", f.diagnostics));
    let mut granted_by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (role, grants) in &project.graph.role_grants {
        for e in grants.keys() {
            granted_by.entry(e.clone()).or_default().insert(role.clone());
        }
    }
    let hand_written: Vec<Policy> = project
        .compiled
        .policies
        .policies()
        .filter(|p| {
            project
                .compiled
                .info
                .get(AsRef::<str>::as_ref(p.id()))
                .is_some_and(|i| i.origin == PolicyOrigin::Guardrail)
        })
        .cloned()
        .collect();
    let slim = Store::Slim(Index {
        granted_by: &granted_by,
        hand_written: &hand_written,
    });
    let catalog: Vec<&String> = project.defs.entitlements.keys().collect();
    let identities = &org.feed.identities;
    let (mut allowed, mut denied, mut roles_held, mut in_parent) = (0, 0, 0, 0);
    for (i, subject) in identities.iter().enumerate().step_by(5) {
        let owner = subject
            .owner
            .as_deref()
            .and_then(|o| identities.iter().find(|r| r.id == o))
            .cloned();
        // Every other identity at another instant: assignments expire, end dates pass.
        let at = if i % 2 == 0 {
            org.options.as_of
        } else {
            Instant(org.options.as_of.0 + 400 * 86_400_000)
        };
        let mut subject = subject.clone();
        if i % 4 == 1 {
            subject.assignments.push(entitle::state::Assignment {
                role: "zz-child".into(),
                starts: Instant(at.0 - 86_400_000),
                expires: Some(Instant(at.0 + 10 * 86_400_000)),
                approved_by: None,
                ticket: None,
            });
        }
        let scenario = Scenario { subject, owner, at };
        let subject = &scenario.subject;
        let held = held_roles(project, &scenario, Store::Full).unwrap();
        assert_eq!(held_roles(project, &scenario, slim).unwrap(), held, "roles of `{}`", subject.id);
        roles_held += held.len();
        in_parent += usize::from(held.contains("zz-parent"));
        // What the held roles grant (allowed unless a guardrail says no), and entitlements they do not.
        let mut claims: Vec<Vec<String>> = held
            .iter()
            .filter_map(|r| project.graph.role_grants.get(r)?.keys().next().cloned())
            .map(|e| vec![e])
            .collect();
        claims.extend([i % catalog.len(), (i * 7 + 3) % catalog.len()].map(|k| vec![catalog[k].clone()]));
        let pair: Vec<String> = claims.iter().take(2).flatten().cloned().collect();
        claims.push(pair);
        for holds in claims {
            let claim = Claim { holds, also: None };
            let full = confirm(project, &scenario, &claim, Store::Full);
            assert_eq!(
                confirm(project, &scenario, &claim, slim),
                full,
                "`{}` holding {:?}",
                subject.id,
                claim.holds
            );
            match full {
                Ok(_) => allowed += 1,
                Err(_) => denied += 1,
            }
        }
    }
    assert!(
        allowed > 100 && denied > 50 && roles_held > 100 && in_parent > 5,
        "{allowed} allowed, {denied} denied, {roles_held} roles held, {in_parent} in the parent role"
    );
}
