//! # canonical-policies
//!
//! The pure core of breakglass: is the bucket policy S3 holds right now *exactly* ClosedAccess,
//! *exactly* a lawful OpenAccess, or something else?
//!
//! - [`Policy::parse`]: strict reader of bucket-policy JSON (typed errors with JSON paths).
//! - [`Policy::canonical_json`] / [`Policy::hash`]: one byte string per equivalence class, and its SHA-256.
//! - [`Config`]: the protected buckets; [`BucketConfig::closed_policy`] and [`BucketConfig::render_open`]
//!   render the two templates.
//! - [`classify()`]: `closed` | `open` | `expired` | `drift`, by hash, never by Sid.
//! - [`diff::diff_nearest`]: a plain-English diff against the nearest template.
//! - [`eval::explain`]: allow / explicit deny / implicit deny / unknown, with the deciding statements.
//!
//! No AWS SDK and no async runtime here: this crate decides, the binaries act.

pub mod canonical;
pub mod classify;
pub mod config;
pub mod diff;
pub mod error;
pub mod eval;
pub mod json;
pub mod policy;
pub mod set;
pub mod template;

pub use canonical::{InvalidHash, PolicyHash};
pub use classify::{classify, classify_policy, Classification, DriftReason, State};
pub use config::{BucketConfig, Config, ConfigError, GrantError, HumanDuration};
pub use error::{PolicyError, Quoted, SyntaxReason};
pub use policy::{
    CiString, Clause, Conditions, Effect, Partition, Policy, Principal, PrincipalKind, Statement, Version,
};
pub use set::SortedSet;
pub use template::{format_expiry, parse_expiry, OpenGrant, RenderError, TemplateKind, OBJECT_READ_ACTIONS};
