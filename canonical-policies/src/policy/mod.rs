//! The bucket-policy model and its strict reader.
//!
//! Parsing applies the rewrites AWS itself applies between PutBucketPolicy and GetBucketPolicy (see
//! `docs/canonical-form.md`), so two policies AWS treats as the same become equal values here. Anything
//! outside the bucket-policy grammar is an error, never a guess: the classifier turns errors into drift.

mod reader;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use crate::error::PolicyError;
use crate::json::{Parser, Path};
use crate::set::SortedSet;
use reader::Reader;

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
    pub action: Clause<SortedSet<CiString>>,
    pub resource: Clause<SortedSet<String>>,
    pub condition: Conditions,
}

/// Operator (`StringEquals`, `ForAnyValue:StringLike`, ...) → condition key → values.
pub type Conditions = BTreeMap<String, BTreeMap<CiString, SortedSet<String>>>;

/// `"*"` and `{"AWS": "*"}` stay apart: sources disagree on whether they are the same (NORMALIZATION §11).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    Anyone,
    Typed(BTreeMap<PrincipalKind, SortedSet<String>>),
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
/// first written so rendered policies stay readable. The lowercase form is not stored: comparing char by
/// char avoids an allocation per action, which was a third of the time to build a policy.
#[derive(Debug, Clone)]
pub struct CiString {
    original: String,
}

impl CiString {
    pub fn new(original: impl Into<String>) -> Self {
        CiString { original: original.into() }
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The lowercase form: what the canonical form writes and what comparisons use.
    pub fn folded(&self) -> Cow<'_, str> {
        let s = self.original.as_str();
        if s.is_ascii() {
            if s.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(s.to_ascii_lowercase())
            } else {
                Cow::Borrowed(s)
            }
        } else {
            Cow::Owned(s.to_lowercase())
        }
    }

    fn folded_chars(&self) -> impl Iterator<Item = char> + '_ {
        self.original.chars().flat_map(char::to_lowercase)
    }
}

impl PartialEq for CiString {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for CiString {}
impl PartialOrd for CiString {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
/// Orders by the lowercase form, char by char; for UTF-8 that is also the byte order of the folded
/// strings, so sets iterate in canonical order.
impl Ord for CiString {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (self.original.as_bytes(), other.original.as_bytes());
        if a.is_ascii() && b.is_ascii() {
            return a.iter().map(u8::to_ascii_lowercase).cmp(b.iter().map(u8::to_ascii_lowercase));
        }
        self.folded_chars().cmp(other.folded_chars())
    }
}
impl std::hash::Hash for CiString {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for c in self.folded_chars() {
            c.hash(state);
        }
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
                tail.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
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

/// A 12-digit AWS account ID.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An action as a policy may name it: `*` or `service:Name`, the name with `*` and `?` wildcards.
pub fn is_action_pattern(s: &str) -> bool {
    s == "*"
        || s.split_once(':').is_some_and(|(service, name)| {
            !service.is_empty()
                && service.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'?' | b'-' | b'_'))
        })
}

/// An ARN: `arn:` and at least six `:`-separated parts (`arn:aws:s3:::bucket/key`).
pub fn is_arn(s: &str) -> bool {
    s.starts_with("arn:") && s.bytes().filter(|&b| b == b':').count() >= 5
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
    CONDITION_OPERATORS.contains(&base).then_some((set, base, if_exists))
}
impl Policy {
    /// Parses and normalises a bucket policy, with `aws` as the partition for bare account IDs.
    pub fn parse(input: &[u8]) -> Result<Policy, PolicyError> {
        Policy::parse_in(input, &Partition::aws())
    }

    /// Parses and normalises a bucket policy of a bucket in `partition`.
    pub fn parse_in(input: &[u8], partition: &Partition) -> Result<Policy, PolicyError> {
        let mut reader = Reader { p: Parser::new(input)?, partition };
        let policy = reader.policy(&Path::Root)?;
        reader.p.finish()?;
        Ok(policy)
    }

    /// The Sid of the first statement as written: the state the policy *claims* to be in.
    pub fn claimed_state(&self) -> Option<&str> {
        self.statements.first().and_then(|s| s.sid.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_strings_compare_folded() {
        assert_eq!(CiString::new("S3:GetObject"), CiString::new("s3:getobject"));
        assert!(CiString::new("s3:B") > CiString::new("s3:a"));
        assert_eq!(CiString::new("AWS:Key").folded(), "aws:key");
        assert!(matches!(CiString::new("aws:key").folded(), Cow::Borrowed(_)));
        assert_eq!(CiString::new("aws:PrincipalTag/ÄBC"), CiString::new("aws:principaltag/äbc"));
        assert_eq!(CiString::new("ÄBC").folded(), "äbc");
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
