//! What was read while the glass was broken: per window of a bucket (from its history), who opened
//! it and why, how long it was open, what each reader read (objects, bytes, the first objects by
//! time), reads by anyone outside the grant (an alert), and refused reads. The recorder mails it
//! after a window closes; `breakglass report` prints the same from the audit trail. One struct,
//! one text rendering, one CSV: what the stakeholders get and what an auditor prints agree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use time::OffsetDateTime;

use crate::command::command_line;
use crate::events::ObjectRead;
use crate::events::{DeniedBy, ReaderSummary, WindowOpening, WindowReads, WindowReport};
use crate::ports::{AuditReader, PortError};
use crate::trail::history::{self, Entry, Step};
use crate::trail::records::{ReadRecord, DENIED, READS};
use crate::trail::slots::read_all;

/// How many objects a report lists by name (all are in the records and in `--csv`).
pub const LISTED: usize = 20;

impl WindowReport {
    /// Reads outside the grant make the report an alert.
    pub fn is_alert(&self) -> bool {
        self.outside_count > 0
    }
}

/// The windows of a bucket's history, oldest first.
pub fn windows(entries: &[Entry]) -> Vec<&Entry> {
    let mut out: Vec<&Entry> = entries.iter().filter(|e| matches!(e, Entry::Window { .. })).collect();
    out.sort_by_key(|e| e.start());
    out
}

fn closer(s: &Step) -> String {
    let who = s.who.as_deref().unwrap_or("unknown");
    match s.kind.as_str() {
        "expiry" => "the expiry sweep (breakglass enforcer)".to_owned(),
        "remediation" => format!("remediation by {who}"),
        _ => who.to_owned(),
    }
}

/// The report of `window` (a [`Entry::Window`]) from the reads and refused reads around it; `None`
/// for an event. Reads are counted once per CloudTrail event id (a retried batch writes twice).
pub fn for_window(
    bucket: &str,
    account: Option<&str>,
    window: &Entry,
    reads: &[ObjectRead],
    denied: &[ObjectRead],
    now: OffsetDateTime,
) -> Option<WindowReport> {
    let Entry::Window { opened, extensions, closed } = window else { return None };
    let end = closed.as_ref().map_or(now, |c| c.time);
    let reads = within(window, reads, now);
    let denied = within(window, denied, now);
    let readers = history::window_readers(opened, extensions);
    let ok: Vec<&ObjectRead> = reads.iter().filter(|r| r.error.is_none()).collect();
    // A read that failed past the policy (a missing key, a bad range) shows access too.
    let outside: Vec<ObjectRead> =
        reads.iter().filter(|r| r.reached() && !readers.iter().any(|g| r.is_by(g))).cloned().collect();
    let mut by: BTreeMap<&str, ReaderSummary> = BTreeMap::new();
    for r in &ok {
        let e = by.entry(r.reader()).or_insert_with(|| ReaderSummary {
            reader: r.reader().to_owned(),
            objects: 0,
            bytes: 0,
            first: r.time.clone(),
            last: r.time.clone(),
            sessions: Vec::new(),
            source_identities: Vec::new(),
        });
        e.objects += 1;
        e.bytes += r.bytes;
        e.last = r.time.clone();
        for (list, v) in [(&mut e.sessions, &r.session), (&mut e.source_identities, &r.source_identity)] {
            if let Some(v) = v {
                if list.len() < crate::events::MOST_SESSIONS && !list.contains(v) {
                    list.push(v.clone());
                }
            }
        }
    }
    Some(WindowReport {
        schema: crate::events::WINDOW_REPORT_SCHEMA.into(),
        bucket: bucket.to_owned(),
        account: account.map(str::to_owned),
        window: crate::time::format_time(opened.time),
        opening: WindowOpening {
            opened_by: opened.who.clone(),
            reason: opened.why.clone(),
            ticket: opened.ticket.clone(),
            expiry: history::window_expiry(opened, extensions).map(canonical_policies::format_expiry),
            readers,
        },
        closed_at: closed.as_ref().map(|c| crate::time::format_time(c.time)),
        closed_by: closed.as_ref().map(closer),
        open_seconds: (end - opened.time).whole_seconds(),
        read: WindowReads {
            reads: ok.len(),
            bytes: ok.iter().map(|r| r.bytes).sum(),
            by_reader: by.into_values().collect(),
            first_objects: ok.iter().take(LISTED).map(|r| (*r).clone()).collect(),
        },
        outside_count: outside.len(),
        outside: outside.into_iter().take(LISTED).collect(),
        denied: denied.len(),
        denied_by: DeniedBy::tally(&denied),
        time: crate::time::format_time(now),
    })
}

/// The reads of `list` made while `window` was open (until now, if it still is), each CloudTrail
/// event once, by time.
pub fn within(window: &Entry, list: &[ObjectRead], now: OffsetDateTime) -> Vec<ObjectRead> {
    let Entry::Window { opened, closed, .. } = window else { return Vec::new() };
    let end = closed.as_ref().map_or(now, |c| c.time);
    // CloudTrail's `eventTime` is the second, cut down: a read in the second the window opened is
    // written as before it.
    let start = opened.time.replace_nanosecond(0).unwrap_or(opened.time);
    let mut v: Vec<ObjectRead> = list
        .iter()
        .filter(|r| crate::time::parse_time(&r.time).is_some_and(|t| t >= start && t <= end))
        .cloned()
        .collect();
    v.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    v.dedup_by(|a, b| a.event_id == b.event_id);
    v.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.event_id.cmp(&b.event_id)));
    v
}

fn duration(seconds: i64) -> String {
    let (h, m) = (seconds / 3600, (seconds % 3600) / 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The report in words: the mail's body and `breakglass report`'s output (`config`: the config's
/// path for the command it names, `None` in the mail, whose reader sets `BREAKGLASS_CONFIG`).
pub fn text(r: &WindowReport, config: Option<&str>) -> String {
    let mut out = String::new();
    let closed = match (&r.closed_at, &r.closed_by) {
        (Some(at), Some(by)) => format!("closed {at} by {by}"),
        (Some(at), None) => format!("closed {at}"),
        _ => "still open".to_owned(),
    };
    let _ = writeln!(
        out,
        "Window {} of log bucket {}: {closed}, open {}.",
        r.window,
        r.bucket,
        duration(r.open_seconds)
    );
    let _ = writeln!(
        out,
        "Opened by {} ({}; ticket {}) for {} until {}.",
        r.opening.opened_by.as_deref().unwrap_or("unknown"),
        r.opening.reason.as_deref().unwrap_or("no reason given"),
        r.opening.ticket.as_deref().unwrap_or("none"),
        if r.opening.readers.is_empty() { "nobody".to_owned() } else { r.opening.readers.join(", ") },
        r.opening.expiry.as_deref().unwrap_or("?"),
    );
    let _ = writeln!(out, "\nWhat was read: {} object(s), {} bytes.", r.read.reads, r.read.bytes);
    for s in &r.read.by_reader {
        let _ = write!(
            out,
            "  {}: {} object(s), {} bytes, {} to {}",
            s.reader, s.objects, s.bytes, s.first, s.last
        );
        if !s.source_identities.is_empty() {
            let _ = write!(out, "; source identity {}", s.source_identities.join(", "));
        } else if !s.sessions.is_empty() {
            let _ = write!(out, "; session {}", s.sessions.join(", "));
        }
        out.push('\n');
    }
    if !r.read.first_objects.is_empty() {
        let _ = writeln!(out, "\nFirst objects read:");
        for o in &r.read.first_objects {
            let _ = writeln!(out, "  {}", o.line());
        }
        if r.read.reads > r.read.first_objects.len() {
            let more = r.read.reads - r.read.first_objects.len();
            let cmd = csv_command(&r.bucket, r.account.as_deref(), &r.window, config);
            let _ = writeln!(out, "  … {more} more: {cmd}");
        }
    }
    if r.outside_count > 0 {
        let _ = writeln!(out, "\nALERT: {} read(s) by principals the grant does NOT name:", r.outside_count);
        for o in &r.outside {
            let _ = writeln!(out, "  {}", o.line());
        }
    } else {
        let _ = writeln!(out, "\nReads outside the readers named in the grant: none.");
    }
    if r.denied > 0 {
        let _ = writeln!(out, "\nRefused reads during the window: {}", r.denied);
        for d in &r.denied_by {
            let _ = writeln!(out, "  {}: {} refused, {} to {}", d.principal, d.count, d.first, d.last);
        }
        let others = r.denied.saturating_sub(r.denied_by.iter().map(|d| d.count).sum());
        if others > 0 {
            let _ = writeln!(out, "  and {others} by other principals (each in the audit trail)");
        }
    } else {
        let _ = writeln!(out, "Refused reads during the window: none.");
    }
    out
}

/// Every read of `reports` windows, one CSV line each (through [`crate::trail::csv`]): for a spreadsheet.
/// The `breakglass report --csv` of one window, which lists every read: `config` as in
/// [`crate::command::command_line`].
pub fn csv_command(bucket: &str, account: Option<&str>, window: &str, config: Option<&str>) -> String {
    let mut flags = vec![("--bucket", bucket)];
    flags.extend(account.map(|a| ("--account", a)));
    flags.push(("--window", window));
    command_line(&["report", "--csv"], config, &flags)
}

pub fn csv(rows: &[(String, ObjectRead)]) -> String {
    let mut out = crate::trail::csv::row(&[
        "window",
        "time",
        "reader",
        "principal",
        "session",
        "source_identity",
        "call",
        "key",
        "version_id",
        "bytes",
        "source_ip",
        "outcome",
        "event_id",
    ]);
    for (window, r) in rows {
        out.push_str(&crate::trail::csv::row(&[
            window.as_str(),
            &r.time,
            r.reader(),
            &r.principal,
            r.session.as_deref().unwrap_or(""),
            r.source_identity.as_deref().unwrap_or(""),
            &r.call,
            r.key.as_deref().unwrap_or(""),
            r.version_id.as_deref().unwrap_or(""),
            &r.bytes.to_string(),
            r.source_ip.as_deref().unwrap_or(""),
            r.error.as_deref().unwrap_or("ok"),
            &r.event_id,
        ]));
    }
    out
}

/// A bucket's records (its history), read back from the audit trail, all of them or those from
/// `since` on (keys are in time order). `place` is `[<account>/]<bucket>`; `prefix` the trail's.
pub async fn history_records<R: AuditReader>(
    reader: &R,
    prefix: &str,
    place: &str,
    since: Option<OffsetDateTime>,
) -> Result<Vec<Value>, PortError> {
    let mut out = Vec::new();
    let dir = format!("{prefix}{place}/");
    let after = since.map(|t| format!("{dir}{}", crate::time::format_time(t)));
    let keys = reader.keys(&dir, after.as_deref()).await?;
    for (key, text) in read_all(reader, keys).await? {
        if let Some(text) = text {
            match serde_json::from_str::<Value>(&text) {
                Ok(v) => out.push(v),
                Err(e) => tracing::error!(key = key.as_str(), error = %e, "record unreadable; skipped"),
            }
        }
    }
    Ok(out)
}

/// The reads and the refused reads of a bucket recorded from about `since` on: (reads, refused).
pub async fn reads_since<R: AuditReader>(
    reader: &R,
    prefix: &str,
    place: &str,
    since: OffsetDateTime,
) -> Result<(Vec<ObjectRead>, Vec<ObjectRead>), PortError> {
    let dir = format!("{prefix}{READS}/{place}/");
    let reads = read_records(reader, &dir, place, since).await?;
    Ok((reads, denied_since(reader, prefix, place, since).await?))
}

/// The refused reads of a bucket recorded from about `since` on (`_denied/` is filed by slot for
/// all buckets; this bucket's are picked out).
pub async fn denied_since<R: AuditReader>(
    reader: &R,
    prefix: &str,
    place: &str,
    since: OffsetDateTime,
) -> Result<Vec<ObjectRead>, PortError> {
    read_records(reader, &format!("{prefix}{DENIED}/"), place, since).await
}

/// The reads in the `ReadRecord`s under `dir` of the bucket at `place`, from about `since` on.
async fn read_records<R: AuditReader>(
    reader: &R,
    dir: &str,
    place: &str,
    since: OffsetDateTime,
) -> Result<Vec<ObjectRead>, PortError> {
    // A batch's record is keyed by its earliest read, and batches span seconds to minutes.
    let from = crate::time::format_time(since - time::Duration::hours(1));
    let bucket = place.rsplit('/').next().unwrap_or(place);
    let wanted = format!("/{place}/");
    let mut out = Vec::new();
    let keys: Vec<String> = reader
        .keys(dir, Some(&format!("{dir}{from}")))
        .await?
        .into_iter()
        .filter(|k| k.contains(&wanted))
        .collect();
    for (key, text) in read_all(reader, keys).await? {
        let Some(text) = text else { continue };
        match serde_json::from_str::<ReadRecord>(&text) {
            Ok(r) if r.bucket == bucket => out.extend(r.reads),
            Ok(_) => {}
            Err(e) => tracing::error!(key = key.as_str(), error = %e, "read record unreadable; skipped"),
        }
    }
    Ok(out)
}
