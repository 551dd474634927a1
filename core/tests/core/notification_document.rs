//! The notification document, pinned: the JSON documents (and mails) the notifier renders for one
//! event of every kind are those of `fixtures/notification/golden.json`, written once from the code
//! before the document became a type (`BREAKGLASS_BLESS=1` rewrites it), and each parses into
//! [`Document`] and serialises back to itself.

use std::collections::BTreeSet;

use breakglass_config::Config;
use breakglass_core::events::OwnEvent;
use breakglass_core::inbound::event;
use breakglass_core::notice::{
    About, Account, Actor, Call, CallError, CallEvent, Document, Own, Place, PolicyDocument, SCHEMA,
};
use breakglass_core::notify::{render, Rendered};
use breakglass_core::trail::audit;
use serde_json::{json, Value};
use time::OffsetDateTime;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/notification/golden.json");
const BUCKET: &str = "acme-cloudtrail-logs";
const ORG_BUCKET: &str = "acme-prod-flow-logs-ireland";

fn config(org: bool) -> Config {
    let file = if org { "organisation.toml" } else { "breakglass.toml" };
    let text = std::fs::read_to_string(format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Config::from_toml(&text).unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-24T12:00:00Z", &time::format_description::well_known::Rfc3339).unwrap()
}

fn call(name: &str, bucket: Option<&str>, extra: Value) -> Value {
    let mut params = json!({});
    if let Some(b) = bucket {
        params["bucketName"] = json!(b);
    }
    let mut detail = json!({"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": name,
        "eventTime": "2026-11-24T11:59:00Z", "awsRegion": "eu-central-1", "recipientAccountId": "111122223333",
        "eventID": "ct-1", "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/mallory",
            "accountId": "111122223333", "sessionContext": {"attributes": {"mfaAuthenticated": "true"},
                "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Admin"}}},
        "requestParameters": params});
    if let (Value::Object(d), Value::Object(e)) = (&mut detail, extra) {
        for (k, v) in e {
            if k == "requestParameters" {
                if let (Some(Value::Object(p)), Value::Object(more)) = (d.get_mut("requestParameters"), v) {
                    p.extend(more);
                }
            } else {
                d.insert(k, v);
            }
        }
    }
    let account = detail["recipientAccountId"].clone();
    // EventBridge names the service the call went to: `aws.iam` for an IAM call.
    let source = detail["eventSource"].as_str().and_then(breakglass_core::inbound::event::aws_source);
    json!({"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail", "source": source,
        "account": account, "time": "2026-11-24T11:59:00Z", "region": "eu-central-1", "resources": [],
        "detail": detail})
}

/// (name, organisation mode, event): one of every kind the notifier mails.
fn cases() -> Vec<(&'static str, bool, Value)> {
    let t = "2026-11-24T10:00:00Z";
    let drift = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ClosedAccess", "Effect": "Allow",
        "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]});
    vec![
        (
            "policy drift",
            false,
            call("PutBucketPolicy", Some(BUCKET), json!({"requestParameters": {"bucketPolicy": drift}})),
        ),
        ("policy deleted", false, call("DeleteBucketPolicy", Some(BUCKET), json!({}))),
        (
            "attempt",
            false,
            call("PutBucketPolicy", Some(BUCKET), json!({"errorCode": "AccessDenied", "errorMessage": "no"})),
        ),
        (
            "acl",
            false,
            call("PutBucketAcl", Some(BUCKET), json!({"requestParameters": {"x-amz-acl": ["public-read"]}})),
        ),
        ("encryption", false, call("PutBucketEncryption", Some(BUCKET), json!({}))),
        ("no bucket", false, call("PutBucketPolicy", None, json!({}))),
        (
            "role",
            false,
            call(
                "UpdateAssumeRolePolicy",
                None,
                json!({"eventSource": "iam.amazonaws.com",
            "requestParameters": {"roleName": "LogInvestigator"}}),
            ),
        ),
        (
            "org policy",
            true,
            call(
                "PutBucketPolicy",
                Some(ORG_BUCKET),
                json!({"recipientAccountId": "111100000000",
            "awsRegion": "eu-west-1", "requestParameters": {"bucketPolicy": drift}}),
            ),
        ),
        (
            "request",
            false,
            json!({"version": "0", "detail-type": "breakglass request", "source": "breakglass", "id": "ev-1", "detail": {"schema": "breakglass.request/1",
            "action": "open", "bucket": BUCKET, "requester": "alice", "reason": "r", "ticket": "T",
            "grant": {"readers": ["arn:aws:iam::111122223333:role/investigations/LogInvestigator"], "expiry": "2026-11-24T14:00:00Z"},
            "previous": null, "before_hash": null, "policy_hash": "h", "time": t}}),
        ),
        (
            "org request",
            true,
            json!({"version": "0", "detail-type": "breakglass request", "source": "breakglass", "detail": {"schema": "breakglass.request/1",
            "action": "close", "bucket": ORG_BUCKET, "requester": "alice", "reason": "done", "grant": null,
            "previous": null, "before_hash": "a", "policy_hash": "h", "time": t}}),
        ),
        (
            "remediation",
            false,
            json!({"version": "0", "detail-type": "breakglass remediation", "source": "breakglass", "id": "ev-2", "detail": {"schema": "breakglass.remediation/1",
            "bucket": BUCKET, "outcome": "closed", "error": null, "reason": "drift", "reasons": ["x"],
            "before": {"state": "drift", "hash": "b", "claimed": "ClosedAccess"}, "after": {"hash": "c"},
            "diff": ["one"], "trigger": {"event_id": "ct-9", "event_name": "PutBucketPolicy", "event_time": t,
                "actor": "mallory", "actor_role": null}, "time": t}}),
        ),
        (
            "repair",
            false,
            json!({"version": "0", "detail-type": "breakglass repair", "source": "breakglass", "id": "ev-3", "detail": {"schema": "breakglass.repair/1",
            "kind": "role", "subject": "LogInvestigator", "bucket": null, "what": "w; more", "outcome": "repaired",
            "repaired": true, "error": null, "time": t}}),
        ),
        (
            "config",
            false,
            json!({"version": "0", "detail-type": "breakglass config", "source": "breakglass", "id": "ev-4", "detail": {"schema": "breakglass.config/1",
            "location": "s3://b/breakglass.toml", "by": "alice", "before_sha256": null,
            "after_sha256": "0123456789abcdef", "diff": "+ [[bucket]]", "time": t}}),
        ),
        (
            "access request",
            false,
            json!({"version": "0", "detail-type": "breakglass access request", "source": "breakglass", "id": "ev-5", "detail": {
            "schema": "breakglass.access-request/1", "id": "0123456789ab", "bucket": BUCKET, "requester": "alice",
            "reason": "r", "ticket": "T", "duration": "2h", "readers": ["arn:aws:iam::1:role/R"],
            "expires_at": "2026-11-25T10:00:00Z", "time": t}}),
        ),
        (
            "decision",
            false,
            json!({"version": "0", "detail-type": "breakglass decision", "source": "breakglass", "id": "ev-6", "detail": {"schema": "breakglass.decision/1",
            "id": "0123456789ab", "bucket": BUCKET, "decision": "approved", "by": "bob", "requester": "alice",
            "reason": "r", "ticket": "T", "error": null, "readers": ["arn:aws:iam::1:role/R"],
            "expiry": "2026-11-24T12:00:00Z", "time": t}}),
        ),
        (
            "denied",
            false,
            json!({"version": "0", "detail-type": "breakglass denied", "source": "breakglass", "id": "ev-7", "detail": {"schema": "breakglass.denied/1",
            "bucket": BUCKET, "count": 2, "by": [{"principal": "arn:aws:iam::1:role/Admin", "count": 2,
                "first": t, "last": t, "keys": ["k"], "source_ips": []}], "from": t, "to": t, "time": t}}),
        ),
        (
            "sweep incomplete",
            true,
            json!({"version": "0", "detail-type": "breakglass sweep incomplete", "source": "breakglass", "id": "ev-8", "detail": {
            "schema": "breakglass.sweep-incomplete/1", "sweep": "s", "account": "111100000000",
            "region": "eu-west-1", "attempts": 3, "unchecked": [{"bucket": ORG_BUCKET, "error": "e"}], "time": t}}),
        ),
        (
            "unreadable",
            false,
            json!({"version": "0", "detail-type": "breakglass unreadable", "source": "breakglass", "id": "ev-9", "detail": {"schema": "breakglass.unreadable/1",
            "count": 1, "items": [{"message_id": "m", "event_id": null, "reason": "not json"}], "time": t}}),
        ),
    ]
}

fn rendered(org: bool, event: &Value) -> Vec<Value> {
    let incoming = event::parse(event).unwrap();
    let own = match &incoming {
        event::Incoming::Custom { detail_type, detail, .. } => {
            Some(OwnEvent::from_bus(detail_type, detail).unwrap())
        }
        _ => None,
    };
    render(&config(org), &incoming, now())
        .into_iter()
        .map(|r| match r {
            Rendered::Send(n) => {
                let record = audit::record(&n, own.as_ref(), now(), Some("cfg")).unwrap();
                json!({"subject": n.subject, "email": n.email, "attributes": n.attributes,
                    "default": n.default, "message": n.message_json(),
                    "record": {"key": record.key, "body": record.body}})
            }
            Rendered::Ignored(why) => json!({"ignored": why}),
        })
        .collect()
}

#[test]
fn documents_are_those_of_before() {
    let now: Value =
        cases().into_iter().map(|(name, org, e)| json!({"name": name, "out": rendered(org, &e)})).collect();
    if std::env::var_os("BREAKGLASS_BLESS").is_some() {
        std::fs::write(GOLDEN, serde_json::to_string_pretty(&now).unwrap()).unwrap();
    }
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(GOLDEN).unwrap()).unwrap();
    for (was, is) in golden.as_array().unwrap().iter().zip(now.as_array().unwrap()) {
        assert_eq!(was, is, "{}", was["name"]);
    }
    assert_eq!(golden.as_array().unwrap().len(), now.as_array().unwrap().len());
    for o in now.as_array().unwrap() {
        assert!(o["out"][0]["default"].is_object(), "{o}");
    }
}

#[test]
fn todays_documents_parse_into_the_type_and_back() {
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(GOLDEN).unwrap()).unwrap();
    for case in golden.as_array().unwrap() {
        for out in case["out"].as_array().unwrap() {
            // The SNS document and the audit record's detail (the document without the text).
            for json in [&out["default"], &out["record"]["body"]["detail"]] {
                let doc: Document = serde_json::from_value(json.clone()).unwrap();
                assert_eq!(&serde_json::to_value(&doc).unwrap(), json, "{}", case["name"]);
                let again: Document = serde_json::from_value(doc.to_value()).unwrap();
                assert_eq!(again, doc, "{}", case["name"]);
            }
            let doc: Document = serde_json::from_value(out["default"].clone()).unwrap();
            assert_eq!(doc.subject, out["subject"].as_str().unwrap());
            assert_eq!(doc.text.as_deref(), out["email"].as_str());
        }
    }
}

/// The names of a table's rows (its first column, split at commas) after the line starting with
/// `heading` in docs/notification-schema.md, with the names each row's meaning column quotes.
fn schema_table(heading: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/notification-schema.md"))
        .unwrap();
    let quoted =
        |cell: &str| -> Vec<String> { cell.split('`').skip(1).step_by(2).map(str::to_owned).collect() };
    doc.lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split('|').collect();
            (quoted(cells[1]), quoted(cells[3]))
        })
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// docs/notification-schema.md is the contract: its tables name exactly the fields of the type.
#[test]
fn the_schema_document_names_the_fields_of_the_type() {
    let some = || Some("x".to_owned());
    let call = Call {
        severity: "info".into(),
        bucket: "b".into(),
        call: "PutBucketPolicy".into(),
        state: "closed".into(),
        event: CallEvent {
            id: some(),
            name: "PutBucketPolicy".into(),
            time: some(),
            region: some(),
            source_ip: some(),
            user_agent: some(),
        },
        actor: Actor::default(),
        target: some(),
        policy: Some(PolicyDocument {
            hash: some(),
            first_sid: some(),
            claim_mismatch: false,
            expiry: some(),
            readers: vec![],
            reasons: vec![],
        }),
        exposure: Some(some()),
        error: Some(CallError { code: some(), message: some() }),
    };
    let place = Place { id: "111100000000".into(), alias: some(), region: "eu-west-1".into() };
    let full = Document {
        schema: SCHEMA.into(),
        kind: "change".into(),
        subject: "s".into(),
        text: some(),
        account: Some(Account::Place(place)),
        about: About::Call(Box::new(call)),
    }
    .to_value();

    let common = schema_table("Every document has");
    let calls = schema_table("For `kind` = `change` or `attempt`");
    let named: BTreeSet<String> = common.iter().chain(&calls).flat_map(|(n, _)| n.clone()).collect();
    assert_eq!(named, keys(&full));
    // The objects' fields, as the rows' meanings list them.
    let mut objects = Vec::new();
    for (names, meaning) in common.iter().chain(&calls) {
        if let [name] = names.as_slice() {
            if full[name].is_object() {
                assert_eq!(meaning.iter().cloned().collect::<BTreeSet<_>>(), keys(&full[name]), "{name}");
                objects.push(name.as_str());
            }
        }
    }
    assert_eq!(objects, ["account", "policy", "error", "event", "actor"]);
    // The schema's name is written once, in the type; the document quotes it.
    assert!(common.iter().any(|(n, m)| n == &["schema"] && m.contains(&SCHEMA.to_owned())));

    // One of breakglass's own events: its detail plus what the type adds.
    let own = Document {
        schema: SCHEMA.into(),
        kind: "remediation".into(),
        subject: "s".into(),
        text: None,
        account: None,
        about: About::Own(Own { detail_type: "d".into(), event_id: None, detail: Default::default() }),
    }
    .to_value();
    let remediation: BTreeSet<String> =
        schema_table("For `kind` = `remediation`").into_iter().flat_map(|(n, _)| n).collect();
    for added in keys(&own) {
        assert!(named.contains(&added) || remediation.contains(&added), "{added} is not documented");
    }
}

/// Who made a call, for every `userIdentity` type CloudTrail documents. Regression: without an
/// ARN (another account's principal, an AWS service, a SAML, web-identity or Identity Center
/// user) the mail said "an unknown principal", and a federated user's session named the IAM user
/// that issued it as its role.
#[test]
fn every_identity_type_is_named_in_the_mail() {
    use breakglass_core::inbound::event::{self, Incoming};
    let who = |identity: serde_json::Value| {
        let Incoming::ApiCalls(calls) = event::parse(&serde_json::json!({
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "id": "e",
            "detail": {"eventID": "c", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketAcl",
                "eventTime": "2026-11-24T11:59:58Z", "userIdentity": identity,
                "requestParameters": {"bucketName": "acme-cloudtrail-logs"}}
        }))
        .unwrap() else {
            panic!()
        };
        calls[0].actor.describe()
    };
    let cases = [
        (serde_json::json!({"type": "AWSAccount", "principalId": "AIDAEXAMPLE", "accountId": "444455556666"}),
            "AWSAccount AIDAEXAMPLE in account 444455556666"),
        (serde_json::json!({"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}),
            "the AWS service cloudformation.amazonaws.com"),
        (serde_json::json!({"type": "SAMLUser", "principalId": "p:alice", "userName": "alice", "identityProvider": "idp"}),
            "SAMLUser alice through idp"),
        (serde_json::json!({"type": "IdentityCenterUser", "accountId": "111122223333",
            "onBehalfOf": {"userId": "u-1", "identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-1"}}),
            "IdentityCenterUser u-1 in account 111122223333 through arn:aws:identitystore::111122223333:identitystore/d-1"),
        (serde_json::json!({"type": "FederatedUser", "arn": "arn:aws:sts::111122223333:federated-user/bob",
            "sessionContext": {"sessionIssuer": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/broker"}}}),
            "arn:aws:sts::111122223333:federated-user/bob (issued by arn:aws:iam::111122223333:user/broker)"),
    ];
    for (identity, expected) in cases {
        assert_eq!(who(identity), expected);
    }
}

/// A policy put whose record lacks the policy, or holds one that cannot be parsed, left a policy
/// on the bucket, not none. Regression: the mail said "No bucket policy: nothing stops reading the
/// logs" and "the bucket has no policy at all", after "cannot be parsed" in the same mail.
#[test]
fn a_put_whose_policy_the_record_does_not_show_is_not_called_no_policy() {
    use breakglass_core::inbound::event;
    use breakglass_core::notify::{render, Rendered};
    let config = breakglass_core::testing::example_config();
    let mail = |params: serde_json::Value| {
        let incoming = event::parse(&serde_json::json!({
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "id": "e",
            "detail": {"eventID": "c", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
                "eventTime": "2026-11-24T11:59:58Z", "recipientAccountId": "111122223333",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory", "accountId": "111122223333"},
                "requestParameters": params}
        }))
        .unwrap();
        let Some(Rendered::Send(n)) =
            render(&config, &incoming, breakglass_core::testing::now()).into_iter().next()
        else {
            panic!()
        };
        n.email
    };
    let missing = mail(serde_json::json!({"bucketName": "acme-cloudtrail-logs"}));
    assert!(missing.contains("the record does not show"), "{missing}");
    let unreadable =
        mail(serde_json::json!({"bucketName": "acme-cloudtrail-logs", "bucketPolicy": "{not json"}));
    assert!(unreadable.contains("cannot be read"), "{unreadable}");
    for text in [missing, unreadable] {
        assert!(!text.contains("No bucket policy") && !text.contains("no policy at all"), "{text}");
    }
}

/// IAM role names are not distinguished by case: a call on `BREAKGLASS-enforcer` or
/// `LOGINVESTIGATOR` is a call on breakglass's or an investigator's role. Regression: it was
/// "not breakglass's" and ignored.
#[test]
fn regression_a_role_named_in_another_case_is_mailed() {
    let ignored = |role: &str| {
        let e = call(
            "UpdateAssumeRolePolicy",
            None,
            json!({"eventSource": "iam.amazonaws.com", "requestParameters": {"roleName": role}}),
        );
        rendered(false, &e).iter().all(|r| r.get("ignored").is_some())
    };
    assert!(ignored("SomeAppRole"));
    assert!(!ignored("BREAKGLASS-enforcer"));
    assert!(!ignored("LOGINVESTIGATOR"));
}

/// A public-access-block, ownership or ACL call whose record names no bucket: the sweep that
/// follows reads policies and versioning, lifecycle and replication, not these. Regression: the mail
/// said "breakglass checks every protected bucket now", as if that covered the call.
#[test]
fn regression_a_call_naming_no_bucket_says_what_the_sweep_cannot_check() {
    let email = |name: &str| {
        let out = rendered(false, &call(name, None, json!({"requestParameters": null})));
        out[0]["email"].as_str().unwrap_or_default().to_owned()
    };
    for name in ["DeleteBucketPublicAccessBlock", "PutBucketOwnershipControls", "PutBucketAcl"] {
        assert!(email(name).contains("cannot check what this call changes"), "{name}: {}", email(name));
    }
    assert!(email("PutBucketPolicy").contains("checks every protected bucket now"));
}

/// A sweep's digest whose buckets S3 did not all let close says so in subject and text: the
/// buckets' own mails are digested, so this is the only mail a person gets. Regression: "restored
/// ClosedAccess on them" and "reverted" whatever the outcomes.
#[test]
fn regression_a_digest_says_which_buckets_were_not_reverted() {
    let digest = |outcomes: &[&str]| {
        let buckets: Vec<Value> = outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| json!({"bucket": format!("b-{i}"), "outcome": o, "before": "drift"}))
            .collect();
        let not_closed = outcomes.iter().filter(|o| matches!(**o, "refused" | "unverified")).count();
        let dry_run = outcomes.iter().filter(|o| **o == "dry-run").count();
        json!({"version": "0", "detail-type": breakglass_core::events::REMEDIATION_DIGEST, "source": "breakglass", "id": "ev-d",
            "detail": {"schema": "breakglass.remediation-digest/1", "id": "d1", "count": outcomes.len(), "common_cause": null,
                "causes": [], "buckets": buckets, "not_closed": not_closed, "dry_run": dry_run, "time": "2026-11-24T12:00:00Z"}})
    };
    let out = rendered(false, &digest(&["closed", "refused", "closed"]));
    let subject = out[0]["subject"].as_str().unwrap();
    assert!(subject.contains("1 of 3 unlawful bucket policies NOT reverted"), "{subject}");
    let email = out[0]["email"].as_str().unwrap();
    assert!(
        email.contains("It restored ClosedAccess on 2 of them") && email.contains("may still be readable"),
        "{email}"
    );
    let out = rendered(false, &digest(&["closed", "closed"]));
    assert!(out[0]["subject"].as_str().unwrap().contains("2 buckets reverted to ClosedAccess"));
    let out = rendered(false, &digest(&["dry-run", "dry-run"]));
    assert!(out[0]["subject"].as_str().unwrap().contains("dry run: not reverted"), "{out:?}");
}

/// A role call whose record names no role: nothing checks it, and the mail says who must.
/// Regression: it said breakglass checks every protected bucket (the sentinel skips such a call).
#[test]
fn regression_a_role_call_naming_no_role_does_not_promise_bucket_checks() {
    let e = call(
        "UpdateAssumeRolePolicy",
        None,
        json!({"eventSource": "iam.amazonaws.com", "requestParameters": null}),
    );
    let out = rendered(false, &e);
    let (subject, email) = (out[0]["subject"].as_str().unwrap(), out[0]["email"].as_str().unwrap());
    assert!(subject.ends_with("UpdateAssumeRolePolicy naming no role"), "{subject}");
    assert!(email.contains("the security team must check the investigator roles' trust policies"), "{email}");
    assert!(!email.contains("protected bucket"), "{email}");
}

/// Regression: the guarded-call table (and so `docs/threat-model.md`) said an ACL change was
/// "reverted", while no code reverts one and its mail says so. It is an alert: public grants are
/// critical, a private ACL (ClosedAccess's deny outranks any ACL grant of object reads) is not.
#[test]
fn regression_an_acl_change_is_not_claimed_reverted() {
    use breakglass_core::guarded::{GuardedCall, Response};
    assert_eq!(GuardedCall::PutBucketAcl.response(), Response::Alert);
    let severity = |params: Value| {
        let out = rendered(false, &call("PutBucketAcl", Some(BUCKET), json!({"requestParameters": params})));
        (
            out[0]["default"]["severity"].as_str().unwrap().to_owned(),
            out[0]["email"].as_str().unwrap().to_owned(),
        )
    };
    let (public, email) = severity(json!({"x-amz-acl": ["public-read"]}));
    assert_eq!(public, "critical");
    assert!(email.contains("breakglass does not undo an ACL change"), "{email}");
    assert!(!email.contains("puts the lawful state back"), "{email}");
    let (private, email) = severity(json!({"x-amz-acl": ["private"]}));
    assert_eq!(private, "info", "{email}");
}
