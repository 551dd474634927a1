//! Resources and conditions: operators, their types, multivalued keys, IP ranges and dates.

use std::net::IpAddr;

use time::OffsetDateTime;

use super::pattern::{arn_tokens_match, glob_tokens, literal, resolve, Resolved, Tok};
use super::{Context, Tri};
use crate::policy::split_operator;
use crate::set::SortedSet;

pub(super) fn resource_matches(pattern: &str, resource: &str, ctx: &Context, vars: bool) -> Tri {
    if pattern == "*" {
        return Tri::Match;
    }
    match resolve(pattern, ctx, vars) {
        Resolved::Tokens(p) => Tri::from_bool(arn_tokens_match(&p, resource).unwrap_or(false)),
        // "If AWS cannot resolve a variable this might cause the entire statement to be invalid."
        Resolved::NoValue => Tri::NoMatch,
        Resolved::Unknown => Tri::Unknown,
    }
}

/// Negated operators match when the key is absent, and otherwise only when *no* policy value matches.
pub(super) const NEGATED: [&str; 8] = [
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "ArnNotEquals",
    "ArnNotLike",
    "NotIpAddress",
];

/// Global keys that are multivalued in every request that has them ("ArrayOf…" in the Service
/// Authorization Reference); any key given more than once is multivalued as well.
pub(super) const MULTIVALUED: [&str; 6] = [
    "aws:tagkeys",
    "aws:calledvia",
    "aws:principalservicenameslist",
    "aws:principalorgpaths",
    "aws:resourceorgpaths",
    "aws:sourceorgpaths",
];

pub(super) fn is_multivalued(key: &str, values: &[String]) -> bool {
    values.len() > 1 || MULTIVALUED.contains(&key)
}

pub(super) fn condition(op: &str, key: &str, values: &SortedSet<String>, ctx: &Context, vars: bool) -> Tri {
    let Some((set, base, if_exists)) = split_operator(op) else {
        return Tri::Unknown;
    };
    let present: &[String] = match ctx.get(key) {
        None => &[],
        // AWS reads an empty value as a "null dataset" in places; we do not model that, so say so.
        Some(Some(v)) if v.iter().any(String::is_empty) => return Tri::Unknown,
        Some(Some(v)) => v,
        Some(None) => return Tri::Unknown,
    };
    if base == "Null" {
        // {"Null": {"k": "true"}} matches when k is absent; any other value never matches.
        return Tri::any(values.iter().map(|v| match v.to_ascii_lowercase().as_str() {
            "true" => Tri::from_bool(present.is_empty()),
            "false" => Tri::from_bool(!present.is_empty()),
            _ => Tri::NoMatch,
        }));
    }
    let negated = NEGATED.contains(&base);
    if present.is_empty() {
        return match (if_exists, set) {
            (true, _) => Tri::Match,
            (false, Some("ForAllValues")) => Tri::Match,
            (false, Some(_)) => Tri::NoMatch,
            // "If the key is not present, a negated operator matches" (IAM condition operator docs).
            (false, None) => Tri::from_bool(negated),
        };
    }
    let one = |cv: &str| {
        let outcomes = values.iter().map(|pv| compare(base, pv, cv, ctx, vars));
        if negated {
            // Every policy value must be valid and differ.
            Tri::all(outcomes.map(|o| match o {
                Cmp::No => Tri::Match,
                Cmp::Yes | Cmp::Invalid => Tri::NoMatch,
                Cmp::Unknown => Tri::Unknown,
            }))
        } else {
            Tri::any(outcomes.map(|o| match o {
                Cmp::Yes => Tri::Match,
                Cmp::No | Cmp::Invalid => Tri::NoMatch,
                Cmp::Unknown => Tri::Unknown,
            }))
        }
    };
    match (set, present) {
        (Some("ForAllValues"), _) => Tri::all(present.iter().map(|cv| one(cv))),
        (Some(_), _) => Tri::any(present.iter().map(|cv| one(cv))),
        // "Multivalued context keys require a condition set operator": without one, no match.
        (None, _) if is_multivalued(key, present) => Tri::NoMatch,
        (None, [single]) => one(single),
        (None, _) => Tri::NoMatch,
    }
}

/// One policy value against one context value, for the positive form of the operator
/// (StringNotEquals compares as StringEquals; the caller negates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Yes,
    No,
    /// The policy or the context value is not of the operator's type: neither the operator nor its
    /// negation matches.
    Invalid,
    Unknown,
}

impl Cmp {
    fn from_bool(b: bool) -> Cmp {
        if b {
            Cmp::Yes
        } else {
            Cmp::No
        }
    }
}

pub(super) fn compare(base: &str, policy_value: &str, context_value: &str, ctx: &Context, vars: bool) -> Cmp {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let ordered = |parse: fn(&str) -> Option<f64>, ok: &[std::cmp::Ordering]| match (
        parse(context_value),
        parse(policy_value),
    ) {
        (Some(c), Some(p)) => c.partial_cmp(&p).map_or(Cmp::Invalid, |o| Cmp::from_bool(ok.contains(&o))),
        _ => Cmp::Invalid,
    };
    // Policy variables work with the string and ARN operators only (user guide, "Condition element").
    // A variable without a value is null, which equals and is like nothing: the positive operators
    // do not match, the negated ones do ("Policy variables with no value", IAM user guide).
    let string = |f: &dyn Fn(&[Tok]) -> bool| match resolve(policy_value, ctx, vars) {
        Resolved::Tokens(p) => Cmp::from_bool(f(&p)),
        Resolved::NoValue => Cmp::No,
        Resolved::Unknown => Cmp::Unknown,
    };
    match base {
        "StringEquals" | "StringNotEquals" => string(&|p| literal(p) == context_value),
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => {
            string(&|p| literal(p).to_lowercase() == context_value.to_lowercase())
        }
        "StringLike" | "StringNotLike" => {
            let text: Vec<char> = context_value.chars().collect();
            string(&|p| glob_tokens(p, &text))
        }
        "ArnEquals" | "ArnLike" | "ArnNotEquals" | "ArnNotLike" => match resolve(policy_value, ctx, vars) {
            Resolved::Tokens(p) => arn_tokens_match(&p, context_value).map_or(Cmp::Invalid, Cmp::from_bool),
            Resolved::NoValue => Cmp::No,
            Resolved::Unknown => Cmp::Unknown,
        },
        "Bool" => {
            match (policy_value.to_ascii_lowercase().as_str(), context_value.to_ascii_lowercase().as_str()) {
                (p @ ("true" | "false"), c @ ("true" | "false")) => Cmp::from_bool(p == c),
                _ => Cmp::Invalid,
            }
        }
        // Both sides are base-64 text; AWS compares them as given.
        "BinaryEquals" => Cmp::from_bool(policy_value == context_value),
        "IpAddress" | "NotIpAddress" => ip_in(policy_value, context_value),
        "NumericEquals" | "NumericNotEquals" => ordered(parse_number, &[Equal]),
        "NumericLessThan" => ordered(parse_number, &[Less]),
        "NumericLessThanEquals" => ordered(parse_number, &[Less, Equal]),
        "NumericGreaterThan" => ordered(parse_number, &[Greater]),
        "NumericGreaterThanEquals" => ordered(parse_number, &[Greater, Equal]),
        "DateEquals" | "DateNotEquals" => ordered(parse_date, &[Equal]),
        "DateLessThan" => ordered(parse_date, &[Less]),
        "DateLessThanEquals" => ordered(parse_date, &[Less, Equal]),
        "DateGreaterThan" => ordered(parse_date, &[Greater]),
        "DateGreaterThanEquals" => ordered(parse_date, &[Greater, Equal]),
        _ => Cmp::Unknown,
    }
}

/// Whether the IP address `context_value` lies in the CIDR block (or is the address) `policy_value`.
/// An address of the other family is simply not in the block: `NotIpAddress` matches it.
pub(super) fn ip_in(policy_value: &str, context_value: &str) -> Cmp {
    let (Some((net, bits)), Ok(ip)) = (parse_cidr(policy_value), context_value.trim().parse::<IpAddr>())
    else {
        return Cmp::Invalid;
    };
    let inside = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    };
    Cmp::from_bool(inside)
}

/// `203.0.113.0/24`, `203.0.113.7` (a /32), `2001:db8::/32`; the prefix length within the family.
pub(super) fn parse_cidr(s: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match s.trim().split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s.trim(), None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => b.parse::<u32>().ok()?,
        Some(_) => return None,
        None => max,
    };
    (bits <= max).then_some((addr, bits))
}

pub(super) fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let plain = !s.is_empty()
        && s.trim_start_matches(['-', '+']).bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|b| *b == b'.').count() <= 1;
    if !plain {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// The W3C date-time profile of ISO 8601 AWS accepts (year and month; a date; a date and a time with
/// or without seconds and fractions, with `Z` or an offset) and epoch seconds (any run of digits),
/// as seconds.
pub(super) fn parse_date(s: &str) -> Option<f64> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    use time::macros::format_description;
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().map(|n| n as f64);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos() as f64 / 1e9);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp_nanos() as f64 / 1e9);
    }
    let midnight = |d: time::Date| Some(d.midnight().assume_utc().unix_timestamp() as f64);
    if let Ok(d) = time::Date::parse(s, &Iso8601::DATE) {
        return midnight(d);
    }
    // hh:mm without seconds, `Z` or an offset.
    for f in [
        format_description!("[year]-[month]-[day]T[hour]:[minute]Z"),
        format_description!(
            "[year]-[month]-[day]T[hour]:[minute][offset_hour sign:mandatory]:[offset_minute]"
        ),
    ] {
        if let Ok(t) = time::PrimitiveDateTime::parse(s, f) {
            return Some(t.assume_utc().unix_timestamp() as f64);
        }
        if let Ok(t) = OffsetDateTime::parse(s, f) {
            return Some(t.unix_timestamp() as f64);
        }
    }
    let year_month = |y: &str, m: &str| -> Option<f64> {
        let year: i32 = y.parse().ok()?;
        let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
        midnight(time::Date::from_calendar_date(year, month, 1).ok()?)
    };
    match s.split_once('-') {
        Some((y, m))
            if y.len() == 4 && m.len() == 2 && y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) =>
        {
            year_month(y, m)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-02"), Some(86400.0));
        assert_eq!(parse_date("1970-01-01T00:01:00Z"), Some(60.0));
        assert_eq!(parse_date("60"), Some(60.0));
        assert_eq!(parse_date("soon"), None);
    }
}
