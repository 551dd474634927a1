//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use canonical_policies::json::{self, Json};
use std::collections::BTreeSet;

use canonical_policies::{BucketTemplates, OpenGrant, Partition, Policy, TemplateInputs};
use time::{Duration, OffsetDateTime};

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The templates of `acme-cloudtrail-logs` in `examples/breakglass.toml`, the config the README and
/// demo use (the bucket takes all of `[defaults]`). Read here from the TOML itself: the product
/// configuration's crate builds on this one, not the other way round.
pub fn example_bucket() -> BucketTemplates {
    BucketTemplates::new(example_inputs()).unwrap()
}

/// The template inputs of [`example_bucket`].
pub fn example_inputs() -> TemplateInputs {
    let text = std::fs::read_to_string(workspace_root().join("examples/breakglass.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let d = doc["defaults"].as_table().unwrap();
    let text_of = |key: &str| d[key].as_str().unwrap().to_owned();
    let list =
        |key: &str| d[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let hours = text_of("max_open_duration").strip_suffix('h').unwrap().parse().unwrap();
    let base_text = text_of("base_statements");
    let Json::Array(base) = json::parse(base_text.as_bytes()).unwrap() else { panic!() };
    TemplateInputs {
        bucket: "acme-cloudtrail-logs".to_owned(),
        partition: Partition::new(&text_of("partition")).unwrap(),
        account: text_of("account"),
        investigator_roles: list("investigator_roles"),
        automation_principals: list("automation_principals"),
        max_open_duration: Duration::hours(hours),
        base_statements: base.into_iter().map(Json::into_owned).collect(),
        service_reads: BTreeSet::new(),
    }
}

/// `bucket`'s OpenAccess for `reader`, opened at 12:00 on 2026-11-24 until 16:00.
pub fn open_for(bucket: &BucketTemplates, reader: &str) -> Policy {
    let grant =
        OpenGrant { readers: BTreeSet::from([reader.to_owned()]), expiry: at("2026-11-24T16:00:00Z") };
    bucket.render_open(&grant, at("2026-11-24T12:00:00Z")).unwrap()
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
