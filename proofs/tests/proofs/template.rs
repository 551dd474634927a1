//! template.yaml's IAM roles, run through the project's own evaluator: every role's inline policy is
//! resolved (Ref, GetAtt, Sub, Join, Split with example values), given the role as its principal,
//! and asked what it may do. The enforcer can read and write the protected buckets' policies and
//! cannot read objects; no role can read a log object; no role has a `*` resource but the one
//! action that supports no other. The SCP is checked the same way.
#![allow(clippy::string_slice)] // template text is ASCII; a panic fails the test

use std::collections::BTreeSet;

use canonical_policies::{explain, Caller, Decision, Policy, Request, OBJECT_READ_ACTIONS};
use proofs::cfn::{Role, Template};
use proofs::{config, root};
use serde_json::{json, Value};
use serde_norway::Value as Yaml;

pub(super) const ACCOUNT: &str = "111122223333";
pub(super) const REGION: &str = "eu-central-1";

/// template.yaml with the example values its parameters get in tests.
fn stack() -> Template {
    proofs::single_account_stack(ACCOUNT, REGION, &[])
}

fn template() -> Yaml {
    stack().doc
}

/// Every role of the template: (logical id, role ARN, its inline statements as a principal policy).
pub(super) fn roles() -> Vec<Role> {
    let out = stack().roles();
    assert!(out.len() >= 5, "{}", out.len());
    out
}

/// The function whose execution role `role_arn` is, if it is one of breakglass's.
fn own_function(role_arn: &str) -> Option<String> {
    let name = role_arn.rsplit('/').next()?;
    [
        "breakglass-enforcer",
        "breakglass-notifier",
        "breakglass-catalog",
        "breakglass-recorder",
        "breakglass-gate",
    ]
    .contains(&name)
    .then(|| format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"))
}

/// As the caller would ask it: a breakglass role from inside its own function (Lambda puts
/// `lambda:SourceFunctionArn` into the request context of the function's own calls).
fn decide(policy: &Policy, caller: &str, action: &str, resource: &str) -> Decision {
    decide_from(policy, caller, action, resource, own_function(caller).as_deref())
}

/// What template.yaml's execution role `logical` may do: `action` on `resource`, as that role.
pub(super) fn role_may(roles: &[Role], logical: &str, action: &str, resource: &str) -> Decision {
    let (_, arn, policy, _) = roles.iter().find(|(l, ..)| l == logical).unwrap();
    decide(policy, arn, action, resource)
}

/// As `caller` from inside `function` (`None`: not from a Lambda function at all).
pub(super) fn decide_from(
    policy: &Policy,
    caller: &str,
    action: &str,
    resource: &str,
    function: Option<&str>,
) -> Decision {
    let mut req =
        Request::new(Caller::parse(caller).unwrap(), action, resource, time::OffsetDateTime::now_utc())
            .with("aws:SecureTransport", "true");
    if let Some(f) = function {
        req = req.with("lambda:SourceFunctionArn", f);
    }
    explain(policy, &req).decision
}

#[test]
fn the_enforcer_manages_bucket_policies_and_reads_no_object() {
    let roles = roles();
    let (_, arn, policy, _) = roles.iter().find(|(l, ..)| l == "EnforcerRole").unwrap();
    for b in &config().buckets {
        let bucket = b.bucket_arn();
        for action in [
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
            "s3:PutBucketPublicAccessBlock",
            "s3:GetBucketVersioning",
            "s3:PutBucketVersioning",
            "s3:GetLifecycleConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:PutReplicationConfiguration",
            "s3:PutBucketOwnershipControls",
        ] {
            assert_eq!(decide(policy, arn, action, &bucket), Decision::Allow, "{action} {bucket}");
        }
        for action in ["s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:DeleteBucket", "s3:ListBucket"] {
            assert_eq!(decide(policy, arn, action, &bucket), Decision::ImplicitDeny, "{action} {bucket}");
        }
    }
    assert_eq!(
        decide(policy, arn, "s3:PutBucketPolicy", "arn:aws:s3:::someone-elses-bucket"),
        Decision::ImplicitDeny
    );
    // The two-person rule: it reads the approvals in the audit trail and verifies their signatures,
    // and writes no record.
    let record =
        format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}/breakglass/acme-cloudtrail-logs/r.json");
    assert_eq!(decide(policy, arn, "s3:GetObject", &record), Decision::Allow);
    assert_eq!(decide(policy, arn, "s3:PutObject", &record), Decision::ImplicitDeny);
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id");
    assert_eq!(decide(policy, arn, "kms:VerifyMac", &key), Decision::Allow);
    assert_eq!(decide(policy, arn, "kms:GenerateMac", &key), Decision::ImplicitDeny);
}

#[test]
fn no_role_reads_a_log_object_or_deletes_an_audit_record() {
    for (logical, arn, policy, _) in roles() {
        for b in &config().buckets {
            let object = format!("{}/AWSLogs/{ACCOUNT}/CloudTrail/x.json.gz", b.bucket_arn());
            for action in OBJECT_READ_ACTIONS.iter().chain(&["s3:PutObject", "s3:DeleteObject"]) {
                assert_ne!(
                    decide(&policy, &arn, action, &object),
                    Decision::Allow,
                    "{logical} {action} {object}"
                );
            }
        }
        let record = format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}/breakglass/b/r.json");
        for action in ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"] {
            assert_ne!(decide(&policy, &arn, action, &record), Decision::Allow, "{logical} {action}");
        }
    }
}

#[test]
fn the_notifier_appends_records_and_the_operator_reads_them() {
    let roles = roles();
    let record =
        format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}/breakglass/acme-cloudtrail-logs/r.json");
    assert_eq!(role_may(&roles, "NotifierRole", "s3:PutObject", &record), Decision::Allow);
    assert_eq!(role_may(&roles, "NotifierRole", "s3:GetObject", &record), Decision::ImplicitDeny);
    assert_eq!(role_may(&roles, "OperatorRole", "s3:GetObject", &record), Decision::Allow);
    assert_eq!(role_may(&roles, "OperatorRole", "s3:PutObject", &record), Decision::ImplicitDeny);
}

/// The recorder appends read records under its own prefixes only (not the notifier's records of
/// requests and changes), reads back only what its digest needs, and reads no log object.
#[test]
fn the_recorder_appends_read_records_and_nothing_else() {
    let roles = roles();
    let (_, arn, recorder, _) = roles.iter().find(|(l, ..)| l == "RecorderRole").unwrap();
    let audit = format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}");
    for own in [
        "_reads/acme-cloudtrail-logs/r.json",
        "_denied/2026-12-01T22:40:00Z/acme-cloudtrail-logs/r.json",
        "_unreadable/r.json",
        "_digests/s.json",
        "_closing/c.json",
        "_reports/c.json",
        "_attempts/acme-cloudtrail-logs/r.json",
        "_attempts/_slots/2026-12-01T22:40:00Z/acme-cloudtrail-logs.json",
    ] {
        assert_eq!(
            decide(recorder, arn, "s3:PutObject", &format!("{audit}/breakglass/{own}")),
            Decision::Allow,
            "{own}"
        );
    }
    let request_record = format!("{audit}/breakglass/acme-cloudtrail-logs/r.json");
    assert_eq!(decide(recorder, arn, "s3:PutObject", &request_record), Decision::ImplicitDeny);
    // It reads a window's history for the access report.
    assert_eq!(decide(recorder, arn, "s3:GetObject", &request_record), Decision::Allow);
    assert_eq!(
        decide(recorder, arn, "s3:GetObject", &format!("{audit}/breakglass/_denied/s/b/r.json")),
        Decision::Allow
    );
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id");
    assert_eq!(decide(recorder, arn, "kms:GenerateMac", &key), Decision::Allow);
    assert_eq!(
        decide(
            recorder,
            arn,
            "events:PutEvents",
            &format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/breakglass")
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(
            recorder,
            arn,
            "sns:Publish",
            &format!("arn:aws:sns:{REGION}:{ACCOUNT}:breakglass-notifications")
        ),
        Decision::ImplicitDeny
    );
    // Outside its own function the role can do nothing of this.
    assert_eq!(
        decide_from(recorder, arn, "s3:PutObject", &format!("{audit}/breakglass/_reads/b/r.json"), None),
        Decision::ImplicitDeny
    );
}

#[test]
fn every_role_names_exact_actions_and_resources() {
    for (logical, _, _, statements) in roles() {
        for s in &statements {
            let actions: Vec<&str> = match &s["Action"] {
                Value::String(a) => vec![a.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                other => panic!("{other}"),
            };
            assert!(
                actions.iter().all(|a| !a.contains('*') || a.ends_with("GenerateDataKey*")),
                "{logical}: {s}"
            );
            let resources: Vec<&str> = match &s["Resource"] {
                Value::String(r) => vec![r.as_str()],
                Value::Array(r) => r.iter().filter_map(Value::as_str).collect(),
                other => panic!("{other}"),
            };
            // cloudformation:ValidateTemplate supports no resource-level permission.
            let resource_free = actions == ["cloudformation:ValidateTemplate"];
            assert!(resource_free || resources.iter().all(|r| *r != "*"), "{logical}: {s}");
        }
    }
}

/// The SCP: denies the guarded calls on protected buckets to everyone but the automation principals.
#[test]
fn the_scp_denies_tampering_to_everyone_but_the_automation() {
    let text = std::fs::read_to_string(root().join("canonical-policies/scp/deny-breakglass-tampering.json"))
        .unwrap();
    let scp = scp("deny-breakglass-tampering.json");
    let bucket = "arn:aws:s3:::acme-cloudtrail-logs";
    for who in [format!("arn:aws:iam::{ACCOUNT}:role/Admin"), format!("arn:aws:iam::{ACCOUNT}:user/mallory")]
    {
        for action in [
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:PutBucketAcl",
            "s3:PutBucketPublicAccessBlock",
        ] {
            assert_eq!(decide(&scp, &who, action, bucket), Decision::ExplicitDeny, "{who} {action}");
        }
        let function = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-enforcer");
        assert_eq!(decide(&scp, &who, "lambda:UpdateFunctionCode", &function), Decision::ExplicitDeny);
        let rule = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/breakglass-sweep");
        assert_eq!(decide(&scp, &who, "events:DisableRule", &rule), Decision::ExplicitDeny);
        let trail = format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org");
        assert_eq!(decide(&scp, &who, "cloudtrail:StopLogging", &trail), Decision::ExplicitDeny);
    }
    for automation in config().buckets[0].automation_principals.iter() {
        assert_ne!(
            decide(&scp, automation, "s3:PutBucketPolicy", bucket),
            Decision::ExplicitDeny,
            "{automation}"
        );
    }
    let deployer = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-deployment");
    let function = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-enforcer");
    assert_ne!(decide(&scp, &deployer, "lambda:UpdateFunctionCode", &function), Decision::ExplicitDeny);
    // The SCP names the example buckets; a deployment lists its own (docs/deploy.md).
    for b in &config().buckets {
        assert!(text.contains(&b.bucket_arn()), "the SCP must list {}", b.name);
    }
}

// ------------------------------------------------------------------------------------------------
// The attacks around the glass (docs/threat-model.md, attacks 1-8): what the rendered SCPs, role
// policies and resource policies deny, proven with the evaluator (moto enforces no IAM).

/// A file of canonical-policies/scp/ as a policy. An SCP applies to every principal of the account:
/// as a policy, its principal is `*`.
pub(super) fn scp(file: &str) -> Policy {
    let text = std::fs::read_to_string(root().join("canonical-policies/scp").join(file)).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    for s in doc["Statement"].as_array_mut().unwrap() {
        s["Principal"] = json!("*");
    }
    Policy::parse(doc.to_string().as_bytes()).unwrap()
}

/// A resource policy of the template, resolved: `path` leads from the resource's Properties to it.
pub(super) fn resource_policy(logical: &str, path: &[&str]) -> Policy {
    let t = stack();
    let mut v = &t.resources()[logical]["Properties"];
    for p in path {
        v = &v[*p];
    }
    let mut doc = t.resolve(v);
    if doc.get("Statement").is_none() {
        // EventBusPolicy: a single statement, no document around it.
        doc = json!({ "Version": "2012-10-17", "Statement": [doc] });
    }
    Policy::parse(doc.to_string().as_bytes()).unwrap_or_else(|e| panic!("{logical}: {e}\n{doc}"))
}

pub(super) const ADMIN: &str = "arn:aws:iam::111122223333:role/Admin";
const DEPLOYER: &str = "arn:aws:iam::111122223333:role/breakglass-deployment";

/// Attack 1: borrowing an automation role. Passing a breakglass role to a function or stack is
/// denied; the role's own grants hold only inside its own function; used from anywhere else, the
/// SCP denies what it could do.
#[test]
fn attack_1_a_borrowed_automation_role_can_do_nothing() {
    let bypass = scp("deny-breakglass-bypass.json");
    for role in ["breakglass-enforcer", "breakglass-catalog", "breakglass-deployment"] {
        let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
        assert_eq!(decide(&bypass, ADMIN, "iam:PassRole", &arn), Decision::ExplicitDeny, "{role}");
        assert_ne!(decide(&bypass, DEPLOYER, "iam:PassRole", &arn), Decision::ExplicitDeny, "{role}");
    }
    let roles = roles();
    let (_, enforcer, policy, _) = roles.iter().find(|(l, ..)| l == "EnforcerRole").unwrap();
    let bucket = config().buckets[0].bucket_arn();
    let other = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:insiders-own-function");
    for action in ["s3:PutBucketPolicy", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning"] {
        assert_eq!(decide(policy, enforcer, action, &bucket), Decision::Allow, "{action}");
        assert_eq!(decide_from(policy, enforcer, action, &bucket, Some(&other)), Decision::ImplicitDeny);
        assert_eq!(decide_from(policy, enforcer, action, &bucket, None), Decision::ImplicitDeny);
        assert_eq!(decide_from(&bypass, enforcer, action, &bucket, Some(&other)), Decision::ExplicitDeny);
        assert_ne!(decide(&bypass, enforcer, action, &bucket), Decision::ExplicitDeny);
    }
    let bus = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/breakglass");
    let catalog = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-catalog");
    assert_eq!(decide_from(&bypass, &catalog, "events:PutEvents", &bus, None), Decision::ExplicitDeny);
}

/// Attack 2: calling the catalog function directly. Only the launch role (CloudFormation, for
/// Service Catalog) may invoke it; the function itself refuses unverified stacks (tests/tests/e2e/catalog.rs).
#[test]
fn attack_2_nobody_but_the_launch_role_invokes_the_catalog_function() {
    let bypass = scp("deny-breakglass-bypass.json");
    let function = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-catalog");
    assert_eq!(decide(&bypass, ADMIN, "lambda:InvokeFunction", &function), Decision::ExplicitDeny);
    let launch = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-catalog-launch");
    assert_ne!(decide(&bypass, &launch, "lambda:InvokeFunction", &function), Decision::ExplicitDeny);
    let notifier = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-notifier");
    assert_eq!(decide(&bypass, &launch, "lambda:InvokeFunction", &notifier), Decision::ExplicitDeny);
    // Nor the recorder: a hand-made batch of "reads" or a forged schedule is refused.
    let recorder = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-recorder");
    assert_eq!(decide(&bypass, ADMIN, "lambda:InvokeFunction", &recorder), Decision::ExplicitDeny);
}

/// Attack 3: taking over an investigator role. Its trust, policies and very existence are the
/// deployment's; the enforcer alone may put the configured trust back.
#[test]
fn attack_3_an_investigator_role_cannot_be_taken_over() {
    let bypass = scp("deny-breakglass-bypass.json");
    let investigator = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";
    for action in [
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteRole",
        "iam:CreateRole",
        "iam:AttachRolePolicy",
        "iam:PutRolePolicy",
    ] {
        assert_eq!(decide(&bypass, ADMIN, action, investigator), Decision::ExplicitDeny, "{action}");
        assert_ne!(decide(&bypass, DEPLOYER, action, investigator), Decision::ExplicitDeny, "{action}");
    }
    let enforcer = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-enforcer");
    assert_ne!(
        decide(&bypass, &enforcer, "iam:UpdateAssumeRolePolicy", investigator),
        Decision::ExplicitDeny
    );
    assert_eq!(decide(&bypass, &enforcer, "iam:DeleteRole", investigator), Decision::ExplicitDeny);
    let roles = roles();
    let (_, arn, policy, _) = roles.iter().find(|(l, ..)| l == "EnforcerRole").unwrap();
    assert_eq!(decide(policy, arn, "iam:UpdateAssumeRolePolicy", investigator), Decision::Allow);
    let elsewhere = "arn:aws:iam::111122223333:role/Admin";
    assert_eq!(decide(policy, arn, "iam:UpdateAssumeRolePolicy", elsewhere), Decision::ImplicitDeny);
}

/// Attack 4: destroying the evidence. Every setting that expires, overwrites or copies out the logs
/// is denied to everyone but the automation, and deleting log objects or versions to everyone.
#[test]
fn attack_4_the_logs_cannot_be_destroyed_or_copied_out() {
    let tampering = scp("deny-breakglass-tampering.json");
    let bypass = scp("deny-breakglass-bypass.json");
    for b in &config().buckets {
        let bucket = b.bucket_arn();
        for action in [
            "s3:PutLifecycleConfiguration",
            "s3:PutBucketVersioning",
            "s3:PutEncryptionConfiguration",
            "s3:PutReplicationConfiguration",
            "s3:PutBucketNotification",
            "s3:PutInventoryConfiguration",
            "s3:PutBucketOwnershipControls",
        ] {
            assert_eq!(decide(&tampering, ADMIN, action, &bucket), Decision::ExplicitDeny, "{action}");
        }
        let object = format!("{bucket}/AWSLogs/{ACCOUNT}/CloudTrail/x.json.gz");
        for who in [ADMIN, DEPLOYER, "arn:aws:iam::111122223333:role/breakglass-enforcer"] {
            for action in ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"] {
                assert_eq!(decide(&bypass, who, action, &object), Decision::ExplicitDeny, "{who} {action}");
            }
        }
        // The bucket policy itself (the example's base statements) denies the same, even without the
        // SCPs: settings only by the automation principals, deleting logs by nobody.
        let closed = b.closed_policy();
        for action in
            ["s3:PutLifecycleConfiguration", "s3:PutBucketVersioning", "s3:PutReplicationConfiguration"]
        {
            assert_eq!(decide(closed, ADMIN, action, &bucket), Decision::ExplicitDeny, "{action}");
            let enforcer = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-enforcer");
            assert_ne!(decide(closed, &enforcer, action, &bucket), Decision::ExplicitDeny, "{action}");
        }
        for who in
            [ADMIN, "arn:aws:iam::111122223333:role/breakglass-enforcer", "arn:aws:iam::111122223333:root"]
        {
            for action in ["s3:DeleteObject", "s3:DeleteObjectVersion"] {
                assert_eq!(decide(closed, who, action, &object), Decision::ExplicitDeny, "{who} {action}");
            }
        }
    }
}

/// Attack 5: disabling the key. The key policy itself (not an alias) denies disabling and deleting
/// it; the SCP protects it by tag and its alias by name.
#[test]
fn attack_5_the_key_cannot_be_disabled_or_its_alias_moved() {
    let key_policy = resource_policy("Key", &["KeyPolicy"]);
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id");
    for action in ["kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:UntagResource"] {
        assert_eq!(decide(&key_policy, ADMIN, action, &key), Decision::ExplicitDeny, "{action}");
        assert_ne!(decide(&key_policy, DEPLOYER, action, &key), Decision::ExplicitDeny, "{action}");
    }
    let tampering = scp("deny-breakglass-tampering.json");
    let tagged = |who: &str, action: &str| {
        let req = Request::new(Caller::parse(who).unwrap(), action, &key, time::OffsetDateTime::now_utc())
            .with("aws:ResourceTag/breakglass", "true");
        explain(&tampering, &req).decision
    };
    for action in ["kms:DisableKey", "kms:PutKeyPolicy", "kms:UntagResource"] {
        assert_eq!(tagged(ADMIN, action), Decision::ExplicitDeny, "{action}");
        assert_ne!(tagged(DEPLOYER, action), Decision::ExplicitDeny, "{action}");
    }
    // The logs' own keys, tagged `breakglass-logs=true` (docs/deploy.md): kept the same way, and
    // their tag cannot be taken off (issue 22, crypto-shredding).
    let log_key = |who: &str, action: &str| {
        let req = Request::new(Caller::parse(who).unwrap(), action, &key, time::OffsetDateTime::now_utc())
            .with("aws:ResourceTag/breakglass-logs", "true");
        explain(&tampering, &req).decision
    };
    for action in breakglass_core::organisation::LOG_KEY_CHANGES.into_iter().chain(["kms:UntagResource"]) {
        assert_eq!(log_key(ADMIN, action), Decision::ExplicitDeny, "{action}");
        assert_ne!(log_key(DEPLOYER, action), Decision::ExplicitDeny, "{action}");
    }
    let bypass = scp("deny-breakglass-bypass.json");
    let alias = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/breakglass");
    for action in ["kms:DeleteAlias", "kms:UpdateAlias"] {
        assert_eq!(decide(&bypass, ADMIN, action, &alias), Decision::ExplicitDeny, "{action}");
    }
    // The second channel does not depend on the key.
    let t = template();
    assert!(t["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"].is_null());
}

/// Attack 6: silencing the mail. Subscriptions of breakglass's topics are the deployment's alone.
#[test]
fn attack_6_subscriptions_cannot_be_changed() {
    let bypass = scp("deny-breakglass-bypass.json");
    for topic in ["breakglass-notifications", "breakglass-alarms"] {
        let arn = format!("arn:aws:sns:{REGION}:{ACCOUNT}:{topic}");
        for action in [
            "sns:Unsubscribe",
            "sns:SetSubscriptionAttributes",
            "sns:Subscribe",
            "sns:PutDataProtectionPolicy",
        ] {
            assert_eq!(decide(&bypass, ADMIN, action, &arn), Decision::ExplicitDeny, "{topic} {action}");
            assert_ne!(decide(&bypass, DEPLOYER, action, &arn), Decision::ExplicitDeny, "{topic} {action}");
        }
    }
}

/// Attack 7: forging the record. Only the notifier writes audit records (bucket policy and SCP);
/// only breakglass's roles put events on its bus (bus policy and SCP).
#[test]
fn attack_7_records_and_bus_events_cannot_be_forged() {
    let audit = resource_policy("AuditBucketPolicy", &["PolicyDocument"]);
    let record = format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}/breakglass/b/r.json");
    let notifier = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-notifier");
    let operator = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-operator");
    for who in [ADMIN, DEPLOYER, operator.as_str()] {
        assert_eq!(decide(&audit, who, "s3:PutObject", &record), Decision::ExplicitDeny, "{who}");
    }
    assert_ne!(decide(&audit, &notifier, "s3:PutObject", &record), Decision::ExplicitDeny);
    let recorder = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-recorder");
    assert_ne!(decide(&audit, &recorder, "s3:PutObject", &record), Decision::ExplicitDeny);
    let bypass = scp("deny-breakglass-bypass.json");
    assert_eq!(decide(&bypass, ADMIN, "s3:PutObject", &record), Decision::ExplicitDeny);
    assert_ne!(decide(&bypass, &notifier, "s3:PutObject", &record), Decision::ExplicitDeny);
    assert_ne!(decide(&bypass, &recorder, "s3:PutObject", &record), Decision::ExplicitDeny);

    let bus_policy = resource_policy("EventBusPolicy", &["Statement"]);
    let bus = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/breakglass");
    assert_eq!(decide(&bus_policy, ADMIN, "events:PutEvents", &bus), Decision::ExplicitDeny);
    assert_eq!(decide(&bypass, ADMIN, "events:PutEvents", &bus), Decision::ExplicitDeny);
    for role in ["breakglass-enforcer", "breakglass-catalog", "breakglass-recorder", "breakglass-gate"] {
        let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
        assert_ne!(decide(&bus_policy, &arn, "events:PutEvents", &bus), Decision::ExplicitDeny, "{role}");
        assert_ne!(decide(&bypass, &arn, "events:PutEvents", &bus), Decision::ExplicitDeny, "{role}");
    }
    // Issue 21, attack 1: the bus refuses every human role, the operators' included: a request or
    // decision is the gate's to put, after its own record.
    for who in [operator.as_str(), ADMIN, DEPLOYER] {
        assert_eq!(decide(&bus_policy, who, "events:PutEvents", &bus), Decision::ExplicitDeny, "{who}");
    }
}

/// Issue 21: people take nothing but the gate. The operator role reads (status, history, report)
/// and calls the gate's URL; it writes no bucket policy and puts no event, whatever its identity
/// policy is joined with.
#[test]
fn the_operator_writes_no_policy_and_puts_no_event() {
    let roles = stack().roles();
    let bus = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/breakglass");
    let req = |action: &str, resource: &str| role_may(&roles, "OperatorRole", action, resource);
    for b in &config().buckets {
        assert_eq!(req("s3:PutBucketPolicy", &b.bucket_arn()), Decision::ImplicitDeny, "{}", b.name);
        assert_eq!(req("s3:DeleteBucketPolicy", &b.bucket_arn()), Decision::ImplicitDeny, "{}", b.name);
        assert_eq!(req("s3:GetBucketPolicy", &b.bucket_arn()), Decision::Allow, "{}", b.name);
    }
    assert_eq!(req("events:PutEvents", &bus), Decision::ImplicitDeny);
}

// ------------------------------------------------------------------------------------------------
// One source of truth: the template's rules and the SCPs against GuardedCall::ALL.

#[test]
fn the_rules_route_every_guarded_call_and_nothing_else() {
    use breakglass_core::guarded::GuardedCall;
    let t = template();
    let names = |rule: &str| -> Vec<String> {
        t["Resources"][rule]["Properties"]["EventPattern"]["detail"]["eventName"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let s3: Vec<String> = GuardedCall::names_of("s3.amazonaws.com").iter().map(|n| n.to_string()).collect();
    assert_eq!(
        names("S3ChangesRule"),
        s3,
        "S3ChangesRule's eventName must be GuardedCall's S3 calls, in order"
    );
    // Organisation mode: the same calls, forwarded from the logging accounts to the central bus, and
    // the calls that may bring a new bucket (discovery at once).
    let mut forwarded = s3.clone();
    forwarded.extend(
        breakglass_core::guard::discovery::CALLS
            .iter()
            .filter(|c| !s3.iter().any(|s| s == *c))
            .map(|c| c.to_string()),
    );
    assert_eq!(
        names("ForwardedS3ChangesRule"),
        forwarded,
        "ForwardedS3ChangesRule: GuardedCall's S3 calls and discovery::CALLS"
    );
    let iam: Vec<String> = GuardedCall::names_of("iam.amazonaws.com").iter().map(|n| n.to_string()).collect();
    assert_eq!(names("ForwardedRoleChangesRule"), iam, "ForwardedRoleChangesRule: GuardedCall's IAM calls");
    let kms: Vec<String> = GuardedCall::names_of("kms.amazonaws.com").iter().map(|n| n.to_string()).collect();
    assert_eq!(names("ForwardedKeyChangesRule"), kms, "ForwardedKeyChangesRule: GuardedCall's KMS calls");
    let others: Vec<String> = GuardedCall::ALL
        .iter()
        .filter(|c| c.source() != "s3.amazonaws.com")
        .map(|c| c.name().to_owned())
        .collect();
    assert_eq!(
        names("ControlPlaneRule"),
        others,
        "ControlPlaneRule's eventName must be the other guarded calls"
    );
    let sources: Vec<String> = t["Resources"]["ControlPlaneRule"]["Properties"]["EventPattern"]["detail"]
        ["eventSource"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<&str> =
        GuardedCall::sources().into_iter().filter(|s| *s != "s3.amazonaws.com").collect();
    assert_eq!(sources, expected);
    // Refused calls (issue 22, flooding): every guarded call with an `errorCode` goes to the
    // recorder's digest, and none of them to the enforcer and notifier.
    let all: Vec<String> = GuardedCall::ALL.iter().map(|c| c.name().to_owned()).collect();
    assert_eq!(names("RefusedCallsRule"), all, "RefusedCallsRule: GuardedCall::ALL, in order");
    let mut forwarded = s3.clone();
    forwarded.extend(iam.iter().cloned());
    forwarded.extend(kms.iter().cloned());
    assert_eq!(
        names("ForwardedRefusedCallsRule"),
        forwarded,
        "ForwardedRefusedCallsRule: the S3, IAM and KMS calls (what the member stack forwards)"
    );
    let exists = |rule: &str| {
        t["Resources"][rule]["Properties"]["EventPattern"]["detail"]["errorCode"][0]["exists"].as_bool()
    };
    for rule in [
        "S3ChangesRule",
        "ForwardedS3ChangesRule",
        "ForwardedRoleChangesRule",
        "ForwardedKeyChangesRule",
        "ControlPlaneRule",
    ] {
        assert_eq!(exists(rule), Some(false), "{rule}: refused calls are the recorder's");
    }
    for rule in ["RefusedCallsRule", "ForwardedRefusedCallsRule"] {
        assert_eq!(exists(rule), Some(true), "{rule}: refused calls only");
        let target = &t["Resources"][rule]["Properties"]["Targets"];
        assert_eq!(target.as_sequence().map(Vec::len), Some(1), "{rule}: the recorder's queue only");
        assert_eq!(target[0]["Id"].as_str(), Some("recorder"), "{rule}");
    }
    let refused_sources =
        &t["Resources"]["RefusedCallsRule"]["Properties"]["EventPattern"]["detail"]["eventSource"];
    assert_eq!(
        refused_sources.as_sequence().map(|v| v.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>()),
        Some(GuardedCall::sources())
    );
}

/// Every rule on CloudTrail's API calls names the services' own `aws.` sources, one per
/// `eventSource`, so that an event someone put under another source matches no rule (issue 22).
#[test]
fn every_api_call_rule_matches_only_aws_sources() {
    use breakglass_core::inbound::event::aws_source;
    for file in ["template.yaml", "organisation/member.yaml"] {
        let t = Template::load(&root().join(file), ACCOUNT, REGION, &[]).doc;
        let mut rules = 0;
        for (name, r) in t["Resources"].as_mapping().unwrap() {
            let pattern = &r["Properties"]["EventPattern"];
            if pattern["detail-type"][0].as_str() != Some("AWS API Call via CloudTrail") {
                continue;
            }
            rules += 1;
            let strings = |v: &Yaml| -> Vec<String> {
                v.as_sequence().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
            };
            let expected: Vec<String> =
                strings(&pattern["detail"]["eventSource"]).iter().map(|s| aws_source(s).unwrap()).collect();
            assert_eq!(strings(&pattern["source"]), expected, "{file} {name:?}");
        }
        assert!(rules >= 3, "{file}: {rules} rules");
    }
}

#[test]
fn the_scps_deny_every_guarded_action_to_an_administrator() {
    use breakglass_core::guarded::{GuardedCall, Target};
    let tampering = scp("deny-breakglass-tampering.json");
    let bypass = scp("deny-breakglass-bypass.json");
    let denied = |action: &str, resource: &str| {
        [&tampering, &bypass].iter().any(|p| {
            let req = Request::new(
                Caller::parse(ADMIN).unwrap(),
                action,
                resource,
                time::OffsetDateTime::now_utc(),
            )
            .with("aws:ResourceTag/breakglass", "true");
            explain(p, &req).decision == Decision::ExplicitDeny
        })
    };
    for call in GuardedCall::ALL {
        let resource = match call.target() {
            // IAM names the access point being created, not its bucket.
            Target::Bucket if call.on_access_point() => {
                format!("arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/logs-readers")
            }
            Target::Bucket => config().buckets[0].bucket_arn(),
            Target::Role => "arn:aws:iam::111122223333:role/investigations/LogInvestigator".into(),
            Target::Key if call.name().contains("Alias") => {
                format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/breakglass")
            }
            Target::Key => format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id"),
            Target::Topic => format!("arn:aws:sns:{REGION}:{ACCOUNT}:breakglass-notifications"),
            Target::FunctionRole | Target::StackRole => {
                format!("arn:aws:iam::{ACCOUNT}:role/breakglass-enforcer")
            }
            Target::Trail => format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/breakglass-reads"),
        };
        // At least one of the call's actions is denied (CreateFunction: its iam:PassRole).
        assert!(
            call.actions().iter().any(|a| denied(a, &resource)),
            "{call:?}: none of {:?} is denied on {resource}",
            call.actions()
        );
    }
    // S3 Control's tagging of a bucket (the only way once ABAC is on): the same tags, another door.
    for action in ["s3:TagResource", "s3:UntagResource"] {
        assert!(denied(action, &config().buckets[0].bucket_arn()), "{action}");
    }
}

#[test]
fn the_enforcer_expects_the_subscriptions_the_template_makes() {
    let t = template();
    let r = &t["Resources"];
    let env = &r["EnforcerFunction"]["Properties"]["Environment"]["Variables"]["BREAKGLASS_SUBSCRIPTIONS"];
    let serde_norway::Value::Tagged(sub) = env else { panic!("{env:?}") };
    let text = sub
        .value
        .as_str()
        .unwrap()
        .replace("${StakeholderEmail}", "council@example.com")
        .replace("${SecurityEmail}", "security@example.com");
    let expected: Vec<Value> = serde_json::from_str(&text).unwrap();
    for (logical, endpoint) in
        [("StakeholderSubscription", "council@example.com"), ("SecuritySubscription", "security@example.com")]
    {
        let p = &r[logical]["Properties"];
        // The resolver gives YAML scalars as strings; CloudFormation hands a Json property's
        // booleans to SNS as booleans.
        let filter = stack().resolve(&p["FilterPolicy"]).to_string().replace("\"false\"", "false");
        let filter: Value = serde_json::from_str(&filter).unwrap();
        assert!(
            expected.iter().any(|e| e["endpoint"] == endpoint
                && e["protocol"] == p["Protocol"].as_str().unwrap()
                && e["filter_policy"] == filter),
            "{logical}: {filter} not in {expected:?}"
        );
    }
    assert_eq!(expected.len(), 2);
    // The alarm topic's one subscription (issue 22): the second channel is watched too, flagged on
    // the security team's entry.
    let alarm: Vec<&Value> = expected.iter().filter(|e| e["alarm"] == json!(true)).collect();
    let p = &r["AlarmSubscription"]["Properties"];
    assert_eq!(alarm.len(), 1, "{expected:?}");
    assert_eq!(alarm[0]["endpoint"], json!("security@example.com"));
    assert_eq!(alarm[0]["protocol"], json!(p["Protocol"].as_str().unwrap()));
    assert!(format!("{:?}", p["TopicArn"]).contains("AlarmTopic"), "{:?}", p["TopicArn"]);
    assert!(p.get("FilterPolicy").is_none(), "the alarm subscription has no filter");
}

/// Attack 7, the signature: only the notifier and the recorder make a record's MAC; operators verify.
#[test]
fn attack_7_only_the_notifier_signs_records() {
    let key_policy = resource_policy("RecordKey", &["KeyPolicy"]);
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id");
    let notifier = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-notifier");
    for who in [
        ADMIN,
        DEPLOYER,
        "arn:aws:iam::111122223333:role/breakglass-operator",
        "arn:aws:iam::111122223333:root",
    ] {
        assert_eq!(decide(&key_policy, who, "kms:GenerateMac", &key), Decision::ExplicitDeny, "{who}");
    }
    assert_ne!(decide(&key_policy, &notifier, "kms:GenerateMac", &key), Decision::ExplicitDeny);
    let recorder = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-recorder");
    assert_ne!(decide(&key_policy, &recorder, "kms:GenerateMac", &key), Decision::ExplicitDeny);
    let roles = roles();
    assert_eq!(role_may(&roles, "NotifierRole", "kms:GenerateMac", &key), Decision::Allow);
    assert_eq!(role_may(&roles, "OperatorRole", "kms:VerifyMac", &key), Decision::Allow);
    assert_eq!(role_may(&roles, "OperatorRole", "kms:GenerateMac", &key), Decision::ImplicitDeny);
    // The gate and the catalog sign their own records of requests (and the gate of decisions):
    // the enforcer accepts no other (issue 21).
    for (role, logical) in [("breakglass-gate", "GateRole"), ("breakglass-catalog", "CatalogRole")] {
        let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
        assert_ne!(decide(&key_policy, &arn, "kms:GenerateMac", &key), Decision::ExplicitDeny, "{role}");
        assert_eq!(role_may(&roles, logical, "kms:GenerateMac", &key), Decision::Allow, "{role}");
    }
}

/// The trail of object reads and the rules that route them to the recorder name exactly
/// `ReadCall::ALL`, and the single-account trail records the protected buckets' objects only.
#[test]
fn the_read_trail_and_rules_record_every_read_call_of_the_protected_buckets_only() {
    use breakglass_core::inbound::reads::ReadCall;
    let t = stack();
    let calls: Vec<Value> = ReadCall::ALL.iter().map(|c| json!(c.name())).collect();
    for rule in ["ObjectReadsRule", "ForwardedReadsRule"] {
        let pattern = t.resolve(&t.resources()[rule]["Properties"]["EventPattern"]);
        assert_eq!(pattern["detail"]["eventName"], json!(calls), "{rule}: ReadCall::ALL, in order");
    }
    let pattern = t.resolve(&t.resources()["ObjectReadsRule"]["Properties"]["EventPattern"]);
    let buckets: Vec<String> = config().buckets.iter().map(|b| b.name.clone()).collect();
    let arns: Vec<String> = config().buckets.iter().map(|b| b.bucket_arn()).collect();
    // By name, or by a bucket's ARN in `resources`: a copy's source, the bucket behind an access point.
    assert_eq!(
        pattern["detail"]["$or"],
        json!([{"requestParameters": {"bucketName": buckets}}, {"resources": {"ARN": arns}}])
    );
    let selectors = t.resolve(&t.resources()["ReadsTrail"]["Properties"]["AdvancedEventSelectors"]);
    let fields = selectors[0]["FieldSelectors"].as_array().unwrap();
    let field = |name: &str| fields.iter().find(|f| f["Field"] == name).unwrap_or_else(|| panic!("{name}"));
    assert_eq!(field("eventName")["Equals"], json!(calls));
    assert_eq!(field("eventCategory")["Equals"], json!(["Data"]));
    assert_eq!(field("resources.type")["Equals"], json!(["AWS::S3::Object"]));
    let prefixes: Vec<String> = config().buckets.iter().map(|b| format!("{}/", b.bucket_arn())).collect();
    assert_eq!(field("resources.ARN")["StartsWith"], json!(prefixes));
    // AWS allows 500 values over all of a trail's selectors.
    let values: usize = fields
        .iter()
        .map(|f| f.as_object().unwrap().values().filter_map(Value::as_array).map(Vec::len).sum::<usize>())
        .sum();
    assert!(
        values <= 500,
        "the trail's selectors hold {values} values, AWS allows 500: split the buckets over two stacks"
    );
}

/// docs/threat-model.md lists every guarded call as the code does: a call added to
/// `GuardedCall::ALL` without its line in the docs fails here (and prints the line to add).
#[test]
fn the_threat_model_lists_every_guarded_call() {
    use breakglass_core::guarded::{GuardedCall, Response};
    let doc = std::fs::read_to_string(root().join("docs/threat-model.md")).unwrap();
    let mut missing = Vec::new();
    for c in GuardedCall::ALL {
        let response = match c.response() {
            Response::Revert => "reverted",
            Response::RevertTrust => "trust put back",
            Response::Alert => "alert",
        };
        let row = format!("| `{}` | {} | {} | {} |", c.name(), c.source(), response, c.threat());
        if !doc.contains(&row) {
            missing.push(row);
        }
    }
    assert!(missing.is_empty(), "add to docs/threat-model.md, \"Guarded calls\":\n{}", missing.join("\n"));
}

/// Every test the threat model names as proof exists.
#[test]
fn the_threat_model_names_tests_that_exist() {
    let doc = std::fs::read_to_string(root().join("docs/threat-model.md")).unwrap();
    // Every test source, in whichever module folder a test binary keeps it.
    fn read_rs(dir: &std::path::Path, sources: &mut String) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                read_rs(&p, sources);
            } else if p.extension().is_some_and(|x| x == "rs") {
                sources.push_str(&std::fs::read_to_string(p).unwrap());
            }
        }
    }
    let mut sources = String::new();
    for dir in ["tests/tests", "proofs/tests", "canonical-policies/tests", "core/tests"] {
        read_rs(&root().join(dir), &mut sources);
    }
    let names: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| {
            t.len() > 12
                && t.contains('_')
                && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .filter(|t| t.starts_with("attack_") || t.starts_with("the_") || t.starts_with("calling_"))
        .collect();
    assert!(names.len() >= 15, "{names:?}");
    for n in names {
        assert!(sources.contains(&format!("fn {n}(")), "docs/threat-model.md names `{n}`, which is no test");
    }
}

/// breakglass itself keeps what it needs: no grant of its roles is denied by either SCP, by the
/// protected buckets' own policy, by the key policies or by the working queues' policies; what Lambda does on a function's behalf
/// outside its code (logs, dead letters, environment decryption) also without
/// `lambda:SourceFunctionArn`.
#[test]
fn neither_scp_nor_resource_policy_denies_breakglass_its_own_grants() {
    let scps = [scp("deny-breakglass-tampering.json"), scp("deny-breakglass-bypass.json")];
    let closed: Vec<Policy> = config().buckets.iter().map(|b| b.closed_policy().clone()).collect();
    let keys = [
        resource_policy("Key", &["KeyPolicy"]),
        resource_policy("RecordKey", &["KeyPolicy"]),
        resource_policy("ReadQueuePolicy", &["PolicyDocument"]),
        resource_policy("SweepQueuePolicy", &["PolicyDocument"]),
    ];
    for (logical, arn, _, statements) in roles() {
        for s in &statements {
            let list = |v: &Value| -> Vec<String> {
                match v {
                    Value::String(x) => vec![x.clone()],
                    Value::Array(xs) => xs.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                    _ => Vec::new(),
                }
            };
            for action in list(&s["Action"]) {
                let action = action.replace('*', "");
                for resource in list(&s["Resource"]).iter().map(|r| r.replace('*', "x")) {
                    let outside = ["kms:", "sqs:", "logs:"].iter().any(|p| action.starts_with(p));
                    for p in scps.iter().chain(&closed).chain(&keys) {
                        // The gate is invoked through its function URL, which Lambda says in the request.
                        let mut req = Request::new(
                            Caller::parse(&arn).unwrap(),
                            &action,
                            &resource,
                            time::OffsetDateTime::now_utc(),
                        )
                        .with("aws:SecureTransport", "true")
                        .with("lambda:InvokedViaFunctionUrl", "true");
                        if let Some(f) = own_function(&arn) {
                            req = req.with("lambda:SourceFunctionArn", &f);
                        }
                        assert_ne!(
                            explain(p, &req).decision,
                            Decision::ExplicitDeny,
                            "{logical} {action} {resource}"
                        );
                        if outside {
                            assert_ne!(
                                decide_from(p, &arn, &action, &resource, None),
                                Decision::ExplicitDeny,
                                "{logical} {action} {resource} outside its code"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The fanned-out sweep: the enforcer writes its shard records under `_sweeps/` and nowhere else in
/// the audit trail, nobody else writes there, and it signs nothing (it does not hold the key).
#[test]
fn the_enforcer_writes_shard_records_and_no_other_record() {
    let audit = resource_policy("AuditBucketPolicy", &["PolicyDocument"]);
    let trail = format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}/breakglass");
    let shard = format!("{trail}/_sweeps/20261202T170000Z-x/00000-1.json");
    let record = format!("{trail}/acme-cloudtrail-logs/r.json");
    let enforcer = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-enforcer");
    let notifier = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-notifier");
    assert_ne!(decide(&audit, &enforcer, "s3:PutObject", &shard), Decision::ExplicitDeny);
    assert_eq!(decide(&audit, &enforcer, "s3:PutObject", &record), Decision::ExplicitDeny);
    for who in [ADMIN, DEPLOYER, notifier.as_str()] {
        assert_eq!(decide(&audit, who, "s3:PutObject", &shard), Decision::ExplicitDeny, "{who}");
    }
    assert_ne!(decide(&audit, &notifier, "s3:PutObject", &record), Decision::ExplicitDeny);
    let roles = roles();
    let (_, arn, policy, _) = roles.iter().find(|(l, ..)| l == "EnforcerRole").unwrap();
    assert_eq!(decide(policy, arn, "s3:PutObject", &shard), Decision::Allow);
    assert_eq!(decide(policy, arn, "s3:PutObject", &record), Decision::ImplicitDeny);
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id");
    assert_eq!(decide(policy, arn, "kms:GenerateMac", &key), Decision::ImplicitDeny);
    let key_policy = resource_policy("RecordKey", &["KeyPolicy"]);
    assert_eq!(decide(&key_policy, arn, "kms:GenerateMac", &key), Decision::ExplicitDeny);
}

/// The sweep queue's numbers agree with `breakglass_core::guard::sweep`: as many tries as the shard counts
/// before alerting, all of them inside the close's delay, and a visibility timeout Lambda accepts.
#[test]
fn the_sweep_queue_retries_as_often_as_the_shards_count_and_within_the_close() {
    use breakglass_core::guard::sweep::{ATTEMPTS, CLOSE_DELAY_SECONDS};
    let t = template();
    let q = &t["Resources"]["SweepQueue"]["Properties"];
    assert_eq!(q["RedrivePolicy"]["maxReceiveCount"].as_u64(), Some(u64::from(ATTEMPTS)));
    let visibility = q["VisibilityTimeout"].as_u64().unwrap();
    let timeout = t["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    assert!(visibility >= timeout, "Lambda refuses a queue whose visibility timeout is below the function's");
    assert!(
        visibility * u64::from(ATTEMPTS) < u64::from(CLOSE_DELAY_SECONDS),
        "every try ends before the close"
    );
    let f = &t["Resources"]["EnforcerFunction"]["Properties"];
    let shards = &f["Events"]["Shards"]["Properties"];
    assert_eq!(shards["FunctionResponseTypes"][0].as_str(), Some("ReportBatchItemFailures"));
    let reserved = t["Globals"]["Function"]["ReservedConcurrentExecutions"].as_u64().unwrap();
    let most = shards["ScalingConfig"]["MaximumConcurrency"].as_u64().unwrap();
    assert!((2..reserved).contains(&most), "bounded, and below the reserved concurrency events need too");
    assert!(!f["Environment"]["Variables"]["BREAKGLASS_SWEEP_QUEUE"].is_null());
}

/// Mail pacing holds for the whole deployment only when one notifier publishes at a time.
#[test]
fn one_notifier_at_a_time_paces_mail_below_the_sns_email_limit() {
    use breakglass_core::runtime::{EMAIL_PER_SECOND, SNS_EMAIL_LIMIT_PER_SECOND};
    let t = template();
    let notifier = &t["Resources"]["NotifierFunction"]["Properties"];
    assert_eq!(notifier["ReservedConcurrentExecutions"].as_u64(), Some(1));
    const { assert!(EMAIL_PER_SECOND < SNS_EMAIL_LIMIT_PER_SECOND) };
    assert!(!t["Resources"]["NotifierBacklog"].is_null(), "a waiting notifier is alarmed");
}

/// The output `AutomationPrincipals` names exactly the roles of the example config's
/// `automation_principals`, and among them every role of the stack that may write a bucket policy.
/// Regression: the gate, which writes every opening and closing, was missing from the output (and
/// from docs/deploy.md), so a config built from them made the base statement refuse the gate.
#[test]
fn the_automation_principals_output_is_the_example_configs_list() {
    let t = template();
    let resources = &t["Resources"];
    let Yaml::Tagged(join) = &t["Outputs"]["AutomationPrincipals"]["Value"] else { panic!("not a !Join") };
    let listed: BTreeSet<String> = join.value[1]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| {
            let Yaml::Tagged(att) = v else { panic!("{v:?}") };
            let logical = att.value.as_str().unwrap().trim_end_matches(".Arn");
            resources[logical]["Properties"]["RoleName"].as_str().unwrap().to_owned()
        })
        .collect();
    let configured: BTreeSet<String> = config().buckets[0]
        .automation_principals
        .iter()
        .map(|arn| arn.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(listed, configured);
    let mut writers = 0;
    for (_, r) in resources.as_mapping().unwrap() {
        let body = serde_norway::to_string(&r["Properties"]["Policies"]).unwrap();
        if r["Type"].as_str() == Some("AWS::IAM::Role") && body.contains("s3:PutBucketPolicy") {
            let name = r["Properties"]["RoleName"].as_str().unwrap();
            assert!(listed.contains(name), "{name} writes bucket policies but is not listed");
            writers += 1;
        }
    }
    assert_eq!(writers, 3, "the enforcer, the catalog and the gate write bucket policies");
}

/// A function that fails must page someone: each has an alarm on its errors (the gate, which
/// answers failures as 5xx responses rather than erroring, on its URL's 5xx count), and each but
/// the notifier, which waits in its queue by design (`NotifierBacklog`), is in the throttles alarm.
/// Regression: the gate had neither when it was added.
#[test]
fn every_function_is_alarmed_when_it_fails_or_is_throttled() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let alarms: Vec<String> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|r| serde_norway::to_string(r).unwrap())
        .collect();
    let throttles = serde_norway::to_string(&t["Resources"]["Throttles"]).unwrap();
    let mut functions = 0;
    for (logical, r) in resources {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        functions += 1;
        let name = logical.as_str().unwrap();
        let metric = if name == "GateFunction" { "MetricName: Url5xxCount" } else { "MetricName: Errors" };
        let dimension = format!("Value: !Ref {name}");
        assert!(
            alarms.iter().any(|a| a.contains(metric) && a.contains(&dimension)),
            "{name}: no alarm on `{metric}`"
        );
        let by_throttles = throttles.contains(&format!("!Ref {name}"));
        assert_eq!(by_throttles, name != "NotifierFunction", "{name} in the throttles alarm");
    }
    assert_eq!(functions, 5);
}

/// A queue nobody takes messages from must alarm, however often the functions are invoked:
/// every working queue has an age-of-oldest-message alarm, every dead-letter queue the count alarm
/// (issue 22: alarms that cannot be idle-satisfied).
#[test]
fn every_queue_is_alarmed_by_age_or_by_count() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let alarmed = |metric: &str| -> Vec<String> {
        // Each queue appears in an alarm's dimensions as `!GetAtt <Queue>.QueueName`.
        let mut out = Vec::new();
        for (name, r) in resources {
            if r["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
                continue;
            }
            let body = serde_norway::to_string(r).unwrap();
            if body.contains(metric) {
                for (queue, q) in resources {
                    let q_name = queue.as_str().unwrap();
                    if q["Type"].as_str() == Some("AWS::SQS::Queue")
                        && body.contains(&format!("{q_name}.QueueName"))
                    {
                        out.push(format!("{q_name} in {}", name.as_str().unwrap()));
                    }
                }
            }
        }
        out
    };
    let by_age = alarmed("ApproximateAgeOfOldestMessage");
    let by_count = alarmed("ApproximateNumberOfMessagesVisible");
    for (queue, q) in resources {
        if q["Type"].as_str() != Some("AWS::SQS::Queue") {
            continue;
        }
        let name = queue.as_str().unwrap();
        let dead_letters = q["Properties"]["QueueName"].as_str().is_some_and(|n| n.ends_with("dead-letters"));
        let list = if dead_letters { &by_count } else { &by_age };
        assert!(
            list.iter().any(|a| a.starts_with(&format!("{name} in "))),
            "queue {name} has no {} alarm",
            if dead_letters { "count" } else { "age" }
        );
    }
}

/// Issue 22, the heartbeat: the enforcer is told the schedule's period, and the alarm on the oldest
/// heartbeat fires at the code's deadline and on missing data (an enforcer that stopped judging
/// the heartbeat cannot satisfy it by being idle).
#[test]
fn the_heartbeat_is_on_and_its_alarm_cannot_be_idle_satisfied() {
    let t = template();
    let r = &t["Resources"];
    let timing = breakglass_core::guard::heartbeat::Timing::default();
    let env = &r["EnforcerFunction"]["Properties"]["Environment"]["Variables"];
    let period = env[breakglass_core::runtime::env::HEARTBEAT_PERIOD_ENV].as_str().unwrap();
    assert_eq!(period, timing.period.whole_seconds().to_string());
    let alarm = &r["HeartbeatLost"]["Properties"];
    assert_eq!(alarm["MetricName"].as_str(), Some("HeartbeatAge"));
    assert_eq!(alarm["TreatMissingData"].as_str(), Some("breaching"));
    assert_eq!(alarm["Threshold"].as_i64(), Some(timing.deadline.whole_seconds()));
    assert_eq!(alarm["ComparisonOperator"].as_str(), Some("GreaterThanOrEqualToThreshold"));
}

/// Issue 22, blinding the recorder and the sweep: an administrator of the account cannot take,
/// delete, purge, send or re-policy the messages of the working queues (the queue policies deny it
/// whatever their identity policy grants); the functions and the read rule keep what they need.
#[test]
fn an_administrator_cannot_drain_feed_or_repolicy_the_working_queues() {
    let queue = |name: &str| format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
    let role = |name: &str| format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    let taking = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"];
    let changing = ["sqs:SetQueueAttributes", "sqs:AddPermission", "sqs:RemovePermission", "sqs:DeleteQueue"];
    for (logical, name, consumer) in [
        ("ReadQueuePolicy", "breakglass-reads", "breakglass-recorder"),
        ("SweepQueuePolicy", "breakglass-sweep", "breakglass-enforcer"),
    ] {
        let policy = resource_policy(logical, &["PolicyDocument"]);
        let arn = queue(name);
        for action in taking.iter().chain(&changing).chain(&["sqs:SendMessage"]) {
            for who in [ADMIN, role("breakglass-operator").as_str(), role("breakglass-notifier").as_str()] {
                assert_eq!(
                    decide(&policy, who, action, &arn),
                    Decision::ExplicitDeny,
                    "{name}: {who} {action}"
                );
            }
        }
        for action in taking.iter().take(3) {
            // Lambda's event source mapping polls with the function's role, outside its code.
            assert_ne!(
                decide_from(&policy, &role(consumer), action, &arn, None),
                Decision::ExplicitDeny,
                "{name}: {consumer} {action}"
            );
        }
        for action in changing {
            assert_ne!(decide(&policy, DEPLOYER, action, &arn), Decision::ExplicitDeny, "{name}: {action}");
        }
    }
    // The enforcer sends the shards; EventBridge's read rule (and only it) sends the reads.
    let sweep = resource_policy("SweepQueuePolicy", &["PolicyDocument"]);
    let enforcer = role("breakglass-enforcer");
    assert_ne!(
        decide(&sweep, &enforcer, "sqs:SendMessage", &queue("breakglass-sweep")),
        Decision::ExplicitDeny
    );
    let reads = resource_policy("ReadQueuePolicy", &["PolicyDocument"]);
    let from_rule = |rule: &str| {
        let req = Request::new(
            Caller::parse("events.amazonaws.com").unwrap(),
            "sqs:SendMessage",
            &queue("breakglass-reads"),
            time::OffsetDateTime::now_utc(),
        )
        .with("aws:SourceArn", &format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"));
        explain(&reads, &req).decision
    };
    assert_eq!(from_rule("breakglass-object-reads"), Decision::Allow);
    assert_eq!(from_rule("breakglass-refused-calls"), Decision::Allow);
    assert_eq!(from_rule("someone-elses-rule"), Decision::ExplicitDeny);
}

/// Issue 22, blinding the functions from the other end: nobody but the deployment creates, changes
/// or deletes an event source mapping of a breakglass function (the SCP, by `lambda:FunctionArn`),
/// and nobody deletes the trail's log files (its bucket policy), which the read records rest on.
#[test]
fn an_administrator_cannot_unhook_the_functions_or_delete_the_trails_files() {
    let tampering = scp("deny-breakglass-tampering.json");
    let mapping = format!(
        "arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1b2c3d4e-0000-4000-8000-000000000000"
    );
    let on = |who: &str, action: &str, function: &str| {
        let req =
            Request::new(Caller::parse(who).unwrap(), action, &mapping, time::OffsetDateTime::now_utc())
                .with(
                    "lambda:FunctionArn",
                    &format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"),
                );
        explain(&tampering, &req).decision
    };
    for action in [
        "lambda:CreateEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
    ] {
        for function in ["breakglass-recorder", "breakglass-enforcer"] {
            assert_eq!(on(ADMIN, action, function), Decision::ExplicitDeny, "{action} {function}");
            assert_ne!(on(DEPLOYER, action, function), Decision::ExplicitDeny, "{action} {function}");
        }
        assert_ne!(
            on(ADMIN, action, "team-etl"),
            Decision::ExplicitDeny,
            "other functions are not ours to guard"
        );
    }
    let trail = resource_policy("TrailBucketPolicy", &["PolicyDocument"]);
    let file =
        format!("arn:aws:s3:::breakglass-trail-{ACCOUNT}-{REGION}/AWSLogs/{ACCOUNT}/CloudTrail/x.json.gz");
    for who in [ADMIN, DEPLOYER] {
        for action in ["s3:DeleteObject", "s3:DeleteObjectVersion"] {
            assert_eq!(decide(&trail, who, action, &file), Decision::ExplicitDeny, "{who} {action}");
        }
    }
}

/// Issue 22, the exempt principals reachable from the administrative account: only the deployment
/// changes breakglass's stack sets (whose execution roles the organisation's SCP exempts) or the
/// central bus's permissions (who may forward events to it).
#[test]
fn only_the_deployment_changes_the_member_stack_set_or_the_buses_permissions() {
    let tampering = scp("deny-breakglass-tampering.json");
    // Service-managed stack sets live in the management account, whoever administers them.
    let stack_set =
        "arn:aws:cloudformation:eu-central-1:999988887777:stackset/breakglass-member:0a1b2c3d-uuid";
    for action in [
        "cloudformation:UpdateStackSet",
        "cloudformation:DeleteStackSet",
        "cloudformation:CreateStackInstances",
        "cloudformation:UpdateStackInstances",
        "cloudformation:DeleteStackInstances",
    ] {
        assert_eq!(decide(&tampering, ADMIN, action, stack_set), Decision::ExplicitDeny, "{action}");
        assert_ne!(decide(&tampering, DEPLOYER, action, stack_set), Decision::ExplicitDeny, "{action}");
    }
    let bus = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/breakglass");
    for action in ["events:PutPermission", "events:RemovePermission"] {
        assert_eq!(decide(&tampering, ADMIN, action, &bus), Decision::ExplicitDeny, "{action}");
        assert_ne!(decide(&tampering, DEPLOYER, action, &bus), Decision::ExplicitDeny, "{action}");
    }
}

/// Issue 23: the notifier lists the marks of mails sent (so a duplicated delivery is not mailed
/// twice), and nothing else of the audit trail.
#[test]
fn the_notifier_lists_the_marks_of_mails_sent_and_no_records() {
    let roles = roles();
    let (_, arn, policy, _) = roles.iter().find(|(l, ..)| l == "NotifierRole").unwrap();
    let bucket = format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}");
    let list = |prefix: &str| {
        let req = Request::new(
            Caller::parse(arn).unwrap(),
            "s3:ListBucket",
            &bucket,
            time::OffsetDateTime::now_utc(),
        )
        .with("s3:prefix", prefix)
        .with("lambda:SourceFunctionArn", &own_function(arn).unwrap());
        explain(policy, &req).decision
    };
    assert_eq!(list("breakglass/_mailed/acme-cloudtrail-logs/x.json"), Decision::Allow);
    assert_eq!(list("breakglass/acme-cloudtrail-logs/"), Decision::ImplicitDeny);
    assert_eq!(list("breakglass/"), Decision::ImplicitDeny);
}

/// Regression (blinding review): an administrator could silence the watch without touching a
/// guarded call. Publishing more than 10 messages a second to a topic suspends its email
/// subscriptions (both channels at once); re-encrypting the audit or trail bucket with a key of
/// one's own, suspending the trail bucket's versioning, re-pointing the bus's encryption or dead
/// letters, or changing the functions' retry settings or log keys, each went unseen. The topics'
/// policy lets only breakglass publish, and the SCP leaves the rest to the deployment.
#[test]
fn regression_the_watch_cannot_be_silenced_around_the_guarded_calls() {
    let topics = resource_policy("OnlyBreakglassPublishes", &["PolicyDocument"]);
    let topic = |name: &str| format!("arn:aws:sns:{REGION}:{ACCOUNT}:breakglass-{name}");
    let role = |name: &str| format!("arn:aws:iam::{ACCOUNT}:role/breakglass-{name}");
    for t in ["notifications", "alarms"] {
        assert_eq!(decide(&topics, ADMIN, "sns:Publish", &topic(t)), Decision::ExplicitDeny, "{t}");
        assert_ne!(
            decide(&topics, &role("notifier"), "sns:Publish", &topic(t)),
            Decision::ExplicitDeny,
            "{t}"
        );
    }
    assert_ne!(decide(&topics, &role("enforcer"), "sns:Publish", &topic("alarms")), Decision::ExplicitDeny);
    // CloudWatch's alarm actions publish as the service, which the replaced default policy allowed.
    let alarm = Request::new(
        Caller::parse("cloudwatch.amazonaws.com").unwrap(),
        "sns:Publish",
        &topic("alarms"),
        time::OffsetDateTime::now_utc(),
    )
    .with("aws:SourceAccount", ACCOUNT)
    .with("aws:PrincipalIsAWSService", "true");
    assert_eq!(explain(&topics, &alarm).decision, Decision::Allow);

    let tampering = scp("deny-breakglass-tampering.json");
    let deployer = role("deployment");
    for (action, resource) in [
        ("s3:PutEncryptionConfiguration", format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}")),
        ("s3:PutReplicationConfiguration", format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}")),
        ("s3:PutBucketVersioning", format!("arn:aws:s3:::breakglass-trail-{ACCOUNT}-{REGION}")),
        ("s3:PutEncryptionConfiguration", format!("arn:aws:s3:::breakglass-trail-{ACCOUNT}-{REGION}")),
        ("events:UpdateEventBus", format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/breakglass")),
        ("sns:AddPermission", topic("alarms")),
        (
            "lambda:UpdateFunctionEventInvokeConfig",
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-notifier"),
        ),
        (
            "lambda:DeleteFunctionEventInvokeConfig",
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-enforcer"),
        ),
        (
            "logs:AssociateKmsKey",
            format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/breakglass-enforcer"),
        ),
        (
            "logs:DisassociateKmsKey",
            format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/breakglass-notifier"),
        ),
    ] {
        assert_eq!(
            decide(&tampering, ADMIN, action, &resource),
            Decision::ExplicitDeny,
            "{action} on {resource}"
        );
        assert_ne!(
            decide(&tampering, &deployer, action, &resource),
            Decision::ExplicitDeny,
            "{action} on {resource}"
        );
    }
}

/// Regression (blinding review): an administrator could drain the dead-letter queues (receive and
/// delete, or move), and what failed for good vanished unseen; the alarm counted only visible
/// messages. Dead letters stay until the deployment clears them, and the alarm counts those in
/// flight too.
#[test]
fn regression_dead_letters_stay_until_the_deployment_clears_them() {
    let t = stack();
    let deployer = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-deployment");
    for (logical, queue) in [
        ("DeadLetterPolicy", "breakglass-delivery-dead-letters"),
        ("OtherDeadLettersPolicy", "breakglass-invocation-dead-letters"),
        ("OtherDeadLettersPolicy", "breakglass-reads-dead-letters"),
        ("OtherDeadLettersPolicy", "breakglass-sweep-dead-letters"),
    ] {
        let policy = resource_policy(logical, &["PolicyDocument"]);
        let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}");
        for action in
            ["sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:StartMessageMoveTask", "sqs:PurgeQueue"]
        {
            assert_eq!(decide(&policy, ADMIN, action, &arn), Decision::ExplicitDeny, "{action} on {queue}");
            assert_ne!(
                decide(&policy, &deployer, action, &arn),
                Decision::ExplicitDeny,
                "{action} on {queue}"
            );
        }
        // Read for a replay: allowed (the message is then in flight, which the alarm counts).
        assert_ne!(decide(&policy, ADMIN, "sqs:ReceiveMessage", &arn), Decision::ExplicitDeny, "{queue}");
    }
    let alarm = &t.resources()["DeadLettersWaiting"]["Properties"]["Metrics"];
    let names: Vec<&str> = alarm
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|m| m["MetricStat"]["Metric"]["MetricName"].as_str())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "ApproximateNumberOfMessagesNotVisible").count(),
        4,
        "{names:?}"
    );
}
