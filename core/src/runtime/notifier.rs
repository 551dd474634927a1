//! The notifier's pipeline: every message rendered from an event is recorded in the audit trail and
//! published, to the alarm topic too when it is about an attack on the mail channel.

use breakglass_config::Config;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::malformed::parse_or_ignore;
use crate::events::OwnEvent;
use crate::notify::{render_in, Rendered, Scope};
use crate::ports::{Appended, AuditLog, AuditReader};
use crate::ports::{PortError, Publisher};
use crate::trail::audit::{self, Trail};
use crate::trail::heartbeat;
use futures_util::future::OptionFuture;

/// The marks of mails sent, one per record: `<prefix>_mailed/<record key>`.
pub const MAILED: &str = "_mailed";
const MAILED_SCHEMA: &str = "breakglass.mailed/1";

/// Whether the mail of the record is marked as sent. A trail that cannot be listed counts as not
/// marked: a mail twice rather than never.
async fn already_mailed<L: AuditReader>(trail: &Trail<L>, key: &str) -> bool {
    match trail.log.keys(key, None).await {
        Ok(keys) => keys.iter().any(|k| k == key),
        Err(e) => {
            tracing::warn!(error = %e, key, "mail marks not readable; mailing again");
            false
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} notifications could not be published or recorded: {first}")]
pub struct NotifyError {
    pub failed: usize,
    pub total: usize,
    pub first: PortError,
}

/// The notifier's answer to one invocation: every message is recorded in the audit trail (when there
/// is one) and published; any failure is an error afterwards, so Lambda retries (the record's key is
/// its content's hash, so a retry does not record twice) and the failure shows in metrics and alarms.
pub async fn notify_event<P: Publisher, L: AuditLog + AuditReader>(
    config: &Config,
    publisher: &P,
    trail: Option<&Trail<L>>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, NotifyError> {
    notify_event_in(config, &Scope::default(), publisher, None, trail, raw, now).await
}

/// [`notify_event`], also watching what `scope` names; a message about an attack on the mail
/// channel itself goes to `alarm` (the second channel) as well.
pub async fn notify_event_in<P: Publisher, L: AuditLog + AuditReader>(
    config: &Config,
    scope: &Scope,
    publisher: &P,
    alarm: Option<&P>,
    trail: Option<&Trail<L>>,
    raw: &Value,
    now: OffsetDateTime,
) -> Result<Value, NotifyError> {
    let incoming = match parse_or_ignore(raw) {
        Ok(i) => i,
        Err(answer) => return Ok(answer),
    };
    let mut sent = Vec::new();
    let mut ignored = Vec::new();
    let mut recorded = Vec::new();
    let mut errors = Vec::new();
    // breakglass's own heartbeat is marked as arrived, never mailed.
    let (incoming, beats) = heartbeat::screen(config, incoming);
    for beat in &beats {
        if let Some(Err(e)) = OptionFuture::from(trail.map(|t| heartbeat::arrive(t, beat, now))).await {
            tracing::error!(error = %e, "heartbeat arrival not marked");
            errors.push(e);
        }
    }
    let Some(incoming) = incoming else {
        return match errors.into_iter().next() {
            Some(first) => Err(NotifyError { failed: beats.len(), total: beats.len(), first }),
            None => Ok(json!({ "sent": [], "recorded": [], "ignored": [], "heartbeats": beats.len() })),
        };
    };
    let rendered = render_in(config, scope, &incoming, now);
    // One of breakglass's own events is recorded from its type, a CloudTrail call from its document.
    let own = match &incoming {
        crate::inbound::event::Incoming::Custom { detail_type, detail, .. } => {
            OwnEvent::from_bus(detail_type, detail).ok()
        }
        _ => None,
    };
    let (mut total, mut failed_messages) = (0, 0);
    for r in rendered {
        let n = match r {
            Rendered::Ignored(reason) => {
                tracing::info!(reason = reason.as_str(), "nothing to notify");
                ignored.push(reason);
                continue;
            }
            Rendered::Send(n) => n,
        };
        total += 1;
        let mut failed = false;
        // The record first: it must exist even when the mail cannot be sent.
        let record = trail.map(|t| (t, audit::record(&n, own.as_ref(), now, t.config_sha256.as_deref())));
        if let Some((_, None)) = record {
            // Every message the notifier renders is a `Document`; one that is not would go unrecorded,
            // so the invocation fails (retried, then the dead-letter queue and its alarm).
            tracing::error!(
                subject = n.subject.as_str(),
                "notification document unreadable: no audit record"
            );
            errors.push(PortError::Refused(format!(
                "no audit record for `{}`: its document does not parse",
                n.subject
            )));
            failed = true;
        }
        // Where the mail of this record is marked as sent, and whether it already was: a
        // duplicated delivery (EventBridge delivers at least once) finds its record and its mark
        // and is not mailed again; a retry after a failed publish finds the record without a mark.
        let mut mark = None;
        let mut mailed = false;
        if let Some((trail, Some(record))) = &record {
            match trail.write(record, now).await {
                Ok(done) => {
                    let key = format!("{}{MAILED}/{}", trail.config.prefix, record.key);
                    if done == Appended::AlreadyThere {
                        mailed = already_mailed(trail, &key).await;
                    }
                    mark = Some((*trail, key));
                    recorded.push(json!({
                        "key": format!("{}{}", trail.config.prefix, record.key),
                        "new": done == Appended::Written,
                    }))
                }
                Err(e) => {
                    tracing::error!(error = %e, key = record.key.as_str(), "audit record not written");
                    errors.push(e);
                    failed = true;
                }
            }
        }
        if mailed {
            tracing::info!(subject = n.subject.as_str(), "already recorded and mailed: a duplicate delivery");
            ignored.push(format!("already mailed: {}", n.subject));
            continue;
        }
        // The call attacked the mail channel itself: the alarm topic carries it too.
        let channels = std::iter::once(publisher).chain(alarm.filter(|_| n.second_channel));
        for channel in channels {
            match channel.publish(&n).await {
                Ok(id) => sent.push(json!({ "message_id": id, "subject": n.subject })),
                Err(e) => {
                    tracing::error!(error = %e, subject = n.subject.as_str(), "publish failed");
                    errors.push(e);
                    failed = true;
                }
            }
        }
        if let (false, Some((trail, key))) = (failed, mark) {
            let body = json!({"schema": MAILED_SCHEMA, "time": crate::time::format_time(now)}).to_string();
            if let Err(e) = trail.log.append(&key, &body, now + trail.config.retain).await {
                // Sent but not marked: a duplicate delivery would mail once more, nothing is lost.
                tracing::warn!(error = %e, key = key.as_str(), "mail not marked as sent");
            }
        }
        failed_messages += usize::from(failed);
    }
    match errors.into_iter().next() {
        Some(first) => Err(NotifyError { failed: failed_messages, total, first }),
        None => Ok(json!({ "sent": sent, "recorded": recorded, "ignored": ignored })),
    }
}
