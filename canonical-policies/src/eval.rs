//! A bucket-policy evaluator for the IAM subset bucket policies use, to *prove* things about the
//! templates ("under ClosedAccess nobody can read an object") and to explain a decision to an operator.
//!
//! It is deliberately three-valued: every test is Match, NoMatch or Unknown. An operator it does not
//! support (IpAddress, BinaryEquals), a policy variable (`${aws:username}`), an unparseable date or
//! number, or a principal it cannot resolve makes the affected statement Unknown; the decision is then
//! "unknown" unless an explicit deny decides it regardless. It never guesses.
//!
//! It evaluates the bucket policy alone: "implicit deny" means this policy grants nothing, and an
//! identity policy of the same account may still allow the request.

use std::collections::BTreeMap;
use std::fmt;

use time::OffsetDateTime;

use crate::policy::{split_operator, Effect, Policy, Principal, PrincipalKind, Statement};
use crate::template::format_expiry;
use crate::Quoted;

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

/// Who makes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    /// An AWS service principal such as `cloudtrail.amazonaws.com`.
    Service(String),
    Root {
        partition: String,
        account: String,
    },
    User {
        arn: String,
        account: String,
    },
    /// A session of this role (`aws:PrincipalArn` is the role ARN, path included).
    Role {
        arn: String,
        account: String,
        name: String,
    },
    /// An assumed-role session ARN. Its role path is unknown, so `aws:PrincipalArn` is unknown unless
    /// the request's context gives it.
    Session {
        arn: String,
        account: String,
        role: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read principal {}: expected an iam user, role, root or assumed-role arn, a service such as `cloudtrail.amazonaws.com`, or `anonymous`", Quoted(.0))]
pub struct InvalidCaller(pub String);

impl Caller {
    pub fn parse(s: &str) -> Result<Caller, InvalidCaller> {
        let bad = || InvalidCaller(s.to_owned());
        if s == "anonymous" || s == "*" {
            return Ok(Caller::Anonymous);
        }
        if !s.starts_with("arn:") {
            return if s.ends_with(".amazonaws.com") && !s.contains(char::is_whitespace) {
                Ok(Caller::Service(s.to_lowercase()))
            } else {
                Err(bad())
            };
        }
        let mut parts = s.splitn(6, ':');
        let (Some(_), Some(partition), Some(service), Some(_), Some(account), Some(resource)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if !crate::policy::is_account_id(account) {
            return Err(bad());
        }
        let (partition, account) = (partition.to_owned(), account.to_owned());
        match (service, resource.split_once('/')) {
            ("iam", None) if resource == "root" => Ok(Caller::Root { partition, account }),
            ("iam", Some(("user", _))) => Ok(Caller::User { arn: s.to_owned(), account }),
            ("iam", Some(("role", path))) => {
                let name = path.rsplit('/').next().filter(|n| !n.is_empty()).ok_or_else(bad)?.to_owned();
                Ok(Caller::Role { arn: s.to_owned(), account, name })
            }
            ("sts", Some(("assumed-role", rest))) => {
                let (role, session) = rest.split_once('/').ok_or_else(bad)?;
                if role.is_empty() || session.is_empty() {
                    return Err(bad());
                }
                Ok(Caller::Session { arn: s.to_owned(), account, role: role.to_owned() })
            }
            _ => Err(bad()),
        }
    }

    fn account(&self) -> Option<&str> {
        match self {
            Caller::Anonymous | Caller::Service(_) => None,
            Caller::Root { account, .. }
            | Caller::User { account, .. }
            | Caller::Role { account, .. }
            | Caller::Session { account, .. } => Some(account),
        }
    }

    /// `aws:PrincipalArn`.
    fn principal_arn(&self) -> Option<String> {
        match self {
            Caller::Anonymous | Caller::Service(_) => None,
            Caller::Root { partition, account } => Some(format!("arn:{partition}:iam::{account}:root")),
            Caller::User { arn, .. } | Caller::Role { arn, .. } => Some(arn.clone()),
            // A session's aws:PrincipalArn is its role ARN *with path*, which the session ARN lacks.
            Caller::Session { .. } => None,
        }
    }

    fn is_iam(&self) -> bool {
        self.account().is_some()
    }
}

/// One request to evaluate.
#[derive(Debug, Clone)]
pub struct Request {
    pub caller: Caller,
    pub action: String,
    pub resource: String,
    pub time: OffsetDateTime,
    /// Extra context keys (`aws:SecureTransport` → `["true"]`); keys are matched case-insensitively.
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(caller: Caller, action: &str, resource: &str, time: OffsetDateTime) -> Request {
        Request {
            caller,
            action: action.to_owned(),
            resource: resource.to_owned(),
            time,
            context: BTreeMap::new(),
        }
    }

    /// Adds a context key (`aws:SecureTransport=true`); overrides a derived key of the same name.
    pub fn with(mut self, key: &str, value: &str) -> Request {
        self.context.entry(key.to_lowercase()).or_default().push(value.to_owned());
        self
    }

    /// Context keys the request implies, under any given explicitly (those win).
    fn full_context(&self) -> Context {
        let mut ctx = Context::new();
        let mut set = |k: &str, v: Option<String>| ctx.insert(k.to_owned(), v.map(|v| vec![v]));
        set("aws:currenttime", Some(format_expiry(self.time)));
        set("aws:epochtime", Some(self.time.unix_timestamp().to_string()));
        match &self.caller {
            Caller::Session { .. } => {
                set("aws:principalarn", None);
            }
            caller => {
                if let Some(arn) = caller.principal_arn() {
                    set("aws:principalarn", Some(arn));
                }
            }
        }
        if let Some(account) = self.caller.account() {
            set("aws:principalaccount", Some(account.to_owned()));
        }
        if !matches!(self.caller, Caller::Anonymous) {
            set("aws:principalisawsservice", Some(matches!(self.caller, Caller::Service(_)).to_string()));
        }
        if let Caller::Service(name) = &self.caller {
            set("aws:principalservicename", Some(name.clone()));
        }
        for (k, v) in &self.context {
            ctx.insert(k.clone(), Some(v.clone()));
        }
        ctx
    }
}

/// The outcome for the bucket policy alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    /// Nothing in this policy allows it (an identity policy in the bucket's account still may).
    ImplicitDeny,
    /// The answer depends on something the evaluator does not model.
    Unknown,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allow => "allow",
            Decision::ExplicitDeny => "explicit-deny",
            Decision::ImplicitDeny => "implicit-deny",
            Decision::Unknown => "unknown",
        })
    }
}

/// A decision and the statements (by index in the policy) that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub decision: Decision,
    pub deciding: Vec<usize>,
}

/// Evaluates `request` against `policy`: explicit deny wins, then allow, else implicit deny; Unknown
/// statements make the result unknown unless an applying deny already settles it.
pub fn explain(policy: &Policy, request: &Request) -> Explanation {
    let ctx = request.full_context();
    let uses_variables = policy.version == Some(crate::Version::V2012_10_17);
    let results: Vec<(usize, &Statement, Tri)> = policy
        .statements
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s, statement_applies(s, request, &ctx, uses_variables)))
        .collect();
    let pick = |effect: Effect, t: Tri| -> Vec<usize> {
        results.iter().filter(|(_, s, r)| s.effect == effect && *r == t).map(|(i, _, _)| *i).collect()
    };
    let deny = pick(Effect::Deny, Tri::Match);
    if !deny.is_empty() {
        return Explanation { decision: Decision::ExplicitDeny, deciding: deny };
    }
    let unknown_deny = pick(Effect::Deny, Tri::Unknown);
    if !unknown_deny.is_empty() {
        return Explanation { decision: Decision::Unknown, deciding: unknown_deny };
    }
    let allow = pick(Effect::Allow, Tri::Match);
    if !allow.is_empty() {
        return Explanation { decision: Decision::Allow, deciding: allow };
    }
    let unknown_allow = pick(Effect::Allow, Tri::Unknown);
    if !unknown_allow.is_empty() {
        return Explanation { decision: Decision::Unknown, deciding: unknown_allow };
    }
    Explanation { decision: Decision::ImplicitDeny, deciding: Vec::new() }
}

/// Context keys; `None` marks a key that exists but whose value is not known: conditions on it are
/// Unknown.
type Context = BTreeMap<String, Option<Vec<String>>>;

fn statement_applies(s: &Statement, r: &Request, ctx: &Context, vars: bool) -> Tri {
    let principal = principal_matches(&s.principal.values, &r.caller);
    let principal = if s.principal.negated { principal.not() } else { principal };
    let action =
        Tri::any(s.action.values.iter().map(|a| Tri::from_bool(glob(&a.folded(), &r.action.to_lowercase()))));
    let action = if s.action.negated { action.not() } else { action };
    let resource = Tri::any(s.resource.values.iter().map(|p| {
        if vars && p.contains("${") {
            Tri::Unknown
        } else {
            Tri::from_bool(arn_like(p, &r.resource))
        }
    }));
    let resource = if s.resource.negated { resource.not() } else { resource };
    let conditions = Tri::all(s.condition.iter().flat_map(|(op, keys)| {
        keys.iter().map(move |(key, values)| condition(op, &key.folded(), values, ctx, vars))
    }));
    Tri::all([principal, action, resource, conditions])
}

fn principal_matches(p: &Principal, caller: &Caller) -> Tri {
    let map = match p {
        Principal::Anyone => return Tri::Match,
        Principal::Typed(map) => map,
    };
    Tri::any(
        map.iter().flat_map(|(kind, values)| values.iter().map(move |v| principal_value(*kind, v, caller))),
    )
}

fn principal_value(kind: PrincipalKind, v: &str, caller: &Caller) -> Tri {
    match kind {
        PrincipalKind::Service => match caller {
            Caller::Service(name) => Tri::from_bool(v.eq_ignore_ascii_case(name)),
            _ => Tri::NoMatch,
        },
        PrincipalKind::Federated => Tri::from_bool(false),
        // Canonical user IDs map to accounts or OAIs we cannot resolve here.
        PrincipalKind::CanonicalUser => Tri::Unknown,
        PrincipalKind::Aws => {
            if v == "*" {
                // Whether {"AWS":"*"} covers anonymous callers and services is disputed (NORMALIZATION §11).
                return if caller.is_iam() { Tri::Match } else { Tri::Unknown };
            }
            if !caller.is_iam() {
                return Tri::NoMatch;
            }
            let mut parts = v.splitn(6, ':');
            let (Some("arn"), Some(_), Some(service), Some(_), Some(account), Some(resource)) =
                (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
            else {
                // A unique ID (AROA…) left by a deleted principal, or something we cannot resolve.
                return Tri::Unknown;
            };
            match (service, resource) {
                ("iam", "root") => Tri::from_bool(caller.account() == Some(account)),
                ("iam", res) if res.starts_with("role/") => Tri::from_bool(match caller {
                    Caller::Role { arn, .. } => arn == v,
                    Caller::Session { account: a, role, .. } => {
                        a == account && res.rsplit('/').next() == Some(role.as_str())
                    }
                    _ => false,
                }),
                ("iam", res) if res.starts_with("user/") => {
                    Tri::from_bool(matches!(caller, Caller::User { arn, .. } if arn == v))
                }
                ("sts", res) if res.starts_with("assumed-role/") => {
                    Tri::from_bool(matches!(caller, Caller::Session { arn, .. } if arn == v))
                }
                _ => Tri::Unknown,
            }
        }
    }
}

const NEGATED: [&str; 7] = [
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "ArnNotEquals",
    "ArnNotLike",
];

fn condition(op: &str, key: &str, values: &crate::SortedSet<String>, ctx: &Context, vars: bool) -> Tri {
    let Some((set, base, if_exists)) = split_operator(op) else {
        return Tri::Unknown;
    };
    let present: &[String] = match ctx.get(key) {
        None => &[],
        // AWS reads an empty value as a "null dataset" in places; we do not model that, so say so.
        Some(Some(v)) if v.iter().any(String::is_empty) => return Tri::Unknown,
        Some(Some(v)) => v,
        Some(None) => return Tri::Unknown,
    };
    if base == "Null" {
        // {"Null": {"k": "true"}} matches when k is absent.
        return Tri::any(values.iter().map(|v| match v.to_ascii_lowercase().as_str() {
            "true" => Tri::from_bool(present.is_empty()),
            "false" => Tri::from_bool(!present.is_empty()),
            _ => Tri::Unknown,
        }));
    }
    if matches!(base, "IpAddress" | "NotIpAddress" | "BinaryEquals")
        || (vars && values.iter().any(|v| v.contains("${")))
    {
        return Tri::Unknown;
    }
    let negated = NEGATED.contains(&base);
    if present.is_empty() {
        return match (if_exists, set) {
            (true, _) => Tri::Match,
            (false, Some("ForAllValues")) => Tri::Match,
            (false, Some(_)) => Tri::NoMatch,
            // "If the key is not present, a negated operator matches" (IAM condition operator docs).
            (false, None) => Tri::from_bool(negated),
        };
    }
    let one = |cv: &str| {
        let positive = Tri::any(values.iter().map(|pv| compare(base, pv, cv)));
        if negated {
            positive.not()
        } else {
            positive
        }
    };
    match (set, present) {
        (Some("ForAllValues"), _) => Tri::all(present.iter().map(|cv| one(cv))),
        (Some(_), _) => Tri::any(present.iter().map(|cv| one(cv))),
        (None, [single]) => one(single),
        // A single-valued operator on a multivalued key: AWS's answer depends on the key type.
        (None, _) => Tri::Unknown,
    }
}

/// The positive form of `base` (StringNotEquals compares as StringEquals; the caller negates).
fn compare(base: &str, policy_value: &str, context_value: &str) -> Tri {
    let ordering = |parse: fn(&str) -> Option<f64>| -> Option<std::cmp::Ordering> {
        parse(context_value)?.partial_cmp(&parse(policy_value)?)
    };
    use std::cmp::Ordering::{Equal, Greater, Less};
    let ord_test = |o: Option<std::cmp::Ordering>, ok: &[std::cmp::Ordering]| match o {
        Some(o) => Tri::from_bool(ok.contains(&o)),
        None => Tri::Unknown,
    };
    match base {
        "StringEquals" | "StringNotEquals" => Tri::from_bool(policy_value == context_value),
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => {
            Tri::from_bool(policy_value.to_lowercase() == context_value.to_lowercase())
        }
        "StringLike" | "StringNotLike" => Tri::from_bool(glob(policy_value, context_value)),
        "ArnEquals" | "ArnLike" | "ArnNotEquals" | "ArnNotLike" => {
            Tri::from_bool(arn_like(policy_value, context_value))
        }
        "Bool" => {
            match (policy_value.to_ascii_lowercase().as_str(), context_value.to_ascii_lowercase().as_str()) {
                (p @ ("true" | "false"), c @ ("true" | "false")) => Tri::from_bool(p == c),
                _ => Tri::Unknown,
            }
        }
        "NumericEquals" | "NumericNotEquals" => ord_test(ordering(parse_number), &[Equal]),
        "NumericLessThan" => ord_test(ordering(parse_number), &[Less]),
        "NumericLessThanEquals" => ord_test(ordering(parse_number), &[Less, Equal]),
        "NumericGreaterThan" => ord_test(ordering(parse_number), &[Greater]),
        "NumericGreaterThanEquals" => ord_test(ordering(parse_number), &[Greater, Equal]),
        "DateEquals" | "DateNotEquals" => ord_test(ordering(parse_date), &[Equal]),
        "DateLessThan" => ord_test(ordering(parse_date), &[Less]),
        "DateLessThanEquals" => ord_test(ordering(parse_date), &[Less, Equal]),
        "DateGreaterThan" => ord_test(ordering(parse_date), &[Greater]),
        "DateGreaterThanEquals" => ord_test(ordering(parse_date), &[Greater, Equal]),
        _ => Tri::Unknown,
    }
}

fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

/// ISO 8601 / RFC 3339 date-times, plain dates (midnight UTC) and epoch seconds, as seconds.
fn parse_date(s: &str) -> Option<f64> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().map(|n| n as f64);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp() as f64);
    }
    if let Ok(d) = time::Date::parse(s, &Iso8601::DATE) {
        return Some(d.midnight().assume_utc().unix_timestamp() as f64);
    }
    None
}

/// `*` matches any run of characters (also empty), `?` exactly one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match (p.get(pi), t.get(ti)) {
            (Some('*'), _) => {
                star = Some((pi, ti));
                pi += 1;
            }
            (Some(pc), Some(tc)) if *pc == '?' || pc == tc => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Backtrack: let the last `*` swallow one more character.
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// ARN matching as IAM does it: the six colon-separated parts are matched one by one (the last part
/// keeps any further colons), each with `*` and `?` wildcards.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| glob(p, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("s3:get*", "s3:getobject"));
        assert!(glob("s3:*", "s3:"));
        assert!(glob("a?c*", "abcdef"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*a*b*", "xxaxxbxx"));
        assert!(!glob("*a*b", "xxaxxbxxc"));
        assert!(arn_like("arn:aws:s3:::b/*", "arn:aws:s3:::b/k:with:colons"));
        assert!(!arn_like("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(arn_like("arn:aws:s3:::b*", "arn:aws:s3:::b:x:y:z:w"));
        assert!(!arn_like("arn:aws:s3:::*", "arn:aws:iam::111122223333:root"));
    }

    #[test]
    fn callers() {
        assert!(
            matches!(Caller::parse("arn:aws:iam::111122223333:role/a/b/Name").unwrap(), Caller::Role { name, .. } if name == "Name")
        );
        assert!(
            matches!(Caller::parse("arn:aws:sts::111122223333:assumed-role/R/s").unwrap(), Caller::Session { role, .. } if role == "R")
        );
        assert_eq!(Caller::parse("anonymous").unwrap(), Caller::Anonymous);
        assert!(Caller::parse("arn:aws:iam::1:role/x").is_err());
        assert!(Caller::parse("bob").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-02"), Some(86400.0));
        assert_eq!(parse_date("1970-01-01T00:01:00Z"), Some(60.0));
        assert_eq!(parse_date("60"), Some(60.0));
        assert_eq!(parse_date("soon"), None);
    }
}
