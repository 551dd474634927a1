//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use canonical_policies::{BucketConfig, Config};
use time::OffsetDateTime;

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `examples/breakglass.toml`, the config the README and demo use.
pub fn example_config() -> Config {
    let text = std::fs::read_to_string(workspace_root().join("examples/breakglass.toml")).unwrap();
    Config::from_toml(&text).unwrap()
}

pub fn example_bucket() -> BucketConfig {
    example_config().bucket("acme-cloudtrail-logs").unwrap().clone()
}

pub fn at(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

/// The shared corpus (`../shared/corpus` beside the repo, or `$BREAKGLASS_CORPUS`). Never copied into
/// the repo. Absent: `None` with a printed notice, except under `CI=true`, where absence fails.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BREAKGLASS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/corpus"));
    if dir.join("policies").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("corpus not found at {} and CI=true: the corpus is required in CI", dir.display());
    }
    eprintln!(
        "notice: corpus not found at {}; skipping corpus checks (set BREAKGLASS_CORPUS)",
        dir.display()
    );
    None
}
