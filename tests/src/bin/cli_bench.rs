//! `make bench`, the CLI at AWS's latency (issue 23): organisation mode, 20 logging accounts with
//! 10 buckets each (two Regions), every request of the CLI delayed 25 ms by a proxy in front of
//! moto (a Region's round trip rather than loopback's). Timed, each three times: `breakglass
//! enforce` as the enforcer role with every tenth bucket tampered (they are put back), and
//! `breakglass status --all` as an operator.
//!
//! `CLI_BENCH_BEFORE=/path/to/breakglass` times that binary too, side by side on the same moto: the
//! CLI of an earlier commit, built apart (`docs`: README, "The CLI at AWS's latency").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use canonical_policies::{classify, State};
use e2e::{
    account_clients, binary, organisation_text_with, outcome, provision_config, role_env, root, ChaosProxy,
    Faults, Moto,
};
use serde_json::json;

const ADMIN: &str = "999900000000";
const ACCOUNTS: usize = 20;
const PER_REGION: usize = 5;
const LATENCY: Duration = Duration::from_millis(25);
const RUNS: usize = 3;

/// Runs `cli` with `args` and the config, as `env`, against `endpoint`: (exit code, output, took).
fn run(
    cli: &Path,
    env: &[(String, String)],
    endpoint: &str,
    args: &[&str],
    config: &Path,
) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = Command::new(cli)
        .args(args)
        .arg("--config")
        .arg(config)
        .args(["--endpoint-url", endpoint])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    let took = started.elapsed();
    let (code, stdout, stderr) = outcome(&out);
    (code, format!("{stdout}{stderr}"), took)
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let moto = Moto::start().expect("moto is not installed: run scripts/venv.sh");
    let (text, buckets) = organisation_text_with(ACCOUNTS, PER_REGION);
    provision_config(&moto.endpoint, text.clone()).await;
    let config = breakglass_config::Config::from_toml(&text).unwrap();
    let path = root().join("target/e2e-configs/cli-bench.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &text).unwrap();
    let proxy = ChaosProxy::start(&moto.endpoint, Faults::latency(LATENCY));
    let as_role = |role: &str| format!("arn:aws:iam::{ADMIN}:role/{role}");
    let with_proxy = |env: Vec<(String, String)>| -> Vec<(String, String)> {
        env.into_iter()
            .map(|(k, v)| if k == "AWS_ENDPOINT_URL" { (k, proxy.endpoint.clone()) } else { (k, v) })
            .collect()
    };
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
    let tampered: Vec<&(String, String, String)> = buckets.iter().step_by(10).collect();
    for (label, cli) in &clis {
        let (mut enforce, mut status) = (Vec::new(), Vec::new());
        let mut requests = (0, 0);
        for _ in 0..RUNS {
            for (name, account, region) in &tampered {
                let s3 = account_clients(&moto.endpoint, account, region).await.s3;
                let open = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ClosedAccess", "Effect": "Allow",
                    "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{name}/*")}]});
                s3.put_bucket_policy().bucket(name).policy(open.to_string()).send().await.unwrap();
            }
            let before = proxy.count().requests;
            let (code, out, took) = run(cli, &enforcer, &proxy.endpoint, &["enforce"], &path);
            assert!(code == 0 || code == 3, "{label}: enforce exited {code}: {out}");
            requests.0 = proxy.count().requests - before;
            enforce.push(took);
            for (name, account, region) in &tampered {
                let s3 = account_clients(&moto.endpoint, account, region).await.s3;
                let live = s3.get_bucket_policy().bucket(name).send().await.unwrap().policy;
                let bucket = config.bucket(name).unwrap();
                let state =
                    classify(bucket, live.as_deref().map(str::as_bytes), time::OffsetDateTime::now_utc())
                        .state;
                assert_eq!(state, State::Closed, "{label}: {name} put back");
            }
            let before = proxy.count().requests;
            let (code, out, took) = run(cli, &operator, &proxy.endpoint, &["status", "--all"], &path);
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
}
