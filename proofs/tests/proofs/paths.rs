//! The docs, the README and the templates name source files (`core/src/guarded.rs`, the test that
//! proves a row of the threat model); a file that moved leaves them pointing at nothing. Every such
//! path they name must exist.

use std::collections::BTreeSet;
use std::path::Path;

use proofs::root;

/// The crates whose `src/` and `tests/` paths the prose names.
const CRATES: &[&str] = &[
    "canonical-policies",
    "config",
    "core",
    "aws",
    "enforcer",
    "notifier",
    "recorder",
    "catalog",
    "breakglass",
    "tests",
    "proofs",
];

/// `core/src/guard/sweep.rs` and its like, as written in `text`.
fn source_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for krate in CRATES {
        for dir in ["src", "tests"] {
            let prefix = format!("{krate}/{dir}/");
            for (at, _) in text.match_indices(&prefix) {
                // Only where the path starts a word: `config/src/` is not the tail of `breakglass-config/src/`.
                let before = text.get(..at).and_then(|t| t.chars().next_back());
                if before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_') {
                    continue;
                }
                let path: String = text
                    .get(at..)
                    .unwrap_or_default()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || matches!(c, '/' | '_' | '-' | '.'))
                    .collect();
                if let Some(file) = path.find(".rs").and_then(|end| path.get(..end + 3)) {
                    found.insert(file.to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn every_source_path_the_docs_and_templates_name_exists() {
    let root = root();
    let mut files = vec![
        root.join("README.md"),
        root.join("template.yaml"),
        root.join("deployment-role.yaml"),
        root.join("organisation/member.yaml"),
    ];
    for dir in ["docs", "catalog/products"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md" || e == "yaml") {
                files.push(path);
            }
        }
    }
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for path in source_paths(&text) {
            if !Path::new(&root).join(&path).exists() {
                missing.push(format!("{} names {path}", file.strip_prefix(&root).unwrap_or(file).display()));
            }
        }
    }
    assert!(missing.is_empty(), "paths that do not exist (moved? update the text):\n{}", missing.join("\n"));
}

#[test]
fn the_path_reader_finds_paths_and_only_whole_ones() {
    let found =
        source_paths("see `core/src/guard/sweep.rs` and tests/tests/e2e/main.rs, not x-core/src/a.rs");
    assert_eq!(
        found,
        BTreeSet::from(["core/src/guard/sweep.rs".to_owned(), "tests/tests/e2e/main.rs".to_owned()])
    );
}
