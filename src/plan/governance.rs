//! Approved exceptions and dormant access, as library functions over the
//! loaded project, a population and live state: what `plan` reports under
//! `exceptions` and `dormant` (docs/governance.md), and what other reports
//! (an access review, a service) ask of one exception or one grant.
//!
//! It decides nothing about who holds what: an exception's effect is its
//! compiled Cedar permit, which the evaluators answer for; this module only
//! says when an exception applies, when it is about to lapse, and when a
//! live grant counts as dormant.

use crate::diag::{Code, Diagnostic};
use crate::io::live::{LastUsed, LiveFile};
use crate::model::{Exception, GrantRef};
use crate::population::Population;
use crate::project::Project;
use crate::time::{Duration, Instant};

use super::{ExceptionOutcome, ExceptionState};

/// The state of an exception expiring at `expires`, at `at`: active strictly
/// before its expiry (its permit's `context.now < expires`), expired from it on.
pub fn exception_state(expires: Instant, at: Instant) -> ExceptionState {
    if at < expires {
        ExceptionState::Active
    } else {
        ExceptionState::Expired
    }
}

/// Is an exception expiring at `expires` active at `at` and lapsing within `window`?
pub fn is_expiring(expires: Instant, at: Instant, window: Duration) -> bool {
    at < expires && expires.0.saturating_sub(at.0) <= window.0
}

/// An exception as the plan lists it, before the plan says what it does
/// (`kept`, `granted`, `revoked`, `overridden` empty): its state at `at` and
/// whether it lapses within `warn_expiring`.
pub fn exception_outcome(def: &Exception, at: Instant, warn_expiring: Duration) -> ExceptionOutcome {
    let (entitlement, package) = match &def.grants {
        GrantRef::Entitlement(e) => (Some(e.clone()), None),
        GrantRef::Package(p) => (None, Some(p.clone())),
    };
    ExceptionOutcome {
        id: def.id.clone(),
        identity: def.identity.clone(),
        entitlement,
        package,
        ticket: def.ticket.clone(),
        approved_by: def.approved_by.clone(),
        expires: def.expires.to_rfc3339(),
        status: exception_state(def.expires, at),
        expiring: is_expiring(def.expires, at, warn_expiring),
        kept: Vec::new(),
        granted: Vec::new(),
        revoked: Vec::new(),
        overridden: Vec::new(),
        source: def.source.file_line(),
    }
}

/// The project's exceptions active at `at` and lapsing within `window`, by id.
///
/// ```
/// # use entitle::model::SourceFile;
/// # use entitle::project::{Project, Sources};
/// # use entitle::plan::governance::expiring_exceptions;
/// # use entitle::time::{Duration, Instant};
/// let roles = "identity:\n  attributes:\n    status: { type: string }\napplications:\n  - id: aws\n    entitlements: [{ id: admin }]\nexceptions:\n  - id: EXC-1\n    identity: u-1\n    entitlement: aws:admin\n    reason: incident\n    approved_by: u-2\n    ticket: SEC-1\n    expires: 2026-12-01\n";
/// let sources = Sources { roles: vec![SourceFile { name: "roles/x.yaml".into(), text: roles.into() }], policies: vec![] };
/// let project = Project::from_sources(&sources).unwrap();
/// let at = Instant::parse("2026-11-21").unwrap();
/// let soon = expiring_exceptions(&project, at, Duration::parse("14d").unwrap());
/// assert_eq!(soon.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(), ["EXC-1"]);
/// assert!(expiring_exceptions(&project, at, Duration::parse("7d").unwrap()).is_empty());
/// ```
pub fn expiring_exceptions(project: &Project, at: Instant, window: Duration) -> Vec<&Exception> {
    project
        .defs
        .exceptions
        .values()
        .filter(|x| is_expiring(x.expires, at, window))
        .collect()
}

/// The exceptions naming an identity the feed does not hold (neither a valid
/// nor an invalid record): warning W014, located at the exception.
pub fn exception_diagnostics(project: &Project, population: &Population) -> Vec<Diagnostic> {
    project
        .defs
        .exceptions
        .values()
        .filter(|x| population.get(&x.identity).is_none() && !population.is_invalid(&x.identity))
        .map(|x| {
            Diagnostic::new(
                Code::ExceptionUnknownIdentity,
                x.source.clone(),
                format!(
                    "exception `{}` names identity `{}`, which the identity feed does not hold",
                    x.id, x.identity
                ),
            )
            .with_help("remove the exception if the identity has left, or correct the id")
        })
        .collect()
}

/// Is a grant last used `last_used` dormant at `at` under `--dormant-after
/// after`? `Some(days idle)` when it was last used longer ago than `after`
/// (whole days), `Some(None)` when it was never used, `None` when it is not dormant.
pub fn idle(last_used: LastUsed, at: Instant, after: Duration) -> Option<Option<i64>> {
    match last_used {
        LastUsed::Never => Some(None),
        LastUsed::At(t) if t.0 < at.0.saturating_sub(after.0) => Some(Some(at.0.saturating_sub(t.0) / 86_400_000)),
        LastUsed::At(_) => None,
    }
}

/// A live grant that is dormant, read from live state alone (no desired set:
/// whether it is excepted or revoked anyway is the plan's to say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DormantLiveGrant<'a> {
    /// The identity.
    pub identity: &'a str,
    /// The entitlement, as written.
    pub entitlement: &'a str,
    /// When it was last used.
    pub last_used: LastUsed,
    /// Whole days since (none when never used).
    pub idle_days: Option<i64>,
}

/// Every dormant grant of `live` at `at` under `--dormant-after after`, in
/// file and line order (a grant in several files once per file).
pub fn dormant_live_grants(live: &[LiveFile], at: Instant, after: Duration) -> Vec<DormantLiveGrant<'_>> {
    live.iter()
        .flat_map(LiveFile::grants)
        .filter_map(|g| {
            let used = g.last_used()?;
            let idle_days = idle(used, at, after)?;
            Some(DormantLiveGrant {
                identity: g.identity(),
                entitlement: g.entitlement(),
                last_used: used,
                idle_days,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Instant {
        Instant::parse(s).unwrap()
    }

    #[test]
    fn an_exception_is_active_strictly_before_it_expires() {
        let expires = t("2026-12-01");
        assert_eq!(exception_state(expires, t("2026-11-30T23:59:59.999Z")), ExceptionState::Active);
        assert_eq!(exception_state(expires, expires), ExceptionState::Expired);
        let day = Duration::parse("1d").unwrap();
        assert!(is_expiring(expires, t("2026-11-30"), day));
        assert!(!is_expiring(expires, t("2026-11-29T23:59:59Z"), day));
        assert!(!is_expiring(expires, expires, day));
    }

    #[test]
    fn dormancy_counts_whole_days_and_never() {
        let at = t("2026-11-21");
        let d90 = Duration::parse("90d").unwrap();
        assert_eq!(idle(LastUsed::Never, at, d90), Some(None));
        assert_eq!(idle(LastUsed::At(t("2026-06-01")), at, d90), Some(Some(173)));
        assert_eq!(
            idle(LastUsed::At(t("2026-08-23")), at, d90),
            None,
            "exactly 90 days is not longer than 90 days"
        );
        assert_eq!(idle(LastUsed::At(t("2026-08-22T23:59:59Z")), at, d90), Some(Some(90)));
    }

    #[test]
    fn dormant_live_grants_read_live_state_alone() {
        let live = crate::io::live::parse_live(
            "l.csv",
            b"identity,entitlement,last_used\nu-1,a:b,2026-01-01\nu-1,a:c,2026-11-20\nsvc,a:b,never\nu-2,a:b,\n",
            None,
            None,
        )
        .unwrap();
        let found = dormant_live_grants(std::slice::from_ref(&live), t("2026-11-21"), Duration::parse("90d").unwrap());
        let ids: Vec<(&str, Option<i64>)> = found.iter().map(|d| (d.identity, d.idle_days)).collect();
        assert_eq!(ids, [("u-1", Some(324)), ("svc", None)]);
    }
}
