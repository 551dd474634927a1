//! The recorder over in-memory ports, with CloudTrail data events shaped from published real ones
//! (`fixtures/data-events/SOURCES.md`). The same paths run against moto with the real binary in
//! `tests/tests/e2e/reads.rs` at the workspace root.

use breakglass_config::Config;
use breakglass_core::events::OwnEvent;
use breakglass_core::inbound::event::QueueMessage as Message;
use breakglass_core::inbound::reads::{self, Unreadable};
use breakglass_core::testing::{example_config as config, Bus, Log};
use breakglass_core::trail::audit::Trail;
use breakglass_core::trail::recorder::{self, Timing, SLOT};
use breakglass_core::trail::records::ReadRecord;
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/data-events/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
}

fn trail(config: &Config) -> Trail<Log> {
    Trail { log: Log::default(), config: config.audit.clone().unwrap(), config_sha256: Some("c0nf".into()) }
}

/// The recorder's handler, as the Lambda runs it at `at`.
async fn handle_at(
    config: &Config,
    trail: &Trail<Log>,
    bus: &Bus,
    event: &Value,
    at: OffsetDateTime,
) -> Value {
    recorder::handle(config, trail, &trail.log, bus, event, at, Timing::default()).await.unwrap()
}

/// The recorder's report run at `at`: how many window reports it made.
async fn reports_at(config: &Config, trail: &Trail<Log>, bus: &Bus, at: OffsetDateTime) -> usize {
    recorder::reports(config, trail, &trail.log, bus, at, Timing::default().report_delay).await.unwrap()
}

fn msg(id: &str, body: String) -> Message {
    Message { id: id.into(), body, receive_count: 1 }
}

/// The example config, its empty audit trail and the bus: what a recorder test starts from.
fn ports() -> (Config, Trail<Log>, Bus) {
    let config = config();
    let trail = trail(&config);
    (config, trail, Bus::default())
}

/// The fixtures `names`, read.
fn fixtures(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| fixture(n)).collect()
}

/// One queue message a body, with the ids m1, m2, ... in order.
fn batch(bodies: Vec<String>) -> Vec<Message> {
    bodies.into_iter().enumerate().map(|(i, body)| msg(&format!("m{}", i + 1), body)).collect()
}

/// The fixture's read, of the same key in `bucket`: its name and the `resources` ARNs, by which a
/// read is attributed first.
fn in_bucket(event: &mut Value, bucket: &str) {
    event["detail"]["requestParameters"]["bucketName"] = json!(bucket);
    for r in event["detail"]["resources"].as_array_mut().unwrap() {
        r["ARN"] = json!(r["ARN"].as_str().unwrap().replace("acme-cloudtrail-logs", bucket));
    }
}

const NOW: OffsetDateTime = datetime!(2026-12-01 22:43:10 UTC);

#[test]
fn data_events_read_as_published() {
    let config = config();
    let r = reads::parse(&fixture("getobject.json"), &config).unwrap();
    assert_eq!(r.event_id, "8d96391c-83f4-3491-bb84-4b389122ffb9");
    assert_eq!(r.call, "GetObject");
    assert_eq!(r.bucket, "acme-cloudtrail-logs");
    assert_eq!(r.bytes, 339_117);
    assert_eq!(r.role.as_deref(), Some("arn:aws:iam::111122223333:role/investigations/LogInvestigator"));
    assert_eq!(r.session.as_deref(), Some("alice"));
    assert_eq!(r.source_identity.as_deref(), Some("alice@example.com"));
    assert_eq!(r.source_ip.as_deref(), Some("198.51.100.23"));
    assert!(r.key.as_deref().unwrap().starts_with("AWSLogs/111122223333/CloudTrail/"));
    assert!(!r.denied() && r.error.is_none());
    assert!(r.is_by("arn:aws:iam::111122223333:role/investigations/LogInvestigator"));

    let v = reads::parse(&fixture("getobject-version.json"), &config).unwrap();
    assert!(v.version_id.as_deref().unwrap().starts_with("3HL4kqtJ"));
    assert_eq!(reads::parse(&fixture("headobject.json"), &config).unwrap().call, "HeadObject");

    let d = reads::parse(&fixture("getobject-denied.json"), &config).unwrap();
    assert!(d.denied());
    assert_eq!(d.bytes, 0);
    assert!(d.reader().contains("AWSReservedSSO_AdministratorAccess"));

    assert!(matches!(
        reads::parse(&fixture("s3tables-getobject.json"), &config),
        Err(Unreadable::Foreign { .. })
    ));
    assert!(matches!(reads::parse(&fixture("truncated.json"), &config), Err(Unreadable::NotJson(_))));
    assert_eq!(
        reads::event_id_of(&fixture("s3tables-getobject.json")).as_deref(),
        Some("f2b287f3-0df1-1234-a2f4-c4bdfed47657")
    );
}

#[test]
fn an_s3_on_outposts_data_event_from_the_corpus_is_foreign() {
    let dir = std::env::var_os("BREAKGLASS_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| format!("{}/../../shared/corpus", env!("CARGO_MANIFEST_DIR")).into());
    let path = dir
        .join("events/cloudtrail_record_single/awsdocs_s3_userguide__s3_outposts_PutObject_data_event.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "corpus missing at {} under CI=true",
            path.display()
        );
        eprintln!("notice: corpus not found at {}; skipping", path.display());
        return;
    };
    assert!(matches!(reads::parse(&text, &config()), Err(Unreadable::Foreign { .. })));
}

#[test]
fn malformed_unprotected_and_wrong_bucket_events_are_unreadable_never_reads() {
    let config = config();
    let mut other = serde_json::from_str::<Value>(&fixture("getobject.json")).unwrap();
    in_bucket(&mut other, "someone-elses-bucket");
    assert!(matches!(reads::parse(&other.to_string(), &config), Err(Unreadable::Unprotected(_))));
    let mut no_id = serde_json::from_str::<Value>(&fixture("getobject.json")).unwrap();
    no_id["detail"].as_object_mut().unwrap().remove("eventID");
    assert!(matches!(reads::parse(&no_id.to_string(), &config), Err(Unreadable::NoEventId)));
    let mut bad_time = serde_json::from_str::<Value>(&fixture("getobject.json")).unwrap();
    bad_time["detail"]["eventTime"] = json!("yesterday");
    assert!(matches!(reads::parse(&bad_time.to_string(), &config), Err(Unreadable::NoTime)));
    for junk in ["", "null", "[]", "{}", "{\"detail-type\": 5}", "\u{0}"] {
        assert!(reads::parse(junk, &config).is_err(), "{junk:?}");
    }
}

#[tokio::test]
async fn one_batch_one_reads_record_per_bucket_one_record_per_refused_read_and_per_unreadable_message() {
    let (config, trail, bus) = ports();
    let batch = batch(fixtures(&[
        "getobject.json",
        "getobject-version.json",
        "headobject.json",
        "getobject-denied.json",
        "truncated.json",
        "s3tables-getobject.json",
    ]));
    let r = recorder::record(&config, &trail, &bus, &batch, NOW, SLOT).await;
    assert!(r.failed.is_empty(), "{r:?}");
    assert_eq!((r.reads, r.denied, r.unreadable, r.records), (3, 1, 2, 4));

    let reads = trail.log.under("breakglass/_reads/acme-cloudtrail-logs/");
    assert_eq!(reads.len(), 1);
    let (key, body) = &reads[0];
    // Keyed by the earliest read (the HeadObject at 09:13:59), so a window's reads list by time.
    assert!(key.starts_with("breakglass/_reads/acme-cloudtrail-logs/2026-11-30T09:13:59Z-"), "{key}");
    let record: ReadRecord = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(record.count, 3);
    assert_eq!(record.bytes, 339_117 + 1_048_576);
    assert_eq!(record.written.config_sha256.as_deref(), Some("c0nf"));
    assert_eq!(
        record.reads.iter().map(|r| r.call.as_str()).collect::<Vec<_>>(),
        ["HeadObject", "GetObject", "GetObject"]
    );

    let denied = trail.log.under("breakglass/_denied/2026-12-01T22:40:00Z/acme-cloudtrail-logs/");
    assert_eq!(denied.len(), 1, "{:?}", trail.log.records.lock().unwrap().keys().collect::<Vec<_>>());
    let unreadable = trail.log.under("breakglass/_unreadable/");
    assert_eq!(unreadable.len(), 2);
    assert!(unreadable.iter().any(|(_, u)| u["event_id"] == "f2b287f3-0df1-1234-a2f4-c4bdfed47657"));
    assert!(unreadable
        .iter()
        .any(|(_, u)| u["message_id"] == "m5" && u["reason"].as_str().unwrap().starts_with("not json")));

    // One alert for the two unreadable messages; the investigator's reads are not an alert.
    let events = bus.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let OwnEvent::Unreadable(u) = &events[0] else { panic!("{events:?}") };
    assert_eq!(u.count, 2);

    // The response SQS reads.
    assert_eq!(r.response()["batchItemFailures"], json!([]));
}

#[tokio::test]
async fn a_read_by_a_principal_outside_the_investigator_roles_is_an_alert() {
    let (config, trail, bus) = ports();
    let mut stolen = serde_json::from_str::<Value>(&fixture("getobject-denied.json")).unwrap();
    let d = stolen["detail"].as_object_mut().unwrap();
    d.remove("errorCode");
    d.remove("errorMessage");
    d["additionalEventData"]["bytesTransferredOut"] = json!(5120);
    let batch = [msg("m1", stolen.to_string()), msg("m2", fixture("getobject.json"))];
    let r = recorder::record(&config, &trail, &bus, &batch, NOW, SLOT).await;
    assert_eq!((r.reads, r.alerts), (2, 1));
    let events = bus.events();
    let OwnEvent::ReadAlert(a) = &events[0] else { panic!("{events:?}") };
    assert_eq!(a.count, 1);
    assert!(a.reads[0].reader().contains("AWSReservedSSO_AdministratorAccess"));
    // acme-vpc-flow-logs allows only LogInvestigator: ExternalAuditor reading it is an alert there.
    let mut auditor = serde_json::from_str::<Value>(&fixture("getobject.json")).unwrap();
    in_bucket(&mut auditor, "acme-vpc-flow-logs");
    auditor["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
        json!("arn:aws:iam::111122223333:role/investigations/ExternalAuditor");
    auditor["detail"]["userIdentity"]["arn"] =
        json!("arn:aws:sts::111122223333:assumed-role/ExternalAuditor/bob");
    let bus = Bus::default();
    let r = recorder::record(&config, &trail, &bus, &[msg("m3", auditor.to_string())], NOW, SLOT).await;
    assert_eq!(r.alerts, 1);
}

#[tokio::test]
async fn records_that_cannot_be_written_hand_back_only_their_messages() {
    let config = config();
    let trail = trail(&config);
    *trail.log.fail.lock().unwrap() = Some("_reads/".into());
    let bus = Bus::default();
    let batch = batch(fixtures(&["getobject.json", "getobject-denied.json", "headobject.json"]));
    let r = recorder::record(&config, &trail, &bus, &batch, NOW, SLOT).await;
    assert_eq!(r.failed, ["m1", "m3"]);
    assert_eq!(
        r.response()["batchItemFailures"],
        json!([{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}])
    );
    assert_eq!(trail.log.under("breakglass/_denied/").len(), 1);
}

fn denied_read(n: usize, at: OffsetDateTime) -> String {
    let mut e = serde_json::from_str::<Value>(&fixture("getobject-denied.json")).unwrap();
    e["detail"]["eventID"] = json!(format!("denied-{n:04}"));
    e["detail"]["eventTime"] = json!(breakglass_core::time::format_time(at));
    e["detail"]["requestParameters"]["key"] =
        json!(format!("AWSLogs/111122223333/CloudTrail/object-{}.json.gz", n % 7));
    e.to_string()
}

#[tokio::test]
async fn a_hundred_refused_reads_in_a_minute_are_a_hundred_records_and_one_mail() {
    let (config, trail, bus) = ports();
    let start = datetime!(2026-12-01 22:41:00 UTC);
    // Four batches over the minute, as SQS hands them over.
    for (b, chunk) in (0..100).collect::<Vec<_>>().chunks(25).enumerate() {
        let batch: Vec<Message> = chunk
            .iter()
            .map(|n| msg(&format!("m{n}"), denied_read(*n, start + Duration::milliseconds(*n as i64 * 600))))
            .collect();
        let at = start + Duration::seconds(15 * b as i64 + 5);
        let r = recorder::record(&config, &trail, &bus, &batch, at, SLOT).await;
        assert_eq!((r.denied, r.records), (25, 25));
    }
    // A retried message is recorded again; the digest counts its event once.
    let batch = [msg("m7", denied_read(7, start))];
    recorder::record(&config, &trail, &bus, &batch, start + Duration::seconds(59), SLOT).await;
    assert_eq!(trail.log.under("breakglass/_denied/").len(), 101);
    assert!(bus.events().is_empty(), "refused reads are mailed by the digest, not one by one");

    // The slot 22:40–22:45 is complete at 22:45; the digest run after it mails it once.
    let d =
        recorder::digest(&trail, &trail.log, &bus, datetime!(2026-12-01 22:45:30 UTC), SLOT).await.unwrap();
    assert_eq!((d.slots, d.denied, d.mails), (1, 100, 1));
    let events = bus.events();
    let [OwnEvent::Denied(g)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(g.bucket, "acme-cloudtrail-logs");
    assert_eq!(g.count, 100);
    assert_eq!(g.by.len(), 1);
    assert_eq!(g.by[0].count, 100);
    assert_eq!(g.by[0].keys.len(), 5);
    assert_eq!((g.from.as_str(), g.to.as_str()), ("2026-12-01T22:40:00Z", "2026-12-01T22:45:00Z"));

    // The next runs find the marker: no second mail.
    let d =
        recorder::digest(&trail, &trail.log, &bus, datetime!(2026-12-01 22:50:30 UTC), SLOT).await.unwrap();
    assert_eq!(d.mails, 0);
    assert_eq!(bus.events().len(), 1);
}

#[tokio::test]
async fn a_missed_digest_run_is_made_up_for_in_one_mail_per_bucket() {
    let (config, trail, bus) = ports();
    let t = datetime!(2026-12-01 20:01:00 UTC);
    recorder::record(&config, &trail, &bus, &[msg("a", denied_read(1, t))], t, SLOT).await;
    let later = t + Duration::minutes(6);
    recorder::record(&config, &trail, &bus, &[msg("b", denied_read(2, later))], later, SLOT).await;
    // No run at 20:05 or 20:10 (the function failed); 20:16 digests both slots in one mail.
    let d =
        recorder::digest(&trail, &trail.log, &bus, datetime!(2026-12-01 20:16:00 UTC), SLOT).await.unwrap();
    assert_eq!((d.slots, d.denied, d.mails), (2, 2, 1));
    // Slots still open are left for the next run.
    let batch = [msg("c", denied_read(3, t))];
    recorder::record(&config, &trail, &bus, &batch, datetime!(2026-12-01 20:16:30 UTC), SLOT).await;
    let d =
        recorder::digest(&trail, &trail.log, &bus, datetime!(2026-12-01 20:17:00 UTC), SLOT).await.unwrap();
    assert_eq!(d.mails, 0);
    let d =
        recorder::digest(&trail, &trail.log, &bus, datetime!(2026-12-01 20:20:01 UTC), SLOT).await.unwrap();
    assert_eq!(d.mails, 1);
}

#[tokio::test]
async fn organisation_mode_records_a_read_only_under_the_account_that_owns_the_bucket() {
    let text =
        std::fs::read_to_string(format!("{}/../examples/organisation.toml", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    let config = Config::from_toml(&text).unwrap();
    let b = &config.buckets[0];
    let trail = trail(&config);
    let bus = Bus::default();
    let mut e = serde_json::from_str::<Value>(&fixture("getobject.json")).unwrap();
    in_bucket(&mut e, &b.name);
    e["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
        json!(b.investigator_roles.iter().next().unwrap());
    e["detail"]["recipientAccountId"] = json!(b.account);
    e["account"] = json!(b.account);
    let forged = {
        let mut f = e.clone();
        f["detail"]["recipientAccountId"] = json!("999988887777");
        f["account"] = json!("999988887777");
        f["detail"]["eventID"] = json!("forged");
        f
    };
    let batch = [msg("ok", e.to_string()), msg("forged", forged.to_string())];
    let r = recorder::record(&config, &trail, &bus, &batch, NOW, SLOT).await;
    assert_eq!((r.reads, r.unreadable), (1, 1));
    assert_eq!(trail.log.under(&format!("breakglass/_reads/{}/{}/", b.account, b.name)).len(), 1);
    let unreadable = trail.log.under(&format!("{}_unreadable/", config.audit.as_ref().unwrap().prefix));
    assert!(unreadable[0].1["reason"].as_str().unwrap().contains("does not own it"));
}

#[tokio::test]
async fn the_handler_takes_sqs_batches_and_the_schedule_and_ignores_the_rest() {
    let (config, trail, bus) = ports();
    let sqs = json!({"Records": [
        {"messageId": "a1", "eventSource": "aws:sqs", "body": fixture("getobject.json")},
        {"messageId": "a2", "eventSource": "aws:sqs", "body": fixture("truncated.json")}
    ]});
    let out =
        recorder::handle(&config, &trail, &trail.log, &bus, &sqs, NOW, Timing::default()).await.unwrap();
    assert_eq!((out["reads"].clone(), out["unreadable"].clone()), (json!(1), json!(1)));
    let schedule = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let out =
        recorder::handle(&config, &trail, &trail.log, &bus, &schedule, NOW, Timing::default()).await.unwrap();
    assert_eq!(out["digest"]["mails"], 0);
    let out =
        recorder::handle(&config, &trail, &trail.log, &bus, &json!({"hello": 1}), NOW, Timing::default())
            .await
            .unwrap();
    assert!(out["ignored"].is_string());
}

/// The notifier's audit record of an open at 09:00 by the operator `who` until `expiry`, for the
/// investigator.
fn open_record(who: &str, why: &str, ticket: &str, expiry: &str) -> Value {
    json!({"schema": "breakglass.audit/1", "time": "2026-11-30T09:00:00Z", "bucket": "acme-cloudtrail-logs",
        "kind": "request", "action": "open", "state": "open",
        "who": format!("arn:aws:sts::111122223333:assumed-role/breakglass-operator/{who}"),
        "why": why, "ticket": ticket,
        "grant": {"readers": ["arn:aws:iam::111122223333:role/investigations/LogInvestigator"], "expiry": expiry},
        "policy": {"before": null, "after": "h-open"}, "event_ids": ["req-1"]})
}

/// A bucket's history as the notifier records it: an open at 09:00 until 12:00 for the
/// investigator, and the operator's close at 10:00.
fn window_history(log: &Log) {
    let open = open_record("alice", "incident 4711", "SEC-4711", "2026-11-30T12:00:00Z");
    let close = json!({"schema": "breakglass.audit/1", "time": "2026-11-30T10:00:00Z", "bucket": "acme-cloudtrail-logs",
        "kind": "request", "action": "close", "state": "closed", "who": "arn:aws:sts::111122223333:assumed-role/breakglass-operator/bob",
        "why": "done", "policy": {"before": "h-open", "after": "h-closed"}, "event_ids": ["req-2"]});
    let mut m = log.records.lock().unwrap();
    m.insert("breakglass/acme-cloudtrail-logs/2026-11-30T09:00:00Z-a.json".into(), open.to_string());
    m.insert("breakglass/acme-cloudtrail-logs/2026-11-30T10:00:00Z-b.json".into(), close.to_string());
}

#[tokio::test]
async fn the_access_report_after_a_close_counts_every_reader_and_flags_reads_outside_the_grant() {
    let (config, trail, bus) = ports();
    window_history(&trail.log);
    let mut stranger = serde_json::from_str::<Value>(&fixture("getobject-denied.json")).unwrap();
    let d = stranger["detail"].as_object_mut().unwrap();
    d.remove("errorCode");
    d.remove("errorMessage");
    d["eventTime"] = json!("2026-11-30T09:30:00Z");
    d["eventID"] = json!("stranger-1");
    d["additionalEventData"]["bytesTransferredOut"] = json!(777);
    let mut refused = serde_json::from_str::<Value>(&fixture("getobject-denied.json")).unwrap();
    refused["detail"]["eventTime"] = json!("2026-11-30T09:40:00Z");
    // Before the window: not in its report.
    let mut before = serde_json::from_str::<Value>(&fixture("getobject.json")).unwrap();
    before["detail"]["eventTime"] = json!("2026-11-30T08:59:00Z");
    before["detail"]["eventID"] = json!("before-1");
    let mut bodies = fixtures(&["getobject.json", "getobject-version.json", "headobject.json"]);
    bodies.extend([stranger.to_string(), refused.to_string(), before.to_string()]);
    let batch = batch(bodies);
    let at = datetime!(2026-11-30 09:50:00 UTC);
    recorder::record(&config, &trail, &bus, &batch, at, SLOT).await;
    bus.0.lock().unwrap().clear();

    // The operator's close reaches the recorder; the report waits for CloudTrail's late reads.
    let close = OwnEvent::Request(breakglass_core::events::Request {
        action: "close".into(),
        ..breakglass_core::events::Request::new(
            "acme-cloudtrail-logs",
            "bob",
            breakglass_core::time::format_time(datetime!(2026-11-30 10:00:00 UTC)),
        )
    })
    .to_bus();
    let event = json!({"detail-type": close.detail_type, "source": "breakglass", "detail": close.detail});
    let out = handle_at(&config, &trail, &bus, &event, datetime!(2026-11-30 10:00:01 UTC)).await;
    assert_eq!(out["closing"], "acme-cloudtrail-logs");
    assert_eq!(reports_at(&config, &trail, &bus, datetime!(2026-11-30 10:05:00 UTC)).await, 0);
    assert_eq!(reports_at(&config, &trail, &bus, datetime!(2026-11-30 10:10:30 UTC)).await, 1);
    let events = bus.events();
    let [OwnEvent::WindowReport(r)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(r.window, "2026-11-30T09:00:00Z");
    assert_eq!(
        r.opening.opened_by.as_deref(),
        Some("arn:aws:sts::111122223333:assumed-role/breakglass-operator/alice")
    );
    assert_eq!(
        (r.opening.reason.as_deref(), r.opening.ticket.as_deref()),
        (Some("incident 4711"), Some("SEC-4711"))
    );
    assert_eq!(r.open_seconds, 3600);
    assert_eq!((r.read.reads, r.read.bytes), (4, 339_117 + 1_048_576 + 777));
    let investigator = r.read.by_reader.iter().find(|s| s.reader.ends_with("LogInvestigator")).unwrap();
    assert_eq!((investigator.objects, investigator.bytes), (3, 339_117 + 1_048_576));
    assert_eq!(investigator.source_identities, ["alice@example.com"]);
    assert_eq!(r.read.first_objects[0].call, "HeadObject");
    assert_eq!(r.outside_count, 1);
    assert!(r.is_alert());
    assert_eq!(r.denied, 1);
    let text = breakglass_core::trail::report::text(r, None);
    assert!(text.contains("ALERT: 1 read(s) by principals the grant does NOT name"), "{text}");
    assert!(text.contains("open 1 h"), "{text}");

    // Made once: the next runs find its record.
    assert_eq!(reports_at(&config, &trail, &bus, datetime!(2026-11-30 10:20:00 UTC)).await, 0);
    // The CSV has every read, quoted where needed.
    let rows: Vec<(String, breakglass_core::events::ObjectRead)> =
        r.read.first_objects.iter().map(|o| (r.window.clone(), o.clone())).collect();
    let csv = breakglass_core::trail::report::csv(&rows);
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.starts_with("window,time,reader,principal,"));
}

#[tokio::test]
async fn a_remediation_of_a_closed_bucket_makes_no_report() {
    let (config, trail, bus) = ports();
    window_history(&trail.log);
    let remediation = json!({"schema": "breakglass.remediation/1", "bucket": "acme-cloudtrail-logs", "outcome": "closed",
        "error": null, "reason": "drift", "before": {"state": "drift", "hash": "x"}, "after": {"hash": "h-closed"},
        "trigger": null, "time": "2026-11-30T15:00:00Z"});
    let event =
        json!({"detail-type": "breakglass remediation", "source": "breakglass", "detail": remediation});
    handle_at(&config, &trail, &bus, &event, datetime!(2026-11-30 15:00:01 UTC)).await;
    assert_eq!(reports_at(&config, &trail, &bus, datetime!(2026-11-30 15:30:00 UTC)).await, 0);
    assert!(bus.events().is_empty());
}

#[tokio::test]
async fn a_window_closed_by_the_expiry_sweep_gets_its_report_too() {
    let config = config();
    let trail = trail(&config);
    let open = open_record("bob", "incident 8", "SEC-8", "2026-11-30T10:00:00Z");
    let expired = json!({"schema": "breakglass.audit/1", "time": "2026-11-30T10:05:00Z", "bucket": "acme-cloudtrail-logs",
        "kind": "expiry", "action": "closed", "state": "closed", "who": "breakglass enforcer",
        "policy": {"before": "h-open", "after": "h-closed"}, "event_ids": ["sweep-1"]});
    {
        let mut m = trail.log.records.lock().unwrap();
        m.insert("breakglass/acme-cloudtrail-logs/2026-11-30T09:00:00Z-a.json".into(), open.to_string());
        m.insert("breakglass/acme-cloudtrail-logs/2026-11-30T10:05:00Z-b.json".into(), expired.to_string());
    }
    let bus = Bus::default();
    recorder::record(
        &config,
        &trail,
        &bus,
        &[msg("m1", fixture("getobject.json"))],
        datetime!(2026-11-30 09:20:00 UTC),
        SLOT,
    )
    .await;
    let sweep = json!({"schema": "breakglass.remediation/1", "bucket": "acme-cloudtrail-logs", "outcome": "closed",
        "error": null, "reason": "the OpenAccess expired", "before": {"state": "expired", "hash": "h-open"},
        "after": {"hash": "h-closed"}, "trigger": null, "time": "2026-11-30T10:05:00Z"});
    let event = json!({"detail-type": "breakglass remediation", "source": "breakglass", "detail": sweep});
    let out = handle_at(&config, &trail, &bus, &event, datetime!(2026-11-30 10:05:01 UTC)).await;
    assert_eq!(out["closing"], "acme-cloudtrail-logs");
    assert_eq!(reports_at(&config, &trail, &bus, datetime!(2026-11-30 10:16:00 UTC)).await, 1);
    let events = bus.events();
    let [OwnEvent::WindowReport(r)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(r.closed_by.as_deref(), Some("the expiry sweep (breakglass enforcer)"));
    assert_eq!((r.read.reads, r.open_seconds), (1, 3900));
    assert!(!r.is_alert());
}

/// A refused read by role `flood-<p>` (a session of it), recorded at `at`.
fn denied_read_by(n: usize, p: usize, at: OffsetDateTime) -> String {
    let mut e: Value = serde_json::from_str(&denied_read(n, at)).unwrap();
    let role = format!("arn:aws:iam::111122223333:role/flood-{p}");
    e["detail"]["userIdentity"]["arn"] = json!(format!("arn:aws:sts::111122223333:assumed-role/flood-{p}/s"));
    e["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(role);
    e["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] = json!(format!("flood-{p}"));
    e.to_string()
}

/// A flood of refused reads by many principals, which anyone refused can cause. Regression: a
/// digest run read every record of its slots one after another, so a flood ran the recorder's
/// schedule past its timeout on every run (nothing mailed, the access reports after it never run),
/// and its mail listed every principal, which can pass EventBridge's 256 KB per event. Now a run
/// reads whole slots, oldest first, until [`READS_PER_RUN`] records, and leaves the rest to the
/// next run; a mail names the [`MOST_CALLERS`] principals with most attempts and counts the others.
#[tokio::test]
async fn regression_a_flood_of_refused_reads_is_mailed_over_runs_nothing_lost_nothing_twice() {
    use breakglass_core::events::MOST_CALLERS;
    use breakglass_core::trail::slots::READS_PER_RUN;
    let (config, trail, bus) = ports();
    let per_slot = READS_PER_RUN / 2 + 100;
    for s in 0..3 {
        let at = datetime!(2026-12-01 20:00:30 UTC) + Duration::minutes(5 * s as i64);
        let batch: Vec<Message> = (0..per_slot)
            .map(|i| {
                let n = s * per_slot + i;
                msg(&format!("m{n}"), denied_read_by(n, n % (MOST_CALLERS + 10), at))
            })
            .collect();
        let r = recorder::record(&config, &trail, &bus, &batch, at, SLOT).await;
        assert_eq!(r.denied, per_slot);
    }
    // At 20:15:30 three slots are complete; two of them reach the bound.
    let d =
        recorder::digest(&trail, &trail.log, &bus, datetime!(2026-12-01 20:15:30 UTC), SLOT).await.unwrap();
    assert_eq!((d.slots, d.denied, d.mails), (2, 2 * per_slot, 1));
    let events = bus.events();
    let [OwnEvent::Denied(g)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((g.count, g.by.len()), (2 * per_slot, MOST_CALLERS));
    let listed: usize = g.by.iter().map(|b| b.count).sum();
    assert!(listed < g.count);
    let size = events[0].to_bus().detail.to_string().len();
    assert!(size < 64 * 1024, "{size} bytes");
    // The next run takes the slot left; the one after finds nothing.
    let d =
        recorder::digest(&trail, &trail.log, &bus, datetime!(2026-12-01 20:16:00 UTC), SLOT).await.unwrap();
    assert_eq!((d.slots, d.denied, d.mails), (1, per_slot, 1));
    let d =
        recorder::digest(&trail, &trail.log, &bus, datetime!(2026-12-01 20:20:30 UTC), SLOT).await.unwrap();
    assert_eq!(d.mails, 0);
    let mailed: usize =
        bus.events().iter().map(|e| if let OwnEvent::Denied(g) = e { g.count } else { 0 }).sum();
    assert_eq!(mailed, 3 * per_slot, "every refused read mailed once");
}

/// A refused `PutBucketPolicy` (CloudTrail's `errorCode`) by role `flood-<p>`, as the refused-call
/// rule delivers it to the recorder's queue.
fn refused_call(n: usize, p: usize, at: OffsetDateTime) -> String {
    json!({
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "id": format!("eb-{n}"),
        "detail": {
            "eventID": format!("refused-{n:05}"), "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
            "eventTime": breakglass_core::time::format_time(at), "errorCode": "AccessDenied",
            "sourceIPAddress": "203.0.113.7",
            "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::111122223333:assumed-role/flood-{p}/s"),
                "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::111122223333:role/flood-{p}")}}},
            "requestParameters": {"bucketName": "acme-cloudtrail-logs", "policy": ""}
        }
    })
    .to_string()
}

/// The same flood of refused calls (a script retrying against the SCP, from many roles): the
/// digest of refused calls reads at most [`READS_PER_RUN`] records a run, whole slots oldest first,
/// and names at most [`MOST_CALLERS`] callers a mail; every call is mailed once over the runs.
#[tokio::test]
async fn regression_a_flood_of_refused_calls_is_mailed_over_runs_nothing_lost_nothing_twice() {
    use breakglass_core::events::MOST_CALLERS;
    use breakglass_core::notify::Scope;
    use breakglass_core::runtime::recorder_event;
    use breakglass_core::trail::slots::READS_PER_RUN;
    let (config, trail, bus) = ports();
    let scope = Scope { key_arn: None };
    let per_slot = READS_PER_RUN / 2 + 100;
    let run = |payload: Value, at: OffsetDateTime| {
        let (config, trail, bus, scope) = (&config, &trail, &bus, &scope);
        async move {
            recorder_event(config, scope, trail, &trail.log, bus, &payload, at, Timing::default())
                .await
                .unwrap()
        }
    };
    for s in 0..3 {
        let at = datetime!(2026-12-01 20:00:30 UTC) + Duration::minutes(5 * s as i64);
        let records: Vec<Value> = (0..per_slot)
            .map(|i| {
                let n = s * per_slot + i;
                json!({"messageId": format!("m{n}"), "eventSource": "aws:sqs",
                    "body": refused_call(n, n % (MOST_CALLERS + 10), at)})
            })
            .collect();
        let out = run(json!({ "Records": records }), at).await;
        assert_eq!(out["refused_calls"], json!(per_slot), "{out}");
    }
    let schedule = json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "s", "detail": {}});
    let calls = |out: &Value| (out["calls"]["slots"].clone(), out["calls"]["calls"].clone());
    let out = run(schedule.clone(), datetime!(2026-12-01 20:15:30 UTC)).await;
    assert_eq!(calls(&out), (json!(2), json!(2 * per_slot)), "{out}");
    let events = bus.events();
    let refused: Vec<_> = events
        .iter()
        .filter_map(|e| if let OwnEvent::RefusedCalls(g) = e { Some(g) } else { None })
        .collect();
    let [g] = refused.as_slice() else { panic!("{events:?}") };
    assert_eq!((g.count, g.by.len()), (2 * per_slot, MOST_CALLERS));
    let bus_event = OwnEvent::RefusedCalls((*g).clone()).to_bus();
    let incoming = breakglass_core::inbound::event::Incoming::Custom {
        id: Some("x".into()),
        detail_type: bus_event.detail_type,
        detail: bus_event.detail,
    };
    let mails = breakglass_core::notify::render(&config, &incoming, datetime!(2026-12-01 20:15:31 UTC));
    let Some(breakglass_core::notify::Rendered::Send(n)) = mails.first() else { panic!("{mails:?}") };
    assert!(n.email.contains("more by other callers (each in the audit trail)"), "{}", n.email);
    let out = run(schedule.clone(), datetime!(2026-12-01 20:16:00 UTC)).await;
    assert_eq!(calls(&out), (json!(1), json!(per_slot)), "{out}");
    let out = run(schedule, datetime!(2026-12-01 20:20:30 UTC)).await;
    assert_eq!(calls(&out), (json!(0), json!(0)), "{out}");
    let mailed: usize =
        bus.events().iter().map(|e| if let OwnEvent::RefusedCalls(g) = e { g.count } else { 0 }).sum();
    assert_eq!(mailed, 3 * per_slot, "every refused call mailed once");
}

/// One slot alone larger than a run reads: its first [`READS_PER_RUN`] records are read, the
/// others counted by their keys, and the one mail counts all of them; the slot is mailed once.
#[tokio::test]
async fn a_slot_too_large_to_read_whole_is_mailed_once_counting_every_refused_read() {
    use breakglass_core::trail::slots::READS_PER_RUN;
    let (config, trail, bus) = ports();
    let n = READS_PER_RUN + 200;
    let at = datetime!(2026-12-01 20:00:30 UTC);
    let batch: Vec<Message> = (0..n).map(|i| msg(&format!("m{i}"), denied_read_by(i, i % 3, at))).collect();
    recorder::record(&config, &trail, &bus, &batch, at, SLOT).await;
    let d =
        recorder::digest(&trail, &trail.log, &bus, datetime!(2026-12-01 20:05:30 UTC), SLOT).await.unwrap();
    assert_eq!((d.slots, d.denied, d.mails), (1, n, 1));
    let events = bus.events();
    let [OwnEvent::Denied(g)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(g.count, n);
    assert_eq!(g.by.iter().map(|b| b.count).sum::<usize>(), READS_PER_RUN, "the callers of the reads read");
    let d =
        recorder::digest(&trail, &trail.log, &bus, datetime!(2026-12-01 20:10:30 UTC), SLOT).await.unwrap();
    assert_eq!(d.mails, 0);
}

/// Refused calls are filed several at once, their slot marked once per place first: when the mark
/// cannot be written, every call of that place is handed back (a record without a mark would never
/// be mailed), and nothing of them is recorded; the redelivery files them.
#[tokio::test]
async fn refused_calls_whose_slot_cannot_be_marked_are_handed_back_whole() {
    use breakglass_core::notify::Scope;
    use breakglass_core::runtime::recorder_event;
    let (config, trail, bus) = ports();
    let scope = Scope { key_arn: None };
    let at = datetime!(2026-12-01 20:00:30 UTC);
    let batch = json!({"Records": (0..3).map(|n| json!({"messageId": format!("m{n}"), "eventSource": "aws:sqs",
        "body": refused_call(n, n, at)})).collect::<Vec<_>>()});
    *trail.log.fail.lock().unwrap() = Some("_attempts/_slots/".into());
    let out = recorder_event(&config, &scope, &trail, &trail.log, &bus, &batch, at, Timing::default())
        .await
        .unwrap();
    assert_eq!(out["batchItemFailures"].as_array().unwrap().len(), 3, "{out}");
    assert!(trail.log.under("breakglass/_attempts/acme-cloudtrail-logs/").is_empty());
    *trail.log.fail.lock().unwrap() = None;
    let out = recorder_event(&config, &scope, &trail, &trail.log, &bus, &batch, at, Timing::default())
        .await
        .unwrap();
    assert_eq!(
        (out["refused_calls"].clone(), out["batchItemFailures"].clone()),
        (json!(3), json!([])),
        "{out}"
    );
    assert_eq!(trail.log.under("breakglass/_attempts/acme-cloudtrail-logs/").len(), 3);
}

/// A stranger's read that failed only after the policy let it in (`NoSuchKey`: S3 says so only to
/// a caller that may list the bucket; a bad range, a precondition) shows access as much as one
/// that returned data. Regression: only reads without an error were alerted.
#[tokio::test]
async fn regression_a_strangers_read_that_failed_past_the_policy_is_alerted() {
    let (config, trail, bus) = ports();
    let mut probe = serde_json::from_str::<Value>(&fixture("getobject-denied.json")).unwrap();
    probe["detail"]["errorCode"] = json!("NoSuchKey");
    probe["detail"]["errorMessage"] = json!("The specified key does not exist.");
    let r = recorder::record(&config, &trail, &bus, &[msg("m1", probe.to_string())], NOW, SLOT).await;
    assert_eq!(r.alerts, 1, "{r:?}");
    let events = bus.events();
    let OwnEvent::ReadAlert(a) = &events[0] else { panic!("{events:?}") };
    assert_eq!(a.reads[0].error.as_deref(), Some("NoSuchKey"));
    // A refused read is digested, not alerted.
    let bus = Bus::default();
    let denied = fixture("getobject-denied.json");
    let r = recorder::record(&config, &trail, &bus, &[msg("m2", denied)], NOW, SLOT).await;
    assert_eq!(r.alerts, 0, "{r:?}");
}

/// A copy into a protected bucket from one that is not reads none of the protected logs (the
/// trail logs it because the destination is protected). Regression: an "unreadable" alert each time.
#[tokio::test]
async fn a_copy_into_a_protected_bucket_from_elsewhere_is_not_a_read() {
    let (config, trail, bus) = ports();
    let mut copy = serde_json::from_str::<Value>(&fixture("copyobject.json")).unwrap();
    let p = &mut copy["detail"]["requestParameters"];
    p["bucketName"] = json!("acme-cloudtrail-logs");
    p["x-amz-copy-source"] = json!("some-other-bucket/report.csv");
    let r = recorder::record(&config, &trail, &bus, &[msg("m1", copy.to_string())], NOW, SLOT).await;
    assert_eq!((r.reads, r.unreadable, r.records), (0, 0, 0), "{r:?}");
    assert!(r.failed.is_empty() && bus.events().is_empty(), "{r:?}");
    assert!(matches!(reads::parse(&copy.to_string(), &config), Err(Unreadable::CopyInto(_))));
}

/// CloudTrail writes a read's `eventTime` as the second, cut down; a window opens at some
/// millisecond. Regression: a read in the window's first second was left out of its report.
#[test]
fn a_read_in_the_second_the_window_opened_is_in_its_report() {
    use breakglass_core::trail::history::{Entry, Step};
    let config = config();
    let mut read = reads::parse(&fixture("getobject.json"), &config).unwrap();
    read.time = "2026-12-01T12:00:00Z".into();
    let step = |t: OffsetDateTime| Step {
        time: t,
        kind: "request".into(),
        action: "open".into(),
        who: None,
        why: None,
        ticket: None,
        readers: Vec::new(),
        expiry: None,
        summary: String::new(),
        event_ids: Vec::new(),
        forged: false,
        policy_after: None,
    };
    let window = Entry::Window {
        opened: step(datetime!(2026-12-01 12:00:00.700 UTC)),
        extensions: Vec::new(),
        closed: Some(step(datetime!(2026-12-01 13:00:00 UTC))),
    };
    let kept = breakglass_core::trail::report::within(&window, &[read.clone()], NOW);
    assert_eq!(kept, [read.clone()]);
    read.time = "2026-12-01T11:59:59Z".into();
    assert!(breakglass_core::trail::report::within(&window, &[read], NOW).is_empty());
}
