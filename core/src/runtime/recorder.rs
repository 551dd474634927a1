//! The recorder's pipeline. Its queue carries two kinds of CloudTrail events: the data events of
//! object reads (the trail of reads, `trail::recorder`) and the guarded calls AWS refused (the
//! rules send every call with an `errorCode` here rather than to the notifier, `trail::refused`).
//! A refused call is rendered as the notifier would have (the same document, the same audit
//! record) but not mailed: the digest on the schedule mails it with the others of its bucket.

use breakglass_config::Config;
use futures_util::stream::{self, StreamExt as _};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::inbound::event::{parse, sqs_messages, Incoming, QueueMessage};
use crate::notify::{render_in, Rendered, Scope};
use crate::ports::{AuditLog, AuditReader, EventBus, PortError};
use crate::trail::audit::{self, Trail};
use crate::trail::recorder::{self, Timing};
use crate::trail::refused;

/// The refused guarded calls of a message, parsed; `None` when it is not one (a data event).
fn refused_calls(body: &str) -> Option<Incoming> {
    let value: Value = serde_json::from_str(body).ok()?;
    match parse(&value).ok()? {
        Incoming::ApiCalls(calls)
            if !calls.is_empty() && calls.iter().all(|c| c.guarded().is_some() && c.is_attempt()) =>
        {
            Some(Incoming::ApiCalls(calls))
        }
        _ => None,
    }
}

/// What the refused calls of a batch came to.
#[derive(Debug, Default)]
struct Filed {
    calls: usize,
    ignored: usize,
    failed: Vec<String>,
}

/// Files the refused calls of a batch's `messages`: each rendered as the notifier would, the slot
/// of each place marked once, then the records written several at once (a flood of refused calls,
/// which anyone refused can cause, must be filed within the invocation's time). A message whose
/// record, or whose place's mark, could not be written is handed back whole.
async fn file_refused<L: AuditLog>(
    config: &Config,
    scope: &Scope,
    trail: &Trail<L>,
    messages: &[(&QueueMessage, Incoming)],
    now: OffsetDateTime,
    timing: Timing,
) -> Filed {
    let mut out = Filed::default();
    let mut records: Vec<(&str, audit::Record)> = Vec::new();
    let mut failed: Vec<&str> = Vec::new();
    for (message, incoming) in messages {
        for rendered in render_in(config, scope, incoming, now) {
            let n = match rendered {
                Rendered::Send(n) => n,
                // Not a protected bucket, not breakglass's role, key or topic: nothing to record.
                Rendered::Ignored(reason) => {
                    tracing::info!(
                        message = message.id.as_str(),
                        reason = reason.as_str(),
                        "refused call ignored"
                    );
                    out.ignored += 1;
                    continue;
                }
            };
            match audit::record(&n, None, now, trail.config_sha256.as_deref()) {
                Some(record) => records.push((message.id.as_str(), record)),
                None => {
                    tracing::error!(
                        message = message.id.as_str(),
                        subject = n.subject.as_str(),
                        "no audit record for a refused call; handed back"
                    );
                    failed.push(message.id.as_str());
                }
            }
        }
    }
    // The marks first, one per place: a record without a mark would never be mailed.
    let mut places: Vec<&str> = records.iter().map(|(_, r)| refused::place_of(r)).collect();
    places.sort_unstable();
    places.dedup();
    let mut unmarked: Vec<&str> = Vec::new();
    for place in places {
        if let Err(e) = refused::mark(trail, place, now, timing.slot).await {
            tracing::error!(place, error = %e, "slot of refused calls not marked; its calls handed back");
            unmarked.push(place);
        }
    }
    let writes = records.iter().map(|(id, record)| async {
        if unmarked.contains(&refused::place_of(record)) {
            return (*id, Err(PortError::Retryable("its slot is not marked".into())));
        }
        (*id, refused::file_marked(trail, record, now).await)
    });
    let written: Vec<_> = stream::iter(writes).buffered(WRITES_AT_ONCE).collect().await;
    for (id, result) in written {
        match result {
            Ok(()) => out.calls += 1,
            Err(e) => {
                tracing::error!(message = id, error = %e, "refused call not recorded; handed back");
                failed.push(id);
            }
        }
    }
    failed.sort_unstable();
    failed.dedup();
    out.failed = failed.into_iter().map(str::to_owned).collect();
    out
}

/// Refused calls filed at once.
const WRITES_AT_ONCE: usize = 16;

/// The recorder Lambda's handler: an SQS batch is recorded (refused calls here, reads by
/// `trail::recorder`), the schedule runs both digests and the access reports; anything else goes to
/// `trail::recorder::handle`.
#[allow(clippy::too_many_arguments)]
pub async fn recorder_event<L: AuditLog, R: AuditReader, B: EventBus>(
    config: &Config,
    scope: &Scope,
    trail: &Trail<L>,
    reader: &R,
    bus: &B,
    payload: &Value,
    now: OffsetDateTime,
    timing: Timing,
) -> Result<Value, PortError> {
    if let Some(messages) = sqs_messages(payload) {
        // Refused calls (parsed again below, which costs little) apart from the data events.
        let (refused, reads): (Vec<QueueMessage>, Vec<QueueMessage>) =
            messages.into_iter().partition(|m| refused_calls(&m.body).is_some());
        let refused: Vec<(&QueueMessage, Incoming)> =
            refused.iter().filter_map(|m| refused_calls(&m.body).map(|i| (m, i))).collect();
        let filed = file_refused(config, scope, trail, &refused, now, timing).await;
        let r = recorder::record(config, trail, bus, &reads, now, timing.slot).await;
        tracing::info!(
            reads = r.reads,
            denied = r.denied,
            unreadable = r.unreadable,
            refused_calls = filed.calls,
            failed = r.failed.len() + filed.failed.len(),
            "batch recorded"
        );
        let mut answer = r.response();
        if let (Some(failures), Value::Object(m)) = (answer.get("batchItemFailures").cloned(), &mut answer) {
            let mut failures = failures.as_array().cloned().unwrap_or_default();
            failures.extend(filed.failed.iter().map(|id| json!({"itemIdentifier": id})));
            m.insert("batchItemFailures".into(), Value::Array(failures));
            m.insert("refused_calls".into(), json!(filed.calls));
            m.insert("refused_ignored".into(), json!(filed.ignored));
            m.insert("records".into(), json!(r.records + filed.calls));
        }
        return Ok(answer);
    }
    let scheduled = matches!(parse(payload), Ok(Incoming::Schedule { .. }));
    // Refused calls first: a failure of the reads' digest must not hold their mail back.
    let calls = match scheduled {
        true => Some(refused::digest(trail, reader, bus, now, timing.slot).await),
        false => None,
    };
    let mut answer = recorder::handle(config, trail, reader, bus, payload, now, timing).await?;
    if let Some(calls) = calls {
        let d = calls?;
        tracing::info!(slots = d.slots, calls = d.calls, mails = d.mails, "digest of refused calls");
        if let Value::Object(m) = &mut answer {
            m.insert("calls".into(), json!({"slots": d.slots, "calls": d.calls, "mails": d.mails}));
        }
    }
    Ok(answer)
}
