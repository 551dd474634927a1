//! `Principal` and `NotPrincipal` against the caller.

use super::request::{last_segment, Caller};
use super::Tri;
use crate::policy::{Clause, Effect, Principal, PrincipalKind};
use crate::Arn;

/// How one principal value matches the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PrincipalMatch {
    /// Names the caller (or, for a role, the role whose session the caller is).
    Exact,
    /// Names the caller's account (`arn:aws:iam::A:root`), and the caller is not that root user.
    Account,
    Unknown,
    No,
}

/// `Principal` matches when any value names the caller or its account; `NotPrincipal` applies to
/// everyone it does not name *exactly*: listing an account or a role does not exempt the account's
/// users or the role's sessions (IAM user guide, "NotPrincipal": "you must also specify the account
/// ARN of the not-denied principal").
pub(super) fn principal_clause(clause: &Clause<Principal>, caller: &Caller, effect: Effect) -> (Tri, bool) {
    let map = match &clause.values {
        Principal::Anyone => return (Tri::from_bool(!clause.negated), false),
        Principal::Typed(map) => map,
    };
    let values = || map.iter().flat_map(|(kind, values)| values.iter().map(move |v| (*kind, v.as_str())));
    if clause.negated {
        let named = Tri::any(values().map(|(kind, v)| names_exactly(kind, v, caller)));
        // "you must also specify the account ARN of the not-denied principal. Otherwise, the policy
        // might deny access to the entire account containing the principal": named without its
        // account (a role session: without its role too), it is not known to be spared.
        let named = if named == Tri::Match && !chain_named(map, caller) { Tri::Unknown } else { named };
        return (named.not(), false);
    }
    let matches: Vec<PrincipalMatch> = values().map(|(kind, v)| principal_value(kind, v, caller)).collect();
    let has = |m: PrincipalMatch| matches.contains(&m);
    match effect {
        // A deny on an account applies to everyone in it.
        Effect::Deny if has(PrincipalMatch::Exact) || has(PrincipalMatch::Account) => (Tri::Match, false),
        Effect::Allow if has(PrincipalMatch::Exact) => (Tri::Match, false),
        _ if has(PrincipalMatch::Unknown) => (Tri::Unknown, false),
        Effect::Allow if has(PrincipalMatch::Account) => (Tri::Match, true),
        _ => (Tri::NoMatch, false),
    }
}

pub(super) fn principal_value(kind: PrincipalKind, v: &str, caller: &Caller) -> PrincipalMatch {
    let exact = |b: bool| if b { PrincipalMatch::Exact } else { PrincipalMatch::No };
    match kind {
        PrincipalKind::Service => match caller {
            Caller::Service(name) => exact(v.eq_ignore_ascii_case(name)),
            _ => PrincipalMatch::No,
        },
        PrincipalKind::Federated => PrincipalMatch::No,
        // Canonical user IDs map to accounts or OAIs we cannot resolve here.
        PrincipalKind::CanonicalUser => PrincipalMatch::Unknown,
        PrincipalKind::Aws => {
            if v == "*" {
                // Whether {"AWS":"*"} covers anonymous callers and services is disputed (NORMALIZATION §11).
                return if caller.is_iam() { PrincipalMatch::Exact } else { PrincipalMatch::Unknown };
            }
            if !caller.is_iam() {
                return PrincipalMatch::No;
            }
            let Some((service, account, resource)) = iam_arn_parts(v) else {
                // A unique ID (AROA…) left by a deleted principal, or something we cannot resolve.
                return PrincipalMatch::Unknown;
            };
            match (service, resource) {
                ("iam", "root") => match caller {
                    _ if caller.account() != Some(account) => PrincipalMatch::No,
                    Caller::Root { .. } => PrincipalMatch::Exact,
                    _ => PrincipalMatch::Account,
                },
                // A role ARN names the role's sessions; session ARNs carry no path, so the name decides.
                ("iam", res) if res.starts_with("role/") => exact(match caller {
                    Caller::Role { arn, .. } => same_principal(arn, v),
                    Caller::Session { account: a, role, .. } => {
                        a == account && last_segment(res).eq_ignore_ascii_case(role)
                    }
                    _ => false,
                }),
                ("iam", res) if res.starts_with("user/") => {
                    exact(matches!(caller, Caller::User { arn, .. } if same_principal(arn, v)))
                }
                ("sts", res) if res.starts_with("assumed-role/") => match caller {
                    Caller::Session { arn, .. } => exact(same_principal(arn, v)),
                    // "A session of this role", not which one: a session of the same role may be the
                    // one named.
                    Caller::Role { account: a, name, .. } if a == account && names_session_of(res, name) => {
                        PrincipalMatch::Unknown
                    }
                    _ => PrincipalMatch::No,
                },
                _ => PrincipalMatch::Unknown,
            }
        }
    }
}

/// Whether a `NotPrincipal` value names this very caller.
pub(super) fn names_exactly(kind: PrincipalKind, v: &str, caller: &Caller) -> Tri {
    match kind {
        PrincipalKind::Service => {
            Tri::from_bool(matches!(caller, Caller::Service(n) if v.eq_ignore_ascii_case(n)))
        }
        PrincipalKind::Federated => Tri::NoMatch,
        PrincipalKind::CanonicalUser => Tri::Unknown,
        PrincipalKind::Aws if v == "*" => {
            if caller.is_iam() {
                Tri::Match
            } else {
                Tri::Unknown
            }
        }
        PrincipalKind::Aws if iam_arn_parts(v).is_none() => Tri::Unknown,
        // "A session of this role": the role's ARN does not name its sessions, and a session ARN of
        // the role may or may not be this one.
        PrincipalKind::Aws => match caller {
            Caller::Role { account, name, .. } => {
                let session_of_role = iam_arn_parts(v).is_some_and(|(service, a, res)| {
                    service == "sts" && a == account && names_session_of(res, name)
                });
                if session_of_role {
                    Tri::Unknown
                } else {
                    Tri::NoMatch
                }
            }
            _ => Tri::from_bool(caller.own_arn().is_some_and(|own| same_principal(&own, v))),
        },
    }
}

/// Whether the AWS principals of `map` name what IAM checks before `caller` itself: its account's
/// root and, for a role session, its role (by name: a session ARN carries no path).
fn chain_named(
    map: &std::collections::BTreeMap<PrincipalKind, crate::SortedSet<String>>,
    caller: &Caller,
) -> bool {
    let Some(account) = caller.account() else { return true };
    let named: Vec<(&str, &str, &str)> =
        map.get(&PrincipalKind::Aws).into_iter().flatten().filter_map(|v| iam_arn_parts(v)).collect();
    let root = named.iter().any(|(service, a, r)| *service == "iam" && *a == account && *r == "root");
    let role = match caller {
        Caller::Session { role, .. } => named.iter().any(|(service, a, r)| {
            *service == "iam"
                && *a == account
                && r.starts_with("role/")
                && last_segment(r).eq_ignore_ascii_case(role)
        }),
        _ => true,
    };
    root && role
}

/// Whether the resource part of an STS ARN (`assumed-role/<role>/<session>`) is a session of the
/// role named `role` (IAM role names match without case).
fn names_session_of(resource: &str, role: &str) -> bool {
    resource
        .strip_prefix("assumed-role/")
        .and_then(|r| r.split('/').next())
        .is_some_and(|named| named.eq_ignore_ascii_case(role))
}

/// `arn:<partition>:<service>::<account>:<resource>` of IAM and STS principals.
pub(super) fn iam_arn_parts(v: &str) -> Option<(&str, &str, &str)> {
    let arn = Arn::parse(v).ok()?;
    Some((arn.service, arn.account, arn.resource))
}

/// Whether two principal ARNs name the same IAM user, role or role session. IAM does not
/// distinguish user and role names by case (IAM API reference, CreateRole/CreateUser: "Names are not
/// distinguished by case"), so the name, and an assumed-role ARN's role name, match without case;
/// the partition, account, path and session name stay exact. Only the principal element is matched
/// this way: condition operators (`StringEquals` on `aws:PrincipalArn` among them) compare as IAM
/// documents them, with case.
pub(super) fn same_principal(a: &str, b: &str) -> bool {
    match (principal_name(a), principal_name(b)) {
        (Some((head_a, name_a, tail_a)), Some((head_b, name_b, tail_b))) => {
            head_a == head_b && name_a.eq_ignore_ascii_case(name_b) && tail_a == tail_b
        }
        _ => a == b,
    }
}

/// An IAM user or role ARN, or an assumed-role ARN, as (everything before the name, the name,
/// the session name or ""); `None` for anything else.
fn principal_name(arn: &str) -> Option<(&str, &str, &str)> {
    let (service, _, resource) = iam_arn_parts(arn)?;
    let resource_at = arn.len().checked_sub(resource.len())?;
    match service {
        "iam" if resource.starts_with("role/") || resource.starts_with("user/") => {
            let (head, name) = arn.rsplit_once('/')?;
            Some((head, name, ""))
        }
        "sts" => {
            let rest = resource.strip_prefix("assumed-role/")?;
            let (role, session) = rest.split_once('/')?;
            let head = arn.get(..resource_at + "assumed-role".len())?;
            Some((head, role, session))
        }
        _ => None,
    }
}
