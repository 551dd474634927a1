//! The audit trail: one immutable JSON record per notification (request, state change, remediation,
//! refused attempt), written by the notifier to an S3 bucket under Object Lock in compliance mode.
//!
//! A record's key is `<prefix>[<account>/]<bucket>/<time>-<id>.json` (the account in organisation
//! mode): listing a bucket's prefix gives its history in time order, and `id` is the SHA-256 of the
//! record's content, so a retried invocation writes the same key and the conditional put
//! (`If-None-Match: *`) refuses the second copy instead of adding one.
//! Schema: `docs/audit-trail.md`.

use canonical_policies::AuditConfig;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::ports::{Notification, PortError};

pub const SCHEMA: &str = "breakglass.audit/1";

/// One record, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Relative to the trail's prefix: `[<account>/]<bucket>/<time>-<id>.json`.
    pub key: String,
    pub body: Value,
}

pub use crate::ports::{Appended, AuditLog};

/// The trail: where records go and how long they are locked.
#[derive(Debug, Clone)]
pub struct Trail<L> {
    pub log: L,
    pub config: AuditConfig,
    /// SHA-256 of the breakglass config in force, named in every record: an auditor can tell
    /// which config (which buckets, readers, limits) a decision was made under.
    pub config_sha256: Option<String>,
}

impl<L: AuditLog> Trail<L> {
    /// Writes `record` under the trail's prefix.
    pub async fn write(&self, record: &Record, now: OffsetDateTime) -> Result<Appended, PortError> {
        let key = format!("{}{}", self.config.prefix, record.key);
        self.log.append(&key, &record.body.to_string(), now + self.config.retain).await
    }
}

/// The prefix under which `bucket`'s records lie: `<prefix><bucket>/`, and in organisation mode
/// `<prefix><account>/<bucket>/` (a bucket name can be deleted and taken by another account).
pub fn bucket_prefix(config: &AuditConfig, account: Option<&str>, bucket: &str) -> String {
    match account {
        Some(account) => format!("{}{account}/{bucket}/", config.prefix),
        None => format!("{}{bucket}/", config.prefix),
    }
}

/// What a record says beyond the common fields, by kind of notification.
#[derive(Debug, Default)]
struct Facts {
    action: String,
    who: Option<String>,
    why: Option<String>,
    ticket: Option<String>,
    grant: Value,
    previous: Value,
    before: Option<String>,
    after: Option<String>,
}

/// Where records about what is not a bucket go (`<prefix>_control/`): investigator roles, the key,
/// the topics, borrowed roles, and guarded calls that name no bucket. Not a valid bucket name, so it
/// cannot collide with one.
pub const CONTROL: &str = "_control";

/// The audit record of a notification. `recorded_at` is only used when the event carries no time.
/// Everything that is mailed is recorded: what names no protected bucket under [`CONTROL`].
pub fn record(n: &Notification, recorded_at: OffsetDateTime, config_sha256: Option<&str>) -> Option<Record> {
    let d = &n.default;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let bucket = s(d, "bucket")
        .filter(|b| canonical_policies::config::is_bucket_name(b))
        .unwrap_or_else(|| CONTROL.to_owned());
    let kind = s(d, "kind").unwrap_or_else(|| "unknown".into());
    // Organisation mode: the bucket's account (the notifier names it in every message about a bucket).
    let account = d
        .get("account")
        .and_then(|a| s(a, "id"))
        .filter(|a| canonical_policies::policy::is_account_id(a) && bucket != CONTROL);
    let event = d.get("event").cloned().unwrap_or(Value::Null);
    let actor = d.get("actor").cloned().unwrap_or(Value::Null);
    let policy = d.get("policy").cloned().unwrap_or(Value::Null);

    let f = match kind.as_str() {
        "request" => Facts {
            action: match (s(d, "action"), s(d, "outcome")) {
                (Some(a), Some(o)) if o == "refused" => format!("{a}-refused"),
                (Some(a), _) => a,
                (None, _) => "unknown".into(),
            },
            who: s(d, "requester"),
            why: s(d, "reason").filter(|r| !r.is_empty()).or_else(|| s(d, "error")),
            ticket: s(d, "ticket"),
            grant: d.get("grant").cloned().unwrap_or(Value::Null),
            previous: d.get("previous").cloned().unwrap_or(Value::Null),
            before: s(d, "before_hash"),
            after: s(d, "policy_hash"),
        },
        // The recorder's: what was read (a window's report, reads outside the investigator roles),
        // digests of refused reads, data events it could not read.
        "access" | "denied" | "unreadable" => Facts {
            action: match (kind.as_str(), d.get("window").is_some()) {
                ("access", true) => "report".into(),
                ("access", false) => "read-alert".into(),
                ("denied", _) => "digest".into(),
                _ => "unreadable".into(),
            },
            who: Some("breakglass recorder".to_owned()),
            why: d.get("count").and_then(Value::as_u64).map(|n| format!("{n} event(s)")).or_else(|| {
                d.get("reads").and_then(Value::as_u64).map(|n| format!("{n} object(s) read in the window"))
            }),
            ..Facts::default()
        },
        // The two-person rule: a request (`requested`), or a decision on one (a refused one is an
        // attempt).
        "approval" | "attempt" if kind == "approval" || d.get("decision").is_some() => Facts {
            action: s(d, "decision").unwrap_or_else(|| "requested".into()),
            who: s(d, "by").or_else(|| s(d, "requester")),
            why: s(d, "error").or_else(|| s(d, "reason")),
            ticket: s(d, "ticket"),
            grant: match (d.get("readers"), d.get("expiry")) {
                (Some(r), Some(Value::String(e))) => json!({ "readers": r, "expiry": e }),
                _ => Value::Null,
            },
            ..Facts::default()
        },
        "remediation" | "expiry" => Facts {
            action: s(d, "outcome").unwrap_or_else(|| "exposure".into()),
            who: Some("breakglass enforcer".to_owned()),
            why: s(d, "reason").or_else(|| s(d, "what")),
            before: d.get("before").and_then(|b| s(b, "hash")),
            after: d.get("after").and_then(|a| s(a, "hash")),
            ..Facts::default()
        },
        _ => Facts {
            // A guarded call names itself; the recorder's alerts and digests go by their kind.
            action: s(d, "call").unwrap_or_else(|| kind.clone()),
            who: s(&actor, "arn"),
            why: d.get("error").and_then(|e| s(e, "code")).or_else(|| s(d, "exposure")),
            grant: match (policy.get("expiry"), policy.get("readers")) {
                (Some(Value::String(e)), Some(r)) => json!({ "expiry": e, "readers": r }),
                _ => Value::Null,
            },
            // CloudTrail does not carry the policy before the call; the enforcer's records do.
            after: s(&policy, "hash"),
            ..Facts::default()
        },
    };
    let time =
        s(d, "time").or_else(|| s(&event, "time")).and_then(|t| crate::parse_time(&t)).unwrap_or(recorded_at);
    let mut event_ids: Vec<String> = Vec::new();
    event_ids.extend(s(d, "event_id"));
    event_ids.extend(s(&event, "id"));
    event_ids.extend(d.get("trigger").and_then(|t| s(t, "event_id")));

    let mut body = json!({
        "schema": SCHEMA,
        "time": crate::format_time(time),
        "bucket": bucket,
        "kind": kind,
        "action": f.action,
        "state": s(d, "state").or_else(|| n.attributes.iter().find(|(k, _)| k == "state").map(|(_, v)| v.clone())),
        "severity": n.attributes.iter().find(|(k, _)| k == "severity").map(|(_, v)| v.clone()),
        "who": f.who,
        "actor": actor,
        "why": f.why,
        "ticket": f.ticket,
        "grant": f.grant,
        "previous": f.previous,
        "policy": { "before": f.before, "after": f.after },
        "event_ids": event_ids,
        "summary": n.subject,
        "account": account,
        "config_sha256": config_sha256,
    });
    // The full notification document, minus the email text that repeats it.
    let mut detail = d.clone();
    if let Value::Object(m) = &mut detail {
        m.remove("text");
    }
    if let Value::Object(m) = &mut body {
        m.insert("detail".into(), detail);
    }
    let id = hex(&Sha256::digest(body.to_string().as_bytes()));
    let short = id.get(..16).unwrap_or(&id).to_owned();
    if let Value::Object(m) = &mut body {
        m.insert("id".into(), json!(id));
    }
    let place = match &account {
        Some(account) => format!("{account}/{bucket}"),
        None => bucket,
    };
    Some(Record { key: format!("{place}/{}-{short}.json", crate::format_time(time)), body })
}

/// Lowercase hex: record ids, and the records' signatures in their metadata.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
