//! `breakglass status` and `breakglass enforce` against moto over HTTP.

use e2e::{breakglass, breakglass_as, provision, Moto};

#[tokio::test(flavor = "current_thread")]
async fn status_shows_drift_and_enforce_repairs_it() {
    let Some(moto) = Moto::start() else { return };
    let stack = provision(&moto.endpoint).await;
    // The operators' CLI, under IAM as the template grants the operator role.
    let iam = stack.iam(&moto.endpoint);
    let operator = iam.person_env("breakglass-operator", "alice").await;
    let config = e2e::single_operator_path();

    let (code, out, err) = breakglass_as(&operator, &iam.endpoint, &["status", "--config", &config]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.lines().all(|l| l.contains("closed")), "{out}");

    stack.tamper("acme-cloudtrail-logs").await;
    stack.clients.s3.delete_bucket_policy().bucket("acme-vpc-flow-logs").send().await.unwrap();
    let (code, out, _) = breakglass_as(&operator, &iam.endpoint, &["status", "--config", &config]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("WARNING: first statement calls itself `ClosedAccess`"), "{out}");
    assert!(out.contains("the bucket has no policy"), "{out}");

    stack.drain(&stack.own_events).await;
    // Drift found: exit 3, with or without --dry-run.
    let (code, out, err) =
        breakglass_as(&operator, &iam.endpoint, &["enforce", "--config", &config, "--dry-run"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.ends_with("2 buckets: 0 closed/lawful, 2 would remediate, 0 errors\n"), "{out}");
    let (code, _, _) = breakglass_as(&operator, &iam.endpoint, &["status", "--config", &config]);
    assert_eq!(code, 3, "a dry run writes nothing");
    // Nor puts anything on the bus: no remediation event, no digest, so no mail and no record.
    let own = stack.drain(&stack.own_events).await;
    assert!(own.is_empty(), "a dry run puts nothing on the bus: {own:?}");

    // Repairing is the enforcer's: the operator role writes no policy and puts no event (issue
    // 21), so the writing run is the enforcer's logic with the enforcer's role.
    let enforcer = iam.function_env(e2e::aws_env(&moto.endpoint), "enforcer").await;
    let (code, out, err) =
        breakglass_as(&enforcer, &iam.endpoint, &["enforce", "--config", &config, "--json"]);
    assert_eq!(code, 3, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["summary"]["remediated"], 2, "{out}");
    // The queue does see the CLI's events: the empty drain above is not a deaf queue.
    let own = stack.drain(&stack.own_events).await;
    assert!(own.iter().any(|e| e["detail-type"] == "breakglass remediation"), "{own:?}");
    let (code, out, _) = breakglass_as(&operator, &iam.endpoint, &["status", "--config", &config, "--json"]);
    assert_eq!(code, 0, "{out}");

    // AWS unreachable: exit 1 (retry later), one line.
    let (code, _, err) = breakglass("http://127.0.0.1:9", &["status", "--config", &config]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// One bucket of the config missing on AWS: `status` still reports the others, in config order,
/// names the missing one with its cause, sums up, and exits 2 (a missing bucket is not worth
/// retrying), which outweighs drift found in another bucket; `enforce` still sweeps the others.
#[tokio::test(flavor = "current_thread")]
async fn status_reports_every_bucket_when_one_is_missing() {
    let Some(moto) = Moto::start() else { return };
    let stack = provision(&moto.endpoint).await;
    let text = e2e::single_operator_text().replace(
        "[[bucket]]\nname = \"acme-vpc-flow-logs\"",
        "[[bucket]]\nname = \"acme-missing-logs\"\n\n[[bucket]]\nname = \"acme-vpc-flow-logs\"",
    );
    assert!(text.contains("acme-missing-logs"), "the example config lists its buckets as expected");
    let path = e2e::root().join(format!("target/e2e-configs/missing-bucket-{}.toml", std::process::id()));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    let config = path.display().to_string();

    // The operators' CLI, under IAM as the template grants the operator role (the stack deployed
    // for this config: its missing bucket is among the protected ones).
    let buckets: Vec<String> =
        ["acme-cloudtrail-logs", "acme-missing-logs", "acme-vpc-flow-logs"].map(str::to_owned).to_vec();
    let iam = e2e::IamProxy::start(
        &moto.endpoint,
        e2e::Deployment::single_account(e2e::ACCOUNT, e2e::REGION, &buckets),
        &stack.audit_bucket,
    );
    let operator = iam.person_env("breakglass-operator", "alice").await;
    let (code, out, err) = breakglass_as(&operator, &iam.endpoint, &["status", "--config", &config]);
    assert_eq!(code, 2, "{out}{err}");
    every_bucket_on_its_line(
        &out,
        ["closed", "NoSuchBucket", "closed"],
        "3 buckets: 2 closed/lawful, 0 drift, 1 error",
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let (code, out, _) = breakglass_as(&operator, &iam.endpoint, &["status", "--config", &config, "--json"]);
    assert_eq!(code, 2, "{out}");
    let j = every_bucket_in_json(&out, "state", ["closed", "error", "closed"]);
    assert_eq!(
        j["summary"],
        serde_json::json!({"buckets": 3, "lawful": 2, "drift": 0, "errors": 1, "exit_code": 2})
    );

    // Drift in another bucket is still reported; the bucket that could not be read wins the exit code.
    stack.tamper("acme-cloudtrail-logs").await;
    let (code, out, _) = breakglass_as(&operator, &iam.endpoint, &["status", "--config", &config]);
    assert_eq!(code, 2, "{out}");
    assert!(out.ends_with("3 buckets: 1 closed/lawful, 1 drift, 1 error\n"), "{out}");

    // `enforce` reports every bucket the same way: the others swept all the same, the missing one
    // named with its cause in place, exit 2 (not worth a retry) over the drift it found.
    let (code, out, _) =
        breakglass_as(&operator, &iam.endpoint, &["enforce", "--config", &config, "--dry-run", "--json"]);
    assert_eq!(code, 2, "{out}");
    let j = every_bucket_in_json(&out, "outcome", ["would-remediate", "error", "closed"]);
    assert_eq!(j["dry_run"], true);
    assert_eq!(
        j["summary"],
        serde_json::json!({"buckets": 3, "lawful": 1, "remediated": 1, "errors": 1, "repairs": 0, "exit_code": 2})
    );
    // The writing run: the enforcer's logic with the enforcer's role (the operator's writes nothing).
    let enforcer = iam.function_env(e2e::aws_env(&moto.endpoint), "enforcer").await;
    let (code, out, err) = breakglass_as(&enforcer, &iam.endpoint, &["enforce", "--config", &config]);
    assert_eq!(code, 2, "{out}{err}");
    let summary = "3 buckets: 1 closed/lawful, 1 remediated, 1 error";
    every_bucket_on_its_line(&out, ["remediated", "NoSuchBucket", "closed"], summary);
    assert_eq!(err.lines().count(), 1, "{err}");
    let (_, out, _) = breakglass_as(&operator, &iam.endpoint, &["status", "--config", &config]);
    assert!(out.ends_with("3 buckets: 2 closed/lawful, 0 drift, 1 error\n"), "{out}");
    let _ = std::fs::remove_file(&path);
}

/// The three buckets of the missing-bucket config, in its order, each line with its word, then the
/// summary line.
fn every_bucket_on_its_line(out: &str, words: [&str; 3], summary: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    let buckets = ["acme-cloudtrail-logs", "acme-missing-logs", "acme-vpc-flow-logs"];
    for ((line, bucket), word) in lines.iter().zip(buckets).zip(words) {
        assert!(line.starts_with(bucket) && line.contains(word), "{bucket} {word}: {out}");
    }
    assert_eq!(lines[3], summary, "{out}");
}

/// `--json` of the same: each bucket's `field`, in order, the missing one's error; the whole answer.
fn every_bucket_in_json(out: &str, field: &str, want: [&str; 3]) -> serde_json::Value {
    let j: serde_json::Value = serde_json::from_str(out).unwrap();
    let got: Vec<&str> =
        j["buckets"].as_array().unwrap().iter().map(|b| b[field].as_str().unwrap()).collect();
    assert_eq!(got, want, "{out}");
    assert!(j["buckets"][1]["error"].as_str().unwrap().contains("NoSuchBucket"), "{out}");
    j
}

#[tokio::test(flavor = "current_thread")]
async fn open_and_close_round_trip_with_emails_audit_records_and_history() {
    let Some(moto) = Moto::start() else { return };
    let stack = provision(&moto.endpoint).await;
    // The operators' CLI, under IAM as the template grants the operator role, through the gate.
    let iam = stack.iam(&moto.endpoint);
    let gate = stack.gate(Some(&iam)).await;
    let mut operator = iam.person_env("breakglass-operator", "alice").await;
    operator.push(gate.env());
    let notifier = iam.spawn(&stack, "notifier").await;
    let config = e2e::single_operator_path();
    let reader = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";
    let auditor = "arn:aws:iam::111122223333:role/investigations/ExternalAuditor";
    let base = ["--config", config.as_str(), "--bucket", "acme-cloudtrail-logs"];
    let open =
        |extra: &[&str]| breakglass_as(&operator, &iam.endpoint, &[&["open"][..], &base, extra].concat());

    // Refused: no ticket (usage, nothing asked), too long, a reader the config does not allow.
    let (code, _, err) = open(&["--reason", "x", "--duration", "1h"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = open(&["--reason", "x", "--ticket", "T", "--duration", "2d"]);
    assert_eq!((code, err.contains("more than 12h")), (2, true), "{err}");
    let mallory = "arn:aws:iam::111122223333:role/mallory";
    let (code, _, err) = open(&["--reason", "x", "--ticket", "T", "--duration", "1h", "--reader", mallory]);
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");
    assert_eq!(stack.live_policy("acme-cloudtrail-logs").await, Some(closed_text()), "nothing written");

    let (code, out, err) =
        open(&["--reason", "incident 42", "--ticket", "INC-42", "--duration", "4h", "--reader", reader]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("opened acme-cloudtrail-logs until "), "{out}");
    let (code, out, _) = breakglass_as(&operator, &iam.endpoint, &["status", "--config", &config]);
    assert_eq!(code, 0);
    assert!(out.contains("open until"), "{out}");
    // Overlapping: a shorter grant for another reader widens, never cuts short.
    let (code, out, err) =
        open(&["--reason", "external audit", "--ticket", "AUD-7", "--duration", "1h", "--reader", auditor]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no grant was cut short"), "{out}");

    let (code, out, err) = breakglass_as(
        &operator,
        &iam.endpoint,
        &[&["close"][..], &base, &["--reason", "done", "--json"]].concat(),
    );
    assert_eq!(code, 0, "{err}");
    let closed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(closed["action"], "close");
    assert_eq!(closed["previous"]["readers"], serde_json::json!([auditor, reader]));

    // The request events reach the notifier by the template's rule; stakeholders read why.
    for event in stack.drain(&stack.own_events).await {
        notifier.invoke(&event).unwrap();
    }
    let mails = stack.deliveries(&stack.stakeholders).await;
    let subjects: Vec<&str> = mails.iter().filter_map(|(_, d)| d["subject"].as_str()).collect();
    assert_eq!(subjects.len(), 5, "{subjects:?}");
    assert!(subjects[0].contains("REFUSED request to open"), "{subjects:?}");
    assert!(mails[1].1["text"].as_str().unwrap().contains("is not an investigator role"));
    assert!(subjects[2].contains("access OPENED until") && subjects[2].contains("(INC-42)"), "{subjects:?}");
    assert!(mails[2].1["text"].as_str().unwrap().contains("Why\n  incident 42"));
    assert!(subjects[3].contains("(AUD-7)"), "{subjects:?}");
    assert!(subjects[4].ends_with("access CLOSED"), "{subjects:?}");

    // One audit record per message, in the Object Lock bucket, locked in compliance mode.
    let records = stack.audit_records("acme-cloudtrail-logs").await;
    assert_eq!(records.len(), 5, "{records:#?}");
    let (key, first) = &records[0];
    let head = stack.clients.s3.head_object().bucket(&stack.audit_bucket).key(key).send().await.unwrap();
    assert_eq!(head.object_lock_mode.map(|m| m.as_str().to_owned()).as_deref(), Some("COMPLIANCE"));
    // (breakglass's own events carry no EventBridge id in the record: a resent `PutEvents` gets
    // another, and must not make another record; a call's CloudTrail id stays.)
    assert!(first["time"].is_string() && first["who"].is_string() && first["event_ids"].is_array());
    let open_record = records.iter().map(|(_, r)| r).find(|r| r["ticket"] == "INC-42").unwrap();
    assert_eq!(open_record["why"], "incident 42");
    assert!(open_record["policy"]["before"].is_string() && open_record["policy"]["after"].is_string());

    // history: one window (opened, extended, closed), two refused requests; newest first.
    let hist = ["history", "--config", config.as_str(), "--bucket", "acme-cloudtrail-logs"];
    let (code, out, err) = breakglass_as(&operator, &iam.endpoint, &hist);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("OPEN WINDOW, closed after").count(), 1, "{out}");
    assert_eq!(out.matches("REFUSED request to open").count(), 2, "{out}");
    assert!(out.find("OPEN WINDOW").unwrap() < out.find("REFUSED").unwrap(), "newest first:\n{out}");
    for line in [
        "reason    incident 42",
        "ticket    INC-42",
        "readers   ExternalAuditor, LogInvestigator",
        "extended  ",
    ] {
        assert!(out.contains(line), "{line}:\n{out}");
    }
    assert!(out.contains("closed    ") && out.contains(": done"), "{out}");
    let (code, out, _) = breakglass_as(&operator, &iam.endpoint, &[&hist[..], &["--json"]].concat());
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = j["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{j:#}");
    let w = &entries[0];
    assert_eq!((w["type"].as_str(), w["status"].as_str()), (Some("window"), Some("closed")));
    assert!(w["start"].is_string() && w["expiry"].is_string() && w["closed_at"].is_string(), "{w:#}");
    let (code, out, _) =
        breakglass_as(&operator, &iam.endpoint, &[&hist[..], &["--since", "2999-01-01"]].concat());
    assert_eq!((code, out.contains("no records")), (0, true), "{out}");
}

fn closed_text() -> String {
    e2e::config().bucket("acme-cloudtrail-logs").unwrap().closed_policy().to_pretty_json()
}
