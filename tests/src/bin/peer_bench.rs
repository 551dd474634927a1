//! `make bench`, last part: breakglass beside Cloud Custodian, the policy engine most teams would
//! reach for, on the same moto, each in its periodic mode (Custodian's pull mode, breakglass's
//! scheduled sweep): 200 buckets tampered one way, then checked and put back by each tool in turn.
//!
//! Custodian gets the strongest policy its language offers here: flag a bucket unless every
//! lawful statement is there exactly (`has-statement` with the whole statement, condition
//! included), or it grants another account (`cross-account`); put the lawful statements back by
//! Sid (`set-statements`). Three tamperings: an exemption slipped into ClosedAccess beside an
//! Allow for the insider (the tests' `tampered-closed.json`), a base statement removed, and an
//! extra same-account Allow. "Lawful after" is the project's canonical check (`classify`).
//!
//! Custodian is taken from `PEER_CUSTODIAN` or `.venv-peer/bin/custodian` (`make bench` installs
//! it there); without it the comparison is skipped with a notice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use breakglass_config::Config;
use e2e::{aws_env, provision_config, single_operator_text_with, Function, Moto, Stack};
use serde_json::{json, Value};

const N: usize = 200;
const PREFIX: &str = "acme-peer";
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";

/// The lawful policy of `bucket`, as provisioned.
fn lawful(config: &Config, bucket: &str) -> Value {
    serde_json::from_str(&config.bucket(bucket).unwrap().closed_policy().to_pretty_json()).unwrap()
}

/// One way of tampering with a lawful policy.
fn tamper(kind: &str, bucket: &str, mut p: Value) -> Value {
    let statements = p["Statement"].as_array_mut().unwrap();
    match kind {
        "exemption" => {
            let closed = statements.iter_mut().find(|s| s["Sid"] == "ClosedAccess").unwrap();
            closed["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] = json!([MALLORY]);
            statements.push(
                json!({"Sid": "LogRetentionCheck", "Effect": "Allow", "Principal": {"AWS": MALLORY},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]}),
            );
        }
        "removed" => statements.retain(|s| s["Sid"] != "DenyDestroyingLogs"),
        "extra" => statements
            .push(json!({"Sid": "Inventory", "Effect": "Allow", "Principal": {"AWS": MALLORY},
            "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{bucket}")})),
        other => panic!("{other}"),
    }
    p
}

async fn tamper_all(stack: &Stack, config: &Config, kind: &str, buckets: &[String]) {
    for b in buckets {
        let p = tamper(kind, b, lawful(config, b));
        stack.clients.s3.put_bucket_policy().bucket(b).policy(p.to_string()).send().await.unwrap();
    }
}

/// How many of `buckets` hold their lawful policy (the canonical check).
async fn lawful_count(stack: &Stack, buckets: &[String]) -> usize {
    let mut n = 0;
    for b in buckets {
        n += usize::from(stack.live_state(b).await == canonical_policies::State::Closed);
    }
    n
}

/// The Custodian policy: every lawful statement, exactly, with `{bucket_name}` for the bucket.
fn custodian_policy(config: &Config, example: &str) -> Value {
    let statements: Value = serde_json::from_str(
        &lawful(config, example)["Statement"].to_string().replace(example, "{bucket_name}"),
    )
    .unwrap();
    json!({"policies": [{
        "name": "closed-access-kept",
        "resource": "aws.s3",
        "filters": [
            {"type": "value", "key": "Name", "op": "glob", "value": format!("{PREFIX}-*")},
            {"or": [
                {"not": [{"type": "has-statement", "statements": statements}]},
                // The insider's account is the buckets' own (moto answers as 123456789012).
                {"type": "cross-account", "whitelist": ["111122223333"]}
            ]}
        ],
        "actions": [{"type": "set-statements", "statements": statements}]
    }]})
}

/// Runs Custodian once against moto; returns (seconds, buckets it acted on).
fn run_custodian(bin: &PathBuf, endpoint: &str, policy: &Value) -> (f64, usize) {
    let dir = std::env::temp_dir().join(format!("peer-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("policy.json");
    std::fs::write(&file, policy.to_string()).unwrap();
    let started = Instant::now();
    let out = Command::new(bin)
        .args(["run", "--cache-period", "0", "-s"])
        .arg(dir.join("out"))
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(aws_env(endpoint))
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "custodian: {}", String::from_utf8_lossy(&out.stderr));
    let resources =
        std::fs::read_to_string(dir.join("out/closed-access-kept/resources.json")).unwrap_or_default();
    let acted = serde_json::from_str::<Value>(&resources).ok().and_then(|v| v.as_array().map(Vec::len));
    (seconds, acted.unwrap_or(0))
}

fn main() {
    let Some(bin) = e2e::peer_tool("PEER_CUSTODIAN", "custodian") else {
        println!(
            "peer_bench: Cloud Custodian not found (PEER_CUSTODIAN or .venv-peer/bin/custodian); skipped"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let buckets: Vec<String> = (0..N).map(|n| format!("{PREFIX}-{n:02}")).collect();
        println!("| tampering ({N} buckets) | Cloud Custodian: flagged, lawful after, seconds | breakglass sweep: reverted, lawful after, seconds |");
        println!("|---|---|---|");
        for kind in ["exemption", "removed", "extra"] {
            let Some(moto) = Moto::start() else { return };
            let stack = provision_config(&moto.endpoint, single_operator_text_with(PREFIX, N)).await;
            let config = Config::from_toml(&stack.config_text).unwrap();
            let policy = custodian_policy(&config, &buckets[0]);
            tamper_all(&stack, &config, kind, &buckets).await;
            let (c_seconds, flagged) = run_custodian(&bin, &moto.endpoint, &policy);
            let c_lawful = lawful_count(&stack, &buckets).await;

            tamper_all(&stack, &config, kind, &buckets).await;
            let enforcer = Function::spawn("enforcer", &stack.function_env());
            let sweep = json!({"version": "0", "id": format!("peer-{kind}"), "detail-type": "Scheduled Event",
                "source": "aws.events", "account": "111122223333", "region": "eu-central-1",
                "time": breakglass_core::time::format_time(time::OffsetDateTime::now_utc()), "resources": [], "detail": {}});
            let started = Instant::now();
            let answer = enforcer.invoke(&sweep).unwrap();
            let b_seconds = started.elapsed().as_secs_f64();
            let reverted = answer["buckets"]
                .as_array()
                .map_or(0, |a| a.iter().filter(|b| b["outcome"] == "closed").count());
            let b_lawful = lawful_count(&stack, &buckets).await;
            println!(
                "| {kind} | {flagged}, {c_lawful}, {c_seconds:.1} s | {reverted}, {b_lawful}, {b_seconds:.1} s |"
            );
        }
    });
}
