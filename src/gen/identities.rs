//! The identity feed: people (HR records) and non-human identities
//! (service accounts and agents with owners), as [`IdentityState`]s and as
//! JSON Lines in the shape of spec §4.
//!
//! Shares, per person: employees 86%, contractors 11% (with end dates, 12%
//! of active ones already past), interns 3%; active 90%, terminated 5%,
//! on leave 3%, pre-hire 2%; about 10% of active people with four months'
//! tenure or more hold time-bound assignments (valid, expired, not yet
//! started, or longer than the role allows). Per NHI: service accounts and agents by purpose; active 93%;
//! owners mostly active people of the purpose's department, some
//! terminated or on leave (as their owners are), 4% absent from the feed,
//! and a few agents owned by a service account.
//!
//! Must never: produce a record the identity schema refuses (the tests read
//! the feed back and compare), or let one identity's draws depend on another's.

use std::collections::{BTreeMap, BTreeSet};

use super::catalog::{Catalog, BANDS};
use super::rng::{Rng, Stream};
use super::roles::{Blueprint, TAGS};
use super::text::json_str;
use super::GenOptions;
use crate::state::{Assignment, AttrValue, Attributes, IdentityState};
use crate::time::Instant;

const DAY: i64 = 86_400_000;

/// The id of person `i` (`u-100001`, …).
pub(crate) fn person_id(i: usize) -> String {
    format!("u-{}", 100_001 + i)
}

/// The id of a former person who is no longer in the feed (`u-0…`).
pub(crate) fn absent_person_id(k: usize) -> String {
    format!("u-0{:05}", 99_999 - (k % 99_999))
}

/// Attributes in the order records carry them.
const ATTRIBUTE_ORDER: &[&str] = &[
    "status",
    "department",
    "job_code",
    "cost_center",
    "location",
    "worker_type",
    "start_date",
    "end_date",
    "clearance",
    "tags",
    "environment",
    "purpose",
];

/// The generated population, in feed order (people, then NHIs).
#[derive(Debug, Clone)]
pub(crate) struct People {
    /// The records.
    pub states: Vec<IdentityState>,
    /// For each record, the position of its owner when the owner is in the feed.
    pub owner_of: Vec<Option<usize>>,
    /// How many are people.
    pub people: usize,
}

fn day(at: Instant) -> i64 {
    at.0.div_euclid(DAY)
}

fn date(days: i64) -> AttrValue {
    AttrValue::Date(Instant(days * DAY))
}

/// Generates every identity.
pub(crate) fn build(options: &GenOptions, catalog: &Catalog, blueprint: &Blueprint) -> People {
    use rayon::prelude::*;
    let today = day(options.as_of);
    let mut states: Vec<IdentityState> = (0..options.people)
        .into_par_iter()
        .map(|i| person(options, catalog, blueprint, i, today))
        .collect();
    let mut by_department: Vec<Vec<usize>> = vec![Vec::new(); catalog.departments.len()];
    for (i, s) in states.iter().enumerate() {
        if let Some(AttrValue::Str(d)) = s.attributes.get("department") {
            if let Some(k) = catalog.departments.iter().position(|x| x.name == &**d) {
                by_department[k].push(i);
            }
        }
    }
    let mut owner_of: Vec<Option<usize>> = vec![None; options.people];
    let mut service_accounts: Vec<usize> = Vec::new();
    for j in 0..options.nhis {
        let (state, owner) = nhi(options, blueprint, &by_department, &service_accounts, &states, j, today);
        if &*state.kind == "service_account" {
            service_accounts.push(states.len());
        }
        owner_of.push(owner);
        states.push(state);
    }
    People {
        states,
        owner_of,
        people: options.people,
    }
}

fn person(options: &GenOptions, catalog: &Catalog, blueprint: &Blueprint, i: usize, today: i64) -> IdentityState {
    let mut rng = Rng::new(options.seed, Stream::Person, i as u64);
    let weights: Vec<u32> = catalog.departments.iter().map(|d| d.weight).collect();
    let d = rng.weighted(&weights);
    let dept = &catalog.departments[d];
    let worker_type = match rng.unit() {
        x if x < 0.86 => "employee",
        x if x < 0.97 => "contractor",
        _ => "intern",
    };
    let bands: Vec<u8> = dept
        .job_codes
        .iter()
        .map(|(_, b)| *b)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let band = if worker_type == "intern" {
        bands.first().copied().unwrap_or(1)
    } else {
        let w: Vec<u32> = bands
            .iter()
            .map(|b| BANDS.iter().find(|(x, _, _)| x == b).map_or(1, |(_, _, w)| *w))
            .collect();
        bands[rng.weighted(&w)]
    };
    let codes: Vec<&String> = dept.job_codes.iter().filter(|(_, b)| *b == band).map(|(c, _)| c).collect();
    let job_code = rng.pick(&codes).map_or_else(|| format!("{}-110", dept.code), |c| (*c).clone());
    let team = rng.pick(&dept.teams).cloned().unwrap_or_default();
    let lw: Vec<u32> = catalog.locations.iter().map(|l| l.weight).collect();
    let location = catalog.locations[rng.weighted(&lw)].name;
    let status = match rng.unit() {
        x if x < 0.05 => "terminated",
        x if x < 0.08 => "leave",
        x if x < 0.10 => "pre_hire",
        _ => "active",
    };

    let mut start = match (status, worker_type) {
        ("pre_hire", _) if rng.chance(0.9) => today + rng.range(1, 45),
        ("pre_hire", _) => today - rng.range(1, 20),
        (_, "intern") => today - rng.range(0, 150),
        (_, "contractor") => today - rng.range(10, 1000),
        _ if rng.chance(0.03) => today - rng.range(0, 14),
        _ => {
            let u = rng.unit();
            today - 1 - (u * u * 20.0 * 365.0) as i64
        }
    };
    let end = match (status, worker_type) {
        ("terminated", _) => {
            let end = today - rng.range(1, 180);
            start = start.min(end - rng.range(30, 2000));
            Some(end)
        }
        ("active", "contractor") if rng.chance(0.12) => Some(today - rng.range(1, 90)),
        (_, "contractor") => Some(today + rng.range(7, 540)),
        ("active", "intern") if rng.chance(0.08) => Some(today - rng.range(1, 30)),
        (_, "intern") => Some(today + rng.range(7, 150)),
        ("active", _) if rng.chance(0.02) => Some(today + rng.range(7, 60)),
        _ => None,
    };

    let mut attributes = BTreeMap::new();
    let mut put = |k: &str, v: AttrValue| {
        attributes.insert(k.to_string(), v);
    };
    put("status", AttrValue::str(status));
    put("department", AttrValue::str(dept.name));
    put("job_code", AttrValue::str(&job_code));
    put("cost_center", AttrValue::str(&team));
    put("location", AttrValue::str(location));
    put("worker_type", AttrValue::str(worker_type));
    put("start_date", date(start));
    if let Some(end) = end {
        put("end_date", date(end));
    }
    if rng.chance(0.92) {
        let w: &[u32] = if matches!(dept.code, "SEC" | "DAT" | "FIN" | "ITS") {
            &[20, 30, 35, 15]
        } else {
            &[50, 30, 15, 5]
        };
        put("clearance", AttrValue::Int(rng.weighted(w) as i64));
    }
    let mut tags = BTreeSet::new();
    if (band == 8 && rng.chance(0.9)) || (band == 3 && rng.chance(0.2)) {
        tags.insert("people-manager".to_string());
    }
    if matches!(dept.code, "ENG" | "SEC" | "ITS") && matches!(band, 2 | 3 | 5) && rng.chance(0.4) {
        tags.insert("on-call".to_string());
        if rng.chance(0.6) {
            tags.insert("prod-trained".to_string());
        }
    }
    for (tag, p) in TAGS {
        if *p > 0.0 && rng.chance(*p) {
            tags.insert((*tag).to_string());
        }
    }
    let leaving = status == "terminated" || end.is_some_and(|e| e > today && e - today <= 30);
    if leaving && rng.chance(0.5) {
        tags.insert("offboarding".to_string());
    }
    if !tags.is_empty() {
        put("tags", AttrValue::set(tags));
    }

    // Assignments: mostly to the department's own assignable roles, for
    // people who have been here a few months (nobody asks for admin rights
    // in their first weeks, and an assignment never predates the start).
    let mut assignments = Vec::new();
    let p_assigned = match status {
        "active" => 0.10,
        "pre_hire" => 0.0,
        _ => 0.05,
    };
    if today - start >= 120 && rng.chance(p_assigned) {
        let own: Vec<&super::roles::AssignableRole> = blueprint.assignable.iter().filter(|a| a.department == Some(d)).collect();
        let clearance = match attributes.get("clearance") {
            Some(AttrValue::Int(c)) => *c,
            _ => -1,
        };
        let eligible: Vec<&&super::roles::AssignableRole> = own
            .iter()
            .filter(|a| a.band.is_none_or(|b| b == band) && a.clearance.is_none_or(|c| clearance >= c))
            .collect();
        let n = if rng.chance(0.8) { 1 } else { 2 };
        for _ in 0..n {
            let role = if rng.chance(0.9) {
                rng.pick(&eligible).map(|r| **r)
            } else {
                // Someone else's role: a mover's leftover, or a mistaken request.
                rng.pick(&blueprint.assignable.iter().filter(|a| a.department.is_some()).collect::<Vec<_>>())
                    .copied()
            };
            if let Some(role) = role {
                if !assignments.iter().any(|a: &Assignment| a.role == role.id) {
                    assignments.push(assignment(&mut rng, options, &role.id, role.max_duration_days, today));
                }
            }
        }
    }
    IdentityState {
        id: person_id(i),
        kind: "person".into(),
        owner: None,
        attributes: attributes.into_iter().collect::<Attributes>(),
        assignments,
    }
}

/// A time-bound assignment: valid 60%, expired 20%, not yet started 8%,
/// longer than the role allows 12% (roles without a bound: open-ended).
fn assignment(rng: &mut Rng, options: &GenOptions, role: &str, max_days: Option<i64>, today: i64) -> Assignment {
    let max = max_days.unwrap_or(90);
    let (starts, expires) = match rng.unit() {
        x if x < 0.60 => {
            let starts = today - rng.range(0, (max / 2).max(1));
            let len = rng.range(max / 2 + 1, max).max(today - starts + 1);
            (starts, Some(starts + len.min(max)))
        }
        x if x < 0.80 => {
            let expires = today - rng.range(1, 60);
            (expires - rng.range(1, max), Some(expires))
        }
        x if x < 0.88 => {
            let starts = today + rng.range(1, 20);
            (starts, Some(starts + rng.range(1, max)))
        }
        _ => {
            let starts = today - rng.range(0, max / 2);
            (starts, Some(starts + max + rng.range(1, 60)))
        }
    };
    // A role without `max_duration` is held open-ended now and then.
    let expires = if max_days.is_none() && rng.chance(0.5) { None } else { expires };
    // The valid case must cover today (the length may not reach it for short roles).
    let (starts, expires) = match expires {
        Some(e) if e <= starts => (starts, Some(starts + 1)),
        other => (starts, other),
    };
    Assignment {
        role: role.to_string(),
        starts: Instant(starts * DAY),
        expires: expires.map(|e| Instant(e * DAY)),
        approved_by: Some(person_id(rng.below(options.people.max(1)))),
        ticket: Some(format!("RITM{:07}", rng.below(10_000_000))),
    }
}

fn nhi(
    options: &GenOptions,
    blueprint: &Blueprint,
    by_department: &[Vec<usize>],
    service_accounts: &[usize],
    states: &[IdentityState],
    j: usize,
    today: i64,
) -> (IdentityState, Option<usize>) {
    let mut rng = Rng::new(options.seed, Stream::Nhi, j as u64);
    let purposes = &blueprint.purposes;
    let weights: Vec<u32> = purposes.iter().enumerate().map(|(k, _)| (purposes.len() - k) as u32 + 2).collect();
    let purpose = purposes.get(rng.weighted(&weights));
    let (name, kind, department) = purpose.map_or(("automation", "service_account", 0), |p| (p.name, p.kind, p.department));
    let prefix = if kind == "agent" { "agent" } else { "svc" };
    let environment = match rng.unit() {
        x if x < 0.40 => "prod",
        x if x < 0.65 => "staging",
        _ => "dev",
    };
    let status = if rng.chance(0.93) { "active" } else { "terminated" };
    let any_person = |rng: &mut Rng| (options.people > 0).then(|| rng.below(options.people));
    let (owner_id, owner_index) = match rng.unit() {
        x if x < 0.85 => {
            let i = rng
                .pick(&by_department[department.min(by_department.len().saturating_sub(1))])
                .copied();
            let i = i.or_else(|| any_person(&mut rng));
            (i.map(person_id), i)
        }
        x if x < 0.91 => {
            let i = any_person(&mut rng);
            (i.map(person_id), i)
        }
        x if x < 0.95 => (Some(absent_person_id(rng.below(5000))), None),
        _ if kind == "agent" && !service_accounts.is_empty() => {
            let i = service_accounts[rng.below(service_accounts.len())];
            (Some(states[i].id.clone()), Some(i))
        }
        _ => {
            let i = any_person(&mut rng);
            (i.map(person_id), i)
        }
    };
    let attributes: Attributes = [
        ("status", AttrValue::str(status)),
        ("start_date", date(today - rng.range(1, 1500))),
        ("environment", AttrValue::str(environment)),
        ("purpose", AttrValue::str(name)),
    ]
    .into_iter()
    .collect();
    let mut assignments = Vec::new();
    // Production workloads ask for privileged credentials; agents more often
    // than they should (the guardrails refuse them).
    if environment == "prod" && rng.chance(if kind == "agent" { 0.5 } else { 0.3 }) {
        if let Some(role) = blueprint.assignable.iter().find(|a| a.purpose == Some(name)) {
            assignments.push(assignment(&mut rng, options, &role.id, role.max_duration_days, today));
        }
    }
    (
        IdentityState {
            id: format!("{prefix}-{name}-{:05}", j + 1),
            kind: kind.into(),
            owner: owner_id,
            attributes,
            assignments,
        },
        owner_index,
    )
}

/// Appends one record as a JSON line (fields and attributes in a fixed order).
pub(crate) fn write_json(state: &IdentityState, out: &mut String) {
    out.push_str("{\"id\": ");
    json_str(out, &state.id);
    out.push_str(", \"kind\": ");
    json_str(out, &state.kind);
    if let Some(owner) = &state.owner {
        out.push_str(", \"owner\": ");
        json_str(out, owner);
    }
    out.push_str(", \"attributes\": {");
    let mut first = true;
    for key in ATTRIBUTE_ORDER {
        let Some(value) = state.attributes.get(key) else { continue };
        if !first {
            out.push_str(", ");
        }
        first = false;
        json_str(out, key);
        out.push_str(": ");
        match value {
            AttrValue::Str(s) => json_str(out, s),
            AttrValue::Int(n) => out.push_str(&n.to_string()),
            AttrValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            AttrValue::Date(t) => json_str(out, &t.to_cedar()),
            AttrValue::Set(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    json_str(out, item);
                }
                out.push(']');
            }
        }
    }
    out.push('}');
    if !state.assignments.is_empty() {
        out.push_str(", \"assignments\": [");
        for (i, a) in state.assignments.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str("{\"role\": ");
            json_str(out, &a.role);
            out.push_str(", \"starts\": ");
            json_str(out, &a.starts.to_rfc3339());
            if let Some(e) = a.expires {
                out.push_str(", \"expires\": ");
                json_str(out, &e.to_rfc3339());
            }
            if let Some(x) = &a.approved_by {
                out.push_str(", \"approved_by\": ");
                json_str(out, x);
            }
            if let Some(x) = &a.ticket {
                out.push_str(", \"ticket\": ");
                json_str(out, x);
            }
            out.push('}');
        }
        out.push(']');
    }
    out.push_str("}\n");
}
