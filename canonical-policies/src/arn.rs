//! Amazon Resource Names, `arn:<partition>:<service>:<region>:<account>:<resource>`: the one
//! reading of them in the workspace, so that every crate splits them the same way.

use std::fmt;

use crate::Quoted;

/// An ARN's six parts, borrowed from the text it was read from (the evaluator reads one per
/// principal and condition, so no allocation). The resource keeps any further `:` (`b/k:with:colons`).
/// Parts may be empty (S3 ARNs have neither region nor account) or hold wildcards (policy patterns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read arn {}: expected `arn:partition:service:region:account:resource`", Quoted(.0))]
pub struct InvalidArn(pub String);

impl<'a> Arn<'a> {
    /// `s` as an ARN: `arn` and five more `:`-separated parts.
    pub fn parse(s: &'a str) -> Result<Arn<'a>, InvalidArn> {
        let mut p = s.splitn(6, ':');
        match (p.next(), p.next(), p.next(), p.next(), p.next(), p.next()) {
            (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) => {
                Ok(Arn { partition, service, region, account, resource })
            }
            _ => Err(InvalidArn(s.to_owned())),
        }
    }

    /// The six parts in order, `arn` first.
    pub fn parts(&self) -> [&'a str; 6] {
        ["arn", self.partition, self.service, self.region, self.account, self.resource]
    }
}

impl fmt::Display for Arn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Arn { partition, service, region, account, resource } = self;
        write!(f, "arn:{partition}:{service}:{region}:{account}:{resource}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_six_parts_and_keeps_colons_in_the_resource() {
        let a = Arn::parse("arn:aws:s3:::b/k:with:colons").unwrap();
        assert_eq!(
            (a.partition, a.service, a.region, a.account, a.resource),
            ("aws", "s3", "", "", "b/k:with:colons")
        );
        let r = Arn::parse("arn:aws-cn:sts::111122223333:assumed-role/R/s").unwrap();
        assert_eq!((r.service, r.account, r.resource), ("sts", "111122223333", "assumed-role/R/s"));
        for bad in ["", "arn", "arn:aws:iam::1", "urn:aws:iam::1:root", "ARN:aws:iam::1:root"] {
            let err = Arn::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("cannot read arn") && !err.contains('\n'), "{err}");
        }
        assert!(Arn::parse("role/x").unwrap_err().to_string().contains("`role/x`"));
    }

    proptest! {
        #[test]
        fn display_round_trips(parts in proptest::collection::vec("[a-z0-9*/-]{0,6}", 4), resource in "[a-z0-9:/*-]{0,12}") {
            let text = format!("arn:{}:{resource}", parts.join(":"));
            let arn = Arn::parse(&text).unwrap();
            prop_assert_eq!(arn.to_string(), text.clone());
            prop_assert_eq!(arn.parts().join(":"), text);
        }
    }
}
