//! Who read what, end to end on moto with the real recorder and notifier binaries: CloudTrail data
//! events (shaped from published real ones, `core/tests/fixtures/data-events/SOURCES.md`) go through
//! template.yaml's read rule into the recorder's queue, the recorder writes the audit trail and puts
//! its alerts on the bus, the notifier mails them.

use e2e::{root, setup, Function};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = root().join("core/tests/fixtures/data-events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A read of `key` by the fixture's investigator session, now.
fn read(n: usize, key: &str, bytes: u64) -> Value {
    let mut e = fixture("getobject.json");
    let now = breakglass_core::time::format_time(time::OffsetDateTime::now_utc());
    e["detail"]["eventID"] = json!(format!("read-{n:04}"));
    e["detail"]["eventTime"] = json!(now);
    e["time"] = json!(now);
    e["detail"]["requestParameters"]["key"] = json!(key);
    e["detail"]["additionalEventData"]["bytesTransferredOut"] = json!(bytes);
    e
}

/// The recorder, with one more setting `key` = `value` than the stack's functions have.
async fn recorder_with(env: &e2e::Env, key: &str, value: &str) -> Function {
    let mut function_env = env.stack.function_env();
    function_env.push((key.into(), value.into()));
    Function::spawn("recorder", &env.iam.function_env(function_env, "recorder").await)
}

#[tokio::test]
async fn reads_are_recorded_with_who_what_and_bytes_and_a_stranger_s_read_is_an_alert() {
    let Some(env) = setup().await else { return };
    let stack = &env.stack;
    let recorder = env.iam.spawn(stack, "recorder").await;
    for (n, (key, bytes)) in
        [("AWSLogs/a.json.gz", 1000), ("AWSLogs/b.json.gz", 2000), ("AWSLogs/c.json.gz", 3000)]
            .into_iter()
            .enumerate()
    {
        stack.cloudtrail(&read(n, key, bytes)).await;
    }
    // The administrator of the logging account reads an object, and S3 let it through.
    let mut stolen = fixture("getobject-denied.json");
    let d = stolen["detail"].as_object_mut().unwrap();
    d.remove("errorCode");
    d.remove("errorMessage");
    d["additionalEventData"]["bytesTransferredOut"] = json!(4096);
    stack.cloudtrail(&stolen).await;
    // Another service's GetObject (S3 Tables) is not matched by the rule at all.
    stack.cloudtrail(&fixture("s3tables-getobject.json")).await;

    let answers = stack.record_reads(&recorder).await;
    let total = |k: &str| answers.iter().map(|a| a[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((total("reads"), total("denied"), total("unreadable")), (4, 0, 0), "{answers:?}");
    assert!(answers.iter().all(|a| a["batchItemFailures"] == json!([])));

    let records = stack.audit_under("_reads/acme-cloudtrail-logs/").await;
    let reads: Vec<&Value> = records.iter().flat_map(|(_, r)| r["reads"].as_array().unwrap()).collect();
    assert_eq!(reads.len(), 4);
    let by_investigator: Vec<&&Value> = reads
        .iter()
        .filter(|r| r["role"] == "arn:aws:iam::111122223333:role/investigations/LogInvestigator")
        .collect();
    assert_eq!(by_investigator.len(), 3);
    assert_eq!(by_investigator.iter().map(|r| r["bytes"].as_u64().unwrap()).sum::<u64>(), 6000);
    assert!(by_investigator.iter().all(|r| r["source_identity"] == "alice@example.com"));
    assert!(records.iter().all(|(_, r)| r["config_sha256"].is_string() && r["id"].is_string()));

    // The alert went on the bus; the notifier mails it to stakeholders and the security team.
    let own = stack.drain(&stack.own_events).await;
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["detail-type"], "breakglass read alert");
    env.notifier.invoke(&own[0]).unwrap();
    for queue in [&stack.stakeholders, &stack.security] {
        let mails = stack.deliveries(queue).await;
        assert_eq!(mails.len(), 1, "{mails:?}");
        let (attrs, doc) = &mails[0];
        assert_eq!(attrs["kind"]["Value"], "access");
        assert!(
            doc["subject"].as_str().unwrap().contains("ALERT acme-cloudtrail-logs: 1 object read"),
            "{doc}"
        );
        assert!(doc["text"].as_str().unwrap().contains("AWSReservedSSO_AdministratorAccess"), "{doc}");
    }
    // …and records that mail like every other.
    let alert_records = stack.audit_records("acme-cloudtrail-logs").await;
    assert!(alert_records.iter().any(|(_, r)| r["kind"] == "access"), "{alert_records:?}");
}

#[tokio::test]
async fn a_hundred_refused_reads_in_a_minute_are_a_hundred_records_and_one_mail() {
    let Some(env) = setup().await else { return };
    let stack = &env.stack;
    // Two-second slots instead of five minutes, so that the test need not wait for a slot to end.
    let recorder = recorder_with(&env, "BREAKGLASS_DIGEST_SLOT_SECONDS", "2").await;
    let mut denied = fixture("getobject-denied.json");
    for n in 0..100 {
        denied["detail"]["eventID"] = json!(format!("denied-{n:04}"));
        denied["detail"]["requestParameters"]["key"] = json!(format!("AWSLogs/object-{}.json.gz", n % 9));
        stack.cloudtrail(&denied).await;
    }
    let answers = stack.record_reads(&recorder).await;
    let refused: u64 = answers.iter().map(|a| a["denied"].as_u64().unwrap()).sum();
    assert_eq!(refused, 100, "{answers:?}");
    assert_eq!(stack.audit_under("_denied/").await.len(), 100);
    assert!(stack.drain(&stack.own_events).await.is_empty(), "refused reads are mailed by the digest only");

    // The slot ends; the scheduled digest mails it once, then never again.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let schedule = json!({"version": "0", "id": "digest-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "111122223333", "time": breakglass_core::time::format_time(time::OffsetDateTime::now_utc()),
        "region": "eu-central-1", "resources": [], "detail": {}});
    let first = recorder.invoke(&schedule).unwrap();
    assert_eq!(first["digest"]["denied"], 100, "{first}");
    assert_eq!(first["digest"]["mails"], 1, "{first}");
    assert_eq!(recorder.invoke(&schedule).unwrap()["digest"]["mails"], 0);
    let own = stack.drain(&stack.own_events).await;
    assert_eq!(own.len(), 1);
    env.notifier.invoke(&own[0]).unwrap();
    let mails = stack.deliveries(&stack.security).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (attrs, doc) = &mails[0];
    assert_eq!(attrs["kind"]["Value"], "denied");
    assert_eq!(doc["count"], 100);
    assert!(doc["subject"].as_str().unwrap().contains("100 refused read(s)"), "{doc}");
    assert!(doc["text"].as_str().unwrap().contains("100 refused"), "{doc}");
    // Stakeholders are not mailed refused reads; the security team is.
    assert!(stack.deliveries(&stack.stakeholders).await.is_empty());
}

#[tokio::test]
async fn malformed_and_foreign_data_events_are_recorded_as_unreadable_and_alerted_once() {
    let Some(env) = setup().await else { return };
    let stack = &env.stack;
    let recorder = env.iam.spawn(stack, "recorder").await;
    // Straight into the queue: what a broken forwarder or a forger could put there.
    let truncated =
        std::fs::read_to_string(root().join("core/tests/fixtures/data-events/truncated.json")).unwrap();
    let foreign = fixture("s3tables-getobject.json").to_string();
    for body in [truncated.as_str(), foreign.as_str(), "{}", &read(1, "AWSLogs/ok.json.gz", 10).to_string()] {
        stack.clients.sqs.send_message().queue_url(&stack.reads).message_body(body).send().await.unwrap();
    }
    let answers = stack.record_reads(&recorder).await;
    let total = |k: &str| answers.iter().map(|a| a[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((total("reads"), total("unreadable")), (1, 3), "{answers:?}");
    assert!(answers.iter().all(|a| a["batchItemFailures"] == json!([])), "nothing handed back: {answers:?}");
    let unreadable = stack.audit_under("_unreadable/").await;
    assert_eq!(unreadable.len(), 3);
    assert!(unreadable.iter().any(|(_, r)| r["event_id"] == "f2b287f3-0df1-1234-a2f4-c4bdfed47657"));
    assert!(recorder.invoke(&json!({"Records": []})).unwrap()["ignored"].is_string());
    let own = stack.drain(&stack.own_events).await;
    assert_eq!(own.len(), 1, "one alert for the batch: {own:?}");
    env.notifier.invoke(&own[0]).unwrap();
    let mails = stack.deliveries(&stack.security).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].1["subject"].as_str().unwrap().contains("3 data event(s) could not be recorded"));
}

/// A window from open to close: the reads in it, the access report the stakeholders get once the
/// delay for late reads has passed, and the same report, CSV and read count from the CLI.
#[tokio::test]
async fn after_a_window_closes_the_stakeholders_get_what_was_read_and_the_cli_prints_the_same() {
    let Some(env) = setup().await else { return };
    let stack = &env.stack;
    let recorder = recorder_with(&env, "BREAKGLASS_REPORT_DELAY_SECONDS", "0").await;
    let config = e2e::single_operator_path();
    let reader = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";
    let base = ["--config", config.as_str(), "--bucket", "acme-cloudtrail-logs"];
    // The operators' CLI, under IAM as the template grants the operator role, through the gate.
    let gate = stack.gate(Some(&env.iam)).await;
    let mut operator = env.iam.person_env("breakglass-operator", "alice").await;
    operator.push(gate.env());
    let (code, _, err) = e2e::breakglass_as(
        &operator,
        &env.iam.endpoint,
        &[
            &["open"][..],
            &base,
            &["--reason", "incident 42", "--ticket", "INC-42", "--duration", "1h", "--reader", reader],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    for event in stack.drain(&stack.own_events).await {
        env.notifier.invoke(&event).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for (n, key) in ["AWSLogs/a.json.gz", "AWSLogs/b.json.gz", "AWSLogs/c,d.json.gz"].iter().enumerate() {
        stack.cloudtrail(&read(n, key, 100 * (n as u64 + 1))).await;
    }
    stack.record_reads(&recorder).await;
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, _, err) = e2e::breakglass_as(
        &operator,
        &env.iam.endpoint,
        &[&["close"][..], &base, &["--reason", "done"]].concat(),
    );
    assert_eq!(code, 0, "{err}");
    // The close reaches the notifier (its record) and the recorder (the report's to-do).
    for event in stack.drain(&stack.own_events).await {
        env.notifier.invoke(&event).unwrap();
        let answer = recorder.invoke(&event).unwrap();
        assert_eq!(answer["closing"], "acme-cloudtrail-logs", "{answer}");
    }
    stack.deliveries(&stack.stakeholders).await;
    let schedule = json!({"version": "0", "id": "digest-2", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "111122223333", "time": breakglass_core::time::format_time(time::OffsetDateTime::now_utc()),
        "region": "eu-central-1", "resources": [], "detail": {}});
    let answer = recorder.invoke(&schedule).unwrap();
    assert_eq!(answer["reports"], 1, "{answer}");
    assert_eq!(recorder.invoke(&schedule).unwrap()["reports"], 0, "made once");
    let own = stack.drain(&stack.own_events).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["detail-type"], "breakglass window report");
    env.notifier.invoke(&own[0]).unwrap();
    let mails = stack.deliveries(&stack.stakeholders).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (attrs, doc) = &mails[0];
    assert_eq!(attrs["kind"]["Value"], "access");
    assert_eq!(
        (doc["reads"].as_u64(), doc["bytes"].as_u64(), doc["outside_count"].as_u64()),
        (Some(3), Some(600), Some(0))
    );
    let text = doc["text"].as_str().unwrap();
    assert!(text.contains("3 object(s), 600 bytes"), "{text}");
    assert!(text.contains("INC-42") && text.contains("incident 42"), "{text}");
    assert!(text.contains("Reads outside the readers named in the grant: none."), "{text}");

    // The CLI prints the same report, every read as CSV, and the count in the history.
    let (code, out, err) =
        e2e::breakglass_as(&operator, &env.iam.endpoint, &[&["report"][..], &base].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("What was read: 3 object(s), 600 bytes."), "{out}");
    let (code, out, _) =
        e2e::breakglass_as(&operator, &env.iam.endpoint, &[&["report"][..], &base, &["--json"]].concat());
    assert_eq!(code, 0);
    let reports: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reports[0]["by_reader"][0]["objects"], 3);
    let window = reports[0]["window"].as_str().unwrap().to_owned();
    let (code, out, _) = e2e::breakglass_as(
        &operator,
        &env.iam.endpoint,
        &[&["report"][..], &base, &["--window", &window, "--csv"]].concat(),
    );
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.contains("\"AWSLogs/c,d.json.gz\""), "quoted: {out}");
    let (code, _, err) = e2e::breakglass_as(
        &operator,
        &env.iam.endpoint,
        &[&["report"][..], &base, &["--window", "2020-01-01T00:00:00Z"]].concat(),
    );
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");
    let (code, out, _) =
        e2e::breakglass_as(&operator, &env.iam.endpoint, &[&["history"][..], &base].concat());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("read      3 object(s), 600 bytes"), "{out}");
    let (code, out, err) =
        e2e::breakglass_as(&operator, &env.iam.endpoint, &[&["history"][..], &base, &["--csv"]].concat());
    assert_eq!(code, 0, "{err}");
    let steps: Vec<&str> = out.lines().skip(1).filter(|l| l.starts_with(window.as_str())).collect();
    assert_eq!(steps.len(), 2, "opened and closed: {out}");
    assert!(out.starts_with("entry,type,step,time,"), "{out}");
}

/// Issue 22: an investigator copies a protected object into a bucket of their own during a window.
/// The copy is handed to the recorder as the read rule delivers it (the rule matches it by the
/// source bucket's ARN in `resources`, which moto's EventBridge does not look into; proofs/ checks
/// the pattern), and the real recorder writes it as a read of the source object, not of the target.
#[tokio::test]
async fn a_copy_out_of_a_protected_bucket_is_recorded_as_a_read_of_its_source() {
    let Some(env) = setup().await else { return };
    let stack = &env.stack;
    let recorder = env.iam.spawn(stack, "recorder").await;
    let mut copy = fixture("copyobject.json");
    let now = breakglass_core::time::format_time(time::OffsetDateTime::now_utc());
    copy["detail"]["eventTime"] = json!(now);
    copy["time"] = json!(now);
    stack.queue_read(&copy).await;

    let answers = stack.record_reads(&recorder).await;
    let total = |k: &str| answers.iter().map(|a| a[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((total("reads"), total("denied"), total("unreadable")), (1, 0, 0), "{answers:?}");
    let records = stack.audit_under("_reads/acme-cloudtrail-logs/").await;
    assert_eq!(records.len(), 1, "{records:?}");
    let read = &records[0].1["reads"][0];
    let source = copy["detail"]["requestParameters"]["x-amz-copy-source"].as_str().unwrap();
    assert_eq!(read["call"], "CopyObject");
    assert_eq!(read["bucket"], "acme-cloudtrail-logs");
    assert!(
        source.starts_with(&format!("acme-cloudtrail-logs/{}?", read["key"].as_str().unwrap())),
        "{read}"
    );
    assert_eq!(read["role"], "arn:aws:iam::111122223333:role/investigations/LogInvestigator");
    let target = copy["detail"]["requestParameters"]["bucketName"].as_str().unwrap();
    assert!(stack.audit_under(&format!("_reads/{target}/")).await.is_empty());
    assert!(stack.drain(&stack.own_events).await.is_empty(), "an investigator's read is no alert");
}
