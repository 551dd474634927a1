//! Classification of a bucket's current policy: `closed`, `open` (until its expiry), `expired`, or
//! `drift`. Decided by canonical hash against the rendered templates, never by Sid: an attacker can name
//! a statement anything.

use std::fmt;

use time::OffsetDateTime;

use crate::grant::{BucketTemplates, GrantError, HumanDuration};
use crate::policy::{Policy, Principal, PrincipalKind};
use crate::template::{
    self, OpenGrant, TemplateKind, CLOSED_SID, OPEN_EXPIRY_SID, OPEN_READERS_SID, OPEN_SID,
};
use crate::{PolicyError, PolicyHash, Quoted};

/// How far ahead of ours the clock of the host that opened access may run.
pub const CLOCK_SKEW_ALLOWANCE: time::Duration = time::Duration::minutes(5);

/// The verdict on a bucket policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Exactly the ClosedAccess template.
    Closed,
    /// Exactly an OpenAccess for allowed readers, expiring in the future within the configured maximum.
    Open(OpenGrant),
    /// Exactly an OpenAccess, but its expiry has passed: reads are denied by the policy itself, and the
    /// sweep restores ClosedAccess.
    Expired(OpenGrant),
    /// Anything else. Never empty.
    Drift(Vec<DriftReason>),
}

impl State {
    /// `closed`, `open`, `expired` or `drift`: the first word of `breakglass policy classify`.
    pub fn word(&self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open(_) => "open",
            State::Expired(_) => "expired",
            State::Drift(_) => "drift",
        }
    }
}

/// Why a policy is drift. Displayed as one lowercase sentence for logs and emails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriftReason {
    #[error("the bucket has no policy")]
    NoPolicy,
    #[error("the policy cannot be parsed: {0}")]
    Unparseable(PolicyError),
    #[error("the policy matches neither the `ClosedAccess` nor the `OpenAccess` template")]
    MatchesNoTemplate,
    #[error("the first statement calls itself {} but the policy is not that template", Quoted(.sid))]
    ClaimsTemplate { sid: String },
    #[error("the `OpenAccess` names reader {} who is not an investigator role of this bucket", Quoted(.reader))]
    ReaderNotAllowed { reader: String },
    #[error("the `OpenAccess` expires at {}, more than {max} from now", Quoted(.expiry))]
    ExpiryBeyondMaximum { expiry: String, max: HumanDuration },
}

/// The full result: state plus what a report needs about the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub state: State,
    /// SHA-256 of the canonical form; `None` when there is no policy or it does not parse.
    pub hash: Option<PolicyHash>,
    /// The first statement's Sid as written: the state the policy *claims*.
    pub claimed: Option<String>,
    /// The template whose shape the policy has, if any (also set for an unlawful OpenAccess).
    pub template: Option<TemplateKind>,
}

impl Classification {
    /// True when the first statement's Sid names a state (ClosedAccess, OpenAccess) that the content
    /// does not have: the warning stakeholders see. Any other Sid claims nothing.
    pub fn claim_mismatch(&self) -> bool {
        match self.claimed.as_deref() {
            Some(CLOSED_SID) => self.state != State::Closed,
            Some(OPEN_SID) => !matches!(self.state, State::Open(_) | State::Expired(_)),
            _ => false,
        }
    }
}

impl fmt::Display for Classification {
    /// `closed`, `open until 2026-…Z`, `expired at …`, or `drift: reason; reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Closed => f.write_str("closed"),
            State::Open(g) => write!(f, "open until {}", template::format_expiry(g.expiry)),
            State::Expired(g) => write!(f, "expired at {}", template::format_expiry(g.expiry)),
            State::Drift(reasons) => {
                f.write_str("drift: ")?;
                for (i, r) in reasons.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{r}")?;
                }
                Ok(())
            }
        }
    }
}

/// Classifies the policy text S3 returned for `bucket` (`None`: GetBucketPolicy said there is none).
pub fn classify(
    bucket: &(impl AsRef<BucketTemplates> + ?Sized),
    text: Option<&[u8]>,
    now: OffsetDateTime,
) -> Classification {
    classify_text(bucket, text, now).0
}

/// [`classify`], also returning the parsed policy (for a diff), so that it is parsed only once.
pub fn classify_text(
    bucket: &(impl AsRef<BucketTemplates> + ?Sized),
    text: Option<&[u8]>,
    now: OffsetDateTime,
) -> (Classification, Option<Policy>) {
    let drift = |reason| Classification {
        state: State::Drift(vec![reason]),
        hash: None,
        claimed: None,
        template: None,
    };
    let Some(text) = text else {
        return (drift(DriftReason::NoPolicy), None);
    };
    match Policy::parse_in(text, &bucket.as_ref().inputs().partition) {
        Ok(policy) => (classify_policy(bucket, &policy, now), Some(policy)),
        Err(e) => (drift(DriftReason::Unparseable(e)), None),
    }
}

/// Classifies an already parsed policy.
pub fn classify_policy(
    bucket: &(impl AsRef<BucketTemplates> + ?Sized),
    policy: &Policy,
    now: OffsetDateTime,
) -> Classification {
    let bucket = bucket.as_ref();
    let hash = policy.hash();
    let claimed = policy.claimed_state().map(str::to_owned);
    let done =
        |state, template| Classification { state, hash: Some(hash), claimed: claimed.clone(), template };

    if hash == bucket.closed_hash() {
        return done(State::Closed, Some(TemplateKind::Closed));
    }
    if let Some(grant) = open_grant_candidate(policy) {
        // Re-render the OpenAccess with the policy's own readers and expiry: if the hashes match, the
        // policy *is* an OpenAccess, and only then do we ask whether its parameters are lawful.
        if bucket.render_open_unchecked(&grant).is_ok_and(|p| p.hash() == hash) {
            let state = match bucket.check_grant(&grant, now) {
                Ok(()) => State::Open(grant),
                Err(GrantError::NotInFuture(_)) => State::Expired(grant),
                Err(GrantError::ReaderNotAllowed { reader, .. }) => {
                    State::Drift(vec![DriftReason::ReaderNotAllowed { reader }])
                }
                // A grant written at the maximum by a host whose clock runs slightly ahead is still lawful.
                Err(GrantError::BeyondMaximum { .. })
                    if grant.expiry - now <= bucket.inputs().max_open_duration + CLOCK_SKEW_ALLOWANCE =>
                {
                    State::Open(grant)
                }
                Err(GrantError::BeyondMaximum { expiry, max }) => {
                    State::Drift(vec![DriftReason::ExpiryBeyondMaximum { expiry, max }])
                }
                Err(GrantError::NoReaders | GrantError::Render(_)) => {
                    State::Drift(vec![DriftReason::MatchesNoTemplate])
                }
            };
            return done(state, Some(TemplateKind::Open));
        }
    }
    let mut reasons = vec![DriftReason::MatchesNoTemplate];
    if let Some(sid) = claimed.as_deref().filter(|s| *s == CLOSED_SID || *s == OPEN_SID) {
        reasons.push(DriftReason::ClaimsTemplate { sid: sid.to_owned() });
    }
    done(State::Drift(reasons), None)
}

/// Reads the readers and expiry an OpenAccess-shaped policy would have, from whichever statement
/// still carries them. Only a candidate: classification proves it by re-rendering and comparing hashes.
pub(crate) fn open_grant_candidate(policy: &Policy) -> Option<OpenGrant> {
    let by_sid = |sid: &str| policy.statements.iter().find(|s| s.sid.as_deref() == Some(sid));
    let condition_value = |sid: &str, op: &str, key: &str| -> Option<&String> {
        let values = by_sid(sid)?.condition.get(op)?.iter().find(|(k, _)| k.folded() == key)?.1;
        let mut it = values.iter();
        match (it.next(), it.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    };
    let readers = by_sid(OPEN_READERS_SID)
        .and_then(|s| match &s.principal.values {
            Principal::Typed(map) => map.get(&PrincipalKind::Aws).cloned(),
            Principal::Anyone => None,
        })
        .or_else(|| {
            let s = by_sid(OPEN_SID)?;
            let values =
                s.condition.get("ArnNotEquals")?.iter().find(|(k, _)| k.folded() == "aws:principalarn")?.1;
            Some(values.clone())
        })?;
    let expiry = condition_value(OPEN_EXPIRY_SID, "DateGreaterThanEquals", "aws:currenttime")
        .or_else(|| condition_value(OPEN_READERS_SID, "DateLessThan", "aws:currenttime"))
        .and_then(|e| template::parse_expiry(e))?;
    Some(OpenGrant { readers: readers.into_iter().collect(), expiry })
}
