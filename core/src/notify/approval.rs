//! Mails of the two-person rule: a request waiting for another person's approval (to the security
//! team, who approve, and the stakeholders), its approval or denial, and refused decisions
//! (self-approval, not an approver, expired), which are attempts.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{attributes, clean_subject, footer, section, with_text, Rendered, Severity, SCHEMA};
use crate::events::{self, AccessRequest, Decision};
use crate::ports::Notification;

fn send(
    subject: String,
    mut email: String,
    d: &Value,
    (kind, state, severity, bucket): (&str, &str, Severity, &str),
    detail_type: &str,
    id: Option<&str>,
) -> Rendered {
    if let Some(id) = id {
        let _ = writeln!(email, "Event id: {id}");
    }
    footer(&mut email);
    let mut default = d.clone();
    if let Value::Object(m) = &mut default {
        m.insert("schema".into(), json!(SCHEMA));
        m.insert("kind".into(), json!(kind));
        m.insert("detail_type".into(), json!(detail_type));
        m.insert("event_id".into(), json!(id));
    }
    with_text(&mut default, &subject, &email);
    Rendered::Send(Box::new(Notification {
        subject: clean_subject(&subject),
        default,
        email,
        attributes: attributes(kind, state, severity, bucket),
        second_channel: false,
    }))
}

pub(super) fn request(q: &AccessRequest, d: &Value, id: Option<&str>) -> Rendered {
    let bucket = q.bucket.as_str();
    let mut email = String::new();
    section(
        &mut email,
        "What happened",
        &format!(
            "{} asks for read access to log bucket {bucket} for {}. Nothing is open yet: the two-person rule needs another person to approve.",
            q.requester, q.duration
        ),
    );
    section(&mut email, "Why", &q.reason);
    section(&mut email, "Ticket", &q.ticket);
    section(&mut email, "Who would read", &q.readers.join("\n"));
    section(
        &mut email,
        "To decide",
        &format!(
            "As an approver other than the requester:\n  breakglass approve {} --bucket {bucket}\n  breakglass deny {} --bucket {bucket}\nThe request expires at {}.",
            q.id, q.id, q.expires_at
        ),
    );
    let subject = format!("{bucket}: access REQUESTED ({}), waiting for approval [{}]", q.ticket, q.id);
    send(subject, email, d, ("approval", "requested", Severity::Warning, bucket), events::ACCESS_REQUEST, id)
}

pub(super) fn decision(x: &Decision, d: &Value, id: Option<&str>) -> Rendered {
    let bucket = x.bucket.as_str();
    let mut email = String::new();
    let (subject, kind, severity) = match x.decision.as_str() {
        "approved" => {
            section(
                &mut email,
                "What happened",
                &format!(
                    "{} APPROVED request {} of {} for log bucket {bucket}. The bucket opens for the readers below until {}.",
                    x.by,
                    x.id,
                    x.requester,
                    x.expiry.as_deref().unwrap_or("?")
                ),
            );
            section(&mut email, "Who may read", &x.readers.join("\n"));
            (format!("{bucket}: request {} APPROVED by another person", x.id), "approval", Severity::Warning)
        }
        "denied" => {
            section(
                &mut email,
                "What happened",
                &format!(
                    "{} DENIED request {} of {} for log bucket {bucket}. Nothing was opened.",
                    x.by, x.id, x.requester
                ),
            );
            (format!("{bucket}: request {} denied", x.id), "approval", Severity::Info)
        }
        _ => {
            section(
                &mut email,
                "What happened",
                &format!(
                    "{} tried to decide request {} of {} for log bucket {bucket}, and breakglass REFUSED it. Nothing was opened.",
                    x.by, x.id, x.requester
                ),
            );
            section(&mut email, "Why it was refused", x.error.as_deref().unwrap_or("not given"));
            (format!("{bucket}: REFUSED decision on request {}", x.id), "attempt", Severity::Warning)
        }
    };
    if let Some(r) = &x.reason {
        section(&mut email, "Reason of the request", r);
    }
    if let Some(t) = &x.ticket {
        section(&mut email, "Ticket", t);
    }
    send(subject, email, d, (kind, x.decision.as_str(), severity, bucket), events::DECISION, id)
}
