//! Reading inputs: files or standard input, bounded, with errors that say which input failed.

use std::io::Read;
use std::path::{Path, PathBuf};

use breakglass_config::{BucketConfig, Config, ConfigError};
use breakglass_core::ports::PortError;
use canonical_policies::json::MAX_INPUT_BYTES;
use canonical_policies::Quoted;
use time::OffsetDateTime;

use crate::exit::Exit;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read {}: {}", Quoted(&.path.display().to_string()), lowercase_first(&.source.to_string()))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {}", Quoted(&.path.display().to_string()), lowercase_first(&.source.to_string()))]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{} is over the {limit}-byte input limit", Quoted(&.path.display().to_string()))]
    TooLarge { path: PathBuf, limit: usize },
    #[error("{}: {source}", Quoted(&.path.display().to_string()))]
    Config { path: PathBuf, source: Box<ConfigError> },
    #[error("bucket {} is not in the config (configured: {known})", Quoted(.name))]
    UnknownBucket { name: String, known: String },
    #[error("the config has {count} buckets; choose one with --bucket ({known})")]
    ChooseBucket { count: usize, known: String },
    #[error("invalid time {}: expected rfc 3339, e.g. `2026-11-24T18:00:00Z`", Quoted(.0))]
    Time(String),
    #[error("time {} is out of range: a policy's times end at year 9999 in UTC", Quoted(.0))]
    TimeOutOfRange(String),
    #[error("invalid --context {}: expected key=value", Quoted(.0))]
    Context(String),
    #[error("invalid partition {}: expected `aws`, `aws-cn`, `aws-us-gov`, ...", Quoted(.0))]
    Partition(String),
    #[error("{0}")]
    Input(String),
    /// AWS trouble worth retrying (throttling, 5xx, timeouts, the network).
    #[error("{0}")]
    Aws(String),
    /// AWS refused, or the request could not be made (credentials, Region, endpoint, a missing
    /// bucket): retrying unchanged will not help.
    #[error("{0}")]
    AwsRefused(String),
}

impl CliError {
    /// A port's error under `context`, kept in its kind.
    pub fn port(context: impl std::fmt::Display, e: &PortError) -> CliError {
        let text = format!("{context}: {e}");
        if e.is_retryable() {
            CliError::Aws(text)
        } else {
            CliError::AwsRefused(text)
        }
    }

    /// The exit code of the kind (`crate::exit`).
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Aws(_) => Exit::Retry,
            _ => Exit::Refused,
        }
    }
}

/// io errors read "No such file or directory"; messages here start lowercase.
fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// Reads a file, or standard input for `-`, refusing more than the parser would ever accept.
pub fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    let limit = MAX_INPUT_BYTES;
    let mut buf = Vec::new();
    let err = |source| CliError::Read { path: path.to_owned(), source };
    // Read one byte past the limit to tell "exactly at" from "over".
    let take = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    if path == Path::new("-") {
        std::io::stdin().lock().take(take).read_to_end(&mut buf).map_err(err)?;
    } else {
        std::fs::File::open(path).and_then(|f| f.take(take).read_to_end(&mut buf)).map_err(err)?;
    }
    if buf.len() > limit {
        return Err(CliError::TooLarge { path: path.to_owned(), limit });
    }
    Ok(buf)
}

pub fn load_config(path: &Path) -> Result<Config, CliError> {
    let bytes = read_input(path)?;
    let text = String::from_utf8(bytes).map_err(|_| CliError::Config {
        path: path.to_owned(),
        source: Box::new(ConfigError::Toml("not valid utf-8".into())),
    })?;
    Config::from_toml(&text).map_err(|e| CliError::Config { path: path.to_owned(), source: Box::new(e) })
}

/// The bucket named by `--bucket`, or the only one.
pub fn choose_bucket<'c>(config: &'c Config, name: Option<&str>) -> Result<&'c BucketConfig, CliError> {
    let known = || config.buckets.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(", ");
    match (name, config.buckets.as_slice()) {
        (Some(name), _) => config
            .bucket(name)
            .ok_or_else(|| CliError::UnknownBucket { name: name.to_owned(), known: known() }),
        (None, [only]) => Ok(only),
        (None, many) => Err(CliError::ChooseBucket { count: many.len(), known: known() }),
    }
}

/// `--at`/`--until`: RFC 3339, cut to whole seconds (policies carry seconds); default now.
pub fn time_or_now(s: Option<&str>) -> Result<OffsetDateTime, CliError> {
    let t = match s {
        // In UTC, as policies write it; a time whose UTC year leaves four digits is refused.
        Some(s) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| CliError::Time(s.to_owned()))?
            .checked_to_offset(time::UtcOffset::UTC)
            .ok_or_else(|| CliError::TimeOutOfRange(s.to_owned()))?,
        None => OffsetDateTime::now_utc(),
    };
    t.replace_nanosecond(0).map_err(|_| CliError::Time(s.unwrap_or_default().to_owned()))
}
