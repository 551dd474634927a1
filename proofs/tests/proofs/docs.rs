//! Facts the docs repeat, tied to their sources: the README's "Deploy in N commands" is the number
//! of numbered commands of docs/deploy.md's single-account section, and the runbook's alarm table
//! names exactly the alarms template.yaml creates.

#![allow(clippy::string_slice)] // the indices are those of ASCII headings found in the text; a panic fails the test

use std::collections::BTreeSet;

use proofs::root;

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

/// The text of the section that starts with the heading line `heading`, up to the next heading of
/// the same or a higher level.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("no section {heading}")) + 1;
    let level = heading.chars().take_while(|c| *c == '#').count();
    let body = &text[start + heading.len()..];
    let end = body
        .match_indices("\n#")
        .find(|(at, _)| body[at + 1..].chars().take_while(|c| *c == '#').count() <= level)
        .map_or(body.len(), |(at, _)| at);
    &body[..end]
}

/// The numbered steps of a section (`1. `, `2. `, … at the start of a line), as their numbers.
fn steps(text: &str) -> Vec<usize> {
    text.lines().filter_map(|l| l.split_once(". ").and_then(|(n, _)| n.parse().ok())).collect()
}

#[test]
fn the_readme_counts_the_commands_of_the_single_account_deployment() {
    let readme = read("README.md");
    let heading =
        readme.lines().find(|l| l.starts_with("## Deploy in ")).expect("README: ## Deploy in N commands");
    let n: usize = heading.trim_start_matches("## Deploy in ").trim_end_matches(" commands").parse().unwrap();
    let deploy = read("docs/deploy.md");
    let single = section(&deploy, "## Single account");
    let numbered = steps(single);
    assert_eq!(numbered, (1..=n).collect::<Vec<_>>(), "docs/deploy.md's single-account steps");
    assert_eq!(steps(section(&readme, heading)), numbered, "README's summary");
    // One command per step: each step has one `sh` block with one command line (continued with `\`).
    let blocks: Vec<&str> = single.split("```sh\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    assert_eq!(blocks.len(), n, "one sh block per step");
    for b in blocks {
        let lines: Vec<&str> = b.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let commands = lines
            .iter()
            .zip(std::iter::once(&"").chain(lines.iter()))
            .filter(|(_, prev)| !prev.ends_with('\\'))
            .count();
        assert_eq!(commands, 1, "{b}");
    }
    assert!(n <= 6, "the issue's bound: at most 6 commands in one account, {n} now");
}

#[test]
fn the_runbook_names_every_alarm_of_the_template() {
    let template: BTreeSet<String> = read("template.yaml")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("AlarmName: "))
        .map(str::to_owned)
        .collect();
    assert!(template.len() >= 8, "{template:?}");
    let runbook = read("docs/runbook.md");
    let table = section(&runbook, "## When an alarm fires (security team)");
    let rows: BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| ").and_then(|r| r.split(' ').next()))
        .filter(|name| name.starts_with("breakglass-"))
        .map(str::to_owned)
        .collect();
    assert_eq!(rows, template);
}

/// docs/audit-trail.md states the digests' bounds in numbers: tied to the constants they copy.
#[test]
fn the_audit_trail_doc_states_the_digests_bounds_as_the_code_has_them() {
    use breakglass_core::events::MOST_CALLERS;
    use breakglass_core::trail::slots::{READS_AT_ONCE, READS_PER_RUN};
    let doc = read("docs/audit-trail.md").split_whitespace().collect::<Vec<_>>().join(" ");
    let thousands = format!("{},{:03}", READS_PER_RUN / 1000, READS_PER_RUN % 1000);
    for fact in [
        format!("records {READS_AT_ONCE} at a time"),
        format!("once it has read {thousands} records"),
        format!("names the {MOST_CALLERS} callers"),
    ] {
        assert!(doc.contains(&fact), "docs/audit-trail.md: `{fact}`");
    }
}
