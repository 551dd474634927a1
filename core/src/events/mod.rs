//! breakglass's own events on its bus, one type each. The producers (operator workflow, catalog,
//! enforcer, sentinel) build them and [`OwnEvent::to_bus`] serialises them; the notifier gets them
//! back with [`OwnEvent::from_bus`], through the same serde definitions: a field renamed on one side
//! cannot compile on the other. Fields are only added within a schema version, so readers ignore
//! fields they do not know.

use serde::Deserialize;
use serde_json::Value;

mod access;
mod attempts;
mod guard;
mod limits;
mod reads;
mod schemas;

pub use access::*;
pub use attempts::*;
pub use guard::*;
pub use limits::*;
pub use reads::*;
pub use schemas::WINDOW_REPORT_SCHEMA;

/// Detail-types on the bus.
pub const REQUEST: &str = "breakglass request";
pub const REMEDIATION: &str = "breakglass remediation";
pub const EXPOSURE: &str = "breakglass exposure";
pub const REPAIR: &str = "breakglass repair";
pub const MISROUTED: &str = "breakglass misrouted";
pub const CONFIG: &str = "breakglass config";
pub const READ_ALERT: &str = "breakglass read alert";
pub const DENIED: &str = "breakglass denied";
pub const REFUSED_CALLS: &str = "breakglass refused calls";
pub const UNREADABLE: &str = "breakglass unreadable";
pub const WINDOW_REPORT: &str = "breakglass window report";
pub const ACCESS_REQUEST: &str = "breakglass access request";
pub const DECISION: &str = "breakglass decision";
pub const REMEDIATION_DIGEST: &str = "breakglass remediation digest";
pub const SWEEP_INCOMPLETE: &str = "breakglass sweep incomplete";
pub const DISCOVERY: &str = "breakglass discovery";

/// One of breakglass's own events for the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    pub detail_type: String,
    pub detail: Value,
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
    RefusedCalls(RefusedCalls),
    Unreadable(UnreadableEvents),
    WindowReport(WindowReport),
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
            OwnEvent::RefusedCalls(_) => REFUSED_CALLS,
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
            OwnEvent::RefusedCalls(e) => serde_json::to_value(e),
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
            REFUSED_CALLS => RefusedCalls::deserialize(detail).map(OwnEvent::RefusedCalls).map_err(malformed),
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
            WINDOW_REPORT => WindowReport::deserialize(detail).map(OwnEvent::WindowReport).map_err(malformed),
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
            OwnEvent::RefusedCalls(e) => Some(&e.bucket),
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
                state: Some("proposed".into()),
                proposal: Some("0123456789ab".into()),
                approved_by: None,
                changes: vec!["bucket `b` added".into()],
            }),
            OwnEvent::AccessRequest(AccessRequest::example()),
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
            OwnEvent::RefusedCalls(RefusedCalls {
                schema: schemas::refused_calls(),
                bucket: "_control".into(),
                target: Some("alias/breakglass".into()),
                count: 1,
                by: vec![RefusedBy {
                    call: "ScheduleKeyDeletion".into(),
                    principal: "arn:aws:iam::1:role/Admin".into(),
                    count: 1,
                    first: "2026-11-24T10:00:00Z".into(),
                    last: "2026-11-24T10:00:00Z".into(),
                }],
                examples: vec![RefusedExample {
                    event_id: Some("e".into()),
                    time: "2026-11-24T10:00:00Z".into(),
                    call: "ScheduleKeyDeletion".into(),
                    principal: "arn:aws:iam::1:role/Admin".into(),
                    error: Some("AccessDenied".into()),
                    source_ip: None,
                }],
                from: "2026-11-24T10:00:00Z".into(),
                to: "2026-11-24T10:05:00Z".into(),
                time: "2026-11-24T10:05:10Z".into(),
            }),
            OwnEvent::SweepIncomplete(SweepIncomplete {
                schema: schemas::sweep_incomplete(),
                sweep: "s".into(),
                place: Place { account: "222200000000".into(), region: Some("eu-west-1".into()) },
                attempts: 3,
                unchecked: vec![Unchecked { bucket: "b".into(), error: "e".into() }],
                time: "2026-11-24T10:00:00Z".into(),
            }),
            OwnEvent::Discovery(DiscoveryEvent {
                schema: schemas::discovery(),
                added: vec![Entry {
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
