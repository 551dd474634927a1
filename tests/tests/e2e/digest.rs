//! Mail that scales: one sweep that reverts fifty buckets at once (a script gone wrong, a changed
//! base statement) mails people one digest, not fifty alerts, while every remediation keeps its own
//! audit record and its own message for machine subscribers. The real enforcer and notifier on moto.

use e2e::{provision_config, single_operator_text_with, Function, Moto};
use serde_json::json;

/// As deployed: the schedule plans, the shard reverts, the close mails.
#[tokio::test(flavor = "current_thread")]
async fn fifty_remediations_in_one_fanned_out_sweep_are_one_digest_mail_per_audience_and_fifty_records() {
    fifty(true).await;
}

/// The sweep without a queue (the CLI's `enforce`, older stacks).
#[tokio::test(flavor = "current_thread")]
async fn fifty_remediations_in_one_sweep_are_one_digest_mail_per_audience_and_fifty_records() {
    fifty(false).await;
}

async fn fifty(fanned_out: bool) {
    let Some(moto) = Moto::start() else { return };
    let text = single_operator_text_with("acme-bulk-logs", 48);
    let stack = provision_config(&moto.endpoint, text.clone()).await;
    let config = breakglass_config::Config::from_toml(&text).unwrap();
    assert_eq!(config.buckets.len(), 50);
    for b in &config.buckets {
        let open_to_all = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ClosedAccess", "Effect": "Allow",
            "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{}/*", b.name)}]});
        stack
            .clients
            .s3
            .put_bucket_policy()
            .bucket(&b.name)
            .policy(open_to_all.to_string())
            .send()
            .await
            .unwrap();
    }
    let mut env = stack.function_env();
    let queue = match fanned_out {
        true => {
            let (queue, _) = stack.sweep_queue(breakglass_core::guard::sweep::ATTEMPTS).await;
            env.push(("BREAKGLASS_SWEEP_QUEUE".into(), queue.clone()));
            env.push(("BREAKGLASS_SWEEP_CLOSE_DELAY_SECONDS".into(), "0".into()));
            Some(queue)
        }
        false => None,
    };
    let iam = stack.iam(&moto.endpoint);
    let enforcer = Function::spawn("enforcer", &iam.function_env(env, "enforcer").await);
    let notifier = iam.spawn(&stack, "notifier").await;
    let sweep = json!({"version": "0", "id": "sweep-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-02T17:00:00Z", "region": "eu-central-1", "resources": [], "detail": {}});
    let answer = enforcer.invoke(&sweep).unwrap();
    let reverted: u64 = match &queue {
        // The plan, then the shard (all 50 buckets of the account and Region) and the close.
        Some(queue) => {
            assert_eq!(answer["sweep"]["buckets"], 50, "{answer}");
            let answers = stack.run_sweep_queue(queue, &enforcer, 10).await;
            let shards: Vec<&serde_json::Value> =
                answers.iter().flat_map(|a| a["sweep"].as_array().unwrap().iter()).collect();
            assert!(shards.iter().any(|s| s["remediations"] == 50), "the close gathered them: {shards:?}");
            shards.iter().filter_map(|s| s["remediated"].as_u64()).sum()
        }
        None => {
            answer["buckets"].as_array().unwrap().iter().filter(|b| b["outcome"] == "closed").count() as u64
        }
    };
    assert_eq!(reverted, 50);

    // A machine subscriber (SQS, no filter policy), added after the sweep so that the enforcer's
    // check of the subscriptions does not count it.
    let machines =
        stack.clients.sqs.create_queue().queue_name("machines").send().await.unwrap().queue_url.unwrap();
    let machines_arn = "arn:aws:sqs:eu-central-1:123456789012:machines";
    stack.subscribe_queue(machines_arn).await;

    let own = stack.drain(&stack.own_events).await;
    let digests = own.iter().filter(|e| e["detail-type"] == "breakglass remediation digest").count();
    let remediations = own.iter().filter(|e| e["detail-type"] == "breakglass remediation").count();
    assert_eq!((remediations, digests), (50, 1));
    for e in &own {
        notifier.invoke(e).unwrap();
    }
    let security = stack.deliveries(&stack.security).await;
    assert_eq!(
        security.len(),
        1,
        "one digest for the security team: {:?}",
        security.iter().map(|(_, d)| &d["subject"]).collect::<Vec<_>>()
    );
    let (_, digest) = &security[0];
    assert!(digest["subject"].as_str().unwrap().contains("50 buckets reverted to ClosedAccess"), "{digest}");
    assert!(digest["text"].as_str().unwrap().contains("acme-bulk-logs-47"));
    assert!(
        stack.deliveries(&stack.stakeholders).await.is_empty(),
        "remediations are not the stakeholders' mail"
    );
    let to_machines = stack.deliveries(&machines).await;
    assert_eq!(to_machines.len(), 51, "machines get every message");
    assert_eq!(to_machines.iter().filter(|(a, _)| a["digested"].is_object()).count(), 50);

    // One record per bucket, and the digest's under _control.
    for b in &config.buckets {
        let records = stack.audit_records(&b.name).await;
        let rem: Vec<_> = records.iter().filter(|(_, r)| r["kind"] == "remediation").collect();
        assert_eq!(rem.len(), 1, "{}: {records:?}", b.name);
        assert_eq!(rem[0].1["detail"]["digest"], digest["id"]);
    }
    let control = stack.audit_records("_control").await;
    assert!(control.iter().any(|(_, r)| r["action"] == "digest"), "{control:?}");
}
