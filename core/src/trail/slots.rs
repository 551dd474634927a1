//! Reading a digest's pending slots, bounded. A digest reads every record of the slots it mails
//! (refused calls, refused reads), and a flood of them, which anyone refused can cause, must
//! neither run the recorder's scheduled invocation past its timeout run after run (then nothing is
//! ever mailed, and the access reports after it never run) nor make it slow: records are read
//! several at once, and a run stops taking slots once it has read [`READS_PER_RUN`] records. The
//! slots it leaves are unmarked, so the next run (one slot later) takes them, oldest first. A slot
//! alone larger than that has its first [`READS_PER_RUN`] records read and the others counted by
//! their keys, which name their bucket: the mail still counts every one (each has its record).

use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use time::{Duration, OffsetDateTime};

use crate::ports::{AuditReader, PortError};

/// Records read at once: S3 answers each in tens of milliseconds.
pub const READS_AT_ONCE: usize = 16;

/// Records one digest run reads at most before it leaves later slots to the next run (a slot is
/// mailed whole, once): about ten seconds at [`READS_AT_ONCE`].
pub const READS_PER_RUN: usize = 3_000;

/// One pending slot: its name and the keys of its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub name: String,
    pub keys: Vec<String>,
}

/// A slot read: its name, each key read with its record's text (`None`: not there, or not a record
/// breakglass wrote), and the keys of a slot too large to read whole that were left unread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRead {
    pub name: String,
    pub records: Vec<(String, Option<String>)>,
    pub unread: Vec<String>,
}

/// The bucket a record's key names: the folder it is in (`…/[<account>/]<bucket>/<time>-<id>.json`).
pub fn bucket_of(key: &str) -> Option<&str> {
    key.rsplit('/').nth(1)
}

/// The records of `slots` (oldest first), [`READS_AT_ONCE`] at a time, slot after slot while fewer
/// than [`READS_PER_RUN`] have been read; the slots not reached are left out of the answer.
pub async fn read_slots<R: AuditReader>(reader: &R, slots: Vec<Slot>) -> Result<Vec<SlotRead>, PortError> {
    let mut out = Vec::new();
    let mut read = 0;
    for slot in slots {
        if read >= READS_PER_RUN {
            tracing::warn!(slot = slot.name.as_str(), read, "digest: slots left to the next run");
            break;
        }
        let mut keys = slot.keys;
        let unread = keys.split_off(keys.len().min(READS_PER_RUN));
        if !unread.is_empty() {
            tracing::warn!(
                slot = slot.name.as_str(),
                unread = unread.len(),
                "digest: a slot too large to read whole; the rest counted by key"
            );
        }
        read += keys.len();
        out.push(SlotRead { name: slot.name, records: read_all(reader, keys).await?, unread });
    }
    Ok(out)
}

/// The records under `keys`, in their order, [`READS_AT_ONCE`] at a time (also a bucket's history:
/// the two-person rule's check within the enforcer's 30 seconds, a window's report).
pub async fn read_all<R: AuditReader>(
    reader: &R,
    keys: Vec<String>,
) -> Result<Vec<(String, Option<String>)>, PortError> {
    stream::iter(keys.into_iter().map(|key| async move {
        let text = reader.get(&key).await?;
        Ok::<_, PortError>((key, text))
    }))
    .buffered(READS_AT_ONCE)
    .try_collect()
    .await
}

/// The names of the `.json` markers under `dir` from `from` on (their names start with a time, so
/// the listing starts there).
pub(crate) async fn markers<R: AuditReader>(
    reader: &R,
    dir: &str,
    from: &str,
) -> Result<Vec<String>, PortError> {
    let keys = reader.keys(dir, Some(&format!("{dir}{from}"))).await?;
    Ok(keys.iter().filter_map(|k| k.strip_prefix(dir)?.strip_suffix(".json").map(str::to_owned)).collect())
}

/// The slots a digest run looks at: the current one (not complete yet, so not mailed), the
/// oldest of the last [`LOOKBACK`], and those already digested (their marks under `marks`).
pub(crate) struct DigestWindow {
    pub current: String,
    pub oldest: String,
    pub done: Vec<String>,
}

pub(crate) async fn digest_window<R: AuditReader>(
    reader: &R,
    marks: &str,
    now: OffsetDateTime,
    slot: Duration,
) -> Result<DigestWindow, PortError> {
    let current = crate::time::format_time(slot_of(now, slot));
    let oldest = crate::time::format_time(slot_of(now - LOOKBACK, slot));
    let done = markers(reader, marks, &oldest).await?;
    Ok(DigestWindow { current, oldest, done })
}

/// How far back a digest run looks for slots not yet mailed (a run that failed is made up for).
pub const LOOKBACK: Duration = Duration::hours(2);

/// The start of the slot of length `slot` that `t` falls in.
pub fn slot_of(t: OffsetDateTime, slot: Duration) -> OffsetDateTime {
    let secs = t.unix_timestamp();
    let start = secs - secs.rem_euclid(slot.whole_seconds().max(1));
    OffsetDateTime::from_unix_timestamp(start).unwrap_or(t)
}
