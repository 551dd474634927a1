//! The Service Catalog custom resource, as the real `catalog` binary through the Lambda Runtime API,
//! against moto, answering a local HTTP server in place of CloudFormation's pre-signed ResponseURL.

use e2e::{
    config, single_operator_text, Function, IamProxy, Moto, ResponseCatcher, Stack, OPEN_PRODUCT,
    OPERATOR_SESSION,
};
use serde_json::{json, Value};

const BUCKET: &str = "acme-cloudtrail-logs";
const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";
const AUDITOR: &str = "arn:aws:iam::111122223333:role/investigations/ExternalAuditor";
fn request(stack: &str, kind: &str, url: &str, props: Value, physical: Option<&str>) -> Value {
    let mut e = json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:eu-central-1:111122223333:function:breakglass-catalog",
        "ResponseURL": url,
        "StackId": stack,
        "RequestId": format!("req-{kind}-{}", props["Action"].as_str().unwrap_or("")),
        "LogicalResourceId": "LogAccess",
        "ResourceType": "Custom::LogAccess",
        "ResourceProperties": props,
    });
    if let Some(p) = physical {
        e["PhysicalResourceId"] = json!(p);
    }
    e
}

/// moto with the config `text` provisioned, and the catalog function running against it.
async fn start_catalog(text: String) -> Option<(Moto, Stack, Function, IamProxy)> {
    let moto = Moto::start()?;
    let stack = e2e::provision_config(&moto.endpoint, text).await;
    let iam = stack.iam(&moto.endpoint);
    let function = iam.spawn(&stack, "catalog").await;
    Some((moto, stack, function, iam))
}

fn open_props(duration: &str, readers: &str) -> Value {
    json!({"ServiceToken": "x", "Action": "open", "Bucket": BUCKET, "Reason": "incident 42",
        "Ticket": "INC-42", "Duration": duration, "Readers": readers})
}

/// Regression (catalog review): "Open log access" updated to another bucket replaces the resource;
/// CloudFormation deletes the old one with the *old* properties, while the stack's parameters
/// already name the new bucket. That delete was refused, and the old bucket stayed open. On moto,
/// with the real function under IAM: the old bucket is closed, the new one open.
#[tokio::test(flavor = "current_thread")]
async fn regression_a_replaced_open_closes_the_old_bucket() {
    let Some((_moto, stack, function, _iam)) = start_catalog(single_operator_text()).await else { return };
    let other = "acme-vpc-flow-logs";
    let old = open_props("2h", READER);
    let mut new = old.clone();
    new["Bucket"] = json!(other);
    let sc = stack.catalog_stack(OPEN_PRODUCT, OPERATOR_SESSION, &old).await;
    let cfn = ResponseCatcher::start(200);
    let c = config();
    let state = |name: &str, p: Option<String>| {
        canonical_policies::classify(
            c.bucket(name).unwrap(),
            p.as_deref().map(str::as_bytes),
            time::OffsetDateTime::now_utc(),
        )
        .state
    };
    function.invoke(&request(&sc, "Create", &cfn.url, old.clone(), None)).unwrap();
    let created = cfn.take().remove(0).2;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let physical = created["PhysicalResourceId"].as_str().unwrap().to_owned();
    stack.update_catalog_stack(&sc, &new).await;
    function.invoke(&request(&sc, "Update", &cfn.url, new, Some(&physical))).unwrap();
    let updated = cfn.take().remove(0).2;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_ne!(updated["PhysicalResourceId"].as_str(), Some(physical.as_str()), "a new resource: {updated}");
    // CloudFormation's clean-up: the old resource, with the old properties.
    function.invoke(&request(&sc, "Delete", &cfn.url, old, Some(&physical))).unwrap();
    let deleted = cfn.take().remove(0).2;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_eq!(state(BUCKET, stack.live_policy(BUCKET).await), canonical_policies::State::Closed);
    assert!(matches!(state(other, stack.live_policy(other).await), canonical_policies::State::Open(_)));
}

#[tokio::test(flavor = "current_thread")]
async fn create_update_delete_and_failures_are_always_answered() {
    let Some((_moto, stack, function, iam)) = start_catalog(single_operator_text()).await else { return };
    let sc = stack.catalog_stack(OPEN_PRODUCT, OPERATOR_SESSION, &open_props("4h", READER)).await;
    let notifier = iam.spawn(&stack, "notifier").await;
    let cfn = ResponseCatcher::start(200);
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    let state = |p: Option<String>| {
        canonical_policies::classify(b, p.as_deref().map(str::as_bytes), time::OffsetDateTime::now_utc())
    };
    let answer = |sc: &str| {
        let mut got = cfn.take();
        assert_eq!(got.len(), 1, "exactly one answer: {got:?}");
        let (method, headers, body) = got.remove(0);
        assert_eq!(method, "PUT");
        assert!(!headers.contains("content-type"), "the pre-signed URL was signed without one: {headers}");
        assert_eq!(
            (body["StackId"].as_str(), body["LogicalResourceId"].as_str()),
            (Some(sc), Some("LogAccess"))
        );
        assert!(body["RequestId"].as_str().unwrap().starts_with("req-"));
        body
    };

    // Create "Open log access": opened, lawful, the expiry in the answer.
    function.invoke(&request(&sc, "Create", &cfn.url, open_props("4h", READER), None)).unwrap();
    let a = answer(&sc);
    assert_eq!(a["Status"], "SUCCESS", "{a}");
    assert_eq!(a["PhysicalResourceId"], format!("breakglass-open-{BUCKET}"));
    assert!(a["Data"]["Expiry"].is_string());
    let canonical_policies::State::Open(g) = state(stack.live_policy(BUCKET).await).state else {
        panic!("not open")
    };
    assert_eq!(g.readers.len(), 1);

    // Update with another reader (the product updated: so are the stack's parameters): widened, never
    // cut short.
    let physical = a["PhysicalResourceId"].as_str().unwrap().to_owned();
    stack.update_catalog_stack(&sc, &open_props("1h", AUDITOR)).await;
    function.invoke(&request(&sc, "Update", &cfn.url, open_props("1h", AUDITOR), Some(&physical))).unwrap();
    let a = answer(&sc);
    assert_eq!(
        (a["Status"].as_str(), a["PhysicalResourceId"].as_str()),
        (Some("SUCCESS"), Some(physical.as_str()))
    );
    let canonical_policies::State::Open(g2) = state(stack.live_policy(BUCKET).await).state else { panic!() };
    assert_eq!((g2.readers.len(), g2.expiry), (2, g.expiry));

    // Delete (terminate the product): closed.
    function.invoke(&request(&sc, "Delete", &cfn.url, open_props("1h", AUDITOR), Some(&physical))).unwrap();
    assert_eq!(answer(&sc)["Status"], "SUCCESS");
    assert_eq!(state(stack.live_policy(BUCKET).await).state, canonical_policies::State::Closed);

    // Failures are answered FAILED with the reason; the rollback's Delete of a failed create changes
    // nothing (it must not close a bucket someone else opened). Each is its own product stack.
    let other = stack.catalog_stack(OPEN_PRODUCT, OPERATOR_SESSION, &open_props("2h", READER)).await;
    for (props, why) in [
        (open_props("2d", READER), "more than 12h"),
        (open_props("forever", READER), "invalid `Duration`"),
        (open_props("1h", "arn:aws:iam::111122223333:role/mallory"), "not an investigator role"),
        (
            json!({"Action": "open", "Bucket": "not-protected", "Reason": "r", "Ticket": "t", "Duration": "1h"}),
            "not protected",
        ),
        (json!({"Action": "explode", "Bucket": BUCKET}), "unknown `Action`"),
    ] {
        let failing = stack.catalog_stack(OPEN_PRODUCT, OPERATOR_SESSION, &props).await;
        function.invoke(&request(&failing, "Create", &cfn.url, props.clone(), None)).unwrap();
        let a = answer(&failing);
        assert_eq!(a["Status"], "FAILED", "{a}");
        assert!(a["Reason"].as_str().unwrap().contains(why), "{a}");
        let failed_id = a["PhysicalResourceId"].as_str().unwrap().to_owned();
        assert!(failed_id.starts_with("breakglass-failed-"), "{a}");
        // Meanwhile someone opened through the CLI; the rollback must leave that alone.
        function.invoke(&request(&other, "Create", &cfn.url, open_props("2h", READER), None)).unwrap();
        answer(&other);
        function.invoke(&request(&failing, "Delete", &cfn.url, props, Some(&failed_id))).unwrap();
        assert_eq!(answer(&failing)["Status"], "SUCCESS");
        assert!(matches!(state(stack.live_policy(BUCKET).await).state, canonical_policies::State::Open(_)));
    }

    // "Close log access": create closes; terminating it changes nothing.
    let close = json!({"Action": "close", "Bucket": BUCKET, "Reason": "investigation finished"});
    let closing = stack.catalog_stack(e2e::CLOSE_PRODUCT, OPERATOR_SESSION, &close).await;
    function.invoke(&request(&closing, "Create", &cfn.url, close.clone(), None)).unwrap();
    assert_eq!(answer(&closing)["PhysicalResourceId"], format!("breakglass-close-{BUCKET}"));
    assert_eq!(state(stack.live_policy(BUCKET).await).state, canonical_policies::State::Closed);
    function
        .invoke(&request(&closing, "Delete", &cfn.url, close, Some(&format!("breakglass-close-{BUCKET}"))))
        .unwrap();
    assert_eq!(answer(&closing)["Status"], "SUCCESS");

    // The requests reach stakeholders like the CLI's, naming the stack.
    for e in stack.drain(&stack.own_events).await {
        notifier.invoke(&e).unwrap();
    }
    let mails = stack.deliveries(&stack.stakeholders).await;
    let first = mails[0].1["text"].as_str().unwrap();
    assert!(first.contains("Service Catalog (stack arn:aws:cloudformation:"), "{first}");
    assert!(mails.iter().any(|(_, d)| d["subject"].as_str().unwrap().contains("REFUSED request to open")));

    // S3 unreachable: answered FAILED (the stack does not hang), not left to time out.
    let broken = Function::spawn("catalog", &e2e::with_endpoint(stack.function_env(), "http://127.0.0.1:9"));
    broken.invoke(&request(&sc, "Create", &cfn.url, open_props("1h", READER), None)).unwrap();
    let a = answer(&sc);
    assert_eq!(a["Status"], "FAILED", "{a}");

    // No ResponseURL: nothing can be answered; the invocation fails loudly.
    let mut no_url = request(&sc, "Create", &cfn.url, open_props("1h", READER), None);
    no_url.as_object_mut().unwrap().remove("ResponseURL");
    assert!(function.invoke(&no_url).is_err());
    assert!(cfn.take().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_or_refusing_response_url_is_an_invocation_error_for_lambda_to_retry() {
    let Some((_moto, stack, function, _iam)) = start_catalog(single_operator_text()).await else { return };
    let cfn = ResponseCatcher::start(500);
    let close = json!({"Action": "close", "Bucket": BUCKET, "Reason": "r"});
    let sc = stack.catalog_stack(e2e::CLOSE_PRODUCT, OPERATOR_SESSION, &close).await;
    let err = function.invoke(&request(&sc, "Create", &cfn.url, close.clone(), None)).unwrap_err();
    assert!(err.contains("500"), "{err}");
    let err = function.invoke(&request(&sc, "Create", "http://127.0.0.1:9/x", close, None)).unwrap_err();
    assert!(err.contains("response url"), "{err}");
}

/// Attack 2 of docs/threat-model.md: whoever may invoke the catalog function must not open a bucket
/// by calling it directly. Only a stack Service Catalog provisioned from a breakglass product, for an
/// allowed principal, is acted on; the requester is the principal CloudFormation's tags name.
#[tokio::test(flavor = "current_thread")]
async fn calling_the_catalog_function_directly_opens_nothing_and_is_reported() {
    let Some((_moto, stack, function, iam)) = start_catalog(single_operator_text()).await else { return };
    let notifier = iam.spawn(&stack, "notifier").await;
    let cfn = ResponseCatcher::start(200);
    let closed = stack.live_policy(BUCKET).await;

    let forged = "arn:aws:cloudformation:eu-central-1:111122223333:stack/SC-111122223333-pp-forged/1";
    let props = open_props("4h", READER);
    let not_a_product = stack.catalog_stack("prod-somethingelse1", OPERATOR_SESSION, &props).await;
    let mallory = stack
        .catalog_stack(OPEN_PRODUCT, "arn:aws:sts::111122223333:assumed-role/Admin/mallory", &props)
        .await;
    for (sc, why) in [
        (forged, "does not exist"),
        (not_a_product.as_str(), "is not a breakglass product"),
        (mallory.as_str(), "may not provision breakglass products"),
    ] {
        function.invoke(&request(sc, "Create", &cfn.url, open_props("4h", READER), None)).unwrap();
        let got = cfn.take();
        assert_eq!(got.len(), 1, "answered once: {got:?}");
        let body = &got[0].2;
        assert_eq!(body["Status"], "FAILED", "{body}");
        assert!(body["Reason"].as_str().unwrap().contains(why), "{body}");
        assert!(body["PhysicalResourceId"].as_str().unwrap().starts_with("breakglass-failed-"), "{body}");
        assert_eq!(stack.live_policy(BUCKET).await, closed, "nothing written for {sc}");
    }
    // Each refusal reaches stakeholders and the security team as a refused request.
    for e in stack.drain(&stack.own_events).await {
        notifier.invoke(&e).unwrap();
    }
    let mails = stack.deliveries(&stack.security).await;
    let refused: Vec<&str> = mails
        .iter()
        .filter_map(|(_, d)| d["subject"].as_str())
        .filter(|s| s.contains("REFUSED request to open"))
        .collect();
    assert_eq!(refused.len(), 3, "{mails:?}");
    assert!(mails
        .iter()
        .any(|(_, d)| d["text"].as_str().unwrap().contains("an unverified caller of the catalog function")));
}

/// The two-person rule through Service Catalog (the example config as it is): "Open log access" is
/// refused, "Request log access" records a request in the provisioning principal's name and opens
/// nothing; another person approves it through the gate, which finds the catalog's record.
#[tokio::test(flavor = "current_thread")]
async fn under_the_two_person_rule_the_catalog_requests_and_does_not_open() {
    let Some((_moto, stack, function, iam)) = start_catalog(e2e::config_text()).await else { return };
    let notifier = iam.spawn(&stack, "notifier").await;
    let cfn = ResponseCatcher::start(200);
    let closed = stack.live_policy(BUCKET).await;

    let sc = stack.catalog_stack(OPEN_PRODUCT, OPERATOR_SESSION, &open_props("1h", READER)).await;
    function.invoke(&request(&sc, "Create", &cfn.url, open_props("1h", READER), None)).unwrap();
    let a = cfn.take().remove(0).2;
    assert_eq!(a["Status"], "FAILED", "{a}");
    assert!(a["Reason"].as_str().unwrap().contains("two-person rule"), "{a}");
    assert_eq!(stack.live_policy(BUCKET).await, closed);

    let mut props = open_props("2h", READER);
    props["Action"] = json!("request");
    let sc = stack.catalog_stack(e2e::REQUEST_PRODUCT, OPERATOR_SESSION, &props).await;
    function.invoke(&request(&sc, "Create", &cfn.url, props.clone(), None)).unwrap();
    let a = cfn.take().remove(0).2;
    assert_eq!(a["Status"], "SUCCESS", "{a}");
    let id = a["Data"]["RequestId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 12);
    assert_eq!(stack.live_policy(BUCKET).await, closed, "a request opens nothing");
    let events = stack.drain(&stack.own_events).await;
    let asked: Vec<&Value> =
        events.iter().filter(|e| e["detail-type"] == "breakglass access request").collect();
    assert_eq!(asked.len(), 1, "{events:?}");
    assert_eq!(asked[0]["detail"]["requester"], OPERATOR_SESSION);
    for e in &events {
        notifier.invoke(e).unwrap();
    }
    let records = stack.audit_records(BUCKET).await;
    assert!(
        records
            .iter()
            .any(|(_, r)| r["kind"] == "approval" && r["action"] == "requested" && r["writer"] == "catalog"),
        "the catalog records its request before it is mailed: {records:?}"
    );
    // Bob, an approver of the example config, approves it through the gate: it opens as asked.
    let gate = stack.gate(Some(&iam)).await;
    let operator = "arn:aws:iam::111122223333:role/breakglass-operator";
    let mut bob = e2e::role_env(&stack.endpoint, operator, "bob").await;
    bob.push(gate.env());
    let path = e2e::root().join(format!("target/e2e-configs/catalog-example-{}.toml", std::process::id()));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, e2e::config_text()).unwrap();
    let config = path.display().to_string();
    let (code, out, err) = e2e::breakglass_as(&bob, &stack.endpoint, &["approve", &id, "--config", &config]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("opened {BUCKET} until ")), "{out}");
    assert!(stack.live_policy(BUCKET).await.unwrap().contains(READER));
    // Back to closed, through the gate, for what follows.
    let (code, _, err) = e2e::breakglass_as(
        &bob,
        &stack.endpoint,
        &["close", "--config", &config, "--bucket", BUCKET, "--reason", "done"],
    );
    assert_eq!(code, 0, "{err}");
    let _ = std::fs::remove_file(&path);
    // Terminating the product leaves the request as it is.
    function
        .invoke(&request(&sc, "Delete", &cfn.url, props, Some(a["PhysicalResourceId"].as_str().unwrap())))
        .unwrap();
    assert_eq!(cfn.take().remove(0).2["Status"], "SUCCESS");
    assert_eq!(stack.live_policy(BUCKET).await, closed);
}

/// Issue 21, attack 5: the id of a real product stack, provisioned by an allowed principal, sent again
/// with other properties (longer, more readers, another reason) is refused, and so is a stack
/// without the product's parameters: the catalog acts on what the stack's parameters say, as
/// `DescribeStacks` returns them. Nothing is written and each attempt is mailed as refused.
#[tokio::test(flavor = "current_thread")]
async fn issue_21_attack_5_a_reused_stack_id_with_other_properties_is_refused() {
    let Some((_moto, stack, function, iam)) = start_catalog(single_operator_text()).await else { return };
    let notifier = iam.spawn(&stack, "notifier").await;
    let cfn = ResponseCatcher::start(200);
    let closed = stack.live_policy(BUCKET).await;
    let provisioned = open_props("1h", READER);
    let sc = stack.catalog_stack(OPEN_PRODUCT, OPERATOR_SESSION, &provisioned).await;
    let answer = || {
        let got = cfn.take();
        assert_eq!(got.len(), 1, "answered once: {got:?}");
        got[0].2.clone()
    };
    let with = |k: &str, v: &str| {
        let mut p = provisioned.clone();
        p[k] = json!(v);
        p
    };
    let bare = stack.catalog_stack(OPEN_PRODUCT, OPERATOR_SESSION, &json!({})).await;
    let attempts = [
        (sc.as_str(), with("Duration", "12h"), "`Duration` differs"),
        (sc.as_str(), with("Readers", AUDITOR), "`Readers` differs"),
        (sc.as_str(), with("Readers", ""), "`Readers` differs"),
        (sc.as_str(), with("Reason", "routine"), "`Reason` differs"),
        (bare.as_str(), provisioned.clone(), "has no parameter `Bucket`"),
    ];
    for (id, props, why) in &attempts {
        function.invoke(&request(id, "Create", &cfn.url, props.clone(), None)).unwrap();
        let a = answer();
        assert_eq!(a["Status"], "FAILED", "{a}");
        assert!(a["Reason"].as_str().unwrap().contains(why), "{a}");
        assert!(a["PhysicalResourceId"].as_str().unwrap().starts_with("breakglass-failed-"), "{a}");
        assert_eq!(stack.live_policy(BUCKET).await, closed, "nothing written for {props}");
    }

    // The stack's own properties open it as provisioned; an update the product did not make is refused
    // and leaves the grant as it was.
    function.invoke(&request(&sc, "Create", &cfn.url, provisioned.clone(), None)).unwrap();
    let a = answer();
    assert_eq!(a["Status"], "SUCCESS", "{a}");
    let opened = stack.live_policy(BUCKET).await;
    let physical = a["PhysicalResourceId"].as_str().unwrap().to_owned();
    function.invoke(&request(&sc, "Update", &cfn.url, open_props("12h", AUDITOR), Some(&physical))).unwrap();
    let a = answer();
    assert_eq!(a["Status"], "FAILED", "{a}");
    assert_eq!(a["PhysicalResourceId"], physical.as_str());
    assert_eq!(stack.live_policy(BUCKET).await, opened, "the grant is as provisioned");

    // Every refusal reaches the security team as a refused request.
    for e in stack.drain(&stack.own_events).await {
        notifier.invoke(&e).unwrap();
    }
    let mails = stack.deliveries(&stack.security).await;
    let refused = mails
        .iter()
        .filter_map(|(_, d)| d["subject"].as_str())
        .filter(|s| s.contains("REFUSED request to open"))
        .count();
    assert_eq!(refused, attempts.len() + 1, "{mails:?}");
}
