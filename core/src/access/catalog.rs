//! The Service Catalog UI: a CloudFormation custom resource behind three products, "Open log access"
//! (`Action: open`), "Close log access" (`Action: close`) and, for buckets under the two-person
//! rule, "Request log access" (`Action: request`: another person approves with `breakglass approve`). Provisioning opens (or closes),
//! updating an open product opens again with the new parameters (widen or extend, never cut short),
//! terminating an open product closes the bucket.
//!
//! CloudFormation waits up to an hour for an answer at the pre-signed `ResponseURL`, so every path
//! answers: success, refusal, AWS failure, malformed properties, and running out of time. Only an
//! event without a usable `ResponseURL` cannot be answered; it is logged and dropped.

use std::collections::{BTreeMap, BTreeSet};

use breakglass_config::{is_bucket_name, parse_duration, Config};
use canonical_policies::{format_expiry, Arn};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::access::operate::{self, OpenRequest};
use crate::ports::{EventBus, PolicyStore, PortError, Provenance, Provisioning};

use crate::ports::Responder;

/// A CloudFormation response body is limited to 4096 bytes; the reason is the only free text in it
/// (in bytes: one character may take four).
const MAX_REASON: usize = 1000;
/// Prefix of the physical id returned when a create fails: deleting it (stack rollback) must do
/// nothing, and above all must not close a bucket someone else opened.
const FAILED_ID: &str = "breakglass-failed-";

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the event has no usable `ResponseURL`; cloudformation cannot be answered")]
    NoResponseUrl,
    #[error("cannot answer cloudformation: {0}")]
    Respond(PortError),
}

/// What was asked, from the request's `ResourceProperties`.
#[derive(Debug)]
enum Asked {
    Open {
        bucket: String,
        request: OpenRequest,
    },
    /// The two-person rule: a request for another person to approve; nothing opens.
    Request {
        bucket: String,
        request: OpenRequest,
    },
    Close {
        bucket: String,
        reason: String,
    },
    Nothing(&'static str),
}

/// Per `Action`, the parameters of its product template (`catalog/products/*.yaml`) and the
/// custom-resource property each is passed as (`Property: !Ref Parameter`). A test ties this to the
/// templates.
pub const PRODUCT_PARAMETERS: [(&str, &[(&str, &str)]); 3] = [
    ("open", &OPEN_PARAMETERS),
    ("request", &OPEN_PARAMETERS),
    ("close", &[("Bucket", "Bucket"), ("Reason", "Reason")]),
];
const OPEN_PARAMETERS: [(&str, &str); 5] = [
    ("Bucket", "Bucket"),
    ("Reason", "Reason"),
    ("Ticket", "Ticket"),
    ("Duration", "Duration"),
    ("Readers", "Reader"),
];

/// `(property, parameter)` pairs of the product whose template sends `action`.
pub fn product_parameters(action: &str) -> Option<&'static [(&'static str, &'static str)]> {
    PRODUCT_PARAMETERS.iter().find(|(a, _)| *a == action).map(|(_, pairs)| *pairs)
}

/// The properties to act on, taken from the stack's parameters, which only provisioning (or
/// updating) the product sets: a real product stack's id sent again with other properties, or a
/// stack without the product's parameters, is refused with why.
fn provisioned(props: &Value, parameters: &BTreeMap<String, String>, stack: &str) -> Result<Value, String> {
    let action = props.get("Action").and_then(Value::as_str).map(str::trim).unwrap_or_default();
    // An unknown action acts on nothing: `asked` refuses it.
    let Some(pairs) = product_parameters(&action.to_ascii_lowercase()) else { return Ok(props.clone()) };
    let mut out = serde_json::Map::new();
    out.insert("Action".into(), json!(action));
    for (property, parameter) in pairs {
        let value = parameters
            .get(*parameter)
            .ok_or_else(|| format!("stack `{stack}` has no parameter `{parameter}`"))?;
        let value = json!(value);
        if normalised(property, props.get(*property)) != normalised(property, Some(&value)) {
            return Err(format!(
                "property `{property}` differs from the stack's parameter `{parameter}` (a stack id reused with other properties)"
            ));
        }
        out.insert((*property).into(), value);
    }
    Ok(Value::Object(out))
}

/// A property as the catalog reads it: readers as a set, other text trimmed, absent as empty.
fn normalised(property: &str, value: Option<&Value>) -> Value {
    match (property, value) {
        ("Readers", v) => json!(readers_of(v)),
        (_, None) => json!(""),
        (_, Some(Value::String(s))) => json!(s.trim()),
        (_, Some(other)) => other.clone(),
    }
}

/// `Readers`: a list or comma-separated text (the products send one ARN or none); blanks dropped.
fn readers_of(value: Option<&Value>) -> BTreeSet<String> {
    let readers: BTreeSet<String> = match value {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(s)) => s.split(',').map(str::trim).map(str::to_owned).collect(),
        _ => BTreeSet::new(),
    };
    readers.into_iter().filter(|r| !r.is_empty()).collect()
}

/// Who may act through the catalog function: the breakglass products (by product ID) and the
/// principals allowed to provision them (role ARNs, whose sessions count, and user ARNs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub products: Vec<String>,
    pub principals: Vec<String>,
}

impl Origin {
    /// From comma-separated lists (template.yaml's `BREAKGLASS_CATALOG_PRODUCTS` and
    /// `BREAKGLASS_CATALOG_PRINCIPALS`); empty entries are dropped.
    pub fn from_lists(products: &str, principals: &str) -> Origin {
        let list =
            |s: &str| s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect();
        Origin { products: list(products), principals: list(principals) }
    }

    /// The provisioning principal, when the stack is a breakglass product provisioned by an
    /// allowed principal; else why not.
    pub fn verify(&self, stack: &str, p: Option<&Provisioning>) -> Result<String, String> {
        let p = p.ok_or_else(|| format!("stack `{stack}` does not exist"))?;
        let product = p
            .product_arn
            .as_deref()
            .ok_or_else(|| format!("stack `{stack}` was not provisioned by Service Catalog"))?;
        let id = product.rsplit('/').next().unwrap_or(product);
        if !self.products.iter().any(|x| x == id) {
            return Err(format!("product `{id}` is not a breakglass product"));
        }
        let who = p
            .principal_arn
            .as_deref()
            .ok_or_else(|| format!("stack `{stack}` names no provisioning principal"))?;
        if !self.principals.iter().any(|allowed| principal_is(allowed, who)) {
            return Err(format!("`{who}` may not provision breakglass products"));
        }
        Ok(who.to_owned())
    }
}

/// `who` is `allowed`, or a session of the role `allowed` (session ARNs carry no role path).
fn principal_is(allowed: &str, who: &str) -> bool {
    if allowed == who {
        return true;
    }
    match (Arn::parse(allowed), Arn::parse(who)) {
        (Ok(role), Ok(session))
            if role.service == "iam" && session.service == "sts" && role.account == session.account =>
        {
            let role = role.resource.strip_prefix("role/").map(|r| r.rsplit('/').next().unwrap_or(r));
            let session_role =
                session.resource.strip_prefix("assumed-role/").and_then(|r| r.split('/').next());
            role.is_some() && role == session_role
        }
        _ => false,
    }
}

/// The catalog function's collaborators: the buckets, the bus, CloudFormation (to answer and to
/// learn where a request came from), and who may use it.
#[derive(Debug)]
pub struct Catalog<'a, S, B, R, P, L> {
    pub config: &'a Config,
    pub store: &'a S,
    pub bus: &'a B,
    pub responder: &'a R,
    pub provenance: &'a P,
    pub origin: &'a Origin,
    /// Where a request is recorded (writer [`crate::trail::audit::CATALOG`]) before it is mailed:
    /// the gate decides only requests breakglass recorded. `None`: requests are refused.
    pub trail: Option<&'a crate::trail::audit::Trail<L>>,
}

/// Handles one custom-resource event; `budget` is how long the work may take so that the answer is
/// still sent before Lambda stops the function. Returns what was sent to CloudFormation.
///
/// Only a request from a stack that Service Catalog provisioned from a breakglass product, for an
/// allowed principal, is acted on; the requester recorded and mailed is that principal, as
/// CloudFormation's own tags name it, never something the request says; what it acts on is what the
/// stack's parameters say, and a request whose properties say otherwise is refused. Anything else is
/// refused, answered FAILED and reported as a refused request.
pub async fn handle<S: PolicyStore, B: EventBus, R: Responder, P: Provenance, L: crate::ports::AuditLog>(
    c: &Catalog<'_, S, B, R, P, L>,
    raw: &Value,
    now: OffsetDateTime,
    budget: std::time::Duration,
) -> Result<Value, CatalogError> {
    let (config, store, bus, responder) = (c.config, c.store, c.bus, c.responder);
    let s = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let url = s("ResponseURL");
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        tracing::error!("custom resource event without ResponseURL; nothing can be answered");
        return Err(CatalogError::NoResponseUrl);
    }
    let request_type = s("RequestType");
    let stack = s("StackId");
    let physical_in = raw.get("PhysicalResourceId").and_then(Value::as_str).map(str::to_owned);

    // Err((reason, refused)): `refused` when nothing was written because of what was asked.
    let refusal = |reason: String| (reason, true);
    let protected = |bucket: &str| {
        config.bucket(bucket).ok_or_else(|| refusal(format!("bucket `{bucket}` is not protected")))
    };
    let operate_error = |e: operate::OperateError| (e.to_string(), e.is_refusal());
    let work = async {
        let provisioning = c.provenance.provisioning(&stack).await.map_err(|e| (e.to_string(), false))?;
        let (who, requester) = match c.origin.verify(&stack, provisioning.as_ref()) {
            Ok(who) => (who.clone(), format!("{who} via Service Catalog (stack {stack})")),
            Err(why) => {
                refuse_unverified(bus, raw, &why, now).await;
                return Err(refusal(format!("not a verified Service Catalog request: {why}")));
            }
        };
        let props = raw.get("ResourceProperties").cloned().unwrap_or(Value::Null);
        // A delete closes or does nothing, the safe direction, so its properties are taken as sent:
        // CloudFormation deletes a replaced resource (an update to another bucket) with the *old*
        // properties, which the stack's parameters no longer show, and comparing refused the close
        // and left the old bucket open (catalog review). The rollback of a refused create acts on
        // nothing either way.
        let props = if request_type == "Delete" {
            props
        } else {
            let parameters = provisioning.map(|p| p.parameters).unwrap_or_default();
            match provisioned(&props, &parameters, &stack) {
                Ok(props) => props,
                Err(why) => {
                    refuse_unverified(bus, raw, &why, now).await;
                    return Err(refusal(format!("not what the stack provisioned: {why}")));
                }
            }
        };
        let asked = asked(&request_type, &props, physical_in.as_deref()).map_err(refusal)?;
        match asked {
            Asked::Nothing(why) => Ok((why.to_owned(), json!({}))),
            Asked::Open { bucket, request } => {
                let b = protected(&bucket)?;
                let done =
                    operate::open(b, store, bus, &request, &requester, now).await.map_err(operate_error)?;
                let expiry = done.grant.as_ref().map(|g| format_expiry(g.expiry)).unwrap_or_default();
                Ok((
                    format!("opened `{bucket}` until {expiry}"),
                    json!({ "Bucket": bucket, "Expiry": expiry, "PolicySha256": done.policy_hash }),
                ))
            }
            Asked::Request { bucket, request } => {
                let b = protected(&bucket)?;
                // The requester is the provisioning principal as CloudFormation's tags name it: the
                // approver is compared with that, never with a name the request carries.
                let q = crate::access::approval::request(
                    b,
                    &who,
                    &request.reason,
                    &request.ticket,
                    request.duration,
                    &request.readers,
                    now,
                )
                .map_err(|e| refusal(e.to_string()))?;
                // Recorded first, as the gate records its own: the gate decides only requests
                // breakglass recorded, never one that reached the bus another way.
                let trail = c.trail.ok_or_else(|| {
                    refusal(
                        "the config has no `[audit]` table: the two-person rule keeps its requests there"
                            .into(),
                    )
                })?;
                let event = crate::events::OwnEvent::AccessRequest(q.clone());
                let account = config.organisation.as_ref().map(|_| b.account.as_str());
                let record = crate::trail::audit::record_by(
                    crate::trail::audit::CATALOG,
                    &event,
                    account,
                    trail.config_sha256.as_deref(),
                )
                .ok_or_else(|| ("the request's record could not be made".to_owned(), false))?;
                trail
                    .write(&record, now)
                    .await
                    .map_err(|e| (format!("the request could not be recorded: {e}"), false))?;
                bus.put(&event.to_bus())
                    .await
                    .map_err(|e| (format!("the request could not be put on the bus: {e}"), false))?;
                Ok((
                    format!("requested access to `{bucket}`: request {}, waiting for another approver", q.id),
                    json!({ "Bucket": bucket, "RequestId": q.id, "ExpiresAt": q.expires_at }),
                ))
            }
            Asked::Close { bucket, reason } => {
                let b = protected(&bucket)?;
                let done =
                    operate::close(b, store, bus, &reason, &requester, now).await.map_err(operate_error)?;
                Ok((
                    format!("closed `{bucket}`"),
                    json!({ "Bucket": bucket, "PolicySha256": done.policy_hash }),
                ))
            }
        }
    };
    let outcome = match tokio::time::timeout(budget, work).await {
        Ok(r) => r,
        Err(_) => Err((
            "timed out before the bucket policy could be written and checked; run `breakglass status`"
                .to_owned(),
            false,
        )),
    };

    // The physical id names action and bucket: an update to another bucket gets a new id, so
    // CloudFormation deletes the old resource, which closes the old bucket. A refused create gets an
    // id that delete recognises and ignores (nothing was written, and someone else's grant must not
    // be closed). A create that failed for any other reason may have opened the bucket: it keeps the
    // real id, so the rollback's delete closes it (fail closed). A failed update or delete keeps the
    // id it had.
    let bucket_prop = raw
        .get("ResourceProperties")
        .and_then(|p| p.get("Bucket"))
        .and_then(Value::as_str)
        .filter(|b| is_bucket_name(b))
        .unwrap_or("invalid");
    let failed_id = format!("{FAILED_ID}{}", s("RequestId"));
    let own_id = format!("breakglass-{}-{bucket_prop}", action_of(raw));
    let physical = match (&outcome, request_type.as_str()) {
        (Err((_, true)), "Create") => failed_id,
        (Err(_), "Create") => own_id,
        (Err(_), _) | (Ok(_), "Delete") => physical_in.unwrap_or(failed_id),
        (Ok(_), _) => own_id,
    };
    let (status, reason, data) = match outcome {
        Ok((reason, data)) => ("SUCCESS", reason, data),
        Err((reason, _)) => {
            tracing::error!(
                reason = reason.as_str(),
                request_type = request_type.as_str(),
                "custom resource failed"
            );
            ("FAILED", reason, json!({}))
        }
    };
    let body = json!({
        "Status": status,
        "Reason": clip_bytes(&reason, MAX_REASON),
        "PhysicalResourceId": physical,
        "StackId": stack,
        "RequestId": s("RequestId"),
        "LogicalResourceId": s("LogicalResourceId"),
        "NoEcho": false,
        "Data": data,
    });
    responder.respond(&url, &body.to_string()).await.map_err(CatalogError::Respond)?;
    Ok(body)
}

/// Puts a refused request on the bus, so that the attempt is mailed and recorded. Best effort: the
/// refusal itself is the protection, and CloudFormation is answered either way.
async fn refuse_unverified<B: EventBus>(bus: &B, raw: &Value, why: &str, now: OffsetDateTime) {
    let prop = |k: &str| {
        raw.get("ResourceProperties")
            .and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .map(|v| clip_bytes(v, 200))
    };
    let stack = raw.get("StackId").and_then(Value::as_str).map(|v| clip_bytes(v, 300)).unwrap_or_default();
    let Some(bucket) = prop("Bucket").filter(|b| is_bucket_name(b)) else { return };
    let event = crate::events::Request {
        action: prop("Action").unwrap_or_default().to_ascii_lowercase(),
        outcome: Some("refused".into()),
        error: Some(clip_bytes(why, 500)),
        reason: prop("Reason"),
        ticket: prop("Ticket"),
        ..crate::events::Request::new(
            &bucket,
            &format!("an unverified caller of the catalog function (stack `{stack}`)"),
            crate::time::format_time(now),
        )
    };
    if let Err(e) = bus.put(&crate::events::OwnEvent::Request(event).to_bus()).await {
        tracing::error!(error = %e, "refused request not reported");
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn clip_bytes(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

fn action_of(raw: &Value) -> String {
    raw.get("ResourceProperties")
        .and_then(|p| p.get("Action"))
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .chars()
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase()
}

fn asked(request_type: &str, props: &Value, physical: Option<&str>) -> Result<Asked, String> {
    let text = |k: &str| props.get(k).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    let action = text("Action").to_ascii_lowercase();
    let bucket = text("Bucket");
    if request_type == "Delete" && physical.is_some_and(|p| p.starts_with(FAILED_ID)) {
        return Ok(Asked::Nothing("nothing to undo: the request had failed"));
    }
    if bucket.is_empty() {
        return Err("property `Bucket` is required".into());
    }
    match (action.as_str(), request_type) {
        ("open", "Create" | "Update") => {
            let duration_text = text("Duration");
            let duration = parse_duration(&duration_text)
                .ok_or_else(|| format!("invalid `Duration` `{duration_text}`: expected e.g. `4h`, `90m`"))?;
            let readers = readers_of(props.get("Readers"));
            let request = OpenRequest { reason: text("Reason"), ticket: text("Ticket"), duration, readers };
            Ok(Asked::Open { bucket, request })
        }
        // An update of a provisioned request would file a new request under the tag of whoever
        // provisioned it first (Service Catalog keeps it), in their name: refused. A changed request
        // is a new product, provisioned by the person asking.
        ("request", "Update") => {
            Err("a request cannot be changed: terminate it and provision \"Request log access\" again".into())
        }
        ("request", "Create") => {
            let duration_text = text("Duration");
            let duration = parse_duration(&duration_text)
                .ok_or_else(|| format!("invalid `Duration` `{duration_text}`: expected e.g. `4h`, `90m`"))?;
            let readers = readers_of(props.get("Readers"));
            let request = OpenRequest { reason: text("Reason"), ticket: text("Ticket"), duration, readers };
            Ok(Asked::Request { bucket, request })
        }
        ("request", "Delete") => Ok(Asked::Nothing(
            "terminating \"Request log access\" changes nothing: the request stays until decided or expired",
        )),
        // Terminating "Open log access" ends the access it granted.
        ("open", "Delete") => Ok(Asked::Close {
            bucket,
            reason: format!(
                "Service Catalog product \"Open log access\" terminated (ticket {})",
                text("Ticket")
            ),
        }),
        ("close", "Create" | "Update") => Ok(Asked::Close { bucket, reason: text("Reason") }),
        ("close", "Delete") => Ok(Asked::Nothing("terminating \"Close log access\" changes nothing")),
        (other, _) => Err(format!("unknown `Action` `{other}` or `RequestType` `{request_type}`")),
    }
}
