//! What the gate does for each operation, once the caller is known and the body typed: every check
//! before anything is written, the gate's signed record before it acts, then the policy, then the
//! event on the bus for the mail.

use std::collections::BTreeSet;

use breakglass_config::{BucketConfig, Config};
use time::{Duration, OffsetDateTime};

use super::answer::{Answered, Approved, Gate};
use super::request::{Asked, Caller, GateError};
use crate::access::approval::{self, from_gate_records, Refusal};
use crate::access::operate::{self, grant_of, OpenRequest, OperateError};
use crate::events::{AccessRequest, Decision, OwnEvent};
use crate::ports::{AuditLog, BucketRecords, EventBus, PolicyStore, PortError};
use crate::trail::audit::gate_record;

fn aws(what: &str, e: &PortError) -> GateError {
    GateError::Aws(format!("{what}: {e}"))
}

fn bucket<'c>(config: &'c Config, name: &str) -> Result<&'c BucketConfig, GateError> {
    config.bucket(name).ok_or_else(|| {
        GateError::NotFound(format!(
            "bucket `{}` is not in the config",
            name.chars().take(63).collect::<String>()
        ))
    })
}

/// A reason given in a body: one line, at most 500 characters.
fn one_line(v: &str) -> Result<String, GateError> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 500 || v.chars().any(crate::notice::breaks_text) {
        return Err(GateError::BadRequest("the reason must be one line of 1 to 500 characters, without control, line-separator, bidirectional or zero-width characters".into()));
    }
    Ok(v.to_owned())
}

fn operate_error(e: OperateError) -> GateError {
    match e {
        OperateError::NeedsApproval(_) => GateError::Conflict(e.to_string()),
        OperateError::Drift { .. } | OperateError::OpenWider { .. } => GateError::Conflict(e.to_string()),
        e if e.is_refusal() => GateError::BadRequest(e.to_string()),
        e => GateError::Aws(e.to_string()),
    }
}

impl<S: PolicyStore, B: EventBus, L: AuditLog, R: BucketRecords> Gate<'_, S, B, L, R> {
    /// The bucket's account in organisation mode: where its records lie.
    fn account<'b>(&self, b: &'b BucketConfig) -> Option<&'b str> {
        self.config.organisation.as_ref().map(|_| b.account.as_str())
    }

    /// Writes the gate's record of `event` before anything acts on it.
    async fn record(&self, b: &BucketConfig, event: &OwnEvent, now: OffsetDateTime) -> Result<(), GateError> {
        let record = gate_record(event, self.account(b), self.trail.config_sha256.as_deref())
            .ok_or_else(|| GateError::Aws("the record could not be made".into()))?;
        self.trail.write(&record, now).await.map_err(|e| aws("the audit trail", &e))?;
        Ok(())
    }

    async fn mail(&self, event: &OwnEvent) -> Result<(), GateError> {
        self.bus.put(&event.to_bus()).await.map_err(|e| aws("recorded, but the event bus", &e))
    }

    pub async fn request(&self, who: &Caller, a: &Asked, now: OffsetDateTime) -> Result<Answered, GateError> {
        let b = bucket(self.config, &a.bucket)?;
        if b.two_person.is_none() {
            return Err(GateError::Conflict(format!(
                "bucket `{}` has no two-person rule: open it with {{\"op\":\"open\"}}",
                b.name
            )));
        }
        let readers: BTreeSet<String> = a.readers.iter().cloned().collect();
        let q = match approval::request(b, &who.arn, &a.reason, &a.ticket, a.duration, &readers, now) {
            Ok(q) => q,
            Err(e) => {
                // A refused request is an attempt the stakeholders see, as a refused open is.
                let asked = OpenRequest {
                    reason: a.reason.clone(),
                    ticket: a.ticket.clone(),
                    duration: a.duration,
                    readers,
                };
                operate::publish_refusal(self.bus, &b.name, &who.arn, &asked, &e.to_string(), now).await;
                return Err(GateError::BadRequest(e.to_string()));
            }
        };
        let event = OwnEvent::AccessRequest(q.clone());
        self.record(b, &event, now).await?;
        self.mail(&event).await?;
        Ok(Answered::Requested(q))
    }

    /// The gate's request `id` among the buckets under the two-person rule (of `bucket` only, when
    /// the approver names it), with the gate's decisions on it. An id that names requests of two
    /// buckets is refused: ids are short, and a request made to share another's id must not be
    /// approved in its place.
    async fn find(
        &self,
        id: &str,
        bucket: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(&BucketConfig, AccessRequest, Vec<Decision>, Vec<serde_json::Value>), GateError> {
        let mut found = Vec::new();
        for b in self.config.buckets.iter().filter(|b| bucket.is_none_or(|name| b.name == name)) {
            let Some(rule) = &b.two_person else { continue };
            // A request older than its expiry can no longer be decided; a day more for a shortened expiry.
            let since = now - rule.request_expiry - Duration::days(1);
            let records = self.records.records(b, since).await.map_err(|e| aws("the audit trail", &e))?;
            let (requests, decisions) = from_gate_records(&records);
            let mut same: Vec<AccessRequest> = Vec::new();
            for q in requests.into_iter().filter(|q| q.id == id && q.bucket == b.name) {
                if !same.contains(&q) {
                    same.push(q);
                }
            }
            // Two requests of one bucket with one id (made to collide): neither is approved.
            if same.len() > 1 {
                return Err(GateError::Conflict(format!(
                    "request id `{id}` names {} requests of bucket `{}`: ask again for a new request",
                    same.len(),
                    b.name
                )));
            }
            if let Some(q) = same.pop() {
                found.push((b, q, decisions, records));
            }
        }
        let buckets: Vec<String> = found.iter().map(|(b, ..)| format!("`{}`", b.name)).collect();
        match (found.pop(), found.is_empty()) {
            (Some(one), true) => Ok(one),
            (Some(_), false) => Err(GateError::Conflict(format!(
                "request id `{id}` names requests of buckets {}: name the bucket (`--bucket`)",
                buckets.join(" and ")
            ))),
            (None, _) => Err(GateError::NotFound(match bucket {
                Some(name) => format!("no request `{id}` of bucket `{name}` in the audit trail"),
                None => format!("no request `{id}` in the audit trail"),
            })),
        }
    }

    /// Approves request `id` (`approve`), or denies it, for `reason` if given (else the request's).
    pub async fn decide(
        &self,
        who: &Caller,
        id: &str,
        bucket: Option<&str>,
        approve: bool,
        reason: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Answered, GateError> {
        let reason = reason.map(one_line).transpose()?;
        let (b, q, decisions, records) = self.find(id, bucket, now).await?;
        // This approver's approval already recorded (a call that failed after the record): open it,
        // unless the window it opened was closed since (then it opens nothing again).
        let mine = decisions.iter().find(|d| d.id == q.id && d.decision == "approved" && d.by == who.arn);
        let resumable = |d: &&Decision| {
            approve
                && grant_of(d).is_some_and(|g| g.expiry > now)
                && crate::time::parse_time(&d.time).is_some_and(|at| !approval::closed_since(&records, at))
        };
        if let Some(d) = mine.filter(resumable) {
            return self.open_approved(b, d.clone(), who, now).await;
        }
        let decided = approval::decide_live(b, self.store, &q, &decisions, &who.arn, approve, now)
            .await
            .map_err(|e| aws(&format!("bucket `{}`", b.name), &e))?;
        let mut d = match decided {
            Ok(d) => d,
            Err(refused) => {
                let (refused, why) = *refused;
                // Mailed as an attempt (the notifier records it); the gate writes nothing.
                if let Err(e) = self.mail(&OwnEvent::Decision(refused)).await {
                    tracing::error!(error = %e, "refused decision could not be mailed");
                }
                return Err(match why {
                    Refusal::SelfApproval { .. } | Refusal::NotApprover(_) => {
                        GateError::Forbidden(format!("refused: {why}"))
                    }
                    Refusal::Expired(_) | Refusal::Decided { .. } | Refusal::Wider { .. } => {
                        GateError::Conflict(format!("refused: {why}"))
                    }
                    _ => GateError::BadRequest(format!("refused: {why}")),
                });
            }
        };
        if !approve && reason.is_some() {
            // The denial's reason, in place of the request's.
            d.reason = reason;
        }
        self.record(b, &OwnEvent::Decision(d.clone()), now).await?;
        if !approve {
            self.mail(&OwnEvent::Decision(d.clone())).await?;
            return Ok(Answered::Denied(d));
        }
        self.open_approved(b, d, who, now).await
    }

    /// Opens what the recorded approval `d` names, then mails the approval.
    async fn open_approved(
        &self,
        b: &BucketConfig,
        d: Decision,
        who: &Caller,
        now: OffsetDateTime,
    ) -> Result<Answered, GateError> {
        let done = operate::open_approved(b, self.store, self.bus, &d, &who.arn, now)
            .await
            .map_err(operate_error)?;
        self.mail(&OwnEvent::Decision(d.clone())).await?;
        Ok(Answered::Approved(Box::new(Approved { decision: d, opened: done.event })))
    }

    pub async fn open(&self, who: &Caller, a: &Asked, now: OffsetDateTime) -> Result<Answered, GateError> {
        let b = bucket(self.config, &a.bucket)?;
        let request = OpenRequest {
            reason: a.reason.clone(),
            ticket: a.ticket.clone(),
            duration: a.duration,
            readers: a.readers.iter().cloned().collect(),
        };
        let done =
            operate::open(b, self.store, self.bus, &request, &who.arn, now).await.map_err(operate_error)?;
        Ok(Answered::Changed(done.event))
    }

    pub async fn close(
        &self,
        who: &Caller,
        name: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Answered, GateError> {
        let b = bucket(self.config, name)?;
        let done =
            operate::close(b, self.store, self.bus, reason, &who.arn, now).await.map_err(operate_error)?;
        Ok(Answered::Changed(done.event))
    }
}
