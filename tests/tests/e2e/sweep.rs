//! The sweep fanned out by shard through a queue, on moto with the real enforcer and notifier: the
//! schedule plans, the queue's messages are swept, a shard that keeps failing is retried and then
//! alerted with the buckets it could not check, and the close mails what the shards reverted as one
//! digest per audience while each bucket keeps its own record.

use e2e::{provision_config, single_operator_text, single_operator_text_with, Function, Moto};
use serde_json::{json, Value};

fn schedule(id: &str, time: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": time, "region": "eu-central-1", "resources": [], "detail": {}})
}

#[tokio::test(flavor = "current_thread")]
async fn a_failing_shard_is_retried_then_alerted_with_its_buckets_and_the_others_are_mailed_as_one_digest() {
    let Some(moto) = Moto::start() else { return };
    let text = single_operator_text_with("acme-swept-logs", 10);
    let stack = provision_config(&moto.endpoint, text.clone()).await;
    let config = breakglass_config::Config::from_toml(&text).unwrap();
    // Eight tampered buckets, and one that is configured but gone: it fails its shard on every try.
    let tampered: Vec<String> = (0..8).map(|n| format!("acme-swept-logs-{n:02}")).collect();
    for b in &tampered {
        let open_to_all = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ClosedAccess", "Effect": "Allow",
            "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{b}/*")}]});
        stack.clients.s3.put_bucket_policy().bucket(b).policy(open_to_all.to_string()).send().await.unwrap();
    }
    let gone = "acme-swept-logs-09";
    stack.clients.s3.delete_bucket().bucket(gone).send().await.unwrap();

    let (queue, dead_letters) = stack.sweep_queue(breakglass_core::guard::sweep::ATTEMPTS).await;
    let mut env = stack.function_env();
    env.push(("BREAKGLASS_SWEEP_QUEUE".into(), queue.clone()));
    env.push(("BREAKGLASS_SWEEP_CLOSE_DELAY_SECONDS".into(), "0".into()));
    let iam = stack.iam(&moto.endpoint);
    let enforcer = Function::spawn("enforcer", &iam.function_env(env, "enforcer").await);
    let notifier = iam.spawn(&stack, "notifier").await;

    // The schedule plans: one shard (one account, one Region) and the close; no bucket is read yet.
    let planned = enforcer.invoke(&schedule("7e2a9c1d-sweep", "2026-12-02T17:00:00Z")).unwrap();
    assert_eq!(planned["sweep"]["shards"], 1, "{planned}");
    assert!(planned["buckets"].as_array().unwrap().is_empty(), "{planned}");
    let policy = stack.live_policy("acme-swept-logs-00").await.unwrap();
    assert!(policy.contains("\"Principal\":\"*\""), "not swept by the planning invocation: {policy}");

    // One message per invocation, as a busy mapping would hand them out.
    let answers = stack.run_sweep_queue(&queue, &enforcer, 1).await;
    let shard_tries: Vec<&Value> = answers
        .iter()
        .flat_map(|a| a["sweep"].as_array().unwrap())
        .filter(|s| s.get("index").is_some())
        .collect();
    assert_eq!(
        shard_tries.len(),
        breakglass_core::guard::sweep::ATTEMPTS as usize,
        "tried until the dead-letter queue: {answers:?}"
    );
    assert_eq!(shard_tries[0]["remediated"], 8, "{answers:?}");
    assert_eq!(shard_tries[0]["checked"], 11, "every bucket but the gone one: {answers:?}");
    assert_eq!(shard_tries[0]["unchecked"], json!([gone]));
    assert_eq!(shard_tries[2]["remediated"], 0, "closed on the first try, lawful since");
    let dead = stack.drain(&dead_letters).await;
    assert_eq!(dead.len(), 1, "the shard waits in the dead-letter queue (alarmed): {dead:?}");
    assert_eq!(dead[0]["kind"], "shards");
    for b in &tampered {
        assert!(stack.live_policy(b).await.unwrap().contains("ClosedAccess"));
    }

    // The notifier: one digest and one alert for the security team, nothing for stakeholders.
    let own = stack.drain(&stack.own_events).await;
    let kinds: Vec<&str> = own.iter().map(|e| e["detail-type"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "breakglass remediation").count(), 8, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "breakglass remediation digest").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "breakglass sweep incomplete").count(), 1, "{kinds:?}");
    for e in &own {
        notifier.invoke(e).unwrap();
    }
    let security = stack.deliveries(&stack.security).await;
    let subjects: Vec<&str> = security.iter().map(|(_, d)| d["subject"].as_str().unwrap()).collect();
    assert_eq!(security.len(), 2, "{subjects:?}");
    let incomplete =
        security.iter().find(|(_, d)| d["subject"].as_str().unwrap().contains("sweep incomplete")).unwrap();
    assert!(incomplete.1["text"].as_str().unwrap().contains(gone), "{}", incomplete.1);
    assert!(subjects.iter().any(|s| s.contains("8 buckets reverted to ClosedAccess")), "{subjects:?}");
    assert!(stack.deliveries(&stack.stakeholders).await.is_empty());

    // Each reverted bucket: one remediation record; the shard's own record of what it did.
    for b in &tampered {
        let records = stack.audit_records(b).await;
        assert_eq!(records.iter().filter(|(_, r)| r["kind"] == "remediation").count(), 1, "{b}: {records:?}");
    }
    let shards = stack.audit_under("_sweeps/").await;
    assert!(
        shards
            .iter()
            .any(|(k, r)| k.ends_with("00000-1.json") && r["remediations"].as_array().unwrap().len() == 8),
        "{shards:?}"
    );
    assert!(shards.iter().any(|(k, _)| k.ends_with("closed.json")));
    assert_eq!(config.buckets.len(), 12);
}

#[tokio::test(flavor = "current_thread")]
async fn a_clean_sweep_reads_each_policy_once_and_writes_nothing() {
    let Some(moto) = Moto::start() else { return };
    let stack = provision_config(&moto.endpoint, single_operator_text()).await;
    let iam = stack.iam(&moto.endpoint);
    let proxy = e2e::FaultProxy::recording(&iam.endpoint);
    let (queue, _) = stack.sweep_queue(breakglass_core::guard::sweep::ATTEMPTS).await;
    let mut env = iam.function_env(stack.function_env(), "enforcer").await;
    for (k, v) in env.iter_mut() {
        if k == "AWS_ENDPOINT_URL" {
            *v = proxy.endpoint.clone();
        }
    }
    env.push(("BREAKGLASS_SWEEP_QUEUE".into(), queue.clone()));
    env.push(("BREAKGLASS_SWEEP_CLOSE_DELAY_SECONDS".into(), "0".into()));
    let enforcer = Function::spawn("enforcer", &env);
    // 17:20: not the hourly sweep of the bucket settings.
    enforcer.invoke(&schedule("clean", "2026-12-02T17:20:00Z")).unwrap();
    let before = proxy.with("").len();
    stack.run_sweep_queue(&queue, &enforcer, 10).await;
    let buckets = breakglass_config::Config::from_toml(&stack.config_text).unwrap().buckets.len();
    let s3_gets = proxy.with("GET /").iter().filter(|l| l.contains("?policy")).count();
    assert_eq!(s3_gets, buckets, "{:?}", proxy.with(""));
    // The only write of a clean sweep is the close's marker in the audit trail, once per sweep.
    let writes = proxy.with("PUT /");
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].starts_with(&format!("PUT /{}/breakglass/_sweeps/", stack.audit_bucket)), "{writes:?}");
    assert!(proxy.with("").len() > before);
    assert!(stack.drain(&stack.own_events).await.is_empty());
}
