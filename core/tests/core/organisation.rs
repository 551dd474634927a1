//! Organisation mode in the notifier: every message about a bucket names its account, alias and
//! Region (subject, first line of the mail, JSON document, filter attribute); single-account
//! messages are unchanged.

use breakglass_config::Config;
use breakglass_core::inbound::event;
use breakglass_core::notify::{render, Rendered};
use serde_json::json;

fn org() -> Config {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/organisation.toml"))
        .unwrap();
    Config::from_toml(&text).unwrap()
}

fn put_policy_in(account: &str, region: &str, bucket: &str) -> serde_json::Value {
    json!({"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
        "account": account, "time": "2026-12-02T10:00:00Z", "region": region, "resources": [],
        "detail": {"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
            "eventTime": "2026-12-02T10:00:00Z", "awsRegion": region, "recipientAccountId": account,
            "eventID": "e-1", "sourceIPAddress": "203.0.113.7",
            "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{account}:assumed-role/Admin/mallory"),
                "accountId": account, "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{account}:role/Admin")}}},
            "requestParameters": {"bucketName": bucket, "bucketPolicy": {"Version": "2012-10-17", "Statement": []}}}})
}

/// The notifier's mails, in the organisation's config, for a policy written in `account` and
/// `region` on `bucket`.
fn render_in(account: &str, region: &str, bucket: &str) -> Vec<Rendered> {
    let incoming = event::parse(&put_policy_in(account, region, bucket)).unwrap();
    render(&org(), &incoming, time::OffsetDateTime::now_utc())
}

#[test]
fn mails_name_the_account_alias_and_region() {
    let out = render_in("111100000000", "eu-west-1", "acme-prod-flow-logs-ireland");
    let Rendered::Send(n) = &out[0] else { panic!("{out:?}") };
    assert!(n.subject.ends_with(" [logging-prod eu-west-1]"), "{}", n.subject);
    assert!(n.subject.chars().count() <= 99, "{}", n.subject);
    assert!(n.email.starts_with("Account: logging-prod (111100000000), Region: eu-west-1\n"), "{}", n.email);
    assert_eq!(
        n.default["account"],
        json!({"id": "111100000000", "alias": "logging-prod", "region": "eu-west-1"})
    );
    assert_eq!(n.default["subject"], json!(n.subject));
    assert_eq!(n.default["text"], json!(n.email));
    assert!(n.attributes.contains(&("account".to_owned(), "111100000000".to_owned())));
}

/// A record from one account naming another account's bucket is not a change of that bucket: the
/// notifier sends no change mail (the enforcer's `breakglass misrouted` alert reports it).
#[test]
fn a_misrouted_event_is_not_mailed_as_a_change() {
    let out = render_in("111100000000", "eu-central-1", "acme-dev-cloudtrail-logs");
    assert!(
        matches!(&out[..], [Rendered::Ignored(why)] if why.contains("names bucket acme-dev-cloudtrail-logs of account 222200000000")),
        "{out:?}"
    );
}

/// A guarded call that names no bucket is checked against every bucket it may have touched: in
/// organisation mode only those of the account it came from.
#[test]
fn a_call_naming_no_bucket_touches_only_its_own_accounts_buckets() {
    let config = org();
    let mut e = put_policy_in("222200000000", "eu-central-1", "x");
    e["detail"]["requestParameters"] = serde_json::Value::Null;
    let event::Incoming::ApiCalls(calls) = event::parse(&e).unwrap() else { panic!() };
    let names: Vec<&str> = breakglass_core::inbound::route::buckets_of(&config, &calls[0])
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(names, ["acme-dev-cloudtrail-logs"]);
}
