//! The gate's function URL (`AuthType: AWS_IAM`) as Lambda serves it: a loopback HTTP server that
//! takes the CLI's SigV4-signed POST, learns the caller from the signature's access key (moto's STS
//! answers `GetCallerIdentity` for it, as IAM would), asks the IAM proxy whether that role may call
//! the URL, and hands the real `gate` binary the event Lambda builds, through the Runtime API.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::chaos::{response, signing_name};
use crate::iam::{ask_moto, UrlCheck};
use crate::proxy::{serve, Action};
use crate::runtime_api::Function;

/// The gate function behind its URL; both stop on drop.
pub struct GateUrl {
    /// `BREAKGLASS_GATE_URL` for the CLI.
    pub url: String,
    pub gate: Arc<Function>,
}

impl GateUrl {
    /// Serves `gate` at a loopback URL; `check` (from [`crate::IamProxy::url_check`]) says whether a
    /// role (its name) may call it, as IAM would; without it every caller reaches the gate.
    pub fn start(moto: &str, gate: Function, check: Option<Arc<UrlCheck>>) -> GateUrl {
        let gate = Arc::new(gate);
        let (function, moto) = (Arc::clone(&gate), moto.to_owned());
        let decide = move |request_line: &str, head: &str, body: &[u8]| {
            Action::Respond(answer(&moto, &function, check.as_deref(), request_line, head, body))
        };
        let (url, _) = serve("127.0.0.1:9", Arc::new(decide), Arc::new(|_: &str, r| r));
        GateUrl { url: format!("{url}/"), gate }
    }

    /// The CLI's environment variable naming this URL.
    pub fn env(&self) -> (String, String) {
        ("BREAKGLASS_GATE_URL".into(), self.url.clone())
    }
}

/// Lambda's own refusal (before the function runs): 403 `{"Message":"Forbidden"}`.
fn forbidden() -> Vec<u8> {
    response("403 Forbidden", "application/json", "", r#"{"Message":"Forbidden"}"#)
}

fn answer(
    moto: &str,
    gate: &Function,
    check: Option<&UrlCheck>,
    request_line: &str,
    head: &str,
    body: &[u8],
) -> Vec<u8> {
    // Only a request signed for Lambda reaches a function behind an AWS_IAM URL.
    if signing_name(head) != "lambda" {
        return forbidden();
    }
    let Some(user_arn) = caller(moto, head) else { return forbidden() };
    let role = user_arn.split("assumed-role/").nth(1).and_then(|r| r.split('/').next()).unwrap_or("");
    if let Some(check) = check {
        if check(role).is_err() {
            return forbidden();
        }
    }
    let method = request_line.split(' ').next().unwrap_or("GET");
    let event = url_event(&user_arn, method, &String::from_utf8_lossy(body));
    match gate.invoke(&event) {
        Ok(out) => {
            let status = out["statusCode"].as_u64().unwrap_or(502);
            let text = out["body"].as_str().unwrap_or("{}");
            response(&format!("{status} Gate"), "application/json", "", text)
        }
        Err(e) => response(
            "502 Bad Gateway",
            "application/json",
            "",
            &json!({"Message": format!("the function failed: {e}")}).to_string(),
        ),
    }
}

/// Who signed the request, as STS names them: moto's `GetCallerIdentity` for the same access key.
fn caller(moto: &str, head: &str) -> Option<String> {
    let authorization = head.lines().find(|l| l.to_ascii_lowercase().starts_with("authorization:"))?;
    let key = authorization.split("Credential=").nth(1)?.split('/').next()?;
    let body = ask_moto(
        moto,
        "POST / HTTP/1.1",
        &format!("Content-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential={key}/20261205/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0\r\n"),
        "Action=GetCallerIdentity&Version=2011-06-15",
    )?;
    Some(body.split("<Arn>").nth(1)?.split("</Arn>").next()?.to_owned())
}

/// The event Lambda hands a function behind an `AWS_IAM` function URL (payload format 2.0), for a
/// call signed by `user_arn`.
pub fn url_event(user_arn: &str, method: &str, body: &str) -> Value {
    let account = user_arn.split(':').nth(4).unwrap_or("");
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abcdefg.lambda-url.eu-central-1.on.aws"},
        "requestContext": {
            "accountId": "anonymous", "apiId": "abcdefg", "domainName": "abcdefg.lambda-url.eu-central-1.on.aws",
            "domainPrefix": "abcdefg",
            "http": {"method": method, "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "breakglass"},
            "authorizer": {"iam": {
                "accessKey": "ASIAEXAMPLE", "accountId": account, "callerId": "AROAEXAMPLE:session",
                "cognitoIdentity": null, "principalOrgId": null, "userArn": user_arn, "userId": "AROAEXAMPLE:session"
            }},
            "requestId": "id", "routeKey": "$default", "stage": "$default",
            "time": "05/Dec/2026:12:00:00 +0000", "timeEpoch": 1796472000000_u64
        },
        "body": body, "isBase64Encoded": false
    })
}
