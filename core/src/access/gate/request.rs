//! What a call to the gate asks, and who asks it. The caller comes from IAM only (the function
//! URL's `userArn`); the body is typed, refuses unknown fields, and carries no time: the gate
//! stamps every time with its own clock.

use canonical_policies::HumanDuration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::Duration;

/// Longest request id accepted (ids are 12 hex digits).
const MAX_ID: usize = 64;
/// Longest refusal answered: one line, whatever the body held.
pub const MAX_ERROR: usize = 400;
/// Longest access a body may ask for, before the bucket's own maximum is checked.
const MAX_DURATION: Duration = Duration::days(366);

/// One operation: what the CLI sends and the gate reads, through this one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Op {
    /// Ask for access to a bucket under the two-person rule: nothing opens yet.
    Request(Asked),
    /// Approve a request by its id: it opens exactly what was asked, nothing wider.
    Approve {
        request: String,
        /// The request's bucket, as the approver saw it: the id must name a request of it. An id
        /// alone names whichever request has it, and ids are short.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bucket: Option<String>,
    },
    Deny {
        request: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bucket: Option<String>,
        /// Why, for the mail; without it the mail repeats the request's reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Open a bucket that is not under the two-person rule.
    Open(Asked),
    Close {
        bucket: String,
        reason: String,
    },
    /// Organisation mode: propose a new config (its TOML text); nothing changes until another
    /// person approves it.
    Propose {
        config: String,
    },
    /// Approve a config proposal by its id: the gate writes it.
    #[serde(rename = "approve-config")]
    ApproveConfig {
        proposal: String,
    },
}

/// Access asked for: readers left out (or empty) mean every investigator role of the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asked {
    pub bucket: String,
    #[serde(default)]
    pub readers: Vec<String>,
    /// How long, as the config writes durations (`4h`, `1h30m`): from when the gate opens it.
    #[serde(serialize_with = "human", deserialize_with = "duration")]
    pub duration: Duration,
    pub reason: String,
    pub ticket: String,
}

fn human<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&HumanDuration(*d))
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    breakglass_config::parse_duration(&text).filter(|d| *d <= MAX_DURATION).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "invalid duration `{}`: expected e.g. `4h`, `90m`, `1h30m`, at most {}",
            text.chars().take(32).collect::<String>(),
            HumanDuration(MAX_DURATION)
        ))
    })
}

/// Why a call is answered 4xx (nothing was written) or 502 (AWS failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("only POST is answered")]
    Method,
    #[error("{0}")]
    Aws(String),
}

impl GateError {
    /// The HTTP status: 4xx for what was asked, 502 only when AWS failed.
    pub fn status(&self) -> u16 {
        match self {
            GateError::BadRequest(_) => 400,
            GateError::Forbidden(_) => 403,
            GateError::NotFound(_) => 404,
            GateError::Method => 405,
            GateError::Conflict(_) => 409,
            GateError::Aws(_) => 502,
        }
    }
}

/// Refuses an invocation of the gate as a version or alias (`…:function:breakglass-gate:1`): its
/// function URL invokes the function itself, so a qualified ARN is a direct invocation, whose
/// "caller" in the payload whoever invoked it wrote. A direct invocation of the function itself
/// looks like the URL's; the SCP (`DenyInvokingTheGateButThroughItsUrl`) denies both.
pub fn through_its_url(invoked_arn: &str) -> Result<(), GateError> {
    // `arn:partition:lambda:region:account:function:name`, and a qualifier after one more colon.
    let parts: Vec<&str> = invoked_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name] if !name.is_empty() => Ok(()),
        _ => Err(GateError::Forbidden(format!(
            "the gate was invoked as {}: it answers only through its function URL",
            canonical_policies::Quoted(invoked_arn)
        ))),
    }
}

/// `text` as one line of at most [`MAX_ERROR`] characters: control characters escaped (a refusal
/// quotes what was sent, and a newline in it would forge a second line in the CLI or a log).
pub fn one_line(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() { c.escape_default().collect() } else { vec![c] };
            escaped
        })
        .enumerate()
    {
        if n == MAX_ERROR {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

/// The body as an operation; anything else is a 400 naming what is wrong.
pub fn parse_op(body: &str) -> Result<Op, GateError> {
    let op: Op = serde_json::from_str(body)
        .map_err(|e| GateError::BadRequest(one_line(&format!("invalid request: {e}"))))?;
    match &op {
        Op::Approve { request, .. } | Op::Deny { request, .. } | Op::ApproveConfig { proposal: request }
            if request.is_empty()
                || request.len() > MAX_ID
                || !request.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Err(GateError::BadRequest(format!(
                "invalid request id `{}`: expected what the request answered",
                request.chars().take(MAX_ID).collect::<String>()
            )))
        }
        _ => Ok(op),
    }
}

/// A person calling through one of the operator roles: `arn:aws:sts::A:assumed-role/ROLE/SESSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The session's ARN, as the records name requesters and approvers.
    pub arn: String,
    pub role: String,
    /// The session name: who the person is.
    pub person: String,
}

/// IAM Identity Center's prefix of the roles it makes for a permission set in an account:
/// `AWSReservedSSO_<permission set>_<16 hex digits>`, under the path `/aws-reserved/sso.amazonaws.com/`
/// that only Identity Center may change.
const IDENTITY_CENTER: &str = "AWSReservedSSO_";

/// Whether the role name `role` is the gate role `allowed`: the same name, or, for
/// `AWSReservedSSO_<permission set>_*`, the role Identity Center made for that permission set (the
/// `*` standing for its 16 hex digits and nothing else, so another permission set whose name merely
/// begins the same does not match). An Identity Center session is named by AWS after the person
/// who signed in: nobody picks it.
fn is_gate_role(allowed: &str, role: &str) -> bool {
    match allowed.strip_suffix('*').filter(|p| p.starts_with(IDENTITY_CENTER) && p.ends_with('_')) {
        Some(prefix) => role
            .strip_prefix(prefix)
            .is_some_and(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        None => allowed == role,
    }
}

/// The caller of `user_arn` if it is a session of one of `roles` (role names, or an Identity Center
/// permission set's role as [`is_gate_role`] reads it); anything else (an IAM user, root, another
/// role) is refused.
pub fn caller(user_arn: &str, roles: &[String]) -> Result<Caller, GateError> {
    let refused = || {
        GateError::Forbidden(format!(
            "`{user_arn}` may not call the gate: only sessions of the operator roles may"
        ))
    };
    let mut parts = user_arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("sts"), Some(""), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused());
    };
    let Some((role, person)) = resource.strip_prefix("assumed-role/").and_then(|r| r.split_once('/')) else {
        return Err(refused());
    };
    let valid = |s: &str| !s.is_empty() && !s.contains('/') && !s.chars().any(crate::notice::breaks_text);
    if !canonical_policies::is_account_id(account) || !valid(role) || !valid(person) {
        return Err(refused());
    }
    if !roles.iter().any(|r| is_gate_role(r, role)) {
        return Err(refused());
    }
    Ok(Caller { arn: user_arn.to_owned(), role: role.to_owned(), person: person.to_owned() })
}
