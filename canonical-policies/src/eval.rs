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

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use time::OffsetDateTime;

use crate::policy::{split_operator, Clause, Effect, Policy, Principal, PrincipalKind, Statement};
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

    /// The ARN of this very principal: what a `NotPrincipal` must list to exempt it. A session is
    /// its session ARN, not its role's (IAM user guide, "NotPrincipal": "The assumed-role user is
    /// identified by the role session name").
    fn own_arn(&self) -> Option<String> {
        match self {
            Caller::Anonymous | Caller::Service(_) => None,
            Caller::Root { partition, account } => Some(format!("arn:{partition}:iam::{account}:root")),
            Caller::User { arn, .. } | Caller::Role { arn, .. } | Caller::Session { arn, .. } => {
                Some(arn.clone())
            }
        }
    }

    /// `aws:PrincipalType` as the IAM user guide's table of principal key values gives it.
    fn principal_type(&self) -> Option<&'static str> {
        match self {
            Caller::Anonymous => Some("Anonymous"),
            Caller::Service(_) => None,
            Caller::Root { .. } => Some("Account"),
            Caller::User { .. } => Some("User"),
            Caller::Role { .. } | Caller::Session { .. } => Some("AssumedRole"),
        }
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
    /// A key given more than once is multivalued.
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
        if let Some(kind) = self.caller.principal_type() {
            set("aws:principaltype", Some(kind.to_owned()));
        }
        // The user guide's table of principal key values: aws:username only for IAM users, aws:userid
        // is the account for the root user and a unique ID (not known here) for everyone else.
        match &self.caller {
            Caller::User { arn, .. } => {
                set("aws:username", Some(last_segment(arn).to_owned()));
                set("aws:userid", None);
            }
            Caller::Root { account, .. } => {
                set("aws:userid", Some(account.clone()));
            }
            Caller::Role { .. } | Caller::Session { .. } => {
                set("aws:userid", None);
            }
            Caller::Anonymous | Caller::Service(_) => {}
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

fn last_segment(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
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
struct Applies {
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
    let deny = pick(Effect::Deny, Tri::Match, None);
    if !deny.is_empty() {
        return Explanation { decision: Decision::ExplicitDeny, deciding: deny };
    }
    let unknown_deny = pick(Effect::Deny, Tri::Unknown, None);
    if !unknown_deny.is_empty() {
        return Explanation { decision: Decision::Unknown, deciding: unknown_deny };
    }
    let allow = pick(Effect::Allow, Tri::Match, Some(false));
    if !allow.is_empty() {
        return Explanation { decision: Decision::Allow, deciding: allow };
    }
    let unknown_allow = pick(Effect::Allow, Tri::Unknown, None);
    if !unknown_allow.is_empty() {
        return Explanation { decision: Decision::Unknown, deciding: unknown_allow };
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
type Context = BTreeMap<String, Option<Vec<String>>>;

fn statement_applies(s: &Statement, r: &Request, ctx: &Context, vars: bool) -> Applies {
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

/// How one principal value matches the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrincipalMatch {
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
fn principal_clause(clause: &Clause<Principal>, caller: &Caller, effect: Effect) -> (Tri, bool) {
    let map = match &clause.values {
        Principal::Anyone => return (Tri::from_bool(!clause.negated), false),
        Principal::Typed(map) => map,
    };
    let values = || map.iter().flat_map(|(kind, values)| values.iter().map(move |v| (*kind, v.as_str())));
    if clause.negated {
        return (Tri::any(values().map(|(kind, v)| names_exactly(kind, v, caller))).not(), false);
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

fn principal_value(kind: PrincipalKind, v: &str, caller: &Caller) -> PrincipalMatch {
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
                    Caller::Role { arn, .. } => arn == v,
                    Caller::Session { account: a, role, .. } => a == account && last_segment(res) == role,
                    _ => false,
                }),
                ("iam", res) if res.starts_with("user/") => {
                    exact(matches!(caller, Caller::User { arn, .. } if arn == v))
                }
                ("sts", res) if res.starts_with("assumed-role/") => {
                    exact(matches!(caller, Caller::Session { arn, .. } if arn == v))
                }
                _ => PrincipalMatch::Unknown,
            }
        }
    }
}

/// Whether a `NotPrincipal` value names this very caller.
fn names_exactly(kind: PrincipalKind, v: &str, caller: &Caller) -> Tri {
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
        PrincipalKind::Aws => Tri::from_bool(caller.own_arn().as_deref() == Some(v)),
    }
}

/// `arn:<partition>:<service>::<account>:<resource>` of IAM and STS principals.
fn iam_arn_parts(v: &str) -> Option<(&str, &str, &str)> {
    let mut parts = v.splitn(6, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some(service), Some(_), Some(account), Some(resource)) => {
            Some((service, account, resource))
        }
        _ => None,
    }
}

fn resource_matches(pattern: &str, resource: &str, ctx: &Context, vars: bool) -> Tri {
    if pattern == "*" {
        return Tri::Match;
    }
    match resolve(pattern, ctx, vars) {
        Resolved::Tokens(p) => Tri::from_bool(arn_tokens_match(&p, resource).unwrap_or(false)),
        // "If AWS cannot resolve a variable this might cause the entire statement to be invalid."
        Resolved::NoValue => Tri::NoMatch,
        Resolved::Unknown => Tri::Unknown,
    }
}

/// Negated operators match when the key is absent, and otherwise only when *no* policy value matches.
const NEGATED: [&str; 8] = [
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "ArnNotEquals",
    "ArnNotLike",
    "NotIpAddress",
];

/// Global keys that are multivalued in every request that has them ("ArrayOf…" in the Service
/// Authorization Reference); any key given more than once is multivalued as well.
const MULTIVALUED: [&str; 6] = [
    "aws:tagkeys",
    "aws:calledvia",
    "aws:principalservicenameslist",
    "aws:principalorgpaths",
    "aws:resourceorgpaths",
    "aws:sourceorgpaths",
];

fn is_multivalued(key: &str, values: &[String]) -> bool {
    values.len() > 1 || MULTIVALUED.contains(&key)
}

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
        // {"Null": {"k": "true"}} matches when k is absent; any other value never matches.
        return Tri::any(values.iter().map(|v| match v.to_ascii_lowercase().as_str() {
            "true" => Tri::from_bool(present.is_empty()),
            "false" => Tri::from_bool(!present.is_empty()),
            _ => Tri::NoMatch,
        }));
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
        let outcomes = values.iter().map(|pv| compare(base, pv, cv, ctx, vars));
        if negated {
            // Every policy value must be valid and differ.
            Tri::all(outcomes.map(|o| match o {
                Cmp::No => Tri::Match,
                Cmp::Yes | Cmp::Invalid => Tri::NoMatch,
                Cmp::Unknown => Tri::Unknown,
            }))
        } else {
            Tri::any(outcomes.map(|o| match o {
                Cmp::Yes => Tri::Match,
                Cmp::No | Cmp::Invalid => Tri::NoMatch,
                Cmp::Unknown => Tri::Unknown,
            }))
        }
    };
    match (set, present) {
        (Some("ForAllValues"), _) => Tri::all(present.iter().map(|cv| one(cv))),
        (Some(_), _) => Tri::any(present.iter().map(|cv| one(cv))),
        // "Multivalued context keys require a condition set operator": without one, no match.
        (None, _) if is_multivalued(key, present) => Tri::NoMatch,
        (None, [single]) => one(single),
        (None, _) => Tri::NoMatch,
    }
}

/// One policy value against one context value, for the positive form of the operator
/// (StringNotEquals compares as StringEquals; the caller negates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Yes,
    No,
    /// The policy or the context value is not of the operator's type, or a variable has no value:
    /// neither the operator nor its negation matches.
    Invalid,
    Unknown,
}

impl Cmp {
    fn from_bool(b: bool) -> Cmp {
        if b {
            Cmp::Yes
        } else {
            Cmp::No
        }
    }
}

fn compare(base: &str, policy_value: &str, context_value: &str, ctx: &Context, vars: bool) -> Cmp {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let ordered = |parse: fn(&str) -> Option<f64>, ok: &[std::cmp::Ordering]| match (
        parse(context_value),
        parse(policy_value),
    ) {
        (Some(c), Some(p)) => c.partial_cmp(&p).map_or(Cmp::Invalid, |o| Cmp::from_bool(ok.contains(&o))),
        _ => Cmp::Invalid,
    };
    // Policy variables work with the string and ARN operators only (user guide, "Condition element").
    let string = |f: &dyn Fn(&[Tok]) -> bool| match resolve(policy_value, ctx, vars) {
        Resolved::Tokens(p) => Cmp::from_bool(f(&p)),
        Resolved::NoValue => Cmp::Invalid,
        Resolved::Unknown => Cmp::Unknown,
    };
    match base {
        "StringEquals" | "StringNotEquals" => string(&|p| literal(p) == context_value),
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => {
            string(&|p| literal(p).to_lowercase() == context_value.to_lowercase())
        }
        "StringLike" | "StringNotLike" => {
            let text: Vec<char> = context_value.chars().collect();
            string(&|p| glob_tokens(p, &text))
        }
        "ArnEquals" | "ArnLike" | "ArnNotEquals" | "ArnNotLike" => match resolve(policy_value, ctx, vars) {
            Resolved::Tokens(p) => arn_tokens_match(&p, context_value).map_or(Cmp::Invalid, Cmp::from_bool),
            Resolved::NoValue => Cmp::Invalid,
            Resolved::Unknown => Cmp::Unknown,
        },
        "Bool" => {
            match (policy_value.to_ascii_lowercase().as_str(), context_value.to_ascii_lowercase().as_str()) {
                (p @ ("true" | "false"), c @ ("true" | "false")) => Cmp::from_bool(p == c),
                _ => Cmp::Invalid,
            }
        }
        // Both sides are base-64 text; AWS compares them as given.
        "BinaryEquals" => Cmp::from_bool(policy_value == context_value),
        "IpAddress" | "NotIpAddress" => ip_in(policy_value, context_value),
        "NumericEquals" | "NumericNotEquals" => ordered(parse_number, &[Equal]),
        "NumericLessThan" => ordered(parse_number, &[Less]),
        "NumericLessThanEquals" => ordered(parse_number, &[Less, Equal]),
        "NumericGreaterThan" => ordered(parse_number, &[Greater]),
        "NumericGreaterThanEquals" => ordered(parse_number, &[Greater, Equal]),
        "DateEquals" | "DateNotEquals" => ordered(parse_date, &[Equal]),
        "DateLessThan" => ordered(parse_date, &[Less]),
        "DateLessThanEquals" => ordered(parse_date, &[Less, Equal]),
        "DateGreaterThan" => ordered(parse_date, &[Greater]),
        "DateGreaterThanEquals" => ordered(parse_date, &[Greater, Equal]),
        _ => Cmp::Unknown,
    }
}

/// Whether the IP address `context_value` lies in the CIDR block (or is the address) `policy_value`.
/// An address of the other family is simply not in the block: `NotIpAddress` matches it.
fn ip_in(policy_value: &str, context_value: &str) -> Cmp {
    let (Some((net, bits)), Ok(ip)) = (parse_cidr(policy_value), context_value.trim().parse::<IpAddr>())
    else {
        return Cmp::Invalid;
    };
    let inside = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    };
    Cmp::from_bool(inside)
}

/// `203.0.113.0/24`, `203.0.113.7` (a /32), `2001:db8::/32`; the prefix length within the family.
fn parse_cidr(s: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match s.trim().split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s.trim(), None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => b.parse::<u32>().ok()?,
        Some(_) => return None,
        None => max,
    };
    (bits <= max).then_some((addr, bits))
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let plain = !s.is_empty()
        && s.trim_start_matches(['-', '+']).bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|b| *b == b'.').count() <= 1;
    if !plain {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// The W3C date-time profile of ISO 8601 AWS accepts (year and month; a date; a date and a time with
/// or without seconds and fractions, with `Z` or an offset) and epoch seconds (any run of digits),
/// as seconds.
fn parse_date(s: &str) -> Option<f64> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    use time::macros::format_description;
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().map(|n| n as f64);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos() as f64 / 1e9);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp_nanos() as f64 / 1e9);
    }
    let midnight = |d: time::Date| Some(d.midnight().assume_utc().unix_timestamp() as f64);
    if let Ok(d) = time::Date::parse(s, &Iso8601::DATE) {
        return midnight(d);
    }
    // hh:mm without seconds, `Z` or an offset.
    for f in [
        format_description!("[year]-[month]-[day]T[hour]:[minute]Z"),
        format_description!(
            "[year]-[month]-[day]T[hour]:[minute][offset_hour sign:mandatory]:[offset_minute]"
        ),
    ] {
        if let Ok(t) = time::PrimitiveDateTime::parse(s, f) {
            return Some(t.assume_utc().unix_timestamp() as f64);
        }
        if let Ok(t) = OffsetDateTime::parse(s, f) {
            return Some(t.unix_timestamp() as f64);
        }
    }
    let year_month = |y: &str, m: &str| -> Option<f64> {
        let year: i32 = y.parse().ok()?;
        let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
        midnight(time::Date::from_calendar_date(year, month, 1).ok()?)
    };
    match s.split_once('-') {
        Some((y, m))
            if y.len() == 4 && m.len() == 2 && y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) =>
        {
            year_month(y, m)
        }
        _ => None,
    }
}

/// A policy string after variable substitution: literal characters and the policy's own wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*` written in the policy (a wildcard where the operator allows them).
    Star,
    /// `?` written in the policy.
    One,
}

enum Resolved {
    Tokens(Vec<Tok>),
    /// A variable whose key is absent (or multivalued) and that has no default: nothing matches.
    NoValue,
    /// A variable whose key is present with an unknown value.
    Unknown,
}

/// Substitutes policy variables (policy version 2012-10-17 only; before it they are literal text):
/// `${key}` with the key's single value, `${key, 'default'}` with the default when the key is absent,
/// `${*}`, `${?}`, `${$}` with the literal character. Substituted text is never a wildcard.
fn resolve(text: &str, ctx: &Context, vars: bool) -> Resolved {
    let plain = |s: &str, out: &mut Vec<Tok>| {
        out.extend(s.chars().map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        }))
    };
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once("${").filter(|_| vars) {
        plain(before, &mut out);
        let Some((inner, tail)) = after.split_once('}') else {
            // No closing brace: not a variable.
            plain("${", &mut out);
            rest = after;
            continue;
        };
        match inner {
            "*" | "?" | "$" => out.extend(inner.chars().map(Tok::Lit)),
            _ => match variable(inner, ctx) {
                Resolved::Tokens(t) => out.extend(t),
                other => return other,
            },
        }
        rest = tail;
    }
    plain(rest, &mut out);
    Resolved::Tokens(out)
}

fn variable(inner: &str, ctx: &Context) -> Resolved {
    let (name, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((name, default)) => {
            let quoted = default.trim().strip_prefix('\'').and_then(|d| d.strip_suffix('\''));
            match quoted {
                // Inside the quotes, '' stands for one quote.
                Some(d) => (name.trim(), Some(d.replace("''", "'"))),
                None => return Resolved::NoValue,
            }
        }
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Resolved::NoValue;
    }
    let literal = |s: &str| Resolved::Tokens(s.chars().map(Tok::Lit).collect());
    let key = name.to_lowercase();
    match ctx.get(&key) {
        Some(None) => Resolved::Unknown,
        Some(Some(values)) if !values.is_empty() && !is_multivalued(&key, values) => {
            values.first().map_or(Resolved::NoValue, |v| literal(v))
        }
        _ => default.as_deref().map_or(Resolved::NoValue, literal),
    }
}

/// The tokens as plain text (operators without wildcards read `*` and `?` literally).
fn literal(tokens: &[Tok]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Tok::Lit(c) => *c,
            Tok::Star => '*',
            Tok::One => '?',
        })
        .collect()
}

/// `*` matches any run of characters (also empty), `?` exactly one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let Resolved::Tokens(p) = resolve(pattern, &Context::new(), false) else {
        return false;
    };
    let t: Vec<char> = text.chars().collect();
    glob_tokens(&p, &t)
}

fn glob_tokens(p: &[Tok], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match (p.get(pi), t.get(ti)) {
            (Some(Tok::Star), _) => {
                star = Some((pi, ti));
                pi += 1;
            }
            (Some(Tok::One), Some(_)) => {
                pi += 1;
                ti += 1;
            }
            (Some(Tok::Lit(pc)), Some(tc)) if pc == tc => {
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
    p.get(pi..).is_some_and(|rest| rest.iter().all(|c| *c == Tok::Star))
}

/// ARN matching as IAM does it: the six colon-separated parts are matched one by one (the last part
/// keeps any further colons), each with `*` and `?` wildcards. `*` alone matches any resource.
#[cfg(test)]
fn arn_like(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match resolve(pattern, &Context::new(), false) {
        Resolved::Tokens(p) => arn_tokens_match(&p, arn).unwrap_or(false),
        Resolved::NoValue | Resolved::Unknown => false,
    }
}

/// `None` when either side is not an ARN (fewer than six parts, or not starting with `arn`).
fn arn_tokens_match(pattern: &[Tok], arn: &str) -> Option<bool> {
    let mut p: Vec<&[Tok]> = Vec::with_capacity(6);
    let mut rest = pattern;
    while p.len() < 5 {
        let at = rest.iter().position(|t| *t == Tok::Lit(':'))?;
        let (part, tail) = rest.split_at(at);
        p.push(part);
        rest = tail.get(1..)?;
    }
    p.push(rest);
    let a: Vec<Vec<char>> = arn.splitn(6, ':').map(|s| s.chars().collect()).collect();
    if a.len() != 6 || a.first().map(|s| s.as_slice()) != Some(&['a', 'r', 'n'][..]) {
        return None;
    }
    if p.first().map(|s| literal(s)).as_deref() != Some("arn") {
        return None;
    }
    Some(p.iter().zip(&a).all(|(p, a)| glob_tokens(p, a)))
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
