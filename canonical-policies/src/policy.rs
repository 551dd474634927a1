//! The bucket-policy model and its strict reader.
//!
//! Parsing applies the rewrites AWS itself applies between PutBucketPolicy and GetBucketPolicy (see
//! `docs/canonical-form.md`), so two policies AWS treats as the same become equal values here. Anything
//! outside the bucket-policy grammar is an error, never a guess: the classifier turns errors into drift.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::error::PolicyError;
use crate::json::{self, Json, Path};

/// A parsed, normalised bucket policy. Statements keep their input order (the first statement is the
/// one that claims a state); the canonical form sorts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub version: Option<Version>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// The two policy-language versions AWS accepts. Absent and present are different policies: which
/// version applies when it is missing is disputed (NORMALIZATION.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2008_10_17 => "2008-10-17",
            Version::V2012_10_17 => "2012-10-17",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// `Principal` (negated = false) or `NotPrincipal` (negated = true); likewise for actions and resources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Clause<T> {
    pub negated: bool,
    pub values: T,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Statement {
    /// `None` for a missing Sid and for `""` (AWS once returned `""` for a statement put without one).
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Clause<Principal>,
    pub action: Clause<BTreeSet<CiString>>,
    pub resource: Clause<BTreeSet<String>>,
    pub condition: Conditions,
}

/// Operator (`StringEquals`, `ForAnyValue:StringLike`, ...) → condition key → values.
pub type Conditions = BTreeMap<String, BTreeMap<CiString, BTreeSet<String>>>;

/// `"*"` and `{"AWS": "*"}` stay apart: sources disagree on whether they are the same (NORMALIZATION §11).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    Anyone,
    Typed(BTreeMap<PrincipalKind, BTreeSet<String>>),
}

/// Declared in the byte order of their JSON names, so maps iterate in canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalKind {
    Aws,
    CanonicalUser,
    Federated,
    Service,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Aws => "AWS",
            PrincipalKind::CanonicalUser => "CanonicalUser",
            PrincipalKind::Federated => "Federated",
            PrincipalKind::Service => "Service",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        match key {
            "AWS" => Some(PrincipalKind::Aws),
            "CanonicalUser" => Some(PrincipalKind::CanonicalUser),
            "Federated" => Some(PrincipalKind::Federated),
            "Service" => Some(PrincipalKind::Service),
            _ => None,
        }
    }
}

/// A case-insensitive string (action names, condition keys): compared by its lowercase form, shown as
/// first written so rendered policies stay readable.
#[derive(Debug, Clone)]
pub struct CiString {
    original: String,
    folded: String,
}

impl CiString {
    pub fn new(original: impl Into<String>) -> Self {
        let original = original.into();
        let folded = original.to_lowercase();
        CiString { original, folded }
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }

    pub fn folded(&self) -> &str {
        &self.folded
    }
}

impl PartialEq for CiString {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}
impl Eq for CiString {}
impl PartialOrd for CiString {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for CiString {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.folded.cmp(&other.folded)
    }
}
impl std::hash::Hash for CiString {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.folded.hash(state);
    }
}
impl fmt::Display for CiString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

/// The AWS partition a policy lives in; needed to turn a bare account ID principal into the root ARN
/// AWS stores (`123456789012` → `arn:aws:iam::123456789012:root`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Partition(String);

impl Partition {
    pub fn aws() -> Self {
        Partition("aws".into())
    }

    /// `aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b`, ...: `aws` optionally followed by `-word` parts.
    pub fn new(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("aws")?;
        let ok = rest.is_empty()
            || rest.strip_prefix('-').is_some_and(|tail| {
                tail.split('-')
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
            });
        ok.then(|| Partition(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Partition {
    fn default() -> Self {
        Partition::aws()
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Condition operators AWS accepts in a bucket policy, without `...IfExists` and set prefixes.
pub const CONDITION_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

/// Splits `ForAnyValue:StringLikeIfExists` into (set prefix, base operator, if-exists).
pub fn split_operator(op: &str) -> Option<(Option<&str>, &str, bool)> {
    let (set, rest) = match op.split_once(':') {
        Some((set @ ("ForAnyValue" | "ForAllValues"), rest)) => (Some(set), rest),
        Some(_) => return None,
        None => (None, op),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) if base != "Null" => (base, true),
        _ => (rest, false),
    };
    CONDITION_OPERATORS
        .contains(&base)
        .then_some((set, base, if_exists))
}

impl Policy {
    /// Parses and normalises a bucket policy, with `aws` as the partition for bare account IDs.
    pub fn parse(input: &[u8]) -> Result<Policy, PolicyError> {
        Policy::parse_in(input, &Partition::aws())
    }

    /// Parses and normalises a bucket policy of a bucket in `partition`.
    pub fn parse_in(input: &[u8], partition: &Partition) -> Result<Policy, PolicyError> {
        let doc = json::parse(input)?;
        Policy::from_json(&doc, partition)
    }

    /// Builds a policy from an already parsed JSON document (templates are rendered this way).
    pub fn from_json(doc: &Json, partition: &Partition) -> Result<Policy, PolicyError> {
        Reader { partition }.policy(doc, &Path::Root)
    }

    /// The Sid of the first statement as written: the state the policy *claims* to be in.
    pub fn claimed_state(&self) -> Option<&str> {
        self.statements.first().and_then(|s| s.sid.as_deref())
    }
}

struct Reader<'p> {
    partition: &'p Partition,
}

fn members<'j>(value: &'j Json, path: &Path<'_>) -> Result<&'j [(String, Json)], PolicyError> {
    match value {
        Json::Object(m) => Ok(m),
        other => Err(wrong(path, "an object", other)),
    }
}

fn wrong(path: &Path<'_>, expected: &'static str, found: &Json) -> PolicyError {
    PolicyError::WrongType {
        path: path.render(),
        expected,
        found: found.kind(),
    }
}

fn invalid(path: &Path<'_>, value: &str, reason: &'static str) -> PolicyError {
    PolicyError::InvalidValue {
        path: path.render(),
        value: value.to_owned(),
        reason,
    }
}

fn string<'j>(value: &'j Json, path: &Path<'_>) -> Result<&'j str, PolicyError> {
    match value {
        Json::String(s) => Ok(s),
        other => Err(wrong(path, "a string", other)),
    }
}

/// A string or a non-empty array of strings (AWS collapses one-element arrays to scalars), as a set.
fn string_set<T: Ord>(
    value: &Json,
    path: &Path<'_>,
    mut each: impl FnMut(&str, &Path<'_>) -> Result<T, PolicyError>,
) -> Result<BTreeSet<T>, PolicyError> {
    let mut set = BTreeSet::new();
    match value {
        Json::String(s) => {
            set.insert(each(s, path)?);
        }
        Json::Array(items) if items.is_empty() => {
            return Err(PolicyError::Empty {
                path: path.render(),
                what: "array",
            })
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = path.index(i);
                set.insert(each(string(item, &p)?, &p)?);
            }
        }
        other => return Err(wrong(path, "a string or an array of strings", other)),
    }
    Ok(set)
}

/// Exactly one of two keys, e.g. `Action` / `NotAction`.
fn one_of<'j>(
    found: [Option<&'j Json>; 2],
    names: [&'static str; 2],
    path: &Path<'_>,
) -> Result<(bool, &'j Json, &'static str), PolicyError> {
    match found {
        [Some(v), None] => Ok((false, v, names[0])),
        [None, Some(v)] => Ok((true, v, names[1])),
        [Some(_), Some(_)] => Err(PolicyError::Both {
            path: path.render(),
            first: names[0],
            second: names[1],
        }),
        [None, None] => Err(PolicyError::Neither {
            path: path.render(),
            first: names[0],
            second: names[1],
        }),
    }
}

impl Reader<'_> {
    fn policy(&self, doc: &Json, path: &Path<'_>) -> Result<Policy, PolicyError> {
        let mut version = None;
        let mut id = None;
        let mut statement = None;
        for (key, value) in members(doc, path)? {
            let p = path.key(key);
            match key.as_str() {
                "Version" => {
                    version = Some(match string(value, &p)? {
                        "2012-10-17" => Version::V2012_10_17,
                        "2008-10-17" => Version::V2008_10_17,
                        other => return Err(invalid(&p, other, "expected `2012-10-17` or `2008-10-17`")),
                    })
                }
                "Id" => id = Some(string(value, &p)?.to_owned()),
                "Statement" => statement = Some(value),
                _ => {
                    return Err(PolicyError::UnknownKey {
                        path: path.render(),
                        key: key.clone(),
                    })
                }
            }
        }
        let Some(statement) = statement else {
            return Err(PolicyError::Missing {
                path: path.render(),
                key: "Statement",
            });
        };
        let p = path.key("Statement");
        let statements = match statement {
            // A lone statement object is the same policy as a one-element array.
            Json::Object(_) => vec![self.statement(statement, &p)?],
            Json::Array(items) if items.is_empty() => {
                return Err(PolicyError::Empty {
                    path: p.render(),
                    what: "statement list",
                })
            }
            Json::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, s)| self.statement(s, &p.index(i)))
                .collect::<Result<_, _>>()?,
            other => return Err(wrong(&p, "an object or an array of objects", other)),
        };
        Ok(Policy {
            version,
            id,
            statements,
        })
    }

    fn statement(&self, value: &Json, path: &Path<'_>) -> Result<Statement, PolicyError> {
        let mut sid = None;
        let mut effect = None;
        let mut slots: [Option<&Json>; 7] = [None; 7];
        const KEYS: [&str; 7] = [
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ];
        for (key, v) in members(value, path)? {
            let p = path.key(key);
            match key.as_str() {
                "Sid" => sid = Some(string(v, &p)?),
                "Effect" => {
                    effect = Some(match string(v, &p)? {
                        "Allow" => Effect::Allow,
                        "Deny" => Effect::Deny,
                        other => return Err(invalid(&p, other, "expected `Allow` or `Deny`")),
                    })
                }
                _ => match KEYS.iter().position(|k| k == key).and_then(|i| slots.get_mut(i)) {
                    Some(slot) => *slot = Some(v),
                    None => {
                        return Err(PolicyError::UnknownKey {
                            path: path.render(),
                            key: key.clone(),
                        })
                    }
                },
            }
        }
        let [principal, not_principal, action, not_action, resource, not_resource, condition] = slots;
        let Some(effect) = effect else {
            return Err(PolicyError::Missing {
                path: path.render(),
                key: "Effect",
            });
        };

        let (negated, v, key) = one_of([principal, not_principal], ["Principal", "NotPrincipal"], path)?;
        let principal = Clause {
            negated,
            values: self.principal(v, &path.key(key))?,
        };

        let (negated, v, key) = one_of([action, not_action], ["Action", "NotAction"], path)?;
        let action = Clause {
            negated,
            values: string_set(v, &path.key(key), action_name)?,
        };

        let (negated, v, key) = one_of([resource, not_resource], ["Resource", "NotResource"], path)?;
        let resource = Clause {
            negated,
            values: string_set(v, &path.key(key), resource_name)?,
        };

        let condition = match condition {
            Some(v) => conditions(v, &path.key("Condition"))?,
            None => Conditions::new(),
        };
        let sid = sid.filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Statement {
            sid,
            effect,
            principal,
            action,
            resource,
            condition,
        })
    }

    fn principal(&self, value: &Json, path: &Path<'_>) -> Result<Principal, PolicyError> {
        match value {
            Json::String(s) if s == "*" => Ok(Principal::Anyone),
            Json::String(s) => Err(invalid(
                path,
                s,
                "a principal is `*` or an object such as {\"AWS\": ...}",
            )),
            Json::Object(m) if m.is_empty() => Err(PolicyError::Empty {
                path: path.render(),
                what: "principal",
            }),
            Json::Object(m) => {
                let mut map = BTreeMap::new();
                for (key, v) in m {
                    let Some(kind) = PrincipalKind::from_key(key) else {
                        return Err(PolicyError::UnknownKey {
                            path: path.render(),
                            key: key.clone(),
                        });
                    };
                    let p = path.key(key);
                    let set = string_set(v, &p, |s, p| self.principal_value(kind, s, p))?;
                    map.insert(kind, set);
                }
                Ok(Principal::Typed(map))
            }
            other => Err(wrong(path, "`*` or an object", other)),
        }
    }

    fn principal_value(&self, kind: PrincipalKind, s: &str, path: &Path<'_>) -> Result<String, PolicyError> {
        if s.is_empty() {
            return Err(PolicyError::Empty {
                path: path.render(),
                what: "principal",
            });
        }
        // AWS stores a bare account ID as the account's root ARN (NORMALIZATION §4).
        if kind == PrincipalKind::Aws && s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(format!("arn:{}:iam::{s}:root", self.partition));
        }
        Ok(s.to_owned())
    }
}

fn action_name(s: &str, path: &Path<'_>) -> Result<CiString, PolicyError> {
    let valid = s == "*"
        || s.split_once(':').is_some_and(|(service, name)| {
            !service.is_empty()
                && service.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'?' | b'-' | b'_'))
        });
    if valid {
        Ok(CiString::new(s))
    } else {
        Err(invalid(path, s, "an action is `*` or `service:Name`"))
    }
}

fn resource_name(s: &str, path: &Path<'_>) -> Result<String, PolicyError> {
    if s == "*" || (s.starts_with("arn:") && s.bytes().filter(|&b| b == b':').count() >= 5) {
        Ok(s.to_owned())
    } else {
        Err(invalid(path, s, "a resource is `*` or an arn"))
    }
}

fn conditions(value: &Json, path: &Path<'_>) -> Result<Conditions, PolicyError> {
    let ops = members(value, path)?;
    if ops.is_empty() {
        return Err(PolicyError::Empty {
            path: path.render(),
            what: "condition block",
        });
    }
    let mut out = Conditions::new();
    for (op, block) in ops {
        let p = path.key(op);
        if split_operator(op).is_none() {
            return Err(invalid(&p, op, "unknown condition operator"));
        }
        let keys = members(block, &p)?;
        if keys.is_empty() {
            return Err(PolicyError::Empty {
                path: p.render(),
                what: "condition operator block",
            });
        }
        let mut by_key = BTreeMap::new();
        for (key, values) in keys {
            let kp = p.key(key);
            if key.is_empty() {
                return Err(PolicyError::Empty {
                    path: kp.render(),
                    what: "condition key",
                });
            }
            let values = condition_values(values, &kp)?;
            // Condition keys are case-insensitive, so `aws:SourceIp` and `AWS:SOURCEIP` in one block
            // would be two values for one key: ambiguous, rejected like a duplicate JSON key.
            if by_key.insert(CiString::new(key.as_str()), values).is_some() {
                return Err(PolicyError::DuplicateKey {
                    path: p.render(),
                    key: key.clone(),
                });
            }
        }
        out.insert(op.clone(), by_key);
    }
    Ok(out)
}

fn condition_value(v: &Json, path: &Path<'_>) -> Result<String, PolicyError> {
    // AWS stores JSON booleans and numbers in conditions as strings (NORMALIZATION §7).
    match v {
        Json::String(s) => Ok(s.clone()),
        Json::Bool(b) => Ok(b.to_string()),
        Json::Number(n) => Ok(n.clone()),
        other => Err(wrong(path, "a string, boolean or number", other)),
    }
}

fn condition_values(value: &Json, path: &Path<'_>) -> Result<BTreeSet<String>, PolicyError> {
    match value {
        Json::Array(items) if items.is_empty() => Err(PolicyError::Empty {
            path: path.render(),
            what: "array",
        }),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| condition_value(item, &path.index(i)))
            .collect(),
        single => Ok(BTreeSet::from([condition_value(single, path)?])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &str) -> String {
        Policy::parse(input.as_bytes()).unwrap_err().to_string()
    }

    const MIN: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;

    #[test]
    fn parses_a_minimal_policy() {
        let p = Policy::parse(MIN.as_bytes()).unwrap();
        assert_eq!(p.statements.len(), 1);
        assert_eq!(p.statements[0].principal.values, Principal::Anyone);
        assert_eq!(p.version, Some(Version::V2012_10_17));
    }

    #[test]
    fn strictness() {
        assert_eq!(err(r#"{"Statement":[],"Extra":1}"#), "unknown key `Extra` at $");
        assert_eq!(err(r#"{"Version":"2012-10-17"}"#), "missing `Statement` at $");
        assert_eq!(
            err(
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*"}]}"#
            ),
            "both `Action` and `NotAction` at $.Statement[0]; a statement takes exactly one of them"
        );
        assert_eq!(
            err(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}"#),
            "neither `Resource` nor `NotResource` at $.Statement[0]; a bucket-policy statement needs one of them"
        );
        assert_eq!(
            err(
                r#"{"Statement":[{"Effect":"allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#
            ),
            "invalid value `allow` at $.Statement[0].Effect: expected `Allow` or `Deny`"
        );
        assert!(err(r#"{"Version":"2012-10-08","Statement":[]}"#)
            .contains("expected `2012-10-17` or `2008-10-17`"));
        assert!(err(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Get","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true","AWS:SECURETRANSPORT":"false"}}}]}"#)
            .starts_with("duplicate key `AWS:SECURETRANSPORT`"));
        assert!(err(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Get","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}]}"#)
            .contains("unknown condition operator"));
        assert!(
            err(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}]}"#)
                .starts_with("empty array at $.Statement[0].Action")
        );
    }

    #[test]
    fn normalises_like_aws() {
        let a = Policy::parse(br#"{"Statement":[{"Sid":"","Effect":"Allow","Principal":{"AWS":["123456789012"]},"Action":["S3:GetObject"],"Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"AWS:SecureTransport":true}}}]}"#).unwrap();
        let b = Policy::parse(br#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:getobject","Resource":["arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:securetransport":["true"]}}}}"#).unwrap();
        assert_eq!(a, b);
        let cn = Policy::parse_in(br#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:x","Resource":"*"}}"#, &Partition::new("aws-cn").unwrap()).unwrap();
        let Principal::Typed(m) = &cn.statements[0].principal.values else {
            panic!()
        };
        assert!(m[&PrincipalKind::Aws].contains("arn:aws-cn:iam::123456789012:root"));
    }

    #[test]
    fn operators_split() {
        assert_eq!(
            split_operator("ForAnyValue:StringLikeIfExists"),
            Some((Some("ForAnyValue"), "StringLike", true))
        );
        assert_eq!(split_operator("Null"), Some((None, "Null", false)));
        assert_eq!(split_operator("NullIfExists"), None);
        assert_eq!(split_operator("Foo:StringLike"), None);
    }

    #[test]
    fn partitions() {
        assert!(Partition::new("aws-us-gov").is_some());
        assert!(Partition::new("aws-").is_none());
        assert!(Partition::new("azure").is_none());
    }
}
