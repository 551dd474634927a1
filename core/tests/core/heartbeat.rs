//! The heartbeat over in-memory ports: sent at every scheduled run, recognised on arrival by its
//! caller alone, and alarmed on both channels when a half stays quiet past the deadline. The same
//! path runs against moto with the real binaries in `tests/tests/e2e/heartbeat.rs`.

use breakglass_config::Config;
use breakglass_core::events::OwnEvent;
use breakglass_core::guard::heartbeat::{self, Half, Timing, CANARY_KEY};
use breakglass_core::inbound::event::{self, Incoming};
use breakglass_core::inbound::reads;
use breakglass_core::ports::PolicyStore;
use breakglass_core::testing::{example_config, now, Bus, Control, Log, Store};
use breakglass_core::trail::audit::Trail;
use breakglass_core::trail::heartbeat as arrivals;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

const ACCOUNT: &str = "111122223333";
const ENFORCER: &str = "arn:aws:iam::111122223333:role/breakglass-enforcer";
const INTRUDER: &str = "arn:aws:iam::111122223333:role/Admin";

/// The example config, every bucket ClosedAccess, its empty trail, the bus and the alarm topic.
async fn ports() -> (Config, Store, Trail<Log>, Bus, Control) {
    let config = example_config();
    let store = Store::default();
    for b in &config.buckets {
        store.put_policy(&b.name, &b.closed_policy().to_pretty_json()).await.unwrap();
    }
    let trail = Trail { log: Log::default(), config: config.audit.clone().unwrap(), config_sha256: None };
    (config, store, trail, Bus::default(), Control::default())
}

/// The CloudTrail record of a call by `role` (as EventBridge delivers it).
fn record(
    role: &str,
    name: &str,
    bucket: &str,
    at: OffsetDateTime,
    agent: &str,
    error: Option<&str>,
) -> Value {
    let mut detail = json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": format!("{}/{}", role.replace(":iam:", ":sts:").replace(":role/", ":assumed-role/"), "s"),
            "accountId": ACCOUNT,
            "sessionContext": { "sessionIssuer": { "type": "Role", "arn": role, "accountId": ACCOUNT } },
        },
        "eventTime": breakglass_core::time::format_time(at),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "192.0.2.1",
        "userAgent": format!("aws-sdk-rust/1.3 os/linux lang/rust/1.86 app/{agent}"),
        "requestParameters": { "bucketName": bucket, "key": CANARY_KEY },
        "eventID": format!("e-{}", at.unix_timestamp()),
        "recipientAccountId": ACCOUNT,
    });
    if let Some(code) = error {
        detail["errorCode"] = json!(code);
    }
    json!({
        "version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
        "account": ACCOUNT, "region": "eu-west-1", "time": "2026-11-24T12:00:00Z", "detail": detail,
    })
}

fn management(config: &Config, e: &Value) -> Option<arrivals::Beat> {
    let Incoming::ApiCalls(calls) = event::parse(e).unwrap() else { panic!("not a call") };
    arrivals::management(&calls[0], config)
}

fn data(config: &Config, e: &Value) -> Option<arrivals::Beat> {
    arrivals::data(&reads::parse(&e.to_string(), config).unwrap(), config)
}

/// Plays the trail and the functions: the heartbeat sent at `at` comes back as both halves.
async fn arrive(config: &Config, store: &Store, trail: &Trail<Log>, at: OffsetDateTime, halves: &[Half]) {
    let bucket = store.beats.lock().unwrap().last().cloned().unwrap();
    for half in halves {
        let beat = match half {
            Half::Management => {
                management(config, &record(ENFORCER, "PutBucketPolicy", &bucket, at, arrivals::AGENT, None))
            }
            Half::Data => {
                data(config, &record(ENFORCER, "GetObject", &bucket, at, "x", Some("AccessDenied")))
            }
        };
        arrivals::arrive(trail, &beat.unwrap(), at + Duration::seconds(90)).await.unwrap();
    }
}

async fn run(ports: &(Config, Store, Trail<Log>, Bus, Control), at: OffsetDateTime) -> Value {
    let (config, store, trail, bus, control) = ports;
    heartbeat::run(config, store, trail, bus, control, Timing::default(), at).await.unwrap()
}

#[tokio::test]
async fn each_run_re_puts_a_closed_policy_byte_for_byte_and_asks_for_the_canary() {
    let p = ports().await;
    let before = p.1.get_policy("acme-cloudtrail-logs").await.unwrap();
    let answer = run(&p, now()).await;
    assert_eq!(*p.1.beats.lock().unwrap(), ["acme-cloudtrail-logs"]);
    assert_eq!(p.1.get_policy("acme-cloudtrail-logs").await.unwrap(), before);
    assert_eq!(
        *p.1.canary_reads.lock().unwrap(),
        [("acme-cloudtrail-logs".to_owned(), CANARY_KEY.to_owned())]
    );
    assert_eq!(answer["sent"][0]["refused"], true);
    // A fresh deployment is not quiet: nothing was sent before.
    assert_eq!(answer["quiet"], 0);
    assert!(p.4.alarms.lock().unwrap().is_empty());
}

#[tokio::test]
async fn no_arrival_after_two_periods_alarms_on_both_channels_naming_account_region_and_half() {
    let p = ports().await;
    let period = Timing::default().period;
    // The first period after deployment: no alarm, although nothing arrived.
    for i in 0..2 {
        let answer = run(&p, now() + period * i).await;
        assert_eq!(answer["quiet"], 0, "run {i}: {answer}");
    }
    let answer = run(&p, now() + period * 2).await;
    assert_eq!(answer["quiet"], 2, "{answer}");
    let alarms = p.4.alarms.lock().unwrap().clone();
    assert_eq!(alarms.len(), 1);
    let mail = &alarms[0].email;
    for part in [ACCOUNT, "Region home", "management events", "data events"] {
        assert!(mail.contains(part), "{part} missing from {mail}");
    }
    assert!(alarms[0].second_channel);
    // The first channel: one repair event per quiet half, mailed and recorded by the notifier.
    let repairs: Vec<String> =
        p.3.events()
            .into_iter()
            .filter_map(|e| match e {
                OwnEvent::Repair(r) if r.kind == "heartbeat" => Some(format!("{} {}", r.subject, r.what)),
                _ => None,
            })
            .collect();
    assert_eq!(repairs.len(), 2, "{repairs:?}");
    assert!(
        repairs[0].contains(&format!("account {ACCOUNT} Region home"))
            && repairs[0].contains("management events")
    );
    assert!(repairs[1].contains("data events"));
}

#[tokio::test]
async fn arrivals_in_time_never_alarm_over_many_periods() {
    let p = ports().await;
    let period = Timing::default().period;
    for i in 0..40 {
        let at = now() + period * i;
        let answer = run(&p, at).await;
        assert_eq!(answer["quiet"], 0, "period {i}: {answer}");
        arrive(&p.0, &p.1, &p.2, at, &Half::ALL).await;
    }
    assert!(p.4.alarms.lock().unwrap().is_empty());
    assert!(p.3.events().is_empty());
}

#[tokio::test]
async fn a_quiet_data_half_is_named_alone() {
    let p = ports().await;
    let period = Timing::default().period;
    for i in 0..3 {
        let at = now() + period * i;
        run(&p, at).await;
        arrive(&p.0, &p.1, &p.2, at, &[Half::Management]).await;
    }
    let alarms = p.4.alarms.lock().unwrap().clone();
    assert_eq!(alarms.len(), 1);
    assert!(alarms[0].subject.contains("data events") && !alarms[0].email.contains("management events"));
}

#[tokio::test]
async fn a_heartbeat_claimed_by_another_caller_is_not_an_arrival() {
    let (config, ..) = ports().await;
    let at = now();
    let forged = record(INTRUDER, "PutBucketPolicy", "acme-cloudtrail-logs", at, arrivals::AGENT, None);
    assert_eq!(management(&config, &forged), None);
    let forged_read = record(INTRUDER, "GetObject", "acme-cloudtrail-logs", at, "x", Some("AccessDenied"));
    assert_eq!(data(&config, &forged_read), None);
    // The enforcer's own repairs (no heartbeat agent) and reads it was not refused are not either.
    let repair = record(ENFORCER, "PutBucketPolicy", "acme-cloudtrail-logs", at, "breakglass", None);
    assert_eq!(management(&config, &repair), None);
    let served = record(ENFORCER, "GetObject", "acme-cloudtrail-logs", at, "x", None);
    assert_eq!(data(&config, &served), None);
    // What is one names its place and half.
    let own = record(ENFORCER, "PutBucketPolicy", "acme-cloudtrail-logs", at, arrivals::AGENT, None);
    let beat = management(&config, &own).unwrap();
    assert_eq!((beat.place.account.as_str(), beat.half), (ACCOUNT, Half::Management));
}

#[tokio::test]
async fn an_open_bucket_is_never_re_put() {
    let p = ports().await;
    p.1.put_policy("acme-cloudtrail-logs", "{\"Version\":\"2012-10-17\",\"Statement\":[]}").await.unwrap();
    run(&p, now()).await;
    assert_eq!(*p.1.beats.lock().unwrap(), ["acme-vpc-flow-logs"]);
}

#[derive(Default)]
struct Mail(std::sync::Mutex<Vec<breakglass_core::ports::Notification>>);

impl breakglass_core::ports::Publisher for Mail {
    async fn publish(
        &self,
        n: &breakglass_core::ports::Notification,
    ) -> Result<String, breakglass_core::ports::PortError> {
        self.0.lock().unwrap().push(n.clone());
        Ok("m".into())
    }
}

#[tokio::test]
async fn the_notifier_marks_the_management_half_without_mailing_and_mails_a_forgery() {
    let (config, _, trail, ..) = ports().await;
    let mail = Mail::default();
    let at = now();
    let own = record(ENFORCER, "PutBucketPolicy", "acme-cloudtrail-logs", at, arrivals::AGENT, None);
    let answer =
        breakglass_core::runtime::notify_event(&config, &mail, Some(&trail), &own, at).await.unwrap();
    assert_eq!(answer["heartbeats"], 1, "{answer}");
    assert!(mail.0.lock().unwrap().is_empty());
    let marks = trail.log.under("breakglass/_heartbeat/111122223333/home/management/2026-11-24/");
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(marks[0].1["event_id"], own["detail"]["eventID"]);
    // The same call by anybody else is an ordinary call: mailed, and no arrival.
    let forged = record(INTRUDER, "PutBucketPolicy", "acme-cloudtrail-logs", at, arrivals::AGENT, None);
    breakglass_core::runtime::notify_event(&config, &mail, Some(&trail), &forged, at).await.unwrap();
    assert_eq!(mail.0.lock().unwrap().len(), 1);
    assert_eq!(trail.log.under("breakglass/_heartbeat/").len(), 1);
}

#[tokio::test]
async fn the_recorder_marks_the_data_half_and_records_no_refused_read_for_it() {
    let (config, _, trail, bus, _) = ports().await;
    let at = now();
    let body = |role: &str| {
        record(role, "GetObject", "acme-vpc-flow-logs", at, "x", Some("AccessDenied")).to_string()
    };
    let queue = json!({ "Records": [
        { "eventSource": "aws:sqs", "messageId": "m1", "body": body(ENFORCER) },
        { "eventSource": "aws:sqs", "messageId": "m2", "body": body(INTRUDER) },
    ]});
    let timing = breakglass_core::trail::recorder::Timing::default();
    let answer =
        breakglass_core::trail::recorder::handle(&config, &trail, &trail.log, &bus, &queue, at, timing)
            .await
            .unwrap();
    assert_eq!((answer["heartbeats"].as_u64(), answer["denied"].as_u64()), (Some(1), Some(1)), "{answer}");
    assert_eq!(trail.log.under("breakglass/_heartbeat/111122223333/home/data/").len(), 1);
    let denied = trail.log.under("breakglass/_denied/");
    assert_eq!(denied.len(), 1);
    assert!(denied[0].1.to_string().contains("role/Admin"), "the forgery is the refused read recorded");
}

/// Regression (heartbeat review): a first send whose mark could not be written was only logged, and
/// with no mark and no arrival a place was judged from "now" on every run: never quiet, never
/// alarmed. The run fails instead (no heartbeat metric, which the alarm takes as breaching).
#[tokio::test]
async fn regression_an_unmarked_first_send_fails_the_run() {
    let p = ports().await;
    *p.2.log.fail.lock().unwrap() = Some("_heartbeat/sent/".into());
    let (config, store, trail, bus, control) = &p;
    let answer = heartbeat::run(config, store, trail, bus, control, Timing::default(), now()).await;
    assert!(answer.is_err(), "{answer:?}");
    // The heartbeat itself was still sent.
    assert_eq!(*p.1.beats.lock().unwrap(), ["acme-cloudtrail-logs"]);
}
