//! template.yaml's IAM roles, run through the project's own evaluator: every role's inline policy is
//! resolved (Ref, GetAtt, Sub, Join, Split with example values), given the role as its principal,
//! and asked what it may do. The enforcer can read and write the protected buckets' policies and
//! cannot read objects; no role can read a log object; no role has a `*` resource but the one
//! action that supports no other. The SCP is checked the same way.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use std::collections::BTreeMap;

use canonical_policies::eval::{explain, Caller, Decision, Request};
use canonical_policies::{Policy, OBJECT_READ_ACTIONS};
use e2e::{config, root};
use serde_json::{json, Value};
use serde_norway::Value as Yaml;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-central-1";

fn template() -> Yaml {
    serde_norway::from_str(&std::fs::read_to_string(root().join("template.yaml")).unwrap()).unwrap()
}

/// What a resource's `Ref` and `Fn::GetAtt .Arn` give, for the types the roles refer to.
fn arn_of(logical: &str, resources: &Yaml) -> (String, String) {
    let r = &resources[logical];
    let p = &r["Properties"];
    let s = |k: &str| p[k].as_str().unwrap_or(logical).to_owned();
    match r["Type"].as_str().unwrap() {
        "AWS::Events::EventBus" => {
            (s("Name"), format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{}", s("Name")))
        }
        "AWS::SNS::Topic" => {
            let arn = format!("arn:aws:sns:{REGION}:{ACCOUNT}:{}", s("TopicName"));
            (arn.clone(), arn)
        }
        "AWS::SQS::Queue" => (
            format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{}", s("QueueName")),
            format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", s("QueueName")),
        ),
        "AWS::S3::Bucket" => {
            let name = format!(
                "breakglass-{}-{ACCOUNT}-{REGION}",
                logical.trim_end_matches("Bucket").to_lowercase()
            );
            (name.clone(), format!("arn:aws:s3:::{name}"))
        }
        "AWS::Logs::LogGroup" => {
            (s("LogGroupName"), format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}:*", s("LogGroupName")))
        }
        "AWS::KMS::Key" => ("key-id".into(), format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id")),
        "AWS::Serverless::Function" => {
            (s("FunctionName"), format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", s("FunctionName")))
        }
        "AWS::IAM::Role" => (s("RoleName"), format!("arn:aws:iam::{ACCOUNT}:role/{}", s("RoleName"))),
        other => panic!("no example value for {logical} ({other})"),
    }
}

fn substitute(text: &str, vars: &BTreeMap<String, String>, resources: &Yaml) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 2..end];
        let value = match (vars.get(name), name.split_once('.')) {
            (Some(v), _) => v.clone(),
            (None, Some((logical, "Arn"))) => arn_of(logical, resources).1,
            (None, _) => match resolve(&Yaml::String(String::new()), resources, Some(name)) {
                Value::String(s) => s,
                other => panic!("${{{name}}} is {other}"),
            },
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Evaluates the intrinsic functions the roles use, with example values.
fn resolve(v: &Yaml, resources: &Yaml, reference: Option<&str>) -> Value {
    if let Some(name) = reference {
        return match name {
            "AWS::AccountId" => json!(ACCOUNT),
            "AWS::Region" => json!(REGION),
            "AWS::Partition" => json!("aws"),
            "ProtectedBuckets" => json!(config().buckets.iter().map(|b| b.name.clone()).collect::<Vec<_>>()),
            "OperatorPrincipalArns" => json!([format!("arn:aws:iam::{ACCOUNT}:role/LogTeam")]),
            logical => json!(arn_of(logical, resources).0),
        };
    }
    match v {
        Yaml::Tagged(t) => match t.tag.to_string().trim_start_matches('!') {
            "Ref" => resolve(&Yaml::Null, resources, t.value.as_str()),
            "GetAtt" => {
                let target = t.value.as_str().unwrap();
                let (logical, attr) = target.split_once('.').unwrap();
                assert_eq!(attr, "Arn", "{target}");
                json!(arn_of(logical, resources).1)
            }
            "Sub" => match &t.value {
                Yaml::String(s) => json!(substitute(s, &BTreeMap::new(), resources)),
                Yaml::Sequence(args) => {
                    let vars = args[1]
                        .as_mapping()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| {
                            let value = match resolve(v, resources, None) {
                                Value::String(s) => s,
                                other => panic!("{other}"),
                            };
                            (k.as_str().unwrap().to_owned(), value)
                        })
                        .collect();
                    json!(substitute(args[0].as_str().unwrap(), &vars, resources))
                }
                other => panic!("{other:?}"),
            },
            "Join" => {
                let args = t.value.as_sequence().unwrap();
                let items = resolve(&args[1], resources, None);
                let parts: Vec<String> =
                    items.as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_owned()).collect();
                json!(parts.join(args[0].as_str().unwrap()))
            }
            "Split" => {
                let args = t.value.as_sequence().unwrap();
                let text = resolve(&args[1], resources, None);
                json!(text.as_str().unwrap().split(args[0].as_str().unwrap()).collect::<Vec<_>>())
            }
            other => panic!("intrinsic {other} is not modelled"),
        },
        Yaml::Mapping(m) => Value::Object(
            m.iter().map(|(k, v)| (k.as_str().unwrap().to_owned(), resolve(v, resources, None))).collect(),
        ),
        Yaml::Sequence(s) => Value::Array(s.iter().map(|v| resolve(v, resources, None)).collect()),
        Yaml::String(s) => json!(s),
        Yaml::Bool(b) => json!(b.to_string()),
        Yaml::Number(n) => json!(n.to_string()),
        Yaml::Null => Value::Null,
    }
}

/// Every role of the template: (logical id, role ARN, its inline statements as a principal policy).
fn roles() -> Vec<(String, String, Policy, Vec<Value>)> {
    let t = template();
    let resources = &t["Resources"];
    let mut out = Vec::new();
    for (k, r) in resources.as_mapping().unwrap() {
        if r["Type"].as_str() != Some("AWS::IAM::Role") {
            continue;
        }
        let logical = k.as_str().unwrap().to_owned();
        let arn = arn_of(&logical, resources).1;
        let mut statements = Vec::new();
        for p in r["Properties"]["Policies"].as_sequence().unwrap() {
            let doc = resolve(&p["PolicyDocument"], resources, None);
            for s in doc["Statement"].as_array().unwrap() {
                statements.push(s.clone());
            }
        }
        // An identity policy applies to its role: the same statements with the role as principal.
        let with_principal: Vec<Value> = statements
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s["Principal"] = json!({ "AWS": arn });
                s
            })
            .collect();
        let text = json!({ "Version": "2012-10-17", "Statement": with_principal }).to_string();
        let policy = Policy::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{logical}: {e}\n{text}"));
        out.push((logical, arn, policy, statements));
    }
    assert!(out.len() >= 5, "{}", out.len());
    out
}

fn decide(policy: &Policy, caller: &str, action: &str, resource: &str) -> Decision {
    let req = Request::new(Caller::parse(caller).unwrap(), action, resource, time::OffsetDateTime::now_utc())
        .with("aws:SecureTransport", "true");
    explain(policy, &req).decision
}

#[test]
fn the_enforcer_manages_bucket_policies_and_reads_no_object() {
    let roles = roles();
    let (_, arn, policy, _) = roles.iter().find(|(l, ..)| l == "EnforcerRole").unwrap();
    for b in &config().buckets {
        let bucket = b.bucket_arn();
        for action in ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:PutBucketPublicAccessBlock"] {
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
    let (_, n_arn, notifier, _) = roles.iter().find(|(l, ..)| l == "NotifierRole").unwrap();
    assert_eq!(decide(notifier, n_arn, "s3:PutObject", &record), Decision::Allow);
    assert_eq!(decide(notifier, n_arn, "s3:GetObject", &record), Decision::ImplicitDeny);
    let (_, o_arn, operator, _) = roles.iter().find(|(l, ..)| l == "OperatorRole").unwrap();
    assert_eq!(decide(operator, o_arn, "s3:GetObject", &record), Decision::Allow);
    assert_eq!(decide(operator, o_arn, "s3:PutObject", &record), Decision::ImplicitDeny);
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
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    // An SCP applies to every principal of the account: as a policy, its principal is `*`.
    for s in doc["Statement"].as_array_mut().unwrap() {
        s["Principal"] = json!("*");
    }
    let scp = Policy::parse(doc.to_string().as_bytes()).unwrap();
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
