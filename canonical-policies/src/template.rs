//! The ClosedAccess and OpenAccess templates (`canonical-policies/templates/*.json`) and their rendering.
//!
//! Templates are JSON with `{{name}}` placeholders. A scalar placeholder is replaced inside strings; a
//! list placeholder must be a whole string: inside an array it splices its items in, elsewhere it becomes
//! an array. The optional list `{{read_services}}` (the allow-listed services, `service.rs`), when
//! empty, removes the object member whose value it is, and an object left empty by that goes too:
//! with no allow-list the templates render as if the exemption were not written. Rendering produces a JSON tree that then goes through the same strict reader as any policy
//! found on a bucket, so a template can never be looser than the grammar.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use std::borrow::Cow;

use crate::json::{self, Json};
use crate::policy::{Partition, Policy};
use crate::PolicyError;

/// Sid of the first statement of each template. Classification never trusts these: it compares hashes.
pub const CLOSED_SID: &str = "ClosedAccess";
pub const OPEN_SID: &str = "OpenAccess";
pub const OPEN_EXPIRY_SID: &str = "OpenAccessExpiry";
pub const OPEN_READERS_SID: &str = "OpenAccessReaders";
/// Sids the templates own; base statements may not use them (nor the per-service statements' Sids:
/// `is_reserved_sid`).
pub const RESERVED_SIDS: [&str; 4] = [CLOSED_SID, OPEN_SID, OPEN_EXPIRY_SID, OPEN_READERS_SID];

/// Every S3 action that returns object data (or copies it somewhere readable). See
/// `docs/canonical-form.md#object-read-actions` for why each is here and why others are not.
pub const OBJECT_READ_ACTIONS: [&str; 6] = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectTorrent",
    "s3:GetObjectVersionTorrent",
    "s3:GetObjectVersionForReplication",
    "s3:RestoreObject",
];

pub(crate) const CLOSED_TEMPLATE: &str = include_str!("../templates/closed.json");
pub(crate) const OPEN_TEMPLATE: &str = include_str!("../templates/open.json");

/// Which template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TemplateKind {
    Closed,
    Open,
}

impl TemplateKind {
    pub fn sid(self) -> &'static str {
        match self {
            TemplateKind::Closed => CLOSED_SID,
            TemplateKind::Open => OPEN_SID,
        }
    }
}

/// The parameters of an OpenAccess: who may read, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenGrant {
    pub readers: BTreeSet<String>,
    pub expiry: OffsetDateTime,
}

/// The expiry as written into the policy: UTC, whole seconds, `Z` (`2026-11-24T18:00:00Z`). One
/// spelling only, so that the classifier can re-render a grant byte for byte.
pub fn format_expiry(t: OffsetDateTime) -> String {
    // Times are made UTC where they are parsed (`parse_expiry`); one that cannot be (its UTC year
    // past 9999) is shown as it is rather than panic.
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses exactly the spelling [`format_expiry`] writes, in UTC. A time whose UTC year leaves the
/// four digits (`9999-12-31T23:59:59-00:01`) is none: it is not the spelling, and converting it
/// would panic.
pub fn parse_expiry(s: &str) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let t = t.checked_to_offset(time::UtcOffset::UTC)?;
    (format_expiry(t) == s).then_some(t)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("unknown placeholder {} in {context}", crate::Quoted(.name))]
    UnknownPlaceholder { name: String, context: &'static str },
    #[error("placeholder {} is a list and must be a whole string in {context}", crate::Quoted(.name))]
    ListInString { name: String, context: &'static str },
    #[error("placeholder {} has no value in {context}", crate::Quoted(.name))]
    Missing { name: String, context: &'static str },
    #[error("rendered {context} is not a valid bucket policy: {source}")]
    Invalid { context: &'static str, source: PolicyError },
    #[error("{context} is not valid json: {source}")]
    Json { context: &'static str, source: PolicyError },
}

/// Values for the placeholders. `None` / absent means "not available here" (e.g. no expiry for
/// ClosedAccess), which is an error if the template uses it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vars<'a> {
    pub bucket: &'a str,
    pub partition: &'a str,
    pub account: &'a str,
    pub expiry: Option<String>,
    pub readers: Option<&'a BTreeSet<String>>,
    pub automation_principals: Option<&'a BTreeSet<String>>,
    pub base_statements: Option<&'a [Json<'static>]>,
    /// The allow-listed services (optional: empty drops the member it is the value of).
    pub read_services: Option<&'a BTreeSet<String>>,
    /// The per-service read denies (`service::service_read_denies`), spliced in.
    pub service_reads: Option<&'a [Json<'static>]>,
}

enum Value<'v> {
    Scalar(&'v str),
    /// Items, and whether an empty list removes the member it is the value of.
    List(Vec<Json<'static>>, bool),
}

impl Vars<'_> {
    fn lookup(&self, name: &str, context: &'static str) -> Result<Value<'_>, RenderError> {
        let missing = || RenderError::Missing { name: name.to_owned(), context };
        let strings = |set: Option<&BTreeSet<String>>| -> Result<Value<'_>, RenderError> {
            Ok(Value::List(
                set.ok_or_else(missing)?.iter().map(|s| Json::String(Cow::Owned(s.clone()))).collect(),
                false,
            ))
        };
        match name {
            "bucket" => Ok(Value::Scalar(self.bucket)),
            "partition" => Ok(Value::Scalar(self.partition)),
            "account" => Ok(Value::Scalar(self.account)),
            "expiry" => self.expiry.as_deref().map(Value::Scalar).ok_or_else(missing),
            "readers" => strings(self.readers),
            "automation_principals" => strings(self.automation_principals),
            "base_statements" => Ok(Value::List(self.base_statements.ok_or_else(missing)?.to_vec(), false)),
            "service_reads" => Ok(Value::List(self.service_reads.ok_or_else(missing)?.to_vec(), false)),
            "read_services" => match strings(self.read_services)? {
                Value::List(items, _) => Ok(Value::List(items, true)),
                scalar => Ok(scalar),
            },
            _ => Err(RenderError::UnknownPlaceholder { name: name.to_owned(), context }),
        }
    }

    /// A string that is exactly `{{name}}`.
    fn whole(s: &str) -> Option<&str> {
        let name = s.strip_prefix("{{")?.strip_suffix("}}")?;
        (!name.contains("{{") && !name.contains("}}")).then_some(name)
    }

    fn interpolate(&self, s: &str, context: &'static str) -> Result<String, RenderError> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            out.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 2..).unwrap_or_default();
            let Some(end) = after.find("}}") else {
                return Err(RenderError::UnknownPlaceholder { name: after.to_owned(), context });
            };
            let name = after.get(..end).unwrap_or_default();
            match self.lookup(name, context)? {
                Value::Scalar(v) => out.push_str(v),
                Value::List(..) => return Err(RenderError::ListInString { name: name.to_owned(), context }),
            }
            rest = after.get(end + 2..).unwrap_or_default();
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Fills placeholders; the result owns its text (it outlives the template it came from).
    pub(crate) fn substitute(
        &self,
        value: &Json<'_>,
        context: &'static str,
    ) -> Result<Json<'static>, RenderError> {
        Ok(match value {
            Json::String(s) => match Self::whole(s).map(|n| (n, self.lookup(n, context))) {
                Some((_, Ok(Value::List(items, _)))) => Json::Array(items),
                Some((_, Err(e))) => return Err(e),
                _ => Json::String(Cow::Owned(self.interpolate(s, context)?)),
            },
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Json::String(s) = item {
                        if let Some(name) = Self::whole(s) {
                            if let Value::List(list, _) = self.lookup(name, context)? {
                                out.extend(list);
                                continue;
                            }
                        }
                    }
                    out.push(self.substitute(item, context)?);
                }
                Json::Array(out)
            }
            Json::Object(members) => {
                let mut out = Vec::with_capacity(members.len());
                for (k, v) in members {
                    if let Some(v) = self.substitute_member(v, context)? {
                        out.push((Cow::Owned(k.to_string()), v));
                    }
                }
                Json::Object(out)
            }
            other => other.clone().into_owned(),
        })
    }

    /// A member's value, or `None` when an empty optional list removes the member (and with it an
    /// object that it leaves empty).
    fn substitute_member(
        &self,
        value: &Json<'_>,
        context: &'static str,
    ) -> Result<Option<Json<'static>>, RenderError> {
        if let Json::String(s) = value {
            if let Some(name) = Self::whole(s) {
                if let Value::List(items, true) = self.lookup(name, context)? {
                    return Ok((!items.is_empty()).then_some(Json::Array(items)));
                }
            }
        }
        Ok(match (value, self.substitute(value, context)?) {
            (Json::Object(before), Json::Object(after)) if after.is_empty() && !before.is_empty() => None,
            (_, v) => Some(v),
        })
    }
}

/// Renders a template text into a policy.
pub(crate) fn render(
    template: &str,
    vars: &Vars<'_>,
    partition: &Partition,
    context: &'static str,
) -> Result<Policy, RenderError> {
    let doc = json::parse(template.as_bytes()).map_err(|source| RenderError::Json { context, source })?;
    // Base statements get their own placeholders filled first, from bucket values only: they may not
    // refer to a grant's readers or expiry, nor splice in base statements again.
    let base_vars = Vars {
        expiry: None,
        readers: None,
        base_statements: None,
        read_services: None,
        service_reads: None,
        ..vars.clone()
    };
    let base: Option<Vec<Json<'static>>> = vars
        .base_statements
        .map(|b| b.iter().map(|s| base_vars.substitute(s, "base_statements")).collect())
        .transpose()?;
    let vars = Vars { base_statements: base.as_deref(), ..vars.clone() };
    let rendered = vars.substitute(&doc, context)?;
    // Through text and the one strict reader: a template is held to exactly the rules of a bucket.
    Policy::parse_in(rendered.to_text().as_bytes(), partition)
        .map_err(|source| RenderError::Invalid { context, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_has_one_spelling() {
        let t = parse_expiry("2026-11-24T18:00:00Z").unwrap();
        assert_eq!(format_expiry(t), "2026-11-24T18:00:00Z");
        assert!(parse_expiry("2026-11-24T18:00:00+00:00").is_none());
        assert!(parse_expiry("2026-11-24T18:00:00.5Z").is_none());
        assert!(parse_expiry("tomorrow").is_none());
    }

    #[test]
    fn both_templates_list_every_object_read_action_first() {
        for text in [CLOSED_TEMPLATE, OPEN_TEMPLATE] {
            let doc = json::parse(text.as_bytes()).unwrap();
            let Json::Object(m) = doc else { panic!() };
            let Json::Array(stmts) = &m.iter().find(|(k, _)| k == "Statement").unwrap().1 else { panic!() };
            let Json::Object(first) = &stmts[0] else { panic!() };
            let Json::Array(actions) = &first.iter().find(|(k, _)| k == "Action").unwrap().1 else {
                panic!()
            };
            let actions: Vec<_> =
                actions.iter().map(|a| if let Json::String(s) = a { s.as_ref() } else { "" }).collect();
            assert_eq!(actions, OBJECT_READ_ACTIONS);
        }
    }

    #[test]
    fn placeholders() {
        let readers = BTreeSet::from(["arn:aws:iam::111122223333:role/r".to_string()]);
        let vars =
            Vars { bucket: "b", partition: "aws", account: "1", readers: Some(&readers), ..Vars::default() };
        let doc =
            json::parse(br#"{"a":"x-{{bucket}}-{{partition}}","b":"{{readers}}","c":["{{readers}}","y"]}"#)
                .unwrap();
        let out = vars.substitute(&doc, "test").unwrap();
        let expected = json::parse(br#"{"a":"x-b-aws","b":["arn:aws:iam::111122223333:role/r"],"c":["arn:aws:iam::111122223333:role/r","y"]}"#).unwrap();
        assert_eq!(out, expected);
        let bad = json::parse(br#"{"a":"{{nope}}"}"#).unwrap();
        assert_eq!(
            vars.substitute(&bad, "test").unwrap_err().to_string(),
            "unknown placeholder `nope` in test"
        );
        let list_in_string = json::parse(br#"{"a":"x{{readers}}"}"#).unwrap();
        assert!(matches!(vars.substitute(&list_in_string, "t"), Err(RenderError::ListInString { .. })));
        let missing = json::parse(br#"{"a":"{{expiry}}"}"#).unwrap();
        assert!(matches!(vars.substitute(&missing, "t"), Err(RenderError::Missing { .. })));
    }

    #[test]
    fn an_empty_optional_list_removes_its_member_and_what_it_empties() {
        let none = BTreeSet::new();
        let some = BTreeSet::from(["cloudfront.amazonaws.com".to_string()]);
        let doc = json::parse(br#"{"S":"x","Condition":{"StringNotEqualsIfExists":{"k":"{{read_services}}"}},"D":{"A":{"b":"c"},"N":{"k":"{{read_services}}"}}}"#).unwrap();
        let vars = Vars { read_services: Some(&none), ..Vars::default() };
        assert_eq!(vars.substitute(&doc, "t").unwrap().to_text(), r#"{"S":"x","D":{"A":{"b":"c"}}}"#);
        let vars = Vars { read_services: Some(&some), ..Vars::default() };
        assert_eq!(
            vars.substitute(&doc, "t").unwrap().to_text(),
            r#"{"S":"x","Condition":{"StringNotEqualsIfExists":{"k":["cloudfront.amazonaws.com"]}},"D":{"A":{"b":"c"},"N":{"k":["cloudfront.amazonaws.com"]}}}"#
        );
        // Other lists never remove anything: an empty reader list stays visible (and fails later).
        let readers = json::parse(br#"{"k":"{{readers}}"}"#).unwrap();
        let vars = Vars { readers: Some(&none), ..Vars::default() };
        assert_eq!(vars.substitute(&readers, "t").unwrap().to_text(), r#"{"k":[]}"#);
    }
}
