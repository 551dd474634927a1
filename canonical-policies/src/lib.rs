//! # canonical-policies
//!
//! The pure core of breakglass: is the bucket policy S3 holds right now *exactly* ClosedAccess,
//! *exactly* a lawful OpenAccess, or something else?
//!
//! - [`Policy::parse`]: strict reader of bucket-policy JSON (typed errors with JSON paths).
//! - [`Policy::canonical_json`] / [`Policy::hash`]: one byte string per equivalence class, and its SHA-256.
//! - [`BucketTemplates`]: a bucket's two templates, rendered from plain [`TemplateInputs`] (the
//!   product configuration, crate `breakglass-config`, builds them); [`BucketTemplates::render_open`].
//! - [`classify()`]: `closed` | `open` | `expired` | `drift`, by hash, never by Sid.
//! - [`diff_nearest()`]: a plain-English diff against the nearest template.
//! - [`explain()`]: allow / allow if an identity policy allows / explicit deny / implicit deny /
//!   unknown, with the deciding statements, as the IAM user guide documents evaluation.
//!
//! No AWS SDK and no async runtime here: this crate decides, the binaries act.
//!
//! ```
//! use canonical_policies::Policy;
//!
//! // What was put, and what GetBucketPolicy returns for it: the same policy to AWS.
//! let put = br#"{"Version": "2012-10-17", "Statement": [{"Sid": "", "Effect": "Deny",
//!     "Principal": {"AWS": ["123456789012"]}, "Action": ["s3:GetObject"],
//!     "Resource": ["arn:aws:s3:::logs/*"], "Condition": {"Bool": {"aws:SecureTransport": false}}}]}"#;
//! let got = br#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}"#;
//! assert_eq!(Policy::parse(put)?.hash(), Policy::parse(got)?.hash());
//!
//! // A duplicate key is an error, with the JSON path where it is.
//! let twice = br#"{"Statement":{"Effect":"Allow","Effect":"Deny"}}"#;
//! assert_eq!(Policy::parse(twice).unwrap_err().to_string(), "duplicate key `Effect` at $.Statement");
//! # Ok::<(), canonical_policies::PolicyError>(())
//! ```

// Private modules behind one export list: one path per name, and the modules can move without
// moving their callers. `json` is a namespace of its own (`json::parse`, `json::Json`).
mod arn;
mod canonical;
mod classify;
mod diff;
mod error;
mod eval;
mod grant;
pub mod json;
mod policy;
mod service;
mod set;
mod template;

pub use arn::{Arn, InvalidArn};
pub use canonical::{InvalidHash, PolicyHash};
pub use classify::{classify, classify_policy, classify_text, Classification, DriftReason, State};
pub use diff::{describe, diff_nearest, Diff, MAX_LINES as MAX_DIFF_LINES};
pub use error::{hides_or_moves_text, printable, PolicyError, Quoted, SyntaxReason};
pub use eval::{explain, glob, Caller, Decision, Explanation, InvalidCaller, InvalidRequest, Request};
pub use grant::{BucketTemplates, GrantError, HumanDuration, TemplateInputs};
pub use policy::{
    is_account_id, is_action_pattern, is_arn, CiString, Clause, Conditions, Effect, Partition, Policy,
    Principal, PrincipalKind, Statement, Version,
};
pub use service::{
    is_reserved_sid, read_services, service_read_denies, ServiceRead, ServiceSource, SERVICE_NAME_KEY,
    SERVICE_READS_SID,
};
pub use set::SortedSet;
pub use template::{format_expiry, OpenGrant, RenderError, TemplateKind, OBJECT_READ_ACTIONS, RESERVED_SIDS};
