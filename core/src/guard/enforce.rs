//! The enforcer: level-triggered. Whatever the event says, it reads the *live* policy, classifies it,
//! and writes ClosedAccess when the policy is drift, expired, or an OpenAccess set by someone who is
//! not a break-glass principal. It never opens anything, so stale, replayed or reordered events cannot
//! reopen a bucket; it writes nothing when the state is already right (no loop on its own write); and
//! it verifies every write by reading back and comparing canonical hashes.

use breakglass_config::{BucketConfig, Config};
use canonical_policies::{classify, classify_text, diff_nearest, Classification, Policy, PolicyHash, State};
use time::OffsetDateTime;

use crate::access::approval::NoRecords;
use crate::events::{Exposure, OwnEvent, PolicyAfter, PolicyState, Remediation, Trigger};
use crate::guarded::GuardedCall;
use crate::inbound::event::ApiCall;
use crate::ports::{BucketRecords, EventBus, PolicyStore, PortError};

/// Every success, and the first error after logging every one (`not_done` says what each error
/// left undone): one bucket, role or topic that fails must not hide the others.
pub(crate) fn tried_all<T, E: std::fmt::Display>(
    results: impl IntoIterator<Item = Result<T, E>>,
    not_done: &str,
) -> (Vec<T>, Option<E>) {
    let mut done = Vec::new();
    let mut first = None;
    for r in results {
        match r {
            Ok(t) => done.push(t),
            Err(e) => {
                tracing::error!(error = %e, "{not_done}; the others were still tried");
                first.get_or_insert(e);
            }
        }
    }
    (done, first)
}

/// The waits between reading back a policy just written and reading it again while S3 still shows
/// the old one (eventual consistency): about 3.3 s in all, well inside the functions' timeouts.
pub const READ_BACK_DELAYS: [std::time::Duration; 4] = [
    std::time::Duration::from_millis(100),
    std::time::Duration::from_millis(300),
    std::time::Duration::from_millis(900),
    std::time::Duration::from_millis(2000),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnforceError {
    /// Reading or writing failed in a way worth retrying (Lambda retries the invocation).
    #[error("bucket `{bucket}`: {source}")]
    Aws { bucket: String, source: PortError },
    /// ClosedAccess was written but reading back did not show it.
    #[error("bucket `{bucket}`: wrote ClosedAccess but read back `{found}`")]
    NotVerified { bucket: String, found: String },
    /// The remediation happened but its event could not be published.
    #[error("could not publish the remediation event: {0}")]
    Bus(PortError),
    /// The sweep's shards, or a recheck, could not be sent to its queue.
    #[error("could not send to the sweep queue: {0}")]
    Queue(PortError),
    /// The heartbeat could not be judged, or a quiet half could not be alarmed.
    #[error("heartbeat: {0}")]
    Heartbeat(PortError),
}

/// What the enforcer did about one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The live policy is lawful; nothing written.
    Lawful,
    /// ClosedAccess written and verified.
    Closed,
    /// Dry run: ClosedAccess would have been written.
    WouldClose,
    /// S3 refused ClosedAccess (e.g. a principal in the template no longer exists): a loud alert, not
    /// retried, because retrying cannot help.
    Refused(String),
    /// ClosedAccess was written but the read-back did not show it yet: reported, then retried.
    Unverified(String),
}

impl Outcome {
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Lawful => "lawful",
            Outcome::Closed => "closed",
            Outcome::WouldClose => "dry-run",
            Outcome::Refused(_) => "refused",
            Outcome::Unverified(_) => "unverified",
        }
    }
}

/// Why a policy was unlawful, in one word: the [`crate::metrics::CAUSE`] of a drift (few values,
/// unlike the reason, which names the caller or the expiry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// Neither ClosedAccess nor a lawful OpenAccess.
    Drift,
    /// An OpenAccess past its expiry.
    Expired,
    /// A lawful-looking OpenAccess written by someone who is not a break-glass principal.
    Unauthorised,
    /// An OpenAccess of a bucket under the two-person rule that no approval covers.
    Unapproved,
}

impl Cause {
    pub fn word(self) -> &'static str {
        match self {
            Cause::Drift => "drift",
            Cause::Expired => "expired",
            Cause::Unauthorised => "unauthorised",
            Cause::Unapproved => "unapproved",
        }
    }
}

/// One bucket's reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub bucket: String,
    pub before: String,
    /// The live state's word before: `closed`, `open`, `expired` or `drift`.
    pub before_state: &'static str,
    pub before_hash: Option<PolicyHash>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    /// Why it was unlawful (`None` when lawful).
    pub cause: Option<Cause>,
    pub after_hash: Option<PolicyHash>,
    /// The call's policy put or delete was still not visible after the waits, and the read was
    /// judged lawful: to be judged again later, with the call ([`crate::guard::sweep::SweepMessage::Recheck`]).
    pub recheck: bool,
}

/// The enforcer over a policy store, an event bus, and the audit trail's records (the two-person
/// rule's approvals; [`NoRecords`] where there is no trail, which leaves no OpenAccess of such a
/// bucket standing).
#[derive(Debug)]
pub struct Enforcer<S, B, T = NoRecords> {
    pub config: Config,
    pub store: S,
    pub bus: B,
    pub records: T,
    /// Report without writing.
    pub dry_run: bool,
}

impl<S: PolicyStore, B: EventBus, T: BucketRecords> Enforcer<S, B, T> {
    /// Reconciles one bucket against its templates, and tells the bus what it remediated.
    pub async fn reconcile(
        &self,
        bucket: &BucketConfig,
        call: Option<&ApiCall>,
        now: OffsetDateTime,
    ) -> Result<Report, EnforceError> {
        let (result, event) = self.reconcile_quietly(bucket, call, now).await;
        if let Some(event) = event {
            // Once ClosedAccess is written, a retried invocation finds the bucket lawful and would
            // never report the remediation: the event is tried again here, with backoff, first.
            let event = OwnEvent::Remediation(event).to_bus();
            let mut sent = self.bus.put(&event).await;
            for delay in READ_BACK_DELAYS {
                if sent.is_ok() {
                    break;
                }
                tokio::time::sleep(delay).await;
                sent = self.bus.put(&event).await;
            }
            sent.map_err(EnforceError::Bus)?;
        }
        result
    }

    /// [`Enforcer::reconcile`] without putting its remediation event on the bus: the sweep puts
    /// them after the whole run, so that many remediations at once can be mailed as one digest.
    pub(crate) async fn reconcile_quietly(
        &self,
        bucket: &BucketConfig,
        call: Option<&ApiCall>,
        now: OffsetDateTime,
    ) -> (Result<Report, EnforceError>, Option<Remediation>) {
        match self.reconcile_inner(bucket, call, now).await {
            Ok((report, event)) => {
                let result = match &report.outcome {
                    Outcome::Unverified(found) => {
                        Err(EnforceError::NotVerified { bucket: bucket.name.clone(), found: found.clone() })
                    }
                    _ => Ok(report),
                };
                (result, event)
            }
            Err(e) => (Err(e), None),
        }
    }

    async fn reconcile_inner(
        &self,
        bucket: &BucketConfig,
        call: Option<&ApiCall>,
        now: OffsetDateTime,
    ) -> Result<(Report, Option<Remediation>), EnforceError> {
        let aws = |source| EnforceError::Aws { bucket: bucket.name.clone(), source };
        let (live, unsettled) = self.read_after(bucket, call, now).await.map_err(aws)?;
        let (c, parsed) = classify_text(bucket, live.as_deref().map(str::as_bytes), now);
        let mut report = Report {
            bucket: bucket.name.clone(),
            before: c.to_string(),
            before_state: c.state.word(),
            before_hash: c.hash,
            outcome: Outcome::Lawful,
            reason: None,
            cause: None,
            after_hash: c.hash,
            recheck: false,
        };
        let (reason, cause) = match unlawful(bucket, &c, call) {
            Some(reason) => {
                let cause = match &c.state {
                    State::Expired(_) => Cause::Expired,
                    State::Open(_) => Cause::Unauthorised,
                    _ => Cause::Drift,
                };
                (reason, cause)
            }
            None => match self.unapproved(bucket, &c).await {
                Some(reason) => (reason, Cause::Unapproved),
                None => {
                    // Lawful as read, but the read may still hide the call: judged again later.
                    report.recheck = unsettled;
                    return Ok((report, None));
                }
            },
        };
        report.reason = Some(reason.clone());
        report.cause = Some(cause);
        let diff = diff_nearest(bucket, parsed.as_ref(), now);

        if self.dry_run {
            report.outcome = Outcome::WouldClose;
        } else {
            match self.store.put_policy(&bucket.name, &bucket.closed_policy().to_pretty_json()).await {
                Ok(()) => {
                    // Bucket configuration is eventually consistent in S3: a read soon after the
                    // write may still show the old policy. Re-read with backoff before calling it
                    // unverified, so a stale read is neither reported as a refused write nor
                    // rewritten in a loop; still different after that: reported, then the
                    // invocation fails so that Lambda retries and verifies again.
                    // A read that fails is one more try, then unverified: the write happened, so
                    // its remediation must be reported now (a retry would find the bucket lawful).
                    let mut back = self.store.get_policy(&bucket.name).await;
                    let mut after =
                        back.as_ref().ok().map(|b| classify(bucket, b.as_deref().map(str::as_bytes), now));
                    for delay in READ_BACK_DELAYS {
                        if after.as_ref().is_some_and(|a| a.state == State::Closed) {
                            break;
                        }
                        tokio::time::sleep(delay).await;
                        back = self.store.get_policy(&bucket.name).await;
                        after = back
                            .as_ref()
                            .ok()
                            .map(|b| classify(bucket, b.as_deref().map(str::as_bytes), now));
                    }
                    match (after, back) {
                        (Some(after), _) => {
                            report.after_hash = after.hash;
                            report.outcome = if after.state == State::Closed {
                                Outcome::Closed
                            } else {
                                Outcome::Unverified(after.to_string())
                            };
                        }
                        (None, Err(e)) => report.outcome = Outcome::Unverified(format!("not read back: {e}")),
                        (None, Ok(_)) => report.outcome = Outcome::Unverified("not read back".into()),
                    }
                }
                Err(PortError::Refused(msg)) => {
                    tracing::error!(
                        bucket = bucket.name.as_str(),
                        error = msg.as_str(),
                        "s3 refused ClosedAccess"
                    );
                    report.outcome = Outcome::Refused(msg);
                }
                Err(e) => return Err(aws(e)),
            }
        }
        tracing::warn!(
            bucket = bucket.name.as_str(),
            outcome = report.outcome.word(),
            reason = reason.as_str(),
            "remediation"
        );
        let event = remediation_event(&report, &c, call, &diff.lines, now);
        Ok((report, Some(event)))
    }

    /// The live policy of `bucket`, read again with backoff while it is not yet what `call` (a
    /// policy put or delete, seen within [`SETTLING`]) left and judging the read would decide
    /// otherwise than judging what the call left. S3's bucket configuration is eventually
    /// consistent: a read soon after an intruder's write that still shows the ClosedAccess it
    /// replaced would hide the write until the next scheduled pass (a template-shaped OpenAccess
    /// until its expiry, as the sweep knows no caller); and a read soon after a lawful opening that
    /// still shows an expired window would close the new one. A read that decides the same (both
    /// closed anyway, or both lawful) is not waited on. Still different after the waits (about
    /// 3.3 s): a later write superseded it (a duplicated or late delivery), or S3 is slower than
    /// the waits; the last read stands, and `true` says so (the call is then judged again later).
    async fn read_after(
        &self,
        bucket: &BucketConfig,
        call: Option<&ApiCall>,
        now: OffsetDateTime,
    ) -> Result<(Option<String>, bool), PortError> {
        let mut live = self.store.get_policy(&bucket.name).await?;
        let Some(call) = call.filter(|call| settling(call, now)) else { return Ok((live, false)) };
        let Some((left, expected)) = left_by(bucket, call, now) else { return Ok((live, false)) };
        let settled = |live: Option<&str>| {
            let read = classify(bucket, live.map(str::as_bytes), now);
            let judged = verdict(bucket, &read, call);
            read.hash == left || (judged == expected && judged != Verdict::Approvals)
        };
        for delay in READ_BACK_DELAYS {
            if settled(live.as_deref()) {
                return Ok((live, false));
            }
            tokio::time::sleep(delay).await;
            live = self.store.get_policy(&bucket.name).await?;
        }
        let unsettled = !settled(live.as_deref());
        Ok((live, unsettled))
    }

    /// The two-person rule: an OpenAccess that no approval in the audit trail covers. A trail that
    /// cannot be read proves nothing: the bucket is closed (fail closed), and the reason says why.
    async fn unapproved(&self, bucket: &BucketConfig, c: &Classification) -> Option<String> {
        let (State::Open(grant), Some(_)) = (&c.state, &bucket.two_person) else { return None };
        match self.records.records(bucket, crate::access::approval::records_since(bucket, grant)).await {
            Ok(records) => crate::access::approval::check(bucket, grant, &records).err(),
            Err(e) => Some(format!(
                "the approvals of the two-person rule could not be read ({e}): closed until they can"
            )),
        }
    }

    /// ACL, public-access-block and ownership changes that weaken the bucket: reported on the bus, and
    /// public access blocked again where the config says so.
    pub(crate) async fn report_exposure(
        &self,
        bucket: &BucketConfig,
        guarded: GuardedCall,
        call: &ApiCall,
    ) -> Result<(), EnforceError> {
        if matches!(
            guarded,
            GuardedCall::PutBucketOwnershipControls | GuardedCall::DeleteBucketOwnershipControls
        ) {
            // The sentinel puts BucketOwnerEnforced back and reports that, repaired.
            return Ok(());
        }
        let Some(what) = exposure(guarded, call) else { return Ok(()) };
        let mut repaired = false;
        let is_pab = matches!(
            guarded,
            GuardedCall::PutBucketPublicAccessBlock | GuardedCall::DeleteBucketPublicAccessBlock
        );
        if is_pab && bucket.repair_public_access_block && !self.dry_run {
            self.store
                .block_public_access(&bucket.name)
                .await
                .map_err(|source| EnforceError::Aws { bucket: bucket.name.clone(), source })?;
            repaired = true;
        }
        let event = Exposure {
            schema: "breakglass.exposure/1".into(),
            bucket: bucket.name.clone(),
            call: guarded.name().to_owned(),
            what,
            repaired,
            event_id: call.event.id.clone(),
            actor: call.actor.arn.clone(),
            actor_role: call.actor.role_arn.clone(),
        };
        self.bus.put(&OwnEvent::Exposure(event).to_bus()).await.map_err(EnforceError::Bus)
    }
}

/// How long after a policy call its event still waits for S3 to show it: an event older than this
/// (a late delivery, Lambda's retry a minute on, a redrive) has had far longer than the waits would
/// give it, and is judged on one read.
pub const SETTLING: time::Duration = time::Duration::minutes(1);

/// Whether `call` is recent enough to wait for (an event without a readable time is), and not
/// already a recheck.
fn settling(call: &ApiCall, now: OffsetDateTime) -> bool {
    let at = call.event.time.as_deref().and_then(crate::time::parse_time);
    !call.recheck && at.is_none_or(|at| now - at < SETTLING)
}

/// What judging a policy decides, before the two-person rule's approvals are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Closed, whatever else.
    Close,
    /// Left as it is.
    Keep,
    /// An OpenAccess of a bucket under the two-person rule: the approvals decide.
    Approvals,
}

fn verdict(bucket: &BucketConfig, c: &Classification, call: &ApiCall) -> Verdict {
    if unlawful(bucket, c, Some(call)).is_some() {
        Verdict::Close
    } else if matches!(c.state, State::Open(_)) && bucket.two_person.is_some() {
        Verdict::Approvals
    } else {
        Verdict::Keep
    }
}

/// The hash of the policy `call` left on `bucket` (`None`: none, after a delete) and what judging it
/// decides, for a policy call that took effect; `None` for any other call.
fn left_by(
    bucket: &BucketConfig,
    call: &ApiCall,
    now: OffsetDateTime,
) -> Option<(Option<PolicyHash>, Verdict)> {
    if call.is_attempt() {
        return None;
    }
    let text = match call.guarded()? {
        GuardedCall::DeleteBucketPolicy => None,
        GuardedCall::PutBucketPolicy => Some(call.policy_text()?),
        _ => return None,
    };
    let left = classify(bucket, text.as_deref().map(str::as_bytes), now);
    Some((left.hash, verdict(bucket, &left, call)))
}

/// Why the live state must be closed, or `None` when it is lawful.
fn unlawful(bucket: &BucketConfig, c: &Classification, call: Option<&ApiCall>) -> Option<String> {
    match &c.state {
        State::Closed => None,
        State::Expired(g) => {
            Some(format!("the OpenAccess expired at {}", canonical_policies::format_expiry(g.expiry)))
        }
        State::Drift(_) => Some(c.to_string()),
        State::Open(_) => {
            // Only blame the caller of *this* call if the policy they put is the one live now; an older
            // call must not be held against a later, lawful opening.
            let call = call.filter(|k| k.guarded() == Some(GuardedCall::PutBucketPolicy))?;
            let put =
                call.policy_text().and_then(|t| Policy::parse_in(t.as_bytes(), &bucket.partition).ok())?;
            if Some(put.hash()) != c.hash {
                return None;
            }
            let authorised =
                call.actor.principal_arns().any(|arn| bucket.automation_principals.contains(arn));
            (!authorised).then(|| {
                format!("OpenAccess was set by {}, who is not a break-glass principal", call.actor.describe())
            })
        }
    }
}

/// A weakening of the bucket's ACL, public-access block or ownership, in words.
pub fn exposure(guarded: GuardedCall, call: &ApiCall) -> Option<String> {
    const PUBLIC: [&str; 2] = ["global/AllUsers", "global/AuthenticatedUsers"];
    match guarded {
        GuardedCall::DeleteBucketPublicAccessBlock => Some("the public-access block was removed".to_owned()),
        GuardedCall::PutBucketPublicAccessBlock => {
            // The put replaces the whole configuration, and a setting it leaves out is off (S3's
            // `PublicAccessBlockConfiguration`: every element optional, false unless set). A record
            // without the configuration shows none on: every setting counts as off (fail closed;
            // the repair turns on what is already on).
            const SETTINGS: [&str; 4] =
                ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"];
            let on = |name: &str| call.public_access_block.iter().any(|(k, v)| k == name && *v);
            let off: Vec<&str> = SETTINGS.into_iter().filter(|s| !on(s)).collect();
            (!off.is_empty()).then(|| format!("public-access-block settings turned off: {}", off.join(", ")))
        }
        GuardedCall::PutBucketAcl => {
            let public: Vec<&str> = call
                .acl_grantees
                .iter()
                .filter(|g| PUBLIC.iter().any(|p| g.contains(p)))
                .map(String::as_str)
                .collect();
            let canned =
                call.canned_acl.as_deref().filter(|a| a.starts_with("public-") || *a == "authenticated-read");
            match (public.is_empty(), canned) {
                (true, None) => None,
                (_, Some(a)) => Some(format!("the bucket ACL was set to `{a}`")),
                (false, None) => Some(format!("the bucket ACL grants {}", public.join(", "))),
            }
        }
        // A record that does not show the setting shows no enforcement: fail closed (the repair
        // puts back what may already be there).
        GuardedCall::PutBucketOwnershipControls => match call.object_ownership.as_deref() {
            Some("BucketOwnerEnforced") => None,
            Some(o) => Some(format!("object ownership set to `{o}`, which turns ACLs back on")),
            None => Some(
                "object ownership set to a value the record does not show, which may turn ACLs back on"
                    .to_owned(),
            ),
        },
        GuardedCall::DeleteBucketOwnershipControls => {
            Some("object ownership controls were removed, which turns ACLs back on".to_owned())
        }
        _ => None,
    }
}

fn remediation_event(
    r: &Report,
    c: &Classification,
    call: Option<&ApiCall>,
    diff: &[String],
    now: OffsetDateTime,
) -> Remediation {
    let reasons: Vec<String> = match &c.state {
        State::Drift(rs) => rs.iter().map(ToString::to_string).collect(),
        _ => r.reason.iter().cloned().collect(),
    };
    Remediation {
        schema: "breakglass.remediation/1".into(),
        bucket: r.bucket.clone(),
        outcome: r.outcome.word().to_owned(),
        error: match &r.outcome {
            Outcome::Refused(m) | Outcome::Unverified(m) => Some(m.clone()),
            _ => None,
        },
        reason: r.reason.clone(),
        reasons,
        before: PolicyState {
            state: c.state.word().to_owned(),
            hash: c.hash.map(|h| h.to_string()),
            claimed: c.claimed.clone(),
        },
        after: PolicyAfter { hash: r.after_hash.map(|h| h.to_string()) },
        diff: diff.to_vec(),
        trigger: call.map(|k| Trigger {
            event_id: k.event.id.clone(),
            event_name: k.event.name.clone(),
            event_time: k.event.time.clone(),
            actor: k.actor.arn.clone(),
            actor_role: k.actor.role_arn.clone(),
        }),
        time: canonical_policies::format_expiry(now),
        digest: None,
    }
}
