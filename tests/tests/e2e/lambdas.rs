//! The enforcer and notifier, as real binaries through the Lambda Runtime API, against moto over
//! HTTP: S3 calls are made on moto, CloudTrail-shaped events for them go through moto's EventBridge
//! with template.yaml's own rule pattern, and what the rules deliver is what the functions get.

use std::collections::BTreeSet;

use canonical_policies::{classify, OpenGrant, Policy, State};
use e2e::{cloudtrail_event, config, setup, Function};
use serde_json::{json, Value};

const BUCKET: &str = "acme-cloudtrail-logs";
const OPERATOR: &str = "arn:aws:iam::111122223333:role/breakglass-operator";
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";
const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";

fn open_policy(hours: i64) -> String {
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let grant = OpenGrant {
        readers: BTreeSet::from([READER.to_owned()]),
        expiry: now + time::Duration::hours(hours),
    };
    b.render_open(&grant, now).unwrap().to_pretty_json()
}

fn closed_hash() -> String {
    config().bucket(BUCKET).unwrap().closed_hash().to_string()
}

/// What these tests do with the shared environment.
trait Steps {
    async fn put_policy_as(&self, role: &str, policy: &str) -> (Value, Vec<Result<Value, String>>);
    async fn deliver(&self, event: &Value) -> Vec<Result<Value, String>>;
    async fn run_delivered(&self) -> Vec<Result<Value, String>>;
    async fn live(&self) -> Option<String>;
    async fn mail(&self, queue: &str) -> Vec<(Value, Value)>;
}

impl Steps for e2e::Env {
    /// Someone puts a policy on moto; CloudTrail's event goes through the rule; both functions get
    /// what the rule delivered; the enforcer's own events go to the notifier. Returns the enforcer's
    /// answers.
    async fn put_policy_as(&self, role: &str, policy: &str) -> (Value, Vec<Result<Value, String>>) {
        self.stack.clients.s3.put_bucket_policy().bucket(BUCKET).policy(policy).send().await.unwrap();
        let event = cloudtrail_event("PutBucketPolicy", BUCKET, role, "session", Some(policy), None);
        let answers = self.deliver(&event).await;
        (event, answers)
    }

    /// Puts an event on the bus as CloudTrail would and runs what the rules deliver.
    async fn deliver(&self, event: &Value) -> Vec<Result<Value, String>> {
        self.stack.cloudtrail(event).await;
        self.run_delivered().await
    }

    async fn run_delivered(&self) -> Vec<Result<Value, String>> {
        self.stack.route(&self.enforcer, &self.notifier).await
    }

    async fn live(&self) -> Option<String> {
        self.stack.live_policy(BUCKET).await
    }

    async fn mail(&self, queue: &str) -> Vec<(Value, Value)> {
        self.stack.deliveries(queue).await
    }
}

fn attr(attrs: &Value, name: &str) -> String {
    attrs[name]["Value"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn aws_normalised_closed_access_causes_no_write() {
    let Some(env) = setup().await else { return };
    let normalised =
        std::fs::read_to_string(e2e::root().join("examples/policies/closed-as-returned-by-aws.json"))
            .unwrap();
    let (_, answers) = env.put_policy_as(OPERATOR, &normalised).await;
    assert_eq!(answers.len(), 1, "the rule delivers the guarded call once");
    let answer = answers[0].clone().unwrap();
    assert_eq!(answer["buckets"][0]["outcome"], "lawful", "{answer}");
    assert_eq!(env.live().await.as_deref(), Some(normalised.as_str()), "moto's stored bytes are unchanged");
    let mail = env.mail(&env.stack.stakeholders).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(attr(&mail[0].0, "state"), "closed");
    assert_eq!(attr(&mail[0].0, "severity"), "info");
    assert!(env.mail(&env.stack.security).await.is_empty(), "info is not for the security team");
}

#[tokio::test(flavor = "current_thread")]
async fn intruder_open_access_is_closed_verified_and_alerted() {
    let Some(env) = setup().await else { return };
    let open = open_policy(4);
    let (_, answers) = env.put_policy_as(MALLORY, &open).await;
    let answer = answers[0].clone().unwrap();
    assert_eq!(answer["buckets"][0]["outcome"], "closed", "{answer}");
    assert_eq!(answer["buckets"][0]["after_hash"], json!(closed_hash()));
    let live = env.live().await.unwrap();
    let b = config();
    assert_eq!(
        classify(b.bucket(BUCKET).unwrap(), Some(live.as_bytes()), time::OffsetDateTime::now_utc()).state,
        State::Closed
    );

    let security = env.mail(&env.stack.security).await;
    let kinds: Vec<String> = security.iter().map(|(a, _)| attr(a, "kind")).collect();
    assert!(kinds.contains(&"remediation".to_owned()), "{kinds:?}");
    let (_, doc) = security.iter().find(|(a, _)| attr(a, "kind") == "remediation").unwrap();
    assert_eq!(doc["schema"], "breakglass.notification/1");
    assert_eq!(doc["outcome"], "closed");
    assert!(doc["reason"].as_str().unwrap().contains("not a break-glass principal"), "{doc}");
    assert_eq!(doc["trigger"]["actor_role"], MALLORY);
}

#[tokio::test(flavor = "current_thread")]
async fn stale_open_event_after_close_does_not_reopen_and_duplicates_are_harmless() {
    let Some(env) = setup().await else { return };
    let open = open_policy(2);
    let (open_event, _) = env.put_policy_as(OPERATOR, &open).await;
    assert_eq!(env.live().await.as_deref(), Some(open.as_str()), "a lawful open stays");
    let closed = config().bucket(BUCKET).unwrap().closed_policy().to_pretty_json();
    env.put_policy_as(OPERATOR, &closed).await;
    // The old open event arrives again, late (and twice).
    for _ in 0..2 {
        let answers = env.deliver(&open_event).await;
        assert_eq!(answers[0].clone().unwrap()["buckets"][0]["outcome"], "lawful");
    }
    assert_eq!(env.live().await.as_deref(), Some(closed.as_str()), "closed stays closed, not rewritten");
    assert!(env.stack.drain(&env.stack.own_events).await.is_empty(), "no remediation happened");
}

#[tokio::test(flavor = "current_thread")]
async fn deleted_policy_is_restored_and_attempts_are_only_reported() {
    let Some(env) = setup().await else { return };
    env.stack.clients.s3.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
    let answers =
        env.deliver(&cloudtrail_event("DeleteBucketPolicy", BUCKET, MALLORY, "s", None, None)).await;
    assert_eq!(answers[0].clone().unwrap()["buckets"][0]["outcome"], "closed");
    assert!(env.live().await.is_some());
    let stakeholder_states: Vec<String> =
        env.mail(&env.stack.stakeholders).await.iter().map(|(a, _)| attr(a, "state")).collect();
    assert!(stakeholder_states.contains(&"none".to_owned()), "{stakeholder_states:?}");

    // A refused attempt: nothing remediated, and neither the enforcer nor the notifier gets it (issue
    // 22, flooding): the recorder records it and mails it in its digest (flood.rs).
    let before = env.live().await;
    let answers = env
        .deliver(&cloudtrail_event(
            "PutBucketPolicy",
            BUCKET,
            MALLORY,
            "s",
            Some(&open_policy(1)),
            Some("AccessDenied"),
        ))
        .await;
    assert!(answers.is_empty(), "{answers:?}");
    assert_eq!(env.live().await, before);
    assert!(env.mail(&env.stack.stakeholders).await.is_empty(), "digested, not mailed on its own");
    assert_eq!(env.stack.drain(&env.stack.reads).await.len(), 1, "on the recorder's queue");
}

#[tokio::test(flavor = "current_thread")]
async fn the_rule_routes_only_guarded_calls_on_protected_buckets() {
    let Some(env) = setup().await else { return };
    for (name, bucket) in
        [("GetBucketPolicy", BUCKET), ("PutObject", BUCKET), ("PutBucketPolicy", "someone-elses-bucket")]
    {
        env.stack.cloudtrail(&cloudtrail_event(name, bucket, MALLORY, "s", None, None)).await;
    }
    assert!(env.stack.drain(&env.stack.s3_calls).await.is_empty());
    for call in [
        "PutBucketAcl",
        "PutBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock",
        "PutBucketOwnershipControls",
    ] {
        env.stack.cloudtrail(&cloudtrail_event(call, BUCKET, MALLORY, "s", None, None)).await;
    }
    assert_eq!(env.stack.drain(&env.stack.s3_calls).await.len(), 4);
}

#[tokio::test(flavor = "current_thread")]
async fn sns_failure_does_not_stop_remediation_and_surfaces_as_an_error() {
    let Some(env) = setup().await else { return };
    env.stack.clients.sns.delete_topic().topic_arn(&env.stack.topic_arn).send().await.unwrap();
    let open = open_policy(4);
    env.stack.clients.s3.put_bucket_policy().bucket(BUCKET).policy(&open).send().await.unwrap();
    env.stack.cloudtrail(&cloudtrail_event("PutBucketPolicy", BUCKET, MALLORY, "s", Some(&open), None)).await;
    for delivered in env.stack.drain(&env.stack.s3_calls).await {
        let notified = env.notifier.invoke(&delivered);
        assert!(
            notified.is_err(),
            "a failed publish is an error, so Lambda retries and alarms fire: {notified:?}"
        );
        let enforced = env.enforcer.invoke(&delivered).unwrap();
        assert_eq!(enforced["buckets"][0]["outcome"], "closed");
    }
    assert_eq!(
        Policy::parse(env.live().await.unwrap().as_bytes()).unwrap().hash().to_string(),
        closed_hash()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn s3_failure_is_a_retryable_error_and_the_function_survives() {
    let Some(env) = setup().await else { return };
    let mut broken_env = env.stack.function_env();
    for (k, v) in &mut broken_env {
        if k == "AWS_ENDPOINT_URL" {
            *v = "http://127.0.0.1:9".into(); // discard port: nothing listens
        }
    }
    let mut broken = Function::spawn("enforcer", &broken_env);
    let event = cloudtrail_event("PutBucketPolicy", BUCKET, MALLORY, "s", Some(&open_policy(1)), None);
    let err = broken.invoke(&event).unwrap_err();
    assert!(err.contains("retryable"), "{err}");
    assert!(broken.is_running());
}

#[tokio::test(flavor = "current_thread")]
async fn s3_write_throttled_is_retryable_and_a_refused_write_is_a_loud_alert() {
    let Some(env) = setup().await else { return };
    let tampered = env.stack.tamper(BUCKET).await;
    let event = cloudtrail_event("PutBucketPolicy", BUCKET, MALLORY, "s", Some(&tampered), None);
    // The faults sit in front of the IAM proxy: the enforcer still runs as its role.
    let as_enforcer = env.iam.function_env(env.stack.function_env(), "enforcer").await;
    let with_proxy = |proxy: &e2e::FaultProxy| {
        let mut vars = as_enforcer.clone();
        for (k, v) in &mut vars {
            if k == "AWS_ENDPOINT_URL" {
                v.clone_from(&proxy.endpoint);
            }
        }
        Function::spawn("enforcer", &vars)
    };
    let put_policy = |line: &str| line.starts_with("PUT ") && line.contains("policy");

    // 503 SlowDown on the write: an error, so that Lambda retries; the policy is still the intruder's.
    let throttled = e2e::FaultProxy::start(&env.iam.endpoint, put_policy, 503, "SlowDown");
    let mut enforcer = with_proxy(&throttled);
    let err = enforcer.invoke(&event).unwrap_err();
    assert!(err.contains("retryable") && err.contains("SlowDown"), "{err}");
    assert!(enforcer.is_running());
    assert_eq!(env.live().await.as_deref(), Some(tampered.as_str()));

    // MalformedPolicy on the write (a template principal no longer exists): not retried, but a
    // remediation event with outcome `refused` for the security team.
    let refused = e2e::FaultProxy::start(&env.iam.endpoint, put_policy, 400, "MalformedPolicy");
    let enforcer = with_proxy(&refused);
    let answer = enforcer.invoke(&event).unwrap();
    assert_eq!(answer["buckets"][0]["outcome"], "refused", "{answer}");
    let own = env.stack.drain(&env.stack.own_events).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["detail"]["outcome"], "refused");
    assert!(own[0]["detail"]["error"].as_str().unwrap().contains("MalformedPolicy"));
    let Ok(_) = env.notifier.invoke(&own[0]) else { panic!("notifier failed") };
    let alerts = env.mail(&env.stack.security).await;
    let subjects: Vec<String> =
        alerts.iter().map(|(_, d)| d["subject"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(subjects.iter().any(|s| s.contains("REFUSED ClosedAccess")), "{subjects:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn every_corpus_event_is_handled_through_the_runtime_api() {
    let Some(dir) = e2e::corpus_dir() else { return };
    let Some(mut env) = setup().await else { return };
    let mut handled = 0;
    for sub in ["eventbridge", "cloudtrail_record_single", "cloudtrail_records", "fragments"] {
        for entry in std::fs::read_dir(dir.join("events").join(sub)).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let Ok(mut event) = serde_json::from_str::<Value>(&text) else { continue };
            // Also as if it were about a protected bucket, so that the full paths run on real shapes.
            let mut renamed = event.clone();
            protect(&mut renamed);
            for e in [&mut event, &mut renamed] {
                let _ = env.enforcer.invoke(e);
                let _ = env.notifier.invoke(e);
                handled += 1;
            }
        }
    }
    assert!(handled >= 60);
    assert!(env.enforcer.is_running() && env.notifier.is_running(), "no event may kill a function");
}

/// Points every `bucketName` (and host) in an event at the protected bucket.
fn protect(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                match (k.as_str(), &*child) {
                    ("bucketName", Value::String(_)) => *child = json!(BUCKET),
                    ("Host" | "host", Value::String(_)) => {
                        *child = json!(format!("{BUCKET}.s3.amazonaws.com"))
                    }
                    _ => protect(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(protect),
        _ => {}
    }
}

/// template.yaml's rule, loaded into moto's EventBridge, routes every guarded corpus call on a
/// protected bucket and nothing else: each CloudTrail record of the corpus is put on the bus as
/// CloudTrail would (source `aws.<service>`), once as it is and once renamed to a protected bucket.
#[tokio::test(flavor = "current_thread")]
async fn the_template_rule_routes_exactly_the_guarded_corpus_calls() {
    let Some(dir) = e2e::corpus_dir() else { return };
    let Some(env) = setup().await else { return };
    let mut records: Vec<Value> = Vec::new();
    for sub in ["eventbridge", "cloudtrail_record_single", "cloudtrail_records"] {
        for entry in std::fs::read_dir(dir.join("events").join(sub)).unwrap() {
            let Ok(v) =
                serde_json::from_str::<Value>(&std::fs::read_to_string(entry.unwrap().path()).unwrap())
            else {
                continue;
            };
            match (v.get("detail"), v.get("Records").and_then(Value::as_array)) {
                (Some(d), _) => records.push(d.clone()),
                (None, Some(rs)) => records.extend(rs.iter().cloned()),
                (None, None) => records.push(v),
            }
        }
    }
    // The single list of guarded calls (core/src/guarded.rs), not a copy of the template's.
    let guarded = breakglass_core::guarded::GuardedCall::names_of("s3.amazonaws.com");
    let protected: Vec<String> = config().buckets.iter().map(|b| b.name.clone()).collect();
    let mut expected = BTreeSet::new();
    // A refused guarded call goes to the recorder's queue instead, to be digested (issue 22).
    let mut refused = BTreeSet::new();
    let mut n = 0;
    for record in &records {
        let mut renamed = record.clone();
        protect(&mut renamed);
        for mut r in [record.clone(), renamed] {
            n += 1;
            let id = format!("corpus-{n:04}");
            r["eventID"] = json!(id);
            let source = r["eventSource"].as_str().unwrap_or("unknown.amazonaws.com");
            let bucket = r["requestParameters"]["bucketName"].as_str().unwrap_or_default();
            // A guarded call that names no bucket (none at all, or `""`) is routed too: it may
            // have touched one.
            let names_no_bucket = r
                .get("requestParameters")
                .and_then(|p| p.get("bucketName"))
                .is_none_or(|b| b.as_str() == Some(""));
            if source == "s3.amazonaws.com"
                && guarded.contains(&r["eventName"].as_str().unwrap_or_default())
                && (protected.iter().any(|p| p == bucket) || names_no_bucket)
            {
                if r.get("errorCode").is_some() {
                    refused.insert(id);
                } else {
                    expected.insert(id);
                }
            }
            let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source(format!("aws.{}", source.split('.').next().unwrap_or("unknown")))
                .detail_type("AWS API Call via CloudTrail")
                .detail(r.to_string())
                .build();
            env.stack.clients.events.put_events().entries(entry).send().await.unwrap();
        }
    }
    let routed: BTreeSet<String> = env
        .stack
        .drain(&env.stack.s3_calls)
        .await
        .iter()
        .map(|e| e["detail"]["eventID"].as_str().unwrap().to_owned())
        .collect();
    assert!(expected.len() >= 10, "the corpus has guarded calls: {expected:?}");
    assert_eq!(routed, expected, "{} records put", n);
    let to_recorder: BTreeSet<String> = env
        .stack
        .drain(&env.stack.reads)
        .await
        .iter()
        .filter_map(|e| e["detail"]["eventID"].as_str().map(str::to_owned))
        .filter(|id| id.starts_with("corpus-"))
        .collect();
    // (The refused-call rule also lets through such calls on other buckets; the recorder keeps only
    // the protected ones.)
    assert!(
        refused.is_subset(&to_recorder),
        "the refused guarded calls go to the recorder: {refused:?} {to_recorder:?}"
    );
}

/// Regression: the gate started without `BREAKGLASS_GATE_ROLES` printed only Rust's Debug form of
/// the error, and an invocation waited its full 60 s for a process that had ended. A function that
/// cannot start says why in one log line, and its invocation fails at once, naming the exit.
#[test]
fn regression_a_function_that_cannot_start_says_why_in_one_line_and_fails_at_once() {
    let log = std::env::temp_dir().join(format!("breakglass-no-start-{}.log", std::process::id()));
    let config = std::fs::read_to_string(e2e::root().join("examples/breakglass.toml")).unwrap();
    let env =
        [("BREAKGLASS_CONFIG".to_owned(), config), ("AWS_REGION".to_owned(), "eu-central-1".to_owned())];
    let gate = Function::spawn_logged("gate", &env, &log);
    let asked = std::time::Instant::now();
    let err = gate.invoke(&json!({})).unwrap_err();
    assert!(err.contains("exited") && asked.elapsed() < std::time::Duration::from_secs(10), "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("cannot start")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("missing environment variable `BREAKGLASS_GATE_ROLES`"), "{text}");
    let _ = std::fs::remove_file(&log);
}
