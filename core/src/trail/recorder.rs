//! The recorder: CloudTrail data events of object reads on the protected buckets, batched through
//! SQS, into the audit trail. Per batch it writes
//!
//! - one `reads` record per bucket with every read of that bucket in the batch (who, which object and
//!   version, bytes, from where, when, outcome), under `_reads/[<account>/]<bucket>/`;
//! - one `denied` record per read that the bucket policy refused, under
//!   `_denied/<slot>/[<account>/]<bucket>/`, where `<slot>` is the 5-minute slot in which it was
//!   recorded: the digest run ([`digest`]) mails each slot once, so no refused read goes unmailed,
//!   however late CloudTrail delivers it;
//! - one `unreadable` record per message it cannot read (malformed, truncated, foreign), under
//!   `_unreadable/`, and one alert for all of them;
//! - an alert when a read succeeded for a principal that is not one of the bucket's investigator
//!   roles.
//!
//! It answers with the ids of the messages whose records could not be written (SQS partial batch
//! response), so those alone come back; memory is O(batch). Every record is the same typed struct
//! when read back ([`ReadRecord`]).

use futures_util::stream::{self, StreamExt as _};
use std::collections::BTreeMap;

use breakglass_config::Config;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::events::ObjectRead;
use crate::events::{DeniedBy, DeniedDigest, OwnEvent, ReadAlert, UnreadableEvents, UnreadableItem};
use crate::inbound::reads;
use crate::ports::{AuditLog, AuditReader, EventBus, PortError};
use crate::trail::audit::{hex, Trail, Written};
use crate::trail::records::{ReadRecord, DENIED, READS, READS_SCHEMA};
use crate::trail::slots::{bucket_of, digest_window, markers, read_slots, DigestWindow, Slot};
pub use crate::trail::slots::{slot_of, LOOKBACK};

pub const UNREADABLE: &str = "_unreadable";
pub const DIGESTS: &str = "_digests";
/// The digest's period: at most one mail per bucket per slot (the schedule's rate).
pub const SLOT: Duration = Duration::minutes(5);
/// How long after a window closed its access report is made: CloudTrail delivers data events
/// within minutes, and a report made at once would miss the last reads.
pub const REPORT_DELAY: Duration = Duration::minutes(10);
pub const CLOSING: &str = "_closing";
pub const REPORTS: &str = "_reports";
/// How far back the schedule looks for closed windows without a report.
pub const REPORT_LOOKBACK: Duration = Duration::days(2);

/// The recorder's clock: the digest slot and the report delay (tests shorten both through the
/// settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub slot: Duration,
    pub report_delay: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { slot: SLOT, report_delay: REPORT_DELAY }
    }
}

/// How many reads an alert lists (the record has them all).
const LISTED: usize = 20;
/// How much of a message that cannot be read is kept in its record.
const KEPT: usize = 4096;

use crate::inbound::event::{sqs_messages, QueueMessage as Message};

/// What one batch came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Message ids to hand back to SQS (their records could not be written).
    pub failed: Vec<String>,
    pub reads: usize,
    /// Reads by a principal that is not an investigator role of the bucket (each alerted).
    pub outside: usize,
    pub denied: usize,
    pub unreadable: usize,
    pub records: usize,
    pub alerts: usize,
    /// breakglass's own heartbeats (refused canary reads), marked as arrived.
    pub heartbeats: usize,
}

impl Recorded {
    /// The Lambda answer for an SQS event source with `ReportBatchItemFailures`.
    pub fn response(&self) -> Value {
        json!({
            "batchItemFailures": self.failed.iter().map(|id| json!({"itemIdentifier": id})).collect::<Vec<_>>(),
            "reads": self.reads,
            "outside": self.outside,
            "denied": self.denied,
            "unreadable": self.unreadable,
            "records": self.records,
            "alerts": self.alerts,
            "heartbeats": self.heartbeats,
        })
    }
}

/// `[<account>/]<bucket>` in organisation mode, where bucket names are not unique over time.
fn place(config: &Config, bucket: &str) -> String {
    match (config.organisation.is_some(), config.bucket(bucket)) {
        (true, Some(b)) => format!("{}/{bucket}", b.account),
        _ => bucket.to_owned(),
    }
}

/// The record's body with its id (SHA-256 of the rest) and its key's short id.
fn sealed(mut body: Value) -> (Value, String) {
    let id = hex(&Sha256::digest(body.to_string().as_bytes()));
    let short = id.get(..16).unwrap_or(&id).to_owned();
    if let Value::Object(m) = &mut body {
        m.insert("id".into(), json!(id));
    }
    (body, short)
}

/// Records written at once by a batch (each its own key, signature and object).
const WRITES_AT_ONCE: usize = 16;

/// Records one batch. Never fails as a whole: what could not be written is in `failed`.
pub async fn record<L: AuditLog, B: EventBus>(
    config: &Config,
    trail: &Trail<L>,
    bus: &B,
    messages: &[Message],
    now: OffsetDateTime,
    slot: Duration,
) -> Recorded {
    let mut out = Recorded::default();
    // bucket → (reads, message ids); BTreeMap: the same batch gives the same records in the same order.
    let mut by_bucket: BTreeMap<String, (Vec<ObjectRead>, Vec<&str>)> = BTreeMap::new();
    let mut denied: Vec<(ObjectRead, &str)> = Vec::new();
    let mut unreadable: Vec<UnreadableItem> = Vec::new();
    for m in messages {
        let parsed = reads::parse(&m.body, config);
        // breakglass's own heartbeat: marked as arrived, neither recorded as a refused read nor digested.
        if let Some(beat) = parsed.as_ref().ok().and_then(|r| crate::trail::heartbeat::data(r, config)) {
            match crate::trail::heartbeat::arrive(trail, &beat, now).await {
                Ok(()) => out.heartbeats += 1,
                Err(e) => {
                    tracing::error!(message = m.id.as_str(), error = %e, "heartbeat arrival not marked; handed back");
                    out.failed.push(m.id.clone());
                }
            }
            continue;
        }
        match parsed {
            Err(reads::Unreadable::CopyInto(from)) => {
                tracing::info!(
                    message = m.id.as_str(),
                    from = from.as_str(),
                    "a copy into a protected bucket; not a read"
                );
            }
            Ok(read) if read.denied() => denied.push((read, &m.id)),
            Ok(read) => {
                let entry = by_bucket.entry(read.bucket.clone()).or_default();
                entry.0.push(read);
                entry.1.push(&m.id);
            }
            Err(e) => {
                tracing::error!(message = m.id.as_str(), error = %e, "data event cannot be recorded as a read");
                let item = UnreadableItem {
                    message_id: m.id.clone(),
                    event_id: reads::event_id_of(&m.body),
                    reason: e.to_string(),
                };
                if write_unreadable(trail, &item, &m.body, now).await.is_err() {
                    out.failed.push(m.id.clone());
                } else {
                    out.records += 1;
                }
                unreadable.push(item);
            }
        }
    }
    let recorded_at = crate::time::format_time(now);
    let mut outside: BTreeMap<String, Vec<ObjectRead>> = BTreeMap::new();
    for (bucket, (mut list, ids)) in by_bucket {
        list.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.event_id.cmp(&b.event_id)));
        let allowed = config.bucket(&bucket).map(|b| &b.investigator_roles);
        let strangers: Vec<ObjectRead> = list
            .iter()
            .filter(|r| r.reached())
            .filter(|r| !allowed.is_some_and(|roles| roles.iter().any(|role| r.is_by(role))))
            .cloned()
            .collect();
        if !strangers.is_empty() {
            out.outside += strangers.len();
            outside.insert(bucket.clone(), strangers);
        }
        out.reads += list.len();
        let record = ReadRecord {
            schema: READS_SCHEMA.into(),
            kind: "reads".into(),
            account: config
                .bucket(&bucket)
                .filter(|_| config.organisation.is_some())
                .map(|b| b.account.clone()),
            time: list.first().map(|r| r.time.clone()).unwrap_or_else(|| recorded_at.clone()),
            recorded_at: recorded_at.clone(),
            count: list.len(),
            bytes: list.iter().map(|r| r.bytes).sum(),
            reads: list,
            written: Written::now(trail.config_sha256.clone()),
            id: None,
            bucket,
        };
        let key_dir = format!("{READS}/{}", place(config, &record.bucket));
        match write(trail, &key_dir, &record, now).await {
            Ok(()) => out.records += 1,
            Err(e) => {
                tracing::error!(bucket = record.bucket.as_str(), error = %e, "reads not recorded; handed back");
                out.failed.extend(ids.iter().map(|s| (*s).to_owned()));
            }
        }
    }
    let slot = crate::time::format_time(slot_of(now, slot));
    // One record per refused read, several written at once: a flood of refused reads (anyone
    // refused can cause one) must be recorded within the invocation's time, batch after batch.
    let records = denied.into_iter().map(|(read, id)| {
        let record = ReadRecord {
            schema: READS_SCHEMA.into(),
            kind: "denied".into(),
            account: config
                .bucket(&read.bucket)
                .filter(|_| config.organisation.is_some())
                .map(|b| b.account.clone()),
            bucket: read.bucket.clone(),
            time: read.time.clone(),
            recorded_at: recorded_at.clone(),
            count: 1,
            bytes: read.bytes,
            reads: vec![read],
            written: Written::now(trail.config_sha256.clone()),
            id: None,
        };
        let key_dir = format!("{DENIED}/{slot}/{}", place(config, &record.bucket));
        async move {
            let written = write(trail, &key_dir, &record, now).await;
            (id, record.bucket, written)
        }
    });
    let written: Vec<_> = stream::iter(records).buffered(WRITES_AT_ONCE).collect().await;
    for (id, bucket, result) in written {
        out.denied += 1;
        match result {
            Ok(()) => out.records += 1,
            Err(e) => {
                tracing::error!(bucket = bucket.as_str(), error = %e, "refused read not recorded; handed back");
                out.failed.push(id.to_owned());
            }
        }
    }
    // Alerts after the records: a mail always points at something an auditor can find.
    for (bucket, strangers) in outside {
        let alert = OwnEvent::ReadAlert(ReadAlert {
            schema: "breakglass.read-alert/1".into(),
            bucket,
            count: strangers.len(),
            reads: strangers.into_iter().take(LISTED).collect(),
            time: recorded_at.clone(),
        });
        out.alerts += usize::from(put(bus, &alert).await);
    }
    out.unreadable = unreadable.len();
    if !unreadable.is_empty() {
        let alert = OwnEvent::Unreadable(UnreadableEvents {
            schema: "breakglass.unreadable/1".into(),
            count: unreadable.len(),
            items: unreadable.into_iter().take(LISTED).collect(),
            time: recorded_at.clone(),
        });
        out.alerts += usize::from(put(bus, &alert).await);
    }
    out
}

async fn put<B: EventBus>(bus: &B, event: &OwnEvent) -> bool {
    match bus.put(&event.to_bus()).await {
        Ok(()) => true,
        Err(e) => {
            // The records are written; the digest and `breakglass report` still show them.
            tracing::error!(event = event.detail_type(), error = %e, "alert not put on the bus");
            false
        }
    }
}

async fn write<L: AuditLog>(
    trail: &Trail<L>,
    dir: &str,
    record: &ReadRecord,
    now: OffsetDateTime,
) -> Result<(), PortError> {
    let body = serde_json::to_value(record).map_err(|e| PortError::Refused(e.to_string()))?;
    let (body, short) = sealed(body);
    let key = format!("{}{dir}/{}-{short}.json", trail.config.prefix, record.time);
    trail.log.append(&key, &body.to_string(), now + trail.config.retain).await.map(|_| ())
}

async fn write_unreadable<L: AuditLog>(
    trail: &Trail<L>,
    item: &UnreadableItem,
    body: &str,
    now: OffsetDateTime,
) -> Result<(), PortError> {
    let kept: String = body.chars().take(KEPT).collect();
    let record = json!({
        "schema": READS_SCHEMA,
        "kind": "unreadable",
        "time": crate::time::format_time(now),
        "message_id": item.message_id,
        "event_id": item.event_id,
        "reason": item.reason,
        "body": kept,
        "truncated": body.chars().count() > KEPT,
        "config_sha256": trail.config_sha256,
        "version": crate::VERSION,
    });
    let (record, short) = sealed(record);
    let key = format!("{}{UNREADABLE}/{}-{short}.json", trail.config.prefix, crate::time::format_time(now));
    trail.log.append(&key, &record.to_string(), now + trail.config.retain).await.map(|_| ())
}

/// What a digest run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digested {
    pub slots: usize,
    pub denied: usize,
    pub mails: usize,
}

/// The digest of refused reads: every complete slot of the last [`LOOKBACK`] that has `denied`
/// records and no digest marker gets, per bucket, one `breakglass denied` event for all of them,
/// then its marker. Runs on the schedule (every `slot`); a failed run is made up for by the next.
/// The slot a record is filed under is when it was *recorded*, so a read CloudTrail delivers late
/// still lands in a slot that is mailed later, never in one already mailed.
pub async fn digest<L: AuditLog, R: AuditReader, B: EventBus>(
    trail: &Trail<L>,
    reader: &R,
    bus: &B,
    now: OffsetDateTime,
    slot: Duration,
) -> Result<Digested, PortError> {
    let prefix = &trail.config.prefix;
    let marker_dir = format!("{prefix}{DIGESTS}/");
    let DigestWindow { current, oldest, done } = digest_window(reader, &marker_dir, now, slot).await?;
    // One listing for all slots: `_denied/<slot>/…` sorts by slot (RFC 3339 of whole seconds).
    let denied_dir = format!("{prefix}{DENIED}/");
    let keys = reader.keys(&denied_dir, Some(&format!("{denied_dir}{oldest}"))).await?;
    // The pending slots' keys, slot by slot (the listing is in key order, so in slot order).
    let mut slots: Vec<Slot> = Vec::new();
    for key in keys {
        let Some(slot_name) = key.strip_prefix(&denied_dir).and_then(|k| k.split('/').next()) else {
            continue;
        };
        // The current slot is still being written; slots already mailed are done.
        if slot_name >= current.as_str() || done.iter().any(|d| d == slot_name) {
            continue;
        }
        match slots.last_mut() {
            Some(s) if s.name == slot_name => s.keys.push(key),
            _ => slots.push(Slot { name: slot_name.to_owned(), keys: vec![key] }),
        }
    }
    let read = read_slots(reader, slots).await?;
    let mut out = Digested::default();
    // bucket → its denied reads over the slots read: one mail per bucket per run.
    let mut by_bucket: BTreeMap<String, (Vec<ObjectRead>, usize)> = BTreeMap::new();
    for (key, text) in read.iter().flat_map(|s| &s.records) {
        let Some(text) = text else { continue };
        match serde_json::from_str::<ReadRecord>(text) {
            Ok(r) => by_bucket.entry(r.bucket.clone()).or_default().0.extend(r.reads),
            Err(e) => tracing::error!(key = key.as_str(), error = %e, "denied record unreadable; skipped"),
        }
    }
    // A slot too large to read whole: its other records counted by key (one refused read each).
    for bucket in read.iter().flat_map(|s| &s.unread).filter_map(|k| bucket_of(k)) {
        by_bucket.entry(bucket.to_owned()).or_default().1 += 1;
    }
    let covered: Vec<String> = read.into_iter().map(|s| s.name).collect();
    let (Some(first), Some(last)) = (covered.first().cloned(), covered.last().cloned()) else {
        return Ok(out);
    };
    let to = crate::time::parse_time(&last)
        .and_then(|t| t.checked_add(slot))
        .map_or(last.clone(), crate::time::format_time);
    for (bucket, (mut list, unread)) in by_bucket {
        // A retried batch may have written a read twice: count each event once.
        list.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        list.dedup_by(|a, b| a.event_id == b.event_id);
        list.sort_by(|a, b| a.time.cmp(&b.time));
        let count = list.len() + unread;
        out.denied += count;
        let by = DeniedBy::tally(&list);
        let event = OwnEvent::Denied(DeniedDigest {
            schema: "breakglass.denied/1".into(),
            bucket,
            count,
            by,
            from: first.clone(),
            to: to.clone(),
            time: crate::time::format_time(now),
        });
        // Not put: the markers stay unwritten, and the next run tries again (a mail twice rather
        // than never).
        bus.put(&event.to_bus()).await?;
        out.mails += 1;
    }
    for name in covered {
        let marker = json!({"schema": READS_SCHEMA, "kind": "digest", "slot": name, "time": crate::time::format_time(now)});
        let key = format!("{marker_dir}{name}.json");
        trail.log.append(&key, &marker.to_string(), now + trail.config.retain).await?;
        out.slots += 1;
    }
    Ok(out)
}

/// The recorder Lambda's handler: an SQS batch of data events is recorded, the schedule runs the
/// digest; anything else is logged and answered, never retried.
pub async fn handle<L: AuditLog, R: AuditReader, B: EventBus>(
    config: &Config,
    trail: &Trail<L>,
    reader: &R,
    bus: &B,
    payload: &Value,
    now: OffsetDateTime,
    timing: Timing,
) -> Result<Value, PortError> {
    if let Some(messages) = sqs_messages(payload) {
        let r = record(config, trail, bus, &messages, now, timing.slot).await;
        tracing::info!(
            reads = r.reads,
            denied = r.denied,
            unreadable = r.unreadable,
            failed = r.failed.len(),
            "batch recorded"
        );
        return Ok(r.response());
    }
    match crate::inbound::event::parse(payload) {
        Ok(crate::inbound::event::Incoming::Schedule { .. }) => {
            let d = digest(trail, reader, bus, now, timing.slot).await?;
            tracing::info!(slots = d.slots, denied = d.denied, mails = d.mails, "digest run");
            let reports = reports(config, trail, reader, bus, now, timing.report_delay).await?;
            tracing::info!(reports, "access reports made");
            Ok(
                json!({"digest": {"slots": d.slots, "denied": d.denied, "mails": d.mails}, "reports": reports}),
            )
        }
        Ok(crate::inbound::event::Incoming::Custom { detail_type, detail, .. }) => {
            let closed = match OwnEvent::from_bus(&detail_type, &detail) {
                Ok(OwnEvent::Request(q)) if q.action == "close" && !q.refused() => Some((q.bucket, q.time)),
                Ok(OwnEvent::Remediation(r)) if r.outcome == "closed" => Some((r.bucket, r.time)),
                _ => None,
            };
            match closed {
                Some((bucket, time)) => {
                    closing(config, trail, &bucket, &time, now).await?;
                    Ok(json!({"closing": bucket}))
                }
                None => Ok(json!({"ignored": "not a close"})),
            }
        }
        _ => {
            tracing::error!("recorder: event is neither an sqs batch nor the schedule; ignored");
            Ok(json!({"ignored": "neither an sqs batch nor the schedule"}))
        }
    }
}

/// A window of `bucket` closed at `time`: the schedule makes its access report once the delay
/// has passed (the marker is the to-do; the report's record is the done).
async fn closing<L: AuditLog>(
    config: &Config,
    trail: &Trail<L>,
    bucket: &str,
    time: &str,
    now: OffsetDateTime,
) -> Result<(), PortError> {
    let Some(b) = config.bucket(bucket) else {
        tracing::error!(bucket, "close of a bucket that is not protected; no report");
        return Ok(());
    };
    let closed_at = crate::time::parse_time(time).unwrap_or(now);
    let name =
        format!("{}-{}", crate::time::format_time(closed_at), place(config, &b.name).replace('/', "-"));
    let marker = json!({"schema": READS_SCHEMA, "kind": "closing", "bucket": b.name, "closed_at": crate::time::format_time(closed_at)});
    let key = format!("{}{CLOSING}/{name}.json", trail.config.prefix);
    trail.log.append(&key, &marker.to_string(), now + trail.config.retain).await.map(|_| ())
}

/// The access reports that are due: every window closed at least `delay` ago (and within
/// [`REPORT_LOOKBACK`]) whose report was not made yet. Returns how many were made.
pub async fn reports<L: AuditLog, R: AuditReader, B: EventBus>(
    config: &Config,
    trail: &Trail<L>,
    reader: &R,
    bus: &B,
    now: OffsetDateTime,
    delay: Duration,
) -> Result<usize, PortError> {
    let prefix = &trail.config.prefix;
    let from = crate::time::format_time(now - REPORT_LOOKBACK);
    let closing_dir = format!("{prefix}{CLOSING}/");
    let reports_dir = format!("{prefix}{REPORTS}/");
    let due = markers(reader, &closing_dir, &from).await?;
    let done = markers(reader, &reports_dir, &from).await?;
    let mut made = 0;
    for name in due.iter().filter(|n| !done.contains(n)) {
        let Some(text) = reader.get(&format!("{closing_dir}{name}.json")).await? else { continue };
        let marker: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let (Some(bucket), Some(closed_at)) = (
            marker.get("bucket").and_then(Value::as_str).and_then(|b| config.bucket(b)),
            marker.get("closed_at").and_then(Value::as_str).and_then(crate::time::parse_time),
        ) else {
            tracing::error!(
                marker = name.as_str(),
                "closing marker names no protected bucket or time; skipped"
            );
            continue;
        };
        if closed_at > now - delay {
            continue;
        }
        let place = place(config, &bucket.name);
        let records = crate::trail::report::history_records(reader, prefix, &place, None).await?;
        let (entries, _) = crate::trail::history::build(&records);
        // The window that this close ended: the latest one opened before it.
        let window = crate::trail::report::windows(&entries)
            .into_iter()
            .rev()
            .find(|e| e.start() <= closed_at)
            .filter(|e| match e {
                crate::trail::history::Entry::Window { closed: Some(c), .. } => {
                    (c.time - closed_at).abs() <= crate::trail::history::FOLD_WINDOW
                }
                _ => true,
            });
        let report = match window {
            Some(w) => {
                let (reads, denied) =
                    crate::trail::report::reads_since(reader, prefix, &place, w.start()).await?;
                let account = config.organisation.as_ref().map(|_| bucket.account.as_str());
                crate::trail::report::for_window(&bucket.name, account, w, &reads, &denied, now)
            }
            None => None,
        };
        match report {
            Some(r) => {
                bus.put(&OwnEvent::WindowReport(r).to_bus()).await?;
                made += 1;
            }
            // A close of a bucket that was not open (a remediation of a closed one): nothing to report.
            None => tracing::info!(bucket = bucket.name.as_str(), "close without an open window; no report"),
        }
        let done = json!({"schema": READS_SCHEMA, "kind": "report", "closing": name, "time": crate::time::format_time(now)});
        trail
            .log
            .append(&format!("{reports_dir}{name}.json"), &done.to_string(), now + trail.config.retain)
            .await?;
    }
    Ok(made)
}
