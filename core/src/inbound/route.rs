//! Which account an event may act in. In organisation mode one enforcer serves many accounts, so an
//! event that names a bucket is only acted on when it came from the account that owns that bucket in
//! the config: a forged or mis-routed event never causes a read or write in another account. It is
//! reported instead (`breakglass misrouted`), because it means someone forged it or a rule is wrong.

use breakglass_config::Config;
use time::OffsetDateTime;

use crate::events::Misrouted;
use crate::guarded::Target;
use crate::inbound::event::{ApiCall, Incoming};

/// Whether `call` may act on its bucket; `Some` (the report) when it may not. Calls on buckets that
/// are not protected, and calls that are not about a bucket, are left to the handlers.
pub fn check(config: &Config, call: &ApiCall, now: OffsetDateTime) -> Option<Misrouted> {
    if call.guarded()?.target() != Target::Bucket {
        return None;
    }
    let bucket = config.bucket(call.bucket.as_deref()?)?;
    let foreign = call.accounts.iter().any(|a| *a != bucket.account);
    // Single-account mode: events arrive only from the deployment's own account, and older shapes
    // (a CloudTrail log file's record without `recipientAccountId`) are still acted on. Organisation
    // mode: an event that does not say where it came from cannot be routed, so it is not.
    let unknown = call.accounts.is_empty() && config.organisation.is_some();
    (foreign || unknown).then(|| Misrouted {
        schema: "breakglass.misrouted/1".into(),
        bucket: bucket.name.clone(),
        bucket_account: bucket.account.clone(),
        event_accounts: call.accounts.clone(),
        event_id: call.event.id.clone(),
        event_name: call.event.name.clone(),
        actor: call.actor.arn.clone(),
        time: crate::time::format_time(now),
    })
}

/// The buckets a call that names no bucket may have touched: all of them in single-account mode; in
/// organisation mode only those of the account(s) the call came from (none, if it says none).
pub fn buckets_of<'a>(config: &'a Config, call: &ApiCall) -> Vec<&'a breakglass_config::BucketConfig> {
    config
        .buckets
        .iter()
        .filter(|b| config.organisation.is_none() || call.accounts.contains(&b.account))
        .collect()
}

/// `incoming` without the calls that may not act, and the reports about those.
pub fn screen(config: &Config, incoming: Incoming, now: OffsetDateTime) -> (Incoming, Vec<Misrouted>) {
    let Incoming::ApiCalls(calls) = incoming else { return (incoming, Vec::new()) };
    let mut kept = Vec::with_capacity(calls.len());
    let mut refused = Vec::new();
    for call in calls {
        match check(config, &call, now) {
            Some(m) => {
                tracing::error!(
                    bucket = m.bucket.as_str(),
                    bucket_account = m.bucket_account.as_str(),
                    event_accounts = m.event_accounts.join(",").as_str(),
                    event = m.event_name.as_str(),
                    "event names a bucket of another account; nothing read or written"
                );
                refused.push(m);
            }
            None => kept.push(call),
        }
    }
    (Incoming::ApiCalls(kept), refused)
}
