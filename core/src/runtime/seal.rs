//! The gate's seal on the config object (organisation mode): the config is the policy, so the
//! functions adopt only a config the gate wrote after two people agreed. The gate MACs the text's
//! SHA-256 with the records' KMS HMAC key (which no person may use to sign) and stores the MAC in
//! the object's metadata; every function verifies it before adopting the object. A config without
//! a valid seal is refused, the last sealed one stays in force, and the enforcer alerts on both
//! channels. The message is domain-separated from the audit records (which are JSON objects), so a
//! record's MAC never seals a config.

use serde_json::json;
use sha2::{Digest, Sha256};

use time::OffsetDateTime;

use crate::events::OwnEvent;
use crate::guard::sentinel::{repair_event, Repair};
use crate::ports::{ControlPlane, EventBus, Notification, PortError};
use crate::trail::audit::hex;

/// The object metadata (`x-amz-meta-…`) that carries the seal (hex).
pub const SEAL_METADATA: &str = "breakglass-config-seal";

/// What the records' key MACs to seal `text` (KMS takes at most 4,096 bytes: the hash, not the text).
pub fn seal_message(text: &str) -> Vec<u8> {
    format!("breakglass-config/1\n{}", hex(&Sha256::digest(text.as_bytes()))).into_bytes()
}

/// The seal as stored, parsed: 32 bytes of hex, or nothing usable.
pub fn parse_seal(stored: &str) -> Option<Vec<u8>> {
    crate::trail::tamper::parse_mac(stored)
}

/// A config object refused for want of a valid seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `s3://bucket/key`.
    pub location: String,
    /// The S3 version id of the refused object (`null` in an unversioned bucket).
    pub version: String,
    /// Who wrote it, as far as S3 tells (the object's metadata, unverified), else unknown.
    pub writer: String,
    /// Why: no seal, or a seal that does not verify.
    pub reason: String,
    /// The SHA-256 of the config that stays in force (none at a cold start without any sealed version).
    pub in_force: Option<String>,
}

impl Refused {
    fn line(&self) -> String {
        format!(
            "config object {} version {} was not written by the gate ({}; writer: {}); {}",
            self.location,
            self.version,
            self.reason,
            self.writer,
            match &self.in_force {
                Some(sha) => format!("the last sealed config stays in force (SHA-256 {sha})"),
                None => "no sealed config is left: the functions do not start".into(),
            }
        )
    }

    /// The first channel: a `breakglass repair` event the notifier mails to the security team.
    pub fn finding(&self) -> Repair {
        Repair {
            kind: "config",
            subject: format!("{} version {}", self.location, self.version),
            what: self.line(),
            repaired: false,
            error: Some("refused: not sealed by the gate".into()),
        }
    }

    /// The second channel: the alarm topic, in case the bus or the notifier is what was changed.
    pub fn alarm(&self) -> Notification {
        Notification {
            subject: "[breakglass] ALERT: config object written past the gate".into(),
            default: json!({
                "schema": "breakglass.alarm/1",
                "kind": "config",
                "location": self.location,
                "version": self.version,
                "writer": self.writer,
                "reason": self.reason,
                "in_force": self.in_force,
            }),
            email: format!(
                "{}.\n\nOnly the gate writes the config, after two operators agreed. Find who wrote this version (CloudTrail data events of the config bucket), then propose any change through the gate: its next write supersedes this version (docs/runbook.md, \"Config changes\").\n",
                self.line()
            ),
            attributes: vec![("kind".into(), "alarm".into()), ("severity".into(), "critical".into())],
            second_channel: true,
        }
    }
}

/// The enforcer's alert on a refused config: both channels, each tried whatever the other did
/// (either may be what the writer also changed).
pub async fn alert<B: EventBus, C: ControlPlane>(
    refused: &Refused,
    bus: &B,
    control: &C,
    now: OffsetDateTime,
) -> Result<(), PortError> {
    let second = control.alarm(&refused.alarm()).await;
    let first = bus.put(&OwnEvent::Repair(repair_event(&refused.finding(), now)).to_bus()).await;
    second.map(|_| ())?;
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_the_hash_and_never_a_record() {
        let m = seal_message("a = 1\n");
        assert!(m.starts_with(b"breakglass-config/1\n"));
        assert_eq!(m.len(), "breakglass-config/1\n".len() + 64);
        // Audit records are JSON objects: a record's MAC cannot be a seal.
        assert_ne!(m.first(), Some(&b'{'));
    }

    #[test]
    fn a_refusal_names_location_version_and_writer_on_both_channels() {
        let r = Refused {
            location: "s3://cfg/breakglass.toml".into(),
            version: "v2".into(),
            writer: "unknown".into(),
            reason: "no seal".into(),
            in_force: Some("abc".into()),
        };
        let f = r.finding();
        assert!(f.what.contains("version v2") && f.what.contains("stays in force"), "{}", f.what);
        let a = r.alarm();
        assert!(a.second_channel && a.email.contains("s3://cfg/breakglass.toml version v2"), "{}", a.email);
    }
}
