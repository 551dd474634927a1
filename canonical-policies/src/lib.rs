//! # canonical-policies
//!
//! The pure core of breakglass: is the bucket policy S3 holds right now *exactly* ClosedAccess,
//! *exactly* a lawful OpenAccess, or something else?
//!
//! - [`Policy::parse`]: strict reader of bucket-policy JSON (typed errors with JSON paths).
//! - [`Policy::canonical_json`] / [`Policy::hash`]: one byte string per equivalence class, and its SHA-256.
//!
//! No AWS SDK and no async runtime here: this crate decides, the binaries act.

pub mod canonical;
pub mod error;
pub mod json;
pub mod policy;

pub use canonical::{InvalidHash, PolicyHash};
pub use error::{PolicyError, Quoted, SyntaxReason};
pub use policy::{
    CiString, Clause, Conditions, Effect, Partition, Policy, Principal, PrincipalKind, Statement, Version,
};
