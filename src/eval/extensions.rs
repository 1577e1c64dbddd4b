//! Cedar's extension types — `datetime`, `duration`, `decimal` and `ipaddr` —
//! and their functions, with exactly the semantics of cedar-policy-core 4.x
//! (`src/extensions/{datetime,decimal,ipaddr}.rs`): the same text forms
//! accepted, the same millisecond and 4-digit precision, the same overflow
//! checks in the same order, and an error wherever Cedar's function errs.
//!
//! Errors carry no detail: the native evaluator only needs to know that a
//! policy erred (the authorizer then skips it), not Cedar's message.
//!
//! Must never: accept a text Cedar refuses or refuse one it accepts, or
//! compute where Cedar would overflow; a function not listed in [`ExtFn`]
//! is not modelled, and a policy using it keeps the Cedar path.

use std::net::IpAddr;

use chrono::{NaiveDate, NaiveTime};

/// A value of one of Cedar's extension types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtValue {
    /// `datetime`: milliseconds since the Unix epoch (any `i64`; arithmetic can leave the years Cedar parses).
    DateTime(i64),
    /// `duration`: milliseconds.
    Duration(i64),
    /// `decimal`: the number times 10,000.
    Decimal(i64),
    /// `ipaddr`: an address or a range.
    Ip(IpNet),
}

impl ExtValue {
    /// Do `<`, `<=`, `>`, `>=` apply (Cedar's operator overloading: `datetime` and `duration` only)?
    /// The key compared, when they do.
    pub fn ordered(self) -> Option<(u8, i64)> {
        match self {
            ExtValue::DateTime(t) => Some((0, t)),
            ExtValue::Duration(d) => Some((1, d)),
            ExtValue::Decimal(_) | ExtValue::Ip(_) => None,
        }
    }
}

/// An extension function (constructor or method) entitle models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtFn {
    /// `datetime("…")`.
    DateTime,
    /// `duration("…")`.
    Duration,
    /// `datetime.offset(duration)`.
    Offset,
    /// `datetime.durationSince(datetime)`.
    DurationSince,
    /// `datetime.toDate()`.
    ToDate,
    /// `datetime.toTime()`.
    ToTime,
    /// `duration.toMilliseconds()`.
    ToMilliseconds,
    /// `duration.toSeconds()`.
    ToSeconds,
    /// `duration.toMinutes()`.
    ToMinutes,
    /// `duration.toHours()`.
    ToHours,
    /// `duration.toDays()`.
    ToDays,
    /// `decimal("…")`.
    Decimal,
    /// `decimal.lessThan(decimal)`.
    LessThan,
    /// `decimal.lessThanOrEqual(decimal)`.
    LessThanOrEqual,
    /// `decimal.greaterThan(decimal)`.
    GreaterThan,
    /// `decimal.greaterThanOrEqual(decimal)`.
    GreaterThanOrEqual,
    /// `ip("…")`.
    Ip,
    /// `ipaddr.isIpv4()`.
    IsIpv4,
    /// `ipaddr.isIpv6()`.
    IsIpv6,
    /// `ipaddr.isLoopback()`.
    IsLoopback,
    /// `ipaddr.isMulticast()`.
    IsMulticast,
    /// `ipaddr.isInRange(ipaddr, …)` (variadic: one range or more).
    IsInRange,
}

impl ExtFn {
    /// The function of a name as Cedar's JSON form writes it.
    pub fn named(name: &str) -> Option<ExtFn> {
        Some(match name {
            "datetime" => ExtFn::DateTime,
            "duration" => ExtFn::Duration,
            "offset" => ExtFn::Offset,
            "durationSince" => ExtFn::DurationSince,
            "toDate" => ExtFn::ToDate,
            "toTime" => ExtFn::ToTime,
            "toMilliseconds" => ExtFn::ToMilliseconds,
            "toSeconds" => ExtFn::ToSeconds,
            "toMinutes" => ExtFn::ToMinutes,
            "toHours" => ExtFn::ToHours,
            "toDays" => ExtFn::ToDays,
            "decimal" => ExtFn::Decimal,
            "lessThan" => ExtFn::LessThan,
            "lessThanOrEqual" => ExtFn::LessThanOrEqual,
            "greaterThan" => ExtFn::GreaterThan,
            "greaterThanOrEqual" => ExtFn::GreaterThanOrEqual,
            "ip" => ExtFn::Ip,
            "isIpv4" => ExtFn::IsIpv4,
            "isIpv6" => ExtFn::IsIpv6,
            "isLoopback" => ExtFn::IsLoopback,
            "isMulticast" => ExtFn::IsMulticast,
            "isInRange" => ExtFn::IsInRange,
            _ => return None,
        })
    }

    /// Does the function take `n` arguments (the receiver of a method counted)?
    pub fn takes(self, n: usize) -> bool {
        match self {
            ExtFn::Offset
            | ExtFn::DurationSince
            | ExtFn::LessThan
            | ExtFn::LessThanOrEqual
            | ExtFn::GreaterThan
            | ExtFn::GreaterThanOrEqual => n == 2,
            ExtFn::IsInRange => n >= 2,
            _ => n == 1,
        }
    }
}

/// The argument or the result of an extension function, as far as these functions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// A string.
    Str(&'a str),
    /// A long.
    Long(i64),
    /// A boolean.
    Bool(bool),
    /// An extension value.
    Ext(ExtValue),
    /// Any other value (an entity, a set, a record): every function errs on it.
    Other,
}

/// The function failed (a type error, a text it does not read, an overflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtError;

fn datetime(a: &Arg<'_>) -> Result<i64, ExtError> {
    match a {
        Arg::Ext(ExtValue::DateTime(t)) => Ok(*t),
        _ => Err(ExtError),
    }
}

fn duration(a: &Arg<'_>) -> Result<i64, ExtError> {
    match a {
        Arg::Ext(ExtValue::Duration(d)) => Ok(*d),
        _ => Err(ExtError),
    }
}

fn decimal(a: &Arg<'_>) -> Result<i64, ExtError> {
    match a {
        Arg::Ext(ExtValue::Decimal(d)) => Ok(*d),
        _ => Err(ExtError),
    }
}

fn ip(a: &Arg<'_>) -> Result<IpNet, ExtError> {
    match a {
        Arg::Ext(ExtValue::Ip(n)) => Ok(*n),
        _ => Err(ExtError),
    }
}

fn string<'a>(a: &Arg<'a>) -> Result<&'a str, ExtError> {
    match a {
        Arg::Str(s) => Ok(s),
        _ => Err(ExtError),
    }
}

const DAY_MS: i64 = 86_400_000;

/// Applies `f` to `args` (whose number [`ExtFn::takes`] accepts), as Cedar's extension function does.
pub fn apply<'a>(f: ExtFn, args: &[Arg<'a>]) -> Result<Arg<'a>, ExtError> {
    let arg = |i: usize| args.get(i).ok_or(ExtError);
    let ext = |v: ExtValue| Ok(Arg::Ext(v));
    match f {
        ExtFn::DateTime => ext(ExtValue::DateTime(parse_datetime(string(arg(0)?)?).ok_or(ExtError)?)),
        ExtFn::Duration => ext(ExtValue::Duration(parse_duration(string(arg(0)?)?).ok_or(ExtError)?)),
        ExtFn::Offset => {
            let (t, d) = (datetime(arg(0)?)?, duration(arg(1)?)?);
            ext(ExtValue::DateTime(t.checked_add(d).ok_or(ExtError)?))
        }
        ExtFn::DurationSince => {
            let (a, b) = (datetime(arg(0)?)?, datetime(arg(1)?)?);
            ext(ExtValue::Duration(a.checked_sub(b).ok_or(ExtError)?))
        }
        ExtFn::ToDate => {
            let t = datetime(arg(0)?)?;
            let day = t.checked_rem_euclid(DAY_MS).and_then(|r| t.checked_sub(r)).ok_or(ExtError)?;
            ext(ExtValue::DateTime(day))
        }
        ExtFn::ToTime => {
            let t = datetime(arg(0)?)?;
            let rem = t % DAY_MS;
            ext(ExtValue::Duration(if t.is_negative() && rem != 0 { rem + DAY_MS } else { rem }))
        }
        ExtFn::ToMilliseconds => Ok(Arg::Long(duration(arg(0)?)?)),
        ExtFn::ToSeconds => Ok(Arg::Long(duration(arg(0)?)? / 1000)),
        ExtFn::ToMinutes => Ok(Arg::Long(duration(arg(0)?)? / 1000 / 60)),
        ExtFn::ToHours => Ok(Arg::Long(duration(arg(0)?)? / 1000 / 60 / 60)),
        ExtFn::ToDays => Ok(Arg::Long(duration(arg(0)?)? / 1000 / 60 / 60 / 24)),
        ExtFn::Decimal => ext(ExtValue::Decimal(parse_decimal(string(arg(0)?)?).ok_or(ExtError)?)),
        ExtFn::LessThan | ExtFn::LessThanOrEqual | ExtFn::GreaterThan | ExtFn::GreaterThanOrEqual => {
            let (a, b) = (decimal(arg(0)?)?, decimal(arg(1)?)?);
            Ok(Arg::Bool(match f {
                ExtFn::LessThan => a < b,
                ExtFn::LessThanOrEqual => a <= b,
                ExtFn::GreaterThan => a > b,
                _ => a >= b,
            }))
        }
        ExtFn::Ip => ext(ExtValue::Ip(IpNet::parse(string(arg(0)?)?).ok_or(ExtError)?)),
        ExtFn::IsIpv4 => Ok(Arg::Bool(ip(arg(0)?)?.addr.is_ipv4())),
        ExtFn::IsIpv6 => Ok(Arg::Bool(ip(arg(0)?)?.addr.is_ipv6())),
        ExtFn::IsLoopback => Ok(Arg::Bool(ip(arg(0)?)?.is_loopback())),
        ExtFn::IsMulticast => Ok(Arg::Bool(ip(arg(0)?)?.is_multicast())),
        ExtFn::IsInRange => {
            let child = ip(arg(0)?)?;
            // Every range must be an address, even after one matched.
            let mut any = false;
            for parent in args.get(1..).unwrap_or_default() {
                any |= child.is_in_range(&ip(parent)?);
            }
            Ok(Arg::Bool(any))
        }
    }
}

/// ASCII digits at `b[range]` as a number (`None` when any is not a digit or the range is out of bounds).
fn digits(b: &[u8], range: std::ops::Range<usize>) -> Option<u32> {
    b.get(range)?
        .iter()
        .try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

/// Cedar's `datetime("…")`: `YYYY-MM-DD`, optionally followed by
/// `Thh:mm:ss`, then `Z`, `.SSSZ`, `±hhmm` or `.SSS±hhmm` (an offset below
/// 24 hours and 60 minutes). Milliseconds since the epoch, UTC.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (year, month, day) = (digits(b, 0..4)?, digits(b, 5..7)?, digits(b, 8..10)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if b.len() == 10 {
        return Some(date.and_time(NaiveTime::MIN).and_utc().timestamp_millis());
    }
    if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (h, m, sec) = (digits(b, 11..13)?, digits(b, 14..16)?, digits(b, 17..19)?);
    let mut rest = b.get(19..)?;
    let mut ms = 0;
    if rest.first() == Some(&b'.') {
        ms = digits(rest, 1..4)?;
        rest = &rest[4..];
    }
    let offset_seconds: i64 = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), ..] if rest.len() == 5 => {
            let (hh, mm) = (digits(rest, 1..3)?, digits(rest, 3..5)?);
            if hh >= 24 || mm >= 60 {
                return None;
            }
            let seconds = i64::from(hh * 3600 + mm * 60);
            if *sign == b'+' {
                seconds
            } else {
                -seconds
            }
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_milli_opt(h, m, sec, ms)?;
    let local = date.and_time(time).and_utc().timestamp_millis();
    // Years 0000-9999 and an offset under a day: no overflow is possible.
    Some(local - offset_seconds * 1000)
}

/// Cedar's `duration("…")`: an optional `-`, then at least one of `Nd`,
/// `Nh`, `Nm`, `Ns`, `Nms` in that order; milliseconds, accumulated from
/// the smallest unit up with overflow checks, as Cedar does.
pub fn parse_duration(s: &str) -> Option<i64> {
    let negative = s.starts_with('-');
    let mut rest = s.strip_prefix('-').unwrap_or(s).as_bytes();
    if rest.is_empty() {
        return None;
    }
    // Quantities by unit: d, h, m, s, ms.
    let mut quantities: [Option<&str>; 5] = [None; 5];
    let mut next_unit = 0;
    while !rest.is_empty() {
        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let (number, after) = rest.split_at(n);
        let (unit, len) = match after {
            [b'm', b's', ..] => (4, 2),
            [b'd', ..] => (0, 1),
            [b'h', ..] => (1, 1),
            [b'm', ..] => (2, 1),
            [b's', ..] => (3, 1),
            _ => return None,
        };
        if unit < next_unit {
            return None;
        }
        quantities[unit] = Some(std::str::from_utf8(number).ok()?);
        next_unit = unit + 1;
        rest = &after[len..];
    }
    let quantity = |q: Option<&str>| -> Option<u64> { q.map_or(Some(0), |t| t.parse().ok()) };
    let [d, h, m, sec, ms] = quantities.map(quantity);
    let (d, h, m, sec, ms) = (d?, h?, m?, sec?, ms?);
    let step = |acc: i64, q: u64, unit: i64| -> Option<i64> {
        let part = i64::try_from(q).ok()?.checked_mul(unit)?;
        if negative {
            acc.checked_sub(part)
        } else {
            acc.checked_add(part)
        }
    };
    let mut total = if negative {
        i64::try_from(-i128::from(ms)).ok()?
    } else {
        i64::try_from(ms).ok()?
    };
    total = step(total, sec, 1000)?;
    total = step(total, m, 60_000)?;
    total = step(total, h, 3_600_000)?;
    step(total, d, DAY_MS)
}

/// Cedar's `decimal("…")`: `-?digits.digits`, at most four digits after the
/// point; the value times 10,000, an error when it does not fit an `i64`.
pub fn parse_decimal(s: &str) -> Option<i64> {
    let (left, right) = s.split_once('.')?;
    let unsigned = left.strip_prefix('-').unwrap_or(left);
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    if !all_digits(unsigned) || !all_digits(right) || right.len() > 4 {
        return None;
    }
    let l: i64 = left.parse().ok()?;
    let l = l.checked_mul(10_000)?;
    let r: i64 = right.parse().ok()?;
    let r = r.checked_mul(10i64.pow(4 - right.len() as u32))?;
    if left.starts_with('-') {
        l.checked_sub(r)
    } else {
        l.checked_add(r)
    }
}

/// Cedar's `ipaddr`: an address and a prefix length (32 or 128 for a single address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Cedar's `ip("…")`: an IPv4 or IPv6 address, optionally `/prefix`
    /// (no leading zeros, at most 32 or 128); at most 43 bytes; IPv4
    /// embedded in IPv6 with dots is refused.
    pub fn parse(s: &str) -> Option<IpNet> {
        if s.len() > 43 {
            return None;
        }
        if s.matches(':').nth(1).is_some() && s.matches('.').nth(1).is_some() {
            return None;
        }
        match s.split_once('/') {
            Some((addr, prefix)) => {
                let addr: IpAddr = addr.parse().ok()?;
                let (max, max_len) = if addr.is_ipv4() { (32, 2) } else { (128, 3) };
                if prefix.len() > max_len || !prefix.chars().all(|c| c.is_ascii_digit()) || (prefix.starts_with('0') && prefix != "0") {
                    return None;
                }
                let prefix: u8 = prefix.parse().ok()?;
                (prefix <= max).then_some(IpNet { addr, prefix })
            }
            None => {
                let addr: IpAddr = s.parse().ok()?;
                Some(IpNet {
                    addr,
                    prefix: if addr.is_ipv4() { 32 } else { 128 },
                })
            }
        }
    }

    fn is_loopback(&self) -> bool {
        self.addr.is_loopback() && self.prefix >= if self.addr.is_ipv4() { 8 } else { 128 }
    }

    fn is_multicast(&self) -> bool {
        self.addr.is_multicast() && self.prefix >= if self.addr.is_ipv4() { 4 } else { 8 }
    }

    fn is_in_range(&self, other: &IpNet) -> bool {
        match (self.addr, other.addr) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let net = |p: u8| u32::MAX.checked_shl(u32::from(32 - p)).unwrap_or(0);
                let host = |p: u8| u32::MAX.checked_shr(u32::from(p)).unwrap_or(0);
                let (a, b) = (u32::from(a), u32::from(b));
                b & net(other.prefix) <= a & net(self.prefix) && a | host(self.prefix) <= b | host(other.prefix)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let net = |p: u8| u128::MAX.checked_shl(u32::from(128 - p)).unwrap_or(0);
                let host = |p: u8| u128::MAX.checked_shr(u32::from(p)).unwrap_or(0);
                let (a, b) = (u128::from(a), u128::from(b));
                b & net(other.prefix) <= a & net(self.prefix) && a | host(self.prefix) <= b | host(other.prefix)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::{eval_expression, Context, Entities, EntityUid, EvalResult, Expression, Request};
    use std::str::FromStr;

    /// What Cedar's own evaluator makes of an expression: a long, a boolean, or `None` (an error).
    fn cedar(expr: &str) -> Option<EvalResult> {
        let uid = |t: &str| EntityUid::from_str(&format!("{t}::\"x\"")).unwrap();
        let request = Request::new(uid("P"), uid("Action"), uid("R"), Context::empty(), None).unwrap();
        let expr = Expression::from_str(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        eval_expression(&request, &Entities::empty(), &expr).ok()
    }

    /// Texts near the forms Cedar reads: a valid one with a few characters
    /// replaced, inserted or removed (from an alphabet of the characters
    /// that matter), so most are near misses and many are valid.
    fn near_misses(seeds: &[&str], alphabet: &[u8], n: usize) -> Vec<String> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut out: Vec<String> = seeds.iter().map(|s| s.to_string()).collect();
        while out.len() < n {
            let mut text = seeds[next() as usize % seeds.len()].as_bytes().to_vec();
            for _ in 0..next() % 3 {
                let at = next() as usize % (text.len() + 1);
                let c = alphabet[next() as usize % alphabet.len()];
                match next() % 3 {
                    0 if at < text.len() => text[at] = c,
                    1 if at < text.len() => {
                        text.remove(at);
                    }
                    _ => text.insert(at, c),
                }
            }
            out.push(String::from_utf8_lossy(&text).into_owned());
        }
        out
    }

    /// Both valid and invalid texts are plentiful among `texts`, so agreement is not agreement on one side only.
    fn assert_mixed(what: &str, texts: &[String], valid: impl Fn(&str) -> bool) {
        let accepted = texts.iter().filter(|t| valid(t)).count();
        assert!(
            accepted * 5 > texts.len() && (texts.len() - accepted) * 5 > texts.len(),
            "{what}: {accepted} of {} valid",
            texts.len()
        );
    }

    /// Every text: entitle's parser accepts it exactly when Cedar's does, with the same value.
    #[test]
    fn parsers_agree_with_cedar_on_near_misses() {
        let datetimes = near_misses(
            &[
                "2026-11-21",
                "2024-02-29T23:59:59Z",
                "0000-01-01T00:00:00.000+2359",
                "9999-12-31T23:59:59.999-2359",
                "1969-12-31T23:59:59.999Z",
                "2026-06-30T12:30:45.123-0130",
            ],
            b"0123456789-+:.TZ",
            3000,
        );
        assert_mixed("datetime", &datetimes, |t| parse_datetime(t).is_some());
        for text in &datetimes {
            let ours = parse_datetime(text).map(EvalResult::Long);
            let theirs = cedar(&format!(
                "datetime({text:?}).durationSince(datetime(\"1970-01-01\")).toMilliseconds()"
            ));
            assert_eq!(ours, theirs, "datetime({text:?})");
        }
        let durations = near_misses(
            &[
                "1d2h3m4s5ms",
                "-1ms",
                "9223372036854775807ms",
                "-106751991167d7h12m55s808ms",
                "30d",
                "1m1ms",
                "0s",
            ],
            b"0123456789-dhms",
            3000,
        );
        assert_mixed("duration", &durations, |t| parse_duration(t).is_some());
        for text in &durations {
            let ours = parse_duration(text).map(EvalResult::Long);
            let theirs = cedar(&format!("duration({text:?}).toMilliseconds()"));
            assert_eq!(ours, theirs, "duration({text:?})");
        }
        let decimals = near_misses(
            &["1.5", "-0.0001", "922337203685477.5807", "-922337203685477.5808", "12.3400"],
            b"0123456789-.",
            2000,
        );
        assert_mixed("decimal", &decimals, |t| parse_decimal(t).is_some());
        for text in &decimals {
            let ours = parse_decimal(text).map(|v| {
                let (sign, abs) = (if v < 0 { "-" } else { "" }, i128::from(v).abs());
                format!("{sign}{}.{:04}", abs / 10_000, abs % 10_000)
            });
            let theirs = cedar(&format!("decimal({text:?})")).map(|_| ());
            assert_eq!(ours.is_some(), theirs.is_some(), "decimal({text:?})");
            if let Some(canonical) = ours {
                let same = cedar(&format!("decimal({text:?}) == decimal({canonical:?})"));
                assert_eq!(same, Some(EvalResult::Bool(true)), "decimal({text:?}) is {canonical}");
            }
        }
        let addresses = near_misses(
            &[
                "10.0.0.1",
                "192.168.0.0/16",
                "::1",
                "ffee::/64",
                "0.0.0.0/0",
                "2001:db8::ff00:42:8329/128",
            ],
            b"0123456789abcdef:./",
            2000,
        );
        assert_mixed("ip", &addresses, |t| IpNet::parse(t).is_some());
        for text in &addresses {
            let ours = IpNet::parse(text);
            let theirs = cedar(&format!("ip({text:?})")).map(|_| ());
            assert_eq!(ours.is_some(), theirs.is_some(), "ip({text:?})");
            if let Some(net) = ours {
                let canonical = format!("{}/{}", net.addr, net.prefix);
                let same = cedar(&format!("ip({text:?}) == ip({canonical:?})"));
                assert_eq!(same, Some(EvalResult::Bool(true)), "ip({text:?}) is {canonical}");
                for (method, ours) in [
                    ("isLoopback()", net.is_loopback()),
                    ("isMulticast()", net.is_multicast()),
                    (
                        "isInRange(ip(\"10.0.0.0/8\"))",
                        net.is_in_range(&IpNet::parse("10.0.0.0/8").unwrap()),
                    ),
                    ("isInRange(ip(\"ff00::/8\"))", net.is_in_range(&IpNet::parse("ff00::/8").unwrap())),
                ] {
                    assert_eq!(
                        cedar(&format!("ip({text:?}).{method}")),
                        Some(EvalResult::Bool(ours)),
                        "ip({text:?}).{method}"
                    );
                }
            }
        }
    }

    #[test]
    fn datetimes_as_cedar_reads_them() {
        let day = |d: i64| d * DAY_MS;
        assert_eq!(parse_datetime("1970-01-02"), Some(day(1)));
        assert_eq!(parse_datetime("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_datetime("1970-01-01T00:00:01.250Z"), Some(1250));
        assert_eq!(parse_datetime("1970-01-01T01:00:00+0100"), Some(0));
        assert_eq!(parse_datetime("1970-01-01T00:00:00.001-0001"), Some(60_001));
        assert_eq!(parse_datetime("0000-01-01T00:00:00+2359"), Some(-62_167_219_200_000 - 86_340_000));
        for bad in [
            "",
            "1970-1-01",
            "1970-01-01T",
            "1970-01-01Z",
            "1970-01-01T00:00:00",
            "1970-01-01T00:00:00.1Z",
            "1970-01-01T00:00:00.0001Z",
            "1970-01-01T24:00:00Z",
            "1970-01-01T23:60:00Z",
            "1970-01-01T23:59:60Z",
            "1970-01-01T00:00:00+2400",
            "1970-01-01T00:00:00+0060",
            "1970-01-01T00:00:00+01:00",
            "1970-02-30",
            "+1970-01-01",
            "1970-01-01T00:00:00ZZ",
            "１970-01-01",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_as_cedar_reads_them() {
        assert_eq!(parse_duration("1d2h3m4s5ms"), Some(93_784_005));
        assert_eq!(parse_duration("-1ms"), Some(-1));
        assert_eq!(parse_duration("1m1ms"), Some(60_001));
        assert_eq!(parse_duration("0d"), Some(0));
        assert_eq!(parse_duration("-9223372036854775808ms"), Some(i64::MIN));
        assert_eq!(parse_duration("9223372036854775807ms"), Some(i64::MAX));
        for bad in [
            "",
            "-",
            "1",
            "d",
            "1h1d",
            "1ms1s",
            "1d1d",
            "1 d",
            "1.5h",
            "+1d",
            "--1d",
            "9223372036854775808ms",
            "-9223372036854775809ms",
            "106751991167301d",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn decimals_and_addresses_as_cedar_reads_them() {
        assert_eq!(parse_decimal("1.5"), Some(15_000));
        assert_eq!(parse_decimal("-0.0001"), Some(-1));
        assert_eq!(parse_decimal("-922337203685477.5808"), Some(i64::MIN));
        for bad in ["1", ".5", "1.", "1.23456", "+1.0", "922337203685477.5808", "1.-5"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
        let net = |s: &str| IpNet::parse(s).unwrap();
        assert!(net("10.1.2.3").is_in_range(&net("10.0.0.0/8")));
        assert!(!net("10.0.0.0/7").is_in_range(&net("10.0.0.0/8")));
        assert!(net("::1").is_loopback() && !net("::1/127").is_loopback());
        assert!(net("224.0.0.1/4").is_multicast());
        for bad in ["10.0.0.1/33", "10.0.0.1/08", "::ffff:127.0.0.1", "010.0.0.1", "1.2.3.4/"] {
            assert_eq!(IpNet::parse(bad), None, "{bad}");
        }
    }
}
