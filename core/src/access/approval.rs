//! The two-person rule (`two_person = true` on a bucket): one person requests access, another
//! approves it, and only then is the bucket opened, with exactly the approved readers until the
//! approved expiry. People are told apart by the principal ARN STS resolves for them and its
//! session name, never by a name they type. The enforcer holds every OpenAccess of such a bucket
//! against the approvals in the audit trail ([`check`]): writing the policy directly with the
//! operator role, or re-using an approval after its window was closed, is drift and is reverted.

use std::collections::BTreeSet;

use breakglass_config::BucketConfig;
use canonical_policies::{format_expiry, GrantError, HumanDuration, OpenGrant};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::access::operate::grant_of;
use crate::command::command_line;
use crate::events::{AccessRequest, Decision};
use crate::trail::audit::Body;

/// How far an OpenAccess's expiry may lie past the approved one: policies carry whole seconds,
/// and the approver's and the opener's clocks are the same process's, a minute is generous.
pub const EXPIRY_SLACK: Duration = Duration::minutes(1);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("bucket `{0}` has no two-person rule: it is opened directly")]
    NotTwoPerson(String),
    #[error("a {0} is required")]
    Missing(&'static str),
    #[error("the {0} must be one line of at most 500 characters, without control, line-separator, bidirectional or zero-width characters")]
    BadText(&'static str),
    #[error(transparent)]
    Grant(#[from] GrantError),
}

/// Why a decision was refused: recorded and mailed as an attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("`{by}` requested it: an approver must be another person ({why})")]
    SelfApproval { by: String, why: &'static str },
    #[error("`{0}` is not an approver of this bucket (its `approvers` in the config)")]
    NotApprover(String),
    #[error("the request expired at {0}")]
    Expired(String),
    #[error("the request was already {decision} by `{by}` at {time}")]
    Decided { decision: String, by: String, time: String },
    #[error("bucket `{0}` has no two-person rule")]
    NotTwoPerson(String),
    #[error("the request's duration `{0}` is not one")]
    BadDuration(String),
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error("the bucket is open for {readers} until {expiry}, and approving would open more than was asked (the union, until the later expiry): request every reader open now, until then or later, or close the bucket first")]
    Wider { readers: String, expiry: String },
}

/// The session name of an assumed-role ARN (`…:assumed-role/Role/alice` → `alice`).
pub fn session_of(arn: &str) -> Option<&str> {
    arn.split_once(":assumed-role/")?.1.split_once('/').map(|(_, s)| s)
}

/// The name a principal goes by as a person: a session's name, or an IAM user's name. The
/// operator role's trust binds its session name to the IAM user's name (`OperatorSessionName`
/// `IamUserName`, the default), so `user/alice` and `assumed-role/breakglass-operator/alice` are
/// one person, whichever door (the catalog as an IAM user, the gate as the role) each step came
/// through.
fn person_of(arn: &str) -> Option<&str> {
    session_of(arn)
        .or_else(|| arn.split_once(":user/").map(|(_, path)| path.rsplit('/').next().unwrap_or(path)))
}

/// Whether `a` and `b` are the same person as far as AWS can tell: the same principal, or the
/// same name as a person ([`person_of`]: a person assumes a role under their own name; the
/// template's operator trust can enforce that, see docs/deploy.md). `Some(why)` when they are.
pub fn same_person(a: &str, b: &str) -> Option<&'static str> {
    if a == b {
        return Some("the same principal");
    }
    match (person_of(a), person_of(b)) {
        (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => match (session_of(a), session_of(b)) {
            (Some(_), Some(_)) => Some("the same session name"),
            _ => Some("the same user name"),
        },
        _ => None,
    }
}

fn one_line(what: &'static str, v: &str) -> Result<String, RequestError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(RequestError::Missing(what));
    }
    if v.chars().count() > 500 || v.chars().any(crate::notice::breaks_text) {
        return Err(RequestError::BadText(what));
    }
    Ok(v.to_owned())
}

/// A new request: lawful on its own (readers allowed, duration within the maximum) for a bucket
/// under the two-person rule.
pub fn request(
    bucket: &BucketConfig,
    requester: &str,
    reason: &str,
    ticket: &str,
    duration: Duration,
    readers: &BTreeSet<String>,
    now: OffsetDateTime,
) -> Result<AccessRequest, RequestError> {
    let rule = bucket.two_person.as_ref().ok_or_else(|| RequestError::NotTwoPerson(bucket.name.clone()))?;
    let (reason, ticket) = (one_line("reason", reason)?, one_line("ticket", ticket)?);
    let readers = if readers.is_empty() { bucket.investigator_roles.clone() } else { readers.clone() };
    bucket.check_grant(&OpenGrant { readers: readers.clone(), expiry: now + duration }, now)?;
    let time = crate::time::format_time(now);
    let seed = format!("{}\n{requester}\n{time}\n{reason}\n{ticket}\n{duration}\n{readers:?}", bucket.name);
    let id = crate::trail::audit::hex(&Sha256::digest(seed.as_bytes()));
    Ok(AccessRequest {
        schema: "breakglass.access-request/1".into(),
        id: id.get(..12).unwrap_or(&id).to_owned(),
        bucket: bucket.name.clone(),
        requester: requester.to_owned(),
        reason,
        ticket,
        duration: HumanDuration(duration).to_string(),
        readers: readers.into_iter().collect(),
        expires_at: crate::time::format_time(now + rule.request_expiry),
        time,
    })
}

/// `approver`'s decision on `request` (`approve`: approve, else deny), given the decisions already
/// recorded for it and the grant in force now (`live`: an approval that would widen it beyond what
/// was asked is refused, as one must never cut it short).
/// `Err` carries the refused decision, to be recorded and mailed as an attempt, and why.
pub fn decide(
    bucket: &BucketConfig,
    request: &AccessRequest,
    earlier: &[Decision],
    approver: &str,
    approve: bool,
    live: Option<&OpenGrant>,
    now: OffsetDateTime,
) -> Result<Decision, Box<(Decision, Refusal)>> {
    let base = Decision {
        schema: "breakglass.decision/1".into(),
        id: request.id.clone(),
        bucket: request.bucket.clone(),
        decision: String::new(),
        by: approver.to_owned(),
        requester: request.requester.clone(),
        reason: Some(request.reason.clone()),
        ticket: Some(request.ticket.clone()),
        error: None,
        readers: Vec::new(),
        expiry: None,
        time: crate::time::format_time(now),
    };
    let refuse = |r: Refusal| {
        Box::new((Decision { decision: "refused".into(), error: Some(r.to_string()), ..base.clone() }, r))
    };
    let Some(rule) = bucket.two_person.as_ref() else {
        return Err(refuse(Refusal::NotTwoPerson(bucket.name.clone())));
    };
    if let Some(d) = earlier.iter().find(|d| d.id == request.id && d.decision != "refused") {
        return Err(refuse(Refusal::Decided {
            decision: d.decision.clone(),
            by: d.by.clone(),
            time: d.time.clone(),
        }));
    }
    if crate::time::parse_time(&request.expires_at).is_none_or(|t| t <= now) {
        return Err(refuse(Refusal::Expired(request.expires_at.clone())));
    }
    if let Some(why) = same_person(approver, &request.requester) {
        return Err(refuse(Refusal::SelfApproval { by: request.requester.clone(), why }));
    }
    if !rule.may_approve(approver) {
        return Err(refuse(Refusal::NotApprover(approver.to_owned())));
    }
    if !approve {
        return Ok(Decision { decision: "denied".into(), ..base });
    }
    let duration = breakglass_config::parse_duration(&request.duration)
        .ok_or_else(|| refuse(Refusal::BadDuration(request.duration.clone())))?;
    let asked = OpenGrant {
        readers: request.readers.iter().cloned().collect(),
        expiry: (now + duration).replace_nanosecond(0).unwrap_or(now + duration),
    };
    // The readers and duration are checked again against the config in force now.
    bucket.check_grant(&asked, now).map_err(|e| refuse(Refusal::Grant(e)))?;
    // A grant in force is widened, never cut short: the union of readers until the later expiry.
    // An approval opens exactly what was asked, so one that would widen (the asked readers until
    // a later expiry, or the readers open now for longer) is refused; nobody approved that.
    if let Some((readers, expiry)) = crate::access::operate::beyond(live, &asked) {
        return Err(refuse(Refusal::Wider { readers, expiry }));
    }
    let grant = asked;
    Ok(Decision {
        decision: "approved".into(),
        readers: grant.readers.into_iter().collect(),
        expiry: Some(format_expiry(grant.expiry)),
        ..base
    })
}

/// [`decide`] against the bucket's policy in force, read from `store`: the gate's and the CLI's
/// decision. `Err` when the policy cannot be read.
pub async fn decide_live<S: crate::ports::PolicyStore>(
    bucket: &BucketConfig,
    store: &S,
    request: &AccessRequest,
    earlier: &[Decision],
    approver: &str,
    approve: bool,
    now: OffsetDateTime,
) -> Result<Result<Decision, Box<(Decision, Refusal)>>, crate::ports::PortError> {
    let live = store.get_policy(&bucket.name).await?;
    let live = match canonical_policies::classify(bucket, live.as_deref().map(str::as_bytes), now).state {
        canonical_policies::State::Open(g) => Some(g),
        _ => None,
    };
    Ok(decide(bucket, request, earlier, approver, approve, live.as_ref(), now))
}

/// The `breakglass approve|deny` command for request `id`, pasteable as printed: the bucket, the
/// account in organisation mode, and `--config` when the caller knows the path (the mail does not:
/// it tells the reader to set `BREAKGLASS_CONFIG` instead).
pub fn decide_command(
    verb: &str,
    id: &str,
    bucket: &str,
    account: Option<&str>,
    config: Option<&str>,
) -> String {
    let mut flags = vec![("--bucket", bucket)];
    flags.extend(account.map(|a| ("--account", a)));
    command_line(&[verb, id], config, &flags)
}

/// The access requests and decisions among a bucket's audit records (their `detail`).
pub fn from_records(records: &[Value]) -> (Vec<AccessRequest>, Vec<Decision>) {
    let bodies: Vec<Body> = records.iter().filter_map(|r| Body::deserialize(r).ok()).collect();
    of_bodies(bodies.iter())
}

/// The access requests and decisions among a bucket's audit records that breakglass made
/// ([`crate::trail::audit::made_by_breakglass`]): the only ones the gate acts on.
pub fn from_gate_records(records: &[Value]) -> (Vec<AccessRequest>, Vec<Decision>) {
    let bodies: Vec<Body> = records
        .iter()
        .filter_map(|r| Body::deserialize(r).ok())
        .filter(crate::trail::audit::made_by_breakglass)
        .collect();
    of_bodies(bodies.iter())
}

fn of_bodies<'a>(bodies: impl IntoIterator<Item = &'a Body>) -> (Vec<AccessRequest>, Vec<Decision>) {
    let (mut requests, mut decisions) = (Vec::new(), Vec::new());
    for head in bodies {
        if head.kind != "approval" {
            continue;
        }
        if head.action == "requested" {
            requests.extend(AccessRequest::deserialize(&head.detail).ok());
        } else {
            decisions.extend(Decision::deserialize(&head.detail).ok());
        }
    }
    (requests, decisions)
}

/// From when a bucket's records can hold an approval covering the OpenAccess `live`: an approval
/// opens for at most `max_open_duration` from when it was given; a day more covers a maximum that
/// was shortened since.
pub fn records_since(bucket: &BucketConfig, live: &OpenGrant) -> OffsetDateTime {
    // The request lies up to its expiry before the approval.
    let asked = bucket.two_person.as_ref().map_or(Duration::ZERO, |r| r.request_expiry);
    live.expiry - bucket.max_open_duration - asked - Duration::days(1)
}

/// Whether the OpenAccess `live` of `bucket` is covered by an approval in its audit records:
/// an approval the gate recorded, of a request the gate (or the catalog) recorded from another person, that names
/// every reader and an expiry at least as late, and whose window was not closed since (an approval
/// opens one window, not every later one). A request or decision anyone else wrote (a bus event
/// the notifier recorded) covers nothing: it is forged. `Err(why)` when not covered.
pub fn check(bucket: &BucketConfig, live: &OpenGrant, records: &[Value]) -> Result<(), String> {
    if bucket.two_person.is_none() {
        return Ok(());
    }
    // Each record parsed once, for the decisions and the closes.
    let bodies: Vec<Body> = records.iter().filter_map(|r| Body::deserialize(r).ok()).collect();
    let (requests, decisions) =
        of_bodies(bodies.iter().filter(|b| crate::trail::audit::made_by_breakglass(b)));
    let asked = |d: &Decision| {
        requests.iter().any(|q| {
            q.id == d.id
                && q.bucket == d.bucket
                && q.requester == d.requester
                && same_person(&d.by, &q.requester).is_none()
        })
    };
    let closes = closes(&bodies);
    let covering = decisions.iter().filter(|d| d.bucket == bucket.name && asked(d)).find(|d| {
        let (Some(g), Some(at)) = (grant_of(d), crate::time::parse_time(&d.time)) else { return false };
        live.readers.is_subset(&g.readers)
            && live.expiry <= g.expiry + EXPIRY_SLACK
            && !closes.iter().any(|c| *c > at)
    });
    match covering {
        Some(_) => Ok(()),
        None => Err(format!(
            "OpenAccess for {} until {} has no approval by the gate in the audit trail (two-person rule)",
            live.readers.iter().cloned().collect::<Vec<_>>().join(", "),
            format_expiry(live.expiry)
        )),
    }
}

/// When the bucket was closed, by the records among `bodies`: a person's close, a remediation, the
/// expiry sweep.
fn closes(bodies: &[Body]) -> Vec<OffsetDateTime> {
    bodies
        .iter()
        .filter(|h| {
            (h.kind == "request" && h.action == "close")
                || (matches!(h.kind.as_str(), "remediation" | "expiry") && h.action == "closed")
        })
        .filter_map(|h| crate::time::parse_time(&h.time))
        .collect()
}

/// Whether the bucket was closed after `at`, by its `records`: an approval opens one window, and
/// once that window was closed it opens nothing again.
pub fn closed_since(records: &[Value], at: OffsetDateTime) -> bool {
    let bodies: Vec<Body> = records.iter().filter_map(|r| Body::deserialize(r).ok()).collect();
    closes(&bodies).iter().any(|c| *c > at)
}

/// No audit trail to read: every OpenAccess of a bucket under the two-person rule is unapproved
/// (fail closed). For tools that run without the trail.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRecords;

impl crate::ports::BucketRecords for NoRecords {
    async fn records(
        &self,
        _: &BucketConfig,
        _: OffsetDateTime,
    ) -> Result<Vec<Value>, crate::ports::PortError> {
        Ok(Vec::new())
    }
}

/// A bucket's records from the audit trail (`[<account>/]<bucket>/` under the trail's prefix).
#[derive(Debug, Clone)]
pub struct TrailRecords<R> {
    pub reader: R,
    pub prefix: String,
    pub organisation: bool,
}

impl<R: crate::ports::AuditReader> crate::ports::BucketRecords for TrailRecords<R> {
    async fn records(
        &self,
        bucket: &BucketConfig,
        since: OffsetDateTime,
    ) -> Result<Vec<Value>, crate::ports::PortError> {
        let place = if self.organisation {
            format!("{}/{}", bucket.account, bucket.name)
        } else {
            bucket.name.clone()
        };
        crate::trail::report::history_records(&self.reader, &self.prefix, &place, Some(since)).await
    }
}

impl<R: crate::ports::AuditReader> crate::ports::PlaceRecords for TrailRecords<R> {
    async fn place_records(
        &self,
        place: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<Value>, crate::ports::PortError> {
        crate::trail::report::history_records(&self.reader, &self.prefix, place, Some(since)).await
    }
}

/// `None`: no trail configured, as [`NoRecords`].
impl<T: crate::ports::BucketRecords> crate::ports::BucketRecords for Option<T> {
    async fn records(
        &self,
        bucket: &BucketConfig,
        since: OffsetDateTime,
    ) -> Result<Vec<Value>, crate::ports::PortError> {
        match self {
            Some(t) => t.records(bucket, since).await,
            None => Ok(Vec::new()),
        }
    }
}
