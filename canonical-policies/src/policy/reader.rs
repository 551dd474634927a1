//! The strict reader: policy JSON straight from the token stream into the model, with AWS's own
//! rewrites applied and everything outside the grammar refused.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{
    is_account_id, split_operator, CiString, Clause, Conditions, Effect, Partition, Policy, Principal,
    PrincipalKind, Statement, Version,
};
use crate::error::PolicyError;
use crate::json::{Json, Kind, Parser, Path};
use crate::set::SortedSet;

/// Reads a policy straight from the token stream, without a JSON tree (building and dropping the tree
/// cost more than everything else). Every key is either known or an error, so duplicates are caught
/// where a field would be set twice.
pub(super) struct Reader<'a, 'p> {
    pub(super) p: Parser<'a>,
    pub(super) partition: &'p Partition,
}

fn invalid(path: &Path<'_>, value: &str, reason: &'static str) -> PolicyError {
    PolicyError::InvalidValue { path: path.render(), value: value.to_owned(), reason }
}

fn duplicate(path: &Path<'_>, key: &str) -> PolicyError {
    PolicyError::DuplicateKey { path: path.render(), key: key.to_owned() }
}

/// The statement keys that come in pairs, in the order they are reported.
const PAIRS: [(&str, &str); 3] =
    [("Principal", "NotPrincipal"), ("Action", "NotAction"), ("Resource", "NotResource")];

impl<'a> Reader<'a, '_> {
    fn expect(&mut self, path: &Path<'_>, want: Kind, expected: &'static str) -> Result<(), PolicyError> {
        let found = self.p.peek_kind(path)?;
        if found == want {
            Ok(())
        } else {
            Err(self.wrong_type(path, expected, found))
        }
    }

    /// A value of the wrong type. It is read through first, so that broken JSON inside it (`nope`
    /// looks like `null` by its first byte) reports as the syntax error it is.
    fn wrong_type(&mut self, path: &Path<'_>, expected: &'static str, found: Kind) -> PolicyError {
        match self.p.tree(path, 1) {
            Err(e) => e,
            Ok(_) => PolicyError::WrongType { path: path.render(), expected, found: found.name() },
        }
    }

    fn string(&mut self, path: &Path<'_>) -> Result<Cow<'a, str>, PolicyError> {
        self.expect(path, Kind::String, "a string")?;
        self.p.string(path)
    }

    /// A string or a non-empty array of strings (AWS collapses one-element arrays to scalars), as a set.
    fn set<T: Ord>(
        &mut self,
        path: &Path<'_>,
        depth: usize,
        mut each: impl FnMut(&Self, &str, &Path<'_>) -> Result<T, PolicyError>,
    ) -> Result<SortedSet<T>, PolicyError> {
        match self.p.peek_kind(path)? {
            Kind::String => {
                let s = self.p.string(path)?;
                Ok(SortedSet::from_vec(vec![each(self, &s, path)?]))
            }
            Kind::Array => {
                self.p.begin_array(path, depth)?;
                let mut items = Vec::new();
                let mut first = true;
                while self.p.next_item(path, &mut first)? {
                    let p = path.index(items.len());
                    let s = self.string(&p)?;
                    items.push(each(self, &s, &p)?);
                }
                if items.is_empty() {
                    return Err(PolicyError::Empty { path: path.render(), what: "array" });
                }
                Ok(SortedSet::from_vec(items))
            }
            other => Err(self.wrong_type(path, "a string or an array of strings", other)),
        }
    }

    pub(super) fn policy(&mut self, path: &Path<'_>) -> Result<Policy, PolicyError> {
        self.expect(path, Kind::Object, "an object")?;
        self.p.begin_object(path, 1)?;
        let (mut version, mut id, mut statements) = (None, None, None);
        let mut first = true;
        while let Some(key) = self.p.next_key(path, &mut first)? {
            let p = path.key(&key);
            match key.as_ref() {
                "Version" if version.is_none() => {
                    version = Some(match self.string(&p)?.as_ref() {
                        "2012-10-17" => Version::V2012_10_17,
                        "2008-10-17" => Version::V2008_10_17,
                        other => return Err(invalid(&p, other, "expected `2012-10-17` or `2008-10-17`")),
                    })
                }
                "Id" if id.is_none() => id = Some(self.string(&p)?.into_owned()),
                "Statement" if statements.is_none() => statements = Some(self.statements(&p)?),
                "Version" | "Id" | "Statement" => return Err(duplicate(path, &key)),
                _ => return Err(PolicyError::UnknownKey { path: path.render(), key: key.into_owned() }),
            }
        }
        let Some(statements) = statements else {
            return Err(PolicyError::Missing { path: path.render(), key: "Statement" });
        };
        Ok(Policy { version, id, statements })
    }

    fn statements(&mut self, path: &Path<'_>) -> Result<Vec<Statement>, PolicyError> {
        match self.p.peek_kind(path)? {
            // A lone statement object is the same policy as a one-element array.
            Kind::Object => Ok(vec![self.statement(path, 2)?]),
            Kind::Array => {
                self.p.begin_array(path, 2)?;
                let mut out = Vec::new();
                let mut first = true;
                while self.p.next_item(path, &mut first)? {
                    let p = path.index(out.len());
                    self.expect(&p, Kind::Object, "an object")?;
                    out.push(self.statement(&p, 3)?);
                }
                if out.is_empty() {
                    return Err(PolicyError::Empty { path: path.render(), what: "statement list" });
                }
                Ok(out)
            }
            other => Err(self.wrong_type(path, "an object or an array of objects", other)),
        }
    }

    fn statement(&mut self, path: &Path<'_>, depth: usize) -> Result<Statement, PolicyError> {
        self.p.begin_object(path, depth)?;
        let mut sid: Option<Cow<'a, str>> = None;
        let mut effect = None;
        let mut principal: Option<Clause<Principal>> = None;
        let mut action: Option<Clause<SortedSet<CiString>>> = None;
        let mut resource: Option<Clause<SortedSet<String>>> = None;
        let mut condition: Option<Conditions> = None;
        let mut first = true;
        while let Some(key) = self.p.next_key(path, &mut first)? {
            let p = path.key(&key);
            let negated = key.starts_with("Not");
            match key.as_ref() {
                "Sid" if sid.is_none() => sid = Some(self.string(&p)?),
                "Effect" if effect.is_none() => {
                    effect = Some(match self.string(&p)?.as_ref() {
                        "Allow" => Effect::Allow,
                        "Deny" => Effect::Deny,
                        other => return Err(invalid(&p, other, "expected `Allow` or `Deny`")),
                    })
                }
                "Principal" | "NotPrincipal" => {
                    vacant(&principal, path, &key, PAIRS[0])?;
                    principal = Some(Clause { negated, values: self.principal(&p, depth + 1)? });
                }
                "Action" | "NotAction" => {
                    vacant(&action, path, &key, PAIRS[1])?;
                    action = Some(Clause {
                        negated,
                        values: self.set(&p, depth + 1, |_, s, p| action_name(s, p))?,
                    });
                }
                "Resource" | "NotResource" => {
                    vacant(&resource, path, &key, PAIRS[2])?;
                    resource = Some(Clause {
                        negated,
                        values: self.set(&p, depth + 1, |_, s, p| resource_name(s, p))?,
                    });
                }
                "Condition" if condition.is_none() => condition = Some(self.conditions(&p, depth + 1)?),
                "Sid" | "Effect" | "Condition" => return Err(duplicate(path, &key)),
                _ => return Err(PolicyError::UnknownKey { path: path.render(), key: key.into_owned() }),
            }
        }
        let Some(effect) = effect else {
            return Err(PolicyError::Missing { path: path.render(), key: "Effect" });
        };
        let neither = |(first, second): (&'static str, &'static str)| PolicyError::Neither {
            path: path.render(),
            first,
            second,
        };
        let principal = principal.ok_or_else(|| neither(PAIRS[0]))?;
        // "NotPrincipal must be used with "Effect":"Deny"" (IAM JSON policy elements: NotPrincipal);
        // with Allow it would grant everyone not named, and S3 refuses such a policy.
        if principal.negated && effect == Effect::Allow {
            return Err(invalid(
                path,
                "NotPrincipal",
                "`NotPrincipal` goes with `\"Effect\": \"Deny\"` only",
            ));
        }
        let action = action.ok_or_else(|| neither(PAIRS[1]))?;
        let resource = resource.ok_or_else(|| neither(PAIRS[2]))?;
        let sid = sid.filter(|s| !s.is_empty()).map(Cow::into_owned);
        Ok(Statement { sid, effect, principal, action, resource, condition: condition.unwrap_or_default() })
    }

    fn principal(&mut self, path: &Path<'_>, depth: usize) -> Result<Principal, PolicyError> {
        match self.p.peek_kind(path)? {
            Kind::String => {
                let s = self.p.string(path)?;
                if s == "*" {
                    Ok(Principal::Anyone)
                } else {
                    Err(invalid(path, &s, "a principal is `*` or an object such as {\"AWS\": ...}"))
                }
            }
            Kind::Object => {
                self.p.begin_object(path, depth)?;
                let mut map = BTreeMap::new();
                let mut first = true;
                while let Some(key) = self.p.next_key(path, &mut first)? {
                    let Some(kind) = PrincipalKind::from_key(&key) else {
                        return Err(PolicyError::UnknownKey { path: path.render(), key: key.into_owned() });
                    };
                    if map.contains_key(&kind) {
                        return Err(duplicate(path, &key));
                    }
                    let set =
                        self.set(&path.key(&key), depth + 1, |r, s, p| r.principal_value(kind, s, p))?;
                    map.insert(kind, set);
                }
                if map.is_empty() {
                    return Err(PolicyError::Empty { path: path.render(), what: "principal" });
                }
                Ok(Principal::Typed(map))
            }
            other => Err(self.wrong_type(path, "`*` or an object", other)),
        }
    }

    fn principal_value(&self, kind: PrincipalKind, s: &str, path: &Path<'_>) -> Result<String, PolicyError> {
        if s.is_empty() {
            return Err(PolicyError::Empty { path: path.render(), what: "principal" });
        }
        // AWS stores a bare account ID as the account's root ARN (NORMALIZATION §4).
        if kind == PrincipalKind::Aws && is_account_id(s) {
            return Ok(format!("arn:{}:iam::{s}:root", self.partition));
        }
        Ok(s.to_owned())
    }

    fn conditions(&mut self, path: &Path<'_>, depth: usize) -> Result<Conditions, PolicyError> {
        self.expect(path, Kind::Object, "an object")?;
        self.p.begin_object(path, depth)?;
        let mut out = Conditions::new();
        let mut first = true;
        while let Some(op) = self.p.next_key(path, &mut first)? {
            let p = path.key(&op);
            if split_operator(&op).is_none() {
                return Err(invalid(&p, &op, "unknown condition operator"));
            }
            if out.contains_key(op.as_ref()) {
                return Err(duplicate(path, &op));
            }
            self.expect(&p, Kind::Object, "an object")?;
            self.p.begin_object(&p, depth + 1)?;
            let mut by_key = BTreeMap::new();
            let mut inner = true;
            while let Some(key) = self.p.next_key(&p, &mut inner)? {
                let kp = p.key(&key);
                if key.is_empty() {
                    return Err(PolicyError::Empty { path: kp.render(), what: "condition key" });
                }
                let values = self.condition_values(&kp, depth + 2)?;
                // Condition keys are case-insensitive, so `aws:SourceIp` and `AWS:SOURCEIP` in one block
                // would be two values for one key: ambiguous, rejected like a duplicate JSON key.
                if by_key.insert(CiString::new(key.as_ref()), values).is_some() {
                    return Err(duplicate(&p, &key));
                }
            }
            if by_key.is_empty() {
                return Err(PolicyError::Empty { path: p.render(), what: "condition operator block" });
            }
            out.insert(op.into_owned(), by_key);
        }
        if out.is_empty() {
            return Err(PolicyError::Empty { path: path.render(), what: "condition block" });
        }
        Ok(out)
    }

    fn condition_value(&mut self, path: &Path<'_>) -> Result<String, PolicyError> {
        // AWS stores JSON booleans and numbers in conditions as strings (NORMALIZATION §7).
        match self.p.peek_kind(path)? {
            Kind::String | Kind::Bool | Kind::Number => match self.p.scalar(path)? {
                Json::String(s) | Json::Number(s) => Ok(s.into_owned()),
                Json::Bool(b) => Ok(b.to_string()),
                _ => Err(PolicyError::WrongType {
                    path: path.render(),
                    expected: "a string, boolean or number",
                    found: "null",
                }),
            },
            other => Err(self.wrong_type(path, "a string, boolean or number", other)),
        }
    }

    fn condition_values(&mut self, path: &Path<'_>, depth: usize) -> Result<SortedSet<String>, PolicyError> {
        if self.p.peek_kind(path)? != Kind::Array {
            return Ok(SortedSet::from_vec(vec![self.condition_value(path)?]));
        }
        self.p.begin_array(path, depth)?;
        let mut values = Vec::new();
        let mut first = true;
        while self.p.next_item(path, &mut first)? {
            values.push(self.condition_value(&path.index(values.len()))?);
        }
        if values.is_empty() {
            return Err(PolicyError::Empty { path: path.render(), what: "array" });
        }
        Ok(SortedSet::from_vec(values))
    }
}

/// A clause key met when its pair is already set: `Action` twice is a duplicate key, `Action` with
/// `NotAction` is "both".
fn vacant<T>(
    slot: &Option<Clause<T>>,
    path: &Path<'_>,
    key: &str,
    (first, second): (&'static str, &'static str),
) -> Result<(), PolicyError> {
    match slot {
        Some(prev) if key.starts_with("Not") == prev.negated => Err(duplicate(path, key)),
        Some(_) => Err(PolicyError::Both { path: path.render(), first, second }),
        None => Ok(()),
    }
}

fn action_name(s: &str, path: &Path<'_>) -> Result<CiString, PolicyError> {
    if super::is_action_pattern(s) {
        Ok(CiString::new(s))
    } else {
        Err(invalid(path, s, "an action is `*` or `service:Name`"))
    }
}

fn resource_name(s: &str, path: &Path<'_>) -> Result<String, PolicyError> {
    if s == "*" || super::is_arn(s) {
        Ok(s.to_owned())
    } else {
        Err(invalid(path, s, "a resource is `*` or an arn"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;

    fn err(input: &str) -> String {
        Policy::parse(input.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn parses_a_minimal_policy() {
        let p = Policy::parse(MIN.as_bytes()).unwrap();
        assert_eq!(p.statements.len(), 1);
        assert_eq!(p.statements[0].principal.values, Principal::Anyone);
        assert_eq!(p.version, Some(Version::V2012_10_17));
    }

    #[test]
    fn strictness() {
        assert_eq!(err(r#"{"Extra":1,"Statement":[]}"#), "unknown key `Extra` at $");
        assert_eq!(err(r#"{"Statement":[]}"#), "empty statement list at $.Statement");
        assert_eq!(
            err(r#"{"Statement":{"Effect":"Allow","Effect":"Deny"}}"#),
            "duplicate key `Effect` at $.Statement"
        );
        assert_eq!(
            err(
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:a","Action":"s3:b","Resource":"*"}}"#
            ),
            "duplicate key `Action` at $.Statement"
        );
        assert_eq!(
            err(
                r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*","AWS":"1"},"Action":"s3:a","Resource":"*"}}"#
            ),
            "duplicate key `AWS` at $.Statement.Principal"
        );
        assert_eq!(
            err(r#"{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}"#),
            "duplicate key `Version` at $"
        );
        assert_eq!(
            err(
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:a","Resource":"*","Condition":{"Bool":{"a":"1"},"Bool":{"b":"1"}}}}"#
            ),
            "duplicate key `Bool` at $.Statement.Condition"
        );
        assert!(err(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:a","Resource":"*"}]} x"#
        )
        .contains("trailing characters"));
        assert!(err(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:a","Resource":"*"}]"#)
            .contains("unexpected end"));
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
        assert!(err(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}]}"#)
            .starts_with("empty array at $.Statement[0].Action"));
    }

    #[test]
    fn normalises_like_aws() {
        let a = Policy::parse(br#"{"Statement":[{"Sid":"","Effect":"Allow","Principal":{"AWS":["123456789012"]},"Action":["S3:GetObject"],"Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"AWS:SecureTransport":true}}}]}"#).unwrap();
        let b = Policy::parse(br#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:getobject","Resource":["arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:securetransport":["true"]}}}}"#).unwrap();
        assert_eq!(a, b);
        let cn = Policy::parse_in(br#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:x","Resource":"*"}}"#, &Partition::new("aws-cn").unwrap()).unwrap();
        let Principal::Typed(m) = &cn.statements[0].principal.values else { panic!() };
        assert!(m[&PrincipalKind::Aws].contains("arn:aws-cn:iam::123456789012:root"));
    }
}
