//! The gate: the one front door for people. Called through a Lambda function URL with IAM
//! authorisation, it learns the caller from AWS ([`request::caller`]), takes a typed body
//! ([`request::Op`]), checks everything, writes its signed record before it acts, and only then
//! writes the policy and puts the event on the bus ([`decide`]). Bad input is a 4xx with one line
//! and writes nothing; only an AWS failure is a 5xx.

mod answer;
pub mod config;
pub mod decide;
pub mod request;

pub use answer::{Answered, Approved, ConfigProposal, Gate};
pub use request::{caller, one_line, parse_op, through_its_url, Asked, Caller, GateError, Op, MAX_ERROR};

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::inbound::function_url::{self, UrlError};
use crate::ports::{AuditLog, BucketRecords, ConfigStore, EventBus, PlaceRecords, PolicyStore};

/// The gate's answer: an HTTP status and a JSON body (`{"error": "…"}` when refused).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The function URL's response (payload format 2.0).
    pub fn to_response(&self) -> Value {
        json!({
            "statusCode": self.status,
            "headers": {"content-type": "application/json"},
            "body": self.body.to_string(),
        })
    }
}

impl From<GateError> for Answer {
    fn from(e: GateError) -> Answer {
        Answer { status: e.status(), body: json!({"error": request::one_line(&e.to_string())}) }
    }
}

/// One call through the function URL, `raw` as Lambda hands it over, at the gate's own `now`;
/// `configs`: the config object (organisation mode).
pub async fn handle<S, B, L, R, K>(
    gate: &Gate<'_, S, B, L, R>,
    configs: Option<&K>,
    raw: &Value,
    now: OffsetDateTime,
) -> Answer
where
    S: PolicyStore,
    B: EventBus,
    L: AuditLog,
    R: BucketRecords + PlaceRecords,
    K: ConfigStore,
{
    let answer = async {
        let call = function_url::parse(raw).map_err(|e| match e {
            UrlError::NotUrlEvent => GateError::Forbidden(e.to_string()),
            e => GateError::BadRequest(e.to_string()),
        })?;
        let who = caller(&call.caller, gate.roles)?;
        if call.method != "POST" {
            return Err(GateError::Method);
        }
        tracing::info!(caller = who.arn.as_str(), "gate call");
        match parse_op(&call.body)? {
            Op::Request(asked) => gate.request(&who, &asked, now).await,
            Op::Approve { request, bucket } => {
                gate.decide(&who, &request, bucket.as_deref(), true, None, now).await
            }
            Op::Deny { request, bucket, reason } => {
                gate.decide(&who, &request, bucket.as_deref(), false, reason.as_deref(), now).await
            }
            Op::Open(asked) => gate.open(&who, &asked, now).await,
            Op::Close { bucket, reason } => gate.close(&who, &bucket, &reason, now).await,
            Op::Propose { config } => gate.propose(configs, &who, &config, now).await,
            Op::ApproveConfig { proposal } => gate.approve_config(configs, &who, &proposal, now).await,
        }
    };
    match answer.await {
        Ok(done) => Answer { status: 200, body: done.to_json() },
        Err(e) => {
            tracing::warn!(status = e.status(), error = %e, "gate call refused");
            e.into()
        }
    }
}
