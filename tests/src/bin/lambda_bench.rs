//! `make bench`, second part: the Lambdas. Run on release binaries (`cargo build --release`).
//! - cold start: process exec until the function polls the Runtime API for its first event;
//! - warm invocation against moto: a guarded call on a closed bucket (one GetBucketPolicy, classify);
//! - handler overhead beyond the AWS calls: the same event through the handler with in-memory ports;
//! - peak RSS of the enforcer after the warm runs; the zip sizes `cargo lambda build` produced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use breakglass_core::enforce::Enforcer;
use breakglass_core::handler::enforce_event;
use breakglass_core::ports::{BusEvent, EventBus, PolicyStore, PortError};
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(moto) = Moto::start() else {
        eprintln!("moto is not installed: run scripts/venv.sh");
        std::process::exit(1);
    };
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

    for name in ["enforcer", "notifier"] {
        let mut cold = Vec::new();
        for _ in 0..20 {
            let f = Function::spawn(name, &stack.function_env());
            cold.push(f.api.wait_ready() - f.started);
        }
        println!("cold start {name:<9} exec → first poll   {}", stats(cold));
    }

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
    if let Some(kib) = peak_rss_kib(enforcer.pid()) {
        println!("peak RSS enforcer after 210 invokes    {:.1} MiB", kib as f64 / 1024.0);
    }

    let memory = Enforcer {
        config: config(),
        store: Memory(closed.clone()),
        bus: NoBus,
        records: breakglass_core::approval::NoRecords,
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

    for name in ["enforcer", "notifier", "catalog"] {
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
