//! # breakglass-aws
//!
//! The ports of `breakglass-core`, implemented with the AWS SDK for Rust, one adapter per file:
//! bucket policies and settings ([`S3Store`]), the audit trail with Object Lock ([`S3AuditLog`]),
//! notifications ([`SnsPublisher`]), breakglass's own events ([`EventBridgeBus`]), investigator
//! roles and subscriptions ([`AwsControlPlane`]), discovery ([`S3Directory`], [`S3Registry`]), the
//! sweep's queue ([`SqsSweepQueue`]), and the answer to CloudFormation custom resources
//! ([`HttpsResponder`], [`CloudFormationProvenance`]). Clients are built once per process
//! ([`Clients::load`]); `AWS_ENDPOINT_URL` or an explicit endpoint points them at moto in tests.
//! [`wiring`] composes them into each Lambda's function and the CLI's commands.

mod accounts;
mod audit_log;
mod clients;
mod config_object;
mod config_seal;
mod config_source;
mod control_plane;
mod directory;
mod errors;
mod eventbridge;
mod gate_client;
mod kms_mac;
mod organizations;
mod provenance;
mod registry;
mod responder;
mod s3_store;
mod sns;
mod sweep_queue;
pub mod wiring;

pub use accounts::{session_name, Accounts};
pub use audit_log::S3AuditLog;
pub use clients::Clients;
pub use config_object::ConfigObject;
pub use config_seal::{Checked, ConfigSeal};
pub use config_source::ConfigSource;
pub use control_plane::{url_decode, AwsControlPlane};
pub use directory::S3Directory;
pub use errors::{classify_error, error_chain};
pub use eventbridge::EventBridgeBus;
pub use gate_client::{GateAnswer, GateClient, GateSetupError};
pub use organizations::organisation_members;
pub use provenance::CloudFormationProvenance;
pub use registry::S3Registry;
pub use responder::{HttpsResponder, TlsSetupError};
pub use s3_store::S3Store;
pub use sns::SnsPublisher;
pub use sweep_queue::SqsSweepQueue;
