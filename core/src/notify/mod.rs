//! The notifier's messages: one SNS message per relevant event. The `email` body is plain text for a
//! works-council member; the `default` body is a versioned JSON document for machines
//! (`docs/notification-schema.md`); message attributes route it (`kind`, `state`, `severity`, `bucket`).
//!
//! One module per kind of event: `calls` (CloudTrail's records of guarded calls), `own`
//! (breakglass's requests, remediations, repairs, config changes), `reads` (what was read: alerts,
//! digests of refused reads, access reports), `approval` (the two-person rule). This one routes and
//! holds what they share (subjects, sections, attributes, the account and Region of a bucket).

use std::fmt::Write as _;

use breakglass_config::Config;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::event::Incoming;
use crate::ports::Notification;

mod approval;
mod calls;
mod own;
mod reads;

use calls::api_call;
use own::custom;

pub const SCHEMA: &str = "breakglass.notification/1";
/// SNS allows 100; keep a margin for mail clients that prefix.
const MAX_SUBJECT: usize = 99;

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

/// Renders every message an incoming event calls for, watching the config's buckets and roles.
pub fn render(config: &Config, incoming: &Incoming, now: OffsetDateTime) -> Vec<Rendered> {
    render_in(config, &Scope::default(), incoming, now)
}

/// [`render`], also watching what `scope` names (breakglass's key).
pub fn render_in(config: &Config, scope: &Scope, incoming: &Incoming, now: OffsetDateTime) -> Vec<Rendered> {
    let rendered = match incoming {
        Incoming::Schedule { .. } => vec![Rendered::Ignored("scheduled sweeps are the enforcer's".into())],
        Incoming::Custom { detail_type, detail, id } => {
            vec![custom(config, detail_type, detail, id.as_deref())]
        }
        Incoming::ApiCalls(calls) => calls
            .iter()
            .map(|c| match crate::route::check(config, c, now) {
                // Not a change of that bucket: the enforcer's misrouted alert says what it is.
                Some(m) => Rendered::Ignored(format!(
                    "event from account(s) {} names bucket {} of account {}: not mailed as a change",
                    m.event_accounts.join(","),
                    m.bucket,
                    m.bucket_account
                )),
                None => api_call(config, scope, c, now),
            })
            .collect(),
    };
    if config.organisation.is_none() {
        return rendered;
    }
    rendered
        .into_iter()
        .map(|r| match r {
            Rendered::Send(mut n) => {
                place(config, &mut n);
                Rendered::Send(n)
            }
            ignored => ignored,
        })
        .collect()
}

/// Organisation mode: a message about a bucket names its account (and alias) and Region, in the
/// subject, the first line of the mail, the JSON document and an attribute for filter policies.
fn place(config: &Config, n: &mut Notification) {
    let Some(bucket) = n.attributes.iter().find(|(k, _)| k == "bucket").and_then(|(_, b)| config.bucket(b))
    else {
        return;
    };
    let account = config.account(&bucket.account);
    let alias = account.and_then(|a| a.alias.clone());
    let region = bucket.region.clone().unwrap_or_default();
    let short = alias.clone().unwrap_or_else(|| bucket.account.clone());
    // The place goes last and is never the part clipped to SNS's subject limit.
    let suffix =
        format!(" [{}]", format!("{short} {region}").chars().filter(|c| !c.is_control()).collect::<String>());
    let room = MAX_SUBJECT.saturating_sub(suffix.chars().count());
    let mut subject: String = n.subject.chars().take(room).collect();
    if n.subject.chars().count() > room {
        subject.pop();
        subject.push('…');
    }
    subject.push_str(&suffix);
    n.email = format!("Account: {}, Region: {region}\n\n{}", config.account_label(&bucket.account), n.email);
    if let Value::Object(m) = &mut n.default {
        m.insert("account".into(), json!({ "id": bucket.account, "alias": alias, "region": region }));
        m.insert("subject".into(), json!(subject));
        m.insert("text".into(), json!(n.email));
    }
    n.subject = subject;
    n.attributes.push(("account".into(), bucket.account.clone()));
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    fn word(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

fn finish(
    subject: String,
    mut email: String,
    mut default: Value,
    kind: &str,
    state: &str,
    severity: Severity,
    bucket: &str,
) -> Notification {
    footer(&mut email);
    with_text(&mut default, &subject, &email);
    Notification {
        subject: clean_subject(&subject),
        default,
        email,
        attributes: attributes(kind, state, severity, bucket),
        second_channel: false,
    }
}

/// How a message about one of breakglass's own events is routed and named.
struct Route<'a> {
    kind: &'a str,
    state: &'a str,
    severity: Severity,
    bucket: &'a str,
    detail_type: &'a str,
}

/// One of breakglass's own events as a message: its detail as the JSON document (with the schema,
/// kind, detail-type and event id added), the mail ending with the event id and the footer.
fn own_message(subject: String, mut email: String, d: &Value, r: Route<'_>, id: Option<&str>) -> Rendered {
    if let Some(id) = id {
        let _ = writeln!(email, "Event id: {id}");
    }
    footer(&mut email);
    let mut default = d.clone();
    if let Value::Object(m) = &mut default {
        m.insert("schema".into(), json!(SCHEMA));
        m.insert("kind".into(), json!(r.kind));
        m.insert("detail_type".into(), json!(r.detail_type));
        m.insert("event_id".into(), json!(id));
    }
    with_text(&mut default, &subject, &email);
    Rendered::Send(Box::new(Notification {
        subject: clean_subject(&subject),
        default,
        email,
        attributes: attributes(r.kind, r.state, r.severity, r.bucket),
        second_channel: false,
    }))
}

/// The JSON document carries the human text too, for ticket systems and for subscribers (SQS,
/// HTTPS) that receive the `default` body rather than the email.
fn with_text(default: &mut Value, subject: &str, email: &str) {
    if let Value::Object(m) = default {
        m.insert("subject".into(), json!(clean_subject(subject)));
        m.insert("text".into(), json!(email));
    }
}

fn attributes(kind: &str, state: &str, severity: Severity, bucket: &str) -> Vec<(String, String)> {
    vec![
        ("kind".into(), kind.into()),
        ("state".into(), state.into()),
        ("severity".into(), severity.word().into()),
        ("bucket".into(), bucket.into()),
    ]
}

fn footer(email: &mut String) {
    email.push_str("\n--\nSent by breakglass, which guards the log buckets. Unlawful policies are reverted automatically;\nyou do not need to act on information messages. Questions: your security team.\n");
}

fn section(email: &mut String, title: &str, body: &str) {
    let _ = writeln!(email, "{title}");
    for line in body.lines() {
        let _ = writeln!(email, "  {line}");
    }
    email.push('\n');
}

/// `2026-11-24 16:00 UTC` (seconds only when not zero).
fn human_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
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
fn clean_subject(s: &str) -> String {
    let mut out: String =
        format!("[breakglass] {s}").chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if out.chars().count() > MAX_SUBJECT {
        out = out.chars().take(MAX_SUBJECT - 1).collect();
        out.push('…');
    }
    out
}
