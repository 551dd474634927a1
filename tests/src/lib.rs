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

mod chaos;
mod cli;
mod clients;
mod events;
mod forwarding;
mod gate_url;
mod iam;
mod moto;
mod provision;
mod proxy;
mod runtime_api;
mod stack;

pub use chaos::*;
pub use cli::*;
pub use clients::*;
pub use events::*;
pub use forwarding::*;
pub use gate_url::{url_event, GateUrl};
pub use iam::{call_of, used_dir, Call, Deployment, IamProxy, CALLS};
pub use moto::*;
pub use proofs::{config, config_text, corpus_dir, root};
pub use provision::*;
pub use proxy::*;
pub use runtime_api::*;
pub use stack::record_batch;
