//! CloudTrail-shaped events of the calls the tests make (moto emits none).

use serde_json::{json, Value};

use crate::*;

/// An EventBridge "AWS API Call via CloudTrail" event for an S3 call, shaped like the real ones in the
/// corpus (eventVersion 1.09: `Host` string, `policy: ""`, `bucketPolicy` as an object).
/// A CloudTrail-shaped record of a guarded call outside S3 (IAM, KMS, SNS, Lambda), made by `role`'s
/// session `session`, modelled on the examples in each service's CloudTrail documentation.
pub fn control_event(name: &str, source: &str, params: Value, role: &str, session: &str) -> Value {
    let mut e = cloudtrail_event(name, "unused", role, session, None, None);
    let d = &mut e["detail"];
    d["eventSource"] = json!(source);
    d["requestParameters"] = params;
    d["resources"] = json!([]);
    if source == "iam.amazonaws.com" {
        // IAM is global: CloudTrail records its calls in us-east-1.
        d["awsRegion"] = json!("us-east-1");
    }
    e["source"] = json!(format!("aws.{}", source.split('.').next().unwrap_or("unknown")));
    e
}

pub fn cloudtrail_event(
    name: &str,
    bucket: &str,
    role: &str,
    session: &str,
    policy: Option<&str>,
    error: Option<&str>,
) -> Value {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let role_name = role.rsplit('/').next().unwrap_or(role);
    let mut params = json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{REGION}.amazonaws.com")});
    if let Some(p) = policy {
        params["policy"] = json!("");
        params["bucketPolicy"] = serde_json::from_str(p).unwrap();
    }
    let mut detail = json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("AROAEXAMPLE:{session}"),
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}"),
            "accountId": ACCOUNT,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": role, "accountId": ACCOUNT, "userName": role_name},
                "attributes": {"creationDate": "2026-11-24T11:00:00Z", "mfaAuthenticated": "true"}
            }
        },
        "eventTime": time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap(),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "requestParameters": params,
        "responseElements": null,
        "eventID": format!("e2e-{n:08}"),
        "readOnly": false,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}],
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management"
    });
    if let Some(code) = error {
        detail["errorCode"] = json!(code);
        detail["errorMessage"] = json!("Access Denied");
    }
    json!({
        "version": "0", "id": format!("eb-{n:08}"), "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
        "account": ACCOUNT, "time": detail["eventTime"], "region": REGION, "resources": [], "detail": detail
    })
}
