//! W013 `exception-too-long`: an exception that runs longer than
//! `governance.exception_max_duration` (90 days by default), counted from its
//! `approved_on`, or — when it has none — from the instant of the run.
//! Exceptions that outlive their need are a top audit finding: a long one is
//! renewed with a fresh approval, not written once for a year.

use crate::diag::{Code, Diagnostic};
use crate::model::Definitions;
use crate::time::Instant;

pub(super) fn check(defs: &Definitions, now: Instant, out: &mut Vec<Diagnostic>) {
    let max = defs.governance.exception_max_duration;
    for e in defs.exceptions.values() {
        let from = e.approved_on.unwrap_or(now);
        if e.expires.0.saturating_sub(from.0) <= max.0 {
            continue;
        }
        let since = match e.approved_on {
            Some(t) => format!("its approval on {}", t.to_cedar()),
            None => "today".to_string(),
        };
        out.push(
            Diagnostic::new(
                Code::LongException,
                e.source.clone(),
                format!(
                    "exception `{}` runs until {}, more than {max} after {since}",
                    e.id,
                    e.expires.to_cedar()
                ),
            )
            .with_help("shorten `expires` and renew the exception when it runs out, or raise `governance.exception_max_duration`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::check::test_support::run;
    use crate::diag::Code;

    const EXCEPTION: &str = "exceptions:\n  - id: x-1\n    identity: u-1\n    entitlement: app:read\n    reason: audit\n    approved_by: u-2\n    ticket: T-1\n";

    #[test]
    fn flags_an_exception_longer_than_the_maximum() {
        let long = format!("{EXCEPTION}    approved_on: 2026-01-01\n    expires: 2026-06-01\n");
        let d = run(&long, Code::LongException);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].message,
            "exception `x-1` runs until 2026-06-01, more than 90d after its approval on 2026-01-01"
        );
        let short = format!("{EXCEPTION}    approved_on: 2026-01-01\n    expires: 2026-03-01\n");
        assert!(run(&short, Code::LongException).is_empty());
    }

    #[test]
    fn the_maximum_is_configurable() {
        let long =
            format!("{EXCEPTION}    approved_on: 2026-01-01\n    expires: 2026-06-01\ngovernance:\n  exception_max_duration: 180d\n");
        assert!(run(&long, Code::LongException).is_empty());
        let tight =
            format!("{EXCEPTION}    approved_on: 2026-01-01\n    expires: 2026-02-01\ngovernance:\n  exception_max_duration: 14d\n");
        assert_eq!(run(&tight, Code::LongException).len(), 1);
    }
}
