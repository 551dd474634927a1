//! The enforcer's pipeline: the bucket policies (enforcer) and the paths around them (sentinel),
//! misrouted calls reported, and, with a sweep queue, the scheduled sweep fanned out by shard and
//! new buckets discovered from the calls that may bring one.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::malformed::parse_or_ignore;
use crate::events::{Misrouted, OwnEvent};
use crate::guard::enforce::{EnforceError, Enforcer};
use crate::guard::sentinel::Sentinel;
use crate::inbound::event;
use crate::inbound::route;
use crate::ports::AuditLog;
use crate::ports::Canary;
use crate::ports::{
    AuditReader, BucketRecords, BucketSettings, ControlPlane, Directory, EventBus, PolicyStore,
    RegistryStore, SweepQueue,
};
use crate::trail::audit::Trail;

/// The port types of the enforcer Lambda, named once (the AWS adapters in production, fakes in tests).
pub trait EnforcerPorts {
    type Store: PolicyStore + BucketSettings + Canary + std::fmt::Debug;
    type Bus: EventBus + std::fmt::Debug;
    type Control: ControlPlane + std::fmt::Debug;
    type Records: BucketRecords + std::fmt::Debug;
    type Queue: SweepQueue + std::fmt::Debug;
    type Log: AuditLog + AuditReader + std::fmt::Debug;
    type Directory: Directory + std::fmt::Debug;
    type Registry: RegistryStore + std::fmt::Debug;
}

/// What the enforcer Lambda acts with: the enforcer, the sentinel, and the sweep's fan-out (`None`:
/// the schedule sweeps inline).
#[derive(Debug)]
pub struct Guard<'a, P: EnforcerPorts> {
    pub enforcer: &'a Enforcer<P::Store, P::Bus, P::Records>,
    pub sentinel: &'a Sentinel<'a, P::Store, P::Bus, P::Control>,
    pub fanout: Option<&'a Fanout<'a, P>>,
    /// The heartbeat, sent and judged at every scheduled invocation (`None`: off).
    pub heartbeat: Option<&'a Pulse<'a, P>>,
}

/// The heartbeat's part of the enforcer ([`crate::guard::heartbeat`]): the trail its marks are in.
#[derive(Debug)]
pub struct Pulse<'a, P: EnforcerPorts> {
    pub trail: &'a Trail<P::Log>,
    pub timing: crate::guard::heartbeat::Timing,
}

/// The enforcer's answer to one invocation: the bucket policies only (the CLI's dry runs and the
/// benchmarks; the Lambda also runs the sentinel, see [`enforce_and_guard_event`]).
pub async fn enforce_event<S: PolicyStore, B: EventBus, T: BucketRecords>(
    enforcer: &Enforcer<S, B, T>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, EnforceError> {
    let incoming = match parse_or_ignore(raw) {
        Ok(i) => i,
        Err(answer) => return Ok(answer),
    };
    let (incoming, misrouted) = route::screen(&enforcer.config, incoming, now);
    report_misrouted(enforcer, &misrouted).await?;
    let reports = enforcer.handle(&incoming, now).await?;
    Ok(summary(enforcer.dry_run, &reports, &[], &misrouted))
}

/// Sends `raw` (a call's event) to be judged again after the fan-out's delay. Without a sweep queue
/// there is nowhere to: logged, and the scheduled pass is the net. A send that fails fails the
/// invocation (Lambda's retry judges the call again).
async fn recheck_later<P: EnforcerPorts>(
    fanout: Option<&Fanout<'_, P>>,
    raw: &Value,
) -> Result<(), EnforceError> {
    let Some(f) = fanout else {
        tracing::warn!("a write S3 had not shown is not judged again: no sweep queue");
        return Ok(());
    };
    let body = crate::guard::sweep::SweepMessage::Recheck { event: raw.clone() }.body();
    f.queue.send(&[body], f.recheck_delay).await.map_err(EnforceError::Queue)?;
    tracing::warn!(
        delay = f.recheck_delay,
        "S3 had not shown the call's write within the waits; judged again later"
    );
    Ok(())
}

/// Puts every misrouted-event report on the bus (the notifier mails it as an alert).
async fn report_misrouted<S: PolicyStore, B: EventBus, T: BucketRecords>(
    enforcer: &Enforcer<S, B, T>,
    misrouted: &[Misrouted],
) -> Result<(), EnforceError> {
    for m in misrouted {
        enforcer.bus.put(&OwnEvent::Misrouted(m.clone()).to_bus()).await.map_err(EnforceError::Bus)?;
    }
    Ok(())
}

/// The enforcer Lambda's answer: the bucket policies first, then the paths around them (bucket
/// settings, investigator trust, subscriptions). Both always run; the first error fails the
/// invocation afterwards, so that Lambda retries and the error alarm fires.
pub async fn enforce_and_guard_event<P: EnforcerPorts>(
    ports: &Guard<'_, P>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, EnforceError> {
    match parse_or_ignore(raw) {
        Ok(incoming) => guard(ports, raw, incoming, now).await,
        Err(answer) => Ok(answer),
    }
}

/// [`enforce_and_guard_event`] of an event already parsed (`raw`, as it came).
async fn guard<P: EnforcerPorts>(
    ports: &Guard<'_, P>,
    raw: &Value,
    incoming: event::Incoming,
    now: OffsetDateTime,
) -> Result<Value, EnforceError> {
    let (enforcer, sentinel) = (ports.enforcer, ports.sentinel);
    // Neither the enforcer nor the sentinel sees a call from another account than the bucket's.
    let (incoming, misrouted) = route::screen(&enforcer.config, incoming, now);
    let alerted = report_misrouted(enforcer, &misrouted).await;
    // The sentinel's reads of the named buckets' settings do not depend on the policies: made while
    // the enforcer reconciles them. Its writes and reports still come after the enforcer's.
    let (policies, observed) =
        futures_util::future::join(enforcer.handle(&incoming, now), sentinel.observe(&incoming)).await;
    let repairs = sentinel.handle_observed(&incoming, observed, now).await;
    let (reports, repairs) = (policies?, repairs?);
    alerted?;
    if reports.iter().any(|r| r.recheck) {
        recheck_later(ports.fanout, raw).await?;
    }
    Ok(summary(enforcer.dry_run, &reports, &repairs, &misrouted))
}

/// The sweep at scale (`BREAKGLASS_SWEEP_QUEUE`, see [`crate::guard::sweep`]): the queue the schedule's plan
/// goes to, and the audit trail the shards record their remediations in.
#[derive(Debug)]
pub struct Fanout<'a, P: EnforcerPorts> {
    pub queue: &'a P::Queue,
    pub trail: &'a Trail<P::Log>,
    /// Seconds between the shards and the close ([`crate::guard::sweep::CLOSE_DELAY_SECONDS`]; tests lower it).
    pub close_delay: u32,
    /// Discovery (`[discovery]`, organisation mode): the accounts' buckets and the registry, run
    /// by the schedule before it plans, and on the calls that may bring a new bucket.
    pub discovery: Option<(&'a P::Directory, &'a P::Registry)>,
    /// Seconds until a bucket discovery added from a call is checked: longer than the functions
    /// take to read the grown registry (their config refresh).
    pub adopt_delay: u32,
    /// Seconds until a call whose write S3 had not shown is judged again
    /// ([`crate::guard::sweep::RECHECK_DELAY_SECONDS`]).
    pub recheck_delay: u32,
}

/// The enforcer Lambda's answer with the sweep fanned out (`guard.fanout`): the schedule plans
/// shards (and checks roles and subscriptions itself), the sweep queue's messages are shards,
/// closes and rechecks, everything else is [`enforce_and_guard_event`]. Without a fan-out the schedule sweeps
/// inline.
pub async fn enforcer_event<P: EnforcerPorts>(
    ports: &Guard<'_, P>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, EnforceError> {
    let schedule = match (ports.heartbeat, parse_or_ignore(raw)) {
        (Some(pulse), Ok(event::Incoming::Schedule { time, .. })) => Some((pulse, time)),
        _ => None,
    };
    let Some((pulse, time)) = schedule else { return enforcer_event_inner(ports, raw, now).await };
    // The schedule's time, as the sweep takes it: the run of one period judges as of that period.
    let at = time.as_deref().and_then(crate::time::parse_time).unwrap_or(now);
    let e = ports.enforcer;
    // After the sweep, whatever it did: the heartbeat never waits for, nor stops, the sweep.
    let answer = enforcer_event_inner(ports, raw, now).await;
    let beat = crate::guard::heartbeat::run(
        &e.config,
        &e.store,
        pulse.trail,
        &e.bus,
        ports.sentinel.control,
        pulse.timing,
        at,
    )
    .await
    .map_err(EnforceError::Heartbeat);
    let mut answer = answer?;
    if let Some(a) = answer.as_object_mut() {
        a.insert("heartbeat".into(), beat?);
    }
    Ok(answer)
}

/// [`enforcer_event`] but the heartbeat.
async fn enforcer_event_inner<P: EnforcerPorts>(
    ports: &Guard<'_, P>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, EnforceError> {
    let (enforcer, sentinel, fanout) = (ports.enforcer, ports.sentinel, ports.fanout);
    if let Some(messages) = event::sqs_messages(raw) {
        let Some(f) = fanout else {
            // Misconfigured: hand them back, so that they reach the dead-letter queue and its alarm.
            tracing::error!("sweep messages arrived, but no sweep queue is configured; handed back");
            let failed: Vec<Value> = messages.iter().map(|m| json!({ "itemIdentifier": m.id })).collect();
            return Ok(json!({ "batchItemFailures": failed }));
        };
        return crate::guard::sweep::Sweeper { enforcer, sentinel, trail: f.trail }
            .handle_messages(&messages, now)
            .await;
    }
    // Parsed once: every guarded call of the estate passes here.
    let incoming = match parse_or_ignore(raw) {
        Ok(i) => i,
        Err(answer) => return Ok(answer),
    };
    if let (Some(f), event::Incoming::Schedule { id, time }) = (fanout, &incoming) {
        let at = time.as_deref().and_then(crate::time::parse_time).unwrap_or(now);
        let sweep = crate::guard::sweep::sweep_id(id.as_deref(), at);
        // Discovery: what it finds is written to the registry, which every function reads with the
        // config (within a minute); the next sweep covers it. This sweep plans from the config and
        // registry in force, the same that the shards, the notifier and the recorder act on. Its
        // failures are alerted on the bus by `discovery::run`.
        if let (Some((directory, store)), Some(_)) = (f.discovery, &enforcer.config.discovery) {
            if let Err(e) =
                crate::guard::discovery::run(&enforcer.config, directory, store, &enforcer.bus, now).await
            {
                tracing::error!(error = %e, "discovery failed; the registry in force stays");
            }
        }
        let sent = crate::guard::sweep::send_plan(
            &enforcer.config,
            f.queue,
            &sweep,
            crate::guard::sweep::settings_due(at),
            f.close_delay,
        )
        .await;
        let control = sentinel.control_checks(now).await;
        let (shards, buckets) = sent.map_err(EnforceError::Queue)?;
        let repairs = control?;
        tracing::info!(sweep = sweep.as_str(), shards, buckets, "sweep planned");
        let mut answer = summary(enforcer.dry_run, &[], &repairs, &[]);
        if let Some(a) = answer.as_object_mut() {
            a.insert("sweep".into(), json!({ "id": sweep, "shards": shards, "buckets": buckets }));
        }
        return Ok(answer);
    }
    let adopted = match (fanout, &incoming) {
        (Some(f), event::Incoming::ApiCalls(calls)) => adopt_new_buckets(enforcer, f, calls, now).await,
        _ => 0,
    };
    let mut answer = guard(ports, raw, incoming, now).await?;
    if let (Some(a), true) = (answer.as_object_mut(), adopted > 0) {
        a.insert("discovered".into(), json!(adopted));
    }
    Ok(answer)
}

/// Discovery on the calls that may bring a new log bucket ([`crate::guard::discovery::CALLS`]): each
/// bucket found is added to the registry and checked by a one-bucket sweep once the functions have
/// read it. A failure here is logged, not fatal: the scheduled discovery is the net under it.
async fn adopt_new_buckets<P: EnforcerPorts>(
    enforcer: &Enforcer<P::Store, P::Bus, P::Records>,
    f: &Fanout<'_, P>,
    calls: &[event::ApiCall],
    now: OffsetDateTime,
) -> usize {
    let Some((directory, store)) = f.discovery else { return 0 };
    let mut adopted = 0;
    for call in calls.iter().filter(|c| crate::guard::discovery::candidate(&enforcer.config, c).is_some()) {
        match crate::guard::discovery::adopt(&enforcer.config, directory, store, &enforcer.bus, call, now)
            .await
        {
            Ok(Some(entry)) => {
                adopted += 1;
                let sweep = crate::guard::sweep::sweep_id(call.event.id.as_deref(), now);
                if let Err(e) =
                    crate::guard::sweep::send_adopted(f.queue, &sweep, &entry, f.adopt_delay, f.close_delay)
                        .await
                {
                    tracing::error!(bucket = entry.name.as_str(), error = %e, "discovered, but its check could not be queued; the next sweep checks it");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "discovery on a call failed; the scheduled one will retry"),
        }
    }
    adopted
}

fn summary(
    dry_run: bool,
    reports: &[crate::guard::enforce::Report],
    repairs: &[crate::guard::sentinel::Repair],
    misrouted: &[Misrouted],
) -> Value {
    let buckets: Vec<Value> = reports
        .iter()
        .map(|r| {
            json!({
                "bucket": r.bucket,
                "before": r.before,
                "before_hash": r.before_hash.map(|h| h.to_string()),
                "outcome": r.outcome.word(),
                "reason": r.reason,
                "cause": r.cause.map(|c| c.word()),
                "after_hash": r.after_hash.map(|h| h.to_string()),
            })
        })
        .collect();
    let repairs: Vec<Value> = repairs
        .iter()
        .map(|r| json!({ "kind": r.kind, "subject": r.subject, "what": r.what, "repaired": r.repaired, "error": r.error }))
        .collect();
    let misrouted: Vec<Value> = misrouted
        .iter()
        .map(|m| json!({ "bucket": m.bucket, "bucket_account": m.bucket_account, "event_accounts": m.event_accounts }))
        .collect();
    json!({ "dry_run": dry_run, "buckets": buckets, "repairs": repairs, "misrouted": misrouted })
}
