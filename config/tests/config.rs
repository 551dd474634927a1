//! The configuration: defaults over buckets, durations, the audit table, names, compaction,
//! discovery, the two-person rule, and the one-line errors a bad config gets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeSet;

use breakglass_config::{
    compact, is_bucket_name, parse_duration, AuditConfig, Config, Discovered, TwoPerson,
};
use canonical_policies::{HumanDuration, OpenGrant};
use time::Duration;

const INVESTIGATOR: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";

fn at(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

fn now() -> time::OffsetDateTime {
    at("2026-11-24T12:00:00Z")
}

fn grant(expiry: &str) -> OpenGrant {
    OpenGrant { readers: BTreeSet::from([INVESTIGATOR.to_owned()]), expiry: at(expiry) }
}

/// `examples/breakglass.toml`, the config the README and demo use.
fn example_config() -> Config {
    Config::from_toml(include_str!("../../examples/breakglass.toml")).unwrap()
}

#[test]
fn rendered_templates_have_no_placeholders_left() {
    for bucket in &example_config().buckets {
        assert!(!bucket.closed_policy().to_pretty_json().contains("{{"));
        let open = bucket.render_open(&grant("2026-11-24T14:00:00Z"), now()).unwrap();
        assert!(!open.to_pretty_json().contains("{{"));
        assert_eq!(bucket.closed_policy().claimed_state(), Some("ClosedAccess"));
        assert_eq!(open.claimed_state(), Some("OpenAccess"));
    }
}

#[test]
fn config_errors_are_one_line_and_name_the_field() {
    let bad = |toml: &str| Config::from_toml(toml).unwrap_err().to_string();
    let base = r#"
[defaults]
account = "111122223333"
investigator_roles = ["arn:aws:iam::111122223333:role/r"]
automation_principals = ["arn:aws:iam::111122223333:role/a"]
max_open_duration = "4h"
"#;
    assert_eq!(bad(base), "config has no `[[bucket]]`");
    assert_eq!(
        bad(&format!("{base}[[bucket]]\nname = \"Bad_Name\"\n")),
        "bucket `Bad_Name`: invalid `name` `Bad_Name`: not a valid s3 bucket name: only lowercase letters, digits, `.` and `-`"
    );
    assert_eq!(
        bad(&format!("{base}[[bucket]]\nname = \"b-1\"\n[[bucket]]\nname = \"b-1\"\n")),
        "bucket `b-1` is configured twice"
    );
    assert!(bad(&format!("{base}[[bucket]]\nname = \"b-1\"\nmax_open_duration = \"40d\"\n"))
        .contains("at most 31d"));
    assert!(bad(&format!(
        "{base}[[bucket]]\nname = \"b-1\"\ninvestigator_roles = [\"arn:aws:iam::111122223333:user/u\"]\n"
    ))
    .contains("expected an iam role arn"));
    assert!(bad(&format!(
        "{base}[[bucket]]\nname = \"b-1\"\nbase_statements = '[{{\"Sid\":\"ClosedAccess\"}}]'\n"
    ))
    .contains("this sid belongs to a template"));
    // Regression: S3 refuses a policy whose statements share a Sid; validate said "valid".
    assert!(bad(&format!(
        "{base}[[bucket]]\nname = \"b-1\"\nbase_statements = '[{{\"Sid\":\"A\"}},{{\"Sid\":\"A\"}}]'\n"
    ))
    .contains("invalid `base_statements` `A`: this sid is given to two statements"));
    assert!(bad(&format!("{base}[[bucket]]\nname = \"b-1\"\nbase_statements = '[{{\"Sid\":\"x\"}}]'\n"))
        .contains("rendered closed template is not a valid bucket policy: missing `Effect`"));
    assert!(bad(&format!(
        "{base}[[bucket]]\nname = \"b-1\"\nbase_statements = '[{{\"Sid\":\"{{{{readers}}}}\"}}]'\n"
    ))
    .contains("placeholder `readers` has no value in base_statements"));
    assert!(bad(&format!("{base}[[bucket]]\nname = \"b-1\"\nunknown = 1\n"))
        .starts_with("invalid config: unknown field `unknown`"));
    assert!(bad(&format!("{base}[[bucket]]\nname = \"b-1\"\nunknown = 1\n")).ends_with("(line 9, column 1)"));
    for msg in [bad(base), bad("not toml [")] {
        assert_eq!(msg.lines().count(), 1, "{msg}");
    }
    // `kms_key`: a key ARN (policies and CloudTrail name the key), never an alias or an id alone.
    for key in [
        "alias/cloudtrail-logs",
        "9f1c2d3e",
        "arn:aws:kms:eu-central-1:111122223333:alias/logs",
        "arn:aws:s3:::b-1",
    ] {
        let msg = bad(&format!("{base}[[bucket]]\nname = \"b-1\"\nkms_key = \"{key}\"\n"));
        assert!(
            msg.starts_with(&format!("bucket `b-1`: invalid `kms_key` `{key}`: expected a key ARN")),
            "{msg}"
        );
    }
    let arn = "arn:aws:kms:eu-central-1:111122223333:key/9f1c2d3e-4b5a-6789-0abc-def012345678";
    let c = Config::from_toml(&format!("{base}kms_key = \"{arn}\"\n[[bucket]]\nname = \"b-1\"\n")).unwrap();
    assert_eq!(c.buckets[0].kms_key.as_deref(), Some(arn));
    assert_eq!(c.log_key_buckets("9f1c2d3e-4b5a-6789-0abc-def012345678").len(), 1);
    assert_eq!(c.log_key_buckets(arn).len(), 1);
    assert!(c.log_key_buckets("4b5a-6789-0abc-def012345678").is_empty(), "a suffix is not the key");
}

fn org(discovery: &str) -> Config {
    let text = format!("{}\n{discovery}\n", include_str!("../../examples/organisation.toml"));
    Config::from_toml(&text).unwrap()
}

fn found(name: &str, account: &str, region: &str) -> Discovered {
    Discovered { name: name.into(), account: account.into(), region: region.into() }
}

#[test]
fn approvers_match_sessions_of_roles_and_globs() {
    let t = TwoPerson {
        approvers: vec![
            "arn:aws:sts::111122223333:assumed-role/breakglass-operator/bob".into(),
            "arn:aws:iam::111122223333:role/approvers/breakglass-approver".into(),
            "arn:aws:sts::111122223333:assumed-role/Security*/*".into(),
        ],
        request_expiry: Duration::hours(24),
    };
    assert!(t.may_approve("arn:aws:sts::111122223333:assumed-role/breakglass-operator/bob"));
    assert!(!t.may_approve("arn:aws:sts::111122223333:assumed-role/breakglass-operator/alice"));
    assert!(t.may_approve("arn:aws:sts::111122223333:assumed-role/breakglass-approver/carol"));
    assert!(!t.may_approve("arn:aws:sts::444455556666:assumed-role/breakglass-approver/carol"));
    assert!(t.may_approve("arn:aws:sts::111122223333:assumed-role/SecurityTeam/dave"));
    assert!(!t.may_approve("arn:aws:iam::111122223333:user/bob"));
    let glob = canonical_policies::glob;
    assert!(glob("a*b*c", "a-x-b-y-c") && !glob("a*b", "a-x-c") && glob("*", "") && !glob("", "x"));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("12h"), Some(Duration::hours(12)));
    assert_eq!(parse_duration("1h30m"), Some(Duration::minutes(90)));
    assert_eq!(parse_duration("0h"), None);
    assert_eq!(parse_duration("h"), None);
    assert_eq!(parse_duration("12"), None);
    assert_eq!(parse_duration("99999999999999999999h"), None);
    assert_eq!(HumanDuration(Duration::minutes(90)).to_string(), "1h30m");
}

#[test]
fn audit_table() {
    let a = AuditConfig::new("acme-audit", "trail", 30).unwrap();
    assert_eq!((a.prefix.as_str(), a.retain), ("trail/", Duration::days(30)));
    assert!(AuditConfig::new("acme-audit", "../x//", 30).is_err());
    assert!(AuditConfig::new("acme-audit", "", 0).is_err());
    assert!(AuditConfig::new("Acme", "", 1).is_err());
}

#[test]
fn bucket_names() {
    assert!(is_bucket_name("acme-audit-logs"));
    assert!(!is_bucket_name("Acme"));
    assert!(!is_bucket_name("-ab"));
    // The rest of S3's rules (regression: all of these were valid).
    for bad in [
        "a..b",
        "acme.-logs",
        "acme-.logs",
        "192.168.1.1",
        "xn--acme",
        "sthree-acme",
        "acme-s3alias",
        "acme--ol-s3",
        "acme--x-s3",
        "acme.mrap",
        "amzn-s3-demo-logs",
    ] {
        assert!(!is_bucket_name(bad), "{bad}");
    }
    assert!(is_bucket_name("logs.192.168.1.1") && is_bucket_name("acme.logs-1"));
}

#[test]
fn the_examples_compact_to_the_same_config() {
    for text in
        [include_str!("../../examples/breakglass.toml"), include_str!("../../examples/organisation.toml")]
    {
        let small = compact(text).unwrap();
        assert!(small.len() * 3 < text.len() * 2, "{} → {}", text.len(), small.len());
        assert!(!small.lines().any(|l| l.starts_with('#') || l.trim().is_empty()));
        assert_eq!(compact(&small).unwrap(), small, "compact is idempotent");
    }
}

#[test]
fn discovered_buckets_are_protected_with_the_defaults_unless_configured_or_excluded() {
    let config = org("[discovery]\ntag = \"breakglass=protect\"\nexclude = [\"acme-scratch-logs\"]");
    let d = config.discovery.clone().unwrap();
    assert_eq!(d.tag, Some(("breakglass".into(), Some("protect".into()))));
    assert!(d.tagged(&[("breakglass".into(), "protect".into())]));
    assert!(!d.tagged(&[("breakglass".into(), "no".into())]));
    assert!(!d.tagged(&[]));
    let before = config.buckets.len();
    let (merged, refused) = config.with_discovered(&[
        found("acme-new-logs", "111100000000", "eu-west-1"),
        found("acme-scratch-logs", "111100000000", "eu-west-1"),
        // Configured by hand: the [[bucket]] wins, it is not added twice.
        found("acme-prod-cloudtrail-logs", "111100000000", "eu-central-1"),
        found("acme-elsewhere-logs", "444400000000", "eu-west-1"),
        found("other-logs", "111100000000", "eu-west-1"),
    ]);
    assert_eq!(merged.buckets.len(), before + 1);
    let new = merged.bucket("acme-new-logs").unwrap();
    assert_eq!((new.account.as_str(), new.region.as_deref()), ("111100000000", Some("eu-west-1")));
    assert_eq!(
        new.investigator_roles,
        merged
            .bucket("acme-dev-cloudtrail-logs")
            .unwrap()
            .investigator_roles
            .iter()
            .map(|r| r.replace("222200000000", "111100000000"))
            .collect()
    );
    assert!(merged.bucket("acme-scratch-logs").is_none(), "excluded");
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0].to_string().contains("444400000000"), "{}", refused[0]);
}

#[test]
fn discovery_is_organisation_mode_only_and_checked() {
    let single = format!("{}\n[discovery]\n", include_str!("../../examples/breakglass.toml"));
    assert!(Config::from_toml(&single).unwrap_err().to_string().contains("only in organisation mode"));
    for bad in ["tag = \"aws:createdBy\"", "tag = \"\"", "exclude = [\"Not_A_Bucket\"]"] {
        let text = format!("{}\n[discovery]\n{bad}\n", include_str!("../../examples/organisation.toml"));
        assert!(
            Config::from_toml(&text).unwrap_err().to_string().starts_with("[discovery]: invalid"),
            "{bad}"
        );
    }
}

/// The commented `[[service_reads]]` example in `examples/breakglass.toml`, uncommented.
fn service_reads_example() -> String {
    let text = include_str!("../../examples/breakglass.toml");
    let (_, rest) = text.split_once("\n# [[service_reads]]").unwrap();
    let block: Vec<&str> = std::iter::once("[[service_reads]]")
        .chain(
            rest.lines()
                .skip(1)
                .take_while(|l| l.starts_with('#'))
                .map(|l| l.trim_start_matches('#').trim_start()),
        )
        .collect();
    block.join("\n")
}

/// Issue 21, attack 4: the allow-list documented in the example parses, reaches every bucket's
/// templates, and is empty by default.
#[test]
fn service_reads_are_empty_by_default_and_reach_every_bucket() {
    use canonical_policies::{ServiceRead, ServiceSource};
    assert!(example_config().service_reads.is_empty());
    let example = service_reads_example();
    assert_eq!(example.matches("[[service_reads]]").count(), 2, "{example}");
    let text = format!("{}\n{example}\n", include_str!("../../examples/breakglass.toml"));
    let config = Config::from_toml(&text).unwrap();
    assert_eq!(
        config.service_reads,
        BTreeSet::from([
            ServiceRead {
                service: "cloudfront.amazonaws.com".into(),
                source: ServiceSource::Arn(
                    "arn:aws:cloudfront::111122223333:distribution/E2QWRUHAPOMQZL".into()
                ),
            },
            ServiceRead {
                service: "logging.s3.amazonaws.com".into(),
                source: ServiceSource::Account("111122223333".into()),
            },
        ])
    );
    for (bucket, plain) in config.buckets.iter().zip(&example_config().buckets) {
        let closed = bucket.closed_policy().to_pretty_json();
        assert!(closed.contains("E2QWRUHAPOMQZL") && closed.contains("ServiceReads2"), "{closed}");
        assert_ne!(bucket.closed_hash(), plain.closed_hash());
    }
}

#[test]
fn service_read_errors_are_one_line_and_name_the_culprit() {
    let base = include_str!("../../examples/breakglass.toml");
    for (entry, expected) in [
        (
            "service = \"cloudfront\"\nsource_account = \"111122223333\"",
            "[[service_reads]]: invalid `service` `cloudfront`: expected an aws service principal such as `cloudfront.amazonaws.com`",
        ),
        (
            "service = \"cloudfront.amazonaws.com\"",
            "[[service_reads]]: invalid `service` `cloudfront.amazonaws.com`: set exactly one of `source_arn` and `source_account`",
        ),
        (
            "service = \"cloudfront.amazonaws.com\"\nsource_arn = \"arn:aws:cloudfront::111122223333:distribution/E1\"\nsource_account = \"111122223333\"",
            "[[service_reads]]: invalid `service` `cloudfront.amazonaws.com`: set exactly one of `source_arn` and `source_account`",
        ),
        (
            "service = \"cloudfront.amazonaws.com\"\nsource_arn = \"arn:aws:cloudfront::111122223333:distribution/*\"",
            "[[service_reads]]: invalid `source_arn` `arn:aws:cloudfront::111122223333:distribution/*`: expected one arn, without wildcards",
        ),
        (
            "service = \"logging.s3.amazonaws.com\"\nsource_account = \"1111\"",
            "[[service_reads]]: invalid `source_account` `1111`: expected 12 digits",
        ),
    ] {
        let err = Config::from_toml(&format!("{base}\n[[service_reads]]\n{entry}\n")).unwrap_err().to_string();
        assert_eq!(err, expected);
        assert_eq!(err.lines().count(), 1);
    }
    let twice =
        "[[service_reads]]\nservice = \"logging.s3.amazonaws.com\"\nsource_account = \"111122223333\"\n";
    let err = Config::from_toml(&format!("{base}\n{twice}{twice}")).unwrap_err().to_string();
    assert_eq!(
        err,
        "[[service_reads]]: invalid `service` `logging.s3.amazonaws.com`: listed twice with the same source"
    );
    // A base statement may not take a Sid the templates own.
    let stolen = base.replacen("\"Sid\": \"DenyDestroyingLogs\"", "\"Sid\": \"ServiceReads1\"", 1);
    let err = Config::from_toml(&stolen).unwrap_err().to_string();
    assert!(err.contains("this sid belongs to a template"), "{err}");
}

/// Single-account mode reaches IAM with the logging account's credentials: a watched role of
/// another account would be looked up, and its trust rewritten, under the same name in this one.
/// Regression: such a config was valid.
#[test]
fn a_watched_role_of_another_account_is_refused_in_single_account_mode() {
    let text = include_str!("../../examples/breakglass.toml").replace(
        "arn:aws:iam::111122223333:role/investigations/ExternalAuditor",
        "arn:aws:iam::999988887777:role/investigations/ExternalAuditor",
    );
    let err = Config::from_toml(&text).unwrap_err().to_string();
    assert!(err.contains("watched roles must be in the buckets' account"), "{err}");
}
