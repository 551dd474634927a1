//! `make bench`, the CLI at AWS's latency (issue 23): organisation mode, 20 logging accounts with
//! 10 buckets each (two Regions), every request of the CLI delayed 25 ms by a proxy in front of
//! moto (a Region's round trip rather than loopback's). Timed, each three times: `breakglass
//! enforce` as the enforcer role with every tenth bucket tampered (they are put back), and
//! `breakglass status --all` as an operator.
//!
//! `CLI_BENCH_BEFORE=/path/to/breakglass` times that binary too, side by side on the same moto: the
//! CLI of an earlier commit, built apart. Then Cloud Custodian's multi-account runner, c7n-org, over the
//! same accounts and proxy with the strongest policy for this tampering (README, "The CLI at AWS's
//! latency").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use breakglass_config::Config;
use canonical_policies::{classify, State};
use e2e::{
    account_clients, aws_env, binary, breakglass_at, organisation_text_with, peer_tool, provision_config,
    role_env, root, ChaosProxy, Faults, Moto,
};
use serde_json::json;

const ADMIN: &str = "999900000000";
const ACCOUNTS: usize = 20;
const PER_REGION: usize = 5;
const LATENCY: Duration = Duration::from_millis(25);
const RUNS: usize = 3;

/// Runs `cli` with `args` as `env` against `endpoint`: (exit code, output, took).
fn run(cli: &Path, env: &[(String, String)], endpoint: &str, args: &[&str]) -> (i32, String, Duration) {
    let started = Instant::now();
    let (code, stdout, stderr) = breakglass_at(cli, env, endpoint, args);
    (code, format!("{stdout}{stderr}"), started.elapsed())
}

type Place = (String, String, String);

/// An unlawful policy on each of `buckets`, written straight to moto: everybody may read.
async fn tamper(endpoint: &str, buckets: &[&Place]) {
    for (name, account, region) in buckets {
        let s3 = account_clients(endpoint, account, region).await.s3;
        let open = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ClosedAccess", "Effect": "Allow",
            "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{name}/*")}]});
        s3.put_bucket_policy().bucket(name).policy(open.to_string()).send().await.unwrap();
    }
}

/// How many of `buckets` hold their ClosedAccess again (the canonical check), read from moto.
async fn lawful(endpoint: &str, config: &Config, buckets: &[&Place]) -> usize {
    let mut n = 0;
    for (name, account, region) in buckets {
        let s3 = account_clients(endpoint, account, region).await.s3;
        let live = s3.get_bucket_policy().bucket(name).send().await.ok().and_then(|o| o.policy);
        let bucket = config.bucket(name).unwrap();
        let state =
            classify(bucket, live.as_deref().map(str::as_bytes), time::OffsetDateTime::now_utc()).state;
        n += usize::from(state == State::Closed);
    }
    n
}

/// c7n-org's accounts file (each account's member role) and the strongest Custodian policy for the
/// tampering here: flag a bucket without every lawful statement exactly, and replace its whole
/// policy with them.
fn c7n_files(config: &Config, buckets: &[Place], dir: &Path) -> (PathBuf, PathBuf) {
    let mut accounts: Vec<serde_json::Value> = Vec::new();
    for (_, account, _) in buckets {
        if !accounts.iter().any(|a| a["account_id"] == account.as_str()) {
            accounts.push(
                json!({"account_id": account, "name": account, "regions": ["eu-central-1", "eu-west-1"],
                "role": format!("arn:aws:iam::{account}:role/breakglass-member")}),
            );
        }
    }
    let (example, account, _) = &buckets[0];
    let lawful = config.bucket(example).unwrap().closed_policy().to_pretty_json();
    let generic = lawful.replace(example.as_str(), "{bucket_name}").replace(account.as_str(), "{account_id}");
    let statements = serde_json::from_str::<serde_json::Value>(&generic).unwrap()["Statement"].clone();
    let policy = json!({"policies": [{
        "name": "closed-access-kept",
        "resource": "aws.s3",
        "filters": [
            {"type": "value", "key": "Name", "op": "glob", "value": "acme-*-logs-*"},
            {"not": [{"type": "has-statement", "statements": statements}]}
        ],
        // `remove: "*"`: the policy becomes the lawful statements and nothing else.
        "actions": [{"type": "set-statements", "remove": "*", "statements": statements}]
    }]});
    std::fs::create_dir_all(dir).unwrap();
    let (accounts_file, policy_file) = (dir.join("accounts.json"), dir.join("policy.json"));
    std::fs::write(&accounts_file, json!({ "accounts": accounts }).to_string()).unwrap();
    std::fs::write(&policy_file, policy.to_string()).unwrap();
    (accounts_file, policy_file)
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let moto = Moto::start_for("cli_bench");
    let (text, buckets) = organisation_text_with(ACCOUNTS, PER_REGION);
    provision_config(&moto.endpoint, text.clone()).await;
    let config = Config::from_toml(&text).unwrap();
    let path = root().join("target/e2e-configs/cli-bench.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &text).unwrap();
    let config_arg = path.display().to_string();
    let proxy = ChaosProxy::start(&moto.endpoint, Faults::latency(LATENCY));
    let as_role = |role: &str| format!("arn:aws:iam::{ADMIN}:role/{role}");
    let with_proxy = |env: Vec<(String, String)>| e2e::with_endpoint(env, &proxy.endpoint);
    let enforcer =
        with_proxy(role_env(&moto.endpoint, &as_role("breakglass-enforcer"), "breakglass-enforcer").await);
    let operator = with_proxy(role_env(&moto.endpoint, &as_role("breakglass-operator"), "alice").await);

    let mut clis: Vec<(&str, PathBuf)> = vec![("this commit", binary("breakglass"))];
    if let Some(before) = std::env::var_os("CLI_BENCH_BEFORE") {
        clis.push(("before (CLI_BENCH_BEFORE)", PathBuf::from(before)));
    }
    println!(
        "The CLI at AWS's latency: organisation mode, {ACCOUNTS} accounts x {} buckets in 2 Regions, every request +{LATENCY:?}, {RUNS} runs each (median, all)",
        2 * PER_REGION
    );
    let tampered: Vec<&Place> = buckets.iter().step_by(10).collect();
    for (label, cli) in &clis {
        let (mut enforce, mut status) = (Vec::new(), Vec::new());
        let mut requests = (0, 0);
        for _ in 0..RUNS {
            tamper(&moto.endpoint, &tampered).await;
            let before = proxy.count().requests;
            let (code, out, took) =
                run(cli, &enforcer, &proxy.endpoint, &["enforce", "--config", &config_arg]);
            assert!(code == 0 || code == 3, "{label}: enforce exited {code}: {out}");
            requests.0 = proxy.count().requests - before;
            enforce.push(took);
            assert_eq!(
                lawful(&moto.endpoint, &config, &tampered).await,
                tampered.len(),
                "{label}: all put back"
            );
            let before = proxy.count().requests;
            let (code, out, took) =
                run(cli, &operator, &proxy.endpoint, &["status", "--all", "--config", &config_arg]);
            assert_eq!(code, 0, "{label}: status --all: {out}");
            assert_eq!(out.lines().filter(|l| l.contains("-logs-")).count(), buckets.len(), "{label}: {out}");
            requests.1 = proxy.count().requests - before;
            status.push(took);
        }
        for (what, times, n) in [("enforce", &enforce, requests.0), ("status --all", &status, requests.1)] {
            println!(
                "  {label:<26} {what:<13} {:>8.2?}  ({})  {n} requests",
                median(times.clone()),
                times.iter().map(|t| format!("{t:.2?}")).collect::<Vec<_>>().join(", ")
            );
        }
    }

    // c7n-org over the same accounts, Regions and proxy: it assumes each account's role and runs the
    // policy there, accounts in parallel (its default: four workers per core).
    let Some(c7n_org) = peer_tool("PEER_C7N_ORG", "c7n-org") else {
        println!(
            "  c7n-org not found (PEER_C7N_ORG or .venv-peer/bin/c7n-org: scripts/venv.sh peer); skipped"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("cli-bench-c7n-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (accounts_file, policy_file) = c7n_files(&config, &buckets, &dir);
    let (mut times, mut put_back) = (Vec::new(), Vec::new());
    let mut requests = 0;
    for run in 0..RUNS {
        tamper(&moto.endpoint, &tampered).await;
        let before = proxy.count().requests;
        let started = Instant::now();
        let out = Command::new(&c7n_org)
            .args(["run", "--cache-period", "0", "-c"])
            .arg(&accounts_file)
            .arg("-u")
            .arg(&policy_file)
            .arg("-s")
            .arg(dir.join(format!("out-{run}")))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(aws_env(&proxy.endpoint))
            .output()
            .unwrap();
        times.push(started.elapsed());
        requests = proxy.count().requests - before;
        assert!(out.status.success(), "c7n-org: {}", String::from_utf8_lossy(&out.stderr));
        put_back.push(lawful(&moto.endpoint, &config, &tampered).await);
    }
    println!(
        "  {:<26} {:<13} {:>8.2?}  ({})  {requests} requests; tampered buckets lawful after: {}",
        "c7n-org 0.6.52",
        "run",
        median(times.clone()),
        times.iter().map(|t| format!("{t:.2?}")).collect::<Vec<_>>().join(", "),
        put_back.iter().map(|n| format!("{n} of {}", tampered.len())).collect::<Vec<_>>().join(", ")
    );
}
