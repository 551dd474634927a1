//! The ports: what the logic needs from AWS, as small traits. `breakglass-aws` implements them with
//! the SDK; tests implement them in memory or go through moto.

use std::future::Future;

use serde_json::Value;
use time::OffsetDateTime;

use crate::events::BusEvent;

/// How a call to AWS failed. The distinction drives retries: Lambda retries an invocation that
/// returns an error, which is right for throttling and 5xx and wrong for a request S3 will never take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Throttling, 5xx, timeouts, connection errors: trying again may work.
    #[error("retryable aws error: {0}")]
    Retryable(String),
    /// The request itself is refused (MalformedPolicy, AccessDenied, …): trying again will not help.
    #[error("aws refused the request: {0}")]
    Refused(String),
}

impl PortError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Retryable(_))
    }
}

/// Bucket policies and public-access blocks of S3 buckets.
///
/// Routing: a bucket is named, and the implementation acts in the account and Region the config
/// gives it (`BucketConfig::account`, `region`), with the owner expected there. Single-account mode
/// is the case of one account reached with the function's own credentials; organisation mode
/// reaches each logging account through its member role. Core never branches on the mode: an event
/// from the wrong account is stopped before any port is called (`inbound::route`).
pub trait PolicyStore: Sync {
    /// The policy text, or `None` when the bucket has no policy.
    fn get_policy(&self, bucket: &str) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    fn put_policy(&self, bucket: &str, policy: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Turns on all four public-access-block settings of the bucket.
    fn block_public_access(&self, bucket: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The heartbeat's calls on a protected bucket (its client names itself in the user agent, so
/// that CloudTrail's record tells the heartbeat from the enforcer's own repairs).
pub trait Canary: Sync {
    /// Puts `policy` (the bucket's live ClosedAccess, byte for byte) back on `bucket`.
    fn beat_policy(&self, bucket: &str, policy: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Asks for object `key` of `bucket`: `Ok(true)` when S3 refused it with `AccessDenied`, as the
    /// heartbeat needs, `Ok(false)` when it answered anything else.
    fn refused_read(&self, bucket: &str, key: &str) -> impl Future<Output = Result<bool, PortError>> + Send;
}

/// One SNS message: `message` is the `MessageStructure=json` body (`default`, `email`).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub subject: String,
    pub default: Value,
    pub email: String,
    /// SNS message attributes (all strings), for subscription filter policies.
    pub attributes: Vec<(String, String)>,
    /// Also to the alarm topic: the call attacked the mail channel itself (its key, its
    /// subscriptions), so the notification topic may no longer deliver.
    pub second_channel: bool,
}

/// The SNS `Message` for `MessageStructure=json`: the document for machines (a string, as SNS wants
/// it) and the mail's text for email subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Message {
    pub default: String,
    pub email: String,
}

impl Notification {
    pub fn message(&self) -> Message {
        Message { default: self.default.to_string(), email: self.email.clone() }
    }

    /// [`Notification::message`] as the text SNS is sent.
    pub fn message_json(&self) -> String {
        // Two strings always serialise.
        serde_json::to_string(&self.message()).unwrap_or_default()
    }
}

/// Publishes notifications (SNS).
pub trait Publisher: Sync {
    /// Returns the message id.
    fn publish(&self, notification: &Notification) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// Puts breakglass's own events on EventBridge.
pub trait EventBus: Sync {
    fn put(&self, event: &BusEvent) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// One lifecycle rule, as far as the enforcer judges it: does it destroy logs sooner than the
/// retention the config asks for?
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleRule {
    pub id: Option<String>,
    pub enabled: bool,
    /// `Expiration.Days`: current objects expire (become delete markers) after this many days.
    pub expiration_days: Option<i32>,
    /// `Expiration.Date`: every current object expires from that day on.
    pub expiration_date: Option<String>,
    /// `NoncurrentVersionExpiration.NoncurrentDays`: old versions are deleted for good.
    pub noncurrent_days: Option<i32>,
}

/// The bucket settings besides the policy that keep the logs from being destroyed or copied out.
pub trait BucketSettings: Sync {
    /// `Enabled`, `Suspended`, or `None` when versioning was never turned on.
    fn get_versioning(&self, bucket: &str) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    fn enable_versioning(&self, bucket: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// The lifecycle rules; empty when there is no lifecycle configuration.
    fn get_lifecycle(
        &self,
        bucket: &str,
    ) -> impl Future<Output = Result<Vec<LifecycleRule>, PortError>> + Send;
    /// Removes the whole lifecycle configuration: nothing expires until a lawful one is put back.
    fn delete_lifecycle(&self, bucket: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// The replication destinations (bucket ARNs); empty when the bucket does not replicate.
    fn get_replication(&self, bucket: &str) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
    fn delete_replication(&self, bucket: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Object ownership `BucketOwnerEnforced`: ACLs off.
    fn enforce_ownership(&self, bucket: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// The bucket's tags; empty when it has none.
    fn get_tags(&self, bucket: &str)
        -> impl Future<Output = Result<Vec<(String, String)>, PortError>> + Send;
    /// Replaces the bucket's whole tag set with `tags` (S3 has no call that adds one tag).
    fn put_tags(
        &self,
        bucket: &str,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// One subscription of a topic, as SNS lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `PendingConfirmation` until the endpoint confirms.
    pub arn: String,
    pub protocol: String,
    pub endpoint: String,
    /// The filter policy (JSON text), if any.
    pub filter_policy: Option<String>,
    /// What the filter policy applies to (`FilterPolicyScope`): `MessageAttributes` (also when
    /// `None`, SNS's default) or `MessageBody`.
    pub filter_scope: Option<String>,
}

/// What breakglass watches outside the buckets: the investigator roles' trust, the subscriptions of
/// its topics, and the second channel (the alarm topic) for when the first one is what was attacked.
pub trait ControlPlane: Sync {
    /// The trust policy (JSON, URL-decoded) of the role `role_arn`, in the role's own account; `None`
    /// when the role does not exist.
    fn get_trust(&self, role_arn: &str) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    fn put_trust(&self, role_arn: &str, policy: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    fn subscriptions(
        &self,
        topic_arn: &str,
    ) -> impl Future<Output = Result<Vec<Subscription>, PortError>> + Send;
    /// Publishes to the alarm topic; returns the message id.
    fn alarm(&self, notification: &Notification) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// Where a CloudFormation stack came from, from the tags Service Catalog puts on every stack it
/// provisions. Tag keys starting with `aws:` are reserved: only AWS sets them, so a stack made by
/// hand cannot claim to come from the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provisioning {
    /// `aws:servicecatalog:productArn` (`arn:aws:catalog:<region>:<account>:product/prod-…`).
    pub product_arn: Option<String>,
    /// `aws:servicecatalog:provisionedProductArn`.
    pub provisioned_product_arn: Option<String>,
    /// `aws:servicecatalog:provisioningPrincipalArn`: who asked (a user or an assumed-role session).
    pub principal_arn: Option<String>,
    /// The stack's own parameters (key to value): what was provisioned, set only by provisioning
    /// or updating the product, never by whoever sends the custom-resource event.
    pub parameters: std::collections::BTreeMap<String, String>,
}

/// Reads a stack's provenance (CloudFormation `DescribeStacks`).
pub trait Provenance: Sync {
    /// `None` when there is no such stack.
    fn provisioning(
        &self,
        stack_id: &str,
    ) -> impl Future<Output = Result<Option<Provisioning>, PortError>> + Send;
}

/// What a write to the audit trail did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Written,
    /// The same record is already there (a retried invocation): nothing was written.
    AlreadyThere,
}

/// Appends records to the audit trail (S3 with Object Lock). Implementations must never overwrite.
pub trait AuditLog: Sync {
    /// Writes `body` under `key` (already including the prefix), locked until `retain_until`.
    fn append(
        &self,
        key: &str,
        body: &str,
        retain_until: OffsetDateTime,
    ) -> impl Future<Output = Result<Appended, PortError>> + Send;
}

/// Sends the answer to CloudFormation: an HTTP PUT of `body` to the pre-signed `url`.
pub trait Responder: Sync {
    fn respond(&self, url: &str, body: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Reads the audit trail back: the recorder's digests and reports. Records whose signature does not
/// verify are never returned (the implementation logs them).
pub trait AuditReader: Sync {
    /// The keys under `prefix` (already including the trail's prefix) after `start_after`, in key order.
    fn keys(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
    /// The record under `key`, `None` when there is none or it is not the notifier's or recorder's.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
}

/// A borrowed reader reads the same trail: one trail written and read back in the same function.
impl<T: AuditReader> AuditReader for &T {
    fn keys(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send {
        (**self).keys(prefix, start_after)
    }
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<String>, PortError>> + Send {
        (**self).get(key)
    }
}

/// A bucket's audit records (its history) from `since` on, for the rules that depend on what was
/// recorded: the two-person rule's approvals. Bounded by time because the enforcer asks on every
/// event and sweep, and a bucket's history only grows.
pub trait BucketRecords: Sync {
    fn records(
        &self,
        bucket: &breakglass_config::BucketConfig,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Value>, PortError>> + Send;
}

/// The records of a place of the audit trail that is no bucket (`_config`: the gate's config
/// proposals and decisions), from `since` on.
pub trait PlaceRecords: Sync {
    fn place_records(
        &self,
        place: &str,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Value>, PortError>> + Send;
}

/// The config object the functions read in organisation mode (S3): read with its ETag, and written
/// only if it is still what was read (the gate, after two people agreed).
pub trait ConfigStore: Sync {
    /// `s3://bucket/key`, as mails and records name it.
    fn location(&self) -> String;
    /// The text and its ETag; `None` when there is no object yet.
    fn read(&self) -> impl Future<Output = Result<Option<(String, Option<String>)>, PortError>> + Send;
    /// Writes `text` if the object's ETag is still `expected` (`None`: no object yet).
    fn write(&self, text: &str, expected: Option<&str>)
        -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The sweep's queue (SQS): the planning invocation sends one message per shard, the enforcer's
/// event source mapping hands them back, a few at a time.
pub trait SweepQueue: Sync {
    /// Sends `bodies` (in batches as the queue allows), each delivered after `delay_seconds`.
    fn send(
        &self,
        bodies: &[String],
        delay_seconds: u32,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The buckets of the logging accounts, for discovery (S3 `ListBuckets` and `GetBucketTagging` in
/// each account, through its member role).
pub trait Directory: Sync {
    /// Every bucket of `account` in `region` whose name starts with `prefix`, all pages.
    fn buckets(
        &self,
        account: &str,
        region: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
    /// The bucket's tags; empty when it has none.
    fn tags(
        &self,
        account: &str,
        region: &str,
        bucket: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, PortError>> + Send;
    /// The active accounts of the organizational unit `ou` and of every OU below it (AWS
    /// Organizations, as the management account or its delegated administrator).
    fn ou_accounts(&self, ou: &str) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
}

/// Where the registry of discovered buckets is kept (an S3 object beside the config).
pub trait RegistryStore: Sync {
    /// The registry's text and version tag, or `None` before the first discovery.
    fn load(&self) -> impl Future<Output = Result<Option<(String, String)>, PortError>> + Send;
    /// Writes `text` if the object is still the version `expected` (`None`: there is none yet);
    /// `Ok(false)` when another writer came first.
    fn save(
        &self,
        text: &str,
        expected: Option<&str>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
}
