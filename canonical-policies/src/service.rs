//! The services that may read a protected bucket's objects: the allow-list (`[[service_reads]]` in
//! the config), empty by default. Every other AWS service principal is denied the object reads
//! ([`OBJECT_READ_ACTIONS`]) by both templates and by the organisation's RCP; writes (CloudTrail's
//! `s3:PutObject`) are not object reads and stay untouched.
//!
//! An entry is a service and one source: the `aws:SourceArn` or the `aws:SourceAccount` AWS sets
//! when the service acts for a resource of its own. The deny is one statement per listed service,
//! so that a source listed for one service never lets another one read:
//!
//! - the read-deny statements of the templates (and the RCP's) spare the listed services
//!   (`StringNotEqualsIfExists aws:PrincipalServiceName`), and
//! - per listed service, a statement denies it the reads unless the request comes from one of its
//!   sources (`StringNotEqualsIfExists` on `aws:SourceArn` and `aws:SourceAccount` together: only
//!   a request with neither listed value is denied).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::json::Json;
use crate::template::{OBJECT_READ_ACTIONS, RESERVED_SIDS};

/// The condition key that names the calling service principal.
pub const SERVICE_NAME_KEY: &str = "aws:PrincipalServiceName";
/// Sid prefix of the per-service statements in the templates (`ServiceReads1`, …); reserved.
pub const SERVICE_READS_SID: &str = "ServiceReads";

/// Whether a base statement may not use `sid`: the templates own it.
pub fn is_reserved_sid(sid: &str) -> bool {
    RESERVED_SIDS.contains(&sid) || sid.starts_with(SERVICE_READS_SID)
}

/// Where a listed service's request must come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceSource {
    /// `aws:SourceArn`: the resource the service acts for (a CloudFront distribution, a trail).
    Arn(String),
    /// `aws:SourceAccount`: the account whose resource the service acts for.
    Account(String),
}

/// One entry of the allow-list: `service` may read when it acts for `source`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceRead {
    /// The service principal, lower case (`cloudfront.amazonaws.com`).
    pub service: String,
    pub source: ServiceSource,
}

/// The listed services, each with its source ARNs and accounts, in order.
fn by_service(reads: &BTreeSet<ServiceRead>) -> BTreeMap<&str, (Vec<&str>, Vec<&str>)> {
    let mut out: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for r in reads {
        let (arns, accounts) = out.entry(r.service.as_str()).or_default();
        match &r.source {
            ServiceSource::Arn(a) => arns.push(a),
            ServiceSource::Account(a) => accounts.push(a),
        }
    }
    out
}

/// The services of the allow-list, each once, in order.
pub fn read_services(reads: &BTreeSet<ServiceRead>) -> BTreeSet<String> {
    reads.iter().map(|r| r.service.clone()).collect()
}

fn text(s: &str) -> Json<'static> {
    Json::String(Cow::Owned(s.to_owned()))
}

fn texts(items: &[&str]) -> Json<'static> {
    Json::Array(items.iter().map(|s| text(s)).collect())
}

fn member(k: &str, v: Json<'static>) -> (Cow<'static, str>, Json<'static>) {
    (Cow::Owned(k.to_owned()), v)
}

/// Per listed service, the statement that denies it the object reads of `resource` unless it acts
/// for one of its sources; Sids `{sid_prefix}1`, `{sid_prefix}2`, … in service order. None for an
/// empty allow-list. The templates and the RCP both carry exactly these.
pub fn service_read_denies(
    reads: &BTreeSet<ServiceRead>,
    resource: &str,
    sid_prefix: &str,
) -> Vec<Json<'static>> {
    by_service(reads)
        .into_iter()
        .enumerate()
        .map(|(i, (service, (arns, accounts)))| {
            let mut sources = Vec::new();
            if !arns.is_empty() {
                sources.push(member("aws:SourceArn", texts(&arns)));
            }
            if !accounts.is_empty() {
                sources.push(member("aws:SourceAccount", texts(&accounts)));
            }
            Json::Object(vec![
                member("Sid", text(&format!("{sid_prefix}{}", i + 1))),
                member("Effect", text("Deny")),
                member("Principal", text("*")),
                member("Action", texts(&OBJECT_READ_ACTIONS)),
                member("Resource", text(resource)),
                member(
                    "Condition",
                    Json::Object(vec![
                        member("StringEquals", Json::Object(vec![member(SERVICE_NAME_KEY, text(service))])),
                        member("StringNotEqualsIfExists", Json::Object(sources)),
                    ]),
                ),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_per_service_with_all_its_sources() {
        let reads = BTreeSet::from([
            ServiceRead {
                service: "cloudfront.amazonaws.com".into(),
                source: ServiceSource::Arn("arn:aws:cloudfront::111122223333:distribution/E1".into()),
            },
            ServiceRead {
                service: "cloudfront.amazonaws.com".into(),
                source: ServiceSource::Account("111122223333".into()),
            },
            ServiceRead {
                service: "logging.s3.amazonaws.com".into(),
                source: ServiceSource::Account("444455556666".into()),
            },
        ]);
        assert_eq!(
            read_services(&reads).into_iter().collect::<Vec<_>>(),
            ["cloudfront.amazonaws.com", "logging.s3.amazonaws.com"]
        );
        let out = service_read_denies(&reads, "arn:aws:s3:::b/*", "ServiceReads");
        let texts: Vec<String> = out.iter().map(Json::to_text).collect();
        assert_eq!(texts.len(), 2);
        assert!(texts[0].starts_with(r#"{"Sid":"ServiceReads1","Effect":"Deny""#), "{}", texts[0]);
        assert!(texts[0].contains(r#""StringNotEqualsIfExists":{"aws:SourceArn":["arn:aws:cloudfront::111122223333:distribution/E1"],"aws:SourceAccount":["111122223333"]}"#), "{}", texts[0]);
        assert!(texts[1].contains(r#""StringEquals":{"aws:PrincipalServiceName":"logging.s3.amazonaws.com"},"StringNotEqualsIfExists":{"aws:SourceAccount":["444455556666"]}"#), "{}", texts[1]);
        assert!(service_read_denies(&BTreeSet::new(), "arn:aws:s3:::b/*", "S").is_empty());
    }
}
