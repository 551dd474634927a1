//! What the recorder tells: reads outside the grant, refused reads, unreadable messages, and a
//! window's access report.

use serde::{Deserialize, Serialize};

use super::schemas;

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
    pub reads: Vec<ObjectRead>,
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
    pub fn tally(reads: &[ObjectRead]) -> Vec<DeniedBy> {
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
        by.truncate(super::limits::MOST_CALLERS);
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
/// One object read, as recorded (`reads` in an audit record of kind `reads` or `denied`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRead {
    pub event_id: String,
    /// CloudTrail's `eventTime` (RFC 3339).
    pub time: String,
    pub call: String,
    pub bucket: String,
    /// The account the event says it came from (`recipientAccountId`).
    pub account: Option<String>,
    pub region: Option<String>,
    pub key: Option<String>,
    pub version_id: Option<String>,
    /// `additionalEventData.bytesTransferredOut` (0 when CloudTrail gives none).
    #[serde(default)]
    pub bytes: u64,
    /// The caller's ARN (`anonymous` for an unsigned request, the service for an AWS service).
    pub principal: String,
    /// For a role session: the role (`sessionContext.sessionIssuer.arn`) and the session name.
    pub role: Option<String>,
    pub session: Option<String>,
    /// `sessionContext.sourceIdentity`: the person behind a role session, when the organisation sets it.
    pub source_identity: Option<String>,
    pub source_ip: Option<String>,
    /// CloudTrail's `errorCode`: none for a read that returned data.
    pub error: Option<String>,
}

/// Errors S3 answers a read only once the policy let the caller in: a missing key is `NoSuchKey`
/// only to a caller that may list the bucket (anyone else gets `AccessDenied`), and a range,
/// precondition or archived object is judged on an object the caller may read.
pub const PAST_THE_POLICY: [&str; 7] = [
    "NoSuchKey",
    "NoSuchVersion",
    "InvalidRange",
    "PreconditionFailed",
    "InvalidObjectState",
    "RestoreAlreadyInProgress",
    "NotModified",
];

impl ObjectRead {
    /// Refused by a policy (ClosedAccess while closed, or a reader outside the grant while open).
    pub fn denied(&self) -> bool {
        self.error.as_deref() == Some("AccessDenied")
    }

    /// Let in by the policy: the read returned data, or failed in a way S3 answers only past it
    /// ([`PAST_THE_POLICY`]). By anyone outside the grant, such a read shows access as much as one
    /// that returned data.
    pub fn reached(&self) -> bool {
        self.error.as_deref().is_none_or(|e| PAST_THE_POLICY.contains(&e))
    }

    /// Who read, for grouping and for a person: the role (a reader in a grant is a role) or the caller.
    pub fn reader(&self) -> &str {
        self.role.as_deref().unwrap_or(&self.principal)
    }

    /// One line for a person: when, who, what, how much, from where, and the outcome.
    pub fn line(&self) -> String {
        use std::fmt::Write as _;
        let mut line = format!("{}  {}  {}", self.time, self.reader(), self.call);
        if let Some(k) = &self.key {
            let _ = write!(line, " {k}");
        }
        if let Some(v) = &self.version_id {
            let _ = write!(line, " (version {v})");
        }
        let _ = write!(line, ", {} bytes", self.bytes);
        if let Some(ip) = &self.source_ip {
            let _ = write!(line, ", from {ip}");
        }
        if let Some(who) = &self.source_identity {
            let _ = write!(line, ", source identity {who}");
        }
        if let Some(e) = &self.error {
            let _ = write!(line, " [{e}]");
        }
        line
    }

    /// Whether `reader` (a role ARN of a grant, or a principal ARN) names this caller.
    pub fn is_by(&self, reader: &str) -> bool {
        self.principal == reader || self.role.as_deref() == Some(reader)
    }
}

/// One reader's reads in a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderSummary {
    pub reader: String,
    pub objects: usize,
    pub bytes: u64,
    pub first: String,
    pub last: String,
    /// Session names and source identities seen: who was behind the role.
    #[serde(default)]
    pub sessions: Vec<String>,
    #[serde(default)]
    pub source_identities: Vec<String>,
}

/// Who opened a window, why, for whom and until when (a report's first sentence). Flattened into
/// [`WindowReport`]: the keys stay the report's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowOpening {
    pub opened_by: Option<String>,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    /// The readers the grant named (over all its extensions).
    pub readers: Vec<String>,
    pub expiry: Option<String>,
}

/// What was read in a window: how much, by whom, and the first objects. Flattened into
/// [`WindowReport`] like [`WindowOpening`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowReads {
    pub reads: usize,
    pub bytes: u64,
    pub by_reader: Vec<ReaderSummary>,
    /// The first objects read, by time.
    pub first_objects: Vec<ObjectRead>,
}

/// One window's report (`breakglass.window-report/1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowReport {
    #[serde(default = "super::schemas::window_report")]
    pub schema: String,
    pub bucket: String,
    #[serde(default)]
    pub account: Option<String>,
    /// The window's id: when it opened (RFC 3339), as `breakglass history` shows it.
    pub window: String,
    #[serde(flatten)]
    pub opening: WindowOpening,
    /// None: still open when the report was made.
    pub closed_at: Option<String>,
    /// Who or what closed it: the operator, the expiry sweep, a remediation.
    pub closed_by: Option<String>,
    pub open_seconds: i64,
    #[serde(flatten)]
    pub read: WindowReads,
    /// Reads that succeeded for a principal the grant does not name: should be none.
    pub outside_count: usize,
    pub outside: Vec<ObjectRead>,
    /// Reads refused during the window.
    pub denied: usize,
    pub denied_by: Vec<DeniedBy>,
    pub time: String,
}
