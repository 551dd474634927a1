//! In-memory fakes of the ports (feature `test-util`), one of each for every test that needs it:
//! here once instead of in each test file. Each holds what was written, and knobs for the failures
//! the tests inject.
// Test code: a poisoned lock or a missing fixture fails the test, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use breakglass_config::Config;
use serde_json::Value;
use time::OffsetDateTime;

use crate::events::BusEvent;
use crate::events::OwnEvent;
use crate::ports::{
    Appended, AuditLog, AuditReader, BucketSettings, Canary, ControlPlane, Directory, EventBus,
    LifecycleRule, Notification, PolicyStore, PortError, RegistryStore, Subscription,
};

/// The example config (`examples/breakglass.toml`, two-person rule on).
pub fn example_config() -> Config {
    Config::from_toml(&example_text()).unwrap()
}

/// The example config with `two_person = false`: one operator may open.
pub fn single_operator_config() -> Config {
    Config::from_toml(&example_text().replace("two_person = true", "two_person = false")).unwrap()
}

fn example_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/breakglass.toml")).unwrap()
}

/// The tests' clock: 2026-11-24 12:00 UTC.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-24T12:00:00Z", &time::format_description::well_known::Rfc3339).unwrap()
}

/// S3 bucket policies: the policies, the writes, failures, and eventual consistency.
#[derive(Debug, Default)]
pub struct Store {
    pub policies: Mutex<HashMap<String, String>>,
    pub writes: Mutex<usize>,
    /// How many times a policy was read.
    pub reads: Mutex<usize>,
    pub fail_get: Mutex<Option<PortError>>,
    /// Reading this one bucket fails (deleted, or unreadable).
    pub fail_bucket: Mutex<Option<String>>,
    pub fail_put: Mutex<Option<PortError>>,
    pub blocked: Mutex<Vec<String>>,
    /// Eventual consistency: the first `lag` reads after a write (one unless set) still return the
    /// previous policy.
    pub lagging: Mutex<bool>,
    pub lag: Mutex<Option<usize>>,
    pub stale: Mutex<Option<(String, usize)>>,
    /// The heartbeat's policy re-puts (bucket) and canary reads (bucket, key).
    pub beats: Mutex<Vec<String>>,
    pub canary_reads: Mutex<Vec<(String, String)>>,
    /// The canary read is answered (the bucket does not refuse it).
    pub canary_readable: Mutex<bool>,
}

impl PolicyStore for Store {
    async fn get_policy(&self, bucket: &str) -> Result<Option<String>, PortError> {
        *self.reads.lock().unwrap() += 1;
        if let Some(e) = self.fail_get.lock().unwrap().clone() {
            return Err(e);
        }
        if self.fail_bucket.lock().unwrap().as_deref() == Some(bucket) {
            return Err(PortError::Refused("GetBucketPolicy: NoSuchBucket: gone".into()));
        }
        let mut stale = self.stale.lock().unwrap();
        if let Some((old, left)) = stale.take() {
            if left > 1 {
                *stale = Some((old.clone(), left - 1));
            }
            return Ok(Some(old));
        }
        drop(stale);
        Ok(self.policies.lock().unwrap().get(bucket).cloned())
    }
    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        if let Some(e) = self.fail_put.lock().unwrap().clone() {
            return Err(e);
        }
        *self.writes.lock().unwrap() += 1;
        let old = self.policies.lock().unwrap().insert(bucket.to_owned(), policy.to_owned());
        if *self.lagging.lock().unwrap() {
            let reads = self.lag.lock().unwrap().unwrap_or(1);
            *self.stale.lock().unwrap() = old.map(|o| (o, reads));
        }
        Ok(())
    }
    async fn block_public_access(&self, bucket: &str) -> Result<(), PortError> {
        self.blocked.lock().unwrap().push(bucket.to_owned());
        Ok(())
    }
}

impl Canary for Store {
    async fn beat_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        self.put_policy(bucket, policy).await?;
        self.beats.lock().unwrap().push(bucket.to_owned());
        Ok(())
    }
    async fn refused_read(&self, bucket: &str, key: &str) -> Result<bool, PortError> {
        self.canary_reads.lock().unwrap().push((bucket.to_owned(), key.to_owned()));
        Ok(!*self.canary_readable.lock().unwrap())
    }
}

/// EventBridge: every event put.
#[derive(Debug, Default)]
pub struct Bus(pub Mutex<Vec<BusEvent>>);

impl EventBus for Bus {
    async fn put(&self, event: &BusEvent) -> Result<(), PortError> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

impl Bus {
    pub fn events(&self) -> Vec<OwnEvent> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|e| OwnEvent::from_bus(&e.detail_type, &e.detail).unwrap())
            .collect()
    }
}

/// The config object: its text and a version counter as its ETag.
#[derive(Debug, Default)]
pub struct ConfigObject(pub Mutex<Option<(String, u32)>>);

impl crate::ports::ConfigStore for ConfigObject {
    fn location(&self) -> String {
        "s3://breakglass-config/breakglass.toml".into()
    }

    async fn read(&self) -> Result<Option<(String, Option<String>)>, PortError> {
        Ok(self.0.lock().unwrap().clone().map(|(t, v)| (t, Some(v.to_string()))))
    }

    async fn write(&self, text: &str, expected: Option<&str>) -> Result<(), PortError> {
        let mut o = self.0.lock().unwrap();
        if o.as_ref().map(|(_, v)| v.to_string()).as_deref() != expected {
            return Err(PortError::Refused("PutObject: 412 PreconditionFailed".into()));
        }
        let next = o.as_ref().map_or(1, |(_, v)| v + 1);
        *o = Some((text.to_owned(), next));
        Ok(())
    }
}

/// The audit log: write-once, like S3 with `If-None-Match: *` under Object Lock.
#[derive(Debug, Default)]
pub struct Log {
    pub records: Mutex<BTreeMap<String, String>>,
    /// Writes under keys containing this fail.
    pub fail: Mutex<Option<String>>,
}

impl AuditLog for Log {
    async fn append(&self, key: &str, body: &str, _: OffsetDateTime) -> Result<Appended, PortError> {
        if self.fail.lock().unwrap().as_deref().is_some_and(|f| key.contains(f)) {
            return Err(PortError::Retryable("PutObject: 503 SlowDown".into()));
        }
        let mut m = self.records.lock().unwrap();
        if m.contains_key(key) {
            return Ok(Appended::AlreadyThere);
        }
        m.insert(key.to_owned(), body.to_owned());
        Ok(Appended::Written)
    }
}

impl AuditReader for Log {
    async fn keys(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<String>, PortError> {
        let m = self.records.lock().unwrap();
        Ok(m.keys()
            .filter(|k| k.starts_with(prefix) && start_after.is_none_or(|s| k.as_str() > s))
            .cloned()
            .collect())
    }
    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        Ok(self.records.lock().unwrap().get(key).cloned())
    }
}

impl Log {
    pub fn under(&self, prefix: &str) -> Vec<(String, Value)> {
        let m = self.records.lock().unwrap();
        m.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), serde_json::from_str(v).unwrap()))
            .collect()
    }
}

/// A bucket's lifecycle rules or replication rules: none when it has none.
fn listed<T: Clone>(rules: &Mutex<HashMap<String, Vec<T>>>, bucket: &str) -> Vec<T> {
    rules.lock().unwrap().get(bucket).cloned().unwrap_or_default()
}

/// Bucket settings (versioning, lifecycle, replication, ownership, tags), with failing writes or reads.
#[derive(Debug, Default)]
pub struct Settings {
    pub versioning: Mutex<HashMap<String, String>>,
    pub lifecycle: Mutex<HashMap<String, Vec<LifecycleRule>>>,
    pub replication: Mutex<HashMap<String, Vec<String>>>,
    pub ownership_enforced: Mutex<Vec<String>>,
    pub tags: Mutex<HashMap<String, Vec<(String, String)>>>,
    /// Every write fails with this.
    pub fail_write: Mutex<Option<PortError>>,
    /// Reading this bucket fails.
    pub unreadable: Mutex<Option<String>>,
    /// Eventual consistency: the next this many reads of versioning, lifecycle or replication
    /// answer as the bucket was before it was tampered with (versioning on, no rules).
    pub stale_reads: Mutex<usize>,
}

impl Settings {
    /// Whether this read is still a stale one (and counts it).
    fn stale(&self) -> bool {
        let mut left = self.stale_reads.lock().unwrap();
        if *left == 0 {
            return false;
        }
        *left -= 1;
        true
    }
    /// What `map` lists for `bucket`, or nothing while the reads are stale (as before tampering).
    fn listed_now<T: Clone>(&self, map: &Mutex<HashMap<String, Vec<T>>>, bucket: &str) -> Vec<T> {
        if self.stale() {
            return Vec::new();
        }
        listed(map, bucket)
    }
    fn write(&self) -> Result<(), PortError> {
        match self.fail_write.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
    /// Deletes a bucket's lifecycle rules or replication rules (a write).
    fn forget<T>(&self, rules: &Mutex<HashMap<String, Vec<T>>>, bucket: &str) -> Result<(), PortError> {
        self.write()?;
        rules.lock().unwrap().remove(bucket);
        Ok(())
    }
    fn read(&self, bucket: &str) -> Result<(), PortError> {
        match self.unreadable.lock().unwrap().as_deref() {
            Some(b) if b == bucket => Err(PortError::Retryable("GetBucketVersioning: 503".into())),
            _ => Ok(()),
        }
    }
}

impl BucketSettings for Settings {
    async fn get_versioning(&self, bucket: &str) -> Result<Option<String>, PortError> {
        self.read(bucket)?;
        if self.stale() {
            return Ok(Some("Enabled".into()));
        }
        Ok(self.versioning.lock().unwrap().get(bucket).cloned())
    }
    async fn enable_versioning(&self, bucket: &str) -> Result<(), PortError> {
        self.write()?;
        self.versioning.lock().unwrap().insert(bucket.into(), "Enabled".into());
        Ok(())
    }
    async fn get_lifecycle(&self, bucket: &str) -> Result<Vec<LifecycleRule>, PortError> {
        Ok(self.listed_now(&self.lifecycle, bucket))
    }
    async fn delete_lifecycle(&self, bucket: &str) -> Result<(), PortError> {
        self.forget(&self.lifecycle, bucket)
    }
    async fn get_replication(&self, bucket: &str) -> Result<Vec<String>, PortError> {
        Ok(self.listed_now(&self.replication, bucket))
    }
    async fn delete_replication(&self, bucket: &str) -> Result<(), PortError> {
        self.forget(&self.replication, bucket)
    }
    async fn enforce_ownership(&self, bucket: &str) -> Result<(), PortError> {
        self.write()?;
        self.ownership_enforced.lock().unwrap().push(bucket.into());
        Ok(())
    }
    async fn get_tags(&self, bucket: &str) -> Result<Vec<(String, String)>, PortError> {
        self.read(bucket)?;
        Ok(self.tags.lock().unwrap().get(bucket).cloned().unwrap_or_default())
    }
    async fn put_tags(&self, bucket: &str, tags: &[(String, String)]) -> Result<(), PortError> {
        self.write()?;
        self.tags.lock().unwrap().insert(bucket.into(), tags.to_vec());
        Ok(())
    }
}

/// IAM trust policies, SNS subscriptions and the alarm topic.
#[derive(Debug, Default)]
pub struct Control {
    pub trust: Mutex<HashMap<String, String>>,
    pub subscriptions: Mutex<Vec<Subscription>>,
    pub alarms: Mutex<Vec<Notification>>,
    pub alarm_down: Mutex<bool>,
}

impl ControlPlane for Control {
    async fn get_trust(&self, role: &str) -> Result<Option<String>, PortError> {
        Ok(self.trust.lock().unwrap().get(role).cloned())
    }
    async fn put_trust(&self, role: &str, policy: &str) -> Result<(), PortError> {
        self.trust.lock().unwrap().insert(role.into(), policy.into());
        Ok(())
    }
    async fn subscriptions(&self, _: &str) -> Result<Vec<Subscription>, PortError> {
        Ok(self.subscriptions.lock().unwrap().clone())
    }
    async fn alarm(&self, n: &Notification) -> Result<String, PortError> {
        if *self.alarm_down.lock().unwrap() {
            return Err(PortError::Retryable("Publish: 503".into()));
        }
        self.alarms.lock().unwrap().push(n.clone());
        Ok("m-1".into())
    }
}

/// Tags of a bucket, as S3 lists them.
pub type Tags = Vec<(String, String)>;

/// The buckets of every account and Region, and the accounts of each OU, as discovery lists them.
#[derive(Debug, Default)]
pub struct Estate {
    /// (account, region) → buckets with their tags.
    pub buckets: HashMap<(String, String), Vec<(String, Tags)>>,
    pub unreachable: Option<String>,
    /// OU → its active accounts (sub-OUs included).
    pub ous: HashMap<String, Vec<String>>,
}

impl Estate {
    pub fn add(&mut self, account: &str, region: &str, name: &str, tags: &[(&str, &str)]) {
        self.buckets
            .entry((account.into(), region.into()))
            .or_default()
            .push((name.into(), tags.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()));
    }
}

impl Directory for Estate {
    async fn buckets(&self, account: &str, region: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        if self.unreachable.as_deref() == Some(account) {
            return Err(PortError::Refused("AccessDenied: member role".into()));
        }
        Ok(self
            .buckets
            .get(&(account.into(), region.into()))
            .map(|b| b.iter().map(|(n, _)| n.clone()).filter(|n| n.starts_with(prefix)).collect())
            .unwrap_or_default())
    }
    async fn tags(&self, account: &str, region: &str, bucket: &str) -> Result<Tags, PortError> {
        Ok(self.buckets[&(account.into(), region.into())]
            .iter()
            .find(|(n, _)| n == bucket)
            .unwrap()
            .1
            .clone())
    }
    async fn ou_accounts(&self, ou: &str) -> Result<Vec<String>, PortError> {
        self.ous.get(ou).cloned().ok_or_else(|| PortError::Refused(format!("ChildNotFoundException: `{ou}`")))
    }
}

/// The discovery registry object, with its version for the conditional write.
#[derive(Debug, Default)]
pub struct RegistryObject(pub Mutex<Option<(String, u32)>>);

impl RegistryStore for RegistryObject {
    async fn load(&self) -> Result<Option<(String, String)>, PortError> {
        Ok(self.0.lock().unwrap().clone().map(|(t, v)| (t, v.to_string())))
    }
    async fn save(&self, text: &str, expected: Option<&str>) -> Result<bool, PortError> {
        let mut s = self.0.lock().unwrap();
        if s.as_ref().map(|(_, v)| v.to_string()).as_deref() != expected {
            return Ok(false);
        }
        let next = s.as_ref().map_or(1, |(_, v)| v + 1);
        *s = Some((text.to_owned(), next));
        Ok(true)
    }
}
