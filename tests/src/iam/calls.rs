//! The one table of the AWS calls breakglass makes, and what IAM is asked for each request.

use std::collections::BTreeMap;
#[cfg(test)]
use std::collections::BTreeSet;

use serde_json::Value;

use crate::chaos::{protocol, signing_name, Protocol};

/// Every AWS operation breakglass calls: (SDK crate's service, operation as on the wire, IAM action).
/// One table, checked against the code's calls by `every_aws_call_the_code_makes_is_in_the_table`.
pub const CALLS: &[(&str, &str, &str)] = &[
    ("s3", "ListBuckets", "s3:ListAllMyBuckets"),
    ("s3", "GetBucketPolicy", "s3:GetBucketPolicy"),
    ("s3", "PutBucketPolicy", "s3:PutBucketPolicy"),
    ("s3", "DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
    ("s3", "GetBucketVersioning", "s3:GetBucketVersioning"),
    ("s3", "PutBucketVersioning", "s3:PutBucketVersioning"),
    ("s3", "GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
    ("s3", "PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
    ("s3", "DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
    ("s3", "GetBucketReplication", "s3:GetReplicationConfiguration"),
    ("s3", "DeleteBucketReplication", "s3:PutReplicationConfiguration"),
    ("s3", "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    ("s3", "GetBucketLogging", "s3:GetBucketLogging"),
    ("s3", "GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"),
    ("s3", "GetBucketTagging", "s3:GetBucketTagging"),
    ("s3", "PutBucketTagging", "s3:PutBucketTagging"),
    ("s3", "PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("s3", "PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
    ("s3", "ListObjectsV2", "s3:ListBucket"),
    ("s3", "ListObjectVersions", "s3:ListBucketVersions"),
    ("s3", "GetObject", "s3:GetObject"),
    ("s3", "HeadObject", "s3:GetObject"),
    ("s3", "PutObject", "s3:PutObject"),
    ("sns", "Publish", "sns:Publish"),
    ("sns", "ListSubscriptionsByTopic", "sns:ListSubscriptionsByTopic"),
    ("sns", "GetSubscriptionAttributes", "sns:GetSubscriptionAttributes"),
    ("eventbridge", "PutEvents", "events:PutEvents"),
    ("kms", "GenerateMac", "kms:GenerateMac"),
    ("kms", "VerifyMac", "kms:VerifyMac"),
    ("sqs", "SendMessage", "sqs:SendMessage"),
    ("sqs", "SendMessageBatch", "sqs:SendMessage"),
    ("sts", "AssumeRole", "sts:AssumeRole"),
    ("sts", "GetCallerIdentity", "sts:GetCallerIdentity"),
    ("iam", "GetRole", "iam:GetRole"),
    ("iam", "UpdateAssumeRolePolicy", "iam:UpdateAssumeRolePolicy"),
    ("cloudformation", "DescribeStacks", "cloudformation:DescribeStacks"),
    ("organizations", "DescribeOrganization", "organizations:DescribeOrganization"),
    ("organizations", "ListAccounts", "organizations:ListAccounts"),
    ("organizations", "ListChildren", "organizations:ListChildren"),
    ("organizations", "ListAccountsForParent", "organizations:ListAccountsForParent"),
];

/// S3's operation for a REST request: by method, whether a key is named, and the subresource in
/// the query (the SDK names some operations in `x-id`).
fn s3_operation(method: &str, has_key: bool, query: &BTreeMap<String, String>) -> Option<&'static str> {
    let sub = |k: &str| query.contains_key(k);
    Some(match (method, has_key) {
        ("GET", false) if query.is_empty() => "ListObjectsV2",
        (_, false) if sub("policy") => match method {
            "GET" => "GetBucketPolicy",
            "PUT" => "PutBucketPolicy",
            _ => "DeleteBucketPolicy",
        },
        (_, false) if sub("versioning") => {
            if method == "GET" {
                "GetBucketVersioning"
            } else {
                "PutBucketVersioning"
            }
        }
        (_, false) if sub("lifecycle") => match method {
            "GET" => "GetBucketLifecycleConfiguration",
            "PUT" => "PutBucketLifecycleConfiguration",
            _ => "DeleteBucketLifecycle",
        },
        (_, false) if sub("replication") => match method {
            "GET" => "GetBucketReplication",
            "PUT" => "PutBucketReplication",
            _ => "DeleteBucketReplication",
        },
        ("GET", false) if sub("encryption") => "GetBucketEncryption",
        ("GET", false) if sub("logging") => "GetBucketLogging",
        ("GET", false) if sub("object-lock") => "GetObjectLockConfiguration",
        (_, false) if sub("tagging") => match method {
            "GET" => "GetBucketTagging",
            "PUT" => "PutBucketTagging",
            _ => return None,
        },
        ("PUT", false) if sub("publicAccessBlock") => "PutPublicAccessBlock",
        ("PUT", false) if sub("ownershipControls") => "PutBucketOwnershipControls",
        ("GET", false) if sub("versions") => "ListObjectVersions",
        ("GET", false) if sub("list-type") => "ListObjectsV2",
        ("GET", true) => "GetObject",
        ("HEAD", true) => "HeadObject",
        ("PUT", true) if !query.keys().any(|k| k != "x-id") => "PutObject",
        _ => return None,
    })
}

/// One request as IAM sees it: operation, action, resource and the context keys it implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub operation: String,
    pub action: String,
    pub resource: String,
    pub context: Vec<(String, String)>,
}

fn action_of(service: &str, operation: &str) -> Result<&'static str, String> {
    CALLS.iter().find(|(s, o, _)| *s == service && *o == operation).map(|(_, _, a)| *a).ok_or_else(|| {
        format!("{service} {operation} is not in the IAM table (tests/src/iam/calls.rs CALLS)")
    })
}

fn query_pairs(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (url_decode(k), url_decode(&v.replace('+', " ")))
        })
        .collect()
}

fn url_decode(s: &str) -> String {
    breakglass_core::inbound::url::url_decode(s)
}

/// The SDK crate's name for a request's signing name (EventBridge signs as `events`).
fn sdk_service(signing: &str) -> &str {
    match signing {
        "events" => "eventbridge",
        other => other,
    }
}

/// Everything IAM is asked for the request: [`call_of`], and for an S3 `PutObject` that sets Object
/// Lock retention or a legal hold in its headers, `s3:PutObjectRetention` / `s3:PutObjectLegalHold`
/// on the object as well (S3 authorises both).
pub fn calls_of(
    request_line: &str,
    head: &str,
    body: &[u8],
    account: &str,
    region: &str,
) -> Result<Vec<Call>, String> {
    let call = call_of(request_line, head, body, account, region)?;
    let lower = head.to_ascii_lowercase();
    let mut calls = vec![];
    if call.operation == "PutObject" {
        for (header, action) in [
            ("x-amz-object-lock-retain-until-date:", "s3:PutObjectRetention"),
            ("x-amz-object-lock-legal-hold:", "s3:PutObjectLegalHold"),
        ] {
            if lower.contains(header) {
                calls.push(Call { action: action.to_owned(), ..call.clone() });
            }
        }
    }
    calls.insert(0, call);
    Ok(calls)
}

/// What IAM is asked for the request (request line, headers, body) signed for `signing` in `region`
/// of `account`.
pub fn call_of(
    request_line: &str,
    head: &str,
    body: &[u8],
    account: &str,
    region: &str,
) -> Result<Call, String> {
    let signing = signing_name(head);
    let service = sdk_service(&signing);
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query_pairs(query);
    let mut context = vec![];
    let (operation, resource): (String, String) = match protocol(&signing, head) {
        Protocol::RestXml => {
            let path = path.trim_start_matches('/');
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            if bucket.is_empty() {
                ("ListBuckets".into(), "*".into())
            } else {
                let op = s3_operation(method, !key.is_empty(), &query)
                    .ok_or_else(|| format!("s3 request `{}` is not in the IAM table", request_line.trim()))?;
                if let Some(prefix) = query.get("prefix") {
                    context.push(("s3:prefix".to_owned(), prefix.clone()));
                }
                // A conditional write: S3 sets these keys from the headers (bucket policies use
                // them to allow creation only).
                if method == "PUT" && !key.is_empty() {
                    for (header, name) in [("if-none-match", "s3:if-none-match"), ("if-match", "s3:if-match")]
                    {
                        if let Some(v) = header_value(head, header) {
                            context.push((name.to_owned(), v));
                        }
                    }
                }
                let resource = if key.is_empty() {
                    format!("arn:aws:s3:::{bucket}")
                } else {
                    format!("arn:aws:s3:::{bucket}/{}", url_decode(key))
                };
                (op.to_owned(), resource)
            }
        }
        Protocol::Json => {
            let target = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("x-amz-target:"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default();
            let op = target.rsplit('.').next().unwrap_or_default().to_owned();
            let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let resource = match service {
                "sqs" => input["QueueUrl"]
                    .as_str()
                    .and_then(|u| {
                        let mut p = u.rsplit('/');
                        let name = p.next()?;
                        let owner = p.next()?;
                        Some(format!("arn:aws:sqs:{region}:{owner}:{name}"))
                    })
                    .unwrap_or_default(),
                "eventbridge" => {
                    let bus = input["Entries"][0]["EventBusName"].as_str().unwrap_or("default");
                    if bus.starts_with("arn:") {
                        bus.to_owned()
                    } else {
                        format!("arn:aws:events:{region}:{account}:event-bus/{bus}")
                    }
                }
                "kms" => {
                    let key = input["KeyId"].as_str().unwrap_or_default();
                    if key.starts_with("arn:") {
                        key.to_owned()
                    } else if key.starts_with("alias/") {
                        format!("arn:aws:kms:{region}:{account}:{key}")
                    } else {
                        format!("arn:aws:kms:{region}:{account}:key/{key}")
                    }
                }
                _ => "*".to_owned(),
            };
            (op, resource)
        }
        Protocol::Query => {
            let form = query_pairs(&String::from_utf8_lossy(body));
            let op = form.get("Action").cloned().unwrap_or_default();
            // The trust of the role decides on the session's name and source identity.
            for (field, key) in
                [("RoleSessionName", "sts:RoleSessionName"), ("SourceIdentity", "sts:SourceIdentity")]
            {
                if let Some(v) = form.get(field).filter(|_| service == "sts") {
                    context.push((key.to_owned(), v.clone()));
                }
            }
            let resource = match (service, op.as_str()) {
                ("sns", "GetSubscriptionAttributes") => form
                    .get("SubscriptionArn")
                    .and_then(|s| s.rsplit_once(':'))
                    .map(|(topic, _)| topic.to_owned())
                    .unwrap_or_default(),
                ("sns", _) => form.get("TopicArn").cloned().unwrap_or_default(),
                ("sts", _) => form.get("RoleArn").cloned().unwrap_or_default(),
                ("iam", _) => format!(
                    "arn:aws:iam::{account}:role/{}",
                    form.get("RoleName").cloned().unwrap_or_default()
                ),
                ("cloudformation", _) => form.get("StackName").cloned().unwrap_or_else(|| "*".into()),
                _ => "*".to_owned(),
            };
            (op, resource)
        }
    };
    let mut action = action_of(service, &operation)?.to_owned();
    // A version named in the query is authorised as the version's action.
    if action == "s3:GetObject" && query.contains_key("versionId") {
        action = "s3:GetObjectVersion".to_owned();
    }
    Ok(Call { operation, action, resource, context })
}

/// The value of header `name` (lowercase) in `head`, trimmed.
fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(service: &str) -> String {
        format!("Authorization: AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261205/eu-central-1/{service}/aws4_request, SignedHeaders=host, Signature=x\r\n")
    }

    #[test]
    fn s3_requests_map_to_their_iam_action_and_resource() {
        let call = |line: &str| call_of(line, &signed("s3"), b"", "111122223333", "eu-central-1").unwrap();
        let c = call("PUT /acme-logs?policy HTTP/1.1");
        assert_eq!(
            (c.action.as_str(), c.resource.as_str()),
            ("s3:PutBucketPolicy", "arn:aws:s3:::acme-logs")
        );
        let c = call("GET /acme-logs/a%20b/c.gz?x-id=GetObject HTTP/1.1");
        assert_eq!(
            (c.action.as_str(), c.resource.as_str()),
            ("s3:GetObject", "arn:aws:s3:::acme-logs/a b/c.gz")
        );
        let c = call("GET /audit/r.json?versionId=v1&x-id=GetObject HTTP/1.1");
        assert_eq!(c.action, "s3:GetObjectVersion");
        let c = call("GET /audit?list-type=2&prefix=breakglass%2F_mailed%2F HTTP/1.1");
        assert_eq!(c.action, "s3:ListBucket");
        assert_eq!(c.context, vec![("s3:prefix".to_owned(), "breakglass/_mailed/".to_owned())]);
        assert_eq!(call("GET /?x-id=ListBuckets HTTP/1.1").action, "s3:ListAllMyBuckets");
        assert!(call_of("PUT /b?acl HTTP/1.1", &signed("s3"), b"", "1", "r").is_err(), "unmapped is refused");
    }

    #[test]
    fn json_and_query_requests_map_to_their_iam_action_and_resource() {
        let head = format!(
            "{}X-Amz-Target: AWSEvents.PutEvents\r\nContent-Type: application/x-amz-json-1.1\r\n",
            signed("events")
        );
        let c = call_of(
            "POST / HTTP/1.1",
            &head,
            br#"{"Entries":[{"EventBusName":"breakglass"}]}"#,
            "111122223333",
            "eu-central-1",
        )
        .unwrap();
        assert_eq!(
            (c.action.as_str(), c.resource.as_str()),
            ("events:PutEvents", "arn:aws:events:eu-central-1:111122223333:event-bus/breakglass")
        );
        let body =
            b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aeu-central-1%3A111122223333%3Abreakglass&Message=x";
        let c = call_of("POST / HTTP/1.1", &signed("sns"), body, "111122223333", "eu-central-1").unwrap();
        assert_eq!(
            (c.action.as_str(), c.resource.as_str()),
            ("sns:Publish", "arn:aws:sns:eu-central-1:111122223333:breakglass")
        );
    }

    /// The operations of the SDK crate `service` (the files of its `src/client/`), found where cargo
    /// unpacked the version Cargo.lock names.
    fn sdk_operations(service: &str) -> BTreeSet<String> {
        let lock = std::fs::read_to_string(crate::root().join("Cargo.lock")).unwrap();
        let name = format!("aws-sdk-{service}");
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains(&format!("name = \"{name}\"\n")))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .map(|v| v.trim_end_matches('"').to_owned())
            .unwrap_or_else(|| panic!("{name} is not in Cargo.lock"));
        let home = std::env::var_os("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
        let registries = std::fs::read_dir(home.join("registry/src")).unwrap();
        let dir = registries
            .flatten()
            .map(|r| r.path().join(format!("{name}-{version}/src/client")))
            .find(|d| d.is_dir())
            .unwrap_or_else(|| panic!("{name} {version} is not unpacked under {}", home.display()));
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter_map(|f| f.file_name().to_str()?.strip_suffix(".rs").map(str::to_owned))
            .collect()
    }

    fn pascal(snake: &str) -> String {
        snake
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
            })
            .collect()
    }

    /// Every `.operation(` of an SDK client in the code that talks to AWS (the adapters and the CLI)
    /// is in [`CALLS`], so the IAM proxy can answer it (and a new call cannot slip past IAM in the
    /// tests unnoticed).
    #[test]
    fn every_aws_call_the_code_makes_is_in_the_table() {
        let mut code = String::new();
        for dir in ["aws/src", "breakglass/src"] {
            let mut stack = vec![crate::root().join(dir)];
            while let Some(d) = stack.pop() {
                for f in std::fs::read_dir(d).unwrap().flatten() {
                    let p = f.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|e| e == "rs") {
                        code.push_str(&std::fs::read_to_string(p).unwrap());
                    }
                }
            }
        }
        let mut missing = Vec::new();
        let mut found = 0;
        for service in
            ["s3", "sns", "sqs", "eventbridge", "kms", "sts", "iam", "cloudformation", "organizations"]
        {
            for op in sdk_operations(service) {
                // Called as a method, or named to the adapters' `on_bucket!` macro.
                let called = code.contains(&format!(".{op}()")) || code.contains(&format!(", {op})"));
                if ["send", "customize"].contains(&op.as_str()) || !called {
                    continue;
                }
                found += 1;
                let wire = pascal(&op);
                if action_of(service, &wire).is_err() {
                    missing.push(format!("{service} {wire}"));
                }
            }
        }
        assert!(found >= 15, "only {found} calls found: is the scan broken?");
        assert!(
            missing.is_empty(),
            "calls the code makes that tests/src/iam/calls.rs CALLS lacks: {missing:?}"
        );
    }
}
