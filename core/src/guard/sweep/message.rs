//! What the sweep queue carries: shards, the delayed close, and rechecks, one JSON body each.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::Place;

/// At most this many buckets per shard message: a shard reads them eight at a time, so even a
/// full shard takes a few seconds, far inside the enforcer's 30-second timeout.
pub const SHARD_BUCKETS: usize = 100;
/// At most this many buckets per message: an account with more is spread over several messages.
pub const MESSAGE_BUCKETS: usize = 200;

/// A message on the sweep queue. Written by the planning invocation and read back by the shard
/// invocations with the same serde code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SweepMessage {
    /// The shards of one account (all its Regions while they hold at most [`MESSAGE_BUCKETS`]):
    /// one instance sweeps them, so the member role is assumed once per account and sweep.
    Shards {
        shards: Vec<Shard>,
    },
    Close(Close),
    /// A guarded call's event (its EventBridge envelope), judged again on one read: when the
    /// enforcer judged it, S3 had not shown the policy it wrote within the waits, and the read was
    /// lawful (eventual consistency may still have hidden an intruder's write, and the sweep knows
    /// no caller to blame).
    Recheck {
        event: Value,
    },
}

/// The buckets of one account in one Region (at most [`SHARD_BUCKETS`] of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub sweep: String,
    pub index: usize,
    pub of: usize,
    #[serde(flatten)]
    pub place: Place,
    pub buckets: Vec<String>,
    /// Also versioning, lifecycle and replication (hourly); otherwise the policy alone: one read.
    pub settings: bool,
}

/// Sent with a delay after the shards: gather their remediations and mail them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Close {
    pub sweep: String,
    pub shards: usize,
}

impl SweepMessage {
    pub fn body(&self) -> String {
        // Strings, numbers, lists and a JSON value that was parsed: serialisation cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(body: &str) -> Result<SweepMessage, serde_json::Error> {
        serde_json::from_str(body)
    }
}
