//! `make bench`, second part: the Lambdas. Run on release binaries (`cargo build --release`).
//! - cold start: process exec until the function polls the Runtime API for its first event;
//! - warm invocation against moto: a guarded call on a closed bucket (one GetBucketPolicy, classify);
//! - a tampered bucket's event path against moto: the enforcer closes it again and checks its settings;
//!   then the same with every request 25 ms late (a Region's round trip, not loopback's);
//! - handler overhead beyond the AWS calls: the same event through the handler with in-memory ports;
//! - peak RSS of the enforcer after the warm runs; the zip sizes `cargo lambda build` produced;
//! - the gate: cold start, and an operator's `open` through it until the bucket is open (its record
//!   signed and written, the OpenAccess written, the event on the bus), then `close`;
//! - the recorder: read events per second on one core (10,000 data events per batch, in-memory
//!   trail), and the real binary's wall time and peak RSS for one batch of 10,000 against moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use breakglass_core::events::BusEvent;
use breakglass_core::guard::enforce::Enforcer;
use breakglass_core::ports::{EventBus, PolicyStore, PortError};
use breakglass_core::runtime::enforce_event;
use e2e::{cloudtrail_event, config, provision, root, Function, Moto};

const BUCKET: &str = "acme-cloudtrail-logs";

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    format!(
        "median {:>9.3?}  p90 {:>9.3?}  min {:>9.3?}  (n={})",
        pick(0.5),
        pick(0.9),
        samples[0],
        samples.len()
    )
}

struct Memory(String);
impl PolicyStore for Memory {
    async fn get_policy(&self, _: &str) -> Result<Option<String>, PortError> {
        Ok(Some(self.0.clone()))
    }
    async fn put_policy(&self, _: &str, _: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn block_public_access(&self, _: &str) -> Result<(), PortError> {
        Ok(())
    }
}
struct NoBus;
impl EventBus for NoBus {
    async fn put(&self, _: &BusEvent) -> Result<(), PortError> {
        Ok(())
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// `n` times after `warm_up`: the bucket tampered with (not timed), then the enforcer's invocation
/// for the event until it answers that ClosedAccess is back.
async fn event_path(
    stack: &e2e::Stack,
    enforcer: &Function,
    event: &serde_json::Value,
    warm_up: usize,
    n: usize,
) -> Vec<Duration> {
    let mut path = Vec::new();
    for i in 0..warm_up + n {
        stack.tamper(BUCKET).await;
        let t = Instant::now();
        let answer = enforcer.invoke(event).unwrap();
        if i >= warm_up {
            path.push(t.elapsed());
        }
        assert_eq!(answer["buckets"][0]["outcome"], "closed", "{answer}");
    }
    path
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let moto = Moto::start_for("lambda_bench");
    let stack = provision(&moto.endpoint).await;
    let closed = config().bucket(BUCKET).unwrap().closed_policy().to_pretty_json();
    let event = cloudtrail_event(
        "PutBucketPolicy",
        BUCKET,
        "arn:aws:iam::111122223333:role/breakglass-operator",
        "bench",
        Some(&closed),
        None,
    );
    println!("Lambda benchmarks (release binaries, this machine, moto at {})", moto.endpoint);

    for name in ["enforcer", "notifier", "recorder"] {
        let mut cold = Vec::new();
        for _ in 0..20 {
            let f = Function::spawn(name, &stack.function_env());
            cold.push(f.api.wait_ready() - f.started);
        }
        println!("cold start {name:<9} exec → first poll   {}", stats(cold));
    }

    gate_bench(&stack);

    let enforcer = Function::spawn("enforcer", &stack.function_env());
    enforcer.api.wait_ready();
    for _ in 0..10 {
        enforcer.invoke(&event).unwrap();
    }
    let mut warm = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let answer = enforcer.invoke(&event).unwrap();
        warm.push(t.elapsed());
        assert_eq!(answer["buckets"][0]["outcome"], "lawful");
    }
    println!("warm invoke enforcer, moto round trip  {}", stats(warm));

    // The tampered bucket's event path: the live policy read, ClosedAccess written and read back,
    // the remediation put on the bus, and the sentinel's reads of the bucket's settings. The
    // tampering itself (a direct PutBucketPolicy on moto) is not timed.
    let tampered = std::fs::read_to_string(root().join("examples/policies/tampered-closed.json")).unwrap();
    let tamper_event = cloudtrail_event(
        "PutBucketPolicy",
        BUCKET,
        "arn:aws:iam::111122223333:role/admin",
        "mallory",
        Some(&tampered),
        None,
    );
    let path = event_path(&stack, &enforcer, &tamper_event, 10, 100).await;
    println!("tampered bucket, enforcer event path   {}", stats(path));
    // The same at a Region's latency: every request of the enforcer 25 ms late (a proxy in front of
    // moto). moto answers one request at a time, so reads made at once gain nothing on loopback;
    // here they overlap as they do in AWS.
    let late = e2e::ChaosProxy::start(&moto.endpoint, e2e::Faults::latency(Duration::from_millis(25)));
    let late_env = e2e::with_endpoint(stack.function_env(), &late.endpoint);
    let late_enforcer = Function::spawn("enforcer", &late_env);
    late_enforcer.api.wait_ready();
    let path = event_path(&stack, &late_enforcer, &tamper_event, 5, 50).await;
    println!("the same, every request +25 ms         {}", stats(path));
    if let Some(kib) = peak_rss_kib(enforcer.pid()) {
        println!("peak RSS enforcer after 320 invokes    {:.1} MiB", kib as f64 / 1024.0);
    }

    let memory = Enforcer {
        config: config(),
        store: Memory(closed.clone()),
        bus: NoBus,
        records: breakglass_core::access::approval::NoRecords,
        dry_run: false,
    };
    let now = time::OffsetDateTime::now_utc();
    let mut overhead = Vec::new();
    for i in 0..2200 {
        let t = Instant::now();
        let answer = enforce_event(&memory, &event, now).await.unwrap();
        if i >= 200 {
            overhead.push(t.elapsed());
        }
        std::hint::black_box(answer);
    }
    println!("handler overhead (in-memory ports)     {}", stats(overhead));

    recorder_bench(&stack).await;

    for name in ["enforcer", "notifier", "catalog", "recorder", "gate"] {
        let zip = root().join("target/lambda").join(name).join("bootstrap.zip");
        match std::fs::metadata(&zip) {
            Ok(m) => println!(
                "zip {name:<9} (cargo lambda build --release --x86-64)  {:.2} MB ({} bytes)",
                m.len() as f64 / 1e6,
                m.len()
            ),
            Err(_) => println!("zip {name:<9} not built (make zips)"),
        }
    }
}

/// The gate (issue 21): cold start, then `open` and `close` by an operator on a bucket without the
/// two-person rule, each from the function URL's event to the gate's answer (200: done).
fn gate_bench(stack: &e2e::Stack) {
    let mut env = stack.function_env();
    env.push(("BREAKGLASS_GATE_ROLES".into(), "breakglass-operator".into()));
    let mut cold = Vec::new();
    for _ in 0..20 {
        let f = Function::spawn("gate", &env);
        cold.push(f.api.wait_ready() - f.started);
    }
    println!("cold start gate      exec → first poll   {}", stats(cold));
    let gate = Function::spawn("gate", &env);
    gate.api.wait_ready();
    let alice = "arn:aws:sts::111122223333:assumed-role/breakglass-operator/alice";
    let reader = config().bucket(BUCKET).unwrap().investigator_roles.first().unwrap().clone();
    let open = serde_json::json!({"op": "open", "bucket": BUCKET, "readers": [reader], "duration": "1h", "reason": "bench", "ticket": "BENCH-1"}).to_string();
    let close = serde_json::json!({"op": "close", "bucket": BUCKET, "reason": "bench done"}).to_string();
    let call = |body: &str| {
        let t = Instant::now();
        let answer = gate.invoke(&e2e::url_event(alice, "POST", body)).unwrap();
        let took = t.elapsed();
        assert_eq!(answer["statusCode"], 200, "{answer}");
        took
    };
    let (mut opened, mut closed) = (Vec::new(), Vec::new());
    for i in 0..55 {
        let (o, c) = (call(&open), call(&close));
        if i >= 5 {
            opened.push(o);
            closed.push(c);
        }
    }
    println!("gate open → 200 (bucket open), moto   {}", stats(opened));
    println!("gate close → 200 (bucket closed), moto {}", stats(closed));
}

/// A trail that keeps nothing: what the recorder costs beyond S3.
struct Discard;
impl breakglass_core::ports::AuditLog for Discard {
    async fn append(
        &self,
        _: &str,
        body: &str,
        _: time::OffsetDateTime,
    ) -> Result<breakglass_core::ports::Appended, PortError> {
        std::hint::black_box(body.len());
        Ok(breakglass_core::ports::Appended::Written)
    }
}

/// `n` data events as the read queue holds them: reads of the two example buckets by the
/// investigator, one in a hundred refused.
fn data_events(n: usize) -> Vec<breakglass_core::inbound::event::QueueMessage> {
    let text =
        std::fs::read_to_string(root().join("core/tests/fixtures/data-events/getobject.json")).unwrap();
    let template: serde_json::Value = serde_json::from_str(&text).unwrap();
    (0..n)
        .map(|i| {
            let mut e = template.clone();
            let d = &mut e["detail"];
            d["eventID"] = serde_json::json!(format!("bench-{i:08}"));
            d["requestParameters"]["key"] = serde_json::json!(format!(
                "AWSLogs/111122223333/CloudTrail/eu-central-1/2026/11/29/part-{i:08}.json.gz"
            ));
            if i % 2 == 1 {
                d["requestParameters"]["bucketName"] = serde_json::json!("acme-vpc-flow-logs");
            }
            if i % 100 == 0 {
                d["errorCode"] = serde_json::json!("AccessDenied");
            }
            breakglass_core::inbound::event::QueueMessage {
                id: format!("m{i}"),
                body: e.to_string(),
                receive_count: 1,
            }
        })
        .collect()
}

async fn recorder_bench(stack: &e2e::Stack) {
    use breakglass_core::trail::recorder::{record, SLOT};
    let config = config();
    let trail = breakglass_core::trail::audit::Trail {
        log: Discard,
        config: config.audit.clone().unwrap(),
        config_sha256: Some("bench".into()),
    };
    let batch = data_events(10_000);
    let now = time::OffsetDateTime::now_utc();
    let mut runs = Vec::new();
    for _ in 0..6 {
        let t = Instant::now();
        let r = record(&config, &trail, &NoBus, &batch, now, SLOT).await;
        runs.push(t.elapsed());
        assert_eq!((r.reads + r.denied, r.failed.len()), (10_000, 0));
    }
    runs.remove(0);
    let median = {
        let mut r = runs.clone();
        r.sort();
        r[r.len() / 2]
    };
    println!(
        "recorder, 10,000 data events per batch, in-memory trail, one core: {:.0} events/s  ({})",
        10_000.0 / median.as_secs_f64(),
        stats(runs)
    );

    // The real binary against moto: one SQS batch of 10,000 (Lambda's largest SQS batch; the
    // template asks for 1,000, which keeps the payload under Lambda's 6 MB).
    let recorder = Function::spawn("recorder", &stack.function_env());
    recorder.api.wait_ready();
    let records: Vec<serde_json::Value> = batch
        .iter()
        .map(|m| serde_json::json!({"messageId": m.id, "body": m.body, "eventSource": "aws:sqs"}))
        .collect();
    let payload = serde_json::json!({ "Records": records });
    let t = Instant::now();
    let answer = recorder.invoke(&payload).unwrap();
    let wall = t.elapsed();
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]), "{answer}");
    println!(
        "recorder binary, one batch of 10,000 ({:.1} MB) to moto: {:.2?} wall, {} records written",
        payload.to_string().len() as f64 / 1e6,
        wall,
        answer["records"]
    );
    if let Some(kib) = peak_rss_kib(recorder.pid()) {
        println!("peak RSS recorder after that batch     {:.1} MiB", kib as f64 / 1024.0);
    }
}
