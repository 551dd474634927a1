//! Issue 22: anyone allowed `events:PutEvents` on the default bus can put a CloudTrail-shaped event
//! under a source of their own (only the `aws.` sources are AWS's). The rules do not route it, and
//! a function handed it directly refuses it: no audit record of a call that never happened, no mail.

use e2e::{cloudtrail_event, root, rule_pattern, setup};
use serde_json::{json, Value};

const BUCKET: &str = "acme-cloudtrail-logs";
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";
const FORGED: &str = "breakglass.forged";

#[tokio::test(flavor = "current_thread")]
async fn regression_a_forged_default_bus_event_is_neither_routed_nor_recorded() {
    let Some(env) = setup().await else { return };
    let stack = &env.stack;
    // moto routes with template.yaml's own patterns: each of the default bus's rules names AWS only.
    for rule in ["S3ChangesRule", "ControlPlaneRule", "ObjectReadsRule"] {
        let pattern = rule_pattern(rule, &[BUCKET.to_owned()]);
        let sources: Vec<&str> =
            pattern["source"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(!sources.is_empty() && sources.iter().all(|s| s.starts_with("aws.")), "{rule}: {pattern}");
    }
    let mut call = cloudtrail_event("DeleteBucketPolicy", BUCKET, MALLORY, "mallory", None, None);
    let read_path = root().join("core/tests/fixtures/data-events/getobject.json");
    let mut read: Value = serde_json::from_str(&std::fs::read_to_string(read_path).unwrap()).unwrap();
    for event in [&mut call, &mut read] {
        event["source"] = json!(FORGED);
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(FORGED)
            .detail_type("AWS API Call via CloudTrail")
            .detail(event["detail"].to_string())
            .build();
        let r = stack.clients.events.put_events().entries(entry).send().await.unwrap();
        assert_eq!(r.failed_entry_count, 0);
    }
    for queue in [&stack.s3_calls, &stack.control_calls, &stack.reads] {
        assert_eq!(stack.drain(queue).await, Vec::<Value>::new(), "a forged event was routed to {queue}");
    }

    // Handed to the functions directly (a rule widened by mistake, a direct invoke): refused.
    let refusal = format!("api call event from source `{FORGED}`, not `aws.s3`: not sent by aws, refused");
    for function in [&env.enforcer, &env.notifier] {
        assert_eq!(function.invoke(&call).unwrap(), json!({ "ignored": refusal }));
    }
    assert!(stack.audit_records(BUCKET).await.is_empty(), "a call that never happened was recorded");
    assert!(stack.deliveries(&stack.stakeholders).await.is_empty());
    assert!(stack.deliveries(&stack.security).await.is_empty());
    assert!(stack.drain(&stack.own_events).await.is_empty());

    // The recorder keeps a forged read as unreadable, with the refusal, never as a read.
    stack.queue_read(&read).await;
    let recorder = env.iam.spawn(stack, "recorder").await;
    let answers = stack.record_reads(&recorder).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!((&answers[0]["reads"], &answers[0]["unreadable"]), (&json!(0), &json!(1)), "{answers:?}");
    assert!(stack.audit_under("_reads/").await.is_empty());
    let kept = stack.audit_under("_unreadable/").await;
    assert_eq!(kept.len(), 1);
    assert!(kept[0].1["reason"].as_str().unwrap().contains(FORGED), "{kept:?}");
}
