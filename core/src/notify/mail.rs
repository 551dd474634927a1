//! What the messages of every kind share: the routing attributes, the sections of a mail, its
//! subject and footer, and the message made from its document.

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::notice::{About, Account, Call, Document, Own, SCHEMA};
use crate::ports::Notification;

/// SNS allows 100; keep a margin for mail clients that prefix.
pub(super) const MAX_SUBJECT: usize = 99;

/// What the notifier does with one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    Send(Box<Notification>),
    Ignored(String),
}

/// What the notifier watches besides the config's buckets and investigator roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// breakglass's own KMS key (template.yaml passes it as `BREAKGLASS_KEY_ARN`).
    pub key_arn: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub(super) fn word(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// A message about a CloudTrail call, from its document.
pub(super) fn finish(
    subject: String,
    mut email: String,
    kind: &str,
    severity: Severity,
    call: Call,
) -> Notification {
    footer(&mut email);
    let attributes = attributes(kind, &call.state, severity, &call.bucket);
    message(document(kind, &subject, email, About::Call(Box::new(call))), attributes)
}

/// How a message about one of breakglass's own events is routed and named.
pub(super) struct Route<'a> {
    pub(super) kind: &'a str,
    pub(super) state: &'a str,
    pub(super) severity: Severity,
    pub(super) bucket: &'a str,
    pub(super) detail_type: &'a str,
}

impl<'a> Route<'a> {
    /// A message about no one bucket: recorded under `_control`.
    pub(super) fn control(kind: &'a str, state: &'a str, severity: Severity, detail_type: &'a str) -> Self {
        Route { kind, state, severity, bucket: crate::trail::audit::CONTROL, detail_type }
    }
}

/// One of breakglass's own events as a message: its detail as the JSON document (with the schema,
/// kind, detail-type and event id added), the mail ending with the event id and the footer.
pub(super) fn own_message(
    subject: String,
    mut email: String,
    d: &Value,
    r: Route<'_>,
    id: Option<&str>,
) -> Rendered {
    if let Some(id) = id {
        let _ = writeln!(email, "Event id: {id}");
    }
    footer(&mut email);
    let mut detail = match d {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    // The document's own fields take the place of the detail's.
    for field in ["schema", "kind", "subject", "text", "detail_type", "event_id"] {
        detail.remove(field);
    }
    let account =
        detail.remove("account").map(|a| Account::deserialize(a.clone()).unwrap_or(Account::Other(a)));
    let own = Own { detail_type: r.detail_type.to_owned(), event_id: id.map(str::to_owned), detail };
    let mut doc = document(r.kind, &subject, email, About::Own(own));
    doc.account = account;
    Rendered::Send(Box::new(message(doc, attributes(r.kind, r.state, r.severity, r.bucket))))
}

/// The document: the JSON carries the human text too, for ticket systems and for subscribers (SQS,
/// HTTPS) that receive the `default` body rather than the email.
pub(super) fn document(kind: &str, subject: &str, email: String, about: About) -> Document {
    Document {
        schema: SCHEMA.into(),
        kind: kind.into(),
        subject: clean_subject(subject),
        text: Some(email),
        account: None,
        about,
    }
}

/// The message of a document: the mail's subject and text are the document's.
pub(super) fn message(doc: Document, attributes: Vec<(String, String)>) -> Notification {
    Notification {
        subject: doc.subject.clone(),
        email: doc.text.clone().unwrap_or_default(),
        default: doc.to_value(),
        attributes,
        second_channel: false,
    }
}

pub(super) fn attributes(kind: &str, state: &str, severity: Severity, bucket: &str) -> Vec<(String, String)> {
    vec![
        ("kind".into(), kind.into()),
        ("state".into(), state.into()),
        ("severity".into(), severity.word().into()),
        ("bucket".into(), bucket.into()),
    ]
}

pub(super) fn footer(email: &mut String) {
    email.push_str("\n--\nSent by breakglass, which guards the log buckets. It puts unlawful bucket policies back to\nClosedAccess at once and tells the security team whether that worked; you do not need to act on\ninformation messages. Questions: your security team.\n");
}

/// A mail that begins with what happened.
pub(super) fn happened(what: &str) -> String {
    let mut email = String::new();
    section(&mut email, "What happened", what);
    email
}

pub(super) fn section(email: &mut String, title: &str, body: &str) {
    let _ = writeln!(email, "{title}");
    for line in body.lines() {
        let _ = writeln!(email, "  {line}");
    }
    email.push('\n');
}

/// `2026-11-24 16:00 UTC` (seconds only when not zero).
/// A time written as RFC 3339 in an event, as people read it ([`human_time`]); text that is no
/// such time is shown as it is, made printable.
pub(super) fn human_text(t: &str) -> String {
    crate::time::parse_time(t).map_or_else(|| canonical_policies::printable(t).into_owned(), human_time)
}

pub(super) fn human_time(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    let secs = if t.second() == 0 { String::new() } else { format!(":{:02}", t.second()) };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}{secs} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// "[breakglass] …", no control characters, under 100 characters.
pub(super) fn clean_subject(s: &str) -> String {
    let mut out: String = format!("[breakglass] {s}")
        .chars()
        .map(|c| if crate::notice::breaks_text(c) { ' ' } else { c })
        .collect();
    if out.chars().count() > MAX_SUBJECT {
        out = out.chars().take(MAX_SUBJECT - 1).collect();
        out.push('…');
    }
    out
}
