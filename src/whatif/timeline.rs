//! The timeline: every change that happens on its own in a window of time —
//! an assignment starting or expiring, a contract's end date passing, a
//! `before`/`after: now` condition or a guardrail's date crossing — each with
//! its instant, the identity, and what it gains and loses then (with the
//! reasons [`super::compare`] gives).
//!
//! Each identity is evaluated at the window's start, at every instant its
//! record (and its owner's) schedules — assignment starts and expiries, the
//! values of its date attributes and the instant after each (conditions are
//! strict: `{ before: now }` turns at the instant after), those dates moved
//! by every duration the policies name (`offset(duration("90d"))`) — at
//! every date the policies name, and at the window's end. Between two
//! instants whose states differ, the first instant of the change is found by
//! bisection, so a change no scheduled date explains is still listed, on its
//! own instant, with "a policy reading the time" as its cause.
//!
//! It reads nothing but the population and the definitions it is given, and
//! decides nothing: the evaluator does.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::eval::{DesiredSet, EvalError, Evaluator};
use crate::plan::HeldBack;
use crate::population::Population;
use crate::project::Project;
use crate::state::{AttrValue, IdentityState};
use crate::time::Instant;

use super::{held_back, invalid_identities, Evaluated, IdentityChange, InvalidIdentity, Presence, Run, SodChange, State};

/// What happens on its own between two instants.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// The window's start (its state is the starting point).
    pub from: String,
    /// The window's end (included).
    pub to: String,
    /// The figures.
    pub summary: TimelineSummary,
    /// Every change, by instant then identity.
    pub events: Vec<TimelineEvent>,
    /// Records that could not be used.
    pub invalid_identities: Vec<InvalidIdentity>,
    /// Identities whose owner's record is invalid: their future is unknown.
    pub held_back: Vec<HeldBack>,
}

/// The timeline's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TimelineSummary {
    /// Identities with at least one event.
    pub identities_affected: usize,
    /// Events.
    pub events: usize,
    /// (identity, entitlement) gains over all events.
    pub gained: usize,
    /// (identity, entitlement) losses over all events.
    pub lost: usize,
}

/// One identity's change at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEvent {
    /// When (RFC 3339).
    pub at: String,
    /// What is scheduled then, one phrase each (empty only with a cause no date explains).
    pub causes: Vec<String>,
    /// What it gains and loses, with the reasons.
    #[serde(flatten)]
    pub change: IdentityChange,
    /// SoD violations of its desired state that appear or disappear then.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sod_violations: Vec<SodChange>,
}

/// The cause given to a change no scheduled date explains.
pub const UNSCHEDULED: &str = "a condition or guardrail reading the time (`context.now`)";

/// Every change in the window `from..=to` (the state at `from` is the start).
pub fn timeline(
    project: &Project,
    evaluator: &dyn Evaluator,
    population: &Population,
    from: Instant,
    to: Instant,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Timeline, EvalError> {
    let run = Run::new(project, project)?;
    let dates = PolicyDates::new(project);
    let start = State {
        label: "from",
        project,
        evaluator,
        population,
        at: from,
    };
    let end = State { at: to, ..start };
    let mut ids: Vec<&str> = population.feed.identities.iter().map(|i| i.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let per_identity: Vec<Vec<(Instant, TimelineEvent)>> = ids
        .par_iter()
        .map(|id| {
            let events = match start.presence(id) {
                Presence::Valid(identity, owner) if from < to => Walk {
                    run: &run,
                    evaluator,
                    identity,
                    owner,
                }
                .events(&dates, from, to),
                _ => Ok(Vec::new()),
            };
            progress(1);
            events
        })
        .collect::<Result<_, _>>()?;
    // By instant, not by its text: `…00:00:00.001Z` sorts before `…00:00:00Z` as a string.
    let mut events: Vec<(Instant, TimelineEvent)> = per_identity.into_iter().flatten().collect();
    events.sort_by(|(ta, a), (tb, b)| (ta, &a.change.identity).cmp(&(tb, &b.change.identity)));
    let events: Vec<TimelineEvent> = events.into_iter().map(|(_, e)| e).collect();
    let affected: BTreeSet<&str> = events.iter().map(|e| e.change.identity.as_str()).collect();
    let summary = TimelineSummary {
        identities_affected: affected.len(),
        events: events.len(),
        gained: events.iter().map(|e| e.change.gained.len()).sum(),
        lost: events.iter().map(|e| e.change.lost.len()).sum(),
    };
    Ok(Timeline {
        from: from.to_rfc3339(),
        to: to.to_rfc3339(),
        summary,
        events,
        invalid_identities: invalid_identities(population, population),
        held_back: held_back(&start, &end),
    })
}

/// Dates and durations the policies name.
#[derive(Debug, Default)]
struct PolicyDates {
    /// `datetime("...")` literals.
    instants: BTreeSet<Instant>,
    /// `duration("...")` literals, in milliseconds.
    durations: BTreeSet<i64>,
}

impl PolicyDates {
    fn new(project: &Project) -> PolicyDates {
        let mut out = PolicyDates::default();
        for policy in project.compiled.policies.policies() {
            if let Ok(json) = policy.to_json() {
                out.collect(&json);
            }
        }
        out
    }

    fn collect(&mut self, v: &Value) {
        match v {
            Value::Object(m) => {
                for (key, inner) in m {
                    let literal = inner
                        .as_array()
                        .and_then(|a| a.first())
                        .and_then(|f| f.get("Value"))
                        .and_then(Value::as_str);
                    match (key.as_str(), literal) {
                        ("datetime", Some(text)) => self.instants.extend(cedar_datetime(text)),
                        ("duration", Some(text)) => self.durations.extend(cedar_duration(text)),
                        _ => self.collect(inner),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| self.collect(i)),
            _ => {}
        }
    }
}

/// A Cedar `datetime` literal: a date, or an instant with `Z` or a `±hhmm` offset.
fn cedar_datetime(text: &str) -> Option<Instant> {
    Instant::parse(text).ok().or_else(|| {
        // Cedar writes offsets without a colon (`+0100`); RFC 3339 wants one.
        let (head, offset) = text.split_at(text.len().checked_sub(5)?);
        let sign = offset.chars().next().filter(|c| *c == '+' || *c == '-')?;
        Instant::parse(&format!("{head}{sign}{}:{}", offset.get(1..3)?, offset.get(3..5)?)).ok()
    })
}

/// A Cedar `duration` literal (`-1d2h3m4s5ms`) in milliseconds.
fn cedar_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            let unit = match rest.chars().next()? {
                'd' => 86_400_000,
                'h' => 3_600_000,
                'm' => 60_000,
                's' => 1_000,
                _ => return None,
            };
            (unit, 1)
        };
        rest = &rest[len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(if negative { -total } else { total })
}

/// One identity walked through the window.
struct Walk<'a> {
    run: &'a Run<'a>,
    evaluator: &'a dyn Evaluator,
    identity: &'a IdentityState,
    owner: Option<&'a IdentityState>,
}

impl Walk<'_> {
    fn desired(&self, at: Instant) -> Result<DesiredSet, EvalError> {
        self.evaluator.desired(self.identity, self.owner, at)
    }

    fn evaluated<'d>(&self, desired: &'d DesiredSet) -> Evaluated<'_, 'd> {
        Evaluated {
            record: Some((self.identity, self.owner)),
            desired: Some(desired),
        }
    }

    /// The instants this identity's record and its owner's schedule in `(from, to]`, each with its causes.
    fn scheduled(&self, dates: &PolicyDates, from: Instant, to: Instant) -> BTreeMap<Instant, BTreeSet<String>> {
        let mut out: BTreeMap<Instant, BTreeSet<String>> = BTreeMap::new();
        let mut add = |at: Instant, cause: String| {
            if from < at && at <= to {
                out.entry(at).or_default().insert(cause);
            }
        };
        let subjects = std::iter::once((self.identity, String::new())).chain(self.owner.map(|o| (o, format!("owner `{}`'s ", o.id))));
        for (record, whose) in subjects {
            for a in &record.assignments {
                let ticket = a.ticket.as_deref().map(|t| format!(" (ticket {t})")).unwrap_or_default();
                add(a.starts, format!("{whose}assignment to `{}` starts{ticket}", a.role));
                if let Some(end) = a.expires {
                    add(end, format!("{whose}assignment to `{}` expires{ticket}", a.role));
                }
            }
            for (name, value) in record.attributes.iter() {
                let AttrValue::Date(d) = value else { continue };
                let shown = d.to_cedar();
                add(*d, format!("{whose}`{name}` ({shown}) is reached"));
                add(Instant(d.0.saturating_add(1)), format!("{whose}`{name}` ({shown}) has passed"));
                for delta in &dates.durations {
                    let moved = Instant(d.0.saturating_add(*delta));
                    let by = if *delta < 0 { "−" } else { "+" };
                    let amount = crate::time::Duration(delta.saturating_abs());
                    add(moved, format!("{whose}`{name}` ({shown}) {by} {amount} is reached"));
                    add(
                        Instant(moved.0.saturating_add(1)),
                        format!("{whose}`{name}` ({shown}) {by} {amount} has passed"),
                    );
                }
            }
        }
        for d in &dates.instants {
            add(*d, format!("the policy date {} is reached", d.to_cedar()));
            add(
                Instant(d.0.saturating_add(1)),
                format!("the policy date {} has passed", d.to_cedar()),
            );
        }
        out.entry(to).or_default();
        out
    }

    /// Each change in `(from, to]`, with its instant.
    fn events(&self, dates: &PolicyDates, from: Instant, to: Instant) -> Result<Vec<(Instant, TimelineEvent)>, EvalError> {
        let scheduled = self.scheduled(dates, from, to);
        let mut events = Vec::new();
        let (mut t_prev, mut prev) = (from, self.desired(from)?);
        for t in scheduled.keys().copied() {
            loop {
                let now = self.desired(t)?;
                if same(&now, &prev) {
                    t_prev = t;
                    break;
                }
                // The first instant in (t_prev, t] whose state differs from `prev`.
                let first = self.first_change(&prev, t_prev, t)?;
                let state = if first == t { now } else { self.desired(first)? };
                let causes = match scheduled.get(&first) {
                    Some(c) if !c.is_empty() => c.iter().cloned().collect(),
                    _ => vec![UNSCHEDULED.to_string()],
                };
                let change = self
                    .run
                    .change(&self.identity.id, &self.evaluated(&prev), &self.evaluated(&state), first);
                if let Some(outcome) = change {
                    events.push((
                        first,
                        TimelineEvent {
                            at: first.to_rfc3339(),
                            causes,
                            change: outcome.change,
                            sod_violations: outcome.sod,
                        },
                    ));
                }
                prev = state;
                t_prev = first;
                if first == t {
                    break;
                }
            }
        }
        Ok(events)
    }

    /// The first instant in `(lo, hi]` whose state differs from `prev` (the state at `lo`,
    /// which the state at `hi` differs from): `hi` when the instant before it is still `prev`,
    /// else found by bisection.
    fn first_change(&self, prev: &DesiredSet, lo: Instant, hi: Instant) -> Result<Instant, EvalError> {
        let before_hi = Instant(hi.0 - 1);
        if before_hi <= lo || same(&self.desired(before_hi)?, prev) {
            return Ok(hi);
        }
        let (mut lo, mut hi) = (lo.0, before_hi.0);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if same(&self.desired(Instant(mid))?, prev) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(Instant(hi))
    }
}

/// Do two desired sets of one identity hold the same roles and entitlements?
fn same(a: &DesiredSet, b: &DesiredSet) -> bool {
    a.entitlement_ids() == b.entitlement_ids() && a.role_ids() == b.role_ids()
}
