//! The notification's JSON document (the SNS `default` body of [`crate::ports::Notification`],
//! `docs/notification-schema.md`) as one type: the notifier writes it (and takes the mail's subject
//! and text from it), the audit record reads it back and keeps it, without the text, as its
//! `detail`. Vocabulary, like the bus events: it imports nothing of the crate, so that both the
//! notifier and the audit trail below it can use it.
//!
//! The JSON is the one the notifier wrote with `json!` before: a field that was absent stays
//! absent, one that was `null` stays `null` (`present`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Whether `c` may not stand in a person's text that reaches a mail (a reason, a ticket, a name):
/// control characters, and the format and separator characters that break or reorder a line
/// where a mail client shows them (U+2028/2029, the bidirectional controls, zero-width ones). A
/// reason could otherwise forge a section of the approver's mail, or a subject SNS refuses.
pub fn breaks_text(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The document's schema; a new major version gets a new name, fields are only added within one.
pub const SCHEMA: &str = "breakglass.notification/1";

/// One notification's document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// [`SCHEMA`].
    pub schema: String,
    /// As the `kind` attribute.
    pub kind: String,
    /// The email subject.
    pub subject: String,
    /// The email text; `None` in the audit record, which does not repeat it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Organisation mode, messages about a bucket: its place; otherwise what an event's detail says.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub account: Option<Account>,
    #[serde(flatten)]
    pub about: About,
}

/// What the document is about: one of breakglass's own events, or a CloudTrail record of a call.
/// Own events come first: only they have a `detail_type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum About {
    Own(Own),
    Call(Box<Call>),
}

/// `account`: the place the notifier adds in organisation mode, or an event's own `account` field
/// (an account id, or `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Account {
    Place(Place),
    Other(Value),
}

/// Organisation mode: where the bucket lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub id: String,
    pub alias: Option<String>,
    pub region: String,
}

/// One of breakglass's own events: its detail as it came on the bus, plus where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Own {
    /// The event's detail-type on breakglass's bus.
    pub detail_type: String,
    /// The EventBridge id of the event.
    pub event_id: Option<String>,
    /// The event's detail, but for the fields above and the document's own.
    #[serde(flatten)]
    pub detail: Map<String, Value>,
}

/// The fields of an own event's detail the audit record needs, read through this struct.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct OwnHead {
    pub bucket: Option<String>,
    pub time: Option<String>,
    pub state: Option<String>,
    /// The id of the call that made the enforcer act.
    pub trigger: Option<TriggerId>,
    /// Who, as the event names them (a misrouted event's actor), or `null`.
    pub actor: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TriggerId {
    pub event_id: Option<String>,
}

impl Own {
    /// The bucket, time, state, trigger and actor of the detail (none when it does not carry them as strings).
    pub fn head(&self) -> OwnHead {
        OwnHead::deserialize(Value::Object(self.detail.clone())).unwrap_or_default()
    }
}

/// A CloudTrail record of a guarded call.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub severity: String,
    /// The bucket, or `_control` for calls outside S3 and calls that name nothing.
    pub bucket: String,
    /// The guarded call's CloudTrail name.
    pub call: String,
    pub state: String,
    pub event: CallEvent,
    /// The caller, as the event names them (`type`, `arn`, `account`, `role`, `session`, `mfa`,
    /// `invoked_by`).
    pub actor: Actor,
    /// Calls outside S3: the role, key, topic or role passed.
    pub target: Option<String>,
    /// Policy calls: the resulting state.
    pub policy: Option<PolicyDocument>,
    /// Setting calls: the weakening in words (`null` when the change weakens nothing).
    #[serde(default, deserialize_with = "present")]
    pub exposure: Option<Option<String>>,
    /// Attempts: what AWS answered.
    pub error: Option<CallError>,
}

/// A CloudTrail record's event: read from it, written in the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEvent {
    pub id: Option<String>,
    pub name: String,
    pub time: Option<String>,
    pub region: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who made a call, from CloudTrail's `userIdentity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `IAMUser`, `AssumedRole`, `Root`, `AWSService`, …
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub arn: Option<String>,
    pub account: Option<String>,
    /// For assumed roles: the role (`sessionContext.sessionIssuer.arn`) and the session name.
    #[serde(rename = "role")]
    pub role_arn: Option<String>,
    pub session: Option<String>,
    /// `sessionContext.attributes.mfaAuthenticated`, a string `"true"`/`"false"` in CloudTrail.
    pub mfa: Option<bool>,
    /// `invokedBy`, e.g. `cloudformation.amazonaws.com`.
    pub invoked_by: Option<String>,
    /// Who it is when CloudTrail names no ARN (another account's principal, a SAML, web-identity or
    /// Identity Center user): `userName`, else `onBehalfOf.userId`, else `principalId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `identityProvider` (SAML and web-identity users) or `onBehalfOf.identityStoreArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

impl Actor {
    /// The ARNs by which this actor may be listed as a break-glass principal: the caller and, for a
    /// session, the role it was issued by.
    pub fn principal_arns(&self) -> impl Iterator<Item = &str> {
        self.arn.as_deref().into_iter().chain(self.role_arn.as_deref())
    }

    /// One line for a person: the ARN, plus role, session and MFA where known.
    pub fn describe(&self) -> String {
        let mut out = match (&self.arn, self.kind.as_deref(), &self.invoked_by) {
            (Some(arn), _, _) => arn.clone(),
            (None, Some("AWSService"), Some(service)) => format!("the AWS service {service}"),
            (None, kind, _) => self.without_arn(kind),
        };
        // A federated user's session is issued by an IAM user, not a role.
        let issuer = match &self.role_arn {
            Some(r) if r.contains(":user/") => "issued by",
            _ => "role",
        };
        if let Some(role) = &self.role_arn {
            out.push_str(&format!(" ({issuer} {role}"));
            if let Some(s) = &self.session {
                out.push_str(&format!(", session {s}"));
            }
            out.push(')');
        }
        if let Some(mfa) = self.mfa {
            out.push_str(if mfa { ", signed in with MFA" } else { ", without MFA" });
        }
        if let Some(by) = self.invoked_by.as_ref().filter(|_| self.kind.as_deref() != Some("AWSService")) {
            out.push_str(&format!(", via {by}"));
        }
        out
    }

    /// A principal CloudTrail names without an ARN, by its type, name, account and provider.
    fn without_arn(&self, kind: Option<&str>) -> String {
        let (Some(kind), Some(name)) = (kind, &self.name) else {
            return match (&self.account, kind) {
                (Some(account), Some(kind)) => format!("a principal of type {kind} in account {account}"),
                _ => "an unknown principal".to_owned(),
            };
        };
        let mut out = format!("{kind} {name}");
        if let Some(account) = &self.account {
            out.push_str(&format!(" in account {account}"));
        }
        if let Some(p) = &self.provider {
            out.push_str(&format!(" through {p}"));
        }
        out
    }
}

/// The state a policy call left the bucket in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    pub hash: Option<String>,
    pub first_sid: Option<String>,
    pub claim_mismatch: bool,
    pub expiry: Option<String>,
    pub readers: Vec<String>,
    pub reasons: Vec<String>,
}

/// What AWS answered a call: read from the record, written in an attempt's document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallError {
    pub code: Option<String>,
    pub message: Option<String>,
}

impl Document {
    /// The document as JSON (the SNS `default` body; the audit record's `detail`).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The bucket the document names, if any.
    pub fn bucket(&self) -> Option<String> {
        match &self.about {
            About::Call(c) => Some(c.bucket.clone()),
            About::Own(o) => o.head().bucket,
        }
    }

    /// The document read as one of breakglass's own events (`T` of `crate::events`), as the
    /// two-person rule reads its requests and decisions back from the audit trail.
    pub fn event<T: DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(self.to_value()).ok()
    }
}

/// A field that may be `null`: `Some(null)` when present, `None` (skipped) when absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// `null` and absent stay apart: a window report's `account` outside organisation mode, a
    /// setting change that weakens nothing, a call that is no setting change.
    #[test]
    fn null_and_absent_round_trip() {
        let own = json!({"schema": SCHEMA, "kind": "access", "subject": "s", "text": "t", "account": null,
            "detail_type": "breakglass window report", "event_id": null, "bucket": "b", "reads": 2});
        let call = json!({"schema": SCHEMA, "kind": "change", "subject": "s", "severity": "info",
            "bucket": "b", "call": "PutBucketEncryption", "state": "unchanged", "exposure": null,
            "event": {"id": null, "name": "PutBucketEncryption", "time": null, "region": null,
                "source_ip": null, "user_agent": null},
            "actor": {"type": null, "arn": null, "account": null, "role": null, "session": null,
                "mfa": null, "invoked_by": null}});
        let mut placed = call.clone();
        placed["account"] = json!({"id": "111100000000", "alias": null, "region": "eu-west-1"});
        let mut bare = call.clone();
        bare.as_object_mut().unwrap().remove("exposure");
        for json in [own, call, placed, bare] {
            let doc: Document = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(doc.to_value(), json);
        }
    }
}
