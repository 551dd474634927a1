//! `make bench`, third part: the sweep of an organisation at scale, on moto, with the real enforcer
//! and notifier (release binaries). Organisation mode, two Regions, 10% of the buckets tampered;
//! once with 20 accounts (200 buckets) and once with 200 accounts (2,000 buckets), to show how the
//! sweep scales. Every AWS request goes through a recording proxy in front of moto, which is how
//! AssumeRole calls and S3 calls per clean bucket are counted.
//!
//! Like the template's event source mapping, five enforcer processes take the sweep queue's
//! messages ten at a time; the close is delayed 60 s here (300 s in AWS) so that it comes after
//! every shard, as it does in AWS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use e2e::{
    account_clients, delete, organisation_text_with, provision_config, receive, role_env, root, FaultProxy,
    Function, Moto,
};
use serde_json::{json, Value};

const ADMIN: &str = "999900000000";
const WORKERS: usize = 5;

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// The most messages in any one second, from the SNS envelopes' `Timestamp`.
fn most_per_second(deliveries: &[Value]) -> usize {
    let mut ms: Vec<i128> = deliveries
        .iter()
        .filter_map(|d| d["Timestamp"].as_str())
        .filter_map(breakglass_core::time::parse_time)
        .map(|t| t.unix_timestamp_nanos() / 1_000_000)
        .collect();
    ms.sort_unstable();
    (0..ms.len()).map(|i| ms[i..].iter().take_while(|t| **t - ms[i] < 1000).count()).max().unwrap_or(0)
}

struct Figures {
    buckets: usize,
    accounts: usize,
    shards: usize,
    sweep: Duration,
    slowest_shard_ms: u64,
    assume_role: usize,
    s3_per_clean: f64,
    writes_clean: usize,
    remediated: usize,
    security_mails: usize,
    stakeholder_mails: usize,
    most_mails_per_second: usize,
    machine_messages: usize,
    remediation_records: usize,
    peak_rss_mib: f64,
    setup: Duration,
    redelivered: usize,
}

async fn run(accounts: usize, per_region: usize) -> Figures {
    let moto = Moto::start_for("sweep_bench");
    let setup = Instant::now();
    let (text, buckets) = organisation_text_with(accounts, per_region);
    let stack = provision_config(&moto.endpoint, text.clone()).await;
    // Every tenth bucket: an unlawful policy that lets everybody read.
    let mut tampered = HashSet::new();
    for (name, account, region) in buckets.iter().step_by(10) {
        let s3 = account_clients(&moto.endpoint, account, region).await.s3;
        let open = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ClosedAccess", "Effect": "Allow",
            "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{name}/*")}]});
        s3.put_bucket_policy().bucket(name).policy(open.to_string()).send().await.unwrap();
        tampered.insert(name.clone());
    }
    let setup = setup.elapsed();
    let path = root().join(format!("target/e2e-configs/sweep-bench-{accounts}.toml"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &text).unwrap();
    let (queue, _) = stack.sweep_queue(breakglass_core::guard::sweep::ATTEMPTS).await;
    let proxy = FaultProxy::recording(&moto.endpoint);
    let env_as = |creds: Vec<(String, String)>| -> Vec<(String, String)> {
        let mut env = e2e::with_endpoint(stack.function_env_as(&creds), &proxy.endpoint);
        env.retain(|(k, _)| k != "BREAKGLASS_CONFIG");
        env.push(("BREAKGLASS_CONFIG_FILE".into(), path.display().to_string()));
        env.push(("BREAKGLASS_SWEEP_QUEUE".into(), queue.clone()));
        env.push(("BREAKGLASS_SWEEP_CLOSE_DELAY_SECONDS".into(), "60".into()));
        env
    };
    let enforcer_env = env_as(
        role_env(&moto.endpoint, &format!("arn:aws:iam::{ADMIN}:role/breakglass-enforcer"), "e").await,
    );
    let workers: Vec<Function> = (0..WORKERS).map(|_| Function::spawn("enforcer", &enforcer_env)).collect();
    for w in &workers {
        w.api.wait_ready();
    }
    let first_request = proxy.with("").len();

    // 17:20: a sweep of the policies alone (the settings are the sweep of the hour's first quarter).
    let started = Instant::now();
    let schedule = json!({"version": "0", "id": format!("bench-{accounts}"), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": ADMIN, "time": "2026-12-02T17:20:00Z", "region": "eu-central-1",
        "resources": [], "detail": {}});
    let planned = workers[0].invoke(&schedule).unwrap();
    let shards = planned["sweep"]["shards"].as_u64().unwrap() as usize;

    // The event source mapping: each worker takes up to ten messages at a time until the close ran.
    let answers: Mutex<Vec<(Instant, Value)>> = Mutex::new(Vec::new());
    let closed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for w in &workers {
            let (answers, closed, queue, endpoint) = (&answers, &closed, &queue, &moto.endpoint);
            scope.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let sqs = account_clients(endpoint, ADMIN, "eu-central-1").await.sqs;
                    while !closed.load(Ordering::SeqCst) {
                        let messages = receive(&sqs, queue, 10, 1).await;
                        if messages.is_empty() {
                            continue;
                        }
                        let records: Vec<Value> = messages
                            .iter()
                            .map(|m| json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle,
                                "body": m.body, "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"}))
                            .collect();
                        let answer = w.invoke(&json!({ "Records": records })).unwrap();
                        for m in &messages {
                            delete(&sqs, queue, m.receipt_handle.clone().unwrap_or_default()).await;
                        }
                        if answer["sweep"].as_array().unwrap().iter().any(|s| s.get("closed").is_some()) {
                            closed.store(true, Ordering::SeqCst);
                        }
                        answers.lock().unwrap().push((Instant::now(), answer));
                    }
                });
            });
        }
    });
    let answers = answers.into_inner().unwrap();
    let shard_answers: Vec<&Value> = answers
        .iter()
        .flat_map(|(_, a)| a["sweep"].as_array().unwrap())
        .filter(|s| s.get("index").is_some())
        .collect();
    let distinct: HashSet<u64> = shard_answers.iter().filter_map(|s| s["index"].as_u64()).collect();
    assert_eq!(distinct.len(), shards, "every shard swept");
    // SQS delivers at least once: a shard seen again (its visibility timeout ran out) is swept again.
    let redelivered = shard_answers.len() - shards;
    let last_shard = answers
        .iter()
        .filter(|(_, a)| a["sweep"].as_array().unwrap().iter().any(|s| s.get("index").is_some()))
        .map(|(t, _)| *t)
        .max()
        .unwrap();
    let sweep = last_shard - started;
    let slowest_shard_ms = shard_answers.iter().filter_map(|s| s["ms"].as_u64()).max().unwrap_or(0);
    let remediated: u64 = shard_answers.iter().filter_map(|s| s["remediated"].as_u64()).sum();
    let peak_rss_mib =
        workers.iter().filter_map(|w| peak_rss_kib(w.pid())).max().unwrap_or(0) as f64 / 1024.0;

    // What the proxy saw of the sweep: AssumeRole calls, and S3 calls on each clean bucket.
    let requests: Vec<String> = proxy.with("").into_iter().skip(first_request).collect();
    let assume_role = requests.iter().filter(|r| r.contains("Action=AssumeRole")).count();
    let mut per_bucket: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in &requests {
        let line = r.lines().next().unwrap_or_default();
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else { continue };
        let bucket = path.trim_start_matches('/').split(['/', '?']).next().unwrap_or_default();
        if let Some((name, _, _)) = buckets.iter().find(|(n, _, _)| n == bucket) {
            let e = per_bucket.entry(name.as_str()).or_default();
            e.0 += 1;
            e.1 += usize::from(method != "GET" && method != "HEAD");
        }
    }
    let clean: Vec<&(usize, usize)> =
        per_bucket.iter().filter(|(n, _)| !tampered.contains(**n)).map(|(_, c)| c).collect();
    let clean_count = buckets.len() - tampered.len();
    let s3_per_clean = clean.iter().map(|c| c.0).sum::<usize>() as f64 / clean_count as f64;
    let writes_clean = clean.iter().map(|c| c.1).sum::<usize>();

    // The notifier, as the bus delivers: one at a time (reserved concurrency 1), paced.
    let notifier_env = env_as(
        role_env(&moto.endpoint, &format!("arn:aws:iam::{ADMIN}:role/breakglass-notifier"), "n").await,
    );
    let machines =
        stack.clients.sqs.create_queue().queue_name("machines").send().await.unwrap().queue_url.unwrap();
    let machines_arn = stack.queue_arn(&machines).await;
    stack.subscribe_queue(&machines_arn).await;
    let notifier = Function::spawn("notifier", &notifier_env);
    for e in stack.drain(&stack.own_events).await {
        notifier.invoke(&e).unwrap();
    }
    let security = stack.drain(&stack.security).await;
    let stakeholders = stack.drain(&stack.stakeholders).await;
    let machine_messages = stack.drain(&machines).await.len();
    let remediation_records = stack
        .audit_under("")
        .await
        .iter()
        .filter(|(k, r)| r["kind"] == "remediation" && !k.contains("/_"))
        .count();
    Figures {
        buckets: buckets.len(),
        accounts,
        shards,
        sweep,
        slowest_shard_ms,
        assume_role,
        s3_per_clean,
        writes_clean,
        remediated: remediated as usize,
        security_mails: security.len(),
        stakeholder_mails: stakeholders.len(),
        most_mails_per_second: most_per_second(&security).max(most_per_second(&stakeholders)),
        machine_messages,
        remediation_records,
        peak_rss_mib,
        setup,
        redelivered,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let build = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("Sweep at scale (organisation mode, 2 Regions, 10% tampered; {build} binaries, moto, {WORKERS} enforcers x 10 messages)");
    let mut rows = Vec::new();
    // `SWEEP_BENCH_ACCOUNTS=20` runs one scale only (a quick check).
    let scales: Vec<usize> = match std::env::var("SWEEP_BENCH_ACCOUNTS").ok().and_then(|n| n.parse().ok()) {
        Some(n) => vec![n],
        None => vec![20, 200],
    };
    for accounts in scales {
        let per_region = 5;
        let f = run(accounts, per_region).await;
        println!(
            "{:>5} buckets in {:>3} accounts: {:>3} shards, sweep {:>7.2?} (slowest shard {} ms), AssumeRole {} ({} accounts), \
             S3 calls per clean bucket {:.2} (writes {}), remediated {}, audit records {}, mails: security {} stakeholders {} \
             (most {} in one second), machine messages {}, enforcer peak RSS {:.1} MiB; redelivered shards {}; setup {:.0?}",
            f.buckets,
            f.accounts,
            f.shards,
            f.sweep,
            f.slowest_shard_ms,
            f.assume_role,
            f.accounts,
            f.s3_per_clean,
            f.writes_clean,
            f.remediated,
            f.remediation_records,
            f.security_mails,
            f.stakeholder_mails,
            f.most_mails_per_second,
            f.machine_messages,
            f.peak_rss_mib,
            f.redelivered,
            f.setup,
        );
        rows.push(f);
    }
    let [small, large] = rows.as_slice() else { return };
    let per_bucket = |f: &Figures| f.sweep.as_secs_f64() * 1000.0 / f.buckets as f64;
    println!(
        "scaling: {:.2} ms per bucket at {} buckets, {:.2} ms at {} ({}x the buckets took {:.1}x the time)",
        per_bucket(small),
        small.buckets,
        per_bucket(large),
        large.buckets,
        large.buckets / small.buckets,
        large.sweep.as_secs_f64() / small.sweep.as_secs_f64()
    );
}
