//! Reviewers' answers read back: the campaign's CSV with its `decision`
//! column filled in (`keep`, `revoke`, or blank for undecided), turned into
//! a plan whose changes are the revocations, with the reason
//! `review-revoked`, under the plan's guards.
//!
//! It decides nothing about access itself; it only carries out what the
//! reviewers wrote, for grants that are still live.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::EntitlementId;
use crate::diag::did_you_mean;
use crate::eval::{EvalError, Evaluator};
use crate::io::live::LiveFile;
use crate::plan::live_index::LiveIndex;
use crate::plan::{Change, Plan, PlanOptions, RevokeReason};
use crate::population::Population;
use crate::project::Project;

use super::render::unescape_csv_cell;

/// A reviewer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The grant stays.
    Keep,
    /// The grant goes (`review-revoked`).
    Revoke,
}

/// One row of a decisions file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRow {
    /// The identity.
    pub identity: String,
    /// The entitlement.
    pub entitlement: String,
    /// The answer; `None` when the reviewer left it blank.
    pub decision: Option<Decision>,
    /// The line it was read from.
    pub line: u32,
}

/// A decisions file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decisions {
    /// The file.
    pub file: String,
    /// Its rows, in file order.
    pub rows: Vec<DecisionRow>,
}

/// A decisions file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    /// A line is not CSV, or misses a cell.
    #[error("{file}:{line}: {message}")]
    Line {
        /// The file.
        file: String,
        /// The line.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// The header lacks a column.
    #[error("{file}:1: the header has no `{column}` column (write the campaign's CSV back, with `decision` filled in)")]
    MissingColumn {
        /// The file.
        file: String,
        /// The column.
        column: &'static str,
    },
    /// Two rows decide the same grant differently.
    #[error("{file}:{line}: `{identity}` `{entitlement}` is decided `{this}` here and `{other}` on line {other_line}")]
    Conflict {
        /// The file.
        file: String,
        /// The line.
        line: u32,
        /// The identity.
        identity: String,
        /// The entitlement.
        entitlement: String,
        /// This row's decision.
        this: &'static str,
        /// The other's.
        other: &'static str,
        /// The other row's line.
        other_line: u32,
    },
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Revoke => "revoke",
        }
    }
}

/// Reads a decisions file: CSV with a header naming `identity`, `entitlement` and `decision`
/// (any order, any case; other columns ignored). Cells are read as the campaign wrote them
/// (a leading `'` of formula escaping is taken off).
pub fn read_decisions(file: &str, text: &str) -> Result<Decisions, DecisionError> {
    let line_error = |line: u32, message: String| DecisionError::Line {
        file: file.to_string(),
        line,
        message,
    };
    let rows = crate::io::csv::rows(text).map_err(|(line, message)| line_error(line, message))?;
    let mut rows = rows.into_iter();
    let header = rows.next().map(|(_, cells)| cells).unwrap_or_default();
    let column = |name: &'static str| {
        header
            .iter()
            .position(|c| c.trim().eq_ignore_ascii_case(name))
            .ok_or(DecisionError::MissingColumn {
                file: file.to_string(),
                column: name,
            })
    };
    let (identity_col, entitlement_col, decision_col) = (column("identity")?, column("entitlement")?, column("decision")?);
    let mut out = Vec::new();
    let mut seen: BTreeMap<(String, String), (Decision, u32)> = BTreeMap::new();
    for (line, cells) in rows {
        let get = |i: usize, name: &str| {
            cells.get(i).map(|c| unescape_csv_cell(c).to_string()).ok_or_else(|| {
                line_error(
                    line,
                    format!(
                        "the row has no `{name}` cell ({} cells, {} in the header)",
                        cells.len(),
                        header.len()
                    ),
                )
            })
        };
        let identity = get(identity_col, "identity")?;
        let entitlement = get(entitlement_col, "entitlement")?;
        let answer = get(decision_col, "decision")?;
        let decision = match answer.trim().to_ascii_lowercase().as_str() {
            "" => None,
            "keep" => Some(Decision::Keep),
            "revoke" => Some(Decision::Revoke),
            other => {
                let help = did_you_mean(other, ["keep", "revoke"])
                    .map(|h| format!(": {h}"))
                    .unwrap_or_else(|| ": write `keep`, `revoke`, or leave it blank".to_string());
                return Err(line_error(
                    line,
                    format!("unknown decision `{}`{help}", crate::state::shown(answer.trim())),
                ));
            }
        };
        if let Some(d) = decision {
            let key = (identity.clone(), entitlement.clone());
            if let Some((other, other_line)) = seen.get(&key) {
                if *other != d {
                    return Err(DecisionError::Conflict {
                        file: file.to_string(),
                        line,
                        identity,
                        entitlement,
                        this: d.as_str(),
                        other: other.as_str(),
                        other_line: *other_line,
                    });
                }
            }
            seen.insert(key, (d, line));
        }
        out.push(DecisionRow {
            identity,
            entitlement,
            decision,
            line,
        });
    }
    Ok(Decisions {
        file: file.to_string(),
        rows: out,
    })
}

/// Decisions turned into a plan, and what did not become a change.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionOutcome {
    /// The plan: its changes are the `review-revoked` revocations (refused when a guard trips).
    pub plan: Plan,
    /// Grants kept.
    pub kept: usize,
    /// Items left undecided.
    pub undecided: usize,
    /// Revocations decided for grants that are no longer live (nothing to do).
    pub already_gone: Vec<(String, String)>,
    /// Revocations of grants policy gives: the next `plan` grants them again unless the
    /// definitions or the identity's record change.
    pub policy_grants_again: Vec<(String, String)>,
}

/// The plan carrying out `decisions` on the current `population` and `live` state: one
/// `review-revoked` revocation per grant decided `revoke` that is still live, under the
/// plan's guards (`options`); figures, violations and inputs as `plan` computes them.
pub fn decisions_plan(
    project: &Project,
    evaluator: &dyn Evaluator,
    population: &Population,
    live: &[LiveFile],
    decisions: &[Decisions],
    options: &PlanOptions,
) -> Result<DecisionOutcome, EvalError> {
    let catalog = project.catalog();
    let mut base = crate::plan::Planner::new(evaluator, options.clone()).plan(population, live)?;
    let index = LiveIndex::new(catalog, live);
    let mut revokes: BTreeSet<(String, String)> = BTreeSet::new();
    let (mut kept, mut undecided) = (0, 0);
    let mut already_gone = Vec::new();
    for row in decisions.iter().flat_map(|d| &d.rows) {
        match row.decision {
            None => undecided += 1,
            Some(Decision::Keep) => kept += 1,
            Some(Decision::Revoke) => {
                let held = catalog
                    .entitlements
                    .id(&row.entitlement)
                    .is_some_and(|e: EntitlementId| index.held(&row.identity).binary_search(&e).is_ok());
                if held {
                    revokes.insert((row.identity.clone(), row.entitlement.clone()));
                } else {
                    already_gone.push((row.identity.clone(), row.entitlement.clone()));
                }
            }
        }
    }
    already_gone.sort();
    already_gone.dedup();
    let mut policy_grants_again = Vec::new();
    let mut last: Option<(&str, crate::eval::DesiredSet)> = None;
    for (identity, entitlement) in &revokes {
        let Some(record) = population.get(identity) else { continue };
        if last.as_ref().is_none_or(|(id, _)| *id != identity.as_str()) {
            let desired = evaluator.desired(record, population.owner_of(record).record(), options.as_of)?;
            last = Some((identity.as_str(), desired));
        }
        if last.as_ref().is_some_and(|(_, d)| d.holds(entitlement)) {
            policy_grants_again.push((identity.clone(), entitlement.clone()));
        }
    }

    base.refused = None;
    base.forced = Vec::new();
    base.held_back = Vec::new();
    base.changes = revokes
        .into_iter()
        .map(|(identity, entitlement)| Change::Revoke {
            identity,
            entitlement,
            reason: RevokeReason::ReviewRevoked,
            forbidden_by: None,
            detail: None,
        })
        .collect();
    let s = &mut base.summary;
    s.grants = 0;
    s.revokes = base.changes.len();
    s.revokes_by_reason.clear();
    if s.revokes > 0 {
        s.revokes_by_reason
            .insert(RevokeReason::ReviewRevoked.as_str().to_string(), s.revokes);
    }
    crate::plan::weigh_guards(&mut base, catalog, population, &index, options);
    Ok(DecisionOutcome {
        plan: base,
        kept,
        undecided,
        already_gone,
        policy_grants_again,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_read_by_column_name_with_located_errors() {
        let d = read_decisions(
            "d.csv",
            "reviewer,identity,entitlement,decision\nu-1,u-2,a:x,Revoke\nu-1,'-u3,a:y,\nu-1,u-4,a:z, keep\n",
        )
        .unwrap();
        let got: Vec<(&str, Option<Decision>, u32)> = d.rows.iter().map(|r| (r.identity.as_str(), r.decision, r.line)).collect();
        assert_eq!(
            got,
            [
                ("u-2", Some(Decision::Revoke), 2),
                ("-u3", None, 3),
                ("u-4", Some(Decision::Keep), 4)
            ]
        );
        assert_eq!(
            read_decisions("d.csv", "identity,entitlement,decision\nu-1,a:x,revok\n")
                .unwrap_err()
                .to_string(),
            "d.csv:2: unknown decision `revok`: did you mean `revoke`?"
        );
        assert_eq!(
            read_decisions("d.csv", "identity,entitlement\nu-1,a:x\n").unwrap_err().to_string(),
            "d.csv:1: the header has no `decision` column (write the campaign's CSV back, with `decision` filled in)"
        );
        assert_eq!(
            read_decisions("d.csv", "identity,entitlement,decision\nu-1,a:x,keep\nu-1,a:x,revoke\n")
                .unwrap_err()
                .to_string(),
            "d.csv:3: `u-1` `a:x` is decided `revoke` here and `keep` on line 2"
        );
    }
}
