//! Guarded calls AWS refused, recorded by the recorder and mailed as a digest. A flood of refused
//! calls (a script retrying `PutBucketPolicy` against the SCP) must not reach the notifier one mail
//! at a time: its pacer would hold a remediation's mail behind hours of attempts. The rules send
//! refused calls (CloudTrail's `errorCode` present) to the recorder's queue instead, and here
//!
//! - each refused call gets its audit record at once, the same `breakglass.audit/1` record the
//!   notifier wrote of it before, under `_attempts/<place>/<recorded time>-<id>.json`
//!   (`<place>`: `[<account>/]<bucket>` or `_control`), where `breakglass history` reads it;
//! - the slot it was recorded in is marked (`_attempts/_slots/<slot>/<place>.json`), once per batch
//!   and place, so that the digest finds the places to mail without listing every record;
//! - the digest run ([`digest`]) mails every complete slot once: one `breakglass refused calls`
//!   event per bucket (or per target of calls outside S3), then the slot's marker under
//!   `_digests/calls/`. A record delivered late lands in a later slot, never in one already mailed.

use std::collections::BTreeMap;

use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::events::{OwnEvent, RefusedBy, RefusedCalls, RefusedExample, EXAMPLES};
use crate::notice::{About, Document};
use crate::ports::{AuditLog, AuditReader, EventBus, PortError};
use crate::trail::audit::{Body, Record, Trail, CONTROL};
use crate::trail::recorder::slot_of;
use crate::trail::records::READS_SCHEMA;
use crate::trail::slots::{bucket_of, read_slots, Slot};
use crate::trail::slots::{digest_window, DigestWindow};

/// Where the recorder keeps the records of refused calls, and the marks of their slots.
pub const ATTEMPTS: &str = "_attempts";
const SLOTS: &str = "_slots";
/// The digest's marks of slots mailed (beside the refused reads' marks, which are slot names).
const MAILED: &str = "_digests/calls";

/// The place of an audit record's key (`[<account>/]<bucket>/<time>-<id>.json`).
pub fn place_of(record: &Record) -> &str {
    record.key.rsplit_once('/').map_or(CONTROL, |(place, _)| place)
}

/// Records one refused call (its audit record, as the notifier would have written it) and marks
/// its slot. The mark first: a record without a mark would never be mailed; a mark without a
/// record (the write failed, the message comes back) is mailed as nothing.
pub async fn file<L: AuditLog>(
    trail: &Trail<L>,
    record: &Record,
    now: OffsetDateTime,
    slot: Duration,
) -> Result<(), PortError> {
    mark(trail, place_of(record), now, slot).await?;
    file_marked(trail, record, now).await
}

/// Marks the slot of `now` as holding refused calls at `place` (`[<account>/]<bucket>` or
/// `_control`), so that the digest finds them. Written once per slot and place: a second batch finds
/// it there (a conditional put).
pub async fn mark<L: AuditLog>(
    trail: &Trail<L>,
    place: &str,
    now: OffsetDateTime,
    slot: Duration,
) -> Result<(), PortError> {
    let prefix = &trail.config.prefix;
    let slot_name = crate::time::format_time(slot_of(now, slot));
    let mark = json!({"schema": READS_SCHEMA, "kind": "attempts", "slot": slot_name, "place": place});
    let key = format!("{prefix}{ATTEMPTS}/{SLOTS}/{slot_name}/{place}.json");
    trail.log.append(&key, &mark.to_string(), now + trail.config.retain).await.map(|_| ())
}

/// Records one refused call whose slot and place [`mark`] has marked.
pub async fn file_marked<L: AuditLog>(
    trail: &Trail<L>,
    record: &Record,
    now: OffsetDateTime,
) -> Result<(), PortError> {
    let prefix = &trail.config.prefix;
    let place = place_of(record);
    let retain = now + trail.config.retain;
    let id = record.body.get("id").and_then(|v| v.as_str()).unwrap_or_default();
    let short = id.get(..16).unwrap_or(id);
    // Whole seconds, as the slots' names: a key sorts within its slot (`…10.5Z` would sort before `…10Z`).
    let at = crate::time::format_time(now.replace_nanosecond(0).unwrap_or(now));
    let key = format!("{prefix}{ATTEMPTS}/{place}/{at}-{short}.json");
    trail.log.append(&key, &record.body.to_string(), retain).await.map(|_| ())
}

/// One refused call as a digest lists it, from its record; `None` for a record that is not one.
fn example(body: &Body) -> Option<(Option<String>, RefusedExample)> {
    let doc: Document = serde_json::from_value(body.detail.clone()).ok()?;
    let About::Call(call) = doc.about else { return None };
    let principal =
        call.actor.role_arn.clone().or_else(|| call.actor.arn.clone()).unwrap_or_else(|| "unknown".into());
    Some((
        call.target.clone(),
        RefusedExample {
            event_id: call.event.id.clone(),
            time: call.event.time.clone().unwrap_or_else(|| body.time.clone()),
            call: call.call.clone(),
            principal,
            error: call.error.as_ref().and_then(|e| e.code.clone()),
            source_ip: call.event.source_ip.clone(),
        },
    ))
}

/// What a digest run of refused calls did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digested {
    pub slots: usize,
    pub calls: usize,
    pub mails: usize,
}

/// The digest of refused calls: every complete slot of the last [`LOOKBACK`] with marked places and
/// no mark of its own gets, per bucket (or target), one `breakglass refused calls` event for all of
/// them, then its mark. Runs on the recorder's schedule; a failed run is made up for by the next.
pub async fn digest<L: AuditLog, R: AuditReader, B: EventBus>(
    trail: &Trail<L>,
    reader: &R,
    bus: &B,
    now: OffsetDateTime,
    slot: Duration,
) -> Result<Digested, PortError> {
    let prefix = &trail.config.prefix;
    let mailed_dir = format!("{prefix}{MAILED}/");
    let DigestWindow { current, oldest, done } = digest_window(reader, &mailed_dir, now, slot).await?;
    let slots_dir = format!("{prefix}{ATTEMPTS}/{SLOTS}/");
    // slot → places marked in it, slots in order.
    let mut pending: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in reader.keys(&slots_dir, Some(&format!("{slots_dir}{oldest}"))).await? {
        let Some((slot_name, place)) = key.strip_prefix(&slots_dir).and_then(|k| k.split_once('/')) else {
            continue;
        };
        // The current slot is still being written; slots already mailed are done.
        if slot_name >= current.as_str() || done.iter().any(|d| d == slot_name) {
            continue;
        }
        let place = place.strip_suffix(".json").unwrap_or(place).to_owned();
        pending.entry(slot_name.to_owned()).or_default().push(place);
    }
    let end_of = |s: &str| {
        crate::time::parse_time(s)
            .and_then(|t| t.checked_add(slot))
            .map_or(s.to_owned(), crate::time::format_time)
    };
    // Each pending slot's records: for each place marked in it, the keys from the slot's start
    // (keys begin with the time they were recorded) to its end.
    let mut slots = Vec::new();
    for (slot_name, places) in &pending {
        let end = end_of(slot_name);
        let mut keys = Vec::new();
        for place in places {
            let dir = format!("{prefix}{ATTEMPTS}/{place}/");
            let listed = reader.keys(&dir, Some(&format!("{dir}{slot_name}"))).await?;
            keys.extend(
                listed.into_iter().take_while(|k| k.strip_prefix(&dir).is_some_and(|n| n < end.as_str())),
            );
        }
        slots.push(Slot { name: slot_name.clone(), keys });
    }
    let read = read_slots(reader, slots).await?;
    let mut out = Digested::default();
    let (Some(first), Some(last)) =
        (read.first().map(|s| s.name.clone()), read.last().map(|s| s.name.clone()))
    else {
        return Ok(out);
    };
    // (bucket, target) → the refused calls recorded in the slots read.
    let mut groups: BTreeMap<(String, Option<String>), Vec<RefusedExample>> = BTreeMap::new();
    for (key, text) in read.iter().flat_map(|s| &s.records) {
        let Some(text) = text else { continue };
        let Some((target, ex)) = serde_json::from_str::<Body>(text).ok().as_ref().and_then(example) else {
            tracing::error!(key = key.as_str(), "refused-call record unreadable; skipped");
            continue;
        };
        let bucket = bucket_of(key).unwrap_or(CONTROL);
        groups.entry((bucket.to_owned(), target)).or_default().push(ex);
    }
    // A slot too large to read whole: its other records counted by key (one refused call each),
    // in the bucket's first group (its target unknown unread).
    let mut unread: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
    for bucket in read.iter().flat_map(|s| &s.unread).filter_map(|k| bucket_of(k)) {
        let group = groups.keys().find(|(b, _)| b == bucket).cloned();
        let group = group.unwrap_or_else(|| (bucket.to_owned(), None));
        *unread.entry(group.clone()).or_default() += 1;
        groups.entry(group).or_default();
    }
    let to = end_of(&last);
    for ((bucket, target), mut calls) in groups {
        // A retried batch may have recorded a call twice: count each event once.
        calls.sort_by(|a, b| a.event_id.cmp(&b.event_id).then_with(|| a.time.cmp(&b.time)));
        calls.dedup_by(|a, b| a.event_id.is_some() && a.event_id == b.event_id);
        calls.sort_by(|a, b| a.time.cmp(&b.time));
        let count = calls.len() + unread.get(&(bucket.clone(), target.clone())).copied().unwrap_or(0);
        out.calls += count;
        let event = OwnEvent::RefusedCalls(RefusedCalls {
            schema: "breakglass.refused-calls/1".into(),
            bucket,
            target,
            count,
            by: RefusedBy::tally(&calls),
            examples: calls.into_iter().take(EXAMPLES).collect(),
            from: first.clone(),
            to: to.clone(),
            time: crate::time::format_time(now),
        });
        // Not put: the marks stay unwritten and the next run tries again (a mail twice rather than never).
        bus.put(&event.to_bus()).await?;
        out.mails += 1;
    }
    for name in read.iter().map(|s| &s.name) {
        let mark = json!({"schema": READS_SCHEMA, "kind": "digest", "slot": name, "time": crate::time::format_time(now)});
        trail
            .log
            .append(&format!("{mailed_dir}{name}.json"), &mark.to_string(), now + trail.config.retain)
            .await?;
        out.slots += 1;
    }
    Ok(out)
}
