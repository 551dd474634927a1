//! The recorder's records of object reads, as written ([`super::recorder`]) and as read back
//! ([`super::report`]), and where they lie in the trail.

use serde::{Deserialize, Serialize};

use crate::events::ObjectRead;
use crate::trail::audit::Written;

/// Under this prefix: one `reads` record per bucket and batch.
pub const READS: &str = "_reads";
/// Under this prefix: one `denied` record per refused read, by digest slot.
pub const DENIED: &str = "_denied";
pub const READS_SCHEMA: &str = "breakglass.reads/1";

/// A `reads` or `denied` record, as written and as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRecord {
    pub schema: String,
    /// `reads` or `denied`.
    pub kind: String,
    pub bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The earliest read's time.
    pub time: String,
    pub recorded_at: String,
    pub count: usize,
    pub bytes: u64,
    pub reads: Vec<ObjectRead>,
    #[serde(flatten)]
    pub written: Written,
    #[serde(default)]
    pub id: Option<String>,
}
