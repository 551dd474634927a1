//! The heartbeat in organisation mode, through the forwarders: each logging account's default bus
//! carries the member stack's rules (`organisation/member.yaml`'s patterns) with the central bus as
//! their target, the central bus the administrative stack's rules (template.yaml's) with the queues
//! as theirs; moto routes between them. The test plays each account's trail: the heartbeat's re-put
//! and refused canary read become CloudTrail-shaped events on that account's default bus. With the
//! forwarders in place nothing alarms; with one account's forwarders removed, both halves of that
//! account alarm on both channels within two periods, naming the account and Region, and no other
//! place does.

use e2e::{
    account_clients, cloudtrail_event, pattern_in, provision_config, role_env, root, Function, Moto, Stack,
};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const ADMIN: &str = "999900000000";
const HOME: &str = "eu-central-1";
const DEV: &str = "222200000000";
const PERIOD: Duration = Duration::minutes(15);
/// The member stack's forwarders of the two halves, by their template names and the names they get.
const FORWARDERS: [(&str, &str); 2] =
    [("ForwardS3Changes", "breakglass-forward-s3"), ("ForwardObjectReads", "breakglass-forward-reads")];

fn at(i: i32) -> OffsetDateTime {
    OffsetDateTime::parse("2026-12-02T17:00:00Z", &Rfc3339).unwrap() + PERIOD * i
}

fn schedule(t: OffsetDateTime) -> Value {
    json!({"version": "0", "id": format!("hb-{}", t.unix_timestamp()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": ADMIN, "time": t.format(&Rfc3339).unwrap(),
        "region": HOME, "resources": [], "detail": {}})
}

/// The trail's records, in `account` and `region`, of the heartbeat the enforcer sent there at `t`
/// through the member role (session `breakglass-enforcer`).
fn heartbeat_details(account: &str, region: &str, bucket: &str, t: OffsetDateTime) -> [Value; 2] {
    let role = format!("arn:aws:iam::{account}:role/breakglass-member");
    let time = (t + Duration::seconds(20)).format(&Rfc3339).unwrap();
    let agent = format!(
        "aws-sdk-rust/1.3.9 os/linux lang/rust/1.86.0 app/{}",
        breakglass_core::trail::heartbeat::AGENT
    );
    let canary = breakglass_core::trail::heartbeat::CANARY_KEY;
    let put = cloudtrail_event("PutBucketPolicy", bucket, &role, "breakglass-enforcer", Some("{}"), None);
    let read =
        cloudtrail_event("GetObject", bucket, &role, "breakglass-enforcer", None, Some("AccessDenied"));
    [put, read].map(|mut e| {
        let d = &mut e["detail"];
        d["eventTime"] = json!(time);
        d["userAgent"] = json!(agent);
        d["recipientAccountId"] = json!(account);
        d["awsRegion"] = json!(region);
        d["userIdentity"]["accountId"] = json!(account);
        d["userIdentity"]["arn"] =
            json!(format!("arn:aws:sts::{account}:assumed-role/breakglass-member/breakglass-enforcer"));
        d["userIdentity"]["sessionContext"]["sessionIssuer"]["accountId"] = json!(account);
        d["resources"][0]["accountId"] = json!(account);
        if d["eventName"] == "GetObject" {
            d["requestParameters"]["key"] = json!(canary);
            d["managementEvent"] = json!(false);
            d["eventCategory"] = json!("Data");
            d["readOnly"] = json!(true);
            d["resources"] = json!([
                {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{canary}")},
                {"accountId": account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")},
            ]);
        }
        e["detail"].take()
    })
}

/// moto's cross-account delivery puts the event on the central bus as a new `PutEvents` of the
/// administrative account, so its envelope names that account; AWS keeps the account the event
/// came from. Put back what AWS would carry: the record's `recipientAccountId`.
fn as_aws_forwards(mut e: Value) -> Value {
    e["account"] = e["detail"]["recipientAccountId"].clone();
    e
}

struct Run {
    stack: Stack,
    enforcer: Function,
    notifier: Function,
    recorder: Function,
    /// The central queue of forwarded guarded S3 calls (`ForwardedS3ChangesRule`'s target here,
    /// delivered to both of the rule's targets, the enforcer and the notifier).
    forwarded_calls: String,
    _moto: Moto,
}

async fn start() -> Option<Run> {
    let moto = Moto::start()?;
    let text = std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap();
    let stack = provision_config(&moto.endpoint, text).await;
    let config = breakglass_config::Config::from_toml(&stack.config_text).unwrap();
    let org = config.organisation.clone().unwrap();
    let central_bus = format!("arn:aws:events:{HOME}:{ADMIN}:event-bus/breakglass");
    // The member stack in every account and Region that holds a protected bucket.
    let mut places: Vec<(String, String)> = config
        .buckets
        .iter()
        .map(|b| (b.account.clone(), b.region.clone().unwrap_or_else(|| HOME.into())))
        .collect();
    places.sort();
    places.dedup();
    for (account, region) in &places {
        let events = account_clients(&moto.endpoint, account, region).await.events;
        let params = [
            ("ProtectedBucketPrefix", json!(org.bucket_prefix)),
            ("AdministrativeAccountId", json!(ADMIN)),
            ("HomeRegion", json!(HOME)),
        ];
        for (rule, name) in FORWARDERS {
            let pattern = pattern_in("organisation/member.yaml", rule, account, region, &params);
            events.put_rule().name(name).event_pattern(pattern.to_string()).send().await.unwrap();
            let target = aws_sdk_eventbridge::types::Target::builder().id("central-bus").arn(&central_bus);
            events.put_targets().rule(name).targets(target.build().unwrap()).send().await.unwrap();
        }
    }
    // The central rule of forwarded S3 calls (the reads' is provisioned with the stack).
    let c = &stack.clients;
    let forwarded_calls =
        c.sqs.create_queue().queue_name("forwarded-s3-calls").send().await.unwrap().queue_url.unwrap();
    let arn = stack.queue_arn(&forwarded_calls).await;
    let pattern = pattern_in("template.yaml", "ForwardedS3ChangesRule", ADMIN, HOME, &[]);
    let rule = "ForwardedS3ChangesRule";
    c.events
        .put_rule()
        .name(rule)
        .event_bus_name("breakglass")
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder().id("q").arn(arn);
    c.events
        .put_targets()
        .rule(rule)
        .event_bus_name("breakglass")
        .targets(target.build().unwrap())
        .send()
        .await
        .unwrap();

    let spawn = |name: &'static str| {
        let (stack, endpoint) = (&stack, moto.endpoint.clone());
        async move {
            let creds =
                role_env(&endpoint, &format!("arn:aws:iam::{ADMIN}:role/breakglass-{name}"), name).await;
            let mut env = stack.function_env_as(&creds);
            env.push(("BREAKGLASS_HEARTBEAT_PERIOD_SECONDS".into(), PERIOD.whole_seconds().to_string()));
            Function::spawn(name, &env)
        }
    };
    let (enforcer, notifier, recorder) =
        (spawn("enforcer").await, spawn("notifier").await, spawn("recorder").await);
    Some(Run { stack, enforcer, notifier, recorder, forwarded_calls, _moto: moto })
}

/// One period: the scheduled run, its heartbeat through each account's trail and forwarders, the
/// central rules and queues, and the functions.
async fn period(r: &Run, i: i32) -> Value {
    let answer = r.enforcer.invoke(&schedule(at(i))).unwrap();
    let beat = answer["heartbeat"].clone();
    for sent in beat["sent"].as_array().unwrap_or_else(|| panic!("no heartbeat: {answer}")) {
        let (account, region) = (sent["account"].as_str().unwrap(), sent["region"].as_str().unwrap());
        let bucket = sent["management"].as_str().unwrap_or_else(|| panic!("no re-put: {sent}"));
        let events = account_clients(&r.stack.endpoint, account, region).await.events;
        for detail in heartbeat_details(account, region, bucket, at(i)) {
            let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("aws.s3")
                .detail_type("AWS API Call via CloudTrail")
                .detail(detail.to_string())
                .build();
            let put = events.put_events().entries(entry).send().await.unwrap();
            assert_eq!(put.failed_entry_count, 0);
        }
    }
    // ForwardedS3ChangesRule's targets: the enforcer and the notifier (which marks the arrival).
    for call in r.stack.drain(&r.forwarded_calls).await.into_iter().map(as_aws_forwards) {
        r.notifier.invoke(&call).unwrap();
        let a = r.enforcer.invoke(&call).unwrap();
        assert!(a["buckets"].as_array().unwrap().iter().all(|b| b["outcome"] == "lawful"), "no drift: {a}");
    }
    let reads: Vec<Value> = r.stack.drain(&r.stack.reads).await.into_iter().map(as_aws_forwards).collect();
    if !reads.is_empty() {
        let records: Vec<Value> = reads
            .iter()
            .enumerate()
            .map(|(n, e)| {
                json!({"messageId": format!("m-{i}-{n}"), "receiptHandle": "r", "body": e.to_string(),
                "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:{HOME}:{ADMIN}:breakglass-reads"), "awsRegion": HOME})
            })
            .collect();
        let a = r.recorder.invoke(&json!({ "Records": records })).unwrap();
        assert_eq!(a["batchItemFailures"], json!([]), "{a}");
    }
    beat
}

fn quiet_places(beat: &Value) -> Vec<(String, String, String)> {
    let ages = beat["ages"].as_array().cloned().unwrap_or_default();
    ages.iter()
        .filter(|a| a["quiet"] == true)
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
            (s("account"), s("region"), s("half"))
        })
        .collect()
}

fn heartbeat_mails(deliveries: &[(Value, Value)]) -> Vec<String> {
    deliveries.iter().map(|(_, doc)| doc.to_string()).filter(|d| d.contains("heartbeat")).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn organisation_with_one_accounts_forwarders_removed_that_account_alarms_within_two_periods() {
    let Some(r) = start().await else { return };
    // Everything in place: every place comes back, period after period.
    for i in 0..3 {
        let beat = period(&r, i).await;
        assert_eq!(beat["quiet"], 0, "period {i}: {beat}");
        let sent = beat["sent"].as_array().unwrap();
        assert_eq!(sent.len(), 4, "every account and Region in use: {beat}");
        if i > 0 {
            let ages = beat["ages"].as_array().unwrap();
            assert_eq!(ages.len(), 8, "two halves a place: {beat}");
            assert!(
                ages.iter().all(|a| a["age_seconds"].as_i64().unwrap() <= PERIOD.whole_seconds()),
                "{beat}"
            );
        }
    }
    r.stack.route(&r.enforcer, &r.notifier).await;
    assert!(heartbeat_mails(&r.stack.deliveries(&r.stack.alarms).await).is_empty());

    // The dev account's forwarders go (a member stack deleted, a rule disabled: the same silence).
    let dev = account_clients(&r.stack.endpoint, DEV, HOME).await.events;
    for (_, name) in FORWARDERS {
        dev.remove_targets().rule(name).ids("central-bus").send().await.unwrap();
        dev.delete_rule().name(name).send().await.unwrap();
    }
    let mut alarmed = None;
    for i in 3..7 {
        let beat = period(&r, i).await;
        if beat["quiet"] != 0 {
            alarmed = Some((i, beat));
            break;
        }
    }
    let (i, beat) = alarmed.expect("no alarm within three periods of the removal");
    // Last back at period 2 (17:30:20); judged quiet once two periods old: at period 5 (18:15).
    assert_eq!(i, 5, "alarmed in period {i}: {beat}");
    let expected: Vec<(String, String, String)> =
        ["data", "management"].iter().map(|h| (DEV.to_owned(), HOME.to_owned(), (*h).to_owned())).collect();
    let mut quiet = quiet_places(&beat);
    quiet.sort();
    assert_eq!(quiet, expected, "only the dev account, both halves: {beat}");
    // Both channels: the repair event goes through the notifier to security, and to the alarm topic.
    r.stack.route(&r.enforcer, &r.notifier).await;
    for queue in [&r.stack.alarms, &r.stack.security] {
        let mails = heartbeat_mails(&r.stack.deliveries(queue).await);
        assert!(!mails.is_empty(), "no heartbeat mail on {queue}");
        assert!(
            mails.iter().any(|m| m.contains(DEV) && m.contains(HOME)),
            "names account and Region: {mails:?}"
        );
        assert!(!mails.iter().any(|m| m.contains("111100000000") || m.contains("333300000000")), "{mails:?}");
    }
}
