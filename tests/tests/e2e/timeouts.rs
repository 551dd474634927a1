//! A hung endpoint (accepts connections, never answers: a proxy, a firewall, a wrong VPC endpoint):
//! the CLI and every function give up within 30 s with one line naming the endpoint and the timeout.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use e2e::{
    aws_env, breakglass_as, cloudtrail_event, config_text, single_operator_path, Function, ACCOUNT, REGION,
};
use serde_json::{json, Value};

const BUCKET: &str = "acme-cloudtrail-logs";
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";
const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";
const BOUND: Duration = Duration::from_secs(30);

/// A loopback listener that accepts every connection and holds it open without a byte of answer.
fn hung_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    endpoint
}

/// Small timeouts, so that the four functions' cases take seconds.
fn short_timeouts() -> Vec<(String, String)> {
    [
        ("BREAKGLASS_CONNECT_TIMEOUT_SECONDS", "1"),
        ("BREAKGLASS_ATTEMPT_TIMEOUT_SECONDS", "1"),
        ("BREAKGLASS_OPERATION_TIMEOUT_SECONDS", "3"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn status_gives_up_on_a_hung_endpoint_within_30_seconds_with_the_defaults() {
    let endpoint = hung_endpoint();
    let config = single_operator_path();
    let started = Instant::now();
    let (code, out, err) = breakglass_as(&aws_env(&endpoint), &endpoint, &["status", "--config", &config]);
    let took = started.elapsed();
    assert!(took < BOUND, "status took {took:?}");
    assert_ne!(code, 0, "{out}{err}");
    // Each bucket's error is on its line of the report (stdout); stderr says how many failed.
    let line =
        out.lines().find(|l| l.contains("timed out")).unwrap_or_else(|| panic!("no timeout in {out}{err}"));
    assert!(line.contains(&format!("`{endpoint}`")), "{line}");
    // The defaults: attempts of 10 s inside an operation of 25 s.
    assert!(line.contains("after 25s") || line.contains("after 10s"), "{line}");
}

#[test]
fn status_names_an_invalid_timeout_variable() {
    let endpoint = hung_endpoint();
    let config = single_operator_path();
    let mut env = aws_env(&endpoint);
    env.push(("BREAKGLASS_OPERATION_TIMEOUT_SECONDS".into(), "soon".into()));
    let (code, out, err) = breakglass_as(&env, &endpoint, &["status", "--config", &config]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains(
            "invalid BREAKGLASS_OPERATION_TIMEOUT_SECONDS `soon`: expected whole seconds from 1 to 900"
        ),
        "{err}"
    );
}

/// The environment of a function whose every AWS call goes to `endpoint`.
fn function_env(endpoint: &str) -> Vec<(String, String)> {
    let mut env = aws_env(endpoint);
    env.extend(short_timeouts());
    for (k, v) in [
        ("BREAKGLASS_CONFIG", config_text()),
        ("BREAKGLASS_EVENT_BUS", "breakglass".to_owned()),
        ("BREAKGLASS_TOPIC_ARN", format!("arn:aws:sns:{REGION}:{ACCOUNT}:breakglass")),
        ("BREAKGLASS_AUDIT_BUCKET", "acme-breakglass-audit".to_owned()),
        ("BREAKGLASS_CATALOG_PRODUCTS", e2e::OPEN_PRODUCT.to_owned()),
        ("BREAKGLASS_CATALOG_PRINCIPALS", e2e::CATALOG_PRINCIPAL.to_owned()),
    ] {
        env.push((k.to_owned(), v));
    }
    env
}

/// Runs `name` against a hung endpoint with `event`: the endpoint, its answer (or error) and log,
/// and how long the answer took.
fn run_against_hung(name: &str, event: impl FnOnce(&str) -> Value) -> (String, String, String, Duration) {
    let endpoint = hung_endpoint();
    let dir = e2e::root().join("target/e2e-logs");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join(format!("timeouts-{name}-{}.log", std::process::id()));
    let function = Function::spawn_logged(name, &function_env(&endpoint), &log);
    function.api.wait_ready();
    let started = Instant::now();
    let answer = match function.invoke(&event(&endpoint)) {
        Ok(v) => v.to_string(),
        Err(e) => e,
    };
    let took = started.elapsed();
    drop(function);
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    (endpoint, answer, log, took)
}

/// A function's event, built from the hung endpoint's URL (the catalog's response goes there).
type EventFor = Box<dyn FnOnce(&str) -> Value + Send>;

#[test]
fn every_function_gives_up_on_a_hung_endpoint_with_a_named_timeout() {
    let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
    let cases: Vec<(&str, EventFor)> = vec![
        (
            "enforcer",
            Box::new(move |_| cloudtrail_event("PutBucketPolicy", BUCKET, MALLORY, "s", Some(policy), None)),
        ),
        (
            "notifier",
            Box::new(move |_| cloudtrail_event("PutBucketPolicy", BUCKET, MALLORY, "s", Some(policy), None)),
        ),
        (
            "recorder",
            Box::new(|_| {
                let read = cloudtrail_event("GetObject", BUCKET, READER, "s", None, None);
                json!({"Records": [{"messageId": "m-1", "receiptHandle": "r-1", "body": read.to_string(),
                    "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
                    "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:breakglass-reads"), "awsRegion": REGION}]})
            }),
        ),
        (
            "catalog",
            Box::new(|endpoint: &str| {
                json!({
                    "RequestType": "Create",
                    "ServiceToken": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-catalog"),
                    "ResponseURL": format!("{endpoint}/response"),
                    "StackId": format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/SC-{ACCOUNT}-pp-1/1"),
                    "RequestId": "req-1",
                    "LogicalResourceId": "LogAccess",
                    "ResourceType": "Custom::LogAccess",
                    "ResourceProperties": {"Action": "open", "Bucket": BUCKET, "Duration": "1h", "Readers": READER},
                })
            }),
        ),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(name, event)| (name, std::thread::spawn(move || run_against_hung(name, event))))
        .collect();
    for (name, run) in runs {
        let (endpoint, answer, log, took) = run.join().unwrap();
        assert!(took < BOUND, "{name} took {took:?}: {answer}");
        // The answer names the timeout; the recorder hands its batch back and logs why.
        let said = if name == "recorder" {
            assert!(answer.contains(r#""batchItemFailures":[{"itemIdentifier":"m-1"}]"#), "{answer}");
            log.lines().find(|l| l.contains("timed out")).unwrap_or_default().to_owned()
        } else {
            answer.clone()
        };
        let host = endpoint.trim_start_matches("http://");
        assert!(said.contains("timed out") && said.contains(host), "{name}: {said}\n{answer}\n{log}");
        assert!(said.contains("after 3s") || said.contains("within 3 s"), "{name}: {said}");
    }
}
