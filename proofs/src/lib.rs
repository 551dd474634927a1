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

use serde_json::{json, Value};

/// The workspace root (template.yaml, organisation/, examples/).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared corpus (`$BREAKGLASS_CORPUS`, else `../shared/corpus` beside the repo), never copied
/// into the repo. Absent: `None` with a notice, except under `CI=true`, where absence fails.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BREAKGLASS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpus"));
    if dir.join("policies").is_dir() && dir.join("events").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("corpus not found at {} and CI=true", dir.display());
    }
    eprintln!("notice: corpus not found at {}; skipping corpus inputs", dir.display());
    None
}

/// The example config (`examples/breakglass.toml`) as text.
pub fn config_text() -> String {
    std::fs::read_to_string(root().join("examples/breakglass.toml")).unwrap()
}

/// The example config, parsed.
pub fn config() -> breakglass_config::Config {
    breakglass_config::Config::from_toml(&config_text()).unwrap()
}

/// template.yaml as the single-account stack in `account` and `region`, protecting the example's
/// buckets, with every optional part on (so that every role is proven), plus the `extra` parameters.
pub fn single_account_stack(account: &str, region: &str, extra: &[(&str, Value)]) -> cfn::Template {
    let buckets: Vec<String> = config().buckets.iter().map(|b| b.name.clone()).collect();
    let mut params = vec![
        ("ProtectedBuckets", json!(buckets)),
        ("OrganizationId", json!("")),
        ("ProductTemplateBaseUrl", json!("https://example.com/products/")),
        ("CreateTrail", json!("true")),
        ("OperatorPrincipalArns", json!([format!("arn:aws:iam::{account}:role/LogTeam")])),
        ("InvestigatorRolePath", json!("/investigations/")),
        ("CatalogPrincipalArn", json!(format!("arn:aws:iam::{account}:role/LogTeam"))),
    ];
    params.extend(extra.iter().cloned());
    cfn::Template::load(&root().join("template.yaml"), account, region, &params)
}
