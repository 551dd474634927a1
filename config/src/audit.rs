//! The audit trail's location (`[audit]`).

use time::Duration;

use crate::error::ConfigError;
use crate::names::bucket_name_problem;
use crate::raw::RawAudit;

/// Where the notifier writes the audit trail: an S3 bucket with Object Lock, under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    pub bucket: String,
    /// Empty or ending in `/`.
    pub prefix: String,
    /// How long each record is locked (compliance mode: nobody, root included, can delete it sooner).
    pub retain: Duration,
    /// The KMS HMAC key (ID, ARN or alias) the notifier signs every record with and `history`
    /// verifies them with: a record that anyone else wrote shows as forged.
    pub mac_key: Option<String>,
}

impl AuditConfig {
    /// Default retention: seven years, a common period for security audit evidence.
    pub const DEFAULT_RETAIN_DAYS: u32 = 2557;

    /// The trail in `bucket` (a deployment's own, e.g. from the stack), with the prefix and retention
    /// of `base` (the config's `[audit]`) or the defaults.
    pub fn for_bucket(bucket: &str, base: Option<&AuditConfig>) -> Result<AuditConfig, ConfigError> {
        let mut a = AuditConfig::new(bucket, "breakglass/", AuditConfig::DEFAULT_RETAIN_DAYS)?;
        if let Some(base) = base {
            a.prefix.clone_from(&base.prefix);
            a.retain = base.retain;
            a.mac_key.clone_from(&base.mac_key);
        }
        Ok(a)
    }

    /// Checks bucket name and prefix; `prefix` gets a trailing `/` when it has none.
    pub fn new(bucket: &str, prefix: &str, retain_days: u32) -> Result<AuditConfig, ConfigError> {
        let invalid = |field, value: &str, reason| ConfigError::invalid("[audit]", field, value, reason);
        if let Some(why) = bucket_name_problem(bucket) {
            return Err(invalid("bucket", bucket, why));
        }
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
        if prefix.len() > 200
            || !prefix.chars().all(ok_char)
            || prefix.starts_with('/')
            || prefix.contains("//")
        {
            return Err(invalid("prefix", prefix, "expected letters, digits, `-_./`, not starting with `/`"));
        }
        if !(1..=36_500).contains(&retain_days) {
            return Err(invalid("retain_days", &retain_days.to_string(), "expected 1 to 36500"));
        }
        let mut prefix = prefix.to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(AuditConfig {
            bucket: bucket.to_owned(),
            prefix,
            retain: Duration::days(i64::from(retain_days)),
            mac_key: None,
        })
    }

    /// With `key` as the records' KMS HMAC key: a key ID, key ARN, alias name or alias ARN.
    pub fn with_mac_key(mut self, key: &str) -> Result<AuditConfig, ConfigError> {
        let ok = !key.is_empty() && key.len() <= 2048 && !key.contains(char::is_whitespace);
        if !ok {
            return Err(ConfigError::invalid(
                "[audit]",
                "mac_key",
                key,
                "expected a kms key id, key arn or alias",
            ));
        }
        self.mac_key = Some(key.to_owned());
        Ok(self)
    }

    /// `[audit]` as written: defaults filled in, then checked.
    pub(crate) fn from_raw(a: &RawAudit) -> Result<AuditConfig, ConfigError> {
        let audit = AuditConfig::new(
            &a.bucket,
            a.prefix.as_deref().unwrap_or("breakglass/"),
            a.retain_days.unwrap_or(AuditConfig::DEFAULT_RETAIN_DAYS),
        )?;
        match &a.mac_key {
            Some(k) => audit.with_mac_key(k),
            None => Ok(audit),
        }
    }
}
