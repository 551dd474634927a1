//! Investigator roles (`[[investigator]]`) and their lawful trust policies.

use std::borrow::Cow;
use std::collections::BTreeSet;

use canonical_policies::json::{self, Json};
use canonical_policies::{is_account_id, Arn, Partition, Policy, PolicyHash};

use crate::bucket::BucketConfig;
use crate::error::ConfigError;
use crate::raw::RawInvestigator;

/// The lawful trust policy of one investigator role: who may become the reader an OpenAccess names.
/// The enforcer puts it back when someone changes the role's trust (or deletes and recreates the role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Investigator {
    /// The role ARN, path included, as in `investigator_roles`.
    pub role: String,
    /// IAM principals (role or user ARNs, or account root ARNs) allowed to assume it.
    pub assumable_by: BTreeSet<String>,
}

impl Investigator {
    /// The role's name: the last part of its ARN (what IAM's role calls take).
    pub fn role_name(&self) -> &str {
        self.role.rsplit('/').next().unwrap_or(&self.role)
    }

    /// Whether `role` (an ARN, or a name as IAM's calls record it) names this role. IAM role names
    /// are not distinguished by case, so a call may name the role in any case.
    pub fn is(&self, role: &str) -> bool {
        names_role(&self.role, role)
    }

    /// The trust policy as IAM should hold it.
    pub fn trust_policy_json(&self) -> String {
        let principals: Vec<Json<'_>> =
            self.assumable_by.iter().map(|p| Json::String(Cow::Borrowed(p.as_str()))).collect();
        let doc = Json::Object(vec![
            ("Version".into(), Json::String("2012-10-17".into())),
            (
                "Statement".into(),
                Json::Array(vec![Json::Object(vec![
                    ("Sid".into(), Json::String("BreakglassInvestigatorTrust".into())),
                    ("Effect".into(), Json::String("Allow".into())),
                    ("Principal".into(), Json::Object(vec![("AWS".into(), Json::Array(principals))])),
                    ("Action".into(), Json::String("sts:AssumeRole".into())),
                ])]),
            ),
        ]);
        doc.to_text()
    }

    /// Whether `live` (IAM's trust policy, URL-decoded) is this investigator's trust policy, by
    /// canonical hash; a trust policy that does not parse is never lawful.
    pub fn is_lawful_trust(&self, live: &str, partition: &Partition) -> bool {
        match (trust_hash(live, partition), trust_hash(&self.trust_policy_json(), partition)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    pub(crate) fn from_raw(
        raw: &RawInvestigator,
        buckets: &[BucketConfig],
        in_organisation: bool,
    ) -> Result<Investigator, ConfigError> {
        let invalid =
            |field, value: &str, reason| ConfigError::invalid("[[investigator]]", field, value, reason);
        let Some(bucket) = buckets.iter().find(|b| b.investigator_roles.contains(&raw.role)) else {
            return Err(invalid("role", &raw.role, "not an investigator role of any bucket"));
        };
        // Single-account mode reaches IAM with the logging account's own credentials, and IAM names
        // a role by its name alone: a role of another account would be looked up, and its trust
        // written, in this one (another role of the same name).
        let account = Arn::parse(&raw.role).map(|a| a.account.to_owned()).unwrap_or_default();
        if !in_organisation && account != bucket.account {
            return Err(invalid(
                "role",
                &raw.role,
                "watched roles must be in the buckets' account in single-account mode (organisation mode reaches other accounts)",
            ));
        }
        if raw.assumable_by.is_empty() {
            return Err(invalid("assumable_by", "[]", "needs at least one principal arn"));
        }
        let mut assumable_by = BTreeSet::new();
        for p in &raw.assumable_by {
            let ok = Arn::parse(p).is_ok_and(|a| {
                let res = a.resource;
                a.service == "iam"
                    && a.region.is_empty()
                    && is_account_id(a.account)
                    && (res == "root" || res.starts_with("role/") || res.starts_with("user/"))
                    && !res.contains('*')
            });
            if !ok {
                return Err(invalid("assumable_by", p, "expected an iam role, user or account root arn"));
            }
            assumable_by.insert(p.clone());
        }
        Ok(Investigator { role: raw.role.clone(), assumable_by })
    }
}

/// The canonical hash of a role trust policy. A trust policy has no `Resource` (the role is the
/// resource); it is read as if every statement said `"Resource": "*"`, so that the bucket-policy
/// parser and its canonical form apply unchanged.
pub fn trust_hash(text: &str, partition: &Partition) -> Option<PolicyHash> {
    let mut doc = json::parse(text.as_bytes()).ok()?;
    let Json::Object(members) = &mut doc else { return None };
    let add_resource = |statement: &mut Json<'_>| {
        if let Json::Object(m) = statement {
            if !m.iter().any(|(k, _)| k == "Resource" || k == "NotResource") {
                m.push(("Resource".into(), Json::String("*".into())));
            }
        }
    };
    for (k, v) in members.iter_mut() {
        if k == "Statement" {
            match v {
                Json::Array(items) => items.iter_mut().for_each(add_resource),
                one => add_resource(one),
            }
        }
    }
    Policy::parse_in(doc.to_text().as_bytes(), partition).ok().map(|p| p.hash())
}

/// Whether `role` (an ARN, or a name as IAM's calls record it) names the role of ARN `arn`. IAM
/// role names are not distinguished by case, so a call may name the role in any case.
pub(crate) fn names_role(arn: &str, role: &str) -> bool {
    arn.eq_ignore_ascii_case(role) || arn.rsplit('/').next().is_some_and(|n| n.eq_ignore_ascii_case(role))
}
