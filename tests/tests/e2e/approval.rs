//! The two-person rule end to end on moto, as the example config has it: the CLI as two people
//! (role sessions `alice` and `bob` of the operator role, as STS resolves them) calling the real
//! gate through its function URL, the real notifier recording every request and decision, and the
//! real enforcer holding every OpenAccess against the gate's approvals in the audit trail.

use e2e::{breakglass_as, cloudtrail_event, provision_config, role_env, two_person_text, Moto, MOTO_ACCOUNT};
use serde_json::{json, Value};

const BUCKET: &str = "acme-cloudtrail-logs";
const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";

#[tokio::test(flavor = "current_thread")]
async fn request_approve_deny_and_every_refusal_and_the_enforcer_holds_opens_to_approvals() {
    let Some(moto) = Moto::start() else { return };
    let endpoint = moto.endpoint.clone();
    let text = two_person_text();
    let stack = provision_config(&endpoint, text.clone()).await;
    let dir = e2e::root().join("target/e2e-configs");
    std::fs::create_dir_all(&dir).unwrap();
    let config_path = dir.join(format!("two-person-{}.toml", std::process::id()));
    std::fs::write(&config_path, &text).unwrap();
    let config = config_path.display().to_string();
    let iam = stack.iam(&endpoint);
    let notifier = iam.spawn(&stack, "notifier").await;
    let enforcer = iam.spawn(&stack, "enforcer").await;
    let gate = stack.gate(Some(&iam)).await;
    // The operators' CLI runs under IAM as the template grants the operator role, and reaches the
    // buckets only through the gate.
    let mut alice = iam.person_env("breakglass-operator", "alice").await;
    let mut bob = iam.person_env("breakglass-operator", "bob").await;
    let mut eve = role_env(&endpoint, &format!("arn:aws:iam::{MOTO_ACCOUNT}:role/Admin"), "eve").await;
    for env in [&mut alice, &mut bob, &mut eve] {
        env.push(gate.env());
    }
    let pump = || async {
        let mut n = 0;
        for e in stack.drain(&stack.own_events).await {
            notifier.invoke(&e).unwrap();
            n += 1;
        }
        n
    };
    let base = ["--config", config.as_str(), "--bucket", BUCKET];

    // Alone, nobody opens.
    let (code, _, err) = breakglass_as(
        &alice,
        &iam.endpoint,
        &[
            &["open"][..],
            &base,
            &["--reason", "x", "--ticket", "T-1", "--duration", "1h", "--reader", READER],
        ]
        .concat(),
    );
    assert_eq!((code, err.contains("two-person rule")), (2, true), "{err}");

    // Alice asks.
    let (code, out, err) = breakglass_as(
        &alice,
        &iam.endpoint,
        &[
            &["request"][..],
            &base,
            &[
                "--reason",
                "incident 7",
                "--ticket",
                "SEC-7",
                "--duration",
                "2h",
                "--reader",
                READER,
                "--json",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    let q: Value = serde_json::from_str(&out).unwrap();
    let id = q["id"].as_str().unwrap().to_owned();
    assert_eq!(q["requester"], format!("arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/breakglass-operator/alice"));
    assert_eq!(stack.live_policy(BUCKET).await.as_deref().map(|p| p.contains("ClosedAccess")), Some(true));
    // The gate recorded the request, then put it on the bus for the mail.
    assert_eq!(pump().await, 1, "the request");
    let mails = stack.deliveries(&stack.security).await;
    assert!(
        mails.iter().any(|(_, d)| d["subject"].as_str().unwrap().contains("access REQUESTED (SEC-7)")),
        "{mails:?}"
    );
    stack.deliveries(&stack.stakeholders).await;

    // Alice approving her own request: refused, mailed as an attempt. Eve, an administrator who is
    // no operator: the gate refuses her before anything else.
    let (code, _, err) =
        breakglass_as(&alice, &iam.endpoint, &[&["approve", id.as_str()][..], &base].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("an approver must be another person (the same principal)"), "{err}");
    let (code, _, err) = breakglass_as(&eve, &endpoint, &[&["approve", id.as_str()][..], &base].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("only sessions of the operator roles may"), "{err}");
    assert_eq!(pump().await, 1);
    let attempts = stack.deliveries(&stack.stakeholders).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert!(attempts.iter().all(|(a, d)| a["kind"]["Value"] == "attempt" && d["decision"] == "refused"));

    // Bob approves: the gate records the decision first, then opens the bucket exactly as asked.
    let (code, out, err) =
        breakglass_as(&bob, &iam.endpoint, &[&["approve", id.as_str()][..], &base].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("approved request {id} of ")), "{out}");
    assert!(out.contains(&format!("opened {BUCKET} until ")), "{out}");
    pump().await;
    let live = stack.live_policy(BUCKET).await.unwrap();
    assert!(live.contains(READER) && live.contains("OpenAccess"), "{live}");
    let records = stack.audit_records(BUCKET).await;
    let kinds: Vec<(String, String)> = records
        .iter()
        .map(|(_, r)| (r["kind"].as_str().unwrap().into(), r["action"].as_str().unwrap().into()))
        .collect();
    for want in [("approval", "requested"), ("approval", "approved"), ("request", "open")] {
        assert!(kinds.contains(&(want.0.into(), want.1.into())), "{want:?} not in {kinds:?}");
    }
    // The open names the request and both people.
    let opened = records.iter().find(|(_, r)| r["kind"] == "request" && r["action"] == "open").unwrap();
    let why = opened.1["why"].as_str().unwrap();
    assert!(why.contains(&id) && why.contains("alice") && why.contains("bob"), "{why}");

    // The enforcer finds the gate's approval in the audit trail: the approved OpenAccess stays.
    // (CloudTrail names the gate's role, an automation principal of the config.)
    let automation = "arn:aws:iam::111122223333:role/breakglass-gate";
    let put = cloudtrail_event("PutBucketPolicy", BUCKET, automation, "breakglass-gate", Some(&live), None);
    let answer = enforcer.invoke(&put).unwrap();
    assert_eq!(answer["buckets"][0]["outcome"], "lawful", "{answer}");
    // Deciding again is refused: it was approved.
    let (code, _, err) = breakglass_as(&bob, &iam.endpoint, &[&["deny", id.as_str()][..], &base].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already approved"), "{err}");

    // Written another way (an administrator), without the gate's approval: drift, reverted, alerted.
    let other = "acme-vpc-flow-logs";
    let b = e2e::config().bucket(other).unwrap().clone();
    let grant = canonical_policies::OpenGrant {
        readers: [READER.to_owned()].into(),
        expiry: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    let direct = b.render_open(&grant, time::OffsetDateTime::now_utc()).unwrap().to_pretty_json();
    stack.clients.s3.put_bucket_policy().bucket(other).policy(&direct).send().await.unwrap();
    let put = cloudtrail_event("PutBucketPolicy", other, automation, "alice", Some(&direct), None);
    let answer = enforcer.invoke(&put).unwrap();
    assert_eq!(answer["buckets"][0]["outcome"], "closed", "{answer}");
    assert!(answer["buckets"][0]["reason"].as_str().unwrap().contains("no approval by the gate"), "{answer}");
    assert!(stack.live_policy(other).await.unwrap().contains("ClosedAccess"));
    let remediation = stack.drain(&stack.own_events).await;
    assert!(remediation.iter().any(|e| e["detail-type"] == "breakglass remediation"), "{remediation:?}");

    // A second request, denied by Bob: nothing opens.
    let (code, out, err) = breakglass_as(
        &alice,
        &iam.endpoint,
        &[
            &["request"][..],
            &["--config", config.as_str(), "--bucket", other],
            &["--reason", "audit", "--ticket", "AUD-1", "--duration", "1h", "--json"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    let id2 = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_owned();
    pump().await;
    let (code, out, err) =
        breakglass_as(&bob, &iam.endpoint, &["deny", id2.as_str(), "--config", config.as_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nothing was opened"), "{out}");
    pump().await;
    assert!(stack.live_policy(other).await.unwrap().contains("ClosedAccess"));

    // Issue 21, attack 1: a request in Alice's name that the gate never wrote (a bus event the
    // notifier recorded like any other), then Bob's genuine approval: the gate finds no request.
    // (Expiry is the gate's unit tests'.)
    let at = time::OffsetDateTime::now_utc();
    let forged = json!({"id": "0123456789ab", "bucket": BUCKET,
        "requester": format!("arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/breakglass-operator/alice"),
        "reason": "forged", "ticket": "F-1", "duration": "1h", "readers": [READER],
        "expires_at": breakglass_core::time::format_time(at + time::Duration::hours(24)), "time": breakglass_core::time::format_time(at)});
    notifier
        .invoke(&json!({"version": "0", "id": "x", "detail-type": "breakglass access request", "source": "breakglass",
            "account": MOTO_ACCOUNT, "time": forged["time"], "region": "eu-central-1", "resources": [], "detail": forged}))
        .unwrap();
    let (code, _, err) =
        breakglass_as(&bob, &iam.endpoint, &[&["approve", "0123456789ab"][..], &base].concat());
    assert_eq!(code, 2, "{err}");
    // (`--bucket` binds the approval to that bucket's request: the gate says which it looked in.)
    assert!(
        err.contains("no request `0123456789ab` of bucket `acme-cloudtrail-logs` in the audit trail"),
        "{err}"
    );
    // The history shows it for what it is.
    let (code, out, err) = breakglass_as(
        &bob,
        &iam.endpoint,
        &["history", "--config", config.as_str(), "--bucket", BUCKET, "--json"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("FORGED (not written by the gate)"), "{out}");
    // Unknown and malformed ids: one line each.
    let (code, _, err) =
        breakglass_as(&bob, &iam.endpoint, &["approve", "ffffffffffff", "--config", config.as_str()]);
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");
    let (code, _, err) =
        breakglass_as(&bob, &iam.endpoint, &["approve", "../etc", "--config", config.as_str()]);
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");
}
