//! The safety guards (spec §8): a plan that would revoke too much, from a
//! feed with too many invalid records or too many missing identities, is
//! refused — an empty or truncated HR feed must never become a mass
//! offboarding; and a plan that would hand privileged access to many
//! identities at once is refused too — a typo in a rule must never grant
//! admin to everyone.

use std::fmt;
use std::str::FromStr;

use super::{Change, Plan};

/// A limit: an absolute count, a percentage of a base, or whichever of the two is smaller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// At most this many.
    Count(u64),
    /// At most this percentage of the base.
    Percent(f64),
    /// At most this many and at most this percentage of the base (`500 or 10%`):
    /// the count protects a large organisation, the percentage a small one.
    Smaller(u64, f64),
}

impl Limit {
    /// Is `value` out of `base` over the limit?
    pub fn exceeded(self, value: usize, base: usize) -> bool {
        let over_percent = |p: f64| (value as f64) > (base as f64) * p / 100.0;
        match self {
            Limit::Count(n) => value as u64 > n,
            Limit::Percent(p) => over_percent(p),
            Limit::Smaller(n, p) => value as u64 > n || over_percent(p),
        }
    }
}

impl FromStr for Limit {
    type Err = String;
    /// `500`, `10%`, or both as `500 or 10%` (whichever is smaller applies).
    fn from_str(s: &str) -> Result<Limit, String> {
        let s = s.trim();
        if let Some((a, b)) = s.split_once(" or ") {
            return match (a.parse::<Limit>()?, b.parse::<Limit>()?) {
                (Limit::Count(n), Limit::Percent(p)) | (Limit::Percent(p), Limit::Count(n)) => Ok(Limit::Smaller(n, p)),
                _ => Err(format!("`{s}` should pair a count and a percentage, such as `500 or 10%`")),
            };
        }
        if let Some(p) = s.strip_suffix('%') {
            match p.trim().parse::<f64>() {
                Ok(v) if (0.0..=100.0).contains(&v) => Ok(Limit::Percent(v)),
                _ => Err(format!("`{s}` is not a percentage between 0% and 100%")),
            }
        } else {
            s.parse::<u64>()
                .map(Limit::Count)
                .map_err(|_| format!("`{s}` is not a count (such as `500`), a percentage (such as `10%`) or both (such as `500 or 10%`)"))
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Count(n) => write!(f, "{n}"),
            Limit::Percent(p) => write!(f, "{p}%"),
            Limit::Smaller(n, p) => write!(f, "{n} or {p}%"),
        }
    }
}

/// The guards' limits.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardLimits {
    /// Revocations, of live grants (default `500 or 10%`, whichever is smaller).
    pub max_revokes: Limit,
    /// Invalid identity records, of all records (default 1%).
    pub max_invalid: Limit,
    /// Live identities missing from the feed, of live identities (default 10%).
    pub max_orphaned: Limit,
    /// Grants of privileged entitlements, of the valid identities in the feed
    /// (default `100 or 10%`, whichever is smaller).
    pub max_privileged_grants: Limit,
}

/// The default of `--max-revokes`.
pub const DEFAULT_MAX_REVOKES: Limit = Limit::Smaller(500, 10.0);
/// The default of `--max-invalid`.
pub const DEFAULT_MAX_INVALID: Limit = Limit::Percent(1.0);
/// The default of `--max-orphaned`.
pub const DEFAULT_MAX_ORPHANED: Limit = Limit::Percent(10.0);
/// The default of `--max-privileged-grants`.
pub const DEFAULT_MAX_PRIVILEGED_GRANTS: Limit = Limit::Smaller(100, 10.0);

impl Default for GuardLimits {
    fn default() -> Self {
        GuardLimits {
            max_revokes: DEFAULT_MAX_REVOKES,
            max_invalid: DEFAULT_MAX_INVALID,
            max_orphaned: DEFAULT_MAX_ORPHANED,
            max_privileged_grants: DEFAULT_MAX_PRIVILEGED_GRANTS,
        }
    }
}

/// Every guard the plan trips, one sentence each (empty when none).
/// `privileged` tells whether an entitlement is privileged.
pub fn check(plan: &Plan, records: usize, live_identities: usize, limits: &GuardLimits, privileged: &dyn Fn(&str) -> bool) -> Vec<String> {
    check_counts(&GuardCounts::of(plan, records, live_identities, privileged), limits)
}

/// The figures the guards read: what a distributed plan (the Spark job of
/// the Python package) adds up over its partitions before it emits anything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardCounts {
    /// Revocations planned.
    pub revokes: usize,
    /// Live grants of catalog entitlements (the plan's `summary.live`).
    pub live: usize,
    /// Invalid identity records.
    pub invalid: usize,
    /// Identity records read, valid or not.
    pub records: usize,
    /// Live identities absent from the feed.
    pub orphaned: usize,
    /// Identities in the live state.
    pub live_identities: usize,
    /// Grants of privileged entitlements planned.
    pub privileged_grants: usize,
    /// Valid identity records evaluated (the plan's `summary.identities`).
    pub identities: usize,
}

impl GuardCounts {
    /// The figures of `plan` (before any refusal clears its changes).
    pub fn of(plan: &Plan, records: usize, live_identities: usize, privileged: &dyn Fn(&str) -> bool) -> GuardCounts {
        GuardCounts {
            revokes: plan.changes.iter().filter(|c| matches!(c, Change::Revoke { .. })).count(),
            live: plan.summary.live,
            invalid: plan.summary.invalid_identities,
            records,
            orphaned: plan.summary.orphaned_accounts,
            live_identities,
            privileged_grants: plan
                .changes
                .iter()
                .filter(|c| matches!(c, Change::Grant { entitlement, .. } if privileged(entitlement)))
                .count(),
            identities: plan.summary.identities,
        }
    }
}

/// The figures of two disjoint parts of a population together.
impl std::ops::Add for GuardCounts {
    type Output = GuardCounts;

    fn add(self, other: GuardCounts) -> GuardCounts {
        GuardCounts {
            revokes: self.revokes + other.revokes,
            live: self.live + other.live,
            invalid: self.invalid + other.invalid,
            records: self.records + other.records,
            orphaned: self.orphaned + other.orphaned,
            live_identities: self.live_identities + other.live_identities,
            privileged_grants: self.privileged_grants + other.privileged_grants,
            identities: self.identities + other.identities,
        }
    }
}

/// Every guard the figures trip, one sentence each (empty when none).
pub fn check_counts(counts: &GuardCounts, limits: &GuardLimits) -> Vec<String> {
    let mut tripped = Vec::new();
    let GuardCounts {
        revokes,
        live,
        invalid,
        records,
        orphaned,
        live_identities,
        privileged_grants,
        identities,
    } = *counts;
    if limits.max_revokes.exceeded(revokes, live) {
        tripped.push(format!(
            "the plan would revoke {revokes} of {live} live grants, over --max-revokes {}",
            limits.max_revokes
        ));
    }
    if limits.max_invalid.exceeded(invalid, records) {
        tripped.push(format!(
            "{invalid} of {records} identity records are invalid, over --max-invalid {}",
            limits.max_invalid
        ));
    }
    if limits.max_orphaned.exceeded(orphaned, live_identities) {
        tripped.push(format!(
            "{orphaned} of {live_identities} identities in the live state are missing from the identity feed (is the feed truncated?), over --max-orphaned {}",
            limits.max_orphaned
        ));
    }
    if limits.max_privileged_grants.exceeded(privileged_grants, identities) {
        tripped.push(format!(
            "the plan would grant privileged entitlements {privileged_grants} times to {identities} identities, over --max-privileged-grants {} (is a rule granting too widely?)",
            limits.max_privileged_grants
        ));
    }
    tripped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_compare() {
        assert_eq!("500".parse::<Limit>().unwrap(), Limit::Count(500));
        assert_eq!("10%".parse::<Limit>().unwrap(), Limit::Percent(10.0));
        assert!("ten".parse::<Limit>().is_err());
        assert!("120%".parse::<Limit>().is_err());
        assert!(Limit::Count(2).exceeded(3, 0));
        assert!(!Limit::Count(3).exceeded(3, 0));
        assert!(Limit::Percent(10.0).exceeded(2, 10));
        assert!(!Limit::Percent(10.0).exceeded(1, 10));
        assert!(!Limit::Percent(1.0).exceeded(0, 0));
        assert_eq!("500 or 10%".parse::<Limit>().unwrap(), Limit::Smaller(500, 10.0));
        assert_eq!("10% or 500".parse::<Limit>().unwrap(), Limit::Smaller(500, 10.0));
        assert!("10% or 20%".parse::<Limit>().is_err());
        assert_eq!(Limit::Smaller(500, 10.0).to_string(), "500 or 10%");
        assert_eq!(DEFAULT_MAX_REVOKES.to_string().parse::<Limit>().unwrap(), DEFAULT_MAX_REVOKES);
    }

    /// The default scales down: 10% of a small organisation's grants, 500 of a large one's.
    #[test]
    fn the_default_revocation_limit_is_the_smaller_of_count_and_share() {
        let limit = DEFAULT_MAX_REVOKES;
        // 200 people with 5 grants each: 100 revocations is 10%, 101 is over.
        assert!(!limit.exceeded(100, 1_000));
        assert!(limit.exceeded(101, 1_000));
        // 2.1M live grants: 10% would be 210,000; the count of 500 applies.
        assert!(!limit.exceeded(500, 2_100_000));
        assert!(limit.exceeded(501, 2_100_000));
    }
}
