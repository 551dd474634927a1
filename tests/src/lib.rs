//! Harness for the end-to-end tests: moto as the local AWS (started on a free loopback port,
//! stopped on drop), SDK clients against it, a Lambda Runtime API server that runs the real
//! `enforcer` and `notifier` binaries, provisioning of what template.yaml provisions, and
//! CloudTrail-shaped events for the S3 calls the tests make (moto's S3 emits none).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_debug_implementations
)]

mod cli;
mod clients;
mod events;
mod moto;
mod provision;
mod proxy;
mod runtime_api;
mod stack;

pub use cli::*;
pub use clients::*;
pub use events::*;
pub use moto::*;
pub use proofs::{config, config_text, root};
pub use provision::*;
pub use proxy::*;
pub use runtime_api::*;

pub const REGION: &str = "eu-central-1";
/// The Service Catalog products of the example deployment, and who may provision them.
pub const OPEN_PRODUCT: &str = "prod-openlogaccess1";
pub const CLOSE_PRODUCT: &str = "prod-closelogaccess";
pub const REQUEST_PRODUCT: &str = "prod-requestlogacce";
pub const CATALOG_PRINCIPAL: &str = "arn:aws:iam::111122223333:role/LogTeam";
/// A session of [`CATALOG_PRINCIPAL`], as Service Catalog records the provisioning principal.
pub const OPERATOR_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/LogTeam/alice@example.com";
pub const ACCOUNT: &str = "111122223333";
