//! # breakglass-core
//!
//! What the Lambdas and the CLI do, without the AWS SDK. AWS is reached only through the small
//! traits in [`ports`], which `breakglass-aws` implements with the SDK and tests implement against
//! moto. The modules live in rooms by concern; a room imports only the rooms listed before it
//! (`tests/core/layers.rs` checks this and that no modules import each other in a circle):
//!
//! | room | what | used by |
//! |---|---|---|
//! | ground: [`time`], [`guarded`], [`events`], [`notice`], [`metrics`], [`command`], [`ports`] | the vocabulary: times, the guarded calls, the bus events, the notification document, the metrics' format and the printed command lines (leaves), the ports | all |
//! | [`inbound`] | reading what arrives: CloudTrail events, object reads, the account/region routing check | enforcer, notifier, recorder |
//! | [`organisation`] | the organisation's SCP and its templates | CLI |
//! | [`trail`] | the audit trail: written, read back as history (tamper evidence included), the recorder's reads and the window reports | all four Lambdas, CLI |
//! | [`access`] | opening and closing: operate, the two-person rule, the catalog, config pushes | catalog, enforcer, CLI |
//! | [`guard`] | keeping the buckets closed: the enforcer, the sentinel, the sweep, discovery | enforcer, CLI |
//! | [`notify`] | the mails and the JSON message | notifier |
//! | [`runtime`] | the Lambdas' settings (the one reader of the environment), the config in force, the pipelines, mail pacing | the four Lambdas, CLI |

/// The release every crate of the workspace shares (`[workspace.package] version`): named in every
/// audit record, every log line of the functions and the stacks' `Version` output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod command;
pub mod events;
pub mod guarded;
pub mod metrics;
pub mod notice;
pub mod ports;
pub mod time;

pub mod inbound;

pub mod organisation;

pub mod trail;

pub mod access;

pub mod guard;

pub mod notify;

pub mod runtime;

// The ports faked for the tests of this crate and of its callers (`features = ["test-util"]`).
#[cfg(feature = "test-util")]
pub mod testing;
