//! A bucket's history from its audit records: open windows (start, every extension, expiry, actual
//! close) as one entry each, everything else (refused attempts, remediations, setting changes) as
//! single events; newest first.
//!
//! One break-glass leaves two records: the operator's request and CloudTrail's PutBucketPolicy. The
//! change record whose policy hash is the one a request or remediation wrote (within
//! [`FOLD_WINDOW`]) is folded into that step, so the window shows once, with both event ids.

use canonical_policies::format_expiry;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::trail::audit::{made_by_breakglass, Body};

/// How far apart a request and the CloudTrail record of its write may lie and still be one step.
pub const FOLD_WINDOW: Duration = Duration::minutes(15);

/// One step of a window or one event, from one record (or a request and its folded change); as
/// `history --json` shows it, times as RFC 3339 and without the policy text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    #[serde(serialize_with = "time_text")]
    pub time: OffsetDateTime,
    pub kind: String,
    pub action: String,
    pub who: Option<String>,
    pub why: Option<String>,
    pub ticket: Option<String>,
    pub readers: Vec<String>,
    #[serde(serialize_with = "expiry_text")]
    pub expiry: Option<OffsetDateTime>,
    pub summary: String,
    pub event_ids: Vec<String>,
    /// A request or decision of the two-person rule that the gate did not write (a bus event
    /// someone put): it covers nothing, and the history says so.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forged: bool,
    #[serde(skip)]
    pub policy_after: Option<String>,
}

fn time_text<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::format_time(*t))
}

fn expiry_text<S: serde::Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&format_expiry(*t)),
        None => s.serialize_none(),
    }
}

/// One line of the history.
// A history has tens of entries; boxing the window would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Access was open: from `opened` (with later extensions) until `closed`, if it was closed.
    Window {
        opened: Step,
        extensions: Vec<Step>,
        closed: Option<Step>,
    },
    Event(Step),
}

impl Entry {
    /// When it began.
    pub fn start(&self) -> OffsetDateTime {
        match self {
            Entry::Window { opened, .. } => opened.time,
            Entry::Event(s) => s.time,
        }
    }

    /// When it last changed.
    pub fn last(&self) -> OffsetDateTime {
        match self {
            Entry::Window { opened, extensions, closed } => {
                closed.as_ref().or(extensions.last()).map_or(opened.time, |s| s.time)
            }
            Entry::Event(s) => s.time,
        }
    }
}

/// What a step does to the open/closed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Opens,
    Closes,
    Neither,
}

fn effect(s: &Step, state: Option<&str>) -> Effect {
    match (s.kind.as_str(), s.action.as_str(), state) {
        ("request", "open", _) => Effect::Opens,
        ("request", "close", _) => Effect::Closes,
        ("change", "PutBucketPolicy", Some("open")) => Effect::Opens,
        ("change", "PutBucketPolicy", Some("closed")) => Effect::Closes,
        ("remediation" | "expiry", "closed", _) => Effect::Closes,
        _ => Effect::Neither,
    }
}

/// A request's or decision's identity among the records: its id and the action.
fn approval_key(b: &Body) -> Option<(String, String)> {
    let id = b.detail.get("id")?.as_str()?;
    (b.kind == "approval").then(|| (id.to_owned(), b.action.clone()))
}

fn step(b: Body, forged: bool) -> Option<(Step, Option<String>)> {
    let time = crate::time::parse_time(&b.time)?;
    let (readers, expiry) = match &b.grant {
        Some(g) => (g.readers.clone(), crate::time::parse_time(&g.expiry)),
        None => (Vec::new(), None),
    };
    let step = Step {
        time,
        kind: b.kind,
        action: b.action,
        who: b.who,
        why: b.why,
        ticket: b.ticket,
        readers,
        expiry,
        summary: if forged { format!("FORGED (not written by the gate): {}", b.summary) } else { b.summary },
        event_ids: b.event_ids,
        forged,
        policy_after: b.policy.after,
    };
    Some((step, b.state))
}

/// Builds the history from audit records (any order). Returns the entries newest first and the
/// number of records that could not be read (reported, never silently dropped).
pub fn build(records: &[Value]) -> (Vec<Entry>, usize) {
    let mut steps: Vec<(Step, Option<String>)> = Vec::with_capacity(records.len());
    let mut unreadable = 0;
    // The records as `audit::record` wrote them, through the same struct.
    let bodies: Vec<Option<Body>> = records.iter().map(|r| Body::deserialize(r).ok()).collect();
    let by_gate: std::collections::BTreeSet<(String, String)> =
        bodies.iter().flatten().filter(|b| made_by_breakglass(b)).filter_map(approval_key).collect();
    for b in bodies {
        let Some(b) = b else {
            unreadable += 1;
            continue;
        };
        let (from_gate, key) = (made_by_breakglass(&b), approval_key(&b));
        // The notifier's record of the event the gate put on the bus after its own: one step.
        if !from_gate && key.as_ref().is_some_and(|k| by_gate.contains(k)) {
            continue;
        }
        // A refused attempt is mailed, not recorded, by the gate: the notifier's record is the one.
        let forged = key.is_some() && !from_gate && b.action != "refused";
        match step(b, forged) {
            Some(s) => steps.push(s),
            None => unreadable += 1,
        }
    }
    steps.sort_by_key(|s| s.0.time);

    // Fold CloudTrail's record of breakglass's own write (a request's or a remediation's) into it.
    let own = |s: &Step| matches!(s.kind.as_str(), "request" | "remediation" | "expiry");
    let requests: Vec<(OffsetDateTime, String)> = steps
        .iter()
        .filter(|(s, _)| own(s))
        .filter_map(|(s, _)| s.policy_after.clone().map(|h| (s.time, h)))
        .collect();
    let mut folded_ids: Vec<(String, Vec<String>)> = Vec::new();
    steps.retain(|(s, _)| {
        let own_write = s.kind == "change"
            && s.action == "PutBucketPolicy"
            && requests
                .iter()
                .any(|(t, h)| Some(h) == s.policy_after.as_ref() && (*t - s.time).abs() <= FOLD_WINDOW);
        if own_write {
            if let Some(h) = &s.policy_after {
                folded_ids.push((h.clone(), s.event_ids.clone()));
            }
        }
        !own_write
    });
    for (s, _) in steps.iter_mut().filter(|(s, _)| own(s)) {
        for (h, ids) in &folded_ids {
            if s.policy_after.as_ref() == Some(h) {
                s.event_ids.extend(ids.iter().cloned());
            }
        }
    }

    let mut entries: Vec<Entry> = Vec::new();
    let mut current: Option<(Step, Vec<Step>)> = None;
    for (s, state) in steps {
        match (effect(&s, state.as_deref()), current.take()) {
            (Effect::Opens, None) => current = Some((s, Vec::new())),
            (Effect::Opens, Some((opened, mut ext))) => {
                ext.push(s);
                current = Some((opened, ext));
            }
            (Effect::Closes, Some((opened, extensions))) => {
                entries.push(Entry::Window { opened, extensions, closed: Some(s) });
            }
            (_, open) => {
                current = open;
                entries.push(Entry::Event(s));
            }
        }
    }
    if let Some((opened, extensions)) = current {
        entries.push(Entry::Window { opened, extensions, closed: None });
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.start()));
    (entries, unreadable)
}

/// The expiry a window ended up with (the latest of its steps).
pub fn window_expiry(opened: &Step, extensions: &[Step]) -> Option<OffsetDateTime> {
    std::iter::once(opened).chain(extensions).filter_map(|s| s.expiry).max()
}

/// The readers a window ended up with (the union of its steps).
pub fn window_readers(opened: &Step, extensions: &[Step]) -> Vec<String> {
    let mut all: Vec<String> =
        std::iter::once(opened).chain(extensions).flat_map(|s| s.readers.clone()).collect();
    all.sort();
    all.dedup();
    all
}

/// Objects read successfully in a window, and their bytes (from the recorder's records).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ReadCount {
    pub objects: usize,
    pub bytes: u64,
}

/// An entry as `history --json` shows it (`"type": "window"` or `"event"`).
// Built once per line of output and serialised at once: boxing the window would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EntryView {
    Window {
        /// `open`, `expired` (not yet closed by breakglass) or `closed`.
        status: &'static str,
        start: String,
        expiry: Option<String>,
        closed_at: Option<String>,
        readers: Vec<String>,
        opened: Step,
        extensions: Vec<Step>,
        closed: Option<Step>,
        /// Filled in by a caller that has the recorded reads.
        #[serde(skip_serializing_if = "Option::is_none")]
        reads: Option<ReadCount>,
    },
    Event(Step),
}

/// The `--json` form of an entry.
pub fn entry_view(e: &Entry, now: OffsetDateTime) -> EntryView {
    match e {
        Entry::Window { opened, extensions, closed } => {
            let expiry = window_expiry(opened, extensions);
            let status = match (closed, expiry) {
                (Some(_), _) => "closed",
                (None, Some(x)) if x <= now => "expired",
                _ => "open",
            };
            EntryView::Window {
                status,
                start: crate::time::format_time(opened.time),
                expiry: expiry.map(format_expiry),
                closed_at: closed.as_ref().map(|c| crate::time::format_time(c.time)),
                readers: window_readers(opened, extensions),
                opened: opened.clone(),
                extensions: extensions.clone(),
                closed: closed.clone(),
                reads: None,
            }
        }
        Entry::Event(s) => EntryView::Event(s.clone()),
    }
}

/// [`entry_view`] as a JSON value.
pub fn entry_json(e: &Entry, now: OffsetDateTime) -> Value {
    serde_json::to_value(entry_view(e, now)).unwrap_or(Value::Null)
}

/// Every step of `entries`, one CSV line each (through [`crate::trail::csv`]), newest entry first:
/// a window's steps share its `entry` (its start) and read in order, opened, extended, closed.
pub fn csv(entries: &[Entry]) -> String {
    let mut out = crate::trail::csv::row(&[
        "entry",
        "type",
        "step",
        "time",
        "kind",
        "action",
        "who",
        "why",
        "ticket",
        "readers",
        "expiry",
        "summary",
        "event_ids",
    ]);
    for e in entries {
        let entry = crate::time::format_time(e.start());
        let steps: Vec<(&str, &str, &Step)> = match e {
            Entry::Window { opened, extensions, closed } => std::iter::once(("opened", opened))
                .chain(extensions.iter().map(|x| ("extended", x)))
                .chain(closed.iter().map(|c| ("closed", c)))
                .map(|(step, s)| ("window", step, s))
                .collect(),
            Entry::Event(s) => vec![("event", "event", s)],
        };
        for (kind_of_entry, step, s) in steps {
            out.push_str(&crate::trail::csv::row(&[
                entry.as_str(),
                kind_of_entry,
                step,
                &crate::time::format_time(s.time),
                &s.kind,
                &s.action,
                s.who.as_deref().unwrap_or(""),
                s.why.as_deref().unwrap_or(""),
                s.ticket.as_deref().unwrap_or(""),
                &s.readers.join(" "),
                &s.expiry.map(format_expiry).unwrap_or_default(),
                &s.summary,
                &s.event_ids.join(" "),
            ]));
        }
    }
    out
}
