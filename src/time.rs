//! Instants, dates and durations: parsing the forms users write and the
//! `datetime` form Cedar reads.
//!
//! An [`Instant`] is milliseconds since the Unix epoch, UTC, exactly Cedar's
//! `datetime` value, so the fast path and the oracle compare the same numbers.
//!
//! # Range
//!
//! Instants reach Cedar as `datetime("YYYY-MM-DD...")` strings in UTC, and
//! Cedar reads four-digit years only (its pattern is `^[0-9]{4}-[0-9]{2}-[0-9]{2}`,
//! then an optional time, milliseconds and offset). So the instants entitle
//! accepts are those whose UTC form has a four-digit year:
//! [`Instant::MIN`] (`0000-01-01T00:00:00Z`) to [`Instant::MAX`]
//! (`9999-12-31T23:59:59.999Z`). [`Instant::parse`] is the one place that
//! checks it: `9999-12-31T23:00:00-05:00` is valid RFC 3339 but falls in year
//! 10000 in UTC, and is refused with a sentence saying so, as is
//! `0000-01-01T00:30:00+01:00` (year -1). Every instant parsed therefore
//! prints ([`Instant::to_rfc3339`], [`Instant::to_cedar`]) as valid RFC 3339
//! that Cedar reads back.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::error::InvalidValue;
use crate::state::shown;

/// A point in time, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

impl Instant {
    /// The earliest instant Cedar's `datetime` can hold as text: `0000-01-01T00:00:00Z`.
    pub const MIN: Instant = Instant(-62_167_219_200_000);

    /// The latest instant Cedar's `datetime` can hold as text: `9999-12-31T23:59:59.999Z`.
    pub const MAX: Instant = Instant(253_402_300_799_999);

    /// Whether the instant lies between [`Instant::MIN`] and [`Instant::MAX`].
    pub fn is_in_range(self) -> bool {
        (Instant::MIN..=Instant::MAX).contains(&self)
    }

    /// Parses an RFC 3339 instant (`2026-11-21T09:30:00Z`, any offset) or a
    /// date (`2026-11-21`, meaning its midnight UTC). Surrounding whitespace
    /// is ignored. An instant outside [`Instant::MIN`]..=[`Instant::MAX`] in
    /// UTC is an error (see the module documentation).
    pub fn parse(text: &str) -> Result<Instant, InvalidValue> {
        let text = text.trim();
        let instant = Instant::parse_unchecked(text)?;
        if !instant.is_in_range() {
            return Err(InvalidValue::new(format!(
                "`{text}` is out of range: an instant must fall between {} and {} in UTC",
                Instant::MIN.to_rfc3339(),
                Instant::MAX.to_rfc3339()
            )));
        }
        Ok(instant)
    }

    fn parse_unchecked(text: &str) -> Result<Instant, String> {
        // Years 0000-9999 only (four digits, no sign): the range Cedar's `datetime` reads.
        if !text
            .as_bytes()
            .get(..5)
            .is_some_and(|y| y[..4].iter().all(u8::is_ascii_digit) && y[4] == b'-')
        {
            return Err(format!(
                "`{}` is not a date (YYYY-MM-DD) or an RFC 3339 instant (YYYY-MM-DDThh:mm:ssZ)",
                shown(text)
            ));
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            if text.len() == 10 {
                let midnight = date
                    .and_hms_opt(0, 0, 0)
                    .ok_or_else(|| format!("`{}` is not a valid date", shown(text)))?;
                return Ok(Instant(midnight.and_utc().timestamp_millis()));
            }
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| Instant(t.with_timezone(&Utc).timestamp_millis()))
            .map_err(|_| {
                format!(
                    "`{}` is not a date (YYYY-MM-DD) or an RFC 3339 instant (YYYY-MM-DDThh:mm:ssZ)",
                    shown(text)
                )
            })
    }

    /// The current time.
    pub fn now() -> Instant {
        Instant(Utc::now().timestamp_millis())
    }

    /// The argument of Cedar's `datetime("...")` for this instant.
    pub fn to_cedar(self) -> String {
        let t = DateTime::<Utc>::from_timestamp_millis(self.0).unwrap_or_default();
        if self.0 % 86_400_000 == 0 {
            t.format("%Y-%m-%d").to_string()
        } else if self.0 % 1000 == 0 {
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        }
    }

    /// RFC 3339 with a `Z`, for output.
    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A length of time in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

impl Duration {
    /// Parses `30d`, `8h`, `90m`, `45s`, `2w`, or a sum such as `1d12h`.
    pub fn parse(text: &str) -> Result<Duration, InvalidValue> {
        let bad = || InvalidValue::new(format!("`{}` is not a duration such as `8h`, `7d`, `30d` or `1d12h`", shown(text)));
        let mut total: i64 = 0;
        let mut number = String::new();
        let mut any = false;
        for c in text.trim().chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit: i64 = match c {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 7 * 86_400_000,
                _ => return Err(bad()),
            };
            let n: i64 = number.parse().map_err(|_| bad())?;
            total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
            number.clear();
            any = true;
        }
        if !number.is_empty() || !any || total <= 0 {
            return Err(bad());
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
            if ms % size == 0 {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_utc() {
        assert_eq!(Instant::parse("1970-01-02").unwrap(), Instant(86_400_000));
        assert_eq!(Instant::parse("1970-01-02T00:00:00Z").unwrap(), Instant(86_400_000));
        assert_eq!(Instant::parse("1970-01-02T02:00:00+02:00").unwrap(), Instant(86_400_000));
        assert!(Instant::parse("2026-02-30").is_err());
        assert!(Instant::parse("yesterday").is_err());
        // Cedar reads four-digit years only; a signed or five-digit year must not get past the reader.
        for bad in ["-001-01-01", "+2026-01-01", "12026-01-01", "-0001-01-01T00:00:00Z"] {
            assert!(Instant::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_show_what_they_quote_escaped() {
        let err = Instant::parse("2026-12-0\u{7f}").unwrap_err();
        assert!(err.message().starts_with("`2026-12-0\\u{7f}` is not a date"), "{err}");
        let err = Instant::parse("2026-11-01\u{202e}").unwrap_err();
        assert!(err.message().starts_with("`2026-11-01\\u{202e}` is not a date"), "{err}");
        let err = Duration::parse("7d\u{1b}[2J").unwrap_err();
        assert!(err.message().starts_with("`7d\\u{1b}[2J` is not a duration"), "{err}");
    }

    #[test]
    fn instants_outside_cedars_range_are_refused() {
        // Valid RFC 3339, but year 10000 and year -1 in UTC.
        for bad in [
            "9999-12-31T23:00:00-05:00",
            "0000-01-01T00:30:00+01:00",
            "9999-12-31T23:59:59.999-00:01",
        ] {
            let err = Instant::parse(bad).unwrap_err();
            assert_eq!(
                err.message(),
                format!("`{bad}` is out of range: an instant must fall between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in UTC")
            );
        }
        assert_eq!(Instant::parse("0000-01-01").unwrap(), Instant::MIN);
        assert_eq!(Instant::parse("0000-01-01T01:00:00+01:00").unwrap(), Instant::MIN);
        assert_eq!(Instant::parse("9999-12-31T23:59:59.999Z").unwrap(), Instant::MAX);
        assert_eq!(Instant::parse("9999-12-31T18:59:59.999-05:00").unwrap(), Instant::MAX);
        assert!(!Instant(Instant::MIN.0 - 1).is_in_range() && !Instant(Instant::MAX.0 + 1).is_in_range());
    }

    #[test]
    fn both_ends_of_the_range_print_as_rfc3339_and_cedar_reads_them() {
        for (instant, rfc3339, cedar) in [
            (Instant::MIN, "0000-01-01T00:00:00Z", "0000-01-01"),
            (Instant::MAX, "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
            (Instant(Instant::MAX.0 - 999), "9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(instant.to_rfc3339(), rfc3339);
            assert_eq!(instant.to_cedar(), cedar);
            assert_eq!(Instant::parse(&instant.to_rfc3339()).unwrap(), instant);
            assert_eq!(Instant::parse(&instant.to_cedar()).unwrap(), instant);
            assert!(chrono::DateTime::parse_from_rfc3339(rfc3339).is_ok(), "{rfc3339}");
            let expr = cedar_policy::RestrictedExpression::new_datetime(cedar);
            let context = cedar_policy::Context::from_pairs([("now".to_string(), expr)]);
            assert!(context.is_ok(), "Cedar refuses `{cedar}`: {:?}", context.err());
        }
        // What the range keeps out: the text chrono would print one millisecond past either end.
        for outside in ["+10000-01-01", "-0001-12-31T23:59:59.999Z"] {
            let expr = cedar_policy::RestrictedExpression::new_datetime(outside);
            assert!(cedar_policy::Context::from_pairs([("now".to_string(), expr)]).is_err(), "{outside}");
        }
        assert_eq!(
            chrono::DateTime::<chrono::Utc>::from_timestamp_millis(Instant::MAX.0 + 1)
                .unwrap()
                .format("%Y-%m-%d")
                .to_string(),
            "+10000-01-01"
        );
    }

    #[test]
    fn cedar_form_round_trips() {
        for text in ["2026-11-21", "2026-11-21T09:30:00Z", "2026-11-21T09:30:00.250Z"] {
            let t = Instant::parse(text).unwrap();
            assert_eq!(t.to_cedar(), text);
        }
    }

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("30d").unwrap(), Duration(30 * 86_400_000));
        assert_eq!(Duration::parse("1d12h").unwrap(), Duration(36 * 3_600_000));
        assert_eq!(Duration::parse("8h").unwrap().to_string(), "8h");
        for bad in ["", "30", "d", "30x", "0d", "99999999999999999999d", "1d-2h"] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
    }
}
