//! The heartbeat on moto with the real enforcer, notifier and recorder. moto's S3 emits no
//! CloudTrail events, so the test plays the trail: each scheduled run's heartbeat becomes the
//! CloudTrail-shaped PutBucketPolicy (the enforcer's role, the heartbeat's user agent) and the
//! refused GetObject of `breakglass-heartbeat`, put on the default bus, from where moto's rules (the
//! template's patterns) route them to the queues the functions are run on. With every rule in place
//! nothing alarms over many periods; with the read rule deleted, the data half alarms on both topics
//! within two periods, naming the account and Region.

use e2e::{
    cloudtrail_event, provision_config, single_operator_text, Function, IamProxy, Moto, Stack, ACCOUNT,
};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const ENFORCER: &str = "arn:aws:iam::111122223333:role/breakglass-enforcer";
const PERIOD: Duration = Duration::minutes(15);

fn at(i: i32) -> OffsetDateTime {
    OffsetDateTime::parse("2026-12-02T17:00:00Z", &Rfc3339).unwrap() + PERIOD * i
}

fn schedule(t: OffsetDateTime) -> Value {
    json!({"version": "0", "id": format!("hb-{}", t.unix_timestamp()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": ACCOUNT, "time": t.format(&Rfc3339).unwrap(),
        "region": "eu-central-1", "resources": [], "detail": {}})
}

/// The trail's records of one run's heartbeat on `bucket`, sent at `t`.
fn heartbeat_events(bucket: &str, t: OffsetDateTime) -> [Value; 2] {
    let time = (t + Duration::seconds(20)).format(&Rfc3339).unwrap();
    let mut put =
        cloudtrail_event("PutBucketPolicy", bucket, ENFORCER, "breakglass-enforcer", Some("{}"), None);
    put["detail"]["eventTime"] = json!(time);
    put["detail"]["userAgent"] = json!(format!(
        "aws-sdk-rust/1.3.9 os/linux lang/rust/1.86.0 app/{}",
        breakglass_core::trail::heartbeat::AGENT
    ));
    let mut read =
        cloudtrail_event("GetObject", bucket, ENFORCER, "breakglass-enforcer", None, Some("AccessDenied"));
    let d = &mut read["detail"];
    d["eventTime"] = json!(time);
    d["requestParameters"]["key"] = json!(breakglass_core::trail::heartbeat::CANARY_KEY);
    d["managementEvent"] = json!(false);
    d["eventCategory"] = json!("Data");
    d["readOnly"] = json!(true);
    d["resources"] = json!([
        {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{}", breakglass_core::trail::heartbeat::CANARY_KEY)},
        {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")},
    ]);
    [put, read]
}

struct Run {
    stack: Stack,
    enforcer: Function,
    notifier: Function,
    recorder: Function,
    _iam: IamProxy,
    _moto: Moto,
}

async fn start() -> Option<Run> {
    let moto = Moto::start()?;
    let stack = provision_config(&moto.endpoint, single_operator_text()).await;
    let mut env = stack.function_env();
    env.push(("BREAKGLASS_HEARTBEAT_PERIOD_SECONDS".into(), PERIOD.whole_seconds().to_string()));
    // Each function as its role, under IAM as the template grants it.
    let iam = stack.iam(&moto.endpoint);
    let enforcer = Function::spawn("enforcer", &iam.function_env(env.clone(), "enforcer").await);
    let notifier = Function::spawn("notifier", &iam.function_env(env.clone(), "notifier").await);
    let recorder = Function::spawn("recorder", &iam.function_env(env, "recorder").await);
    Some(Run { stack, enforcer, notifier, recorder, _iam: iam, _moto: moto })
}

/// One period: the scheduled run, then its heartbeat through the trail, the rules and the functions.
async fn period(r: &Run, i: i32) -> Value {
    let answer = r.enforcer.invoke(&schedule(at(i))).unwrap();
    let beat = answer["heartbeat"].clone();
    let bucket =
        beat["sent"][0]["management"].as_str().unwrap_or_else(|| panic!("no re-put: {answer}")).to_owned();
    for event in heartbeat_events(&bucket, at(i)) {
        r.stack.cloudtrail(&event).await;
    }
    for a in r.stack.route(&r.enforcer, &r.notifier).await {
        let a = a.unwrap();
        assert!(a["buckets"].as_array().unwrap().iter().all(|b| b["outcome"] == "lawful"), "no drift: {a}");
    }
    r.stack.record_reads(&r.recorder).await;
    beat
}

fn heartbeat_mails(deliveries: &[(Value, Value)]) -> Vec<String> {
    deliveries.iter().map(|(_, doc)| doc.to_string()).filter(|d| d.contains("heartbeat")).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn with_everything_in_place_no_heartbeat_alarms_over_many_periods() {
    let Some(r) = start().await else { return };
    for i in 0..6 {
        let beat = period(&r, i).await;
        assert_eq!(beat["quiet"], 0, "period {i}: {beat}; refused under IAM: {:?}", r._iam.refused());
        if i > 0 {
            let ages = beat["ages"].as_array().unwrap();
            assert!(
                ages.iter().all(|a| a["age_seconds"].as_i64().unwrap() <= PERIOD.whole_seconds()),
                "{beat}"
            );
        }
    }
    assert!(heartbeat_mails(&r.stack.deliveries(&r.stack.alarms).await).is_empty());
    assert!(heartbeat_mails(&r.stack.deliveries(&r.stack.security).await).is_empty());
    // Nothing of it reached the stakeholders: the heartbeat is marked, never mailed or recorded as a read.
    assert!(r.stack.deliveries(&r.stack.stakeholders).await.is_empty());
    assert!(r.stack.audit_under("_denied/").await.is_empty());
    assert_eq!(r.stack.audit_under("_heartbeat/111122223333/home/data/").await.len(), 6);
}

#[tokio::test(flavor = "current_thread")]
async fn with_the_read_rule_deleted_the_data_half_alarms_on_both_topics_within_two_periods() {
    let Some(r) = start().await else { return };
    let events = &r.stack.clients.events;
    events.remove_targets().rule("ObjectReadsRule").event_bus_name("default").ids("q").send().await.unwrap();
    events.delete_rule().name("ObjectReadsRule").event_bus_name("default").send().await.unwrap();
    let mut alarmed = None;
    for i in 0..4 {
        let beat = period(&r, i).await;
        if beat["quiet"] != 0 {
            alarmed = Some((i, beat));
            break;
        }
    }
    let (i, beat) = alarmed.expect("no alarm within three periods");
    // Sent at 17:00 and never back: judged quiet at 17:30, two periods later.
    assert_eq!(i, 2, "alarmed in period {i}: {beat}");
    assert_eq!(beat["quiet"], 1, "only the data half: {beat}");
    // Delivered: the notifier mails the repair event the run put on the bus.
    r.stack.route(&r.enforcer, &r.notifier).await;
    for queue in [&r.stack.alarms, &r.stack.security] {
        let mails = heartbeat_mails(&r.stack.deliveries(queue).await);
        assert_eq!(mails.len(), 1, "{queue}: {mails:?}");
        for part in [ACCOUNT, "home", "data"] {
            assert!(mails[0].contains(part), "{part} missing in {queue}: {}", mails[0]);
        }
        assert!(!mails[0].contains("management"), "{}", mails[0]);
    }
}
