//! What the gate works with and answers: its ports and the config in force, and the typed answers
//! the CLI reads back.

use breakglass_config::Config;
use serde::{Deserialize, Serialize};

use crate::events::{self, AccessRequest, Decision};
use crate::trail::audit::Trail;

/// An approval done: the decision recorded, and the bucket opened as it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approved {
    pub decision: Decision,
    pub opened: events::Request,
}

/// What the gate answers an operation with (status 200), in the types the CLI reads it back as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    Requested(AccessRequest),
    Denied(Decision),
    Approved(Box<Approved>),
    /// An open or a close: the request event put on the bus.
    Changed(events::Request),
    /// A config proposed, or approved and written.
    Proposed(Box<ConfigProposal>),
}

impl Answered {
    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            Answered::Requested(q) => serde_json::to_value(q),
            Answered::Denied(d) => serde_json::to_value(d),
            Answered::Approved(a) => serde_json::to_value(a),
            Answered::Changed(r) => serde_json::to_value(r),
            Answered::Proposed(p) => serde_json::to_value(p),
        };
        // Serialising these plain structs cannot fail.
        v.unwrap_or_default()
    }
}

/// The gate's ports and the config in force.
#[derive(Debug)]
pub struct Gate<'a, S, B, L, R> {
    pub config: &'a Config,
    pub store: &'a S,
    pub bus: &'a B,
    /// Where the gate writes its records.
    pub trail: &'a Trail<L>,
    /// The buckets' records read back (signatures checked): where requests (and config proposals)
    /// are found.
    pub records: &'a R,
    /// The operator roles (names) whose sessions may call.
    pub roles: &'a [String],
}

/// A proposed config, as the gate records it (`detail` of its record) and answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigProposal {
    pub id: String,
    /// `s3://bucket/key` of the object it would replace.
    pub location: String,
    pub by: String,
    /// SHA-256 of the object it was proposed against (none: no object yet): approved only while
    /// the object is still that one.
    pub base_sha256: Option<String>,
    pub sha256: String,
    /// The change in words, and the line diff (clipped).
    pub changes: Vec<String>,
    pub diff: String,
    pub text: String,
    pub time: String,
    pub expires_at: String,
}
