//! Object reads on the protected buckets, from CloudTrail data events: who read which object (key and
//! version), how many bytes, from where, and whether S3 refused it. The recorder ([`crate::trail::recorder`])
//! turns batches of these into audit records, the window report counts them.
//!
//! [`ReadCall::ALL`] is the one list of calls that read objects. The trail's advanced event
//! selectors in the templates are tested against it, and every object-read action the templates
//! deny (`canonical_policies::OBJECT_READ_ACTIONS`) is covered by one of its calls.

use serde_json::Value;

use crate::events::ObjectRead;
use crate::inbound::event::{self, Incoming};
use crate::inbound::url::url_decode;

/// A CloudTrail data event that reads an object (or its data, or brings it back from an archive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReadCall {
    /// Also versioned reads: CloudTrail names `GetObjectVersion` reads `GetObject` with a `versionId`.
    GetObject,
    HeadObject,
    GetObjectAttributes,
    GetObjectTorrent,
    SelectObjectContent,
    RestoreObject,
    /// A copy reads its source (`x-amz-copy-source`), which may be in another bucket than the one
    /// it writes: recorded as a read of the source.
    CopyObject,
    UploadPartCopy,
}

impl ReadCall {
    pub const ALL: &'static [ReadCall] = &[
        ReadCall::GetObject,
        ReadCall::HeadObject,
        ReadCall::GetObjectAttributes,
        ReadCall::GetObjectTorrent,
        ReadCall::SelectObjectContent,
        ReadCall::RestoreObject,
        ReadCall::CopyObject,
        ReadCall::UploadPartCopy,
    ];

    /// CloudTrail's `eventName` (and the trail selector's `eventName`).
    pub fn name(self) -> &'static str {
        match self {
            ReadCall::GetObject => "GetObject",
            ReadCall::HeadObject => "HeadObject",
            ReadCall::GetObjectAttributes => "GetObjectAttributes",
            ReadCall::GetObjectTorrent => "GetObjectTorrent",
            ReadCall::SelectObjectContent => "SelectObjectContent",
            ReadCall::RestoreObject => "RestoreObject",
            ReadCall::CopyObject => "CopyObject",
            ReadCall::UploadPartCopy => "UploadPartCopy",
        }
    }

    /// The IAM actions that authorise the call (the service authorization reference).
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            // A copy is authorised on its source by the read actions (and s3:PutObject on the target).
            ReadCall::GetObject | ReadCall::CopyObject | ReadCall::UploadPartCopy => {
                &["s3:GetObject", "s3:GetObjectVersion"]
            }
            ReadCall::HeadObject | ReadCall::SelectObjectContent => &["s3:GetObject"],
            ReadCall::GetObjectAttributes => &["s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"],
            ReadCall::GetObjectTorrent => &["s3:GetObjectTorrent", "s3:GetObjectVersionTorrent"],
            ReadCall::RestoreObject => &["s3:RestoreObject"],
        }
    }

    pub fn from_name(name: &str) -> Option<ReadCall> {
        ReadCall::ALL.iter().copied().find(|c| c.name() == name)
    }

    fn is_copy(self) -> bool {
        matches!(self, ReadCall::CopyObject | ReadCall::UploadPartCopy)
    }
}

/// Why an event could not be recorded as a read: it is kept as `unreadable` with its event id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("not json: {0}")]
    NotJson(String),
    #[error(transparent)]
    Event(#[from] event::EventError),
    #[error("not a cloudtrail record of an api call")]
    NotApiCall,
    #[error("`{event_source}` `{name}` is not an object read on s3")]
    Foreign { event_source: String, name: String },
    #[error("read of `{0}`, which is not a protected bucket")]
    Unprotected(String),
    /// A copy into a protected bucket from one that is not: a write there, no read of its logs.
    #[error("copy from `{0}`, which is not a protected bucket, into a protected one: not a read")]
    CopyInto(String),
    #[error("no bucket named")]
    NoBucket,
    #[error("no `eventID`")]
    NoEventId,
    #[error("no valid `eventTime`")]
    NoTime,
    #[error("read of `{bucket}` came from account `{came_from}`, which does not own it")]
    Misrouted { bucket: String, came_from: String },
}

/// The event id of a message that could not be read, when one can be found in it at all.
pub fn event_id_of(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let d = v.get("detail").unwrap_or(&v);
    d.get("eventID").or_else(|| v.get("id")).and_then(Value::as_str).map(str::to_owned)
}

/// Reads one message of the data-event queue (an EventBridge event, as the rule delivers it).
/// `config` decides which buckets are protected and, in organisation mode, which account owns each.
pub fn parse(body: &str, config: &breakglass_config::Config) -> Result<ObjectRead, Unreadable> {
    let v: Value = serde_json::from_str(body).map_err(|e| Unreadable::NotJson(e.to_string()))?;
    let Incoming::ApiCalls(calls) = event::parse(&v)? else { return Err(Unreadable::NotApiCall) };
    let [call] = calls.as_slice() else { return Err(Unreadable::NotApiCall) };
    let source = call.event_source.clone().unwrap_or_default();
    let read = ReadCall::from_name(&call.event.name).filter(|_| source == "s3.amazonaws.com");
    let Some(read) = read else {
        return Err(Unreadable::Foreign { event_source: source, name: call.event.name.clone() });
    };
    let event_id = call.event.id.clone().ok_or(Unreadable::NoEventId)?;
    let time =
        call.event.time.clone().filter(|t| crate::time::parse_time(t).is_some()).ok_or(Unreadable::NoTime)?;
    let detail = v.get("detail").unwrap_or(&v);
    let param = |k: &str| detail.get("requestParameters").and_then(|p| p.get(k)).and_then(Value::as_str);
    let read_of = if read.is_copy() {
        copy_source(detail, config)
    } else {
        // By the ARNs of what was read: through an access point, `bucketName` is its alias.
        let by_arn = touched(detail).into_iter().find(|(b, _)| config.bucket(b).is_some());
        let named = by_arn.map(|(b, _)| b).or_else(|| call.bucket.clone());
        named.map(|b| (b, param("key").map(str::to_owned), param("versionId").map(str::to_owned)))
    };
    let (name, key, version_id) = read_of.ok_or(Unreadable::NoBucket)?;
    let bucket = match config.bucket(&name) {
        Some(bucket) => bucket,
        None if read.is_copy() => return Err(Unreadable::CopyInto(name)),
        None => return Err(Unreadable::Unprotected(name)),
    };
    // Organisation mode: a read is recorded under the account that owns the bucket only when it came
    // from there (a forged event must not put reads into another account's record).
    let foreign = call.accounts.is_empty() || call.accounts.iter().any(|a| *a != bucket.account);
    if config.organisation.is_some() && foreign {
        return Err(Unreadable::Misrouted { bucket: name, came_from: call.accounts.join(",") });
    }
    let bytes = detail
        .get("additionalEventData")
        .and_then(|a| a.get("bytesTransferredOut"))
        .and_then(|b| b.as_u64().or_else(|| b.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)))
        .unwrap_or(0);
    let actor = &call.actor;
    let principal = actor
        .arn
        .clone()
        .or_else(|| actor.invoked_by.clone())
        .or_else(|| actor.account.clone().filter(|a| a == "anonymous"))
        .unwrap_or_else(|| "unknown".to_owned());
    Ok(ObjectRead {
        event_id,
        time,
        call: read.name().to_owned(),
        bucket: name,
        account: call.accounts.first().cloned(),
        region: call.event.region.clone(),
        key,
        version_id,
        bytes,
        principal,
        role: actor.role_arn.clone(),
        session: actor.session.clone(),
        source_identity: detail
            .get("userIdentity")
            .and_then(|u| u.get("sessionContext"))
            .and_then(|s| s.get("sourceIdentity"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        source_ip: call.event.source_ip.clone(),
        error: call.error.code.clone(),
    })
}

/// The buckets (and object keys) a data event's `resources` name by ARN (`arn:aws:s3:::bucket` and
/// `arn:aws:s3:::bucket/key`); access point ARNs, which carry a Region and account, are left out.
fn touched(detail: &Value) -> Vec<(String, Option<String>)> {
    let Some(resources) = detail.get("resources").and_then(Value::as_array) else { return Vec::new() };
    resources
        .iter()
        .filter_map(|r| {
            let arn = canonical_policies::Arn::parse(r.get("ARN")?.as_str()?).ok()?;
            if arn.service != "s3" || !arn.region.is_empty() || !arn.account.is_empty() {
                return None;
            }
            match arn.resource.split_once('/') {
                Some((bucket, key)) => Some((bucket.to_owned(), Some(key.to_owned()))),
                None => Some((arn.resource.to_owned(), None)),
            }
        })
        .filter(|(bucket, _)| !bucket.is_empty())
        .collect()
}

/// What a copy read: bucket, key and version of its source. From `x-amz-copy-source`
/// (`[/]bucket/key[?versionId=…]`, URL-encoded); when that names an access point or is missing, the
/// protected object among the event's `resources` that is not the copy's target.
fn copy_source(
    detail: &Value,
    config: &breakglass_config::Config,
) -> Option<(String, Option<String>, Option<String>)> {
    let params = detail.get("requestParameters");
    let param = |k: &str| params.and_then(|p| p.get(k)).and_then(Value::as_str);
    if let Some(raw) = param("x-amz-copy-source") {
        // The query is split off first: an encoded `?` (`%3F`) in a key stays part of the key.
        let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
        let version = query.split('&').find_map(|kv| kv.strip_prefix("versionId=")).map(url_decode);
        let path = url_decode(path);
        let path = path.trim_start_matches('/');
        if !path.starts_with("arn:") {
            if let Some((bucket, key)) = path.split_once('/').filter(|(b, k)| !b.is_empty() && !k.is_empty())
            {
                return Some((bucket.to_owned(), Some(key.to_owned()), version));
            }
        }
    }
    let target = (param("bucketName"), param("key"));
    touched(detail)
        .into_iter()
        .filter(|(_, key)| key.is_some())
        .find(|(bucket, key)| {
            (Some(bucket.as_str()), key.as_deref()) != target && config.bucket(bucket).is_some()
        })
        .map(|(bucket, key)| (bucket, key, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_read_action_the_templates_deny_is_a_recorded_call() {
        let recorded: Vec<&str> = ReadCall::ALL.iter().flat_map(|c| c.actions()).copied().collect();
        for action in canonical_policies::OBJECT_READ_ACTIONS {
            // Replication reads are made by S3 itself, with the replication role; not a person's read.
            if action == "s3:GetObjectVersionForReplication" {
                continue;
            }
            assert!(
                recorded.contains(&action),
                "{action} is denied by ClosedAccess but no read call records it"
            );
        }
        for c in ReadCall::ALL {
            assert_eq!(ReadCall::from_name(c.name()), Some(*c));
        }
    }
}
