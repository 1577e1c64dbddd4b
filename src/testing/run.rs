//! Running test suites: each test's identity evaluated by the engine, each
//! expectation compared with the desired state, and every difference
//! explained — why an unexpected entitlement is held (role, packages,
//! policy, YAML line) or why a missing one is not (which condition failed
//! on which value, which guardrail forbade it).
//!
//! Verdicts come from the [`Engine`]; explanations from
//! [`eval::explain`](crate::eval::explain). This module compares and
//! reports; it never decides what anyone holds.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::diag::Location;
use crate::eval::explain::{explain, render, role_reasons};
use crate::eval::{DesiredSet, Engine, EvalError, Evaluator};
use crate::plan::sod::SodRules;
use crate::plan::StateKind;
use crate::project::Project;
use crate::state::IdentityState;
use crate::time::Instant;

use super::coverage::{Coverage, CoverageCollector};
use super::suite::{ExpectationKind, Suite, Test, TestSubject};

/// The outcome of running suites.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Each suite's results, in the order given.
    pub suites: Vec<SuiteResult>,
    /// What the tests exercised, when asked for.
    pub coverage: Option<Coverage>,
}

impl RunReport {
    /// Every test result, suite by suite.
    pub fn tests(&self) -> impl Iterator<Item = &TestResult> {
        self.suites.iter().flat_map(|s| &s.tests)
    }

    /// How many tests passed.
    pub fn passed(&self) -> usize {
        self.tests().filter(|t| t.passed()).count()
    }

    /// How many tests failed.
    pub fn failed(&self) -> usize {
        self.tests().filter(|t| !t.passed()).count()
    }
}

/// The results of one suite.
#[derive(Debug, Clone)]
pub struct SuiteResult {
    /// The suite file.
    pub file: String,
    /// The suite's name.
    pub name: String,
    /// The suite's instant.
    pub as_of: Instant,
    /// Each test's result, in file order.
    pub tests: Vec<TestResult>,
}

/// The result of one test.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// Where the test is written.
    pub location: Location,
    /// The identity it evaluated.
    pub identity: String,
    /// The instant it evaluated at.
    pub as_of: Instant,
    /// Every expectation that was not met, in file order (empty: passed).
    pub failures: Vec<Failure>,
}

impl TestResult {
    /// Were all its expectations met?
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// An expectation that was not met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The expectation's key (`exactly`, `because`, ...).
    pub expectation: &'static str,
    /// Where the expectation is written.
    pub location: Location,
    /// What differs, one sentence.
    pub message: String,
    /// Each entitlement (or role) that differs, with why it is or is not held.
    pub details: Vec<Detail>,
}

/// Why one entitlement or role differs from what a test expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// The entitlement or role.
    pub id: String,
    /// What was expected of it and what is so: `missing`, `unexpected`, ...
    pub status: &'static str,
    /// Why it is (not) held, as `entitle explain` puts it (several lines).
    pub explanation: String,
}

/// Runs every test of `suites` with `engine`; with `coverage`, also records
/// what each tested identity state exercised (spec §6).
pub fn run_suites(project: &Arc<Project>, engine: &Engine, suites: &[Suite], coverage: bool) -> Result<RunReport, EvalError> {
    let sod = SodRules::new(project);
    let mut collector = coverage.then(|| CoverageCollector::new(project));
    let mut results = Vec::with_capacity(suites.len());
    for suite in suites {
        let mut tests = Vec::with_capacity(suite.tests.len());
        for test in &suite.tests {
            tests.push(run_test(project, engine, &sod, suite, test, collector.as_mut())?);
        }
        results.push(SuiteResult {
            file: suite.file.clone(),
            name: suite.name.clone(),
            as_of: suite.as_of,
            tests,
        });
    }
    Ok(RunReport {
        suites: results,
        coverage: collector.map(CoverageCollector::finish),
    })
}

/// One evaluated state of a test's identity.
struct Evaluated<'a> {
    state: &'a IdentityState,
    owner: Option<&'a IdentityState>,
    desired: DesiredSet,
}

fn run_test(
    project: &Arc<Project>,
    engine: &Engine,
    sod: &SodRules,
    suite: &Suite,
    test: &Test,
    mut coverage: Option<&mut CoverageCollector>,
) -> Result<TestResult, EvalError> {
    let population = &suite.identities;
    let at = test.as_of;
    let id = test.subject.identity();
    let Some(base) = population.get(id) else {
        // The reader checks every id against the identities: only a suite built by hand gets here.
        return Ok(TestResult {
            name: test.name.clone(),
            location: test.location.clone(),
            identity: id.to_string(),
            as_of: at,
            failures: vec![Failure {
                expectation: "identity",
                location: test.location.clone(),
                message: format!("no identity `{id}` in `{}`", population.feed.file),
                details: Vec::new(),
            }],
        });
    };
    let base_owner = population.owner_of(base).record();
    let mut observe = |e: &Evaluated<'_>| -> Result<(), EvalError> {
        if let Some(c) = coverage.as_deref_mut() {
            c.observe(engine, e.state, e.owner, at, &e.desired)?;
        }
        Ok(())
    };
    let before = Evaluated {
        state: base,
        owner: base_owner,
        desired: engine.desired(base, base_owner, at)?,
    };
    observe(&before)?;
    let (before, after) = match &test.subject {
        TestSubject::Identity(_) => (None, before),
        TestSubject::Change { changed, owner, .. } => {
            let owner = owner.as_deref().or(base_owner);
            let after = Evaluated {
                state: changed,
                owner,
                desired: engine.desired(changed, owner, at)?,
            };
            observe(&after)?;
            (Some(before), after)
        }
    };

    let check = Check {
        project,
        engine,
        at,
        after: &after,
        before: before.as_ref(),
    };
    let mut failures = Vec::new();
    for expectation in &test.expectations {
        let found = match &expectation.kind {
            ExpectationKind::Roles(expected) => check.roles(expected)?,
            ExpectationKind::Exactly(expected) => check.exactly(expected)?,
            ExpectationKind::Includes(expected) => check.includes(expected)?,
            ExpectationKind::Excludes(expected) => check.excludes(expected)?,
            ExpectationKind::Because { entitlement, role, via } => check.because(entitlement, role.as_deref(), via)?,
            ExpectationKind::ForbiddenBy { entitlement, guardrails } => check.forbidden_by(entitlement, guardrails)?,
            ExpectationKind::SodViolations(expected) => check.sod(sod, expected),
            ExpectationKind::Gained(expected) => check.changed(expected, true)?,
            ExpectationKind::Lost(expected) => check.changed(expected, false)?,
        };
        if let Some((message, details)) = found {
            failures.push(Failure {
                expectation: expectation.kind.key(),
                location: expectation.location.clone(),
                message,
                details,
            });
        }
    }
    Ok(TestResult {
        name: test.name.clone(),
        location: test.location.clone(),
        identity: id.to_string(),
        as_of: at,
        failures,
    })
}

/// A failed expectation: the sentence and the details.
type Found = Option<(String, Vec<Detail>)>;

/// Compares one test's evaluated states with its expectations.
struct Check<'a> {
    project: &'a Arc<Project>,
    engine: &'a Engine,
    at: Instant,
    after: &'a Evaluated<'a>,
    before: Option<&'a Evaluated<'a>>,
}

fn quoted<'i>(ids: impl IntoIterator<Item = &'i str>) -> String {
    let all: Vec<String> = ids.into_iter().map(|i| format!("`{i}`")).collect();
    if all.is_empty() {
        "none".to_string()
    } else {
        all.join(", ")
    }
}

impl Check<'_> {
    /// Why the tested state holds (or does not hold) `entitlement`.
    fn explain(&self, e: &Evaluated<'_>, entitlement: &str) -> Result<String, EvalError> {
        let why = explain(self.project, self.engine, e.state, e.owner, self.at, entitlement)?;
        Ok(render(&e.state.id, entitlement, &why))
    }

    fn detail(&self, e: &Evaluated<'_>, id: &str, status: &'static str) -> Result<Detail, EvalError> {
        Ok(Detail {
            id: id.to_string(),
            status,
            explanation: self.explain(e, id)?,
        })
    }

    fn roles(&self, expected: &[String]) -> Result<Found, EvalError> {
        let held: BTreeSet<&str> = self.after.desired.roles().collect();
        let want: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        if held == want {
            return Ok(None);
        }
        let mut details = Vec::new();
        for role in want.difference(&held) {
            let reasons = role_reasons(self.project, self.engine, self.after.state, self.after.owner, self.at, role)?;
            details.push(Detail {
                id: role.to_string(),
                status: "missing",
                explanation: reasons.iter().map(|r| format!("{r}\n")).collect(),
            });
        }
        for role in held.difference(&want) {
            let source = self.project.defs.roles.get(*role).map(|r| r.source.file_line()).unwrap_or_default();
            details.push(Detail {
                id: role.to_string(),
                status: "unexpected",
                explanation: format!("its condition ({source}) holds for `{}`\n", self.after.state.id),
            });
        }
        details.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Some((
            format!(
                "roles held are {}, expected {}",
                quoted(held.iter().copied()),
                quoted(want.iter().copied())
            ),
            details,
        )))
    }

    fn exactly(&self, expected: &[String]) -> Result<Found, EvalError> {
        let held: BTreeSet<&str> = self.after.desired.entitlements().collect();
        let want: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        if held == want {
            return Ok(None);
        }
        let missing: Vec<&str> = want.difference(&held).copied().collect();
        let unexpected: Vec<&str> = held.difference(&want).copied().collect();
        let mut details = Vec::new();
        for e in &missing {
            details.push(self.detail(self.after, e, "missing")?);
        }
        for e in &unexpected {
            details.push(self.detail(self.after, e, "unexpected")?);
        }
        details.sort_by(|a, b| a.id.cmp(&b.id));
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing {}", quoted(missing.iter().copied())));
        }
        if !unexpected.is_empty() {
            parts.push(format!("unexpected {}", quoted(unexpected.iter().copied())));
        }
        Ok(Some((
            format!(
                "{} entitlements are desired, {} expected: {}",
                held.len(),
                want.len(),
                parts.join("; ")
            ),
            details,
        )))
    }

    fn includes(&self, expected: &[String]) -> Result<Found, EvalError> {
        let missing: Vec<&str> = expected
            .iter()
            .map(String::as_str)
            .filter(|e| !self.after.desired.holds(e))
            .collect();
        if missing.is_empty() {
            return Ok(None);
        }
        let details = missing
            .iter()
            .map(|e| self.detail(self.after, e, "missing"))
            .collect::<Result<_, _>>()?;
        Ok(Some((format!("not desired: {}", quoted(missing.iter().copied())), details)))
    }

    fn excludes(&self, expected: &[String]) -> Result<Found, EvalError> {
        let present: Vec<&str> = expected
            .iter()
            .map(String::as_str)
            .filter(|e| self.after.desired.holds(e))
            .collect();
        if present.is_empty() {
            return Ok(None);
        }
        let details = present
            .iter()
            .map(|e| self.detail(self.after, e, "unexpected"))
            .collect::<Result<_, _>>()?;
        Ok(Some((
            format!("desired, expected not: {}", quoted(present.iter().copied())),
            details,
        )))
    }

    fn because(&self, entitlement: &str, role: Option<&str>, via: &[String]) -> Result<Found, EvalError> {
        let mut wanted = Vec::new();
        if let Some(r) = role {
            wanted.push(format!("role `{r}`"));
        }
        if !via.is_empty() {
            wanted.push(format!(
                "via {}",
                via.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(" → ")
            ));
        }
        let wanted = wanted.join(" ");
        let Some(justifications) = self.after.desired.justifications(entitlement) else {
            return Ok(Some((
                format!("`{entitlement}` is not desired, expected through {wanted}"),
                vec![self.detail(self.after, entitlement, "missing")?],
            )));
        };
        let matches = justifications.iter().any(|j| {
            let role_ok = role.is_none_or(|r| j.role.as_deref() == Some(r) || j.inherited.iter().any(|i| i == r));
            role_ok && is_subsequence(via, &j.via)
        });
        if matches {
            return Ok(None);
        }
        Ok(Some((
            format!("`{entitlement}` is desired, but not through {wanted}"),
            vec![self.detail(self.after, entitlement, "other-reason")?],
        )))
    }

    fn forbidden_by(&self, entitlement: &str, guardrails: &[String]) -> Result<Found, EvalError> {
        if self.after.desired.holds(entitlement) {
            return Ok(Some((
                format!("`{entitlement}` is desired, expected forbidden"),
                vec![self.detail(self.after, entitlement, "unexpected")?],
            )));
        }
        let forbidding = self.engine.forbidding(self.after.state, self.after.owner, self.at, entitlement)?;
        let absent: Vec<&str> = guardrails
            .iter()
            .map(String::as_str)
            .filter(|g| !forbidding.iter().any(|f| f == g))
            .collect();
        if absent.is_empty() {
            return Ok(None);
        }
        let forbidden = if forbidding.is_empty() {
            "no guardrail forbids it".to_string()
        } else {
            format!("it is forbidden by {}", quoted(forbidding.iter().map(String::as_str)))
        };
        Ok(Some((
            format!(
                "`{entitlement}` is not forbidden by {}: {forbidden}",
                quoted(absent.iter().copied())
            ),
            vec![self.detail(self.after, entitlement, "not-forbidden")?],
        )))
    }

    fn sod(&self, sod: &SodRules, expected: &[String]) -> Found {
        let d = &self.after.desired;
        let found: BTreeSet<String> = sod
            .violations(d.catalog(), d.identity(), d.entitlement_ids(), StateKind::Desired)
            .into_iter()
            .map(|v| v.rule)
            .collect();
        let want: BTreeSet<String> = expected.iter().cloned().collect();
        (found != want).then(|| {
            (
                format!(
                    "the desired state violates {}, expected {}",
                    quoted(found.iter().map(String::as_str)),
                    quoted(want.iter().map(String::as_str))
                ),
                Vec::new(),
            )
        })
    }

    /// `gained` (or `lost`): exactly these are desired after and not before (before and not after).
    fn changed(&self, expected: &[String], gained: bool) -> Result<Found, EvalError> {
        let Some(before) = self.before else {
            return Ok(None);
        };
        let after: BTreeSet<&str> = self.after.desired.entitlements().collect();
        let was: BTreeSet<&str> = before.desired.entitlements().collect();
        let (to, from) = if gained { (&after, &was) } else { (&was, &after) };
        let actual: BTreeSet<&str> = to.difference(from).copied().collect();
        let want: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        if actual == want {
            return Ok(None);
        }
        let key = if gained { "gained" } else { "lost" };
        let mut details = Vec::new();
        for e in want.difference(&actual) {
            let detail = if gained && was.contains(e) {
                Detail {
                    id: e.to_string(),
                    status: "missing",
                    explanation: format!("`{}` already held `{e}` before the change\n", before.state.id),
                }
            } else if !gained && !was.contains(e) {
                Detail {
                    id: e.to_string(),
                    status: "missing",
                    explanation: format!("`{}` did not hold `{e}` before the change\n", before.state.id),
                }
            } else {
                self.detail(self.after, e, "missing")?
            };
            details.push(detail);
        }
        for e in actual.difference(&want) {
            details.push(self.detail(self.after, e, "unexpected")?);
        }
        details.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Some((
            format!(
                "the change {key} {}, expected {}",
                quoted(actual.iter().copied()),
                quoted(want.iter().copied())
            ),
            details,
        )))
    }
}

/// Does `path` contain every item of `wanted`, in order?
fn is_subsequence(wanted: &[String], path: &[String]) -> bool {
    let mut rest = path.iter();
    wanted.iter().all(|w| rest.any(|p| p == w))
}

#[cfg(test)]
mod tests {
    use super::is_subsequence;

    #[test]
    fn via_is_an_ordered_subsequence_of_the_path() {
        let path: Vec<String> = ["eng-base", "dev-tooling"].map(String::from).to_vec();
        assert!(is_subsequence(&[], &path));
        assert!(is_subsequence(&["dev-tooling".into()], &path));
        assert!(is_subsequence(&["eng-base".into(), "dev-tooling".into()], &path));
        assert!(!is_subsequence(&["dev-tooling".into(), "eng-base".into()], &path));
        assert!(!is_subsequence(&["all-staff".into()], &path));
    }
}
