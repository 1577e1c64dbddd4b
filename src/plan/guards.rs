//! The mass-revocation guards (spec §8): a plan that would revoke too much,
//! from a feed with too many invalid records or too many missing identities,
//! is refused — an empty or truncated HR feed must never become a mass
//! offboarding.

use std::fmt;
use std::str::FromStr;

use super::{Change, Plan};

/// A limit: an absolute count, or a percentage of a base.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// At most this many.
    Count(u64),
    /// At most this percentage of the base.
    Percent(f64),
}

impl Limit {
    /// Is `value` out of `base` over the limit?
    pub fn exceeded(self, value: usize, base: usize) -> bool {
        match self {
            Limit::Count(n) => value as u64 > n,
            Limit::Percent(p) => (value as f64) > (base as f64) * p / 100.0,
        }
    }
}

impl FromStr for Limit {
    type Err = String;
    fn from_str(s: &str) -> Result<Limit, String> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            match p.trim().parse::<f64>() {
                Ok(v) if (0.0..=100.0).contains(&v) => Ok(Limit::Percent(v)),
                _ => Err(format!("`{s}` is not a percentage between 0% and 100%")),
            }
        } else {
            s.parse::<u64>()
                .map(Limit::Count)
                .map_err(|_| format!("`{s}` is not a count (such as `500`) or a percentage (such as `10%`)"))
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Count(n) => write!(f, "{n}"),
            Limit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The three guards' limits.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardLimits {
    /// Revocations, as a count or a percentage of live grants (default 500).
    pub max_revokes: Limit,
    /// Invalid identity records, of all records (default 1%).
    pub max_invalid: Limit,
    /// Live identities missing from the feed, of live identities (default 10%).
    pub max_orphaned: Limit,
}

impl Default for GuardLimits {
    fn default() -> Self {
        GuardLimits {
            max_revokes: Limit::Count(500),
            max_invalid: Limit::Percent(1.0),
            max_orphaned: Limit::Percent(10.0),
        }
    }
}

/// Every guard the plan trips, one sentence each (empty when none).
pub fn check(plan: &Plan, records: usize, live_identities: usize, limits: &GuardLimits) -> Vec<String> {
    let mut tripped = Vec::new();
    let revokes = plan.changes.iter().filter(|c| matches!(c, Change::Revoke { .. })).count();
    if limits.max_revokes.exceeded(revokes, plan.summary.live) {
        tripped.push(format!(
            "the plan would revoke {revokes} of {} live grants, over --max-revokes {}",
            plan.summary.live, limits.max_revokes
        ));
    }
    let invalid = plan.summary.invalid_identities;
    if limits.max_invalid.exceeded(invalid, records) {
        tripped.push(format!(
            "{invalid} of {records} identity records are invalid, over --max-invalid {}",
            limits.max_invalid
        ));
    }
    let orphaned = plan.summary.orphaned_accounts;
    if limits.max_orphaned.exceeded(orphaned, live_identities) {
        tripped.push(format!(
            "{orphaned} of {live_identities} identities in the live state are missing from the identity feed (is the feed truncated?), over --max-orphaned {}",
            limits.max_orphaned
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
    }
}
