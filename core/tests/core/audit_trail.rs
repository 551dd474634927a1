//! The audit trail: every step recorded once, history showing one window.

use super::*;
use breakglass_core::access::operate::{close, open, OpenRequest};
use breakglass_core::ports::{Notification, Publisher};
use breakglass_core::runtime::notify_event;
use breakglass_core::testing::Log;
use breakglass_core::trail::audit::Trail;
use breakglass_core::trail::history::{self, Entry};
use time::Duration;

const ALICE: &str = "arn:aws:sts::111122223333:assumed-role/breakglass-operator/alice";

#[derive(Default)]
struct Mail(Mutex<Vec<Notification>>);

impl Publisher for Mail {
    async fn publish(&self, n: &Notification) -> Result<String, PortError> {
        self.0.lock().unwrap().push(n.clone());
        Ok("m".into())
    }
}

/// A mail channel that refuses the first `failures` messages, as SNS does when throttled past
/// the SDK's retries.
#[derive(Default)]
struct FlakyMail {
    failures: Mutex<usize>,
    sent: Mutex<Vec<Notification>>,
}

impl Publisher for FlakyMail {
    async fn publish(&self, n: &Notification) -> Result<String, PortError> {
        let mut left = self.failures.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return Err(PortError::Retryable("Publish: Throttling".into()));
        }
        self.sent.lock().unwrap().push(n.clone());
        Ok("m".into())
    }
}

/// The ports of the example bucket, closed: its store, the bus, the mail and an empty audit trail.
fn closed_ports(c: &Config) -> (Store, Bus, Mail, Trail<Log>) {
    let store = Store::default();
    let closed = c.bucket(BUCKET).unwrap().closed_policy().to_pretty_json();
    store.policies.lock().unwrap().insert(BUCKET.into(), closed);
    let trail = Trail { log: Log::default(), config: c.audit.clone().unwrap(), config_sha256: None };
    (store, Bus::default(), Mail::default(), trail)
}

fn envelope(e: &BusEvent, id: &str) -> Value {
    json!({ "source": "breakglass", "detail-type": e.detail_type, "id": id, "detail": e.detail })
}

fn ct_put(policy: &str, at: OffsetDateTime, id: &str) -> Value {
    json!({
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "id": format!("eb-{id}"),
        "detail": {
            "eventID": id, "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
            "eventTime": canonical_policies::format_expiry(at),
            "userIdentity": {"type": "AssumedRole", "arn": ALICE,
                "sessionContext": {"sessionIssuer": {"arn": OPERATOR}}},
            "requestParameters": {"bucketName": BUCKET, "bucketPolicy": serde_json::from_str::<Value>(policy).unwrap()}
        }
    })
}

#[tokio::test(flavor = "current_thread")]
async fn every_step_is_recorded_once_and_history_shows_one_window() {
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    let (store, bus, mail, trail) = closed_ports(&c);
    let req = |h| OpenRequest {
        reason: "incident 42".into(),
        ticket: "INC-42".into(),
        duration: Duration::hours(h),
        readers: BTreeSet::new(),
    };
    open(b, &store, &bus, &req(2), ALICE, now()).await.unwrap();
    let opened_policy = store.policies.lock().unwrap()[BUCKET].clone();
    let t1 = now() + Duration::minutes(30);
    open(b, &store, &bus, &req(4), ALICE, t1).await.unwrap();
    let t2 = now() + Duration::hours(1);
    close(b, &store, &bus, "done", ALICE, t2).await.unwrap();
    // A refused request after that (reader not allowed).
    let mut bad = req(1);
    bad.readers.insert("arn:aws:iam::111122223333:role/mallory".into());
    open(b, &store, &bus, &bad, ALICE, t2).await.unwrap_err();

    let mut events: Vec<Value> =
        bus.0.lock().unwrap().iter().enumerate().map(|(i, e)| envelope(e, &format!("ev-{i}"))).collect();
    // CloudTrail's record of the first write, a second after the request.
    events.push(ct_put(&opened_policy, now() - Duration::seconds(1), "ct-open"));
    for e in &events {
        notify_event(&c, &mail, Some(&trail), e, now()).await.unwrap();
    }
    // The records, without the marks of mails sent (`_mailed/`, issue 23).
    let records_only = || -> Vec<(String, String)> {
        let all = trail.log.records.lock().unwrap();
        all.iter().filter(|(k, _)| !k.contains("/_mailed/")).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let count = records_only().len();
    assert_eq!(count, events.len(), "one record per notification");
    let sent = mail.0.lock().unwrap().len();
    // A retried invocation records nothing new.
    let again = notify_event(&c, &mail, Some(&trail), &events[0], now()).await.unwrap();
    assert_eq!(again["recorded"][0]["new"], json!(false));
    assert_eq!(records_only().len(), count);
    // ...and a duplicate of a delivery already mailed is not mailed again.
    assert_eq!(mail.0.lock().unwrap().len(), sent, "{again}");

    let records: Vec<Value> = records_only().iter().map(|(_, t)| serde_json::from_str(t).unwrap()).collect();
    for (key, r) in records_only().iter() {
        assert!(key.starts_with("breakglass/acme-cloudtrail-logs/"), "{key}");
        let r: Value = serde_json::from_str(r).unwrap();
        assert_eq!(r["schema"], "breakglass.audit/1");
    }
    let (entries, unreadable) = history::build(&records);
    assert_eq!(unreadable, 0);
    assert_eq!(entries.len(), 2, "{entries:#?}");
    // Newest first: the refused request, then the one window.
    let Entry::Event(refused) = &entries[0] else { panic!("{entries:#?}") };
    assert_eq!(refused.action, "open-refused");
    let Entry::Window { opened, extensions, closed } = &entries[1] else { panic!("{entries:#?}") };
    assert_eq!(opened.time, now());
    assert_eq!(opened.why.as_deref(), Some("incident 42"));
    assert!(opened.event_ids.contains(&"ct-open".to_owned()), "CloudTrail's record folded in");
    assert_eq!(extensions.len(), 1);
    assert_eq!(history::window_expiry(opened, extensions), Some(t1 + Duration::hours(4)));
    let closed = closed.as_ref().unwrap();
    assert_eq!((closed.time, closed.why.as_deref()), (t2, Some("done")));
    let j = history::entry_json(&entries[1], t2);
    assert_eq!(j["status"], "closed");
    assert_eq!(j["closed_at"], canonical_policies::format_expiry(t2));
    assert_eq!(records.iter().filter(|r| r["kind"] == "request").count(), 4);
    let rec = records.iter().find(|r| r["action"] == "close").unwrap();
    assert_eq!(rec["policy"]["after"], json!(b.closed_hash().to_string()));
    assert!(rec["policy"]["before"].is_string(), "{rec}");
}

#[tokio::test(flavor = "current_thread")]
async fn automatic_close_after_expiry_ends_the_window() {
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    let (store, bus, mail, trail) = closed_ports(&c);
    let req = OpenRequest {
        reason: "audit".into(),
        ticket: "AUD-1".into(),
        duration: Duration::hours(1),
        readers: BTreeSet::new(),
    };
    open(b, &store, &bus, &req, ALICE, now()).await.unwrap();
    // The scheduled sweep after expiry.
    let e = Enforcer { config: config(), store, bus, records: NoRecords, dry_run: false };
    let later = now() + Duration::hours(2);
    e.handle(&schedule(), later).await.unwrap();
    let events: Vec<Value> =
        e.bus.0.lock().unwrap().iter().enumerate().map(|(i, x)| envelope(x, &format!("e{i}"))).collect();
    // The request, and one remediation per bucket (the other bucket has no policy at all).
    assert_eq!(events.len(), 3);
    for ev in &events {
        notify_event(&c, &mail, Some(&trail), ev, later).await.unwrap();
    }
    let records: Vec<Value> = trail
        .log
        .records
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("breakglass/{BUCKET}/")))
        .map(|(_, t)| serde_json::from_str(t).unwrap())
        .collect();
    let (entries, _) = history::build(&records);
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let Entry::Window { closed: Some(closed), .. } = &entries[0] else { panic!("{entries:#?}") };
    assert_eq!(closed.kind, "expiry");
    assert!(closed.why.as_deref().unwrap().contains("expired"), "{closed:?}");
    let mails = mail.0.lock().unwrap();
    let m = mails.iter().find(|m| m.subject.contains(BUCKET) && m.subject.contains("after expiry")).unwrap();
    assert!(m.email.contains("restored ClosedAccess as planned"), "{}", m.email);
    assert!(m.attributes.contains(&("kind".into(), "expiry".into())));
}

/// Records name the release that wrote them; one written before (no `version`) still reads, and
/// serialises back to the same bytes, so that its id and its signature (over those bytes) hold.
#[test]
fn records_name_their_release_and_older_records_read_unchanged() {
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/notification/golden.json");
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    let bodies: Vec<&Value> = golden
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|case| case["out"].as_array().unwrap())
        .filter_map(|out| out.get("record"))
        .map(|r| &r["body"])
        .collect();
    assert!(bodies.len() > 10, "{}", bodies.len());
    for body in bodies {
        assert_eq!(body["version"], breakglass_core::VERSION, "{body}");
        let mut older = body.clone();
        older.as_object_mut().unwrap().remove("version");
        let read: breakglass_core::trail::audit::Body = serde_json::from_value(older.clone()).unwrap();
        assert_eq!(read.written.version, None);
        assert_eq!(serde_json::to_value(&read).unwrap().to_string(), older.to_string());
    }
}

/// The closed bucket opened by Alice for two hours under `ticket`: the trail, and the event the
/// open put on the bus.
async fn opened(c: &Config, ticket: &str) -> (Trail<Log>, BusEvent) {
    let (store, bus, _, trail) = closed_ports(c);
    let req = OpenRequest {
        reason: format!("incident {ticket}"),
        ticket: ticket.into(),
        duration: Duration::hours(2),
        readers: BTreeSet::new(),
    };
    open(c.bucket(BUCKET).unwrap(), &store, &bus, &req, ALICE, now()).await.unwrap();
    let put = bus.0.lock().unwrap()[0].clone();
    (trail, put)
}

/// Issue 23: a delivery whose mail failed is mailed when Lambda retries it (the record is already
/// there, the mark of the mail is not); once mailed, a duplicate delivery is not mailed again.
#[tokio::test]
async fn regression_a_retried_delivery_is_mailed_once_after_a_failed_publish() {
    let c = config();
    let (trail, put) = opened(&c, "INC-7").await;
    let event = envelope(&put, "ev-0");
    let mail = FlakyMail { failures: Mutex::new(1), ..FlakyMail::default() };
    notify_event(&c, &mail, Some(&trail), &event, now()).await.unwrap_err();
    assert!(mail.sent.lock().unwrap().is_empty());
    let retried = notify_event(&c, &mail, Some(&trail), &event, now()).await.unwrap();
    assert_eq!(retried["recorded"][0]["new"], json!(false), "{retried}");
    assert_eq!(mail.sent.lock().unwrap().len(), 1, "the retry mails: {retried}");
    notify_event(&c, &mail, Some(&trail), &event, now()).await.unwrap();
    assert_eq!(mail.sent.lock().unwrap().len(), 1, "a duplicate does not");
}

/// Issue 23, lost answers: a `PutEvents` that EventBridge took but whose answer was lost is sent
/// again, and EventBridge gives the copy another id. Both copies are one record and one mail.
#[tokio::test]
async fn regression_a_resent_own_event_with_another_eventbridge_id_is_one_record_and_one_mail() {
    let c = config();
    let (trail, put) = opened(&c, "INC-8").await;
    let mail = FlakyMail::default();
    let first = notify_event(&c, &mail, Some(&trail), &envelope(&put, "ev-first"), now()).await.unwrap();
    let resent = notify_event(&c, &mail, Some(&trail), &envelope(&put, "ev-resent"), now()).await.unwrap();
    assert_eq!(first["recorded"][0]["key"], resent["recorded"][0]["key"], "{first} {resent}");
    assert_eq!(resent["recorded"][0]["new"], json!(false), "{resent}");
    assert_eq!(mail.sent.lock().unwrap().len(), 1, "mailed once: {resent}");
}

/// Issue 21: a request or decision the gate did not write shows as forged in the history; the
/// notifier's record of an event the gate put on the bus after its own record is the same step.
#[test]
fn history_marks_approvals_the_gate_did_not_write_as_forged() {
    let rec = |action: &str, id: &str, time: &str, writer: Option<&str>| {
        let mut r = json!({"schema": "breakglass.audit/1", "time": time, "bucket": BUCKET, "kind": "approval",
            "action": action, "who": "arn:aws:sts::111122223333:assumed-role/breakglass-operator/bob",
            "summary": format!("[breakglass] {action}"), "detail": {"id": id}});
        if let Some(w) = writer {
            r["writer"] = json!(w);
        }
        r
    };
    let gate = Some(breakglass_core::trail::audit::GATE);
    let records = vec![
        rec("requested", "aaaaaaaaaaaa", "2026-11-24T10:00:00Z", gate),
        rec("requested", "aaaaaaaaaaaa", "2026-11-24T10:00:00Z", None),
        rec("approved", "aaaaaaaaaaaa", "2026-11-24T10:05:00Z", gate),
        rec("approved", "aaaaaaaaaaaa", "2026-11-24T10:05:00Z", None),
        rec("approved", "bbbbbbbbbbbb", "2026-11-24T11:00:00Z", None),
        rec("refused", "aaaaaaaaaaaa", "2026-11-24T10:04:00Z", None),
    ];
    let (entries, unreadable) = history::build(&records);
    assert_eq!(unreadable, 0);
    let steps: Vec<(&str, bool)> = entries
        .iter()
        .map(|e| match e {
            Entry::Event(s) => (s.action.as_str(), s.forged),
            Entry::Window { .. } => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(steps, [("approved", true), ("approved", false), ("refused", false), ("requested", false)]);
    let Entry::Event(forged) = &entries[0] else { panic!("{entries:?}") };
    assert!(forged.summary.starts_with("FORGED (not written by the gate)"), "{}", forged.summary);
    assert_eq!(history::entry_json(&entries[0], now())["forged"], true);
}
