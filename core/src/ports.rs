//! The ports: what the logic needs from AWS, as small traits. `breakglass-aws` implements them with
//! the SDK; tests implement them in memory or go through moto.

use std::future::Future;

use serde_json::Value;

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
pub trait PolicyStore: Sync {
    /// The policy text, or `None` when the bucket has no policy.
    fn get_policy(&self, bucket: &str) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    fn put_policy(&self, bucket: &str, policy: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Turns on all four public-access-block settings of the bucket.
    fn block_public_access(&self, bucket: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// One SNS message: `message` is the `MessageStructure=json` body (`default`, `email`).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub subject: String,
    pub default: Value,
    pub email: String,
    /// SNS message attributes (all strings), for subscription filter policies.
    pub attributes: Vec<(String, String)>,
}

impl Notification {
    /// The SNS `Message` for `MessageStructure=json`.
    pub fn message_json(&self) -> String {
        serde_json::json!({ "default": self.default.to_string(), "email": self.email }).to_string()
    }
}

/// Publishes notifications (SNS).
pub trait Publisher: Sync {
    /// Returns the message id.
    fn publish(&self, notification: &Notification) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// One of breakglass's own events for the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    pub detail_type: String,
    pub detail: Value,
}

/// Puts breakglass's own events on EventBridge.
pub trait EventBus: Sync {
    fn put(&self, event: &BusEvent) -> impl Future<Output = Result<(), PortError>> + Send;
}
