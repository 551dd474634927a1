//! Convergence under faults (issue 23): with a tenth of every service's requests throttled, failed,
//! reset or slowed by the chaos proxy, and one in 200 never answered, breakglass still ends where
//! it must, with nothing lost and nothing twice. Lambda is played as AWS plays it: several
//! enforcers at once, one notifier, a failed asynchronous invocation retried twice, and events
//! delivered out of order and some twice (EventBridge delivers at least once, in no promised
//! order), and a policy just written read back stale. Each scenario prints its record: faults
//! injected, retries, time to converge, records lost, duplicates. (The storm takes about five
//! minutes on two cores: the one notifier at a time and the SDK's backoff set the pace, as they
//! would in a deployment.)

use std::collections::BTreeMap;
use std::time::Instant;

use e2e::{
    cloudtrail_event, provision_config, single_operator_text_with, ChaosProxy, Faults, Function, Moto,
};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

const STORM: usize = 200;
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";
/// Lambda runs a failed asynchronous invocation twice more.
const ASYNC_ATTEMPTS: usize = 3;

/// Invokes as Lambda's asynchronous invocation does: retried on failure; counts the retries.
fn invoke_async(f: &Function, event: &Value, retries: &mut u64) -> Result<Value, String> {
    let mut last = Err("never invoked".to_owned());
    for attempt in 0..ASYNC_ATTEMPTS {
        if attempt > 0 {
            *retries += 1;
        }
        last = f.invoke(event);
        if last.is_ok() {
            break;
        }
    }
    last
}

/// A function's environment `env` behind the chaos proxy: its requests through the faults, and each
/// attempt given up after 2 s (shortened so that the tests do not wait the production default for a
/// request that is never answered).
fn behind(chaos: &ChaosProxy, env: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut env = e2e::with_endpoint(env, &chaos.endpoint);
    env.push(("BREAKGLASS_ATTEMPT_TIMEOUT_SECONDS".to_owned(), "2".to_owned()));
    env
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampering_storm_under_ten_percent_faults_ends_closed_with_one_record_and_a_mail_each() {
    let Some(moto) = Moto::start() else { return };
    let stack = provision_config(&moto.endpoint, single_operator_text_with("acme-storm", STORM)).await;
    // And every policy written is read back stale once (S3's bucket configuration is eventually
    // consistent): the enforcer reads again rather than report or rewrite.
    // Under IAM as the template grants it, behind the faults.
    let iam = stack.iam(&moto.endpoint);
    // And one request in 200 hangs, never answered: the clients' own attempt timeout (2 s here,
    // shortened so the test does not wait the production default) ends it and the SDK retries.
    // One in 200 is done but its answer lost: the retry meets a write that already happened.
    // Three in 1,000 are refused as made with expired credentials: the invocation fails and
    // Lambda's retry, with fresh credentials, completes it; nothing is reported as refused.
    let chaos = ChaosProxy::start(
        &iam.endpoint,
        Faults {
            stale_policy_reads: 1,
            hang_per_mille: 5,
            lost_answer_per_mille: 5,
            expired_per_mille: 3,
            ..Faults::everywhere(100, 23)
        },
    );
    let enforcer_env = behind(&chaos, iam.function_env(stack.function_env(), "enforcer").await);
    let notifier_env = behind(&chaos, iam.function_env(stack.function_env(), "notifier").await);
    // Lambda scales the enforcer out (its reserved concurrency); the notifier runs one at a time.
    let mut enforcers: Vec<Function> = (0..4).map(|_| Function::spawn("enforcer", &enforcer_env)).collect();
    // The notifier's log is kept: every mail beyond the first must be explained by a fault it logged.
    let notifier_log =
        std::env::temp_dir().join(format!("breakglass-storm-notifier-{}.log", std::process::id()));
    let mut notifier = Function::spawn_logged("notifier", &notifier_env, &notifier_log);
    let buckets: Vec<String> = (0..STORM).map(|n| format!("acme-storm-{n:02}")).collect();

    // The storm: every bucket's policy replaced, and CloudTrail's event for each through the rule.
    let started = Instant::now();
    let mut events = Vec::new();
    for b in &buckets {
        let tampered = stack.tamper(b).await;
        let event = cloudtrail_event("PutBucketPolicy", b, MALLORY, "mallory", Some(&tampered), None);
        stack.cloudtrail(&event).await;
        events.push(event);
    }
    let mut delivered = stack.drain(&stack.s3_calls).await;
    assert_eq!(delivered.len(), STORM, "the rule delivers each call once");
    // At least once: every tenth event comes twice; and out of order (a fixed shuffle).
    let again: Vec<Value> = delivered.iter().step_by(10).cloned().collect();
    delivered.extend(again);
    let mut state = 23u64;
    for i in (1..delivered.len()).rev() {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        delivered.swap(i, (state >> 33) as usize % (i + 1));
    }

    // The enforcers take the deliveries four at a time; the notifier gets each as well.
    let mut retries = 0u64;
    let mut lost = Vec::new();
    std::thread::scope(|scope| {
        let chunks: Vec<Vec<Value>> = (0..enforcers.len())
            .map(|i| delivered.iter().skip(i).step_by(enforcers.len()).cloned().collect())
            .collect();
        let handles: Vec<_> = enforcers
            .iter()
            .zip(chunks)
            .map(|(f, chunk)| {
                scope.spawn(move || {
                    let (mut retries, mut failed) = (0u64, Vec::new());
                    for e in &chunk {
                        if let Err(err) = invoke_async(f, e, &mut retries) {
                            failed.push(format!("{}: {err}", e["detail"]["requestParameters"]["bucketName"]));
                        }
                    }
                    (retries, failed)
                })
            })
            .collect();
        for e in &delivered {
            if let Err(err) = invoke_async(&notifier, e, &mut retries) {
                lost.push(format!("notifier: {err}"));
            }
        }
        for h in handles {
            let (r, failed) = h.join().unwrap();
            retries += r;
            lost.extend(failed);
        }
    });
    // The remediations, from the bus to the notifier (also at least once).
    let mut own = stack.drain(&stack.own_events).await;
    let again: Vec<Value> = own.iter().step_by(10).cloned().collect();
    own.extend(again);
    for e in &own {
        if let Err(err) = invoke_async(&notifier, e, &mut retries) {
            lost.push(format!("notifier: {err}"));
        }
    }
    let took = started.elapsed();

    // Every bucket closed, read from moto itself (not through the faults).
    let stack = &stack;
    // Eight reads at once (the stack's config parsed once: parsing it per bucket was 40 s of this test).
    let states: Vec<(&String, canonical_policies::State)> = stream::iter(&buckets)
        .map(|b| async move { (b, stack.live_state(b).await) })
        .buffered(8)
        .collect()
        .await;
    let open: Vec<String> = states
        .iter()
        .filter(|(_, state)| *state != canonical_policies::State::Closed)
        .map(|(b, state)| format!("{b}: {state:?}"))
        .collect();
    // Exactly one remediation record per bucket; at least one mail for each.
    // The trail listed once, the records read eight at once.
    let keys = stack.audit_keys("").await;
    let under = |b: &str| -> Vec<String> {
        keys.iter()
            .filter(|k| k.strip_prefix("breakglass/").is_some_and(|k| k.starts_with(&format!("{b}/"))))
            .cloned()
            .collect()
    };
    let remediations: BTreeMap<String, usize> = stream::iter(&buckets)
        .map(|b| {
            let keys = under(b);
            async move {
                let mut n = 0;
                for key in &keys {
                    n += usize::from(stack.audit_record(key).await["kind"] == "remediation");
                }
                (b.clone(), n)
            }
        })
        .buffered(8)
        .collect()
        .await;
    let mails = stack.deliveries(&stack.security).await;
    let mut mailed: BTreeMap<String, usize> = BTreeMap::new();
    for (attrs, doc) in &mails {
        if attrs["kind"]["Value"] == "remediation" {
            *mailed.entry(doc["bucket"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
        }
    }
    let count = chaos.count();
    let unrecorded: Vec<&String> = remediations.iter().filter(|(_, n)| **n == 0).map(|(b, _)| b).collect();
    let twice: Vec<&String> = remediations.iter().filter(|(_, n)| **n > 1).map(|(b, _)| b).collect();
    let unmailed: Vec<&String> = buckets.iter().filter(|b| !mailed.contains_key(*b)).collect();
    println!(
        "{}",
        count.record(json!({
            "scenario": "tampering storm", "buckets": STORM, "fault_per_mille": 113,
            "retries": retries, "seconds": took.as_secs_f64(),
            "records_lost": unrecorded.len(), "records_twice": twice.len(), "unmailed": unmailed.len(),
        }))
    );
    assert!(count.failed() >= 100, "the storm met faults: {count:?}");
    let hangs: u64 = count.faulted.iter().filter(|((k, _), _)| *k == "hang").map(|(_, n)| n).sum();
    assert!(hangs > 0, "the storm met hung requests: {count:?}");
    let stale: u64 = count.faulted.iter().filter(|((k, _), _)| *k == "stale-read").map(|(_, n)| n).sum();
    assert!(stale >= STORM as u64 / 2, "the write-backs met stale reads: {count:?}");
    assert!(open.is_empty(), "not closed: {open:?}");
    assert!(!lost.iter().any(|l| l.contains("panic")), "a function panicked: {lost:?}");
    assert!(lost.is_empty(), "invocations that failed every retry: {lost:?}");
    let mut twice_records = Vec::new();
    for b in &twice {
        for (key, r) in stack.audit_records(b).await.iter().filter(|(_, r)| r["kind"] == "remediation") {
            twice_records
                .push(format!("{key}: time {} events {} detail {}", r["time"], r["event_ids"], r["detail"]));
        }
    }
    assert!(
        unrecorded.is_empty() && twice.is_empty(),
        "lost {unrecorded:?}, twice {twice:?}: {twice_records:#?}"
    );
    assert!(unmailed.is_empty(), "no remediation mail for {unmailed:?}");
    let mut spread: BTreeMap<usize, usize> = BTreeMap::new();
    for n in mailed.values() {
        *spread.entry(*n).or_default() += 1;
    }
    println!("remediation mails: {}, buckets by mails: {spread:?}", mails.len());
    // Duplicated deliveries of a remediation are recorded once and mailed once (the mark of the
    // mail beside its record). A second mail needs a fault on that bucket's mail path, because a
    // standard topic (which email needs) has no idempotency key and the notifier mails twice
    // rather than never: a publish SNS took whose answer was lost (the SDK publishes again), read
    // from the chaos proxy's lost requests; a mark of a sent mail that could not be written, or
    // marks that could not be read, before a duplicated delivery; a record that could not be
    // written after its mail (Lambda's retry mails again), read from the notifier's log lines,
    // which name the record's key. Per bucket, every mail beyond the first is one of these (the
    // faults of the bucket's call mail count too: they share the path): none unexplained.
    let log = std::fs::read_to_string(&notifier_log).unwrap_or_default();
    let mail_faults = ["mail not marked as sent", "mail marks not readable", "audit record not written"];
    let explained = |b: &str| -> usize {
        let in_key = |l: &&str| l.contains(&format!("/{b}/")) || l.contains(&format!("\"{b}/"));
        let logged = log.lines().filter(|l| mail_faults.iter().any(|f| l.contains(f))).filter(in_key).count();
        let attribute = format!("StringValue={b}");
        let lost = count
            .lost
            .iter()
            .filter(|(service, body)| {
                service == "sns" && body.split('&').any(|field| field.ends_with(&attribute))
            })
            .count();
        logged + lost
    };
    let unexplained: Vec<String> = mailed
        .iter()
        .filter(|(b, n)| **n - 1 > explained(b))
        .map(|(b, n)| format!("{b}: {n} mails, {} faults on its mail path", explained(b)))
        .collect();
    let extra: usize = mailed.values().map(|n| n - 1).sum();
    let faults: usize = buckets.iter().map(|b| explained(b)).sum();
    println!("mails beyond the first: {extra}; mail-path faults on all buckets: {faults}");
    for (b, n) in mailed.iter().filter(|(_, n)| **n > 1) {
        println!("  {b}: {n} mails, {} faults on its mail path", explained(b));
    }
    assert!(unexplained.is_empty(), "mails beyond the first that no fault explains: {unexplained:?}");
    let _ = std::fs::remove_file(&notifier_log);
    for f in enforcers.iter_mut().chain([&mut notifier]) {
        assert!(f.is_running(), "a function died");
    }
}

/// The stale-read fault itself: after a policy is written, the next read still answers with the
/// policy read before the write, then the new one.
#[tokio::test(flavor = "multi_thread")]
async fn the_chaos_proxy_answers_a_read_after_a_write_with_the_previous_policy() {
    let Some(moto) = Moto::start() else { return };
    let chaos =
        ChaosProxy::start(&moto.endpoint, Faults { stale_policy_reads: 1, ..Faults::everywhere(0, 1) });
    let s3 = e2e::clients(&chaos.endpoint).await.s3;
    let bucket = "acme-stale-logs";
    e2e::bucket_in(&s3, bucket, e2e::REGION, false).await;
    let policy = |sid: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": sid, "Effect": "Deny", "Principal": "*",
            "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]})
        .to_string()
    };
    let read = || async { s3.get_bucket_policy().bucket(bucket).send().await.unwrap().policy.unwrap() };
    s3.put_bucket_policy().bucket(bucket).policy(policy("First")).send().await.unwrap();
    assert!(read().await.contains("First"));
    s3.put_bucket_policy().bucket(bucket).policy(policy("Second")).send().await.unwrap();
    assert!(read().await.contains("First"), "stale once");
    assert!(read().await.contains("Second"), "then consistent");
    assert_eq!(chaos.count().faulted.get(&("stale-read", "s3".to_owned())), Some(&1));
}

/// Issue 23, "an approval is never lost or applied twice": Alice requests, Bob approves and Alice
/// closes through the real gate, round after round, with a tenth of every service's requests
/// faulted (and some never answered, some done but their answer lost, some refused as made with
/// expired credentials). A person whose call is answered 502 (AWS failed) runs the same command
/// again. Every approval answered 200 has opened the bucket with exactly its grant, and is
/// recorded once; a repeated approve finds its own record and opens, never approves twice.
#[tokio::test(flavor = "multi_thread")]
async fn approvals_under_ten_percent_faults_are_recorded_once_and_open_what_was_approved() {
    const ROUNDS: usize = 8;
    const BUCKET: &str = "acme-cloudtrail-logs";
    const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";
    let Some(moto) = Moto::start() else { return };
    let stack = provision_config(&moto.endpoint, e2e::two_person_text()).await;
    let iam = stack.iam(&moto.endpoint);
    let chaos = ChaosProxy::start(
        &iam.endpoint,
        Faults {
            hang_per_mille: 5,
            lost_answer_per_mille: 10,
            expired_per_mille: 5,
            ..Faults::everywhere(100, 41)
        },
    );
    let mut env = stack.function_env();
    env.push(("BREAKGLASS_GATE_ROLES".into(), "breakglass-operator".into()));
    let gate = Function::spawn("gate", &behind(&chaos, iam.function_env(env, "gate").await));
    iam.invoke_url("breakglass-operator", "breakglass-gate").unwrap();
    let person =
        |name: &str| format!("arn:aws:sts::{}:assumed-role/breakglass-operator/{name}", e2e::MOTO_ACCOUNT);
    let (alice, bob) = (person("alice"), person("bob"));
    // A call answered 502 is made again, up to four times in all; anything else is its answer.
    let mut again: BTreeMap<String, u64> = BTreeMap::new();
    let mut call = |who: &str, body: Value| -> (u64, Value) {
        let mut last = (0, Value::Null);
        for attempt in 0..4 {
            if attempt > 0 {
                *again.entry(body["op"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
            }
            let answer = gate.invoke(&e2e::url_event(who, "POST", &body.to_string())).unwrap();
            let status = answer["statusCode"].as_u64().unwrap();
            last = (
                status,
                serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null),
            );
            if status != 502 {
                break;
            }
        }
        last
    };
    let started = Instant::now();
    let mut approved = Vec::new();
    for round in 0..ROUNDS {
        let ask = json!({"op": "request", "bucket": BUCKET, "readers": [READER], "duration": "2h",
            "reason": format!("incident {round}"), "ticket": format!("SEC-{round}")});
        let (status, q) = call(&alice, ask);
        assert_eq!(status, 200, "round {round}: request {q}");
        let id = q["id"].as_str().unwrap().to_owned();
        let (status, answer) = call(&bob, json!({"op": "approve", "request": id}));
        assert_eq!(status, 200, "round {round}: approve {answer}");
        // Open now, with exactly the grant the approval names.
        let live = stack.live_policy(BUCKET).await.unwrap();
        let b = stack.config.bucket(BUCKET).unwrap();
        let c = canonical_policies::classify(b, Some(live.as_bytes()), time::OffsetDateTime::now_utc());
        let canonical_policies::State::Open(g) = c.state else {
            panic!("round {round}: not open after 200: {c}")
        };
        assert_eq!(g.readers.iter().collect::<Vec<_>>(), [READER], "round {round}");
        approved.push((id, g));
        let (status, answer) = call(&alice, json!({"op": "close", "bucket": BUCKET, "reason": "done"}));
        assert_eq!(status, 200, "round {round}: close {answer}");
        assert_eq!(stack.live_state(BUCKET).await, canonical_policies::State::Closed, "round {round}");
    }
    let took = started.elapsed();
    // The trail read from moto itself: one request and one approval recorded per round's request,
    // the approval's grant the one that was opened.
    let records: Vec<Value> = stack.audit_records(BUCKET).await.into_iter().map(|(_, r)| r).collect();
    let by_gate = |action: &str, id: &str| -> Vec<&Value> {
        records
            .iter()
            .filter(|r| r["writer"] == "gate" && r["action"] == action && r.to_string().contains(id))
            .collect()
    };
    let b = stack.config.bucket(BUCKET).unwrap();
    let (mut lost, mut twice) = (Vec::new(), Vec::new());
    for (id, grant) in &approved {
        assert_eq!(by_gate("requested", id).len(), 1, "request {id}: {records:#?}");
        match by_gate("approved", id).len() {
            0 => lost.push(format!("{id}: no approval recorded")),
            1 => {}
            n => twice.push(format!("{id}: approval recorded {n} times")),
        }
        if let Err(e) = breakglass_core::access::approval::check(b, grant, &records) {
            lost.push(format!("{id}: the grant opened is not the approved one: {e}"));
        }
    }
    let count = chaos.count();
    println!(
        "{}",
        count.record(json!({
            "scenario": "approvals", "rounds": ROUNDS, "fault_per_mille": 120,
            "calls_made_again": again, "seconds": took.as_secs_f64(),
            "approvals_lost": lost.len(), "approvals_twice": twice.len(),
        }))
    );
    assert!(lost.is_empty() && twice.is_empty(), "lost {lost:?}, twice {twice:?}: {records:#?}");
    assert!(count.failed() >= 10, "the rounds met faults: {count:?}");
}
