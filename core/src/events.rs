//! breakglass's own events on its bus, one type each. The producers (operator workflow, catalog,
//! enforcer, sentinel) build them and [`OwnEvent::to_bus`] serialises them; the notifier gets them
//! back with [`OwnEvent::from_bus`], through the same serde definitions: a field renamed on one side
//! cannot compile on the other. Fields are only added within a schema version, so readers ignore
//! fields they do not know.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ports::BusEvent;

/// Detail-types on the bus.
pub const REQUEST: &str = "breakglass request";
pub const REMEDIATION: &str = "breakglass remediation";
pub const EXPOSURE: &str = "breakglass exposure";
pub const REPAIR: &str = "breakglass repair";
pub const MISROUTED: &str = "breakglass misrouted";
pub const CONFIG: &str = "breakglass config";
pub const READ_ALERT: &str = "breakglass read alert";
pub const DENIED: &str = "breakglass denied";
pub const UNREADABLE: &str = "breakglass unreadable";
pub const WINDOW_REPORT: &str = "breakglass window report";
pub const ACCESS_REQUEST: &str = "breakglass access request";
pub const DECISION: &str = "breakglass decision";
pub const REMEDIATION_DIGEST: &str = "breakglass remediation digest";
pub const SWEEP_INCOMPLETE: &str = "breakglass sweep incomplete";
pub const DISCOVERY: &str = "breakglass discovery";

/// Readers and expiry of an OpenAccess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub readers: Vec<String>,
    /// RFC 3339, UTC.
    pub expiry: String,
}

/// An operator's (or the catalog's) open or close, done or refused (`breakglass.request/1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    #[serde(default = "schemas::request")]
    pub schema: String,
    /// `open` or `close`.
    pub action: String,
    /// `refused` when nothing was written because of what was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub bucket: String,
    pub requester: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// A refused open: the readers asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readers: Option<Vec<String>>,
    /// A refused open: the duration asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// The grant in force afterwards (open), none (close).
    #[serde(default)]
    pub grant: Option<Grant>,
    /// The grant in force before.
    #[serde(default)]
    pub previous: Option<Grant>,
    /// A close: the state it closed (`open`, `expired`, `closed`, `drift`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_hash: Option<String>,
    pub time: String,
}

impl Request {
    /// A request about `bucket` by `requester` at `now`; the caller sets action and the rest.
    pub fn new(bucket: &str, requester: &str, now: time::OffsetDateTime) -> Request {
        Request {
            schema: schemas::request(),
            action: String::new(),
            outcome: None,
            error: None,
            bucket: bucket.to_owned(),
            requester: requester.to_owned(),
            reason: None,
            ticket: None,
            readers: None,
            duration: None,
            grant: None,
            previous: None,
            previous_state: None,
            before_hash: None,
            policy_hash: None,
            time: crate::format_time(now),
        }
    }

    pub fn refused(&self) -> bool {
        self.outcome.as_deref() == Some("refused")
    }
}

/// A bucket policy's state by hash (`before` of a remediation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyState {
    pub state: String,
    pub hash: Option<String>,
    /// The Sid of the first statement as written.
    #[serde(default)]
    pub claimed: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAfter {
    pub hash: Option<String>,
}

/// The call that made the enforcer look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub event_id: Option<String>,
    pub event_name: String,
    pub event_time: Option<String>,
    pub actor: Option<String>,
    pub actor_role: Option<String>,
}

/// The enforcer restored (or could not restore) ClosedAccess (`breakglass.remediation/1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    #[serde(default = "schemas::remediation")]
    pub schema: String,
    pub bucket: String,
    /// `closed`, `dry-run`, `refused`, `unverified`.
    pub outcome: String,
    pub error: Option<String>,
    pub reason: Option<String>,
    #[serde(default)]
    pub reasons: Vec<String>,
    pub before: PolicyState,
    pub after: PolicyAfter,
    #[serde(default)]
    pub diff: Vec<String>,
    pub trigger: Option<Trigger>,
    pub time: String,
    /// Part of a digest (its id): one of many remediations of one sweep, mailed as one digest;
    /// the message still goes to machine subscribers and the record is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Many remediations of one sweep, as one mail (`breakglass.remediation-digest/1`): counts, the
/// buckets, and the cause when it is common to all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemediationDigest {
    #[serde(default = "schemas::remediation_digest")]
    pub schema: String,
    pub id: String,
    pub count: usize,
    pub common_cause: Option<String>,
    /// Every cause, with how many buckets it applies to, most first.
    pub causes: Vec<DigestCause>,
    pub buckets: Vec<DigestEntry>,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestCause {
    pub cause: String,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    pub bucket: String,
    /// `closed`, `dry-run`, `refused`, `unverified`.
    pub outcome: String,
    /// The state it was in.
    pub before: String,
}

/// A shard of the sweep (one account and Region) failed on every try (`breakglass.sweep-incomplete/1`):
/// the buckets it names were not checked by this sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepIncomplete {
    #[serde(default = "schemas::sweep_incomplete")]
    pub schema: String,
    pub sweep: String,
    pub account: String,
    /// `None`: the function's own Region (single-account mode).
    pub region: Option<String>,
    pub attempts: u32,
    pub unchecked: Vec<Unchecked>,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unchecked {
    pub bucket: String,
    pub error: String,
}

/// What a discovery run added to the registry, what it could not list, or why the registry could
/// not be read (`breakglass.discovery/1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryEvent {
    #[serde(default = "schemas::discovery")]
    pub schema: String,
    pub added: Vec<crate::discovery::Entry>,
    pub failed: Vec<Unlisted>,
    /// The registry could not be read: nothing was added, the last good registry stays in force.
    pub error: Option<String>,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unlisted {
    pub account: String,
    pub region: String,
    pub error: String,
}

/// A bucket ACL or public-access block was weakened (`breakglass.exposure/1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    #[serde(default = "schemas::exposure")]
    pub schema: String,
    pub bucket: String,
    pub call: String,
    pub what: String,
    pub repaired: bool,
    pub event_id: Option<String>,
    pub actor: Option<String>,
    pub actor_role: Option<String>,
}

/// The sentinel's finding around a bucket, an investigator role or a topic (`breakglass.repair/1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repair {
    #[serde(default = "schemas::repair")]
    pub schema: String,
    /// `bucket`, `role` or `topic`.
    pub kind: String,
    /// The bucket name, role name or topic ARN.
    pub subject: String,
    /// The bucket, for bucket findings (mail attributes and the audit trail's key).
    pub bucket: Option<String>,
    pub what: String,
    /// `repaired`, `refused`, `reported`.
    pub outcome: String,
    pub repaired: bool,
    pub error: Option<String>,
    pub time: String,
}

/// An event named a protected bucket but came from another account than the one that owns it
/// (`breakglass.misrouted/1`): forged, or mis-routed. Nothing was read or written for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misrouted {
    #[serde(default = "schemas::misrouted")]
    pub schema: String,
    pub bucket: String,
    /// The account that owns the bucket in the config.
    pub bucket_account: String,
    /// The accounts the event claims (envelope `account`, `recipientAccountId`); empty when it
    /// claims none in organisation mode.
    pub event_accounts: Vec<String>,
    pub event_id: Option<String>,
    pub event_name: String,
    pub actor: Option<String>,
    pub time: String,
}

/// A new config pushed by `breakglass config push`: mailed to the security team and recorded like
/// any other change of what protects the logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    #[serde(default = "schemas::config")]
    pub schema: String,
    /// Where the functions read it (`s3://bucket/key`).
    pub location: String,
    /// Who pushed it (the caller's ARN).
    pub by: String,
    /// SHA-256 of the text before (none: the first push) and after.
    pub before_sha256: Option<String>,
    pub after_sha256: String,
    /// The line diff, clipped.
    pub diff: String,
    pub time: String,
}

/// Objects of a protected bucket were read by a principal that is not one of its investigator
/// roles (`breakglass.read-alert/1`): ClosedAccess and every OpenAccess deny that, so something
/// around the policy let it through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadAlert {
    #[serde(default = "schemas::read_alert")]
    pub schema: String,
    pub bucket: String,
    /// How many such reads the batch held; `reads` lists the first of them.
    pub count: usize,
    pub reads: Vec<crate::reads::ObjectRead>,
    pub time: String,
}

/// Reads refused by the bucket policy, digested per bucket (`breakglass.denied/1`): at most one
/// per bucket per digest run (every 5 minutes), with the counts; each read has its own record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedDigest {
    #[serde(default = "schemas::denied")]
    pub schema: String,
    pub bucket: String,
    pub count: usize,
    /// Per principal, most attempts first.
    pub by: Vec<DeniedBy>,
    /// The records' recording slots it covers (RFC 3339, start inclusive, end exclusive).
    pub from: String,
    pub to: String,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedBy {
    pub principal: String,
    pub count: usize,
    pub first: String,
    pub last: String,
    /// The first few object keys asked for.
    pub keys: Vec<String>,
    #[serde(default)]
    pub source_ips: Vec<String>,
}

impl DeniedBy {
    /// Refused reads per principal (the role of a session), most attempts first, each with its
    /// first and last time and up to five object keys and source addresses.
    pub fn tally(reads: &[crate::reads::ObjectRead]) -> Vec<DeniedBy> {
        let mut by: std::collections::BTreeMap<&str, DeniedBy> = std::collections::BTreeMap::new();
        for r in reads {
            let e = by.entry(r.reader()).or_insert_with(|| DeniedBy {
                principal: r.reader().to_owned(),
                count: 0,
                first: r.time.clone(),
                last: r.time.clone(),
                keys: Vec::new(),
                source_ips: Vec::new(),
            });
            e.count += 1;
            e.first = e.first.clone().min(r.time.clone());
            e.last = e.last.clone().max(r.time.clone());
            if let Some(k) = r.key.as_ref().filter(|k| e.keys.len() < 5 && !e.keys.contains(k)) {
                e.keys.push(k.clone());
            }
            if let Some(ip) =
                r.source_ip.as_ref().filter(|ip| e.source_ips.len() < 5 && !e.source_ips.contains(ip))
            {
                e.source_ips.push(ip.clone());
            }
        }
        let mut by: Vec<DeniedBy> = by.into_values().collect();
        by.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.principal.cmp(&b.principal)));
        by
    }
}

/// Data events the recorder could not read (`breakglass.unreadable/1`): malformed, truncated, or
/// not a read of a protected bucket. Each has a record; one of these per batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadableEvents {
    #[serde(default = "schemas::unreadable")]
    pub schema: String,
    pub count: usize,
    pub items: Vec<UnreadableItem>,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadableItem {
    pub message_id: String,
    pub event_id: Option<String>,
    pub reason: String,
}

/// A request for access under the two-person rule (`breakglass.access-request/1`): pending until
/// another person approves or denies it, or it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    #[serde(default = "schemas::access_request")]
    pub schema: String,
    /// Short and unique: what `breakglass approve` is given.
    pub id: String,
    pub bucket: String,
    /// The requester's principal ARN as STS resolved it (not a name they typed).
    pub requester: String,
    pub reason: String,
    pub ticket: String,
    /// How long the access is to last once approved (`4h`).
    pub duration: String,
    pub readers: Vec<String>,
    /// Undecided after this, it is expired (RFC 3339).
    pub expires_at: String,
    pub time: String,
}

/// A decision on an access request (`breakglass.decision/1`): approved (the bucket is opened with
/// exactly `readers` until `expiry`), denied, or refused (self-approval, not an approver, expired,
/// already decided: an attempt, mailed as such).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(default = "schemas::decision")]
    pub schema: String,
    /// The request's id.
    pub id: String,
    pub bucket: String,
    /// `approved`, `denied` or `refused`.
    pub decision: String,
    /// Who decided (or tried to): the principal ARN as STS resolved it.
    pub by: String,
    pub requester: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub ticket: Option<String>,
    /// Why it was refused.
    #[serde(default)]
    pub error: Option<String>,
    /// Approved: the grant the bucket is opened with (readers, and until when).
    #[serde(default)]
    pub readers: Vec<String>,
    #[serde(default)]
    pub expiry: Option<String>,
    pub time: String,
}

/// One of breakglass's own events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnEvent {
    Request(Request),
    Remediation(Remediation),
    Exposure(Exposure),
    Repair(Repair),
    Misrouted(Misrouted),
    Config(ConfigChange),
    ReadAlert(ReadAlert),
    Denied(DeniedDigest),
    Unreadable(UnreadableEvents),
    WindowReport(crate::report::WindowReport),
    AccessRequest(AccessRequest),
    Decision(Decision),
    RemediationDigest(RemediationDigest),
    SweepIncomplete(SweepIncomplete),
    Discovery(DiscoveryEvent),
}

#[derive(Debug, thiserror::Error)]
pub enum OwnEventError {
    #[error("unknown breakglass event `{0}`")]
    Unknown(String),
    #[error("malformed `{detail_type}` event: {source}")]
    Malformed { detail_type: String, source: serde_json::Error },
}

impl OwnEvent {
    pub fn detail_type(&self) -> &'static str {
        match self {
            OwnEvent::Request(_) => REQUEST,
            OwnEvent::Remediation(_) => REMEDIATION,
            OwnEvent::Exposure(_) => EXPOSURE,
            OwnEvent::Repair(_) => REPAIR,
            OwnEvent::Misrouted(_) => MISROUTED,
            OwnEvent::Config(_) => CONFIG,
            OwnEvent::ReadAlert(_) => READ_ALERT,
            OwnEvent::Denied(_) => DENIED,
            OwnEvent::Unreadable(_) => UNREADABLE,
            OwnEvent::WindowReport(_) => WINDOW_REPORT,
            OwnEvent::AccessRequest(_) => ACCESS_REQUEST,
            OwnEvent::Decision(_) => DECISION,
            OwnEvent::RemediationDigest(_) => REMEDIATION_DIGEST,
            OwnEvent::SweepIncomplete(_) => SWEEP_INCOMPLETE,
            OwnEvent::Discovery(_) => DISCOVERY,
        }
    }

    /// The detail as JSON.
    pub fn detail(&self) -> Value {
        let detail = match self {
            OwnEvent::Request(e) => serde_json::to_value(e),
            OwnEvent::Remediation(e) => serde_json::to_value(e),
            OwnEvent::Exposure(e) => serde_json::to_value(e),
            OwnEvent::Repair(e) => serde_json::to_value(e),
            OwnEvent::Misrouted(e) => serde_json::to_value(e),
            OwnEvent::Config(e) => serde_json::to_value(e),
            OwnEvent::ReadAlert(e) => serde_json::to_value(e),
            OwnEvent::Denied(e) => serde_json::to_value(e),
            OwnEvent::Unreadable(e) => serde_json::to_value(e),
            OwnEvent::WindowReport(e) => serde_json::to_value(e),
            OwnEvent::AccessRequest(e) => serde_json::to_value(e),
            OwnEvent::Decision(e) => serde_json::to_value(e),
            OwnEvent::RemediationDigest(e) => serde_json::to_value(e),
            OwnEvent::SweepIncomplete(e) => serde_json::to_value(e),
            OwnEvent::Discovery(e) => serde_json::to_value(e),
        };
        // Plain structs of strings, numbers and options: serialisation cannot fail.
        detail.unwrap_or(Value::Null)
    }

    pub fn to_bus(&self) -> BusEvent {
        BusEvent { detail_type: self.detail_type().to_owned(), detail: self.detail() }
    }

    /// The event a bus delivered, by its detail-type.
    pub fn from_bus(detail_type: &str, detail: &Value) -> Result<OwnEvent, OwnEventError> {
        let malformed = |source| OwnEventError::Malformed { detail_type: detail_type.to_owned(), source };
        match detail_type {
            REQUEST => Request::deserialize(detail).map(OwnEvent::Request).map_err(malformed),
            REMEDIATION => Remediation::deserialize(detail).map(OwnEvent::Remediation).map_err(malformed),
            EXPOSURE => Exposure::deserialize(detail).map(OwnEvent::Exposure).map_err(malformed),
            REPAIR => Repair::deserialize(detail).map(OwnEvent::Repair).map_err(malformed),
            MISROUTED => Misrouted::deserialize(detail).map(OwnEvent::Misrouted).map_err(malformed),
            CONFIG => ConfigChange::deserialize(detail).map(OwnEvent::Config).map_err(malformed),
            READ_ALERT => ReadAlert::deserialize(detail).map(OwnEvent::ReadAlert).map_err(malformed),
            DENIED => DeniedDigest::deserialize(detail).map(OwnEvent::Denied).map_err(malformed),
            UNREADABLE => UnreadableEvents::deserialize(detail).map(OwnEvent::Unreadable).map_err(malformed),
            ACCESS_REQUEST => {
                AccessRequest::deserialize(detail).map(OwnEvent::AccessRequest).map_err(malformed)
            }
            DECISION => Decision::deserialize(detail).map(OwnEvent::Decision).map_err(malformed),
            REMEDIATION_DIGEST => {
                RemediationDigest::deserialize(detail).map(OwnEvent::RemediationDigest).map_err(malformed)
            }
            DISCOVERY => DiscoveryEvent::deserialize(detail).map(OwnEvent::Discovery).map_err(malformed),
            SWEEP_INCOMPLETE => {
                SweepIncomplete::deserialize(detail).map(OwnEvent::SweepIncomplete).map_err(malformed)
            }
            WINDOW_REPORT => crate::report::WindowReport::deserialize(detail)
                .map(OwnEvent::WindowReport)
                .map_err(malformed),
            other => Err(OwnEventError::Unknown(other.to_owned())),
        }
    }

    /// The bucket the event is about, if any.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            OwnEvent::Request(e) => Some(&e.bucket),
            OwnEvent::Remediation(e) => Some(&e.bucket),
            OwnEvent::Exposure(e) => Some(&e.bucket),
            OwnEvent::Repair(e) => e.bucket.as_deref(),
            OwnEvent::Misrouted(e) => Some(&e.bucket),
            OwnEvent::ReadAlert(e) => Some(&e.bucket),
            OwnEvent::Denied(e) => Some(&e.bucket),
            OwnEvent::WindowReport(e) => Some(&e.bucket),
            OwnEvent::AccessRequest(e) => Some(&e.bucket),
            OwnEvent::Decision(e) => Some(&e.bucket),
            OwnEvent::Config(_)
            | OwnEvent::Unreadable(_)
            | OwnEvent::RemediationDigest(_)
            | OwnEvent::SweepIncomplete(_)
            | OwnEvent::Discovery(_) => None,
        }
    }
}

mod schemas {
    pub fn request() -> String {
        "breakglass.request/1".into()
    }
    pub fn remediation() -> String {
        "breakglass.remediation/1".into()
    }
    pub fn exposure() -> String {
        "breakglass.exposure/1".into()
    }
    pub fn repair() -> String {
        "breakglass.repair/1".into()
    }
    pub fn misrouted() -> String {
        "breakglass.misrouted/1".into()
    }
    pub fn config() -> String {
        "breakglass.config/1".into()
    }
    pub fn read_alert() -> String {
        "breakglass.read-alert/1".into()
    }
    pub fn denied() -> String {
        "breakglass.denied/1".into()
    }
    pub fn unreadable() -> String {
        "breakglass.unreadable/1".into()
    }
    pub fn access_request() -> String {
        "breakglass.access-request/1".into()
    }
    pub fn decision() -> String {
        "breakglass.decision/1".into()
    }
    pub fn remediation_digest() -> String {
        "breakglass.remediation-digest/1".into()
    }
    pub fn sweep_incomplete() -> String {
        "breakglass.sweep-incomplete/1".into()
    }
    pub fn discovery() -> String {
        "breakglass.discovery/1".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_reads_back_as_itself() {
        let events = [
            OwnEvent::Request(Request {
                schema: schemas::request(),
                action: "open".into(),
                outcome: None,
                error: None,
                bucket: "b".into(),
                requester: "alice".into(),
                reason: Some("r".into()),
                ticket: Some("T".into()),
                readers: None,
                duration: None,
                grant: Some(Grant {
                    readers: vec!["arn:aws:iam::1:role/R".into()],
                    expiry: "2026-11-24T12:00:00Z".into(),
                }),
                previous: None,
                previous_state: None,
                before_hash: None,
                policy_hash: Some("h".into()),
                time: "2026-11-24T10:00:00Z".into(),
            }),
            OwnEvent::Repair(Repair {
                schema: schemas::repair(),
                kind: "role".into(),
                subject: "LogInvestigator".into(),
                bucket: None,
                what: "w".into(),
                outcome: "repaired".into(),
                repaired: true,
                error: None,
                time: "2026-11-24T10:00:00Z".into(),
            }),
            OwnEvent::Misrouted(Misrouted {
                schema: schemas::misrouted(),
                bucket: "b".into(),
                bucket_account: "222200000000".into(),
                event_accounts: vec!["111100000000".into()],
                event_id: Some("e".into()),
                event_name: "PutBucketPolicy".into(),
                actor: None,
                time: "2026-11-24T10:00:00Z".into(),
            }),
            OwnEvent::Config(ConfigChange {
                schema: schemas::config(),
                location: "s3://b/breakglass.toml".into(),
                by: "arn:aws:sts::999900000000:assumed-role/breakglass-operator/alice".into(),
                before_sha256: None,
                after_sha256: "h".into(),
                diff: "+ [[bucket]]".into(),
                time: "2026-11-24T10:00:00Z".into(),
            }),
            OwnEvent::AccessRequest(AccessRequest {
                schema: schemas::access_request(),
                id: "0123456789ab".into(),
                bucket: "b".into(),
                requester: "arn:aws:sts::1:assumed-role/breakglass-operator/alice".into(),
                reason: "r".into(),
                ticket: "T".into(),
                duration: "2h".into(),
                readers: vec!["arn:aws:iam::1:role/R".into()],
                expires_at: "2026-11-25T10:00:00Z".into(),
                time: "2026-11-24T10:00:00Z".into(),
            }),
            OwnEvent::Decision(Decision {
                schema: schemas::decision(),
                id: "0123456789ab".into(),
                bucket: "b".into(),
                decision: "approved".into(),
                by: "arn:aws:sts::1:assumed-role/breakglass-operator/bob".into(),
                requester: "arn:aws:sts::1:assumed-role/breakglass-operator/alice".into(),
                reason: Some("r".into()),
                ticket: Some("T".into()),
                error: None,
                readers: vec!["arn:aws:iam::1:role/R".into()],
                expiry: Some("2026-11-24T12:00:00Z".into()),
                time: "2026-11-24T10:05:00Z".into(),
            }),
            OwnEvent::Denied(DeniedDigest {
                schema: schemas::denied(),
                bucket: "b".into(),
                count: 2,
                by: vec![DeniedBy {
                    principal: "arn:aws:iam::1:role/Admin".into(),
                    count: 2,
                    first: "2026-11-24T10:00:00Z".into(),
                    last: "2026-11-24T10:01:00Z".into(),
                    keys: vec!["k".into()],
                    source_ips: vec![],
                }],
                from: "2026-11-24T10:00:00Z".into(),
                to: "2026-11-24T10:05:00Z".into(),
                time: "2026-11-24T10:05:10Z".into(),
            }),
            OwnEvent::SweepIncomplete(SweepIncomplete {
                schema: schemas::sweep_incomplete(),
                sweep: "s".into(),
                account: "222200000000".into(),
                region: Some("eu-west-1".into()),
                attempts: 3,
                unchecked: vec![Unchecked { bucket: "b".into(), error: "e".into() }],
                time: "2026-11-24T10:00:00Z".into(),
            }),
            OwnEvent::Discovery(DiscoveryEvent {
                schema: schemas::discovery(),
                added: vec![crate::discovery::Entry {
                    name: "acme-new-logs".into(),
                    account: "111100000000".into(),
                    region: "eu-west-1".into(),
                    since: "2026-12-02T17:00:00Z".into(),
                }],
                failed: vec![Unlisted { account: "2".into(), region: "r".into(), error: "e".into() }],
                error: None,
                time: "2026-12-02T17:00:00Z".into(),
            }),
            OwnEvent::Unreadable(UnreadableEvents {
                schema: schemas::unreadable(),
                count: 1,
                items: vec![UnreadableItem {
                    message_id: "m".into(),
                    event_id: None,
                    reason: "not json".into(),
                }],
                time: "2026-11-24T10:00:00Z".into(),
            }),
        ];
        for e in events {
            let bus = e.to_bus();
            assert_eq!(OwnEvent::from_bus(&bus.detail_type, &bus.detail).unwrap(), e);
        }
        assert!(matches!(
            OwnEvent::from_bus("breakglass nonsense", &Value::Null),
            Err(OwnEventError::Unknown(_))
        ));
        let bad = serde_json::json!({"action": 5});
        assert!(OwnEvent::from_bus(REQUEST, &bad)
            .unwrap_err()
            .to_string()
            .starts_with("malformed `breakglass request` event"));
    }
}
