//! Solver models back to identity states: the subject (the request's
//! principal) and its owner as records of spec §4, an instant, and the
//! entitlement; then confirmed by Cedar on the real schema and store, and
//! made small.
//!
//! Invariant: a counterexample leaves this module only as records the feed
//! reader accepts ([`IdentityState::from_json`]) that reproduce the violation
//! under the oracle's semantics (spec §3: the merged policy set, the static
//! entities plus the identity and its loaded owner); anything else is an
//! error the caller reports as `unknown`.

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::{Authorizer, Decision, Entities, EntityUid, EvalResult, PolicySet};
use cedar_policy_symcc::Env;

use crate::compile::{uid, EntityType, PolicyOrigin};

use crate::eval::cedar_io::{context_at, entitlement_entity, hold_request, identity_entity};
use crate::eval::Justification;
use crate::model::{AttrType, Definitions};
use crate::project::Project;
use crate::state::{Assignment, AttrValue, IdentityState};
use crate::time::{Duration, Instant};

use super::assume::{self, Literals};

/// An identity state (with its owner) at an instant, read from a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The identity the property speaks of.
    pub subject: IdentityState,
    /// Its owner's record, when it has one.
    pub owner: Option<IdentityState>,
    /// The instant (`--as-of`).
    pub at: Instant,
}

/// Reads the subject, its owner, the instant and the resource from a model.
/// Ids no policy names are replaced by readable ones (`subject`, `owner`).
/// Only what the query's policies read (`footprint`) is kept: optional
/// attributes they do not read, the owner when they do not read it, and
/// assignments to roles they do not name were left free by the assumptions,
/// so the model's values for them mean nothing (and need not be valid).
pub fn scenario_of(
    env: &Env,
    project: &Project,
    named_identities: &BTreeSet<String>,
    footprint: &Literals,
) -> Result<(Scenario, String), String> {
    let defs = &project.defs;
    let principal = env.request.principal().ok_or("the model has no principal")?;
    let resource = env.request.resource().ok_or("the model has no resource")?;
    let at = match env.request.context().and_then(|c| c.get("now")) {
        Some(EvalResult::ExtensionValue(text)) => instant_of(&text)?,
        other => return Err(format!("the model's `context.now` is not a datetime: {other:?}")),
    };
    let fresh = |wanted: &str, taken: &BTreeSet<String>| {
        (0..)
            .map(|i| if i == 0 { wanted.to_string() } else { format!("{wanted}-{i}") })
            .find(|c| !named_identities.contains(c) && !taken.contains(c))
            .unwrap_or_default()
    };
    let keep_or = |uid: &EntityUid, wanted: &str, taken: &BTreeSet<String>| {
        let id = uid.id().unescaped().to_string();
        if named_identities.contains(&id) {
            id
        } else {
            fresh(wanted, taken)
        }
    };
    let subject_id = keep_or(principal, "subject", &BTreeSet::new());
    let entity = env.entities.get(principal).ok_or("the model has no principal entity")?;
    let owner_uid = match entity.attr("owner") {
        Some(Ok(EvalResult::EntityUid(uid))) if footprint.reads_owner() => Some(uid),
        _ => None,
    };
    let owner_id = owner_uid
        .as_ref()
        .map(|uid| keep_or(uid, "owner", &BTreeSet::from([subject_id.clone()])));
    let roles = assume::roles_named(defs, &project.graph, &footprint.roles);
    let subject = identity_of(
        env,
        principal,
        subject_id,
        owner_id.clone(),
        at,
        defs,
        (&footprint.principal_attributes, &roles),
    )?;
    let owner_roles = if footprint.owner_roles { roles.clone() } else { BTreeSet::new() };
    let owner = match (owner_uid, owner_id) {
        (Some(uid), Some(id)) => Some(identity_of(
            env,
            &uid,
            id,
            None,
            at,
            defs,
            (&footprint.owner_attributes, &owner_roles),
        )?),
        _ => None,
    };
    Ok((Scenario { subject, owner, at }, resource.id().unescaped().to_string()))
}

/// `record` as the feed reader reads it back (text trimmed, blank text
/// absent, ...): a record in a counterexample must mean exactly what was
/// evaluated. An error when the reader refuses it.
pub(crate) fn as_read(record: &IdentityState, defs: &Definitions) -> Result<IdentityState, String> {
    IdentityState::from_json(&record.to_json(), defs).map_err(|e| format!("record `{}` would be refused: {e}", record.id))
}

/// Cedar's canonical datetime (`datetime("1970-01-01").offset(duration("123ms"))`,
/// or `datetime("...")`) as an instant.
fn instant_of(text: &str) -> Result<Instant, String> {
    let quoted = |s: &str, prefix: &str| -> Option<String> {
        let rest = s.strip_prefix(prefix)?;
        let end = rest.find('"')?;
        rest.get(..end).map(str::to_string)
    };
    let base = quoted(text, "datetime(\"").ok_or_else(|| format!("`{text}` is not a datetime"))?;
    let base = Instant::parse(&base)?;
    let offset = match text.find(".offset(duration(\"") {
        None => 0,
        Some(i) => {
            let d = quoted(text.get(i..).unwrap_or_default(), ".offset(duration(\"").unwrap_or_default();
            d.strip_suffix("ms")
                .and_then(|n| n.parse::<i64>().ok())
                .ok_or_else(|| format!("`{text}` is not a datetime"))?
        }
    };
    base.0
        .checked_add(offset)
        .map(Instant)
        .ok_or_else(|| format!("`{text}` is out of range"))
}

/// The record of the identity `uid` in the model, under the id `id`, with the
/// required attributes and those in `keep.0`, and assignments to the roles in `keep.1`.
fn identity_of(
    env: &Env,
    uid: &EntityUid,
    id: String,
    owner: Option<String>,
    at: Instant,
    defs: &Definitions,
    keep: (&BTreeSet<String>, &BTreeSet<String>),
) -> Result<IdentityState, String> {
    let entity = env.entities.get(uid).ok_or_else(|| format!("the model has no entity {uid}"))?;
    let kind = match entity.attr("kind") {
        Some(Ok(EvalResult::String(k))) => k,
        _ => return Err(format!("the model's {uid} has no kind")),
    };
    let mut attributes = Vec::new();
    for (name, def) in &defs.identity.attributes {
        if !def.required && !keep.0.contains(name) {
            continue;
        }
        let Some(Ok(value)) = entity.attr(name) else { continue };
        let value = match (&def.ty, value) {
            (AttrType::String | AttrType::Enum(_), EvalResult::String(s)) => AttrValue::str(&s),
            (AttrType::Int, EvalResult::Long(n)) => AttrValue::Int(n),
            (AttrType::Bool, EvalResult::Bool(b)) => AttrValue::Bool(b),
            (AttrType::Date, EvalResult::ExtensionValue(text)) => AttrValue::Date(instant_of(&text)?),
            (AttrType::Set, EvalResult::Set(items)) => AttrValue::set(
                items
                    .iter()
                    .map(|i| match i {
                        EvalResult::String(s) => Ok(s.as_str()),
                        other => Err(format!("`{name}` holds a non-string {other:?}")),
                    })
                    .collect::<Result<Vec<&str>, _>>()?,
            ),
            (_, other) => return Err(format!("the model gives `{name}` the value {other:?}")),
        };
        attributes.push((name.clone(), value));
    }
    let roles: BTreeSet<String> = env
        .entities
        .ancestors(uid)
        .into_iter()
        .flatten()
        .filter(|a| a.type_name().to_string() == "Role")
        .map(|a| a.id().unescaped().to_string())
        .filter(|r| keep.1.contains(r))
        .collect();
    let assignments = roles
        .iter()
        .filter_map(|r| defs.roles.get(r).filter(|role| role.assignable))
        .filter_map(|role| assignment(&role.id, role.max_duration, at))
        .collect();
    Ok(IdentityState {
        id,
        kind: kind.into(),
        owner,
        attributes: attributes.into_iter().collect(),
        assignments,
    })
}

/// An assignment to `role` that is valid at `at`: it starts then and runs for
/// the role's `max_duration` (30 days for a role without one), within the
/// instants a record can name.
fn assignment(role: &str, max_duration: Option<Duration>, at: Instant) -> Option<Assignment> {
    let last = Instant::parse(assume::LAST_INSTANT).ok()?;
    let length = max_duration.unwrap_or(Duration(30 * 86_400_000)).0;
    let expires = Instant(at.0.saturating_add(length).min(last.0));
    let expires = match (expires > at, max_duration) {
        (true, _) => Some(expires),
        (false, None) => None,
        (false, Some(_)) => return None,
    };
    Some(Assignment {
        role: role.to_string(),
        starts: at,
        expires,
        approved_by: None,
        ticket: None,
    })
}

/// What a counterexample must show, checked with Cedar on the real schema and store.
pub struct Claim<'a> {
    /// Entitlements the subject must hold.
    pub holds: Vec<String>,
    /// A policy set that must also allow (subject, `holds[0]`): the invariant's `for` and filter.
    pub also: Option<&'a PolicySet>,
}

/// How a confirmation evaluates: as the oracle does, or through a fast path
/// that gives the same answers.
#[derive(Debug, Clone, Copy)]
pub enum Store<'a> {
    /// The oracle's way (spec §3): the whole merged policy set, and the whole
    /// static store plus the records.
    Full,
    /// Only what the requests can read and what can decide them: the
    /// records, the roles their assignments reach (with their ancestors) and
    /// the entitlements claimed (with theirs); the hand-written policies and
    /// the policies of the roles that grant a claimed entitlement (no other
    /// policy's scope admits the request). The same answers and reasons as
    /// [`Store::Full`] when no policy reads a static entity named by a
    /// literal (the caller decides, as `eval::Engine` does for its store);
    /// `tests/prove_soundness.rs` holds the two to each other. It costs
    /// microseconds where the full store costs a transitive closure over the
    /// whole catalog.
    Slim(Index<'a>),
}

/// What [`Store::Slim`] needs to know of the definitions.
#[derive(Debug, Clone, Copy)]
pub struct Index<'a> {
    /// For each entitlement, the roles that grant it (own grants and inherited).
    pub granted_by: &'a BTreeMap<String, BTreeSet<String>>,
    /// The hand-written policies.
    pub hand_written: &'a [cedar_policy::Policy],
}

/// The policies that decide requests about `entitlements`.
fn deciding<'p>(project: &'p Project, entitlements: &[String], store: Store<'_>) -> Result<std::borrow::Cow<'p, PolicySet>, String> {
    let Store::Slim(index) = store else {
        return Ok(std::borrow::Cow::Borrowed(&project.compiled.policies));
    };
    let roles: BTreeSet<&String> = entitlements.iter().filter_map(|e| index.granted_by.get(e)).flatten().collect();
    let mut set = PolicySet::new();
    for policy in roles
        .into_iter()
        .filter_map(|r| {
            project
                .compiled
                .policies
                .policy(&cedar_policy::PolicyId::new(crate::compile::role_policy_id(r)))
        })
        .chain(index.hand_written)
    {
        set.add(policy.clone()).map_err(|e| e.to_string())?;
    }
    Ok(std::borrow::Cow::Owned(set))
}

/// The entity store the requests of `scenario` about `entitlements` are evaluated against.
pub(crate) fn entities_for(project: &Project, scenario: &Scenario, entitlements: &[String], store: Store<'_>) -> Result<Entities, String> {
    let defs = &project.defs;
    let mut extra = vec![identity_entity(defs, &scenario.subject, scenario.at, scenario.owner.is_some()).map_err(|e| e.to_string())?];
    if let Some(o) = &scenario.owner {
        extra.push(identity_entity(defs, o, scenario.at, false).map_err(|e| e.to_string())?);
    }
    match store {
        Store::Full => project
            .compiled
            .entities()?
            .clone()
            .add_entities(extra, None)
            .map_err(|e| e.to_string()),
        Store::Slim(_) => {
            // The roles the records' assignments reach, each with its own
            // parents (the store closes the hierarchy over them), and the
            // entitlements, their parents already every ancestor.
            let mut roles = BTreeSet::new();
            for record in std::iter::once(&scenario.subject).chain(&scenario.owner) {
                for role in crate::eval::assigned_roles(defs, record, scenario.at) {
                    roles.extend(project.graph.role_ancestors.get(&role).into_iter().flatten().cloned());
                    roles.insert(role);
                }
            }
            for role in &roles {
                let parents = defs
                    .roles
                    .get(role)
                    .map(|r| r.extends.iter().map(|p| uid(EntityType::Role, p)).collect())
                    .unwrap_or_default();
                extra.push(cedar_policy::Entity::new_no_attrs(uid(EntityType::Role, role), parents));
            }
            for e in entitlements {
                extra.push(entitlement_entity(project, e).map_err(|e| e.to_string())?);
            }
            Entities::from_entities(extra, None).map_err(|e| e.to_string())
        }
    }
}

/// Does `scenario` reproduce `claim` under the oracle's semantics, with
/// records the feed reader reads back as they are? On success, every
/// justification. `store` says which entity store the requests see
/// ([`Store::Full`] is the oracle's).
pub fn confirm(
    project: &Project,
    scenario: &Scenario,
    claim: &Claim<'_>,
    store: Store<'_>,
) -> Result<BTreeMap<String, Vec<Justification>>, String> {
    let defs = &project.defs;
    for record in std::iter::once(&scenario.subject).chain(&scenario.owner) {
        if as_read(record, defs)? != *record {
            return Err(format!("record `{}` would be read differently", record.id));
        }
    }
    let entities = entities_for(project, scenario, &claim.holds, store)?;
    let policies = deciding(project, &claim.holds, store)?;
    let authorizer = Authorizer::new();
    let context = context_at(scenario.at).map_err(|e| e.to_string())?;
    let mut because = BTreeMap::new();
    for (i, entitlement) in claim.holds.iter().enumerate() {
        let request = hold_request(&scenario.subject.id, entitlement, context.clone()).map_err(|e| e.to_string())?;
        let response = authorizer.is_authorized(&request, &policies, &entities);
        if response.decision() != Decision::Allow {
            return Err(format!("`{}` would not hold `{entitlement}`", scenario.subject.id));
        }
        if let (0, Some(also)) = (i, claim.also) {
            if authorizer.is_authorized(&request, also, &entities).decision() != Decision::Allow {
                return Err(format!("`{}` is not an identity the property speaks of", scenario.subject.id));
            }
        }
        let catalog = project.catalog();
        let id = catalog
            .entitlements
            .id(entitlement)
            .ok_or_else(|| format!("`{entitlement}` is not in the catalog"))?;
        let ids = crate::eval::justifications_for(project, id, response.diagnostics().reason().map(AsRef::<str>::as_ref));
        because.insert(entitlement.clone(), ids.into_iter().map(|j| catalog.justification(j)).collect());
    }
    Ok(because)
}

/// The roles the subject of `scenario` holds, as the oracle decides them
/// (every role's probe policy in one request).
pub fn held_roles(project: &Project, scenario: &Scenario, store: Store<'_>) -> Result<BTreeSet<String>, super::ProveError> {
    held_roles_or_why(project, scenario, store).map_err(super::ProveError::Setup)
}

fn held_roles_or_why(project: &Project, scenario: &Scenario, store: Store<'_>) -> Result<BTreeSet<String>, String> {
    let any = project.defs.entitlements.keys().next().ok_or("the catalog is empty")?;
    let entities = entities_for(project, scenario, std::slice::from_ref(any), store)?;
    let request =
        hold_request(&scenario.subject.id, any, context_at(scenario.at).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let response = Authorizer::new().is_authorized(&request, project.compiled.role_probes()?, &entities);
    Ok(response
        .diagnostics()
        .reason()
        .filter_map(|id| match &project.compiled.info.get(AsRef::<str>::as_ref(id))?.origin {
            PolicyOrigin::Role(role) => Some(role.clone()),
            _ => None,
        })
        .collect())
}

/// The smallest scenario (fewest attributes, assignments and owner) found
/// by dropping one thing at a time while it still reproduces `claim`.
pub fn minimise(project: &Project, scenario: Scenario, claim: &Claim<'_>, store: Store<'_>) -> Scenario {
    let mut best = scenario;
    loop {
        let smaller = candidates(&best).into_iter().find(|c| confirm(project, c, claim, store).is_ok());
        match smaller {
            Some(c) => best = c,
            None => return best,
        }
    }
}

/// An instant a person reads at a glance, tried in place of the solver's
/// (which tends to sit next to the Unix epoch).
const ROUND_INSTANT: &str = "2030-01-01";

/// The instant witnesses are built at, and counterexamples moved to when they can be.
pub fn round_instant() -> Instant {
    Instant::parse(ROUND_INSTANT).unwrap_or(Instant(0))
}

/// `s` at the instant `at`, its assignments moved with it.
fn at_instant(s: &Scenario, at: Instant) -> Scenario {
    let shift = |t: Instant| Instant(t.0.saturating_add(at.0.saturating_sub(s.at.0)));
    let moved = |r: &IdentityState| {
        let mut r = r.clone();
        for a in &mut r.assignments {
            a.starts = shift(a.starts);
            a.expires = a.expires.map(shift);
        }
        r
    };
    Scenario {
        subject: moved(&s.subject),
        owner: s.owner.as_ref().map(moved),
        at,
    }
}

/// Every scenario with one thing fewer (or a rounder instant), in a fixed order.
fn candidates(s: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    let day = 86_400_000;
    let round = Instant::parse(ROUND_INSTANT).ok();
    // Only ever rounder (the round instant, then any midnight), so minimising terminates.
    let rank = |t: Instant| match (Some(t) == round, t.0 % day == 0) {
        (true, _) => 0,
        (false, true) => 1,
        (false, false) => 2,
    };
    for at in [round, Some(Instant(s.at.0.div_euclid(day) * day))].into_iter().flatten() {
        if rank(at) < rank(s.at) {
            out.push(at_instant(s, at));
        }
    }
    if s.owner.is_some() {
        let mut c = s.clone();
        c.owner = None;
        c.subject.owner = None;
        out.push(c);
    }
    let shrink = |record: &IdentityState| -> Vec<IdentityState> {
        let mut out = Vec::new();
        for i in 0..record.assignments.len() {
            let mut r = record.clone();
            r.assignments.remove(i);
            out.push(r);
        }
        for name in record.attributes.keys() {
            let mut r = record.clone();
            r.attributes = record
                .attributes
                .iter()
                .filter(|(k, _)| *k != name)
                .map(|(k, v)| (k, v.clone()))
                .collect();
            out.push(r);
        }
        out
    };
    for subject in shrink(&s.subject) {
        out.push(Scenario { subject, ..s.clone() });
    }
    if let Some(owner) = &s.owner {
        for o in shrink(owner) {
            out.push(Scenario {
                owner: Some(o),
                ..s.clone()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cedar_datetimes_read_back() {
        assert_eq!(
            instant_of(r#"datetime("1970-01-01").offset(duration("-1ms"))"#).unwrap(),
            Instant(-1)
        );
        assert_eq!(instant_of(r#"datetime("1970-01-02")"#).unwrap(), Instant(86_400_000));
        assert!(instant_of("decimal(\"1.0\")").is_err());
    }

    #[test]
    fn assignments_run_from_the_instant() {
        let at = Instant(0);
        let a = assignment("r", Some(Duration(3_600_000)), at).unwrap();
        assert_eq!((a.starts, a.expires), (at, Some(Instant(3_600_000))));
        let last = Instant::parse(super::super::assume::LAST_INSTANT).unwrap();
        assert!(assignment("r", Some(Duration(1000)), last).is_none());
        assert_eq!(assignment("r", None, last).unwrap().expires, None);
    }
}
