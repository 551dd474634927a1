//! Floods are digested (issue 22, flooding): refused guarded calls go through template.yaml's
//! refused-call rule to the recorder's queue, never to the enforcer and notifier. Each gets its
//! audit record at once, the digest mails them once per audience per bucket and slot, and a
//! remediation put in the middle of the flood is mailed at once, before the digest. The real
//! enforcer, notifier and recorder on moto.

use e2e::{cloudtrail_event, setup, Function};
use serde_json::{json, Value};

const BUCKET: &str = "acme-cloudtrail-logs";
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";

#[tokio::test(flavor = "current_thread")]
async fn fifty_refused_calls_are_fifty_records_and_one_digest_per_audience_and_the_remediation_goes_first() {
    let Some(env) = setup().await else { return };
    let stack = &env.stack;
    // Two-second slots instead of five minutes, so that the test need not wait for a slot to end.
    let mut function_env = stack.function_env();
    function_env.push(("BREAKGLASS_DIGEST_SLOT_SECONDS".into(), "2".into()));
    let recorder = Function::spawn("recorder", &env.iam.function_env(function_env, "recorder").await);
    let unlawful = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ClosedAccess", "Effect": "Allow",
        "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]})
    .to_string();
    for n in 0..50 {
        let refused = cloudtrail_event(
            "PutBucketPolicy",
            BUCKET,
            MALLORY,
            "flood",
            Some(&unlawful),
            Some("AccessDenied"),
        );
        stack.cloudtrail(&refused).await;
        if n == 25 {
            // In the middle of the flood, one write gets through.
            stack.clients.s3.put_bucket_policy().bucket(BUCKET).policy(&unlawful).send().await.unwrap();
            let change = cloudtrail_event("PutBucketPolicy", BUCKET, MALLORY, "flood", Some(&unlawful), None);
            stack.cloudtrail(&change).await;
        }
    }

    // The enforcer and the notifier get the one change, none of the attempts: the remediation and
    // the alert are mailed at once.
    let answers = stack.route(&env.enforcer, &env.notifier).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].clone().unwrap()["buckets"][0]["outcome"], "closed");
    let security = stack.deliveries(&stack.security).await;
    let subjects: Vec<&str> = security.iter().filter_map(|(_, d)| d["subject"].as_str()).collect();
    assert!(subjects.iter().any(|s| s.contains("reverted")), "{subjects:?}");
    assert!(!subjects.iter().any(|s| s.contains("refused")), "no attempt mailed on its own: {subjects:?}");
    stack.drain(&stack.stakeholders).await;

    // The recorder: fifty records at once, no mail yet.
    let answers = stack.record_reads(&recorder).await;
    let filed: u64 = answers.iter().map(|a| a["refused_calls"].as_u64().unwrap_or(0)).sum();
    assert_eq!(filed, 50, "{answers:?}");
    assert!(answers.iter().all(|a| a["batchItemFailures"] == json!([])), "{answers:?}");
    let records = stack.audit_under(&format!("_attempts/{BUCKET}/")).await;
    assert_eq!(records.len(), 50);
    assert!(records.iter().all(|(_, r)| r["kind"] == "attempt" && r["action"] == "PutBucketPolicy"));
    assert!(stack.drain(&stack.own_events).await.is_empty(), "refused calls are mailed by the digest only");

    // The slot ends; the scheduled digest mails it once, then never again.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let schedule = json!({"version": "0", "id": "digest-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "111122223333", "time": breakglass_core::time::format_time(time::OffsetDateTime::now_utc()),
        "region": "eu-central-1", "resources": [], "detail": {}});
    let first = recorder.invoke(&schedule).unwrap();
    assert_eq!(
        (first["calls"]["calls"].as_u64(), first["calls"]["mails"].as_u64()),
        (Some(50), Some(1)),
        "{first}"
    );
    assert_eq!(recorder.invoke(&schedule).unwrap()["calls"]["mails"], 0);
    let own = stack.drain(&stack.own_events).await;
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["detail-type"], "breakglass refused calls");
    env.notifier.invoke(&own[0]).unwrap();
    for audience in [&stack.stakeholders, &stack.security] {
        let mails = stack.deliveries(audience).await;
        assert_eq!(mails.len(), 1, "one digest per audience: {mails:?}");
        let (attrs, doc): &(Value, Value) = &mails[0];
        assert_eq!(attrs["kind"]["Value"], "attempt");
        assert_eq!(doc["count"], 50);
        assert_eq!(doc["by"][0]["principal"], MALLORY);
        assert!(doc["subject"].as_str().unwrap().contains("50 refused attempt(s)"), "{doc}");
        let text = doc["text"].as_str().unwrap();
        assert!(
            text.contains("PutBucketPolicy by arn:aws:iam::111122223333:role/mallory: 50 refused"),
            "{text}"
        );
        assert!(text.contains(&format!("breakglass history --bucket {BUCKET}")), "{text}");
    }
    // The digest has its record, beside the remediation's.
    let records = stack.audit_records(BUCKET).await;
    assert!(records.iter().any(|(_, r)| r["kind"] == "attempt" && r["action"] == "digest"), "{records:?}");
    // The command the mail names lists every refused call, each record's signature checked.
    let config = e2e::single_operator_path();
    let operator = env.iam.person_env("breakglass-operator", "alice").await;
    let (code, out, err) = e2e::breakglass_as(
        &operator,
        &env.iam.endpoint,
        &["history", "--config", &config, "--bucket", BUCKET, "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let history: Value = serde_json::from_str(&out).unwrap();
    let refused = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "attempt" && e["action"] == "PutBucketPolicy" && e["why"] == "AccessDenied")
        .count();
    assert_eq!(refused, 50, "{out}");
}
