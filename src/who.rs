//! Who has access: every identity of a population that should hold an
//! entitlement (or a role, or a package's entitlements), with the role and
//! package path, and — given the live state — every identity that does hold
//! it and whether it should (with the plan's reason when it should not).
//!
//! It answers from the whole evaluated population, with no limit on the
//! number of identities, in identity then entitlement order. It decides
//! nothing itself: the evaluator says who should hold what, and
//! [`crate::plan::reasons`] says why a live grant should not be held.

use rayon::prelude::*;
use serde::Serialize;

use crate::catalog::{EntitlementId, PackageId, RoleId};
use crate::diag::did_you_mean;
use crate::eval::{EvalError, Evaluator, Justification};
use crate::io::live::LiveFile;
use crate::plan::live_index::LiveIndex;
use crate::plan::{reasons, Change};
use crate::population::{OwnerRecord, Population};
use crate::project::Project;
use crate::time::Instant;

/// What `who` is asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// One catalog entitlement (`github:org-owner`): any justification counts.
    Entitlement(String),
    /// A role: the identities holding it, and what it gives them.
    Role(String),
    /// A package: its entitlements, where a justification runs through the package.
    Package(String),
}

/// A `who` question that cannot be asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhoError {
    /// The entitlement, role or package is not defined.
    #[error("unknown {what} `{id}`{}", help.as_ref().map(|h| format!(": {h}")).unwrap_or_default())]
    Unknown {
        /// `entitlement`, `role` or `package`.
        what: &'static str,
        /// The id asked for.
        id: String,
        /// A suggestion (`did you mean ...?`).
        help: Option<String>,
    },
    /// An evaluation failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// The target resolved against the catalog.
#[derive(Debug, Clone, Copy)]
enum Resolved {
    Entitlement(EntitlementId),
    Role(RoleId),
    Package(PackageId),
}

/// An identity that should hold one of the target's entitlements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The identity.
    pub identity: String,
    /// Its kind.
    pub kind: String,
    /// The entitlement.
    pub entitlement: String,
    /// The justifications that answer the question (for a role, those of the role; for a
    /// package, those through the package; for an entitlement, all of them).
    pub because: Vec<Justification>,
    /// With live state: whether the identity holds it there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<bool>,
}

/// An identity holding one of the target's entitlements in the live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveHolder {
    /// The identity.
    pub identity: String,
    /// The entitlement.
    pub entitlement: String,
    /// Whether it should hold it (by any justification); `None` when that cannot be known
    /// (its record, or its owner's, is invalid).
    pub should: Option<bool>,
    /// When it should not, or cannot be known: the plan's revoke reason (`not-justified`,
    /// `forbidden`, `orphaned-account`, `expired-assignment`, ...) or `invalid-record`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The forbidding guardrails, for `forbidden`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forbidden_by: Option<String>,
    /// More detail, one sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Counts of a `who` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct WhoSummary {
    /// Valid identity records evaluated.
    pub evaluated: usize,
    /// Invalid identity records (not evaluated).
    pub invalid_identities: usize,
    /// Distinct identities that should hold it (for a role: that hold the role).
    pub should_identities: usize,
    /// (identity, entitlement) pairs that should be held.
    pub should: usize,
    /// With live state: pairs held live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<usize>,
    /// With live state: pairs held live that should not be (or cannot be known to be).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_unjustified: Option<usize>,
    /// With live state: pairs that should be held and are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<usize>,
}

/// The answer to `who`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Who {
    /// The question.
    pub query: Target,
    /// The instant of evaluation.
    pub as_of: String,
    /// The entitlements the question covers, sorted.
    pub entitlements: Vec<String>,
    /// Counts.
    pub summary: WhoSummary,
    /// For a role: every identity holding it (sorted), including any whose grants guardrails forbid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_holders: Option<Vec<String>>,
    /// Who should hold it, by identity then entitlement.
    pub should: Vec<Holder>,
    /// With live state: who holds it, by identity then entitlement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Vec<LiveHolder>>,
}

impl Target {
    fn resolve(&self, project: &Project) -> Result<Resolved, WhoError> {
        let catalog = project.catalog();
        let unknown = |what: &'static str, id: &str, names: &mut dyn Iterator<Item = &str>| WhoError::Unknown {
            what,
            id: id.to_string(),
            help: did_you_mean(id, names),
        };
        match self {
            Target::Entitlement(id) => catalog
                .entitlements
                .id(id)
                .map(Resolved::Entitlement)
                .ok_or_else(|| unknown("entitlement", id, &mut catalog.entitlements.iter().map(|(_, n)| n))),
            Target::Role(id) => catalog
                .roles
                .id(id)
                .map(Resolved::Role)
                .ok_or_else(|| unknown("role", id, &mut catalog.roles.iter().map(|(_, n)| n))),
            Target::Package(id) => catalog
                .packages
                .id(id)
                .map(Resolved::Package)
                .ok_or_else(|| unknown("package", id, &mut catalog.packages.iter().map(|(_, n)| n))),
        }
    }
}

/// Who should hold `target` at `at` among `population` and, given `live`, who does and
/// whether they should.
pub fn who(
    project: &Project,
    evaluator: &dyn Evaluator,
    population: &Population,
    live: Option<&[LiveFile]>,
    target: &Target,
    at: Instant,
) -> Result<Who, WhoError> {
    let catalog = project.catalog();
    let resolved = target.resolve(project)?;
    let mut covered: Vec<EntitlementId> = match resolved {
        Resolved::Entitlement(e) => vec![e],
        Resolved::Role(r) => catalog.role_grants(r).iter().map(|g| g.entitlement).collect(),
        Resolved::Package(p) => catalog
            .entitlements
            .iter()
            .map(|(e, _)| e)
            .filter(|e| catalog.entitlement(*e).packages.binary_search(&p).is_ok())
            .collect(),
    };
    covered.sort_unstable();
    covered.dedup();
    let index = live.map(|files| LiveIndex::new(catalog, files));

    // Each valid identity evaluated on its own: what it should hold of the target.
    let mut order: Vec<_> = population.feed.identities.iter().collect();
    order.par_sort_unstable_by(|a, b| a.id.cmp(&b.id));
    type Found = (Vec<Holder>, bool);
    let found: Vec<Found> = order
        .par_iter()
        .map(|identity| -> Result<Found, EvalError> {
            let desired = evaluator.desired(identity, population.owner_of(identity).record(), at)?;
            let holds_role = matches!(resolved, Resolved::Role(r) if desired.role_ids().binary_search(&r).is_ok());
            let held = index.as_ref().map(|i| i.held(&identity.id));
            let mut rows = Vec::new();
            for &e in &covered {
                let Some(ids) = desired.justification_ids(e) else { continue };
                let because: Vec<Justification> = ids
                    .iter()
                    .filter(|j| match resolved {
                        Resolved::Entitlement(_) => true,
                        Resolved::Package(p) => catalog.justification_packages(**j).contains(&p),
                        Resolved::Role(r) => catalog.justification(**j).role.as_deref() == Some(catalog.roles.name(r)),
                    })
                    .map(|j| catalog.justification(*j))
                    .collect();
                if because.is_empty() {
                    continue;
                }
                rows.push(Holder {
                    identity: identity.id.clone(),
                    kind: identity.kind.to_string(),
                    entitlement: catalog.entitlements.name(e).to_string(),
                    because,
                    live: held.map(|h| h.binary_search(&e).is_ok()),
                });
            }
            Ok((rows, holds_role))
        })
        .collect::<Result<_, _>>()?;

    let mut summary = WhoSummary {
        evaluated: population.feed.identities.len(),
        invalid_identities: population.feed.invalid.len(),
        ..WhoSummary::default()
    };
    let role_holders = matches!(resolved, Resolved::Role(_)).then(|| {
        order
            .iter()
            .zip(&found)
            .filter(|(_, (_, holds))| *holds)
            .map(|(identity, _)| identity.id.clone())
            .collect::<Vec<_>>()
    });
    let should: Vec<Holder> = found.into_iter().flat_map(|(rows, _)| rows).collect();
    summary.should = should.len();
    summary.should_identities = match &role_holders {
        Some(holders) => holders.len(),
        None => {
            let mut ids: Vec<&str> = should.iter().map(|h| h.identity.as_str()).collect();
            ids.dedup();
            ids.len()
        }
    };

    let live_rows = match &index {
        None => None,
        Some(index) => {
            let rows = live_holders(project, evaluator, population, index, &covered, at)?;
            summary.live = Some(rows.len());
            summary.live_unjustified = Some(rows.iter().filter(|r| r.should != Some(true)).count());
            summary.missing = Some(should.iter().filter(|h| h.live == Some(false)).count());
            Some(rows)
        }
    };
    Ok(Who {
        query: target.clone(),
        as_of: at.to_rfc3339(),
        entitlements: covered.iter().map(|e| catalog.entitlements.name(*e).to_string()).collect(),
        summary,
        role_holders,
        should,
        live: live_rows,
    })
}

/// Every live grant of a covered entitlement, with whether it should be held.
fn live_holders(
    project: &Project,
    evaluator: &dyn Evaluator,
    population: &Population,
    index: &LiveIndex<'_>,
    covered: &[EntitlementId],
    at: Instant,
) -> Result<Vec<LiveHolder>, EvalError> {
    let catalog = project.catalog();
    let holders: Vec<(&str, Vec<EntitlementId>)> = index
        .identities()
        .map(|(id, held)| {
            (
                id,
                held.iter()
                    .copied()
                    .filter(|e| covered.binary_search(e).is_ok())
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, held)| !held.is_empty())
        .collect();
    let rows: Vec<Vec<LiveHolder>> = holders
        .par_iter()
        .map(|(id, held)| -> Result<Vec<LiveHolder>, EvalError> {
            let row = |e: EntitlementId, should, reason: Option<&str>| LiveHolder {
                identity: id.to_string(),
                entitlement: catalog.entitlements.name(e).to_string(),
                should,
                reason: reason.map(str::to_string),
                forbidden_by: None,
                detail: None,
            };
            let Some(identity) = population.get(id) else {
                let reason = if population.is_invalid(id) {
                    ("invalid-record", None)
                } else {
                    ("orphaned-account", Some(false))
                };
                return Ok(held.iter().map(|e| row(*e, reason.1, Some(reason.0))).collect());
            };
            let owner = population.owner_of(identity);
            if owner == OwnerRecord::Invalid {
                return Ok(held
                    .iter()
                    .map(|e| LiveHolder {
                        detail: Some(format!(
                            "its owner `{}` has an invalid record, so its desired state is unknown",
                            identity.owner.as_deref().unwrap_or_default()
                        )),
                        ..row(*e, None, Some("invalid-record"))
                    })
                    .collect());
            }
            let desired = evaluator.desired(identity, owner.record(), at)?;
            let mut out = Vec::with_capacity(held.len());
            for &e in held {
                if desired.holds_id(e) {
                    out.push(row(e, Some(true), None));
                    continue;
                }
                let name = catalog.entitlements.name(e);
                match reasons::revocation(project, evaluator, identity, owner.record(), at, name)? {
                    Change::Revoke {
                        reason,
                        forbidden_by,
                        detail,
                        ..
                    } => out.push(LiveHolder {
                        forbidden_by,
                        detail,
                        ..row(e, Some(false), Some(reason.as_str()))
                    }),
                    Change::Grant { .. } => out.push(row(e, Some(false), None)),
                }
            }
            Ok(out)
        })
        .collect::<Result<_, _>>()?;
    Ok(rows.into_iter().flatten().collect())
}

/// `who` for a person: what was asked, who should hold it and, with live state, who does.
pub fn render_human(who: &Who) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let (what, id) = match &who.query {
        Target::Entitlement(id) => ("entitlement", id),
        Target::Role(id) => ("role", id),
        Target::Package(id) => ("package", id),
    };
    let s = &who.summary;
    let _ = writeln!(
        out,
        "who: {what} `{id}` as of {} ({} identities evaluated{})",
        who.as_of,
        s.evaluated,
        if s.invalid_identities > 0 {
            format!(", {} invalid records left out", s.invalid_identities)
        } else {
            String::new()
        }
    );
    if let Some(holders) = &who.role_holders {
        let _ = writeln!(out, "\n{} identities hold the role", holders.len());
    }
    let _ = writeln!(out, "\nshould hold ({} grants, {} identities):", s.should, s.should_identities);
    for h in &who.should {
        let why: Vec<String> = h.because.iter().map(justification_text).collect();
        let live = match h.live {
            Some(true) => "  [live]",
            Some(false) => "  [missing from live]",
            None => "",
        };
        let _ = writeln!(out, "  {}  {}  {}{live}", h.identity, h.entitlement, why.join("; "));
    }
    if let Some(rows) = &who.live {
        let _ = writeln!(
            out,
            "\nholds live ({} grants, {} not justified):",
            rows.len(),
            s.live_unjustified.unwrap_or(0)
        );
        for r in rows {
            let verdict = match (r.should, &r.reason) {
                (Some(true), _) => "should hold it".to_string(),
                (_, Some(reason)) => format!("should not: {reason}"),
                (Some(false), None) => "should not".to_string(),
                (None, None) => "unknown".to_string(),
            };
            let extra = [r.forbidden_by.as_deref(), r.detail.as_deref()]
                .into_iter()
                .flatten()
                .map(|t| format!(" ({t})"))
                .collect::<String>();
            let _ = writeln!(out, "  {}  {}  {verdict}{extra}", r.identity, r.entitlement);
        }
    }
    safe_lines(&out)
}

/// One justification in words: the role (or exception) and path, and the YAML line.
pub fn justification_text(j: &Justification) -> String {
    if let Some(e) = &j.exception {
        return format!("exception `{}` (ticket {}, expires {}) {}", e.id, e.ticket, e.expires, j.source);
    }
    let mut text = match &j.role {
        Some(role) => format!("role `{role}`"),
        None => format!("policy `{}`", j.policy),
    };
    if !j.inherited.is_empty() {
        text += &format!(" (inherits {})", j.inherited.join(" > "));
    }
    if !j.via.is_empty() {
        text += &format!(" via {}", j.via.join(" > "));
    }
    text + &format!(" {}", j.source)
}

/// Human text made terminal-safe line by line (ids and details come from users and feeds).
pub(crate) fn safe_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(&crate::term::one_line(line));
        out.push('\n');
    }
    out
}
