//! Organisation mode through the member stacks' forwarders: each logging account's default bus
//! carries the member stack's rules (`organisation/member.yaml`'s patterns) with the central bus as
//! their target, the central bus the administrative stack's rules (template.yaml's) with the queues
//! as theirs; moto routes between them (`e2e::member_forwarder`). The tests play each account's
//! trail, putting CloudTrail-shaped events on that account's default bus.
//!
//! - The heartbeat: with the forwarders in place nothing alarms; with one account's forwarders
//!   removed, both halves of that account alarm on both channels within two periods, naming the
//!   account and Region, and no other place does.
//! - A refused call on a logging account's own KMS key (`kms_key`) is forwarded, recorded centrally
//!   and digested to the security team, like a refused call on a bucket.

use e2e::{
    account_clients, cloudtrail_event, cloudtrail_in, control_event, made_in, member_forwarder, pattern_in,
    provision_config, record_forwarded, root, Function, Moto, Stack,
};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const ADMIN: &str = "999900000000";
const HOME: &str = "eu-central-1";
const DEV: &str = "222200000000";
const PERIOD: Duration = Duration::minutes(15);
/// The refused calls' digest slot, shortened so the test need not wait five minutes.
const DIGEST_SLOT: Duration = Duration::seconds(2);
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
    [put, read].map(|e| {
        let mut e = made_in(e, account, region);
        let d = &mut e["detail"];
        d["eventTime"] = json!(time);
        d["userAgent"] = json!(agent);
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

struct Run {
    stack: Stack,
    enforcer: Function,
    notifier: Function,
    recorder: Function,
    /// The central queue of forwarded guarded S3 calls (`ForwardedS3ChangesRule`'s target here,
    /// delivered to both of the rule's targets, the enforcer and the notifier).
    forwarded_calls: String,
    /// The functions run under IAM as the stacks grant it.
    _iam: e2e::IamProxy,
    _moto: Moto,
}

fn org_text() -> String {
    std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap()
}

/// The stack of `text` with the member stack's `forwarders` in every account and Region that holds
/// a protected bucket, and the central rule of forwarded S3 calls (the reads' and refused calls'
/// are provisioned with the stack).
async fn start(text: String, forwarders: &[(&str, &str)]) -> Option<Run> {
    let moto = Moto::start()?;
    let stack = provision_config(&moto.endpoint, text).await;
    let config = breakglass_config::Config::from_toml(&stack.config_text).unwrap();
    let prefix = config.organisation.as_ref().unwrap().bucket_prefix.clone();
    let mut places: Vec<(String, String)> = config
        .buckets
        .iter()
        .map(|b| (b.account.clone(), b.region.clone().unwrap_or_else(|| HOME.into())))
        .collect();
    places.sort();
    places.dedup();
    for (account, region) in &places {
        for forwarder in forwarders {
            member_forwarder(&moto.endpoint, (account, region), (ADMIN, HOME), &prefix, *forwarder).await;
        }
    }
    let c = &stack.clients;
    let forwarded_calls =
        c.sqs.create_queue().queue_name("forwarded-s3-calls").send().await.unwrap().queue_url.unwrap();
    let arn = stack.queue_arn(&forwarded_calls).await;
    let pattern = pattern_in("template.yaml", "ForwardedS3ChangesRule", ADMIN, HOME, &[]);
    let (rule, bus) = ("ForwardedS3ChangesRule", "breakglass");
    c.events
        .put_rule()
        .name(rule)
        .event_bus_name(bus)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder().id("q").arn(arn).build().unwrap();
    c.events.put_targets().rule(rule).event_bus_name(bus).targets(target).send().await.unwrap();

    // Under IAM, as the administrative and member stacks grant it.
    let iam = stack.iam(&moto.endpoint);
    let spawn = |name: &'static str| {
        let (stack, iam) = (&stack, &iam);
        async move {
            let mut env = iam.function_env(stack.function_env(), name).await;
            env.push(("BREAKGLASS_HEARTBEAT_PERIOD_SECONDS".into(), PERIOD.whole_seconds().to_string()));
            env.push(("BREAKGLASS_DIGEST_SLOT_SECONDS".into(), DIGEST_SLOT.whole_seconds().to_string()));
            Function::spawn(name, &env)
        }
    };
    let (enforcer, notifier, recorder) =
        (spawn("enforcer").await, spawn("notifier").await, spawn("recorder").await);
    Some(Run { stack, enforcer, notifier, recorder, forwarded_calls, _iam: iam, _moto: moto })
}

/// One period: the scheduled run, its heartbeat through each account's trail and forwarders, the
/// central rules and queues, and the functions.
async fn period(r: &Run, i: i32) -> Value {
    let answer = r.enforcer.invoke(&schedule(at(i))).unwrap();
    let beat = answer["heartbeat"].clone();
    for sent in beat["sent"].as_array().unwrap_or_else(|| panic!("no heartbeat: {answer}")) {
        let (account, region) = (sent["account"].as_str().unwrap(), sent["region"].as_str().unwrap());
        let bucket = sent["management"].as_str().unwrap_or_else(|| panic!("no re-put: {sent}"));
        for detail in heartbeat_details(account, region, bucket, at(i)) {
            cloudtrail_in(&r.stack.endpoint, account, region, &detail).await;
        }
    }
    // ForwardedS3ChangesRule's targets: the enforcer and the notifier (which marks the arrival).
    for call in r.stack.drain(&r.forwarded_calls).await.into_iter().map(e2e::as_aws_forwards) {
        r.notifier.invoke(&call).unwrap();
        let a = r.enforcer.invoke(&call).unwrap();
        assert!(a["buckets"].as_array().unwrap().iter().all(|b| b["outcome"] == "lawful"), "no drift: {a}");
    }
    let reads = r.stack.drain(&r.stack.reads).await;
    if let Some(a) = record_forwarded(&r.recorder, &reads, ADMIN, HOME) {
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
    let Some(r) = start(org_text(), &FORWARDERS).await else { return };
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

/// Issue 22: a refused `ScheduleKeyDeletion` on a logging account's own log key (`kms_key`), the
/// organisation's SCP at work, is forwarded by the member stack (`breakglass-forward-kms`), routed
/// centrally by `ForwardedRefusedCallsRule` to the recorder, recorded at once, and digested to the
/// security team naming the key and the bucket whose logs it encrypts; a refused call on a key
/// nobody configured is not breakglass's.
#[tokio::test(flavor = "current_thread")]
async fn organisation_a_refused_call_on_a_logging_accounts_log_key_is_recorded_and_digested() {
    let log_key = format!("arn:aws:kms:{HOME}:{DEV}:key/9f1c2d3e-4b5a-6789-0abc-def012345678");
    let text = org_text();
    let dev_bucket = "name = \"acme-dev-cloudtrail-logs\"\n";
    assert!(text.contains(dev_bucket), "the example names the dev bucket");
    let text = text.replacen(dev_bucket, &format!("{dev_bucket}kms_key = \"{log_key}\"\n"), 1);
    let Some(r) = start(text, &[("ForwardLogKeyChanges", "breakglass-forward-kms")]).await else { return };
    let other = format!("arn:aws:kms:{HOME}:{DEV}:key/0000-other");
    for key in [log_key.as_str(), other.as_str()] {
        let key_id = key.rsplit('/').next().unwrap();
        let params = json!({"keyId": key_id, "pendingWindowInDays": 7});
        let mut e = control_event(
            "ScheduleKeyDeletion",
            "kms.amazonaws.com",
            params,
            "arn:aws:iam::1:role/Admin",
            "mallory",
        );
        e["detail"]["errorCode"] = json!("AccessDenied");
        e["detail"]["errorMessage"] = json!("with an explicit deny in a service control policy");
        e["detail"]["resources"] = json!([{"accountId": DEV, "type": "AWS::KMS::Key", "ARN": key}]);
        let e = made_in(e, DEV, HOME);
        cloudtrail_in(&r.stack.endpoint, DEV, HOME, &e["detail"]).await;
    }
    // Refused calls are the recorder's: nothing reaches the enforcer's or notifier's rules.
    assert!(r.stack.drain(&r.stack.own_events).await.is_empty());
    let delivered = r.stack.drain(&r.stack.reads).await;
    assert_eq!(delivered.len(), 2, "both forwarded and routed to the read queue: {delivered:?}");
    let a = record_forwarded(&r.recorder, &delivered, ADMIN, HOME).unwrap();
    assert_eq!((a["refused_calls"].as_u64(), a["refused_ignored"].as_u64()), (Some(1), Some(1)), "{a}");
    assert_eq!(a["batchItemFailures"], json!([]), "{a}");
    let records = r.stack.audit_under("_attempts/").await;
    let filed: Vec<&(String, Value)> = records.iter().filter(|(k, _)| !k.contains("/_slots/")).collect();
    assert_eq!(filed.len(), 1, "{records:?}");
    let record = &filed[0].1;
    assert_eq!(
        (record["kind"].as_str(), record["action"].as_str()),
        (Some("attempt"), Some("ScheduleKeyDeletion"))
    );
    assert_eq!(record["detail"]["target"], json!(log_key), "{record}");
    assert_eq!(record["actor"]["account"], json!(DEV), "{record}");

    // The slot ends; the recorder's schedule digests it to the security team.
    std::thread::sleep((DIGEST_SLOT + Duration::milliseconds(200)).unsigned_abs());
    let now = breakglass_core::time::format_time(OffsetDateTime::now_utc());
    let digest = r.recorder.invoke(&json!({"version": "0", "id": "digest", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": ADMIN, "time": now, "region": HOME, "resources": [], "detail": {}}));
    let digest = digest.unwrap();
    assert_eq!(
        (digest["calls"]["calls"].as_u64(), digest["calls"]["mails"].as_u64()),
        (Some(1), Some(1)),
        "{digest}"
    );
    for own in r.stack.drain(&r.stack.own_events).await {
        r.notifier.invoke(&own).unwrap();
    }
    let mails = r.stack.deliveries(&r.stack.security).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let text = mails[0].1["text"].as_str().unwrap_or_default();
    assert!(text.contains("ScheduleKeyDeletion") && text.contains(&log_key), "{text}");
}
