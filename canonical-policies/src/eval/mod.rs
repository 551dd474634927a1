//! A policy evaluator for the IAM subset bucket policies (and the SCP and role policies breakglass
//! renders) use: to *prove* things about the templates ("under ClosedAccess nobody can read an
//! object") and to explain a decision to an operator.
//!
//! It follows the IAM user guide: explicit deny wins, then allow, else implicit deny; an account
//! principal in an Allow delegates to the account ([`Decision::AllowIfIdentityAllows`]); a
//! `NotPrincipal` exempts only the principals it names exactly; policy variables (`${aws:username}`,
//! `${key, 'default'}`, `${*}`) are substituted in resources and string and ARN conditions; IP
//! conditions compare IPv4 and IPv6 CIDRs; a malformed value in a condition does not match, whether
//! the operator is negated or not; a single-valued operator on a multivalued key does not match.
//!
//! It stays three-valued where AWS's answer depends on facts the request does not carry: a context
//! value given as unknown, a unique principal ID (`AROA…`) or canonical user ID, `{"AWS": "*"}` for
//! anonymous callers (NORMALIZATION.md §11), an empty context value. Such a statement is Unknown; the
//! decision is then "unknown" unless an explicit deny decides it regardless. It never guesses.
//!
//! It evaluates one policy alone: "implicit deny" means this policy grants nothing, and an identity
//! policy of the same account may still allow the request.

mod conditions;
mod pattern;
mod principal;
mod request;

use std::collections::BTreeMap;
use std::fmt;

use crate::policy::{Effect, Policy, Statement};
use conditions::{condition, resource_matches};
use principal::principal_clause;

pub use pattern::glob;
pub use request::{Caller, InvalidCaller, InvalidRequest, Request};

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    Match,
    NoMatch,
    Unknown,
}

impl Tri {
    fn from_bool(b: bool) -> Tri {
        if b {
            Tri::Match
        } else {
            Tri::NoMatch
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::Match => Tri::NoMatch,
            Tri::NoMatch => Tri::Match,
            Tri::Unknown => Tri::Unknown,
        }
    }

    fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::NoMatch, _) | (_, Tri::NoMatch) => Tri::NoMatch,
            (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
            _ => Tri::Match,
        }
    }

    fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Match, _) | (_, Tri::Match) => Tri::Match,
            (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
            _ => Tri::NoMatch,
        }
    }

    fn any(items: impl IntoIterator<Item = Tri>) -> Tri {
        items.into_iter().fold(Tri::NoMatch, Tri::or)
    }

    fn all(items: impl IntoIterator<Item = Tri>) -> Tri {
        items.into_iter().fold(Tri::Match, Tri::and)
    }
}

/// The outcome for one policy alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Allowed only through an account principal (`arn:aws:iam::A:root` or `"A"`): the policy
    /// delegates to account A, so the request is allowed only if an identity policy in A also allows
    /// it (IAM user guide, "AWS account principals").
    AllowIfIdentityAllows {
        account: String,
    },
    ExplicitDeny,
    /// Nothing in this policy allows it (an identity policy in the bucket's account still may).
    ImplicitDeny,
    /// The answer depends on something the request does not say.
    Unknown,
}

impl Decision {
    /// Allowed, outright or if an identity policy allows too: anything but a refusal or "unknown".
    pub fn may_allow(&self) -> bool {
        matches!(self, Decision::Allow | Decision::AllowIfIdentityAllows { .. })
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow => f.write_str("allow"),
            Decision::AllowIfIdentityAllows { account } => {
                write!(f, "allow if an identity policy in account {account} allows")
            }
            Decision::ExplicitDeny => f.write_str("explicit-deny"),
            Decision::ImplicitDeny => f.write_str("implicit-deny"),
            Decision::Unknown => f.write_str("unknown"),
        }
    }
}

/// A decision and the statements (by index in the policy) that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub decision: Decision,
    pub deciding: Vec<usize>,
}

/// How one statement applies to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Applies {
    tri: Tri,
    /// It applies only because its Principal names the caller's account.
    via_account: bool,
}

/// Evaluates `request` against `policy`: explicit deny wins, then allow (a direct one before one
/// through an account principal), else implicit deny; Unknown statements make the result unknown
/// unless an applying deny already settles it.
pub fn explain(policy: &Policy, request: &Request) -> Explanation {
    let ctx = request.full_context();
    let vars = policy.version == Some(crate::Version::V2012_10_17);
    let results: Vec<(usize, &Statement, Applies)> = policy
        .statements
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s, statement_applies(s, request, &ctx, vars)))
        .collect();
    let pick = |effect: Effect, t: Tri, via_account: Option<bool>| -> Vec<usize> {
        results
            .iter()
            .filter(|(_, s, a)| {
                s.effect == effect && a.tri == t && via_account.is_none_or(|v| a.via_account == v)
            })
            .map(|(i, _, _)| *i)
            .collect()
    };
    // Precedence, first that has statements wins: explicit deny, a deny that may apply, a direct allow,
    // an allow that may apply; then an allow through an account principal, else implicit deny.
    let rules = [
        (Effect::Deny, Tri::Match, None, Decision::ExplicitDeny),
        (Effect::Deny, Tri::Unknown, None, Decision::Unknown),
        (Effect::Allow, Tri::Match, Some(false), Decision::Allow),
        (Effect::Allow, Tri::Unknown, None, Decision::Unknown),
    ];
    for (effect, tri, via_account, decision) in rules {
        let deciding = pick(effect, tri, via_account);
        if !deciding.is_empty() {
            return Explanation { decision, deciding };
        }
    }
    let delegated = pick(Effect::Allow, Tri::Match, Some(true));
    if let Some(account) = request.caller.account().filter(|_| !delegated.is_empty()) {
        return Explanation {
            decision: Decision::AllowIfIdentityAllows { account: account.to_owned() },
            deciding: delegated,
        };
    }
    Explanation { decision: Decision::ImplicitDeny, deciding: Vec::new() }
}

/// Context keys; `None` marks a key that exists but whose value is not known: conditions on it are
/// Unknown.
pub(super) type Context = BTreeMap<String, Option<Vec<String>>>;

pub(super) fn statement_applies(s: &Statement, r: &Request, ctx: &Context, vars: bool) -> Applies {
    let (principal, via_account) = principal_clause(&s.principal, &r.caller, s.effect);
    let action =
        Tri::any(s.action.values.iter().map(|a| Tri::from_bool(glob(&a.folded(), &r.action.to_lowercase()))));
    let action = if s.action.negated { action.not() } else { action };
    let resource = Tri::any(s.resource.values.iter().map(|p| resource_matches(p, &r.resource, ctx, vars)));
    let resource = if s.resource.negated { resource.not() } else { resource };
    let conditions = Tri::all(s.condition.iter().flat_map(|(op, keys)| {
        keys.iter().map(move |(key, values)| condition(op, &key.folded(), values, ctx, vars))
    }));
    Applies { tri: Tri::all([principal, action, resource, conditions]), via_account }
}
