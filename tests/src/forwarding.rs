//! Organisation mode's forwarding on moto: the member stack's rules (`organisation/member.yaml`'s
//! patterns) on the default bus of a logging account, their target the central bus; moto routes
//! between them as EventBridge does across accounts, with one difference [`as_aws_forwards`] undoes.

use serde_json::{json, Value};

use crate::*;

/// The member stack's forwarder `rule` (its name in member.yaml, the name it gets) in `account` and
/// `region`, targeting the central bus of `admin` in `home`, with the stack's parameters.
pub async fn member_forwarder(
    endpoint: &str,
    (account, region): (&str, &str),
    (admin, home): (&str, &str),
    bucket_prefix: &str,
    (rule, name): (&str, &str),
) {
    let events = account_clients(endpoint, account, region).await.events;
    let params = [
        ("ProtectedBucketPrefix", json!(bucket_prefix)),
        ("AdministrativeAccountId", json!(admin)),
        ("HomeRegion", json!(home)),
    ];
    let pattern = pattern_in("organisation/member.yaml", rule, account, region, &params);
    events.put_rule().name(name).event_pattern(pattern.to_string()).send().await.unwrap();
    let central_bus = format!("arn:aws:events:{home}:{admin}:event-bus/breakglass");
    let target = aws_sdk_eventbridge::types::Target::builder().id("central-bus").arn(central_bus);
    events.put_targets().rule(name).targets(target.build().unwrap()).send().await.unwrap();
}

/// Puts the CloudTrail record `detail` on the default bus of `account` in `region`, as CloudTrail
/// there would (the source from its `eventSource`).
pub async fn cloudtrail_in(endpoint: &str, account: &str, region: &str, detail: &Value) {
    let service = detail["eventSource"].as_str().unwrap_or("s3").split('.').next().unwrap_or("s3");
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source(format!("aws.{service}"))
        .detail_type("AWS API Call via CloudTrail")
        .detail(detail.to_string())
        .build();
    let events = account_clients(endpoint, account, region).await.events;
    let put = events.put_events().entries(entry).send().await.unwrap();
    assert_eq!(put.failed_entry_count, 0);
}

/// A CloudTrail-shaped event re-stamped as made in `account` and `region`: the record, its caller
/// and its resources name that account.
pub fn made_in(mut e: Value, account: &str, region: &str) -> Value {
    let d = &mut e["detail"];
    d["recipientAccountId"] = json!(account);
    d["awsRegion"] = json!(region);
    d["userIdentity"]["accountId"] = json!(account);
    if let Some(arn) = d["userIdentity"]["arn"].as_str() {
        let mut parts: Vec<String> = arn.splitn(6, ':').map(str::to_owned).collect();
        if let Some(p) = parts.get_mut(4) {
            *p = account.to_owned();
        }
        d["userIdentity"]["arn"] = json!(parts.join(":"));
    }
    d["userIdentity"]["sessionContext"]["sessionIssuer"]["accountId"] = json!(account);
    if let Some(resources) = d["resources"].as_array_mut() {
        for r in resources.iter_mut().filter(|r| r.get("accountId").is_some()) {
            r["accountId"] = json!(account);
        }
    }
    e["account"] = json!(account);
    e["region"] = json!(region);
    e
}

/// moto's cross-account delivery puts the event on the central bus as a new `PutEvents` of the
/// administrative account, so its envelope names that account; AWS keeps the account the event
/// came from. Put back what AWS would carry: the record's `recipientAccountId`.
pub fn as_aws_forwards(mut e: Value) -> Value {
    e["account"] = e["detail"]["recipientAccountId"].clone();
    e
}

/// Hands `events` (as the central rules delivered them to the read queue) to the recorder as one
/// SQS batch, the way its event source mapping would; returns its answer.
pub fn record_forwarded(recorder: &Function, events: &[Value], admin: &str, home: &str) -> Option<Value> {
    if events.is_empty() {
        return None;
    }
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(n, e)| {
            let id = format!("fwd-{n}-{}", e["id"].as_str().unwrap_or_default());
            crate::stack::sqs_record(&id, "r", &as_aws_forwards(e.clone()).to_string(), admin, home)
        })
        .collect();
    Some(recorder.invoke(&json!({ "Records": records })).unwrap())
}
