//! Access-review campaigns, by exception: one review item per live grant
//! that needs a human decision, routed to a reviewer (the identity's manager,
//! or the application's owner), with its justification and risk flags; the
//! grants a birthright role fully justifies are counted, not listed.
//!
//! # Rules (docs/review.md)
//!
//! - **Birthright role**: a role that is not `assignable` and whose own
//!   `when` is a conjunction of tests of the identity's `kind`, of its
//!   enum attributes (`status: active`, `worker_type: { in: [...] }`, equality,
//!   `in`, `not`, `not_in`) and of its date attributes against `now`
//!   (`end_date: { after: now }`). Nothing else: no string, set or owner
//!   attribute, no `any`/`not`, no `cedar:`. Such a role holds for everyone
//!   of a population that HR's lifecycle fields alone describe.
//! - **Summarised**: a live grant the identity should hold, with a
//!   justification from a birthright role and no risk flag. Every other live
//!   grant of a catalog entitlement is an item.
//! - **Reviewer**, `--by manager`: the identity's manager (the first
//!   attribute declared `type: identity`, `manager` when there are several);
//!   for an identity without one, its owner (non-human identities). By
//!   `--by app-owner`: the application's `owner`. Nobody reviews their own
//!   access, and a reviewer who is not an active identity of the feed
//!   (`status: active`) cannot review: the item goes up the reviewer's
//!   manager chain to the first who can (`escalated_from` lists those
//!   passed over); without one it is unassigned.
//! - **Risk flags**: `privileged` (the entitlement is), `sod-conflict` (an
//!   SoD rule the identity's live grants violate has it on a side),
//!   `dormant` (`last_used` is `never`, or older than `dormant_after`: the
//!   rule of `plan --dormant-after`),
//!   `not-justified` (the identity should not hold it: the plan would
//!   revoke it, with `revoke_reason`), `exception-expiring` (held only
//!   through exceptions, the last of which expires within `warn_expiring`),
//!   `nhi-inactive-owner` (an identity with an owner whose record is
//!   missing, invalid, or not `status: active`).
//!
//! It reads a population and live state and decides nothing about access:
//! the evaluator says what should be held, [`crate::plan::reasons`] why not.

mod decisions;
mod render;

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::catalog::{EntitlementId, RoleId};
use crate::eval::{EvalError, Evaluator, Justification};
use crate::io::live::{LastUsed, LiveFile};
use crate::model::{AttrTest, AttrType, Condition, Literal, Subject};
use crate::plan::live_index::LiveIndex;
use crate::plan::sod::SodRules;
use crate::plan::{governance, reasons, Change, StateKind};
use crate::population::{OwnerRecord, Population};
use crate::project::Project;
use crate::state::{AttrValue, IdentityState};
use crate::time::{Duration, Instant};

pub use decisions::{decisions_plan, read_decisions, Decision, DecisionError, DecisionOutcome, DecisionRow, Decisions};
pub use render::{csv, escape_csv_cell, file_stem, markdown, unescape_csv_cell, CSV_HEADER};

/// Who reviews an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewBy {
    /// The identity's manager (an attribute of type `identity`); an NHI's owner.
    #[default]
    Manager,
    /// The application's `owner`.
    AppOwner,
}

/// Options of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewOptions {
    /// Who reviews.
    pub by: ReviewBy,
    /// The instant of evaluation.
    pub as_of: Instant,
    /// A grant unused for this long is `dormant`.
    pub dormant_after: Duration,
    /// An exception expiring within this long is `exception-expiring`.
    pub warn_expiring: Duration,
}

impl ReviewOptions {
    /// 90 days to dormancy.
    pub const DEFAULT_DORMANT_AFTER: Duration = Duration(90 * 86_400_000);
    /// 14 days of warning before an exception expires.
    pub const DEFAULT_WARN_EXPIRING: Duration = Duration(14 * 86_400_000);
}

/// A risk flag of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flag {
    /// The entitlement is privileged.
    Privileged,
    /// It is on a side of an SoD rule the identity's live grants violate.
    SodConflict,
    /// Never used, or not used for `dormant_after`.
    Dormant,
    /// The identity should not hold it.
    NotJustified,
    /// Held only through exceptions, the last expiring within `warn_expiring`.
    ExceptionExpiring,
    /// A non-human identity whose owner is missing or not active.
    NhiInactiveOwner,
}

impl Flag {
    /// The flag as written in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Privileged => "privileged",
            Flag::SodConflict => "sod-conflict",
            Flag::Dormant => "dormant",
            Flag::NotJustified => "not-justified",
            Flag::ExceptionExpiring => "exception-expiring",
            Flag::NhiInactiveOwner => "nhi-inactive-owner",
        }
    }
}

/// One live grant for a reviewer to decide on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewItem {
    /// The identity.
    pub identity: String,
    /// Its kind (`orphaned` for an identity the feed does not have).
    pub kind: String,
    /// The entitlement.
    pub entitlement: String,
    /// Its application.
    pub application: String,
    /// Risk flags, sorted.
    pub flags: Vec<Flag>,
    /// Why the identity should hold it (roles with their YAML lines, exceptions with their
    /// tickets); empty when nothing justifies it.
    pub justification: Vec<Justification>,
    /// For a grant that should not be held: the plan's revoke reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<String>,
    /// When it was last used, as the export says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
    /// Reviewers passed over (inactive, or the identity itself) on the way to this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalated_from: Vec<String>,
}

/// A reviewer's items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewerItems {
    /// The reviewer's identity id; `None` for items nobody could be found for.
    pub reviewer: Option<String>,
    /// The items, by identity then entitlement.
    pub items: Vec<ReviewItem>,
}

/// The campaign's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ReviewSummary {
    /// Live grants of catalog entitlements.
    pub live_grants: usize,
    /// Items listed for a decision.
    pub items: usize,
    /// Grants a birthright role fully justifies, counted not listed.
    pub birthright_summarised: usize,
    /// The same, by birthright role (each grant counted under its first birthright role).
    pub birthright_by_role: BTreeMap<String, usize>,
    /// Reviewers with items (the unassigned group not counted).
    pub reviewers: usize,
    /// Items no reviewer could be found for.
    pub unassigned: usize,
    /// Items by flag.
    pub flags: BTreeMap<String, usize>,
    /// Live grants of entitlements outside the catalog (not reviewed here: `plan` reports them).
    pub unmanaged: usize,
    /// Live grants of identities whose record (or owner's record) is invalid: not reviewed
    /// until the record is fixed.
    pub not_reviewed_invalid: usize,
}

/// An access-review campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Campaign {
    /// The instant of evaluation.
    pub as_of: String,
    /// Who reviews.
    pub by: ReviewBy,
    /// The birthright roles (see the module documentation), sorted.
    pub birthright_roles: Vec<String>,
    /// Figures.
    pub summary: ReviewSummary,
    /// Items by reviewer (reviewer ids sorted, the unassigned last).
    pub reviewers: Vec<ReviewerItems>,
}

/// A campaign that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// `--by manager` without a manager attribute.
    #[error("the identity schema declares no attribute of type `identity` to route reviews by manager: add `manager: {{ type: identity }}` under `identity.attributes`, or review `--by app-owner`")]
    NoManagerAttribute,
    /// An evaluation failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// The roles that are birthright by the module's rule, sorted.
pub fn birthright_roles(project: &Project) -> Vec<String> {
    project
        .defs
        .roles
        .values()
        .filter(|r| !r.assignable && is_population_condition(&r.when))
        .map(|r| r.id.clone())
        .collect()
}

/// Does the condition test only the identity's kind, enum attributes, and date attributes against `now`?
fn is_population_condition(c: &Condition) -> bool {
    match c {
        Condition::All(all) => all.iter().all(is_population_condition),
        Condition::Kind {
            subject: Subject::Identity,
            ..
        } => true,
        Condition::Attr {
            subject: Subject::Identity,
            ty,
            test,
            ..
        } => matches!(
            (ty, test),
            (
                AttrType::Enum(_),
                AttrTest::Eq(_) | AttrTest::In(_) | AttrTest::NotIn(_) | AttrTest::Not(_)
            ) | (AttrType::Date, AttrTest::Cmp(_, Literal::Now))
        ),
        _ => false,
    }
}

/// The attribute a campaign by manager routes along: `manager` if it is of type `identity`,
/// else the first attribute of that type.
pub fn manager_attribute(project: &Project) -> Option<&str> {
    let attrs = &project.defs.identity.attributes;
    attrs
        .get("manager")
        .filter(|a| a.identity_ref)
        .or_else(|| attrs.values().find(|a| a.identity_ref))
        .map(|a| a.name.as_str())
}

fn is_active(identity: &IdentityState) -> bool {
    identity.attributes.get("status") == Some(&AttrValue::str("active"))
}

/// Runs a campaign over `population` and `live`.
pub fn campaign(
    project: &Project,
    evaluator: &dyn Evaluator,
    population: &Population,
    live: &[LiveFile],
    options: &ReviewOptions,
) -> Result<Campaign, ReviewError> {
    let catalog = project.catalog();
    let manager_attr = match options.by {
        ReviewBy::Manager => Some(manager_attribute(project).ok_or(ReviewError::NoManagerAttribute)?),
        ReviewBy::AppOwner => None,
    };
    let index = LiveIndex::new(catalog, live);
    let sod = SodRules::new(project);
    let birthright = birthright_roles(project);
    let birthright_ids: Vec<RoleId> = birthright.iter().filter_map(|r| catalog.roles.id(r)).collect();
    let last_used = last_used_index(live);
    let router = Router {
        population,
        chain_attr: manager_attr.or_else(|| manager_attribute(project)),
    };

    let live_identities: Vec<(&str, &[EntitlementId])> = index.identities().collect();
    type Outcome = (Vec<(Option<String>, ReviewItem)>, Vec<String>, usize);
    let outcomes: Vec<Outcome> = live_identities
        .par_iter()
        .map(|&(id, held)| -> Result<Outcome, EvalError> {
            let mut items = Vec::new();
            let mut summarised = Vec::new();
            let identity = population.get(id);
            let owner = identity.map(|i| population.owner_of(i));
            if population.is_invalid(id) || owner == Some(OwnerRecord::Invalid) {
                return Ok((items, summarised, held.len()));
            }
            let desired = match identity {
                Some(i) => Some(evaluator.desired(i, owner.and_then(|o| o.record()), options.as_of)?),
                None => None,
            };
            let violations = sod.violations(catalog, id, held, StateKind::Live);
            let nhi_inactive_owner = identity.is_some_and(|i| i.owner.is_some() && !owner.and_then(|o| o.record()).is_some_and(is_active));
            for &e in held {
                let name = catalog.entitlements.name(e);
                let info = catalog.entitlement(e);
                let mut flags = Vec::new();
                if info.privileged {
                    flags.push(Flag::Privileged);
                }
                if violations.iter().any(|v| v.sides.iter().flatten().any(|s| s == name)) {
                    flags.push(Flag::SodConflict);
                }
                let used = last_used.get(&(id, name)).copied();
                // The plan's own rule of dormancy (`plan --dormant-after`).
                if used.is_some_and(|u| governance::idle(u, options.as_of, options.dormant_after).is_some()) {
                    flags.push(Flag::Dormant);
                }
                if nhi_inactive_owner {
                    flags.push(Flag::NhiInactiveOwner);
                }
                let ids = desired.as_ref().and_then(|d| d.justification_ids(e));
                let justification: Vec<Justification> = ids
                    .map(|ids| ids.iter().map(|j| catalog.justification(*j)).collect())
                    .unwrap_or_default();
                let mut revoke_reason = None;
                if ids.is_none() {
                    flags.push(Flag::NotJustified);
                    revoke_reason = Some(match identity {
                        None => "orphaned-account".to_string(),
                        Some(i) => match reasons::revocation(project, evaluator, i, owner.and_then(|o| o.record()), options.as_of, name)? {
                            Change::Revoke { reason, .. } => reason.as_str().to_string(),
                            Change::Grant { .. } => "not-justified".to_string(),
                        },
                    });
                }
                if !justification.is_empty() && justification.iter().all(|j| j.exception.is_some()) {
                    let last = justification
                        .iter()
                        .filter_map(|j| j.exception.as_ref().and_then(|x| Instant::parse(&x.expires).ok()))
                        .max();
                    if last.is_some_and(|t| governance::is_expiring(t, options.as_of, options.warn_expiring)) {
                        flags.push(Flag::ExceptionExpiring);
                    }
                }
                flags.sort_unstable();
                // Summarised: justified by a birthright role, nothing to flag.
                if flags.is_empty() {
                    if let Some(role) = ids
                        .into_iter()
                        .flatten()
                        .filter_map(|j| catalog.justification(*j).role)
                        .find(|r| catalog.roles.id(r).is_some_and(|r| birthright_ids.contains(&r)))
                    {
                        summarised.push(role);
                        continue;
                    }
                }
                let application = catalog.applications.name(info.application).to_string();
                let first = match options.by {
                    ReviewBy::Manager => router.up(id),
                    ReviewBy::AppOwner => project.defs.applications.get(&application).and_then(|a| a.owner.clone()),
                };
                let (reviewer, escalated_from) = router.reviewer(id, first);
                items.push((
                    reviewer,
                    ReviewItem {
                        identity: id.to_string(),
                        kind: identity.map_or_else(|| "orphaned".to_string(), |i| i.kind.to_string()),
                        entitlement: name.to_string(),
                        application,
                        flags,
                        justification,
                        revoke_reason,
                        last_used: used.map(|u| match u {
                            LastUsed::Never => "never".to_string(),
                            LastUsed::At(t) => t.to_rfc3339(),
                        }),
                        escalated_from,
                    },
                ));
            }
            Ok((items, summarised, 0))
        })
        .collect::<Result<_, _>>()?;

    let mut summary = ReviewSummary {
        live_grants: live_identities.iter().map(|(_, h)| h.len()).sum(),
        unmanaged: index.unmanaged().len(),
        ..ReviewSummary::default()
    };
    let mut groups: BTreeMap<Option<String>, Vec<ReviewItem>> = BTreeMap::new();
    for (items, summarised, invalid) in outcomes {
        summary.not_reviewed_invalid += invalid;
        summary.birthright_summarised += summarised.len();
        for role in summarised {
            *summary.birthright_by_role.entry(role).or_default() += 1;
        }
        for (reviewer, item) in items {
            for f in &item.flags {
                *summary.flags.entry(f.as_str().to_string()).or_default() += 1;
            }
            summary.items += 1;
            groups.entry(reviewer).or_default().push(item);
        }
    }
    let mut reviewers: Vec<ReviewerItems> = Vec::new();
    let mut unassigned = None;
    for (reviewer, mut items) in groups {
        items.sort_by(|a, b| (&a.identity, &a.entitlement).cmp(&(&b.identity, &b.entitlement)));
        match reviewer {
            None => {
                summary.unassigned = items.len();
                unassigned = Some(ReviewerItems { reviewer: None, items });
            }
            Some(r) => reviewers.push(ReviewerItems { reviewer: Some(r), items }),
        }
    }
    summary.reviewers = reviewers.len();
    reviewers.extend(unassigned);
    Ok(Campaign {
        as_of: options.as_of.to_rfc3339(),
        by: options.by,
        birthright_roles: birthright,
        summary,
        reviewers,
    })
}

/// `last_used` of every live grant that has one, by (identity, entitlement).
fn last_used_index(live: &[LiveFile]) -> std::collections::HashMap<(&str, &str), LastUsed> {
    let mut out = std::collections::HashMap::new();
    for file in live {
        for g in file.grants() {
            if let Some(used) = g.last_used() {
                let slot = out.entry((g.identity(), g.entitlement())).or_insert(used);
                *slot = (*slot).max(used);
            }
        }
    }
    out
}

/// Finds who reviews an item.
struct Router<'a> {
    population: &'a Population,
    /// The attribute of type `identity` the chain goes up along (whatever the campaign routes by).
    chain_attr: Option<&'a str>,
}

/// The longest manager chain followed when escalating (a cycle stops earlier).
const MAX_ESCALATION: usize = 64;

impl Router<'_> {
    /// The next one up from `id`: its manager, or (a non-human identity) its owner.
    fn up(&self, id: &str) -> Option<String> {
        let identity = self.population.get(id)?;
        let manager = self.chain_attr.and_then(|a| match identity.attributes.get(a) {
            Some(AttrValue::Str(m)) => Some(m.to_string()),
            _ => None,
        });
        manager.or_else(|| identity.owner.clone())
    }

    /// The first who can review `holder`'s grant, starting from `first`, and those passed over.
    fn reviewer(&self, holder: &str, first: Option<String>) -> (Option<String>, Vec<String>) {
        let mut passed = Vec::new();
        let mut candidate = first;
        while let Some(c) = candidate {
            if c != holder && self.population.get(&c).is_some_and(is_active) {
                return (Some(c), passed);
            }
            if passed.contains(&c) || passed.len() >= MAX_ESCALATION {
                break;
            }
            candidate = self.up(&c);
            passed.push(c);
        }
        (None, passed)
    }
}
