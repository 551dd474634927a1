//! The audit trail: one immutable JSON record per notification (request, state change, remediation,
//! refused attempt), written by the notifier to an S3 bucket under Object Lock in compliance mode.
//!
//! A record's key is `<prefix>[<account>/]<bucket>/<time>-<id>.json` (the account in organisation
//! mode): listing a bucket's prefix gives its history in time order, and `id` is the SHA-256 of the
//! record's content, so a retried invocation writes the same key and the conditional put
//! (`If-None-Match: *`) refuses the second copy instead of adding one.
//! Schema: `docs/audit-trail.md`.

use breakglass_config::AuditConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::events::{Grant, OwnEvent};
use crate::notice::{About, Account, Call, Document};
use crate::ports::{Notification, PortError};

pub const SCHEMA: &str = "breakglass.audit/1";

/// One record, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Relative to the trail's prefix: `[<account>/]<bucket>/<time>-<id>.json`.
    pub key: String,
    pub body: Value,
}

use crate::ports::{Appended, AuditLog};

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

/// One audit record as it is written and read back (`breakglass.audit/1`, docs/audit-trail.md):
/// [`record`] serialises it, `history` and the two-person rule parse it, through this one struct.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Body {
    #[serde(default)]
    pub schema: String,
    /// When it happened (RFC 3339, UTC).
    pub time: String,
    /// The protected bucket, or [`CONTROL`].
    #[serde(default)]
    pub bucket: String,
    /// The notification's kind (`request`, `change`, `attempt`, `remediation`, `expiry`,
    /// `approval`, `access`, `denied`, `unreadable`, `config`).
    pub kind: String,
    pub action: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub who: Option<String>,
    /// Calls: the full CloudTrail identity.
    #[serde(default)]
    pub actor: Value,
    #[serde(default)]
    pub why: Option<String>,
    #[serde(default)]
    pub ticket: Option<String>,
    /// The grant in force afterwards and before.
    #[serde(default)]
    pub grant: Option<Grant>,
    #[serde(default)]
    pub previous: Option<Grant>,
    #[serde(default)]
    pub policy: Hashes,
    #[serde(default)]
    pub event_ids: Vec<String>,
    #[serde(default)]
    pub summary: String,
    /// Organisation mode: the bucket's account.
    #[serde(default)]
    pub account: Option<String>,
    #[serde(flatten)]
    pub written: Written,
    /// Who wrote it when not the notifier: [`GATE`] for the gate's own records of requests and
    /// decisions, which are the only ones it trusts (a bus event anyone put is not one of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    /// The notification's JSON document ([`Document`]) without the mail text. A `Value`: the
    /// two-person rule reads its events back from it as their own types, also from records that
    /// were not written from a notification.
    #[serde(default)]
    pub detail: Value,
    /// SHA-256 of the record without `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// What wrote a record: the release, under which config. Flattened into the audit record and the
/// recorder's read records, so both keep their `config_sha256` and `version` keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// The config in force (SHA-256 of its text); none for `breakglass notify` without one.
    #[serde(default)]
    pub config_sha256: Option<String>,
    /// The release that wrote it ([`crate::VERSION`]); absent from records written before 0.2.0,
    /// which still read (and verify: the signature is over the stored bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Written {
    /// Written now, by this release, under the config whose hash is `config_sha256`.
    pub fn now(config_sha256: Option<String>) -> Written {
        Written { config_sha256, version: Some(crate::VERSION.to_owned()) }
    }
}

/// Canonical SHA-256 of the bucket policy before and after.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashes {
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
}

/// What a record says beyond the common fields.
#[derive(Debug, Default)]
struct Facts {
    action: String,
    who: Option<String>,
    why: Option<String>,
    ticket: Option<String>,
    grant: Option<Grant>,
    previous: Option<Grant>,
    before: Option<String>,
    after: Option<String>,
}

const ENFORCER: &str = "breakglass enforcer";
const RECORDER: &str = "breakglass recorder";

/// The facts of one of breakglass's own events, matched on its type.
fn own_facts(event: &OwnEvent) -> Facts {
    let by = |who: &str| Some(who.to_owned());
    match event {
        OwnEvent::Request(q) => Facts {
            action: if q.refused() { format!("{}-refused", q.action) } else { q.action.clone() },
            who: by(&q.requester),
            why: q.reason.clone().filter(|r| !r.is_empty()).or_else(|| q.error.clone()),
            ticket: q.ticket.clone(),
            grant: q.grant.clone(),
            previous: q.previous.clone(),
            before: q.before_hash.clone(),
            after: q.policy_hash.clone(),
        },
        OwnEvent::Remediation(r) => Facts {
            action: r.outcome.clone(),
            who: by(ENFORCER),
            why: r.reason.clone(),
            before: r.before.hash.clone(),
            after: r.after.hash.clone(),
            ..Facts::default()
        },
        OwnEvent::Exposure(x) => {
            Facts { action: "exposure".into(), who: by(ENFORCER), why: by(&x.what), ..Facts::default() }
        }
        OwnEvent::Repair(r) => {
            Facts { action: r.outcome.clone(), who: by(ENFORCER), why: by(&r.what), ..Facts::default() }
        }
        OwnEvent::Misrouted(m) => Facts {
            action: "misrouted".into(),
            who: by(ENFORCER),
            why: Some(format!(
                "{} from account(s) {} names a bucket of account {}",
                m.event_name,
                m.event_accounts.join(","),
                m.bucket_account
            )),
            ..Facts::default()
        },
        OwnEvent::Config(c) => Facts {
            action: c.state.clone().unwrap_or_else(|| "pushed".into()),
            who: by(&c.by),
            why: Some(c.after_sha256.clone()),
            ..Facts::default()
        },
        OwnEvent::AccessRequest(q) => Facts {
            action: "requested".into(),
            who: by(&q.requester),
            why: by(&q.reason),
            ticket: by(&q.ticket),
            ..Facts::default()
        },
        OwnEvent::Decision(x) => Facts {
            action: x.decision.clone(),
            who: by(&x.by),
            why: x.error.clone().or_else(|| x.reason.clone()),
            ticket: x.ticket.clone(),
            grant: x.expiry.clone().map(|expiry| Grant { readers: x.readers.clone(), expiry }),
            ..Facts::default()
        },
        OwnEvent::WindowReport(r) => Facts {
            action: "report".into(),
            who: by(RECORDER),
            why: Some(format!("{} object(s) read in the window of {}", r.read.reads, r.window)),
            ..Facts::default()
        },
        OwnEvent::ReadAlert(a) => Facts {
            action: "read-alert".into(),
            who: by(RECORDER),
            why: Some(format!("{} event(s)", a.count)),
            ..Facts::default()
        },
        OwnEvent::Denied(g) => Facts {
            action: "digest".into(),
            who: by(RECORDER),
            why: Some(format!("{} event(s)", g.count)),
            ..Facts::default()
        },
        OwnEvent::RefusedCalls(g) => Facts {
            action: "digest".into(),
            who: by(RECORDER),
            why: Some(format!("{} refused call(s)", g.count)),
            ..Facts::default()
        },
        OwnEvent::RemediationDigest(g) => Facts {
            action: "digest".into(),
            who: by(ENFORCER),
            why: Some(g.common_cause.clone().unwrap_or_else(|| format!("{} buckets", g.count))),
            ..Facts::default()
        },
        OwnEvent::SweepIncomplete(x) => Facts {
            action: "sweep-incomplete".into(),
            who: by(ENFORCER),
            why: Some(format!(
                "{} bucket(s) of account {} not checked after {} tries",
                x.unchecked.len(),
                x.place.account,
                x.attempts
            )),
            ..Facts::default()
        },
        OwnEvent::Discovery(x) => Facts {
            action: "discovery".into(),
            who: by(ENFORCER),
            why: Some(match &x.error {
                Some(e) => e.clone(),
                None => format!(
                    "{} bucket(s) now protected, {} place(s) not listed",
                    x.added.len(),
                    x.failed.len()
                ),
            }),
            ..Facts::default()
        },
        OwnEvent::Unreadable(u) => Facts {
            action: "unreadable".into(),
            who: by(RECORDER),
            why: Some(format!("{} event(s)", u.count)),
            ..Facts::default()
        },
    }
}

/// The facts of a CloudTrail call, from the notification's document of it.
fn call_facts(c: &Call) -> Facts {
    let policy = c.policy.as_ref();
    Facts {
        // A guarded call names itself.
        action: c.call.clone(),
        who: c.actor.arn.clone(),
        why: c.error.as_ref().and_then(|e| e.code.clone()).or_else(|| c.exposure.clone().flatten()),
        grant: policy.and_then(|p| Some(Grant { readers: p.readers.clone(), expiry: p.expiry.clone()? })),
        // CloudTrail does not carry the policy before the call; the enforcer's records do.
        after: policy.and_then(|p| p.hash.clone()),
        ..Facts::default()
    }
}

/// Where records about what is not a bucket go (`<prefix>_control/`): investigator roles, the key,
/// the topics, borrowed roles, and guarded calls that name no bucket. Not a valid bucket name, so it
/// cannot collide with one.
pub const CONTROL: &str = "_control";

/// The audit record of a notification: of one of breakglass's own events when `event` is given (its
/// facts taken from the typed event), else of a CloudTrail call. `recorded_at` is only used when the
/// event carries no time. Everything that is mailed is recorded: what names no protected bucket
/// under [`CONTROL`].
pub fn record(
    n: &Notification,
    event: Option<&OwnEvent>,
    recorded_at: OffsetDateTime,
    config_sha256: Option<&str>,
) -> Option<Record> {
    // The document as the notifier wrote it, through the same type.
    let mut detail = Document::deserialize(&n.default).ok()?;
    let bucket = detail
        .bucket()
        .filter(|b| breakglass_config::is_bucket_name(b))
        .unwrap_or_else(|| CONTROL.to_owned());
    let kind = detail.kind.clone();
    // Organisation mode: the bucket's account (the notifier names it in every message about a bucket).
    let account = match &detail.account {
        Some(Account::Place(p)) => Some(p.id.clone()),
        _ => None,
    }
    .filter(|a| canonical_policies::is_account_id(a) && bucket != CONTROL);
    let f = match (event, &detail.about) {
        (Some(e), _) => own_facts(e),
        (None, About::Call(c)) => call_facts(c),
        (None, About::Own(_)) => Facts { action: kind.clone(), ..Facts::default() },
    };
    let mut event_ids: Vec<String> = Vec::new();
    let (time, state, actor) = match &detail.about {
        About::Call(c) => {
            event_ids.extend(c.event.id.clone());
            (c.event.time.clone(), Some(c.state.clone()), serde_json::to_value(&c.actor).ok()?)
        }
        About::Own(o) => {
            let head = o.head();
            event_ids.extend(head.trigger.and_then(|t| t.event_id));
            (head.time, head.state, head.actor)
        }
    };
    let time = time.and_then(|t| crate::time::parse_time(&t)).unwrap_or(recorded_at);
    // The full notification document, minus the email text that repeats it, and minus the
    // EventBridge id of breakglass's own event: a `PutEvents` whose answer was lost is sent again
    // and EventBridge gives the copy another id, so the id must not make the record another one.
    detail.text = None;
    if let About::Own(o) = &mut detail.about {
        o.event_id = None;
    }
    let attribute = |name: &str| n.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let body = Body {
        schema: SCHEMA.into(),
        time: crate::time::format_time(time),
        bucket: bucket.clone(),
        kind,
        action: f.action,
        state: state.or_else(|| attribute("state")),
        severity: attribute("severity"),
        who: f.who,
        actor,
        why: f.why,
        ticket: f.ticket,
        grant: f.grant,
        previous: f.previous,
        policy: Hashes { before: f.before, after: f.after },
        event_ids,
        summary: n.subject.clone(),
        account,
        written: Written::now(config_sha256.map(str::to_owned)),
        writer: None,
        detail: detail.to_value(),
        id: None,
    };
    seal(body)
}

/// The value of [`Body::writer`] in the gate's records.
pub const GATE: &str = "gate";
/// The value of [`Body::writer`] in the catalog function's records of the requests it made for a
/// verified Service Catalog provisioning (the product "Request log access").
pub const CATALOG: &str = "catalog";

/// Whether `body` is a request or decision of the two-person rule that breakglass itself made: a
/// decision only the gate's, a request the gate's or the catalog's. Anything else (a bus event
/// the notifier recorded) is forged, and covers nothing.
pub fn made_by_breakglass(body: &Body) -> bool {
    match body.writer.as_deref() {
        Some(GATE) => true,
        Some(CATALOG) => body.action == "requested",
        _ => false,
    }
}

/// The gate's own record of a request or decision it made (`event`, an access request or a
/// decision), written before it acts: the same facts as the notifier's record of the event, with
/// [`GATE`] as the writer. `account`: the bucket's, in organisation mode.
pub fn gate_record(event: &OwnEvent, account: Option<&str>, config_sha256: Option<&str>) -> Option<Record> {
    record_by(GATE, event, account, config_sha256)
}

/// [`gate_record`] with `writer` ([`GATE`] or [`CATALOG`]) as the writer.
pub fn record_by(
    writer: &str,
    event: &OwnEvent,
    account: Option<&str>,
    config_sha256: Option<&str>,
) -> Option<Record> {
    let bucket = event.bucket().filter(|b| breakglass_config::is_bucket_name(b))?.to_owned();
    let f = own_facts(event);
    let time = match event {
        OwnEvent::AccessRequest(q) => q.time.clone(),
        OwnEvent::Decision(d) => d.time.clone(),
        _ => return None,
    };
    let body = Body {
        schema: SCHEMA.into(),
        time,
        bucket,
        kind: "approval".into(),
        action: f.action,
        who: f.who,
        why: f.why,
        ticket: f.ticket,
        grant: f.grant,
        account: account.map(str::to_owned),
        written: Written::now(config_sha256.map(str::to_owned)),
        writer: Some(writer.to_owned()),
        detail: event.detail(),
        ..Body::default()
    };
    seal(body)
}

/// `body` with its id, under its key: the id is the SHA-256 of the record without it, keys sorted
/// (serde_json's map).
/// `body` sealed as a record: its id, under its key (a record of no bucket: the gate's config steps).
pub fn seal_body(body: Body) -> Option<Record> {
    seal(body)
}

fn seal(mut body: Body) -> Option<Record> {
    let id = hex(&Sha256::digest(serde_json::to_value(&body).ok()?.to_string().as_bytes()));
    let short = id.get(..16).unwrap_or(&id).to_owned();
    body.id = Some(id);
    let place = match &body.account {
        Some(account) => format!("{account}/{}", body.bucket),
        None => body.bucket.clone(),
    };
    Some(Record {
        key: format!("{place}/{}-{short}.json", body.time),
        body: serde_json::to_value(&body).ok()?,
    })
}

/// Lowercase hex: record ids, and the records' signatures in their metadata.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
