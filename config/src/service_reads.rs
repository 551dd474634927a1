//! `[[service_reads]]`: the AWS services that may read the protected buckets' objects, each for
//! one source. Empty by default: no service reads the logs. The templates and the RCP deny every
//! other service (`canonical_policies::service_read_denies`).

use std::collections::BTreeSet;

use canonical_policies::{is_account_id, is_arn, ServiceRead, ServiceSource};

use crate::error::ConfigError;
use crate::raw::RawServiceRead;

const TABLE: &str = "[[service_reads]]";

/// `cloudfront.amazonaws.com`, `logging.s3.amazonaws.com`: a service principal, spelt exactly.
fn is_service_principal(s: &str) -> bool {
    s.strip_suffix(".amazonaws.com").is_some_and(|name| {
        !name.is_empty()
            && !name.starts_with(['.', '-'])
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    })
}

/// The allow-list, each entry checked; one line naming the culprit otherwise.
pub(crate) fn parse(raws: &[RawServiceRead]) -> Result<BTreeSet<ServiceRead>, ConfigError> {
    let mut out = BTreeSet::new();
    for raw in raws {
        let service = raw.service.as_str();
        if !is_service_principal(service) {
            return Err(ConfigError::table(
                TABLE,
                "service",
                service,
                "expected an aws service principal such as `cloudfront.amazonaws.com`",
            ));
        }
        let source = match (&raw.source_arn, &raw.source_account) {
            (Some(arn), None) => {
                // Compared exactly (`aws:SourceArn`): a pattern would admit what nobody reviewed.
                if !is_arn(arn) || arn.contains(['*', '?']) || arn.contains(char::is_whitespace) {
                    return Err(ConfigError::table(
                        TABLE,
                        "source_arn",
                        arn,
                        "expected one arn, without wildcards",
                    ));
                }
                ServiceSource::Arn(arn.clone())
            }
            (None, Some(account)) => {
                if !is_account_id(account) {
                    return Err(ConfigError::table(TABLE, "source_account", account, "expected 12 digits"));
                }
                ServiceSource::Account(account.clone())
            }
            _ => {
                return Err(ConfigError::table(
                    TABLE,
                    "service",
                    service,
                    "set exactly one of `source_arn` and `source_account`",
                ))
            }
        };
        if !out.insert(ServiceRead { service: service.to_owned(), source }) {
            return Err(ConfigError::table(TABLE, "service", service, "listed twice with the same source"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_principals() {
        for ok in ["cloudfront.amazonaws.com", "logging.s3.amazonaws.com", "delivery.logs.amazonaws.com"] {
            assert!(is_service_principal(ok), "{ok}");
        }
        for bad in [
            "amazonaws.com",
            ".amazonaws.com",
            "*.amazonaws.com",
            "CloudFront.amazonaws.com",
            "cloudfront",
            "arn:aws:iam::1:root",
        ] {
            assert!(!is_service_principal(bad), "{bad}");
        }
    }
}
