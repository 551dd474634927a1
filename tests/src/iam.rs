//! IAM in the tests (issue 23): moto grants every call, AWS does not. The IAM proxy sits in front
//! of moto and authorises each request a breakglass role signs, as AWS would: the role's identity
//! policy as template.yaml renders it, the live bucket policy from moto, and the single-account
//! SCPs, all through the project's own evaluator. A request AWS would refuse gets the service's own
//! `AccessDenied` answer and is listed, so a test fails on a grant the template lacks; the
//! (action, resource) pairs each role used are kept, so least privilege can be measured.
//!
//! Requests signed with a key the proxy did not hand out (the test's own set-up, moto's default
//! `testing` key) pass unchecked: they are the test playing AWS, not breakglass.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use canonical_policies::{explain, Caller, Decision, Policy, Request};
use serde_json::{json, Value};

use crate::chaos::{protocol, response, signing_name, Protocol};
use crate::proxy::{serve, Action};

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
        ("GET", false) if sub("tagging") => "GetBucketTagging",
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
    CALLS
        .iter()
        .find(|(s, o, _)| *s == service && *o == operation)
        .map(|(_, _, a)| *a)
        .ok_or_else(|| format!("{service} {operation} is not in the IAM table (tests/src/iam.rs CALLS)"))
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

/// What the deployment allows: each role's identity policy and the SCPs, as rendered.
pub struct Deployment {
    account: String,
    region: String,
    roles: HashMap<String, Policy>,
    scps: Vec<Policy>,
    /// KMS alias ARN → the ARN of the key it names: IAM authorises a call by alias against the key.
    aliases: HashMap<String, String>,
    /// Each role's inline statements as the template renders them (role ARN → statements).
    statements: BTreeMap<String, Vec<Value>>,
    /// The template's resource policies (queues, bus, its own buckets), by the ARN they guard; a
    /// bucket's also guards its objects.
    resource_policies: Vec<(String, Policy)>,
}

/// The resource policies template `t` declares, resolved, by the ARN of what they guard.
fn resource_policies(t: &proofs::cfn::Template, account: &str, region: &str) -> Vec<(String, Policy)> {
    let mut by_arn: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (logical, r) in t.resources().as_mapping().unwrap() {
        let logical = logical.as_str().unwrap();
        if !t.exists(logical) {
            continue;
        }
        let p = &r["Properties"];
        let (arns, doc): (Vec<String>, Value) = match r["Type"].as_str().unwrap_or_default() {
            "AWS::SQS::QueuePolicy" => {
                let urls = t.resolve(&p["Queues"]);
                let arns = urls
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(|u| {
                        let mut parts = u.rsplit('/');
                        let (name, owner) = (parts.next()?, parts.next()?);
                        let region = u.split('.').nth(1)?;
                        Some(format!("arn:aws:sqs:{region}:{owner}:{name}"))
                    })
                    .collect();
                (arns, t.resolve(&p["PolicyDocument"]))
            }
            "AWS::Events::EventBusPolicy" => {
                let bus = t.resolve(&p["EventBusName"]);
                let bus = bus.as_str().unwrap();
                let arn = if bus.starts_with("arn:") {
                    bus.to_owned()
                } else {
                    format!("arn:aws:events:{region}:{account}:event-bus/{bus}")
                };
                (vec![arn], json!({ "Statement": [t.resolve(&p["Statement"])] }))
            }
            "AWS::S3::BucketPolicy" => {
                let bucket = t.resolve(&p["Bucket"]);
                (vec![format!("arn:aws:s3:::{}", bucket.as_str().unwrap())], t.resolve(&p["PolicyDocument"]))
            }
            _ => continue,
        };
        for arn in arns {
            by_arn.entry(arn).or_default().extend(doc["Statement"].as_array().cloned().unwrap_or_default());
        }
    }
    by_arn
        .into_iter()
        .map(|(arn, statements)| {
            let doc = json!({ "Version": "2012-10-17", "Statement": statements });
            let policy =
                Policy::parse(doc.to_string().as_bytes()).unwrap_or_else(|e| panic!("{arn}: {e}\n{doc}"));
            (arn, policy)
        })
        .collect()
}

impl Deployment {
    /// template.yaml in single-account mode for `buckets`, with the two single-account SCPs.
    pub fn single_account(account: &str, region: &str, buckets: &[String]) -> Deployment {
        let t = proofs::single_account_stack(account, region, &[("ProtectedBuckets", json!(buckets))]);
        let mut roles = HashMap::new();
        let mut statements = BTreeMap::new();
        for (_, arn, policy, raw) in t.roles() {
            roles.insert(arn.clone(), policy);
            statements.insert(arn, raw);
        }
        let scps = ["deny-breakglass-tampering.json", "deny-breakglass-bypass.json"]
            .iter()
            .map(|f| {
                let text =
                    std::fs::read_to_string(crate::root().join("canonical-policies/scp").join(f)).unwrap();
                let mut doc: Value = serde_json::from_str(&text).unwrap();
                for s in doc["Statement"].as_array_mut().unwrap() {
                    s["Principal"] = json!("*");
                }
                Policy::parse(doc.to_string().as_bytes()).unwrap()
            })
            .collect();
        let mut aliases = HashMap::new();
        for (_, r) in t.resources().as_mapping().unwrap() {
            if r["Type"].as_str() == Some("AWS::KMS::Alias") {
                let name = r["Properties"]["AliasName"].as_str().unwrap();
                let id = t.resolve(&r["Properties"]["TargetKeyId"]);
                let id = id.as_str().unwrap();
                aliases.insert(
                    format!("arn:aws:kms:{region}:{account}:{name}"),
                    format!("arn:aws:kms:{region}:{account}:key/{id}"),
                );
            }
        }
        let resource_policies = resource_policies(&t, account, region);
        Deployment {
            account: account.to_owned(),
            region: region.to_owned(),
            roles,
            scps,
            aliases,
            statements,
            resource_policies,
        }
    }

    /// Each role's allowed (statement id, action pattern) pairs as the template renders them, by role ARN.
    pub fn grants(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let list = |v: &Value| -> Vec<String> {
            match v {
                Value::String(x) => vec![x.clone()],
                Value::Array(xs) => xs.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                _ => Vec::new(),
            }
        };
        self.statements
            .iter()
            .map(|(role, statements)| {
                let grants = statements
                    .iter()
                    .filter(|s| s["Effect"] == "Allow")
                    .flat_map(|s| {
                        let sid = s["Sid"].as_str().unwrap_or_default().to_owned();
                        list(&s["Action"]).into_iter().map(move |a| (sid.clone(), a))
                    })
                    .collect();
                (role.clone(), grants)
            })
            .collect()
    }

    /// AWS's answer for `role` making `call`, given the bucket policy in force (if the call is on a
    /// bucket or object that has one): `Err` names the policy that refuses.
    pub fn authorise(
        &self,
        role: &str,
        function: Option<&str>,
        call: &Call,
        bucket_policy: Option<&Policy>,
    ) -> Result<(), String> {
        // STS answers who the caller is to everyone, whatever the policies say.
        if call.action == "sts:GetCallerIdentity" {
            return Ok(());
        }
        let caller = Caller::parse(role).map_err(|e| e.to_string())?;
        let target = self.aliases.get(&call.resource).unwrap_or(&call.resource);
        let mut req = Request::new(caller, &call.action, target, time::OffsetDateTime::now_utc());
        if let Some(function) = function {
            // Lambda sets it on every call made with a function's execution-role credentials.
            let arn = format!("arn:aws:lambda:{}:{}:function:{function}", self.region, self.account);
            req = req.with("lambda:SourceFunctionArn", &arn);
        }
        let mut req = req
            .with("aws:RequestedRegion", &self.region)
            .with("aws:PrincipalAccount", &self.account)
            .with("aws:PrincipalIsAWSService", "false")
            .with("aws:SecureTransport", "true");
        for (k, v) in &call.context {
            req = req.with(k, v);
        }
        let refused =
            |by: &str, d: &Decision| Err(format!("{role} {} on {}: {d} by {by}", call.action, call.resource));
        for scp in &self.scps {
            let d = explain(scp, &req).decision;
            if matches!(d, Decision::ExplicitDeny | Decision::Unknown) {
                return refused("an SCP", &d);
            }
        }
        let identity =
            self.roles.get(role).map(|p| explain(p, &req).decision).unwrap_or(Decision::ImplicitDeny);
        if matches!(identity, Decision::ExplicitDeny | Decision::Unknown) {
            return refused("the role's identity policy", &identity);
        }
        let resource = bucket_policy.map(|p| explain(p, &req).decision);
        if let Some(d @ (Decision::ExplicitDeny | Decision::Unknown)) = &resource {
            return refused("the bucket policy", d);
        }
        let mut resource_allows = resource == Some(Decision::Allow);
        for (arn, policy) in &self.resource_policies {
            let guards =
                target == arn || target.strip_prefix(arn.as_str()).is_some_and(|rest| rest.starts_with('/'));
            if !guards {
                continue;
            }
            match explain(policy, &req).decision {
                d @ (Decision::ExplicitDeny | Decision::Unknown) => {
                    return refused(&format!("the template's policy on {arn}"), &d)
                }
                Decision::Allow => resource_allows = true,
                _ => {}
            }
        }
        // Same account: either policy's allow is enough (the resource's only if it names the role).
        if identity == Decision::Allow || resource_allows {
            Ok(())
        } else {
            refused("the role's identity policy (no allow)", &identity)
        }
    }
}

/// Access key → (role ARN, the function whose execution role the session plays, if any).
type Sessions = HashMap<String, (String, Option<String>)>;

/// moto's default account, where the harness creates the topics, queues, bus and keys with its
/// `testing` key: it stands in for the stack's account.
const MOTO_ACCOUNT: &str = "123456789012";

/// The IAM proxy: hands out sessions of breakglass's roles and authorises what they sign.
///
/// The harness names some things otherwise than the template does (moto's default account for the
/// stack's, the config's audit bucket for the stack's `breakglass-audit-<account>-<region>`); the
/// proxy asks IAM about the template's names, which a deployment has.
pub struct IamProxy {
    pub endpoint: String,
    deployment: Arc<Deployment>,
    upstream: String,
    account: String,
    /// Access key → (role ARN, the function whose execution role the session plays, if any).
    sessions: Arc<Mutex<Sessions>>,
    used: Arc<Mutex<BTreeSet<(String, String, String)>>>,
    refused: Arc<Mutex<Vec<String>>>,
    expected: std::sync::atomic::AtomicBool,
}

impl IamProxy {
    /// Says the test means some of its calls to be refused (it asserts on [`IamProxy::refused`]).
    pub fn expect_refusals(&self) {
        self.expected.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn refusals_expected(&self) -> bool {
        self.expected.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The proxy for `deployment`, with the harness's audit bucket `audit_bucket` standing in for the
    /// stack's.
    pub fn start(upstream: &str, deployment: Deployment, audit_bucket: &str) -> IamProxy {
        let account = deployment.account.clone();
        let stand_ins = vec![
            (format!(":{MOTO_ACCOUNT}:"), format!(":{account}:")),
            (
                format!("arn:aws:s3:::{audit_bucket}"),
                format!("arn:aws:s3:::breakglass-audit-{account}-{}", deployment.region),
            ),
        ];
        let sessions: Arc<Mutex<Sessions>> = Arc::default();
        let used: Arc<Mutex<BTreeSet<(String, String, String)>>> = Arc::default();
        let refused: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, u, r, up) = (sessions.clone(), used.clone(), refused.clone(), upstream.to_owned());
        let stack_account = account.clone();
        let deployment = Arc::new(deployment);
        let shared = Arc::clone(&deployment);
        let decide = move |request_line: &str, head: &str, body: &[u8]| {
            let Some((role, function)) = access_key(head).and_then(|k| s.lock().unwrap().get(&k).cloned())
            else {
                return Action::Forward;
            };
            let verdict = calls_of(request_line, head, body, &deployment.account, &deployment.region)
                .and_then(|calls| {
                    let mut authorised = Vec::new();
                    for mut call in calls {
                        let policy = bucket_of(&call.resource).and_then(|b| live_bucket_policy(&up, b));
                        // IAM names a role by name; AWS authorises against its ARN, path included.
                        if let Some(name) =
                            call.resource.strip_prefix(&format!("arn:aws:iam::{stack_account}:role/"))
                        {
                            if let Some(arn) = role_arn(&up, &stack_account, name) {
                                call.resource = arn;
                            }
                        }
                        for (harness, template) in &stand_ins {
                            call.resource = call.resource.replace(harness.as_str(), template);
                        }
                        deployment.authorise(&role, function.as_deref(), &call, policy.as_ref())?;
                        authorised.push(call);
                    }
                    Ok(authorised)
                });
            match verdict {
                Ok(calls) => {
                    let mut used = u.lock().unwrap();
                    for call in calls {
                        used.insert((role.clone(), call.action, call.resource));
                    }
                    Action::Forward
                }
                Err(why) => {
                    r.lock().unwrap().push(why.clone());
                    Action::Respond(access_denied(&signing_name(head), head, &why))
                }
            }
        };
        let (endpoint, _) = serve(upstream, Arc::new(decide), Arc::new(|_: &str, r| r));
        IamProxy {
            endpoint,
            deployment: shared,
            upstream: upstream.to_owned(),
            account,
            sessions,
            used,
            refused,
            expected: false.into(),
        }
    }

    /// The environment `env` (a function's, as [`crate::Stack::function_env`] gives it) as the
    /// function `function` running with its execution role `role` (the name in template.yaml),
    /// through this proxy: the role's credentials from moto's STS, the proxy as endpoint.
    pub async fn env_as(
        &self,
        env: Vec<(String, String)>,
        role: &str,
        function: &str,
    ) -> Vec<(String, String)> {
        self.session_env(env, role, function, Some(function)).await
    }

    /// The environment of a person (the CLI) in a session `session` of role `role` (its name),
    /// through this proxy.
    pub async fn person_env(&self, role: &str, session: &str) -> Vec<(String, String)> {
        self.session_env(crate::aws_env(&self.upstream), role, session, None).await
    }

    async fn session_env(
        &self,
        env: Vec<(String, String)>,
        role: &str,
        session: &str,
        function: Option<&str>,
    ) -> Vec<(String, String)> {
        let moto_role = format!("arn:aws:iam::{MOTO_ACCOUNT}:role/{role}");
        let creds = crate::role_env(&self.upstream, &moto_role, session).await;
        let key = creds.iter().find(|(k, _)| k == "AWS_ACCESS_KEY_ID").map(|(_, v)| v.clone()).unwrap();
        let arn = format!("arn:aws:iam::{}:role/{role}", self.account);
        self.sessions.lock().unwrap().insert(key, (arn, function.map(str::to_owned)));
        env.into_iter()
            .map(|(k, v)| {
                if k == "AWS_ENDPOINT_URL" {
                    (k, self.endpoint.clone())
                } else {
                    let v = creds.iter().find(|(c, _)| *c == k).map_or(v, |(_, c)| c.clone());
                    (k, v)
                }
            })
            .collect()
    }

    /// The function `name` (`enforcer`, `notifier`, `recorder`, `catalog`) of `stack`, as Lambda
    /// runs it: with its execution role `breakglass-<name>`, through this proxy.
    pub async fn spawn(&self, stack: &crate::Stack, name: &str) -> crate::Function {
        crate::Function::spawn(name, &self.function_env(stack.function_env(), name).await)
    }

    /// `env` for the function `name` running as its execution role through this proxy.
    pub async fn function_env(&self, env: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
        let role = format!("breakglass-{name}");
        self.env_as(env, &role, &role).await
    }

    /// What Lambda asks IAM before it runs function `function` for a call to its function URL
    /// (`AuthType: AWS_IAM`) signed by a session of role `role` (its name): both
    /// `lambda:InvokeFunctionUrl` and `lambda:InvokeFunction` through the URL. The tests hand the
    /// function the URL's event through the Runtime API, so this is where the caller's grants are
    /// checked and counted.
    pub fn invoke_url(&self, role: &str, function: &str) -> Result<(), String> {
        let d = &self.deployment;
        let role = format!("arn:aws:iam::{}:role/{role}", d.account);
        let arn = format!("arn:aws:lambda:{}:{}:function:{function}", d.region, d.account);
        for (action, key, value) in [
            ("lambda:InvokeFunctionUrl", "lambda:FunctionUrlAuthType", "AWS_IAM"),
            ("lambda:InvokeFunction", "lambda:InvokedViaFunctionUrl", "true"),
        ] {
            let call = Call {
                operation: "InvokeFunctionUrl".into(),
                action: action.into(),
                resource: arn.clone(),
                context: vec![(key.into(), value.into())],
            };
            d.authorise(&role, None, &call, None)?;
            self.used.lock().unwrap().insert((role.clone(), call.action, call.resource));
        }
        Ok(())
    }

    /// What AWS would have refused so far, one line each (role, action, resource, why).
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }

    /// The (role, action, resource) triples used so far.
    pub fn used(&self) -> BTreeSet<(String, String, String)> {
        self.used.lock().unwrap().clone()
    }
}

/// Where each proxy leaves the (role, action, resource) triples its test used, one file per proxy,
/// for `target/debug/grants` to hold against what the template grants.
pub fn used_dir() -> std::path::PathBuf {
    crate::root().join("target/iam-used")
}

impl Drop for IamProxy {
    /// A test that passed while AWS would have refused one of its calls has not shown what it claims.
    fn drop(&mut self) {
        let used = self.used();
        if !used.is_empty() {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let text: String = used.iter().map(|(r, a, res)| format!("{r}\t{a}\t{res}\n")).collect();
            let _ = std::fs::create_dir_all(used_dir());
            let _ = std::fs::write(used_dir().join(format!("{}-{n}.tsv", std::process::id())), text);
        }
        // The heartbeat's read of its canary key is refused by design: AWS's refusal is the signal.
        let refused: Vec<String> = self
            .refused()
            .into_iter()
            .filter(|r| !r.contains("s3:GetObject on arn:aws:s3:::") || !r.contains("/breakglass-heartbeat:"))
            .collect();
        if !refused.is_empty() && !std::thread::panicking() && !self.refusals_expected() {
            panic!(
                "AWS would have refused {} call(s) this test made:\n{}",
                refused.len(),
                refused.join("\n")
            );
        }
    }
}

/// The access key a request is signed with (SigV4's credential scope).
fn access_key(head: &str) -> Option<String> {
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .and_then(|l| l.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next())
        .map(str::to_owned)
}

fn bucket_of(resource: &str) -> Option<&str> {
    let rest = resource.strip_prefix("arn:aws:s3:::")?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// One request to moto outside the proxy (moto checks no signature; the `testing` key selects its
/// default account): the body of a 200 answer.
fn ask_moto(upstream: &str, request_line: &str, headers: &str, body: &str) -> Option<String> {
    let host = upstream.trim_start_matches("http://");
    let mut conn = TcpStream::connect(host).ok()?;
    let request = format!(
        "{request_line}\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// The bucket's policy as moto holds it now.
fn live_bucket_policy(upstream: &str, bucket: &str) -> Option<Policy> {
    let body = ask_moto(upstream, &format!("GET /{bucket}?policy HTTP/1.1"), "", "")?;
    Policy::parse(body.as_bytes()).ok()
}

/// The ARN of the role named `name` as IAM in moto has it (its path included), in the stack's account.
fn role_arn(upstream: &str, account: &str, name: &str) -> Option<String> {
    let body = ask_moto(
        upstream,
        "POST / HTTP/1.1",
        "Content-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20261205/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n",
        &format!("Action=GetRole&Version=2010-05-08&RoleName={name}"),
    )?;
    let arn = body.split("<Arn>").nth(1)?.split("</Arn>").next()?;
    let (_, path_and_name) = arn.split_once(":role/")?;
    Some(format!("arn:aws:iam::{account}:role/{path_and_name}"))
}

/// AWS's refusal in the request's protocol.
fn access_denied(service: &str, head: &str, why: &str) -> Vec<u8> {
    let why = why.replace(['<', '>', '&', '"'], " ");
    match protocol(service, head) {
        Protocol::RestXml => response(
            "403 Forbidden",
            "application/xml",
            "",
            &format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>{why}</Message><RequestId>iam</RequestId></Error>"),
        ),
        Protocol::Json => response(
            "400 Bad Request",
            "application/x-amz-json-1.1",
            "x-amzn-ErrorType: AccessDeniedException\r\n",
            &format!("{{\"__type\":\"AccessDeniedException\",\"message\":\"{why}\"}}"),
        ),
        Protocol::Query => response(
            "403 Forbidden",
            "text/xml",
            "",
            &format!("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{why}</Message></Error><RequestId>iam</RequestId></ErrorResponse>"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(service: &str) -> String {
        format!("Authorization: AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261205/eu-central-1/{service}/aws4_request, SignedHeaders=host, Signature=x\r\n")
    }

    #[test]
    fn the_template_s_resource_policies_are_found_by_what_they_guard() {
        let d = Deployment::single_account("111122223333", "eu-central-1", &["acme-logs".to_owned()]);
        let arns: Vec<&str> = d.resource_policies.iter().map(|(a, _)| a.as_str()).collect();
        for arn in [
            "arn:aws:events:eu-central-1:111122223333:event-bus/breakglass",
            "arn:aws:sqs:eu-central-1:111122223333:breakglass-reads",
            "arn:aws:sqs:eu-central-1:111122223333:breakglass-sweep",
            "arn:aws:s3:::breakglass-audit-111122223333-eu-central-1",
        ] {
            assert!(arns.contains(&arn), "{arn} not in {arns:#?}");
        }
        // The audit bucket's policy refuses what the template says it refuses, through the proxy's path.
        let call = Call {
            operation: "PutObject".into(),
            action: "s3:PutObject".into(),
            resource: "arn:aws:s3:::breakglass-audit-111122223333-eu-central-1/breakglass/_sweeps/x.json"
                .into(),
            context: vec![],
        };
        let notifier = "arn:aws:iam::111122223333:role/breakglass-notifier";
        let refused = d.authorise(notifier, Some("breakglass-notifier"), &call, None).unwrap_err();
        assert!(
            refused.contains("explicit-deny by the template's policy on arn:aws:s3:::breakglass-audit"),
            "{refused}"
        );
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
                if ["send", "customize"].contains(&op.as_str()) || !code.contains(&format!(".{op}()")) {
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
        assert!(missing.is_empty(), "calls the code makes that tests/src/iam.rs CALLS lacks: {missing:?}");
    }
}
