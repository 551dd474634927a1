//! Incoming events, read leniently: real CloudTrail records come in two generations of shapes
//! (`"policy": [""]` vs `""`, `host` list vs `Host` string, ACL `Grant` object vs list, an empty
//! `bucketName` with the bucket only in the host), and test data has numbers where AWS sends strings.
//! `aws_lambda_events`' typed envelope rejects some of these, so we read a `serde_json::Value` and
//! take what we need, field by field, never panicking and never trusting a field's type.

use canonical_policies::Quoted;
use serde_json::Value;

use crate::guarded::{GuardedCall, Target};
// Who made a call: one type with the notification document, which names them as CloudTrail did.
use crate::notice::Actor;
use crate::notice::{CallError, CallEvent};

/// The `detail-type` EventBridge gives a CloudTrail record of an API call.
pub const CLOUDTRAIL_CALL: &str = "AWS API Call via CloudTrail";

/// One CloudTrail record of an API call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiCall {
    /// Its id, name, time, Region, address and client, as the notification document names them.
    pub event: CallEvent,
    pub event_source: Option<String>,
    /// What AWS answered: a code when it refused the call (then it was an *attempt*, and nothing
    /// changed), as the notification document names it.
    pub error: CallError,
    pub actor: Actor,
    pub bucket: Option<String>,
    /// `requestParameters.bucketPolicy`: the policy as the caller sent it (a JSON object in CloudTrail).
    pub policy: Option<Value>,
    /// A canned ACL (`x-amz-acl`), and the grantees of an explicit ACL (`AllUsers`, canonical IDs, …).
    pub canned_acl: Option<String>,
    pub acl_grantees: Vec<String>,
    /// `PublicAccessBlockConfiguration` as (setting, value) pairs, in AWS's names.
    pub public_access_block: Vec<(String, bool)>,
    pub object_ownership: Option<String>,
    /// What a non-bucket call acts on: the role name, key ID or alias, topic or subscription ARN,
    /// or the execution or service role passed to Lambda or CloudFormation (see [`Target`]).
    pub target: Option<String>,
    /// `VersioningConfiguration.Status` of PutBucketVersioning.
    pub versioning: Option<String>,
    /// The tag set PutBucketTagging put (`Tagging.TagSet.Tag`, one object or a list), when the
    /// record carries it.
    pub tags: Option<Vec<(String, String)>>,
    /// The accounts the event says it came from: the EventBridge envelope's `account` and the
    /// record's `recipientAccountId`, where present. A call may act only on buckets of that account.
    pub accounts: Vec<String>,
    /// Judged again, later, from the sweep queue, because S3 had not shown what it wrote within the
    /// enforcer's waits: judged on one read, never waited for again. Never from the event itself.
    pub recheck: bool,
}

impl ApiCall {
    pub fn guarded(&self) -> Option<GuardedCall> {
        GuardedCall::from_event(self.event_source.as_deref(), &self.event.name)
    }

    pub fn is_attempt(&self) -> bool {
        self.error.code.is_some()
    }

    /// The policy text as the caller sent it, when the record carries it.
    pub fn policy_text(&self) -> Option<String> {
        match &self.policy {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v @ Value::Object(_)) => Some(v.to_string()),
            _ => None,
        }
    }
}

/// What arrived at a Lambda.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// CloudTrail records (one from EventBridge; several from a log-file `Records` array).
    ApiCalls(Vec<ApiCall>),
    /// The scheduled sweep (EventBridge `Scheduled Event`).
    Schedule { id: Option<String>, time: Option<String> },
    /// One of breakglass's own events (`source: breakglass`).
    Custom { id: Option<String>, detail_type: String, detail: Value },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is not a json object")]
    NotAnObject,
    #[error("unrecognised event: no `detail-type`, `Records` or `eventName`")]
    Unrecognised,
    #[error("unrecognised event: `detail-type` {} from source {}", Quoted(.detail_type), Quoted(.sent_by))]
    UnknownType { detail_type: String, sent_by: String },
    #[error("cloudtrail record without `eventName`")]
    NoEventName,
    /// Only AWS puts events with an `aws.` source on a bus (PutEvents refuses them), so an API call
    /// under any other source was written by someone who may put events: it did not happen.
    #[error("api call event from source `{sent_by}`, not `{expected}`: not sent by aws, refused")]
    NotFromAws { sent_by: String, expected: String },
}

/// The EventBridge source AWS gives a service's CloudTrail events: `s3.amazonaws.com` → `aws.s3`.
pub fn aws_source(event_source: &str) -> Option<String> {
    let service = event_source.strip_suffix(".amazonaws.com")?;
    (!service.is_empty() && !service.contains('.')).then(|| format!("aws.{service}"))
}

/// One SQS message of an event source mapping: its id (for the partial batch response), body, and
/// how many times SQS has handed it out (`ApproximateReceiveCount`, 1 on the first try).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub id: String,
    pub body: String,
    pub receive_count: u32,
}

/// The messages of an SQS event (`Records` of `eventSource` `aws:sqs`), or `None` when it is not one.
pub fn sqs_messages(payload: &Value) -> Option<Vec<QueueMessage>> {
    let records = payload.get("Records")?.as_array()?;
    let sqs = |r: &Value| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs");
    if records.is_empty() || !records.iter().all(sqs) {
        return None;
    }
    Some(
        records
            .iter()
            .enumerate()
            .map(|(i, r)| QueueMessage {
                // Without an id a failure could not be reported for it; its position stands in.
                id: r.get("messageId").and_then(Value::as_str).map_or_else(|| format!("#{i}"), str::to_owned),
                body: r.get("body").and_then(Value::as_str).unwrap_or_default().to_owned(),
                // Missing or unreadable: counted as a first try, so that a retry is never skipped.
                receive_count: at(r, &["attributes", "ApproximateReceiveCount"])
                    .and_then(Value::as_str)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
            })
            .collect(),
    )
}

/// Our own events on the bus carry this source.
pub const CUSTOM_SOURCE: &str = "breakglass";

/// Reads whatever arrived.
pub fn parse(event: &Value) -> Result<Incoming, EventError> {
    let Value::Object(top) = event else { return Err(EventError::NotAnObject) };
    if let Some(records) = top.get("Records").and_then(Value::as_array) {
        return records.iter().map(record).collect::<Result<_, _>>().map(Incoming::ApiCalls);
    }
    if let Some(detail_type) = top.get("detail-type").and_then(Value::as_str) {
        let source = top.get("source").and_then(Value::as_str).unwrap_or_default();
        let id = text(top.get("id"));
        let detail = top.get("detail").cloned().unwrap_or(Value::Null);
        return match (source, detail_type) {
            (_, CLOUDTRAIL_CALL) => {
                let mut call = record(&detail)?;
                let expected = call.event_source.as_deref().and_then(aws_source);
                if expected.as_deref() != Some(source) {
                    return Err(EventError::NotFromAws {
                        sent_by: source.to_owned(),
                        expected: expected.unwrap_or_else(|| "aws.<service>".to_owned()),
                    });
                }
                if let Some(account) = text(top.get("account")) {
                    if !call.accounts.contains(&account) {
                        call.accounts.insert(0, account);
                    }
                }
                Ok(Incoming::ApiCalls(vec![call]))
            }
            ("aws.events", "Scheduled Event") => Ok(Incoming::Schedule { id, time: text(top.get("time")) }),
            (CUSTOM_SOURCE, _) => Ok(Incoming::Custom { id, detail_type: detail_type.to_owned(), detail }),
            _ => Err(EventError::UnknownType {
                detail_type: detail_type.to_owned(),
                sent_by: source.to_owned(),
            }),
        };
    }
    if top.contains_key("eventName") {
        return Ok(Incoming::ApiCalls(vec![record(event)?]));
    }
    Err(EventError::Unrecognised)
}

/// A string field, also when a test generator wrote a number or a one-element list.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items.iter().find_map(|i| text(Some(i))),
        _ => None,
    }
}

fn at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn record(r: &Value) -> Result<ApiCall, EventError> {
    if !r.is_object() {
        return Err(EventError::NotAnObject);
    }
    let event_name = text(r.get("eventName")).ok_or(EventError::NoEventName)?;
    let params = r.get("requestParameters").filter(|p| p.is_object());
    let param = |k: &str| params.and_then(|p| p.get(k));
    Ok(ApiCall {
        event_source: text(r.get("eventSource")),
        error: CallError { code: text(r.get("errorCode")), message: text(r.get("errorMessage")) },
        actor: actor(r.get("userIdentity")),
        bucket: bucket(r, params),
        policy: param("bucketPolicy").filter(|p| p.is_object() || p.is_string()).cloned(),
        canned_acl: text(param("x-amz-acl")),
        acl_grantees: grantees(param("AccessControlPolicy"))
            .into_iter()
            .chain(header_grantees(params))
            .collect(),
        public_access_block: public_access_block(param("PublicAccessBlockConfiguration")),
        object_ownership: param("OwnershipControls").and_then(|o| {
            text(at(o, &["Rule", "ObjectOwnership"])).or_else(|| text(o.get("ObjectOwnership")))
        }),
        target: GuardedCall::from_event(text(r.get("eventSource")).as_deref(), &event_name)
            .and_then(|c| target(c.target(), params).map(|t| key_arn(c.target(), t, r))),
        versioning: param("VersioningConfiguration").and_then(|v| text(v.get("Status"))),
        tags: param("Tagging").map(tag_set),
        accounts: text(r.get("recipientAccountId")).into_iter().collect(),
        recheck: false,
        event: CallEvent {
            id: text(r.get("eventID")),
            name: event_name,
            time: text(r.get("eventTime")),
            region: text(r.get("awsRegion")),
            source_ip: text(r.get("sourceIPAddress")),
            user_agent: text(r.get("userAgent")),
        },
    })
}

/// `Tagging.TagSet.Tag`: one `{Key, Value}` object or a list of them (CloudTrail writes a single tag
/// as an object); an empty value may be missing or `""`.
fn tag_set(tagging: &Value) -> Vec<(String, String)> {
    let one = |t: &Value| {
        let key = text(t.get("Key"))?;
        Some((key, text(t.get("Value")).unwrap_or_default()))
    };
    match at(tagging, &["TagSet", "Tag"]) {
        Some(Value::Array(items)) => items.iter().filter_map(one).collect(),
        Some(t @ Value::Object(_)) => one(t).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn actor(ui: Option<&Value>) -> Actor {
    let Some(ui) = ui.filter(|u| u.is_object()) else { return Actor::default() };
    let arn = text(ui.get("arn"));
    // An assumed-role ARN ends in `/<role>/<session>`; the session name is the last part.
    let session = arn
        .as_deref()
        .filter(|a| a.contains(":assumed-role/"))
        .and_then(|a| a.rsplit('/').next())
        .map(str::to_owned);
    Actor {
        kind: text(ui.get("type")),
        account: text(ui.get("accountId")),
        role_arn: text(at(ui, &["sessionContext", "sessionIssuer", "arn"])),
        session,
        mfa: text(at(ui, &["sessionContext", "attributes", "mfaAuthenticated"])).and_then(|m| {
            match m.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }
        }),
        invoked_by: text(ui.get("invokedBy")),
        // Only where the ARN is missing: the ARN says who it is otherwise.
        name: arn
            .is_none()
            .then(|| {
                text(ui.get("userName"))
                    .or_else(|| text(at(ui, &["onBehalfOf", "userId"])))
                    .or_else(|| text(ui.get("principalId")))
            })
            .flatten(),
        provider: arn
            .is_none()
            .then(|| {
                text(ui.get("identityProvider")).or_else(|| text(at(ui, &["onBehalfOf", "identityStoreArn"])))
            })
            .flatten(),
        arn,
    }
}

/// `bucketName`, else the virtual-host name in `host`/`Host`, else the bucket ARN in `resources`.
fn bucket(r: &Value, params: Option<&Value>) -> Option<String> {
    let param = |k: &str| params.and_then(|p| p.get(k));
    if let Some(name) = text(param("bucketName")) {
        return Some(name);
    }
    // S3 Control (CreateAccessPoint): the bucket is in the request body; the host is the account's.
    if let Some(name) = param("CreateAccessPointRequest").and_then(|r| text(r.get("Bucket"))) {
        return Some(name);
    }
    for key in ["Host", "host"] {
        if let Some(host) = text(param(key)) {
            // `bucket.s3.region.amazonaws.com` or `bucket.s3.amazonaws.com`; path-style hosts start with `s3`.
            if let Some((name, _)) = host.split_once(".s3.").or_else(|| host.split_once(".s3-")) {
                if !name.is_empty() {
                    return Some(name.to_owned());
                }
            }
        }
    }
    r.get("resources")?.as_array()?.iter().find_map(|res| {
        let arn = text(res.get("ARN"))?;
        let name = canonical_policies::Arn::parse(&arn)
            .ok()
            .filter(|a| a.service == "s3" && a.region.is_empty() && a.account.is_empty())?
            .resource;
        (!name.is_empty() && !name.contains('/')).then(|| name.to_owned())
    })
}

/// The name a non-bucket call acts on, from the request parameters CloudTrail records for it.
fn target(kind: Target, params: Option<&Value>) -> Option<String> {
    let first = |keys: &[&str]| keys.iter().find_map(|k| text(params.and_then(|p| p.get(*k))));
    match kind {
        Target::Bucket => None,
        Target::Role => first(&["roleName"]),
        Target::Key => first(&["keyId", "aliasName", "targetKeyId"]),
        Target::Topic => first(&["subscriptionArn", "topicArn", "resourceArn"]),
        Target::FunctionRole => first(&["role"]),
        Target::StackRole => first(&["roleARN"]),
        Target::Trail => first(&["name", "trailName"]),
    }
}

/// A key named by its id or an alias in the request (`keyId`) is named by its ARN, from the
/// record's `resources` (KMS lists the key it acted on): a log key is configured by ARN, and an
/// alias must not hide which key was disabled. Alias names (`alias/…`) of alias calls stay.
fn key_arn(kind: Target, named: String, r: &Value) -> String {
    if kind != Target::Key {
        return named;
    }
    let keys: Vec<String> = r
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|res| text(res.get("type")).as_deref() == Some("AWS::KMS::Key"))
        .filter_map(|res| text(res.get("ARN")))
        .collect();
    let alias_call = text(r.get("eventName")).is_some_and(|n| n.contains("Alias"));
    let id = |s: &str| s.rsplit('/').next().unwrap_or(s).to_ascii_lowercase();
    match keys.as_slice() {
        // Named by its id or ARN, in whatever case: the same key, as KMS spells it.
        [arn] if !named.contains("alias/") && id(arn) == id(&named) => arn.clone(),
        // KMS's key calls take an id or ARN, not an alias; should one name an alias all the same,
        // the key it acted on decides. breakglass's own aliases are matched as they are, and alias
        // calls act on the alias.
        [arn] if named.starts_with("alias/") && !named.starts_with("alias/breakglass") && !alias_call => {
            arn.clone()
        }
        _ => named,
    }
}

/// Grantees of an explicit ACL: `Grant` is an object for one grant and a list for several.
fn grantees(acp: Option<&Value>) -> Vec<String> {
    let Some(grant) = acp.and_then(|a| at(a, &["AccessControlList", "Grant"])) else { return Vec::new() };
    let grants: Vec<&Value> = match grant {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    grants
        .into_iter()
        .filter_map(|g| {
            let grantee = g.get("Grantee")?;
            let who = text(grantee.get("URI"))
                .or_else(|| text(grantee.get("ID")))
                .or_else(|| text(grantee.get("EmailAddress")))?;
            let permission = text(g.get("Permission")).unwrap_or_default();
            Some(format!("{who} {permission}").trim().to_owned())
        })
        .collect()
}

/// The grantees of an ACL given in headers instead of a body (`x-amz-grant-read:
/// uri="http://acs.amazonaws.com/groups/global/AllUsers", id="…"`), as `<grantee> <PERMISSION>`
/// like [`grantees`]: a public grant made this way is as public as one in the body.
fn header_grantees(params: Option<&Value>) -> Vec<String> {
    const HEADERS: [(&str, &str); 5] = [
        ("x-amz-grant-read", "READ"),
        ("x-amz-grant-write", "WRITE"),
        ("x-amz-grant-read-acp", "READ_ACP"),
        ("x-amz-grant-write-acp", "WRITE_ACP"),
        ("x-amz-grant-full-control", "FULL_CONTROL"),
    ];
    let Some(params) = params else { return Vec::new() };
    let values = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    for (header, permission) in HEADERS {
        // CloudTrail keeps a header's name as sent; HTTP header names are case-insensitive.
        let found = params
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.eq_ignore_ascii_case(header))
            .flat_map(|(_, v)| values(v));
        for value in found {
            for grantee in value.split(',') {
                let who = grantee.split_once('=').map_or(grantee, |(_, w)| w).trim().trim_matches('"').trim();
                if !who.is_empty() {
                    out.push(format!("{who} {permission}"));
                }
            }
        }
    }
    out
}

fn public_access_block(cfg: Option<&Value>) -> Vec<(String, bool)> {
    let Some(Value::Object(m)) = cfg else { return Vec::new() };
    let mut out: Vec<(String, bool)> = m
        .iter()
        .filter_map(|(k, v)| {
            let b = match v {
                Value::Bool(b) => *b,
                Value::String(s) => s.eq_ignore_ascii_case("true"),
                _ => return None,
            };
            Some((k.clone(), b))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_generations_of_shapes() {
        let old = json!({"Records": [{"eventName": "PutBucketAcl", "requestParameters": {"bucketName": "",
            "host": ["logs-a.s3.eu-central-1.amazonaws.com"], "acl": [""],
            "AccessControlPolicy": {"AccessControlList": {"Grant": {"Grantee": {"URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}}}}}]});
        let Incoming::ApiCalls(calls) = parse(&old).unwrap() else { panic!() };
        assert_eq!(calls[0].bucket.as_deref(), Some("logs-a"));
        assert_eq!(calls[0].acl_grantees, ["http://acs.amazonaws.com/groups/global/AllUsers READ"]);

        let headers = json!({"eventName": "PutBucketAcl", "requestParameters": {"bucketName": "logs-a", "acl": "",
            "x-amz-grant-read": "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\", id=\"abc\"",
            "X-Amz-Grant-Full-Control": ["emailAddress=\"x@example.com\""]}});
        let Incoming::ApiCalls(calls) = parse(&headers).unwrap() else { panic!() };
        assert_eq!(
            calls[0].acl_grantees,
            [
                "http://acs.amazonaws.com/groups/global/AllUsers READ",
                "abc READ",
                "x@example.com FULL_CONTROL"
            ]
        );

        let new = json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "account": 12345,
            "detail": {"eventSource": "s3.amazonaws.com", "eventName": "DeleteBucketPolicy", "errorCode": "AccessDenied",
            "requestParameters": {"Host": "logs-b.s3.amazonaws.com", "policy": ""},
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/Admin/bob",
              "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/Admin"}, "attributes": {"mfaAuthenticated": "False"}}}}});
        let Incoming::ApiCalls(calls) = parse(&new).unwrap() else { panic!() };
        let c = &calls[0];
        assert_eq!(c.bucket.as_deref(), Some("logs-b"));
        assert!(c.is_attempt());
        assert_eq!(c.actor.role_arn.as_deref(), Some("arn:aws:iam::1:role/Admin"));
        assert_eq!(c.actor.session.as_deref(), Some("bob"));
        assert_eq!(c.actor.mfa, Some(false));
        assert_eq!(c.guarded(), Some(GuardedCall::DeleteBucketPolicy));
    }

    /// Issue 22: anyone allowed `events:PutEvents` on the default bus could put a CloudTrail-shaped
    /// event under their own source and have it recorded and mailed as a call that never happened.
    #[test]
    fn regression_a_cloudtrail_shaped_event_not_from_aws_is_refused() {
        let forged = |source: &str, event_source: &str| {
            parse(&json!({"detail-type": "AWS API Call via CloudTrail", "source": source, "id": "1",
                "detail": {"eventSource": event_source, "eventName": "PutBucketPolicy",
                    "requestParameters": {"bucketName": "logs-a"}}}))
        };
        assert!(forged("aws.s3", "s3.amazonaws.com").is_ok());
        assert!(forged("aws.iam", "iam.amazonaws.com").is_ok());
        for (source, event_source, expected) in [
            ("mallory", "s3.amazonaws.com", "aws.s3"),
            ("breakglass", "s3.amazonaws.com", "aws.s3"),
            ("", "s3.amazonaws.com", "aws.s3"),
            ("aws.iam", "s3.amazonaws.com", "aws.s3"),
            ("aws.s3", "s3.evil.example", "aws.<service>"),
        ] {
            assert_eq!(
                forged(source, event_source),
                Err(EventError::NotFromAws { sent_by: source.to_owned(), expected: expected.to_owned() }),
                "{source} {event_source}"
            );
        }
        assert_eq!(aws_source("cloudtrail.amazonaws.com").as_deref(), Some("aws.cloudtrail"));
        assert_eq!(aws_source("amazonaws.com"), None);
    }

    #[test]
    fn an_access_point_is_created_on_the_bucket_in_its_request_body() {
        let e = json!({"eventSource": "s3.amazonaws.com", "eventName": "CreateAccessPoint",
            "requestParameters": {"name": "ap", "Host": "111122223333.s3-control.eu-central-1.amazonaws.com",
                "CreateAccessPointRequest": {"Bucket": "logs-d"}}});
        let Incoming::ApiCalls(calls) = parse(&e).unwrap() else { panic!() };
        assert_eq!(calls[0].bucket.as_deref(), Some("logs-d"), "not the account in the host");
        assert_eq!(calls[0].guarded(), Some(GuardedCall::CreateAccessPoint));
    }

    #[test]
    fn bucket_from_resources_and_schedules_and_custom() {
        let r = json!({"eventName": "PutBucketPolicy", "resources": [{"ARN": "arn:aws:s3:::logs-c", "type": "AWS::S3::Bucket"}]});
        let Incoming::ApiCalls(calls) = parse(&r).unwrap() else { panic!() };
        assert_eq!(calls[0].bucket.as_deref(), Some("logs-c"));
        assert!(matches!(
            parse(&json!({"detail-type": "Scheduled Event", "source": "aws.events"})),
            Ok(Incoming::Schedule { .. })
        ));
        assert!(matches!(
            parse(&json!({"detail-type": "x", "source": "breakglass", "detail": {}})),
            Ok(Incoming::Custom { .. })
        ));
        assert_eq!(parse(&json!([])), Err(EventError::NotAnObject));
        assert_eq!(parse(&json!({"hello": 1})), Err(EventError::Unrecognised));
        let unknown = parse(&json!({"detail-type": "Foo Bar", "source": "x"})).unwrap_err();
        assert_eq!(unknown.to_string(), "unrecognised event: `detail-type` `Foo Bar` from source `x`");
        assert_eq!(
            parse(&json!({"eventName": 5, "Records": "x"})),
            Ok(Incoming::ApiCalls(vec![ApiCall {
                event: CallEvent { name: "5".into(), ..CallEvent::default() },
                ..ApiCall::default()
            }]))
        );
    }
}
