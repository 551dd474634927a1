//! # breakglass-config
//!
//! The breakglass configuration: which buckets are protected and what their two lawful policies are.
//!
//! One TOML file (see `examples/breakglass.toml`): a `[defaults]` table and one `[[bucket]]` table per
//! protected bucket; a bucket's own value wins over the default. Everything is validated and both
//! templates are rendered at load time, so a bad config fails before it can guard anything. The
//! templates themselves, classification and the diff are the policy crate's: [`BucketConfig`] hands
//! it the templates' inputs as plain values ([`canonical_policies::TemplateInputs`]).
//!
//! ```
//! let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/breakglass.toml"))?;
//! let config = breakglass_config::Config::from_toml(&text)?;
//! let bucket = config.bucket("acme-cloudtrail-logs").ok_or("no such bucket")?;
//! let verdict = canonical_policies::classify(bucket, Some(bucket.closed_policy().to_pretty_json().as_bytes()), time::OffsetDateTime::now_utc());
//! assert_eq!(verdict.state, canonical_policies::State::Closed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod audit;
mod bucket;
mod compact;
mod config;
mod discovery;
mod duration;
mod error;
mod investigator;
mod names;
mod organisation;
mod raw;
mod service_reads;

pub use audit::AuditConfig;
pub use bucket::{BucketConfig, TwoPerson};
pub use compact::compact;
pub use config::{bucket_line, bucket_lines, Config};
pub use discovery::{Discovered, Discovery};
pub use duration::parse_duration;
pub use error::ConfigError;
pub use investigator::{trust_hash, Investigator};
pub use names::{bucket_name_problem, is_bucket_name, is_region};
pub use organisation::{Account, OrgUnit, Organisation};
