//! The event Lambda hands a function behind a function URL with `AuthType: AWS_IAM` (payload
//! format 2.0): who called, as IAM authenticated them (`requestContext.authorizer.iam`), the HTTP
//! method and the body. Only what the gate needs is read; the caller is never taken from the body.

use serde::Deserialize;

/// The gate's largest body: requests are a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// One call through the function URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCall {
    pub method: String,
    /// The caller's ARN as IAM authenticated it (`userArn`): an assumed-role session
    /// `arn:aws:sts::A:assumed-role/R/S`, an IAM user, or root.
    pub caller: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a function URL request with IAM authorisation")]
    NotUrlEvent,
    #[error("the body is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the body must be JSON text (Content-Type: application/json)")]
    Encoded,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    request_context: Context,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
}

#[derive(Deserialize)]
struct Context {
    http: Http,
    authorizer: Authorizer,
}

#[derive(Deserialize)]
struct Http {
    method: String,
}

#[derive(Deserialize)]
struct Authorizer {
    iam: Iam,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Iam {
    user_arn: String,
}

/// The call in `raw`; an event without an IAM caller is not one (a URL with `AuthType: NONE` has
/// no `authorizer`).
pub fn parse(raw: &serde_json::Value) -> Result<UrlCall, UrlError> {
    let e = Event::deserialize(raw).map_err(|_| UrlError::NotUrlEvent)?;
    let body = e.body.unwrap_or_default();
    if body.len() > MAX_BODY {
        return Err(UrlError::TooLarge);
    }
    // A JSON request arrives as text; anything Lambda base64-encoded was not sent as JSON.
    if e.is_base64_encoded {
        return Err(UrlError::Encoded);
    }
    Ok(UrlCall {
        method: e.request_context.http.method,
        caller: e.request_context.authorizer.iam.user_arn,
        body,
    })
}
