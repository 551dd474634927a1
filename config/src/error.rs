//! What is wrong with a configuration: one lowercase line that names the table or bucket and field.

use canonical_policies::{Quoted, RenderError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid config: {0}")]
    Toml(String),
    #[error("config has no `[[bucket]]`")]
    NoBuckets,
    #[error("bucket {} is configured twice", Quoted(.0))]
    DuplicateBucket(String),
    #[error("bucket {}: missing `{field}` (set it in the bucket or in [defaults])", Quoted(.bucket))]
    Missing { bucket: String, field: &'static str },
    #[error("bucket {}: invalid `{field}` {}: {reason}", Quoted(.bucket), Quoted(.value))]
    Invalid { bucket: String, field: &'static str, value: String, reason: &'static str },
    #[error("bucket {}: {source}", Quoted(.bucket))]
    Render { bucket: String, source: RenderError },
    #[error("bucket {} is configured in account {} and in account {}", Quoted(.bucket), Quoted(.first), Quoted(.second))]
    BucketInTwoAccounts { bucket: String, first: String, second: String },
    #[error("account {} is listed twice in `[[account]]`", Quoted(.0))]
    DuplicateAccount(String),
    #[error("bucket {}: `{field}` {}: unknown placeholder {} (known: `{{{{account}}}}`, `{{{{partition}}}}`)", Quoted(.bucket), Quoted(.value), Quoted(.placeholder))]
    UnknownPlaceholder { bucket: String, field: &'static str, value: String, placeholder: String },
    #[error("{table}: invalid `{field}` {}: {reason}", Quoted(.value))]
    Organisation { table: &'static str, field: &'static str, value: String, reason: String },
    #[error("the config cannot be made compact without changing it (near line {line}): deploy it as it is, or as a file or an S3 object")]
    NotCompactable { line: usize },
}

impl ConfigError {
    /// [`ConfigError::Invalid`] of `bucket` (or of a table such as `[audit]`).
    pub(crate) fn invalid(
        bucket: &str,
        field: &'static str,
        value: &str,
        reason: &'static str,
    ) -> ConfigError {
        ConfigError::Invalid { bucket: bucket.to_owned(), field, value: value.to_owned(), reason }
    }

    /// [`ConfigError::Organisation`]: a bad value in one of the organisation-mode tables.
    pub(crate) fn table(table: &'static str, field: &'static str, value: &str, reason: &str) -> ConfigError {
        ConfigError::Organisation { table, field, value: value.to_owned(), reason: reason.to_owned() }
    }
}
