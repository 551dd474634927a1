//! The heartbeat's arrivals: which CloudTrail events are breakglass's own heartbeat, the marks the
//! functions that receive them leave in the audit trail, and how old the last one is. The sending
//! and the alarm are the enforcer's ([`crate::guard::heartbeat`]).
//!
//! A heartbeat is recognised by its caller alone: breakglass's enforcer role (in organisation mode
//! the member role of the bucket's account, as session `breakglass-enforcer`), on a protected bucket
//! of that account. A call that only looks like one, made by anybody else, is an ordinary call and
//! is mailed and recorded as such.

use breakglass_config::{BucketConfig, Config};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::events::{ObjectRead, Place};
use crate::inbound::event::ApiCall;
use crate::ports::{Appended, AuditLog, AuditReader, PortError};
use crate::trail::audit::Trail;

/// Where the marks live, under the audit trail's prefix.
pub const HEARTBEAT: &str = "_heartbeat";
/// The object the refused read asks for. It need not exist: ClosedAccess refuses the read first.
pub const CANARY_KEY: &str = "breakglass-heartbeat";
/// The application name the heartbeat's S3 calls carry in their user agent (CloudTrail's
/// `userAgent`): it tells the heartbeat's policy re-put from the enforcer's own repairs, which the
/// same role makes. The caller, not this name, is what is trusted.
pub const AGENT: &str = "breakglass-heartbeat";
/// The enforcer's role (single-account mode) and its session name in the member role (organisation).
pub const ENFORCER: &str = "breakglass-enforcer";
/// The Region segment of a bucket configured without one (the deployment's own Region).
pub const HOME: &str = "home";
const SCHEMA: &str = "breakglass.heartbeat/1";

/// Which half of the path a heartbeat proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Half {
    /// The guarded call: trail, rule (or forwarder and central bus), enforcer and notifier.
    Management,
    /// The refused read: data-event trail, read rule, reads queue, recorder.
    Data,
}

impl Half {
    pub const ALL: [Half; 2] = [Half::Management, Half::Data];

    /// The word in keys, answers and metric dimensions.
    pub fn word(self) -> &'static str {
        match self {
            Half::Management => "management",
            Half::Data => "data",
        }
    }

    /// What went quiet, for a person.
    pub fn events(self) -> &'static str {
        match self {
            Half::Management => "management events",
            Half::Data => "data events",
        }
    }
}

/// One heartbeat that arrived: where from, which half, and its CloudTrail event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    pub place: Place,
    pub half: Half,
    pub event_id: Option<String>,
    pub event_time: Option<String>,
}

/// The account and Region a bucket is in.
pub fn place_of(bucket: &BucketConfig) -> Place {
    Place { account: bucket.account.clone(), region: bucket.region.clone() }
}

/// The Region of `place` as keys and mails name it.
pub fn region_label(place: &Place) -> &str {
    place.region.as_deref().unwrap_or(HOME)
}

/// The role (`sessionContext.sessionIssuer.arn`) and, in organisation mode, the session name the
/// heartbeat on `bucket` is made as.
fn own_caller(config: &Config, bucket: &BucketConfig) -> (String, Option<&'static str>) {
    match &config.organisation {
        Some(org) => (org.member_role_arn(&bucket.partition, &bucket.account), Some(ENFORCER)),
        None => (format!("arn:{}:iam::{}:role/{ENFORCER}", bucket.partition, bucket.account), None),
    }
}

/// Whether `role` and `session` are breakglass's own caller for `bucket`, and the event came from
/// the bucket's account.
fn is_own(
    config: &Config,
    bucket: &BucketConfig,
    role: Option<&str>,
    session: Option<&str>,
    accounts: &[String],
) -> bool {
    let (own_role, own_session) = own_caller(config, bucket);
    // The role's ARN names the bucket's account; organisation mode also checks where the event
    // came from, as every event there is checked (`inbound::route`).
    let from_owner = config.organisation.is_none()
        || (!accounts.is_empty() && accounts.iter().all(|a| *a == bucket.account));
    role == Some(own_role.as_str()) && own_session.is_none_or(|s| session == Some(s)) && from_owner
}

/// The management half: the heartbeat's own `PutBucketPolicy` on a protected bucket, accepted.
pub fn management(call: &ApiCall, config: &Config) -> Option<Beat> {
    let s3 = call.event_source.as_deref() == Some("s3.amazonaws.com");
    if !s3 || call.event.name != "PutBucketPolicy" || call.is_attempt() {
        return None;
    }
    if !call.event.user_agent.as_deref().is_some_and(|ua| ua.contains(AGENT)) {
        return None;
    }
    let bucket = config.bucket(call.bucket.as_deref()?)?;
    let actor = &call.actor;
    is_own(config, bucket, actor.role_arn.as_deref(), actor.session.as_deref(), &call.accounts).then(|| {
        Beat {
            place: place_of(bucket),
            half: Half::Management,
            event_id: call.event.id.clone(),
            event_time: call.event.time.clone(),
        }
    })
}

/// The data half: the heartbeat's `GetObject` of [`CANARY_KEY`], refused with `AccessDenied`.
pub fn data(read: &ObjectRead, config: &Config) -> Option<Beat> {
    if read.call != "GetObject" || read.key.as_deref() != Some(CANARY_KEY) || !read.denied() {
        return None;
    }
    let bucket = config.bucket(&read.bucket)?;
    let accounts: Vec<String> = read.account.iter().cloned().collect();
    is_own(config, bucket, read.role.as_deref(), read.session.as_deref(), &accounts).then(|| Beat {
        place: place_of(bucket),
        half: Half::Data,
        event_id: Some(read.event_id.clone()),
        event_time: Some(read.time.clone()),
    })
}

/// `<prefix>_heartbeat/<account>/<region>/<half>/`: the arrivals of one half, one key per arrival
/// under `<day>/<arrival time>-<event id>`, so that the last one is the last key of the latest day.
fn arrivals_dir(prefix: &str, place: &Place, half: Half) -> String {
    format!("{prefix}{HEARTBEAT}/{}/{}/{}/", place.account, region_label(place), half.word())
}

/// `<prefix>_heartbeat/sent/<account>/<region>/`: the first send to a place (its time in the key),
/// the age's base until the first arrival.
pub fn sent_dir(prefix: &str, place: &Place) -> String {
    format!("{prefix}{HEARTBEAT}/sent/{}/{}/", place.account, region_label(place))
}

fn day(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Writes the arrival mark of `beat`, received at `now`. The mark is named by the time the
/// heartbeat was sent (its CloudTrail `eventTime`; only breakglass's own caller makes one): the age
/// judged from it is how long ago the last heartbeat that made it all the way was sent.
pub async fn arrive<L: AuditLog>(
    trail: &Trail<L>,
    beat: &Beat,
    now: OffsetDateTime,
) -> Result<(), PortError> {
    let sent = beat.event_time.as_deref().and_then(crate::time::parse_time).unwrap_or(now);
    let stamp = crate::time::format_time(sent);
    let arrived = crate::time::format_time(now);
    // The event id keeps two arrivals within one millisecond apart; only key-safe characters of it.
    let id: String = beat
        .event_id
        .as_deref()
        .unwrap_or("none")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(36)
        .collect();
    let key =
        format!("{}{}/{stamp}-{id}", arrivals_dir(&trail.config.prefix, &beat.place, beat.half), day(sent));
    let body = json!({
        "schema": SCHEMA,
        "kind": "heartbeat",
        "account": beat.place.account,
        "region": region_label(&beat.place),
        "half": beat.half.word(),
        "event_id": beat.event_id,
        "event_time": beat.event_time,
        "arrived": arrived,
    });
    match trail.log.append(&key, &body.to_string(), now + trail.config.retain).await? {
        Appended::Written | Appended::AlreadyThere => Ok(()),
    }
}

/// The time in the last key under `dir` (`…/<time>-<id>` or `…/<time>`).
fn last_time(keys: &[String], dir: &str) -> Option<OffsetDateTime> {
    keys.iter()
        .filter_map(|k| {
            let name = k.strip_prefix(dir)?.rsplit('/').next()?;
            // RFC 3339 in UTC ends with `Z`; what follows it is the event id.
            let end = name.find('Z')?;
            crate::time::parse_time(name.get(..=end)?)
        })
        .max()
}

/// When the last heartbeat of `half` arrived from `place`, looking back `lookback` from `now`.
pub async fn last_arrival<R: AuditReader>(
    reader: &R,
    prefix: &str,
    place: &Place,
    half: Half,
    now: OffsetDateTime,
    lookback: Duration,
) -> Result<Option<OffsetDateTime>, PortError> {
    let dir = arrivals_dir(prefix, place, half);
    // Newest day first: the first day with an arrival holds the last one.
    let days = lookback.whole_days().max(0) + 1;
    for back in 0..=days {
        let d = format!("{dir}{}/", day(now - Duration::days(back)));
        let keys = reader.keys(&d, None).await?;
        if let Some(t) = last_time(&keys, &d) {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// When breakglass first sent a heartbeat to `place`, if it ever did.
pub async fn first_sent<R: AuditReader>(
    reader: &R,
    prefix: &str,
    place: &Place,
) -> Result<Option<OffsetDateTime>, PortError> {
    let dir = sent_dir(prefix, place);
    let keys = reader.keys(&dir, None).await?;
    Ok(keys.iter().filter_map(|k| crate::time::parse_time(k.strip_prefix(&dir)?)).min())
}

/// Marks the first send to `place` at `now`, unless one is there.
pub async fn mark_first_send<L: AuditLog + AuditReader>(
    trail: &Trail<L>,
    place: &Place,
    now: OffsetDateTime,
) -> Result<(), PortError> {
    let prefix = &trail.config.prefix;
    if first_sent(&trail.log, prefix, place).await?.is_some() {
        return Ok(());
    }
    let key = format!("{}{}", sent_dir(prefix, place), crate::time::format_time(now));
    let body = json!({ "schema": SCHEMA, "kind": "first-sent", "account": place.account, "region": region_label(place) });
    trail.log.append(&key, &body.to_string(), now + trail.config.retain).await.map(|_| ())
}

/// The heartbeats among `incoming`'s calls, taken out: what is left is mailed and recorded as
/// usual (`None` when nothing is), the heartbeats are only marked as arrived.
pub fn screen(
    config: &Config,
    incoming: crate::inbound::event::Incoming,
) -> (Option<crate::inbound::event::Incoming>, Vec<Beat>) {
    use crate::inbound::event::Incoming;
    let Incoming::ApiCalls(calls) = incoming else { return (Some(incoming), Vec::new()) };
    let mut beats = Vec::new();
    let mut rest = Vec::new();
    for call in calls {
        match management(&call, config) {
            Some(beat) => beats.push(beat),
            None => rest.push(call),
        }
    }
    let rest = (!rest.is_empty() || beats.is_empty()).then_some(Incoming::ApiCalls(rest));
    (rest, beats)
}
