//! What the recorder tells of guarded calls AWS refused: a digest per bucket (or per target, for
//! calls outside S3) and slot, instead of one mail per call, so that a flood of attempts never
//! delays the mail of a remediation.

use serde::{Deserialize, Serialize};

use super::schemas;

/// Guarded calls AWS refused, digested (`breakglass.refused-calls/1`): at most one per bucket (or
/// target) per digest run (every 5 minutes), with the counts by call and caller and a few
/// examples; each refused call has its own audit record.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedCalls {
    #[serde(default = "schemas::refused_calls")]
    pub schema: String,
    /// The protected bucket, or `_control` for calls outside S3.
    pub bucket: String,
    /// Calls outside S3: the role, key, topic or trail they named.
    pub target: Option<String>,
    pub count: usize,
    /// Per call and caller, most attempts first; at most [`super::limits::MOST_CALLERS`] (`count` counts all).
    pub by: Vec<RefusedBy>,
    /// The first few refused calls, by time.
    pub examples: Vec<RefusedExample>,
    /// The records' recording slots it covers (RFC 3339, start inclusive, end exclusive).
    pub from: String,
    pub to: String,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedBy {
    pub call: String,
    /// The caller's ARN (the role of a session when CloudTrail names it).
    pub principal: String,
    pub count: usize,
    pub first: String,
    pub last: String,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedExample {
    pub event_id: Option<String>,
    pub time: String,
    pub call: String,
    pub principal: String,
    /// What AWS answered (`AccessDenied`, …).
    pub error: Option<String>,
    pub source_ip: Option<String>,
}

/// How many examples a digest lists (every call has its record).
pub const EXAMPLES: usize = 5;

impl RefusedBy {
    /// The calls counted per call and principal, most attempts first.
    pub fn tally(calls: &[RefusedExample]) -> Vec<RefusedBy> {
        let mut by: std::collections::BTreeMap<(&str, &str), RefusedBy> = std::collections::BTreeMap::new();
        for c in calls {
            let e = by.entry((&c.call, &c.principal)).or_insert_with(|| RefusedBy {
                call: c.call.clone(),
                principal: c.principal.clone(),
                count: 0,
                first: c.time.clone(),
                last: c.time.clone(),
            });
            e.count += 1;
            e.first = e.first.clone().min(c.time.clone());
            e.last = e.last.clone().max(c.time.clone());
        }
        let mut by: Vec<RefusedBy> = by.into_values().collect();
        by.sort_by(|a, b| {
            b.count.cmp(&a.count).then_with(|| (&a.call, &a.principal).cmp(&(&b.call, &b.principal)))
        });
        by.truncate(super::limits::MOST_CALLERS);
        by
    }
}
