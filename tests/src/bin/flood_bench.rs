//! `make bench`, the flood (issue 22): on moto with the real binaries, 1,000 guarded calls that AWS
//! refused, put on the default bus within a minute, with one unlawful policy write in the middle.
//! The rules route as template.yaml does: the write to the enforcer and notifier, the refused calls
//! to the recorder's queue. As in AWS, the two paths run side by side: one thread plays the
//! recorder's event source mapping (batches of up to 100 messages), the main loop the call rules'
//! targets (enforcer, then notifier, then the remediation to the notifier) and watches the security
//! team's queue; both share one moto. Printed: how long the remediation's mail took from its event's put to the mail on the
//! security queue, the records written, and the digest mails per audience once the slot ended.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use e2e::{cloudtrail_event, provision, Function, Moto, REGION};
use serde_json::{json, Value};

const BUCKET: &str = "acme-cloudtrail-logs";
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";
const FLOOD: usize = 1000;
/// The digest slot of this run (the deployed one is 5 minutes): long enough for the flood to fit.
const SLOT_SECONDS: u64 = 90;

fn entry(event: &Value) -> aws_sdk_eventbridge::types::PutEventsRequestEntry {
    aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source("aws.s3")
        .detail_type("AWS API Call via CloudTrail")
        .detail(event["detail"].to_string())
        .build()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let moto = Moto::start_for("flood_bench");
    let stack = provision(&moto.endpoint).await;
    let mut env = stack.function_env();
    env.push(("BREAKGLASS_DIGEST_SLOT_SECONDS".into(), SLOT_SECONDS.to_string()));
    let enforcer = Function::spawn("enforcer", &env);
    let notifier = Function::spawn("notifier", &env);
    let recorder = Function::spawn("recorder", &env);
    let unlawful = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ClosedAccess", "Effect": "Allow",
        "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]})
    .to_string();
    // Start on a fresh slot, so that the whole flood is recorded in one slot.
    let slot = SLOT_SECONDS as i64;
    let into_slot = time::OffsetDateTime::now_utc().unix_timestamp().rem_euclid(slot);
    if into_slot > slot - 75 {
        tokio::time::sleep(Duration::from_secs((slot - into_slot + 1) as u64)).await;
    }
    println!(
        "Flood benchmark ({FLOOD} refused calls, one unlawful write in the middle; moto at {})",
        moto.endpoint
    );

    // The flood, from another thread: ten events a put, as fast as moto takes them (under a minute).
    let events = stack.clients.events.clone();
    let s3 = stack.clients.s3.clone();
    let (put_tx, put_rx) = std::sync::mpsc::channel::<Instant>();
    let unlawful_policy = unlawful.clone();
    let pump = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let start = Instant::now();
            for chunk in 0..FLOOD / 10 {
                let entries: Vec<_> = (0..10)
                    .map(|_| {
                        entry(&cloudtrail_event(
                            "PutBucketPolicy",
                            BUCKET,
                            MALLORY,
                            "flood",
                            Some(&unlawful_policy),
                            Some("AccessDenied"),
                        ))
                    })
                    .collect();
                let r = events.put_events().set_entries(Some(entries)).send().await.unwrap();
                assert_eq!(r.failed_entry_count, 0);
                if chunk == FLOOD / 20 {
                    s3.put_bucket_policy().bucket(BUCKET).policy(&unlawful_policy).send().await.unwrap();
                    let change = cloudtrail_event(
                        "PutBucketPolicy",
                        BUCKET,
                        MALLORY,
                        "flood",
                        Some(&unlawful_policy),
                        None,
                    );
                    events.put_events().entries(entry(&change)).send().await.unwrap();
                    put_tx.send(Instant::now()).unwrap();
                }
            }
            start.elapsed()
        })
    });

    // The recorder's path: batches until the flood is over and the queue is empty.
    let started = Instant::now();
    let (sqs, reads) = (stack.clients.sqs.clone(), stack.reads.clone());
    let flood_over = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let over = flood_over.clone();
    let recording = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (mut received, mut filed) = (0usize, 0u64);
            loop {
                let done = over.load(std::sync::atomic::Ordering::SeqCst);
                let answer = e2e::record_batch(&sqs, &reads, &recorder).await;
                // Every message is one of these in the answer.
                let kinds = ["refused_calls", "refused_ignored", "reads", "denied", "unreadable"];
                let n = answer
                    .as_ref()
                    .map_or(0, |a| kinds.iter().filter_map(|k| a[*k].as_u64()).sum::<u64>() as usize);
                let f = answer.as_ref().map_or(0, |a| a["refused_calls"].as_u64().unwrap_or(0));
                received += n;
                filed += f;
                if done && answer.is_none() {
                    return (received, filed, started.elapsed(), recorder);
                }
                if answer.is_none() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        })
    });

    let mut put_at = None;
    let mut mailed_after = None;
    let mut security_mails = Vec::new();
    loop {
        if put_at.is_none() {
            put_at = put_rx.try_recv().ok();
        }
        let answers = stack.route(&enforcer, &notifier).await;
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        let mails = stack.deliveries(&stack.security).await;
        if let (Some(at), None) = (put_at, mailed_after) {
            if mails.iter().any(|(_, d)| d["subject"].as_str().is_some_and(|s| s.contains("reverted"))) {
                mailed_after = Some(at.elapsed());
            }
        }
        security_mails.extend(mails);
        if pump.is_finished() && mailed_after.is_some() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "the remediation was not mailed in 10 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let flood_took = pump.join().unwrap();
    flood_over.store(true, std::sync::atomic::Ordering::SeqCst);
    let (received, filed, taken, recorder) = recording.join().unwrap();
    // Anything the call rules still delivered (nothing: the flood is the recorder's).
    stack.route(&enforcer, &notifier).await;
    security_mails.extend(stack.deliveries(&stack.security).await);
    let attempts_mailed = security_mails
        .iter()
        .filter(|(_, d)| d["subject"].as_str().is_some_and(|s| s.contains("refused")))
        .count();
    let records = stack.audit_under(&format!("_attempts/{BUCKET}/")).await.len();
    let mailed_after = mailed_after.unwrap();
    println!("flood put on the bus in                {flood_took:>9.3?} ({FLOOD} refused calls)");
    println!(
        "recorder took them all in              {taken:>9.3?} ({received} messages, {filed} records filed)"
    );
    println!("remediation: its event put → its mail  {mailed_after:>9.3?} (on the security team's queue)");
    println!("audit records of refused calls         {records:>9}");
    println!("refused calls mailed one by one        {attempts_mailed:>9}");

    // The slot ends; the schedule's digest mails it once.
    let into_slot = time::OffsetDateTime::now_utc().unix_timestamp().rem_euclid(slot);
    tokio::time::sleep(Duration::from_secs((slot - into_slot + 1) as u64)).await;
    let schedule = json!({"version": "0", "id": "digest-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "111122223333", "time": breakglass_core::time::format_time(time::OffsetDateTime::now_utc()),
        "region": REGION, "resources": [], "detail": {}});
    let digest = recorder.invoke(&schedule).unwrap();
    for own in stack.drain(&stack.own_events).await {
        notifier.invoke(&own).unwrap();
    }
    let mut per_audience = Vec::new();
    for (name, queue) in [("stakeholders", &stack.stakeholders), ("security", &stack.security)] {
        let mails = stack.deliveries(queue).await;
        let digests: Vec<&Value> =
            mails.iter().map(|(_, d)| d).filter(|d| d["detail_type"] == "breakglass refused calls").collect();
        let counted: u64 = digests.iter().filter_map(|d| d["count"].as_u64()).sum();
        println!(
            "digest mails to {name:<13}          {:>9} (counting {counted} refused calls)",
            digests.len()
        );
        per_audience.push((digests.len(), counted));
    }
    println!("digest run                             {}", digest["calls"]);
    let ok = mailed_after < Duration::from_secs(60)
        && records == FLOOD
        && attempts_mailed == 0
        && per_audience.iter().all(|&(n, c)| n == 1 && c == FLOOD as u64);
    println!("{}", if ok { "flood: OK" } else { "flood: FAILED" });
    if !ok {
        std::process::exit(1);
    }
}
