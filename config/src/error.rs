//! What is wrong with a configuration: one lowercase line that names the table or bucket and field.

use canonical_policies::{Quoted, RenderError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid config: {0}")]
    Toml(String),
    /// A TOML error at a place in the text (1-based line and column, in characters).
    #[error("invalid config: {message} (line {line}, column {column})")]
    TomlAt { message: String, line: usize, column: usize },
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
    /// Where in the text the error is, when the parser knows: (line, column), 1-based.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            ConfigError::TomlAt { line, column, .. } => Some((*line, *column)),
            ConfigError::NotCompactable { line } => Some((*line, 1)),
            _ => None,
        }
    }

    /// The bucket the error is about, if it is about one.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            ConfigError::DuplicateBucket(bucket)
            | ConfigError::Missing { bucket, .. }
            | ConfigError::Invalid { bucket, .. }
            | ConfigError::Render { bucket, .. }
            | ConfigError::BucketInTwoAccounts { bucket, .. }
            | ConfigError::UnknownPlaceholder { bucket, .. } => Some(bucket),
            _ => None,
        }
    }

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
