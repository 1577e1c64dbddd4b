//! Why an identity holds an entitlement — every role, package path, policy
//! and YAML line — or why not: which guardrail forbade it, which condition of
//! which role failed (naming the clause and the identity's value), which
//! assignment is missing or expired, or that nothing grants it at all.
//!
//! The verdict (holds / forbidden / not granted) always comes from an
//! [`Evaluator`]; this module only adds the account of the failed conditions.

use crate::term::one_line;
use std::fmt::Write as _;

use crate::compile::PolicyOrigin;
use crate::model::{AttrTest, CmpOp, Condition, Literal, Role, Subject};
use crate::project::Project;
use crate::state::{AssignmentStatus, AttrValue, IdentityState};
use crate::time::Instant;

use super::cedar_io::{full_store, CedarHatches};
use super::condition::{Outcome, RoleConditions, Seen, Trace, TraceEntry};
use super::facts::Facts;
use super::{assigned_roles, EvalError, Evaluator, ExceptionJustification, Justification};

/// The answer to "does this identity hold this entitlement, and why (not)?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explanation {
    /// It holds it, for these reasons.
    Holds(Vec<Justification>),
    /// Policies permit it but guardrails forbid it.
    Forbidden {
        /// The forbidding guardrails: id and `file:line`.
        by: Vec<(String, String)>,
    },
    /// Roles (or hand-written permits, when the list is empty) could grant it, but none applies.
    NotGranted(Vec<RoleMiss>),
    /// No role or policy grants it to anyone.
    NothingGrants,
    /// An approved exception allowed it, and has expired (the latest to
    /// expire, when several did); the roles that could grant it do not apply.
    ExceptionExpired {
        /// The exception.
        exception: ExceptionJustification,
        /// Its YAML `file:line`.
        source: String,
        /// Why each role that grants it does not apply (empty when none grants it).
        misses: Vec<RoleMiss>,
    },
}

/// Why one role that would grant the entitlement does not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMiss {
    /// The role.
    pub role: String,
    /// Where it is defined.
    pub source: String,
    /// Each reason, one sentence.
    pub reasons: Vec<String>,
}

/// Explains `entitlement` for `identity` at `at`.
pub fn explain(
    project: &Project,
    evaluator: &dyn Evaluator,
    identity: &IdentityState,
    owner: Option<&IdentityState>,
    at: Instant,
    entitlement: &str,
) -> Result<Explanation, EvalError> {
    let desired = evaluator.desired(identity, owner, at)?;
    if let Some(j) = desired.justifications(entitlement) {
        return Ok(Explanation::Holds(j));
    }
    if let Some(ids) = desired.forbidden_by(entitlement) {
        let by = ids
            .into_iter()
            .map(|id| {
                (
                    id.to_string(),
                    project.compiled.info.get(id).map(|i| i.source.file_line()).unwrap_or_default(),
                )
            })
            .collect();
        return Ok(Explanation::Forbidden { by });
    }
    let granting: Vec<&Role> = project
        .defs
        .roles
        .values()
        .filter(|r| project.graph.role_grants.get(&r.id).is_some_and(|g| g.contains_key(entitlement)))
        .collect();
    let hand_written_permits = project
        .compiled
        .info
        .values()
        .any(|i| i.origin == PolicyOrigin::Guardrail && !i.forbid);
    let lapsed = expired_exception(project, &identity.id, at, entitlement);
    if granting.is_empty() && !hand_written_permits {
        return Ok(match lapsed {
            Some((exception, source)) => Explanation::ExceptionExpired {
                exception,
                source,
                misses: Vec::new(),
            },
            None => Explanation::NothingGrants,
        });
    }
    let reasons = RoleReasons::new(project)?;
    let misses = granting
        .into_iter()
        .map(|role| RoleMiss {
            role: role.id.clone(),
            source: role.source.file_line(),
            reasons: reasons.why_not(project, identity, owner, at, role, desired.holds_role(&role.id)),
        })
        .collect();
    Ok(match lapsed {
        Some((exception, source)) => Explanation::ExceptionExpired { exception, source, misses },
        None => Explanation::NotGranted(misses),
    })
}

/// The exception of `identity` allowing `entitlement` that has expired by
/// `at` (the latest to expire), with its YAML `file:line`.
fn expired_exception(project: &Project, identity: &str, at: Instant, entitlement: &str) -> Option<(ExceptionJustification, String)> {
    let c = project.catalog();
    let e = c.entitlements.id(entitlement)?;
    let x = c
        .exceptions_of(identity)
        .iter()
        .copied()
        .filter(|x| c.exception(*x).expires <= at && c.exception(*x).entitlements.binary_search(&e).is_ok())
        .max_by_key(|x| (c.exception(*x).expires, *x))?;
    let j = c.justification(c.exception(x).justification);
    Some((j.exception?, j.source))
}

/// Why a role does not apply to an identity: built once for a project (its
/// role conditions compiled), asked for as many identities and roles as
/// needed — `explain` asks it of the roles that could grant an entitlement,
/// what-if of the roles that granted what an identity loses.
#[derive(Debug, Clone)]
pub struct RoleReasons {
    conditions: RoleConditions,
}

impl RoleReasons {
    /// Compiles the project's role conditions for tracing.
    pub fn new(project: &Project) -> Result<RoleReasons, EvalError> {
        Ok(RoleReasons {
            conditions: RoleConditions::new(project)?,
        })
    }

    /// Why `role` does not apply to `identity` at `at`, one sentence each:
    /// its kinds, a missing or expired assignment, each failing clause of its
    /// condition with the value the identity has. `held` says the identity
    /// holds the role (then the role is not what stops a grant).
    pub fn why_not(
        &self,
        project: &Project,
        identity: &IdentityState,
        owner: Option<&IdentityState>,
        at: Instant,
        role: &Role,
        held: bool,
    ) -> Vec<String> {
        let assigned = assigned_roles(&project.defs, identity, at);
        // The engine's walker, traced: each clause's outcome and the value it saw.
        let facts = Facts::new(project.catalog(), identity, owner, at);
        let build = || full_store(project, identity, owner, at);
        let mut hatches = CedarHatches::new(self.conditions.escape_hatches(), project.catalog(), &facts, &build);
        let trace = match project.catalog().roles.id(&role.id) {
            Some(id) if !held => Some(
                self.conditions
                    .trace(project.catalog(), id, &role.when, &facts, &mut |h| hatches.answer(h)),
            ),
            _ => None,
        };
        role_miss_reasons(project, role, identity, at, &assigned, held, trace.as_ref())
    }
}

/// Why `identity` does not hold `role` at `at`: one sentence a reason — its
/// kind, its assignment, each failing clause of its condition as the engine's
/// walker traced it. Empty when it holds the role. (Compiles the role
/// conditions on each call: for many questions build a [`RoleReasons`] once.)
pub fn role_reasons(
    project: &Project,
    evaluator: &dyn Evaluator,
    identity: &IdentityState,
    owner: Option<&IdentityState>,
    at: Instant,
    role: &str,
) -> Result<Vec<String>, EvalError> {
    let desired = evaluator.desired(identity, owner, at)?;
    if desired.holds_role(role) {
        return Ok(Vec::new());
    }
    let Some(definition) = project.defs.roles.get(role) else {
        return Ok(vec![format!("there is no role `{role}`")]);
    };
    Ok(RoleReasons::new(project)?.why_not(project, identity, owner, at, definition, false))
}

fn role_miss_reasons(
    project: &Project,
    role: &Role,
    identity: &IdentityState,
    at: Instant,
    assigned: &std::collections::BTreeSet<String>,
    held: bool,
    trace: Option<&Trace<'_, '_>>,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if held {
        reasons.push(format!(
            "role `{}` is held, but a hand-written policy or error stops its grant",
            role.id
        ));
        return reasons;
    }
    if !role.kinds.iter().any(|k| **k == *identity.kind) {
        reasons.push(format!(
            "kind is `{}`, but the role applies to {}",
            identity.kind,
            list(&role.kinds)
        ));
    }
    if role.assignable {
        // Cedar `in`: an assignment to the role or to any role extending it, transitively.
        let members: Vec<&String> = project.graph.role_members.get(&role.id).into_iter().flatten().collect();
        if !members.iter().any(|m| assigned.contains(*m)) {
            let mine: Vec<_> = identity.assignments.iter().filter(|a| members.contains(&&a.role)).collect();
            if mine.is_empty() {
                reasons.push(format!(
                    "role `{}` is assignable and `{}` has no assignment to it",
                    role.id, identity.id
                ));
            }
            for a in mine {
                let max_duration = project.defs.roles.get(&a.role).and_then(|r| r.max_duration);
                let status = a.status(at, max_duration);
                reasons.push(match status {
                    AssignmentStatus::Expired => format!(
                        "the assignment to `{}` expired at {}",
                        a.role,
                        a.expires.map(|e| e.to_string()).unwrap_or_default()
                    ),
                    AssignmentStatus::NotYetStarted => format!("the assignment to `{}` starts at {}", a.role, a.starts),
                    AssignmentStatus::ExceedsMaxDuration => format!(
                        "the assignment to `{}` ({} to {}) is longer than the role's max_duration {}",
                        a.role,
                        a.starts,
                        a.expires.map(|e| e.to_string()).unwrap_or_else(|| "no end".into()),
                        max_duration.map(|d| d.to_string()).unwrap_or_default()
                    ),
                    AssignmentStatus::Active => "the assignment is valid".into(),
                });
            }
        }
    }
    if let Some(trace) = trace {
        failed_clauses(&mut trace.entries.iter(), &mut reasons);
    }
    if reasons.is_empty() {
        reasons.push("its `cedar:` condition is not satisfied or fails to evaluate".into());
    }
    reasons
}

fn list(items: &[String]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

/// Adds a sentence for each failing clause of a traced condition (entries in
/// pre-order, consumed here); returns whether the clause counts as holding.
/// An escape hatch is explained by its traced outcome: false, or an error
/// (which, in Cedar, makes the whole role not apply).
fn failed_clauses<'c>(entries: &mut std::slice::Iter<'_, TraceEntry<'c, '_>>, out: &mut Vec<String>) -> bool {
    let Some(entry) = entries.next() else { return true };
    let c = entry.condition;
    match c {
        Condition::All(items) => {
            let mut ok = true;
            for _ in items {
                ok &= failed_clauses(entries, out);
            }
            ok
        }
        Condition::Any(items) => {
            let mut failures = Vec::new();
            let mut ok = false;
            for _ in items {
                ok |= failed_clauses(entries, &mut failures);
            }
            if !ok {
                out.push(format!("none of the `any` alternatives holds: {}", failures.join("; ")));
            }
            ok
        }
        Condition::Not(inner) => {
            let mut inner_reasons = Vec::new();
            let holds = failed_clauses(entries, &mut inner_reasons);
            if entry.outcome == Outcome::Error {
                // `!error` is an error in Cedar: the inner escape hatch's error is the reason.
                out.extend(inner_reasons);
                return false;
            }
            if holds {
                out.push(format!("`not: {{ {} }}` fails because it holds", describe(inner)));
            }
            !holds
        }
        Condition::Cedar { source, .. } => match entry.outcome {
            Outcome::Holds => true,
            Outcome::Fails => {
                out.push(format!("`{}` ({}) is false", describe(c), source.file_line()));
                false
            }
            Outcome::Error => {
                out.push(format!(
                    "`{}` ({}) fails to evaluate, and an error in Cedar makes the role not apply",
                    describe(c),
                    source.file_line()
                ));
                false
            }
        },
        Condition::Kind { subject, kinds, source } => {
            let ok = entry.outcome == Outcome::Holds;
            if !ok {
                let seen = match entry.seen {
                    Seen::Kind(k) => Some(format!("`{k}`")),
                    _ => None,
                };
                out.push(format!(
                    "`{}` ({}) needs {}, but {}",
                    describe(c),
                    source.file_line(),
                    list(kinds),
                    subject_value(*subject, "kind", seen, entry.seen == Seen::NoOwner)
                ));
            }
            ok
        }
        Condition::Attr { subject, attr, source, .. } => {
            let ok = entry.outcome == Outcome::Holds;
            if !ok {
                let seen = match entry.seen {
                    Seen::Value(v) => v.map(show),
                    _ => None,
                };
                out.push(format!(
                    "`{}` ({}) fails: {}",
                    describe(c),
                    source.file_line(),
                    subject_value(*subject, attr, seen, entry.seen == Seen::NoOwner)
                ));
            }
            ok
        }
    }
}

fn subject_value(subject: Subject, attr: &str, value: Option<String>, no_owner: bool) -> String {
    match (subject, value) {
        (Subject::Owner, _) if no_owner => "the identity has no known owner".into(),
        (Subject::Owner, Some(v)) => format!("the owner's `{attr}` is {v}"),
        (Subject::Owner, None) => format!("the owner has no `{attr}`"),
        (Subject::Identity, Some(v)) => format!("`{attr}` is {v}"),
        (Subject::Identity, None) => format!("`{attr}` is absent"),
    }
}

fn show(v: &AttrValue) -> String {
    match v {
        AttrValue::Str(s) => format!("`{s}`"),
        AttrValue::Int(n) => format!("`{n}`"),
        AttrValue::Bool(b) => format!("`{b}`"),
        AttrValue::Date(t) => format!("`{}`", t.to_cedar()),
        AttrValue::Set(items) => format!("`[{}]`", items.iter().map(|s| &**s).collect::<Vec<&str>>().join(", ")),
    }
}

fn lit(l: &Literal) -> String {
    match l {
        Literal::Str(s) => s.clone(),
        Literal::Int(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Date(t) => t.to_cedar(),
        Literal::Now => "now".into(),
    }
}

/// A condition written back in its YAML form.
pub fn describe(c: &Condition) -> String {
    let many = |items: &[Condition]| {
        items
            .iter()
            .map(|i| format!("{{ {} }}", describe(i)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match c {
        Condition::All(items) => format!("all: [{}]", many(items)),
        Condition::Any(items) => format!("any: [{}]", many(items)),
        Condition::Not(inner) => format!("not: {{ {} }}", describe(inner)),
        Condition::Cedar { expr, .. } => format!("cedar: '{expr}'"),
        Condition::Kind { subject, kinds, .. } => {
            let key = if *subject == Subject::Owner { "owner.kind" } else { "kind" };
            match kinds.as_slice() {
                [one] => format!("{key}: {one}"),
                _ => format!("{key}: {{ in: [{}] }}", kinds.join(", ")),
            }
        }
        Condition::Attr { subject, attr, test, .. } => {
            let key = if *subject == Subject::Owner {
                format!("owner.{attr}")
            } else {
                attr.clone()
            };
            let join = |ls: &[Literal]| ls.iter().map(lit).collect::<Vec<_>>().join(", ");
            let mut s = String::new();
            let _ = match test {
                AttrTest::Eq(l) => write!(s, "{key}: {}", lit(l)),
                AttrTest::In(ls) => write!(s, "{key}: {{ in: [{}] }}", join(ls)),
                AttrTest::NotIn(ls) => write!(s, "{key}: {{ not_in: [{}] }}", join(ls)),
                AttrTest::Not(l) => write!(s, "{key}: {{ not: {} }}", lit(l)),
                AttrTest::Exists(b) => write!(s, "{key}: {{ exists: {b} }}"),
                AttrTest::Matches(g) => write!(s, "{key}: {{ matches: \"{g}\" }}"),
                AttrTest::Contains(l) => write!(s, "{key}: {{ contains: {} }}", lit(l)),
                AttrTest::Cmp(op, l) => {
                    let date = matches!(l, Literal::Date(_) | Literal::Now);
                    let name = match (op, date) {
                        (CmpOp::Gt, true) => "after",
                        (CmpOp::Lt, true) => "before",
                        (CmpOp::Gt, false) => "gt",
                        (CmpOp::Lt, false) => "lt",
                        (CmpOp::Gte, _) => "gte",
                        (CmpOp::Lte, _) => "lte",
                    };
                    write!(s, "{key}: {{ {name}: {} }}", lit(l))
                }
            };
            s
        }
    }
}

/// The explanation as a person reads it. Values from the feed (ids,
/// attribute values quoted in reasons) are made terminal-safe.
pub fn render(identity: &str, entitlement: &str, e: &Explanation) -> String {
    let identity = one_line(identity);
    let entitlement = one_line(entitlement);
    let mut out = String::new();
    match e {
        Explanation::Holds(justifications) => {
            let _ = writeln!(out, "`{identity}` holds `{entitlement}`:");
            for j in justifications {
                let _ = writeln!(out, "  - {}", one_line(&render_justification(j)));
            }
        }
        Explanation::Forbidden { by } => {
            let _ = writeln!(
                out,
                "`{identity}` does not hold `{entitlement}`: a policy permits it, but guardrails forbid it:"
            );
            for (id, source) in by {
                let _ = writeln!(out, "  - `{id}` ({source})");
            }
        }
        Explanation::NotGranted(misses) if misses.is_empty() => {
            let _ = writeln!(
                out,
                "`{identity}` does not hold `{entitlement}`: no role grants it, and no hand-written permit in policies/ applies"
            );
        }
        Explanation::NotGranted(misses) => {
            let _ = writeln!(
                out,
                "`{identity}` does not hold `{entitlement}`; the roles that grant it do not apply:"
            );
            for m in misses {
                let _ = writeln!(out, "  - role `{}` ({}):", m.role, m.source);
                for r in &m.reasons {
                    let _ = writeln!(out, "      {}", one_line(r));
                }
            }
        }
        Explanation::ExceptionExpired {
            exception: x,
            source,
            misses,
        } => {
            let _ = writeln!(
                out,
                "`{identity}` does not hold `{entitlement}`: exception `{}` (ticket {}, approved by {}) expired at {} ({source})",
                one_line(&x.id),
                one_line(&x.ticket),
                one_line(&x.approved_by),
                x.expires
            );
            if !misses.is_empty() {
                let _ = writeln!(out, "and the roles that grant it do not apply:");
            }
            for m in misses {
                let _ = writeln!(out, "  - role `{}` ({}):", m.role, m.source);
                for r in &m.reasons {
                    let _ = writeln!(out, "      {}", one_line(r));
                }
            }
        }
        Explanation::NothingGrants => {
            let _ = writeln!(
                out,
                "`{identity}` does not hold `{entitlement}`: no role or policy grants it to anyone"
            );
        }
    }
    out
}

/// One justification in one line: `role `engineer` (inherited from `employee`) via `eng-base` → `dev-tooling` [policy `role:engineer`, roles/eng.yaml:12]`.
///
/// An exception reads `exception `EXC-1` (ticket SEC-101, approved by u-1, until 2026-12-31T00:00:00Z) [policy `exception:EXC-1`, roles/exceptions.yaml:2]`.
pub fn render_justification(j: &Justification) -> String {
    if let Some(x) = &j.exception {
        return format!(
            "exception `{}` (ticket {}, approved by {}, until {}) [policy `{}`, {}]",
            x.id, x.ticket, x.approved_by, x.expires, j.policy, j.source
        );
    }
    let mut s = match &j.role {
        Some(r) => format!("role `{r}`"),
        None => "hand-written policy".to_string(),
    };
    if !j.inherited.is_empty() {
        let _ = write!(
            s,
            " (inherited from {})",
            j.inherited.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(" → ")
        );
    }
    if j.via.is_empty() {
        s.push_str(" directly");
    } else {
        let _ = write!(s, " via {}", j.via.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(" → "));
    }
    let _ = write!(s, " [policy `{}`, {}]", j.policy, j.source);
    s
}
