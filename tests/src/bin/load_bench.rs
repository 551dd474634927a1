//! `make bench`, fourth part (issue 23): load under faults. 1,000 guarded events (a tampered bucket
//! policy each) arrive within 10 s, 100 a second, and are handed to the enforcers as Lambda's
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
const WITHIN: Duration = Duration::from_secs(10);
const CONCURRENCY: usize = 10;
const ASYNC_ATTEMPTS: usize = 3;
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";

fn pick(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(moto) = Moto::start() else {
        eprintln!("load_bench: moto is not installed (make venv)");
        std::process::exit(1);
    };
    let (stack, events) = rt.block_on(async {
        let stack = provision_config(&moto.endpoint, single_operator_text_with("acme-load", EVENTS)).await;
        let mut events = Vec::with_capacity(EVENTS);
        for n in 0..EVENTS {
            let bucket = format!("acme-load-{n:02}");
            let tampered = stack.tamper(&bucket).await;
            events.push(cloudtrail_event(
                "PutBucketPolicy",
                &bucket,
                MALLORY,
                "mallory",
                Some(&tampered),
                None,
            ));
        }
        (stack, events)
    });
    let iam = stack.iam(&moto.endpoint);
    let chaos = ChaosProxy::start(&iam.endpoint, Faults::everywhere(100, 1_000));
    let env: Vec<(String, String)> = rt
        .block_on(iam.function_env(stack.function_env(), "enforcer"))
        .into_iter()
        .map(|(k, v)| if k == "AWS_ENDPOINT_URL" { (k, chaos.endpoint.clone()) } else { (k, v) })
        .collect();
    let enforcers: Vec<Function> = (0..CONCURRENCY).map(|_| Function::spawn("enforcer", &env)).collect();
    for f in &enforcers {
        f.api.wait_ready();
    }

    // Arrivals 10 ms apart; each enforcer takes the next event that has arrived.
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::with_capacity(EVENTS));
    let (failed, retries) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let gap = WITHIN / EVENTS as u32;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for f in &enforcers {
            let (next, latencies, failed, retries, events) = (&next, &latencies, &failed, &retries, &events);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(event) = events.get(i) else { break };
                let arrival = started + gap * i as u32;
                if let Some(wait) = arrival.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let mut ok = false;
                for attempt in 0..ASYNC_ATTEMPTS {
                    if attempt > 0 {
                        retries.fetch_add(1, Ordering::Relaxed);
                    }
                    if f.invoke(event).is_ok() {
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
        for n in 0..EVENTS {
            let bucket = format!("acme-load-{n:02}");
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
    println!("Load under faults (release enforcer, {CONCURRENCY} at once, IAM proxy and 10% faults in front of moto)");
    println!(
        "{}",
        json!({
            "events": EVENTS, "arrivals_within_s": WITHIN.as_secs(), "handled": l.len(),
            "failed_after_retries": failed.load(Ordering::Relaxed), "retries": retries.load(Ordering::Relaxed),
            "requests": count.requests, "faulted": count.failed(), "still_open": open,
            "last_done_s": took.as_secs_f64(),
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
