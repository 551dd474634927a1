//! # breakglass-core
//!
//! What the Lambdas and the CLI do, without the AWS SDK: read incoming events leniently
//! ([`event`]), enforce ([`enforce::Enforcer`]: level-triggered, never opens) and render
//! notifications ([`notify`]), write the audit trail ([`audit`]) and read it back ([`history`]), open and
//! close on request ([`operate`]). AWS is reached only through the small traits in [`ports`], which
//! `breakglass-aws` implements with the SDK and tests implement against moto.

pub mod approval;
pub mod audit;
pub mod catalog;
pub mod config_push;
pub mod discovery;
pub mod enforce;
pub mod event;
pub mod events;
pub mod guarded;
pub mod history;
pub mod notify;
pub mod operate;
pub mod organisation;
pub mod ports;
pub mod reads;
pub mod recorder;
pub mod report;
pub mod route;
pub mod runtime;
pub mod sentinel;
pub mod sweep;
pub mod tamper;
pub mod watch;

/// An RFC 3339 time (CloudTrail's `eventTime`, our own records' `time`), or `None`.
pub fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// `…/role/investigations/LogInvestigator` → `LogInvestigator`.
pub fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// RFC 3339 in UTC with milliseconds when there are any (`2026-11-24T05:20:01.123Z`): requests made
/// within one second must still be told apart in the audit trail.
pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let whole = canonical_policies::format_expiry(t);
    match t.millisecond() {
        0 => whole,
        ms => format!("{}.{ms:03}Z", whole.trim_end_matches('Z')),
    }
}
