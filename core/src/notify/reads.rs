//! Mails about what was read: reads by a principal outside the investigator roles (an alert for
//! stakeholders and the security team), the digest of refused reads (the security team), and data
//! events the recorder could not read (the security team).

use std::fmt::Write as _;

use serde_json::Value;

use super::mail::{happened, human_text, own_message, section, Rendered, Route, Severity};
use crate::events::{self, DeniedDigest, ObjectRead, ReadAlert, UnreadableEvents, WindowReport};
use crate::trail::report;

pub(super) fn read_alert(a: &ReadAlert, d: &Value, id: Option<&str>) -> Rendered {
    let bucket = a.bucket.as_str();
    // A probe past the policy returns no data but proves the same access.
    let probes = if a.reads.iter().any(|r| r.error.is_some()) {
        " A read marked with an error (such as [NoSuchKey]) returned no data, but S3 answers so only a caller the bucket policy let in."
    } else {
        ""
    };
    let mut email = happened(&format!(
            "{} object read(s) of log bucket {bucket} SUCCEEDED for a principal that is not one of its investigator roles. The bucket policy denies that whether the bucket is open or closed, so something around the policy let it through (an ACL, an access point, a policy written between two checks). Act now.{probes}",
            a.count
        ));
    let lines: Vec<String> = a.reads.iter().map(ObjectRead::line).collect();
    let mut listed = lines.join("\n");
    if a.count > a.reads.len() {
        let _ = write!(listed, "\n… and {} more in the audit trail", a.count - a.reads.len());
    }
    section(&mut email, "Reads", &listed);
    let subject = format!("ALERT {bucket}: {} object read(s) by a principal outside the grant", a.count);
    own_message(
        subject,
        email,
        d,
        Route {
            kind: "access",
            state: "read",
            severity: Severity::Critical,
            bucket,
            detail_type: events::READ_ALERT,
        },
        id,
    )
}

pub(super) fn denied(g: &DeniedDigest, d: &Value, id: Option<&str>) -> Rendered {
    let bucket = g.bucket.as_str();
    let mut email = happened(&format!(
            "AWS REFUSED {} read(s) of log bucket {bucket} (recorded between {} and {}). Nothing was read. Each refused read has its own record in the audit trail.",
            g.count, human_text(&g.from), human_text(&g.to)
        ));
    let mut by = String::new();
    for b in &g.by {
        let _ = writeln!(
            by,
            "{}: {} refused, {} to {}",
            b.principal,
            b.count,
            human_text(&b.first),
            human_text(&b.last)
        );
        if !b.keys.is_empty() {
            let keys: Vec<_> = b.keys.iter().map(|k| canonical_policies::printable(k)).collect();
            let _ = writeln!(by, "  objects: {}", keys.join(", "));
        }
        if !b.source_ips.is_empty() {
            let _ = writeln!(by, "  from: {}", b.source_ips.join(", "));
        }
    }
    let others = g.count.saturating_sub(g.by.iter().map(|b| b.count).sum());
    if others > 0 {
        let _ = writeln!(by, "and {others} more by other principals (each in the audit trail)");
    }
    section(&mut email, "Who tried", by.trim_end());
    let subject = format!("{bucket}: {} refused read(s) of the logs", g.count);
    own_message(
        subject,
        email,
        d,
        Route {
            kind: "denied",
            state: "closed",
            severity: Severity::Warning,
            bucket,
            detail_type: events::DENIED,
        },
        id,
    )
}

pub(super) fn unreadable(u: &UnreadableEvents, d: &Value, id: Option<&str>) -> Rendered {
    let mut email = happened(&format!(
            "The recorder received {} data event(s) it cannot record as reads of a protected bucket (malformed, truncated, or about something else). Each is kept in the audit trail under _unreadable/, under its event id or, when it has none, its message id; the rest of the batch was recorded. If one of them was a read of a log bucket, that read is missing from the access reports: the security team must look at each.",
            u.count
        ));
    let lines: Vec<String> = u
        .items
        .iter()
        .map(|i| {
            format!(
                "{} (message {}): {}",
                i.event_id.as_deref().unwrap_or("no event id"),
                i.message_id,
                i.reason
            )
        })
        .collect();
    section(&mut email, "Events", &lines.join("\n"));
    let subject = format!("ALERT: {} data event(s) could not be recorded", u.count);
    let route = Route::control("unreadable", "unreadable", Severity::Warning, events::UNREADABLE);
    own_message(subject, email, d, route, id)
}

/// After a window closed: who opened it, for how long, and what was read. For stakeholders (it is
/// what they are there for); an alert when anyone outside the grant read.
pub(super) fn window_report(r: &WindowReport, d: &Value, id: Option<&str>) -> Rendered {
    let bucket = r.bucket.as_str();
    let mut email = String::new();
    section(&mut email, "Access report", report::text(r, None).trim_end());
    let (subject, severity) = if r.is_alert() {
        (
            format!(
                "ALERT {bucket}: {} read(s) outside the grant in the window of {}",
                r.outside_count, r.window
            ),
            Severity::Critical,
        )
    } else {
        (
            format!(
                "{bucket}: access report: {} object(s) read by {} reader(s)",
                r.read.reads,
                r.read.by_reader.len()
            ),
            Severity::Info,
        )
    };
    own_message(
        subject,
        email,
        d,
        Route { kind: "access", state: "report", severity, bucket, detail_type: events::WINDOW_REPORT },
        id,
    )
}
