//! Least privilege, measured (issue 23): what template.yaml grants each role, held against what the
//! end-to-end tests used under the IAM proxy (the files in `target/iam-used/`, written as each
//! test's proxy is dropped). `make test` runs it after the tests: a granted action that no test
//! used, and that AWS does not use on the role's behalf, fails it.

use std::collections::BTreeSet;
use std::process::ExitCode;

use canonical_policies::glob;
use e2e::{used_dir, Deployment, ACCOUNT, REGION};

/// Grants that AWS itself uses with the role, not breakglass's code, by (role, statement id,
/// action): the proxy never sees these calls.
const USED_BY_AWS: &[(&str, &str, &str, &str)] = &[
    ("*", "Logs", "*", "Lambda writes the function's log with its role"),
    ("*", "DeadLetters", "*", "Lambda sends a failed asynchronous invocation to the dead-letter queue with it"),
    ("*", "Environment", "*", "Lambda decrypts the environment (customer managed key) with it"),
    ("*", "*", "sqs:ReceiveMessage", "the event source mapping polls the function's queue with its role"),
    ("*", "*", "sqs:DeleteMessage", "the event source mapping deletes what the function handled"),
    ("*", "*", "sqs:ChangeMessageVisibility", "the event source mapping returns what the function failed"),
    ("*", "*", "sqs:GetQueueAttributes", "the event source mapping reads the queue's settings"),
    ("*", "*", "kms:Decrypt", "SNS, SQS, S3 and Lambda call KMS with the caller's credentials for SSE-KMS (not modelled by the proxy yet)"),
    ("*", "*", "kms:GenerateDataKey", "SNS, SQS, S3 and Lambda call KMS with the caller's credentials for SSE-KMS (not modelled by the proxy yet)"),
    ("breakglass-catalog-launch", "*", "*", "Service Catalog launches the product stacks with this role"),
    ("breakglass-forwarder", "*", "events:PutEvents", "EventBridge puts a member rule's matches on the central bus with it"),
];

/// Grants breakglass's code does use, on paths no end-to-end test runs under IAM yet, by (role,
/// action): the known gaps, each to be closed by a test, not by growing this list. An entry that a
/// test run does use fails the check too, so the list cannot go stale.
const NOT_YET_EXERCISED: &[(&str, &str, &str)] = &[];

fn main() -> ExitCode {
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    let Ok(files) = std::fs::read_dir(used_dir()) else {
        eprintln!("grants: nothing in {}: run the e2e tests first", used_dir().display());
        return ExitCode::FAILURE;
    };
    for f in files.flatten() {
        for line in std::fs::read_to_string(f.path()).unwrap_or_default().lines() {
            let mut parts = line.split('\t');
            if let (Some(role), Some(action)) = (parts.next(), parts.next()) {
                // Some tests run in moto's account: the role's name is what counts.
                let name = role.rsplit('/').next().unwrap_or(role);
                used.insert((name.to_owned(), action.to_owned()));
            }
        }
    }
    let buckets: Vec<String> = e2e::config().buckets.iter().map(|b| b.name.clone()).collect();
    let Some(org) = std::fs::read_to_string(e2e::root().join("examples/organisation.toml"))
        .ok()
        .and_then(|t| breakglass_config::Config::from_toml(&t).ok())
    else {
        eprintln!("grants: examples/organisation.toml does not parse");
        return ExitCode::FAILURE;
    };
    // Both modes: template.yaml single-account; template.yaml as the administrative stack with
    // member.yaml in each logging account. A role of the same name is one role to measure.
    let deployments = [
        ("template.yaml (single-account)", Deployment::single_account(ACCOUNT, REGION, &buckets)),
        ("template.yaml and member.yaml (organisation)", Deployment::organisation(&org)),
    ];
    let mut unused: BTreeSet<(String, String)> = BTreeSet::new();
    for (mode, deployment) in &deployments {
        let (mut granted, mut by_aws, mut seen) = (0, 0, BTreeSet::new());
        let mut never = BTreeSet::new();
        for (role, grants) in deployment.grants() {
            let name = role.rsplit('/').next().unwrap_or(&role).to_owned();
            // deployment-role.yaml's role deploys the stacks (CloudFormation, `sam deploy`,
            // StackSets), which no test does; its `config seed` runs under IAM (organisation.rs).
            if name == "breakglass-deployment" {
                continue;
            }
            for (sid, action) in grants {
                if !seen.insert((name.clone(), sid.clone(), action.clone())) {
                    continue;
                }
                granted += 1;
                let by = |(r, s, a, _): &&(&str, &str, &str, &str)| {
                    (*r == "*" || *r == name) && (*s == "*" || *s == sid) && (*a == "*" || *a == action)
                };
                if USED_BY_AWS.iter().any(|e| by(&e)) {
                    by_aws += 1;
                    continue;
                }
                if !used.iter().any(|(r, a)| *r == name && glob(&action.to_lowercase(), &a.to_lowercase())) {
                    never.insert((name.clone(), action.clone()));
                }
            }
        }
        println!(
            "grants: {granted} granted actions in {mode}: {} used by the e2e tests under IAM, {by_aws} used by AWS on the role's behalf, {} never used",
            granted - by_aws - never.len(),
            never.len()
        );
        unused.extend(never);
    }
    let mut failed = false;
    for u in &unused {
        match NOT_YET_EXERCISED.iter().find(|(r, a, _)| *r == u.0 && *a == u.1) {
            Some((.., why)) => println!("  not yet under IAM: {} {} ({why})", u.0, u.1),
            None => {
                failed = true;
                println!(
                    "  never used: {} {}: a grant no test needs is a grant to drop (or a test to write)",
                    u.0, u.1
                );
            }
        }
    }
    for (r, a, _) in NOT_YET_EXERCISED {
        if !unused.iter().any(|u| u.0 == *r && u.1 == *a) {
            failed = true;
            println!("  now used: {r} {a}: take it out of NOT_YET_EXERCISED in tests/src/bin/grants.rs");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
