//! `make bench`, fourth part (issue 23): load under faults. 1,000 guarded events (a bucket policy
//! tampered with, just before, each; 200 buckets five times over, within the about 215 that one
//! single-account enforcer role can name in IAM's 10,240 characters of inline policy) arrive within 10 s, 100 a second, and are handed to
//! the enforcers as Lambda's
//! asynchronous invocation queue hands them: at most ten at once (the reserved concurrency), a
//! failed invocation retried twice. Every AWS request of the enforcers goes through the IAM proxy
//! (template.yaml's grants) behind a chaos proxy that throttles, fails, resets or slows 10% of them.
//! Measured: the time from each event's arrival to the end of the invocation that reverted it (its
//! ClosedAccess written and read back), and whether every bucket ends closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use e2e::{
    cloudtrail_event, provision_config, single_operator_text_with, ChaosProxy, Faults, Function, Moto,
};
use serde_json::json;

const EVENTS: usize = 1_000;
const BUCKETS: usize = 200;
const WITHIN: Duration = Duration::from_secs(10);
const CONCURRENCY: usize = 10;
const ASYNC_ATTEMPTS: usize = 3;
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";

fn pick(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = Moto::start_for("load_bench");
    let stack =
        rt.block_on(provision_config(&moto.endpoint, single_operator_text_with("acme-load", BUCKETS)));
    let bucket = |i: usize| format!("acme-load-{:02}", i % BUCKETS);
    let iam = stack.iam(&moto.endpoint);
    // `LOAD_FAULTS_PER_MILLE=0`: the same without faults, to tell their cost from the rest.
    let per_mille = std::env::var("LOAD_FAULTS_PER_MILLE").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let chaos = ChaosProxy::start(&iam.endpoint, Faults::everywhere(per_mille, 1_000));
    let env =
        e2e::with_endpoint(rt.block_on(iam.function_env(stack.function_env(), "enforcer")), &chaos.endpoint);
    let enforcers: Vec<Function> = (0..CONCURRENCY).map(|_| Function::spawn("enforcer", &env)).collect();
    for f in &enforcers {
        f.api.wait_ready();
    }

    // The attacker: a bucket policy replaced every 10 ms, and CloudTrail's event of it queued for
    // the function as it arrives; each enforcer takes the next queued event when it is free.
    let (send, receive) = std::sync::mpsc::channel::<(serde_json::Value, Instant)>();
    let receive = Mutex::new(receive);
    let latencies = Mutex::new(Vec::with_capacity(EVENTS));
    let (failed, retries) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let gap = WITHIN / EVENTS as u32;
    let started = Instant::now();
    let arrived = Mutex::new(Duration::ZERO);
    std::thread::scope(|scope| {
        let (stack, rt, bucket, arrived) = (&stack, &rt, &bucket, &arrived);
        scope.spawn(move || {
            for i in 0..EVENTS {
                if let Some(wait) = (started + gap * i as u32).checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let b = bucket(i);
                let tampered = rt.block_on(stack.tamper(&b));
                let event =
                    cloudtrail_event("PutBucketPolicy", &b, MALLORY, "mallory", Some(&tampered), None);
                send.send((event, Instant::now())).unwrap();
            }
            *arrived.lock().unwrap() = started.elapsed();
        });
        for f in &enforcers {
            let (receive, latencies, failed, retries) = (&receive, &latencies, &failed, &retries);
            scope.spawn(move || loop {
                let next = receive.lock().unwrap().recv();
                let Ok((event, arrival)) = next else { break };
                let mut ok = false;
                for attempt in 0..ASYNC_ATTEMPTS {
                    if attempt > 0 {
                        retries.fetch_add(1, Ordering::Relaxed);
                    }
                    if f.invoke(&event).is_ok() {
                        ok = true;
                        break;
                    }
                }
                if ok {
                    latencies.lock().unwrap().push(arrival.elapsed());
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let took = started.elapsed();

    // Every bucket closed, read from moto itself (not through the faults).
    let config = breakglass_config::Config::from_toml(&stack.config_text).unwrap();
    let open = rt.block_on(async {
        let mut open = 0;
        for n in 0..BUCKETS {
            let bucket = bucket(n);
            let live = stack.live_policy(&bucket).await;
            let state = canonical_policies::classify(
                config.bucket(&bucket).unwrap(),
                live.as_deref().map(str::as_bytes),
                time::OffsetDateTime::now_utc(),
            )
            .state;
            if state != canonical_policies::State::Closed {
                open += 1;
            }
        }
        open
    });
    let mut l = latencies.into_inner().unwrap();
    l.sort();
    let count = chaos.count();
    println!(
        "Load under faults (release enforcer, {CONCURRENCY} at once, IAM proxy and {}% faults in front of moto)",
        per_mille as f64 / 10.0
    );
    println!(
        "{}",
        json!({
            "events": EVENTS, "arrivals_within_s": WITHIN.as_secs(), "handled": l.len(),
            "failed_after_retries": failed.load(Ordering::Relaxed), "retries": retries.load(Ordering::Relaxed),
            "requests": count.requests, "faulted": count.failed(), "still_open": open,
            "last_arrival_s": arrived.lock().unwrap().as_secs_f64(), "last_done_s": took.as_secs_f64(),
        })
    );
    if let (Some(first), Some(last)) = (l.first(), l.last()) {
        println!(
            "event → reverted: median {:.1?}  p90 {:.1?}  p99 {:.1?}  min {:.1?}  max {:.1?}  (n={})",
            pick(&l, 0.5),
            pick(&l, 0.9),
            pick(&l, 0.99),
            first,
            last,
            l.len()
        );
    }
    if open > 0 || failed.load(Ordering::Relaxed) > 0 {
        eprintln!("load_bench: {open} buckets left open, {} events failed", failed.load(Ordering::Relaxed));
        std::process::exit(1);
    }
}
