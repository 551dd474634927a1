//! The notifier's messages: one SNS message per relevant event. The `email` body is plain text for a
//! works-council member; the `default` body is a versioned JSON document for machines
//! (`docs/notification-schema.md`); message attributes route it (`kind`, `state`, `severity`, `bucket`).

use std::fmt::Write as _;

use canonical_policies::diff::diff_nearest;
use canonical_policies::{
    classify, classify_text, format_expiry, BucketConfig, Classification, Config, Policy, Quoted, State,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::enforce::exposure;
use crate::event::{ApiCall, GuardedCall, Incoming, Response, Target};
use crate::events::REPAIR;
use crate::events::{self, OwnEvent, OwnEventError};
use crate::ports::Notification;
use crate::{parse_time, role_name};

mod approval;
mod reads;

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

fn api_call(config: &Config, scope: &Scope, call: &ApiCall, now: OffsetDateTime) -> Rendered {
    let Some(guarded) = call.guarded() else {
        return Rendered::Ignored(format!("{} is not a guarded call", Quoted(&call.event_name)));
    };
    if guarded.target() != Target::Bucket {
        return control_call(config, scope, guarded, call);
    }
    let Some(name) = call.bucket.as_deref() else {
        // Never silent: a guarded call on an unknown bucket may be on a protected one.
        return Rendered::Send(Box::new(no_bucket(guarded, call)));
    };
    let Some(bucket) = config.bucket(name) else {
        return Rendered::Ignored(format!("bucket {} is not protected", Quoted(name)));
    };
    if call.is_attempt() {
        return Rendered::Send(Box::new(attempt(bucket, guarded, call)));
    }
    if !guarded.touches_policy() {
        return Rendered::Send(Box::new(setting_change(bucket, guarded, call)));
    }
    Rendered::Send(Box::new(policy_change(bucket, guarded, call, now)))
}

/// The state a policy call leaves the bucket in, judged from the policy in the event.
fn resulting(
    bucket: &BucketConfig,
    guarded: GuardedCall,
    call: &ApiCall,
    now: OffsetDateTime,
) -> (Classification, Option<Policy>) {
    match (guarded, call.policy_text()) {
        (GuardedCall::PutBucketPolicy, Some(text)) => {
            let at = call.event_time.as_deref().and_then(parse_time).unwrap_or(now);
            classify_text(bucket, Some(text.as_bytes()), at)
        }
        _ => (classify(bucket, None, now), None),
    }
}

fn policy_change(
    bucket: &BucketConfig,
    guarded: GuardedCall,
    call: &ApiCall,
    now: OffsetDateTime,
) -> Notification {
    let (c, policy) = resulting(bucket, guarded, call, now);
    let b = &bucket.name;
    let (headline, subject, severity) = match (&c.state, guarded) {
        (_, GuardedCall::DeleteBucketPolicy) => (
            format!("The bucket policy of log bucket {b} was deleted. Without it nothing stops reading the logs; breakglass restores ClosedAccess automatically."),
            format!("ALERT {b}: bucket policy DELETED"),
            Severity::Critical,
        ),
        (State::Closed, _) => (
            format!("Access to log bucket {b} was closed: nobody can read the logs (ClosedAccess)."),
            format!("{b}: access CLOSED"),
            Severity::Info,
        ),
        (State::Open(_), _) if !call.actor.principal_arns().any(|a| bucket.automation_principals.contains(a)) => (
            format!("Access to log bucket {b} was opened by someone who is not a break-glass operator. breakglass closes it again automatically and the security team is alerted."),
            format!("ALERT {b}: access opened by an unauthorised principal"),
            Severity::Critical,
        ),
        (State::Open(g), _) => (
            format!(
                "Access to log bucket {b} was opened for {} until {} (OpenAccess). Reading ends at that time even if nobody closes it.",
                g.readers.iter().map(|r| role_name(r)).collect::<Vec<_>>().join(", "),
                human_time(g.expiry)
            ),
            format!("{b}: access OPENED until {}", human_time(g.expiry)),
            Severity::Warning,
        ),
        (State::Expired(g), _) => (
            format!("An OpenAccess for log bucket {b} was written that had already expired at {}.", human_time(g.expiry)),
            format!("{b}: expired OpenAccess written"),
            Severity::Warning,
        ),
        (State::Drift(_), _) => (
            format!("The bucket policy of log bucket {b} was changed to a policy that is neither ClosedAccess nor a lawful OpenAccess. breakglass restores ClosedAccess automatically and the security team is alerted."),
            format!("ALERT {b}: unlawful bucket policy written"),
            Severity::Critical,
        ),
    };
    let mut email = String::new();
    section(&mut email, "What happened", &headline);
    section(&mut email, "Resulting state", &state_text(&c));
    if matches!(c.state, State::Drift(_)) || guarded == GuardedCall::DeleteBucketPolicy {
        let diff = diff_nearest(bucket, policy.as_ref(), now);
        section(&mut email, "How it differs from the lawful policy", diff.to_string().trim_end());
    }
    who_when_where(&mut email, call);
    let state = match guarded {
        GuardedCall::DeleteBucketPolicy => "none",
        _ => c.state.word(),
    };
    let default =
        call_document("change", severity, b, guarded, state, call, json!({ "policy": state_json(&c) }));
    finish(subject, email, default, "change", state, severity, b)
}

fn attempt(bucket: &BucketConfig, guarded: GuardedCall, call: &ApiCall) -> Notification {
    let b = &bucket.name;
    let code = call.error_code.as_deref().unwrap_or("an error");
    let mut email = String::new();
    section(
        &mut email,
        "What happened",
        &format!(
            "Someone tried to change log bucket {b} ({}), and AWS refused it with {code}. Nothing changed.",
            call_in_words(guarded)
        ),
    );
    if let Some(msg) = &call.error_message {
        section(&mut email, "AWS said", msg);
    }
    who_when_where(&mut email, call);
    let error = json!({ "error": { "code": call.error_code, "message": call.error_message } });
    let default = call_document("attempt", Severity::Warning, b, guarded, "unchanged", call, error);
    let subject = format!("{b}: refused attempt to {} ({code})", call_in_words(guarded));
    finish(subject, email, default, "attempt", "unchanged", Severity::Warning, b)
}

/// A bucket setting change that destroys, copies out or exposes the logs, in words.
fn weakening(guarded: GuardedCall, call: &ApiCall) -> Option<String> {
    if let Some(e) = exposure(guarded, call) {
        return Some(e);
    }
    match guarded {
        GuardedCall::PutBucketVersioning => call
            .versioning
            .as_deref()
            .filter(|v| *v != "Enabled")
            .map(|v| format!("versioning set to `{v}`; breakglass turns it back on")),
        GuardedCall::PutBucketLifecycle => Some(
            "the lifecycle rules were changed; breakglass removes them if any expires logs sooner than the retention"
                .into(),
        ),
        GuardedCall::PutBucketReplication => {
            Some("replication was configured, which copies every log object elsewhere; breakglass removes it".into())
        }
        GuardedCall::DeleteBucketLifecycle => None,
        g => matches!(g.response(), Response::Alert).then(|| format!("someone could {}", g.threat())),
    }
}

fn setting_change(bucket: &BucketConfig, guarded: GuardedCall, call: &ApiCall) -> Notification {
    let b = &bucket.name;
    let weakening = weakening(guarded, call);
    let severity = if weakening.is_some() { Severity::Critical } else { Severity::Info };
    let mut email = String::new();
    let headline = match &weakening {
        Some(w) => format!(
            "A setting that keeps the logs of bucket {b} private and intact was changed: {w}. The security team is alerted."
        ),
        None => format!(
            "The {} of log bucket {b} was changed; the change does not open the bucket.",
            setting_name(guarded)
        ),
    };
    section(&mut email, "What happened", &headline);
    who_when_where(&mut email, call);
    let state = if weakening.is_some() { "exposed" } else { "unchanged" };
    let default =
        call_document("change", severity, b, guarded, state, call, json!({ "exposure": weakening }));
    let subject = match weakening {
        Some(_) => format!("ALERT {b}: {} weakened", setting_name(guarded)),
        None => format!("{b}: {} changed", setting_name(guarded)),
    };
    finish(subject, email, default, "change", state, severity, b)
}

/// breakglass's own events: requests for everybody, remediations, exposures and repairs for the
/// security team, the planned close after expiry for stakeholders. Read through their types
/// (`crate::events`), not by string keys.
fn custom(config: &Config, detail_type: &str, d: &Value, id: Option<&str>) -> Rendered {
    let event = match OwnEvent::from_bus(detail_type, d) {
        Ok(e) => e,
        Err(OwnEventError::Unknown(other)) => {
            return Rendered::Ignored(format!("breakglass event {} is not mailed", Quoted(&other)))
        }
        Err(e) => return Rendered::Ignored(e.to_string()),
    };
    if let OwnEvent::Repair(r) = &event {
        return repair(r, d, id);
    }
    if let OwnEvent::Config(c) = &event {
        return config_change(c, d, id);
    }
    if let OwnEvent::Unreadable(u) = &event {
        return reads::unreadable(u, d, id);
    }
    let Some(bucket) = event.bucket().filter(|b| config.bucket(b).is_some()).map(str::to_owned) else {
        return Rendered::Ignored("breakglass event for an unknown bucket".into());
    };
    match &event {
        OwnEvent::ReadAlert(a) => return reads::read_alert(a, d, id),
        OwnEvent::Denied(g) => return reads::denied(g, d, id),
        OwnEvent::WindowReport(r) => return reads::window_report(r, d, id),
        OwnEvent::AccessRequest(q) => return approval::request(q, d, id),
        OwnEvent::Decision(x) => return approval::decision(x, d, id),
        _ => {}
    }
    let mut email = String::new();
    let (subject, kind, state, severity) = match &event {
        // The planned end of a window: stakeholders are told, it is not an alert.
        OwnEvent::Remediation(r) if r.outcome == "closed" && r.before.state == "expired" => {
            let reason = r.reason.as_deref().unwrap_or("the OpenAccess expired");
            section(
                &mut email,
                "What happened",
                &format!("The access window of log bucket {bucket} has ended ({reason}). breakglass restored ClosedAccess as planned: nobody can read the logs."),
            );
            if let Some(after) = &r.after.hash {
                section(&mut email, "Policy SHA-256", after);
            }
            (format!("{bucket}: access CLOSED after expiry"), "expiry", "closed".to_owned(), Severity::Info)
        }
        OwnEvent::Remediation(r) => {
            let outcome = r.outcome.as_str();
            let headline = match outcome {
                "closed" => format!("breakglass found an unlawful policy on log bucket {bucket} and restored ClosedAccess. It checked the result: nobody can read the logs."),
                "dry-run" => format!("breakglass found an unlawful policy on log bucket {bucket}. It runs in dry-run mode and changed nothing: act now."),
                "refused" => format!("breakglass found an unlawful policy on log bucket {bucket}, but S3 REFUSED ClosedAccess ({}). The bucket may be readable: act now.", r.error.as_deref().unwrap_or("no detail")),
                "unverified" => format!("breakglass found an unlawful policy on log bucket {bucket} and wrote ClosedAccess, but reading it back still showed {}. It checks again automatically; if this repeats, act now.", r.error.as_deref().unwrap_or("another policy")),
                other => format!("breakglass remediation of log bucket {bucket}: {other}."),
            };
            section(&mut email, "What happened", &headline);
            section(&mut email, "Why", r.reason.as_deref().unwrap_or("not given"));
            let mut state = format!(
                "Before: {} (SHA-256 {})",
                r.before.state,
                r.before.hash.as_deref().unwrap_or("none")
            );
            if let Some(sid) = &r.before.claimed {
                let _ = write!(state, "\nIts first statement called itself {}.", Quoted(sid));
            }
            if let Some(after) = &r.after.hash {
                let _ = write!(state, "\nAfter: SHA-256 {after}");
            }
            section(&mut email, "Policy", &state);
            if !r.diff.is_empty() {
                let text: Vec<String> = r.diff.iter().map(|l| format!("- {l}")).collect();
                section(&mut email, "What was wrong", &text.join("\n"));
            }
            if let Some(t) = &r.trigger {
                section(
                    &mut email,
                    "Triggered by",
                    &format!("{} by {}", t.event_name, t.actor.as_deref().unwrap_or("unknown")),
                );
            }
            let subject = match outcome {
                "closed" => format!("ALERT {bucket}: unlawful policy reverted to ClosedAccess"),
                "refused" => format!("ALERT {bucket}: S3 REFUSED ClosedAccess, act now"),
                _ => format!("ALERT {bucket}: unlawful policy found ({outcome})"),
            };
            (subject, "remediation", outcome.to_owned(), Severity::Critical)
        }
        OwnEvent::Exposure(x) => {
            section(&mut email, "What happened", &format!("On log bucket {bucket}: {}.", x.what));
            section(
                &mut email,
                "Repair",
                if x.repaired {
                    "The public-access block was turned back on."
                } else {
                    "Not repaired automatically: please review."
                },
            );
            (format!("ALERT {bucket}: {}", x.what), "remediation", "exposed".to_owned(), Severity::Critical)
        }
        OwnEvent::Request(q) => {
            let (subject, state, severity) = request_mail(&mut email, &bucket, q);
            (subject, "request", state.to_owned(), severity)
        }
        OwnEvent::Misrouted(m) => {
            let from = match m.event_accounts.as_slice() {
                [] => "an event that names no account".to_owned(),
                accounts => format!(
                    "an event from account {}",
                    accounts.iter().map(|a| config.account_label(a)).collect::<Vec<_>>().join(" and ")
                ),
            };
            section(
                &mut email,
                "What happened",
                &format!(
                    "breakglass received {from} ({} by {}) that names log bucket {bucket}, which belongs to account {}. It read and wrote NOTHING for it: an event may only act in the account it came from. Someone forged this event, or an event rule forwards from the wrong account: please investigate.",
                    m.event_name,
                    m.actor.as_deref().unwrap_or("an unknown principal"),
                    config.account_label(&m.bucket_account),
                ),
            );
            section(
                &mut email,
                "The bucket",
                "Still checked: the scheduled sweep reads its policy from its own account as always.",
            );
            (
                format!("ALERT {bucket}: event from another account refused"),
                "remediation",
                "misrouted".to_owned(),
                Severity::Critical,
            )
        }
        OwnEvent::Repair(_)
        | OwnEvent::Config(_)
        | OwnEvent::Unreadable(_)
        | OwnEvent::ReadAlert(_)
        | OwnEvent::Denied(_)
        | OwnEvent::WindowReport(_)
        | OwnEvent::AccessRequest(_)
        | OwnEvent::Decision(_) => return Rendered::Ignored("handled above".into()),
    };
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
        attributes: attributes(kind, &state, severity, &bucket),
        second_channel: false,
    }))
}

/// The mail of an operator's request: (subject, state, severity).
fn request_mail(email: &mut String, bucket: &str, q: &events::Request) -> (String, &'static str, Severity) {
    let requester = q.requester.as_str();
    let until = |g: &events::Grant| parse_time(&g.expiry).map(human_time).unwrap_or_else(|| "?".into());
    let readers = |g: &events::Grant| g.readers.join(", ");
    let result = match (q.action.as_str(), &q.grant) {
        (action, _) if q.refused() => {
            section(
                email,
                "What happened",
                &format!("{requester} asked to {action} log bucket {bucket}, and breakglass REFUSED it. Nothing changed."),
            );
            section(email, "Why it was refused", q.error.as_deref().unwrap_or("not given"));
            section(email, "Reason given", q.reason.as_deref().filter(|r| !r.is_empty()).unwrap_or("none"));
            section(email, "Ticket given", q.ticket.as_deref().filter(|r| !r.is_empty()).unwrap_or("none"));
            (format!("{bucket}: REFUSED request to {action} access"), "refused", Severity::Warning)
        }
        ("open", Some(g)) => {
            let mut what = format!("{requester} opened log bucket {bucket} for reading until {}.", until(g));
            if let Some(p) = &q.previous {
                let _ = write!(
                    what,
                    " It was already open until {} for {}; no grant was cut short.",
                    until(p),
                    readers(p)
                );
            }
            section(email, "What happened", &what);
            section(email, "Why", q.reason.as_deref().unwrap_or("not given"));
            section(email, "Ticket", q.ticket.as_deref().unwrap_or("not given"));
            section(email, "Who may read", &readers(g));
            section(email, "Until", &format!("{} (the policy itself denies reading after that)", until(g)));
            (
                format!(
                    "{bucket}: access OPENED until {} ({})",
                    until(g),
                    q.ticket.as_deref().unwrap_or("no ticket")
                ),
                "open",
                Severity::Warning,
            )
        }
        _ => {
            let mut what = format!("{requester} closed log bucket {bucket}: nobody can read the logs.");
            if let Some(p) = &q.previous {
                let _ = write!(what, " Access had been open until {} for {}.", until(p), readers(p));
            }
            section(email, "What happened", &what);
            section(email, "Why", q.reason.as_deref().unwrap_or("not given"));
            (format!("{bucket}: access CLOSED"), "closed", Severity::Info)
        }
    };
    if let Some(h) = &q.policy_hash {
        section(email, "Policy SHA-256", h);
    }
    result
}

/// The sentinel's finding around a bucket (settings), an investigator role (trust) or a topic
/// (subscriptions): always an alert for the security team.
/// A new config: which buckets are protected, who may read, who may act. The security team reads
/// every change of it, as of any policy.
fn config_change(c: &events::ConfigChange, d: &Value, id: Option<&str>) -> Rendered {
    let mut email = String::new();
    section(
        &mut email,
        "What happened",
        &format!(
            "{} pushed a new breakglass config to {}. The functions use it within a minute.",
            c.by, c.location
        ),
    );
    section(
        &mut email,
        "Config SHA-256",
        &format!(
            "Before: {}\nAfter: {}",
            c.before_sha256.as_deref().unwrap_or("(none: the first push)"),
            c.after_sha256
        ),
    );
    section(&mut email, "What changed", if c.diff.is_empty() { "(nothing)" } else { &c.diff });
    if let Some(id) = id {
        let _ = writeln!(email, "Event id: {id}");
    }
    footer(&mut email);
    let subject_line =
        format!("breakglass config changed ({})", c.after_sha256.get(..12).unwrap_or(&c.after_sha256));
    let mut default = d.clone();
    if let Value::Object(m) = &mut default {
        m.insert("schema".into(), json!(SCHEMA));
        m.insert("kind".into(), json!("config"));
        m.insert("detail_type".into(), json!(events::CONFIG));
        m.insert("event_id".into(), json!(id));
    }
    with_text(&mut default, &subject_line, &email);
    Rendered::Send(Box::new(Notification {
        subject: clean_subject(&subject_line),
        default,
        email,
        attributes: attributes("config", "changed", Severity::Warning, crate::audit::CONTROL),
        second_channel: false,
    }))
}

fn repair(r: &events::Repair, d: &Value, id: Option<&str>) -> Rendered {
    let subject = r.subject.as_str();
    let mut email = String::new();
    let thing = match r.kind.as_str() {
        "bucket" => format!("log bucket {subject}"),
        "role" => format!("investigator role {subject}"),
        _ => format!("notification topic {subject}"),
    };
    section(&mut email, "What happened", &format!("On {thing}: {}.", r.what));
    let outcome = match (r.repaired, &r.error) {
        (true, _) => "breakglass put the lawful state back; the next sweep checks it again.".to_owned(),
        (false, Some(e)) => format!("breakglass could NOT put it back: AWS refused ({e}). Act now."),
        (false, None) => "breakglass cannot put this back by itself: act now.".to_owned(),
    };
    section(&mut email, "Repair", &outcome);
    if let Some(id) = id {
        let _ = writeln!(email, "Event id: {id}");
    }
    footer(&mut email);
    let short = r.what.split(';').next().unwrap_or(&r.what);
    let subject_line = format!("ALERT {}: {short}", role_name(subject));
    let mut default = d.clone();
    if let Value::Object(m) = &mut default {
        m.insert("schema".into(), json!(SCHEMA));
        m.insert("kind".into(), json!("remediation"));
        m.insert("detail_type".into(), json!(REPAIR));
        m.insert("event_id".into(), json!(id));
    }
    with_text(&mut default, &subject_line, &email);
    let state = if r.repaired { "repaired" } else { "exposed" };
    Rendered::Send(Box::new(Notification {
        subject: clean_subject(&subject_line),
        default,
        email,
        attributes: attributes(
            "remediation",
            state,
            Severity::Critical,
            r.bucket.as_deref().unwrap_or(subject),
        ),
        second_channel: r.kind == "topic",
    }))
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

fn state_text(c: &Classification) -> String {
    let mut out = match &c.state {
        State::Closed => "Closed: nobody can read the logs.".to_owned(),
        State::Open(g) => format!(
            "Open until {} for: {}.",
            human_time(g.expiry),
            g.readers.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
        ),
        State::Expired(g) => format!("Expired at {}: nobody can read the logs.", human_time(g.expiry)),
        State::Drift(reasons)
            if reasons.iter().any(|r| matches!(r, canonical_policies::DriftReason::NoPolicy)) =>
        {
            "No bucket policy: nothing stops reading the logs.".to_owned()
        }
        State::Drift(_) => format!("Not a lawful policy ({c})."),
    };
    if let Some(h) = c.hash {
        let _ = write!(out, "\nPolicy SHA-256: {h}");
    }
    if let Some(sid) = &c.claimed {
        let _ = write!(out, "\nFirst statement: {}", Quoted(sid));
        if c.claim_mismatch() {
            out.push_str(
                "\nWARNING: the policy calls itself by that name, but its content is not that policy.",
            );
        }
    }
    out
}

fn state_json(c: &Classification) -> Value {
    let (expiry, readers) = match &c.state {
        State::Open(g) | State::Expired(g) => {
            (Some(format_expiry(g.expiry)), g.readers.iter().cloned().collect())
        }
        _ => (None, Vec::new()),
    };
    let reasons: Vec<String> = match &c.state {
        State::Drift(rs) => rs.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    };
    json!({
        "hash": c.hash.map(|h| h.to_string()),
        "first_sid": c.claimed,
        "claim_mismatch": c.claim_mismatch(),
        "expiry": expiry,
        "readers": readers,
        "reasons": reasons,
    })
}

fn who_when_where(email: &mut String, call: &ApiCall) {
    section(email, "Who", &call.actor.describe());
    let when = call.event_time.as_deref().and_then(parse_time).map(human_time);
    section(email, "When", when.as_deref().or(call.event_time.as_deref()).unwrap_or("unknown"));
    let ip = call.source_ip.as_deref().unwrap_or("an unknown address");
    section(email, "From where", &format!("{ip}, using {}", client(call.user_agent.as_deref())));
    if let Some(id) = &call.event_id {
        let _ = writeln!(email, "Event id: {id}");
    }
}

/// The JSON document of a CloudTrail call: the common fields plus `extra`'s.
fn call_document(
    kind: &str,
    severity: Severity,
    bucket: &str,
    guarded: GuardedCall,
    state: &str,
    call: &ApiCall,
    extra: Value,
) -> Value {
    let mut doc = json!({
        "schema": SCHEMA,
        "kind": kind,
        "severity": severity.word(),
        "bucket": bucket,
        "call": guarded.name(),
        "state": state,
        "event": event_json(call),
        "actor": actor_json(call),
    });
    if let (Value::Object(d), Value::Object(e)) = (&mut doc, extra) {
        d.extend(e);
    }
    doc
}

fn event_json(call: &ApiCall) -> Value {
    json!({
        "id": call.event_id,
        "name": call.event_name,
        "time": call.event_time,
        "region": call.region,
        "source_ip": call.source_ip,
        "user_agent": call.user_agent,
    })
}

fn actor_json(call: &ApiCall) -> Value {
    let a = &call.actor;
    json!({
        "type": a.kind,
        "arn": a.arn,
        "account": a.account,
        "role": a.role_arn,
        "session": a.session,
        "mfa": a.mfa,
        "invoked_by": a.invoked_by,
    })
}

/// Which kind of client made the call, from the user agent, in words.
fn client(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else { return "an unknown client".into() };
    let lower = ua.to_ascii_lowercase();
    let kind = if lower.contains("signin.amazonaws.com") || lower.contains("console") {
        "the AWS console"
    } else if lower.starts_with("aws-cli") {
        "the AWS CLI"
    } else if lower.contains("cloudformation") {
        "CloudFormation"
    } else if lower.contains("terraform") {
        "Terraform"
    } else if lower.contains("sdk") || lower.contains("boto") {
        "an AWS SDK"
    } else {
        "another client"
    };
    let shown: String = ua.chars().filter(|c| !c.is_control()).take(80).collect();
    format!("{kind} ({shown})")
}

fn call_in_words(g: GuardedCall) -> &'static str {
    match g {
        GuardedCall::PutBucketPolicy => "change the bucket policy",
        GuardedCall::DeleteBucketPolicy => "delete the bucket policy",
        GuardedCall::PutBucketAcl => "change the bucket ACL",
        GuardedCall::PutBucketPublicAccessBlock => "change the public-access block",
        GuardedCall::DeleteBucketPublicAccessBlock => "remove the public-access block",
        GuardedCall::PutBucketOwnershipControls => "change object ownership",
        GuardedCall::DeleteBucketOwnershipControls => "remove object ownership controls",
        GuardedCall::PutBucketLifecycle => "change the lifecycle rules",
        GuardedCall::DeleteBucketLifecycle => "remove the lifecycle rules",
        GuardedCall::PutBucketVersioning => "change versioning",
        GuardedCall::PutBucketEncryption => "change default encryption",
        GuardedCall::DeleteBucketEncryption => "remove default encryption",
        GuardedCall::PutBucketReplication => "configure replication",
        GuardedCall::PutBucketNotification => "change event notifications",
        GuardedCall::PutBucketInventoryConfiguration => "configure an inventory",
        GuardedCall::DeleteBucket => "delete the bucket",
        GuardedCall::UpdateAssumeRolePolicy => "change a role's trust policy",
        GuardedCall::CreateRole => "create a role",
        GuardedCall::DeleteRole => "delete a role",
        GuardedCall::PutRolePolicy | GuardedCall::AttachRolePolicy => "give a role more permissions",
        GuardedCall::PutRolePermissionsBoundary | GuardedCall::DeleteRolePermissionsBoundary => {
            "change a role's permissions boundary"
        }
        GuardedCall::DisableKey => "disable the KMS key",
        GuardedCall::ScheduleKeyDeletion => "schedule the KMS key's deletion",
        GuardedCall::PutKeyPolicy => "replace the KMS key's policy",
        GuardedCall::DeleteAlias => "delete the KMS alias",
        GuardedCall::UpdateAlias => "re-point the KMS alias",
        GuardedCall::Unsubscribe => "remove a subscription",
        GuardedCall::SetSubscriptionAttributes => "change a subscription",
        GuardedCall::Subscribe => "add a subscription",
        GuardedCall::PutDataProtectionPolicy => "set a data-protection policy on a topic",
        GuardedCall::CreateFunction => "create a function with a breakglass role",
        GuardedCall::UpdateFunctionConfiguration => "give a function a breakglass role",
        GuardedCall::CreateStack => "create a stack with the deployment role",
        GuardedCall::StopLogging => "stop the trail of object reads",
        GuardedCall::DeleteTrail => "delete the trail of object reads",
        GuardedCall::UpdateTrail => "change the trail of object reads",
        GuardedCall::PutEventSelectors => "change what the trail of object reads records",
    }
}

fn setting_name(g: GuardedCall) -> &'static str {
    match g {
        GuardedCall::PutBucketAcl => "bucket ACL",
        GuardedCall::PutBucketOwnershipControls | GuardedCall::DeleteBucketOwnershipControls => {
            "object ownership"
        }
        GuardedCall::PutBucketPublicAccessBlock | GuardedCall::DeleteBucketPublicAccessBlock => {
            "public-access block"
        }
        GuardedCall::PutBucketLifecycle | GuardedCall::DeleteBucketLifecycle => "lifecycle configuration",
        GuardedCall::PutBucketVersioning => "versioning",
        GuardedCall::PutBucketEncryption | GuardedCall::DeleteBucketEncryption => "default encryption",
        GuardedCall::PutBucketReplication => "replication",
        GuardedCall::PutBucketNotification => "event notification",
        GuardedCall::PutBucketInventoryConfiguration => "inventory",
        GuardedCall::DeleteBucket => "bucket itself",
        _ => "configuration",
    }
}

/// A guarded call outside the buckets: the investigator and breakglass roles, breakglass's key and
/// topics, and functions or stacks given a breakglass role. Not watched: ignored.
fn control_call(config: &Config, scope: &Scope, guarded: GuardedCall, call: &ApiCall) -> Rendered {
    let Some(raw) = call.target.as_deref() else {
        return Rendered::Send(Box::new(no_bucket(guarded, call)));
    };
    // The name comes from the request: one printable line, of bounded length, in mail and document.
    let target: String = raw.chars().filter(|c| !c.is_control()).take(256).collect();
    let target = target.as_str();
    let role_name = |t: &str| t.rsplit('/').next().unwrap_or(t).to_owned();
    let watched = match guarded.target() {
        Target::Role => config.is_investigator_role(target) || role_name(target).starts_with("breakglass-"),
        Target::Key => {
            target.starts_with("alias/breakglass")
                || scope.key_arn.as_deref().is_some_and(|k| k == target || k.ends_with(&format!("/{target}")))
        }
        Target::Topic => target.contains(":breakglass-"),
        Target::FunctionRole | Target::StackRole => role_name(target).starts_with("breakglass-"),
        // A trail is named by its name or ARN (`…:trail/breakglass-reads`).
        Target::Trail => role_name(target).starts_with("breakglass"),
        Target::Bucket => true,
    };
    if !watched {
        return Rendered::Ignored(format!(
            "{} on {} is not breakglass's",
            Quoted(&call.event_name),
            Quoted(target)
        ));
    }
    let who = call.actor.describe();
    let mut email = String::new();
    let (subject, severity, kind) = if let Some(code) = &call.error_code {
        section(
            &mut email,
            "What happened",
            &format!("{who} tried to {} ({target}), and AWS refused it with {code}. Nothing changed. Had it worked, it could {}.", call_in_words(guarded), guarded.threat()),
        );
        (format!("refused attempt to {} ({code})", call_in_words(guarded)), Severity::Warning, "attempt")
    } else {
        let response = match guarded.response() {
            Response::RevertTrust if config.investigator(target).is_some() => {
                "breakglass puts the configured trust policy back and checks it on every sweep."
            }
            Response::RevertTrust => {
                "No trust policy is configured for this role ([[investigator]]): review it now."
            }
            Response::Revert => "breakglass puts the lawful state back.",
            Response::Alert => "breakglass cannot undo this: review it now.",
        };
        section(
            &mut email,
            "What happened",
            &format!(
                "Someone managed to {} ({target}). This could {}. {response}",
                call_in_words(guarded),
                guarded.threat()
            ),
        );
        (format!("ALERT: {} ({})", call_in_words(guarded), role_name(target)), Severity::Critical, "change")
    };
    who_when_where(&mut email, call);
    let state = if call.is_attempt() { "unchanged" } else { "changed" };
    let default = call_document(
        kind,
        severity,
        crate::audit::CONTROL,
        guarded,
        state,
        call,
        json!({ "target": target }),
    );
    let mut n = finish(subject, email, default, kind, state, severity, crate::audit::CONTROL);
    n.second_channel = matches!(guarded.target(), Target::Key | Target::Topic);
    Rendered::Send(Box::new(n))
}

/// A guarded call whose record names no bucket (or role, key, topic): breakglass cannot tell what
/// it touched, so it says so loudly and the enforcer sweeps every bucket.
fn no_bucket(guarded: GuardedCall, call: &ApiCall) -> Notification {
    let mut email = String::new();
    section(
        &mut email,
        "What happened",
        &format!(
            "CloudTrail recorded a call to {} that names nothing breakglass can check (its request parameters are empty). It may have touched a protected log bucket: breakglass checks every protected bucket now, and the security team must look at the event.",
            call_in_words(guarded)
        ),
    );
    who_when_where(&mut email, call);
    let default = call_document(
        "change",
        Severity::Critical,
        crate::audit::CONTROL,
        guarded,
        "unknown",
        call,
        json!({}),
    );
    finish(
        format!("ALERT: {} naming no bucket", guarded.name()),
        email,
        default,
        "change",
        "unknown",
        Severity::Critical,
        crate::audit::CONTROL,
    )
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
