//! The CloudFormation/YAML reader the template proofs run the evaluator over, and the example
//! configuration they are deployed with. Shared with the e2e harness, which needs neither moto
//! nor the SDK for these.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_debug_implementations
)]

pub mod cfn;

use std::path::PathBuf;

/// The workspace root (template.yaml, organisation/, examples/).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example config (`examples/breakglass.toml`) as text.
pub fn config_text() -> String {
    std::fs::read_to_string(root().join("examples/breakglass.toml")).unwrap()
}

/// The example config, parsed.
pub fn config() -> canonical_policies::Config {
    canonical_policies::Config::from_toml(&config_text()).unwrap()
}
