//! Times as the audit trail and CloudTrail write them, and role names out of ARNs: the small
//! vocabulary every room formats and parses the same way.

/// An RFC 3339 time (CloudTrail's `eventTime`, our own records' `time`) in UTC, or `None`, also for
/// one whose UTC year leaves the four digits (`9999-12-31T23:59:59-00:01`): every later step may
/// then convert, format and compare without a panic.
pub fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    t.checked_to_offset(time::UtcOffset::UTC)
}

/// `…/role/investigations/LogInvestigator` → `LogInvestigator`.
pub fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// RFC 3339 in UTC with milliseconds when there are any (`2026-11-24T05:20:01.123Z`): requests made
/// within one second must still be told apart in the audit trail.
pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    let whole = canonical_policies::format_expiry(t);
    match t.millisecond() {
        0 => whole,
        ms => format!("{}.{ms:03}Z", whole.trim_end_matches('Z')),
    }
}
