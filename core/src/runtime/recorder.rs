//! The recorder's pipeline. Its queue carries two kinds of CloudTrail events: the data events of
//! object reads (the trail of reads, `trail::recorder`) and the guarded calls AWS refused (the
//! rules send every call with an `errorCode` here rather than to the notifier, `trail::refused`).
//! A refused call is rendered as the notifier would have (the same document, the same audit
//! record) but not mailed: the digest on the schedule mails it with the others of its bucket.

use breakglass_config::Config;
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

async fn file_refused<L: AuditLog>(
    config: &Config,
    scope: &Scope,
    trail: &Trail<L>,
    message: &QueueMessage,
    incoming: &Incoming,
    now: OffsetDateTime,
    timing: Timing,
) -> Filed {
    let mut out = Filed::default();
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
        let written = match audit::record(&n, None, now, trail.config_sha256.as_deref()) {
            Some(record) => refused::file(trail, &record, now, timing.slot).await,
            None => Err(PortError::Refused(format!("no audit record for `{}`", n.subject))),
        };
        match written {
            Ok(()) => out.calls += 1,
            Err(e) => {
                tracing::error!(message = message.id.as_str(), error = %e, "refused call not recorded; handed back");
                out.failed.push(message.id.clone());
            }
        }
    }
    out
}

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
        let mut filed = Filed::default();
        let mut reads = Vec::new();
        for m in messages {
            match refused_calls(&m.body) {
                Some(incoming) => {
                    let one = file_refused(config, scope, trail, &m, &incoming, now, timing).await;
                    filed.calls += one.calls;
                    filed.ignored += one.ignored;
                    filed.failed.extend(one.failed);
                }
                None => reads.push(m),
            }
        }
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
