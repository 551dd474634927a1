//! The heartbeat: proof that the watch is alive end to end. At every scheduled run the enforcer,
//! for every account and Region in use, re-puts the ClosedAccess of one protected bucket there
//! byte for byte (a guarded call that changes nothing) and asks for [`CANARY_KEY`] in it (a read
//! ClosedAccess refuses), then judges how long ago each half last came back through the whole
//! chain (trail, rule or forwarder, bus, queue, function: [`crate::trail::heartbeat`]). A half
//! quiet for longer than the deadline alarms on both channels, naming account, Region and half.
//!
//! The canary is a protected bucket itself rather than a bucket of its own: its events then take
//! exactly the rules, selectors, forwarders and queues the logs' events take, and nothing of the
//! templates has to list one more bucket.

use std::collections::BTreeMap;

use breakglass_config::{BucketConfig, Config};
use canonical_policies::{classify, State};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::events::{OwnEvent, Place};
use crate::guard::sentinel::repair_event;
use crate::ports::{
    AuditLog, AuditReader, Canary, ControlPlane, EventBus, Notification, PolicyStore, PortError,
};
use crate::trail::audit::Trail;
use crate::trail::heartbeat::{first_sent, last_arrival, mark_first_send, place_of};
pub use crate::trail::heartbeat::{region_label, Half, CANARY_KEY};

/// How often the heartbeat is sent by default: the enforcer's schedule (template.yaml's
/// `rate(15 minutes)` of the sweep rule, whose run sends it).
pub const PERIOD: Duration = Duration::minutes(15);

/// How often the heartbeat is sent and how old its last arrival may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub period: Duration,
    /// This old or older: the half went quiet (two periods unless set).
    pub deadline: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing { period: PERIOD, deadline: PERIOD * 2 }
    }
}

/// How old the last arrival of one half from one place is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Age {
    pub place: Place,
    pub half: Half,
    /// Since the last arrival, or since the first send while nothing has arrived yet (zero before
    /// the first send: a fresh deployment is not quiet).
    pub age: Duration,
    pub last: Option<OffsetDateTime>,
    pub quiet: bool,
}

impl Age {
    pub fn to_json(&self) -> Value {
        json!({
            "account": self.place.account,
            "region": region_label(&self.place),
            "half": self.half.word(),
            "age_seconds": self.age.whole_seconds(),
            "last": self.last.map(crate::time::format_time),
            "quiet": self.quiet,
        })
    }
}

/// The age of a half, and whether it is past the deadline.
pub fn judge(
    last: Option<OffsetDateTime>,
    first_sent: Option<OffsetDateTime>,
    now: OffsetDateTime,
    timing: Timing,
) -> (Duration, bool) {
    let since = last.or(first_sent).unwrap_or(now);
    let age = (now - since).max(Duration::ZERO);
    (age, age >= timing.deadline)
}

/// Every account and Region in use, with its protected buckets in config order.
pub fn places(config: &Config) -> BTreeMap<Place, Vec<&BucketConfig>> {
    let mut out: BTreeMap<Place, Vec<&BucketConfig>> = BTreeMap::new();
    for b in &config.buckets {
        out.entry(place_of(b)).or_default().push(b);
    }
    out
}

/// What one send did at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub place: Place,
    /// The bucket whose ClosedAccess was re-put; `None` when none of the place was closed (its
    /// policy is the enforcer's business then, and re-putting an open one is not harmless).
    pub management: Option<String>,
    /// Whether S3 refused the canary read, as the heartbeat needs it to.
    pub refused: bool,
    pub error: Option<String>,
}

impl Sent {
    fn to_json(&self) -> Value {
        json!({
            "account": self.place.account,
            "region": region_label(&self.place),
            "management": self.management,
            "refused": self.refused,
            "error": self.error,
        })
    }
}

/// Sends both halves to one place.
async fn send_to<S: PolicyStore + Canary>(
    store: &S,
    place: &Place,
    buckets: &[&BucketConfig],
    now: OffsetDateTime,
) -> Result<Sent, PortError> {
    let mut management = None;
    for b in buckets {
        let Some(text) = store.get_policy(&b.name).await? else { continue };
        if matches!(classify(*b, Some(text.as_bytes()), now).state, State::Closed) {
            store.beat_policy(&b.name, &text).await?;
            management = Some(b.name.clone());
            break;
        }
    }
    let canary = buckets.first().map(|b| b.name.as_str()).unwrap_or_default();
    let refused = store.refused_read(canary, CANARY_KEY).await?;
    if !refused {
        tracing::error!(
            bucket = canary,
            "the heartbeat's canary read was not refused: is the bucket closed?"
        );
    }
    Ok(Sent { place: place.clone(), management, refused, error: None })
}

/// Sends the heartbeat to every place in use, and marks the first send to each. A place that fails
/// is reported in its answer and tried again next period; the deadline alarms if it stays so. The
/// first mark that could not be written is given back too: without it a place that never hears
/// back would be judged from "now" on every run, and never alarm.
pub async fn send<S: PolicyStore + Canary, L: AuditLog + AuditReader>(
    config: &Config,
    store: &S,
    trail: &Trail<L>,
    now: OffsetDateTime,
) -> (Vec<Sent>, Result<(), PortError>) {
    let mut out = Vec::new();
    let mut marked = Ok(());
    for (place, buckets) in places(config) {
        if let Err(e) = mark_first_send(trail, &place, now).await {
            tracing::error!(account = place.account.as_str(), error = %e, "first heartbeat send not marked");
            if marked.is_ok() {
                marked = Err(e);
            }
        }
        let sent = send_to(store, &place, &buckets, now).await.unwrap_or_else(|e| {
            tracing::error!(account = place.account.as_str(), region = region_label(&place), error = %e, "heartbeat not sent");
            Sent { place: place.clone(), management: None, refused: false, error: Some(e.to_string()) }
        });
        out.push(sent);
    }
    (out, marked)
}

/// The age of every half of every place in use.
pub async fn check<R: AuditReader>(
    config: &Config,
    reader: &R,
    prefix: &str,
    now: OffsetDateTime,
    timing: Timing,
) -> Result<Vec<Age>, PortError> {
    // Far enough back that a half quiet for a day still shows its true age.
    let lookback = timing.deadline.max(Duration::days(1));
    let mut out = Vec::new();
    for place in places(config).into_keys() {
        let first = first_sent(reader, prefix, &place).await?;
        for half in Half::ALL {
            let last = last_arrival(reader, prefix, &place, half, now, lookback).await?;
            let (age, quiet) = judge(last, first, now, timing);
            out.push(Age { place: place.clone(), half, age, last, quiet });
        }
    }
    Ok(out)
}

fn minutes(d: Duration) -> i64 {
    d.whole_minutes()
}

fn where_(a: &Age) -> String {
    format!("account {} Region {}", a.place.account, region_label(&a.place))
}

fn line(a: &Age, timing: Timing) -> String {
    let since = a.last.map_or_else(
        || "none has arrived since the first send".to_owned(),
        |t| format!("the last arrived {}", crate::time::format_time(t)),
    );
    format!(
        "{}: no {} have come back for {} minutes ({since}; the deadline is {} minutes)",
        where_(a),
        a.half.events(),
        minutes(a.age),
        minutes(timing.deadline)
    )
}

/// The alarm on the second channel: every quiet half, by account, Region and half.
pub fn alarm(quiet: &[&Age], timing: Timing) -> Notification {
    let lines: Vec<String> = quiet.iter().map(|a| line(a, timing)).collect();
    let subject = match quiet {
        [one] => format!("[breakglass] ALERT: heartbeat lost: {} from {}", one.half.events(), where_(one)),
        many => format!("[breakglass] ALERT: heartbeat lost in {} places", many.len()),
    };
    Notification {
        subject,
        default: json!({
            "schema": "breakglass.alarm/1",
            "kind": "heartbeat",
            "quiet": quiet.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
        }),
        email: format!(
            "breakglass no longer sees its own heartbeat come back: what happens there may go unnoticed.\n\n{}\n\nFind what broke on the way (docs/runbook.md, \"Heartbeat\").\n",
            lines.join("\n")
        ),
        attributes: vec![("kind".into(), "alarm".into()), ("severity".into(), "critical".into())],
        second_channel: true,
    }
}

/// The quiet half as a sentinel finding: its `breakglass repair` event is mailed to the security
/// team and recorded by the notifier (the first channel).
pub fn finding(a: &Age, timing: Timing) -> crate::guard::sentinel::Repair {
    crate::guard::sentinel::Repair {
        kind: "heartbeat",
        subject: where_(a),
        what: format!("{} went quiet; {}", a.half.events(), line(a, timing)),
        repaired: false,
        error: None,
    }
}

/// The heartbeat's run at a scheduled invocation: the ages judged from what arrived so far, every
/// quiet half alarmed on both channels, then this period's heartbeat sent. The answer lists both.
pub async fn run<S, L, B, C>(
    config: &Config,
    store: &S,
    trail: &Trail<L>,
    bus: &B,
    control: &C,
    timing: Timing,
    now: OffsetDateTime,
) -> Result<Value, PortError>
where
    S: PolicyStore + Canary,
    L: AuditLog + AuditReader,
    B: EventBus,
    C: ControlPlane,
{
    let ages = check(config, &trail.log, &trail.config.prefix, now, timing).await;
    let (sent, marked) = send(config, store, trail, now).await;
    let ages = ages?;
    let quiet: Vec<&Age> = ages.iter().filter(|a| a.quiet).collect();
    if !quiet.is_empty() {
        // Both channels, each tried whatever the other did: either may be what was broken.
        let second = control.alarm(&alarm(&quiet, timing)).await;
        let mut first = Ok(());
        for a in &quiet {
            if let Err(e) = bus.put(&OwnEvent::Repair(repair_event(&finding(a, timing), now)).to_bus()).await
            {
                first = Err(e);
            }
        }
        second?;
        first?;
    }
    // A first send not marked fails the run (no heartbeat metric: the alarm takes missing data as
    // breaching), rather than leave a place judged young for ever (catalog and heartbeat review).
    marked?;
    Ok(json!({
        "ages": ages.iter().map(Age::to_json).collect::<Vec<_>>(),
        "sent": sent.iter().map(Sent::to_json).collect::<Vec<_>>(),
        "quiet": quiet.len(),
    }))
}
