//! What the enforcer, the sentinel, the sweep and discovery tell: remediations and their digest,
//! exposures, repairs, misrouted events, config changes, incomplete sweeps, discovered buckets.

use serde::{Deserialize, Serialize};

use super::schemas;

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
    /// Of `count`, how many S3 refused or could not be verified closed (`refused`, `unverified`):
    /// those may still be readable. Counted over all, also those `buckets` leaves out.
    #[serde(default)]
    pub not_closed: usize,
    /// Of `count`, how many were only reported (dry run).
    #[serde(default)]
    pub dry_run: usize,
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
    #[serde(flatten)]
    pub place: Place,
    pub attempts: u32,
    pub unchecked: Vec<Unchecked>,
    pub time: String,
}

/// Where a sweep shard looks: one account and one Region. Flattened into the shard message, its
/// record and the incomplete-sweep event, so each keeps its `account` and `region` keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Place {
    pub account: String,
    /// `None`: the function's own Region (single-account mode).
    pub region: Option<String>,
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
    pub added: Vec<Entry>,
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

/// A config change: proposed by one operator through the gate, written by the gate once another
/// approved it (organisation mode), or pushed directly (a config written before the gate took it
/// over, no `state`). Mailed to the security team and recorded like any other change of what
/// protects the logs.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    #[serde(default = "schemas::config")]
    pub schema: String,
    /// Where the functions read it (`s3://bucket/key`).
    pub location: String,
    /// Who proposed (or pushed) it (the caller's ARN).
    pub by: String,
    /// SHA-256 of the text before (none: the first push) and after.
    pub before_sha256: Option<String>,
    pub after_sha256: String,
    /// The line diff, clipped.
    pub diff: String,
    pub time: String,
    /// `proposed` (nothing changed yet) or `approved` (the gate wrote it).
    #[serde(default)]
    pub state: Option<String>,
    /// The proposal's id, which `breakglass config approve` names.
    #[serde(default)]
    pub proposal: Option<String>,
    /// Who approved it (`approved`).
    #[serde(default)]
    pub approved_by: Option<String>,
    /// The change in words: buckets added or removed, rules weakened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// A discovered bucket, as the registry and the discovery event list it.
pub struct Entry {
    pub name: String,
    pub account: String,
    pub region: String,
    /// When it was first found.
    pub since: String,
}
