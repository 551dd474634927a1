//! Opening and closing: an operator's or the catalog's request, and the two-person rule's
//! access requests and decisions.

use serde::{Deserialize, Serialize};

use super::schemas;

/// Readers and expiry of an OpenAccess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub readers: Vec<String>,
    /// RFC 3339, UTC.
    pub expiry: String,
}

/// An operator's (or the catalog's) open or close, done or refused (`breakglass.request/1`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    #[serde(default = "schemas::request")]
    pub schema: String,
    /// `open` or `close`.
    pub action: String,
    /// `refused` when nothing was written because of what was asked.
    pub outcome: Option<String>,
    /// Why it was refused.
    pub error: Option<String>,
    pub bucket: String,
    pub requester: String,
    #[serialize_always]
    pub reason: Option<String>,
    pub ticket: Option<String>,
    /// A refused open: the readers asked for.
    pub readers: Option<Vec<String>>,
    /// A refused open: the duration asked for.
    pub duration: Option<String>,
    /// The grant in force afterwards (open), none (close).
    #[serialize_always]
    pub grant: Option<Grant>,
    /// The grant in force before.
    #[serialize_always]
    pub previous: Option<Grant>,
    /// A close: the state it closed (`open`, `expired`, `closed`, `drift`).
    pub previous_state: Option<String>,
    pub before_hash: Option<String>,
    pub policy_hash: Option<String>,
    pub time: String,
}

impl Request {
    /// A request about `bucket` by `requester` at `time` (RFC 3339); the caller sets action and the rest.
    pub fn new(bucket: &str, requester: &str, time: String) -> Request {
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
            time,
        }
    }

    pub fn refused(&self) -> bool {
        self.outcome.as_deref() == Some("refused")
    }
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

impl AccessRequest {
    /// A pending request for `acme-logs` by `alice`, two hours for one reader: the tests' example
    /// (here, not in `testing`, because `events` imports nothing of the crate).
    #[cfg(any(test, feature = "test-util"))]
    pub fn example() -> AccessRequest {
        AccessRequest {
            schema: schemas::access_request(),
            id: "0123456789ab".into(),
            bucket: "acme-logs".into(),
            requester: "alice".into(),
            reason: "r".into(),
            ticket: "T".into(),
            duration: "2h".into(),
            readers: vec!["arn:aws:iam::1:role/R".into()],
            expires_at: "2026-11-25T10:00:00Z".into(),
            time: "2026-11-24T10:00:00Z".into(),
        }
    }
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
