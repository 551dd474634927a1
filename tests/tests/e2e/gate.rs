//! The gate end to end on moto (issue 21): the real `gate` binary served through the Lambda Runtime
//! API, invoked with the function-URL event AWS sends for an IAM-authenticated call (the caller in
//! `requestContext.authorizer.iam`), the real notifier and enforcer beside it.

use e2e::{provision_config, two_person_text, Function, Moto, MOTO_ACCOUNT};
use serde_json::{json, Value};

const BUCKET: &str = "acme-cloudtrail-logs";
const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";

fn person(role: &str, session: &str) -> String {
    format!("arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/{role}/{session}")
}

/// The HTTP status and the JSON body of the gate's answer.
fn call(gate: &Function, user_arn: &str, body: &str) -> (u64, Value) {
    let answer = gate.invoke(&e2e::url_event(user_arn, "POST", body)).unwrap();
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    (answer["statusCode"].as_u64().unwrap(), body)
}

/// A refusal: 4xx, one line under `error`, nothing else.
fn refused(status: u64, body: &Value) -> bool {
    (400..500).contains(&status)
        && body.as_object().is_some_and(|o| o.len() == 1)
        && body["error"].as_str().is_some_and(|e| !e.is_empty() && !e.contains('\n'))
}

#[tokio::test(flavor = "current_thread")]
async fn alice_requests_bob_approves_through_the_gate_and_every_bad_call_writes_nothing() {
    let Some(moto) = Moto::start() else { return };
    let endpoint = moto.endpoint.clone();
    let stack = provision_config(&endpoint, two_person_text()).await;
    let mut env = stack.function_env();
    env.push(("BREAKGLASS_GATE_ROLES".into(), "breakglass-operator".into()));
    // As Lambda runs it: its execution role, under IAM as the template grants it.
    let iam = stack.iam(&endpoint);
    let gate = Function::spawn("gate", &iam.function_env(env, "gate").await);
    // Lambda lets the operators' sessions call the URL, and nobody else.
    iam.invoke_url("breakglass-operator", "breakglass-gate").unwrap();
    let admin = iam.invoke_url("Admin", "breakglass-gate").unwrap_err();
    assert!(admin.contains("lambda:InvokeFunctionUrl"), "{admin}");
    let alice = person("breakglass-operator", "alice");
    let bob = person("breakglass-operator", "bob");
    let records = || stack.audit_records(BUCKET);
    let closed = || async { stack.live_policy(BUCKET).await.is_some_and(|p| p.contains("ClosedAccess")) };
    assert!(closed().await);

    // Bad input: 4xx, one line, nothing written.
    let big = format!(r#"{{"op":"close","bucket":"{BUCKET}","reason":"{}"}}"#, "x".repeat(17 * 1024));
    for body in [
        "{not json".to_owned(),
        r#"{"op":"explode"}"#.to_owned(),
        format!(
            r#"{{"op":"request","bucket":"{BUCKET}","duration":"2h","reason":"r","ticket":"T","time":"2020-01-01T00:00:00Z"}}"#
        ),
        r#"{"op":"request","bucket":"not-protected-here","duration":"2h","reason":"r","ticket":"T"}"#
            .to_owned(),
        format!(r#"{{"op":"request","bucket":"{BUCKET}","duration":"2h","reason":"r"}}"#),
        big,
    ] {
        let (status, answer) = call(&gate, &alice, &body);
        assert!(refused(status, &answer), "{status} {answer}");
    }
    // Another role's session: 403.
    let (status, answer) = call(
        &gate,
        &person("Admin", "eve"),
        &format!(r#"{{"op":"close","bucket":"{BUCKET}","reason":"r"}}"#),
    );
    assert_eq!(status, 403, "{answer}");
    assert!(records().await.is_empty());
    assert!(closed().await);

    // Alice asks: the gate's record, nothing opens.
    let ask = json!({"op": "request", "bucket": BUCKET, "readers": [READER], "duration": "2h", "reason": "incident 7", "ticket": "SEC-7"});
    let (status, q) = call(&gate, &alice, &ask.to_string());
    assert_eq!(status, 200, "{q}");
    let id = q["id"].as_str().unwrap().to_owned();
    assert_eq!(q["requester"], alice.as_str());
    let recs = records().await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(
        (recs[0].1["writer"].as_str(), recs[0].1["action"].as_str()),
        (Some("gate"), Some("requested"))
    );
    assert!(closed().await);

    // Alice approving her own request: 403, nothing written, still closed. An approval naming
    // anything but the request (a wider one) is not even a valid body.
    let (status, answer) = call(&gate, &alice, &json!({"op": "approve", "request": id}).to_string());
    assert_eq!(status, 403, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("another person"), "{answer}");
    let wider = json!({"op": "approve", "request": id, "readers": [READER, "arn:aws:iam::111122223333:role/investigations/ExternalAuditor"], "duration": "12h"});
    let (status, answer) = call(&gate, &bob, &wider.to_string());
    assert!(refused(status, &answer) && status == 400, "{status} {answer}");
    assert_eq!(records().await.len(), 1);
    assert!(closed().await);

    // Bob approves: the decision recorded first, then the bucket opens exactly as asked.
    let before = time::OffsetDateTime::now_utc();
    let (status, answer) = call(&gate, &bob, &json!({"op": "approve", "request": id}).to_string());
    assert_eq!(status, 200, "{answer}");
    let live = stack.live_policy(BUCKET).await.unwrap();
    let config = breakglass_config::Config::from_toml(&stack.config_text).unwrap();
    let b = config.bucket(BUCKET).unwrap();
    let c = canonical_policies::classify(b, Some(live.as_bytes()), time::OffsetDateTime::now_utc());
    let canonical_policies::State::Open(g) = c.state else { panic!("{c}") };
    assert_eq!(g.readers.iter().collect::<Vec<_>>(), [READER]);
    let hours = (g.expiry - before).whole_minutes();
    assert!((119..=121).contains(&hours), "expiry {} is not 2 h from the approval", g.expiry);
    let recs = records().await;
    let gate_records: Vec<&Value> = recs.iter().map(|(_, r)| r).filter(|r| r["writer"] == "gate").collect();
    let actions: Vec<&str> = gate_records.iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(actions, ["requested", "approved"], "{recs:?}");
    assert_eq!(gate_records[1]["who"], bob.as_str());
    // The enforcer's check finds the gate's approval covering what is open.
    let all: Vec<Value> = recs.into_iter().map(|(_, r)| r).collect();
    breakglass_core::access::approval::check(b, &g, &all).unwrap();
}

/// Issue 21, IAM Identity Center (`IdentityCenterPermissionSet`): Alice and Bob sign in through
/// Identity Center, whose permission-set role sessions AWS names after them, and call the gate with
/// those sessions: Alice requests, Bob approves, the bucket opens; Alice approving her own request
/// is refused; a permission set whose name merely begins the same is not admitted.
#[tokio::test(flavor = "current_thread")]
async fn identity_center_sessions_request_and_approve_as_the_people_aws_named() {
    let Some(moto) = Moto::start() else { return };
    const SSO: &str = "AWSReservedSSO_BreakglassOperator_0123456789abcdef";
    let text = two_person_text().replacen(
        "assumed-role/breakglass-operator/*\"]",
        &format!("assumed-role/breakglass-operator/*\", \"arn:{{{{partition}}}}:sts::{MOTO_ACCOUNT}:assumed-role/AWSReservedSSO_BreakglassOperator_*/*\"]"),
        1,
    );
    assert!(text.contains("AWSReservedSSO_"), "the approvers name the permission set's sessions");
    let stack = provision_config(&moto.endpoint, text).await;
    let mut env = stack.function_env();
    // As template.yaml sets it with IdentityCenterPermissionSet=BreakglassOperator.
    env.push((
        "BREAKGLASS_GATE_ROLES".into(),
        "breakglass-operator,AWSReservedSSO_BreakglassOperator_*".into(),
    ));
    let iam = stack.iam(&moto.endpoint);
    let gate = Function::spawn("gate", &iam.function_env(env, "gate").await);
    let (alice, bob) = (person(SSO, "alice@example.com"), person(SSO, "bob@example.com"));
    let ask = json!({"op": "request", "bucket": BUCKET, "readers": [READER], "duration": "2h", "reason": "incident 8", "ticket": "SEC-8"});
    let evil = person("AWSReservedSSO_BreakglassOperator_Evil_0123456789abcdef", "mallory");
    let (status, answer) = call(&gate, &evil, &ask.to_string());
    assert_eq!(status, 403, "{answer}");
    let (status, q) = call(&gate, &alice, &ask.to_string());
    assert_eq!(status, 200, "{q}");
    let id = q["id"].as_str().unwrap().to_owned();
    let (status, answer) = call(&gate, &alice, &json!({"op": "approve", "request": id}).to_string());
    assert_eq!(status, 403, "{answer}");
    assert!(stack.live_policy(BUCKET).await.is_some_and(|p| p.contains("ClosedAccess")));
    let (status, answer) = call(&gate, &bob, &json!({"op": "approve", "request": id}).to_string());
    assert_eq!(status, 200, "{answer}");
    let live = stack.live_policy(BUCKET).await.unwrap();
    assert!(live.contains("OpenAccess") && live.contains(READER), "{live}");
    let recs = stack.audit_records(BUCKET).await;
    let who: Vec<&str> =
        recs.iter().filter(|(_, r)| r["writer"] == "gate").filter_map(|(_, r)| r["who"].as_str()).collect();
    assert_eq!(who, [alice.as_str(), bob.as_str()], "{recs:?}");
}
