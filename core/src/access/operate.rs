//! Breaking the glass: opening and closing a bucket on an operator's request.
//!
//! Rules (docs in the README): a request needs a reason and a ticket; readers must be investigator
//! roles of the bucket and the expiry within its maximum. Opening an already open bucket never cuts
//! a grant short: readers are added to the existing ones and the later expiry wins. A bucket in drift
//! is not opened (someone must look first); closing is always allowed. Every request is written,
//! read back, and published as a `breakglass request` event, so the notifier can say *why*.

use std::collections::BTreeSet;

use breakglass_config::BucketConfig;
use canonical_policies::{classify, format_expiry, GrantError, OpenGrant, Policy, State};
use time::{Duration, OffsetDateTime};

use crate::events::{self, Decision, OwnEvent};
use crate::ports::{EventBus, PolicyStore, PortError};

/// Longest reason or ticket accepted: they go into emails and audit records.
const MAX_TEXT: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperateError {
    #[error("a {0} is required")]
    Missing(&'static str),
    #[error("the {0} must be one line of at most 500 characters, without control, line-separator, bidirectional or zero-width characters")]
    BadText(&'static str),
    #[error("the duration must be positive")]
    BadDuration,
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error(
        "bucket `{bucket}` is not in a lawful state ({state}): have it closed or investigated before opening"
    )]
    Drift { bucket: String, state: String },
    #[error("bucket `{bucket}`: {source}")]
    Aws { bucket: String, source: PortError },
    #[error("bucket `{bucket}`: wrote the policy but read back `{found}`; try again")]
    NotVerified { bucket: String, found: String },
    #[error("the policy was written but the request event could not be published: {0}")]
    Bus(PortError),
    #[error(
        "bucket `{0}` is under the two-person rule: it opens on a request that another approver approves"
    )]
    NeedsApproval(String),
    #[error("bucket `{bucket}` is open wider now ({readers} until {expiry}) than this approval: opening it as approved would cut that grant short")]
    OpenWider { bucket: String, readers: String, expiry: String },
}

/// An operator's request to open a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRequest {
    pub reason: String,
    pub ticket: String,
    pub duration: Duration,
    /// Empty: every investigator role of the bucket.
    pub readers: BTreeSet<String>,
}

/// What a request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub bucket: String,
    /// The grant now in force (`None` after closing).
    pub grant: Option<OpenGrant>,
    /// The grant that was in force before, if any.
    pub previous: Option<OpenGrant>,
    pub policy_hash: String,
    /// The request event put on the bus: what the gate answers and `--json` prints.
    pub event: events::Request,
}

fn text(what: &'static str, value: &str) -> Result<String, OperateError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(OperateError::Missing(what));
    }
    if v.chars().count() > MAX_TEXT || v.chars().any(crate::notice::breaks_text) {
        return Err(OperateError::BadText(what));
    }
    Ok(v.to_owned())
}

/// What a refused request said, for the record: one line, at most MAX_TEXT characters (it was not
/// validated, which may be why it was refused).
fn clip(value: &str) -> String {
    value.trim().chars().map(|c| if crate::notice::breaks_text(c) { ' ' } else { c }).take(MAX_TEXT).collect()
}

/// Puts a `breakglass request` event on the bus.
async fn request_event<B: EventBus>(bus: &B, request: &events::Request) -> Result<(), PortError> {
    bus.put(&OwnEvent::Request(request.clone()).to_bus()).await
}

fn grant_doc(g: Option<&OpenGrant>) -> Option<events::Grant> {
    g.map(|g| events::Grant { readers: g.readers.iter().cloned().collect(), expiry: format_expiry(g.expiry) })
}

/// Opens `bucket` (or widens and extends its current OpenAccess). A request refused for what it
/// asks (no reason, reader not allowed, too long, bucket in drift) is itself published as a refused
/// request, so stakeholders and the audit trail see attempts too, not only grants.
/// What `request` asks of `bucket`, checked on its own: a reason and a ticket (one line each),
/// a positive duration within the bucket's maximum, readers among its investigator roles (none
/// named: all of them). The gate checks it before writing.
fn checked(
    bucket: &BucketConfig,
    request: &OpenRequest,
    now: OffsetDateTime,
) -> Result<(String, String, OpenGrant), OperateError> {
    let reason = text("reason", &request.reason)?;
    let ticket = text("ticket", &request.ticket)?;
    if !request.duration.is_positive() {
        return Err(OperateError::BadDuration);
    }
    let readers =
        if request.readers.is_empty() { bucket.investigator_roles.clone() } else { request.readers.clone() };
    // Policies carry whole seconds.
    let expiry = now + request.duration;
    let asked = OpenGrant { readers, expiry: expiry.replace_nanosecond(0).unwrap_or(expiry) };
    // The request on its own must be lawful: allowed readers, expiry within the maximum.
    bucket.check_grant(&asked, now)?;
    Ok((reason, ticket, asked))
}

pub async fn open<S: PolicyStore, B: EventBus>(
    bucket: &BucketConfig,
    store: &S,
    bus: &B,
    request: &OpenRequest,
    requester: &str,
    now: OffsetDateTime,
) -> Result<Done, OperateError> {
    // The checks and the write; a refusal among their errors is published below.
    let result: Result<Done, OperateError> = async {
        if bucket.two_person.is_some() {
            return Err(OperateError::NeedsApproval(bucket.name.clone()));
        }
        let (reason, ticket, asked) = checked(bucket, request, now)?;
        let (previous, before_hash) = live_grant(bucket, store, now).await?;
        let grant = widened(previous.as_ref(), asked);
        let opening = Opening { reason, ticket, grant, previous, before_hash };
        write_open(bucket, store, bus, opening, requester, now).await
    }
    .await;
    if let Err(e) = &result {
        if e.is_refusal() {
            publish_refusal(bus, &bucket.name, requester, request, &e.to_string(), now).await;
        }
    }
    result
}

/// Publishes `request` of `requester` as refused for `why` (its texts clipped: they were not
/// validated, which may be why it was refused), so that stakeholders and the audit trail see
/// attempts too. Best effort: the refusal itself is what the operator must see.
pub(crate) async fn publish_refusal<B: EventBus>(
    bus: &B,
    bucket: &str,
    requester: &str,
    request: &OpenRequest,
    why: &str,
    now: OffsetDateTime,
) {
    let event = events::Request {
        action: "open".into(),
        outcome: Some("refused".into()),
        error: Some(why.to_owned()),
        reason: Some(clip(&request.reason)),
        ticket: Some(clip(&request.ticket)),
        readers: Some(request.readers.iter().take(20).map(|r| clip(r)).collect()),
        duration: Some(canonical_policies::HumanDuration(request.duration).to_string()),
        ..events::Request::new(bucket, requester, crate::time::format_time(now))
    };
    if let Err(bus_error) = request_event(bus, &event).await {
        tracing::error!(error = %bus_error, "refused request could not be published");
    }
}

impl OperateError {
    /// Refused because of what was asked, not because AWS failed.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            OperateError::Missing(_)
                | OperateError::BadText(_)
                | OperateError::BadDuration
                | OperateError::Grant(_)
                | OperateError::Drift { .. }
                | OperateError::NeedsApproval(_)
                | OperateError::OpenWider { .. }
        )
    }
}

/// The grant in force (`None` when closed or expired) and the live policy's hash; a bucket in drift
/// is not opened (someone must look first).
async fn live_grant<S: PolicyStore>(
    bucket: &BucketConfig,
    store: &S,
    now: OffsetDateTime,
) -> Result<(Option<OpenGrant>, Option<String>), OperateError> {
    let live = store
        .get_policy(&bucket.name)
        .await
        .map_err(|source| OperateError::Aws { bucket: bucket.name.clone(), source })?;
    let before = classify(bucket, live.as_deref().map(str::as_bytes), now);
    match &before.state {
        State::Open(g) => Ok((Some(g.clone()), before.hash.map(|h| h.to_string()))),
        State::Closed | State::Expired(_) => Ok((None, before.hash.map(|h| h.to_string()))),
        State::Drift(_) => {
            Err(OperateError::Drift { bucket: bucket.name.clone(), state: before.to_string() })
        }
    }
}

/// The approved grant of a decision.
pub fn grant_of(d: &Decision) -> Option<OpenGrant> {
    (d.decision == "approved").then_some(())?;
    Some(OpenGrant {
        readers: d.readers.iter().cloned().collect(),
        expiry: d.expiry.as_deref().and_then(crate::time::parse_time)?,
    })
}

/// The grant in force `live`, as a refusal names it (readers, expiry), when it reaches beyond
/// `asked` (a reader `asked` lacks, or a later expiry): opening exactly `asked` would then cut it
/// short, and opening the union would open more than was asked.
pub(crate) fn beyond(live: Option<&OpenGrant>, asked: &OpenGrant) -> Option<(String, String)> {
    let live = live.filter(|l| widened(Some(l), asked.clone()) != *asked)?;
    let readers: Vec<String> = live.readers.iter().map(|r| format!("`{r}`")).collect();
    Some((readers.join(", "), format_expiry(live.expiry)))
}

/// `asked` on top of the grant in force: never cut short, so the union of the readers and the
/// later expiry.
pub fn widened(live: Option<&OpenGrant>, asked: OpenGrant) -> OpenGrant {
    match live {
        Some(p) => OpenGrant {
            readers: p.readers.union(&asked.readers).cloned().collect(),
            expiry: p.expiry.max(asked.expiry),
        },
        None => asked,
    }
}

/// What an open writes and tells: the grant, and why.
struct Opening {
    reason: String,
    ticket: String,
    grant: OpenGrant,
    previous: Option<OpenGrant>,
    before_hash: Option<String>,
}

async fn write_open<S: PolicyStore, B: EventBus>(
    bucket: &BucketConfig,
    store: &S,
    bus: &B,
    o: Opening,
    requester: &str,
    now: OffsetDateTime,
) -> Result<Done, OperateError> {
    // Lawful by construction (both parts are), so render without re-checking: an existing grant may
    // lie a few minutes past the maximum because of the opener's clock skew.
    let policy = bucket.render_open_unchecked(&o.grant).map_err(GrantError::Render)?;
    let policy_hash = write_verified(bucket, store, &policy, now).await?;
    let event = events::Request {
        action: "open".into(),
        reason: Some(o.reason),
        ticket: Some(o.ticket),
        grant: grant_doc(Some(&o.grant)),
        previous: grant_doc(o.previous.as_ref()),
        before_hash: o.before_hash,
        policy_hash: Some(policy_hash.clone()),
        ..events::Request::new(&bucket.name, requester, crate::time::format_time(now))
    };
    request_event(bus, &event).await.map_err(OperateError::Bus)?;
    Ok(Done { bucket: bucket.name.clone(), grant: Some(o.grant), previous: o.previous, policy_hash, event })
}

/// Opens `bucket` as an approved decision of the two-person rule says: exactly its readers until
/// its expiry (an approval that would have widened the grant in force was refused). `approver`
/// writes it; the request's reason and ticket go with it, naming the request and both people.
pub async fn open_approved<S: PolicyStore, B: EventBus>(
    bucket: &BucketConfig,
    store: &S,
    bus: &B,
    decision: &events::Decision,
    approver: &str,
    now: OffsetDateTime,
) -> Result<Done, OperateError> {
    let grant = grant_of(decision).ok_or(OperateError::Missing("approved grant"))?;
    let (previous, before_hash) = live_grant(bucket, store, now).await?;
    bucket.check_grant(&grant, now)?;
    // A grant in force is never cut short: one wider than the approval (opened by a later
    // approval, before this one was resumed) stays, and this opening is refused.
    if let Some((readers, expiry)) = beyond(previous.as_ref(), &grant) {
        return Err(OperateError::OpenWider { bucket: bucket.name.clone(), readers, expiry });
    }
    let reason = format!(
        "{} (request {} of {}, approved by {approver})",
        decision.reason.as_deref().unwrap_or("no reason"),
        decision.id,
        decision.requester
    );
    let opening = Opening {
        reason: clip(&reason),
        ticket: clip(decision.ticket.as_deref().unwrap_or("none")),
        grant,
        previous,
        before_hash,
    };
    write_open(bucket, store, bus, opening, approver, now).await
}

/// Closes `bucket`: ClosedAccess, whatever the state was.
pub async fn close<S: PolicyStore, B: EventBus>(
    bucket: &BucketConfig,
    store: &S,
    bus: &B,
    reason: &str,
    requester: &str,
    now: OffsetDateTime,
) -> Result<Done, OperateError> {
    let reason = text("reason", reason)?;
    let aws = |source| OperateError::Aws { bucket: bucket.name.clone(), source };
    let live = store.get_policy(&bucket.name).await.map_err(aws)?;
    let before = classify(bucket, live.as_deref().map(str::as_bytes), now);
    let previous = match &before.state {
        State::Open(g) | State::Expired(g) => Some(g.clone()),
        State::Closed | State::Drift(_) => None,
    };
    let policy_hash = write_verified(bucket, store, bucket.closed_policy(), now).await?;
    let event = events::Request {
        action: "close".into(),
        reason: Some(reason),
        previous: grant_doc(previous.as_ref()),
        previous_state: Some(before.state.word().to_owned()),
        before_hash: before.hash.map(|h| h.to_string()),
        policy_hash: Some(policy_hash.clone()),
        ..events::Request::new(&bucket.name, requester, crate::time::format_time(now))
    };
    request_event(bus, &event).await.map_err(OperateError::Bus)?;
    Ok(Done { bucket: bucket.name.clone(), grant: None, previous, policy_hash, event })
}

/// Writes `policy`, reads it back, and checks the hash.
async fn write_verified<S: PolicyStore>(
    bucket: &BucketConfig,
    store: &S,
    policy: &Policy,
    now: OffsetDateTime,
) -> Result<String, OperateError> {
    let aws = |source| OperateError::Aws { bucket: bucket.name.clone(), source };
    let want = policy.hash();
    store.put_policy(&bucket.name, &policy.to_pretty_json()).await.map_err(aws)?;
    let back = store.get_policy(&bucket.name).await.map_err(aws)?;
    let got = classify(bucket, back.as_deref().map(str::as_bytes), now);
    if got.hash != Some(want) {
        return Err(OperateError::NotVerified { bucket: bucket.name.clone(), found: got.to_string() });
    }
    Ok(want.to_string())
}
