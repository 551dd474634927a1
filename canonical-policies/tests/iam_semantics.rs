//! The evaluator against the IAM user guide: each case is an example of the guide (or built from
//! one of its sentences), with the sentence it proves quoted above it. Where the guide is silent, the
//! case says which public evaluator's behaviour it follows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use canonical_policies::{explain, Caller, Decision, Policy, Request};
use common::at;

const NOW: &str = "2026-11-24T12:00:00Z";

fn policy(json: &str) -> Policy {
    Policy::parse(json.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

fn req(caller: &str, action: &str, resource: &str) -> Request {
    Request::new(Caller::parse(caller).unwrap(), action, resource, at(NOW))
}

fn decide(p: &Policy, r: &Request) -> Decision {
    explain(p, r).decision
}

/// One Allow or Deny statement on `s3:*` for everything, with this Principal/NotPrincipal part.
fn with_principal(effect: &str, principal: &str) -> Policy {
    policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}",{principal},"Action":"s3:*","Resource":["arn:aws:s3:::BUCKETNAME","arn:aws:s3:::BUCKETNAME/*"]}}]}}"#
    ))
}

/// One Allow statement for anyone, on `s3:GetObject` of everything, with this Condition block.
fn allow_if(condition: &str) -> Policy {
    policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{condition}}}]}}"#
    ))
}

const OBJECT: &str = "arn:aws:s3:::BUCKETNAME/key";
const BOB: &str = "arn:aws:iam::444455556666:user/Bob";
const ALICE: &str = "arn:aws:iam::444455556666:user/Alice";
const ROOT: &str = "arn:aws:iam::444455556666:root";
const ROLE: &str = "arn:aws:iam::444455556666:role/cross-account-read-only-role";
const AUDIT_SESSION: &str =
    "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app";
const OTHER_SESSION: &str = "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/mallory";

// ---- Account principals ----------------------------------------------------------------------

/// "You can specify AWS account identifiers in the Principal element of a resource-based policy
/// [...]. This delegates authority to the account. When you allow access to a different account, an
/// administrator in that account must then grant access to an identity (IAM user or role) in that
/// account." (Principal, "AWS account principals")
#[test]
fn an_account_principal_delegates_to_the_account() {
    let p = with_principal("Allow", r#""Principal":{"AWS":"444455556666"}"#);
    let delegated = Decision::AllowIfIdentityAllows { account: "444455556666".into() };
    for caller in [BOB, ROLE, OTHER_SESSION] {
        assert_eq!(decide(&p, &req(caller, "s3:GetObject", OBJECT)), delegated, "{caller}");
    }
    assert_eq!(
        delegated.to_string(),
        "allow if an identity policy in account 444455556666 allows",
        "the answer says what it depends on"
    );
    // Another account's principals are not named at all.
    assert_eq!(
        decide(&p, &req("arn:aws:iam::111122223333:user/Bob", "s3:GetObject", OBJECT)),
        Decision::ImplicitDeny
    );
}

/// "The account ARN and the shortened account ID behave the same way. Both delegate permissions to
/// the account. Using the account ARN in the Principal element does not limit permissions to only the
/// root user of the account." (Principal, "AWS account principals")
#[test]
fn the_account_arn_delegates_like_the_account_id() {
    let by_arn = with_principal("Allow", r#""Principal":{"AWS":"arn:aws:iam::444455556666:root"}"#);
    let by_id = with_principal("Allow", r#""Principal":{"AWS":"444455556666"}"#);
    for caller in [BOB, ALICE, ROLE, AUDIT_SESSION] {
        let r = req(caller, "s3:GetObject", OBJECT);
        assert_eq!(decide(&by_arn, &r), decide(&by_id, &r), "{caller}");
        assert!(matches!(decide(&by_arn, &r), Decision::AllowIfIdentityAllows { .. }), "{caller}");
    }
    // The root user is the account itself.
    assert_eq!(decide(&by_arn, &req(ROOT, "s3:GetObject", OBJECT)), Decision::Allow);
}

/// A statement that names the principal itself grants directly; one naming its account delegates.
/// A deny on an account applies to everyone in it: "When you specify more than one principal in an
/// element, you grant permissions to each principal." (Principal, "Specifying a principal")
#[test]
fn a_direct_grant_wins_over_a_delegation_and_a_deny_on_the_account_covers_all() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"s3:*","Resource":"*"},
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/Bob"},"Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    let e = explain(&p, &req(BOB, "s3:GetObject", OBJECT));
    assert_eq!((e.decision, e.deciding), (Decision::Allow, vec![1]));
    assert!(matches!(
        decide(&p, &req(ALICE, "s3:GetObject", OBJECT)),
        Decision::AllowIfIdentityAllows { .. }
    ));

    let deny = with_principal("Deny", r#""Principal":{"AWS":"444455556666"}"#);
    for caller in [BOB, ROOT, ROLE, AUDIT_SESSION] {
        assert_eq!(decide(&deny, &req(caller, "s3:GetObject", OBJECT)), Decision::ExplicitDeny, "{caller}");
    }
}

// ---- NotPrincipal ------------------------------------------------------------------------------

/// "In the following example, all principals except the user named Bob in AWS account 444455556666
/// are explicitly denied access to a resource." (NotPrincipal, "IAM user in the same or a different
/// account")
#[test]
fn not_principal_user_example() {
    let p = with_principal(
        "Deny",
        r#""NotPrincipal":{"AWS":["arn:aws:iam::444455556666:user/Bob","arn:aws:iam::444455556666:root"]}"#,
    );
    // "This example by itself does not grant access to Bob, it only omits Bob from the list of
    // principals that are explicitly denied."
    assert_eq!(decide(&p, &req(BOB, "s3:GetObject", OBJECT)), Decision::ImplicitDeny);
    assert_eq!(decide(&p, &req(ROOT, "s3:GetObject", OBJECT)), Decision::ImplicitDeny);
    for caller in [ALICE, ROLE, AUDIT_SESSION, "arn:aws:iam::111122223333:user/Bob", "anonymous"] {
        assert_eq!(decide(&p, &req(caller, "s3:GetObject", OBJECT)), Decision::ExplicitDeny, "{caller}");
    }
}

/// "In the following example, all principals except the assumed-role user named
/// cross-account-audit-app in AWS account 444455556666 are explicitly denied access to a resource."
/// "When you specify an assumed-role session in a NotPrincipal element, you cannot use a wildcard (*)
/// to mean "all sessions". Principals must always name a specific session." (NotPrincipal, "IAM role
/// in the same or different account")
#[test]
fn not_principal_role_session_example() {
    let p =
        with_principal("Deny", &format!(r#""NotPrincipal":{{"AWS":["{AUDIT_SESSION}","{ROLE}","{ROOT}"]}}"#));
    assert_eq!(decide(&p, &req(AUDIT_SESSION, "s3:GetObject", OBJECT)), Decision::ImplicitDeny);
    // Another session of the same role is not named: denied.
    assert_eq!(decide(&p, &req(OTHER_SESSION, "s3:GetObject", OBJECT)), Decision::ExplicitDeny);
    assert_eq!(decide(&p, &req(BOB, "s3:GetObject", OBJECT)), Decision::ExplicitDeny);
}

/// "When you use NotPrincipal with Deny, you must also specify the account ARN of the not-denied
/// principal. Otherwise, the policy might deny access to the entire account containing the
/// principal." Listing an account or a role exempts that exact principal only: not the account's
/// users, not the role's sessions. (NotPrincipal, "NotPrincipal with Deny")
#[test]
fn not_principal_exempts_only_what_it_names_exactly() {
    let account = with_principal("Deny", r#""NotPrincipal":{"AWS":"444455556666"}"#);
    assert_eq!(decide(&account, &req(ROOT, "s3:GetObject", OBJECT)), Decision::ImplicitDeny);
    for caller in [BOB, ROLE, AUDIT_SESSION] {
        assert_eq!(
            decide(&account, &req(caller, "s3:GetObject", OBJECT)),
            Decision::ExplicitDeny,
            "{caller}"
        );
    }
    let role = with_principal("Deny", &format!(r#""NotPrincipal":{{"AWS":["{ROLE}","{ROOT}"]}}"#));
    assert_eq!(decide(&role, &req(AUDIT_SESSION, "s3:GetObject", OBJECT)), Decision::ExplicitDeny);
    // A role caller stands for a session of it (roles act only through sessions): the role's ARN
    // does not spare it. Regression (evaluator review): it was spared.
    assert_eq!(decide(&role, &req(ROLE, "s3:GetObject", OBJECT)), Decision::ExplicitDeny);
    // A service is named by its service principal.
    let service = with_principal("Deny", r#""NotPrincipal":{"Service":"cloudtrail.amazonaws.com"}"#);
    assert_eq!(
        decide(&service, &req("cloudtrail.amazonaws.com", "s3:PutObject", OBJECT)),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&service, &req("config.amazonaws.com", "s3:PutObject", OBJECT)),
        Decision::ExplicitDeny
    );
}

// ---- Roles with a path -------------------------------------------------------------------------

/// "arn:aws:iam::123456789012:role/application_abc/component_xyz/RDSAccess" and
/// "arn:aws:sts::123456789012:assumed-role/Accounting-Role/Mary" (IAM identifiers, "IAM ARNs"):
/// a role's ARN carries its path, its sessions' ARNs do not. A Principal naming the role names its
/// sessions.
#[test]
fn a_role_with_a_path_matches_its_sessions() {
    let p = with_principal(
        "Allow",
        r#""Principal":{"AWS":"arn:aws:iam::123456789012:role/application_abc/component_xyz/RDSAccess"}"#,
    );
    for caller in [
        "arn:aws:sts::123456789012:assumed-role/RDSAccess/Mary",
        "arn:aws:iam::123456789012:role/application_abc/component_xyz/RDSAccess",
    ] {
        assert_eq!(decide(&p, &req(caller, "s3:GetObject", OBJECT)), Decision::Allow, "{caller}");
    }
    for caller in [
        "arn:aws:sts::123456789012:assumed-role/Accounting-Role/Mary",
        "arn:aws:sts::999999999999:assumed-role/RDSAccess/Mary",
        "arn:aws:iam::123456789012:role/RDSAccess",
    ] {
        assert_eq!(decide(&p, &req(caller, "s3:GetObject", OBJECT)), Decision::ImplicitDeny, "{caller}");
    }
}

// ---- Condition operators -----------------------------------------------------------------------

/// "If the key that you specify in a policy condition is not present in the request context, the
/// values do not match and the condition is false. If the policy condition requires that the key is
/// not matched, such as StringNotLike or ArnNotLike, and the right key is not present, the condition
/// is true." (Condition element)
#[test]
fn an_absent_key_matches_only_negated_operators() {
    let r = req(BOB, "s3:GetObject", OBJECT);
    assert_eq!(decide(&allow_if(r#"{"StringLike":{"s3:prefix":"a*"}}"#), &r), Decision::ImplicitDeny);
    assert_eq!(decide(&allow_if(r#"{"StringNotLike":{"s3:prefix":"a*"}}"#), &r), Decision::Allow);
    assert_eq!(
        decide(&allow_if(r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:t"}}"#), &r),
        Decision::Allow
    );
    assert_eq!(decide(&allow_if(r#"{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#), &r), Decision::Allow);
    assert_eq!(
        decide(&allow_if(r#"{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#), &r),
        Decision::ImplicitDeny
    );
}

/// "If the policy key is present in the context of the request, process the key as specified in the
/// policy. If the key is not present, evaluate the condition element as true." (Condition operators,
/// "...IfExists condition operators")
#[test]
fn if_exists() {
    let p = allow_if(r#"{"StringEqualsIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}"#);
    assert_eq!(decide(&p, &req(BOB, "s3:GetObject", OBJECT)), Decision::Allow);
    let r = req(BOB, "s3:GetObject", OBJECT).with("ec2:InstanceType", "t2.micro");
    assert_eq!(decide(&p, &r), Decision::ImplicitDeny, "StringEquals takes * literally");
    let r = req(BOB, "s3:GetObject", OBJECT).with("ec2:InstanceType", "t2.*");
    assert_eq!(decide(&p, &r), Decision::Allow);
}

/// "Use a Null condition operator to check if a condition key is absent at the time of
/// authorization. In the policy statement, use either true (the key doesn't exist — it is null) or
/// false (the key exists and its value is not null)." (Condition operators, "Condition operator to
/// check existence of condition keys")
#[test]
fn null() {
    let r = req(BOB, "s3:GetObject", OBJECT);
    assert_eq!(decide(&allow_if(r#"{"Null":{"aws:TokenIssueTime":"true"}}"#), &r), Decision::Allow);
    assert_eq!(decide(&allow_if(r#"{"Null":{"aws:TokenIssueTime":"false"}}"#), &r), Decision::ImplicitDeny);
    let r = r.with("aws:TokenIssueTime", "2026-11-24T11:00:00Z");
    assert_eq!(decide(&allow_if(r#"{"Null":{"aws:TokenIssueTime":"false"}}"#), &r), Decision::Allow);
}

/// "IP address condition operators let you construct Condition elements that restrict access based
/// on comparing a key to an IPv4 or IPv6 address or range of IP addresses." "If the value is an IP
/// address without a prefix, [IAM uses] the default prefix value of /32." The guide's examples:
/// `"aws:SourceIp": "203.0.113.0/24"` and `"aws:SourceIp": "2001:DB8:1234:5678::/64"`. (Condition
/// operators, "IP address condition operators")
#[test]
fn ip_address_ipv4_and_ipv6() {
    let p = allow_if(
        r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64","198.51.100.7"]}}"#,
    );
    let from = |ip: &str| decide(&p, &req(BOB, "s3:GetObject", OBJECT).with("aws:SourceIp", ip));
    assert_eq!(from("203.0.113.5"), Decision::Allow);
    assert_eq!(from("203.0.114.5"), Decision::ImplicitDeny);
    assert_eq!(from("2001:db8:1234:5678::1"), Decision::Allow, "IPv6 compares as numbers, any case");
    assert_eq!(from("2001:db8:1234:5679::1"), Decision::ImplicitDeny);
    assert_eq!(from("198.51.100.7"), Decision::Allow, "no prefix: /32");
    assert_eq!(from("198.51.100.8"), Decision::ImplicitDeny);
    assert_eq!(from("not-an-ip"), Decision::ImplicitDeny);
}

/// The guide's "AWS: Denies access to AWS based on the source IP" example: a Deny with NotIpAddress
/// on `192.0.2.0/24` and `203.0.113.0/24`. An address of the other family is not in the ranges.
#[test]
fn not_ip_address_deny_example() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*",
        "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]},"Bool":{"aws:ViaAWSService":"false"}}}}"#,
    );
    let from = |ip: &str| {
        decide(
            &p,
            &req(BOB, "s3:GetObject", OBJECT).with("aws:SourceIp", ip).with("aws:ViaAWSService", "false"),
        )
    };
    assert_eq!(from("192.0.2.10"), Decision::ImplicitDeny);
    assert_eq!(from("203.0.113.200"), Decision::ImplicitDeny);
    assert_eq!(from("198.51.100.7"), Decision::ExplicitDeny);
    assert_eq!(from("2001:db8::1"), Decision::ExplicitDeny);
    let via_service = req(BOB, "s3:GetObject", OBJECT)
        .with("aws:SourceIp", "198.51.100.7")
        .with("aws:ViaAWSService", "true");
    assert_eq!(decide(&p, &via_service), Decision::ImplicitDeny);
}

/// "Each of the six colon-delimited components of the ARN is checked separately and each can include
/// multi-character match wildcards (*) or single-character match wildcards (?)." (Condition operators,
/// "Amazon Resource Name (ARN) condition operators"). A value without six components is no ARN: it
/// matches neither ArnLike nor ArnNotLike (as in cloud-copilot/iam-simulate's ArnLike tests).
#[test]
fn arn_operators_and_malformed_arns() {
    let topic = "arn:aws:sns:eu-central-1:123456789012:alerts";
    let r = req(BOB, "s3:GetObject", OBJECT).with("aws:SourceArn", topic);
    assert_eq!(
        decide(&allow_if(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#), &r),
        Decision::Allow
    );
    assert_eq!(
        decide(&allow_if(r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:??-*:*:alerts"}}"#), &r),
        Decision::Allow
    );
    assert_eq!(
        decide(&allow_if(r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:999999999999:*"}}"#), &r),
        Decision::Allow
    );
    assert_eq!(
        decide(&allow_if(r#"{"ArnLike":{"aws:SourceArn":"arn:::bucket-name"}}"#), &r),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&allow_if(r#"{"ArnNotLike":{"aws:SourceArn":"arn:::bucket-name"}}"#), &r),
        Decision::ImplicitDeny
    );
    let not_an_arn = req(BOB, "s3:GetObject", OBJECT).with("aws:SourceArn", "alerts");
    assert_eq!(
        decide(&allow_if(r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}"#), &not_an_arn),
        Decision::ImplicitDeny
    );
}

/// "Multivalued context keys require a condition set operator." "ForAllValues [...] also returns true
/// if there's no context key in the request." (Single-valued vs. multivalued context keys)
#[test]
fn multivalued_keys_need_a_set_operator() {
    let tags = || req(BOB, "s3:GetObject", OBJECT).with("aws:TagKeys", "environment");
    assert_eq!(
        decide(&allow_if(r#"{"StringEquals":{"aws:TagKeys":"environment"}}"#), &tags()),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&allow_if(r#"{"StringNotEquals":{"aws:TagKeys":"x"}}"#), &tags()),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&allow_if(r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":"environment"}}"#), &tags()),
        Decision::Allow
    );
    let two = req(BOB, "s3:GetObject", OBJECT).with("s3:x", "a").with("s3:x", "b");
    assert_eq!(decide(&allow_if(r#"{"StringLike":{"s3:x":"*"}}"#), &two), Decision::ImplicitDeny);
    assert_eq!(decide(&allow_if(r#"{"ForAllValues:StringLike":{"s3:x":"*"}}"#), &two), Decision::Allow);
    let none = req(BOB, "s3:GetObject", OBJECT);
    assert_eq!(
        decide(&allow_if(r#"{"ForAllValues:StringEquals":{"aws:TagKeys":"x"}}"#), &none),
        Decision::Allow
    );
}

/// Values that are not of the operator's type match neither the operator nor its negation (the
/// guide is silent; this follows cloud-copilot/iam-simulate's numeric, date and Bool operators).
/// "Date condition operators [...] You must use one of the W3C implementations of the ISO 8601 date
/// formats or in epoch (UNIX) time."
#[test]
fn malformed_values_match_nothing() {
    let r =
        req(BOB, "s3:GetObject", OBJECT).with("s3:max-keys", "10").with("aws:MultiFactorAuthPresent", "true");
    for cond in [
        r#"{"NumericLessThan":{"s3:max-keys":"ten"}}"#,
        r#"{"NumericNotEquals":{"s3:max-keys":"ten"}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"next tuesday"}}"#,
        r#"{"DateNotEquals":{"aws:CurrentTime":"next tuesday"}}"#,
        r#"{"Bool":{"aws:MultiFactorAuthPresent":"yes"}}"#,
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#,
        r#"{"Null":{"aws:SourceIp":"maybe"}}"#,
    ] {
        assert_eq!(decide(&allow_if(cond), &r), Decision::ImplicitDeny, "{cond}");
    }
    for cond in [
        r#"{"NumericLessThan":{"s3:max-keys":"10.5"}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"2026-11-24T12:00:01Z"}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"2026-11-24T12:01+00:00"}}"#,
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-11"}}"#,
        r#"{"DateEquals":{"aws:EpochTime":"2026-11-24T12:00:00Z"}}"#,
        r#"{"DateEquals":{"aws:CurrentTime":"1795521600"}}"#,
    ] {
        assert_eq!(decide(&allow_if(cond), &r), Decision::Allow, "{cond}");
    }
}

// ---- Policy variables --------------------------------------------------------------------------

/// "When this policy is evaluated, IAM replaces the variable ${aws:username} with the friendly name of
/// the actual current user." (Variables and tags, "Introduction"; its S3 home-directory example)
#[test]
fn aws_username_in_resources_and_conditions() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[
        {"Action":["s3:ListBucket"],"Effect":"Allow","Principal":"*","Resource":["arn:aws:s3:::mybucket"],"Condition":{"StringLike":{"s3:prefix":["${aws:username}/*"]}}},
        {"Action":["s3:GetObject","s3:PutObject"],"Effect":"Allow","Principal":"*","Resource":["arn:aws:s3:::mybucket/${aws:username}/*"]}]}"#,
    );
    let david = "arn:aws:iam::123456789012:user/division/David";
    let get = |key: &str| decide(&p, &req(david, "s3:GetObject", &format!("arn:aws:s3:::mybucket/{key}")));
    assert_eq!(get("David/notes.txt"), Decision::Allow);
    assert_eq!(get("Mary/notes.txt"), Decision::ImplicitDeny);
    let list = |prefix: &str| req(david, "s3:ListBucket", "arn:aws:s3:::mybucket").with("s3:prefix", prefix);
    assert_eq!(decide(&p, &list("David/2026")), Decision::Allow);
    assert_eq!(decide(&p, &list("Mary/2026")), Decision::ImplicitDeny);
    // "not present means that the value is not in the current request information, and any attempt to
    // match it fails" (principal key values): a role session has no aws:username.
    let session = "arn:aws:sts::123456789012:assumed-role/David/David";
    assert_eq!(
        decide(&p, &req(session, "s3:GetObject", "arn:aws:s3:::mybucket/David/notes.txt")),
        Decision::ImplicitDeny
    );
}

/// "When a policy variable references a condition context key that has no value or is not present
/// in an authorization context for a request, the value is effectively null. There is no equal or
/// like value. [...] Inverted condition operators like StringNotEquals or StringNotLike do match
/// against a null value" (Variables and tags, "Policy variables with no value"). Regression
/// (evaluator review): both forms were answered "no match", a false deny of an Allow and a missed
/// Deny.
#[test]
fn a_variable_without_a_value_is_null() {
    let statement = |effect: &str, op: &str| {
        policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{{"{op}":{{"s3:ExistingObjectTag/Team":"${{aws:PrincipalTag/Team}}"}}}}}}}}"#
        ))
    };
    let untagged = req(BOB, "s3:GetObject", "arn:aws:s3:::b/x").with("s3:ExistingObjectTag/Team", "red");
    assert_eq!(decide(&statement("Allow", "StringNotEquals"), &untagged), Decision::Allow);
    assert_eq!(decide(&statement("Deny", "StringNotEquals"), &untagged), Decision::ExplicitDeny);
    assert_eq!(decide(&statement("Deny", "StringNotLike"), &untagged), Decision::ExplicitDeny);
    assert_eq!(decide(&statement("Allow", "StringEquals"), &untagged), Decision::ImplicitDeny);
    assert_eq!(decide(&statement("Allow", "StringLike"), &untagged), Decision::ImplicitDeny);
    // With the tag, compared as usual.
    let tagged = untagged.clone().with("aws:PrincipalTag/Team", "red");
    assert_eq!(decide(&statement("Allow", "StringEquals"), &tagged), Decision::Allow);
    assert_eq!(decide(&statement("Deny", "StringNotEquals"), &tagged), Decision::ImplicitDeny);
}

/// `"Resource": ["arn:aws:s3:::bucket/${aws:PrincipalTag/department}"]` "refers to only a bucket that
/// is named the same as the value in the requesting user's department tag." (Variables and tags)
#[test]
fn principal_tags_as_variables() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":["arn:aws:s3:::bucket/${aws:PrincipalTag/department}"]}}"#,
    );
    let tagged = req(BOB, "s3:GetObject", "arn:aws:s3:::bucket/finance")
        .with("aws:PrincipalTag/department", "finance");
    assert_eq!(decide(&p, &tagged), Decision::Allow);
    let other =
        req(BOB, "s3:GetObject", "arn:aws:s3:::bucket/hr").with("aws:PrincipalTag/department", "finance");
    assert_eq!(decide(&p, &other), Decision::ImplicitDeny);
    assert_eq!(decide(&p, &req(BOB, "s3:GetObject", "arn:aws:s3:::bucket/finance")), Decision::ImplicitDeny);
    // A value that exists but is not known here: unknown, never a guess.
    let session = req("arn:aws:sts::444455556666:assumed-role/R/s", "s3:GetObject", "arn:aws:s3:::b/x");
    let by_userid = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:userid}"}}"#,
    );
    assert_eq!(
        decide(&by_userid, &session),
        Decision::Unknown,
        "a session's aws:userid is its role's unique ID"
    );
}

/// "To add a default value to a variable, surround the default value with single quotes (' '), and
/// separate the variable text and the default value with a comma and space (, )." "anonymous users
/// will not populate the ${aws:userid} variable. You can set the default value to anonymous for those
/// users." (Variables and tags, "Specifying default values")
#[test]
fn default_values() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:userid, 'anonymous'}/*"}}"#,
    );
    assert_eq!(
        decide(&p, &req("anonymous", "s3:GetObject", "arn:aws:s3:::bucket/anonymous/x")),
        Decision::Allow
    );
    assert_eq!(
        decide(&p, &req("anonymous", "s3:GetObject", "arn:aws:s3:::bucket/someone/x")),
        Decision::ImplicitDeny
    );
    // The root user's aws:userid is its account ID, so the default is not used.
    assert_eq!(decide(&p, &req(ROOT, "s3:GetObject", "arn:aws:s3:::bucket/444455556666/x")), Decision::Allow);
    assert_eq!(
        decide(&p, &req(ROOT, "s3:GetObject", "arn:aws:s3:::bucket/anonymous/x")),
        Decision::ImplicitDeny
    );
}

/// "${*} - use where you need an * (asterisk) character. ${?} - use where you need a ? (question mark)
/// character. ${$} - use where you need a $ (dollar sign) character." (Variables and tags, "Special
/// characters")
#[test]
fn special_characters() {
    let p = allow_if(r#"{"StringLike":{"s3:prefix":"a${*}b${?}c${$}*"}}"#);
    let with = |prefix: &str| decide(&p, &req(BOB, "s3:GetObject", OBJECT).with("s3:prefix", prefix));
    assert_eq!(with("a*b?c$"), Decision::Allow);
    assert_eq!(with("a*b?c$tail"), Decision::Allow);
    assert_eq!(with("axb?c$"), Decision::ImplicitDeny, "${{*}} is a literal asterisk, not a wildcard");
    assert_eq!(with("a*bxc$"), Decision::ImplicitDeny, "${{?}} is a literal question mark");
}

/// "If you don't include the Version element and set it to an appropriate version date, variables
/// like ${aws:username} are treated as literal strings in the policy." (Variables and tags)
#[test]
fn variables_are_literal_before_version_2012_10_17() {
    let p = policy(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::mybucket/${aws:username}/*"}}"#,
    );
    let david = "arn:aws:iam::123456789012:user/David";
    let get = |key: &str| decide(&p, &req(david, "s3:GetObject", &format!("arn:aws:s3:::mybucket/{key}")));
    assert_eq!(get("David/x"), Decision::ImplicitDeny);
    assert_eq!(get("${aws:username}/x"), Decision::Allow);
}

/// "aws:PrincipalType This value indicates whether the principal is an account, user, federated, or
/// assumed role" (Variables and tags, "Information available in all requests"; the table of principal
/// key values: Account, User, AssumedRole).
#[test]
fn principal_type() {
    let p = allow_if(r#"{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}"#);
    assert_eq!(decide(&p, &req(AUDIT_SESSION, "s3:GetObject", OBJECT)), Decision::Allow);
    assert_eq!(decide(&p, &req(BOB, "s3:GetObject", OBJECT)), Decision::ImplicitDeny);
    let p = allow_if(r#"{"StringEquals":{"aws:PrincipalType":"Account"}}"#);
    assert_eq!(decide(&p, &req(ROOT, "s3:GetObject", OBJECT)), Decision::Allow);
}

// ---- Names without case ------------------------------------------------------------------------

/// "IAM user, group, role, and policy names must be unique within the account. Names are not
/// distinguished by case. For example, you cannot create resources named both "MyResource" and
/// "myresource"." (IAM API reference, CreateRole `RoleName` and CreateUser `UserName`)
/// A principal naming a role or user names it whatever the case of the name, and a role's sessions
/// with it; the partition, account, path, kind and a session's name stay exact.
#[test]
fn role_and_user_names_match_without_case() {
    const A: &str = "arn:aws:iam::444455556666";
    const S: &str = "arn:aws:sts::444455556666";
    let table = [
        // (principal, caller, whether the principal names the caller)
        (format!("{A}:role/ADMINS"), format!("{A}:role/admins"), true),
        (format!("{A}:role/admins"), format!("{A}:role/AdMiNs"), true),
        (format!("{A}:role/ops/Admins"), format!("{A}:role/ops/admins"), true),
        (format!("{A}:role/ops/ADMINS"), format!("{S}:assumed-role/admins/mary"), true),
        (format!("{A}:user/BOB"), BOB.to_owned(), true),
        (format!("{S}:assumed-role/ADMINS/mary"), format!("{S}:assumed-role/admins/mary"), true),
        // The session name, the path, the account, the kind and the partition are not names.
        (format!("{S}:assumed-role/admins/MARY"), format!("{S}:assumed-role/admins/mary"), false),
        (format!("{A}:role/OPS/admins"), format!("{A}:role/ops/admins"), false),
        (format!("{A}:role/admins"), "arn:aws:iam::444455556667:role/admins".to_owned(), false),
        (format!("{A}:role/admins"), format!("{S}:assumed-role/admins2/mary"), false),
        (format!("{A}:user/admins"), format!("{A}:role/admins"), false),
        (format!("{A}:role/bob"), BOB.to_owned(), false),
        ("arn:aws-cn:iam::444455556666:role/admins".to_owned(), format!("{A}:role/admins"), false),
    ];
    for (principal, caller, names) in &table {
        let r = req(caller, "s3:GetObject", OBJECT);
        let allow = with_principal("Allow", &format!(r#""Principal":{{"AWS":"{principal}"}}"#));
        let allowed = if *names { Decision::Allow } else { Decision::ImplicitDeny };
        assert_eq!(decide(&allow, &r), allowed, "Principal {principal}, caller {caller}");
        let deny = with_principal("Deny", &format!(r#""Principal":{{"AWS":"{principal}"}}"#));
        let denied = if *names { Decision::ExplicitDeny } else { Decision::ImplicitDeny };
        assert_eq!(decide(&deny, &r), denied, "Deny Principal {principal}, caller {caller}");
    }
    // NotPrincipal exempts what it names exactly: the same principal in another case, and no
    // role's session through its role (see `not_principal_exempts_only_what_it_names_exactly`);
    // listed with its account (a session: with its role too, here in another case).
    for (principal, caller, exempt) in [
        // A role caller is a session of it, which naming the role does not spare (above).
        (format!("{A}:role/ADMINS"), format!("{A}:role/admins"), false),
        (format!("{S}:assumed-role/ADMINS/mary"), format!("{S}:assumed-role/admins/mary"), true),
        (format!("{A}:user/bob"), BOB.to_owned(), true),
        (format!("{S}:assumed-role/admins/MARY"), format!("{S}:assumed-role/admins/mary"), false),
        (format!("{A}:role/admins"), format!("{S}:assumed-role/admins/mary"), false),
    ] {
        let chain =
            if caller.contains(":assumed-role/") { format!(r#","{A}:role/Admins""#) } else { String::new() };
        let p =
            with_principal("Deny", &format!(r#""NotPrincipal":{{"AWS":["{principal}","{A}:root"{chain}]}}"#));
        let d = decide(&p, &req(&caller, "s3:GetObject", OBJECT));
        let expected = if exempt { Decision::ImplicitDeny } else { Decision::ExplicitDeny };
        assert_eq!(d, expected, "NotPrincipal {principal}, caller {caller}");
    }
}

/// Only the principal element matches names without case: a condition on `aws:PrincipalArn` is a
/// string comparison, and IAM's string operators compare with case ("StringEquals: Exact matching,
/// case sensitive", Condition operators). The evaluator leaves its operators as they are.
#[test]
fn principal_arn_conditions_keep_their_case() {
    let caller = "arn:aws:iam::444455556666:role/admins";
    let r = req(caller, "s3:GetObject", OBJECT);
    let same = allow_if(&format!(r#"{{"StringEquals":{{"aws:PrincipalArn":"{caller}"}}}}"#));
    assert_eq!(decide(&same, &r), Decision::Allow);
    let other_case =
        allow_if(r#"{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::444455556666:role/ADMINS"}}"#);
    assert_eq!(decide(&other_case, &r), Decision::ImplicitDeny);
    let ignoring_case = allow_if(
        r#"{"StringEqualsIgnoreCase":{"aws:PrincipalArn":"arn:aws:iam::444455556666:role/ADMINS"}}"#,
    );
    assert_eq!(decide(&ignoring_case, &r), Decision::Allow);
}

/// "When you use NotPrincipal with Deny, you must also specify the account ARN of the not-denied
/// principal. Otherwise, the policy might deny access to the entire account containing the
/// principal." (NotPrincipal). Regression (evaluator review): a principal listed alone was
/// answered "spared", a proof IAM may not bear out: it is unknown, with its account it is spared.
#[test]
fn not_principal_without_the_account_is_not_a_proof() {
    let alone = with_principal("Deny", &format!(r#""NotPrincipal":{{"AWS":"{BOB}"}}"#));
    assert_eq!(decide(&alone, &req(BOB, "s3:GetObject", OBJECT)), Decision::Unknown);
    assert_eq!(decide(&alone, &req(ALICE, "s3:GetObject", OBJECT)), Decision::ExplicitDeny);
    let with_account = with_principal("Deny", &format!(r#""NotPrincipal":{{"AWS":["{BOB}","{ROOT}"]}}"#));
    assert_eq!(decide(&with_account, &req(BOB, "s3:GetObject", OBJECT)), Decision::ImplicitDeny);
    // A session needs its role listed as well.
    let no_role =
        with_principal("Deny", &format!(r#""NotPrincipal":{{"AWS":["{AUDIT_SESSION}","{ROOT}"]}}"#));
    assert_eq!(decide(&no_role, &req(AUDIT_SESSION, "s3:GetObject", OBJECT)), Decision::Unknown);
}

/// "NotPrincipal must be used with "Effect":"Deny". Using it with "Effect":"Allow" is not
/// supported." (IAM JSON policy elements: NotPrincipal). Regression (evaluator review): the parser
/// took it, and the evaluator then allowed everyone not named, anonymous callers included.
#[test]
fn not_principal_with_allow_is_refused() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    let e = Policy::parse(text.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("`NotPrincipal` goes with `\"Effect\": \"Deny\"` only"), "{e}");
    assert!(Policy::parse(text.replace("Allow", "Deny").as_bytes()).is_ok());
}

/// A role caller stands for "a session of this role", not a named one: a principal naming one
/// session of the role may be it or not. Regression (evaluator review): it was a definite no, so an
/// Allow to `assumed-role/R/alice` was "proven" not to let a session of R in.
#[test]
fn a_role_caller_against_a_named_session_is_unknown() {
    let allow = with_principal("Allow", &format!(r#""Principal":{{"AWS":"{AUDIT_SESSION}"}}"#));
    assert_eq!(decide(&allow, &req(ROLE, "s3:GetObject", OBJECT)), Decision::Unknown);
    assert_eq!(decide(&allow, &req(AUDIT_SESSION, "s3:GetObject", OBJECT)), Decision::Allow);
    assert_eq!(decide(&allow, &req(OTHER_SESSION, "s3:GetObject", OBJECT)), Decision::ImplicitDeny);
    // Another role's: no.
    let other_role = "arn:aws:iam::444455556666:role/other";
    assert_eq!(decide(&allow, &req(other_role, "s3:GetObject", OBJECT)), Decision::ImplicitDeny);
}
