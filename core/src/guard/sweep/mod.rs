//! The sweep at scale: one scheduled invocation *plans* (one message per account and Region, the
//! shards, on the sweep queue), the queue's event source mapping hands the shards back to the
//! enforcer a few at a time, and a delayed *close* message gathers what the shards remediated into
//! one set of mails. No invocation walks every bucket, so the sweep's length no longer grows with
//! the estate, and a shard that fails is retried by SQS on its own.
//!
//! What survives between invocations lives in the audit trail, under `_sweeps/<sweep>/`: one
//! signed record per shard try that remediated something (clean shards write nothing), and the
//! close marker. The records are the proof of what each shard did; the closer reads them back to
//! decide between one mail per remediation and one digest for the whole sweep.
//!
//! Failure, in order: a bucket that cannot be checked fails its shard, after the others of the
//! shard were checked; SQS hands the shard out again; on its last try ([`ATTEMPTS`]) the shard
//! puts a `breakglass sweep incomplete` alert naming every unchecked bucket on the bus before it
//! fails into the dead-letter queue (alarmed). A shard that finishes after the close publishes its
//! own remediations; a shard record that cannot be written is published at once, unbatched: mail
//! may be many, never none.
//!
//! The queue also carries *rechecks* ([`SweepMessage::Recheck`]): a call whose write S3 had not
//! shown within the enforcer's waits, judged again later on one read.

use std::collections::BTreeMap;

use breakglass_config::BucketConfig;
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::events::{OwnEvent, Place, Remediation, SweepIncomplete, Unchecked};
use crate::guard::enforce::{EnforceError, Enforcer, Outcome};
use crate::guard::per_account::PER_ACCOUNT;
use crate::guard::sentinel::Sentinel;
use crate::ports::{
    AuditLog, AuditReader, BucketRecords, BucketSettings, ControlPlane, EventBus, PolicyStore, PortError,
};
use crate::trail::audit::Trail;

mod message;
mod plan;
pub use message::{Close, Shard, SweepMessage, MESSAGE_BUCKETS, SHARD_BUCKETS};
pub use plan::{plan, send_adopted, send_plan, settings_due, sweep_id};

/// How many times SQS hands out a shard before it goes to the dead-letter queue: template.yaml's
/// `maxReceiveCount` of the sweep queue (proofs/tests/proofs/template.rs ties the two).
pub const ATTEMPTS: u32 = 3;
/// The close message waits this long (seconds) after the shards: three tries of a shard, each
/// visible again after the queue's 60-second visibility timeout, fit well inside it.
pub const CLOSE_DELAY_SECONDS: u32 = 300;
/// A call whose write S3 had not shown within the enforcer's waits is judged again this long
/// (seconds) after: far past [`crate::guard::enforce::SETTLING`], and well inside SQS's 15 minutes.
pub const RECHECK_DELAY_SECONDS: u32 = 120;
// A recheck comes after the settling (so it would not wait even unmarked), within SQS's limit.
const _: () = assert!(
    RECHECK_DELAY_SECONDS as i64 > crate::guard::enforce::SETTLING.whole_seconds()
        && RECHECK_DELAY_SECONDS <= 900
);
/// Where the shard records live, under the audit trail's prefix.
pub const SWEEPS: &str = "_sweeps";
const SHARD_SCHEMA: &str = "breakglass.sweep-shard/1";

/// What a shard try that remediated something leaves in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub schema: String,
    pub sweep: String,
    pub index: usize,
    pub attempt: u32,
    #[serde(flatten)]
    pub place: Place,
    pub remediations: Vec<Remediation>,
    pub time: String,
}

fn shard_dir<L>(trail: &Trail<L>, sweep: &str) -> String {
    format!("{}{SWEEPS}/{sweep}/", trail.config.prefix)
}

fn closed_key<L>(trail: &Trail<L>, sweep: &str) -> String {
    format!("{}closed.json", shard_dir(trail, sweep))
}

/// What one shard try found.
#[derive(Debug, Default)]
pub struct ShardDone {
    pub checked: usize,
    pub remediated: usize,
    pub repairs: usize,
    /// The unlawful policies found, by [`crate::guard::enforce::Cause`] word, and those closed.
    pub drift: BTreeMap<&'static str, usize>,
    pub closed: usize,
    /// Buckets not checked, with why; non-empty fails the try.
    pub unchecked: Vec<Unchecked>,
}

/// What the sweep queue's messages are handled with: the enforcer, the sentinel (for the hourly
/// settings) and the trail the shard records go to.
#[derive(Debug)]
pub struct Sweeper<'a, 's, S, B, T, C, L> {
    pub enforcer: &'a Enforcer<S, B, T>,
    pub sentinel: &'a Sentinel<'s, S, B, C>,
    pub trail: &'a Trail<L>,
}

impl<S, B, T, C, L> Sweeper<'_, '_, S, B, T, C, L>
where
    S: PolicyStore + BucketSettings,
    B: EventBus,
    T: BucketRecords,
    C: ControlPlane,
    L: AuditLog + AuditReader,
{
    /// Runs one try (`attempt`, from 1) of a shard: every bucket's policy (and settings when the shard
    /// says so), then its remediations recorded or published, then, when something was not checked on
    /// the last try, the alert.
    pub async fn run_shard(
        &self,
        shard: &Shard,
        attempt: u32,
        now: OffsetDateTime,
    ) -> Result<ShardDone, PortError> {
        let (enforcer, sentinel, trail) = (self.enforcer, self.sentinel, self.trail);
        let mut done = ShardDone::default();
        // A bucket the config no longer has (changed since the plan) is not this sweep's; one in another
        // account than the shard's would be a forged message: neither is touched.
        let buckets: Vec<&BucketConfig> = shard
            .buckets
            .iter()
            .filter_map(|name| match enforcer.config.bucket(name) {
                Some(b) if b.account == shard.place.account => Some(b),
                Some(_) => {
                    tracing::error!(
                        bucket = name.as_str(),
                        account = shard.place.account.as_str(),
                        "shard names a bucket of another account; skipped"
                    );
                    None
                }
                None => {
                    tracing::info!(bucket = name.as_str(), "no longer in the config; skipped");
                    None
                }
            })
            .collect();
        let pending: Vec<_> = buckets
            .iter()
            .map(|b| async move {
                let (policy, event) = enforcer.reconcile_quietly(b, None, now).await;
                let settings = match shard.settings {
                    true => Some(sentinel.sweep_bucket(b, now).await),
                    false => None,
                };
                (b.name.clone(), policy, event, settings)
            })
            .collect();
        // A shard is one account and Region: the bound of one account.
        let results = stream::iter(pending).buffered(PER_ACCOUNT).collect::<Vec<_>>().await;
        let mut remediations = Vec::new();
        for (bucket, policy, event, settings) in results {
            remediations.extend(event);
            if let Ok(report) = &policy {
                if let Some(cause) = report.cause {
                    *done.drift.entry(cause.word()).or_default() += 1;
                }
                done.closed += usize::from(report.outcome == Outcome::Closed);
            }
            let mut errors: Vec<EnforceError> = Vec::new();
            if let Err(e) = policy {
                errors.push(e);
            }
            match settings {
                Some(Ok(repairs)) => done.repairs += repairs.len(),
                Some(Err(e)) => errors.push(e),
                None => {}
            }
            match errors.first() {
                None => done.checked += 1,
                Some(e) => {
                    tracing::error!(bucket = bucket.as_str(), error = %e, "bucket not checked; the others were");
                    done.unchecked.push(Unchecked { bucket, error: e.to_string() });
                }
            }
        }
        done.remediated = remediations.len();
        if !remediations.is_empty() {
            settle(enforcer, trail, shard, attempt, remediations, now).await?;
        }
        if !done.unchecked.is_empty() && attempt >= ATTEMPTS {
            let alert = SweepIncomplete {
                schema: "breakglass.sweep-incomplete/1".into(),
                sweep: shard.sweep.clone(),
                place: shard.place.clone(),
                attempts: attempt,
                unchecked: done.unchecked.clone(),
                time: crate::time::format_time(now),
            };
            enforcer.bus.put(&OwnEvent::SweepIncomplete(alert).to_bus()).await?;
        }
        Ok(done)
    }

    /// A call judged again ([`SweepMessage::Recheck`]): its own event (the EventBridge envelope of a
    /// CloudTrail call, as the enforcer got it and sent it; nothing else), on one read, through the
    /// same screen as at first (a call acts only on buckets of its own account). Answers as a shard
    /// does, for the metrics: how many buckets were judged, closed, and why.
    async fn recheck(&self, event: &Value, now: OffsetDateTime) -> Result<Value, EnforceError> {
        use crate::inbound::event::{parse, Incoming, CLOUDTRAIL_CALL};
        let from_cloudtrail = event.get("detail-type").and_then(Value::as_str) == Some(CLOUDTRAIL_CALL);
        let (true, Ok(Incoming::ApiCalls(mut calls))) = (from_cloudtrail, parse(event)) else {
            tracing::error!("a recheck that carries no CloudTrail call; dropped");
            return Ok(json!({ "rechecked": 0 }));
        };
        for call in &mut calls {
            call.recheck = true;
        }
        let (incoming, misrouted) =
            crate::inbound::route::screen(&self.enforcer.config, Incoming::ApiCalls(calls), now);
        for m in &misrouted {
            tracing::error!(
                bucket = m.bucket.as_str(),
                "a recheck names a bucket of another account; skipped"
            );
        }
        let reports = self.enforcer.handle(&incoming, now).await?;
        let mut drift: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &reports {
            tracing::info!(bucket = r.bucket.as_str(), outcome = r.outcome.word(), "rechecked");
            if let Some(cause) = r.cause {
                *drift.entry(cause.word()).or_default() += 1;
            }
        }
        let closed = reports.iter().filter(|r| r.outcome == Outcome::Closed).count();
        Ok(json!({ "rechecked": reports.len(), "closed": closed, "drift": drift }))
    }

    /// The answer to an SQS batch of sweep messages: each processed, those that failed handed back
    /// (`batchItemFailures`) for SQS to retry. A recheck that closed a bucket but could not put its
    /// remediation on the bus fails the whole invocation, after the rest of the batch: the
    /// remediation has no record to be mailed from later (a retry finds the bucket lawful), so the
    /// error alarm must fire.
    pub async fn handle_messages(
        &self,
        messages: &[crate::inbound::event::QueueMessage],
        now: OffsetDateTime,
    ) -> Result<Value, EnforceError> {
        let (enforcer, trail) = (self.enforcer, self.trail);
        let mut failures = Vec::new();
        let mut shards = Vec::new();
        let mut unreported = None;
        // EventBridge delivers at least once: two deliveries of a call send two rechecks.
        let mut rechecked = std::collections::BTreeSet::new();
        for m in messages {
            let message = match SweepMessage::parse(&m.body) {
                Ok(message) => message,
                Err(e) => {
                    // Only the enforcer sends to this queue: anything else is logged, never retried.
                    tracing::error!(message = m.id.as_str(), error = %e, "not a sweep message; dropped");
                    continue;
                }
            };
            match message {
                SweepMessage::Shards { shards: list } => {
                    let mut failed = false;
                    for shard in &list {
                        let started = std::time::Instant::now();
                        match self.run_shard(shard, m.receive_count, now).await {
                            Ok(done) => {
                                let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                                tracing::info!(
                                    sweep = shard.sweep.as_str(),
                                    shard = shard.index,
                                    account = shard.place.account.as_str(),
                                    checked = done.checked,
                                    remediated = done.remediated,
                                    unchecked = done.unchecked.len(),
                                    ms,
                                    "shard swept"
                                );
                                failed |= !done.unchecked.is_empty();
                                shards.push(json!({
                                "index": shard.index, "account": shard.place.account, "region": shard.place.region,
                                "attempt": m.receive_count, "checked": done.checked, "remediated": done.remediated,
                                "repairs": done.repairs, "ms": ms, "drift": done.drift, "closed": done.closed,
                                "unchecked": done.unchecked.iter().map(|u| &u.bucket).collect::<Vec<_>>(),
                            }));
                            }
                            Err(e) => {
                                tracing::error!(sweep = shard.sweep.as_str(), shard = shard.index, error = %e, "shard failed");
                                failed = true;
                            }
                        }
                    }
                    // The whole message comes back: its clean shards cost one read per bucket again.
                    if failed {
                        failures.push(json!({"itemIdentifier": m.id}));
                    }
                }
                SweepMessage::Recheck { event } => {
                    let id = event.get("id").and_then(Value::as_str).map(str::to_owned);
                    if id.as_ref().is_some_and(|id| !rechecked.insert(id.clone())) {
                        tracing::info!(
                            message = m.id.as_str(),
                            "the same call rechecked twice in a batch; once"
                        );
                        continue;
                    }
                    match self.recheck(&event, now).await {
                        Ok(answer) => shards.push(answer),
                        Err(e @ EnforceError::Bus(_)) => {
                            tracing::error!(message = m.id.as_str(), error = %e, "rechecked and closed, but not reported");
                            unreported.get_or_insert(e);
                        }
                        Err(e) => {
                            tracing::error!(message = m.id.as_str(), error = %e, "recheck failed; retried");
                            failures.push(json!({"itemIdentifier": m.id}));
                        }
                    }
                }
                SweepMessage::Close(c) => match close(enforcer, trail, &c, now).await {
                    Ok(n) => {
                        tracing::info!(sweep = c.sweep.as_str(), remediations = n, "sweep closed");
                        shards.push(json!({"closed": c.sweep, "remediations": n}));
                    }
                    Err(e) => {
                        tracing::error!(sweep = c.sweep.as_str(), error = %e, "sweep not closed; retried");
                        failures.push(json!({"itemIdentifier": m.id}));
                    }
                },
            }
        }
        match unreported {
            Some(e) => Err(e),
            None => Ok(json!({ "batchItemFailures": failures, "sweep": shards })),
        }
    }
}

/// A shard's remediations: recorded for the close to mail together, or published now when the
/// sweep has already closed or the record cannot be written (never lost, at worst mailed singly).
async fn settle<S, B, T, L>(
    enforcer: &Enforcer<S, B, T>,
    trail: &Trail<L>,
    shard: &Shard,
    attempt: u32,
    remediations: Vec<Remediation>,
    now: OffsetDateTime,
) -> Result<(), PortError>
where
    S: PolicyStore,
    B: EventBus,
    T: BucketRecords,
    L: AuditLog + AuditReader,
{
    let record = ShardRecord {
        schema: SHARD_SCHEMA.into(),
        sweep: shard.sweep.clone(),
        index: shard.index,
        attempt,
        place: shard.place.clone(),
        remediations,
        time: crate::time::format_time(now),
    };
    let key = format!("{}{:05}-{attempt}.json", shard_dir(trail, &shard.sweep), shard.index);
    let body = serde_json::to_string(&record).unwrap_or_default();
    let written = trail.log.append(&key, &body, now + trail.config.retain).await;
    // The close marker is written before the close reads the records: a record written after the
    // close read them finds the marker here.
    let closed = match &written {
        Ok(_) => trail.log.get(&closed_key(trail, &shard.sweep)).await.map(|m| m.is_some()),
        Err(_) => Ok(true),
    };
    match (written, closed) {
        (Ok(_), Ok(false)) => Ok(()),
        (written, _) => {
            if let Err(e) = written {
                tracing::error!(error = %e, key = key.as_str(), "shard record not written; its remediations are published now");
            }
            enforcer.publish(record.remediations, now).await
        }
    }
}

/// The close of a sweep: marks it closed, gathers every shard record and publishes their
/// remediations as one set (a digest when there are many). Returns how many were published.
pub async fn close<S, B, T, L>(
    enforcer: &Enforcer<S, B, T>,
    trail: &Trail<L>,
    close: &Close,
    now: OffsetDateTime,
) -> Result<usize, PortError>
where
    S: PolicyStore,
    B: EventBus,
    T: BucketRecords,
    L: AuditLog + AuditReader,
{
    let marker = json!({"schema": SHARD_SCHEMA, "kind": "closed", "sweep": close.sweep, "shards": close.shards, "time": crate::time::format_time(now)});
    let closed = closed_key(trail, &close.sweep);
    trail.log.append(&closed, &marker.to_string(), now + trail.config.retain).await?;
    let mut events: Vec<Remediation> = Vec::new();
    for key in trail.log.keys(&shard_dir(trail, &close.sweep), None).await? {
        if key == closed {
            continue;
        }
        let Some(text) = trail.log.get(&key).await? else { continue };
        match serde_json::from_str::<ShardRecord>(&text) {
            Ok(r) => {
                for e in r.remediations {
                    // Two tries of one shard may both have reverted the same policy (the second
                    // read it stale): once is enough. A policy put again between the tries and
                    // reverted again is another remediation, and is mailed too.
                    if !events.iter().any(|x| x.bucket == e.bucket && x.before == e.before) {
                        events.push(e);
                    }
                }
            }
            Err(e) => tracing::error!(key = key.as_str(), error = %e, "shard record unreadable; skipped"),
        }
    }
    let n = events.len();
    enforcer.publish(events, now).await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_reads_back_as_itself() {
        let m = SweepMessage::Shards {
            shards: vec![Shard {
                sweep: "20261202T170000Z-abc".into(),
                index: 3,
                of: 9,
                place: Place { account: "111100000000".into(), region: Some("eu-west-1".into()) },
                buckets: vec!["b".into()],
                settings: true,
            }],
        };
        assert_eq!(SweepMessage::parse(&m.body()).unwrap(), m);
        let c = SweepMessage::Close(Close { sweep: "s".into(), shards: 9 });
        assert_eq!(SweepMessage::parse(&c.body()).unwrap(), c);
        assert!(SweepMessage::parse(r#"{"kind":"nonsense"}"#).is_err());
    }

    #[test]
    fn sweep_ids_are_safe_keys_that_sort_by_time() {
        let t = time::macros::datetime!(2026-12-02 17:00:05 UTC);
        assert_eq!(sweep_id(Some("a1b2/../c3"), t), "20261202T170005Z-a1b2c3");
        assert_eq!(sweep_id(None, t), "20261202T170005Z");
        assert!(settings_due(t));
        assert!(!settings_due(time::macros::datetime!(2026-12-02 17:15:00 UTC)));
    }
}
